/* ctl/upgrade_view: how hitlessctl shows an UpgradeStatus. Each test builds
 * the status a coordinator would send, renders it into memory and compares
 * with the exact text an operator (or a script) reads. Times are shown in
 * UTC (TZ is set in main). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/ctl.h"
#include "common/upgrade_json.h"
#include "ctl/upgrade_view.h"

#define MAX_NODES 16

/* An upgrade of two phases: database finished, computes running with one
 * node done, one failed (rollback pending) and one verifying behind a
 * quorum wait. */
typedef struct {
        Hitless__UpgradeStatus st;
        Hitless__UpgradeCondition c[3];
        Hitless__UpgradeCondition *cp[3];
        Hitless__UpgradePhaseStatus p[2];
        Hitless__UpgradePhaseStatus *pp[2];
        Hitless__UpgradeNodeStatus n[MAX_NODES];
        Hitless__UpgradeNodeStatus *np[MAX_NODES];
        char ids[MAX_NODES][16];
} fixture_t;

static void set_condition(fixture_t *x, int i, const char *type, bool status, const char *reason,
                          const char *message) {
        hitless__upgrade_condition__init(&x->c[i]);
        x->c[i].type = (char *) type;
        x->c[i].status = status;
        x->c[i].reason = (char *) reason;
        x->c[i].message = (char *) message;
        x->cp[i] = &x->c[i];
}

static Hitless__UpgradeNodeStatus *add_node(fixture_t *x, const char *id, const char *phase, const char *step) {
        size_t i = x->st.n_nodes++;
        ck_assert_uint_lt(i, MAX_NODES);
        Hitless__UpgradeNodeStatus *n = &x->n[i];
        hitless__upgrade_node_status__init(n);
        snprintf(x->ids[i], sizeof x->ids[i], "%s", id);
        n->node_id = x->ids[i];
        n->phase = (char *) phase;
        n->step = (char *) step;
        n->reachable = true;
        n->healthy = true;
        x->np[i] = n;
        return n;
}

static void fixture_init(fixture_t *x) {
        memset(x, 0, sizeof *x);
        hitless__upgrade_status__init(&x->st);
        x->st.upgrade_id = "up-1";
        x->st.plan_name = "contrail-2.0";
        x->st.file_name = "contrail.plan";
        x->st.started_by = "unix:root";
        x->st.started = 1700000000;  /* 2023-11-14 22:13:20 UTC */
        x->st.state = "running";
        x->st.current_phase = "computes";
        set_condition(x, 0, "Upgrading", true, "computes", "4/6 nodes");
        set_condition(x, 1, "Error", true, "step_failed", "c2: install: dpkg \"failed\"");
        set_condition(x, 2, "Complete", false, "", "");
        x->st.n_conditions = 3;
        x->st.conditions = x->cp;

        for (int i = 0; i < 2; i++) {
                hitless__upgrade_phase_status__init(&x->p[i]);
                x->pp[i] = &x->p[i];
        }
        Hitless__UpgradePhaseStatus *db = &x->p[0], *computes = &x->p[1];
        db->name = "database";
        db->state = "finished";
        db->nodes = db->done = 3;
        db->batch_size = 1;
        db->on_failure = "pause";
        computes->name = "computes";
        computes->state = "running";
        computes->nodes = 3;
        computes->done = computes->in_flight = computes->failed = 1;
        computes->batch_size = 2;
        computes->max_failures = 1;
        computes->on_failure = "rollback_node";
        x->st.n_phases = 2;
        x->st.phases = x->pp;

        x->st.nodes = x->np;
        add_node(x, "c1", "computes", "done");
        Hitless__UpgradeNodeStatus *c2 = add_node(x, "c2", "computes", "failed");
        c2->healthy = false;
        c2->error = "install: dpkg failed";
        c2->rollback_pending = true;
        Hitless__UpgradeNodeStatus *c3 = add_node(x, "c3", "computes", "verifying");
        c3->healthy_for_s = 12;
        c3->waiting = "quorum cassandra";
        static char *ctl_eps[] = { "10.0.1.11:5269", "10.0.1.12:5269" };
        static Hitless__EndpointList ctl = { PROTOBUF_C_MESSAGE_INIT(&hitless__endpoint_list__descriptor),
                                             "controller", 2, ctl_eps };
        static Hitless__EndpointList coll = { PROTOBUF_C_MESSAGE_INIT(&hitless__endpoint_list__descriptor),
                                              "collector", 0, NULL };
        static Hitless__EndpointList *lists[] = { &ctl, &coll };
        c3->n_endpoints = 2;
        c3->endpoints = lists;
        static Hitless__PackageVersion pv = { PROTOBUF_C_MESSAGE_INIT(&hitless__package_version__descriptor),
                                              "contrail-vrouter-agent", "2.0-1" };
        static Hitless__PackageVersion *pvs[] = { &pv };
        c3->n_packages = 1;
        c3->packages = pvs;
        static Hitless__UpgradeGroupStatus g = { PROTOBUF_C_MESSAGE_INIT(&hitless__upgrade_group_status__descriptor),
                                                 "cassandra", 3, 1, 1 };
        static Hitless__UpgradeGroupStatus *gs[] = { &g };
        x->st.n_groups = 1;
        x->st.groups = gs;
}

