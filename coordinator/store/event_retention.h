/* The event log's retention: by age (event_retention_days) and by size
 * (event_retention_max_rows), so that nothing an agent can send fills the
 * disk. Each run that deletes says so in the log itself: an events.pruned
 * event (actor "coordinator") with how many and why, committed in the same
 * transaction as the deletion. The schema lets only the oldest events go
 * (coordinator/store/store.c, migration 5). */
#pragma once
#include <stdint.h>

#include "coordinator/store/store.h"

#define EVENT_RETENTION_DEFAULT_DAYS 90
#define EVENT_RETENTION_DEFAULT_MAX_ROWS 100000
/* A run deletes at most this many rows (one short transaction); the
 * coordinator runs again at its next tick while a run hits the bound,
 * hourly otherwise. */
#define EVENT_RETENTION_BATCH 10000
#define EVENT_RETENTION_INTERVAL_MS (3600 * 1000)

typedef struct {
        int64_t max_days;     /* events last seen longer ago are deleted */
        int64_t max_rows;     /* beyond this many rows the oldest are deleted */
} event_retention_t;

/* Applies the policy at wall time now_s. Returns how many rows were
 * deleted (EVENT_RETENTION_BATCH: there may be more), or -errno (nothing
 * deleted; the message is in store_last_error()). */
int64_t event_retention_run(store_t *s, const event_retention_t *p, int64_t now_s);
