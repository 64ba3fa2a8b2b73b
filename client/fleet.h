/* fleet.h: jetsamctl --fleet: the limits, events and devices replies read from a PostgreSQL fleet
 * store */
#ifndef JETSAMCTL_FLEET_H
#define JETSAMCTL_FLEET_H

#include <cjson/cJSON.h>

#include "ctl.h"

/* The environment variable that gives --fleet's CONNINFO */
#define FLEET_ENV "JETSAMCTL_FLEET"

/* The jetsamd fleet schema version whose views jetsamctl reads (fleet/schema/002_views.sql) */
#define FLEET_SCHEMA_MIN 2

/* Whether command name runs against the fleet (limits, limit, events, devices; help, parse) */
int fleet_command_ok(const char *name);

/*
 * Check a --fleet CONNINFO before use (and load libpq): 0, CTL_EXIT_USAGE after a usage
 * error (it holds a password: credentials come from PGPASSFILE or ~/.pgpass), or
 * CTL_EXIT_ERROR when libpq cannot be loaded.
 */
int fleet_check_conninfo(const char *conninfo);

/*
 * The reply ("result" object) the daemon would give to req ({"cmd": "limits" | "devices" |
 * "events", ...arguments}) computed from the fleet database ctl->fleet_conninfo (connected
 * on first use, kept in ctl->fleet). Every object carries "host_id" besides the daemon's
 * members (limits rows "hosts"). Returns a CTL_EXIT_* code like cmd_call (CTL_EXIT_ERROR
 * after a message when the database is unreachable or has no jetsamd schema,
 * CTL_EXIT_USAGE for an argument the fleet cannot answer), CTL_EXIT_OK with *result set.
 */
int fleet_call(struct ctl *ctl, const char *cmd, const cJSON *req, cJSON **result);

/* Close the connection of ctl->fleet (NULL: nothing) */
void fleet_close(struct ctl *ctl);

/*
 * The POSIX extended regular expression, anchored and for a case-insensitive match, of a
 * process glob (*, ?, [...], [!...]) as the daemon's events "process" matches it: 0, or -1
 * when buf is too small. Pure, for the tests.
 */
int fleet_glob_regex(const char *glob, char *buf, size_t size);

#endif
