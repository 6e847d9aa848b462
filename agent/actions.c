#include "agent/actions.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/action_task.h"
#include "agent/pkg_backend.h"
#include "agent/repoint.h"
#include "agent/unit_control.h"
#include "common/atomic_file.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/exec.h"
#include "common/ids.h"
#include "common/log.h"

#define MAX_POLICY_FILES 64
#define MAX_SNAPSHOT_FILE (16 * 1024 * 1024)

void action_result_clear(action_result_t *r) {
        free(r->output_tail);
        if (r->have_health)
                health_report_free(&r->health);
        pkg_versions_free(r->versions, r->n_versions);
        memset(r, 0, sizeof *r);
}

void action_result_set(action_result_t *r, journal_state_t state, const char *error_code,
                       const char *fmt, ...) {
        va_list ap;
        r->state = state;
        snprintf(r->error_code, sizeof r->error_code, "%s", error_code ? error_code : "");
        va_start(ap, fmt);
        vsnprintf(r->message, sizeof r->message, fmt, ap);
        va_end(ap);
}

/* A journal call failed with e: r fails with the journal's own message
 * (SQLite's, journal_last_error), after what. */
static void journal_failed(const action_ctx_t *ctx, action_result_t *r, const char *error_code,
                           const char *what, int e) {
        const char *why = journal_last_error(ctx->journal);
        action_result_set(r, JCMD_FAILED, error_code, "%s: %s", what, why[0] ? why : strerror(-e));
}

