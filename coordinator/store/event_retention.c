#include "coordinator/store/event_retention.h"

#include <stdio.h>

#include "common/log.h"

/* The audit event of one reason; the count is in the message, so runs
 * that delete the same number for the same reason coalesce into a count. */
static int audit(store_t *s, int64_t now_s, const char *fmt, int64_t deleted, int64_t limit)
        __attribute__((format(printf, 3, 0)));
static int audit(store_t *s, int64_t now_s, const char *fmt, int64_t deleted, int64_t limit) {
        char message[200];
        snprintf(message, sizeof message, fmt, (long long) deleted, (long long) limit);
        log_info("event log: %s", message);
        return store_event_append(s, now_s, NULL, "events.pruned", "coordinator", message, NULL);
}

int64_t event_retention_run(store_t *s, const event_retention_t *p, int64_t now_s) {
        int64_t by_age = 0, by_rows = 0, rows = 0;
        int r = store_begin(s);
        if (r < 0)
                return r;
        r = store_events_delete_oldest(s, now_s - p->max_days * 86400, EVENT_RETENTION_BATCH, &by_age);
        if (r >= 0 && (rows = store_events_count(s)) < 0)
                r = (int) rows;
        /* Two rows to spare for this run's audit events. */
        int64_t excess = rows - p->max_rows + 2;
        if (r >= 0 && rows > p->max_rows && by_age < EVENT_RETENTION_BATCH) {
                int64_t room = EVENT_RETENTION_BATCH - by_age;
                r = store_events_delete_oldest(s, INT64_MAX, (uint32_t) (excess < room ? excess : room), &by_rows);
        }
        if (r >= 0 && by_age)
                r = audit(s, now_s, "deleted %lld events older than %lld days (event_retention_days)", by_age,
                          p->max_days);
        if (r >= 0 && by_rows)
                r = audit(s, now_s, "deleted the %lld oldest events to keep at most %lld (event_retention_max_rows)",
                          by_rows, p->max_rows);
        if (r < 0) {
                (void) store_rollback(s);   /* the first error is the one reported */
                return r;
        }
        r = store_commit(s);
        return r < 0 ? r : by_age + by_rows;
}
