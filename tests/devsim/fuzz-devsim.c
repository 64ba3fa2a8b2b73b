/* fuzz-devsim.c: libFuzzer target for the usbmux, lockdown and AFC servers of devsim */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devsim.h"

/*
 * First input byte: 0 = usbmuxd connection, 1 = lockdown connection of the phone,
 * 2 = AFC connection of the phone; the rest is what the client sends. The phone has a
 * pair record with a fixed HostID (FUZZHOST) so inputs can reach the TLS layer.
 */
#define FUZZ_HOST_ID "00000000-F022-4000-8000-000000000001"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct devsim ds;
static uv_loop_t loop;
static struct phone *phone;
static char root[] = "/tmp/jt-fuzzXXXXXX";

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

static int rm_cb(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void fuzz_cleanup(void)
{
	nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void fuzz_init(void)
{
	char path[512], err[512];

	if (!mkdtemp(root))
		abort();
	atexit(fuzz_cleanup);
	write_file(root, "device.json",
		   "{\"udid\": \"00008101-00000000000F0220\", \"product_type\": \"iPhone13,2\", "
		   "\"product_version\": \"15.5\", \"build_version\": \"19F77\", "
		   "\"device_name\": \"Fuzz\"}");
	snprintf(path, sizeof(path), "%s/CrashReporter", root);
	mkdir(path, 0755);
	log_set_quiet(getenv("FUZZ_DEVSIM_LOG") == NULL);
	uv_loop_init(&loop);
	ds.loop = &loop;
	ds.socket_path = root;
	snprintf(ds.buid, sizeof(ds.buid), "00000000-0000-4000-8000-000000000000");
	ds.keys = pairkeys_new();
	if (!ds.keys || phone_attach(&ds, root, err, sizeof(err)) < 0)
		abort();
	phone = ds.phones;
}

static void fuzz_record(void)
{
	static const char record[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<plist version=\"1.0\"><dict><key>HostID</key><string>" FUZZ_HOST_ID
		"</string></dict></plist>\n";

	if (strcmp(phone->record_host_id, FUZZ_HOST_ID) &&
	    phone_save_record(phone, record, sizeof(record) - 1) < 0)
		abort();
}

/* files the AFC requests may read or remove; recreated every run */
static void fuzz_reset(void)
{
	char path[512];

	phone->trust = TRUST_PAIRED;
	phone->locked = false;
	phone->drop_after = -1;
	phone->stall_after = -1;
	phone->stall_ms = 0;
	phone->mover = MOVER_OK;
	fuzz_record();
	snprintf(path, sizeof(path), "%s/CrashReporter", root);
	mkdir(path, 0755);
	write_file(path, "a.ips", "{\"bug_type\":\"298\"}\n{}\n");
	snprintf(path, sizeof(path), "%s/CrashReporter/Retired", root);
	mkdir(path, 0755);
	write_file(path, "b.ips", "retired\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool inited;
	struct conn *c = NULL;
	int sv[2];
	char sink[65536];
	size_t off = 0;

	if (!inited) {
		fuzz_init();
		inited = true;
	}
	if (size < 1 || size > 65536)
		return 0;
	fuzz_reset();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (conn_open_fd(&ds, sv[0], CONN_MUX, &c) < 0) {
		close(sv[1]);
		return 0;
	}
	switch (data[0] % 3) {
	case 1:
		c->kind = CONN_LOCKDOWN;
		c->phone = phone;
		lockdown_start(c);
		break;
	case 2:
		c->kind = CONN_AFC;
		c->phone = phone;
		afc_start(c);
		break;
	default:
		break;
	}
	data++;
	size--;
	for (int i = 0; i < 200 && ds.conns; i++) {
		if (off < size) {
			ssize_t n = write(sv[1], data + off, size - off);

			if (n > 0)
				off += (size_t)n;
			if (off == size)
				shutdown(sv[1], SHUT_WR);
		} else if (size == 0) {
			shutdown(sv[1], SHUT_WR);
		}
		uv_run(&loop, UV_RUN_NOWAIT);
		while (read(sv[1], sink, sizeof(sink)) > 0) {
		}
	}
	conn_close_all(&ds);
	uv_run(&loop, UV_RUN_NOWAIT);
	close(sv[1]);
	return 0;
}
