/* Upgrade machine: scripted scenarios, each step checked against the rules
 * written here (not by asking quorum.c). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/upgrade/upgrade_machine.h"

#define MAXN 8

typedef struct {
        plan_phase_t ph[2];
        upgrade_phase_config_t pc[2];
        int nodes[2][MAXN];
        quorum_group_t g;
        int members[MAXN];
        upgrade_config_t cfg;
        upgrade_machine_t *m;
        const upgrade_action_t *a;
        size_t na;
} fx_t;

static char *s_units[] = { "svc.service", NULL };

/* n nodes, one phase over all of them; group over the first g_n nodes. */
static void fx_init(fx_t *x, int n, int g_n, int batch) {
        memset(x, 0, sizeof(*x));
        x->ph[0] = (plan_phase_t) { .name = "p0", .min_healthy_time_ms = 1000,
                                    .healthy_deadline_ms = 5000, .restart = s_units,
                                    .on_failure = PLAN_ON_FAILURE_PAUSE };
        for (int i = 0; i < n; i++)
                x->nodes[0][i] = i;
        x->pc[0] = (upgrade_phase_config_t) { .params = &x->ph[0], .nodes = x->nodes[0],
                                              .n_nodes = (size_t) n, .batch_size = batch };
        for (int i = 0; i < g_n; i++)
                x->members[i] = i;
        x->g = (quorum_group_t) { .name = "db", .members = x->members, .n_members = (size_t) g_n,
                                  .max_down = QUORUM_MAX_DOWN_DEFAULT };
        x->cfg = (upgrade_config_t) { .n_nodes = (size_t) n, .groups = &x->g,
                                      .n_groups = g_n > 0 ? 1 : 0, .phases = x->pc, .n_phases = 1 };
}

static void fx_new(fx_t *x) {
        ck_assert_int_eq(upgrade_machine_new(&x->cfg, &x->m), 0);
}

static void fx_free(fx_t *x) {
        upgrade_machine_destroy(&x->m);
        ck_assert_ptr_null(x->m);
}

static void tick(fx_t *x, int64_t now) {
        ck_assert_int_eq(upgrade_machine_tick(x->m, now, &x->a, &x->na), 0);
}

/* The command id sent to node by the last event (cmd checked), or 0. */
static uint64_t sent(const fx_t *x, int node, upgrade_cmd_t cmd) {
        for (size_t k = 0; k < x->na; k++)
                if (x->a[k].kind == UPGRADE_ACT_SEND && x->a[k].node == node) {
                        ck_assert_str_eq(upgrade_cmd_name(x->a[k].cmd), upgrade_cmd_name(cmd));
                        ck_assert_int_eq(x->a[k].allow_downgrade, cmd == UPGRADE_CMD_ROLLBACK);
                        return x->a[k].cmd_id;
                }
        return 0;
}

static size_t count(const fx_t *x, upgrade_action_kind_t kind) {
        size_t c = 0;
        for (size_t k = 0; k < x->na; k++)
                c += x->a[k].kind == kind;
        return c;
}

static upgrade_step_t step(const fx_t *x, int node) {
        upgrade_node_status_t st;
        ck_assert_int_eq(upgrade_machine_node(x->m, node, &st), 0);
        return st.step;
}

static uint64_t cmd_of(const fx_t *x, int node) {
        upgrade_node_status_t st;
        ck_assert_int_eq(upgrade_machine_node(x->m, node, &st), 0);
        return st.cmd_id;
}

static void ok(fx_t *x, int node, int64_t now) {
        uint64_t id = cmd_of(x, node);
        ck_assert_uint_ne(id, 0);
        ck_assert_int_eq(upgrade_machine_on_result(x->m, now, node, id, UPGRADE_RESULT_SUCCEEDED,
                                                   true, true, NULL, &x->a, &x->na), 0);
}

static void nack(fx_t *x, int node, int64_t now, const char *err) {
        uint64_t id = cmd_of(x, node);
        ck_assert_uint_ne(id, 0);
        ck_assert_int_eq(upgrade_machine_on_result(x->m, now, node, id, UPGRADE_RESULT_FAILED,
                                                   false, false, err, &x->a, &x->na), 0);
}

static int in_step(const fx_t *x) {
        int c = 0;
        for (size_t i = 0; i < x->cfg.n_nodes; i++) {
                upgrade_step_t s = step(x, (int) i);
                c += s != UPGRADE_STEP_PENDING && s != UPGRADE_STEP_DONE &&
                     s != UPGRADE_STEP_ROLLED_BACK && s != UPGRADE_STEP_SKIPPED;
        }
        return c;
}

START_TEST(test_quorum_one_at_a_time) {
        fx_t x;
        fx_init(&x, 3, 3, 3);   /* batch 3 would allow all; quorum allows 1 */
        fx_new(&x);
        int64_t t = 0;
        tick(&x, t);
        for (int round = 0; round < 3; round++) {
                ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 1);
                ck_assert_int_eq(in_step(&x), 1);
                int node = -1;
                for (size_t k = 0; k < x.na; k++)
                        if (x.a[k].kind == UPGRADE_ACT_SEND)
                                node = x.a[k].node;
                ck_assert_uint_ne(sent(&x, node, UPGRADE_CMD_INSTALL), 0);
                /* the others wait on the group, with the reason */
                for (int i = 0; i < 3; i++) {
                        if (step(&x, i) != UPGRADE_STEP_PENDING)
                                continue;
                        char buf[160];
                        upgrade_machine_wait_reason(x.m, i, buf, sizeof(buf));
                        ck_assert_msg(strstr(buf, "group db") != NULL, "reason: %s", buf);
                }
                ok(&x, node, t += 10);
                ck_assert_uint_ne(sent(&x, node, UPGRADE_CMD_RESTART), 0);
                ok(&x, node, t += 10);
                ck_assert_int_eq(step(&x, node), UPGRADE_STEP_VERIFYING);
                ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);   /* still down: verifying */
                ck_assert_int_eq(upgrade_machine_next_due(x.m), t + 1000);
                tick(&x, t += 999);
                ck_assert_int_eq(step(&x, node), UPGRADE_STEP_VERIFYING);
                tick(&x, t += 1);
                ck_assert_int_eq(step(&x, node), UPGRADE_STEP_DONE);
                ck_assert_int_eq(count(&x, UPGRADE_ACT_NODE_DONE), 1);
        }
        ck_assert_int_eq(count(&x, UPGRADE_ACT_COMPLETE), 1);
        upgrade_conditions_t c;
        upgrade_machine_conditions(x.m, &c);
        ck_assert(c.complete.status);
        ck_assert(!c.upgrading.status);
        ck_assert_str_eq(c.upgrading.message, "3/3 nodes");
        ck_assert(!c.error.status);
        fx_free(&x);
}
END_TEST

START_TEST(test_unhealthy_member_blocks_group) {
        fx_t x;
        fx_init(&x, 4, 3, 4);   /* node 3 in no group */
        fx_new(&x);
        ck_assert_int_eq(upgrade_machine_on_health(x.m, 0, 1, false, &x.a, &x.na), 0);
        /* group spent by node 1: only node 3 may start */
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 1);
        ck_assert_uint_ne(sent(&x, 3, UPGRADE_CMD_INSTALL), 0);
        char buf[160];
        upgrade_machine_wait_reason(x.m, 0, buf, sizeof(buf));
        ck_assert_msg(strstr(buf, "unhealthy") != NULL, "%s", buf);
        fx_free(&x);
}
END_TEST

START_TEST(test_install_failure_pauses) {
        fx_t x;
        fx_init(&x, 3, 0, 1);
        fx_new(&x);
        tick(&x, 0);
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_INSTALL), 0);
        nack(&x, 0, 10, "dpkg-lock: could not get lock");
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_FAILED);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_PAUSED), 1);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        upgrade_conditions_t c;
        upgrade_machine_conditions(x.m, &c);
        ck_assert(c.paused);
        ck_assert(c.error.status);
        /* the Error names the node, its step and the agent's error, and
         * that it tripped the budget */
        ck_assert_str_eq(c.error.reason, "FailureBudget");
        ck_assert_msg(strstr(c.error.message, "installing") && strstr(c.error.message, "dpkg-lock") &&
                              strstr(c.error.message, "failure budget"),
                      "error: %s", c.error.message);
        upgrade_node_status_t named;
        ck_assert_int_eq(upgrade_machine_node(x.m, 0, &named), 0);
        ck_assert_ptr_nonnull(strstr(c.error.message, named.error));
        tick(&x, 100000);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        ck_assert_int_eq(step(&x, 1), UPGRADE_STEP_PENDING);
        /* the node's error names the step and the agent's error */
        upgrade_node_status_t st;
        upgrade_machine_node(x.m, 0, &st);
        ck_assert_ptr_nonnull(strstr(st.error, "installing"));
        ck_assert_ptr_nonnull(strstr(st.error, "dpkg-lock"));
        char buf[200];
        upgrade_machine_wait_reason(x.m, 1, buf, sizeof(buf));
        ck_assert_ptr_nonnull(strstr(buf, "paused: failure budget"));
        /* resume forgives the failure; the next node starts */
        ck_assert_int_eq(upgrade_machine_admin(x.m, 100001, UPGRADE_ADMIN_RESUME, 0, &x.a, &x.na), 0);
        ck_assert_uint_ne(sent(&x, 1, UPGRADE_CMD_INSTALL), 0);
        fx_free(&x);
}
END_TEST

START_TEST(test_failure_within_budget_continues) {
        fx_t x;
        fx_init(&x, 3, 0, 1);
        x.pc[0].max_failures = 1;
        fx_new(&x);
        tick(&x, 0);
        nack(&x, 0, 10, "boom");
        ck_assert_int_eq(count(&x, UPGRADE_ACT_PAUSED), 0);
        ck_assert_uint_ne(sent(&x, 1, UPGRADE_CMD_INSTALL), 0);
        nack(&x, 1, 20, "boom");
        ck_assert_int_eq(count(&x, UPGRADE_ACT_PAUSED), 1);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        fx_free(&x);
}
END_TEST

