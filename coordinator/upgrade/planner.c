#include "coordinator/upgrade/planner.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>

static const char *const s_reason_names[PLANNER__COUNT] = {
        [PLANNER_START] = "start",
        [PLANNER_WAIT_BATCH_FULL] = "batch full",
        [PLANNER_WAIT_QUORUM] = "quorum group budget",
        [PLANNER_WAIT_NODE_UNHEALTHY] = "node unhealthy",
        [PLANNER_WAIT_NODE_UNREACHABLE] = "node unreachable",
        [PLANNER_WAIT_NODE_UNREGISTERED] = "node never registered",
        [PLANNER_WAIT_NODE_IN_STEP] = "node in step",
        [PLANNER_WAIT_NODE_DRAINED] = "node drained (undrain it first)",
        [PLANNER_SKIP_DONE] = "done",
        [PLANNER_NEVER_QUORUM] = "quorum budget can never be met",
};

const char *planner_reason_name(planner_reason_t r) {
        if ((unsigned) r >= PLANNER__COUNT)
                return "unknown";
        return s_reason_names[r];
}

static int s_members_left(const quorum_fleet_t *f, const quorum_group_t *g) {
        int left = 0;

        for (size_t i = 0; i < g->n_members; i++) {
                int m = g->members[i];
                if (m < 0 || (size_t) m >= f->n_nodes || f->status[m] != NODE_STATUS_DONE)
                        left++;
        }
        return left;
}

/* Sets the ordering keys of v: max and sum over node's groups (budget > 0)
 * of members-not-done / budget. */
static void s_pressure(const quorum_fleet_t *f, int node, planner_verdict_t *v) {
        v->pressure = 0.0;
        v->pressure_sum = 0.0;
        for (size_t gi = 0; gi < f->n_groups; gi++) {
                const quorum_group_t *g = &f->groups[gi];
                int b = quorum_group_budget(g);
                if (b == 0 || !quorum_group_has(g, node))
                        continue;
                double r = (double) s_members_left(f, g) / b;
                v->pressure_sum += r;
                if (r > v->pressure)
                        v->pressure = r;
        }
}

/* Considered before b: higher pressure, then higher sum. */
static bool s_goes_before(const planner_verdict_t *a, const planner_verdict_t *b) {
        if (a->pressure != b->pressure)
                return a->pressure > b->pressure;
        return a->pressure_sum > b->pressure_sum;
}

/* A group that forbids node for good, or -1. */
static int s_zero_budget_group(const quorum_fleet_t *f, int node) {
        for (size_t gi = 0; gi < f->n_groups; gi++)
                if (quorum_group_budget(&f->groups[gi]) == 0 &&
                    quorum_group_has(&f->groups[gi], node))
                        return (int) gi;
        return -1;
}

static planner_reason_t s_own_status_reason(node_status_t s) {
        switch (s) {
        case NODE_STATUS_UP:           return PLANNER_START;
        case NODE_STATUS_DONE:         return PLANNER_SKIP_DONE;
        case NODE_STATUS_UNHEALTHY:    return PLANNER_WAIT_NODE_UNHEALTHY;
        case NODE_STATUS_UNREACHABLE:  return PLANNER_WAIT_NODE_UNREACHABLE;
        case NODE_STATUS_IN_STEP:
        case NODE_STATUS_FAILED:       return PLANNER_WAIT_NODE_IN_STEP;
        case NODE_STATUS_DRAINED:      return PLANNER_WAIT_NODE_DRAINED;
        case NODE_STATUS_UNREGISTERED:
        default:                       return PLANNER_WAIT_NODE_UNREGISTERED;
        }
}

int planner_next_batch(const quorum_fleet_t *f, const int *candidates, size_t n_candidates,
                       int batch_size, int in_flight,
                       int *ret_batch, planner_verdict_t *ret_verdicts) {
        if (!f || batch_size < 1 || in_flight < 0 || n_candidates > (size_t) INT_MAX)
                return -EINVAL;
        if (n_candidates > 0 && (!candidates || !ret_batch || !ret_verdicts))
                return -EINVAL;
        for (size_t i = 0; i < n_candidates; i++)
                if (candidates[i] < 0 || (size_t) candidates[i] >= f->n_nodes)
                        return -EINVAL;

        /* ret_batch first holds the consideration order (candidate
         * positions), sorted by insertion: stable, so equal pressure keeps
         * plan order, and linear when most candidates share a pressure
         * (a compute phase is all 0). */
        for (size_t i = 0; i < n_candidates; i++) {
                planner_verdict_t *v = &ret_verdicts[i];
                size_t j = i;

                *v = (planner_verdict_t) { .reason = PLANNER_START, .group = -1 };
                s_pressure(f, candidates[i], v);
                for (; j > 0 && s_goes_before(v, &ret_verdicts[ret_batch[j - 1]]); j--)
                        ret_batch[j] = ret_batch[j - 1];
                ret_batch[j] = (int) i;
        }

        /* Then, as nodes are chosen, its prefix [0, k) becomes the chosen
         * node indices. k <= i, so the position at i is read before slot k
         * can overwrite it. */
        size_t k = 0;
        for (size_t i = 0; i < n_candidates; i++) {
                int pos = ret_batch[i];
                int node = candidates[pos];
                planner_verdict_t *v = &ret_verdicts[pos];
                node_status_t s = f->status[node];
                int g;

                v->reason = s_own_status_reason(s);
                if (v->reason == PLANNER_SKIP_DONE || v->reason == PLANNER_WAIT_NODE_IN_STEP)
                        continue;
                g = s_zero_budget_group(f, node);
                if (g >= 0) {
                        v->reason = PLANNER_NEVER_QUORUM;
                        v->group = g;
                        continue;
                }
                if (v->reason != PLANNER_START)
                        continue;
                g = quorum_blocking_group(f, node, ret_batch, k);
                if (g >= 0) {
                        v->reason = PLANNER_WAIT_QUORUM;
                        v->group = g;
                        continue;
                }
                if ((size_t) in_flight + k >= (size_t) batch_size) {
                        v->reason = PLANNER_WAIT_BATCH_FULL;
                        continue;
                }
                ret_batch[k++] = node;
        }
        return (int) k;
}

int planner_rounds_lower_bound(const quorum_fleet_t *f) {
        int rounds = 0;

        if (!f)
                return -EINVAL;
        for (size_t gi = 0; gi < f->n_groups; gi++) {
                const quorum_group_t *g = &f->groups[gi];
                int left = s_members_left(f, g);
                int b = quorum_group_budget(g);

                if (left == 0)
                        continue;
                if (b == 0)
                        return -ERANGE;
                if ((left + b - 1) / b > rounds)
                        rounds = (left + b - 1) / b;
        }
        return rounds;
}
