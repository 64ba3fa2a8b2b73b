/* clock.h: the daemon's one monotonic millisecond clock (durations, deadlines) */
#ifndef JETSAMD_CLOCK_H
#define JETSAMD_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds of CLOCK_MONOTONIC: for durations and deadlines, never for dates. */
static inline uint64_t clock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif
