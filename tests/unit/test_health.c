/* agent/health: the four check kinds against real local servers (a TCP
 * listener, a tiny HTTP server, probe programs, a systemd double on a
 * private D-Bus) and the healthy/degraded/unhealthy verdict. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/health.h"
#include "common/clock.h"
#include "tests/helpers/systemd_double.h"

#define ARGV(...) ((char *[]) { __VA_ARGS__, NULL })

/* ---- helpers -------------------------------------------------------------- */

/* A listening socket on 127.0.0.1 (or ::1) with a kernel-chosen port. */
static int s_listen(int family, int backlog, long long *ret_port) {
        int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        struct sockaddr_storage ss = { 0 };
        socklen_t len;
        if (family == AF_INET6) {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *) &ss;
                a->sin6_family = AF_INET6;
                a->sin6_addr = in6addr_loopback;
                len = sizeof *a;
        } else {
                struct sockaddr_in *a = (struct sockaddr_in *) &ss;
                a->sin_family = AF_INET;
                a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                len = sizeof *a;
        }
        if (bind(fd, (struct sockaddr *) &ss, len) < 0 || listen(fd, backlog) < 0 ||
            getsockname(fd, (struct sockaddr *) &ss, &len) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        *ret_port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *) &ss)->sin6_port
                                             : ((struct sockaddr_in *) &ss)->sin_port);
        return fd;
}

static check_config_t s_check(check_kind_t kind, const char *host, long long port, int64_t timeout_ms) {
        return (check_config_t) {
                .name = (char *) "probe", .kind = kind, .host = (char *) host, .port = port,
                .timeout_ms = timeout_ms, .critical = true,
        };
}

/* ---- tcp ------------------------------------------------------------------ */

START_TEST(test_tcp_ok) {
        long long port;
        int l = s_listen(AF_INET, 16, &port);
        ck_assert_int_ge(l, 0);
        check_config_t c = s_check(CHECK_TCP, "127.0.0.1", port, 2000);
        check_outcome_t out = { 0 };
        ck_assert_int_eq(check_tcp_run(&c, &out), 0);
        ck_assert(out.ok);
        char want[64];
        snprintf(want, sizeof want, "connected to 127.0.0.1:%lld", port);
        ck_assert_str_eq(out.detail, want);
        close(l);
}
END_TEST

START_TEST(test_tcp_refused) {
        long long port;
        int l = s_listen(AF_INET, 16, &port);
        ck_assert_int_ge(l, 0);
        close(l);
        check_config_t c = s_check(CHECK_TCP, "127.0.0.1", port, 2000);
        check_outcome_t out = { .ok = true };
        ck_assert_int_eq(check_tcp_run(&c, &out), -ECONNREFUSED);
        ck_assert(!out.ok);
        ck_assert_ptr_nonnull(strstr(out.detail, "Connection refused"));
}
END_TEST

