/* lockdown.c: simulated lockdownd on device port 62078: values, sessions, TLS, pairing */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <plist/plist.h>

#include "devsim.h"

#define LD_MAX (1024 * 1024)

/*
 * Trust and lock answers (also in README.md):
 *   Pair:         locked -> PasswordProtected; paired -> success (the host then saves its
 *                 record with SavePairRecord); unpaired -> PairingDialogResponsePending and
 *                 the phone becomes pending; pending -> PairingDialogResponsePending;
 *                 denied -> UserDeniedPairing.
 *   StartSession: trust paired and HostID = the stored record's (or the last paired) HostID,
 *                 else InvalidHostID.
 *   StartService: no session -> SessionInactive; crash services of a locked phone ->
 *                 PasswordProtected; unknown service -> InvalidService. With service SSL
 *                 on (--service-ssl, set UDID service-ssl on), the crash services are
 *                 answered with EnableServiceSSL = true and their connection starts with a
 *                 TLS handshake (svctls.c); syslog_relay stays plaintext.
 */

struct lockdown {
	struct tls *tls;
	bool session;
	bool stopping;
	char session_id[37];
};

static char ld_plainbuf[64 * 1024];

void lockdown_free(struct lockdown *ld)
{
	if (!ld)
		return;
	tls_free(ld->tls);
	free(ld);
}

void lockdown_start(struct conn *c)
{
	c->ld = calloc(1, sizeof(*c->ld));
	if (!c->ld)
		conn_close(c, "out of memory");
}

static void ld_flush(struct conn *c)
{
	(void)conn_send_tls(c, c->ld->tls); /* a failure closes the connection */
}

/* leave TLS after the peer's close_notify: answer it and continue in plaintext */
static int ld_tls_end(struct conn *c)
{
	struct lockdown *ld = c->ld;
	size_t n;

	tls_shutdown(ld->tls);
	ld_flush(c);
	if (c->closing)
		return -EPIPE;
	while ((n = tls_take_leftover(ld->tls, ld_plainbuf, sizeof(ld_plainbuf))) > 0)
		if (conn_append(c, ld_plainbuf, n) < 0)
			return -ENOMEM;
	tls_free(ld->tls);
	ld->tls = NULL;
	ld->session = false;
	ld->stopping = false;
	if (c->ds->verbose)
		log_msg("conn %u lockdown %s: session ended", c->id,
			c->phone ? c->phone->udid : "-");
	return 0;
}

static int ld_pump(struct conn *c)
{
	struct lockdown *ld = c->ld;
	bool closed = false;
	int n;

	while (ld->tls) {
		n = tls_read(ld->tls, ld_plainbuf, sizeof(ld_plainbuf), &closed);
		if (n < 0) {
			const char *e = tls_error();

			ld_flush(c);
			log_err("conn %u lockdown %s: tls failed: %s", c->id,
				c->phone ? c->phone->udid : "-", e);
			conn_close(c, "tls failed");
			return -EPROTO;
		}
		if (n > 0) {
			if (conn_append(c, ld_plainbuf, (size_t)n) < 0)
				return -ENOMEM;
			continue;
		}
		ld_flush(c);
		if (c->closing)
			return -EPIPE;
		if (closed)
			return ld_tls_end(c);
		break;
	}
	return 0;
}

int lockdown_feed(struct conn *c, const char *data, size_t len)
{
	struct lockdown *ld = c->ld;

	if (!ld || !ld->tls)
		return conn_append(c, data, len);
	if (tls_feed(ld->tls, data, len) < 0) {
		conn_close(c, "out of memory");
		return -ENOMEM;
	}
	return ld_pump(c);
}

static int ld_send(struct conn *c, plist_t dict)
{
	struct lockdown *ld = c->ld;
	char *xml = NULL, *p;
	uint32_t xlen = 0;
	void *w;
	int r = 0;

	plist_to_xml(dict, &xml, &xlen);
	if (!xml) {
		conn_close(c, "cannot encode reply");
		return -ENOMEM;
	}
	w = conn_wbuf_new(4 + (size_t)xlen, &p);
	if (!w) {
		plist_to_xml_free(xml);
		conn_close(c, "out of memory");
		return -ENOMEM;
	}
	p[0] = (char)(xlen >> 24);
	p[1] = (char)(xlen >> 16);
	p[2] = (char)(xlen >> 8);
	p[3] = (char)xlen;
	memcpy(p + 4, xml, xlen);
	plist_to_xml_free(xml);
	if (ld->tls) {
		r = tls_write(ld->tls, p, 4 + (size_t)xlen);
		conn_wbuf_free(w);
		if (r < 0) {
			conn_close(c, "tls write failed");
			return r;
		}
		ld_flush(c);
		return 0;
	}
	return conn_wbuf_send(c, w);
}

