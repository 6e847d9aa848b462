#include "coordinator/jobs/job_select.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
        const inventory_t *inv;
        const Hitless__JobSelector *sel;
        char **ids;
        size_t n;
        bool *role_seen;   /* per sel->roles */
        int err;
} select_ctx_t;

static bool s_in(char *const *v, size_t n, const char *s) {
        for (size_t i = 0; v && i < n; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

static size_t s_strv_len(char *const *v) {
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

/* The node's roles: its override's, else its agent's. */
static void s_roles(const select_ctx_t *c, const node_t *n, char ***ret, size_t *ret_n) {
        const inventory_role_override_t *o = inventory_find_override(c->inv, n->id);
        if (o) {
                *ret = o->roles;
                *ret_n = s_strv_len(o->roles);
        } else {
                *ret = n->info->roles;
                *ret_n = n->info->n_roles;
        }
}

static bool s_has_role(const select_ctx_t *c, const node_t *n, char *const *roles, size_t n_roles, bool *seen) {
        char **mine;
        size_t n_mine;
        bool hit = false;
        s_roles(c, n, &mine, &n_mine);
        for (size_t r = 0; r < n_roles; r++)
                if (s_in(mine, n_mine, roles[r])) {
                        hit = true;
                        if (seen)
                                seen[r] = true;
                }
        return hit;
}

static bool s_in_group(const select_ctx_t *c, const node_t *n) {
        for (size_t g = 0; g < c->sel->n_groups; g++) {
                const inventory_group_t *ig = inventory_find_group(c->inv, c->sel->groups[g]);
                const inventory_quorum_group_t *qg = inventory_find_quorum_group(c->inv, c->sel->groups[g]);
                if (ig && ig->nodes && s_in(ig->nodes, s_strv_len(ig->nodes), n->id))
                        return true;
                if (ig && ig->roles && s_has_role(c, n, ig->roles, s_strv_len(ig->roles), NULL))
                        return true;
                if (qg && s_in(qg->members, qg->n_members, n->id))
                        return true;
        }
        return false;
}

static int s_visit(node_t *n, void *ud) {
        select_ctx_t *c = ud;
        const Hitless__JobSelector *sel = c->sel;
        bool roles = s_has_role(c, n, sel->roles, sel->n_roles, c->role_seen);
        bool want = sel->all || s_in(sel->node_ids, sel->n_node_ids, n->id) || roles || s_in_group(c, n);
        if (!want || s_in(sel->exclude, sel->n_exclude, n->id))
                return 0;
        if (!(c->ids[c->n] = strdup(n->id))) {
                c->err = -ENOMEM;
                return -ENOMEM;
        }
        c->n++;
        return 0;
}

static int s_count_cb(node_t *n, void *ud) {
        (void) n;
        ++*(size_t *) ud;
        return 0;
}

void job_select_free(char **ids, size_t n) {
        for (size_t i = 0; ids && i < n; i++)
                free(ids[i]);
        free(ids);
}

int job_select(fleet_t *fleet, const inventory_t *inv, const Hitless__JobSelector *sel, char ***ret_ids,
               size_t *ret_n, char *err, size_t err_len) {
        size_t total = 0;
        if (!sel || (!sel->all && !sel->n_node_ids && !sel->n_roles && !sel->n_groups)) {
                snprintf(err, err_len, "no nodes given (NODE..., --role, --group or --all)");
                return -EINVAL;
        }
        for (size_t i = 0; i < sel->n_node_ids; i++)
                if (!fleet_find(fleet, sel->node_ids[i])) {
                        snprintf(err, err_len, "unknown node %.64s", sel->node_ids[i]);
                        return -EINVAL;
                }
        for (size_t i = 0; i < sel->n_exclude; i++)
                if (!fleet_find(fleet, sel->exclude[i])) {
                        snprintf(err, err_len, "--exclude: unknown node %.64s", sel->exclude[i]);
                        return -EINVAL;
                }
        for (size_t i = 0; i < sel->n_groups; i++)
                if (!inventory_find_group(inv, sel->groups[i]) && !inventory_find_quorum_group(inv, sel->groups[i])) {
                        snprintf(err, err_len, "unknown group %.64s (not in the inventory of coordinator.conf)",
                                 sel->groups[i]);
                        return -EINVAL;
                }
        if (fleet_foreach_sorted(fleet, s_count_cb, &total) < 0)
                return -ENOMEM;
        select_ctx_t c = { .inv = inv, .sel = sel };
        c.ids = calloc(total + 1, sizeof *c.ids);
        c.role_seen = calloc(sel->n_roles + 1, sizeof *c.role_seen);
        if (!c.ids || !c.role_seen || fleet_foreach_sorted(fleet, s_visit, &c) < 0 || c.err < 0) {
                job_select_free(c.ids, c.n);
                free(c.role_seen);
                return -ENOMEM;
        }
        for (size_t r = 0; r < sel->n_roles; r++)
                if (!c.role_seen[r]) {
                        snprintf(err, err_len, "unknown role %.64s (no known node has it)", sel->roles[r]);
                        job_select_free(c.ids, c.n);
                        free(c.role_seen);
                        return -EINVAL;
                }
        free(c.role_seen);
        if (c.n == 0) {
                snprintf(err, err_len, "the selector matches no node");
                job_select_free(c.ids, c.n);
                return -EINVAL;
        }
        *ret_ids = c.ids;
        *ret_n = c.n;
        return 0;
}

int job_parse_count(const char *s, size_t n, int min, int def, bool round_up, int *ret) {
        char *end;
        if (!s || !*s) {
                *ret = def;
                return 0;
        }
        if (*s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || v > 1000000)
                return -EINVAL;
        if (*end == '%') {
                if (end[1] || v > 100)
                        return -EINVAL;
                v = round_up ? (v * n + 99) / 100 : v * n / 100;
                if (round_up && v < 1 && strtoul(s, NULL, 10) > 0)
                        v = 1;
        } else if (*end) {
                return -EINVAL;
        }
        if ((long) v < min)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}
