/* metrics_proc.h: the process_* metrics of jetsamd itself, from /proc/self (no uv.h) */
#ifndef JETSAMD_METRICS_PROC_H
#define JETSAMD_METRICS_PROC_H

#include "metrics_text.h"

/*
 * From the text of /proc/self/stat: CPU time (utime + stime over ticks per second), virtual
 * and resident size (rss pages of page_size bytes) and the start time (starttime ticks
 * after boot, boot at btime). 0, or -EINVAL when the text is not a stat line.
 */
int metrics_proc_parse_stat(const char *stat, long ticks, long page_size, double btime,
			    struct metrics_process *out);
/* Read the process metrics now; out->valid is 0 when /proc/self cannot be read. */
void metrics_proc_read(struct metrics_process *out);

#endif
