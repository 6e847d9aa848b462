/* The Prometheus exposition; see metrics.h. */
#include "coordinator/http/metrics.h"

#include <errno.h>
#include <string.h>

#include "common/codec.h"
#include "common/prom.h"
#include "coordinator/upgrade/upgrade_machine.h"

/* The words a count is broken down by. Fixed lists, so every series
 * exists (at 0) from the first scrape: a rate() over a series that
 * appears only when it becomes non-zero misses its first increase. */
static const char *const health_words[] = { "healthy", "degraded", "unhealthy", "unknown" };
static const char *const reach_words[] = { "online", "unreachable" };
#define N_OF(a) (sizeof(a) / sizeof *(a))

static void header(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{label="value"} n, or name n when label is NULL. */
static void sample(FILE *f, const char *name, const char *label, const char *value, unsigned long long n) {
        fputs(name, f);
        if (label) {
                fprintf(f, "{%s=", label);
                prom_label_value(f, value);
                fputc('}', f);
        }
        fprintf(f, " %llu\n", n);
}

/* name{l1="v1",l2="v2"} n */
static void sample2(FILE *f, const char *name, const char *l1, const char *v1, const char *l2, const char *v2,
                    unsigned long long n) {
        fprintf(f, "%s{%s=", name, l1);
        prom_label_value(f, v1);
        fprintf(f, ",%s=", l2);
        prom_label_value(f, v2);
        fprintf(f, "} %llu\n", n);
}

static size_t word_index(const char *const *words, size_t n, const char *w) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(words[i], w) == 0)
                        return i;
        return n;
}

/* ---- the coordinator and its fleet ------------------------------------------- */

static void write_coordinator(FILE *f, const Hitless__CoordinatorStatus *c) {
        header(f, "hitless_build_info", "gauge", "The coordinator's version; always 1.");
        sample(f, "hitless_build_info", "version", c->version, 1);
        header(f, "hitless_coordinator_start_time_seconds", "gauge", "When the coordinator started, unix seconds.");
        sample(f, "hitless_coordinator_start_time_seconds", NULL, NULL, (unsigned long long) c->started);
        header(f, "hitless_agents_connected", "gauge", "Agents heard from within node_timeout.");
        sample(f, "hitless_agents_connected", NULL, NULL, c->nodes_online);
        header(f, "hitless_keys", "gauge", "Agent keys by state.");
        sample(f, "hitless_keys", "state", "accepted", c->keys_accepted);
        sample(f, "hitless_keys", "state", "pending", c->keys_pending);
        sample(f, "hitless_keys", "state", "rejected", c->keys_rejected);
        header(f, "hitless_agent_messages_received_total", "counter", "Messages received from agents.");
        sample(f, "hitless_agent_messages_received_total", NULL, NULL, c->messages_received);
        header(f, "hitless_agent_messages_dropped_total", "counter", "Agent messages dropped, by reason.");
        for (size_t i = 0; i < c->n_dropped; i++)
                sample(f, "hitless_agent_messages_dropped_total", "reason", c->dropped[i]->name, c->dropped[i]->value);
        header(f, "hitless_handshakes_total", "counter", "CURVE handshakes by the ZAP handler's verdict.");
        for (size_t i = 0; i < c->n_handshakes; i++)
                sample(f, "hitless_handshakes_total", "verdict", c->handshakes[i]->name, c->handshakes[i]->value);
        if (c->store) {
                const Hitless__StoreHealth *s = c->store;
                header(f, "hitless_store_degraded", "gauge", "1 while writes to the store fail.");
                sample(f, "hitless_store_degraded", NULL, NULL, s->degraded);
                header(f, "hitless_store_failed_writes", "gauge", "Failed store writes since they started failing.");
                sample(f, "hitless_store_failed_writes", NULL, NULL, s->failures);
                header(f, "hitless_store_low_space", "gauge", "1 while the state directory's free space is below the floor.");
                sample(f, "hitless_store_low_space", NULL, NULL, s->low_space);
                header(f, "hitless_store_free_bytes", "gauge", "Free space in the state directory.");
                sample(f, "hitless_store_free_bytes", NULL, NULL, s->free_bytes);
                header(f, "hitless_store_floor_bytes", "gauge", "state_min_free_mb in bytes; 0: no floor.");
                sample(f, "hitless_store_floor_bytes", NULL, NULL, s->floor_bytes);
        }
}

