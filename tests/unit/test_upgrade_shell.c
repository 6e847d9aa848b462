/* The upgrade executor's shell (coordinator/upgrade/upgrade.c) at unit
 * speed: a real store in a temp dir, a real fleet and commands module, and
 * a recording sender for the agents. Committed before sent; a coordinator
 * "killed" between the commit and the send (the message never left)
 * resumes from the store, asks the node, and delivers the same command
 * again under the same id; a result recorded by the commands module but
 * never seen by the machine is replayed at load; no id is ever used for
 * two commands. */
#include <check.h>
#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "coordinator/commands/commands.h"
#include "coordinator/upgrade/upgrade.h"

static char tmpdir[256];
static char dbpath[300];
static store_t *store;
static fleet_t *fleet;
static commands_t *cmds;
static upgrade_t *up;

static const char *const NODES[] = { "n1", "n2", "n3" };
#define N_NODES 3

/* ---- the agents' side: what was sent ---- */

#define MAX_SENT 64
static struct {
        char node[MAX_SENT][16];
        char id[MAX_SENT][64];      /* command id; "?" + first id for a query */
        bool recorded[MAX_SENT];    /* a command: in the store when sent */
        int n;
        bool drop;                  /* the "crash": nothing leaves */
} sent;

static int on_row(const command_record_t *rec, void *ud) {
        (void) rec;
        *(bool *) ud = true;
        return 0;
}

static int record_send(void *ud, node_t *n, const Hitless__CoordinatorMessage *m) {
        (void) ud;
        if (sent.drop)
                return 0;
        ck_assert_int_lt(sent.n, MAX_SENT);
        int k = sent.n++;
        snprintf(sent.node[k], sizeof sent.node[k], "%s", n->id);
        if (m->body_case == HITLESS__COORDINATOR_MESSAGE__BODY_COMMAND) {
                bool found = false;
                snprintf(sent.id[k], sizeof sent.id[k], "%s", m->command->command_id);
                sent.recorded[k] = store_command_get(store, m->command->command_id, on_row, &found) == 0 && found;
        } else if (m->body_case == HITLESS__COORDINATOR_MESSAGE__BODY_COMMAND_QUERY) {
                snprintf(sent.id[k], sizeof sent.id[k], "?%s",
                         m->command_query->n_command_ids ? m->command_query->command_ids[0] : "");
        } else {
                snprintf(sent.id[k], sizeof sent.id[k], "other");
        }
        return 0;
}

static int times_sent(const char *id) {
        int c = 0;
        for (int k = 0; k < sent.n; k++)
                c += strcmp(sent.id[k], id) == 0;
        return c;
}

/* The last command sent, or "". */
static const char *last_command(void) {
        for (int k = sent.n - 1; k >= 0; k--)
                if (sent.id[k][0] != '?' && strcmp(sent.id[k], "other") != 0)
                        return sent.id[k];
        return "";
}

/* ---- fixture ---- */

static void healthy(node_t *n) {
        Hitless__Heartbeat hb = HITLESS__HEARTBEAT__INIT;
        Hitless__HealthReport h = HITLESS__HEALTH_REPORT__INIT;
        h.state = HITLESS__HEALTH_STATE__HEALTH_HEALTHY;
        hb.health = &h;
        ck_assert_int_eq(fleet_heartbeat(fleet, n, &hb, clock_mono_ms()), 0);
}

static void start_modules(void) {
        ck_assert_int_eq(store_open(dbpath, &store), 0);
        ck_assert_int_eq(fleet_new(store, 600000, &fleet), 0);
        for (int i = 0; i < N_NODES; i++) {
                Hitless__Hello h = HITLESS__HELLO__INIT;
                node_t *n;
                h.node_id = (char *) NODES[i];
                ck_assert_int_eq(fleet_register(fleet, NODES[i], &h, "127.0.0.1", clock_mono_ms(), &n), 0);
                healthy(n);
        }
        ck_assert_int_eq(commands_new(store, fleet, &(commands_sender_t) { .send = record_send }, &cmds), 0);
        ck_assert_int_eq(upgrade_new(&(upgrade_deps_t) { .store = store, .fleet = fleet, .commands = cmds,
                                                         .node_timeout_ms = 600000 },
                                     clock_wall_ms(), &up),
                         0);
}

static void stop_modules(void) {
        upgrade_destroy(&up);
        commands_destroy(&cmds);
        fleet_destroy(&fleet);
        store_close(&store);
}

static void setup(void) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/test_upgrade_shell.XXXXXX", base && *base ? base : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        snprintf(dbpath, sizeof dbpath, "%s/state.db", tmpdir);
        memset(&sent, 0, sizeof sent);
        start_modules();
}

