/* events.h: the CSV form of a kill event, shared by jetsamctl events and watch */
#ifndef JETSAMCTL_EVENTS_H
#define JETSAMCTL_EVENTS_H

#include <stdio.h>

#include <cjson/cJSON.h>

/* CSV column names of an event, NULL-terminated (documented in jetsamctl(1)) */
extern const char *const events_csv_fields[];

/* Write event e as one CSV row */
void events_csv_row(FILE *f, const cJSON *e);

#endif
