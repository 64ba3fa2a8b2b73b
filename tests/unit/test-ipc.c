/* test-ipc.c: the socket server on a real loop with fake ops: order, pending, raw, limits */
#include <errno.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "../../daemon/config.h"
#include "../../daemon/ipc.h"
#include "check.h"
#include "lineclient.h"

/* What the fake ops saw, written on the loop thread and read after the loop ended. */
struct server {
	uv_loop_t loop;
	struct config cfg;
	struct ipc *ipc;
	char path[128];
	uv_async_t done;
	uv_timer_t resume;
	struct ipc_client *pending; /* referenced while its reply is delayed */
	char pending_word[32];
	char lines[64][64];
	size_t n_lines;
	char raw[64];
	size_t raw_len;
	unsigned gone, clients_calls, stopped;
	unsigned topics, topics_seen; /* the last topics_cb, and every topic it ever held */
	unsigned topics_bad;	      /* topics_cb calls not saying ipc_topics() */
};

static void reply_word(struct ipc_client *c, const char *key, const char *word)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, key, word);
	ipc_client_send(c, o);
	cJSON_Delete(o);
}

static void resume_cb(uv_timer_t *t)
{
	struct server *sv = t->data;
	struct ipc_client *c = sv->pending;

	sv->pending = NULL;
	reply_word(c, "echo", sv->pending_word);
	ipc_client_resume(c);
	ipc_client_unref(c);
}

/* n replies of about 1 KiB each, at once (a client that does not read them) */
static void fill(struct ipc_client *c, int n)
{
	char pad[1024];

	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (int i = 0; i < n; i++)
		if (ipc_client_is_open(c))
			reply_word(c, "fill", pad);
}

/* one reply of n KiB (as one line) */
static void big(struct ipc_client *c, int kib)
{
	size_t n = (size_t)kib * 1024;
	char *pad = malloc(n + 1);

	memset(pad, 'b', n);
	pad[n] = '\0';
	reply_word(c, "big", pad);
	free(pad);
}

/* "echo W", "wait W" (answered 100 ms later), "raw N", "fill N", "big KIB", "sub", "bye" */
static enum ipc_outcome request_cb(void *arg, struct ipc_client *c, const char *line, size_t len)
{
	struct server *sv = arg;
	char word[32] = "";

	if (*ipc_client_slot(c) == NULL)
		*ipc_client_slot(c) = sv; /* per-client state: the ops own it until gone_cb */
	if (sv->n_lines < 64)
		snprintf(sv->lines[sv->n_lines++], sizeof(sv->lines[0]), "%.*s", (int)len, line);
	if (sscanf(line, "echo %31s", word) == 1) {
		reply_word(c, "echo", word);
	} else if (sscanf(line, "wait %31s", word) == 1) {
		snprintf(sv->pending_word, sizeof(sv->pending_word), "%s", word);
		sv->pending = ipc_client_ref(c);
		uv_timer_start(&sv->resume, resume_cb, 100, 0);
		return IPC_PENDING;
	} else if (sscanf(line, "raw %31s", word) == 1) {
		ipc_client_expect_raw(c, (size_t)atoi(word));
	} else if (sscanf(line, "fill %31s", word) == 1) {
		fill(c, atoi(word));
	} else if (sscanf(line, "big %31s", word) == 1) {
		big(c, atoi(word));
	} else if (strcmp(line, "sub") == 0) {
		ipc_client_set_topics(c, IPC_TOPIC_EVENTS);
		reply_word(c, "sub", "sub");
	} else if (strcmp(line, "bye") == 0) {
		reply_word(c, "bye", "bye");
		ipc_client_close_after_flush(c);
	} else {
		reply_word(c, "unknown", line);
	}
	return IPC_DONE;
}

static enum ipc_outcome raw_cb(void *arg, struct ipc_client *c, void *buf, size_t len)
{
	struct server *sv = arg;
	char n[32];

	sv->raw_len = len;
	memcpy(sv->raw, buf, len < sizeof(sv->raw) ? len : sizeof(sv->raw) - 1);
	free(buf);
	snprintf(n, sizeof(n), "%zu", len);
	reply_word(c, "got", n);
	return IPC_DONE;
}

static void gone_cb(void *arg, struct ipc_client *c)
{
	struct server *sv = arg;

	/* called at close_after_flush and again at the close: the slot is dropped once */
	if (*ipc_client_slot(c) != NULL)
		sv->gone++;
	*ipc_client_slot(c) = NULL;
}

