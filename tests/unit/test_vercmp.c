/* vercmp: fixed vectors, then a cross-check of a few hundred pairs against
 * the real `dpkg --compare-versions` and rpm's own rpm.vercmp(). */
#include "common/vercmp.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int sign(int v) {
        return (v > 0) - (v < 0);
}

typedef struct {
        const char *a, *b;
        int expect;
} vector_t;

static const vector_t dpkg_vectors[] = {
        { "1.0", "1.0", 0 },
        { "1.0", "1.0-0", 0 },           /* missing revision is "0" */
        { "1.0-1", "1.0", 1 },
        { "1.0", "1.0-1", -1 },
        { "1:1.0", "2.0", 1 },           /* epoch beats everything */
        { "0:1.0", "1.0", 0 },
        { "00:1.0", "0:1.0", 0 },
        { "10:1", "9:2", 1 },            /* epochs are numbers */
        { "1.0~rc1", "1.0", -1 },        /* ~ before the end */
        { "1.0~rc1", "1.0~rc2", -1 },
        { "1.0~~", "1.0~", -1 },
        { "1.0~", "1.0", -1 },
        { "2.0~beta", "2.0~alpha", 1 },
        { "1.0", "1.0+b1", -1 },
        { "1.0a", "1.0", 1 },
        { "1.0a", "1.0+", -1 },          /* letters before non-letters */
        { "1.0.1", "1.0a", 1 },
        { "1.01", "1.1", 0 },            /* leading zeros */
        { "1.001", "1.1", 0 },
        { "1.10", "1.9", 1 },            /* numeric, not lexical */
        { "1.2.3", "1.2.3.0", -1 },
        { "1.0.0", "1.0", 1 },
        { "99999999999999999999", "100000000000000000000", -1 },
        { "2.0-1ubuntu1", "2.0-1", 1 },
        { "5.0.1-1+deb12u1", "5.0.1-1", 1 },
        { "1.0-1", "1.0-1~bpo1", 1 },
        { "1.0-A", "1.0-a", -1 },
        { "3.0-2", "3.0-10", -1 },
        { "2:1.2-3-4", "2:1.2-3-5", -1 }, /* revision after the last '-' */
        { "1:1.0:2-1", "1:1.0:1-1", 1 },
        { "2021.1.0-contrail1", "2021.1.0-contrail2", -1 },
        { "1.0-1.1", "1.0-1", 1 },
};

static const vector_t rpm_vectors[] = {
        { "1.0", "1.0", 0 },
        { "1.0", "1.0-1", -1 },          /* no release is older */
        { "1.0-1", "1.0-1", 0 },
        { "1:1.0", "2.0", 1 },
        { "0:1.0", "1.0", 0 },
        { "10:1", "9:2", 1 },
        { "1.0~rc1", "1.0", -1 },
        { "1.0~~", "1.0~", -1 },
        { "1.0^git1", "1.0", 1 },        /* ^ after the end ... */
        { "1.0^git1", "1.0.1", -1 },     /* ... but before more segments */
        { "1.0^git1", "1.0~rc1", 1 },
        { "1.0^a", "1.0^b", -1 },
        { "5.0^", "5.0", 1 },
        { "1.0a", "1.0", 1 },
        { "1.0", "1.0.0", -1 },
        { "1.0_1", "1.0.1", 0 },         /* separators only separate */
        { "1.0+", "1.0", 0 },
        { "1a", "1.a", 0 },
        { "1.a", "1.1", -1 },            /* numbers newer than letters */
        { "1.01", "1.1", 0 },
        { "1.10", "1.9", 1 },
        { "A", "a", -1 },
        { "2.0-1.el9", "2.0-1.el8", 1 },
        { "1.0-2", "1.0-10", -1 },
        { "1.0-1", "1.0.1", -1 },        /* release is not part of version */
        { "99999999999999999999", "100000000000000000000", -1 },
        { "2:1", "10:0", -1 },
};

START_TEST(test_dpkg_vectors) {
        for (size_t i = 0; i < sizeof dpkg_vectors / sizeof dpkg_vectors[0]; i++) {
                const vector_t *v = &dpkg_vectors[i];
                ck_assert_msg(version_valid_dpkg(v->a), "%s should be valid", v->a);
                ck_assert_msg(version_valid_dpkg(v->b), "%s should be valid", v->b);
                ck_assert_msg(sign(vercmp_dpkg(v->a, v->b)) == v->expect,
                              "dpkg %s vs %s: got %d want %d", v->a, v->b,
                              vercmp_dpkg(v->a, v->b), v->expect);
                /* Antisymmetry: swapping the operands flips the sign. */
                ck_assert_int_eq(sign(vercmp_dpkg(v->b, v->a)), -v->expect);
        }
}
END_TEST

