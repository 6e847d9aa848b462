/* coordinator/plan_preview: the pure preview behind `hitlessctl plan check`.
 * Plans and inventories are parsed from text with the real parsers; the
 * fleet snapshot is built here. Budgets are checked by code written here
 * from the rule (a group of n tolerates n - (floor(n/2) + 1) down, or
 * max_down if lower), never by calling quorum.c. */
#include <check.h>
#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "coordinator/fleet/inventory.h"
#include "coordinator/upgrade/plan.h"
#include "coordinator/upgrade/plan_preview.h"

/* ---- building inputs -------------------------------------------------------- */

#define MAX_NODES 64

typedef struct {
        plan_node_t nodes[MAX_NODES];
        char ids[MAX_NODES][16];
        const char *roles[MAX_NODES][2];
        plan_installed_t pkgs[MAX_NODES][2];
        plan_fleet_t fleet;
        size_t n;
} fleet_t;

static void fleet_init(fleet_t *f) {
        memset(f, 0, sizeof *f);
        f->fleet.nodes = f->nodes;
}

/* A registered, accepted, online, healthy node with one role and "pkg" at
 * version (NULL: it does not manage "pkg"). */
static plan_node_t *add_node(fleet_t *f, const char *id, const char *role, const char *version) {
        size_t i = f->n++;
        plan_node_t *n = &f->nodes[i];

        ck_assert_uint_lt(i, MAX_NODES);
        snprintf(f->ids[i], sizeof f->ids[i], "%s", id);
        f->roles[i][0] = role;
        f->pkgs[i][0] = (plan_installed_t) { "pkg", version };
        *n = (plan_node_t) { .id = f->ids[i], .roles = f->roles[i], .n_roles = role ? 1 : 0,
                             .packages = f->pkgs[i], .n_packages = version ? 1 : 0,
                             .registered = true, .accepted = true, .online = true, .healthy = true };
        f->fleet.n_nodes = f->n;
        return n;
}

static void add_nodes(fleet_t *f, const char *prefix, int count, const char *role, const char *version) {
        for (int i = 1; i <= count; i++) {
                char id[16];
                snprintf(id, sizeof id, "%s%d", prefix, i);
                add_node(f, id, role, version);
        }
}

static plan_t *mkplan(const char *extra, const char *phases) {
        char text[8192];
        conf_report_t r;
        plan_t *p = NULL;

        snprintf(text, sizeof text,
                 "name = \"test\";\n"
                 "packages = ( { name = \"pkg\"; version = \"2.0-1\"; } );\n"
                 "%s\n"
                 "phases = ( %s );\n", extra ? extra : "", phases);
        conf_report_init(&r, "plan.conf");
        if (plan_parse_string("plan.conf", text, strlen(text), &p, &r) < 0) {
                for (size_t i = 0; i < r.n_lines; i++)
                        fprintf(stderr, "%s\n", r.lines[i]);
                ck_abort_msg("test plan does not parse");
        }
        conf_report_free(&r);
        return p;
}

static void mkinv(const char *text, inventory_t *inv) {
        config_t cfg;
        conf_report_t r;

        config_init(&cfg);
        ck_assert_int_eq(config_read_string(&cfg, text), CONFIG_TRUE);
        conf_report_init(&r, "coordinator.conf");
        if (inventory_parse(config_root_setting(&cfg), inv, &r) < 0) {
                for (size_t i = 0; i < r.n_lines; i++)
                        fprintf(stderr, "%s\n", r.lines[i]);
                ck_abort_msg("test inventory does not parse");
        }
        conf_report_free(&r);
        config_destroy(&cfg);
}

static plan_preview_t *preview(const plan_t *p, const inventory_t *inv, const fleet_t *f) {
        plan_preview_t *pv = NULL;
        ck_assert_int_eq(plan_preview_build(p, inv, &f->fleet, &pv), 0);
        ck_assert_ptr_nonnull(pv);
        return pv;
}

/* ---- reading the preview --------------------------------------------------- */

/* "db1,db2|db3" : the batches of a phase, batches separated by '|'. */
static const char *batches(const plan_preview_phase_t *ph) {
        static char buf[1024];
        size_t off = 0;
        buf[0] = '\0';
        for (size_t b = 0; b < ph->n_batches; b++)
                for (size_t k = 0; k < ph->batches[b].n_nodes; k++)
                        off += (size_t) snprintf(buf + off, sizeof buf - off, "%s%s",
                                                 k ? "," : b ? "|" : "", ph->batches[b].nodes[k]);
        return buf;
}

static const plan_preview_refusal_t *find_refusal(const plan_preview_t *pv, plan_refusal_kind_t kind,
                                                  const char *node) {
        for (size_t i = 0; i < pv->n_refusals; i++)
                if (pv->refusals[i].kind == kind && (!node || strcmp(pv->refusals[i].node, node) == 0))
                        return &pv->refusals[i];
        return NULL;
}

static const plan_preview_note_t *find_note(const plan_preview_note_t *v, size_t n, const char *node) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i].node, node) == 0)
                        return &v[i];
        return NULL;
}

static const plan_preview_node_t *find_node(const plan_preview_t *pv, const char *node) {
        for (size_t i = 0; i < pv->n_nodes; i++)
                if (strcmp(pv->nodes[i].node, node) == 0)
                        return &pv->nodes[i];
        return NULL;
}

static int limit_of(size_t n) {
        return (int) n - ((int) n / 2 + 1);
}

static const plan_node_t *snap_of(const fleet_t *f, const char *id) {
        for (size_t i = 0; i < f->n; i++)
                if (strcmp(f->nodes[i].id, id) == 0)
                        return &f->nodes[i];
        return NULL;
}

static bool down_now(const fleet_t *f, const char *id) {
        const plan_node_t *s = snap_of(f, id);
        return !s || !s->registered || !s->accepted || !s->online || !s->healthy;
}

static bool in_batch(const plan_preview_batch_t *b, const char *id) {
        for (size_t k = 0; k < b->n_nodes; k++)
                if (strcmp(b->nodes[k], id) == 0)
                        return true;
        return false;
}

/* Replays the batches in order: each batch's members are down during the
 * batch and up (done) after it; members down now stay down. No batch may
 * take a group over its budget, counted from the rule. */