static void clients_cb(void *arg)
{
	struct server *sv = arg;

	sv->clients_calls++;
}

static void topics_cb(void *arg, unsigned topics)
{
	struct server *sv = arg;

	if (topics != ipc_topics(sv->ipc)) /* counted here, checked by the main thread */
		sv->topics_bad++;
	sv->topics = topics;
	sv->topics_seen |= topics;
}

static const struct ipc_ops fake_ops = {
	.request_cb = request_cb,
	.raw_cb = raw_cb,
	.gone_cb = gone_cb,
	.clients_cb = clients_cb,
	.topics_cb = topics_cb,
};

static void check_word(struct lineclient *lc, const char *key, const char *want)
{
	cJSON *o = lineclient_recv(lc);

	CHECK(o != NULL);
	ASSERT_STREQ(lineclient_str(o, key), want);
	cJSON_Delete(o);
}

static void check_word_call(struct lineclient *lc, const char *line, const char *key,
			    const char *want)
{
	lineclient_send(lc, line);
	check_word(lc, key, want);
}

/* Pipelined requests are answered in order, also across a pending one; raw bytes. */
static void client_order(struct server *sv)
{
	static const char batch[] = "echo a\necho b\nwait c\necho d\nraw 5\nhelloecho e\n";
	struct lineclient lc;

	CHECK(lineclient_open(&lc, sv->path) == 0);
	CHECK(lineclient_write(&lc, batch, sizeof(batch) - 1) == 0);
	check_word(&lc, "echo", "a");
	check_word(&lc, "echo", "b");
	check_word(&lc, "echo", "c");
	check_word(&lc, "echo", "d");
	check_word(&lc, "got", "5");
	check_word(&lc, "echo", "e");
	lineclient_close(&lc);
}

/* A line of 65536 bytes or more: one too_large error, then the server closes. */
static void client_too_long(struct server *sv)
{
	struct lineclient lc;
	size_t n = IPC_MAX_LINE + 10;
	char *line = malloc(n + 1);
	cJSON *o, *e;

	memset(line, 'x', n);
	line[n] = '\0';
	CHECK(lineclient_open(&lc, sv->path) == 0);
	lineclient_send(&lc, "echo fits");
	check_word(&lc, "echo", "fits");
	lineclient_send(&lc, line);
	o = lineclient_recv(&lc);
	e = cJSON_GetObjectItemCaseSensitive(o, "error");
	CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "ok")));
	ASSERT_STREQ(lineclient_str(e, "code"), "too_large");
	CHECK(lineclient_eof(&lc));
	cJSON_Delete(o);
	free(line);
	lineclient_close(&lc);
}

static void check_error(struct lineclient *lc, const char *code)
{
	cJSON *o = lineclient_recv(lc);

	CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "ok")));
	ASSERT_STREQ(lineclient_str(cJSON_GetObjectItemCaseSensitive(o, "error"), "code"), code);
	cJSON_Delete(o);
}

/* Bytes up to and with the first newline (0 when the connection ends before one). */
static size_t read_line_len(struct lineclient *lc)
{
	char buf[65536];
	size_t total = 0;

	for (;;) {
		ssize_t n = recv(lc->fd, buf, sizeof(buf), 0);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		nl = memchr(buf, '\n', (size_t)n);
		if (nl)
			return total + (size_t)(nl - buf) + 1;
		total += (size_t)n;
	}
}

/*
 * max_clients_per_uid (2 here, every test client has our uid): the longest idle client is
 * closed to make room; when none is idle (subscribers) the new one gets too_many_clients.
 */
static void client_per_uid(struct server *sv)
{
	struct lineclient a, b, c, d;

	CHECK(lineclient_open(&a, sv->path) == 0);
	check_word_call(&a, "echo a", "echo", "a");
	CHECK(lineclient_open(&b, sv->path) == 0);
	check_word_call(&b, "sub", "sub", "sub");
	CHECK(lineclient_open(&c, sv->path) == 0); /* a is idle: it makes room */
	check_word_call(&c, "echo c", "echo", "c");
	CHECK(lineclient_eof(&a));
	check_word_call(&c, "sub", "sub", "sub");
	CHECK(lineclient_open(&d, sv->path) == 0); /* b, c subscribed: refused */
	check_error(&d, "too_many_clients");
	CHECK(lineclient_eof(&d));
	check_word_call(&b, "echo b", "echo", "b"); /* the others are untouched */
	lineclient_close(&d);
	lineclient_close(&c);
	lineclient_close(&b);
	lineclient_close(&a);
}

