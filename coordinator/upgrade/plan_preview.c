#include "coordinator/upgrade/plan_preview.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vercmp.h"
#include "coordinator/upgrade/plan_batches.h"
#include "coordinator/upgrade/plan_math.h"
#include "coordinator/upgrade/planner.h"
#include "coordinator/upgrade/quorum.h"

static const char *const s_refusal_names[PLAN_REFUSE__COUNT] = {
        [PLAN_REFUSE_DOWNGRADE] = "downgrade",
        [PLAN_REFUSE_UNKNOWN_NODE] = "unknown_node",
        [PLAN_REFUSE_KEY_NOT_ACCEPTED] = "key_not_accepted",
        [PLAN_REFUSE_QUORUM_BUDGET] = "quorum_budget",
        [PLAN_REFUSE_PATH_NOT_ALLOWED] = "path_not_allowed",
        [PLAN_REFUSE_EMPTY_PHASE] = "empty_phase",
        [PLAN_REFUSE_UNKNOWN_GROUP] = "unknown_group",
        [PLAN_REFUSE_UNKNOWN_TASK] = "unknown_task",
        [PLAN_REFUSE_UNKNOWN_UNIT] = "unknown_unit",
};

const char *plan_refusal_kind_name(plan_refusal_kind_t k) {
        return (unsigned) k < PLAN_REFUSE__COUNT ? s_refusal_names[k] : "unknown";
}

const char *plan_change_name(plan_change_t c) {
        switch (c) {
        case PLAN_CHANGE_UPGRADE: return "upgrade";
        case PLAN_CHANGE_INSTALL: return "install";
        case PLAN_CHANGE_CURRENT: return "current";
        case PLAN_CHANGE_DOWNGRADE: return "downgrade";
        }
        return "unknown";
}

/* ---- memory: everything the preview owns is freed at once --------------- */

struct plan_preview_arena {
        void **v;
        size_t n, cap;
};

static void *s_alloc(plan_preview_arena_t *a, size_t n, size_t size) {
        void *p;
        if (a->n == a->cap) {
                size_t cap = a->cap ? 2 * a->cap : 64;
                void **v = realloc(a->v, cap * sizeof *v);
                if (!v)
                        return NULL;
                a->v = v;
                a->cap = cap;
        }
        p = calloc(n ? n : 1, size);
        if (p)
                a->v[a->n++] = p;
        return p;
}

static char *s_printf(plan_preview_arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *s_printf(plan_preview_arena_t *a, const char *fmt, ...) {
        va_list ap;
        int n;
        char *p;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0 || !(p = s_alloc(a, (size_t) n + 1, 1)))
                return NULL;
        va_start(ap, fmt);
        vsnprintf(p, (size_t) n + 1, fmt, ap);
        va_end(ap);
        return p;
}

/* ---- the build ------------------------------------------------------------ */

/* Every node the build talks about: the snapshot's nodes first, then names
 * the inventory or the plan mention that the snapshot lacks. */
typedef struct {
        const plan_t *plan;
        const inventory_t *inv;
        const plan_fleet_t *fleet;
        plan_preview_t *pv;
        plan_preview_arena_t *a;
        bool oom;

        const char **names;
        size_t n, cap;
        size_t *by_id;             /* snapshot positions sorted by id */

        /* per node, n entries, once the universe is complete */
        node_status_t *status;
        const char **why;          /* NULL when up */
        int *phase_of;             /* first phase selecting it, -1 */
        bool *candidate;           /* has work and is not refused */
        bool *refused;

        quorum_group_t *groups;
        quorum_fleet_t qf;
        size_t refusals_cap;
} ctx_t;

static int s_cmp_by_id(const void *x, const void *y, void *ud) {
        const plan_fleet_t *f = ud;
        return strcmp(f->nodes[*(const size_t *) x].id, f->nodes[*(const size_t *) y].id);
}

