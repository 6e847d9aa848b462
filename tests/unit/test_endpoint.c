#include "common/endpoint.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
        const char *in;
        endpoint_kind_t kind;
        const char *host;
        unsigned port;
} good_t;

typedef struct {
        const char *in;
        const char *why; /* expected substring of the error */
} bad_t;

START_TEST(test_parse_valid) {
        static const good_t v[] = {
                { "10.0.0.1:5269", ENDPOINT_IPV4, "10.0.0.1", 5269 },
                { "0.0.0.0:1", ENDPOINT_IPV4, "0.0.0.0", 1 },
                { "255.255.255.255:65535", ENDPOINT_IPV4, "255.255.255.255", 65535 },
                { "[::1]:5269", ENDPOINT_IPV6, "::1", 5269 },
                { "[fd00:1::2]:8086", ENDPOINT_IPV6, "fd00:1::2", 8086 },
                { "[::ffff:10.0.0.1]:53", ENDPOINT_IPV6, "::ffff:10.0.0.1", 53 },
                { "controller.example.com:8082", ENDPOINT_DNS, "controller.example.com", 8082 },
                { "ctrl-1:1", ENDPOINT_DNS, "ctrl-1", 1 },
                { "A.B-C.d1:80", ENDPOINT_DNS, "A.B-C.d1", 80 },
                { "1a.example:80", ENDPOINT_DNS, "1a.example", 80 },
                { "10.0.0.1a:80", ENDPOINT_DNS, "10.0.0.1a", 80 },
                { "localhost:8443", ENDPOINT_DNS, "localhost", 8443 },
        };
        char err[256];

        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
                endpoint_t e;
                err[0] = '\0';
                int r = endpoint_parse(v[i].in, 0, &e, err, sizeof err);
                ck_assert_msg(r == 0, "'%s' rejected: %s", v[i].in, err);
                ck_assert_int_eq(e.kind, v[i].kind);
                ck_assert_str_eq(e.host, v[i].host);
                ck_assert_uint_eq(e.port, v[i].port);
        }
}
END_TEST

START_TEST(test_parse_label_limits) {
        char s[400], err[256];
        endpoint_t e;

        /* 63-character label: fine; 64: not. */
        memset(s, 'a', 63);
        strcpy(s + 63, ".example:1");
        ck_assert_int_eq(endpoint_parse(s, 0, &e, err, sizeof err), 0);
        memset(s, 'a', 64);
        strcpy(s + 64, ".example:1");
        ck_assert_int_eq(endpoint_parse(s, 0, &e, err, sizeof err), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "longer than 63"));

        /* 253-character name (labels of 49 + dot): fine; 255: not. */
        size_t n = 0;
        while (n < 253) {
                size_t take = 253 - n >= 50 ? 49 : 253 - n;
                memset(s + n, 'b', take);
                n += take;
                if (n < 253)
                        s[n++] = '.';
        }
        strcpy(s + n, ":1");
        ck_assert_uint_eq(strlen(s), 255);
        ck_assert_msg(endpoint_parse(s, 0, &e, err, sizeof err) == 0, "%s", err);
        ck_assert_uint_eq(strlen(e.host), 253);
        memmove(s + 2, s, strlen(s) + 1);
        s[0] = 'c', s[1] = 'c';
        ck_assert_int_eq(endpoint_parse(s, 0, &e, err, sizeof err), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "longer than 253"));
}
END_TEST