/* At the per-uid limit a client that does not read its replies is closed to make room. */
static void client_evict_noread(struct server *sv)
{
	struct lineclient x, y, z;

	CHECK(lineclient_open(&x, sv->path) == 0);
	lineclient_send(&x, "big 1024"); /* 1 MiB, more than the socket takes: x does not read */
	CHECK(lineclient_open(&y, sv->path) == 0);
	check_word_call(&y, "sub", "sub", "sub");
	CHECK(lineclient_open(&z, sv->path) == 0);
	check_word_call(&z, "echo z", "echo", "z");
	ASSERT_EQ(read_line_len(&x), 0); /* closed before its whole reply */
	lineclient_close(&z);
	lineclient_close(&y);
	lineclient_close(&x);
}

/* client_idle_timeout (1 s): an idle client is closed, a subscriber is not. */
static void client_idle(struct server *sv)
{
	struct lineclient a, b;

	CHECK(lineclient_open(&a, sv->path) == 0);
	check_word_call(&a, "echo a", "echo", "a");
	CHECK(lineclient_open(&b, sv->path) == 0);
	check_word_call(&b, "sub", "sub", "sub");
	usleep(1800 * 1000);
	CHECK(lineclient_eof(&a));
	check_word_call(&b, "echo b", "echo", "b");
	lineclient_close(&b);
	lineclient_close(&a);
}

/* request_timeout and import_timeout (1 s): a timeout error, then the server closes. */
static void client_deadlines(struct server *sv)
{
	struct lineclient a, b;

	CHECK(lineclient_open(&a, sv->path) == 0);
	CHECK(lineclient_write(&a, "echo never-end", 14) == 0);
	CHECK(lineclient_open(&b, sv->path) == 0);
	CHECK(lineclient_write(&b, "raw 100\nhalf", 12) == 0);
	usleep(1800 * 1000);
	check_error(&a, "timeout");
	CHECK(lineclient_eof(&a));
	check_error(&b, "timeout");
	CHECK(lineclient_eof(&b));
	lineclient_close(&b);
	lineclient_close(&a);
}

/*
 * reply_buffer_max (1536 KiB): a second unread 1 MiB reply disconnects the client that holds
 * the first; a reply over the whole budget becomes a too_large error.
 */
static void client_budget(struct server *sv)
{
	struct lineclient x, y;

	CHECK(lineclient_open(&x, sv->path) == 0);
	lineclient_send(&x, "big 1024");
	usleep(200 * 1000); /* x does not read */
	CHECK(lineclient_open(&y, sv->path) == 0);
	lineclient_send(&y, "big 1024");
	usleep(200 * 1000);
	ASSERT_EQ(read_line_len(&x), 0); /* cut: disconnected before its whole reply */
	ASSERT_EQ(read_line_len(&y), 1024 * 1024 + 11); /* {"big":"..."} and the newline */
	lineclient_send(&y, "big 2048");
	check_error(&y, "too_large");
	check_word_call(&y, "echo y", "echo", "y");
	lineclient_close(&y);
	lineclient_close(&x);
}

/* "bye" closes after its reply; max_clients refuses the client over the limit. */
static void client_close_and_limit(struct server *sv)
{
	struct lineclient a, b, c;

	CHECK(lineclient_open(&a, sv->path) == 0);
	lineclient_send(&a, "bye");
	check_word(&a, "bye", "bye");
	CHECK(lineclient_eof(&a));
	lineclient_close(&a);

	/* each round trip lets the server finish closing the clients before */
	CHECK(lineclient_open(&a, sv->path) == 0);
	lineclient_send(&a, "echo one");
	check_word(&a, "echo", "one");
	check_word_call(&a, "sub", "sub", "sub"); /* not idle: not closed to make room */
	CHECK(lineclient_open(&b, sv->path) == 0);
	lineclient_send(&b, "echo two");
	check_word(&b, "echo", "two");
	check_word_call(&b, "sub", "sub", "sub");
	CHECK(lineclient_open(&c, sv->path) == 0); /* accepted by the kernel, then refused */
	lineclient_send(&c, "echo three");
	check_error(&c, "too_many_clients");
	CHECK(lineclient_eof(&c));
	lineclient_close(&c);
	lineclient_close(&b);
	lineclient_close(&a);
}

