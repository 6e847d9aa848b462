/* common/ratelimit: the token bucket. Pure: every test passes the time in
 * explicitly, so nothing here depends on the machine's speed. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/ratelimit.h"

/* Counts how many of n events at now_ms are allowed. */
static int allowed_at(ratelimit_t *rl, int64_t now_ms, int n) {
        int ok = 0;
        for (int i = 0; i < n; i++)
                ok += ratelimit_allow(rl, now_ms);
        return ok;
}

START_TEST(test_starts_with_a_full_bucket) {
        ratelimit_t rl;
        ratelimit_init(&rl, 1, 5);
        ck_assert_int_eq(allowed_at(&rl, 1000, 5), 5);
        ck_assert(!ratelimit_allow(&rl, 1000));
        ck_assert_uint_eq(ratelimit_take_suppressed(&rl), 1);
}
END_TEST

START_TEST(test_first_event_at_time_zero) {
        ratelimit_t rl;
        ratelimit_init(&rl, 1, 1);
        ck_assert(ratelimit_allow(&rl, 0));
        ck_assert(!ratelimit_allow(&rl, 0));
        ck_assert(!ratelimit_allow(&rl, 999));
        ck_assert(ratelimit_allow(&rl, 1000));
}
END_TEST

START_TEST(test_refills_at_rate) {
        ratelimit_t rl;
        ratelimit_init(&rl, 2, 4);  /* 2 per second, burst 4 */
        ck_assert_int_eq(allowed_at(&rl, 0, 10), 4);
        /* 1 s later: exactly 2 new tokens. */
        ck_assert_int_eq(allowed_at(&rl, 1000, 10), 2);
        /* 250 ms later: half a token, not enough. */
        ck_assert(!ratelimit_allow(&rl, 1250));
        /* another 250 ms: the halves add up to one. */
        ck_assert(ratelimit_allow(&rl, 1500));
        ck_assert(!ratelimit_allow(&rl, 1500));
}
END_TEST

START_TEST(test_refill_capped_at_burst) {
        ratelimit_t rl;
        ratelimit_init(&rl, 10, 3);
        ck_assert_int_eq(allowed_at(&rl, 0, 3), 3);
        /* An hour idle refills to the burst, not to 36000. */
        ck_assert_int_eq(allowed_at(&rl, 3600 * 1000, 100), 3);
}
END_TEST

START_TEST(test_steady_rate_over_time) {
        ratelimit_t rl;
        int ok = 0;
        ratelimit_init(&rl, 5, 1);
        /* One attempt per millisecond for 10 s: the burst (1) plus 5/s. */
        for (int64_t t = 0; t < 10000; t++)
                ok += ratelimit_allow(&rl, t);
        ck_assert_int_ge(ok, 50);
        ck_assert_int_le(ok, 51);
        ck_assert_uint_eq(ratelimit_take_suppressed(&rl), (uint64_t) (10000 - ok));
}
END_TEST

START_TEST(test_clock_going_back_adds_nothing) {
        ratelimit_t rl;
        ratelimit_init(&rl, 1, 2);
        ck_assert_int_eq(allowed_at(&rl, 10000, 2), 2);
        /* Earlier times give no tokens (and do not rewind the bucket). */
        ck_assert(!ratelimit_allow(&rl, 5000));
        ck_assert(!ratelimit_allow(&rl, 0));
        /* Time measured from 10000, not from 0 or 5000. */
        ck_assert(!ratelimit_allow(&rl, 10999));
        ck_assert(ratelimit_allow(&rl, 11000));
}
END_TEST

START_TEST(test_suppressed_counter_taken_and_cleared) {
        ratelimit_t rl;
        ratelimit_init(&rl, 1, 1);
        ck_assert_uint_eq(ratelimit_take_suppressed(&rl), 0);
        ck_assert(ratelimit_allow(&rl, 0));
        ck_assert_int_eq(allowed_at(&rl, 10, 7), 0);
        ck_assert_uint_eq(ratelimit_take_suppressed(&rl), 7);
        ck_assert_uint_eq(ratelimit_take_suppressed(&rl), 0);
        /* An allowed event does not count as suppressed. */
        ck_assert(ratelimit_allow(&rl, 2000));
        ck_assert_uint_eq(ratelimit_take_suppressed(&rl), 0);
}
END_TEST

START_TEST(test_fractional_rate) {
        ratelimit_t rl;
        ratelimit_init(&rl, 0.5, 1);  /* one every two seconds */
        ck_assert(ratelimit_allow(&rl, 0));
        ck_assert(!ratelimit_allow(&rl, 1000));
        ck_assert(!ratelimit_allow(&rl, 1999));
        ck_assert(ratelimit_allow(&rl, 2000));
}
END_TEST

START_TEST(test_zero_burst_allows_nothing) {
        ratelimit_t rl;
        ratelimit_init(&rl, 100, 0);
        ck_assert_int_eq(allowed_at(&rl, 0, 3), 0);
        ck_assert_int_eq(allowed_at(&rl, 60000, 3), 0);
        ck_assert_uint_eq(ratelimit_take_suppressed(&rl), 6);
}
END_TEST

static Suite *ratelimit_suite(void) {
        Suite *s = suite_create("ratelimit");
        TCase *tc = tcase_create("bucket");
        tcase_add_test(tc, test_starts_with_a_full_bucket);
        tcase_add_test(tc, test_first_event_at_time_zero);
        tcase_add_test(tc, test_refills_at_rate);
        tcase_add_test(tc, test_refill_capped_at_burst);
        tcase_add_test(tc, test_steady_rate_over_time);
        tcase_add_test(tc, test_clock_going_back_adds_nothing);
        tcase_add_test(tc, test_suppressed_counter_taken_and_cleared);
        tcase_add_test(tc, test_fractional_rate);
        tcase_add_test(tc, test_zero_burst_allows_nothing);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(ratelimit_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
