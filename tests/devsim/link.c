/* link.c: devsim's emulated USB link: per-phone latency and bandwidth, a shared bus cap */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "devsim.h"

/*
 * Every byte a phone sends or receives through a usbmux connection (lockdown, mover, AFC,
 * syslog_relay) crosses the phone's pipe: it leaves when the pipe has carried what was
 * queued before it at `bandwidth` bytes/s (both directions share it, as USB 2.0 is half
 * duplex), and when the shared bus has carried what all phones queued before it at
 * `bus_bandwidth`; it arrives half the round-trip latency later. Arrivals are timed with a
 * timerfd per connection on the event loop (libuv's timers count whole milliseconds), so
 * nothing blocks and many phones share one devsim.
 */

#define LINK_IN_MAX (8u * 1024 * 1024)

struct linkitem {
	struct linkitem *next;
	uint64_t at;
	size_t len;
	void *w; /* to the host: the write; to the phone: NULL and the bytes in data */
	char data[];
};

struct linkq {
	struct conn *c;
	uv_poll_t poll;
	int fd;
	struct linkitem *out_head, *out_tail, *in_head, *in_tail;
	size_t out_bytes, in_bytes;
	uint64_t armed;
	bool closing;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* "1ms", "0.5 ms", "250us", "2s", "800ns"; a bare number is milliseconds */
int link_parse_duration(const char *s, uint64_t *ns)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = {{"", 1e6}, {"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}};
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(end, units[i].unit)) {
			v *= units[i].ns;
			if (v > 60e9)
				return -ERANGE;
			*ns = (uint64_t)llround(v);
			return 0;
		}
	}
	return -EINVAL;
}

/* "30MB/s", "35MiB/s", "480Mbit/s", "4.8Gbit/s", "500kB/s"; a bare number is bytes/s */
int link_parse_rate(const char *s, uint64_t *bytes_per_s)
{
	static const struct {
		const char *unit;
		double bytes;
	} units[] = {
		{"", 1},	  {"B/s", 1},	      {"kB/s", 1e3},	  {"KiB/s", 1024},
		{"MB/s", 1e6},	  {"MiB/s", 1048576}, {"GB/s", 1e9},	  {"GiB/s", 1073741824},
		{"bit/s", 0.125}, {"kbit/s", 125},    {"Mbit/s", 125000}, {"Gbit/s", 125e6},
	};
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(end, units[i].unit)) {
			v *= units[i].bytes;
			if (v > 1e12 || (v > 0 && v < 1))
				return -ERANGE;
			*bytes_per_s = (uint64_t)llround(v);
			return 0;
		}
	}
	return -EINVAL;
}

/* the documented presets (README.md "Link emulation" says where the figures come from) */
int link_preset(const char *name, struct link_params *lp)
{
	memset(lp, 0, sizeof(*lp));
	if (!strcmp(name, "loopback"))
		return 0;
	if (!strcmp(name, "usb2")) {
		lp->latency_ns = 1000000; /* 1 ms per request round trip */
		lp->bandwidth = 30000000; /* 30 MB/s of AFC payload */
		return 0;
	}
	if (!strcmp(name, "usb3")) {
		lp->latency_ns = 500000;   /* 0.5 ms */
		lp->bandwidth = 300000000; /* 300 MB/s */
		return 0;
	}
	return -EINVAL;
}

static void describe_rate(uint64_t r, char *out, size_t outlen)
{
	if (r == 0)
		snprintf(out, outlen, "unlimited");
	else
		snprintf(out, outlen, "%.3g MB/s", (double)r / 1e6);
}

void link_describe(const struct link_params *lp, char *out, size_t outlen)
{
	char bw[32], bus[32];

	if (!lp->latency_ns && !lp->bandwidth && !lp->bus_bandwidth) {
		snprintf(out, outlen, "loopback (no emulation)");
		return;
	}
	describe_rate(lp->bandwidth, bw, sizeof(bw));
	describe_rate(lp->bus_bandwidth, bus, sizeof(bus));
	snprintf(out, outlen, "round trip %.3f ms, %s per phone, bus %s",
		 (double)lp->latency_ns / 1e6, bw, bus);
}

bool link_applies(const struct conn *c)
{
	const struct link_params *lp = &c->ds->link;

	if (!c->phone || (!lp->latency_ns && !lp->bandwidth && !lp->bus_bandwidth))
		return false;
	return c->kind == CONN_LOCKDOWN || c->kind == CONN_MOVER || c->kind == CONN_AFC ||
	       c->kind == CONN_SYSLOG;
}

/* when n bytes queued now reach the other end */
static uint64_t link_arrival(struct conn *c, size_t n)
{
	struct devsim *ds = c->ds;
	struct phone *p = c->phone;
	uint64_t now = mono_ns(), t = now;

	if (ds->link.bandwidth) {
		p->link_busy = (p->link_busy > now ? p->link_busy : now) +
			       (uint64_t)n * 1000000000u / ds->link.bandwidth;
		t = p->link_busy;
	}
	if (ds->link.bus_bandwidth) {
		ds->bus_busy = (ds->bus_busy > now ? ds->bus_busy : now) +
			       (uint64_t)n * 1000000000u / ds->link.bus_bandwidth;
		if (ds->bus_busy > t)
			t = ds->bus_busy;
	}
	return t + ds->link.latency_ns / 2;
}

