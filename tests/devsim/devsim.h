/* devsim.h: shared types of devsim, the simulated usbmuxd with simulated iPhones */
#ifndef DEVSIM_DEVSIM_H
#define DEVSIM_DEVSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct pairkeys;
struct tls;
struct lockdown;
struct afc;
struct linkq;
struct syslogd;
struct svctls;

#define DEVSIM_LOCKDOWN_PORT	  62078
#define DEVSIM_FIRST_SERVICE_PORT 49200
#define DEVSIM_MAX_PORTS	  16
#define DEVSIM_UDID_MAX		  44
#define DEVSIM_SYSLOG_RATE	  4 /* background syslog_relay lines per second */

enum trust {
	TRUST_PAIRED,
	TRUST_UNPAIRED,
	TRUST_PENDING,
	TRUST_DENIED,
};

enum service_kind {
	SERVICE_NONE,
	SERVICE_MOVER,
	SERVICE_COPYMOBILE,
	SERVICE_SYSLOG,
};

enum mover_fault {
	MOVER_OK,
	MOVER_NONE,
	MOVER_CLOSE,
	MOVER_SLOW,
};

struct service_port {
	uint16_t port;
	enum service_kind kind;
	bool ssl; /* StartService answered EnableServiceSSL: TLS first on this connection */
};

/* one simulated phone: a DEVICE_DIR with device.json, CrashReporter/ and pending/ */
struct phone {
	struct phone *prev, *next;
	struct devsim *ds;
	char udid[DEVSIM_UDID_MAX];
	char *product_type;
	char *product_version;
	char *build_version;
	char *device_name;
	char *dir;	 /* DEVICE_DIR as given */
	char *crash_dir; /* DEVICE_DIR/CrashReporter */
	char *record_path;
	enum trust trust;
	bool locked;
	bool network;
	bool service_ssl; /* EnableServiceSSL for the crash report services */
	uint32_t device_id;
	/* usbmuxd side: the host pair record kept for this UDID (XML), or NULL */
	char *record;
	size_t record_len;
	char record_host_id[64];
	/* device side: HostID accepted by the last successful Pair */
	char paired_host_id[64];
	struct service_port ports[DEVSIM_MAX_PORTS];
	int nports;
	uint16_t next_port;
	/* faults */
	int64_t drop_after; /* < 0: none */
	uint64_t stall_ms;
	bool stall_forever;  /* AFC replies are held until the connection closes */
	int64_t stall_after; /* < 0: none; else file bytes before an AFC connection stalls */
	unsigned
		deep_fanout; /* 0: none; else subdirectories per level of CrashReporter/deep-tree */
	enum mover_fault mover;
	uint64_t mover_slow_ms;
	/* link emulation: when this phone's USB pipe is free again (uv_hrtime ns) */
	uint64_t link_busy;
	/* syslog_relay: open streams, crash directory watch (syslog.c) */
	struct syslogd *syslog;
};

enum conn_kind {
	CONN_MUX,
	CONN_LOCKDOWN,
	CONN_MOVER,
	CONN_AFC,
	CONN_CONTROL,
	CONN_SYSLOG,
};

/* one accepted stream connection, on the usbmuxd socket or on the control socket */
struct conn {
	uv_pipe_t pipe;
	uv_timer_t timer;
	struct conn *prev, *next;
	struct devsim *ds;
	unsigned id;
	enum conn_kind kind;
	struct phone *phone;
	char *in;
	size_t in_off, in_len, in_cap;
	bool closing;
	bool hold;	  /* stop processing input (a reply is being delayed) */
	bool read_paused; /* too much output queued */
	bool listening;
	bool eof;
	bool close_after_link; /* close once the emulated link has delivered the output */
	int handles_open;
	uint64_t nmsg;
	uint64_t bytes_in, bytes_out;
	char reason[160];
	struct lockdown *ld;
	struct afc *afc;
	struct svctls *svc; /* service TLS (EnableServiceSSL), svctls.c */
	void *held;	    /* a delayed write (struct wreq) */
	/* link emulation (link.c): bytes on their way to the host / to the phone */
	struct linkq *link;
	/* syslog_relay streams of one phone */
	struct conn *syslog_prev, *syslog_next;
};

/* emulated USB link (--link, --latency, --bandwidth, --bus-bandwidth); all 0 = loopback */
struct link_params {
	uint64_t latency_ns;	/* round trip: half on the way in, half on the way out */
	uint64_t bandwidth;	/* bytes/s per phone, both directions together; 0 = unlimited */
	uint64_t bus_bandwidth; /* bytes/s of all phones together; 0 = unlimited */
};

struct devsim {
	uv_loop_t *loop;
	uv_pipe_t mux_listener;
	uv_pipe_t ctl_listener;
	uv_signal_t sigterm, sigint;
	bool have_mux, have_ctl;
	const char *socket_path;
	const char *control_path;
	bool verbose;
	bool stopping;
	struct phone *phones, *phones_tail;
	struct conn *conns;
	uint32_t next_device_id;
	unsigned next_conn_id;
	struct pairkeys *keys;
	char buid[40];
	struct link_params link;
	uint64_t bus_busy;    /* when the shared bus is free again (uv_hrtime ns) */
	unsigned syslog_rate; /* background syslog lines per second per stream */
	bool service_ssl;     /* --service-ssl: the default of phones attached */
};

