/* fetch.c: the AFC side of a phone sync: walk, download, remove (fetch_conn.c connects) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libimobiledevice/afc.h>
#include <libimobiledevice/libimobiledevice.h>

#include "../proto/sanitize.h"
#include "fetch_internal.h"
#include "log.h"

/* ---- AFC helpers ---- */

struct file_info {
	int is_dir, is_reg, is_link;
	int64_t size, mtime_ns;
};

static afc_error_t stat_path(afc_client_t afc, const char *path, struct file_info *fi)
{
	char **kv = NULL;
	afc_error_t e;

	memset(fi, 0, sizeof(*fi));
	e = afc_get_file_info(afc, path, &kv);
	if (e != AFC_E_SUCCESS)
		return e;
	for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2) {
		if (!strcmp(kv[i], "st_size"))
			fi->size = strtoll(kv[i + 1], NULL, 10);
		else if (!strcmp(kv[i], "st_mtime"))
			fi->mtime_ns = strtoll(kv[i + 1], NULL, 10);
		else if (!strcmp(kv[i], "st_ifmt")) {
			fi->is_dir = !strcmp(kv[i + 1], "S_IFDIR");
			fi->is_reg = !strcmp(kv[i + 1], "S_IFREG");
			fi->is_link = fi->is_link || !strcmp(kv[i + 1], "S_IFLNK");
		} else if (!strcmp(kv[i], "LinkTarget"))
			fi->is_link = 1;
	}
	afc_dictionary_free(kv);
	return AFC_E_SUCCESS;
}

static int wanted(const char *name, int collect_all)
{
	if (collect_all)
		return 1;
	return strncmp(name, "JetsamEvent", 11) == 0;
}

