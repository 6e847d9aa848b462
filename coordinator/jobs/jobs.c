#include "coordinator/jobs/jobs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/log.h"
#include "coordinator/jobs/job_machine.h"
#include "coordinator/jobs/job_select.h"

/* A job's commands must reach their agent within this (their deadline). */
#define JOB_COMMAND_DEADLINE_S 3600
/* After a restart, agents need time to say Hello again before a node that
 * has not is judged unreachable (as the upgrade executor does). */
#define RECONNECT_GRACE_MS(timeout) (2 * (timeout) + 5000)

/* What the admin asked of a job beside its nodes and action. */
typedef struct {
        int batch_size, max_failures;
        bool barrier;
        int64_t min_healthy_time_ms, healthy_deadline_ms;   /* the health gate; 0 deadline: none */
} job_limits_t;

typedef struct {
        int64_t seq;
        char id[32];
        char actor[64];
        int64_t created;
        Hitless__Command *tmpl;     /* owned: the action, node and id empty */
        char **names;               /* n_universe: the job's nodes, then other quorum members */
        size_t n_nodes, n_universe;
        quorum_group_t *groups;
        char **group_names;
        int **members;
        size_t n_groups;
        node_status_t *status;      /* n_universe: scratch */
        /* Per job node: the monotonic ms its command succeeded at; until
         * its agent is heard from after that, its health is the one from
         * before the command, so it counts as down (IN_STEP). 0: settled
         * (also after a restart). */
        int64_t *settle_ms;
        int *start;                 /* n_nodes: scratch */
        job_limits_t lim;
        job_machine_t *m;
        job_state_t saved_state;    /* as last stored: events on change */
        /* Results applied since the last save: stored, with what they let
         * start, at the next jobs_flush (once per batch of messages, not
         * once per result: a result is in the commands table already). */
        bool results_pending;
} job_t;

struct jobs {
        jobs_deps_t d;
        job_t **v;
        size_t n;
        int64_t last_seq;
        int64_t grace_until_ms;
};

static bool s_disruptive(const Hitless__Command *c) {
        return c->action_case != HITLESS__COMMAND__ACTION_CHECK && c->action_case != HITLESS__COMMAND__ACTION_UNDRAIN;
}

static void s_job_free(job_t *j) {
        if (!j)
                return;
        if (j->tmpl)
                hitless__command__free_unpacked(j->tmpl, NULL);
        for (size_t i = 0; j->names && i < j->n_universe; i++)
                free(j->names[i]);
        free(j->names);
        for (size_t g = 0; g < j->n_groups; g++) {
                free(j->group_names[g]);
                free(j->members[g]);
        }
        free(j->group_names);
        free(j->members);
        free(j->groups);
        free(j->status);
        free(j->start);
        free(j->settle_ms);
        job_machine_free(&j->m);
        free(j);
}

static int s_index(const job_t *j, const char *name, size_t upto) {
        for (size_t i = 0; i < upto; i++)
                if (strcmp(j->names[i], name) == 0)
                        return (int) i;
        return -1;
}

/* The job's nodes (ids, owned by j from now on), then every other quorum
 * member of inv, and the groups over those indices. */
static int s_universe(job_t *j, char **ids, size_t n, const inventory_t *inv) {
        size_t cap = n;
        for (size_t g = 0; g < inv->n_quorum_groups; g++)
                cap += inv->quorum_groups[g].n_members;
        j->names = calloc(cap + 1, sizeof *j->names);
        j->groups = calloc(inv->n_quorum_groups + 1, sizeof *j->groups);
        j->group_names = calloc(inv->n_quorum_groups + 1, sizeof *j->group_names);
        j->members = calloc(inv->n_quorum_groups + 1, sizeof *j->members);
        if (!j->names || !j->groups || !j->group_names || !j->members) {
                job_select_free(ids, n);
                return -ENOMEM;
        }
        memcpy(j->names, ids, n * sizeof *ids);
        free(ids);
        j->n_nodes = j->n_universe = n;
        for (size_t g = 0; g < inv->n_quorum_groups; g++) {
                const inventory_quorum_group_t *q = &inv->quorum_groups[g];
                int *mem = calloc(q->n_members + 1, sizeof *mem);
                char *name = strdup(q->name);
                if (!mem || !name) {
                        free(mem);
                        free(name);
                        return -ENOMEM;
                }
                j->members[g] = mem;
                j->group_names[g] = name;
                j->n_groups++;
                for (size_t k = 0; k < q->n_members; k++) {
                        int x = s_index(j, q->members[k], j->n_universe);
                        if (x < 0) {
                                if (!(j->names[j->n_universe] = strdup(q->members[k])))
                                        return -ENOMEM;
                                x = (int) j->n_universe++;
                        }
                        mem[k] = x;
                }
                j->groups[g] = (quorum_group_t) { .name = name, .members = mem, .n_members = q->n_members,
                                                  .max_down = q->max_down };
        }
        j->status = calloc(j->n_universe, sizeof *j->status);
        j->start = calloc(j->n_nodes, sizeof *j->start);
        j->settle_ms = calloc(j->n_nodes, sizeof *j->settle_ms);
        return j->status && j->start && j->settle_ms ? 0 : -ENOMEM;
}