START_TEST(test_tcp_timeout) {
        /* A listener whose accept queue is full drops further SYNs, so a
         * connect neither succeeds nor fails: it hangs until our timeout.
         * Fill the queue until one connect stays pending. */
        long long port;
        int l = s_listen(AF_INET, 0, &port);
        ck_assert_int_ge(l, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fillers[16], n_fillers = 0;
        bool pending = false;
        while (!pending && n_fillers < 16) {
                int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                ck_assert_int_ge(s, 0);
                fillers[n_fillers++] = s;
                (void) connect(s, (struct sockaddr *) &a, sizeof a);
                struct pollfd pfd = { .fd = s, .events = POLLOUT };
                pending = poll(&pfd, 1, 200) == 0;
        }
        ck_assert_msg(pending, "could not fill the accept queue");

        check_config_t c = s_check(CHECK_TCP, "127.0.0.1", port, 300);
        check_outcome_t out = { 0 };
        int64_t start = clock_mono_ms();
        ck_assert_int_eq(check_tcp_run(&c, &out), -ETIMEDOUT);
        ck_assert_int_ge(clock_mono_ms() - start, 300);
        ck_assert(!out.ok);
        ck_assert_ptr_nonnull(strstr(out.detail, "timed out after 300 ms"));
        for (int i = 0; i < n_fillers; i++)
                close(fillers[i]);
        close(l);
}
END_TEST

START_TEST(test_tcp_names_and_ipv6) {
        /* "localhost" may resolve to ::1 first; the check must fall through
         * to 127.0.0.1 where the listener is. */
        long long port;
        int l = s_listen(AF_INET, 16, &port);
        ck_assert_int_ge(l, 0);
        check_config_t c = s_check(CHECK_TCP, "localhost", port, 2000);
        check_outcome_t out = { 0 };
        ck_assert_int_eq(check_tcp_run(&c, &out), 0);
        ck_assert(out.ok);
        close(l);

        long long port6;
        int l6 = s_listen(AF_INET6, 16, &port6);
        if (l6 < 0)
                return;   /* no IPv6 loopback in this sandbox */
        c = s_check(CHECK_TCP, "::1", port6, 2000);
        ck_assert_int_eq(check_tcp_run(&c, &out), 0);
        ck_assert(out.ok);
        char want[64];
        snprintf(want, sizeof want, "connected to [::1]:%lld", port6);
        ck_assert_str_eq(out.detail, want);
        close(l6);
        c = s_check(CHECK_TCP, "::1", port6, 2000);
        ck_assert_int_eq(check_tcp_run(&c, &out), -ECONNREFUSED);
}
END_TEST

START_TEST(test_tcp_invalid_port) {
        check_config_t c = s_check(CHECK_TCP, "127.0.0.1", 0, 2000);
        check_outcome_t out = { .ok = true };
        ck_assert_int_eq(check_tcp_run(&c, &out), -EINVAL);
        ck_assert(!out.ok);
        c.port = 70000;
        ck_assert_int_eq(check_tcp_run(&c, &out), -EINVAL);
}
END_TEST

/* ---- exec ----------------------------------------------------------------- */

START_TEST(test_exec_ok) {
        check_config_t c = { .name = (char *) "probe", .kind = CHECK_EXEC,
                             .argv = ARGV("sh", "-c", "echo checking; echo '  all good  '") };
        check_outcome_t out = { 0 };
        ck_assert_int_eq(check_exec_run(&c, &out), 0);
        ck_assert(out.ok);
        ck_assert_str_eq(out.detail, "exit 0: all good");
}
END_TEST

START_TEST(test_exec_fail) {
        check_config_t c = { .kind = CHECK_EXEC,
                             .argv = ARGV("sh", "-c", "echo starting; echo 'db down' >&2; exit 3") };
        check_outcome_t out = { .ok = true };
        ck_assert_int_eq(check_exec_run(&c, &out), -EIO);
        ck_assert(!out.ok);
        ck_assert_str_eq(out.detail, "exit 3: db down");

        /* No output: the status alone. */
        c.argv = ARGV("false");
        ck_assert_int_eq(check_exec_run(&c, &out), -EIO);
        ck_assert_str_eq(out.detail, "exit 1");
}
END_TEST

START_TEST(test_exec_timeout) {
        check_config_t c = { .kind = CHECK_EXEC, .argv = ARGV("sleep", "30"), .timeout_ms = 200 };
        check_outcome_t out = { .ok = true };
        int64_t start = clock_mono_ms();
        ck_assert_int_eq(check_exec_run(&c, &out), -ETIMEDOUT);
        ck_assert_int_lt(clock_mono_ms() - start, 15000);
        ck_assert(!out.ok);
        ck_assert_ptr_nonnull(strstr(out.detail, "timed out after"));
}
END_TEST

START_TEST(test_exec_missing) {
        check_config_t c = { .kind = CHECK_EXEC, .argv = ARGV("hitless-no-such-probe") };
        check_outcome_t out = { .ok = true };
        ck_assert_int_eq(check_exec_run(&c, &out), -ENOENT);
        ck_assert(!out.ok);
        ck_assert_str_eq(out.detail, "cannot run hitless-no-such-probe: No such file or directory");
}
END_TEST

/* ---- http ----------------------------------------------------------------- */

static pid_t s_http_pid;
static long long s_http_port;

static void s_write_all(int fd, const char *p, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n <= 0)
                        return;
                p += n;
                len -= (size_t) n;
        }
}

