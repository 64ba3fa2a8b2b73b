/* config.c: jetsamd configuration: built-in defaults, "key = value" files, validation */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "readfile.h"
#include <config.h> /* build configuration: JETSAMD_DEFAULT_* */

#define CONFIG_MAX_FILE (1024 * 1024)
#define CONFIG_MAX_LINE 4096

static int set_str(char **dst, const char *v)
{
	char *n = strdup(v);

	if (n == NULL)
		return -ENOMEM;
	free(*dst);
	*dst = n;
	return 0;
}

int config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->log_level = LOG_LEVEL_INFO;
	c->resync_interval_s = 60;
	c->remove_after_pull = 0;
	c->live_detection = 1;
	c->collect = CONFIG_COLLECT_JETSAM;
	c->mover_timeout_ms = 10000;
	c->max_parallel_syncs = 3;
	c->retry_min_s = 2;
	c->retry_max_s = 300;
	c->max_report_size = 16u * 1024u * 1024u;
	c->client_queue_max = 16u * 1024u * 1024u;
	c->max_clients = 256;
	c->max_clients_per_uid = 64;
	c->client_idle_timeout_s = 300;
	c->request_timeout_s = 30;
	c->import_timeout_s = 60;
	c->reply_buffer_max = 8u * 1024u * 1024u;
	c->sync_timeout_s = 600;
	c->max_sync_depth = 16;
	c->max_sync_entries = 100000;
	c->max_events_per_report = 20000;
	c->fleet_batch = 1000;
	c->fleet_retry_max_s = 60;
	if (gethostname(c->fleet_host_id, sizeof(c->fleet_host_id) - 1) < 0)
		c->fleet_host_id[0] = '\0';
	if (set_str(&c->socket, JETSAMD_DEFAULT_SOCKET) < 0 ||
	    set_str(&c->state_dir, JETSAMD_DEFAULT_STATE_DIR) < 0) {
		config_release(c);
		return -ENOMEM;
	}
	return 0;
}

void config_release(struct config *c)
{
	free(c->socket);
	free(c->state_dir);
	free(c->usbmuxd_socket);
	c->socket = c->state_dir = c->usbmuxd_socket = NULL;
}

int config_copy(struct config *dst, const struct config *src)
{
	*dst = *src;
	dst->socket = dst->state_dir = dst->usbmuxd_socket = NULL;
	if ((src->socket && set_str(&dst->socket, src->socket) < 0) ||
	    (src->state_dir && set_str(&dst->state_dir, src->state_dir) < 0) ||
	    (src->usbmuxd_socket && set_str(&dst->usbmuxd_socket, src->usbmuxd_socket) < 0)) {
		config_release(dst);
		return -ENOMEM;
	}
	return 0;
}

const char *config_collect_name(enum config_collect collect)
{
	return collect == CONFIG_COLLECT_ALL ? "all" : "jetsam";
}

static int fail(char *err, size_t errlen, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, const char *key, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err == NULL || errlen == 0)
		return -EINVAL;
	n = snprintf(err, errlen, "key '%s': ", key);
	if (n < 0 || (size_t)n >= errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Unsigned decimal with an optional suffix from units (name, multiplier); default unit 1. */
struct unit {
	const char *name;
	uint64_t mult;
};

static int parse_number(const char *v, const struct unit *units, uint64_t *out)
{
	uint64_t n = 0;
	const char *p = v;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p)) {
		if (n > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		n = n * 10 + (uint64_t)(*p - '0');
		p++;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0') {
		*out = n;
		return 0;
	}
	for (; units && units->name; units++) {
		if (strcasecmp(p, units->name) == 0) {
			if (units->mult != 0 && n > UINT64_MAX / units->mult)
				return -ERANGE;
			*out = n * units->mult;
			return 0;
		}
	}
	return -EINVAL;
}

static const struct unit size_units[] = {
	{"B", 1},
	{"K", 1024},
	{"KiB", 1024},
	{"M", 1024 * 1024},
	{"MiB", 1024 * 1024},
	{"G", 1024ull * 1024 * 1024},
	{"GiB", 1024ull * 1024 * 1024},
	{NULL, 0},
};

/* durations in milliseconds; a bare number is seconds */
static const struct unit ms_units[] = {
	{"ms", 1}, {"s", 1000}, {"m", 60000}, {"min", 60000}, {"h", 3600000}, {NULL, 0},
};

