/* A deterministic simulation: in-process fake agents answer the real
 * upgrade machine's commands after random delays, with random failures,
 * unreachability and health flaps, over a 1,000-node fleet in simulated
 * time. Every invariant is checked after every event by code written here
 * from the rules, never by calling quorum.c or planner.c.
 *
 * Seeds 1..3 run; UPGRADE_SIM_SEEDS=N runs seeds 1..N instead. make
 * check-valgrind sets 1: the same code paths, at valgrind's cost (about
 * 30 s a seed there). */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/upgrade/upgrade_machine.h"
#include "tests/helpers/test_rng.h"

#define N 1000
#define MAX_GROUPS 40
#define MAX_IDS 400000
#define NEVER INT64_MAX

/* ck_assert_* records a mark point (a write to a pipe) on every call: far
 * too slow for millions of checks. These call into check only on failure. */
#define CHECK(cond, ...) do { if (!(cond)) ck_abort_msg(__VA_ARGS__); } while (0)

static bool chance(test_rng_t *r, int per_mille) {
        return (int) (test_rng_next(r) % 1000) < per_mille;
}

typedef struct {
        /* the fake agent */
        uint64_t cmd_id;          /* in execution, 0 if none */
        upgrade_cmd_t cmd;
        int64_t due;              /* when it answers */
        bool will_fail;
        int version;              /* 0 old, 1 new */
        bool sick_after_upgrade;  /* never healthy once upgraded */
        int64_t unreachable_until;/* NEVER-free: 0 when reachable */
        int64_t unhealthy_until;
        /* what the machine was told */
        bool reachable, healthy;
        int64_t healthy_since;    /* -1 when not healthy */
        /* checker */
        upgrade_step_t prev;
        int64_t verify_start;
        bool lost_in_step;        /* went unreachable during a step */
} sim_node_t;

typedef struct {
        test_rng_t rng;
        upgrade_config_t cfg;
        plan_phase_t ph[3];
        upgrade_phase_config_t pc[3];
        int phase_nodes[3][N];
        quorum_group_t groups[MAX_GROUPS];
        int members[MAX_GROUPS][8];
        int budget[MAX_GROUPS];
        int node_groups[N][3];
        int n_node_groups[N];
        size_t n_groups;
        upgrade_machine_t *m;
        sim_node_t n[N];
        unsigned char *seen;
        int64_t now;
        long events, sends, rounds, failures, stale, resumes, rollbacks, done, operator_rollbacks;
        int64_t next_disturbance;
} sim_t;

static char *s_units[] = { "svc.service", NULL };
static char *s_eps[] = { "10.0.0.1:5269", NULL };
static plan_repoint_t s_repoint = { .kind = "controller", .endpoints = s_eps };

static bool s_in_step(upgrade_step_t s) {
        return s != UPGRADE_STEP_PENDING && s != UPGRADE_STEP_DONE &&
               s != UPGRADE_STEP_ROLLED_BACK && s != UPGRADE_STEP_SKIPPED;
}

static upgrade_step_t s_step(sim_t *x, int i) {
        upgrade_node_status_t st;
        CHECK(upgrade_machine_node(x->m, i, &st) == 0, "node");
        return st.step;
}

