/* The coordinator's own status (`hitlessctl status`, and the HTTP
 * server's metrics): versions, nodes, keys, drop and handshake counters,
 * store health, read from the live modules; and the node list of
 * `hitlessctl nodes`, which the metrics count. */
#pragma once
#include "common/attrs.h"
#include "coordinator/admin/admin.h"

/* The storage st points into: live as long as st is used. */
typedef struct {
        Hitless__Counter items[DROP__COUNT + 3];
        Hitless__Counter *dropped[DROP__COUNT];
        Hitless__Counter *handshakes[3];
        Hitless__StoreHealth store;
} admin_status_counters_t;

/* Fills st (initialised by the caller) from d; its strings and counters
 * point into d's modules and sc, nothing is allocated. */
void admin_status_build(const admin_deps_t *d, Hitless__CoordinatorStatus *st, admin_status_counters_t *sc);

/* Every node's NodeInfo, in node id order, with state set to "online" or
 * "unreachable" (node_state_label). The infos are the fleet's, borrowed:
 * release before the fleet changes. */
typedef struct {
        Hitless__NodeInfo **v;
        size_t n;
} admin_node_vec_t;

/* 0, or -ENOMEM (nothing to release). */
HL_MUST_USE int admin_nodes_collect(fleet_t *fleet, admin_node_vec_t *ret);
/* Clears the state pointers set by collect and frees the vector. */
void admin_nodes_release(admin_node_vec_t *vec);
