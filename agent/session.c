#include "agent/session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "agent/health.h"
#include "agent/node_probe.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/log.h"
#include "common/ratelimit.h"

typedef enum {
        LINK_CONNECTING,     /* no completed handshake yet */
        LINK_REFUSED,        /* the coordinator's ZAP refused our key */
        LINK_CONNECTED,      /* handshake done, Hello sent, no Welcome yet */
        LINK_REGISTERED,     /* Welcome received */
} link_state_t;

struct session {
        const agent_config_t *cfg;
        void *socket;
        void *monitor;
        link_state_t state;
        int64_t next_due;
        int64_t retry_at;        /* 0, or when to reconnect ourselves (see schedule_retry) */
        int64_t retry_backoff_ms;
        bool ended;              /* a live session ended; libzmq has not said it retries */
        uint64_t coordinator_max_message; /* from Welcome; 0: not stated */
        uint64_t seq;
        node_probe_t *probe;     /* what heartbeats report, measured apart */
        health_state_t last_health;
        bool drained;            /* reported in heartbeats (session_set_drained) */
        char boot_id[64];
        char status[256];
        ratelimit_t log_limit;
        codec_drops_t drops;
        void (*on_command)(const Hitless__CoordinatorMessage *m, void *ud);
        void *on_command_ud;
};

void session_set_command_handler(session_t *s,
                                 void (*cb)(const Hitless__CoordinatorMessage *m, void *ud), void *ud) {
        s->on_command = cb;
        s->on_command_ud = ud;
}

int session_send(session_t *s, const void *buf, size_t len) {
        if (s->state != LINK_REGISTERED)
                return -ENOTCONN;
        return zmq_send(s->socket, buf, len, ZMQ_DONTWAIT) < 0 ? -errno : 0;
}

bool session_send_blocked(session_t *s) {
        int events = 0;
        size_t len = sizeof events;
        if (s->state != LINK_REGISTERED || zmq_getsockopt(s->socket, ZMQ_EVENTS, &events, &len) < 0)
                return false;
        return !(events & ZMQ_POLLOUT);
}

static void set_int(void *s, int opt, int v) {
        zmq_setsockopt(s, opt, &v, sizeof v);
}

static void read_boot_id(char *buf, size_t len) {
        FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
        buf[0] = '\0';
        if (!f)
                return;
        if (fgets(buf, (int) len, f))
                buf[strcspn(buf, "\n")] = '\0';
        fclose(f);
}

static void set_status(session_t *s) {
        static const char *const names[] = {
                [LINK_CONNECTING] = "connecting to",
                [LINK_REFUSED] = "key not (yet) accepted by",
                [LINK_CONNECTED] = "connected to",
                [LINK_REGISTERED] = "registered with",
        };
        snprintf(s->status, sizeof s->status, "%s %s as %s; %s", names[s->state],
                 s->cfg->coordinator_endpoint, s->cfg->node_id, health_state_name(s->last_health));
}

const char *session_status(const session_t *s) {
        return s->status;
}

