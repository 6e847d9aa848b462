/* common/text: strings from the network made safe to show as text. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"

static void assert_escaped(const char *in, unsigned flags, const char *want) {
        char *out;
        ck_assert_int_eq(text_escape_dup(in, flags, &out), 0);
        ck_assert_str_eq(out, want);
        ck_assert_uint_eq(text_escape(NULL, 0, in, flags), strlen(want));
        free(out);
}

START_TEST(test_controls_escaped) {
        assert_escaped("plain 1.0-2", 0, "plain 1.0-2");
        assert_escaped("a\x1b[2Jb", 0, "a\\x1b[2Jb");
        assert_escaped("row\nforged", 0, "row\\nforged");
        assert_escaped("t\tr\r\x7f", 0, "t\\tr\\r\\x7f");
        assert_escaped("x\nY", TEXT_KEEP_NEWLINES, "x\nY");
        assert_escaped("x\x1b\nY", TEXT_KEEP_NEWLINES, "x\\x1b\nY");
}
END_TEST

START_TEST(test_utf8) {
        assert_escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 0, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
        assert_escaped("\xc2\x9b" "31m", 0, "\\xc2\\x9b31m");         /* C1 CSI */
        assert_escaped("\xff\xc3", 0, "\\xff\\xc3");                   /* invalid, truncated */
        assert_escaped("\xc0\xaf", 0, "\\xc0\\xaf");                   /* overlong */
        assert_escaped("\xed\xa0\x80", 0, "\\xed\\xa0\\x80");          /* surrogate */
}
END_TEST

START_TEST(test_idempotent_and_truncated) {
        char *once, *twice, buf[8];
        ck_assert_int_eq(text_escape_dup("a\x1b\n\\x", 0, &once), 0);
        ck_assert_int_eq(text_escape_dup(once, 0, &twice), 0);
        ck_assert_str_eq(once, twice);
        free(once);
        free(twice);
        /* Cut between escapes, never inside one. */
        ck_assert_uint_eq(text_escape(buf, sizeof buf, "abc\x1b\x1b", 0), 11);
        ck_assert_str_eq(buf, "abc\\x1b");
}
END_TEST

int main(void) {
        Suite *s = suite_create("text");
        TCase *tc = tcase_create("escape");
        tcase_add_test(tc, test_controls_escaped);
        tcase_add_test(tc, test_utf8);
        tcase_add_test(tc, test_idempotent_and_truncated);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
