/* Named tasks of the agent's local policy (`policy.tasks` in agent.conf).
 *
 * A task is what the node's owner lets the coordinator run by name: an
 * argv (an absolute program, never a shell) with a timeout, and the
 * parameters a command may give it. A parameter is validated by its kind
 * before anything runs, so a value can never be a path, an option or a
 * shell word the owner did not list:
 *   enum       one of `values`
 *   endpoints  a host:port list (common/endpoint.h), passed as written
 *   range      a decimal integer within [min, max]
 * A value reaches the program only where the argv says `{NAME}` (inside any
 * element but the program path), and in the environment as
 * HITLESS_PARAM_NAME. `changes = true` says the task changes the node: a
 * snapshot is taken first, and `undo = "OTHER"` names the task that
 * reverses it (run with the same parameters, those OTHER declares), which a
 * rollback of the plan step runs.
 *
 *   tasks = (
 *     { name = "issu-run-sync"; argv = ["/usr/bin/systemctl", "start", "issu-run-sync"];
 *       changes = true; undo = "issu-run-sync-stop"; },
 *     { name = "issu-in-sync"; argv = ["/usr/lib/issu/in-sync", "--peers", "{peers}"];
 *       params = ( { name = "peers"; kind = "endpoints"; } ); timeout = "30s"; }
 *   );
 */
#pragma once
#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/attrs.h"
#include "common/conf.h"
#include "common/ids.h"

/* A policy declares at most this many tasks and each at most this many
 * parameters: their names travel in Hello, which stays small. */
#define TASK_POLICY_MAX_TASKS 64
#define TASK_POLICY_MAX_PARAMS 16
#define TASK_PARAM_VALUE_MAX 1024

typedef enum {
        TASK_PARAM_ENUM,
        TASK_PARAM_ENDPOINTS,
        TASK_PARAM_RANGE,
} task_param_kind_t;

typedef struct {
        char *name;             /* 1-32 of [a-z0-9_], starting with a letter */
        task_param_kind_t kind;
        char **values;          /* TASK_PARAM_ENUM, NULL-terminated */
        long long min, max;     /* TASK_PARAM_RANGE */
        char *default_value;    /* NULL: a command must give it */
} task_param_t;

typedef struct {
        char *name;             /* 1-63 of [A-Za-z0-9._-] */
        char **argv;            /* NULL-terminated; argv[0] absolute, without {..} */
        int64_t timeout_ms;     /* default 10 minutes */
        task_param_t *params;
        size_t n_params;
        bool changes;           /* changes the node (default false: a check) */
        char *undo;             /* the paired undo task's name, or NULL */
} task_config_t;

/* One parameter of a command: name and value, as sent. */
typedef struct {
        const char *name;
        const char *value;
} task_arg_t;

/* Parses `tasks = ( {...}, ... )` into *ret (n in *ret_n). Every problem
 * goes to r (FILE:LINE: KEY: message): unknown keys, a relative program,
 * a placeholder naming no parameter, duplicate names, an undo naming no
 * task or needing a parameter its task does not give. */
void task_policy_parse(const config_setting_t *list, task_config_t **ret, size_t *ret_n, conf_report_t *r);

/* The task called name, or NULL. */
const task_config_t *task_policy_find(const task_config_t *tasks, size_t n, const char *name);

/* Validates args against t and builds the argv to run (*ret_argv,
 * NULL-terminated, free with conf_strv_free) and the environment entries
 * "HITLESS_PARAM_NAME=value" (*ret_env, same). With only_declared, args
 * that t does not declare are skipped (an undo task gets its task's
 * parameters); otherwise each is an error. Returns 0, or -EINVAL with one
 * line in err naming the parameter and why (unknown, given twice,
 * missing, invalid value), or -ENOMEM. */
HL_MUST_USE int task_policy_resolve(const task_config_t *t, const task_arg_t *args, size_t n_args,
                                    bool only_declared, char ***ret_argv, char ***ret_env, char *err,
                                    size_t err_len);

void task_policy_free(task_config_t *tasks, size_t n);
