#include "coordinator/store_health.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

#define STILL_FAILING_LOG_S 60

bool store_health_storage_error(int sqlite_rc) {
        switch (sqlite_rc & 0xff) {
        case SQLITE_FULL:
        case SQLITE_IOERR:
        case SQLITE_READONLY:
        case SQLITE_CANTOPEN:
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
        case SQLITE_NOMEM:
        case SQLITE_NOLFS:
        case SQLITE_PROTOCOL:
                return true;
        default:
                return false;
        }
}

void store_health_failed(store_health_t *h, int64_t now_s, const char *error) {
        snprintf(h->error, sizeof h->error, "%s", error ? error : "");
        h->failures++;
        h->last_failure = now_s;
        if (!h->degraded) {
                h->degraded = true;
                h->since = now_s;
                h->next_log = now_s + STILL_FAILING_LOG_S;
                log_error("store: writes fail (%s): results and steps wait until they work again", h->error);
                return;
        }
        if (now_s >= h->next_log) {
                h->next_log = now_s + STILL_FAILING_LOG_S;
                log_error("store: writes still fail after %" PRId64 " s (%" PRIu64 " failures): %s",
                          now_s - h->since, h->failures, h->error);
        }
}

bool store_health_ok(store_health_t *h, int64_t now_s) {
        if (!h->degraded)
                return false;
        log_notice("store: writes work again after %" PRId64 " s (%" PRIu64 " failed)", now_s - h->since,
                   h->failures);
        memset(h, 0, sizeof *h);
        return true;
}
