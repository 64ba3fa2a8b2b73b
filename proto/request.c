/* request.c: decoding and checking one protocol request line */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isotime.h"
#include "request.h"

static int depth_ok(const cJSON *it, int depth)
{
	if (depth > REQUEST_MAX_DEPTH)
		return 0;
	for (const cJSON *c = it->child; c; c = c->next)
		if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && !depth_ok(c, depth + 1))
			return 0;
	return 1;
}

static int bad(struct request *req, const char *msg)
{
	snprintf(req->err_code, sizeof(req->err_code), "%s", PROTO_E_BAD_REQUEST);
	snprintf(req->err_msg, sizeof(req->err_msg), "%s", msg);
	return 1;
}

int request_decode(struct request *req, const char *line, size_t len)
{
	const cJSON *cmd, *id;

	memset(req, 0, sizeof(*req));
	/* cJSON has its own nesting limit (1000); deeper input fails to parse, which is fine */
	req->root = cJSON_ParseWithLength(line, len);
	if (req->root == NULL)
		return bad(req, "request is not valid JSON");
	if (!cJSON_IsObject(req->root))
		return bad(req, "request is not a JSON object");
	id = cJSON_GetObjectItemCaseSensitive(req->root, "id");
	if (id != NULL) {
		if (!cJSON_IsNumber(id) && !cJSON_IsString(id))
			return bad(req, "'id' must be a number or a string");
		req->id = id;
	}
	if (!depth_ok(req->root, 1))
		return bad(req, "request nests deeper than 8 levels");
	cmd = cJSON_GetObjectItemCaseSensitive(req->root, "cmd");
	if (cmd == NULL)
		return bad(req, "'cmd' is missing");
	if (!cJSON_IsString(cmd) || cmd->valuestring == NULL)
		return bad(req, "'cmd' must be a string");
	req->cmd = cmd->valuestring;
	return 0;
}

void request_release(struct request *req)
{
	cJSON_Delete(req->root);
	req->root = NULL;
	req->id = NULL;
	req->cmd = NULL;
}

static const cJSON *arg(struct request *req, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req->root, key);

	return v && !cJSON_IsNull(v) ? v : NULL;
}

static int arg_bad(struct request *req, const char *key, const char *what)
{
	snprintf(req->err_code, sizeof(req->err_code), "%s", PROTO_E_BAD_REQUEST);
	snprintf(req->err_msg, sizeof(req->err_msg), "argument '%s' must be %s", key, what);
	return -EINVAL;
}

int request_string(struct request *req, const char *key, const char **out)
{
	const cJSON *v = arg(req, key);

	if (v == NULL)
		return 0;
	if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0')
		return arg_bad(req, key, "a non-empty string");
	if (strlen(v->valuestring) > 1024)
		return arg_bad(req, key, "at most 1024 bytes long");
	*out = v->valuestring;
	return 1;
}

int request_bool(struct request *req, const char *key, int *out)
{
	const cJSON *v = arg(req, key);

	if (v == NULL)
		return 0;
	if (!cJSON_IsBool(v))
		return arg_bad(req, key, "true or false");
	*out = cJSON_IsTrue(v);
	return 1;
}

int request_int(struct request *req, const char *key, int64_t min, int64_t max, int64_t *out)
{
	const cJSON *v = arg(req, key);
	char what[96];
	double d;

	if (v == NULL)
		return 0;
	snprintf(what, sizeof(what), "an integer in %lld..%lld", (long long)min, (long long)max);
	if (!cJSON_IsNumber(v))
		return arg_bad(req, key, what);
	d = v->valuedouble;
	if (!isfinite(d) || d != floor(d) || d < (double)min || d > (double)max)
		return arg_bad(req, key, what);
	*out = (int64_t)d;
	return 1;
}

int request_parse_time(const char *s, int64_t *out)
{
	/* after a successful parse s starts with four digits of year */
	if (isotime_parse(s, out) != 0 || strncmp(s, "1970", 4) < 0)
		return -EINVAL;
	return 0;
}

int request_time(struct request *req, const char *key, int64_t *out)
{
	const cJSON *v = arg(req, key);
	static const char what[] = "a time (2026-11-23T10:00:00Z) or epoch seconds";

	if (v == NULL)
		return 0;
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;

		if (!isfinite(d) || d < 0 || d > 1e12)
			return arg_bad(req, key, what);
		*out = (int64_t)d;
		return 1;
	}
	if (cJSON_IsString(v) && v->valuestring) {
		const char *s = v->valuestring;
		char *end;

		if (isdigit((unsigned char)s[0])) {
			long long n;

			errno = 0;
			n = strtoll(s, &end, 10);
			if (*end == '\0' && errno == 0 && n <= 1000000000000LL) {
				*out = n;
				return 1;
			}
		}
		if (request_parse_time(s, out) == 0)
			return 1;
	}
	return arg_bad(req, key, what);
}

static int is_known(const char *key, const char *const known[])
{
	if (strcmp(key, "cmd") == 0 || strcmp(key, "id") == 0)
		return 1;
	for (; known && *known; known++)
		if (strcmp(key, *known) == 0)
			return 1;
	return 0;
}

int request_check_known(struct request *req, const char *const known[])
{
	for (const cJSON *it = req->root ? req->root->child : NULL; it; it = it->next) {
		size_t n;

		if (it->string == NULL || is_known(it->string, known))
			continue;
		snprintf(req->err_code, sizeof(req->err_code), "%s", PROTO_E_INVALID_ARGUMENT);
		n = (size_t)snprintf(req->err_msg, sizeof(req->err_msg),
				     "unknown argument '%.64s' of %.32s", it->string,
				     req->cmd ? req->cmd : "the command");
		for (size_t i = 0; known && known[i] && n < sizeof(req->err_msg); i++)
			n += (size_t)snprintf(req->err_msg + n, sizeof(req->err_msg) - n, "%s%s",
					      i ? ", " : " (it takes ", known[i]);
		if (n < sizeof(req->err_msg))
			snprintf(req->err_msg + n, sizeof(req->err_msg) - n, "%s",
				 known && known[0] ? ")" : " (it takes none)");
		return -EINVAL;
	}
	return 0;
}
