/* fleetschema.h: the fleet's PostgreSQL schema files (fleet/schema), built into the daemon */
#ifndef JETSAMD_FLEET_SCHEMA_H
#define JETSAMD_FLEET_SCHEMA_H

/*
 * Generated at build time (fleet/embed-sql.c, daemon/meson.build lists the files): every
 * fleet/schema/NNN_name.sql in number order, so a host never reads the directory at run
 * time. fleet_pg.c applies those newer than the database's version on connect.
 */
struct fleet_schema_file {
	int version;	  /* NNN */
	const char *name; /* "001_init" */
	const char *sql;  /* the whole file: one transaction (BEGIN ... COMMIT) */
};

extern const struct fleet_schema_file fleet_schema_files[];
extern const unsigned fleet_schema_count;

#endif
