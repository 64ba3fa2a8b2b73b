/* store_dict.c: the strings events repeat (strs): text to id and back, cached in memory */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/*
 * DESIGN
 * strs(id, s) holds each string once; events keep its id. The cache holds the strings this
 * connection has used: by id (an array, ids are dense from 1) and by text (open addressing
 * over the same strings). It only ever holds committed or current-transaction rows, so a
 * rollback (store_rollback()) drops it whole: an id handed out in a rolled back transaction
 * may be another string's later. store_release_memory() drops it too; it refills on use.
 */

static uint64_t hash_text(const char *t)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *t; t++)
		h = (h ^ (unsigned char)*t) * 1099511628211ull;
	return h;
}

void store_dict_reset(struct store *s)
{
	struct store_dict *d = &s->dict;

	for (size_t i = 0; i < d->n_text; i++) {
		free(d->text[i]);
		free(d->json[i]);
	}
	free(d->text);
	free(d->json);
	free(d->json_len);
	free(d->slots);
	memset(d, 0, sizeof(*d));
	store_event_forget(s);
}

/* The slot of text in the table (an empty one when absent); the table has room. */
static int64_t *slot_of(struct store_dict *d, const char *text)
{
	size_t mask = d->n_slots - 1, i = (size_t)hash_text(text) & mask;

	while (d->slots[i] != 0 && strcmp(d->text[d->slots[i]], text) != 0)
		i = (i + 1) & mask;
	return &d->slots[i];
}

static int grow_slots(struct store_dict *d)
{
	size_t n = d->n_slots ? d->n_slots * 2 : 256;
	int64_t *old = d->slots, *nv = calloc(n, sizeof(*nv));
	size_t old_n = d->n_slots;

	if (nv == NULL)
		return -ENOMEM;
	d->slots = nv;
	d->n_slots = n;
	for (size_t i = 0; i < old_n; i++)
		if (old[i] != 0)
			*slot_of(d, d->text[old[i]]) = old[i];
	free(old);
	return 0;
}

/* Remember id <-> text (a copy). */
static int cache_put(struct store_dict *d, int64_t id, const char *text)
{
	int64_t *slot;

	if (id <= 0)
		return -EINVAL;
	if ((size_t)id >= d->n_text) {
		size_t n = d->n_text ? d->n_text : 256;
		char **nv, **nj;
		size_t *nl;

		while (n <= (size_t)id)
			n *= 2;
		if ((nv = realloc(d->text, n * sizeof(*nv))) == NULL)
			return -ENOMEM;
		d->text = nv;
		if ((nj = realloc(d->json, n * sizeof(*nj))) == NULL)
			return -ENOMEM;
		d->json = nj;
		if ((nl = realloc(d->json_len, n * sizeof(*nl))) == NULL)
			return -ENOMEM;
		d->json_len = nl;
		memset(nv + d->n_text, 0, (n - d->n_text) * sizeof(*nv));
		memset(nj + d->n_text, 0, (n - d->n_text) * sizeof(*nj));
		d->n_text = n;
	}
	if (d->text[id] != NULL)
		return 0;
	if ((d->used + 1) * 2 > d->n_slots && grow_slots(d) < 0)
		return -ENOMEM;
	if ((d->text[id] = strdup(text)) == NULL)
		return -ENOMEM;
	slot = slot_of(d, text);
	if (*slot == 0) {
		*slot = id;
		d->used++;
	}
	return 0;
}

int store_dict_id(struct store *s, const char *text, int64_t *id)
{
	struct store_dict *d = &s->dict;
	sqlite3_stmt *st;
	int rc;

	*id = 0;
	if (text == NULL)
		return 0;
	if (d->n_slots && (*id = *slot_of(d, text)) != 0)
		return 0;
	st = store_stmt(s, ST_DICT_FIND, "SELECT id FROM strs WHERE s=?1");
	if (st == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_db_err(s, "string lookup");
	if (*id == 0) {
		st = store_stmt(s, ST_DICT_ADD, "INSERT INTO strs(s) VALUES(?1)");
		if (st == NULL)
			return -EIO;
		sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
		if ((rc = store_run(s, st, "string insert")) < 0)
			return rc;
		*id = sqlite3_last_insert_rowid(s->db);
	}
	return cache_put(d, *id, text);
}

const char *store_dict_text(struct store *s, int64_t id)
{
	struct store_dict *d = &s->dict;
	sqlite3_stmt *st;
	const char *t = NULL;

	if (id <= 0)
		return NULL;
	if ((size_t)id < d->n_text && d->text[id] != NULL)
		return d->text[id];
	st = store_stmt(s, ST_DICT_GET, "SELECT s FROM strs WHERE id=?1");
	if (st == NULL)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    cache_put(d, id, (const char *)sqlite3_column_text(st, 0)) == 0)
		t = d->text[id];
	sqlite3_reset(st);
	return t;
}

const char *store_dict_json(struct store *s, int64_t id, size_t *len)
{
	struct store_dict *d = &s->dict;
	const char *t = store_dict_text(s, id);

	if (t == NULL)
		return NULL;
	if (d->json[id] == NULL && (d->json[id] = store_json_quote(t, &d->json_len[id])) == NULL)
		return NULL;
	*len = d->json_len[id];
	return d->json[id];
}
