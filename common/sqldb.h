/* The SQLite plumbing shared by the coordinator's store and the agent's
 * journal: a database file that only its owner can read, in WAL mode with
 * synchronous=FULL (a commit is on disk before it returns), its schema
 * brought up to date by numbered migrations, and a table of statements
 * prepared once for the life of the connection.
 *
 * Each module keeps its own schema, statements and functions; this file
 * only opens and closes. Errors are -errno: sqldb_errno() says which. */
#pragma once
#include <stddef.h>
#include <sqlite3.h>

#include "common/attrs.h"

/* PRAGMA user_version is the schema version. Each migration takes the
 * database from the previous entry's version to its own. Append new
 * entries; never edit a released one. */
typedef struct {
        int version;
        const char *sql;
} sqldb_migration_t;

typedef struct {
        const char *name;                     /* prefix of debug log lines: "store" */
        const sqldb_migration_t *migrations;  /* ascending versions; at least one */
        size_t n_migrations;
        const char *const *stmt_sql;          /* prepared SQLITE_PREPARE_PERSISTENT */
        size_t n_stmt;
} sqldb_schema_t;

/* The -errno for an SQLite result code (extended codes accepted): -ENOMEM,
 * -EBUSY (busy or locked past the busy timeout), -EROFS, -ENOSPC, -EINVAL
 * (not a database), -EIO for anything else. */
HL_MUST_USE int sqldb_errno(int rc);

/* Opens (creating if needed) the database at path and prepares the
 * schema's statements into stmt[0 .. n_stmt - 1].
 *
 * A new file is created mode 0600 (and its directory fsynced); -wal and
 * -shm get that mode too. An existing file keeps its mode. Missing
 * migrations are applied in order in one transaction, so a crash mid-way
 * leaves the old schema intact. Sets the process umask for the duration:
 * call before starting threads.
 *
 * On success the caller owns *ret_db and the statements, and gives them
 * back with sqldb_close(). On failure nothing is left open, every stmt
 * entry is NULL, and error (error_size bytes, owned by the caller) holds
 * the message, also logged at debug. Errors: -errno from creating the
 * file (-ENOENT for a missing directory), -EINVAL for a file that is not
 * an SQLite database, -EIO for a corrupt one or no WAL support,
 * -EPROTONOSUPPORT for a schema newer than the last migration, or
 * sqldb_errno() of another SQLite failure. */
HL_MUST_USE int sqldb_open(const char *path, const sqldb_schema_t *schema, sqlite3 **ret_db, sqlite3_stmt **stmt,
                           char *error, size_t error_size);

/* Rolls back an open transaction, finalizes stmt[0 .. n_stmt - 1] (and sets
 * them NULL) and closes db. Accepts a NULL db and NULL statements. */
void sqldb_close(sqlite3 *db, sqlite3_stmt **stmt, size_t n_stmt);
