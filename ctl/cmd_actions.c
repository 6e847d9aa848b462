/* hitlessctl drain|undrain|install|repoint|restart|start|stop|task|check|rollback NODE ...:
 * one action on one node, through the coordinator, waiting for its result
 * (--no-wait prints the command id instead). Exit 1 when the action did
 * not succeed.
 *
 * rollback NODE..., --phase P or --all asks the coordinator instead
 * (RollbackRequest): nodes of the current upgrade are rolled back under
 * its quorum and batch rules (the answer is the upgrade's status), and a
 * single node outside any upgrade gets the direct command. The options of
 * a direct command (--snapshot, --id, --no-wait, --wait, --upgrade) keep
 * rollback the plain action on one node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/conf.h"
#include "ctl/ctl.h"

#define MAX_ITEMS 256

typedef struct {
        bool no_wait;
        bool undo;          /* task --undo */
        const char *id;
        const char *upgrade;
        const char *snapshot;
        uint32_t wait_s;
        /* repoint: kind -> comma-separated list */
        const char *kinds[16];
        const char *lists[16];
        size_t n_kinds;
        /* install PKG=VER..., restart UNIT... */
        char *items[MAX_ITEMS];
        size_t n_items;
        /* a batch (a job): the selector and its limits */
        bool batch_mode, all, dry_run, selector_flags;
        char *nodes[MAX_ITEMS], *roles[MAX_ITEMS], *groups[MAX_ITEMS], *exclude[MAX_ITEMS];
        size_t n_nodes, n_roles, n_groups, n_exclude;
        const char *batch, *max_failures, *mode;
        /* --health-gate / --no-health-gate (default: on for install and
         * restart), --min-healthy-time, --healthy-deadline */
        int health_gate;    /* -1 default, 0 off, 1 on */
        const char *min_healthy_time, *healthy_deadline;
} action_args_t;

static void print_json(const Hitless__CommandResult *r) {
        const Hitless__CommandStatus *s = r->status;
        printf("{\"command_id\":");
        json_string(stdout, r->command_id);
        printf(",\"node_id\":");
        json_string(stdout, r->node_id);
        printf(",\"state\":");
        json_string(stdout, s ? command_state_name(s->state) : "sent");
        if (s) {
                printf(",\"progress\":");
                json_string(stdout, s->progress);
                printf(",\"error_code\":");
                json_string(stdout, s->error_code);
                printf(",\"message\":");
                json_string(stdout, s->message);
                printf(",\"output_tail\":");
                json_string(stdout, s->output_tail);
                printf(",\"snapshot_id\":");
                json_string(stdout, s->snapshot_id);
                printf(",\"packages\":{");
                for (size_t i = 0; i < s->n_packages; i++) {
                        printf("%s", i ? "," : "");
                        json_string(stdout, s->packages[i]->name);
                        printf(":");
                        json_string(stdout, s->packages[i]->version);
                }
                printf("},\"health\":");
                json_string(stdout, s->health ? health_state_label(s->health->state) : "");
                printf(",\"checks\":[");
                for (size_t i = 0; s->health && i < s->health->n_checks; i++) {
                        const Hitless__CheckResult *c = s->health->checks[i];
                        printf("%s{\"name\":", i ? "," : "");
                        json_string(stdout, c->name);
                        printf(",\"ok\":%s,\"detail\":", c->ok ? "true" : "false");
                        json_string(stdout, c->detail);
                        printf("}");
                }
                printf("]");
        }
        printf("}\n");
}

/* Indented, so that no line of a command's output passes for one of
 * ours. */
static void s_print_output_tail(const char *tail) {
        printf("  output (tail):\n");
        for (const char *p = tail; *p;) {
                size_t n = strcspn(p, "\n");
                printf("    %.*s\n", (int) n, p);
                p += n + (p[n] == '\n');
        }
}

static void print_text(const char *verb, const Hitless__CommandResult *r) {
        const Hitless__CommandStatus *s = r->status;
        printf("%s: %s %s %s", r->node_id, verb, r->command_id, s ? command_state_name(s->state) : "sent");
        if (s && s->message[0])
                printf(": %s", s->message);
        printf("\n");
        if (!s)
                return;
        for (size_t i = 0; i < s->n_packages; i++)
                printf("  package %s %s\n", s->packages[i]->name,
                       s->packages[i]->version[0] ? s->packages[i]->version : "(not installed)");
        if (s->health) {
                printf("  health %s\n", health_state_label(s->health->state));
                for (size_t i = 0; i < s->health->n_checks; i++)
                        if (!s->health->checks[i]->ok)
                                printf("  ! %s: %s\n", s->health->checks[i]->name, s->health->checks[i]->detail);
        }
        if (s->snapshot_id[0])
                printf("  snapshot %s\n", s->snapshot_id);
        if (s->state != HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED && s->output_tail[0])
                s_print_output_tail(s->output_tail);
}

