/* The coordinator's view of every node: identity, what it last reported
 * (Hello and health), and whether it is online.
 *
 * Sized for 10,000 nodes: a heartbeat costs O(1) (hash lookup, a move to
 * the tail of the liveness list, a mark on the dirty list); expiry looks
 * only at the head of the liveness list (the node heard from longest ago);
 * the store is written in one transaction per flush, for changed nodes
 * only, together with the node events queued since the last flush (one
 * fsync for 10,000 nodes re-registering after a restart, not 10,000). A
 * crash loses at most the last second of node events and health, never an
 * admin action (those are written by the keyring before they are
 * acknowledged). Nodes are restored from the store at start, all
 * unreachable until their agent says Hello again. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/codec.h"
#include "common/ids.h"
#include "common/ratelimit.h"
#include "coordinator/store/store.h"

/* Registrations recorded per node: a burst, then one per interval. Every
 * Hello is answered and registers the node; beyond this budget it is only
 * counted, and the count folded into the next node.registered event (a
 * loop of Hellos is one row with a count, not a row per Hello). */
#define FLEET_REGISTRATION_BURST 5
#define FLEET_REGISTRATION_INTERVAL_S 10
/* node.health events per node, the same way: an agent flapping its health
 * on every heartbeat is a few rows with counts, not a row per heartbeat. */
#define FLEET_HEALTH_EVENT_BURST 10
#define FLEET_HEALTH_EVENT_INTERVAL_S 10

typedef struct node node_t;
struct node {
        char id[NODE_ID_MAX + 1];
        Hitless__NodeInfo *info;     /* owned (protobuf-c unpacked); never NULL */
        bool registered;             /* said Hello to this coordinator process */
        bool online;                 /* heard from within node_timeout */
        int64_t last_seen_ms;        /* monotonic */
        uint8_t routing_id[16];      /* ROUTER routing id of its current connection */
        size_t routing_id_len;       /* 0: none */
        int peer_fd;                 /* libzmq's fd of the last connection, -1 none */
        char peer_address[64];
        uint64_t max_message_bytes;  /* the agent's limit from Hello; 0: not stated */
        node_t *live_prev, *live_next;  /* online nodes, least recently heard first */
        node_t *dirty_next;
        bool dirty;
        ratelimit_t hello_limit;     /* node.registered events (FLEET_REGISTRATION_*) */
        char *last_registration;     /* the last node.registered message, NULL none */
        uint64_t quiet_repeats;      /* Hellos not recorded, same message as that one */
        uint64_t quiet_others;       /* Hellos not recorded, another message */
        ratelimit_t health_limit;    /* node.health events (FLEET_HEALTH_EVENT_*) */
        uint64_t quiet_health;       /* health changes not recorded */
};

typedef struct fleet fleet_t;

/* Restores every node from the store. */
int fleet_new(store_t *store, int64_t node_timeout_ms, fleet_t **ret);
void fleet_destroy(fleet_t **f);
void fleet_set_timeout(fleet_t *f, int64_t node_timeout_ms);
/* node_timeout now: silent this long, a node is unreachable. */
int64_t fleet_timeout_ms(const fleet_t *f);

node_t *fleet_find(fleet_t *f, const char *node_id);

/* A Hello from node_id (already authenticated and checked against its key
 * binding). Creates the node if new. Records a node.registered event,
 * within the node's registration budget (see FLEET_REGISTRATION_BURST). */
int fleet_register(fleet_t *f, const char *node_id, const Hitless__Hello *hello,
                   const char *address, int64_t now_ms, node_t **ret);

/* A heartbeat from a registered node. Records an event when the overall
 * health changes (within the node's budget, FLEET_HEALTH_EVENT_BURST), or
 * when the node comes back online. */
int fleet_heartbeat(fleet_t *f, node_t *n, const Hitless__Heartbeat *hb, int64_t now_ms);

/* Marks unreachable every online node not heard from within node_timeout.
 * Returns how many were marked. */
int fleet_expire(fleet_t *f, int64_t now_ms);

/* The node's key was rejected or deleted: it is unreachable and must say
 * Hello again (which ZAP will not let it do). remove also forgets it. */
void fleet_revoke(fleet_t *f, node_t *n, const char *why);
int fleet_remove(fleet_t *f, const char *node_id);

/* Writes every changed node and every queued event to the store in one
 * transaction. */
int fleet_flush(fleet_t *f);

size_t fleet_size(const fleet_t *f);
size_t fleet_online(const fleet_t *f);

/* Every node in node id order (a sorted snapshot: cb may not remove). */
int fleet_foreach_sorted(fleet_t *f, int (*cb)(node_t *n, void *ud), void *ud);

/* "online", "unreachable": what `hitlessctl nodes` shows as state. */
const char *node_state_label(const node_t *n);
