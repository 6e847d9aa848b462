/* agent/action_task through agent/actions: a task command against a real
 * policy on a temporary node (tests/helpers/agent_node.h), running real
 * programs: what runs, with which arguments and environment, what is
 * refused before anything runs, undo, failure, timeout, and the snapshot
 * a task that changes the node takes first. */
#include "agent/actions.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/helpers/agent_node.h"

static agent_node_t node;
static journal_t *journal;

/* Programs whose output says what they were given. */
#define POLICY                                                                                            \
        "tasks = ("                                                                                       \
        "  { name = \"sync-start\"; argv = [\"/bin/echo\", \"start\", \"--peers={peers}\", \"{mode}\"];" \
        "    changes = true; undo = \"sync-stop\";"                                                      \
        "    params = ( { name = \"peers\"; kind = \"endpoints\"; },"                                     \
        "               { name = \"mode\"; kind = \"enum\"; values = [\"full\", \"delta\"]; default = \"full\"; } ); }," \
        "  { name = \"sync-stop\"; argv = [\"/bin/echo\", \"stop\", \"{peers}\"]; changes = true;"       \
        "    params = ( { name = \"peers\"; kind = \"endpoints\"; } ); },"                               \
        "  { name = \"env\"; argv = [\"/usr/bin/env\"];"                                                  \
        "    params = ( { name = \"level\"; kind = \"range\"; min = 1; max = 3; } ); },"                 \
        "  { name = \"fails\"; argv = [\"/bin/sh\", \"-c\", \"echo broken; exit 3\"]; },"                \
        "  { name = \"slow\"; argv = [\"/bin/sleep\", \"30\"]; timeout = \"1s\"; },"                     \
        "  { name = \"post-sync\"; argv = [\"/bin/true\"]; changes = true; },"                           \
        "  { name = \"missing\"; argv = [\"/nonexistent/program\"]; }"                                   \
        ");"

static void setup(void) {
        int r = agent_node_create_policy(&node, "[CONTROL-NODE]\nservers = 10.0.0.1:5269\n", POLICY);
        ck_assert_msg(r == 0, "agent_node_create_policy: %s", strerror(-r));
        r = journal_open(node.journal_path, &journal);
        ck_assert_msg(r == 0, "journal_open: %s", strerror(-r));
}

static void teardown(void) {
        journal_close(&journal);
        agent_node_destroy(&node);
}

/* Checks the policy, then (if allowed) runs task name with "k=v" params. */
static void task(const char *name, bool undo, const char *const *params, action_result_t *r) {
        Hitless__Command cmd = HITLESS__COMMAND__INIT;
        Hitless__TaskAction a = HITLESS__TASK_ACTION__INIT;
        Hitless__TaskParam p[8], *pp[8];
        char buf[8][128];
        action_ctx_t ctx = { node.cfg, journal, NULL, NULL };
        size_t n = 0;
        for (; params && params[n]; n++) {
                snprintf(buf[n], sizeof buf[n], "%s", params[n]);
                char *eq = strchr(buf[n], '=');
                *eq = '\0';
                hitless__task_param__init(&p[n]);
                p[n].name = buf[n];
                p[n].value = eq + 1;
                pp[n] = &p[n];
        }
        a.name = (char *) name;
        a.undo = undo;
        a.n_params = n;
        a.params = pp;
        cmd.command_id = "c1";
        cmd.upgrade_id = "up-1";
        cmd.action_case = HITLESS__COMMAND__ACTION_TASK;
        cmd.task = &a;
        if (actions_policy_allows(&ctx, &cmd, r))
                actions_run(&ctx, &cmd, r);
}

static bool snapshot_open(void) {
        journal_snapshot_t s;
        int e = journal_snapshot_find_open(journal, "up-1", &s);
        ck_assert(e == 0 || e == -ENOENT);
        return e == 0;
}

START_TEST(test_task_runs_with_substituted_parameters) {
        action_result_t r = { 0 };
        task("sync-start", false, (const char *[]) { "peers=10.0.0.5:8082,10.0.0.6:8082", NULL }, &r);
        ck_assert_msg(r.state == JCMD_SUCCEEDED, "%s: %s", r.error_code, r.message);
        ck_assert_str_eq(r.output_tail, "start --peers=10.0.0.5:8082,10.0.0.6:8082 full\n");
        ck_assert_msg(strstr(r.message, "task sync-start succeeded"), "%s", r.message);
        action_result_clear(&r);
}
END_TEST

START_TEST(test_task_environment_names_task_command_and_params) {
        action_result_t r = { 0 };
        task("env", false, (const char *[]) { "level=2", NULL }, &r);
        ck_assert_msg(r.state == JCMD_SUCCEEDED, "%s: %s", r.error_code, r.message);
        static const char *const want[] = {
                "HITLESS_TASK=env\n", "HITLESS_COMMAND_ID=c1\n", "HITLESS_UPGRADE_ID=up-1\n",
                "HITLESS_UNDO=0\n", "HITLESS_PARAM_LEVEL=2\n",
        };
        for (size_t i = 0; i < sizeof want / sizeof *want; i++)
                ck_assert_msg(strstr(r.output_tail, want[i]), "no %s in:\n%s", want[i], r.output_tail);
        action_result_clear(&r);
}
END_TEST

/* Refused before anything runs, with the reason: nothing is recorded as
 * changed (no snapshot taken). */
