/* cmd_actions.c: jetsamctl sync, import and reparse: commands that make the daemon act */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "conn.h"
#include "output.h"
#include "protocol.h"

/* Largest file import reads; the daemon applies its own max_report_size below this */
#define IMPORT_MAX_FILE (1024L * 1024 * 1024)

/* --- sync --- */

static int sync_print(const struct ctl *ctl, const cJSON *result, int wait)
{
	const cJSON *list, *e;
	int failed = 0, r = CTL_EXIT_OK;

	list = cJSON_GetObjectItemCaseSensitive(result, wait ? "synced" : "queued");
	cJSON_ArrayForEach(e, list)
	{
		if (wait && jstr(e, "error") != NULL)
			failed++;
	}
	if (ctl->format == CTL_FORMAT_JSON) {
		r = json_print(result);
	} else if (ctl->format == CTL_FORMAT_CSV) {
		static const char *const waited[] = {"udid", "state", "new_reports", "error", NULL};
		static const char *const queued[] = {"udid", NULL};

		csv_header(stdout, wait ? waited : queued);
		cJSON_ArrayForEach(e, list)
		{
			if (!wait) {
				csv_json(stdout, 1, e);
			} else {
				const char *const *name;

				for (name = waited; *name != NULL; name++)
					csv_json(stdout, name == waited,
						 cJSON_GetObjectItemCaseSensitive(e, *name));
			}
			csv_end(stdout);
		}
	} else if (!wait) {
		int n = cJSON_GetArraySize(list);

		if (n == 0) {
			puts("no phone attached: nothing to sync");
		} else {
			printf("sync queued for %d phone%s:", n, n == 1 ? "" : "s");
			cJSON_ArrayForEach(e, list)
			{
				printf(" %s", cJSON_IsString(e) ? e->valuestring : "?");
			}
			putchar('\n');
		}
	} else {
		static const struct table_column cols[] = {
			{"UDID", TABLE_LEFT, TABLE_WHOLE, 0},
			{"STATE", TABLE_LEFT, 0, 0},
			{"NEW REPORTS", TABLE_RIGHT, 0, 0},
			{"ERROR", TABLE_LEFT, 10, 0},
		};
		struct table *t = table_new(cols, sizeof(cols) / sizeof(cols[0]));

		if (t == NULL)
			return CTL_EXIT_ERROR;
		cJSON_ArrayForEach(e, list)
		{
			char n[32];

			fmt_jnum(n, sizeof(n), e, "new_reports");
			if (table_add(t, jstr(e, "udid"), NULL) < 0 ||
			    table_add(t, jstr(e, "state"), NULL) < 0 || table_add(t, n, NULL) < 0 ||
			    table_add(t, jstr_or(e, "error", ""), "1;31") < 0) {
				table_free(t);
				ctl_error("out of memory");
				return CTL_EXIT_ERROR;
			}
		}
		if (table_rows(t) == 0)
			puts("no phone attached: nothing to sync");
		else
			r = table_print_ctl(t, ctl);
		table_free(t);
	}
	if (r == CTL_EXIT_OK && failed > 0) {
		ctl_error("sync failed on %d phone%s", failed, failed == 1 ? "" : "s");
		r = CTL_EXIT_ERROR;
	}
	return r;
}

static int sync_option_cb(void *arg, int c, const char *value)
{
	(void)value;
	if (c == 'w')
		*(int *)arg = 1;
	return 0;
}

int sync_main(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{"wait", no_argument, NULL, 'w'},
		CMD_COMMON_OPTIONS,
	};
	static const struct cmd_opts o = {
		.name = "sync",
		.shortopts = "hw",
		.longopts = opts,
		.help = "usage: jetsamctl sync [UDID] [--wait]\n"
			"Ask the daemon to pull new reports from one phone (default: all "
			"attached);\n--wait returns when that sync has finished. A unique "
			"UDID prefix names a phone.\n",
		.max_operands = 1,
	};
	const char *udid = NULL;
	char full[256];
	int wait = 0, r;
	cJSON *req, *result;

	r = cmd_options(ctl, &o, argc, argv, sync_option_cb, &wait);
	if (r != CMD_RUN)
		return r;
	if (optind < argc) {
		r = cmd_resolve_udid(ctl, "sync", argv[optind], full, sizeof(full));
		if (r != CTL_EXIT_OK)
			return r;
		udid = full;
	}
	req = cmd_request_new("sync");
	cmd_request_str(req, "udid", udid);
	cmd_request_bool(req, "wait", wait);
	r = cmd_call(ctl, "sync", req, &result);
	cJSON_Delete(req);
	if (r != CTL_EXIT_OK)
		return r;
	r = sync_print(ctl, result, wait);
	cJSON_Delete(result);
	return r;
}

