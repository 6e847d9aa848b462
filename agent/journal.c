#include "agent/journal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/sqldb.h"

#define JOURNAL_RECENT_DEFAULT_LIMIT 100

#define FIELD_SIZE(type, field) sizeof(((type *) 0)->field)

/* ---- schema ----------------------------------------------------------------
 *
 * PRAGMA user_version is the schema version; journal_open applies the
 * missing migrations in order in one transaction. Append new entries;
 * never edit a released one.
 *
 * commands and snapshots have an AUTOINCREMENT seq besides their text id:
 * "oldest first" and "newest open" follow the order rows were written in,
 * which neither a wall clock that steps back nor a VACUUM (it may renumber
 * implicit rowids) can change. */
static const sqldb_migration_t migrations[] = {
        { 1,
          "CREATE TABLE commands ("
          "  seq         INTEGER PRIMARY KEY AUTOINCREMENT,"
          "  id          TEXT NOT NULL UNIQUE,"
          "  kind        TEXT NOT NULL,"
          "  state       INTEGER NOT NULL,"
          "  snapshot_id TEXT NOT NULL DEFAULT '',"
          "  created     INTEGER NOT NULL,"
          "  updated     INTEGER NOT NULL,"
          "  request     BLOB NOT NULL,"
          "  result      BLOB"                  /* NULL until finished */
          ");"
          "CREATE INDEX commands_state ON commands(state, seq);"
          "CREATE TABLE snapshots ("
          "  seq        INTEGER PRIMARY KEY AUTOINCREMENT,"
          "  id         TEXT NOT NULL UNIQUE,"
          "  upgrade_id TEXT NOT NULL DEFAULT '',"
          "  created    INTEGER NOT NULL,"
          "  open       INTEGER NOT NULL,"
          "  drained    INTEGER NOT NULL"
          ");"
          "CREATE INDEX snapshots_open ON snapshots(open, upgrade_id, seq);"
          "CREATE TABLE snapshot_packages ("
          "  snapshot TEXT NOT NULL,"
          "  name     TEXT NOT NULL,"
          "  version  TEXT NOT NULL,"           /* '' : not installed */
          "  PRIMARY KEY (snapshot, name)"
          ");"
          "CREATE TABLE snapshot_files ("
          "  snapshot TEXT NOT NULL,"
          "  path     TEXT NOT NULL,"
          "  \"exists\" INTEGER NOT NULL,"
          "  content  BLOB,"                    /* NULL when absent */
          "  mode     INTEGER NOT NULL,"
          "  uid      INTEGER NOT NULL,"
          "  gid      INTEGER NOT NULL,"
          "  PRIMARY KEY (snapshot, path)"
          ");"
          "CREATE TABLE snapshot_units ("
          "  snapshot     TEXT NOT NULL,"
          "  unit         TEXT NOT NULL,"
          "  active_state TEXT NOT NULL,"
          "  PRIMARY KEY (snapshot, unit)"
          ");"
          "CREATE TABLE kv ("
          "  key   TEXT PRIMARY KEY NOT NULL,"
          "  value TEXT NOT NULL"
          ");" },
        /* Retention (journal_prune) keeps the commands of an upgrade whose
         * snapshot is open, so a command row says which upgrade it is of. */
        { 2,
          "ALTER TABLE commands ADD COLUMN upgrade_id TEXT NOT NULL DEFAULT '';"
          "CREATE INDEX commands_updated ON commands(updated);" },
        /* Commands the node's root ran locally (hitless-agent rollback)
         * are reported to the coordinator until it acknowledges them. */
        { 3,
          "ALTER TABLE commands ADD COLUMN local_unreported INTEGER NOT NULL DEFAULT 0;"
          "CREATE INDEX commands_local_unreported ON commands(local_unreported, seq);" },
};

/* ---- cached statements ---------------------------------------------------- */

typedef enum {
        STMT_BEGIN,
        STMT_COMMIT,
        STMT_ROLLBACK,
        STMT_CMD_INSERT,
        STMT_CMD_SET_STATE,
        STMT_CMD_FINISH,
        STMT_CMD_STATE,
        STMT_CMD_GET,
        STMT_CMD_UNFINISHED,
        STMT_CMD_RECENT,
        STMT_CMD_LOCAL_UNREPORTED,
        STMT_CMD_LOCAL_REPORTED,
        STMT_SNAP_NEXT_SEQ,
        STMT_SNAP_INSERT,
        STMT_SNAP_SET_DRAINED,
        STMT_SNAP_CLOSE,
        STMT_SNAP_GET,
        STMT_SNAP_FIND_OPEN,
        STMT_SNAP_ADD_PACKAGE,
        STMT_SNAP_ADD_FILE,
        STMT_SNAP_ADD_UNIT,
        STMT_SNAP_PACKAGES,
        STMT_SNAP_FILES,
        STMT_SNAP_UNITS,
        STMT_KV_PUT,
        STMT_KV_GET,
        STMT_PRUNE_COMMANDS,
        STMT_PRUNE_SNAP_PACKAGES,
        STMT_PRUNE_SNAP_FILES,
        STMT_PRUNE_SNAP_UNITS,
        STMT_PRUNE_SNAPSHOTS,
        STMT_DISCARD_SNAP_PACKAGES,
        STMT_DISCARD_SNAP_FILES,
        STMT_DISCARD_SNAP_UNITS,
        STMT_DISCARD_SNAPSHOT,
        _STMT_MAX,
} journal_stmt_id_t;

#define CMD_COLUMNS "id, kind, state, snapshot_id, created, updated, request, result, upgrade_id"
#define SNAP_COLUMNS "id, upgrade_id, created, open, drained"
#define UNFINISHED_STATES "(1, 2)" /* JCMD_ACCEPTED, JCMD_RUNNING */