START_TEST(test_task_refusals_run_nothing) {
        static const struct { const char *name; const char *params[3]; const char *code, *why; } cases[] = {
                { "rm-rf", { NULL }, "policy", "task rm-rf is not in this agent's policy" },
                { "sync-start", { NULL }, "bad-param", "needs parameter peers" },
                { "sync-start", { "peers=/etc/shadow", NULL }, "bad-param", "not a host:port list" },
                { "sync-start", { "peers=10.0.0.5:1", "mode=all", NULL }, "bad-param", "mode" },
                { "sync-start", { "peers=10.0.0.5:1", "argv0=/bin/sh", NULL }, "bad-param", "no parameter \"argv0\"" },
                { "env", { "level=4", NULL }, "bad-param", "4 is outside 1..3" },
        };
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                action_result_t r = { 0 };
                task(cases[i].name, false, cases[i].params, &r);
                ck_assert_msg(r.state == JCMD_REFUSED, "case %zu: %d %s", i, r.state, r.message);
                ck_assert_str_eq(r.error_code, cases[i].code);
                ck_assert_msg(strstr(r.message, cases[i].why), "case %zu: %s", i, r.message);
                ck_assert_ptr_null(r.output_tail);
                action_result_clear(&r);
        }
        ck_assert(!snapshot_open());
}
END_TEST

/* A task that changes the node opens the upgrade's snapshot first; a
 * check does not. */
START_TEST(test_changing_task_takes_snapshot_check_does_not) {
        action_result_t r = { 0 };
        task("env", false, (const char *[]) { "level=1", NULL }, &r);
        ck_assert_int_eq(r.state, JCMD_SUCCEEDED);
        ck_assert(!snapshot_open());
        action_result_clear(&r);
        task("post-sync", false, NULL, &r);
        ck_assert_int_eq(r.state, JCMD_SUCCEEDED);
        ck_assert(snapshot_open());
        ck_assert(r.snapshot_id[0]);
        action_result_clear(&r);
}
END_TEST

/* The undo runs the paired task with the parameters it declares. */
START_TEST(test_undo_runs_the_paired_task) {
        action_result_t r = { 0 };
        task("sync-start", true, (const char *[]) { "peers=10.0.0.5:8082", "mode=delta", NULL }, &r);
        ck_assert_msg(r.state == JCMD_SUCCEEDED, "%s: %s", r.error_code, r.message);
        ck_assert_str_eq(r.output_tail, "stop 10.0.0.5:8082\n");
        action_result_clear(&r);
}
END_TEST

START_TEST(test_undo_of_a_check_is_nothing_to_do) {
        action_result_t r = { 0 };
        task("env", true, (const char *[]) { "level=1", NULL }, &r);
        ck_assert_msg(r.state == JCMD_SUCCEEDED, "%s: %s", r.error_code, r.message);
        ck_assert_msg(strstr(r.message, "nothing to undo"), "%s", r.message);
        ck_assert_ptr_null(r.output_tail);
        action_result_clear(&r);
}
END_TEST

/* A change without an undo cannot be undone: said, not pretended. */
START_TEST(test_undo_of_a_change_without_undo_is_refused) {
        action_result_t r = { 0 };
        task("post-sync", true, NULL, &r);
        ck_assert_int_eq(r.state, JCMD_REFUSED);
        ck_assert_str_eq(r.error_code, "no-undo");
        action_result_clear(&r);
}
END_TEST

START_TEST(test_failing_task_fails_with_its_output) {
        action_result_t r = { 0 };
        task("fails", false, NULL, &r);
        ck_assert_int_eq(r.state, JCMD_FAILED);
        ck_assert_str_eq(r.error_code, "task-failed");
        ck_assert_msg(strstr(r.message, "exit 3"), "%s", r.message);
        ck_assert_str_eq(r.output_tail, "broken\n");
        action_result_clear(&r);
        task("missing", false, NULL, &r);
        ck_assert_int_eq(r.state, JCMD_FAILED);
        ck_assert_str_eq(r.error_code, "task-failed");
        ck_assert_msg(strstr(r.message, "/nonexistent/program"), "%s", r.message);
        action_result_clear(&r);
}
END_TEST

START_TEST(test_slow_task_times_out) {
        action_result_t r = { 0 };
        task("slow", false, NULL, &r);
        ck_assert_int_eq(r.state, JCMD_FAILED);
        ck_assert_str_eq(r.error_code, "timeout");
        action_result_clear(&r);
}
END_TEST

int main(void) {
        Suite *su = suite_create("task_action");
        TCase *tc = tcase_create("core");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_task_runs_with_substituted_parameters);
        tcase_add_test(tc, test_task_environment_names_task_command_and_params);
        tcase_add_test(tc, test_task_refusals_run_nothing);
        tcase_add_test(tc, test_changing_task_takes_snapshot_check_does_not);
        tcase_add_test(tc, test_undo_runs_the_paired_task);
        tcase_add_test(tc, test_undo_of_a_check_is_nothing_to_do);
        tcase_add_test(tc, test_undo_of_a_change_without_undo_is_refused);
        tcase_add_test(tc, test_failing_task_fails_with_its_output);
        tcase_add_test(tc, test_slow_task_times_out);
        suite_add_tcase(su, tc);
        SRunner *sr = srunner_create(su);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
