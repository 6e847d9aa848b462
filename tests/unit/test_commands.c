/* The commands module with a real store in a temp dir, a real fleet and a
 * recording sender instead of sockets: committed before sent, one answer
 * per request, statuses final once, local commands recorded once and
 * acknowledged only when their observer is done, and the sweep that asks
 * again about commands nobody answered. */
#include <check.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/codec.h"
#include "coordinator/commands/commands.h"

static char tmpdir[256];
static char dbpath[300];
static store_t *store;
static fleet_t *fleet;
static commands_t *cmds;

/* ---- the recording sender ---- */

#define MAX_SENT 32
static struct {
        int body[MAX_SENT];
        char id[MAX_SENT][64];         /* command id, or the first id of a query or ack */
        size_t n_ids[MAX_SENT];
        bool recorded_first[MAX_SENT]; /* a command: in the store when it was sent */
        int n;
        int fail;                      /* -errno to return, 0 to succeed */
} sent;

static int on_row(const command_record_t *rec, void *ud) {
        (void) rec;
        *(bool *) ud = true;
        return 0;
}

static bool in_store(const char *id) {
        bool found = false;
        return store_command_get(store, id, on_row, &found) == 0 && found;
}

static int record_send(void *ud, node_t *n, const Hitless__CoordinatorMessage *m) {
        (void) ud;
        (void) n;
        ck_assert_int_lt(sent.n, MAX_SENT);
        int k = sent.n++;
        sent.body[k] = m->body_case;
        const char *first = "";
        if (m->body_case == HITLESS__COORDINATOR_MESSAGE__BODY_COMMAND) {
                first = m->command->command_id;
                sent.n_ids[k] = 1;
                sent.recorded_first[k] = in_store(first);
        } else if (m->body_case == HITLESS__COORDINATOR_MESSAGE__BODY_COMMAND_QUERY) {
                sent.n_ids[k] = m->command_query->n_command_ids;
                first = sent.n_ids[k] ? m->command_query->command_ids[0] : "";
        } else if (m->body_case == HITLESS__COORDINATOR_MESSAGE__BODY_LOCAL_COMMAND_ACK) {
                sent.n_ids[k] = m->local_command_ack->n_command_ids;
                first = sent.n_ids[k] ? m->local_command_ack->command_ids[0] : "";
        }
        snprintf(sent.id[k], sizeof sent.id[k], "%s", first);
        return sent.fail;
}

static int count_sent(int body) {
        int c = 0;
        for (int k = 0; k < sent.n; k++)
                c += sent.body[k] == body;
        return c;
}

/* ---- answers to admins ---- */

typedef struct {
        int calls;
        Hitless__AdminStatus status;
        int state;                     /* the command's state in the answer, -1 none */
        char error[256];
} answer_t;

static void on_reply(void *token, const Hitless__AdminResponse *resp) {
        answer_t *a = token;   /* owned by the test: nothing to free */
        a->calls++;
        a->status = resp->status;
        a->state = resp->command_result && resp->command_result->status ? (int) resp->command_result->status->state
                                                                        : -1;
        snprintf(a->error, sizeof a->error, "%s", resp->error ? resp->error : "");
}

/* ---- fixture ---- */

static node_t *n1;

static void setup(void) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/test_commands.XXXXXX", base && *base ? base : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        snprintf(dbpath, sizeof dbpath, "%s/state.db", tmpdir);
        ck_assert_int_eq(store_open(dbpath, &store), 0);
        ck_assert_int_eq(fleet_new(store, 10000, &fleet), 0);
        Hitless__Hello h = HITLESS__HELLO__INIT;
        h.node_id = "n1";
        ck_assert_int_eq(fleet_register(fleet, "n1", &h, "127.0.0.1", clock_mono_ms(), &n1), 0);
        ck_assert(n1->online && n1->registered);
        memset(&sent, 0, sizeof sent);
        ck_assert_int_eq(commands_new(store, fleet, &(commands_sender_t) { .send = record_send }, &cmds), 0);
}

static void teardown(void) {
        char cmd[400];
        commands_destroy(&cmds);
        fleet_destroy(&fleet);
        store_close(&store);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        ck_assert_int_eq(system(cmd), 0);
}