static void check_budgets(const plan_preview_t *pv, const inventory_t *inv, const fleet_t *f) {
        for (size_t p = 0; p < pv->n_phases; p++)
                for (size_t b = 0; b < pv->phases[p].n_batches; b++) {
                        const plan_preview_batch_t *bt = &pv->phases[p].batches[b];
                        for (size_t g = 0; g < inv->n_quorum_groups; g++) {
                                const inventory_quorum_group_t *q = &inv->quorum_groups[g];
                                int budget = limit_of(q->n_members), down = 0, starting = 0;
                                if (q->max_down < budget)
                                        budget = q->max_down;
                                for (size_t m = 0; m < q->n_members; m++) {
                                        if (in_batch(bt, q->members[m]))
                                                starting++;
                                        else if (down_now(f, q->members[m]))
                                                down++;
                                }
                                ck_assert_msg(starting == 0 || down + starting <= budget,
                                              "phase %zu batch %zu: group %s has %d down + %d starting, "
                                              "budget %d", p, b, q->name, down, starting, budget);
                        }
                }
}

/* ---- scenarios --------------------------------------------------------------- */

START_TEST(test_three_db_max_down_1) {
        fleet_t f;
        inventory_t inv;
        fleet_init(&f);
        add_nodes(&f, "db", 3, "database", "1.0-1");
        mkinv("quorum_groups = ( { name = \"cassandra\"; members = [\"db1\", \"db2\", \"db3\"]; "
              "max_down = 1; } );", &inv);
        /* The batch allows all three: the quorum group allows one. */
        plan_t *p = mkplan(NULL, "{ name = \"database\"; nodes = { group = \"cassandra\"; }; batch = \"100%\"; }");
        plan_preview_t *pv = preview(p, &inv, &f);

        ck_assert(pv->valid);
        ck_assert_uint_eq(pv->n_refusals, 0);
        ck_assert_uint_eq(pv->n_phases, 1);
        ck_assert_int_eq(pv->phases[0].batch_size, 3);
        ck_assert_uint_eq(pv->phases[0].n_batches, 3);
        ck_assert_str_eq(batches(&pv->phases[0]), "db1|db2|db3");
        ck_assert_uint_eq(pv->phases[0].n_waiting, 0);
        check_budgets(pv, &inv, &f);

        ck_assert_uint_eq(pv->n_groups, 1);
        ck_assert_int_eq(pv->groups[0].quorum_max_down, 1);
        ck_assert_int_eq(pv->groups[0].budget, 1);
        ck_assert_uint_eq(pv->groups[0].n_down, 0);
        ck_assert_int_eq(pv->groups[0].to_upgrade, 3);
        ck_assert_int_eq(pv->groups[0].min_rounds, 3);

        const plan_preview_node_t *n = find_node(pv, "db2");
        ck_assert_ptr_nonnull(n);
        ck_assert_str_eq(n->phase, "database");
        ck_assert_str_eq(n->state, "up");
        ck_assert_uint_eq(n->n_changes, 1);
        ck_assert_str_eq(n->changes[0].package, "pkg");
        ck_assert_str_eq(n->changes[0].from, "1.0-1");
        ck_assert_str_eq(n->changes[0].to, "2.0-1");
        ck_assert_int_eq(n->changes[0].action, PLAN_CHANGE_UPGRADE);
        plan_preview_free(&pv);
        ck_assert_ptr_null(pv);
        plan_free(&p);
        inventory_clear(&inv);
}
END_TEST

START_TEST(test_five_db_max_down_2) {
        fleet_t f;
        inventory_t inv;
        fleet_init(&f);
        add_nodes(&f, "db", 5, "database", "1.0-1");
        mkinv("quorum_groups = ( { name = \"zk\"; members = [\"db1\", \"db2\", \"db3\", \"db4\", \"db5\"]; "
              "max_down = 2; } );", &inv);
        plan_t *p = mkplan(NULL, "{ name = \"database\"; nodes = { roles = [\"database\"]; }; batch = 5; }");
        plan_preview_t *pv = preview(p, &inv, &f);

        ck_assert(pv->valid);
        ck_assert_uint_eq(pv->phases[0].n_batches, 3);
        ck_assert_uint_eq(pv->phases[0].batches[0].n_nodes, 2);
        ck_assert_uint_eq(pv->phases[0].batches[1].n_nodes, 2);
        ck_assert_uint_eq(pv->phases[0].batches[2].n_nodes, 1);
        ck_assert_int_eq(pv->groups[0].min_rounds, 3);
        check_budgets(pv, &inv, &f);
        plan_preview_free(&pv);
        plan_free(&p);
        inventory_clear(&inv);

        /* The same group with the default max_down (2 for 5) and a stricter
         * batch of 1: five rounds, the batch decides. */
        mkinv("quorum_groups = ( { name = \"zk\"; members = [\"db1\", \"db2\", \"db3\", \"db4\", \"db5\"]; } );",
              &inv);
        p = mkplan(NULL, "{ name = \"database\"; nodes = { roles = [\"database\"]; }; }");
        pv = preview(p, &inv, &f);
        ck_assert_int_eq(pv->groups[0].budget, 2);
        ck_assert_str_eq(batches(&pv->phases[0]), "db1|db2|db3|db4|db5");
        plan_preview_free(&pv);
        plan_free(&p);
        inventory_clear(&inv);
}
END_TEST

