/* Commands from an admin to one agent (drain, install, repoint, restart,
 * check, rollback): given an id and a deadline, committed to the store
 * before they are sent, tracked by the statuses the agent reports, and
 * answered to the waiting hitlessctl when final (or when its wait ends).
 *
 * After a coordinator restart nothing is resent blindly: when a node says
 * Hello, the coordinator asks it (CommandQuery) for the results of the
 * commands the store still shows unfinished; the agent answers from its
 * journal. */
#pragma once
#include <stdint.h>

#include "coordinator/fleet/fleet.h"
#include "coordinator/store/store.h"

typedef struct commands commands_t;

/* How messages reach an agent: agent_link_send() in the coordinator, a
 * recorder in the unit tests. send returns 0 or -errno (-ENOTCONN). */
typedef struct {
        int (*send)(void *ud, node_t *n, const Hitless__CoordinatorMessage *m);
        void *ud;
} commands_sender_t;

/* Delivers the answer to a waiting admin request; owns and frees token. */
typedef void (*commands_reply_fn)(void *token, const Hitless__AdminResponse *resp);

int commands_new(store_t *store, fleet_t *fleet, const commands_sender_t *sender, commands_t **ret);
void commands_destroy(commands_t **c);

/* Validates and sends req->command (id and deadline filled here) on
 * behalf of actor. reply(token, ...) is called exactly once: now (error,
 * or no_wait), or when the command ends or the wait times out. */
void commands_submit(commands_t *c, const Hitless__CommandRequest *req, const char *actor,
                     commands_reply_fn reply, void *token, int64_t now_ms);

/* Commands of another module (the upgrade executor), which chooses their
 * ids and deadlines. commands_record writes cmd (and its command.sent
 * event) inside the caller's open store transaction; once that is
 * committed, commands_deliver sends it: -ENOTCONN when its node is not
 * online (the executor learns of that from the fleet). record: -EINVAL for
 * a bad id or no action, -ENOMEM, or the store's error. */
int commands_record(commands_t *c, const Hitless__Command *cmd, const char *actor);
int commands_deliver(commands_t *c, const Hitless__Command *cmd);

/* Who hears about results: fn is called with every final status once it is
 * recorded, and with an UNSPECIFIED status when an agent answers a
 * CommandQuery with no record of a command still recorded as only sent
 * (it never arrived: the owner may deliver it again, under the same id). */
typedef void (*commands_observer_fn)(void *ud, const char *node_id, const Hitless__CommandStatus *st);
/* Up to COMMANDS_MAX_OBSERVERS (the upgrade executor, the jobs), one per
 * ud: fn replaces ud's observer, NULL removes it. -ENOSPC when full. */
#define COMMANDS_MAX_OBSERVERS 4
HL_MUST_USE int commands_set_observer(commands_t *c, commands_observer_fn fn, void *ud);

/* A status from node_id's agent (agent_link calls this). */
void commands_on_status(commands_t *c, const char *node_id, const Hitless__CommandStatus *st);

/* A command the node's root ran without the coordinator (hitless-agent
 * rollback), reported by its agent (agent_link checked it is about that
 * node): recorded once, as a finished command of actor "local:NODE" with
 * a command.local event (so history and events show it), then passed to
 * the local observer, then acknowledged (LocalCommandAck). Not recorded,
 * or the observer failing: not acknowledged, so the agent reports it again
 * at its next heartbeat, and it is recorded still once. */
void commands_on_local(commands_t *c, const char *node_id, const Hitless__LocalCommand *lc);

/* Who follows local commands (the upgrade executor): fn returns 0 when
 * done with lc (also when lc does not concern it), negative to have it
 * reported again. It may see the same lc more than once. NULL removes. */
typedef int (*commands_local_fn)(void *ud, const char *node_id, const Hitless__LocalCommand *lc);
void commands_set_local_observer(commands_t *c, commands_local_fn fn, void *ud);

/* node said Hello: ask it about its unfinished commands. */
void commands_on_hello(commands_t *c, node_t *n);

/* The store writes again after failing: if a status could not be
 * recorded meanwhile, every online agent is asked again (CommandQuery) for
 * its unfinished commands, so no result is lost. */
void commands_on_store_recovered(commands_t *c);

/* Ends waits that timed out. Every 30 s (the first time 30 s after the
 * first call) it also sweeps: a node with a command unfinished and unheard
 * of for 60 s (sent and never answered, or running without a word) is
 * asked again (CommandQuery, as after a Hello), so a message lost on a
 * connection that stayed up does not leave the command, and the job or
 * upgrade waiting for it, stuck. now_ms: any clock, the same on every
 * call; the quiet time is judged on the store's wall-clock times. */
void commands_tick(commands_t *c, int64_t now_ms);
/* When commands_tick next needs to run (now_ms's clock). */
int64_t commands_next_due(const commands_t *c);
