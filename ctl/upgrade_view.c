#include "ctl/upgrade_view.h"

#include <string.h>

#include "ctl/ctl.h"

#define BAR_WIDTH 20

static const char *yes_no(bool b) {
        return b ? "True" : "False";
}

static const Hitless__UpgradeCondition *condition(const Hitless__UpgradeStatus *st, const char *type) {
        for (size_t i = 0; i < st->n_conditions; i++)
                if (strcmp(st->conditions[i]->type, type) == 0)
                        return st->conditions[i];
        return NULL;
}

/* "Upgrading True (computes): 3/10 nodes" */
static void print_condition(FILE *f, const char *indent, const Hitless__UpgradeCondition *c) {
        fprintf(f, "%s%s %s", indent, c->type, yes_no(c->status));
        if (c->reason[0])
                fprintf(f, " (%s)", c->reason);
        if (c->message[0])
                fprintf(f, ": %s", c->message);
        fputc('\n', f);
}

/* "upgrade up-3 (plan contrail-2.0): paused, phase computes, paused: ..." */
static void print_state_line(FILE *f, const Hitless__UpgradeStatus *st) {
        fprintf(f, "upgrade %s (plan %s): %s", st->upgrade_id, st->plan_name, st->state);
        if (st->current_phase[0])
                fprintf(f, ", phase %s", st->current_phase);
        if (st->pause_reason[0])
                fprintf(f, ", paused: %s", st->pause_reason);
        if (st->hold_reason[0])
                fprintf(f, ", held: %s", st->hold_reason);
        fputc('\n', f);
}

/* ---- per node ----------------------------------------------------------------- */

/* Resting steps: the node runs nothing now. */
static bool node_in_flight(const Hitless__UpgradeNodeStatus *n) {
        static const char *const resting[] = { "pending", "done", "failed", "rolled_back", "skipped" };
        for (size_t i = 0; i < sizeof resting / sizeof *resting; i++)
                if (strcmp(n->step, resting[i]) == 0)
                        return false;
        return n->step[0] != '\0';
}

/* "installing", "failed, rollback pending", "restarting, halted, drained";
 * drained is said where the step does not say it (failed or halted). */
static const char *node_step(const Hitless__UpgradeNodeStatus *n, char *buf, size_t len) {
        bool say_drained = n->drained && (n->halted || strcmp(n->step, "failed") == 0);
        snprintf(buf, len, "%s%s%s%s", n->step, n->halted ? ", halted" : "", say_drained ? ", drained" : "",
                 n->rollback_pending ? ", rollback pending" : "");
        return buf;
}

/* "unreachable", "unhealthy", "healthy", "healthy 12s" (live only) */
static const char *node_health(const Hitless__UpgradeNodeStatus *n, bool with_time, char *buf, size_t len) {
        if (!n->reachable)
                snprintf(buf, len, "unreachable");
        else if (!n->healthy)
                snprintf(buf, len, "unhealthy");
        else if (with_time && n->healthy_for_s)
                snprintf(buf, len, "healthy %us", n->healthy_for_s);
        else
                snprintf(buf, len, "healthy");
        return buf;
}

/* "waiting: quorum ...; error: install: ..." or "" */
static const char *node_notes(const Hitless__UpgradeNodeStatus *n, char *buf, size_t len) {
        snprintf(buf, len, "%s%s%s%s%s", n->waiting[0] ? "waiting: " : "", n->waiting,
                 n->waiting[0] && n->error[0] ? "; " : "", n->error[0] ? "error: " : "", n->error);
        return buf;
}

/* ---- upgrade status ---------------------------------------------------------- */

static void print_conditions_table(FILE *f, const Hitless__UpgradeStatus *st) {
        ctl_table_t t = { .cols = 4 };
        ctl_table_add(&t, "CONDITION", "STATUS", "REASON", "MESSAGE");
        for (size_t i = 0; i < st->n_conditions; i++) {
                const Hitless__UpgradeCondition *c = st->conditions[i];
                ctl_table_add(&t, c->type, yes_no(c->status), c->reason, c->message);
        }
        ctl_table_print(f, &t, "");
}

