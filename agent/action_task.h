/* The `task` action: runs a named task of the agent's policy
 * (agent/task_policy.h), or its paired undo, with the command's
 * parameters. Part of agent/actions: actions_policy_allows and actions_run
 * call these for HITLESS__COMMAND__ACTION_TASK. */
#pragma once
#include <stdbool.h>

#include "agent/actions.h"

/* Whether the task (or its undo) may run with these parameters; otherwise
 * r is REFUSED: "policy" (no such task), "no-undo" (an undo of a task that
 * changes the node but declares none), "bad-param" (a parameter unknown,
 * given twice, missing or invalid). Nothing runs either way. */
bool action_task_allowed(const agent_config_t *cfg, const Hitless__TaskAction *a, action_result_t *r);

/* Whether running it changes the node (the task's `changes`; an undo
 * changes it when its task does). */
bool action_task_changes(const agent_config_t *cfg, const Hitless__TaskAction *a);

/* Runs it (allowed already): SUCCEEDED when the program exits 0, FAILED
 * "task-failed" (exit status or signal, or it could not start) or
 * "timeout", with the output's tail. An undo of a task that declares none
 * and changes nothing succeeds: there is nothing to undo. The program
 * gets HITLESS_TASK, HITLESS_COMMAND_ID, HITLESS_UPGRADE_ID, HITLESS_UNDO
 * (1 for an undo) and HITLESS_PARAM_<NAME> in its environment. */
void action_task_run(const action_ctx_t *ctx, const Hitless__Command *cmd, action_result_t *r);
