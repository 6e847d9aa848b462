/* CHECK_HTTP: GET http://host:port/path answers 2xx (and the body contains
 * `expect`, if set).
 *
 * Deliberately tiny: HTTP/1.0 with "Connection: close" so the reply ends at
 * EOF and needs no chunked decoding, no TLS, no redirects. Health
 * endpoints are local and plain; anything cleverer belongs in an exec
 * check. At most CHECK_HTTP_MAX_REPLY bytes are read: `expect` must appear
 * in that first part of the reply. */
#include "agent/health.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"

#define CHECK_HTTP_MAX_REPLY (64 * 1024)

/* Waits for events on fd until deadline: 0 ready, -ETIMEDOUT, -errno. */
static int s_wait(int fd, short events, int64_t deadline_ms) {
        for (;;) {
                int64_t left = deadline_ms - clock_mono_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                struct pollfd pfd = { .fd = fd, .events = events };
                int n = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int) left);
                if (n > 0)
                        return 0;
                if (n < 0 && errno != EINTR)
                        return -errno;
        }
}

static int s_send_all(int fd, const char *p, size_t len, int64_t deadline_ms) {
        while (len > 0) {
                ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
                if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                        int r = s_wait(fd, POLLOUT, deadline_ms);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (n < 0)
                        return -errno;
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Reads until EOF or buf is full; returns the length, or -errno. */
static ssize_t s_recv_bounded(int fd, char *buf, size_t size, int64_t deadline_ms) {
        size_t len = 0;
        while (len < size) {
                ssize_t n = recv(fd, buf + len, size - len, 0);
                if (n == 0)
                        break;
                if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                        int r = s_wait(fd, POLLIN, deadline_ms);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (n < 0)
                        return -errno;
                len += (size_t) n;
        }
        return (ssize_t) len;
}

/* "HTTP/1.x NNN ..." -> NNN, or -EPROTO. */
/* The start of the body as one printable line (what an operator wants to
 * see: "xmpp: Established", a version), control bytes turned into spaces,
 * runs of spaces collapsed. */
static void s_excerpt(const char *body, size_t n, char *dst, size_t len) {
        size_t o = 0;
        for (size_t i = 0; body && i < n && o + 1 < len; i++) {
                char ch = (unsigned char) body[i] < 0x20 || (unsigned char) body[i] >= 0x7f ? ' ' : body[i];
                if (ch == ' ' && (o == 0 || dst[o - 1] == ' '))
                        continue;
                dst[o++] = ch;
        }
        while (o > 0 && dst[o - 1] == ' ')
                o--;
        dst[o] = '\0';
}

static int s_parse_status(const char *buf, size_t len) {
        if (len < 12 || memcmp(buf, "HTTP/", 5) != 0)
                return -EPROTO;
        const char *sp = memchr(buf, ' ', len < 16 ? len : 16);
        if (!sp || (size_t) (sp - buf) + 4 > len)
                return -EPROTO;
        int status = 0;
        for (int i = 1; i <= 3; i++) {
                if (sp[i] < '0' || sp[i] > '9')
                        return -EPROTO;
                status = status * 10 + (sp[i] - '0');
        }
        if ((size_t) (sp - buf) + 4 < len && sp[4] != ' ' && sp[4] != '\r' && sp[4] != '\n')
                return -EPROTO;
        return status;
}

/* The body, after the blank line ending the headers (empty if none). */
static const char *s_body(const char *buf, size_t len, size_t *ret_len) {
        const char *end = memmem(buf, len, "\r\n\r\n", 4);
        size_t skip = 4;
        if (!end) {
                end = memmem(buf, len, "\n\n", 2);
                skip = 2;
        }
        if (!end) {
                *ret_len = 0;
                return buf + len;
        }
        *ret_len = len - (size_t) (end + skip - buf);
        return end + skip;
}

static int s_fail(check_outcome_t *out, int r, const char *url, const char *why) {
        out->ok = false;
        snprintf(out->detail, sizeof out->detail, "GET %s: %s", url, why);
        return r;
}

int check_http_run(const check_config_t *c, check_outcome_t *out) {
        out->ok = false;
        const char *path = c->path && c->path[0] ? c->path : "/";
        /* The path goes into the request line: no room for header injection. */
        if (path[0] != '/' || strpbrk(path, " \t\r\n")) {
                snprintf(out->detail, sizeof out->detail, "invalid path");
                return -EINVAL;
        }
        const char *host = c->host ? c->host : "";
        bool v6 = strchr(host, ':') != NULL;   /* literal: needs brackets */
        char authority[300], url[512];
        snprintf(authority, sizeof authority, "%s%s%s:%lld", v6 ? "[" : "", host, v6 ? "]" : "", c->port);
        snprintf(url, sizeof url, "http://%s%s", authority, path);

        int64_t timeout = check_timeout_ms(c);
        int64_t deadline = clock_mono_ms() + timeout;
        char why[200];
        int fd = -1;
        int r = check_tcp_connect(c->host, c->port, deadline, &fd, why, sizeof why);
        if (r < 0) {
                out->ok = false;
                snprintf(out->detail, sizeof out->detail, "%s", why);
                if (r == -ETIMEDOUT)
                        snprintf(out->detail, sizeof out->detail, "GET %s: connect timed out after %lld ms",
                                 url, (long long) timeout);
                return r;
        }

        char request[1024];
        int n = snprintf(request, sizeof request,
                         "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: hitless-agent\r\n"
                         "Accept: */*\r\nConnection: close\r\n\r\n", path, authority);
        if (n < 0 || (size_t) n >= sizeof request) {
                close(fd);
                return s_fail(out, -E2BIG, url, "request too long");
        }

        char *buf = malloc(CHECK_HTTP_MAX_REPLY);
        if (!buf) {
                close(fd);
                return s_fail(out, -ENOMEM, url, "out of memory");
        }
        ssize_t len = 0;
        r = s_send_all(fd, request, (size_t) n, deadline);
        if (r == 0) {
                len = s_recv_bounded(fd, buf, CHECK_HTTP_MAX_REPLY, deadline);
                r = len < 0 ? (int) len : 0;
        }
        close(fd);

        if (r == -ETIMEDOUT) {
                snprintf(why, sizeof why, "timed out after %lld ms", (long long) timeout);
                r = s_fail(out, r, url, why);
        } else if (r < 0) {
                r = s_fail(out, r, url, strerror(-r));
        } else {
                int status = s_parse_status(buf, (size_t) len);
                size_t body_len;
                const char *body = s_body(buf, (size_t) len, &body_len);
                bool truncated = (size_t) len == CHECK_HTTP_MAX_REPLY;
                char excerpt[100];
                s_excerpt(body, body_len, excerpt, sizeof excerpt);
                if (status < 0) {
                        r = s_fail(out, -EPROTO, url, "malformed reply");
                } else if (status < 200 || status > 299) {
                        snprintf(why, sizeof why, "HTTP %d%s%s", status, excerpt[0] ? ": " : "", excerpt);
                        r = s_fail(out, -EIO, url, why);
                } else if (c->expect && c->expect[0] &&
                           !memmem(body, body_len, c->expect, strlen(c->expect))) {
                        snprintf(why, sizeof why, "HTTP %d but body lacks \"%.80s\"%s", status,
                                 c->expect, truncated ? " (in its first 64 KiB)" : "");
                        r = s_fail(out, -EIO, url, why);
                } else {
                        out->ok = true;
                        snprintf(out->detail, sizeof out->detail, "GET %s: HTTP %d%s%s", url, status,
                                 excerpt[0] ? ": " : "", excerpt);
                        r = 0;
                }
        }
        free(buf);
        return r;
}
