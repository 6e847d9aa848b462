/* hitlessctl plan check FILE [--json]: the coordinator's preview of an
 * upgrade plan (phases, batches, quorum arithmetic, versions, refusals),
 * with no side effect. hitlessctl sends the file's text; the coordinator
 * parses it against its inventory and the fleet as it is now.
 *
 * Exit: 0 valid, 1 invalid (refusals), 2 usage or a plan that does not
 * parse, 3 coordinator unreachable.
 *
 * Reading and sending the file, and printing a preview, serve `upgrade
 * start` too (ctl.h), so a refused upgrade reads exactly like plan check. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/admin_protocol.h"
#include "ctl/ctl.h"

/* ---- text ------------------------------------------------------------------ */

static void join(char *const *v, size_t n, char *buf, size_t len) {
        size_t off = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < n && off < len; i++) {
                int w = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", v[i]);
                if (w < 0)
                        break;
                off += (size_t) w;
        }
}

/* "30s", "5m", "1h30m", "1500ms". */
static const char *duration(uint64_t ms, char *buf, size_t len) {
        if (ms % 1000)
                snprintf(buf, len, "%llums", (unsigned long long) ms);
        else if (ms % 60000)
                snprintf(buf, len, "%llus", (unsigned long long) (ms / 1000));
        else if (ms % 3600000)
                snprintf(buf, len, "%llum", (unsigned long long) (ms / 60000));
        else
                snprintf(buf, len, "%lluh", (unsigned long long) (ms / 3600000));
        return buf;
}

static void print_phase(size_t i, size_t n, const Hitless__PlanPhasePreview *p) {
        char names[4096], d1[32], d2[32];

        printf("\nphase %zu/%zu %s: %s, %zu node%s; %s, batch %u, canary %u, max_failures %u, "
               "on_failure %s\n",
               i + 1, n, p->name, p->selector, p->n_node_ids, p->n_node_ids == 1 ? "" : "s", p->mode,
               p->batch_size, p->canary, p->max_failures, p->on_failure);
        printf("  each node: %shealthy for %s within %s", p->drain ? "drain, " : "",
               duration(p->min_healthy_time_ms, d1, sizeof d1), duration(p->healthy_deadline_ms, d2, sizeof d2));
        if (p->n_restart) {
                join(p->restart, p->n_restart, names, sizeof names);
                printf("; restart %s", names);
        }
        for (size_t k = 0; k < p->n_repoint; k++) {
                join(p->repoint[k]->endpoints, p->repoint[k]->n_endpoints, names, sizeof names);
                printf("; %s -> %s", p->repoint[k]->kind, names);
        }
        if (p->pause_between_batches_ms)
                printf("; %s between batches", duration(p->pause_between_batches_ms, d1, sizeof d1));
        printf("\n");
        for (size_t b = 0; b < p->n_batches; b++) {
                const Hitless__PlanBatch *bt = p->batches[b];
                join(bt->node_ids, bt->n_node_ids, names, sizeof names);
                printf("  batch %zu%s: %s\n", b + 1,
                       !bt->canary ? "" : p->auto_promote ? " (canary, promoted automatically)"
                                                          : " (canary, then waits for hitlessctl upgrade promote)",
                       names);
        }
        if (p->n_batches == 0)
                printf("  %s\n", p->n_waiting ? "no batch can start now" : "nothing to upgrade");
        /* Steps in the order they run: before the nodes, around each node
         * (pre/post), after the nodes, then the gates. */
        for (size_t k = 0; k < p->n_steps; k++) {
                const Hitless__PlanStepPreview *st = p->steps[k];
                printf("  %-8s %s on %s", st->stage, st->action, st->node_id[0] ? st->node_id : "each node");
                if (st->group[0])
                        printf(" (of group %s)", st->group);
                if (strcmp(st->stage, "wait_for") == 0)
                        printf(": until it succeeds, every %s, within %s",
                               duration(st->interval_ms, d1, sizeof d1), duration(st->deadline_ms, d2, sizeof d2));
                printf("  [line %u]\n", st->line);
        }
        for (size_t w = 0; w < p->n_waiting; w++)
                printf("  waits:   %s (%s): %s\n", p->waiting[w]->node_id, p->waiting[w]->reason,
                       p->waiting[w]->message);
        for (size_t s = 0; s < p->n_skipped; s++)
                printf("  skipped: %s (%s): %s\n", p->skipped[s]->node_id, p->skipped[s]->reason,
                       p->skipped[s]->message);
}

