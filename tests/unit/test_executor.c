/* agent/executor: a command runs only once the journal has recorded it
 * RUNNING. When that write fails the command is not run (no snapshot, no
 * drain) and is reported FAILED with the journal's own message. The node
 * and the way its journal is made to fail are tests/helpers/agent_node.h's;
 * the executor is driven through its inproc socket as agent/main.c does. */
#include "agent/executor.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "agent/journal.h"
#include "common/codec.h"
#include "tests/helpers/agent_node.h"

static agent_node_t node;

static void setup(void) {
        int r = agent_node_create(&node, "[CONTROL-NODE]\nservers = 10.0.0.1:5269\n");
        ck_assert_msg(r == 0, "agent_node_create: %s", strerror(-r));
}

static void teardown(void) {
        agent_node_destroy(&node);
}

static journal_t *open_journal(void) {
        journal_t *j = NULL;
        int r = journal_open(node.journal_path, &j);
        ck_assert_msg(r == 0, "journal_open: %s", strerror(-r));
        return j;
}

static void submit_drain(executor_t *e, const char *id) {
        Hitless__CoordinatorMessage m = HITLESS__COORDINATOR_MESSAGE__INIT;
        Hitless__Command cmd = HITLESS__COMMAND__INIT;
        Hitless__DrainAction d = HITLESS__DRAIN_ACTION__INIT;
        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.body_case = HITLESS__COORDINATOR_MESSAGE__BODY_COMMAND;
        m.command = &cmd;
        cmd.command_id = (char *) id;
        cmd.node_id = AGENT_NODE_ID;
        cmd.deadline = (int64_t) time(NULL) + 60;
        cmd.upgrade_id = "up-1";
        cmd.action_case = HITLESS__COMMAND__ACTION_DRAIN;
        cmd.drain = &d;
        ck_assert_int_eq(executor_submit(e, &m), 0);
}

/* The statuses of the command until its final one (10 s at most):
 * returns that one (caller frees), having counted the RUNNING ones. */
static Hitless__CommandStatus *final_status(executor_t *e, int *ret_running) {
        *ret_running = 0;
        for (int waited = 0; waited < 10000; waited += 100) {
                zmq_pollitem_t item = { executor_socket(e), 0, ZMQ_POLLIN, 0 };
                if (zmq_poll(&item, 1, 100) <= 0)
                        continue;
                zmq_msg_t msg;
                Hitless__AgentMessage *am = NULL;
                zmq_msg_init(&msg);
                ck_assert_int_ge(zmq_msg_recv(&msg, executor_socket(e), 0), 0);
                ck_assert_int_eq(codec_decode_agent(zmq_msg_data(&msg), zmq_msg_size(&msg), SIZE_MAX, &am), 0);
                zmq_msg_close(&msg);
                ck_assert_int_eq(am->body_case, HITLESS__AGENT_MESSAGE__BODY_COMMAND_STATUS);
                Hitless__CommandStatus *st = am->command_status;
                if ((journal_state_t) st->state == JCMD_RUNNING)
                        (*ret_running)++;
                if ((journal_state_t) st->state != JCMD_ACCEPTED && (journal_state_t) st->state != JCMD_RUNNING) {
                        am->command_status = NULL;
                        am->body_case = HITLESS__AGENT_MESSAGE__BODY__NOT_SET;
                        hitless__agent_message__free_unpacked(am, NULL);
                        return st;
                }
                hitless__agent_message__free_unpacked(am, NULL);
        }
        ck_abort_msg("no final status within 10 s");
        return NULL;
}

#define RUNNING_REFUSED "the disk refuses this write"

START_TEST(test_unrecorded_running_not_run) {
        char err[256] = "";
        journal_t *j = open_journal();  /* creates the schema */
        journal_close(&j);
        ck_assert_msg(agent_node_journal_sql(&node,
                                             "CREATE TRIGGER refuse_running BEFORE UPDATE OF state ON commands"
                                             " WHEN NEW.state = 2 BEGIN SELECT RAISE(ABORT, '" RUNNING_REFUSED
                                             "'); END;",
                                             err, sizeof err) == 0,
                      "%s", err);

        void *ctx = zmq_ctx_new();
        executor_t *e = NULL;
        int running;
        ck_assert_int_eq(executor_new(ctx, node.cfg, &e), 0);
        submit_drain(e, "c1");
        Hitless__CommandStatus *st = final_status(e, &running);
        ck_assert_int_eq(st->state, JCMD_FAILED);
        ck_assert_str_eq(st->error_code, "journal");
        ck_assert_msg(strstr(st->message, RUNNING_REFUSED), "no journal message in: %s", st->message);
        ck_assert_int_eq(running, 0);
        hitless__command_status__free_unpacked(st, NULL);
        ck_assert(!executor_destroy(&e));
        zmq_ctx_term(ctx);

        /* Recorded as failed; nothing of the drain happened. */
        journal_command_t c;
        journal_snapshot_t snap;
        bool drained = true;
        j = open_journal();
        ck_assert_int_eq(journal_command_get(j, "c1", &c), 0);
        ck_assert_int_eq(c.state, JCMD_FAILED);
        journal_command_clear(&c);
        ck_assert_int_eq(journal_snapshot_find_open(j, "up-1", &snap), -ENOENT);
        ck_assert_int_eq(journal_get_drained(j, &drained), 0);
        ck_assert(!drained);
        journal_close(&j);
}
END_TEST

static Suite *executor_suite(void) {
        Suite *su = suite_create("executor");
        TCase *tc = tcase_create("journal failures");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_unrecorded_running_not_run);
        suite_add_tcase(su, tc);
        return su;
}

int main(void) {
        SRunner *sr = srunner_create(executor_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