/* An unreachable node's health is unknown, as in `hitlessctl nodes`. */
static const char *node_health(const Hitless__NodeInfo *n) {
        if (!n->state || strcmp(n->state, "online") != 0)
                return "unknown";
        return health_state_label(n->health ? n->health->state : HITLESS__HEALTH_STATE__HEALTH_UNKNOWN);
}

static void write_nodes(FILE *f, const metrics_input_t *in) {
        unsigned long long health[N_OF(health_words)] = { 0 }, reach[N_OF(reach_words)] = { 0 };
        for (size_t i = 0; i < in->n_nodes; i++) {
                const Hitless__NodeInfo *n = in->nodes[i];
                size_t h = word_index(health_words, N_OF(health_words), node_health(n));
                bool online = n->state && strcmp(n->state, "online") == 0;
                health[h < N_OF(health_words) ? h : N_OF(health_words) - 1]++;
                reach[online ? 0 : 1]++;
        }
        header(f, "hitless_nodes", "gauge", "Known nodes by reachability.");
        for (size_t i = 0; i < N_OF(reach_words); i++)
                sample(f, "hitless_nodes", "state", reach_words[i], reach[i]);
        header(f, "hitless_nodes_health", "gauge", "Known nodes by health (unknown while unreachable).");
        for (size_t i = 0; i < N_OF(health_words); i++)
                sample(f, "hitless_nodes_health", "health", health_words[i], health[i]);
}

/* ---- the upgrade ------------------------------------------------------------- */

static void write_upgrade(FILE *f, const Hitless__UpgradeStatus *u) {
        /* Steps and commands by the machine's own names. */
        unsigned long long steps[UPGRADE_STEP__COUNT] = { 0 }, cmds[UPGRADE_CMD__COUNT] = { 0 };
        header(f, "hitless_upgrade_info", "gauge", "The current upgrade: its id, plan and state; always 1.");
        fprintf(f, "hitless_upgrade_info{upgrade_id=");
        prom_label_value(f, u->upgrade_id);
        fputs(",plan=", f);
        prom_label_value(f, u->plan_name);
        fputs(",state=", f);
        prom_label_value(f, u->state);
        fputs("} 1\n", f);
        header(f, "hitless_upgrade_start_time_seconds", "gauge", "When the current upgrade started, unix seconds.");
        sample(f, "hitless_upgrade_start_time_seconds", NULL, NULL, (unsigned long long) u->started);
        header(f, "hitless_upgrade_condition", "gauge", "1 while the upgrade's condition holds.");
        for (size_t i = 0; i < u->n_conditions; i++)
                sample(f, "hitless_upgrade_condition", "type", u->conditions[i]->type, u->conditions[i]->status);

        header(f, "hitless_upgrade_phase_size_nodes", "gauge", "Nodes each phase upgrades.");
        for (size_t i = 0; i < u->n_phases; i++)
                sample(f, "hitless_upgrade_phase_size_nodes", "phase", u->phases[i]->name, u->phases[i]->nodes);
        header(f, "hitless_upgrade_phase_nodes", "gauge", "A phase's nodes by progress: done, in_flight, failed, rolled_back, skipped, pending.");
        for (size_t i = 0; i < u->n_phases; i++) {
                const Hitless__UpgradePhaseStatus *p = u->phases[i];
                const struct {
                        const char *what;
                        uint32_t n;
                } by[] = { { "done", p->done },       { "in_flight", p->in_flight },
                           { "failed", p->failed },   { "rolled_back", p->rolled_back },
                           { "skipped", p->skipped }, { "pending", p->pending } };
                for (size_t k = 0; k < N_OF(by); k++)
                        sample2(f, "hitless_upgrade_phase_nodes", "phase", p->name, "progress", by[k].what, by[k].n);
        }

        for (size_t i = 0; i < u->n_nodes; i++) {
                for (int s = 0; s < UPGRADE_STEP__COUNT; s++)
                        if (strcmp(u->nodes[i]->step, upgrade_step_name((upgrade_step_t) s)) == 0)
                                steps[s]++;
                for (int c = UPGRADE_CMD_NONE + 1; c < UPGRADE_CMD__COUNT; c++)
                        if (strcmp(u->nodes[i]->command, upgrade_cmd_name((upgrade_cmd_t) c)) == 0)
                                cmds[c]++;
        }
        header(f, "hitless_upgrade_nodes", "gauge", "The upgrade's nodes by step.");
        for (int s = 0; s < UPGRADE_STEP__COUNT; s++)
                sample(f, "hitless_upgrade_nodes", "step", upgrade_step_name((upgrade_step_t) s), steps[s]);
        header(f, "hitless_upgrade_commands_in_flight", "gauge", "The upgrade's commands in flight, by action.");
        for (int c = UPGRADE_CMD_NONE + 1; c < UPGRADE_CMD__COUNT; c++)
                sample(f, "hitless_upgrade_commands_in_flight", "action", upgrade_cmd_name((upgrade_cmd_t) c), cmds[c]);
}

