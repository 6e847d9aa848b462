/* The coordinator's durable state in SQLite (WAL, synchronous=FULL):
 * Curve keys and their state, the last known record of every node, and an
 * event log (append-only but for coalescing and retention).
 *
 * A function that returns 0 has committed its change (or it is part of an
 * open store_begin() transaction, committed by store_commit()). Callers
 * acknowledge an admin action only after that. Errors are -errno style:
 * -EIO for an SQLite failure (the message is logged at debug and kept in
 * store_last_error()), -ENOENT for a missing row, -EINVAL for bad input.
 * Some SQLite failures have a more precise errno: -EBUSY (another process
 * held the lock past the busy timeout), -ENOSPC, -EROFS, -ENOMEM.
 *
 * A store_t is used by one thread at a time. The foreach callbacks may call
 * other store functions but must not walk the same table again (that
 * returns -EBUSY) or write to the table being walked. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/attrs.h"
#include "common/ids.h"
#include "common/keys.h"
#include "coordinator/store/store_health.h"
#include "coordinator/upgrade/upgrade_machine.h"

typedef struct store store_t;

typedef enum {
        KEY_PENDING = 0,
        KEY_ACCEPTED = 1,
        KEY_REJECTED = 2,
} key_state_t;

/* "pending", "accepted", "rejected"; "invalid" for any other value. */
const char *key_state_name(key_state_t s);

typedef struct {
        char public_key[KEYS_Z85_LEN + 1];  /* primary key */
        char node_id[NODE_ID_MAX + 1];      /* claimed (pending) or bound (accepted) */
        key_state_t state;
        char address[64];                   /* last source address seen */
        int64_t first_seen;                 /* unix seconds */
        int64_t last_seen;
        uint32_t attempts;                  /* connection attempts seen */
} key_record_t;

typedef struct {
        int64_t id;                         /* increasing, assigned by the store */
        int64_t time;                       /* unix seconds */
        char node_id[NODE_ID_MAX + 1];      /* "" when not about one node */
        char kind[32];                      /* "key.pending", "node.registered", ... */
        char actor[64];                     /* "unix:root", "coordinator", ... */
        char message[512];
        int64_t count;                      /* times it happened back to back, >= 1 */
        int64_t last_time;                  /* unix seconds of the last of them */
} event_record_t;

/* Opens (creating if needed) the database at path, creating or upgrading
 * the schema. The file (and its -wal, -shm) is created mode 0600; an
 * existing file keeps its mode. Errors: -errno from creating the file
 * (-ENOENT for a missing directory), -EINVAL for a file that is not an
 * SQLite database, -EIO for a corrupt one, -EPROTONOSUPPORT for a schema
 * newer than this program. Call before starting threads (sets umask). */
HL_MUST_USE int store_open(const char *path, store_t **ret);
/* Accepts NULL; rolls back an open transaction; sets *s = NULL. */
void store_close(store_t **s);
/* The last failure's message, owned by s ("" before any failure). */
const char *store_last_error(const store_t *s);

/* Whether writes work (see store_health.h); owned by s. */
const store_health_t *store_health(const store_t *s);

/* How long commits took (successful ones, COMMIT to its fsync): counts per
 * bucket of upper bounds store_commit_bucket_s (seconds; the last bucket
 * takes everything slower), their sum and number. For /metrics. */
#define STORE_COMMIT_BUCKETS 12
extern const double store_commit_bucket_s[STORE_COMMIT_BUCKETS - 1];
typedef struct {
        uint64_t bucket[STORE_COMMIT_BUCKETS];   /* not cumulative */
        uint64_t count;
        double sum_s;
} store_commit_latency_t;
const store_commit_latency_t *store_commit_latency(const store_t *s);

/* Calls cb with the number of commands recorded per action (kind) and
 * state (the wire's CommandState numbers, 0 = sent), one call per pair
 * that has any. */
HL_MUST_USE int store_commands_by_state(store_t *s, int (*cb)(const char *kind, int state, int64_t n, void *ud),
                                        void *ud);
/* True once after writes started working again following a degraded
 * stretch: the caller then retries what it could not record. */
bool store_take_recovered(store_t *s);
/* Rewrites one small row to learn whether writes work again (the tick
 * calls it while degraded: nothing else may write for a while). 0 when it
 * committed (or a transaction is open), else the store's error. */
