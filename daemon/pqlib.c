/* pqlib.c: libpq loaded with dlopen when the fleet first needs it (pqlib.h says why) */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define PQLIB_TABLE /* the names below are libpq's own */
#include "pqlib.h"

/* libpq's soname since PostgreSQL 8.0 */
#define PQLIB_SONAME "libpq.so.5"

struct pqlib pqlib;

static pthread_once_t pqlib_once = PTHREAD_ONCE_INIT;
static int pqlib_result = -1;
static char pqlib_error[256];

static void pqlib_open(void)
{
	void *h = dlopen(PQLIB_SONAME, RTLD_NOW | RTLD_LOCAL);
	const char *why;

	if (h == NULL) {
		why = dlerror();
		snprintf(pqlib_error, sizeof(pqlib_error), "cannot load %s: %s", PQLIB_SONAME,
			 why ? why : "unknown error");
		return;
	}
#define PQLIB_SYM(f)                                                                               \
	if ((pqlib.f = (__typeof__(pqlib.f))dlsym(h, #f)) == NULL) {                               \
		snprintf(pqlib_error, sizeof(pqlib_error), "%s has no %s", PQLIB_SONAME, #f);      \
		dlclose(h);                                                                        \
		return;                                                                            \
	}
	PQLIB_FUNCS(PQLIB_SYM)
#undef PQLIB_SYM
	pqlib_result = 0; /* h stays open for the daemon's life */
}

int pqlib_load(char *err, size_t errlen)
{
	pthread_once(&pqlib_once, pqlib_open);
	if (pqlib_result < 0 && err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", pqlib_error);
	return pqlib_result;
}
