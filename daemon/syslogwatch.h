/* syslogwatch.h: following one phone's system log (com.apple.syslog_relay) for saved reports */
#ifndef JETSAMD_SYSLOGWATCH_H
#define JETSAMD_SYSLOGWATCH_H

#include <stddef.h>

#include "mailbox.h"

/* Longest log line looked at; a longer line is dropped unmatched (saved-report lines are short). */
#define SYSLOGWATCH_LINE_MAX 1024

/*
 * Pure: whether one log line (len bytes, no line end) says the crash reporter saved a report:
 * osanalyticshelper's "Saved type '298(JetsamEvent)' report (N of max 25) at /PATH", or
 * ReportCrash's older "Saved crashreport to /PATH ..." / "Saved crash report ... to /PATH".
 * With name (name_size > 0), the report's file name (the path's last component, cut to
 * name_size - 1 bytes) is written there. Returns 1 or 0.
 */
int syslogwatch_match(const char *line, size_t len, char *name, size_t name_size);

/*
 * One follower: a thread connects to the phone (usbmuxd, lockdown handshake,
 * com.apple.syslog_relay) and ends; the loop then reads the stream (uv_poll on its socket;
 * a TLS stream is read by the thread instead) into a fixed line buffer and posts a
 * MAILBOX_SAVED event (udid by value) to mb for each matching line. Each time the thread
 * ends, and when the follower ends for any reason, it posts MAILBOX_ENDED: the owner then
 * calls syslogwatch_thread_done and looks at syslogwatch_ended. Memory does not grow with
 * the log rate. Every function but the thread's own runs on the loop.
 */
struct syslogwatch;

/* Start following udid (network: reach it over the network). 0 or -errno (no thread). */
int syslogwatch_start(uv_loop_t *loop, struct mailbox *mb, const char *udid, int network,
		      struct syslogwatch **out);
/* Returns at once: the follower stops soon (its sockets are shut down). */
void syslogwatch_stop(struct syslogwatch *w);
/*
 * At a MAILBOX_ENDED (or when events were dropped): when the thread has finished, join it,
 * and start reading on the loop if it handed an open stream over. Harmless at any time.
 */
void syslogwatch_thread_done(struct syslogwatch *w);
/* 1 once the follower has finished (thread joined or not; no handle open). */
int syslogwatch_ended(struct syslogwatch *w);
/*
 * After it ended: why it ended. 1 when the stream was open (it then closed or was stopped),
 * 0 when it could not be opened; err (may be NULL) gets the reason, "" when stopped.
 */
int syslogwatch_result(struct syslogwatch *w, const char **err);
/* Join the thread (after it ended, or it blocks) and free; NULL is a no-op. */
void syslogwatch_free(struct syslogwatch *w);

#endif
