/* fetch_internal.h: what fetch.c (walk, download, remove) and fetch_conn.c (connect) share */
#ifndef JETSAMD_FETCH_INTERNAL_H
#define JETSAMD_FETCH_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include <libimobiledevice/afc.h>
#include <libimobiledevice/libimobiledevice.h>

#include "fetch.h"

#define FETCH_LABEL    "jetsamd"
#define FETCH_MOVER    "com.apple.crashreportmover"
#define FETCH_COPY     "com.apple.crashreportcopymobile"
#define FETCH_CHUNK    (256u * 1024u)
#define FETCH_SLICE_MS 250u /* longest wait between two looks at the cancel flag */

/* One open connection to a phone: device, then AFC on crashreportcopymobile. */
struct fetch_conn {
	const char *udid;
	int network;
	atomic_int *cancel;
	struct fetch_abort *abort; /* may be NULL */
	uint64_t deadline_ms;	   /* 0 = none */
	unsigned entries;	   /* directory entries looked at so far */
	unsigned too_deep;	   /* directories skipped below max_depth */
	idevice_t dev;
	afc_client_t afc;
	int afc_fd; /* registered in abort, or -1 */
	struct fetch_result *out;
};

/* Record the outcome st with a message (replaces an earlier one). */
void fetch_set_error(struct fetch_result *out, enum fetch_state st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* 1 when the job must stop (cancel flag, abort, or its deadline), with out->state set. */
int fetch_cancelled(struct fetch_conn *c);
const char *fetch_afc_error_name(afc_error_t e);
/* 1 for AFC errors that mean the connection is gone. */
int fetch_afc_error_fatal(afc_error_t e);
/*
 * Connect: device, lockdown (name and versions into c->out when with_info), the mover
 * (when with_mover, waiting at most mover_ms), then AFC. Returns 0, or -1 with c->out set.
 */
int fetch_conn_open(struct fetch_conn *c, int with_info, int with_mover, unsigned mover_ms);
void fetch_conn_close(struct fetch_conn *c);

#endif
