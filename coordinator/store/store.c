#include "coordinator/store/store.h"

#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/sqldb.h"

#define STORE_EVENTS_DEFAULT_LIMIT 100

#define FIELD_SIZE(type, field) sizeof(((type *) 0)->field)

/* ---- schema ----------------------------------------------------------------
 *
 * PRAGMA user_version is the schema version. Each migration takes the
 * database from version - 1 to version; store_open applies the missing ones
 * in order, all in one transaction, so a crash mid-upgrade leaves the old
 * schema intact. Append new entries; never edit a released one. */
static const sqldb_migration_t migrations[] = {
        { 1,
          "CREATE TABLE keys ("
          "  public_key TEXT PRIMARY KEY NOT NULL,"
          "  node_id    TEXT NOT NULL DEFAULT '',"
          "  state      INTEGER NOT NULL,"
          "  address    TEXT NOT NULL DEFAULT '',"
          "  first_seen INTEGER NOT NULL,"
          "  last_seen  INTEGER NOT NULL,"
          "  attempts   INTEGER NOT NULL DEFAULT 0"
          ");"
          "CREATE INDEX keys_state_node ON keys(state, node_id);"
          "CREATE TABLE nodes ("
          "  node_id   TEXT PRIMARY KEY NOT NULL,"
          "  info      BLOB NOT NULL,"
          "  last_seen INTEGER NOT NULL"
          ");"
          /* AUTOINCREMENT: ids are never reused, so an id a client has seen
           * always names the same event. */
          "CREATE TABLE events ("
          "  id      INTEGER PRIMARY KEY AUTOINCREMENT,"
          "  time    INTEGER NOT NULL,"
          "  node_id TEXT NOT NULL DEFAULT '',"
          "  kind    TEXT NOT NULL,"
          "  actor   TEXT NOT NULL,"
          "  message TEXT NOT NULL"
          ");"
          "CREATE INDEX events_node_id ON events(node_id, id);"
          /* The event log is an audit trail: refuse edits in the database
           * itself, not only in this file. A retention migration may later
           * replace the DELETE trigger. */
          "CREATE TRIGGER events_no_update BEFORE UPDATE ON events"
          "  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"
          "CREATE TRIGGER events_no_delete BEFORE DELETE ON events"
          "  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;" },
        /* Commands sent to agents: the request as sent and the latest
         * status reported, so a restarted coordinator can ask agents about
         * the ones in flight instead of resending them. */
        { 2,
          "CREATE TABLE commands ("
          "  id       TEXT PRIMARY KEY NOT NULL,"
          "  node_id  TEXT NOT NULL,"
          "  kind     TEXT NOT NULL,"
          "  actor    TEXT NOT NULL,"
          "  state    INTEGER NOT NULL,"
          "  request  BLOB NOT NULL,"
          "  result   BLOB,"
          "  created  INTEGER NOT NULL,"
          "  updated  INTEGER NOT NULL"
          ");"
          "CREATE INDEX commands_node_state ON commands(node_id, state);" },
        /* Upgrades: the plan as given, the setup resolved at start (a
         * packed UpgradeSetup: nodes, phases, quorum groups), and the
         * executor's state as flat records, one row per record, rewritten
         * in the transaction that precedes every command it sends. */
        { 3,
          "CREATE TABLE upgrades ("
          "  seq       INTEGER PRIMARY KEY,"
          "  id        TEXT NOT NULL UNIQUE,"
          "  plan_name TEXT NOT NULL,"
          "  file_name TEXT NOT NULL,"
          "  content   TEXT NOT NULL,"
          "  actor     TEXT NOT NULL,"
          "  started   INTEGER NOT NULL,"
          "  setup     BLOB NOT NULL"
          ");"
          "CREATE TABLE upgrade_records ("
          "  upgrade_seq INTEGER NOT NULL,"
          "  type INTEGER NOT NULL,"
          "  idx  INTEGER NOT NULL,"
          "  v0 INTEGER NOT NULL, v1 INTEGER NOT NULL, v2 INTEGER NOT NULL, v3 INTEGER NOT NULL,"
          "  v4 INTEGER NOT NULL, v5 INTEGER NOT NULL, v6 INTEGER NOT NULL, v7 INTEGER NOT NULL,"
          "  text TEXT NOT NULL,"
          "  PRIMARY KEY (upgrade_seq, type, idx)"
          ") WITHOUT ROWID;" },
        /* The id of a command's command.sent event: history orders a
         * command among the events of the same second by it. */
        { 4, "ALTER TABLE commands ADD COLUMN sent_event INTEGER NOT NULL DEFAULT 0;" },
        /* One row store_probe() rewrites to find out whether writes work
         * again after a storage failure. */
        { 5, "CREATE TABLE probe (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL);"
             "INSERT INTO probe (id, at) VALUES (1, 0);" },
        /* Coalescing and retention (issue 15: a loop of Hellos filled the
         * disk). An event repeated back to back is one row with a count
         * and the time of its last occurrence (0 in older rows: the same
         * as time). The log stays an audit trail, enforced here: a row's
         * text never changes; only the newest row of its node may have its
         * count raised (and last_time moved forward); only the oldest row
         * may be deleted, and never the newest, so retention cuts the log
         * from its old end and cannot erase one event in the middle. */
        { 6,
          "ALTER TABLE events ADD COLUMN count INTEGER NOT NULL DEFAULT 1;"
          "ALTER TABLE events ADD COLUMN last_time INTEGER NOT NULL DEFAULT 0;"
          "DROP TRIGGER events_no_update;"
          "DROP TRIGGER events_no_delete;"
          "CREATE TRIGGER events_count_only BEFORE UPDATE ON events"
          "  WHEN NEW.id IS NOT OLD.id OR NEW.time IS NOT OLD.time OR NEW.node_id IS NOT OLD.node_id"
          "    OR NEW.kind IS NOT OLD.kind OR NEW.actor IS NOT OLD.actor OR NEW.message IS NOT OLD.message"
          "    OR NEW.count <= OLD.count OR NEW.last_time < OLD.last_time"
          "    OR OLD.id <> (SELECT max(id) FROM events WHERE node_id = OLD.node_id)"
          "  BEGIN SELECT RAISE(ABORT, 'events are append-only: only the count of a node''s newest event may grow'); END;"
          "CREATE TRIGGER events_oldest_first BEFORE DELETE ON events"
          "  WHEN OLD.id <> (SELECT min(id) FROM events) OR OLD.id = (SELECT max(id) FROM events)"
          "  BEGIN SELECT RAISE(ABORT, 'events are append-only: retention deletes the oldest first, never the newest'); END;" },
        /* Batch jobs (issue 17): one row per job, its whole state a packed
         * JobRecord, rewritten in the transaction that precedes every
         * command it sends. */
        { 7,
          "CREATE TABLE jobs ("
          "  seq     INTEGER PRIMARY KEY,"
          "  id      TEXT NOT NULL UNIQUE,"
          "  actor   TEXT NOT NULL,"
          "  created INTEGER NOT NULL,"
          "  record  BLOB NOT NULL"
          ");" },
};

