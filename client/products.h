/* products.h: the client's name for proto/products.h (marketing names of product ids) */
#ifndef JETSAMCTL_PRODUCTS_H
#define JETSAMCTL_PRODUCTS_H

#include "../proto/products.h"

#endif
