/* The HTTP server in the poll loop; see http_server.h for why there. */
#include "coordinator/http/http_server.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "coordinator/http/http_web.h"
#include "coordinator/http/metrics.h"

/* libmicrohttpd before 0.9.71 returned int from its callbacks. */
#if MHD_VERSION < 0x00097002
typedef int MHD_RESULT;
#else
typedef enum MHD_Result MHD_RESULT;
#endif

typedef struct {
        struct MHD_Response *resp;   /* shared by every client until it ages out */
        int64_t built_ms;
} cached_page_t;

struct http_server {
        struct MHD_Daemon *d;
        http_build_fn build;
        void *ud;
        int64_t now_ms;
        cached_page_t pages[HTTP_PAGE__COUNT];
        struct MHD_Response *index, *not_found, *not_allowed, *too_large, *failed;
};

static const char *const page_type[HTTP_PAGE__COUNT] = {
        [HTTP_PAGE_METRICS] = METRICS_CONTENT_TYPE,
        [HTTP_PAGE_STATUS] = "application/json",
};

/* Headers every answer carries: nothing is cached by browsers or proxies
 * (the state changes every second), and the page runs only its own
 * inline script, talking only to this server. */
static struct MHD_Response *s_response(const void *body, size_t len, enum MHD_ResponseMemoryMode mode,
                                       const char *type) {
        struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *) body, mode);
        if (!r)
                return NULL;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                "connect-src 'self'; img-src data:");
        return r;
}

static struct MHD_Response *s_text(const char *text) {
        return s_response(text, strlen(text), MHD_RESPMEM_PERSISTENT, "text/plain; charset=utf-8");
}

/* The page, from the cache while it is younger than HTTP_PAGE_MAX_AGE_MS;
 * NULL when it cannot be built. */
static struct MHD_Response *s_page(http_server_t *s, http_page_t page) {
        cached_page_t *c = &s->pages[page];
        char *body = NULL;
        size_t len = 0;
        if (c->resp && s->now_ms - c->built_ms < HTTP_PAGE_MAX_AGE_MS)
                return c->resp;
        int r = s->build(s->ud, page, &body, &len);
        if (r < 0) {
                log_warning("http: cannot build %s: %s", page == HTTP_PAGE_METRICS ? "/metrics" : "/api/status",
                            strerror(-r));
                return NULL;
        }
        struct MHD_Response *resp = s_response(body, len, MHD_RESPMEM_MUST_FREE, page_type[page]);
        if (!resp) {
                free(body);
                return NULL;
        }
        /* Clients still sending the old one hold their own reference. */
        if (c->resp)
                MHD_destroy_response(c->resp);
        c->resp = resp;
        c->built_ms = s->now_ms;
        return resp;
}

/* The request says a body follows (Content-Length: 0 says none). */
static bool s_has_body(struct MHD_Connection *conn) {
        const char *len = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        return (len && strcmp(len, "0") != 0) ||
               MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

static MHD_RESULT s_answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                           const char *version, const char *upload_data, size_t *upload_data_size,
                           void **con_cls) {
        http_server_t *s = cls;
        struct MHD_Response *resp;
        unsigned code = MHD_HTTP_OK;
        (void) version;
        (void) upload_data;
        (void) con_cls;

        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
                resp = s->not_allowed;
                code = MHD_HTTP_METHOD_NOT_ALLOWED;
        } else if (*upload_data_size > 0 || s_has_body(conn)) {
                /* A GET has no body: whatever one says it sends is refused
                 * unread. */
                resp = s->too_large;
                code = 413;   /* Content Too Large: the macro was renamed in 0.9.74 */
        } else if (strcmp(url, "/") == 0) {
                resp = s->index;
        } else if (strcmp(url, "/metrics") == 0 || strcmp(url, "/api/status") == 0) {
                resp = s_page(s, url[1] == 'm' ? HTTP_PAGE_METRICS : HTTP_PAGE_STATUS);
                if (!resp) {
                        resp = s->failed;
                        code = MHD_HTTP_INTERNAL_SERVER_ERROR;
                }
        } else {
                resp = s->not_found;
                code = MHD_HTTP_NOT_FOUND;
        }
        return MHD_queue_response(conn, code, resp);
}

/* libmicrohttpd's own complaints (a malformed request, a full connection
 * table): one debug line each, never an error a client can flood. */
static void s_mhd_log(void *cls, const char *fmt, va_list ap) {
        char line[512];
        (void) cls;
        vsnprintf(line, sizeof line, fmt, ap);
        line[strcspn(line, "\n")] = '\0';
        log_debug("http: %s", line);
}

static void s_free_responses(http_server_t *s) {
        struct MHD_Response **fixed[] = { &s->index, &s->not_found, &s->not_allowed, &s->too_large, &s->failed };
        for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
                if (*fixed[i]) {
                        MHD_destroy_response(*fixed[i]);
                        *fixed[i] = NULL;
                }
        for (int p = 0; p < HTTP_PAGE__COUNT; p++)
                if (s->pages[p].resp) {
                        MHD_destroy_response(s->pages[p].resp);
                        s->pages[p].resp = NULL;
                }
}

int http_server_new(const struct sockaddr_in *addr, http_build_fn build, void *ud, http_server_t **ret) {
        http_server_t *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->build = build;
        s->ud = ud;
        s->now_ms = clock_mono_ms();
        s->index = s_response(http_web_index, http_web_index_len, MHD_RESPMEM_PERSISTENT, "text/html; charset=utf-8");
        s->not_found = s_text("not found\n");
        s->not_allowed = s_text("method not allowed: this server is read only (GET, HEAD)\n");
        s->too_large = s_text("a GET has no body\n");
        s->failed = s_text("cannot build the page; see the coordinator's log\n");
        if (!s->index || !s->not_found || !s->not_allowed || !s->too_large || !s->failed) {
                s_free_responses(s);
                free(s);
                return -ENOMEM;
        }
        MHD_add_response_header(s->not_allowed, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");

        /* No thread: MHD_USE_EPOLL without MHD_USE_INTERNAL_POLLING_THREAD
         * is driven by MHD_run() from the caller's loop. */
        s->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, s_answer, s,
                                MHD_OPTION_SOCK_ADDR, (const struct sockaddr *) addr,
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned) HTTP_MAX_CONNECTIONS,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) HTTP_CONNECTION_TIMEOUT_S,
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) HTTP_MAX_REQUEST_BYTES,
                                MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, NULL,
                                MHD_OPTION_END);
        if (!s->d) {
                int e = errno ? errno : EADDRINUSE;
                s_free_responses(s);
                free(s);
                return -e;
        }
        *ret = s;
        return 0;
}

void http_server_destroy(http_server_t **sp) {
        http_server_t *s = *sp;
        if (!s)
                return;
        MHD_stop_daemon(s->d);
        s_free_responses(s);
        free(s);
        *sp = NULL;
}

int http_server_fd(const http_server_t *s) {
        const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD);
        return i ? i->epoll_fd : -1;
}

uint16_t http_server_port(const http_server_t *s) {
        const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
        return i ? i->port : 0;
}

int64_t http_server_wait_ms(const http_server_t *s) {
        MHD_UNSIGNED_LONG_LONG ms;
        if (MHD_get_timeout(s->d, &ms) != MHD_YES)
                return -1;
        return ms > INT64_MAX ? INT64_MAX : (int64_t) ms;
}

int http_server_run(http_server_t *s, int64_t now_ms) {
        s->now_ms = now_ms;
        return MHD_run(s->d) == MHD_YES ? 0 : -EIO;
}
