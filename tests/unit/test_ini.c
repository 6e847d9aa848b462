/* ini: golden files in tests/data/ini (NAME.in edited by the operations in
 * the table below must give NAME.out byte for byte), plus lookups and
 * edge cases in memory. */
#include "common/ini.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_data(const char *name, size_t *ret_len) {
        const char *top = getenv("TOP") ? getenv("TOP") : ".";
        char path[4096];
        snprintf(path, sizeof path, "%s/tests/data/ini/%s", top, name);

        FILE *f = fopen(path, "rb");
        ck_assert_msg(f, "cannot open %s (run from the repo root or set TOP)", path);
        ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
        long n = ftell(f);
        ck_assert_int_ge(n, 0);
        rewind(f);
        char *buf = malloc((size_t) n + 1);
        ck_assert_ptr_nonnull(buf);
        ck_assert_uint_eq(fread(buf, 1, (size_t) n, f), (size_t) n);
        buf[n] = '\0';
        fclose(f);
        *ret_len = (size_t) n;
        return buf;
}

static ini_doc_t *parse_str(const char *s) {
        ini_doc_t *doc = NULL;
        ck_assert_int_eq(ini_parse(s, strlen(s), &doc), 0);
        ck_assert_ptr_nonnull(doc);
        return doc;
}

static char *serialize(const ini_doc_t *doc) {
        char *out;
        size_t len;
        ck_assert_int_eq(ini_serialize(doc, &out, &len), 0);
        ck_assert_uint_eq(strlen(out), len);
        return out;
}

static void assert_get(const ini_doc_t *doc, const char *section, const char *key,
                       const char *want) {
        char *v = NULL;
        int r = ini_get(doc, section, key, &v);
        if (!want) {
                ck_assert_msg(r == -ENOENT, "[%s] %s: want absent, got %d '%s'", section, key, r,
                              r == 0 ? v : "");
                ck_assert_ptr_null(v);
                return;
        }
        ck_assert_msg(r == 0, "[%s] %s: not found (%d)", section, key, r);
        ck_assert_str_eq(v, want);
        free(v);
}

/* ---- golden files -------------------------------------------------------- */

typedef struct {
        const char *section, *key, *value;
} op_t;

typedef struct {
        const char *name;
        op_t ops[6];
} golden_t;

static const golden_t goldens[] = {
        { "comments", {
                { "DEFAULT", "log_level", "DEBUG" },
                { "DEFAULT", "debug", "true" },
                { "DEFAULT", "empty_with_note", "filled" },
                { "api", "listen", "127.0.0.1:8082" },
        } },
        { "duplicates", {
                { "DEFAULT", "collectors", "10.1.0.1:8086" },
                { "DEFAULT", "hostname", "compute-1" },
        } },
        { "missing_key", {
                { "first", "new", "value" },
                { "second", "d", "4" },
                { "third", "e", "5" },
        } },
        { "missing_section", {
                { "DNS", "servers", "10.1.0.1:53 10.1.0.2:53" },
        } },
        { "no_final_newline", {
                { "DEFAULT", "y", "2" },
                { "NEW", "z", "3" },
        } },
        { "crlf", {
                { "DEFAULT", "x", "10" },
                { "DEFAULT", "added", "yes" },
                { "more", "z", "3" },
        } },
        { "continuation", {
                { "DEFAULT", "servers", "10.1.0.1:5269" },
                { "DEFAULT", "other", "new" },
        } },
        { "preamble", {
                { "", "global", "2" },
                { "", "extra", "3" },
        } },
        { "contrail-vrouter-agent", {
                { "CONTROL-NODE", "servers", "10.1.0.1:5269 10.1.0.2:5269" },
                { "DEFAULT", "collectors", "10.1.0.1:8086 10.1.0.2:8086" },
                { "DNS", "servers", "10.1.0.1:53 10.1.0.2:53" },
                { "DEFAULT", "agent_name", "compute-1" },
                { "FLOWS", "max_vm_flows", "50" },
        } },
};