/* Universe index of name, adding it when add; -1 when absent. */
static int s_index(ctx_t *c, const char *name, bool add) {
        size_t lo = 0, hi = c->fleet->n_nodes;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int d = strcmp(c->fleet->nodes[c->by_id[mid]].id, name);
                if (d == 0)
                        return (int) c->by_id[mid];
                if (d < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        for (size_t i = c->fleet->n_nodes; i < c->n; i++)
                if (strcmp(c->names[i], name) == 0)
                        return (int) i;
        if (!add)
                return -1;
        if (c->n == c->cap) {
                size_t cap = 2 * c->cap + 16;
                const char **v = realloc(c->names, cap * sizeof *v);
                if (!v) {
                        c->oom = true;
                        return -1;
                }
                c->names = v;
                c->cap = cap;
        }
        c->names[c->n] = name;
        return (int) c->n++;
}

static const plan_node_t *s_snap(const ctx_t *c, int i) {
        return (size_t) i < c->fleet->n_nodes ? &c->fleet->nodes[i] : NULL;
}

static void s_refuse(ctx_t *c, plan_refusal_kind_t kind, const char *phase, const char *node,
                     const char *group, const char *package, const char *message) {
        plan_preview_t *pv = c->pv;
        if (pv->n_refusals == c->refusals_cap) {
                size_t cap = 2 * c->refusals_cap + 8;
                plan_preview_refusal_t *v = s_alloc(c->a, cap, sizeof *v);
                if (!v) {
                        c->oom = true;
                        return;
                }
                if (pv->n_refusals)
                        memcpy(v, pv->refusals, pv->n_refusals * sizeof *v);
                pv->refusals = v;
                c->refusals_cap = cap;
        }
        if (!message)
                c->oom = true;
        pv->refusals[pv->n_refusals++] = (plan_preview_refusal_t) {
                .kind = kind, .phase = phase ? phase : "", .node = node ? node : "",
                .group = group ? group : "", .package = package ? package : "",
                .message = message ? message : "",
        };
}

static int s_version_cmp(plan_version_order_t order, const char *a, const char *b) {
        if (order == PLAN_ORDER_RPM ||
            (order == PLAN_ORDER_AUTO && !(version_valid_dpkg(a) && version_valid_dpkg(b)) &&
             version_valid_rpm(a) && version_valid_rpm(b)))
                return vercmp_rpm(a, b);
        return vercmp_dpkg(a, b);
}

static bool s_path_allowed(const plan_t *plan, const char *package, const char *from, const char *to) {
        for (size_t i = 0; i < plan->n_paths; i++) {
                const plan_path_t *p = &plan->paths[i];
                if ((!p->package || fnmatch(p->package, package, 0) == 0) &&
                    fnmatch(p->from, from, 0) == 0 && fnmatch(p->to, to, 0) == 0)
                        return true;
        }
        return false;
}

/* Initial state of every node, as the quorum rules count it. */
static void s_initial_status(ctx_t *c) {
        for (size_t i = 0; i < c->n; i++) {
                const plan_node_t *s = s_snap(c, (int) i);
                if (!s || !s->registered) {
                        c->status[i] = NODE_STATUS_UNREGISTERED;
                        c->why[i] = "never registered";
                } else if (!s->accepted) {
                        c->status[i] = NODE_STATUS_UNREACHABLE;
                        c->why[i] = "key not accepted";
                } else if (!s->online) {
                        c->status[i] = NODE_STATUS_UNREACHABLE;
                        c->why[i] = "unreachable";
                } else if (!s->healthy) {
                        c->status[i] = NODE_STATUS_UNHEALTHY;
                        c->why[i] = "unhealthy";
                } else {
                        c->status[i] = NODE_STATUS_UP;
                        c->why[i] = NULL;
                }
                c->phase_of[i] = -1;
        }
}

static bool s_has_role(const ctx_t *c, const plan_node_t *s, char *const *roles) {
        const inventory_role_override_t *o = inventory_find_override(c->inv, s->id);
        for (size_t r = 0; roles && roles[r]; r++) {
                if (o) {
                        for (size_t k = 0; o->roles[k]; k++)
                                if (strcmp(o->roles[k], roles[r]) == 0)
                                        return true;
                } else {
                        for (size_t k = 0; k < s->n_roles; k++)
                                if (s->roles[k] && strcmp(s->roles[k], roles[r]) == 0)
                                        return true;
                }
        }
        return false;
}

typedef struct {
        int *v;            /* universe indices, plan order, distinct */
        size_t n;
        bool *by_role;     /* selected through roles (not named) */
} selection_t;

static void s_select_add(selection_t *sel, int i, bool by_role) {
        for (size_t k = 0; k < sel->n; k++)
                if (sel->v[k] == i)
                        return;
        sel->by_role[sel->n] = by_role;
        sel->v[sel->n++] = i;
}

static void s_select_roles(const ctx_t *c, char *const *roles, selection_t *sel) {
        for (size_t k = 0; k < c->fleet->n_nodes; k++) {
                const plan_node_t *s = &c->fleet->nodes[c->by_id[k]];
                if (s->registered && s_has_role(c, s, roles))
                        s_select_add(sel, (int) c->by_id[k], true);
        }
}

static void s_select_names(ctx_t *c, char *const *names, selection_t *sel) {
        for (size_t k = 0; names && names[k]; k++) {
                int i = s_index(c, names[k], false);
                if (i >= 0)
                        s_select_add(sel, i, false);
        }
}

/* The members of inventory group (by roles or names) or quorum group
 * name into sel; false when there is no such group. */
static bool s_select_group(ctx_t *c, const char *name, selection_t *sel) {
        const inventory_group_t *g = inventory_find_group(c->inv, name);
        const inventory_quorum_group_t *q = g ? NULL : inventory_find_quorum_group(c->inv, name);
        if (g && g->roles)
                s_select_roles(c, g->roles, sel);
        else if (g || q)
                s_select_names(c, g ? g->nodes : q->members, sel);
        return g || q;
}

/* The phase's nodes; false when its group is unknown (refused). */
static bool s_select(ctx_t *c, const plan_phase_t *ph, selection_t *sel, char *desc, size_t len) {
        size_t off = 0;

        switch (ph->select) {
        case PLAN_SELECT_ROLES:
                off = (size_t) snprintf(desc, len, "roles ");
                for (size_t k = 0; ph->roles && ph->roles[k] && off < len; k++)
                        off += (size_t) snprintf(desc + off, len - off, "%s%s", k ? "," : "", ph->roles[k]);
                s_select_roles(c, ph->roles, sel);
                return true;
        case PLAN_SELECT_LIST:
                snprintf(desc, len, "list");
                s_select_names(c, ph->list, sel);
                return true;
        case PLAN_SELECT_GROUP:
                snprintf(desc, len, "group %s", ph->group);
                if (s_select_group(c, ph->group, sel))
                        return true;
                s_refuse(c, PLAN_REFUSE_UNKNOWN_GROUP, ph->name, NULL, ph->group, NULL,
                         s_printf(c->a, "phase %s: the coordinator's inventory has no group or quorum "
                                        "group named \"%s\"", ph->name, ph->group));
                return false;
        }
        return false;
}

/* The package changes of node i, with refusals when refuse. Returns how
 * many packages need work (upgrade or install); *ret_managed: how many of
 * the plan's packages the node reports. */
static int s_changes(ctx_t *c, int i, const char *phase, bool refuse, plan_preview_node_t *out,
                     size_t *ret_managed) {
        const plan_node_t *s = s_snap(c, i);
        int work = 0;

        *ret_managed = 0;
        out->changes = s_alloc(c->a, c->plan->n_packages, sizeof *out->changes);
        if (!out->changes) {
                c->oom = true;
                return 0;
        }
        for (size_t p = 0; s && p < c->plan->n_packages; p++) {
                const plan_package_t *pk = &c->plan->packages[p];
                const plan_installed_t *inst = NULL;
                plan_preview_change_t *ch;

                for (size_t k = 0; k < s->n_packages; k++)
                        if (s->packages[k].name && strcmp(s->packages[k].name, pk->name) == 0) {
                                inst = &s->packages[k];
                                break;
                        }
                if (!inst)
                        continue;
                (*ret_managed)++;
                ch = &out->changes[out->n_changes++];
                ch->package = pk->name;
                ch->from = inst->version ? inst->version : "";
                ch->to = pk->version;
                if (!ch->from[0]) {
                        ch->action = PLAN_CHANGE_INSTALL;
                        work++;
                        continue;
                }
                int d = s_version_cmp(c->plan->version_order, ch->from, ch->to);
                if (d == 0) {
                        ch->action = PLAN_CHANGE_CURRENT;
                } else if (d > 0) {
                        ch->action = PLAN_CHANGE_DOWNGRADE;
                        if (refuse) {
                                c->refused[i] = true;
                                s_refuse(c, PLAN_REFUSE_DOWNGRADE, phase, s->id, NULL, pk->name,
                                         s_printf(c->a, "%s: %s %s is installed, newer than the plan's %s: "
                                                        "no downgrade outside a rollback",
                                                  s->id, pk->name, ch->from, ch->to));
                        }
                } else {
                        ch->action = PLAN_CHANGE_UPGRADE;
                        work++;
                        if (refuse && c->plan->n_paths && !s_path_allowed(c->plan, pk->name, ch->from, ch->to)) {
                                c->refused[i] = true;
                                s_refuse(c, PLAN_REFUSE_PATH_NOT_ALLOWED, phase, s->id, NULL, pk->name,
                                         s_printf(c->a, "%s: %s %s -> %s is not in allowed_paths",
                                                  s->id, pk->name, ch->from, ch->to));
                        }
                }
        }
        return work;
}

/* The message of the first refusal added since before, or "". */
static const char *s_refusal_message(const ctx_t *c, size_t before) {
        return c->pv->n_refusals > before ? c->pv->refusals[before].message : "";
}

static void s_note(ctx_t *c, plan_preview_note_t *v, size_t *n, int i, const char *reason,
                   const char *message) {
        if (!message)
                c->oom = true;
        v[(*n)++] = (plan_preview_note_t) { .node = c->names[i], .reason = reason,
                                            .message = message ? message : "" };
}

/* Looks at every node phase p selects: refusals, changes, what is skipped. */
static void s_examine_phase(ctx_t *c, size_t p, const selection_t *sel) {
        const plan_phase_t *ph = &c->plan->phases[p];
        plan_preview_phase_t *pp = &c->pv->phases[p];

        pp->skipped = s_alloc(c->a, sel->n, sizeof *pp->skipped);
        pp->waiting = s_alloc(c->a, sel->n, sizeof *pp->waiting);
        if (!pp->skipped || !pp->waiting) {
                c->oom = true;
                return;
        }
        for (size_t k = 0; k < sel->n; k++) {
                int i = sel->v[k];
                const plan_node_t *s = s_snap(c, i);
                plan_preview_node_t *nd;
                size_t refusals_before = c->pv->n_refusals, managed = 0;
                int work;

                if (c->phase_of[i] >= 0) {
                        s_note(c, pp->skipped, &pp->n_skipped, i, "earlier_phase",
                               s_printf(c->a, "in phase %s", c->plan->phases[c->phase_of[i]].name));
                        continue;
                }
                c->phase_of[i] = (int) p;
                nd = &c->pv->nodes[c->pv->n_nodes++];
                nd->node = c->names[i];
                nd->phase = ph->name;
                nd->state = c->why[i] ? c->why[i] : "up";

                if (sel->by_role[k] && s && !s->accepted) {
                        s_changes(c, i, ph->name, false, nd, &managed);
                        s_note(c, pp->skipped, &pp->n_skipped, i, "key_not_accepted",
                               s_printf(c->a, "its key is %s%s", s->key_state ? s->key_state : "not accepted",
                                        s->key_state ? ", not accepted" : ""));
                        continue;
                }
                if (!s) {
                        c->refused[i] = true;
                        s_refuse(c, PLAN_REFUSE_UNKNOWN_NODE, ph->name, c->names[i], NULL, NULL,
                                 s_printf(c->a, "phase %s: node %s is not known to the coordinator "
                                                "(it never registered and no key names it)", ph->name, c->names[i]));
                } else if (!s->accepted) {
                        c->refused[i] = true;
                        s_refuse(c, PLAN_REFUSE_KEY_NOT_ACCEPTED, ph->name, s->id, NULL, NULL,
                                 s_printf(c->a, "phase %s: the key of node %s is %s%s "
                                                "(hitlessctl keys accept %s)", ph->name, s->id,
                                          s->key_state ? s->key_state : "not accepted",
                                          s->key_state ? ", not accepted" : "", s->id));
                } else if (!s->registered) {
                        c->refused[i] = true;
                        s_refuse(c, PLAN_REFUSE_UNKNOWN_NODE, ph->name, s->id, NULL, NULL,
                                 s_printf(c->a, "phase %s: node %s has an accepted key but never registered: "
                                                "its versions are unknown", ph->name, s->id));
                }
                if (c->refused[i]) {
                        s_note(c, pp->skipped, &pp->n_skipped, i, "refused",
                               s_refusal_message(c, refusals_before));
                        continue;
                }
                work = s_changes(c, i, ph->name, true, nd, &managed);
                if (c->refused[i]) {
                        s_note(c, pp->skipped, &pp->n_skipped, i, "refused",
                               s_refusal_message(c, refusals_before));
                } else if (managed == 0) {
                        s_note(c, pp->skipped, &pp->n_skipped, i, "not_managed",
                               s_printf(c->a, "its agent manages none of the plan's packages"));
                } else if (work == 0) {
                        s_note(c, pp->skipped, &pp->n_skipped, i, "current",
                               s_printf(c->a, "already at the plan's versions"));
                } else {
                        c->candidate[i] = true;
                }
        }
}

static void s_groups(ctx_t *c) {
        const inventory_t *inv = c->inv;

        c->groups = s_alloc(c->a, inv->n_quorum_groups, sizeof *c->groups);
        c->pv->groups = s_alloc(c->a, inv->n_quorum_groups, sizeof *c->pv->groups);
        if (!c->groups || !c->pv->groups) {
                c->oom = true;
                return;
        }
        for (size_t g = 0; g < inv->n_quorum_groups; g++) {
                const inventory_quorum_group_t *q = &inv->quorum_groups[g];
                int *members = s_alloc(c->a, q->n_members, sizeof *members);
                if (!members) {
                        c->oom = true;
                        return;
                }
                for (size_t m = 0; m < q->n_members; m++)
                        members[m] = s_index(c, q->members[m], true);
                c->groups[g] = (quorum_group_t) { .name = q->name, .members = members,
                                                  .n_members = q->n_members, .max_down = q->max_down };
        }
        c->pv->n_groups = inv->n_quorum_groups;
}

/* Each group's arithmetic, on the state before any step. */
static void s_group_previews(ctx_t *c) {
        for (size_t g = 0; g < c->pv->n_groups; g++) {
                const quorum_group_t *q = &c->groups[g];
                plan_preview_group_t *out = &c->pv->groups[g];

                out->group = &c->inv->quorum_groups[g];
                out->quorum_max_down = quorum_max_down_limit((int) q->n_members);
                out->budget = quorum_group_budget(q);
                out->down = s_alloc(c->a, q->n_members, sizeof *out->down);
                if (!out->down) {
                        c->oom = true;
                        return;
                }
                for (size_t m = 0; m < q->n_members; m++) {
                        int i = q->members[m];
                        if (i < 0)
                                continue;
                        if (node_status_is_down(c->status[i]))
                                out->down[out->n_down++] = (plan_preview_down_t) { c->names[i], c->why[i] };
                        if (c->candidate[i])
                                out->to_upgrade++;
                }
                out->min_rounds = out->to_upgrade == 0 ? 0
                                : out->budget == 0     ? -1
                                                       : (out->to_upgrade + out->budget - 1) / out->budget;
        }
}

static const char *s_wait_reason(planner_reason_t r) {
        switch (r) {
        case PLANNER_WAIT_QUORUM: return "quorum";
        case PLANNER_WAIT_NODE_UNHEALTHY: return "node_unhealthy";
        case PLANNER_WAIT_NODE_UNREACHABLE: return "node_unreachable";
        case PLANNER_WAIT_NODE_UNREGISTERED: return "node_unregistered";
        case PLANNER_WAIT_BATCH_FULL: return "batch_full";
        default: return planner_reason_name(r);
        }
}

/* Phase p's counts, resolved against its size, and its members of groups
 * that tolerate no member down: refused, since waiting can never help. */
static int s_resolve_phase(ctx_t *c, size_t p, const selection_t *sel) {
        const plan_phase_t *ph = &c->plan->phases[p];
        plan_preview_phase_t *pp = &c->pv->phases[p];
        int *cand = s_alloc(c->a, sel->n, sizeof *cand), *out = s_alloc(c->a, sel->n, sizeof *out);
        planner_verdict_t *verdicts = s_alloc(c->a, sel->n, sizeof *verdicts);
        size_t n = 0;
        int r;

        r = plan_parse_batch(ph->batch, (int) sel->n, &pp->batch_size);
        if (r >= 0)
                r = plan_parse_max_failures(ph->max_failures, (int) sel->n, &pp->max_failures);
        if (r < 0)
                return -EINVAL;   /* plan.c validated the specs */
        if (!cand || !out || !verdicts)
                return -ENOMEM;
        for (size_t k = 0; k < sel->n; k++)
                if (c->candidate[sel->v[k]] && c->phase_of[sel->v[k]] == (int) p)
                        cand[n++] = sel->v[k];
        if (n == 0 || (r = planner_next_batch(&c->qf, cand, n, 1, 0, out, verdicts)) < 0)
                return r < 0 ? r : 0;
        for (size_t j = 0; j < n; j++) {
                size_t before = c->pv->n_refusals;
                int i = cand[j];
                if (verdicts[j].reason != PLANNER_NEVER_QUORUM)
                        continue;
                const quorum_group_t *g = &c->groups[verdicts[j].group];
                c->candidate[i] = false;
                c->refused[i] = true;
                s_refuse(c, PLAN_REFUSE_QUORUM_BUDGET, ph->name, c->names[i], g->name, NULL,
                         s_printf(c->a, "group %s tolerates no member down (%zu members, "
                                        "max_down %d): %s can never be upgraded without "
                                        "losing its quorum", g->name, g->n_members, g->max_down, c->names[i]));
                s_note(c, pp->skipped, &pp->n_skipped, i, "refused", s_refusal_message(c, before));
        }
        return 0;
}

/* Why each node of phase p that never starts waits, as things are once
 * every started node is done. */
static int s_waiting(ctx_t *c, size_t p, const selection_t *sel, const bool *left_out) {
        plan_preview_phase_t *pp = &c->pv->phases[p];
        int *rem = s_alloc(c->a, sel->n, sizeof *rem), *out = s_alloc(c->a, sel->n, sizeof *out);
        planner_verdict_t *verdicts = s_alloc(c->a, sel->n, sizeof *verdicts);
        size_t n = 0;
        int r;

        if (!rem || !out || !verdicts)
                return -ENOMEM;
        for (size_t k = 0; k < sel->n; k++)
                if (c->phase_of[sel->v[k]] == (int) p && c->candidate[sel->v[k]] && left_out[sel->v[k]])
                        rem[n++] = sel->v[k];
        if (n == 0 || (r = planner_next_batch(&c->qf, rem, n, pp->batch_size, 0, out, verdicts)) < 0)
                return n == 0 ? 0 : r;
        for (size_t j = 0; j < n; j++) {
                int i = rem[j];
                planner_reason_t why = verdicts[j].reason;
                char buf[512];
                if (why == PLANNER_WAIT_QUORUM && quorum_explain(&c->qf, i, NULL, 0, buf, sizeof buf) >= 0)
                        s_note(c, pp->waiting, &pp->n_waiting, i, "quorum", s_printf(c->a, "%s", buf));
                else
                        s_note(c, pp->waiting, &pp->n_waiting, i, s_wait_reason(why),
                               s_printf(c->a, "%s is %s", c->names[i],
                                        c->why[i] ? c->why[i] : planner_reason_name(why)));
        }
        return 0;
}

/* The batches of every phase: what the executor's machine starts
 * (plan_batches.h), over the nodes the executor's setup would hold (every
 * candidate in plan order, every group member), with the nodes as they are
 * now. */
static int s_batches(ctx_t *c, const selection_t *sels) {
        size_t np = c->plan->n_phases;
        upgrade_phase_config_t *pc = s_alloc(c->a, np, sizeof *pc);
        upgrade_node_report_t *reports = s_alloc(c->a, c->n, sizeof *reports);
        plan_batches_t b;
        int r;

        if (!pc || !reports)
                return -ENOMEM;
        for (size_t p = 0; p < np; p++) {
                int *nodes = s_alloc(c->a, sels[p].n, sizeof *nodes);
                if (!nodes)
                        return -ENOMEM;
                pc[p] = (upgrade_phase_config_t) { .params = &c->plan->phases[p], .nodes = nodes,
                                                   .batch_size = c->pv->phases[p].batch_size,
                                                   .max_failures = c->pv->phases[p].max_failures };
                for (size_t k = 0; k < sels[p].n; k++)
                        if (c->candidate[sels[p].v[k]] && c->phase_of[sels[p].v[k]] == (int) p)
                                nodes[pc[p].n_nodes++] = sels[p].v[k];
        }
        for (size_t i = 0; i < c->n; i++)
                reports[i] = (upgrade_node_report_t) {
                        .node = (int) i,
                        .registered = c->status[i] != NODE_STATUS_UNREGISTERED,
                        .reachable = c->status[i] != NODE_STATUS_UNREGISTERED &&
                                     c->status[i] != NODE_STATUS_UNREACHABLE,
                        .healthy = !node_status_is_down(c->status[i]),
                };
        upgrade_config_t cfg = { .n_nodes = c->n, .names = c->names, .groups = c->groups,
                                 .n_groups = c->pv->n_groups, .phases = pc, .n_phases = np };
        if ((r = plan_batches_run(&cfg, reports, c->n, &b)) < 0)
                return r;
        for (size_t k = 0; k < b.n_batches && r == 0; k++) {
                const plan_batch_t *src = &b.batches[k];
                plan_preview_phase_t *pp = &c->pv->phases[src->phase];
                plan_preview_batch_t *dst;
                if (!pp->batches && !(pp->batches = s_alloc(c->a, sels[src->phase].n, sizeof *pp->batches))) {
                        r = -ENOMEM;
                        break;
                }
                dst = &pp->batches[pp->n_batches++];
                dst->canary = src->canary;
                dst->n_nodes = src->n;
                if (!(dst->nodes = s_alloc(c->a, src->n, sizeof *dst->nodes))) {
                        r = -ENOMEM;
                        break;
                }
                for (size_t j = 0; j < src->n; j++) {
                        int i = b.order[src->first + j];
                        dst->nodes[j] = c->names[i];
                        c->status[i] = NODE_STATUS_DONE;
                }
        }
        for (size_t p = 0; p < np && r == 0; p++)
                r = s_waiting(c, p, &sels[p], b.left_out);
        plan_batches_free(&b);
        return r;
}

/* ---- steps ------------------------------------------------------------------ */

static bool s_in(const char *const *v, size_t n, const char *x) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i], x) == 0)
                        return true;
        return false;
}

