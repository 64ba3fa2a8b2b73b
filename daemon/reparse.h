/* reparse.h: the reparse command (every archived report through the current parser) */
#ifndef JETSAMD_REPARSE_H
#define JETSAMD_REPARSE_H

#include "ipc.h"

struct api_ctx;
struct request;

/* Start a reparse (one at a time); the reply comes when every batch is committed. */
enum ipc_outcome reparse_request(struct api_ctx *a, struct ipc_client *c, struct request *req);

#endif
