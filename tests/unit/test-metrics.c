/* test-metrics.c: unit tests of the metrics text (golden: example.om), HTTP parser and /proc reader
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/metrics_http.h"
#include "../../daemon/metrics_proc.h"
#include "../../daemon/metrics_text.h"
#include "check.h"

/* ---- rendering: the values of contrib/prometheus/example.om give that file byte for byte ---- */

static const struct metrics_kill golden_kills[] = {
	{"iPad16,3", "23D127", "foreground", "per-process-limit", 42},
	{"iPad16,3", "23D127", "background", "vm-pageshortage", 7},
	{"iPad16,3", "23E246", "foreground", "per-process-limit", 31},
	{"iPad16,3", "23E246", "daemon", "highwater", 3},
	{"iPhone15,2", "22F76", "foreground", "per-process-limit", 17},
	{"iPhone15,2", "22F76", "daemon", "idle-exit", 5},
	{"iPhone15,2", "22F76", "background", "other", 1},
};
static const struct metrics_limit golden_limits[] = {
	{"iPad16,3", "23D127", "foreground", 6442450944},
	{"iPad16,3", "23D127", "background", 536870912},
	{"iPad16,3", "23E246", "foreground", 3221225472},
	{"iPad16,3", "23E246", "daemon", 83886080},
	{"iPhone15,2", "22F76", "foreground", 3145728000},
	{"iPhone15,2", "22F76", "daemon", 62914560},
};
static const struct metrics_ratio golden_ratios[] = {
	{"iPad16,3", "foreground", "23E246", "23D127", -0.5},
};
static const struct metrics_device golden_attached[] = {
	{"00008120-001A2C3E0A38201E", "iPhone15,2", 1, 1795500000},
	{"00008103-000C35E22E88801E", "iPad16,3", 2, 1795499700},
	{"00008110-0019482E3C02801E", "", 4, 0},
};

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		*len = fread(buf, 1, (size_t)n, f);
		buf[*len] = '\0';
	}
	fclose(f);
	return buf;
}

static void test_golden(const char *example)
{
	static const uint64_t le[METRICS_N_BUCKETS] = {0, 2, 9, 20, 31, 35, 36, 37, 37, 37, 37};
	struct metrics_snapshot s = {
		.kills = golden_kills,
		.n_kills = 7,
		.limits = golden_limits,
		.n_limits = 6,
		.ratios = golden_ratios,
		.n_ratios = 1,
		.devices = {0, 1, 1, 0, 1, 0, 2},
		.attached = golden_attached,
		.n_attached = 3,
		.sync = {.count = 37, .sum = 48.75},
		.sync_errors = 2,
		.reports = {96, 4, 1},
		.fleet = 1,
		.fleet_connected = 1,
		.fleet_outbox = 12,
		.proc = {.valid = 1,
			 .cpu_seconds = 12.47,
			 .resident_bytes = 9437184,
			 .virtual_bytes = 125829120,
			 .start_time = 1795496400,
			 .open_fds = 23,
			 .max_fds = 1024},
	};
	size_t len = 0, want_len = 0;
	char *text = NULL, *want = read_all(example, &want_len);

	memcpy(s.sync.le, le, sizeof(le));
	CHECK(want != NULL);
	ASSERT_EQ(metrics_text_render(&s, &text, &len), 0);
	ASSERT_EQ(len, strlen(text));
	if (want && text && strcmp(text, want) != 0) {
		size_t i = 0;

		while (text[i] && text[i] == want[i])
			i++;
		fprintf(stderr,
			"render differs from %s at byte %zu:\n--- got\n%.200s\n--- want\n%.200s\n",
			example, i, text + i, want + i);
	}
	ASSERT_STREQ(text, want);
	free(text);

	/* without the fleet and /proc: their families' samples are left out, "# EOF" ends it */
	s.fleet = 0;
	s.proc.valid = 0;
	ASSERT_EQ(metrics_text_render(&s, &text, &len), 0);
	CHECK(strstr(text, "jetsamd_fleet_") == NULL);
	CHECK(strstr(text, "\nprocess_cpu_seconds_total") == NULL);
	CHECK(strstr(text, "# TYPE process_cpu_seconds counter\n") != NULL);
	CHECK(len > 6 && strcmp(text + len - 6, "# EOF\n") == 0);
	free(text);
	free(want);
}