static void sim_build(sim_t *x, uint64_t seed) {
        memset(x, 0, sizeof(*x));
        x->rng.s = seed * 2654435761u + 1;
        x->seen = calloc(MAX_IDS, 1);
        ck_assert_ptr_nonnull(x->seen);
        /* database nodes: disjoint groups of 3..7 */
        int next = 0;
        while (x->n_groups < 20) {
                int size = (int) test_rng_in(&x->rng, 3, 7);
                size_t g = x->n_groups++;
                for (int k = 0; k < size; k++)
                        x->members[g][k] = next++;
                x->groups[g] = (quorum_group_t) { .name = "db", .members = x->members[g],
                                                  .n_members = (size_t) size,
                                                  .max_down = QUORUM_MAX_DOWN_DEFAULT };
        }
        int n_db = next;
        /* an overlapping group across phases: one member of each of the
         * first three db groups and two controllers */
        size_t zk = x->n_groups++;
        x->members[zk][0] = x->members[0][0];
        x->members[zk][1] = x->members[1][1];
        x->members[zk][2] = x->members[2][0];
        x->members[zk][3] = n_db;
        x->members[zk][4] = n_db + 1;
        x->groups[zk] = (quorum_group_t) { .name = "zk", .members = x->members[zk], .n_members = 5,
                                           .max_down = 1 };
        for (size_t g = 0; g < x->n_groups; g++) {
                int nm = (int) x->groups[g].n_members;
                int lim = nm - (nm / 2 + 1);
                x->budget[g] = x->groups[g].max_down >= 0 && x->groups[g].max_down < lim
                                       ? x->groups[g].max_down : lim;
                for (int k = 0; k < nm; k++) {
                        int i = x->members[g][k];
                        x->node_groups[i][x->n_node_groups[i]++] = (int) g;
                }
        }
        int n_ctl = 25;
        size_t counts[3] = { 0 };
        for (int i = 0; i < N; i++) {
                int p = i < n_db ? 0 : i < n_db + n_ctl ? 1 : 2;
                x->phase_nodes[p][counts[p]++] = i;
        }
        x->ph[0] = (plan_phase_t) { .name = "database", .min_healthy_time_ms = 2000,
                                    .healthy_deadline_ms = 30000, .restart = s_units,
                                    .on_failure = PLAN_ON_FAILURE_PAUSE };
        x->ph[1] = (plan_phase_t) { .name = "controllers", .canary = 1, .auto_promote = true,
                                    .min_healthy_time_ms = 2000, .healthy_deadline_ms = 30000,
                                    .restart = s_units, .on_failure = PLAN_ON_FAILURE_ROLLBACK_NODE };
        x->ph[2] = (plan_phase_t) { .name = "computes", .min_healthy_time_ms = 2000,
                                    .healthy_deadline_ms = 30000, .restart = s_units, .drain = true,
                                    .repoint = &s_repoint, .n_repoint = 1,
                                    .on_failure = PLAN_ON_FAILURE_ROLLBACK_NODE };
        int batch[3] = { 4, 3, 50 };
        int maxf[3] = { 3, 2, 45 };
        for (int p = 0; p < 3; p++)
                x->pc[p] = (upgrade_phase_config_t) { .params = &x->ph[p], .nodes = x->phase_nodes[p],
                                                      .n_nodes = counts[p], .batch_size = batch[p],
                                                      .max_failures = maxf[p] };
        x->cfg = (upgrade_config_t) { .n_nodes = N, .groups = x->groups, .n_groups = x->n_groups,
                                      .phases = x->pc, .n_phases = 3 };
        CHECK(upgrade_machine_new(&x->cfg, &x->m) == 0, "machine call failed");
        for (int i = 0; i < N; i++) {
                x->n[i] = (sim_node_t) { .reachable = true, .healthy = true, .healthy_since = 0,
                                         .prev = s_step(x, i), .verify_start = -1 };
                x->n[i].sick_after_upgrade = chance(&x->rng, 3);
        }
        x->next_disturbance = 500;
}

/* Members of g down: unhealthy or unreachable as the machine was told, or
 * in a step or failed (its sequence unfinished: maybe drained, maybe still
 * running a retired command) as the machine says. */
static int s_group_down(sim_t *x, size_t g) {
        int d = 0;
        for (size_t k = 0; k < x->groups[g].n_members; k++) {
                int i = x->members[g][k];
                d += !x->n[i].reachable || !x->n[i].healthy || s_in_step(s_step(x, i));
        }
        return d;
}

/* After every event: the checker. */
static void s_check(sim_t *x, const upgrade_action_t *a, size_t na) {
        for (size_t k = 0; k < na; k++) {
                if (a[k].kind == UPGRADE_ACT_STALE_RESULT)
                        x->stale++;
                if (a[k].kind == UPGRADE_ACT_NODE_FAILED)
                        x->failures++;
                if (a[k].kind != UPGRADE_ACT_SEND)
                        continue;
                sim_node_t *n = &x->n[a[k].node];
                CHECK(a[k].cmd_id < MAX_IDS, "id range");
                CHECK(!x->seen[a[k].cmd_id], "command id %llu issued twice",
                              (unsigned long long) a[k].cmd_id);
                x->seen[a[k].cmd_id] = 1;
                CHECK(a[k].allow_downgrade == (a[k].cmd == UPGRADE_CMD_ROLLBACK),
                              "downgrade allowed outside rollback");
                CHECK(n->reachable, "command to an unreachable node");
                x->sends++;
                x->rollbacks += a[k].cmd == UPGRADE_CMD_ROLLBACK;
                /* the agent takes it; one command at a time per node */
                CHECK(n->cmd_id == 0, "node %d: two commands at once", a[k].node);
                n->cmd_id = a[k].cmd_id;
                n->cmd = a[k].cmd;
                n->due = x->now + test_rng_in(&x->rng, 50, 3000);
                n->will_fail = chance(&x->rng, 8);
        }
        for (int i = 0; i < N; i++) {
                sim_node_t *n = &x->n[i];
                upgrade_step_t s = s_step(x, i);
                if (s_in_step(s) && !n->reachable)
                        n->lost_in_step = n->lost_in_step || s != UPGRADE_STEP_FAILED;
                if (s != n->prev) {
                        if (!s_in_step(n->prev) && s_in_step(s)) {
                                /* a start: every group of the node within budget */
                                for (int k = 0; k < x->n_node_groups[i]; k++) {
                                        int g = x->node_groups[i][k];
                                        CHECK(s_group_down(x, (size_t) g) <= x->budget[g],
                                                      "node %d started: group %d over budget", i, g);
                                }
                        }
                        if (s == UPGRADE_STEP_VERIFYING)
                                n->verify_start = x->now;
                        if (s == UPGRADE_STEP_DONE) {
                                CHECK(!n->lost_in_step, "node %d done after going unreachable", i);
                                CHECK(n->prev == UPGRADE_STEP_VERIFYING ||
                                              n->prev == UPGRADE_STEP_UNDRAINING, "node %d skipped verify", i);
                                CHECK(n->verify_start >= 0, "verify start");
                                CHECK(n->version == 1, "node %d done on the old version", i);
                                x->done++;
                        }
                        n->prev = s;
                }
        }
}

