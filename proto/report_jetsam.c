/* report_jetsam.c: the JetsamEvent JSON body (bug_type 298, layouts J1-J4) */
#include <errno.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "report_internal.h"

struct proc_fields {
	const cJSON *name, *pid, *uuid, *reason, *states, *priority, *rpages, *lifetime;
};

/* The field of a process entry that key names (NULL for the others), by its first letter:
 * one strcmp per key, as the walk over hundreds of entries is the parser's own hot loop. */
static const cJSON **proc_slot(struct proc_fields *f, const char *k, int *j3)
{
	const cJSON **slot = NULL;
	const char *want = NULL;

	if (k == NULL)
		return NULL;
	switch (k[0]) {
	case 'n':
		want = "name", slot = &f->name;
		break;
	case 'p':
		if (k[1] == 'i')
			want = "pid", slot = &f->pid;
		else
			want = "priority", slot = &f->priority;
		break;
	case 'u':
		want = "uuid", slot = &f->uuid;
		break;
	case 'r':
		if (k[1] == 'e')
			want = "reason", slot = &f->reason;
		else
			want = "rpages", slot = &f->rpages;
		break;
	case 's':
		want = "states", slot = &f->states;
		break;
	case 'l':
		want = "lifetimeMax", slot = &f->lifetime;
		break;
	case 'f':
		*j3 |= strcmp(k, "freeze_skip_reason:") == 0;
		return NULL;
	case 'c':
		*j3 |= strcmp(k, "csFlags") == 0 || strcmp(k, "csTrustLevel") == 0;
		return NULL;
	case 'm':
		*j3 |= strcmp(k, "mem_regions") == 0;
		return NULL;
	default:
		return NULL;
	}
	return strcmp(k, want) == 0 ? slot : NULL;
}

/* Fill f from every member of the process entry p (first occurrence of a key wins).
 * Returns 1 when the entry has a string reason, else 0. */
static int proc_walk(const cJSON *p, struct proc_fields *f, int *j3)
{
	memset(f, 0, sizeof(*f));
	for (const cJSON *it = p->child; it != NULL; it = it->next) {
		const cJSON **slot = proc_slot(f, it->string, j3);

		if (slot != NULL && *slot == NULL)
			*slot = it;
	}
	if (f->reason != NULL && !cJSON_IsString(f->reason))
		f->reason = NULL; /* a reason is a string in every layout seen */
	return f->reason != NULL;
}

static int event_from_process(struct report *r, const struct proc_fields *f, int64_t page_size)
{
	struct report_event *ev;
	int rc;

	ev = report_event_add(r);
	if (ev == NULL)
		return -ENOMEM;
	if ((rc = report_cjson_str(f->name, &ev->process)) ||
	    (rc = report_cjson_str(f->uuid, &ev->uuid)))
		return rc;
	if ((rc = report_cjson_str(f->reason, &ev->reason)) != 0)
		return rc;
	ev->pid = report_cjson_int(f->pid);
	ev->priority = report_cjson_int(f->priority);
	ev->rpages = report_cjson_int(f->rpages);
	ev->lifetime_max_pages = report_cjson_int(f->lifetime);
	if (cJSON_IsArray(f->states)) {
		for (const cJSON *s = f->states->child; s != NULL; s = s->next) {
			if (cJSON_IsString(s) && s->valuestring != NULL &&
			    (rc = report_event_add_state(ev, s->valuestring,
							 strlen(s->valuestring))) != 0)
				return rc;
		}
	}
	report_event_finish(ev, page_size);
	return 0;
}

static void memory_from_json(struct report_memory_status *m, const cJSON *ms)
{
	for (const cJSON *it = ms->child; it != NULL; it = it->next) {
		const char *k = it->string;
		int64_t *dst = NULL;

		if (k == NULL)
			continue;
		if (strcmp(k, "memoryPages") == 0 && cJSON_IsObject(it)) {
			memory_from_json(m, it);
			continue;
		}
		if (strcmp(k, "free") == 0)
			dst = &m->free;
		else if (strcmp(k, "active") == 0)
			dst = &m->active;
		else if (strcmp(k, "inactive") == 0)
			dst = &m->inactive;
		else if (strcmp(k, "speculative") == 0)
			dst = &m->speculative;
		else if (strcmp(k, "throttled") == 0)
			dst = &m->throttled;
		else if (strcmp(k, "wired") == 0)
			dst = &m->wired;
		else if (strcmp(k, "purgeable") == 0)
			dst = &m->purgeable;
		else if (strcmp(k, "fileBacked") == 0)
			dst = &m->file_backed;
		else if (strcmp(k, "anonymous") == 0)
			dst = &m->anonymous;
		else if (strcmp(k, "compressorSize") == 0)
			dst = &m->compressor_size;
		else if (strcmp(k, "uncompressed") == 0)
			dst = &m->uncompressed;
		else if (strcmp(k, "compressions") == 0)
			dst = &m->compressions;
		else if (strcmp(k, "decompressions") == 0)
			dst = &m->decompressions;
		else if (strcmp(k, "zoneMapCap") == 0)
			dst = &m->zone_map_cap;
		else if (strcmp(k, "zoneMapSize") == 0)
			dst = &m->zone_map_size;
		else if (strcmp(k, "largestZoneSize") == 0)
			dst = &m->largest_zone_size;
		if (dst != NULL && *dst == REPORT_NULL)
			*dst = report_cjson_int(it);
	}
}

