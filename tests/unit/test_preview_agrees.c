/* `plan check` shows what the executor will do: over random plans, the
 * batches plan_preview_build() reports are the batches the real upgrade
 * machine starts when driven here as the executor drives it, by fake agents
 * that answer every command with success after the same delay (as in
 * test_upgrade_sim.c). A batch, on the machine's side, is the nodes of a
 * phase whose first command leaves at the same instant.
 *
 * The machine's config is built here from the plan and the inventory (the
 * nodes of the phase's role in id order, the quorum groups' members),
 * never from the preview, and the batch size resolved with plan_math.h as
 * the executor's setup does. Members of a group whose budget is 0 are refused by the
 * preview; the executor never starts them, so they are left out here too.
 *
 * Seeds 0..PLANS-1, one plan each; a failure names the plan's text. */
#include <check.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/fleet/inventory.h"
#include "coordinator/upgrade/plan.h"
#include "coordinator/upgrade/plan_math.h"
#include "coordinator/upgrade/plan_preview.h"
#include "coordinator/upgrade/upgrade_machine.h"
#include "tests/helpers/check_run.h"
#include "tests/helpers/test_rng.h"

#define PLANS 500
#define MAX_NODES 12
#define MAX_GROUPS 3
#define DELAY_MS 1000
#define OUT_MAX 1024

static int rnd_in(test_rng_t *r, int lo, int hi) {
        return (int) test_rng_in(r, lo, hi);
}

/* One random plan, inventory and fleet, with what the test needs to drive
 * the machine itself. */
typedef struct {
        int n;                        /* nodes n01.. */
        char ids[MAX_NODES][8];
        int phase_of[MAX_NODES];      /* -1: in no phase */
        bool healthy[MAX_NODES];      /* only nodes in no phase may be unhealthy */
        int n_phases;
        char batch[2][8];
        int n_groups;
        int members[MAX_GROUPS][MAX_NODES];
        size_t n_members[MAX_GROUPS];
        int max_down[MAX_GROUPS];
        char plan_text[4096];
        char inv_text[1024];
} gen_t;

static int s_limit(int n) {
        return n - (n / 2 + 1);
}

static int s_budget(const gen_t *g, int q) {
        int lim = s_limit((int) g->n_members[q]);
        return g->max_down[q] < lim ? g->max_down[q] : lim;
}

/* In a group that tolerates no member down: the preview refuses it. */
static bool s_never(const gen_t *g, int i) {
        for (int q = 0; q < g->n_groups; q++)
                for (size_t k = 0; k < g->n_members[q]; k++)
                        if (g->members[q][k] == i && s_budget(g, q) == 0)
                                return true;
        return false;
}

