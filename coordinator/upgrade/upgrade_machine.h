/* The upgrade executor's decision core: a pure state machine.
 *
 * No I/O, no clock reads, no allocation after creation except for export.
 * The shell (the executor) feeds it events, each with an explicit now_ms, and
 * performs the actions it returns. The machine decides; quorum budgets come
 * from quorum.h and the choice of the next nodes from planner_next_batch().
 *
 * DURABILITY CONTRACT: after every event call, and BEFORE performing any of
 * the returned actions, the shell must export the state
 * (upgrade_machine_export) and commit it (e.g. one SQLite transaction).
 * A SEND action's command id is then on disk before the command leaves, so a
 * coordinator killed at any instant resumes with upgrade_machine_import()
 * and asks agents about in-flight ids instead of resending: no command id
 * is ever issued twice.
 *
 * Per node: pending -> pre (each of the phase's pre steps, if any) ->
 * draining (if the phase drains) -> installing -> repointing (if any) ->
 * restarting (if units) -> verifying (health gate) -> post (each post
 * step, if any) -> undraining (if drained) -> done; a failure -> failed
 * -> rolling_back -> rolled_back. A pre or post step is a task or unit
 * command of the plan (plan_steps.h), its index in step_index; one that
 * fails fails the node like any other step.
 *
 * Rules (README, "Upgrades: the executor's rules"):
 *   - quorum: a node in any step but pending/done/rolled_back/skipped is
 *     down for quorum.h (IN_STEP); a FAILED node is down too (FAILED), however
 *     healthy it reports: it stopped half-way (maybe drained, maybe still
 *     running the command retired when it went unreachable, maybe on the new
 *     package without its restart), so it holds its groups' budget until it
 *     is rolled back. A node not in a step whose agent reports it drained
 *     (upgrade_node_report_t.drained: an operator's drain, a node left
 *     drained by an earlier upgrade) is down too (DRAINED); a pending one
 *     does not start until undrained. New upgrades and rollbacks start only when
 *     quorum_budget_allows(); a rollback of a node already down costs none;
 *   - a failed node that was drained (a drain was sent, and no undrain or
 *     rollback succeeded since) never settles its phase: the upgrade is
 *     never complete while a node of it is left drained. A failed node that
 *     was not drained settles its phase (it still holds its groups);
 *   - failure budget: a phase's failures are its failed nodes plus its
 *     pending nodes that are unreachable; when they EXCEED max_failures
 *     (plan_math.h: failures tolerated) the phase's on_failure applies:
 *     pause: the upgrade pauses;
 *     rollback_node: the failed nodes are rolled back, and the upgrade pauses;
 *     rollback_phase: every started node of the phase is rolled back, its
 *       pending nodes are skipped, and the upgrade pauses.
 *     With rollback_node a failed node is also rolled back at once while the
 *     budget still holds (the policy of the phase for a failed node).
 *   - health gate: a node passes verifying only once it has been healthy
 *     without interruption for min_healthy_time, that stretch ending no later
 *     than healthy_deadline after verifying began; else it fails. At the
 *     deadline instant the gate is judged before any health news of that
 *     instant: health first seen at the deadline is too late, even with
 *     min_healthy_time 0;
 *   - time: now_ms is taken as given. A clock going backwards only delays
 *     gates, deadlines and pauses between batches; nothing is judged early;
 *   - a node that goes unreachable or unregistered during a step fails
 *     (never done); a late result for its old command is reported as stale
 *     and ignored (the shell records it as the command's outcome);
 *   - install commands never allow a downgrade; only rollback does;
 *   - canary: the first `canary` nodes of a phase run alone, at most
 *     batch_size at once; the phase then waits for promote unless
 *     auto_promote. plan check shows these batches by running this machine
 *     (plan_batches.h), so this is the only place the rule lives;
 *   - pause_between_batches applies in batch mode only (after each batch
 *     settles); rolling mode has no batch boundary and ignores it;
 *   - when a phase starts, its failure budget is judged (its pending nodes
 *     unreachable) before any of its nodes starts;
 *   - pause (and the shell's hold): no new node starts; nodes already in their sequence go on.
 *     abort: final; no new command at all except rollbacks; in-flight
 *     commands finish and are reported; nodes stay where they stopped,
 *     shown as halted.
 *   - rollbacks (admin or policy) proceed while paused or aborted, under the
 *     quorum budgets, in reverse phase order (the last phase with a rollback
 *     pending or running goes first) and at most batch_size nodes of a
 *     phase at once. Rolling back a phase (or all) skips its pending nodes.
 * Resume clears a pause and forgives the failed nodes counted so far (pending
 * nodes still unreachable go on counting). A node counts once in its phase's
 * failures, however often it fails: a forgiven node whose rollback then fails
 * is not counted again, and a rollback that fails in a phase that is no
 * longer current counts in no budget; both set the Error condition and
 * leave the node failed (down for its groups) until rolled back again.
 * Complete is reported (once) only when every phase settled and no rollback
 * is pending or running; a rollback asked for after that makes the complete
 * condition false (reason RollingBack) until it ends. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coordinator/upgrade/plan.h"
#include "coordinator/upgrade/planner.h"
#include "coordinator/upgrade/quorum.h"

typedef enum {
        UPGRADE_STEP_PENDING = 0,
        UPGRADE_STEP_DRAINING,
        UPGRADE_STEP_INSTALLING,
        UPGRADE_STEP_REPOINTING,
        UPGRADE_STEP_RESTARTING,
        UPGRADE_STEP_VERIFYING,
        UPGRADE_STEP_UNDRAINING,
        UPGRADE_STEP_DONE,
        UPGRADE_STEP_FAILED,
        UPGRADE_STEP_ROLLING_BACK,
        UPGRADE_STEP_ROLLED_BACK,
        UPGRADE_STEP_SKIPPED,
        /* Appended: the values are stored (upgrade_record_t). */
        UPGRADE_STEP_PRE,
        UPGRADE_STEP_POST,
        UPGRADE_STEP__COUNT
} upgrade_step_t;

