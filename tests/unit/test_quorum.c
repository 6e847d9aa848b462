/* Quorum budget arithmetic and decisions on small, explicit fleets. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/upgrade/quorum.h"

#define N_NODES 8
static const char *const names[N_NODES] = { "db0", "db1", "db2", "db3",
                                            "db4", "db5", "db6", "db7" };

/* A fleet of N_NODES, all up, whose groups the test fills in. */
typedef struct {
        node_status_t status[N_NODES];
        quorum_group_t groups[4];
        quorum_fleet_t f;
} fixture_t;

static void fixture_init(fixture_t *x, size_t n_groups) {
        memset(x, 0, sizeof(*x));
        for (int i = 0; i < N_NODES; i++)
                x->status[i] = NODE_STATUS_UP;
        x->f = (quorum_fleet_t) { .groups = x->groups, .n_groups = n_groups,
                                  .status = x->status, .n_nodes = N_NODES, .names = names };
}

static quorum_group_t group(const char *name, const int *members, size_t n, int max_down) {
        return (quorum_group_t) { .name = name, .members = members, .n_members = n,
                                  .max_down = max_down };
}

static const int cass[] = { 0, 1, 2 };
static const int zk[] = { 2, 3, 4 };        /* overlaps cass in db2 */
static const int pair[] = { 5, 6 };

START_TEST(test_limit_table) {
        /* n - (floor(n/2) + 1), written out by hand for n = 1..7. */
        static const int want[] = { 0, 0, 1, 1, 2, 2, 3 };
        for (int n = 1; n <= 7; n++)
                ck_assert_int_eq(quorum_max_down_limit(n), want[n - 1]);
        ck_assert_int_eq(quorum_max_down_limit(0), -EINVAL);
        ck_assert_int_eq(quorum_max_down_limit(-3), -EINVAL);
        /* The survivors are always a strict majority, and one more down is not. */
        for (int n = 1; n <= 101; n++) {
                int d = quorum_max_down_limit(n);
                ck_assert_int_gt(2 * (n - d), n);
                ck_assert_int_le(2 * (n - d - 1), n);
        }
}
END_TEST

START_TEST(test_status_down) {
        ck_assert(!node_status_is_down(NODE_STATUS_UP));
        ck_assert(!node_status_is_down(NODE_STATUS_DONE));
        ck_assert(node_status_is_down(NODE_STATUS_UNHEALTHY));
        ck_assert(node_status_is_down(NODE_STATUS_UNREACHABLE));
        ck_assert(node_status_is_down(NODE_STATUS_UNREGISTERED));
        ck_assert(node_status_is_down(NODE_STATUS_IN_STEP));
        ck_assert_str_eq(node_status_name(NODE_STATUS_UNREGISTERED), "unregistered");
        ck_assert_str_eq(node_status_name((node_status_t) 99), "unknown");
}
END_TEST

START_TEST(test_validate) {
        static const int dup[] = { 1, 2, 1 };
        static const int out[] = { 1, 8 };
        static const int five[] = { 0, 1, 2, 3, 4 };
        quorum_group_t g;

        g = group("c", cass, 3, QUORUM_MAX_DOWN_DEFAULT);
        ck_assert_int_eq(quorum_group_validate(&g, N_NODES), 0);
        g = group("c", cass, 3, 0);     /* stricter than quorum: fine */
        ck_assert_int_eq(quorum_group_validate(&g, N_NODES), 0);
        g = group("c", cass, 3, 1);
        ck_assert_int_eq(quorum_group_validate(&g, N_NODES), 0);
        /* More than quorum allows is rejected, not clamped. */
        g = group("c", cass, 3, 2);
        ck_assert_int_eq(quorum_group_validate(&g, N_NODES), -ERANGE);
        g = group("f", five, 5, 2);
        ck_assert_int_eq(quorum_group_validate(&g, N_NODES), 0);
        g = group("f", five, 5, 3);
        ck_assert_int_eq(quorum_group_validate(&g, N_NODES), -ERANGE);
        g = group("c", cass, 3, -2);
        ck_assert_int_eq(quorum_group_validate(&g, N_NODES), -EINVAL);
        g = group("d", dup, 3, QUORUM_MAX_DOWN_DEFAULT);
        ck_assert_int_eq(quorum_group_validate(&g, N_NODES), -EINVAL);
        g = group("o", out, 2, QUORUM_MAX_DOWN_DEFAULT);
        ck_assert_int_eq(quorum_group_validate(&g, N_NODES), -EINVAL);
        ck_assert_int_eq(quorum_group_validate(&g, 9), 0);
        g = group("e", cass, 0, QUORUM_MAX_DOWN_DEFAULT);
        ck_assert_int_eq(quorum_group_validate(&g, N_NODES), -EINVAL);
        ck_assert_int_eq(quorum_group_validate(NULL, N_NODES), -EINVAL);
}
END_TEST