START_TEST(test_computes_fifty_percent_and_canary) {
        fleet_t f;
        fleet_init(&f);
        add_nodes(&f, "c", 4, "compute", "1.0-1");
        plan_t *p = mkplan(NULL, "{ name = \"computes\"; nodes = { roles = [\"compute\"]; }; batch = \"50%\"; "
                                 "max_failures = \"50%\"; }");
        plan_preview_t *pv = preview(p, NULL, &f);
        ck_assert(pv->valid);
        ck_assert_int_eq(pv->phases[0].batch_size, 2);
        ck_assert_int_eq(pv->phases[0].max_failures, 2);
        ck_assert_str_eq(batches(&pv->phases[0]), "c1,c2|c3,c4");
        ck_assert(!pv->phases[0].batches[0].canary);
        plan_preview_free(&pv);
        plan_free(&p);

        /* 5 computes: 50% rounds down to 2. */
        add_node(&f, "c5", "compute", "1.0-1");
        p = mkplan(NULL, "{ name = \"computes\"; nodes = { roles = [\"compute\"]; }; batch = \"50%\"; }");
        pv = preview(p, NULL, &f);
        ck_assert_str_eq(batches(&pv->phases[0]), "c1,c2|c3,c4|c5");
        plan_preview_free(&pv);
        plan_free(&p);

        /* Canaries go first, at most batch of them at once (as the
         * executor starts them: issue 14), then the batches. */
        static const struct {
                const char *spec, *want;
                size_t canaries;
        } cases[] = {
                { "batch = 2; canary = 1;", "c1|c2,c3|c4,c5", 1 },
                { "batch = 1; canary = 3;", "c1|c2|c3|c4|c5", 3 },
                { "batch = 2; canary = 3;", "c1,c2|c3|c4,c5", 2 },
        };
        for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
                char phase[256];
                snprintf(phase, sizeof phase, "{ name = \"computes\"; nodes = { roles = [\"compute\"]; }; %s }",
                         cases[t].spec);
                p = mkplan(NULL, phase);
                pv = preview(p, NULL, &f);
                ck_assert_str_eq(batches(&pv->phases[0]), cases[t].want);
                for (size_t b = 0; b < pv->phases[0].n_batches; b++)
                        ck_assert(pv->phases[0].batches[b].canary == (b < cases[t].canaries));
                plan_preview_free(&pv);
                plan_free(&p);
        }
}
END_TEST

START_TEST(test_downgrade_refused) {
        fleet_t f;
        fleet_init(&f);
        add_node(&f, "c1", "compute", "1.0-1");
        add_node(&f, "c2", "compute", "3.0-1");
        add_node(&f, "c3", "compute", "2.0-1");        /* already there */
        add_node(&f, "c4", "compute", "2.0-1~rc1");    /* '~' sorts before: an upgrade */
        add_node(&f, "c5", "compute", "1:1.0-1");      /* epoch 1: newer than 2.0-1 */
        plan_t *p = mkplan(NULL, "{ name = \"computes\"; nodes = { roles = [\"compute\"]; }; batch = 10; }");
        plan_preview_t *pv = preview(p, NULL, &f);
        const plan_preview_refusal_t *r;

        ck_assert(!pv->valid);
        ck_assert_uint_eq(pv->n_refusals, 2);
        r = find_refusal(pv, PLAN_REFUSE_DOWNGRADE, "c2");
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->phase, "computes");
        ck_assert_str_eq(r->package, "pkg");
        ck_assert_str_eq(r->message, "c2: pkg 3.0-1 is installed, newer than the plan's 2.0-1: "
                                     "no downgrade outside a rollback");
        ck_assert_ptr_nonnull(find_refusal(pv, PLAN_REFUSE_DOWNGRADE, "c5"));
        /* Refused and current nodes are not in any batch. */
        ck_assert_str_eq(batches(&pv->phases[0]), "c1,c4");
        ck_assert_str_eq(find_note(pv->phases[0].skipped, pv->phases[0].n_skipped, "c2")->reason, "refused");
        ck_assert_str_eq(find_note(pv->phases[0].skipped, pv->phases[0].n_skipped, "c3")->reason, "current");
        ck_assert_int_eq(find_node(pv, "c2")->changes[0].action, PLAN_CHANGE_DOWNGRADE);
        ck_assert_int_eq(find_node(pv, "c3")->changes[0].action, PLAN_CHANGE_CURRENT);
        plan_preview_free(&pv);
        plan_free(&p);
}
END_TEST

START_TEST(test_rpm_order_by_version_strings) {
        fleet_t f;
        fleet_init(&f);
        /* "2.0^git1" is only an rpm version: rpm order, where it is newer
         * than "2.0" (and a dpkg reading would not even be defined). */
        add_node(&f, "r1", "compute", "2.0^git1");
        add_node(&f, "r2", "compute", "1.9");
        plan_t *p = mkplan(NULL, "{ name = \"c\"; nodes = { roles = [\"compute\"]; }; }");
        /* mkplan's target is 2.0-1: compare against plain 2.0 instead. */
        free(p->packages[0].version);
        p->packages[0].version = strdup("2.0");
        plan_preview_t *pv = preview(p, NULL, &f);
        ck_assert_ptr_nonnull(find_refusal(pv, PLAN_REFUSE_DOWNGRADE, "r1"));
        ck_assert_ptr_null(find_refusal(pv, PLAN_REFUSE_DOWNGRADE, "r2"));
        plan_preview_free(&pv);

        /* rpm order forced: the same verdicts ("1.9" < "2.0" either way). */
        p->version_order = PLAN_ORDER_RPM;
        pv = preview(p, NULL, &f);
        ck_assert_uint_eq(pv->n_refusals, 1);
        ck_assert_str_eq(batches(&pv->phases[0]), "r2");
        plan_preview_free(&pv);
        plan_free(&p);
}
END_TEST