const char *upgrade_step_name(upgrade_step_t s);

typedef enum {
        UPGRADE_CMD_NONE = 0,
        UPGRADE_CMD_DRAIN,
        UPGRADE_CMD_INSTALL,     /* the plan's packages, allow_downgrade false */
        UPGRADE_CMD_REPOINT,     /* the phase's repoint lists */
        UPGRADE_CMD_RESTART,     /* the phase's units */
        UPGRADE_CMD_UNDRAIN,
        UPGRADE_CMD_ROLLBACK,    /* the only command allowed to downgrade */
        UPGRADE_CMD_STEP,        /* the phase's pre or post step step_index */
        UPGRADE_CMD__COUNT
} upgrade_cmd_t;

const char *upgrade_cmd_name(upgrade_cmd_t c);

/* One phase, resolved by the shell (see plan_preview.h for selection). */
typedef struct {
        const plan_phase_t *params;  /* borrowed: name, canary, timings, ... */
        const int *nodes;            /* fleet indices in plan order, borrowed */
        size_t n_nodes;
        int batch_size;              /* >= 1 (plan_parse_batch) */
        int max_failures;            /* >= 0 (plan_parse_max_failures) */
        /* The phase's before, after and wait_for steps (plan_steps.h) the
         * machine runs: step k of stage s is params->steps[s].v[k], run on
         * node step_nodes[s][k] (chosen by the shell when the upgrade
         * starts). n_steps[s] is 0 (none run: plan check's batches) or
         * params->steps[s].n; always 0 for pre and post, which run on each
         * node of the phase. */
        const int *step_nodes[PLAN_STAGE__COUNT];
        size_t n_steps[PLAN_STAGE__COUNT];
} upgrade_phase_config_t;

/* Everything is borrowed and must outlive the machine. A node is in at most
 * one phase; nodes in no phase still count in quorum groups. */
typedef struct {
        size_t n_nodes;
        const char *const *names;    /* optional */
        const quorum_group_t *groups;
        size_t n_groups;
        const upgrade_phase_config_t *phases;
        size_t n_phases;
} upgrade_config_t;

