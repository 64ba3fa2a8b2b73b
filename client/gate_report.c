/* gate_report.c: the JUnit XML and TAP reports of `jetsamctl gate end` */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gate_report.h"

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *str_or(const cJSON *o, const char *key, const char *fallback)
{
	const char *s = str(o, key);

	return s != NULL && *s != '\0' ? s : fallback;
}

/* Whether kill k belongs to phone p */
static int kill_of(const cJSON *k, const cJSON *p)
{
	const char *a = str(k, "udid"), *b = str(p, "udid");

	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static int kills_of(const struct gate_result *g, const cJSON *p)
{
	const cJSON *k;
	int n = 0;

	cJSON_ArrayForEach(k, g->kills)
	{
		n += kill_of(k, p);
	}
	return n;
}

void gate_report_counts(const struct gate_result *g, int *tests, int *failures, int *errors)
{
	const cJSON *p;

	*tests = *failures = *errors = 0;
	cJSON_ArrayForEach(p, g->phones)
	{
		(*tests)++;
		*failures += kills_of(g, p);
		*errors += str(p, "error") != NULL;
	}
}

/* Length of the valid UTF-8 sequence at s (1 to 4) allowed in XML, or 0 */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned long c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2, c = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3, c = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
	    (c >= 0xD800 && c <= 0xDFFF) || c == 0xFFFE || c == 0xFFFF)
		return 0;
	return n;
}

void gate_xml_text(FILE *f, const char *s, int attr)
{
	const unsigned char *p = (const unsigned char *)s;

	while (p != NULL && *p != 0) {
		size_t n = utf8_len(p);

		if (*p == '&')
			fputs("&amp;", f);
		else if (*p == '<')
			fputs("&lt;", f);
		else if (*p == '>')
			fputs("&gt;", f);
		else if (*p == '"')
			fputs("&quot;", f);
		else if (*p == '\'')
			fputs("&apos;", f);
		else if ((*p == '\t' || *p == '\n' || *p == '\r') && attr)
			fprintf(f, "&#%d;", *p);
		else if (*p == '\t' || *p == '\n' || *p == '\r')
			fputc(*p, f);
		else if (n == 0 || *p < 0x20)
			fputs("\xEF\xBF\xBD", f); /* U+FFFD */
		else
			fwrite(p, 1, n, f);
		p += n ? n : 1;
	}
}

/* A byte count with its MiB, "-" when missing */
static void fmt_bytes(char *buf, size_t size, const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (cJSON_IsNumber(v))
		snprintf(buf, size, "%.0f (%.1f MiB)", v->valuedouble,
			 v->valuedouble / (1024.0 * 1024.0));
	else
		snprintf(buf, size, "-");
}

/* The facts of kill k, one "name: value" per line (each line passed to line_cb) */
static void kill_facts(const cJSON *k, void (*line_cb)(FILE *, const char *, const char *), FILE *f)
{
	char footprint[64], limit[64];

	fmt_bytes(footprint, sizeof(footprint), k, "footprint_bytes");
	fmt_bytes(limit, sizeof(limit), k, "limit_bytes");
	line_cb(f, "process", str_or(k, "process", "-"));
	line_cb(f, "reason", str_or(k, "reason", "-"));
	line_cb(f, "udid", str_or(k, "udid", "-"));
	line_cb(f, "product", str_or(k, "product", "-"));
	line_cb(f, "product_name", str_or(k, "product_name", "-"));
	line_cb(f, "os_version", str_or(k, "os_version", "-"));
	line_cb(f, "build", str_or(k, "build", "-"));
	line_cb(f, "footprint", footprint);
	line_cb(f, "limit", limit);
	line_cb(f, "kill_time", str_or(k, "time", "-"));
	line_cb(f, "collected_at", str_or(k, "collected_at", "-"));
}

static void xml_line_cb(FILE *f, const char *name, const char *value)
{
	fprintf(f, "%s: ", name);
	gate_xml_text(f, value, 0);
	fputc('\n', f);
}