static const char *const stmt_sql[_STMT_MAX] = {
        /* IMMEDIATE takes the write lock now: a deferred transaction that
         * reads first can fail to upgrade with SQLITE_BUSY, which the busy
         * timeout cannot resolve. */
        [STMT_BEGIN] = "BEGIN IMMEDIATE",
        [STMT_COMMIT] = "COMMIT",
        [STMT_ROLLBACK] = "ROLLBACK",
        [STMT_CMD_INSERT] = "INSERT INTO commands (id, kind, state, snapshot_id, created, updated, request,"
                            " upgrade_id, local_unreported) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8)",
        [STMT_CMD_SET_STATE] = "UPDATE commands SET state = ?2, updated = ?3"
                               " WHERE id = ?1 AND state IN " UNFINISHED_STATES,
        /* A refusal keeps its decision (the result), not the request's
         * bytes: whoever sends refused commands cannot fill the disk. */
        [STMT_CMD_FINISH] = "UPDATE commands SET state = ?2, updated = ?3, result = ?4,"
                            " request = CASE WHEN ?2 = 6 THEN X'' ELSE request END"
                            " WHERE id = ?1 AND state IN " UNFINISHED_STATES,
        [STMT_CMD_STATE] = "SELECT state FROM commands WHERE id = ?1",
        [STMT_CMD_GET] = "SELECT " CMD_COLUMNS " FROM commands WHERE id = ?1",
        [STMT_CMD_UNFINISHED] = "SELECT " CMD_COLUMNS " FROM commands"
                                " WHERE state IN " UNFINISHED_STATES " ORDER BY seq",
        /* The newest `limit` rows, turned back to oldest first. */
        [STMT_CMD_RECENT] = "SELECT * FROM (SELECT seq, " CMD_COLUMNS " FROM commands"
                            " ORDER BY seq DESC LIMIT ?1) ORDER BY seq",
        [STMT_CMD_LOCAL_UNREPORTED] = "SELECT " CMD_COLUMNS " FROM commands WHERE local_unreported = 1"
                                      " AND state NOT IN " UNFINISHED_STATES " ORDER BY seq LIMIT ?1",
        [STMT_CMD_LOCAL_REPORTED] = "UPDATE commands SET local_unreported = 0 WHERE id = ?1",
        /* ?1 is "snap-<t>-*", ?2 the length of "snap-<t>-" plus one. */
        [STMT_SNAP_NEXT_SEQ] = "SELECT coalesce(max(CAST(substr(id, ?2) AS INTEGER)), 0) + 1"
                               " FROM snapshots WHERE id GLOB ?1",
        [STMT_SNAP_INSERT] = "INSERT INTO snapshots (" SNAP_COLUMNS ") VALUES (?1, ?2, ?3, 1, 0)",
        [STMT_SNAP_SET_DRAINED] = "UPDATE snapshots SET drained = ?2 WHERE id = ?1",
        [STMT_SNAP_CLOSE] = "UPDATE snapshots SET open = 0 WHERE id = ?1",
        [STMT_SNAP_GET] = "SELECT " SNAP_COLUMNS " FROM snapshots WHERE id = ?1",
        [STMT_SNAP_FIND_OPEN] = "SELECT " SNAP_COLUMNS " FROM snapshots"
                                " WHERE open = 1 AND (?1 = '' OR upgrade_id = ?1)"
                                " ORDER BY seq DESC LIMIT 1",
        [STMT_SNAP_ADD_PACKAGE] = "INSERT INTO snapshot_packages (snapshot, name, version)"
                                  " VALUES (?1, ?2, ?3)",
        [STMT_SNAP_ADD_FILE] = "INSERT INTO snapshot_files"
                               " (snapshot, path, \"exists\", content, mode, uid, gid)"
                               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        [STMT_SNAP_ADD_UNIT] = "INSERT INTO snapshot_units (snapshot, unit, active_state)"
                               " VALUES (?1, ?2, ?3)",
        [STMT_SNAP_PACKAGES] = "SELECT name, version FROM snapshot_packages"
                               " WHERE snapshot = ?1 ORDER BY name",
        [STMT_SNAP_FILES] = "SELECT path, \"exists\", content, mode, uid, gid FROM snapshot_files"
                            " WHERE snapshot = ?1 ORDER BY path",
        [STMT_SNAP_UNITS] = "SELECT unit, active_state FROM snapshot_units"
                            " WHERE snapshot = ?1 ORDER BY unit",
        [STMT_KV_PUT] = "INSERT OR REPLACE INTO kv (key, value) VALUES (?1, ?2)",
        [STMT_KV_GET] = "SELECT value FROM kv WHERE key = ?1",
        /* ?1: the cutoff (unix seconds). Kept whatever their age: unfinished
         * commands, and those not refused of an upgrade whose snapshot is
         * open (a replay of one must get its result, not a second run). */
        [STMT_PRUNE_COMMANDS] = "DELETE FROM commands WHERE updated < ?1 AND local_unreported = 0"
                                " AND state NOT IN " UNFINISHED_STATES
                                " AND NOT (state != 6 AND upgrade_id != '' AND upgrade_id IN"
                                " (SELECT upgrade_id FROM snapshots WHERE open = 1))",
        /* Open snapshots are what a rollback needs: only rolled-back ones go. */
        [STMT_PRUNE_SNAP_PACKAGES] = "DELETE FROM snapshot_packages WHERE snapshot IN"
                                     " (SELECT id FROM snapshots WHERE open = 0 AND created < ?1)",
        [STMT_PRUNE_SNAP_FILES] = "DELETE FROM snapshot_files WHERE snapshot IN"
                                  " (SELECT id FROM snapshots WHERE open = 0 AND created < ?1)",
        [STMT_PRUNE_SNAP_UNITS] = "DELETE FROM snapshot_units WHERE snapshot IN"
                                  " (SELECT id FROM snapshots WHERE open = 0 AND created < ?1)",
        [STMT_PRUNE_SNAPSHOTS] = "DELETE FROM snapshots WHERE open = 0 AND created < ?1",
        /* Only an open snapshot no command refers to yet but the one that
         * took it (journal_snapshot_discard). */
        [STMT_DISCARD_SNAP_PACKAGES] = "DELETE FROM snapshot_packages WHERE snapshot = ?1"
                                       " AND EXISTS (SELECT 1 FROM snapshots WHERE id = ?1 AND open = 1)",
        [STMT_DISCARD_SNAP_FILES] = "DELETE FROM snapshot_files WHERE snapshot = ?1"
                                    " AND EXISTS (SELECT 1 FROM snapshots WHERE id = ?1 AND open = 1)",
        [STMT_DISCARD_SNAP_UNITS] = "DELETE FROM snapshot_units WHERE snapshot = ?1"
                                    " AND EXISTS (SELECT 1 FROM snapshots WHERE id = ?1 AND open = 1)",
        [STMT_DISCARD_SNAPSHOT] = "DELETE FROM snapshots WHERE id = ?1 AND open = 1",
};

