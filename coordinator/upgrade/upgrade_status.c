/* The wire's UpgradeStatus; see upgrade_status.h. Everything is malloc'ed
 * so that protobuf-c's free_unpacked releases it. */
#include "coordinator/upgrade/upgrade_status.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
        bool oom;
} build_t;

static char *s_str(build_t *b, const char *s) {
        char *d = strdup(s ? s : "");
        if (!d)
                b->oom = true;
        return d;
}

static void *s_calloc(build_t *b, size_t n, size_t size) {
        void *p = calloc(n ? n : 1, size);
        if (!p)
                b->oom = true;
        return p;
}

static Hitless__UpgradeCondition *s_condition(build_t *b, const char *type, const upgrade_condition_t *k) {
        Hitless__UpgradeCondition *c = s_calloc(b, 1, sizeof *c);
        if (!c)
                return NULL;
        hitless__upgrade_condition__init(c);
        c->type = s_str(b, type);
        c->status = k->status;
        c->reason = s_str(b, k->reason);
        c->message = s_str(b, k->message);
        return c;
}

static const char *s_state(const upgrade_conditions_t *k) {
        if (k->rolled_back)
                return "rolled_back";   /* over: what it changed is undone */
        if (k->complete.status)
                return "complete";
        if (k->aborted)
                return "aborted";
        if (k->rolling_back)
                return "rolling_back";   /* every phase finished; rollbacks still run */
        if (k->paused)
                return "paused";
        if (k->held)
                return "held";
        if (k->promote_pending)
                return "waiting_promote";
        return "running";
}

static const char *s_phase_state(const upgrade_conditions_t *k, size_t p) {
        if (k->complete.status || (int) p < k->phase)
                return "finished";
        if (k->aborted)
                return "aborted";   /* it will not go on */
        if ((int) p > k->phase)
                return "pending";
        return k->promote_pending ? "waiting_promote" : "running";
}

static Hitless__UpgradePhaseStatus *s_phase(build_t *b, const upgrade_view_t *v, const upgrade_conditions_t *k,
                                            size_t p) {
        const upgrade_phase_config_t *pc = &v->cfg->phases[p];
        Hitless__UpgradePhaseStatus *ps = s_calloc(b, 1, sizeof *ps);
        if (!ps)
                return NULL;
        hitless__upgrade_phase_status__init(ps);
        ps->name = s_str(b, pc->params->name);
        ps->state = s_str(b, s_phase_state(k, p));
        ps->on_failure = s_str(b, plan_on_failure_name(pc->params->on_failure));
        ps->nodes = (uint32_t) pc->n_nodes;
        ps->batch_size = (uint32_t) pc->batch_size;
        ps->max_failures = (uint32_t) pc->max_failures;
        upgrade_phase_status_t own;
        char step[UPGRADE_TEXT_MAX * 2];
        upgrade_machine_phase_wait(v->m, p, step, sizeof step);
        ps->step = s_str(b, step);
        ps->stage = s_str(b, upgrade_machine_phase(v->m, p, &own) == 0 ? upgrade_phase_stage_name(own.stage) : "");
        for (size_t i = 0; i < pc->n_nodes; i++) {
                upgrade_node_status_t ns;
                if (upgrade_machine_node(v->m, pc->nodes[i], &ns) < 0)
                        continue;
                switch (ns.step) {
                case UPGRADE_STEP_PENDING: ps->pending++; break;
                case UPGRADE_STEP_DONE: ps->done++; break;
                case UPGRADE_STEP_FAILED: ps->failed++; break;
                case UPGRADE_STEP_ROLLED_BACK: ps->rolled_back++; break;
                case UPGRADE_STEP_SKIPPED: ps->skipped++; break;
                default: break;
                }
                /* A node halted by abort is in a step but runs nothing. */
                ps->in_flight += ns.cmd != UPGRADE_CMD_NONE;
        }
        return ps;
}

/* Copies what the node's last heartbeat says it points to (owned, as
 * everything in the status: upgrade_status_free frees it). */
