/* api.h: the request handlers of the socket protocol (proto/PROTOCOL.md) */
#ifndef JETSAMD_API_H
#define JETSAMD_API_H

#include <stddef.h>

struct daemon;
struct ipc_client;

enum api_outcome {
	API_DONE,    /* answered; the next request may be read */
	API_PENDING, /* the reply comes later: the api calls ipc_client_resume() */
};

/* One request line (NUL-terminated at line[len]). */
enum api_outcome api_request(struct daemon *d, struct ipc_client *c, const char *line, size_t len);
/* The raw bytes announced by an import (buf is malloc'ed and handed over). */
enum api_outcome api_raw(struct daemon *d, struct ipc_client *c, void *buf, size_t len);
/* The client is closing: cancel what waits for it. */
void api_client_gone(struct daemon *d, struct ipc_client *c);
/* Work items (import, reparse) still running on the thread pool. */
unsigned api_jobs_running(void);

#endif
