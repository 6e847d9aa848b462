/* What an operator can do on a broken node without the coordinator:
 *   hitless-agent [-c FILE] journal [--json] [--limit N]
 *   hitless-agent [-c FILE] rollback [--to SNAPSHOT]
 * Both open the node journal directly (SQLite allows the running daemon
 * alongside). A local rollback is recorded in the journal like any
 * command, so `journal` shows it. Returns the process exit code. */
#pragma once

#include "agent/agent_config.h"
#include "common/attrs.h"

HL_MUST_USE int local_journal(const agent_config_t *cfg, int argc, char **argv);
HL_MUST_USE int local_rollback(const agent_config_t *cfg, int argc, char **argv);
