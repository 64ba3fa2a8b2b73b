/* usbmux.c: the usbmuxd protocol server (plist version 1) on the devsim socket */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plist/plist.h>

#include "devsim.h"

#define MUX_HEADER 16
#define MUX_MAX	   (1024 * 1024)
#define MUX_PLIST  8

enum {
	MUX_OK = 0,
	MUX_BADCOMMAND = 1,
	MUX_BADDEV = 2,
	MUX_CONNREFUSED = 3,
	MUX_BADVERSION = 6,
	MUX_EINVAL = 22,
};

static uint32_t get_le32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

static void put_le32(char *p, uint32_t v)
{
	unsigned char *u = (unsigned char *)p;

	u[0] = v & 0xff;
	u[1] = (v >> 8) & 0xff;
	u[2] = (v >> 16) & 0xff;
	u[3] = (v >> 24) & 0xff;
}

/* send one XML plist message (header + payload in one write) */
static int mux_send(struct conn *c, uint32_t tag, plist_t dict)
{
	char *xml = NULL, *p;
	uint32_t xlen = 0;
	void *w;
	int r;

	plist_to_xml(dict, &xml, &xlen);
	if (!xml) {
		conn_close(c, "cannot encode reply");
		return -ENOMEM;
	}
	w = conn_wbuf_new(MUX_HEADER + (size_t)xlen, &p);
	if (!w) {
		plist_to_xml_free(xml);
		conn_close(c, "out of memory");
		return -ENOMEM;
	}
	put_le32(p, MUX_HEADER + xlen);
	put_le32(p + 4, 1);
	put_le32(p + 8, MUX_PLIST);
	put_le32(p + 12, tag);
	memcpy(p + MUX_HEADER, xml, xlen);
	plist_to_xml_free(xml);
	r = conn_wbuf_send(c, w);
	return r;
}

static int mux_result(struct conn *c, uint32_t tag, uint64_t number)
{
	plist_t d = plist_new_dict();
	int r;

	plist_dict_set_item(d, "MessageType", plist_new_string("Result"));
	plist_dict_set_item(d, "Number", plist_new_uint(number));
	r = mux_send(c, tag, d);
	plist_free(d);
	return r;
}

static plist_t mux_properties(struct phone *p)
{
	plist_t props = plist_new_dict();

	if (p->network) {
		static const char addr[16] = {16, 2, 0, 0, 127, 0, 0, 1};
		char name[96];
		char wifi[32];

		phone_wifi_address(p, wifi, sizeof(wifi));
		snprintf(name, sizeof(name), "%s@fe80::1._apple-mobdev2._tcp.local.", wifi);
		plist_dict_set_item(props, "ConnectionType", plist_new_string("Network"));
		plist_dict_set_item(props, "DeviceID", plist_new_uint(p->device_id));
		plist_dict_set_item(props, "EscapedFullServiceName", plist_new_string(name));
		plist_dict_set_item(props, "InterfaceIndex", plist_new_uint(1));
		plist_dict_set_item(props, "NetworkAddress", plist_new_data(addr, sizeof(addr)));
		plist_dict_set_item(props, "SerialNumber", plist_new_string(p->udid));
	} else {
		plist_dict_set_item(props, "ConnectionSpeed", plist_new_uint(480000000));
		plist_dict_set_item(props, "ConnectionType", plist_new_string("USB"));
		plist_dict_set_item(props, "DeviceID", plist_new_uint(p->device_id));
		plist_dict_set_item(props, "LocationID",
				    plist_new_uint(0x01100000u + p->device_id));
		plist_dict_set_item(props, "ProductID", plist_new_uint(0x12a8));
		plist_dict_set_item(props, "SerialNumber", plist_new_string(p->udid));
	}
	return props;
}

static plist_t mux_attached(struct phone *p)
{
	plist_t d = plist_new_dict();

	plist_dict_set_item(d, "DeviceID", plist_new_uint(p->device_id));
	plist_dict_set_item(d, "MessageType", plist_new_string("Attached"));
	plist_dict_set_item(d, "Properties", mux_properties(p));
	return d;
}

static void mux_broadcast(struct devsim *ds, plist_t msg)
{
	struct conn *c, *next;

	for (c = ds->conns; c; c = next) {
		next = c->next;
		if (c->kind == CONN_MUX && c->listening && !c->closing)
			mux_send(c, 0, msg);
	}
}

void usbmux_broadcast_attached(struct devsim *ds, struct phone *p)
{
	plist_t d = mux_attached(p);

	mux_broadcast(ds, d);
	plist_free(d);
}

void usbmux_broadcast_detached(struct devsim *ds, struct phone *p)
{
	plist_t d = plist_new_dict();

	plist_dict_set_item(d, "DeviceID", plist_new_uint(p->device_id));
	plist_dict_set_item(d, "MessageType", plist_new_string("Detached"));
	mux_broadcast(ds, d);
	plist_free(d);
}