/* What of step node s lacks (a task or unit name), or NULL. */
static const char *s_step_missing(const plan_node_t *s, const plan_step_t *st) {
        if (st->kind == PLAN_STEP_TASK)
                return s_in(s->tasks, s->n_tasks, st->task) ? NULL : st->task;
        for (size_t k = 0; st->units && st->units[k]; k++)
                if (!s_in(s->units, s->n_units, st->units[k]))
                        return st->units[k];
        return NULL;
}

/* Refuses st on node i when it never registered or lacks what st needs. */
static void s_check_step_node(ctx_t *c, const plan_phase_t *ph, plan_stage_t stage, const plan_step_t *st, int i) {
        const plan_node_t *s = i >= 0 ? s_snap(c, i) : NULL;
        const char *node = i >= 0 ? c->names[i] : st->node;
        const char *missing;
        if (!s || !s->registered) {
                s_refuse(c, PLAN_REFUSE_UNKNOWN_NODE, ph->name, node, NULL, NULL,
                         s_printf(c->a, "phase %s, %s step (line %u): node %s never registered", ph->name,
                                  plan_stage_name(stage), st->line, node));
                return;
        }
        if (!(missing = s_step_missing(s, st)))
                return;
        s_refuse(c, st->kind == PLAN_STEP_TASK ? PLAN_REFUSE_UNKNOWN_TASK : PLAN_REFUSE_UNKNOWN_UNIT, ph->name, node,
                 NULL, NULL,
                 s_printf(c->a, "phase %s, %s step (line %u): node %s's policy has no %s %s", ph->name,
                          plan_stage_name(stage), st->line, node, st->kind == PLAN_STEP_TASK ? "task" : "unit",
                          missing));
}

