/* agent/admission: a command is for this node and has a bounded deadline. */
#include <check.h>
#include <stdlib.h>

#include "agent/admission.h"

static agent_config_t cfg = { .node_id = "n1", .max_command_deadline_ms = 3600 * 1000 };

static const char *decide(const char *node, int64_t deadline, int64_t now) {
        static action_result_t r;
        Hitless__Command c = HITLESS__COMMAND__INIT;
        c.node_id = (char *) node;
        c.deadline = deadline;
        r = (action_result_t) { 0 };
        if (admission_allows(&cfg, &c, now, &r))
                return "ok";
        ck_assert_int_eq(r.state, JCMD_REFUSED);
        return r.error_code;
}

START_TEST(test_deadlines) {
        ck_assert_str_eq(decide("n1", 1600, 1000), "ok");
        ck_assert_str_eq(decide("n1", 1000 + 3600, 1000), "ok");
        ck_assert_str_eq(decide("n1", 0, 1000), "no-deadline");
        ck_assert_str_eq(decide("n1", -5, 1000), "no-deadline");
        ck_assert_str_eq(decide("n1", 999, 1000), "expired");
        ck_assert_str_eq(decide("n1", 1000 + 3601, 1000), "deadline-too-far");
        ck_assert_str_eq(decide("n2", 1600, 1000), "wrong-node");
}
END_TEST

int main(void) {
        Suite *su = suite_create("admission");
        TCase *tc = tcase_create("deadline");
        tcase_add_test(tc, test_deadlines);
        suite_add_tcase(su, tc);
        SRunner *sr = srunner_create(su);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