static void print_groups(const Hitless__PlanPreview *pv) {
        ctl_table_t t = { .cols = 7 };
        char members[2048], maxd[64], budget[16], down[2048], up[16], rounds[16];

        if (pv->n_groups == 0)
                return;
        printf("\nquorum groups:\n");
        ctl_table_add(&t, "GROUP", "MEMBERS", "MAX_DOWN", "BUDGET", "DOWN NOW", "TO UPGRADE", "ROUNDS");
        for (size_t g = 0; g < pv->n_groups; g++) {
                const Hitless__PlanGroupPreview *gp = pv->groups[g];
                size_t off = 0;
                join(gp->member_ids, gp->n_member_ids, members, sizeof members);
                snprintf(maxd, sizeof maxd, "%u (quorum allows %u)", gp->max_down, gp->quorum_max_down);
                snprintf(budget, sizeof budget, "%u", gp->budget);
                down[0] = '\0';
                for (size_t d = 0; d < gp->n_down && off < sizeof down; d++) {
                        int w = snprintf(down + off, sizeof down - off, "%s%s (%s)", d ? ", " : "",
                                         gp->down[d]->node_id, gp->down[d]->why);
                        if (w < 0)
                                break;
                        off += (size_t) w;
                }
                snprintf(up, sizeof up, "%u", gp->to_upgrade);
                if (gp->min_rounds < 0)
                        snprintf(rounds, sizeof rounds, "never");
                else
                        snprintf(rounds, sizeof rounds, "%d", gp->min_rounds);
                ctl_table_add(&t, gp->name, members, maxd, budget, down, up, rounds);
        }
        ctl_table_print(stdout, &t, "  ");
}

static void print_nodes(const Hitless__PlanPreview *pv) {
        ctl_table_t t = { .cols = 7 };

        if (pv->n_nodes == 0)
                return;
        printf("\nversions:\n");
        ctl_table_add(&t, "NODE", "PHASE", "STATE", "PACKAGE", "FROM", "TO", "ACTION");
        for (size_t i = 0; i < pv->n_nodes; i++) {
                const Hitless__PlanNodePreview *n = pv->nodes[i];
                if (n->n_packages == 0)
                        ctl_table_add(&t, n->node_id, n->phase, n->state, "", "", "", "");
                for (size_t k = 0; k < n->n_packages; k++) {
                        const Hitless__PlanPackageChange *c = n->packages[k];
                        ctl_table_add(&t, k ? "" : n->node_id, k ? "" : n->phase, k ? "" : n->state, c->name,
                                  c->from[0] ? c->from : "(none)", c->to, c->action);
                }
        }
        ctl_table_print(stdout, &t, "  ");
}

static void print_text(const Hitless__PlanPreview *pv) {
        printf("plan %s (%s): %s", pv->plan_name, pv->file_name, pv->valid ? "valid" : "INVALID");
        if (!pv->valid)
                printf(", %zu refusal%s", pv->n_refusals, pv->n_refusals == 1 ? "" : "s");
        printf("\n");
        for (size_t i = 0; i < pv->n_phases; i++)
                print_phase(i, pv->n_phases, pv->phases[i]);
        print_groups(pv);
        print_nodes(pv);
        if (pv->n_refusals) {
                printf("\nrefusals:\n");
                for (size_t i = 0; i < pv->n_refusals; i++)
                        printf("  %s: %s\n", pv->refusals[i]->kind, pv->refusals[i]->message);
        }
}