/* Replies pile up past client_queue_max while the client does not read: disconnected. */
static void client_slow(struct server *sv)
{
	struct lineclient lc;
	int lines = 0;
	cJSON *o;

	CHECK(lineclient_open(&lc, sv->path) == 0);
	lineclient_send(&lc, "fill 4000"); /* 4 MB, far beyond socket buffers and the cap */
	usleep(200 * 1000);
	while ((o = lineclient_recv(&lc)) != NULL) {
		lines++;
		cJSON_Delete(o);
	}
	CHECK(lines < 4000);
	lineclient_close(&lc);
}

static void client_main(void *arg)
{
	struct server *sv = arg;

	client_order(sv);
	client_too_long(sv);
	client_slow(sv);
	client_per_uid(sv);
	client_evict_noread(sv);
	client_idle(sv);
	client_deadlines(sv);
	client_budget(sv);
	client_close_and_limit(sv); /* last: it leaves max_clients reached for a moment */
	uv_async_send(&sv->done);
}

static void stopped_cb(void *arg)
{
	struct server *sv = arg;

	sv->stopped++;
}

static void done_cb(uv_async_t *a)
{
	struct server *sv = a->data;

	ipc_stop(sv->ipc, stopped_cb, sv);
	uv_close((uv_handle_t *)&sv->done, NULL);
	uv_close((uv_handle_t *)&sv->resume, NULL);
}

int main(void)
{
	static struct server sv;
	char dir[] = "/tmp/jetsamd-test-ipc-XXXXXX", lock[160];
	uv_thread_t client;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(sv.path, sizeof(sv.path), "%s/jetsamd.sock", dir);
	CHECK(config_init(&sv.cfg) == 0);
	sv.cfg.max_clients = 2;
	sv.cfg.client_queue_max = 64 * 1024;
	sv.cfg.max_clients_per_uid = 2;
	sv.cfg.client_idle_timeout_s = 1;
	sv.cfg.request_timeout_s = 1;
	sv.cfg.import_timeout_s = 1;
	sv.cfg.reply_buffer_max = 1536 * 1024;
	CHECK(uv_loop_init(&sv.loop) == 0);
	free(sv.cfg.socket);
	sv.cfg.socket = strdup(sv.path); /* ipc reads cfg->socket */
	CHECK(ipc_new(&sv.loop, &sv.cfg, -1, &fake_ops, &sv, &sv.ipc) == 0);
	uv_async_init(&sv.loop, &sv.done, done_cb);
	sv.done.data = &sv;
	uv_timer_init(&sv.loop, &sv.resume);
	sv.resume.data = &sv;
	CHECK(uv_thread_create(&client, client_main, &sv) == 0);
	uv_run(&sv.loop, UV_RUN_DEFAULT);
	uv_thread_join(&client);

	ASSERT_EQ(sv.stopped, 1);
	ASSERT_EQ(ipc_client_count(sv.ipc), 0);
	/*
	 * every client with state went once: order, too long, slow, per-uid a b c, noread
	 * x y z, idle a b,
	 * the import past its deadline, budget x y, bye, a, b (not the two refused ones, nor the
	 * one that never finished a line)
	 */
	ASSERT_EQ(sv.gone, 17);
	/* one per accepted connection (18: not the two refused) and one per close (20) */
	ASSERT_EQ(sv.clients_calls, 38);
	ASSERT_EQ(sv.raw_len, 5);
	ASSERT_STREQ(sv.raw, "hello");
	/* topics_cb saw the subscriptions come ("sub": events) and go with their clients */
	ASSERT_EQ(sv.topics_seen, IPC_TOPIC_EVENTS);
	ASSERT_EQ(sv.topics, 0);
	ASSERT_EQ(sv.topics_bad, 0);
	ASSERT_EQ(ipc_topics(sv.ipc), 0);
	/* the server saw the lines in order; "echo d" only after "wait c" was answered */
	ASSERT_STREQ(sv.lines[2], "wait c");
	ASSERT_STREQ(sv.lines[3], "echo d");
	ASSERT_STREQ(sv.lines[4], "raw 5");
	ASSERT_STREQ(sv.lines[5], "echo e");
	CHECK(access(sv.path, F_OK) != 0); /* the socket file is removed at stop */
	ipc_free(sv.ipc);
	CHECK(uv_loop_close(&sv.loop) == 0);
	config_release(&sv.cfg);
	snprintf(lock, sizeof(lock), "%s.lock", sv.path);
	unlink(lock);
	rmdir(dir);
	return CHECK_DONE();
}