static void s_endpoints(build_t *b, const Hitless__HealthReport *h, Hitless__UpgradeNodeStatus *n) {
        n->endpoints = s_calloc(b, h->n_endpoints, sizeof *n->endpoints);
        for (size_t k = 0; n->endpoints && k < h->n_endpoints; k++) {
                const Hitless__EndpointList *from = h->endpoints[k];
                Hitless__EndpointList *to = s_calloc(b, 1, sizeof *to);
                if (!to)
                        return;
                hitless__endpoint_list__init(to);
                n->endpoints[n->n_endpoints++] = to;
                to->kind = s_str(b, from->kind);
                to->endpoints = s_calloc(b, from->n_endpoints, sizeof *to->endpoints);
                for (size_t j = 0; to->endpoints && j < from->n_endpoints; j++)
                        if ((to->endpoints[to->n_endpoints] = s_str(b, from->endpoints[j])))
                                to->n_endpoints++;
        }
}

static Hitless__UpgradeNodeStatus *s_node(build_t *b, const upgrade_view_t *v, size_t i, int64_t now_ms) {
        upgrade_node_status_t ns;
        char wait[256], cmd_id[64] = "";
        Hitless__UpgradeNodeStatus *n = s_calloc(b, 1, sizeof *n);
        if (!n)
                return NULL;
        hitless__upgrade_node_status__init(n);
        if (upgrade_machine_node(v->m, (int) i, &ns) < 0)
                return n;
        upgrade_machine_wait_reason(v->m, (int) i, wait, sizeof wait);
        if (ns.cmd_id)
                snprintf(cmd_id, sizeof cmd_id, "%s-%llu", v->id, (unsigned long long) ns.cmd_id);
        n->node_id = s_str(b, v->node_ids[i]);
        n->phase = s_str(b, v->node_phase[i] >= 0 ? v->plan->phases[v->node_phase[i]].name : "");
        n->step = s_str(b, upgrade_step_name(ns.step));
        if (ns.cmd == UPGRADE_CMD_STEP) {
                /* A step: what it runs ("task ready", "start a.service"): the
                 * node's own pre or post step, or the current phase's
                 * before, after or wait_for step running here. */
                bool own = ns.stage == PLAN_STAGE_PRE || ns.stage == PLAN_STAGE_POST;
                upgrade_conditions_t cond;
                upgrade_machine_conditions(v->m, &cond);
                int p = own ? v->node_phase[i] : cond.phase;
                const plan_steps_t *st = p >= 0 && (size_t) p < v->plan->n_phases ? &v->plan->phases[p].steps[ns.stage]
                                                                                    : &(plan_steps_t) { 0 };
                char what[256] = "step";
                if ((size_t) ns.step_index < st->n)
                        plan_step_describe(&st->v[ns.step_index], what, sizeof what);
                n->command = s_str(b, what);
        } else {
                n->command = s_str(b, ns.cmd != UPGRADE_CMD_NONE ? upgrade_cmd_name(ns.cmd) : "");
        }
        n->command_id = s_str(b, cmd_id);
        n->waiting = s_str(b, wait);
        n->error = s_str(b, ns.error);
        n->reachable = ns.reachable;
        n->healthy = ns.healthy;
        n->halted = ns.halted;
        n->rollback_pending = ns.rollback_pending;
        n->drained = ns.drained || ns.agent_drained;
        if (ns.step == UPGRADE_STEP_VERIFYING && ns.healthy_since_ms >= 0 && now_ms > ns.healthy_since_ms)
                n->healthy_for_s = (uint32_t) ((now_ms - ns.healthy_since_ms) / 1000);
        const node_t *fn = v->fleet ? fleet_find(v->fleet, v->node_ids[i]) : NULL;
        if (fn && fn->info && fn->info->health)
                s_endpoints(b, fn->info->health, n);
        if (fn && fn->info) {
                n->packages = s_calloc(b, fn->info->n_packages, sizeof *n->packages);
                for (size_t k = 0; n->packages && k < fn->info->n_packages; k++) {
                        Hitless__PackageVersion *pv = s_calloc(b, 1, sizeof *pv);
                        if (!pv)
                                break;
                        hitless__package_version__init(pv);
                        n->packages[n->n_packages++] = pv;
                        pv->name = s_str(b, fn->info->packages[k]->name);
                        pv->version = s_str(b, fn->info->packages[k]->version);
                }
        }
        return n;
}

/* StoreDegraded: writes fail (reason WritesFail), or the store is below
 * its free-space floor (LowSpace); False with reason Healthy. */
