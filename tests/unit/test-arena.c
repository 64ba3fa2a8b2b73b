/* test-arena.c: unit tests of the bump allocator and its per-thread cJSON hooks (proto/arena.c) */
#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../proto/arena.h"
#include "../../proto/report.h"
#include "check.h"

static int aligned(const void *p)
{
	return (uintptr_t)p % alignof(max_align_t) == 0;
}

static void test_bump_and_rewind(void)
{
	struct arena a;
	char *p[100];

	arena_init(&a);
	for (int i = 0; i < 100; i++) {
		p[i] = arena_alloc(&a, (size_t)i);
		CHECK(p[i] != NULL && aligned(p[i]));
		if (p[i])
			memset(p[i], i, (size_t)i);
	}
	ASSERT_EQ(a.live, 100);
	ASSERT_EQ(a.bytes, ARENA_FIRST_CHUNK); /* 100 small blocks fit the first chunk */
	for (int i = 1; i < 100; i++)	       /* blocks do not overlap */
		CHECK(p[i] >= p[i - 1] + (i - 1));
	for (int i = 0; i < 100; i++)
		CHECK(i == 0 || (unsigned char)p[i][i - 1] == (unsigned char)i);
	for (int i = 0; i < 99; i++)
		ASSERT_EQ(arena_free(&a, p[i]), 1);
	ASSERT_EQ(a.live, 1);
	/* not rewound while one is live: a new block comes after the live one */
	char *q = arena_alloc(&a, 8);
	CHECK(q > p[99]);
	ASSERT_EQ(arena_free(&a, q), 1);
	ASSERT_EQ(arena_free(&a, p[99]), 1);
	ASSERT_EQ(a.live, 0);
	/* rewound: the next block is the first one again */
	q = arena_alloc(&a, 8);
	CHECK(q == p[0]);
	ASSERT_EQ(arena_free(&a, q), 1);
	int outside = 0;
	ASSERT_EQ(arena_free(&a, &outside), 0); /* not the arena's */
	ASSERT_EQ(arena_free(&a, NULL), 0);
	arena_release(&a);
	ASSERT_EQ(a.bytes, 0);
}

static void test_growth_trim_and_limits(void)
{
	struct arena a;
	void **v = calloc(4096, sizeof(*v));
	size_t n = 0;

	arena_init(&a);
	CHECK(arena_alloc(&a, ARENA_MAX_ALLOC + 1) == NULL);
	CHECK(arena_alloc(&a, SIZE_MAX) == NULL);
	ASSERT_EQ(a.live, 0);
	/* the largest request fits a chunk of its own (after a first chunk of the usual size) */
	void *small = arena_alloc(&a, 8);
	void *big = arena_alloc(&a, ARENA_MAX_ALLOC);
	CHECK(big != NULL);
	if (big)
		memset(big, 0xab, ARENA_MAX_ALLOC);
	/* about 3 MiB in 1000-byte blocks: chunks double up to ARENA_CHUNK_MAX */
	for (n = 0; n < 3000; n++) {
		v[n] = arena_alloc(&a, 1000);
		CHECK(v[n] != NULL);
	}
	CHECK(a.bytes >= 3000 * 1000);
	CHECK(a.bytes <= 3000 * 1000 + 2 * ARENA_CHUNK_MAX + ARENA_MAX_ALLOC + ARENA_FIRST_CHUNK);
	arena_trim(&a); /* live blocks: nothing happens */
	CHECK(a.bytes >= 3000 * 1000);
	for (size_t i = 0; i < n; i++)
		ASSERT_EQ(arena_free(&a, v[i]), 1);
	ASSERT_EQ(arena_free(&a, big), 1);
	ASSERT_EQ(arena_free(&a, small), 1);
	ASSERT_EQ(a.live, 0);
	CHECK(a.bytes > ARENA_FIRST_CHUNK); /* rewound, chunks kept until trimmed */
	arena_trim(&a);
	ASSERT_EQ(a.bytes, ARENA_FIRST_CHUNK);
	arena_release(&a);
	free(v);
}

static void test_thread_hooks(void)
{
	char *heap, *in;

	ASSERT_EQ(arena_thread_bytes(), 0);
	heap = arena_thread_malloc(16); /* no scope: malloc */
	CHECK(heap != NULL);
	ASSERT_EQ(arena_thread_bytes(), 0);
	arena_thread_begin();
	in = arena_thread_malloc(16);
	ASSERT_EQ(arena_thread_bytes(), ARENA_FIRST_CHUNK);
	char *large = arena_thread_malloc(ARENA_MAX_ALLOC + 1); /* too large: malloc */
	CHECK(large != NULL);
	arena_thread_free(large);
	arena_thread_free(heap); /* a malloc'd pointer inside a scope goes to free() */
	arena_thread_free(in);
	arena_thread_end();
	/* many blocks in a held job: chunks kept between scopes, trimmed when the job ends */
	arena_thread_hold();
	arena_thread_begin();
	void *p[400];
	for (int i = 0; i < 400; i++)
		p[i] = arena_thread_malloc(1000);
	for (int i = 0; i < 400; i++)
		arena_thread_free(p[i]);
	arena_thread_end();
	CHECK(arena_thread_bytes() > ARENA_FIRST_CHUNK);
	arena_thread_unhold();
	ASSERT_EQ(arena_thread_bytes(), ARENA_FIRST_CHUNK);
}

