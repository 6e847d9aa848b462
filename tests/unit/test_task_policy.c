/* agent/task_policy: what a policy may declare as a task, and how a
 * command's parameters become an argv. Parsed from libconfig text in
 * memory; every refusal is asserted by the line it reports. */
#include "agent/task_policy.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static config_t cfg;
static conf_report_t report;
static task_config_t *tasks;
static size_t n_tasks;

static void setup(void) {
        config_init(&cfg);
        conf_report_init(&report, "agent.conf");
        tasks = NULL;
        n_tasks = 0;
}

static void teardown(void) {
        task_policy_free(tasks, n_tasks);
        conf_report_free(&report);
        config_destroy(&cfg);
}

/* Parses "tasks = TEXT;": the number of report lines. */
static size_t parse(const char *text) {
        char buf[4096];
        snprintf(buf, sizeof buf, "tasks = %s;\n", text);
        ck_assert_msg(config_read_string(&cfg, buf) == CONFIG_TRUE, "syntax: %s", config_error_text(&cfg));
        task_policy_parse(config_lookup(&cfg, "tasks"), &tasks, &n_tasks, &report);
        for (size_t i = 0; i < report.n_lines; i++)
                fprintf(stderr, "  report: %s\n", report.lines[i]);
        return report.n_lines;
}

static bool reported(const char *needle) {
        for (size_t i = 0; i < report.n_lines; i++)
                if (strstr(report.lines[i], needle))
                        return true;
        return false;
}

#define SYNC_TASKS                                                                                      \
        "( { name = \"issu-run-sync\"; argv = [\"/usr/bin/issu\", \"run-sync\", \"--peers={peers}\", " \
        "\"--mode\", \"{mode}\"]; timeout = \"30s\"; changes = true; undo = \"issu-run-sync-stop\";" \
        "    params = ( { name = \"peers\"; kind = \"endpoints\"; },"                                  \
        "               { name = \"mode\"; kind = \"enum\"; values = [\"full\", \"delta\"]; default = \"delta\"; }," \
        "               { name = \"batch\"; kind = \"range\"; min = 1; max = 100; default = \"10\"; } ); }," \
        "  { name = \"issu-run-sync-stop\"; argv = [\"/usr/bin/issu\", \"stop\", \"{peers}\"]; changes = true;" \
        "    params = ( { name = \"peers\"; kind = \"endpoints\"; } ); }," \
        "  { name = \"in-sync\"; argv = [\"/usr/bin/issu\", \"status\"]; } )"

START_TEST(test_parse_declares_tasks_with_params_and_undo) {
        ck_assert_uint_eq(parse(SYNC_TASKS), 0);
        ck_assert_uint_eq(n_tasks, 3);
        const task_config_t *t = task_policy_find(tasks, n_tasks, "issu-run-sync");
        ck_assert_ptr_nonnull(t);
        ck_assert_int_eq(t->timeout_ms, 30000);
        ck_assert(t->changes);
        ck_assert_str_eq(t->undo, "issu-run-sync-stop");
        ck_assert_uint_eq(t->n_params, 3);
        ck_assert_int_eq(t->params[1].kind, TASK_PARAM_ENUM);
        ck_assert_int_eq(t->params[2].kind, TASK_PARAM_RANGE);
        const task_config_t *check = task_policy_find(tasks, n_tasks, "in-sync");
        ck_assert(!check->changes);
        ck_assert_int_eq(check->timeout_ms, 10 * 60 * 1000);
        ck_assert_ptr_null(task_policy_find(tasks, n_tasks, "rm-rf"));
}
END_TEST

START_TEST(test_parse_refuses_relative_program) {
        ck_assert_uint_eq(parse("( { name = \"t\"; argv = [\"issu\", \"x\"]; } )"), 1);
        ck_assert(reported("agent.conf:1: tasks.[0].argv: must start with an absolute program path"));
}
END_TEST

START_TEST(test_parse_refuses_parameter_in_program_path) {
        ck_assert_uint_eq(parse("( { name = \"t\"; argv = [\"/usr/bin/{p}\"];"
                                " params = ( { name = \"p\"; kind = \"enum\"; values = [\"a\"]; } ); } )"), 1);
        ck_assert(reported("the program path cannot take a parameter"));
}
END_TEST

START_TEST(test_parse_refuses_placeholder_of_no_parameter) {
        ck_assert_uint_eq(parse("( { name = \"t\"; argv = [\"/bin/echo\", \"--to={target}\"]; } )"), 1);
        ck_assert(reported("{target} names no parameter of this task"));
}
END_TEST

START_TEST(test_parse_leaves_other_braces_alone) {
        ck_assert_uint_eq(parse("( { name = \"t\"; argv = [\"/usr/bin/jq\", \"{}\", \"{.A}\"]; } )"), 0);
}
END_TEST