START_TEST(test_rpm_vectors) {
        for (size_t i = 0; i < sizeof rpm_vectors / sizeof rpm_vectors[0]; i++) {
                const vector_t *v = &rpm_vectors[i];
                ck_assert_msg(version_valid_rpm(v->a), "%s should be valid", v->a);
                ck_assert_msg(version_valid_rpm(v->b), "%s should be valid", v->b);
                ck_assert_msg(sign(vercmp_rpm(v->a, v->b)) == v->expect,
                              "rpm %s vs %s: got %d want %d", v->a, v->b,
                              vercmp_rpm(v->a, v->b), v->expect);
                ck_assert_int_eq(sign(vercmp_rpm(v->b, v->a)), -v->expect);
        }
}
END_TEST

START_TEST(test_valid_dpkg) {
        static const char *good[] = {
                "1.0", "0", "1:2.3-4", "1.0~rc1-0ubuntu1", "2:1.2-3-4", "1:1.0:2-1",
                "2147483647:1", "5.0.1-1+deb12u1", "1.0+dfsg-1~bpo12+1",
        };
        static const char *bad[] = {
                "", " 1.0", "1.0 ", "1 0", "1.0\t", "1.0\n", "1.0;rm -rf /", "1.0$(id)",
                "1.0`id`", "1.0'", "1.0\"", "1.0|x", "1.0&", "1.0>x", "1.0*", "a1.0", "~1",
                ".1", "1:", ":1.0", "x:1.0", "1.0-", "1.0-a_b", "1.0:2", "2147483648:1",
                "1.0_1", "1.0-1:2", "1.0/2", "1.0-1^x",
        };
        char longv[VERSION_MAX + 2];

        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
                ck_assert_msg(version_valid_dpkg(good[i]), "'%s' should be valid", good[i]);
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                ck_assert_msg(!version_valid_dpkg(bad[i]), "'%s' should be invalid", bad[i]);
        ck_assert(!version_valid_dpkg(NULL));

        memset(longv, '1', sizeof longv - 1);
        longv[VERSION_MAX] = '\0';
        ck_assert(version_valid_dpkg(longv));
        longv[VERSION_MAX] = '1';
        longv[VERSION_MAX + 1] = '\0';
        ck_assert(!version_valid_dpkg(longv));
}
END_TEST

START_TEST(test_valid_rpm) {
        static const char *good[] = {
                "1.0", "1:2.3-4.el9", "1.0^git1~rc2", "1.0_1", "a1", "2.0-1.el9_2",
                "2147483647:1-1",
        };
        static const char *bad[] = {
                "", "1.0-1-2", "1.0-", "-1", "1.0 ", " 1.0", "1.0;", "1.0$", "1.0/2", ":1",
                "x:1", "1:", "1.0\n", "1.0`", "1.0|1", "~1", ".1", "1.0:2", "2147483648:1",
                "1.0-a:b", "1.0%{x}",
        };

        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
                ck_assert_msg(version_valid_rpm(good[i]), "'%s' should be valid", good[i]);
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                ck_assert_msg(!version_valid_rpm(bad[i]), "'%s' should be invalid", bad[i]);
        ck_assert(!version_valid_rpm(NULL));
}
END_TEST

/* ---- cross-check against the real tools ---------------------------------- */

#define N_RANDOM 300
#define N_PAIRS_MAX (N_RANDOM + 64)