/* Renders with fn into memory; the caller frees. */
static char *render(void (*fn)(FILE *, const Hitless__UpgradeStatus *), const Hitless__UpgradeStatus *st) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        ck_assert_ptr_nonnull(f);
        fn(f, st);
        ck_assert_int_eq(fclose(f), 0);
        return buf;
}

static void frame_live(FILE *f, const Hitless__UpgradeStatus *st) {
        upgrade_view_frame(f, st, true);
}

static void frame_plain(FILE *f, const Hitless__UpgradeStatus *st) {
        upgrade_view_frame(f, st, false);
}

static void assert_render(void (*fn)(FILE *, const Hitless__UpgradeStatus *), const Hitless__UpgradeStatus *st,
                          const char *expected) {
        char *got = render(fn, st);
        ck_assert_msg(strcmp(got, expected) == 0, "got:\n%s\nexpected:\n%s", got, expected);
        free(got);
}

/* ---- upgrade status ---- */

START_TEST(test_text) {
        fixture_t x;
        fixture_init(&x);
        x.st.state = "paused";
        x.st.pause_reason = "1 failure > max_failures 0";
        x.n[0].command = "undrain";
        x.n[0].command_id = "up-1-17";
        x.n[0].halted = true;
        x.n[1].reachable = false;
        assert_render(upgrade_view_text, &x.st,
                      "upgrade up-1: plan contrail-2.0 (contrail.plan), started 2023-11-14 22:13:20 by unix:root\n"
                      "\n"
                      "CONDITION  STATUS  REASON       MESSAGE\n"
                      "Upgrading  True    computes     4/6 nodes\n"
                      "Error      True    step_failed  c2: install: dpkg \"failed\"\n"
                      "Complete   False   -            -\n"
                      "\n"
                      "state: paused\n"
                      "phase: computes\n"
                      "pause reason: 1 failure > max_failures 0\n"
                      "next: hitlessctl upgrade resume (go on), upgrade abort (stop for good), or rollback NODE / "
                      "--phase PHASE / --all\n"
                      "\n"
                      "PHASE     STATE     DONE  IN FLIGHT  FAILED  ROLLED BACK  SKIPPED\n"
                      "database  finished  3/3   0          0       0            0\n"
                      "computes  running   1/3   1          1       0            0\n"
                      "\n"
                      "NODE  PHASE     STEP                      COMMAND          HEALTH       WAITING / ERROR\n"
                      "c1    computes  done, halted              undrain up-1-17  healthy      -\n"
                      "c2    computes  failed, rollback pending  -                unreachable  error: install: dpkg failed\n"
                      "c3    computes  verifying                 -                healthy 12s  waiting: quorum cassandra\n");
}
END_TEST

START_TEST(test_text_both_waiting_and_error) {
        fixture_t x;
        fixture_init(&x);
        x.n[2].error = "verify: unhealthy for 5m";
        char *got = render(upgrade_view_text, &x.st);
        ck_assert_ptr_nonnull(strstr(got, "waiting: quorum cassandra; error: verify: unhealthy for 5m\n"));
        free(got);
}
END_TEST