static void teardown(void) {
        char cmd[400];
        stop_modules();
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        ck_assert_int_eq(system(cmd), 0);
}

static const char PLAN[] =
        "name = \"t\";\n"
        "packages = ( { name = \"pkg\"; version = \"2.0\"; } );\n"
        "phases = ( { name = \"all\"; nodes = { group = \"all\"; }; batch = 1;\n"
        "             min_healthy_time = \"0s\"; healthy_deadline = \"60s\"; } );\n";
static const char INVENTORY[] = "groups = ( { name = \"all\"; nodes = [\"n1\", \"n2\", \"n3\"]; } );";

static const char STEPS_PLAN[] =
        "name = \"t\";\n"
        "packages = ( { name = \"pkg\"; version = \"2.0\"; } );\n"
        "phases = ( { name = \"two\"; nodes = { list = [\"n1\", \"n2\"]; }; batch = 2;\n"
        "             min_healthy_time = \"0s\"; healthy_deadline = \"60s\";\n"
        "             before = ( { task = \"sync\"; node = \"n3\"; } );\n"
        "             after = ( { task = \"finalize\"; group = \"all\"; } ); } );\n";

static void start_plan(const char *text) {
        plan_t *plan = NULL;
        conf_report_t r;
        config_t cfg;
        inventory_t inv;
        plan_preview_t *pv = NULL;
        plan_installed_t pkg = { "pkg", "1.0" };
        plan_node_t nodes[N_NODES];
        static const char *const tasks[] = { "sync", "finalize" };
        char err[256];

        conf_report_init(&r, "t.plan");
        ck_assert_int_eq(plan_parse_string("t.plan", text, strlen(text), &plan, &r), 0);
        conf_report_free(&r);
        config_init(&cfg);
        ck_assert_int_eq(config_read_string(&cfg, INVENTORY), CONFIG_TRUE);
        conf_report_init(&r, "coordinator.conf");
        ck_assert_int_eq(inventory_parse(config_root_setting(&cfg), &inv, &r), 0);
        conf_report_free(&r);
        config_destroy(&cfg);
        for (int i = 0; i < N_NODES; i++)
                nodes[i] = (plan_node_t) { .id = NODES[i], .packages = &pkg, .n_packages = 1, .registered = true,
                                           .accepted = true, .online = true, .healthy = true,
                                           .tasks = tasks, .n_tasks = 2 };
        ck_assert_int_eq(plan_preview_build(plan, &inv, &(plan_fleet_t) { nodes, N_NODES }, &pv), 0);
        ck_assert(pv->valid);
        int rc = upgrade_start(up, plan, pv, &inv, "t.plan", text, "unix:test", clock_wall_ms(), err, sizeof err);
        ck_assert_msg(rc == 0, "upgrade_start: %s", err);
        plan_preview_free(&pv);
        plan_free(&plan);
        inventory_clear(&inv);
}

static void start_upgrade(void) {
        start_plan(PLAN);
}

/* The agent of node answers id with state. */
static void answer(const char *node, const char *id, Hitless__CommandState state) {
        Hitless__CommandStatus st = HITLESS__COMMAND_STATUS__INIT;
        Hitless__HealthReport h = HITLESS__HEALTH_REPORT__INIT;
        h.state = HITLESS__HEALTH_STATE__HEALTH_HEALTHY;
        st.command_id = (char *) id;
        st.state = state;
        st.message = "";
        st.health = &h;
        commands_on_status(cmds, node, &st);
}

static void tick(void) {
        upgrade_tick(up, clock_wall_ms());
}

/* Answers n's in-flight command with success and ticks until the next one
 * leaves (or nothing more does). */
static void pass(const char *node) {
        char id[64];
        snprintf(id, sizeof id, "%s", last_command());
        ck_assert_str_ne(id, "");
        answer(node, id, HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED);
        tick();
}

static bool complete(void) {
        upgrade_view_t v;
        upgrade_conditions_t c;
        ck_assert(upgrade_view(up, &v));
        upgrade_machine_conditions(v.m, &c);
        return c.complete.status;
}

/* ---- tests ---- */

START_TEST(test_each_command_committed_before_sent) {
        start_upgrade();
        ck_assert_int_eq(sent.n, 1);
        ck_assert_str_eq(sent.node[0], "n1");
        ck_assert_str_eq(sent.id[0], "up-1-1");
        for (int i = 0; i < N_NODES; i++) {
                ck_assert_str_eq(sent.node[sent.n - 1], NODES[i]);
                pass(NODES[i]);
        }
        ck_assert(complete());
        for (int k = 0; k < sent.n; k++) {
                ck_assert_msg(sent.recorded[k], "%s was sent before it was committed", sent.id[k]);
                ck_assert_int_eq(times_sent(sent.id[k]), 1);
        }
        ck_assert_int_eq(sent.n, N_NODES);
}
END_TEST

