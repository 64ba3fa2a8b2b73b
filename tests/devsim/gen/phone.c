/* phone.c: fills a devsim DEVICE_DIR (device.json, CrashReporter/, pending/) with reports */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gen.h"

struct phone {
	const struct gen_phone_params *p;
	struct gen_rng rng;
	char crk[41];
	int64_t t; /* UTC seconds of the next report */
	int tz;
	struct gen_buf manifest;
	char *err;
	size_t errsize;
};

static int mkdir_p(const char *path)
{
	char tmp[4096];
	size_t n = strlen(path);

	if (n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		char c = tmp[i];

		tmp[i] = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		tmp[i] = c;
	}
	return 0;
}

static int fail(struct phone *ph, int rc, const char *what, const char *path)
{
	snprintf(ph->err, ph->errsize, "%s '%s': %s", what, path, strerror(-rc));
	return rc;
}

static int write_device_json(struct phone *ph)
{
	const struct gen_phone_params *p = ph->p;
	struct gen_buf b = {0};
	char path[4096];
	int rc;

	snprintf(path, sizeof(path), "%s/device.json", p->dir);
	gen_buf_puts(&b, "{\n  \"udid\": ");
	gen_buf_json_str(&b, p->udid, false);
	gen_buf_puts(&b, ",\n  \"product_type\": ");
	gen_buf_json_str(&b, p->product, false);
	gen_buf_puts(&b, ",\n  \"product_version\": ");
	gen_buf_json_str(&b, p->os_version, false);
	gen_buf_puts(&b, ",\n  \"build_version\": ");
	gen_buf_json_str(&b, p->build, false);
	gen_buf_puts(&b, ",\n  \"device_name\": ");
	gen_buf_json_str(&b, p->name, false);
	gen_buf_puts(&b, ",\n  \"trust\": \"paired\"\n}\n");
	rc = gen_buf_write_file(&b, path);
	gen_buf_release(&b);
	return rc < 0 ? fail(ph, rc, "cannot write", path) : 0;
}

static void manifest_add(struct phone *ph, const char *rel, const char *incident, const char *kind,
			 const char *truth)
{
	struct gen_buf *m = &ph->manifest;

	gen_buf_puts(m, "{\"path\":");
	gen_buf_json_str(m, rel, false);
	gen_buf_puts(m, ",\"incident\":");
	if (incident)
		gen_buf_json_str(m, incident, false);
	else
		gen_buf_puts(m, "null");
	gen_buf_puts(m, ",\"kind\":");
	gen_buf_json_str(m, kind, false);
	gen_buf_puts(m, ",\"truth\":");
	if (truth)
		gen_buf_json_str(m, truth, false);
	else
		gen_buf_puts(m, "null");
	gen_buf_puts(m, "}\n");
}

static const char *const daemon_victims[] = {"backboardd",     "mediaserverd", "assetsd",
					     "photoanalysisd", "searchd",      "itunesstored"};
static const char *const highwater_victims[] = {"wifianalyticsd", "dasd", "suggestd", "routined",
						"healthd",	  "geod", "cloudd"};

static int64_t pages_of_mb(int64_t mb, int page_size)
{
	return mb * 1048576 / page_size;
}

