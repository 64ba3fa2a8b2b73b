/* pairrec.c: RSA-2048 keys, SHA-256 certificates and pair records of devsim, TLS context */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <plist/plist.h>

#include "devsim.h"

/*
 * One key set per devsim process: root, host and device keys. Every phone's pair record
 * carries the same certificates with its own HostID, so attaching a phone costs no RSA
 * key generation. Nobody verifies the chain (protocol.md 3.5), and the TLS server never
 * asks for a client certificate, so records cached by an earlier devsim run stay valid.
 */
struct pairkeys {
	EVP_PKEY *root_key, *host_key, *device_key;
	X509 *root_cert, *host_cert, *device_cert;
	char *root_cert_pem, *host_cert_pem, *device_cert_pem;
	char *root_key_pem, *host_key_pem, *device_pub_pem;
	size_t root_cert_len, host_cert_len, device_cert_len;
	size_t root_key_len, host_key_len, device_pub_len;
	SSL_CTX *ssl_ctx;
};

static char *bio_take(BIO *b, size_t *len)
{
	char *mem = NULL;
	long n = BIO_get_mem_data(b, &mem);
	char *out;

	if (n <= 0)
		return NULL;
	out = malloc((size_t)n + 1);
	if (!out)
		return NULL;
	memcpy(out, mem, (size_t)n);
	out[n] = '\0';
	*len = (size_t)n;
	return out;
}

static char *cert_pem(X509 *x, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b && PEM_write_bio_X509(b, x))
		s = bio_take(b, len);
	BIO_free(b);
	return s;
}

static char *key_pem(EVP_PKEY *k, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL))
		s = bio_take(b, len);
	BIO_free(b);
	return s;
}

/* "-----BEGIN RSA PUBLIC KEY-----" (PKCS#1), what lockdownd's DevicePublicKey holds */
static char *pubkey_pkcs1_pem(EVP_PKEY *k, size_t *len)
{
	OSSL_ENCODER_CTX *ctx;
	unsigned char *data = NULL;
	size_t dlen = 0;
	char *s = NULL;

	ctx = OSSL_ENCODER_CTX_new_for_pkey(k, OSSL_KEYMGMT_SELECT_PUBLIC_KEY, "PEM",
					    "type-specific", NULL);
	if (!ctx)
		return NULL;
	if (OSSL_ENCODER_to_data(ctx, &data, &dlen) && dlen > 0) {
		s = malloc(dlen + 1);
		if (s) {
			memcpy(s, data, dlen);
			s[dlen] = '\0';
			*len = dlen;
		}
	}
	OPENSSL_free(data);
	OSSL_ENCODER_CTX_free(ctx);
	return s;
}

static int cert_add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return -EINVAL;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -EINVAL;
}

static X509 *cert_make(EVP_PKEY *subject_key, EVP_PKEY *sign_key, X509 *issuer, long serial,
		       bool ca)
{
	X509 *x = X509_new();

	if (!x)
		return NULL;
	if (!X509_set_version(x, 2) || !ASN1_INTEGER_set(X509_get_serialNumber(x), serial) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 60L * 60 * 24 * 365 * 10) ||
	    !X509_set_pubkey(x, subject_key))
		goto fail;
	if (issuer && !X509_set_issuer_name(x, X509_get_subject_name(issuer)))
		goto fail;
	if (ca) {
		if (cert_add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") < 0)
			goto fail;
	} else {
		if (cert_add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
		    cert_add_ext(x, issuer, NID_key_usage,
				 "critical,digitalSignature,keyEncipherment") < 0)
			goto fail;
	}
	if (!X509_sign(x, sign_key, EVP_sha256()))
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

void pairkeys_free(struct pairkeys *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->root_key);
	EVP_PKEY_free(k->host_key);
	EVP_PKEY_free(k->device_key);
	X509_free(k->root_cert);
	X509_free(k->host_cert);
	X509_free(k->device_cert);
	free(k->root_cert_pem);
	free(k->host_cert_pem);
	free(k->device_cert_pem);
	free(k->root_key_pem);
	free(k->host_key_pem);
	free(k->device_pub_pem);
	SSL_CTX_free(k->ssl_ctx);
	free(k);
}