void usbmux_broadcast_paired(struct devsim *ds, struct phone *p)
{
	plist_t d = plist_new_dict();

	plist_dict_set_item(d, "DeviceID", plist_new_uint(p->device_id));
	plist_dict_set_item(d, "MessageType", plist_new_string("Paired"));
	mux_broadcast(ds, d);
	plist_free(d);
}

static const char *dict_string(plist_t dict, const char *key)
{
	plist_t n = plist_dict_get_item(dict, key);
	uint64_t len = 0;

	if (!n || plist_get_node_type(n) != PLIST_STRING)
		return NULL;
	return plist_get_string_ptr(n, &len);
}

static int dict_uint(plist_t dict, const char *key, uint64_t *v)
{
	plist_t n = plist_dict_get_item(dict, key);

	if (!n || plist_get_node_type(n) != PLIST_UINT)
		return -EINVAL;
	plist_get_uint_val(n, v);
	return 0;
}

static void mux_list_devices(struct conn *c, uint32_t tag)
{
	plist_t d = plist_new_dict();
	plist_t list = plist_new_array();
	struct phone *p;

	for (p = c->ds->phones; p; p = p->next)
		plist_array_append_item(list, mux_attached(p));
	plist_dict_set_item(d, "DeviceList", list);
	mux_send(c, tag, d);
	plist_free(d);
}

static void mux_listen(struct conn *c, uint32_t tag)
{
	struct phone *p;

	if (mux_result(c, tag, MUX_OK) < 0)
		return;
	c->listening = true;
	for (p = c->ds->phones; p && !c->closing; p = p->next) {
		plist_t d = mux_attached(p);

		mux_send(c, 0, d);
		plist_free(d);
	}
}

static void mux_connect(struct conn *c, uint32_t tag, plist_t dict)
{
	uint64_t id = 0, pn = 0;
	struct phone *p;
	uint16_t port;
	enum service_kind kind = SERVICE_NONE;
	bool ssl = false;

	if (dict_uint(dict, "DeviceID", &id) < 0 || dict_uint(dict, "PortNumber", &pn) < 0 ||
	    pn > 0xffff) {
		mux_result(c, tag, MUX_EINVAL);
		return;
	}
	p = phone_by_id(c->ds, (uint32_t)id);
	if (!p || id > UINT32_MAX) {
		mux_result(c, tag, MUX_BADDEV);
		return;
	}
	port = (uint16_t)(((pn & 0xff) << 8) | (pn >> 8));
	if (port != DEVSIM_LOCKDOWN_PORT) {
		kind = phone_take_port(p, port, &ssl);
		if (kind == SERVICE_NONE) {
			if (c->ds->verbose)
				log_msg("conn %u mux: connect %s port %u refused", c->id, p->udid,
					port);
			mux_result(c, tag, MUX_CONNREFUSED);
			return;
		}
	}
	if (mux_result(c, tag, MUX_OK) < 0)
		return;
	c->phone = p;
	if (c->ds->verbose)
		log_msg("conn %u mux: connect %s port %u", c->id, p->udid, port);
	if (port == DEVSIM_LOCKDOWN_PORT) {
		c->kind = CONN_LOCKDOWN;
		lockdown_start(c);
		return;
	}
	c->kind = kind == SERVICE_MOVER	   ? CONN_MOVER
		  : kind == SERVICE_SYSLOG ? CONN_SYSLOG
					   : CONN_AFC;
	if (ssl)
		svctls_start(c, kind); /* the service starts after the handshake */
	else
		usbmux_service_start(c, kind);
}

void usbmux_service_start(struct conn *c, enum service_kind kind)
{
	if (kind == SERVICE_MOVER)
		mover_start(c);
	else if (kind == SERVICE_SYSLOG)
		syslog_start(c);
	else
		afc_start(c);
}

static void mux_read_pair_record(struct conn *c, uint32_t tag, plist_t dict)
{
	const char *udid = dict_string(dict, "PairRecordID");
	struct phone *p;
	const char *rec;
	size_t len;
	plist_t d;

	if (!udid) {
		mux_result(c, tag, MUX_EINVAL);
		return;
	}
	p = phone_by_udid(c->ds, udid);
	if (!p || phone_get_record(p, &rec, &len) < 0) {
		mux_result(c, tag, MUX_BADDEV);
		return;
	}
	d = plist_new_dict();
	plist_dict_set_item(d, "PairRecordData", plist_new_data(rec, len));
	mux_send(c, tag, d);
	plist_free(d);
}