static void apply_golden(const golden_t *g, const char *text, size_t len, int want_changed) {
        ini_doc_t *doc = NULL;
        ck_assert_int_eq(ini_parse(text, len, &doc), 0);
        for (size_t i = 0; i < 6 && g->ops[i].key; i++) {
                int r = ini_set(doc, g->ops[i].section, g->ops[i].key, g->ops[i].value);
                ck_assert_msg(r == want_changed, "%s: set [%s] %s: got %d want %d", g->name,
                              g->ops[i].section, g->ops[i].key, r, want_changed);
                assert_get(doc, g->ops[i].section, g->ops[i].key, g->ops[i].value);
        }

        char name[256];
        size_t want_len;
        snprintf(name, sizeof name, "%s.out", g->name);
        char *want = read_data(name, &want_len);
        char *got;
        size_t got_len;
        ck_assert_int_eq(ini_serialize(doc, &got, &got_len), 0);
        ck_assert_msg(got_len == want_len && memcmp(got, want, want_len) == 0,
                      "%s: output differs from %s:\n--- got\n%s\n--- want\n%s", g->name, name, got,
                      want);
        free(got);
        free(want);
        ini_doc_free(&doc);
        ck_assert_ptr_null(doc);
}

START_TEST(test_golden) {
        const golden_t *g = &goldens[_i];
        char name[256];
        size_t len;

        snprintf(name, sizeof name, "%s.in", g->name);
        char *in = read_data(name, &len);
        apply_golden(g, in, len, 1);
        free(in);

        /* Idempotent: the same edits on the expected output change nothing. */
        snprintf(name, sizeof name, "%s.out", g->name);
        char *out = read_data(name, &len);
        apply_golden(g, out, len, 0);
        free(out);
}
END_TEST

/* Every data file, parsed and serialized untouched, comes back identical. */
START_TEST(test_round_trip_files) {
        const char *top = getenv("TOP") ? getenv("TOP") : ".";
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/tests/data/ini", top);
        DIR *d = opendir(dir);
        ck_assert_msg(d, "cannot open %s", dir);
        size_t files = 0;
        struct dirent *de;

        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                size_t len;
                char *in = read_data(de->d_name, &len);
                ini_doc_t *doc = NULL;
                ck_assert_int_eq(ini_parse(in, len, &doc), 0);
                char *out;
                size_t out_len;
                ck_assert_int_eq(ini_serialize(doc, &out, &out_len), 0);
                ck_assert_msg(out_len == len && memcmp(in, out, len) == 0, "%s changed",
                              de->d_name);
                free(in);
                free(out);
                ini_doc_free(&doc);
                files++;
        }
        closedir(d);
        ck_assert_uint_ge(files, 2 * sizeof goldens / sizeof goldens[0]);
}
END_TEST

START_TEST(test_round_trip_edge_strings) {
        static const char *texts[] = {
                "", "\n", "\n\n", "a", "a\n", "\r\n", "x\r", "x\r\r\n", "[s]", "[s]\nk=v",
                "  \t \n", "k = v\r\n\n[s]\r\nk2=v2", "[unclosed\n= no key\n]odd[\n",
                "key: colon style\n", "\xc3\xa9=\xe2\x82\xac\n",
        };
        for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
                ini_doc_t *doc = parse_str(texts[i]);
                char *out = serialize(doc);
                ck_assert_str_eq(out, texts[i]);
                free(out);
                ini_doc_free(&doc);
        }
        ini_doc_t *doc = (ini_doc_t *) 1;
        ck_assert_int_eq(ini_parse("a\0b", 3, &doc), -EINVAL);
        ck_assert_ptr_eq(doc, (ini_doc_t *) 1);
        doc = NULL;
        ck_assert_int_eq(ini_parse(NULL, 0, &doc), 0);
        char *out = serialize(doc);
        ck_assert_str_eq(out, "");
        free(out);
        ini_doc_free(&doc);
        ini_doc_free(&doc);
        ini_doc_free(NULL);
}
END_TEST

/* ---- lookups ------------------------------------------------------------- */