static int parse_duration_ms(const char *v, uint64_t *out)
{
	uint64_t n;
	int r;
	const char *p = v;

	while (isdigit((unsigned char)*p))
		p++;
	while (*p == ' ' || *p == '\t')
		p++;
	r = parse_number(v, ms_units, &n);
	if (r < 0)
		return r;
	if (*p == '\0') { /* bare number: seconds */
		if (n > UINT64_MAX / 1000)
			return -ERANGE;
		n *= 1000;
	}
	*out = n;
	return 0;
}

static int parse_bool(const char *v, int *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

static int check_path(const char *key, const char *v, size_t max, char *err, size_t errlen)
{
	if (v[0] != '/')
		return fail(err, errlen, key, "path '%s' is not absolute", v);
	if (strlen(v) >= max)
		return fail(err, errlen, key, "path '%s' is longer than %zu bytes", v, max - 1);
	return 0;
}

static int check_usbmuxd(const char *v, char *err, size_t errlen)
{
	const char *colon;
	char *end;
	long port;

	if (strncmp(v, "UNIX:", 5) == 0)
		return check_path("usbmuxd_socket", v + 5,
				  sizeof(((struct sockaddr_un *)0)->sun_path), err, errlen);
	colon = strrchr(v, ':');
	if (colon == NULL || colon == v)
		return fail(err, errlen, "usbmuxd_socket",
			    "'%s' is neither UNIX:/path nor HOST:PORT", v);
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 1 || port > 65535)
		return fail(err, errlen, "usbmuxd_socket", "port in '%s' is not 1..65535", v);
	return 0;
}

static int set_uint(const char *key, const char *value, const struct unit *units, uint64_t min,
		    uint64_t max, uint64_t div, uint64_t *out, char *err, size_t errlen)
{
	uint64_t n;
	int r = units == ms_units ? parse_duration_ms(value, &n) : parse_number(value, units, &n);

	if (r == -EINVAL)
		return fail(err, errlen, key, "'%s' is not a %s", value,
			    units == ms_units	  ? "duration (e.g. 30s, 500ms, 5m)"
			    : units == size_units ? "size (e.g. 16M, 512K)"
						  : "number");
	if (r == 0 && units == ms_units && div > 1 && n > 0 && n < div && min == 0)
		return fail(err, errlen, key,
			    "'%s' is less than the minimum %" PRIu64 "s (0 turns it off)", value,
			    div / 1000);
	if (r == 0 && units == ms_units && div > 1 && n % div != 0)
		return fail(err, errlen, key, "'%s' is not a whole number of seconds", value);
	if (r < 0 || n < min * div || n > max * div) {
		if (units == ms_units && div == 1)
			return fail(err, errlen, key,
				    "'%s' is out of range %" PRIu64 "ms..%" PRIu64 "ms", value, min,
				    max);
		if (units == ms_units)
			return fail(err, errlen, key,
				    "'%s' is out of range %" PRIu64 "s..%" PRIu64 "s", value, min,
				    max);
		return fail(err, errlen, key, "'%s' is out of range %" PRIu64 "..%" PRIu64, value,
			    min, max);
	}
	*out = n / div;
	return 0;
}

/* Keys whose values are paths, names or yes/no. Returns 1 when key is none of them. */
static int set_text_key(struct config *c, const char *key, const char *value, char *err,
			size_t errlen)
{
	int r;

	if (strcmp(key, "socket") == 0) {
		r = check_path(key, value, sizeof(((struct sockaddr_un *)0)->sun_path), err,
			       errlen);
		return r < 0 ? r : set_str(&c->socket, value);
	}
	if (strcmp(key, "state_dir") == 0) {
		r = check_path(key, value, 4000, err, errlen);
		return r < 0 ? r : set_str(&c->state_dir, value);
	}
	if (strcmp(key, "usbmuxd_socket") == 0) {
		if (value[0] == '\0' || strcmp(value, "default") == 0) {
			free(c->usbmuxd_socket);
			c->usbmuxd_socket = NULL;
			return 0;
		}
		r = check_usbmuxd(value, err, errlen);
		return r < 0 ? r : set_str(&c->usbmuxd_socket, value);
	}
	if (strcmp(key, "log_level") == 0) {
		if (log_level_parse(value, &c->log_level) < 0)
			return fail(err, errlen, key,
				    "'%s' is not one of err, warning, info, debug", value);
		return 0;
	}
	if (strcmp(key, "remove_after_pull") == 0) {
		int b;

		if (parse_bool(value, &b) < 0)
			return fail(err, errlen, key, "'%s' is not yes or no", value);
		c->remove_after_pull = b;
		return 0;
	}
	if (strcmp(key, "live_detection") == 0) {
		int b;

		if (parse_bool(value, &b) < 0)
			return fail(err, errlen, key, "'%s' is not yes or no", value);
		c->live_detection = b;
		return 0;
	}
	if (strcmp(key, "collect") == 0) {
		if (strcasecmp(value, "jetsam") == 0)
			c->collect = CONFIG_COLLECT_JETSAM;
		else if (strcasecmp(value, "all") == 0)
			c->collect = CONFIG_COLLECT_ALL;
		else
			return fail(err, errlen, key, "'%s' is not jetsam or all", value);
		return 0;
	}
	return 1;
}

