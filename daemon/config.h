/* config.h: jetsamd configuration: defaults < file < command line (pure, no uv.h) */
#ifndef JETSAMD_CONFIG_H
#define JETSAMD_CONFIG_H

#include <stddef.h>

#include "log.h" /* enum log_level */

enum config_collect {
	CONFIG_COLLECT_JETSAM, /* JetsamEvent* files only (default) */
	CONFIG_COLLECT_ALL,    /* every report file */
};

/* Every key is documented in config/jetsamd.conf; the key names are the field names. */
struct config {
	char *socket;	      /* socket = /run/jetsamd/jetsamd.sock */
	char *state_dir;      /* state_dir = /var/lib/jetsamd */
	char *usbmuxd_socket; /* usbmuxd_socket = UNIX:/path or HOST:PORT; NULL = libusbmuxd default
			       */
	enum log_level log_level;    /* log_level = err | warning | info | debug */
	unsigned resync_interval_s;  /* resync_interval = 60s (0 disables) */
	int remove_after_pull;	     /* remove_after_pull = no */
	enum config_collect collect; /* collect = jetsam | all */
	unsigned mover_timeout_ms;   /* mover_timeout = 10s */
	unsigned max_parallel_syncs; /* max_parallel_syncs = 3 (below UV_THREADPOOL_SIZE) */
	unsigned retry_min_s;	     /* retry_min = 2s: first retry after a failed sync */
	unsigned retry_max_s;	     /* retry_max = 300s: backoff cap */
	size_t max_report_size;	     /* max_report_size = 16M */
	size_t client_queue_max;     /* client_queue_max = 16M */
	unsigned max_clients;	     /* max_clients = 256 */
	/* client limits and authorization (ipc.c, api.c) */
	unsigned max_clients_per_uid;	/* max_clients_per_uid = 64 */
	unsigned client_idle_timeout_s; /* client_idle_timeout = 5m (0: never) */
	unsigned request_timeout_s;	/* request_timeout = 30s: to finish a request line */
	unsigned import_timeout_s;	/* import_timeout = 60s: to send an import's bytes */
	size_t reply_buffer_max;	/* reply_buffer_max = 8M, for all clients together */
	char admin_group[256];		/* admin_group = (none): may sync, import, reparse */
	/* lifecycle (issue 11) */
	unsigned sync_timeout_s;   /* sync_timeout = 10min: a sync ends in error after this */
	unsigned max_sync_depth;   /* max_sync_depth = 16: directory levels walked on a phone */
	unsigned max_sync_entries; /* max_sync_entries = 100000: entries walked per sync */
	/* max_events_per_report = 20000: the events past it are cut */
	size_t max_events_per_report;
	/* live detection (issue 13) */
	int live_detection; /* live_detection = yes: follow each phone's syslog_relay */
	/* the fleet (issue 14): shipping to PostgreSQL (config_fleet.c, fleet.c) */
	char fleet_conninfo[2048];  /* fleet_conninfo = (empty: off); no password in it */
	char fleet_passfile[1024];  /* fleet_passfile = (empty: libpq's default, PGPASSFILE) */
	char fleet_host_id[256];    /* fleet_host_id = (the hostname) */
	int fleet_ship_facts;	    /* fleet_ship_facts = no */
	int fleet_ship_raw;	    /* fleet_ship_raw = no */
	unsigned fleet_batch;	    /* fleet_batch = 1000: events per shipped batch */
	unsigned fleet_retry_max_s; /* fleet_retry_max = 60s: reconnect backoff cap */
	/* Prometheus metrics (issue 14): HOST:PORT of the HTTP listener; "" = off (the default).
	 * A listener passed by systemd (FileDescriptorName=metrics) wins. */
	char metrics_listen[280];
};

/* Fill with built-in defaults. Returns 0 or -ENOMEM. */
int config_init(struct config *c);
void config_release(struct config *c);
/* Set one key from text. On error returns -EINVAL and writes "key 'x': reason" into err. */
int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen);
/* Read a file over the current values. Errors name "file:line: key 'x': reason". */
int config_load_file(struct config *c, const char *path, char *err, size_t errlen);
/* Parse len bytes of config text named name (for messages) over the current values. */
int config_load_buffer(struct config *c, const char *name, const char *buf, size_t len, char *err,
		       size_t errlen);
/* Checks that span keys (retry_min <= retry_max). Returns 0 or -EINVAL with err set. */
int config_check(const struct config *c, char *err, size_t errlen);
/*
 * config_fleet.c (libpq): fleet_conninfo must parse as a libpq conninfo or URI and hold no
 * password (credentials come from fleet_passfile or PGPASSFILE). 0 or -EINVAL with err set.
 */
int config_fleet_check(const struct config *c, char *err, size_t errlen);
/* Names of values, for messages: "jetsam", "all" (log levels: log_level_name() in log.h) */
const char *config_collect_name(enum config_collect collect);
/* Deep copy (for SIGHUP reload: parse into a copy, swap only when valid). */
int config_copy(struct config *dst, const struct config *src);

#endif
