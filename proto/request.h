/* request.h: decoding and checking one protocol request line (pure, no uv.h) */
#ifndef JETSAMD_PROTO_REQUEST_H
#define JETSAMD_PROTO_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "protocol.h"

#define REQUEST_MAX_DEPTH 8

struct request {
	cJSON *root;	 /* owned */
	const cJSON *id; /* in root, NULL when absent */
	const char *cmd; /* in root */
	char err_code[32];
	char err_msg[256];
};

/*
 * Decode one line. Returns 0 with req->root/cmd set, or a positive 1 with err_code and
 * err_msg set (bad_request); req->id is set whenever the line held a usable id, so that the
 * error reply can echo it. Returns -ENOMEM when out of memory. request_release() always.
 */
int request_decode(struct request *req, const char *line, size_t len);
void request_release(struct request *req);

/*
 * Typed arguments. Each returns 0 (absent: *out untouched) or 1 (present: *out set), or
 * -EINVAL with err_msg set when the argument has the wrong type or value.
 */
int request_string(struct request *req, const char *key, const char **out);
int request_bool(struct request *req, const char *key, int *out);
int request_int(struct request *req, const char *key, int64_t min, int64_t max, int64_t *out);
/* TIME ("2026-11-23T10:00:00Z") or epoch seconds (number or digits) */
int request_time(struct request *req, const char *key, int64_t *out);

/*
 * Strict arguments: 0 when every member of the request is "cmd", "id" or one of known
 * (NULL-terminated; NULL: none), else -EINVAL with err_code invalid_argument and err_msg
 * naming the first other one ("unknown argument 'proces'") and cmd's known arguments.
 */
int request_check_known(struct request *req, const char *const known[]);

/* isotime_parse() of a time from 1970 on (the year is at least 1970); 0 or -EINVAL. */
int request_parse_time(const char *s, int64_t *out);

#endif
