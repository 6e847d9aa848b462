/* The upgrade executor's decision core; see upgrade_machine.h. */
#include "coordinator/upgrade/upgrade_machine.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
        WAIT_NONE = 0,
        WAIT_PAUSED,
        WAIT_HELD,            /* the shell's hold (store low on space) */
        WAIT_ABORTED,
        WAIT_PROMOTE,
        WAIT_BARRIER,         /* batch mode: the batch in flight must finish */
        WAIT_PAUSE_BETWEEN,
        WAIT_CANARY,          /* canaries run alone */
        WAIT_PLANNER,         /* see verdict */
        WAIT_ROLLBACK_QUORUM,
        WAIT_ROLLBACK_UNREACHABLE,
        WAIT_ROLLBACK_ORDER,  /* a later phase rolls back first */
        WAIT_ROLLBACK_BATCH,  /* batch_size of its phase already rolling back */
        WAIT_PHASE_STEP,      /* the phase's before steps come first */
        WAIT_ROLLBACK_STEP,   /* a phase step runs on it */
} wait_t;

/* Why a phase's own step does not start (recomputed on every advance). */
typedef enum {
        STEP_WAIT_NONE = 0,
        STEP_WAIT_RUNNING,
        STEP_WAIT_FAILED,
        STEP_WAIT_BLANKET,    /* paused, held or aborted */
        STEP_WAIT_UNREACHABLE,
        STEP_WAIT_BUSY,       /* a command of the upgrade or of a job runs there */
        STEP_WAIT_QUORUM,
        STEP_WAIT_RETRY,      /* a gate, between tries */
} step_wait_t;

typedef struct {
        upgrade_step_t step;
        upgrade_cmd_t cmd;
        uint64_t cmd_id;
        int64_t healthy_since;
        int64_t deadline;
        bool reachable, healthy, registered;
        bool rollback_pending, halted, failure_counted;
        bool drained;         /* a drain was sent and no undrain or rollback succeeded since */
        bool agent_drained;   /* its agent reports the node drained (heartbeat) */
        bool job_busy;        /* a batch job's command runs on it (upgrade_node_report_t) */
        bool local_rollback;  /* rolled back on the node while cmd was in flight */
        int phase;
        int step_index;       /* PRE, POST: which of the phase's steps */
        char error[UPGRADE_TEXT_MAX];
        /* recomputed on every advance, not persisted */
        wait_t wait;
        planner_reason_t verdict;
        int verdict_group;
} s_node_t;

typedef struct {
        int failures;         /* nodes of the phase that failed */
        int forgiven;         /* failures forgiven by resume */
        int started;          /* nodes that left pending */
        bool promoted;
        bool budget_tripped;
        int64_t gate_ms;      /* no new start before (pause_between_batches) */
        /* its own steps (upgrade_machine_phase) */
        upgrade_phase_stage_t stage;
        int step_k;
        int step_node;
        uint64_t step_cmd_id;
        bool step_failed;
        int attempts;
        int64_t gate_deadline, retry_at;
        char step_error[UPGRADE_TEXT_MAX];   /* a gate's last failed attempt */
        step_wait_t step_wait;   /* not persisted */
} s_phase_t;

struct upgrade_machine {
        const upgrade_config_t *cfg;
        s_node_t *nodes;
        s_phase_t *phases;
        size_t phase;         /* current; n_phases when complete */
        bool paused, aborted, complete, promote_pending;
        bool held;            /* not persisted: the shell sets it again */
        uint64_t next_cmd_id;
        char pause_reason[UPGRADE_TEXT_MAX];
        char hold_reason[UPGRADE_TEXT_MAX];
        int error_node;       /* -1: no Error condition */
        upgrade_step_t error_step;
        bool error_budget;    /* the Error is a tripped failure budget */
        bool error_phase_step;/* the Error is a phase's own step that failed */
        char error[UPGRADE_TEXT_MAX];
        /* work space */
        node_status_t *status;
        int *cand, *batch;
        planner_verdict_t *verdicts;
        upgrade_action_t *actions;
        size_t n_actions, cap_actions;
        bool oom;
};

static const char *const s_step_names[UPGRADE_STEP__COUNT] = {
        "pending", "draining", "installing", "repointing", "restarting", "verifying",
        "undraining", "done", "failed", "rolling_back", "rolled_back", "skipped", "pre", "post",
};

static const char *const s_cmd_names[UPGRADE_CMD__COUNT] = {
        "none", "drain", "install", "repoint", "restart", "undrain", "rollback", "step",
};

const char *upgrade_step_name(upgrade_step_t s) {
        return (unsigned) s < UPGRADE_STEP__COUNT ? s_step_names[s] : "?";
}

const char *upgrade_cmd_name(upgrade_cmd_t c) {
        return (unsigned) c < UPGRADE_CMD__COUNT ? s_cmd_names[c] : "?";
}

static const plan_phase_t *s_params(const upgrade_machine_t *m, int phase) {
        return m->cfg->phases[phase].params;
}

static const char *s_name(const upgrade_machine_t *m, int i, char *buf, size_t len) {
        if (m->cfg->names && m->cfg->names[i])
                return m->cfg->names[i];
        snprintf(buf, len, "node%d", i);
        return buf;
}

static upgrade_action_t *s_act(upgrade_machine_t *m, upgrade_action_kind_t kind, int node,
                               int phase, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static upgrade_action_t *s_act(upgrade_machine_t *m, upgrade_action_kind_t kind, int node,
                               int phase, const char *fmt, ...) {
        if (m->n_actions == m->cap_actions) {
                size_t cap = m->cap_actions ? m->cap_actions * 2 : 16;
                upgrade_action_t *a = realloc(m->actions, cap * sizeof(*a));
                if (!a) {
                        m->oom = true;
                        return NULL;
                }
                m->actions = a;
                m->cap_actions = cap;
        }
        upgrade_action_t *a = &m->actions[m->n_actions++];
        memset(a, 0, sizeof(*a));
        a->kind = kind;
        a->node = node;
        a->phase = phase;
        a->step = node >= 0 ? m->nodes[node].step : UPGRADE_STEP_PENDING;
        if (fmt) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(a->message, sizeof(a->message), fmt, ap);
                va_end(ap);
        }
        return a;
}

static bool s_in_step(upgrade_step_t s) {
        return s != UPGRADE_STEP_PENDING && s != UPGRADE_STEP_DONE &&
               s != UPGRADE_STEP_ROLLED_BACK && s != UPGRADE_STEP_SKIPPED;
}

static node_status_t s_quorum_status(const s_node_t *n) {
        if (!n->registered)
                return NODE_STATUS_UNREGISTERED;
        if (!n->reachable)
                return NODE_STATUS_UNREACHABLE;
        /* A failed node stopped half-way through its sequence: it may still
         * be drained, run the command that was retired when it went
         * unreachable, or carry a new package without its restart. Its
         * health does not say what the node really does, so it counts as
         * down until it is rolled back (or the upgrade is redone). */
        if (n->step == UPGRADE_STEP_FAILED)
                return NODE_STATUS_FAILED;
        if (s_in_step(n->step) || n->job_busy)
                return NODE_STATUS_IN_STEP;
        /* Drained by anyone (an operator's drain, an earlier upgrade left
         * halted): it serves nothing, however healthy its checks say. */
        if (n->agent_drained)
                return NODE_STATUS_DRAINED;
        if (!n->healthy)
                return NODE_STATUS_UNHEALTHY;
        return n->step == UPGRADE_STEP_DONE ? NODE_STATUS_DONE : NODE_STATUS_UP;
}

/* The node the current phase's own step runs on now, or -1. */
static int s_step_node(const upgrade_machine_t *m) {
        if (m->phase >= m->cfg->n_phases || m->phases[m->phase].step_cmd_id == 0)
                return -1;
        return m->phases[m->phase].step_node;
}

static quorum_fleet_t s_fleet(upgrade_machine_t *m) {
        for (size_t i = 0; i < m->cfg->n_nodes; i++)
                m->status[i] = s_quorum_status(&m->nodes[i]);
        int t = s_step_node(m);
        if (t >= 0 && !node_status_is_down(m->status[t]))
                m->status[t] = NODE_STATUS_IN_STEP;
        return (quorum_fleet_t) { .groups = m->cfg->groups, .n_groups = m->cfg->n_groups,
                                  .status = m->status, .n_nodes = m->cfg->n_nodes,
                                  .names = m->cfg->names };
}

static void s_send(upgrade_machine_t *m, int i, upgrade_step_t step, upgrade_cmd_t cmd) {
        s_node_t *n = &m->nodes[i];
        n->step = step;
        n->cmd = cmd;
        n->cmd_id = m->next_cmd_id++;
        if (cmd == UPGRADE_CMD_DRAIN)
                n->drained = true;   /* from the send: it may take effect before any result */
        upgrade_action_t *a = s_act(m, UPGRADE_ACT_SEND, i, n->phase, "%s", upgrade_cmd_name(cmd));
        if (a) {
                a->cmd = cmd;
                a->cmd_id = n->cmd_id;
                a->allow_downgrade = cmd == UPGRADE_CMD_ROLLBACK;
                a->params = s_params(m, n->phase);
                a->step_index = cmd == UPGRADE_CMD_STEP ? n->step_index : 0;
                a->stage = step == UPGRADE_STEP_POST ? PLAN_STAGE_POST : PLAN_STAGE_PRE;
        }
}