static int push_known(struct fetch_result *out, const char *path, const struct file_info *fi)
{
	struct fetch_known *v = realloc(out->known, (out->n_known + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	out->known = v;
	v[out->n_known].path = strdup(path);
	if (!v[out->n_known].path)
		return -ENOMEM;
	v[out->n_known].size = fi->size;
	v[out->n_known].mtime_ns = fi->mtime_ns;
	v[out->n_known].removed = 0;
	out->n_known++;
	return 0;
}

/*
 * Read exactly fi->size bytes of path. Returns 0 with *buf_out set, -EIO for a file-level
 * failure, -EPIPE when the connection is gone (the walk must stop).
 */
static int download(struct fetch_conn *c, const char *path, const struct file_info *fi,
		    char **buf_out)
{
	uint64_t h = 0;
	afc_error_t e;
	char *buf;
	size_t total = 0, size = (size_t)fi->size;
	int r = 0;

	e = afc_file_open(c->afc, path, AFC_FOPEN_RDONLY, &h);
	if (e != AFC_E_SUCCESS) {
		log_warn("fetch", "%s: cannot open '%s': %s (afc error %d)", c->udid, path,
			 fetch_afc_error_name(e), (int)e);
		return fetch_afc_error_fatal(e) ? -EPIPE : -EIO;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		afc_file_close(c->afc, h);
		return -ENOMEM;
	}
	while (total < size) {
		uint32_t want = size - total > FETCH_CHUNK ? FETCH_CHUNK : (uint32_t)(size - total);
		uint32_t got = 0;

		if (fetch_cancelled(c)) {
			r = -ECANCELED;
			break;
		}
		e = afc_file_read(c->afc, h, buf + total, want, &got);
		if (e != AFC_E_SUCCESS) {
			log_warn("fetch", "%s: cannot read '%s' at %zu: %s (afc error %d)", c->udid,
				 path, total, fetch_afc_error_name(e), (int)e);
			r = fetch_afc_error_fatal(e) ? -EPIPE : -EIO;
			break;
		}
		if (got == 0)
			break;
		total += got;
		c->out->bytes += got;
	}
	if (r == 0 && total != size) {
		log_warn("fetch", "%s: '%s': got %zu bytes of %zu; nothing of it is kept", c->udid,
			 path, total, size);
		r = -EIO;
	}
	afc_file_close(c->afc, h); /* a lost connection shows at the next request */
	if (r < 0) {
		free(buf);
		return r;
	}
	*buf_out = buf;
	return 0;
}

static int keep_file(struct fetch_conn *c, const struct fetch_params *p, const char *path,
		     const struct file_info *fi, const char *buf)
{
	int r = p->file_cb(p->file_arg, path, fi->size, fi->mtime_ns, buf);

	if (r < 0)
		return r;
	c->out->n_files++;
	log_debug("fetch", "%s: downloaded '%s' (%lld bytes)", c->udid, path, (long long)fi->size);
	return 0;
}

static int join_path(char *dst, size_t len, const char *dir, const char *name)
{
	int n = dir ? snprintf(dst, len, "%s/%s", dir, name) : snprintf(dst, len, "%s", name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * One regular file of the walk (path raw for AFC): skip it, note it as known, or download,
 * archive and parse it. Returns 0 to go on, or -EPIPE/-ECANCELED/-ENOMEM to stop the walk.
 */
static int walk_file(struct fetch_conn *c, const struct fetch_params *p, const char *path,
		     const struct file_info *fi)
{
	char safe[SANITIZE_PATH_MAX + 1]; /* escaped: what is stored and compared */
	const struct store_file_entry *known;
	char *buf = NULL;
	int cut, r;

	sanitize_escape(path, strlen(path), safe, sizeof(safe), &cut);
	if (cut) {
		log_warn("fetch", "%s: '%.200s...': path over %d bytes escaped: skipped", c->udid,
			 safe, SANITIZE_PATH_MAX);
		return 0;
	}
	known = store_file_index_find(&p->index, safe);
	if (known && known->size == fi->size && known->mtime_ns == fi->mtime_ns)
		return !known->removed && push_known(c->out, safe, fi) < 0 ? -ENOMEM : 0;
	if (fi->size <= 0)
		return 0; /* being written, or nothing to keep */
	if ((size_t)fi->size > p->max_report_size) {
		log_warn("fetch", "%s: '%s' is larger than max_report_size (%lld bytes)", c->udid,
			 path, (long long)fi->size);
		return 0;
	}
	r = download(c, path, fi, &buf);
	if (r == -EIO) {
		c->out->n_failed++;
		return 0;
	}
	if (buf) {
		int k = keep_file(c, p, safe, fi, buf);

		free(buf);
		if (k == -ENOMEM)
			r = k;
		else if (k < 0)
			c->out->n_failed++;
	}
	if (r == -EPIPE)
		fetch_set_error(c->out, FETCH_ERROR, "connection lost while reading '%s'", path);
	else if (r == -ECANCELED)
		fetch_cancelled(c);
	return r;
}

/*
 * A name the phone's index knows as a file pulled earlier (and not removed by us) is not
 * asked about again (no file-info request): it is a file, noted as known with the size and
 * mtime it had when it was pulled. So an unchanged phone costs one listing per directory.
 * iOS never rewrites a report: it writes a new file under a new name. A file rewritten in
 * place under the same name is therefore not pulled again (README.md, jetsamd.conf.5).
 * Returns 1 when path was such a name, 0 when it must be stat'ed, or -ENOMEM.
 */
static int walk_known(struct fetch_conn *c, const struct fetch_params *p, const char *path,
		      const char *name)
{
	char safe[SANITIZE_PATH_MAX + 1]; /* escaped, as stored */
	const struct store_file_entry *known;
	struct file_info fi = {.is_reg = 1};
	int cut;

	sanitize_escape(path, strlen(path), safe, sizeof(safe), &cut);
	if (cut || (known = store_file_index_find(&p->index, safe)) == NULL || known->removed)
		return 0;
	if (!wanted(name, p->collect_all))
		return 1;
	fi.size = known->size;
	fi.mtime_ns = known->mtime_ns;
	return push_known(c->out, safe, &fi) < 0 ? -ENOMEM : 1;
}

/*
 * List dir; stat the names the index does not know (walk_known) to tell directories, links
 * and files apart. Returns 0 to go on, -EPIPE/-ECANCELED/-ENOMEM/-E2BIG to stop the walk.
 */
static int walk(struct fetch_conn *c, const struct fetch_params *p, const char *dir, int depth)
{
	char **names = NULL;
	afc_error_t e;
	int r = 0;

	e = afc_read_directory(c->afc, dir ? dir : ".", &names);
	if (e != AFC_E_SUCCESS) {
		if (!dir || fetch_afc_error_fatal(e)) {
			fetch_set_error(c->out, FETCH_ERROR,
					"cannot read device directory '%s': %s", dir ? dir : ".",
					fetch_afc_error_name(e));
			return -EPIPE;
		}
		log_warn("fetch", "%s: cannot read directory '%s': %s", c->udid, dir,
			 fetch_afc_error_name(e));
		c->out->n_failed++;
		return 0;
	}
	for (size_t i = 0; names && names[i] && r == 0; i++) {
		char path[1024]; /* raw, for AFC */
		struct file_info fi;

		if (!strcmp(names[i], ".") || !strcmp(names[i], ".."))
			continue;
		if (fetch_cancelled(c)) {
			r = -ECANCELED;
			break;
		}
		if (p->max_entries && ++c->entries > p->max_entries) {
			fetch_set_error(
				c->out, FETCH_ERROR,
				"sync stopped after %u directory entries (max_sync_entries)",
				p->max_entries);
			r = -E2BIG;
			break;
		}
		if (join_path(path, sizeof(path), dir, names[i]) < 0)
			continue;
		r = walk_known(c, p, path, names[i]);
		if (r != 0) {
			r = r < 0 ? r : 0;
			continue;
		}
		e = stat_path(c->afc, path, &fi);
		if (e != AFC_E_SUCCESS) {
			if (fetch_afc_error_fatal(e)) {
				fetch_set_error(c->out, FETCH_ERROR, "cannot stat '%s': %s", path,
						fetch_afc_error_name(e));
				r = -EPIPE;
			} else if (e != AFC_E_OBJECT_NOT_FOUND) {
				log_warn("fetch", "%s: cannot stat '%s': %s", c->udid, path,
					 fetch_afc_error_name(e));
			}
			continue;
		}
		if (fi.is_link)
			continue;
		if (fi.is_dir) {
			if (p->max_depth == 0 || (unsigned)depth < p->max_depth)
				r = walk(c, p, path, depth + 1);
			else if (c->too_deep++ == 0)
				log_warn("fetch",
					 "%s: '%s' is deeper than max_sync_depth (%u): skipped",
					 c->udid, path, p->max_depth);
			continue;
		}
		if (fi.is_reg && wanted(names[i], p->collect_all))
			r = walk_file(c, p, path, &fi);
	}
	afc_dictionary_free(names);
	return r;
}

void fetch_sync(const struct fetch_params *p, atomic_int *cancel, struct fetch_result *out)
{
	struct fetch_conn c = {.udid = p->udid,
			       .network = p->network,
			       .cancel = cancel,
			       .abort = p->abort,
			       .deadline_ms = p->deadline_ms,
			       .afc_fd = -1,
			       .out = out};
	int r;

	memset(out, 0, sizeof(*out));
	out->state = FETCH_OK;
	if (fetch_cancelled(&c))
		return;
	if (fetch_conn_open(&c, 1, 1, p->mover_timeout_ms) < 0) {
		fetch_conn_close(&c);
		return;
	}
	r = walk(&c, p, NULL, 0); /* files are parsed on the job's stage thread (devices_stage.c) */
	fetch_conn_close(&c);
	if (r == -ENOMEM)
		fetch_set_error(out, FETCH_ERROR, "out of memory");
	if (fetch_abort_is_set(c.abort) && out->state != FETCH_OK)
		fetch_cancelled(&c); /* cut by the loop: say why (deadline or cancel), not "lost" */
	if (out->state == FETCH_OK && c.too_deep)
		fetch_set_error(out, FETCH_ERROR,
				"%u director%s deeper than max_sync_depth (%u) not walked",
				c.too_deep, c.too_deep == 1 ? "y" : "ies", p->max_depth);
	if (out->state == FETCH_OK && out->n_failed)
		fetch_set_error(out, FETCH_ERROR, "%u report file(s) could not be fetched",
				out->n_failed);
}

void fetch_remove(const char *udid, int network, struct fetch_known *v, size_t n,
		  atomic_int *cancel, struct fetch_abort *ab, struct fetch_result *out)
{
	struct fetch_conn c = {.udid = udid,
			       .network = network,
			       .cancel = cancel,
			       .abort = ab,
			       .afc_fd = -1,
			       .out = out};

	memset(out, 0, sizeof(*out));
	out->state = FETCH_OK;
	if (fetch_cancelled(&c))
		return;
	if (fetch_conn_open(&c, 0, 0, 0) < 0) {
		fetch_conn_close(&c);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char raw[1024]; /* v[i].path is escaped (sanitize_escape): AFC needs the bytes */
		struct file_info fi;
		afc_error_t e;

		if (fetch_cancelled(&c))
			break;
		if (sanitize_unescape(v[i].path, raw, sizeof(raw)) < 0) {
			log_warn("fetch", "%s: '%s' is not a stored device path: kept", udid,
				 v[i].path);
			continue;
		}
		e = stat_path(c.afc, raw, &fi);
		if (e == AFC_E_OBJECT_NOT_FOUND) {
			log_info("fetch", "%s: '%s' is already gone from the device", udid,
				 v[i].path);
			continue;
		}
		if (e != AFC_E_SUCCESS) {
			if (fetch_afc_error_fatal(e)) {
				fetch_set_error(out, FETCH_ERROR, "cannot stat '%s': %s", v[i].path,
						fetch_afc_error_name(e));
				break;
			}
			log_warn("fetch", "%s: cannot stat '%s': %s; kept", udid, v[i].path,
				 fetch_afc_error_name(e));
			continue;
		}
		if (!fi.is_reg || fi.size != v[i].size || fi.mtime_ns != v[i].mtime_ns) {
			log_info("fetch", "%s: '%s' changed since it was pulled; kept", udid,
				 v[i].path);
			continue;
		}
		e = afc_remove_path(c.afc, raw);
		if (e != AFC_E_SUCCESS) {
			if (fetch_afc_error_fatal(e)) {
				fetch_set_error(out, FETCH_ERROR, "cannot remove '%s': %s",
						v[i].path, fetch_afc_error_name(e));
				break;
			}
			log_warn("fetch", "%s: cannot remove '%s': %s; kept", udid, v[i].path,
				 fetch_afc_error_name(e));
			continue;
		}
		v[i].removed = 1;
		log_debug("fetch", "%s: removed '%s' from the device", udid, v[i].path);
	}
	fetch_conn_close(&c);
}

void fetch_params_release(struct fetch_params *p)
{
	free(p->state_dir);
	p->state_dir = NULL;
	store_file_index_release(&p->index);
}

void fetch_result_release(struct fetch_result *r)
{
	for (size_t i = 0; i < r->n_known; i++)
		free(r->known[i].path);
	free(r->known);
	free(r->error);
	free(r->name);
	free(r->product);
	free(r->os_version);
	free(r->build);
	memset(r, 0, sizeof(*r));
}

const char *fetch_state_name(enum fetch_state s)
{
	switch (s) {
	case FETCH_OK:
		return "ok";
	case FETCH_LOCKED:
		return "locked";
	case FETCH_UNTRUSTED:
		return "untrusted";
	case FETCH_ERROR:
		return "error";
	case FETCH_GONE:
		return "gone";
	case FETCH_CANCELLED:
		return "cancelled";
	}
	return "error";
}
