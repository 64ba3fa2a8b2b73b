/* trim.c: give freed heap back to the system from a worker thread, never on the loop */
#include <malloc.h>
#include <stdlib.h>

#include "log.h"
#include "trim.h"

static uv_work_t trim_req;
static int trim_busy; /* loop thread only */

static void trim_work_cb(uv_work_t *req)
{
	(void)req;
	malloc_trim(0);
}

static void trim_after_cb(uv_work_t *req, int status)
{
	(void)req;
	(void)status;
	trim_busy = 0;
}

void trim_heap_soon(uv_loop_t *loop)
{
	int r;

	if (trim_busy)
		return;
	r = uv_queue_work(loop, &trim_req, trim_work_cb, trim_after_cb);
	if (r < 0) {
		log_debug("trim", "cannot queue a heap trim: %s", uv_strerror(r));
		return;
	}
	trim_busy = 1;
}
