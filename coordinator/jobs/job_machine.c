#include "coordinator/jobs/job_machine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_LEN 200

struct job_machine {
        job_config_t cfg;
        job_state_t state;
        int forgiven;
        char message[MSG_LEN];
        job_node_state_t *nodes;
        bool *sent;
        int64_t *healthy_since;    /* verifying: healthy without a break since; -1 not */
        int64_t *gate_deadline;    /* verifying: failed if not passed by then; -1 not set yet */
        char (*why)[MSG_LEN];
        node_status_t *view;       /* n_universe: scratch for a decision */
};

const char *job_node_state_name(job_node_state_t s) {
        static const char *const names[] = { "pending", "running", "succeeded", "failed", "skipped", "verifying" };
        return s < JOB_NODE__COUNT ? names[s] : "?";
}

const char *job_state_name(job_state_t s) {
        static const char *const names[] = { "running", "paused", "aborted", "done" };
        return s < JOB__COUNT ? names[s] : "?";
}

int job_machine_new(const job_config_t *cfg, job_machine_t **ret) {
        if (!cfg || !ret || cfg->n_nodes < 1 || cfg->n_universe < cfg->n_nodes || cfg->batch_size < 1 ||
            cfg->max_failures < 0 || cfg->min_healthy_time_ms < 0 || cfg->healthy_deadline_ms < 0)
                return -EINVAL;
        job_machine_t *m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        m->cfg = *cfg;
        m->nodes = calloc(cfg->n_nodes, sizeof *m->nodes);
        m->why = calloc(cfg->n_nodes, sizeof *m->why);
        m->sent = calloc(cfg->n_nodes, sizeof *m->sent);
        m->view = calloc(cfg->n_universe, sizeof *m->view);
        m->healthy_since = calloc(cfg->n_nodes, sizeof *m->healthy_since);
        m->gate_deadline = calloc(cfg->n_nodes, sizeof *m->gate_deadline);
        if (!m->nodes || !m->why || !m->view || !m->sent || !m->healthy_since || !m->gate_deadline) {
                job_machine_free(&m);
                return -ENOMEM;
        }
        *ret = m;
        return 0;
}

void job_machine_free(job_machine_t **mp) {
        job_machine_t *m = *mp;
        if (!m)
                return;
        free(m->nodes);
        free(m->why);
        free(m->sent);
        free(m->view);
        free(m->healthy_since);
        free(m->gate_deadline);
        free(m);
        *mp = NULL;
}

static bool s_final(job_node_state_t s) {
        return s == JOB_NODE_SUCCEEDED || s == JOB_NODE_FAILED || s == JOB_NODE_SKIPPED;
}

static void s_fail(job_machine_t *m, size_t i, const char *why) {
        m->nodes[i] = JOB_NODE_FAILED;
        snprintf(m->why[i], MSG_LEN, "%s", why);
}

/* Fails unreachable pending nodes and pauses on the failure budget. */
static void s_judge_failures(job_machine_t *m) {
        for (size_t i = 0; i < m->cfg.n_nodes; i++)
                if (m->nodes[i] == JOB_NODE_PENDING &&
                    (m->view[i] == NODE_STATUS_UNREACHABLE || m->view[i] == NODE_STATUS_UNREGISTERED))
                        s_fail(m, i, m->view[i] == NODE_STATUS_UNREACHABLE ? "unreachable" : "never registered");
        int failed = (int) job_machine_count(m, JOB_NODE_FAILED) - m->forgiven;
        if (failed > m->cfg.max_failures) {
                m->state = JOB_PAUSED;
                snprintf(m->message, sizeof m->message, "failure budget: %d failed, max_failures %d", failed,
                         m->cfg.max_failures);
        }
}

/* Verifying nodes: passed after min_healthy_time healthy without a
 * break, failed at the deadline. f is the view as given (before the
 * machine's own IN_STEP). */
static void s_judge_gates(job_machine_t *m, const node_status_t *f, int64_t now) {
        for (size_t i = 0; i < m->cfg.n_nodes; i++) {
                if (m->nodes[i] != JOB_NODE_VERIFYING)
                        continue;
                if (m->gate_deadline[i] < 0)
                        m->gate_deadline[i] = now + m->cfg.healthy_deadline_ms;
                bool healthy = f[i] == NODE_STATUS_UP || f[i] == NODE_STATUS_DONE;
                if (!healthy)
                        m->healthy_since[i] = -1;
                else if (m->healthy_since[i] < 0)
                        m->healthy_since[i] = now;
                if (healthy && now - m->healthy_since[i] >= m->cfg.min_healthy_time_ms) {
                        m->nodes[i] = JOB_NODE_SUCCEEDED;
                        snprintf(m->why[i], MSG_LEN, "healthy for %lld s", (long long) (now - m->healthy_since[i]) / 1000);
                } else if (now >= m->gate_deadline[i]) {
                        s_fail(m, i, "health gate: not healthy for min_healthy_time within healthy_deadline");
                } else {
                        snprintf(m->why[i], MSG_LEN, "health gate: %s", healthy ? "healthy, waiting for min_healthy_time" :
                                                                                  "waiting to be healthy");
                }
        }
}

