#include "coordinator/store/store_health.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

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

int store_health_log_level(const store_health_t *h) {
        return h->degraded && h->failures > 1 ? LOG_DEBUG : LOG_ERR;
}

bool store_health_ok(store_health_t *h, int64_t now_s) {
        if (!h->degraded)
                return false;
        log_notice("store: writes work again after %" PRId64 " s (%" PRIu64 " failed)", now_s - h->since,
                   h->failures);
        h->degraded = false;
        h->since = h->last_failure = h->next_log = 0;
        h->failures = 0;
        h->error[0] = '\0';
        return true;
}

#define MIB (1024 * 1024)

void store_health_space(store_health_t *h, uint64_t free_bytes, uint64_t floor_bytes) {
        bool low = floor_bytes > 0 && free_bytes < floor_bytes;
        if (low && !h->low_space)
                log_warning("store: %" PRIu64 " MiB free, below the floor of %" PRIu64 " MiB "
                            "(state_min_free_mb): no new upgrade step starts until there is more",
                            free_bytes / MIB, floor_bytes / MIB);
        else if (!low && h->low_space)
                log_notice("store: %" PRIu64 " MiB free again (floor %" PRIu64 " MiB)", free_bytes / MIB,
                           floor_bytes / MIB);
        h->low_space = low;
        h->free_bytes = free_bytes;
        h->floor_bytes = floor_bytes;
}