static plist_t ld_reply(const char *request)
{
	plist_t d = plist_new_dict();

	plist_dict_set_item(d, "Request", plist_new_string(request));
	return d;
}

static void ld_error(struct conn *c, const char *request, const char *error)
{
	plist_t d = ld_reply(request);

	plist_dict_set_item(d, "Error", plist_new_string(error));
	if (c->ds->verbose || strcmp(request, "GetValue"))
		log_msg("conn %u lockdown %s: %s: %s", c->id, c->phone ? c->phone->udid : "-",
			request, error);
	ld_send(c, d);
	plist_free(d);
}

static const char *dict_string(plist_t dict, const char *key)
{
	plist_t n = dict ? plist_dict_get_item(dict, key) : NULL;
	uint64_t len = 0;

	if (!n || plist_get_node_type(n) != PLIST_STRING)
		return NULL;
	return plist_get_string_ptr(n, &len);
}

static const char *hardware_model(const char *product_type)
{
	static const char *const table[][2] = {
		{"iPhone10,3", "D22AP"},  {"iPhone11,2", "D321AP"}, {"iPhone11,8", "N841AP"},
		{"iPhone12,1", "N104AP"}, {"iPhone12,8", "D79AP"},  {"iPhone13,2", "D53gAP"},
		{"iPhone14,2", "D63AP"},  {"iPhone14,5", "D17AP"},  {"iPhone15,2", "D73AP"},
		{"iPhone16,1", "D83AP"},  {"iPhone17,1", "D93AP"},
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i][0], product_type))
			return table[i][1];
	return "D53gAP";
}

static plist_t ld_values(struct phone *p)
{
	plist_t d = plist_new_dict();
	char serial[16], wifi[32], bt[32];
	struct timespec ts;
	uint64_t ecid = 0;

	phone_serial_number(p, serial, sizeof(serial));
	phone_wifi_address(p, wifi, sizeof(wifi));
	snprintf(bt, sizeof(bt), "%s", wifi);
	bt[sizeof("a4:00:00:00:00:00") - 2] ^= 1;
	for (const char *s = p->udid; *s; s++)
		ecid = ecid * 31 + (unsigned char)*s;
	ecid &= 0xffffffffffffull;
	clock_gettime(CLOCK_REALTIME, &ts);

	plist_dict_set_item(d, "ActivationState", plist_new_string("Activated"));
	plist_dict_set_item(d, "BluetoothAddress", plist_new_string(bt));
	plist_dict_set_item(d, "BuildVersion", plist_new_string(p->build_version));
	plist_dict_set_item(d, "CPUArchitecture", plist_new_string("arm64e"));
	plist_dict_set_item(d, "DeviceClass", plist_new_string("iPhone"));
	plist_dict_set_item(d, "DeviceColor", plist_new_string("1"));
	plist_dict_set_item(d, "DeviceName", plist_new_string(p->device_name));
	plist_dict_set_item(d, "HardwareModel", plist_new_string(hardware_model(p->product_type)));
	plist_dict_set_item(d, "HostAttached", plist_new_bool(1));
	plist_dict_set_item(d, "PasswordProtected", plist_new_bool(p->locked));
	plist_dict_set_item(d, "ProductName", plist_new_string("iPhone OS"));
	plist_dict_set_item(d, "ProductType", plist_new_string(p->product_type));
	plist_dict_set_item(d, "ProductVersion", plist_new_string(p->product_version));
	plist_dict_set_item(d, "ProtocolVersion", plist_new_string("2"));
	plist_dict_set_item(d, "SerialNumber", plist_new_string(serial));
	plist_dict_set_item(d, "TimeIntervalSince1970",
			    plist_new_real((double)ts.tv_sec + ts.tv_nsec / 1e9));
	plist_dict_set_item(d, "TimeZone", plist_new_string("Etc/UTC"));
	plist_dict_set_item(d, "TimeZoneOffsetFromUTC", plist_new_real(0.0));
	plist_dict_set_item(d, "UniqueChipID", plist_new_uint(ecid));
	plist_dict_set_item(d, "UniqueDeviceID", plist_new_string(p->udid));
	plist_dict_set_item(d, "WiFiAddress", plist_new_string(wifi));
	return d;
}

static void ld_get_value(struct conn *c, plist_t req)
{
	const char *key = dict_string(req, "Key");
	const char *domain = dict_string(req, "Domain");
	plist_t d = ld_reply("GetValue"), values, v = NULL;

	if (key)
		plist_dict_set_item(d, "Key", plist_new_string(key));
	if (domain)
		plist_dict_set_item(d, "Domain", plist_new_string(domain));
	if (domain && domain[0]) {
		/* no domain values are simulated */
		if (!key)
			v = plist_new_dict();
	} else if (key && !strcmp(key, "DevicePublicKey")) {
		size_t len;
		const char *pem = pairkeys_device_public_pem(c->ds->keys, &len);

		v = plist_new_data(pem, len);
	} else {
		values = ld_values(c->phone);
		if (!key) {
			v = values;
			values = NULL;
		} else {
			plist_t n = plist_dict_get_item(values, key);

			if (n)
				v = plist_copy(n);
		}
		plist_free(values);
	}
	if (v)
		plist_dict_set_item(d, "Value", v);
	else
		plist_dict_set_item(d, "Error", plist_new_string("MissingValue"));
	ld_send(c, d);
	plist_free(d);
}

