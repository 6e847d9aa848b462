/* Plans over the admin socket: `plan check` (a preview, no side effect:
 * reads the fleet, the keyring and the store's keys; writes nothing) and
 * `upgrade start` (the same preview; a valid plan is handed to the
 * upgrade executor). */
#include "coordinator/admin/admin_plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "coordinator/upgrade/plan.h"
#include "coordinator/upgrade/plan_preview.h"
#include "coordinator/upgrade/upgrade_status.h"

struct admin_plan_ctx {
        plan_node_t *nodes;
        size_t n, cap;
        plan_installed_t *pkgs;      /* every node's packages, one array */
        size_t *pkg_off;             /* nodes[i]'s first entry in pkgs */
        size_t n_pkgs, cap_pkgs;
        key_record_t *keys;          /* every key that names a node id */
        size_t n_keys, cap_keys;
        keyring_t *keyring;
        bool oom;
        plan_t *plan;
        plan_preview_t *pv;
        conf_report_t report;
        bool have_report;
        char error[320];
        Hitless__PlanPreview errors;     /* the parse errors' answer */
        Hitless__UpgradeStatus *status;  /* upgrade start's answer */
};

static int collect_plan_key(const key_record_t *rec, void *ud) {
        admin_plan_ctx_t *pc = ud;
        if (!rec->node_id[0])
                return 0;
        if (pc->n_keys == pc->cap_keys) {
                size_t cap = 2 * pc->cap_keys + 16;
                key_record_t *v = realloc(pc->keys, cap * sizeof *v);
                if (!v) {
                        pc->oom = true;
                        return 1;
                }
                pc->keys = v;
                pc->cap_keys = cap;
        }
        pc->keys[pc->n_keys++] = *rec;
        return 0;
}

/* The state of the key that claims node_id without being accepted. */
static const char *plan_key_state(const admin_plan_ctx_t *pc, const char *node_id) {
        for (size_t i = 0; i < pc->n_keys; i++)
                if (strcmp(pc->keys[i].node_id, node_id) == 0 && pc->keys[i].state != KEY_ACCEPTED)
                        return key_state_name(pc->keys[i].state);
        return "missing";
}

static int collect_plan_node(node_t *n, void *ud) {
        admin_plan_ctx_t *pc = ud;
        const Hitless__NodeInfo *info = n->info;
        Hitless__HealthState h = info->health ? info->health->state : HITLESS__HEALTH_STATE__HEALTH_UNKNOWN;
        plan_node_t *pn;

        if (pc->n == pc->cap) {
                pc->oom = true;
                return 1;
        }
        pn = &pc->nodes[pc->n++];
        pn->id = n->id;
        pn->roles = (const char *const *) info->roles;
        pn->n_roles = info->n_roles;
        pn->tasks = (const char *const *) info->tasks;
        pn->n_tasks = info->n_tasks;
        pn->units = (const char *const *) info->units;
        pn->n_units = info->n_units;
        pn->registered = true;
        pn->accepted = keyring_key_of_node(pc->keyring, n->id) != NULL;
        pn->key_state = pn->accepted ? NULL : plan_key_state(pc, n->id);
        pn->online = n->online;
        pn->healthy = health_state_up(h);
        /* An offset now, a pointer once pkgs stops moving. */
        pc->pkg_off[pc->n - 1] = pc->n_pkgs;
        pn->n_packages = info->n_packages;
        for (size_t i = 0; i < info->n_packages; i++) {
                if (pc->n_pkgs == pc->cap_pkgs) {
                        size_t cap = 2 * pc->cap_pkgs + 64;
                        plan_installed_t *v = realloc(pc->pkgs, cap * sizeof *v);
                        if (!v) {
                                pc->oom = true;
                                return 1;
                        }
                        pc->pkgs = v;
                        pc->cap_pkgs = cap;
                }
                pc->pkgs[pc->n_pkgs++] = (plan_installed_t) { info->packages[i]->name,
                                                              info->packages[i]->version };
        }
        return 0;
}

/* The snapshot plan_preview_build() reads: every node of the fleet, then
 * every node id a key claims that the fleet does not hold (pending, or
 * accepted but never registered). */
static int plan_snapshot(const admin_deps_t *d, admin_plan_ctx_t *pc) {
        pc->keyring = d->keyring;
        if (store_keys_foreach(d->store, collect_plan_key, pc) < 0 || pc->oom)
                return -EIO;
        pc->cap = fleet_size(d->fleet) + pc->n_keys;
        pc->nodes = calloc(pc->cap + 1, sizeof *pc->nodes);
        pc->pkg_off = calloc(pc->cap + 1, sizeof *pc->pkg_off);
        if (!pc->nodes || !pc->pkg_off)
                return -ENOMEM;
        fleet_foreach_sorted(d->fleet, collect_plan_node, pc);
        if (pc->oom)
                return -ENOMEM;
        for (size_t i = 0; i < pc->n; i++)
                pc->nodes[i].packages = pc->pkgs + pc->pkg_off[i];
        for (size_t k = 0; k < pc->n_keys; k++) {
                const key_record_t *rec = &pc->keys[k];
                plan_node_t *pn = NULL;
                if (fleet_find(d->fleet, rec->node_id))
                        continue;
                for (size_t i = 0; i < pc->n && !pn; i++)
                        if (strcmp(pc->nodes[i].id, rec->node_id) == 0)
                                pn = &pc->nodes[i];
                if (!pn) {
                        pn = &pc->nodes[pc->n++];
                        pn->id = rec->node_id;
                        pn->key_state = key_state_name(rec->state);
                }
                if (rec->state == KEY_ACCEPTED) {
                        pn->accepted = true;
                        pn->key_state = NULL;
                }
        }
        return 0;
}