START_TEST(test_rollback_node_policy) {
        fx_t x;
        fx_init(&x, 2, 0, 1);
        x.ph[0].on_failure = PLAN_ON_FAILURE_ROLLBACK_NODE;
        fx_new(&x);
        tick(&x, 0);
        ok(&x, 0, 10);
        nack(&x, 0, 20, "unit failed");   /* restart fails */
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_ROLLBACK), 0);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_ROLLING_BACK);
        ok(&x, 0, 30);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_ROLLED_BACK);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_NODE_ROLLED_BACK), 1);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);   /* paused: budget 0 */
        fx_free(&x);
}
END_TEST

START_TEST(test_admin_rollback_done_node_respects_quorum) {
        fx_t x;
        fx_init(&x, 3, 3, 1);
        fx_new(&x);
        int64_t t = 0;
        tick(&x, t);
        ok(&x, 0, t += 1);
        ok(&x, 0, t += 1);
        tick(&x, t += 1000);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_DONE);
        ck_assert_uint_ne(sent(&x, 1, UPGRADE_CMD_INSTALL), 0);
        /* node 1 is in step: rolling back node 0 would take a second member down */
        ck_assert_int_eq(upgrade_machine_admin(x.m, t += 1, UPGRADE_ADMIN_ROLLBACK_NODE, 0, &x.a, &x.na), 0);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        char buf[160];
        upgrade_machine_wait_reason(x.m, 0, buf, sizeof(buf));
        ck_assert_msg(strstr(buf, "group db") != NULL, "%s", buf);
        ok(&x, 1, t += 1);
        ok(&x, 1, t += 1);
        tick(&x, t += 1000);
        ck_assert_int_eq(step(&x, 1), UPGRADE_STEP_DONE);
        /* node 1 done: the rollback of node 0 goes before node 2's upgrade */
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_ROLLBACK), 0);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 1);
        ok(&x, 0, t += 1);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_ROLLED_BACK);
        ck_assert_uint_ne(sent(&x, 2, UPGRADE_CMD_INSTALL), 0);
        fx_free(&x);
}
END_TEST

START_TEST(test_rollback_phase) {
        fx_t x;
        fx_init(&x, 4, 0, 2);
        fx_new(&x);
        tick(&x, 0);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 2);
        ck_assert_int_eq(upgrade_machine_admin(x.m, 1, UPGRADE_ADMIN_ROLLBACK_PHASE, 0, &x.a, &x.na), 0);
        ck_assert_int_eq(step(&x, 2), UPGRADE_STEP_SKIPPED);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);    /* installs in flight finish first */
        ok(&x, 0, 2);
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_ROLLBACK), 0);
        ck_assert_int_eq(upgrade_machine_admin(x.m, 3, UPGRADE_ADMIN_ROLLBACK_PHASE, 7, &x.a, &x.na), -EINVAL);
        fx_free(&x);
}
END_TEST

START_TEST(test_health_gate_flapping) {
        fx_t x;
        fx_init(&x, 1, 0, 1);
        fx_new(&x);
        int64_t t = 0;
        tick(&x, t);
        ok(&x, 0, t = 10);
        ok(&x, 0, t = 20);            /* verifying from 20, healthy */
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_VERIFYING);
        upgrade_machine_on_health(x.m, 520, 0, false, &x.a, &x.na);
        tick(&x, 1100);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_VERIFYING);   /* flapped before 1000 ms */
        upgrade_machine_on_health(x.m, 1300, 0, true, &x.a, &x.na);
        tick(&x, 2299);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_VERIFYING);
        tick(&x, 2300);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_DONE);
        fx_free(&x);
}
END_TEST

START_TEST(test_health_gate_deadline) {
        fx_t x;
        fx_init(&x, 1, 0, 1);
        fx_new(&x);
        tick(&x, 0);
        ok(&x, 0, 10);
        ck_assert_int_eq(upgrade_machine_on_result(x.m, 20, 0, cmd_of(&x, 0), UPGRADE_RESULT_SUCCEEDED,
                                                   true, false, NULL, &x.a, &x.na), 0);
        ck_assert_int_eq(upgrade_machine_next_due(x.m), 5020);
        /* healthy at 4500: 1000 ms would end after the deadline (5020) */
        upgrade_machine_on_health(x.m, 4500, 0, true, &x.a, &x.na);
        tick(&x, 5019);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_VERIFYING);
        tick(&x, 5020);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_FAILED);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_NODE_DONE), 0);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_NODE_FAILED), 1);
        tick(&x, 999999);
        ck_assert_int_ne(step(&x, 0), UPGRADE_STEP_DONE);
        fx_free(&x);
}
END_TEST

START_TEST(test_canary_waits_for_promote) {
        fx_t x;
        fx_init(&x, 4, 0, 2);
        x.ph[0].canary = 1;
        x.ph[0].restart = NULL;
        fx_new(&x);
        tick(&x, 0);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 1);
        ok(&x, 0, 10);
        tick(&x, 1010);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_DONE);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_PROMOTE_WAIT), 1);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        tick(&x, 99999);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        char buf[64];
        upgrade_machine_wait_reason(x.m, 1, buf, sizeof(buf));
        ck_assert_str_eq(buf, "waiting for promote");
        upgrade_conditions_t c;
        upgrade_machine_conditions(x.m, &c);
        ck_assert(c.promote_pending);
        ck_assert_int_eq(upgrade_machine_admin(x.m, 100000, UPGRADE_ADMIN_PROMOTE, 0, &x.a, &x.na), 0);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 2);
        ck_assert_int_eq(upgrade_machine_admin(x.m, 100001, UPGRADE_ADMIN_PROMOTE, 0, &x.a, &x.na), -EALREADY);
        fx_free(&x);
}
END_TEST

START_TEST(test_canary_auto_promote) {
        fx_t x;
        fx_init(&x, 3, 0, 2);
        x.ph[0].canary = 1;
        x.ph[0].auto_promote = true;
        x.ph[0].restart = NULL;
        fx_new(&x);
        tick(&x, 0);
        ok(&x, 0, 10);
        tick(&x, 1010);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 2);
        fx_free(&x);
}
END_TEST

START_TEST(test_pause_resume) {
        fx_t x;
        fx_init(&x, 2, 0, 1);
        x.ph[0].restart = NULL;
        x.ph[0].drain = true;
        fx_new(&x);
        tick(&x, 0);
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_DRAIN), 0);
        upgrade_machine_admin(x.m, 1, UPGRADE_ADMIN_PAUSE, 0, &x.a, &x.na);
        ok(&x, 0, 2);   /* a node in its sequence goes on */
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_INSTALL), 0);
        ok(&x, 0, 3);
        tick(&x, 1003);
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_UNDRAIN), 0);
        ok(&x, 0, 1004);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_DONE);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);   /* paused: node 1 waits */
        ck_assert_int_eq(upgrade_machine_admin(x.m, 2000, UPGRADE_ADMIN_RESUME, 0, &x.a, &x.na), 0);
        ck_assert_uint_ne(sent(&x, 1, UPGRADE_CMD_DRAIN), 0);
        fx_free(&x);
}
END_TEST

START_TEST(test_abort) {
        fx_t x;
        fx_init(&x, 3, 0, 1);
        fx_new(&x);
        tick(&x, 0);
        upgrade_machine_admin(x.m, 1, UPGRADE_ADMIN_ABORT, 0, &x.a, &x.na);
        ok(&x, 0, 2);   /* install finishes and is reported; restart never sent */
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        upgrade_node_status_t st;
        upgrade_machine_node(x.m, 0, &st);
        ck_assert(st.halted);
        ck_assert_int_eq(st.step, UPGRADE_STEP_INSTALLING);
        char buf[64];
        upgrade_machine_wait_reason(x.m, 0, buf, sizeof(buf));
        ck_assert_str_eq(buf, "aborted after installing");
        tick(&x, 99999);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        ck_assert_int_eq(upgrade_machine_admin(x.m, 100000, UPGRADE_ADMIN_RESUME, 0, &x.a, &x.na), -EPERM);
        upgrade_conditions_t c;
        upgrade_machine_conditions(x.m, &c);
        ck_assert(c.aborted);
        ck_assert(!c.upgrading.status);
        /* a rollback is still possible */
        upgrade_machine_admin(x.m, 100001, UPGRADE_ADMIN_ROLLBACK_NODE, 0, &x.a, &x.na);
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_ROLLBACK), 0);
        fx_free(&x);
}
END_TEST

/* A node whose undrain is in flight when the upgrade is aborted is done
 * once the undrain succeeds: nothing more needs sending. */
START_TEST(test_abort_during_undrain_finishes_the_node) {
        fx_t x;
        int64_t t = 0;
        fx_init(&x, 2, 0, 1);
        x.ph[0].drain = true;
        fx_new(&x);
        tick(&x, t);
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_DRAIN), 0);
        ok(&x, 0, t += 10);   /* drain */
        ok(&x, 0, t += 10);   /* install */
        ok(&x, 0, t += 10);   /* restart: verifying, healthy */
        tick(&x, t += 1000);
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_UNDRAIN), 0);
        upgrade_machine_admin(x.m, t += 1, UPGRADE_ADMIN_ABORT, 0, &x.a, &x.na);
        ok(&x, 0, t += 10);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_DONE);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_NODE_DONE), 1);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        ck_assert_int_eq(step(&x, 1), UPGRADE_STEP_PENDING);
        fx_free(&x);
}
END_TEST

START_TEST(test_unreachable_mid_step) {
        fx_t x;
        fx_init(&x, 2, 0, 1);
        x.pc[0].max_failures = 1;
        fx_new(&x);
        tick(&x, 0);
        ok(&x, 0, 10);
        uint64_t restart_id = cmd_of(&x, 0);
        upgrade_machine_on_reachable(x.m, 20, 0, false, &x.a, &x.na);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_FAILED);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_NODE_FAILED), 1);
        /* the late result is stale: never counted, the node is never done */
        upgrade_machine_on_reachable(x.m, 30, 0, true, &x.a, &x.na);
        ck_assert_int_eq(upgrade_machine_on_result(x.m, 40, 0, restart_id, UPGRADE_RESULT_SUCCEEDED,
                                                   true, true, NULL, &x.a, &x.na), 0);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_STALE_RESULT), 1);
        tick(&x, 99999);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_FAILED);
        fx_free(&x);
}
END_TEST