static bool ld_host_ok(struct phone *p, const char *host_id)
{
	if (!host_id || p->trust != TRUST_PAIRED)
		return false;
	if (p->record_host_id[0] && !strcmp(p->record_host_id, host_id))
		return true;
	return p->paired_host_id[0] && !strcmp(p->paired_host_id, host_id);
}

static void ld_start_session(struct conn *c, plist_t req)
{
	struct lockdown *ld = c->ld;
	const char *host_id = dict_string(req, "HostID");
	plist_t d;

	if (ld->session) {
		ld_error(c, "StartSession", "SessionActive");
		return;
	}
	if (!host_id) {
		ld_error(c, "StartSession", "MissingHostID");
		return;
	}
	if (!ld_host_ok(c->phone, host_id)) {
		ld_error(c, "StartSession", "InvalidHostID");
		return;
	}
	pairkeys_uuid(ld->session_id);
	d = ld_reply("StartSession");
	plist_dict_set_item(d, "SessionID", plist_new_string(ld->session_id));
	plist_dict_set_item(d, "EnableSessionSSL", plist_new_bool(1));
	ld_send(c, d);
	plist_free(d);
	if (c->closing)
		return;
	ld->tls = tls_new(pairkeys_ssl_ctx(c->ds->keys), atoi(c->phone->product_version) < 10);
	if (!ld->tls) {
		conn_close(c, "cannot create tls session");
		return;
	}
	ld->session = true;
	if (c->ds->verbose)
		log_msg("conn %u lockdown %s: session %s started", c->id, c->phone->udid,
			ld->session_id);
}

static void ld_stop_session(struct conn *c)
{
	struct lockdown *ld = c->ld;
	plist_t d;

	if (!ld->session) {
		ld_error(c, "StopSession", "SessionInactive");
		return;
	}
	d = ld_reply("StopSession");
	plist_dict_set_item(d, "Result", plist_new_string("Success"));
	ld_send(c, d);
	plist_free(d);
	ld->stopping = true;
}

static void ld_start_service(struct conn *c, plist_t req)
{
	const char *name = dict_string(req, "Service");
	enum service_kind kind;
	uint16_t port;
	plist_t d;
	bool ssl;

	if (!name) {
		ld_error(c, "StartService", "MissingService");
		return;
	}
	if (!strcmp(name, "com.apple.crashreportmover"))
		kind = SERVICE_MOVER;
	else if (!strcmp(name, "com.apple.crashreportcopymobile"))
		kind = SERVICE_COPYMOBILE;
	else if (!strcmp(name, "com.apple.syslog_relay"))
		kind = SERVICE_SYSLOG;
	else
		kind = SERVICE_NONE;
	if (!c->ld->session) {
		ld_error(c, "StartService", "SessionInactive");
		return;
	}
	if (kind == SERVICE_NONE) {
		ld_error(c, "StartService", "InvalidService");
		return;
	}
	if (c->phone->locked && kind != SERVICE_SYSLOG) {
		ld_error(c, "StartService", "PasswordProtected");
		return;
	}
	ssl = c->phone->service_ssl && kind != SERVICE_SYSLOG;
	phone_add_port(c->phone, kind, ssl, &port);
	log_msg("conn %u lockdown %s: start service %s port %u%s", c->id, c->phone->udid, name,
		port, ssl ? " ssl" : "");
	d = ld_reply("StartService");
	plist_dict_set_item(d, "Service", plist_new_string(name));
	plist_dict_set_item(d, "Port", plist_new_uint(port));
	if (ssl)
		plist_dict_set_item(d, "EnableServiceSSL", plist_new_bool(1));
	ld_send(c, d);
	plist_free(d);
}