static const sqldb_schema_t schema = {
        .name = "journal",
        .migrations = migrations,
        .n_migrations = sizeof migrations / sizeof migrations[0],
        .stmt_sql = stmt_sql,
        .n_stmt = _STMT_MAX,
};

struct journal {
        sqlite3 *db;
        sqlite3_stmt *stmt[_STMT_MAX];
        /* The snapshot being taken between journal_snapshot_begin and
         * commit/abort ("" when none); its transaction is open meanwhile. */
        char building[64];
        /* Snapshot walks in progress: their statements hold a read, so a
         * write now would commit only when the walk ends, not on return. */
        int walking;
        char last_error[256];
};

const char *journal_state_name(journal_state_t s) {
        switch (s) {
        case JCMD_ACCEPTED:
                return "accepted";
        case JCMD_RUNNING:
                return "running";
        case JCMD_SUCCEEDED:
                return "succeeded";
        case JCMD_FAILED:
                return "failed";
        case JCMD_INTERRUPTED:
                return "interrupted";
        case JCMD_REFUSED:
                return "refused";
        }
        return "invalid";
}

static bool s_state_valid(journal_state_t s) {
        return s >= JCMD_ACCEPTED && s <= JCMD_REFUSED;
}

static bool s_state_final(journal_state_t s) {
        return s_state_valid(s) && s != JCMD_ACCEPTED && s != JCMD_RUNNING;
}

void journal_command_clear(journal_command_t *c) {
        if (!c)
                return;
        free(c->request);
        free(c->result);
        memset(c, 0, sizeof *c);
}

/* ---- errors ----------------------------------------------------------------- */

static int s_fail(journal_t *j, int rc, const char *what) {
        snprintf(j->last_error, sizeof j->last_error, "%s: %s", what,
                 j->db ? sqlite3_errmsg(j->db) : sqlite3_errstr(rc));
        log_debug("journal: %s", j->last_error);
        return sqldb_errno(rc);
}

static int s_error(journal_t *j, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int s_error(journal_t *j, int err, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(j->last_error, sizeof j->last_error, fmt, ap);
        va_end(ap);
        log_debug("journal: %s", j->last_error);
        return err;
}

/* ---- small helpers -------------------------------------------------------- */

static void s_finish(sqlite3_stmt *st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
}

/* Runs a statement that returns no rows and resets it. A uniqueness
 * violation is -EEXIST: the caller added something twice. */
static int s_step_done(journal_t *j, sqlite3_stmt *st, const char *what) {
        int rc = sqlite3_step(st);
        int r = 0;

        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
                (void) s_fail(j, rc, what);
                r = -EEXIST;
        } else if (rc != SQLITE_DONE) {
                r = s_fail(j, rc, what);
        }
        s_finish(st);
        return r;
}

/* Bounded copy of a text column into a fixed field; a longer value (only
 * possible if something else wrote the file) is cut, never overflows. */
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

static bool s_id_ok(const char *id) {
        return id && *id && s_fits(id, 64);
}

/* A BLOB column as pointer and length; an empty blob is a non-NULL
 * pointer to nothing, SQL NULL is NULL. -ENOMEM if SQLite ran out. */
static int s_column_blob(journal_t *j, sqlite3_stmt *st, int col, const void **ret, size_t *ret_len) {
        static const uint8_t empty[1];

        if (sqlite3_column_type(st, col) == SQLITE_NULL) {
                *ret = NULL;
                *ret_len = 0;
                return 0;
        }
        /* column_blob before column_bytes, as SQLite documents. */
        const void *p = sqlite3_column_blob(st, col);
        size_t len = (size_t) sqlite3_column_bytes(st, col);
        if (!p) {
                if (sqlite3_errcode(j->db) == SQLITE_NOMEM)
                        return s_fail(j, SQLITE_NOMEM, "read blob");
                p = empty;
                len = 0;
        }
        *ret = p;
        *ret_len = len;
        return 0;
}

/* A NULL pointer would bind SQL NULL, which NOT NULL columns refuse. */
static void s_bind_blob(sqlite3_stmt *st, int col, const void *p, size_t len) {
        if (len == 0)
                sqlite3_bind_zeroblob(st, col, 0);
        else
                sqlite3_bind_blob(st, col, p, (int) len, SQLITE_STATIC);
}

static bool s_blob_ok(const void *p, size_t len) {
        return (p || len == 0) && len <= INT_MAX;
}

/* A write now would join the snapshot transaction or wait for a walk to
 * end before committing: either way it would not be durable on return. */
