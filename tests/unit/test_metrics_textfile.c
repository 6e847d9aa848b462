/* The agent's node_exporter textfile: what it says, and that a hostile
 * command id stays inside its label. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/metrics_textfile.h"

static char *format(const metrics_textfile_t *m) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        ck_assert_ptr_nonnull(f);
        metrics_textfile_format(f, m);
        fclose(f);
        return buf;
}

START_TEST(test_health_one_hot_and_last_command) {
        metrics_textfile_t m = { .health = HEALTH_STATE_DEGRADED, .drained = true, .registered = false,
                                 .journal_bytes = 4096, .now = 1700000000 };
        snprintf(m.last.id, sizeof m.last.id, "up-1-\"7\"\n");
        snprintf(m.last.action, sizeof m.last.action, "install");
        snprintf(m.last.state, sizeof m.last.state, "succeeded");
        m.last.finished = 1699999999;
        char *t = format(&m);
        ck_assert_ptr_nonnull(strstr(t, "\nhitless_agent_health{state=\"degraded\"} 1\n"));
        ck_assert_ptr_nonnull(strstr(t, "\nhitless_agent_health{state=\"healthy\"} 0\n"));
        ck_assert_ptr_nonnull(strstr(t, "\nhitless_agent_drained 1\n"));
        ck_assert_ptr_nonnull(strstr(t, "\nhitless_agent_registered 0\n"));
        ck_assert_ptr_nonnull(strstr(t, "\nhitless_agent_last_command_info{id=\"up-1-\\\"7\\\"\\n\",action=\"install\","
                                        "state=\"succeeded\"} 1\n"));
        ck_assert_ptr_nonnull(strstr(t, "\nhitless_agent_last_command_end_time_seconds 1699999999\n"));
        ck_assert_ptr_nonnull(strstr(t, "\nhitless_agent_journal_bytes 4096\n"));
        ck_assert_ptr_nonnull(strstr(t, "\nhitless_agent_textfile_time_seconds 1700000000\n"));
        free(t);
}
END_TEST

START_TEST(test_nothing_unknown_is_made_up) {
        metrics_textfile_t m = { .health = HEALTH_STATE_UNKNOWN, .journal_bytes = -1, .now = 1 };
        char *t = format(&m);
        ck_assert_ptr_null(strstr(t, "last_command"));
        ck_assert_ptr_null(strstr(t, "journal_bytes"));
        ck_assert_ptr_nonnull(strstr(t, "hitless_agent_health{state=\"unknown\"} 1\n"));
        free(t);
}
END_TEST

START_TEST(test_written_whole) {
        char dir[] = "/tmp/test_metrics_textfile.XXXXXX", path[64], cmd[96];
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/hitless.prom", dir);
        metrics_textfile_t m = { .health = HEALTH_STATE_HEALTHY, .journal_bytes = -1, .now = 2 };
        ck_assert_int_eq(metrics_textfile_write(path, &m), 0);
        FILE *f = fopen(path, "r");
        ck_assert_ptr_nonnull(f);
        char line[256];
        ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
        ck_assert_str_eq(line, "# HELP hitless_agent_health The node's health as its last heartbeat reported it (1 for its state).\n");
        fclose(f);
        ck_assert_int_eq(metrics_textfile_journal_bytes(dir), -1);   /* no journal there */
        snprintf(path, sizeof path, "%s/nodir/hitless.prom", dir);
        ck_assert_int_lt(metrics_textfile_write(path, &m), 0);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("metrics_textfile");
        TCase *tc = tcase_create("textfile");
        tcase_add_test(tc, test_health_one_hot_and_last_command);
        tcase_add_test(tc, test_nothing_unknown_is_made_up);
        tcase_add_test(tc, test_written_whole);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int nf = srunner_ntests_failed(sr);
        srunner_free(sr);
        return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