static void s_settle(job_machine_t *m) {
        for (size_t i = 0; i < m->cfg.n_nodes; i++)
                if (!s_final(m->nodes[i]))
                        return;
        if (m->state != JOB_ABORTED)
                m->state = JOB_DONE;
}

int job_machine_step(job_machine_t *m, const quorum_fleet_t *f, int64_t now_ms, int *ret_start) {
        if (!m || !f || !ret_start || f->n_nodes != m->cfg.n_universe || !f->status)
                return -EINVAL;
        s_judge_gates(m, f->status, now_ms);
        memcpy(m->view, f->status, m->cfg.n_universe * sizeof *m->view);
        size_t running = 0;
        for (size_t i = 0; i < m->cfg.n_nodes; i++)
                if (m->nodes[i] == JOB_NODE_RUNNING || m->nodes[i] == JOB_NODE_VERIFYING) {
                        running++;
                        if (m->cfg.disruptive)
                                m->view[i] = NODE_STATUS_IN_STEP;
                } else if (m->nodes[i] == JOB_NODE_SUCCEEDED && m->cfg.leaves_down &&
                           !node_status_is_down(m->view[i])) {
                        m->view[i] = NODE_STATUS_DRAINED;
                }
        quorum_fleet_t v = *f;
        v.status = m->view;
        if (m->state == JOB_RUNNING)
                s_judge_failures(m);
        size_t chosen = 0;
        for (size_t i = 0; i < m->cfg.n_nodes; i++) {
                if (m->nodes[i] != JOB_NODE_PENDING)
                        continue;
                char *why = m->why[i];
                if (m->state != JOB_RUNNING) {
                        snprintf(why, MSG_LEN, "job %s%s%s", job_state_name(m->state), m->message[0] ? ": " : "",
                                 m->message);
                        continue;
                }
                if (m->cfg.barrier && running > 0) {
                        snprintf(why, MSG_LEN, "batch mode: waiting for the %zu running to end", running);
                        continue;
                }
                if (running + chosen >= (size_t) m->cfg.batch_size) {
                        snprintf(why, MSG_LEN, "batch full: %zu running, batch %d", running + chosen,
                                 m->cfg.batch_size);
                        continue;
                }
                if (m->cfg.disruptive) {
                        if (m->view[i] == NODE_STATUS_IN_STEP || m->view[i] == NODE_STATUS_FAILED) {
                                snprintf(why, MSG_LEN, "in a step of the running upgrade");
                                continue;
                        }
                        if (!node_status_is_down(m->view[i]) &&
                            quorum_explain(&v, (int) i, ret_start, chosen, why, MSG_LEN) >= 0)
                                continue;
                        m->view[i] = NODE_STATUS_IN_STEP;
                }
                why[0] = '\0';
                m->nodes[i] = JOB_NODE_RUNNING;
                m->sent[i] = true;
                ret_start[chosen++] = (int) i;
        }
        s_settle(m);
        return (int) chosen;
}

static int s_running(job_machine_t *m, int node) {
        if (!m || node < 0 || (size_t) node >= m->cfg.n_nodes)
                return -EINVAL;
        return m->nodes[node] == JOB_NODE_RUNNING ? 0 : -EALREADY;
}

int job_machine_on_result(job_machine_t *m, int node, bool ok, const char *message) {
        int r = s_running(m, node);
        if (r < 0)
                return r;
        bool gate = ok && m->cfg.healthy_deadline_ms > 0;
        m->nodes[node] = gate ? JOB_NODE_VERIFYING : ok ? JOB_NODE_SUCCEEDED : JOB_NODE_FAILED;
        m->healthy_since[node] = m->gate_deadline[node] = -1;
        snprintf(m->why[node], MSG_LEN, "%s", message ? message : "");
        s_settle(m);
        return 0;
}

int job_machine_on_lost(job_machine_t *m, int node) {
        int r = s_running(m, node);
        if (r < 0)
                return r;
        s_fail(m, (size_t) node, "disconnected while running");
        s_settle(m);
        return 0;
}

