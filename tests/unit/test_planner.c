/* Planner: explicit scenarios, then property tests over random topologies
 * from fixed seeds. Every property is checked by code written here from the
 * rules (tolerated = floor((n-1)/2) down), never by calling quorum.c. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/upgrade/planner.h"

/* ---- explicit scenarios -------------------------------------------------- */

#define SMALL 10
typedef struct {
        node_status_t status[SMALL];
        quorum_group_t groups[4];
        quorum_fleet_t f;
        int batch[SMALL];
        planner_verdict_t v[SMALL];
} small_t;

static void small_init(small_t *x, size_t n_groups) {
        memset(x, 0, sizeof(*x));
        for (int i = 0; i < SMALL; i++)
                x->status[i] = NODE_STATUS_UP;
        x->f = (quorum_fleet_t) { .groups = x->groups, .n_groups = n_groups,
                                  .status = x->status, .n_nodes = SMALL };
}

static quorum_group_t group(const int *members, size_t n) {
        return (quorum_group_t) { .name = "g", .members = members, .n_members = n,
                                  .max_down = QUORUM_MAX_DOWN_DEFAULT };
}

static const int g012[] = { 0, 1, 2 };
static const int g234[] = { 2, 3, 4 };
static const int g56789[] = { 5, 6, 7, 8, 9 };
static const int g89[] = { 8, 9 };

START_TEST(test_reasons) {
        small_t x;
        small_init(&x, 2);
        x.groups[0] = group(g012, 3);
        x.groups[1] = group(g234, 3);
        x.status[1] = NODE_STATUS_UNREACHABLE;
        x.status[5] = NODE_STATUS_UNHEALTHY;
        x.status[6] = NODE_STATUS_UNREGISTERED;
        x.status[7] = NODE_STATUS_IN_STEP;
        x.status[9] = NODE_STATUS_DONE;
        const int cand[] = { 0, 1, 2, 3, 5, 6, 7, 8, 9 };

        int k = planner_next_batch(&x.f, cand, 9, 2, 1, x.batch, x.v);
        /* db1 unreachable spends group 0: db0 and db2 wait for it; group 1
         * has room for db3; the one free slot goes to db3. */
        ck_assert_int_eq(k, 1);
        ck_assert_int_eq(x.batch[0], 3);
        ck_assert_int_eq(x.v[0].reason, PLANNER_WAIT_QUORUM);
        ck_assert_int_eq(x.v[0].group, 0);
        ck_assert_int_eq(x.v[1].reason, PLANNER_WAIT_NODE_UNREACHABLE);
        ck_assert_int_eq(x.v[2].reason, PLANNER_WAIT_QUORUM);
        ck_assert_int_eq(x.v[3].reason, PLANNER_START);
        ck_assert_int_eq(x.v[3].group, -1);
        ck_assert_int_eq(x.v[4].reason, PLANNER_WAIT_NODE_UNHEALTHY);
        ck_assert_int_eq(x.v[5].reason, PLANNER_WAIT_NODE_UNREGISTERED);
        ck_assert_int_eq(x.v[6].reason, PLANNER_WAIT_NODE_IN_STEP);
        ck_assert_int_eq(x.v[7].reason, PLANNER_WAIT_BATCH_FULL);
        ck_assert_int_eq(x.v[8].reason, PLANNER_SKIP_DONE);
        ck_assert_str_eq(planner_reason_name(PLANNER_WAIT_BATCH_FULL), "batch full");
        ck_assert_str_eq(planner_reason_name((planner_reason_t) 77), "unknown");
}
END_TEST

