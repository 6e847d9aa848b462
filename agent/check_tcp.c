/* CHECK_TCP: something accepts connections on host:port. Also the connect
 * helper the http check builds on. */
#include "agent/health.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"

/* One address: 0 connected, -ETIMEDOUT at the deadline, or -errno. */
static int s_connect_one(const struct addrinfo *ai, int64_t deadline_ms, int *ret_fd) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        if (fd < 0)
                return -errno;

        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
                *ret_fd = fd;
                return 0;
        }
        if (errno != EINPROGRESS) {
                int r = -errno;
                close(fd);
                return r;
        }

        for (;;) {
                int64_t left = deadline_ms - clock_mono_ms();
                if (left <= 0) {
                        close(fd);
                        return -ETIMEDOUT;
                }
                struct pollfd pfd = { .fd = fd, .events = POLLOUT };
                int n = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int) left);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int r = -errno;
                        close(fd);
                        return r;
                }
                if (n == 0)
                        continue;   /* the deadline test above decides */

                int err = 0;
                socklen_t len = sizeof err;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                        err = errno;
                if (err != 0) {
                        close(fd);
                        return -err;
                }
                *ret_fd = fd;
                return 0;
        }
}

/* "host:port", with brackets around an IPv6 literal. */
static const char *s_endpoint(const char *host, long long port, char *buf, size_t len) {
        bool v6 = strchr(host, ':') != NULL;
        snprintf(buf, len, "%s%s%s:%lld", v6 ? "[" : "", host, v6 ? "]" : "", port);
        return buf;
}

int check_tcp_connect(const char *host, long long port, int64_t deadline_ms, int *ret_fd,
                      char *errbuf, size_t errlen) {
        if (!host || port < 1 || port > 65535) {
                snprintf(errbuf, errlen, "invalid address %s:%lld", host ? host : "(none)", port);
                return -EINVAL;
        }

        char service[8];
        snprintf(service, sizeof service, "%lld", port);
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                  .ai_flags = AI_NUMERICSERV };
        struct addrinfo *list = NULL;
        int g = getaddrinfo(host, service, &hints, &list);
        if (g != 0) {
                snprintf(errbuf, errlen, "cannot resolve %s: %s", host,
                         g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
                return -EHOSTUNREACH;
        }

        /* Like any client: try each address until one answers; the deadline
         * covers them all. */
        int r = -EHOSTUNREACH;
        for (const struct addrinfo *ai = list; ai; ai = ai->ai_next) {
                r = s_connect_one(ai, deadline_ms, ret_fd);
                if (r == 0 || r == -ETIMEDOUT)
                        break;
        }
        freeaddrinfo(list);

        char ep[300];
        if (r == -ETIMEDOUT)
                snprintf(errbuf, errlen, "connect to %s: timed out", s_endpoint(host, port, ep, sizeof ep));
        else if (r < 0)
                snprintf(errbuf, errlen, "connect to %s: %s", s_endpoint(host, port, ep, sizeof ep),
                         strerror(-r));
        return r;
}

int check_tcp_run(const check_config_t *c, check_outcome_t *out) {
        int64_t timeout = check_timeout_ms(c);
        int fd = -1;
        int r = check_tcp_connect(c->host, c->port, clock_mono_ms() + timeout, &fd,
                                  out->detail, sizeof out->detail);
        char ep[300];
        if (r == -ETIMEDOUT)
                snprintf(out->detail, sizeof out->detail, "connect to %s: timed out after %lld ms",
                         s_endpoint(c->host, c->port, ep, sizeof ep), (long long) timeout);
        out->ok = r == 0;
        if (r < 0)
                return r;
        close(fd);
        snprintf(out->detail, sizeof out->detail, "connected to %s", s_endpoint(c->host, c->port, ep, sizeof ep));
        return 0;
}