static void s_store_condition(const store_health_t *h, upgrade_condition_t *ret) {
        memset(ret, 0, sizeof *ret);
        if (h && h->degraded) {
                ret->status = true;
                snprintf(ret->reason, sizeof ret->reason, "WritesFail");
                snprintf(ret->message, sizeof ret->message, "since %" PRId64 ", %" PRIu64 " failed: %s", h->since,
                         h->failures, h->error);
        } else if (h && h->low_space) {
                ret->status = true;
                snprintf(ret->reason, sizeof ret->reason, "LowSpace");
                snprintf(ret->message, sizeof ret->message,
                         "%" PRIu64 " MiB free, below state_min_free_mb %" PRIu64 ": no new node starts",
                         h->free_bytes >> 20, h->floor_bytes >> 20);
        } else {
                snprintf(ret->reason, sizeof ret->reason, "Healthy");
        }
}

int upgrade_status_build(const upgrade_view_t *v, int64_t now_ms, const char *message,
                         Hitless__UpgradeStatus **ret) {
        build_t b = { false };
        Hitless__UpgradeStatus *st = s_calloc(&b, 1, sizeof *st);
        upgrade_conditions_t k;

        if (!st)
                return -ENOMEM;
        hitless__upgrade_status__init(st);
        st->message = s_str(&b, message);
        if (!v) {
                st->upgrade_id = s_str(&b, "");
                goto out;
        }
        upgrade_machine_conditions(v->m, &k);
        st->upgrade_id = s_str(&b, v->id);
        st->plan_name = s_str(&b, v->plan_name);
        st->file_name = s_str(&b, v->file_name);
        st->started_by = s_str(&b, v->started_by);
        st->started = v->started;
        st->state = s_str(&b, s_state(&k));
        st->current_phase = s_str(&b, k.phase >= 0 && (size_t) k.phase < v->cfg->n_phases && !k.complete.status
                                              ? v->cfg->phases[k.phase].params->name
                                              : "");
        st->pause_reason = s_str(&b, k.pause_reason);
        st->hold_reason = s_str(&b, k.hold_reason);
        upgrade_condition_t store;
        s_store_condition(v->store, &store);
        st->conditions = s_calloc(&b, 4, sizeof *st->conditions);
        /* Counts grow only with non-NULL entries: free_unpacked walks them. */
        if (st->conditions) {
                const char *types[4] = { "Upgrading", "Error", "Complete", "StoreDegraded" };
                const upgrade_condition_t *conds[4] = { &k.upgrading, &k.error, &k.complete, &store };
                for (size_t i = 0; i < 4; i++)
                        if ((st->conditions[st->n_conditions] = s_condition(&b, types[i], conds[i])))
                                st->n_conditions++;
        }
        st->phases = s_calloc(&b, v->cfg->n_phases, sizeof *st->phases);
        for (size_t p = 0; st->phases && p < v->cfg->n_phases; p++)
                if ((st->phases[st->n_phases] = s_phase(&b, v, &k, p)))
                        st->n_phases++;
        st->groups = s_calloc(&b, v->cfg->n_groups, sizeof *st->groups);
        for (size_t g = 0; st->groups && g < v->cfg->n_groups; g++) {
                Hitless__UpgradeGroupStatus *gs = s_calloc(&b, 1, sizeof *gs);
                if (!gs)
                        break;
                hitless__upgrade_group_status__init(gs);
                st->groups[st->n_groups++] = gs;
                const quorum_group_t *q = &v->cfg->groups[g];
                int down = upgrade_machine_group_down(v->m, g), budget = quorum_group_budget(q);
                gs->name = s_str(&b, q->name ? q->name : "");
                gs->members = (uint32_t) q->n_members;
                gs->down = down > 0 ? (uint32_t) down : 0;
                gs->budget = budget > 0 ? (uint32_t) budget : 0;
        }
        st->nodes = s_calloc(&b, v->cfg->n_nodes, sizeof *st->nodes);
        for (size_t i = 0; st->nodes && i < v->cfg->n_nodes; i++)
                if ((st->nodes[st->n_nodes] = s_node(&b, v, i, now_ms)))
                        st->n_nodes++;
out:
        if (b.oom) {
                upgrade_status_free(st);
                return -ENOMEM;
        }
        *ret = st;
        return 0;
}

void upgrade_status_free(Hitless__UpgradeStatus *st) {
        if (st)
                hitless__upgrade_status__free_unpacked(st, NULL);
}
