/* store_ingest.c: the store's ingest and reparse: report rows, events, exactly once by key */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../proto/report_json.h"
#include "log.h"
#include "store_internal.h"

/*
 * The parse outcome of a report is bound at the same parameters (?2..?12) in the three
 * statements that write it: a new report, a good copy replacing one that did not parse, and
 * a reparse. Where it came from (?13..?18) is bound for the first two; the upgrade keeps
 * path (?14) and collected as first stored (a bind to a parameter the statement does not
 * use has no effect); collected_at (?18) and seq are those of the latest commit.
 */
/* the collection sequence of a commit: one more than any stored (reports_seq index) */
#define NEXT_SEQ "(SELECT coalesce(max(seq),0)+1 FROM reports)"

#define OUTCOME_SET                                                                                \
	"incident=coalesce(?2,incident),status=?3,error=?4,variant=?5,bug_type=?6,product=?7,"     \
	"os_version=?8,build=?9,timestamp=?10,time=?11,n_events=?12"

static const char sql_report_insert[] =
	"INSERT INTO reports(key,incident,status,error,variant,bug_type,product,os_version,build,"
	"timestamp,time,n_events,udid,path,size,sha256,archive,collected,collected_at,seq) "
	"VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?18," NEXT_SEQ ")";
/* the upgrade's events are new to clients: it is collected again (a new seq) */
static const char sql_report_upgrade[] = "UPDATE reports SET " OUTCOME_SET
					 ",udid=coalesce(udid,?13),size=?15,sha256=?16,archive=?17,"
					 "collected_at=?18,seq=" NEXT_SEQ " WHERE id=?1";
static const char sql_reparse_update[] = "UPDATE reports SET " OUTCOME_SET " WHERE id=?1";
/* strings at ?6..?11, ?14, ?15 are ids in strs (store_dict.c) */
static const char sql_event_insert[] =
	"INSERT INTO events(report_id,seq,rseq,collected_at,time,udid,product,build,role,process,"
	"reason,limit_bytes,pid,uuid,states,priority,rpages,page_size,footprint,lifetime_max) "
	"VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20)";

/* What a report's rows say beyond the report itself: the phone's facts fill its gaps. */
struct facts {
	const char *udid, *product, *os_version, *build;
	const char *incident, *timestamp;
	int64_t time;		   /* report time, else the collection time */
	int64_t seq, collected_at; /* the report's collection (copied into its events) */
};

static const char *or_null(const char *a, const char *b)
{
	return a ? a : b;
}

/* dev: the phone's product, os_version, build (each may be NULL) */
static void facts_fill(struct facts *f, const struct report *rep, const char *udid,
		       const char *const dev[3], const char *incident, int64_t collected)
{
	f->udid = udid;
	f->product = or_null(rep->product, dev[0]);
	f->os_version = or_null(rep->os_version, dev[1]);
	f->build = or_null(rep->build, dev[2]);
	f->incident = or_null(rep->incident, incident);
	f->timestamp = rep->timestamp;
	f->time = rep->timestamp_epoch != REPORT_NULL ? rep->timestamp_epoch : collected;
}

/* product, os_version, build at parameters i..i+2 (report and event rows carry them) */
static void bind_place(sqlite3_stmt *st, int i, const struct facts *f)
{
	store_bind_text(st, i, f->product);
	store_bind_text(st, i + 1, f->os_version);
	store_bind_text(st, i + 2, f->build);
}

static void bind_outcome(sqlite3_stmt *st, const struct report *rep, const struct facts *f)
{
	store_bind_text(st, 2, f->incident);
	store_bind_text(st, 3, report_status_name(rep->status));
	/* an ok report has an error only when its events were cut (max_events_per_report) */
	store_bind_text(st, 4, rep->error);
	store_bind_text(st, 5,
			rep->variant == REPORT_VARIANT_UNKNOWN ? NULL
							       : report_variant_name(rep->variant));
	store_bind_text(st, 6, rep->bug_type);
	bind_place(st, 7, f);
	store_bind_text(st, 10, rep->timestamp);
	store_bind_int(st, 11, rep->timestamp_epoch);
	sqlite3_bind_int64(st, 12, (int64_t)rep->n_events);
}

