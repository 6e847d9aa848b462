/* The batches `plan check` shows, taken from the executor's own decision
 * core: a fresh upgrade machine (upgrade_machine.h) over the upgrade's
 * config runs to the end in simulated time, and the nodes of a phase whose
 * first command leaves in the same event form one batch. The canary,
 * batch size, mode, quorum and pause rules therefore exist once, in the
 * machine; nothing here re-implements them.
 *
 * How the machine is driven, the preview's assumptions:
 *   - the nodes are as reports says (registered, reachable, healthy) and
 *     stay so;
 *   - every command succeeds with the node healthy, and every command in
 *     flight answers at the same instant: the machine is held (no new
 *     node starts) while the answers of a round come in, then released, so
 *     a round's nodes all finish before the next round is chosen, as the
 *     preview promises ("as if every step succeeded");
 *   - health gates and pauses between batches pass by advancing the
 *     simulated clock to the machine's next due time;
 *   - canaries are promoted as soon as they finish (auto_promote or not),
 *     so the batches after them are shown;
 *   - no failure budget trips: only commands fail or nodes go away in the
 *     executor, and here none does (pending nodes left unreachable are the
 *     executor's to judge when the phase starts);
 *   - a phase whose pending nodes can go no further (unhealthy, or a quorum
 *     group without budget as things are now) would stop the executor
 *     there. Those nodes are "left out" and, when a later phase follows,
 *     the run is repeated without them, so that it is still shown.
 *
 * Pure: no I/O, no clock; memory is the caller's to free with
 * plan_batches_free(). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "coordinator/upgrade/upgrade_machine.h"

typedef struct {
        int phase;
        bool canary;            /* started before the phase's canaries were all out */
        size_t first, n;        /* its nodes: order[first .. first + n) */
} plan_batch_t;

typedef struct {
        int *order;             /* fleet indices in the order they started */
        plan_batch_t *batches;  /* by start order, phase after phase */
        size_t n_batches;
        bool *left_out;         /* cfg->n_nodes: a phase node that never starts */
} plan_batches_t;

/* Runs the machine over cfg (its max_failures are not used, see above)
 * with reports[] (one per node at most) applied at the start. Returns 0
 * with *ret filled, -EINVAL when the machine refuses cfg or reports,
 * -ENOMEM. */
int plan_batches_run(const upgrade_config_t *cfg, const upgrade_node_report_t *reports, size_t n_reports,
                     plan_batches_t *ret);
void plan_batches_free(plan_batches_t *b);