/* Checks the gate when a node leaves verifying for undraining or done. */
static upgrade_step_t s_before[N];
static bool s_before_healthy[N], s_before_reachable[N];
static int64_t s_before_hs[N];

/* Before every event: a gate due at the instant of a health change is
 * judged on the health before the change. */
static void s_snapshot(sim_t *x) {
        for (int i = 0; i < N; i++) {
                s_before[i] = s_step(x, i);
                s_before_healthy[i] = x->n[i].healthy;
                s_before_reachable[i] = x->n[i].reachable;
                s_before_hs[i] = x->n[i].healthy_since;
        }
}

static void s_check_gate(sim_t *x, const upgrade_step_t *before) {
        for (int i = 0; i < N; i++) {
                upgrade_step_t s = s_step(x, i);
                if (before[i] != UPGRADE_STEP_VERIFYING ||
                    (s != UPGRADE_STEP_UNDRAINING && s != UPGRADE_STEP_DONE))
                        continue;
                sim_node_t *n = &x->n[i];
                const plan_phase_t *p;
                upgrade_node_status_t st;
                upgrade_machine_node(x->m, i, &st);
                p = x->cfg.phases[st.phase].params;
                CHECK(s_before_healthy[i] && s_before_reachable[i] && s_before_hs[i] >= 0, "node %d passed unhealthy (sim h %d r %d hs %lld; machine h %d r %d; vs %lld now %lld)", i, n->healthy, n->reachable, (long long) n->healthy_since, st.healthy, st.reachable, (long long) n->verify_start, (long long) x->now);
                int64_t from = s_before_hs[i] > n->verify_start ? s_before_hs[i] : n->verify_start;
                CHECK(x->now - from >= p->min_healthy_time_ms,
                              "node %d passed the gate after %lld ms", i, (long long) (x->now - from));
                CHECK(from + p->min_healthy_time_ms <= n->verify_start + p->healthy_deadline_ms,
                              "node %d passed the gate after its deadline", i);
        }
}

static void s_after(sim_t *x, const upgrade_action_t *a, size_t na) {
        x->events++;
        s_check_gate(x, s_before);
        s_check(x, a, na);
}

static void s_tell_health(sim_t *x, int i, bool healthy) {
        sim_node_t *n = &x->n[i];
        if (n->healthy == healthy)
                return;
        const upgrade_action_t *a;
        size_t na;
        s_snapshot(x);
        CHECK(upgrade_machine_on_health(x->m, x->now, i, healthy, &a, &na) == 0, "machine call failed");
        n->healthy = healthy;
        n->healthy_since = healthy ? x->now : -1;
        s_after(x, a, na);
}

static void s_tell_reachable(sim_t *x, int i, bool reachable) {
        sim_node_t *n = &x->n[i];
        const upgrade_action_t *a;
        size_t na;
        s_snapshot(x);
        if (!reachable && s_in_step(s_step(x, i)) && s_step(x, i) != UPGRADE_STEP_FAILED)
                n->lost_in_step = true;
        n->reachable = reachable;
        CHECK(upgrade_machine_on_reachable(x->m, x->now, i, reachable, &a, &na) == 0, "machine call failed");
        if (!reachable && n->healthy_since >= 0)
                n->healthy_since = -1;   /* the stretch restarts when it is back */
        if (reachable && n->healthy)
                n->healthy_since = x->now;
        s_after(x, a, na);
}

