/* fetch_abort.h: a job's phone sockets, which another thread may shutdown(2) to end a blocked read
 */
#ifndef JETSAMD_FETCH_ABORT_H
#define JETSAMD_FETCH_ABORT_H

#include <pthread.h>

/*
 * The sockets of a running job's phone connections, so that another thread (the loop, on
 * stop or detach) can shutdown(2) them: a read blocked in libimobiledevice (30 s per reply
 * in 1.3.0) then fails at once. The worker registers a socket before it talks on it and
 * removes it before the library closes it (both under mu, so a socket is never cut after
 * its number is closed and reused). Safe on any thread.
 */
#define FETCH_ABORT_FDS 4
struct fetch_abort {
	pthread_mutex_t mu;
	int fd[FETCH_ABORT_FDS]; /* -1 = free slot */
	int aborted;		 /* set by fetch_abort_now: later sockets are cut at once */
};

void fetch_abort_init(struct fetch_abort *a);
void fetch_abort_release(struct fetch_abort *a);
/* Cut every registered socket now, and every one registered after this. */
void fetch_abort_now(struct fetch_abort *a);
/* Whether fetch_abort_now was called (a NULL a: never). */
int fetch_abort_is_set(struct fetch_abort *a);
/* Register fd (a NULL a or fd < 0: nothing); returns fd, or -1 when nothing was registered. */
int fetch_abort_add(struct fetch_abort *a, int fd);
/* Unregister fd (-1: nothing), before it is closed. */
void fetch_abort_del(struct fetch_abort *a, int fd);

#endif