/* ---- cached statements ---------------------------------------------------- */

typedef enum {
        STMT_BEGIN,
        STMT_COMMIT,
        STMT_ROLLBACK,
        STMT_KEY_PUT,
        STMT_KEY_GET,
        STMT_KEY_DELETE,
        STMT_KEYS_ALL,
        STMT_KEYS_COUNT,
        STMT_NODE_PUT,
        STMT_NODE_DELETE,
        STMT_NODES_ALL,
        STMT_EVENT_APPEND,
        STMT_EVENT_COALESCE,
        STMT_EVENTS_COUNT,
        STMT_EVENTS_AGE_BOUNDARY,
        STMT_EVENTS_DELETE_BEFORE,
        STMT_EVENTS_ALL,
        STMT_EVENTS_NODE,
        STMT_COMMAND_PUT,
        STMT_COMMAND_UPDATE,
        STMT_COMMAND_GET,
        STMT_COMMANDS_UNFINISHED,
        STMT_COMMANDS_BY_STATE,
        STMT_UPGRADE_PUT,
        STMT_UPGRADE_LATEST,
        STMT_JOB_PUT,
        STMT_JOBS_FOREACH,
        STMT_UPGRADE_RECORD_PUT,
        STMT_UPGRADE_RECORDS,
        STMT_HISTORY,
        STMT_PROBE,
        _STMT_MAX,
} store_stmt_id_t;

#define COMMAND_COLUMNS "id, node_id, kind, actor, state, created, updated, request, result"
#define KEY_COLUMNS "public_key, node_id, state, address, first_seen, last_seen, attempts"
#define EVENT_COLUMNS "id, time, node_id, kind, actor, message, count, max(time, last_time)"

static const char *const stmt_sql[_STMT_MAX] = {
        /* IMMEDIATE takes the write lock now: a deferred transaction that
         * reads first can fail to upgrade with SQLITE_BUSY, which the busy
         * timeout cannot resolve. */
        [STMT_BEGIN] = "BEGIN IMMEDIATE",
        [STMT_COMMIT] = "COMMIT",
        [STMT_ROLLBACK] = "ROLLBACK",
        [STMT_KEY_PUT] = "INSERT OR REPLACE INTO keys (" KEY_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        [STMT_KEY_GET] = "SELECT " KEY_COLUMNS " FROM keys WHERE public_key = ?1",
        [STMT_KEY_DELETE] = "DELETE FROM keys WHERE public_key = ?1",
        [STMT_KEYS_ALL] = "SELECT " KEY_COLUMNS " FROM keys ORDER BY state, node_id, public_key",
        [STMT_KEYS_COUNT] = "SELECT count(*) FROM keys WHERE state = ?1",
        [STMT_NODE_PUT] = "INSERT OR REPLACE INTO nodes (node_id, info, last_seen) VALUES (?1, ?2, ?3)",
        [STMT_NODE_DELETE] = "DELETE FROM nodes WHERE node_id = ?1",
        [STMT_NODES_ALL] = "SELECT node_id, info, last_seen FROM nodes ORDER BY node_id",
        [STMT_COMMAND_PUT] = "INSERT INTO commands (id, node_id, kind, actor, state, request, created, updated,"
                              " sent_event) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)",
        [STMT_COMMAND_UPDATE] = "UPDATE commands SET state = ?2, result = ?3, updated = ?4 WHERE id = ?1",
        [STMT_COMMAND_GET] = "SELECT " COMMAND_COLUMNS " FROM commands WHERE id = ?1",
        [STMT_COMMANDS_BY_STATE] = "SELECT kind, state, count(*) FROM commands GROUP BY kind, state",
        [STMT_COMMANDS_UNFINISHED] = "SELECT " COMMAND_COLUMNS " FROM commands WHERE state < ?1"
                                     " AND (?2 = '' OR node_id = ?2) ORDER BY created, id",
        [STMT_UPGRADE_PUT] = "INSERT INTO upgrades (seq, id, plan_name, file_name, content, actor, started, setup)"
                              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        [STMT_JOB_PUT] = "INSERT INTO jobs (seq, id, actor, created, record) VALUES (?1, ?2, ?3, ?4, ?5)"
                         " ON CONFLICT (seq) DO UPDATE SET record = excluded.record WHERE id = excluded.id",
        [STMT_JOBS_FOREACH] = "SELECT seq, id, actor, created, record FROM jobs ORDER BY seq",
        [STMT_UPGRADE_LATEST] = "SELECT seq, id, plan_name, file_name, content, actor, started, setup"
                                " FROM upgrades ORDER BY seq DESC LIMIT 1",
        [STMT_UPGRADE_RECORD_PUT] = "INSERT OR REPLACE INTO upgrade_records"
                                    " (upgrade_seq, type, idx, v0, v1, v2, v3, v4, v5, v6, v7, text)"
                                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        [STMT_UPGRADE_RECORDS] = "SELECT type, idx, v0, v1, v2, v3, v4, v5, v6, v7, text FROM upgrade_records"
                                 " WHERE upgrade_seq = ?1 ORDER BY type, idx",
        /* Admin actions (events caused by a unix user, or about upgrades;
         * command.* events are left out: the commands rows say more) and
         * commands, merged by time, then (within a second) by event id,
         * a command's being its command.sent event's; the newest ?1,
         * oldest first. */
        [STMT_HISTORY] = "SELECT * FROM ("
                         " SELECT time AS t, id AS o, 0 AS c, actor, node_id, kind, message,"
                         "  '', NULL, NULL, 0, 0, count FROM events"
                         "  WHERE (actor LIKE 'unix:%' OR kind LIKE 'upgrade.%') AND kind NOT LIKE 'command.%'"
                         "  AND (?2 = '' OR node_id = ?2)"
                         " UNION ALL"
                         " SELECT created, sent_event, 1, actor, node_id, kind, '', id, request, result, state, updated, 1"
                         "  FROM commands WHERE (?2 = '' OR node_id = ?2)"
                         " ORDER BY t DESC, o DESC, c DESC LIMIT ?1) ORDER BY t, o, c",
        [STMT_PROBE] = "UPDATE probe SET at = ?1 WHERE id = 1",
        [STMT_EVENT_APPEND] = "INSERT INTO events (time, node_id, kind, actor, message, count, last_time)"
                              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?1)",
        /* The same event as its node's newest row: that row counts it. */
        [STMT_EVENT_COALESCE] = "UPDATE events SET count = count + ?6, last_time = max(time, last_time, ?1)"
                                " WHERE id = (SELECT max(id) FROM events WHERE node_id = ?2)"
                                " AND kind = ?3 AND actor = ?4 AND message = ?5 RETURNING id",
        [STMT_EVENTS_COUNT] = "SELECT count(*) FROM events",
        /* The first event last seen at or after ?1, or the newest (which
         * retention keeps): everything before it is older. */
        [STMT_EVENTS_AGE_BOUNDARY] = "SELECT min(coalesce((SELECT min(id) FROM events WHERE max(time, last_time) >= ?1),"
                                     " 9223372036854775807), coalesce((SELECT max(id) FROM events), 0))",
        [STMT_EVENTS_DELETE_BEFORE] = "DELETE FROM events WHERE id IN"
                                      " (SELECT id FROM events WHERE id < ?1 ORDER BY id LIMIT ?2)",
        /* The newest `limit` rows, turned back to oldest first. */
        [STMT_EVENTS_ALL] = "SELECT * FROM (SELECT " EVENT_COLUMNS " FROM events ORDER BY id DESC LIMIT ?1) ORDER BY id",
        [STMT_EVENTS_NODE] = "SELECT * FROM (SELECT " EVENT_COLUMNS " FROM events WHERE node_id = ?2"
                             " ORDER BY id DESC LIMIT ?1) ORDER BY id",
};