/* A job struct for seq over ids (owned from now on), with a new machine. */
static int s_job_make(jobs_t *js, int64_t seq, const char *actor, int64_t created, const Hitless__Command *tmpl,
                      char **ids, size_t n, const job_limits_t *lim, job_t **ret) {
        job_t *j = calloc(1, sizeof *j);
        uint8_t *buf = NULL;
        size_t len;
        int r;
        if (!j) {
                job_select_free(ids, n);
                return -ENOMEM;
        }
        j->seq = seq;
        snprintf(j->id, sizeof j->id, "job-%" PRId64, seq);
        snprintf(j->actor, sizeof j->actor, "%s", actor);
        j->created = created;
        j->lim = *lim;
        /* A copy of the template, owned, whatever request it came from. */
        if ((r = codec_encode(&tmpl->base, &buf, &len)) < 0 ||
            !(j->tmpl = hitless__command__unpack(NULL, len, buf)))
                r = r < 0 ? r : -ENOMEM;
        free(buf);
        if (r >= 0)
                r = s_universe(j, ids, n, &(*js->d.config)->inventory);
        else
                job_select_free(ids, n);
        if (r >= 0)
                r = job_machine_new(&(job_config_t) { .n_nodes = j->n_nodes, .n_universe = j->n_universe,
                                                      .batch_size = lim->batch_size,
                                                      .max_failures = lim->max_failures,
                                                      .disruptive = s_disruptive(j->tmpl),
                                                      .leaves_down = j->tmpl->action_case ==
                                                                     HITLESS__COMMAND__ACTION_DRAIN,
                                                      .barrier = lim->barrier,
                                                      .min_healthy_time_ms = lim->min_healthy_time_ms,
                                                      .healthy_deadline_ms = lim->healthy_deadline_ms },
                                    &j->m);
        if (r < 0) {
                s_job_free(j);
                return r;
        }
        *ret = j;
        return 0;
}

/* ---- the fleet as a job sees it ------------------------------------------- */

static node_status_t s_node_status(const jobs_t *js, const char *id) {
        const node_t *n = fleet_find(js->d.fleet, id);
        if (!n || (!n->registered && n->info->last_seen == 0))
                return NODE_STATUS_UNREGISTERED;
        if (!n->online)
                return NODE_STATUS_UNREACHABLE;
        if (upgrade_holds_node(js->d.upgrade, id))
                return NODE_STATUS_IN_STEP;
        const Hitless__HealthReport *h = n->info->health;
        if (h && h->drained)
                return NODE_STATUS_DRAINED;
        if (!h || !health_state_up(h->state))
                return NODE_STATUS_UNHEALTHY;
        return NODE_STATUS_UP;
}

static quorum_fleet_t s_view(const jobs_t *js, job_t *j) {
        for (size_t i = 0; i < j->n_universe; i++) {
                j->status[i] = s_node_status(js, j->names[i]);
                if (i >= j->n_nodes || !j->settle_ms[i])
                        continue;
                const node_t *n = fleet_find(js->d.fleet, j->names[i]);
                if (n && n->online && n->last_seen_ms <= j->settle_ms[i] && !node_status_is_down(j->status[i]))
                        j->status[i] = NODE_STATUS_IN_STEP;   /* its health after the command is not known yet */
                else
                        j->settle_ms[i] = 0;
        }
        return (quorum_fleet_t) { .groups = j->groups, .n_groups = j->n_groups, .status = j->status,
                                  .n_nodes = j->n_universe, .names = (const char *const *) j->names };
}

/* ---- the store ------------------------------------------------------------ */

static int s_save(jobs_t *js, job_t *j) {
        Hitless__JobRecord rec = HITLESS__JOB_RECORD__INIT;
        Hitless__JobRecordNode *nodes = calloc(j->n_nodes, sizeof *nodes);
        Hitless__JobRecordNode **np = calloc(j->n_nodes, sizeof *np);
        uint8_t *buf = NULL;
        size_t len;
        int r = -ENOMEM;
        if (!nodes || !np)
                goto out;
        for (size_t i = 0; i < j->n_nodes; i++) {
                hitless__job_record_node__init(&nodes[i]);
                nodes[i].node_id = j->names[i];
                nodes[i].state = job_machine_node_state(j->m, (int) i);
                nodes[i].message = (char *) job_machine_node_message(j->m, (int) i);
                nodes[i].sent = job_machine_node_sent(j->m, (int) i);
                np[i] = &nodes[i];
        }
        rec.command = j->tmpl;
        rec.batch_size = (uint32_t) j->lim.batch_size;
        rec.max_failures = (uint32_t) j->lim.max_failures;
        rec.barrier = j->lim.barrier;
        rec.min_healthy_time_ms = j->lim.min_healthy_time_ms;
        rec.healthy_deadline_ms = j->lim.healthy_deadline_ms;
        rec.state = job_machine_state(j->m);
        rec.forgiven = (uint32_t) job_machine_forgiven(j->m);
        rec.message = (char *) job_machine_message(j->m);
        rec.n_nodes = j->n_nodes;
        rec.nodes = np;
        if ((r = codec_encode(&rec.base, &buf, &len)) < 0)
                goto out;
        r = store_job_put(js->d.store, &(job_row_t) { .seq = j->seq, .id = j->id, .actor = j->actor,
                                                      .created = j->created, .record = buf, .record_len = len });
out:
        free(buf);
        free(nodes);
        free(np);
        return r;
}