START_TEST(test_get) {
        ini_doc_t *doc = parse_str(
                "top = level\n"
                "[A]\n"
                "Key = first\n"
                "spaced   =   some value   \n"
                "noted = value # note\n"
                "hash = a#b;c\n"
                "empty =\n"
                "empty_note = ; nothing\n"
                "[ B ]\n"
                "k=b1\n"
                "[A]\n"
                "KEY = last\n"
                "[a]\n"
                "k = lower-case section\n"
                "not a key line\n"
                "[broken\n"
                "after_broken = still A\n");

        assert_get(doc, "", "top", "level");
        assert_get(doc, "A", "key", "last");           /* last wins, any case */
        assert_get(doc, "A", "spaced", "some value");
        assert_get(doc, "A", "noted", "value");
        assert_get(doc, "A", "hash", "a#b;c");          /* not a comment: no blank */
        assert_get(doc, "A", "empty", "");
        assert_get(doc, "A", "empty_note", "");
        assert_get(doc, "B", "k", "b1");                /* header name trimmed */
        assert_get(doc, "a", "k", "lower-case section");
        assert_get(doc, "A", "k", NULL);                /* sections are case-sensitive */
        assert_get(doc, "a", "after_broken", "still A"); /* "[broken" is no header */
        assert_get(doc, "A", "top", NULL);
        assert_get(doc, "", "k", NULL);
        assert_get(doc, "C", "k", NULL);
        assert_get(doc, "A", "not a key line", NULL);
        ini_doc_free(&doc);
}
END_TEST

START_TEST(test_get_continuation) {
        ini_doc_t *doc = parse_str("[s]\n"
                                   "servers = 10.0.0.1:5269\n"
                                   "    10.0.0.2:5269\n"
                                   "\n"
                                   "\t10.0.0.3:5269  \n"
                                   "  # comment, skipped\n"
                                   "    10.0.0.4:5269\n"
                                   "\n"
                                   "not_indented\n"
                                   "    after_other\n"
                                   "  k2 = v2\n"
                                   "    more\n");
        assert_get(doc, "s", "servers", "10.0.0.1:5269\n10.0.0.2:5269\n\n10.0.0.3:5269\n10.0.0.4:5269");
        assert_get(doc, "s", "k2", "v2\nmore");
        ini_doc_free(&doc);
}
END_TEST

/* ---- edits --------------------------------------------------------------- */

START_TEST(test_set_return_values) {
        ini_doc_t *doc = parse_str("[s]\nk = v\n");

        ck_assert_int_eq(ini_set(doc, "s", "k", "v"), 0);
        ck_assert_int_eq(ini_set(doc, "s", "K", "v"), 0);
        ck_assert_int_eq(ini_set(doc, "s", "k", "w"), 1);
        ck_assert_int_eq(ini_set(doc, "s", "k", "w"), 0);
        ck_assert_int_eq(ini_set(doc, "s", "new", ""), 1);
        ck_assert_int_eq(ini_set(doc, "s", "new", ""), 0);
        ck_assert_int_eq(ini_set(doc, "s", "new", "x"), 1);
        char *out = serialize(doc);
        ck_assert_str_eq(out, "[s]\nk = w\nnew = x\n");
        free(out);
        ini_doc_free(&doc);
}
END_TEST

START_TEST(test_set_invalid) {
        static const op_t bad[] = {
                { "s", "", "v" },
                { "s", " k", "v" },
                { "s", "k ", "v" },
                { "s", "k=x", "v" },
                { "s", "[k", "v" },
                { "s", "#k", "v" },
                { "s", ";k", "v" },
                { "s", "k\nx", "v" },
                { "s]", "k", "v" },
                { "[s", "k", "v" },
                { " s", "k", "v" },
                { "s\n", "k", "v" },
                { "s", "k", " v" },
                { "s", "k", "v " },
                { "s", "k", "a\nb" },
                { "s", "k", "a\rb" },
                { "s", "k", "a #b" },
                { "s", "k", "a\t;b" },
                { "s", "k", "#a" },
                { "s", "k", ";a" },
        };
        const char *text = "[s]\nk = v\n";
        ini_doc_t *doc = parse_str(text);

        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                ck_assert_msg(ini_set(doc, bad[i].section, bad[i].key, bad[i].value) == -EINVAL,
                              "[%s] '%s' = '%s' accepted", bad[i].section, bad[i].key,
                              bad[i].value);
        ck_assert_int_eq(ini_set(doc, NULL, "k", "v"), -EINVAL);
        ck_assert_int_eq(ini_set(doc, "s", NULL, "v"), -EINVAL);
        ck_assert_int_eq(ini_set(doc, "s", "k", NULL), -EINVAL);
        char *out = serialize(doc);
        ck_assert_str_eq(out, text); /* nothing touched */
        free(out);

        /* What is accepted reads back exactly. */
        ck_assert_int_eq(ini_set(doc, "s", "k", "a#b;c [x] = y"), 1);
        assert_get(doc, "s", "k", "a#b;c [x] = y");
        ini_doc_free(&doc);
}
END_TEST

