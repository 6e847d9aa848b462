/* The coordinator's read-only HTTP server (libmicrohttpd): GET /metrics
 * (Prometheus), GET /api/status (the JSON of `hitlessctl upgrade status
 * --json`) and GET / (the consolidated view, one embedded page polling
 * /api/status). Off unless coordinator.conf sets http_listen.
 *
 * Where it runs: inside the coordinator's poll loop, not in a thread of
 * its own. The store, the fleet and the upgrade machine are single-threaded
 * (SQLite handles, protobuf trees the agents' messages replace in place), so
 * a page built from another thread would need a lock on every one of them
 * or a full copy each tick. Instead libmicrohttpd runs in its external
 * epoll mode: http_server_fd() is one descriptor the loop polls next to the
 * ZMQ sockets, and http_server_run() does the ready work and returns. The
 * work per call is bounded: at most HTTP_MAX_CONNECTIONS connections, each
 * with a request of at most HTTP_MAX_REQUEST_BYTES and a timeout, sockets
 * are non-blocking, and each page is built at most once per
 * HTTP_PAGE_MAX_AGE_MS and shared (libmicrohttpd reference-counts
 * responses) by every client asking meanwhile: a thousand scrapers cost
 * one build a second, not a thousand.
 *
 * Anything but GET or HEAD is answered 405, an unknown path 404 (paths are
 * matched exactly against the three pages: there are no files to traverse
 * to), a request with a body 413, and libmicrohttpd itself refuses
 * malformed and oversized requests (400, 414, 431, 505, or it closes the
 * connection). Nothing served changes anything. */
#pragma once
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "common/attrs.h"

#define HTTP_MAX_CONNECTIONS 64
#define HTTP_MAX_REQUEST_BYTES (16 * 1024)
#define HTTP_CONNECTION_TIMEOUT_S 10
#define HTTP_PAGE_MAX_AGE_MS 1000

typedef enum {
        HTTP_PAGE_METRICS,      /* GET /metrics */
        HTTP_PAGE_STATUS,       /* GET /api/status */
        HTTP_PAGE__COUNT,
} http_page_t;

/* Builds a page's body into *ret_body (malloc'd; the server frees it) and
 * its length; 0, or a negative errno (answered 500). */
typedef int (*http_build_fn)(void *ud, http_page_t page, char **ret_body, size_t *ret_len);

typedef struct http_server http_server_t;

/* Listens on addr (see http_listen.h). build(ud, ...) makes the dynamic
 * pages, always from inside http_server_run(). -errno when it cannot
 * listen (-EADDRINUSE, ...), -ENOMEM. */
HL_MUST_USE int http_server_new(const struct sockaddr_in *addr, http_build_fn build, void *ud,
                                http_server_t **ret);
void http_server_destroy(http_server_t **s);

/* The descriptor to poll for input (libmicrohttpd's epoll set). */
int http_server_fd(const http_server_t *s);
/* The bound port (the one the system picked for port 0). */
uint16_t http_server_port(const http_server_t *s);
/* Milliseconds until http_server_run() must run even without input (a
 * connection times out); -1 when nothing is due. */
int64_t http_server_wait_ms(const http_server_t *s);

/* Accepts, reads and answers what is ready, without blocking. now_ms
 * (monotonic) ages the cached pages. 0, or -EIO when libmicrohttpd fails. */
HL_MUST_USE int http_server_run(http_server_t *s, int64_t now_ms);