static const sqldb_schema_t schema = {
        .name = "store",
        .migrations = migrations,
        .n_migrations = sizeof migrations / sizeof migrations[0],
        .stmt_sql = stmt_sql,
        .n_stmt = _STMT_MAX,
};

struct store {
        sqlite3 *db;
        sqlite3_stmt *stmt[_STMT_MAX];
        /* Set by store_begin, cleared by commit/rollback. SQLite may roll a
         * transaction back on its own after some errors; comparing this with
         * sqlite3_get_autocommit() lets store_commit report that instead of
         * "no transaction". */
        bool in_transaction;
        char last_error[256];
        store_health_t health;
        char *dir;           /* the directory of the file, for its free space */
        bool recovered;      /* writes work again; store_take_recovered() not yet called */
        store_commit_latency_t commit_latency;
};

const double store_commit_bucket_s[STORE_COMMIT_BUCKETS - 1] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                  0.05, 0.1, 0.25, 0.5, 1.0 };

const store_commit_latency_t *store_commit_latency(const store_t *s) {
        return &s->commit_latency;
}

static void s_note_commit(store_t *s, int64_t us) {
        double secs = (double) us / 1e6;
        size_t b = 0;
        while (b < STORE_COMMIT_BUCKETS - 1 && secs > store_commit_bucket_s[b])
                b++;
        s->commit_latency.bucket[b]++;
        s->commit_latency.count++;
        s->commit_latency.sum_s += secs;
}

const char *key_state_name(key_state_t s) {
        switch (s) {
        case KEY_PENDING:
                return "pending";
        case KEY_ACCEPTED:
                return "accepted";
        case KEY_REJECTED:
                return "rejected";
        }
        return "invalid";
}

/* ---- errors ----------------------------------------------------------------- */

