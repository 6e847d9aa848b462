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
 *   it drained). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
        int64_t created, updated;    /* unix seconds */
        uint8_t *request;            /* packed Command (owned) */
        size_t request_len;
        uint8_t *result;             /* packed CommandStatus once finished (owned), or NULL */
        size_t result_len;
} journal_command_t;

void journal_command_clear(journal_command_t *c);

int journal_open(const char *path, journal_t **ret);
void journal_close(journal_t **j);

/* Records a new command as ACCEPTED. -EEXIST if the id is known. */
int journal_command_begin(journal_t *j, const char *id, const char *kind, const uint8_t *request,
                          size_t len, const char *snapshot_id);
int journal_command_set_state(journal_t *j, const char *id, journal_state_t state);
/* Final state with the packed CommandStatus to return for this id. */
int journal_command_finish(journal_t *j, const char *id, journal_state_t state,
                           const uint8_t *result, size_t len);
/* -ENOENT for an unknown id. */
int journal_command_get(journal_t *j, const char *id, journal_command_t *ret);
/* Every command not in a final state, oldest first. */
int journal_commands_unfinished(journal_t *j, int (*cb)(const journal_command_t *c, void *ud), void *ud);
/* The newest `limit` commands, oldest first (for `hitless-agent journal`). */
int journal_commands_recent(journal_t *j, uint32_t limit,
                            int (*cb)(const journal_command_t *c, void *ud), void *ud);

/* Snapshots. ids are generated ("snap-<unix time>-<n>"). */
typedef struct {
        char id[64];
        char upgrade_id[64];
        int64_t created;
        bool open;                   /* not rolled back yet */
        bool drained;                /* the node was drained by us when taken */
} journal_snapshot_t;

/* The open snapshot for upgrade_id ("" matches the newest open one), or
 * -ENOENT. */
int journal_snapshot_find_open(journal_t *j, const char *upgrade_id, journal_snapshot_t *ret);
/* A snapshot by id, or -ENOENT. */
int journal_snapshot_get(journal_t *j, const char *id, journal_snapshot_t *ret);
/* Everything for a new snapshot is added inside one transaction:
 * begin, add_*, commit (or abort). */
int journal_snapshot_begin(journal_t *j, const char *upgrade_id, char ret_id[64]);
int journal_snapshot_add_package(journal_t *j, const char *snap, const char *name, const char *version);
int journal_snapshot_add_file(journal_t *j, const char *snap, const char *path, bool exists,
                              const void *content, size_t len, uint32_t mode, uint32_t uid, uint32_t gid);
int journal_snapshot_add_unit(journal_t *j, const char *snap, const char *unit, const char *active_state);
int journal_snapshot_commit(journal_t *j, const char *snap, bool drained);
int journal_snapshot_abort(journal_t *j);
int journal_snapshot_close(journal_t *j, const char *snap);   /* rolled back */

int journal_snapshot_packages(journal_t *j, const char *snap,
                              int (*cb)(const char *name, const char *version, void *ud), void *ud);
int journal_snapshot_files(journal_t *j, const char *snap,
                           int (*cb)(const char *path, bool exists, const void *content, size_t len,
                                     uint32_t mode, uint32_t uid, uint32_t gid, void *ud),
                           void *ud);
int journal_snapshot_units(journal_t *j, const char *snap,
                           int (*cb)(const char *unit, const char *active_state, void *ud), void *ud);

/* Drain state: set by drain, cleared by undrain. */
int journal_set_drained(journal_t *j, bool drained);
int journal_get_drained(journal_t *j, bool *ret);
