/* The upgrade executor's shell; see upgrade.h. */
#include "coordinator/upgrade/upgrade.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/log.h"
#include "common/log_ids.h"
#include "coordinator/upgrade/upgrade_machine.h"

/* How long an agent has to accept a command before it refuses it as stale
 * (the agent checks the deadline when the command arrives, not while it
 * runs). */
#define COMMAND_DEADLINE_S 600

/* After a restart, how long agents have to reconnect (libzmq's reconnect
 * interval plus the agent's own backoff, on a loaded machine) before one
 * still absent counts as unreachable, failing its step. */
#define RECONNECT_GRACE_MS(node_timeout_ms) (2 * (node_timeout_ms) + 5000)

/* The current (latest) upgrade: what was stored at its start, the config
 * rebuilt from it, and the machine. */
typedef struct {
        int64_t seq;
        char id[32];
        char actor_tag[48];          /* "upgrade:<id>": the actor of what the executor does */
        char *plan_name, *file_name, *content, *started_by;
        int64_t started;
        plan_t *plan;
        Hitless__UpgradeSetup *setup;
        int *indices;                /* phase node lists, group members, phase step nodes */
        upgrade_phase_config_t *phases;
        quorum_group_t *groups;
        upgrade_config_t cfg;
        upgrade_machine_t *m;
        upgrade_record_t *saved;     /* as last committed */
        size_t n_saved;
} current_t;

struct upgrade {
        upgrade_deps_t d;
        current_t *cur;              /* NULL: none, or it could not be rebuilt */
        int64_t last_seq;            /* the latest seq in the store */
        int64_t grace_until_ms;
        char hold[UPGRADE_TEXT_MAX]; /* why no new node may start now; "" none */
        /* Results recorded but maybe not seen by the machine (after a load):
         * fed at the next tick once the store writes, never from inside a
         * failed persist (that would retry at once, and recurse). */
        bool replay_pending;
        bool (*job_busy)(void *ud, const char *node_id);   /* upgrade_set_job_busy */
        void *job_busy_ud;
};

/* ---- the current upgrade's setup ------------------------------------------ */

static void s_current_free(current_t *c) {
        if (!c)
                return;
        upgrade_machine_destroy(&c->m);
        free(c->saved);
        free(c->groups);
        free(c->phases);
        free(c->indices);
        if (c->setup)
                hitless__upgrade_setup__free_unpacked(c->setup, NULL);
        plan_free(&c->plan);
        free(c->plan_name);
        free(c->file_name);
        free(c->content);
        free(c->started_by);
        free(c);
}

/* cfg from the stored setup and the plan: phases in plan order, each with
 * its nodes in index order (the plan order they were stored in). */
static int s_build_config(current_t *c) {
        const Hitless__UpgradeSetup *s = c->setup;
        size_t n = s->n_node_ids, total = 0;

        if (n == 0 || s->n_node_phase != n || s->n_phases != c->plan->n_phases)
                return -EINVAL;
        for (size_t g = 0; g < s->n_groups; g++)
                total += s->groups[g]->n_members;
        for (size_t p = 0; p < s->n_phases; p++)
                total += s->phases[p]->n_before_nodes + s->phases[p]->n_after_nodes + s->phases[p]->n_wait_for_nodes;
        c->indices = calloc(n + total, sizeof *c->indices);
        c->phases = calloc(s->n_phases, sizeof *c->phases);
        c->groups = calloc(s->n_groups ? s->n_groups : 1, sizeof *c->groups);
        if (!c->indices || !c->phases || !c->groups)
                return -ENOMEM;
        int *next = c->indices;
        for (size_t p = 0; p < s->n_phases; p++) {
                upgrade_phase_config_t *pc = &c->phases[p];
                pc->params = &c->plan->phases[p];
                pc->nodes = next;
                for (size_t i = 0; i < n; i++)
                        if (s->node_phase[i] == (int32_t) p)
                                next[pc->n_nodes++] = (int) i;
                next += pc->n_nodes;
                pc->batch_size = (int) s->phases[p]->batch_size;
                pc->max_failures = (int) s->phases[p]->max_failures;
        }
        for (size_t p = 0; p < s->n_phases; p++) {
                const Hitless__UpgradeSetupPhase *sp = s->phases[p];
                const struct { plan_stage_t stage; const uint32_t *v; size_t n; } own[] = {
                        { PLAN_STAGE_BEFORE, sp->before_nodes, sp->n_before_nodes },
                        { PLAN_STAGE_AFTER, sp->after_nodes, sp->n_after_nodes },
                        { PLAN_STAGE_WAIT_FOR, sp->wait_for_nodes, sp->n_wait_for_nodes },
                };
                for (size_t k = 0; k < sizeof own / sizeof own[0]; k++) {
                        /* Every step of the plan has its node, or none runs. */
                        if (own[k].n != c->plan->phases[p].steps[own[k].stage].n)
                                return -EINVAL;
                        c->phases[p].step_nodes[own[k].stage] = next;
                        c->phases[p].n_steps[own[k].stage] = own[k].n;
                        for (size_t j = 0; j < own[k].n; j++) {
                                if (own[k].v[j] >= n)
                                        return -EINVAL;
                                *next++ = (int) own[k].v[j];
                        }
                }
        }
        for (size_t i = 0; i < n; i++)
                if (s->node_phase[i] < -1 || s->node_phase[i] >= (int32_t) s->n_phases)
                        return -EINVAL;
        for (size_t g = 0; g < s->n_groups; g++) {
                const Hitless__UpgradeSetupGroup *sg = s->groups[g];
                quorum_group_t *qg = &c->groups[g];
                qg->name = sg->name;
                qg->members = next;
                qg->n_members = sg->n_members;
                qg->max_down = (int) sg->max_down;
                for (size_t k = 0; k < sg->n_members; k++) {
                        if (sg->members[k] >= n)
                                return -EINVAL;
                        next[k] = (int) sg->members[k];
                }
                next += sg->n_members;
        }
        c->cfg = (upgrade_config_t) {
                .n_nodes = n,
                .names = (const char *const *) s->node_ids,
                .groups = c->groups,
                .n_groups = s->n_groups,
                .phases = c->phases,
                .n_phases = s->n_phases,
        };
        return 0;
}

static int s_node_index(const current_t *c, const char *node_id) {
        for (size_t i = 0; i < c->setup->n_node_ids; i++)
                if (strcmp(c->setup->node_ids[i], node_id) == 0)
                        return (int) i;
        return -1;
}

/* A growing list of node ids (borrowed) with their phase. */
typedef struct {
        char **ids;
        int32_t *phase;
        size_t n, cap;
} id_list_t;

static int s_id_add(id_list_t *l, const char *id, int32_t phase) {
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->ids[i], id) == 0)
                        return (int) i;
        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 32;
                char **ids = realloc(l->ids, cap * sizeof *ids);
                if (ids)
                        l->ids = ids;
                int32_t *ph = realloc(l->phase, cap * sizeof *ph);
                if (ph)
                        l->phase = ph;
                if (!ids || !ph)
                        return -ENOMEM;
                l->cap = cap;
        }
        l->ids[l->n] = (char *) id;
        l->phase[l->n] = phase;
        return (int) l->n++;
}

