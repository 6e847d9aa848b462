/* Batch and failure-budget specs: "N" or "N%" of a phase. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "coordinator/upgrade/plan_math.h"

static int batch(const char *spec, int phase) {
        int v = -12345;
        int r = plan_parse_batch(spec, phase, &v);
        return r < 0 ? r : v;
}

static int failures(const char *spec, int phase) {
        int v = -12345;
        int r = plan_parse_max_failures(spec, phase, &v);
        return r < 0 ? r : v;
}

START_TEST(test_batch_counts) {
        ck_assert_int_eq(batch("3", 10), 3);
        ck_assert_int_eq(batch("1", 0), 1);
        ck_assert_int_eq(batch("50", 10), 50);         /* larger than the phase */
        ck_assert_int_eq(batch("007", 10), 7);
        ck_assert_int_eq(batch("0", 10), -EINVAL);
        ck_assert_int_eq(batch("00", 10), -EINVAL);
}
END_TEST

START_TEST(test_batch_percent) {
        ck_assert_int_eq(batch("25%", 8), 2);
        ck_assert_int_eq(batch("25%", 10), 2);         /* 2.5 rounds down */
        ck_assert_int_eq(batch("25%", 3), 1);          /* 0.75: at least 1 */
        ck_assert_int_eq(batch("1%", 0), 1);
        ck_assert_int_eq(batch("100%", 7), 7);
        ck_assert_int_eq(batch("99%", 100), 99);
        ck_assert_int_eq(batch("10%", 2000000000), 200000000);   /* no overflow */
        ck_assert_int_eq(batch("0%", 10), -EINVAL);
        ck_assert_int_eq(batch("101%", 10), -ERANGE);
}
END_TEST

START_TEST(test_failures) {
        ck_assert_int_eq(failures("2", 10), 2);
        ck_assert_int_eq(failures("0", 10), 0);
        ck_assert_int_eq(failures("10%", 50), 5);
        ck_assert_int_eq(failures("10%", 5), 0);       /* no minimum: stop at the first */
        ck_assert_int_eq(failures("0%", 5), 0);
        ck_assert_int_eq(failures("100%", 5), 5);
        ck_assert_int_eq(failures("150%", 5), -ERANGE);
}
END_TEST

START_TEST(test_malformed) {
        static const char *const bad[] = { "", " 3", "3 ", "-1", "+2", "2.5", "%", "5%%",
                                           "3x", "x3", "25 %", "0x10" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                ck_assert_msg(batch(bad[i], 10) == -EINVAL, "batch \"%s\"", bad[i]);
                ck_assert_msg(failures(bad[i], 10) == -EINVAL, "failures \"%s\"", bad[i]);
        }
        ck_assert_int_eq(batch(NULL, 10), -EINVAL);
        ck_assert_int_eq(batch("3", -1), -EINVAL);
        ck_assert_int_eq(failures("2147483647", 1), 2147483647);
        ck_assert_int_eq(failures("2147483648", 1), -ERANGE);
        ck_assert_int_eq(batch("99999999999999999999999", 1), -ERANGE);

        int v = 77;
        ck_assert_int_eq(plan_parse_batch("x", 10, &v), -EINVAL);
        ck_assert_int_eq(v, 77);                        /* untouched on failure */
}
END_TEST

int main(void) {
        Suite *s = suite_create("plan_math");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_batch_counts);
        tcase_add_test(tc, test_batch_percent);
        tcase_add_test(tc, test_failures);
        tcase_add_test(tc, test_malformed);
        suite_add_tcase(s, tc);

        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