/* Sends step k of the phase's pre (step PRE) or post steps, if it has one. */
static bool s_send_step(upgrade_machine_t *m, int i, upgrade_step_t step, int k) {
        s_node_t *n = &m->nodes[i];
        const plan_steps_t *steps = &s_params(m, n->phase)->steps[step == UPGRADE_STEP_PRE ? PLAN_STAGE_PRE
                                                                                           : PLAN_STAGE_POST];
        if ((size_t) k >= steps->n)
                return false;
        n->step_index = k;
        s_send(m, i, step, UPGRADE_CMD_STEP);
        return true;
}

static void s_set_error(upgrade_machine_t *m, int i, upgrade_step_t step, const char *msg) {
        m->error_node = i;
        m->error_step = step;
        m->error_budget = false;
        m->error_phase_step = false;
        snprintf(m->error, sizeof(m->error), "%s", msg);
        s_act(m, UPGRADE_ACT_ERROR, i, i >= 0 ? m->nodes[i].phase : -1, "%s", msg);
}

static void s_pause(upgrade_machine_t *m, const char *why) {
        if (m->paused)
                return;
        m->paused = true;
        snprintf(m->pause_reason, sizeof(m->pause_reason), "%s", why);
        s_act(m, UPGRADE_ACT_PAUSED, -1, (int) m->phase, "%s", why);
}

/* The node failed in step `step`; its command (if any) is retired. */
static void s_fail(upgrade_machine_t *m, int i, upgrade_step_t step, const char *error) {
        s_node_t *n = &m->nodes[i];
        char nb[32];
        char msg[UPGRADE_TEXT_MAX];
        snprintf(msg, sizeof(msg), "node %s failed in %s: %s", s_name(m, i, nb, sizeof(nb)),
                 upgrade_step_name(step), error && *error ? error : "error");
        n->step = UPGRADE_STEP_FAILED;
        n->cmd = UPGRADE_CMD_NONE;
        n->cmd_id = 0;
        n->healthy_since = -1;
        n->deadline = -1;
        snprintf(n->error, sizeof(n->error), "%s", msg);
        if (!n->failure_counted) {
                n->failure_counted = true;
                m->phases[n->phase].failures++;
        }
        s_act(m, UPGRADE_ACT_NODE_FAILED, i, n->phase, "%s", msg);
        s_set_error(m, i, step, msg);
        if (s_params(m, n->phase)->on_failure == PLAN_ON_FAILURE_ROLLBACK_NODE)
                n->rollback_pending = true;
}

static void s_mark_rolled_back(upgrade_machine_t *m, int i) {
        s_node_t *n = &m->nodes[i];
        n->cmd = UPGRADE_CMD_NONE;
        n->cmd_id = 0;
        n->step = UPGRADE_STEP_ROLLED_BACK;
        n->halted = false;
        n->drained = false;   /* a rollback undrains */
        n->local_rollback = false;
        n->healthy_since = -1;
        n->deadline = -1;
        s_act(m, UPGRADE_ACT_NODE_ROLLED_BACK, i, n->phase, NULL);
}

/* UPGRADE_ADMIN_ROLLED_BACK_LOCALLY. */
static void s_rolled_back_locally(upgrade_machine_t *m, int i) {
        s_node_t *n = &m->nodes[i];
        if (n->step == UPGRADE_STEP_PENDING || n->step == UPGRADE_STEP_SKIPPED ||
            n->step == UPGRADE_STEP_ROLLED_BACK)
                return;   /* nothing of this upgrade to undo there, or undone already */
        n->rollback_pending = false;
        if (n->cmd != UPGRADE_CMD_NONE)
                n->local_rollback = true;   /* on_result or s_lost finishes it */
        else
                s_mark_rolled_back(m, i);
}

/* The step after `done` (a step whose command succeeded, or verifying). */
static void s_next_step(upgrade_machine_t *m, int i, int64_t now) {
        s_node_t *n = &m->nodes[i];
        const plan_phase_t *p = s_params(m, n->phase);
        upgrade_step_t s = n->step;
        n->cmd = UPGRADE_CMD_NONE;
        n->cmd_id = 0;
        if (n->rollback_pending)
                return;   /* s_start_rollbacks takes it from here */
        /* After an abort a node goes on only where no new command is
         * needed: a health gate already running, and done after its
         * undrain. */
        if (m->aborted && s != UPGRADE_STEP_VERIFYING && s != UPGRADE_STEP_UNDRAINING) {
                n->halted = true;
                return;
        }
        switch (s) {
        case UPGRADE_STEP_PENDING:
                if (s_send_step(m, i, UPGRADE_STEP_PRE, 0))
                        return;
                /* fall through */
        case UPGRADE_STEP_PRE:
                if (s == UPGRADE_STEP_PRE && s_send_step(m, i, UPGRADE_STEP_PRE, n->step_index + 1))
                        return;
                if (p->drain) {
                        s_send(m, i, UPGRADE_STEP_DRAINING, UPGRADE_CMD_DRAIN);
                        return;
                }
                /* fall through */
        case UPGRADE_STEP_DRAINING:
                s_send(m, i, UPGRADE_STEP_INSTALLING, UPGRADE_CMD_INSTALL);
                return;
        case UPGRADE_STEP_INSTALLING:
                if (p->n_repoint > 0) {
                        s_send(m, i, UPGRADE_STEP_REPOINTING, UPGRADE_CMD_REPOINT);
                        return;
                }
                /* fall through */
        case UPGRADE_STEP_REPOINTING:
                if (p->restart && p->restart[0]) {
                        s_send(m, i, UPGRADE_STEP_RESTARTING, UPGRADE_CMD_RESTART);
                        return;
                }
                /* fall through */
        case UPGRADE_STEP_RESTARTING:
                n->step = UPGRADE_STEP_VERIFYING;
                n->deadline = now + p->healthy_deadline_ms;
                n->healthy_since = n->healthy && n->reachable ? now : -1;
                return;
        case UPGRADE_STEP_VERIFYING:
                n->healthy_since = -1;
                n->deadline = -1;
                if (p->steps[PLAN_STAGE_POST].n && m->aborted) {
                        n->halted = true;
                        return;
                }
                if (s_send_step(m, i, UPGRADE_STEP_POST, 0))
                        return;
                /* fall through */
        case UPGRADE_STEP_POST:
                if (s == UPGRADE_STEP_POST && s_send_step(m, i, UPGRADE_STEP_POST, n->step_index + 1))
                        return;
                if (p->drain) {
                        if (m->aborted) {
                                n->halted = true;
                                return;
                        }
                        s_send(m, i, UPGRADE_STEP_UNDRAINING, UPGRADE_CMD_UNDRAIN);
                        return;
                }
                /* fall through */
        case UPGRADE_STEP_UNDRAINING:
                n->drained = false;
                n->step = UPGRADE_STEP_DONE;
                s_act(m, UPGRADE_ACT_NODE_DONE, i, n->phase, NULL);
                return;
        default:
                return;
        }
}

static void s_check_gates(upgrade_machine_t *m, int64_t now) {
        for (size_t i = 0; i < m->cfg->n_nodes; i++) {
                s_node_t *n = &m->nodes[i];
                if (n->step != UPGRADE_STEP_VERIFYING || n->halted || n->rollback_pending)
                        continue;
                const plan_phase_t *p = s_params(m, n->phase);
                if (n->healthy_since >= 0 && n->healthy_since + p->min_healthy_time_ms <= n->deadline &&
                    now >= n->healthy_since + p->min_healthy_time_ms) {
                        s_next_step(m, (int) i, now);
                } else if (now >= n->deadline) {
                        char e[96];
                        snprintf(e, sizeof(e), "not healthy for %lld ms within %lld ms",
                                 (long long) p->min_healthy_time_ms, (long long) p->healthy_deadline_ms);
                        s_fail(m, (int) i, UPGRADE_STEP_VERIFYING, e);
                }
        }
}

static bool s_phase_node_settled(const s_node_t *n) {
        switch (n->step) {
        case UPGRADE_STEP_DONE:
        case UPGRADE_STEP_SKIPPED:
        case UPGRADE_STEP_ROLLED_BACK:
                return true;
        case UPGRADE_STEP_FAILED:
                /* left drained: never settled (nor complete) until rolled back */
                return !n->rollback_pending && !n->drained;
        default:
                return false;
        }
}

static int s_phase_failures(const upgrade_machine_t *m, size_t p) {
        const upgrade_phase_config_t *pc = &m->cfg->phases[p];
        int f = m->phases[p].failures;
        for (size_t k = 0; k < pc->n_nodes; k++) {
                const s_node_t *n = &m->nodes[pc->nodes[k]];
                if (n->step == UPGRADE_STEP_PENDING && !n->reachable)
                        f++;
        }
        return f - m->phases[p].forgiven;
}

static void s_rollback_phase_nodes(upgrade_machine_t *m, size_t p) {
        const upgrade_phase_config_t *pc = &m->cfg->phases[p];
        for (size_t k = 0; k < pc->n_nodes; k++) {
                s_node_t *n = &m->nodes[pc->nodes[k]];
                if (n->step == UPGRADE_STEP_PENDING)
                        n->step = UPGRADE_STEP_SKIPPED;
                else if (n->step != UPGRADE_STEP_SKIPPED && n->step != UPGRADE_STEP_ROLLED_BACK &&
                         n->step != UPGRADE_STEP_ROLLING_BACK)
                        n->rollback_pending = true;
        }
}