START_TEST(test_batch_and_in_flight) {
        small_t x;
        small_init(&x, 0);
        const int cand[] = { 4, 2, 7, 1 };

        ck_assert_int_eq(planner_next_batch(&x.f, cand, 4, 3, 0, x.batch, x.v), 3);
        /* No groups: plan order. */
        ck_assert_int_eq(x.batch[0], 4);
        ck_assert_int_eq(x.batch[1], 2);
        ck_assert_int_eq(x.batch[2], 7);
        ck_assert_int_eq(x.v[3].reason, PLANNER_WAIT_BATCH_FULL);
        ck_assert_int_eq(planner_next_batch(&x.f, cand, 4, 3, 2, x.batch, x.v), 1);
        ck_assert_int_eq(x.batch[0], 4);
        ck_assert_int_eq(planner_next_batch(&x.f, cand, 4, 3, 3, x.batch, x.v), 0);
        for (int i = 0; i < 4; i++)
                ck_assert_int_eq(x.v[i].reason, PLANNER_WAIT_BATCH_FULL);
        ck_assert_int_eq(planner_next_batch(&x.f, cand, 0, 3, 0, NULL, NULL), 0);
}
END_TEST

START_TEST(test_never_and_accept_outage) {
        small_t x;
        small_init(&x, 2);
        x.groups[0] = group(g56789, 5);
        x.groups[1] = group(g89, 2);
        const int cand[] = { 8, 9, 5 };

        int k = planner_next_batch(&x.f, cand, 3, 5, 0, x.batch, x.v);
        ck_assert_int_eq(k, 1);
        ck_assert_int_eq(x.batch[0], 5);
        ck_assert_int_eq(x.v[0].reason, PLANNER_NEVER_QUORUM);
        ck_assert_int_eq(x.v[0].group, 1);
        ck_assert_int_eq(x.v[1].reason, PLANNER_NEVER_QUORUM);
        /* Even unhealthy, "never" is what the operator must hear. */
        x.status[9] = NODE_STATUS_UNHEALTHY;
        planner_next_batch(&x.f, cand, 3, 5, 0, x.batch, x.v);
        ck_assert_int_eq(x.v[1].reason, PLANNER_NEVER_QUORUM);
        ck_assert_int_eq(planner_rounds_lower_bound(&x.f), -ERANGE);

        /* With the outage accepted the pair goes one at a time; db9's own
         * health now keeps it waiting (and spends the pair's budget). */
        x.groups[1].accept_outage = true;
        k = planner_next_batch(&x.f, cand, 3, 5, 0, x.batch, x.v);
        ck_assert_int_eq(k, 1);
        ck_assert_int_eq(x.batch[0], 5);
        ck_assert_int_eq(x.v[0].reason, PLANNER_WAIT_QUORUM);
        ck_assert_int_eq(x.v[0].group, 1);
        x.status[9] = NODE_STATUS_UP;
        k = planner_next_batch(&x.f, cand, 3, 5, 0, x.batch, x.v);
        ck_assert_int_eq(k, 2);
        ck_assert_int_eq(x.v[0].reason, PLANNER_START);
        ck_assert_int_eq(x.v[1].reason, PLANNER_WAIT_QUORUM);
        ck_assert_int_eq(x.v[1].group, 1);
}
END_TEST

START_TEST(test_pressure_order) {
        /* Group 0 = {0,1,2} budget 1: 3 rounds left. Group 1 = {5..9}
         * budget 2: 3 rounds left but only 2.5 members per unit of budget.
         * Batch 1: the most loaded group goes first, despite plan order. */
        small_t x;
        small_init(&x, 2);
        x.groups[0] = group(g012, 3);
        x.groups[1] = group(g56789, 5);
        const int cand[] = { 5, 6, 0, 3 };

        ck_assert_int_eq(planner_next_batch(&x.f, cand, 4, 1, 0, x.batch, x.v), 1);
        ck_assert_int_eq(x.batch[0], 0);
        ck_assert(fabs(x.v[0].pressure - 2.5) < 1e-9);
        ck_assert(fabs(x.v[2].pressure - 3.0) < 1e-9);
        ck_assert(x.v[3].pressure == 0.0);
        /* Done members lower the pressure: group 0 at 1 left is now last. */
        x.status[1] = x.status[2] = NODE_STATUS_DONE;
        ck_assert_int_eq(planner_next_batch(&x.f, cand, 4, 1, 0, x.batch, x.v), 1);
        ck_assert_int_eq(x.batch[0], 5);
        ck_assert_int_eq(planner_rounds_lower_bound(&x.f), 3);
}
END_TEST