/* arena_thread_drop: all of a scope at once, only when all of it is the arena's */
static void test_thread_drop(void)
{
	void *a, *b, *outer, *big;

	ASSERT_EQ(arena_thread_drop(), 0); /* no scope */
	arena_thread_begin();
	ASSERT_EQ(arena_thread_drop(), 0); /* nothing taken through the hooks */
	a = arena_thread_malloc(100);
	for (int i = 0; i < 200; i++) /* over the first chunk */
		CHECK(arena_thread_malloc(1000) != NULL);
	ASSERT_EQ(arena_thread_drop(), 1);
	b = arena_thread_malloc(100);
	CHECK(a == b); /* rewound: the same memory again */
	ASSERT_EQ(arena_thread_drop(), 1);
	arena_thread_end();
	/* a malloc'ed allocation in the scope: no drop (it would leak) */
	arena_thread_begin();
	a = arena_thread_malloc(100);
	big = arena_thread_malloc(ARENA_MAX_ALLOC + 1);
	ASSERT_EQ(arena_thread_drop(), 0);
	arena_thread_free(big);
	arena_thread_free(a);
	arena_thread_end();
	/* something live from before the scope: no drop (it would be overwritten) */
	arena_thread_begin();
	outer = arena_thread_malloc(100);
	arena_thread_begin(); /* nested: still the outer scope's allocations */
	a = arena_thread_malloc(100);
	arena_thread_end();
	arena_thread_end(); /* outer stays live */
	arena_thread_begin();
	b = arena_thread_malloc(100);
	CHECK(b != outer && b != a);
	ASSERT_EQ(arena_thread_drop(), 0);
	arena_thread_free(b);
	arena_thread_free(a);
	arena_thread_free(outer);
	arena_thread_end();
	ASSERT_EQ(arena_thread_bytes(), ARENA_FIRST_CHUNK); /* nothing live: trimmed */
}

/* cJSON under the hooks: a tree parsed in a scope, printing (no realloc hook) outside */
static void *parse_thread_cb(void *arg)
{
	const char *text = arg;
	int ok = 1;

	for (int round = 0; round < 50; round++) {
		arena_thread_begin();
		cJSON *t = cJSON_Parse(text);
		ok = ok && t != NULL && cJSON_GetArraySize(cJSON_GetObjectItem(t, "a")) == 200;
		cJSON_Delete(t);
		arena_thread_end();
	}
	return ok ? arg : NULL;
}

static void test_cjson(void)
{
	char *text = malloc(200 * 24 + 64);
	size_t at = 0;
	pthread_t th[2];
	void *ret[2];
	struct report *r = NULL;

	at += (size_t)sprintf(text + at, "{\"a\":[");
	for (int i = 0; i < 200; i++)
		at += (size_t)sprintf(text + at, "%s{\"k%d\":\"v%d\"}", i ? "," : "", i, i);
	sprintf(text + at, "]}");
	report_use_arena();
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&th[i], NULL, parse_thread_cb, text) == 0);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], &ret[i]);
		CHECK(ret[i] == text);
	}
	/* outside a scope: heap memory that free() and cJSON_free both accept */
	size_t held = arena_thread_bytes();
	cJSON *o = cJSON_Parse(text);
	char *s = cJSON_PrintUnformatted(o);
	CHECK(s != NULL && strncmp(s, "{\"a\":[{\"k0\":\"v0\"}", 17) == 0);
	free(s);
	cJSON_Delete(o);
	ASSERT_EQ(arena_thread_bytes(), held);
	/* report_parse takes its tree from the arena and leaves nothing live in it */
	const char *rep =
		"{\"bug_type\":\"298\",\"timestamp\":\"2023-01-01 00:00:00.00 +0000\"}\n"
		"{\"product\":\"iPhone13,2\",\"build\":\"iPhone OS 16.0 (20A362)\","
		"\"pageSize\":16384,\"processes\":[{\"name\":\"App\",\"pid\":7,"
		"\"rpages\":100,\"reason\":\"per-process-limit\",\"states\":[\"frontmost\"]}]}";
	CHECK(report_parse(rep, strlen(rep), NULL, &r) == 0 && r != NULL);
	CHECK(r != NULL && r->n_events == 1);
	ASSERT_EQ(arena_thread_bytes(), ARENA_FIRST_CHUNK);
	report_free(r);
	cJSON_InitHooks(NULL);
	free(text);
}

int main(void)
{
	test_bump_and_rewind();
	test_growth_trim_and_limits();
	test_thread_hooks();
	test_thread_drop();
	test_cjson();
	return CHECK_DONE();
}