/* Where a once-only step runs: its node, or the first member of its group
 * that is up and has what it needs (else the first member). -1 with the
 * node's name in *ret_name when that node is not in the universe. */
static int s_step_target(ctx_t *c, const plan_phase_t *ph, const plan_step_t *st, const char **ret_name) {
        selection_t sel = { .v = s_alloc(c->a, c->n, sizeof *sel.v), .by_role = s_alloc(c->a, c->n, 1) };
        int first = -1;
        *ret_name = st->node;
        if (st->node)
                return s_index(c, st->node, false);
        if (!sel.v || !sel.by_role) {
                c->oom = true;
                return -1;
        }
        if (!s_select_group(c, st->group, &sel))
                s_refuse(c, PLAN_REFUSE_UNKNOWN_GROUP, ph->name, NULL, st->group, NULL,
                         s_printf(c->a, "phase %s: a step names group \"%s\", which the inventory does not have",
                                  ph->name, st->group));
        for (size_t k = 0; k < sel.n; k++) {
                const plan_node_t *s = s_snap(c, sel.v[k]);
                if (first < 0)
                        first = sel.v[k];
                if (s && s->registered && s->online && s->healthy && !s_step_missing(s, st)) {
                        *ret_name = c->names[sel.v[k]];
                        return sel.v[k];
                }
        }
        *ret_name = first >= 0 ? c->names[first] : NULL;
        return first;
}

