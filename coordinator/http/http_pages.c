/* /metrics and /api/status from the live modules; see http_pages.h. */
#include "coordinator/http/http_pages.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/clock.h"
#include "common/upgrade_json.h"
#include "coordinator/admin/admin_status.h"
#include "coordinator/http/metrics.h"
#include "coordinator/upgrade/quorum.h"
#include "coordinator/upgrade/upgrade_machine.h"
#include "coordinator/upgrade/upgrade_status.h"

/* The current upgrade's quorum groups, with the machine's count of their
 * members down; *ret NULL when there are none. */
static int collect_groups(const upgrade_view_t *v, metrics_group_t **ret, size_t *ret_n) {
        *ret = NULL;
        *ret_n = 0;
        if (!v || !v->cfg->n_groups)
                return 0;
        metrics_group_t *g = calloc(v->cfg->n_groups, sizeof *g);
        if (!g)
                return -ENOMEM;
        for (size_t i = 0; i < v->cfg->n_groups; i++) {
                const quorum_group_t *q = &v->cfg->groups[i];
                int down = upgrade_machine_group_down(v->m, i);
                int budget = quorum_group_budget(q);
                g[i] = (metrics_group_t) { .name = q->name ? q->name : "", .members = (uint32_t) q->n_members,
                                           .down = down > 0 ? (uint32_t) down : 0,
                                           .budget = budget > 0 ? (uint32_t) budget : 0 };
        }
        *ret = g;
        *ret_n = v->cfg->n_groups;
        return 0;
}

static int build_metrics(const admin_deps_t *d, FILE *f) {
        Hitless__CoordinatorStatus cs = HITLESS__COORDINATOR_STATUS__INIT;
        admin_status_counters_t sc;
        Hitless__UpgradeStatus *us = NULL;
        admin_node_vec_t nodes = { 0 };
        metrics_group_t *groups = NULL;
        size_t n_groups = 0;
        upgrade_view_t v;
        bool have = upgrade_view(d->upgrade, &v);
        int r = -ENOMEM;

        admin_status_build(d, &cs, &sc);
        if (admin_nodes_collect(d->fleet, &nodes) < 0 ||
            upgrade_status_build(have ? &v : NULL, clock_wall_ms(), NULL, &us) < 0 ||
            collect_groups(have ? &v : NULL, &groups, &n_groups) < 0)
                goto out;
        r = metrics_write(f, &(metrics_input_t) { .coordinator = &cs, .upgrade = us, .nodes = nodes.v,
                                                  .n_nodes = nodes.n, .groups = groups, .n_groups = n_groups });
out:
        admin_nodes_release(&nodes);
        free(groups);
        upgrade_status_free(us);
        return r;
}

static int build_status(const admin_deps_t *d, FILE *f) {
        Hitless__UpgradeStatus *us = NULL;
        upgrade_view_t v;
        bool have = upgrade_view(d->upgrade, &v);
        if (upgrade_status_build(have ? &v : NULL, clock_wall_ms(), "", &us) < 0)
                return -ENOMEM;
        upgrade_status_json(f, us);
        upgrade_status_free(us);
        return 0;
}

int http_pages_build(void *ud, http_page_t page, char **ret_body, size_t *ret_len) {
        const admin_deps_t *d = ud;
        char *body = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&body, &len);
        if (!f)
                return -ENOMEM;
        int r = page == HTTP_PAGE_METRICS ? build_metrics(d, f) : build_status(d, f);
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0) {
                free(body);
                return r;
        }
        *ret_body = body;
        *ret_len = len;
        return 0;
}
