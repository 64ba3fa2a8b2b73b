/* fetch_conn.c: connecting to a phone (lockdown, mover, AFC); library errors mapped once */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libimobiledevice/afc.h>
#include <libimobiledevice/libimobiledevice.h>
#include <libimobiledevice/lockdown.h>
#include <libimobiledevice/service.h>
#include <plist/plist.h>

#include "../proto/sanitize.h"
#include "clock.h"
#include "fetch_idev.h"
#include "fetch_internal.h"
#include "log.h"

void fetch_set_error(struct fetch_result *out, enum fetch_state st, const char *fmt, ...)
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

int fetch_cancelled(struct fetch_conn *c)
{
	if (c->deadline_ms && clock_now_ms() >= c->deadline_ms && !atomic_load(c->cancel)) {
		fetch_set_error(c->out, FETCH_ERROR, "sync stopped at its deadline (sync_timeout)");
		return 1;
	}
	if (atomic_load(c->cancel) || fetch_abort_is_set(c->abort)) {
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
		fetch_set_error(out, FETCH_LOCKED, "device is locked (%s: password protected)",
				what);
		break;
	case LOCKDOWN_E_PAIRING_DIALOG_RESPONSE_PENDING:
		fetch_set_error(out, FETCH_UNTRUSTED, "pairing pending");
		break;
	case LOCKDOWN_E_USER_DENIED_PAIRING:
		fetch_set_error(out, FETCH_UNTRUSTED, "pairing denied");
		break;
	case LOCKDOWN_E_INVALID_HOST_ID:
	case LOCKDOWN_E_MISSING_HOST_ID:
	case LOCKDOWN_E_PAIRING_FAILED:
	case LOCKDOWN_E_INVALID_PAIR_RECORD:
	case LOCKDOWN_E_MISSING_PAIR_RECORD:
	case LOCKDOWN_E_SAVE_PAIR_RECORD_FAILED:
	case LOCKDOWN_E_PAIRING_PROHIBITED_OVER_THIS_CONNECTION:
		fetch_set_error(out, FETCH_UNTRUSTED, "pairing pending (%s: lockdown error %d)",
				what, (int)e);
		break;
	case LOCKDOWN_E_MUX_ERROR:
		fetch_set_error(out, FETCH_ERROR,
				"%s: cannot connect to the device (lockdown error %d)", what,
				(int)e);
		break;
	case LOCKDOWN_E_RECEIVE_TIMEOUT:
		fetch_set_error(out, FETCH_ERROR, "%s: device did not answer in time", what);
		break;
	default:
		fetch_set_error(out, FETCH_ERROR, "%s: lockdown error %d", what, (int)e);
		break;
	}
}

const char *fetch_afc_error_name(afc_error_t e)
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
int fetch_afc_error_fatal(afc_error_t e)
{
	return e == AFC_E_MUX_ERROR || e == AFC_E_NOT_ENOUGH_DATA || e == AFC_E_OP_TIMEOUT ||
	       e == AFC_E_IO_ERROR || e == AFC_E_SERVICE_NOT_CONNECTED ||
	       e == AFC_E_OP_HEADER_INVALID || e == AFC_E_NO_MEM;
}

/* ---- connection set-up ---- */

/* s bounded and escaped to valid UTF-8 (proto/sanitize.h); NULL if s is NULL */
static char *sanitized(const char *s, const char *key)
{
	size_t cap = strcmp(key, "DeviceName") == 0 ? SANITIZE_NAME_MAX : SANITIZE_FIELD_MAX;
	char *safe = NULL;

	if (s != NULL && (safe = malloc(cap + 1)) != NULL)
		sanitize_escape(s, strlen(s), safe, cap + 1, NULL);
	return safe;
}

