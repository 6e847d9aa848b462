/* `hitlessctl plan check`: what a plan would do to the fleet as it is now,
 * without doing anything.
 *
 * A pure function: (plan, inventory, a snapshot of the nodes) -> preview.
 * No I/O and nothing kept between calls; the caller (admin.c) takes the
 * snapshot. The batches are the executor's own: its upgrade machine runs
 * over the nodes the upgrade's setup would hold, as if every command of a
 * round succeeded at once (plan_batches.h), with health and reachability
 * as they are now, so canary, batch, mode and quorum rules are never
 * written twice. A node that is unhealthy now, or whose quorum group has
 * no budget left because of another member, never starts there: it is
 * shown as waiting with the reason (planner_next_batch's verdict), and the
 * later phases as if it were left out.
 *
 * Node states, as the quorum rules see them (quorum.h):
 *   not in the snapshot, or never registered  -> unregistered (down)
 *   key not accepted                          -> unreachable (down)
 *   unreachable (silent past node_timeout)    -> unreachable (down)
 *   not healthy (the caller decides; degraded counts as healthy, since only
 *   critical checks make a node unhealthy)    -> unhealthy (down)
 *   a node with nothing to do, up             -> done (up)
 *
 * Refusals (the plan is invalid when there is any):
 *   downgrade         an installed version newer than the plan's (vercmp.h:
 *                     dpkg order, or rpm order for versions only rpm accepts,
 *                     or as the plan's version_order says)
 *   unknown_node      a node the phase names that never registered
 *   key_not_accepted  a node the phase names whose key is not accepted
 *                     (nodes selected by role whose key is not accepted are
 *                     skipped instead: the operator rejected them)
 *   quorum_budget     a node to upgrade in a quorum group whose budget is 0
 *   path_not_allowed  an upgrade of an installed version that no
 *                     allowed_paths entry matches (package, from, to)
 *   empty_phase       a phase that selects no node
 *   unknown_group     nodes = { group = X } with no such group in the inventory
 *                     (or a step's group = X)
 *   unknown_task      a step's task that its node's policy does not declare
 *                     (the task names the agent reported in Hello)
 *   unknown_unit      a step's unit that its node's policy does not list
 *
 * Steps (plan_steps.h) are listed per phase in order: before, pre, post,
 * after, wait_for, each with the node it runs on. A before/after/wait_for
 * step on a group runs on its first member, in inventory order, that is
 * up and declares the step's task or units (else its first member, which
 * is then refused). A step on a node that never registered is refused
 * (unknown_node); pre and post steps are checked on every node the phase
 * would upgrade.
 *
 * A node selected by several phases belongs to the first; the later ones
 * show it as skipped. Packages a node does not report (its agent does not
 * manage them) are left alone on that node; a package reported with an
 * empty version is installed. allowed_paths applies to upgrades of
 * installed packages only. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "coordinator/fleet/inventory.h"
#include "coordinator/upgrade/plan.h"
#include "proto/hitless.pb-c.h"

typedef struct {
        const char *name;
        const char *version;       /* "" = not installed */
} plan_installed_t;

/* One node as the coordinator knows it now; every pointer is borrowed. */
typedef struct {
        const char *id;
        const char *const *roles;  /* as the agent reports them */
        size_t n_roles;
        const plan_installed_t *packages;
        size_t n_packages;
        bool registered;           /* said Hello at least once: roles and versions known */
        bool accepted;             /* its key is accepted */
        const char *key_state;     /* when !accepted, for messages: "pending", "rejected"; may be NULL */
        const char *const *tasks;  /* its policy's task names, from Hello */
        size_t n_tasks;
        const char *const *units;  /* its policy's units, from Hello */
        size_t n_units;
        bool online;
        bool healthy;
} plan_node_t;

typedef struct {
        const plan_node_t *nodes;  /* ids distinct */
        size_t n_nodes;
} plan_fleet_t;

typedef enum {
        PLAN_REFUSE_DOWNGRADE = 0,
        PLAN_REFUSE_UNKNOWN_NODE,
        PLAN_REFUSE_KEY_NOT_ACCEPTED,
        PLAN_REFUSE_QUORUM_BUDGET,
        PLAN_REFUSE_PATH_NOT_ALLOWED,
        PLAN_REFUSE_EMPTY_PHASE,
        PLAN_REFUSE_UNKNOWN_GROUP,
        PLAN_REFUSE_UNKNOWN_TASK,
        PLAN_REFUSE_UNKNOWN_UNIT,
        PLAN_REFUSE__COUNT
} plan_refusal_kind_t;

