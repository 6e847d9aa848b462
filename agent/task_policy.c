/* Named tasks of the agent's policy: parsing, lookup and the validation of
 * a command's parameters into an argv. See task_policy.h. */
#include "agent/task_policy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/endpoint.h"
#include "common/ids.h"

#define DEFAULT_TASK_TIMEOUT_MS (10 * 60 * 1000)

static const char *const task_keys[] = { "name", "argv", "timeout", "params", "changes", "undo", NULL };
static const char *const param_keys[] = { "name", "kind", "values", "min", "max", "default", NULL };

__attribute__((format(printf, 3, 4)))
static int s_err(char *err, size_t len, const char *fmt, ...) {
        va_list ap;
        if (len > 0) {
                va_start(ap, fmt);
                vsnprintf(err, len, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

/* Whether value is one p accepts; err says why not. */
static int s_value_check(const task_param_t *p, const char *value, char *err, size_t len) {
        char why[256];
        if (strlen(value) > TASK_PARAM_VALUE_MAX)
                return s_err(err, len, "parameter %s: longer than %d bytes", p->name, TASK_PARAM_VALUE_MAX);
        switch (p->kind) {
        case TASK_PARAM_ENUM:
                for (size_t i = 0; p->values && p->values[i]; i++)
                        if (strcmp(p->values[i], value) == 0)
                                return 0;
                return s_err(err, len, "parameter %s: \"%.64s\" is not one of the values the policy allows",
                             p->name, value);
        case TASK_PARAM_ENDPOINTS: {
                endpoint_list_t l = { 0 };
                if (endpoint_list_parse(value, 0, &l, why, sizeof why) < 0)
                        return s_err(err, len, "parameter %s: not a host:port list: %s", p->name, why);
                endpoint_list_free(&l);
                return 0;
        }
        case TASK_PARAM_RANGE: {
                char *end = NULL;
                long long v;
                /* Decimal only, as written by a person: no sign but '-', no
                 * leading zeros, no spaces (strtoll would take " 1"). */
                bool digits = value[0] && (value[0] == '-' ? value[1] >= '1' && value[1] <= '9'
                                                           : (value[0] >= '1' && value[0] <= '9') ||
                                                                     strcmp(value, "0") == 0);
                errno = 0;
                v = digits ? strtoll(value, &end, 10) : 0;
                if (!digits || errno || *end)
                        return s_err(err, len, "parameter %s: \"%.64s\" is not a decimal integer", p->name, value);
                if (v < p->min || v > p->max)
                        return s_err(err, len, "parameter %s: %lld is outside %lld..%lld", p->name, v, p->min,
                                     p->max);
                return 0;
        }
        }
        return s_err(err, len, "parameter %s: unknown kind", p->name);
}

/* ---- parsing --------------------------------------------------------------- */

static void s_parse_param(const config_setting_t *s, task_param_t *p, conf_report_t *r) {
        char *kind = NULL;
        if (!config_setting_is_group(s)) {
                conf_report_add(r, s, NULL, "must be a group { name = ...; kind = ...; }");
                return;
        }
        conf_check_known(s, param_keys, r);
        if (conf_get_string(s, "name", true, &p->name, r) && !task_param_name_valid(p->name))
                conf_report_add(r, config_setting_get_member(s, "name"), NULL,
                                "must be 1-%d of [a-z0-9_], starting with a letter", TASK_PARAM_NAME_MAX);
        if (!conf_get_string(s, "kind", true, &kind, r))
                return;
        if (strcmp(kind, "enum") == 0) {
                p->kind = TASK_PARAM_ENUM;
                if (conf_get_strv(s, "values", true, &p->values, r) && !p->values[0])
                        conf_report_add(r, config_setting_get_member(s, "values"), NULL, "must not be empty");
        } else if (strcmp(kind, "endpoints") == 0) {
                p->kind = TASK_PARAM_ENDPOINTS;
        } else if (strcmp(kind, "range") == 0) {
                p->kind = TASK_PARAM_RANGE;
                conf_get_int(s, "min", true, -(1LL << 53), 1LL << 53, &p->min, r);
                conf_get_int(s, "max", true, -(1LL << 53), 1LL << 53, &p->max, r);
                if (p->min > p->max)
                        conf_report_add(r, config_setting_get_member(s, "max"), NULL, "must not be below min");
        } else {
                conf_report_add(r, config_setting_get_member(s, "kind"), NULL,
                                "unknown parameter kind \"%s\" (enum, endpoints, range)", kind);
        }
        free(kind);
        static const struct { const char *key; task_param_kind_t kind; } owned[] = {
                { "values", TASK_PARAM_ENUM }, { "min", TASK_PARAM_RANGE }, { "max", TASK_PARAM_RANGE },
        };
        for (size_t i = 0; i < sizeof owned / sizeof *owned; i++)
                if (config_setting_get_member(s, owned[i].key) && p->kind != owned[i].kind)
                        conf_report_add(r, config_setting_get_member(s, owned[i].key), NULL,
                                        "not used by this parameter kind");
        if (conf_get_string(s, "default", false, &p->default_value, r) && p->name) {
                char why[512];
                if (s_value_check(p, p->default_value, why, sizeof why) < 0)
                        conf_report_add(r, config_setting_get_member(s, "default"), NULL, "%s", why);
        }
}

static const task_param_t *s_param_find(const task_config_t *t, const char *name, size_t len) {
        for (size_t i = 0; i < t->n_params; i++)
                if (t->params[i].name && strlen(t->params[i].name) == len && strncmp(t->params[i].name, name, len) == 0)
                        return &t->params[i];
        return NULL;
}

/* The next placeholder "{name}" in s from *at: its name (start, length)
 * and where it ends. Braces around anything but a parameter-like name are
 * left alone (a literal "{}" in an argument). */
static bool s_next_placeholder(const char **at, const char **ret_name, size_t *ret_len) {
        for (const char *p = strchr(*at, '{'); p; p = strchr(p + 1, '{')) {
                const char *close = strchr(p + 1, '}');
                size_t n = close ? (size_t) (close - p - 1) : 0;
                char name[TASK_PARAM_NAME_MAX + 1];
                if (!close || n == 0 || n > TASK_PARAM_NAME_MAX)
                        continue;
                memcpy(name, p + 1, n);
                name[n] = '\0';
                if (!task_param_name_valid(name))
                        continue;
                *ret_name = p + 1;
                *ret_len = n;
                *at = close + 1;
                return true;
        }
        return false;
}

static void s_check_argv(const config_setting_t *s, const task_config_t *t, conf_report_t *r) {
        const config_setting_t *a = config_setting_get_member(s, "argv");
        if (!t->argv)
                return;
        if (!t->argv[0] || t->argv[0][0] != '/') {
                conf_report_add(r, a, NULL, "must start with an absolute program path");
                return;
        }
        for (size_t i = 0; t->argv[i]; i++) {
                const char *at = t->argv[i], *name;
                size_t len;
                while (s_next_placeholder(&at, &name, &len)) {
                        if (i == 0)
                                conf_report_add(r, a, NULL, "the program path cannot take a parameter");
                        else if (!s_param_find(t, name, len))
                                conf_report_add(r, a, NULL, "{%.*s} names no parameter of this task", (int) len,
                                                name);
                }
        }
}

static void s_parse_task(const config_setting_t *s, task_config_t *t, conf_report_t *r) {
        const config_setting_t *ps;
        t->timeout_ms = DEFAULT_TASK_TIMEOUT_MS;
        if (!config_setting_is_group(s)) {
                conf_report_add(r, s, NULL, "must be a group { name = ...; argv = [...]; }");
                return;
        }
        conf_check_known(s, task_keys, r);
        if (conf_get_string(s, "name", true, &t->name, r) && !node_id_valid(t->name))
                conf_report_add(r, config_setting_get_member(s, "name"), NULL, "must be 1-63 of [A-Za-z0-9._-]");
        conf_get_strv(s, "argv", true, &t->argv, r);
        conf_get_duration_ms(s, "timeout", false, 1000, 24 * 3600 * 1000, &t->timeout_ms, r);
        conf_get_bool(s, "changes", &t->changes, r);
        conf_get_string(s, "undo", false, &t->undo, r);
        if ((ps = config_setting_get_member(s, "params"))) {
                if (!config_setting_is_list(ps)) {
                        conf_report_add(r, ps, NULL, "must be a list ( { name = ...; kind = ...; }, ... )");
                } else if (config_setting_length(ps) > TASK_POLICY_MAX_PARAMS) {
                        conf_report_add(r, ps, NULL, "at most %d parameters", TASK_POLICY_MAX_PARAMS);
                } else {
                        t->n_params = (size_t) config_setting_length(ps);
                        t->params = calloc(t->n_params ? t->n_params : 1, sizeof *t->params);
                        for (size_t i = 0; t->params && i < t->n_params; i++)
                                s_parse_param(config_setting_get_elem(ps, (unsigned) i), &t->params[i], r);
                        for (size_t i = 0; t->params && i < t->n_params; i++)
                                for (size_t j = 0; j < i; j++)
                                        if (t->params[i].name && t->params[j].name &&
                                            strcmp(t->params[i].name, t->params[j].name) == 0)
                                                conf_report_add(r, config_setting_get_elem(ps, (unsigned) i), "name",
                                                                "duplicate parameter \"%s\"", t->params[i].name);
                }
        }
        s_check_argv(s, t, r);
}

/* An undo runs with its task's parameters: each one it needs (no
 * default) must be one its task has. */
static void s_check_undo(const config_setting_t *s, const task_config_t *tasks, size_t n, const task_config_t *t,
                         conf_report_t *r) {
        const config_setting_t *u = config_setting_get_member(s, "undo");
        const task_config_t *undo;
        if (!t->undo)
                return;
        if (!t->changes)
                conf_report_add(r, u, NULL, "only a task with changes = true has an undo");
        undo = task_policy_find(tasks, n, t->undo);
        if (!undo) {
                conf_report_add(r, u, NULL, "names no task of this policy (\"%s\")", t->undo);
                return;
        }
        if (undo == t)
                conf_report_add(r, u, NULL, "a task cannot be its own undo");
        for (size_t i = 0; i < undo->n_params; i++)
                if (undo->params[i].name && !undo->params[i].default_value &&
                    !s_param_find(t, undo->params[i].name, strlen(undo->params[i].name)))
                        conf_report_add(r, u, NULL, "%s needs parameter %s, which this task does not have",
                                        t->undo, undo->params[i].name);
}

void task_policy_parse(const config_setting_t *list, task_config_t **ret, size_t *ret_n, conf_report_t *r) {
        task_config_t *tasks;
        size_t n;
        if (!config_setting_is_list(list)) {
                conf_report_add(r, list, NULL, "must be a list ( { name = ...; argv = [...]; }, ... )");
                return;
        }
        n = (size_t) config_setting_length(list);
        if (n > TASK_POLICY_MAX_TASKS) {
                conf_report_add(r, list, NULL, "at most %d tasks", TASK_POLICY_MAX_TASKS);
                return;
        }
        tasks = calloc(n ? n : 1, sizeof *tasks);
        if (!tasks) {
                conf_report_add(r, list, NULL, "out of memory");
                return;
        }
        for (size_t i = 0; i < n; i++)
                s_parse_task(config_setting_get_elem(list, (unsigned) i), &tasks[i], r);
        for (size_t i = 0; i < n; i++) {
                const config_setting_t *s = config_setting_get_elem(list, (unsigned) i);
                for (size_t j = 0; j < i; j++)
                        if (tasks[i].name && tasks[j].name && strcmp(tasks[i].name, tasks[j].name) == 0)
                                conf_report_add(r, s, "name", "duplicate task name \"%s\"", tasks[i].name);
                s_check_undo(s, tasks, n, &tasks[i], r);
        }
        *ret = tasks;
        *ret_n = n;
}

const task_config_t *task_policy_find(const task_config_t *tasks, size_t n, const char *name) {
        for (size_t i = 0; name && i < n; i++)
                if (tasks[i].name && strcmp(tasks[i].name, name) == 0)
                        return &tasks[i];
        return NULL;
}

/* ---- resolving a command's parameters ---------------------------------------- */

/* s with every {name} replaced by its value (values[i] for t->params[i]):
 * one pass to measure, one to copy. */
static char *s_substitute(const task_config_t *t, const char *s, const char *const *values) {
        char *out = NULL;
        size_t len = 0;
        for (int pass = 0; pass < 2; pass++) {
                const char *at = s, *from = s, *name;
                size_t nlen;
                len = 0;
                while (s_next_placeholder(&at, &name, &nlen)) {
                        const task_param_t *p = s_param_find(t, name, nlen);
                        const char *v = p ? values[p - t->params] : NULL;
                        size_t head = (size_t) (name - 1 - from);
                        if (!v)
                                continue;   /* checked at load: cannot happen */
                        if (out) {
                                memcpy(out + len, from, head);
                                memcpy(out + len + head, v, strlen(v));
                        }
                        len += head + strlen(v);
                        from = at;
                }
                if (out)
                        memcpy(out + len, from, strlen(from) + 1);
                else if (!(out = malloc(len + strlen(from) + 1)))
                        return NULL;
        }
        return out;
}

static char **s_strv_new(size_t n) {
        return calloc(n + 1, sizeof(char *));
}

int task_policy_resolve(const task_config_t *t, const task_arg_t *args, size_t n_args, bool only_declared,
                        char ***ret_argv, char ***ret_env, char *err, size_t err_len) {
        const char *values[TASK_POLICY_MAX_PARAMS] = { 0 };
        size_t n_argv = conf_strv_len(t->argv);
        char **argv, **env;
        int e;

        for (size_t i = 0; i < n_args; i++) {
                const task_param_t *p = s_param_find(t, args[i].name, strlen(args[i].name));
                if (!p) {
                        if (only_declared)
                                continue;
                        return s_err(err, err_len, "task %s has no parameter \"%.64s\"", t->name, args[i].name);
                }
                if (values[p - t->params])
                        return s_err(err, err_len, "parameter %s given twice", p->name);
                e = s_value_check(p, args[i].value, err, err_len);
                if (e < 0)
                        return e;
                values[p - t->params] = args[i].value;
        }
        for (size_t i = 0; i < t->n_params; i++)
                if (!values[i] && !(values[i] = t->params[i].default_value))
                        return s_err(err, err_len, "task %s needs parameter %s", t->name, t->params[i].name);

        argv = s_strv_new(n_argv);
        env = s_strv_new(t->n_params);
        e = argv && env ? 0 : -ENOMEM;
        for (size_t i = 0; e == 0 && i < n_argv; i++)
                if (!(argv[i] = i == 0 ? strdup(t->argv[0]) : s_substitute(t, t->argv[i], values)))
                        e = -ENOMEM;
        for (size_t i = 0; e == 0 && i < t->n_params; i++) {
                char up[TASK_PARAM_NAME_MAX + 1];
                size_t k;
                for (k = 0; t->params[i].name[k]; k++)
                        up[k] = (char) (t->params[i].name[k] >= 'a' && t->params[i].name[k] <= 'z'
                                                ? t->params[i].name[k] - 'a' + 'A' : t->params[i].name[k]);
                up[k] = '\0';
                if (asprintf(&env[i], "HITLESS_PARAM_%s=%s", up, values[i]) < 0) {
                        env[i] = NULL;
                        e = -ENOMEM;
                }
        }
        if (e < 0) {
                conf_strv_free(argv);
                conf_strv_free(env);
                snprintf(err, err_len, "out of memory");
                return -ENOMEM;
        }
        *ret_argv = argv;
        *ret_env = env;
        return 0;
}

/* ---- freeing --------------------------------------------------------------- */

void task_policy_free(task_config_t *tasks, size_t n) {
        for (size_t i = 0; tasks && i < n; i++) {
                free(tasks[i].name);
                conf_strv_free(tasks[i].argv);
                free(tasks[i].undo);
                for (size_t j = 0; tasks[i].params && j < tasks[i].n_params; j++) {
                        free(tasks[i].params[j].name);
                        conf_strv_free(tasks[i].params[j].values);
                        free(tasks[i].params[j].default_value);
                }
                free(tasks[i].params);
        }
        free(tasks);
}