/* One request per connection; the path picks the behaviour. */
static void s_http_serve(int l) {
        static char big[100 * 1024 + 64];
        for (;;) {
                int c = accept(l, NULL, NULL);
                if (c < 0)
                        continue;
                char req[4096];
                size_t len = 0;
                while (len < sizeof req - 1 && !memmem(req, len, "\r\n\r\n", 4)) {
                        ssize_t n = read(c, req + len, sizeof req - 1 - len);
                        if (n <= 0)
                                break;
                        len += (size_t) n;
                }
                req[len] = '\0';
                char path[256] = "";
                sscanf(req, "GET %255s ", path);

                const char *reply = "HTTP/1.0 404 Not Found\r\n\r\nno such page\n";
                char echo[8192];
                if (strcmp(path, "/ok") == 0) {
                        reply = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nxmpp: Established\n";
                } else if (strcmp(path, "/fail") == 0) {
                        /* The body would match: the status alone must fail it. */
                        reply = "HTTP/1.1 500 Internal Server Error\r\n\r\nxmpp: Established\n";
                } else if (strcmp(path, "/garbage") == 0) {
                        reply = "hello there\r\n\r\nxmpp: Established\n";
                } else if (strcmp(path, "/echo") == 0) {
                        snprintf(echo, sizeof echo, "HTTP/1.0 200 OK\r\n\r\n%s", req);
                        reply = echo;
                } else if (strcmp(path, "/big") == 0) {
                        int n = snprintf(big, sizeof big, "HTTP/1.0 200 OK\r\n\r\n");
                        memset(big + n, 'a', 100 * 1024);
                        strcpy(big + n + 100 * 1024, "MARK\n");
                        reply = big;
                } else if (strcmp(path, "/slow") == 0) {
                        continue;   /* never answer; the fd stays open */
                }
                s_write_all(c, reply, strlen(reply));
                close(c);
        }
}

static void s_http_setup(void) {
        int l = s_listen(AF_INET, 16, &s_http_port);
        ck_assert_int_ge(l, 0);
        pid_t parent = getpid();
        s_http_pid = fork();
        ck_assert_int_ge(s_http_pid, 0);
        if (s_http_pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(1);
                /* Not Check's handlers (its SIGTERM handler kills the group). */
                signal(SIGTERM, SIG_DFL);
                signal(SIGALRM, SIG_DFL);
                signal(SIGPIPE, SIG_IGN);   /* the client stops reading /big */
                s_http_serve(l);
        }
        close(l);   /* the child holds it: connects queue until it accepts */
}

static void s_http_teardown(void) {
        if (s_http_pid > 0) {
                kill(s_http_pid, SIGKILL);
                waitpid(s_http_pid, NULL, 0);
                s_http_pid = 0;
        }
}

static int s_http(const char *path, const char *expect, int64_t timeout_ms, check_outcome_t *out) {
        check_config_t c = s_check(CHECK_HTTP, "127.0.0.1", s_http_port, timeout_ms);
        c.path = (char *) path;
        c.expect = (char *) expect;
        *out = (check_outcome_t) { .ok = true };   /* must be overwritten */
        return check_http_run(&c, out);
}

START_TEST(test_http_ok) {
        check_outcome_t out;
        ck_assert_int_eq(s_http("/ok", NULL, 2000, &out), 0);
        ck_assert(out.ok);
        char want[128];
        snprintf(want, sizeof want, "GET http://127.0.0.1:%lld/ok: HTTP 200: xmpp: Established", s_http_port);
        ck_assert_str_eq(out.detail, want);

        ck_assert_int_eq(s_http("/ok", "xmpp: Established", 2000, &out), 0);
        ck_assert(out.ok);
}
END_TEST

START_TEST(test_http_expect_absent) {
        check_outcome_t out;
        ck_assert_int_eq(s_http("/ok", "xmpp: Connecting", 2000, &out), -EIO);
        ck_assert(!out.ok);
        ck_assert_ptr_nonnull(strstr(out.detail, "HTTP 200 but body lacks \"xmpp: Connecting\""));
        /* The status line and headers are not the body. */
        ck_assert_int_eq(s_http("/ok", "Content-Type", 2000, &out), -EIO);
}
END_TEST

START_TEST(test_http_error_status) {
        check_outcome_t out;
        ck_assert_int_eq(s_http("/fail", "xmpp: Established", 2000, &out), -EIO);
        ck_assert(!out.ok);
        ck_assert_ptr_nonnull(strstr(out.detail, "HTTP 500"));
        ck_assert_int_eq(s_http("/missing", NULL, 2000, &out), -EIO);
        ck_assert_ptr_nonnull(strstr(out.detail, "HTTP 404"));
}
END_TEST

START_TEST(test_http_malformed) {
        check_outcome_t out;
        ck_assert_int_eq(s_http("/garbage", NULL, 2000, &out), -EPROTO);
        ck_assert(!out.ok);
        ck_assert_ptr_nonnull(strstr(out.detail, "malformed"));
}
END_TEST