int job_machine_pause(job_machine_t *m) {
        if (m->state != JOB_RUNNING)
                return -EALREADY;
        m->state = JOB_PAUSED;
        snprintf(m->message, sizeof m->message, "paused by an admin");
        return 0;
}

int job_machine_resume(job_machine_t *m) {
        if (m->state == JOB_ABORTED)
                return -EPERM;
        if (m->state != JOB_PAUSED)
                return -EALREADY;
        m->state = JOB_RUNNING;
        m->message[0] = '\0';
        m->forgiven = (int) job_machine_count(m, JOB_NODE_FAILED);
        return 0;
}

int job_machine_abort(job_machine_t *m) {
        if (m->state == JOB_ABORTED || m->state == JOB_DONE)
                return -EALREADY;
        m->state = JOB_ABORTED;
        snprintf(m->message, sizeof m->message, "aborted by an admin");
        for (size_t i = 0; i < m->cfg.n_nodes; i++)
                if (m->nodes[i] == JOB_NODE_PENDING) {
                        m->nodes[i] = JOB_NODE_SKIPPED;
                        snprintf(m->why[i], MSG_LEN, "job aborted");
                }
        return 0;
}

job_state_t job_machine_state(const job_machine_t *m) {
        return m->state;
}

const char *job_machine_message(const job_machine_t *m) {
        return m->message;
}

job_node_state_t job_machine_node_state(const job_machine_t *m, int node) {
        return node >= 0 && (size_t) node < m->cfg.n_nodes ? m->nodes[node] : JOB_NODE__COUNT;
}

const char *job_machine_node_message(const job_machine_t *m, int node) {
        return node >= 0 && (size_t) node < m->cfg.n_nodes ? m->why[node] : "";
}

bool job_machine_node_sent(const job_machine_t *m, int node) {
        return node >= 0 && (size_t) node < m->cfg.n_nodes && m->sent[node];
}

int job_machine_forgiven(const job_machine_t *m) {
        return m->forgiven;
}

size_t job_machine_count(const job_machine_t *m, job_node_state_t s) {
        size_t n = 0;
        for (size_t i = 0; i < m->cfg.n_nodes; i++)
                n += m->nodes[i] == s;
        return n;
}

int job_machine_restore(job_machine_t *m, job_state_t state, int forgiven, const char *message,
                        const job_node_state_t *states, const char *const *messages, const bool *sent) {
        if (!m || !states || state >= JOB__COUNT || forgiven < 0 || (size_t) forgiven > m->cfg.n_nodes)
                return -EINVAL;
        for (size_t i = 0; i < m->cfg.n_nodes; i++)
                if (states[i] >= JOB_NODE__COUNT)
                        return -EINVAL;
        m->state = state;
        m->forgiven = forgiven;
        snprintf(m->message, sizeof m->message, "%s", message ? message : "");
        for (size_t i = 0; i < m->cfg.n_nodes; i++) {
                m->nodes[i] = states[i];
                m->sent[i] = sent ? sent[i] : states[i] == JOB_NODE_RUNNING || states[i] == JOB_NODE_SUCCEEDED ||
                                              states[i] == JOB_NODE_VERIFYING;
                m->healthy_since[i] = m->gate_deadline[i] = -1;
                snprintf(m->why[i], MSG_LEN, "%s", messages && messages[i] ? messages[i] : "");
        }
        return 0;
}

int job_machine_dry_run(job_machine_t *m, const quorum_fleet_t *f, bool drain_stays_down, int *ret_batch) {
        if (!m || !f || !ret_batch || f->n_nodes != m->cfg.n_universe)
                return -EINVAL;
        node_status_t *st = malloc(m->cfg.n_universe * sizeof *st);
        int *start = malloc(m->cfg.n_nodes * sizeof *start);
        int batches = 0;
        if (!st || !start) {
                free(st);
                free(start);
                return -ENOMEM;
        }
        memcpy(st, f->status, m->cfg.n_universe * sizeof *st);
        quorum_fleet_t v = *f;
        v.status = st;
        memset(ret_batch, 0, m->cfg.n_nodes * sizeof *ret_batch);
        for (;;) {
                int n = job_machine_step(m, &v, 0, start);
                if (n <= 0)
                        break;
                batches++;
                for (int k = 0; k < n; k++) {
                        ret_batch[start[k]] = batches;
                        if (drain_stays_down)
                                st[start[k]] = NODE_STATUS_DRAINED;
                        if (job_machine_on_result(m, start[k], true, "") < 0)
                                break;
                        m->nodes[start[k]] = JOB_NODE_SUCCEEDED;   /* its gate passed, in this dry run */
                }
        }
        free(st);
        free(start);
        return batches;
}
