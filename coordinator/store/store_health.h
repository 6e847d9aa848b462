/* Whether the coordinator's store can write, as every part of the
 * coordinator and every operator view reads it: one record per store.
 *
 * A write that fails for a storage reason (disk full, I/O error, read-only
 * file system, lock held past the timeout, out of memory) makes the store
 * degraded; the next write that commits makes it healthy again. Input
 * errors (a bad id, a constraint) say nothing about the disk and change
 * nothing here. While degraded nothing is lost: callers keep what they
 * could not write (or can ask the agents again) and retry once writes work.
 *
 * Free space is watched too: below a floor (state_min_free_mb) the store
 * is low on space, and no new upgrade step starts, before writes fail.
 *
 * The log hears of the change both ways at once and, while it lasts, at
 * most once a minute (with the number of failures), so a full disk costs
 * a few lines, not one per attempted write. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define STORE_HEALTH_ERROR_MAX 256

typedef struct {
        bool degraded;
        int64_t since;                    /* unix seconds of the first failure; 0 when healthy */
        uint64_t failures;                /* failed writes since then */
        int64_t last_failure;             /* unix seconds */
        char error[STORE_HEALTH_ERROR_MAX]; /* the latest failure, "" when healthy */
        int64_t next_log;                 /* when "still failing" may be logged again */
        /* free space, as last measured (store_check_space) */
        bool low_space;                   /* free_bytes below floor_bytes */
        uint64_t free_bytes, floor_bytes; /* floor 0: none */
} store_health_t;

/* The free space in the store's file system was measured. */
void store_health_space(store_health_t *h, uint64_t free_bytes, uint64_t floor_bytes);

/* True for SQLite result codes that say the storage itself failed. */
bool store_health_storage_error(int sqlite_rc);

/* A write failed for a storage reason (`error` says what and why). */
void store_health_failed(store_health_t *h, int64_t now_s, const char *error);

/* The level for a caller's own line about a write that failed: LOG_ERR
 * for the first failure of a degraded stretch, LOG_DEBUG after it (the
 * store's own line repeats once a minute). */
int store_health_log_level(const store_health_t *h);

/* A write committed. Returns true if that ended a degraded stretch (callers
 * that deferred work run it then). */
bool store_health_ok(store_health_t *h, int64_t now_s);