START_TEST(test_pressure_tie_prefers_shared_node) {
        /* Both groups have 3 rounds left; db2 is in both, so starting it
         * advances both: it goes before db0 despite plan order. */
        small_t x;
        small_init(&x, 2);
        x.groups[0] = group(g012, 3);
        x.groups[1] = group(g234, 3);
        const int cand[] = { 0, 2 };

        ck_assert_int_eq(planner_next_batch(&x.f, cand, 2, 1, 0, x.batch, x.v), 1);
        ck_assert_int_eq(x.batch[0], 2);
        ck_assert(fabs(x.v[0].pressure_sum - 3.0) < 1e-9);
        ck_assert(fabs(x.v[1].pressure_sum - 6.0) < 1e-9);
        ck_assert_int_eq(x.v[0].reason, PLANNER_WAIT_QUORUM);    /* db2 spent group 0 */
        ck_assert_int_eq(x.v[0].group, 0);
}
END_TEST

START_TEST(test_bad_arguments) {
        small_t x;
        small_init(&x, 0);
        const int cand[] = { 1, 10 };

        x.v[0].reason = PLANNER_NEVER_QUORUM;
        ck_assert_int_eq(planner_next_batch(&x.f, cand, 2, 1, 0, x.batch, x.v), -EINVAL);
        ck_assert_int_eq(x.v[0].reason, PLANNER_NEVER_QUORUM);   /* untouched */
        ck_assert_int_eq(planner_next_batch(&x.f, cand, 1, 0, 0, x.batch, x.v), -EINVAL);
        ck_assert_int_eq(planner_next_batch(&x.f, cand, 1, 1, -1, x.batch, x.v), -EINVAL);
        ck_assert_int_eq(planner_next_batch(&x.f, cand, 1, 1, 0, NULL, x.v), -EINVAL);
        ck_assert_int_eq(planner_next_batch(NULL, cand, 1, 1, 0, x.batch, x.v), -EINVAL);
        ck_assert_int_eq(planner_rounds_lower_bound(NULL), -EINVAL);
        ck_assert_int_eq(planner_rounds_lower_bound(&x.f), 0);
}
END_TEST

/* ---- random topologies --------------------------------------------------- */

#define SEEDS 500
#define MAX_NODES 24
#define MAX_GROUPS 6
#define MAX_MEMBERS 7

