/* The upgrade executor: runs one plan at a time over the fleet, deciding
 * with the pure state machine (upgrade_machine.h) and acting through the
 * commands module.
 *
 * DURABILITY: every event given to the machine (a command's result, a
 * node's health or reachability changing, a tick, an admin request) ends in
 * one SQLite transaction holding the machine's changed records, the rows of
 * the commands it decided to send and the events it reported; only after
 * that commit are the commands sent. A coordinator killed at any instant
 * restarts from the last commit: commands recorded as sent are asked about
 * (CommandQuery, when their node says Hello), never sent again under a new
 * id; results already recorded by the commands module but not yet seen by
 * the machine are replayed from the store at start. A failed commit sends
 * nothing and reloads the machine from the store.
 *
 * The upgrade's setup (its nodes, phases, batch sizes, failure budgets and
 * quorum groups) is resolved once at start from the plan's preview and
 * stored with it, so a restart or an inventory reload cannot change an
 * upgrade under way.
 *
 * Times are wall-clock milliseconds (they are stored). After a restart, a
 * node that has not said Hello yet is not counted unreachable until
 * 2 * node_timeout + 5 s have passed: agents need time to reconnect.
 *
 * Command ids are "<upgrade id>-<n>" (e.g. "up-3-17"), upgrade ids "up-<seq>";
 * commands carry the upgrade id, so each node takes one snapshot per
 * upgrade and a rollback restores that upgrade's snapshot. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coordinator/commands/commands.h"
#include "coordinator/fleet/fleet.h"
#include "coordinator/fleet/inventory.h"
#include "coordinator/upgrade/plan.h"
#include "coordinator/upgrade/plan_preview.h"
#include "coordinator/store/store.h"
#include "coordinator/upgrade/upgrade_machine.h"
#include "proto/hitless.pb-c.h"

typedef struct upgrade upgrade_t;

typedef struct {
        store_t *store;
        fleet_t *fleet;
        commands_t *commands;
        int64_t node_timeout_ms;
} upgrade_deps_t;

/* Loads the latest upgrade from the store (if any) and resumes it.
 * Registers itself as the commands module's observer. Returns 0, -ENOMEM,
 * or the store's error; an upgrade that cannot be rebuilt (its plan no
 * longer parses) is logged and left stopped, not fatal. */
int upgrade_new(const upgrade_deps_t *deps, int64_t now_ms, upgrade_t **ret);
void upgrade_destroy(upgrade_t **u);

/* Starts plan (its preview pv must be valid; the caller checked it against
 * inv and the fleet just now). content (the text plan was parsed from) and
 * file_name are stored as given; the executor re-parses content, so plan
 * is only read here. Errors (message in err):
 * -EBUSY an upgrade is running (not complete or aborted), -EINVAL nothing
 * to upgrade, -EIO the store failed, -ENOMEM. -EBUSY also while the last
 * upgrade, complete or aborted, still has a command in flight or a
 * rollback waiting on one of its nodes: a new machine would count those
 * nodes as up, and their results would be lost. */
int upgrade_start(upgrade_t *u, const plan_t *plan, const plan_preview_t *pv, const inventory_t *inv,
                  const char *file_name, const char *content, const char *actor, int64_t now_ms,
                  char *err, size_t err_len);

/* pause/resume/abort/promote by actor. msg says what happened (or why
 * not). -ENOENT no upgrade, -EPERM resume after abort, -EALREADY nothing
 * waits for promote or the upgrade is over, -EINVAL unknown op, -EIO. */
int upgrade_control(upgrade_t *u, Hitless__UpgradeOp op, const char *actor, int64_t now_ms, char *msg,
                    size_t msg_len);

/* Queues rollbacks in the current upgrade: its nodes, one phase (by name)
 * or all. -ENOENT no upgrade, -ESRCH a node not in it (msg names it;
 * nothing queued), -EINVAL bad request or unknown phase, -EIO. */
int upgrade_rollback(upgrade_t *u, const Hitless__RollbackRequest *req, const char *actor, int64_t now_ms,
                     char *msg, size_t msg_len);

/* Jobs and the upgrade share the quorum budgets (README, "Batch commands
 * and jobs"). upgrade_set_job_busy: fn(ud, node) says whether a batch job
 * runs a command on node; the upgrade counts such a node down (IN_STEP) and
 * does not start it; asked every tick. upgrade_holds_node: true when the
 * current upgrade has node_id down for its own reasons (a step, a command
 * in flight, failed): a job must not start it. */
void upgrade_set_job_busy(upgrade_t *u, bool (*fn)(void *ud, const char *node_id), void *ud);
bool upgrade_holds_node(const upgrade_t *u, const char *node_id);

/* True when node_id is in a phase of the current upgrade. */
bool upgrade_includes(const upgrade_t *u, const char *node_id);

/* A read-only view of the current upgrade, for status (upgrade_status.h);
 * valid until the next call that changes u. False when there is none. */
typedef struct {
        const char *id, *plan_name, *file_name, *started_by;
        int64_t started;
        const plan_t *plan;
        const char *const *node_ids;   /* cfg->n_nodes */
        const int32_t *node_phase;     /* -1: a quorum member in no phase */
        const upgrade_config_t *cfg;
        const upgrade_machine_t *m;
        const store_health_t *store;   /* the store's health: StoreDegraded */
        fleet_t *fleet;                /* read only: each node's last heartbeat (endpoints) */
} upgrade_view_t;

bool upgrade_view(const upgrade_t *u, upgrade_view_t *ret);

/* Feeds the fleet's health and reachability to the machine, and its
 * timers. Call every tick. While the store is low on space (store_health)
 * the upgrade is held: no new node starts (upgrade_machine_set_hold); it
 * goes on by itself once there is room. */
void upgrade_tick(upgrade_t *u, int64_t now_ms);
/* When the machine next needs a tick (wall ms), or INT64_MAX. */
int64_t upgrade_next_due(const upgrade_t *u);

/* The store writes again after failing: results it recorded that the
 * machine may not have seen are fed at the next tick (the commands module
 * asks the agents for those it could not record). */
void upgrade_on_store_recovered(upgrade_t *u);