START_TEST(test_http_request_format) {
        check_outcome_t out;
        char host[64];
        snprintf(host, sizeof host, "\r\nHost: 127.0.0.1:%lld\r\n", s_http_port);
        ck_assert_int_eq(s_http("/echo", "GET /echo HTTP/1.0\r\n", 2000, &out), 0);
        ck_assert_int_eq(s_http("/echo", host, 2000, &out), 0);
        ck_assert_int_eq(s_http("/echo", "\r\nConnection: close\r\n", 2000, &out), 0);
        /* Header injection through the path is refused before connecting. */
        ck_assert_int_eq(s_http("/a\r\nX-Evil: 1", NULL, 2000, &out), -EINVAL);
        ck_assert(!out.ok);
        ck_assert_int_eq(s_http("relative", NULL, 2000, &out), -EINVAL);
}
END_TEST

START_TEST(test_http_bounded_read) {
        check_outcome_t out;
        ck_assert_int_eq(s_http("/big", NULL, 5000, &out), 0);
        /* MARK sits past the first 64 KiB, which is all we read. */
        ck_assert_int_eq(s_http("/big", "MARK", 5000, &out), -EIO);
        ck_assert_ptr_nonnull(strstr(out.detail, "first 64 KiB"));
        ck_assert_int_eq(s_http("/big", "aaaa", 5000, &out), 0);
}
END_TEST

START_TEST(test_http_timeout) {
        check_outcome_t out;
        int64_t start = clock_mono_ms();
        ck_assert_int_eq(s_http("/slow", NULL, 300, &out), -ETIMEDOUT);
        ck_assert_int_ge(clock_mono_ms() - start, 300);
        ck_assert(!out.ok);
        ck_assert_ptr_nonnull(strstr(out.detail, "timed out after 300 ms"));
}
END_TEST

START_TEST(test_http_refused) {
        s_http_teardown();
        check_outcome_t out;
        ck_assert_int_eq(s_http("/ok", NULL, 2000, &out), -ECONNREFUSED);
        ck_assert(!out.ok);
}
END_TEST

/* ---- unit (systemd double on a private bus) -------------------------------- */

static char s_dir[64];
static char *s_bus;
static pid_t s_bus_pid, s_double_pid;

static const char *const s_active[] = { "nginx.service", "getty@tty1.service", NULL };
static const char *const s_inactive[] = { "cron.service", NULL };