START_TEST(test_no_upgrade) {
        Hitless__UpgradeStatus st = HITLESS__UPGRADE_STATUS__INIT;
        assert_render(upgrade_view_text, &st, "no upgrade has been started\n");
        assert_render(upgrade_view_short, &st, "no upgrade has been started\n");
        assert_render(frame_plain, &st, "no upgrade has been started\n");
}
END_TEST

START_TEST(test_short) {
        fixture_t x;
        fixture_init(&x);
        x.st.message = "rollback of c2 queued";
        assert_render(upgrade_view_short, &x.st,
                      "rollback of c2 queued\n"
                      "upgrade up-1 (plan contrail-2.0): running, phase computes\n"
                      "  Upgrading True (computes): 4/6 nodes\n"
                      "  Error True (step_failed): c2: install: dpkg \"failed\"\n");
}
END_TEST

START_TEST(test_short_paused) {
        fixture_t x;
        fixture_init(&x);
        x.st.state = "paused";
        x.st.pause_reason = "by unix:root";
        x.st.message = "paused";
        x.c[1].status = false;
        assert_render(upgrade_view_short, &x.st,
                      "paused\n"
                      "upgrade up-1 (plan contrail-2.0): paused, phase computes, paused: by unix:root\n"
                      "  Upgrading True (computes): 4/6 nodes\n");
}
END_TEST

/* ---- JSON ---- */

START_TEST(test_json) {
        fixture_t x;
        fixture_init(&x);
        x.st.message = "paused\tnow";
        x.n[2].command = "restart";
        x.n[2].command_id = "up-1-9";
        assert_render(upgrade_status_json, &x.st,
                      "{\"upgrade_id\":\"up-1\",\"plan_name\":\"contrail-2.0\",\"file_name\":\"contrail.plan\","
                      "\"started_by\":\"unix:root\",\"started\":1700000000,\"state\":\"running\","
                      "\"current_phase\":\"computes\",\"pause_reason\":\"\",\"hold_reason\":\"\",\"message\":\"paused\\tnow\","
                      "\"conditions\":["
                      "{\"type\":\"Upgrading\",\"status\":true,\"reason\":\"computes\",\"message\":\"4/6 nodes\"},"
                      "{\"type\":\"Error\",\"status\":true,\"reason\":\"step_failed\","
                      "\"message\":\"c2: install: dpkg \\\"failed\\\"\"},"
                      "{\"type\":\"Complete\",\"status\":false,\"reason\":\"\",\"message\":\"\"}],"
                      "\"phases\":["
                      "{\"name\":\"database\",\"state\":\"finished\",\"nodes\":3,\"done\":3,\"in_flight\":0,"
                      "\"failed\":0,\"rolled_back\":0,\"skipped\":0,\"pending\":0,\"batch_size\":1,"
                      "\"max_failures\":0,\"on_failure\":\"pause\",\"stage\":\"\",\"step\":\"\"},"
                      "{\"name\":\"computes\",\"state\":\"running\",\"nodes\":3,\"done\":1,\"in_flight\":1,"
                      "\"failed\":1,\"rolled_back\":0,\"skipped\":0,\"pending\":0,\"batch_size\":2,"
                      "\"max_failures\":1,\"on_failure\":\"rollback_node\",\"stage\":\"\",\"step\":\"\"}],"
                      "\"nodes\":["
                      "{\"node_id\":\"c1\",\"phase\":\"computes\",\"step\":\"done\",\"command\":\"\","
                      "\"command_id\":\"\",\"waiting\":\"\",\"error\":\"\",\"reachable\":true,\"healthy\":true,"
                      "\"halted\":false,\"rollback_pending\":false,\"drained\":false,\"healthy_for_s\":0,"
                      "\"endpoints\":{},\"packages\":{}},"
                      "{\"node_id\":\"c2\",\"phase\":\"computes\",\"step\":\"failed\",\"command\":\"\","
                      "\"command_id\":\"\",\"waiting\":\"\",\"error\":\"install: dpkg failed\","
                      "\"reachable\":true,\"healthy\":false,\"halted\":false,\"rollback_pending\":true,\"drained\":false,"
                      "\"healthy_for_s\":0,\"endpoints\":{},\"packages\":{}},"
                      "{\"node_id\":\"c3\",\"phase\":\"computes\",\"step\":\"verifying\",\"command\":\"restart\","
                      "\"command_id\":\"up-1-9\",\"waiting\":\"quorum cassandra\",\"error\":\"\","
                      "\"reachable\":true,\"healthy\":true,\"halted\":false,\"rollback_pending\":false,\"drained\":false,"
                      "\"healthy_for_s\":12,"
                      "\"endpoints\":{\"controller\":[\"10.0.1.11:5269\",\"10.0.1.12:5269\"],\"collector\":[]},"
                      "\"packages\":{\"contrail-vrouter-agent\":\"2.0-1\"}}],"
                      "\"groups\":[{\"name\":\"cassandra\",\"members\":3,\"down\":1,\"budget\":1}]}\n");
}
END_TEST

