/* gate_report.h: the JUnit XML and TAP reports of `jetsamctl gate end` (pure, for the tests) */
#ifndef JETSAMCTL_GATE_REPORT_H
#define JETSAMCTL_GATE_REPORT_H

#include <stdio.h>

#include <cjson/cJSON.h>

/*
 * What a gate found. phones: an array of objects, one per phone synced: "udid", "name",
 * "product", "product_name", "build", "os_version" (any may be missing or null) and "error"
 * (a string when its sync failed). kills: an array of the daemon's event objects that matched
 * ("udid", "product", "product_name", "build", "process", "reason", "footprint_bytes",
 * "limit_bytes", "time", "collected_at"); each belongs to the phone of its "udid".
 */
struct gate_result {
	const char *app; /* the --process pattern */
	const cJSON *phones;
	const cJSON *kills;
};

/* Counts of a result: testcases (phones), failures (kills of a listed phone), errors (phones
 * whose sync failed) */
void gate_report_counts(const struct gate_result *g, int *tests, int *failures, int *errors);

/*
 * Write s as XML character data (attr 0) or an attribute value (attr nonzero): &<>"' escaped,
 * control characters other than tab, newline and carriage return (not allowed in XML 1.0) and
 * invalid UTF-8 written as U+FFFD; in attributes tab, newline and CR as character references.
 * s NULL writes nothing.
 */
void gate_xml_text(FILE *f, const char *s, int attr);

/* JUnit XML: <testsuites> with one <testsuite name="jetsamd-gate">, one <testcase> per phone
 * (name: its name or UDID, classname: its product), a <failure> per kill ("PROCESS killed:
 * REASON", the killed process's name, else the pattern), an <error> for a failed sync. Returns 0 or
 * -EIO. */
int gate_junit_write(FILE *f, const struct gate_result *g);

/* TAP version 13: one test line per phone, `not ok` with a YAML block for kills and failed
 * syncs. Returns 0 or -EIO. */
int gate_tap_write(FILE *f, const struct gate_result *g);

#endif
