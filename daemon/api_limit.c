/* api_limit.c: the limit command: one observed limit, for a product and OS in the user's words */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "../proto/products.h"
#include "../proto/protocol.h"
#include "../proto/report.h"
#include "../proto/request.h"
#include "api.h"
#include "api_common.h"
#include "store.h"

/*
 * The same answer as `jetsamctl limit` of release 0.1 (client/cmd_limits.c, client/terms.c),
 * computed from the LIMIT rows and the DEVICE rows (what the daemon knows):
 *  - product: an identifier of the table in any case ("iphone13,2"), else a marketing name
 *    ("iPhone 12"): the one identifier it names, or of several the one with data (several
 *    with data: bad_request), else a product the daemon knows in another case;
 *  - build that is a version ("15.5") is os_version; os_version names the builds of that OS
 *    (and its point releases) the daemon knows of that product;
 *  - the row: of the build asked for, else the newest build (of that OS) with a row of the
 *    role; limit is its median (or min, max), count its count.
 */

#define LIMIT_MAX_BUILDS 32

struct limit_terms {
	const char *product; /* resolved (points into the rows or the table, or the argument) */
	const char *build;   /* a build asked for, NULL with os or none */
	const char *os;
	const char *builds[LIMIT_MAX_BUILDS]; /* with os: its builds the daemon knows */
	size_t nbuilds;
};

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Whether any row of lists (NULL-terminated) has product id */
static int known_product(const cJSON *const *lists, const char *id)
{
	const cJSON *k;

	for (; *lists; lists++)
		cJSON_ArrayForEach(k, *lists)
		{
			if (jstr(k, "product") && strcmp(jstr(k, "product"), id) == 0)
				return 1;
		}
	return 0;
}

/* t->product from term; 0, or -EINVAL with err set (several products with data) */
static int limit_product(const cJSON *const *lists, const char *term, struct limit_terms *t,
			 char *err, size_t errsize)
{
	const char *ids[16], *with[16];
	size_t n = products_find(term, ids, 16), nk = 0, i, len;
	const cJSON *const *l;
	const cJSON *k;

	t->product = term;
	if (n == 1) {
		t->product = ids[0];
		return 0;
	}
	if (n == 0) {
		for (l = lists; *l; l++)
			cJSON_ArrayForEach(k, *l)
			{
				if (jstr(k, "product") && strcasecmp(jstr(k, "product"), term) == 0)
					t->product = jstr(k, "product");
			}
		return 0;
	}
	for (i = 0; i < n && i < 16; i++)
		if (known_product(lists, ids[i]))
			with[nk++] = ids[i];
	if (nk <= 1) {
		t->product = nk == 1 ? with[0] : ids[0];
		return 0;
	}
	len = (size_t)snprintf(err, errsize, "'%s' is several products with data: ", term);
	for (i = 0; i < nk && len < errsize; i++)
		len += (size_t)snprintf(err + len, errsize - len, "%s%s", i ? ", " : "", with[i]);
	if (len < errsize)
		snprintf(err + len, errsize - len, "; give one");
	return -EINVAL;
}

/* t->builds: the builds of OS t->os of t->product in lists */
static void limit_os(const cJSON *const *lists, struct limit_terms *t)
{
	const cJSON *k;
	size_t i;

	for (; *lists; lists++)
		cJSON_ArrayForEach(k, *lists)
		{
			const char *b = jstr(k, "build"), *p = jstr(k, "product");

			if (b == NULL || !products_os_match(t->os, jstr(k, "os_version")) ||
			    p == NULL || strcmp(p, t->product) != 0)
				continue;
			for (i = 0; i < t->nbuilds && strcmp(t->builds[i], b) != 0; i++)
				;
			if (i == t->nbuilds && t->nbuilds < LIMIT_MAX_BUILDS)
				t->builds[t->nbuilds++] = b;
		}
}

static int build_ok(const struct limit_terms *t, const char *build)
{
	if (t->os == NULL)
		return t->build == NULL || (build && strcmp(build, t->build) == 0);
	for (size_t i = 0; build != NULL && i < t->nbuilds; i++)
		if (strcmp(t->builds[i], build) == 0)
			return 1;
	return 0;
}

/* The last matching row (the rows come by product, OS version, build, role) */
static const cJSON *limit_pick(const cJSON *rows, const struct limit_terms *t, const char *role)
{
	const cJSON *l, *found = NULL;

	cJSON_ArrayForEach(l, rows)
	{
		const char *p = jstr(l, "product"), *ro = jstr(l, "role");

		if (p && strcmp(p, t->product) == 0 && ro && strcmp(ro, role) == 0 &&
		    build_ok(t, jstr(l, "build")))
			found = l;
	}
	return found;
}

static cJSON *dup_or_null(const cJSON *row, const char *k, const char *fallback)
{
	const char *v = row ? jstr(row, k) : NULL;

	v = v ? v : fallback;
	return v ? cJSON_CreateString(v) : cJSON_CreateNull();
}