/* Prints the result of a command; exit 1 unless it succeeded (or, with
 * no_wait, was sent). */
static int command_answer(const ctl_t *ctl, const char *verb, const Hitless__AdminResponse *resp, bool no_wait) {
        int rc = ctl_response_status(resp);
        if (rc != CTL_EXIT_OK)
                return rc;
        if (resp->body_case != HITLESS__ADMIN_RESPONSE__BODY_COMMAND_RESULT) {
                fprintf(stderr, "hitlessctl: unexpected answer from the coordinator\n");
                return CTL_EXIT_FAILED;
        }
        const Hitless__CommandStatus *s = resp->command_result->status;
        if (ctl->json)
                print_json(resp->command_result);
        else
                print_text(verb, resp->command_result);
        return !no_wait && (!s || s->state != HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED) ? CTL_EXIT_FAILED
                                                                                     : CTL_EXIT_OK;
}

/* The coordinator waits up to wait_s (default 600) for a result: wait as
 * long, and a little more. */
static void wait_for_result(ctl_t *ctl, uint32_t wait_s) {
        long want = ((long) (wait_s ? wait_s : 600) + 10) * 1000;
        if (ctl->timeout_ms < want)
                ctl->timeout_ms = (int) want;
}

/* Appends the comma-separated names of s (modified) to v. */
static int add_names(char *s, char **v, size_t *n) {
        char *save = NULL;
        for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (*n == MAX_ITEMS)
                        return -1;
                v[(*n)++] = t;
        }
        return 0;
}

/* The selector options (--role, --group, --all, --exclude) and a batch's
 * limits; 1 when o was one (i advanced past its value), 0 when not, -1
 * for a bad one. */
static int parse_batch_option(int argc, char **argv, int *i, action_args_t *a) {
        const char *o = argv[*i];
        bool has_value = *i + 1 < argc;
        if (strcmp(o, "--all") == 0) {
                a->all = a->selector_flags = true;
                return 1;
        }
        if (strcmp(o, "--dry-run") == 0) {
                a->dry_run = a->batch_mode = true;
                return 1;
        }
        /* A gate is a job's: asked for on one node, it makes a job of one. */
        if (strcmp(o, "--health-gate") == 0 || strcmp(o, "--no-health-gate") == 0) {
                a->health_gate = o[2] == 'h';
                a->batch_mode = a->batch_mode || a->health_gate;
                return 1;
        }
        if ((strcmp(o, "--min-healthy-time") == 0 || strcmp(o, "--healthy-deadline") == 0) && has_value) {
                *(o[2] == 'm' ? &a->min_healthy_time : &a->healthy_deadline) = argv[++*i];
                a->health_gate = 1;
                a->batch_mode = true;
                return 1;
        }
        char *const *v = NULL;
        if (strcmp(o, "--role") == 0 && has_value)
                v = a->roles;
        else if (strcmp(o, "--group") == 0 && has_value)
                v = a->groups;
        else if (strcmp(o, "--exclude") == 0 && has_value)
                v = a->exclude;
        if (v) {
                size_t *n = v == a->roles ? &a->n_roles : v == a->groups ? &a->n_groups : &a->n_exclude;
                a->selector_flags = v != a->exclude || a->selector_flags;
                a->batch_mode = true;
                return add_names(argv[++*i], (char **) v, n) < 0 ? -1 : 1;
        }
        if ((strcmp(o, "--batch") == 0 || strcmp(o, "--max-failures") == 0 || strcmp(o, "--mode") == 0) &&
            has_value) {
                *(o[2] == 'b' ? &a->batch : o[3] == 'a' ? &a->max_failures : &a->mode) = argv[++*i];
                a->batch_mode = true;
                return 1;
        }
        return 0;
}

/* Options common to every action; the rest are the action's items (the
 * nodes among them are sorted out by split_nodes). */
