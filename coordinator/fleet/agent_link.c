#include "coordinator/fleet/agent_link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/ratelimit.h"

/* Bounds on what a Hello may carry; beyond them it is refused as bad input. */
#define MAX_FIELD_LEN 255
#define MAX_ROLES 32
#define MAX_PACKAGES 256
/* A refusal is queued before its connection is closed; closing at once
 * could beat libzmq's I/O thread to the write, and the agent would never
 * learn why. */
#define CLOSE_DELAY_MS 100
#define MAX_DEFERRED_CLOSES 64

typedef struct {
        int fd;
        char peer[64];       /* ip:port the fd had when scheduled */
        int64_t due_ms;
} deferred_close_t;

struct agent_link {
        void *socket;
        char endpoint[256];
        size_t max_message;
        fleet_t *fleet;
        keyring_t *keyring;
        codec_drops_t drops;
        uint64_t received;
        ratelimit_t log_limit;
        deferred_close_t closes[MAX_DEFERRED_CLOSES];
        size_t n_closes;
        agent_link_hooks_t hooks;
};

void agent_link_set_hooks(agent_link_t *l, const agent_link_hooks_t *hooks) {
        l->hooks = *hooks;
}

static void set_int(void *s, int opt, int v) {
        zmq_setsockopt(s, opt, &v, sizeof v);
}