typedef enum {
        UPGRADE_ACT_SEND = 0,        /* send cmd (id cmd_id) to node */
        UPGRADE_ACT_NODE_DONE,       /* node passed every step */
        UPGRADE_ACT_NODE_FAILED,     /* message: step and error */
        UPGRADE_ACT_NODE_ROLLED_BACK,
        UPGRADE_ACT_ERROR,           /* set the Error condition (message) */
        UPGRADE_ACT_PAUSED,          /* message: why */
        UPGRADE_ACT_PHASE_STARTED,
        UPGRADE_ACT_PROMOTE_WAIT,    /* canaries finished; waiting for promote */
        UPGRADE_ACT_COMPLETE,
        UPGRADE_ACT_STALE_RESULT,    /* a result for a command id not in flight: ignored */
        UPGRADE_ACT__COUNT
} upgrade_action_kind_t;

#define UPGRADE_TEXT_MAX 192

typedef struct {
        upgrade_action_kind_t kind;
        int node;                    /* -1 when not about a node */
        int phase;                   /* -1 when not about a phase */
        upgrade_cmd_t cmd;
        uint64_t cmd_id;
        bool allow_downgrade;        /* true only for ROLLBACK */
        int step_index;              /* UPGRADE_CMD_STEP: in the phase's steps of stage */
        plan_stage_t stage;          /* UPGRADE_CMD_STEP: pre, post (the node's own), before, after, wait_for */
        const plan_phase_t *params;  /* the phase's parameters for SEND */
        upgrade_step_t step;
        char message[UPGRADE_TEXT_MAX];
} upgrade_action_t;

typedef enum {
        UPGRADE_RESULT_SUCCEEDED = 0,
        UPGRADE_RESULT_FAILED,
        UPGRADE_RESULT_INTERRUPTED,  /* treated as a failure of the step */
} upgrade_result_t;

typedef struct upgrade_machine upgrade_machine_t;

/* -EINVAL for a bad config (node out of range or in two phases, batch < 1,
 * max_failures < 0, params NULL, an invalid quorum group), -ENOMEM. Every
 * node starts reachable, registered and healthy until the shell says
 * otherwise (it should report what it knows before the first tick); nodes
 * of a phase start PENDING, nodes in no phase are SKIPPED. */
int upgrade_machine_new(const upgrade_config_t *cfg, upgrade_machine_t **ret);
void upgrade_machine_destroy(upgrade_machine_t **m);

/* Events. Each clears the previous actions, applies the event, advances
 * the machine as far as it safely can at now_ms, and returns the new
 * actions (owned by the machine, valid until the next event call) through
 * ret_actions/ret_n (either may be NULL). Returns 0, or -EINVAL for bad
 * arguments (node out of range), nothing changed. */
int upgrade_machine_tick(upgrade_machine_t *m, int64_t now_ms,
                         const upgrade_action_t **ret_actions, size_t *ret_n);
/* healthy: the health in the result, when has_health. error: the agent's
 * error code and message for Error (may be NULL). */
int upgrade_machine_on_result(upgrade_machine_t *m, int64_t now_ms, int node, uint64_t cmd_id,
                              upgrade_result_t result, bool has_health, bool healthy,
                              const char *error, const upgrade_action_t **ret_actions,
                              size_t *ret_n);
int upgrade_machine_on_health(upgrade_machine_t *m, int64_t now_ms, int node, bool healthy,
                              const upgrade_action_t **ret_actions, size_t *ret_n);
int upgrade_machine_on_reachable(upgrade_machine_t *m, int64_t now_ms, int node, bool reachable,
                                 const upgrade_action_t **ret_actions, size_t *ret_n);
int upgrade_machine_on_registered(upgrade_machine_t *m, int64_t now_ms, int node, bool registered,
                                  const upgrade_action_t **ret_actions, size_t *ret_n);

/* What the shell knows of several nodes at once (e.g. every node at start,
 * or every change seen in one tick): all are applied, each with the
 * meaning of the single events above, before the machine advances once,
 * so no decision is made on a mix of old and new reports. */
typedef struct {
        int node;
        bool registered, reachable, healthy;
        bool drained;                /* its agent reports the node drained */
        /* A batch job (coordinator/jobs/) runs a command on it: down for
         * quorum (IN_STEP) and not started, as if in a step of this
         * upgrade. Reported every tick, not stored. */
        bool job_busy;
} upgrade_node_report_t;

int upgrade_machine_on_nodes(upgrade_machine_t *m, int64_t now_ms, const upgrade_node_report_t *reports,
                             size_t n, const upgrade_action_t **ret_actions, size_t *ret_n);