static bool s_skipped(const plan_preview_phase_t *pp, const char *node) {
        for (size_t k = 0; k < pp->n_skipped; k++)
                if (strcmp(pp->skipped[k].node, node) == 0)
                        return true;
        return false;
}

/* The nodes the phase's before, after and wait_for steps run on, as the
 * preview chose them, into sp (arrays malloc'ed; the caller frees them). */
static int s_pack_step_nodes(const plan_preview_phase_t *pp, id_list_t *l, Hitless__UpgradeSetupPhase *sp) {
        for (size_t k = 0; k < pp->n_steps; k++) {
                const plan_preview_step_t *st = &pp->steps[k];
                uint32_t **v;
                size_t *n;
                if (st->stage == PLAN_STAGE_BEFORE) {
                        v = &sp->before_nodes;
                        n = &sp->n_before_nodes;
                } else if (st->stage == PLAN_STAGE_AFTER) {
                        v = &sp->after_nodes;
                        n = &sp->n_after_nodes;
                } else if (st->stage == PLAN_STAGE_WAIT_FOR) {
                        v = &sp->wait_for_nodes;
                        n = &sp->n_wait_for_nodes;
                } else {
                        continue;
                }
                if (!st->node)
                        return -EINVAL;   /* plan check refused it */
                int i = s_id_add(l, st->node, -1);
                if (i < 0)
                        return i;
                uint32_t *nv = realloc(*v, (*n + 1) * sizeof *nv);
                if (!nv)
                        return -ENOMEM;
                nv[(*n)++] = (uint32_t) i;
                *v = nv;
        }
        return 0;
}

/* The setup of a new upgrade, packed: every node a phase upgrades (the
 * phase's nodes minus the ones the preview skips), then the members of
 * every quorum group. *ret_nodes: how many nodes the phases upgrade. */
static int s_pack_setup(const plan_preview_t *pv, const inventory_t *inv, uint8_t **ret, size_t *ret_len,
                        size_t *ret_nodes) {
        Hitless__UpgradeSetup setup = HITLESS__UPGRADE_SETUP__INIT;
        Hitless__UpgradeSetupPhase *phases = calloc(pv->n_phases, sizeof *phases);
        Hitless__UpgradeSetupPhase **phase_ptrs = calloc(pv->n_phases, sizeof *phase_ptrs);
        size_t n_groups = inv->n_quorum_groups;
        Hitless__UpgradeSetupGroup *groups = calloc(n_groups ? n_groups : 1, sizeof *groups);
        Hitless__UpgradeSetupGroup **group_ptrs = calloc(n_groups ? n_groups : 1, sizeof *group_ptrs);
        id_list_t l = { 0 };
        int r = (phases && phase_ptrs && groups && group_ptrs) ? 0 : -ENOMEM;

        for (size_t p = 0; r >= 0 && p < pv->n_phases; p++) {
                const plan_preview_phase_t *pp = &pv->phases[p];
                for (size_t k = 0; r >= 0 && k < pp->n_nodes; k++)
                        if (!s_skipped(pp, pp->nodes[k]))
                                r = s_id_add(&l, pp->nodes[k], (int32_t) p);
                hitless__upgrade_setup_phase__init(&phases[p]);
                phases[p].batch_size = (uint32_t) pp->batch_size;
                phases[p].max_failures = (uint32_t) pp->max_failures;
                phase_ptrs[p] = &phases[p];
        }
        *ret_nodes = l.n;
        for (size_t p = 0; r >= 0 && p < pv->n_phases; p++)
                r = s_pack_step_nodes(&pv->phases[p], &l, &phases[p]);
        for (size_t g = 0; r >= 0 && g < n_groups; g++) {
                const inventory_quorum_group_t *q = &inv->quorum_groups[g];
                hitless__upgrade_setup_group__init(&groups[g]);
                groups[g].name = q->name;
                groups[g].max_down = (uint32_t) q->max_down;
                groups[g].members = calloc(q->n_members ? q->n_members : 1, sizeof *groups[g].members);
                if (!groups[g].members) {
                        r = -ENOMEM;
                        break;
                }
                for (size_t k = 0; r >= 0 && k < q->n_members; k++) {
                        r = s_id_add(&l, q->members[k], -1);
                        if (r >= 0)
                                groups[g].members[groups[g].n_members++] = (uint32_t) r;
                }
                group_ptrs[g] = &groups[g];
        }
        if (r >= 0) {
                setup.n_node_ids = l.n;
                setup.node_ids = l.ids;
                setup.n_node_phase = l.n;
                setup.node_phase = l.phase;
                setup.n_phases = pv->n_phases;
                setup.phases = phase_ptrs;
                setup.n_groups = n_groups;
                setup.groups = group_ptrs;
                *ret_len = hitless__upgrade_setup__get_packed_size(&setup);
                *ret = malloc(*ret_len ? *ret_len : 1);
                if (*ret)
                        hitless__upgrade_setup__pack(&setup, *ret);
                else
                        r = -ENOMEM;
        }
        for (size_t g = 0; groups && g < n_groups; g++)
                free(groups[g].members);
        for (size_t p = 0; phases && p < pv->n_phases; p++) {
                free(phases[p].before_nodes);
                free(phases[p].after_nodes);
                free(phases[p].wait_for_nodes);
        }
        free(groups);
        free(group_ptrs);
        free(phases);
        free(phase_ptrs);
        free(l.ids);
        free(l.phase);
        return r < 0 ? r : 0;
}

