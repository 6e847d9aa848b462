/* The node journal: what the agent was asked to do and what it did,
 * durable before it is reported (SQLite in state_dir/journal.db, WAL,
 * synchronous=FULL, mode 0600).
 *
 * - Commands: every command id with its request and state transitions. A
 *   command id seen before is never run again: its recorded result is
 *   returned. After a crash, commands left ACCEPTED or RUNNING are found by
 *   journal_commands_unfinished() and reported INTERRUPTED once the agent
 *   has looked at the node's real state.
 * - Snapshots: before the first change of an upgrade, the installed
 *   versions of managed packages, a copy (content, mode, owner) of every
 *   file the agent may rewrite, unit states, and whether the node was
 *   drained. Rollback restores from one. A snapshot is open until rolled
 *   back; commands of the same upgrade id share it.
 * - Drain: whether the agent drained the node (so it undrains only what
 *   it drained).
 * - Retention: a refused command keeps its decision, never its request's
 *   bytes; journal_prune() forgets what no rollback or replay needs.
 *
 * Every function that changes state has committed it (fsynced) when it
 * returns 0; the one exception is the snapshot transaction, committed by
 * journal_snapshot_commit(). Errors are -errno style: -EINVAL for bad
 * input, -ENOENT for an unknown id, -EEXIST for a duplicate, -EIO for an
 * SQLite failure (the message is logged at debug and kept in
 * journal_last_error()); some failures are more precise: -EBUSY (another
 * process held the lock past the busy timeout), -ENOSPC, -EROFS, -ENOMEM.
 *
 * A journal_t is used by one thread at a time. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/attrs.h"

typedef struct journal journal_t;

typedef enum {
        JCMD_ACCEPTED = 1,
        JCMD_RUNNING = 2,
        JCMD_SUCCEEDED = 3,
        JCMD_FAILED = 4,
        JCMD_INTERRUPTED = 5,
        JCMD_REFUSED = 6,
} journal_state_t;          /* same numbers as the wire's CommandState */

const char *journal_state_name(journal_state_t s);

typedef struct {
        char id[64];
        char kind[16];               /* "install", "repoint", ... */
        journal_state_t state;
        char snapshot_id[64];        /* "" when the command changes nothing */
        char upgrade_id[64];         /* "" when not part of an upgrade */
        int64_t created, updated;    /* unix seconds */
        uint8_t *request;            /* packed Command (owned); empty once refused */
        size_t request_len;
        uint8_t *result;             /* packed CommandStatus once finished (owned), or NULL */
        size_t result_len;
} journal_command_t;

/* Frees request and result and zeroes *c; accepts NULL. */
void journal_command_clear(journal_command_t *c);

/* Opens (creating if needed) the journal at path, creating or upgrading
 * the schema. The file (and its -wal, -shm) is created mode 0600. Errors:
 * -errno from creating the file (-ENOENT for a missing directory),
 * -EINVAL for a file that is not an SQLite database, -EIO for a corrupt
 * one, -EPROTONOSUPPORT for a schema newer than this program. *ret is set
 * only on success. Call before starting threads (sets umask). */
HL_MUST_USE int journal_open(const char *path, journal_t **ret);
/* Accepts NULL; aborts a snapshot being taken; sets *j = NULL. */
void journal_close(journal_t **j);
/* The last failure's message, owned by j ("" before any failure). */
const char *journal_last_error(const journal_t *j);

/* Records a new command as ACCEPTED. -EEXIST if the id is known. id is
 * 1..63 bytes, kind 1..15; request may be NULL only with len 0;
 * snapshot_id and upgrade_id (0..63 bytes) NULL or "" for none. */
HL_MUST_USE int journal_command_begin(journal_t *j, const char *id, const char *kind, const uint8_t *request,
                                      size_t len, const char *snapshot_id, const char *upgrade_id);
/* The same for a command the node's root runs without the coordinator
 * (hitless-agent rollback): once finished it is listed by
 * journal_local_unreported() until journal_local_reported(), and
 * retention keeps it until then. */
HL_MUST_USE int journal_command_begin_local(journal_t *j, const char *id, const char *kind,
                                            const uint8_t *request, size_t len);
/* ACCEPTED or RUNNING only (-EINVAL otherwise): a final state comes with
 * its result through journal_command_finish(). */
HL_MUST_USE int journal_command_set_state(journal_t *j, const char *id, journal_state_t state);
/* Final state (SUCCEEDED, FAILED, INTERRUPTED, REFUSED) with the packed
 * CommandStatus to return for this id (may be empty). REFUSED also drops
 * the stored request: the decision is what a replay gets back. */
HL_MUST_USE int journal_command_finish(journal_t *j, const char *id, journal_state_t state,
                                       const uint8_t *result, size_t len);
/* Both return -ENOENT for an unknown id and -EALREADY for a command that is
 * already in a final state: its recorded result never changes. */

/* -ENOENT for an unknown id. On success *ret is overwritten (not freed):
 * request is never NULL, result is NULL until finished; the caller frees
 * both with journal_command_clear(). */
HL_MUST_USE int journal_command_get(journal_t *j, const char *id, journal_command_t *ret);
/* The walks below read all matching rows before the first callback, so a
 * callback may write to the journal (e.g. finish a command as INTERRUPTED)
 * and that write is durable when it returns. c and its blobs are owned by
 * the journal and valid during the call only. A non-zero return from cb
 * stops the walk and is returned. */
