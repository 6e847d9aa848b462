/* The batch job machine: quorum budgets over random fleets (checked with
 * the arithmetic written here, not by asking quorum.c), the failure budget,
 * pause/resume/abort, lost nodes and a restart from the stored state. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/jobs/job_machine.h"

#define MAXU 24
#define MAXG 4

typedef struct {
        node_status_t st[MAXU];
        int members[MAXG][MAXU];
        quorum_group_t g[MAXG];
        quorum_fleet_t f;
        job_config_t cfg;
        job_machine_t *m;
        int start[MAXU];
        int64_t now;            /* ms, given to every step */
} fx_t;

/* n job nodes in a universe of u; one group over the first g_n nodes of
 * the universe (max_down default). */
static void fx_init(fx_t *x, int n, int u, int g_n, int batch, int max_failures, bool disruptive) {
        memset(x, 0, sizeof *x);
        for (int i = 0; i < g_n; i++)
                x->members[0][i] = i;
        x->g[0] = (quorum_group_t) { .name = "db", .members = x->members[0], .n_members = (size_t) g_n,
                                     .max_down = QUORUM_MAX_DOWN_DEFAULT };
        x->f = (quorum_fleet_t) { .groups = x->g, .n_groups = g_n > 0, .status = x->st, .n_nodes = (size_t) u };
        x->cfg = (job_config_t) { .n_nodes = (size_t) n, .n_universe = (size_t) u, .batch_size = batch,
                                  .max_failures = max_failures, .disruptive = disruptive };
        ck_assert_int_eq(job_machine_new(&x->cfg, &x->m), 0);
}

/* A new machine for x->cfg, after the caller changed it. */
static void fx_renew(fx_t *x) {
        job_machine_free(&x->m);
        ck_assert_int_eq(job_machine_new(&x->cfg, &x->m), 0);
}

static int step(fx_t *x) {
        int n = job_machine_step(x->m, &x->f, x->now, x->start);
        ck_assert_int_ge(n, 0);
        return n;
}

static void result(fx_t *x, int node, bool ok) {
        ck_assert_int_eq(job_machine_on_result(x->m, node, ok, ok ? "fine" : "broken"), 0);
}

START_TEST(test_bad_config) {
        job_machine_t *m = NULL;
        ck_assert_int_eq(job_machine_new(&(job_config_t) { .n_nodes = 0, .n_universe = 0, .batch_size = 1 }, &m),
                         -EINVAL);
        ck_assert_int_eq(job_machine_new(&(job_config_t) { .n_nodes = 2, .n_universe = 1, .batch_size = 1 }, &m),
                         -EINVAL);
        ck_assert_int_eq(job_machine_new(&(job_config_t) { .n_nodes = 2, .n_universe = 2, .batch_size = 0 }, &m),
                         -EINVAL);
        ck_assert_ptr_null(m);
}
END_TEST

/* A group of 5 tolerates 2 down: a restart batch of 5 runs two at a time. */
START_TEST(test_quorum_window) {
        fx_t x;
        fx_init(&x, 5, 5, 5, 5, 0, true);
        ck_assert_int_eq(step(&x), 2);
        ck_assert_int_eq(x.start[0], 0);
        ck_assert_int_eq(x.start[1], 1);
        ck_assert_ptr_nonnull(strstr(job_machine_node_message(x.m, 2), "group db: 2 of 5 down"));
        ck_assert_int_eq(step(&x), 0);   /* nothing changed: nothing more */
        result(&x, 0, true);
        ck_assert_int_eq(step(&x), 1);
        ck_assert_int_eq(x.start[0], 2);
        /* An unhealthy member outside the job holds budget too. */
        x.st[3] = NODE_STATUS_UNHEALTHY;
        result(&x, 1, true);
        ck_assert_int_eq(step(&x), 1);   /* node 3 is already down: it costs nothing and starts */
        ck_assert_int_eq(x.start[0], 3);
        ck_assert_int_eq(step(&x), 0);   /* 2, 3 running: node 4 waits */
        ck_assert_int_eq(job_machine_node_state(x.m, 4), JOB_NODE_PENDING);
        job_machine_free(&x.m);
}
END_TEST