/* Keys whose values are numbers, durations or sizes. Returns 1 when key is none of them. */
static int set_number_key(struct config *c, const char *key, const char *value, char *err,
			  size_t errlen)
{
	uint64_t n;
	int r;

	if (strcmp(key, "resync_interval") == 0) {
		r = set_uint(key, value, ms_units, 0, 7 * 86400, 1000, &n, err, errlen);
		if (r == 0)
			c->resync_interval_s = (unsigned)n;
		return r;
	}
	if (strcmp(key, "mover_timeout") == 0) {
		r = set_uint(key, value, ms_units, 100, 600000, 1, &n, err, errlen);
		if (r == 0)
			c->mover_timeout_ms = (unsigned)n;
		return r;
	}
	if (strcmp(key, "max_parallel_syncs") == 0) {
		r = set_uint(key, value, NULL, 1, 64, 1, &n, err, errlen);
		if (r == 0)
			c->max_parallel_syncs = (unsigned)n;
		return r;
	}
	if (strcmp(key, "retry_min") == 0 || strcmp(key, "retry_max") == 0) {
		r = set_uint(key, value, ms_units, 1, 86400, 1000, &n, err, errlen);
		if (r == 0 && strcmp(key, "retry_min") == 0)
			c->retry_min_s = (unsigned)n;
		else if (r == 0)
			c->retry_max_s = (unsigned)n;
		return r;
	}
	if (strcmp(key, "max_report_size") == 0) {
		r = set_uint(key, value, size_units, 1024, 256u * 1024 * 1024, 1, &n, err, errlen);
		if (r == 0)
			c->max_report_size = (size_t)n;
		return r;
	}
	if (strcmp(key, "client_queue_max") == 0) {
		r = set_uint(key, value, size_units, 4096, 1024u * 1024 * 1024, 1, &n, err, errlen);
		if (r == 0)
			c->client_queue_max = (size_t)n;
		return r;
	}
	if (strcmp(key, "max_clients") == 0) {
		r = set_uint(key, value, NULL, 1, 4096, 1, &n, err, errlen);
		if (r == 0)
			c->max_clients = (unsigned)n;
		return r;
	}
	if (strcmp(key, "max_events_per_report") == 0) {
		r = set_uint(key, value, NULL, 1, 10000000, 1, &n, err, errlen);
		if (r == 0)
			c->max_events_per_report = (size_t)n;
		return r;
	}
	return 1;
}

/* Lifecycle keys (issue 11): a sync's deadline and budget. Returns 1 when key is none. */
static int set_lifecycle_key(struct config *c, const char *key, const char *value, char *err,
			     size_t errlen)
{
	uint64_t n;
	int r;

	if (strcmp(key, "sync_timeout") == 0) {
		r = set_uint(key, value, ms_units, 10, 86400, 1000, &n, err, errlen);
		if (r == 0)
			c->sync_timeout_s = (unsigned)n;
		return r;
	}
	if (strcmp(key, "max_sync_depth") == 0) {
		r = set_uint(key, value, NULL, 1, 256, 1, &n, err, errlen);
		if (r == 0)
			c->max_sync_depth = (unsigned)n;
		return r;
	}
	if (strcmp(key, "max_sync_entries") == 0) {
		r = set_uint(key, value, NULL, 100, 100000000, 1, &n, err, errlen);
		if (r == 0)
			c->max_sync_entries = (unsigned)n;
		return r;
	}
	return 1;
}