START_TEST(test_budget) {
        static const int seven[] = { 0, 1, 2, 3, 4, 5, 6 };
        quorum_group_t g = group("s", seven, 7, QUORUM_MAX_DOWN_DEFAULT);

        ck_assert_int_eq(quorum_group_budget(&g), 3);
        g.max_down = 1;
        ck_assert_int_eq(quorum_group_budget(&g), 1);
        /* An unvalidated, too large max_down is clamped, never honoured. */
        g.max_down = 6;
        ck_assert_int_eq(quorum_group_budget(&g), 3);
        g.max_down = -5;
        ck_assert_int_eq(quorum_group_budget(&g), 0);
        g.accept_outage = true;         /* 0 becomes one at a time */
        ck_assert_int_eq(quorum_group_budget(&g), 1);
        g.max_down = 2;                 /* a non-zero budget is left alone */
        ck_assert_int_eq(quorum_group_budget(&g), 2);

        g = group("p", pair, 2, QUORUM_MAX_DOWN_DEFAULT);
        ck_assert_int_eq(quorum_group_budget(&g), 0);
        g.accept_outage = true;
        ck_assert_int_eq(quorum_group_budget(&g), 1);
}
END_TEST

START_TEST(test_allows_single_group) {
        fixture_t x;
        fixture_init(&x, 1);
        x.groups[0] = group("cassandra", cass, 3, QUORUM_MAX_DOWN_DEFAULT);

        ck_assert(quorum_budget_allows(&x.f, (int[]) { 0 }, 1));
        ck_assert(!quorum_budget_allows(&x.f, (int[]) { 0, 1 }, 2));
        /* Listing a node twice still takes down one node. */
        ck_assert(quorum_budget_allows(&x.f, (int[]) { 1, 1 }, 2));
        /* Non-members never touch the budget. */
        ck_assert(quorum_budget_allows(&x.f, (int[]) { 0, 5, 6, 7 }, 4));
        ck_assert(quorum_budget_allows(&x.f, NULL, 0));

        /* Every kind of down member uses the whole budget of 1. */
        static const node_status_t downs[] = { NODE_STATUS_UNHEALTHY, NODE_STATUS_UNREACHABLE,
                                               NODE_STATUS_UNREGISTERED, NODE_STATUS_IN_STEP };
        for (size_t i = 0; i < sizeof(downs) / sizeof(downs[0]); i++) {
                x.status[2] = downs[i];
                ck_assert_msg(!quorum_budget_allows(&x.f, (int[]) { 0 }, 1), "status %s",
                              node_status_name(downs[i]));
                /* The down member itself costs nothing more. */
                ck_assert(quorum_budget_allows(&x.f, (int[]) { 2 }, 1));
        }
        /* DONE is up again. */
        x.status[2] = NODE_STATUS_DONE;
        ck_assert(quorum_budget_allows(&x.f, (int[]) { 0 }, 1));
}
END_TEST

START_TEST(test_allows_overlapping) {
        fixture_t x;
        fixture_init(&x, 2);
        x.groups[0] = group("cassandra", cass, 3, QUORUM_MAX_DOWN_DEFAULT);
        x.groups[1] = group("zookeeper", zk, 3, QUORUM_MAX_DOWN_DEFAULT);

        /* db2 is in both: starting it spends both budgets. */
        ck_assert(quorum_budget_allows(&x.f, (int[]) { 2 }, 1));
        ck_assert(!quorum_budget_allows(&x.f, (int[]) { 2, 0 }, 2));
        ck_assert(!quorum_budget_allows(&x.f, (int[]) { 2, 4 }, 2));
        ck_assert(quorum_budget_allows(&x.f, (int[]) { 0, 4 }, 2));
        ck_assert_int_eq(quorum_blocking_group(&x.f, 2, (int[]) { 0 }, 1), 0);
        ck_assert_int_eq(quorum_blocking_group(&x.f, 2, (int[]) { 3 }, 1), 1);
        ck_assert_int_eq(quorum_blocking_group(&x.f, 2, (int[]) { 5 }, 1), -ENOENT);

        /* A never-registered zookeeper member blocks db2 through zookeeper only. */
        x.status[3] = NODE_STATUS_UNREGISTERED;
        ck_assert(!quorum_budget_allows(&x.f, (int[]) { 2 }, 1));
        ck_assert_int_eq(quorum_blocking_group(&x.f, 2, NULL, 0), 1);
        ck_assert(quorum_budget_allows(&x.f, (int[]) { 1 }, 1));
        ck_assert_int_eq(quorum_blocking_group(&x.f, 1, NULL, 0), -ENOENT);

        /* zookeeper over budget by health alone does not block cassandra's db0. */
        x.status[4] = NODE_STATUS_UNREACHABLE;
        ck_assert(quorum_budget_allows(&x.f, (int[]) { 0 }, 1));
        ck_assert_int_eq(quorum_group_down(&x.f, 1, NULL, 0), 2);
        ck_assert_int_eq(quorum_group_down(&x.f, 0, (int[]) { 0, 0 }, 2), 1);

        ck_assert_int_eq(quorum_blocking_group(&x.f, 8, NULL, 0), -EINVAL);
        ck_assert_int_eq(quorum_blocking_group(&x.f, -1, NULL, 0), -EINVAL);
}
END_TEST

