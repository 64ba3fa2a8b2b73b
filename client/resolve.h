/* resolve.h: user terms to the daemon's names: UDID prefixes, products, OS versions */
#ifndef JETSAMCTL_RESOLVE_H
#define JETSAMCTL_RESOLVE_H

#include <stddef.h>

/*
 * The UDIDs of udids[0..n) that given names: the one equal to it (ASCII case-insensitive),
 * else every one it is a prefix of. Writes at most max indexes into found; returns how many
 * match (0: none, 1: *found is the one, more: ambiguous).
 */
size_t resolve_udid(const char *given, const char *const *udids, size_t n, size_t *found,
		    size_t max);

/*
 * The shortest prefix of udid, at least min characters, that names it alone among
 * udids[0..n) (resolve_udid() gives it back); the whole udid when none is shorter.
 */
void resolve_udid_prefix(char *buf, size_t size, const char *udid, const char *const *udids,
			 size_t n, size_t min);

/* OS versions: products_is_version() and products_os_match() in proto/products.h */

#endif