/* Killed between the commit of n2's command and its send: after the
 * restart the node is asked, has no record, and gets the same command under
 * the same id; nothing is sent under a new one. */
START_TEST(test_killed_between_commit_and_send) {
        start_upgrade();
        sent.drop = true;   /* what n1's success decides never leaves */
        pass("n1");
        sent.drop = false;
        ck_assert_str_eq(last_command(), "up-1-1");
        stop_modules();
        start_modules();
        tick();
        ck_assert_str_eq(last_command(), "up-1-1");   /* not resent blindly */
        node_t *n2 = fleet_find(fleet, "n2");
        ck_assert_ptr_nonnull(n2);
        commands_on_hello(cmds, n2);
        ck_assert_int_eq(times_sent("?up-1-2"), 1);
        /* The agent never saw it: it answers with no state. */
        Hitless__CommandStatus none = HITLESS__COMMAND_STATUS__INIT;
        none.command_id = "up-1-2";
        none.message = "this agent has no record of it";
        commands_on_status(cmds, "n2", &none);
        ck_assert_str_eq(last_command(), "up-1-2");
        ck_assert_int_eq(times_sent("up-1-2"), 1);   /* the one that left, under its own id */
        pass("n2");
        pass("n3");
        ck_assert(complete());
        ck_assert_int_eq(times_sent("up-1-4"), 0);   /* no id beyond the three commands */
}
END_TEST

/* Killed after the commands module recorded n1's result but before the
 * machine saw it: at load the result is replayed from the store and the
 * upgrade goes on to n2. */
START_TEST(test_recorded_result_replayed_at_load) {
        start_upgrade();
        upgrade_destroy(&up);   /* the machine never hears of what follows */
        answer("n1", "up-1-1", HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED);
        commands_destroy(&cmds);
        fleet_destroy(&fleet);
        store_close(&store);
        start_modules();
        tick();
        ck_assert_str_eq(last_command(), "up-1-2");
        ck_assert_str_eq(sent.node[sent.n - 1], "n2");
        ck_assert_int_eq(times_sent("up-1-1"), 1);
}
END_TEST

/* A phase's before step runs on its node (n3, in no phase) before any node
 * of the phase, as a committed command; killed between its commit and its
 * send, it is delivered again under its id after the restart; the after
 * step runs on the group's first member once both nodes are done. */
START_TEST(test_phase_steps_on_their_nodes) {
        sent.drop = true;              /* the before step never leaves */
        start_plan(STEPS_PLAN);
        sent.drop = false;
        stop_modules();
        start_modules();
        tick();
        ck_assert_int_eq(sent.n, 0);   /* not resent blindly */
        commands_on_hello(cmds, fleet_find(fleet, "n3"));
        ck_assert_int_eq(times_sent("?up-1-1"), 1);
        Hitless__CommandStatus none = HITLESS__COMMAND_STATUS__INIT;
        none.command_id = "up-1-1";
        none.message = "this agent has no record of it";
        commands_on_status(cmds, "n3", &none);
        ck_assert_str_eq(last_command(), "up-1-1");
        ck_assert_str_eq(sent.node[sent.n - 1], "n3");
        pass("n3");
        /* both nodes of the phase now, none before */
        ck_assert_str_eq(sent.node[sent.n - 2], "n1");
        ck_assert_str_eq(sent.node[sent.n - 1], "n2");
        answer("n1", "up-1-2", HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED);
        ck_assert(!complete());
        pass("n2");
        ck_assert_str_eq(sent.node[sent.n - 1], "n1");   /* finalize on the group's first member */
        ck_assert_str_eq(last_command(), "up-1-4");
        ck_assert(!complete());
        pass("n1");
        ck_assert(complete());
        for (int k = 0; k < sent.n; k++)
                ck_assert_msg(sent.id[k][0] == '?' || sent.recorded[k], "%s sent before committed", sent.id[k]);
}
END_TEST

int main(void) {
        Suite *s = suite_create("upgrade_shell");
        TCase *tc = tcase_create("shell");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_each_command_committed_before_sent);
        tcase_add_test(tc, test_killed_between_commit_and_send);
        tcase_add_test(tc, test_recorded_result_replayed_at_load);
        tcase_add_test(tc, test_phase_steps_on_their_nodes);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int nf = srunner_ntests_failed(sr);
        srunner_free(sr);
        return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