static void write_groups(FILE *f, const metrics_input_t *in) {
        header(f, "hitless_quorum_group_members", "gauge", "Members of each quorum group.");
        for (size_t i = 0; i < in->n_groups; i++)
                sample(f, "hitless_quorum_group_members", "group", in->groups[i].name, in->groups[i].members);
        header(f, "hitless_quorum_group_members_down", "gauge", "Members of each quorum group down now (unhealthy, unreachable or in a step).");
        for (size_t i = 0; i < in->n_groups; i++)
                sample(f, "hitless_quorum_group_members_down", "group", in->groups[i].name, in->groups[i].down);
        header(f, "hitless_quorum_group_budget", "gauge", "Members each quorum group may have down at once.");
        for (size_t i = 0; i < in->n_groups; i++)
                sample(f, "hitless_quorum_group_budget", "group", in->groups[i].name, in->groups[i].budget);
}

static void write_commands(FILE *f, const metrics_input_t *in) {
        header(f, "hitless_commands", "gauge", "Commands recorded in the store (kept until retention), by action and state.");
        for (size_t i = 0; i < in->n_commands; i++)
                sample2(f, "hitless_commands", "action", in->commands[i].action, "state", in->commands[i].state,
                        in->commands[i].n);
}

static void write_jobs(FILE *f, const Hitless__JobList *l) {
        static const char *const states[] = { "running", "paused", "aborted", "done" };
        header(f, "hitless_jobs", "gauge", "Batch jobs by state.");
        for (size_t k = 0; k < N_OF(states); k++) {
                unsigned long long n = 0;
                for (size_t i = 0; i < l->n_jobs; i++)
                        n += strcmp(l->jobs[i]->state, states[k]) == 0;
                sample(f, "hitless_jobs", "state", states[k], n);
        }
        header(f, "hitless_job_nodes", "gauge", "Nodes of each unfinished batch job (running or paused) by result so far.");
        for (size_t i = 0; i < l->n_jobs; i++) {
                const Hitless__JobStatus *j = l->jobs[i];
                if (strcmp(j->state, "running") != 0 && strcmp(j->state, "paused") != 0)
                        continue;
                const struct { const char *word; uint32_t n; } by[] = {
                        { "pending", j->pending }, { "running", j->running }, { "verifying", j->verifying },
                        { "succeeded", j->succeeded }, { "failed", j->failed }, { "skipped", j->skipped } };
                for (size_t k = 0; k < N_OF(by); k++)
                        sample2(f, "hitless_job_nodes", "job", j->id, "result", by[k].word, by[k].n);
        }
}

static void write_commit_latency(FILE *f, const store_commit_latency_t *h) {
        const char *name = "hitless_store_commit_duration_seconds";
        unsigned long long cum = 0;
        header(f, name, "histogram", "How long the store's commits took (to their fsync).");
        for (size_t b = 0; b < STORE_COMMIT_BUCKETS; b++) {
                cum += h->bucket[b];
                if (b < STORE_COMMIT_BUCKETS - 1)
                        fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, store_commit_bucket_s[b], cum);
                else
                        fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
        }
        fprintf(f, "%s_sum %.6f\n%s_count %llu\n", name, h->sum_s, name, (unsigned long long) h->count);
}

int metrics_write(FILE *f, const metrics_input_t *in) {
        write_coordinator(f, in->coordinator);
        if (in->commit_latency)
                write_commit_latency(f, in->commit_latency);
        write_commands(f, in);
        if (in->jobs)
                write_jobs(f, in->jobs);
        write_nodes(f, in);
        if (in->upgrade && in->upgrade->upgrade_id && in->upgrade->upgrade_id[0])
                write_upgrade(f, in->upgrade);
        if (in->n_groups)
                write_groups(f, in);
        return ferror(f) ? -EIO : 0;
}