static bool s_truly_healthy(const sim_t *x, int i) {
        const sim_node_t *n = &x->n[i];
        if (n->unhealthy_until > x->now)
                return false;
        return !(n->version == 1 && n->sick_after_upgrade);
}

static void s_answer(sim_t *x, int i) {
        sim_node_t *n = &x->n[i];
        uint64_t id = n->cmd_id;
        bool ok = !n->will_fail;
        if (ok) {
                if (n->cmd == UPGRADE_CMD_INSTALL) {
                        CHECK(n->version <= 1, "downgrade by install");
                        n->version = 1;
                } else if (n->cmd == UPGRADE_CMD_ROLLBACK) {
                        n->version = 0;
                }
        }
        n->cmd_id = 0;
        bool h = s_truly_healthy(x, i);
        const upgrade_action_t *a;
        size_t na;
        s_snapshot(x);
        ck_assert_int_eq(upgrade_machine_on_result(x->m, x->now, i, id,
                                                   ok ? UPGRADE_RESULT_SUCCEEDED : UPGRADE_RESULT_FAILED,
                                                   true, h, ok ? NULL : "simulated failure", &a, &na), 0);
        bool stale = false;   /* the machine ignores a stale result, health included */
        for (size_t k = 0; k < na; k++)
                stale = stale || (a[k].kind == UPGRADE_ACT_STALE_RESULT && a[k].node == i);
        if (!stale) {
                if (h != n->healthy)
                        n->healthy_since = h ? x->now : -1;
                n->healthy = h;
        }
        s_after(x, a, na);
}

/* Progress whenever safe: an idle machine with a startable node is a bug. */
static void s_check_progress(sim_t *x) {
        upgrade_conditions_t c;
        upgrade_machine_conditions(x->m, &c);
        /* past the last phase: only rollbacks are left to finish */
        if (c.paused || c.aborted || c.promote_pending || c.complete.status ||
            (size_t) c.phase >= x->cfg.n_phases)
                return;
        const upgrade_phase_config_t *pc = &x->pc[c.phase];
        int in_flight = 0;
        for (size_t k = 0; k < pc->n_nodes; k++) {
                upgrade_step_t s = s_step(x, pc->nodes[k]);
                in_flight += s_in_step(s) && s != UPGRADE_STEP_FAILED;
        }
        if (in_flight >= pc->batch_size)
                return;
        for (size_t k = 0; k < pc->n_nodes; k++) {
                int i = pc->nodes[k];
                sim_node_t *n = &x->n[i];
                if (s_step(x, i) != UPGRADE_STEP_PENDING || !n->reachable || !n->healthy)
                        continue;
                bool fits = true;
                for (int g = 0; g < x->n_node_groups[i]; g++)
                        fits = fits && s_group_down(x, (size_t) x->node_groups[i][g]) + 1 <=
                                               x->budget[x->node_groups[i][g]];
                if (!fits)
                        continue;
                char why[200];
                upgrade_machine_wait_reason(x->m, i, why, sizeof(why));
                CHECK(strcmp(why, "canaries running") == 0,
                              "node %d could start safely but waits: '%s'", i, why);
        }
}

static void s_disturb(sim_t *x) {
        int i = (int) test_rng_in(&x->rng, 0, N - 1);
        sim_node_t *n = &x->n[i];
        if (chance(&x->rng, 300)) {
                if (n->unreachable_until == 0) {
                        n->unreachable_until = x->now + test_rng_in(&x->rng, 1000, 20000);
                        s_tell_reachable(x, i, false);
                }
        } else if (n->unhealthy_until <= x->now) {
                n->unhealthy_until = x->now + test_rng_in(&x->rng, 200, 3000);
                if (n->reachable)
                        s_tell_health(x, i, false);
        }
}