/* label values with \, " and newline are escaped; an empty snapshot still has every family */
static void test_escaping(void)
{
	struct metrics_kill k = {"a\"b", "c\\d", "e\nf", "", 1};
	struct metrics_snapshot s = {.kills = &k, .n_kills = 1};
	char *text = NULL;
	size_t len;

	ASSERT_EQ(metrics_text_render(&s, &text, &len), 0);
	CHECK(strstr(text, "jetsamd_kills_total{product=\"a\\\"b\",build=\"c\\\\d\",role=\"e\\nf\","
			   "reason=\"\"} 1\n") != NULL);
	CHECK(strstr(text, "# HELP jetsamd_limit_change_ratio ") != NULL);
	CHECK(strstr(text, "jetsamd_sync_duration_seconds_bucket{le=\"+Inf\"} 0\n") != NULL);
	free(text);
}

static void test_labels(void)
{
	char buf[8], num[32];

	ASSERT_STREQ(metrics_reason_label("per-process-limit"), "per-process-limit");
	ASSERT_STREQ(metrics_reason_label("vm-pageshortage"), "vm-pageshortage");
	ASSERT_STREQ(metrics_reason_label(NULL), "");
	ASSERT_STREQ(metrics_reason_label("Per-Process"), "other");
	ASSERT_STREQ(metrics_reason_label("a b"), "other");
	ASSERT_STREQ(metrics_reason_label("abcdefghijabcdefghijabcdefghij12"), /* 32 bytes */
		     "abcdefghijabcdefghijabcdefghij12");
	ASSERT_STREQ(metrics_reason_label("abcdefghijabcdefghijabcdefghij123"), "other");
	metrics_label_copy(buf, sizeof(buf), "abcdefghij");
	ASSERT_STREQ(buf, "abcdefg");
	metrics_label_copy(buf, sizeof(buf), "abcdef\xc3\xa9"); /* é would be cut in half */
	ASSERT_STREQ(buf, "abcdef");
	metrics_label_copy(buf, sizeof(buf), NULL);
	ASSERT_STREQ(buf, "");
	ASSERT_EQ(metrics_state_index("untrusted"), 4);
	ASSERT_EQ(metrics_state_index("bogus"), -1);
	metrics_format_double(0.1, num);
	ASSERT_STREQ(num, "0.1");
	metrics_format_double(1e6, num);
	ASSERT_STREQ(num, "1e+06");
	metrics_format_double(999999, num);
	ASSERT_STREQ(num, "999999");
	metrics_format_double(0.0001, num);
	ASSERT_STREQ(num, "0.0001");
	metrics_format_double(0.00001, num);
	ASSERT_STREQ(num, "1e-05");
	metrics_format_double(-0.02, num);
	ASSERT_STREQ(num, "-0.02");
	metrics_format_double(1.0 / 3, num);
	CHECK(strtod(num, NULL) == 1.0 / 3);
	metrics_format_double(INFINITY, num);
	ASSERT_STREQ(num, "+Inf");
	metrics_format_double(NAN, num);
	ASSERT_STREQ(num, "NaN");
}

/* ---- the HTTP request head parser ---- */

static int parse(const char *s, struct metrics_http_req *req)
{
	return metrics_http_parse(s, strlen(s), req);
}

