/* log.h: one line per event on stderr, <N> priority prefixes under journald */
#ifndef JETSAMD_LOG_H
#define JETSAMD_LOG_H

/* syslog priorities, also the <N> prefixes under journald */
enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARNING = 4,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7
};

/* Detects journald (JOURNAL_STREAM matches stderr) once; call before any thread starts. */
void log_init(enum log_level level);
void log_set_level(enum log_level level);
int log_enabled(enum log_level level);
/* Level names as config values: "err", "warning", "info", "debug". */
const char *log_level_name(enum log_level level);
/* Case-insensitive name or alias ("error", "warn") to level: 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
/* Thread-safe: each line is formatted into one buffer and written with one write(). */
void log_msg(enum log_level level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(mod, ...)   log_msg(LOG_LEVEL_ERR, mod, __VA_ARGS__)
#define log_warn(mod, ...)  log_msg(LOG_LEVEL_WARNING, mod, __VA_ARGS__)
#define log_info(mod, ...)  log_msg(LOG_LEVEL_INFO, mod, __VA_ARGS__)
#define log_debug(mod, ...) log_msg(LOG_LEVEL_DEBUG, mod, __VA_ARGS__)

#endif
