/* /metrics and /api/status from the live modules; see http_pages.h. */
#include "coordinator/http/http_pages.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/log.h"
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

typedef struct {
        metrics_commands_t *v;
        size_t n, cap;
} commands_vec_t;

/* Kinds and state names are copied: the store's strings live for one row. */
static int collect_command_count(const char *kind, int state, int64_t n, void *ud) {
        commands_vec_t *c = ud;
        if (c->n == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 32;
                metrics_commands_t *v = realloc(c->v, cap * sizeof *v);
                if (!v)
                        return -ENOMEM;
                c->v = v;
                c->cap = cap;
        }
        char *action = strdup(kind);
        if (!action)
                return -ENOMEM;
        c->v[c->n++] = (metrics_commands_t) { .action = action,
                                              .state = state ? command_state_name((Hitless__CommandState) state)
                                                             : "sent",
                                              .n = n > 0 ? (uint64_t) n : 0 };
        return 0;
}

static void commands_vec_free(commands_vec_t *c) {
        for (size_t i = 0; i < c->n; i++)
                free((char *) c->v[i].action);
        free(c->v);
}

static int build_metrics(const admin_deps_t *d, FILE *f) {
        Hitless__CoordinatorStatus cs = HITLESS__COORDINATOR_STATUS__INIT;
        admin_status_counters_t sc;
        Hitless__UpgradeStatus *us = NULL;
        admin_node_vec_t nodes = { 0 };
        metrics_group_t *groups = NULL;
        size_t n_groups = 0;
        commands_vec_t cmds = { 0 };
        Hitless__JobList *jobs = NULL;
        upgrade_view_t v;
        bool have = upgrade_view(d->upgrade, &v);
        int r = -ENOMEM;

        admin_status_build(d, &cs, &sc);
        if (admin_nodes_collect(d->fleet, &nodes) < 0 ||
            upgrade_status_build(have ? &v : NULL, clock_wall_ms(), NULL, &us) < 0 ||
            collect_groups(have ? &v : NULL, &groups, &n_groups) < 0)
                goto out;
        /* The store and the jobs may fail to answer (a store that cannot
         * read): the rest of the exposition is still served. */
        if (store_commands_by_state(d->store, collect_command_count, &cmds) < 0)
                log_warning("metrics: cannot count the commands: %s", store_last_error(d->store));
        if (d->jobs && jobs_list(d->jobs, &jobs) < 0)
                jobs = NULL;
        r = metrics_write(f, &(metrics_input_t) { .coordinator = &cs, .upgrade = us, .nodes = nodes.v,
                                                  .n_nodes = nodes.n, .groups = groups, .n_groups = n_groups,
                                                  .commands = cmds.v, .n_commands = cmds.n, .jobs = jobs,
                                                  .commit_latency = store_commit_latency(d->store) });
out:
        commands_vec_free(&cmds);
        if (jobs)
                hitless__job_list__free_unpacked(jobs, NULL);
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
