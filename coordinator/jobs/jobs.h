/* Batch jobs: one action (drain, check, restart, ...) on many nodes, sent
 * by the coordinator itself under the rules of job_machine.h, which
 * decides; this is its I/O shell.
 *
 * DURABILITY: a job's row (jobs table, a packed JobRecord) is committed in
 * the same transaction as the rows of the commands it decides to send, and
 * before they are sent. Command ids are "job-SEQ-INDEX": one per node and
 * job, so a restarted coordinator never sends a node's command under a
 * second id; it asks the agents about the running ones (CommandQuery, on
 * Hello) and takes results already recorded from the store at load.
 *
 * The universe a job's quorum decisions see (its nodes plus the other
 * members of every quorum group) is resolved from the inventory when the
 * job is created or loaded. Jobs share the quorum budget with the running
 * upgrade (upgrade_holds_node / upgrade_set_job_busy). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/attrs.h"
#include "coordinator/commands/commands.h"
#include "coordinator/coord_config.h"
#include "coordinator/fleet/fleet.h"
#include "coordinator/store/store.h"
#include "coordinator/upgrade/upgrade.h"
#include "proto/hitless.pb-c.h"

typedef struct jobs jobs_t;

typedef struct {
        store_t *store;
        fleet_t *fleet;
        commands_t *commands;
        upgrade_t *upgrade;
        coord_config_t *const *config;   /* its inventory, read at each job's creation */
} jobs_deps_t;

/* Loads every job from the store and resumes the unfinished ones;
 * registers as an observer of commands and as the upgrade's job_busy. */
HL_MUST_USE int jobs_new(const jobs_deps_t *deps, jobs_t **ret);
void jobs_destroy(jobs_t **j);

/* Creates (or, dry_run, only previews) the job req asks for on behalf of
 * actor, and starts it. On success *ret_status is the job's status
 * (free with hitless__job_status__free_unpacked). Errors, with the reason
 * in err: -EINVAL bad request (a selector matching nothing, an unknown
 * node, group or role, a bad --batch or --max-failures, a node in another
 * job): nothing is kept or sent; -EIO the store failed; -ENOMEM. */
HL_MUST_USE int jobs_submit(jobs_t *j, const Hitless__JobRequest *req, const char *actor,
                            Hitless__JobStatus **ret_status, char *err, size_t err_len);

/* status/pause/resume/abort of job id by actor: *ret_status as above.
 * -ENOENT no such job, -EALREADY / -EPERM as job_machine.h (msg says
 * why), -EIO. */
HL_MUST_USE int jobs_control(jobs_t *j, Hitless__JobOp op, const char *id, const char *actor,
                             Hitless__JobStatus **ret_status, char *msg, size_t msg_len);

/* Every job, oldest first, without per-node details: *ret owned by the
 * caller (hitless__job_list__free_unpacked). */
HL_MUST_USE int jobs_list(jobs_t *j, Hitless__JobList **ret);

/* True when an unfinished job runs a command on node_id. */
bool jobs_node_busy(const jobs_t *j, const char *node_id);

/* Results of the jobs' commands are applied as they arrive and stored, with
 * the decisions they allow (commands committed before sent), here: call
 * after each batch of agent messages. A crash before it loses nothing:
 * the results are in the commands table, and a job loaded from the store
 * takes them from there. jobs_tick flushes too. */
void jobs_flush(jobs_t *j);

/* Fails running nodes whose agent went away, and starts what may start. */
void jobs_tick(jobs_t *j, int64_t now_ms);