/* A current_t from what the store holds (or is about to hold). */
static int s_current_new(int64_t seq, const char *plan_name, const char *file_name, const char *content,
                         const char *started_by, int64_t started, const uint8_t *setup, size_t setup_len,
                         current_t **ret) {
        current_t *c = calloc(1, sizeof *c);
        conf_report_t rep;
        int r;

        if (!c)
                return -ENOMEM;
        c->seq = seq;
        snprintf(c->id, sizeof c->id, "up-%" PRId64, seq);
        snprintf(c->actor_tag, sizeof c->actor_tag, "upgrade:%s", c->id);
        c->plan_name = strdup(plan_name);
        c->file_name = strdup(file_name);
        c->content = strdup(content);
        c->started_by = strdup(started_by);
        c->started = started;
        c->setup = hitless__upgrade_setup__unpack(NULL, setup_len, setup);
        if (!c->plan_name || !c->file_name || !c->content || !c->started_by || !c->setup) {
                r = c->setup ? -ENOMEM : -EINVAL;
                s_current_free(c);
                return r;
        }
        conf_report_init(&rep, file_name);
        r = plan_parse_string(file_name, content, strlen(content), &c->plan, &rep);
        for (size_t i = 0; r < 0 && i < rep.n_lines; i++)
                log_error("upgrade %s: %s", c->id, rep.lines[i]);
        conf_report_free(&rep);
        if (r >= 0)
                r = s_build_config(c);
        if (r < 0) {
                s_current_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

/* ---- persisting, then acting --------------------------------------------- */

/* A command to send, with the storage its protobuf fields point into. */
typedef struct {
        Hitless__Command cmd;
        char id[64];
        char upgrade_id[32];
        char node_id[NODE_ID_MAX + 1];
        Hitless__DrainAction drain;
        Hitless__UndrainAction undrain;
        Hitless__InstallAction install;
        Hitless__RepointAction repoint;
        Hitless__RestartAction restart;
        Hitless__RollbackAction rollback;
        Hitless__PackageVersion *pkgs;
        Hitless__PackageVersion **pkg_ptrs;
        Hitless__EndpointList *lists;
        Hitless__EndpointList **list_ptrs;
        Hitless__TaskAction task;
        Hitless__UnitAction unit;
        Hitless__TaskParam *params;
        Hitless__TaskParam **param_ptrs;
} out_cmd_t;

static void s_out_free(out_cmd_t *o) {
        if (!o)
                return;
        free(o->pkgs);
        free(o->pkg_ptrs);
        free(o->lists);
        free(o->list_ptrs);
        free(o->params);
        free(o->param_ptrs);
        free(o);
}

static bool s_node_reports(const node_t *n, const char *package) {
        if (!n)
                return true;   /* nothing known: send every package */
        for (size_t i = 0; i < n->info->n_packages; i++)
                if (strcmp(n->info->packages[i]->name, package) == 0)
                        return true;
        return false;
}

/* The plan's packages this node's agent manages (others are left alone,
 * as the preview said). */
static int s_fill_install(const current_t *c, const node_t *n, out_cmd_t *o) {
        const plan_t *plan = c->plan;
        o->pkgs = calloc(plan->n_packages, sizeof *o->pkgs);
        o->pkg_ptrs = calloc(plan->n_packages, sizeof *o->pkg_ptrs);
        if (!o->pkgs || !o->pkg_ptrs)
                return -ENOMEM;
        hitless__install_action__init(&o->install);
        for (size_t k = 0; k < plan->n_packages; k++) {
                if (!s_node_reports(n, plan->packages[k].name))
                        continue;
                Hitless__PackageVersion *pv = &o->pkgs[o->install.n_packages];
                hitless__package_version__init(pv);
                pv->name = plan->packages[k].name;
                pv->version = plan->packages[k].version;
                o->pkg_ptrs[o->install.n_packages++] = pv;
        }
        o->install.packages = o->pkg_ptrs;
        o->install.allow_downgrade = false;
        o->cmd.action_case = HITLESS__COMMAND__ACTION_INSTALL;
        o->cmd.install = &o->install;
        return 0;
}

static int s_fill_repoint(const plan_phase_t *ph, out_cmd_t *o) {
        o->lists = calloc(ph->n_repoint ? ph->n_repoint : 1, sizeof *o->lists);
        o->list_ptrs = calloc(ph->n_repoint ? ph->n_repoint : 1, sizeof *o->list_ptrs);
        if (!o->lists || !o->list_ptrs)
                return -ENOMEM;
        hitless__repoint_action__init(&o->repoint);
        for (size_t k = 0; k < ph->n_repoint; k++) {
                hitless__endpoint_list__init(&o->lists[k]);
                o->lists[k].kind = ph->repoint[k].kind;
                o->lists[k].endpoints = ph->repoint[k].endpoints;
                o->lists[k].n_endpoints = conf_strv_len(ph->repoint[k].endpoints);
                o->list_ptrs[k] = &o->lists[k];
        }
        o->repoint.n_lists = ph->n_repoint;
        o->repoint.lists = o->list_ptrs;
        o->cmd.action_case = HITLESS__COMMAND__ACTION_REPOINT;
        o->cmd.repoint = &o->repoint;
        return 0;
}

/* A step of the phase (plan_steps.h): a task with its
 * parameters, or a unit start/stop. */
static int s_fill_step(const plan_phase_t *ph, const upgrade_action_t *a, out_cmd_t *o) {
        if ((unsigned) a->stage >= PLAN_STAGE__COUNT)
                return -EINVAL;
        const plan_steps_t *steps = &ph->steps[a->stage];
        if (a->step_index < 0 || (size_t) a->step_index >= steps->n)
                return -EINVAL;
        const plan_step_t *st = &steps->v[a->step_index];
        if (st->kind != PLAN_STEP_TASK) {
                hitless__unit_action__init(&o->unit);
                o->unit.op = st->kind == PLAN_STEP_START ? HITLESS__UNIT_OP__UNIT_START : HITLESS__UNIT_OP__UNIT_STOP;
                o->unit.units = st->units;
                o->unit.n_units = conf_strv_len(st->units);
                o->cmd.action_case = HITLESS__COMMAND__ACTION_UNIT;
                o->cmd.unit = &o->unit;
                return 0;
        }
        o->params = calloc(st->n_params + 1, sizeof *o->params);
        o->param_ptrs = calloc(st->n_params + 1, sizeof *o->param_ptrs);
        if (!o->params || !o->param_ptrs)
                return -ENOMEM;
        hitless__task_action__init(&o->task);
        for (size_t k = 0; k < st->n_params; k++) {
                hitless__task_param__init(&o->params[k]);
                o->params[k].name = st->params[k].name;
                o->params[k].value = st->params[k].value;
                o->param_ptrs[k] = &o->params[k];
        }
        o->task.name = st->task;
        o->task.n_params = st->n_params;
        o->task.params = o->param_ptrs;
        o->cmd.action_case = HITLESS__COMMAND__ACTION_TASK;
        o->cmd.task = &o->task;
        return 0;
}

static void s_command_id(const current_t *c, uint64_t cmd_id, char *buf, size_t len) {
        snprintf(buf, len, "%s-%" PRIu64, c->id, cmd_id);
}

/* The command for a SEND action; NULL when out of memory. */
static out_cmd_t *s_out_command(const upgrade_t *u, const upgrade_action_t *a, int64_t now_ms) {
        const current_t *c = u->cur;
        out_cmd_t *o = calloc(1, sizeof *o);
        const plan_phase_t *ph = a->params;
        int r = 0;

        if (!o)
                return NULL;
        hitless__command__init(&o->cmd);
        s_command_id(c, a->cmd_id, o->id, sizeof o->id);
        snprintf(o->upgrade_id, sizeof o->upgrade_id, "%s", c->id);
        snprintf(o->node_id, sizeof o->node_id, "%s", c->setup->node_ids[a->node]);
        o->cmd.command_id = o->id;
        o->cmd.node_id = o->node_id;
        o->cmd.upgrade_id = o->upgrade_id;
        o->cmd.deadline = now_ms / 1000 + COMMAND_DEADLINE_S;
        switch (a->cmd) {
        case UPGRADE_CMD_DRAIN:
                hitless__drain_action__init(&o->drain);
                o->cmd.action_case = HITLESS__COMMAND__ACTION_DRAIN;
                o->cmd.drain = &o->drain;
                break;
        case UPGRADE_CMD_UNDRAIN:
                hitless__undrain_action__init(&o->undrain);
                o->cmd.action_case = HITLESS__COMMAND__ACTION_UNDRAIN;
                o->cmd.undrain = &o->undrain;
                break;
        case UPGRADE_CMD_INSTALL:
                r = s_fill_install(c, fleet_find(u->d.fleet, o->node_id), o);
                break;
        case UPGRADE_CMD_REPOINT:
                r = s_fill_repoint(ph, o);
                break;
        case UPGRADE_CMD_RESTART:
                hitless__restart_action__init(&o->restart);
                o->restart.units = ph->restart;
                o->restart.n_units = conf_strv_len(ph->restart);
                o->cmd.action_case = HITLESS__COMMAND__ACTION_RESTART;
                o->cmd.restart = &o->restart;
                break;
        case UPGRADE_CMD_STEP:
                r = s_fill_step(ph, a, o);
                break;
        case UPGRADE_CMD_ROLLBACK:
                /* No snapshot id: the agent restores this upgrade's snapshot. */
                hitless__rollback_action__init(&o->rollback);
                o->cmd.action_case = HITLESS__COMMAND__ACTION_ROLLBACK;
                o->cmd.rollback = &o->rollback;
                break;
        default:
                r = -EINVAL;
        }
        if (r < 0) {
                s_out_free(o);
                return NULL;
        }
        return o;
}

/* The event an action is recorded as (NULL: none). */
static const char *s_action_event(upgrade_action_kind_t k) {
        switch (k) {
        case UPGRADE_ACT_NODE_DONE: return "upgrade.node_done";
        case UPGRADE_ACT_NODE_FAILED: return "upgrade.node_failed";
        case UPGRADE_ACT_NODE_ROLLED_BACK: return "upgrade.node_rolled_back";
        case UPGRADE_ACT_ERROR: return "upgrade.error";
        case UPGRADE_ACT_PAUSED: return "upgrade.paused";
        case UPGRADE_ACT_PHASE_STARTED: return "upgrade.phase_started";
        case UPGRADE_ACT_PROMOTE_WAIT: return "upgrade.promote_wait";
        case UPGRADE_ACT_COMPLETE: return "upgrade.complete";
        default: return NULL;
        }
}

/* The journal's MESSAGE_ID of the decisions an operator filters on. */
static const char *s_action_message_id(upgrade_action_kind_t k) {
        switch (k) {
        case UPGRADE_ACT_NODE_FAILED: return HL_MSG_UPGRADE_NODE_FAILED;
        case UPGRADE_ACT_PAUSED: return HL_MSG_UPGRADE_PAUSED;
        case UPGRADE_ACT_COMPLETE: return HL_MSG_UPGRADE_COMPLETE;
        default: return NULL;
        }
}

static int s_record_action(const upgrade_t *u, const upgrade_action_t *a, int64_t now_ms) {
        const current_t *c = u->cur;
        const char *kind = s_action_event(a->kind);
        char msg[UPGRADE_TEXT_MAX + 64];
        const char *node = a->node >= 0 ? c->setup->node_ids[a->node] : "";

        if (!kind)
                return 0;
        if (a->kind == UPGRADE_ACT_PHASE_STARTED && a->phase >= 0)
                snprintf(msg, sizeof msg, "%s: phase %s started", c->id, c->plan->phases[a->phase].name);
        else
                snprintf(msg, sizeof msg, "%s: %s", c->id, a->message[0] ? a->message : kind + 8);
        log_with(a->kind == UPGRADE_ACT_NODE_FAILED || a->kind == UPGRADE_ACT_ERROR ? LOG_WARNING : LOG_INFO,
                 &(log_fields_t) { .node_id = node, .upgrade_id = c->id, .message_id = s_action_message_id(a->kind) },
                 "%s", msg);
        return store_event_append(u->d.store, now_ms / 1000, node, kind, c->actor_tag, msg, NULL);
}

static void s_reload(upgrade_t *u, int64_t now_ms);

/* The durability contract: the machine's changed records, the commands it
 * decided to send and its events, in one transaction; then the sends. */
static int s_persist_and_send(upgrade_t *u, const upgrade_action_t *acts, size_t n, int64_t now_ms) {
        current_t *c = u->cur;
        upgrade_record_t *recs = NULL;
        size_t n_recs = 0, n_out = 0;
        out_cmd_t **out = NULL;
        size_t first = 0;   /* the first record that differs from the saved one */
        int r;

        if (upgrade_machine_export(c->m, &recs, &n_recs) < 0) {
                log_error("upgrade %s: out of memory exporting its state; reloading it", c->id);
                s_reload(u, now_ms);
                return -ENOMEM;
        }
        while (first < n_recs && first < c->n_saved && memcmp(&recs[first], &c->saved[first], sizeof *recs) == 0)
                first++;
        if (first == n_recs && n == 0) {
                free(recs);
                return 0;
        }
        out = calloc(n ? n : 1, sizeof *out);
        r = out ? store_begin(u->d.store) : -ENOMEM;
        for (size_t i = first; r >= 0 && i < n_recs; i++)
                if (i >= c->n_saved || memcmp(&recs[i], &c->saved[i], sizeof recs[i]) != 0)
                        r = store_upgrade_records_put(u->d.store, c->seq, &recs[i], 1);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                if (acts[i].kind == UPGRADE_ACT_SEND) {
                        out[n_out] = s_out_command(u, &acts[i], now_ms);
                        r = out[n_out] ? commands_record(u->d.commands, &out[n_out]->cmd, c->actor_tag) : -ENOMEM;
                        n_out++;
                } else if (acts[i].kind == UPGRADE_ACT_STALE_RESULT) {
                        char id[64];
                        s_command_id(c, acts[i].cmd_id, id, sizeof id);
                        log_node(LOG_NOTICE, acts[i].node >= 0 ? c->setup->node_ids[acts[i].node] : NULL,
                                 "%s: stale result, ignored by upgrade %s (the node failed before; the "
                                 "command's record keeps it): %s", id, c->id, acts[i].message);
                } else {
                        r = s_record_action(u, &acts[i], now_ms);
                }
        }
        if (out && r >= 0)
                r = store_commit(u->d.store);
        else if (out)
                (void) store_rollback(u->d.store);   /* the first error is the one reported */
        if (r < 0) {
                log_node(r == -ENOMEM ? LOG_ERR : store_health_log_level(store_health(u->d.store)), NULL,
                         "upgrade %s: cannot record its next steps (%s): nothing sent; reloading its last "
                         "committed state", c->id, r == -ENOMEM ? "out of memory" : store_last_error(u->d.store));
                free(recs);
        } else {
                free(c->saved);
                c->saved = recs;
                c->n_saved = n_recs;
                for (size_t i = 0; i < n_out; i++) {
                        log_fields_t f = { .node_id = out[i]->node_id, .upgrade_id = c->id,
                                           .command_id = out[i]->id };
                        if (commands_deliver(u->d.commands, &out[i]->cmd) < 0)
                                log_with(LOG_WARNING, &f, "%s not delivered now: node unreachable", out[i]->id);
                        else
                                log_with(LOG_INFO, &f, "%s %s sent", out[i]->id, command_action_name(&out[i]->cmd));
                }
        }
        for (size_t i = 0; i < n_out; i++)
                s_out_free(out[i]);
        free(out);
        if (r < 0)
                s_reload(u, now_ms);
        return r < 0 ? r : 0;
}

/* After a machine event: act on its result. On failure (the event, or
 * persisting it) u->cur may have been rebuilt: callers re-read it. */
static int s_after(upgrade_t *u, int r, const upgrade_action_t *acts, size_t n, int64_t now_ms) {
        if (r < 0)
                return r;
        return s_persist_and_send(u, acts, n, now_ms);
}

/* ---- results ----------------------------------------------------------------- */

static bool s_own_command(const current_t *c, const char *command_id, uint64_t *ret) {
        size_t n = strlen(c->id);
        char *end;
        if (strncmp(command_id, c->id, n) != 0 || command_id[n] != '-')
                return false;
        errno = 0;
        unsigned long long v = strtoull(command_id + n + 1, &end, 10);
        if (errno || *end || end == command_id + n + 1 || v == 0)
                return false;
        *ret = v;
        return true;
}

static void s_feed_result(upgrade_t *u, int node, uint64_t cmd_id, const Hitless__CommandStatus *st, int64_t now_ms) {
        current_t *c = u->cur;
        upgrade_result_t res;
        char err[UPGRADE_TEXT_MAX];
        const upgrade_action_t *acts;
        size_t n;

        switch (st->state) {
        case HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED:
                res = UPGRADE_RESULT_SUCCEEDED;
                break;
        case HITLESS__COMMAND_STATE__COMMAND_INTERRUPTED:
                /* The agent died mid-command but verified that what it was to
                 * do is in place: the step is done. */
                res = strcmp(st->error_code, "interrupted-completed") == 0 ? UPGRADE_RESULT_SUCCEEDED
                                                                           : UPGRADE_RESULT_INTERRUPTED;
                break;
        default:
                res = UPGRADE_RESULT_FAILED;
        }
        Hitless__HealthState h = st->health ? st->health->state : HITLESS__HEALTH_STATE__HEALTH_UNKNOWN;
        snprintf(err, sizeof err, "%s%s%s", st->error_code, st->error_code[0] ? ": " : "", st->message);
        int r = upgrade_machine_on_result(c->m, now_ms, node, cmd_id, res, h != HITLESS__HEALTH_STATE__HEALTH_UNKNOWN,
                                          health_state_up(h), err, &acts, &n);
        s_after(u, r, acts, n, now_ms);
}

typedef struct {
        Hitless__Command *request;
        Hitless__CommandStatus *status;
        int state;
} stored_cmd_t;

static int s_on_stored(const command_record_t *rec, void *ud) {
        stored_cmd_t *s = ud;
        s->state = rec->state;
        s->request = hitless__command__unpack(NULL, rec->request_len, rec->request);
        if (rec->result && rec->result_len)
                s->status = hitless__command_status__unpack(NULL, rec->result_len, rec->result);
        return 0;
}

static void s_stored_clear(stored_cmd_t *s) {
        if (s->request)
                hitless__command__free_unpacked(s->request, NULL);
        if (s->status)
                hitless__command_status__free_unpacked(s->status, NULL);
        memset(s, 0, sizeof *s);
}

/* The agent never got command_id (it has no record): send it again, same
 * id, with a new deadline. */
static void s_redeliver(upgrade_t *u, const char *node_id, const char *command_id, int64_t now_ms) {
        stored_cmd_t s = { 0 };
        if (store_command_get(u->d.store, command_id, s_on_stored, &s) == 0 && s.request) {
                s.request->deadline = now_ms / 1000 + COMMAND_DEADLINE_S;
                if (commands_deliver(u->d.commands, s.request) == 0)
                        log_node(LOG_INFO, node_id, "%s never arrived: sent again", command_id);
        }
        s_stored_clear(&s);
}

static void s_on_command(void *ud, const char *node_id, const Hitless__CommandStatus *st) {
        upgrade_t *u = ud;
        current_t *c = u->cur;
        uint64_t cmd_id;
        int64_t now_ms = clock_wall_ms();
        upgrade_node_status_t ns;

        if (!c || !s_own_command(c, st->command_id, &cmd_id))
                return;
        int node = s_node_index(c, node_id);
        if (node < 0)
                return;
        if (st->state == HITLESS__COMMAND_STATE__COMMAND_STATE_UNSPECIFIED) {
                if (upgrade_machine_node(c->m, node, &ns) == 0 && ns.cmd_id == cmd_id)
                        s_redeliver(u, node_id, st->command_id, now_ms);
                return;
        }
        s_feed_result(u, node, cmd_id, st, now_ms);
}

/* Results the commands module recorded before a crash but the machine never
 * saw (they are committed separately): feed them now. */
static void s_replay_results(upgrade_t *u, int64_t now_ms) {
        const current_t *c = u->cur;
        for (size_t i = 0; u->cur == c && i < c->cfg.n_nodes; i++) {
                upgrade_node_status_t ns;
                char id[64];
                stored_cmd_t s = { 0 };
                if (upgrade_machine_node(c->m, (int) i, &ns) < 0 || ns.cmd_id == 0)
                        continue;
                s_command_id(c, ns.cmd_id, id, sizeof id);
                if (store_command_get(u->d.store, id, s_on_stored, &s) < 0)
                        log_node(LOG_WARNING, c->setup->node_ids[i], "%s: in flight but not in the store", id);
                else if (s.state >= HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED && s.status)
                        s_feed_result(u, (int) i, ns.cmd_id, s.status, now_ms);
                s_stored_clear(&s);
        }
}

/* ---- load / start ------------------------------------------------------------ */

typedef struct {
        upgrade_t *u;
        current_t *c;
        int r;
} load_ctx_t;

static int s_on_latest(const upgrade_row_t *row, void *ud) {
        load_ctx_t *l = ud;
        l->u->last_seq = row->seq;
        l->r = s_current_new(row->seq, row->plan_name, row->file_name, row->content, row->actor, row->started,
                             row->setup, row->setup_len, &l->c);
        return 0;
}

/* (Re)builds the current upgrade from the store. */
static int s_load(upgrade_t *u, int64_t now_ms) {
        load_ctx_t l = { u, NULL, 0 };
        upgrade_record_t *recs = NULL;
        size_t n = 0;

        int r = store_upgrade_latest(u->d.store, s_on_latest, &l);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (l.r < 0) {
                log_error("upgrade up-%" PRId64 " cannot be rebuilt (%s): it stays stopped", u->last_seq,
                          strerror(-l.r));
                return 0;
        }
        r = store_upgrade_records_get(u->d.store, l.c->seq, &recs, &n);
        if (r >= 0)
                r = upgrade_machine_import(&l.c->cfg, recs, n, &l.c->m);
        if (r < 0) {
                log_error("upgrade %s: its stored state cannot be read (%s): it stays stopped", l.c->id,
                          strerror(-r));
                free(recs);
                s_current_free(l.c);
                return 0;
        }
        l.c->saved = recs;
        l.c->n_saved = n;
        upgrade_machine_set_hold(l.c->m, u->hold);
        u->cur = l.c;
        u->grace_until_ms = now_ms + RECONNECT_GRACE_MS(u->d.node_timeout_ms);
        u->replay_pending = true;
        return 0;
}

static void s_reload(upgrade_t *u, int64_t now_ms) {
        s_current_free(u->cur);
        u->cur = NULL;
        if (s_load(u, now_ms) < 0)
                log_error("upgrade: cannot reload from the store: %s", store_last_error(u->d.store));
}

static int s_on_local(void *ud, const char *node_id, const Hitless__LocalCommand *lc);

int upgrade_new(const upgrade_deps_t *deps, int64_t now_ms, upgrade_t **ret) {
        upgrade_t *u = calloc(1, sizeof *u);
        if (!u)
                return -ENOMEM;
        u->d = *deps;
        int r = commands_set_observer(u->d.commands, s_on_command, u);
        if (r < 0) {
                free(u);
                return r;
        }
        commands_set_local_observer(u->d.commands, s_on_local, u);
        r = s_load(u, now_ms);
        if (r < 0) {
                upgrade_destroy(&u);
                return r;
        }
        if (u->cur)
                log_info("upgrade %s (%s) resumed from the store", u->cur->id, u->cur->plan_name);
        *ret = u;
        return 0;
}

void upgrade_destroy(upgrade_t **up) {
        upgrade_t *u = *up;
        if (!u)
                return;
        if (commands_set_observer(u->d.commands, NULL, u) < 0)
                log_error("upgrade: cannot stop observing commands");   /* removing never fails */
        commands_set_local_observer(u->d.commands, NULL, NULL);
        s_current_free(u->cur);
        free(u);
        *up = NULL;
}

static bool s_over(const current_t *c) {
        upgrade_conditions_t k;
        upgrade_machine_conditions(c->m, &k);
        /* every phase settled: complete, or only rollbacks left to finish */
        return k.phase >= (int) c->cfg.n_phases || k.aborted;
}

static void s_err(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void s_err(char *err, size_t len, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, len, fmt, ap);
        va_end(ap);
}

/* Whether c still acts on the fleet (err says how): it runs, or, complete
 * or aborted, a node of it has a command in flight (a step finishing after
 * an abort, a rollback) or a rollback waiting. A new upgrade never starts
 * beside it: its machine would count those nodes as up, and their results
 * and rollbacks would be dropped with the old machine. */
static bool s_busy(const current_t *c, char *err, size_t len) {
        if (!s_over(c)) {
                s_err(err, len, "upgrade %s (%s) is under way: let it complete or abort it first", c->id,
                      c->plan_name);
                return true;
        }
        /* A command in flight first: it says best what is going on. */
        for (int pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < c->cfg.n_nodes; i++) {
                        upgrade_node_status_t ns;
                        if (upgrade_machine_node(c->m, (int) i, &ns) < 0)
                                continue;
                        if (pass == 0 && ns.cmd != UPGRADE_CMD_NONE) {
                                s_err(err, len, "upgrade %s (%s) is over, but node %s still runs its %s (%s-%llu): "
                                      "wait until it finishes", c->id, c->plan_name, c->setup->node_ids[i],
                                      upgrade_cmd_name(ns.cmd), c->id, (unsigned long long) ns.cmd_id);
                                return true;
                        }
                        if (pass == 1 && ns.rollback_pending) {
                                s_err(err, len, "upgrade %s (%s) is over, but the rollback of node %s waits: wait "
                                      "until it is done (see upgrade status)", c->id, c->plan_name,
                                      c->setup->node_ids[i]);
                                return true;
                        }
                }
        }
        return false;
}