static uint64_t rng_next(uint64_t *s) {      /* splitmix64 */
        uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

static int rng_int(uint64_t *s, int lo, int hi) {   /* inclusive */
        return lo + (int) (rng_next(s) % (uint64_t) (hi - lo + 1));
}

static bool rng_chance(uint64_t *s, int percent) {
        return rng_int(s, 1, 100) <= percent;
}

typedef struct {
        int n_nodes, n_groups;
        int members[MAX_GROUPS][MAX_MEMBERS];
        quorum_group_t groups[MAX_GROUPS];
        /* The truth the test keeps; status[] is derived from it. */
        node_status_t health[MAX_NODES];     /* UP, UNHEALTHY, UNREACHABLE, UNREGISTERED */
        bool in_step[MAX_NODES], upgraded[MAX_NODES], given_up[MAX_NODES];
        node_status_t status[MAX_NODES];
        int order[MAX_NODES];                /* plan order of all nodes */
        int cand[MAX_NODES], n_cand;
        int batch_size;
        quorum_fleet_t f;
} world_t;

typedef enum { TOPO_OVERLAP, TOPO_DISJOINT } topo_kind_t;

static void world_sync(world_t *w) {
        w->n_cand = 0;
        for (int i = 0; i < w->n_nodes; i++) {
                int n = w->order[i];
                w->status[n] = w->in_step[n] ? NODE_STATUS_IN_STEP
                             : w->health[n] != NODE_STATUS_UP ? w->health[n]
                             : w->upgraded[n] ? NODE_STATUS_DONE : NODE_STATUS_UP;
                if (!w->upgraded[n] && !w->in_step[n] && !w->given_up[n])
                        w->cand[w->n_cand++] = n;
        }
}

static void world_new(world_t *w, uint64_t *rng, topo_kind_t kind) {
        memset(w, 0, sizeof(*w));
        w->n_nodes = rng_int(rng, 3, MAX_NODES);
        w->n_groups = rng_int(rng, 1, MAX_GROUPS);
        int pool[MAX_NODES], n_pool = w->n_nodes;
        for (int i = 0; i < w->n_nodes; i++)
                pool[i] = w->order[i] = i;
        for (int i = w->n_nodes - 1; i > 0; i--) {      /* shuffled plan order */
                int j = rng_int(rng, 0, i), t = w->order[i];
                w->order[i] = w->order[j];
                w->order[j] = t;
        }
        int g = 0;
        for (; g < w->n_groups; g++) {
                int want = rng_int(rng, 1, MAX_MEMBERS), n = 0;
                if (kind == TOPO_OVERLAP)
                        n_pool = w->n_nodes;    /* draw from everyone: groups overlap */
                while (n < want && n_pool > 0) {
                        int j = rng_int(rng, 0, n_pool - 1);
                        w->members[g][n++] = pool[j];
                        pool[j] = pool[--n_pool];      /* distinct within a group */
                        if (kind == TOPO_OVERLAP)
                                pool[n_pool] = w->members[g][n - 1];
                }
                if (n == 0)
                        break;
                int limit = (n - 1) / 2;
                w->groups[g] = (quorum_group_t) {
                        .name = "g", .members = w->members[g], .n_members = (size_t) n,
                        .max_down = rng_chance(rng, 70) || limit == 0
                                            ? QUORUM_MAX_DOWN_DEFAULT
                                            : rng_int(rng, 1, limit),
                        .accept_outage = rng_chance(rng, 30),
                };
        }
        w->n_groups = g;
        for (int i = 0; i < w->n_nodes; i++)
                w->health[i] = NODE_STATUS_UP;
        w->batch_size = rng_int(rng, 1, 6);
        w->f = (quorum_fleet_t) { .groups = w->groups, .n_groups = (size_t) w->n_groups,
                                  .status = w->status, .n_nodes = (size_t) w->n_nodes };
        world_sync(w);
}

/* Budget from the rules: a strict majority must stay up. */
static int rule_budget(const quorum_group_t *g) {
        int n = (int) g->n_members, tolerated = (n - 1) / 2;
        int b = g->max_down == QUORUM_MAX_DOWN_DEFAULT ? tolerated
              : g->max_down < tolerated ? g->max_down : tolerated;
        return b == 0 && g->accept_outage ? 1 : b;
}

static bool is_member(const quorum_group_t *g, int node) {
        for (size_t i = 0; i < g->n_members; i++)
                if (g->members[i] == node)
                        return true;
        return false;
}

static bool status_up(node_status_t s) {
        return s == NODE_STATUS_UP || s == NODE_STATUS_DONE;
}

/* Members of g down now or in extra[]. */
static int rule_down(const world_t *w, const quorum_group_t *g, const int *extra, int n_extra) {
        int down = 0;
        for (size_t i = 0; i < g->n_members; i++) {
                int m = g->members[i];
                bool starting = false;
                for (int j = 0; j < n_extra; j++)
                        starting |= extra[j] == m;
                down += !status_up(w->status[m]) || starting;
        }
        return down;
}

/* Could node start on top of extra[] without any of its groups over budget? */
static bool rule_can_add(const world_t *w, int node, const int *extra, int n_extra) {
        if (w->status[node] != NODE_STATUS_UP)
                return false;
        for (int gi = 0; gi < w->n_groups; gi++) {
                const quorum_group_t *g = &w->groups[gi];
                if (is_member(g, node) && rule_down(w, g, extra, n_extra) + 1 > rule_budget(g))
                        return false;
        }
        return true;
}

static int count_in_step(const world_t *w) {
        int n = 0;
        for (int i = 0; i < w->n_nodes; i++)
                n += w->in_step[i];
        return n;
}

/* Every property of one planner answer, from the rules alone. */
static void check_answer(const world_t *w, int in_flight, const int *batch, int k,
                         const planner_verdict_t *v, int seed) {
        ck_assert_msg(k >= 0, "seed %d: error %d", seed, k);
        ck_assert_msg(in_flight + k <= w->batch_size, "seed %d: batch overflow", seed);

        int starts = 0;
        for (int i = 0; i < w->n_cand; i++)
                starts += v[i].reason == PLANNER_START;
        ck_assert_int_eq(starts, k);
        for (int j = 0; j < k; j++) {
                int pos = -1;
                for (int i = 0; i < w->n_cand; i++)
                        if (w->cand[i] == batch[j])
                                pos = i;
                ck_assert_msg(pos >= 0, "seed %d: node %d not a candidate", seed, batch[j]);
                ck_assert_int_eq(v[pos].reason, PLANNER_START);
                ck_assert_int_eq(w->status[batch[j]], NODE_STATUS_UP);
                for (int i = 0; i < j; i++)
                        ck_assert_int_ne(batch[i], batch[j]);
        }

        /* Budgets: a group that gets a newly down member stays within budget. */
        for (int gi = 0; gi < w->n_groups; gi++) {
                const quorum_group_t *g = &w->groups[gi];
                bool touched = false;
                for (int j = 0; j < k; j++)
                        touched |= is_member(g, batch[j]);
                if (touched)
                        ck_assert_msg(rule_down(w, g, batch, k) <= rule_budget(g),
                                      "seed %d: group %d over budget: %d > %d", seed, gi,
                                      rule_down(w, g, batch, k), rule_budget(g));
        }

        /* Progress: nothing chosen while a slot is free means no candidate
         * could have started even alone. */
        if (k == 0 && in_flight < w->batch_size)
                for (int i = 0; i < w->n_cand; i++)
                        ck_assert_msg(!rule_can_add(w, w->cand[i], NULL, 0),
                                      "seed %d: no progress, yet node %d could start alone",
                                      seed, w->cand[i]);

        /* Maximal: with a slot free, nobody else fits. */
        if (in_flight + k < w->batch_size)
                for (int i = 0; i < w->n_cand; i++)
                        if (v[i].reason != PLANNER_START)
                                ck_assert_msg(!rule_can_add(w, w->cand[i], batch, k),
                                              "seed %d: node %d could start too", seed,
                                              w->cand[i]);

        /* Each waiting verdict is true. */
        for (int i = 0; i < w->n_cand; i++) {
                int n = w->cand[i];
                const quorum_group_t *g = v[i].group >= 0 ? &w->groups[v[i].group] : NULL;
                switch (v[i].reason) {
                case PLANNER_START:
                        break;
                case PLANNER_WAIT_BATCH_FULL:
                        ck_assert_int_eq(in_flight + k, w->batch_size);
                        ck_assert(rule_can_add(w, n, batch, k));
                        break;
                case PLANNER_WAIT_QUORUM:
                        ck_assert(g && is_member(g, n));
                        ck_assert(rule_down(w, g, batch, k) + 1 > rule_budget(g));
                        break;
                case PLANNER_NEVER_QUORUM:
                        ck_assert(g && is_member(g, n) && rule_budget(g) == 0);
                        break;
                case PLANNER_WAIT_NODE_UNHEALTHY:
                        ck_assert_int_eq(w->status[n], NODE_STATUS_UNHEALTHY);
                        break;
                case PLANNER_WAIT_NODE_UNREACHABLE:
                        ck_assert_int_eq(w->status[n], NODE_STATUS_UNREACHABLE);
                        break;
                case PLANNER_WAIT_NODE_UNREGISTERED:
                        ck_assert_int_eq(w->status[n], NODE_STATUS_UNREGISTERED);
                        break;
                default:
                        ck_abort_msg("seed %d: unexpected reason %d", seed, v[i].reason);
                }
        }
}

/* Upgrades under churn: steps last one or more rounds, nodes flap. */
START_TEST(test_property_safety) {
        int seed = _i;
        uint64_t rng = (uint64_t) seed * 7919u + 1;
        world_t w;
        int batch[MAX_NODES];
        planner_verdict_t v[MAX_NODES];

        world_new(&w, &rng, TOPO_OVERLAP);
        for (int i = 0; i < w.n_nodes; i++)
                if (rng_chance(&rng, 25))
                        w.health[i] = (node_status_t) rng_int(&rng, NODE_STATUS_UNHEALTHY,
                                                              NODE_STATUS_UNREGISTERED);
        world_sync(&w);

        int round = 0;
        for (; round < 400 && (w.n_cand > 0 || count_in_step(&w) > 0); round++) {
                int in_flight = count_in_step(&w);
                int k = planner_next_batch(&w.f, w.cand, (size_t) w.n_cand, w.batch_size,
                                           in_flight, batch, v);
                check_answer(&w, in_flight, batch, k, v, seed);
                for (int i = 0; i < w.n_cand; i++)
                        if (v[i].reason == PLANNER_NEVER_QUORUM)
                                w.given_up[w.cand[i]] = true;   /* reported, dropped */
                for (int j = 0; j < k; j++)
                        w.in_step[batch[j]] = true;
                world_sync(&w);

                /* Steps only ever start within budget, so in-step members
                 * alone never exceed it, whatever health does. */
                for (int gi = 0; gi < w.n_groups; gi++) {
                        int steps = 0;
                        for (size_t m = 0; m < w.groups[gi].n_members; m++)
                                steps += w.in_step[w.groups[gi].members[m]];
                        ck_assert_int_le(steps, rule_budget(&w.groups[gi]));
                }

                bool calm = round >= 200;   /* then everything heals, so it ends */
                for (int n = 0; n < w.n_nodes; n++) {
                        if (w.in_step[n] && rng_chance(&rng, 60)) {
                                w.in_step[n] = false;
                                w.upgraded[n] = true;
                        }
                        if (w.health[n] != NODE_STATUS_UP) {
                                if (calm || rng_chance(&rng, 40))
                                        w.health[n] = NODE_STATUS_UP;
                        } else if (!calm && !w.in_step[n] && rng_chance(&rng, 8)) {
                                w.health[n] = rng_chance(&rng, 50) ? NODE_STATUS_UNHEALTHY
                                                                   : NODE_STATUS_UNREACHABLE;
                        }
                }
                world_sync(&w);
        }
        ck_assert_msg(w.n_cand == 0 && count_in_step(&w) == 0,
                      "seed %d: %d candidates left after %d rounds", seed, w.n_cand, round);
}
END_TEST

/* Rounds to finish with all healthy, every step done within its round. */
static int run_healthy(world_t *w, int seed, int *ret_lower_bound) {
        int batch[MAX_NODES];
        planner_verdict_t v[MAX_NODES];
        int rounds = 0;

        for (int gi = 0; gi < w->n_groups; gi++)   /* everything is upgradable */
                if (rule_budget(&w->groups[gi]) == 0)
                        w->groups[gi].accept_outage = true;
        world_sync(w);

        int lb = 0;
        for (int gi = 0; gi < w->n_groups; gi++) {
                int n = (int) w->groups[gi].n_members, b = rule_budget(&w->groups[gi]);
                if ((n + b - 1) / b > lb)
                        lb = (n + b - 1) / b;
        }
        ck_assert_int_eq(planner_rounds_lower_bound(&w->f), lb);
        int by_batch = (w->n_cand + w->batch_size - 1) / w->batch_size;
        *ret_lower_bound = lb > by_batch ? lb : by_batch;

        while (w->n_cand > 0) {
                int k = planner_next_batch(&w->f, w->cand, (size_t) w->n_cand, w->batch_size, 0,
                                           batch, v);
                check_answer(w, 0, batch, k, v, seed);
                ck_assert_int_gt(k, 0);
                for (int j = 0; j < k; j++)
                        w->upgraded[batch[j]] = true;
                world_sync(w);
                rounds++;
        }
        return rounds;
}

START_TEST(test_property_disjoint_meets_bound) {
        for (int seed = 0; seed < SEEDS; seed++) {
                uint64_t rng = (uint64_t) seed * 104729u + 3;
                world_t w;
                int lb;

                world_new(&w, &rng, TOPO_DISJOINT);
                w.batch_size = w.n_nodes;           /* large enough */
                int rounds = run_healthy(&w, seed, &lb);
                ck_assert_msg(rounds == lb, "seed %d: %d rounds, lower bound %d", seed,
                              rounds, lb);
        }
}
END_TEST

START_TEST(test_property_overlap_ratio) {
        /* [0]: batch as large as the fleet; [1]: random batch 1..6. */
        double sum[2] = { 0, 0 }, max[2] = { 0, 0 };
        int at_bound[2] = { 0, 0 };

        for (int pass = 0; pass < 2; pass++)
                for (int seed = 0; seed < SEEDS; seed++) {
                        uint64_t rng = (uint64_t) seed * 15485863u + 5;
                        world_t w;
                        int lb;

                        world_new(&w, &rng, TOPO_OVERLAP);
                        if (pass == 0)
                                w.batch_size = w.n_nodes;
                        int rounds = run_healthy(&w, seed, &lb);
                        double ratio = (double) rounds / lb;
                        ck_assert_msg(rounds >= lb, "seed %d: below the lower bound", seed);
                        sum[pass] += ratio;
                        at_bound[pass] += rounds == lb;
                        if (ratio > max[pass])
                                max[pass] = ratio;
                }
        for (int pass = 0; pass < 2; pass++) {
                printf("planner rounds/lower-bound, overlapping groups, %s, %d seeds: "
                       "mean %.3f, max %.3f, at bound %d\n",
                       pass == 0 ? "unlimited batch" : "batch 1..6", SEEDS, sum[pass] / SEEDS,
                       max[pass], at_bound[pass]);
                ck_assert_msg(max[pass] <= 2.0, "max ratio %.3f", max[pass]);
        }
        fflush(stdout);
}
END_TEST

int main(void) {
        Suite *s = suite_create("planner");
        TCase *tc = tcase_create("scenarios");
        TCase *prop = tcase_create("properties");

        tcase_add_test(tc, test_reasons);
        tcase_add_test(tc, test_batch_and_in_flight);
        tcase_add_test(tc, test_never_and_accept_outage);
        tcase_add_test(tc, test_pressure_order);
        tcase_add_test(tc, test_pressure_tie_prefers_shared_node);
        tcase_add_test(tc, test_bad_arguments);
        suite_add_tcase(s, tc);

        tcase_set_timeout(prop, 120);
        tcase_add_loop_test(prop, test_property_safety, 0, SEEDS);
        tcase_add_test(prop, test_property_disjoint_meets_bound);
        tcase_add_test(prop, test_property_overlap_ratio);
        suite_add_tcase(s, prop);

        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