static void s_steps(ctx_t *c, size_t p) {
        const plan_phase_t *ph = &c->plan->phases[p];
        plan_preview_phase_t *pp = &c->pv->phases[p];
        size_t n = 0;
        for (int s = 0; s < PLAN_STAGE__COUNT; s++)
                n += ph->steps[s].n;
        pp->steps = s_alloc(c->a, n, sizeof *pp->steps);
        if (!pp->steps) {
                c->oom = true;
                return;
        }
        for (int s = 0; s < PLAN_STAGE__COUNT; s++)
                for (size_t k = 0; k < ph->steps[s].n; k++) {
                        const plan_step_t *st = &ph->steps[s].v[k];
                        plan_preview_step_t *out = &pp->steps[pp->n_steps++];
                        *out = (plan_preview_step_t) { .stage = (plan_stage_t) s, .step = st };
                        if (s == PLAN_STAGE_PRE || s == PLAN_STAGE_POST) {
                                /* On every node this phase would upgrade. */
                                for (size_t i = 0; i < c->n; i++)
                                        if (c->phase_of[i] == (int) p && c->candidate[i])
                                                s_check_step_node(c, ph, (plan_stage_t) s, st, (int) i);
                                continue;
                        }
                        int i = s_step_target(c, ph, st, &out->node);
                        if (out->node)
                                s_check_step_node(c, ph, (plan_stage_t) s, st, i);
                        else if (st->group && (inventory_find_group(c->inv, st->group) ||
                                               inventory_find_quorum_group(c->inv, st->group)))
                                s_refuse(c, PLAN_REFUSE_EMPTY_PHASE, ph->name, NULL, st->group, NULL,
                                         s_printf(c->a, "phase %s, %s step (line %u): group %s has no member",
                                                  ph->name, plan_stage_name((plan_stage_t) s), st->line, st->group));
                }
}