static void sim_run(uint64_t seed, bool print) {
        static sim_t x;
        sim_build(&x, seed);
        const upgrade_action_t *a;
        size_t na;
        s_snapshot(&x);
        CHECK(upgrade_machine_tick(x.m, 0, &a, &na) == 0, "machine call failed");
        s_after(&x, a, na);
        int64_t paused_since = -1;
        long last_sends = -1;
        int64_t last_send_at = 0;
        for (;;) {
                if (x.sends != last_sends) {
                        last_sends = x.sends;
                        last_send_at = x.now;
                }
                if (x.now - last_send_at > 60000) {
                        /* the operator rolls back failed nodes that hold a
                         * group's budget (unhealthy after their upgrade) */
                        last_send_at = x.now;
                        int n_rb = 0;
                        for (int i = 0; i < N; i++) {
                                upgrade_node_status_t st;
                                upgrade_machine_node(x.m, i, &st);
                                if (st.step != UPGRADE_STEP_FAILED || st.rollback_pending)
                                        continue;
                                s_snapshot(&x);
                                CHECK(upgrade_machine_admin(x.m, x.now, UPGRADE_ADMIN_ROLLBACK_NODE, i, &a, &na) == 0, "rollback");
                                s_after(&x, a, na);
                                n_rb++;
                        }
                        x.operator_rollbacks += n_rb;
                        if (n_rb == 0 && x.now - last_send_at > 0)
                                break;
                }
                x.rounds++;
                CHECK(x.rounds < 2000000, "no end");
                upgrade_conditions_t c;
                upgrade_machine_conditions(x.m, &c);
                if (c.complete.status)
                        break;
                if (c.paused && paused_since < 0)
                        paused_since = x.now;
                if (c.paused && x.now - paused_since >= 10000) {
                        if (x.resumes >= 20)
                                break;   /* ends paused */
                        x.resumes++;
                        paused_since = -1;
                        s_snapshot(&x);
                        CHECK(upgrade_machine_admin(x.m, x.now, UPGRADE_ADMIN_RESUME, 0, &a, &na) == 0, "machine call failed");
                        s_after(&x, a, na);
                        continue;
                }
                /* the next event */
                int64_t t = upgrade_machine_next_due(x.m);
                if (x.next_disturbance < t)
                        t = x.next_disturbance;
                if (paused_since >= 0 && paused_since + 10000 < t)
                        t = paused_since + 10000;
                for (int i = 0; i < N; i++) {
                        sim_node_t *n = &x.n[i];
                        if (n->cmd_id && !n->unreachable_until && n->due < t)
                                t = n->due;
                        if (n->unreachable_until && n->unreachable_until < t)
                                t = n->unreachable_until;
                        if (n->unhealthy_until > x.now && n->unhealthy_until < t)
                                t = n->unhealthy_until;
                }
                CHECK(t != NEVER, "stuck");
                if (t > x.now)
                        x.now = t;
                for (int i = 0; i < N; i++) {
                        sim_node_t *n = &x.n[i];
                        if (n->unreachable_until && n->unreachable_until <= x.now) {
                                n->unreachable_until = 0;
                                /* on reconnect the agent reports what it
                                 * finished meanwhile: the machine retired
                                 * that id when the node went away */
                                if (n->cmd_id)
                                        s_answer(&x, i);
                                s_tell_reachable(&x, i, true);
                                s_tell_health(&x, i, s_truly_healthy(&x, i));
                        }
                        if (n->reachable && n->cmd_id && n->due <= x.now)
                                s_answer(&x, i);
                        if (n->reachable && n->healthy != s_truly_healthy(&x, i) &&
                            (n->unhealthy_until <= x.now || !n->healthy))
                                s_tell_health(&x, i, s_truly_healthy(&x, i));
                }
                if (x.next_disturbance <= x.now) {
                        s_disturb(&x);
                        x.next_disturbance = x.now + test_rng_in(&x.rng, 100, 1500);
                }
                s_snapshot(&x);
                CHECK(upgrade_machine_tick(x.m, x.now, &a, &na) == 0, "machine call failed");
                s_after(&x, a, na);
                s_check_progress(&x);
        }
        upgrade_conditions_t c;
        upgrade_machine_conditions(x.m, &c);
        if (print)
                printf("sim seed %llu: %s; %ld done, %ld failures, %ld rollbacks, %ld resumes, "
                       "%ld operator rollbacks, %ld commands, %ld events, %ld rounds, %ld stale results, %.1f simulated min\n",
                       (unsigned long long) seed, c.complete.status ? "complete" : "paused",
                       x.done, x.failures, x.rollbacks, x.resumes, x.operator_rollbacks, x.sends, x.events, x.rounds,
                       x.stale, (double) x.now / 60000.0);
        ck_assert(c.complete.status || c.paused);
        ck_assert_int_gt(x.done, N / 2);
        upgrade_machine_destroy(&x.m);
        free(x.seen);
}

START_TEST(test_sim) {
        sim_run((uint64_t) _i + 1, true);
}
END_TEST

int main(void) {
        Suite *s = suite_create("upgrade_sim");
        TCase *tc = tcase_create("sim");
        tcase_set_timeout(tc, 120);
        const char *seeds = getenv("UPGRADE_SIM_SEEDS");
        int n_seeds = seeds && atoi(seeds) > 0 ? atoi(seeds) : 3;
        tcase_add_loop_test(tc, test_sim, 0, n_seeds);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int nf = srunner_ntests_failed(sr);
        srunner_free(sr);
        return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
