/* sanitize.h: strings from a phone to bounded, valid UTF-8 with reversible \xNN escapes (pure) */
#ifndef JETSAMD_PROTO_SANITIZE_H
#define JETSAMD_PROTO_SANITIZE_H

#include <stddef.h>

/*
 * Device strings (name, product, OS version, build) and file paths come from a phone: any
 * bytes, any length. Before they are stored, sent or logged they are escaped: valid,
 * printable UTF-8 is kept as is; every byte of an invalid sequence, every control character
 * (C0, DEL, C1) and the backslash become "\xNN" (lower-case hex). The result is valid UTF-8
 * with no control byte, and sanitize_unescape() gives the raw bytes back (unless cut).
 * Caps, in bytes of escaped text without the NUL (documented in jetsamd.conf(5)):
 */
#define SANITIZE_NAME_MAX  255	/* device name */
#define SANITIZE_FIELD_MAX 31	/* product, OS version, build */
#define SANITIZE_PATH_MAX  1023 /* a file path on the phone; a longer one is skipped */

/* The length (1..4) of the valid UTF-8 sequence at s (len bytes available), 0 if invalid. */
size_t sanitize_utf8_seq(const char *s, size_t len);
/* 1 when s[0..len) is valid UTF-8 (no overlong form, surrogate or code point > U+10FFFF). */
int sanitize_utf8_valid(const char *s, size_t len);
/*
 * Escape len bytes of in into out (cap bytes, NUL included; cap >= 1). Stops before a
 * character or escape that would not fit. Returns the length written; *cut (may be NULL)
 * is set to 1 when not all of in fit, else 0.
 */
size_t sanitize_escape(const char *in, size_t len, char *out, size_t cap, int *cut);
/* The raw bytes of an escaped string (NUL-terminated in out): length, or -EINVAL. */
int sanitize_unescape(const char *in, char *out, size_t cap);
/*
 * Valid UTF-8 for a whole reply line: a malloc'ed copy of s[0..len) with each byte of an
 * invalid sequence replaced by U+FFFD (NUL-terminated, *out_len set); NULL when out of memory.
 */
char *sanitize_utf8_repair(const char *s, size_t len, size_t *out_len);

#endif