static double num_or_0(const cJSON *row, const char *k)
{
	const cJSON *v = row ? cJSON_GetObjectItemCaseSensitive(row, k) : NULL;

	return v != NULL && cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* The reply of limit for the arguments in q->f.limit, from the LIMIT and DEVICE rows */
static cJSON *limit_reply_of(struct api_query *q, const cJSON *rows, const cJSON *devices)
{
	const cJSON *lists[3] = {rows, devices, NULL}, *row, *v;
	struct limit_terms t = {0};
	const char *role = q->f.limit.role, *stat = q->f.limit.stat;
	cJSON *o;

	t.os = q->f.limit.os;
	t.build = q->f.limit.build;
	if (t.build && products_is_version(t.build)) {
		t.os = t.build;
		t.build = NULL;
	}
	if (limit_product(lists, q->f.limit.product, &t, q->err_msg, sizeof(q->err_msg)) < 0) {
		q->err_code = PROTO_E_BAD_REQUEST;
		return NULL;
	}
	if (t.os)
		limit_os(lists, &t);
	row = limit_pick(rows, &t, role);
	v = row ? cJSON_GetObjectItemCaseSensitive(row, stat) : NULL;
	o = cJSON_CreateObject();
	if (o == NULL)
		return NULL;
	cJSON_AddItemToObject(o, "limit",
			      v != NULL && cJSON_IsNumber(v) ? cJSON_CreateNumber(v->valuedouble)
							     : cJSON_CreateNull());
	cJSON_AddStringToObject(o, "product", t.product);
	cJSON_AddItemToObject(o, "product_name", dup_or_null(NULL, "", products_name(t.product)));
	cJSON_AddItemToObject(o, "build", dup_or_null(row, "build", t.build));
	cJSON_AddItemToObject(o, "os_version", dup_or_null(row, "os_version", t.os));
	cJSON_AddStringToObject(o, "role", role);
	cJSON_AddStringToObject(o, "stat", stat);
	cJSON_AddNumberToObject(o, "count", num_or_0(row, "count"));
	cJSON_AddNumberToObject(o, "phones", num_or_0(row, "phones"));
	return o;
}

static int limit_run(struct store *s, struct api_query *q)
{
	cJSON *rows = NULL, *devices = NULL, *plain = NULL;
	char *text;
	int r = store_limits_json(s, NULL, NULL, NULL, &rows); /* all: what the daemon knows */

	if (r == 0)
		r = store_devices_json(s, &devices);
	/* LIMIT rows hold raw JSON ("processes"): read them back as plain values */
	text = r == 0 ? cJSON_PrintUnformatted(rows) : NULL;
	plain = text ? cJSON_Parse(text) : NULL;
	cJSON_free(text);
	if (r == 0 && plain == NULL)
		r = -ENOMEM;
	if (r == 0) {
		q->result = limit_reply_of(q, plain, devices);
		if (q->result == NULL && q->err_code == NULL)
			r = -ENOMEM;
	}
	cJSON_Delete(rows);
	cJSON_Delete(devices);
	cJSON_Delete(plain);
	return r;
}

static cJSON *limit_build(struct api_query *q)
{
	cJSON *res = q->result;

	q->result = NULL;
	return res;
}

enum ipc_outcome api_cmd_limit(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	struct api_query *q = api_query_new(a, c, req);
	const char *product = NULL, *build = NULL, *os = NULL, *role = "foreground";
	const char *stat = "median";
	enum report_role rr;
	int bad = 1;

	if (request_string(req, "product", &product) < 0 ||
	    request_string(req, "build", &build) < 0 ||
	    request_string(req, "os_version", &os) < 0 || request_string(req, "role", &role) < 0 ||
	    request_string(req, "stat", &stat) < 0)
		api_reply_err(c, req->id, PROTO_E_BAD_REQUEST, "%s", req->err_msg);
	else if (product == NULL)
		api_reply_err(c, req->id, PROTO_E_BAD_REQUEST, "argument 'product' is missing");
	else if (build && os)
		api_reply_err(c, req->id, PROTO_E_BAD_REQUEST,
			      "give 'os_version' or 'build', not both");
	else if (report_role_from_name(role, &rr) < 0)
		api_reply_err(c, req->id, PROTO_E_BAD_REQUEST,
			      "argument 'role' must be foreground, daemon or background");
	else if (strcmp(stat, "median") != 0 && strcmp(stat, "min") != 0 &&
		 strcmp(stat, "max") != 0)
		api_reply_err(c, req->id, PROTO_E_BAD_REQUEST,
			      "argument 'stat' must be median, min or max");
	else
		bad = 0;
	if (bad) {
		free(q);
		return IPC_DONE;
	}
	if (q == NULL) {
		api_reply_err(c, req->id, PROTO_E_INTERNAL, "out of memory");
		return IPC_DONE;
	}
	q->f.limit.product = product;
	q->f.limit.build = build;
	q->f.limit.os = os;
	q->f.limit.role = role;
	q->f.limit.stat = stat;
	q->run = limit_run;
	q->build = limit_build;
	return api_query_submit(q, req);
}
