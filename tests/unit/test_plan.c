/* coordinator/plan (plan files) and coordinator/inventory (the inventory
 * in coordinator.conf): typed values and defaults, and every validation
 * error as the exact "FILE:LINE: KEY: message" line an operator sees. */
#include <check.h>
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coordinator/coord_config.h"
#include "coordinator/fleet/inventory.h"
#include "coordinator/upgrade/plan.h"

#define FILE_NAME "plans/contrail-2.0.conf"

static void dump(const conf_report_t *r) {
        for (size_t i = 0; i < r->n_lines; i++)
                fprintf(stderr, "  report[%zu]: %s\n", i, r->lines[i]);
}

static bool has_line(const conf_report_t *r, const char *want) {
        for (size_t i = 0; i < r->n_lines; i++)
                if (strcmp(r->lines[i], want) == 0)
                        return true;
        return false;
}

/* Parses text as FILE_NAME; the plan (or NULL) and the report. */
static int parse(const char *text, plan_t **plan, conf_report_t *r) {
        *plan = NULL;
        conf_report_init(r, FILE_NAME);
        return plan_parse_string(FILE_NAME, text, strlen(text), plan, r);
}

/* Asserts text is refused with (at least) each given line, and with
 * exactly n_lines lines in all. */
static void expect_errors(const char *text, size_t n_lines, ...) {
        conf_report_t r;
        plan_t *plan;
        va_list ap;
        int e = parse(text, &plan, &r);

        if (e != -EINVAL || plan || r.n_lines != n_lines)
                dump(&r);
        ck_assert_int_eq(e, -EINVAL);
        ck_assert_ptr_null(plan);
        va_start(ap, n_lines);
        for (size_t i = 0; i < n_lines; i++) {
                const char *want = va_arg(ap, const char *);
                if (!has_line(&r, want)) {
                        dump(&r);
                        ck_abort_msg("report lacks the line: %s", want);
                }
        }
        va_end(ap);
        ck_assert_uint_eq(r.n_lines, n_lines);
        conf_report_free(&r);
}

/* A valid plan's first lines; tests append one phase (line 5 on). */
#define HEAD \
        "name = \"contrail-2.0\";\n"                                                    /* 1 */ \
        "packages = ( { name = \"contrail-vrouter-agent\"; version = \"2.0-1\"; } );\n" /* 2 */ \
        "phases = (\n"                                                                   /* 3 */ \
        "  {\n"                                                                          /* 4 */
#define PHASE_OK "    name = \"computes\"; nodes = { roles = [\"compute\"]; };\n"

/* ---- a full plan ----------------------------------------------------------- */

static const char *const full_plan =
        "name = \"contrail-2.0\";\n"
        "version_order = \"dpkg\";\n"
        "packages = (\n"
        "  { name = \"contrail-vrouter-agent\"; version = \"2.0-1\"; },\n"
        "  { name = \"python3.11\"; version = \"3.11.2-6\"; },\n"
        "  { name = \"libstdc++6\"; version = \"1:12.2.0-14\"; }\n"
        ");\n"
        "allowed_paths = (\n"
        "  { from = \"1.*\"; to = \"2.*\"; },\n"
        "  { package = \"python3*\"; from = \"3.11.*\"; to = \"3.11.*\"; }\n"
        ");\n"
        "phases = (\n"
        "  { name = \"database\"; nodes = { group = \"cassandra\"; }; batch = 1;\n"
        "    min_healthy_time = \"1m\"; healthy_deadline = \"10m\"; on_failure = \"pause\";\n"
        "    restart = [\"cassandra.service\"]; mode = \"batch\"; },\n"
        "  { name = \"controllers\"; nodes = { list = [\"ctrl1\", \"ctrl2\"]; }; },\n"
        "  { name = \"computes\"; nodes = { roles = [\"compute\", \"vrouter\"]; };\n"
        "    batch = \"25%\"; canary = 1; auto_promote = true; max_failures = \"10%\";\n"
        "    on_failure = \"rollback_node\"; drain = true; pause_between_batches = \"30s\";\n"
        "    repoint = { controller = [\"10.0.0.1:5269\", \"[fd00::2]:5269\"];\n"
        "                collector = [\"collector.example.com:8086\"]; };\n"
        "    restart = [\"contrail-vrouter-agent.service\", \"supervisor-vrouter@main.service\"]; }\n"
        ");\n";