START_TEST(test_unreachable_pending_counts_as_failure) {
        fx_t x;
        fx_init(&x, 3, 0, 1);
        fx_new(&x);
        upgrade_machine_on_reachable(x.m, 0, 2, false, &x.a, &x.na);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_PAUSED), 1);
        fx_free(&x);
}
END_TEST

/* Two phases: nodes 0-1 (p0, batch 1), nodes 2-4 (p1, batch 2); no group. */
static void fx_init_two_phases(fx_t *x) {
        fx_init(x, 5, 0, 1);
        x->pc[0].n_nodes = 2;
        x->ph[1] = x->ph[0];
        x->ph[1].name = "p1";
        for (int i = 0; i < 3; i++)
                x->nodes[1][i] = 2 + i;
        x->pc[1] = (upgrade_phase_config_t) { .params = &x->ph[1], .nodes = x->nodes[1], .n_nodes = 3,
                                              .batch_size = 2 };
        x->cfg.n_phases = 2;
}

/* Drives every node in a step to done (results succeed, health gates pass). */
static void finish_all(fx_t *x, int64_t *t) {
        for (int guard = 0; guard < 100; guard++) {
                bool busy = false;
                for (size_t i = 0; i < x->cfg.n_nodes; i++) {
                        upgrade_step_t st = step(x, (int) i);
                        if (st == UPGRADE_STEP_VERIFYING) {
                                busy = true;
                        } else if (cmd_of(x, (int) i)) {
                                ok(x, (int) i, *t += 10);
                                busy = true;
                        }
                }
                tick(x, *t += 1000);
                if (!busy && count(x, UPGRADE_ACT_SEND) == 0)
                        return;
        }
        ck_abort_msg("the upgrade did not settle");
}

static int rolling_back(const fx_t *x, int from, int to) {
        int c = 0;
        for (int i = from; i <= to; i++)
                c += step(x, i) == UPGRADE_STEP_ROLLING_BACK;
        return c;
}

START_TEST(test_rollback_all_reverse_phase_order_in_batches) {
        fx_t x;
        char why[160];
        int64_t t = 0;
        fx_init_two_phases(&x);
        fx_new(&x);
        tick(&x, t);
        finish_all(&x, &t);
        for (int i = 0; i < 5; i++)
                ck_assert_int_eq(step(&x, i), UPGRADE_STEP_DONE);

        ck_assert_int_eq(upgrade_machine_admin(x.m, t += 10, UPGRADE_ADMIN_ROLLBACK_ALL, 0, &x.a, &x.na), 0);
        /* the last phase first, batch_size (2) at a time */
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 2);
        ck_assert_int_eq(rolling_back(&x, 2, 4), 2);
        ck_assert_int_eq(rolling_back(&x, 0, 1), 0);
        int waiting = step(&x, 4) == UPGRADE_STEP_ROLLING_BACK ? 3 : 4;
        upgrade_machine_wait_reason(x.m, waiting, why, sizeof why);
        ck_assert_str_eq(why, "rollback waits: a batch of its phase is rolling back");
        upgrade_machine_wait_reason(x.m, 0, why, sizeof why);
        ck_assert_str_eq(why, "rollback waits: a later phase rolls back first");
        for (int i = 2; i <= 4; i++)
                if (i != waiting)
                        ok(&x, i, t += 10);
        ck_assert_int_eq(rolling_back(&x, 0, 1), 0);   /* p1 is not finished */
        ck_assert_int_eq(step(&x, waiting), UPGRADE_STEP_ROLLING_BACK);
        ok(&x, waiting, t += 10);
        /* now p0, one at a time */
        ck_assert_int_eq(rolling_back(&x, 0, 1), 1);
        int first = step(&x, 0) == UPGRADE_STEP_ROLLING_BACK ? 0 : 1;
        ok(&x, first, t += 10);
        ck_assert_int_eq(step(&x, 1 - first), UPGRADE_STEP_ROLLING_BACK);
        ok(&x, 1 - first, t += 10);
        for (int i = 0; i < 5; i++)
                ck_assert_int_eq(step(&x, i), UPGRADE_STEP_ROLLED_BACK);
        fx_free(&x);
}
END_TEST

/* Reports applied together: the machine never decides on half of them. A
 * group of 3 (max_down 1) with node 0 in a step; node 1 goes unhealthy and
 * node 0 unreachable in one report: node 0 fails, and nothing else starts
 * (2 of 3 down). */
START_TEST(test_node_reports_applied_together) {
        fx_t x;
        fx_init(&x, 3, 3, 1);
        fx_new(&x);
        tick(&x, 0);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 1);
        int busy = cmd_of(&x, 0) ? 0 : cmd_of(&x, 1) ? 1 : 2;
        int other = (busy + 1) % 3;
        upgrade_node_report_t r[2] = {
                { .node = other, .registered = true, .reachable = true, .healthy = false },
                { .node = busy, .registered = true, .reachable = false, .healthy = false },
        };
        ck_assert_int_eq(upgrade_machine_on_nodes(x.m, 10, r, 2, &x.a, &x.na), 0);
        ck_assert_int_eq(step(&x, busy), UPGRADE_STEP_FAILED);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_NODE_FAILED), 1);
        upgrade_node_report_t bad = { .node = 7 };
        ck_assert_int_eq(upgrade_machine_on_nodes(x.m, 11, &bad, 1, &x.a, &x.na), -EINVAL);
        fx_free(&x);
}
END_TEST

static void export_eq(upgrade_machine_t *a, upgrade_machine_t *b) {
        upgrade_record_t *ra, *rb;
        size_t na, nb;
        ck_assert_int_eq(upgrade_machine_export(a, &ra, &na), 0);
        ck_assert_int_eq(upgrade_machine_export(b, &rb, &nb), 0);
        ck_assert_uint_eq(na, nb);
        ck_assert(memcmp(ra, rb, na * sizeof(*ra)) == 0);
        free(ra);
        free(rb);
}

/* x's machine exported (*ret_r, *ret_n: the records, freed by the caller)
 * and imported again: the copy exports the same records. */
static upgrade_machine_t *reimported(fx_t *x, upgrade_record_t **ret_r, size_t *ret_n) {
        upgrade_machine_t *m2;
        ck_assert_int_eq(upgrade_machine_export(x->m, ret_r, ret_n), 0);
        ck_assert_int_eq(upgrade_machine_import(&x->cfg, *ret_r, *ret_n, &m2), 0);
        export_eq(x->m, m2);
        return m2;
}

/* ---- pre and post steps ------------------------------------------------ */

static plan_step_t s_pre[] = { { .kind = PLAN_STEP_TASK, .task = "handover" },
                               { .kind = PLAN_STEP_TASK, .task = "ready" } };
static plan_step_t s_post[] = { { .kind = PLAN_STEP_START, .units = s_units } };

static void fx_steps(fx_t *x) {
        x->ph[0].steps[PLAN_STAGE_PRE] = (plan_steps_t) { s_pre, 2 };
        x->ph[0].steps[PLAN_STAGE_POST] = (plan_steps_t) { s_post, 1 };
}

static int sent_step_index(const fx_t *x, int node) {
        for (size_t k = 0; k < x->na; k++)
                if (x->a[k].kind == UPGRADE_ACT_SEND && x->a[k].node == node)
                        return x->a[k].step_index;
        return -1;
}

/* pre steps in order before the drain, post steps after the health gate
 * and before the undrain; each its own command. */
START_TEST(test_pre_post_steps_in_order) {
        fx_t x;
        fx_init(&x, 1, 0, 1);
        x.ph[0].drain = true;
        fx_steps(&x);
        fx_new(&x);
        int64_t t = 0;
        tick(&x, t);
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_STEP), 0);
        ck_assert_int_eq(sent_step_index(&x, 0), 0);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_PRE);
        ck_assert_str_eq(upgrade_step_name(step(&x, 0)), "pre");
        ok(&x, 0, t += 10);
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_STEP), 0);
        ck_assert_int_eq(sent_step_index(&x, 0), 1);
        upgrade_node_status_t st;
        ck_assert_int_eq(upgrade_machine_node(x.m, 0, &st), 0);
        ck_assert_int_eq(st.step_index, 1);
        ok(&x, 0, t += 10);
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_DRAIN), 0);
        ok(&x, 0, t += 10);
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_INSTALL), 0);
        ok(&x, 0, t += 10);
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_RESTART), 0);
        ok(&x, 0, t += 10);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_VERIFYING);
        tick(&x, t += 1000);
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_STEP), 0);
        ck_assert_int_eq(sent_step_index(&x, 0), 0);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_POST);
        ok(&x, 0, t += 10);
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_UNDRAIN), 0);
        ok(&x, 0, t += 10);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_DONE);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_COMPLETE), 1);
        fx_free(&x);
}
END_TEST

/* A failed pre step fails the node: nothing after it runs, the node is
 * down for its group until rolled back. */
START_TEST(test_failed_pre_step_fails_node) {
        fx_t x;
        fx_init(&x, 3, 3, 1);
        fx_steps(&x);
        fx_new(&x);
        tick(&x, 0);
        int node = -1;
        for (int i = 0; i < 3; i++)
                if (step(&x, i) == UPGRADE_STEP_PRE)
                        node = i;
        ck_assert_int_ge(node, 0);
        nack(&x, node, 10, "task-failed: not ready");
        ck_assert_int_eq(step(&x, node), UPGRADE_STEP_FAILED);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_NODE_FAILED), 1);
        for (size_t k = 0; k < x.na; k++)
                if (x.a[k].kind == UPGRADE_ACT_NODE_FAILED)
                        ck_assert_msg(strstr(x.a[k].message, "failed in pre"), "%s", x.a[k].message);
        fx_free(&x);
}
END_TEST

/* The step index survives export and import (a coordinator restart
 * mid-step goes on with the next step, not the first). */
