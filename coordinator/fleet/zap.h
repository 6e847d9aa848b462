/* The coordinator's own ZAP handler (ZeroMQ RFC 27), answering every CURVE
 * handshake on the agents' socket from the keyring.
 *
 * It runs inside the coordinator's single poll loop rather than in a thread
 * of its own: libzmq accepts every valid CURVE client when no handler is
 * bound, so a handler that could die while the coordinator goes on serving
 * would open the door. Here the handler can only stop with the process.
 * zap_bind() must be called before the agents' socket is bound. */
#pragma once
#include <stdint.h>

#include "coordinator/fleet/keyring.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

typedef struct {
        uint64_t allowed, denied, malformed;
} zap_stats_t;

/* Binds the ZAP socket in ctx. Returns 0 and the socket, or -errno. */
int zap_bind(void *ctx, void **ret_socket);

/* Answers every request waiting on the socket (non-blocking). Returns the
 * number handled, or -errno if the socket failed (fatal: stop serving). */
int zap_handle_pending(void *socket, keyring_t *keyring, zap_stats_t *stats, int64_t now_ms);