/* ---- JSON (schema in the README) ------------------------------------------- */

/* key NULL: the array alone. */
static void json_strv(const char *sep, const char *key, char *const *v, size_t n) {
        if (key)
                json_key(stdout, sep, key);
        else
                printf("%s", sep);
        printf("[");
        for (size_t i = 0; i < n; i++) {
                printf("%s", i ? "," : "");
                json_string(stdout, v[i]);
        }
        printf("]");
}

static void json_notes(const char *key, Hitless__PlanNodeNote *const *v, size_t n) {
        json_key(stdout, ",", key);
        printf("[");
        for (size_t i = 0; i < n; i++) {
                json_kv(stdout, i ? ",{" : "{", "node", v[i]->node_id);
                json_kv(stdout, ",", "reason", v[i]->reason);
                json_kv(stdout, ",", "message", v[i]->message);
                printf("}");
        }
        printf("]");
}

static void print_json(const Hitless__PlanPreview *pv) {
        json_kv(stdout, "{", "file", pv->file_name);
        json_kv(stdout, ",", "plan", pv->plan_name);
        printf(",\"valid\":%s", pv->valid && pv->n_errors == 0 ? "true" : "false");
        json_key(stdout, ",", "phases");
        printf("[");
        for (size_t i = 0; i < pv->n_phases; i++) {
                const Hitless__PlanPhasePreview *p = pv->phases[i];
                json_kv(stdout, i ? ",{" : "{", "name", p->name);
                json_kv(stdout, ",", "selector", p->selector);
                json_kv(stdout, ",", "mode", p->mode);
                printf(",\"batch_size\":%u,\"canary\":%u,\"auto_promote\":%s,\"max_failures\":%u",
                       p->batch_size, p->canary, p->auto_promote ? "true" : "false", p->max_failures);
                json_kv(stdout, ",", "on_failure", p->on_failure);
                printf(",\"drain\":%s,\"min_healthy_time_ms\":%llu,\"healthy_deadline_ms\":%llu,"
                       "\"pause_between_batches_ms\":%llu", p->drain ? "true" : "false",
                       (unsigned long long) p->min_healthy_time_ms, (unsigned long long) p->healthy_deadline_ms,
                       (unsigned long long) p->pause_between_batches_ms);
                json_strv(",", "restart", p->restart, p->n_restart);
                printf(",\"repoint\":{");
                for (size_t k = 0; k < p->n_repoint; k++) {
                        json_key(stdout, k ? "," : "", p->repoint[k]->kind);
                        json_strv("", NULL, p->repoint[k]->endpoints, p->repoint[k]->n_endpoints);
                }
                printf("}");
                json_strv(",", "nodes", p->node_ids, p->n_node_ids);
                printf(",\"batches\":[");
                for (size_t b = 0; b < p->n_batches; b++) {
                        printf("%s{\"canary\":%s", b ? "," : "", p->batches[b]->canary ? "true" : "false");
                        json_strv(",", "nodes", p->batches[b]->node_ids, p->batches[b]->n_node_ids);
                        printf("}");
                }
                printf("]");
                printf(",\"steps\":[");
                for (size_t k = 0; k < p->n_steps; k++) {
                        const Hitless__PlanStepPreview *st = p->steps[k];
                        json_kv(stdout, k ? ",{" : "{", "stage", st->stage);
                        json_kv(stdout, ",", "action", st->action);
                        json_kv(stdout, ",", "node_id", st->node_id);
                        json_kv(stdout, ",", "group", st->group);
                        printf(",\"line\":%u,\"deadline_ms\":%llu,\"interval_ms\":%llu}", st->line,
                               (unsigned long long) st->deadline_ms, (unsigned long long) st->interval_ms);
                }
                printf("]");
                json_notes("waiting", p->waiting, p->n_waiting);
                json_notes("skipped", p->skipped, p->n_skipped);
                printf("}");
        }
        printf("]");
        json_key(stdout, ",", "groups");
        printf("[");
        for (size_t g = 0; g < pv->n_groups; g++) {
                const Hitless__PlanGroupPreview *gp = pv->groups[g];
                json_kv(stdout, g ? ",{" : "{", "name", gp->name);
                json_strv(",", "members", gp->member_ids, gp->n_member_ids);
                printf(",\"quorum_max_down\":%u,\"max_down\":%u,\"budget\":%u,\"down\":[", gp->quorum_max_down,
                       gp->max_down, gp->budget);
                for (size_t d = 0; d < gp->n_down; d++) {
                        json_kv(stdout, d ? ",{" : "{", "node", gp->down[d]->node_id);
                        json_kv(stdout, ",", "why", gp->down[d]->why);
                        printf("}");
                }
                printf("],\"to_upgrade\":%u,\"min_rounds\":%d}", gp->to_upgrade, gp->min_rounds);
        }
        printf("]");
        json_key(stdout, ",", "nodes");
        printf("[");
        for (size_t i = 0; i < pv->n_nodes; i++) {
                const Hitless__PlanNodePreview *n = pv->nodes[i];
                json_kv(stdout, i ? ",{" : "{", "node", n->node_id);
                json_kv(stdout, ",", "phase", n->phase);
                json_kv(stdout, ",", "state", n->state);
                printf(",\"packages\":[");
                for (size_t k = 0; k < n->n_packages; k++) {
                        json_kv(stdout, k ? ",{" : "{", "name", n->packages[k]->name);
                        json_kv(stdout, ",", "from", n->packages[k]->from);
                        json_kv(stdout, ",", "to", n->packages[k]->to);
                        json_kv(stdout, ",", "action", n->packages[k]->action);
                        printf("}");
                }
                printf("]}");
        }
        printf("]");
        json_key(stdout, ",", "refusals");
        printf("[");
        for (size_t i = 0; i < pv->n_refusals; i++) {
                const Hitless__PlanRefusal *r = pv->refusals[i];
                json_kv(stdout, i ? ",{" : "{", "kind", r->kind);
                json_kv(stdout, ",", "phase", r->phase);
                json_kv(stdout, ",", "node", r->node_id);
                json_kv(stdout, ",", "group", r->group);
                json_kv(stdout, ",", "package", r->package);
                json_kv(stdout, ",", "message", r->message);
                printf("}");
        }
        printf("]");
        json_strv(",", "errors", pv->errors, pv->n_errors);
        printf("}\n");
}