int upgrade_start(upgrade_t *u, const plan_t *plan, const plan_preview_t *pv, const inventory_t *inv,
                  const char *file_name, const char *content, const char *actor, int64_t now_ms,
                  char *err, size_t err_len) {
        uint8_t *setup = NULL;
        size_t setup_len = 0, n_upgrade = 0;
        current_t *c = NULL;
        upgrade_record_t *recs = NULL;
        size_t n_recs = 0;

        if (u->cur && s_busy(u->cur, err, err_len))
                return -EBUSY;
        int r = s_pack_setup(pv, inv, &setup, &setup_len, &n_upgrade);
        if (r >= 0 && n_upgrade == 0) {
                s_err(err, err_len, "nothing to upgrade: every node the plan selects is current or skipped");
                free(setup);
                return -EINVAL;
        }
        /* The plan is parsed again from content, as after a restart: the
         * running upgrade never depends on anything but what is stored. */
        if (r >= 0)
                r = s_current_new(u->last_seq + 1, plan->name, file_name, content, actor, now_ms / 1000, setup,
                                  setup_len, &c);
        if (r >= 0)
                r = upgrade_machine_new(&c->cfg, &c->m);
        if (r >= 0) {
                upgrade_machine_set_hold(c->m, u->hold);
                r = upgrade_machine_export(c->m, &recs, &n_recs);
        }
        if (r < 0) {
                s_err(err, err_len, "cannot set the upgrade up: %s", strerror(-r));
                goto out;
        }
        upgrade_row_t row = {
                .seq = c->seq, .id = c->id, .plan_name = c->plan_name, .file_name = c->file_name,
                .content = c->content, .actor = actor, .started = c->started, .setup = setup,
                .setup_len = setup_len,
        };
        char msg[256];
        snprintf(msg, sizeof msg, "%s: plan %s (%s) started: %zu node%s in %zu phase%s", c->id, c->plan_name,
                 file_name, n_upgrade, n_upgrade == 1 ? "" : "s", c->cfg.n_phases, c->cfg.n_phases == 1 ? "" : "s");
        r = store_begin(u->d.store);
        if (r >= 0)
                r = store_upgrade_put(u->d.store, &row);
        if (r >= 0)
                r = store_upgrade_records_put(u->d.store, c->seq, recs, n_recs);
        if (r >= 0)
                r = store_event_append(u->d.store, now_ms / 1000, "", "upgrade.started", actor, msg, NULL);
        if (r >= 0)
                r = store_commit(u->d.store);
        else
                (void) store_rollback(u->d.store);   /* the first error is the one reported */
        if (r < 0) {
                s_err(err, err_len, "store: %s", store_last_error(u->d.store));
                r = -EIO;
                goto out;
        }
        log_info("%s by %s", msg, actor);
        c->saved = recs;
        c->n_saved = n_recs;
        recs = NULL;
        s_current_free(u->cur);
        u->cur = c;
        u->last_seq = c->seq;
        c = NULL;
        u->grace_until_ms = now_ms;   /* the fleet is live: no reconnect grace */
        upgrade_tick(u, now_ms);
out:
        free(recs);
        free(setup);
        s_current_free(c);
        return r;
}

