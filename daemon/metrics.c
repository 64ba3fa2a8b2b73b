/* metrics.c: the HTTP server of GET /metrics on the loop: listener, connections, scrapes */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "metrics_proc.h"
#include "metrics_text.h"
#include "store_metrics.h"
#include "storeq.h"

enum conn_state { C_READING, C_WAITING, C_WRITING, C_LINGER, C_CLOSING };

struct conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t wr;
	uv_shutdown_t sd;
	struct metrics *m;
	enum conn_state state;
	int handles; /* open handles (tcp, timer): freed at 0 */
	int head_only;
	size_t len;
	char *resp;
	struct conn *prev, *next; /* m->conns */
	struct conn *wnext;	  /* m->waiters */
	char buf[METRICS_REQUEST_MAX];
};

struct scrape_job {
	struct storeq_job sjob; /* first */
	struct metrics *m;
	struct store_metrics_result res;
	int r;
};

struct metrics {
	uv_loop_t *loop;
	struct storeq *sq;
	const struct metrics_ops *ops;
	void *arg;
	uv_tcp_t listener;
	int listener_open;
	struct conn *conns;
	unsigned n_conns;
	struct conn *waiters;	     /* GET /metrics waiting for the store job */
	struct store_metrics *cache; /* the store thread's, between jobs */
	struct scrape_job job;
	int job_running;
	/* syncs since start (loop) */
	struct metrics_hist sync;
	int64_t sync_errors;
	int stopping;
	void (*done_cb)(void *arg);
	void *done_arg;
};

static void maybe_done(struct metrics *m)
{
	if (m->stopping && m->listener_open == 0 && m->conns == NULL && !m->job_running &&
	    m->done_cb) {
		void (*cb)(void *) = m->done_cb;

		m->done_cb = NULL;
		cb(m->done_arg);
	}
}

/* ---- connections ---- */

static void conn_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct metrics *m = c->m;

	if (--c->handles > 0)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		m->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	m->n_conns--;
	free(c->resp);
	free(c);
	maybe_done(m);
}

static void conn_close(struct conn *c)
{
	struct metrics *m = c->m;

	if (c->state == C_CLOSING)
		return;
	if (c->state == C_WAITING) { /* off the waiting list */
		for (struct conn **p = &m->waiters; *p; p = &(*p)->wnext)
			if (*p == c) {
				*p = c->wnext;
				break;
			}
	}
	c->state = C_CLOSING;
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}

static void timeout_cb(uv_timer_t *t);

static void discard_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void)hint;
	*buf = uv_buf_init(c->buf, sizeof(c->buf));
}

/* After the answer: read and drop until the peer closes, or METRICS_LINGER_S. */
static void discard_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	(void)buf;
	if (nread < 0)
		conn_close(s->data);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;

	if (c->state == C_CLOSING)
		return;
	if (status < 0 || uv_read_start((uv_stream_t *)&c->tcp, discard_alloc_cb, discard_cb) < 0) {
		conn_close(c);
		return;
	}
	c->state = C_LINGER;
	uv_timer_start(&c->timer, timeout_cb, METRICS_LINGER_S * 1000, 0);
}

static void write_cb(uv_write_t *req, int status)
{
	struct conn *c = req->data;

	free(c->resp);
	c->resp = NULL;
	if (c->state == C_CLOSING)
		return;
	c->sd.data = c;
	if (status < 0 || uv_shutdown(&c->sd, (uv_stream_t *)&c->tcp, shutdown_cb) < 0)
		conn_close(c);
}

/* Answer with status and body (len bytes, copied; none for HEAD), then close. */
static void respond(struct conn *c, const char *status, const char *type, const char *extra,
		    const char *body, size_t len)
{
	char head[512];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
			 "Connection: close\r\n\r\n",
			 status, type, len, extra ? extra : "");
	size_t body_len = c->head_only ? 0 : len;
	uv_buf_t b;

	uv_read_stop((uv_stream_t *)&c->tcp);
	if (n < 0 || (size_t)n >= sizeof(head) ||
	    (c->resp = malloc((size_t)n + body_len)) == NULL) {
		conn_close(c);
		return;
	}
	memcpy(c->resp, head, (size_t)n);
	if (body_len)
		memcpy(c->resp + n, body, body_len);
	b = uv_buf_init(c->resp, (unsigned)((size_t)n + body_len));
	c->state = C_WRITING;
	c->wr.data = c;
	uv_timer_start(&c->timer, timeout_cb, METRICS_WRITE_TIMEOUT_S * 1000, 0);
	if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, write_cb) < 0) {
		free(c->resp);
		c->resp = NULL;
		conn_close(c);
	}
}

static void respond_error(struct conn *c, const char *status, const char *extra)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "%s\n", status);

	respond(c, status, "text/plain; charset=utf-8", extra, body, (size_t)n);
}

static void timeout_cb(uv_timer_t *t)
{
	struct conn *c = t->data;

	if (c->state == C_READING)
		respond_error(c, "408 Request Timeout", NULL);
	else if (c->state != C_WAITING) /* the store job answers a waiting one */
		conn_close(c);
}

static void scrape_start(struct metrics *m);

