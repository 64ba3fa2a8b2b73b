/* svctls.c: EnableServiceSSL: a TLS server on a service connection, then its protocol inside */
#include <errno.h>
#include <stdlib.h>

#include "devsim.h"

/*
 * StartService answered EnableServiceSSL = true: the host runs a TLS handshake on the new
 * connection (libimobiledevice: service_client_new -> service_enable_ssl) with the pairing's
 * certificates, as for lockdown's StartSession. The server is the same as lockdown's (the
 * device certificate, no client certificate asked for, TLS 1.0 also below iOS 10). The
 * service (mover, AFC) starts once the handshake is done, so the mover's ping is the first
 * record after it. Bytes in are decrypted into the connection's input buffer; conn_wbuf_send
 * passes plaintext here and the records go out with conn_wbuf_send_raw (through the link).
 * After the host's close_notify, what it sends is ignored.
 */
struct svctls {
	struct tls *tls;
	enum service_kind kind;
	bool started;
	bool closed;
};

static char svc_plainbuf[64 * 1024];

void svctls_free(struct svctls *s)
{
	if (!s)
		return;
	tls_free(s->tls);
	free(s);
}

int svctls_start(struct conn *c, enum service_kind kind)
{
	struct svctls *s = calloc(1, sizeof(*s));

	if (s)
		s->tls = tls_new(pairkeys_ssl_ctx(c->ds->keys),
				 atoi(c->phone->product_version) < 10);
	if (!s || !s->tls) {
		free(s);
		conn_close(c, "cannot create tls session");
		return -ENOMEM;
	}
	s->kind = kind;
	c->svc = s;
	return 0;
}

/* the TLS records queued by OpenSSL, out */
static int svc_flush(struct conn *c)
{
	return conn_send_tls(c, c->svc->tls);
}

static int svc_failed(struct conn *c)
{
	const char *e = tls_error();

	svc_flush(c); /* the alert, if any */
	log_err("conn %u %s %s: tls failed: %s", c->id, conn_kind_name(c->kind), c->phone->udid, e);
	conn_close(c, "tls failed");
	return -EPROTO;
}

int svctls_feed(struct conn *c, const char *data, size_t len)
{
	struct svctls *s = c->svc;
	bool closed = false;
	int n;

	if (s->closed)
		return 0;
	if (tls_feed(s->tls, data, len) < 0) {
		conn_close(c, "out of memory");
		return -ENOMEM;
	}
	while ((n = tls_read(s->tls, svc_plainbuf, sizeof(svc_plainbuf), &closed)) > 0)
		if (conn_append(c, svc_plainbuf, (size_t)n) < 0)
			return -ENOMEM;
	if (n < 0)
		return svc_failed(c);
	if (svc_flush(c) < 0)
		return -EPIPE;
	if (closed) {
		s->closed = true;
		if (c->ds->verbose)
			log_msg("conn %u %s %s: tls closed by the host", c->id,
				conn_kind_name(c->kind), c->phone->udid);
	}
	if (!s->started && tls_handshake_done(s->tls)) {
		s->started = true;
		log_msg("conn %u %s %s: service tls %s", c->id, conn_kind_name(c->kind),
			c->phone->udid, tls_version(s->tls));
		usbmux_service_start(c, s->kind);
		if (c->closing)
			return -EPIPE;
	}
	return 0;
}

int svctls_write(struct conn *c, const char *data, size_t len)
{
	if (c->svc->closed)
		return 0; /* the host has closed its side: nobody reads this */
	if (tls_write(c->svc->tls, data, len) < 0)
		return svc_failed(c);
	return svc_flush(c);
}
