/* The upgrade planner's decision core: which of a phase's remaining nodes
 * start their step now, and why each of the others waits.
 *
 * Pure functions over a quorum_fleet_t (see quorum.h): no I/O, no
 * allocation, nothing kept between calls; the shell calls them again
 * whenever health, reachability or a step's outcome changes. */
#pragma once
#include <stddef.h>

#include "coordinator/upgrade/quorum.h"

typedef enum {
        PLANNER_START = 0,               /* chosen for this batch */
        PLANNER_WAIT_BATCH_FULL,         /* would fit every budget; no slot left */
        PLANNER_WAIT_QUORUM,             /* verdict.group would exceed its budget */
        PLANNER_WAIT_NODE_UNHEALTHY,     /* the node itself is not fit to start */
        PLANNER_WAIT_NODE_UNREACHABLE,
        PLANNER_WAIT_NODE_UNREGISTERED,
        PLANNER_WAIT_NODE_IN_STEP,       /* already being upgraded */
        PLANNER_WAIT_NODE_DRAINED,       /* drained outside its sequence: an operator's to undo */
        PLANNER_SKIP_DONE,               /* already upgraded */
        /* verdict.group has budget 0 (1 or 2 members, or max_down 0) and no
         * accept_outage: waiting can never help, the plan must change. */
        PLANNER_NEVER_QUORUM,
        PLANNER__COUNT
} planner_reason_t;

const char *planner_reason_name(planner_reason_t r);

typedef struct {
        planner_reason_t reason;
        int group;        /* index of the group behind WAIT_QUORUM/NEVER_QUORUM, else -1 */
        /* The ordering keys (see planner_next_batch), over the node's groups
         * with a budget: max and sum of members-not-done / budget; 0 for a
         * node in no group. */
        double pressure;
        double pressure_sum;
} planner_verdict_t;

/* Chooses the nodes to start now among candidates[] (node indices, distinct,
 * in plan order) so that:
 *   - every group stays within budget, counting the members already down
 *     (in_flight nodes must have status NODE_STATUS_IN_STEP to be counted);
 *   - in_flight + chosen <= batch_size;
 *   - the batch is maximal: no waiting candidate could be added safely, so
 *     if any candidate can start alone safely and a slot is free, the batch
 *     is not empty;
 *   - only NODE_STATUS_UP candidates start.
 *
 * Order heuristic: candidates are considered by descending pressure, then
 * descending pressure_sum, then plan order. A group with r members left and
 * budget b needs at least ceil(r / b) more rounds, so the group with the
 * highest r / b decides how many rounds the phase takes: its members get
 * the budget first, before an overlapping, less loaded group spends a
 * shared member's slot. Among equals, a node in several loaded groups goes
 * first, since one step then advances all of them. Nodes in no group
 * (pressure 0) keep plan order, after the grouped ones. Over random
 * overlapping topologies this stays within 1.5x of
 * planner_rounds_lower_bound() (see tests/unit/test_planner.c).
 *
 * ret_batch must hold n_candidates entries: it is also the work space. On
 * success its first <return value> entries are the chosen node indices (in
 * the order they were chosen) and ret_verdicts[i] (n_candidates entries)
 * says what happens to candidates[i]. Returns the number chosen (>= 0), or
 * -EINVAL for bad arguments (batch_size < 1, in_flight < 0, a candidate out
 * of range), outputs untouched. */
int planner_next_batch(const quorum_fleet_t *f, const int *candidates, size_t n_candidates,
                       int batch_size, int in_flight,
                       int *ret_batch, planner_verdict_t *ret_verdicts);

/* Rounds the groups alone force: max over groups of
 * ceil(members not DONE / budget); 0 when no group member is left. A phase
 * also needs ceil(candidates / batch_size) rounds; the caller takes the
 * larger. -ERANGE if a group with budget 0 still has a member to upgrade. */
int planner_rounds_lower_bound(const quorum_fleet_t *f);
