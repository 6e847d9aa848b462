/* Parsing the steps of a plan phase: see plan_steps.h. */
#include "coordinator/upgrade/plan_steps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"

#define DEFAULT_GATE_INTERVAL_MS (10 * 1000)
#define MAX_GATE_MS (7 * 24 * 3600 * 1000LL)
/* As the agent's policy bounds them (agent/task_policy.h). */
#define PARAM_VALUE_MAX 1024

static const char *const s_stage_names[PLAN_STAGE__COUNT] = {
        [PLAN_STAGE_BEFORE] = "before", [PLAN_STAGE_PRE] = "pre", [PLAN_STAGE_POST] = "post",
        [PLAN_STAGE_AFTER] = "after", [PLAN_STAGE_WAIT_FOR] = "wait_for",
};

static const char *const s_step_keys[] = { "task", "params", "unit", "units", "node", "group", NULL };
static const char *const s_gate_keys[] = { "task", "params", "node", "group", "deadline", "interval", NULL };

const char *plan_stage_name(plan_stage_t s) {
        return (unsigned) s < PLAN_STAGE__COUNT ? s_stage_names[s] : "unknown";
}

/* params = { name = "value"; n = 3; }: strings or integers, as the agent
 * receives them (text). */
static void s_parse_params(const config_setting_t *g, plan_step_t *st, conf_report_t *r) {
        int n = config_setting_length(g);
        if (!config_setting_is_group(g)) {
                conf_report_add(r, g, NULL, "must be a group { name = \"value\"; ... }");
                return;
        }
        st->params = calloc((size_t) n + 1, sizeof *st->params);
        for (int i = 0; st->params && i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(g, (unsigned) i);
                const char *name = config_setting_name(e);
                char num[32];
                const char *value = NULL;
                if (config_setting_type(e) == CONFIG_TYPE_STRING)
                        value = config_setting_get_string(e);
                else if (config_setting_type(e) == CONFIG_TYPE_INT || config_setting_type(e) == CONFIG_TYPE_INT64)
                        value = (snprintf(num, sizeof num, "%lld", config_setting_get_int64(e)), num);
                if (!task_param_name_valid(name)) {
                        conf_report_add(r, e, NULL, "a parameter name is 1-%d of [a-z0-9_], starting with a letter",
                                        TASK_PARAM_NAME_MAX);
                        continue;
                }
                if (!value) {
                        conf_report_add(r, e, NULL, "must be a string or an integer");
                        continue;
                }
                if (strlen(value) > PARAM_VALUE_MAX) {
                        conf_report_add(r, e, NULL, "longer than %d bytes", PARAM_VALUE_MAX);
                        continue;
                }
                st->params[st->n_params++] = (plan_step_param_t) { strdup(name), strdup(value) };
        }
}

static void s_parse_where(const config_setting_t *g, plan_stage_t stage, plan_step_t *st, conf_report_t *r) {
        bool once = stage != PLAN_STAGE_PRE && stage != PLAN_STAGE_POST;
        if (conf_get_string(g, "node", false, &st->node, r) && !node_id_valid(st->node))
                conf_report_add(r, config_setting_get_member(g, "node"), NULL, "\"%s\" is not a node id", st->node);
        if (conf_get_string(g, "group", false, &st->group, r) && !node_id_valid(st->group))
                conf_report_add(r, config_setting_get_member(g, "group"), NULL, "\"%s\" is not a group name",
                                st->group);
        if (!once && (st->node || st->group))
                conf_report_add(r, config_setting_get_member(g, st->node ? "node" : "group"), NULL,
                                "a %s step runs on each node of the phase: it names no node or group",
                                plan_stage_name(stage));
        else if (once && !st->node == !st->group)
                conf_report_add(r, g, NULL, "a %s step names where it runs: node = \"...\" or group = \"...\" "
                                "(one of them)", plan_stage_name(stage));
}

static void s_parse_units(const config_setting_t *g, plan_step_t *st, conf_report_t *r) {
        char *op = NULL;
        if (!conf_get_string(g, "unit", true, &op, r))
                return;
        if (strcmp(op, "start") == 0 || strcmp(op, "stop") == 0)
                st->kind = op[2] == 'a' ? PLAN_STEP_START : PLAN_STEP_STOP;
        else
                conf_report_add(r, config_setting_get_member(g, "unit"), NULL,
                                "\"%s\": a unit step is \"start\" or \"stop\" (restart is the phase's restart)", op);
        free(op);
        if (conf_get_strv(g, "units", true, &st->units, r)) {
                if (!st->units[0])
                        conf_report_add(r, config_setting_get_member(g, "units"), NULL, "must not be empty");
                for (size_t i = 0; st->units[i]; i++)
                        if (!unit_name_valid(st->units[i]))
                                conf_report_add(r, config_setting_get_member(g, "units"), NULL,
                                                "\"%s\" is not a unit name", st->units[i]);
        }
}