static void handle_request(struct conn *c, const struct metrics_http_req *req)
{
	c->head_only = req->method == METRICS_HTTP_HEAD;
	if (req->method == METRICS_HTTP_OTHER) {
		respond_error(c, "405 Method Not Allowed", "Allow: GET, HEAD\r\n");
		return;
	}
	if (!req->metrics) {
		respond_error(c, "404 Not Found", NULL);
		return;
	}
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_timer_stop(&c->timer);
	c->state = C_WAITING;
	c->wnext = c->m->waiters;
	c->m->waiters = c;
	scrape_start(c->m);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void)hint;
	*buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	struct metrics_http_req req;
	int r;

	(void)buf;
	if (nread < 0) {
		conn_close(c); /* closed or reset before a whole request */
		return;
	}
	if (nread == 0 || c->state != C_READING)
		return;
	c->len += (size_t)nread;
	r = metrics_http_parse(c->buf, c->len, &req);
	if (r < 0)
		respond_error(c, "400 Bad Request", NULL);
	else if (r > 0)
		handle_request(c, &req);
	else if (c->len == sizeof(c->buf))
		respond_error(c, "431 Request Header Fields Too Large", NULL);
}

static void connection_cb(uv_stream_t *server, int status)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
				   "Connection: close\r\n\r\n";
	struct metrics *m = server->data;
	struct conn *c;

	if (status < 0 || m->stopping || (c = calloc(1, sizeof(*c))) == NULL)
		return; /* a connection not accepted now is accepted at the next callback */
	c->m = m;
	uv_tcp_init(m->loop, &c->tcp);
	uv_timer_init(m->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->handles = 2;
	c->next = m->conns;
	if (m->conns)
		m->conns->prev = c;
	m->conns = c;
	m->n_conns++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
		conn_close(c);
		return;
	}
	if (m->n_conns > METRICS_MAX_CONNS) {
		uv_buf_t b = uv_buf_init((char *)busy, sizeof(busy) - 1);

		uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, timeout_cb, METRICS_READ_TIMEOUT_S * 1000, 0);
	if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) < 0)
		conn_close(c);
}

/* ---- scrapes ---- */

static void scrape_work_cb(struct store *s, struct storeq_job *job)
{
	struct scrape_job *j = (struct scrape_job *)job;

	j->r = store_metrics_collect(s, j->m->cache, &j->res);
}

/* The phones: counts by state, and the attached ones with their last sync. */
static int snapshot_devices(struct metrics *m, const struct store_metrics_result *res,
			    struct metrics_snapshot *s, struct metrics_device **att)
{
	struct devices_phone *ph = NULL;
	size_t n = m->ops->devices_cb ? m->ops->devices_cb(m->arg, NULL, 0) : 0, k = 0;

	*att = NULL;
	if (n &&
	    ((ph = calloc(n, sizeof(*ph))) == NULL || (*att = calloc(n, sizeof(**att))) == NULL)) {
		free(ph);
		return -ENOMEM;
	}
	if (n)
		n = m->ops->devices_cb(m->arg, ph, n);
	for (size_t i = 0; i < n; i++) {
		int st = metrics_state_index(ph[i].state);
		struct metrics_device *d;

		if (st < 0)
			continue;
		s->devices[st]++;
		if (!ph[i].attached)
			continue;
		d = &(*att)[k++];
		metrics_label_copy(d->udid, sizeof(d->udid), ph[i].udid);
		d->state = st;
		for (size_t j = 0; j < res->n_syncs; j++)
			if (strcmp(res->syncs[j].udid, ph[i].udid) == 0) {
				memcpy(d->product, res->syncs[j].product, sizeof(d->product));
				d->last_sync = res->syncs[j].last_sync;
			}
	}
	free(ph);
	s->attached = *att;
	s->n_attached = k;
	return 0;
}

/* The text of a scrape whose store part is res; NULL when out of memory. */
static char *render(struct metrics *m, const struct store_metrics_result *res, size_t *len)
{
	struct metrics_snapshot s = {
		.kills = res->kills,
		.n_kills = res->n_kills,
		.limits = res->limits,
		.n_limits = res->n_limits,
		.ratios = res->ratios,
		.n_ratios = res->n_ratios,
		.sync = m->sync,
		.sync_errors = m->sync_errors,
		.fleet = 1,
	};
	struct metrics_device *att = NULL;
	char *text = NULL;

	memcpy(s.reports, res->reports, sizeof(s.reports));
	if (m->ops->fleet_cb) {
		struct metrics_fleet f = {0};

		m->ops->fleet_cb(m->arg, &f);
		s.fleet = f.enabled != 0;
		s.fleet_connected = f.connected;
		s.fleet_outbox = f.outbox;
	}
	metrics_proc_read(&s.proc);
	if (snapshot_devices(m, res, &s, &att) == 0 && metrics_text_render(&s, &text, len) < 0)
		text = NULL;
	free(att);
	return text;
}