static int parse_args(const char *verb, int argc, char **argv, action_args_t *a) {
        for (int i = 1; i < argc; i++) {
                const char *o = argv[i];
                int b = parse_batch_option(argc, argv, &i, a);
                if (b < 0)
                        return -1;
                if (b > 0)
                        continue;
                if (strcmp(o, "--no-wait") == 0)
                        a->no_wait = true;
                else if (strcmp(o, "--id") == 0 && i + 1 < argc)
                        a->id = argv[++i];
                else if (strcmp(o, "--undo") == 0 && strcmp(verb, "task") == 0)
                        a->undo = true;
                else if (strcmp(o, "--upgrade") == 0 && i + 1 < argc)
                        a->upgrade = argv[++i];
                else if (strcmp(o, "--snapshot") == 0 && i + 1 < argc && strcmp(verb, "rollback") == 0)
                        a->snapshot = argv[++i];
                else if (strcmp(o, "--wait") == 0 && i + 1 < argc)
                        a->wait_s = (uint32_t) strtoul(argv[++i], NULL, 10);
                else if (strcmp(verb, "repoint") == 0 && strncmp(o, "--", 2) == 0 && i + 1 < argc &&
                         a->n_kinds < 16) {
                        /* --controller L, --collector L, --dns L, or --kind NAME=L */
                        if (strcmp(o, "--kind") == 0) {
                                char *eq = strchr(argv[i + 1], '=');
                                if (!eq)
                                        return -1;
                                *eq = '\0';
                                a->kinds[a->n_kinds] = argv[++i];
                                a->lists[a->n_kinds++] = eq + 1;
                        } else {
                                a->kinds[a->n_kinds] = o + 2;
                                a->lists[a->n_kinds++] = argv[++i];
                        }
                } else if (strncmp(o, "--", 2) == 0 || a->n_items == MAX_ITEMS) {
                        return -1;
                } else {
                        a->items[a->n_items++] = argv[i];
                }
        }
        return 0;
}

/* Splits "a,b,c" (or space separated) into a NULL-terminated vector. */
static char **split_list(const char *s, size_t *ret_n) {
        char *copy = strdup(s), *save = NULL, **v = calloc(strlen(s) + 2, sizeof *v);
        size_t n = 0;
        for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
                v[n++] = strdup(t);
        free(copy);
        *ret_n = n;
        return v;
}

/* Sorts the positional items into nodes and the action's items: for
 * install, PKG=VER are packages; for restart, start, stop and task, the
 * first one is NODE[,NODE...] unless --role, --group or --all select the
 * nodes; for the others every one is NODE[,NODE...]. More than one node
 * (or a selector option) makes a batch. */
static int split_nodes(const char *verb, action_args_t *a) {
        size_t kept = 0;
        bool restart = strcmp(verb, "restart") == 0 || strcmp(verb, "start") == 0 || strcmp(verb, "stop") == 0 ||
                       strcmp(verb, "task") == 0,
             install = strcmp(verb, "install") == 0;
        for (size_t i = 0; i < a->n_items; i++) {
                char *s = a->items[i];
                bool node = install ? strchr(s, '=') == NULL : restart ? (i == 0 && !a->selector_flags) : true;
                if (!node)
                        a->items[kept++] = s;
                else if (s[0] == '-' || add_names(s, a->nodes, &a->n_nodes) < 0)
                        return -1;
        }
        a->n_items = kept;
        if (a->n_nodes > 1 || a->selector_flags)
                a->batch_mode = true;
        return 0;
}

/* The health gate of a job: on by default for the actions that restart
 * what a node serves (install, restart), 30 s within 5 m as in plans.
 * -1 (after a message) for a bad duration. */
static int health_gate(const char *verb, const action_args_t *a, Hitless__JobRequest *jr) {
        int64_t min_ms = 30 * 1000, deadline_ms = 5 * 60 * 1000;
        bool on = a->health_gate < 0 ? strcmp(verb, "install") == 0 || strcmp(verb, "restart") == 0
                                     : a->health_gate == 1;
        if (!on)
                return 0;
        if ((a->min_healthy_time && conf_parse_duration_ms(a->min_healthy_time, &min_ms) < 0) ||
            (a->healthy_deadline && conf_parse_duration_ms(a->healthy_deadline, &deadline_ms) < 0) ||
            deadline_ms <= 0 || min_ms > deadline_ms) {
                fprintf(stderr, "hitlessctl %s: --min-healthy-time and --healthy-deadline take durations "
                        "(\"30s\", \"5m\"), the deadline above 0 and not below the minimum\n", verb);
                return -1;
        }
        jr->min_healthy_time_ms = min_ms;
        jr->healthy_deadline_ms = deadline_ms;
        return 0;
}

