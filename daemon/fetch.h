/* fetch.h: blocking per-phone jobs (pull reports, remove pulled ones) run on the thread pool */
#ifndef JETSAMD_FETCH_H
#define JETSAMD_FETCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "fetch_abort.h"
#include "fileindex.h"

/*
 * The only file besides devwatch.c that calls libimobiledevice. Every function here blocks
 * and runs on a libuv worker thread; inputs and outputs are plain values owned by the job,
 * never pointers into loop-owned objects. Library error enums are mapped once, here, into
 * enum fetch_state plus a message. The cancel flag, the deadline and the entry budget are
 * checked between blocking steps; each library call is bounded by libimobiledevice's own
 * reply timeout (30 s in 1.3.0), by mover_timeout for the mover ping, or ends at once when
 * the loop cuts the job's sockets (struct fetch_abort).
 */

enum fetch_state {
	FETCH_OK,	 /* the whole tree was walked; every candidate was fetched or known */
	FETCH_LOCKED,	 /* passcode lock (lockdown PasswordProtected) */
	FETCH_UNTRUSTED, /* pairing pending, denied or invalid */
	FETCH_ERROR,	 /* anything else: see error */
	FETCH_GONE,	 /* usbmuxd does not know the phone (any more) */
	FETCH_CANCELLED, /* the cancel flag was seen, or the connection was cut */
};

/*
 * A downloaded file, on the worker: path (relative to the crash directory), its AFC size
 * and mtime and the whole content. Returns 0 when kept; -ENOMEM stops the walk, any other
 * negative errno counts the file as failed.
 */
typedef int (*fetch_file_cb)(void *arg, const char *path, int64_t size, int64_t mtime_ns,
			     const void *buf);

struct fetch_params {
	char udid[44];
	char *state_dir; /* owned */
	int collect_all;
	int network; /* reach the phone over the network (usbmuxd lists it as Network) */
	unsigned mover_timeout_ms;
	size_t max_report_size;
	struct store_file_index index; /* owned deep copy of the phone's file index */
	fetch_file_cb file_cb;	       /* each new file (the caller archives and parses it) */
	void *file_arg;
	struct fetch_abort *abort; /* may be NULL */
	uint64_t deadline_ms;	   /* clock_now_ms() when the sync must end; 0 = none */
	unsigned max_depth;	   /* directory levels below the crash directory (0 = none) */
	unsigned max_entries;	   /* directory entries looked at per sync (0 = no limit) */
};

struct fetch_known {
	char *path;
	int64_t size, mtime_ns;
	int removed; /* remove job: set when the phone copy is gone */
};

struct fetch_result {
	enum fetch_state state;
	char *error;				   /* NULL when FETCH_OK and no file failed */
	char *name, *product, *os_version, *build; /* from lockdown; NULL when unknown */
	size_t n_files;				   /* downloaded and kept by file_cb */
	struct fetch_known *known; /* candidates already in the index (not re-downloaded) */
	size_t n_known;
	unsigned n_failed; /* candidates that could not be fetched (each logged) */
	uint64_t bytes;	   /* file bytes read over AFC */
};

/* Walk the phone's crash directory and download its new reports into p->file_cb. */
void fetch_sync(const struct fetch_params *p, atomic_int *cancel, struct fetch_result *out);

/*
 * Remove v[i].path from the phone when its size and mtime still match; sets v[i].removed.
 * The caller has made the commits of these files durable first. out->state/error say how
 * the connection went.
 */
void fetch_remove(const char *udid, int network, struct fetch_known *v, size_t n,
		  atomic_int *cancel, struct fetch_abort *ab, struct fetch_result *out);

void fetch_params_release(struct fetch_params *p);
void fetch_result_release(struct fetch_result *r);
const char *fetch_state_name(enum fetch_state s);

#endif