static void bind_source(sqlite3_stmt *st, const struct store_ingest *in, int64_t collected)
{
	store_bind_text(st, 13, in->udid);
	store_bind_text(st, 14, in->path);
	sqlite3_bind_int64(st, 15, in->size);
	store_bind_text(st, 16, in->sha256);
	store_bind_text(st, 17, in->archive);
	sqlite3_bind_int64(st, 18, collected);
}

/* The EVENT object of PROTOCOL.md (NULL when out of memory). */
static cJSON *event_json(const struct report_event *ev, int64_t report_id, const struct facts *f,
			 int64_t epoch)
{
	cJSON *o = report_json_event(ev);
	char t[32];

	if (epoch != REPORT_NULL)
		isotime_format(epoch, t);
	if (o && !store_j_add(o, "report_id", cJSON_CreateNumber((double)report_id)) &&
	    !store_j_add(o, "udid", store_j_str(f->udid)) &&
	    !store_j_add(o, "incident", store_j_str(f->incident)) &&
	    !store_j_add(o, "product", store_j_str(f->product)) &&
	    !store_j_add(o, "os_version", store_j_str(f->os_version)) &&
	    !store_j_add(o, "build", store_j_str(f->build)) &&
	    !store_j_add(o, "timestamp", store_j_str(f->timestamp)) &&
	    !store_j_add(o, "time",
			 epoch != REPORT_NULL ? cJSON_CreateString(t) : cJSON_CreateNull()))
		return o;
	cJSON_Delete(o);
	return NULL;
}

cJSON *store_event_json(const struct store_ingest *in, const struct report_event *ev,
			const struct store_ingest_result *res)
{
	const char *dev[3] = {in->device_product, in->device_os_version, in->device_build};
	struct facts f;
	cJSON *o;

	facts_fill(&f, in->report, in->udid, dev, NULL, 0);
	o = event_json(ev, res->report_id, &f, in->report->timestamp_epoch);
	if (o && store_event_add_collection(o, f.product, res->collected_at, res->seq) < 0) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* A process name (and the bundle id it came with, NULL: none) for the process filter */
static int proc_name_add(struct store *s, const char *name, const char *bundle_id)
{
	sqlite3_stmt *st;

	if (name == NULL)
		return 0;
	st = store_stmt(s, ST_PROC_NAME_ADD,
			"INSERT OR IGNORE INTO proc_names(name,bundle_id) VALUES(?1,?2)");
	if (st == NULL)
		return -EIO;
	store_bind_text(st, 1, name);
	store_bind_text(st, 2, bundle_id ? bundle_id : "");
	return store_run(s, st, "process name");
}

/* An id of strs at parameter i (0: NULL) */
static int bind_str(struct store *s, sqlite3_stmt *st, int i, const char *text)
{
	int64_t id;
	int r = store_dict_id(s, text, &id);

	if (r == 0)
		store_bind_int(st, i, id ? id : REPORT_NULL);
	return r;
}

/*
 * footprint is stored only where the parser's rule (rpages * page_size, when both are
 * known, rpages >= 0, page_size > 0 and no overflow) does not give it: NULL = the rule's
 * value, REPORT_NULL (the lowest integer) = none although the rule gives one.
 */
static void bind_footprint(sqlite3_stmt *st, int i, const struct report_event *ev)
{
	int64_t rule = REPORT_NULL, v;

	if (ev->rpages != REPORT_NULL && ev->rpages >= 0 && ev->page_size != REPORT_NULL &&
	    ev->page_size > 0 && !__builtin_mul_overflow(ev->rpages, ev->page_size, &v))
		rule = v;
	if (ev->footprint_bytes == rule)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, ev->footprint_bytes);
}