static int run_job(ctl_t *ctl, const char *verb, action_args_t *a, Hitless__Command *cmd) {
        Hitless__JobRequest jr = HITLESS__JOB_REQUEST__INIT;
        Hitless__JobSelector sel = HITLESS__JOB_SELECTOR__INIT;
        sel.node_ids = a->nodes;
        sel.n_node_ids = a->n_nodes;
        sel.roles = a->roles;
        sel.n_roles = a->n_roles;
        sel.groups = a->groups;
        sel.n_groups = a->n_groups;
        sel.exclude = a->exclude;
        sel.n_exclude = a->n_exclude;
        sel.all = a->all;
        jr.selector = &sel;
        jr.command = cmd;
        jr.batch = (char *) (a->batch ? a->batch : "");
        jr.max_failures = (char *) (a->max_failures ? a->max_failures : "");
        jr.dry_run = a->dry_run;
        jr.mode = (char *) (a->mode ? a->mode : "");
        if (health_gate(verb, a, &jr) < 0)
                return CTL_EXIT_USAGE;
        return ctl_job_run(ctl, &jr, a->no_wait);
}

static int action_exec(const ctl_command_t *self, ctl_t *ctl, int argc, char **argv) {
        const char *verb = self->name;
        Hitless__AdminRequest req = HITLESS__ADMIN_REQUEST__INIT;
        Hitless__CommandRequest cr = HITLESS__COMMAND_REQUEST__INIT;
        Hitless__Command cmd = HITLESS__COMMAND__INIT;
        Hitless__DrainAction drain = HITLESS__DRAIN_ACTION__INIT;
        Hitless__UndrainAction undrain = HITLESS__UNDRAIN_ACTION__INIT;
        Hitless__InstallAction install = HITLESS__INSTALL_ACTION__INIT;
        Hitless__RepointAction repoint = HITLESS__REPOINT_ACTION__INIT;
        Hitless__RestartAction restart = HITLESS__RESTART_ACTION__INIT;
        Hitless__CheckAction check = HITLESS__CHECK_ACTION__INIT;
        Hitless__RollbackAction rollback = HITLESS__ROLLBACK_ACTION__INIT;
        Hitless__UnitAction unit = HITLESS__UNIT_ACTION__INIT;
        Hitless__TaskAction task = HITLESS__TASK_ACTION__INIT;
        Hitless__TaskParam tp[MAX_ITEMS], *tpp[MAX_ITEMS];
        Hitless__PackageVersion pv[MAX_ITEMS], *pvp[MAX_ITEMS];
        Hitless__EndpointList el[16], *elp[16];
        action_args_t a = { .health_gate = -1 };
        Hitless__AdminResponse *resp;
        int rc = CTL_EXIT_USAGE;

        argc = ctl_take_json_flag(ctl, argc, argv);
        if (argc < 2 || parse_args(verb, argc, argv, &a) < 0 || split_nodes(verb, &a) < 0)
                goto usage;
        if (!a.batch_mode && a.n_nodes != 1)
                goto usage;
        if (a.batch_mode && (a.id || a.upgrade || a.wait_s))
                goto usage;   /* a job's commands get its ids and deadlines */
        cmd.node_id = a.batch_mode ? (char *) "" : a.nodes[0];
        cmd.upgrade_id = (char *) (a.upgrade ? a.upgrade : "");
        cmd.command_id = (char *) (a.id ? a.id : "");
        if (strcmp(verb, "drain") == 0 || strcmp(verb, "undrain") == 0 || strcmp(verb, "check") == 0 ||
            strcmp(verb, "rollback") == 0) {
                if (a.n_items || a.n_kinds)
                        goto usage;
                if (verb[0] == 'd') {
                        cmd.action_case = HITLESS__COMMAND__ACTION_DRAIN;
                        cmd.drain = &drain;
                } else if (verb[0] == 'u') {
                        cmd.action_case = HITLESS__COMMAND__ACTION_UNDRAIN;
                        cmd.undrain = &undrain;
                } else if (verb[0] == 'c') {
                        cmd.action_case = HITLESS__COMMAND__ACTION_CHECK;
                        cmd.check = &check;
                } else {
                        rollback.snapshot_id = (char *) (a.snapshot ? a.snapshot : "");
                        cmd.action_case = HITLESS__COMMAND__ACTION_ROLLBACK;
                        cmd.rollback = &rollback;
                }
        } else if (strcmp(verb, "install") == 0) {
                if (!a.n_items || a.n_kinds)
                        goto usage;
                for (size_t i = 0; i < a.n_items; i++) {
                        char *eq = strchr(a.items[i], '=');
                        if (!eq || eq == a.items[i] || !eq[1])
                                goto usage;
                        *eq = '\0';
                        hitless__package_version__init(&pv[i]);
                        pv[i].name = a.items[i];
                        pv[i].version = eq + 1;
                        pvp[i] = &pv[i];
                }
                install.n_packages = a.n_items;
                install.packages = pvp;
                cmd.action_case = HITLESS__COMMAND__ACTION_INSTALL;
                cmd.install = &install;
        } else if (strcmp(verb, "repoint") == 0) {
                if (!a.n_kinds || a.n_items)
                        goto usage;
                for (size_t i = 0; i < a.n_kinds; i++) {
                        hitless__endpoint_list__init(&el[i]);
                        el[i].kind = (char *) a.kinds[i];
                        el[i].endpoints = split_list(a.lists[i], &el[i].n_endpoints);
                        elp[i] = &el[i];
                }
                repoint.n_lists = a.n_kinds;
                repoint.lists = elp;
                cmd.action_case = HITLESS__COMMAND__ACTION_REPOINT;
                cmd.repoint = &repoint;
        } else if (strcmp(verb, "task") == 0) {
                /* NAME [PARAM=VALUE...]: the agent's policy validates them. */
                if (!a.n_items || a.n_kinds || strchr(a.items[0], '='))
                        goto usage;
                for (size_t i = 1; i < a.n_items; i++) {
                        char *eq = strchr(a.items[i], '=');
                        if (!eq || eq == a.items[i])
                                goto usage;
                        *eq = '\0';
                        hitless__task_param__init(&tp[i - 1]);
                        tp[i - 1].name = a.items[i];
                        tp[i - 1].value = eq + 1;
                        tpp[i - 1] = &tp[i - 1];
                }
                task.name = a.items[0];
                task.n_params = a.n_items - 1;
                task.params = tpp;
                task.undo = a.undo;
                cmd.action_case = HITLESS__COMMAND__ACTION_TASK;
                cmd.task = &task;
        } else if (strcmp(verb, "start") == 0 || strcmp(verb, "stop") == 0) {
                if (!a.n_items || a.n_kinds)
                        goto usage;
                unit.op = verb[2] == 'a' ? HITLESS__UNIT_OP__UNIT_START : HITLESS__UNIT_OP__UNIT_STOP;
                unit.n_units = a.n_items;
                unit.units = a.items;
                cmd.action_case = HITLESS__COMMAND__ACTION_UNIT;
                cmd.unit = &unit;
        } else {
                if (!a.n_items || a.n_kinds)
                        goto usage;
                restart.n_units = a.n_items;
                restart.units = a.items;
                cmd.action_case = HITLESS__COMMAND__ACTION_RESTART;
                cmd.restart = &restart;
        }
        if (a.batch_mode) {
                rc = run_job(ctl, verb, &a, &cmd);
                goto out;
        }
        cr.command = &cmd;
        cr.no_wait = a.no_wait;
        cr.timeout_s = a.wait_s;
        req.body_case = HITLESS__ADMIN_REQUEST__BODY_COMMAND;
        req.command = &cr;
        if (!a.no_wait)
                wait_for_result(ctl, a.wait_s);
        rc = ctl_call(ctl, &req, &resp);
        if (rc == CTL_EXIT_OK) {
                rc = command_answer(ctl, verb, resp, a.no_wait);
                hitless__admin_response__free_unpacked(resp, NULL);
        }
out:
        for (size_t i = 0; cmd.action_case == HITLESS__COMMAND__ACTION_REPOINT && i < a.n_kinds; i++) {
                for (size_t j = 0; j < el[i].n_endpoints; j++)
                        free(el[i].endpoints[j]);
                free(el[i].endpoints);
        }
        return rc;
usage:
        return ctl_usage(self);
}

