/* fleet_pg.c: the fleet thread's libpq code: connect with bounded waits, migrate, ship a batch */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet_pg.h"
#include "fleetschema.h"
#include "log.h"
#include "pqlib.h"

/* fleet/README.md "Shipping: the SQL jetsamd runs", verbatim (tests/integration runs both) */
static const char sql_stage[] =
	"CREATE TEMP TABLE IF NOT EXISTS jetsam_stage_devices "
	"(LIKE devices INCLUDING DEFAULTS, stage_seq bigint GENERATED ALWAYS AS IDENTITY) "
	"ON COMMIT DELETE ROWS; "
	"CREATE TEMP TABLE IF NOT EXISTS jetsam_stage_reports "
	"(LIKE reports INCLUDING DEFAULTS, stage_seq bigint GENERATED ALWAYS AS IDENTITY) "
	"ON COMMIT DELETE ROWS; "
	"CREATE TEMP TABLE IF NOT EXISTS jetsam_stage_events "
	"(LIKE events INCLUDING DEFAULTS, stage_seq bigint GENERATED ALWAYS AS IDENTITY) "
	"ON COMMIT DELETE ROWS; ";
static const char sql_host[] =
	"INSERT INTO hosts AS h (host_id, hostname, daemon) VALUES ($1, $2, $3) "
	"ON CONFLICT (host_id) DO UPDATE "
	"SET hostname = EXCLUDED.hostname, daemon = EXCLUDED.daemon, last_seen = now(); ";
static const char *const sql_copy[FLEET__TABLES] = {
	"COPY jetsam_stage_devices (host_id, udid, name, product, os_version, build, connection, "
	"attached, state, error, first_seen, last_seen, last_sync, reports) FROM STDIN",
	"COPY jetsam_stage_reports (host_id, key, incident, udid, path, size, sha256, status, "
	"error, variant, product, os_version, build, timestamp, time, n_events, collected_at, "
	"removed_from_device, facts, raw) FROM STDIN",
	"COPY jetsam_stage_events (host_id, report_key, seq, udid, product, os_version, build, "
	"time, process, pid, uuid, reason, role, priority, rpages, page_size, footprint_bytes, "
	"limit_bytes, lifetime_max_pages, event) FROM STDIN",
};
static const char sql_merge[] =
	"INSERT INTO devices AS d (host_id, udid, name, product, os_version, build, connection, "
	"attached, state, error, first_seen, last_seen, last_sync, reports) "
	"SELECT DISTINCT ON (host_id, udid) host_id, udid, name, product, os_version, build, "
	"connection, attached, state, error, first_seen, last_seen, last_sync, reports "
	"FROM jetsam_stage_devices ORDER BY host_id, udid, stage_seq DESC "
	"ON CONFLICT (host_id, udid) DO UPDATE SET "
	"name = EXCLUDED.name, product = EXCLUDED.product, os_version = EXCLUDED.os_version, "
	"build = EXCLUDED.build, connection = EXCLUDED.connection, attached = EXCLUDED.attached, "
	"state = EXCLUDED.state, error = EXCLUDED.error, "
	"first_seen = least(d.first_seen, EXCLUDED.first_seen), last_seen = EXCLUDED.last_seen, "
	"last_sync = EXCLUDED.last_sync, reports = EXCLUDED.reports, shipped_at = now(); "
	" "
	"INSERT INTO reports AS r (host_id, key, incident, udid, path, size, sha256, status, "
	"error, "
	"variant, product, os_version, build, timestamp, time, n_events, collected_at, "
	"removed_from_device, facts, raw) "
	"SELECT DISTINCT ON (host_id, key) host_id, key, incident, udid, path, size, sha256, "
	"status, "
	"error, variant, product, os_version, build, timestamp, time, n_events, collected_at, "
	"removed_from_device, facts, raw "
	"FROM jetsam_stage_reports ORDER BY host_id, key, stage_seq DESC "
	"ON CONFLICT (host_id, key) DO UPDATE SET "
	"incident = EXCLUDED.incident, udid = EXCLUDED.udid, path = EXCLUDED.path, "
	"size = EXCLUDED.size, sha256 = EXCLUDED.sha256, status = EXCLUDED.status, "
	"error = EXCLUDED.error, variant = EXCLUDED.variant, product = EXCLUDED.product, "
	"os_version = EXCLUDED.os_version, build = EXCLUDED.build, "
	"timestamp = EXCLUDED.timestamp, time = EXCLUDED.time, n_events = EXCLUDED.n_events, "
	"collected_at = EXCLUDED.collected_at, removed_from_device = EXCLUDED.removed_from_device, "
	"facts = coalesce(EXCLUDED.facts, r.facts), raw = coalesce(EXCLUDED.raw, r.raw), "
	"shipped_at = now(); "
	" "
	"DELETE FROM events e "
	"USING (SELECT DISTINCT ON (host_id, key) host_id, key, n_events "
	"FROM jetsam_stage_reports ORDER BY host_id, key, stage_seq DESC) s "
	"WHERE e.host_id = s.host_id AND e.report_key = s.key AND e.seq >= s.n_events; "
	" "
	"INSERT INTO events AS e (host_id, report_key, seq, udid, product, os_version, build, "
	"time, "
	"process, pid, uuid, reason, role, priority, rpages, page_size, footprint_bytes, "
	"limit_bytes, lifetime_max_pages, event) "
	"SELECT DISTINCT ON (host_id, report_key, seq) host_id, report_key, seq, udid, product, "
	"os_version, build, time, process, pid, uuid, reason, role, priority, rpages, page_size, "
	"footprint_bytes, limit_bytes, lifetime_max_pages, event "
	"FROM jetsam_stage_events ORDER BY host_id, report_key, seq, stage_seq DESC "
	"ON CONFLICT (host_id, report_key, seq) DO UPDATE SET "
	"udid = EXCLUDED.udid, product = EXCLUDED.product, os_version = EXCLUDED.os_version, "
	"build = EXCLUDED.build, time = EXCLUDED.time, process = EXCLUDED.process, "
	"pid = EXCLUDED.pid, uuid = EXCLUDED.uuid, reason = EXCLUDED.reason, role = EXCLUDED.role, "
	"priority = EXCLUDED.priority, rpages = EXCLUDED.rpages, page_size = EXCLUDED.page_size, "
	"footprint_bytes = EXCLUDED.footprint_bytes, limit_bytes = EXCLUDED.limit_bytes, "
	"lifetime_max_pages = EXCLUDED.lifetime_max_pages, event = EXCLUDED.event; ";