/* ---- admin ------------------------------------------------------------------- */

/* node_id: the node the event is about, "" for the upgrade as a whole. */
static int s_admin_on(upgrade_t *u, upgrade_admin_t op, int arg, const char *node_id, const char *actor,
                      const char *kind, const char *what, int64_t now_ms) {
        current_t *c = u->cur;
        const upgrade_action_t *acts;
        size_t n;
        char msg[256];

        /* The admin's request is recorded first (with who asked), then the
         * machine acts on it; its own steps follow in their transaction. */
        snprintf(msg, sizeof msg, "%s: %s", c->id, what);
        int r = store_event_append(u->d.store, now_ms / 1000, node_id, kind, actor, msg, NULL);
        if (r < 0)
                return -EIO;
        log_info("%s by %s", msg, actor);
        r = upgrade_machine_admin(c->m, now_ms, op, arg, &acts, &n);
        return s_after(u, r, acts, n, now_ms);
}

static int s_admin(upgrade_t *u, upgrade_admin_t op, int arg, const char *actor, const char *kind,
                   const char *what, int64_t now_ms) {
        return s_admin_on(u, op, arg, "", actor, kind, what, now_ms);
}

/* commands_local_fn: a node rolled back by its root (hitless-agent
 * rollback) to the snapshot of the current upgrade is rolled back in the
 * upgrade too. Anything else (another upgrade's snapshot, a failed local
 * rollback) is only history. */