/* One event row (the statement is bound and run here). */
static int insert_event(struct store *s, int64_t report_id, size_t i, const struct report *rep,
			const struct facts *f)
{
	const struct report_event *ev = &rep->events[i];
	sqlite3_stmt *st = store_stmt(s, ST_EVENT_INSERT, sql_event_insert);
	char *states = store_event_states_text(ev);
	int r;

	if (st == NULL || states == NULL) {
		free(states);
		return st ? -ENOMEM : -EIO;
	}
	sqlite3_bind_int64(st, 1, report_id);
	sqlite3_bind_int64(st, 2, (int64_t)i);
	sqlite3_bind_int64(st, 3, f->seq);
	sqlite3_bind_int64(st, 4, f->collected_at);
	store_bind_int(st, 5, rep->timestamp_epoch);
	if ((r = bind_str(s, st, 6, f->udid)) < 0 || (r = bind_str(s, st, 7, f->product)) < 0 ||
	    (r = bind_str(s, st, 8, f->build)) < 0 ||
	    (r = bind_str(s, st, 9, report_role_name(ev->role))) < 0 ||
	    (r = bind_str(s, st, 10, ev->process)) < 0 ||
	    (r = bind_str(s, st, 11, ev->reason)) < 0 || (r = bind_str(s, st, 14, ev->uuid)) < 0 ||
	    (r = bind_str(s, st, 15, states)) < 0) {
		free(states);
		sqlite3_reset(st);
		return r;
	}
	free(states);
	store_bind_int(st, 12, ev->limit_bytes);
	store_bind_int(st, 13, ev->pid);
	store_bind_int(st, 16, ev->priority);
	store_bind_int(st, 17, ev->rpages);
	store_bind_int(st, 18, ev->page_size);
	bind_footprint(st, 19, ev);
	store_bind_int(st, 20, ev->lifetime_max_pages);
	return store_run(s, st, "event insert");
}