static int s_check_writable(journal_t *j, const char *what) {
        if (j->building[0])
                return s_error(j, -EBUSY, "%s: a snapshot is being taken", what);
        if (j->walking)
                return s_error(j, -EBUSY, "%s: inside a snapshot walk", what);
        return 0;
}

/* ---- open / close ---------------------------------------------------------- */

int journal_open(const char *path, journal_t **ret) {
        if (!path || !*path || !ret)
                return -EINVAL;

        journal_t *j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        int r = sqldb_open(path, &schema, &j->db, j->stmt, j->last_error, sizeof j->last_error);
        if (r < 0) {
                free(j);
                return r;
        }
        *ret = j;
        return 0;
}

void journal_close(journal_t **jp) {
        if (!jp || !*jp)
                return;
        journal_t *j = *jp;

        sqldb_close(j->db, j->stmt, _STMT_MAX);
        free(j);
        *jp = NULL;
}

const char *journal_last_error(const journal_t *j) {
        return j ? j->last_error : "";
}

/* ---- commands -------------------------------------------------------------- */

static int s_command_insert(journal_t *j, const char *id, const char *kind, const uint8_t *request,
                            size_t len, const char *snapshot_id, const char *upgrade_id, bool local) {
        if (!s_id_ok(id))
                return s_error(j, -EINVAL, "command_begin: bad id");
        if (!kind || !*kind || !s_fits(kind, FIELD_SIZE(journal_command_t, kind)))
                return s_error(j, -EINVAL, "command_begin: bad kind");
        if (!s_blob_ok(request, len))
                return s_error(j, -EINVAL, "command_begin: bad request");
        if (!snapshot_id)
                snapshot_id = "";
        if (!s_fits(snapshot_id, FIELD_SIZE(journal_command_t, snapshot_id)))
                return s_error(j, -EINVAL, "command_begin: bad snapshot id");
        if (!upgrade_id)
                upgrade_id = "";
        if (!s_fits(upgrade_id, FIELD_SIZE(journal_command_t, upgrade_id)))
                return s_error(j, -EINVAL, "command_begin: bad upgrade id");
        int r = s_check_writable(j, "command_begin");
        if (r < 0)
                return r;

        sqlite3_stmt *st = j->stmt[STMT_CMD_INSERT];
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, JCMD_ACCEPTED);
        sqlite3_bind_text(st, 4, snapshot_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, clock_wall_s());
        s_bind_blob(st, 6, request, len);
        sqlite3_bind_text(st, 7, upgrade_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 8, local);
        return s_step_done(j, st, "command_begin");
}

int journal_command_begin(journal_t *j, const char *id, const char *kind, const uint8_t *request,
                          size_t len, const char *snapshot_id, const char *upgrade_id) {
        return s_command_insert(j, id, kind, request, len, snapshot_id, upgrade_id, false);
}

int journal_command_begin_local(journal_t *j, const char *id, const char *kind, const uint8_t *request,
                                size_t len) {
        return s_command_insert(j, id, kind, request, len, "", "", true);
}

/* After an UPDATE ... WHERE state IN (unfinished) changed nothing: was the
 * id unknown, or is the command already final? */
static int s_command_not_updated(journal_t *j, const char *id, const char *what) {
        sqlite3_stmt *st = j->stmt[STMT_CMD_STATE];
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st), r;
        if (rc == SQLITE_ROW)
                r = s_error(j, -EALREADY, "%s: command %s is %s already", what, id,
                            journal_state_name((journal_state_t) sqlite3_column_int(st, 0)));
        else if (rc == SQLITE_DONE)
                r = s_error(j, -ENOENT, "%s: no command %s", what, id);
        else
                r = s_fail(j, rc, what);
        s_finish(st);
        return r;
}

int journal_command_set_state(journal_t *j, const char *id, journal_state_t state) {
        if (!s_id_ok(id))
                return s_error(j, -EINVAL, "command_set_state: bad id");
        if (state != JCMD_ACCEPTED && state != JCMD_RUNNING)
                return s_error(j, -EINVAL, "command_set_state: %d is not an unfinished state", (int) state);
        int r = s_check_writable(j, "command_set_state");
        if (r < 0)
                return r;

        sqlite3_stmt *st = j->stmt[STMT_CMD_SET_STATE];
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, (int) state);
        sqlite3_bind_int64(st, 3, clock_wall_s());
        r = s_step_done(j, st, "command_set_state");
        if (r < 0)
                return r;
        return sqlite3_changes(j->db) > 0 ? 0 : s_command_not_updated(j, id, "command_set_state");
}

int journal_command_finish(journal_t *j, const char *id, journal_state_t state,
                           const uint8_t *result, size_t len) {
        if (!s_id_ok(id))
                return s_error(j, -EINVAL, "command_finish: bad id");
        if (!s_state_final(state))
                return s_error(j, -EINVAL, "command_finish: %d is not a final state", (int) state);
        if (!s_blob_ok(result, len))
                return s_error(j, -EINVAL, "command_finish: bad result");
        int r = s_check_writable(j, "command_finish");
        if (r < 0)
                return r;

        sqlite3_stmt *st = j->stmt[STMT_CMD_FINISH];
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, (int) state);
        sqlite3_bind_int64(st, 3, clock_wall_s());
        s_bind_blob(st, 4, result, len);
        r = s_step_done(j, st, "command_finish");
        if (r < 0)
                return r;
        return sqlite3_changes(j->db) > 0 ? 0 : s_command_not_updated(j, id, "command_finish");
}

static void *s_memdup(const void *p, size_t len) {
        void *copy = malloc(len ? len : 1);
        if (copy && len)
                memcpy(copy, p, len);
        return copy;
}

/* Reads a CMD_COLUMNS row starting at column `col` into *c with copies of
 * the blobs (request never NULL, result NULL while unfinished). */