/* --mode batch: the next batch waits for the whole last one (a barrier). */
START_TEST(test_barrier) {
        fx_t x;
        fx_init(&x, 5, 5, 0, 2, 0, true);
        x.cfg.barrier = true;
        fx_renew(&x);
        ck_assert_int_eq(step(&x), 2);
        result(&x, 0, true);
        ck_assert_int_eq(step(&x), 0);   /* rolling would start one now */
        ck_assert_ptr_nonnull(strstr(job_machine_node_message(x.m, 2), "batch mode"));
        result(&x, 1, true);
        ck_assert_int_eq(step(&x), 2);
        job_machine_free(&x.m);
}
END_TEST

/* A drain leaves its node down: with max_down 1 only one drains. */
START_TEST(test_drain_stays_down) {
        fx_t x;
        fx_init(&x, 3, 3, 3, 3, 0, true);
        x.cfg.leaves_down = true;
        fx_renew(&x);
        ck_assert_int_eq(step(&x), 1);
        result(&x, 0, true);
        ck_assert_int_eq(step(&x), 0);   /* the view still says node 0 is up: the machine knows better */
        ck_assert_ptr_nonnull(strstr(job_machine_node_message(x.m, 1), "node0 drained"));
        ck_assert_int_eq(job_machine_state(x.m), JOB_RUNNING);
        job_machine_free(&x.m);
}
END_TEST

/* check and undrain take nothing down: quorum does not hold them. */
START_TEST(test_not_disruptive) {
        fx_t x;
        fx_init(&x, 3, 3, 3, 3, 3, false);
        x.st[0] = x.st[1] = NODE_STATUS_DRAINED;
        ck_assert_int_eq(step(&x), 3);
        job_machine_free(&x.m);
}
END_TEST

/* The upgrade's in-step members are never started, and count down. */
START_TEST(test_upgrade_nodes_wait) {
        fx_t x;
        fx_init(&x, 3, 5, 5, 3, 0, true);
        x.st[0] = NODE_STATUS_IN_STEP;   /* the upgrade has it */
        x.st[4] = NODE_STATUS_IN_STEP;   /* a member outside the job, too */
        ck_assert_int_eq(step(&x), 0);   /* 2 of 5 down already */
        ck_assert_str_eq(job_machine_node_message(x.m, 0), "in a step of the running upgrade");
        x.st[4] = NODE_STATUS_UP;
        ck_assert_int_eq(step(&x), 1);
        ck_assert_int_eq(x.start[0], 1);
        job_machine_free(&x.m);
}
END_TEST

START_TEST(test_failure_budget) {
        fx_t x;
        fx_init(&x, 6, 6, 0, 2, 1, true);
        ck_assert_int_eq(step(&x), 2);
        result(&x, 0, false);
        ck_assert_int_eq(step(&x), 1);   /* 1 failed: within max_failures 1 */
        result(&x, 1, false);
        ck_assert_int_eq(step(&x), 0);
        ck_assert_int_eq(job_machine_state(x.m), JOB_PAUSED);
        ck_assert_str_eq(job_machine_message(x.m), "failure budget: 2 failed, max_failures 1");
        result(&x, 2, true);   /* a running node still finishes */
        ck_assert_int_eq(step(&x), 0);
        ck_assert_int_eq(job_machine_resume(x.m), 0);
        ck_assert_int_eq(job_machine_resume(x.m), -EALREADY);
        ck_assert_int_eq(step(&x), 2);   /* failures forgiven */
        /* An unreachable pending node fails, and counts. */
        x.st[5] = NODE_STATUS_UNREACHABLE;
        result(&x, 3, true);
        ck_assert_int_eq(step(&x), 0);
        ck_assert_int_eq(job_machine_node_state(x.m, 5), JOB_NODE_FAILED);
        ck_assert_str_eq(job_machine_node_message(x.m, 5), "unreachable");
        ck_assert(!job_machine_node_sent(x.m, 5));
        ck_assert_int_eq(job_machine_state(x.m), JOB_RUNNING);   /* 1 failed since resume */
        result(&x, 4, true);
        ck_assert_int_eq(step(&x), 0);
        ck_assert_int_eq(job_machine_state(x.m), JOB_DONE);
        job_machine_free(&x.m);
}
END_TEST

