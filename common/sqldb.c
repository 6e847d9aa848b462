#include "common/sqldb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

/* How long a write waits for another process holding the lock (a
 * command-line tool reading while the daemon writes) before -EBUSY. */
#define SQLDB_BUSY_TIMEOUT_MS 5000

/* An open in progress and where its failures are reported. */
typedef struct {
        sqlite3 *db;
        const sqldb_schema_t *schema;
        char *error;
        size_t error_size;
} open_ctx_t;

int sqldb_errno(int rc) {
        switch (rc & 0xff) {
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_NOTADB:
                return -EINVAL;
        default:
                return -EIO;
        }
}

static int s_error(open_ctx_t *c, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int s_error(open_ctx_t *c, int err, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(c->error, c->error_size, fmt, ap);
        va_end(ap);
        log_debug("%s: %s", c->schema->name, c->error);
        return err;
}

static int s_fail(open_ctx_t *c, int rc, const char *what) {
        return s_error(c, sqldb_errno(rc), "%s: %s", what,
                       c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
}

static int s_exec(open_ctx_t *c, const char *sql, const char *what) {
        char *err = NULL;
        int rc = sqlite3_exec(c->db, sql, NULL, NULL, &err);

        if (rc == SQLITE_OK)
                return 0;
        int r = s_error(c, sqldb_errno(rc), "%s: %s", what, err ? err : sqlite3_errstr(rc));
        sqlite3_free(err);
        return r;
}

/* Runs a one-row statement (a PRAGMA) and returns its first column. */
static int s_query_text(open_ctx_t *c, const char *sql, char *buf, size_t size) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
        int r = 0;

        if (rc != SQLITE_OK)
                return s_fail(c, rc, sql);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                const unsigned char *t = sqlite3_column_text(st, 0);
                snprintf(buf, size, "%s", t ? (const char *) t : "");
        } else {
                r = s_fail(c, rc == SQLITE_DONE ? SQLITE_ERROR : rc, sql);
        }
        sqlite3_finalize(st);
        return r;
}

static int s_migrate(open_ctx_t *c) {
        const sqldb_migration_t *migrations = c->schema->migrations;
        size_t n = c->schema->n_migrations;
        int latest = migrations[n - 1].version;
        char buf[32], sql[64];
        int r;

        /* The version is read inside the write transaction, so two processes
         * opening a new file at once cannot both create the schema. */
        r = s_exec(c, "BEGIN IMMEDIATE", "begin migration");
        if (r < 0)
                return r;
        r = s_query_text(c, "PRAGMA user_version", buf, sizeof buf);
        if (r < 0)
                goto fail;
        int current = atoi(buf);
        if (current > latest) {
                r = s_error(c, -EPROTONOSUPPORT, "schema version %d is newer than this program's %d",
                            current, latest);
                goto fail;
        }
        for (size_t i = 0; i < n; i++) {
                if (migrations[i].version <= current)
                        continue;
                r = s_exec(c, migrations[i].sql, "migrate schema");
                if (r < 0)
                        goto fail;
                snprintf(sql, sizeof sql, "PRAGMA user_version = %d", migrations[i].version);
                r = s_exec(c, sql, "set schema version");
                if (r < 0)
                        goto fail;
        }
        r = s_exec(c, "COMMIT", "commit migration");
        if (r < 0)
                goto fail;
        return 0;
fail:
        (void) sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

/* Everything between creating the file and a usable schema. -wal and -shm
 * appear on first access, so this runs under umask 077. On failure c->db
 * may be open and some statements prepared: the caller closes them. */
static int s_setup(open_ctx_t *c, const char *path, sqlite3_stmt **stmt) {
        char mode[16];
        int rc, r;

        /* open_v2 may hand back a handle carrying the message even when it
         * fails. */
        rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
        if (rc != SQLITE_OK)
                return s_fail(c, rc, "open");
        sqlite3_extended_result_codes(c->db, 1);
        sqlite3_busy_timeout(c->db, SQLDB_BUSY_TIMEOUT_MS);

        /* The first statement reads the header: a file that is not a
         * database fails here with SQLITE_NOTADB. */
        r = s_query_text(c, "PRAGMA journal_mode = WAL", mode, sizeof mode);
        if (r < 0)
                return r;
        if (strcmp(mode, "wal") != 0)
                return s_error(c, -EIO, "journal_mode is %s, WAL not available", mode);
        /* FULL: a commit is on disk (WAL fsynced) before it returns, which
         * is what lets callers report a change only once it is recorded. */
        r = s_exec(c, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF", "pragmas");
        if (r < 0)
                return r;
        r = s_migrate(c);
        if (r < 0)
                return r;

        for (size_t i = 0; i < c->schema->n_stmt; i++) {
                rc = sqlite3_prepare_v3(c->db, c->schema->stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                        &stmt[i], NULL);
                if (rc != SQLITE_OK)
                        return s_fail(c, rc, "prepare");
        }
        return 0;
}

/* Creates the file 0600 ourselves: SQLite would use 0644 & ~umask, and it
 * gives -wal and -shm the mode of the database file. */
static int s_create_file(const char *path) {
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

        if (fd < 0)
                return errno == EEXIST ? 0 : -errno;
        int r = fsync(fd) < 0 ? -errno : 0;
        close(fd);
        if (r < 0)
                return r;

        /* A new file's directory entry is durable only once the directory
         * is synced; otherwise a crash could lose the whole database. */
        char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        const char *d = ".";
        char *slash = strrchr(dir, '/');
        if (slash == dir) {
                d = "/";
        } else if (slash) {
                *slash = '\0';
                d = dir;
        }
        int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                r = -errno;
        } else {
                if (fsync(dfd) < 0)
                        r = -errno;
                close(dfd);
        }
        free(dir);
        return r;
}

int sqldb_open(const char *path, const sqldb_schema_t *schema, sqlite3 **ret_db, sqlite3_stmt **stmt,
               char *error, size_t error_size) {
        open_ctx_t c = { .schema = schema, .error = error, .error_size = error_size };

        for (size_t i = 0; i < schema->n_stmt; i++)
                stmt[i] = NULL;

        int r = s_create_file(path);
        if (r < 0)
                return s_error(&c, r, "cannot create %s: %s", path, strerror(-r));

        /* umask is process-wide; databases are opened at startup, before
         * the daemon starts threads. */
        mode_t old_umask = umask(077);
        r = s_setup(&c, path, stmt);
        umask(old_umask);
        if (r < 0) {
                log_debug("%s: cannot open %s: %s", schema->name, path, error);
                sqldb_close(c.db, stmt, schema->n_stmt);
                return r;
        }
        *ret_db = c.db;
        return 0;
}

void sqldb_close(sqlite3 *db, sqlite3_stmt **stmt, size_t n_stmt) {
        if (db && !sqlite3_get_autocommit(db))
                (void) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        for (size_t i = 0; i < n_stmt; i++) {
                sqlite3_finalize(stmt[i]);
                stmt[i] = NULL;
        }
        /* All statements are finalized, so close cannot fail with BUSY; it
         * checkpoints the WAL when this is the last connection. */
        sqlite3_close(db);
}