/* --- import --- */

/* Read all of path ("-": stdin) into *data; prints the failure. Returns 0 or -errno. */
static int read_file(const char *path, char **data, size_t *size)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0, cap = 65536;
	struct stat st;
	char *buf;
	int err = 0;

	if (fd < 0) {
		err = -errno;
		ctl_error("cannot open '%s': %s", path, strerror(errno));
		return err;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		ctl_error("cannot import '%s': is a directory", path);
		if (fd != STDIN_FILENO)
			close(fd);
		return -EISDIR;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		cap = (size_t)st.st_size + 1;
	buf = malloc(cap);
	while (buf != NULL) {
		ssize_t n;

		if (len == cap) {
			char *b;

			if (cap >= (size_t)IMPORT_MAX_FILE) {
				err = -EFBIG;
				ctl_error("cannot import '%s': larger than %ld bytes", path,
					  IMPORT_MAX_FILE);
				break;
			}
			b = realloc(buf, cap * 2);
			if (b == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = b;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			ctl_error("cannot read '%s': %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (buf == NULL) {
		ctl_error("cannot read '%s': out of memory", path);
		return -ENOMEM;
	}
	if (err == 0 && len == 0) {
		ctl_error("cannot import '%s': empty file", path);
		err = -EINVAL;
	}
	if (err < 0) {
		free(buf);
		return err;
	}
	*data = buf;
	*size = len;
	return 0;
}

/* Whether the daemon stored the imported report of entry with status error (it does not
 * parse) */
static int import_unparsed(const cJSON *entry)
{
	const cJSON *report = cJSON_GetObjectItemCaseSensitive(entry, "report");

	return strcmp(jstr_or(report, "status", ""), "error") == 0;
}

/* Say why an imported report is stored with status error */
static void import_say_status(const char *path, const cJSON *entry)
{
	if (import_unparsed(entry))
		ctl_error("'%s' does not parse: %s (stored with status error)", path,
			  jstr_or(cJSON_GetObjectItemCaseSensitive(entry, "report"), "error",
				  "no reason given"));
}

/* Read the reply to request id (or an error without id), skipping pushed lines: 0 with
 * *reply set, or -errno */
static int import_reply(struct conn *conn, long id, cJSON **reply)
{
	for (;;) {
		const cJSON *rid, *ok;
		int r = conn_read(conn, reply, -1);

		if (r < 0)
			return r;
		rid = cJSON_GetObjectItemCaseSensitive(*reply, "id");
		ok = cJSON_GetObjectItemCaseSensitive(*reply, "ok");
		if ((cJSON_IsNumber(rid) && (long)rid->valuedouble == id) ||
		    ((rid == NULL || cJSON_IsNull(rid)) && cJSON_IsFalse(ok)))
			return 0;
		cJSON_Delete(*reply);
		*reply = NULL;
	}
}

/* Import one file on conn (reconnecting when needed); returns the entry for the output */
static cJSON *import_one(struct ctl *ctl, struct conn *conn, int *connected, const char *path)
{
	cJSON *entry = cJSON_CreateObject(), *req = NULL, *result = NULL;
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char *data = NULL;
	size_t size = 0;
	long id;
	int r;

	if (entry == NULL)
		return NULL;
	cJSON_AddStringToObject(entry, "file", path);
	r = read_file(path, &data, &size);
	if (r < 0) {
		cJSON *err = cJSON_AddObjectToObject(entry, "error");

		cJSON_AddBoolToObject(entry, "ok", 0);
		cJSON_AddStringToObject(err, "code", "client");
		cJSON_AddStringToObject(err, "message",
					r == -EISDIR   ? "is a directory"
					: r == -EINVAL ? "empty file"
					: r == -EFBIG  ? "file too large"
						       : strerror(-r));
		return entry;
	}
	if (!*connected) {
		if (conn_open(conn, ctl->socket_path) != CTL_EXIT_OK) {
			free(data);
			cJSON_Delete(entry);
			return NULL;
		}
		*connected = 1;
	}
	req = cmd_request_new("import");
	cmd_request_str(req, "name", strcmp(path, "-") == 0 ? "stdin" : name);
	cmd_request_num(req, "size", (double)size);
	/* conn_call cannot send the raw bytes between the line and the reply: do it here */
	r = conn_send(conn, req, &id);
	if (r == 0)
		r = conn_send_raw(conn, data, size);
	free(data);
	cJSON_Delete(req);
	if (r == 0) {
		cJSON *reply = NULL;

		r = import_reply(conn, id, &reply);
		if (reply != NULL) {
			if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"))) {
				result = cJSON_DetachItemFromObjectCaseSensitive(reply, "result");
				cJSON_AddBoolToObject(entry, "ok", 1);
				cJSON_AddItemToObject(
					entry, "duplicate",
					cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(
								result, "duplicate"),
							1));
				cJSON_AddItemToObject(
					entry, "report",
					cJSON_DetachItemFromObjectCaseSensitive(result, "report"));
				cJSON_Delete(result);
				import_say_status(path, entry);
			} else {
				const cJSON *err = cJSON_GetObjectItemCaseSensitive(reply, "error");

				cJSON_AddBoolToObject(entry, "ok", 0);
				cJSON_AddItemToObject(entry, "error", cJSON_Duplicate(err, 1));
				ctl_error("cannot import '%s': %s (%s)", path,
					  jstr_or(err, "message", "?"), jstr_or(err, "code", "?"));
				/* too_large and permission_denied close the connection:
				 * reconnect for the next file */
				if (strcmp(jstr_or(err, "code", ""), PROTO_E_TOO_LARGE) == 0 ||
				    strcmp(jstr_or(err, "code", ""), PROTO_E_PERMISSION_DENIED) ==
					    0) {
					conn_release(conn);
					*connected = 0;
				}
			}
			cJSON_Delete(reply);
			return entry;
		}
	}
	{
		cJSON *err = cJSON_AddObjectToObject(entry, "error");

		ctl_error("cannot import '%s': %s", path, conn_strerror(r));
		cJSON_AddBoolToObject(entry, "ok", 0);
		cJSON_AddStringToObject(err, "code", "connection");
		cJSON_AddStringToObject(err, "message", conn_strerror(r));
		conn_release(conn);
		*connected = 0;
	}
	return entry;
}

static const char *const import_csv[] = {"file",   "ok",     "duplicate", "id",	   "key",
					 "status", "events", "variant",	  "error", NULL};

/* The value of CSV column name for import entry e */
static const cJSON *import_field(const cJSON *e, const char *name)
{
	const cJSON *report = cJSON_GetObjectItemCaseSensitive(e, "report");
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(e, "error");

	if (strcmp(name, "file") == 0 || strcmp(name, "ok") == 0 || strcmp(name, "duplicate") == 0)
		return cJSON_GetObjectItemCaseSensitive(e, name);
	if (strcmp(name, "error") == 0)
		return err != NULL ? cJSON_GetObjectItemCaseSensitive(err, "message")
				   : cJSON_GetObjectItemCaseSensitive(report, "error");
	return cJSON_GetObjectItemCaseSensitive(report, name);
}

static int import_print(const struct ctl *ctl, cJSON *doc)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "imports"), *e;
	static const struct table_column cols[] = {
		{"FILE", TABLE_LEFT, 12, 0},  {"ID", TABLE_RIGHT, 0, 0},
		{"STATUS", TABLE_LEFT, 0, 0}, {"EVENTS", TABLE_RIGHT, 0, 0},
		{"NOTE", TABLE_LEFT, 10, 0},
	};
	struct table *t;
	int r;

	if (ctl->format == CTL_FORMAT_JSON)
		return json_print(doc);
	if (ctl->format == CTL_FORMAT_CSV) {
		csv_header(stdout, import_csv);
		cJSON_ArrayForEach(e, list)
		{
			const char *const *name;

			for (name = import_csv; *name != NULL; name++)
				csv_json(stdout, name == import_csv, import_field(e, *name));
			csv_end(stdout);
		}
		return CTL_EXIT_OK;
	}
	t = table_new(cols, sizeof(cols) / sizeof(cols[0]));
	if (t == NULL)
		return CTL_EXIT_ERROR;
	cJSON_ArrayForEach(e, list)
	{
		const cJSON *report = cJSON_GetObjectItemCaseSensitive(e, "report");
		const cJSON *err = cJSON_GetObjectItemCaseSensitive(e, "error");
		char id[32], events[32];
		const char *status, *note, *style = NULL;

		fmt_jnum(id, sizeof(id), report, "id");
		fmt_jnum(events, sizeof(events), report, "events");
		if (err != NULL) {
			status = "failed";
			style = "1;31";
			note = jstr_or(err, "message", "");
		} else {
			status = jstr_or(report, "status", "-");
			if (strcmp(status, "error") == 0)
				style = "1;31";
			if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "duplicate")))
				note = "duplicate: already stored";
			else
				note = jstr_or(report, "error", "new");
		}
		if (table_add(t, jstr(e, "file"), NULL) < 0 || table_add(t, id, NULL) < 0 ||
		    table_add(t, status, style) < 0 || table_add(t, events, NULL) < 0 ||
		    table_add(t, note, NULL) < 0) {
			table_free(t);
			ctl_error("out of memory");
			return CTL_EXIT_ERROR;
		}
	}
	r = table_print_ctl(t, ctl);
	table_free(t);
	return r;
}

