/* ctl/nodes_view: which nodes `hitlessctl nodes` filters keep, the health
 * each is shown with, and the summary by health and package version, over
 * a NodeList built here. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/nodes_view.h"
#include "tests/helpers/check_run.h"

#define N 4

typedef struct {
        Hitless__NodeList l;
        Hitless__NodeInfo n[N];
        Hitless__NodeInfo *np[N];
        Hitless__HealthReport h[N];
        Hitless__PackageVersion p[N];
        Hitless__PackageVersion *pp[N];
        char *roles[N][1];
} fixture_t;

/* c1, c2: computes at 2.0-1, healthy; c3: compute at 1.0-1, unhealthy;
 * db1: database at 1.0-1, last healthy but unreachable now. */
static void fixture_init(fixture_t *x) {
        static const char *const ids[N] = { "c1", "c2", "c3", "db1" };
        static const char *const versions[N] = { "2.0-1", "2.0-1", "1.0-1", "1.0-1" };
        static const Hitless__HealthState health[N] = {
                HITLESS__HEALTH_STATE__HEALTH_HEALTHY, HITLESS__HEALTH_STATE__HEALTH_HEALTHY,
                HITLESS__HEALTH_STATE__HEALTH_UNHEALTHY, HITLESS__HEALTH_STATE__HEALTH_HEALTHY,
        };
        hitless__node_list__init(&x->l);
        for (int i = 0; i < N; i++) {
                hitless__node_info__init(&x->n[i]);
                hitless__health_report__init(&x->h[i]);
                hitless__package_version__init(&x->p[i]);
                x->n[i].node_id = (char *) ids[i];
                x->n[i].state = i == 3 ? "unreachable" : "online";
                x->roles[i][0] = i == 3 ? "database" : "compute";
                x->n[i].roles = x->roles[i];
                x->n[i].n_roles = 1;
                x->h[i].state = health[i];
                x->n[i].health = &x->h[i];
                x->p[i].name = "vrouter";
                x->p[i].version = (char *) versions[i];
                x->pp[i] = &x->p[i];
                x->n[i].packages = &x->pp[i];
                x->n[i].n_packages = 1;
                x->np[i] = &x->n[i];
        }
        x->l.nodes = x->np;
        x->l.n_nodes = N;
}

/* The ids of the nodes f keeps, comma-separated. */
static void matching(const fixture_t *x, const nodes_filter_t *f, char *buf, size_t len) {
        buf[0] = '\0';
        for (int i = 0; i < N; i++)
                if (nodes_filter_match(f, &x->n[i]))
                        snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", buf[0] ? "," : "",
                                 x->n[i].node_id);
}

START_TEST(test_unreachable_health_is_unknown) {
        fixture_t x;
        fixture_init(&x);
        ck_assert_str_eq(nodes_health_shown(&x.n[3]), "unknown");
        ck_assert_str_eq(nodes_last_health(&x.n[3]), "healthy");
        ck_assert_str_eq(nodes_health_shown(&x.n[2]), "unhealthy");
}
END_TEST

START_TEST(test_filters_and) {
        fixture_t x;
        char got[64];
        fixture_init(&x);

        nodes_filter_t none = { 0 };
        ck_assert(!nodes_filter_active(&none));
        matching(&x, &none, got, sizeof got);
        ck_assert_str_eq(got, "c1,c2,c3,db1");

        nodes_filter_t role = { .role = "compute" };
        ck_assert(nodes_filter_active(&role));
        matching(&x, &role, got, sizeof got);
        ck_assert_str_eq(got, "c1,c2,c3");

        nodes_filter_t unknown = { .health = "unknown" };
        matching(&x, &unknown, got, sizeof got);
        ck_assert_str_eq(got, "db1");

        nodes_filter_t old = { .versions = { "vrouter=1.0-1" }, .n_versions = 1 };
        matching(&x, &old, got, sizeof got);
        ck_assert_str_eq(got, "c3,db1");

        nodes_filter_t both = { .role = "compute", .state = "online", .versions = { "vrouter=1.0-1" },
                                .n_versions = 1 };
        matching(&x, &both, got, sizeof got);
        ck_assert_str_eq(got, "c3");

        nodes_filter_t absent = { .versions = { "other=1.0-1" }, .n_versions = 1 };
        matching(&x, &absent, got, sizeof got);
        ck_assert_str_eq(got, "");
}
END_TEST

START_TEST(test_bad_filters_say_why) {
        char err[256];
        nodes_filter_t h = { .health = "green" };
        ck_assert_int_eq(nodes_filter_check(&h, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "--health green: not one of healthy, degraded, unhealthy, unknown");
        nodes_filter_t s = { .state = "offline" };
        ck_assert_int_eq(nodes_filter_check(&s, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "--state offline: not one of online, unreachable");
        static const char *const bad[] = { "vrouter", "=1.0", "vrouter=" };
        for (size_t i = 0; i < 3; i++) {
                nodes_filter_t v = { .versions = { bad[i] }, .n_versions = 1 };
                ck_assert_int_eq(nodes_filter_check(&v, err, sizeof err), -EINVAL);
                ck_assert_ptr_nonnull(strstr(err, "want PKG=VERSION"));
        }
        nodes_filter_t good = { .role = "x", .health = "degraded", .state = "unreachable",
                                .versions = { "a=1" }, .n_versions = 1 };
        ck_assert_int_eq(nodes_filter_check(&good, err, sizeof err), 0);
}
END_TEST

static char *summary(const fixture_t *x, const bool *match, bool filtered) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        nodes_print_summary(f, &x->l, match, filtered);
        fclose(f);
        return buf;
}

START_TEST(test_summary_by_health_and_version) {
        fixture_t x;
        fixture_init(&x);
        char *s = summary(&x, NULL, false);
        ck_assert_str_eq(s, "4 nodes: 2 healthy, 1 unhealthy, 1 unknown (1 unreachable)\n"
                            "  vrouter: 2.0-1 on 2, 1.0-1 on 2\n");
        free(s);

        bool match[N] = { false, false, true, true };
        s = summary(&x, match, true);
        ck_assert_str_eq(s, "2 of 4 nodes: 1 unhealthy, 1 unknown (1 unreachable)\n"
                            "  vrouter: 1.0-1 on 2\n");
        free(s);

        x.l.n_nodes = 0;
        s = summary(&x, NULL, false);
        ck_assert_str_eq(s, "0 nodes\n");
        free(s);
        x.l.n_nodes = 1;
        s = summary(&x, NULL, false);
        ck_assert_str_eq(s, "1 node: 1 healthy\n  vrouter: 2.0-1 on 1\n");
        free(s);
}
END_TEST

int main(void) {
        Suite *s = suite_create("ctl_nodes_view");
        TCase *tc = tcase_create("nodes");
        tcase_add_test(tc, test_unreachable_health_is_unknown);
        tcase_add_test(tc, test_filters_and);
        tcase_add_test(tc, test_bad_filters_say_why);
        tcase_add_test(tc, test_summary_by_health_and_version);
        suite_add_tcase(s, tc);
        return check_run(s);
}
