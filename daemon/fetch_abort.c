/* fetch_abort.c: a job's phone sockets, which another thread may shutdown(2) to end a blocked read
 */
#include <sys/socket.h>

#include "fetch_abort.h"

void fetch_abort_init(struct fetch_abort *a)
{
	pthread_mutex_init(&a->mu, NULL);
	for (int i = 0; i < FETCH_ABORT_FDS; i++)
		a->fd[i] = -1;
	a->aborted = 0;
}

void fetch_abort_release(struct fetch_abort *a)
{
	pthread_mutex_destroy(&a->mu);
}

void fetch_abort_now(struct fetch_abort *a)
{
	pthread_mutex_lock(&a->mu);
	a->aborted = 1;
	for (int i = 0; i < FETCH_ABORT_FDS; i++)
		if (a->fd[i] >= 0)
			shutdown(a->fd[i], SHUT_RDWR);
	pthread_mutex_unlock(&a->mu);
}

int fetch_abort_is_set(struct fetch_abort *a)
{
	int r;

	if (a == NULL)
		return 0;
	pthread_mutex_lock(&a->mu);
	r = a->aborted;
	pthread_mutex_unlock(&a->mu);
	return r;
}

int fetch_abort_add(struct fetch_abort *a, int fd)
{
	int added = 0;

	if (a == NULL || fd < 0)
		return -1;
	pthread_mutex_lock(&a->mu);
	for (int i = 0; i < FETCH_ABORT_FDS && !added; i++) {
		if (a->fd[i] < 0) {
			a->fd[i] = fd;
			added = 1;
		}
	}
	if (a->aborted)
		shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&a->mu);
	return added ? fd : -1;
}

void fetch_abort_del(struct fetch_abort *a, int fd)
{
	if (a == NULL || fd < 0)
		return;
	pthread_mutex_lock(&a->mu);
	for (int i = 0; i < FETCH_ABORT_FDS; i++)
		if (a->fd[i] == fd)
			a->fd[i] = -1;
	pthread_mutex_unlock(&a->mu);
}
