/* test-trim.c: trim_mappings() unmaps clean read-only file pages and keeps copied ones;
 * trim_thread_cache() gives a thread's cached small chunks back */
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../daemon/trim.h"
#include "check.h"

#define PAGES 64

/* Rss of the mapping that starts at addr, in KiB; -1 when not found. */
static long rss_kb(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	unsigned long start = 0, end = 0;
	int in = 0;
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 && strchr(line, '-'))
			in = start == (unsigned long)addr;
		else if (in && sscanf(line, "Rss: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

static unsigned touch(const volatile unsigned char *p, size_t len, long pg)
{
	unsigned sum = 0;

	for (size_t i = 0; i < len; i += (size_t)pg)
		sum += p[i];
	return sum;
}

#if defined(__SANITIZE_ADDRESS__)
#define TEST_GLIBC_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_GLIBC_MALLOC 0
#endif
#endif
#ifndef TEST_GLIBC_MALLOC
#define TEST_GLIBC_MALLOC 1
#endif

/*
 * Small chunks this thread freed stay in its malloc cache, counted in use (mallinfo2's
 * uordblks); trim_thread_cache() gives them back to the arenas. A sanitizer's malloc has no
 * such cache and mallinfo2 does not see it: there the calls only have to run cleanly.
 */
static void test_thread_cache(void)
{
	enum { SIZES = 64, EACH = 7 };
	static void *p[SIZES * EACH];
	size_t n = 0, bytes = 0;
	struct mallinfo2 before, after;

	for (size_t i = 0; i < SIZES; i++)
		for (size_t k = 0; k < EACH; k++) {
			p[n] = malloc(24 + 16 * i);
			CHECK(p[n] != NULL);
			bytes += 32 + 16 * i;
			n++;
		}
	for (size_t i = 0; i < n; i++)
		free(p[i]);
	before = mallinfo2();
	trim_thread_cache();
	after = mallinfo2();
	if (TEST_GLIBC_MALLOC && before.uordblks >= bytes) /* (no cache: GLIBC_TUNABLES) */
		CHECK(before.uordblks - after.uordblks >= bytes / 2);
	printf("trim_thread_cache: in use %zu -> %zu bytes (%zu freed into the cache)\n",
	       before.uordblks, after.uordblks, bytes);
	trim_thread_cache(); /* an empty cache: the same */
	CHECK(mallinfo2().uordblks <= before.uordblks);
}

int main(void)
{
	char path[] = "/tmp/test-trim-XXXXXX";
	long pg = sysconf(_SC_PAGESIZE);
	size_t len = (size_t)pg * PAGES;
	unsigned char *buf = malloc(len), *ro, *relro;
	int fd = mkstemp(path);
	unsigned want;
	size_t dropped;

	if (fd < 0 || !buf) {
		perror("setup");
		return 1;
	}
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 7 + i / 4096);
	if (write(fd, buf, len) != (ssize_t)len) {
		perror("write");
		return 1;
	}
	want = touch(buf, len, pg);

	/* a read-only map of a file (like a library's code): dropped, same bytes after */
	ro = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	/* a private map written then made read-only (like relocated RELRO data): kept */
	relro = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (ro == MAP_FAILED || relro == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	relro[0] = 0xA5;
	relro[len - 1] = 0x5A;
	mprotect(relro, len, PROT_READ);
	ASSERT_EQ(touch(ro, len, pg), want);
	touch(relro, len, pg);
	ASSERT_EQ(rss_kb(ro), PAGES * pg / 1024);

	dropped = trim_mappings();

	CHECK(dropped >= len); /* the map, and this program's code and libraries */
	ASSERT_EQ(rss_kb(ro), 0);
	ASSERT_EQ(rss_kb(relro), PAGES * pg / 1024); /* the written page's map is left alone */
	ASSERT_EQ(relro[0], 0xA5);
	ASSERT_EQ(relro[len - 1], 0x5A);
	CHECK(memcmp(ro, buf, len) == 0); /* mapped again: the file's bytes */
	CHECK(memcmp(relro + 1, buf + 1, len - 2) == 0);
	/* the program went on running after its own code was dropped; a second run too */
	trim_mappings();
	ASSERT_EQ(touch(ro, len, pg), want);
	munmap(ro, len);
	munmap(relro, len);
	close(fd);
	unlink(path);
	free(buf);
	printf("trim_mappings dropped %zu KiB\n", dropped / 1024);
	test_thread_cache();
	return CHECK_DONE();
}
