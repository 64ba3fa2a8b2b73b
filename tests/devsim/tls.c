/* tls.c: TLS server over a byte stream with OpenSSL memory BIOs (no socket I/O here) */
#include <errno.h>
#include <stdlib.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "devsim.h"

struct tls {
	SSL *ssl;
	BIO *rbio; /* bytes from the peer, owned by ssl */
	BIO *wbio; /* bytes to the peer, owned by ssl */
};

const char *tls_error(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (!e)
		return "unknown tls error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

struct tls *tls_new(void *ssl_ctx, bool legacy)
{
	struct tls *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ssl = SSL_new(ssl_ctx);
	t->rbio = BIO_new(BIO_s_mem());
	t->wbio = BIO_new(BIO_s_mem());
	if (!t->ssl || !t->rbio || !t->wbio) {
		SSL_free(t->ssl);
		BIO_free(t->rbio);
		BIO_free(t->wbio);
		free(t);
		return NULL;
	}
	if (legacy) {
		/* iOS < 10: libimobiledevice caps the host at TLS 1.0 (protocol.md 3.3) */
		SSL_set_security_level(t->ssl, 0);
		SSL_set_min_proto_version(t->ssl, TLS1_VERSION);
		SSL_set_cipher_list(t->ssl, "DEFAULT:@SECLEVEL=0");
	}
	BIO_set_mem_eof_return(t->rbio, -1);
	SSL_set_bio(t->ssl, t->rbio, t->wbio);
	SSL_set_accept_state(t->ssl);
	return t;
}

void tls_free(struct tls *t)
{
	if (!t)
		return;
	SSL_free(t->ssl);
	free(t);
}

int tls_feed(struct tls *t, const char *data, size_t len)
{
	while (len > 0) {
		int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
		int n = BIO_write(t->rbio, data, chunk);

		if (n <= 0)
			return -ENOMEM;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Run the handshake and decrypt: returns the number of plaintext bytes (0 = need more),
 * or a negative code on a TLS failure. *closed is set when the peer sent close_notify.
 */
int tls_read(struct tls *t, char *buf, size_t len, bool *closed)
{
	int n, e;

	*closed = false;
	n = SSL_read(t->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n > 0)
		return n;
	e = SSL_get_error(t->ssl, n);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	if (e == SSL_ERROR_ZERO_RETURN) {
		*closed = true;
		return 0;
	}
	return -EPROTO;
}

int tls_write(struct tls *t, const char *data, size_t len)
{
	size_t done = 0;

	while (done < len) {
		size_t left = len - done;
		int n = SSL_write(t->ssl, data + done, left > INT32_MAX ? INT32_MAX : (int)left);

		if (n <= 0)
			return -EPROTO;
		done += (size_t)n;
	}
	return 0;
}

size_t tls_pending_out(struct tls *t)
{
	return BIO_ctrl_pending(t->wbio);
}

size_t tls_take_out(struct tls *t, char *buf, size_t len)
{
	int n = BIO_read(t->wbio, buf, len > INT32_MAX ? INT32_MAX : (int)len);

	return n > 0 ? (size_t)n : 0;
}

int tls_shutdown(struct tls *t)
{
	return SSL_shutdown(t->ssl) < 0 ? -EPROTO : 0;
}

bool tls_handshake_done(struct tls *t)
{
	return SSL_is_init_finished(t->ssl);
}

const char *tls_version(struct tls *t)
{
	return SSL_get_version(t->ssl);
}

/* raw bytes the peer sent after its close_notify (plaintext lockdown frames) */
size_t tls_take_leftover(struct tls *t, char *buf, size_t len)
{
	int n = BIO_read(t->rbio, buf, len > INT32_MAX ? INT32_MAX : (int)len);

	return n > 0 ? (size_t)n : 0;
}