START_TEST(test_parse_refuses_undo_of_no_task) {
        ck_assert_uint_eq(parse("( { name = \"t\"; argv = [\"/bin/true\"]; changes = true; undo = \"u\"; } )"), 1);
        ck_assert(reported("tasks.[0].undo: names no task of this policy (\"u\")"));
}
END_TEST

START_TEST(test_parse_refuses_undo_of_a_check) {
        ck_assert_uint_eq(parse("( { name = \"t\"; argv = [\"/bin/true\"]; undo = \"u\"; },"
                                "  { name = \"u\"; argv = [\"/bin/true\"]; } )"), 1);
        ck_assert(reported("only a task with changes = true has an undo"));
}
END_TEST

/* The undo gets its task's parameters: one it needs that the task does
 * not have could never be given. */
START_TEST(test_parse_refuses_undo_needing_other_parameter) {
        ck_assert_uint_eq(parse("( { name = \"t\"; argv = [\"/bin/true\"]; changes = true; undo = \"u\"; },"
                                "  { name = \"u\"; argv = [\"/bin/echo\", \"{x}\"];"
                                "    params = ( { name = \"x\"; kind = \"range\"; min = 0; max = 9; } ); } )"), 1);
        ck_assert(reported("u needs parameter x, which this task does not have"));
}
END_TEST

START_TEST(test_parse_refuses_duplicates_and_bad_names) {
        ck_assert_uint_eq(parse("( { name = \"t\"; argv = [\"/bin/true\"]; },"
                                "  { name = \"t\"; argv = [\"/bin/true\"]; },"
                                "  { name = \"a b\"; argv = [\"/bin/true\"];"
                                "    params = ( { name = \"Up\"; kind = \"endpoints\"; },"
                                "               { name = \"p\"; kind = \"endpoints\"; },"
                                "               { name = \"p\"; kind = \"endpoints\"; } ); } )"), 4);
        ck_assert(reported("duplicate task name \"t\""));
        ck_assert(reported("tasks.[2].name: must be 1-63 of [A-Za-z0-9._-]"));
        ck_assert(reported("must be 1-32 of [a-z0-9_], starting with a letter"));
        ck_assert(reported("duplicate parameter \"p\""));
}
END_TEST

START_TEST(test_parse_refuses_bad_parameter_declarations) {
        ck_assert_uint_eq(parse("( { name = \"t\"; argv = [\"/bin/true\"]; params = ("
                                "  { name = \"a\"; kind = \"path\"; },"
                                "  { name = \"b\"; kind = \"enum\"; values = []; },"
                                "  { name = \"c\"; kind = \"range\"; min = 5; max = 1; },"
                                "  { name = \"d\"; kind = \"endpoints\"; values = [\"x\"]; },"
                                "  { name = \"e\"; kind = \"range\"; min = 1; max = 3; default = \"7\"; } ); } )"), 5);
        ck_assert(reported("unknown parameter kind \"path\" (enum, endpoints, range)"));
        ck_assert(reported("values: must not be empty"));
        ck_assert(reported("max: must not be below min"));
        ck_assert(reported("values: not used by this parameter kind"));
        ck_assert(reported("default: parameter e: 7 is outside 1..3"));
}
END_TEST

START_TEST(test_parse_refuses_unknown_keys) {
        ck_assert_uint_eq(parse("( { name = \"t\"; argv = [\"/bin/true\"]; shell = true; } )"), 1);
        ck_assert(reported("shell"));
}
END_TEST

/* ---- resolving a command's parameters ---------------------------------------------------- */

static int resolve(const char *task, const task_arg_t *args, size_t n, bool only_declared, char ***argv,
                   char ***env, char *err, size_t err_len) {
        const task_config_t *t = task_policy_find(tasks, n_tasks, task);
        ck_assert_ptr_nonnull(t);
        return task_policy_resolve(t, args, n, only_declared, argv, env, err, err_len);
}

START_TEST(test_resolve_substitutes_and_fills_defaults) {
        task_arg_t args[] = { { "peers", "10.0.0.1:8082, 10.0.0.2:8082" } };
        char **argv = NULL, **env = NULL, err[256] = "";
        ck_assert_uint_eq(parse(SYNC_TASKS), 0);
        ck_assert_int_eq(resolve("issu-run-sync", args, 1, false, &argv, &env, err, sizeof err), 0);
        ck_assert_str_eq(argv[0], "/usr/bin/issu");
        ck_assert_str_eq(argv[1], "run-sync");
        ck_assert_str_eq(argv[2], "--peers=10.0.0.1:8082, 10.0.0.2:8082");
        ck_assert_str_eq(argv[3], "--mode");
        ck_assert_str_eq(argv[4], "delta");
        ck_assert_ptr_null(argv[5]);
        ck_assert_str_eq(env[0], "HITLESS_PARAM_PEERS=10.0.0.1:8082, 10.0.0.2:8082");
        ck_assert_str_eq(env[1], "HITLESS_PARAM_MODE=delta");
        ck_assert_str_eq(env[2], "HITLESS_PARAM_BATCH=10");
        ck_assert_ptr_null(env[3]);
        conf_strv_free(argv);
        conf_strv_free(env);
}
END_TEST