struct fleet_pg {
	PGconn *conn;
	char conninfo[2048], passfile[1024], host_id[256], hostname[256], daemon[64];
	int warned_newer;
};

static void copy_text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

struct fleet_pg *fleet_pg_new(const struct fleet_pg_conf *conf)
{
	struct fleet_pg *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	copy_text(p->conninfo, sizeof(p->conninfo), conf->conninfo);
	copy_text(p->passfile, sizeof(p->passfile), conf->passfile);
	copy_text(p->host_id, sizeof(p->host_id), conf->host_id);
	copy_text(p->hostname, sizeof(p->hostname), conf->hostname);
	copy_text(p->daemon, sizeof(p->daemon), conf->daemon);
	return p;
}

void fleet_pg_free(struct fleet_pg *p)
{
	if (p == NULL)
		return;
	if (p->conn)
		PQfinish(p->conn);
	free(p);
}

int fleet_pg_connected(const struct fleet_pg *p)
{
	return p->conn != NULL && PQstatus(p->conn) == CONNECTION_OK;
}

int fleet_pg_params(const struct fleet_pg_conf *conf, const char **keys, const char **values, int n)
{
	static const char *const fixed[][2] = {
		{"connect_timeout", "10"},
		{"keepalives", "1"},
		{"keepalives_idle", "30"},
		{"keepalives_interval", "10"},
		{"keepalives_count", "3"},
		{"application_name", "jetsamd"},
		{"options", "-c statement_timeout=60000"},
	};
	int k = 0;

	if (n < (int)(sizeof(fixed) / sizeof(fixed[0])) + 3)
		return -ENOSPC;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		keys[k] = fixed[i][0];
		values[k++] = fixed[i][1];
	}
	keys[k] = "dbname"; /* expanded: a conninfo or URI */
	values[k++] = conf->conninfo;
	if (conf->passfile && conf->passfile[0]) {
		keys[k] = "passfile";
		values[k++] = conf->passfile;
	}
	keys[k] = values[k] = NULL;
	return k;
}

/* err = what + libpq's message (its trailing newline cut); -EIO */
static int pg_err(struct fleet_pg *p, const PGresult *res, const char *what, char *err,
		  size_t errlen)
{
	const char *m = res ? PQresultErrorMessage(res) : NULL;
	size_t n;

	if (m == NULL || m[0] == '\0')
		m = p->conn ? PQerrorMessage(p->conn) : "not connected";
	snprintf(err, errlen, "%s: %s", what, m);
	/* one line: libpq's messages hold newlines and tabs */
	for (char *c = err; *c; c++)
		if (*c == '\n' || *c == '\t' || *c == '\r')
			*c = ' ';
	n = strlen(err);
	while (n > 0 && err[n - 1] == ' ')
		err[--n] = '\0';
	return -EIO;
}

/* Run sql (no parameters, maybe many statements); its last result must be want. */
static int run(struct fleet_pg *p, const char *sql, ExecStatusType want, const char *what,
	       char *err, size_t errlen)
{
	PGresult *res = PQexec(p->conn, sql);
	int r = PQresultStatus(res) == want ? 0 : pg_err(p, res, what, err, errlen);

	PQclear(res);
	return r;
}

