/* syslogwatch_match.c: the pure matcher of the crash reporter's "saved a report" log lines */
#include <string.h>
#include <strings.h>

#include "syslogwatch.h"

/* First occurrence of needle in s[0, n), or NULL. */
static const char *find(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; k <= n && i <= n - k; i++)
		if (s[i] == needle[0] && memcmp(s + i, needle, k) == 0)
			return s + i;
	return NULL;
}

static int starts(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);

	return n >= k && memcmp(s, prefix, k) == 0;
}

/*
 * The process of a line "Mmm dd HH:MM:SS HOST process(image)[pid] <Level>" (the header, up
 * to the message): the word before " <", up to its first '(' or '['.
 */
static int process_is(const char *hdr, size_t n, const char *name)
{
	size_t end = n, start, k = strlen(name);

	while (end > 0 && hdr[end - 1] != '<')
		end--;
	if (end < 2 || hdr[end - 2] != ' ')
		return 0;
	end -= 2;
	start = end;
	while (start > 0 && hdr[start - 1] != ' ')
		start--;
	return end - start > k && strncasecmp(hdr + start, name, k) == 0 &&
	       (hdr[start + k] == '(' || hdr[start + k] == '[');
}

/* The path at p (up to a space or the end): 1 when it is absolute, with its last component. */
static int take_path(const char *p, const char *end, char *name, size_t name_size)
{
	const char *e = p, *base = p;
	size_t k;

	if (p >= end || *p != '/')
		return 0;
	while (e < end && *e != ' ' && *e != '\0')
		if (*e++ == '/')
			base = e;
	if (base == e)
		return 0; /* ends with '/': a directory */
	if (name && name_size > 0) {
		k = (size_t)(e - base);
		if (k > name_size - 1)
			k = name_size - 1;
		memcpy(name, base, k);
		name[k] = '\0';
	}
	return 1;
}

int syslogwatch_match(const char *line, size_t len, char *name, size_t name_size)
{
	const char *msg = find(line, len, ">: "), *end = line + len, *p;
	size_t hdr, n;

	if (!msg)
		return 0;
	hdr = (size_t)(msg + 1 - line); /* through the '>' */
	msg += 3;
	n = (size_t)(end - msg);
	if (process_is(line, hdr, "osanalyticshelper") && starts(msg, n, "Saved type '") &&
	    find(msg, n, "' report (") && (p = find(msg, n, ") at /")) != NULL) {
		/* the path is the last word: the format puts it at the end */
		const char *last = end;

		while (last > p && last[-1] != ' ')
			last--;
		return take_path(last, end, name, name_size);
	}
	if (process_is(line, hdr, "ReportCrash")) {
		if (starts(msg, n, "Saved crashreport to /"))
			return take_path(msg + strlen("Saved crashreport to "), end, name,
					 name_size);
		if (starts(msg, n, "Saved crash report ") && (p = find(msg, n, " to /")) != NULL)
			return take_path(p + 4, end, name, name_size);
	}
	return 0;
}