/* Every command not in a final state (ACCEPTED, RUNNING), oldest first. */
HL_MUST_USE int journal_commands_unfinished(journal_t *j, int (*cb)(const journal_command_t *c, void *ud), void *ud);
/* The newest `limit` commands (0: 100), oldest first (for
 * `hitless-agent journal`). */
HL_MUST_USE int journal_commands_recent(journal_t *j, uint32_t limit,
                                        int (*cb)(const journal_command_t *c, void *ud), void *ud);

/* Local commands finished and not yet acknowledged by the coordinator,
 * oldest first, at most limit (> 0). */
HL_MUST_USE int journal_local_unreported(journal_t *j, uint32_t limit,
                                         int (*cb)(const journal_command_t *c, void *ud), void *ud);
/* The coordinator has recorded local command id: it is not listed again.
 * An id that is not an unreported local command changes nothing (0). */
HL_MUST_USE int journal_local_reported(journal_t *j, const char *id);

/* Snapshots. ids are generated ("snap-<unix time>-<n>", n counting from 1
 * within each second, so unique even for several in one second). */
typedef struct {
        char id[64];
        char upgrade_id[64];
        int64_t created;
        bool open;                   /* not rolled back yet */
        bool drained;                /* the node was drained by us when taken */
} journal_snapshot_t;

/* The newest open snapshot for upgrade_id ("" or NULL matches the newest
 * open one of any upgrade), or -ENOENT. */
HL_MUST_USE int journal_snapshot_find_open(journal_t *j, const char *upgrade_id, journal_snapshot_t *ret);
/* A snapshot by id, or -ENOENT. */
HL_MUST_USE int journal_snapshot_get(journal_t *j, const char *id, journal_snapshot_t *ret);
/* Everything for a new snapshot is added inside one transaction:
 * begin, add_*, commit (or abort); a crash before commit leaves nothing.
 * While a snapshot is being taken, every other write (commands, drain,
 * close, a second begin) returns -EBUSY: it would otherwise become part of
 * the snapshot's transaction, not durable on return and undone by abort.
 * add_* and commit return -EINVAL unless snap is the snapshot being taken,
 * and -EEXIST for a package, path or unit added twice. abort returns
 * -EINVAL when no snapshot is being taken. If commit fails nothing is
 * committed and no snapshot is being taken any more. */
HL_MUST_USE int journal_snapshot_begin(journal_t *j, const char *upgrade_id, char ret_id[64]);
/* version "" records a managed package that was not installed. */
HL_MUST_USE int journal_snapshot_add_package(journal_t *j, const char *snap, const char *name, const char *version);
/* !exists records a file that was absent (content, mode and owner are
 * ignored); content may be NULL only with len 0. */
HL_MUST_USE int journal_snapshot_add_file(journal_t *j, const char *snap, const char *path, bool exists,
                                          const void *content, size_t len, uint32_t mode, uint32_t uid, uint32_t gid);
HL_MUST_USE int journal_snapshot_add_unit(journal_t *j, const char *snap, const char *unit, const char *active_state);
HL_MUST_USE int journal_snapshot_commit(journal_t *j, const char *snap, bool drained);
HL_MUST_USE int journal_snapshot_abort(journal_t *j);
/* Marks the snapshot rolled back (no longer open); -ENOENT if unknown. */
HL_MUST_USE int journal_snapshot_close(journal_t *j, const char *snap);
/* Forgets an open snapshot and its parts, as if it had never been taken:
 * for one taken by a command that then changed nothing, so that a later
 * change takes its own. -ENOENT if there is no such open snapshot. */
HL_MUST_USE int journal_snapshot_discard(journal_t *j, const char *snap);

/* The parts of a committed snapshot, ordered by name, path and unit;
 * -ENOENT for an unknown snapshot. These walk rows as they are read: a
 * callback must not write to the journal (-EBUSY) nor walk the same part
 * again (-EBUSY). Strings and content are valid during the call only;
 * content is NULL when !exists. A non-zero return from cb stops the walk
 * and is returned. */
HL_MUST_USE int journal_snapshot_packages(journal_t *j, const char *snap,
                                          int (*cb)(const char *name, const char *version, void *ud), void *ud);
HL_MUST_USE int journal_snapshot_files(journal_t *j, const char *snap,
                                       int (*cb)(const char *path, bool exists, const void *content, size_t len,
                                                 uint32_t mode, uint32_t uid, uint32_t gid, void *ud),
                                       void *ud);
HL_MUST_USE int journal_snapshot_units(journal_t *j, const char *snap,
                                       int (*cb)(const char *unit, const char *active_state, void *ud), void *ud);

/* Retention, in one transaction: forgets finished commands last updated
 * before `before` (unix seconds) and rolled-back snapshots (with their
 * packages, files and units) taken before it. Never forgets unfinished
 * commands, open snapshots (what a rollback restores), nor the commands
 * (other than refused ones) of an upgrade with an open snapshot: a replay
 * of one gets its result, never a second run. A forgotten refusal is
 * decided again if it comes back, which runs nothing twice. *ret_removed
 * (may be NULL) counts commands and snapshots forgotten. */
HL_MUST_USE int journal_prune(journal_t *j, int64_t before, uint64_t *ret_removed);

/* Drain state: set by drain, cleared by undrain; false when never set. */
HL_MUST_USE int journal_set_drained(journal_t *j, bool drained);
HL_MUST_USE int journal_get_drained(journal_t *j, bool *ret);
