/* fleet.c: jetsamctl --fleet: the limits, events and devices replies read from a PostgreSQL fleet
 * store */
#include <ctype.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "cmd.h"
#include "fleet.h"
#include "output.h"

struct fleet {
	PGconn *pg;
};

/*
 * libpq is loaded when --fleet is used, not linked: linked, its dependencies (GSSAPI, LDAP,
 * OpenSSL, ...) made every jetsamctl start 4 to 5 times slower. Its soname has been
 * libpq.so.5 since PostgreSQL 8.3; the types come from libpq-fe.h.
 */
#define FLEET_LIBPQ "libpq.so.5"
#define FLEET_PQ_FUNCS(X)                                                                          \
	X(PQconninfoParse)                                                                         \
	X(PQconninfoFree)                                                                          \
	X(PQfreemem)                                                                               \
	X(PQconnectdbParams)                                                                       \
	X(PQstatus)                                                                                \
	X(PQerrorMessage)                                                                          \
	X(PQfinish)                                                                                \
	X(PQexecParams)                                                                            \
	X(PQresultStatus)                                                                          \
	X(PQntuples)                                                                               \
	X(PQgetisnull)                                                                             \
	X(PQgetvalue)                                                                              \
	X(PQclear)

static struct {
#define FLEET_PQ_FIELD(name) __typeof__(&name) name;
	FLEET_PQ_FUNCS(FLEET_PQ_FIELD)
#undef FLEET_PQ_FIELD
	int loaded;
} pq;

