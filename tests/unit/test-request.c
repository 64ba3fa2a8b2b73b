/* test-request.c: unit tests of request decoding and argument checks (proto/request.c) */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../../proto/request.h"
#include "check.h"

static int decode(struct request *r, const char *s)
{
	return request_decode(r, s, strlen(s));
}

static void test_decode(void)
{
	struct request r;

	ASSERT_EQ(decode(&r, "{\"id\":7,\"cmd\":\"status\"}"), 0);
	ASSERT_STREQ(r.cmd, "status");
	CHECK(r.id && cJSON_IsNumber(r.id) && r.id->valueint == 7);
	request_release(&r);

	ASSERT_EQ(decode(&r, "{\"id\":\"a\",\"cmd\":\"x\"}"), 0);
	CHECK(r.id && cJSON_IsString(r.id));
	request_release(&r);

	ASSERT_EQ(decode(&r, "not json"), 1);
	ASSERT_STREQ(r.err_code, "bad_request");
	ASSERT_STREQ(r.err_msg, "request is not valid JSON");
	request_release(&r);

	ASSERT_EQ(decode(&r, "[1,2]"), 1);
	ASSERT_STREQ(r.err_msg, "request is not a JSON object");
	request_release(&r);

	ASSERT_EQ(decode(&r, "{\"id\":3}"), 1);
	ASSERT_STREQ(r.err_msg, "'cmd' is missing");
	CHECK(r.id != NULL); /* the error reply can echo it */
	request_release(&r);

	ASSERT_EQ(decode(&r, "{\"id\":3,\"cmd\":5}"), 1);
	ASSERT_STREQ(r.err_msg, "'cmd' must be a string");
	request_release(&r);

	ASSERT_EQ(decode(&r, "{\"id\":[1],\"cmd\":\"x\"}"), 1);
	CHECK(r.id == NULL);
	request_release(&r);

	/* depth: 8 levels are fine, 9 are not */
	ASSERT_EQ(decode(&r, "{\"cmd\":\"x\",\"a\":[[[[[[[1]]]]]]]}"), 0);
	request_release(&r);
	ASSERT_EQ(decode(&r, "{\"cmd\":\"x\",\"a\":[[[[[[[[1]]]]]]]]}"), 1);
	CHECK(strstr(r.err_msg, "deeper") != NULL);
	request_release(&r);
}

static void test_args(void)
{
	struct request r;
	const char *s = NULL;
	int64_t n = 0;
	int b = 0;

	ASSERT_EQ(decode(&r, "{\"cmd\":\"x\",\"udid\":\"abc\",\"limit\":10,\"wait\":true,"
			     "\"bad\":1.5,\"neg\":-1,\"str\":\"\",\"nul\":null}"),
		  0);
	ASSERT_EQ(request_string(&r, "udid", &s), 1);
	ASSERT_STREQ(s, "abc");
	ASSERT_EQ(request_string(&r, "missing", &s), 0);
	ASSERT_EQ(request_string(&r, "nul", &s), 0); /* null = absent */
	ASSERT_EQ(request_string(&r, "limit", &s), -EINVAL);
	ASSERT_STREQ(r.err_msg, "argument 'limit' must be a non-empty string");
	ASSERT_EQ(request_string(&r, "str", &s), -EINVAL);
	ASSERT_EQ(request_int(&r, "limit", 1, 100, &n), 1);
	ASSERT_EQ(n, 10);
	ASSERT_EQ(request_int(&r, "limit", 1, 5, &n), -EINVAL);
	ASSERT_EQ(request_int(&r, "bad", 0, 5, &n), -EINVAL);
	ASSERT_EQ(request_int(&r, "neg", 0, 5, &n), -EINVAL);
	ASSERT_EQ(request_bool(&r, "wait", &b), 1);
	ASSERT_EQ(b, 1);
	ASSERT_EQ(request_bool(&r, "udid", &b), -EINVAL);
	request_release(&r);
}

