/* log.c: one line per event on stderr, <N> priority prefixes under journald */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 2048

static atomic_int log_level_cur = LOG_LEVEL_INFO;
static int log_journal;

void log_init(enum log_level level)
{
	const char *js = getenv("JOURNAL_STREAM");
	struct stat st;

	atomic_store(&log_level_cur, (int)level);
	log_journal = 0;
	if (js != NULL && fstat(STDERR_FILENO, &st) == 0) {
		unsigned long long dev, ino;

		if (sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
		    dev == (unsigned long long)st.st_dev && ino == (unsigned long long)st.st_ino)
			log_journal = 1;
	}
}

void log_set_level(enum log_level level)
{
	atomic_store(&log_level_cur, (int)level);
}

int log_enabled(enum log_level level)
{
	return (int)level <= atomic_load(&log_level_cur);
}

/* The one table of level names: config values (and their aliases) and log line tags. */
static const struct {
	enum log_level level;
	const char *name;  /* config value, log_level_name() */
	const char *alias; /* also accepted by log_level_parse() */
	const char *tag;   /* in log lines */
} log_levels[] = {
	{LOG_LEVEL_ERR, "err", "error", "error"},
	{LOG_LEVEL_WARNING, "warning", "warn", "warning"},
	{LOG_LEVEL_INFO, "info", NULL, "info"},
	{LOG_LEVEL_DEBUG, "debug", NULL, "debug"},
};
#define LOG_LEVELS (sizeof(log_levels) / sizeof(log_levels[0]))

static size_t level_index(enum log_level level)
{
	for (size_t i = 0; i < LOG_LEVELS; i++)
		if (log_levels[i].level == level)
			return i;
	return 2; /* info */
}

const char *log_level_name(enum log_level level)
{
	return log_levels[level_index(level)].name;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < LOG_LEVELS; i++) {
		if (strcasecmp(s, log_levels[i].name) == 0 ||
		    (log_levels[i].alias != NULL && strcasecmp(s, log_levels[i].alias) == 0)) {
			*out = log_levels[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * Append len bytes of text to line (n bytes used of cap): one event, one line, and no raw
 * control byte reaches stderr or the journal: a newline or CR becomes a space, any other
 * control character (and DEL) "\xNN". Returns the new length (< cap).
 */
static size_t escape_into(char *line, size_t n, size_t cap, const char *text, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '\n' || c == '\r')
			c = ' ';
		if (c >= 0x20 && c != 0x7f) {
			if (n + 1 >= cap)
				break;
			line[n++] = (char)c;
			continue;
		}
		if (n + 4 >= cap)
			break;
		line[n++] = '\\';
		line[n++] = 'x';
		line[n++] = hex[c >> 4];
		line[n++] = hex[c & 15];
	}
	return n;
}

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
{
	char line[LOG_LINE_MAX], text[LOG_LINE_MAX];
	size_t n = 0;
	va_list ap;
	int r, saved = errno;

	if (!log_enabled(level))
		return;
	if (log_journal) {
		r = snprintf(line, sizeof(line), "<%d>%s: ", (int)level, module);
	} else {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		r = snprintf(line, sizeof(line),
			     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900,
			     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			     ts.tv_nsec / 1000000, log_levels[level_index(level)].tag, module);
	}
	if (r > 0)
		n = (size_t)r < sizeof(line) ? (size_t)r : sizeof(line) - 1;
	va_start(ap, fmt);
	r = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (r > 0)
		n = escape_into(line, n, sizeof(line), text,
				(size_t)r < sizeof(text) ? (size_t)r : sizeof(text) - 1);
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	while (write(STDERR_FILENO, line, n) < 0 && errno == EINTR)
		;
	errno = saved;
}