START_TEST(test_json_no_upgrade_keeps_the_schema) {
        Hitless__UpgradeStatus st = HITLESS__UPGRADE_STATUS__INIT;
        assert_render(upgrade_status_json, &st,
                      "{\"upgrade_id\":\"\",\"plan_name\":\"\",\"file_name\":\"\",\"started_by\":\"\","
                      "\"started\":0,\"state\":\"\",\"current_phase\":\"\",\"pause_reason\":\"\",\"hold_reason\":\"\",\"message\":\"\","
                      "\"conditions\":[],\"phases\":[],\"nodes\":[],\"groups\":[]}\n");
}
END_TEST

/* ---- the live view ---- */

START_TEST(test_frame_live_and_plain) {
        fixture_t x;
        fixture_init(&x);
        x.n[2].command = "";
        Hitless__UpgradeNodeStatus *c4 = add_node(&x, "c4", "computes", "installing");
        c4->command = "install";
        c4->command_id = "up-1-12";
        static const char head[] =
                "upgrade up-1 (plan contrail-2.0): running, phase computes\n"
                "Upgrading True (computes): 4/6 nodes\n"
                "Error True (step_failed): c2: install: dpkg \"failed\"\n"
                "Complete False\n"
                "  database  [####################]  3/3  finished\n"
                "  computes  [#############.......]  2/3  running, 1 in flight, 1 failed\n"
                "in flight:\n";
        static const char tail[] =
                "  c4  installing  install  healthy\n"
                "waiting:\n"
                "  c3  computes  quorum cassandra\n"
                "errors:\n"
                "  c2  computes  install: dpkg failed\n";
        char live[2048], plain[2048];
        snprintf(live, sizeof live, "%s%s%s", head, "  c3  verifying   -        healthy 12s\n", tail);
        snprintf(plain, sizeof plain, "%s%s%s", head, "  c3  verifying   -        healthy\n", tail);
        assert_render(frame_live, &x.st, live);
        /* Plain frames leave out what changes every second. */
        assert_render(frame_plain, &x.st, plain);
        x.n[2].healthy_for_s = 13;
        assert_render(frame_plain, &x.st, plain);
}
END_TEST

START_TEST(test_frame_lists_are_bounded) {
        fixture_t x;
        fixture_init(&x);
        x.st.n_nodes = 0;
        for (int i = 0; i < UPGRADE_VIEW_LIST_MAX + 3; i++) {
                char id[16];
                snprintf(id, sizeof id, "w%02d", i);
                add_node(&x, id, "computes", "pending")->waiting = "quorum";
        }
        char *got = render(frame_plain, &x.st);
        ck_assert_ptr_nonnull(strstr(got, "  w09  computes  quorum\n  (3 more)\n"));
        ck_assert_ptr_null(strstr(got, "w10"));
        ck_assert_ptr_null(strstr(got, "in flight:"));
        free(got);
}
END_TEST

START_TEST(test_bar) {
        static const struct {
                uint32_t settled, total;
                unsigned width;
                const char *bar;
        } cases[] = {
                { 0, 10, 10, "[..........]" },
                { 3, 10, 10, "[###.......]" },
                { 10, 10, 10, "[##########]" },
                /* Rounds down: a bar is full only when every node is settled. */
                { 2, 3, 4, "[##..]" },
                { 999, 1000, 4, "[###.]" },
                /* Counts off the wire may be anything. */
                { 12, 10, 4, "[####]" },
                { UINT32_MAX, UINT32_MAX, 4, "[####]" },
                { 0, 0, 4, "[####]" },
        };
        char buf[32];
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                upgrade_view_bar(buf, sizeof buf, cases[i].settled, cases[i].total, cases[i].width);
                ck_assert_msg(strcmp(buf, cases[i].bar) == 0, "%u of %u: %s, expected %s", cases[i].settled,
                              cases[i].total, buf, cases[i].bar);
        }
        /* A short buffer is cut, never overrun. */
        upgrade_view_bar(buf, 4, 0, 2, 10);
        ck_assert_str_eq(buf, "[..");
}
END_TEST

