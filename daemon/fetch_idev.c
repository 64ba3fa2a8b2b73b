/* fetch_idev.c: libimobiledevice 1.3.0's private struct layout in one place; TLS on a blocking
 * socket
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <plist/plist.h>
#include <usbmuxd.h>

#include "fetch_idev.h"

/*
 * The private structs of libimobiledevice 1.3.0 that jetsamd relies on (src/idevice.h,
 * service.h, property_list_service.h, lockdown.h, afc.h, syslog_relay.h of tag 1.3.0):
 *
 *   struct idevice_private { char *udid; uint32_t mux_id;
 *                            enum idevice_connection_type conn_type; void *conn_data;
 *                            int version; ... };
 *   struct service_client_private { idevice_connection_t connection; };
 *   struct property_list_service_client_private { service_client_t parent; };
 *   struct lockdownd_client_private { property_list_service_client_t parent; ... };
 *   struct afc_client_private { service_client_t parent; ... };
 *   struct syslog_relay_client_private { service_client_t parent; ... };
 *
 * So a client's connection is levels first-member pointers down, and the device's OS
 * version (which the library sets in lockdownd_client_new_with_handshake, and reads to cap
 * TLS at 1.0 before iOS 10) is the int after conn_data. Later releases keep these members
 * first. Guards: a connection must give a socket (idevice_connection_get_fd + S_ISSOCK),
 * and the device struct must show the UDID and mux handle the public getters return.
 */
struct idev130_device {
	char *udid;
	uint32_t mux_id;
	enum idevice_connection_type conn_type;
	void *conn_data;
	int version;
};

#define IDEV_VERSION(maj, min, patch) ((((maj)&0xFF) << 16) | (((min)&0xFF) << 8) | ((patch)&0xFF))

static void *first_member(void *client, int levels)
{
	void *p = client;

	for (int i = 0; i < levels && p != NULL; i++)
		p = *(void **)p;
	return p;
}