static void s_check_failure_budget(upgrade_machine_t *m) {
        if (m->complete || m->phase >= m->cfg->n_phases)
                return;
        size_t p = m->phase;
        s_phase_t *ph = &m->phases[p];
        const upgrade_phase_config_t *pc = &m->cfg->phases[p];
        int f = s_phase_failures(m, p);
        if (ph->budget_tripped || f <= pc->max_failures)
                return;
        ph->budget_tripped = true;
        char why[UPGRADE_TEXT_MAX];
        snprintf(why, sizeof(why), "failure budget of phase %s exceeded: %d failures, max_failures %d (on_failure %s)",
                 pc->params->name, f, pc->max_failures, plan_on_failure_name(pc->params->on_failure));
        if (pc->params->on_failure == PLAN_ON_FAILURE_ROLLBACK_NODE) {
                for (size_t k = 0; k < pc->n_nodes; k++) {
                        s_node_t *n = &m->nodes[pc->nodes[k]];
                        if (n->step == UPGRADE_STEP_FAILED)
                                n->rollback_pending = true;
                }
        } else if (pc->params->on_failure == PLAN_ON_FAILURE_ROLLBACK_PHASE) {
                s_rollback_phase_nodes(m, p);
        }
        /* A node's failure in this event tripped the budget: the Error
         * keeps naming it, its step and the agent's error (the budget is
         * in the pause reason); else the budget alone (pending nodes
         * unreachable). */
        int failed = -1;
        for (size_t a = 0; a < m->n_actions; a++)
                if (m->actions[a].kind == UPGRADE_ACT_NODE_FAILED && m->actions[a].node >= 0 &&
                    m->nodes[m->actions[a].node].phase == (int) p)
                        failed = m->actions[a].node;
        if (failed >= 0) {
                char msg[UPGRADE_TEXT_MAX];
                snprintf(msg, sizeof(msg), "%s; failure budget of phase %s exceeded (max_failures %d)",
                         m->nodes[failed].error, pc->params->name, pc->max_failures);
                s_set_error(m, failed, m->error_node == failed ? m->error_step : UPGRADE_STEP_FAILED, msg);
                m->error_budget = true;
        } else {
                s_set_error(m, -1, UPGRADE_STEP_PENDING, why);
                m->error_budget = true;
        }
        s_pause(m, why);
}

/* Rollbacks undo the upgrade in reverse: the last phase with a rollback
 * pending or running goes first, at most batch_size of its nodes at once,
 * each under the quorum budgets. */
static void s_start_rollbacks(upgrade_machine_t *m) {
        quorum_fleet_t f = s_fleet(m);
        int last = -1;
        for (size_t i = 0; i < m->cfg->n_nodes; i++) {
                const s_node_t *n = &m->nodes[i];
                if ((n->rollback_pending || n->step == UPGRADE_STEP_ROLLING_BACK) && n->phase > last)
                        last = n->phase;
        }
        if (last < 0)
                return;
        int rolling = 0;
        for (size_t i = 0; i < m->cfg->n_nodes; i++)
                if (m->nodes[i].phase == last && m->nodes[i].step == UPGRADE_STEP_ROLLING_BACK)
                        rolling++;
        for (size_t i = 0; i < m->cfg->n_nodes; i++) {
                s_node_t *n = &m->nodes[i];
                if (!n->rollback_pending || n->cmd != UPGRADE_CMD_NONE)
                        continue;
                if ((int) i == s_step_node(m)) {
                        n->wait = WAIT_ROLLBACK_STEP;
                        continue;
                }
                if (n->phase != last) {
                        n->wait = WAIT_ROLLBACK_ORDER;
                        continue;
                }
                if (rolling >= m->cfg->phases[last].batch_size) {
                        n->wait = WAIT_ROLLBACK_BATCH;
                        continue;
                }
                if (!n->reachable || !n->registered) {
                        n->wait = WAIT_ROLLBACK_UNREACHABLE;
                        continue;
                }
                int node = (int) i;
                /* A node already down costs no budget; an up one does. */
                if (!node_status_is_down(m->status[i]) &&
                    !quorum_budget_allows(&f, &node, 1)) {
                        n->wait = WAIT_ROLLBACK_QUORUM;
                        continue;
                }
                n->rollback_pending = false;
                n->halted = false;
                n->healthy_since = -1;
                n->deadline = -1;
                s_send(m, node, UPGRADE_STEP_ROLLING_BACK, UPGRADE_CMD_ROLLBACK);
                m->status[i] = NODE_STATUS_IN_STEP;
                rolling++;
        }
}

static bool s_rollbacks_outstanding(const upgrade_machine_t *m) {
        for (size_t i = 0; i < m->cfg->n_nodes; i++)
                if (m->nodes[i].rollback_pending || m->nodes[i].step == UPGRADE_STEP_ROLLING_BACK)
                        return true;
        return false;
}

/* ---- a phase's own steps: before, after, wait_for ---- */

static const char *const s_phase_stage_names[UPGRADE_PHASE__COUNT] = {
        "before", "nodes", "after", "wait_for",
};

const char *upgrade_phase_stage_name(upgrade_phase_stage_t s) {
        return (unsigned) s < UPGRADE_PHASE__COUNT ? s_phase_stage_names[s] : "unknown";
}

static plan_stage_t s_plan_stage(upgrade_phase_stage_t s) {
        return s == UPGRADE_PHASE_BEFORE ? PLAN_STAGE_BEFORE
             : s == UPGRADE_PHASE_AFTER  ? PLAN_STAGE_AFTER : PLAN_STAGE_WAIT_FOR;
}

/* Nothing of the phase's next step tried yet (step_k is kept). */
static void s_step_reset(s_phase_t *ph) {
        ph->step_node = -1;
        ph->step_cmd_id = 0;
        ph->attempts = 0;
        ph->gate_deadline = -1;
        ph->retry_at = -1;
        ph->step_error[0] = 0;
}

static void s_step_stage(s_phase_t *ph, upgrade_phase_stage_t stage) {
        ph->stage = stage;
        ph->step_k = 0;
        s_step_reset(ph);
}

/* "wait_for step 1/2 (task issu-in-sync on ctrl-new1)" */
static void s_step_title(const upgrade_machine_t *m, size_t p, char *buf, size_t len) {
        const s_phase_t *ph = &m->phases[p];
        const upgrade_phase_config_t *pc = &m->cfg->phases[p];
        plan_stage_t st = s_plan_stage(ph->stage);
        char what[96], nb[32];
        plan_step_describe(&pc->params->steps[st].v[ph->step_k], what, sizeof what);
        snprintf(buf, len, "%s step %d/%zu (%s on %s)", plan_stage_name(st), ph->step_k + 1, pc->n_steps[st],
                 what, s_name(m, pc->step_nodes[st][ph->step_k], nb, sizeof nb));
}

/* The current step of phase p failed: the Error names it, the upgrade
 * pauses; with rollback_phase, after its nodes ran, they are rolled back. */
static void s_step_fail(upgrade_machine_t *m, size_t p, const char *error) {
        s_phase_t *ph = &m->phases[p];
        const upgrade_phase_config_t *pc = &m->cfg->phases[p];
        char title[160], msg[UPGRADE_TEXT_MAX];
        s_step_title(m, p, title, sizeof title);
        snprintf(msg, sizeof msg, "phase %s: %s failed: %s", pc->params->name, title, error);
        ph->step_failed = true;
        ph->step_cmd_id = 0;
        ph->step_node = -1;
        s_set_error(m, -1, UPGRADE_STEP_PENDING, msg);
        m->error_phase_step = true;
        if (ph->stage != UPGRADE_PHASE_BEFORE && pc->params->on_failure == PLAN_ON_FAILURE_ROLLBACK_PHASE)
                s_rollback_phase_nodes(m, p);
        s_pause(m, msg);
}

/* The answer to the current phase's step (or its node lost meanwhile). */
static void s_step_result(upgrade_machine_t *m, upgrade_result_t result, const char *error, int64_t now) {
        s_phase_t *ph = &m->phases[m->phase];
        const upgrade_phase_config_t *pc = &m->cfg->phases[m->phase];
        char e[UPGRADE_TEXT_MAX];
        ph->step_cmd_id = 0;
        ph->step_node = -1;
        if (result == UPGRADE_RESULT_SUCCEEDED) {
                ph->step_k++;
                s_step_reset(ph);
                return;
        }
        snprintf(e, sizeof e, "%s%s", result == UPGRADE_RESULT_INTERRUPTED ? "interrupted: " : "",
                 error && *error ? error : "failed");
        if (ph->stage == UPGRADE_PHASE_GATES) {
                /* Not passed yet: tried again, until its deadline. */
                snprintf(ph->step_error, sizeof ph->step_error, "%s", e);
                ph->retry_at = now + pc->params->steps[PLAN_STAGE_WAIT_FOR].v[ph->step_k].interval_ms;
                return;
        }
        s_step_fail(m, m->phase, e);
}

/* Runs the steps of the current stage of phase p (before, after or the
 * gates), one at a time: true once every one passed. */