static void mux_save_pair_record(struct conn *c, uint32_t tag, plist_t dict)
{
	const char *udid = dict_string(dict, "PairRecordID");
	plist_t data = plist_dict_get_item(dict, "PairRecordData");
	const char *bytes;
	uint64_t len = 0;
	struct phone *p;

	if (!udid || !data || plist_get_node_type(data) != PLIST_DATA) {
		mux_result(c, tag, MUX_EINVAL);
		return;
	}
	p = phone_by_udid(c->ds, udid);
	bytes = plist_get_data_ptr(data, &len);
	if (!p) {
		mux_result(c, tag, MUX_BADDEV);
		return;
	}
	if (phone_save_record(p, bytes, (size_t)len) < 0) {
		log_err("conn %u mux: invalid pair record for %s", c->id, udid);
		mux_result(c, tag, MUX_EINVAL);
		return;
	}
	mux_result(c, tag, MUX_OK);
	usbmux_broadcast_paired(c->ds, p);
}

static void mux_delete_pair_record(struct conn *c, uint32_t tag, plist_t dict)
{
	const char *udid = dict_string(dict, "PairRecordID");
	struct phone *p;

	if (!udid) {
		mux_result(c, tag, MUX_EINVAL);
		return;
	}
	p = phone_by_udid(c->ds, udid);
	if (!p) {
		mux_result(c, tag, MUX_BADDEV);
		return;
	}
	phone_delete_record(p);
	mux_result(c, tag, MUX_OK);
}

static void mux_read_buid(struct conn *c, uint32_t tag)
{
	plist_t d = plist_new_dict();

	plist_dict_set_item(d, "BUID", plist_new_string(c->ds->buid));
	mux_send(c, tag, d);
	plist_free(d);
}

static void mux_list_listeners(struct conn *c, uint32_t tag)
{
	plist_t d = plist_new_dict();

	plist_dict_set_item(d, "ListenerList", plist_new_array());
	mux_send(c, tag, d);
	plist_free(d);
}

static void mux_dispatch(struct conn *c, uint32_t tag, plist_t dict)
{
	const char *type = dict_string(dict, "MessageType");

	if (c->ds->verbose)
		log_msg("conn %u mux: request %s tag %u", c->id, type ? type : "(none)", tag);
	if (!type)
		mux_result(c, tag, MUX_BADCOMMAND);
	else if (!strcmp(type, "ListDevices"))
		mux_list_devices(c, tag);
	else if (!strcmp(type, "Listen"))
		mux_listen(c, tag);
	else if (!strcmp(type, "Connect"))
		mux_connect(c, tag, dict);
	else if (!strcmp(type, "ReadPairRecord"))
		mux_read_pair_record(c, tag, dict);
	else if (!strcmp(type, "SavePairRecord"))
		mux_save_pair_record(c, tag, dict);
	else if (!strcmp(type, "DeletePairRecord"))
		mux_delete_pair_record(c, tag, dict);
	else if (!strcmp(type, "ReadBUID"))
		mux_read_buid(c, tag);
	else if (!strcmp(type, "ListListeners"))
		mux_list_listeners(c, tag);
	else
		mux_result(c, tag, MUX_BADCOMMAND);
}

size_t usbmux_handle(struct conn *c, const char *data, size_t len)
{
	uint32_t mlen, version, type, tag;
	plist_t dict = NULL;

	if (len < MUX_HEADER)
		return 0;
	mlen = get_le32(data);
	version = get_le32(data + 4);
	type = get_le32(data + 8);
	tag = get_le32(data + 12);
	if (mlen < MUX_HEADER || mlen > MUX_MAX) {
		log_err("conn %u mux: bad message length %u", c->id, mlen);
		conn_close(c, "bad message length %u", mlen);
		return 0;
	}
	if (len < mlen)
		return 0;
	c->nmsg++;
	if (c->listening) {
		/* a Listen connection only receives events */
		log_err("conn %u mux: request on a listen connection", c->id);
		conn_close(c, "request on a listen connection");
		return 0;
	}
	if (version != 1) {
		mux_result(c, tag, MUX_BADVERSION);
		return mlen;
	}
	if (type != MUX_PLIST) {
		mux_result(c, tag, MUX_BADCOMMAND);
		return mlen;
	}
	if (mlen - MUX_HEADER >= 8 && !memcmp(data + MUX_HEADER, "bplist00", 8))
		plist_from_bin(data + MUX_HEADER, mlen - MUX_HEADER, &dict);
	else if (mlen > MUX_HEADER)
		plist_from_xml(data + MUX_HEADER, mlen - MUX_HEADER, &dict);
	if (!dict || plist_get_node_type(dict) != PLIST_DICT) {
		plist_free(dict);
		log_err("conn %u mux: payload is not a plist dict", c->id);
		conn_close(c, "payload is not a plist dict");
		return 0;
	}
	mux_dispatch(c, tag, dict);
	plist_free(dict);
	return mlen;
}