HL_MUST_USE int store_probe(store_t *s);
/* Measures the free space of the file system holding the store (what an
 * unprivileged writer may use) against floor_bytes (0: no floor), into
 * store_health(). -errno from statvfs. */
HL_MUST_USE int store_check_space(store_t *s, uint64_t floor_bytes);

/* Groups several writes into one transaction (one fsync). store_begin
 * returns -EBUSY if one is already open; commit and rollback return
 * -EINVAL without one. A failed commit leaves nothing committed and no
 * transaction open. */
HL_MUST_USE int store_begin(store_t *s);
HL_MUST_USE int store_commit(store_t *s);
HL_MUST_USE int store_rollback(store_t *s);

/* Keys. store_key_put inserts or replaces the row for rec->public_key;
 * rec->node_id is "" or a valid node id. Delete returns -ENOENT for a key
 * that is not there. */
HL_MUST_USE int store_key_put(store_t *s, const key_record_t *rec);
HL_MUST_USE int store_key_get(store_t *s, const char *public_key, key_record_t *ret);
HL_MUST_USE int store_key_delete(store_t *s, const char *public_key);
/* Calls cb for every key, ordered by state then node_id; a non-zero return
 * from cb stops the walk and is returned. */
HL_MUST_USE int store_keys_foreach(store_t *s, int (*cb)(const key_record_t *rec, void *ud), void *ud);
/* Number of keys in a state, or -errno. */
HL_MUST_USE int64_t store_keys_count(store_t *s, key_state_t state);

/* Nodes: an opaque blob (the coordinator stores a packed NodeInfo) plus
 * last_seen, keyed by a valid node id. put inserts or replaces; delete
 * returns -ENOENT for a missing node. foreach walks in node id order; the
 * blob passed to cb is valid only during the call (never NULL); a non-zero
 * return from cb stops the walk and is returned. */
HL_MUST_USE int store_node_put(store_t *s, const char *node_id, const uint8_t *blob, size_t len,
                   int64_t last_seen);
HL_MUST_USE int store_node_delete(store_t *s, const char *node_id);
HL_MUST_USE int store_nodes_foreach(store_t *s,
                        int (*cb)(const char *node_id, const uint8_t *blob, size_t len,
                                  int64_t last_seen, void *ud),
                        void *ud);

/* Events: append-only. node_id may be NULL or "" (not about one node);
 * kind is required; a message longer than event_record_t.message holds is
 * cut at a UTF-8 boundary. ret_id may be NULL.
 *
 * Coalescing: when the node's newest event (for "" the newest of those
 * about no node) has the same kind, actor and message, that row's count
 * grows by count (1 for store_event_append) and its last_time becomes
 * time, and *ret_id is its id; otherwise a row is added. */
HL_MUST_USE int store_event_append(store_t *s, int64_t time, const char *node_id, const char *kind,
                       const char *actor, const char *message, int64_t *ret_id);
HL_MUST_USE int store_event_append_n(store_t *s, int64_t time, const char *node_id, const char *kind,
                         const char *actor, const char *message, int64_t count, int64_t *ret_id);
/* The newest `limit` events (100 when limit is 0; all nodes when node_id
 * is NULL or ""), passed to cb oldest first. A non-zero return from cb
 * stops the walk and is returned. */
HL_MUST_USE int store_events_foreach(store_t *s, const char *node_id, uint32_t limit,
                         int (*cb)(const event_record_t *ev, void *ud), void *ud);

/* Retention (coordinator/store/event_retention.h decides what and audits it).
 * The number of event rows, or -errno. delete_oldest deletes, oldest
 * first, at most max events, stopping at the first one last seen at or
 * after before_time (INT64_MAX: no age bound) and never deleting the
 * newest; *ret_deleted says how many. The schema refuses any other delete. */
HL_MUST_USE int64_t store_events_count(store_t *s);
HL_MUST_USE int store_events_delete_oldest(store_t *s, int64_t before_time, uint32_t max, int64_t *ret_deleted);

/* Commands sent to agents. state uses the wire's CommandState numbers
 * (0 = sent, not yet acknowledged); request is the packed Command, result
 * the latest packed CommandStatus (NULL until one arrives). In callbacks
 * the blobs are borrowed, valid during the call only. */