typedef enum {
        UPGRADE_ADMIN_PAUSE = 0,
        UPGRADE_ADMIN_RESUME,        /* -EPERM after abort */
        UPGRADE_ADMIN_ABORT,
        UPGRADE_ADMIN_PROMOTE,       /* -EALREADY when nothing waits for it */
        UPGRADE_ADMIN_ROLLBACK_NODE, /* arg: node; -EINVAL for a node in no phase */
        UPGRADE_ADMIN_ROLLBACK_PHASE,/* arg: phase index */
        UPGRADE_ADMIN_ROLLBACK_ALL,  /* every phase; arg unused */
        /* arg: node, which its root rolled back itself (hitless-agent
         * rollback, reported by its agent): it becomes rolled_back, its
         * pending rollback dropped. A node pending, skipped or rolled back
         * already stays as it is. A command in flight there keeps it in its
         * step (down for quorum) until that command ends, whatever its
         * result; then it is rolled_back. -EINVAL for a node in no phase. */
        UPGRADE_ADMIN_ROLLED_BACK_LOCALLY,
} upgrade_admin_t;

int upgrade_machine_admin(upgrade_machine_t *m, int64_t now_ms, upgrade_admin_t op, int arg,
                          const upgrade_action_t **ret_actions, size_t *ret_n);

/* The shell's hold, apart from an admin's pause and not persisted (the
 * shell sets it again on every machine it imports): while held, as while
 * paused, no new node starts, nodes already in their sequence go on and
 * rollbacks proceed. why names the cause ("store: 3 MiB free, below the
 * floor of 64 MiB"); NULL or "" releases it. Like a config change, it is
 * judged at the next event: the shell ticks the machine after changing it. */
void upgrade_machine_set_hold(upgrade_machine_t *m, const char *why);

/* When the machine next needs a tick (a health gate, a deadline, a pause
 * between batches), or INT64_MAX. */
int64_t upgrade_machine_next_due(const upgrade_machine_t *m);

/* ---- status ---- */

typedef struct {
        upgrade_step_t step;
        int phase;                   /* -1: in no phase */
        upgrade_cmd_t cmd;           /* in flight, or NONE */
        uint64_t cmd_id;             /* 0 when none */
        int step_index;              /* cmd STEP: which of the phase's steps of stage */
        plan_stage_t stage;          /* cmd STEP: pre or post (step PRE, POST), or a phase step
                                      * (before, after, wait_for) running here */
        int64_t healthy_since_ms;    /* -1 when not healthy (verifying) */
        int64_t deadline_ms;         /* healthy_deadline end while verifying, else -1 */
        bool rollback_pending;
        bool halted;                 /* stopped by abort */
        bool drained;                /* drain sent; no undrain or rollback succeeded since */
        bool agent_drained;          /* its agent reports it drained (the last report) */
        bool job_busy;               /* a batch job runs a command on it (the last report) */
        bool local_rollback;         /* rolled back on the node; its command in flight still ends */
        bool reachable, healthy, registered;
        const char *error;           /* "" when none */
} upgrade_node_status_t;

int upgrade_machine_node(const upgrade_machine_t *m, int node, upgrade_node_status_t *ret);

/* Members of quorum group gi down now, as the machine counts them against
 * the group's budget (quorum_group_down); -EINVAL for gi out of range. */
int upgrade_machine_group_down(const upgrade_machine_t *m, size_t gi);

/* A phase's own steps (before, then its nodes, then after, then the
 * wait_for gates; upgrade_phase_config_t.step_nodes), one at a time:
 *   - a step starts only while not paused, held or aborted, on a node
 *     that is reachable, registered and has no command (of this upgrade or
 *     of a job) running; it counts as down for quorum while it runs, and
 *     starts only within its groups' budgets when it is up;
 *   - a gate (wait_for) is tried every interval until it succeeds; one not
 *     passed by its deadline (from its first try; a resume gives it a new
 *     one) fails. A gate attempt running at the deadline is waited for;
 *   - a step that fails (its result, its node lost while it runs, a gate's
 *     deadline) sets the Error condition (reason StepFailed) and pauses
 *     the upgrade, whatever on_failure says (no node of the phase failed);
 *     with on_failure rollback_phase an after step or gate that fails also
 *     rolls the phase's nodes back. Resume runs the failed step again.
 *   - after steps and gates run once the phase's nodes settle, whatever
 *     their outcome within the failure budget. */
