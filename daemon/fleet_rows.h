/* fleet_rows.h: the rows jetsamd ships to PostgreSQL, as COPY text, from DEVICE/REPORT/EVENT JSON
 */
#ifndef JETSAMD_FLEET_ROWS_H
#define JETSAMD_FLEET_ROWS_H

#include <stddef.h>
#include <stdint.h>

struct cJSON;

/*
 * DESIGN
 * A batch is what one PostgreSQL transaction ships (fleet/README.md "Shipping"): three
 * COPY ... FROM STDIN texts (devices, reports, events staging tables, in the column order
 * of the README's COPY statements), built on the store thread from the store's own JSON
 * (PROTOCOL.md DEVICE, REPORT, EVENT) and handed by value to the fleet thread. Values are
 * data in the COPY text format (tab separated, \N for NULL, backslash escapes), never SQL
 * text. Pure: no libpq, no uv.h, no store.
 */

struct fleet_buf {
	char *data;
	size_t len, cap;
};

enum fleet_table { FLEET_DEVICES, FLEET_REPORTS, FLEET_EVENTS, FLEET__TABLES };

struct fleet_batch {
	struct fleet_buf copy[FLEET__TABLES];
	int64_t upto;	 /* the last outbox id in the batch (0: the batch is empty) */
	int64_t entries; /* outbox entries in the batch */
	int64_t rows[FLEET__TABLES];
	int64_t depth; /* outbox entries when the batch was taken (with the batch's) */
};

/* Free the texts, zero the batch (NULL is a no-op). */
void fleet_batch_release(struct fleet_batch *b);

/* Append v as one COPY text field (NULL: \N), a tab before it unless first. 0 or -ENOMEM. */
int fleet_buf_field(struct fleet_buf *b, const char *v, int first);
/* Append bytes as bytea hex ("\\x...", escaped for COPY text). 0 or -ENOMEM. */
int fleet_buf_bytea(struct fleet_buf *b, const void *bytes, size_t len);

/* One devices row of host_id from a DEVICE object. 0, -EINVAL (no udid) or -ENOMEM. */
int fleet_rows_device(struct fleet_buf *b, const char *host_id, const struct cJSON *dev);
/*
 * One reports row from a REPORT object: time (ISO-8601 UTC, may be NULL) is the report's
 * parsed timestamp; facts (JSON text) and raw (bytes) are NULL unless shipped.
 */
int fleet_rows_report(struct fleet_buf *b, const char *host_id, const struct cJSON *rep,
		      const char *time, const char *facts, const void *raw, size_t raw_len);
/* One events row: event seq (0-based in its report) of report_key; text is ev's JSON. */
int fleet_rows_event(struct fleet_buf *b, const char *host_id, const char *report_key, int seq,
		     const struct cJSON *ev, const char *text);

#endif
