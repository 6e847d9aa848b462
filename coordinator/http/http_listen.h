/* http_listen = "HOST:PORT" in coordinator.conf: where the HTTP server
 * (http_server.h) listens. Pure: the config check and the server read it
 * the same way.
 *
 * HOST is an IPv4 address; PORT 1..65535, or 0 for a port the system
 * picks (the tests use it; the bound port is recorded in state_dir). A
 * HOST outside 127.0.0.0/8 exposes the fleet's state to the network, so it
 * is refused unless allow_remote (http_allow_remote = true) says the
 * operator means it. */
#pragma once
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/attrs.h"

#define HTTP_LISTEN_DEFAULT "127.0.0.1:9735"

/* 0 with *ret filled (network byte order) when s is usable; -EINVAL with
 * the reason in err (one phrase) otherwise. */
HL_MUST_USE int http_listen_parse(const char *s, bool allow_remote, struct sockaddr_in *ret, char *err,
                                  size_t err_len);

/* True for an address in 127.0.0.0/8. */
bool http_listen_is_loopback(const struct sockaddr_in *a);