START_TEST(test_pause_abort_lost) {
        fx_t x;
        fx_init(&x, 4, 4, 0, 2, 4, true);
        ck_assert_int_eq(job_machine_pause(x.m), 0);
        ck_assert_int_eq(job_machine_pause(x.m), -EALREADY);
        ck_assert_int_eq(step(&x), 0);
        ck_assert_ptr_nonnull(strstr(job_machine_node_message(x.m, 0), "paused"));
        ck_assert_int_eq(job_machine_resume(x.m), 0);
        ck_assert_int_eq(step(&x), 2);
        ck_assert_int_eq(job_machine_on_lost(x.m, 0), 0);
        ck_assert_int_eq(job_machine_node_state(x.m, 0), JOB_NODE_FAILED);
        /* A late result for the lost node is not taken: failed, never done. */
        ck_assert_int_eq(job_machine_on_result(x.m, 0, true, "late"), -EALREADY);
        ck_assert_int_eq(job_machine_on_result(x.m, 9, true, ""), -EINVAL);
        ck_assert_int_eq(job_machine_abort(x.m), 0);
        ck_assert_int_eq(job_machine_resume(x.m), -EPERM);
        ck_assert_int_eq(job_machine_node_state(x.m, 2), JOB_NODE_SKIPPED);
        ck_assert_int_eq(job_machine_node_state(x.m, 1), JOB_NODE_RUNNING);   /* finishes */
        ck_assert_int_eq(step(&x), 0);
        result(&x, 1, true);
        ck_assert_int_eq(step(&x), 0);
        ck_assert_int_eq(job_machine_state(x.m), JOB_ABORTED);
        ck_assert_int_eq(job_machine_abort(x.m), -EALREADY);
        job_machine_free(&x.m);
}
END_TEST

/* Stored state in, the same decisions out: running nodes are not started
 * again (their command ids are not issued twice). */
START_TEST(test_restore) {
        fx_t x;
        fx_init(&x, 5, 5, 5, 5, 0, true);
        ck_assert_int_eq(step(&x), 2);
        result(&x, 0, true);
        job_node_state_t states[5];
        bool sent[5];
        const char *msgs[5];
        for (int i = 0; i < 5; i++) {
                states[i] = job_machine_node_state(x.m, i);
                sent[i] = job_machine_node_sent(x.m, i);
                msgs[i] = job_machine_node_message(x.m, i);
        }
        job_machine_t *m2 = NULL;
        ck_assert_int_eq(job_machine_new(&x.cfg, &m2), 0);
        ck_assert_int_eq(job_machine_restore(m2, job_machine_state(x.m), job_machine_forgiven(x.m),
                                             job_machine_message(x.m), states, msgs, sent), 0);
        job_machine_free(&x.m);
        x.m = m2;
        ck_assert_int_eq(job_machine_node_state(x.m, 1), JOB_NODE_RUNNING);
        ck_assert_str_eq(job_machine_node_message(x.m, 0), "fine");
        ck_assert_int_eq(step(&x), 1);   /* 1 running, budget 2: one more, node 2 */
        ck_assert_int_eq(x.start[0], 2);
        states[0] = JOB_NODE__COUNT;
        ck_assert_int_eq(job_machine_restore(x.m, JOB_RUNNING, 0, "", states, NULL, NULL), -EINVAL);
        ck_assert_int_eq(job_machine_node_state(x.m, 2), JOB_NODE_RUNNING);   /* unchanged */
        job_machine_free(&x.m);
}
END_TEST

