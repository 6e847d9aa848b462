#include "coordinator/fleet/zap.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

#include "common/keys.h"
#include "common/log.h"

#define ZAP_MAX_FRAMES 8

static int send_reply(void *socket, const zmq_msg_t *request_id, const char *code,
                      const char *text, const char *user_id) {
        zmq_msg_t id;
        zmq_msg_init(&id);
        zmq_msg_copy(&id, (zmq_msg_t *) request_id);
        if (zmq_send(socket, "1.0", 3, ZMQ_SNDMORE) < 0 ||
            zmq_msg_send(&id, socket, ZMQ_SNDMORE) < 0 ||
            zmq_send(socket, code, strlen(code), ZMQ_SNDMORE) < 0 ||
            zmq_send(socket, text, strlen(text), ZMQ_SNDMORE) < 0 ||
            zmq_send(socket, user_id, strlen(user_id), ZMQ_SNDMORE) < 0 ||
            zmq_send(socket, "", 0, 0) < 0) {
                zmq_msg_close(&id);
                return -errno;
        }
        return 0;
}

/* Copies a frame into a NUL-terminated string if it fits and holds no NUL. */
static void frame_text(zmq_msg_t *m, char *buf, size_t len) {
        size_t n = zmq_msg_size(m);
        if (n >= len || memchr(zmq_msg_data(m), '\0', n)) {
                buf[0] = '\0';
                return;
        }
        memcpy(buf, zmq_msg_data(m), n);
        buf[n] = '\0';
}

static int handle_one(void *socket, keyring_t *k, zap_stats_t *stats, int64_t now_ms) {
        zmq_msg_t f[ZAP_MAX_FRAMES];
        int n = 0, more = 1, r = 0;
        size_t more_len = sizeof more;

        /* version, request id, domain, address, identity, mechanism, credentials */
        while (more) {
                zmq_msg_t m;
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, socket, ZMQ_DONTWAIT) < 0) {
                        int e = errno;
                        zmq_msg_close(&m);
                        for (int i = 0; i < n; i++)
                                zmq_msg_close(&f[i]);
                        return (e == EAGAIN && n == 0) ? 0 : -e;
                }
                zmq_getsockopt(socket, ZMQ_RCVMORE, &more, &more_len);
                if (n < ZAP_MAX_FRAMES)
                        f[n++] = m;
                else
                        zmq_msg_close(&m);
        }

        char version[8], address[64], mechanism[16], key[KEYS_Z85_LEN + 1];
        if (n < 7) {
                stats->malformed++;
                r = n >= 2 ? send_reply(socket, &f[1], "500", "malformed request", "") : 0;
                goto out;
        }
        frame_text(&f[0], version, sizeof version);
        frame_text(&f[3], address, sizeof address);
        frame_text(&f[5], mechanism, sizeof mechanism);
        if (strcmp(version, "1.0") != 0 || strcmp(mechanism, "CURVE") != 0 ||
            zmq_msg_size(&f[6]) != 32) {
                stats->malformed++;
                r = send_reply(socket, &f[1], "400", "CURVE required", "");
                goto out;
        }
        zmq_z85_encode(key, zmq_msg_data(&f[6]), 32);

        /* f[4], "identity", is our own socket's routing id, not the
         * client's: the node id is learnt from the Hello instead. */
        auth_verdict_t v = keyring_authorize(k, key, address, now_ms);
        if (v == AUTH_ALLOW || v == AUTH_PROVISIONAL) {
                stats->allowed++;
                /* The user id becomes the "User-Id" property of every
                 * message on this connection: the key, which the agent
                 * link maps back to its state and bound node id. */
                r = send_reply(socket, &f[1], "200", "OK", key);
        } else {
                stats->denied++;
                log_debug("zap: refused key %s from %s: %s", key, address, auth_verdict_name(v));
                r = send_reply(socket, &f[1], "400", auth_verdict_name(v), "");
        }
out:
        for (int i = 0; i < n; i++)
                zmq_msg_close(&f[i]);
        return r < 0 ? r : 1;
}

int zap_bind(void *ctx, void **ret_socket) {
        void *s = zmq_socket(ctx, ZMQ_REP);
        int linger = 0;
        if (!s)
                return -errno;
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
        if (zmq_bind(s, ZAP_ENDPOINT) < 0) {
                int e = errno;
                zmq_close(s);
                return -e;
        }
        *ret_socket = s;
        return 0;
}

int zap_handle_pending(void *socket, keyring_t *k, zap_stats_t *stats, int64_t now_ms) {
        int handled = 0, r;
        /* Bounded per wake-up so a handshake flood cannot starve the agents'
         * messages and the admin socket. */
        while (handled < 256 && (r = handle_one(socket, k, stats, now_ms)) > 0)
                handled++;
        return r < 0 ? r : handled;
}
