/* A batch job's decision core: which of its nodes get the job's command
 * now, and why each of the others waits. A pure state machine: no I/O, no
 * clock, no allocation after creation.
 *
 * The shell (jobs.c) gives every decision a quorum view (quorum.h) of the
 * job's nodes, indices 0..n_nodes-1, followed by every other member of a
 * quorum group (n_universe in all), with their status as the fleet and the
 * running upgrade see them now: a node the upgrade has in a step is
 * IN_STEP. The machine adds its own running nodes as IN_STEP.
 *
 * DURABILITY: after every call that changes the machine, and BEFORE any
 * command of job_machine_step's answer is sent, the shell stores the
 * machine's state (job_machine_node_state, job_machine_state, ...) in one
 * transaction with the commands' rows; job_machine_restore rebuilds it
 * after a restart, running nodes still running (their results are asked
 * for, never resent under a new id).
 *
 * Rules (README, "Batch commands and jobs"):
 *   - at most batch_size nodes run at once: a sliding window, or with
 *     job_config_t.barrier whole batches, the next once every node of the
 *     last one ended;
 *   - a disruptive action (drain, install, repoint, restart, rollback)
 *     starts on an up node only when quorum_budget_allows() it, counting
 *     the job's running nodes and whatever else is down; a node already
 *     down for another reason (unhealthy, drained) costs no budget and
 *     starts; a node the upgrade (or anything else) has IN_STEP waits.
 *     check and undrain take nothing down and ignore quorum; a drained
 *     node (job_config_t.leaves_down) stays down once it succeeded;
 *   - a pending node that is unreachable or unregistered fails
 *     ("unreachable"), and so does a running node whose agent disconnects
 *     (job_machine_on_lost): never done;
 *   - failure budget: when the failed nodes (minus those forgiven by
 *     resume) exceed max_failures, the job pauses;
 *   - pause: no node starts, running ones finish. resume: clears it and
 *     forgives the failures counted so far. abort: final, pending nodes are
 *     skipped, running ones finish and are reported;
 *   - done once every node is final (succeeded, failed or skipped), unless
 *     aborted (which stays aborted). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/attrs.h"
#include "coordinator/upgrade/quorum.h"

typedef enum {
        JOB_NODE_PENDING = 0,
        JOB_NODE_RUNNING,
        JOB_NODE_SUCCEEDED,
        JOB_NODE_FAILED,
        JOB_NODE_SKIPPED,
        JOB_NODE_VERIFYING,     /* succeeded, waiting for its health gate */
        JOB_NODE__COUNT
} job_node_state_t;

typedef enum {
        JOB_RUNNING = 0,
        JOB_PAUSED,
        JOB_ABORTED,
        JOB_DONE,
        JOB__COUNT
} job_state_t;

const char *job_node_state_name(job_node_state_t s);
const char *job_state_name(job_state_t s);

typedef struct {
        size_t n_nodes;         /* the job's nodes: view indices 0..n_nodes-1; >= 1 */
        size_t n_universe;      /* n_nodes + the other quorum members: the view's n_nodes */
        int batch_size;         /* >= 1 */
        int max_failures;       /* >= 0 */
        bool disruptive;        /* counts against quorum budgets */
        /* Its success leaves the node down (drain): a succeeded node
         * counts as DRAINED whatever the view says, since the agent's
         * heartbeat reports it drained only later. */
        bool leaves_down;
        /* --mode batch: a batch starts only once the previous one has
         * ended (a barrier); otherwise a sliding window (rolling). */
        bool barrier;
        /* --health-gate (healthy_deadline_ms > 0): a node whose command
         * succeeded is verifying (still in its batch, still down for
         * quorum) until the view has shown it healthy (UP or DONE) for
         * min_healthy_time_ms without a break: then succeeded; not so
         * within healthy_deadline_ms of the result: failed. */
        int64_t min_healthy_time_ms;
        int64_t healthy_deadline_ms;
} job_config_t;

typedef struct job_machine job_machine_t;

/* -EINVAL for a bad config, -ENOMEM. Every node pending, the job running. */
HL_MUST_USE int job_machine_new(const job_config_t *cfg, job_machine_t **ret);
void job_machine_free(job_machine_t **m);

/* Decides what starts now over view f (f->n_nodes == n_universe, else
 * -EINVAL) at now_ms (any monotonic or wall clock, the same on every
 * call). ret_start (n_nodes entries) receives the job node indices to
 * send the command to, now marked running; returns how many (>= 0). Also
 * judges health gates, fails unreachable pending nodes, applies the
 * failure budget and ends the job when nothing is left. */
HL_MUST_USE int job_machine_step(job_machine_t *m, const quorum_fleet_t *f, int64_t now_ms, int *ret_start);

/* A running node's command ended: ok or not, with the agent's message;
 * ok with a health gate makes it verifying, its gate counted from the next
 * job_machine_step. -EALREADY when the node is not running (a late or repeated result:
 * ignored), -EINVAL out of range. Call job_machine_step after. */
HL_MUST_USE int job_machine_on_result(job_machine_t *m, int node, bool ok, const char *message);
/* A running node's agent disconnected: it fails ("disconnected"). Same
 * returns as on_result. */
HL_MUST_USE int job_machine_on_lost(job_machine_t *m, int node);

/* -EALREADY when there is nothing to do (already paused, not paused, over),
 * -EPERM resume after abort. */
HL_MUST_USE int job_machine_pause(job_machine_t *m);
HL_MUST_USE int job_machine_resume(job_machine_t *m);
HL_MUST_USE int job_machine_abort(job_machine_t *m);

job_state_t job_machine_state(const job_machine_t *m);
/* Why the job is paused or over (e.g. the failure budget); "" otherwise. */
const char *job_machine_message(const job_machine_t *m);
job_node_state_t job_machine_node_state(const job_machine_t *m, int node);
/* Why a pending node waits ("" when it does not), or a final node's result
 * message. Owned by m, valid until the next call that changes it. */
const char *job_machine_node_message(const job_machine_t *m, int node);
int job_machine_forgiven(const job_machine_t *m);
/* True once the node's command was decided (it has a command id); a node
 * failed as unreachable before starting has none. */
bool job_machine_node_sent(const job_machine_t *m, int node);
/* Nodes in state s. */
size_t job_machine_count(const job_machine_t *m, job_node_state_t s);

/* Rebuilds the stored state: per node its state, message (NULL: none) and
 * whether its command was sent (NULL: running, verifying and succeeded
 * ones only). A verifying node's gate starts again at the next step (a
 * restart never shortens it).
 * -EINVAL for an out of range value (nothing changed). */
HL_MUST_USE int job_machine_restore(job_machine_t *m, job_state_t state, int forgiven, const char *message,
                                    const job_node_state_t *states, const char *const *messages,
                                    const bool *sent);

/* Dry run: steps the machine to the end as if every command succeeded at
 * once (and passed its health gate) and the view stayed as it is (a drain leaves its node DRAINED when
 * drain_stays_down). ret_batch (n_nodes) receives each node's batch number
 * (1...), or 0 for a node that would never start (its message says why).
 * Returns the number of batches. m is used up. */
HL_MUST_USE int job_machine_dry_run(job_machine_t *m, const quorum_fleet_t *f, bool drain_stays_down,
                                    int *ret_batch);