static int os_major(const struct report *r)
{
	int64_t v = 0;
	size_t n = 0;

	if (r->os_version == NULL)
		return -1;
	while (report_is_digit(r->os_version[n]) && n < 4)
		n++;
	if (n == 0 || report_int_parse(r->os_version, n, &v) != 0)
		return -1;
	return (int)v;
}

static enum report_variant variant_from_version(int major)
{
	if (major >= 17)
		return REPORT_VARIANT_J4;
	if (major >= 15)
		return REPORT_VARIANT_J3;
	if (major >= 11)
		return REPORT_VARIANT_J2;
	if (major >= 9)
		return REPORT_VARIANT_J1;
	return REPORT_VARIANT_UNKNOWN;
}

int report_jetsam_from_json(struct report *r, const struct report_header *h, const cJSON *root,
			    const struct body_fields *b)
{
	int has_j3_keys = 0, has_zone = 0;
	const cJSON *ms = cJSON_IsObject(b->memory) ? b->memory : NULL;
	int64_t page_size = REPORT_NULL;
	size_t index = 0;
	int rc;

	if ((rc = report_cjson_str(b->product, &r->product)) ||
	    (rc = report_cjson_str(b->incident, &r->incident)) ||
	    (rc = report_cjson_str(b->date, &r->timestamp)) ||
	    (rc = report_cjson_str(b->kernel, &r->kernel)) ||
	    (rc = report_cjson_str(b->largest, &r->largest_process)) ||
	    (rc = report_cjson_str(b->bug_type, &r->bug_type)))
		return rc;
	if (cJSON_IsString(b->build) &&
	    (rc = report_split_os(r, b->build->valuestring, strlen(b->build->valuestring))) != 0)
		return rc;
	if ((rc = report_facts_after_body(r, h)) != 0)
		return rc;
	if (ms != NULL) {
		const cJSON *ps = NULL, *zone = NULL;

		for (const cJSON *it = ms->child; it != NULL; it = it->next) {
			if (report_cjson_take(it, "pageSize", &ps) ||
			    report_cjson_take(it, "largestZone", &zone))
				continue;
			if (report_cjson_key_is(it, "zoneMapCap") ||
			    report_cjson_key_is(it, "zoneMapSize"))
				has_zone = 1;
		}
		has_zone |= zone != NULL;
		page_size = report_cjson_int(ps);
		memory_from_json(&r->memory, ms);
		if ((rc = report_cjson_str(zone, &r->memory.largest_zone)) != 0)
			return rc;
	}
	if (page_size == REPORT_NULL)
		page_size = report_cjson_int(b->page_size);
	if (page_size != REPORT_NULL && page_size <= 0)
		page_size = REPORT_NULL; /* never guessed */
	r->page_size = page_size;

	if (b->processes == NULL)
		return report_fail(r, REPORT_NULL, "jetsam report has no 'processes' array");
	if (!cJSON_IsArray(b->processes))
		return report_fail(r, REPORT_NULL, "jetsam report 'processes' is not an array");
	for (const cJSON *p = b->processes->child; p != NULL; p = p->next, index++) {
		struct proc_fields f = {0};

		if (!cJSON_IsObject(p))
			return report_fail(r, REPORT_NULL, "process entry %zu is not an object",
					   index);
		if (index == 0) {
			/* the first entry is walked whole: it tells the variant (csFlags ...) */
			if (proc_walk(p, &f, &has_j3_keys) == 0)
				continue;
		} else {
			/* The kill marker is a string member: only string members need their
			 * key read, and the entry is walked whole only when it has one (this
			 * loop over hundreds of entries is the parser's own hot path). */
			const cJSON *reason = NULL;

			for (const cJSON *it = p->child; it != NULL; it = it->next) {
				const char *k = it->string;

				if ((it->type & 0xff) != cJSON_String || k == NULL)
					continue;
				if (k[0] == 'r' && strcmp(k, "reason") == 0) {
					reason = it;
					break;
				}
			}
			if (reason == NULL || proc_walk(p, &f, &has_j3_keys) == 0)
				continue;
		}
		if ((rc = event_from_process(r, &f, page_size)) != 0)
			return rc;
	}

	if (b->csm != NULL || (root->child != NULL && report_cjson_key_is(root->child, "build")))
		r->variant = REPORT_VARIANT_J4;
	else if (b->bug_type != NULL || b->roots != NULL || has_j3_keys)
		r->variant = REPORT_VARIANT_J3;
	else if (has_zone && os_major(r) < 15)
		r->variant = REPORT_VARIANT_J2; /* zone counters arrived in iOS 11 */
	else if (os_major(r) >= 9)
		r->variant = variant_from_version(os_major(r));
	else if (ms != NULL)
		r->variant = has_zone ? REPORT_VARIANT_J2 : REPORT_VARIANT_J1;
	else
		r->variant = REPORT_VARIANT_UNKNOWN;
	r->status = REPORT_OK;
	return 0;
}