/* picks the kills of one report; 0 kills means the generator's default frontmost kill */
static size_t pick_kills(struct phone *ph, struct gen_kill *k, int page_size)
{
	struct gen_rng *rng = &ph->rng;
	size_t n = 0, napps, next;
	const char *const *apps = gen_app_names(&napps);
	const char *const *exts = gen_extension_names(&next);
	unsigned roll = (unsigned)gen_rng_below(rng, 100);
	int64_t limit_mb = gen_product_limit_mb(ph->p->product);

	memset(k, 0, sizeof(*k) * 4);
	if (roll < 55)
		return 0;
	if (roll < 70) { /* frontmost app plus highwater daemons: several reasons in one report */
		snprintf(k[n].name, GEN_NAME_MAX, "%s", apps[gen_rng_below(rng, napps)]);
		k[n].role = GEN_ROLE_FOREGROUND;
		snprintf(k[n].reason, sizeof(k[n].reason), "per-process-limit");
		k[n].rpages = pages_of_mb(limit_mb, page_size) + gen_rng_range(rng, -20, 20);
		n++;
		for (int i = (int)gen_rng_range(rng, 1, 2); i > 0; i--) {
			snprintf(k[n].name, GEN_NAME_MAX, "%s",
				 highwater_victims[gen_rng_below(rng, 7)]);
			k[n].role = GEN_ROLE_DAEMON;
			snprintf(k[n].reason, sizeof(k[n].reason), "highwater");
			k[n].rpages = pages_of_mb(gen_rng_range(rng, 20, 120), page_size);
			n++;
		}
		return n;
	}
	if (roll < 82) { /* an extension over its small limit */
		snprintf(k[n].name, GEN_NAME_MAX, "%s", exts[gen_rng_below(rng, next)]);
		k[n].role = GEN_ROLE_EXTENSION;
		snprintf(k[n].reason, sizeof(k[n].reason), "per-process-limit");
		k[n].rpages = pages_of_mb(gen_rng_range(rng, 2, 12) * 10, page_size);
		return 1;
	}
	if (roll < 90) { /* a daemon over its limit */
		snprintf(k[n].name, GEN_NAME_MAX, "%s", daemon_victims[gen_rng_below(rng, 6)]);
		k[n].role = GEN_ROLE_DAEMON;
		snprintf(k[n].reason, sizeof(k[n].reason), "per-process-limit");
		k[n].rpages = pages_of_mb(gen_rng_range(rng, 50, 2100), page_size);
		return 1;
	}
	/* memory pressure: background apps killed by vm-pageshortage, maybe a proc-thrashing daemon
	 */
	for (int i = (int)gen_rng_range(rng, 2, 3); i > 0; i--) {
		snprintf(k[n].name, GEN_NAME_MAX, "%s", apps[gen_rng_below(rng, napps)]);
		k[n].role = GEN_ROLE_BACKGROUND;
		snprintf(k[n].reason, sizeof(k[n].reason), "vm-pageshortage");
		k[n].rpages = pages_of_mb(gen_rng_range(rng, 30, 400), page_size);
		n++;
	}
	if (gen_rng_chance(rng, 50)) {
		snprintf(k[n].name, GEN_NAME_MAX, "%s", highwater_victims[gen_rng_below(rng, 7)]);
		k[n].role = GEN_ROLE_DAEMON;
		snprintf(k[n].reason, sizeof(k[n].reason), "%s",
			 ph->p->os_version[0] >= '1' && atoi(ph->p->os_version) >= 12
				 ? "proc-thrashing"
				 : "vm-thrashing");
		k[n].rpages = pages_of_mb(gen_rng_range(rng, 5, 40), page_size);
		n++;
	}
	return n;
}

