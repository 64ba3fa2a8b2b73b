/* fleet_pg.h: the fleet thread's PostgreSQL side: connect, apply the schema, ship one batch */
#ifndef JETSAMD_FLEET_PG_H
#define JETSAMD_FLEET_PG_H

#include <stddef.h>

#include "fleet_rows.h"

/*
 * DESIGN
 * Blocking libpq, for the fleet thread only (daemon/fleet.c): the loop never waits on it.
 * Every wait is bounded: connect_timeout (10 s), TCP keepalives, statement_timeout (60 s).
 * On connect: the schema files built into the daemon that are newer than the database's
 * version (fleet/README.md "Applying them"), then the session's staging tables. A batch is
 * one transaction: BEGIN, the hosts row (PQexecParams, the only parameters), COPY of the
 * three staging tables, the merges, COMMIT (the README's SQL, verbatim). Any error closes
 * the connection (the next ship connects again): a transaction is never left half done.
 */

struct fleet_pg_conf {
	const char *conninfo; /* checked: no password (config_fleet_check) */
	const char *passfile; /* "" = libpq's default */
	const char *host_id, *hostname, *daemon;
};

struct fleet_pg;

struct fleet_pg *fleet_pg_new(const struct fleet_pg_conf *conf); /* copies conf; NULL: ENOMEM */
void fleet_pg_free(struct fleet_pg *p);				 /* NULL is a no-op */
/* Ship b (connecting first when needed). 0, or -EIO / -ENOMEM with err set (one line); on
 * an error the connection is closed, and the next call connects again. */
int fleet_pg_ship(struct fleet_pg *p, const struct fleet_batch *b, char *err, size_t errlen);
int fleet_pg_connected(const struct fleet_pg *p);

/*
 * The connect parameters (keyword/value arrays, NULL-terminated, pointing into conf and
 * static text): bounded waits first, the conninfo expanded after them (so it may override
 * them), then the passfile. n is the arrays' size; returns the count, or -ENOSPC.
 */
int fleet_pg_params(const struct fleet_pg_conf *conf, const char **keys, const char **values,
		    int n);

#endif
