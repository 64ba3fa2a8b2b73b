/* terms.c: a product and OS in the user's words, resolved with what the daemon knows */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd.h"
#include "output.h"
#include "products.h"
#include "resolve.h"
#include "terms.h"

/* The (product, os_version, build) rows the daemon knows: its limits and devices, in one
 * array of objects. A CTL_EXIT_* code. */
static int terms_fetch(struct ctl *ctl, const char *cmd, cJSON **known)
{
	static const char *const sources[][2] = {{"limits", "limits"}, {"devices", "devices"}};
	size_t i;

	*known = cJSON_CreateArray();
	if (*known == NULL)
		return CTL_EXIT_ERROR;
	for (i = 0; i < 2; i++) {
		cJSON *req = cmd_request_new(sources[i][0]), *result, *list;
		int r = cmd_call(ctl, cmd, req, &result);

		cJSON_Delete(req);
		if (r != CTL_EXIT_OK)
			return r;
		list = cJSON_DetachItemFromObjectCaseSensitive(result, sources[i][1]);
		while (cJSON_GetArraySize(list) > 0)
			cJSON_AddItemToArray(*known, cJSON_DetachItemFromArray(list, 0));
		cJSON_Delete(list);
		cJSON_Delete(result);
	}
	return CTL_EXIT_OK;
}

/* Whether the daemon knows product id */
static int terms_knows(const cJSON *known, const char *id)
{
	const cJSON *k;

	cJSON_ArrayForEach(k, known)
	{
		if (jstr(k, "product") != NULL && strcmp(jstr(k, "product"), id) == 0)
			return 1;
	}
	return 0;
}

/* t->product from the term: an identifier of the table, the one of several the daemon knows,
 * or a product the daemon knows in another case. A CTL_EXIT_* code. */
static int terms_product(const char *cmd, const char *term, struct terms *t)
{
	const char *ids[16], *known_ids[16];
	size_t n = products_find(term, ids, 16), nk = 0, i;
	const cJSON *k;

	t->product = term;
	if (n == 1) {
		t->product = ids[0];
		return CTL_EXIT_OK;
	}
	if (n == 0) {
		cJSON_ArrayForEach(k, t->known)
		{
			if (jstr(k, "product") != NULL && strcasecmp(jstr(k, "product"), term) == 0)
				t->product = jstr(k, "product");
		}
		return CTL_EXIT_OK;
	}
	for (i = 0; i < n && i < 16; i++)
		if (terms_knows(t->known, ids[i]))
			known_ids[nk++] = ids[i];
	if (nk <= 1) {
		t->product = nk == 1 ? known_ids[0] : ids[0];
		return CTL_EXIT_OK;
	}
	{
		char list[256] = "";

		for (i = 0; i < nk; i++) {
			size_t len = strlen(list);

			snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
				 known_ids[i]);
		}
		ctl_usage_error(cmd, "'%s' is several products with data: %s; give one", term,
				list);
	}
	return CTL_EXIT_USAGE;
}

/* t->builds: the builds of OS version os (of t->product) the daemon knows */
static void terms_os(struct terms *t, const char *os)
{
	const cJSON *k;
	size_t i;

	t->os = os;
	cJSON_ArrayForEach(k, t->known)
	{
		const char *b = jstr(k, "build"), *p = jstr(k, "product");

		if (b == NULL || !products_os_match(os, jstr(k, "os_version")) ||
		    (t->product != NULL && (p == NULL || strcmp(p, t->product) != 0)))
			continue;
		for (i = 0; i < t->nbuilds && strcmp(t->builds[i], b) != 0; i++)
			;
		if (i == t->nbuilds && t->nbuilds < TERMS_MAX_BUILDS)
			t->builds[t->nbuilds++] = b;
	}
	/* one build: the daemon filters; none: a build that matches nothing */
	t->build = t->nbuilds == 1 ? t->builds[0] : t->nbuilds == 0 ? os : NULL;
}

int terms_resolve(struct ctl *ctl, const char *cmd, const char *product, const char *build,
		  const char *os, struct terms *t)
{
	const char *ids[2];
	int r;

	memset(t, 0, sizeof(*t));
	t->product = product;
	t->build = build;
	if (build != NULL && products_is_version(build)) {
		if (os != NULL) {
			ctl_usage_error(cmd, "give --os or --build, not both");
			return CTL_EXIT_USAGE;
		}
		os = build; /* --build 15.5 is --os 15.5 */
	} else if (build != NULL && os != NULL) {
		ctl_usage_error(cmd, "give --os or --build, not both");
		return CTL_EXIT_USAGE;
	}
	/* an identifier of the table as written needs nothing from the daemon */
	if (os == NULL && (product == NULL ||
			   (products_find(product, ids, 2) == 1 && strcmp(ids[0], product) == 0)))
		return CTL_EXIT_OK;
	r = terms_fetch(ctl, cmd, &t->known);
	if (r == CTL_EXIT_OK && product != NULL)
		r = terms_product(cmd, product, t);
	if (r == CTL_EXIT_OK && os != NULL)
		terms_os(t, os);
	return r;
}

void terms_release(struct terms *t)
{
	cJSON_Delete(t->known);
	memset(t, 0, sizeof(*t));
}

int terms_build_ok(const struct terms *t, const char *build)
{
	size_t i;

	if (t->os == NULL)
		return 1;
	for (i = 0; build != NULL && i < t->nbuilds; i++)
		if (strcmp(t->builds[i], build) == 0)
			return 1;
	return 0;
}