/* ---- shared with upgrade start --------------------------------------------- */

int ctl_plan_preview_report(const ctl_t *ctl, const Hitless__PlanPreview *pv) {
        if (pv->n_errors > 0) {
                /* The plan does not parse: FILE:LINE: KEY: message lines. */
                if (ctl->json)
                        print_json(pv);
                else
                        for (size_t i = 0; i < pv->n_errors; i++)
                                fprintf(stderr, "%s\n", pv->errors[i]);
                return CTL_EXIT_USAGE;
        }
        if (ctl->json)
                print_json(pv);
        else
                print_text(pv);
        return pv->valid ? CTL_EXIT_OK : CTL_EXIT_FAILED;
}

/* The whole file, NUL-terminated; CTL_EXIT_OK or the exit code, printed. */
static int read_plan(const char *path, char **ret, size_t *ret_len) {
        FILE *f = fopen(path, "re");
        char *buf;
        size_t n;

        if (!f) {
                fprintf(stderr, "hitlessctl: cannot read %s: %s\n", path, strerror(errno));
                return CTL_EXIT_USAGE;
        }
        buf = malloc(PLAN_MAX_BYTES + 2);
        if (!buf) {
                fclose(f);
                return CTL_EXIT_FAILED;
        }
        n = fread(buf, 1, PLAN_MAX_BYTES + 1, f);
        if (ferror(f)) {
                fprintf(stderr, "hitlessctl: cannot read %s: %s\n", path, strerror(errno ? errno : EIO));
                fclose(f);
                free(buf);
                return CTL_EXIT_USAGE;
        }
        fclose(f);
        if (n > PLAN_MAX_BYTES) {
                fprintf(stderr, "hitlessctl: %s: a plan may have at most %d bytes\n", path, PLAN_MAX_BYTES);
                free(buf);
                return CTL_EXIT_USAGE;
        }
        if (memchr(buf, '\0', n)) {
                fprintf(stderr, "hitlessctl: %s: not a text file (holds a NUL byte)\n", path);
                free(buf);
                return CTL_EXIT_USAGE;
        }
        buf[n] = '\0';
        *ret = buf;
        *ret_len = n;
        return CTL_EXIT_OK;
}