START_TEST(test_full_plan) {
        conf_report_t r;
        plan_t *p;
        int e = parse(full_plan, &p, &r);

        if (e < 0)
                dump(&r);
        ck_assert_int_eq(e, 0);
        ck_assert_uint_eq(r.n_lines, 0);
        ck_assert_str_eq(p->file, FILE_NAME);
        ck_assert_str_eq(p->name, "contrail-2.0");
        ck_assert_int_eq(p->version_order, PLAN_ORDER_DPKG);
        ck_assert_uint_eq(p->n_packages, 3);
        ck_assert_str_eq(p->packages[1].name, "python3.11");
        ck_assert_str_eq(p->packages[2].version, "1:12.2.0-14");
        ck_assert_uint_eq(p->n_paths, 2);
        ck_assert_ptr_null(p->paths[0].package);
        ck_assert_str_eq(p->paths[0].from, "1.*");
        ck_assert_str_eq(p->paths[1].package, "python3*");
        ck_assert_uint_eq(p->n_phases, 3);

        const plan_phase_t *db = &p->phases[0], *ctrl = &p->phases[1], *cp = &p->phases[2];
        ck_assert_str_eq(db->name, "database");
        ck_assert_uint_eq(db->line, 13);
        ck_assert_int_eq(db->select, PLAN_SELECT_GROUP);
        ck_assert_str_eq(db->group, "cassandra");
        ck_assert_str_eq(db->batch, "1");
        ck_assert_int_eq(db->min_healthy_time_ms, 60000);
        ck_assert_int_eq(db->healthy_deadline_ms, 600000);
        ck_assert_int_eq(db->mode, PLAN_MODE_BATCH);
        ck_assert_str_eq(db->restart[0], "cassandra.service");
        ck_assert_ptr_null(db->restart[1]);

        /* Defaults. */
        ck_assert_int_eq(ctrl->select, PLAN_SELECT_LIST);
        ck_assert_str_eq(ctrl->list[1], "ctrl2");
        ck_assert_str_eq(ctrl->batch, "1");
        ck_assert_int_eq(ctrl->canary, 0);
        ck_assert(!ctrl->auto_promote);
        ck_assert_str_eq(ctrl->max_failures, "0");
        ck_assert_int_eq(ctrl->min_healthy_time_ms, 30000);
        ck_assert_int_eq(ctrl->healthy_deadline_ms, 300000);
        ck_assert_int_eq(ctrl->on_failure, PLAN_ON_FAILURE_PAUSE);
        ck_assert(!ctrl->drain);
        ck_assert_uint_eq(ctrl->n_repoint, 0);
        ck_assert_ptr_nonnull(ctrl->restart);
        ck_assert_ptr_null(ctrl->restart[0]);
        ck_assert_int_eq(ctrl->pause_between_batches_ms, 0);
        ck_assert_int_eq(ctrl->mode, PLAN_MODE_ROLLING);

        ck_assert_int_eq(cp->select, PLAN_SELECT_ROLES);
        ck_assert_str_eq(cp->roles[1], "vrouter");
        ck_assert_str_eq(cp->batch, "25%");
        ck_assert_int_eq(cp->canary, 1);
        ck_assert(cp->auto_promote);
        ck_assert_str_eq(cp->max_failures, "10%");
        ck_assert_int_eq(cp->on_failure, PLAN_ON_FAILURE_ROLLBACK_NODE);
        ck_assert(cp->drain);
        ck_assert_int_eq(cp->pause_between_batches_ms, 30000);
        ck_assert_uint_eq(cp->n_repoint, 2);
        ck_assert_str_eq(cp->repoint[0].kind, "controller");
        ck_assert_str_eq(cp->repoint[0].endpoints[1], "[fd00::2]:5269");
        ck_assert_str_eq(cp->repoint[1].kind, "collector");
        ck_assert_str_eq(cp->restart[1], "supervisor-vrouter@main.service");

        plan_free(&p);
        ck_assert_ptr_null(p);
        plan_free(&p);
        conf_report_free(&r);
}
END_TEST

START_TEST(test_plan_load_names_the_path) {
        char dir[] = "/tmp/test_plan.XXXXXX", path[64];
        conf_report_t r;
        plan_t *p = NULL;
        FILE *f;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/p.conf", dir);
        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(full_plan, f);
        fputs("surprise = 1;\n", f);
        ck_assert_int_eq(fclose(f), 0);

        conf_report_init(&r, path);
        ck_assert_int_eq(plan_load(path, &p, &r), -EINVAL);
        ck_assert_ptr_null(p);
        ck_assert_uint_eq(r.n_lines, 1);
        char want[128];
        snprintf(want, sizeof want, "%s:24: surprise: unknown key", path);
        ck_assert_str_eq(r.lines[0], want);
        conf_report_free(&r);

        conf_report_init(&r, "missing");
        snprintf(want, sizeof want, "%s/absent.conf", dir);
        ck_assert_int_eq(plan_load(want, &p, &r), -ENOENT);
        ck_assert_uint_eq(r.n_lines, 1);
        conf_report_free(&r);
        unlink(path);
        rmdir(dir);
}
END_TEST

/* ---- top level -------------------------------------------------------------- */

START_TEST(test_syntax_include_nul_size) {
        conf_report_t r;
        plan_t *p;

        expect_errors("name = \"x\";\nphases = ( { name = \"a\" }\n", 1,
                      FILE_NAME ":3: syntax error");  /* libconfig's text not twice */
        /* @include would make the coordinator read a file of its own. */
        expect_errors("name = \"x\";\n  @include \"/etc/shadow\"\n", 1,
                      FILE_NAME ":2: @include: not allowed in a plan");

        conf_report_init(&r, FILE_NAME);
        ck_assert_int_eq(plan_parse_string(FILE_NAME, "name = \"x\";\0rest", 16, &p, &r), -EINVAL);
        ck_assert_str_eq(r.lines[0], FILE_NAME ": not a text file (holds a NUL byte)");
        conf_report_free(&r);

        char *big = malloc(PLAN_MAX_BYTES + 2);
        ck_assert_ptr_nonnull(big);
        memset(big, ' ', PLAN_MAX_BYTES + 1);
        big[PLAN_MAX_BYTES + 1] = '\0';
        conf_report_init(&r, FILE_NAME);
        ck_assert_int_eq(plan_parse_string(FILE_NAME, big, PLAN_MAX_BYTES + 1, &p, &r), -EFBIG);
        ck_assert_str_eq(r.lines[0], FILE_NAME ": the plan is larger than 61440 bytes");
        conf_report_free(&r);
        /* Exactly the limit is fine as far as size goes. */
        conf_report_init(&r, FILE_NAME);
        ck_assert_int_eq(plan_parse_string(FILE_NAME, big, PLAN_MAX_BYTES, &p, &r), -EINVAL);
        ck_assert(!has_line(&r, FILE_NAME ": the plan is larger than 61440 bytes"));
        conf_report_free(&r);
        free(big);
}
END_TEST

