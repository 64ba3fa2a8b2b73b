/* products.h: marketing names of Apple product identifiers ("iPhone13,2" -> "iPhone 12") */
#ifndef JETSAMCTL_PRODUCTS_H
#define JETSAMCTL_PRODUCTS_H

#include <stddef.h>

/* The marketing name of product identifier id, or NULL when unknown */
const char *products_name(const char *id);

/* "iPhone13,2 (iPhone 12)", the identifier alone when unknown, "-" when id is NULL */
void products_label(char *buf, size_t size, const char *id);

#endif
