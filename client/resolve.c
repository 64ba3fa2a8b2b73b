/* resolve.c: user terms to the daemon's names: UDID prefixes, products, OS versions */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "resolve.h"

size_t resolve_udid(const char *given, const char *const *udids, size_t n, size_t *found,
		    size_t max)
{
	size_t len = strlen(given), i, count = 0;

	for (i = 0; i < n; i++) {
		if (udids[i] != NULL && strcasecmp(udids[i], given) == 0) {
			if (max > 0)
				found[0] = i;
			return 1;
		}
	}
	for (i = 0; i < n && len > 0; i++) {
		if (udids[i] == NULL || strncasecmp(udids[i], given, len) != 0)
			continue;
		/* the same UDID listed twice is one phone */
		if (count > 0 && count <= max && strcasecmp(udids[found[count - 1]], udids[i]) == 0)
			continue;
		if (count < max)
			found[count] = i;
		count++;
	}
	return count;
}

void resolve_udid_prefix(char *buf, size_t size, const char *udid, const char *const *udids,
			 size_t n, size_t min)
{
	size_t len = strlen(udid), l, i;

	for (l = min; l < len; l++) {
		int unique = 1;

		for (i = 0; i < n && unique; i++)
			if (udids[i] != NULL && strcasecmp(udids[i], udid) != 0 &&
			    strncasecmp(udids[i], udid, l) == 0)
				unique = 0;
		if (unique)
			break;
	}
	if (l > len)
		l = len;
	snprintf(buf, size, "%.*s", (int)l, udid);
}
