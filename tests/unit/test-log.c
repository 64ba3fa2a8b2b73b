/* test-log.c: unit tests of daemon/log: one line per event, control characters escaped */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../daemon/log.h"
#include "check.h"

/* What one log_msg() call writes to stderr (captured through a temporary file). */
static const char *capture(const char *text)
{
	static char out[8192];
	char path[] = "/tmp/jt-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	ssize_t n;

	dup2(fd, STDERR_FILENO);
	log_msg(LOG_LEVEL_INFO, "test", "name '%s'", text);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, out, sizeof(out) - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return out;
}

/* the message after "info test: " */
static const char *msg(const char *line)
{
	const char *p = strstr(line, "test: ");

	return p ? p + 6 : line;
}

int main(void)
{
	const char *line;
	char big[5000];

	unsetenv("JOURNAL_STREAM");
	log_init(LOG_LEVEL_INFO);
	ASSERT_STREQ(msg(capture("plain")), "name 'plain'\n");
	ASSERT_STREQ(msg(capture("a\x1b[31mb\x07")), "name 'a\\x1b[31mb\\x07'\n");
	ASSERT_STREQ(msg(capture("del\x7f tab\t")), "name 'del\\x7f tab\\x09'\n");
	ASSERT_STREQ(msg(capture("two\nlines\r")), "name 'two lines '\n");
	ASSERT_STREQ(msg(capture("caf\xc3\xa9")), "name 'caf\xc3\xa9'\n"); /* UTF-8 kept */
	/* a long line is cut, never in an escape, and still ends with one newline */
	memset(big, '\x1b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	line = capture(big);
	CHECK(strlen(line) < 2048);
	CHECK(line[strlen(line) - 1] == '\n');
	CHECK(strchr(line, '\n') == line + strlen(line) - 1);
	for (const char *p = line; *p != '\n'; p++)
		CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	CHECK(strstr(line, "\\x1b\n") != NULL || strstr(line, "\\x1b\\x1b") != NULL);
	return CHECK_DONE();
}