static void progress(const action_ctx_t *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(const action_ctx_t *ctx, const char *fmt, ...) {
        char line[256];
        va_list ap;
        if (!ctx->progress)
                return;
        va_start(ap, fmt);
        vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        ctx->progress(line, ctx->ud);
}

void action_result_keep_output(action_result_t *r, exec_result_t *out) {
        if (out->output) {
                free(r->output_tail);
                r->output_tail = out->output;
                out->output = NULL;
        }
        exec_result_free(out);
}

static pkg_env_t pkg_env(const agent_config_t *cfg) {
        return (pkg_env_t) {
                .root = cfg->package_root,
                .dpkg_admindir = cfg->dpkg_admindir,
                .lock_timeout_ms = cfg->lock_timeout_ms,
                .timeout_ms = cfg->install_timeout_ms,
        };
}

static const pkg_backend_t *backend(const agent_config_t *cfg) {
        const pkg_backend_t *b = NULL;
        return pkg_backend_resolve(cfg->package_backend, &b) == 0 ? b : NULL;
}

/* Reports the installed versions of every managed package in r. */
static void record_packages(const action_ctx_t *ctx, action_result_t *r) {
        const pkg_backend_t *b = backend(ctx->cfg);
        pkg_env_t env = pkg_env(ctx->cfg);
        size_t n = conf_strv_len(ctx->cfg->packages);
        char **v = NULL;
        if (!b || n == 0 || b->query(&env, ctx->cfg->packages, n, &v) < 0)
                return;
        pkg_versions_free(r->versions, r->n_versions);
        r->versions = v;
        r->n_versions = n;
        r->have_packages = true;
}

static void record_health(const action_ctx_t *ctx, action_result_t *r) {
        if (r->have_health)
                health_report_free(&r->health);
        r->have_health = health_run(ctx->cfg->checks, ctx->cfg->n_checks, ctx->cfg->system_bus_address,
                                    &r->health) >= 0;
}

/* After units restart, a service is "active" as soon as it is forked, not
 * when it serves: checks are repeated every 500 ms until the node is not
 * unhealthy, for at most restart_timeout (capped at 30 s). */
#define SETTLE_STEP_MS 500
#define SETTLE_MAX_MS 30000
static void record_health_settled(const action_ctx_t *ctx, action_result_t *r) {
        int64_t limit = ctx->cfg->restart_timeout_ms < SETTLE_MAX_MS ? ctx->cfg->restart_timeout_ms : SETTLE_MAX_MS;
        int64_t deadline = clock_mono_ms() + limit;
        for (;;) {
                record_health(ctx, r);
                if (!r->have_health || r->health.state != HEALTH_STATE_UNHEALTHY || clock_mono_ms() >= deadline)
                        return;
                usleep(SETTLE_STEP_MS * 1000);
        }
}

bool action_changes_node(const agent_config_t *cfg, const Hitless__Command *cmd) {
        if (cmd->action_case == HITLESS__COMMAND__ACTION_TASK)
                return action_task_changes(cfg, cmd->task);
        return cmd->action_case != HITLESS__COMMAND__ACTION_CHECK &&
               cmd->action_case != HITLESS__COMMAND__ACTION_ROLLBACK;
}

/* Every unit valid and in the policy: all or nothing. */
static bool s_units_allowed(const agent_config_t *cfg, const char *verb, char *const *units, size_t n,
                            action_result_t *r) {
        if (n == 0) {
                action_result_set(r, JCMD_REFUSED, "bad-request", "%s names no unit", verb);
                return false;
        }
        for (size_t i = 0; i < n; i++)
                if (!unit_name_valid(units[i])) {
                        action_result_set(r, JCMD_REFUSED, "bad-request",
                                          "invalid unit name \"%.100s\": a unit name is 1-255 of "
                                          "[A-Za-z0-9:_.\\@-]", units[i]);
                        return false;
                } else if (!agent_policy_allows_unit(cfg, units[i])) {
                        action_result_set(r, JCMD_REFUSED, "policy", "unit %.100s is not in this agent's policy",
                                          units[i]);
                        return false;
                }
        return true;
}

/* ---- policy ------------------------------------------------------------- */

bool actions_policy_allows(const action_ctx_t *ctx, const Hitless__Command *cmd, action_result_t *r) {
        const agent_config_t *cfg = ctx->cfg;
        const pkg_backend_t *b;

        switch (cmd->action_case) {
        case HITLESS__COMMAND__ACTION_DRAIN:
        case HITLESS__COMMAND__ACTION_UNDRAIN: {
                const hook_config_t *h = cmd->action_case == HITLESS__COMMAND__ACTION_DRAIN
                                                 ? &cfg->drain : &cfg->undrain;
                if (!h->argv) {
                        action_result_set(r, JCMD_REFUSED, "policy", "no %s hook in the agent's policy",
                                          cmd->action_case == HITLESS__COMMAND__ACTION_DRAIN ? "drain" : "undrain");
                        return false;
                }
                return true;
        }
        case HITLESS__COMMAND__ACTION_INSTALL:
                if (!(b = backend(cfg))) {
                        action_result_set(r, JCMD_REFUSED, "policy", "no package backend (%s) on this node",
                                          cfg->package_backend);
                        return false;
                }
                if (cmd->install->n_packages == 0) {
                        action_result_set(r, JCMD_REFUSED, "bad-request", "install names no package");
                        return false;
                }
                for (size_t i = 0; i < cmd->install->n_packages; i++) {
                        const Hitless__PackageVersion *p = cmd->install->packages[i];
                        if (!package_name_valid(p->name)) {
                                action_result_set(r, JCMD_REFUSED, "bad-request",
                                                  "invalid package name \"%.100s\": a package name is 1-255 of "
                                                  "[A-Za-z0-9.+_~:-], starting with a letter or digit", p->name);
                                return false;
                        }
                        if (!agent_policy_allows_package(cfg, p->name)) {
                                action_result_set(r, JCMD_REFUSED, "policy",
                                                  "package %.100s is not managed by this agent's policy", p->name);
                                return false;
                        }
                        if (!b->version_valid(p->version)) {
                                action_result_set(r, JCMD_REFUSED, "bad-request", "invalid %s version \"%.100s\"",
                                                  b->name, p->version);
                                return false;
                        }
                }
                return true;
        case HITLESS__COMMAND__ACTION_REPOINT:
                if (cmd->repoint->n_lists == 0) {
                        action_result_set(r, JCMD_REFUSED, "bad-request", "repoint names no endpoint kind");
                        return false;
                }
                for (size_t i = 0; i < cmd->repoint->n_lists; i++)
                        if (!agent_policy_allows_endpoint_kind(cfg, cmd->repoint->lists[i]->kind)) {
                                action_result_set(r, JCMD_REFUSED, "policy",
                                                  "endpoint kind %.64s is not in this agent's policy",
                                                  cmd->repoint->lists[i]->kind);
                                return false;
                        }
                return true;
        case HITLESS__COMMAND__ACTION_RESTART:
                return s_units_allowed(cfg, "restart", cmd->restart->units, cmd->restart->n_units, r);
        case HITLESS__COMMAND__ACTION_UNIT:
                if (cmd->unit->op != HITLESS__UNIT_OP__UNIT_START && cmd->unit->op != HITLESS__UNIT_OP__UNIT_STOP) {
                        action_result_set(r, JCMD_REFUSED, "bad-request", "unit action is neither start nor stop");
                        return false;
                }
                return s_units_allowed(cfg, command_action_name(cmd), cmd->unit->units, cmd->unit->n_units, r);
        case HITLESS__COMMAND__ACTION_TASK:
                return action_task_allowed(cfg, cmd->task, r);
        case HITLESS__COMMAND__ACTION_CHECK:
        case HITLESS__COMMAND__ACTION_ROLLBACK:
                return true;
        default:
                action_result_set(r, JCMD_REFUSED, "bad-request", "unknown action");
                return false;
        }
}

/* ---- snapshots ---------------------------------------------------------- */

#define SNAPSHOT_FAILED "cannot record a snapshot"

static int snapshot_files(const action_ctx_t *ctx, const char *snap, action_result_t *r) {
        const char *files[MAX_POLICY_FILES];
        size_t n = repoint_policy_files(ctx->cfg, files, MAX_POLICY_FILES);
        for (size_t i = 0; i < n; i++) {
                struct stat st;
                char *data = NULL;
                size_t len = 0;
                int e;
                if (stat(files[i], &st) < 0) {
                        e = journal_snapshot_add_file(ctx->journal, snap, files[i], false, "", 0, 0, 0, 0);
                } else {
                        e = file_read_all(files[i], MAX_SNAPSHOT_FILE, &data, &len);
                        if (e < 0) {
                                action_result_set(r, JCMD_FAILED, "snapshot", SNAPSHOT_FAILED ": cannot read %s: %s",
                                                  files[i], strerror(-e));
                                return e;
                        }
                        e = journal_snapshot_add_file(ctx->journal, snap, files[i], true, data, len,
                                                      st.st_mode & 07777, st.st_uid, st.st_gid);
                        free(data);
                }
                if (e < 0) {
                        journal_failed(ctx, r, "snapshot", SNAPSHOT_FAILED, e);
                        return e;
                }
        }
        return 0;
}

/* Adds the packages, files and units to the snapshot being taken; on
 * failure r says why. */
static int snapshot_parts(const action_ctx_t *ctx, const char *snap, const action_result_t *pk,
                          action_result_t *r) {
        int e = 0;
        for (size_t i = 0; e >= 0 && pk->have_packages && i < pk->n_versions; i++)
                e = journal_snapshot_add_package(ctx->journal, snap, ctx->cfg->packages[i], pk->versions[i]);
        if (e >= 0)
                e = snapshot_files(ctx, snap, r);
        else
                journal_failed(ctx, r, "snapshot", SNAPSHOT_FAILED, e);
        for (size_t i = 0; e >= 0 && ctx->cfg->units[i]; i++) {
                char state[32] = "unknown";
                /* Unreadable, it is recorded "unknown" (state is untouched):
                 * a rollback then restarts only the units recorded active. */
                (void) unit_active_state(ctx->cfg->system_bus_address, ctx->cfg->units[i], state, sizeof state);
                e = journal_snapshot_add_unit(ctx->journal, snap, ctx->cfg->units[i], state);
                if (e < 0)
                        journal_failed(ctx, r, "snapshot", SNAPSHOT_FAILED, e);
        }
        return e;
}

int actions_ensure_snapshot(const action_ctx_t *ctx, const char *upgrade_id, char ret_id[64],
                            action_result_t *r) {
        journal_snapshot_t s;
        action_result_t pk = { 0 };
        bool drained = false;
        int e;

        e = journal_snapshot_find_open(ctx->journal, upgrade_id ? upgrade_id : "", &s);
        if (e == 0) {
                snprintf(ret_id, 64, "%s", s.id);
                return 0;
        }
        /* Only "none" means take one: a second open snapshot would make
         * a rollback restore what the upgrade had already changed. */
        if (e != -ENOENT) {
                journal_failed(ctx, r, "snapshot", "cannot look for the open snapshot", e);
                return e;
        }
        progress(ctx, "taking a snapshot before the first change");
        record_packages(ctx, &pk);
        /* The snapshot says whether the node was drained before: a wrong
         * answer would make a rollback undrain a node drained by hand. */
        e = journal_get_drained(ctx->journal, &drained);
        if (e >= 0)
                e = journal_snapshot_begin(ctx->journal, upgrade_id ? upgrade_id : "", ret_id);
        if (e < 0)
                journal_failed(ctx, r, "snapshot", SNAPSHOT_FAILED, e);
        else if ((e = snapshot_parts(ctx, ret_id, &pk, r)) < 0)
                /* Leaves nothing committed; its own failure would say less
                 * than the one r already reports. */
                (void) journal_snapshot_abort(ctx->journal);
        else if ((e = journal_snapshot_commit(ctx->journal, ret_id, drained)) < 0)
                journal_failed(ctx, r, "snapshot", SNAPSHOT_FAILED, e);
        action_result_clear(&pk);
        return e < 0 ? e : 1;
}

typedef struct {
        const action_ctx_t *ctx;
        const action_result_t *now;
        bool changed;
} pkg_change_t;

static int note_pkg_change(const char *name, const char *version, void *ud) {
        pkg_change_t *c = ud;
        for (size_t i = 0; i < c->now->n_versions; i++)
                if (strcmp(name, c->ctx->cfg->packages[i]) == 0 && strcmp(version, c->now->versions[i]) != 0) {
                        c->changed = true;
                        return 1;
                }
        return 0;
}

/* An install that failed and left every managed package at the version
 * its own new snapshot recorded changed nothing (apt and dnf resolve
 * before they unpack): that snapshot is forgotten, so a later change takes
 * its own rather than restoring, on rollback, files as they were back
 * then. Kept whenever that cannot be told. */
static void discard_unused_snapshot(const action_ctx_t *ctx, action_result_t *r) {
        pkg_change_t c = { ctx, r, false };
        if (!r->have_packages || r->n_versions != conf_strv_len(ctx->cfg->packages))
                return;
        if (journal_snapshot_packages(ctx->journal, r->snapshot_id, note_pkg_change, &c) < 0 || c.changed)
                return;
        if (journal_snapshot_discard(ctx->journal, r->snapshot_id) < 0) {
                log_warning("cannot forget snapshot %s, which nothing changed since: %s", r->snapshot_id,
                            journal_last_error(ctx->journal));
                return;
        }
        progress(ctx, "nothing changed: snapshot %s forgotten", r->snapshot_id);
        r->snapshot_id[0] = '\0';
}

/* ---- actions ------------------------------------------------------------ */

static void run_hook(const action_ctx_t *ctx, const hook_config_t *h, const char *what, action_result_t *r) {
        exec_options_t opts = { .timeout_ms = h->timeout_ms, .output_to_file = true };
        exec_result_t out;
        char why[128];
        progress(ctx, "running the %s hook %s", what, h->argv[0]);
        int e = exec_run(h->argv, &opts, &out);
        if (e < 0) {
                action_result_set(r, JCMD_FAILED, "hook-failed", "cannot run %s hook %s: %s", what, h->argv[0],
                                  strerror(-e));
                return;
        }
        if (exec_succeeded(&out))
                action_result_set(r, JCMD_SUCCEEDED, "", "%s hook succeeded", what);
        else
                action_result_set(r, JCMD_FAILED, out.timed_out ? "timeout" : "hook-failed", "%s hook %s: %s",
                                  what, h->argv[0], exec_describe(&out, why, sizeof why));
        action_result_keep_output(r, &out);
}

/* Records the drain state after a hook ran. If that fails, so does the
 * command, whatever the hook did: the journal would then tell a later
 * undrain or rollback the opposite of the node's state. */
static void record_drained(const action_ctx_t *ctx, bool drained, action_result_t *r) {
        char what[sizeof r->message];
        int e = journal_set_drained(ctx->journal, drained);
        if (e >= 0)
                return;
        snprintf(what, sizeof what, "%s; but the journal cannot record that the node is %s (%s)", r->message,
                 drained ? "drained" : "undrained",
                 drained ? "an undrain would not undo it" : "the undrain may run again");
        journal_failed(ctx, r, "journal", what, e);
}

static void do_drain(const action_ctx_t *ctx, action_result_t *r) {
        run_hook(ctx, &ctx->cfg->drain, "drain", r);
        /* Recorded even when the hook failed halfway: undrain must run. */
        if (r->state == JCMD_SUCCEEDED || r->state == JCMD_FAILED)
                record_drained(ctx, true, r);
}

static void do_undrain(const action_ctx_t *ctx, action_result_t *r) {
        bool drained = false;
        int e = journal_get_drained(ctx->journal, &drained);
        if (e < 0) {
                journal_failed(ctx, r, "journal", "cannot read whether hitless drained the node", e);
                return;
        }
        if (!drained) {
                action_result_set(r, JCMD_SUCCEEDED, "", "not drained by hitless; nothing to undo");
                return;
        }
        run_hook(ctx, &ctx->cfg->undrain, "undrain", r);
        if (r->state == JCMD_SUCCEEDED)
                record_drained(ctx, false, r);
}

typedef struct {
        const char *name, *version;
        bool found;
} snap_pkg_lookup_t;

static int find_snap_pkg(const char *name, const char *version, void *ud) {
        snap_pkg_lookup_t *l = ud;
        if (strcmp(name, l->name) == 0) {
                l->found = strcmp(version, l->version) == 0;
                return 1;
        }
        return 0;
}

/* A downgrade is part of a rollback when it goes back to exactly what the
 * open snapshot of this upgrade recorded: 1 if so, 0 if not, or the
 * journal's -errno. */
static int restores_snapshot(const action_ctx_t *ctx, const char *snap, const Hitless__InstallAction *a) {
        for (size_t i = 0; i < a->n_packages; i++) {
                snap_pkg_lookup_t l = { a->packages[i]->name, a->packages[i]->version, false };
                int e = journal_snapshot_packages(ctx->journal, snap, find_snap_pkg, &l);
                if (e < 0)
                        return e;
                if (!l.found)
                        return 0;
        }
        return 1;
}

static int install_exact(const action_ctx_t *ctx, const pkg_request_t *req, size_t n, bool downgrade,
                         action_result_t *r) {
        const pkg_backend_t *b = backend(ctx->cfg);
        pkg_env_t env = pkg_env(ctx->cfg);
        exec_result_t out = { 0 };
        char err[512] = "";
        int e;

        progress(ctx, "%s: installing %s=%s%s", b->name, req[0].name, req[0].version, n > 1 ? " ..." : "");
        e = b->install(&env, req, n, downgrade, &out, err, sizeof err);
        action_result_keep_output(r, &out);
        if (e == 0)
                return 0;
        action_result_set(r, JCMD_FAILED,
                          e == -EBUSY ? "package-lock" : e == -EPERM ? "downgrade" : e == -ETIMEDOUT ? "timeout"
                                                                                                   : "package-failed",
                          "%s", err[0] ? err : strerror(-e));
        return e;
}

static void do_install(const action_ctx_t *ctx, const Hitless__Command *cmd, const char *snap,
                       action_result_t *r) {
        const Hitless__InstallAction *a = cmd->install;
        int restores = a->allow_downgrade ? restores_snapshot(ctx, snap, a) : 0;
        bool downgrade = restores > 0;
        pkg_request_t *req;

        if (restores < 0) {
                journal_failed(ctx, r, "journal", "cannot read the snapshot's package versions", restores);
                return;
        }
        if (!(req = calloc(a->n_packages, sizeof *req))) {
                action_result_set(r, JCMD_FAILED, "internal", "out of memory");
                return;
        }
        if (a->allow_downgrade && !downgrade)
                progress(ctx, "downgrade not allowed: these versions are not the snapshot's");
        for (size_t i = 0; i < a->n_packages; i++)
                req[i] = (pkg_request_t) { a->packages[i]->name, a->packages[i]->version };
        if (install_exact(ctx, req, a->n_packages, downgrade, r) == 0)
                action_result_set(r, JCMD_SUCCEEDED, "", "installed %zu package%s", a->n_packages,
                                  a->n_packages == 1 ? "" : "s");
        free(req);
        record_packages(ctx, r);
}

static void do_repoint(const action_ctx_t *ctx, const Hitless__Command *cmd, action_result_t *r) {
        const Hitless__RepointAction *a = cmd->repoint;
        repoint_list_t *lists = calloc(a->n_lists, sizeof *lists);
        char err[512] = "";
        int e;

        if (!lists) {
                action_result_set(r, JCMD_FAILED, "internal", "out of memory");
                return;
        }
        for (size_t i = 0; i < a->n_lists; i++)
                lists[i] = (repoint_list_t) { a->lists[i]->kind, a->lists[i]->endpoints, a->lists[i]->n_endpoints };
        progress(ctx, "repointing %zu endpoint kind%s", a->n_lists, a->n_lists == 1 ? "" : "s");
        e = repoint_apply(ctx->cfg, lists, a->n_lists, err, sizeof err);
        if (e >= 0)
                action_result_set(r, JCMD_SUCCEEDED, "", "%d file%s changed", e, e == 1 ? "" : "s");
        else
                action_result_set(r, e == -EPERM ? JCMD_REFUSED : JCMD_FAILED,
                                  e == -EPERM ? "policy" : e == -EINVAL ? "bad-request" : "repoint-failed", "%s",
                                  err[0] ? err : strerror(-e));
        free(lists);
}

typedef int (*unit_op_fn)(const char *bus_address, const char *unit, int64_t timeout_ms, char *error,
                          size_t error_len);

/* op on each unit in turn, stopping at the first failure (r says why). */
static bool unit_ops(const action_ctx_t *ctx, unit_op_fn op, const char *verb, char *const *units, size_t n,
                     action_result_t *r) {
        for (size_t i = 0; i < n; i++) {
                char err[512] = "";
                progress(ctx, "%s %s", verb, units[i]);
                int e = op(ctx->cfg->system_bus_address, units[i], ctx->cfg->restart_timeout_ms, err, sizeof err);
                if (e < 0) {
                        action_result_set(r, JCMD_FAILED,
                                          e == -ENOENT ? "unit-not-found" : e == -ETIMEDOUT ? "timeout" : "unit-failed",
                                          "%s", err[0] ? err : strerror(-e));
                        return false;
                }
        }
        return true;
}

static bool restart_units(const action_ctx_t *ctx, char *const *units, size_t n, action_result_t *r) {
        bool ok = unit_ops(ctx, unit_restart, "restarting", units, n, r);
        if (!ok && strcmp(r->error_code, "unit-failed") == 0)
                snprintf(r->error_code, sizeof r->error_code, "restart-failed");
        return ok;
}

/* Start or stop (UnitAction), then the node's health: settled after a
 * start, as after a restart; at once after a stop, which may well leave
 * the node unhealthy (ISSU stops the old controller's services). */
static void do_unit(const action_ctx_t *ctx, const Hitless__Command *cmd, action_result_t *r) {
        bool start = cmd->unit->op == HITLESS__UNIT_OP__UNIT_START;
        if (unit_ops(ctx, start ? unit_start : unit_stop, start ? "starting" : "stopping", cmd->unit->units,
                     cmd->unit->n_units, r))
                action_result_set(r, JCMD_SUCCEEDED, "", "%s %zu unit%s", start ? "started" : "stopped",
                                  cmd->unit->n_units, cmd->unit->n_units == 1 ? "" : "s");
        if (start)
                record_health_settled(ctx, r);
        else
                record_health(ctx, r);
}

static void do_restart(const action_ctx_t *ctx, const Hitless__Command *cmd, action_result_t *r) {
        if (restart_units(ctx, cmd->restart->units, cmd->restart->n_units, r))
                action_result_set(r, JCMD_SUCCEEDED, "", "restarted %zu unit%s", cmd->restart->n_units,
                                  cmd->restart->n_units == 1 ? "" : "s");
        record_health_settled(ctx, r);
}

static void do_check(const action_ctx_t *ctx, action_result_t *r) {
        record_health(ctx, r);
        record_packages(ctx, r);
        if (!r->have_health)
                action_result_set(r, JCMD_FAILED, "internal", "cannot run the health checks");
        else
                action_result_set(r, JCMD_SUCCEEDED, "", "%s", health_state_name(r->health.state));
}

void actions_run(const action_ctx_t *ctx, const Hitless__Command *cmd, action_result_t *r) {
        int taken = 0;
        if (action_changes_node(ctx->cfg, cmd) &&
            (taken = actions_ensure_snapshot(ctx, cmd->upgrade_id, r->snapshot_id, r)) < 0)
                return;
        switch (cmd->action_case) {
        case HITLESS__COMMAND__ACTION_DRAIN: do_drain(ctx, r); break;
        case HITLESS__COMMAND__ACTION_UNDRAIN: do_undrain(ctx, r); break;
        case HITLESS__COMMAND__ACTION_INSTALL:
                do_install(ctx, cmd, r->snapshot_id, r);
                if (taken && r->state == JCMD_FAILED)
                        discard_unused_snapshot(ctx, r);
                break;
        case HITLESS__COMMAND__ACTION_REPOINT: do_repoint(ctx, cmd, r); break;
        case HITLESS__COMMAND__ACTION_RESTART: do_restart(ctx, cmd, r); break;
        case HITLESS__COMMAND__ACTION_CHECK: do_check(ctx, r); break;
        case HITLESS__COMMAND__ACTION_UNIT: do_unit(ctx, cmd, r); break;
        case HITLESS__COMMAND__ACTION_TASK: action_task_run(ctx, cmd, r); break;
        case HITLESS__COMMAND__ACTION_ROLLBACK:
                actions_rollback(ctx, cmd->rollback->snapshot_id, cmd->upgrade_id, r);
                break;
        default: action_result_set(r, JCMD_REFUSED, "bad-request", "unknown action"); break;
        }
}

/* ---- rollback ----------------------------------------------------------- */

typedef struct {
        const action_ctx_t *ctx;
        pkg_request_t *req;
        char **names, **versions;     /* owned copies */
        size_t n, cap;
        action_result_t *r;
} pkg_restore_t;

static int collect_restore(const char *name, const char *version, void *ud) {
        pkg_restore_t *p = ud;
        if (!version[0] || p->n == p->cap)
                return 0;  /* not installed when the snapshot was taken: left as is */
        p->names[p->n] = strdup(name);
        p->versions[p->n] = strdup(version);
        p->n++;
        return 0;
}

static bool restore_packages(const action_ctx_t *ctx, const char *snap, action_result_t *r) {
        size_t cap = conf_strv_len(ctx->cfg->packages) + 1;
        pkg_restore_t p = { ctx, NULL, calloc(cap, sizeof(char *)), calloc(cap, sizeof(char *)), 0, cap, r };
        action_result_t now = { 0 };
        size_t n_req = 0;
        bool ok = true;

        int e = journal_snapshot_packages(ctx->journal, snap, collect_restore, &p);
        if (e < 0) {
                /* Not even what was read so far: a partial restore would
                 * then be reported as done. */
                journal_failed(ctx, r, "journal", "cannot read the snapshot's package versions", e);
                ok = false;
        }
        record_packages(ctx, &now);
        p.req = calloc(p.n + 1, sizeof *p.req);
        for (size_t i = 0; p.req && i < p.n; i++) {
                const char *current = "";
                for (size_t j = 0; now.have_packages && j < now.n_versions; j++)
                        if (strcmp(ctx->cfg->packages[j], p.names[i]) == 0)
                                current = now.versions[j];
                if (strcmp(current, p.versions[i]) != 0)
                        p.req[n_req++] = (pkg_request_t) { p.names[i], p.versions[i] };
        }
        if (ok && n_req > 0)
                ok = install_exact(ctx, p.req, n_req, true, r) == 0;
        for (size_t i = 0; i < p.n; i++) {
                free(p.names[i]);
                free(p.versions[i]);
        }
        free(p.names);
        free(p.versions);
        free(p.req);
        action_result_clear(&now);
        return ok;
}

typedef struct {
        action_result_t *r;
        int failures;
} file_restore_t;

static int restore_file(const char *path, bool exists, const void *content, size_t len, uint32_t mode,
                        uint32_t uid, uint32_t gid, void *ud) {
        file_restore_t *f = ud;
        char *now = NULL;
        size_t now_len = 0;
        struct stat st;
        int e = 0;

        if (!exists) {
                if (unlink(path) < 0 && errno != ENOENT)
                        e = -errno;
        } else if (file_read_all(path, MAX_SNAPSHOT_FILE, &now, &now_len) == 0 && now_len == len &&
                   memcmp(now, content, len) == 0 && stat(path, &st) == 0 && (st.st_mode & 07777) == mode &&
                   st.st_uid == uid && st.st_gid == gid) {
                e = 0;  /* already as it was */
        } else {
                e = atomic_file_replace(path, content, len, (mode_t) mode, (uid_t) uid, (gid_t) gid);
        }
        free(now);
        if (e < 0) {
                action_result_set(f->r, JCMD_FAILED, "restore-failed", "cannot restore %s: %s", path, strerror(-e));
                f->failures++;
        }
        return 0;
}

typedef struct {
        char *units[64];
        size_t n;
} unit_list_t;

static int collect_active_unit(const char *unit, const char *state, void *ud) {
        unit_list_t *l = ud;
        if (strcmp(state, "active") == 0 && l->n < 64)
                l->units[l->n++] = strdup(unit);
        return 0;
}

void actions_rollback(const action_ctx_t *ctx, const char *snapshot_id, const char *upgrade_id,
                      action_result_t *r) {
        journal_snapshot_t s;
        file_restore_t files = { r, 0 };
        unit_list_t units = { .n = 0 };
        bool drained = false;
        bool by_upgrade = !(snapshot_id && snapshot_id[0]) && upgrade_id && upgrade_id[0];
        int e = snapshot_id && snapshot_id[0] ? journal_snapshot_get(ctx->journal, snapshot_id, &s)
                                              : journal_snapshot_find_open(ctx->journal, by_upgrade ? upgrade_id : "", &s);

        if (e < 0 && e != -ENOENT) {
                journal_failed(ctx, r, "journal", "cannot read the snapshot to roll back to", e);
                return;
        }
        if (e < 0 && by_upgrade) {
                /* The upgrade changed nothing here, or its changes were
                 * already rolled back: this node is where it was before. */
                record_health(ctx, r);
                record_packages(ctx, r);
                action_result_set(r, JCMD_SUCCEEDED, "", "no open snapshot of upgrade %s: nothing to roll back",
                                  upgrade_id);
                return;
        }
        if (e < 0) {
                action_result_set(r, JCMD_FAILED, "no-snapshot", "no %s snapshot to roll back to",
                                  snapshot_id && snapshot_id[0] ? "such" : "open");
                return;
        }
        snprintf(r->snapshot_id, sizeof r->snapshot_id, "%s", s.id);
        progress(ctx, "rolling back to snapshot %s", s.id);

        /* 1. packages, 2. files: what the upgrade changed, newest first. */
        if (!restore_packages(ctx, s.id, r)) {
                record_packages(ctx, r);
                return;
        }
        e = journal_snapshot_files(ctx->journal, s.id, restore_file, &files);
        if (e < 0)
                journal_failed(ctx, r, "journal", "cannot read the snapshot's files (not restored)", e);
        if (e < 0 || files.failures) {
                record_packages(ctx, r);
                return;
        }
        /* 3. units that were running, so they pick up the old packages and files. */
        e = journal_snapshot_units(ctx->journal, s.id, collect_active_unit, &units);
        bool units_ok = e >= 0 && restart_units(ctx, units.units, units.n, r);
        for (size_t i = 0; i < units.n; i++)
                free(units.units[i]);
        if (e < 0)
                journal_failed(ctx, r, "journal", "cannot read the snapshot's units (not restarted)", e);
        if (!units_ok) {
                record_packages(ctx, r);
                return;
        }
        /* 4. health, 5. undrain if we drained and it was not drained before. */
        record_health_settled(ctx, r);
        record_packages(ctx, r);
        e = journal_get_drained(ctx->journal, &drained);
        if (e < 0) {
                journal_failed(ctx, r, "journal", "cannot read whether hitless drained the node (not undrained)", e);
                return;
        }
        if (drained && !s.drained && ctx->cfg->undrain.argv) {
                run_hook(ctx, &ctx->cfg->undrain, "undrain", r);
                if (r->state != JCMD_SUCCEEDED)
                        return;
                record_drained(ctx, false, r);
                if (r->state != JCMD_SUCCEEDED)
                        return;
        }
        /* Left open, the snapshot would make a later rollback of this
         * upgrade restart its units again: not done until closed. */
        e = journal_snapshot_close(ctx->journal, s.id);
        if (e < 0) {
                journal_failed(ctx, r, "journal", "restored, but cannot close the snapshot", e);
                return;
        }
        if (r->have_health && r->health.state == HEALTH_STATE_UNHEALTHY)
                action_result_set(r, JCMD_FAILED, "unhealthy",
                                  "rolled back to %s, but the node is unhealthy", s.id);
        else
                action_result_set(r, JCMD_SUCCEEDED, "", "rolled back to %s", s.id);
}

/* True when every package the install asked for is now at its version:
 * the command finished although the agent did not see it end (typically
 * apt upgrading hitless-agent itself, whose postinst restarts us). */
static bool install_completed(const action_ctx_t *ctx, const journal_command_t *c, const action_result_t *r) {
        Hitless__Command *cmd = hitless__command__unpack(NULL, c->request_len, c->request);
        bool done = cmd && cmd->action_case == HITLESS__COMMAND__ACTION_INSTALL && r->have_packages &&
                    cmd->install->n_packages > 0;
        for (size_t i = 0; done && i < cmd->install->n_packages; i++) {
                const Hitless__PackageVersion *want = cmd->install->packages[i];
                bool found = false;
                for (size_t j = 0; j < r->n_versions; j++)
                        if (strcmp(ctx->cfg->packages[j], want->name) == 0)
                                found = strcmp(r->versions[j], want->version) == 0;
                done = found;
        }
        if (cmd)
                hitless__command__free_unpacked(cmd, NULL);
        return done;
}

void actions_describe_real_state(const action_ctx_t *ctx, const journal_command_t *c, action_result_t *r) {
        char versions[512] = "", busy[256] = "";
        size_t off = 0;
        const pkg_backend_t *b = backend(ctx->cfg);
        pkg_env_t env = pkg_env(ctx->cfg);
        /* apt may still be finishing what the dead agent started (it runs
         * on with its output in a file): read the state once it is done. */
        if (b && b->wait_idle(&env, busy, sizeof busy) < 0)
                progress(ctx, "%s", busy);
        record_packages(ctx, r);
        for (size_t i = 0; r->have_packages && i < r->n_versions && off < sizeof versions; i++) {
                int w = snprintf(versions + off, sizeof versions - off, "%s%s=%s", i ? " " : "",
                                 ctx->cfg->packages[i], r->versions[i][0] ? r->versions[i] : "(none)");
                if (w < 0)
                        break;
                off += (size_t) w;
        }
        snprintf(r->snapshot_id, sizeof r->snapshot_id, "%s", c->snapshot_id);
        if (install_completed(ctx, c, r)) {
                /* Still "interrupted": the agent did not see it end. But
                 * nothing is lost: the node verifiably has what was asked. */
                action_result_set(r, JCMD_INTERRUPTED, "interrupted-completed",
                                  "the agent stopped during this install, which completed: the requested "
                                  "versions are installed (checked: %s); not repeated", versions);
                return;
        }
        action_result_set(r, JCMD_INTERRUPTED, "interrupted",
                          "the agent stopped while running this %s (state %s); not repeated. Node now: %s",
                          c->kind, journal_state_name(c->state), versions[0] ? versions : "no managed packages");
}