START_TEST(test_set_styles) {
        /* Spacing around '=' is kept when an empty value gets filled. */
        ini_doc_t *doc = parse_str("[s]\na =\nb=\nc =   \n");
        ck_assert_int_eq(ini_set(doc, "s", "a", "1"), 1);
        ck_assert_int_eq(ini_set(doc, "s", "b", "2"), 1);
        ck_assert_int_eq(ini_set(doc, "s", "c", "3"), 1);
        char *out = serialize(doc);
        ck_assert_str_eq(out, "[s]\na = 1\nb=2\nc =   3\n");
        free(out);
        /* And a value can be emptied. */
        ck_assert_int_eq(ini_set(doc, "s", "a", ""), 1);
        out = serialize(doc);
        ck_assert_str_eq(out, "[s]\na = \nb=2\nc =   3\n");
        free(out);
        assert_get(doc, "s", "a", "");
        ini_doc_free(&doc);

        /* A new key takes the style of the last key of its section. */
        doc = parse_str("[s]\n  k1 = v\n\tk2=v\n[t]\nx : y\n");
        ck_assert_int_eq(ini_set(doc, "s", "k3", "w"), 1);
        ck_assert_int_eq(ini_set(doc, "t", "k4", "w"), 1);
        out = serialize(doc);
        /* In [t], no key yet: the first key of the file, unindented. */
        ck_assert_str_eq(out, "[s]\n  k1 = v\n\tk2=v\n\tk3=w\n[t]\nk4 = w\nx : y\n");
        free(out);
        ini_doc_free(&doc);

        /* A template with an empty value still shows the blank after '='. */
        doc = parse_str("[s]\nk =\n");
        ck_assert_int_eq(ini_set(doc, "s", "n", "v"), 1);
        out = serialize(doc);
        ck_assert_str_eq(out, "[s]\nk =\nn = v\n");
        free(out);
        ini_doc_free(&doc);

        /* Empty document. */
        doc = parse_str("");
        ck_assert_int_eq(ini_set(doc, "DEFAULT", "k", "v"), 1);
        out = serialize(doc);
        ck_assert_str_eq(out, "[DEFAULT]\nk = v\n");
        free(out);
        ini_doc_free(&doc);
}
END_TEST

START_TEST(test_set_then_reparse) {
        /* Edits leave a document that parses to the same values. */
        ini_doc_t *doc = parse_str("[s]\nk = a\n  b\n[t]\n");
        ck_assert_int_eq(ini_set(doc, "s", "k", "c"), 1);
        ck_assert_int_eq(ini_set(doc, "t", "k", "d"), 1);
        ck_assert_int_eq(ini_set(doc, "u", "k", "e"), 1);
        char *out = serialize(doc);
        ini_doc_free(&doc);
        doc = parse_str(out);
        free(out);
        assert_get(doc, "s", "k", "c");
        assert_get(doc, "t", "k", "d");
        assert_get(doc, "u", "k", "e");
        ini_doc_free(&doc);
}
END_TEST

static Suite *ini_suite(void) {
        Suite *s = suite_create("ini");
        TCase *tc = tcase_create("golden");
        tcase_add_loop_test(tc, test_golden, 0, (int) (sizeof goldens / sizeof goldens[0]));
        tcase_add_test(tc, test_round_trip_files);
        tcase_add_test(tc, test_round_trip_edge_strings);
        suite_add_tcase(s, tc);

        tc = tcase_create("api");
        tcase_add_test(tc, test_get);
        tcase_add_test(tc, test_get_continuation);
        tcase_add_test(tc, test_set_return_values);
        tcase_add_test(tc, test_set_invalid);
        tcase_add_test(tc, test_set_styles);
        tcase_add_test(tc, test_set_then_reparse);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(ini_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
