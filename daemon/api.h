/* api.h: the request handlers of the socket protocol (proto/PROTOCOL.md) */
#ifndef JETSAMD_API_H
#define JETSAMD_API_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "api_common.h"
#include "ipc.h"

/* One request line (NUL-terminated at line[len]). */
enum ipc_outcome api_request(struct api_ctx *a, struct ipc_client *c, const char *line, size_t len);
/* The raw bytes announced by an import (buf is malloc'ed and handed over). */
enum ipc_outcome api_raw(struct api_ctx *a, struct ipc_client *c, void *buf, size_t len);
/* The client is closing: cancel what waits for it. */
void api_client_gone(struct api_ctx *a, struct ipc_client *c);

#endif
