/* terms.h: a product and OS in the user's words, resolved with what the daemon knows */
#ifndef JETSAMCTL_TERMS_H
#define JETSAMCTL_TERMS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "ctl.h"

#define TERMS_MAX_BUILDS 32

/* What --product, --build and --os name */
struct terms {
	const char *product; /* the identifier, or the text as given when unknown; NULL: any */
	const char *build;   /* the one build to ask the daemon for, NULL: any (see builds) */
	/* with --os (or a --build that is a version): the builds of that OS the daemon knows;
	 * rows and events must have one of them (none known: nothing matches) */
	const char *os;
	const char *builds[TERMS_MAX_BUILDS];
	size_t nbuilds;
	cJSON *known; /* what the daemon knows (the strings above may point into it) */
};

/*
 * Resolve the options of cmd (any may be NULL): marketing names and identifiers in any case
 * ("iPhone 12", "iphone13,2"); where a name is several identifiers (cellular variants), the one
 * the daemon has data of; --os V, or --build V that looks like a version, to the builds of
 * V the daemon knows (of that product). Returns CTL_EXIT_OK, CTL_EXIT_USAGE after a usage
 * error (an ambiguous name, --os with a --build), or CTL_EXIT_ERROR. Release t after.
 */
int terms_resolve(struct ctl *ctl, const char *cmd, const char *product, const char *build,
		  const char *os, struct terms *t);
void terms_release(struct terms *t);

/* Whether a row or event of this build passes t's OS filter (always, without --os) */
int terms_build_ok(const struct terms *t, const char *build);

#endif