/* log.c */
void log_init(void);
void log_set_quiet(bool quiet);
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* conn.c */
int conn_accept(struct devsim *ds, uv_stream_t *server, enum conn_kind kind);
/* wrap a connected stream fd (tests and fuzzing); the conn owns fd */
int conn_open_fd(struct devsim *ds, int fd, enum conn_kind kind, struct conn **out);
void conn_close(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int conn_write(struct conn *c, const void *data, size_t len);
int conn_append(struct conn *c, const char *data, size_t len);
void *conn_wbuf_new(size_t len, char **data);
void conn_wbuf_free(void *w);
void conn_wbuf_trim(void *w, size_t len);
int conn_wbuf_send(struct conn *c, void *w);
/* send w as it is, past the service TLS (its records) */
int conn_wbuf_send_raw(struct conn *c, void *w);
/* the TLS records t has queued, out as they are (never through the service's TLS); 0 or
 * -errno (the connection is closed at ENOMEM) */
int conn_send_tls(struct conn *c, struct tls *t);
void conn_process(struct conn *c);
const char *conn_kind_name(enum conn_kind kind);
void conn_close_phone(struct devsim *ds, struct phone *p);
void conn_close_all(struct devsim *ds);
void conn_delay(struct conn *c, uint64_t ms, void *w);
/* hold w (and all further input) until the connection closes */
void conn_hold(struct conn *c, void *w);
/* bytes queued for the host: in the stream's write queue and on the emulated link */
size_t conn_out_pending(struct conn *c);
/* a write that has crossed the emulated link; bytes that have crossed it to the phone */
int conn_write_now(struct conn *c, void *w);
void conn_input(struct conn *c, const char *data, size_t len);
void conn_close_after_link(struct conn *c, const char *reason);

/* link.c */
int link_parse_duration(const char *s, uint64_t *ns);
int link_parse_rate(const char *s, uint64_t *bytes_per_s);
int link_preset(const char *name, struct link_params *lp);
void link_describe(const struct link_params *lp, char *out, size_t outlen);
bool link_applies(const struct conn *c);
int link_send(struct conn *c, void *w, size_t len);
int link_receive(struct conn *c, const char *data, size_t len);
size_t link_pending_out(const struct conn *c);
size_t link_pending_in(const struct conn *c);
void link_close(struct conn *c);

/* usbmux.c */
size_t usbmux_handle(struct conn *c, const char *data, size_t len);
void usbmux_broadcast_attached(struct devsim *ds, struct phone *p);
void usbmux_broadcast_detached(struct devsim *ds, struct phone *p);
void usbmux_broadcast_paired(struct devsim *ds, struct phone *p);
/* run the service of a connected service port (after its TLS handshake, if any) */
void usbmux_service_start(struct conn *c, enum service_kind kind);

/* svctls.c: EnableServiceSSL, a TLS server on a service connection before its protocol */
int svctls_start(struct conn *c, enum service_kind kind);
int svctls_feed(struct conn *c, const char *data, size_t len);
int svctls_write(struct conn *c, const char *data, size_t len);
void svctls_free(struct svctls *s);

/* lockdown.c */
void lockdown_start(struct conn *c);
size_t lockdown_handle(struct conn *c, const char *data, size_t len);
int lockdown_feed(struct conn *c, const char *data, size_t len);
void lockdown_free(struct lockdown *ld);

/* mover.c */
void mover_start(struct conn *c);
int mover_move_pending(struct phone *p, unsigned *moved);

/* afc.c */
int afc_start(struct conn *c);
size_t afc_handle(struct conn *c, const char *data, size_t len);
void afc_free(struct afc *a);

/* syslog.c */
void syslog_start(struct conn *c);
void syslog_conn_closed(struct conn *c);

/* control.c */
size_t control_handle(struct conn *c, const char *data, size_t len);

/* phone.c */
int phone_attach(struct devsim *ds, const char *dir, char *err, size_t errlen);
int phone_detach(struct devsim *ds, struct phone *p);
struct phone *phone_by_udid(struct devsim *ds, const char *udid);
struct phone *phone_by_id(struct devsim *ds, uint32_t id);
const char *phone_trust_name(enum trust t);
int phone_trust_parse(const char *s, enum trust *t);
int phone_add_port(struct phone *p, enum service_kind kind, bool ssl, uint16_t *port);
enum service_kind phone_take_port(struct phone *p, uint16_t port, bool *ssl);
int phone_get_record(struct phone *p, const char **data, size_t *len);
int phone_save_record(struct phone *p, const char *data, size_t len);
int phone_delete_record(struct phone *p);
void phone_free_all(struct devsim *ds);
void phone_wifi_address(const struct phone *p, char *out, size_t outlen);
void phone_serial_number(const struct phone *p, char *out, size_t outlen);

/* pairrec.c */
struct pairkeys *pairkeys_new(void);
void pairkeys_free(struct pairkeys *k);
int pairkeys_record(struct pairkeys *k, const char *host_id, const char *buid, const char *wifi,
		    char **xml, size_t *len);
const char *pairkeys_device_public_pem(struct pairkeys *k, size_t *len);
void *pairkeys_ssl_ctx(struct pairkeys *k);
void pairkeys_uuid(char out[37]);

/* tls.c */
/* legacy: also accept TLS 1.0/1.1 at security level 0, as iOS before 10 */
struct tls *tls_new(void *ssl_ctx, bool legacy);
void tls_free(struct tls *t);
/* raw bytes from the peer in; tls_read() returns plaintext, tls_take_out() bytes to send */
int tls_feed(struct tls *t, const char *data, size_t len);
int tls_read(struct tls *t, char *buf, size_t len, bool *closed);
int tls_write(struct tls *t, const char *data, size_t len);
size_t tls_pending_out(struct tls *t);
size_t tls_take_out(struct tls *t, char *buf, size_t len);
int tls_shutdown(struct tls *t);
size_t tls_take_leftover(struct tls *t, char *buf, size_t len);
bool tls_handshake_done(struct tls *t);
const char *tls_version(struct tls *t);
const char *tls_error(void);

#endif