/* The database's schema version (0: none yet). */
static int db_version(struct fleet_pg *p, int *v, char *err, size_t errlen)
{
	PGresult *res = PQexec(p->conn, "SELECT to_regclass('jetsam_schema_version') IS NULL");
	int none, r = 0;

	*v = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		r = pg_err(p, res, "schema version", err, errlen);
	none = r == 0 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (r < 0 || none)
		return r;
	res = PQexec(p->conn, "SELECT coalesce(max(version), 0) FROM jetsam_schema_version");
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		*v = atoi(PQgetvalue(res, 0, 0));
	else
		r = pg_err(p, res, "schema version", err, errlen);
	PQclear(res);
	return r;
}

/* fleet/README.md "Applying them": every built-in file newer than the database. */
static int migrate(struct fleet_pg *p, char *err, size_t errlen)
{
	const struct fleet_schema_file *last = &fleet_schema_files[fleet_schema_count - 1];
	int v, r = db_version(p, &v, err, errlen);

	for (unsigned i = 0; r == 0 && i < fleet_schema_count; i++) {
		if (fleet_schema_files[i].version <= v)
			continue;
		log_info("fleet", "applying schema %s", fleet_schema_files[i].name);
		r = run(p, fleet_schema_files[i].sql, PGRES_COMMAND_OK, fleet_schema_files[i].name,
			err, errlen);
	}
	if (r == 0 && v > last->version && !p->warned_newer) {
		log_warn("fleet", "the fleet schema is version %d, newer than this jetsamd's %d", v,
			 last->version);
		p->warned_newer = 1;
	}
	return r;
}

static void disconnect(struct fleet_pg *p)
{
	if (p->conn)
		PQfinish(p->conn);
	p->conn = NULL;
}

static int connect_db(struct fleet_pg *p, char *err, size_t errlen)
{
	const char *keys[16], *values[16];
	struct fleet_pg_conf conf = {p->conninfo, p->passfile, p->host_id, p->hostname, p->daemon};
	int r;

	if (fleet_pg_connected(p))
		return 0;
	disconnect(p);
	if (pqlib_load(err, errlen) < 0)
		return -EIO;
	fleet_pg_params(&conf, keys, values, 16);
	p->conn = PQconnectdbParams(keys, values, 1);
	if (p->conn == NULL) {
		snprintf(err, errlen, "connect: out of memory");
		return -ENOMEM;
	}
	if (PQstatus(p->conn) != CONNECTION_OK)
		r = pg_err(p, NULL, "connect", err, errlen);
	else if ((r = migrate(p, err, errlen)) == 0)
		r = run(p, sql_stage, PGRES_COMMAND_OK, "staging tables", err, errlen);
	if (r < 0) {
		disconnect(p);
		return r;
	}
	log_info("fleet", "connected to PostgreSQL %d (host id '%s')",
		 PQserverVersion(p->conn) / 10000, p->host_id);
	return 0;
}

static int copy_table(struct fleet_pg *p, int t, const struct fleet_buf *buf, char *err,
		      size_t errlen)
{
	PGresult *res;
	int r;

	if (buf->len == 0)
		return 0;
	if ((r = run(p, sql_copy[t], PGRES_COPY_IN, "copy", err, errlen)) < 0)
		return r;
	if (PQputCopyData(p->conn, buf->data, (int)buf->len) != 1 ||
	    PQputCopyEnd(p->conn, NULL) != 1)
		return pg_err(p, NULL, "copy data", err, errlen);
	while ((res = PQgetResult(p->conn)) != NULL) {
		if (r == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
			r = pg_err(p, res, "copy", err, errlen);
		PQclear(res);
	}
	return r;
}

static int ship_tx(struct fleet_pg *p, const struct fleet_batch *b, char *err, size_t errlen)
{
	const char *params[3] = {p->host_id, p->hostname, p->daemon};
	PGresult *res;
	int r = run(p, "BEGIN", PGRES_COMMAND_OK, "begin", err, errlen);

	if (r < 0)
		return r;
	res = PQexecParams(p->conn, sql_host, 3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		r = pg_err(p, res, "hosts row", err, errlen);
	PQclear(res);
	for (int t = 0; r == 0 && t < FLEET__TABLES; t++)
		r = copy_table(p, t, &b->copy[t], err, errlen);
	if (r == 0)
		r = run(p, sql_merge, PGRES_COMMAND_OK, "merge", err, errlen);
	if (r == 0)
		r = run(p, "COMMIT", PGRES_COMMAND_OK, "commit", err, errlen);
	return r;
}

int fleet_pg_ship(struct fleet_pg *p, const struct fleet_batch *b, char *err, size_t errlen)
{
	int r = connect_db(p, err, errlen);

	if (r == 0)
		r = ship_tx(p, b, err, errlen);
	if (r < 0)
		disconnect(p); /* a failed transaction is never reused: start over */
	return r;
}