static size_t s_cat(char *buf, size_t len, size_t off, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static size_t s_cat(char *buf, size_t len, size_t off, const char *fmt, ...) {
        va_list ap;
        if (off >= len)
                return off;
        va_start(ap, fmt);
        off += (size_t) vsnprintf(buf + off, len - off, fmt, ap);
        va_end(ap);
        return off;
}

static void s_generate(gen_t *g, uint64_t seed) {
        test_rng_t r = { seed * 2654435761u + 88172645463325252ull };
        size_t off;

        memset(g, 0, sizeof *g);
        g->n = rnd_in(&r, 1, MAX_NODES);
        g->n_phases = g->n >= 2 ? rnd_in(&r, 1, 2) : 1;
        for (int i = 0; i < g->n; i++) {
                snprintf(g->ids[i], sizeof g->ids[i], "n%02d", i + 1);
                g->phase_of[i] = rnd_in(&r, 0, 9) == 0 ? -1 : rnd_in(&r, 0, g->n_phases - 1);
                g->healthy[i] = true;
        }
        /* Every phase selects a node. */
        for (int p = 0; p < g->n_phases; p++)
                g->phase_of[p] = p;
        for (int i = 0; i < g->n; i++)
                if (g->phase_of[i] < 0 && rnd_in(&r, 0, 1))
                        g->healthy[i] = false;

        off = s_cat(g->plan_text, sizeof g->plan_text, 0,
                    "name = \"random\";\npackages = ( { name = \"pkg\"; version = \"2.0-1\"; } );\nphases = (\n");
        for (int p = 0; p < g->n_phases; p++) {
                int b = rnd_in(&r, 1, 5);
                bool pct = rnd_in(&r, 0, 4) == 0;
                if (pct)
                        snprintf(g->batch[p], sizeof g->batch[p], "%d%%", 20 * b);
                else
                        snprintf(g->batch[p], sizeof g->batch[p], "%d", b);
                /* By role, so that a canary may exceed the phase's size
                 * (plan.c refuses that for a list); nodes in id order. */
                off = s_cat(g->plan_text, sizeof g->plan_text, off, "%s{ name = \"p%d\"; nodes = { roles = [\"r%d\"",
                            p ? ",\n" : "", p, p);
                off = s_cat(g->plan_text, sizeof g->plan_text, off,
                            "]; }; batch = %s%s%s; canary = %d; auto_promote = %s; mode = \"%s\"; drain = %s; "
                            "min_healthy_time = \"%ds\"; pause_between_batches = \"%ds\"; restart = [%s]; }",
                            pct ? "\"" : "", g->batch[p], pct ? "\"" : "", rnd_in(&r, 0, 4),
                            rnd_in(&r, 0, 1) ? "true" : "false", rnd_in(&r, 0, 1) ? "batch" : "rolling",
                            rnd_in(&r, 0, 1) ? "true" : "false", rnd_in(&r, 0, 3), rnd_in(&r, 0, 2),
                            rnd_in(&r, 0, 1) ? "\"svc.service\"" : "");
        }
        s_cat(g->plan_text, sizeof g->plan_text, off, "\n);\n");

        g->n_groups = rnd_in(&r, 0, MAX_GROUPS);
        off = s_cat(g->inv_text, sizeof g->inv_text, 0, "quorum_groups = (");
        for (int q = 0; q < g->n_groups; q++) {
                int size = rnd_in(&r, 1, g->n < 5 ? g->n : 5);
                bool in[MAX_NODES] = { false };
                while ((int) g->n_members[q] < size) {
                        int i = rnd_in(&r, 0, g->n - 1);
                        if (!in[i]) {
                                in[i] = true;
                                g->members[q][g->n_members[q]++] = i;
                        }
                }
                /* The inventory refuses a max_down above the quorum's limit. */
                g->max_down[q] = rnd_in(&r, 0, s_limit(size) < 2 ? s_limit(size) : 2);
                off = s_cat(g->inv_text, sizeof g->inv_text, off, "%s { name = \"g%d\"; members = [",
                            q ? "," : "", q);
                for (size_t k = 0; k < g->n_members[q]; k++)
                        off = s_cat(g->inv_text, sizeof g->inv_text, off, "%s\"%s\"", k ? ", " : "",
                                    g->ids[g->members[q][k]]);
                off = s_cat(g->inv_text, sizeof g->inv_text, off, "]; max_down = %d; }", g->max_down[q]);
        }
        s_cat(g->inv_text, sizeof g->inv_text, off, " );");
}

/* ---- the preview's side ------------------------------------------------------ */

static int s_cmp_str(const void *x, const void *y) {
        return strcmp(*(const char *const *) x, *(const char *const *) y);
}

/* "[c:n01,n03] [n02]": a phase's batches, "c:" marking a canary batch.
 * Nodes within a batch are sorted: they start at the same instant, and the
 * order among them depends on the order the answers came in. */
static size_t s_batch_text(char *out, size_t off, bool first, bool canary, const char **ids, size_t n) {
        qsort(ids, n, sizeof *ids, s_cmp_str);
        off = s_cat(out, OUT_MAX, off, "%s[%s", first ? "" : " ", canary ? "c:" : "");
        for (size_t k = 0; k < n; k++)
                off = s_cat(out, OUT_MAX, off, "%s%s", k ? "," : "", ids[k]);
        return s_cat(out, OUT_MAX, off, "]");
}

static void s_preview_batches(const gen_t *g, const plan_t *plan, char out[2][OUT_MAX], char waits[2][OUT_MAX]) {
        plan_node_t nodes[MAX_NODES];
        static const char *const roles[] = { "none", "r0", "r1" };
        plan_installed_t pkg = { "pkg", "1.0-1" };
        plan_fleet_t fleet = { .nodes = nodes, .n_nodes = (size_t) g->n };
        inventory_t inv;
        config_t cfg;
        conf_report_t r;
        plan_preview_t *pv = NULL;

        for (int i = 0; i < g->n; i++)
                nodes[i] = (plan_node_t) { .id = g->ids[i], .roles = &roles[g->phase_of[i] + 1], .n_roles = 1, .packages = &pkg,
                                           .n_packages = 1, .registered = true, .accepted = true,
                                           .online = true, .healthy = g->healthy[i] };
        config_init(&cfg);
        ck_assert_int_eq(config_read_string(&cfg, g->inv_text), CONFIG_TRUE);
        conf_report_init(&r, "coordinator.conf");
        ck_assert_int_eq(inventory_parse(config_root_setting(&cfg), &inv, &r), 0);
        conf_report_free(&r);
        config_destroy(&cfg);

        ck_assert_int_eq(plan_preview_build(plan, &inv, &fleet, &pv), 0);
        for (int p = 0; p < g->n_phases; p++) {
                const plan_preview_phase_t *pp = &pv->phases[p];
                size_t off = 0;
                out[p][0] = '\0';
                for (size_t b = 0; b < pp->n_batches; b++) {
                        const char *ids[MAX_NODES];
                        memcpy(ids, pp->batches[b].nodes, pp->batches[b].n_nodes * sizeof *ids);
                        off = s_batch_text(out[p], off, b == 0, pp->batches[b].canary, ids, pp->batches[b].n_nodes);
                }
                off = 0;
                waits[p][0] = '\0';
                for (size_t w = 0; w < pp->n_waiting; w++)
                        off = s_cat(waits[p], OUT_MAX, off, "%s%s", w ? "," : "", pp->waiting[w].node);
        }
        plan_preview_free(&pv);
        inventory_clear(&inv);
}

/* ---- the machine's side -------------------------------------------------------- */

typedef struct {
        const gen_t *g;
        const plan_t *plan;
        upgrade_machine_t *m;
        int64_t now;
        uint64_t cmd[MAX_NODES];      /* the command the fake agent runs, 0 if none */
        int64_t due[MAX_NODES];       /* when it answers */
        int64_t first[MAX_NODES];     /* when the node got its first command, -1 */
        int order[MAX_NODES];         /* nodes by first command */
        int n_started;
} drive_t;

static void s_actions(drive_t *d, const upgrade_action_t *a, size_t n) {
        bool promote = false;
        for (size_t k = 0; k < n; k++) {
                if (a[k].kind == UPGRADE_ACT_PROMOTE_WAIT)
                        promote = true;
                if (a[k].kind != UPGRADE_ACT_SEND)
                        continue;
                int i = a[k].node;
                ck_assert_uint_eq(d->cmd[i], 0);
                d->cmd[i] = a[k].cmd_id;
                d->due[i] = d->now + DELAY_MS;
                if (d->first[i] < 0) {
                        d->first[i] = d->now;
                        d->order[d->n_started++] = i;
                }
        }
        /* The operator promotes as soon as the canaries wait for it: the
         * preview shows the batches that follow. */
        if (promote) {
                ck_assert_int_eq(upgrade_machine_admin(d->m, d->now, UPGRADE_ADMIN_PROMOTE, 0, &a, &n), 0);
                s_actions(d, a, n);
        }
}

/* The batches the machine starts, and the nodes still pending in the phase
 * it stopped in (it goes no further: the later phases' batches are not
 * compared). Returns that phase, n_phases when the upgrade completed. */
static int s_machine_batches(const gen_t *g, const plan_t *plan, char out[2][OUT_MAX], char *pending) {
        static const char *names[MAX_NODES];
        int phase_nodes[2][MAX_NODES];
        upgrade_phase_config_t pc[2] = { { 0 } };
        quorum_group_t groups[MAX_GROUPS];
        upgrade_node_report_t reports[MAX_NODES];
        drive_t d = { .g = g, .plan = plan };
        const upgrade_action_t *a;
        size_t na;

        for (int i = 0; i < g->n; i++) {
                names[i] = g->ids[i];
                d.first[i] = -1;
                reports[i] = (upgrade_node_report_t) { .node = i, .registered = true, .reachable = true,
                                                       .healthy = g->healthy[i] };
        }
        for (int p = 0; p < g->n_phases; p++) {
                int selected = 0;
                pc[p].params = &plan->phases[p];
                pc[p].nodes = phase_nodes[p];
                for (int i = 0; i < g->n; i++) {
                        if (g->phase_of[i] != p)
                                continue;
                        selected++;
                        if (!s_never(g, i))
                                phase_nodes[p][pc[p].n_nodes++] = i;
                }
                ck_assert_int_eq(plan_parse_batch(g->batch[p], selected, &pc[p].batch_size), 0);
                pc[p].max_failures = 0;
        }
        for (int q = 0; q < g->n_groups; q++)
                groups[q] = (quorum_group_t) { .name = "g", .members = g->members[q],
                                               .n_members = g->n_members[q], .max_down = g->max_down[q] };
        upgrade_config_t cfg = { .n_nodes = (size_t) g->n, .names = names, .groups = groups,
                                 .n_groups = (size_t) g->n_groups, .phases = pc,
                                 .n_phases = (size_t) g->n_phases };
        ck_assert_int_eq(upgrade_machine_new(&cfg, &d.m), 0);
        ck_assert_int_eq(upgrade_machine_on_nodes(d.m, 0, reports, (size_t) g->n, &a, &na), 0);
        s_actions(&d, a, na);

        /* Events in time order: every answer due now, in node order, else
         * the machine's own timer. Bounded: each node has at most 5
         * commands and 2 timers. */
        for (int guard = 0; guard < 20 * MAX_NODES + 20; guard++) {
                int64_t next = upgrade_machine_next_due(d.m);
                for (int i = 0; i < g->n; i++)
                        if (d.cmd[i] && d.due[i] < next)
                                next = d.due[i];
                if (next == INT64_MAX)
                        break;
                d.now = next;
                bool answered = false;
                for (int i = 0; i < g->n; i++) {
                        if (!d.cmd[i] || d.due[i] != d.now)
                                continue;
                        uint64_t id = d.cmd[i];
                        d.cmd[i] = 0;
                        answered = true;
                        ck_assert_int_eq(upgrade_machine_on_result(d.m, d.now, i, id, UPGRADE_RESULT_SUCCEEDED,
                                                                   true, true, NULL, &a, &na), 0);
                        s_actions(&d, a, na);
                }
                if (!answered) {
                        ck_assert_int_eq(upgrade_machine_tick(d.m, d.now, &a, &na), 0);
                        s_actions(&d, a, na);
                }
        }

        for (int p = 0; p < g->n_phases; p++) {
                size_t off = 0, n = 0;
                int started = 0;
                const char *ids[MAX_NODES];
                bool canary = false;
                int64_t at = -1;
                out[p][0] = '\0';
                for (int k = 0; k <= d.n_started; k++) {
                        int i = k < d.n_started ? d.order[k] : -1;
                        if (i >= 0 && g->phase_of[i] != p)
                                continue;
                        if (n > 0 && (i < 0 || d.first[i] != at)) {
                                off = s_batch_text(out[p], off, off == 0, canary, ids, n);
                                n = 0;
                        }
                        if (i < 0)
                                break;
                        if (n == 0) {
                                canary = started < plan->phases[p].canary;
                                at = d.first[i];
                        }
                        ids[n++] = g->ids[i];
                        started++;
                }
        }
        upgrade_conditions_t c;
        upgrade_machine_conditions(d.m, &c);
        pending[0] = '\0';
        for (int i = 0, off = 0; i < g->n && c.phase < g->n_phases; i++) {
                upgrade_node_status_t st;
                ck_assert_int_eq(upgrade_machine_node(d.m, i, &st), 0);
                if (st.phase == c.phase && st.step == UPGRADE_STEP_PENDING)
                        off = (int) s_cat(pending, OUT_MAX, (size_t) off, "%s%s", off ? "," : "", g->ids[i]);
        }
        upgrade_machine_destroy(&d.m);
        return c.phase;
}

START_TEST(test_random_plans_agree) {
        int mismatches = 0;
        for (uint64_t seed = 0; seed < PLANS; seed++) {
                gen_t g;
                plan_t *plan = NULL;
                conf_report_t r;
                char want[2][OUT_MAX], got[2][OUT_MAX], waits[2][OUT_MAX], pending[OUT_MAX];

                s_generate(&g, seed);
                conf_report_init(&r, "random.conf");
                if (plan_parse_string("random.conf", g.plan_text, strlen(g.plan_text), &plan, &r) < 0) {
                        for (size_t k = 0; k < r.n_lines; k++)
                                fprintf(stderr, "%s\n", r.lines[k]);
                        ck_abort_msg("plan %llu does not parse:\n%s", (unsigned long long) seed, g.plan_text);
                }
                conf_report_free(&r);
                s_preview_batches(&g, plan, got, waits);
                int stop = s_machine_batches(&g, plan, want, pending);
                for (int p = 0; p < g.n_phases && p <= stop; p++)
                        if (strcmp(got[p], want[p]) != 0 && mismatches++ < 5)
                                fprintf(stderr, "plan %llu phase p%d: preview %s, machine %s\n%s%s\n",
                                        (unsigned long long) seed, p, got[p], want[p], g.plan_text, g.inv_text);
                /* Where the machine stops, the preview says who waits. */
                if (stop < g.n_phases && strcmp(waits[stop], pending) != 0 && mismatches++ < 5)
                        fprintf(stderr, "plan %llu phase p%d: preview waits %s, machine pending %s\n%s%s\n",
                                (unsigned long long) seed, stop, waits[stop], pending, g.plan_text, g.inv_text);
                plan_free(&plan);
        }
        ck_assert_msg(mismatches == 0, "%d phases where the preview and the machine disagree", mismatches);
}
END_TEST

int main(void) {
        Suite *s = suite_create("preview_agrees");
        TCase *tc = tcase_create("random plans");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_random_plans_agree);
        suite_add_tcase(s, tc);

        return check_run(s);
}
