/* metrics_proc.c: reads the process_* metrics (CPU, memory, fds, start time) from /proc/self */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "metrics_proc.h"

int metrics_proc_parse_stat(const char *stat, long ticks, long page_size, double btime,
			    struct metrics_process *out)
{
	const char *p = strrchr(stat, ')'); /* the command name may hold spaces and ')' */
	unsigned long long v[22];
	int n = 0;

	if (p == NULL || ticks <= 0)
		return -EINVAL;
	p++;
	/* fields 3.. : the state letter, then numbers; we need up to field 24 (rss) */
	while (*p == ' ')
		p++;
	if (*p == '\0' || p[1] != ' ')
		return -EINVAL;
	p += 2;
	for (n = 1; n < 22; n++) {
		char *end;

		errno = 0;
		if (*p == '-') /* a negative field (priority, nice): not one we use */
			p++;
		v[n] = strtoull(p, &end, 10);
		if (end == p || errno != 0)
			return -EINVAL;
		p = end;
		while (*p == ' ')
			p++;
	}
	/* v[k] is field k + 3: utime 14, stime 15, starttime 22, vsize 23, rss 24 */
	out->cpu_seconds = (double)(v[11] + v[12]) / (double)ticks;
	out->start_time = btime + (double)v[19] / (double)ticks;
	out->virtual_bytes = (double)v[20];
	out->resident_bytes = (double)v[21] * (double)page_size;
	return 0;
}

static int read_text(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	size_t len = 0;

	if (fd < 0)
		return -errno;
	while (len + 1 < cap && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return 0;
}

/* The boot time: /proc/stat's btime, or (ProcSubset=pid hides it) now - CLOCK_BOOTTIME. */
static double boot_time(void)
{
	char buf[8192];
	const char *p;
	struct timespec up, now;

	if (read_text("/proc/stat", buf, sizeof(buf)) == 0 && (p = strstr(buf, "\nbtime ")) != NULL)
		return strtod(p + 7, NULL);
	if (clock_gettime(CLOCK_BOOTTIME, &up) < 0 || clock_gettime(CLOCK_REALTIME, &now) < 0)
		return 0;
	return (double)(now.tv_sec - up.tv_sec) + (double)(now.tv_nsec - up.tv_nsec) / 1e9;
}

static int64_t count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int64_t n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n > 0 ? n - 1 : 0; /* not the directory's own fd */
}

void metrics_proc_read(struct metrics_process *out)
{
	char stat[1024];
	struct rlimit rl;

	memset(out, 0, sizeof(*out));
	if (read_text("/proc/self/stat", stat, sizeof(stat)) < 0 ||
	    metrics_proc_parse_stat(stat, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), boot_time(),
				    out) < 0)
		return;
	out->open_fds = count_fds();
	out->max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
			       ? (int64_t)rl.rlim_cur
			       : -1;
	out->valid = out->open_fds >= 0;
}