static int s_read_command(journal_t *j, sqlite3_stmt *st, int col, journal_command_t *c) {
        const void *request, *result;
        size_t request_len, result_len;
        int r;

        memset(c, 0, sizeof *c);
        r = s_column_blob(j, st, col + 6, &request, &request_len);
        if (r < 0)
                return r;
        r = s_column_blob(j, st, col + 7, &result, &result_len);
        if (r < 0)
                return r;
        s_column_text(st, col + 0, c->id, sizeof c->id);
        s_column_text(st, col + 1, c->kind, sizeof c->kind);
        c->state = (journal_state_t) sqlite3_column_int(st, col + 2);
        s_column_text(st, col + 3, c->snapshot_id, sizeof c->snapshot_id);
        c->created = sqlite3_column_int64(st, col + 4);
        c->updated = sqlite3_column_int64(st, col + 5);
        s_column_text(st, col + 8, c->upgrade_id, sizeof c->upgrade_id);
        c->request = s_memdup(request ? request : "", request_len);
        c->request_len = request_len;
        if (result) {
                c->result = s_memdup(result, result_len);
                c->result_len = result_len;
        }
        if (!c->request || (result && !c->result)) {
                journal_command_clear(c);
                return s_error(j, -ENOMEM, "read command: out of memory");
        }
        return 0;
}

int journal_command_get(journal_t *j, const char *id, journal_command_t *ret) {
        if (!s_id_ok(id) || !ret)
                return s_error(j, -EINVAL, "command_get: bad id");

        sqlite3_stmt *st = j->stmt[STMT_CMD_GET];
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        journal_command_t c;
        int rc = sqlite3_step(st), r;
        if (rc == SQLITE_ROW)
                r = s_read_command(j, st, 0, &c);
        else if (rc == SQLITE_DONE)
                r = -ENOENT;
        else
                r = s_fail(j, rc, "command_get");
        s_finish(st);
        if (r == 0)
                *ret = c;
        return r;
}

/* Reads every row of st first and resets it, then calls cb. In autocommit
 * mode a write commits only once no statement is reading, so a callback
 * writing while the SELECT was still open (finishing a command as
 * INTERRUPTED) would not be durable when it returned. */
static int s_walk_commands(journal_t *j, sqlite3_stmt *st, int col, const char *what,
                           int (*cb)(const journal_command_t *c, void *ud), void *ud) {
        journal_command_t *rows = NULL;
        size_t n = 0, cap = 0;
        int rc, r = 0;

        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 16;
                        journal_command_t *grown = realloc(rows, ncap * sizeof *rows);
                        if (!grown) {
                                r = s_error(j, -ENOMEM, "%s: out of memory", what);
                                break;
                        }
                        rows = grown;
                        cap = ncap;
                }
                r = s_read_command(j, st, col, &rows[n]);
                if (r < 0)
                        break;
                n++;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = s_fail(j, rc, what);
        s_finish(st);

        for (size_t i = 0; r == 0 && i < n; i++)
                r = cb(&rows[i], ud);
        for (size_t i = 0; i < n; i++)
                journal_command_clear(&rows[i]);
        free(rows);
        return r;
}

int journal_commands_unfinished(journal_t *j, int (*cb)(const journal_command_t *c, void *ud), void *ud) {
        if (!cb)
                return s_error(j, -EINVAL, "commands_unfinished: no callback");
        return s_walk_commands(j, j->stmt[STMT_CMD_UNFINISHED], 0, "commands_unfinished", cb, ud);
}

int journal_commands_recent(journal_t *j, uint32_t limit,
                            int (*cb)(const journal_command_t *c, void *ud), void *ud) {
        if (!cb)
                return s_error(j, -EINVAL, "commands_recent: no callback");
        sqlite3_stmt *st = j->stmt[STMT_CMD_RECENT];
        sqlite3_bind_int64(st, 1, limit ? limit : JOURNAL_RECENT_DEFAULT_LIMIT);
        /* Column 0 is seq, for the ordering only. */
        return s_walk_commands(j, st, 1, "commands_recent", cb, ud);
}

int journal_local_unreported(journal_t *j, uint32_t limit, int (*cb)(const journal_command_t *c, void *ud),
                             void *ud) {
        if (!cb || !limit)
                return s_error(j, -EINVAL, "local_unreported: no callback or no limit");
        sqlite3_stmt *st = j->stmt[STMT_CMD_LOCAL_UNREPORTED];
        sqlite3_bind_int64(st, 1, limit);
        return s_walk_commands(j, st, 0, "local_unreported", cb, ud);
}

int journal_local_reported(journal_t *j, const char *id) {
        if (!s_id_ok(id))
                return s_error(j, -EINVAL, "local_reported: bad id");
        int r = s_check_writable(j, "local_reported");
        if (r < 0)
                return r;
        sqlite3_stmt *st = j->stmt[STMT_CMD_LOCAL_REPORTED];
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        return s_step_done(j, st, "local_reported");
}

/* ---- retention ------------------------------------------------------------ */

static int s_rollback(journal_t *j);

/* Starts a write transaction (IMMEDIATE: see STMT_BEGIN). */
static int s_begin_write(journal_t *j, const char *what) {
        int r = s_check_writable(j, what);
        if (r < 0)
                return r;
        sqlite3_stmt *st = j->stmt[STMT_BEGIN];
        int rc = sqlite3_step(st);
        s_finish(st);
        return rc == SQLITE_DONE ? 0 : s_fail(j, rc, what);
}

/* Runs the statements in order in one write transaction, each with ?1
 * bound to the integer or (when text is not NULL) the text; all or none.
 * ret_changes[i] (when not NULL) gets the rows statement i changed. */
