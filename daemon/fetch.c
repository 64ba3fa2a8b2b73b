/* fetch.c: libimobiledevice side of a phone sync: lockdown, mover, AFC walk, download, remove */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libimobiledevice/afc.h>
#include <libimobiledevice/libimobiledevice.h>
#include <libimobiledevice/lockdown.h>
#include <libimobiledevice/service.h>
#include <plist/plist.h>

#include "../proto/sanitize.h"
#include "clock.h"
#include "fetch.h"
#include "log.h"

#define FETCH_LABEL	"jetsamd"
#define FETCH_MOVER	"com.apple.crashreportmover"
#define FETCH_COPY	"com.apple.crashreportcopymobile"
#define FETCH_CHUNK	(256u * 1024u)
#define FETCH_MAX_DEPTH 16
#define FETCH_SLICE_MS	250u /* longest wait between two looks at the cancel flag */

/* One open connection to a phone: device, then AFC on crashreportcopymobile. */
struct fetch_conn {
	const char *udid;
	int network;
	atomic_int *cancel;
	idevice_t dev;
	afc_client_t afc;
	struct fetch_result *out;
};

static void set_error(struct fetch_result *out, enum fetch_state st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_error(struct fetch_result *out, enum fetch_state st, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	out->state = st;
	free(out->error);
	out->error = strdup(buf);
}

static int cancelled(struct fetch_conn *c)
{
	if (atomic_load(c->cancel)) {
		c->out->state = FETCH_CANCELLED;
		free(c->out->error);
		c->out->error = strdup("cancelled");
		return 1;
	}
	return 0;
}

/* ---- the one mapping of library errors into our states ---- */

static void map_lockdown_error(struct fetch_result *out, const char *what, lockdownd_error_t e)
{
	switch (e) {
	case LOCKDOWN_E_PASSWORD_PROTECTED:
		set_error(out, FETCH_LOCKED, "device is locked (%s: password protected)", what);
		break;
	case LOCKDOWN_E_PAIRING_DIALOG_RESPONSE_PENDING:
		set_error(out, FETCH_UNTRUSTED, "pairing pending");
		break;
	case LOCKDOWN_E_USER_DENIED_PAIRING:
		set_error(out, FETCH_UNTRUSTED, "pairing denied");
		break;
	case LOCKDOWN_E_INVALID_HOST_ID:
	case LOCKDOWN_E_MISSING_HOST_ID:
	case LOCKDOWN_E_PAIRING_FAILED:
	case LOCKDOWN_E_INVALID_PAIR_RECORD:
	case LOCKDOWN_E_MISSING_PAIR_RECORD:
	case LOCKDOWN_E_SAVE_PAIR_RECORD_FAILED:
	case LOCKDOWN_E_PAIRING_PROHIBITED_OVER_THIS_CONNECTION:
		set_error(out, FETCH_UNTRUSTED, "pairing pending (%s: lockdown error %d)", what,
			  (int)e);
		break;
	case LOCKDOWN_E_MUX_ERROR:
		set_error(out, FETCH_ERROR, "%s: cannot connect to the device (lockdown error %d)",
			  what, (int)e);
		break;
	case LOCKDOWN_E_RECEIVE_TIMEOUT:
		set_error(out, FETCH_ERROR, "%s: device did not answer in time", what);
		break;
	default:
		set_error(out, FETCH_ERROR, "%s: lockdown error %d", what, (int)e);
		break;
	}
}

static const char *afc_error_name(afc_error_t e)
{
	switch (e) {
	case AFC_E_OBJECT_NOT_FOUND:
		return "not found";
	case AFC_E_PERM_DENIED:
		return "permission denied";
	case AFC_E_OBJECT_IS_DIR:
		return "is a directory";
	case AFC_E_MUX_ERROR:
		return "connection lost";
	case AFC_E_NOT_ENOUGH_DATA:
		return "short reply";
	case AFC_E_IO_ERROR:
		return "i/o error";
	case AFC_E_OP_TIMEOUT:
		return "timeout";
	default:
		return "afc error";
	}
}

/* Errors after which the AFC connection is unusable: stop the walk. */
static int afc_error_fatal(afc_error_t e)
{
	return e == AFC_E_MUX_ERROR || e == AFC_E_NOT_ENOUGH_DATA || e == AFC_E_OP_TIMEOUT ||
	       e == AFC_E_IO_ERROR || e == AFC_E_SERVICE_NOT_CONNECTED ||
	       e == AFC_E_OP_HEADER_INVALID || e == AFC_E_NO_MEM;
}

/* ---- connection set-up ---- */

/* A lockdown string, bounded and escaped to valid UTF-8 (proto/sanitize.h); NULL if none */
static char *get_string(lockdownd_client_t ld, const char *key)
{
	size_t cap = strcmp(key, "DeviceName") == 0 ? SANITIZE_NAME_MAX : SANITIZE_FIELD_MAX;
	plist_t node = NULL;
	char *s = NULL, *safe = NULL;

	if (lockdownd_get_value(ld, NULL, key, &node) == LOCKDOWN_E_SUCCESS && node &&
	    plist_get_node_type(node) == PLIST_STRING)
		plist_get_string_val(node, &s);
	if (node)
		plist_free(node);
	if (s != NULL && (safe = malloc(cap + 1)) != NULL)
		sanitize_escape(s, strlen(s), safe, cap + 1, NULL);
	free(s);
	return safe;
}

/* Start the mover and wait for its "ping"; a missing ping is only a warning. */
static int run_mover(struct fetch_conn *c, lockdownd_client_t ld, unsigned timeout_ms)
{
	lockdownd_service_descriptor_t svc = NULL;
	service_client_t sc = NULL;
	lockdownd_error_t le;
	char buf[8];
	uint32_t got = 0, n;
	uint64_t deadline = clock_now_ms() + timeout_ms;

	le = lockdownd_start_service(ld, FETCH_MOVER, &svc);
	if (le != LOCKDOWN_E_SUCCESS) {
		struct fetch_result tmp = {0};

		map_lockdown_error(&tmp, "start '" FETCH_MOVER "'", le);
		if (tmp.state == FETCH_LOCKED || tmp.state == FETCH_UNTRUSTED) {
			c->out->state = tmp.state;
			free(c->out->error);
			c->out->error = tmp.error;
			return -EPERM;
		}
		log_warn("fetch", "%s: %s; copying without moving", c->udid, tmp.error);
		free(tmp.error);
		return 0;
	}
	if (service_client_new(c->dev, svc, &sc) != SERVICE_E_SUCCESS) {
		lockdownd_service_descriptor_free(svc);
		log_warn("fetch", "%s: cannot connect to '" FETCH_MOVER "'; copying without moving",
			 c->udid);
		return 0;
	}
	lockdownd_service_descriptor_free(svc);
	while (got < 5) {
		uint64_t t = clock_now_ms();
		unsigned slice;

		if (cancelled(c)) {
			service_client_free(sc);
			return -ECANCELED;
		}
		if (t >= deadline) {
			log_warn("fetch", "%s: crashreportmover sent no ping within %u ms", c->udid,
				 timeout_ms);
			break;
		}
		slice = (unsigned)(deadline - t);
		if (slice > FETCH_SLICE_MS)
			slice = FETCH_SLICE_MS;
		n = 0;
		service_error_t se =
			service_receive_with_timeout(sc, buf + got, 5 - got, &n, slice);
		if (n > 0) {
			got += n;
			continue;
		}
		if (se != SERVICE_E_SUCCESS && se != SERVICE_E_TIMEOUT) {
			log_warn("fetch", "%s: crashreportmover closed before its ping (error %d)",
				 c->udid, (int)se);
			break;
		}
	}
	if (got == 5 && memcmp(buf, "ping", 4) != 0)
		log_warn("fetch", "%s: crashreportmover sent something other than a ping", c->udid);
	service_client_free(sc);
	return 0;
}

/*
 * device → lockdown handshake → (info, mover) → crashreportcopymobile → AFC.
 * Returns 0 with c->afc set, or -1 with c->out->state/error set.
 */
static int conn_open(struct fetch_conn *c, int with_info, int with_mover, unsigned mover_ms)
{
	lockdownd_client_t ld = NULL;
	lockdownd_service_descriptor_t svc = NULL;
	lockdownd_error_t le;
	idevice_error_t ie;
	afc_error_t ae;

	ie = idevice_new_with_options(&c->dev, c->udid,
				      c->network ? IDEVICE_LOOKUP_NETWORK : IDEVICE_LOOKUP_USBMUX);
	if (ie != IDEVICE_E_SUCCESS) {
		c->dev = NULL;
		if (ie == IDEVICE_E_NO_DEVICE)
			set_error(c->out, FETCH_GONE, "device not found by usbmuxd");
		else
			set_error(c->out, FETCH_ERROR, "cannot open device (error %d)", (int)ie);
		return -1;
	}
	if (cancelled(c))
		return -1;
	le = lockdownd_client_new_with_handshake(c->dev, &ld, FETCH_LABEL);
	if (le != LOCKDOWN_E_SUCCESS) {
		map_lockdown_error(c->out, "lockdown handshake", le);
		return -1;
	}
	if (with_info) {
		c->out->name = get_string(ld, "DeviceName");
		c->out->product = get_string(ld, "ProductType");
		c->out->os_version = get_string(ld, "ProductVersion");
		c->out->build = get_string(ld, "BuildVersion");
	}
	if (cancelled(c))
		goto fail;
	if (with_mover && run_mover(c, ld, mover_ms) < 0)
		goto fail;
	le = lockdownd_start_service(ld, FETCH_COPY, &svc);
	if (le != LOCKDOWN_E_SUCCESS) {
		map_lockdown_error(c->out, "start '" FETCH_COPY "'", le);
		goto fail;
	}
	lockdownd_client_free(ld);
	ld = NULL;
	if (cancelled(c)) {
		lockdownd_service_descriptor_free(svc);
		return -1;
	}
	ae = afc_client_new(c->dev, svc, &c->afc);
	lockdownd_service_descriptor_free(svc);
	if (ae != AFC_E_SUCCESS) {
		c->afc = NULL;
		set_error(c->out, FETCH_ERROR, "cannot connect to '" FETCH_COPY "' (afc error %d)",
			  (int)ae);
		return -1;
	}
	return 0;
fail:
	if (ld)
		lockdownd_client_free(ld);
	return -1;
}

static void conn_close(struct fetch_conn *c)
{
	if (c->afc)
		afc_client_free(c->afc);
	if (c->dev)
		idevice_free(c->dev);
	c->afc = NULL;
	c->dev = NULL;
}

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
			 afc_error_name(e), (int)e);
		return afc_error_fatal(e) ? -EPIPE : -EIO;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		afc_file_close(c->afc, h);
		return -ENOMEM;
	}
	while (total < size) {
		uint32_t want = size - total > FETCH_CHUNK ? FETCH_CHUNK : (uint32_t)(size - total);
		uint32_t got = 0;

		if (atomic_load(c->cancel)) {
			r = -ECANCELED;
			break;
		}
		e = afc_file_read(c->afc, h, buf + total, want, &got);
		if (e != AFC_E_SUCCESS) {
			log_warn("fetch", "%s: cannot read '%s' at %zu: %s (afc error %d)", c->udid,
				 path, total, afc_error_name(e), (int)e);
			r = afc_error_fatal(e) ? -EPIPE : -EIO;
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

/* Returns 0 to go on, -EPIPE/-ECANCELED/-ENOMEM to stop the whole walk. */
static int walk(struct fetch_conn *c, const struct fetch_params *p, const char *dir, int depth)
{
	char **names = NULL;
	afc_error_t e;
	int r = 0;

	e = afc_read_directory(c->afc, dir ? dir : ".", &names);
	if (e != AFC_E_SUCCESS) {
		if (!dir || afc_error_fatal(e)) {
			set_error(c->out, FETCH_ERROR, "cannot read device directory '%s': %s",
				  dir ? dir : ".", afc_error_name(e));
			return -EPIPE;
		}
		log_warn("fetch", "%s: cannot read directory '%s': %s", c->udid, dir,
			 afc_error_name(e));
		c->out->n_failed++;
		return 0;
	}
	for (size_t i = 0; names && names[i] && r == 0; i++) {
		char path[1024], safe[SANITIZE_PATH_MAX + 1]; /* raw for AFC; escaped, stored */
		int cut;
		struct file_info fi;
		const struct store_file_entry *known;
		char *buf = NULL;

		if (!strcmp(names[i], ".") || !strcmp(names[i], ".."))
			continue;
		if (cancelled(c)) {
			r = -ECANCELED;
			break;
		}
		if (join_path(path, sizeof(path), dir, names[i]) < 0)
			continue;
		e = stat_path(c->afc, path, &fi);
		if (e != AFC_E_SUCCESS) {
			if (afc_error_fatal(e)) {
				set_error(c->out, FETCH_ERROR, "cannot stat '%s': %s", path,
					  afc_error_name(e));
				r = -EPIPE;
			} else if (e != AFC_E_OBJECT_NOT_FOUND) {
				log_warn("fetch", "%s: cannot stat '%s': %s", c->udid, path,
					 afc_error_name(e));
			}
			continue;
		}
		if (fi.is_link)
			continue;
		if (fi.is_dir) {
			if (depth < FETCH_MAX_DEPTH)
				r = walk(c, p, path, depth + 1);
			continue;
		}
		if (!fi.is_reg || !wanted(names[i], p->collect_all))
			continue;
		sanitize_escape(path, strlen(path), safe, sizeof(safe), &cut);
		if (cut) {
			log_warn("fetch", "%s: '%.200s...': path over %d bytes escaped: skipped",
				 c->udid, safe, SANITIZE_PATH_MAX);
			continue;
		}
		known = store_file_index_find(&p->index, safe);
		if (known && known->size == fi.size && known->mtime_ns == fi.mtime_ns) {
			if (!known->removed && push_known(c->out, safe, &fi) < 0)
				r = -ENOMEM;
			continue;
		}
		if (fi.size <= 0)
			continue; /* being written, or nothing to keep */
		if ((size_t)fi.size > p->max_report_size) {
			log_warn("fetch", "%s: '%s' is larger than max_report_size (%lld bytes)",
				 c->udid, path, (long long)fi.size);
			continue;
		}
		r = download(c, path, &fi, &buf);
		if (r == -EIO) {
			c->out->n_failed++;
			r = 0;
			continue;
		}
		if (buf) {
			int k = keep_file(c, p, safe, &fi, buf);

			free(buf);
			if (k == -ENOMEM)
				r = k;
			else if (k < 0)
				c->out->n_failed++;
		}
		if (r == -EPIPE)
			set_error(c->out, FETCH_ERROR, "connection lost while reading '%s'", path);
		else if (r == -ECANCELED)
			cancelled(c);
	}
	afc_dictionary_free(names);
	return r;
}

void fetch_sync(const struct fetch_params *p, atomic_int *cancel, struct fetch_result *out)
{
	struct fetch_conn c = {
		.udid = p->udid, .network = p->network, .cancel = cancel, .out = out};
	int r;

	memset(out, 0, sizeof(*out));
	out->state = FETCH_OK;
	if (cancelled(&c))
		return;
	if (conn_open(&c, 1, 1, p->mover_timeout_ms) < 0) {
		conn_close(&c);
		return;
	}
	r = walk(&c, p, NULL, 0);
	conn_close(&c);
	if (r == -ENOMEM)
		set_error(out, FETCH_ERROR, "out of memory");
	if (out->state == FETCH_OK && out->n_failed)
		set_error(out, FETCH_ERROR, "%u report file(s) could not be fetched",
			  out->n_failed);
}

void fetch_remove(const char *udid, int network, struct fetch_known *v, size_t n,
		  atomic_int *cancel, struct fetch_result *out)
{
	struct fetch_conn c = {.udid = udid, .network = network, .cancel = cancel, .out = out};

	memset(out, 0, sizeof(*out));
	out->state = FETCH_OK;
	if (cancelled(&c))
		return;
	if (conn_open(&c, 0, 0, 0) < 0) {
		conn_close(&c);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char raw[1024]; /* v[i].path is escaped (sanitize_escape): AFC needs the bytes */
		struct file_info fi;
		afc_error_t e;

		if (cancelled(&c))
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
			if (afc_error_fatal(e)) {
				set_error(out, FETCH_ERROR, "cannot stat '%s': %s", v[i].path,
					  afc_error_name(e));
				break;
			}
			log_warn("fetch", "%s: cannot stat '%s': %s; kept", udid, v[i].path,
				 afc_error_name(e));
			continue;
		}
		if (!fi.is_reg || fi.size != v[i].size || fi.mtime_ns != v[i].mtime_ns) {
			log_info("fetch", "%s: '%s' changed since it was pulled; kept", udid,
				 v[i].path);
			continue;
		}
		e = afc_remove_path(c.afc, raw);
		if (e != AFC_E_SUCCESS) {
			if (afc_error_fatal(e)) {
				set_error(out, FETCH_ERROR, "cannot remove '%s': %s", v[i].path,
					  afc_error_name(e));
				break;
			}
			log_warn("fetch", "%s: cannot remove '%s': %s; kept", udid, v[i].path,
				 afc_error_name(e));
			continue;
		}
		v[i].removed = 1;
		log_debug("fetch", "%s: removed '%s' from the device", udid, v[i].path);
	}
	conn_close(&c);
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