static void print_phases_table(FILE *f, const Hitless__UpgradeStatus *st) {
        ctl_table_t t = { .cols = 7 };
        char done[32], in_flight[16], failed[16], rolled_back[16], skipped[16];
        ctl_table_add(&t, "PHASE", "STATE", "DONE", "IN FLIGHT", "FAILED", "ROLLED BACK", "SKIPPED");
        for (size_t i = 0; i < st->n_phases; i++) {
                const Hitless__UpgradePhaseStatus *p = st->phases[i];
                snprintf(done, sizeof done, "%u/%u", p->done, p->nodes);
                snprintf(in_flight, sizeof in_flight, "%u", p->in_flight);
                snprintf(failed, sizeof failed, "%u", p->failed);
                snprintf(rolled_back, sizeof rolled_back, "%u", p->rolled_back);
                snprintf(skipped, sizeof skipped, "%u", p->skipped);
                ctl_table_add(&t, p->name, p->state, done, in_flight, failed, rolled_back, skipped);
        }
        ctl_table_print(f, &t, "");
        for (size_t i = 0; i < st->n_phases; i++)
                if (st->phases[i]->step[0])
                        fprintf(f, "phase %s: %s\n", st->phases[i]->name, st->phases[i]->step);
}

static void print_nodes_table(FILE *f, const Hitless__UpgradeStatus *st) {
        ctl_table_t t = { .cols = 6 };
        char step[64], command[128], health[32], notes[1024];
        ctl_table_add(&t, "NODE", "PHASE", "STEP", "COMMAND", "HEALTH", "WAITING / ERROR");
        for (size_t i = 0; i < st->n_nodes; i++) {
                const Hitless__UpgradeNodeStatus *n = st->nodes[i];
                snprintf(command, sizeof command, "%s%s%s", n->command, n->command[0] ? " " : "",
                         n->command[0] ? n->command_id : "");
                ctl_table_add(&t, n->node_id, n->phase, node_step(n, step, sizeof step), command,
                              node_health(n, true, health, sizeof health), node_notes(n, notes, sizeof notes));
        }
        ctl_table_print(f, &t, "");
}

void upgrade_view_text(FILE *f, const Hitless__UpgradeStatus *st) {
        char when[64];
        if (!st->upgrade_id[0]) {
                fprintf(f, "no upgrade has been started\n");
                return;
        }
        fprintf(f, "upgrade %s: plan %s (%s), started %s by %s\n\n", st->upgrade_id, st->plan_name,
                st->file_name, ctl_local_time(st->started, when, sizeof when), st->started_by);
        print_conditions_table(f, st);
        fprintf(f, "\nstate: %s\n", st->state);
        if (st->current_phase[0])
                fprintf(f, "phase: %s\n", st->current_phase);
        if (st->pause_reason[0])
                fprintf(f, "pause reason: %s\n", st->pause_reason);
        if (st->hold_reason[0])
                fprintf(f, "held: %s\n", st->hold_reason);
        if (upgrade_view_next_steps(st))
                fprintf(f, "%s\n", upgrade_view_next_steps(st));
        if (st->message[0])
                fprintf(f, "message: %s\n", st->message);
        fputc('\n', f);
        print_phases_table(f, st);
        fputc('\n', f);
        print_nodes_table(f, st);
}

void upgrade_view_short(FILE *f, const Hitless__UpgradeStatus *st) {
        if (st->message[0])
                fprintf(f, "%s\n", st->message);
        if (!st->upgrade_id[0]) {
                fprintf(f, "no upgrade has been started\n");
                return;
        }
        print_state_line(f, st);
        for (size_t i = 0; i < st->n_conditions; i++)
                if (st->conditions[i]->status)
                        print_condition(f, "  ", st->conditions[i]);
}

/* ---- the live view ------------------------------------------------------------ */

uint32_t upgrade_view_settled(const Hitless__UpgradePhaseStatus *p) {
        return p->done + p->failed + p->rolled_back + p->skipped;
}

void upgrade_view_bar(char *buf, size_t len, uint32_t settled, uint32_t total, unsigned width) {
        /* 64-bit: settled * width must not wrap for any counts off the wire. */
        uint64_t filled = total ? (uint64_t) (settled < total ? settled : total) * width / total : width;
        size_t i = 0;
        if (len == 0)
                return;
        for (unsigned c = 0; c < width + 2 && i + 1 < len; c++)
                buf[i++] = c == 0 ? '[' : c == width + 1 ? ']' : c <= filled ? '#' : '.';
        buf[i] = '\0';
}

