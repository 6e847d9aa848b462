/* The stable JSON of an UpgradeStatus; see upgrade_json.h. */
#include "common/upgrade_json.h"

#include "common/json.h"

static void json_condition(FILE *f, const void *item) {
        const Hitless__UpgradeCondition *c = item;
        json_kv(f, "{", "type", c->type);
        json_bool(f, ",", "status", c->status);
        json_kv(f, ",", "reason", c->reason);
        json_kv(f, ",", "message", c->message);
        fputc('}', f);
}

static void json_phase(FILE *f, const void *item) {
        const Hitless__UpgradePhaseStatus *p = item;
        json_kv(f, "{", "name", p->name);
        json_kv(f, ",", "state", p->state);
        json_int(f, ",", "nodes", p->nodes);
        json_int(f, ",", "done", p->done);
        json_int(f, ",", "in_flight", p->in_flight);
        json_int(f, ",", "failed", p->failed);
        json_int(f, ",", "rolled_back", p->rolled_back);
        json_int(f, ",", "skipped", p->skipped);
        json_int(f, ",", "pending", p->pending);
        json_int(f, ",", "batch_size", p->batch_size);
        json_int(f, ",", "max_failures", p->max_failures);
        json_kv(f, ",", "on_failure", p->on_failure);
        json_kv(f, ",", "stage", p->stage);
        json_kv(f, ",", "step", p->step);
        fputc('}', f);
}

static void json_node(FILE *f, const void *item) {
        const Hitless__UpgradeNodeStatus *n = item;
        json_kv(f, "{", "node_id", n->node_id);
        json_kv(f, ",", "phase", n->phase);
        json_kv(f, ",", "step", n->step);
        json_kv(f, ",", "command", n->command);
        json_kv(f, ",", "command_id", n->command_id);
        json_kv(f, ",", "waiting", n->waiting);
        json_kv(f, ",", "error", n->error);
        json_bool(f, ",", "reachable", n->reachable);
        json_bool(f, ",", "healthy", n->healthy);
        json_bool(f, ",", "halted", n->halted);
        json_bool(f, ",", "rollback_pending", n->rollback_pending);
        json_bool(f, ",", "drained", n->drained);
        json_int(f, ",", "healthy_for_s", n->healthy_for_s);
        fputs(",\"endpoints\":{", f);
        for (size_t k = 0; k < n->n_endpoints; k++) {
                const Hitless__EndpointList *e = n->endpoints[k];
                if (k)
                        fputc(',', f);
                json_string(f, e->kind);
                fputs(":[", f);
                for (size_t j = 0; j < e->n_endpoints; j++) {
                        if (j)
                                fputc(',', f);
                        json_string(f, e->endpoints[j]);
                }
                fputc(']', f);
        }
        fputs("},\"packages\":{", f);
        for (size_t k = 0; k < n->n_packages; k++) {
                if (k)
                        fputc(',', f);
                json_string(f, n->packages[k]->name);
                fputc(':', f);
                json_string(f, n->packages[k]->version);
        }
        fputs("}}", f);
}

static void json_group(FILE *f, const void *item) {
        const Hitless__UpgradeGroupStatus *g = item;
        json_kv(f, "{", "name", g->name);
        json_int(f, ",", "members", g->members);
        json_int(f, ",", "down", g->down);
        json_int(f, ",", "budget", g->budget);
        fputc('}', f);
}

void upgrade_status_json(FILE *f, const Hitless__UpgradeStatus *st) {
        json_kv(f, "{", "upgrade_id", st->upgrade_id);
        json_kv(f, ",", "plan_name", st->plan_name);
        json_kv(f, ",", "file_name", st->file_name);
        json_kv(f, ",", "started_by", st->started_by);
        json_int(f, ",", "started", st->started);
        json_kv(f, ",", "state", st->state);
        json_kv(f, ",", "current_phase", st->current_phase);
        json_kv(f, ",", "pause_reason", st->pause_reason);
        json_kv(f, ",", "hold_reason", st->hold_reason);
        json_kv(f, ",", "message", st->message);
        json_array(f, ",", "conditions", (void *const *) st->conditions, st->n_conditions, json_condition);
        json_array(f, ",", "phases", (void *const *) st->phases, st->n_phases, json_phase);
        json_array(f, ",", "nodes", (void *const *) st->nodes, st->n_nodes, json_node);
        json_array(f, ",", "groups", (void *const *) st->groups, st->n_groups, json_group);
        fputs("}\n", f);
}