START_TEST(test_step_index_persisted) {
        fx_t x;
        fx_init(&x, 1, 0, 1);
        fx_steps(&x);
        fx_new(&x);
        tick(&x, 0);
        ok(&x, 0, 10);
        ck_assert_int_eq(sent_step_index(&x, 0), 1);
        upgrade_record_t *r;
        size_t n;
        upgrade_machine_t *m2 = reimported(&x, &r, &n);
        upgrade_node_status_t st;
        ck_assert_int_eq(upgrade_machine_node(m2, 0, &st), 0);
        ck_assert_int_eq(st.step, UPGRADE_STEP_PRE);
        ck_assert_int_eq(st.step_index, 1);
        /* its result moves on to the drain-less install */
        ck_assert_int_eq(upgrade_machine_on_result(m2, 20, 0, st.cmd_id, UPGRADE_RESULT_SUCCEEDED, true, true, NULL,
                                                   &x.a, &x.na), 0);
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_INSTALL), 0);
        free(r);
        upgrade_machine_destroy(&m2);
        fx_free(&x);
}
END_TEST

/* ---- a phase's own steps: before, after, wait_for ------------------------ */

static plan_step_t s_before[] = { { .kind = PLAN_STEP_TASK, .task = "issu-run-sync", .node = "n3" } };
static plan_step_t s_after[] = { { .kind = PLAN_STEP_STOP, .units = s_units, .node = "n3" } };
static plan_step_t s_gates[] = { { .kind = PLAN_STEP_TASK, .task = "issu-in-sync", .node = "n3",
                                   .deadline_ms = 5000, .interval_ms = 1000 } };
static const int s_on_n3[] = { 3 };

/* Nodes 0 and 1 in the phase (batch 2); node 3, in no phase, runs one
 * before step, one after step and one gate. */
static void fx_phase_steps(fx_t *x) {
        fx_init(x, 4, 0, 2);
        x->pc[0].n_nodes = 2;
        x->ph[0].steps[PLAN_STAGE_BEFORE] = (plan_steps_t) { s_before, 1 };
        x->ph[0].steps[PLAN_STAGE_AFTER] = (plan_steps_t) { s_after, 1 };
        x->ph[0].steps[PLAN_STAGE_WAIT_FOR] = (plan_steps_t) { s_gates, 1 };
        for (int st = PLAN_STAGE_BEFORE; st < PLAN_STAGE__COUNT; st++)
                if (st != PLAN_STAGE_PRE && st != PLAN_STAGE_POST) {
                        x->pc[0].step_nodes[st] = s_on_n3;
                        x->pc[0].n_steps[st] = 1;
                }
}

/* The phase step sent to node 3 by the last event: its stage, or -1. */
static int sent_stage(const fx_t *x) {
        for (size_t k = 0; k < x->na; k++)
                if (x->a[k].kind == UPGRADE_ACT_SEND && x->a[k].node == 3) {
                        ck_assert_int_eq(x->a[k].cmd, UPGRADE_CMD_STEP);
                        ck_assert_int_eq(x->a[k].step_index, 0);
                        ck_assert_int_eq(x->a[k].phase, 0);
                        return (int) x->a[k].stage;
                }
        return -1;
}

/* Nodes 0 and 1 through their sequence (install, restart, health gate). */
static void fx_upgrade_both(fx_t *x, int64_t *t) {
        ck_assert_uint_ne(sent(x, 0, UPGRADE_CMD_INSTALL), 0);
        ck_assert_uint_ne(sent(x, 1, UPGRADE_CMD_INSTALL), 0);
        ok(x, 0, *t += 10);
        ok(x, 1, *t += 10);
        ok(x, 0, *t += 10);
        ok(x, 1, *t += 10);
        tick(x, *t += 1000);
        ck_assert_int_eq(step(x, 0), UPGRADE_STEP_DONE);
        ck_assert_int_eq(step(x, 1), UPGRADE_STEP_DONE);
}

static void fx_phase_wait(const fx_t *x, const char *want) {
        char buf[256];
        upgrade_machine_phase_wait(x->m, 0, buf, sizeof buf);
        ck_assert_msg(strstr(buf, want) != NULL, "phase wait: %s (want %s)", buf, want);
}

/* before, then the nodes, then after, then the gate (tried again after a
 * failed try, every interval), then complete. */
START_TEST(test_phase_steps_in_order) {
        fx_t x;
        fx_phase_steps(&x);
        fx_new(&x);
        int64_t t = 0;
        tick(&x, t);
        ck_assert_int_eq(sent_stage(&x), PLAN_STAGE_BEFORE);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 1);   /* no node starts before it */
        upgrade_node_status_t st;
        ck_assert_int_eq(upgrade_machine_node(x.m, 3, &st), 0);
        ck_assert_int_eq(st.cmd, UPGRADE_CMD_STEP);
        ck_assert_int_eq(st.stage, PLAN_STAGE_BEFORE);
        ck_assert_int_eq(st.step, UPGRADE_STEP_SKIPPED);
        char buf[256];
        upgrade_machine_wait_reason(x.m, 0, buf, sizeof buf);
        ck_assert_msg(strstr(buf, "the phase's steps come first: before step 1/1 (task issu-run-sync on node3) runs"),
                      "%s", buf);
        tick(&x, t += 100);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        ok(&x, 3, t += 10);
        ck_assert_uint_eq(cmd_of(&x, 3), 0);
        fx_upgrade_both(&x, &t);
        ck_assert_int_eq(sent_stage(&x), PLAN_STAGE_AFTER);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_COMPLETE), 0);
        ok(&x, 3, t += 10);
        ck_assert_int_eq(sent_stage(&x), PLAN_STAGE_WAIT_FOR);
        nack(&x, 3, t += 10, "task-failed: 3 of 40 tables behind");
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_PAUSED), 0);   /* within its deadline: tried again */
        ck_assert_int_eq(upgrade_machine_next_due(x.m), t + 1000);
        fx_phase_wait(&x, "not passed yet (attempt 1: task-failed: 3 of 40 tables behind)");
        tick(&x, t += 999);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        tick(&x, t += 1);
        ck_assert_int_eq(sent_stage(&x), PLAN_STAGE_WAIT_FOR);
        ok(&x, 3, t += 10);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_COMPLETE), 1);
        upgrade_phase_status_t ps;
        ck_assert_int_eq(upgrade_machine_phase(x.m, 0, &ps), 0);
        ck_assert_int_eq(ps.stage, UPGRADE_PHASE_GATES);
        ck_assert_int_eq(ps.step_index, 1);
        fx_free(&x);
}
END_TEST

/* A phase whose nodes are all current (the ISSU's sync phase: the new
 * controllers run the new version already) still runs its steps: before,
 * after and its gate, in order, then the next phase. */
START_TEST(test_phase_without_nodes_runs_its_steps) {
        fx_t x;
        fx_phase_steps(&x);
        x.pc[0].n_nodes = 0;
        fx_new(&x);
        int64_t t = 0;
        tick(&x, t);
        ck_assert_int_eq(sent_stage(&x), PLAN_STAGE_BEFORE);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 1);
        ok(&x, 3, t += 10);
        ck_assert_int_eq(sent_stage(&x), PLAN_STAGE_AFTER);
        ok(&x, 3, t += 10);
        ck_assert_int_eq(sent_stage(&x), PLAN_STAGE_WAIT_FOR);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_COMPLETE), 0);
        ok(&x, 3, t += 10);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_COMPLETE), 1);
        for (int i = 0; i < 2; i++)
                ck_assert_int_eq(step(&x, i), UPGRADE_STEP_SKIPPED);
        fx_free(&x);
}
END_TEST

/* A gate not passed by its deadline fails: Error StepFailed, paused, the
 * phase never finishes; resume tries it again with a new deadline. */
START_TEST(test_gate_deadline_fails_and_resume_retries) {
        fx_t x;
        fx_phase_steps(&x);
        x.ph[0].steps[PLAN_STAGE_AFTER].n = 0;
        x.pc[0].n_steps[PLAN_STAGE_AFTER] = 0;
        fx_new(&x);
        int64_t t = 0;
        tick(&x, t);
        ok(&x, 3, t += 10);
        fx_upgrade_both(&x, &t);
        ck_assert_int_eq(sent_stage(&x), PLAN_STAGE_WAIT_FOR);
        int64_t first = t;
        int tries = 1;
        for (;;) {
                nack(&x, 3, t += 10, "behind");
                if (count(&x, UPGRADE_ACT_PAUSED))
                        break;
                int64_t due = upgrade_machine_next_due(x.m);
                ck_assert_int_le(due, first + 5000);
                tick(&x, t = due);
                if (count(&x, UPGRADE_ACT_PAUSED))
                        break;
                ck_assert_int_eq(sent_stage(&x), PLAN_STAGE_WAIT_FOR);
                tries++;
        }
        ck_assert_int_ge(t, first + 5000);
        ck_assert_int_eq(tries, 5);   /* at 0, 1, 2, 3 and 4 s after its first try */
        upgrade_conditions_t c;
        upgrade_machine_conditions(x.m, &c);
        ck_assert(c.paused);
        ck_assert(c.error.status);
        ck_assert_str_eq(c.error.reason, "StepFailed");
        ck_assert_msg(strstr(c.error.message, "phase p0: wait_for step 1/1 (task issu-in-sync on node3) failed: "
                                              "not passed within 5000 ms (5 attempts; the last: behind)"),
                      "%s", c.error.message);
        ck_assert(!c.complete.status);
        tick(&x, t += 60000);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        fx_phase_wait(&x, "failed; resume runs it again");
        ck_assert_int_eq(upgrade_machine_admin(x.m, t, UPGRADE_ADMIN_RESUME, 0, &x.a, &x.na), 0);
        ck_assert_int_eq(sent_stage(&x), PLAN_STAGE_WAIT_FOR);
        ok(&x, 3, t += 10);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_COMPLETE), 1);
        fx_free(&x);
}
END_TEST

/* A phase step starts only on a reachable node, within its groups'
 * budget, and holds the budget while it runs. */
