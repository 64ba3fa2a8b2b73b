/* fetch_idev.h: libimobiledevice 1.3.0's private struct layout in one place; TLS on a blocking
 * socket
 */
#ifndef JETSAMD_FETCH_IDEV_H
#define JETSAMD_FETCH_IDEV_H

#include <libimobiledevice/afc.h>
#include <libimobiledevice/libimobiledevice.h>
#include <libimobiledevice/lockdown.h>
#include <libimobiledevice/service.h>

#include "fetch_abort.h"

/*
 * libimobiledevice 1.3.0 (the floor) runs every TLS handshake (the lockdown session, and a
 * service started with EnableServiceSSL) with OpenSSL on the socket libusbmuxd connected,
 * which is in O_NONBLOCK mode: SSL_do_handshake gets EAGAIN after the ClientHello and the
 * library sleeps 100 ms before it tries again (src/idevice.c, idevice_connection_enable_ssl).
 * The functions here run those handshakes with O_NONBLOCK cleared on the connection's
 * socket and set it again afterwards (the library's later reads poll with their own
 * timeouts). The socket is registered in the job's struct fetch_abort before the handshake,
 * so a blocked handshake still ends when the loop cuts the job's sockets.
 *
 * 1.3.0 has no getter for a client's connection nor a setter for the device's OS version,
 * so fetch_idev.c is the one place that knows its private structs. Each use is guarded;
 * when a guard fails the library's own (slower) path is taken.
 */

/*
 * The socket under a libimobiledevice client: levels is 1 for a service_client_t, 2 for an
 * afc_client_t or syslog_relay_client_t, 3 for a lockdownd_client_t. -1 when it is not a
 * socket.
 */
int fetch_idev_client_fd(void *client, int levels);

/*
 * What lockdownd_client_new_with_handshake does (QueryType, ProductVersion, pair record,
 * pairing when there is none, StartSession), with the session's TLS handshake on a
 * blocking socket. The lockdown socket is registered in ab (may be NULL) as *fd_out (-1 when
 * not; the caller unregisters it before lockdownd_client_free). *version_out (may be NULL)
 * receives ProductVersion as the phone sent it, or NULL when the library's path was taken.
 * Phones before iOS 7, and a device whose layout is not the expected one, take the library's
 * own handshake.
 */
lockdownd_error_t fetch_idev_lockdown(idevice_t dev, const char *label, struct fetch_abort *ab,
				      lockdownd_client_t *out, int *fd_out, char **version_out);

/*
 * service_client_new / afc_client_new, with a service's TLS handshake (EnableServiceSSL) on a
 * blocking socket; the socket is registered in ab as *fd_out (-1 when not), as above.
 */
service_error_t fetch_idev_service(idevice_t dev, lockdownd_service_descriptor_t svc,
				   struct fetch_abort *ab, service_client_t *out, int *fd_out);
afc_error_t fetch_idev_afc(idevice_t dev, lockdownd_service_descriptor_t svc,
			   struct fetch_abort *ab, afc_client_t *out, int *fd_out);

#endif