START_TEST(test_root_errors) {
        expect_errors("bogus = 1;\n", 4,
                      FILE_NAME ":1: bogus: unknown key",
                      FILE_NAME ": name: missing (required)",
                      FILE_NAME ": packages: missing (required)",
                      FILE_NAME ": phases: missing (required)");
        expect_errors("name = \"contrail 2.0\";\n"
                      "version_order = \"deb\";\n"
                      "packages = ( { name = \"a\"; version = \"1\"; } );\n"
                      "phases = ( { name = \"p\"; nodes = { roles = [\"r\"]; }; } );\n", 2,
                      FILE_NAME ":1: name: \"contrail 2.0\" must be 1-63 of [A-Za-z0-9._-]",
                      FILE_NAME ":2: version_order: \"deb\" is not one of \"auto\", \"dpkg\" or \"rpm\"");
        expect_errors("name = \"x\";\n"
                      "packages = ( { name = \"a\"; version = \"1\"; } );\n"
                      "phases = ();\n", 1,
                      FILE_NAME ":3: phases: must not be empty");
        expect_errors("name = \"x\";\n"
                      "packages = ( { name = \"a\"; version = \"1\"; } );\n"
                      "phases = ( \"database\" );\n", 1,
                      FILE_NAME ":3: phases.[0]: must be a list of phases: "
                      "( { name = \"database\"; nodes = { ... }; ... }, ... )");
}
END_TEST

START_TEST(test_package_errors) {
        /* The group form is not the format: the message shows the right one. */
        expect_errors("name = \"x\";\n"
                      "packages = { contrail-vrouter-agent = \"2.0-1\"; };\n"
                      "phases = ( { name = \"p\"; nodes = { roles = [\"r\"]; }; } );\n", 1,
                      FILE_NAME ":2: packages: must be a list of packages: "
                      "( { name = \"contrail-vrouter-agent\"; version = \"2.0-1\"; }, ... )");
        expect_errors("name = \"x\";\n"
                      "packages = ();\n"
                      "phases = ( { name = \"p\"; nodes = { roles = [\"r\"]; }; } );\n", 1,
                      FILE_NAME ":2: packages: must not be empty");
        expect_errors("name = \"x\";\n"
                      "packages = (\n"
                      "  { name = \"-bad\"; version = \"1.0\"; },\n"
                      "  { name = \"ok\"; version = \"1.0 beta\"; },\n"
                      "  { name = \"ok\"; version = \"2.0\"; arch = \"amd64\"; },\n"
                      "  { name = \"other\"; }\n"
                      ");\n"
                      "phases = ( { name = \"p\"; nodes = { roles = [\"r\"]; }; } );\n", 5,
                      FILE_NAME ":3: packages.[0].name: \"-bad\" is not a package name ([A-Za-z0-9._+-], "
                      "starting with a letter or digit)",
                      FILE_NAME ":4: packages.[1].version: \"1.0 beta\" is not a valid dpkg or rpm version",
                      FILE_NAME ":5: packages.[2].arch: unknown key",
                      FILE_NAME ":5: packages.[2].name: package \"ok\" is listed twice",
                      FILE_NAME ":6: packages.[3].version: missing (required)");
        /* version_order decides which versions are valid: "2.0-1-1" is a
         * dpkg version (revision "1") but not an rpm one (two '-'). */
        expect_errors("name = \"x\";\n"
                      "version_order = \"rpm\";\n"
                      "packages = ( { name = \"a\"; version = \"2.0-1-1\"; } );\n"
                      "phases = ( { name = \"p\"; nodes = { roles = [\"r\"]; }; } );\n", 1,
                      FILE_NAME ":3: packages.[0].version: \"2.0-1-1\" is not a valid rpm version");
}
END_TEST

START_TEST(test_path_errors) {
        expect_errors("name = \"x\";\n"
                      "packages = ( { name = \"a\"; version = \"2.0\"; } );\n"
                      "allowed_paths = (\n"
                      "  { from = \"1.*\"; },\n"
                      "  { from = \"1 .*\"; to = \"2.*\"; package = \"a/b\"; },\n"
                      "  { from = \"1.*\"; to = \"2.*\"; via = \"1.5\"; }\n"
                      ");\n"
                      "phases = ( { name = \"p\"; nodes = { roles = [\"r\"]; }; } );\n", 4,
                      FILE_NAME ":4: allowed_paths.[0].to: missing (required)",
                      FILE_NAME ":5: allowed_paths.[1].package: \"a/b\" is not a pattern of "
                      "[A-Za-z0-9.+~:_^-] and *?[]!",
                      FILE_NAME ":5: allowed_paths.[1].from: \"1 .*\" is not a pattern of "
                      "[A-Za-z0-9.+~:_^-] and *?[]!",
                      FILE_NAME ":6: allowed_paths.[2].via: unknown key");
        expect_errors("name = \"x\";\n"
                      "packages = ( { name = \"a\"; version = \"2.0\"; } );\n"
                      "allowed_paths = ();\n"
                      "phases = ( { name = \"p\"; nodes = { roles = [\"r\"]; }; } );\n", 1,
                      FILE_NAME ":3: allowed_paths: must not be empty (leave it out to allow every path)");
}
END_TEST