static int s_steps_in_tx(journal_t *j, const journal_stmt_id_t *steps, size_t n, int64_t integer,
                         const char *text, uint64_t *ret_changes, const char *what) {
        sqlite3_stmt *st;
        int rc, r = s_begin_write(j, what);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                st = j->stmt[steps[i]];
                if (text)
                        sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
                else
                        sqlite3_bind_int64(st, 1, integer);
                r = s_step_done(j, st, what);
                if (r < 0) {
                        (void) s_rollback(j);
                        return r;
                }
                if (ret_changes)
                        ret_changes[i] = (uint64_t) sqlite3_changes(j->db);
        }
        st = j->stmt[STMT_COMMIT];
        rc = sqlite3_step(st);
        s_finish(st);
        if (rc != SQLITE_DONE) {
                r = s_fail(j, rc, what);
                (void) s_rollback(j);
                return r;
        }
        return 0;
}

int journal_prune(journal_t *j, int64_t before, uint64_t *ret_removed) {
        static const journal_stmt_id_t steps[] = {
                STMT_PRUNE_COMMANDS, STMT_PRUNE_SNAP_PACKAGES, STMT_PRUNE_SNAP_FILES,
                STMT_PRUNE_SNAP_UNITS, STMT_PRUNE_SNAPSHOTS,
        };
        uint64_t changes[sizeof steps / sizeof *steps];
        int r = s_steps_in_tx(j, steps, sizeof steps / sizeof *steps, before, NULL, changes, "prune");
        if (r < 0)
                return r;
        /* Commands and snapshots, not their parts. */
        if (ret_removed)
                *ret_removed = changes[0] + changes[4];
        return 0;
}

/* ---- snapshots ------------------------------------------------------------- */

static void s_read_snapshot(sqlite3_stmt *st, journal_snapshot_t *s) {
        memset(s, 0, sizeof *s);
        s_column_text(st, 0, s->id, sizeof s->id);
        s_column_text(st, 1, s->upgrade_id, sizeof s->upgrade_id);
        s->created = sqlite3_column_int64(st, 2);
        s->open = sqlite3_column_int(st, 3) != 0;
        s->drained = sqlite3_column_int(st, 4) != 0;
}

/* Runs a one-row snapshot query already bound; -ENOENT for no row. */
static int s_snapshot_row(journal_t *j, sqlite3_stmt *st, const char *what, journal_snapshot_t *ret) {
        journal_snapshot_t s;
        int rc = sqlite3_step(st), r;

        if (rc == SQLITE_ROW) {
                s_read_snapshot(st, &s);
                r = 0;
        } else if (rc == SQLITE_DONE) {
                r = -ENOENT;
        } else {
                r = s_fail(j, rc, what);
        }
        s_finish(st);
        if (r == 0 && ret)
                *ret = s;
        return r;
}

int journal_snapshot_find_open(journal_t *j, const char *upgrade_id, journal_snapshot_t *ret) {
        if (!upgrade_id)
                upgrade_id = "";
        if (!ret || !s_fits(upgrade_id, FIELD_SIZE(journal_snapshot_t, upgrade_id)))
                return s_error(j, -EINVAL, "snapshot_find_open: bad upgrade id");

        sqlite3_stmt *st = j->stmt[STMT_SNAP_FIND_OPEN];
        sqlite3_bind_text(st, 1, upgrade_id, -1, SQLITE_STATIC);
        return s_snapshot_row(j, st, "snapshot_find_open", ret);
}

int journal_snapshot_get(journal_t *j, const char *id, journal_snapshot_t *ret) {
        if (!s_id_ok(id) || !ret)
                return s_error(j, -EINVAL, "snapshot_get: bad id");

        sqlite3_stmt *st = j->stmt[STMT_SNAP_GET];
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        return s_snapshot_row(j, st, "snapshot_get", ret);
}

static int s_rollback(journal_t *j) {
        j->building[0] = '\0';
        if (sqlite3_get_autocommit(j->db))
                return 0;
        sqlite3_stmt *st = j->stmt[STMT_ROLLBACK];
        int rc = sqlite3_step(st);
        s_finish(st);
        return rc == SQLITE_DONE ? 0 : s_fail(j, rc, "rollback");
}

/* "snap-<now>-<n>" with n one more than the largest n of that second
 * (read inside the write transaction, so no other process can take it). */
static int s_next_snapshot_id(journal_t *j, int64_t now, char id[64]) {
        char prefix[40], pattern[44];

        snprintf(prefix, sizeof prefix, "snap-%" PRId64 "-", now);
        snprintf(pattern, sizeof pattern, "%s*", prefix);
        sqlite3_stmt *st = j->stmt[STMT_SNAP_NEXT_SEQ];
        sqlite3_bind_text(st, 1, pattern, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, (int) strlen(prefix) + 1);
        int rc = sqlite3_step(st), r = 0;
        if (rc == SQLITE_ROW)
                snprintf(id, 64, "%s%" PRId64, prefix, (int64_t) sqlite3_column_int64(st, 0));
        else
                r = s_fail(j, rc == SQLITE_DONE ? SQLITE_ERROR : rc, "snapshot id");
        s_finish(st);
        return r;
}

int journal_snapshot_begin(journal_t *j, const char *upgrade_id, char ret_id[64]) {
        char id[64];
        int r;

        if (!upgrade_id)
                upgrade_id = "";
        if (!ret_id || !s_fits(upgrade_id, FIELD_SIZE(journal_snapshot_t, upgrade_id)))
                return s_error(j, -EINVAL, "snapshot_begin: bad upgrade id");
        r = s_begin_write(j, "snapshot_begin");
        if (r < 0)
                return r;
        sqlite3_stmt *st;

        int64_t now = clock_wall_s();
        r = s_next_snapshot_id(j, now, id);
        if (r < 0)
                goto fail;
        st = j->stmt[STMT_SNAP_INSERT];
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, upgrade_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now);
        r = s_step_done(j, st, "snapshot_begin");
        if (r < 0)
                goto fail;

        memcpy(j->building, id, sizeof j->building);
        memcpy(ret_id, id, sizeof id);
        return 0;