START_TEST(test_parse_invalid) {
        static const bad_t v[] = {
                { "", "empty" },
                { "10.0.0.1", "missing ':port'" },
                { "10.0.0.1:", "missing port" },
                { "10.0.0.1:0", "out of range" },
                { "10.0.0.1:65536", "out of range" },
                { "10.0.0.1:123456", "out of range" },
                { "10.0.0.1:05269", "leading zeros" },
                { "10.0.0.1:+80", "not a decimal" },
                { "10.0.0.1:80a", "not a decimal" },
                { "10.0.0.1:notaport", "not a decimal" },
                { "10.0.0.1:-1", "not a decimal" },
                { "10.0.0.256:1", "bad IPv4" },
                { "10.0.0:1", "bad IPv4" },
                { "010.0.0.1:1", "bad IPv4" },
                { "1.2.3.4.5:1", "bad IPv4" },
                { "10.0.0.300:5269", "bad IPv4" },
                { "::1:5269", "[address]:port" },
                { "fd00::1", "[address]:port" },
                { "[::1]", "missing ':port'" },
                { "[::1:5269", "missing ']'" },
                { "[::1]5269", "after ']'" },
                { "[10.0.0.1]:1", "bad IPv6" },
                { "[]:1", "missing IPv6" },
                { "[fe80::1%eth0]:1", "bad IPv6" },
                { "[::g]:1", "bad IPv6" },
                { "-foo:1", "starts with '-'" },
                { "foo-:1", "ends with '-'" },
                { "foo..bar:1", "empty label" },
                { ".foo:1", "empty label" },
                { "foo.:1", "ends with '.'" },
                { "foo_bar:1", "invalid character" },
                { "foo.123:1", "all digits" },
                { "foo;rm:1", "invalid character" },
                { "$(id):1", "invalid character" },
                { "h\xc3\xa9:1", "invalid character" },
                { ":80", "missing host" },
                { "a:b:c", "[address]:port" },
        };
        char err[256];

        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
                endpoint_t e = { .port = 4242 };
                err[0] = '\0';
                int r = endpoint_parse(v[i].in, 0, &e, err, sizeof err);
                ck_assert_msg(r == -EINVAL, "'%s' accepted", v[i].in);
                ck_assert_msg(strstr(err, v[i].why), "'%s': error '%s' lacks '%s'", v[i].in, err,
                              v[i].why);
                ck_assert_uint_eq(e.port, 4242); /* untouched on failure */
        }
        ck_assert_int_eq(endpoint_parse(NULL, 0, &(endpoint_t) { 0 }, NULL, 0), -EINVAL);
}
END_TEST

START_TEST(test_parse_default_port) {
        endpoint_t e;
        char err[256];

        ck_assert_int_eq(endpoint_parse("10.0.0.1", 5269, &e, err, sizeof err), 0);
        ck_assert_uint_eq(e.port, 5269);
        ck_assert_int_eq(e.kind, ENDPOINT_IPV4);
        ck_assert_int_eq(endpoint_parse("[fd00::1]", 53, &e, err, sizeof err), 0);
        ck_assert_str_eq(e.host, "fd00::1");
        ck_assert_uint_eq(e.port, 53);
        ck_assert_int_eq(endpoint_parse("fd00::1", 53, &e, err, sizeof err), 0);
        ck_assert_int_eq(e.kind, ENDPOINT_IPV6);
        ck_assert_str_eq(e.host, "fd00::1");
        ck_assert_int_eq(endpoint_parse("ctrl", 8086, &e, err, sizeof err), 0);
        ck_assert_int_eq(e.kind, ENDPOINT_DNS);
        ck_assert_uint_eq(e.port, 8086);
        /* An explicit port wins over the default. */
        ck_assert_int_eq(endpoint_parse("ctrl:80", 8086, &e, err, sizeof err), 0);
        ck_assert_uint_eq(e.port, 80);
        /* Bare IPv6 with a default port must still be a whole address. */
        ck_assert_int_eq(endpoint_parse("fd00::zz", 53, &e, err, sizeof err), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "bad IPv6"));
}
END_TEST

START_TEST(test_list_valid) {
        static const struct {
                const char *in;
                size_t n;
                const char *space; /* formatted back with spaces and ports */
        } v[] = {
                { "10.0.0.1:5269 10.0.0.2:5269", 2, "10.0.0.1:5269 10.0.0.2:5269" },
                { "10.0.0.1:5269,10.0.0.2:5269", 2, "10.0.0.1:5269 10.0.0.2:5269" },
                { "a:1, b:2 ,c:3\td:4", 4, "a:1 b:2 c:3 d:4" },
                { "  10.0.0.1:8086  ", 1, "10.0.0.1:8086" },
                { "a:1  ,  b:2", 2, "a:1 b:2" },
                { "a:1 a:2", 2, "a:1 a:2" },      /* same host, other port */
                { "[::1]:5269,[::2]:5269", 2, "[::1]:5269 [::2]:5269" },
        };
        char err[256];

        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
                endpoint_list_t l;
                char *out = NULL;
                err[0] = '\0';
                ck_assert_msg(endpoint_list_parse(v[i].in, 0, &l, err, sizeof err) == 0,
                              "'%s' rejected: %s", v[i].in, err);
                ck_assert_uint_eq(l.n, v[i].n);
                ck_assert_int_eq(endpoint_list_format(&l, ENDPOINT_FORMAT_SPACE, &out), 0);
                ck_assert_str_eq(out, v[i].space);
                free(out);
                endpoint_list_free(&l);
                ck_assert_ptr_null(l.items);
                ck_assert_uint_eq(l.n, 0);
                endpoint_list_free(&l); /* twice is fine */
        }
}
END_TEST

