/* coordinator/store: the SQLite-backed durable state. Every test works in
 * its own temporary directory and talks to a real database file. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coordinator/store/store.h"
#include "tests/helpers/failing_vfs.h"

static char tmpdir[256];
static char dbpath[300];

static void setup(void) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/test_store.XXXXXX", base && *base ? base : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        snprintf(dbpath, sizeof dbpath, "%s/state.db", tmpdir);
}

static void teardown(void) {
        static const char *suffixes[] = { "", "-wal", "-shm", "-journal" };
        char p[400];

        for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
                snprintf(p, sizeof p, "%s%s", dbpath, suffixes[i]);
                unlink(p);
        }
        rmdir(tmpdir);
}

static store_t *open_ok(void) {
        store_t *s = NULL;
        int r = store_open(dbpath, &s);
        ck_assert_msg(r == 0, "store_open: %s", strerror(-r));
        ck_assert_ptr_nonnull(s);
        return s;
}

/* A 40-character public key, distinct per n. */
static void make_key(char buf[KEYS_Z85_LEN + 1], int n) {
        snprintf(buf, KEYS_Z85_LEN + 1, "%040d", n);
}

static key_record_t make_key_record(int n, const char *node, key_state_t state) {
        key_record_t k;
        memset(&k, 0, sizeof k);
        make_key(k.public_key, n);
        snprintf(k.node_id, sizeof k.node_id, "%s", node);
        k.state = state;
        snprintf(k.address, sizeof k.address, "10.0.0.%d", n);
        k.first_seen = 1000 + n;
        k.last_seen = 2000 + n;
        k.attempts = (uint32_t) n * 3;
        return k;
}

static mode_t file_mode(const char *path) {
        struct stat st;
        ck_assert_msg(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
        return st.st_mode & 07777;
}

/* ---- collectors for the foreach callbacks ---- */

typedef struct {
        key_record_t recs[16];
        int n;
        int stop_after; /* return 7 after this many, 0 = never */
} key_list_t;

static int collect_key(const key_record_t *rec, void *ud) {
        key_list_t *l = ud;
        ck_assert_int_lt(l->n, 16);
        l->recs[l->n++] = *rec;
        return l->stop_after && l->n >= l->stop_after ? 7 : 0;
}

typedef struct {
        char id[16][NODE_ID_MAX + 1];
        uint8_t blob[16][400];
        size_t len[16];
        int64_t last_seen[16];
        int n;
} node_list_t;

static int collect_node(const char *node_id, const uint8_t *blob, size_t len, int64_t last_seen,
                        void *ud) {
        node_list_t *l = ud;
        ck_assert_int_lt(l->n, 16);
        ck_assert_ptr_nonnull(blob);
        ck_assert_uint_le(len, sizeof l->blob[0]);
        snprintf(l->id[l->n], sizeof l->id[0], "%s", node_id);
        memcpy(l->blob[l->n], blob, len);
        l->len[l->n] = len;
        l->last_seen[l->n] = last_seen;
        l->n++;
        return 0;
}

typedef struct {
        event_record_t ev[200];
        int n;
} event_list_t;

static int collect_event(const event_record_t *ev, void *ud) {
        event_list_t *l = ud;
        ck_assert_int_lt(l->n, 200);
        l->ev[l->n++] = *ev;
        return 0;
}

static int count_events(store_t *s, const char *node_id) {
        event_list_t *l = calloc(1, sizeof *l);
        ck_assert_ptr_nonnull(l);
        ck_assert_int_eq(store_events_foreach(s, node_id, 200, collect_event, l), 0);
        int n = l->n;
        free(l);
        return n;
}

static int count_nodes(store_t *s) {
        node_list_t *l = calloc(1, sizeof *l);
        ck_assert_ptr_nonnull(l);
        ck_assert_int_eq(store_nodes_foreach(s, collect_node, l), 0);
        int n = l->n;
        free(l);
        return n;
}

/* Reads one integer with a separate, raw SQLite connection. */
static long long raw_query_int(const char *sql) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        long long v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
}

/* ---- open ---- */

START_TEST(test_open_creates_private_file) {
        char p[400];

        /* A permissive umask must not leak into the files' modes. */
        mode_t old = umask(022);
        store_t *s = open_ok();
        mode_t during = umask(022);
        ck_assert_int_eq(during, 022); /* store_open restored it */

        ck_assert_int_eq(file_mode(dbpath), 0600);
        ck_assert_int_eq(store_event_append(s, 1, NULL, "test.event", "test", "x", NULL), 0);
        snprintf(p, sizeof p, "%s-wal", dbpath);
        ck_assert_int_eq(file_mode(p), 0600);
        snprintf(p, sizeof p, "%s-shm", dbpath);
        ck_assert_int_eq(file_mode(p), 0600);
        ck_assert_str_eq(store_last_error(s), "");
        store_close(&s);
        ck_assert_ptr_null(s);
        store_close(&s); /* NULL is accepted */
        umask(old);

        /* The file is in WAL mode with the latest schema version. */
        ck_assert_int_eq(raw_query_int("PRAGMA user_version"), 7);
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        ck_assert_str_eq((const char *) sqlite3_column_text(st, 0), "wal");
        sqlite3_finalize(st);
        sqlite3_close(db);
}
END_TEST

