/* report.c: builds the in-memory model of one JetsamEvent report (processes, kills, counters) */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen.h"

#define PID_SPACE 100000

struct builder {
	struct gen_report *r;
	struct gen_rng rng;
	unsigned char *pid_used; /* PID_SPACE bits */
	uint64_t uuid_salt;
	int name_max;
	const char *freeze_skip;
	int64_t cs_trust_platform;
	int64_t uptime_ticks;
};

static const char *const synth_bases[] = {
	"Lyft",	   "Zoom",	 "Discord",  "Reddit",	"Pinterest", "Snapchat",  "Airbnb",
	"Strava",  "Duolingo",	 "Notion",   "Dropbox", "Signal",    "Shazam",	  "Waze",
	"Venmo",   "PayPal",	 "Amazon",   "eBay",	"Booking",   "Skype",	  "Teams",
	"Threads", "LinkedIn",	 "Tinder",   "Kindle",	"Audible",   "Chrome",	  "Firefox",
	"Brave",   "DuckDuckGo", "Fitbit",   "Garmin",	"Calm",	     "Headspace", "Evernote",
	"Todoist", "Things3",	 "Overcast", "Pocket",	"Feedly",
};

static const char *const synth_suffixes[] = {
	"WidgetExtension",
	"NotificationService",
	"ShareExtension",
	"IntentsExtension",
	"NotificationContent",
	"Widget",
	"",
	"FileProvider",
};

static const char *const freeze_skips[] = {"disabled", "out-of-budget", "none"};

static const char *const zones[] = {"APFS_4K_OBJS", "APFS_4K_OBJS",   "APFS_4K_OBJS",
				    "vm objects",   "vm pages array", "kext.kalloc.16384"};

static const int tz_choices[] = {-420, -300, -240, 0, 60, 120, 330, 480, 540};

int gen_parse_os_version(const char *v, int *major, int *minor)
{
	char *end;
	long ma, mi = 0;

	if (!v || !isdigit((unsigned char)*v))
		return -EINVAL;
	errno = 0;
	ma = strtol(v, &end, 10);
	if (errno || ma < 1 || ma > 99)
		return -EINVAL;
	if (*end == '.') {
		if (!isdigit((unsigned char)end[1]))
			return -EINVAL;
		mi = strtol(end + 1, &end, 10);
		if (mi < 0 || mi > 99)
			return -EINVAL;
		if (*end == '.') {
			if (!isdigit((unsigned char)end[1]))
				return -EINVAL;
			(void)strtol(end + 1, &end, 10);
		}
	}
	if (*end)
		return -EINVAL;
	*major = (int)ma;
	*minor = (int)mi;
	return 0;
}

enum gen_variant gen_variant_for_os(int major)
{
	if (major <= 10)
		return GEN_VARIANT_J1;
	if (major <= 14)
		return GEN_VARIANT_J2;
	if (major <= 16)
		return GEN_VARIANT_J3;
	return GEN_VARIANT_J4;
}

const char *gen_variant_name(enum gen_variant v)
{
	switch (v) {
	case GEN_VARIANT_J1:
		return "J1";
	case GEN_VARIANT_J2:
		return "J2";
	case GEN_VARIANT_J3:
		return "J3";
	case GEN_VARIANT_J4:
		return "J4";
	}
	return "unknown";
}

