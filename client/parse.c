/* parse.c: jetsamctl parse FILE...: parse report files offline, print events (table/JSON/CSV) */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "ctl.h"
#include "report.h"
#include "report_json.h"

/* Read at most max + 1 bytes of path ('-' = stdin): 0 or -errno. */
static int read_file(const char *path, size_t max, char **out, size_t *out_len)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 65536, len = 0;
	struct stat st;
	char *buf;
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		goto out;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		cap = (size_t)st.st_size < max ? (size_t)st.st_size + 1 : max + 1;
	buf = malloc(cap);
	if (buf == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *nbuf;

			if (ncap <= cap)
				break; /* max + 1 bytes read: the parser refuses it */
			nbuf = realloc(buf, ncap);
			if (nbuf == NULL) {
				free(buf);
				rc = -ENOMEM;
				goto out;
			}
			buf = nbuf;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			free(buf);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*out = buf;
	*out_len = len;
out:
	if (fd != STDIN_FILENO)
		close(fd);
	return rc;
}

static void mib(char *buf, size_t n, int64_t bytes)
{
	if (bytes == REPORT_NULL)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
}

static void num(char *buf, size_t n, int64_t v)
{
	if (v == REPORT_NULL)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%lld", (long long)v);
}

static const char *or_dash(const char *s)
{
	return s != NULL ? s : "-";
}

static void print_table(const char *file, const struct report *r)
{
	enum { PROC, PID, REASON, ROLE, RPAGES, FOOT, LIMIT, NCOL };
	static const char *const heads[NCOL] = {"PROCESS", "PID",	"REASON", "ROLE",
						"RPAGES",  "FOOTPRINT", "LIMIT"};
	int width[NCOL];
	char cell[NCOL][64];

	printf("%s  %s", file, report_status_name(r->status));
	if (r->status != REPORT_OK) {
		printf("  %s", or_dash(r->error));
		if (r->error_offset != REPORT_NULL)
			printf(" (at byte %lld)", (long long)r->error_offset);
		printf("\n");
		return;
	}
	printf("  %s  %s %s (%s)  %s", or_dash(r->product), or_dash(r->os_name),
	       or_dash(r->os_version), or_dash(r->build), report_variant_name(r->variant));
	if (r->page_size != REPORT_NULL)
		printf("  page %lld", (long long)r->page_size);
	printf("  %zu event%s%s\n", r->n_events, r->n_events == 1 ? "" : "s",
	       r->truncated ? " (report cut short)" : "");
	if (r->n_events == 0)
		return;
	for (int c = 0; c < NCOL; c++)
		width[c] = (int)strlen(heads[c]);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			printf("  %-*s  %*s  %-*s  %-*s  %*s  %*s  %*s\n", width[PROC], heads[PROC],
			       width[PID], heads[PID], width[REASON], heads[REASON], width[ROLE],
			       heads[ROLE], width[RPAGES], heads[RPAGES], width[FOOT], heads[FOOT],
			       width[LIMIT], heads[LIMIT]);
		}
		for (size_t i = 0; i < r->n_events; i++) {
			const struct report_event *ev = &r->events[i];

			snprintf(cell[PROC], sizeof(cell[PROC]), "%s", or_dash(ev->process));
			num(cell[PID], sizeof(cell[PID]), ev->pid);
			snprintf(cell[REASON], sizeof(cell[REASON]), "%s", or_dash(ev->reason));
			snprintf(cell[ROLE], sizeof(cell[ROLE]), "%s", report_role_name(ev->role));
			num(cell[RPAGES], sizeof(cell[RPAGES]), ev->rpages);
			mib(cell[FOOT], sizeof(cell[FOOT]), ev->footprint_bytes);
			mib(cell[LIMIT], sizeof(cell[LIMIT]), ev->limit_bytes);
			if (pass == 0) {
				for (int c = 0; c < NCOL; c++)
					if ((int)strlen(cell[c]) > width[c])
						width[c] = (int)strlen(cell[c]);
				continue;
			}
			printf("  %-*s  %*s  %-*s  %-*s  %*s  %*s  %*s\n", width[PROC], cell[PROC],
			       width[PID], cell[PID], width[REASON], cell[REASON], width[ROLE],
			       cell[ROLE], width[RPAGES], cell[RPAGES], width[FOOT], cell[FOOT],
			       width[LIMIT], cell[LIMIT]);
		}
	}
}

static void csv_field(const char *s, int last)
{
	if (s == NULL) {
		fputs(last ? "\n" : ",", stdout);
		return;
	}
	if (strpbrk(s, ",\"\r\n") != NULL) {
		putchar('"');
		for (const char *c = s; *c != '\0'; c++) {
			if (*c == '"')
				putchar('"');
			putchar(*c);
		}
		putchar('"');
	} else {
		fputs(s, stdout);
	}
	fputs(last ? "\n" : ",", stdout);
}

static void csv_int(int64_t v, int last)
{
	char buf[32];

	if (v == REPORT_NULL) {
		csv_field(NULL, last);
		return;
	}
	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	csv_field(buf, last);
}

static void print_csv_header(void)
{
	printf("file,status,incident,bug_type,product,os_version,build,timestamp,page_size,"
	       "variant,process,pid,uuid,reason,role,states,priority,rpages,footprint_bytes,"
	       "limit_bytes,lifetime_max_pages\n");
}