START_TEST(test_open_missing_directory) {
        char p[400];
        store_t *s = (store_t *) 0x1;

        snprintf(p, sizeof p, "%s/no/such/dir/state.db", tmpdir);
        ck_assert_int_eq(store_open(p, &s), -ENOENT);
        ck_assert_ptr_eq(s, (store_t *) 0x1); /* untouched on failure */
        ck_assert_int_eq(store_open("", &s), -EINVAL);
        ck_assert_int_eq(store_open(NULL, &s), -EINVAL);
}
END_TEST

START_TEST(test_open_random_bytes) {
        uint8_t junk[16384];
        int fd = open("/dev/urandom", O_RDONLY);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(read(fd, junk, sizeof junk), (ssize_t) sizeof junk);
        close(fd);

        fd = open(dbpath, O_WRONLY | O_CREAT | O_EXCL, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, junk, sizeof junk), (ssize_t) sizeof junk);
        close(fd);

        store_t *s = (store_t *) 0x1;
        int r = store_open(dbpath, &s);
        ck_assert_msg(r == -EIO || r == -EINVAL, "store_open on junk returned %d", r);
        ck_assert_ptr_eq(s, (store_t *) 0x1);
}
END_TEST

START_TEST(test_open_corrupt_schema_page) {
        store_t *s = open_ok();
        store_close(&s);

        /* Keep the valid 100-byte header, scramble the rest of page 1 (the
         * schema): SQLite sees a database, but a broken one. */
        uint8_t junk[3996];
        for (size_t i = 0; i < sizeof junk; i++)
                junk[i] = (uint8_t) (i * 131 + 7);
        int fd = open(dbpath, O_WRONLY);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pwrite(fd, junk, sizeof junk, 100), (ssize_t) sizeof junk);
        close(fd);

        int r = store_open(dbpath, &s);
        ck_assert_msg(r == -EIO || r == -EINVAL, "store_open on corrupt db returned %d", r);
        ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_open_newer_schema_refused) {
        sqlite3 *db = NULL;
        ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
        ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);

        store_t *s = NULL;
        ck_assert_int_eq(store_open(dbpath, &s), -EPROTONOSUPPORT);
        ck_assert_ptr_null(s);
        /* ... and left it alone. */
        ck_assert_int_eq(raw_query_int("PRAGMA user_version"), 99);
}
END_TEST

START_TEST(test_reopen_keeps_schema) {
        store_t *s = open_ok();
        ck_assert_int_eq(store_event_append(s, 1, NULL, "a.b", "test", "first", NULL), 0);
        store_close(&s);
        /* A second open must not re-run migration 1 (it would fail: the
         * tables exist) nor lose data. */
        s = open_ok();
        ck_assert_int_eq(count_events(s, NULL), 1);
        store_close(&s);
        ck_assert_int_eq(raw_query_int("PRAGMA user_version"), 7);
}
END_TEST

/* ---- keys ---- */

START_TEST(test_key_state_name) {
        ck_assert_str_eq(key_state_name(KEY_PENDING), "pending");
        ck_assert_str_eq(key_state_name(KEY_ACCEPTED), "accepted");
        ck_assert_str_eq(key_state_name(KEY_REJECTED), "rejected");
        ck_assert_str_eq(key_state_name((key_state_t) 9), "invalid");
}
END_TEST

START_TEST(test_keys_put_get_replace_delete) {
        store_t *s = open_ok();
        key_record_t a = make_key_record(1, "web-1", KEY_PENDING), got;

        ck_assert_int_eq(store_key_get(s, a.public_key, &got), -ENOENT);
        ck_assert_int_eq(store_key_put(s, &a), 0);
        memset(&got, 0xAA, sizeof got);
        ck_assert_int_eq(store_key_get(s, a.public_key, &got), 0);
        ck_assert_str_eq(got.public_key, a.public_key);
        ck_assert_str_eq(got.node_id, "web-1");
        ck_assert_int_eq(got.state, KEY_PENDING);
        ck_assert_str_eq(got.address, "10.0.0.1");
        ck_assert_int_eq(got.first_seen, 1001);
        ck_assert_int_eq(got.last_seen, 2001);
        ck_assert_uint_eq(got.attempts, 3);

        /* Replace: same key, new fields; still one row. */
        a.state = KEY_ACCEPTED;
        a.attempts = UINT32_MAX;
        snprintf(a.address, sizeof a.address, "[2001:db8::1]:5555");
        a.last_seen = INT64_C(1) << 40;
        ck_assert_int_eq(store_key_put(s, &a), 0);
        ck_assert_int_eq(store_key_get(s, a.public_key, &got), 0);
        ck_assert_int_eq(got.state, KEY_ACCEPTED);
        ck_assert_uint_eq(got.attempts, UINT32_MAX);
        ck_assert_str_eq(got.address, "[2001:db8::1]:5555");
        ck_assert_int_eq(got.last_seen, INT64_C(1) << 40);
        ck_assert_int_eq(store_keys_count(s, KEY_ACCEPTED), 1);
        ck_assert_int_eq(store_keys_count(s, KEY_PENDING), 0);

        ck_assert_int_eq(store_key_delete(s, a.public_key), 0);
        ck_assert_int_eq(store_key_get(s, a.public_key, &got), -ENOENT);
        ck_assert_int_eq(store_key_delete(s, a.public_key), -ENOENT);
        ck_assert_int_eq(store_keys_count(s, KEY_ACCEPTED), 0);
        store_close(&s);
}
END_TEST

