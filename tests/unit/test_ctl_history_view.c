/* ctl/history_view: how hitlessctl shows `history`: the text table and the
 * stable JSON, rendered into memory from a HistoryList built here. Times in
 * UTC (TZ is set in main). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/history_view.h"

typedef struct {
        Hitless__HistoryList l;
        Hitless__HistoryEntry e[3];
        Hitless__HistoryEntry *ep[3];
} fixture_t;

/* An admin event, a finished command of an upgrade, a command still
 * running outside any upgrade. */
static void fixture_init(fixture_t *x) {
        hitless__history_list__init(&x->l);
        for (int i = 0; i < 3; i++) {
                hitless__history_entry__init(&x->e[i]);
                x->ep[i] = &x->e[i];
        }
        x->l.entries = x->ep;
        x->l.n_entries = 3;

        x->e[0].time = 1700000000;  /* 2023-11-14 22:13:20 UTC */
        x->e[0].actor = "unix:root";
        x->e[0].kind = "upgrade.started";
        x->e[0].message = "plan \"contrail-2.0\"";
        x->e[0].count = 3;  /* coalesced: the same event three times in a row */

        x->e[1].time = 1700000010;
        x->e[1].actor = "upgrade:up-1";
        x->e[1].node_id = "c1";
        x->e[1].kind = "command";
        x->e[1].message = "1 package changed";
        x->e[1].command_id = "up-1-3";
        x->e[1].action = "install";
        x->e[1].state = "succeeded";
        x->e[1].upgrade_id = "up-1";
        x->e[1].finished = 1700000072;

        x->e[2].time = 1700000100;
        x->e[2].actor = "unix:bob";
        x->e[2].node_id = "db1";
        x->e[2].kind = "command";
        x->e[2].command_id = "c-42";
        x->e[2].action = "drain";
        x->e[2].state = "running";
}

static char *render(void (*fn)(FILE *, const Hitless__HistoryList *), const Hitless__HistoryList *l) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        ck_assert_ptr_nonnull(f);
        fn(f, l);
        ck_assert_int_eq(fclose(f), 0);
        return buf;
}

static void assert_render(void (*fn)(FILE *, const Hitless__HistoryList *), const Hitless__HistoryList *l,
                          const char *expected) {
        char *got = render(fn, l);
        ck_assert_msg(strcmp(got, expected) == 0, "got:\n%s\nexpected:\n%s", got, expected);
        free(got);
}

START_TEST(test_text) {
        fixture_t x;
        fixture_init(&x);
        assert_render(history_view_text, &x.l,
                      "TIME                 ACTOR         NODE  WHAT\n"
                      "2023-11-14 22:13:20  unix:root     -     upgrade.started: plan \"contrail-2.0\" (×3)\n"
                      "2023-11-14 22:13:30  upgrade:up-1  c1    install up-1-3 succeeded, upgrade up-1, "
                      "finished 2023-11-14 22:14:32: 1 package changed\n"
                      "2023-11-14 22:15:00  unix:bob      db1   drain c-42 running\n");
}
END_TEST

START_TEST(test_text_empty) {
        Hitless__HistoryList l = HITLESS__HISTORY_LIST__INIT;
        assert_render(history_view_text, &l, "TIME  ACTOR  NODE  WHAT\n");
}
END_TEST

START_TEST(test_json) {
        fixture_t x;
        fixture_init(&x);
        assert_render(history_view_json, &x.l,
                      "{\"entries\":["
                      "{\"time\":1700000000,\"actor\":\"unix:root\",\"node_id\":\"\",\"kind\":\"upgrade.started\","
                      "\"message\":\"plan \\\"contrail-2.0\\\"\",\"command_id\":\"\",\"action\":\"\",\"state\":\"\","
                      "\"upgrade_id\":\"\",\"finished\":0,\"count\":3},"
                      "{\"time\":1700000010,\"actor\":\"upgrade:up-1\",\"node_id\":\"c1\",\"kind\":\"command\","
                      "\"message\":\"1 package changed\",\"command_id\":\"up-1-3\",\"action\":\"install\","
                      "\"state\":\"succeeded\",\"upgrade_id\":\"up-1\",\"finished\":1700000072},"
                      "{\"time\":1700000100,\"actor\":\"unix:bob\",\"node_id\":\"db1\",\"kind\":\"command\","
                      "\"message\":\"\",\"command_id\":\"c-42\",\"action\":\"drain\",\"state\":\"running\","
                      "\"upgrade_id\":\"\",\"finished\":0}]}\n");
}
END_TEST

START_TEST(test_json_empty) {
        Hitless__HistoryList l = HITLESS__HISTORY_LIST__INIT;
        assert_render(history_view_json, &l, "{\"entries\":[]}\n");
}
END_TEST

static Suite *history_view_suite(void) {
        Suite *s = suite_create("ctl_history_view");
        TCase *tc = tcase_create("history");
        tcase_add_test(tc, test_text);
        tcase_add_test(tc, test_text_empty);
        tcase_add_test(tc, test_json);
        tcase_add_test(tc, test_json_empty);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        setenv("TZ", "UTC", 1);
        tzset();
        SRunner *sr = srunner_create(history_view_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