#define ACTION(verb, usage_text)                                                     \
        static int verb##_exec(ctl_t *ctl, int argc, char **argv) {                  \
                return action_exec(&ctl_cmd_##verb, ctl, argc, argv);                \
        }                                                                            \
        const ctl_command_t ctl_cmd_##verb = { #verb, usage_text, verb##_exec }

#define COMMON "[--json] [--no-wait] [--id ID] [--upgrade ID] [--wait SECONDS]"
#define SELECTOR "[NODE[,NODE...]...] [--role R] [--group G] [--all] [--exclude NODE,...]"
#define BATCH "[--batch N|N%] [--mode rolling|batch] [--max-failures N|N%] [--health-gate|--no-health-gate] " \
              "[--min-healthy-time D] [--healthy-deadline D] [--dry-run] [--json] [--no-wait]"
ACTION(drain, "drain NODE " COMMON "\ndrain " SELECTOR " " BATCH);
ACTION(undrain, "undrain NODE " COMMON "\nundrain " SELECTOR " " BATCH);
ACTION(install, "install NODE PKG=VERSION... " COMMON "\ninstall " SELECTOR " PKG=VERSION... " BATCH);
ACTION(repoint, "repoint NODE [--controller H:P,...] [--collector H:P,...] [--dns H:P,...] "
                "[--kind NAME=H:P,...] " COMMON "\nrepoint " SELECTOR " [--controller H:P,...] ... " BATCH);
