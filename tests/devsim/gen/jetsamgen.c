/* jetsamgen.c: command line of jetsamgen (report / phone), the JetsamEvent report generator */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "gen.h"

static const char usage_text[] =
	"usage: jetsamgen report --product P --os-version V --build B [--page-size N]\n"
	"                        [--variant J1|J2|J3|J4] [--processes N] [--seed N]\n"
	"                        [--incident UUID] [--time ISO8601] [--kill SPEC]...\n"
	"                        --out FILE [--truth FILE]\n"
	"       jetsamgen phone --dir DIR --udid UDID --product P --os-version V --build B\n"
	"                       --name NAME [--reports N] [--pending N] [--seed N]\n"
	"                       [--processes N] [--retired] [--synced] [--truth-dir DIR]\n"
	"       jetsamgen --help | --version\n"
	"\n"
	"report: writes one realistic JetsamEvent (bug_type 298) report to FILE.\n"
	"  --product P        model identifier, e.g. iPhone13,2\n"
	"  --os-version V     e.g. 15.5 (9.0 or later)\n"
	"  --build B          e.g. 19F77\n"
	"  --page-size N      4096 or 16384 (default: 4096 for iPhone7,x / iPod7,1 and older)\n"
	"  --variant V        body layout (default: 9-10 J1, 11-14 J2, 15-16 J3, 17+ J4)\n"
	"  --processes N      process entries, kills included (default: typical for the OS)\n"
	"  --seed N           random seed; same arguments and seed give the same bytes\n"
	"                     (default: a fresh seed per run, so a fresh incident id and time)\n"
	"  --incident UUID    incident id (default: random)\n"
	"  --time T           report time, e.g. 2024-01-02T10:11:12.34+01:00 (default: random)\n"
	"  --kill SPEC        NAME:ROLE:REASON:RPAGES[:PID], repeatable; ROLE is foreground,\n"
	"                     daemon, background or extension. Default: one per-process-limit\n"
	"                     kill of a frontmost app, sized for the product\n"
	"  --truth FILE       expected kill events (jetsamctl parse --json event schema, one per\n"
	"                     line, in file order) and FILE.report.json (the report object)\n"
	"\n"
	"phone: creates a devsim DEVICE_DIR: device.json, CrashReporter/ with N reports\n"
	"  (default 5) and two non-Jetsam files, pending/ with M reports (default 0).\n"
	"  --retired puts every fourth report under CrashReporter/Retired/, --synced adds\n"
	"  .synced copies of every fifth report, --truth-dir writes NAME.truth,\n"
	"  NAME.truth.report.json per report and manifest.jsonl.\n";

static void usage(FILE *f)
{
	fputs(usage_text, f);
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "jetsamgen: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see jetsamgen --help)\n");
	return 2;
}

static int parse_int(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

/* without --seed every run is another report: a fresh incident id, time and content */
static uint64_t fresh_seed(void)
{
	struct timespec ts;
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), 0) == (ssize_t)sizeof(v))
		return v;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000000007ull) ^ (uint64_t)ts.tv_nsec ^
	       ((uint64_t)getpid() << 40);
}

