/* sanitize.c: strings from a phone to bounded, valid UTF-8 with reversible \xNN escapes */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sanitize.h"

size_t sanitize_utf8_seq(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned char c;
	size_t n;
	unsigned lo = 0x80, hi = 0xbf;

	if (len == 0)
		return 0;
	c = u[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0; /* continuation byte, overlong lead (c0, c1) or beyond U+10FFFF */
	if (len < n)
		return 0;
	/* the second byte's range excludes overlong forms, surrogates and > U+10FFFF */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (u[1] < lo || u[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (u[i] < 0x80 || u[i] > 0xbf)
			return 0;
	return n;
}

int sanitize_utf8_valid(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t n;

		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		n = sanitize_utf8_seq(s + i, len - i);
		if (n == 0)
			return 0;
		i += n;
	}
	return 1;
}

/* 1 when the n-byte valid sequence at s is to be written as escapes */
static int must_escape(const unsigned char *s, size_t n)
{
	if (n == 1)
		return s[0] < 0x20 || s[0] == 0x7f || s[0] == '\\';
	return n == 2 && s[0] == 0xc2 && s[1] < 0xa0; /* C1 controls U+0080..U+009F */
}

size_t sanitize_escape(const char *in, size_t len, char *out, size_t cap, int *cut)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, o = 0;

	if (cut)
		*cut = 0;
	while (i < len) {
		size_t n = sanitize_utf8_seq(in + i, len - i);
		int esc = n == 0 || must_escape((const unsigned char *)in + i, n);
		size_t need = esc ? (n ? n : 1) * 4 : n;

		if (o + need + 1 > cap) {
			if (cut)
				*cut = 1;
			break;
		}
		if (!esc) {
			memcpy(out + o, in + i, n);
			o += n;
		} else {
			for (size_t k = 0; k < (n ? n : 1); k++) {
				unsigned char b = (unsigned char)in[i + k];

				out[o++] = '\\';
				out[o++] = 'x';
				out[o++] = hex[b >> 4];
				out[o++] = hex[b & 15];
			}
		}
		i += n ? n : 1;
	}
	out[o] = '\0';
	return o;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int sanitize_unescape(const char *in, char *out, size_t cap)
{
	size_t o = 0;

	for (const char *p = in; *p; o++) {
		if (o + 1 >= cap)
			return -EINVAL;
		if (*p != '\\') {
			out[o] = *p++;
			continue;
		}
		if (p[1] != 'x' || hexval(p[2]) < 0 || hexval(p[3]) < 0)
			return -EINVAL;
		out[o] = (char)(hexval(p[2]) << 4 | hexval(p[3]));
		p += 4;
	}
	if (cap == 0)
		return -EINVAL;
	out[o] = '\0';
	return (int)o;
}

char *sanitize_utf8_repair(const char *s, size_t len, size_t *out_len)
{
	char *out = malloc(len * 3 + 1); /* each byte at most becomes U+FFFD (3 bytes) */
	size_t i = 0, o = 0;

	if (out == NULL)
		return NULL;
	while (i < len) {
		size_t n = (unsigned char)s[i] < 0x80 ? 1 : sanitize_utf8_seq(s + i, len - i);

		if (n == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}