int gen_variant_from_name(const char *s, enum gen_variant *out)
{
	for (int v = GEN_VARIANT_J1; v <= GEN_VARIANT_J4; v++) {
		if (!strcmp(s, gen_variant_name((enum gen_variant)v))) {
			*out = (enum gen_variant)v;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *const role_names[] = {
	[GEN_ROLE_FOREGROUND] = "foreground",
	[GEN_ROLE_DAEMON] = "daemon",
	[GEN_ROLE_BACKGROUND] = "background",
	[GEN_ROLE_EXTENSION] = "extension",
};

const char *gen_role_name(enum gen_role r)
{
	return role_names[r];
}

int gen_role_from_name(const char *s, enum gen_role *out)
{
	for (int i = 0; i < 4; i++) {
		if (!strcmp(s, role_names[i])) {
			*out = (enum gen_role)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	char *end;
	long long v;

	if (!*s || !(isdigit((unsigned char)*s) || *s == '-'))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

int gen_kill_parse(const char *spec, struct gen_kill *out, char *err, size_t errsize)
{
	char tmp[256];
	char *field[6];
	int n = 0;
	char *s, *colon;

	if (strlen(spec) >= sizeof(tmp)) {
		snprintf(err, errsize, "kill spec too long: '%.40s...'", spec);
		return -EINVAL;
	}
	strcpy(tmp, spec);
	s = tmp;
	while (n < 6) {
		field[n++] = s;
		colon = strchr(s, ':');
		if (!colon)
			break;
		*colon = '\0';
		s = colon + 1;
	}
	if (n < 4 || n > 5) {
		snprintf(err, errsize, "bad kill spec '%s': want NAME:ROLE:REASON:RPAGES[:PID]",
			 spec);
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	if (!*field[0] || strlen(field[0]) >= sizeof(out->name)) {
		snprintf(err, errsize, "bad process name in kill spec '%s'", spec);
		return -EINVAL;
	}
	strcpy(out->name, field[0]);
	if (gen_role_from_name(field[1], &out->role) < 0) {
		snprintf(err, errsize,
			 "bad role '%s' in kill spec: want foreground, daemon, background or "
			 "extension",
			 field[1]);
		return -EINVAL;
	}
	if (!*field[2] || strlen(field[2]) >= sizeof(out->reason)) {
		snprintf(err, errsize, "bad reason in kill spec '%s'", spec);
		return -EINVAL;
	}
	strcpy(out->reason, field[2]);
	if (parse_i64(field[3], 0, INT64_C(1) << 40, &out->rpages) < 0) {
		snprintf(err, errsize, "bad rpages '%s' in kill spec", field[3]);
		return -EINVAL;
	}
	if (n == 5 && parse_i64(field[4], 1, INT32_MAX, &out->pid) < 0) {
		snprintf(err, errsize, "bad pid '%s' in kill spec", field[4]);
		return -EINVAL;
	}
	return 0;
}

static int parse_digits(const char **s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return -EINVAL;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*out = v;
	return 0;
}

int gen_parse_time(const char *str, int64_t *epoch, int *centis, int *tz_minutes)
{
	const char *s = str;
	int y, mo, d, h, mi, se, cs = 0, tz = 0;
	struct tm tm;

	if (parse_digits(&s, 4, &y) || *s++ != '-' || parse_digits(&s, 2, &mo) || *s++ != '-' ||
	    parse_digits(&s, 2, &d) || (*s != 'T' && *s != ' '))
		return -EINVAL;
	s++;
	if (parse_digits(&s, 2, &h) || *s++ != ':' || parse_digits(&s, 2, &mi) || *s++ != ':' ||
	    parse_digits(&s, 2, &se))
		return -EINVAL;
	if (*s == '.') {
		int scale = 10;

		s++;
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		while (isdigit((unsigned char)*s)) {
			if (scale >= 1) {
				cs += (*s - '0') * scale;
				scale /= 10;
			}
			s++;
		}
	}
	if (*s == ' ')
		s++;
	if (*s == 'Z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s == '-' ? -1 : 1, th, tm_;

		s++;
		if (parse_digits(&s, 2, &th))
			return -EINVAL;
		if (*s == ':')
			s++;
		if (parse_digits(&s, 2, &tm_) || th > 23 || tm_ > 59)
			return -EINVAL;
		tz = sign * (th * 60 + tm_);
	}
	if (*s)
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 || y < 1970)
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	*epoch = (int64_t)timegm(&tm) - (int64_t)tz * 60;
	*centis = cs;
	*tz_minutes = tz;
	return 0;
}

void gen_format_time(char *out, size_t size, int64_t epoch, int tz, int centis)
{
	time_t local = (time_t)(epoch + (int64_t)tz * 60);
	struct tm tm;
	int a = tz < 0 ? -tz : tz;

	gmtime_r(&local, &tm);
	if (centis >= 0)
		snprintf(out, size, "%04d-%02d-%02d %02d:%02d:%02d.%02d %c%02d%02d",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, centis, tz < 0 ? '-' : '+', a / 60, a % 60);
	else
		snprintf(out, size, "%04d-%02d-%02d-%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void gen_report_file_stamp(const struct gen_report *r, char *out, size_t size)
{
	gen_format_time(out, size, r->epoch, r->tz_minutes, -1);
}

/* truncate to at most max bytes without splitting a UTF-8 sequence */
static void copy_name(char *dst, const char *src, int max)
{
	size_t n = strlen(src);

	if (n > (size_t)max) {
		n = (size_t)max;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	if (n >= GEN_NAME_MAX)
		n = GEN_NAME_MAX - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void make_uuid(char *out, const char *name, uint64_t salt)
{
	uint64_t a = gen_hash(name, salt), b = gen_hash(name, salt ^ 0x5bd1e995u);

	snprintf(out, 37, "%08x-%04x-3%03x-%x%03x-%012llx", (unsigned)(a >> 32),
		 (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff, 8 + (unsigned)(b >> 62),
		 (unsigned)(b >> 48) & 0xfff, (unsigned long long)(b & 0xffffffffffffULL));
}

static void random_hex(struct gen_rng *rng, char *out, size_t n, bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";

	for (size_t i = 0; i < n; i++)
		out[i] = digits[gen_rng_below(rng, 16)];
	out[n] = '\0';
}

static void random_incident(struct gen_rng *rng, char *out)
{
	random_hex(rng, out, 36, true);
	out[8] = out[13] = out[18] = out[23] = '-';
	out[14] = '4';
	out[19] = "89AB"[gen_rng_below(rng, 4)];
}

static int check_incident(const char *s, char *out)
{
	if (strlen(s) != 36)
		return -EINVAL;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return -EINVAL;
		out[i] = (char)toupper((unsigned char)s[i]);
	}
	out[36] = '\0';
	return 0;
}

static int64_t take_pid(struct builder *b, int64_t lo, int64_t hi)
{
	for (;;) {
		int64_t pid = gen_rng_range(&b->rng, lo, hi);

		if (!(b->pid_used[pid >> 3] & (1u << (pid & 7)))) {
			b->pid_used[pid >> 3] |= (unsigned char)(1u << (pid & 7));
			return pid;
		}
	}
}

/* priority band: old scale 0..21 before iOS 16, new 0..210 from iOS 16 */
static int64_t band(const struct gen_report *r, int old_band)
{
	if (r->os_major < 16)
		return old_band;
	if (old_band == 7) /* FREEZER exists only on the new scale */
		return 75;
	return old_band * 10;
}

static void fill_common(struct builder *b, struct gen_proc *pr, enum gen_kind kind, int size_kb)
{
	struct gen_report *r = b->r;
	struct gen_rng *rng = &b->rng;
	int64_t kb = size_kb > 0 ? size_kb : 2000;
	int64_t bytes = kb * 1024 * gen_rng_range(rng, 40, 160) / 100;

	make_uuid(pr->uuid, pr->name, b->uuid_salt);
	pr->rpages = bytes / r->page_size;
	if (pr->rpages < 1)
		pr->rpages = 1;
	pr->lifetime_max = pr->rpages * gen_rng_range(rng, 100, 250) / 100;
	pr->purgeable = gen_rng_chance(rng, 10) ? gen_rng_range(rng, 1, 400) : 0;
	if (kind == GEN_KIND_DAEMON)
		pr->fds = r->os_major >= 13 ? (gen_rng_chance(rng, 80) ? 25 : 50)
					    : (gen_rng_chance(rng, 85) ? 50 : 100);
	else
		pr->fds = gen_rng_chance(rng, 50) ? 50 : (gen_rng_chance(rng, 50) ? 100 : 200);
	pr->coalition = gen_rng_range(rng, 40, 4000);
	pr->age = b->uptime_ticks - gen_rng_range(rng, 1000, b->uptime_ticks - 1);
	pr->cpu_us =
		(uint64_t)gen_rng_range(rng, 2000, kind == GEN_KIND_DAEMON ? 60000000 : 900000000);
	if (gen_rng_chance(rng, 3))
		pr->cpu_us = 0;
	pr->has_phys = r->os_major >= 14;
	pr->phys[0] = pr->rpages * gen_rng_range(rng, 1, 90) / 100;
	pr->phys[1] = pr->rpages - pr->phys[0] - pr->rpages * gen_rng_range(rng, 0, 10) / 100;
	if (pr->phys[1] < 0)
		pr->phys[1] = 0;
	pr->frozen_to_swap = -1;
	pr->cs_flags = kind == GEN_KIND_DAEMON ? (gen_rng_chance(rng, 70) ? 570434305 : 838885381)
					       : 570450689;
	pr->cs_trust = kind == GEN_KIND_DAEMON ? b->cs_trust_platform : 7;
	pr->mem_regions = gen_rng_range(rng, 40, kind == GEN_KIND_DAEMON ? 300 : 2000);
	pr->freeze_skip = b->freeze_skip;
}

static void fill_bystander(struct builder *b, struct gen_proc *pr, const char *name,
			   enum gen_kind kind, int size_kb)
{
	struct gen_report *r = b->r;
	struct gen_rng *rng = &b->rng;

	copy_name(pr->name, name, b->name_max);
	fill_common(b, pr, kind, size_kb);
	pr->pid = take_pid(b, 30, r->os_major <= 10 ? 30000 : PID_SPACE - 1);
	if (kind == GEN_KIND_DAEMON) {
		bool big = size_kb >= 14000 || !strcmp(name, "launchd");

		if (!big && gen_rng_chance(rng, 65)) {
			pr->states = GEN_ST_DAEMON | GEN_ST_IDLE;
			pr->priority = 0;
		} else {
			static const int bands[] = {10, 12, 14, 16, 18, 19, 20};

			pr->states = GEN_ST_DAEMON;
			pr->priority = band(r, bands[gen_rng_below(rng, 7)]);
			if (!strcmp(name, "SpringBoard"))
				pr->priority = band(r, 16);
			else if (!strcmp(name, "backboardd"))
				pr->priority = band(r, 19);
		}
	} else {
		if (gen_rng_chance(rng, 85)) {
			pr->states = GEN_ST_SUSPENDED;
			pr->priority =
				r->os_major >= 16 && gen_rng_chance(rng, 20) ? band(r, 7) : 0;
			if (r->os_major >= 16 && kind == GEN_KIND_APP && gen_rng_chance(rng, 30))
				pr->frozen_to_swap = gen_rng_range(rng, 0, pr->rpages);
		} else {
			pr->states = GEN_ST_BACKGROUND;
			if (gen_rng_chance(rng, 20))
				pr->states |= GEN_ST_AUDIO;
			pr->priority = band(r, 3);
		}
	}
	pr->has_idle_delta =
		(pr->states & (GEN_ST_IDLE | GEN_ST_SUSPENDED)) || gen_rng_chance(rng, 8);
	pr->idle_delta = pr->has_idle_delta ? gen_rng_range(rng, 4, 9000000000LL) : 0;
}

static bool reason_is_limit(const char *reason)
{
	return !strcmp(reason, "per-process-limit");
}

static void fill_victim(struct builder *b, struct gen_proc *pr, const struct gen_kill *k)
{
	struct gen_report *r = b->r;
	struct gen_rng *rng = &b->rng;
	bool limit = reason_is_limit(k->reason);
	enum gen_kind kind =
		k->role == GEN_ROLE_DAEMON
			? GEN_KIND_DAEMON
			: (k->role == GEN_ROLE_EXTENSION ? GEN_KIND_EXTENSION : GEN_KIND_APP);

	copy_name(pr->name, k->name, b->name_max);
	fill_common(b, pr, kind, 1000);
	if (k->pid > 0)
		pr->pid = k->pid; /* reserved before the bystanders took theirs */
	else
		pr->pid = take_pid(b, 30, r->os_major <= 10 ? 30000 : PID_SPACE - 1);
	pr->rpages = k->rpages;
	pr->lifetime_max = k->rpages + (limit ? gen_rng_range(rng, 0, 64) : k->rpages / 4);
	pr->phys[0] = k->rpages * gen_rng_range(rng, 60, 95) / 100;
	pr->phys[1] = k->rpages - pr->phys[0];
	pr->has_idle_delta = false;
	switch (k->role) {
	case GEN_ROLE_FOREGROUND:
		pr->states = GEN_ST_FRONTMOST | GEN_ST_RESUME;
		pr->priority = band(r, 10);
		pr->fds = 200;
		break;
	case GEN_ROLE_DAEMON:
		if (limit) {
			pr->states = GEN_ST_DAEMON;
			pr->priority = band(r, 18);
		} else {
			pr->states = GEN_ST_DAEMON | GEN_ST_IDLE;
			pr->priority = 0;
			pr->has_idle_delta = true;
		}
		break;
	case GEN_ROLE_BACKGROUND:
	case GEN_ROLE_EXTENSION:
		if (limit) {
			pr->states = GEN_ST_BACKGROUND;
			pr->priority = band(r, 3);
		} else {
			pr->states = GEN_ST_SUSPENDED;
			pr->priority = 0;
			pr->has_idle_delta = true;
		}
		break;
	}
	pr->idle_delta = pr->has_idle_delta ? gen_rng_range(rng, 4, 900000000LL) : 0;
	pr->killed = true;
	snprintf(pr->reason, sizeof(pr->reason), "%s", k->reason);
	pr->kill_delta = gen_rng_range(rng, 2941, 461758);
	pr->gen_count = r->gen_counter;
}

static void fill_memory(struct builder *b)
{
	struct gen_report *r = b->r;
	struct gen_rng *rng = &b->rng;
	int64_t ram_pages = (int64_t)gen_product_ram_mb(r->product) * 1048576 / r->page_size;

	r->mp_wired = ram_pages * gen_rng_range(rng, 12, 20) / 100;
	r->mp_active = ram_pages * gen_rng_range(rng, 25, 40) / 100;
	r->mp_inactive = ram_pages * gen_rng_range(rng, 18, 30) / 100;
	r->mp_free = ram_pages * gen_rng_range(rng, 5, 30) / 1000;
	r->mp_speculative = ram_pages * gen_rng_range(rng, 2, 20) / 1000;
	r->mp_throttled = 0;
	r->mp_purgeable =
		gen_rng_chance(rng, 30) ? 0 : ram_pages * gen_rng_range(rng, 1, 20) / 1000;
	r->mp_anonymous = r->mp_active * gen_rng_range(rng, 95, 125) / 100;
	r->mp_file_backed = r->mp_inactive * gen_rng_range(rng, 80, 100) / 100;
	r->compressor_size = ram_pages * gen_rng_range(rng, 2, 12) / 100;
	r->uncompressed = r->compressor_size * gen_rng_range(rng, 200, 400) / 100;
	r->compressions = gen_rng_range(rng, 100000, 150000000);
	r->decompressions = r->compressions * gen_rng_range(rng, 45, 80) / 100;
	r->zone_map_cap = ((int64_t)gen_product_ram_mb(r->product) * 1048576 * 35 / 100) & ~16383LL;
	r->zone_map_size = r->zone_map_cap * gen_rng_range(rng, 6, 18) / 100;
	r->largest_zone = zones[gen_rng_below(rng, sizeof(zones) / sizeof(zones[0]))];
	r->largest_zone_size = gen_rng_range(rng, 30000000, 45000000) & ~4095LL;
}

static int default_procs(struct gen_rng *rng, int major)
{
	if (major <= 10)
		return (int)gen_rng_range(rng, 115, 140);
	if (major <= 13)
		return (int)gen_rng_range(rng, 180, 260);
	return (int)gen_rng_range(rng, 420, 470);
}

static void default_kill(struct builder *b, struct gen_kill *k)
{
	struct gen_report *r = b->r;
	size_t n;
	const char *const *apps = gen_app_names(&n);
	int64_t bytes = (int64_t)gen_product_limit_mb(r->product) * 1048576;

	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", apps[gen_rng_below(&b->rng, n)]);
	k->role = GEN_ROLE_FOREGROUND;
	snprintf(k->reason, sizeof(k->reason), "per-process-limit");
	bytes += gen_rng_range(&b->rng, -(1 << 19), 1 << 19);
	k->rpages = bytes / r->page_size;
}

static void choose_name(struct builder *b, size_t *next, const struct gen_catalog_entry *cat,
			size_t ncat, const char **name, enum gen_kind *kind, int *size_kb)
{
	struct gen_rng *rng = &b->rng;
	size_t nmulti;
	const char *const *multi = gen_multi_instance_names(&nmulti);
	static char synth[GEN_NAME_MAX];

	while (*next < ncat) {
		const struct gen_catalog_entry *e = &cat[(*next)++];

		if (e->min_major <= b->r->os_major) {
			*name = e->name;
			*kind = e->kind;
			*size_kb = e->size_kb;
			return;
		}
	}
	if (gen_rng_chance(rng, 25)) {
		*name = multi[gen_rng_below(rng, nmulti)];
		*kind = GEN_KIND_DAEMON;
		*size_kb = 4000;
		if (strstr(*name, "WebContent") || strstr(*name, "Extension")) {
			*kind = GEN_KIND_EXTENSION;
			*size_kb = 30000;
		}
		return;
	}
	const char *base =
		synth_bases[gen_rng_below(rng, sizeof(synth_bases) / sizeof(synth_bases[0]))];
	const char *suffix = synth_suffixes[gen_rng_below(rng, sizeof(synth_suffixes) /
								       sizeof(synth_suffixes[0]))];

	snprintf(synth, sizeof(synth), "%s%s", base, suffix);
	*name = synth;
	*kind = *suffix ? GEN_KIND_EXTENSION : GEN_KIND_APP;
	*size_kb = *suffix ? 6000 : 60000;
}

int gen_report_build(const struct gen_params *p, struct gen_report *r, char *err, size_t errsize)
{
	struct builder b;
	const struct gen_kill *kills = p->kills;
	size_t n_kills = p->n_kills, n, ncat, next = 0;
	const struct gen_catalog_entry *cat = gen_catalog(&ncat);
	size_t *slot;
	bool has_front = false;

	memset(r, 0, sizeof(*r));
	memset(&b, 0, sizeof(b));
	b.r = r;
	if (!p->product || !*p->product || strlen(p->product) >= sizeof(r->product)) {
		snprintf(err, errsize, "bad product '%s'", p->product ? p->product : "");
		return -EINVAL;
	}
	if (!p->build || !*p->build || strlen(p->build) >= sizeof(r->build)) {
		snprintf(err, errsize, "bad build '%s'", p->build ? p->build : "");
		return -EINVAL;
	}
	if (!p->os_version || strlen(p->os_version) >= sizeof(r->os_version) ||
	    gen_parse_os_version(p->os_version, &r->os_major, &r->os_minor) < 0 ||
	    r->os_major < 9) {
		snprintf(err, errsize, "bad os version '%s': want 9.0 or later, e.g. 15.5",
			 p->os_version ? p->os_version : "");
		return -EINVAL;
	}
	snprintf(r->product, sizeof(r->product), "%s", p->product);
	snprintf(r->os_version, sizeof(r->os_version), "%s", p->os_version);
	snprintf(r->build, sizeof(r->build), "%s", p->build);
	snprintf(r->build_line, sizeof(r->build_line), "iPhone OS %s (%s)", r->os_version,
		 r->build);
	r->variant = p->variant ? p->variant : gen_variant_for_os(r->os_major);
	r->page_size = p->page_size ? p->page_size : gen_product_default_page_size(p->product);
	if (r->page_size != 4096 && r->page_size != 16384) {
		snprintf(err, errsize, "bad page size %d: want 4096 or 16384", r->page_size);
		return -EINVAL;
	}
	r->hash_order = r->variant == GEN_VARIANT_J1 && r->os_major == 9 &&
			gen_product_is_32bit(r->product);

	gen_rng_init(&b.rng, p->seed ^ gen_hash(r->product, 1) ^ gen_hash(r->build, 2));
	b.name_max = r->os_major <= 9 ? 16 : 32;
	b.uuid_salt = gen_hash(r->build, 3);
	b.freeze_skip = freeze_skips[gen_rng_below(&b.rng, 3)];
	b.cs_trust_platform = gen_rng_chance(&b.rng, 50) ? 8 : 0;
	b.uptime_ticks = gen_rng_range(&b.rng, 2000000000LL, 8000000000000LL);

	if (p->incident) {
		if (check_incident(p->incident, r->incident) < 0) {
			snprintf(err, errsize, "bad incident '%s': want a UUID", p->incident);
			return -EINVAL;
		}
	} else {
		random_incident(&b.rng, r->incident);
	}
	if (p->crash_reporter_key)
		snprintf(r->crash_reporter_key, sizeof(r->crash_reporter_key), "%s",
			 p->crash_reporter_key);
	else
		random_hex(&b.rng, r->crash_reporter_key, 40, false);
	gen_kernel_string(r->kernel, sizeof(r->kernel), r->product, r->os_major, r->os_minor);

	/* time: header with centiseconds (".00" from iOS 16), body date a little earlier */
	int centis;

	if (p->has_time) {
		r->epoch = p->epoch;
		r->tz_minutes = p->tz_minutes;
		centis = p->centis;
	} else {
		/* a day in the year after the release of that iOS */
		int64_t base = (int64_t)(2007 + r->os_major - 1970) * 31556952 - 90 * 86400 +
			       (int64_t)r->os_minor * 25 * 86400;

		r->epoch = base + gen_rng_range(&b.rng, 0, 330LL * 86400);
		r->tz_minutes = tz_choices[gen_rng_below(&b.rng, sizeof(tz_choices) / sizeof(int))];
		centis = (int)gen_rng_below(&b.rng, 100);
	}
	if (r->os_major == 9) /* iOS 9 prints the seconds again where the centiseconds go */
		centis = (int)(((r->epoch % 60) + 60) % 60);
	{
		int body_cs = centis, hdr_cs = centis;

		if (r->os_major >= 16)
			hdr_cs = 0;
		else if (r->os_major > 9 && centis >= 2 && gen_rng_chance(&b.rng, 30))
			body_cs = centis - (int)gen_rng_range(&b.rng, 1, 2);
		gen_format_time(r->header_timestamp, sizeof(r->header_timestamp), r->epoch,
				r->tz_minutes, hdr_cs);
		gen_format_time(r->body_date, sizeof(r->body_date), r->epoch, r->tz_minutes,
				body_cs);
	}
	r->time_delta = gen_rng_chance(&b.rng, 90) ? gen_rng_range(&b.rng, 2, 12)
						   : gen_rng_range(&b.rng, 13, 4410);
	r->gen_counter = r->os_major >= 10 ? (gen_rng_chance(&b.rng, 50) ? 1 : 0) : 0;
	fill_memory(&b);

	if (n_kills == 0) {
		default_kill(&b, &r->default_kill);
		kills = &r->default_kill;
		n_kills = 1;
	}
	n = p->n_procs > 0 ? (size_t)p->n_procs : (size_t)default_procs(&b.rng, r->os_major);
	if (n < n_kills) {
		snprintf(err, errsize, "%zu processes cannot hold %zu kills", n, n_kills);
		return -EINVAL;
	}
	if (n > GEN_MAX_PROCS) {
		snprintf(err, errsize, "too many processes: %zu (at most %d)", n, GEN_MAX_PROCS);
		return -EINVAL;
	}
	b.pid_used = calloc(PID_SPACE / 8 + 1, 1);
	r->procs = calloc(n, sizeof(*r->procs));
	slot = calloc(n, sizeof(*slot));
	if (!b.pid_used || !r->procs || !slot) {
		free(b.pid_used);
		free(slot);
		gen_report_release(r);
		snprintf(err, errsize, "out of memory");
		return -ENOMEM;
	}
	r->n_procs = n;
	/* reserve the pids the caller chose */
	for (size_t i = 0; i < n_kills; i++) {
		int64_t pid = kills[i].pid;

		if (kills[i].role == GEN_ROLE_FOREGROUND)
			has_front = true;
		if (pid <= 0 || pid >= PID_SPACE)
			continue;
		if (b.pid_used[pid >> 3] & (1u << (pid & 7))) {
			snprintf(err, errsize, "pid %lld is given to two kills", (long long)pid);
			free(b.pid_used);
			free(slot);
			gen_report_release(r);
			return -EINVAL;
		}
		b.pid_used[pid >> 3] |= (unsigned char)(1u << (pid & 7));
	}
	/* shuffled order of the entries: slot[i] is where the i-th generated process goes */
	for (size_t i = 0; i < n; i++)
		slot[i] = i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)gen_rng_below(&b.rng, i + 1), t = slot[i];

		slot[i] = slot[j];
		slot[j] = t;
	}
	for (size_t i = 0; i < n_kills; i++)
		fill_victim(&b, &r->procs[slot[i]], &kills[i]);
	for (size_t i = n_kills; i < n; i++) {
		const char *name;
		enum gen_kind kind;
		int size_kb;
		struct gen_proc *pr = &r->procs[slot[i]];

		choose_name(&b, &next, cat, ncat, &name, &kind, &size_kb);
		fill_bystander(&b, pr, name, kind, size_kb);
		if (!has_front && kind == GEN_KIND_APP) {
			/* someone is always frontmost */
			pr->states = GEN_ST_FRONTMOST | GEN_ST_RESUME;
			pr->priority = band(r, 10);
			pr->has_idle_delta = false;
			pr->frozen_to_swap = -1;
			has_front = true;
		}
	}
	free(slot);
	free(b.pid_used);
	r->largest = 0;
	for (size_t i = 1; i < n; i++)
		if (r->procs[i].rpages > r->procs[r->largest].rpages)
			r->largest = i;
	return 0;
}

void gen_report_release(struct gen_report *r)
{
	if (!r)
		return;
	free(r->procs);
	r->procs = NULL;
	r->n_procs = 0;
}
