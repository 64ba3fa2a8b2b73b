/* request.h: decoding and checking one protocol request line (pure, no uv.h) */
#ifndef JETSAMD_REQUEST_H
#define JETSAMD_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define REQUEST_MAX_DEPTH 8

/* Error codes of proto/PROTOCOL.md, as strings in replies */
#define REQ_E_BAD_REQUEST     "bad_request"
#define REQ_E_UNKNOWN_COMMAND "unknown_command"
#define REQ_E_VERSION	      "version_mismatch"
#define REQ_E_TOO_LARGE	      "too_large"
#define REQ_E_NOT_FOUND	      "not_found"
#define REQ_E_INTERNAL	      "internal"

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

/* Parse "YYYY-MM-DDTHH:MM:SS[.fff]Z" or "+HH:MM"; returns 0 or -EINVAL. */
int request_parse_time(const char *s, int64_t *out);

#endif
