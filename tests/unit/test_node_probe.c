/* agent/node_probe: heartbeats read the latest round without waiting for a
 * round in progress (a check stuck for seconds never holds a heartbeat),
 * and a change makes earlier rounds stale until one measured after it. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/node_probe.h"
#include "common/clock.h"

static char s_dir[] = "/tmp/hitless-probe-XXXXXX";
static char s_gate[128], s_healthy[128], s_script[128];
static char *s_argv[] = { (char *) "/bin/sh", s_script, NULL };

/* The check: healthy while the "healthy" file exists; each round after the
 * first waits (up to 20 s) for the gate file, which the test removes after
 * reading it, so every round can be held at will. */
static void s_setup(void) {
        ck_assert_ptr_nonnull(mkdtemp(s_dir));
        snprintf(s_gate, sizeof s_gate, "%s/gate", s_dir);
        snprintf(s_healthy, sizeof s_healthy, "%s/healthy", s_dir);
        snprintf(s_script, sizeof s_script, "%s/check.sh", s_dir);
        FILE *f = fopen(s_script, "w");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "#!/bin/sh\n"
                   "d=%s\n"
                   "if [ -e $d/started ]; then\n"
                   "  i=0; while [ ! -e $d/gate ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done\n"
                   "  rm -f $d/gate\n"
                   "fi\n"
                   "touch $d/started\n"
                   "[ -e $d/healthy ]\n", s_dir);
        fclose(f);
}

static void s_teardown(void) {
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
        ck_assert_int_eq(system(cmd), 0);
        strcpy(s_dir, "/tmp/hitless-probe-XXXXXX");
}

static void s_touch(const char *path) {
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fclose(f);
}

static check_config_t s_check;
static agent_config_t s_cfg;

/* A probe of the one gated check, the node healthy or not at its first round. */
static node_probe_t *s_start(bool healthy, int64_t interval_ms) {
        node_probe_t *p;
        s_check = (check_config_t) { .name = (char *) "gated", .kind = CHECK_EXEC,
                                     .argv = s_argv, .timeout_ms = 30000, .critical = true };
        s_cfg = (agent_config_t) { .checks = &s_check, .n_checks = 1, .package_backend = (char *) "none" };
        if (healthy)
                s_touch(s_healthy);
        ck_assert_int_eq(node_probe_new(&s_cfg, interval_ms, &p), 0);
        return p;
}

/* The report, after waiting up to 20 s for one as fresh as wanted. */
static Hitless__HealthReport *s_wait_report(node_probe_t *p, bool want_fresh, bool *ret_fresh) {
        int64_t until = clock_mono_ms() + 20000;
        for (;;) {
                Hitless__HealthReport *rep = node_probe_report(p, ret_fresh);
                ck_assert_ptr_nonnull(rep);
                if (*ret_fresh == want_fresh || clock_mono_ms() > until)
                        return rep;
                hitless__health_report__free_unpacked(rep, NULL);
                usleep(20000);
        }
}

START_TEST(test_first_round_is_there_at_once) {
        node_probe_t *p = s_start(true, 60000);
        bool fresh;

        Hitless__HealthReport *rep = node_probe_report(p, &fresh);
        ck_assert(fresh);
        ck_assert_uint_eq(rep->n_checks, 1);
        ck_assert_msg(rep->state == HITLESS__HEALTH_STATE__HEALTH_HEALTHY, "state %d: %s", rep->state, rep->checks[0]->detail);
        ck_assert_uint_eq(rep->n_checks, 1);
        ck_assert_str_eq(rep->checks[0]->name, "gated");
        ck_assert(rep->checks[0]->ok);
        ck_assert(!rep->drained);
        hitless__health_report__free_unpacked(rep, NULL);
        node_probe_destroy(&p);
        ck_assert_ptr_null(p);
}
END_TEST

/* The heart of it: while a round is held by a stuck check, the report is
 * answered (the last round, marked stale after the change), and the round
 * measured after the change replaces it once the check returns. */
START_TEST(test_a_stuck_round_holds_no_report_and_a_change_is_stale_until_measured) {
        node_probe_t *p = s_start(true, 60000);
        bool fresh;

        unlink(s_healthy);          /* the change breaks the node */
        node_probe_invalidate(p);   /* a round starts, and waits at the gate */

        usleep(300000);
        for (int i = 0; i < 5; i++) {
                Hitless__HealthReport *rep = node_probe_report(p, &fresh);
                ck_assert(!fresh);  /* the round before the change: stale */
                ck_assert_int_eq(rep->state, HITLESS__HEALTH_STATE__HEALTH_HEALTHY);
                hitless__health_report__free_unpacked(rep, NULL);
        }

        s_touch(s_gate);
        Hitless__HealthReport *rep = s_wait_report(p, true, &fresh);
        ck_assert(fresh);
        ck_assert_int_eq(rep->state, HITLESS__HEALTH_STATE__HEALTH_UNHEALTHY);
        ck_assert(!rep->checks[0]->ok);
        hitless__health_report__free_unpacked(rep, NULL);
        s_touch(s_gate);            /* lets a round in progress end at destroy */
        node_probe_destroy(&p);
}
END_TEST

/* Without a change, rounds follow the interval. */
START_TEST(test_rounds_follow_the_interval) {
        node_probe_t *p = s_start(false, 100);
        bool fresh;

        Hitless__HealthReport *rep = node_probe_report(p, &fresh);
        ck_assert_int_eq(rep->state, HITLESS__HEALTH_STATE__HEALTH_UNHEALTHY);
        hitless__health_report__free_unpacked(rep, NULL);

        s_touch(s_healthy);
        s_touch(s_gate);
        int64_t until = clock_mono_ms() + 20000;
        for (;;) {
                rep = node_probe_report(p, &fresh);
                ck_assert(fresh);
                Hitless__HealthState st = rep->state;
                hitless__health_report__free_unpacked(rep, NULL);
                if (st == HITLESS__HEALTH_STATE__HEALTH_HEALTHY)
                        break;
                ck_assert_int_lt(clock_mono_ms(), until);
                usleep(20000);
        }
        s_touch(s_gate);
        node_probe_destroy(&p);
}
END_TEST

int main(void) {
        Suite *s = suite_create("node_probe");
        TCase *tc = tcase_create("probe");
        tcase_add_checked_fixture(tc, s_setup, s_teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_first_round_is_there_at_once);
        tcase_add_test(tc, test_a_stuck_round_holds_no_report_and_a_change_is_stale_until_measured);
        tcase_add_test(tc, test_rounds_follow_the_interval);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