/* one JetsamEvent: folder is "CrashReporter", "CrashReporter/Retired" or "pending" */
static int make_report(struct phone *ph, const char *folder, bool synced_copy)
{
	const struct gen_phone_params *p = ph->p;
	struct gen_kill kills[4];
	struct gen_params gp;
	struct gen_report r;
	struct gen_buf b = {0};
	char stamp[32], rel[256], path[4096], truth[4096], truth_name[300];
	int rc;

	memset(&gp, 0, sizeof(gp));
	gp.product = p->product;
	gp.os_version = p->os_version;
	gp.build = p->build;
	gp.seed = gen_rng_next(&ph->rng);
	gp.has_time = true;
	gp.epoch = ph->t;
	gp.centis = (int)gen_rng_below(&ph->rng, 100);
	gp.tz_minutes = ph->tz;
	gp.crash_reporter_key = ph->crk;
	gp.n_procs = p->processes;
	gp.kills = kills;
	gp.n_kills = pick_kills(ph, kills, gen_product_default_page_size(p->product));
	/* at least two minutes apart, so that file names stay unique */
	ph->t += gen_rng_range(&ph->rng, 120, 30 * 3600);

	rc = gen_report_build(&gp, &r, ph->err, ph->errsize);
	if (rc < 0)
		return rc;
	gen_report_file_stamp(&r, stamp, sizeof(stamp));
	snprintf(rel, sizeof(rel), "%s/JetsamEvent-%s.ips", folder, stamp);
	snprintf(path, sizeof(path), "%s/%s", p->dir, rel);
	gen_write_report(&r, &b);
	rc = gen_buf_write_file(&b, path);
	if (rc < 0) {
		fail(ph, rc, "cannot write", path);
		goto out;
	}
	snprintf(truth_name, sizeof(truth_name), "JetsamEvent-%s.ips.truth", stamp);
	if (p->truth_dir) {
		snprintf(truth, sizeof(truth), "%s/%s", p->truth_dir, truth_name);
		b.len = 0;
		gen_write_truth(&r, &b);
		rc = gen_buf_write_file(&b, truth);
		if (rc == 0) {
			snprintf(truth, sizeof(truth), "%s/%s.report.json", p->truth_dir,
				 truth_name);
			b.len = 0;
			gen_write_report_facts(&r, &b);
			rc = gen_buf_write_file(&b, truth);
		}
		if (rc < 0) {
			fail(ph, rc, "cannot write", truth);
			goto out;
		}
	}
	manifest_add(ph, rel, r.incident, "jetsam", truth_name);
	if (synced_copy) {
		/* the phone keeps a renamed copy once a sync has seen the report */
		snprintf(rel, sizeof(rel), "%s/JetsamEvent-%s.ips.synced", folder, stamp);
		snprintf(path, sizeof(path), "%s/%s", p->dir, rel);
		b.len = 0;
		gen_write_report(&r, &b);
		rc = gen_buf_write_file(&b, path);
		if (rc < 0) {
			fail(ph, rc, "cannot write", path);
			goto out;
		}
		manifest_add(ph, rel, r.incident, "synced-copy", truth_name);
	}
out:
	gen_buf_release(&b);
	gen_report_release(&r);
	return rc;
}

/* files a collector must skip: an ordinary crash (309) and a stackshot (288) */
static int make_others(struct phone *ph)
{
	const struct gen_phone_params *p = ph->p;
	struct gen_buf b = {0};
	char stamp[96], ts[96], rel[256], path[4096], incident[37], build_line[128];
	int rc;

	snprintf(build_line, sizeof(build_line), "iPhone OS %s (%s)", p->os_version, p->build);
	for (int kind = 0; kind < 2; kind++) {
		int64_t t = ph->t + 37;

		ph->t += gen_rng_range(&ph->rng, 120, 7200);
		gen_format_time(stamp, sizeof(stamp), t, ph->tz, -1);
		gen_format_time(ts, sizeof(ts), t, ph->tz, 0);
		snprintf(incident, sizeof(incident), "%08llX-%04X-4%03X-A%03X-%012llX",
			 (unsigned long long)(gen_rng_next(&ph->rng) & 0xffffffffULL),
			 (unsigned)gen_rng_below(&ph->rng, 0x10000),
			 (unsigned)gen_rng_below(&ph->rng, 0x1000),
			 (unsigned)gen_rng_below(&ph->rng, 0x1000),
			 (unsigned long long)(gen_rng_next(&ph->rng) & 0xffffffffffffULL));
		b.len = 0;
		if (kind == 0) {
			snprintf(rel, sizeof(rel), "CrashReporter/LabTestApp-%s.ips", stamp);
			gen_buf_puts(&b, "{\"app_name\":\"LabTestApp\",\"timestamp\":");
			gen_buf_json_str(&b, ts, true);
			gen_buf_puts(
				&b,
				",\"app_version\":\"1.0\",\"bundleID\":\"com.example.LabTestApp\","
				"\"bug_type\":\"309\",\"os_version\":");
			gen_buf_json_str(&b, build_line, true);
			gen_buf_puts(&b, ",\"incident_id\":");
			gen_buf_json_str(&b, incident, true);
			gen_buf_puts(&b, ",\"name\":\"LabTestApp\"}\n{\n  \"incident\" : ");
			gen_buf_json_str(&b, incident, true);
			gen_buf_puts(&b, ",\n  \"procName\" : \"LabTestApp\",\n  \"modelCode\" : ");
			gen_buf_json_str(&b, p->product, true);
			gen_buf_puts(&b,
				     ",\n  \"exception\" : {\"codes\":\"0x0000000000000001, "
				     "0x0000000000000000\",\"type\":\"EXC_BAD_ACCESS\","
				     "\"signal\":\"SIGSEGV\",\"subtype\":\"KERN_INVALID_ADDRESS at "
				     "0x0000000000000000\"},\n  \"bug_type\" : \"309\"\n}\n");
		} else {
			snprintf(rel, sizeof(rel), "CrashReporter/stacks-%s.ips", stamp);
			gen_buf_puts(&b, "{\"bug_type\":\"288\",\"timestamp\":");
			gen_buf_json_str(&b, ts, true);
			gen_buf_puts(&b, ",\"os_version\":");
			gen_buf_json_str(&b, build_line, true);
			gen_buf_puts(&b, ",\"incident_id\":");
			gen_buf_json_str(&b, incident, true);
			gen_buf_puts(
				&b,
				"}\n{\n  \"reason\" : \"stackshot requested by the test lab\",\n"
				"  \"processByPid\" : {\n\n  }\n}\n");
		}
		snprintf(path, sizeof(path), "%s/%s", p->dir, rel);
		rc = gen_buf_write_file(&b, path);
		if (rc < 0) {
			gen_buf_release(&b);
			return fail(ph, rc, "cannot write", path);
		}
		manifest_add(ph, rel, incident, "other", NULL);
	}
	gen_buf_release(&b);
	return 0;
}