START_TEST(test_dry_run) {
        fx_t x;
        int batch[5];
        fx_init(&x, 5, 5, 5, 5, 0, true);
        ck_assert_int_eq(job_machine_dry_run(x.m, &x.f, false, batch), 3);
        ck_assert_int_eq(batch[0], 1);
        ck_assert_int_eq(batch[1], 1);
        ck_assert_int_eq(batch[2], 2);
        ck_assert_int_eq(batch[4], 3);
        job_machine_free(&x.m);
        fx_init(&x, 5, 5, 5, 5, 0, true);
        ck_assert_int_eq(job_machine_dry_run(x.m, &x.f, true, batch), 1);   /* drains stay down */
        ck_assert_int_eq(batch[2], 0);
        job_machine_free(&x.m);
}
END_TEST

/* With a health gate (min 1 s within 5 s) a succeeded node stays down for
 * quorum until it has been healthy for 1 s without a break; the next
 * member starts only then. */
START_TEST(test_health_gate_holds_the_next_member) {
        fx_t x;
        fx_init(&x, 3, 3, 3, 3, 0, true);
        x.cfg.min_healthy_time_ms = 1000;
        x.cfg.healthy_deadline_ms = 5000;
        fx_renew(&x);
        ck_assert_int_eq(step(&x), 1);   /* group of 3: one down at a time */
        result(&x, 0, true);
        ck_assert_int_eq(job_machine_node_state(x.m, 0), JOB_NODE_VERIFYING);
        x.st[0] = NODE_STATUS_UP;
        ck_assert_int_eq(step(&x), 0);   /* verifying counts as down */
        ck_assert_ptr_nonnull(strstr(job_machine_node_message(x.m, 0), "health gate"));
        x.now = 500;
        x.st[0] = NODE_STATUS_UNHEALTHY;   /* a flap restarts the count */
        ck_assert_int_eq(step(&x), 0);
        x.now = 600;
        x.st[0] = NODE_STATUS_UP;
        ck_assert_int_eq(step(&x), 0);
        x.now = 1599;
        ck_assert_int_eq(step(&x), 0);
        ck_assert_int_eq(job_machine_node_state(x.m, 0), JOB_NODE_VERIFYING);
        ck_assert_int_eq(job_machine_state(x.m), JOB_RUNNING);
        x.now = 1600;
        ck_assert_int_eq(step(&x), 1);   /* passed: the next member in the same step */
        ck_assert_int_eq(job_machine_node_state(x.m, 0), JOB_NODE_SUCCEEDED);
        ck_assert_int_eq(x.start[0], 1);
        job_machine_free(&x.m);
}
END_TEST

/* Never healthy long enough within the deadline: failed, and the failure
 * budget pauses the job. A restart from the stored state restarts the
 * gate, never shortens it. */
START_TEST(test_health_gate_deadline_and_restore) {
        fx_t x;
        fx_init(&x, 2, 2, 0, 1, 0, true);
        x.cfg.min_healthy_time_ms = 1000;
        x.cfg.healthy_deadline_ms = 5000;
        fx_renew(&x);
        x.now = 10000;
        ck_assert_int_eq(step(&x), 1);
        result(&x, 0, true);
        x.st[0] = NODE_STATUS_UNHEALTHY;
        ck_assert_int_eq(step(&x), 0);   /* the gate counts from here: 15000 */
        job_node_state_t states[2] = { job_machine_node_state(x.m, 0), job_machine_node_state(x.m, 1) };
        ck_assert_int_eq(states[0], JOB_NODE_VERIFYING);
        x.now = 14000;
        job_machine_t *m2 = NULL;
        ck_assert_int_eq(job_machine_new(&x.cfg, &m2), 0);
        ck_assert_int_eq(job_machine_restore(m2, JOB_RUNNING, 0, "", states, NULL, NULL), 0);
        ck_assert(job_machine_node_sent(m2, 0));
        job_machine_free(&x.m);
        x.m = m2;
        ck_assert_int_eq(step(&x), 0);   /* restored: the gate now counts from 14000 */
        x.now = 18999;
        ck_assert_int_eq(step(&x), 0);
        ck_assert_int_eq(job_machine_node_state(x.m, 0), JOB_NODE_VERIFYING);
        x.now = 19000;
        ck_assert_int_eq(step(&x), 0);
        ck_assert_int_eq(job_machine_node_state(x.m, 0), JOB_NODE_FAILED);
        ck_assert_ptr_nonnull(strstr(job_machine_node_message(x.m, 0), "health gate"));
        ck_assert_int_eq(job_machine_state(x.m), JOB_PAUSED);   /* max_failures 0 */
        ck_assert_int_eq(job_machine_node_state(x.m, 1), JOB_NODE_PENDING);
        job_machine_free(&x.m);
}
END_TEST