int plan_preview_build(const plan_t *plan, const inventory_t *inv, const plan_fleet_t *fleet,
                       plan_preview_t **ret) {
        static const inventory_t no_inventory;
        ctx_t c = { .plan = plan, .inv = inv ? inv : &no_inventory, .fleet = fleet };
        selection_t *sels;
        int r = 0;

        if (!plan || !fleet || !ret || (fleet->n_nodes && !fleet->nodes))
                return -EINVAL;
        c.pv = calloc(1, sizeof *c.pv);
        if (!c.pv)
                return -ENOMEM;
        c.a = c.pv->arena = calloc(1, sizeof *c.a);
        if (!c.a) {
                free(c.pv);
                return -ENOMEM;
        }
        c.pv->plan = plan;

        /* The snapshot, sorted by id for lookups and role order. */
        c.by_id = s_alloc(c.a, fleet->n_nodes, sizeof *c.by_id);
        c.cap = fleet->n_nodes + 16;
        c.names = malloc(c.cap * sizeof *c.names);
        if (!c.by_id || !c.names) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < fleet->n_nodes; i++) {
                if (!fleet->nodes[i].id) {
                        r = -EINVAL;
                        goto out;
                }
                c.by_id[i] = i;
                c.names[i] = fleet->nodes[i].id;
        }
        c.n = fleet->n_nodes;
        qsort_r(c.by_id, fleet->n_nodes, sizeof *c.by_id, s_cmp_by_id, (void *) fleet);
        for (size_t i = 1; i < fleet->n_nodes; i++)
                if (strcmp(fleet->nodes[c.by_id[i - 1]].id, fleet->nodes[c.by_id[i]].id) == 0) {
                        r = -EINVAL;
                        goto out;
                }

        /* Every other name the inventory and the plan mention joins the
         * universe, so that it can be counted as down and named. */
        s_groups(&c);
        for (size_t p = 0; p < plan->n_phases; p++)
                for (size_t k = 0; plan->phases[p].list && plan->phases[p].list[k]; k++)
                        s_index(&c, plan->phases[p].list[k], true);
        for (size_t g = 0; g < c.inv->n_groups; g++)
                for (size_t k = 0; c.inv->groups[g].nodes && c.inv->groups[g].nodes[k]; k++)
                        s_index(&c, c.inv->groups[g].nodes[k], true);
        if (c.oom) {
                r = -ENOMEM;
                goto out;
        }

        c.status = s_alloc(c.a, c.n, sizeof *c.status);
        c.why = s_alloc(c.a, c.n, sizeof *c.why);
        c.phase_of = s_alloc(c.a, c.n, sizeof *c.phase_of);
        c.candidate = s_alloc(c.a, c.n, sizeof *c.candidate);
        c.refused = s_alloc(c.a, c.n, sizeof *c.refused);
        c.pv->nodes = s_alloc(c.a, c.n, sizeof *c.pv->nodes);
        c.pv->phases = s_alloc(c.a, plan->n_phases, sizeof *c.pv->phases);
        sels = s_alloc(c.a, plan->n_phases, sizeof *sels);
        if (!c.status || !c.why || !c.phase_of || !c.candidate || !c.refused ||
            !c.pv->nodes || !c.pv->phases || !sels) {
                r = -ENOMEM;
                goto out;
        }
        c.pv->n_phases = plan->n_phases;
        s_initial_status(&c);
        c.qf = (quorum_fleet_t) { .groups = c.groups, .n_groups = c.pv->n_groups,
                                  .status = c.status, .n_nodes = c.n, .names = c.names };

        for (size_t p = 0; p < plan->n_phases; p++) {
                const plan_phase_t *ph = &plan->phases[p];
                plan_preview_phase_t *pp = &c.pv->phases[p];
                selection_t *sel = &sels[p];
                char desc[256];

                pp->phase = ph;
                sel->v = s_alloc(c.a, c.n, sizeof *sel->v);
                sel->by_role = s_alloc(c.a, c.n, sizeof *sel->by_role);
                if (!sel->v || !sel->by_role) {
                        r = -ENOMEM;
                        goto out;
                }
                if (s_select(&c, ph, sel, desc, sizeof desc) && sel->n == 0)
                        s_refuse(&c, PLAN_REFUSE_EMPTY_PHASE, ph->name, NULL,
                                 ph->select == PLAN_SELECT_GROUP ? ph->group : NULL, NULL,
                                 s_printf(c.a, "phase %s selects no node (%s)", ph->name, desc));
                pp->nodes = s_alloc(c.a, sel->n, sizeof *pp->nodes);
                if (!pp->nodes) {
                        r = -ENOMEM;
                        goto out;
                }
                for (size_t k = 0; k < sel->n; k++)
                        pp->nodes[k] = c.names[sel->v[k]];
                pp->n_nodes = sel->n;
                s_examine_phase(&c, p, sel);
        }
        /* A node with nothing to do counts as upgraded already (up), so it
         * adds no rounds to its groups. */
        for (size_t i = 0; i < c.n; i++)
                if (c.status[i] == NODE_STATUS_UP && !c.candidate[i])
                        c.status[i] = NODE_STATUS_DONE;
        s_group_previews(&c);
        for (size_t p = 0; p < plan->n_phases; p++)
                s_steps(&c, p);
        for (size_t p = 0; p < plan->n_phases && r == 0; p++)
                r = s_resolve_phase(&c, p, &sels[p]);
        if (r == 0)
                r = s_batches(&c, sels);
        if (r == 0 && c.oom)
                r = -ENOMEM;