START_TEST(test_unknown_and_unaccepted_nodes) {
        fleet_t f;
        inventory_t inv;
        plan_node_t *n;
        fleet_init(&f);
        add_node(&f, "c1", "compute", "1.0-1");
        n = add_node(&f, "c2", "compute", "1.0-1");
        n->accepted = false;
        n->key_state = "rejected";
        n = add_node(&f, "c3", NULL, NULL);         /* a pending key claiming c3 */
        n->registered = false;
        n->accepted = false;
        n->key_state = "pending";
        n = add_node(&f, "c4", NULL, NULL);         /* accepted, never said Hello */
        n->registered = false;
        mkinv("groups = ( { name = \"edge\"; nodes = [\"c1\", \"c9\"]; } );", &inv);
        plan_t *p = mkplan(NULL,
                           "{ name = \"named\"; nodes = { list = [\"c1\", \"c2\", \"c3\", \"c4\", \"ghost\"]; }; },"
                           "{ name = \"edge\"; nodes = { group = \"edge\"; }; }");
        plan_preview_t *pv = preview(p, &inv, &f);
        const plan_preview_refusal_t *r;

        ck_assert(!pv->valid);
        ck_assert_uint_eq(pv->n_refusals, 5);
        r = find_refusal(pv, PLAN_REFUSE_KEY_NOT_ACCEPTED, "c2");
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->message, "phase named: the key of node c2 is rejected, not accepted "
                                     "(hitlessctl keys accept c2)");
        r = find_refusal(pv, PLAN_REFUSE_KEY_NOT_ACCEPTED, "c3");
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->message, "phase named: the key of node c3 is pending, not accepted "
                                     "(hitlessctl keys accept c3)");
        r = find_refusal(pv, PLAN_REFUSE_UNKNOWN_NODE, "c4");
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->message, "phase named: node c4 has an accepted key but never registered: "
                                     "its versions are unknown");
        r = find_refusal(pv, PLAN_REFUSE_UNKNOWN_NODE, "ghost");
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->message, "phase named: node ghost is not known to the coordinator "
                                     "(it never registered and no key names it)");
        /* A group's explicit node that never registered: refused too. */
        r = find_refusal(pv, PLAN_REFUSE_UNKNOWN_NODE, "c9");
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->phase, "edge");
        /* c1 is upgraded by the first phase; the second skips it. */
        ck_assert_str_eq(batches(&pv->phases[0]), "c1");
        ck_assert_str_eq(find_note(pv->phases[1].skipped, pv->phases[1].n_skipped, "c1")->reason,
                         "earlier_phase");
        ck_assert_str_eq(find_node(pv, "ghost")->state, "never registered");
        ck_assert_str_eq(find_node(pv, "c2")->state, "key not accepted");
        plan_preview_free(&pv);
        plan_free(&p);

        /* Selected by role, a node whose key was rejected is skipped, not
         * refused: the operator already turned it away. */
        p = mkplan(NULL, "{ name = \"computes\"; nodes = { roles = [\"compute\"]; }; }");
        pv = preview(p, &inv, &f);
        ck_assert(pv->valid);
        ck_assert_str_eq(batches(&pv->phases[0]), "c1");
        ck_assert_str_eq(find_note(pv->phases[0].skipped, pv->phases[0].n_skipped, "c2")->reason,
                         "key_not_accepted");
        plan_preview_free(&pv);
        plan_free(&p);
        inventory_clear(&inv);
}
END_TEST

START_TEST(test_budget_zero_group_refused) {
        fleet_t f;
        inventory_t inv;
        fleet_init(&f);
        add_nodes(&f, "db", 3, "database", "1.0-1");
        add_nodes(&f, "x", 2, "pair", "1.0-1");
        mkinv("quorum_groups = ( { name = \"strict\"; members = [\"db1\", \"db2\", \"db3\"]; max_down = 0; },"
              "                  { name = \"pair\"; members = [\"x1\", \"x2\"]; } );", &inv);
        plan_t *p = mkplan(NULL, "{ name = \"db\"; nodes = { roles = [\"database\"]; }; },"
                                 "{ name = \"pair\"; nodes = { group = \"pair\"; }; }");
        plan_preview_t *pv = preview(p, &inv, &f);
        const plan_preview_refusal_t *r;

        ck_assert(!pv->valid);
        ck_assert_uint_eq(pv->n_refusals, 5);
        r = find_refusal(pv, PLAN_REFUSE_QUORUM_BUDGET, "db2");
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->group, "strict");
        ck_assert_str_eq(r->message, "group strict tolerates no member down (3 members, max_down 0): "
                                     "db2 can never be upgraded without losing its quorum");
        r = find_refusal(pv, PLAN_REFUSE_QUORUM_BUDGET, "x1");
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->group, "pair");
        ck_assert_uint_eq(pv->phases[0].n_batches, 0);
        ck_assert_uint_eq(pv->phases[1].n_batches, 0);
        ck_assert_int_eq(pv->groups[0].min_rounds, -1);
        ck_assert_int_eq(pv->groups[1].min_rounds, -1);
        ck_assert_int_eq(pv->groups[1].quorum_max_down, 0);
        plan_preview_free(&pv);
        plan_free(&p);

        /* Members with nothing to do cost nothing: no refusal. */
        for (size_t i = 0; i < f.n; i++)
                f.pkgs[i][0].version = "2.0-1";
        p = mkplan(NULL, "{ name = \"db\"; nodes = { roles = [\"database\"]; }; }");
        pv = preview(p, &inv, &f);
        ck_assert(pv->valid);
        ck_assert_int_eq(pv->groups[0].min_rounds, 0);
        plan_preview_free(&pv);
        plan_free(&p);
        inventory_clear(&inv);
}
END_TEST

START_TEST(test_allowed_paths) {
        fleet_t f;
        fleet_init(&f);
        add_node(&f, "c1", "compute", "1.5-2");
        add_node(&f, "c2", "compute", "0.9-1");
        add_node(&f, "c3", "compute", "");          /* not installed: an install, no path */
        plan_t *p = mkplan("allowed_paths = ( { from = \"1.*\"; to = \"2.*\"; } );",
                           "{ name = \"computes\"; nodes = { roles = [\"compute\"]; }; batch = 3; }");
        plan_preview_t *pv = preview(p, NULL, &f);
        const plan_preview_refusal_t *r;

        ck_assert(!pv->valid);
        ck_assert_uint_eq(pv->n_refusals, 1);
        r = find_refusal(pv, PLAN_REFUSE_PATH_NOT_ALLOWED, "c2");
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->message, "c2: pkg 0.9-1 -> 2.0-1 is not in allowed_paths");
        ck_assert_str_eq(batches(&pv->phases[0]), "c1,c3");
        ck_assert_int_eq(find_node(pv, "c3")->changes[0].action, PLAN_CHANGE_INSTALL);
        ck_assert_str_eq(find_node(pv, "c3")->changes[0].from, "");
        plan_preview_free(&pv);
        plan_free(&p);

        /* A path for another package does not allow this one. */
        p = mkplan("allowed_paths = ( { package = \"other*\"; from = \"*\"; to = \"*\"; } );",
                   "{ name = \"computes\"; nodes = { roles = [\"compute\"]; }; }");
        pv = preview(p, NULL, &f);
        ck_assert_ptr_nonnull(find_refusal(pv, PLAN_REFUSE_PATH_NOT_ALLOWED, "c1"));
        ck_assert_ptr_nonnull(find_refusal(pv, PLAN_REFUSE_PATH_NOT_ALLOWED, "c2"));
        plan_preview_free(&pv);
        plan_free(&p);
}
END_TEST

