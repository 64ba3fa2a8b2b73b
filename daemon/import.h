/* import.h: the import command (a header line, then raw report bytes) */
#ifndef JETSAMD_IMPORT_H
#define JETSAMD_IMPORT_H

#include <stddef.h>

#include "ipc.h"

struct api_ctx;
struct request;

/* The header: checks size and name, then asks ipc for the raw bytes. */
enum ipc_outcome import_request(struct api_ctx *a, struct ipc_client *c, struct request *req);
/* The bytes (buf is malloc'ed and handed over): archive, parse, commit, then reply. */
enum ipc_outcome import_raw(struct api_ctx *a, struct ipc_client *c, void *buf, size_t len);

#endif
