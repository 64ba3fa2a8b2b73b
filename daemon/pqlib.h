/* pqlib.h: the libpq functions jetsamd calls, from libpq loaded when the fleet is configured */
#ifndef JETSAMD_PQLIB_H
#define JETSAMD_PQLIB_H

#include <stddef.h>

#include <libpq-fe.h>

/*
 * jetsamd does not link libpq: it and what it needs (Kerberos, LDAP, GnuTLS, p11-kit: some
 * twenty libraries) cost 0.6 MiB of private memory (relocated data, their start-up heap) in
 * every daemon, and most run without a fleet. The fleet code calls libpq's functions by
 * their names, through this table, once pqlib_load() has succeeded.
 */
#define PQLIB_FUNCS(X)                                                                             \
	X(PQclear)                                                                                 \
	X(PQconnectdbParams)                                                                       \
	X(PQconninfoFree)                                                                          \
	X(PQconninfoParse)                                                                         \
	X(PQerrorMessage)                                                                          \
	X(PQexec)                                                                                  \
	X(PQexecParams)                                                                            \
	X(PQfinish)                                                                                \
	X(PQfreemem)                                                                               \
	X(PQgetResult)                                                                             \
	X(PQgetisnull)                                                                             \
	X(PQgetvalue)                                                                              \
	X(PQntuples)                                                                               \
	X(PQputCopyData)                                                                           \
	X(PQputCopyEnd)                                                                            \
	X(PQresultErrorMessage)                                                                    \
	X(PQresultStatus)                                                                          \
	X(PQserverVersion)                                                                         \
	X(PQstatus)

struct pqlib {
#define PQLIB_MEMBER(f) __typeof__(f) *f;
	PQLIB_FUNCS(PQLIB_MEMBER)
#undef PQLIB_MEMBER
};

extern struct pqlib pqlib;

/*
 * Load libpq (once; later calls return the first call's result): 0, or -1 with err set to
 * why (libpq missing, or without one of the functions). Any thread.
 */
int pqlib_load(char *err, size_t errlen);

#ifndef PQLIB_TABLE
#define PQclear		     pqlib.PQclear
#define PQconnectdbParams    pqlib.PQconnectdbParams
#define PQconninfoFree	     pqlib.PQconninfoFree
#define PQconninfoParse	     pqlib.PQconninfoParse
#define PQerrorMessage	     pqlib.PQerrorMessage
#define PQexec		     pqlib.PQexec
#define PQexecParams	     pqlib.PQexecParams
#define PQfinish	     pqlib.PQfinish
#define PQfreemem	     pqlib.PQfreemem
#define PQgetResult	     pqlib.PQgetResult
#define PQgetisnull	     pqlib.PQgetisnull
#define PQgetvalue	     pqlib.PQgetvalue
#define PQntuples	     pqlib.PQntuples
#define PQputCopyData	     pqlib.PQputCopyData
#define PQputCopyEnd	     pqlib.PQputCopyEnd
#define PQresultErrorMessage pqlib.PQresultErrorMessage
#define PQresultStatus	     pqlib.PQresultStatus
#define PQserverVersion	     pqlib.PQserverVersion
#define PQstatus	     pqlib.PQstatus
#endif

#endif