struct pairkeys *pairkeys_new(void)
{
	struct pairkeys *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->root_key = EVP_RSA_gen(2048);
	k->host_key = EVP_RSA_gen(2048);
	k->device_key = EVP_RSA_gen(2048);
	if (!k->root_key || !k->host_key || !k->device_key)
		goto fail;
	k->root_cert = cert_make(k->root_key, k->root_key, NULL, 1, true);
	if (!k->root_cert)
		goto fail;
	k->host_cert = cert_make(k->host_key, k->root_key, k->root_cert, 2, false);
	k->device_cert = cert_make(k->device_key, k->root_key, k->root_cert, 3, false);
	if (!k->host_cert || !k->device_cert)
		goto fail;
	k->root_cert_pem = cert_pem(k->root_cert, &k->root_cert_len);
	k->host_cert_pem = cert_pem(k->host_cert, &k->host_cert_len);
	k->device_cert_pem = cert_pem(k->device_cert, &k->device_cert_len);
	k->root_key_pem = key_pem(k->root_key, &k->root_key_len);
	k->host_key_pem = key_pem(k->host_key, &k->host_key_len);
	k->device_pub_pem = pubkey_pkcs1_pem(k->device_key, &k->device_pub_len);
	if (!k->root_cert_pem || !k->host_cert_pem || !k->device_cert_pem || !k->root_key_pem ||
	    !k->host_key_pem || !k->device_pub_pem)
		goto fail;
	k->ssl_ctx = SSL_CTX_new(TLS_server_method());
	if (!k->ssl_ctx || !SSL_CTX_set_min_proto_version(k->ssl_ctx, TLS1_2_VERSION) ||
	    SSL_CTX_use_certificate(k->ssl_ctx, k->device_cert) != 1 ||
	    SSL_CTX_use_PrivateKey(k->ssl_ctx, k->device_key) != 1)
		goto fail;
	SSL_CTX_set_verify(k->ssl_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(k->ssl_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(k->ssl_ctx, 0);
	return k;
fail:
	log_err("cannot create keys and certificates: %s", tls_error());
	pairkeys_free(k);
	return NULL;
}

void *pairkeys_ssl_ctx(struct pairkeys *k)
{
	return k->ssl_ctx;
}

const char *pairkeys_device_public_pem(struct pairkeys *k, size_t *len)
{
	*len = k->device_pub_len;
	return k->device_pub_pem;
}

void pairkeys_uuid(char out[37])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		memset(b, 0x5a, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

int pairkeys_record(struct pairkeys *k, const char *host_id, const char *buid, const char *wifi,
		    char **xml, size_t *len)
{
	plist_t d = plist_new_dict();
	char *out = NULL;
	uint32_t olen = 0;
	static const char escrow[] = "devsim-escrow-bag";

	plist_dict_set_item(d, "DeviceCertificate",
			    plist_new_data(k->device_cert_pem, k->device_cert_len));
	plist_dict_set_item(d, "EscrowBag", plist_new_data(escrow, sizeof(escrow) - 1));
	plist_dict_set_item(d, "HostCertificate",
			    plist_new_data(k->host_cert_pem, k->host_cert_len));
	plist_dict_set_item(d, "HostID", plist_new_string(host_id));
	plist_dict_set_item(d, "HostPrivateKey", plist_new_data(k->host_key_pem, k->host_key_len));
	plist_dict_set_item(d, "RootCertificate",
			    plist_new_data(k->root_cert_pem, k->root_cert_len));
	plist_dict_set_item(d, "RootPrivateKey", plist_new_data(k->root_key_pem, k->root_key_len));
	plist_dict_set_item(d, "SystemBUID", plist_new_string(buid));
	plist_dict_set_item(d, "WiFiMACAddress", plist_new_string(wifi));
	plist_to_xml(d, &out, &olen);
	plist_free(d);
	if (!out)
		return -ENOMEM;
	*xml = malloc(olen);
	if (!*xml) {
		plist_to_xml_free(out);
		return -ENOMEM;
	}
	memcpy(*xml, out, olen);
	*len = olen;
	plist_to_xml_free(out);
	return 0;
}