START_TEST(test_list_invalid) {
        static const bad_t v[] = {
                { "", "empty endpoint list" },
                { "   \t ", "empty endpoint list" },
                { ",", "element 1: empty" },
                { ",a:1", "element 1: empty" },
                { "a:1,,b:2", "element 2: empty" },
                { "a:1 , , b:2", "element 2: empty" },
                { "a:1,", "element 2: empty (trailing ',')" },
                { "a:1 , ", "element 2: empty (trailing ',')" },
                { "a:1 a:1", "element 2 'a:1': duplicate of element 1" },
                { "A.example:1 a.EXAMPLE:1", "duplicate of element 1" },
                { "[::1]:1 [0::1]:1", "duplicate of element 1" },
                { "x:9 [fd00::1]:1 [fd00:0::1]:1", "element 3 '[fd00:0::1]:1': duplicate of element 2" },
                { "10.0.0.1:5269 10.0.0.300:5269", "element 2 '10.0.0.300:5269': bad IPv4 address" },
                { "a:1 b\x01:1", "element 2 'b?:1': invalid character" },
                { "a:1;b:2", "element 1 'a:1;b:2'" },
                { "a:1 b", "element 2 'b': missing ':port'" },
        };
        char err[256];

        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
                endpoint_list_t l = { .items = (endpoint_t *) 1, .n = 77 };
                err[0] = '\0';
                ck_assert_msg(endpoint_list_parse(v[i].in, 0, &l, err, sizeof err) == -EINVAL,
                              "'%s' accepted", v[i].in);
                ck_assert_msg(strstr(err, v[i].why), "'%s': error '%s' lacks '%s'", v[i].in, err,
                              v[i].why);
                ck_assert_uint_eq(l.n, 77); /* untouched on failure */
        }
}
END_TEST

START_TEST(test_list_long_element_message_bounded) {
        char s[2000], err[64];
        endpoint_list_t l;

        memset(s, 'a', sizeof s - 1);
        s[sizeof s - 1] = '\0';
        ck_assert_int_eq(endpoint_list_parse(s, 0, &l, err, sizeof err), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "element 1 'aaa"));
        ck_assert_uint_eq(strlen(err), sizeof err - 1); /* truncated, terminated */
        /* No error buffer at all is allowed. */
        ck_assert_int_eq(endpoint_list_parse("a:1,,", 0, &l, NULL, 0), -EINVAL);
}
END_TEST

START_TEST(test_list_default_port) {
        endpoint_list_t l;
        char err[256], *out;

        ck_assert_int_eq(endpoint_list_parse("10.0.0.1 10.0.0.2:5270 fd00::1", 5269, &l, err,
                                             sizeof err), 0);
        ck_assert_uint_eq(l.n, 3);
        ck_assert_int_eq(endpoint_list_format(&l, ENDPOINT_FORMAT_COMMA, &out), 0);
        ck_assert_str_eq(out, "10.0.0.1:5269,10.0.0.2:5270,[fd00::1]:5269");
        free(out);
        endpoint_list_free(&l);
}
END_TEST

START_TEST(test_format_styles) {
        endpoint_list_t l;
        char err[256], *out;

        ck_assert_int_eq(endpoint_list_parse("10.0.0.1:5269,[fd00::1]:5269 ctrl.example:5269", 0,
                                             &l, err, sizeof err), 0);
        ck_assert_int_eq(endpoint_list_format(&l, ENDPOINT_FORMAT_SPACE, &out), 0);
        ck_assert_str_eq(out, "10.0.0.1:5269 [fd00::1]:5269 ctrl.example:5269");
        free(out);
        ck_assert_int_eq(endpoint_list_format(&l, ENDPOINT_FORMAT_COMMA, &out), 0);
        ck_assert_str_eq(out, "10.0.0.1:5269,[fd00::1]:5269,ctrl.example:5269");
        free(out);
        ck_assert_int_eq(endpoint_list_format(&l, ENDPOINT_FORMAT_NO_PORT, &out), 0);
        ck_assert_str_eq(out, "10.0.0.1 fd00::1 ctrl.example");
        free(out);
        ck_assert_int_eq(endpoint_list_format(&l, ENDPOINT_FORMAT_COMMA | ENDPOINT_FORMAT_NO_PORT,
                                              &out), 0);
        ck_assert_str_eq(out, "10.0.0.1,fd00::1,ctrl.example");

        /* Hosts-only output reads back with a default port. */
        endpoint_list_t back;
        ck_assert_int_eq(endpoint_list_parse(out, 5269, &back, err, sizeof err), 0);
        ck_assert(endpoint_list_equal(&l, &back));
        free(out);
        endpoint_list_free(&back);

        endpoint_list_t empty = { 0 };
        out = (char *) 1;
        ck_assert_int_eq(endpoint_list_format(&empty, ENDPOINT_FORMAT_SPACE, &out), -EINVAL);
        ck_assert_ptr_eq(out, (char *) 1);
        endpoint_list_free(&l);
}
END_TEST

