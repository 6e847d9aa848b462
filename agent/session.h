/* The agent's link to the coordinator: a CURVE DEALER socket whose routing
 * id is the node id, a monitor on it, and the Hello/heartbeat protocol.
 *
 * After every successful handshake (first connect, coordinator restart,
 * network blip) the agent says Hello; until Welcome arrives it repeats
 * Hello each interval instead of heartbeats. libzmq reconnects with an
 * exponential backoff (the interval doubles up to one heartbeat interval)
 * plus a random jitter of up to the base interval per attempt; the base is
 * itself randomised per agent, so a fleet does not reconnect in step after
 * a coordinator restart. Where libzmq gives up (a refused handshake, a
 * protocol error such as a message above max_message_bytes) the session
 * reconnects itself, and logs why the session ended. Hello states the
 * agent's max_message_bytes; a Welcome stating another limit is warned
 * about. */
#pragma once
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/agent_config.h"
#include "agent/health.h"
#include "common/attrs.h"
#include "proto/hitless.pb-c.h"

typedef struct session session_t;

/* Connects to cfg's coordinator with the agent's certificate. cfg must
 * outlive the session. */
HL_MUST_USE int session_new(void *ctx, const agent_config_t *cfg, zcert_t *cert, session_t **ret);
void session_destroy(session_t **s);

void *session_socket(session_t *s);
void *session_monitor(session_t *s);

/* Socket events: reacts to handshakes (Hello) and refusals. */
void session_handle_monitor(session_t *s, int64_t now_ms);
/* Messages from the coordinator. */
void session_handle_incoming(session_t *s, int64_t now_ms);
/* Whether the node is drained (executor_drained): every heartbeat says
 * so, and a change is sent at the next tick rather than the next interval. */
void session_set_drained(session_t *s, bool drained);

/* The agent changed the node (executor_changes moved): heartbeats say
 * health unknown until checks measured since have reported. */
void session_node_changed(session_t *s);

/* Sends Hello or a heartbeat when due. */
void session_tick(session_t *s, int64_t now_ms);
/* When session_tick next needs to run (monotonic ms). */
int64_t session_next_due(const session_t *s);

/* Commands, command queries and local command acks from the coordinator
 * go to cb (the executor); the session itself only speaks Hello and
 * heartbeats. */
void session_set_command_handler(session_t *s,
                                 void (*cb)(const Hitless__CoordinatorMessage *m, void *ud), void *ud);

/* Sends a packed AgentMessage (a command status) if registered; returns 0,
 * or -ENOTCONN when not registered (the coordinator will ask again after
 * the next Hello). */
HL_MUST_USE int session_send(session_t *s, const void *buf, size_t len);

/* True while registered and the socket takes no more messages (its send
 * queue is full): the caller keeps what it would send and polls the
 * socket for ZMQ_POLLOUT. False otherwise, when session_send answers at
 * once. */
bool session_send_blocked(session_t *s);

/* The health the last heartbeat reported (unknown before the first).
 * Checks, package versions and endpoints are measured apart from the
 * heartbeats, on agent/node_probe's thread. */
health_state_t session_health(const session_t *s);

/* Welcomed by the coordinator (and not disconnected since). */
bool session_registered(const session_t *s);

/* A human-readable state for STATUS= ("registered with tcp://...; healthy"). */
const char *session_status(const session_t *s);
