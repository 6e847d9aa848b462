/* The steps of a plan phase that are not the per-node package sequence:
 * named tasks of the agents' policies and unit start/stop (Contrail's ISSU
 * sync services, Pravega's pre/post-upgrade actions and verifications).
 *
 *   before   = ( { task = "issu-run-sync"; node = "ctrl-new1"; }, ... );  # once, before the nodes
 *   pre      = ( { task = "segment-store-ready"; } );                     # on each node, before drain
 *   post     = ( { task = "segment-store-ready"; } );                     # on each node, after verify
 *   after    = ( { unit = "stop"; units = ["issu-run-sync.service"]; group = "ctrl-new"; } );
 *   wait_for = ( { task = "issu-in-sync"; node = "ctrl-new1"; deadline = "10m"; interval = "10s"; } );
 *
 * A step is a task (`task`, with `params = { name = "value"; ... }`, which
 * the agent validates against its own policy) or a unit action (`unit =
 * "start"|"stop"` with `units`). before, after and wait_for steps name
 * where they run: `node` or `group` (one member of an inventory group,
 * chosen when the plan runs), exactly one; pre and post steps run on the
 * phase's node and name neither. A gate (wait_for) is a task that must
 * succeed within `deadline` (required), tried every `interval` (default
 * 10 s) before the next phase starts. Parsed by plan.c into plan_phase_t;
 * plan_preview checks them against the fleet. */
#pragma once
#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"

/* A phase has at most this many steps of each stage. */
#define PLAN_MAX_STEPS 32

typedef enum {
        PLAN_STAGE_BEFORE = 0,
        PLAN_STAGE_PRE,
        PLAN_STAGE_POST,
        PLAN_STAGE_AFTER,
        PLAN_STAGE_WAIT_FOR,
        PLAN_STAGE__COUNT
} plan_stage_t;

/* "before", "pre", "post", "after", "wait_for": the plan's keys. */
const char *plan_stage_name(plan_stage_t s);

typedef enum {
        PLAN_STEP_TASK = 0,
        PLAN_STEP_START,
        PLAN_STEP_STOP,
} plan_step_kind_t;

typedef struct {
        char *name;
        char *value;
} plan_step_param_t;

typedef struct {
        plan_step_kind_t kind;
        unsigned line;               /* in the plan file */
        char *task;                  /* PLAN_STEP_TASK */
        plan_step_param_t *params;   /* PLAN_STEP_TASK, in file order */
        size_t n_params;
        char **units;                /* START, STOP: NULL-terminated */
        char *node;                  /* before/after/wait_for: where, or NULL */
        char *group;                 /* ... or one member of this group */
        int64_t deadline_ms;         /* wait_for */
        int64_t interval_ms;         /* wait_for, default 10 s */
} plan_step_t;

typedef struct {
        plan_step_t *v;
        size_t n;
} plan_steps_t;

/* Parses the setting `stage` of phase (absent: none) into *ret; every
 * problem into r. */
void plan_steps_parse(const config_setting_t *phase, plan_stage_t stage, plan_steps_t *ret, conf_report_t *r);

/* "task issu-run-sync peers=10.0.0.1:8082", "start a.service b.service"
 * into buf (truncated to len). */
const char *plan_step_describe(const plan_step_t *s, char *buf, size_t len);

void plan_steps_clear(plan_steps_t *s);