START_TEST(test_round_trip_and_equality) {
        static const char *lists[] = {
                "10.0.0.1:5269 10.0.0.2:5269",
                "[fd00::a]:8086,[fd00::b]:8086,c.example:8086",
                "x:1",
        };
        static const endpoint_format_t formats[] = { ENDPOINT_FORMAT_SPACE, ENDPOINT_FORMAT_COMMA };
        char err[256];

        for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
                for (size_t f = 0; f < 2; f++) {
                        endpoint_list_t a, b;
                        char *out;
                        ck_assert_int_eq(endpoint_list_parse(lists[i], 0, &a, err, sizeof err), 0);
                        ck_assert_int_eq(endpoint_list_format(&a, formats[f], &out), 0);
                        ck_assert_int_eq(endpoint_list_parse(out, 0, &b, err, sizeof err), 0);
                        ck_assert(endpoint_list_equal(&a, &b));
                        free(out);
                        endpoint_list_free(&a);
                        endpoint_list_free(&b);
                }

        endpoint_list_t x, y, z, w;
        ck_assert_int_eq(endpoint_list_parse("a:1 b:2", 0, &x, err, sizeof err), 0);
        ck_assert_int_eq(endpoint_list_parse("b:2 a:1", 0, &y, err, sizeof err), 0);
        ck_assert_int_eq(endpoint_list_parse("A:1,B:2", 0, &z, err, sizeof err), 0);
        ck_assert_int_eq(endpoint_list_parse("a:1 b:3", 0, &w, err, sizeof err), 0);
        ck_assert(!endpoint_list_equal(&x, &y)); /* order matters */
        ck_assert(endpoint_list_equal(&x, &z));  /* host case does not */
        ck_assert(!endpoint_list_equal(&x, &w)); /* port does */
        endpoint_list_free(&x);
        endpoint_list_free(&y);
        endpoint_list_free(&z);
        endpoint_list_free(&w);

        endpoint_t p, q;
        ck_assert_int_eq(endpoint_parse("[fd00:0:0::1]:1", 0, &p, err, sizeof err), 0);
        ck_assert_int_eq(endpoint_parse("[FD00::1]:1", 0, &q, err, sizeof err), 0);
        ck_assert(endpoint_equal(&p, &q));
        ck_assert_int_eq(endpoint_parse("10.0.0.1:1", 0, &q, err, sizeof err), 0);
        ck_assert(!endpoint_equal(&p, &q));
}
END_TEST

START_TEST(test_many_elements) {
        char s[64 * 24] = "", err[256], *out;
        endpoint_list_t l;

        for (int i = 0; i < 64; i++) {
                char one[32];
                snprintf(one, sizeof one, "%s10.0.%d.%d:5269", i ? "," : "", i / 10, i);
                strcat(s, one);
        }
        ck_assert_msg(endpoint_list_parse(s, 0, &l, err, sizeof err) == 0, "%s", err);
        ck_assert_uint_eq(l.n, 64);
        ck_assert_str_eq(l.items[63].host, "10.0.6.63");
        ck_assert_int_eq(endpoint_list_format(&l, ENDPOINT_FORMAT_COMMA, &out), 0);
        ck_assert_str_eq(out, s);
        free(out);
        endpoint_list_free(&l);
}
END_TEST

static Suite *endpoint_suite(void) {
        Suite *s = suite_create("endpoint");
        TCase *tc = tcase_create("endpoint");
        tcase_add_test(tc, test_parse_valid);
        tcase_add_test(tc, test_parse_label_limits);
        tcase_add_test(tc, test_parse_invalid);
        tcase_add_test(tc, test_parse_default_port);
        tcase_add_test(tc, test_list_valid);
        tcase_add_test(tc, test_list_invalid);
        tcase_add_test(tc, test_list_long_element_message_bounded);
        tcase_add_test(tc, test_list_default_port);
        tcase_add_test(tc, test_format_styles);
        tcase_add_test(tc, test_round_trip_and_equality);
        tcase_add_test(tc, test_many_elements);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(endpoint_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