START_TEST(test_phase_step_waits_for_its_node_and_quorum) {
        fx_t x;
        fx_phase_steps(&x);
        int members[] = { 2, 3, 0 };
        x.g = (quorum_group_t) { .name = "ctrl", .members = members, .n_members = 3, .max_down = 1 };
        x.cfg.groups = &x.g;
        x.cfg.n_groups = 1;
        fx_new(&x);
        upgrade_node_report_t r[2] = { { .node = 3, .registered = true, .reachable = false, .healthy = true },
                                       { .node = 2, .registered = true, .reachable = true, .healthy = false } };
        ck_assert_int_eq(upgrade_machine_on_nodes(x.m, 0, r, 1, &x.a, &x.na), 0);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        fx_phase_wait(&x, "waits: its node is unreachable");
        r[0].reachable = true;
        ck_assert_int_eq(upgrade_machine_on_nodes(x.m, 10, r, 2, &x.a, &x.na), 0);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);   /* node 2 down: node 3 would be the second */
        fx_phase_wait(&x, "waits: group ctrl");
        ck_assert_int_eq(upgrade_machine_on_health(x.m, 20, 2, true, &x.a, &x.na), 0);
        ck_assert_int_eq(sent_stage(&x), PLAN_STAGE_BEFORE);
        ck_assert_int_eq(upgrade_machine_group_down(x.m, 0), 1);   /* node 3, in its step */
        ok(&x, 3, 30);
        /* node 0 (a member) starts once node 3's step is over */
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_INSTALL), 0);
        ck_assert_int_eq(upgrade_machine_group_down(x.m, 0), 1);
        fx_free(&x);
}
END_TEST

/* Its node lost while a before step runs: the step fails and pauses; its
 * late result is stale; resume runs it again, under a new id. */
START_TEST(test_phase_step_lost_node_fails_it) {
        fx_t x;
        fx_phase_steps(&x);
        fx_new(&x);
        tick(&x, 0);
        uint64_t id = cmd_of(&x, 3);
        ck_assert_uint_ne(id, 0);
        ck_assert_int_eq(upgrade_machine_on_reachable(x.m, 10, 3, false, &x.a, &x.na), 0);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_PAUSED), 1);
        upgrade_conditions_t c;
        upgrade_machine_conditions(x.m, &c);
        ck_assert_str_eq(c.error.reason, "StepFailed");
        ck_assert_msg(strstr(c.error.message, "agent unreachable during the step"), "%s", c.error.message);
        ck_assert_int_eq(upgrade_machine_on_reachable(x.m, 20, 3, true, &x.a, &x.na), 0);
        ck_assert_int_eq(upgrade_machine_on_result(x.m, 30, 3, id, UPGRADE_RESULT_SUCCEEDED, true, true, NULL,
                                                   &x.a, &x.na), 0);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_STALE_RESULT), 1);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_PENDING);
        ck_assert_int_eq(upgrade_machine_admin(x.m, 40, UPGRADE_ADMIN_RESUME, 0, &x.a, &x.na), 0);
        ck_assert_int_eq(sent_stage(&x), PLAN_STAGE_BEFORE);
        ck_assert_uint_gt(cmd_of(&x, 3), id);
        fx_free(&x);
}
END_TEST

/* An after step that fails with on_failure rollback_phase rolls the
 * phase's nodes back (and pauses); a before step that fails rolls nothing. */
START_TEST(test_failed_after_step_rolls_the_phase_back) {
        fx_t x;
        fx_phase_steps(&x);
        x.ph[0].on_failure = PLAN_ON_FAILURE_ROLLBACK_PHASE;
        fx_new(&x);
        int64_t t = 0;
        tick(&x, t);
        nack(&x, 3, t += 10, "task-failed: no peers");
        ck_assert_int_eq(count(&x, UPGRADE_ACT_PAUSED), 1);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_PENDING);   /* not skipped: resume goes on */
        ck_assert_int_eq(upgrade_machine_admin(x.m, t += 10, UPGRADE_ADMIN_RESUME, 0, &x.a, &x.na), 0);
        ok(&x, 3, t += 10);
        fx_upgrade_both(&x, &t);
        ck_assert_int_eq(sent_stage(&x), PLAN_STAGE_AFTER);
        nack(&x, 3, t += 10, "unit-failed: stop timed out");
        ck_assert_int_eq(count(&x, UPGRADE_ACT_PAUSED), 1);
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_ROLLBACK), 0);
        ck_assert_uint_ne(sent(&x, 1, UPGRADE_CMD_ROLLBACK), 0);
        fx_free(&x);
}
END_TEST

/* A phase step in flight survives export and import; its answer moves the
 * imported machine on. A record with a step in flight outside a step stage
 * is refused. */
START_TEST(test_phase_step_persisted) {
        fx_t x;
        fx_phase_steps(&x);
        fx_new(&x);
        tick(&x, 0);
        upgrade_record_t *r;
        size_t n;
        upgrade_machine_t *m2 = reimported(&x, &r, &n);
        upgrade_node_status_t st;
        ck_assert_int_eq(upgrade_machine_node(m2, 3, &st), 0);
        ck_assert_int_eq(st.cmd, UPGRADE_CMD_STEP);
        ck_assert_int_eq(upgrade_machine_on_result(m2, 20, 3, st.cmd_id, UPGRADE_RESULT_SUCCEEDED, true, true, NULL,
                                                   &x.a, &x.na), 0);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 2);   /* the nodes start */
        for (size_t k = 0; k < n; k++)
                if (r[k].type == UPGRADE_REC_PHASE_STEP)
                        r[k].v[0] = UPGRADE_PHASE_NODES;
        upgrade_machine_t *m3 = NULL;
        ck_assert_int_eq(upgrade_machine_import(&x.cfg, r, n, &m3), -EINVAL);
        ck_assert_ptr_null(m3);
        free(r);
        upgrade_machine_destroy(&m2);
        fx_free(&x);
}
END_TEST

/* A config whose step list does not match its plan, or names a node out
 * of range, or gives pre steps a node, is refused. */
START_TEST(test_phase_steps_bad_config) {
        fx_t x;
        upgrade_machine_t *m = NULL;
        static const int out_of_range[] = { 9 };
        fx_phase_steps(&x);
        x.pc[0].n_steps[PLAN_STAGE_AFTER] = 2;
        ck_assert_int_eq(upgrade_machine_new(&x.cfg, &m), -EINVAL);
        fx_phase_steps(&x);
        x.pc[0].step_nodes[PLAN_STAGE_AFTER] = out_of_range;
        ck_assert_int_eq(upgrade_machine_new(&x.cfg, &m), -EINVAL);
        fx_phase_steps(&x);
        x.ph[0].steps[PLAN_STAGE_PRE] = (plan_steps_t) { s_pre, 1 };
        x.pc[0].step_nodes[PLAN_STAGE_PRE] = s_on_n3;
        x.pc[0].n_steps[PLAN_STAGE_PRE] = 1;
        ck_assert_int_eq(upgrade_machine_new(&x.cfg, &m), -EINVAL);
        ck_assert_ptr_null(m);
        /* none run (as plan check's batches ask): accepted */
        fx_phase_steps(&x);
        memset(x.pc[0].n_steps, 0, sizeof x.pc[0].n_steps);
        ck_assert_int_eq(upgrade_machine_new(&x.cfg, &m), 0);
        upgrade_machine_destroy(&m);
}
END_TEST

START_TEST(test_export_import_round_trip) {
        fx_t x;
        fx_init(&x, 5, 3, 2);
        x.ph[0].drain = true;
        fx_new(&x);
        tick(&x, 0);
        ok(&x, 0, 5);
        upgrade_machine_on_health(x.m, 6, 4, false, &x.a, &x.na);

        upgrade_record_t *r;
        size_t n;
        upgrade_machine_t *m2 = reimported(&x, &r, &n);
        /* bad records are refused */
        upgrade_record_t *bad = malloc(n * sizeof(*bad));
        memcpy(bad, r, n * sizeof(*bad));
        bad[n - 1].v[0] = 99;
        upgrade_machine_t *m3 = NULL;
        ck_assert_int_eq(upgrade_machine_import(&x.cfg, bad, n, &m3), -EINVAL);
        ck_assert_int_eq(upgrade_machine_import(&x.cfg, r, n - 1, &m3), -EINVAL);
        ck_assert_ptr_null(m3);
        free(bad);
        free(r);

        /* the same events drive both to the same states and actions */
        upgrade_machine_t *ms[2] = { x.m, m2 };
        int64_t t = 10;
        for (int round = 0; round < 40; round++) {
                const upgrade_action_t *acts[2];
                size_t nacts[2];
                for (int k = 0; k < 2; k++) {
                        int node = -1;
                        upgrade_node_status_t st;
                        for (int i = 0; i < 5 && node < 0; i++) {
                                upgrade_machine_node(ms[k], i, &st);
                                if (st.cmd_id)
                                        node = i;
                        }
                        if (node >= 0) {
                                upgrade_machine_node(ms[k], node, &st);
                                upgrade_machine_on_result(ms[k], t, node, st.cmd_id, UPGRADE_RESULT_SUCCEEDED,
                                                          true, true, NULL, &acts[k], &nacts[k]);
                        } else {
                                upgrade_machine_tick(ms[k], t, &acts[k], &nacts[k]);
                        }
                }
                ck_assert_uint_eq(nacts[0], nacts[1]);
                for (size_t j = 0; j < nacts[0]; j++) {
                        ck_assert_int_eq(acts[0][j].kind, acts[1][j].kind);
                        ck_assert_int_eq(acts[0][j].node, acts[1][j].node);
                        ck_assert_uint_eq(acts[0][j].cmd_id, acts[1][j].cmd_id);
                }
                export_eq(ms[0], ms[1]);
                t += 700;
                if (round == 20)
                        upgrade_machine_on_health(ms[0], t, 4, true, NULL, NULL),
                        upgrade_machine_on_health(ms[1], t, 4, true, NULL, NULL);
        }
        upgrade_conditions_t c;
        upgrade_machine_conditions(m2, &c);
        ck_assert(c.complete.status);
        upgrade_machine_destroy(&m2);
        fx_free(&x);
}
END_TEST

