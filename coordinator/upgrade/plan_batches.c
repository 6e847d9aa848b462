/* The batches of `plan check`, from the upgrade machine; see plan_batches.h. */
#include "coordinator/upgrade/plan_batches.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HOLD "plan check: the round's answers come in"

/* One simulated run, over a config whose phases may leave nodes out. */
typedef struct {
        const upgrade_config_t *cfg;
        upgrade_machine_t *m;
        int64_t now;
        plan_batches_t *out;
        size_t n_started;
        bool *started;          /* per node: got its first command */
        int *phase_started;     /* per phase: nodes started so far */
        int *queue;             /* nodes whose command awaits its answer */
        uint64_t *queue_id;
        size_t n_queue;
} run_t;

/* Takes the actions of one event: queues every command for its answer and,
 * when record, makes the first commands one batch. */
static void s_take(run_t *r, const upgrade_action_t *a, size_t n, bool record) {
        plan_batch_t *b = NULL;

        for (size_t k = 0; k < n; k++) {
                if (a[k].kind != UPGRADE_ACT_SEND)
                        continue;
                int i = a[k].node;
                r->queue[r->n_queue] = i;
                r->queue_id[r->n_queue++] = a[k].cmd_id;
                if (r->started[i] || !record)
                        continue;
                r->started[i] = true;
                if (!b) {
                        b = &r->out->batches[r->out->n_batches++];
                        *b = (plan_batch_t) { .phase = a[k].phase, .first = r->n_started,
                                              .canary = r->phase_started[a[k].phase] <
                                                        r->cfg->phases[a[k].phase].params->canary };
                }
                r->out->order[r->n_started++] = i;
                r->phase_started[a[k].phase]++;
                b->n++;
        }
}

static bool s_has(const upgrade_action_t *a, size_t n, upgrade_action_kind_t kind) {
        for (size_t k = 0; k < n; k++)
                if (a[k].kind == kind)
                        return true;
        return false;
}

/* Held, answers every command in flight with success, and every command
 * those answers lead to, advancing the clock for health gates and pauses
 * until nothing is due. */
static int s_answer_round(run_t *r) {
        const upgrade_action_t *a;
        size_t n;
        int e = 0;

        upgrade_machine_set_hold(r->m, HOLD);
        while (e == 0) {
                if (r->n_queue > 0) {
                        /* Last in, first out: while held no node starts,
                         * and an answer moves only its own node on, so the
                         * order of the answers changes nothing. */
                        size_t q = --r->n_queue;
                        e = upgrade_machine_on_result(r->m, r->now, r->queue[q], r->queue_id[q],
                                                      UPGRADE_RESULT_SUCCEEDED, true, true, NULL, &a, &n);
                } else {
                        int64_t due = upgrade_machine_next_due(r->m);
                        if (due == INT64_MAX)
                                break;
                        if (due > r->now)
                                r->now = due;
                        e = upgrade_machine_tick(r->m, r->now, &a, &n);
                }
                if (e == 0)
                        s_take(r, a, n, false);
        }
        upgrade_machine_set_hold(r->m, NULL);
        return e;
}

/* Rounds until none starts a node. */
static int s_run(run_t *r, const upgrade_node_report_t *reports, size_t n_reports) {
        const upgrade_action_t *a;
        size_t n;
        int e = upgrade_machine_on_nodes(r->m, 0, reports, n_reports, &a, &n);

        while (e == 0) {
                size_t before = r->out->n_batches;
                /* Canaries finished: promote, to show what follows. */
                if (s_has(a, n, UPGRADE_ACT_PROMOTE_WAIT) &&
                    (e = upgrade_machine_admin(r->m, r->now, UPGRADE_ADMIN_PROMOTE, 0, &a, &n)) < 0)
                        break;
                s_take(r, a, n, true);
                if (r->out->n_batches == before)
                        break;
                if ((e = s_answer_round(r)) < 0)
                        break;
                e = upgrade_machine_tick(r->m, r->now, &a, &n);
        }
        return e;
}