/* ---- phases ----------------------------------------------------------------- */

START_TEST(test_phase_name_and_nodes_errors) {
        expect_errors(HEAD "    nodes = { roles = [\"compute\"]; }; colour = \"blue\";\n  }\n);\n", 2,
                      FILE_NAME ":4: phases.[0].name: missing (required)",
                      FILE_NAME ":5: phases.[0].colour: unknown key");
        expect_errors(HEAD PHASE_OK "  },\n"
                      "  { name = \"computes\"; nodes = { list = [\"c1\", \"c1\"]; }; },\n"
                      "  { name = \"a b\"; nodes = { group = \"no such\"; }; },\n"
                      "  { name = \"c\"; nodes = { roles = []; }; },\n"
                      "  { name = \"d\"; nodes = { roles = [\"x\"]; list = [\"n\"]; }; },\n"
                      "  { name = \"e\"; nodes = { hosts = [\"n\"]; }; },\n"
                      "  { name = \"f\"; nodes = [\"n\"]; },\n"
                      "  { name = \"g\"; }\n"
                      ");\n", 10,
                      FILE_NAME ":7: phases.[1].name: \"computes\" is already the name of phase 1",
                      FILE_NAME ":7: phases.[1].nodes.list.[1]: \"c1\" is listed twice",
                      FILE_NAME ":8: phases.[2].name: \"a b\" must be 1-63 of [A-Za-z0-9._-]",
                      FILE_NAME ":8: phases.[2].nodes.group: \"no such\" must be 1-63 of [A-Za-z0-9._-]",
                      FILE_NAME ":9: phases.[3].nodes.roles: must not be empty",
                      FILE_NAME ":10: phases.[4].nodes: give exactly one of roles = [...], group = \"...\" or list = [...]",
                      FILE_NAME ":11: phases.[5].nodes.hosts: unknown key",
                      FILE_NAME ":11: phases.[5].nodes: give exactly one of roles = [...], group = \"...\" or list = [...]",
                      FILE_NAME ":12: phases.[6].nodes: must be a group: { roles = [...]; } or { group = \"...\"; } "
                      "or { list = [...]; }",
                      FILE_NAME ":13: phases.[7].nodes: missing (required)");
}
END_TEST

START_TEST(test_phase_count_errors) {
        expect_errors(HEAD PHASE_OK
                      "    batch = 0; canary = -1; max_failures = -1;\n"
                      "  },\n"
                      "  { name = \"b\"; nodes = { roles = [\"r\"]; }; batch = \"0%\"; max_failures = \"ten\"; },\n"
                      "  { name = \"c\"; nodes = { roles = [\"r\"]; }; batch = \"150%\"; max_failures = \"101%\"; },\n"
                      "  { name = \"d\"; nodes = { roles = [\"r\"]; }; batch = true; max_failures = 1.5; },\n"
                      "  { name = \"e\"; nodes = { roles = [\"r\"]; }; batch = \" 5\"; },\n"
                      "  { name = \"f\"; nodes = { list = [\"n1\", \"n2\"]; }; canary = 3; },\n"
                      "  { name = \"g\"; nodes = { list = [\"n1\", \"n2\"]; }; canary = 2; batch = 1; }\n"
                      ");\n", 11,
                      FILE_NAME ":6: phases.[0].batch: 0 is out of range [1, 1000000]",
                      FILE_NAME ":6: phases.[0].canary: -1 is out of range [0, 1000000]",
                      FILE_NAME ":6: phases.[0].max_failures: -1 is out of range [0, 1000000]",
                      FILE_NAME ":8: phases.[1].batch: \"0%\" must be a count of at least 1 (3) or a "
                      "percentage of the phase (\"25%\")",
                      FILE_NAME ":8: phases.[1].max_failures: \"ten\" must be a count (0 stops at the first "
                      "failure) or a percentage of the phase (\"10%\")",
                      FILE_NAME ":9: phases.[2].batch: \"150%\": a percentage must be at most 100%, a count at "
                      "most 1000000",
                      FILE_NAME ":9: phases.[2].max_failures: \"101%\": a percentage must be at most 100%, a "
                      "count at most 1000000",
                      FILE_NAME ":10: phases.[3].batch: must be a count of at least 1 (3) or a percentage of "
                      "the phase (\"25%\")",
                      FILE_NAME ":10: phases.[3].max_failures: must be a count (0 stops at the first failure) "
                      "or a percentage of the phase (\"10%\")",
                      FILE_NAME ":11: phases.[4].batch: \" 5\" must be a count of at least 1 (3) or a "
                      "percentage of the phase (\"25%\")",
                      FILE_NAME ":12: phases.[5].canary: 3 is more than the 2 nodes the phase lists: "
                      "at most every node is a canary");
}
END_TEST