static bool s_run_steps(upgrade_machine_t *m, size_t p, bool blanket, int64_t now) {
        s_phase_t *ph = &m->phases[p];
        const upgrade_phase_config_t *pc = &m->cfg->phases[p];
        plan_stage_t st = s_plan_stage(ph->stage);
        bool gate = ph->stage == UPGRADE_PHASE_GATES;

        ph->step_wait = STEP_WAIT_NONE;
        if ((size_t) ph->step_k >= pc->n_steps[st])
                return true;
        if (ph->step_cmd_id != 0) {
                ph->step_wait = STEP_WAIT_RUNNING;
                return false;
        }
        if (ph->step_failed || blanket) {
                ph->step_wait = ph->step_failed ? STEP_WAIT_FAILED : STEP_WAIT_BLANKET;
                return false;
        }
        const plan_step_t *step = &pc->params->steps[st].v[ph->step_k];
        if (gate) {
                if (ph->gate_deadline < 0)
                        ph->gate_deadline = now + step->deadline_ms;
                if (ph->attempts > 0 && now >= ph->gate_deadline) {
                        char e[UPGRADE_TEXT_MAX];
                        snprintf(e, sizeof e, "not passed within %lld ms (%d attempt%s; the last: %s)",
                                 (long long) step->deadline_ms, ph->attempts, ph->attempts == 1 ? "" : "s",
                                 ph->step_error);
                        s_step_fail(m, p, e);
                        ph->step_wait = STEP_WAIT_FAILED;
                        return false;
                }
                if (ph->retry_at >= 0 && now < ph->retry_at) {
                        ph->step_wait = STEP_WAIT_RETRY;
                        return false;
                }
        }
        int t = pc->step_nodes[st][ph->step_k];
        const s_node_t *tn = &m->nodes[t];
        if (!tn->reachable || !tn->registered) {
                ph->step_wait = STEP_WAIT_UNREACHABLE;
                return false;
        }
        if (tn->cmd != UPGRADE_CMD_NONE || tn->job_busy) {
                ph->step_wait = STEP_WAIT_BUSY;
                return false;
        }
        /* Like a rollback: a node already down costs no budget. */
        quorum_fleet_t f = s_fleet(m);
        if (!node_status_is_down(m->status[t]) && !quorum_budget_allows(&f, &t, 1)) {
                ph->step_wait = STEP_WAIT_QUORUM;
                return false;
        }
        ph->step_node = t;
        ph->step_cmd_id = m->next_cmd_id++;
        ph->retry_at = -1;
        if (gate)
                ph->attempts++;
        ph->step_wait = STEP_WAIT_RUNNING;
        upgrade_action_t *a = s_act(m, UPGRADE_ACT_SEND, t, (int) p, "%s step %d", plan_stage_name(st),
                                    ph->step_k + 1);
        if (a) {
                a->cmd = UPGRADE_CMD_STEP;
                a->cmd_id = ph->step_cmd_id;
                a->stage = st;
                a->step_index = ph->step_k;
                a->params = pc->params;
        }
        return false;
}

/* Starts the next nodes of the current phase, and records why others wait. */
static void s_start_upgrades(upgrade_machine_t *m, int64_t now) {
        for (;;) {
                if (m->phase >= m->cfg->n_phases) {
                        if (!m->complete && !s_rollbacks_outstanding(m)) {
                                m->complete = true;
                                s_act(m, UPGRADE_ACT_COMPLETE, -1, -1, "every phase finished");
                        }
                        return;
                }
                size_t p = m->phase;
                const upgrade_phase_config_t *pc = &m->cfg->phases[p];
                s_phase_t *ph = &m->phases[p];
                wait_t blanket = WAIT_NONE;
                if (m->aborted)
                        blanket = WAIT_ABORTED;
                else if (m->paused)
                        blanket = WAIT_PAUSED;
                else if (m->held)
                        blanket = WAIT_HELD;

                /* Its before steps come first. */
                if (ph->stage == UPGRADE_PHASE_BEFORE) {
                        if (!s_run_steps(m, p, blanket != WAIT_NONE, now)) {
                                for (size_t k = 0; k < pc->n_nodes; k++)
                                        if (m->nodes[pc->nodes[k]].step == UPGRADE_STEP_PENDING)
                                                m->nodes[pc->nodes[k]].wait =
                                                        blanket != WAIT_NONE ? blanket : WAIT_PHASE_STEP;
                                return;
                        }
                        s_step_stage(ph, UPGRADE_PHASE_NODES);
                }

                size_t n_cand = 0;
                int in_flight = 0;
                bool settled = true;
                for (size_t k = 0; k < pc->n_nodes; k++) {
                        int i = pc->nodes[k];
                        s_node_t *n = &m->nodes[i];
                        if (n->step == UPGRADE_STEP_PENDING)
                                m->cand[n_cand++] = i;
                        else if (s_in_step(n->step) && n->step != UPGRADE_STEP_FAILED)
                                in_flight++;
                        if (!s_phase_node_settled(n))
                                settled = false;
                }
                if (settled) {
                        /* Then its after steps and its gates. */
                        if (ph->stage == UPGRADE_PHASE_NODES)
                                s_step_stage(ph, UPGRADE_PHASE_AFTER);
                        if (ph->stage == UPGRADE_PHASE_AFTER) {
                                if (!s_run_steps(m, p, blanket != WAIT_NONE, now))
                                        return;
                                s_step_stage(ph, UPGRADE_PHASE_GATES);
                        }
                        if (!s_run_steps(m, p, blanket != WAIT_NONE, now) || blanket != WAIT_NONE)
                                return;
                        m->phase++;
                        m->promote_pending = false;
                        if (m->phase < m->cfg->n_phases) {
                                s_act(m, UPGRADE_ACT_PHASE_STARTED, -1, (int) m->phase, "%s",
                                      m->cfg->phases[m->phase].params->name);
                                /* Its unreachable pending nodes may exceed its
                                 * budget already: judged before any of it starts. */
                                s_check_failure_budget(m);
                        }
                        continue;
                }
                if (n_cand == 0)
                        return;

                int canary = pc->params->canary;
                int slots = pc->batch_size - in_flight;
                bool canary_limited = false;
                if (blanket == WAIT_NONE && canary > 0 && !ph->promoted) {
                        if (ph->started >= canary) {
                                /* canaries out: wait until they settle, then promote */
                                bool canaries_settled = in_flight == 0;
                                if (canaries_settled && pc->params->auto_promote) {
                                        ph->promoted = true;
                                } else {
                                        if (canaries_settled && !m->promote_pending) {
                                                m->promote_pending = true;
                                                s_act(m, UPGRADE_ACT_PROMOTE_WAIT, -1, (int) p,
                                                      "phase %s: %d canaries finished; waiting for promote",
                                                      pc->params->name, ph->started);
                                        }
                                        blanket = canaries_settled ? WAIT_PROMOTE : WAIT_CANARY;
                                }
                        } else if (canary - ph->started < slots) {
                                slots = canary - ph->started;
                                canary_limited = true;
                        }
                }
                if (blanket == WAIT_NONE && pc->params->mode == PLAN_MODE_BATCH && in_flight > 0)
                        blanket = WAIT_BARRIER;
                if (blanket == WAIT_NONE && now < ph->gate_ms)
                        blanket = WAIT_PAUSE_BETWEEN;
                if (blanket != WAIT_NONE) {
                        for (size_t k = 0; k < n_cand; k++)
                                m->nodes[m->cand[k]].wait = blanket;
                        return;
                }

                quorum_fleet_t f = s_fleet(m);
                int batch = slots > 0 ? in_flight + slots : in_flight + 1;
                int k = planner_next_batch(&f, m->cand, n_cand, batch, in_flight, m->batch,
                                           m->verdicts);
                if (k < 0)
                        return;   /* config validated: cannot happen */
                for (size_t c = 0; c < n_cand; c++) {
                        s_node_t *n = &m->nodes[m->cand[c]];
                        n->wait = WAIT_PLANNER;
                        n->verdict = m->verdicts[c].reason;
                        n->verdict_group = m->verdicts[c].group;
                        if (slots <= 0 && n->verdict == PLANNER_START)
                                n->verdict = PLANNER_WAIT_BATCH_FULL;
                        if (canary_limited && n->verdict == PLANNER_WAIT_BATCH_FULL)
                                n->wait = WAIT_CANARY;
                }
                if (slots <= 0)
                        return;
                for (int b = 0; b < k; b++) {
                        s_node_t *n = &m->nodes[m->batch[b]];
                        n->wait = WAIT_NONE;
                        n->halted = false;
                        ph->started++;
                        s_next_step(m, m->batch[b], now);
                }
                if (k > 0 && pc->params->pause_between_batches_ms > 0 &&
                    pc->params->mode == PLAN_MODE_BATCH)
                        ph->gate_ms = -1;   /* set when the batch settles */
                return;
        }
}

static void s_batch_gates(upgrade_machine_t *m, int64_t now) {
        if (m->phase >= m->cfg->n_phases)
                return;
        s_phase_t *ph = &m->phases[m->phase];
        if (ph->gate_ms > 0 && now >= ph->gate_ms)
                ph->gate_ms = 0;   /* passed: next_due must not stay in the past */
        if (ph->gate_ms != -1)
                return;
        const upgrade_phase_config_t *pc = &m->cfg->phases[m->phase];
        for (size_t k = 0; k < pc->n_nodes; k++) {
                const s_node_t *n = &m->nodes[pc->nodes[k]];
                if (s_in_step(n->step) && n->step != UPGRADE_STEP_FAILED)
                        return;
        }
        ph->gate_ms = now + pc->params->pause_between_batches_ms;
}

static void s_advance(upgrade_machine_t *m, int64_t now) {
        for (size_t i = 0; i < m->cfg->n_nodes; i++)
                m->nodes[i].wait = WAIT_NONE;
        if (m->phase < m->cfg->n_phases)
                m->phases[m->phase].step_wait = STEP_WAIT_NONE;
        s_check_gates(m, now);
        s_check_failure_budget(m);
        s_start_rollbacks(m);
        s_batch_gates(m, now);
        s_start_upgrades(m, now);
        s_check_failure_budget(m);
}

static int s_begin(upgrade_machine_t *m, int node, const upgrade_action_t **ret_actions,
                   size_t *ret_n) {
        if (!m || (node != -1 && (node < 0 || (size_t) node >= m->cfg->n_nodes)))
                return -EINVAL;
        m->n_actions = 0;
        m->oom = false;
        if (ret_actions)
                *ret_actions = NULL;
        if (ret_n)
                *ret_n = 0;
        return 0;
}