static int s_on_local(void *ud, const char *node_id, const Hitless__LocalCommand *lc) {
        upgrade_t *u = ud;
        upgrade_node_status_t ns;
        char actor[64];

        if (!u->cur || lc->command->action_case != HITLESS__COMMAND__ACTION_ROLLBACK ||
            lc->status->state != HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED || strcmp(lc->upgrade_id, u->cur->id) != 0)
                return 0;
        int node = s_node_index(u->cur, node_id);
        if (node < 0 || upgrade_machine_node(u->cur->m, node, &ns) < 0 || ns.phase < 0)
                return 0;
        /* A report seen again (its ack was lost) changes nothing twice. */
        if (ns.step == UPGRADE_STEP_PENDING || ns.step == UPGRADE_STEP_SKIPPED ||
            ns.step == UPGRADE_STEP_ROLLED_BACK || ns.local_rollback)
                return 0;
        snprintf(actor, sizeof actor, "local:%s", node_id);
        int r = s_admin_on(u, UPGRADE_ADMIN_ROLLED_BACK_LOCALLY, node, node_id, actor, "upgrade.local_rollback",
                           "rolled back on the node itself (hitless-agent rollback)", clock_wall_ms());
        if (r < 0)
                log_node(LOG_WARNING, node_id, "upgrade: cannot record its local rollback (%s): asked again at its "
                         "next report", store_last_error(u->d.store));
        return r;
}