static int s_fail(store_t *s, int rc, const char *what) {
        snprintf(s->last_error, sizeof s->last_error, "%s: %s", what,
                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        log_debug("store: %s", s->last_error);
        if (store_health_storage_error(rc))
                store_health_failed(&s->health, clock_wall_s(), s->last_error);
        return sqldb_errno(rc);
}

/* A write reached the disk. */
static void s_wrote(store_t *s) {
        if (store_health_ok(&s->health, clock_wall_s()))
                s->recovered = true;
}

static int s_invalid(store_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int s_invalid(store_t *s, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(s->last_error, sizeof s->last_error, fmt, ap);
        va_end(ap);
        log_debug("store: %s", s->last_error);
        return -EINVAL;
}

/* ---- small helpers -------------------------------------------------------- */

/* Runs a statement that returns no rows and resets it. */
static int s_step_done(store_t *s, sqlite3_stmt *st, const char *what) {
        int rc = sqlite3_step(st);
        int r = rc == SQLITE_DONE ? 0 : s_fail(s, rc, what);
        /* Outside a transaction a successful write is committed; COMMIT
         * itself counts as read-only to SQLite (store_commit reports it). */
        if (r == 0 && !sqlite3_stmt_readonly(st) && sqlite3_get_autocommit(s->db))
                s_wrote(s);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return r;
}

static void s_finish(sqlite3_stmt *st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
}

/* Bounded copy of a text column into a fixed field; a longer or NUL-bearing
 * value (only possible if something else wrote the file) is cut, never
 * overflows. */
static void s_column_text(sqlite3_stmt *st, int col, char *buf, size_t size) {
        const unsigned char *t = sqlite3_column_text(st, col);
        size_t n = t ? (size_t) sqlite3_column_bytes(st, col) : 0;

        if (n >= size)
                n = size - 1;
        if (n)
                memcpy(buf, t, n);
        buf[n] = '\0';
}

static bool s_fits(const char *str, size_t size) {
        return str && strnlen(str, size) < size;
}

/* Length of at most max bytes of str, not ending inside a UTF-8 sequence. */
static size_t s_utf8_cut(const char *str, size_t max) {
        size_t n = strnlen(str, max + 1);

        if (n <= max)
                return n;
        n = max;
        while (n > 0 && ((unsigned char) str[n] & 0xc0) == 0x80)
                n--;
        return n;
}

static bool s_busy(store_t *s, store_stmt_id_t id) {
        if (sqlite3_stmt_busy(s->stmt[id])) {
                snprintf(s->last_error, sizeof s->last_error, "nested walk of the same table");
                return true;
        }
        return false;
}

/* ---- open / close ---------------------------------------------------------- */

int store_open(const char *path, store_t **ret) {
        if (!path || !*path || !ret)
                return -EINVAL;

        store_t *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        const char *slash = strrchr(path, '/');
        s->dir = slash ? strndup(path, slash == path ? 1 : (size_t) (slash - path)) : strdup(".");
        if (!s->dir) {
                free(s);
                return -ENOMEM;
        }
        int r = sqldb_open(path, &schema, &s->db, s->stmt, s->last_error, sizeof s->last_error);
        if (r < 0) {
                free(s->dir);
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

void store_close(store_t **sp) {
        if (!sp || !*sp)
                return;
        store_t *s = *sp;

        sqldb_close(s->db, s->stmt, _STMT_MAX);
        free(s->dir);
        free(s);
        *sp = NULL;
}

const char *store_last_error(const store_t *s) {
        return s ? s->last_error : "";
}

const store_health_t *store_health(const store_t *s) {
        return &s->health;
}

bool store_take_recovered(store_t *s) {
        bool r = s->recovered;
        s->recovered = false;
        return r;
}

int store_check_space(store_t *s, uint64_t floor_bytes) {
        struct statvfs sv;
        if (statvfs(s->dir, &sv) < 0)
                return -errno;
        store_health_space(&s->health, (uint64_t) sv.f_bavail * sv.f_frsize, floor_bytes);
        return 0;
}

int store_probe(store_t *s) {
        if (s->in_transaction)
                return 0;  /* the transaction's commit will tell */
        sqlite3_bind_int64(s->stmt[STMT_PROBE], 1, clock_wall_s());
        return s_step_done(s, s->stmt[STMT_PROBE], "probe");
}

/* ---- transactions ---------------------------------------------------------- */

int store_begin(store_t *s) {
        /* A rollback that failed (a full disk) may have left SQLite's
         * transaction open with nothing of ours in it: end it, or every
         * later write would fail as "already open". */
        if (!s->in_transaction && !sqlite3_get_autocommit(s->db))
                (void) s_step_done(s, s->stmt[STMT_ROLLBACK], "rollback of a transaction left open");
        if (s->in_transaction || !sqlite3_get_autocommit(s->db)) {
                snprintf(s->last_error, sizeof s->last_error, "a transaction is already open");
                return -EBUSY;
        }
        int r = s_step_done(s, s->stmt[STMT_BEGIN], "begin");
        if (r < 0)
                return r;
        s->in_transaction = true;
        return 0;
}

int store_commit(store_t *s) {
        if (!s->in_transaction)
                return s_invalid(s, "commit without a transaction");
        if (sqlite3_get_autocommit(s->db)) {
                /* SQLite rolled back on its own after an earlier error. */
                s->in_transaction = false;
                snprintf(s->last_error, sizeof s->last_error,
                         "transaction was rolled back after an earlier error");
                return -EIO;
        }
        int64_t t0 = clock_mono_us();
        int r = s_step_done(s, s->stmt[STMT_COMMIT], "commit");
        if (r >= 0)
                s_note_commit(s, clock_mono_us() - t0);
        if (r < 0) {
                /* Leave no half-open transaction behind: the caller sees one
                 * outcome, nothing was committed. */
                if (!sqlite3_get_autocommit(s->db))
                        (void) s_step_done(s, s->stmt[STMT_ROLLBACK], "rollback after failed commit");
                s->in_transaction = false;
                return r;
        }
        s->in_transaction = false;
        s_wrote(s);
        return 0;
}

int store_rollback(store_t *s) {
        if (!s->in_transaction)
                return s_invalid(s, "rollback without a transaction");
        s->in_transaction = false;
        if (sqlite3_get_autocommit(s->db))
                return 0;
        return s_step_done(s, s->stmt[STMT_ROLLBACK], "rollback");
}

/* ---- keys ------------------------------------------------------------------ */

static void s_read_key(sqlite3_stmt *st, key_record_t *k) {
        memset(k, 0, sizeof *k);
        s_column_text(st, 0, k->public_key, sizeof k->public_key);
        s_column_text(st, 1, k->node_id, sizeof k->node_id);
        k->state = (key_state_t) sqlite3_column_int(st, 2);
        s_column_text(st, 3, k->address, sizeof k->address);
        k->first_seen = sqlite3_column_int64(st, 4);
        k->last_seen = sqlite3_column_int64(st, 5);
        int64_t attempts = sqlite3_column_int64(st, 6);
        k->attempts = attempts < 0 ? 0 : attempts > UINT32_MAX ? UINT32_MAX : (uint32_t) attempts;
}

static bool s_public_key_ok(const char *public_key) {
        return public_key && *public_key && s_fits(public_key, KEYS_Z85_LEN + 1);
}

int store_key_put(store_t *s, const key_record_t *rec) {
        if (!rec || !s_public_key_ok(rec->public_key))
                return s_invalid(s, "key_put: bad public key");
        if (!s_fits(rec->node_id, sizeof rec->node_id) ||
            (rec->node_id[0] && !node_id_valid(rec->node_id)))
                return s_invalid(s, "key_put: bad node id");
        if (!s_fits(rec->address, sizeof rec->address))
                return s_invalid(s, "key_put: address too long");
        if (rec->state != KEY_PENDING && rec->state != KEY_ACCEPTED && rec->state != KEY_REJECTED)
                return s_invalid(s, "key_put: bad state %d", (int) rec->state);

        sqlite3_stmt *st = s->stmt[STMT_KEY_PUT];
        sqlite3_bind_text(st, 1, rec->public_key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, rec->node_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, (int) rec->state);
        sqlite3_bind_text(st, 4, rec->address, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, rec->first_seen);
        sqlite3_bind_int64(st, 6, rec->last_seen);
        sqlite3_bind_int64(st, 7, rec->attempts);
        return s_step_done(s, st, "key_put");
}

int store_key_get(store_t *s, const char *public_key, key_record_t *ret) {
        if (!ret || !s_public_key_ok(public_key))
                return s_invalid(s, "key_get: bad public key");

        sqlite3_stmt *st = s->stmt[STMT_KEY_GET];
        sqlite3_bind_text(st, 1, public_key, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st), r;
        if (rc == SQLITE_ROW) {
                s_read_key(st, ret);
                r = 0;
        } else if (rc == SQLITE_DONE) {
                r = -ENOENT;
        } else {
                r = s_fail(s, rc, "key_get");
        }
        s_finish(st);
        return r;
}

int store_key_delete(store_t *s, const char *public_key) {
        if (!s_public_key_ok(public_key))
                return s_invalid(s, "key_delete: bad public key");

        sqlite3_stmt *st = s->stmt[STMT_KEY_DELETE];
        sqlite3_bind_text(st, 1, public_key, -1, SQLITE_STATIC);
        int r = s_step_done(s, st, "key_delete");
        if (r < 0)
                return r;
        return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

int store_keys_foreach(store_t *s, int (*cb)(const key_record_t *rec, void *ud), void *ud) {
        if (!cb)
                return s_invalid(s, "keys_foreach: no callback");
        if (s_busy(s, STMT_KEYS_ALL))
                return -EBUSY;

        sqlite3_stmt *st = s->stmt[STMT_KEYS_ALL];
        key_record_t rec;
        int rc, r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                s_read_key(st, &rec);
                r = cb(&rec, ud);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = s_fail(s, rc, "keys_foreach");
        s_finish(st);
        return r;
}

int64_t store_keys_count(store_t *s, key_state_t state) {
        sqlite3_stmt *st = s->stmt[STMT_KEYS_COUNT];
        sqlite3_bind_int(st, 1, (int) state);
        int rc = sqlite3_step(st);
        int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : s_fail(s, rc, "keys_count");
        s_finish(st);
        return n;
}

/* ---- nodes ----------------------------------------------------------------- */

int store_node_put(store_t *s, const char *node_id, const uint8_t *blob, size_t len,
                   int64_t last_seen) {
        if (!node_id_valid(node_id))
                return s_invalid(s, "node_put: bad node id");
        if ((!blob && len > 0) || len > INT_MAX)
                return s_invalid(s, "node_put: bad blob");

        sqlite3_stmt *st = s->stmt[STMT_NODE_PUT];
        sqlite3_bind_text(st, 1, node_id, -1, SQLITE_STATIC);
        /* A NULL pointer would bind SQL NULL, which the column refuses. */
        if (len == 0)
                sqlite3_bind_zeroblob(st, 2, 0);
        else
                sqlite3_bind_blob(st, 2, blob, (int) len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, last_seen);
        return s_step_done(s, st, "node_put");
}

int store_node_delete(store_t *s, const char *node_id) {
        if (!node_id_valid(node_id))
                return s_invalid(s, "node_delete: bad node id");

        sqlite3_stmt *st = s->stmt[STMT_NODE_DELETE];
        sqlite3_bind_text(st, 1, node_id, -1, SQLITE_STATIC);
        int r = s_step_done(s, st, "node_delete");
        if (r < 0)
                return r;
        return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

int store_nodes_foreach(store_t *s,
                        int (*cb)(const char *node_id, const uint8_t *blob, size_t len,
                                  int64_t last_seen, void *ud),
                        void *ud) {
        static const uint8_t empty[1];

        if (!cb)
                return s_invalid(s, "nodes_foreach: no callback");
        if (s_busy(s, STMT_NODES_ALL))
                return -EBUSY;

        sqlite3_stmt *st = s->stmt[STMT_NODES_ALL];
        char node_id[NODE_ID_MAX + 1];
        int rc, r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                s_column_text(st, 0, node_id, sizeof node_id);
                /* column_blob before column_bytes, as SQLite documents. */
                const uint8_t *blob = sqlite3_column_blob(st, 1);
                size_t len = (size_t) sqlite3_column_bytes(st, 1);
                if (!blob) {
                        if (sqlite3_errcode(s->db) == SQLITE_NOMEM) {
                                rc = SQLITE_NOMEM;
                                break;
                        }
                        blob = empty;
                        len = 0;
                }
                r = cb(node_id, blob, len, sqlite3_column_int64(st, 2), ud);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = s_fail(s, rc, "nodes_foreach");
        s_finish(st);
        return r;
}

/* ---- events ---------------------------------------------------------------- */

/* Raises the count of the node's newest event if it is this one (the
 * statement's ?1..?6 bound); 1 with its id, 0 when it is not, or -errno. */
static int s_event_coalesce(store_t *s, int64_t *ret_id) {
        sqlite3_stmt *st = s->stmt[STMT_EVENT_COALESCE];
        int rc = sqlite3_step(st), r = 0;
        if (rc == SQLITE_ROW) {
                *ret_id = sqlite3_column_int64(st, 0);
                rc = sqlite3_step(st);
                r = 1;
        }
        if (rc != SQLITE_DONE)
                r = s_fail(s, rc, "event_coalesce");
        sqlite3_reset(st);
        return r;
}

int store_event_append_n(store_t *s, int64_t time, const char *node_id, const char *kind,
                         const char *actor, const char *message, int64_t count, int64_t *ret_id) {
        if (!node_id)
                node_id = "";
        if (*node_id && !node_id_valid(node_id))
                return s_invalid(s, "event_append: bad node id");
        if (!kind || !*kind || !s_fits(kind, FIELD_SIZE(event_record_t, kind)))
                return s_invalid(s, "event_append: bad kind");
        if (!actor || !s_fits(actor, FIELD_SIZE(event_record_t, actor)))
                return s_invalid(s, "event_append: bad actor");
        if (count < 1)
                return s_invalid(s, "event_append: bad count");
        if (!message)
                message = "";

        /* A long message (often built from peer data) is cut to what a
         * reader can receive, rather than losing the event. */
        size_t message_len = s_utf8_cut(message, FIELD_SIZE(event_record_t, message) - 1);
        int64_t id = 0;
        int r = 0;
        for (int i = 0; i < 2 && r == 0; i++) {
                sqlite3_stmt *st = s->stmt[i == 0 ? STMT_EVENT_COALESCE : STMT_EVENT_APPEND];
                sqlite3_bind_int64(st, 1, time);
                sqlite3_bind_text(st, 2, node_id, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 4, actor, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 5, message, (int) message_len, SQLITE_STATIC);
                sqlite3_bind_int64(st, 6, count);
                if (i == 0) {
                        r = s_event_coalesce(s, &id);
                        sqlite3_clear_bindings(st);
                } else {
                        r = s_step_done(s, st, "event_append");
                        id = sqlite3_last_insert_rowid(s->db);
                }
        }
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = id;
        return 0;
}

int store_event_append(store_t *s, int64_t time, const char *node_id, const char *kind,
                       const char *actor, const char *message, int64_t *ret_id) {
        return store_event_append_n(s, time, node_id, kind, actor, message, 1, ret_id);
}

int store_events_foreach(store_t *s, const char *node_id, uint32_t limit,
                         int (*cb)(const event_record_t *ev, void *ud), void *ud) {
        bool one_node = node_id && *node_id;
        store_stmt_id_t id = one_node ? STMT_EVENTS_NODE : STMT_EVENTS_ALL;

        if (!cb)
                return s_invalid(s, "events_foreach: no callback");
        if (s_busy(s, id))
                return -EBUSY;

        sqlite3_stmt *st = s->stmt[id];
        sqlite3_bind_int64(st, 1, limit ? limit : STORE_EVENTS_DEFAULT_LIMIT);
        if (one_node)
                sqlite3_bind_text(st, 2, node_id, -1, SQLITE_STATIC);

        event_record_t ev;
        int rc, r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                memset(&ev, 0, sizeof ev);
                ev.id = sqlite3_column_int64(st, 0);
                ev.time = sqlite3_column_int64(st, 1);
                s_column_text(st, 2, ev.node_id, sizeof ev.node_id);
                s_column_text(st, 3, ev.kind, sizeof ev.kind);
                s_column_text(st, 4, ev.actor, sizeof ev.actor);
                s_column_text(st, 5, ev.message, sizeof ev.message);
                ev.count = sqlite3_column_int64(st, 6);
                ev.last_time = sqlite3_column_int64(st, 7);
                r = cb(&ev, ud);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = s_fail(s, rc, "events_foreach");
        s_finish(st);
        return r;
}

/* ---- retention ------------------------------------------------------------ */

int64_t store_events_count(store_t *s) {
        sqlite3_stmt *st = s->stmt[STMT_EVENTS_COUNT];
        int rc = sqlite3_step(st);
        int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : s_fail(s, rc, "events_count");
        s_finish(st);
        return n;
}

int store_events_delete_oldest(store_t *s, int64_t before_time, uint32_t max, int64_t *ret_deleted) {
        sqlite3_stmt *st = s->stmt[STMT_EVENTS_AGE_BOUNDARY];
        sqlite3_bind_int64(st, 1, before_time);
        int rc = sqlite3_step(st);
        int64_t boundary = sqlite3_column_int64(st, 0);
        int r = rc == SQLITE_ROW ? 0 : s_fail(s, rc, "events_age_boundary");
        s_finish(st);
        if (r < 0)
                return r;
        st = s->stmt[STMT_EVENTS_DELETE_BEFORE];
        sqlite3_bind_int64(st, 1, boundary);
        sqlite3_bind_int64(st, 2, max);
        r = s_step_done(s, st, "events_delete_oldest");
        if (r < 0)
                return r;
        *ret_deleted = sqlite3_changes(s->db);
        return 0;
}

/* ---- commands ----------------------------------------------------------- */

int store_command_put(store_t *s, const command_record_t *c) {
        if (!c->id[0] || !node_id_valid(c->node_id) || !c->request || c->request_len > INT_MAX)
                return s_invalid(s, "command_put: bad record");
        sqlite3_stmt *st = s->stmt[STMT_COMMAND_PUT];
        sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, c->node_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, c->kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, c->actor, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 5, c->state);
        sqlite3_bind_blob(st, 6, c->request, (int) c->request_len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, c->created);
        sqlite3_bind_int64(st, 8, c->sent_event);
        return s_step_done(s, st, "command_put");
}

int store_command_update(store_t *s, const char *id, int state, const uint8_t *result, size_t len,
                         int64_t updated) {
        if (!id || !id[0] || len > INT_MAX)
                return s_invalid(s, "command_update: bad input");
        sqlite3_stmt *st = s->stmt[STMT_COMMAND_UPDATE];
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, state);
        if (result)
                sqlite3_bind_blob(st, 3, result, (int) len, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, 3);
        sqlite3_bind_int64(st, 4, updated);
        int r = s_step_done(s, st, "command_update");
        if (r >= 0 && sqlite3_changes(s->db) == 0)
                return -ENOENT;
        return r;
}

/* Reads the current row of a COMMAND_COLUMNS statement; blobs borrowed. */
static void s_read_command(sqlite3_stmt *st, command_record_t *c) {
        memset(c, 0, sizeof *c);
        s_column_text(st, 0, c->id, sizeof c->id);
        s_column_text(st, 1, c->node_id, sizeof c->node_id);
        s_column_text(st, 2, c->kind, sizeof c->kind);
        s_column_text(st, 3, c->actor, sizeof c->actor);
        c->state = sqlite3_column_int(st, 4);
        c->created = sqlite3_column_int64(st, 5);
        c->updated = sqlite3_column_int64(st, 6);
        c->request = sqlite3_column_blob(st, 7);
        c->request_len = (size_t) sqlite3_column_bytes(st, 7);
        c->result = sqlite3_column_blob(st, 8);
        c->result_len = (size_t) sqlite3_column_bytes(st, 8);
}

static int s_commands_walk(store_t *s, int which, int (*cb)(const command_record_t *c, void *ud),
                           void *ud, const char *what) {
        sqlite3_stmt *st = s->stmt[which];
        command_record_t c;
        int rc, r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                s_read_command(st, &c);
                r = cb(&c, ud);
                if (r != 0)
                        break;
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (r != 0)
                return r;
        return rc == SQLITE_DONE ? 0 : s_fail(s, rc, what);
}

static int s_command_found(const command_record_t *c, void *ud) {
        struct { int (*cb)(const command_record_t *, void *); void *ud; int *found; } *w = ud;
        *w->found = 1;
        return w->cb(c, w->ud);
}

int store_command_get(store_t *s, const char *id, int (*cb)(const command_record_t *c, void *ud), void *ud) {
        if (!id || !cb)
                return s_invalid(s, "command_get: bad input");
        if (s_busy(s, STMT_COMMAND_GET))
                return -EBUSY;
        sqlite3_bind_text(s->stmt[STMT_COMMAND_GET], 1, id, -1, SQLITE_TRANSIENT);
        int found = 0;
        struct { int (*cb)(const command_record_t *, void *); void *ud; int *found; } w = { cb, ud, &found };
        int r = s_commands_walk(s, STMT_COMMAND_GET, s_command_found, &w, "command_get");
        return r < 0 ? r : found ? r : -ENOENT;
}

int store_commands_unfinished(store_t *s, const char *node_id, int final_from,
                              int (*cb)(const command_record_t *c, void *ud), void *ud) {
        if (!cb)
                return s_invalid(s, "commands_unfinished: no callback");
        if (s_busy(s, STMT_COMMANDS_UNFINISHED))
                return -EBUSY;
        sqlite3_bind_int(s->stmt[STMT_COMMANDS_UNFINISHED], 1, final_from);
        sqlite3_bind_text(s->stmt[STMT_COMMANDS_UNFINISHED], 2, node_id ? node_id : "", -1, SQLITE_TRANSIENT);
        return s_commands_walk(s, STMT_COMMANDS_UNFINISHED, cb, ud, "commands_unfinished");
}

int store_commands_by_state(store_t *s, int (*cb)(const char *kind, int state, int64_t n, void *ud), void *ud) {
        if (!cb)
                return s_invalid(s, "commands_by_state: no callback");
        if (s_busy(s, STMT_COMMANDS_BY_STATE))
                return -EBUSY;
        sqlite3_stmt *st = s->stmt[STMT_COMMANDS_BY_STATE];
        int rc, r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *kind = (const char *) sqlite3_column_text(st, 0);
                r = cb(kind ? kind : "", sqlite3_column_int(st, 1), sqlite3_column_int64(st, 2), ud);
                if (r != 0)
                        break;
        }
        sqlite3_reset(st);
        if (r != 0)
                return r;
        return rc == SQLITE_DONE ? 0 : s_fail(s, rc, "commands_by_state");
}

/* ---- upgrades ---------------------------------------------------------------- */

int store_upgrade_put(store_t *s, const upgrade_row_t *u) {
        if (!u || u->seq < 1 || !u->id || !u->plan_name || !u->file_name || !u->content || !u->actor ||
            !u->setup || u->setup_len > INT_MAX)
                return s_invalid(s, "upgrade_put: bad record");
        sqlite3_stmt *st = s->stmt[STMT_UPGRADE_PUT];
        sqlite3_bind_int64(st, 1, u->seq);
        sqlite3_bind_text(st, 2, u->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, u->plan_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, u->file_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, u->content, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, u->actor, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, u->started);
        sqlite3_bind_blob(st, 8, u->setup, (int) u->setup_len, SQLITE_STATIC);
        return s_step_done(s, st, "upgrade_put");
}

int store_upgrade_latest(store_t *s, int (*cb)(const upgrade_row_t *u, void *ud), void *ud) {
        if (!cb)
                return s_invalid(s, "upgrade_latest: no callback");
        sqlite3_stmt *st = s->stmt[STMT_UPGRADE_LATEST];
        int rc = sqlite3_step(st), r;
        if (rc == SQLITE_ROW) {
                upgrade_row_t u = {
                        .seq = sqlite3_column_int64(st, 0),
                        .id = (const char *) sqlite3_column_text(st, 1),
                        .plan_name = (const char *) sqlite3_column_text(st, 2),
                        .file_name = (const char *) sqlite3_column_text(st, 3),
                        .content = (const char *) sqlite3_column_text(st, 4),
                        .actor = (const char *) sqlite3_column_text(st, 5),
                        .started = sqlite3_column_int64(st, 6),
                        .setup = sqlite3_column_blob(st, 7),
                        .setup_len = (size_t) sqlite3_column_bytes(st, 7),
                };
                r = u.id && u.plan_name && u.file_name && u.content && u.actor ? cb(&u, ud)
                                                                              : s_invalid(s, "upgrade_latest: NULL column");
        } else {
                r = rc == SQLITE_DONE ? -ENOENT : s_fail(s, rc, "upgrade_latest");
        }
        s_finish(st);
        return r;
}

int store_job_put(store_t *s, const job_row_t *j) {
        if (!j || j->seq < 1 || !j->id || !j->actor || !j->record || j->record_len > INT_MAX)
                return s_invalid(s, "job_put: bad record");
        sqlite3_stmt *st = s->stmt[STMT_JOB_PUT];
        sqlite3_bind_int64(st, 1, j->seq);
        sqlite3_bind_text(st, 2, j->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, j->actor, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, j->created);
        sqlite3_bind_blob(st, 5, j->record, (int) j->record_len, SQLITE_STATIC);
        return s_step_done(s, st, "job_put");
}

int store_jobs_foreach(store_t *s, int (*cb)(const job_row_t *j, void *ud), void *ud) {
        if (!cb)
                return s_invalid(s, "jobs_foreach: no callback");
        sqlite3_stmt *st = s->stmt[STMT_JOBS_FOREACH];
        int rc, r = 0;
        while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                job_row_t j = {
                        .seq = sqlite3_column_int64(st, 0),
                        .id = (const char *) sqlite3_column_text(st, 1),
                        .actor = (const char *) sqlite3_column_text(st, 2),
                        .created = sqlite3_column_int64(st, 3),
                        .record = sqlite3_column_blob(st, 4),
                        .record_len = (size_t) sqlite3_column_bytes(st, 4),
                };
                r = j.id && j.actor ? cb(&j, ud) : s_invalid(s, "jobs_foreach: NULL column");
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = s_fail(s, rc, "jobs_foreach");
        s_finish(st);
        return r;
}

int store_upgrade_records_put(store_t *s, int64_t seq, const upgrade_record_t *recs, size_t n) {
        sqlite3_stmt *st = s->stmt[STMT_UPGRADE_RECORD_PUT];
        for (size_t i = 0; i < n; i++) {
                sqlite3_bind_int64(st, 1, seq);
                sqlite3_bind_int(st, 2, recs[i].type);
                sqlite3_bind_int(st, 3, recs[i].index);
                for (int k = 0; k < 8; k++)
                        sqlite3_bind_int64(st, 4 + k, recs[i].v[k]);
                sqlite3_bind_text(st, 12, recs[i].text, (int) strnlen(recs[i].text, sizeof recs[i].text),
                                  SQLITE_STATIC);
                int r = s_step_done(s, st, "upgrade_record_put");
                if (r < 0)
                        return r;
        }
        return 0;
}

int store_upgrade_records_get(store_t *s, int64_t seq, upgrade_record_t **ret, size_t *ret_n) {
        sqlite3_stmt *st = s->stmt[STMT_UPGRADE_RECORDS];
        upgrade_record_t *recs = NULL;
        size_t n = 0, cap = 0;
        int rc;
        sqlite3_bind_int64(st, 1, seq);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (n == cap) {
                        cap = cap ? cap * 2 : 64;
                        upgrade_record_t *grown = realloc(recs, cap * sizeof *recs);
                        if (!grown) {
                                free(recs);
                                s_finish(st);
                                return -ENOMEM;
                        }
                        recs = grown;
                }
                upgrade_record_t *x = &recs[n++];
                memset(x, 0, sizeof *x);
                x->type = sqlite3_column_int(st, 0);
                x->index = sqlite3_column_int(st, 1);
                for (int k = 0; k < 8; k++)
                        x->v[k] = sqlite3_column_int64(st, 2 + k);
                s_column_text(st, 10, x->text, sizeof x->text);
        }
        s_finish(st);
        if (rc != SQLITE_DONE) {
                free(recs);
                return s_fail(s, rc, "upgrade_records_get");
        }
        *ret = recs;
        *ret_n = n;
        return 0;
}

/* ---- history ----------------------------------------------------------------- */

int store_history_foreach(store_t *s, const char *node_id, uint32_t limit,
                          int (*cb)(const history_record_t *h, void *ud), void *ud) {
        if (!cb)
                return s_invalid(s, "history: no callback");
        if (s_busy(s, STMT_HISTORY))
                return -EBUSY;
        sqlite3_stmt *st = s->stmt[STMT_HISTORY];
        sqlite3_bind_int64(st, 1, limit ? limit : STORE_HISTORY_DEFAULT_LIMIT);
        sqlite3_bind_text(st, 2, node_id ? node_id : "", -1, SQLITE_TRANSIENT);
        int rc, r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                history_record_t h = { 0 };
                command_record_t c = { 0 };
                char message[512];
                h.time = sqlite3_column_int64(st, 0);
                h.is_command = sqlite3_column_int(st, 2) == 1;
                s_column_text(st, 3, c.actor, sizeof c.actor);
                s_column_text(st, 4, c.node_id, sizeof c.node_id);
                s_column_text(st, 5, h.is_command ? c.kind : h.kind, h.is_command ? sizeof c.kind : sizeof h.kind);
                s_column_text(st, 6, message, sizeof message);
                h.actor = c.actor;
                h.node_id = c.node_id;
                h.message = message;
                h.count = sqlite3_column_int64(st, 12);
                if (h.is_command) {
                        s_column_text(st, 7, c.id, sizeof c.id);
                        c.request = sqlite3_column_blob(st, 8);
                        c.request_len = (size_t) sqlite3_column_bytes(st, 8);
                        c.result = sqlite3_column_blob(st, 9);
                        c.result_len = (size_t) sqlite3_column_bytes(st, 9);
                        c.state = sqlite3_column_int(st, 10);
                        c.created = h.time;
                        c.updated = sqlite3_column_int64(st, 11);
                        h.command = &c;
                }
                r = cb(&h, ud);
                if (r != 0)
                        break;
        }
        s_finish(st);
        if (r != 0)
                return r;
        return rc == SQLITE_DONE ? 0 : s_fail(s, rc, "history");
}