START_TEST(test_phase_duration_and_word_errors) {
        expect_errors(HEAD PHASE_OK
                      "    min_healthy_time = \"5x\"; pause_between_batches = -1;\n"
                      "    on_failure = \"explode\"; mode = \"parallel\"; drain = \"yes\"; auto_promote = 1;\n"
                      "  },\n"
                      "  { name = \"b\"; nodes = { roles = [\"r\"]; };\n"
                      "    min_healthy_time = \"10m\"; healthy_deadline = \"5m\"; },\n"
                      "  { name = \"c\"; nodes = { roles = [\"r\"]; }; min_healthy_time = \"6m\"; },\n"
                      "  { name = \"d\"; nodes = { roles = [\"r\"]; }; healthy_deadline = \"500ms\"; }\n"
                      ");\n", 9,
                      FILE_NAME ":6: phases.[0].min_healthy_time: must be a duration: seconds, or a string "
                      "like \"500ms\", \"5s\", \"2m\"",
                      FILE_NAME ":6: phases.[0].pause_between_batches: -1000ms is out of range [0ms, 2592000000ms]",
                      FILE_NAME ":7: phases.[0].on_failure: \"explode\" is not one of \"pause\", "
                      "\"rollback_node\" or \"rollback_phase\"",
                      FILE_NAME ":7: phases.[0].mode: \"parallel\" is not one of \"rolling\" or \"batch\"",
                      FILE_NAME ":7: phases.[0].drain: must be true or false",
                      FILE_NAME ":7: phases.[0].auto_promote: must be true or false",
                      FILE_NAME ":10: phases.[1].healthy_deadline: healthy_deadline (300000ms) must be at "
                      "least min_healthy_time (600000ms)",
                      /* Only min_healthy_time given: the default deadline (5m) is too short. */
                      FILE_NAME ":11: phases.[2].min_healthy_time: healthy_deadline (300000ms) must be at "
                      "least min_healthy_time (360000ms)",
                      FILE_NAME ":12: phases.[3].healthy_deadline: 500ms is out of range [1000ms, 2592000000ms]");
}
END_TEST

START_TEST(test_phase_repoint_and_restart_errors) {
        expect_errors(HEAD PHASE_OK
                      "    repoint = { controller = [\"10.0.0.1:5269\", \"10.0.0.300:5269\",\n"
                      "                              \"10.0.0.1:5269\", \"ctrl2\"];\n"
                      "                collector = []; dns = \"10.0.0.1:53\"; };\n"
                      "    restart = [\"vrouter\", \"a.service\", \"a.service\", \"../x.service\"];\n"
                      "  },\n"
                      "  { name = \"b\"; nodes = { roles = [\"r\"]; }; repoint = {}; },\n"
                      "  { name = \"c\"; nodes = { roles = [\"r\"]; }; repoint = [\"10.0.0.1:1\"]; }\n"
                      ");\n", 10,
                      FILE_NAME ":6: phases.[0].repoint.controller.[1]: '10.0.0.300:5269': bad IPv4 address",
                      FILE_NAME ":7: phases.[0].repoint.controller.[2]: \"10.0.0.1:5269\" is listed twice",
                      FILE_NAME ":7: phases.[0].repoint.controller.[3]: 'ctrl2': missing ':port'",
                      FILE_NAME ":8: phases.[0].repoint.collector: must list at least one host:port",
                      FILE_NAME ":8: phases.[0].repoint.dns: must be a list of strings, like [\"a\", \"b\"]",
                      FILE_NAME ":9: phases.[0].restart.[0]: \"vrouter\" is not a unit name like "
                      "\"contrail-vrouter-agent.service\"",
                      FILE_NAME ":9: phases.[0].restart.[2]: \"a.service\" is listed twice",
                      FILE_NAME ":9: phases.[0].restart.[3]: \"../x.service\" is not a unit name like "
                      "\"contrail-vrouter-agent.service\"",
                      FILE_NAME ":11: phases.[1].repoint: must name at least one endpoint kind",
                      FILE_NAME ":12: phases.[2].repoint: must be a group of endpoint lists: "
                      "{ controller = [\"10.0.0.1:5269\", ...]; collector = [...]; }");
}
END_TEST

START_TEST(test_names) {
        ck_assert(plan_package_name_valid("contrail-vrouter-agent"));
        ck_assert(plan_package_name_valid("libstdc++6"));
        ck_assert(plan_package_name_valid("python3.11"));
        ck_assert(plan_package_name_valid("NetworkManager_x"));
        ck_assert(!plan_package_name_valid(""));
        ck_assert(!plan_package_name_valid(NULL));
        ck_assert(!plan_package_name_valid("+x"));
        ck_assert(!plan_package_name_valid("a b"));
        ck_assert(!plan_package_name_valid("a/b"));
        ck_assert(!plan_package_name_valid("a;rm"));
        ck_assert_str_eq(plan_on_failure_name(PLAN_ON_FAILURE_ROLLBACK_PHASE), "rollback_phase");
        ck_assert_str_eq(plan_mode_name(PLAN_MODE_BATCH), "batch");
        ck_assert_str_eq(plan_version_order_name(PLAN_ORDER_AUTO), "auto");
        ck_assert_str_eq(plan_mode_name((plan_mode_t) 42), "unknown");
}
END_TEST

/* ---- the inventory (coordinator.conf) ---------------------------------------- */

static char conf_path[64];

