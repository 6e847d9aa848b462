/* `hitlessctl status`: see admin_status.h. */
#include "coordinator/admin/admin_status.h"

#include <errno.h>
#include <stdlib.h>

#include "common/codec.h"

static Hitless__Counter *counter(Hitless__Counter *c, const char *name, uint64_t value) {
        hitless__counter__init(c);
        c->name = (char *) name;
        c->value = value;
        return c;
}

void admin_status_build(const admin_deps_t *d, Hitless__CoordinatorStatus *st, admin_status_counters_t *sc) {
        const codec_drops_t *drops = agent_link_drops(d->agents);
        const store_health_t *h = store_health(d->store);
        hitless__store_health__init(&sc->store);
        sc->store.degraded = h->degraded;
        sc->store.since = h->since;
        sc->store.failures = h->failures;
        sc->store.error = (char *) h->error;
        sc->store.low_space = h->low_space;
        sc->store.free_bytes = h->free_bytes;
        sc->store.floor_bytes = h->floor_bytes;
        st->store = &sc->store;
        st->version = HITLESS_VERSION;
        st->agents_endpoint = (char *) agent_link_endpoint(d->agents);
        st->nodes = (uint32_t) fleet_size(d->fleet);
        st->nodes_online = (uint32_t) fleet_online(d->fleet);
        st->keys_accepted = (uint32_t) keyring_count(d->keyring, KEY_ACCEPTED);
        st->keys_pending = (uint32_t) keyring_count(d->keyring, KEY_PENDING);
        st->keys_rejected = (uint32_t) keyring_count(d->keyring, KEY_REJECTED);
        for (int i = 0; i < DROP__COUNT; i++)
                sc->dropped[i] = counter(&sc->items[i], drop_reason_name((drop_reason_t) i), drops->count[i]);
        sc->handshakes[0] = counter(&sc->items[DROP__COUNT], "allowed", d->zap_stats->allowed);
        sc->handshakes[1] = counter(&sc->items[DROP__COUNT + 1], "denied", d->zap_stats->denied);
        sc->handshakes[2] = counter(&sc->items[DROP__COUNT + 2], "malformed", d->zap_stats->malformed);
        st->n_dropped = DROP__COUNT;
        st->dropped = sc->dropped;
        st->n_handshakes = 3;
        st->handshakes = sc->handshakes;
        st->messages_received = agent_link_received(d->agents);
        st->started = d->started;
}

static int collect_node(node_t *n, void *ud) {
        admin_node_vec_t *vec = ud;
        n->info->state = (char *) node_state_label(n);
        vec->v[vec->n++] = n->info;
        return 0;
}

int admin_nodes_collect(fleet_t *fleet, admin_node_vec_t *ret) {
        *ret = (admin_node_vec_t) { 0 };
        ret->v = calloc(fleet_size(fleet) + 1, sizeof *ret->v);
        if (!ret->v)
                return -ENOMEM;
        int r = fleet_foreach_sorted(fleet, collect_node, ret);
        if (r < 0)
                admin_nodes_release(ret);
        return r < 0 ? r : 0;
}

void admin_nodes_release(admin_node_vec_t *vec) {
        for (size_t i = 0; i < vec->n; i++)
                vec->v[i]->state = NULL;
        free(vec->v);
        *vec = (admin_node_vec_t) { 0 };
}
