/* agent/unit_control: restarting units and asking their state, against the
 * systemd double (tests/helpers/systemd_double) on a private dbus-daemon.
 * tests/integration/60-unit-control-systemd.sh runs the same calls against
 * a real systemd in a container. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/unit_control.h"
#include "common/clock.h"
#include "tests/helpers/systemd_double.h"

/* Scheduling slack for "returned within the timeout": generous, as the
 * suite also runs under ASan on a busy machine. */
#define MARGIN_MS 1500

static const systemd_double_unit_t s_units[] = {
        /* inactive, a 100 ms job, then active */
        { .name = "web.service", .state = "inactive", .job_result = "done", .job_ms = 100 },
        /* JobRemoved sent before the RestartUnit reply */
        { .name = "fast.service", .state = "active", .job_result = "done", .job_ms = 0 },
        { .name = "getty@tty1.service", .state = "active", .job_result = "done", .job_ms = 10 },
        /* activating for 300 ms after the job, then active */
        { .name = "slow.service", .state = "active", .job_result = "done", .job_ms = 10,
          .state_after_job = "activating", .settle_ms = 300, .settled_state = "active" },
        { .name = "broken.service", .state = "active", .job_result = "failed", .job_ms = 50,
          .state_after_job = "failed" },
        /* the job is done but the service dies right after */
        { .name = "crashy.service", .state = "active", .job_result = "done", .job_ms = 20,
          .state_after_job = "activating", .settle_ms = 100, .settled_state = "failed" },
        { .name = "oneshot.service", .state = "inactive", .job_result = "done", .job_ms = 20,
          .state_after_job = "inactive" },
        /* never a JobRemoved */
        { .name = "hung.service", .state = "active", .job_result = NULL },
        /* the job ends but the unit never gets past activating */
        { .name = "stuck.service", .state = "active", .job_result = "done", .job_ms = 20,
          .state_after_job = "activating" },
        /* someone else's job of the same unit fails just before ours is done */
        { .name = "shared.service", .state = "active", .job_result = "done", .job_ms = 50,
          .other_job_result = "failed" },
        { .name = "result-timeout.service", .job_result = "timeout", .job_ms = 10,
          .state_after_job = "failed" },
        { .name = "result-canceled.service", .job_result = "canceled", .job_ms = 10,
          .state_after_job = "inactive" },
        { .name = "result-dependency.service", .job_result = "dependency", .job_ms = 10,
          .state_after_job = "inactive" },
        { .name = "result-skipped.service", .job_result = "skipped", .job_ms = 10,
          .state_after_job = "inactive" },
};

static char s_dir[64];
static char *s_bus;
static pid_t s_bus_pid, s_double_pid;

