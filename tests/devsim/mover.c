/* mover.c: com.apple.crashreportmover: moves pending/ into CrashReporter/, then pings */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devsim.h"

static const char mover_ping[5] = {'p', 'i', 'n', 'g', '\0'};

static int move_tree(const char *src, const char *dst, unsigned *moved, int depth)
{
	DIR *d;
	struct dirent *e;
	int r = 0;

	if (depth > 32)
		return -ELOOP;
	d = opendir(src);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		char s[4096], t[4096];
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (snprintf(s, sizeof(s), "%s/%s", src, e->d_name) >= (int)sizeof(s) ||
		    snprintf(t, sizeof(t), "%s/%s", dst, e->d_name) >= (int)sizeof(t)) {
			r = -ENAMETOOLONG;
			continue;
		}
		if (lstat(s, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (mkdir(t, 0755) < 0 && errno != EEXIST) {
				r = -errno;
				continue;
			}
			if (move_tree(s, t, moved, depth + 1) < 0)
				r = -EIO;
			rmdir(s);
		} else if (rename(s, t) < 0) {
			r = -errno;
		} else {
			(*moved)++;
		}
	}
	closedir(d);
	return r;
}

int mover_move_pending(struct phone *p, unsigned *moved)
{
	char src[4096];

	*moved = 0;
	if (snprintf(src, sizeof(src), "%s/pending", p->dir) >= (int)sizeof(src))
		return -ENAMETOOLONG;
	return move_tree(src, p->crash_dir, moved, 0);
}

void mover_start(struct conn *c)
{
	struct phone *p = c->phone;
	unsigned moved = 0;
	int r;
	char *d;
	void *w;

	if (p->mover == MOVER_CLOSE) {
		log_msg("conn %u mover %s: fault: closing without moving", c->id, p->udid);
		conn_close(c, "mover fault close");
		return;
	}
	r = mover_move_pending(p, &moved);
	if (r < 0)
		log_err("conn %u mover %s: cannot move all pending reports: %s", c->id, p->udid,
			strerror(-r));
	log_msg("conn %u mover %s: moved %u reports%s", c->id, p->udid, moved,
		p->mover == MOVER_NONE	 ? ", fault: no ping"
		: p->mover == MOVER_SLOW ? ", fault: slow ping"
					 : "");
	if (p->mover == MOVER_NONE)
		return;
	w = conn_wbuf_new(sizeof(mover_ping), &d);
	if (!w) {
		conn_close(c, "out of memory");
		return;
	}
	memcpy(d, mover_ping, sizeof(mover_ping));
	if (p->mover == MOVER_SLOW)
		conn_delay(c, p->mover_slow_ms, w);
	else
		conn_wbuf_send(c, w);
}