fail:
        (void) s_rollback(j);
        return r;
}

/* add_* and commit act only on the snapshot being taken, inside its
 * transaction. If SQLite rolled that back on its own after an error (disk
 * full), writing on would commit each row alone: refuse instead, and let
 * the caller abort. */
static int s_check_building(journal_t *j, const char *snap, const char *what) {
        if (!j->building[0])
                return s_error(j, -EINVAL, "%s: no snapshot is being taken", what);
        if (!snap || strcmp(snap, j->building) != 0)
                return s_error(j, -EINVAL, "%s: %s is not the snapshot being taken (%s)", what,
                               snap ? snap : "(null)", j->building);
        if (sqlite3_get_autocommit(j->db))
                return s_error(j, -EIO, "%s: the snapshot transaction was rolled back after an error", what);
        return 0;
}

int journal_snapshot_add_package(journal_t *j, const char *snap, const char *name, const char *version) {
        int r = s_check_building(j, snap, "snapshot_add_package");
        if (r < 0)
                return r;
        if (!name || !*name || !version)
                return s_error(j, -EINVAL, "snapshot_add_package: bad name or version");

        sqlite3_stmt *st = j->stmt[STMT_SNAP_ADD_PACKAGE];
        sqlite3_bind_text(st, 1, snap, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, version, -1, SQLITE_STATIC);
        return s_step_done(j, st, "snapshot_add_package");
}

int journal_snapshot_add_file(journal_t *j, const char *snap, const char *path, bool exists,
                              const void *content, size_t len, uint32_t mode, uint32_t uid, uint32_t gid) {
        int r = s_check_building(j, snap, "snapshot_add_file");
        if (r < 0)
                return r;
        if (!path || !*path)
                return s_error(j, -EINVAL, "snapshot_add_file: bad path");
        if (exists && !s_blob_ok(content, len))
                return s_error(j, -EINVAL, "snapshot_add_file: bad content");

        sqlite3_stmt *st = j->stmt[STMT_SNAP_ADD_FILE];
        sqlite3_bind_text(st, 1, snap, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, exists ? 1 : 0);
        if (exists)
                s_bind_blob(st, 4, content, len);
        else
                sqlite3_bind_null(st, 4);
        sqlite3_bind_int64(st, 5, exists ? mode : 0);
        sqlite3_bind_int64(st, 6, exists ? uid : 0);
        sqlite3_bind_int64(st, 7, exists ? gid : 0);
        return s_step_done(j, st, "snapshot_add_file");
}

int journal_snapshot_add_unit(journal_t *j, const char *snap, const char *unit, const char *active_state) {
        int r = s_check_building(j, snap, "snapshot_add_unit");
        if (r < 0)
                return r;
        if (!unit || !*unit || !active_state)
                return s_error(j, -EINVAL, "snapshot_add_unit: bad unit or state");

        sqlite3_stmt *st = j->stmt[STMT_SNAP_ADD_UNIT];
        sqlite3_bind_text(st, 1, snap, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, unit, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, active_state, -1, SQLITE_STATIC);
        return s_step_done(j, st, "snapshot_add_unit");
}

int journal_snapshot_commit(journal_t *j, const char *snap, bool drained) {
        if (j->walking)
                return s_error(j, -EBUSY, "snapshot_commit: inside a snapshot walk");
        int r = s_check_building(j, snap, "snapshot_commit");
        if (r == -EIO)
                (void) s_rollback(j);   /* clears building; nothing to commit */
        if (r < 0)
                return r;

        sqlite3_stmt *st = j->stmt[STMT_SNAP_SET_DRAINED];
        sqlite3_bind_text(st, 1, snap, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, drained ? 1 : 0);
        r = s_step_done(j, st, "snapshot_commit");
        if (r < 0)
                goto fail;
        st = j->stmt[STMT_COMMIT];
        int rc = sqlite3_step(st);
        s_finish(st);
        if (rc != SQLITE_DONE) {
                r = s_fail(j, rc, "snapshot_commit");
                goto fail;
        }
        j->building[0] = '\0';
        return 0;
fail:
        /* One outcome for the caller: nothing committed, no transaction. */
        (void) s_rollback(j);
        return r;
}

int journal_snapshot_abort(journal_t *j) {
        if (!j->building[0])
                return s_error(j, -EINVAL, "snapshot_abort: no snapshot is being taken");
        if (j->walking)
                return s_error(j, -EBUSY, "snapshot_abort: inside a snapshot walk");
        return s_rollback(j);
}

int journal_snapshot_close(journal_t *j, const char *snap) {
        if (!s_id_ok(snap))
                return s_error(j, -EINVAL, "snapshot_close: bad id");
        int r = s_check_writable(j, "snapshot_close");
        if (r < 0)
                return r;

        sqlite3_stmt *st = j->stmt[STMT_SNAP_CLOSE];
        sqlite3_bind_text(st, 1, snap, -1, SQLITE_STATIC);
        r = s_step_done(j, st, "snapshot_close");
        if (r < 0)
                return r;
        return sqlite3_changes(j->db) > 0 ? 0 : s_error(j, -ENOENT, "snapshot_close: no snapshot %s", snap);
}

int journal_snapshot_discard(journal_t *j, const char *snap) {
        static const journal_stmt_id_t steps[] = {
                STMT_DISCARD_SNAP_PACKAGES, STMT_DISCARD_SNAP_FILES, STMT_DISCARD_SNAP_UNITS,
                STMT_DISCARD_SNAPSHOT,
        };
        uint64_t changes[sizeof steps / sizeof *steps];
        if (!s_id_ok(snap))
                return s_error(j, -EINVAL, "snapshot_discard: bad id");
        int r = s_steps_in_tx(j, steps, sizeof steps / sizeof *steps, 0, snap, changes, "snapshot_discard");
        if (r < 0)
                return r;
        return changes[3] ? 0 : s_error(j, -ENOENT, "snapshot_discard: no open snapshot %s", snap);
}