START_TEST(test_keys_bad_input) {
        store_t *s = open_ok();
        key_record_t k = make_key_record(1, "web-1", KEY_PENDING), got;

        k.state = (key_state_t) 3;
        ck_assert_int_eq(store_key_put(s, &k), -EINVAL);
        ck_assert_str_ne(store_last_error(s), "");
        k.state = KEY_PENDING;
        snprintf(k.node_id, sizeof k.node_id, "bad id");
        ck_assert_int_eq(store_key_put(s, &k), -EINVAL);
        snprintf(k.node_id, sizeof k.node_id, "web-1");
        k.public_key[0] = '\0';
        ck_assert_int_eq(store_key_put(s, &k), -EINVAL);
        /* Not NUL-terminated within the field. */
        memset(k.public_key, 'a', sizeof k.public_key);
        ck_assert_int_eq(store_key_put(s, &k), -EINVAL);
        ck_assert_int_eq(store_key_get(s, "", &got), -EINVAL);
        ck_assert_int_eq(store_keys_count(s, KEY_PENDING), 0);

        /* A pending key with no claim yet is allowed. */
        k = make_key_record(2, "", KEY_PENDING);
        ck_assert_int_eq(store_key_put(s, &k), 0);
        ck_assert_int_eq(store_keys_count(s, KEY_PENDING), 1);
        store_close(&s);
}
END_TEST

START_TEST(test_keys_foreach_order_and_count) {
        store_t *s = open_ok();
        /* Inserted out of order; expected order is state, then node id. */
        key_record_t in[] = {
                make_key_record(1, "db-2", KEY_REJECTED),
                make_key_record(2, "web-2", KEY_ACCEPTED),
                make_key_record(3, "web-9", KEY_PENDING),
                make_key_record(4, "app-1", KEY_ACCEPTED),
                make_key_record(5, "cache-1", KEY_PENDING),
                make_key_record(6, "alpha", KEY_REJECTED),
        };
        const int want[] = { 5, 3, 4, 2, 6, 1 }; /* by n */

        for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
                ck_assert_int_eq(store_key_put(s, &in[i]), 0);

        key_list_t l = { 0 };
        ck_assert_int_eq(store_keys_foreach(s, collect_key, &l), 0);
        ck_assert_int_eq(l.n, 6);
        for (int i = 0; i < 6; i++) {
                char k[KEYS_Z85_LEN + 1];
                make_key(k, want[i]);
                ck_assert_str_eq(l.recs[i].public_key, k);
                ck_assert_int_eq(l.recs[i].first_seen, 1000 + want[i]);
        }
        ck_assert_int_eq(store_keys_count(s, KEY_PENDING), 2);
        ck_assert_int_eq(store_keys_count(s, KEY_ACCEPTED), 2);
        ck_assert_int_eq(store_keys_count(s, KEY_REJECTED), 2);

        /* A non-zero return stops the walk and is passed back. */
        key_list_t stop = { .stop_after = 2 };
        ck_assert_int_eq(store_keys_foreach(s, collect_key, &stop), 7);
        ck_assert_int_eq(stop.n, 2);
        /* ... and the statement is reusable afterwards. */
        key_list_t again = { 0 };
        ck_assert_int_eq(store_keys_foreach(s, collect_key, &again), 0);
        ck_assert_int_eq(again.n, 6);
        store_close(&s);
}
END_TEST

static int nested_walk(const key_record_t *rec, void *ud) {
        (void) rec;
        store_t *s = ud;
        key_list_t l = { 0 };
        /* Same table again: refused. Another store call: fine. */
        ck_assert_int_eq(store_keys_foreach(s, collect_key, &l), -EBUSY);
        ck_assert_int_eq(store_keys_count(s, KEY_PENDING), 2);
        return 0;
}

START_TEST(test_keys_nested_walk_refused) {
        store_t *s = open_ok();
        key_record_t a = make_key_record(1, "a", KEY_PENDING), b = make_key_record(2, "b", KEY_PENDING);
        ck_assert_int_eq(store_key_put(s, &a), 0);
        ck_assert_int_eq(store_key_put(s, &b), 0);
        ck_assert_int_eq(store_keys_foreach(s, nested_walk, s), 0);
        store_close(&s);
}
END_TEST

/* ---- nodes ---- */

START_TEST(test_nodes_blobs_with_nul) {
        store_t *s = open_ok();
        const uint8_t b1[] = { 0x00, 0x01, 0x00, 0xff, 0x00 };
        uint8_t b2[300];
        for (size_t i = 0; i < sizeof b2; i++)
                b2[i] = (uint8_t) (i % 7 == 0 ? 0 : i);

        ck_assert_int_eq(store_node_put(s, "web-2", b2, sizeof b2, 20), 0);
        ck_assert_int_eq(store_node_put(s, "web-1", b1, sizeof b1, 10), 0);
        ck_assert_int_eq(store_node_put(s, "empty", NULL, 0, 5), 0);

        node_list_t *l = calloc(1, sizeof *l);
        ck_assert_int_eq(store_nodes_foreach(s, collect_node, l), 0);
        ck_assert_int_eq(l->n, 3);
        ck_assert_str_eq(l->id[0], "empty");
        ck_assert_uint_eq(l->len[0], 0);
        ck_assert_int_eq(l->last_seen[0], 5);
        ck_assert_str_eq(l->id[1], "web-1");
        ck_assert_uint_eq(l->len[1], sizeof b1);
        ck_assert_mem_eq(l->blob[1], b1, sizeof b1);
        ck_assert_int_eq(l->last_seen[1], 10);
        ck_assert_str_eq(l->id[2], "web-2");
        ck_assert_uint_eq(l->len[2], sizeof b2);
        ck_assert_mem_eq(l->blob[2], b2, sizeof b2);
        ck_assert_int_eq(l->last_seen[2], 20);

        /* Replace web-1 with a different blob; delete web-2. */
        const uint8_t b3[] = { 0x00, 0x00, 0x42 };
        ck_assert_int_eq(store_node_put(s, "web-1", b3, sizeof b3, 99), 0);
        ck_assert_int_eq(store_node_delete(s, "web-2"), 0);
        ck_assert_int_eq(store_node_delete(s, "web-2"), -ENOENT);

        memset(l, 0, sizeof *l);
        ck_assert_int_eq(store_nodes_foreach(s, collect_node, l), 0);
        ck_assert_int_eq(l->n, 2);
        ck_assert_str_eq(l->id[1], "web-1");
        ck_assert_uint_eq(l->len[1], sizeof b3);
        ck_assert_mem_eq(l->blob[1], b3, sizeof b3);
        ck_assert_int_eq(l->last_seen[1], 99);

        ck_assert_int_eq(store_node_put(s, "bad id", b1, sizeof b1, 1), -EINVAL);
        ck_assert_int_eq(store_node_put(s, "web-3", NULL, 4, 1), -EINVAL);
        ck_assert_int_eq(count_nodes(s), 2);
        free(l);
        store_close(&s);
}
END_TEST