/* Client limits and authorization. Returns 1 when key is none of them. */
static int set_client_key(struct config *c, const char *key, const char *value, char *err,
			  size_t errlen)
{
	static const struct {
		const char *key;
		unsigned min, max;
	} secs[] = {
		{"client_idle_timeout", 0, 86400},
		{"request_timeout", 1, 3600},
		{"import_timeout", 1, 3600},
	};
	unsigned *sec_field[] = {&c->client_idle_timeout_s, &c->request_timeout_s,
				 &c->import_timeout_s};
	uint64_t n;
	int r;

	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		if (strcmp(key, secs[i].key) != 0)
			continue;
		r = set_uint(key, value, ms_units, secs[i].min, secs[i].max, 1000, &n, err, errlen);
		if (r == 0)
			*sec_field[i] = (unsigned)n;
		return r;
	}
	if (strcmp(key, "max_clients_per_uid") == 0) {
		r = set_uint(key, value, NULL, 1, 4096, 1, &n, err, errlen);
		if (r == 0)
			c->max_clients_per_uid = (unsigned)n;
		return r;
	}
	if (strcmp(key, "reply_buffer_max") == 0) {
		r = set_uint(key, value, size_units, 65536, 4096ull * 1024 * 1024, 1, &n, err,
			     errlen);
		if (r == 0)
			c->reply_buffer_max = (size_t)n;
		return r;
	}
	if (strcmp(key, "admin_group") == 0) {
		size_t len = strlen(value);

		if (strcmp(value, "none") == 0)
			len = 0;
		if (len >= sizeof(c->admin_group))
			return fail(err, errlen, key, "group name is longer than %zu bytes",
				    sizeof(c->admin_group) - 1);
		for (size_t i = 0; i < len; i++)
			if (value[i] == ':' || value[i] == ',' || (unsigned char)value[i] <= ' ')
				return fail(err, errlen, key, "'%s' is not a group name", value);
		memcpy(c->admin_group, value, len);
		c->admin_group[len] = '\0';
		return 0;
	}
	return 1;
}

static int set_fleet_text(char *dst, size_t size, const char *key, const char *value, char *err,
			  size_t errlen)
{
	size_t len = strlen(value);

	if (len >= size)
		return fail(err, errlen, key, "longer than %zu bytes", size - 1);
	memcpy(dst, value, len + 1);
	return 0;
}

/* The fleet (issue 14): shipping to PostgreSQL. Returns 1 when key is none of them. */
static int set_fleet_key(struct config *c, const char *key, const char *value, char *err,
			 size_t errlen)
{
	uint64_t n;
	int r, b;

	if (strcmp(key, "fleet_conninfo") == 0)
		return set_fleet_text(c->fleet_conninfo, sizeof(c->fleet_conninfo), key, value, err,
				      errlen);
	if (strcmp(key, "fleet_passfile") == 0)
		return set_fleet_text(c->fleet_passfile, sizeof(c->fleet_passfile), key, value, err,
				      errlen);
	if (strcmp(key, "fleet_host_id") == 0) {
		for (const char *p = value; *p; p++)
			if ((unsigned char)*p < ' ' || *p == 0x7f)
				return fail(err, errlen, key, "holds a control character");
		if (value[0] == '\0')
			return fail(err, errlen, key, "is empty");
		return set_fleet_text(c->fleet_host_id, sizeof(c->fleet_host_id), key, value, err,
				      errlen);
	}
	if (strcmp(key, "fleet_ship_facts") == 0 || strcmp(key, "fleet_ship_raw") == 0) {
		if (parse_bool(value, &b) < 0)
			return fail(err, errlen, key, "'%s' is not yes or no", value);
		*(strcmp(key, "fleet_ship_raw") == 0 ? &c->fleet_ship_raw : &c->fleet_ship_facts) =
			b;
		return 0;
	}
	if (strcmp(key, "fleet_batch") == 0) {
		r = set_uint(key, value, NULL, 1, 100000, 1, &n, err, errlen);
		if (r == 0)
			c->fleet_batch = (unsigned)n;
		return r;
	}
	if (strcmp(key, "fleet_retry_max") == 0) {
		r = set_uint(key, value, ms_units, 1, 86400, 1000, &n, err, errlen);
		if (r == 0)
			c->fleet_retry_max_s = (unsigned)n;
		return r;
	}
	return 1;
}

/* metrics_listen = HOST:PORT ("[v6]:PORT" for an IPv6 address), or empty: off */
static int set_metrics_key(struct config *c, const char *key, const char *value, char *err,
			   size_t errlen)
{
	const char *colon;
	char *end;
	long port;

	if (strcmp(key, "metrics_listen") != 0)
		return 1;
	if (value[0] == '\0' || strcmp(value, "none") == 0) {
		c->metrics_listen[0] = '\0';
		return 0;
	}
	colon = strrchr(value, ':');
	if (strlen(value) >= sizeof(c->metrics_listen))
		return fail(err, errlen, key, "'%s' is longer than %zu bytes", value,
			    sizeof(c->metrics_listen) - 1);
	if (colon == NULL || colon == value || (value[0] == '[' && colon[-1] != ']'))
		return fail(err, errlen, key, "'%s' is not HOST:PORT", value);
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 1 || port > 65535)
		return fail(err, errlen, key, "port in '%s' is not 1..65535", value);
	memcpy(c->metrics_listen, value, strlen(value) + 1);
	return 0;
}