int gen_phone_make(const struct gen_phone_params *p, char *err, size_t errsize)
{
	struct phone ph;
	char path[4096];
	int major, minor, rc;
	uint64_t h;

	memset(&ph, 0, sizeof(ph));
	ph.p = p;
	ph.err = err;
	ph.errsize = errsize;
	if (gen_parse_os_version(p->os_version, &major, &minor) < 0 || major < 9) {
		snprintf(err, errsize, "bad os version '%s': want 9.0 or later, e.g. 15.5",
			 p->os_version);
		return -EINVAL;
	}
	if (p->n_reports < 0 || p->n_pending < 0 || p->n_reports + p->n_pending > 100000) {
		snprintf(err, errsize, "bad report count");
		return -EINVAL;
	}
	gen_rng_init(&ph.rng, p->seed ^ gen_hash(p->udid, 7));
	h = gen_hash(p->udid, 11);
	snprintf(ph.crk, sizeof(ph.crk), "%016llx%016llx%08x", (unsigned long long)h,
		 (unsigned long long)gen_hash(p->udid, 13), (unsigned)(h >> 7));
	{
		static const int tzs[] = {-420, -300, 0, 60, 120, 480, 540};

		ph.tz = tzs[gen_rng_below(&ph.rng, 7)];
	}
	ph.t = (int64_t)(2007 + major - 1970) * 31556952 - 60 * 86400 +
	       (int64_t)minor * 25 * 86400 + gen_rng_range(&ph.rng, 0, 200LL * 86400);

	static const char *const subdirs[] = {"CrashReporter", "CrashReporter/Retired", "pending"};

	for (int i = 0; i < 3; i++) {
		if (i == 1 && !p->retired)
			continue;
		snprintf(path, sizeof(path), "%s/%s", p->dir, subdirs[i]);
		rc = mkdir_p(path);
		if (rc < 0)
			return fail(&ph, rc, "cannot create", path);
	}
	if (p->truth_dir) {
		rc = mkdir_p(p->truth_dir);
		if (rc < 0)
			return fail(&ph, rc, "cannot create", p->truth_dir);
	}
	rc = write_device_json(&ph);
	for (int i = 0; rc == 0 && i < p->n_reports; i++) {
		const char *folder =
			p->retired && i % 4 == 1 ? "CrashReporter/Retired" : "CrashReporter";
		bool synced = p->synced && i % 5 == 0;

		rc = make_report(&ph, folder, synced);
		if (rc == 0 && i == p->n_reports / 2)
			rc = make_others(&ph);
	}
	if (rc == 0 && p->n_reports == 0)
		rc = make_others(&ph);
	for (int i = 0; rc == 0 && i < p->n_pending; i++)
		rc = make_report(&ph, "pending", false);
	if (rc == 0 && p->truth_dir) {
		snprintf(path, sizeof(path), "%s/manifest.jsonl", p->truth_dir);
		rc = gen_buf_write_file(&ph.manifest, path);
		if (rc < 0)
			fail(&ph, rc, "cannot write", path);
	}
	gen_buf_release(&ph.manifest);
	return rc;
}