int upgrade_control(upgrade_t *u, Hitless__UpgradeOp op, const char *actor, int64_t now_ms, char *msg,
                    size_t msg_len) {
        static const struct {
                Hitless__UpgradeOp op;
                upgrade_admin_t admin;
                const char *kind, *done;
        } ops[] = {
                { HITLESS__UPGRADE_OP__UPGRADE_PAUSE, UPGRADE_ADMIN_PAUSE, "upgrade.pause", "paused" },
                { HITLESS__UPGRADE_OP__UPGRADE_RESUME, UPGRADE_ADMIN_RESUME, "upgrade.resume", "resumed" },
                { HITLESS__UPGRADE_OP__UPGRADE_ABORT, UPGRADE_ADMIN_ABORT, "upgrade.abort",
                  "aborted: no new step starts; steps in flight finish and are reported" },
                { HITLESS__UPGRADE_OP__UPGRADE_PROMOTE, UPGRADE_ADMIN_PROMOTE, "upgrade.promote",
                  "promoted: the phase goes on past its canaries" },
        };
        current_t *c = u->cur;
        char id[32];

        if (!c) {
                s_err(msg, msg_len, "no upgrade has been started");
                return -ENOENT;
        }
        snprintf(id, sizeof id, "%s", c->id);   /* c may be rebuilt below */
        for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
                if (ops[i].op != op)
                        continue;
                upgrade_conditions_t k;
                upgrade_machine_conditions(c->m, &k);
                if (k.complete.status) {
                        s_err(msg, msg_len, "upgrade %s is complete", c->id);
                        return -EALREADY;
                }
                if (k.aborted && op != HITLESS__UPGRADE_OP__UPGRADE_ABORT) {
                        s_err(msg, msg_len, "upgrade %s was aborted; only rollbacks remain possible", c->id);
                        return op == HITLESS__UPGRADE_OP__UPGRADE_RESUME ? -EPERM : -EALREADY;
                }
                if (op == HITLESS__UPGRADE_OP__UPGRADE_PROMOTE && !k.promote_pending) {
                        s_err(msg, msg_len, "nothing waits for promote in upgrade %s", c->id);
                        return -EALREADY;
                }
                int r = s_admin(u, ops[i].admin, 0, actor, ops[i].kind, ops[i].done, now_ms);
                if (r < 0) {
                        s_err(msg, msg_len, "cannot record the request: %s", store_last_error(u->d.store));
                        return r;
                }
                s_err(msg, msg_len, "upgrade %s %s", id, ops[i].done);
                return 0;
        }
        s_err(msg, msg_len, "unknown upgrade operation");
        return -EINVAL;
}

void upgrade_set_job_busy(upgrade_t *u, bool (*fn)(void *ud, const char *node_id), void *ud) {
        u->job_busy = fn;
        u->job_busy_ud = ud;
}

bool upgrade_holds_node(const upgrade_t *u, const char *node_id) {
        upgrade_node_status_t ns;
        if (!u || !u->cur)
                return false;
        int i = s_node_index(u->cur, node_id);
        if (i < 0 || upgrade_machine_node(u->cur->m, i, &ns) < 0)
                return false;
        return ns.cmd != UPGRADE_CMD_NONE || (ns.step != UPGRADE_STEP_PENDING && ns.step != UPGRADE_STEP_DONE &&
                                              ns.step != UPGRADE_STEP_ROLLED_BACK && ns.step != UPGRADE_STEP_SKIPPED);
}

bool upgrade_includes(const upgrade_t *u, const char *node_id) {
        if (!u->cur)
                return false;
        int i = s_node_index(u->cur, node_id);
        return i >= 0 && u->cur->setup->node_phase[i] >= 0;
}

