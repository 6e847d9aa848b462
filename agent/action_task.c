/* The task action: see action_task.h. */
#include "agent/action_task.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/exec.h"

/* The task that runs for a: the named one, or its undo. *ret_task is the
 * named one (NULL if the policy has none); the result is NULL when it has
 * no undo. */
static const task_config_t *s_target(const agent_config_t *cfg, const Hitless__TaskAction *a,
                                     const task_config_t **ret_task) {
        const task_config_t *t = agent_policy_task(cfg, a->name);
        *ret_task = t;
        if (!t || !a->undo)
                return t;
        return t->undo ? agent_policy_task(cfg, t->undo) : NULL;
}

/* The command's parameters as task_policy takes them (NULL when none). */
static task_arg_t *s_args(const Hitless__TaskAction *a) {
        task_arg_t *args = calloc(a->n_params + 1, sizeof *args);
        for (size_t i = 0; args && i < a->n_params; i++)
                args[i] = (task_arg_t) { a->params[i]->name, a->params[i]->value };
        return args;
}

/* Validates a's parameters for target; with argv and env not NULL, also
 * builds them. 0, or -errno with r REFUSED. */
static int s_resolve(const Hitless__TaskAction *a, const task_config_t *target, char ***argv, char ***env,
                     action_result_t *r) {
        char err[512] = "", **v = NULL, **en = NULL;
        task_arg_t *args = s_args(a);
        int e = args ? task_policy_resolve(target, args, a->n_params, a->undo, &v, &en, err, sizeof err) : -ENOMEM;
        free(args);
        if (e < 0) {
                action_result_set(r, JCMD_REFUSED, e == -EINVAL ? "bad-param" : "internal", "%s",
                                  err[0] ? err : strerror(-e));
                return e;
        }
        if (argv) {
                *argv = v;
                *env = en;
        } else {
                conf_strv_free(v);
                conf_strv_free(en);
        }
        return 0;
}

bool action_task_allowed(const agent_config_t *cfg, const Hitless__TaskAction *a, action_result_t *r) {
        const task_config_t *task, *target = s_target(cfg, a, &task);
        if (!task) {
                action_result_set(r, JCMD_REFUSED, "policy", "task %.64s is not in this agent's policy", a->name);
                return false;
        }
        if (!target && task->changes) {
                action_result_set(r, JCMD_REFUSED, "no-undo",
                                  "task %s changes the node and declares no undo: it cannot be undone here",
                                  task->name);
                return false;
        }
        /* An undo of a check has nothing to run, but its parameters are
         * still the task's own: checked all the same. */
        return s_resolve(a, target ? target : task, NULL, NULL, r) == 0;
}

bool action_task_changes(const agent_config_t *cfg, const Hitless__TaskAction *a) {
        const task_config_t *t = agent_policy_task(cfg, a->name);
        return t && t->changes;
}

void action_task_run(const action_ctx_t *ctx, const Hitless__Command *cmd, action_result_t *r) {
        const Hitless__TaskAction *a = cmd->task;
        const task_config_t *task, *target = s_target(ctx->cfg, a, &task);
        char **argv = NULL, **env = NULL, *fixed[4] = { 0 }, **all = NULL, why[128], line[256];
        exec_result_t out;
        size_t n_env;
        int e;

        if (!task || (!target && task->changes)) {   /* action_task_allowed said no */
                action_result_set(r, JCMD_REFUSED, "policy", "task %.64s cannot run here", a->name);
                return;
        }
        if (!target) {
                action_result_set(r, JCMD_SUCCEEDED, "", "task %s changes nothing and has no undo: nothing to undo",
                                  task->name);
                return;
        }
        if (s_resolve(a, target, &argv, &env, r) < 0)
                return;
        n_env = conf_strv_len(env);
        all = calloc(n_env + 5, sizeof *all);
        if (!all || asprintf(&fixed[0], "HITLESS_TASK=%s", task->name) < 0 ||
            asprintf(&fixed[1], "HITLESS_COMMAND_ID=%s", cmd->command_id) < 0 ||
            asprintf(&fixed[2], "HITLESS_UPGRADE_ID=%s", cmd->upgrade_id) < 0 ||
            asprintf(&fixed[3], "HITLESS_UNDO=%d", a->undo ? 1 : 0) < 0) {
                action_result_set(r, JCMD_FAILED, "internal", "out of memory");
                goto out;
        }
        for (size_t i = 0; i < 4; i++)
                all[i] = fixed[i];
        for (size_t i = 0; i < n_env; i++)
                all[4 + i] = env[i];
        if (ctx->progress) {
                snprintf(line, sizeof line, "running task %s%s%s", target->name, a->undo ? ", the undo of " : "",
                         a->undo ? task->name : "");
                ctx->progress(line, ctx->ud);
        }
        /* Output to a file: a task outlives an agent killed mid-run (see
         * common/exec.h), and is then reported interrupted, never rerun. */
        exec_options_t opts = { .timeout_ms = target->timeout_ms, .extra_env = all, .output_to_file = true };
        e = exec_run(argv, &opts, &out);
        if (e < 0) {
                action_result_set(r, JCMD_FAILED, "task-failed", "cannot run task %s (%s): %s", target->name, argv[0],
                                  strerror(-e));
                goto out;
        }
        if (exec_succeeded(&out))
                action_result_set(r, JCMD_SUCCEEDED, "", "task %s succeeded (%lld ms)", target->name,
                                  (long long) out.duration_ms);
        else
                action_result_set(r, JCMD_FAILED, out.timed_out ? "timeout" : "task-failed", "task %s: %s",
                                  target->name, exec_describe(&out, why, sizeof why));
        action_result_keep_output(r, &out);
out:
        for (size_t i = 0; i < 4; i++)
                free(fixed[i]);
        free(all);
        conf_strv_free(argv);
        conf_strv_free(env);
}