static void test_http(void)
{
	struct metrics_http_req req;
	const char *ok = "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text;"
			 " version=1.0.0\r\n\r\n";

	ASSERT_EQ(parse(ok, &req), 1);
	ASSERT_EQ(req.method, METRICS_HTTP_GET);
	ASSERT_EQ(req.metrics, 1);
	ASSERT_EQ(req.minor, 1);
	ASSERT_EQ(req.length, strlen(ok));
	/* every prefix is incomplete, never an error */
	for (size_t n = 0; n < strlen(ok); n++)
		ASSERT_EQ(metrics_http_parse(ok, n, &req), 0);
	ASSERT_EQ(parse("GET /metrics?x=1 HTTP/1.0\n\n", &req), 1);
	CHECK(req.metrics && req.minor == 0);
	ASSERT_EQ(parse("HEAD /metrics HTTP/1.1\r\n\r\n", &req), 1);
	ASSERT_EQ(req.method, METRICS_HTTP_HEAD);
	ASSERT_EQ(parse("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &req), 1);
	ASSERT_EQ(req.method, METRICS_HTTP_OTHER);
	ASSERT_EQ(parse("GET / HTTP/1.1\r\n\r\n", &req), 1);
	ASSERT_EQ(req.metrics, 0);
	ASSERT_EQ(parse("GET /metricsx HTTP/1.1\r\n\r\n", &req), 1);
	ASSERT_EQ(req.metrics, 0);
	ASSERT_EQ(parse("GET /metrics HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n", &req), 1);
	ASSERT_EQ(req.length, strlen("GET /metrics HTTP/1.1\r\n\r\n"));
	/* garbage */
	ASSERT_EQ(parse("\x16\x03\x01\x02", &req), -EBADMSG); /* a TLS hello: at the first byte */
	ASSERT_EQ(parse("GET\r\n\r\n", &req), -EBADMSG);
	ASSERT_EQ(parse("GET  /metrics HTTP/1.1\r\n\r\n", &req), -EBADMSG);
	ASSERT_EQ(parse("GET metrics HTTP/1.1\r\n\r\n", &req), -EBADMSG);
	ASSERT_EQ(parse("GET /metrics HTTP/2.0\r\n\r\n", &req), -EBADMSG);
	ASSERT_EQ(parse("GET /metrics HTTP/1.1 \r\n\r\n", &req), -EBADMSG);
	ASSERT_EQ(parse("GET /metrics HTTP/1.1\r\nNo colon\r\n\r\n", &req), -EBADMSG);
	ASSERT_EQ(parse("GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n", &req), -EBADMSG);
	ASSERT_EQ(parse("GET /metrics HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", &req), -EBADMSG);
	ASSERT_EQ(parse("GET /metrics HTTP/1.1\r\nA: b\x01\r\n\r\n", &req), -EBADMSG);
	ASSERT_EQ(parse("GET /met\rrics HTTP/1.1\r\n\r\n", &req), -EBADMSG);
	ASSERT_EQ(metrics_http_parse("GET /metrics HTTP/1.1\0\r\n\r\n", 26, &req), -EBADMSG);
}

/* ---- /proc/self ---- */

static void test_proc(void)
{
	/* a real line's shape; the command holds a space and a ')' */
	const char *stat = "4242 (jet sam)d) S 1 4242 4242 0 -1 4194560 1000 0 0 0 "
			   "1247 53 0 0 20 0 3 0 500 125829120 2304 18446744073709551615 1 1 0 "
			   "0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0";
	struct metrics_process p = {0};

	ASSERT_EQ(metrics_proc_parse_stat(stat, 100, 4096, 1795496395, &p), 0);
	CHECK(fabs(p.cpu_seconds - 13.0) < 1e-9);
	CHECK(fabs(p.start_time - 1795496400.0) < 1e-6);
	ASSERT_EQ((long long)p.virtual_bytes, 125829120);
	ASSERT_EQ((long long)p.resident_bytes, 2304LL * 4096);
	ASSERT_EQ(metrics_proc_parse_stat("no parenthesis", 100, 4096, 0, &p), -EINVAL);
	ASSERT_EQ(metrics_proc_parse_stat("1 (x) S 1 2", 100, 4096, 0, &p), -EINVAL);
	metrics_proc_read(&p);
	CHECK(p.valid && p.open_fds >= 3 && p.resident_bytes > 0 && p.start_time > 1.6e9);
}

int main(int argc, char **argv)
{
	test_golden(argc > 1 ? argv[1] : "contrib/prometheus/example.om");
	test_escaping();
	test_labels();
	test_http();
	test_proc();
	return CHECK_DONE();
}