static void test_time(void)
{
	struct request r;
	int64_t t = 0;

	CHECK(request_parse_time("2026-11-23T10:00:00Z", &t) == 0);
	ASSERT_EQ(t, 1795428000LL);
	CHECK(request_parse_time("2026-11-23T11:00:00+01:00", &t) == 0);
	ASSERT_EQ(t, 1795428000LL);
	CHECK(request_parse_time("2026-11-23T10:00:00.250Z", &t) == 0);
	ASSERT_EQ(t, 1795428000LL);
	CHECK(request_parse_time("2026-11-23 10:00:00", &t) == -EINVAL);
	CHECK(request_parse_time("2026-13-23T10:00:00Z", &t) == -EINVAL);
	CHECK(request_parse_time("2026-11-23T10:00:00Zjunk", &t) == -EINVAL);
	CHECK(request_parse_time("2026-02-31T10:00:00Z", &t) == -EINVAL);
	/* years before 1970 are refused; an offset may still give an instant before the epoch */
	CHECK(request_parse_time("1969-12-31T23:59:59Z", &t) == -EINVAL);
	CHECK(request_parse_time("1970-01-01T00:00:00+01:00", &t) == 0);
	ASSERT_EQ(t, -3600LL);

	ASSERT_EQ(decode(&r,
			 "{\"cmd\":\"x\",\"a\":1000,\"b\":\"2000\",\"c\":\"1970-01-01T00:00:05Z\","
			 "\"d\":\"yesterday\",\"e\":true}"),
		  0);
	ASSERT_EQ(request_time(&r, "a", &t), 1);
	ASSERT_EQ(t, 1000);
	ASSERT_EQ(request_time(&r, "b", &t), 1);
	ASSERT_EQ(t, 2000);
	ASSERT_EQ(request_time(&r, "c", &t), 1);
	ASSERT_EQ(t, 5);
	ASSERT_EQ(request_time(&r, "d", &t), -EINVAL);
	ASSERT_EQ(request_time(&r, "e", &t), -EINVAL);
	ASSERT_EQ(request_time(&r, "zz", &t), 0);
	request_release(&r);
}

/* Strict arguments: cmd and id are always known; the first other key is named. */
static void test_known(void)
{
	static const char *const events[] = {"udid", "process", NULL};
	static const char *const none[] = {NULL};
	struct request r;

	ASSERT_EQ(decode(&r, "{\"id\":1,\"cmd\":\"events\",\"process\":\"MyApp\"}"), 0);
	ASSERT_EQ(request_check_known(&r, events), 0);
	request_release(&r);
	ASSERT_EQ(decode(&r, "{\"cmd\":\"events\",\"proces\":\"MyApp\"}"), 0);
	ASSERT_EQ(request_check_known(&r, events), -EINVAL);
	ASSERT_STREQ(r.err_code, "invalid_argument");
	CHECK(strstr(r.err_msg, "unknown argument 'proces'") == r.err_msg);
	CHECK(strstr(r.err_msg, "udid, process") != NULL);
	request_release(&r);
	/* a null value is still an argument the command does not take */
	ASSERT_EQ(decode(&r, "{\"cmd\":\"status\",\"verbose\":null}"), 0);
	ASSERT_EQ(request_check_known(&r, none), -EINVAL);
	CHECK(strstr(r.err_msg, "'verbose'") != NULL && strstr(r.err_msg, "takes none") != NULL);
	request_release(&r);
	ASSERT_EQ(decode(&r, "{\"cmd\":\"status\",\"id\":\"x\"}"), 0);
	ASSERT_EQ(request_check_known(&r, NULL), 0);
	request_release(&r);
	/* a long key is cut in the message, never past it */
	{
		char line[600];

		snprintf(line, sizeof(line), "{\"cmd\":\"status\",\"%0300d\":1}", 7);
		ASSERT_EQ(decode(&r, line), 0);
		ASSERT_EQ(request_check_known(&r, none), -EINVAL);
		CHECK(strlen(r.err_msg) < sizeof(r.err_msg));
		request_release(&r);
	}
}

int main(void)
{
	test_known();
	test_decode();
	test_args();
	test_time();
	return CHECK_DONE();
}
