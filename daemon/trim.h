/* trim.h: give freed heap back to the system from a worker thread, never on the loop */
#ifndef JETSAMD_TRIM_H
#define JETSAMD_TRIM_H

#include <uv.h>

/*
 * Run malloc_trim(0) on libuv's thread pool (it walks every malloc arena and can take tens
 * of milliseconds after big reports). At most one runs at a time; a call while one is
 * queued or running does nothing. Loop thread only.
 */
void trim_heap_soon(uv_loop_t *loop);

#endif