static int s_end(upgrade_machine_t *m, int64_t now, const upgrade_action_t **ret_actions,
                 size_t *ret_n) {
        s_advance(m, now);
        if (ret_actions)
                *ret_actions = m->actions;
        if (ret_n)
                *ret_n = m->n_actions;
        return m->oom ? -ENOMEM : 0;
}

int upgrade_machine_tick(upgrade_machine_t *m, int64_t now_ms,
                         const upgrade_action_t **ret_actions, size_t *ret_n) {
        int r = s_begin(m, -1, ret_actions, ret_n);
        if (r < 0)
                return r;
        return s_end(m, now_ms, ret_actions, ret_n);
}

int upgrade_machine_on_result(upgrade_machine_t *m, int64_t now_ms, int node, uint64_t cmd_id,
                              upgrade_result_t result, bool has_health, bool healthy,
                              const char *error, const upgrade_action_t **ret_actions,
                              size_t *ret_n) {
        int r = s_begin(m, node, ret_actions, ret_n);
        if (r < 0 || node < 0)
                return r < 0 ? r : -EINVAL;
        s_node_t *n = &m->nodes[node];
        if (cmd_id != 0 && s_step_node(m) == node && m->phases[m->phase].step_cmd_id == cmd_id) {
                if (has_health)
                        n->healthy = healthy;
                s_step_result(m, result, error, now_ms);
                return s_end(m, now_ms, ret_actions, ret_n);
        }
        if (cmd_id == 0 || n->cmd_id != cmd_id) {
                upgrade_action_t *a = s_act(m, UPGRADE_ACT_STALE_RESULT, node, n->phase,
                                            "result for command %llu not in flight",
                                            (unsigned long long) cmd_id);
                if (a)
                        a->cmd_id = cmd_id;
                return s_end(m, now_ms, ret_actions, ret_n);
        }
        if (has_health)
                n->healthy = healthy;
        upgrade_step_t step = n->step;
        if (n->local_rollback) {
                s_mark_rolled_back(m, node);
        } else if (result == UPGRADE_RESULT_SUCCEEDED) {
                if (step == UPGRADE_STEP_ROLLING_BACK) {
                        s_mark_rolled_back(m, node);
                } else {
                        s_next_step(m, node, now_ms);
                }
        } else {
                char e[UPGRADE_TEXT_MAX];
                snprintf(e, sizeof(e), "%s%s", result == UPGRADE_RESULT_INTERRUPTED ? "interrupted: " : "",
                         error && *error ? error : "failed");
                bool was_rollback = step == UPGRADE_STEP_ROLLING_BACK;
                s_fail(m, node, step, e);
                if (was_rollback)
                        n->rollback_pending = false;   /* never retried blindly */
        }
        return s_end(m, now_ms, ret_actions, ret_n);
}

static void s_apply_health(upgrade_machine_t *m, int64_t now_ms, int node, bool healthy) {
        s_node_t *n = &m->nodes[node];
        if (n->step == UPGRADE_STEP_VERIFYING) {
                /* Gates due before this change are judged first. */
                s_check_gates(m, now_ms);
                if (n->step == UPGRADE_STEP_VERIFYING) {
                        if (!healthy)
                                n->healthy_since = -1;
                        else if (n->healthy_since < 0 && n->reachable)
                                n->healthy_since = now_ms;
                }
        }
        n->healthy = healthy;
}

/* The node's agent can no longer report (why: "unreachable",
 * "unregistered"): a step under way fails. */
static void s_lost(upgrade_machine_t *m, int node, const char *why, int64_t now) {
        s_node_t *n = &m->nodes[node];
        if (s_step_node(m) == node) {
                char e[64];
                snprintf(e, sizeof(e), "agent %s during the step", why);
                s_step_result(m, UPGRADE_RESULT_FAILED, e, now);
        }
        if (n->local_rollback) {
                s_mark_rolled_back(m, node);   /* what its command did no longer matters */
        } else if (n->phase >= 0 && s_in_step(n->step) && n->step != UPGRADE_STEP_FAILED) {
                char e[64];
                snprintf(e, sizeof(e), "agent %s during %s", why, upgrade_step_name(n->step));
                bool was_rollback = n->step == UPGRADE_STEP_ROLLING_BACK;
                s_fail(m, node, n->step, e);
                if (was_rollback)
                        n->rollback_pending = true;   /* retried under a new id once back */
        }
}

static void s_apply_reachable(upgrade_machine_t *m, int64_t now_ms, int node, bool reachable) {
        s_check_gates(m, now_ms);
        m->nodes[node].reachable = reachable;
        if (!reachable)
                s_lost(m, node, "unreachable", now_ms);
}

static void s_apply_registered(upgrade_machine_t *m, int64_t now_ms, int node, bool registered) {
        s_check_gates(m, now_ms);
        m->nodes[node].registered = registered;
        if (!registered)
                s_lost(m, node, "unregistered", now_ms);
}

int upgrade_machine_on_health(upgrade_machine_t *m, int64_t now_ms, int node, bool healthy,
                              const upgrade_action_t **ret_actions, size_t *ret_n) {
        int r = s_begin(m, node, ret_actions, ret_n);
        if (r < 0 || node < 0)
                return r < 0 ? r : -EINVAL;
        s_apply_health(m, now_ms, node, healthy);
        return s_end(m, now_ms, ret_actions, ret_n);
}

int upgrade_machine_on_reachable(upgrade_machine_t *m, int64_t now_ms, int node, bool reachable,
                                 const upgrade_action_t **ret_actions, size_t *ret_n) {
        int r = s_begin(m, node, ret_actions, ret_n);
        if (r < 0 || node < 0)
                return r < 0 ? r : -EINVAL;
        s_apply_reachable(m, now_ms, node, reachable);
        return s_end(m, now_ms, ret_actions, ret_n);
}

int upgrade_machine_on_registered(upgrade_machine_t *m, int64_t now_ms, int node, bool registered,
                                  const upgrade_action_t **ret_actions, size_t *ret_n) {
        int r = s_begin(m, node, ret_actions, ret_n);
        if (r < 0 || node < 0)
                return r < 0 ? r : -EINVAL;
        s_apply_registered(m, now_ms, node, registered);
        return s_end(m, now_ms, ret_actions, ret_n);
}

int upgrade_machine_on_nodes(upgrade_machine_t *m, int64_t now_ms, const upgrade_node_report_t *reports,
                             size_t n, const upgrade_action_t **ret_actions, size_t *ret_n) {
        int r = s_begin(m, -1, ret_actions, ret_n);
        if (r < 0)
                return r;
        if (n && !reports)
                return -EINVAL;
        for (size_t k = 0; k < n; k++)
                if (reports[k].node < 0 || (size_t) reports[k].node >= m->cfg->n_nodes)
                        return -EINVAL;
        for (size_t k = 0; k < n; k++) {
                const upgrade_node_report_t *x = &reports[k];
                if (x->registered != m->nodes[x->node].registered)
                        s_apply_registered(m, now_ms, x->node, x->registered);
                if (x->reachable != m->nodes[x->node].reachable)
                        s_apply_reachable(m, now_ms, x->node, x->reachable);
                if (x->healthy != m->nodes[x->node].healthy)
                        s_apply_health(m, now_ms, x->node, x->healthy);
                m->nodes[x->node].agent_drained = x->drained;
                m->nodes[x->node].job_busy = x->job_busy;
        }
        return s_end(m, now_ms, ret_actions, ret_n);
}

void upgrade_machine_set_hold(upgrade_machine_t *m, const char *why) {
        m->held = why && *why;
        snprintf(m->hold_reason, sizeof(m->hold_reason), "%s", m->held ? why : "");
}

int upgrade_machine_admin(upgrade_machine_t *m, int64_t now_ms, upgrade_admin_t op, int arg,
                          const upgrade_action_t **ret_actions, size_t *ret_n) {
        int r = s_begin(m, -1, ret_actions, ret_n);
        if (r < 0)
                return r;
        switch (op) {
        case UPGRADE_ADMIN_PAUSE:
                s_pause(m, "paused by an admin");
                break;
        case UPGRADE_ADMIN_RESUME:
                if (m->aborted)
                        return -EPERM;
                m->paused = false;
                m->pause_reason[0] = 0;
                for (size_t p = 0; p < m->cfg->n_phases; p++) {
                        s_phase_t *ph = &m->phases[p];
                        ph->forgiven = ph->failures;
                        ph->budget_tripped = false;
                        /* A failed step runs again; a gate gets a new deadline. */
                        ph->step_failed = false;
                        if (ph->step_cmd_id == 0)
                                s_step_reset(ph);
                }
                break;
        case UPGRADE_ADMIN_ABORT:
                m->aborted = true;
                break;
        case UPGRADE_ADMIN_PROMOTE:
                if (!m->promote_pending || m->phase >= m->cfg->n_phases)
                        return -EALREADY;
                m->phases[m->phase].promoted = true;
                m->promote_pending = false;
                break;
        case UPGRADE_ADMIN_ROLLBACK_NODE: {
                if (arg < 0 || (size_t) arg >= m->cfg->n_nodes || m->nodes[arg].phase < 0)
                        return -EINVAL;
                s_node_t *n = &m->nodes[arg];
                if (n->step == UPGRADE_STEP_PENDING)
                        n->step = UPGRADE_STEP_SKIPPED;
                else if (n->step != UPGRADE_STEP_SKIPPED && n->step != UPGRADE_STEP_ROLLED_BACK &&
                         n->step != UPGRADE_STEP_ROLLING_BACK)
                        n->rollback_pending = true;
                break;
        }
        case UPGRADE_ADMIN_ROLLBACK_PHASE:
                if (arg < 0 || (size_t) arg >= m->cfg->n_phases)
                        return -EINVAL;
                s_rollback_phase_nodes(m, (size_t) arg);
                break;
        case UPGRADE_ADMIN_ROLLBACK_ALL:
                for (size_t p = 0; p < m->cfg->n_phases; p++)
                        s_rollback_phase_nodes(m, p);
                break;
        case UPGRADE_ADMIN_ROLLED_BACK_LOCALLY:
                if (arg < 0 || (size_t) arg >= m->cfg->n_nodes || m->nodes[arg].phase < 0)
                        return -EINVAL;
                s_rolled_back_locally(m, arg);
                break;
        default:
                return -EINVAL;
        }
        return s_end(m, now_ms, ret_actions, ret_n);
}

