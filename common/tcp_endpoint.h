/* ZeroMQ tcp:// endpoints as the daemons use them: the coordinator binds
 * its `listen`, the agent connects to its `coordinator.endpoint`. Checked
 * when the config is read, so that --check-config (and a reload) rejects
 * what would only fail at start, or never connect.
 *
 *   connect  tcp://HOST:PORT, HOST an IPv4 address or a DNS name (see
 *            common/endpoint.h), PORT 1..65535.
 *   bind     tcp://HOST:PORT, HOST `*` (every address), an IPv4 address or
 *            a network interface name (libzmq binds no DNS names); PORT
 *            1..65535, or 0 / `*` for a port the system picks (the
 *            coordinator records the bound one in state_dir).
 *
 * IPv6 addresses are refused in both: the sockets do not set ZMQ_IPV6, so
 * libzmq could neither bind nor reach them. */
#pragma once
#include <stddef.h>

#include "common/attrs.h"

typedef enum {
        TCP_ENDPOINT_CONNECT,
        TCP_ENDPOINT_BIND,
} tcp_endpoint_use_t;

/* 0 when s is usable as use says; -EINVAL with the reason in err (one
 * phrase, "port 'notaport' is not a decimal number") otherwise. */
HL_MUST_USE int tcp_endpoint_check(const char *s, tcp_endpoint_use_t use, char *err, size_t err_len);
