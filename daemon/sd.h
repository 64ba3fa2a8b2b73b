/* sd.h: systemd integration: sd_notify states and socket activation (libsystemd or built-in) */
#ifndef JETSAMD_SD_H
#define JETSAMD_SD_H

#include <stdint.h>

/*
 * With HAVE_LIBSYSTEMD these call libsystemd; otherwise a small built-in fallback speaks
 * NOTIFY_SOCKET and reads LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES itself. Both behave the
 * same: nothing happens when the variables are absent.
 */

/*
 * Send one state ("READY=1", "STATUS=...") to the service manager without blocking: 0, or
 * -errno; -EAGAIN when the manager has not read the datagrams before it (its queue is
 * full), to be sent again later (daemon/notify.c does so for the loop). A NOTIFY_SOCKET
 * that is neither a path nor "@name" (systemd 253's vsock:) goes through libsystemd's
 * sd_notify(), which may wait, or is -EINVAL without libsystemd.
 */
int sd_notify_state(const char *state);

/*
 * Take the activated listening socket: the fd named "control", or the only one passed.
 * Other passed fds are closed (and logged). Unsets the LISTEN_* variables.
 * Returns the fd (>= 3), -ENOENT when none was passed, or -errno (-EINVAL: not a
 * listening Unix stream socket).
 */
int sd_listen_control(void);
/*
 * The same for both of jetsamd's activated sockets: *control as sd_listen_control() returns
 * it (one fd passed without a name other than "metrics" is the control socket), *metrics the
 * fd named "metrics" (jetsamd-metrics.socket), which must be a listening TCP socket
 * (-EINVAL otherwise, -ENOENT when none). Other fds are closed. Unsets LISTEN_*.
 */
void sd_listen_sockets(int *control, int *metrics);

/* WATCHDOG_USEC for this process, 0 when the watchdog is off. */
uint64_t sd_watchdog_usec(void);

#endif
