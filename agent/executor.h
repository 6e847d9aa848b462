/* Runs commands from the coordinator, one at a time, in a worker thread,
 * so the session keeps heartbeating while apt works for minutes.
 *
 * The worker owns the node journal. For each command: a known id gets its
 * recorded result back (never a second run); a command for another node or
 * past its deadline is refused; one outside the policy is refused and
 * recorded; otherwise it is recorded ACCEPTED, then RUNNING, run, and its
 * final state recorded before the result is reported. At start, commands
 * the journal shows unfinished (the agent died mid-command) are recorded
 * INTERRUPTED with the node's real state, never run again.
 *
 * The main thread hands over packed Commands and CommandQuerys with
 * executor_submit() and reads packed AgentMessages (CommandStatus bodies)
 * ready to send from executor_socket(). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/agent_config.h"
#include "common/attrs.h"
#include "proto/hitless.pb-c.h"

typedef struct executor executor_t;

/* Opens the journal at cfg->state_dir/journal.db (creating state_dir) and
 * starts the worker. ctx is the ZMQ context for the inproc pipe. */
HL_MUST_USE int executor_new(void *ctx, const agent_config_t *cfg, executor_t **ret);

/* Stops the worker. A worker busy with a command is not waited for (see
 * executor.c): returns true then, and the caller must exit without
 * terminating the ZMQ context (the worker's sockets are still open). */
HL_MUST_USE bool executor_destroy(executor_t **e);

/* The last command that ended (id "" before any since the start): for
 * the node_exporter textfile. Safe from the main thread. */
typedef struct {
        char id[64];
        char action[16];
        char state[16];
        int64_t finished;   /* unix seconds */
} executor_last_t;
void executor_last(executor_t *e, executor_last_t *ret);

/* True while a command runs (cfg must then stay valid: no reload). */
bool executor_busy(executor_t *e);

/* Whether the node is drained by this agent, as its journal said after
 * the last command (or at start): reported in every heartbeat. */
bool executor_drained(executor_t *e);

/* How many commands that change the node (action_changes_node) have
 * run since the start: read before a command's result is forwarded, a
 * moved count tells the session its health measurements are stale. */
uint64_t executor_changes(executor_t *e);

/* A packed CoordinatorMessage body: Command, CommandQuery or LocalCommandAck. */
HL_MUST_USE int executor_submit(executor_t *e, const Hitless__CoordinatorMessage *m);

/* Asks the worker to report the local commands (hitless-agent rollback)
 * the coordinator has not acknowledged yet (agent/local_report.h). Called
 * every heartbeat interval while registered; a request already waiting
 * (the worker runs a command) is not queued twice. LocalCommandAcks from
 * the coordinator go through executor_submit(). */
HL_MUST_USE int executor_report_local(executor_t *e);

/* Readable when statuses are waiting: each message is a packed
 * AgentMessage to send to the coordinator as is. */
void *executor_socket(executor_t *e);