int64_t upgrade_machine_next_due(const upgrade_machine_t *m) {
        int64_t due = INT64_MAX;
        for (size_t i = 0; i < m->cfg->n_nodes; i++) {
                const s_node_t *n = &m->nodes[i];
                if (n->step != UPGRADE_STEP_VERIFYING || n->halted || n->rollback_pending)
                        continue;
                int64_t t = n->deadline;
                if (n->healthy_since >= 0) {
                        int64_t g = n->healthy_since + s_params(m, n->phase)->min_healthy_time_ms;
                        if (g < t)
                                t = g;
                }
                if (t < due)
                        due = t;
        }
        if (m->phase < m->cfg->n_phases && m->phases[m->phase].gate_ms > 0 &&
            m->phases[m->phase].gate_ms < due)
                due = m->phases[m->phase].gate_ms;
        if (m->phase < m->cfg->n_phases) {
                const s_phase_t *ph = &m->phases[m->phase];
                if (ph->stage == UPGRADE_PHASE_GATES && ph->step_cmd_id == 0 && !ph->step_failed) {
                        if (ph->retry_at >= 0 && ph->retry_at < due)
                                due = ph->retry_at;
                        if (ph->attempts > 0 && ph->gate_deadline >= 0 && ph->gate_deadline < due)
                                due = ph->gate_deadline;
                }
        }
        return due;
}

/* ---- status ---- */

int upgrade_machine_node(const upgrade_machine_t *m, int node, upgrade_node_status_t *ret) {
        if (!m || !ret || node < 0 || (size_t) node >= m->cfg->n_nodes)
                return -EINVAL;
        const s_node_t *n = &m->nodes[node];
        *ret = (upgrade_node_status_t) {
                .step = n->step, .phase = n->phase, .cmd = n->cmd, .cmd_id = n->cmd_id,
                .step_index = n->step_index,
                .healthy_since_ms = n->healthy_since, .deadline_ms = n->deadline,
                .rollback_pending = n->rollback_pending, .halted = n->halted, .drained = n->drained,
                .agent_drained = n->agent_drained,
                .job_busy = n->job_busy,
                .local_rollback = n->local_rollback,
                .reachable = n->reachable, .healthy = n->healthy, .registered = n->registered,
                .error = n->error,
        };
        ret->stage = n->step == UPGRADE_STEP_POST ? PLAN_STAGE_POST : PLAN_STAGE_PRE;
        if (s_step_node(m) == node) {
                const s_phase_t *ph = &m->phases[m->phase];
                ret->cmd = UPGRADE_CMD_STEP;
                ret->cmd_id = ph->step_cmd_id;
                ret->stage = s_plan_stage(ph->stage);
                ret->step_index = ph->step_k;
        }
        return 0;
}

int upgrade_machine_phase(const upgrade_machine_t *m, size_t phase, upgrade_phase_status_t *ret) {
        if (!m || !ret || phase >= m->cfg->n_phases)
                return -EINVAL;
        const s_phase_t *ph = &m->phases[phase];
        *ret = (upgrade_phase_status_t) {
                .stage = ph->stage, .step_index = ph->step_k, .node = ph->step_cmd_id ? ph->step_node : -1,
                .cmd_id = ph->step_cmd_id, .failed = ph->step_failed, .attempts = ph->attempts,
                .gate_deadline_ms = ph->gate_deadline, .retry_ms = ph->retry_at,
        };
        return 0;
}

size_t upgrade_machine_phase_wait(const upgrade_machine_t *m, size_t phase, char *buf, size_t len) {
        if (!m || !buf || len == 0)
                return 0;
        buf[0] = 0;
        if (phase != m->phase || phase >= m->cfg->n_phases)
                return 0;
        const s_phase_t *ph = &m->phases[phase];
        const upgrade_phase_config_t *pc = &m->cfg->phases[phase];
        if (ph->stage == UPGRADE_PHASE_NODES || (size_t) ph->step_k >= pc->n_steps[s_plan_stage(ph->stage)])
                return 0;
        char title[160], why[UPGRADE_TEXT_MAX] = "";
        s_step_title(m, phase, title, sizeof title);
        static const char *const fixed[] = {
                [STEP_WAIT_NONE] = "next", [STEP_WAIT_RUNNING] = "runs",
                [STEP_WAIT_FAILED] = "failed; resume runs it again",
                [STEP_WAIT_UNREACHABLE] = "waits: its node is unreachable",
                [STEP_WAIT_BUSY] = "waits: a command runs on its node",
        };
        if (ph->step_wait == STEP_WAIT_BLANKET) {
                snprintf(why, sizeof why, "waits: %s", m->aborted ? "aborted" : m->paused ? "paused" : "held");
        } else if (ph->step_wait == STEP_WAIT_QUORUM) {
                quorum_fleet_t f = s_fleet((upgrade_machine_t *) m);   /* work space only */
                char q[UPGRADE_TEXT_MAX];
                if (quorum_explain(&f, pc->step_nodes[s_plan_stage(ph->stage)][ph->step_k], NULL, 0, q,
                                   sizeof q) < 0)
                        snprintf(q, sizeof q, "quorum");
                snprintf(why, sizeof why, "waits: %s", q);
        } else if (ph->step_wait == STEP_WAIT_RETRY) {
                snprintf(why, sizeof why, "not passed yet (attempt %d: %s); tried again", ph->attempts,
                         ph->step_error);
        } else {
                snprintf(why, sizeof why, "%s", fixed[ph->step_wait]);
        }
        snprintf(buf, len, "%s %s", title, why);
        return strlen(buf);
}

size_t upgrade_machine_wait_reason(const upgrade_machine_t *m, int node, char *buf, size_t len) {
        if (!m || !buf || len == 0 || node < 0 || (size_t) node >= m->cfg->n_nodes)
                return 0;
        const s_node_t *n = &m->nodes[node];
        const char *s = "";
        buf[0] = 0;
        if (n->halted) {
                snprintf(buf, len, "aborted after %s", upgrade_step_name(n->step));
                return strlen(buf);
        }
        if (n->step == UPGRADE_STEP_FAILED && !n->rollback_pending) {
                snprintf(buf, len, "%s; counts as down until rolled back",
                         n->drained ? "failed while drained" : "failed");
                return strlen(buf);
        }
        if (n->step == UPGRADE_STEP_PENDING && n->phase > (int) m->phase)
                s = "an earlier phase runs";
        else switch (n->wait) {
        case WAIT_NONE:
                break;
        case WAIT_PAUSED:
                snprintf(buf, len, "paused: %s", m->pause_reason);
                return strlen(buf);
        case WAIT_HELD:
                snprintf(buf, len, "held: %s", m->hold_reason);
                return strlen(buf);
        case WAIT_ABORTED:
                s = "aborted";
                break;
        case WAIT_PROMOTE:
                s = "waiting for promote";
                break;
        case WAIT_CANARY:
                s = "canaries running";
                break;
        case WAIT_BARRIER:
                s = "batch in flight";
                break;
        case WAIT_PAUSE_BETWEEN:
                s = "pause between batches";
                break;
        case WAIT_ROLLBACK_UNREACHABLE:
                s = "rollback waits: agent unreachable";
                break;
        case WAIT_ROLLBACK_ORDER:
                s = "rollback waits: a later phase rolls back first";
                break;
        case WAIT_ROLLBACK_BATCH:
                s = "rollback waits: a batch of its phase is rolling back";
                break;
        case WAIT_ROLLBACK_STEP:
                s = "rollback waits: a step of the phase runs on it";
                break;
        case WAIT_PHASE_STEP: {
                char w[UPGRADE_TEXT_MAX];
                upgrade_machine_phase_wait(m, m->phase, w, sizeof w);
                snprintf(buf, len, "the phase's steps come first: %s", w);
                return strlen(buf);
        }
        case WAIT_ROLLBACK_QUORUM:
        case WAIT_PLANNER: {
                if (n->wait == WAIT_PLANNER && n->verdict != PLANNER_WAIT_QUORUM &&
                    n->verdict != PLANNER_NEVER_QUORUM) {
                        s = n->verdict == PLANNER_START ? "" : planner_reason_name(n->verdict);
                        break;
                }
                upgrade_machine_t *mm = (upgrade_machine_t *) m;   /* work space only */
                quorum_fleet_t f = s_fleet(mm);
                int r = quorum_explain(&f, node, NULL, 0, buf, len);
                if (r < 0)
                        snprintf(buf, len, "%s", "quorum");
                return strlen(buf);
        }
        }
        snprintf(buf, len, "%s", s);
        return strlen(buf);
}