int ctl_send_plan(const ctl_t *ctl, const char *path, Hitless__AdminRequest__BodyCase body,
                  Hitless__AdminResponse **ret) {
        Hitless__AdminRequest req = HITLESS__ADMIN_REQUEST__INIT;
        Hitless__PlanCheckRequest pc = HITLESS__PLAN_CHECK_REQUEST__INIT;
        Hitless__UpgradeStartRequest us = HITLESS__UPGRADE_START_REQUEST__INIT;
        char *content = NULL;
        size_t len;
        int rc;

        if ((rc = read_plan(path, &content, &len)) != CTL_EXIT_OK)
                return rc;
        req.body_case = body;
        if (body == HITLESS__ADMIN_REQUEST__BODY_UPGRADE_START) {
                us.file_name = (char *) path;
                us.content = content;
                req.upgrade_start = &us;
        } else {
                pc.file_name = (char *) path;
                pc.content = content;
                req.plan_check = &pc;
        }
        rc = ctl_call(ctl, &req, ret);
        free(content);
        return rc;
}

/* ---- the command ----------------------------------------------------------- */

static int plan_check(ctl_t *ctl, const char *path) {
        Hitless__AdminResponse *resp;
        int rc = ctl_send_plan(ctl, path, HITLESS__ADMIN_REQUEST__BODY_PLAN_CHECK, &resp);
        if (rc != CTL_EXIT_OK)
                return rc;
        if (resp->body_case != HITLESS__ADMIN_RESPONSE__BODY_PLAN_PREVIEW) {
                rc = ctl_response_status(resp);
                if (rc == CTL_EXIT_OK) {
                        fprintf(stderr, "hitlessctl: unexpected answer from the coordinator\n");
                        rc = CTL_EXIT_FAILED;
                }
        } else if (resp->plan_preview->n_errors > 0 || (rc = ctl_response_status(resp)) == CTL_EXIT_OK) {
                rc = ctl_plan_preview_report(ctl, resp->plan_preview);
        }
        hitless__admin_response__free_unpacked(resp, NULL);
        return rc;
}

static int plan_exec(ctl_t *ctl, int argc, char **argv) {
        argc = ctl_take_json_flag(ctl, argc, argv);
        if (argc < 2)
                return ctl_usage(&ctl_cmd_plan);
        if (strcmp(argv[1], "check") == 0) {
                if (argc != 3 || argv[2][0] == '-')
                        return ctl_usage(&ctl_cmd_plan);
                return plan_check(ctl, argv[2]);
        }
        fprintf(stderr, "hitlessctl: unknown plan command '%s'\n", argv[1]);
        return ctl_usage(&ctl_cmd_plan);
}

const ctl_command_t ctl_cmd_plan = {
        .name = "plan",
        .usage = "plan check FILE [--json]",
        .exec = plan_exec,
};
