/* The coordinator's side of the agent protocol: a CURVE ROUTER socket on
 * which every accepted agent says Hello, then sends heartbeats.
 *
 * Every message is re-checked against the keyring (a key may have been
 * rejected since the handshake): the ZAP User-Id of the connection names
 * the key, the key names the node, and the node id inside Hello must match
 * it. A pending key's one provisional connection may only claim a node id
 * (see keyring.h). Anything else is refused and counted. Agents keep
 * libzmq's random routing ids, so no connection can take over another's.
 * Undecodable, oversized or foreign-version messages are dropped and
 * counted with a rate-limited log line; nothing a peer sends can crash
 * the coordinator. */
#pragma once
#include <czmq.h>
#include <stdint.h>

#include "common/codec.h"
#include "coordinator/coord_config.h"
#include "coordinator/fleet/fleet.h"
#include "coordinator/fleet/keyring.h"

typedef struct agent_link agent_link_t;

/* Creates the ROUTER socket in ctx and binds cfg->listen. The ZAP handler
 * must already be bound. Returns 0 or -errno. */
int agent_link_new(void *ctx, const coord_config_t *cfg, zcert_t *cert, fleet_t *fleet,
                   keyring_t *keyring, agent_link_t **ret);
void agent_link_destroy(agent_link_t **l);

void *agent_link_socket(agent_link_t *l);
/* The endpoint actually bound (resolves a wildcard port). */
const char *agent_link_endpoint(agent_link_t *l);

/* Handles the messages waiting on the socket (bounded per call). */
int agent_link_handle_pending(agent_link_t *l, int64_t now_ms);

/* Tells the node its key is revoked, then (CLOSE_DELAY_MS later, from
 * agent_link_tick) closes its TCP connection. */
void agent_link_drop(agent_link_t *l, node_t *n, const char *why);

/* Sends m to node n over its current connection. -ENOTCONN if n has none;
 * -EMSGSIZE (logged, nothing sent) if m is above the max_message_bytes the
 * agent stated in its Hello: its libzmq would end the session. */
int agent_link_send(agent_link_t *l, node_t *n, const Hitless__CoordinatorMessage *m);

/* Who hears about command statuses, local commands and Hellos (the
 * commands module). on_local gets only well-formed reports: about the
 * sending node, a "local-" id, a final status. */
typedef struct {
        void (*on_status)(void *ud, const char *node_id, const Hitless__CommandStatus *st);
        void (*on_local)(void *ud, const char *node_id, const Hitless__LocalCommand *lc);
        void (*on_hello)(void *ud, node_t *n);
        void *ud;
} agent_link_hooks_t;
void agent_link_set_hooks(agent_link_t *l, const agent_link_hooks_t *hooks);

/* Deferred work (connection closes): when it is next due, and doing it. */
int64_t agent_link_next_due(const agent_link_t *l);
void agent_link_tick(agent_link_t *l, int64_t now_ms);

const codec_drops_t *agent_link_drops(const agent_link_t *l);
uint64_t agent_link_received(const agent_link_t *l);
