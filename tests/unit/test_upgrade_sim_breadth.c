/* Simulation breadth: many small random fleets driven through the real
 * upgrade machine (coordinator/upgrade/upgrade_machine.c), each checked by
 * invariants written here from README's rules, never by calling quorum.c
 * or planner.c. test_upgrade_sim.c runs the 1,000-node fleets.
 *
 * A seed makes a fleet of 1..max_nodes nodes (some in no phase), 0..4
 * overlapping quorum groups, 1..3 phases with random batch sizes, canaries,
 * failure budgets, health gates, drain and on_failure; fake agents answer
 * after random delays, fail, flap, go unreachable and lose answers; an
 * admin pauses, resumes, promotes, aborts, rolls back (a node, a phase,
 * everything) and rolls nodes back on the node itself; the coordinator
 * "restarts" at random points (export, import, go on). Invariants after
 * every event:
 *   - quorum: a step the machine starts never takes a group over its budget
 *     (members down after the event, counting the machine's steps, at most
 *     max(budget, those down with the steps as before the event));
 *   - a command only to a reachable node with none in flight, ids strictly
 *     increasing (never one twice, also across restarts);
 *   - done only through verifying, healthy (as the machine was told) for
 *     min_healthy_time;
 *   - differential: for a stretch after each restart the machine that was
 *     not restarted runs beside the imported one, fed the same events: the
 *     same actions, and the same export afterwards;
 *   - every seed ends (complete, or paused or aborted with nothing moving).
 * A failing seed is shrunk (the same seed with fewer nodes while it still
 * fails) and printed with the command that reruns it.
 *
 *   UPGRADE_SIM_SMALL_SEEDS=N   seeds 1..N (default 10000)
 *   UPGRADE_SIM_SEED=S [UPGRADE_SIM_NODES=K]   just that one, verbose */
#include <check.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coordinator/upgrade/upgrade_machine.h"
#include "tests/helpers/test_rng.h"

#define MAX_NODES 40
#define MAX_GROUPS 4
#define MAX_PHASES 3
#define MAX_EVENTS 20000
#define TWIN_EVENTS 40         /* how long a restart's differential runs */

typedef struct {
        /* the fake agent */
        uint64_t cmd_id;           /* in execution; 0 none */
        upgrade_cmd_t cmd;
        int64_t due;
        bool will_fail, answer_lost;
        int64_t unreachable_until; /* 0: reachable */
        int64_t unhealthy_until;
        bool sick_when_new;        /* never healthy on the new version */
        int version;
        /* what the machine was told */
        bool reachable, healthy;
        int64_t healthy_since;     /* -1 when not */
        int64_t verify_start;      /* -1 when not verifying */
} node_t;

typedef struct {
        test_rng_t rng;
        int n;
        node_t nodes[MAX_NODES];
        plan_phase_t ph[MAX_PHASES];
        upgrade_phase_config_t pc[MAX_PHASES];
        int phase_nodes[MAX_PHASES][MAX_NODES];
        quorum_group_t groups[MAX_GROUPS];
        int members[MAX_GROUPS][MAX_NODES];
        int budget[MAX_GROUPS];
        upgrade_config_t cfg;
        upgrade_machine_t *m, *twin;
        int twin_left;
        int64_t now;
        uint64_t last_id;
        long events, restarts, admin_ops;
        bool mutant;               /* test-only: a checker that is wrong on purpose */
        /* before the event being checked */
        upgrade_step_t before[MAX_NODES];
        bool before_healthy[MAX_NODES], before_reachable[MAX_NODES];
        int64_t before_hs[MAX_NODES];
        /* failure */
        jmp_buf fail;
        char why[512];
} sim_t;

static char *s_units[] = { "svc.service", NULL };