static int parse_seed(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

enum {
	OPT_PRODUCT = 256,
	OPT_OS,
	OPT_BUILD,
	OPT_PAGE,
	OPT_VARIANT,
	OPT_PROCS,
	OPT_SEED,
	OPT_INCIDENT,
	OPT_TIME,
	OPT_KILL,
	OPT_OUT,
	OPT_TRUTH,
	OPT_DIR,
	OPT_UDID,
	OPT_NAME,
	OPT_REPORTS,
	OPT_PENDING,
	OPT_RETIRED,
	OPT_SYNCED,
	OPT_TRUTH_DIR,
	OPT_HELP,
};

static const struct option report_opts[] = {
	{"product", required_argument, NULL, OPT_PRODUCT},
	{"os-version", required_argument, NULL, OPT_OS},
	{"build", required_argument, NULL, OPT_BUILD},
	{"page-size", required_argument, NULL, OPT_PAGE},
	{"variant", required_argument, NULL, OPT_VARIANT},
	{"processes", required_argument, NULL, OPT_PROCS},
	{"seed", required_argument, NULL, OPT_SEED},
	{"incident", required_argument, NULL, OPT_INCIDENT},
	{"time", required_argument, NULL, OPT_TIME},
	{"kill", required_argument, NULL, OPT_KILL},
	{"out", required_argument, NULL, OPT_OUT},
	{"truth", required_argument, NULL, OPT_TRUTH},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

static const struct option phone_opts[] = {
	{"dir", required_argument, NULL, OPT_DIR},
	{"udid", required_argument, NULL, OPT_UDID},
	{"product", required_argument, NULL, OPT_PRODUCT},
	{"os-version", required_argument, NULL, OPT_OS},
	{"build", required_argument, NULL, OPT_BUILD},
	{"name", required_argument, NULL, OPT_NAME},
	{"reports", required_argument, NULL, OPT_REPORTS},
	{"pending", required_argument, NULL, OPT_PENDING},
	{"seed", required_argument, NULL, OPT_SEED},
	{"processes", required_argument, NULL, OPT_PROCS},
	{"retired", no_argument, NULL, OPT_RETIRED},
	{"synced", no_argument, NULL, OPT_SYNCED},
	{"truth-dir", required_argument, NULL, OPT_TRUTH_DIR},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

/* one more --kill SPEC; 0, or the exit status */
static int add_kill(struct gen_kill **kills, size_t *n_kills, const char *spec)
{
	struct gen_kill *k = realloc(*kills, (*n_kills + 1) * sizeof(**kills));
	char err[256];

	if (!k) {
		fprintf(stderr, "jetsamgen: out of memory\n");
		return 1;
	}
	*kills = k;
	if (gen_kill_parse(spec, &k[*n_kills], err, sizeof(err)) < 0)
		return usage_error("%s", err);
	(*n_kills)++;
	return 0;
}

/* build the report and write it (and its truth); returns the exit status */
static int report_write(struct gen_params *p, const char *out, const char *truth)
{
	struct gen_report r;
	char err[256];
	int rc = gen_report_build(p, &r, err, sizeof(err));

	if (rc < 0) {
		fprintf(stderr, "jetsamgen: %s\n", err);
		return rc == -EINVAL ? 2 : 1;
	}
	rc = gen_write_files(&r, out, truth);
	gen_report_release(&r);
	if (rc < 0) {
		fprintf(stderr, "jetsamgen: cannot write '%s': %s\n", out, strerror(-rc));
		return 1;
	}
	return 0;
}

static int cmd_report(int argc, char **argv)
{
	struct gen_params p;
	struct gen_kill *kills = NULL;
	size_t n_kills = 0;
	const char *out = NULL, *truth = NULL;
	long long v;
	int c, rc;

	memset(&p, 0, sizeof(p));
	p.seed = fresh_seed();
	optind = 1;
	while ((c = getopt_long(argc, argv, "", report_opts, NULL)) != -1) {
		switch (c) {
		case OPT_PRODUCT:
			p.product = optarg;
			break;
		case OPT_OS:
			p.os_version = optarg;
			break;
		case OPT_BUILD:
			p.build = optarg;
			break;
		case OPT_PAGE:
			if (parse_int(optarg, 1, 1 << 20, &v) < 0 || (v != 4096 && v != 16384)) {
				free(kills);
				return usage_error("bad page size '%s': want 4096 or 16384",
						   optarg);
			}
			p.page_size = (int)v;
			break;
		case OPT_VARIANT:
			if (gen_variant_from_name(optarg, &p.variant) < 0) {
				free(kills);
				return usage_error("bad variant '%s': want J1, J2, J3 or J4",
						   optarg);
			}
			break;
		case OPT_PROCS:
			if (parse_int(optarg, 1, GEN_MAX_PROCS, &v) < 0) {
				free(kills);
				return usage_error("bad process count '%s'", optarg);
			}
			p.n_procs = (int)v;
			break;
		case OPT_SEED:
			if (parse_seed(optarg, &p.seed) < 0) {
				free(kills);
				return usage_error("bad seed '%s'", optarg);
			}
			break;
		case OPT_INCIDENT:
			p.incident = optarg;
			break;
		case OPT_TIME:
			if (gen_parse_time(optarg, &p.epoch, &p.centis, &p.tz_minutes) < 0) {
				free(kills);
				return usage_error(
					"bad time '%s': want e.g. 2024-01-02T10:11:12+01:00",
					optarg);
			}
			p.has_time = true;
			break;
		case OPT_KILL:
			rc = add_kill(&kills, &n_kills, optarg);
			if (rc) {
				free(kills);
				return rc;
			}
			break;
		case OPT_OUT:
			out = optarg;
			break;
		case OPT_TRUTH:
			truth = optarg;
			break;
		case OPT_HELP:
			free(kills);
			usage(stdout);
			return 0;
		default:
			free(kills);
			return usage_error("%s", "bad option for 'report'");
		}
	}
	if (optind < argc) {
		free(kills);
		return usage_error("unexpected argument '%s'", argv[optind]);
	}
	if (!p.product || !p.os_version || !p.build || !out) {
		free(kills);
		return usage_error("%s", "report needs --product, --os-version, --build and --out");
	}
	p.kills = kills;
	p.n_kills = n_kills;
	rc = report_write(&p, out, truth);
	free(kills);
	return rc;
}

static int cmd_phone(int argc, char **argv)
{
	struct gen_phone_params p;
	char err[4200];
	long long v;
	int c, rc;

	memset(&p, 0, sizeof(p));
	p.seed = fresh_seed();
	p.n_reports = 5;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", phone_opts, NULL)) != -1) {
		switch (c) {
		case OPT_DIR:
			p.dir = optarg;
			break;
		case OPT_UDID:
			p.udid = optarg;
			break;
		case OPT_PRODUCT:
			p.product = optarg;
			break;
		case OPT_OS:
			p.os_version = optarg;
			break;
		case OPT_BUILD:
			p.build = optarg;
			break;
		case OPT_NAME:
			p.name = optarg;
			break;
		case OPT_REPORTS:
		case OPT_PENDING:
			if (parse_int(optarg, 0, 100000, &v) < 0)
				return usage_error("bad report count '%s'", optarg);
			if (c == OPT_REPORTS)
				p.n_reports = (int)v;
			else
				p.n_pending = (int)v;
			break;
		case OPT_SEED:
			if (parse_seed(optarg, &p.seed) < 0)
				return usage_error("bad seed '%s'", optarg);
			break;
		case OPT_PROCS:
			if (parse_int(optarg, 1, GEN_MAX_PROCS, &v) < 0)
				return usage_error("bad process count '%s'", optarg);
			p.processes = (int)v;
			break;
		case OPT_RETIRED:
			p.retired = true;
			break;
		case OPT_SYNCED:
			p.synced = true;
			break;
		case OPT_TRUTH_DIR:
			p.truth_dir = optarg;
			break;
		case OPT_HELP:
			usage(stdout);
			return 0;
		default:
			return usage_error("%s", "bad option for 'phone'");
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!p.dir || !p.udid || !p.product || !p.os_version || !p.build || !p.name)
		return usage_error("%s", "phone needs --dir, --udid, --product, --os-version, "
					 "--build and --name");
	rc = gen_phone_make(&p, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "jetsamgen: %s\n", err);
		return rc == -EINVAL ? 2 : 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("%s", "missing command");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("jetsamgen %s\n", JETSAMD_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "report"))
		return cmd_report(argc - 1, argv + 1);
	if (!strcmp(argv[1], "phone"))
		return cmd_phone(argc - 1, argv + 1);
	return usage_error("unknown command '%s'", argv[1]);
}
