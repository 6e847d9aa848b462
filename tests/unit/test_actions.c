/* agent/actions: what a command does when the journal cannot keep its
 * state. A drain whose drained flag is not recorded, or a rollback that
 * cannot read its snapshot, must fail with the journal's own message,
 * never report success.
 *
 * The node is a temporary directory: a real journal, a real agent config
 * (agent_config_load) whose hooks are /bin/true and whose one repointable
 * file lives in the directory, no packages, units or checks. The journal
 * is made to fail as SQLite would, from a second connection to its file:
 * a trigger that aborts the write, or a dropped table (the journal's
 * statements then fail to prepare). Nothing in agent/ knows about it. */
#include "agent/actions.h"

#include <check.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/atomic_file.h"
#include "common/conf.h"

static char dir[64];
static char dbpath[128];
static char conf_file[128];
static agent_config_t *cfg;
static journal_t *journal;

static const char original[] = "[CONTROL-NODE]\nservers = 10.0.0.1:5269\n";
static const char changed[] = "[CONTROL-NODE]\nservers = 10.9.9.9:5269\n";

static void write_file(const char *path, const char *text) {
        ck_assert_int_eq(atomic_file_replace(path, text, strlen(text), 0600, (uid_t) -1, (gid_t) -1), 0);
}

static void setup(void) {
        char path[128], text[1024];
        conf_report_t report;

        snprintf(dir, sizeof dir, "/tmp/hitless-actions-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(conf_file, sizeof conf_file, "%s/vrouter.conf", dir);
        write_file(conf_file, original);
        snprintf(text, sizeof text,
                 "node_id = \"compute-1\";\n"
                 "state_dir = \"%s\";\n"
                 "policy = {\n"
                 "  drain = { argv = [ \"/bin/true\" ]; };\n"
                 "  undrain = { argv = [ \"/bin/true\" ]; };\n"
                 "  endpoints = ( { kind = \"controller\"; file = \"%s\"; section = \"CONTROL-NODE\";"
                 " key = \"servers\"; } );\n"
                 "};\n",
                 dir, conf_file);
        snprintf(path, sizeof path, "%s/agent.conf", dir);
        write_file(path, text);
        conf_report_init(&report, path);
        int r = agent_config_load(path, &cfg, &report);
        for (size_t i = 0; i < report.n_lines; i++)
                fprintf(stderr, "  %s\n", report.lines[i]);
        conf_report_free(&report);
        ck_assert_msg(r == 0, "config did not load: %s", strerror(-r));

        snprintf(dbpath, sizeof dbpath, "%s/journal.db", dir);
        r = journal_open(dbpath, &journal);
        ck_assert_msg(r == 0, "journal_open: %s", strerror(-r));
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return remove(path);
}

static void teardown(void) {
        journal_close(&journal);
        agent_config_free(&cfg);
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Runs sql on a second connection to the journal's file. */
static void journal_file_sql(const char *sql) {
        sqlite3 *db = NULL;
        char *err = NULL;
        ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK, "%s: %s", sql, err);
        sqlite3_close(db);
}

/* Every write of the drain state now fails, with this message. */
#define KV_REFUSED "the disk refuses this write"
static void fail_kv_writes(void) {
        journal_file_sql("CREATE TRIGGER refuse_kv BEFORE INSERT ON kv"
                         " BEGIN SELECT RAISE(ABORT, '" KV_REFUSED "'); END;");
}

/* Runs a drain or a rollback of upgrade up-1 (neither has parameters). */
static void run(Hitless__Command__ActionCase action, action_result_t *r) {
        Hitless__Command cmd = HITLESS__COMMAND__INIT;
        Hitless__DrainAction d = HITLESS__DRAIN_ACTION__INIT;
        Hitless__RollbackAction rb = HITLESS__ROLLBACK_ACTION__INIT;
        action_ctx_t ctx = { cfg, journal, NULL, NULL };
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
        ck_assert_int_eq(file_read_all(conf_file, 4096, &data, &len), 0);
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
        fail_kv_writes();
        drain(&r);
        ck_assert_int_eq(r.state, JCMD_FAILED);
        ck_assert_str_eq(r.error_code, "journal");
        ck_assert_msg(strstr(r.message, KV_REFUSED), "no journal message in: %s", r.message);
        ck_assert_msg(strstr(r.message, "drain hook succeeded"), "no hook outcome in: %s", r.message);
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
        write_file(conf_file, changed);
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
        fail_kv_writes();
        rollback(&r);
        ck_assert_int_eq(r.state, JCMD_FAILED);
        ck_assert_str_eq(r.error_code, "journal");
        ck_assert_msg(strstr(r.message, KV_REFUSED), "no journal message in: %s", r.message);
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