START_TEST(test_bad_config) {
        fx_t x;
        fx_init(&x, 3, 0, 1);
        x.nodes[0][1] = 0;   /* node listed twice */
        upgrade_machine_t *m = NULL;
        ck_assert_int_eq(upgrade_machine_new(&x.cfg, &m), -EINVAL);
        fx_init(&x, 3, 0, 0);
        ck_assert_int_eq(upgrade_machine_new(&x.cfg, &m), -EINVAL);
        fx_init(&x, 3, 0, 1);
        fx_new(&x);
        ck_assert_int_eq(upgrade_machine_on_health(x.m, 0, 3, true, NULL, NULL), -EINVAL);
        ck_assert_int_eq(upgrade_machine_admin(x.m, 0, UPGRADE_ADMIN_PROMOTE, 0, NULL, NULL), -EALREADY);
        fx_free(&x);
}
END_TEST

/* ---- failed nodes and the quorum (issue: a failed, drained member counted as up) ---- */

static bool waits_for(const fx_t *x, int node, const char *needle) {
        char why[200];
        upgrade_machine_wait_reason(x->m, node, why, sizeof(why));
        return strstr(why, needle) != NULL;
}

static bool complete(const fx_t *x) {
        upgrade_conditions_t c;
        upgrade_machine_conditions(x->m, &c);
        return c.complete.status;
}

START_TEST(test_failed_drained_member_blocks_group) {
        fx_t x;
        fx_init(&x, 3, 3, 1);
        x.ph[0].drain = true;
        fx_new(&x);
        tick(&x, 0);
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_DRAIN), 0);
        ok(&x, 0, 10);
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_INSTALL), 0);
        /* db0 drained and installing; its agent stops answering, then resumes */
        upgrade_machine_on_reachable(x.m, 20, 0, false, &x.a, &x.na);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_FAILED);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_PAUSED), 1);
        upgrade_machine_on_reachable(x.m, 30, 0, true, &x.a, &x.na);
        ck_assert_int_eq(upgrade_machine_admin(x.m, 40, UPGRADE_ADMIN_RESUME, 0, &x.a, &x.na), 0);
        /* still drained: the next member must not go down beside it */
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        ck_assert_int_eq(step(&x, 1), UPGRADE_STEP_PENDING);
        ck_assert(waits_for(&x, 1, "node0 failed"));
        tick(&x, 99999);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        ck_assert(!complete(&x));
        /* rolled back (which undrains): it costs no budget, and frees the group */
        ck_assert_int_eq(upgrade_machine_admin(x.m, 100000, UPGRADE_ADMIN_ROLLBACK_NODE, 0, &x.a, &x.na), 0);
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_ROLLBACK), 0);
        ck_assert_int_eq(step(&x, 1), UPGRADE_STEP_PENDING);
        ok(&x, 0, 100010);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_ROLLED_BACK);
        ck_assert_uint_ne(sent(&x, 1, UPGRADE_CMD_DRAIN), 0);
        fx_free(&x);
}
END_TEST

/* The minimal case found by the randomized driver: a node failed because it
 * went unreachable mid-step may still run the retired command. */
START_TEST(test_failed_unreachable_member_blocks_group_when_back) {
        fx_t x;
        fx_init(&x, 3, 3, 1);
        x.pc[0].max_failures = 1;   /* no pause: the quorum alone must hold */
        fx_new(&x);
        tick(&x, 0);
        uint64_t install1 = sent(&x, 0, UPGRADE_CMD_INSTALL);
        ck_assert_uint_ne(install1, 0);
        upgrade_machine_on_reachable(x.m, 10, 0, false, &x.a, &x.na);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_FAILED);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        upgrade_machine_on_reachable(x.m, 20, 0, true, &x.a, &x.na);
        upgrade_machine_on_health(x.m, 21, 0, true, &x.a, &x.na);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        ck_assert_int_eq(step(&x, 1), UPGRADE_STEP_PENDING);
        /* install #1's result arrives late: stale, and still nothing starts */
        ck_assert_int_eq(upgrade_machine_on_result(x.m, 30, 0, install1, UPGRADE_RESULT_SUCCEEDED, true, true,
                                                   NULL, &x.a, &x.na), 0);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_STALE_RESULT), 1);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_FAILED);
        fx_free(&x);
}
END_TEST

START_TEST(test_not_complete_while_failed_node_left_drained) {
        fx_t x;
        fx_init(&x, 1, 0, 1);
        x.ph[0].drain = true;
        x.pc[0].max_failures = 1;
        fx_new(&x);
        tick(&x, 0);
        ok(&x, 0, 10);
        nack(&x, 0, 20, "dpkg: error");
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_FAILED);
        tick(&x, 99999);
        ck_assert(!complete(&x));
        ck_assert_int_eq(count(&x, UPGRADE_ACT_COMPLETE), 0);
        ck_assert_int_eq(upgrade_machine_admin(x.m, 100000, UPGRADE_ADMIN_ROLLBACK_NODE, 0, &x.a, &x.na), 0);
        ok(&x, 0, 100010);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_COMPLETE), 1);
        ck_assert(complete(&x));
        fx_free(&x);
}
END_TEST

/* A failure without a drain leaves nothing held: the phase settles. */
START_TEST(test_failed_undrained_node_settles) {
        fx_t x;
        fx_init(&x, 1, 0, 1);
        x.pc[0].max_failures = 1;
        fx_new(&x);
        tick(&x, 0);
        nack(&x, 0, 10, "dpkg: error");
        ck_assert(complete(&x));
        fx_free(&x);
}
END_TEST

/* Node through install, restart and a passed gate (no drain). */
static void pass(fx_t *x, int node, int64_t *t) {
        ok(x, node, *t += 10);
        ok(x, node, *t += 10);
        ck_assert_int_eq(step(x, node), UPGRADE_STEP_VERIFYING);
        tick(x, *t += 1000);
}

START_TEST(test_budget_exceeded_at_phase_start_sends_nothing) {
        fx_t x;
        fx_init(&x, 3, 0, 1);
        x.pc[0].n_nodes = 1;
        x.ph[1] = x.ph[0];
        x.ph[1].name = "p1";
        x.nodes[1][0] = 1;
        x.nodes[1][1] = 2;
        x.pc[1] = (upgrade_phase_config_t) { .params = &x.ph[1], .nodes = x.nodes[1], .n_nodes = 2,
                                             .batch_size = 1 };
        x.cfg.n_phases = 2;
        fx_new(&x);
        int64_t t = 0;
        tick(&x, t);
        upgrade_machine_on_reachable(x.m, t += 5, 2, false, &x.a, &x.na);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_PAUSED), 0);
        pass(&x, 0, &t);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_DONE);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_PHASE_STARTED), 1);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_PAUSED), 1);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        ck_assert_int_eq(step(&x, 1), UPGRADE_STEP_PENDING);
        fx_free(&x);
}
END_TEST

START_TEST(test_not_complete_while_rollback_waits) {
        fx_t x;
        fx_init(&x, 2, 0, 1);
        fx_new(&x);
        int64_t t = 0;
        tick(&x, t);
        pass(&x, 0, &t);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_DONE);
        /* node0's rollback waits for it to come back while node1 finishes */
        upgrade_machine_on_reachable(x.m, t += 1, 0, false, &x.a, &x.na);
        ck_assert_int_eq(upgrade_machine_admin(x.m, t += 1, UPGRADE_ADMIN_ROLLBACK_NODE, 0, &x.a, &x.na), 0);
        pass(&x, 1, &t);
        ck_assert_int_eq(step(&x, 1), UPGRADE_STEP_DONE);
        ck_assert(!complete(&x));
        ck_assert_int_eq(count(&x, UPGRADE_ACT_COMPLETE), 0);
        upgrade_machine_on_reachable(x.m, t += 1, 0, true, &x.a, &x.na);
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_ROLLBACK), 0);
        ck_assert(!complete(&x));
        ok(&x, 0, t += 10);
        ck_assert(complete(&x));
        fx_free(&x);
}
END_TEST

START_TEST(test_next_due_not_in_the_past_after_batch_gate) {
        fx_t x;
        fx_init(&x, 3, 0, 1);
        x.ph[0].mode = PLAN_MODE_BATCH;
        x.ph[0].pause_between_batches_ms = 500;
        fx_new(&x);
        int64_t t = 0;
        tick(&x, t);
        pass(&x, 0, &t);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_DONE);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);   /* the gate holds node1 */
        ck_assert_int_eq(upgrade_machine_next_due(x.m), t + 500);
        /* paused before the gate ends: once it has passed, nothing is due
         * (the coordinator would otherwise tick at once, again and again) */
        ck_assert_int_eq(upgrade_machine_admin(x.m, t += 100, UPGRADE_ADMIN_PAUSE, 0, &x.a, &x.na), 0);
        tick(&x, t += 500);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        ck_assert_int_gt(upgrade_machine_next_due(x.m), t);
        ck_assert_int_eq(upgrade_machine_admin(x.m, t += 100, UPGRADE_ADMIN_RESUME, 0, &x.a, &x.na), 0);
        ck_assert_uint_ne(sent(&x, 1, UPGRADE_CMD_INSTALL), 0);
        fx_free(&x);
}
END_TEST

START_TEST(test_import_refuses_duplicate_node_record) {
        fx_t x;
        fx_init(&x, 3, 0, 1);
        fx_new(&x);
        tick(&x, 0);
        upgrade_record_t *r;
        size_t n;
        ck_assert_int_eq(upgrade_machine_export(x.m, &r, &n), 0);
        upgrade_machine_t *m2 = NULL;
        /* node 0's record (in flight) twice, node 2's missing */
        size_t rec0 = n - 3, rec2 = n - 1;
        ck_assert_int_eq(r[rec0].type, UPGRADE_REC_NODE);
        ck_assert_int_eq(r[rec0].index, 0);
        upgrade_record_t keep = r[rec2];
        r[rec2] = r[rec0];
        ck_assert_int_eq(upgrade_machine_import(&x.cfg, r, n, &m2), -EINVAL);
        ck_assert_ptr_null(m2);
        r[rec2] = keep;
        /* record order does not matter: the machine record last */
        upgrade_record_t machine = r[0];
        r[0] = r[n - 1];
        r[n - 1] = machine;
        ck_assert_int_eq(upgrade_machine_import(&x.cfg, r, n, &m2), 0);
        upgrade_machine_destroy(&m2);
        /* ... and an in-flight id not below the next id is refused in any order */
        r[rec0 == 0 ? n - 1 : rec0].v[1] = r[n - 1].v[2];
        ck_assert_int_eq(upgrade_machine_import(&x.cfg, r, n, &m2), -EINVAL);
        free(r);
        fx_free(&x);
}
END_TEST