int fetch_idev_client_fd(void *client, int levels)
{
	struct stat st;
	void *p = first_member(client, levels);
	int fd = -1;

	if (p == NULL || idevice_connection_get_fd((idevice_connection_t)p, &fd) != 0 || fd < 0 ||
	    fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return -1;
	return fd;
}

/* dev as the 1.3.0 struct, or NULL when it does not look like one */
static struct idev130_device *device_layout(idevice_t dev)
{
	struct idev130_device *d = (struct idev130_device *)dev;
	char *udid = NULL;
	uint32_t handle = 0;
	int ok;

	if (dev == NULL || idevice_get_udid(dev, &udid) != IDEVICE_E_SUCCESS || udid == NULL ||
	    idevice_get_handle(dev, &handle) != IDEVICE_E_SUCCESS) {
		free(udid);
		return NULL;
	}
	ok = d->udid != NULL && strcmp(d->udid, udid) == 0 && d->mux_id == handle &&
	     (d->conn_type == CONNECTION_USBMUXD || d->conn_type == CONNECTION_NETWORK) &&
	     d->version >= 0 && d->version <= 0xFFFFFF;
	free(udid);
	return ok ? d : NULL;
}

/* Clear O_NONBLOCK on fd; returns the flags to restore, or -1 (nothing changed). */
static int blocking_begin(int fd)
{
	int flags = fd >= 0 ? fcntl(fd, F_GETFL) : -1;

	if (flags < 0 || !(flags & O_NONBLOCK) || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
		return -1;
	return flags;
}

static void blocking_end(int fd, int flags)
{
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags);
}

/* The pair record's HostID, as userpref_read_pair_record + pair_record_get_host_id read it;
 * *have_record says whether usbmuxd had a record at all. */
static char *read_host_id(const char *udid, int *have_record)
{
	char *data = NULL, *host_id = NULL;
	uint32_t size = 0;
	plist_t rec = NULL, node;

	*have_record = 0;
	if (usbmuxd_read_pair_record(udid, &data, &size) < 0 || data == NULL) {
		free(data);
		return NULL;
	}
	if (size >= 8 && memcmp(data, "bplist00", 8) == 0)
		plist_from_bin(data, size, &rec);
	else
		plist_from_xml(data, size, &rec);
	free(data);
	if (rec == NULL)
		return NULL;
	*have_record = 1;
	node = plist_dict_get_item(rec, "HostID");
	if (node && plist_get_node_type(node) == PLIST_STRING)
		plist_get_string_val(node, &host_id);
	plist_free(rec);
	return host_id;
}

static char *product_version(lockdownd_client_t ld, int *version)
{
	plist_t node = NULL;
	char *s = NULL;
	int v[3] = {0, 0, 0};

	*version = 0;
	if (lockdownd_get_value(ld, NULL, "ProductVersion", &node) == LOCKDOWN_E_SUCCESS && node &&
	    plist_get_node_type(node) == PLIST_STRING)
		plist_get_string_val(node, &s);
	if (node)
		plist_free(node);
	if (s && sscanf(s, "%d.%d.%d", &v[0], &v[1], &v[2]) >= 2)
		*version = IDEV_VERSION(v[0], v[1], v[2]);
	return s;
}

static lockdownd_error_t library_handshake(idevice_t dev, const char *label, struct fetch_abort *ab,
					   lockdownd_client_t *out, int *fd_out)
{
	lockdownd_error_t le = lockdownd_client_new_with_handshake(dev, out, label);

	if (le == LOCKDOWN_E_SUCCESS)
		*fd_out = fetch_abort_add(ab, fetch_idev_client_fd(*out, 3));
	return le;
}

/* Pair record (pairing when usbmuxd has none) and StartSession, on a blocking socket. */
static lockdownd_error_t start_session(lockdownd_client_t ld, const char *udid, int fd)
{
	lockdownd_error_t le = LOCKDOWN_E_SUCCESS;
	int have = 0, flags;
	char *host_id = read_host_id(udid, &have);

	if (!have) {
		le = lockdownd_pair(ld, NULL);
		if (le == LOCKDOWN_E_SUCCESS)
			host_id = read_host_id(udid, &have);
	}
	if (le == LOCKDOWN_E_SUCCESS && host_id == NULL)
		le = LOCKDOWN_E_INVALID_CONF;
	if (le == LOCKDOWN_E_SUCCESS) {
		flags = blocking_begin(fd);
		le = lockdownd_start_session(ld, host_id, NULL, NULL);
		blocking_end(fd, flags);
	}
	free(host_id);
	return le;
}

lockdownd_error_t fetch_idev_lockdown(idevice_t dev, const char *label, struct fetch_abort *ab,
				      lockdownd_client_t *out, int *fd_out, char **version_out)
{
	struct idev130_device *d = device_layout(dev);
	lockdownd_client_t ld = NULL;
	lockdownd_error_t le, qe;
	char *type = NULL, *ver, *udid = NULL;
	int version, fd;

	*out = NULL;
	*fd_out = -1;
	if (version_out)
		*version_out = NULL;
	if (d == NULL)
		return library_handshake(dev, label, ab, out, fd_out);
	le = lockdownd_client_new(dev, &ld, label);
	if (le != LOCKDOWN_E_SUCCESS)
		return le;
	fd = fetch_idev_client_fd(ld, 3);
	*fd_out = fetch_abort_add(ab, fd);
	qe = lockdownd_query_type(ld, &type); /* another type is only a warning in 1.3.0 */
	free(type);
	ver = product_version(ld, &version);
	if (version < IDEV_VERSION(7, 0, 0) || fd < 0) {
		/* before iOS 7 the library validates the pairing first: let it do all of it */
		free(ver);
		fetch_abort_del(ab, *fd_out);
		lockdownd_client_free(ld);
		return library_handshake(dev, label, ab, out, fd_out);
	}
	if (d->version == 0)
		d->version = version;
	le = qe;
	if (le == LOCKDOWN_E_SUCCESS) {
		if (idevice_get_udid(dev, &udid) == IDEVICE_E_SUCCESS && udid)
			le = start_session(ld, udid, fd);
		else
			le = LOCKDOWN_E_INVALID_ARG;
		free(udid);
	}
	if (le != LOCKDOWN_E_SUCCESS) {
		free(ver);
		fetch_abort_del(ab, *fd_out);
		*fd_out = -1;
		lockdownd_client_free(ld);
		return le;
	}
	*out = ld;
	if (version_out)
		*version_out = ver;
	else
		free(ver);
	return LOCKDOWN_E_SUCCESS;
}

/* The TLS handshake the library would have run in service_client_new, on a blocking socket. */
static void service_ssl(service_client_t sc)
{
	int fd = fetch_idev_client_fd(sc, 1);
	int flags = blocking_begin(fd);

	service_enable_ssl(sc); /* its result is not checked in 1.3.0 either */
	blocking_end(fd, flags);
}

service_error_t fetch_idev_service(idevice_t dev, lockdownd_service_descriptor_t svc,
				   struct fetch_abort *ab, service_client_t *out, int *fd_out)
{
	uint8_t ssl = svc ? svc->ssl_enabled : 0;
	service_error_t se;

	*fd_out = -1;
	if (ssl)
		svc->ssl_enabled = 0;
	se = service_client_new(dev, svc, out);
	if (ssl)
		svc->ssl_enabled = ssl;
	if (se != SERVICE_E_SUCCESS)
		return se;
	*fd_out = fetch_abort_add(ab, fetch_idev_client_fd(*out, 1));
	if (ssl == 1)
		service_ssl(*out);
	return se;
}

afc_error_t fetch_idev_afc(idevice_t dev, lockdownd_service_descriptor_t svc,
			   struct fetch_abort *ab, afc_client_t *out, int *fd_out)
{
	uint8_t ssl = svc ? svc->ssl_enabled : 0;
	afc_error_t ae;
	int fd;

	*fd_out = -1;
	if (ssl)
		svc->ssl_enabled = 0;
	ae = afc_client_new(dev, svc, out);
	if (ssl)
		svc->ssl_enabled = ssl;
	if (ae != AFC_E_SUCCESS)
		return ae;
	fd = fetch_idev_client_fd(*out, 2);
	if (ssl == 1 && fd < 0) {
		/* not the layout expected: let the library connect (and handshake) itself */
		afc_client_free(*out);
		*out = NULL;
		ae = afc_client_new(dev, svc, out);
		if (ae != AFC_E_SUCCESS)
			return ae;
		fd = fetch_idev_client_fd(*out, 2);
		ssl = 0;
	}
	*fd_out = fetch_abort_add(ab, fd);
	if (ssl == 1)
		service_ssl(
			(service_client_t)first_member(*out, 1)); /* afc -> its service client */
	return ae;
}