int session_new(void *ctx, const agent_config_t *cfg, zcert_t *cert, session_t **ret) {
        session_t *s = calloc(1, sizeof *s);
        uint8_t server_key[32];
        char monitor_ep[128];
        int64_t maxmsg = cfg->max_message_bytes;
        int r = -EINVAL;

        if (!s)
                return -ENOMEM;
        s->cfg = cfg;
        s->last_health = HEALTH_STATE_UNKNOWN;
        ratelimit_init(&s->log_limit, 0.2, 3);
        read_boot_id(s->boot_id, sizeof s->boot_id);
        if (!zmq_z85_decode(server_key, cfg->coordinator_public_key))
                goto fail;
        if ((r = node_probe_new(cfg, cfg->heartbeat_interval_ms, &s->probe)) < 0)
                goto fail;
        r = -EINVAL;

        s->socket = zmq_socket(ctx, ZMQ_DEALER);
        if (!s->socket) {
                r = -errno;
                goto fail;
        }
        /* No routing id of our own: libzmq's random one cannot collide with
         * another node's, so no peer can displace our connection. Our node
         * id travels in Hello and is checked against our key. */
        zmq_setsockopt(s->socket, ZMQ_CURVE_SERVERKEY, server_key, 32);
        zmq_setsockopt(s->socket, ZMQ_CURVE_PUBLICKEY, zcert_public_key(cert), 32);
        zmq_setsockopt(s->socket, ZMQ_CURVE_SECRETKEY, zcert_secret_key(cert), 32);
        zmq_setsockopt(s->socket, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
        /* Queue nothing for a connection that is not up: a stale heartbeat
         * delivered after a reconnect would only mislead. */
        set_int(s->socket, ZMQ_IMMEDIATE, 1);
        set_int(s->socket, ZMQ_LINGER, 0);
        set_int(s->socket, ZMQ_SNDHWM, 10);
        set_int(s->socket, ZMQ_HEARTBEAT_IVL, (int) cfg->heartbeat_interval_ms);
        set_int(s->socket, ZMQ_HEARTBEAT_TIMEOUT, (int) (3 * cfg->heartbeat_interval_ms));
        /* Backoff from a random 100-500 ms base up to one heartbeat
         * interval: an accepted key or a restarted coordinator is picked up
         * within about a heartbeat, and a fleet's retries stay spread. */
        set_int(s->socket, ZMQ_RECONNECT_IVL, 100 + (int) (random() % 400));
        set_int(s->socket, ZMQ_RECONNECT_IVL_MAX,
                cfg->heartbeat_interval_ms > 1000 ? (int) cfg->heartbeat_interval_ms : 1000);

        /* A counter, not the address: after a reload the new session may
         * reuse the old one's memory before libzmq released its endpoint. */
        static unsigned generation;
        snprintf(monitor_ep, sizeof monitor_ep, "inproc://agent-monitor-%u", generation++);
        if (zmq_socket_monitor(s->socket, monitor_ep,
                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_CONNECT_RETRIED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) < 0) {
                r = -errno;
                goto fail;
        }
        s->monitor = zmq_socket(ctx, ZMQ_PAIR);
        set_int(s->monitor, ZMQ_LINGER, 0);
        if (!s->monitor || zmq_connect(s->monitor, monitor_ep) < 0 ||
            zmq_connect(s->socket, cfg->coordinator_endpoint) < 0) {
                r = -errno;
                goto fail;
        }
        s->next_due = clock_mono_ms() + cfg->heartbeat_interval_ms;
        set_status(s);
        *ret = s;
        return 0;
fail:
        session_destroy(&s);
        return r;
}

void session_destroy(session_t **sp) {
        session_t *s = *sp;
        if (!s)
                return;
        if (s->socket) {
                zmq_socket_monitor(s->socket, NULL, 0);
                zmq_close(s->socket);
        }
        if (s->monitor)
                zmq_close(s->monitor);
        node_probe_destroy(&s->probe);
        free(s);
        *sp = NULL;
}

void *session_socket(session_t *s) {
        return s->socket;
}

void *session_monitor(session_t *s) {
        return s->monitor;
}

int64_t session_next_due(const session_t *s) {
        return s->retry_at && s->retry_at < s->next_due ? s->retry_at : s->next_due;
}

/* libzmq gives up on an endpoint after a failed handshake (a ZAP refusal
 * included) and after any protocol error on a live session (a message above
 * ZMQ_MAXMSGSIZE, a malformed frame); it reconnects by itself only when the
 * connection was lost. So the agent retries itself after every disconnect
 * unless libzmq says it retries (ZMQ_EVENT_CONNECT_RETRIED): exponential
 * backoff from ~0.5 s up to one heartbeat interval (at least 1 s), each wait
 * jittered by +-50%. */
static void schedule_retry(session_t *s, int64_t now_ms) {
        int64_t max = s->cfg->heartbeat_interval_ms > 1000 ? s->cfg->heartbeat_interval_ms : 1000;
        s->retry_backoff_ms = s->retry_backoff_ms ? s->retry_backoff_ms * 2 : 500;
        if (s->retry_backoff_ms > max)
                s->retry_backoff_ms = max;
        s->retry_at = now_ms + s->retry_backoff_ms / 2 + random() % (s->retry_backoff_ms + 1);
}

/* Said when our retry fires: by then libzmq would have said it retries. */
static void log_session_ended(session_t *s) {
        char theirs[32] = "an unknown limit";
        if (s->coordinator_max_message)
                snprintf(theirs, sizeof theirs, "%llu bytes", (unsigned long long) s->coordinator_max_message);
        log_warning("libzmq ended the session with %s for a protocol error: most likely a message above "
                    "this agent's max_message_bytes (%lld bytes; the coordinator's is %s), or a malformed "
                    "frame; reconnecting", s->cfg->coordinator_endpoint, (long long) s->cfg->max_message_bytes,
                    theirs);
}

static void retry_connect(session_t *s) {
        s->retry_at = 0;
        if (s->ended)
                log_session_ended(s);
        s->ended = false;
        zmq_disconnect(s->socket, s->cfg->coordinator_endpoint);
        if (zmq_connect(s->socket, s->cfg->coordinator_endpoint) < 0)
                log_warning("cannot reconnect to %s: %m", s->cfg->coordinator_endpoint);
}

static void send_message(session_t *s, const Hitless__AgentMessage *m) {
        uint8_t *buf;
        size_t len;
        if (codec_encode(&m->base, &buf, &len) < 0)
                return;
        if (zmq_send(s->socket, buf, len, ZMQ_DONTWAIT) < 0 && errno != EAGAIN)
                log_debug("send failed: %m");
        free(buf);
}

static void send_hello(session_t *s) {
        Hitless__AgentMessage m = HITLESS__AGENT_MESSAGE__INIT;
        Hitless__Hello h = HITLESS__HELLO__INIT;
        char *tasks[TASK_POLICY_MAX_TASKS];
        bool fresh;
        Hitless__HealthReport *now = node_probe_report(s->probe, &fresh);

        for (size_t i = 0; i < s->cfg->n_tasks; i++)
                tasks[i] = s->cfg->tasks[i].name;
        h.n_tasks = s->cfg->n_tasks;
        h.tasks = tasks;
        h.n_units = conf_strv_len(s->cfg->units);
        h.units = s->cfg->units;
        h.node_id = s->cfg->node_id;
        h.hostname = s->cfg->hostname;
        h.n_roles = conf_strv_len(s->cfg->roles);
        h.roles = s->cfg->roles;
        h.agent_version = HITLESS_VERSION;
        h.boot_id = s->boot_id;
        h.heartbeat_interval_ms = (uint64_t) s->cfg->heartbeat_interval_ms;
        h.n_packages = now ? now->n_packages : 0;
        h.packages = now ? now->packages : NULL;
        h.max_message_bytes = (uint64_t) s->cfg->max_message_bytes;
        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.body_case = HITLESS__AGENT_MESSAGE__BODY_HELLO;
        m.hello = &h;
        send_message(s, &m);
        if (now)
                hitless__health_report__free_unpacked(now, NULL);
}

/* The probe's latest round: no I/O here, so a heartbeat is never late
 * (agent/node_probe.h). A round older than the agent's last change says
 * health unknown: what it measured was the node before the change. */
static void send_heartbeat(session_t *s) {
        Hitless__AgentMessage m = HITLESS__AGENT_MESSAGE__INIT;
        Hitless__Heartbeat hb = HITLESS__HEARTBEAT__INIT;
        bool fresh;
        Hitless__HealthReport *rep = node_probe_report(s->probe, &fresh);
        health_state_t state;

        if (!rep)
                return;
        if (!fresh)
                rep->state = HITLESS__HEALTH_STATE__HEALTH_UNKNOWN;
        state = health_state_from_wire(rep->state);
        if (state != s->last_health)
                log_info("health %s -> %s%s", health_state_name(s->last_health), health_state_name(state),
                         fresh ? "" : " (measuring after a change)");
        s->last_health = state;
        rep->drained = s->drained;
        hb.seq = ++s->seq;
        hb.health = rep;
        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.body_case = HITLESS__AGENT_MESSAGE__BODY_HEARTBEAT;
        m.heartbeat = &hb;
        send_message(s, &m);
        hitless__health_report__free_unpacked(rep, NULL);
}

health_state_t session_health(const session_t *s) {
        return s->last_health;
}

bool session_registered(const session_t *s) {
        return s->state == LINK_REGISTERED;
}

void session_node_changed(session_t *s) {
        node_probe_invalidate(s->probe);
}

void session_set_drained(session_t *s, bool drained) {
        if (drained == s->drained)
                return;
        s->drained = drained;
        if (s->state == LINK_REGISTERED)
                s->next_due = 0;   /* the coordinator's quorum view hears of it now */
}

void session_tick(session_t *s, int64_t now_ms) {
        if (s->retry_at && now_ms >= s->retry_at)
                retry_connect(s);
        if (now_ms < s->next_due)
                return;
        if (s->state == LINK_REGISTERED)
                send_heartbeat(s);
        else if (s->state == LINK_CONNECTED)
                send_hello(s);
        s->next_due = now_ms + s->cfg->heartbeat_interval_ms;
        set_status(s);
}

void session_handle_monitor(session_t *s, int64_t now_ms) {
        for (;;) {
                zmq_msg_t ev, addr;
                uint16_t event;
                uint32_t value;

                zmq_msg_init(&ev);
                if (zmq_msg_recv(&ev, s->monitor, ZMQ_DONTWAIT) < 0) {
                        zmq_msg_close(&ev);
                        return;
                }
                zmq_msg_init(&addr);
                zmq_msg_recv(&addr, s->monitor, 0);
                if (zmq_msg_size(&ev) < 6) {
                        zmq_msg_close(&ev);
                        zmq_msg_close(&addr);
                        continue;
                }
                memcpy(&event, zmq_msg_data(&ev), 2);
                memcpy(&value, (uint8_t *) zmq_msg_data(&ev) + 2, 4);
                zmq_msg_close(&ev);
                zmq_msg_close(&addr);

                switch (event) {
                case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
                        log_info("connected to %s; saying Hello as %s", s->cfg->coordinator_endpoint,
                                 s->cfg->node_id);
                        s->state = LINK_CONNECTED;
                        s->retry_backoff_ms = 0;
                        s->retry_at = 0;
                        s->ended = false;
                        send_hello(s);
                        s->next_due = now_ms + s->cfg->heartbeat_interval_ms;
                        break;
                case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
                        if (s->state != LINK_REFUSED || ratelimit_allow(&s->log_limit, now_ms))
                                log_warning("coordinator %s refused our key (ZAP status %u): it is pending "
                                            "or rejected; accept it there with: hitlessctl keys accept %s",
                                            s->cfg->coordinator_endpoint, value, s->cfg->node_id);
                        s->state = LINK_REFUSED;
                        schedule_retry(s, now_ms);
                        break;
                case ZMQ_EVENT_DISCONNECTED:
                        /* A failed handshake has scheduled its retry already. */
                        /* The moment it happens; why follows once it is known
                         * (libzmq retrying or not). */
                        log_info("disconnected from %s", s->cfg->coordinator_endpoint);
                        if (s->state == LINK_CONNECTED || s->state == LINK_REGISTERED) {
                                s->state = LINK_CONNECTING;
                                s->ended = true;
                                schedule_retry(s, now_ms);
                        }
                        break;
                case ZMQ_EVENT_CONNECT_RETRIED:
                        if (s->ended)
                                log_warning("lost the connection to %s (closed by the coordinator or the "
                                            "network); reconnecting", s->cfg->coordinator_endpoint);
                        /* libzmq reconnects by itself: ours would only interrupt it. */
                        if (s->ended || s->state == LINK_CONNECTING)
                                s->retry_at = 0;
                        s->ended = false;
                        break;
                default:
                        if (ratelimit_allow(&s->log_limit, now_ms))
                                log_warning("handshake with %s failed (event 0x%x, %u): is the coordinator's "
                                            "public key right?", s->cfg->coordinator_endpoint, event, value);
                        schedule_retry(s, now_ms);
                        break;
                }
                set_status(s);
        }
}

static void on_refused(session_t *s, const Hitless__Refused *r) {
        switch (r->reason) {
        case HITLESS__REFUSAL_REASON__REFUSED_NOT_REGISTERED:
                /* The coordinator restarted without us noticing. */
                log_info("coordinator does not know this session; saying Hello again");
                s->state = LINK_CONNECTED;
                send_hello(s);
                break;
        case HITLESS__REFUSAL_REASON__REFUSED_KEY_PENDING:
                log_notice("coordinator recorded our key as pending; accept it there with: "
                           "hitlessctl keys accept %s", s->cfg->node_id);
                s->state = LINK_REFUSED;
                break;
        case HITLESS__REFUSAL_REASON__REFUSED_KEY_REVOKED:
                log_error("coordinator revoked our key: %.200s", r->message);
                s->state = LINK_REFUSED;
                break;
        default:
                log_error("coordinator refused us: %.200s", r->message);
                s->state = LINK_CONNECTED;
                break;
        }
}

static void on_welcome(session_t *s, const Hitless__Welcome *w) {
        log_info("registered with coordinator %s (version %.64s)", s->cfg->coordinator_endpoint,
                 w->coordinator_version);
        s->coordinator_max_message = w->max_message_bytes;
        if (w->max_message_bytes && w->max_message_bytes != (uint64_t) s->cfg->max_message_bytes)
                log_warning("max_message_bytes differs: %lld here, %llu on the coordinator; a message above "
                            "the receiver's limit ends the session: set the same value on both",
                            (long long) s->cfg->max_message_bytes,
                            (unsigned long long) w->max_message_bytes);
}

void session_handle_incoming(session_t *s, int64_t now_ms) {
        (void) now_ms;
        for (;;) {
                zmq_msg_t msg;
                Hitless__CoordinatorMessage *m;
                int more = 0, r;
                size_t ml = sizeof more;

                zmq_msg_init(&msg);
                if (zmq_msg_recv(&msg, s->socket, ZMQ_DONTWAIT) < 0) {
                        zmq_msg_close(&msg);
                        return;
                }
                zmq_getsockopt(s->socket, ZMQ_RCVMORE, &more, &ml);
                if (more) {
                        while (more) {
                                zmq_msg_t extra;
                                zmq_msg_init(&extra);
                                zmq_msg_recv(&extra, s->socket, 0);
                                zmq_msg_close(&extra);
                                zmq_getsockopt(s->socket, ZMQ_RCVMORE, &more, &ml);
                        }
                        zmq_msg_close(&msg);
                        s->drops.count[DROP_BAD_FRAMING]++;
                        continue;
                }
                r = codec_decode_coordinator(zmq_msg_data(&msg), zmq_msg_size(&msg),
                                             (size_t) s->cfg->max_message_bytes, &m);
                zmq_msg_close(&msg);
                if (r < 0) {
                        s->drops.count[drop_reason_from_errno(r)]++;
                        if (ratelimit_allow(&s->log_limit, now_ms))
                                log_warning("dropped a message from the coordinator: %s",
                                            drop_reason_name(drop_reason_from_errno(r)));
                        continue;
                }
                switch (m->body_case) {
                case HITLESS__COORDINATOR_MESSAGE__BODY_WELCOME:
                        if (s->state != LINK_REGISTERED)
                                on_welcome(s, m->welcome);
                        s->state = LINK_REGISTERED;
                        /* Report health right away rather than one interval later. */
                        s->next_due = 0;
                        break;
                case HITLESS__COORDINATOR_MESSAGE__BODY_REFUSED:
                        on_refused(s, m->refused);
                        break;
                case HITLESS__COORDINATOR_MESSAGE__BODY_COMMAND:
                case HITLESS__COORDINATOR_MESSAGE__BODY_COMMAND_QUERY:
                case HITLESS__COORDINATOR_MESSAGE__BODY_LOCAL_COMMAND_ACK:
                        if (s->state == LINK_REGISTERED && s->on_command)
                                s->on_command(m, s->on_command_ud);
                        break;
                default:
                        break;
                }
                hitless__coordinator_message__free_unpacked(m, NULL);
                set_status(s);
        }
}