static void submit_check(const char *id, answer_t *a, bool no_wait) {
        Hitless__CommandRequest req = HITLESS__COMMAND_REQUEST__INIT;
        Hitless__Command c = HITLESS__COMMAND__INIT;
        Hitless__CheckAction check = HITLESS__CHECK_ACTION__INIT;
        c.command_id = (char *) id;
        c.node_id = "n1";
        c.action_case = HITLESS__COMMAND__ACTION_CHECK;
        c.check = &check;
        req.command = &c;
        req.no_wait = no_wait;
        commands_submit(cmds, &req, "unix:root", on_reply, a, clock_mono_ms());
}

static void status(const char *id, Hitless__CommandState state) {
        Hitless__CommandStatus st = HITLESS__COMMAND_STATUS__INIT;
        st.command_id = (char *) id;
        st.state = state;
        st.message = "fine";
        commands_on_status(cmds, "n1", &st);
}

/* ---- tests ---- */

START_TEST(test_committed_before_sent_and_answered_once) {
        answer_t a = { 0 };
        submit_check("c-1", &a, false);
        ck_assert_int_eq(count_sent(HITLESS__COORDINATOR_MESSAGE__BODY_COMMAND), 1);
        ck_assert_str_eq(sent.id[0], "c-1");
        ck_assert(sent.recorded_first[0]);
        ck_assert_int_eq(a.calls, 0);   /* waits for the result */
        status("c-1", HITLESS__COMMAND_STATE__COMMAND_RUNNING);
        ck_assert_int_eq(a.calls, 0);
        status("c-1", HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED);
        ck_assert_int_eq(a.calls, 1);
        ck_assert_int_eq(a.state, HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED);
        status("c-1", HITLESS__COMMAND_STATE__COMMAND_FAILED);   /* final stays final */
        ck_assert_int_eq(a.calls, 1);
        /* The same id again: answered from the store, never sent twice. */
        answer_t b = { 0 };
        submit_check("c-1", &b, false);
        ck_assert_int_eq(b.calls, 1);
        ck_assert_int_eq(b.state, HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED);
        ck_assert_int_eq(count_sent(HITLESS__COORDINATOR_MESSAGE__BODY_COMMAND), 1);
}
END_TEST

START_TEST(test_bad_requests_send_nothing) {
        answer_t a = { 0 };
        submit_check("bad id with spaces", &a, false);
        ck_assert_int_eq(a.calls, 1);
        ck_assert_int_eq(a.status, HITLESS__ADMIN_STATUS__ADMIN_BAD_REQUEST);
        n1->online = false;
        answer_t b = { 0 };
        submit_check("c-2", &b, false);
        ck_assert_int_eq(b.calls, 1);
        ck_assert_ptr_nonnull(strstr(b.error, "unreachable"));
        ck_assert_int_eq(sent.n, 0);
        ck_assert(!in_store("c-2"));
        /* A status for a command never sent: ignored. */
        status("never-sent", HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED);
        ck_assert(!in_store("never-sent"));
}
END_TEST

/* A command whose answer never comes is asked about again once quiet for
 * 60 s, at the sweep (every 30 s); an answered one is not. */
START_TEST(test_sweep_asks_again_about_quiet_commands) {
        answer_t a = { 0 }, b = { 0 };
        int64_t t = 1000000;
        commands_tick(cmds, t);   /* the first call sets the clock */
        submit_check("quiet", &a, true);
        submit_check("answered", &b, true);
        status("answered", HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED);
        int before = sent.n;
        commands_tick(cmds, t += 30000);
        ck_assert_int_eq(sent.n, before);   /* sent just now: not quiet yet */
        /* Both were sent 2 minutes ago (as the store sees it). */
        sqlite3 *db;
        ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
        ck_assert_int_eq(sqlite3_exec(db, "UPDATE commands SET updated = updated - 120", NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
        commands_tick(cmds, t += 29999);
        ck_assert_int_eq(sent.n, before);   /* not due yet */
        commands_tick(cmds, t += 1);
        ck_assert_int_eq(sent.n, before + 1);
        ck_assert_int_eq(sent.body[before], HITLESS__COORDINATOR_MESSAGE__BODY_COMMAND_QUERY);
        ck_assert_uint_eq(sent.n_ids[before], 1);
        ck_assert_str_eq(sent.id[before], "quiet");
        ck_assert_int_le(commands_next_due(cmds), t + 30000);
        /* The agent never got it: its owner would deliver it again; here the
         * answer ends it and the next sweep asks nothing. */
        status("quiet", HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED);
        commands_tick(cmds, t += 30000);
        ck_assert_int_eq(sent.n, before + 1);
}
END_TEST

/* ---- local commands ---- */

static int observer_result;
static int observer_calls;

static int on_local(void *ud, const char *node_id, const Hitless__LocalCommand *lc) {
        (void) ud;
        ck_assert_str_eq(node_id, "n1");
        ck_assert_str_eq(lc->upgrade_id, "up-1");
        observer_calls++;
        return observer_result;
}

static void report_local_from(const char *node, const char *id) {
        Hitless__LocalCommand lc = HITLESS__LOCAL_COMMAND__INIT;
        Hitless__Command c = HITLESS__COMMAND__INIT;
        Hitless__RollbackAction rb = HITLESS__ROLLBACK_ACTION__INIT;
        Hitless__CommandStatus st = HITLESS__COMMAND_STATUS__INIT;
        c.command_id = st.command_id = (char *) id;
        c.node_id = (char *) node;
        c.action_case = HITLESS__COMMAND__ACTION_ROLLBACK;
        c.rollback = &rb;
        st.state = HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED;
        st.message = "rolled back to snap-1";
        lc.command = &c;
        lc.status = &st;
        lc.upgrade_id = "up-1";
        commands_on_local(cmds, node, &lc);
}

static void report_local(const char *id) {
        report_local_from("n1", id);
}

static int local_rows(const char *id) {
        sqlite3 *db;
        sqlite3_stmt *st;
        int n = -1;
        ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
        ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM commands WHERE id = ?1 AND actor = 'local:n1'"
                                                " AND state = 3 AND result IS NOT NULL", -1, &st, NULL), SQLITE_OK);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
                n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return n;
}

