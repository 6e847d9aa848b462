/* coordinator/admin_history: the answer to `hitlessctl history`, built from
 * a real SQLite store in a temporary directory: admin events and commands
 * (with their packed requests and results) are written with the store's
 * own functions, then read back through admin_history_build(). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/codec.h"
#include "coordinator/admin/admin_history.h"
#include "coordinator/store/store.h"

static char tmpdir[256];
static char dbpath[300];
static store_t *store;

static void setup(void) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/test_admin_history.XXXXXX", base && *base ? base : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        snprintf(dbpath, sizeof dbpath, "%s/coordinator.db", tmpdir);
        ck_assert_int_eq(store_open(dbpath, &store), 0);
}

static void teardown(void) {
        static const char *suffixes[] = { "", "-wal", "-shm", "-journal" };
        char p[400];
        store_close(&store);
        for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
                snprintf(p, sizeof p, "%s%s", dbpath, suffixes[i]);
                unlink(p);
        }
        rmdir(tmpdir);
}

static void event(int64_t time, const char *node, const char *kind, const char *actor, const char *message) {
        ck_assert_int_eq(store_event_append(store, time, node, kind, actor, message, NULL), 0);
}

/* The id of the command.sent event the next command_sent() records (as
 * commands.c does); 0 for none. */
static int64_t next_sent_event;

/* A command as commands.c stores it: the packed Command (an install, or a
 * drain when pkg is NULL) under its action's kind. */
static void command_sent(int64_t time, const char *id, const char *node, const char *actor, const char *pkg,
                         const char *upgrade_id) {
        Hitless__Command cmd = HITLESS__COMMAND__INIT;
        Hitless__InstallAction install = HITLESS__INSTALL_ACTION__INIT;
        Hitless__DrainAction drain = HITLESS__DRAIN_ACTION__INIT;
        Hitless__PackageVersion pv = HITLESS__PACKAGE_VERSION__INIT, *pvp = &pv;
        command_record_t rec = { .state = 0, .created = time };
        uint8_t *buf;
        size_t len;

        cmd.command_id = (char *) id;
        cmd.node_id = (char *) node;
        cmd.upgrade_id = (char *) upgrade_id;
        if (pkg) {
                pv.name = (char *) pkg;
                pv.version = "2.0-1";
                install.n_packages = 1;
                install.packages = &pvp;
                cmd.action_case = HITLESS__COMMAND__ACTION_INSTALL;
                cmd.install = &install;
        } else {
                cmd.action_case = HITLESS__COMMAND__ACTION_DRAIN;
                cmd.drain = &drain;
        }
        ck_assert_int_eq(codec_encode(&cmd.base, &buf, &len), 0);
        snprintf(rec.id, sizeof rec.id, "%s", id);
        snprintf(rec.node_id, sizeof rec.node_id, "%s", node);
        snprintf(rec.kind, sizeof rec.kind, "%s", command_action_name(&cmd));
        snprintf(rec.actor, sizeof rec.actor, "%s", actor);
        rec.request = buf;
        rec.request_len = len;
        rec.sent_event = next_sent_event;
        next_sent_event = 0;
        ck_assert_int_eq(store_command_put(store, &rec), 0);
        free(buf);
}

/* The agent's result: state and message (NULL: a state with no result). */
static void command_result(int64_t time, const char *id, Hitless__CommandState state, const char *message) {
        Hitless__CommandStatus st = HITLESS__COMMAND_STATUS__INIT;
        uint8_t *buf = NULL;
        size_t len = 0;
        if (message) {
                st.command_id = (char *) id;
                st.state = state;
                st.message = (char *) message;
                ck_assert_int_eq(codec_encode(&st.base, &buf, &len), 0);
        }
        ck_assert_int_eq(store_command_update(store, id, (int) state, buf, len, time), 0);
        free(buf);
}

static Hitless__HistoryList *history(const char *node, uint32_t limit) {
        Hitless__HistoryRequest req = HITLESS__HISTORY_REQUEST__INIT;
        Hitless__HistoryList *l = NULL;
        req.node_id = (char *) (node ? node : "");
        req.limit = limit;
        ck_assert_int_eq(admin_history_build(store, &req, &l), 0);
        ck_assert_ptr_nonnull(l);
        return l;
}

/* Entry i is at time t, by actor, about node, of kind. */
static void assert_entry(const Hitless__HistoryList *l, size_t i, int64_t t, const char *actor, const char *node,
                         const char *kind) {
        ck_assert_uint_lt(i, l->n_entries);
        const Hitless__HistoryEntry *e = l->entries[i];
        ck_assert_msg(e->time == t, "entry %zu: time %lld, expected %lld", i, (long long) e->time, (long long) t);
        ck_assert_str_eq(e->actor, actor);
        ck_assert_str_eq(e->node_id, node);
        ck_assert_str_eq(e->kind, kind);
}

/* ---- the tests ---- */

