/* agent/actions: what a command does when the journal cannot keep its
 * state. A drain whose drained flag is not recorded, or a rollback that
 * cannot read its snapshot, must fail with the journal's own message,
 * never report success. The node and the ways its journal is made to fail
 * are tests/helpers/agent_node.h's. */
#include "agent/actions.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/atomic_file.h"
#include "tests/helpers/agent_node.h"

static agent_node_t node;
static journal_t *journal;

static const char original[] = "[CONTROL-NODE]\nservers = 10.0.0.1:5269\n";
static const char changed[] = "[CONTROL-NODE]\nservers = 10.9.9.9:5269\n";

static void setup(void) {
        int r = agent_node_create(&node, original);
        ck_assert_msg(r == 0, "agent_node_create: %s", strerror(-r));
        r = journal_open(node.journal_path, &journal);
        ck_assert_msg(r == 0, "journal_open: %s", strerror(-r));
}

static void teardown(void) {
        journal_close(&journal);
        agent_node_destroy(&node);
}

static void journal_file_sql(const char *sql) {
        char err[256] = "";
        ck_assert_msg(agent_node_journal_sql(&node, sql, err, sizeof err) == 0, "%s: %s", sql, err);
}

/* From now on every insert into table fails, SQLite saying WRITE_REFUSED. */
#define WRITE_REFUSED "the disk refuses this write"
static void fail_inserts(const char *table) {
        char sql[256];
        snprintf(sql, sizeof sql, "CREATE TRIGGER refuse_%s BEFORE INSERT ON %s BEGIN SELECT RAISE(ABORT, '"
                 WRITE_REFUSED "'); END;", table, table);
        journal_file_sql(sql);
}

/* Runs a drain or a rollback of upgrade up-1 (neither has parameters). */
static void run(Hitless__Command__ActionCase action, action_result_t *r) {
        Hitless__Command cmd = HITLESS__COMMAND__INIT;
        Hitless__DrainAction d = HITLESS__DRAIN_ACTION__INIT;
        Hitless__RollbackAction rb = HITLESS__ROLLBACK_ACTION__INIT;
        action_ctx_t ctx = { node.cfg, journal, NULL, NULL };
        cmd.command_id = "c1";
        cmd.upgrade_id = "up-1";
        cmd.action_case = action;
        if (action == HITLESS__COMMAND__ACTION_DRAIN)
                cmd.drain = &d;
        else
                cmd.rollback = &rb;
        actions_run(&ctx, &cmd, r);
}

static void drain(action_result_t *r) {
        run(HITLESS__COMMAND__ACTION_DRAIN, r);
}

static void rollback(action_result_t *r) {
        run(HITLESS__COMMAND__ACTION_ROLLBACK, r);
}

static bool drained(void) {
        bool d = false;
        ck_assert_int_eq(journal_get_drained(journal, &d), 0);
        return d;
}

static char *read_conf(void) {
        char *data = NULL;
        size_t len;
        ck_assert_int_eq(file_read_all(node.conf_file, 4096, &data, &len), 0);
        return data;
}

/* ---- drain ---------------------------------------------------------------- */

START_TEST(test_drain_records_drained) {
        action_result_t r = { 0 };
        drain(&r);
        ck_assert_msg(r.state == JCMD_SUCCEEDED, "%s: %s", r.error_code, r.message);
        ck_assert(drained());
        action_result_clear(&r);
}
END_TEST

/* The hook ran, but the journal does not know: an undrain would then say
 * "nothing to undo" and leave the node drained. */
START_TEST(test_drain_unrecorded_fails) {
        action_result_t r = { 0 };
        fail_inserts("kv");
        drain(&r);
        ck_assert_int_eq(r.state, JCMD_FAILED);
        ck_assert_str_eq(r.error_code, "journal");
        ck_assert_msg(strstr(r.message, WRITE_REFUSED), "no journal message in: %s", r.message);
        ck_assert_msg(strstr(r.message, "drain hook succeeded"), "no hook outcome in: %s", r.message);
        ck_assert(!drained());
        action_result_clear(&r);
}
END_TEST