static void scrape_done_cb(struct storeq_job *job)
{
	static const char type[] = "application/openmetrics-text; version=1.0.0; charset=utf-8";
	struct scrape_job *j = (struct scrape_job *)job;
	struct metrics *m = j->m;
	struct conn *c = m->waiters;
	char *text = NULL;
	size_t len = 0;

	m->job_running = 0;
	if (j->r == 0 && j->res.more && !m->stopping) {
		/* a rebuild goes on chunk by chunk: other store jobs run in between */
		store_metrics_result_release(&j->res);
		scrape_start(m);
		return;
	}
	m->waiters = NULL;
	if (j->r < 0)
		log_err("metrics", "cannot read the store's metrics: %s", strerror(-j->r));
	if (j->r == 0 && c && (text = render(m, &j->res, &len)) == NULL)
		log_err("metrics", "out of memory rendering the metrics");
	store_metrics_result_release(&j->res);
	while (c) {
		struct conn *next = c->wnext;

		c->state = C_READING; /* not waiting any more; respond() takes it from here */
		if (text)
			respond(c, "200 OK", type, NULL, text, len);
		else
			respond_error(c, "503 Service Unavailable", NULL);
		c = next;
	}
	free(text);
	maybe_done(m);
}

static void scrape_start(struct metrics *m)
{
	if (m->job_running)
		return;
	memset(&m->job, 0, sizeof(m->job));
	m->job.m = m;
	m->job.sjob.work_cb = scrape_work_cb;
	m->job.sjob.done_cb = scrape_done_cb;
	m->job_running = 1;
	if (storeq_submit(m->sq, &m->job.sjob) < 0) {
		m->job.r = -ESHUTDOWN;
		scrape_done_cb(&m->job.sjob);
	}
}

void metrics_sync_observe(struct metrics *m, double seconds, int failed)
{
	if (m == NULL)
		return;
	for (int i = 0; i < METRICS_N_BUCKETS; i++)
		m->sync.le[i] += seconds <= metrics_sync_buckets[i];
	m->sync.count++;
	m->sync.sum += seconds;
	m->sync_errors += failed != 0;
}

/* ---- listener ---- */

/* "HOST:PORT" (HOST: IPv4, [IPv6] or localhost) into sa. */
static int parse_addr(const char *addr, struct sockaddr_storage *sa)
{
	const char *colon = strrchr(addr, ':');
	char host[256];
	size_t hl;
	long port;
	char *end;

	if (colon == NULL || (hl = (size_t)(colon - addr)) == 0 || hl >= sizeof(host))
		return -EINVAL;
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		return -EINVAL;
	if (addr[0] == '[') {
		if (hl < 3 || addr[hl - 1] != ']')
			return -EINVAL;
		memcpy(host, addr + 1, hl - 2);
		host[hl - 2] = '\0';
		return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)sa);
	}
	memcpy(host, addr, hl);
	host[hl] = '\0';
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)sa);
}

static int listen_on(struct metrics *m, int fd, const char *addr)
{
	struct sockaddr_storage sa;
	int r;

	if ((r = uv_tcp_init(m->loop, &m->listener)) < 0)
		return r;
	m->listener.data = m;
	m->listener_open = 1;
	if (fd >= 0) {
		r = uv_tcp_open(&m->listener, fd);
		if (r < 0)
			close(fd);
	} else if ((r = parse_addr(addr, &sa)) < 0) {
		log_err("metrics",
			"metrics_listen '%s' is not IPv4:PORT, [IPv6]:PORT or "
			"localhost:PORT",
			addr);
		return r;
	} else {
		r = uv_tcp_bind(&m->listener, (const struct sockaddr *)&sa, 0);
	}
	if (r == 0)
		r = uv_listen((uv_stream_t *)&m->listener, 128, connection_cb);
	if (r < 0)
		log_err("metrics", "cannot listen on %s: %s",
			fd >= 0 ? "the activated socket" : addr, uv_strerror(r));
	else
		log_info("metrics", "serving GET /metrics on %s",
			 fd >= 0 ? "the activated socket (jetsamd-metrics.socket)" : addr);
	return r;
}

int metrics_new(uv_loop_t *loop, struct storeq *sq, int fd, const char *addr,
		const struct metrics_ops *ops, void *arg, struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof(*m));
	int r;

	*out = m;
	if (m == NULL) {
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	m->loop = loop;
	m->sq = sq;
	m->ops = ops;
	m->arg = arg;
	if ((r = store_metrics_new(&m->cache)) < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	if ((r = listen_on(m, fd, addr)) == 0)
		scrape_start(m); /* build the store aggregates now, not at the first scrape */
	return r;
}

static void listener_closed_cb(uv_handle_t *h)
{
	struct metrics *m = h->data;

	m->listener_open = 0;
	maybe_done(m);
}

void metrics_stop(struct metrics *m, void (*done_cb)(void *arg), void *arg)
{
	m->stopping = 1;
	m->done_cb = done_cb;
	m->done_arg = arg;
	if (m->listener_open == 1) {
		m->listener_open = 2; /* closing */
		uv_close((uv_handle_t *)&m->listener, listener_closed_cb);
	}
	for (struct conn *c = m->conns; c; c = c->next)
		conn_close(c);
	maybe_done(m);
}

void metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	store_metrics_free(m->cache);
	free(m);
}