static void link_arm(struct linkq *q)
{
	struct itimerspec its;
	uint64_t next = 0;

	if (q->out_head)
		next = q->out_head->at;
	if (q->in_head && (!next || q->in_head->at < next))
		next = q->in_head->at;
	if (next == q->armed)
		return;
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(next / 1000000000u);
	its.it_value.tv_nsec = (long)(next % 1000000000u);
	timerfd_settime(q->fd, TFD_TIMER_ABSTIME, &its, NULL);
	q->armed = next;
}

static void link_poll_cb(uv_poll_t *h, int status, int events)
{
	struct linkq *q = h->data;
	uint64_t ticks, now;
	struct linkitem *it;

	(void)status;
	(void)events;
	if (read(q->fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	q->armed = 0;
	now = mono_ns();
	while (!q->closing && q->out_head && q->out_head->at <= now) {
		it = q->out_head;
		q->out_head = it->next;
		if (!q->out_head)
			q->out_tail = NULL;
		q->out_bytes -= it->len;
		conn_write_now(q->c, it->w);
		free(it);
	}
	while (!q->closing && q->in_head && q->in_head->at <= now) {
		it = q->in_head;
		q->in_head = it->next;
		if (!q->in_head)
			q->in_tail = NULL;
		q->in_bytes -= it->len;
		conn_input(q->c, it->data, it->len);
		free(it);
	}
	if (!q->closing && !q->out_head && q->c->close_after_link)
		conn_close(q->c, "%s", q->c->reason);
	else if (!q->closing)
		link_arm(q);
}

static struct linkq *link_get(struct conn *c)
{
	struct linkq *q = c->link;

	if (q)
		return q;
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (q->fd < 0 || uv_poll_init(c->ds->loop, &q->poll, q->fd) < 0) {
		log_err("conn %u: cannot create a link timer: %s", c->id, strerror(errno));
		if (q->fd >= 0)
			close(q->fd);
		free(q);
		return NULL;
	}
	q->c = c;
	q->poll.data = q;
	uv_poll_start(&q->poll, UV_READABLE, link_poll_cb);
	c->link = q;
	return q;
}

static void link_enqueue(struct linkq *q, struct linkitem *it, bool out)
{
	struct linkitem **head = out ? &q->out_head : &q->in_head;
	struct linkitem **tail = out ? &q->out_tail : &q->in_tail;

	it->next = NULL;
	if (*tail && (*tail)->at > it->at)
		it->at = (*tail)->at; /* keep the byte order of the stream */
	if (*tail)
		(*tail)->next = it;
	else
		*head = it;
	*tail = it;
	link_arm(q);
}

int link_send(struct conn *c, void *w, size_t len)
{
	struct linkq *q = link_get(c);
	struct linkitem *it = q ? malloc(sizeof(*it)) : NULL;

	if (!it) {
		conn_wbuf_free(w);
		conn_close(c, "out of memory");
		return -ENOMEM;
	}
	it->len = len;
	it->w = w;
	it->at = link_arrival(c, len);
	q->out_bytes += len;
	link_enqueue(q, it, true);
	return 0;
}

int link_receive(struct conn *c, const char *data, size_t len)
{
	struct linkq *q = link_get(c);
	struct linkitem *it = q ? malloc(sizeof(*it) + len) : NULL;

	if (!it) {
		conn_close(c, "out of memory");
		return -ENOMEM;
	}
	if (q->in_bytes + len > LINK_IN_MAX) {
		free(it);
		log_err("conn %u %s: too much unprocessed input", c->id, conn_kind_name(c->kind));
		conn_close(c, "too much unprocessed input");
		return -EMSGSIZE;
	}
	memcpy(it->data, data, len);
	it->len = len;
	it->w = NULL;
	it->at = link_arrival(c, len);
	q->in_bytes += len;
	link_enqueue(q, it, false);
	return 0;
}

size_t link_pending_out(const struct conn *c)
{
	return c->link ? c->link->out_bytes : 0;
}

size_t link_pending_in(const struct conn *c)
{
	return c->link ? c->link->in_bytes : 0;
}

static void link_close_cb(uv_handle_t *h)
{
	struct linkq *q = h->data;

	close(q->fd);
	free(q);
}

static void link_free_items(struct linkitem *it)
{
	while (it) {
		struct linkitem *next = it->next;

		if (it->w)
			conn_wbuf_free(it->w);
		free(it);
		it = next;
	}
}

/* the connection closes: what is still on the link is lost, as when a cable is pulled */
void link_close(struct conn *c)
{
	struct linkq *q = c->link;

	if (!q)
		return;
	c->link = NULL;
	q->closing = true;
	link_free_items(q->out_head);
	link_free_items(q->in_head);
	q->out_head = q->in_head = q->out_tail = q->in_tail = NULL;
	uv_poll_stop(&q->poll);
	uv_close((uv_handle_t *)&q->poll, link_close_cb);
}