static void ld_pair(struct conn *c, const char *verb, plist_t req)
{
	struct phone *p = c->phone;
	plist_t rec = plist_dict_get_item(req, "PairRecord");
	const char *host_id =
		rec && plist_get_node_type(rec) == PLIST_DICT ? dict_string(rec, "HostID") : NULL;
	plist_t d;

	if (!host_id) {
		ld_error(c, verb, "MissingHostID");
		return;
	}
	if (!strcmp(verb, "Pair")) {
		if (p->locked) {
			ld_error(c, verb, "PasswordProtected");
			return;
		}
		switch (p->trust) {
		case TRUST_PAIRED:
			snprintf(p->paired_host_id, sizeof(p->paired_host_id), "%s", host_id);
			break;
		case TRUST_UNPAIRED:
			p->trust = TRUST_PENDING;
			log_msg("phone %s: trust pending (pairing dialog shown)", p->udid);
			/* fall through */
		case TRUST_PENDING:
			ld_error(c, verb, "PairingDialogResponsePending");
			return;
		case TRUST_DENIED:
			ld_error(c, verb, "UserDeniedPairing");
			return;
		}
	} else if (!ld_host_ok(p, host_id)) {
		ld_error(c, verb, "InvalidHostID");
		return;
	} else if (!strcmp(verb, "Unpair")) {
		p->trust = TRUST_UNPAIRED;
		p->paired_host_id[0] = '\0';
		log_msg("phone %s: unpaired", p->udid);
	}
	d = ld_reply(verb);
	plist_dict_set_item(d, "Result", plist_new_string("Success"));
	if (!strcmp(verb, "Pair")) {
		static const char escrow[] = "devsim-escrow-bag";

		plist_dict_set_item(d, "EscrowBag", plist_new_data(escrow, sizeof(escrow) - 1));
		log_msg("phone %s: paired with host %s", p->udid, host_id);
	}
	ld_send(c, d);
	plist_free(d);
}

static void ld_dispatch(struct conn *c, plist_t req)
{
	const char *request = dict_string(req, "Request");
	plist_t d;

	if (c->ds->verbose)
		log_msg("conn %u lockdown %s: request %s%s%s", c->id, c->phone->udid, request,
			dict_string(req, "Key") ? " " : "",
			dict_string(req, "Key") ? dict_string(req, "Key") : "");
	if (!strcmp(request, "QueryType")) {
		d = ld_reply("QueryType");
		plist_dict_set_item(d, "Type", plist_new_string("com.apple.mobile.lockdown"));
		ld_send(c, d);
		plist_free(d);
	} else if (!strcmp(request, "GetValue")) {
		ld_get_value(c, req);
	} else if (!strcmp(request, "SetValue") || !strcmp(request, "RemoveValue")) {
		ld_error(c, request,
			 !strcmp(request, "SetValue") ? "SetProhibited" : "RemoveProhibited");
	} else if (!strcmp(request, "StartSession")) {
		ld_start_session(c, req);
	} else if (!strcmp(request, "StopSession")) {
		ld_stop_session(c);
	} else if (!strcmp(request, "StartService")) {
		ld_start_service(c, req);
	} else if (!strcmp(request, "Pair") || !strcmp(request, "ValidatePair") ||
		   !strcmp(request, "Unpair")) {
		ld_pair(c, request, req);
	} else if (!strcmp(request, "Goodbye")) {
		d = ld_reply("Goodbye");
		plist_dict_set_item(d, "Result", plist_new_string("Success"));
		ld_send(c, d);
		plist_free(d);
	} else {
		ld_error(c, request, "InvalidRequest");
	}
}

size_t lockdown_handle(struct conn *c, const char *data, size_t len)
{
	struct lockdown *ld = c->ld;
	uint32_t n;
	plist_t req = NULL;
	bool had_tls;

	if (len < 4)
		return 0;
	n = (uint32_t)(unsigned char)data[0] << 24 | (uint32_t)(unsigned char)data[1] << 16 |
	    (uint32_t)(unsigned char)data[2] << 8 | (uint32_t)(unsigned char)data[3];
	if (n == 0 || n > LD_MAX) {
		log_err("conn %u lockdown %s: bad message length %u", c->id, c->phone->udid, n);
		conn_close(c, "bad message length %u", n);
		return 0;
	}
	if (len - 4 < n)
		return 0;
	c->nmsg++;
	if (n >= 8 && !memcmp(data + 4, "bplist00", 8))
		plist_from_bin(data + 4, n, &req);
	else
		plist_from_xml(data + 4, n, &req);
	if (!req || plist_get_node_type(req) != PLIST_DICT || !dict_string(req, "Request")) {
		plist_free(req);
		log_err("conn %u lockdown %s: message is not a plist dict with a Request", c->id,
			c->phone->udid);
		conn_close(c, "message is not a plist dict with a Request");
		return 0;
	}
	had_tls = ld->tls != NULL;
	ld_dispatch(c, req);
	plist_free(req);
	if (!had_tls && ld->tls && !c->closing) {
		/* bytes after StartSession belong to the TLS stream */
		if (len > 4 + n) {
			if (tls_feed(ld->tls, data + 4 + n, len - 4 - n) < 0) {
				conn_close(c, "out of memory");
				return 0;
			}
			ld_pump(c);
		}
		return len;
	}
	return 4 + (size_t)n;
}