/* Load libpq once: 0, or CTL_EXIT_ERROR after a message */
static int fleet_libpq(void)
{
	void *h, *sym;

	if (pq.loaded)
		return 0;
	h = dlopen(FLEET_LIBPQ, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		ctl_error("--fleet needs libpq (Debian package libpq5): %s", dlerror());
		return CTL_EXIT_ERROR;
	}
#define FLEET_PQ_LOAD(name)                                                                        \
	if ((sym = dlsym(h, #name)) == NULL) {                                                     \
		ctl_error("--fleet: %s has no %s", FLEET_LIBPQ, #name);                            \
		return CTL_EXIT_ERROR;                                                             \
	}                                                                                          \
	memcpy(&pq.name, &sym, sizeof(sym));
	FLEET_PQ_FUNCS(FLEET_PQ_LOAD)
#undef FLEET_PQ_LOAD
	pq.loaded = 1;
	return 0;
}

/* A timestamptz column as the protocol's TIME (ISO-8601 UTC, seconds) */
#define ISO(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* The members of the daemon's objects in its order (PROTOCOL.md); the fleet's own ones
 * (host_id, hosts) come after the daemon's nearest member */
static const char *const limit_keys[] = {
	"product",   "product_name", "os_version", "build",  "role", "count",
	"phones",    "hosts",	     "min",	   "median", "max",  "first_seen",
	"last_seen", "processes",    "drift",	   NULL,
};
static const char *const device_keys[] = {
	"udid",	      "name",	  "product", "product_name", "os_version", "build",
	"connection", "attached", "state",   "error",	     "first_seen", "last_seen",
	"last_sync",  "reports",  "host_id", NULL,
};
static const char *const event_keys[] = {
	"process",	"pid",
	"uuid",		"reason",
	"role",		"states",
	"priority",	"rpages",
	"page_size",	"footprint_bytes",
	"limit_bytes",	"lifetime_max_pages",
	"report_id",	"udid",
	"incident",	"product",
	"os_version",	"build",
	"timestamp",	"time",
	"collected_at", "seq",
	"product_name", "host_id",
	NULL,
};

static const char *const fleet_commands[] = {"limits", "limit", "events", "devices",
					     "help",   "parse", NULL};

int fleet_command_ok(const char *name)
{
	const char *const *c;

	for (c = fleet_commands; *c != NULL; c++)
		if (strcmp(*c, name) == 0)
			return 1;
	return 0;
}

int fleet_check_conninfo(const char *conninfo)
{
	PQconninfoOption *opts, *o;
	char *err = NULL;
	int r = fleet_libpq();

	if (r != 0)
		return r;
	opts = pq.PQconninfoParse(conninfo, &err);
	if (opts == NULL) {
		/* not a usage error: like an unreachable daemon (the connect would fail) */
		pq.PQfreemem(err);
		return 0;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL && *o->val != '\0') {
			ctl_usage_error(NULL, "--fleet: the conninfo holds a password: put it in "
					      "~/.pgpass or the file PGPASSFILE names, not on the "
					      "command line");
			r = CTL_EXIT_USAGE;
		}
	}
	pq.PQconninfoFree(opts);
	return r;
}

/* libpq's message without its trailing newline, its lines joined by "; " */
static void fleet_say(const char *what, const char *conninfo, const char *msg)
{
	char buf[1024];
	size_t i, n = 0;

	for (i = 0; msg != NULL && msg[i] != '\0' && n + 3 < sizeof(buf); i++) {
		if (msg[i] == '\n') {
			while (msg[i + 1] == '\t' || msg[i + 1] == ' ')
				i++;
			if (msg[i + 1] != '\0') {
				buf[n++] = ';';
				buf[n++] = ' ';
			}
		} else {
			buf[n++] = msg[i];
		}
	}
	buf[n] = '\0';
	ctl_error("%s the fleet database '%s': %s", what, conninfo, buf);
}

/* Run sql with its text parameters: the rows, or NULL after a message */
static PGresult *fleet_exec(struct ctl *ctl, const char *sql, int nparams,
			    const char *const *params)
{
	PGresult *res = pq.PQexecParams(ctl->fleet->pg, sql, nparams, NULL, params, NULL, NULL, 0);

	if (pq.PQresultStatus(res) != PGRES_TUPLES_OK) {
		fleet_say("query failed on", ctl->fleet_conninfo,
			  pq.PQerrorMessage(ctl->fleet->pg));
		pq.PQclear(res);
		return NULL;
	}
	return res;
}

/* The database has the jetsamd schema at FLEET_SCHEMA_MIN or later: CTL_EXIT_OK, else
 * CTL_EXIT_ERROR after a message */
static int fleet_check_schema(struct ctl *ctl)
{
	PGresult *res = fleet_exec(
		ctl, "SELECT CASE WHEN to_regclass('jetsam_schema_version') IS NULL THEN -1 END", 0,
		NULL);
	int version;

	if (res == NULL)
		return CTL_EXIT_ERROR;
	version = pq.PQgetisnull(res, 0, 0) ? 0 : -1;
	pq.PQclear(res);
	if (version == 0) {
		res = fleet_exec(ctl, "SELECT coalesce(max(version), 0) FROM jetsam_schema_version",
				 0, NULL);
		if (res == NULL)
			return CTL_EXIT_ERROR;
		version = atoi(pq.PQgetvalue(res, 0, 0));
		pq.PQclear(res);
	}
	if (version < 0) {
		ctl_error("the fleet database '%s' has no jetsamd schema (no table "
			  "jetsam_schema_version): no jetsamd has shipped to it yet, or this is "
			  "another database (see fleet/README.md)",
			  ctl->fleet_conninfo);
		return CTL_EXIT_ERROR;
	}
	if (version < FLEET_SCHEMA_MIN) {
		ctl_error("the fleet database '%s' has jetsamd schema version %d: jetsamctl needs "
			  "%d or later (a jetsamd migrates it when it connects)",
			  ctl->fleet_conninfo, version, FLEET_SCHEMA_MIN);
		return CTL_EXIT_ERROR;
	}
	return CTL_EXIT_OK;
}

/* Connect on first use: CTL_EXIT_OK, or CTL_EXIT_ERROR after a message */
static int fleet_open(struct ctl *ctl)
{
	const char *keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
	const char *vals[] = {"10", "jetsamctl", ctl->fleet_conninfo, NULL};
	struct fleet *f;
	int r;

	if (ctl->fleet != NULL)
		return CTL_EXIT_OK;
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		ctl_error("out of memory");
		return CTL_EXIT_ERROR;
	}
	/* expand_dbname: the conninfo's own keywords win over the defaults before it */
	f->pg = pq.PQconnectdbParams(keys, vals, 1);
	ctl->fleet = f;
	if (f->pg == NULL || pq.PQstatus(f->pg) != CONNECTION_OK) {
		fleet_say("cannot reach", ctl->fleet_conninfo,
			  f->pg ? pq.PQerrorMessage(f->pg) : "out of memory");
		fleet_close(ctl);
		return CTL_EXIT_ERROR;
	}
	r = fleet_check_schema(ctl);
	if (r != CTL_EXIT_OK)
		fleet_close(ctl);
	return r;
}

void fleet_close(struct ctl *ctl)
{
	if (ctl->fleet == NULL)
		return;
	pq.PQfinish(ctl->fleet->pg);
	free(ctl->fleet);
	ctl->fleet = NULL;
}

/* Move o's members into the order of keys (members not named stay after them) */
static void fleet_order(cJSON *o, const char *const *keys)
{
	cJSON *tail = cJSON_CreateObject(), *it;

	if (tail == NULL || !cJSON_IsObject(o)) {
		cJSON_Delete(tail);
		return;
	}
	/* detach the named ones in order to tail, then append the rest after them */
	for (; *keys != NULL; keys++) {
		it = cJSON_DetachItemFromObjectCaseSensitive(o, *keys);
		if (it != NULL)
			cJSON_AddItemToArray(tail, it);
	}
	while (o->child != NULL)
		cJSON_AddItemToArray(tail, cJSON_DetachItemViaPointer(o, o->child));
	while (tail->child != NULL)
		cJSON_AddItemToArray(o, cJSON_DetachItemViaPointer(tail, tail->child));
	cJSON_Delete(tail);
}

/* Product names added and members ordered in every object of list */
static void fleet_shape(cJSON *list, const char *const *keys)
{
	cJSON *o;

	cmd_add_product_names(list);
	cJSON_ArrayForEach(o, list)
	{
		fleet_order(o, keys);
	}
}

/* A string argument of req, or NULL */
static const char *arg_str(const cJSON *req, const char *key)
{
	return jstr(req, key);
}

/* A number argument of req as text in buf, or NULL */
static const char *arg_num(const cJSON *req, const char *key, char *buf, size_t size)
{
	double v;

	if (jnum(req, key, &v) != 0)
		return NULL;
	snprintf(buf, size, "%.0f", v);
	return buf;
}

/* Parse the JSON text of column 0 of row 0 of res (freed) into *out */
static int fleet_parse(PGresult *res, cJSON **out)
{
	*out = res != NULL && pq.PQntuples(res) == 1 ? cJSON_Parse(pq.PQgetvalue(res, 0, 0)) : NULL;
	pq.PQclear(res);
	if (*out == NULL) {
		ctl_error("the fleet database answered no JSON");
		return CTL_EXIT_ERROR;
	}
	return CTL_EXIT_OK;
}

/* An object {key: list, "truncated": ...} (list owned; truncated < 0: no member) */
static int fleet_result(const char *key, cJSON *list, int truncated, cJSON **result)
{
	*result = cJSON_CreateObject();
	if (*result == NULL || !cJSON_AddItemToObject(*result, key, list) ||
	    (truncated >= 0 && cJSON_AddBoolToObject(*result, "truncated", truncated) == NULL)) {
		if (*result == NULL)
			cJSON_Delete(list);
		cJSON_Delete(*result);
		*result = NULL;
		ctl_error("out of memory");
		return CTL_EXIT_ERROR;
	}
	return CTL_EXIT_OK;
}

/* --- limits: the jetsam_limits view --- */

static const char limits_sql[] =
	"SELECT coalesce(json_agg(json_build_object("
	"'product', product, 'os_version', os_version, 'build', build, 'role', role, "
	"'count', count, 'phones', phones, 'hosts', hosts, 'min', min, 'median', median, "
	"'max', max, 'first_seen', " ISO("first_seen") ", 'last_seen', " ISO(
		"last_seen") ", "
			     "'processes', processes, 'drift', CASE WHEN change_pct IS NULL THEN "
			     "NULL ELSE "
			     "json_build_object('previous_build', previous_build, "
			     "'previous_median', "
			     "previous_median, 'change_pct', change_pct) END) "
			     "ORDER BY coalesce(product, '') COLLATE \"C\", "
			     "jetsam_version_key(os_version), "
			     "jetsam_build_key(build), jetsam_role_rank(role)), '[]')::text "
			     "FROM jetsam_limits WHERE ($1::text IS NULL OR product = $1) "
			     "AND ($2::text IS NULL OR build = $2) AND ($3::text IS NULL OR role = "
			     "$3)";

static int fleet_limits(struct ctl *ctl, const cJSON *req, cJSON **result)
{
	const char *params[] = {arg_str(req, "product"), arg_str(req, "build"),
				arg_str(req, "role")};
	cJSON *list;
	int r = fleet_parse(fleet_exec(ctl, limits_sql, 3, params), &list);

	if (r != CTL_EXIT_OK)
		return r;
	fleet_shape(list, limit_keys);
	return fleet_result("limits", list, -1, result);
}

/* --- devices: the jetsam_devices view, every (host, phone) row --- */

static const char devices_sql[] =
	"SELECT coalesce(json_agg(json_build_object("
	"'udid', udid, 'name', name, 'product', product, 'os_version', os_version, "
	"'build', build, 'connection', connection, 'attached', attached, 'state', state, "
	"'error', error, 'first_seen', " ISO("first_seen") ", 'last_seen', " ISO(
		"last_seen") ", "
			     "'last_sync', " ISO(
				     "last_sync") ", 'reports', reports, 'host_id', host_id) "
						  "ORDER BY attached DESC, udid COLLATE \"C\", "
						  "host_id COLLATE \"C\"), '[]')::text "
						  "FROM jetsam_devices";

static int fleet_devices(struct ctl *ctl, cJSON **result)
{
	cJSON *list;
	int r = fleet_parse(fleet_exec(ctl, devices_sql, 0, NULL), &list);

	if (r != CTL_EXIT_OK)
		return r;
	fleet_shape(list, device_keys);
	return fleet_result("devices", list, 0, result);
}

/* --- events: jetsam_events_unique (every event once), the EVENT each host shipped --- */

static const char events_sql[] =
	"SELECT (coalesce(e.event, jsonb_build_object("
	"'process', e.process, 'pid', e.pid, 'uuid', e.uuid, 'reason', e.reason, "
	"'role', e.role, 'priority', e.priority, 'rpages', e.rpages, "
	"'page_size', e.page_size, 'footprint_bytes', e.footprint_bytes, "
	"'limit_bytes', e.limit_bytes, 'lifetime_max_pages', e.lifetime_max_pages, "
	"'udid', e.udid, 'incident', r.incident, 'product', e.product, "
	"'os_version', e.os_version, 'build', e.build, 'timestamp', r.timestamp, "
	"'time', " ISO("e.time") ", 'collected_at', " ISO(
		"r.collected_at") ")) "
				  "|| jsonb_build_object('host_id', u.host_id))::text "
				  "FROM jetsam_events_unique u "
				  "JOIN events e ON e.host_id = u.host_id AND e.report_key = "
				  "u.report_key "
				  "AND e.seq = u.seq "
				  "JOIN reports r ON r.host_id = u.host_id AND r.key = "
				  "u.report_key "
				  "WHERE ($1::text IS NULL OR u.udid = $1) AND ($2::text IS NULL "
				  "OR u.product = $2) "
				  "AND ($3::text IS NULL OR u.build = $3) AND ($4::text IS NULL OR "
				  "u.process ~* $4) "
				  "AND ($5::text IS NULL OR u.reason = $5) AND ($6::text IS NULL "
				  "OR u.role = $6) "
				  "AND ($7::float8 IS NULL OR e.time >= to_timestamp($7::float8)) "
				  "AND ($8::float8 IS NULL OR e.time <= to_timestamp($8::float8)) "
				  "AND ($9::float8 IS NULL OR r.collected_at >= "
				  "to_timestamp($9::float8)) ";

/* newest first (the daemon: by time, then newest row), or in collection order */
static const char events_newest[] =
	"ORDER BY e.time DESC NULLS LAST, r.collected_at DESC, u.host_id COLLATE \"C\" DESC, "
	"u.report_key COLLATE \"C\" DESC, u.seq DESC LIMIT $10";
static const char events_collected[] =
	"ORDER BY r.collected_at, u.host_id COLLATE \"C\", u.report_key COLLATE \"C\", u.seq "
	"LIMIT $10";

/* The events arguments the fleet cannot answer: CTL_EXIT_OK or CTL_EXIT_USAGE */
static int fleet_events_args(const cJSON *req)
{
	double after = 0;

	if (jnum(req, "after", &after) == 0 && after > 0) {
		ctl_usage_error("events", "--after: a collection cursor numbers one daemon's "
					  "reports; with --fleet use --collected-since");
		return CTL_EXIT_USAGE;
	}
	if (cJSON_GetObjectItemCaseSensitive(req, "before_id") != NULL) {
		ctl_usage_error("events", "paging by row id is one daemon's; not with --fleet");
		return CTL_EXIT_USAGE;
	}
	return CTL_EXIT_OK;
}

static int fleet_events(struct ctl *ctl, const cJSON *req, cJSON **result)
{
	char since[32], until[32], csince[32], limit[32], regex[1024], sql[4096];
	const char *params[10];
	double n = 1000;
	int by_collection = cJSON_GetObjectItemCaseSensitive(req, "after") != NULL ||
			    cJSON_GetObjectItemCaseSensitive(req, "collected_since") != NULL;
	int i, rows;
	PGresult *res;
	cJSON *list;

	if (arg_str(req, "process") != NULL &&
	    fleet_glob_regex(arg_str(req, "process"), regex, sizeof(regex)) < 0) {
		ctl_usage_error("events", "--process: pattern too long");
		return CTL_EXIT_USAGE;
	}
	jnum(req, "limit", &n);
	snprintf(limit, sizeof(limit), "%.0f", n + 1); /* one more tells truncated */
	params[0] = arg_str(req, "udid");
	params[1] = arg_str(req, "product");
	params[2] = arg_str(req, "build");
	params[3] = arg_str(req, "process") ? regex : NULL;
	params[4] = arg_str(req, "reason");
	params[5] = arg_str(req, "role");
	params[6] = arg_num(req, "since", since, sizeof(since));
	params[7] = arg_num(req, "until", until, sizeof(until));
	params[8] = arg_num(req, "collected_since", csince, sizeof(csince));
	params[9] = limit;
	snprintf(sql, sizeof(sql), "%s%s", events_sql,
		 by_collection ? events_collected : events_newest);
	res = fleet_exec(ctl, sql, 10, params);
	if (res == NULL)
		return CTL_EXIT_ERROR;
	list = cJSON_CreateArray();
	rows = pq.PQntuples(res);
	for (i = 0; list != NULL && i < rows && i < (int)n; i++) {
		cJSON *e = cJSON_Parse(pq.PQgetvalue(res, i, 0));

		if (e == NULL || !cJSON_AddItemToArray(list, e)) {
			cJSON_Delete(e);
			cJSON_Delete(list);
			list = NULL;
		}
	}
	pq.PQclear(res);
	if (list == NULL) {
		ctl_error("events: the fleet database answered no JSON");
		return CTL_EXIT_ERROR;
	}
	fleet_shape(list, event_keys);
	return fleet_result("events", list, rows > (int)n, result);
}

int fleet_call(struct ctl *ctl, const char *cmd, const cJSON *req, cJSON **result)
{
	const char *what = jstr(req, "cmd");
	int r;

	*result = NULL;
	if (what == NULL || (strcmp(what, "limits") != 0 && strcmp(what, "devices") != 0 &&
			     strcmp(what, "events") != 0)) {
		ctl_usage_error(cmd, "'%s' is one daemon's: not with --fleet", what ? what : "?");
		return CTL_EXIT_USAGE;
	}
	if (strcmp(what, "events") == 0 && fleet_events_args(req) != CTL_EXIT_OK)
		return CTL_EXIT_USAGE;
	r = fleet_open(ctl);
	if (r != CTL_EXIT_OK)
		return r;
	if (strcmp(what, "limits") == 0)
		return fleet_limits(ctl, req, result);
	if (strcmp(what, "devices") == 0)
		return fleet_devices(ctl, result);
	return fleet_events(ctl, req, result);
}

int fleet_glob_regex(const char *glob, char *buf, size_t size)
{
	size_t n = 0;
	const char *p;

#define PUT(c)                                                                                     \
	do {                                                                                       \
		if (n + 2 >= size)                                                                 \
			return -1;                                                                 \
		buf[n++] = (c);                                                                    \
	} while (0)
	PUT('^');
	for (p = glob; *p != '\0'; p++) {
		const char *close = *p == '[' ? strchr(p + (p[1] == '!' ? 2 : 1) + 1, ']') : NULL;

		if (*p == '*') {
			PUT('.');
			PUT('*');
		} else if (*p == '?') {
			PUT('.');
		} else if (close != NULL) {
			PUT('[');
			if (*++p == '!') {
				PUT('^');
				p++;
			}
			for (; p < close; p++) {
				if (*p == '\\')
					PUT('\\');
				PUT(*p);
			}
			PUT(']');
		} else {
			if (!isalnum((unsigned char)*p) && !((unsigned char)*p & 0x80))
				PUT('\\');
			PUT(*p);
		}
	}
	PUT('$');
	buf[n] = '\0';
	return 0;
#undef PUT
}