/* ---- events ---- */

START_TEST(test_events_append_and_filter) {
        store_t *s = open_ok();
        int64_t id, prev = 0;

        for (int i = 0; i < 10; i++) {
                char msg[32];
                snprintf(msg, sizeof msg, "event %d", i);
                ck_assert_int_eq(store_event_append(s, 100 + i, i % 2 ? "web-1" : "", "node.seen",
                                                    "coordinator", msg, &id), 0);
                ck_assert_int_gt(id, prev);
                prev = id;
        }
        ck_assert_int_eq(store_event_append(s, 200, NULL, "key.pending", "unix:root", NULL, NULL), 0);

        event_list_t *l = calloc(1, sizeof *l);
        ck_assert_int_eq(store_events_foreach(s, "web-1", 0, collect_event, l), 0);
        ck_assert_int_eq(l->n, 5);
        for (int i = 0; i < 5; i++) {
                char msg[32];
                snprintf(msg, sizeof msg, "event %d", 2 * i + 1);
                ck_assert_str_eq(l->ev[i].node_id, "web-1");
                ck_assert_str_eq(l->ev[i].message, msg);
                ck_assert_int_eq(l->ev[i].time, 100 + 2 * i + 1);
                ck_assert_str_eq(l->ev[i].kind, "node.seen");
                ck_assert_str_eq(l->ev[i].actor, "coordinator");
                if (i)
                        ck_assert_int_gt(l->ev[i].id, l->ev[i - 1].id);
        }

        memset(l, 0, sizeof *l);
        ck_assert_int_eq(store_events_foreach(s, NULL, 0, collect_event, l), 0);
        ck_assert_int_eq(l->n, 11);
        ck_assert_str_eq(l->ev[10].kind, "key.pending");
        ck_assert_str_eq(l->ev[10].node_id, "");
        ck_assert_str_eq(l->ev[10].message, "");
        ck_assert_int_eq(count_events(s, "web-9"), 0);

        ck_assert_int_eq(store_event_append(s, 1, "bad id", "k", "a", "m", NULL), -EINVAL);
        ck_assert_int_eq(store_event_append(s, 1, NULL, "", "a", "m", NULL), -EINVAL);
        ck_assert_int_eq(store_event_append(s, 1, NULL, "k", NULL, "m", NULL), -EINVAL);
        ck_assert_int_eq(count_events(s, NULL), 11);
        free(l);
        store_close(&s);
}
END_TEST

START_TEST(test_events_limit_newest_ascending) {
        store_t *s = open_ok();
        int64_t ids[150];

        ck_assert_int_eq(store_begin(s), 0);
        for (int i = 0; i < 150; i++) {
                char m[16];
                snprintf(m, sizeof m, "m%d", i);  /* distinct: not coalesced */
                ck_assert_int_eq(store_event_append(s, i, "n1", "k", "a", m, &ids[i]), 0);
        }
        ck_assert_int_eq(store_commit(s), 0);

        event_list_t *l = calloc(1, sizeof *l);
        ck_assert_int_eq(store_events_foreach(s, NULL, 5, collect_event, l), 0);
        ck_assert_int_eq(l->n, 5);
        for (int i = 0; i < 5; i++)
                ck_assert_int_eq(l->ev[i].id, ids[145 + i]);

        /* limit 0 means 100: the newest hundred, oldest first. */
        memset(l, 0, sizeof *l);
        ck_assert_int_eq(store_events_foreach(s, "n1", 0, collect_event, l), 0);
        ck_assert_int_eq(l->n, 100);
        ck_assert_int_eq(l->ev[0].id, ids[50]);
        ck_assert_int_eq(l->ev[99].id, ids[149]);
        ck_assert_int_eq(l->ev[0].time, 50);
        free(l);
        store_close(&s);
}
END_TEST

