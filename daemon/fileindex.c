/* fileindex.c: a phone's file index (path, size, mtime) as a sorted array, by value */
#include <stdlib.h>
#include <string.h>

#include "fileindex.h"

void store_file_index_release(struct store_file_index *idx)
{
	for (size_t i = 0; i < idx->n; i++)
		free(idx->v[i].path);
	free(idx->v);
	idx->v = NULL;
	idx->n = 0;
}

const struct store_file_entry *store_file_index_find(const struct store_file_index *idx,
						     const char *path)
{
	size_t lo = 0, hi = idx->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(idx->v[mid].path, path);

		if (c == 0)
			return &idx->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