START_TEST(test_overlapping_groups) {
        fleet_t f;
        inventory_t inv;
        fleet_init(&f);
        add_nodes(&f, "n", 5, "database", "1.0-1");
        /* n3 is in both; each group tolerates one down. */
        mkinv("quorum_groups = ( { name = \"a\"; members = [\"n1\", \"n2\", \"n3\"]; },"
              "                  { name = \"b\"; members = [\"n3\", \"n4\", \"n5\"]; } );", &inv);
        plan_t *p = mkplan(NULL, "{ name = \"db\"; nodes = { roles = [\"database\"]; }; batch = 5; }");
        plan_preview_t *pv = preview(p, &inv, &f);

        ck_assert(pv->valid);
        check_budgets(pv, &inv, &f);
        /* The lower bound is 3 rounds (3 members each, budget 1): the shared
         * node goes first so both groups advance together. */
        ck_assert_uint_eq(pv->phases[0].n_batches, 3);
        ck_assert_str_eq(pv->phases[0].batches[0].nodes[0], "n3");
        ck_assert_uint_eq(pv->phases[0].batches[0].n_nodes, 1);
        size_t total = 0;
        for (size_t b = 0; b < pv->phases[0].n_batches; b++)
                total += pv->phases[0].batches[b].n_nodes;
        ck_assert_uint_eq(total, 5);
        plan_preview_free(&pv);
        plan_free(&p);
        inventory_clear(&inv);
}
END_TEST

START_TEST(test_waits_and_why) {
        fleet_t f;
        inventory_t inv;
        fleet_init(&f);
        add_nodes(&f, "db", 3, "database", "1.0-1");
        f.nodes[1].healthy = false;                  /* db2 */
        add_node(&f, "c1", "compute", "1.0-1")->online = false;
        add_node(&f, "c2", "compute", "1.0-1");
        /* db4 never registered: counts as down in its group. */
        mkinv("quorum_groups = ( { name = \"cassandra\"; members = [\"db1\", \"db2\", \"db3\"]; },"
              "                  { name = \"zk\"; members = [\"c2\", \"db4\", \"db5\"]; } );", &inv);
        plan_t *p = mkplan(NULL, "{ name = \"database\"; nodes = { group = \"cassandra\"; }; batch = 3; },"
                                 "{ name = \"computes\"; nodes = { roles = [\"compute\"]; }; batch = 2; }");
        plan_preview_t *pv = preview(p, &inv, &f);
        const plan_preview_note_t *w;

        /* Waiting is not refusing: health may come back. */
        ck_assert(pv->valid);
        ck_assert_uint_eq(pv->phases[0].n_batches, 0);
        ck_assert_uint_eq(pv->phases[0].n_waiting, 3);
        w = find_note(pv->phases[0].waiting, pv->phases[0].n_waiting, "db2");
        ck_assert_str_eq(w->reason, "node_unhealthy");
        ck_assert_str_eq(w->message, "db2 is unhealthy");
        w = find_note(pv->phases[0].waiting, pv->phases[0].n_waiting, "db1");
        ck_assert_str_eq(w->reason, "quorum");
        ck_assert_str_eq(w->message, "group cassandra: 1 of 3 down (db2 unhealthy), max_down 1");

        ck_assert_uint_eq(pv->phases[1].n_batches, 0);
        w = find_note(pv->phases[1].waiting, pv->phases[1].n_waiting, "c1");
        ck_assert_str_eq(w->reason, "node_unreachable");
        w = find_note(pv->phases[1].waiting, pv->phases[1].n_waiting, "c2");
        ck_assert_str_eq(w->reason, "quorum");
        ck_assert_str_eq(w->message, "group zk: 2 of 3 down (db4 unregistered, db5 unregistered), max_down 1");

        /* The groups' arithmetic names who is down and why. */
        ck_assert_uint_eq(pv->groups[0].n_down, 1);
        ck_assert_str_eq(pv->groups[0].down[0].node, "db2");
        ck_assert_str_eq(pv->groups[0].down[0].why, "unhealthy");
        ck_assert_uint_eq(pv->groups[1].n_down, 2);
        ck_assert_str_eq(pv->groups[1].down[0].why, "never registered");
        plan_preview_free(&pv);
        plan_free(&p);
        inventory_clear(&inv);
}
END_TEST

START_TEST(test_empty_phase_unknown_group_overrides) {
        fleet_t f;
        inventory_t inv;
        fleet_init(&f);
        add_node(&f, "c1", "compute", "1.0-1");
        add_node(&f, "c2", "compute", "1.0-1");       /* overridden: a database node */
        add_node(&f, "c3", "compute", NULL);          /* manages none of the plan's packages */
        mkinv("groups = ( { name = \"dbs\"; roles = [\"database\"]; } );"
              "role_overrides = ( { node = \"c2\"; roles = [\"database\"]; } );", &inv);
        plan_t *p = mkplan(NULL,
                           "{ name = \"db\"; nodes = { group = \"dbs\"; }; },"
                           "{ name = \"computes\"; nodes = { roles = [\"compute\"]; }; batch = 5; },"
                           "{ name = \"storage\"; nodes = { roles = [\"storage\"]; }; },"
                           "{ name = \"edge\"; nodes = { group = \"edge\"; }; }");
        plan_preview_t *pv = preview(p, &inv, &f);
        const plan_preview_refusal_t *r;

        ck_assert(!pv->valid);
        ck_assert_uint_eq(pv->n_refusals, 2);
        ck_assert_str_eq(batches(&pv->phases[0]), "c2");
        ck_assert_str_eq(batches(&pv->phases[1]), "c1");
        ck_assert_str_eq(find_note(pv->phases[1].skipped, pv->phases[1].n_skipped, "c3")->reason, "not_managed");
        r = find_refusal(pv, PLAN_REFUSE_EMPTY_PHASE, NULL);
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->phase, "storage");
        ck_assert_str_eq(r->message, "phase storage selects no node (roles storage)");
        r = find_refusal(pv, PLAN_REFUSE_UNKNOWN_GROUP, NULL);
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->group, "edge");
        ck_assert_str_eq(r->message, "phase edge: the coordinator's inventory has no group or quorum "
                                     "group named \"edge\"");
        plan_preview_free(&pv);
        plan_free(&p);
        inventory_clear(&inv);
}
END_TEST