static int s_event(jobs_t *js, const job_t *j, const char *kind, const char *actor, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static int s_event(jobs_t *js, const job_t *j, const char *kind, const char *actor, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        int k = snprintf(msg, sizeof msg, "%s ", j->id);
        vsnprintf(msg + k, sizeof msg - (size_t) k, fmt, ap);
        va_end(ap);
        return store_event_append(js->d.store, clock_wall_s(), "", kind, actor, msg, NULL);
}

/* The command of j for its node i: id "job-SEQ-I". id holds 64. */
static void s_command(const job_t *j, size_t i, char *id, Hitless__Command *ret) {
        *ret = *j->tmpl;
        snprintf(id, 64, "%s-%zu", j->id, i);
        ret->command_id = id;
        ret->node_id = j->names[i];
        ret->upgrade_id = (char *) "";
        ret->deadline = clock_wall_s() + JOB_COMMAND_DEADLINE_S;
}

/* The job's new state event, when it changed: "job.paused" etc. */
static int s_state_event(jobs_t *js, job_t *j) {
        job_state_t st = job_machine_state(j->m);
        if (st == j->saved_state)
                return 0;
        char kind[32];
        snprintf(kind, sizeof kind, "job.%s", job_state_name(st));
        return s_event(js, j, kind, j->actor, "%s: %zu succeeded, %zu failed, %zu skipped%s%s", job_state_name(st),
                       job_machine_count(j->m, JOB_NODE_SUCCEEDED), job_machine_count(j->m, JOB_NODE_FAILED),
                       job_machine_count(j->m, JOB_NODE_SKIPPED), job_machine_message(j->m)[0] ? "; " : "",
                       job_machine_message(j->m));
}

/* Snapshot for undoing a decision whose commit failed. */
typedef struct {
        job_state_t state;
        int forgiven;
        char message[200];
        job_node_state_t *states;
        char **messages;
        bool *sent;
} snap_t;

static void s_snap_free(snap_t *s, size_t n) {
        for (size_t i = 0; s->messages && i < n; i++)
                free(s->messages[i]);
        free(s->messages);
        free(s->states);
        free(s->sent);
}

static int s_snap(const job_t *j, snap_t *s) {
        s->state = job_machine_state(j->m);
        s->forgiven = job_machine_forgiven(j->m);
        snprintf(s->message, sizeof s->message, "%s", job_machine_message(j->m));
        s->states = calloc(j->n_nodes, sizeof *s->states);
        s->messages = calloc(j->n_nodes, sizeof *s->messages);
        s->sent = calloc(j->n_nodes, sizeof *s->sent);
        if (!s->states || !s->messages || !s->sent)
                return -ENOMEM;
        for (size_t i = 0; i < j->n_nodes; i++) {
                s->states[i] = job_machine_node_state(j->m, (int) i);
                s->sent[i] = job_machine_node_sent(j->m, (int) i);
                if (!(s->messages[i] = strdup(job_machine_node_message(j->m, (int) i))))
                        return -ENOMEM;
        }
        return 0;
}

/* Commits the machine's state (it changed since snap, or dirty) with the
 * commands of start[], then sends them. A failed commit undoes the
 * decision (restores snap): nothing is sent, the next tick tries again. */
static int s_commit_and_send(jobs_t *js, job_t *j, snap_t *snap, int n_start) {
        char ids[64];
        Hitless__Command cmd;
        int r = store_begin(js->d.store);
        for (int k = 0; r >= 0 && k < n_start; k++) {
                s_command(j, (size_t) j->start[k], ids, &cmd);
                r = commands_record(js->d.commands, &cmd, j->actor);
        }
        if (r >= 0)
                r = s_save(js, j);
        if (r >= 0)
                r = s_state_event(js, j);
        if (r >= 0)
                r = store_commit(js->d.store);
        if (r < 0) {
                if (store_rollback(js->d.store) < 0)
                        log_warning("%s: store rollback failed: %s", j->id, store_last_error(js->d.store));
                log_warning("%s: cannot record its progress (%s): nothing sent, tried again", j->id,
                            store_last_error(js->d.store));
                if (job_machine_restore(j->m, snap->state, snap->forgiven, snap->message, snap->states,
                                        (const char *const *) snap->messages, snap->sent) < 0)
                        log_error("%s: cannot restore its state", j->id);
                return r;
        }
        j->saved_state = job_machine_state(j->m);
        for (int k = 0; k < n_start; k++) {
                s_command(j, (size_t) j->start[k], ids, &cmd);
                if (commands_deliver(js->d.commands, &cmd) < 0)
                        log_node(LOG_WARNING, cmd.node_id, "%s: %s not delivered (offline)", j->id, ids);
                else
                        log_node(LOG_INFO, cmd.node_id, "%s: %s %s sent", j->id, command_action_name(&cmd), ids);
        }
        return 0;
}

static bool s_active(const job_t *j) {
        job_state_t st = job_machine_state(j->m);
        return st == JOB_RUNNING || st == JOB_PAUSED || job_machine_count(j->m, JOB_NODE_RUNNING) > 0 ||
               job_machine_count(j->m, JOB_NODE_VERIFYING) > 0;
}

/* Decides and acts for j. changed: its state changed outside a decision
 * (a result, an admin's request), so it is stored even if nothing starts. */
static int s_advance(jobs_t *js, job_t *j, bool changed, snap_t *snap) {
        if (clock_wall_ms() < js->grace_until_ms)
                return changed ? s_commit_and_send(js, j, snap, 0) : 0;
        quorum_fleet_t f = s_view(js, j);
        size_t fails = job_machine_count(j->m, JOB_NODE_FAILED);
        size_t passed = job_machine_count(j->m, JOB_NODE_SUCCEEDED);
        int n = job_machine_step(j->m, &f, clock_wall_ms(), j->start);
        if (n < 0)
                return n;
        if (!changed && n == 0 && fails == job_machine_count(j->m, JOB_NODE_FAILED) &&
            passed == job_machine_count(j->m, JOB_NODE_SUCCEEDED) &&
            job_machine_state(j->m) == j->saved_state)
                return 0;
        return s_commit_and_send(js, j, snap, n);
}

static void s_advance_job(jobs_t *js, job_t *j, bool changed, snap_t *taken) {
        snap_t snap = { 0 };
        if (!taken && s_snap(j, &snap) < 0) {
                s_snap_free(&snap, j->n_nodes);
                return;
        }
        if (s_advance(js, j, changed, taken ? taken : &snap) < 0)
                log_warning("%s: no progress this time", j->id);
        s_snap_free(&snap, j->n_nodes);
}

/* ---- results ----------------------------------------------------------------- */

static job_t *s_find_seq(const jobs_t *js, int64_t seq) {
        for (size_t i = 0; i < js->n; i++)
                if (js->v[i]->seq == seq)
                        return js->v[i];
        return NULL;
}

/* "job-SEQ-I" of this coordinator's jobs: the job and node index. */
static job_t *s_parse_id(const jobs_t *js, const char *id, size_t *ret_i) {
        int64_t seq;
        size_t i;
        int used = 0;
        if (sscanf(id, "job-%" SCNd64 "-%zu%n", &seq, &i, &used) != 2 || id[used])
                return NULL;
        job_t *j = s_find_seq(js, seq);
        if (!j || i >= j->n_nodes)
                return NULL;
        *ret_i = i;
        return j;
}

static void s_on_command(void *ud, const char *node_id, const Hitless__CommandStatus *st) {
        jobs_t *js = ud;
        size_t i;
        job_t *j = s_parse_id(js, st->command_id, &i);
        if (!j || strcmp(j->names[i], node_id) != 0)
                return;
        if (st->state == HITLESS__COMMAND_STATE__COMMAND_STATE_UNSPECIFIED) {
                /* Never arrived: the same command, under the same id. */
                if (job_machine_node_state(j->m, (int) i) == JOB_NODE_RUNNING) {
                        char id[64];
                        Hitless__Command cmd;
                        s_command(j, i, id, &cmd);
                        if (commands_deliver(js->d.commands, &cmd) == 0)
                                log_node(LOG_INFO, node_id, "%s: %s sent again (it never arrived)", j->id, id);
                }
                return;
        }
        if (job_machine_on_result(j->m, (int) i, st->state == HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED,
                                  st->message[0] ? st->message : command_state_name(st->state)) < 0)
                return;   /* not running: late or repeated */
        j->settle_ms[i] = clock_mono_ms();
        j->results_pending = true;
}

void jobs_flush(jobs_t *js) {
        for (size_t k = 0; k < js->n; k++) {
                job_t *j = js->v[k];
                if (!j->results_pending)
                        continue;
                j->results_pending = false;
                s_advance_job(js, j, true, NULL);
        }
}

/* ---- loading ------------------------------------------------------------------ */

typedef struct {
        jobs_t *js;
        int err;
} load_ctx_t;

typedef struct {
        bool found;
        int state;
        char message[200];
} cmd_seen_t;

static int s_on_cmd_row(const command_record_t *rec, void *ud) {
        cmd_seen_t *c = ud;
        c->found = true;
        c->state = rec->state;
        if (rec->result && rec->result_len) {
                Hitless__CommandStatus *st = hitless__command_status__unpack(NULL, rec->result_len, rec->result);
                if (st) {
                        snprintf(c->message, sizeof c->message, "%s", st->message);
                        hitless__command_status__free_unpacked(st, NULL);
                }
        }
        return 0;
}

/* Results the commands module recorded that the job did not see before
 * the coordinator stopped. */
static void s_replay(jobs_t *js, job_t *j) {
        char id[64];
        for (size_t i = 0; i < j->n_nodes; i++) {
                cmd_seen_t c = { 0 };
                if (job_machine_node_state(j->m, (int) i) != JOB_NODE_RUNNING)
                        continue;
                snprintf(id, sizeof id, "%s-%zu", j->id, i);
                if (store_command_get(js->d.store, id, s_on_cmd_row, &c) < 0 || !c.found ||
                    c.state < HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED)
                        continue;
                if (job_machine_on_result(j->m, (int) i, c.state == HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED,
                                          c.message[0] ? c.message : command_state_name(c.state)) < 0)
                        continue;
        }
}

static int s_load_row(const job_row_t *row, void *ud) {
        load_ctx_t *c = ud;
        jobs_t *js = c->js;
        Hitless__JobRecord *rec = hitless__job_record__unpack(NULL, row->record_len, row->record);
        job_t *j = NULL;
        char **ids = NULL;
        job_node_state_t *states = NULL;
        const char **msgs = NULL;
        bool *sent = NULL;
        int r = -ENOMEM;
        if (row->seq > js->last_seq)
                js->last_seq = row->seq;
        if (!rec || !rec->command || rec->n_nodes == 0 || rec->batch_size < 1) {
                log_error("job %s: unreadable record in the store, ignored", row->id);
                r = 0;
                goto out;
        }
        ids = calloc(rec->n_nodes, sizeof *ids);
        states = calloc(rec->n_nodes, sizeof *states);
        msgs = calloc(rec->n_nodes, sizeof *msgs);
        sent = calloc(rec->n_nodes, sizeof *sent);
        if (!ids || !states || !msgs || !sent)
                goto out;
        for (size_t i = 0; i < rec->n_nodes; i++) {
                if (!(ids[i] = strdup(rec->nodes[i]->node_id)))
                        goto out;
                states[i] = rec->nodes[i]->state < JOB_NODE__COUNT ? (job_node_state_t) rec->nodes[i]->state
                                                                   : JOB_NODE__COUNT;
                msgs[i] = rec->nodes[i]->message;
                sent[i] = rec->nodes[i]->sent;
        }
        r = s_job_make(js, row->seq, row->actor, row->created, rec->command, ids, rec->n_nodes,
                       &(job_limits_t) { .batch_size = (int) rec->batch_size, .max_failures = (int) rec->max_failures,
                                         .barrier = rec->barrier, .min_healthy_time_ms = rec->min_healthy_time_ms,
                                         .healthy_deadline_ms = rec->healthy_deadline_ms },
                       &j);
        ids = NULL;
        if (r < 0)
                goto out;
        if (job_machine_restore(j->m, rec->state < JOB__COUNT ? (job_state_t) rec->state : JOB__COUNT,
                                (int) rec->forgiven, rec->message, states, msgs, sent) < 0) {
                log_error("job %s: bad state in the store, ignored", row->id);
                s_job_free(j);
                r = 0;
                goto out;
        }
        j->saved_state = job_machine_state(j->m);
        s_replay(js, j);
        job_t **v = realloc(js->v, (js->n + 1) * sizeof *v);
        if (!v) {
                s_job_free(j);
                r = -ENOMEM;
                goto out;
        }
        js->v = v;
        js->v[js->n++] = j;
        if (s_active(j))
                log_info("%s (%s, %zu nodes) resumed from the store", j->id, command_action_name(j->tmpl),
                         j->n_nodes);
        r = 0;
out:
        if (ids)
                job_select_free(ids, rec ? rec->n_nodes : 0);
        free(states);
        free(msgs);
        free(sent);
        if (rec)
                hitless__job_record__free_unpacked(rec, NULL);
        c->err = r;
        return r;
}

static bool s_busy_cb(void *ud, const char *node_id) {
        return jobs_node_busy(ud, node_id);
}

int jobs_new(const jobs_deps_t *deps, jobs_t **ret) {
        jobs_t *js = calloc(1, sizeof *js);
        if (!js)
                return -ENOMEM;
        js->d = *deps;
        js->grace_until_ms = clock_wall_ms() + RECONNECT_GRACE_MS((*deps->config)->node_timeout_ms);
        load_ctx_t c = { js, 0 };
        int r = store_jobs_foreach(js->d.store, s_load_row, &c);
        if (r >= 0)
                r = commands_set_observer(js->d.commands, s_on_command, js);
        if (r < 0) {
                jobs_destroy(&js);
                return r;
        }
        upgrade_set_job_busy(js->d.upgrade, s_busy_cb, js);
        *ret = js;
        return 0;
}

void jobs_destroy(jobs_t **jp) {
        jobs_t *js = *jp;
        if (!js)
                return;
        if (js->d.upgrade)
                upgrade_set_job_busy(js->d.upgrade, NULL, NULL);
        if (commands_set_observer(js->d.commands, NULL, js) < 0)
                log_error("jobs: cannot stop observing commands");
        for (size_t i = 0; i < js->n; i++)
                s_job_free(js->v[i]);
        free(js->v);
        free(js);
        *jp = NULL;
}

bool jobs_node_busy(const jobs_t *js, const char *node_id) {
        for (size_t k = 0; k < js->n; k++) {
                const job_t *j = js->v[k];
                if (job_machine_count(j->m, JOB_NODE_RUNNING) == 0)
                        continue;   /* finished jobs cost nothing */
                int i = s_index(j, node_id, j->n_nodes);
                if (i >= 0 && job_machine_node_state(j->m, i) == JOB_NODE_RUNNING)
                        return true;
        }
        return false;
}

void jobs_tick(jobs_t *js, int64_t now_ms) {
        if (now_ms < js->grace_until_ms)
                return;
        for (size_t k = 0; k < js->n; k++) {
                job_t *j = js->v[k];
                if (!s_active(j))
                        continue;
                snap_t snap = { 0 };
                bool lost = false;
                if (s_snap(j, &snap) < 0) {
                        s_snap_free(&snap, j->n_nodes);
                        continue;
                }
                for (size_t i = 0; i < j->n_nodes; i++) {
                        const node_t *n = fleet_find(js->d.fleet, j->names[i]);
                        if (job_machine_node_state(j->m, (int) i) == JOB_NODE_RUNNING && (!n || !n->online) &&
                            job_machine_on_lost(j->m, (int) i) == 0) {
                                log_node(LOG_WARNING, j->names[i], "%s: disconnected while running: failed", j->id);
                                lost = true;
                        }
                }
                bool changed = lost || j->results_pending;
                j->results_pending = false;
                s_advance_job(js, j, changed, &snap);
                s_snap_free(&snap, j->n_nodes);
        }
}

/* ---- answers ------------------------------------------------------------------ */

static char *s_dup(const char *s) {
        return strdup(s ? s : "");
}

/* j's status, per node when with_nodes; batch[] (or NULL) the dry run's. */
static Hitless__JobStatus *s_status(const job_t *j, bool with_nodes, const int *batch) {
        Hitless__JobStatus *s = calloc(1, sizeof *s);
        if (!s)
                return NULL;
        hitless__job_status__init(s);
        s->id = s_dup(j->id);
        s->action = s_dup(command_action_name(j->tmpl));
        s->actor = s_dup(j->actor);
        s->created = j->created;
        s->state = s_dup(job_state_name(job_machine_state(j->m)));
        s->message = s_dup(job_machine_message(j->m));
        s->batch_size = (uint32_t) j->lim.batch_size;
        s->max_failures = (uint32_t) j->lim.max_failures;
        s->mode = s_dup(j->lim.barrier ? "batch" : "rolling");
        s->verifying = (uint32_t) job_machine_count(j->m, JOB_NODE_VERIFYING);
        s->min_healthy_time_ms = j->lim.min_healthy_time_ms;
        s->healthy_deadline_ms = j->lim.healthy_deadline_ms;
        s->succeeded = (uint32_t) job_machine_count(j->m, JOB_NODE_SUCCEEDED);
        s->failed = (uint32_t) job_machine_count(j->m, JOB_NODE_FAILED);
        s->running = (uint32_t) job_machine_count(j->m, JOB_NODE_RUNNING);
        s->pending = (uint32_t) job_machine_count(j->m, JOB_NODE_PENDING);
        s->skipped = (uint32_t) job_machine_count(j->m, JOB_NODE_SKIPPED);
        s->dry_run = batch != NULL;
        if (!with_nodes)
                return s;
        if (!(s->nodes = calloc(j->n_nodes, sizeof *s->nodes)))
                goto fail;
        for (size_t i = 0; i < j->n_nodes; i++) {
                Hitless__JobNode *n = calloc(1, sizeof *n);
                char id[64];
                if (!n)
                        goto fail;
                hitless__job_node__init(n);
                s->nodes[s->n_nodes++] = n;
                job_node_state_t st = job_machine_node_state(j->m, (int) i);
                snprintf(id, sizeof id, "%s-%zu", j->id, i);
                n->node_id = s_dup(j->names[i]);
                n->state = s_dup(batch ? (batch[i] ? "pending" : "never") : job_node_state_name(st));
                n->command_id = s_dup(batch || !job_machine_node_sent(j->m, (int) i) ? "" : id);
                n->message = s_dup(batch && batch[i] ? "" : job_machine_node_message(j->m, (int) i));
                n->batch = batch ? (uint32_t) batch[i] : 0;
        }
        return s;
fail:
        hitless__job_status__free_unpacked(s, NULL);
        return NULL;
}

/* The dry run's quorum arithmetic: one line per group with a selected member. */
static int s_quorum_lines(const job_t *j, const quorum_fleet_t *f, Hitless__JobStatus *s) {
        if (!(s->quorum = calloc(j->n_groups + 1, sizeof *s->quorum)))
                return -ENOMEM;
        for (size_t g = 0; g < j->n_groups; g++) {
                const quorum_group_t *q = &j->groups[g];
                size_t selected = 0, down = 0;
                for (size_t k = 0; k < q->n_members; k++) {
                        selected += (size_t) q->members[k] < j->n_nodes;
                        down += node_status_is_down(f->status[q->members[k]]);
                }
                if (!selected)
                        continue;
                char line[256];
                snprintf(line, sizeof line, "group %s: %zu members, quorum %zu, max_down %d, %zu down now, %zu selected%s",
                         q->name, q->n_members, q->n_members / 2 + 1, quorum_group_budget(q), down, selected,
                         s_disruptive(j->tmpl) ? "" : " (this action takes nothing down)");
                if (!(s->quorum[s->n_quorum++] = strdup(line)))
                        return -ENOMEM;
        }
        return 0;
}

static job_t *s_find(const jobs_t *js, const char *id) {
        for (size_t i = 0; id && i < js->n; i++)
                if (strcmp(js->v[i]->id, id) == 0)
                        return js->v[i];
        return NULL;
}

int jobs_submit(jobs_t *js, const Hitless__JobRequest *req, const char *actor, Hitless__JobStatus **ret_status,
                char *err, size_t err_len) {
        char **ids = NULL;
        size_t n = 0;
        int batch, max_failures, r;
        job_t *j = NULL;

        if (!req->command || !command_action_name(req->command)) {
                snprintf(err, err_len, "no action given");
                return -EINVAL;
        }
        r = job_select(js->d.fleet, &(*js->d.config)->inventory, req->selector, &ids, &n, err, err_len);
        if (r < 0)
                return r;
        bool check = req->command->action_case == HITLESS__COMMAND__ACTION_CHECK;
        if (job_parse_count(req->batch, n, 1, check ? (int) n : 1, true, &batch) < 0) {
                snprintf(err, err_len, "--batch %.32s: give N >= 1 or N%% (1-100%%)", req->batch);
                job_select_free(ids, n);
                return -EINVAL;
        }
        if (job_parse_count(req->max_failures, n, 0, check ? (int) n : 0, false, &max_failures) < 0) {
                snprintf(err, err_len, "--max-failures %.32s: give N >= 0 or N%% (0-100%%)", req->max_failures);
                job_select_free(ids, n);
                return -EINVAL;
        }
        /* A node in two unfinished jobs would take two commands at once. */
        for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < js->n; k++)
                        if (s_active(js->v[k]) && s_index(js->v[k], ids[i], js->v[k]->n_nodes) >= 0) {
                                snprintf(err, err_len, "node %s is in %s (%s), not finished: wait, or abort it", ids[i],
                                         js->v[k]->id, job_state_name(job_machine_state(js->v[k]->m)));
                                job_select_free(ids, n);
                                return -EINVAL;
                        }
        bool barrier = strcmp(req->mode, "batch") == 0;
        if (!barrier && req->mode[0] && strcmp(req->mode, "rolling") != 0) {
                snprintf(err, err_len, "--mode %.32s: give rolling or batch", req->mode);
                job_select_free(ids, n);
                return -EINVAL;
        }
        if (req->min_healthy_time_ms < 0 || req->healthy_deadline_ms < 0 ||
            (req->healthy_deadline_ms > 0 && req->min_healthy_time_ms > req->healthy_deadline_ms)) {
                snprintf(err, err_len, "--health-gate: min_healthy_time must be within healthy_deadline (both >= 0)");
                job_select_free(ids, n);
                return -EINVAL;
        }
        r = s_job_make(js, req->dry_run ? 0 : js->last_seq + 1, actor, clock_wall_s(), req->command, ids, n,
                       &(job_limits_t) { .batch_size = batch, .max_failures = max_failures, .barrier = barrier,
                                         .min_healthy_time_ms = req->min_healthy_time_ms,
                                         .healthy_deadline_ms = req->healthy_deadline_ms },
                       &j);
        if (r < 0)
                return r;
        if (req->dry_run) {
                int *b = calloc(j->n_nodes, sizeof *b);
                quorum_fleet_t f = s_view(js, j);
                snprintf(j->id, sizeof j->id, "dry-run");
                r = b ? job_machine_dry_run(j->m, &f, req->command->action_case == HITLESS__COMMAND__ACTION_DRAIN, b)
                      : -ENOMEM;
                if (r >= 0) {
                        f = s_view(js, j);
                        *ret_status = s_status(j, true, b);
                        r = *ret_status ? s_quorum_lines(j, &f, *ret_status) : -ENOMEM;
                }
                free(b);
                s_job_free(j);
                return r;
        }
        job_t **v = realloc(js->v, (js->n + 1) * sizeof *v);
        if (!v) {
                s_job_free(j);
                return -ENOMEM;
        }
        js->v = v;
        /* Committed (with its first batch's commands) before anything is sent. */
        snap_t snap = { 0 };
        r = s_snap(j, &snap);
        if (r >= 0) {
                r = store_begin(js->d.store);
                if (r >= 0)
                        r = s_save(js, j);
                if (r >= 0)
                        r = s_event(js, j, "job.started", actor, "%s on %zu node%s, batch %d (%s), max_failures %d",
                                    command_action_name(j->tmpl), j->n_nodes, j->n_nodes == 1 ? "" : "s", batch,
                                    barrier ? "batch mode" : "rolling", max_failures);
                if (r >= 0)
                        r = store_commit(js->d.store);
                else if (store_rollback(js->d.store) < 0)
                        log_warning("jobs: store rollback failed");
        }
        s_snap_free(&snap, j->n_nodes);
        if (r < 0) {
                snprintf(err, err_len, "store: %s", store_last_error(js->d.store));
                s_job_free(j);
                return -EIO;
        }
        js->last_seq = j->seq;
        js->v[js->n++] = j;
        j->saved_state = JOB_RUNNING;
        log_info("%s: %s on %zu nodes by %s", j->id, command_action_name(j->tmpl), j->n_nodes, actor);
        /* A submit is an operator at work: the fleet is live, no grace. */
        js->grace_until_ms = 0;
        s_advance_job(js, j, false, NULL);
        *ret_status = s_status(j, true, NULL);
        return *ret_status ? 0 : -ENOMEM;
}