START_TEST(test_resolve_same_placeholder_twice_in_one_argument) {
        char **argv = NULL, **env = NULL, err[256] = "";
        task_arg_t args[] = { { "n", "42" } };
        ck_assert_uint_eq(parse("( { name = \"t\"; argv = [\"/bin/echo\", \"{n}-{n}:{n}\"];"
                                " params = ( { name = \"n\"; kind = \"range\"; min = -50; max = 50; } ); } )"), 0);
        ck_assert_int_eq(resolve("t", args, 1, false, &argv, &env, err, sizeof err), 0);
        ck_assert_str_eq(argv[1], "42-42:42");
        conf_strv_free(argv);
        conf_strv_free(env);
}
END_TEST

/* Every way a value can be wrong is refused with the parameter named. */
START_TEST(test_resolve_refuses_bad_values) {
        static const struct { task_arg_t args[2]; size_t n; const char *why; } cases[] = {
                { { { "peers", "10.0.0.1:8082" }, { "mode", "all; rm -rf /" } }, 2,
                  "parameter mode: \"all; rm -rf /\" is not one of the values the policy allows" },
                { { { "peers", "/etc/shadow" } }, 1, "parameter peers: not a host:port list" },
                { { { "peers", "10.0.0.1" } }, 1, "parameter peers: not a host:port list" },
                { { { "peers", "10.0.0.1:1" }, { "batch", "101" } }, 2, "parameter batch: 101 is outside 1..100" },
                { { { "peers", "10.0.0.1:1" }, { "batch", "0x10" } }, 2, "parameter batch: \"0x10\" is not a decimal" },
                { { { "peers", "10.0.0.1:1" }, { "batch", " 5" } }, 2, "parameter batch: \" 5\" is not a decimal" },
                { { { "peers", "10.0.0.1:1" }, { "batch", "05" } }, 2, "parameter batch: \"05\" is not a decimal" },
                { { { "peers", "10.0.0.1:1" }, { "peers", "10.0.0.2:1" } }, 2, "parameter peers given twice" },
                { { { "peers", "10.0.0.1:1" }, { "path", "/tmp" } }, 2, "task issu-run-sync has no parameter \"path\"" },
                { { { "mode", "full" } }, 1, "task issu-run-sync needs parameter peers" },
        };
        ck_assert_uint_eq(parse(SYNC_TASKS), 0);
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                char **argv = NULL, **env = NULL, err[256] = "";
                int r = resolve("issu-run-sync", cases[i].args, cases[i].n, false, &argv, &env, err, sizeof err);
                ck_assert_msg(r == -EINVAL, "case %zu: %d", i, r);
                ck_assert_msg(strstr(err, cases[i].why), "case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].why);
                ck_assert_ptr_null(argv);
        }
}
END_TEST

/* The undo gets the task's parameters, and takes only those it declares. */
START_TEST(test_resolve_only_declared_skips_the_others) {
        task_arg_t args[] = { { "peers", "10.0.0.1:8082" }, { "mode", "full" } };
        char **argv = NULL, **env = NULL, err[256] = "";
        ck_assert_uint_eq(parse(SYNC_TASKS), 0);
        ck_assert_int_eq(resolve("issu-run-sync-stop", args, 2, false, &argv, &env, err, sizeof err), -EINVAL);
        ck_assert_int_eq(resolve("issu-run-sync-stop", args, 2, true, &argv, &env, err, sizeof err), 0);
        ck_assert_str_eq(argv[2], "10.0.0.1:8082");
        ck_assert_ptr_null(env[1]);
        conf_strv_free(argv);
        conf_strv_free(env);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("task_policy");
        TCase *tc = tcase_create("core");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_parse_declares_tasks_with_params_and_undo);
        tcase_add_test(tc, test_parse_refuses_relative_program);
        tcase_add_test(tc, test_parse_refuses_parameter_in_program_path);
        tcase_add_test(tc, test_parse_refuses_placeholder_of_no_parameter);
        tcase_add_test(tc, test_parse_leaves_other_braces_alone);
        tcase_add_test(tc, test_parse_refuses_undo_of_no_task);
        tcase_add_test(tc, test_parse_refuses_undo_of_a_check);
        tcase_add_test(tc, test_parse_refuses_undo_needing_other_parameter);
        tcase_add_test(tc, test_parse_refuses_duplicates_and_bad_names);
        tcase_add_test(tc, test_parse_refuses_bad_parameter_declarations);
        tcase_add_test(tc, test_parse_refuses_unknown_keys);
        tcase_add_test(tc, test_resolve_substitutes_and_fills_defaults);
        tcase_add_test(tc, test_resolve_same_placeholder_twice_in_one_argument);
        tcase_add_test(tc, test_resolve_refuses_bad_values);
        tcase_add_test(tc, test_resolve_only_declared_skips_the_others);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
