#include "coordinator/upgrade/quorum.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

static const char *const s_status_names[NODE_STATUS__COUNT] = {
        [NODE_STATUS_UP] = "up",
        [NODE_STATUS_DONE] = "done",
        [NODE_STATUS_UNHEALTHY] = "unhealthy",
        [NODE_STATUS_UNREACHABLE] = "unreachable",
        [NODE_STATUS_UNREGISTERED] = "unregistered",
        [NODE_STATUS_IN_STEP] = "in step",
        [NODE_STATUS_FAILED] = "failed",
        [NODE_STATUS_DRAINED] = "drained",
};

const char *node_status_name(node_status_t s) {
        if ((unsigned) s >= NODE_STATUS__COUNT)
                return "unknown";
        return s_status_names[s];
}

bool node_status_is_down(node_status_t s) {
        return s != NODE_STATUS_UP && s != NODE_STATUS_DONE;
}

int quorum_max_down_limit(int n) {
        if (n < 1)
                return -EINVAL;
        return n - (n / 2 + 1);
}

static bool s_contains(const int *v, size_t n, int x) {
        for (size_t i = 0; i < n; i++)
                if (v[i] == x)
                        return true;
        return false;
}

int quorum_group_validate(const quorum_group_t *g, size_t n_nodes) {
        if (!g || g->n_members == 0 || !g->members || g->n_members > (size_t) INT_MAX)
                return -EINVAL;
        for (size_t i = 0; i < g->n_members; i++) {
                int m = g->members[i];
                if (m < 0 || (size_t) m >= n_nodes || s_contains(g->members, i, m))
                        return -EINVAL;
        }
        if (g->max_down < QUORUM_MAX_DOWN_DEFAULT)
                return -EINVAL;
        if (g->max_down > quorum_max_down_limit((int) g->n_members))
                return -ERANGE;
        return 0;
}

int quorum_group_budget(const quorum_group_t *g) {
        int limit = g->n_members > (size_t) INT_MAX ? -EINVAL
                                                         : quorum_max_down_limit((int) g->n_members);
        int b;

        if (limit < 0)
                limit = 0;
        if (g->max_down == QUORUM_MAX_DOWN_DEFAULT)
                b = limit;
        else if (g->max_down < 0)
                b = 0;
        else
                b = g->max_down < limit ? g->max_down : limit;
        if (b == 0 && g->accept_outage)
                b = 1;
        return b;
}

bool quorum_group_has(const quorum_group_t *g, int node) {
        return s_contains(g->members, g->n_members, node);
}

static bool s_member_down(const quorum_fleet_t *f, int m) {
        if (m < 0 || (size_t) m >= f->n_nodes)
                return true;
        return node_status_is_down(f->status[m]);
}

int quorum_group_down(const quorum_fleet_t *f, size_t gi, const int *also, size_t n_also) {
        const quorum_group_t *g = &f->groups[gi];
        int down = 0;

        for (size_t i = 0; i < g->n_members; i++) {
                int m = g->members[i];
                if (s_member_down(f, m) || s_contains(also, n_also, m))
                        down++;
        }
        return down;
}

bool quorum_budget_allows(const quorum_fleet_t *f, const int *nodes, size_t n) {
        for (size_t gi = 0; gi < f->n_groups; gi++) {
                const quorum_group_t *g = &f->groups[gi];
                bool newly_down = false;

                for (size_t i = 0; i < n && !newly_down; i++)
                        newly_down = !s_member_down(f, nodes[i]) && quorum_group_has(g, nodes[i]);
                if (newly_down && quorum_group_down(f, gi, nodes, n) > quorum_group_budget(g))
                        return false;
        }
        return true;
}

int quorum_blocking_group(const quorum_fleet_t *f, int node, const int *also, size_t n_also) {
        if (!f || node < 0 || (size_t) node >= f->n_nodes)
                return -EINVAL;
        if (s_member_down(f, node))
                return -ENOENT;
        /* node itself is up, so it adds one unless also[] already has it. */
        int self = s_contains(also, n_also, node) ? 0 : 1;
        for (size_t gi = 0; gi < f->n_groups; gi++) {
                const quorum_group_t *g = &f->groups[gi];
                if (!quorum_group_has(g, node))
                        continue;
                if (quorum_group_down(f, gi, also, n_also) + self > quorum_group_budget(g))
                        return (int) gi;
        }
        return -ENOENT;
}

/* Appends to buf at *off, never past len; *off may run past len, which
 * only means the text was truncated. */
__attribute__((format(printf, 4, 5)))
static void s_append(char *buf, size_t len, size_t *off, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vsnprintf(*off < len ? buf + *off : NULL, *off < len ? len - *off : 0, fmt, ap);
        va_end(ap);
        if (r > 0)
                *off += (size_t) r;
}

static void s_append_node(const quorum_fleet_t *f, int m, char *buf, size_t len, size_t *off) {
        if (f->names && m >= 0 && (size_t) m < f->n_nodes && f->names[m])
                s_append(buf, len, off, "%s", f->names[m]);
        else
                s_append(buf, len, off, "node%d", m);
}

int quorum_explain(const quorum_fleet_t *f, int node, const int *also, size_t n_also,
                   char *buf, size_t len) {
        if (!buf || len == 0)
                return -EINVAL;
        int gi = quorum_blocking_group(f, node, also, n_also);
        if (gi < 0)
                return gi;

        const quorum_group_t *g = &f->groups[gi];
        int budget = quorum_group_budget(g);
        size_t off = 0;
        bool first = true;

        buf[0] = '\0';
        if (g->name)
                s_append(buf, len, &off, "group %s: ", g->name);
        else
                s_append(buf, len, &off, "group #%d: ", gi);
        /* node is up (or it would not be blocked): it is never among the down. */
        int down = quorum_group_down(f, (size_t) gi, also, n_also) -
                   (s_contains(also, n_also, node) ? 1 : 0);
        s_append(buf, len, &off, "%d of %zu down", down, g->n_members);
        for (size_t i = 0; i < g->n_members; i++) {
                int m = g->members[i];
                const char *why;

                if (s_member_down(f, m))
                        why = (size_t) m < f->n_nodes && m >= 0 ? node_status_name(f->status[m])
                                                                : "unknown";
                else if (s_contains(also, n_also, m) && m != node)
                        why = "starting";
                else
                        continue;
                s_append(buf, len, &off, first ? " (" : ", ");
                s_append_node(f, m, buf, len, &off);
                s_append(buf, len, &off, " %s", why);
                first = false;
        }
        s_append(buf, len, &off, "%s, max_down %d", first ? "" : ")", budget);
        if (budget == 0)
                s_append(buf, len, &off, ": a member can never be upgraded in place");
        return gi;
}