int upgrade_machine_group_down(const upgrade_machine_t *m, size_t gi) {
        if (gi >= m->cfg->n_groups)
                return -EINVAL;
        quorum_fleet_t f = s_fleet((upgrade_machine_t *) m);   /* work space only */
        return quorum_group_down(&f, gi, NULL, 0);
}

/* Every node the upgrade changed is rolled back: none of its phases' nodes
 * is done, and at least one was rolled back. */
static bool s_all_rolled_back(const upgrade_machine_t *m) {
        bool any = false;
        for (size_t i = 0; i < m->cfg->n_nodes; i++) {
                if (m->nodes[i].phase < 0)
                        continue;   /* a quorum member in no phase */
                if (m->nodes[i].step == UPGRADE_STEP_DONE)
                        return false;
                any |= m->nodes[i].step == UPGRADE_STEP_ROLLED_BACK;
        }
        return any;
}

void upgrade_machine_conditions(const upgrade_machine_t *m, upgrade_conditions_t *ret) {
        memset(ret, 0, sizeof(*ret));
        ret->paused = m->paused;
        ret->held = m->held;
        snprintf(ret->hold_reason, sizeof(ret->hold_reason), "%s", m->hold_reason);
        ret->aborted = m->aborted;
        ret->promote_pending = m->promote_pending;
        ret->phase = (int) m->phase;
        snprintf(ret->pause_reason, sizeof(ret->pause_reason), "%s", m->pause_reason);
        size_t p = m->phase < m->cfg->n_phases ? m->phase : m->cfg->n_phases - 1;
        const upgrade_phase_config_t *pc = &m->cfg->phases[p];
        int done = 0;
        for (size_t k = 0; k < pc->n_nodes; k++)
                if (m->nodes[pc->nodes[k]].step == UPGRADE_STEP_DONE)
                        done++;
        ret->upgrading.status = !m->complete && !m->aborted;
        snprintf(ret->upgrading.reason, sizeof(ret->upgrading.reason), "%s", pc->params->name);
        snprintf(ret->upgrading.message, sizeof(ret->upgrading.message), "%d/%zu nodes", done,
                 pc->n_nodes);
        ret->error.status = m->error[0] != 0;
        if (ret->error.status) {
                /* The message names the node and step already (s_fail). */
                snprintf(ret->error.reason, sizeof(ret->error.reason), "%s",
                         m->error_phase_step ? "StepFailed"
                         : m->error_budget || m->error_node < 0 ? "FailureBudget" : "NodeFailed");
                snprintf(ret->error.message, sizeof(ret->error.message), "%s", m->error);
        }
        ret->complete.status = m->complete && !s_rollbacks_outstanding(m);
        ret->rolling_back = m->complete && !ret->complete.status;
        ret->rolled_back = ret->complete.status && s_all_rolled_back(m);
        snprintf(ret->complete.reason, sizeof(ret->complete.reason), "%s",
                 ret->rolled_back ? "RolledBack" : ret->complete.status ? "Complete"
                 : ret->rolling_back ? "RollingBack" : m->aborted ? "Aborted" : "InProgress");
}

/* ---- lifetime ---- */

static int s_alloc(const upgrade_config_t *cfg, upgrade_machine_t **ret) {
        if (!cfg || !ret || cfg->n_nodes == 0 || cfg->n_phases == 0 || !cfg->phases ||
            (cfg->n_groups && !cfg->groups) || cfg->n_nodes > INT32_MAX)
                return -EINVAL;
        for (size_t g = 0; g < cfg->n_groups; g++)
                if (quorum_group_validate(&cfg->groups[g], cfg->n_nodes) < 0)
                        return -EINVAL;
        upgrade_machine_t *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->cfg = cfg;
        m->nodes = calloc(cfg->n_nodes, sizeof(*m->nodes));
        m->phases = calloc(cfg->n_phases, sizeof(*m->phases));
        m->status = calloc(cfg->n_nodes, sizeof(*m->status));
        m->cand = calloc(cfg->n_nodes, sizeof(*m->cand));
        m->batch = calloc(cfg->n_nodes, sizeof(*m->batch));
        m->verdicts = calloc(cfg->n_nodes, sizeof(*m->verdicts));
        if (!m->nodes || !m->phases || !m->status || !m->cand || !m->batch || !m->verdicts) {
                upgrade_machine_destroy(&m);
                return -ENOMEM;
        }
        for (size_t i = 0; i < cfg->n_nodes; i++)
                m->nodes[i] = (s_node_t) { .step = UPGRADE_STEP_SKIPPED, .healthy_since = -1,
                                           .deadline = -1, .reachable = true, .healthy = true,
                                           .registered = true, .phase = -1 };
        for (size_t p = 0; p < cfg->n_phases; p++) {
                const upgrade_phase_config_t *pc = &cfg->phases[p];
                if (!pc->params || pc->batch_size < 1 || pc->max_failures < 0 ||
                    (pc->n_nodes && !pc->nodes)) {
                        upgrade_machine_destroy(&m);
                        return -EINVAL;
                }
                for (int st = 0; st < PLAN_STAGE__COUNT; st++) {
                        bool own = st == PLAN_STAGE_BEFORE || st == PLAN_STAGE_AFTER || st == PLAN_STAGE_WAIT_FOR;
                        bool bad = pc->n_steps[st] &&
                                   (!own || pc->n_steps[st] != pc->params->steps[st].n || !pc->step_nodes[st]);
                        for (size_t k = 0; !bad && k < pc->n_steps[st]; k++)
                                bad = pc->step_nodes[st][k] < 0 || (size_t) pc->step_nodes[st][k] >= cfg->n_nodes;
                        if (bad) {
                                upgrade_machine_destroy(&m);
                                return -EINVAL;
                        }
                }
                s_step_stage(&m->phases[p], UPGRADE_PHASE_BEFORE);
                for (size_t k = 0; k < pc->n_nodes; k++) {
                        int i = pc->nodes[k];
                        if (i < 0 || (size_t) i >= cfg->n_nodes || m->nodes[i].phase >= 0) {
                                upgrade_machine_destroy(&m);
                                return -EINVAL;
                        }
                        m->nodes[i].phase = (int) p;
                        m->nodes[i].step = UPGRADE_STEP_PENDING;
                }
        }
        m->next_cmd_id = 1;
        m->error_node = -1;
        *ret = m;
        return 0;
}

int upgrade_machine_new(const upgrade_config_t *cfg, upgrade_machine_t **ret) {
        return s_alloc(cfg, ret);
}

void upgrade_machine_destroy(upgrade_machine_t **mp) {
        if (!mp || !*mp)
                return;
        upgrade_machine_t *m = *mp;
        free(m->nodes);
        free(m->phases);
        free(m->status);
        free(m->cand);
        free(m->batch);
        free(m->verdicts);
        free(m->actions);
        free(m);
        *mp = NULL;
}

/* ---- persistence ---- */

enum {
        F_PAUSED = 1, F_ABORTED = 2, F_COMPLETE = 4, F_PROMOTE = 8,
        N_REACHABLE = 1, N_HEALTHY = 2, N_REGISTERED = 4, N_ROLLBACK = 8, N_HALTED = 16,
        N_COUNTED = 32, N_DRAINED = 64, N_AGENT_DRAINED = 128, N_LOCAL_ROLLBACK = 256,
        P_PROMOTED = 1, P_TRIPPED = 2,
        S_FAILED = 1,
};

int upgrade_machine_export(const upgrade_machine_t *m, upgrade_record_t **ret, size_t *ret_n) {
        if (!m || !ret || !ret_n)
                return -EINVAL;
        size_t n = 2 + 2 * m->cfg->n_phases + m->cfg->n_nodes;
        upgrade_record_t *r = calloc(n, sizeof(*r));
        if (!r)
                return -ENOMEM;
        size_t k = 0;
        r[k].type = UPGRADE_REC_MACHINE;
        r[k].v[0] = (int64_t) m->phase;
        r[k].v[1] = (m->paused ? F_PAUSED : 0) | (m->aborted ? F_ABORTED : 0) |
                    (m->complete ? F_COMPLETE : 0) | (m->promote_pending ? F_PROMOTE : 0);
        r[k].v[2] = (int64_t) m->next_cmd_id;
        r[k].v[3] = (int64_t) m->cfg->n_nodes;
        r[k].v[4] = (int64_t) m->cfg->n_phases;
        snprintf(r[k].text, sizeof(r[k].text), "%s", m->pause_reason);
        k++;
        r[k].type = UPGRADE_REC_ERROR;
        r[k].index = m->error_node;
        r[k].v[0] = m->error_step;
        r[k].v[1] = m->error_budget;
        r[k].v[2] = m->error_phase_step;
        snprintf(r[k].text, sizeof(r[k].text), "%s", m->error);
        k++;
        for (size_t p = 0; p < m->cfg->n_phases; p++, k++) {
                const s_phase_t *ph = &m->phases[p];
                r[k].type = UPGRADE_REC_PHASE_STEP;
                r[k].index = (int32_t) p;
                r[k].v[0] = ph->stage;
                r[k].v[1] = ph->step_k;
                r[k].v[2] = (int64_t) ph->step_cmd_id;
                r[k].v[3] = ph->step_node;
                r[k].v[4] = ph->gate_deadline;
                r[k].v[5] = ph->retry_at;
                r[k].v[6] = ph->step_failed ? S_FAILED : 0;
                r[k].v[7] = ph->attempts;
                snprintf(r[k].text, sizeof(r[k].text), "%s", ph->step_error);
        }
        for (size_t p = 0; p < m->cfg->n_phases; p++, k++) {
                const s_phase_t *ph = &m->phases[p];
                r[k].type = UPGRADE_REC_PHASE;
                r[k].index = (int32_t) p;
                r[k].v[0] = ph->failures;
                r[k].v[1] = ph->forgiven;
                r[k].v[2] = ph->started;
                r[k].v[3] = (ph->promoted ? P_PROMOTED : 0) | (ph->budget_tripped ? P_TRIPPED : 0);
                r[k].v[4] = ph->gate_ms;
        }
        for (size_t i = 0; i < m->cfg->n_nodes; i++, k++) {
                const s_node_t *nd = &m->nodes[i];
                r[k].type = UPGRADE_REC_NODE;
                r[k].index = (int32_t) i;
                r[k].v[0] = nd->step;
                r[k].v[1] = (int64_t) nd->cmd_id;
                r[k].v[2] = nd->cmd;
                r[k].v[3] = nd->healthy_since;
                r[k].v[4] = nd->deadline;
                r[k].v[5] = (nd->reachable ? N_REACHABLE : 0) | (nd->healthy ? N_HEALTHY : 0) |
                            (nd->registered ? N_REGISTERED : 0) |
                            (nd->rollback_pending ? N_ROLLBACK : 0) | (nd->halted ? N_HALTED : 0) |
                            (nd->failure_counted ? N_COUNTED : 0) | (nd->drained ? N_DRAINED : 0) |
                            (nd->agent_drained ? N_AGENT_DRAINED : 0) |
                            (nd->local_rollback ? N_LOCAL_ROLLBACK : 0);
                r[k].v[6] = nd->phase;
                r[k].v[7] = nd->step_index;   /* 0 in stores older than pre/post steps */
                snprintf(r[k].text, sizeof(r[k].text), "%s", nd->error);
        }
        *ret = r;
        *ret_n = n;
        return 0;
}