/* Steps are listed in order with their node, and checked against the
 * task and unit names each node's agent reported. */
START_TEST(test_steps_checked_against_node_policies) {
        static const char *const compute_tasks[] = { "ready" }, *const compute_units[] = { "a.service" };
        static const char *const ctl_tasks[] = { "run-sync", "in-sync" };
        fleet_t f;
        inventory_t inv;
        fleet_init(&f);
        plan_node_t *c1 = add_node(&f, "c1", "compute", "1.0-1");
        add_node(&f, "c2", "compute", "1.0-1");      /* its policy has neither */
        plan_node_t *ctl2 = add_node(&f, "ctl2", "controller", NULL);
        plan_node_t *ctl1 = add_node(&f, "ctl1", "controller", NULL);
        *c1 = (plan_node_t) { .id = c1->id, .roles = c1->roles, .n_roles = 1, .packages = c1->packages,
                              .n_packages = 1, .registered = true, .accepted = true, .online = true,
                              .healthy = true, .tasks = compute_tasks, .n_tasks = 1, .units = compute_units,
                              .n_units = 1 };
        ctl1->tasks = ctl2->tasks = ctl_tasks;
        ctl1->n_tasks = ctl2->n_tasks = 2;
        ctl2->healthy = false;                        /* the group's step goes to ctl1 */
        mkinv("groups = ( { name = \"ctrl\"; nodes = [\"ctl2\", \"ctl1\"]; } );", &inv);
        plan_t *p = mkplan(NULL,
                           "{ name = \"computes\"; nodes = { roles = [\"compute\"]; }; batch = 2;"
                           "  before = ( { task = \"run-sync\"; group = \"ctrl\"; params = { peers = \"a:1\"; }; } );"
                           "  pre = ( { task = \"ready\"; } );"
                           "  post = ( { unit = \"start\"; units = [\"a.service\"]; } );"
                           "  after = ( { unit = \"stop\"; units = [\"sync.service\"]; node = \"ctl1\"; } );"
                           "  wait_for = ( { task = \"in-sync\"; node = \"ctl9\"; deadline = \"5m\"; } ); }");
        plan_preview_t *pv = preview(p, &inv, &f);
        const plan_preview_phase_t *ph = &pv->phases[0];
        const plan_preview_refusal_t *r;

        ck_assert_uint_eq(ph->n_steps, 5);
        ck_assert_int_eq(ph->steps[0].stage, PLAN_STAGE_BEFORE);
        ck_assert_str_eq(ph->steps[0].node, "ctl1");
        ck_assert_int_eq(ph->steps[1].stage, PLAN_STAGE_PRE);
        ck_assert_ptr_null(ph->steps[1].node);
        ck_assert_int_eq(ph->steps[2].stage, PLAN_STAGE_POST);
        ck_assert_int_eq(ph->steps[3].stage, PLAN_STAGE_AFTER);
        ck_assert_int_eq(ph->steps[4].stage, PLAN_STAGE_WAIT_FOR);
        ck_assert(!pv->valid);
        r = find_refusal(pv, PLAN_REFUSE_UNKNOWN_TASK, "c2");
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->message, "phase computes, pre step (line 4): node c2's policy has no task ready");
        r = find_refusal(pv, PLAN_REFUSE_UNKNOWN_UNIT, "c2");
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->message, "phase computes, post step (line 4): node c2's policy has no unit a.service");
        r = find_refusal(pv, PLAN_REFUSE_UNKNOWN_UNIT, "ctl1");
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->message, "phase computes, after step (line 4): node ctl1's policy has no unit sync.service");
        r = find_refusal(pv, PLAN_REFUSE_UNKNOWN_NODE, "ctl9");
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->message, "phase computes, wait_for step (line 4): node ctl9 never registered");
        ck_assert_ptr_null(find_refusal(pv, PLAN_REFUSE_UNKNOWN_TASK, "c1"));
        ck_assert_ptr_null(find_refusal(pv, PLAN_REFUSE_UNKNOWN_TASK, "ctl1"));
        ck_assert_uint_eq(pv->n_refusals, 4);

        Hitless__PlanPreview *m = NULL;
        ck_assert_int_eq(plan_preview_to_proto(pv, "plan.conf", &m), 0);
        ck_assert_uint_eq(m->phases[0]->n_steps, 5);
        ck_assert_str_eq(m->phases[0]->steps[0]->action, "task run-sync peers=a:1");
        ck_assert_str_eq(m->phases[0]->steps[0]->node_id, "ctl1");
        ck_assert_str_eq(m->phases[0]->steps[0]->group, "ctrl");
        ck_assert_str_eq(m->phases[0]->steps[4]->stage, "wait_for");
        ck_assert_uint_eq(m->phases[0]->steps[4]->deadline_ms, 300000);
        plan_preview_free(&pv);
        plan_free(&p);
        inventory_clear(&inv);
}
END_TEST

/* A step naming a group the inventory lacks is refused as such. */
START_TEST(test_step_unknown_group) {
        fleet_t f;
        fleet_init(&f);
        add_node(&f, "c1", "compute", "1.0-1");
        plan_t *p = mkplan(NULL, "{ name = \"computes\"; nodes = { roles = [\"compute\"]; };"
                                 "  after = ( { task = \"post-sync\"; group = \"ctrl-new\"; } ); }");
        plan_preview_t *pv = preview(p, NULL, &f);
        const plan_preview_refusal_t *r = find_refusal(pv, PLAN_REFUSE_UNKNOWN_GROUP, NULL);
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->group, "ctrl-new");
        ck_assert_uint_eq(pv->n_refusals, 1);
        plan_preview_free(&pv);
        plan_free(&p);
}
END_TEST

