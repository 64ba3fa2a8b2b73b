/* test-ctl-suggest.c: unit tests of jetsamctl's "did you mean" (edit distance, best word) */
#include <stdio.h>

#include "check.h"
#include "suggest.h"

int main(void)
{
	static const char *const commands[] = {"status",  "devices", "limits", "limit",
					       "events",  "reports", "sync",   "import",
					       "reparse", "watch",   "parse",  "help"};
	static const char *const options[] = {"udid", "product", "build", "process", "reason",
					      "role", "since",	 "until", "limit",   "fail-if-any",
					      "json", "csv",	 "help",  NULL};
	size_t nc = sizeof(commands) / sizeof(commands[0]);
	size_t no = sizeof(options) / sizeof(options[0]);

	ASSERT_EQ(suggest_distance("", ""), 0);
	ASSERT_EQ(suggest_distance("abc", ""), 3);
	ASSERT_EQ(suggest_distance("devcies", "devices"), 1); /* a transposition is one edit */
	ASSERT_EQ(suggest_distance("procces", "process"), 2);
	ASSERT_EQ(suggest_distance("STATUS", "status"), 0);
	ASSERT_EQ(suggest_distance("kitten", "sitting"), 3);

	ASSERT_STREQ(suggest_word("devcies", commands, nc), "devices");
	ASSERT_STREQ(suggest_word("stauts", commands, nc), "status");
	ASSERT_STREQ(suggest_word("evnets", commands, nc), "events");
	ASSERT_STREQ(suggest_word("wtach", commands, nc), "watch");
	ASSERT_STREQ(suggest_word("procces", options, no), "process");
	ASSERT_STREQ(suggest_word("jsno", options, no), "json");
	ASSERT_STREQ(suggest_word("fail-if", options, no), NULL); /* 4 edits: too far */
	ASSERT_STREQ(suggest_word("bogus", commands, nc), NULL);
	ASSERT_STREQ(suggest_word("xyz", options, no), NULL);
	/* "limitz" is one edit from limit and from limits: no single best, no suggestion */
	ASSERT_STREQ(suggest_word("limitz", commands, nc), NULL);
	ASSERT_STREQ(suggest_word("limts", commands, nc), "limits");
	/* a word longer than the table handles is never suggested */
	ASSERT_STREQ(
		suggest_word("devicesdevicesdevicesdevicesdevicesdevicesdevicesdevicesdevicesd",
			     commands, nc),
		NULL);

	return CHECK_DONE();
}