int upgrade_machine_import(const upgrade_config_t *cfg, const upgrade_record_t *recs, size_t n,
                           upgrade_machine_t **ret) {
        if (!recs || !ret)
                return -EINVAL;
        upgrade_machine_t *m = NULL;
        int r = s_alloc(cfg, &m);
        if (r < 0)
                return r;
        size_t seen_machine = 0, seen_nodes = 0, seen_phases = 0;
        /* Each node and phase exactly once: counting records is not enough
         * (a duplicate would hide a missing one). */
        bool *node_seen = calloc(cfg->n_nodes, sizeof *node_seen);
        bool *phase_seen = calloc(cfg->n_phases, sizeof *phase_seen);
        bool *step_seen = calloc(cfg->n_phases, sizeof *step_seen);
        if (!node_seen || !phase_seen || !step_seen) {
                free(node_seen);
                free(phase_seen);
                free(step_seen);
                upgrade_machine_destroy(&m);
                return -ENOMEM;
        }
        for (size_t k = 0; k < n; k++) {
                const upgrade_record_t *x = &recs[k];
                switch (x->type) {
                case UPGRADE_REC_MACHINE:
                        if (x->v[3] != (int64_t) cfg->n_nodes || x->v[4] != (int64_t) cfg->n_phases ||
                            x->v[0] < 0 || x->v[0] > (int64_t) cfg->n_phases || x->v[2] < 1)
                                goto bad;
                        m->phase = (size_t) x->v[0];
                        m->paused = x->v[1] & F_PAUSED;
                        m->aborted = x->v[1] & F_ABORTED;
                        m->complete = x->v[1] & F_COMPLETE;
                        m->promote_pending = x->v[1] & F_PROMOTE;
                        m->next_cmd_id = (uint64_t) x->v[2];
                        snprintf(m->pause_reason, sizeof(m->pause_reason), "%s", x->text);
                        seen_machine++;
                        break;
                case UPGRADE_REC_ERROR:
                        if (x->index < -1 || x->index >= (int64_t) cfg->n_nodes ||
                            x->v[0] < 0 || x->v[0] >= UPGRADE_STEP__COUNT)
                                goto bad;
                        m->error_node = x->index;
                        m->error_step = (upgrade_step_t) x->v[0];
                        m->error_budget = x->v[1] != 0;
                        m->error_phase_step = x->v[2] != 0;   /* 0 in older stores */
                        snprintf(m->error, sizeof(m->error), "%s", x->text);
                        break;
                case UPGRADE_REC_PHASE_STEP: {
                        if (x->index < 0 || (size_t) x->index >= cfg->n_phases || step_seen[x->index])
                                goto bad;
                        step_seen[x->index] = true;
                        const upgrade_phase_config_t *pc = &cfg->phases[x->index];
                        s_phase_t *ph = &m->phases[x->index];
                        if (x->v[0] < 0 || x->v[0] >= UPGRADE_PHASE__COUNT || x->v[1] < 0 ||
                            x->v[1] > PLAN_MAX_STEPS || x->v[2] < 0 || x->v[7] < 0 || x->v[7] > INT32_MAX)
                                goto bad;
                        ph->stage = (upgrade_phase_stage_t) x->v[0];
                        ph->step_k = (int) x->v[1];
                        ph->step_cmd_id = (uint64_t) x->v[2];
                        ph->step_node = (int) x->v[3];
                        ph->gate_deadline = x->v[4];
                        ph->retry_at = x->v[5];
                        ph->step_failed = x->v[6] & S_FAILED;
                        ph->attempts = (int) x->v[7];
                        snprintf(ph->step_error, sizeof(ph->step_error), "%s", x->text);
                        /* A step in flight is the stage's step k, on its node. */
                        plan_stage_t st = s_plan_stage(ph->stage);
                        if (ph->step_cmd_id != 0 &&
                            (ph->stage == UPGRADE_PHASE_NODES || (size_t) ph->step_k >= pc->n_steps[st] ||
                             ph->step_node != pc->step_nodes[st][ph->step_k]))
                                goto bad;
                        if (ph->step_cmd_id == 0)
                                ph->step_node = -1;
                        break;
                }
                case UPGRADE_REC_PHASE: {
                        if (x->index < 0 || (size_t) x->index >= cfg->n_phases || phase_seen[x->index])
                                goto bad;
                        phase_seen[x->index] = true;
                        s_phase_t *ph = &m->phases[x->index];
                        ph->failures = (int) x->v[0];
                        ph->forgiven = (int) x->v[1];
                        ph->started = (int) x->v[2];
                        ph->promoted = x->v[3] & P_PROMOTED;
                        ph->budget_tripped = x->v[3] & P_TRIPPED;
                        ph->gate_ms = x->v[4];
                        seen_phases++;
                        break;
                }
                case UPGRADE_REC_NODE: {
                        if (x->index < 0 || (size_t) x->index >= cfg->n_nodes ||
                            x->v[0] < 0 || x->v[0] >= UPGRADE_STEP__COUNT ||
                            x->v[2] < 0 || x->v[2] >= UPGRADE_CMD__COUNT ||
                            x->v[6] != m->nodes[x->index].phase ||
                            (x->v[1] == 0) != (x->v[2] == UPGRADE_CMD_NONE) ||
                            (x->v[1] < 0) || node_seen[x->index] || x->v[7] < 0 || x->v[7] >= PLAN_MAX_STEPS ||
                            ((x->v[5] & N_LOCAL_ROLLBACK) && x->v[2] == UPGRADE_CMD_NONE))
                                goto bad;
                        node_seen[x->index] = true;
                        s_node_t *nd = &m->nodes[x->index];
                        nd->step = (upgrade_step_t) x->v[0];
                        if (nd->phase < 0 && nd->step != UPGRADE_STEP_SKIPPED)
                                goto bad;
                        nd->cmd_id = (uint64_t) x->v[1];
                        nd->cmd = (upgrade_cmd_t) x->v[2];
                        nd->healthy_since = x->v[3];
                        nd->deadline = x->v[4];
                        nd->reachable = x->v[5] & N_REACHABLE;
                        nd->healthy = x->v[5] & N_HEALTHY;
                        nd->registered = x->v[5] & N_REGISTERED;
                        nd->rollback_pending = x->v[5] & N_ROLLBACK;
                        nd->halted = x->v[5] & N_HALTED;
                        nd->failure_counted = x->v[5] & N_COUNTED;
                        nd->drained = x->v[5] & N_DRAINED;
                        nd->agent_drained = x->v[5] & N_AGENT_DRAINED;
                        nd->local_rollback = x->v[5] & N_LOCAL_ROLLBACK;
                        nd->step_index = (int) x->v[7];
                        snprintf(nd->error, sizeof(nd->error), "%s", x->text);
                        seen_nodes++;
                        break;
                }
                default:
                        goto bad;
                }
        }
        if (seen_machine != 1 || seen_nodes != cfg->n_nodes || seen_phases != cfg->n_phases)
                goto bad;
        /* Every in-flight id was issued before the machine's next id, in
         * whatever order the records came. */
        for (size_t i = 0; i < cfg->n_nodes; i++)
                if (m->nodes[i].cmd_id >= m->next_cmd_id)
                        goto bad;
        for (size_t p = 0; p < cfg->n_phases; p++)
                if (m->phases[p].step_cmd_id >= m->next_cmd_id ||
                    (m->phases[p].step_cmd_id != 0 && (p != m->phase || m->nodes[m->phases[p].step_node].cmd != UPGRADE_CMD_NONE)))
                        goto bad;
        free(node_seen);
        free(phase_seen);
        free(step_seen);
        *ret = m;
        return 0;
bad:
        free(node_seen);
        free(phase_seen);
        free(step_seen);
        upgrade_machine_destroy(&m);
        return -EINVAL;
}