START_TEST(test_member_outside_fleet_counts_down) {
        static const int ghost[] = { 0, 1, 42 };
        fixture_t x;
        fixture_init(&x, 1);
        x.groups[0] = group("ghost", ghost, 3, QUORUM_MAX_DOWN_DEFAULT);

        ck_assert_int_eq(quorum_group_down(&x.f, 0, NULL, 0), 1);
        ck_assert(!quorum_budget_allows(&x.f, (int[]) { 0 }, 1));
}
END_TEST

START_TEST(test_zero_budget) {
        fixture_t x;
        fixture_init(&x, 1);
        x.groups[0] = group("pair", pair, 2, QUORUM_MAX_DOWN_DEFAULT);

        ck_assert(!quorum_budget_allows(&x.f, (int[]) { 5 }, 1));
        x.groups[0].accept_outage = true;
        ck_assert(quorum_budget_allows(&x.f, (int[]) { 5 }, 1));
        ck_assert(!quorum_budget_allows(&x.f, (int[]) { 5, 6 }, 2));
}
END_TEST

START_TEST(test_explain) {
        fixture_t x;
        char buf[256];
        fixture_init(&x, 3);
        x.groups[0] = group("cassandra", cass, 3, QUORUM_MAX_DOWN_DEFAULT);
        x.groups[1] = group("zookeeper", zk, 3, QUORUM_MAX_DOWN_DEFAULT);
        x.groups[2] = group("pair", pair, 2, QUORUM_MAX_DOWN_DEFAULT);

        x.status[2] = NODE_STATUS_UNHEALTHY;
        ck_assert_int_eq(quorum_explain(&x.f, 0, NULL, 0, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, "group cassandra: 1 of 3 down (db2 unhealthy), max_down 1");

        x.status[2] = NODE_STATUS_UP;
        x.status[4] = NODE_STATUS_IN_STEP;
        ck_assert_int_eq(quorum_explain(&x.f, 3, (int[]) { 0 }, 1, buf, sizeof(buf)), 1);
        ck_assert_str_eq(buf, "group zookeeper: 1 of 3 down (db4 in step), max_down 1");
        ck_assert_int_eq(quorum_explain(&x.f, 1, (int[]) { 0 }, 1, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, "group cassandra: 1 of 3 down (db0 starting), max_down 1");

        ck_assert_int_eq(quorum_explain(&x.f, 6, NULL, 0, buf, sizeof(buf)), 2);
        ck_assert_str_eq(buf, "group pair: 0 of 2 down, max_down 0: "
                              "a member can never be upgraded in place");

        /* Unnamed nodes and groups. */
        x.f.names = NULL;
        x.groups[0].name = NULL;
        ck_assert_int_eq(quorum_explain(&x.f, 1, (int[]) { 0 }, 1, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, "group #0: 1 of 3 down (node0 starting), max_down 1");

        /* Truncation keeps a NUL-terminated prefix. */
        char small[12];
        ck_assert_int_eq(quorum_explain(&x.f, 1, (int[]) { 0 }, 1, small, sizeof(small)), 0);
        ck_assert_str_eq(small, "group #0: 1");

        /* Nothing blocks: -ENOENT and the buffer is left alone. */
        strcpy(buf, "untouched");
        ck_assert_int_eq(quorum_explain(&x.f, 7, NULL, 0, buf, sizeof(buf)), -ENOENT);
        ck_assert_int_eq(quorum_explain(&x.f, 1, NULL, 0, buf, sizeof(buf)), -ENOENT);
        ck_assert_str_eq(buf, "untouched");
        ck_assert_int_eq(quorum_explain(&x.f, 1, NULL, 0, NULL, 0), -EINVAL);
}
END_TEST

int main(void) {
        Suite *s = suite_create("quorum");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_limit_table);
        tcase_add_test(tc, test_status_down);
        tcase_add_test(tc, test_validate);
        tcase_add_test(tc, test_budget);
        tcase_add_test(tc, test_allows_single_group);
        tcase_add_test(tc, test_allows_overlapping);
        tcase_add_test(tc, test_member_outside_fleet_counts_down);
        tcase_add_test(tc, test_zero_budget);
        tcase_add_test(tc, test_explain);
        suite_add_tcase(s, tc);

        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