static void s_setup(void) {
        snprintf(s_dir, sizeof s_dir, "/tmp/hitless-unitctl-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(s_dir));
        int r = systemd_double_bus_start(s_dir, &s_bus_pid, &s_bus);
        ck_assert_msg(r == 0, "dbus-daemon: %s", strerror(-r));
        r = systemd_double_spawn_units(s_bus, s_units, sizeof s_units / sizeof s_units[0],
                                       &s_double_pid);
        ck_assert_msg(r == 0, "systemd double: %s", strerror(-r));
}

static void s_teardown(void) {
        systemd_double_stop(s_double_pid);
        systemd_double_stop(s_bus_pid);
        s_double_pid = s_bus_pid = 0;
        free(s_bus);
        s_bus = NULL;
        char sock[128];
        snprintf(sock, sizeof sock, "%s/bus.sock", s_dir);
        unlink(sock);
        rmdir(s_dir);
}

static void s_assert_state(const char *unit, const char *want) {
        char state[32] = "";
        int r = unit_active_state(s_bus, unit, state, sizeof state);
        ck_assert_msg(r == 0, "unit_active_state(%s): %s", unit, strerror(-r));
        ck_assert_str_eq(state, want);
}

#define ASSERT_CONTAINS(haystack, needle) \
        ck_assert_msg(strstr((haystack), (needle)), "\"%s\" does not contain \"%s\"", (haystack), (needle))

/* ---- restart ------------------------------------------------------------- */

START_TEST(test_restart_ok) {
        s_assert_state("web.service", "inactive");
        char err[256] = "";
        int64_t t0 = clock_mono_ms();
        int r = unit_restart(s_bus, "web.service", 5000, err, sizeof err);
        int64_t took = clock_mono_ms() - t0;
        ck_assert_msg(r == 0, "unit_restart: %d %s", r, err);
        /* It waited for the 100 ms job rather than trusting the reply. */
        ck_assert_int_ge(took, 90);
        s_assert_state("web.service", "active");
}
END_TEST

START_TEST(test_restart_signal_before_reply) {
        /* The double sends JobRemoved before answering RestartUnit: only a
         * client that matched and subscribed first sees it. */
        char err[256] = "";
        int r = unit_restart(s_bus, "fast.service", 3000, err, sizeof err);
        ck_assert_msg(r == 0, "unit_restart: %d %s", r, err);
        s_assert_state("fast.service", "active");
}
END_TEST

START_TEST(test_restart_escaped_name) {
        char err[256] = "";
        int r = unit_restart(s_bus, "getty@tty1.service", 3000, err, sizeof err);
        ck_assert_msg(r == 0, "unit_restart: %d %s", r, err);
}
END_TEST

START_TEST(test_restart_waits_for_activation) {
        char err[256] = "";
        int64_t t0 = clock_mono_ms();
        int r = unit_restart(s_bus, "slow.service", 5000, err, sizeof err);
        int64_t took = clock_mono_ms() - t0;
        ck_assert_msg(r == 0, "unit_restart: %d %s", r, err);
        ck_assert_int_ge(took, 300);
        s_assert_state("slow.service", "active");
}
END_TEST

START_TEST(test_restart_job_failed) {
        char err[256] = "";
        ck_assert_int_eq(unit_restart(s_bus, "broken.service", 3000, err, sizeof err), -EIO);
        ASSERT_CONTAINS(err, "broken.service");
        ASSERT_CONTAINS(err, "result failed");
}
END_TEST

START_TEST(test_restart_job_results) {
        static const char *const results[] = { "timeout", "canceled", "dependency", "skipped" };
        for (size_t i = 0; i < sizeof results / sizeof results[0]; i++) {
                char unit[64], want[64], err[256] = "";
                snprintf(unit, sizeof unit, "result-%s.service", results[i]);
                snprintf(want, sizeof want, "result %s", results[i]);
                ck_assert_int_eq(unit_restart(s_bus, unit, 3000, err, sizeof err), -EIO);
                ASSERT_CONTAINS(err, want);
        }
}
END_TEST

START_TEST(test_restart_unit_ends_failed) {
        char err[256] = "";
        ck_assert_int_eq(unit_restart(s_bus, "crashy.service", 3000, err, sizeof err), -EIO);
        ck_assert_str_eq(err, "unit crashy.service is failed after its restart");
}
END_TEST

START_TEST(test_restart_unit_ends_inactive) {
        char err[256] = "";
        ck_assert_int_eq(unit_restart(s_bus, "oneshot.service", 3000, err, sizeof err), -EIO);
        ck_assert_str_eq(err, "unit oneshot.service is inactive after its restart");
}
END_TEST

START_TEST(test_restart_no_job_removed) {
        char err[256] = "";
        int64_t t0 = clock_mono_ms();
        int r = unit_restart(s_bus, "hung.service", 500, err, sizeof err);
        int64_t took = clock_mono_ms() - t0;
        ck_assert_int_eq(r, -ETIMEDOUT);
        ck_assert_int_ge(took, 500);
        ck_assert_int_lt(took, 500 + MARGIN_MS);
        ASSERT_CONTAINS(err, "did not finish within 500 ms");
}
END_TEST

START_TEST(test_restart_never_active) {
        char err[256] = "";
        int64_t t0 = clock_mono_ms();
        int r = unit_restart(s_bus, "stuck.service", 600, err, sizeof err);
        int64_t took = clock_mono_ms() - t0;
        ck_assert_int_eq(r, -ETIMEDOUT);
        ck_assert_int_ge(took, 600);
        ck_assert_int_lt(took, 600 + MARGIN_MS);
        ASSERT_CONTAINS(err, "stuck.service");
        ASSERT_CONTAINS(err, "activating");
}
END_TEST

START_TEST(test_restart_ignores_other_jobs) {
        char err[256] = "";
        int r = unit_restart(s_bus, "shared.service", 3000, err, sizeof err);
        ck_assert_msg(r == 0, "someone else's failed job counted as ours: %d %s", r, err);
}
END_TEST

START_TEST(test_restart_unknown_unit) {
        char err[256] = "";
        ck_assert_int_eq(unit_restart(s_bus, "nope.service", 3000, err, sizeof err), -ENOENT);
        ck_assert_str_eq(err, "unit nope.service not found");
}
END_TEST

START_TEST(test_restart_bad_arguments) {
        char err[256] = "";
        ck_assert_int_eq(unit_restart(s_bus, "", 3000, err, sizeof err), -EINVAL);
        ck_assert_int_eq(unit_restart(s_bus, NULL, 3000, err, sizeof err), -EINVAL);
        ck_assert_int_eq(unit_restart(s_bus, "web.service", 0, err, sizeof err), -EINVAL);
        /* error may be NULL */
        ck_assert_int_eq(unit_restart(s_bus, "nope.service", 3000, NULL, 0), -ENOENT);
        s_assert_state("web.service", "inactive");
}
END_TEST

START_TEST(test_restart_unreachable_bus) {
        char addr[128], err[256] = "";
        snprintf(addr, sizeof addr, "unix:path=%s/no-such-bus.sock", s_dir);
        int r = unit_restart(addr, "web.service", 2000, err, sizeof err);
        /* connect() says ENOENT for a missing socket; that must not read as
         * "no such unit". */
        ck_assert_int_eq(r, -ECONNREFUSED);
        char want[192];
        snprintf(want, sizeof want, "cannot connect to %s: ", addr);
        ASSERT_CONTAINS(err, want);
}
END_TEST

START_TEST(test_restart_no_systemd_on_bus) {
        systemd_double_stop(s_double_pid);
        s_double_pid = 0;
        char err[256] = "";
        int64_t t0 = clock_mono_ms();
        int r = unit_restart(s_bus, "web.service", 5000, err, sizeof err);
        ck_assert_int_lt(r, 0);
        ck_assert_int_ne(r, -ENOENT);
        ck_assert_int_ne(r, -ETIMEDOUT);
        ck_assert_int_lt(clock_mono_ms() - t0, 5000);
        ck_assert_int_ne(err[0], '\0');
}
END_TEST

START_TEST(test_restart_bus_dies_while_waiting) {
        /* A child stops the dbus-daemon 300 ms into a wait for a job that
         * never ends: the wait must end with the bus, not the timeout. */
        pid_t parent = getpid();
        pid_t killer = fork();
        ck_assert_int_ge(killer, 0);
        if (killer == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(1);
                usleep(300 * 1000);
                _exit(kill(s_bus_pid, SIGTERM) == 0 ? 0 : 1);
        }
        char err[256] = "";
        int64_t t0 = clock_mono_ms();
        int r = unit_restart(s_bus, "hung.service", 10000, err, sizeof err);
        int64_t took = clock_mono_ms() - t0;
        int status;
        ck_assert_int_eq(waitpid(killer, &status, 0), killer);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ck_assert_int_lt(r, 0);
        ck_assert_int_ne(r, -ETIMEDOUT);
        ck_assert_int_ne(r, -ENOENT);
        ck_assert_int_lt(took, 5000);
        ASSERT_CONTAINS(err, "lost the bus");
}
END_TEST

/* ---- state ----------------------------------------------------------------- */

/* ---- start, stop ----------------------------------------------------------- */

START_TEST(test_start_then_stop) {
        char err[256] = "";
        s_assert_state("web.service", "inactive");
        int r = unit_start(s_bus, "web.service", 5000, err, sizeof err);
        ck_assert_msg(r == 0, "unit_start: %d %s", r, err);
        s_assert_state("web.service", "active");
        r = unit_stop(s_bus, "web.service", 5000, err, sizeof err);
        ck_assert_msg(r == 0, "unit_stop: %d %s", r, err);
        s_assert_state("web.service", "inactive");
}
END_TEST

/* The job's result decides, for a stop as for a restart. */
START_TEST(test_stop_job_failed) {
        char err[256] = "";
        int r = unit_stop(s_bus, "broken.service", 3000, err, sizeof err);
        ck_assert_int_eq(r, -EIO);
        ASSERT_CONTAINS(err, "stop job ended with result failed");
}
END_TEST

START_TEST(test_stop_no_job_removed_times_out) {
        char err[256] = "";
        int r = unit_stop(s_bus, "hung.service", 300, err, sizeof err);
        ck_assert_int_eq(r, -ETIMEDOUT);
        ASSERT_CONTAINS(err, "stop job");
}
END_TEST

START_TEST(test_start_unknown_unit) {
        char err[256] = "";
        ck_assert_int_eq(unit_start(s_bus, "nope.service", 3000, err, sizeof err), -ENOENT);
        ck_assert_int_eq(unit_stop(s_bus, "nope.service", 3000, err, sizeof err), -ENOENT);
}
END_TEST

START_TEST(test_state_active_inactive) {
        s_assert_state("fast.service", "active");
        s_assert_state("web.service", "inactive");
        s_assert_state("getty@tty1.service", "active");
}
END_TEST

START_TEST(test_state_unknown) {
        char state[32] = "untouched";
        ck_assert_int_eq(unit_active_state(s_bus, "nope.service", state, sizeof state), -ENOENT);
        ck_assert_str_eq(state, "untouched");
        char err[128] = "";
        ck_assert_int_eq(unit_active_state_timed(s_bus, "nope.service", 2000, state, sizeof state,
                                                 err, sizeof err),
                         -ENOENT);
        ck_assert_str_eq(err, "unit nope.service not found");
}
END_TEST

START_TEST(test_state_small_buffer) {
        char state[6] = "xxxxx";
        /* "active" needs 7 bytes */
        ck_assert_int_eq(unit_active_state(s_bus, "fast.service", state, sizeof state), -ENOBUFS);
        ck_assert_str_eq(state, "xxxxx");
        char big[7];
        ck_assert_int_eq(unit_active_state(s_bus, "fast.service", big, sizeof big), 0);
        ck_assert_str_eq(big, "active");
}
END_TEST

START_TEST(test_state_unreachable_bus) {
        char addr[128], state[32];
        snprintf(addr, sizeof addr, "unix:path=%s/no-such-bus.sock", s_dir);
        ck_assert_int_eq(unit_active_state(addr, "web.service", state, sizeof state), -ECONNREFUSED);
}
END_TEST

static Suite *unit_control_suite(void) {
        Suite *s = suite_create("unit_control");
        TCase *tc = tcase_create("restart");
        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, s_setup, s_teardown);
        tcase_add_test(tc, test_restart_ok);
        tcase_add_test(tc, test_restart_signal_before_reply);
        tcase_add_test(tc, test_restart_escaped_name);
        tcase_add_test(tc, test_restart_waits_for_activation);
        tcase_add_test(tc, test_restart_job_failed);
        tcase_add_test(tc, test_restart_job_results);
        tcase_add_test(tc, test_restart_unit_ends_failed);
        tcase_add_test(tc, test_restart_unit_ends_inactive);
        tcase_add_test(tc, test_restart_no_job_removed);
        tcase_add_test(tc, test_restart_never_active);
        tcase_add_test(tc, test_restart_ignores_other_jobs);
        tcase_add_test(tc, test_restart_unknown_unit);
        tcase_add_test(tc, test_restart_bad_arguments);
        tcase_add_test(tc, test_restart_unreachable_bus);
        tcase_add_test(tc, test_restart_no_systemd_on_bus);
        tcase_add_test(tc, test_restart_bus_dies_while_waiting);
        tcase_add_test(tc, test_start_then_stop);
        tcase_add_test(tc, test_stop_job_failed);
        tcase_add_test(tc, test_stop_no_job_removed_times_out);
        tcase_add_test(tc, test_start_unknown_unit);
        suite_add_tcase(s, tc);

        tc = tcase_create("state");
        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, s_setup, s_teardown);
        tcase_add_test(tc, test_state_active_inactive);
        tcase_add_test(tc, test_state_unknown);
        tcase_add_test(tc, test_state_small_buffer);
        tcase_add_test(tc, test_state_unreachable_bus);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(unit_control_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