/* min_healthy_time 0: the deadline is exclusive. */
static void verifying_unhealthy(fx_t *x, int64_t *t) {
        tick(x, *t);
        ok(x, 0, *t += 10);
        ck_assert_int_eq(upgrade_machine_on_result(x->m, *t += 10, 0, cmd_of(x, 0), UPGRADE_RESULT_SUCCEEDED,
                                                   true, false, NULL, &x->a, &x->na), 0);
        ck_assert_int_eq(step(x, 0), UPGRADE_STEP_VERIFYING);
}

START_TEST(test_health_gate_zero_min_boundary) {
        fx_t x;
        fx_init(&x, 1, 0, 1);
        x.ph[0].min_healthy_time_ms = 0;
        x.pc[0].max_failures = 1;
        fx_new(&x);
        int64_t t = 0;
        verifying_unhealthy(&x, &t);
        upgrade_machine_on_health(x.m, t + 4999, 0, true, &x.a, &x.na);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_DONE);
        fx_free(&x);

        fx_init(&x, 1, 0, 1);
        x.ph[0].min_healthy_time_ms = 0;
        x.pc[0].max_failures = 1;
        fx_new(&x);
        t = 0;
        verifying_unhealthy(&x, &t);
        upgrade_machine_on_health(x.m, t + 5000, 0, true, &x.a, &x.na);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_FAILED);
        fx_free(&x);
}
END_TEST

START_TEST(test_unregistered_mid_step_fails) {
        fx_t x;
        fx_init(&x, 2, 0, 1);
        x.pc[0].max_failures = 1;
        fx_new(&x);
        tick(&x, 0);
        ck_assert_int_eq(upgrade_machine_on_registered(x.m, 10, 0, false, &x.a, &x.na), 0);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_FAILED);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_NODE_FAILED), 1);
        fx_free(&x);
}
END_TEST

/* A clock going backwards only delays: a gate never passes or fails early. */
static void report_drained(fx_t *x, int node, bool drained, int64_t now) {
        upgrade_node_report_t r = { .node = node, .registered = true, .reachable = true, .healthy = true,
                                    .drained = drained };
        ck_assert_int_eq(upgrade_machine_on_nodes(x->m, now, &r, 1, &x->a, &x->na), 0);
}

START_TEST(test_member_reported_drained_counts_as_down) {
        fx_t x;
        fx_init(&x, 3, 3, 1);
        fx_new(&x);
        /* node2 was drained by an operator: healthy checks, but it serves
         * nothing. With max_down 1 nobody else may go down. */
        report_drained(&x, 2, true, 0);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        ck_assert_int_eq(in_step(&x), 0);
        ck_assert(waits_for(&x, 0, "drained"));
        ck_assert(waits_for(&x, 2, "node drained"));
        upgrade_node_status_t st;
        ck_assert_int_eq(upgrade_machine_node(x.m, 2, &st), 0);
        ck_assert(st.agent_drained && !st.drained);
        /* Kept across a restart of the coordinator. */
        upgrade_record_t *recs;
        size_t n;
        ck_assert_int_eq(upgrade_machine_export(x.m, &recs, &n), 0);
        upgrade_machine_t *copy;
        ck_assert_int_eq(upgrade_machine_import(&x.cfg, recs, n, &copy), 0);
        ck_assert_int_eq(upgrade_machine_node(copy, 2, &st), 0);
        ck_assert(st.agent_drained);
        upgrade_machine_destroy(&copy);
        free(recs);
        tick(&x, 1);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        report_drained(&x, 2, false, 2);   /* undrained: one member may go */
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 1);
        fx_free(&x);
}
END_TEST

/* A node running a batch job's command (jobs.h) is down for its groups
 * and is not started until the job is done with it. */
START_TEST(test_member_busy_in_a_job_counts_as_down) {
        fx_t x;
        fx_init(&x, 3, 3, 3);
        fx_new(&x);
        upgrade_node_report_t r = { .node = 2, .registered = true, .reachable = true, .healthy = true,
                                    .job_busy = true };
        ck_assert_int_eq(upgrade_machine_on_nodes(x.m, 0, &r, 1, &x.a, &x.na), 0);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);   /* max_down 1: spent by the job */
        ck_assert_int_eq(in_step(&x), 0);
        upgrade_node_status_t st;
        ck_assert_int_eq(upgrade_machine_node(x.m, 2, &st), 0);
        ck_assert(st.job_busy);
        r.job_busy = false;
        ck_assert_int_eq(upgrade_machine_on_nodes(x.m, 1, &r, 1, &x.a, &x.na), 0);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 1);
        fx_free(&x);
}
END_TEST

START_TEST(test_done_member_reported_drained_blocks_the_next) {
        fx_t x;
        fx_init(&x, 3, 3, 1);
        x.ph[0].restart = NULL;
        fx_new(&x);
        tick(&x, 0);
        int first = cmd_of(&x, 0) ? 0 : cmd_of(&x, 1) ? 1 : 2;
        ok(&x, first, 1);   /* install */
        tick(&x, 1001);     /* healthy for min_healthy_time: done */
        ck_assert_int_eq(step(&x, first), UPGRADE_STEP_DONE);
        ck_assert_int_eq(in_step(&x), 1);   /* the next one started */
        int second = -1;
        for (int i = 0; i < 3; i++)
                if (i != first && cmd_of(&x, i))
                        second = i;
        ck_assert_int_ge(second, 0);
        /* Someone drains the done node by hand while the second installs:
         * once the second is done, the third must wait. */
        report_drained(&x, first, true, 1002);
        ok(&x, second, 1003);
        tick(&x, 2004);
        ck_assert_int_eq(step(&x, second), UPGRADE_STEP_DONE);
        ck_assert_int_eq(in_step(&x), 0);
        report_drained(&x, first, false, 2005);
        ck_assert_int_eq(in_step(&x), 1);
        fx_free(&x);
}
END_TEST

/* n nodes in no group, all installing at once, no restart step: nodes 0
 * and 1 pass at t=1001. */
static void two_installed(fx_t *x, int n) {
        fx_init(x, n, 0, n);
        x->ph[0].restart = NULL;
        fx_new(x);
        tick(x, 0);
        ok(x, 0, 1);
        ok(x, 1, 1);
        tick(x, 1001);
}

START_TEST(test_rolled_back_only_when_every_changed_node_is) {
        fx_t x;
        two_installed(&x, 2);
        ck_assert(complete(&x));
        upgrade_conditions_t c;
        upgrade_machine_conditions(x.m, &c);
        ck_assert(!c.rolled_back);
        ck_assert_str_eq(c.complete.reason, "Complete");
        /* One node back: still complete, the other is upgraded. */
        ck_assert_int_eq(upgrade_machine_admin(x.m, 2000, UPGRADE_ADMIN_ROLLBACK_NODE, 0, &x.a, &x.na), 0);
        ok(&x, 0, 2001);
        upgrade_machine_conditions(x.m, &c);
        ck_assert(c.complete.status && !c.rolled_back);
        /* Both back: what the upgrade changed is undone. */
        ck_assert_int_eq(upgrade_machine_admin(x.m, 3000, UPGRADE_ADMIN_ROLLBACK_NODE, 1, &x.a, &x.na), 0);
        upgrade_machine_conditions(x.m, &c);
        ck_assert(!c.rolled_back && c.rolling_back);
        ok(&x, 1, 3001);
        upgrade_machine_conditions(x.m, &c);
        ck_assert(c.complete.status && c.rolled_back);
        ck_assert_str_eq(c.complete.reason, "RolledBack");
        fx_free(&x);
}
END_TEST

START_TEST(test_hold_starts_nothing_and_releases_by_itself) {
        fx_t x;
        fx_init(&x, 2, 0, 1);
        x.ph[0].restart = NULL;
        x.ph[0].drain = true;
        fx_new(&x);
        tick(&x, 0);
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_DRAIN), 0);
        upgrade_machine_set_hold(x.m, "store: 1 MiB free, below the floor of 64 MiB");
        tick(&x, 1);
        ok(&x, 0, 2);   /* a node in its sequence goes on: never left drained */
        ck_assert_uint_ne(sent(&x, 0, UPGRADE_CMD_INSTALL), 0);
        ok(&x, 0, 3);
        tick(&x, 1003);
        ok(&x, 0, 1004);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_DONE);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);   /* held: node 1 waits */
        ck_assert(waits_for(&x, 1, "held: store: 1 MiB free"));
        upgrade_conditions_t c;
        upgrade_machine_conditions(x.m, &c);
        ck_assert(c.held && !c.paused);
        ck_assert_str_eq(c.hold_reason, "store: 1 MiB free, below the floor of 64 MiB");
        /* The hold is the shell's: it is not part of the persisted state. */
        upgrade_record_t *recs;
        size_t n;
        ck_assert_int_eq(upgrade_machine_export(x.m, &recs, &n), 0);
        upgrade_machine_t *copy;
        ck_assert_int_eq(upgrade_machine_import(&x.cfg, recs, n, &copy), 0);
        upgrade_machine_conditions(copy, &c);
        ck_assert(!c.held);
        upgrade_machine_destroy(&copy);
        free(recs);
        upgrade_machine_set_hold(x.m, NULL);
        tick(&x, 2000);
        ck_assert_uint_ne(sent(&x, 1, UPGRADE_CMD_DRAIN), 0);
        fx_free(&x);
}
END_TEST