int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen)
{
	int r;

	if (key == NULL || value == NULL)
		return fail(err, errlen, key ? key : "", "missing value");
	r = set_text_key(c, key, value, err, errlen);
	if (r == 1)
		r = set_number_key(c, key, value, err, errlen);
	if (r == 1)
		r = set_lifecycle_key(c, key, value, err, errlen);
	if (r == 1)
		r = set_client_key(c, key, value, err, errlen);
	if (r == 1)
		r = set_fleet_key(c, key, value, err, errlen);
	if (r == 1)
		r = set_metrics_key(c, key, value, err, errlen);
	return r == 1 ? fail(err, errlen, key, "unknown key") : r;
}

int config_check(const struct config *c, char *err, size_t errlen)
{
	if (c->retry_min_s > c->retry_max_s)
		return fail(err, errlen, "retry_min", "%us is more than retry_max (%us)",
			    c->retry_min_s, c->retry_max_s);
	if ((uint64_t)c->sync_timeout_s * 1000 <= c->mover_timeout_ms)
		return fail(err, errlen, "sync_timeout",
			    "%us is not more than mover_timeout (%ums)", c->sync_timeout_s,
			    c->mover_timeout_ms);
	return config_fleet_check(c, err, errlen);
}

static char *trim(char *s, char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*end = '\0';
	return s;
}

int config_load_buffer(struct config *c, const char *name, const char *buf, size_t len, char *err,
		       size_t errlen)
{
	char line[CONFIG_MAX_LINE + 1];
	unsigned lineno = 0;
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		char *key, *value, *eq, *hash, *end;
		char msg[512];
		int r;

		lineno++;
		if (n > CONFIG_MAX_LINE) {
			snprintf(err, errlen, "%s:%u: line is longer than %d bytes", name, lineno,
				 CONFIG_MAX_LINE);
			return -EINVAL;
		}
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		pos += n + (nl ? 1 : 0);
		if (memchr(line, '\0', n) != NULL) {
			snprintf(err, errlen, "%s:%u: line holds a NUL byte", name, lineno);
			return -EINVAL;
		}
		end = line + n;
		key = trim(line, end);
		if (key[0] == '\0' || key[0] == '#' || key[0] == ';')
			continue;
		eq = strchr(key, '=');
		if (eq == NULL) {
			snprintf(err, errlen, "%s:%u: syntax error: expected 'key = value'", name,
				 lineno);
			return -EINVAL;
		}
		/* a comment after the value starts with whitespace and # */
		value = eq + 1;
		for (hash = value; (hash = strchr(hash, '#')) != NULL; hash++) {
			if (hash == value || hash[-1] == ' ' || hash[-1] == '\t') {
				*hash = '\0';
				break;
			}
		}
		value = trim(value, value + strlen(value));
		key = trim(key, eq);
		if (key[0] == '\0') {
			snprintf(err, errlen, "%s:%u: syntax error: missing key before '='", name,
				 lineno);
			return -EINVAL;
		}
		r = config_set(c, key, value, msg, sizeof(msg));
		if (r == -EINVAL) {
			snprintf(err, errlen, "%s:%u: %s", name, lineno, msg);
			return r;
		}
		if (r < 0) {
			snprintf(err, errlen, "%s:%u: key '%s': %s", name, lineno, key,
				 strerror(-r));
			return r;
		}
	}
	return 0;
}

int config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
	char *buf;
	size_t len = 0;
	int fd, r;

	/* O_NONBLOCK: a FIFO (or a device) given as the config must not hang the daemon */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open config '%s': %s", path, strerror(errno));
		return r;
	}
	r = readfile_fd(fd, CONFIG_MAX_FILE, &buf, &len);
	close(fd);
	if (r == -EINVAL || r == -EFBIG) {
		snprintf(err, errlen, "cannot read config '%s': %s", path,
			 r == -EINVAL ? "not a regular file" : "larger than 1 MiB");
		return -EINVAL;
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot read config '%s': %s", path, strerror(-r));
		return r;
	}
	r = config_load_buffer(c, path, buf, len, err, errlen);
	free(buf);
	return r;
}