START_TEST(test_bad_arguments) {
        fleet_t f;
        plan_preview_t *pv = NULL;
        fleet_init(&f);
        add_node(&f, "c1", "compute", "1.0-1");
        add_node(&f, "c1", "compute", "1.0-1");
        plan_t *p = mkplan(NULL, "{ name = \"c\"; nodes = { roles = [\"compute\"]; }; }");
        ck_assert_int_eq(plan_preview_build(p, NULL, &f.fleet, &pv), -EINVAL);
        ck_assert_ptr_null(pv);
        ck_assert_int_eq(plan_preview_build(NULL, NULL, &f.fleet, &pv), -EINVAL);
        ck_assert_int_eq(plan_preview_build(p, NULL, NULL, &pv), -EINVAL);
        plan_free(&p);
        plan_preview_free(&pv);
        plan_preview_free(NULL);
}
END_TEST

/* The wire form carries everything, and packs and unpacks. */
START_TEST(test_proto_roundtrip) {
        fleet_t f;
        inventory_t inv;
        Hitless__PlanPreview *m;
        uint8_t *buf;
        size_t len;
        fleet_init(&f);
        add_nodes(&f, "db", 3, "database", "1.0-1");
        f.nodes[2].healthy = false;
        add_node(&f, "c1", "compute", "9.0");
        mkinv("quorum_groups = ( { name = \"cassandra\"; members = [\"db1\", \"db2\", \"db3\"]; } );", &inv);
        plan_t *p = mkplan(NULL, "{ name = \"database\"; nodes = { group = \"cassandra\"; }; batch = 1; canary = 1;"
                                 "  restart = [\"cassandra.service\"]; healthy_deadline = \"90s\";"
                                 "  repoint = { controller = [\"10.0.0.1:5269\", \"10.0.0.2:5269\"]; }; },"
                                 "{ name = \"computes\"; nodes = { roles = [\"compute\"]; }; }");
        plan_preview_t *pv = preview(p, &inv, &f);

        ck_assert_int_eq(plan_preview_to_proto(pv, "plans/x.conf", &m), 0);
        ck_assert_int_eq(codec_encode(&m->base, &buf, &len), 0);
        Hitless__PlanPreview *u = hitless__plan_preview__unpack(NULL, len, buf);
        free(buf);
        ck_assert_ptr_nonnull(u);
        ck_assert_str_eq(u->file_name, "plans/x.conf");
        ck_assert_str_eq(u->plan_name, "test");
        ck_assert(!u->valid);
        ck_assert_uint_eq(u->n_phases, 2);
        ck_assert_str_eq(u->phases[0]->selector, "group cassandra");
        ck_assert_str_eq(u->phases[0]->mode, "rolling");
        ck_assert_str_eq(u->phases[0]->on_failure, "pause");
        ck_assert_uint_eq(u->phases[0]->canary, 1);
        ck_assert_uint_eq(u->phases[0]->min_healthy_time_ms, 30000);
        ck_assert_uint_eq(u->phases[0]->healthy_deadline_ms, 90000);
        ck_assert_uint_eq(u->phases[0]->n_restart, 1);
        ck_assert_str_eq(u->phases[0]->restart[0], "cassandra.service");
        ck_assert_uint_eq(u->phases[0]->n_repoint, 1);
        ck_assert_str_eq(u->phases[0]->repoint[0]->kind, "controller");
        ck_assert_uint_eq(u->phases[0]->repoint[0]->n_endpoints, 2);
        ck_assert_str_eq(u->phases[0]->repoint[0]->endpoints[1], "10.0.0.2:5269");
        ck_assert_uint_eq(u->phases[1]->n_repoint, 0);
        /* db3 unhealthy spends the budget: nothing starts, both others wait. */
        ck_assert_uint_eq(u->phases[0]->n_batches, 0);
        ck_assert_uint_eq(u->phases[0]->n_waiting, 3);
        ck_assert_uint_eq(u->n_groups, 1);
        ck_assert_uint_eq(u->groups[0]->n_member_ids, 3);
        ck_assert_uint_eq(u->groups[0]->budget, 1);
        ck_assert_uint_eq(u->groups[0]->n_down, 1);
        ck_assert_str_eq(u->groups[0]->down[0]->node_id, "db3");
        ck_assert_str_eq(u->groups[0]->down[0]->why, "unhealthy");
        ck_assert_int_eq(u->groups[0]->min_rounds, 3);
        ck_assert_uint_eq(u->n_refusals, 1);
        ck_assert_str_eq(u->refusals[0]->kind, "downgrade");
        ck_assert_str_eq(u->refusals[0]->node_id, "c1");
        ck_assert_str_eq(u->refusals[0]->group, "");
        ck_assert_uint_eq(u->n_nodes, 4);
        ck_assert_str_eq(u->nodes[3]->packages[0]->action, "downgrade");
        ck_assert_str_eq(u->nodes[2]->state, "unhealthy");
        hitless__plan_preview__free_unpacked(u, NULL);
        plan_preview_free(&pv);
        plan_free(&p);
        inventory_clear(&inv);
}
END_TEST

/* ---- properties over random fleets ------------------------------------------ */

static uint64_t rng_state;
static unsigned rnd(unsigned n) {
        rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
        return (unsigned) ((rng_state >> 33) % n);
}

#define SEEDS 300