static void junit_testcase(FILE *f, const struct gate_result *g, const cJSON *p)
{
	const cJSON *k;

	fputs("    <testcase name=\"", f);
	gate_xml_text(f, str_or(p, "name", str_or(p, "udid", "?")), 1);
	fputs("\" classname=\"", f);
	gate_xml_text(f, str_or(p, "product", "unknown"), 1);
	fputs("\" time=\"0\"", f);
	if (kills_of(g, p) == 0 && str(p, "error") == NULL) {
		fputs("/>\n", f);
		return;
	}
	fputs(">\n", f);
	if (str(p, "error") != NULL) {
		fputs("      <error message=\"sync failed: ", f);
		gate_xml_text(f, str(p, "error"), 1);
		fputs("\" type=\"sync\"/>\n", f);
	}
	cJSON_ArrayForEach(k, g->kills)
	{
		if (!kill_of(k, p))
			continue;
		fputs("      <failure message=\"", f);
		gate_xml_text(f, str_or(k, "process", g->app), 1);
		fputs(" killed: ", f);
		gate_xml_text(f, str_or(k, "reason", "unknown reason"), 1);
		fputs("\" type=\"jetsam\">", f);
		kill_facts(k, xml_line_cb, f);
		fputs("</failure>\n", f);
	}
	fputs("    </testcase>\n", f);
}

int gate_junit_write(FILE *f, const struct gate_result *g)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	const cJSON *p;
	int tests, failures, errors;

	gate_report_counts(g, &tests, &failures, &errors);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", gmtime_r(&now, &tm));
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<testsuites name=\"jetsamd-gate\" tests=\"%d\" failures=\"%d\" errors=\"%d\">\n"
		"  <testsuite name=\"jetsamd-gate\" tests=\"%d\" failures=\"%d\" errors=\"%d\" "
		"skipped=\"0\" time=\"0\" timestamp=\"%s\">\n",
		tests, failures, errors, tests, failures, errors, stamp);
	cJSON_ArrayForEach(p, g->phones)
	{
		junit_testcase(f, g, p);
	}
	fputs("  </testsuite>\n</testsuites>\n", f);
	return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

/* A YAML double-quoted scalar (JSON string syntax is a subset of it) */
static void yaml_str(FILE *f, const char *s)
{
	cJSON *v = cJSON_CreateString(s ? s : "");
	char *text = v ? cJSON_PrintUnformatted(v) : NULL;

	fputs(text ? text : "\"\"", f);
	cJSON_free(text);
	cJSON_Delete(v);
}

static void yaml_line_cb(FILE *f, const char *name, const char *value)
{
	fprintf(f, "%s%s: ", strcmp(name, "process") == 0 ? "    - " : "      ", name);
	yaml_str(f, value);
	fputc('\n', f);
}

/* A TAP description: one line, no '#' (a directive) */
static void tap_text(FILE *f, const char *s)
{
	for (; s != NULL && *s != 0; s++) {
		if (*s == '#')
			fputs("\\#", f);
		else
			fputc((unsigned char)*s < 0x20 ? ' ' : *s, f);
	}
}

int gate_tap_write(FILE *f, const struct gate_result *g)
{
	const cJSON *p, *k;
	int i = 0;

	fprintf(f, "TAP version 13\n1..%d\n", cJSON_GetArraySize(g->phones));
	cJSON_ArrayForEach(p, g->phones)
	{
		int n = kills_of(g, p);
		const char *error = str(p, "error");

		fprintf(f, "%s %d - ", n || error ? "not ok" : "ok", ++i);
		tap_text(f, str_or(p, "name", str_or(p, "udid", "?")));
		fputs(" (", f);
		tap_text(f, str_or(p, "product", "unknown"));
		fputs(")\n", f);
		if (n == 0 && error == NULL)
			continue;
		fputs("  ---\n  message: ", f);
		if (error != NULL) {
			char msg[512];

			snprintf(msg, sizeof(msg), "sync failed: %s", error);
			yaml_str(f, msg);
		} else {
			char msg[512];

			snprintf(msg, sizeof(msg), "%s killed %d time%s", g->app, n,
				 n == 1 ? "" : "s");
			yaml_str(f, msg);
		}
		fprintf(f, "\n  severity: %s\n  udid: ", error ? "error" : "fail");
		yaml_str(f, str_or(p, "udid", "?"));
		fputc('\n', f);
		if (n > 0)
			fputs("  kills:\n", f);
		cJSON_ArrayForEach(k, g->kills)
		{
			if (kill_of(k, p))
				kill_facts(k, yaml_line_cb, f);
		}
		fputs("  ...\n", f);
	}
	return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}