int import_main(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {CMD_COMMON_OPTIONS};
	static const struct cmd_opts o = {
		.name = "import",
		.shortopts = "h",
		.longopts = opts,
		.help = "usage: jetsamctl import FILE...\n"
			"Send report files to the daemon, which archives and parses them "
			"('-' reads stdin).\nExit 1 when a file could not be sent or does not "
			"parse.\n",
		.max_operands = -1,
	};
	struct conn conn = {.fd = -1};
	int connected = 0, failed = 0, r, i;
	cJSON *doc, *list;

	r = cmd_options(ctl, &o, argc, argv, NULL, NULL);
	if (r != CMD_RUN)
		return r;
	if (optind >= argc) {
		ctl_usage_error("import", "no file given");
		return CTL_EXIT_USAGE;
	}
	doc = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(doc, "imports");
	if (list == NULL) {
		cJSON_Delete(doc);
		ctl_error("out of memory");
		return CTL_EXIT_ERROR;
	}
	for (i = optind; i < argc; i++) {
		cJSON *entry = import_one(ctl, &conn, &connected, argv[i]);

		if (entry == NULL) {
			/* cannot connect: the message is out, the other files would fail alike */
			cJSON_Delete(doc);
			return CTL_EXIT_ERROR;
		}
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(entry, "ok")) ||
		    import_unparsed(entry))
			failed++;
		cJSON_AddItemToArray(list, entry);
	}
	if (connected)
		conn_release(&conn);
	cmd_add_product_names(doc);
	r = import_print(ctl, doc);
	cJSON_Delete(doc);
	if (r == CTL_EXIT_OK && failed > 0)
		r = CTL_EXIT_ERROR;
	return r;
}

