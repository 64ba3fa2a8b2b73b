/* gen.h: internal interfaces of jetsamgen, the realistic JetsamEvent report generator */
#ifndef JETSAMD_GEN_H
#define JETSAMD_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * DESIGN
 * jetsamgen builds one struct gen_report in memory (report.c), from a struct gen_params
 * and a deterministic random stream (rng.c), then serialises it the way the phone does
 * (writer.c): a compact header line plus an NSJSONSerialization-style pretty body whose key
 * orders follow the OS version (see tests/data/corpus/SOURCES.md). The same model is
 * written as "truth": the kill events `jetsamctl parse --json` must find in the report.
 * phone.c fills a devsim DEVICE_DIR with many such reports. Nothing here parses JSON.
 */

/* --- growable output buffer (writer.c) --- */
struct gen_buf {
	char *p;
	size_t len, cap;
};

void gen_buf_release(struct gen_buf *b);
void gen_buf_reserve(struct gen_buf *b, size_t more);
void gen_buf_put(struct gen_buf *b, const char *s, size_t n);
void gen_buf_puts(struct gen_buf *b, const char *s);
void gen_buf_putc(struct gen_buf *b, char c);
void gen_buf_int(struct gen_buf *b, int64_t v);
void gen_buf_printf(struct gen_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* JSON string with quotes; escape_slash writes '/' as "\/" the way NSJSONSerialization does */
void gen_buf_json_str(struct gen_buf *b, const char *s, bool escape_slash);
int gen_buf_write_file(const struct gen_buf *b, const char *path); /* 0 or -errno */

/* --- deterministic random numbers (rng.c) --- */
struct gen_rng {
	uint64_t s[4];
};

void gen_rng_init(struct gen_rng *r, uint64_t seed);
uint64_t gen_rng_next(struct gen_rng *r);
uint64_t gen_rng_below(struct gen_rng *r, uint64_t n);		  /* 0 .. n-1; n == 0 gives 0 */
int64_t gen_rng_range(struct gen_rng *r, int64_t lo, int64_t hi); /* lo .. hi inclusive */
bool gen_rng_chance(struct gen_rng *r, unsigned percent);
uint64_t gen_hash(const char *s, uint64_t salt); /* stable 64-bit hash of a string */

/* --- catalogs of names, products and kernels (catalog.c) --- */
enum gen_kind {
	GEN_KIND_DAEMON,
	GEN_KIND_APP,
	GEN_KIND_EXTENSION,
};

struct gen_catalog_entry {
	const char *name;
	enum gen_kind kind;
	int size_kb;   /* typical footprint, 0 = small default */
	int min_major; /* first iOS major that has it, 0 = always */
};

const struct gen_catalog_entry *gen_catalog(size_t *n);
const char *const *gen_multi_instance_names(size_t *n); /* names seen several times per report */
const char *const *gen_app_names(size_t *n);		/* frontmost app candidates */
const char *const *gen_extension_names(size_t *n);	/* extension victim candidates */
int gen_product_default_page_size(const char *product); /* 4096 or 16384 */
int gen_product_limit_mb(const char *product);		/* plausible foreground app limit */
int gen_product_ram_mb(const char *product);
bool gen_product_is_32bit(const char *product);
const char *gen_product_soc(const char *product); /* "T8030", "S5L8950X" */
void gen_kernel_string(char *out, size_t size, const char *product, int os_major, int os_minor);

/* --- the report model (report.c) --- */
enum gen_variant {
	GEN_VARIANT_J1 = 1,
	GEN_VARIANT_J2,
	GEN_VARIANT_J3,
	GEN_VARIANT_J4,
};

enum gen_role {
	GEN_ROLE_FOREGROUND,
	GEN_ROLE_DAEMON,
	GEN_ROLE_BACKGROUND,
	GEN_ROLE_EXTENSION,
};

/* states bits, written in this order */
enum {
	GEN_ST_DAEMON = 1u << 0,
	GEN_ST_IDLE = 1u << 1,
	GEN_ST_SUSPENDED = 1u << 2,
	GEN_ST_FRONTMOST = 1u << 3,
	GEN_ST_BACKGROUND = 1u << 4,
	GEN_ST_RESUME = 1u << 5,
	GEN_ST_AUDIO = 1u << 6,
};

#define GEN_NAME_MAX  64
#define GEN_MAX_PROCS 20000 /* pids stay unique below 30000 */

struct gen_kill {
	char name[GEN_NAME_MAX];
	enum gen_role role;
	char reason[64];
	int64_t rpages;
	int64_t pid; /* 0 = choose one */
};

struct gen_proc {
	char name[GEN_NAME_MAX];
	char uuid[37];
	int64_t pid;
	unsigned states;
	int64_t rpages, lifetime_max, purgeable, fds, coalition, age;
	bool has_idle_delta;
	int64_t idle_delta;
	int64_t priority;
	uint64_t cpu_us;
	bool has_phys;
	int64_t phys[2];
	int64_t frozen_to_swap; /* < 0: absent */
	int64_t cs_flags, cs_trust, mem_regions;
	const char *freeze_skip; /* static string */
	bool killed;
	char reason[64]; /* set when killed */
	int64_t kill_delta, gen_count;
};

struct gen_params {
	const char *product;
	const char *os_version;	  /* "15.5" */
	const char *build;	  /* "19F77" */
	int page_size;		  /* 0 = from product */
	enum gen_variant variant; /* 0 = from os_version */
	int n_procs;		  /* 0 = typical for the OS */
	uint64_t seed;
	const char *incident; /* NULL = random */
	bool has_time;
	int64_t epoch;			/* UTC seconds */
	int centis;			/* 0..99 */
	int tz_minutes;			/* offset east of UTC */
	const char *crash_reporter_key; /* NULL = derived from the seed */
	struct gen_kill *kills;
	size_t n_kills; /* 0 = one default per-process-limit kill of a frontmost app */
};

struct gen_report {
	enum gen_variant variant;
	int os_major, os_minor;
	bool hash_order; /* iOS 9 32-bit devices: keys in hash order */
	int page_size;
	char product[32];
	char os_version[32];
	char build[32];
	char build_line[96]; /* "iPhone OS 15.5 (19F77)" */
	char incident[37];
	char crash_reporter_key[41];
	char kernel[200];
	char header_timestamp[64];
	char body_date[64];
	int64_t epoch; /* UTC seconds of the report */
	int tz_minutes;
	int64_t time_delta;
	int64_t gen_counter;
	/* memoryStatus */
	int64_t mp_free, mp_active, mp_inactive, mp_speculative, mp_throttled, mp_wired;
	int64_t mp_purgeable, mp_file_backed, mp_anonymous;
	int64_t compressor_size, uncompressed, compressions, decompressions;
	int64_t zone_map_cap, zone_map_size, largest_zone_size;
	const char *largest_zone;
	struct gen_kill default_kill; /* used when params has no kills */
	struct gen_proc *procs;
	size_t n_procs;
	size_t largest; /* index of the process with the most rpages */
};

int gen_parse_os_version(const char *v, int *major, int *minor); /* 0 or -EINVAL */
enum gen_variant gen_variant_for_os(int major);
const char *gen_variant_name(enum gen_variant v);
int gen_variant_from_name(const char *s, enum gen_variant *out);
const char *gen_role_name(enum gen_role r); /* CLI spelling */
int gen_role_from_name(const char *s, enum gen_role *out);
/* parse NAME:ROLE:REASON:RPAGES[:PID]; err gets a message on failure */
int gen_kill_parse(const char *spec, struct gen_kill *out, char *err, size_t errsize);
/* parse an ISO-8601 time such as 2024-01-02T10:11:12.34+01:00 */
int gen_parse_time(const char *s, int64_t *epoch, int *centis, int *tz_minutes);

int gen_report_build(const struct gen_params *p, struct gen_report *out, char *err, size_t errsize);
void gen_report_release(struct gen_report *r);
/* local time: "YYYY-MM-DD HH:MM:SS.cc +hhmm", or with centis < 0 "YYYY-MM-DD-HHMMSS" */
void gen_format_time(char *out, size_t size, int64_t epoch, int tz_minutes, int centis);
/* local time of the report as "YYYY-MM-DD-HHMMSS" for file names */
void gen_report_file_stamp(const struct gen_report *r, char *out, size_t size);

/* --- serialisation (writer.c) --- */
void gen_write_report(const struct gen_report *r, struct gen_buf *b);
void gen_write_truth(const struct gen_report *r, struct gen_buf *b);	    /* JSON lines */
void gen_write_report_facts(const struct gen_report *r, struct gen_buf *b); /* one object */
/* writes FILE, and when truth is set, truth and truth.report.json; 0 or -errno */
int gen_write_files(const struct gen_report *r, const char *path, const char *truth);

/* --- simulated phone directories (phone.c) --- */
struct gen_phone_params {
	const char *dir;
	const char *udid;
	const char *product, *os_version, *build, *name;
	const char *truth_dir; /* NULL = none */
	int n_reports, n_pending;
	uint64_t seed;
	bool retired, synced;
	int processes; /* 0 = typical */
};

int gen_phone_make(const struct gen_phone_params *p, char *err, size_t errsize);

#endif
