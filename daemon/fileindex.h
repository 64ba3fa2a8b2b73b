/* fileindex.h: a phone's file index (path, size, mtime) as a sorted array, by value */
#ifndef JETSAMD_FILEINDEX_H
#define JETSAMD_FILEINDEX_H

#include <stddef.h>
#include <stdint.h>

/*
 * The store loads a phone's index (store_file_index_load(), store.h) as a deep copy that a
 * worker thread (daemon/fetch.c) owns and reads without the store.
 */
struct store_file_entry {
	char *path; /* AFC path relative to the crash directory: "Retired/JetsamEvent-x.ips" */
	int64_t size;
	int64_t mtime_ns;
	int64_t report_id; /* report this file turned out to be */
	int removed;	   /* removed from the phone by us */
};

struct store_file_index {
	struct store_file_entry *v; /* sorted by path (strcmp) */
	size_t n;
};

void store_file_index_release(struct store_file_index *idx);
/* Binary search by path; NULL when the phone's index has no such file. */
const struct store_file_entry *store_file_index_find(const struct store_file_index *idx,
						     const char *path);

#endif
