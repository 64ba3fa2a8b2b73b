/* products.h: marketing names of Apple product ids ("iPhone13,2" -> "iPhone 12"), shared */
#ifndef JETSAMD_PROTO_PRODUCTS_H
#define JETSAMD_PROTO_PRODUCTS_H

#include <stddef.h>

/* The marketing name of product identifier id, or NULL when unknown */
const char *products_name(const char *id);

/* "iPhone13,2 (iPhone 12)", the identifier alone when unknown, "-" when id is NULL */
void products_label(char *buf, size_t size, const char *id);

/*
 * The product identifiers a user's term names: the identifier equal to it in any case
 * ("iphone13,2"), else every identifier whose marketing name is equal to it in any case
 * ("iPhone 12"; "iPhone 8" is iPhone10,1 and iPhone10,4). Writes at most max into ids (the
 * table's strings) and returns how many there are: 0 when the term is none of them.
 */
size_t products_find(const char *term, const char **ids, size_t max);

/* Whether s is an OS version ("15", "15.5", "16.4.1"), not a build ("19F77") */
int products_is_version(const char *s);
/* Whether OS version v names os_version: equal, or a prefix up to a dot ("15" names "15.5") */
int products_os_match(const char *v, const char *os_version);

#endif