START_TEST(test_admin_events_and_commands_oldest_first) {
        event(100, "n1", "key.pending", "coordinator", "new key from 10.0.0.1");
        event(110, "n1", "key.accepted", "unix:root", "key accepted");
        event(115, "n1", "node.registered", "coordinator", "hello");
        event(120, "", "upgrade.started", "unix:alice", "plan contrail-2.0");
        command_sent(130, "up-1-1", "n1", "upgrade:up-1", "contrail-vrouter-agent", "up-1");
        event(131, "n1", "command.succeeded", "agent", "install up-1-1 succeeded");
        event(140, "", "upgrade.paused", "upgrade:up-1", "2 failures > max_failures 1");

        Hitless__HistoryList *l = history(NULL, 0);
        ck_assert_uint_eq(l->n_entries, 4);
        assert_entry(l, 0, 110, "unix:root", "n1", "key.accepted");
        ck_assert_str_eq(l->entries[0]->message, "key accepted");
        assert_entry(l, 1, 120, "unix:alice", "", "upgrade.started");
        ck_assert_str_eq(l->entries[1]->message, "plan contrail-2.0");
        assert_entry(l, 2, 130, "upgrade:up-1", "n1", "command");
        assert_entry(l, 3, 140, "upgrade:up-1", "", "upgrade.paused");
        ck_assert_str_eq(l->entries[3]->message, "2 failures > max_failures 1");
        /* Events carry no command fields. */
        ck_assert_str_eq(l->entries[0]->command_id, "");
        ck_assert_str_eq(l->entries[0]->action, "");
        ck_assert_str_eq(l->entries[0]->state, "");
        ck_assert_int_eq(l->entries[0]->finished, 0);
        admin_history_free(l);
}
END_TEST

/* Entry i is command id, with these fields. */
static void assert_command(const Hitless__HistoryList *l, size_t i, const char *id, const char *action,
                           const char *state, const char *upgrade_id, const char *message, int64_t finished) {
        ck_assert_uint_lt(i, l->n_entries);
        const Hitless__HistoryEntry *e = l->entries[i];
        ck_assert_str_eq(e->kind, "command");
        ck_assert_str_eq(e->command_id, id);
        ck_assert_str_eq(e->action, action);
        ck_assert_str_eq(e->state, state);
        ck_assert_str_eq(e->upgrade_id, upgrade_id);
        ck_assert_str_eq(e->message, message);
        ck_assert_msg(e->finished == finished, "%s: finished %lld, expected %lld", id, (long long) e->finished,
                      (long long) finished);
}

START_TEST(test_command_fields) {
        command_sent(200, "c-sent", "n1", "unix:root", NULL, "");
        command_sent(210, "c-running", "n1", "unix:root", "pkg", "up-7");
        command_result(215, "c-running", HITLESS__COMMAND_STATE__COMMAND_RUNNING, NULL);
        command_sent(220, "c-done", "n2", "upgrade:up-7", "contrail-vrouter-agent", "up-7");
        command_result(260, "c-done", HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED, "1 package changed");
        command_sent(230, "c-refused", "n2", "unix:bob", "bash", "");
        command_result(231, "c-refused", HITLESS__COMMAND_STATE__COMMAND_REFUSED, "bash: not in the policy");

        Hitless__HistoryList *l = history(NULL, 0);
        ck_assert_uint_eq(l->n_entries, 4);
        /* Not acknowledged yet: "sent", unfinished, no message. */
        assert_entry(l, 0, 200, "unix:root", "n1", "command");
        assert_command(l, 0, "c-sent", "drain", "sent", "", "", 0);
        assert_entry(l, 1, 210, "unix:root", "n1", "command");
        assert_command(l, 1, "c-running", "install", "running", "up-7", "", 0);
        /* Finished: when its state became final, and the agent's message. */
        assert_entry(l, 2, 220, "upgrade:up-7", "n2", "command");
        assert_command(l, 2, "c-done", "install", "succeeded", "up-7", "1 package changed", 260);
        assert_entry(l, 3, 230, "unix:bob", "n2", "command");
        assert_command(l, 3, "c-refused", "install", "refused", "", "bash: not in the policy", 231);
        admin_history_free(l);
}
END_TEST

START_TEST(test_node_filter) {
        event(100, "n1", "key.accepted", "unix:root", "n1 accepted");
        event(101, "n2", "key.accepted", "unix:root", "n2 accepted");
        event(102, "", "upgrade.started", "unix:root", "not about one node");
        command_sent(103, "c1", "n1", "unix:root", NULL, "");
        command_sent(104, "c2", "n2", "unix:root", NULL, "");

        Hitless__HistoryList *l = history("n2", 0);
        ck_assert_uint_eq(l->n_entries, 2);
        assert_entry(l, 0, 101, "unix:root", "n2", "key.accepted");
        assert_entry(l, 1, 104, "unix:root", "n2", "command");
        ck_assert_str_eq(l->entries[1]->command_id, "c2");
        admin_history_free(l);

        l = history("n3", 0);
        ck_assert_uint_eq(l->n_entries, 0);
        admin_history_free(l);
}
END_TEST