int jobs_control(jobs_t *js, Hitless__JobOp op, const char *id, const char *actor, Hitless__JobStatus **ret_status,
                 char *msg, size_t msg_len) {
        job_t *j = s_find(js, id);
        int r;
        if (!j) {
                snprintf(msg, msg_len, "no job %.64s (hitlessctl jobs)", id);
                return -ENOENT;
        }
        if (op != HITLESS__JOB_OP__JOB_STATUS) {
                snap_t snap = { 0 };
                const char *what = op == HITLESS__JOB_OP__JOB_PAUSE    ? "paused"
                                   : op == HITLESS__JOB_OP__JOB_RESUME ? "resumed"
                                   : op == HITLESS__JOB_OP__JOB_ABORT  ? "aborted"
                                                                       : NULL;
                if (!what) {
                        snprintf(msg, msg_len, "unknown job operation");
                        return -EINVAL;
                }
                if ((r = s_snap(j, &snap)) < 0) {
                        s_snap_free(&snap, j->n_nodes);
                        return r;
                }
                r = op == HITLESS__JOB_OP__JOB_PAUSE    ? job_machine_pause(j->m)
                    : op == HITLESS__JOB_OP__JOB_RESUME ? job_machine_resume(j->m)
                                                        : job_machine_abort(j->m);
                if (r < 0) {
                        snprintf(msg, msg_len, "%s is %s: %s", j->id, job_state_name(job_machine_state(j->m)),
                                 r == -EPERM ? "an aborted job cannot resume" : "nothing to do");
                        s_snap_free(&snap, j->n_nodes);
                        return r;
                }
                /* Its event names who did it, in the commit of the change. */
                r = store_begin(js->d.store);
                if (r >= 0)
                        r = s_event(js, j, "job.control", actor, "%s by %s", what, actor);
                if (r >= 0)
                        r = store_commit(js->d.store);
                else if (store_rollback(js->d.store) < 0)
                        log_warning("jobs: store rollback failed");
                if (r < 0) {
                        snprintf(msg, msg_len, "store: %s", store_last_error(js->d.store));
                        if (job_machine_restore(j->m, snap.state, snap.forgiven, snap.message, snap.states,
                                                (const char *const *) snap.messages, snap.sent) < 0)
                                log_error("%s: cannot restore its state", j->id);
                        s_snap_free(&snap, j->n_nodes);
                        return -EIO;
                }
                s_advance_job(js, j, true, &snap);
                s_snap_free(&snap, j->n_nodes);
                log_info("%s %s by %s", j->id, what, actor);
        }
        *ret_status = s_status(j, true, NULL);
        return *ret_status ? 0 : -ENOMEM;
}

int jobs_list(jobs_t *js, Hitless__JobList **ret) {
        Hitless__JobList *l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        hitless__job_list__init(l);
        if (js->n && !(l->jobs = calloc(js->n, sizeof *l->jobs))) {
                free(l);
                return -ENOMEM;
        }
        for (size_t i = 0; i < js->n; i++) {
                if (!(l->jobs[l->n_jobs] = s_status(js->v[i], false, NULL))) {
                        hitless__job_list__free_unpacked(l, NULL);
                        return -ENOMEM;
                }
                l->n_jobs++;
        }
        *ret = l;
        return 0;
}