/* The snapshot cannot be recorded: nothing runs, nothing is left open. */
START_TEST(test_drain_snapshot_unrecorded_fails) {
        action_result_t r = { 0 };
        journal_snapshot_t s;
        fail_inserts("snapshot_files");
        drain(&r);
        ck_assert_int_eq(r.state, JCMD_FAILED);
        ck_assert_str_eq(r.error_code, "snapshot");
        ck_assert_msg(strstr(r.message, WRITE_REFUSED), "no journal message in: %s", r.message);
        ck_assert_int_eq(journal_snapshot_find_open(journal, "", &s), -ENOENT);
        ck_assert(!drained());
        action_result_clear(&r);
}
END_TEST

/* ---- rollback ------------------------------------------------------------- */

/* A drain takes the upgrade's snapshot (with the file as it was); then
 * the file changes, as a repoint would change it. */
static void change_after_snapshot(void) {
        action_result_t r = { 0 };
        drain(&r);
        ck_assert_msg(r.state == JCMD_SUCCEEDED, "%s: %s", r.error_code, r.message);
        action_result_clear(&r);
        ck_assert_int_eq(atomic_file_replace(node.conf_file, changed, strlen(changed), 0600, (uid_t) -1, (gid_t) -1), 0);
}

START_TEST(test_rollback_restores_files) {
        action_result_t r = { 0 };
        change_after_snapshot();
        rollback(&r);
        ck_assert_msg(r.state == JCMD_SUCCEEDED, "%s: %s", r.error_code, r.message);
        ck_assert_msg(strstr(r.message, "rolled back to "), "%s", r.message);
        char *now = read_conf();
        ck_assert_str_eq(now, original);
        free(now);
        ck_assert(!drained());
        action_result_clear(&r);
}
END_TEST

START_TEST(test_rollback_files_unreadable_fails) {
        action_result_t r = { 0 };
        journal_snapshot_t s;
        change_after_snapshot();
        journal_file_sql("DROP TABLE snapshot_files;");
        rollback(&r);
        ck_assert_int_eq(r.state, JCMD_FAILED);
        ck_assert_str_eq(r.error_code, "journal");
        ck_assert_msg(!strstr(r.message, "rolled back"), "claims a rollback: %s", r.message);
        ck_assert_msg(strstr(r.message, "snapshot_files"), "no journal message in: %s", r.message);
        char *now = read_conf();
        ck_assert_str_eq(now, changed);
        free(now);
        /* Still open, still drained: a retry can do it all. */
        ck_assert_int_eq(journal_snapshot_find_open(journal, "up-1", &s), 0);
        ck_assert(drained());
        action_result_clear(&r);
}
END_TEST

/* The undrain ran but cannot be recorded: the snapshot stays open. */
START_TEST(test_rollback_undrain_unrecorded_fails) {
        action_result_t r = { 0 };
        journal_snapshot_t s;
        change_after_snapshot();
        fail_inserts("kv");
        rollback(&r);
        ck_assert_int_eq(r.state, JCMD_FAILED);
        ck_assert_str_eq(r.error_code, "journal");
        ck_assert_msg(strstr(r.message, WRITE_REFUSED), "no journal message in: %s", r.message);
        ck_assert_int_eq(journal_snapshot_find_open(journal, "up-1", &s), 0);
        action_result_clear(&r);
}
END_TEST

int main(void) {
        Suite *su = suite_create("actions");
        TCase *tc = tcase_create("journal failures");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_drain_records_drained);
        tcase_add_test(tc, test_drain_unrecorded_fails);
        tcase_add_test(tc, test_drain_snapshot_unrecorded_fails);
        tcase_add_test(tc, test_rollback_restores_files);
        tcase_add_test(tc, test_rollback_files_unreadable_fails);
        tcase_add_test(tc, test_rollback_undrain_unrecorded_fails);
        suite_add_tcase(su, tc);
        SRunner *sr = srunner_create(su);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
