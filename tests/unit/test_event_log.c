/* The event log's defences against flooding (issue 15): coalescing of
 * repeated events in coordinator/store, the schema's append-only rules as
 * migration 5 relaxed them, the migration from a version-4 file, the
 * per-node registration and health-event budgets in coordinator/fleet (a
 * flood of Hellos, an agent flapping its health),
 * and retention by age and size with its audit (coordinator/event_retention).
 * Every test talks to a real database file in its own directory. */
#include <check.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "coordinator/store/event_retention.h"
#include "coordinator/fleet/fleet.h"
#include "coordinator/store/store.h"

static char dir[256];
static char db_file[300];
static store_t *st;

static void fixture_up(void) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/test_event_log.XXXXXX", base && *base ? base : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(db_file, sizeof db_file, "%s/coordinator.db", dir);
        ck_assert_int_eq(store_open(db_file, &st), 0);
}

static void fixture_down(void) {
        char cmd[400];
        store_close(&st);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
}

/* Runs SQL on a second, raw connection; returns the SQLite result code. */
static int raw_exec(const char *sql) {
        sqlite3 *db = NULL;
        ck_assert_int_eq(sqlite3_open_v2(db_file, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        sqlite3_close(db);
        return rc;
}

typedef struct {
        event_record_t ev[64];
        int n;
} log_t;

static int keep(const event_record_t *ev, void *ud) {
        log_t *l = ud;
        ck_assert_int_lt(l->n, 64);
        l->ev[l->n++] = *ev;
        return 0;
}

static log_t *read_log(const char *node_id) {
        log_t *l = calloc(1, sizeof *l);
        ck_assert_ptr_nonnull(l);
        ck_assert_int_eq(store_events_foreach(st, node_id, 64, keep, l), 0);
        return l;
}

static void append(int64_t time, const char *node, const char *kind, const char *message) {
        ck_assert_int_eq(store_event_append(st, time, node, kind, "coordinator", message, NULL), 0);
}

/* ---- coalescing ---- */

START_TEST(test_repeats_are_counted_in_one_row) {
        int64_t first, again;
        ck_assert_int_eq(store_event_append(st, 100, "web-1", "node.registered", "coordinator", "hello", &first), 0);
        for (int i = 1; i < 50; i++) {
                ck_assert_int_eq(store_event_append(st, 100 + i, "web-1", "node.registered", "coordinator", "hello",
                                                    &again), 0);
                ck_assert_int_eq(again, first);
        }
        ck_assert_int_eq(store_event_append_n(st, 200, "web-1", "node.registered", "coordinator", "hello", 12,
                                              NULL), 0);
        ck_assert_int_eq(store_events_count(st), 1);
        log_t *l = read_log(NULL);
        ck_assert_int_eq(l->n, 1);
        ck_assert_int_eq(l->ev[0].count, 62);
        ck_assert_int_eq(l->ev[0].time, 100);
        ck_assert_int_eq(l->ev[0].last_time, 200);
        ck_assert_int_eq(store_event_append_n(st, 1, "web-1", "k", "a", "m", 0, NULL), -EINVAL);
        free(l);
}
END_TEST

START_TEST(test_only_identical_back_to_back_events_coalesce) {
        append(1, "web-1", "node.registered", "hello");
        append(2, "web-1", "node.registered", "hello, boot 2");   /* another message */
        append(3, "web-1", "node.online", "hello, boot 2");       /* another kind */
        ck_assert_int_eq(store_event_append(st, 4, "web-1", "node.online", "unix:root", "hello, boot 2", NULL),
                         0);                                      /* another actor */
        append(5, "web-2", "node.online", "hello, boot 2");       /* another node */
        append(6, "", "node.online", "hello, boot 2");            /* about no node */
        ck_assert_int_eq(store_events_count(st), 6);
        /* Other nodes' events in between do not hide a repeat: the node's
         * own newest row counts it. */
        ck_assert_int_eq(store_event_append(st, 7, "web-1", "node.online", "unix:root", "hello, boot 2", NULL),
                         0);
        ck_assert_int_eq(store_events_count(st), 6);
        log_t *l = read_log("web-1");
        ck_assert_int_eq(l->n, 4);
        ck_assert_int_eq(l->ev[3].count, 2);
        ck_assert_int_eq(l->ev[3].last_time, 7);
        for (int i = 0; i < 3; i++) {
                ck_assert_int_eq(l->ev[i].count, 1);
                ck_assert_int_eq(l->ev[i].last_time, l->ev[i].time);
        }
        free(l);
}
END_TEST

/* ---- the schema's rules ---- */

START_TEST(test_schema_allows_only_counting_and_pruning) {
        append(1, "web-1", "a", "one");
        append(2, "web-1", "b", "two");
        append(3, "web-1", "c", "three");
        store_close(&st);
        /* No edit of a row's text, time, node; no count going down. */
        ck_assert_int_ne(raw_exec("UPDATE events SET message = 'x' WHERE kind = 'c'"), SQLITE_OK);
        ck_assert_int_ne(raw_exec("UPDATE events SET time = 9 WHERE kind = 'c'"), SQLITE_OK);
        ck_assert_int_ne(raw_exec("UPDATE events SET node_id = 'web-2' WHERE kind = 'c'"), SQLITE_OK);
        ck_assert_int_ne(raw_exec("UPDATE events SET count = 0 WHERE kind = 'c'"), SQLITE_OK);
        /* Only the node's newest row counts. */
        ck_assert_int_ne(raw_exec("UPDATE events SET count = 5 WHERE kind = 'b'"), SQLITE_OK);
        ck_assert_int_eq(raw_exec("UPDATE events SET count = 5, last_time = 4 WHERE kind = 'c'"), SQLITE_OK);
        ck_assert_int_ne(raw_exec("UPDATE events SET last_time = 3 WHERE kind = 'c'"), SQLITE_OK);
        /* Deletes: never one in the middle or the newest; the oldest, yes. */
        ck_assert_int_ne(raw_exec("DELETE FROM events WHERE kind = 'b'"), SQLITE_OK);
        ck_assert_int_ne(raw_exec("DELETE FROM events WHERE kind = 'c'"), SQLITE_OK);
        ck_assert_int_ne(raw_exec("DELETE FROM events"), SQLITE_OK);
        ck_assert_int_eq(raw_exec("DELETE FROM events WHERE kind = 'a'"), SQLITE_OK);
        ck_assert_int_eq(store_open(db_file, &st), 0);
        log_t *l = read_log(NULL);
        ck_assert_int_eq(l->n, 2);
        ck_assert_str_eq(l->ev[0].message, "two");
        ck_assert_int_eq(l->ev[1].count, 5);
        free(l);
}
END_TEST

/* A file as version 4 left it: no probe or jobs table, no count, no last_time,
 * the triggers of migration 1, and two identical events. */
START_TEST(test_migration_from_version_4) {
        store_close(&st);
        ck_assert_int_eq(raw_exec("DROP TABLE probe; DROP TABLE jobs;"
                                  "DROP TRIGGER events_count_only; DROP TRIGGER events_oldest_first;"
                                  "ALTER TABLE events DROP COLUMN count; ALTER TABLE events DROP COLUMN last_time;"
                                  "CREATE TRIGGER events_no_update BEFORE UPDATE ON events"
                                  "  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"
                                  "CREATE TRIGGER events_no_delete BEFORE DELETE ON events"
                                  "  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"
                                  "INSERT INTO events (time, node_id, kind, actor, message) VALUES"
                                  "  (10, 'web-1', 'node.registered', 'coordinator', 'hello'),"
                                  "  (11, 'web-1', 'node.registered', 'coordinator', 'hello');"
                                  "PRAGMA user_version = 4;"),
                         SQLITE_OK);
        ck_assert_int_ne(raw_exec("DELETE FROM events WHERE time = 10"), SQLITE_OK);

        ck_assert_int_eq(store_open(db_file, &st), 0);
        log_t *l = read_log(NULL);
        ck_assert_int_eq(l->n, 2);
        ck_assert_int_eq(l->ev[0].count, 1);
        ck_assert_int_eq(l->ev[1].last_time, 11);
        free(l);
        /* The old newest row counts the next repeat; old rows can be pruned. */
        append(12, "web-1", "node.registered", "hello");
        int64_t deleted = 0;
        ck_assert_int_eq(store_events_delete_oldest(st, INT64_MAX, 10, &deleted), 0);
        ck_assert_int_eq(deleted, 1);
        l = read_log(NULL);
        ck_assert_int_eq(l->n, 1);
        ck_assert_int_eq(l->ev[0].time, 11);
        ck_assert_int_eq(l->ev[0].count, 2);
        ck_assert_int_eq(l->ev[0].last_time, 12);
        free(l);
}
END_TEST

/* ---- deleting the oldest ---- */

START_TEST(test_delete_oldest_by_age_and_bound) {
        for (int i = 0; i < 20; i++) {
                char m[16];
                snprintf(m, sizeof m, "e%d", i);
                append(100 + i, i % 2 ? "web-1" : "web-2", "k", m);
        }
        int64_t deleted = -1;
        /* Older than 105: five of them, but at most three this time. */
        ck_assert_int_eq(store_events_delete_oldest(st, 105, 3, &deleted), 0);
        ck_assert_int_eq(deleted, 3);
        ck_assert_int_eq(store_events_delete_oldest(st, 105, 3, &deleted), 0);
        ck_assert_int_eq(deleted, 2);
        ck_assert_int_eq(store_events_delete_oldest(st, 105, 3, &deleted), 0);
        ck_assert_int_eq(deleted, 0);
        ck_assert_int_eq(store_events_count(st), 15);
        /* Everything older: the newest stays. */
        ck_assert_int_eq(store_events_delete_oldest(st, 1000, 100, &deleted), 0);
        ck_assert_int_eq(deleted, 14);
        log_t *l = read_log(NULL);
        ck_assert_int_eq(l->n, 1);
        ck_assert_str_eq(l->ev[0].message, "e19");
        free(l);
}
END_TEST

/* ---- the registration budget (coordinator/fleet) ---- */

static int64_t total_count(const log_t *l) {
        int64_t n = 0;
        for (int i = 0; i < l->n; i++)
                n += l->ev[i].count;
        return n;
}

static void say_hello(fleet_t *f, const char *boot, int64_t now_ms) {
        Hitless__Hello h = HITLESS__HELLO__INIT;
        node_t *n = NULL;
        h.node_id = "flood";
        h.agent_version = "0.1.0";
        h.boot_id = (char *) boot;
        ck_assert_int_eq(fleet_register(f, "flood", &h, "192.0.2.7", now_ms, &n), 0);
        /* Every Hello registers: the agent keeps working. */
        ck_assert(n->registered && n->online);
        ck_assert_int_eq(n->last_seen_ms, now_ms);
}

static off_t store_bytes(void) {
        static const char *suffixes[] = { "", "-wal" };
        off_t total = 0;
        for (size_t i = 0; i < 2; i++) {
                char p[400];
                struct stat sb;
                snprintf(p, sizeof p, "%s%s", db_file, suffixes[i]);
                if (stat(p, &sb) == 0)
                        total += sb.st_size;
        }
        return total;
}

/* The flood of the issue: 20,000 Hellos in 1.25 s from one key, flushed
 * every second as the coordinator does; the first half all alike (what a
 * reconnect loop sends), the second with a new boot id each time (so no
 * two can coalesce). Before: 20,000 rows and megabytes. */
START_TEST(test_hello_flood_is_a_few_rows) {
        fleet_t *f = NULL;
        ck_assert_int_eq(fleet_new(st, 1000000, &f), 0);
        off_t before = store_bytes();
        for (int i = 0; i < 20000; i++) {
                char boot[16];
                snprintf(boot, sizeof boot, "boot-%d", i < 10000 ? 0 : i);
                say_hello(f, boot, i / 16);
                if (i % 16000 == 15999)
                        ck_assert_int_eq(fleet_flush(f), 0);
        }
        ck_assert_int_eq(fleet_flush(f), 0);
        ck_assert_int_le(store_events_count(st), FLEET_REGISTRATION_BURST);
        off_t growth = store_bytes() - before;
        ck_assert_msg(growth < 256 * 1024, "the store grew by %lld bytes", (long long) growth);

        /* The next Hello within budget: every one not recorded is counted
         * (like the last recorded, or in one event for the others). */
        say_hello(f, "boot-0", 11000);
        ck_assert_int_eq(fleet_flush(f), 0);
        ck_assert_int_le(store_events_count(st), FLEET_REGISTRATION_BURST + 2);
        log_t *l = read_log("flood");
        ck_assert_int_eq(total_count(l), 20001);
        ck_assert_str_eq(l->ev[l->n - 1].kind, "node.registered");
        free(l);
        fleet_destroy(&f);
}
END_TEST

/* A reconnect storm within the burst records each registration; beyond it
 * Hellos with other details are counted in one event, written when the
 * node goes unreachable at the latest. */
START_TEST(test_reconnect_storm_still_registers) {
        fleet_t *f = NULL;
        ck_assert_int_eq(fleet_new(st, 1000, &f), 0);
        for (int i = 0; i < FLEET_REGISTRATION_BURST; i++) {
                char boot[16];
                snprintf(boot, sizeof boot, "boot-%d", i);
                say_hello(f, boot, 100 * i);
        }
        ck_assert_int_eq(fleet_flush(f), 0);
        ck_assert_int_eq(store_events_count(st), FLEET_REGISTRATION_BURST);

        say_hello(f, "boot-x", 600);
        say_hello(f, "boot-y", 700);
        say_hello(f, "boot-4", 800);
        ck_assert_int_eq(fleet_flush(f), 0);
        ck_assert_int_eq(store_events_count(st), FLEET_REGISTRATION_BURST);  /* over budget: counted only */
        ck_assert_int_eq(fleet_expire(f, 5000), 1);
        ck_assert_int_eq(fleet_flush(f), 0);
        log_t *l = read_log("flood");
        ck_assert_int_eq(l->n, FLEET_REGISTRATION_BURST + 2);
        ck_assert_int_eq(l->ev[FLEET_REGISTRATION_BURST - 1].count, 2);  /* boot-4 again */
        ck_assert_int_eq(l->ev[FLEET_REGISTRATION_BURST].count, 2);      /* boot-x, boot-y */
        ck_assert_ptr_nonnull(strstr(l->ev[FLEET_REGISTRATION_BURST].message, "rate limit"));
        ck_assert_str_eq(l->ev[FLEET_REGISTRATION_BURST + 1].kind, "node.unreachable");
        free(l);
        fleet_destroy(&f);
}
END_TEST

static int64_t count_of_kind(const log_t *l, const char *kind) {
        int64_t n = 0;
        for (int i = 0; i < l->n; i++)
                if (strcmp(l->ev[i].kind, kind) == 0)
                        n += l->ev[i].count;
        return n;
}

/* An agent flapping its health on every heartbeat, 10,000 times in 10 s:
 * the budget's rows, then the rest in one counted event. */
START_TEST(test_health_flapping_is_a_few_rows) {
        fleet_t *f = NULL;
        ck_assert_int_eq(fleet_new(st, 1000000, &f), 0);
        say_hello(f, "boot-1", 0);
        node_t *n = fleet_find(f, "flood");
        Hitless__HealthReport health = HITLESS__HEALTH_REPORT__INIT;
        Hitless__Heartbeat hb = HITLESS__HEARTBEAT__INIT;
        hb.health = &health;
        for (int i = 0; i < 10000; i++) {
                health.state = i % 2 ? HITLESS__HEALTH_STATE__HEALTH_DEGRADED : HITLESS__HEALTH_STATE__HEALTH_HEALTHY;
                ck_assert_int_eq(fleet_heartbeat(f, n, &hb, 1 + i), 0);
        }
        ck_assert_int_eq(fleet_flush(f), 0);
        ck_assert_int_le(store_events_count(st), 1 + FLEET_HEALTH_EVENT_BURST + 1);
        health.state = HITLESS__HEALTH_STATE__HEALTH_HEALTHY;  /* the loop ended degraded */
        ck_assert_int_eq(fleet_heartbeat(f, n, &hb, 30000), 0);
        ck_assert_int_eq(fleet_flush(f), 0);
        ck_assert_int_le(store_events_count(st), 1 + FLEET_HEALTH_EVENT_BURST + 3);
        log_t *l = read_log("flood");
        ck_assert_int_eq(count_of_kind(l, "node.health"), 10001);
        ck_assert_ptr_nonnull(strstr(l->ev[l->n - 2].message, "health changes beyond the rate limit"));
        ck_assert_str_eq(l->ev[l->n - 1].message, "degraded -> healthy");
        free(l);
        fleet_destroy(&f);
}
END_TEST

/* ---- retention ---- */

#define NOW (1000 * 86400)

/* n distinct events at time t, in one transaction. */
static void append_many(int n, int64_t t) {
        ck_assert_int_eq(store_begin(st), 0);
        for (int i = 0; i < n; i++) {
                char m[32];
                snprintf(m, sizeof m, "event %lld.%d", (long long) t, i);
                append(t, i % 3 ? "web-1" : "", "node.health", m);
        }
        ck_assert_int_eq(store_commit(st), 0);
}

static const event_record_t *newest(const log_t *l) {
        ck_assert_int_gt(l->n, 0);
        return &l->ev[l->n - 1];
}

START_TEST(test_retention_by_age_is_audited) {
        event_retention_t p = { .max_days = 90, .max_rows = 100000 };
        append_many(30, NOW - 91 * 86400);
        append_many(5, NOW - 89 * 86400);
        ck_assert_int_eq(event_retention_run(st, &p, NOW), 30);
        ck_assert_int_eq(store_events_count(st), 6);
        log_t *l = read_log(NULL);
        ck_assert_str_eq(newest(l)->kind, "events.pruned");
        ck_assert_str_eq(newest(l)->actor, "coordinator");
        ck_assert_str_eq(newest(l)->node_id, "");
        ck_assert_str_eq(newest(l)->message, "deleted 30 events older than 90 days (event_retention_days)");
        ck_assert_int_eq(newest(l)->time, NOW);
        free(l);
        /* Nothing more to do: no deletion, no audit event. */
        ck_assert_int_eq(event_retention_run(st, &p, NOW + 60), 0);
        ck_assert_int_eq(store_events_count(st), 6);
        /* A long quiet spell: everything is old, the newest event stays. */
        ck_assert_int_eq(event_retention_run(st, &p, NOW + 365 * 86400), 5);
        l = read_log(NULL);
        ck_assert_int_eq(l->n, 2);
        ck_assert_str_eq(l->ev[0].message, "deleted 30 events older than 90 days (event_retention_days)");
        ck_assert_str_eq(l->ev[1].message, "deleted 5 events older than 90 days (event_retention_days)");
        free(l);
}
END_TEST

START_TEST(test_retention_by_rows_is_bounded_per_run) {
        event_retention_t p = { .max_days = 90, .max_rows = 1000 };
        append_many(25000, NOW);
        ck_assert_int_eq(event_retention_run(st, &p, NOW), EVENT_RETENTION_BATCH);
        ck_assert_int_eq(event_retention_run(st, &p, NOW), EVENT_RETENTION_BATCH);
        int64_t rest = event_retention_run(st, &p, NOW);
        ck_assert_int_lt(rest, EVENT_RETENTION_BATCH);
        ck_assert_int_eq(event_retention_run(st, &p, NOW), 0);
        int64_t rows = store_events_count(st);
        ck_assert_int_le(rows, 1000);
        ck_assert_int_ge(rows, 990);
        log_t *l = read_log(NULL);
        char want[200];
        snprintf(want, sizeof want, "deleted the %lld oldest events to keep at most 1000 (event_retention_max_rows)",
                 (long long) rest);
        ck_assert_str_eq(newest(l)->kind, "events.pruned");
        ck_assert_str_eq(newest(l)->message, want);
        free(l);
        /* Every run was audited: the two full ones coalesced into a count. */
        l = read_log("");
        int pruned = 0;
        for (int i = 0; i < l->n; i++)
                if (strcmp(l->ev[i].kind, "events.pruned") == 0)
                        pruned += (int) l->ev[i].count;
        ck_assert_int_eq(pruned, 3);
        free(l);
}
END_TEST

static Suite *event_log_suite(void) {
        Suite *su = suite_create("event_log");
        TCase *tc = tcase_create("store");
        tcase_add_checked_fixture(tc, fixture_up, fixture_down);
        tcase_add_test(tc, test_repeats_are_counted_in_one_row);
        tcase_add_test(tc, test_only_identical_back_to_back_events_coalesce);
        tcase_add_test(tc, test_schema_allows_only_counting_and_pruning);
        tcase_add_test(tc, test_migration_from_version_4);
        tcase_add_test(tc, test_delete_oldest_by_age_and_bound);
        suite_add_tcase(su, tc);

        tc = tcase_create("registration budget");
        tcase_add_checked_fixture(tc, fixture_up, fixture_down);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_hello_flood_is_a_few_rows);
        tcase_add_test(tc, test_reconnect_storm_still_registers);
        tcase_add_test(tc, test_health_flapping_is_a_few_rows);
        suite_add_tcase(su, tc);

        tc = tcase_create("retention");
        tcase_add_checked_fixture(tc, fixture_up, fixture_down);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_retention_by_age_is_audited);
        tcase_add_test(tc, test_retention_by_rows_is_bounded_per_run);
        suite_add_tcase(su, tc);
        return su;
}

int main(void) {
        log_set_max_level(LOG_ERR);
        SRunner *sr = srunner_create(event_log_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