START_TEST(test_property_random_fleets) {
        static const char *const versions[] = { "1.0-1", "1.0-1", "1.0-1", "1.5", "2.0-1", "3.0", NULL };
        fleet_t f;
        inventory_t inv;
        char text[4096], phase[256];
        size_t off = 0;
        int n_nodes, n_groups;

        rng_state = (uint64_t) _i * 7919 + 1;
        fleet_init(&f);
        n_nodes = 3 + (int) rnd(20);
        for (int i = 0; i < n_nodes; i++) {
                char id[16];
                plan_node_t *n;
                snprintf(id, sizeof id, "n%d", i);
                n = add_node(&f, id, "database", versions[rnd(7)]);
                n->healthy = rnd(10) != 0;
                n->online = rnd(20) != 0;
        }
        /* Groups of 1..7 members, possibly overlapping, some members never
         * registered ("ghostK"), some max_down set lower. */
        n_groups = 1 + (int) rnd(4);
        off += (size_t) snprintf(text + off, sizeof text - off, "quorum_groups = (");
        for (int g = 0; g < n_groups; g++) {
                int size = 1 + (int) rnd(7), used[40] = { 0 }, k = 0;
                if (size > n_nodes + 2)
                        size = n_nodes + 2;
                off += (size_t) snprintf(text + off, sizeof text - off, "%s{ name = \"g%d\"; members = [",
                                         g ? "," : "", g);
                while (k < size) {
                        int m = (int) rnd((unsigned) n_nodes + 2);
                        if (used[m])
                                continue;
                        used[m] = 1;
                        if (m < n_nodes)
                                off += (size_t) snprintf(text + off, sizeof text - off, "%s\"n%d\"", k ? "," : "", m);
                        else
                                off += (size_t) snprintf(text + off, sizeof text - off, "%s\"ghost%d\"",
                                                         k ? "," : "", m - n_nodes);
                        k++;
                }
                off += (size_t) snprintf(text + off, sizeof text - off, "]; %s}",
                                         rnd(3) == 0 && limit_of((size_t) size) > 0 ? "max_down = 1;" : "");
        }
        snprintf(text + off, sizeof text - off, ");");
        mkinv(text, &inv);
        if (rnd(2))
                snprintf(phase, sizeof phase, "{ name = \"db\"; nodes = { roles = [\"database\"]; }; batch = %u; }",
                         1 + rnd(4));
        else
                snprintf(phase, sizeof phase, "{ name = \"db\"; nodes = { roles = [\"database\"]; }; batch = \"50%%\"; }");
        plan_t *p = mkplan(NULL, phase);
        plan_preview_t *pv = preview(p, &inv, &f);
        const plan_preview_phase_t *ph = &pv->phases[0];

        check_budgets(pv, &inv, &f);
        for (size_t b = 0; b < ph->n_batches; b++)
                ck_assert_int_le((int) ph->batches[b].n_nodes, ph->batch_size);

        /* Every node of the phase is in exactly one place. */
        ck_assert_uint_eq(ph->n_nodes, (size_t) n_nodes);
        for (size_t i = 0; i < f.n; i++) {
                /* NULL: the node does not manage "pkg". */
                const char *id = f.nodes[i].id, *v = f.nodes[i].n_packages ? f.pkgs[i][0].version : "";
                int places = 0, batched = 0;
                for (size_t b = 0; b < ph->n_batches; b++)
                        batched += in_batch(&ph->batches[b], id);
                places += batched;
                places += find_note(ph->waiting, ph->n_waiting, id) != NULL;
                places += find_note(ph->skipped, ph->n_skipped, id) != NULL;
                ck_assert_int_eq(places, 1);
                /* Versions: downgrades refused, current skipped, never batched. */
                if (strcmp(v, "3.0") == 0)
                        ck_assert_ptr_nonnull(find_refusal(pv, PLAN_REFUSE_DOWNGRADE, id));
                if (strcmp(v, "3.0") == 0 || strcmp(v, "2.0-1") == 0)
                        ck_assert_int_eq(batched, 0);
                /* A node that is down now never starts. */
                if (down_now(&f, id))
                        ck_assert_int_eq(batched, 0);
        }

        /* Progress: a node left waiting for quorum has a group that is at
         * its budget with members down now (nothing else is in flight once
         * the batches are done). A member of a budget-0 group is refused. */
        for (size_t w = 0; w < ph->n_waiting; w++) {
                const char *id = ph->waiting[w].node;
                bool blocked = false;
                if (strcmp(ph->waiting[w].reason, "quorum") != 0) {
                        ck_assert(down_now(&f, id));
                        continue;
                }
                for (size_t g = 0; g < inv.n_quorum_groups && !blocked; g++) {
                        const inventory_quorum_group_t *q = &inv.quorum_groups[g];
                        int budget = limit_of(q->n_members), down = 0;
                        bool member = false;
                        if (q->max_down < budget)
                                budget = q->max_down;
                        for (size_t m = 0; m < q->n_members; m++) {
                                member |= strcmp(q->members[m], id) == 0;
                                down += down_now(&f, q->members[m]);
                        }
                        blocked = member && budget > 0 && down >= budget;
                }
                ck_assert_msg(blocked, "%s waits for quorum but no group of it is at its budget", id);
        }
        for (size_t r = 0; r < pv->n_refusals; r++)
                if (pv->refusals[r].kind == PLAN_REFUSE_QUORUM_BUDGET) {
                        const inventory_quorum_group_t *q = inventory_find_quorum_group(&inv, pv->refusals[r].group);
                        ck_assert_ptr_nonnull(q);
                        ck_assert_int_eq(q->max_down < limit_of(q->n_members) ? q->max_down
                                                                              : limit_of(q->n_members), 0);
                }
        ck_assert(pv->valid == (pv->n_refusals == 0));
        plan_preview_free(&pv);
        plan_free(&p);
        inventory_clear(&inv);
}
END_TEST

int main(void) {
        Suite *s = suite_create("plan_preview");
        TCase *tc = tcase_create("scenarios");
        TCase *prop = tcase_create("properties");

        tcase_add_test(tc, test_three_db_max_down_1);
        tcase_add_test(tc, test_five_db_max_down_2);
        tcase_add_test(tc, test_computes_fifty_percent_and_canary);
        tcase_add_test(tc, test_downgrade_refused);
        tcase_add_test(tc, test_rpm_order_by_version_strings);
        tcase_add_test(tc, test_unknown_and_unaccepted_nodes);
        tcase_add_test(tc, test_budget_zero_group_refused);
        tcase_add_test(tc, test_allowed_paths);
        tcase_add_test(tc, test_overlapping_groups);
        tcase_add_test(tc, test_waits_and_why);
        tcase_add_test(tc, test_empty_phase_unknown_group_overrides);
        tcase_add_test(tc, test_steps_checked_against_node_policies);
        tcase_add_test(tc, test_step_unknown_group);
        tcase_add_test(tc, test_bad_arguments);
        tcase_add_test(tc, test_proto_roundtrip);
        suite_add_tcase(s, tc);

        tcase_set_timeout(prop, 120);
        tcase_add_loop_test(prop, test_property_random_fleets, 0, SEEDS);
        suite_add_tcase(s, prop);

        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