START_TEST(test_limit_keeps_the_newest_oldest_first) {
        /* Events and commands interleaved in time. */
        for (int i = 0; i < 6; i++) {
                char id[16];
                snprintf(id, sizeof id, "c%d", i);
                if (i % 2)
                        command_sent(1000 + i, id, "n1", "unix:root", NULL, "");
                else
                        event(1000 + i, "n1", "node.drained", "unix:root", id);
        }
        Hitless__HistoryList *l = history(NULL, 3);
        ck_assert_uint_eq(l->n_entries, 3);
        assert_entry(l, 0, 1003, "unix:root", "n1", "command");
        assert_entry(l, 1, 1004, "unix:root", "n1", "node.drained");
        assert_entry(l, 2, 1005, "unix:root", "n1", "command");
        ck_assert_str_eq(l->entries[2]->command_id, "c5");
        admin_history_free(l);
}
END_TEST

/* Within one second, entries come in the order they were written: a
 * command where its command.sent event is. */
START_TEST(test_same_second_in_write_order) {
        event(300, "", "upgrade.resume", "unix:root", "resumed");
        ck_assert_int_eq(store_event_append(store, 300, "n1", "command.sent", "upgrade:up-1", "undrain up-1-9 sent",
                                            &next_sent_event), 0);
        command_sent(300, "up-1-9", "n1", "upgrade:up-1", NULL, "up-1");
        event(300, "n1", "upgrade.node_done", "upgrade:up-1", "done");

        Hitless__HistoryList *l = history(NULL, 0);
        ck_assert_uint_eq(l->n_entries, 3);
        assert_entry(l, 0, 300, "unix:root", "", "upgrade.resume");
        assert_entry(l, 1, 300, "upgrade:up-1", "n1", "command");
        assert_entry(l, 2, 300, "upgrade:up-1", "n1", "upgrade.node_done");
        admin_history_free(l);
        /* the newest two, still in write order */
        l = history(NULL, 2);
        ck_assert_uint_eq(l->n_entries, 2);
        assert_entry(l, 0, 300, "upgrade:up-1", "n1", "command");
        assert_entry(l, 1, 300, "upgrade:up-1", "n1", "upgrade.node_done");
        admin_history_free(l);
}
END_TEST

/* n events one second apart; asking for `limit` gives the newest
 * `expected` of them, oldest first. */
static void assert_limit(int n, uint32_t limit, int expected) {
        ck_assert_int_eq(store_begin(store), 0);
        for (int i = 0; i < n; i++) {
                char message[32];
                snprintf(message, sizeof message, "again %d", i);  /* not coalesced */
                event(i, "n1", "key.accepted", "unix:root", message);
        }
        ck_assert_int_eq(store_commit(store), 0);

        Hitless__HistoryList *l = history(NULL, limit);
        ck_assert_uint_eq(l->n_entries, (size_t) expected);
        ck_assert_int_eq(l->entries[0]->time, n - expected);
        ck_assert_int_eq(l->entries[expected - 1]->time, n - 1);
        admin_history_free(l);
}

START_TEST(test_default_limit) {
        assert_limit(STORE_HISTORY_DEFAULT_LIMIT + 10, 0, STORE_HISTORY_DEFAULT_LIMIT);
}
END_TEST

START_TEST(test_limit_is_capped) {
        assert_limit(ADMIN_HISTORY_MAX_LIMIT + 5, UINT32_MAX, ADMIN_HISTORY_MAX_LIMIT);
}
END_TEST

START_TEST(test_free_null) {
        admin_history_free(NULL);
}
END_TEST

/* A repeated admin action is one event row: one entry with its count. */
START_TEST(test_repeated_event_counted) {
        for (int i = 0; i < 3; i++)
                event(100 + i, "n1", "key.accepted", "unix:root", "key accepted");
        command_sent(110, "c-1", "n1", "unix:root", NULL, "");
        Hitless__HistoryList *l = history(NULL, 0);
        ck_assert_uint_eq(l->n_entries, 2);
        assert_entry(l, 0, 100, "unix:root", "n1", "key.accepted");
        ck_assert_uint_eq(l->entries[0]->count, 3);
        ck_assert_uint_eq(l->entries[1]->count, 0);  /* a command has none */
        admin_history_free(l);
}
END_TEST

static Suite *admin_history_suite(void) {
        Suite *s = suite_create("admin_history");
        TCase *tc = tcase_create("history");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_admin_events_and_commands_oldest_first);
        tcase_add_test(tc, test_command_fields);
        tcase_add_test(tc, test_node_filter);
        tcase_add_test(tc, test_limit_keeps_the_newest_oldest_first);
        tcase_add_test(tc, test_same_second_in_write_order);
        tcase_add_test(tc, test_default_limit);
        tcase_add_test(tc, test_limit_is_capped);
        tcase_add_test(tc, test_free_null);
        tcase_add_test(tc, test_repeated_event_counted);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(admin_history_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