static void print_csv(const char *file, const struct report *r)
{
	for (size_t i = 0; i < r->n_events; i++) {
		const struct report_event *ev = &r->events[i];
		size_t n = 1;
		char *states;

		for (size_t k = 0; k < ev->n_states; k++)
			n += strlen(ev->states[k]) + 1;
		states = malloc(n);
		if (states != NULL) {
			states[0] = '\0';
			for (size_t k = 0; k < ev->n_states; k++) {
				if (k > 0)
					strcat(states, ";");
				strcat(states, ev->states[k]);
			}
		}
		csv_field(file, 0);
		csv_field(report_status_name(r->status), 0);
		csv_field(r->incident, 0);
		csv_field(r->bug_type, 0);
		csv_field(r->product, 0);
		csv_field(r->os_version, 0);
		csv_field(r->build, 0);
		csv_field(r->timestamp, 0);
		csv_int(r->page_size, 0);
		csv_field(r->variant != REPORT_VARIANT_UNKNOWN ? report_variant_name(r->variant)
							       : NULL,
			  0);
		csv_field(ev->process, 0);
		csv_int(ev->pid, 0);
		csv_field(ev->uuid, 0);
		csv_field(ev->reason, 0);
		csv_field(report_role_name(ev->role), 0);
		csv_field(states, 0);
		csv_int(ev->priority, 0);
		csv_int(ev->rpages, 0);
		csv_int(ev->footprint_bytes, 0);
		csv_int(ev->limit_bytes, 0);
		csv_int(ev->lifetime_max_pages, 1);
		free(states);
	}
}

static int print_json(cJSON *obj)
{
	char *text;

	if (obj == NULL)
		return -ENOMEM;
	text = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (text == NULL)
		return -ENOMEM;
	printf("%s\n", text);
	cJSON_free(text);
	return 0;
}

/* Parse one file and print it: 0 ok/skipped, 1 failed, -ENOMEM. */
static int parse_one(const struct ctl *ctl, const char *file, const struct report_opts *opts)
{
	char *buf = NULL, msg[512];
	struct report *r = NULL;
	size_t len = 0;
	int rc = read_file(file, opts->max_size, &buf, &len);

	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "cannot read '%s': %s", file, strerror(-rc));
		if (ctl->format == CTL_FORMAT_JSON)
			return print_json(report_json_failure(file, msg)) < 0 ? -ENOMEM : 1;
		if (ctl->format == CTL_FORMAT_CSV)
			fprintf(stderr, "jetsamctl: %s\n", msg);
		else
			printf("%s  error  %s\n", file, msg);
		return 1;
	}
	rc = report_parse(buf, len, opts, &r);
	free(buf);
	if (rc < 0)
		return rc;
	switch (ctl->format) {
	case CTL_FORMAT_JSON:
		if (print_json(report_json_result(r, file)) < 0) {
			report_free(r);
			return -ENOMEM;
		}
		break;
	case CTL_FORMAT_CSV:
		if (r->status == REPORT_ERROR && r->error_offset != REPORT_NULL)
			fprintf(stderr, "jetsamctl: '%s': %s (at byte %lld)\n", file, r->error,
				(long long)r->error_offset);
		else if (r->status == REPORT_ERROR)
			fprintf(stderr, "jetsamctl: '%s': %s\n", file, r->error);
		print_csv(file, r);
		break;
	case CTL_FORMAT_TABLE:
		print_table(file, r);
		break;
	}
	rc = r->status == REPORT_ERROR ? 1 : 0;
	report_free(r);
	return rc;
}

/* The options of parse: -j and -c are short for --json and --csv here */
struct parse_args {
	struct ctl *ctl;
	struct report_opts ropts;
};

static int parse_option_cb(void *arg, int c, const char *value)
{
	struct parse_args *a = arg;
	char *end;
	unsigned long long v;

	if (c == 'j' || c == 'c')
		return cmd_set_format(a->ctl, "parse", c == 'j' ? CTL_FORMAT_JSON : CTL_FORMAT_CSV);
	if (c != 'm')
		return 0;
	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || value[0] == '-' ||
	    v > (unsigned long long)SIZE_MAX / 2) {
		ctl_usage_error("parse", "invalid --max-size '%s'", value);
		return CTL_EXIT_USAGE;
	}
	a->ropts.max_size = (size_t)v;
	return 0;
}

int parse_main(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{"max-size", required_argument, NULL, 'm'},
		CMD_COMMON_OPTIONS,
	};
	static const struct cmd_opts o = {
		.name = "parse",
		.shortopts = "jcm:h",
		.longopts = opts,
		.help = "usage: jetsamctl [--json | --csv] parse [--max-size BYTES] FILE...\n"
			"parse iOS JetsamEvent, LowMemory and EXC_RESOURCE reports offline\n"
			"FILE '-' reads standard input\n",
		.max_operands = -1,
	};
	struct parse_args a = {.ctl = ctl, .ropts = {.max_size = REPORT_DEFAULT_MAX_SIZE}};
	int failed = 0, r;

	r = cmd_options(ctl, &o, argc, argv, parse_option_cb, &a);
	if (r != CMD_RUN)
		return r;
	if (optind >= argc) {
		ctl_usage_error("parse", "no report file given");
		return CTL_EXIT_USAGE;
	}
	if (ctl->format == CTL_FORMAT_CSV)
		print_csv_header();
	for (int i = optind; i < argc; i++) {
		int rc = parse_one(ctl, argv[i], &a.ropts);

		if (rc < 0) {
			fprintf(stderr, "jetsamctl: parse: out of memory\n");
			return CTL_EXIT_ERROR;
		}
		failed |= rc;
		fflush(stdout);
	}
	return failed ? CTL_EXIT_ERROR : CTL_EXIT_OK;
}