static void s_bus_setup(void) {
        snprintf(s_dir, sizeof s_dir, "/tmp/hitless-health-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(s_dir));
        int r = systemd_double_bus_start(s_dir, &s_bus_pid, &s_bus);
        ck_assert_msg(r == 0, "dbus-daemon: %s", strerror(-r));
        r = systemd_double_spawn(s_bus, s_active, s_inactive, &s_double_pid);
        ck_assert_msg(r == 0, "systemd double: %s", strerror(-r));
}

static void s_bus_teardown(void) {
        systemd_double_stop(s_double_pid);
        systemd_double_stop(s_bus_pid);
        s_double_pid = s_bus_pid = 0;
        free(s_bus);
        s_bus = NULL;
        char sock[128];
        snprintf(sock, sizeof sock, "%s/bus.sock", s_dir);
        unlink(sock);
        rmdir(s_dir);
}

static int s_unit(const char *unit, const char *bus, check_outcome_t *out) {
        check_config_t c = { .name = (char *) "svc", .kind = CHECK_UNIT, .unit = (char *) unit,
                             .timeout_ms = 5000, .critical = true };
        *out = (check_outcome_t) { .ok = !0 };
        return check_unit_run(&c, bus, out);
}

START_TEST(test_unit_active) {
        check_outcome_t out;
        ck_assert_int_eq(s_unit("nginx.service", s_bus, &out), 0);
        ck_assert(out.ok);
        ck_assert_str_eq(out.detail, "unit nginx.service is active");
        /* '@' and '.' need systemd's object-path escaping both ways. */
        ck_assert_int_eq(s_unit("getty@tty1.service", s_bus, &out), 0);
        ck_assert(out.ok);
}
END_TEST

START_TEST(test_unit_inactive) {
        check_outcome_t out;
        ck_assert_int_eq(s_unit("cron.service", s_bus, &out), -ESRCH);
        ck_assert(!out.ok);
        ck_assert_str_eq(out.detail, "unit cron.service is inactive");
}
END_TEST

START_TEST(test_unit_not_found) {
        check_outcome_t out;
        ck_assert_int_eq(s_unit("x.service", s_bus, &out), -ENOENT);
        ck_assert(!out.ok);
        ck_assert_str_eq(out.detail, "unit x.service not found");
}
END_TEST

START_TEST(test_unit_no_systemd_on_bus) {
        /* The bus is there but nobody owns org.freedesktop.systemd1. */
        systemd_double_stop(s_double_pid);
        s_double_pid = 0;
        check_outcome_t out;
        ck_assert_int_lt(s_unit("nginx.service", s_bus, &out), 0);
        ck_assert(!out.ok);
        ck_assert_ptr_nonnull(strstr(out.detail, "unit nginx.service: "));
}
END_TEST

START_TEST(test_unit_unreachable_bus) {
        char addr[128];
        snprintf(addr, sizeof addr, "unix:path=%s/no-such-bus.sock", s_dir);
        check_outcome_t out;
        ck_assert_int_lt(s_unit("nginx.service", addr, &out), 0);
        ck_assert(!out.ok);
        char want[160];
        snprintf(want, sizeof want, "cannot connect to %s: ", addr);
        ck_assert_ptr_nonnull(strstr(out.detail, want));
}
END_TEST

START_TEST(test_health_run_with_units) {
        check_config_t checks[] = {
                { .name = (char *) "web", .kind = CHECK_UNIT, .unit = (char *) "nginx.service",
                  .timeout_ms = 5000, .critical = true },
                { .name = (char *) "cron", .kind = CHECK_UNIT, .unit = (char *) "cron.service",
                  .timeout_ms = 5000, .critical = false },
        };
        health_report_t rep;
        ck_assert_int_eq(health_run(checks, 2, s_bus, &rep), 0);
        ck_assert_int_eq(rep.state, HEALTH_STATE_DEGRADED);
        ck_assert(rep.checks[0].ok);
        ck_assert(!rep.checks[1].ok);
        ck_assert_str_eq(rep.checks[1].detail, "unit cron.service is inactive");
        health_report_free(&rep);

        checks[1].critical = true;
        ck_assert_int_eq(health_run(checks, 2, s_bus, &rep), 0);
        ck_assert_int_eq(rep.state, HEALTH_STATE_UNHEALTHY);
        health_report_free(&rep);
}
END_TEST

/* ---- verdict -------------------------------------------------------------- */

START_TEST(test_aggregate) {
        check_outcome_t o[3] = {
                { .ok = true, .critical = true },
                { .ok = true, .critical = false },
                { .ok = true, .critical = true },
        };
        ck_assert_int_eq(health_aggregate(NULL, 0), HEALTH_STATE_HEALTHY);
        ck_assert_int_eq(health_aggregate(o, 3), HEALTH_STATE_HEALTHY);
        o[1].ok = false;
        ck_assert_int_eq(health_aggregate(o, 3), HEALTH_STATE_DEGRADED);
        o[2].ok = false;   /* a critical failure after a non-critical one */
        ck_assert_int_eq(health_aggregate(o, 3), HEALTH_STATE_UNHEALTHY);
        o[1].ok = true;
        ck_assert_int_eq(health_aggregate(o, 3), HEALTH_STATE_UNHEALTHY);

        ck_assert_str_eq(health_state_name(HEALTH_STATE_HEALTHY), "healthy");
        ck_assert_str_eq(health_state_name(HEALTH_STATE_DEGRADED), "degraded");
        ck_assert_str_eq(health_state_name(HEALTH_STATE_UNHEALTHY), "unhealthy");
        ck_assert_str_eq(health_state_name(HEALTH_STATE_UNKNOWN), "unknown");
        ck_assert_str_eq(health_state_name((health_state_t) 99), "unknown");
}
END_TEST

START_TEST(test_health_run) {
        long long port;
        int l = s_listen(AF_INET, 16, &port);
        ck_assert_int_ge(l, 0);
        check_config_t checks[] = {
                { .name = (char *) "listener", .kind = CHECK_TCP, .host = (char *) "127.0.0.1",
                  .port = port, .critical = true },
                { .name = (char *) "probe", .kind = CHECK_EXEC, .argv = ARGV("true"), .critical = true },
                { .name = (char *) "optional", .kind = CHECK_EXEC,
                  .argv = ARGV("sh", "-c", "echo cache cold; exit 1"), .critical = false },
        };
        health_report_t rep;
        ck_assert_int_eq(health_run(checks, 3, NULL, &rep), 0);
        ck_assert_uint_eq(rep.n_checks, 3);
        ck_assert_int_eq(rep.state, HEALTH_STATE_DEGRADED);
        ck_assert_str_eq(rep.checks[0].name, "listener");
        ck_assert_int_eq(rep.checks[0].kind, CHECK_TCP);
        ck_assert(rep.checks[0].ok && rep.checks[0].critical);
        ck_assert_str_eq(rep.checks[1].name, "probe");
        ck_assert(rep.checks[1].ok);
        ck_assert_str_eq(rep.checks[2].name, "optional");
        ck_assert(!rep.checks[2].ok && !rep.checks[2].critical);
        ck_assert_str_eq(rep.checks[2].detail, "exit 1: cache cold");
        health_report_free(&rep);
        ck_assert_ptr_null(rep.checks);

        /* The listener goes away: a critical failure. */
        close(l);
        ck_assert_int_eq(health_run(checks, 3, NULL, &rep), 0);
        ck_assert_int_eq(rep.state, HEALTH_STATE_UNHEALTHY);
        ck_assert(!rep.checks[0].ok);
        health_report_free(&rep);

        ck_assert_int_eq(health_run(checks, 2, NULL, &rep), 0);   /* only critical ones, one down */
        ck_assert_int_eq(rep.state, HEALTH_STATE_UNHEALTHY);
        health_report_free(&rep);

        ck_assert_int_eq(health_run(NULL, 0, NULL, &rep), 0);
        ck_assert_int_eq(rep.state, HEALTH_STATE_HEALTHY);
        ck_assert_uint_eq(rep.n_checks, 0);
        health_report_free(&rep);
}
END_TEST

START_TEST(test_health_run_duration) {
        check_config_t checks[] = {
                { .name = (char *) "slow", .kind = CHECK_EXEC, .argv = ARGV("sleep", "0.3"), .critical = true },
        };
        health_report_t rep;
        ck_assert_int_eq(health_run(checks, 1, NULL, &rep), 0);
        ck_assert_int_eq(rep.state, HEALTH_STATE_HEALTHY);
        ck_assert_uint_ge(rep.checks[0].duration_ms, 300);
        ck_assert_uint_lt(rep.checks[0].duration_ms, 15000);
        health_report_free(&rep);
}
END_TEST

static Suite *health_suite(void) {
        Suite *s = suite_create("health");

        TCase *tc = tcase_create("tcp");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_tcp_ok);
        tcase_add_test(tc, test_tcp_refused);
        tcase_add_test(tc, test_tcp_timeout);
        tcase_add_test(tc, test_tcp_names_and_ipv6);
        tcase_add_test(tc, test_tcp_invalid_port);
        suite_add_tcase(s, tc);

        tc = tcase_create("exec");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_exec_ok);
        tcase_add_test(tc, test_exec_fail);
        tcase_add_test(tc, test_exec_timeout);
        tcase_add_test(tc, test_exec_missing);
        suite_add_tcase(s, tc);

        tc = tcase_create("http");
        tcase_set_timeout(tc, 30);
        tcase_add_checked_fixture(tc, s_http_setup, s_http_teardown);
        tcase_add_test(tc, test_http_ok);
        tcase_add_test(tc, test_http_expect_absent);
        tcase_add_test(tc, test_http_error_status);
        tcase_add_test(tc, test_http_malformed);
        tcase_add_test(tc, test_http_request_format);
        tcase_add_test(tc, test_http_bounded_read);
        tcase_add_test(tc, test_http_timeout);
        tcase_add_test(tc, test_http_refused);
        suite_add_tcase(s, tc);

        tc = tcase_create("unit");
        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, s_bus_setup, s_bus_teardown);
        tcase_add_test(tc, test_unit_active);
        tcase_add_test(tc, test_unit_inactive);
        tcase_add_test(tc, test_unit_not_found);
        tcase_add_test(tc, test_unit_no_systemd_on_bus);
        tcase_add_test(tc, test_unit_unreachable_bus);
        tcase_add_test(tc, test_health_run_with_units);
        suite_add_tcase(s, tc);

        tc = tcase_create("verdict");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_aggregate);
        tcase_add_test(tc, test_health_run);
        tcase_add_test(tc, test_health_run_duration);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(health_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