START_TEST(test_time_backwards_never_judges_early) {
        fx_t x;
        fx_init(&x, 1, 0, 1);
        fx_new(&x);
        int64_t t = 10000;
        tick(&x, t);
        ok(&x, 0, t += 10);
        ok(&x, 0, t += 10);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_VERIFYING);
        tick(&x, 100);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_VERIFYING);
        tick(&x, t + 1000);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_DONE);
        fx_free(&x);
}
END_TEST

static void locally(fx_t *x, int node, int64_t now) {
        ck_assert_int_eq(upgrade_machine_admin(x->m, now, UPGRADE_ADMIN_ROLLED_BACK_LOCALLY, node, &x->a, &x->na), 0);
}

START_TEST(test_local_rollback_of_done_nodes) {
        fx_t x;
        two_installed(&x, 3);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_DONE);
        ck_assert_int_eq(step(&x, 2), UPGRADE_STEP_INSTALLING);
        locally(&x, 0, 2000);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_ROLLED_BACK);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_NODE_ROLLED_BACK), 1);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);   /* nothing is sent to a node undone by hand */
        /* Seen again: nothing more. */
        locally(&x, 0, 2001);
        ck_assert_int_eq(x.na, 0);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_ROLLED_BACK);
        ck_assert_int_eq(upgrade_machine_admin(x.m, 2002, UPGRADE_ADMIN_ROLLED_BACK_LOCALLY, 3, &x.a, &x.na),
                         -EINVAL);
        ok(&x, 2, 2003);
        tick(&x, 3003);
        ck_assert(complete(&x));
        locally(&x, 1, 4000);
        locally(&x, 2, 4000);
        upgrade_conditions_t c;
        upgrade_machine_conditions(x.m, &c);
        ck_assert(c.complete.status && c.rolled_back);
        fx_free(&x);
}
END_TEST

START_TEST(test_local_rollback_of_pending_node_changes_nothing) {
        fx_t x;
        fx_init(&x, 3, 3, 3);   /* one member at a time: 1 and 2 wait */
        fx_new(&x);
        tick(&x, 0);
        int pending = step(&x, 1) == UPGRADE_STEP_PENDING ? 1 : 2;
        ck_assert_int_eq(step(&x, pending), UPGRADE_STEP_PENDING);
        locally(&x, pending, 10);
        ck_assert_int_eq(step(&x, pending), UPGRADE_STEP_PENDING);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_NODE_ROLLED_BACK), 0);
        fx_free(&x);
}
END_TEST

static int first_in_step(const fx_t *x) {
        for (int i = 0; i < (int) x->cfg.n_nodes; i++)
                if (step(x, i) == UPGRADE_STEP_INSTALLING)
                        return i;
        ck_abort_msg("no node installing");
        return -1;
}

/* The install still runs on the node: it stays down for quorum until the
 * command ends, then is rolled back, whatever the command's result. */
START_TEST(test_local_rollback_mid_command_keeps_the_node_down) {
        fx_t x;
        fx_init(&x, 3, 3, 3);
        fx_new(&x);
        tick(&x, 0);
        int n = first_in_step(&x);
        locally(&x, n, 10);
        upgrade_node_status_t st;
        ck_assert_int_eq(upgrade_machine_node(x.m, n, &st), 0);
        ck_assert_int_eq(st.step, UPGRADE_STEP_INSTALLING);
        ck_assert(st.local_rollback);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);   /* no second member down */
        tick(&x, 20);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 0);
        ck_assert_int_eq(in_step(&x), 1);
        /* Export/import keeps it (a coordinator restart in between). */
        upgrade_record_t *r;
        size_t nr;
        upgrade_machine_t *b;
        ck_assert_int_eq(upgrade_machine_export(x.m, &r, &nr), 0);
        ck_assert_int_eq(upgrade_machine_import(&x.cfg, r, nr, &b), 0);
        export_eq(x.m, b);
        free(r);
        upgrade_machine_destroy(&x.m);
        x.m = b;
        ok(&x, n, 30);   /* the install succeeded, after the rollback or not */
        ck_assert_int_eq(step(&x, n), UPGRADE_STEP_ROLLED_BACK);
        ck_assert_int_eq(count(&x, UPGRADE_ACT_NODE_ROLLED_BACK), 1);
        ck_assert_uint_eq(sent(&x, n, UPGRADE_CMD_RESTART), 0);   /* not its next step */
        ck_assert_int_eq(count(&x, UPGRADE_ACT_SEND), 1);   /* the next member starts */
        ck_assert_int_eq(upgrade_machine_node(x.m, n, &st), 0);
        ck_assert(!st.local_rollback);
        fx_free(&x);
}
END_TEST

START_TEST(test_local_rollback_mid_command_then_unreachable) {
        fx_t x;
        fx_init(&x, 2, 0, 1);
        fx_new(&x);
        tick(&x, 0);
        locally(&x, 0, 10);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_INSTALLING);
        ck_assert_int_eq(upgrade_machine_on_reachable(x.m, 20, 0, false, &x.a, &x.na), 0);
        ck_assert_int_eq(step(&x, 0), UPGRADE_STEP_ROLLED_BACK);   /* not failed: it was undone */
        ck_assert_int_eq(count(&x, UPGRADE_ACT_NODE_FAILED), 0);
        fx_free(&x);
}
END_TEST

START_TEST(test_import_refuses_local_rollback_without_command) {
        fx_t x;
        fx_init(&x, 2, 0, 1);
        fx_new(&x);
        tick(&x, 0);
        locally(&x, 0, 10);
        upgrade_record_t *r;
        size_t nr;
        upgrade_machine_t *b = NULL;
        ck_assert_int_eq(upgrade_machine_export(x.m, &r, &nr), 0);
        for (size_t k = 0; k < nr; k++)
                if (r[k].type == UPGRADE_REC_NODE && r[k].index == 0) {
                        r[k].v[1] = 0;
                        r[k].v[2] = UPGRADE_CMD_NONE;
                }
        ck_assert_int_eq(upgrade_machine_import(&x.cfg, r, nr, &b), -EINVAL);
        ck_assert_ptr_null(b);
        free(r);
        fx_free(&x);
}
END_TEST

int main(void) {
        Suite *s = suite_create("upgrade_machine");
        TCase *tc = tcase_create("scenarios");
        tcase_add_test(tc, test_quorum_one_at_a_time);
        tcase_add_test(tc, test_unhealthy_member_blocks_group);
        tcase_add_test(tc, test_install_failure_pauses);
        tcase_add_test(tc, test_failure_within_budget_continues);
        tcase_add_test(tc, test_rollback_node_policy);
        tcase_add_test(tc, test_admin_rollback_done_node_respects_quorum);
        tcase_add_test(tc, test_rollback_phase);
        tcase_add_test(tc, test_rollback_all_reverse_phase_order_in_batches);
        tcase_add_test(tc, test_node_reports_applied_together);
        tcase_add_test(tc, test_health_gate_flapping);
        tcase_add_test(tc, test_health_gate_deadline);
        tcase_add_test(tc, test_canary_waits_for_promote);
        tcase_add_test(tc, test_canary_auto_promote);
        tcase_add_test(tc, test_pause_resume);
        tcase_add_test(tc, test_abort);
        tcase_add_test(tc, test_abort_during_undrain_finishes_the_node);
        tcase_add_test(tc, test_unreachable_mid_step);
        tcase_add_test(tc, test_unreachable_pending_counts_as_failure);
        tcase_add_test(tc, test_export_import_round_trip);
        tcase_add_test(tc, test_bad_config);
        tcase_add_test(tc, test_failed_drained_member_blocks_group);
        tcase_add_test(tc, test_failed_unreachable_member_blocks_group_when_back);
        tcase_add_test(tc, test_not_complete_while_failed_node_left_drained);
        tcase_add_test(tc, test_failed_undrained_node_settles);
        tcase_add_test(tc, test_budget_exceeded_at_phase_start_sends_nothing);
        tcase_add_test(tc, test_not_complete_while_rollback_waits);
        tcase_add_test(tc, test_next_due_not_in_the_past_after_batch_gate);
        tcase_add_test(tc, test_import_refuses_duplicate_node_record);
        tcase_add_test(tc, test_health_gate_zero_min_boundary);
        tcase_add_test(tc, test_unregistered_mid_step_fails);
        tcase_add_test(tc, test_time_backwards_never_judges_early);
        tcase_add_test(tc, test_hold_starts_nothing_and_releases_by_itself);
        tcase_add_test(tc, test_rolled_back_only_when_every_changed_node_is);
        tcase_add_test(tc, test_member_reported_drained_counts_as_down);
        tcase_add_test(tc, test_member_busy_in_a_job_counts_as_down);
        tcase_add_test(tc, test_done_member_reported_drained_blocks_the_next);
        tcase_add_test(tc, test_local_rollback_of_done_nodes);
        tcase_add_test(tc, test_local_rollback_of_pending_node_changes_nothing);
        tcase_add_test(tc, test_local_rollback_mid_command_keeps_the_node_down);
        tcase_add_test(tc, test_local_rollback_mid_command_then_unreachable);
        tcase_add_test(tc, test_import_refuses_local_rollback_without_command);
        tcase_add_test(tc, test_pre_post_steps_in_order);
        tcase_add_test(tc, test_failed_pre_step_fails_node);
        tcase_add_test(tc, test_step_index_persisted);
        tcase_add_test(tc, test_phase_steps_in_order);
        tcase_add_test(tc, test_phase_without_nodes_runs_its_steps);
        tcase_add_test(tc, test_gate_deadline_fails_and_resume_retries);
        tcase_add_test(tc, test_phase_step_waits_for_its_node_and_quorum);
        tcase_add_test(tc, test_phase_step_lost_node_fails_it);
        tcase_add_test(tc, test_failed_after_step_rolls_the_phase_back);
        tcase_add_test(tc, test_phase_step_persisted);
        tcase_add_test(tc, test_phase_steps_bad_config);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int nf = srunner_ntests_failed(sr);
        srunner_free(sr);
        return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