out:
        free(c.names);
        if (r < 0) {
                plan_preview_free(&c.pv);
                return r;
        }
        c.pv->valid = c.pv->n_refusals == 0;
        *ret = c.pv;
        return 0;
}

void plan_preview_free(plan_preview_t **pvp) {
        plan_preview_t *pv = pvp ? *pvp : NULL;
        if (!pv)
                return;
        if (pv->arena) {
                for (size_t i = 0; i < pv->arena->n; i++)
                        free(pv->arena->v[i]);
                free(pv->arena->v);
                free(pv->arena);
        }
        free(pv);
        *pvp = NULL;
}

/* ---- the wire's PlanPreview ------------------------------------------------ */

/* Proto strings are char *: the preview's are only ever read from them. */
#define S(x) ((char *) ((x) ? (x) : ""))

static char **s_strv(plan_preview_arena_t *a, const char *const *v, size_t n, bool *oom) {
        char **out = s_alloc(a, n, sizeof *out);
        if (!out) {
                *oom = true;
                return NULL;
        }
        for (size_t i = 0; i < n; i++)
                out[i] = S(v[i]);
        return out;
}

static Hitless__PlanNodeNote **s_notes(plan_preview_arena_t *a, const plan_preview_note_t *v, size_t n,
                                       bool *oom) {
        Hitless__PlanNodeNote **out = s_alloc(a, n, sizeof *out);
        Hitless__PlanNodeNote *items = s_alloc(a, n, sizeof *items);
        if (!out || !items) {
                *oom = true;
                return NULL;
        }
        for (size_t i = 0; i < n; i++) {
                hitless__plan_node_note__init(&items[i]);
                items[i].node_id = S(v[i].node);
                items[i].reason = S(v[i].reason);
                items[i].message = S(v[i].message);
                out[i] = &items[i];
        }
        return out;
}

static void s_phase_to_proto(plan_preview_arena_t *a, const plan_preview_phase_t *pp,
                             Hitless__PlanPhasePreview *m, bool *oom) {
        const plan_phase_t *ph = pp->phase;
        char desc[512];
        size_t off;

        hitless__plan_phase_preview__init(m);
        m->name = S(ph->name);
        switch (ph->select) {
        case PLAN_SELECT_ROLES:
                off = (size_t) snprintf(desc, sizeof desc, "roles ");
                for (size_t k = 0; ph->roles && ph->roles[k] && off < sizeof desc; k++)
                        off += (size_t) snprintf(desc + off, sizeof desc - off, "%s%s", k ? "," : "", ph->roles[k]);
                break;
        case PLAN_SELECT_GROUP:
                snprintf(desc, sizeof desc, "group %s", ph->group);
                break;
        case PLAN_SELECT_LIST:
        default:
                snprintf(desc, sizeof desc, "list");
                break;
        }
        m->selector = s_printf(a, "%s", desc);
        if (!m->selector)
                *oom = true;
        m->mode = S(plan_mode_name(ph->mode));
        m->batch_size = (uint32_t) pp->batch_size;
        m->canary = (uint32_t) ph->canary;
        m->auto_promote = ph->auto_promote;
        m->max_failures = (uint32_t) pp->max_failures;
        m->on_failure = S(plan_on_failure_name(ph->on_failure));
        m->drain = ph->drain;
        m->n_node_ids = pp->n_nodes;
        m->node_ids = s_strv(a, pp->nodes, pp->n_nodes, oom);
        m->n_batches = pp->n_batches;
        m->batches = s_alloc(a, pp->n_batches, sizeof *m->batches);
        Hitless__PlanBatch *batches = s_alloc(a, pp->n_batches, sizeof *batches);
        if (!m->batches || !batches) {
                *oom = true;
                return;
        }
        for (size_t b = 0; b < pp->n_batches; b++) {
                hitless__plan_batch__init(&batches[b]);
                batches[b].canary = pp->batches[b].canary;
                batches[b].n_node_ids = pp->batches[b].n_nodes;
                batches[b].node_ids = s_strv(a, pp->batches[b].nodes, pp->batches[b].n_nodes, oom);
                m->batches[b] = &batches[b];
        }
        m->min_healthy_time_ms = (uint64_t) ph->min_healthy_time_ms;
        m->healthy_deadline_ms = (uint64_t) ph->healthy_deadline_ms;
        m->pause_between_batches_ms = (uint64_t) ph->pause_between_batches_ms;
        m->n_restart = conf_strv_len(ph->restart);
        m->restart = s_strv(a, (const char *const *) ph->restart, m->n_restart, oom);
        m->n_repoint = ph->n_repoint;
        m->repoint = s_alloc(a, ph->n_repoint, sizeof *m->repoint);
        Hitless__EndpointList *lists = s_alloc(a, ph->n_repoint, sizeof *lists);
        if (!m->repoint || !lists) {
                *oom = true;
                return;
        }
        for (size_t k = 0; k < ph->n_repoint; k++) {
                hitless__endpoint_list__init(&lists[k]);
                lists[k].kind = S(ph->repoint[k].kind);
                lists[k].n_endpoints = conf_strv_len(ph->repoint[k].endpoints);
                lists[k].endpoints = s_strv(a, (const char *const *) ph->repoint[k].endpoints,
                                            lists[k].n_endpoints, oom);
                m->repoint[k] = &lists[k];
        }
        m->n_steps = pp->n_steps;
        m->steps = s_alloc(a, pp->n_steps, sizeof *m->steps);
        Hitless__PlanStepPreview *steps = s_alloc(a, pp->n_steps, sizeof *steps);
        if (!m->steps || !steps) {
                *oom = true;
                return;
        }
        for (size_t k = 0; k < pp->n_steps; k++) {
                const plan_step_t *st = pp->steps[k].step;
                char what[1024];
                hitless__plan_step_preview__init(&steps[k]);
                steps[k].stage = S(plan_stage_name(pp->steps[k].stage));
                steps[k].action = s_printf(a, "%s", plan_step_describe(st, what, sizeof what));
                if (!steps[k].action)
                        *oom = true;
                steps[k].node_id = S(pp->steps[k].node);
                steps[k].group = S(st->group);
                steps[k].line = st->line;
                steps[k].deadline_ms = (uint64_t) st->deadline_ms;
                steps[k].interval_ms = (uint64_t) st->interval_ms;
                m->steps[k] = &steps[k];
        }
        m->n_waiting = pp->n_waiting;
        m->waiting = s_notes(a, pp->waiting, pp->n_waiting, oom);
        m->n_skipped = pp->n_skipped;
        m->skipped = s_notes(a, pp->skipped, pp->n_skipped, oom);
}