/* The dry run assumes every gate passes: the same batches as without. */
START_TEST(test_health_gate_dry_run) {
        fx_t x;
        int batch[5];
        fx_init(&x, 5, 5, 5, 5, 0, true);
        x.cfg.min_healthy_time_ms = 1000;
        x.cfg.healthy_deadline_ms = 5000;
        fx_renew(&x);
        ck_assert_int_eq(job_machine_dry_run(x.m, &x.f, false, batch), 3);
        ck_assert_int_eq(batch[4], 3);
        job_machine_free(&x.m);
        ck_assert_int_eq(job_machine_new(&(job_config_t) { .n_nodes = 1, .n_universe = 1, .batch_size = 1,
                                                           .healthy_deadline_ms = -1 }, &x.m), -EINVAL);
}
END_TEST

/* Over random fleets (overlapping groups, random statuses, random
 * outcomes), no step ever takes a group over its budget: after each step,
 * a group's members down (by the fleet or running in the job) are at most
 * max(budget, members down before the job added any). Nodes IN_STEP
 * elsewhere never start. Every job ends. */
START_TEST(test_random_budget_never_exceeded) {
        unsigned seed = 17;
        for (int round = 0; round < 2000; round++) {
                fx_t x;
                memset(&x, 0, sizeof x);
                int u = 2 + rand_r(&seed) % (MAXU - 1), n = 1 + rand_r(&seed) % u;
                int ng = rand_r(&seed) % (MAXG + 1);
                for (int g = 0; g < ng; g++) {
                        int size = 1 + rand_r(&seed) % u, k = 0;
                        for (int i = 0; i < u && k < size; i++)
                                if (rand_r(&seed) % 2 || u - i <= size - k)
                                        x.members[g][k++] = i;
                        x.g[g] = (quorum_group_t) { .name = "g", .members = x.members[g], .n_members = (size_t) k,
                                                    .max_down = QUORUM_MAX_DOWN_DEFAULT };
                }
                for (int i = 0; i < u; i++) {
                        int r = rand_r(&seed) % 20;
                        x.st[i] = r < 14 ? NODE_STATUS_UP : r < 16 ? NODE_STATUS_UNHEALTHY : r < 17 ? NODE_STATUS_DRAINED
                                                                  : r < 19 ? NODE_STATUS_IN_STEP : NODE_STATUS_UNREACHABLE;
                }
                x.f = (quorum_fleet_t) { .groups = x.g, .n_groups = (size_t) ng, .status = x.st, .n_nodes = (size_t) u };
                x.cfg = (job_config_t) { .n_nodes = (size_t) n, .n_universe = (size_t) u,
                                         .batch_size = 1 + rand_r(&seed) % n, .max_failures = n, .disruptive = true };
                ck_assert_int_eq(job_machine_new(&x.cfg, &x.m), 0);
                for (int iter = 0; iter < 200 && job_machine_state(x.m) == JOB_RUNNING; iter++) {
                        int before[MAXG];
                        for (int g = 0; g < ng; g++) {
                                before[g] = 0;
                                for (size_t k = 0; k < x.g[g].n_members; k++) {
                                        int i = x.members[g][k];
                                        before[g] += x.st[i] != NODE_STATUS_UP ||
                                                     (i < n && job_machine_node_state(x.m, i) == JOB_NODE_RUNNING);
                                }
                        }
                        int started = step(&x);
                        for (int k = 0; k < started; k++)
                                ck_assert(x.st[x.start[k]] != NODE_STATUS_IN_STEP && x.st[x.start[k]] != NODE_STATUS_UNREACHABLE);
                        ck_assert_int_le(job_machine_count(x.m, JOB_NODE_RUNNING), (size_t) x.cfg.batch_size);
                        for (int g = 0; g < ng; g++) {
                                int sz = (int) x.g[g].n_members, budget = sz - (sz / 2 + 1), down = 0;
                                for (size_t k = 0; k < x.g[g].n_members; k++) {
                                        int i = x.members[g][k];
                                        down += x.st[i] != NODE_STATUS_UP ||
                                                (i < n && job_machine_node_state(x.m, i) == JOB_NODE_RUNNING);
                                }
                                ck_assert_int_le(down, before[g] > budget ? before[g] : budget);
                        }
                        /* Some running nodes end; some statuses change. */
                        for (int i = 0; i < n; i++)
                                if (job_machine_node_state(x.m, i) == JOB_NODE_RUNNING && rand_r(&seed) % 2)
                                        result(&x, i, rand_r(&seed) % 4 != 0);
                        int i = rand_r(&seed) % u;
                        x.st[i] = rand_r(&seed) % 3 ? NODE_STATUS_UP : NODE_STATUS_UNHEALTHY;
                }
                /* Once the fleet is all up and every result in, it ends. */
                for (int i = 0; i < u; i++)
                        x.st[i] = NODE_STATUS_UP;
                for (int iter = 0; iter < 4 * u && job_machine_state(x.m) == JOB_RUNNING; iter++) {
                        (void) step(&x);
                        for (int k = 0; k < n; k++)
                                if (job_machine_node_state(x.m, k) == JOB_NODE_RUNNING)
                                        result(&x, k, true);
                }
                (void) step(&x);
                /* Only members of a group that tolerates no member down
                 * (1 or 2 members) may wait for ever, and say why. */
                for (int i = 0; i < n; i++) {
                        if (job_machine_node_state(x.m, i) != JOB_NODE_PENDING)
                                continue;
                        bool zero = false;
                        for (int g = 0; g < ng; g++)
                                for (size_t k = 0; k < x.g[g].n_members; k++)
                                        zero |= x.members[g][k] == i && x.g[g].n_members <= 2;
                        ck_assert(zero);
                        ck_assert_ptr_nonnull(strstr(job_machine_node_message(x.m, i), "group g:"));
                }
                if (job_machine_count(x.m, JOB_NODE_PENDING) == 0)
                        ck_assert_int_eq(job_machine_state(x.m), JOB_DONE);
                job_machine_free(&x.m);
        }
}
END_TEST

int main(void) {
        Suite *s = suite_create("job_machine");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_bad_config);
        tcase_add_test(tc, test_quorum_window);
        tcase_add_test(tc, test_drain_stays_down);
        tcase_add_test(tc, test_barrier);
        tcase_add_test(tc, test_not_disruptive);
        tcase_add_test(tc, test_upgrade_nodes_wait);
        tcase_add_test(tc, test_failure_budget);
        tcase_add_test(tc, test_pause_abort_lost);
        tcase_add_test(tc, test_restore);
        tcase_add_test(tc, test_dry_run);
        tcase_add_test(tc, test_health_gate_holds_the_next_member);
        tcase_add_test(tc, test_health_gate_deadline_and_restore);
        tcase_add_test(tc, test_health_gate_dry_run);
        tcase_add_test(tc, test_random_budget_never_exceeded);
        suite_add_tcase(s, tc);

        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