typedef struct {
        char id[64];
        char node_id[NODE_ID_MAX + 1];
        char kind[16];
        char actor[64];
        int state;
        int64_t created, updated;
        int64_t sent_event;                 /* its command.sent event's id; 0 unknown */
        const uint8_t *request;
        size_t request_len;
        const uint8_t *result;
        size_t result_len;
} command_record_t;

/* -EIO (constraint) for a duplicate id. */
HL_MUST_USE int store_command_put(store_t *s, const command_record_t *c);
/* -ENOENT for an unknown id. */
HL_MUST_USE int store_command_update(store_t *s, const char *id, int state, const uint8_t *result, size_t len,
                         int64_t updated);
/* Calls cb once for the command, or returns -ENOENT. */
HL_MUST_USE int store_command_get(store_t *s, const char *id, int (*cb)(const command_record_t *c, void *ud), void *ud);
/* Commands whose state is below final_from (not finished), for one node
 * (or all when node_id is NULL/""), oldest first. */
HL_MUST_USE int store_commands_unfinished(store_t *s, const char *node_id, int final_from,
                              int (*cb)(const command_record_t *c, void *ud), void *ud);

/* Upgrades. seq numbers them (1, 2, ...; the latest is the current one);
 * id is "up-SEQ"; setup is the packed UpgradeSetup the executor resolved
 * at start. put returns -EIO (constraint) for a seq or id already used. */
typedef struct {
        int64_t seq;
        const char *id;
        const char *plan_name;
        const char *file_name;
        const char *content;         /* the plan file's text */
        const char *actor;
        int64_t started;             /* unix seconds */
        const uint8_t *setup;
        size_t setup_len;
} upgrade_row_t;

HL_MUST_USE int store_upgrade_put(store_t *s, const upgrade_row_t *u);
/* Calls cb with the latest upgrade (strings and blob borrowed for the
 * call), or returns -ENOENT when there is none. */
HL_MUST_USE int store_upgrade_latest(store_t *s, int (*cb)(const upgrade_row_t *u, void *ud), void *ud);
/* Inserts or replaces the records (keyed by type and index) of upgrade seq. */
HL_MUST_USE int store_upgrade_records_put(store_t *s, int64_t seq, const upgrade_record_t *recs, size_t n);
/* Every record of upgrade seq, by type then index (malloc'ed; caller frees). */
HL_MUST_USE int store_upgrade_records_get(store_t *s, int64_t seq, upgrade_record_t **ret, size_t *ret_n);

/* Batch jobs (coordinator/jobs/). seq numbers them (1, 2, ...), id is
 * "job-SEQ"; record is the packed JobRecord. put inserts, or replaces the
 * record of the same seq and id (a seq with another id: nothing changes,
 * returns 0; callers never reuse a seq). */
typedef struct {
        int64_t seq;
        const char *id;
        const char *actor;
        int64_t created;             /* unix seconds */
        const uint8_t *record;
        size_t record_len;
} job_row_t;

HL_MUST_USE int store_job_put(store_t *s, const job_row_t *j);
/* Calls cb with every job, oldest first (borrowed for the call); stops at
 * the first negative return of cb and returns it. */
HL_MUST_USE int store_jobs_foreach(store_t *s, int (*cb)(const job_row_t *j, void *ud), void *ud);

/* History: admin actions (events whose actor is a unix user, and upgrade.*
 * events) and every command, merged by time (within a second, in the order
 * they were written: a command at its sent_event): the newest `limit` (200 when
 * 0), passed to cb oldest first, for one node or all (NULL/""). Pointers
 * are valid during the call only. */
#define STORE_HISTORY_DEFAULT_LIMIT 200
typedef struct {
        int64_t time;
        bool is_command;
        const char *actor;
        const char *node_id;
        char kind[32];                      /* events only: the event kind */
        const char *message;                /* events only */
        int64_t count;                      /* events only: times repeated back to back */
        const command_record_t *command;    /* commands only: the whole row */
} history_record_t;

HL_MUST_USE int store_history_foreach(store_t *s, const char *node_id, uint32_t limit,
                          int (*cb)(const history_record_t *h, void *ud), void *ud);