/* "running, 2 in flight, 1 failed" */
static const char *phase_summary(const Hitless__UpgradePhaseStatus *p, char *buf, size_t len) {
        snprintf(buf, len, "%s", p->state);
        const struct {
                uint32_t n;
                const char *what;
        } counts[] = { { p->in_flight, "in flight" }, { p->failed, "failed" },
                       { p->rolled_back, "rolled back" }, { p->skipped, "skipped" } };
        for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) {
                size_t off = strlen(buf);
                if (counts[i].n && off < len)
                        snprintf(buf + off, len - off, ", %u %s", counts[i].n, counts[i].what);
        }
        size_t off = strlen(buf);
        if (p->step[0] && off < len)
                snprintf(buf + off, len - off, "; %s", p->step);
        return buf;
}

static void frame_phases(FILE *f, const Hitless__UpgradeStatus *st) {
        ctl_table_t t = { .cols = 4 };
        char bar[BAR_WIDTH + 3], count[32], summary[256];
        for (size_t i = 0; i < st->n_phases; i++) {
                const Hitless__UpgradePhaseStatus *p = st->phases[i];
                upgrade_view_bar(bar, sizeof bar, upgrade_view_settled(p), p->nodes, BAR_WIDTH);
                snprintf(count, sizeof count, "%u/%u", upgrade_view_settled(p), p->nodes);
                ctl_table_add(&t, p->name, bar, count, phase_summary(p, summary, sizeof summary));
        }
        ctl_table_print(f, &t, "  ");
}

typedef enum { LIST_IN_FLIGHT, LIST_WAITING, LIST_ERRORS } node_list_t;

static bool listed(const Hitless__UpgradeNodeStatus *n, node_list_t which) {
        switch (which) {
        case LIST_IN_FLIGHT: return node_in_flight(n);
        case LIST_WAITING: return n->waiting[0] != '\0';
        default: return n->error[0] != '\0';
        }
}

static void frame_nodes(FILE *f, const Hitless__UpgradeStatus *st, node_list_t which, bool live) {
        static const char *const titles[] = { "in flight:", "waiting:", "errors:" };
        ctl_table_t t = { .cols = which == LIST_IN_FLIGHT ? 4 : 3 };
        char step[64], health[32];
        size_t shown = 0, more = 0;
        for (size_t i = 0; i < st->n_nodes; i++) {
                const Hitless__UpgradeNodeStatus *n = st->nodes[i];
                if (!listed(n, which))
                        continue;
                if (shown == UPGRADE_VIEW_LIST_MAX) {
                        more++;
                        continue;
                }
                shown++;
                if (which == LIST_IN_FLIGHT)
                        ctl_table_add(&t, n->node_id, node_step(n, step, sizeof step), n->command,
                                      node_health(n, live, health, sizeof health));
                else
                        ctl_table_add(&t, n->node_id, n->phase, which == LIST_WAITING ? n->waiting : n->error);
        }
        if (!shown)
                return;
        fprintf(f, "%s\n", titles[which]);
        ctl_table_print(f, &t, "  ");
        if (more)
                fprintf(f, "  (%zu more)\n", more);
}

void upgrade_view_frame(FILE *f, const Hitless__UpgradeStatus *st, bool live) {
        if (!st->upgrade_id[0]) {
                fprintf(f, "no upgrade has been started\n");
                return;
        }
        print_state_line(f, st);
        for (size_t i = 0; i < st->n_conditions; i++)
                print_condition(f, "", st->conditions[i]);
        frame_phases(f, st);
        frame_nodes(f, st, LIST_IN_FLIGHT, live);
        frame_nodes(f, st, LIST_WAITING, live);
        frame_nodes(f, st, LIST_ERRORS, live);
}

bool upgrade_view_over(const Hitless__UpgradeStatus *st) {
        return strcmp(st->state, "complete") == 0 || strcmp(st->state, "rolled_back") == 0 ||
               strcmp(st->state, "aborted") == 0;
}

const char *upgrade_view_next_steps(const Hitless__UpgradeStatus *st) {
        if (strcmp(st->state, "paused") == 0)
                return "next: hitlessctl upgrade resume (go on), upgrade abort (stop for good), "
                       "or rollback NODE / --phase PHASE / --all";
        if (strcmp(st->state, "waiting_promote") == 0)
                return "next: hitlessctl upgrade promote (the canaries look right), upgrade abort, "
                       "or rollback --phase PHASE";
        return NULL;
}

int upgrade_view_exit_code(const Hitless__UpgradeStatus *st) {
        const Hitless__UpgradeCondition *error = condition(st, "Error");
        return strcmp(st->state, "complete") == 0 && !(error && error->status) ? CTL_EXIT_OK : CTL_EXIT_FAILED;
}