static void s_group_to_proto(plan_preview_arena_t *a, const plan_preview_group_t *g,
                             Hitless__PlanGroupPreview *m, bool *oom) {
        Hitless__PlanGroupMember *items = s_alloc(a, g->n_down, sizeof *items);

        hitless__plan_group_preview__init(m);
        m->name = S(g->group->name);
        m->n_member_ids = g->group->n_members;
        m->member_ids = s_strv(a, (const char *const *) g->group->members, g->group->n_members, oom);
        m->quorum_max_down = (uint32_t) g->quorum_max_down;
        m->max_down = (uint32_t) g->group->max_down;
        m->budget = (uint32_t) g->budget;
        m->to_upgrade = (uint32_t) g->to_upgrade;
        m->min_rounds = g->min_rounds;
        m->down = s_alloc(a, g->n_down, sizeof *m->down);
        if (!items || !m->down) {
                *oom = true;
                return;
        }
        m->n_down = g->n_down;
        for (size_t i = 0; i < g->n_down; i++) {
                hitless__plan_group_member__init(&items[i]);
                items[i].node_id = S(g->down[i].node);
                items[i].why = S(g->down[i].why);
                m->down[i] = &items[i];
        }
}

static void s_node_to_proto(plan_preview_arena_t *a, const plan_preview_node_t *n,
                            Hitless__PlanNodePreview *m, bool *oom) {
        Hitless__PlanPackageChange *items = s_alloc(a, n->n_changes, sizeof *items);

        hitless__plan_node_preview__init(m);
        m->node_id = S(n->node);
        m->phase = S(n->phase);
        m->state = S(n->state);
        m->packages = s_alloc(a, n->n_changes, sizeof *m->packages);
        if (!items || !m->packages) {
                *oom = true;
                return;
        }
        m->n_packages = n->n_changes;
        for (size_t i = 0; i < n->n_changes; i++) {
                hitless__plan_package_change__init(&items[i]);
                items[i].name = S(n->changes[i].package);
                items[i].from = S(n->changes[i].from);
                items[i].to = S(n->changes[i].to);
                items[i].action = S(plan_change_name(n->changes[i].action));
                m->packages[i] = &items[i];
        }
}

int plan_preview_to_proto(plan_preview_t *pv, const char *file_name, Hitless__PlanPreview **ret) {
        plan_preview_arena_t *a = pv->arena;
        Hitless__PlanPreview *m = s_alloc(a, 1, sizeof *m);
        Hitless__PlanPhasePreview *phases = s_alloc(a, pv->n_phases, sizeof *phases);
        Hitless__PlanGroupPreview *groups = s_alloc(a, pv->n_groups, sizeof *groups);
        Hitless__PlanNodePreview *nodes = s_alloc(a, pv->n_nodes, sizeof *nodes);
        Hitless__PlanRefusal *refusals = s_alloc(a, pv->n_refusals, sizeof *refusals);
        bool oom = false;

        if (!m || !phases || !groups || !nodes || !refusals)
                return -ENOMEM;
        hitless__plan_preview__init(m);
        m->file_name = S(file_name);
        m->plan_name = S(pv->plan->name);
        m->valid = pv->valid;
        m->phases = s_alloc(a, pv->n_phases, sizeof *m->phases);
        m->groups = s_alloc(a, pv->n_groups, sizeof *m->groups);
        m->nodes = s_alloc(a, pv->n_nodes, sizeof *m->nodes);
        m->refusals = s_alloc(a, pv->n_refusals, sizeof *m->refusals);
        if (!m->phases || !m->groups || !m->nodes || !m->refusals)
                return -ENOMEM;
        for (size_t i = 0; i < pv->n_phases; i++) {
                s_phase_to_proto(a, &pv->phases[i], &phases[i], &oom);
                m->phases[i] = &phases[i];
        }
        m->n_phases = pv->n_phases;
        for (size_t i = 0; i < pv->n_groups; i++) {
                s_group_to_proto(a, &pv->groups[i], &groups[i], &oom);
                m->groups[i] = &groups[i];
        }
        m->n_groups = pv->n_groups;
        for (size_t i = 0; i < pv->n_nodes; i++) {
                s_node_to_proto(a, &pv->nodes[i], &nodes[i], &oom);
                m->nodes[i] = &nodes[i];
        }
        m->n_nodes = pv->n_nodes;
        for (size_t i = 0; i < pv->n_refusals; i++) {
                const plan_preview_refusal_t *r = &pv->refusals[i];
                hitless__plan_refusal__init(&refusals[i]);
                refusals[i].kind = S(plan_refusal_kind_name(r->kind));
                refusals[i].phase = S(r->phase);
                refusals[i].node_id = S(r->node);
                refusals[i].group = S(r->group);
                refusals[i].package = S(r->package);
                refusals[i].message = S(r->message);
                m->refusals[i] = &refusals[i];
        }
        m->n_refusals = pv->n_refusals;
        if (oom)
                return -ENOMEM;
        *ret = m;
        return 0;
}