static void s_fail(sim_t *x, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void s_fail(sim_t *x, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int k = snprintf(x->why, sizeof x->why, "t=%lld ms, event %ld: ", (long long) x->now, x->events);
        vsnprintf(x->why + k, sizeof x->why - (size_t) k, fmt, ap);
        va_end(ap);
        longjmp(x->fail, 1);
}

#define CHECK(x, cond, ...) do { if (!(cond)) s_fail((x), __VA_ARGS__); } while (0)

static bool chance(sim_t *x, int per_mille) {
        return (int) (test_rng_next(&x->rng) % 1000) < per_mille;
}

static int rnd(sim_t *x, int lo, int hi) {
        return (int) test_rng_in(&x->rng, (uint64_t) lo, (uint64_t) hi);
}

static bool s_in_step(upgrade_step_t s) {
        return s != UPGRADE_STEP_PENDING && s != UPGRADE_STEP_DONE && s != UPGRADE_STEP_ROLLED_BACK &&
               s != UPGRADE_STEP_SKIPPED;
}

static upgrade_node_status_t s_status(sim_t *x, int i) {
        upgrade_node_status_t st;
        CHECK(x, upgrade_machine_node(x->m, i, &st) == 0, "node %d: no status", i);
        return st;
}

/* ---- the fleet ---- */

static void s_build(sim_t *x, uint64_t seed, int max_nodes) {
        jmp_buf fail;
        memcpy(fail, x->fail, sizeof fail);   /* set by s_run before this */
        memset(x, 0, sizeof *x);
        memcpy(x->fail, fail, sizeof fail);
        x->rng.s = seed * 0x9E3779B97F4A7C15ull + 7;
        x->n = rnd(x, 1, max_nodes);
        int n_phases = rnd(x, 1, x->n < MAX_PHASES ? x->n : MAX_PHASES);
        /* Nodes 0..in_plan-1 in phases (contiguous runs), the rest in none. */
        int in_plan = x->n > 2 && chance(x, 300) ? x->n - rnd(x, 1, 2) : x->n;
        if (in_plan < n_phases)
                in_plan = n_phases;
        int next = 0;
        for (int p = 0; p < n_phases; p++) {
                int left = in_plan - next, phases_left = n_phases - p;
                int size = p == n_phases - 1 ? left : rnd(x, 1, left - (phases_left - 1));
                for (int k = 0; k < size; k++)
                        x->phase_nodes[p][k] = next++;
                static const plan_on_failure_t of[] = { PLAN_ON_FAILURE_PAUSE, PLAN_ON_FAILURE_ROLLBACK_NODE,
                                                        PLAN_ON_FAILURE_ROLLBACK_PHASE };
                int64_t min_ms = rnd(x, 0, 3) * 1000;
                x->ph[p] = (plan_phase_t) { .name = "p", .canary = chance(x, 300) ? rnd(x, 1, 2) : 0,
                                            .auto_promote = chance(x, 500), .min_healthy_time_ms = min_ms,
                                            .healthy_deadline_ms = min_ms + rnd(x, 2, 20) * 1000,
                                            .on_failure = of[rnd(x, 0, 2)], .drain = chance(x, 500),
                                            .restart = s_units,
                                            .pause_between_batches_ms = chance(x, 200) ? rnd(x, 1, 5) * 1000 : 0,
                                            .mode = chance(x, 300) ? PLAN_MODE_BATCH : PLAN_MODE_ROLLING };
                x->pc[p] = (upgrade_phase_config_t) { .params = &x->ph[p], .nodes = x->phase_nodes[p],
                                                      .n_nodes = (size_t) size, .batch_size = rnd(x, 1, 5),
                                                      .max_failures = rnd(x, 0, 3) };
        }
        size_t n_groups = (size_t) rnd(x, 0, MAX_GROUPS);
        for (size_t g = 0; g < n_groups; g++) {
                int size = rnd(x, 1, x->n < 7 ? x->n : 7), k = 0;
                bool used[MAX_NODES] = { false };
                while (k < size) {
                        int i = rnd(x, 0, x->n - 1);
                        if (!used[i]) {
                                used[i] = true;
                                x->members[g][k++] = i;
                        }
                }
                int lim = size - (size / 2 + 1);   /* a majority stays up */
                int max_down = chance(x, 500) ? QUORUM_MAX_DOWN_DEFAULT : rnd(x, 0, lim < 2 ? lim : 2);
                x->groups[g] = (quorum_group_t) { .name = "g", .members = x->members[g], .n_members = (size_t) size,
                                                  .max_down = max_down };
                x->budget[g] = max_down >= 0 && max_down < lim ? max_down : lim;
        }
        x->cfg = (upgrade_config_t) { .n_nodes = (size_t) x->n, .groups = x->groups, .n_groups = n_groups,
                                      .phases = x->pc, .n_phases = (size_t) n_phases };
        for (int i = 0; i < x->n; i++)
                x->nodes[i] = (node_t) { .reachable = true, .healthy = true, .healthy_since = 0,
                                         .verify_start = -1, .sick_when_new = chance(x, 30) };
        CHECK(x, upgrade_machine_new(&x->cfg, &x->m) == 0, "machine_new refused a valid config");
}

/* ---- invariants ---- */

/* Members of g down with the machine's steps of `steps` and the health as
 * the machine knows it now. */
static int s_down(sim_t *x, size_t g, const upgrade_step_t *steps) {
        int d = 0;
        for (size_t k = 0; k < x->groups[g].n_members; k++) {
                int i = x->members[g][k];
                d += !x->nodes[i].reachable || !x->nodes[i].healthy || s_in_step(steps[i]);
        }
        return d;
}

static void s_before(sim_t *x) {
        for (int i = 0; i < x->n; i++) {
                x->before[i] = s_status(x, i).step;
                x->before_healthy[i] = x->nodes[i].healthy;
                x->before_reachable[i] = x->nodes[i].reachable;
                x->before_hs[i] = x->nodes[i].healthy_since;
        }
}

static bool s_same_actions(const upgrade_action_t *a, size_t na, const upgrade_action_t *b, size_t nb) {
        if (na != nb)
                return false;
        for (size_t k = 0; k < na; k++)
                if (a[k].kind != b[k].kind || a[k].node != b[k].node || a[k].cmd != b[k].cmd ||
                    a[k].cmd_id != b[k].cmd_id || strcmp(a[k].message, b[k].message) != 0)
                        return false;
        return true;
}

static void s_same_export(sim_t *x) {
        upgrade_record_t *ra, *rb;
        size_t na, nb;
        CHECK(x, upgrade_machine_export(x->m, &ra, &na) == 0 && upgrade_machine_export(x->twin, &rb, &nb) == 0,
              "export failed");
        bool same = na == nb && memcmp(ra, rb, na * sizeof *ra) == 0;
        free(ra);
        free(rb);
        CHECK(x, same, "differential: the restarted machine's state differs from the one that went on");
}

static void s_after(sim_t *x, const upgrade_action_t *a, size_t na) {
        upgrade_step_t now_steps[MAX_NODES];
        x->events++;
        CHECK(x, x->events < MAX_EVENTS, "no end after %d events", MAX_EVENTS);
        for (int i = 0; i < x->n; i++)
                now_steps[i] = s_status(x, i).step;
        for (size_t k = 0; k < na; k++) {
                if (a[k].kind != UPGRADE_ACT_SEND)
                        continue;
                node_t *n = &x->nodes[a[k].node];
                CHECK(x, a[k].cmd_id > x->last_id, "command id %llu after %llu: not new",
                      (unsigned long long) a[k].cmd_id, (unsigned long long) x->last_id);
                x->last_id = a[k].cmd_id;
                CHECK(x, n->reachable, "command %llu to unreachable node %d", (unsigned long long) a[k].cmd_id,
                      a[k].node);
                CHECK(x, n->cmd_id == 0, "node %d: a second command while %llu runs", a[k].node,
                      (unsigned long long) n->cmd_id);
                CHECK(x, a[k].allow_downgrade == (a[k].cmd == UPGRADE_CMD_ROLLBACK), "downgrade outside rollback");
                n->cmd_id = a[k].cmd_id;
                n->cmd = a[k].cmd;
                n->due = x->now + rnd(x, 20, 2000);
                n->will_fail = chance(x, 60);
                n->answer_lost = chance(x, 15);
        }
        for (size_t g = 0; g < x->cfg.n_groups; g++) {
                bool started = false;
                for (size_t k = 0; k < x->groups[g].n_members; k++) {
                        int i = x->members[g][k];
                        started = started || (!s_in_step(x->before[i]) && s_in_step(now_steps[i]));
                }
                if (!started)
                        continue;
                int budget = x->budget[g] - (x->mutant ? 1 : 0);
                int was = s_down(x, g, x->before), is = s_down(x, g, now_steps);
                CHECK(x, is <= (was > budget ? was : budget), "group %zu: %d down after a start (before %d), budget %d",
                      g, is, was, budget);
        }
        for (int i = 0; i < x->n; i++) {
                node_t *n = &x->nodes[i];
                upgrade_step_t b = x->before[i], s = now_steps[i];
                if (s == UPGRADE_STEP_VERIFYING && b != UPGRADE_STEP_VERIFYING)
                        n->verify_start = x->now;
                if (b == UPGRADE_STEP_VERIFYING && (s == UPGRADE_STEP_DONE || s == UPGRADE_STEP_UNDRAINING)) {
                        const plan_phase_t *p = x->cfg.phases[s_status(x, i).phase].params;
                        /* Judged on the health before this event (a gate due
                         * at the instant of a change) or after it (a gate of
                         * 0 ms passed as the node turns healthy). */
                        int64_t from_b = x->before_hs[i] > n->verify_start ? x->before_hs[i] : n->verify_start;
                        int64_t from_a = n->healthy_since > n->verify_start ? n->healthy_since : n->verify_start;
                        bool ok_b = x->before_healthy[i] && x->before_reachable[i] && x->before_hs[i] >= 0 &&
                                    x->now - from_b >= p->min_healthy_time_ms;
                        bool ok_a = n->healthy && n->reachable && n->healthy_since >= 0 &&
                                    x->now - from_a >= p->min_healthy_time_ms;
                        CHECK(x, ok_b || ok_a, "node %d passed its health gate: healthy %d (before %d) since %lld "
                              "(before %lld), verifying since %lld, min_healthy_time %lld ms", i, n->healthy,
                              x->before_healthy[i], (long long) n->healthy_since, (long long) x->before_hs[i],
                              (long long) n->verify_start, (long long) p->min_healthy_time_ms);
                }
                /* Done through verifying: in this event (a gate of 0 ms, healthy
                 * now), or from verifying or undraining. */
                if (s == UPGRADE_STEP_DONE && b != UPGRADE_STEP_DONE && b != UPGRADE_STEP_VERIFYING &&
                    b != UPGRADE_STEP_UNDRAINING) {
                        const plan_phase_t *p = x->cfg.phases[s_status(x, i).phase].params;
                        CHECK(x, p->min_healthy_time_ms == 0 && n->healthy && n->reachable,
                              "node %d done from %s", i, upgrade_step_name(b));
                }
                if (s != UPGRADE_STEP_VERIFYING)
                        n->verify_start = -1;
        }
}

/* ---- events, on the machine and (after a restart) its twin ---- */

typedef enum { EV_TICK, EV_RESULT, EV_HEALTH, EV_REACHABLE, EV_ADMIN } ev_kind_t;

typedef struct {
        ev_kind_t kind;
        int node;
        uint64_t cmd_id;
        upgrade_result_t result;
        bool flag;
        upgrade_admin_t op;
        int arg;
} ev_t;

static int s_apply(sim_t *x, upgrade_machine_t *m, const ev_t *e, const upgrade_action_t **a, size_t *na) {
        switch (e->kind) {
        case EV_TICK:
                return upgrade_machine_tick(m, x->now, a, na);
        case EV_RESULT:
                return upgrade_machine_on_result(m, x->now, e->node, e->cmd_id, e->result, true, e->flag,
                                                 e->result == UPGRADE_RESULT_SUCCEEDED ? NULL : "simulated", a, na);
        case EV_HEALTH:
                return upgrade_machine_on_health(m, x->now, e->node, e->flag, a, na);
        case EV_REACHABLE:
                return upgrade_machine_on_reachable(m, x->now, e->node, e->flag, a, na);
        case EV_ADMIN:
                return upgrade_machine_admin(m, x->now, e->op, e->arg, a, na);
        }
        return -1;
}

/* What the machine is told of a node, as it is told: the checker's view
 * changes between the snapshot before the event and the check after. */
static void s_learn(sim_t *x, const ev_t *e) {
        node_t *n = &x->nodes[e->node];
        if (e->kind == EV_HEALTH) {
                n->healthy = e->flag;
                n->healthy_since = e->flag ? x->now : -1;
        } else if (e->kind == EV_REACHABLE) {
                n->reachable = e->flag;
                n->healthy_since = e->flag && n->healthy ? x->now : -1;
        } else if (e->kind == EV_RESULT && s_status(x, e->node).cmd_id == e->cmd_id && n->healthy != e->flag) {
                /* a result carries the node's health; a stale one is ignored */
                n->healthy = e->flag;
                n->healthy_since = e->flag ? x->now : -1;
        }
}

static bool s_trace;

static int s_event(sim_t *x, const ev_t *e) {
        const upgrade_action_t *a, *b;
        size_t na, nb;
        s_before(x);
        s_learn(x, e);
        int r = s_apply(x, x->m, e, &a, &na);
        if (s_trace) {
                printf("t=%lld ev %d node %d id %llu res %d flag %d op %d arg %d -> %d:", (long long) x->now, e->kind,
                       e->node, (unsigned long long) e->cmd_id, e->result, e->flag, e->op, e->arg, r);
                for (size_t k = 0; r == 0 && k < na; k++)
                        printf(" [%d n%d %s #%llu %s]", a[k].kind, a[k].node, upgrade_cmd_name(a[k].cmd),
                               (unsigned long long) a[k].cmd_id, a[k].message);
                printf("\n");
                for (int i = 0; i < x->n; i++) {
                        upgrade_node_status_t st = s_status(x, i);
                        printf("   n%d %s h%d r%d hs %lld | told h%d r%d hs %lld\n", i, upgrade_step_name(st.step),
                               st.healthy, st.reachable, (long long) st.healthy_since_ms, x->nodes[i].healthy,
                               x->nodes[i].reachable, (long long) x->nodes[i].healthy_since);
                }
        }
        if (x->twin) {
                int rt = s_apply(x, x->twin, e, &b, &nb);
                CHECK(x, r == rt && (r < 0 || s_same_actions(a, na, b, nb)),
                      "differential: after a restart the machine decided otherwise (event kind %d)", e->kind);
                s_same_export(x);
                if (--x->twin_left == 0)
                        upgrade_machine_destroy(&x->twin);
        }
        if (r == 0)
                s_after(x, a, na);
        return r;
}

/* The coordinator restarts: the machine is rebuilt from its export. The
 * old one goes on beside it as the twin for a while. */
static void s_restart(sim_t *x) {
        upgrade_record_t *recs;
        size_t n;
        upgrade_machine_t *m2;
        CHECK(x, upgrade_machine_export(x->m, &recs, &n) == 0, "export failed");
        int r = upgrade_machine_import(&x->cfg, recs, n, &m2);
        free(recs);
        CHECK(x, r == 0, "import refused its own export (%d)", r);
        upgrade_machine_destroy(&x->twin);
        x->twin = x->m;
        x->m = m2;
        x->twin_left = TWIN_EVENTS;
        x->restarts++;
}

static void s_tell_health(sim_t *x, int i, bool healthy) {
        if (x->nodes[i].healthy == healthy || !x->nodes[i].reachable)
                return;
        ev_t e = { .kind = EV_HEALTH, .node = i, .flag = healthy };
        CHECK(x, s_event(x, &e) == 0, "on_health failed");
}

static void s_tell_reachable(sim_t *x, int i, bool reachable) {
        ev_t e = { .kind = EV_REACHABLE, .node = i, .flag = reachable };
        CHECK(x, s_event(x, &e) == 0, "on_reachable failed");
}

static bool s_truly_healthy(sim_t *x, int i) {
        node_t *n = &x->nodes[i];
        return n->unhealthy_until <= x->now && !(n->version == 1 && n->sick_when_new);
}

static void s_answer(sim_t *x, int i) {
        node_t *n = &x->nodes[i];
        bool ok = !n->will_fail;
        if (ok && n->cmd == UPGRADE_CMD_INSTALL)
                n->version = 1;
        if (ok && n->cmd == UPGRADE_CMD_ROLLBACK)
                n->version = 0;
        uint64_t id = n->cmd_id;
        n->cmd_id = 0;
        if (n->answer_lost)
                return;   /* the machine hears nothing: its step runs to its deadline or the node's loss */
        bool h = s_truly_healthy(x, i);
        ev_t e = { .kind = EV_RESULT, .node = i, .cmd_id = id,
                   .result = ok ? UPGRADE_RESULT_SUCCEEDED : UPGRADE_RESULT_FAILED, .flag = h };
        CHECK(x, s_event(x, &e) == 0, "on_result failed");
}

static void s_admin(sim_t *x) {
        static const upgrade_admin_t ops[] = { UPGRADE_ADMIN_PAUSE, UPGRADE_ADMIN_RESUME, UPGRADE_ADMIN_RESUME,
                                               UPGRADE_ADMIN_PROMOTE, UPGRADE_ADMIN_PROMOTE,
                                               UPGRADE_ADMIN_ROLLBACK_NODE, UPGRADE_ADMIN_ROLLED_BACK_LOCALLY,
                                               UPGRADE_ADMIN_ROLLBACK_PHASE, UPGRADE_ADMIN_ABORT,
                                               UPGRADE_ADMIN_ROLLBACK_ALL };
        int k = rnd(x, 0, (int) (sizeof ops / sizeof *ops) - 1);
        /* abort and rollback of everything are rare: they end the story */
        if ((ops[k] == UPGRADE_ADMIN_ABORT || ops[k] == UPGRADE_ADMIN_ROLLBACK_ALL) && !chance(x, 100))
                return;
        ev_t e = { .kind = EV_ADMIN, .op = ops[k] };
        if (ops[k] == UPGRADE_ADMIN_ROLLBACK_NODE || ops[k] == UPGRADE_ADMIN_ROLLED_BACK_LOCALLY)
                e.arg = rnd(x, 0, x->n - 1);
        if (ops[k] == UPGRADE_ADMIN_ROLLBACK_PHASE)
                e.arg = rnd(x, 0, (int) x->cfg.n_phases - 1);
        if (ops[k] == UPGRADE_ADMIN_ROLLED_BACK_LOCALLY && x->nodes[e.arg].cmd_id == 0 &&
            s_status(x, e.arg).phase >= 0 && s_status(x, e.arg).step != UPGRADE_STEP_PENDING)
                x->nodes[e.arg].version = 0;   /* what the node's root did */
        x->admin_ops++;
        (void) s_event(x, &e);   /* refusals (-EALREADY, -EPERM, -EINVAL) are fine */
}

static void s_disturb(sim_t *x) {
        int i = rnd(x, 0, x->n - 1);
        node_t *n = &x->nodes[i];
        if (chance(x, 250)) {
                if (n->unreachable_until == 0) {
                        n->unreachable_until = x->now + rnd(x, 500, 15000);
                        s_tell_reachable(x, i, false);
                }
        } else if (n->unhealthy_until <= x->now) {
                n->unhealthy_until = x->now + rnd(x, 100, 3000);
                s_tell_health(x, i, false);
        }
}

/* True when nothing can move any more without an admin. */
static bool s_settled(sim_t *x) {
        upgrade_conditions_t c;
        upgrade_machine_conditions(x->m, &c);
        if (c.complete.status)
                return true;
        for (int i = 0; i < x->n; i++)
                if (x->nodes[i].cmd_id || x->nodes[i].unreachable_until)
                        return false;
        return upgrade_machine_next_due(x->m) == INT64_MAX && (c.paused || c.aborted);
}

/* One seed; 0 when every invariant held, else 1 with x->why. */
static int s_run(sim_t *x, uint64_t seed, int max_nodes, bool mutant) {
        if (setjmp(x->fail)) {
                upgrade_machine_destroy(&x->m);
                upgrade_machine_destroy(&x->twin);
                return 1;
        }
        s_build(x, seed, max_nodes);
        x->mutant = mutant;
        ev_t tick = { .kind = EV_TICK };
        CHECK(x, s_event(x, &tick) == 0, "tick failed");
        int64_t next_disturb = 300, next_admin = rnd(x, 1000, 20000);
        int quiet = 0;
        for (;;) {
                upgrade_conditions_t c;
                upgrade_machine_conditions(x->m, &c);
                if (c.complete.status)
                        break;
                if (s_settled(x)) {
                        /* the operator: resume a pause (a few times), else stop */
                        if (c.aborted || ++quiet > 5)
                                break;
                        ev_t e = { .kind = EV_ADMIN, .op = UPGRADE_ADMIN_RESUME };
                        (void) s_event(x, &e);
                }
                int64_t t = upgrade_machine_next_due(x->m);
                if (next_disturb < t)
                        t = next_disturb;
                if (next_admin < t)
                        t = next_admin;
                for (int i = 0; i < x->n; i++) {
                        node_t *n = &x->nodes[i];
                        if (n->cmd_id && !n->unreachable_until && n->due < t)
                                t = n->due;
                        if (n->unreachable_until && n->unreachable_until < t)
                                t = n->unreachable_until;
                        if (n->unhealthy_until > x->now && n->unhealthy_until < t)
                                t = n->unhealthy_until;
                }
                if (t > x->now)
                        x->now = t;
                for (int i = 0; i < x->n; i++) {
                        node_t *n = &x->nodes[i];
                        if (n->unreachable_until && n->unreachable_until <= x->now) {
                                n->unreachable_until = 0;
                                if (n->cmd_id)
                                        s_answer(x, i);   /* reported on reconnect (a retired id: stale) */
                                s_tell_reachable(x, i, true);
                        }
                        if (n->reachable && n->cmd_id && n->due <= x->now)
                                s_answer(x, i);
                        if (n->reachable && n->healthy != s_truly_healthy(x, i))
                                s_tell_health(x, i, s_truly_healthy(x, i));
                }
                if (next_disturb <= x->now) {
                        s_disturb(x);
                        next_disturb = x->now + rnd(x, 200, 4000);
                }
                if (next_admin <= x->now) {
                        s_admin(x);
                        next_admin = x->now + rnd(x, 2000, 30000);
                }
                if (chance(x, 20))
                        s_restart(x);
                CHECK(x, s_event(x, &tick) == 0, "tick failed");
                /* an operator promotes a phase waiting on its canaries */
                upgrade_machine_conditions(x->m, &c);
                if (c.promote_pending && chance(x, 300)) {
                        ev_t e = { .kind = EV_ADMIN, .op = UPGRADE_ADMIN_PROMOTE };
                        (void) s_event(x, &e);
                }
        }
        upgrade_machine_destroy(&x->m);
        upgrade_machine_destroy(&x->twin);
        return 0;
}

/* The smallest max_nodes (from the failing one down) at which seed still
 * fails. */
static int s_shrink(sim_t *x, uint64_t seed, int max_nodes, bool mutant) {
        int smallest = max_nodes;
        for (int k = max_nodes - 1; k >= 1; k--)
                if (s_run(x, seed, k, mutant))
                        smallest = k;
        return smallest;
}

static long s_env(const char *name, long dflt) {
        const char *v = getenv(name);
        return v && atol(v) > 0 ? atol(v) : dflt;
}

static sim_t s_x;

START_TEST(test_many_small_fleets) {
        long seeds = s_env("UPGRADE_SIM_SMALL_SEEDS", 10000);
        s_trace = getenv("UPGRADE_SIM_TRACE") != NULL;
        long one = s_env("UPGRADE_SIM_SEED", 0);
        int max_nodes = (int) s_env("UPGRADE_SIM_NODES", MAX_NODES);
        long events = 0, restarts = 0, admin = 0;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long s = one ? one : 1; s <= (one ? one : seeds); s++) {
                if (s_run(&s_x, (uint64_t) s, max_nodes, false)) {
                        char why[512];
                        snprintf(why, sizeof why, "%s", s_x.why);
                        int k = s_shrink(&s_x, (uint64_t) s, max_nodes, false);
                        ck_abort_msg("seed %ld fails: %s\n  smallest: %d nodes; rerun: UPGRADE_SIM_SEED=%ld "
                                     "UPGRADE_SIM_NODES=%d build/tests/test_upgrade_sim_breadth",
                                     s, why, k, s, k);
                }
                events += s_x.events;
                restarts += s_x.restarts;
                admin += s_x.admin_ops;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
        long n = one ? 1 : seeds;
        printf("upgrade sim breadth: %ld seeds (1-%d nodes) in %.1f s (%.0f seeds/s): %ld events, %ld restarts "
               "with a differential run, %ld admin requests\n",
               n, max_nodes, secs, (double) n / secs, events, restarts, admin);
}
END_TEST

/* The search and the shrinking work: with a checker that is wrong on
 * purpose (budgets one smaller than the rules), a failure is found, the
 * shrunk fleet is no bigger, and rerunning it fails again. */
START_TEST(test_failure_found_shrunk_and_rerun) {
        long found = 0;
        for (long s = 1; s <= 2000 && !found; s++)
                if (s_run(&s_x, (uint64_t) s, MAX_NODES, true))
                        found = s;
        ck_assert_msg(found, "the mutant checker found nothing in 2000 seeds");
        int k = s_shrink(&s_x, (uint64_t) found, MAX_NODES, true);
        ck_assert_int_le(k, MAX_NODES);
        ck_assert_int_eq(s_run(&s_x, (uint64_t) found, k, true), 1);
        ck_assert_ptr_nonnull(strstr(s_x.why, "budget"));
        char why[512];
        snprintf(why, sizeof why, "%s", s_x.why);
        ck_assert_int_eq(s_run(&s_x, (uint64_t) found, k, false), 0);   /* the real checker: fine */
        printf("mutant checker: seed %ld fails, shrunk to %d nodes: %s\n", found, k, why);
}
END_TEST

int main(void) {
        Suite *s = suite_create("upgrade_sim_breadth");
        TCase *tc = tcase_create("breadth");
        tcase_set_timeout(tc, 600);
        tcase_add_test(tc, test_many_small_fleets);
        tcase_add_test(tc, test_failure_found_shrunk_and_rerun);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int nf = srunner_ntests_failed(sr);
        srunner_free(sr);
        return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