/* A lockdown string, sanitized; NULL if none */
static char *get_string(lockdownd_client_t ld, const char *key)
{
	plist_t node = NULL;
	char *s = NULL, *safe;

	if (lockdownd_get_value(ld, NULL, key, &node) == LOCKDOWN_E_SUCCESS && node &&
	    plist_get_node_type(node) == PLIST_STRING)
		plist_get_string_val(node, &s);
	if (node)
		plist_free(node);
	safe = sanitized(s, key);
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
	int sc_fd = -1;

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
	if (fetch_idev_service(c->dev, svc, c->abort, &sc, &sc_fd) != SERVICE_E_SUCCESS) {
		lockdownd_service_descriptor_free(svc);
		log_warn("fetch", "%s: cannot connect to '" FETCH_MOVER "'; copying without moving",
			 c->udid);
		return 0;
	}
	lockdownd_service_descriptor_free(svc);
	while (got < 5) {
		uint64_t t = clock_now_ms();
		unsigned slice;

		if (fetch_cancelled(c)) {
			fetch_abort_del(c->abort, sc_fd);
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
	fetch_abort_del(c->abort, sc_fd);
	service_client_free(sc);
	return 0;
}

/*
 * device → lockdown handshake → (info, mover) → crashreportcopymobile → AFC. Every TLS
 * handshake runs on a blocking socket (fetch_idev.h).
 * Returns 0 with c->afc set, or -1 with c->out->state/error set.
 */
int fetch_conn_open(struct fetch_conn *c, int with_info, int with_mover, unsigned mover_ms)
{
	lockdownd_client_t ld = NULL;
	lockdownd_service_descriptor_t svc = NULL;
	lockdownd_error_t le;
	idevice_error_t ie;
	afc_error_t ae;
	char *version = NULL;
	int ld_fd = -1;

	ie = idevice_new_with_options(&c->dev, c->udid,
				      c->network ? IDEVICE_LOOKUP_NETWORK : IDEVICE_LOOKUP_USBMUX);
	if (ie != IDEVICE_E_SUCCESS) {
		c->dev = NULL;
		if (ie == IDEVICE_E_NO_DEVICE)
			fetch_set_error(c->out, FETCH_GONE, "device not found by usbmuxd");
		else
			fetch_set_error(c->out, FETCH_ERROR, "cannot open device (error %d)",
					(int)ie);
		return -1;
	}
	if (fetch_cancelled(c))
		return -1;
	le = fetch_idev_lockdown(c->dev, FETCH_LABEL, c->abort, &ld, &ld_fd, &version);
	if (le != LOCKDOWN_E_SUCCESS) {
		map_lockdown_error(c->out, "lockdown handshake", le);
		return -1;
	}
	if (with_info) {
		c->out->name = get_string(ld, "DeviceName");
		c->out->product = get_string(ld, "ProductType");
		c->out->os_version = version ? sanitized(version, "ProductVersion")
					     : get_string(ld, "ProductVersion");
		c->out->build = get_string(ld, "BuildVersion");
	}
	free(version);
	if (fetch_cancelled(c))
		goto fail;
	if (with_mover && run_mover(c, ld, mover_ms) < 0)
		goto fail;
	le = lockdownd_start_service(ld, FETCH_COPY, &svc);
	if (le != LOCKDOWN_E_SUCCESS) {
		map_lockdown_error(c->out, "start '" FETCH_COPY "'", le);
		goto fail;
	}
	fetch_abort_del(c->abort, ld_fd);
	lockdownd_client_free(ld);
	ld = NULL;
	if (fetch_cancelled(c)) {
		lockdownd_service_descriptor_free(svc);
		return -1;
	}
	ae = fetch_idev_afc(c->dev, svc, c->abort, &c->afc, &c->afc_fd);
	lockdownd_service_descriptor_free(svc);
	if (ae != AFC_E_SUCCESS) {
		c->afc = NULL;
		fetch_set_error(c->out, FETCH_ERROR,
				"cannot connect to '" FETCH_COPY "' (afc error %d)", (int)ae);
		return -1;
	}
	return 0;
fail:
	fetch_abort_del(c->abort, ld_fd);
	if (ld)
		lockdownd_client_free(ld);
	return -1;
}

void fetch_conn_close(struct fetch_conn *c)
{
	fetch_abort_del(c->abort, c->afc_fd);
	c->afc_fd = -1;
	if (c->afc)
		afc_client_free(c->afc);
	if (c->dev)
		idevice_free(c->dev);
	c->afc = NULL;
	c->dev = NULL;
}