/* The phase the machine stopped in; n_phases when it completed. */
static size_t s_stopped_phase(const upgrade_machine_t *m) {
        upgrade_conditions_t c;
        upgrade_machine_conditions(m, &c);
        return (size_t) c.phase;
}

int plan_batches_run(const upgrade_config_t *cfg, const upgrade_node_report_t *reports, size_t n_reports,
                     plan_batches_t *ret) {
        size_t nn = cfg->n_nodes, np = cfg->n_phases, total = 0;
        upgrade_phase_config_t *phases = calloc(np ? np : 1, sizeof *phases);
        int *nodes;
        run_t r = { 0 };
        int e = 0;

        memset(ret, 0, sizeof *ret);
        for (size_t p = 0; p < np; p++)
                total += cfg->phases[p].n_nodes;
        nodes = calloc(total ? total : 1, sizeof *nodes);
        ret->order = calloc(total ? total : 1, sizeof *ret->order);
        ret->batches = calloc(total ? total : 1, sizeof *ret->batches);
        ret->left_out = calloc(nn ? nn : 1, sizeof *ret->left_out);
        r.started = calloc(nn ? nn : 1, sizeof *r.started);
        r.phase_started = calloc(np ? np : 1, sizeof *r.phase_started);
        /* A node has one command at a time: nn entries are enough. */
        r.queue = calloc(nn ? nn : 1, sizeof *r.queue);
        r.queue_id = calloc(nn ? nn : 1, sizeof *r.queue_id);
        if (!phases || !nodes || !ret->order || !ret->batches || !ret->left_out || !r.started ||
            !r.phase_started || !r.queue || !r.queue_id)
                e = -ENOMEM;

        /* Each run leaves out the pending nodes of the phase the last one
         * stopped in: at most one run per phase, and one more. */
        for (size_t run = 0; e == 0 && run <= np; run++) {
                upgrade_config_t c = *cfg;
                int *next = nodes;
                for (size_t p = 0; p < np; p++) {
                        phases[p] = cfg->phases[p];
                        /* Nothing fails here; see plan_batches.h. */
                        phases[p].max_failures = (int) cfg->phases[p].n_nodes;
                        phases[p].nodes = next;
                        phases[p].n_nodes = 0;
                        for (size_t k = 0; k < cfg->phases[p].n_nodes; k++)
                                if (!ret->left_out[cfg->phases[p].nodes[k]])
                                        next[phases[p].n_nodes++] = cfg->phases[p].nodes[k];
                        next += phases[p].n_nodes;
                }
                c.phases = phases;
                r = (run_t) { .cfg = &c, .out = ret, .started = r.started, .phase_started = r.phase_started,
                              .queue = r.queue, .queue_id = r.queue_id };
                memset(r.started, 0, nn * sizeof *r.started);
                memset(r.phase_started, 0, np * sizeof *r.phase_started);
                ret->n_batches = 0;
                if ((e = upgrade_machine_new(&c, &r.m)) < 0)
                        break;
                e = s_run(&r, reports, n_reports);
                size_t stop = s_stopped_phase(r.m);
                bool more = false;
                for (size_t k = 0; e == 0 && stop < np && k < phases[stop].n_nodes; k++) {
                        int i = phases[stop].nodes[k];
                        upgrade_node_status_t st;
                        if (upgrade_machine_node(r.m, i, &st) == 0 && st.step == UPGRADE_STEP_PENDING)
                                more = ret->left_out[i] = true;
                }
                upgrade_machine_destroy(&r.m);
                /* Stopped in the last phase: nothing later to show, and a
                 * run costs as much as the planner's rounds (a 1000-node
                 * phase of batch 1: about 2 s). */
                if (!more || stop + 1 >= np)
                        break;
        }
        free(phases);
        free(nodes);
        free(r.started);
        free(r.phase_started);
        free(r.queue);
        free(r.queue_id);
        if (e < 0)
                plan_batches_free(ret);
        return e;
}

void plan_batches_free(plan_batches_t *b) {
        free(b->order);
        free(b->batches);
        free(b->left_out);
        memset(b, 0, sizeof *b);
}