typedef enum {
        UPGRADE_PHASE_BEFORE = 0,
        UPGRADE_PHASE_NODES,
        UPGRADE_PHASE_AFTER,
        UPGRADE_PHASE_GATES,
        UPGRADE_PHASE__COUNT
} upgrade_phase_stage_t;

/* "before", "nodes", "after", "wait_for". */
const char *upgrade_phase_stage_name(upgrade_phase_stage_t s);

typedef struct {
        upgrade_phase_stage_t stage;
        int step_index;              /* the step of stage that runs or is next */
        int node;                    /* where the step runs now, -1 */
        uint64_t cmd_id;             /* its command, 0 when none runs */
        bool failed;                 /* it failed: paused until resume runs it again */
        int attempts;                /* GATES: tries of the current gate */
        int64_t gate_deadline_ms;    /* GATES: the current gate fails after, -1 before its first try */
        int64_t retry_ms;            /* GATES: the next try, -1 when none waits */
} upgrade_phase_status_t;

int upgrade_machine_phase(const upgrade_machine_t *m, size_t phase, upgrade_phase_status_t *ret);

/* What the current phase's own step does or waits for, as of the last
 * event ("before step 1/2 (task issu-run-sync on ctrl-new1) runs",
 * "wait_for step 1/1 (...) not passed yet (attempt 3: ...); tried again");
 * "" for another phase or none outstanding. Returns the length. */
size_t upgrade_machine_phase_wait(const upgrade_machine_t *m, size_t phase, char *buf, size_t len);

/* Why node is not progressing now, e.g. "paused", "waiting for promote",
 * "group cassandra: 1 of 3 down (db2 unhealthy), max_down 1"; "" when it is
 * progressing or finished. Returns the length written (truncating). */
size_t upgrade_machine_wait_reason(const upgrade_machine_t *m, int node, char *buf, size_t len);

typedef struct {
        bool status;
        char reason[64];
        char message[UPGRADE_TEXT_MAX];
} upgrade_condition_t;

/* Pravega-style: upgrading (reason = current phase, message "k/n nodes"),
 * error (node, step and agent error), complete. */
typedef struct {
        upgrade_condition_t upgrading;
        upgrade_condition_t error;
        upgrade_condition_t complete;
        bool paused;
        bool held;                   /* see upgrade_machine_hold() */
        bool aborted;
        bool promote_pending;
        bool rolling_back;           /* every phase finished; rollbacks still pending or running */
        bool rolled_back;            /* complete, and every node it changed rolled back (none done) */
        int phase;                   /* current phase index (n_phases when complete) */
        char pause_reason[UPGRADE_TEXT_MAX];
        char hold_reason[UPGRADE_TEXT_MAX];
} upgrade_conditions_t;

void upgrade_machine_conditions(const upgrade_machine_t *m, upgrade_conditions_t *ret);

/* ---- persistence ---- */

typedef enum {
        UPGRADE_REC_MACHINE = 1,
        UPGRADE_REC_PHASE,
        UPGRADE_REC_NODE,
        UPGRADE_REC_ERROR,
        UPGRADE_REC_PHASE_STEP,      /* a phase's own steps; absent in older stores: none ran */
} upgrade_record_type_t;

/* A flat record: store one row per record (type, idx, v0..v7, text). */
typedef struct {
        int type;                    /* upgrade_record_type_t */
        int32_t index;
        int64_t v[8];
        char text[UPGRADE_TEXT_MAX];
} upgrade_record_t;

/* The whole state as records (malloc'ed, caller frees). -ENOMEM. */
int upgrade_machine_export(const upgrade_machine_t *m, upgrade_record_t **ret, size_t *ret_n);

/* A machine for cfg (the same config the state was exported under) in the
 * exported state. Records may come in any order. -EINVAL for records that
 * do not fit cfg or are inconsistent (a node or phase missing or twice, a
 * value out of range, an in-flight id not below the next id), -ENOMEM. */
int upgrade_machine_import(const upgrade_config_t *cfg, const upgrade_record_t *recs, size_t n,
                           upgrade_machine_t **ret);
