/* control.c: the devsim control socket: one command per line, answered ok or error: ... */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devsim.h"

#define CTL_LINE_MAX 4096
#define CTL_ARGS     6

static void ctl_reply(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void ctl_reply(struct conn *c, const char *fmt, ...)
{
	char line[CTL_LINE_MAX + 256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	conn_write(c, line, (size_t)n);
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || *end || x > INT64_MAX)
		return -EINVAL;
	*v = x;
	return 0;
}

/* deep-tree: on = 1 subdirectory per level, off = 0, or 1..64 */
static int parse_fanout(const char *s, uint64_t *v)
{
	if (!strcmp(s, "on"))
		*v = 1;
	else if (!strcmp(s, "off"))
		*v = 0;
	else if (parse_u64(s, v) < 0 || *v < 1 || *v > 64)
		return -EINVAL;
	return 0;
}

static void ctl_list(struct conn *c)
{
	for (struct phone *p = c->ds->phones; p; p = p->next)
		ctl_reply(c, "%s id=%u trust=%s locked=%s connection=%s dir=%s", p->udid,
			  p->device_id, phone_trust_name(p->trust), p->locked ? "on" : "off",
			  p->network ? "Network" : "USB", p->dir);
	ctl_reply(c, "ok");
}

static void ctl_set(struct conn *c, struct phone *p, char **argv, int argc)
{
	enum trust t;

	if (argc != 4) {
		ctl_reply(c, "error: usage: set UDID locked on|off | set UDID trust "
			     "paired|unpaired|pending|denied | set UDID service-ssl on|off");
		return;
	}
	if (!strcmp(argv[2], "locked")) {
		if (strcmp(argv[3], "on") && strcmp(argv[3], "off")) {
			ctl_reply(c, "error: locked must be on or off, not '%s'", argv[3]);
			return;
		}
		p->locked = !strcmp(argv[3], "on");
		log_msg("phone %s: locked %s", p->udid, argv[3]);
	} else if (!strcmp(argv[2], "service-ssl")) {
		if (strcmp(argv[3], "on") && strcmp(argv[3], "off")) {
			ctl_reply(c, "error: service-ssl must be on or off, not '%s'", argv[3]);
			return;
		}
		p->service_ssl = !strcmp(argv[3], "on");
		log_msg("phone %s: service-ssl %s", p->udid, argv[3]);
	} else if (!strcmp(argv[2], "trust")) {
		if (phone_trust_parse(argv[3], &t) < 0) {
			ctl_reply(c, "error: unknown trust state '%s'", argv[3]);
			return;
		}
		p->trust = t;
		log_msg("phone %s: trust %s", p->udid, argv[3]);
	} else {
		ctl_reply(c, "error: unknown setting '%s'", argv[2]);
		return;
	}
	ctl_reply(c, "ok");
}

static void ctl_fault(struct conn *c, struct phone *p, char **argv, int argc)
{
	const char *what = argc > 2 ? argv[2] : "";
	uint64_t v = 0;

	if (!strcmp(what, "clear") && argc == 3) {
		p->drop_after = -1;
		p->stall_ms = 0;
		p->stall_forever = false;
		p->stall_after = -1;
		p->deep_fanout = 0;
		p->mover = MOVER_OK;
		p->mover_slow_ms = 0;
	} else if (!strcmp(what, "drop-after") && argc == 4 && parse_u64(argv[3], &v) == 0) {
		p->drop_after = (int64_t)v;
	} else if (!strcmp(what, "stall") && argc == 4 && !strcmp(argv[3], "forever")) {
		p->stall_forever = true;
	} else if (!strcmp(what, "stall") && argc == 4 && parse_u64(argv[3], &v) == 0 &&
		   v <= 600000) {
		p->stall_ms = v;
	} else if (!strcmp(what, "stall-after") && argc == 4 && parse_u64(argv[3], &v) == 0) {
		p->stall_after = (int64_t)v;
	} else if (!strcmp(what, "deep-tree") && argc == 4 && parse_fanout(argv[3], &v) == 0) {
		p->deep_fanout = (unsigned)v;
	} else if (!strcmp(what, "mover") && argc == 4 && !strcmp(argv[3], "ok")) {
		p->mover = MOVER_OK;
	} else if (!strcmp(what, "mover") && argc == 4 && !strcmp(argv[3], "none")) {
		p->mover = MOVER_NONE;
	} else if (!strcmp(what, "mover") && argc == 4 && !strcmp(argv[3], "close")) {
		p->mover = MOVER_CLOSE;
	} else if (!strcmp(what, "mover") && argc == 5 && !strcmp(argv[3], "slow") &&
		   parse_u64(argv[4], &v) == 0 && v <= 600000) {
		p->mover = MOVER_SLOW;
		p->mover_slow_ms = v;
	} else {
		ctl_reply(c, "error: usage: fault UDID drop-after BYTES | stall MS|forever | "
			     "stall-after BYTES | deep-tree on|off|FANOUT | mover "
			     "ok|none|close|slow MS | clear");
		return;
	}
	log_msg("phone %s: fault %s%s%s%s%s", p->udid, argv[2], argc > 3 ? " " : "",
		argc > 3 ? argv[3] : "", argc > 4 ? " " : "", argc > 4 ? argv[4] : "");
	ctl_reply(c, "ok");
}

static void ctl_command(struct conn *c, char *line)
{
	char *argv[CTL_ARGS] = {NULL};
	int argc = 0;
	char *s = line, *rest;
	struct phone *p;
	char err[512];

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return;
	if (c->ds->verbose)
		log_msg("conn %u control: %s", c->id, s);
	if (!strncmp(s, "attach", 6) && (s[6] == ' ' || s[6] == '\0')) {
		rest = s + 6;
		while (*rest == ' ')
			rest++;
		if (!*rest) {
			ctl_reply(c, "error: usage: attach DIR");
			return;
		}
		if (phone_attach(c->ds, rest, err, sizeof(err)) < 0) {
			log_err("%s", err);
			ctl_reply(c, "error: %s", err);
			return;
		}
		ctl_reply(c, "ok");
		return;
	}
	while (*s && argc < CTL_ARGS) {
		argv[argc++] = s;
		while (*s && *s != ' ' && *s != '\t')
			s++;
		if (*s)
			*s++ = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
	}
	if (*s) {
		ctl_reply(c, "error: too many arguments");
		return;
	}
	if (!strcmp(argv[0], "list") && argc == 1) {
		ctl_list(c);
		return;
	}
	if (strcmp(argv[0], "detach") && strcmp(argv[0], "set") && strcmp(argv[0], "fault")) {
		ctl_reply(c, "error: unknown command '%s'", argv[0]);
		return;
	}
	if (argc < 2) {
		ctl_reply(c, "error: '%s' needs a udid", argv[0]);
		return;
	}
	p = phone_by_udid(c->ds, argv[1]);
	if (!p) {
		ctl_reply(c, "error: no phone '%s'", argv[1]);
		return;
	}
	if (!strcmp(argv[0], "detach")) {
		if (argc != 2) {
			ctl_reply(c, "error: usage: detach UDID");
			return;
		}
		phone_detach(c->ds, p);
		ctl_reply(c, "ok");
	} else if (!strcmp(argv[0], "set")) {
		ctl_set(c, p, argv, argc);
	} else {
		ctl_fault(c, p, argv, argc);
	}
}

size_t control_handle(struct conn *c, const char *data, size_t len)
{
	const char *nl = memchr(data, '\n', len < CTL_LINE_MAX ? len : CTL_LINE_MAX);
	char line[CTL_LINE_MAX + 1];
	size_t n;

	if (!nl) {
		if (len >= CTL_LINE_MAX) {
			log_err("conn %u control: line too long", c->id);
			conn_close(c, "line too long");
		}
		return 0;
	}
	n = (size_t)(nl - data);
	memcpy(line, data, n);
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	if (memchr(line, '\0', n)) {
		log_err("conn %u control: NUL byte in command", c->id);
		conn_close(c, "NUL byte in command");
		return 0;
	}
	c->nmsg++;
	ctl_command(c, line);
	return (size_t)(nl - data) + 1;
}