START_TEST(test_events_long_message_cut) {
        store_t *s = open_ok();
        char msg[1001];
        /* "xy" then 2-byte UTF-8 characters: byte 511 is the first half of
         * one, so a plain byte cut would split it. */
        msg[0] = 'x';
        msg[1] = 'y';
        for (size_t i = 2; i + 1 < sizeof msg; i += 2) {
                msg[i] = (char) 0xc3;
                msg[i + 1] = (char) 0xa9; /* é */
        }
        msg[sizeof msg - 1] = '\0';
        ck_assert_int_eq(store_event_append(s, 1, NULL, "k", "a", msg, NULL), 0);

        event_list_t *l = calloc(1, sizeof *l);
        ck_assert_int_eq(store_events_foreach(s, NULL, 1, collect_event, l), 0);
        ck_assert_int_eq(l->n, 1);
        size_t n = strlen(l->ev[0].message);
        /* Cut before the split character, not after its first byte. */
        ck_assert_uint_eq(n, sizeof l->ev[0].message - 2);
        ck_assert_int_eq(memcmp(l->ev[0].message, msg, n), 0);
        free(l);
        store_close(&s);
}
END_TEST

START_TEST(test_events_append_only_in_schema) {
        store_t *s = open_ok();
        ck_assert_int_eq(store_event_append(s, 1, NULL, "k", "a", "m", NULL), 0);
        store_close(&s);

        sqlite3 *db = NULL;
        ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
        ck_assert_int_ne(sqlite3_exec(db, "DELETE FROM events", NULL, NULL, NULL), SQLITE_OK);
        ck_assert_int_ne(sqlite3_exec(db, "UPDATE events SET message = 'x'", NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
        ck_assert_int_eq(raw_query_int("SELECT count(*) FROM events WHERE message = 'm'"), 1);
}
END_TEST

/* ---- transactions ---- */

START_TEST(test_transaction_rollback) {
        store_t *s = open_ok();
        key_record_t k = make_key_record(1, "web-1", KEY_PENDING);
        const uint8_t blob[] = { 1, 2, 3 };

        ck_assert_int_eq(store_begin(s), 0);
        ck_assert_int_eq(store_begin(s), -EBUSY);
        ck_assert_int_eq(store_key_put(s, &k), 0);
        ck_assert_int_eq(store_node_put(s, "web-1", blob, sizeof blob, 1), 0);
        ck_assert_int_eq(store_event_append(s, 1, "web-1", "k", "a", "m", NULL), 0);
        /* Visible inside the transaction ... */
        ck_assert_int_eq(store_keys_count(s, KEY_PENDING), 1);
        ck_assert_int_eq(store_rollback(s), 0);
        /* ... gone after the rollback. */
        ck_assert_int_eq(store_keys_count(s, KEY_PENDING), 0);
        ck_assert_int_eq(count_nodes(s), 0);
        ck_assert_int_eq(count_events(s, NULL), 0);

        ck_assert_int_eq(store_commit(s), -EINVAL);
        ck_assert_int_eq(store_rollback(s), -EINVAL);
        store_close(&s);

        /* Nothing reached the file either. */
        s = open_ok();
        ck_assert_int_eq(store_keys_count(s, KEY_PENDING), 0);
        ck_assert_int_eq(count_events(s, NULL), 0);
        store_close(&s);
}
END_TEST

START_TEST(test_transaction_commit) {
        store_t *s = open_ok();
        key_record_t k = make_key_record(1, "web-1", KEY_ACCEPTED);
        const uint8_t blob[] = { 0, 9 };

        ck_assert_int_eq(store_begin(s), 0);
        ck_assert_int_eq(store_key_put(s, &k), 0);
        ck_assert_int_eq(store_node_put(s, "web-1", blob, sizeof blob, 1), 0);
        ck_assert_int_eq(store_event_append(s, 1, "web-1", "key.accepted", "unix:root", "", NULL), 0);
        ck_assert_int_eq(store_commit(s), 0);
        /* A second transaction works after the first. */
        ck_assert_int_eq(store_begin(s), 0);
        ck_assert_int_eq(store_event_append(s, 2, "web-1", "k", "a", "m", NULL), 0);
        ck_assert_int_eq(store_commit(s), 0);
        store_close(&s);

        s = open_ok();
        ck_assert_int_eq(store_keys_count(s, KEY_ACCEPTED), 1);
        ck_assert_int_eq(count_nodes(s), 1);
        ck_assert_int_eq(count_events(s, "web-1"), 2);
        store_close(&s);
}
END_TEST

START_TEST(test_close_discards_open_transaction) {
        store_t *s = open_ok();
        ck_assert_int_eq(store_event_append(s, 1, NULL, "k", "a", "kept", NULL), 0);
        ck_assert_int_eq(store_begin(s), 0);
        ck_assert_int_eq(store_event_append(s, 2, NULL, "k", "a", "dropped", NULL), 0);
        store_close(&s);

        s = open_ok();
        event_list_t *l = calloc(1, sizeof *l);
        ck_assert_int_eq(store_events_foreach(s, NULL, 0, collect_event, l), 0);
        ck_assert_int_eq(l->n, 1);
        ck_assert_str_eq(l->ev[0].message, "kept");
        free(l);
        store_close(&s);
}
END_TEST

/* ---- durability ---- */

START_TEST(test_durable_across_reopen) {
        store_t *s = open_ok();
        const uint8_t blob[] = { 0, 'a', 0, 'b' };
        key_record_t k = make_key_record(7, "db-1", KEY_REJECTED);
        int64_t id;

        ck_assert_int_eq(store_key_put(s, &k), 0);
        ck_assert_int_eq(store_node_put(s, "db-1", blob, sizeof blob, 77), 0);
        ck_assert_int_eq(store_event_append(s, 5, "db-1", "key.rejected", "unix:root", "why", &id), 0);
        store_close(&s);

        s = open_ok();
        key_record_t got;
        ck_assert_int_eq(store_key_get(s, k.public_key, &got), 0);
        ck_assert_int_eq(got.state, KEY_REJECTED);
        ck_assert_str_eq(got.node_id, "db-1");
        node_list_t *nl = calloc(1, sizeof *nl);
        ck_assert_int_eq(store_nodes_foreach(s, collect_node, nl), 0);
        ck_assert_int_eq(nl->n, 1);
        ck_assert_uint_eq(nl->len[0], sizeof blob);
        ck_assert_mem_eq(nl->blob[0], blob, sizeof blob);
        ck_assert_int_eq(nl->last_seen[0], 77);
        event_list_t *el = calloc(1, sizeof *el);
        ck_assert_int_eq(store_events_foreach(s, "db-1", 0, collect_event, el), 0);
        ck_assert_int_eq(el->n, 1);
        ck_assert_int_eq(el->ev[0].id, id);
        ck_assert_str_eq(el->ev[0].message, "why");

        /* Ids keep increasing after a reopen. */
        int64_t id2;
        ck_assert_int_eq(store_event_append(s, 6, NULL, "k", "a", "m", &id2), 0);
        ck_assert_int_gt(id2, id);
        free(nl);
        free(el);
        store_close(&s);
}
END_TEST

/* The child writes, commits and dies without closing: the WAL is never
 * checkpointed and nothing is cleaned up, as after kill -9. */
static void crash_after_commit(bool by_signal) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                store_t *s = NULL;
                if (store_open(dbpath, &s) < 0)
                        _exit(2);
                if (store_begin(s) < 0 ||
                    store_event_append(s, 42, "web-1", "node.crash", "child", "committed", NULL) < 0 ||
                    store_commit(s) < 0)
                        _exit(3);
                /* Started but never committed: must not appear. */
                if (store_begin(s) < 0 ||
                    store_event_append(s, 43, "web-1", "node.crash", "child", "uncommitted", NULL) < 0)
                        _exit(4);
                if (by_signal)
                        raise(SIGKILL);
                _exit(0);
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        if (by_signal)
                ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        else
                ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        store_t *s = open_ok();
        event_list_t *l = calloc(1, sizeof *l);
        ck_assert_int_eq(store_events_foreach(s, "web-1", 0, collect_event, l), 0);
        ck_assert_int_eq(l->n, 1);
        ck_assert_str_eq(l->ev[0].message, "committed");
        ck_assert_int_eq(l->ev[0].time, 42);
        free(l);
        store_close(&s);
}

START_TEST(test_crash_exit_after_commit) {
        crash_after_commit(false);
}
END_TEST

START_TEST(test_crash_sigkill_after_commit) {
        crash_after_commit(true);
}
END_TEST


/* ---- commands ---------------------------------------------------------- */

typedef struct {
        int n;
        char ids[8][64];
        int states[8];
        size_t result_len[8];
        uint8_t first_result_byte;
} cmd_seen_t;

static int see_command(const command_record_t *c, void *ud) {
        cmd_seen_t *seen = ud;
        if (seen->n < 8) {
                snprintf(seen->ids[seen->n], 64, "%s", c->id);
                seen->states[seen->n] = c->state;
                seen->result_len[seen->n] = c->result_len;
                if (c->result_len)
                        seen->first_result_byte = c->result[0];
        }
        seen->n++;
        return 0;
}

START_TEST(test_commands_lifecycle) {
        store_t *s = open_ok();
        const uint8_t req[] = { 0x0a, 0x00, 0x01 };
        const uint8_t res[] = { 0x00, 0x42 };
        command_record_t c = { .state = 0, .request = req, .request_len = sizeof req, .created = 100 };
        cmd_seen_t seen = { 0 };

        snprintf(c.id, sizeof c.id, "cmd-a");
        snprintf(c.node_id, sizeof c.node_id, "db1");
        snprintf(c.kind, sizeof c.kind, "install");
        snprintf(c.actor, sizeof c.actor, "unix:root");
        ck_assert_int_eq(store_command_put(s, &c), 0);
        ck_assert_int_lt(store_command_put(s, &c), 0);          /* duplicate id */
        snprintf(c.id, sizeof c.id, "cmd-b");
        snprintf(c.node_id, sizeof c.node_id, "db2");
        c.created = 101;
        ck_assert_int_eq(store_command_put(s, &c), 0);

        ck_assert_int_eq(store_commands_unfinished(s, NULL, 3, see_command, &seen), 0);
        ck_assert_int_eq(seen.n, 2);
        ck_assert_str_eq(seen.ids[0], "cmd-a");                 /* oldest first */
        memset(&seen, 0, sizeof seen);
        ck_assert_int_eq(store_commands_unfinished(s, "db2", 3, see_command, &seen), 0);
        ck_assert_int_eq(seen.n, 1);
        ck_assert_str_eq(seen.ids[0], "cmd-b");

        ck_assert_int_eq(store_command_update(s, "cmd-a", 3, res, sizeof res, 200), 0);
        ck_assert_int_eq(store_command_update(s, "nope", 3, res, sizeof res, 200), -ENOENT);
        memset(&seen, 0, sizeof seen);
        ck_assert_int_eq(store_command_get(s, "cmd-a", see_command, &seen), 0);
        ck_assert_int_eq(seen.n, 1);
        ck_assert_int_eq(seen.states[0], 3);
        ck_assert_uint_eq(seen.result_len[0], sizeof res);      /* a blob with a NUL */
        ck_assert_int_eq(store_command_get(s, "nope", see_command, &seen), -ENOENT);
        memset(&seen, 0, sizeof seen);
        ck_assert_int_eq(store_commands_unfinished(s, NULL, 3, see_command, &seen), 0);
        ck_assert_int_eq(seen.n, 1);                            /* cmd-a is final now */
        ck_assert_str_eq(seen.ids[0], "cmd-b");
        store_close(&s);

        s = open_ok();                                          /* durable */
        memset(&seen, 0, sizeof seen);
        ck_assert_int_eq(store_command_get(s, "cmd-a", see_command, &seen), 0);
        ck_assert_int_eq(seen.states[0], 3);
        store_close(&s);
}
END_TEST

static int s_latest_seq(const upgrade_row_t *u, void *ud) {
        int64_t *seq = ud;
        ck_assert_str_eq(u->id, *seq == 0 ? "up-2" : "?");
        ck_assert_str_eq(u->plan_name, "second");
        ck_assert_str_eq(u->content, "name = \"second\";");
        ck_assert_uint_eq(u->setup_len, 3);
        ck_assert_mem_eq(u->setup, "\x01\x00\x02", 3);
        *seq = u->seq;
        return 0;
}

typedef struct {
        int n;
        char last[64];
        size_t last_len;
} jobs_seen_t;

static int s_job_seen(const job_row_t *j, void *ud) {
        jobs_seen_t *x = ud;
        x->n++;
        ck_assert_int_eq(j->seq, x->n);
        snprintf(x->last, sizeof x->last, "%s %s %.*s", j->id, j->actor, (int) j->record_len,
                 (const char *) j->record);
        return 0;
}

/* Jobs: put inserts, then replaces only the record of the same seq and
 * id; foreach gives them oldest first; a row survives a reopen. */
START_TEST(test_jobs_put_and_foreach) {
        store_t *s = open_ok();
        jobs_seen_t x = { 0 };
        job_row_t a = { .seq = 1, .id = "job-1", .actor = "unix:root", .created = 10,
                        .record = (const uint8_t *) "aa", .record_len = 2 };
        job_row_t b = { .seq = 2, .id = "job-2", .actor = "unix:ops", .created = 20,
                        .record = (const uint8_t *) "bb", .record_len = 2 };
        ck_assert_int_eq(store_jobs_foreach(s, s_job_seen, &x), 0);
        ck_assert_int_eq(x.n, 0);
        ck_assert_int_eq(store_job_put(s, &a), 0);
        ck_assert_int_eq(store_job_put(s, &b), 0);
        b.record = (const uint8_t *) "b2";
        ck_assert_int_eq(store_job_put(s, &b), 0);
        job_row_t other = b;
        other.id = "job-9";
        other.record = (const uint8_t *) "zz";
        ck_assert_int_eq(store_job_put(s, &other), 0);   /* another id on seq 2: nothing changes */
        other.seq = 0;
        ck_assert_int_lt(store_job_put(s, &other), 0);
        ck_assert_int_eq(store_jobs_foreach(s, s_job_seen, &x), 0);
        ck_assert_int_eq(x.n, 2);
        ck_assert_str_eq(x.last, "job-2 unix:ops b2");
        store_close(&s);
        s = open_ok();
        x.n = 0;
        ck_assert_int_eq(store_jobs_foreach(s, s_job_seen, &x), 0);
        ck_assert_int_eq(x.n, 2);
        store_close(&s);
}
END_TEST

/* Upgrades: the latest is found; records are keyed by (type, index), so a
 * put replaces a record and leaves the others; a duplicate seq is refused. */
START_TEST(test_upgrades_and_records) {
        store_t *s = open_ok();
        int64_t seq = 0;
        ck_assert_int_eq(store_upgrade_latest(s, s_latest_seq, &seq), -ENOENT);
        upgrade_row_t a = { .seq = 1, .id = "up-1", .plan_name = "first", .file_name = "a.conf",
                            .content = "name = \"first\";", .actor = "unix:root", .started = 100,
                            .setup = (const uint8_t *) "\x01", .setup_len = 1 };
        upgrade_row_t b = { .seq = 2, .id = "up-2", .plan_name = "second", .file_name = "b.conf",
                            .content = "name = \"second\";", .actor = "unix:root", .started = 200,
                            .setup = (const uint8_t *) "\x01\x00\x02", .setup_len = 3 };
        ck_assert_int_eq(store_upgrade_put(s, &a), 0);
        ck_assert_int_eq(store_upgrade_put(s, &b), 0);
        ck_assert_int_eq(store_upgrade_put(s, &b), -EIO);
        ck_assert_int_eq(store_upgrade_latest(s, s_latest_seq, &seq), 0);
        ck_assert_int_eq(seq, 2);

        upgrade_record_t r[3] = { { .type = 1, .index = 0, .v = { 5, -1 } },
                                  { .type = 3, .index = 1, .v = { 7 }, .text = "db2 failed" },
                                  { .type = 3, .index = 0, .v = { INT64_MAX, INT64_MIN } } };
        ck_assert_int_eq(store_upgrade_records_put(s, 2, r, 3), 0);
        r[1].v[0] = 8;
        snprintf(r[1].text, sizeof r[1].text, "db2 rolled back");
        ck_assert_int_eq(store_upgrade_records_put(s, 2, &r[1], 1), 0);
        ck_assert_int_eq(store_upgrade_records_put(s, 1, &r[0], 1), 0);
        upgrade_record_t *got = NULL;
        size_t n = 0;
        ck_assert_int_eq(store_upgrade_records_get(s, 2, &got, &n), 0);
        ck_assert_uint_eq(n, 3);
        /* by type, then index */
        ck_assert_int_eq(got[0].type, 1);
        ck_assert_int_eq(got[0].v[1], -1);
        ck_assert_int_eq(got[1].index, 0);
        ck_assert(got[1].v[0] == INT64_MAX && got[1].v[1] == INT64_MIN);
        ck_assert_int_eq(got[2].v[0], 8);
        ck_assert_str_eq(got[2].text, "db2 rolled back");
        free(got);
        ck_assert_int_eq(store_upgrade_records_get(s, 3, &got, &n), 0);
        ck_assert_uint_eq(n, 0);
        free(got);
        store_close(&s);
}
END_TEST

/* ---- storage failures ------------------------------------------------------ */

static int append(store_t *s, const char *msg) {
        return store_event_append(s, 1000, "", "test.event", "coordinator", msg, NULL);
}

START_TEST(test_health_full_disk_degrades_and_recovers) {
        ck_assert_int_eq(failing_vfs_install(), SQLITE_OK);
        store_t *s = open_ok();
        ck_assert(!store_health(s)->degraded);
        ck_assert_int_eq(append(s, "before"), 0);

        failing_vfs_set_full(true);
        ck_assert_int_eq(append(s, "lost"), -ENOSPC);
        const store_health_t *h = store_health(s);
        ck_assert(h->degraded);
        ck_assert_int_gt(h->since, 0);
        ck_assert_uint_eq(h->failures, 1);
        ck_assert_msg(strstr(h->error, "full"), "error: %s", h->error);
        /* A transaction that cannot commit counts too, and nothing is
         * left open. */
        ck_assert_int_eq(store_begin(s), 0);
        int r = append(s, "in a transaction");
        if (r == 0)
                r = store_commit(s);
        else
                ck_assert_int_eq(store_rollback(s), 0);
        ck_assert_int_eq(r, -ENOSPC);
        ck_assert_uint_eq(store_health(s)->failures, 2);
        ck_assert_int_lt(store_probe(s), 0);
        ck_assert(store_health(s)->degraded);
        ck_assert(!store_take_recovered(s));

        failing_vfs_set_full(false);
        ck_assert_int_eq(store_probe(s), 0);
        ck_assert(!store_health(s)->degraded);
        ck_assert_str_eq(store_health(s)->error, "");
        ck_assert(store_take_recovered(s));
        ck_assert(!store_take_recovered(s));  /* once */
        ck_assert_int_eq(append(s, "after"), 0);
        store_close(&s);
}
END_TEST

START_TEST(test_health_input_errors_are_not_storage_errors) {
        store_t *s = open_ok();
        ck_assert_int_eq(store_event_append(s, 1000, "bad id!", "test.event", "coordinator", "", NULL), -EINVAL);
        ck_assert_int_eq(store_commit(s), -EINVAL);
        ck_assert(!store_health(s)->degraded);
        ck_assert_int_eq(store_probe(s), 0);
        ck_assert(!store_take_recovered(s));
        store_close(&s);
}
END_TEST

static Suite *store_suite(void) {
        Suite *su = suite_create("store");
        TCase *tc;

        tc = tcase_create("open");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_open_creates_private_file);
        tcase_add_test(tc, test_open_missing_directory);
        tcase_add_test(tc, test_open_random_bytes);
        tcase_add_test(tc, test_open_corrupt_schema_page);
        tcase_add_test(tc, test_open_newer_schema_refused);
        tcase_add_test(tc, test_reopen_keeps_schema);
        suite_add_tcase(su, tc);

        tc = tcase_create("keys");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_key_state_name);
        tcase_add_test(tc, test_keys_put_get_replace_delete);
        tcase_add_test(tc, test_keys_bad_input);
        tcase_add_test(tc, test_keys_foreach_order_and_count);
        tcase_add_test(tc, test_keys_nested_walk_refused);
        suite_add_tcase(su, tc);

        tc = tcase_create("nodes");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_nodes_blobs_with_nul);
        suite_add_tcase(su, tc);

        tc = tcase_create("commands");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_commands_lifecycle);
        suite_add_tcase(su, tc);

        tc = tcase_create("upgrades");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_upgrades_and_records);
        tcase_add_test(tc, test_jobs_put_and_foreach);
        suite_add_tcase(su, tc);

        tc = tcase_create("events");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_events_append_and_filter);
        tcase_add_test(tc, test_events_limit_newest_ascending);
        tcase_add_test(tc, test_events_long_message_cut);
        tcase_add_test(tc, test_events_append_only_in_schema);
        suite_add_tcase(su, tc);

        tc = tcase_create("health");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_health_full_disk_degrades_and_recovers);
        tcase_add_test(tc, test_health_input_errors_are_not_storage_errors);
        suite_add_tcase(su, tc);

        tc = tcase_create("transactions");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_transaction_rollback);
        tcase_add_test(tc, test_transaction_commit);
        tcase_add_test(tc, test_close_discards_open_transaction);
        suite_add_tcase(su, tc);

        tc = tcase_create("durability");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_durable_across_reopen);
        tcase_add_test(tc, test_crash_exit_after_commit);
        tcase_add_test(tc, test_crash_sigkill_after_commit);
        suite_add_tcase(su, tc);
        return su;
}

int main(void) {
        SRunner *sr = srunner_create(store_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
