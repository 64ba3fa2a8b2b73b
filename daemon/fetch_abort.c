/* fetch_abort.c: a job's phone sockets, which another thread may shutdown(2) to end a blocked read
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <libimobiledevice/libimobiledevice.h>

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

/*
 * libimobiledevice 1.3.0 has no getter for a client's connection: its service client, and
 * the property list service, lockdown and AFC clients, are private structs whose first
 * member is the connection (service) or the parent client (the others), so the connection
 * is levels pointers down. Anything but a socket is refused.
 */
int fetch_abort_client_fd(void *client, int levels)
{
	struct stat st;
	void *p = client;
	int fd = -1;

	for (int i = 0; i < levels && p != NULL; i++)
		p = *(void **)p;
	if (p == NULL || idevice_connection_get_fd((idevice_connection_t)p, &fd) != 0 || fd < 0 ||
	    fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return -1;
	return fd;
}