static void s_parse_step(const config_setting_t *g, plan_stage_t stage, plan_step_t *st, conf_report_t *r) {
        const config_setting_t *p;
        bool gate = stage == PLAN_STAGE_WAIT_FOR;
        st->line = config_setting_source_line(g);
        if (!config_setting_is_group(g)) {
                conf_report_add(r, g, NULL, "must be a group { task = \"...\"; ... }");
                return;
        }
        conf_check_known(g, gate ? s_gate_keys : s_step_keys, r);
        s_parse_where(g, stage, st, r);
        if (gate) {
                st->interval_ms = DEFAULT_GATE_INTERVAL_MS;
                if (!conf_get_duration_ms(g, "deadline", true, 1000, MAX_GATE_MS, &st->deadline_ms, r))
                        st->deadline_ms = 0;
                conf_get_duration_ms(g, "interval", false, 1000, MAX_GATE_MS, &st->interval_ms, r);
                if (st->deadline_ms && st->interval_ms > st->deadline_ms)
                        conf_report_add(r, config_setting_get_member(g, "interval"), NULL,
                                        "must not be longer than the deadline");
        }
        if (config_setting_get_member(g, "task") && config_setting_get_member(g, "unit")) {
                conf_report_add(r, g, NULL, "a step is a task or a unit action, not both");
                return;
        }
        if (gate || config_setting_get_member(g, "task")) {
                st->kind = PLAN_STEP_TASK;
                if (conf_get_string(g, "task", true, &st->task, r) && !node_id_valid(st->task))
                        conf_report_add(r, config_setting_get_member(g, "task"), NULL,
                                        "\"%s\" is not a task name (1-63 of [A-Za-z0-9._-])", st->task);
                if ((p = config_setting_get_member(g, "params")))
                        s_parse_params(p, st, r);
                if (config_setting_get_member(g, "units"))
                        conf_report_add(r, config_setting_get_member(g, "units"), NULL, "not used by a task step");
        } else if (config_setting_get_member(g, "unit")) {
                s_parse_units(g, st, r);
                if (config_setting_get_member(g, "params"))
                        conf_report_add(r, config_setting_get_member(g, "params"), NULL, "not used by a unit step");
        } else {
                conf_report_add(r, g, NULL, "a step needs task = \"...\" or unit = \"start\"|\"stop\"");
        }
}

void plan_steps_parse(const config_setting_t *phase, plan_stage_t stage, plan_steps_t *ret, conf_report_t *r) {
        const config_setting_t *list = config_setting_get_member(phase, plan_stage_name(stage));
        memset(ret, 0, sizeof *ret);
        if (!list)
                return;
        if (!config_setting_is_list(list)) {
                conf_report_add(r, list, NULL, "must be a list ( { task = \"...\"; ... }, ... )");
                return;
        }
        if (config_setting_length(list) > PLAN_MAX_STEPS) {
                conf_report_add(r, list, NULL, "at most %d steps", PLAN_MAX_STEPS);
                return;
        }
        ret->n = (size_t) config_setting_length(list);
        ret->v = calloc(ret->n ? ret->n : 1, sizeof *ret->v);
        if (!ret->v) {
                ret->n = 0;
                conf_report_add(r, list, NULL, "out of memory");
                return;
        }
        for (size_t i = 0; i < ret->n; i++)
                s_parse_step(config_setting_get_elem(list, (unsigned) i), stage, &ret->v[i], r);
}

const char *plan_step_describe(const plan_step_t *s, char *buf, size_t len) {
        size_t off;
        int w = snprintf(buf, len, "%s", s->kind == PLAN_STEP_TASK ? "task " : s->kind == PLAN_STEP_START ? "start"
                                                                                                            : "stop");
        off = w > 0 ? (size_t) w : 0;
        if (s->kind == PLAN_STEP_TASK && off < len) {
                w = snprintf(buf + off, len - off, "%s", s->task ? s->task : "?");
                off += w > 0 ? (size_t) w : 0;
                for (size_t i = 0; i < s->n_params && off < len; i++) {
                        w = snprintf(buf + off, len - off, " %s=%s", s->params[i].name, s->params[i].value);
                        off += w > 0 ? (size_t) w : 0;
                }
        }
        for (size_t i = 0; s->units && s->units[i] && off < len; i++) {
                w = snprintf(buf + off, len - off, " %s", s->units[i]);
                off += w > 0 ? (size_t) w : 0;
        }
        return buf;
}

void plan_steps_clear(plan_steps_t *s) {
        for (size_t i = 0; s->v && i < s->n; i++) {
                plan_step_t *st = &s->v[i];
                free(st->task);
                for (size_t j = 0; j < st->n_params; j++) {
                        free(st->params[j].name);
                        free(st->params[j].value);
                }
                free(st->params);
                conf_strv_free(st->units);
                free(st->node);
                free(st->group);
        }
        free(s->v);
        memset(s, 0, sizeof *s);
}