admin_plan_ctx_t *admin_plan_ctx_new(void) {
        return calloc(1, sizeof(admin_plan_ctx_t));
}

void admin_plan_clear(admin_plan_ctx_t *pc) {
        if (!pc)
                return;
        upgrade_status_free(pc->status);
        plan_preview_free(&pc->pv);
        plan_free(&pc->plan);
        if (pc->have_report)
                conf_report_free(&pc->report);
        free(pc->nodes);
        free(pc->pkgs);
        free(pc->pkg_off);
        free(pc->keys);
        free(pc);
}

/* Parses the plan and previews it against the fleet as it is now. Returns
 * true with pc->plan and pc->pv set; otherwise resp says why. */
static bool s_preview(const admin_deps_t *d, const char *file_name, const char *content, const char *what,
                      const char *actor, Hitless__AdminResponse *resp, admin_plan_ctx_t *pc) {
        const char *file = file_name[0] ? file_name : "plan";
        const coord_config_t *cfg = *d->config;
        plan_fleet_t fleet;
        int r;

        if (strlen(file) > 1024) {
                resp->status = HITLESS__ADMIN_STATUS__ADMIN_BAD_REQUEST;
                resp->error = "file name too long";
                return false;
        }
        hitless__plan_preview__init(&pc->errors);
        conf_report_init(&pc->report, file);
        pc->have_report = true;
        r = plan_parse_string(file, content, strlen(content), &pc->plan, &pc->report);
        if (r < 0) {
                log_info("%s of %s by %s: %zu error(s)", what, file, actor, pc->report.n_lines);
                pc->errors.file_name = (char *) file;
                pc->errors.n_errors = pc->report.n_lines;
                pc->errors.errors = pc->report.lines;
                snprintf(pc->error, sizeof pc->error, "the plan has %zu error(s)", pc->report.n_lines);
                resp->status = HITLESS__ADMIN_STATUS__ADMIN_BAD_REQUEST;
                resp->error = r == -ENOMEM ? "out of memory" : pc->error;
                resp->body_case = HITLESS__ADMIN_RESPONSE__BODY_PLAN_PREVIEW;
                resp->plan_preview = &pc->errors;
                return false;
        }
        r = plan_snapshot(d, pc);
        if (r >= 0) {
                fleet = (plan_fleet_t) { pc->nodes, pc->n };
                r = plan_preview_build(pc->plan, &cfg->inventory, &fleet, &pc->pv);
        }
        if (r < 0) {
                resp->status = HITLESS__ADMIN_STATUS__ADMIN_FAILED;
                resp->error = r == -EIO ? "cannot read keys from the store" : "cannot build the preview";
                return false;
        }
        log_info("%s of %s (%s) by %s: %s, %zu refusal(s)", what, file, pc->plan->name, actor,
                 pc->pv->valid ? "valid" : "invalid", pc->pv->n_refusals);
        return true;
}

/* The preview as the answer (its status left as it is). */
static void s_answer_preview(const char *file_name, Hitless__AdminResponse *resp, admin_plan_ctx_t *pc) {
        Hitless__PlanPreview *preview;
        if (plan_preview_to_proto(pc->pv, file_name[0] ? file_name : "plan", &preview) < 0) {
                resp->status = HITLESS__ADMIN_STATUS__ADMIN_FAILED;
                resp->error = "cannot build the preview";
                return;
        }
        resp->body_case = HITLESS__ADMIN_RESPONSE__BODY_PLAN_PREVIEW;
        resp->plan_preview = preview;
}

void admin_plan_check(const admin_deps_t *d, const Hitless__PlanCheckRequest *req, const char *actor,
                      Hitless__AdminResponse *resp, admin_plan_ctx_t *pc) {
        if (s_preview(d, req->file_name, req->content, "plan check", actor, resp, pc))
                s_answer_preview(req->file_name, resp, pc);
}

void admin_upgrade_start(const admin_deps_t *d, const Hitless__UpgradeStartRequest *req, const char *actor,
                         Hitless__AdminResponse *resp, admin_plan_ctx_t *pc) {
        const char *file = req->file_name[0] ? req->file_name : "plan";
        int64_t now_ms = clock_wall_ms();
        char err[256];
        upgrade_view_t v;

        if (!s_preview(d, req->file_name, req->content, "upgrade start", actor, resp, pc))
                return;
        if (!pc->pv->valid) {
                /* Refused like plan check refuses it: the same preview. */
                resp->status = HITLESS__ADMIN_STATUS__ADMIN_FAILED;
                snprintf(pc->error, sizeof pc->error, "the plan is invalid: %zu refusal(s)", pc->pv->n_refusals);
                resp->error = pc->error;
                s_answer_preview(req->file_name, resp, pc);
                return;
        }
        if (upgrade_start(d->upgrade, pc->plan, pc->pv, &(*d->config)->inventory, file, req->content, actor,
                          now_ms, err, sizeof err) < 0) {
                resp->status = HITLESS__ADMIN_STATUS__ADMIN_FAILED;
                snprintf(pc->error, sizeof pc->error, "%s", err);
                resp->error = pc->error;
                log_warning("upgrade start of %s by %s refused: %s", file, actor, err);
                return;
        }
        upgrade_view(d->upgrade, &v);
        snprintf(err, sizeof err, "upgrade %s started", v.id);
        if (upgrade_status_build(&v, now_ms, err, &pc->status) < 0) {
                resp->status = HITLESS__ADMIN_STATUS__ADMIN_FAILED;
                resp->error = "started, but out of memory for its status";
                return;
        }
        resp->body_case = HITLESS__ADMIN_RESPONSE__BODY_UPGRADE_STATUS;
        resp->upgrade_status = pc->status;
}
