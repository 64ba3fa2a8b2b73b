/* protocol.h: the facts of the socket protocol (proto/PROTOCOL.md) that daemon and client share */
#ifndef JETSAMD_PROTO_PROTOCOL_H
#define JETSAMD_PROTO_PROTOCOL_H

/* The protocol version spoken (hello's "version"); PROTO_VERSION_MIN and up are accepted */
#define PROTO_VERSION	  2
#define PROTO_VERSION_MIN 1

/* Error codes of a failed reply ({"ok":false,"error":{"code":...}}) */
#define PROTO_E_BAD_REQUEST	 "bad_request"
#define PROTO_E_INVALID_ARGUMENT "invalid_argument"
#define PROTO_E_UNKNOWN_COMMAND	 "unknown_command"
#define PROTO_E_VERSION		 "version_mismatch"
#define PROTO_E_TOO_LARGE	 "too_large"
#define PROTO_E_NOT_FOUND	 "not_found"
#define PROTO_E_INTERNAL	 "internal"
/* client limits and authorization */
#define PROTO_E_TOO_MANY_CLIENTS  "too_many_clients"
#define PROTO_E_TIMEOUT		  "timeout"
#define PROTO_E_PERMISSION_DENIED "permission_denied"

/* Topics of subscribe ("topics" argument, "subscribed" result) */
#define PROTO_TOPIC_EVENTS  "events"
#define PROTO_TOPIC_DEVICES "devices"

/* Kinds of a pushed line ({"push":KIND,KIND:...}): the member holding it has the same name */
#define PROTO_PUSH_EVENT  "event"
#define PROTO_PUSH_DEVICE "device"

#endif