/* Common start of the part walks: the snapshot exists and st is free. */
static int s_walk_start(journal_t *j, journal_stmt_id_t id, const char *snap, const char *what) {
        if (!s_id_ok(snap))
                return s_error(j, -EINVAL, "%s: bad snapshot id", what);
        if (sqlite3_stmt_busy(j->stmt[id]))
                return s_error(j, -EBUSY, "%s: nested walk of the same part", what);
        int r = journal_snapshot_get(j, snap, &(journal_snapshot_t) { 0 });
        if (r == -ENOENT)
                return s_error(j, -ENOENT, "%s: no snapshot %s", what, snap);
        if (r < 0)
                return r;
        sqlite3_bind_text(j->stmt[id], 1, snap, -1, SQLITE_STATIC);
        j->walking++;
        return 0;
}

static int s_walk_end(journal_t *j, journal_stmt_id_t id, int rc, int r, const char *what) {
        if (r == 0 && rc != SQLITE_DONE)
                r = s_fail(j, rc, what);
        s_finish(j->stmt[id]);
        j->walking--;
        return r;
}

int journal_snapshot_packages(journal_t *j, const char *snap,
                              int (*cb)(const char *name, const char *version, void *ud), void *ud) {
        if (!cb)
                return s_error(j, -EINVAL, "snapshot_packages: no callback");
        int r = s_walk_start(j, STMT_SNAP_PACKAGES, snap, "snapshot_packages");
        if (r < 0)
                return r;

        sqlite3_stmt *st = j->stmt[STMT_SNAP_PACKAGES];
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *name = (const char *) sqlite3_column_text(st, 0);
                const char *version = (const char *) sqlite3_column_text(st, 1);
                if (!name || !version) {
                        rc = SQLITE_NOMEM;
                        break;
                }
                r = cb(name, version, ud);
                if (r != 0)
                        break;
        }
        return s_walk_end(j, STMT_SNAP_PACKAGES, rc, r, "snapshot_packages");
}

static uint32_t s_column_u32(sqlite3_stmt *st, int col) {
        int64_t v = sqlite3_column_int64(st, col);
        return v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t) v;
}

int journal_snapshot_files(journal_t *j, const char *snap,
                           int (*cb)(const char *path, bool exists, const void *content, size_t len,
                                     uint32_t mode, uint32_t uid, uint32_t gid, void *ud),
                           void *ud) {
        if (!cb)
                return s_error(j, -EINVAL, "snapshot_files: no callback");
        int r = s_walk_start(j, STMT_SNAP_FILES, snap, "snapshot_files");
        if (r < 0)
                return r;

        sqlite3_stmt *st = j->stmt[STMT_SNAP_FILES];
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const void *content;
                size_t len;
                bool exists = sqlite3_column_int(st, 1) != 0;
                r = s_column_blob(j, st, 2, &content, &len);
                if (r < 0)
                        break;
                if (!exists) {
                        content = NULL;
                        len = 0;
                } else if (!content) {
                        content = "";   /* present but empty */
                }
                const char *path = (const char *) sqlite3_column_text(st, 0);
                if (!path) {
                        rc = SQLITE_NOMEM;
                        break;
                }
                r = cb(path, exists, content, len, s_column_u32(st, 3), s_column_u32(st, 4),
                       s_column_u32(st, 5), ud);
                if (r != 0)
                        break;
        }
        return s_walk_end(j, STMT_SNAP_FILES, rc, r, "snapshot_files");
}

int journal_snapshot_units(journal_t *j, const char *snap,
                           int (*cb)(const char *unit, const char *active_state, void *ud), void *ud) {
        if (!cb)
                return s_error(j, -EINVAL, "snapshot_units: no callback");
        int r = s_walk_start(j, STMT_SNAP_UNITS, snap, "snapshot_units");
        if (r < 0)
                return r;

        sqlite3_stmt *st = j->stmt[STMT_SNAP_UNITS];
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *unit = (const char *) sqlite3_column_text(st, 0);
                const char *state = (const char *) sqlite3_column_text(st, 1);
                if (!unit || !state) {
                        rc = SQLITE_NOMEM;
                        break;
                }
                r = cb(unit, state, ud);
                if (r != 0)
                        break;
        }
        return s_walk_end(j, STMT_SNAP_UNITS, rc, r, "snapshot_units");
}

/* ---- drain ----------------------------------------------------------------- */

#define KV_DRAINED "drained"

int journal_set_drained(journal_t *j, bool drained) {
        int r = s_check_writable(j, "set_drained");
        if (r < 0)
                return r;

        sqlite3_stmt *st = j->stmt[STMT_KV_PUT];
        sqlite3_bind_text(st, 1, KV_DRAINED, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, drained ? "1" : "0", -1, SQLITE_STATIC);
        return s_step_done(j, st, "set_drained");
}

int journal_get_drained(journal_t *j, bool *ret) {
        if (!ret)
                return s_error(j, -EINVAL, "get_drained: no result");

        sqlite3_stmt *st = j->stmt[STMT_KV_GET];
        sqlite3_bind_text(st, 1, KV_DRAINED, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st), r = 0;
        bool drained = false;
        if (rc == SQLITE_ROW) {
                const unsigned char *v = sqlite3_column_text(st, 0);
                drained = v && strcmp((const char *) v, "1") == 0;
        } else if (rc != SQLITE_DONE) {
                r = s_fail(j, rc, "get_drained");
        }
        s_finish(st);
        if (r == 0)
                *ret = drained;
        return r;
}