static int load_coord(const char *text, coord_config_t **c, conf_report_t *r) {
        char dir[] = "/tmp/test_plan_inv.XXXXXX";
        FILE *f;
        int e;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(conf_path, sizeof conf_path, "%s/coordinator.conf", dir);
        f = fopen(conf_path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        ck_assert_int_eq(fclose(f), 0);
        *c = NULL;
        conf_report_init(r, conf_path);
        e = coord_config_load(conf_path, c, r);
        unlink(conf_path);
        rmdir(dir);
        return e;
}

/* Asserts the config is refused with exactly these "LINE: rest" lines. */
static void expect_inventory_errors(const char *text, size_t n_lines, ...) {
        coord_config_t *c;
        conf_report_t r;
        va_list ap;
        int e = load_coord(text, &c, &r);

        if (e != -EINVAL || r.n_lines != n_lines)
                dump(&r);
        ck_assert_int_eq(e, -EINVAL);
        ck_assert_ptr_null(c);
        va_start(ap, n_lines);
        for (size_t i = 0; i < n_lines; i++) {
                char want[512];
                snprintf(want, sizeof want, "%s:%s", conf_path, va_arg(ap, const char *));
                if (!has_line(&r, want)) {
                        dump(&r);
                        ck_abort_msg("report lacks the line: %s", want);
                }
        }
        va_end(ap);
        ck_assert_uint_eq(r.n_lines, n_lines);
        conf_report_free(&r);
}

START_TEST(test_inventory_valid) {
        coord_config_t *c;
        conf_report_t r;
        int e = load_coord(
                "groups = ( { name = \"computes\"; roles = [\"compute\"]; },\n"
                "           { name = \"edge\"; nodes = [\"c1\", \"c2\"]; } );\n"
                "quorum_groups = (\n"
                "  { name = \"cassandra\"; members = [\"db1\", \"db2\", \"db3\"]; max_down = 1; },\n"
                "  { name = \"zookeeper\"; members = [\"db1\", \"db2\", \"db3\", \"db4\", \"db5\"]; },\n"
                "  { name = \"strict\"; members = [\"db3\", \"db4\", \"db5\"]; max_down = 0; },\n"
                "  { name = \"pair\"; members = [\"x1\", \"x2\"]; }\n"
                ");\n"
                "role_overrides = ( { node = \"db4\"; roles = [\"database\"]; },\n"
                "                   { node = \"c9\"; roles = []; } );\n",
                &c, &r);

        if (e < 0)
                dump(&r);
        ck_assert_int_eq(e, 0);
        const inventory_t *inv = &c->inventory;
        ck_assert_uint_eq(inv->n_groups, 2);
        ck_assert_str_eq(inv->groups[0].roles[0], "compute");
        ck_assert_ptr_null(inv->groups[0].nodes);
        ck_assert_str_eq(inv->groups[1].nodes[1], "c2");
        ck_assert_ptr_null(inv->groups[1].roles);
        ck_assert_uint_eq(inv->n_quorum_groups, 4);
        /* Configured, default (5 members: 2), explicit 0, default for 2 members (0). */
        ck_assert_int_eq(inv->quorum_groups[0].max_down, 1);
        ck_assert(inv->quorum_groups[0].max_down_set);
        ck_assert_uint_eq(inv->quorum_groups[1].n_members, 5);
        ck_assert_int_eq(inv->quorum_groups[1].max_down, 2);
        ck_assert(!inv->quorum_groups[1].max_down_set);
        ck_assert_int_eq(inv->quorum_groups[2].max_down, 0);
        ck_assert_int_eq(inv->quorum_groups[3].max_down, 0);
        ck_assert_uint_eq(inv->n_role_overrides, 2);
        ck_assert_ptr_null(inv->role_overrides[1].roles[0]);

        ck_assert_ptr_eq(inventory_find_group(inv, "edge"), &inv->groups[1]);
        ck_assert_ptr_null(inventory_find_group(inv, "cassandra"));
        ck_assert_ptr_eq(inventory_find_quorum_group(inv, "zookeeper"), &inv->quorum_groups[1]);
        ck_assert_ptr_eq(inventory_find_override(inv, "db4"), &inv->role_overrides[0]);
        ck_assert_ptr_null(inventory_find_override(inv, "db1"));
        coord_config_free(&c);
        conf_report_free(&r);

        /* No inventory at all is fine. */
        ck_assert_int_eq(load_coord("max_nodes = 5;\n", &c, &r), 0);
        ck_assert_uint_eq(c->inventory.n_groups + c->inventory.n_quorum_groups +
                          c->inventory.n_role_overrides, 0);
        coord_config_free(&c);
        conf_report_free(&r);
}
END_TEST

START_TEST(test_inventory_errors) {
        expect_inventory_errors(
                "quorum_groups = (\n"
                "  { name = \"cassandra\"; members = [\"db1\", \"db2\", \"db3\"]; max_down = 2; },\n"
                "  { name = \"pair\"; members = [\"x1\", \"x2\"]; max_down = 1; },\n"
                "  { name = \"seven\"; members = [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\"];\n"
                "    max_down = 4; },\n"
                "  { name = \"neg\"; members = [\"a\"]; max_down = -1; }\n"
                ");\n", 4,
                "2: quorum_groups.[0].max_down: 2 is more than a group of 3 members tolerates without "
                "losing quorum (at most 1: n - (floor(n/2) + 1))",
                "3: quorum_groups.[1].max_down: 1 is more than a group of 2 members tolerates without "
                "losing quorum (at most 0: n - (floor(n/2) + 1))",
                "5: quorum_groups.[2].max_down: 4 is more than a group of 7 members tolerates without "
                "losing quorum (at most 3: n - (floor(n/2) + 1))",
                "6: quorum_groups.[3].max_down: -1 is out of range [0, 1000000]");
        expect_inventory_errors(
                "groups = (\n"
                "  { name = \"both\"; roles = [\"compute\"]; nodes = [\"c1\"]; },\n"
                "  { name = \"neither\"; },\n"
                "  { name = \"cassandra\"; nodes = [\"c1\", \"c1\"]; colour = 1; },\n"
                "  { roles = [\"x y\"]; }\n"
                ");\n"
                "quorum_groups = (\n"
                "  { name = \"cassandra\"; members = []; },\n"
                "  { name = \"q\"; members = [\"db1\", \"db1\"]; size = 3; },\n"
                "  { members = [\"db1\"]; }\n"
                ");\n"
                "role_overrides = ( { node = \"db4\"; roles = [\"database\"]; },\n"
                "                   { node = \"db4\"; roles = [\"compute\"]; },\n"
                "                   { roles = [\"compute\"]; } );\n", 13,
                "2: groups.[0]: give either roles = [...] or nodes = [...]",
                "3: groups.[1]: give either roles = [...] or nodes = [...]",
                "4: groups.[2].colour: unknown key",
                "4: groups.[2].nodes.[1]: \"c1\" is listed twice",
                "5: groups.[3].name: missing (required)",
                "5: groups.[3].roles.[0]: \"x y\" must be 1-63 of [A-Za-z0-9._-]",
                /* Groups and quorum groups share one namespace. */
                "8: quorum_groups.[0].name: \"cassandra\" is already the name of a group",
                "8: quorum_groups.[0].members: must not be empty",
                "9: quorum_groups.[1].size: unknown key",
                "9: quorum_groups.[1].members.[1]: \"db1\" is listed twice",
                "10: quorum_groups.[2].name: missing (required)",
                "13: role_overrides.[1].node: \"db4\" already has an override",
                "14: role_overrides.[2].node: missing (required)");
}
END_TEST

START_TEST(test_inventory_shapes) {
        expect_inventory_errors(
                "groups = { name = \"x\"; };\n"
                "quorum_groups = ( \"db1\" );\n"
                "role_overrides = [ \"db4\" ];\n", 3,
                "1: groups: must be a list of groups: ( { name = ...; ... }, ... )",
                "2: quorum_groups.[0]: must be a group { name = ...; members = [...]; }",
                "3: role_overrides: must be a list of groups: ( { name = ...; ... }, ... )");
}
END_TEST

/* The example plans the coordinator package installs (and hitless-plan(5)
 * points to) parse without a single error line. */
START_TEST(test_packaged_examples) {
        const char *top = getenv("TOP") ? getenv("TOP") : ".";
        char pattern[4096];
        glob_t g;
        snprintf(pattern, sizeof pattern, "%s/packaging/examples/*.plan", top);
        ck_assert_int_eq(glob(pattern, 0, NULL, &g), 0);
        ck_assert_uint_ge(g.gl_pathc, 2);
        for (size_t i = 0; i < g.gl_pathc; i++) {
                conf_report_t r;
                plan_t *plan = NULL;
                conf_report_init(&r, g.gl_pathv[i]);
                int e = plan_load(g.gl_pathv[i], &plan, &r);
                if (e != 0)
                        dump(&r);
                ck_assert_msg(e == 0 && r.n_lines == 0, "%s does not parse", g.gl_pathv[i]);
                ck_assert_uint_ge(plan->n_phases, 1);
                plan_free(&plan);
                conf_report_free(&r);
        }
        globfree(&g);
}
END_TEST

/* ---- steps (plan_steps.h) ---------------------------------------------------- */

START_TEST(test_steps_parsed_in_place) {
        conf_report_t r;
        plan_t *plan;
        const char *text = HEAD PHASE_OK
                "    before = ( { task = \"issu-run-sync\"; node = \"ctrl-new1\";\n"          /* 6 */
                "                 params = { peers = \"10.0.0.1:8082\"; batch = 10; }; } );\n"
                "    pre = ( { task = \"ready\"; } );\n"                                       /* 8 */
                "    post = ( { unit = \"start\"; units = [\"a.service\", \"b.service\"]; } );\n"
                "    after = ( { unit = \"stop\"; units = [\"issu.service\"]; group = \"ctrl-new\"; } );\n"
                "    wait_for = ( { task = \"in-sync\"; node = \"ctrl-new1\"; deadline = \"10m\"; } );\n"
                "  }\n);\n";
        int e = parse(text, &plan, &r);
        if (e < 0)
                dump(&r);
        ck_assert_int_eq(e, 0);
        const plan_phase_t *ph = &plan->phases[0];
        const plan_step_t *b = &ph->steps[PLAN_STAGE_BEFORE].v[0];
        ck_assert_uint_eq(ph->steps[PLAN_STAGE_BEFORE].n, 1);
        ck_assert_int_eq(b->kind, PLAN_STEP_TASK);
        ck_assert_str_eq(b->task, "issu-run-sync");
        ck_assert_str_eq(b->node, "ctrl-new1");
        ck_assert_uint_eq(b->line, 6);
        ck_assert_uint_eq(b->n_params, 2);
        ck_assert_str_eq(b->params[0].name, "peers");
        ck_assert_str_eq(b->params[1].value, "10");
        char buf[256];
        ck_assert_str_eq(plan_step_describe(b, buf, sizeof buf), "task issu-run-sync peers=10.0.0.1:8082 batch=10");
        ck_assert_str_eq(plan_step_describe(&ph->steps[PLAN_STAGE_POST].v[0], buf, sizeof buf),
                         "start a.service b.service");
        const plan_step_t *a = &ph->steps[PLAN_STAGE_AFTER].v[0];
        ck_assert_int_eq(a->kind, PLAN_STEP_STOP);
        ck_assert_str_eq(a->group, "ctrl-new");
        const plan_step_t *g = &ph->steps[PLAN_STAGE_WAIT_FOR].v[0];
        ck_assert_int_eq(g->deadline_ms, 600000);
        ck_assert_int_eq(g->interval_ms, 10000);
        ck_assert_ptr_null(ph->steps[PLAN_STAGE_PRE].v[0].node);
        plan_free(&plan);
        conf_report_free(&r);
}
END_TEST

START_TEST(test_plan_without_steps_has_none) {
        conf_report_t r;
        plan_t *plan;
        ck_assert_int_eq(parse(HEAD PHASE_OK "  }\n);\n", &plan, &r), 0);
        plan_free(&plan);
        conf_report_free(&r);
}
END_TEST

START_TEST(test_step_errors) {
        expect_errors(HEAD PHASE_OK "    wait_for = ( { task = \"in-sync\"; node = \"c1\"; } );\n  }\n);\n", 1,
                      FILE_NAME ":6: phases.[0].wait_for.[0].deadline: missing (required)");
        expect_errors(HEAD PHASE_OK "    before = ( { task = \"x\"; } );\n  }\n);\n", 1,
                      FILE_NAME ":6: phases.[0].before.[0]: a before step names where it runs: node = \"...\" or "
                      "group = \"...\" (one of them)");
        expect_errors(HEAD PHASE_OK "    after = ( { task = \"x\"; node = \"a\"; group = \"g\"; } );\n  }\n);\n", 1,
                      FILE_NAME ":6: phases.[0].after.[0]: a after step names where it runs: node = \"...\" or "
                      "group = \"...\" (one of them)");
        expect_errors(HEAD PHASE_OK "    pre = ( { task = \"x\"; node = \"c1\"; } );\n  }\n);\n", 1,
                      FILE_NAME ":6: phases.[0].pre.[0].node: a pre step runs on each node of the phase: it names "
                      "no node or group");
        expect_errors(HEAD PHASE_OK "    post = ( { unit = \"restart\"; units = [\"a.service\"]; } );\n  }\n);\n", 1,
                      FILE_NAME ":6: phases.[0].post.[0].unit: \"restart\": a unit step is \"start\" or \"stop\" "
                      "(restart is the phase's restart)");
        expect_errors(HEAD PHASE_OK "    post = ( { task = \"x\"; unit = \"start\"; } );\n  }\n);\n", 1,
                      FILE_NAME ":6: phases.[0].post.[0]: a step is a task or a unit action, not both");
        expect_errors(HEAD PHASE_OK "    post = ( { } );\n  }\n);\n", 1,
                      FILE_NAME ":6: phases.[0].post.[0]: a step needs task = \"...\" or unit = \"start\"|\"stop\"");
        expect_errors(HEAD PHASE_OK "    pre = ( { task = \"x\"; params = { Peers = \"a\"; p = 1.5; }; } );\n  }\n);\n", 2,
                      FILE_NAME ":6: phases.[0].pre.[0].params.Peers: a parameter name is 1-32 of [a-z0-9_], "
                      "starting with a letter",
                      FILE_NAME ":6: phases.[0].pre.[0].params.p: must be a string or an integer");
        expect_errors(HEAD PHASE_OK "    pre = ( { task = \"rm -rf\"; } );\n  }\n);\n", 1,
                      FILE_NAME ":6: phases.[0].pre.[0].task: \"rm -rf\" is not a task name (1-63 of [A-Za-z0-9._-])");
        expect_errors(HEAD PHASE_OK "    wait_for = ( { task = \"s\"; node = \"a\"; deadline = \"10s\"; "
                      "interval = \"1m\"; } );\n  }\n);\n", 1,
                      FILE_NAME ":6: phases.[0].wait_for.[0].interval: must not be longer than the deadline");
        expect_errors(HEAD PHASE_OK "    post = ( { unit = \"stop\"; units = []; } );\n  }\n);\n", 1,
                      FILE_NAME ":6: phases.[0].post.[0].units: must not be empty");
}
END_TEST

int main(void) {
        Suite *s = suite_create("plan");
        TCase *tc = tcase_create("plan files");
        TCase *inv = tcase_create("inventory");

        tcase_add_test(tc, test_full_plan);
        tcase_add_test(tc, test_steps_parsed_in_place);
        tcase_add_test(tc, test_plan_without_steps_has_none);
        tcase_add_test(tc, test_step_errors);
        tcase_add_test(tc, test_plan_load_names_the_path);
        tcase_add_test(tc, test_packaged_examples);
        tcase_add_test(tc, test_syntax_include_nul_size);
        tcase_add_test(tc, test_root_errors);
        tcase_add_test(tc, test_package_errors);
        tcase_add_test(tc, test_path_errors);
        tcase_add_test(tc, test_phase_name_and_nodes_errors);
        tcase_add_test(tc, test_phase_count_errors);
        tcase_add_test(tc, test_phase_duration_and_word_errors);
        tcase_add_test(tc, test_phase_repoint_and_restart_errors);
        tcase_add_test(tc, test_names);
        suite_add_tcase(s, tc);

        tcase_add_test(inv, test_inventory_valid);
        tcase_add_test(inv, test_inventory_errors);
        tcase_add_test(inv, test_inventory_shapes);
        suite_add_tcase(s, inv);

        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