typedef struct {
        char a[64], b[64];
} pair_t;

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rng(void) {
        /* xorshift64*: deterministic everywhere, unlike rand(). */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return (uint32_t) ((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

/* Versions are built from tokens chosen to hit the interesting rules
 * (leading zeros, ~, ^, letters vs separators), then B is usually a small
 * mutation of A so that the pair differs deep inside, not at the first
 * character. */
#define MAX_TOKENS 8
typedef struct {
        const char *t[MAX_TOKENS];
        size_t n;
} tokens_t;

static const char *const dpkg_tokens[] = {
        "0", "1", "2", "9", "10", "01", "00", "a", "b", "z", "A", "rc", ".", ".", "+", "~",
        "~~", "-", "1", "2",
};
static const char *const rpm_tokens[] = {
        "0", "1", "2", "9", "10", "01", "00", "a", "b", "z", "A", "rc", ".", ".", "_", "+",
        "~", "^", "1", "-",
};

static void tokens_random(tokens_t *t, const char *const *alpha, size_t n_alpha) {
        static const char *const epochs[] = { "", "", "", "", "0:", "1:", "2:", "10:" };
        t->n = 0;
        t->t[t->n++] = epochs[rng() % 8];
        t->t[t->n++] = alpha[rng() % 5];      /* a digit run first */
        size_t more = 1 + rng() % (MAX_TOKENS - 2);
        for (size_t i = 0; i < more; i++)
                t->t[t->n++] = alpha[rng() % n_alpha];
}

static void tokens_mutate(tokens_t *t, const char *const *alpha, size_t n_alpha) {
        size_t at = 1 + rng() % (t->n - 1);
        switch (rng() % 3) {
        case 0:
                t->t[at] = alpha[rng() % n_alpha];
                break;
        case 1:
                if (t->n < MAX_TOKENS) {
                        memmove(&t->t[at + 1], &t->t[at], (t->n - at) * sizeof t->t[0]);
                        t->t[at] = alpha[rng() % n_alpha];
                        t->n++;
                }
                break;
        default:
                if (t->n > 2) {
                        memmove(&t->t[at], &t->t[at + 1], (t->n - at - 1) * sizeof t->t[0]);
                        t->n--;
                }
                break;
        }
}

static void tokens_join(const tokens_t *t, char *buf, size_t len) {
        buf[0] = '\0';
        for (size_t i = 0; i < t->n; i++)
                strncat(buf, t->t[i], len - strlen(buf) - 1);
}

/* Fills pairs with the fixed vectors and then N_RANDOM valid random pairs. */
static size_t make_pairs(pair_t *pairs, const vector_t *vec, size_t n_vec,
                         const char *const *alpha, size_t n_alpha, bool (*valid)(const char *)) {
        size_t n = 0;

        for (size_t i = 0; i < n_vec && n < N_PAIRS_MAX; i++, n++) {
                snprintf(pairs[n].a, sizeof pairs[n].a, "%s", vec[i].a);
                snprintf(pairs[n].b, sizeof pairs[n].b, "%s", vec[i].b);
        }
        for (size_t made = 0; made < N_RANDOM && n < N_PAIRS_MAX;) {
                tokens_t ta, tb;
                tokens_random(&ta, alpha, n_alpha);
                if (rng() % 4 == 0)
                        tokens_random(&tb, alpha, n_alpha);
                else {
                        tb = ta;
                        tokens_mutate(&tb, alpha, n_alpha);
                        if (rng() % 2)
                                tokens_mutate(&tb, alpha, n_alpha);
                }
                tokens_join(&ta, pairs[n].a, sizeof pairs[n].a);
                tokens_join(&tb, pairs[n].b, sizeof pairs[n].b);
                if (!valid(pairs[n].a) || !valid(pairs[n].b))
                        continue;
                made++, n++;
        }
        return n;
}

/* Runs argv, returns its exit status (or -1), capturing stdout if out. */
static int run(char *const argv[], char *out, size_t out_len) {
        int fds[2];
        ck_assert_int_eq(pipe(fds), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                dup2(fds[1], STDOUT_FILENO);
                close(fds[0]);
                close(fds[1]);
                execvp(argv[0], argv);
                _exit(127);
        }
        close(fds[1]);
        char discard[256];
        char *buf = out ? out : discard;
        size_t cap = out ? out_len - 1 : sizeof discard, got = 0;
        for (;;) {
                ssize_t k = read(fds[0], buf + got, cap - got);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                if (out)
                        got += (size_t) k;
        }
        close(fds[0]);
        if (out)
                out[got] = '\0';
        int status;
        while (waitpid(pid, &status, 0) < 0)
                ck_assert_int_eq(errno, EINTR);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int dpkg_sign(const char *a, const char *b) {
        char *lt[] = { "dpkg", "--compare-versions", (char *) a, "lt", (char *) b, NULL };
        char *eq[] = { "dpkg", "--compare-versions", (char *) a, "eq", (char *) b, NULL };
        int r = run(lt, NULL, 0);
        ck_assert_msg(r == 0 || r == 1, "dpkg --compare-versions %s lt %s: status %d", a, b, r);
        if (r == 0)
                return -1;
        r = run(eq, NULL, 0);
        ck_assert_msg(r == 0 || r == 1, "dpkg --compare-versions %s eq %s: status %d", a, b, r);
        return r == 0 ? 0 : 1;
}

START_TEST(test_dpkg_matches_dpkg) {
        static pair_t pairs[N_PAIRS_MAX];
        size_t n = make_pairs(pairs, dpkg_vectors, sizeof dpkg_vectors / sizeof dpkg_vectors[0],
                              dpkg_tokens, sizeof dpkg_tokens / sizeof dpkg_tokens[0],
                              version_valid_dpkg);
        size_t differ = 0, equal = 0;

        ck_assert_uint_ge(n, N_RANDOM);
        for (size_t i = 0; i < n; i++) {
                int want = dpkg_sign(pairs[i].a, pairs[i].b);
                int got = sign(vercmp_dpkg(pairs[i].a, pairs[i].b));
                ck_assert_msg(got == want, "pair %zu: '%s' vs '%s': vercmp_dpkg %d, dpkg %d", i,
                              pairs[i].a, pairs[i].b, got, want);
                *(want == 0 ? &equal : &differ) += 1;
        }
        /* The generator must exercise both outcomes to mean anything. */
        ck_assert_uint_gt(equal, 5);
        ck_assert_uint_gt(differ, 100);
}
END_TEST

START_TEST(test_rpm_matches_rpm) {
        static pair_t pairs[N_PAIRS_MAX];
        static char script[N_PAIRS_MAX * 160], out[N_PAIRS_MAX * 8];
        size_t n = make_pairs(pairs, rpm_vectors, sizeof rpm_vectors / sizeof rpm_vectors[0],
                              rpm_tokens, sizeof rpm_tokens / sizeof rpm_tokens[0],
                              version_valid_rpm);
        size_t used = 0, differ = 0, equal = 0;

        ck_assert_uint_ge(n, N_RANDOM);
        /* One rpm run for all pairs. Valid versions hold no quote, brace or
         * '%', so they are safe inside the Lua string literals. */
        used += (size_t) snprintf(script + used, sizeof script - used, "%%{lua:");
        for (size_t i = 0; i < n; i++)
                used += (size_t) snprintf(script + used, sizeof script - used,
                                          " print(rpm.vercmp(\"%s\", \"%s\") .. \"\\n\")", pairs[i].a,
                                          pairs[i].b);
        snprintf(script + used, sizeof script - used, "}");
        ck_assert_uint_lt(used, sizeof script - 2);

        char *argv[] = { "rpm", "--eval", script, NULL };
        int r = run(argv, out, sizeof out);
        ck_assert_msg(r == 0, "rpm --eval failed (status %d); is rpm installed?", r);

        char *save = NULL, *line = strtok_r(out, "\n", &save);
        for (size_t i = 0; i < n; i++, line = strtok_r(NULL, "\n", &save)) {
                ck_assert_msg(line, "rpm printed only %zu of %zu results", i, n);
                char *end;
                long want = strtol(line, &end, 10);
                ck_assert_msg(*end == '\0' && end != line, "rpm printed '%s'", line);
                int got = sign(vercmp_rpm(pairs[i].a, pairs[i].b));
                ck_assert_msg(got == sign((int) want),
                              "pair %zu: '%s' vs '%s': vercmp_rpm %d, rpm %ld", i, pairs[i].a,
                              pairs[i].b, got, want);
                *(want == 0 ? &equal : &differ) += 1;
        }
        ck_assert_msg(line == NULL, "rpm printed more results than pairs");
        ck_assert_uint_gt(equal, 5);
        ck_assert_uint_gt(differ, 100);
}
END_TEST

static Suite *vercmp_suite(void) {
        Suite *s = suite_create("vercmp");
        TCase *tc = tcase_create("vectors");
        tcase_add_test(tc, test_dpkg_vectors);
        tcase_add_test(tc, test_rpm_vectors);
        tcase_add_test(tc, test_valid_dpkg);
        tcase_add_test(tc, test_valid_rpm);
        suite_add_tcase(s, tc);

        tc = tcase_create("cross-check");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_dpkg_matches_dpkg);
        tcase_add_test(tc, test_rpm_matches_rpm);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(vercmp_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