/* "downgrade", "unknown_node", ...: stable words (the --json schema). */
const char *plan_refusal_kind_name(plan_refusal_kind_t k);

typedef enum {
        PLAN_CHANGE_UPGRADE = 0,
        PLAN_CHANGE_INSTALL,       /* not installed now */
        PLAN_CHANGE_CURRENT,       /* already the plan's version */
        PLAN_CHANGE_DOWNGRADE,     /* refused */
} plan_change_t;

/* "upgrade", "install", "current", "downgrade". */
const char *plan_change_name(plan_change_t c);

/* Strings in the preview are borrowed from the plan, the inventory and the
 * snapshot (keep them alive as long as the preview), except messages,
 * which the preview owns. */
typedef struct {
        const char *package;
        const char *from;          /* "" when not installed */
        const char *to;
        plan_change_t action;
} plan_preview_change_t;

typedef struct {
        const char *node;
        const char *reason;        /* a stable word, see the README */
        const char *message;
} plan_preview_note_t;

typedef struct {
        const char **nodes;
        size_t n_nodes;
        bool canary;
} plan_preview_batch_t;

typedef struct {
        plan_stage_t stage;
        const plan_step_t *step;
        const char *node;          /* where it runs; NULL for pre/post (each node) */
} plan_preview_step_t;

typedef struct {
        const plan_phase_t *phase;
        plan_preview_step_t *steps;    /* in stage order */
        size_t n_steps;
        int batch_size;            /* resolved against n_nodes */
        int max_failures;          /* resolved against n_nodes */
        const char **nodes;        /* every node the phase selects, in plan order */
        size_t n_nodes;
        plan_preview_batch_t *batches;
        size_t n_batches;
        plan_preview_note_t *waiting;  /* would not start as things are now */
        size_t n_waiting;
        plan_preview_note_t *skipped;  /* nothing to do, refused, or in an earlier phase */
        size_t n_skipped;
} plan_preview_phase_t;

typedef struct {
        const char *node;
        const char *why;           /* "unhealthy", "unreachable", "never registered", "key not accepted" */
} plan_preview_down_t;

typedef struct {
        const inventory_quorum_group_t *group;
        int quorum_max_down;       /* n - (floor(n/2) + 1) */
        int budget;                /* what the planner enforces */
        plan_preview_down_t *down; /* members down now */
        size_t n_down;
        int to_upgrade;            /* members the plan would upgrade */
        int min_rounds;            /* ceil(to_upgrade / budget); -1: never (budget 0) */
} plan_preview_group_t;

typedef struct {
        const char *node;
        const char *phase;
        const char *state;         /* "up", or why the node is down now */
        plan_preview_change_t *changes;
        size_t n_changes;
} plan_preview_node_t;

typedef struct {
        plan_refusal_kind_t kind;
        const char *phase;         /* "" when not about one phase */
        const char *node;          /* "" ... */
        const char *group;         /* "" ... */
        const char *package;       /* "" ... */
        const char *message;
} plan_preview_refusal_t;

typedef struct plan_preview_arena plan_preview_arena_t;

typedef struct {
        const plan_t *plan;
        bool valid;                /* no refusal */
        plan_preview_phase_t *phases;    /* plan->n_phases */
        size_t n_phases;
        plan_preview_group_t *groups;    /* every quorum group of the inventory */
        size_t n_groups;
        plan_preview_node_t *nodes;      /* every node some phase selects, first phase order */
        size_t n_nodes;
        plan_preview_refusal_t *refusals;
        size_t n_refusals;
        plan_preview_arena_t *arena;
} plan_preview_t;

/* Builds the preview. Returns 0 with *ret (plan_preview_free), -EINVAL for
 * bad arguments (NULL, duplicate node ids in the snapshot), -ENOMEM. */
int plan_preview_build(const plan_t *plan, const inventory_t *inv, const plan_fleet_t *fleet,
                       plan_preview_t **ret);
void plan_preview_free(plan_preview_t **pv);

/* The preview as the wire's PlanPreview (file_name: the plan's name for
 * the operator). The message lives in pv's memory, borrowing its strings:
 * never free_unpacked it; it is valid until plan_preview_free(pv).
 * Returns 0 or -ENOMEM. */
int plan_preview_to_proto(plan_preview_t *pv, const char *file_name, Hitless__PlanPreview **ret);
