/* config_fleet.c: the fleet_conninfo check: a libpq conninfo/URI, never with a password in it */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "pqlib.h"

int config_fleet_check(const struct config *c, char *err, size_t errlen)
{
	PQconninfoOption *opts;
	char *msg = NULL, msgbuf[300];
	int r = 0;

	if (c->fleet_conninfo[0] == '\0')
		return 0; /* the fleet is off */
	if (pqlib_load(msgbuf, sizeof(msgbuf)) < 0) {
		snprintf(err, errlen, "key 'fleet_conninfo': %s", msgbuf);
		return -EINVAL;
	}
	opts = PQconninfoParse(c->fleet_conninfo, &msg);
	if (opts == NULL) {
		size_t n;

		snprintf(err, errlen, "key 'fleet_conninfo': %s",
			 msg ? msg : "out of memory parsing the conninfo");
		n = strlen(err); /* libpq's message ends with a newline */
		while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
			err[--n] = '\0';
		PQfreemem(msg);
		return -EINVAL;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "password") == 0) {
			snprintf(err, errlen,
				 "key 'fleet_conninfo': holds a password; put it in a passfile "
				 "(fleet_passfile or PGPASSFILE) instead");
			r = -EINVAL;
		} else if (strcmp(o->keyword, "passfile") == 0 && c->fleet_passfile[0]) {
			snprintf(
				err, errlen,
				"key 'fleet_conninfo': names a passfile; fleet_passfile is set too "
				"(set one of them)");
			r = -EINVAL;
		}
	}
	PQconninfoFree(opts);
	return r;
}
