/* store_durable.c: the store's worker side: fsync of its files, checkpoints off the loop */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "durable.h"
#include "log.h"
#include "store.h"

/* <state_dir>/jetsamd.db and its log; 0 or -ENAMETOOLONG */
static int db_paths(const char *state_dir, char db[PATH_MAX], char wal[PATH_MAX])
{
	if (snprintf(db, PATH_MAX, "%s/jetsamd.db", state_dir) >= PATH_MAX ||
	    snprintf(wal, PATH_MAX, "%s/jetsamd.db-wal", state_dir) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int store_sync_durable(const char *state_dir)
{
	char db[PATH_MAX], wal[PATH_MAX];
	int r;

	if ((r = db_paths(state_dir, db, wal)) < 0)
		return r;
	/* first the log, where the commits are; then what a checkpoint may have copied */
	r = durable_fsync_path(wal);
	if (r < 0 && r != -ENOENT) {
		log_err("store", "cannot fsync '%s': %s", wal, strerror(-r));
		return r;
	}
	/* no log: no connection is open and the database file holds every commit */
	r = durable_fsync_path(db);
	if (r == 0)
		r = durable_fsync_dir(state_dir);
	if (r < 0)
		log_err("store", "cannot make '%s' durable: %s", db, strerror(-r));
	return r;
}

int store_checkpoint(const char *state_dir, int64_t min_wal_bytes, int *frames)
{
	char db[PATH_MAX], wal[PATH_MAX];
	sqlite3 *h = NULL;
	struct stat st;
	int n_log = 0, n_done = 0, rc, r;

	if (frames)
		*frames = 0;
	if ((r = db_paths(state_dir, db, wal)) < 0)
		return r;
	if (stat(wal, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if ((int64_t)st.st_size < min_wal_bytes)
		return 0;
	/* a private connection: the loop's struct store is not for this thread */
	rc = sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(h, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_wal_checkpoint_v2(h, NULL, SQLITE_CHECKPOINT_PASSIVE, &n_log, &n_done);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
		log_err("store", "cannot checkpoint '%s': %s", db,
			h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
		r = -EIO;
	} else {
		log_debug("store", "checkpoint: %d of %d log frames in the database", n_done,
			  n_log);
		if (frames)
			*frames = n_done;
	}
	sqlite3_close(h);
	return r;
}