ACTION(restart, "restart NODE UNIT... " COMMON "\nrestart NODE,NODE... UNIT... " BATCH
                "\nrestart --role R|--group G|--all [--exclude NODE,...] UNIT... " BATCH);
ACTION(start, "start NODE UNIT... " COMMON "\nstart NODE,NODE...|--role R|--group G|--all UNIT... " BATCH);
ACTION(stop, "stop NODE UNIT... " COMMON "\nstop NODE,NODE...|--role R|--group G|--all UNIT... " BATCH);
ACTION(task, "task NODE NAME [PARAM=VALUE...] [--undo] " COMMON
             "\ntask NODE,NODE...|--role R|--group G|--all NAME [PARAM=VALUE...] [--undo] " BATCH);
ACTION(check, "check NODE " COMMON "\ncheck " SELECTOR " " BATCH);

/* ---- rollback ------------------------------------------------------------------ */

static bool direct_rollback(int argc, char **argv) {
        static const char *const direct[] = { "--snapshot", "--id", "--no-wait", "--wait", "--upgrade" };
        for (int i = 2; i < argc; i++)
                for (size_t k = 0; k < sizeof direct / sizeof *direct; k++)
                        if (strcmp(argv[i], direct[k]) == 0)
                                return true;
        return false;
}

/* NODE... | --phase P | --all, exactly one of them. The node ids are
 * gathered at the front of argv (they stay argv's strings). */
static int parse_rollback(int argc, char **argv, Hitless__RollbackRequest *rr) {
        size_t n = 0;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--phase") == 0 && i + 1 < argc && !rr->phase[0])
                        rr->phase = argv[++i];
                else if (strcmp(argv[i], "--all") == 0)
                        rr->all = true;
                else if (argv[i][0] == '-')
                        return -1;
                else
                        argv[n++] = argv[i];
        }
        rr->node_ids = argv;
        rr->n_node_ids = n;
        return (n > 0) + (rr->phase[0] != '\0') + rr->all == 1 ? 0 : -1;
}

static int rollback_exec(ctl_t *ctl, int argc, char **argv) {
        Hitless__AdminRequest req = HITLESS__ADMIN_REQUEST__INIT;
        Hitless__RollbackRequest rr = HITLESS__ROLLBACK_REQUEST__INIT;
        Hitless__AdminResponse *resp;
        int rc;

        argc = ctl_take_json_flag(ctl, argc, argv);
        if (direct_rollback(argc, argv))
                return action_exec(&ctl_cmd_rollback, ctl, argc, argv);
        if (parse_rollback(argc, argv, &rr) < 0)
                return ctl_usage(&ctl_cmd_rollback);
        req.body_case = HITLESS__ADMIN_REQUEST__BODY_ROLLBACK;
        req.rollback = &rr;
        /* A node outside any upgrade is rolled back now, and answered
         * with the result. */
        wait_for_result(ctl, 0);
        if ((rc = ctl_call(ctl, &req, &resp)) != CTL_EXIT_OK)
                return rc;
        if (resp->body_case == HITLESS__ADMIN_RESPONSE__BODY_UPGRADE_STATUS)
                rc = ctl_upgrade_answer(ctl, resp);
        else
                rc = command_answer(ctl, "rollback", resp, false);
        hitless__admin_response__free_unpacked(resp, NULL);
        return rc;
}

const ctl_command_t ctl_cmd_rollback = {
        .name = "rollback",
        .usage = "rollback NODE... | --phase PHASE | --all [--json]\n"
                 "rollback NODE [--snapshot ID] " COMMON,
        .exec = rollback_exec,
};
