/* hitless-test-svc: a tiny HTTP server packaged by build-test-packages.sh
 * as the "service" the agent upgrades, restarts and checks in
 * tests/integration/70-agent-actions.sh.
 *
 *   hitless-test-svc [--port PORT] [--address ADDR]   (default 127.0.0.1:18085)
 *
 * Every request (any method, any path) gets "200 OK" with a body naming the
 * compiled-in version and a fake XMPP state, e.g.
 *   hitless-test-svc version 2.0 xmpp: Established pid 1234
 * so an http check (expect "xmpp: Established") passes for every version and
 * the body tells which binary is running. One connection at a time; SIGTERM
 * ends it. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SVC_VERSION
#define SVC_VERSION "0.0"
#endif

static void serve(int c) {
        char req[4096], body[256], resp[512];
        size_t got = 0;
        /* Read the request head (up to a blank line) with a short deadline. */
        while (got < sizeof(req) - 1) {
                struct pollfd p = { .fd = c, .events = POLLIN };
                if (poll(&p, 1, 2000) <= 0)
                        break;
                ssize_t n = read(c, req + got, sizeof(req) - 1 - got);
                if (n <= 0)
                        break;
                got += (size_t)n;
                req[got] = '\0';
                if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
                        break;
        }
        int bl = snprintf(body, sizeof(body), "hitless-test-svc version %s xmpp: Established pid %ld\n",
                          SVC_VERSION, (long)getpid());
        int rl = snprintf(resp, sizeof(resp),
                          "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                          "Connection: close\r\n\r\n%s",
                          bl, body);
        size_t off = 0;
        while (off < (size_t)rl) {
                ssize_t n = write(c, resp + off, (size_t)rl - off);
                if (n <= 0)
                        break;
                off += (size_t)n;
        }
}

int main(int argc, char **argv) {
        const char *addr = "127.0.0.1";
        long port = 18085;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
                        port = strtol(argv[++i], NULL, 10);
                else if (strcmp(argv[i], "--address") == 0 && i + 1 < argc)
                        addr = argv[++i];
                else if (strcmp(argv[i], "--version") == 0) {
                        printf("hitless-test-svc %s\n", SVC_VERSION);
                        return 0;
                } else {
                        fprintf(stderr, "usage: hitless-test-svc [--port PORT] [--address ADDR]\n");
                        return 2;
                }
        }
        if (port < 1 || port > 65535) {
                fprintf(stderr, "hitless-test-svc: bad port\n");
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            inet_pton(AF_INET, addr, &sa.sin_addr) != 1 ||
            bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 16) < 0) {
                fprintf(stderr, "hitless-test-svc: cannot listen on %s:%ld: %s\n", addr, port,
                        strerror(errno));
                return 1;
        }
        fprintf(stderr, "hitless-test-svc %s listening on %s:%ld\n", SVC_VERSION, addr, port);
        for (;;) {
                int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        fprintf(stderr, "hitless-test-svc: accept: %s\n", strerror(errno));
                        return 1;
                }
                serve(c);
                close(c);
        }
}