int agent_link_new(void *ctx, const coord_config_t *cfg, zcert_t *cert, fleet_t *fleet,
                   keyring_t *keyring, agent_link_t **ret) {
        agent_link_t *l = calloc(1, sizeof *l);
        size_t len;
        int64_t maxmsg = cfg->max_message_bytes;
        if (!l)
                return -ENOMEM;
        l->fleet = fleet;
        l->keyring = keyring;
        l->max_message = (size_t) cfg->max_message_bytes;
        ratelimit_init(&l->log_limit, 1, 10);
        l->socket = zmq_socket(ctx, ZMQ_ROUTER);
        if (!l->socket) {
                free(l);
                return -errno;
        }
        set_int(l->socket, ZMQ_CURVE_SERVER, 1);
        zmq_setsockopt(l->socket, ZMQ_CURVE_SECRETKEY, zcert_secret_key(cert), 32);
        zmq_setsockopt(l->socket, ZMQ_ZAP_DOMAIN, "hitless", 7);
        zmq_setsockopt(l->socket, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
        /* No ZMTP heartbeats on this side: libzmq keeps one timer per
         * connection for them and re-arms it on every message, with a
         * linear search of all timers; at 10,000 agents that alone kept
         * its I/O thread busy (bench/bench_swarm). The agents' own
         * heartbeats and node_timeout say when an agent is gone; the
         * kernel's TCP keepalive (no timer of ours) closes connections
         * whose peer vanished, so they do not pile up. */
        set_int(l->socket, ZMQ_TCP_KEEPALIVE, 1);
        set_int(l->socket, ZMQ_TCP_KEEPALIVE_IDLE, 60);
        set_int(l->socket, ZMQ_TCP_KEEPALIVE_INTVL, 10);
        set_int(l->socket, ZMQ_TCP_KEEPALIVE_CNT, 3);
        set_int(l->socket, ZMQ_LINGER, 0);
        set_int(l->socket, ZMQ_BACKLOG, 1024);
        set_int(l->socket, ZMQ_SNDHWM, 100);
        if (zmq_bind(l->socket, cfg->listen) < 0) {
                int e = errno;
                zmq_close(l->socket);
                free(l);
                return -e;
        }
        len = sizeof l->endpoint;
        zmq_getsockopt(l->socket, ZMQ_LAST_ENDPOINT, l->endpoint, &len);
        *ret = l;
        return 0;
}

void agent_link_destroy(agent_link_t **lp) {
        agent_link_t *l = *lp;
        if (!l)
                return;
        zmq_close(l->socket);
        free(l);
        *lp = NULL;
}

void *agent_link_socket(agent_link_t *l) {
        return l->socket;
}

const char *agent_link_endpoint(agent_link_t *l) {
        return l->endpoint;
}

const codec_drops_t *agent_link_drops(const agent_link_t *l) {
        return &l->drops;
}

uint64_t agent_link_received(const agent_link_t *l) {
        return l->received;
}

/* Replies go to the routing id of the connection a message came over. */
typedef struct {
        const uint8_t *id;
        size_t len;
} route_t;

/* limit: the receiving agent's max_message_bytes (0: unknown). A bigger
 * message would make the agent's libzmq end the session: -EMSGSIZE. */
static int send_limited(agent_link_t *l, route_t to, const Hitless__CoordinatorMessage *m, uint64_t limit) {
        uint8_t *buf;
        size_t len;
        int r = 0;
        if (to.len == 0 || codec_encode(&m->base, &buf, &len) < 0)
                return -EINVAL;
        if (limit && len > limit)
                r = -EMSGSIZE;
        else if (zmq_send(l->socket, to.id, to.len, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
                zmq_send(l->socket, buf, len, ZMQ_DONTWAIT);
        free(buf);
        return r;
}

static void send_to(agent_link_t *l, route_t to, const Hitless__CoordinatorMessage *m) {
        (void) send_limited(l, to, m, 0);
}

int agent_link_send(agent_link_t *l, node_t *n, const Hitless__CoordinatorMessage *m) {
        if (!n->routing_id_len || !n->online)
                return -ENOTCONN;
        int r = send_limited(l, (route_t) { n->routing_id, n->routing_id_len }, m, n->max_message_bytes);
        if (r == -EMSGSIZE)
                log_node(LOG_ERR, n->id, "not sent: a message above the agent's max_message_bytes (%llu) "
                         "would end its session", (unsigned long long) n->max_message_bytes);
        return r;
}

static void send_refused(agent_link_t *l, route_t to, Hitless__RefusalReason reason,
                         const char *text) {
        Hitless__CoordinatorMessage m = HITLESS__COORDINATOR_MESSAGE__INIT;
        Hitless__Refused ref = HITLESS__REFUSED__INIT;
        ref.reason = reason;
        ref.message = (char *) text;
        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.body_case = HITLESS__COORDINATOR_MESSAGE__BODY_REFUSED;
        m.refused = &ref;
        send_to(l, to, &m);
}

static bool peer_of(int fd, char *buf, size_t len) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        char host[64];

        if (fd < 0 || getpeername(fd, (struct sockaddr *) &ss, &sl) < 0)
                return false;
        if (ss.ss_family == AF_INET) {
                struct sockaddr_in *a = (struct sockaddr_in *) &ss;
                inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
                snprintf(buf, len, "%s:%u", host, ntohs(a->sin_port));
        } else if (ss.ss_family == AF_INET6) {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *) &ss;
                inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
                snprintf(buf, len, "[%s]:%u", host, ntohs(a->sin6_port));
        } else {
                return false;
        }
        return true;
}

/* Ends a connection libzmq owns, CLOSE_DELAY_MS from now: shutdown()
 * without close() makes its I/O thread see the peer gone and clean up.
 * The fd is only ever one a message has just arrived on, or a node's
 * verified one, and its peer ip:port is checked again before the shutdown,
 * so a number reused by another connection meanwhile is left alone. */
static void close_connection_later(agent_link_t *l, int fd, const char *peer, int64_t now_ms) {
        char current[64];
        if (fd < 0 || !peer_of(fd, current, sizeof current) || (peer && strcmp(current, peer) != 0))
                return;
        if (l->n_closes == MAX_DEFERRED_CLOSES) {
                shutdown(fd, SHUT_RDWR);
                return;
        }
        deferred_close_t *c = &l->closes[l->n_closes++];
        c->fd = fd;
        snprintf(c->peer, sizeof c->peer, "%s", current);
        c->due_ms = now_ms + CLOSE_DELAY_MS;
}

int64_t agent_link_next_due(const agent_link_t *l) {
        int64_t due = INT64_MAX;
        for (size_t i = 0; i < l->n_closes; i++)
                if (l->closes[i].due_ms < due)
                        due = l->closes[i].due_ms;
        return due;
}

void agent_link_tick(agent_link_t *l, int64_t now_ms) {
        size_t kept = 0;
        for (size_t i = 0; i < l->n_closes; i++) {
                deferred_close_t *c = &l->closes[i];
                char current[64];
                if (c->due_ms > now_ms) {
                        l->closes[kept++] = *c;
                        continue;
                }
                if (peer_of(c->fd, current, sizeof current) && strcmp(current, c->peer) == 0)
                        shutdown(c->fd, SHUT_RDWR);
        }
        l->n_closes = kept;
}

static void drop(agent_link_t *l, drop_reason_t why, const char *node_id, const char *detail) {
        l->drops.count[why]++;
        if (ratelimit_allow(&l->log_limit, clock_mono_ms())) {
                uint64_t more = ratelimit_take_suppressed(&l->log_limit);
                log_node(LOG_WARNING, node_id, "dropped a message: %s%s%s (%llu similar lines suppressed)",
                         drop_reason_name(why), detail ? ": " : "", detail ? detail : "",
                         (unsigned long long) more);
        }
}

static bool str_ok(const char *s) {
        return s && strlen(s) <= MAX_FIELD_LEN;
}

static bool hello_fields_ok(const Hitless__Hello *h) {
        /* The codec has checked node id, roles and package names. */
        if (!str_ok(h->hostname) || !str_ok(h->agent_version) || !str_ok(h->boot_id) ||
            h->n_roles > MAX_ROLES || h->n_packages > MAX_PACKAGES)
                return false;
        for (size_t i = 0; i < h->n_packages; i++)
                if (!str_ok(h->packages[i]->name) || !str_ok(h->packages[i]->version))
                        return false;
        return true;
}

static bool heartbeat_fields_ok(const Hitless__Heartbeat *hb) {
        const Hitless__HealthReport *h = hb->health;
        if (!h)
                return true;
        if (h->n_checks > 256 || h->n_packages > MAX_PACKAGES || h->n_endpoints > 16)
                return false;
        for (size_t i = 0; i < h->n_endpoints; i++) {
                if (!str_ok(h->endpoints[i]->kind) || h->endpoints[i]->n_endpoints > 32)
                        return false;
                for (size_t k = 0; k < h->endpoints[i]->n_endpoints; k++)
                        if (!str_ok(h->endpoints[i]->endpoints[k]))
                                return false;
        }
        for (size_t i = 0; i < h->n_checks; i++)
                if (!str_ok(h->checks[i]->name) || !str_ok(h->checks[i]->kind) ||
                    strlen(h->checks[i]->detail) > 1024)
                        return false;
        return true;
}

/* Remembers which libzmq connection the node talks over (its fd and the
 * peer's ip:port), so that a revoked node's connection can be closed. A
 * new connection often gets the fd number of the one it replaces, so the
 * address is read again whenever the fd differs or the node says Hello
 * (every connection starts with one). */
/* The codec has checked both halves are there, with valid ids. */
static bool local_command_ok(const Hitless__LocalCommand *lc, const char *node_id) {
        Hitless__CommandState st = lc->status->state;
        return strcmp(lc->command->node_id, node_id) == 0 && strncmp(lc->command->command_id, "local-", 6) == 0 &&
               lc->command->action_case != HITLESS__COMMAND__ACTION__NOT_SET &&
               st >= HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED && st <= HITLESS__COMMAND_STATE__COMMAND_REFUSED;
}

static void note_connection(node_t *n, int fd, bool hello) {
        if (fd < 0 || (fd == n->peer_fd && !hello))
                return;
        n->peer_fd = peer_of(fd, n->peer_address, sizeof n->peer_address) ? fd : -1;
}

void agent_link_drop(agent_link_t *l, node_t *n, const char *why) {
        send_refused(l, (route_t) { n->routing_id, n->routing_id_len },
                     HITLESS__REFUSAL_REASON__REFUSED_KEY_REVOKED, why);
        if (n->peer_fd >= 0) {
                log_node(LOG_NOTICE, n->id, "closing connection from %s: %s", n->peer_address, why);
                close_connection_later(l, n->peer_fd, n->peer_address, clock_mono_ms());
        }
        fleet_revoke(l->fleet, n, why);
}

static void remember_route(node_t *n, route_t from, int fd, bool hello) {
        if (from.len <= sizeof n->routing_id) {
                memcpy(n->routing_id, from.id, from.len);
                n->routing_id_len = from.len;
        }
        note_connection(n, fd, hello);
}

/* Both ends end a session on a message above their own limit: with
 * different limits, one side can send what the other cannot take. Caught
 * here, once per Hello, rather than as a session that keeps dying. */
static void note_message_limit(agent_link_t *l, node_t *n, uint64_t agent_limit) {
        if (agent_limit && agent_limit != l->max_message)
                log_node(LOG_WARNING, n->id, "max_message_bytes differs: the agent's is %llu, ours %zu; "
                         "messages above %llu are not sent to it, and one of its messages above %zu ends its session: "
                         "set the same value on both", (unsigned long long) agent_limit, l->max_message,
                         (unsigned long long) agent_limit, l->max_message);
        n->max_message_bytes = agent_limit;
}

/* One node_timeout for every node keeps expiry O(1) (fleet.c's list is in
 * order of last heard), so an agent that heartbeats too slowly for it is
 * refused at Hello, saying what to change, rather than registered and then
 * flapping between online and unreachable. True when it may register. */
static bool heartbeat_interval_ok(agent_link_t *l, const char *node_id, uint64_t interval_ms,
                                  route_t from) {
        long long timeout_ms = (long long) fleet_timeout_ms(l->fleet);
        char why[300];

        if (interval_ms == 0 || (long long) interval_ms * 2 <= timeout_ms)
                return true;
        if ((long long) interval_ms < timeout_ms) {
                log_node(LOG_WARNING, node_id, "heartbeats every %llu ms and node_timeout is %lld ms: one lost "
                         "heartbeat makes it unreachable; lower its heartbeat_interval or raise node_timeout",
                         (unsigned long long) interval_ms, timeout_ms);
                return true;
        }
        snprintf(why, sizeof why, "heartbeat_interval %llu ms is not shorter than the coordinator's "
                 "node_timeout %lld ms, so the node would be unreachable between heartbeats: set "
                 "heartbeat_interval below %lld ms (a third of it is usual) or raise node_timeout",
                 (unsigned long long) interval_ms, timeout_ms, timeout_ms);
        drop(l, DROP_REFUSED, node_id, why);
        send_refused(l, from, HITLESS__REFUSAL_REASON__REFUSED_HEARTBEAT_INTERVAL, why);
        return false;
}

static void on_hello(agent_link_t *l, const char *node_id, const Hitless__Hello *h, route_t from,
                     const char *address, int fd, int64_t now_ms) {
        Hitless__CoordinatorMessage m = HITLESS__COORDINATOR_MESSAGE__INIT;
        Hitless__Welcome w = HITLESS__WELCOME__INIT;
        node_t *n;

        if (strcmp(h->node_id, node_id) != 0) {
                keyring_impersonation(l->keyring, node_id, h->node_id, address, now_ms);
                l->drops.count[DROP_REFUSED]++;
                send_refused(l, from, HITLESS__REFUSAL_REASON__REFUSED_NODE_ID_MISMATCH,
                             "node id does not match the one bound to your key");
                close_connection_later(l, fd, NULL, now_ms);
                return;
        }
        if (!hello_fields_ok(h)) {
                drop(l, DROP_REFUSED, node_id, "Hello with oversized or invalid fields");
                return;
        }
        if (!heartbeat_interval_ok(l, node_id, h->heartbeat_interval_ms, from))
                return;
        if (fleet_register(l->fleet, node_id, h, address, now_ms, &n) < 0) {
                log_node(LOG_ERR, node_id, "cannot register node");
                return;
        }
        remember_route(n, from, fd, true);
        note_message_limit(l, n, h->max_message_bytes);
        w.node_id = (char *) node_id;
        w.coordinator_version = HITLESS_VERSION;
        w.max_message_bytes = l->max_message;
        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.body_case = HITLESS__COORDINATOR_MESSAGE__BODY_WELCOME;
        m.welcome = &w;
        send_to(l, from, &m);
        if (l->hooks.on_hello)
                l->hooks.on_hello(l->hooks.ud, n);
}

static void on_heartbeat(agent_link_t *l, const char *node_id, const Hitless__Heartbeat *hb,
                         route_t from, int fd, int64_t now_ms) {
        node_t *n = fleet_find(l->fleet, node_id);
        if (!n || !n->registered) {
                l->drops.count[DROP_REFUSED]++;
                send_refused(l, from, HITLESS__REFUSAL_REASON__REFUSED_NOT_REGISTERED, "say Hello first");
                return;
        }
        if (!heartbeat_fields_ok(hb)) {
                drop(l, DROP_REFUSED, node_id, "heartbeat with oversized fields");
                return;
        }
        remember_route(n, from, fd, false);
        fleet_heartbeat(l->fleet, n, hb, now_ms);
}

/* A new key's one provisional connection: its Hello names the node it
 * claims to be; record that, tell it to wait, and close the connection. */
static void on_provisional(agent_link_t *l, const char *key, zmq_msg_t *payload, route_t from,
                           int fd, int64_t now_ms) {
        Hitless__AgentMessage *m;
        int r = codec_decode_agent(zmq_msg_data(payload), zmq_msg_size(payload), l->max_message, &m);
        if (r < 0) {
                drop(l, drop_reason_from_errno(r), NULL, "from a pending key");
        } else {
                /* The codec has checked the node id it claims. */
                if (m->body_case == HITLESS__AGENT_MESSAGE__BODY_HELLO)
                        keyring_claim(l->keyring, key, m->hello->node_id, now_ms);
                else
                        drop(l, DROP_REFUSED, NULL, "a pending key must say Hello");
                hitless__agent_message__free_unpacked(m, NULL);
        }
        send_refused(l, from, HITLESS__REFUSAL_REASON__REFUSED_KEY_PENDING,
                     "key recorded as pending; waiting for an admin to accept it");
        close_connection_later(l, fd, NULL, now_ms);
}

static void handle_message(agent_link_t *l, zmq_msg_t *rid, zmq_msg_t *payload, int64_t now_ms) {
        route_t from = { zmq_msg_data(rid), zmq_msg_size(rid) };
        const char *user_id = zmq_msg_gets(payload, "User-Id");
        const char *address = zmq_msg_gets(payload, "Peer-Address");
        int fd = zmq_msg_get(payload, ZMQ_SRCFD);
        Hitless__AgentMessage *m;
        const char *node_id;
        key_state_t state;
        int r;

        if (!user_id || keyring_state(l->keyring, user_id, &state) < 0 || state == KEY_REJECTED) {
                /* Let in at the handshake, rejected or deleted since. */
                l->drops.count[DROP_REFUSED]++;
                send_refused(l, from, HITLESS__REFUSAL_REASON__REFUSED_KEY_REVOKED, "your key is not accepted");
                close_connection_later(l, fd, NULL, now_ms);
                return;
        }
        if (state == KEY_PENDING) {
                on_provisional(l, user_id, payload, from, fd, now_ms);
                return;
        }
        node_id = keyring_accepted_node(l->keyring, user_id);

        r = codec_decode_agent(zmq_msg_data(payload), zmq_msg_size(payload), l->max_message, &m);
        if (r < 0) {
                drop(l, drop_reason_from_errno(r), node_id, NULL);
                if (r == -EPROTO)
                        send_refused(l, from, HITLESS__REFUSAL_REASON__REFUSED_BAD_VERSION,
                                     "unsupported protocol version");
                return;
        }
        l->received++;
        switch (m->body_case) {
        case HITLESS__AGENT_MESSAGE__BODY_HELLO:
                on_hello(l, node_id, m->hello, from, address ? address : "", fd, now_ms);
                break;
        case HITLESS__AGENT_MESSAGE__BODY_HEARTBEAT:
                on_heartbeat(l, node_id, m->heartbeat, from, fd, now_ms);
                break;
        case HITLESS__AGENT_MESSAGE__BODY_COMMAND_STATUS:
        case HITLESS__AGENT_MESSAGE__BODY_LOCAL_COMMAND: {
                node_t *n = fleet_find(l->fleet, node_id);
                if (!n || !n->registered) {
                        l->drops.count[DROP_REFUSED]++;
                        send_refused(l, from, HITLESS__REFUSAL_REASON__REFUSED_NOT_REGISTERED, "say Hello first");
                } else if (m->body_case == HITLESS__AGENT_MESSAGE__BODY_COMMAND_STATUS) {
                        if (l->hooks.on_status)
                                l->hooks.on_status(l->hooks.ud, node_id, m->command_status);
                } else if (!local_command_ok(m->local_command, node_id)) {
                        drop(l, DROP_REFUSED, node_id, "local command report about another node or unfinished");
                } else if (l->hooks.on_local) {
                        l->hooks.on_local(l->hooks.ud, node_id, m->local_command);
                }
                break;
        }
        default:
                drop(l, DROP_NO_BODY, node_id, NULL);
                break;
        }
        hitless__agent_message__free_unpacked(m, NULL);
}

int agent_link_handle_pending(agent_link_t *l, int64_t now_ms) {
        int handled = 0;
        while (handled < 1000) {
                zmq_msg_t rid, payload;
                int more = 0;
                size_t more_len = sizeof more;

                zmq_msg_init(&rid);
                if (zmq_msg_recv(&rid, l->socket, ZMQ_DONTWAIT) < 0) {
                        int e = errno;
                        zmq_msg_close(&rid);
                        return e == EAGAIN ? handled : -e;
                }
                handled++;
                zmq_getsockopt(l->socket, ZMQ_RCVMORE, &more, &more_len);
                if (!more) {
                        zmq_msg_close(&rid);
                        drop(l, DROP_BAD_FRAMING, NULL, "no payload");
                        continue;
                }
                zmq_msg_init(&payload);
                if (zmq_msg_recv(&payload, l->socket, 0) < 0) {
                        zmq_msg_close(&rid);
                        zmq_msg_close(&payload);
                        continue;
                }
                zmq_getsockopt(l->socket, ZMQ_RCVMORE, &more, &more_len);
                if (more) {
                        /* Extra frames: discard the whole message. */
                        while (more) {
                                zmq_msg_t extra;
                                zmq_msg_init(&extra);
                                zmq_msg_recv(&extra, l->socket, 0);
                                zmq_msg_close(&extra);
                                zmq_getsockopt(l->socket, ZMQ_RCVMORE, &more, &more_len);
                        }
                        drop(l, DROP_BAD_FRAMING, NULL, "too many frames");
                } else {
                        handle_message(l, &rid, &payload, now_ms);
                }
                zmq_msg_close(&rid);
                zmq_msg_close(&payload);
        }
        return handled;
}