/* --- reparse --- */

int reparse_main(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {CMD_COMMON_OPTIONS};
	static const char *const csv[] = {"reports", "ok", "skipped", "error", "events", NULL};
	static const struct cmd_opts o = {
		.name = "reparse",
		.shortopts = "h",
		.longopts = opts,
		.help = "usage: jetsamctl reparse\n"
			"Re-read every archived report with the daemon's current parser.\n",
		.max_operands = 0,
	};
	cJSON *req, *result;
	int r;

	r = cmd_options(ctl, &o, argc, argv, NULL, NULL);
	if (r != CMD_RUN)
		return r;
	req = cmd_request_new("reparse");
	r = cmd_call(ctl, "reparse", req, &result);
	cJSON_Delete(req);
	if (r != CTL_EXIT_OK)
		return r;
	if (ctl->format == CTL_FORMAT_JSON) {
		r = json_print(result);
	} else if (ctl->format == CTL_FORMAT_CSV) {
		const char *const *name;

		csv_header(stdout, csv);
		for (name = csv; *name != NULL; name++)
			csv_json(stdout, name == csv,
				 cJSON_GetObjectItemCaseSensitive(result, *name));
		csv_end(stdout);
	} else {
		char n[5][32];

		fmt_jnum(n[0], sizeof(n[0]), result, "reports");
		fmt_jnum(n[1], sizeof(n[1]), result, "ok");
		fmt_jnum(n[2], sizeof(n[2]), result, "skipped");
		fmt_jnum(n[3], sizeof(n[3]), result, "error");
		fmt_jnum(n[4], sizeof(n[4]), result, "events");
		printf("reparsed %s reports: %s ok, %s skipped, %s error; %s kill events\n", n[0],
		       n[1], n[2], n[3], n[4]);
	}
	cJSON_Delete(result);
	return r;
}