START_TEST(test_settled) {
        Hitless__UpgradePhaseStatus p = HITLESS__UPGRADE_PHASE_STATUS__INIT;
        p.nodes = 20;
        p.done = 4;
        p.failed = 3;
        p.rolled_back = 2;
        p.skipped = 1;
        p.in_flight = 5;
        p.pending = 5;
        ck_assert_uint_eq(upgrade_view_settled(&p), 10);
}
END_TEST

START_TEST(test_over_and_exit_code) {
        fixture_t x;
        fixture_init(&x);
        ck_assert(!upgrade_view_over(&x.st));
        x.st.state = "paused";
        ck_assert(!upgrade_view_over(&x.st));
        x.st.state = "waiting_promote";
        ck_assert(!upgrade_view_over(&x.st));

        x.st.state = "complete";
        ck_assert(upgrade_view_over(&x.st));
        ck_assert_int_eq(upgrade_view_exit_code(&x.st), CTL_EXIT_FAILED);   /* Error holds */
        x.c[1].status = false;
        ck_assert_int_eq(upgrade_view_exit_code(&x.st), CTL_EXIT_OK);

        x.st.state = "aborted";
        ck_assert(upgrade_view_over(&x.st));
        ck_assert_int_eq(upgrade_view_exit_code(&x.st), CTL_EXIT_FAILED);

        /* No Error condition at all: complete is success. */
        x.st.state = "complete";
        x.st.n_conditions = 1;
        ck_assert_int_eq(upgrade_view_exit_code(&x.st), CTL_EXIT_OK);
}
END_TEST

START_TEST(test_next_steps_only_when_an_operator_is_needed) {
        Hitless__UpgradeStatus st = HITLESS__UPGRADE_STATUS__INIT;
        static char *const waits[] = { "paused", "waiting_promote" };
        static char *const not[] = { "running", "held", "rolling_back", "complete", "aborted" };
        for (size_t i = 0; i < sizeof waits / sizeof *waits; i++) {
                st.state = waits[i];
                ck_assert_ptr_nonnull(upgrade_view_next_steps(&st));
                ck_assert(strstr(upgrade_view_next_steps(&st), "upgrade abort"));
        }
        st.state = "waiting_promote";
        ck_assert(strstr(upgrade_view_next_steps(&st), "upgrade promote"));
        for (size_t i = 0; i < sizeof not / sizeof *not; i++) {
                st.state = not[i];
                ck_assert_ptr_null(upgrade_view_next_steps(&st));
        }
}
END_TEST

static Suite *upgrade_view_suite(void) {
        Suite *s = suite_create("ctl_upgrade_view");
        TCase *tc = tcase_create("status");
        tcase_add_test(tc, test_text);
        tcase_add_test(tc, test_next_steps_only_when_an_operator_is_needed);
        tcase_add_test(tc, test_text_both_waiting_and_error);
        tcase_add_test(tc, test_no_upgrade);
        tcase_add_test(tc, test_short);
        tcase_add_test(tc, test_short_paused);
        suite_add_tcase(s, tc);

        tc = tcase_create("json");
        tcase_add_test(tc, test_json);
        tcase_add_test(tc, test_json_no_upgrade_keeps_the_schema);
        suite_add_tcase(s, tc);

        tc = tcase_create("watch");
        tcase_add_test(tc, test_frame_live_and_plain);
        tcase_add_test(tc, test_frame_lists_are_bounded);
        tcase_add_test(tc, test_bar);
        tcase_add_test(tc, test_settled);
        tcase_add_test(tc, test_over_and_exit_code);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        setenv("TZ", "UTC", 1);
        tzset();
        SRunner *sr = srunner_create(upgrade_view_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