/* Insert the events of a report; with_limits also feeds the limits summaries. */
static int insert_events(struct store *s, int64_t report_id, const struct report *rep,
			 const struct facts *f, int with_limits)
{
	for (size_t i = 0; i < rep->n_events; i++) {
		const struct report_event *ev = &rep->events[i];
		int r;

		if ((r = insert_event(s, report_id, i, rep, f)) < 0 ||
		    (r = proc_name_add(s, ev->process, ev->bundle_id)) < 0)
			return r;
		if (with_limits && ev->limit_bytes != REPORT_NULL) {
			r = store_lim_add(s, f->product, f->build, report_role_name(ev->role),
					  f->os_version, ev->limit_bytes, f->time, f->udid,
					  ev->process);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* The report stored under key: *id (0: none), whether it was stored as not parsing, and
 * whether its bytes are other than sha256's. */
static int report_by_key(struct store *s, const char *key, const char *sha256, int64_t *id,
			 int *is_error, int *other)
{
	sqlite3_stmt *st =
		store_stmt(s, ST_REPORT_BY_KEY,
			   "SELECT id,status='error',sha256 IS NOT ?2 FROM reports WHERE key=?1");
	int rc;

	*id = 0;
	*is_error = *other = 0;
	if (st == NULL)
		return -EIO;
	store_bind_text(st, 1, key);
	store_bind_text(st, 2, sha256);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		*is_error = sqlite3_column_int(st, 1);
		*other = sqlite3_column_int(st, 2);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_err(s, "report lookup");
}

/* The seq the commit of report id got. */
static int report_seq(struct store *s, int64_t id, int64_t *seq)
{
	sqlite3_stmt *st = store_stmt(s, ST_REPORT_SEQ, "SELECT seq FROM reports WHERE id=?1");
	int rc;

	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*seq = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : store_db_err(s, "report seq");
}

/*
 * Write a report row: a new one (id 0, then *id gets the new row's) under key, or over
 * report *id stored with status error (and so without events) by a copy that parses.
 * *seq gets the row's collection sequence.
 */
static int report_write(struct store *s, const char *key, int64_t *id,
			const struct store_ingest *in, int64_t collected, int64_t *seq)
{
	const struct report *rep = in->report;
	const char *dev[3] = {in->device_product, in->device_os_version, in->device_build};
	sqlite3_stmt *st;
	struct facts f;
	int r, upgrade = *id != 0;

	facts_fill(&f, rep, in->udid, dev, NULL, collected);
	if (!upgrade)
		st = store_stmt(s, ST_REPORT_INSERT, sql_report_insert);
	else
		st = store_stmt(s, ST_REPORT_UPGRADE, sql_report_upgrade);
	if (st == NULL)
		return -EIO;
	if (!upgrade)
		store_bind_text(st, 1, key);
	else
		sqlite3_bind_int64(st, 1, *id);
	bind_outcome(st, rep, &f);
	bind_source(st, in, collected);
	if ((r = store_run(s, st, upgrade ? "report upgrade" : "report insert")) < 0)
		return r;
	if (!upgrade)
		*id = sqlite3_last_insert_rowid(s->db);
	else
		log_info("store", "report %lld: a copy that parses replaces the one that did not",
			 (long long)*id);
	if ((r = report_seq(s, *id, seq)) < 0)
		return r;
	f.seq = *seq;
	f.collected_at = collected;
	return insert_events(s, *id, rep, &f, 1);
}

static char *report_key(const struct store_ingest *in)
{
	const struct report *rep = in->report;
	char *key = NULL;
	int r;

	if (rep->incident && rep->incident[0])
		r = asprintf(&key, "incident:%s", rep->incident);
	else
		r = asprintf(&key, "sha256:%s", in->sha256);
	return r < 0 ? NULL : key;
}

/*
 * key is known with other bytes that parse, as the stored copy does: a different report with
 * the same incident id (a phone's reused id, a generator's fixed seed). It is kept under its
 * own key, incident:<id>/sha256:<hex>, and logged once (when first stored).
 */
static int conflict_key(struct store *s, char **key, const struct store_ingest *in, int64_t *id,
			int *is_error)
{
	char *ck = NULL;
	int other, r;

	if (asprintf(&ck, "%s/sha256:%s", *key, in->sha256) < 0)
		return -ENOMEM;
	free(*key);
	*key = ck;
	r = report_by_key(s, ck, in->sha256, id, is_error, &other);
	if (r == 0 && *id == 0)
		log_warn("store",
			 "report '%s' has the incident id of a stored report with other "
			 "content: kept as a conflict, key '%s'",
			 in->path, ck);
	return r;
}

int store_ingest(struct store *s, const struct store_ingest *in, struct store_ingest_result *out)
{
	const struct report *rep = in->report;
	int64_t id = 0;
	int is_error = 0, other = 0, known, r;
	char *key;

	memset(out, 0, sizeof(*out));
	if (rep == NULL || in->sha256 == NULL || in->path == NULL)
		return -EINVAL;
	if ((key = report_key(in)) == NULL)
		return -ENOMEM;
	r = report_by_key(s, key, in->sha256, &id, &is_error, &other);
	if (r == 0 && id != 0 && other && rep->status != REPORT_ERROR && !is_error &&
	    strncmp(key, "incident:", 9) == 0)
		r = conflict_key(s, &key, in, &id, &is_error);
	known = id != 0;
	if (r == 0 && known && (rep->status == REPORT_ERROR || !is_error)) {
		out->duplicate = 1; /* only the file index entry is new */
	} else if (r == 0) {
		/* new, or the known copy did not parse (cut short, ...) and this one does */
		out->collected_at = store_now();
		r = report_write(s, key, &id, in, out->collected_at, &out->seq);
		out->n_events = r == 0 ? rep->n_events : 0;
	}
	free(key);
	if (r == 0)
		r = store_file_upsert(s, in, id);
	out->report_id = id;
	return r;
}

/* ---- reparse ---- */

int store_archived_list(struct store *s, int64_t after_id, size_t max, struct store_archived **v,
			size_t *n)
{
	sqlite3_stmt *st = store_stmt(s, ST_ARCHIVED_LIST,
				      "SELECT id,archive FROM reports WHERE id>?1 AND archive IS "
				      "NOT NULL ORDER BY id LIMIT ?2");
	size_t cap = max ? max : 1;
	int rc, r = 0;

	*n = 0;
	*v = NULL;
	if (st == NULL)
		return -EIO;
	if ((*v = calloc(cap, sizeof(**v))) == NULL)
		return -ENOMEM;
	sqlite3_bind_int64(st, 1, after_id);
	sqlite3_bind_int64(st, 2, (int64_t)cap);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		(*v)[*n].id = sqlite3_column_int64(st, 0);
		if (((*v)[*n].archive = store_col_dup(st, 1)) == NULL) {
			r = -ENOMEM;
			break;
		}
		(*n)++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_db_err(s, "archived list");
	sqlite3_reset(st);
	if (r < 0) {
		store_archived_free(*v, *n);
		*v = NULL;
		*n = 0;
	}
	return r;
}

void store_archived_free(struct store_archived *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].archive);
	free(v);
}

/* What a reparse keeps of a stored report: its phone, the phone's facts, incident, time. */
struct kept {
	char *udid, *dev[3], *incident;
	int64_t collected, seq, collected_at;
};

static void kept_release(struct kept *k)
{
	free(k->udid);
	for (int i = 0; i < 3; i++)
		free(k->dev[i]);
	free(k->incident);
}

static int kept_load(struct store *s, int64_t report_id, struct kept *k)
{
	sqlite3_stmt *st =
		store_stmt(s, ST_REPARSE_LOOKUP,
			   "SELECT r.udid,d.product,d.os_version,d.build,r.collected,r.incident,"
			   "r.seq,r.collected_at "
			   "FROM reports r LEFT JOIN devices d ON d.udid=r.udid WHERE r.id=?1");
	int rc;

	memset(k, 0, sizeof(*k));
	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, report_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		k->udid = store_col_dup(st, 0);
		for (int i = 0; i < 3; i++)
			k->dev[i] = store_col_dup(st, 1 + i);
		k->collected = sqlite3_column_int64(st, 4);
		k->incident = store_col_dup(st, 5);
		k->seq = sqlite3_column_int64(st, 6);
		k->collected_at = sqlite3_column_int64(st, 7);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -ENOENT : store_db_err(s, "reparse lookup");
}

int store_report_replace(struct store *s, int64_t report_id, const struct report *rep,
			 size_t *n_events)
{
	const char *dev[3];
	sqlite3_stmt *st;
	struct facts f;
	struct kept k;
	int r;

	*n_events = 0;
	if ((r = kept_load(s, report_id, &k)) < 0)
		return r;
	for (int i = 0; i < 3; i++)
		dev[i] = k.dev[i];
	facts_fill(&f, rep, k.udid, dev, k.incident, k.collected);
	f.seq = k.seq; /* a reparse is no new collection */
	f.collected_at = k.collected_at;
	/* a report's events are those of its seq (events_rseq) */
	st = store_stmt(s, ST_REPARSE_DELETE, "DELETE FROM events WHERE rseq=?1");
	if (st)
		sqlite3_bind_int64(st, 1, k.seq);
	r = store_run(s, st, "reparse delete");
	if (r == 0 && (st = store_stmt(s, ST_REPARSE_UPDATE, sql_reparse_update)) != NULL) {
		sqlite3_bind_int64(st, 1, report_id);
		bind_outcome(st, rep, &f);
	}
	if (r == 0)
		r = store_run(s, st, "reparse update");
	/* the summaries are rebuilt as a whole after the reparse (store_limits_rebuild(), or
	 * store_open() after a crash): events only here */
	if (r == 0)
		r = insert_events(s, report_id, rep, &f, 0);
	if (r == 0)
		r = store_limits_mark_dirty(s);
	if (r == 0)
		*n_events = rep->n_events;
	kept_release(&k);
	return r;
}
