/* Whether the agent considers a command at all, before its policy does:
 * the command is for this node, and its deadline is set, not passed, and
 * not further ahead than the agent's max_command_deadline. A deadline
 * bounds how long a command may be held back and delivered later, when
 * the node has moved on; a command without one could be replayed forever.
 *
 * Pure: no I/O, no clock of its own (now_s is unix seconds). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "agent/actions.h"
#include "agent/agent_config.h"
#include "proto/hitless.pb-c.h"

/* True if admitted; otherwise false with r set to REFUSED and error_code
 * "wrong-node", "no-deadline", "expired", "deadline-too-far" or
 * "bad-request" (an upgrade id of 64 bytes or more, which the journal
 * cannot keep). */
bool admission_allows(const agent_config_t *cfg, const Hitless__Command *cmd, int64_t now_s,
                      action_result_t *r);