int upgrade_rollback(upgrade_t *u, const Hitless__RollbackRequest *req, const char *actor, int64_t now_ms,
                     char *msg, size_t msg_len) {
        current_t *c = u->cur;
        int forms = (req->n_node_ids > 0) + (req->phase[0] != 0) + req->all;
        char what[256], id[32];
        int r = 0;

        if (forms != 1) {
                s_err(msg, msg_len, "give nodes, a phase, or all");
                return -EINVAL;
        }
        if (!c) {
                s_err(msg, msg_len, "no upgrade has been started");
                return -ENOENT;
        }
        snprintf(id, sizeof id, "%s", c->id);   /* c may be rebuilt below */
        if (req->all) {
                snprintf(what, sizeof what, "rollback of every phase, last phase first");
                r = s_admin(u, UPGRADE_ADMIN_ROLLBACK_ALL, 0, actor, "upgrade.rollback", what, now_ms);
        } else if (req->phase[0]) {
                size_t p = 0;
                while (p < c->plan->n_phases && strcmp(c->plan->phases[p].name, req->phase) != 0)
                        p++;
                if (p == c->plan->n_phases) {
                        s_err(msg, msg_len, "upgrade %s has no phase %.64s", c->id, req->phase);
                        return -EINVAL;
                }
                snprintf(what, sizeof what, "rollback of phase %s", req->phase);
                r = s_admin(u, UPGRADE_ADMIN_ROLLBACK_PHASE, (int) p, actor, "upgrade.rollback", what, now_ms);
        } else {
                for (size_t k = 0; k < req->n_node_ids; k++)
                        if (!upgrade_includes(u, req->node_ids[k])) {
                                s_err(msg, msg_len, "node %.64s is not in a phase of upgrade %s", req->node_ids[k],
                                      c->id);
                                return -ESRCH;
                        }
                for (size_t k = 0; r >= 0 && k < req->n_node_ids; k++) {
                        snprintf(what, sizeof what, "rollback of node %s", req->node_ids[k]);
                        r = u->cur ? s_admin(u, UPGRADE_ADMIN_ROLLBACK_NODE, s_node_index(u->cur, req->node_ids[k]),
                                             actor, "upgrade.rollback", what, now_ms)
                                   : -EIO;
                }
                snprintf(what, sizeof what, "rollback of %zu node%s", req->n_node_ids,
                         req->n_node_ids == 1 ? "" : "s");
        }
        if (r < 0) {
                s_err(msg, msg_len, "cannot record the request: %s", store_last_error(u->d.store));
                return -EIO;
        }
        s_err(msg, msg_len, "upgrade %s: %s queued (quorum and batch rules apply; see upgrade status)", id, what);
        return 0;
}

/* ---- the fleet, as the machine sees it -------------------------------------- */

/* The store low on space holds the upgrade: no new node starts (the nodes
 * in their sequence finish, never left drained) until there is room. */
static void s_update_hold(upgrade_t *u) {
        const store_health_t *h = store_health(u->d.store);
        char why[UPGRADE_TEXT_MAX] = "";
        if (h->low_space)
                snprintf(why, sizeof why, "store low on space: %" PRIu64 " MiB free, below state_min_free_mb %" PRIu64,
                         h->free_bytes / (1024 * 1024), h->floor_bytes / (1024 * 1024));
        if (strcmp(why, u->hold) == 0)
                return;
        if (u->cur && !u->hold[0])
                log_warning("upgrade %s held: %s", u->cur->id, why);
        else if (u->cur && !why[0])
                log_notice("upgrade %s: hold released (%s)", u->cur->id, u->hold);
        snprintf(u->hold, sizeof u->hold, "%s", why);
        if (u->cur)
                upgrade_machine_set_hold(u->cur->m, u->hold);
}

void upgrade_tick(upgrade_t *u, int64_t now_ms) {
        current_t *c = u->cur;
        upgrade_node_report_t *reports;
        size_t n = 0;
        const upgrade_action_t *acts;
        size_t n_acts;

        s_update_hold(u);
        if (c && u->replay_pending && !store_health(u->d.store)->degraded) {
                u->replay_pending = false;
                s_replay_results(u, now_ms);
                c = u->cur;   /* a failure there reloads it */
        }
        if (!c)
                return;
        reports = calloc(c->cfg.n_nodes, sizeof *reports);
        if (!reports)
                return;
        for (size_t i = 0; i < c->cfg.n_nodes; i++) {
                const node_t *nd = fleet_find(u->d.fleet, c->setup->node_ids[i]);
                upgrade_node_status_t ns;
                upgrade_node_report_t x = { .node = (int) i };
                Hitless__HealthState h = nd && nd->info->health ? nd->info->health->state
                                                                : HITLESS__HEALTH_STATE__HEALTH_UNKNOWN;
                if (upgrade_machine_node(c->m, (int) i, &ns) < 0)
                        continue;
                /* Known from an earlier process counts as registered; online
                 * needs a Hello to this one (after the reconnect grace). */
                x.registered = nd && (nd->registered || nd->info->last_seen != 0);
                x.reachable = nd && nd->online;
                if (!x.reachable && ns.reachable && now_ms < u->grace_until_ms)
                        x.reachable = true;
                if (nd && nd->online) {
                        x.healthy = health_state_up(h);
                        x.drained = nd->info->health && nd->info->health->drained;
                } else {
                        x.healthy = x.reachable && ns.healthy;   /* within the grace: as last known */
                        x.drained = ns.agent_drained;
                }
                x.job_busy = u->job_busy && u->job_busy(u->job_busy_ud, c->setup->node_ids[i]);
                if (x.registered != ns.registered || x.reachable != ns.reachable || x.healthy != ns.healthy ||
                    x.drained != ns.agent_drained || x.job_busy != ns.job_busy)
                        reports[n++] = x;
        }
        /* One event: the changes (maybe none), then the machine advances
         * at now_ms, timers included, as upgrade_machine_tick would. */
        int r = upgrade_machine_on_nodes(c->m, now_ms, reports, n, &acts, &n_acts);
        free(reports);
        s_after(u, r, acts, n_acts, now_ms);
}

bool upgrade_view(const upgrade_t *u, upgrade_view_t *ret) {
        const current_t *c = u->cur;
        if (!c)
                return false;
        *ret = (upgrade_view_t) {
                .id = c->id, .plan_name = c->plan_name, .file_name = c->file_name,
                .started_by = c->started_by, .started = c->started, .plan = c->plan,
                .node_ids = (const char *const *) c->setup->node_ids, .node_phase = c->setup->node_phase,
                .cfg = &c->cfg, .m = c->m, .store = store_health(u->d.store), .fleet = u->d.fleet,
        };
        return true;
}

int64_t upgrade_next_due(const upgrade_t *u) {
        if (!u->cur)
                return INT64_MAX;
        if (u->replay_pending && !store_health(u->d.store)->degraded)
                return 0;
        return upgrade_machine_next_due(u->cur->m);
}

void upgrade_on_store_recovered(upgrade_t *u) {
        u->replay_pending = true;
}