START_TEST(test_local_command_recorded_once_acked_when_followed) {
        commands_set_local_observer(cmds, on_local, NULL);
        observer_result = -EIO;   /* the upgrade cannot follow it yet */
        observer_calls = 0;
        report_local("local-rollback-1-2");
        ck_assert_int_eq(local_rows("local-rollback-1-2"), 1);
        ck_assert_int_eq(observer_calls, 1);
        ck_assert_int_eq(count_sent(HITLESS__COORDINATOR_MESSAGE__BODY_LOCAL_COMMAND_ACK), 0);   /* reported again */
        observer_result = 0;
        report_local("local-rollback-1-2");
        ck_assert_int_eq(local_rows("local-rollback-1-2"), 1);   /* still one row */
        ck_assert_int_eq(observer_calls, 2);
        ck_assert_int_eq(count_sent(HITLESS__COORDINATOR_MESSAGE__BODY_LOCAL_COMMAND_ACK), 1);
        ck_assert_str_eq(sent.id[sent.n - 1], "local-rollback-1-2");
        /* A lost ack: the report again is acknowledged again, recorded once. */
        report_local("local-rollback-1-2");
        ck_assert_int_eq(local_rows("local-rollback-1-2"), 1);
        ck_assert_int_eq(count_sent(HITLESS__COORDINATOR_MESSAGE__BODY_LOCAL_COMMAND_ACK), 2);
}
END_TEST

START_TEST(test_local_command_with_another_nodes_id_ignored) {
        answer_t a = { 0 };
        commands_set_local_observer(cmds, on_local, NULL);
        observer_calls = 0;
        submit_check("local-taken", &a, true);   /* an admin's command with that id, for n1 */
        Hitless__Hello h = HITLESS__HELLO__INIT;
        node_t *n2;
        h.node_id = "n2";
        ck_assert_int_eq(fleet_register(fleet, "n2", &h, "127.0.0.1", clock_mono_ms(), &n2), 0);
        int acks = count_sent(HITLESS__COORDINATOR_MESSAGE__BODY_LOCAL_COMMAND_ACK);
        report_local_from("n2", "local-taken");
        ck_assert_int_eq(observer_calls, 0);
        ck_assert_int_eq(count_sent(HITLESS__COORDINATOR_MESSAGE__BODY_LOCAL_COMMAND_ACK), acks);
}
END_TEST

int main(void) {
        Suite *s = suite_create("commands");
        TCase *tc = tcase_create("commands");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_committed_before_sent_and_answered_once);
        tcase_add_test(tc, test_bad_requests_send_nothing);
        tcase_add_test(tc, test_sweep_asks_again_about_quiet_commands);
        tcase_add_test(tc, test_local_command_recorded_once_acked_when_followed);
        tcase_add_test(tc, test_local_command_with_another_nodes_id_ignored);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int nf = srunner_ntests_failed(sr);
        srunner_free(sr);
        return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
