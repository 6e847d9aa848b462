/* A swarm of simulated agents against a real hitless-coordinator: for each
 * N given (default 1000), N CURVE DEALER connections with pre-approved keys,
 * speaking the agent protocol (Hello, Welcome, heartbeats at the real
 * interval), from worker processes of at most WORKER_AGENTS agents each
 * (a DEALER costs two file descriptors, and the hard limit may be low). Prints, per N: the enrolment storm (first Hello to
 * every Welcome), the coordinator's CPU while N agents heartbeat every 5 s,
 * its memory per connected agent, how long `hitlessctl status` takes 2 s
 * into the storm (operators must not be starved), the generator's own CPU (it shares
 * the machine, so a busy generator bounds the figures), and then one
 * `hitlessctl check --all` (a batch job over every agent, each answering
 * at once): its wall time and the coordinator's CPU for it. Asserts
 * nothing about speed; fails when an agent is not welcomed or the check
 * does not succeed everywhere.
 *
 *   bench_swarm [N...]     (run from the source tree; needs build/)
 *   make bench-scale       1000, 5000 and 10000 */
#include <czmq.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/codec.h"
#include "proto/hitless.pb-c.h"

#define HEARTBEAT_MS 5000
#define IDLE_WINDOW_MS 20000   /* SWARM_IDLE_S overrides (a short run in make check) */
#define STORM_TIMEOUT_MS 180000
#define WORKER_AGENTS 2500

typedef struct {
        void *sock;
        bool welcomed;
        int64_t next_beat;
        uint64_t seq;
} agent_t;

static double cpu_seconds_of(pid_t pid) {
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        FILE *f = fopen(path, "r");
        if (!f)
                return -1;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        char *p = strrchr(buf, ')');
        unsigned long ut = 0, st = 0;
        /* after ") ": state(3) ... utime(14) stime(15) */
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
                return -1;
        return (double) (ut + st) / (double) sysconf(_SC_CLK_TCK);
}

static long rss_kib_of(pid_t pid) {
        char path[64], line[256];
        long kib = -1;
        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        FILE *f = fopen(path, "r");
        if (!f)
                return -1;
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

static int send_msg(void *sock, Hitless__AgentMessage *m) {
        uint8_t buf[512];
        size_t len = hitless__agent_message__get_packed_size(m);
        if (len > sizeof buf)
                return -1;
        hitless__agent_message__pack(m, buf);
        return zmq_send(sock, buf, len, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

static void send_hello(agent_t *a, int i) {
        Hitless__AgentMessage m = HITLESS__AGENT_MESSAGE__INIT;
        Hitless__Hello h = HITLESS__HELLO__INIT;
        char id[32];
        snprintf(id, sizeof id, "swarm-%05d", i);
        h.node_id = id;
        h.hostname = id;
        h.agent_version = "swarm";
        h.boot_id = "swarm-boot";
        h.max_message_bytes = HITLESS_MAX_MESSAGE_BYTES;
        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.body_case = HITLESS__AGENT_MESSAGE__BODY_HELLO;
        m.hello = &h;
        (void) send_msg(a->sock, &m);
}

static void send_heartbeat(agent_t *a) {
        Hitless__AgentMessage m = HITLESS__AGENT_MESSAGE__INIT;
        Hitless__Heartbeat hb = HITLESS__HEARTBEAT__INIT;
        Hitless__HealthReport r = HITLESS__HEALTH_REPORT__INIT;
        Hitless__CheckResult c = HITLESS__CHECK_RESULT__INIT, *cs[1] = { &c };
        c.name = "svc";
        c.kind = "unit";
        c.ok = true;
        c.detail = "active";
        r.state = HITLESS__HEALTH_STATE__HEALTH_HEALTHY;
        r.n_checks = 1;
        r.checks = cs;
        hb.seq = ++a->seq;
        hb.health = &r;
        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.body_case = HITLESS__AGENT_MESSAGE__BODY_HEARTBEAT;
        m.heartbeat = &hb;
        (void) send_msg(a->sock, &m);
}

/* A command is answered at once, succeeded and healthy, as an agent
 * answers `check` (the swarm measures the coordinator, not apt). */
static void answer_command(agent_t *a, const Hitless__Command *c) {
        Hitless__AgentMessage m = HITLESS__AGENT_MESSAGE__INIT;
        Hitless__CommandStatus st = HITLESS__COMMAND_STATUS__INIT;
        Hitless__HealthReport r = HITLESS__HEALTH_REPORT__INIT;
        r.state = HITLESS__HEALTH_STATE__HEALTH_HEALTHY;
        st.command_id = c->command_id;
        st.state = HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED;
        st.message = "healthy";
        st.health = &r;
        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.body_case = HITLESS__AGENT_MESSAGE__BODY_COMMAND_STATUS;
        m.command_status = &st;
        (void) send_msg(a->sock, &m);
}

/* Reads everything waiting on a; answers commands; counts a first Welcome. */
static int drain_incoming(agent_t *a) {
        int welcomed = 0;
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        while (zmq_msg_recv(&msg, a->sock, ZMQ_DONTWAIT) >= 0) {
                Hitless__CoordinatorMessage *m =
                        hitless__coordinator_message__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
                if (m && m->body_case == HITLESS__COORDINATOR_MESSAGE__BODY_WELCOME && !a->welcomed) {
                        a->welcomed = true;
                        welcomed = 1;
                }
                if (m && m->body_case == HITLESS__COORDINATOR_MESSAGE__BODY_COMMAND)
                        answer_command(a, m->command);
                if (m)
                        hitless__coordinator_message__free_unpacked(m, NULL);
        }
        zmq_msg_close(&msg);
        return welcomed;
}

static int write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "w");
        if (!f)
                return -1;
        fputs(text, f);
        return fclose(f);
}

/* Pumps every agent once: heartbeats due, answers read; returns the new
 * Welcomes. */
static int pump(agent_t *agents, int n, zmq_pollitem_t *items, long timeout_ms) {
        int welcomed = 0;
        int64_t now = clock_mono_ms();
        for (int i = 0; i < n; i++)
                if (agents[i].welcomed && now >= agents[i].next_beat) {
                        send_heartbeat(&agents[i]);
                        agents[i].next_beat = now + HEARTBEAT_MS;
                }
        if (zmq_poll(items, n, timeout_ms) > 0)
                for (int i = 0; i < n; i++)
                        if (items[i].revents & ZMQ_POLLIN)
                                welcomed += drain_incoming(&agents[i]);
        return welcomed;
}

/* Agents lo..hi-1 until killed: connect, Hello (again every interval
 * until welcomed), heartbeats; one byte to report_fd per first Welcome. */
static void worker(zcert_t **certs, int lo, int hi, const char *coord_pub, int port, int report_fd) {
        int n = hi - lo;
        void *ctx = zmq_ctx_new();
        zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, n + 100);
        agent_t *agents = calloc((size_t) n, sizeof *agents);
        zmq_pollitem_t *items = calloc((size_t) n, sizeof *items);
        char ep[64];
        uint8_t server[32];
        snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
        zmq_z85_decode(server, coord_pub);
        for (int i = 0; i < n; i++) {
                void *s = zmq_socket(ctx, ZMQ_DEALER);
                int zero = 0;
                zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
                zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, 32);
                zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, zcert_public_key(certs[lo + i]), 32);
                zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, zcert_secret_key(certs[lo + i]), 32);
                zmq_connect(s, ep);
                agents[i].sock = s;
                items[i] = (zmq_pollitem_t) { s, 0, ZMQ_POLLIN, 0 };
                send_hello(&agents[i], lo + i);   /* queued until the handshake is done */
        }
        int64_t last_hello = clock_mono_ms();
        for (;;) {
                int got = pump(agents, n, items, 100);
                for (int k = 0; k < got; k++)
                        if (write(report_fd, "w", 1) < 0)
                                return;
                /* A Hello lost before the handshake: said again each
                 * interval, as agents do. */
                if (clock_mono_ms() - last_hello > HEARTBEAT_MS) {
                        for (int i = 0; i < n; i++)
                                if (!agents[i].welcomed)
                                        send_hello(&agents[i], lo + i);
                        last_hello = clock_mono_ms();
                }
        }
}

static int run(const char *build, int n, int port) {
        char dir[] = "/tmp/hitless-swarm.XXXXXX", path[512], conf[2048], coord_pub[41];
        if (!mkdtemp(dir))
                return -1;
        snprintf(path, sizeof path, "%s/pre", dir);
        mkdir(path, 0700);
        snprintf(path, sizeof path, "%s/state", dir);
        mkdir(path, 0700);
        zcert_t *coord = zcert_new();
        snprintf(path, sizeof path, "%s/coordinator.key", dir);
        zcert_save(coord, path);
        snprintf(coord_pub, sizeof coord_pub, "%s", zcert_public_txt(coord));
        zcert_t **certs = calloc((size_t) n, sizeof *certs);
        for (int i = 0; i < n; i++) {
                certs[i] = zcert_new();
                snprintf(path, sizeof path, "%s/pre/swarm-%05d.key", dir, i);
                zcert_save_public(certs[i], path);
        }
        snprintf(conf, sizeof conf,
                 "listen = \"tcp://127.0.0.1:%d\";\nsecret_key_file = \"%s/coordinator.key_secret\";\n"
                 "state_dir = \"%s/state\";\nadmin_socket = \"%s/run/admin.sock\";\n"
                 "preapproved_keys_dir = \"%s/pre\";\nheartbeat_interval = \"5s\";\n"
                 "node_timeout = \"60s\";\nmax_nodes = %d;\n",
                 port, dir, dir, dir, dir, n + 1000);
        snprintf(path, sizeof path, "%s/coordinator.conf", dir);
        write_file(path, conf);

        pid_t pid = fork();
        if (pid == 0) {
                char exe[512], log[600];
                snprintf(exe, sizeof exe, "%s/hitless-coordinator", build);
                snprintf(log, sizeof log, "%s/coordinator.log", dir);
                if (!freopen(log, "w", stderr))
                        _exit(127);
                execl(exe, exe, "-c", path, (char *) NULL);
                _exit(127);
        }
        /* Ready when it serves operators (it loads every pre-approved key
         * first): the storm is timed from there. */
        snprintf(path, sizeof path, "%s/run/admin.sock", dir);
        for (int i = 0; i < 1200 && access(path, F_OK) < 0; i++)
                usleep(50 * 1000);
        long rss0 = rss_kib_of(pid);

        int fds[2];
        if (pipe(fds) < 0)
                return -1;
        int n_workers = (n + WORKER_AGENTS - 1) / WORKER_AGENTS;
        pid_t *workers = calloc((size_t) n_workers, sizeof *workers);
        int64_t t0 = clock_mono_ms();
        for (int w = 0; w < n_workers; w++) {
                int lo = w * WORKER_AGENTS, hi = lo + WORKER_AGENTS < n ? lo + WORKER_AGENTS : n;
                workers[w] = fork();
                if (workers[w] == 0) {
                        close(fds[0]);
                        worker(certs, lo, hi, coord_pub, port, fds[1]);
                        _exit(0);
                }
        }
        close(fds[1]);
        int welcomed = 0;
        double admin_s = -1;
        char ctl[2048];
        snprintf(ctl, sizeof ctl, "'%s/hitlessctl' --socket '%s/run/admin.sock' status >%s/ctl.out 2>&1", build, dir, dir);
        while (welcomed < n && clock_mono_ms() - t0 < STORM_TIMEOUT_MS) {
                if (admin_s < 0 && clock_mono_ms() - t0 >= 2000) {
                        int64_t a0 = clock_mono_ms();
                        if (system(ctl) == 0)
                                admin_s = (double) (clock_mono_ms() - a0) / 1000.0;
                        else {
                                char show[700];
                                snprintf(show, sizeof show, "cat '%s/ctl.out' >&2", dir);
                                if (system(show) != 0)
                                        fprintf(stderr, "swarm: hitlessctl status failed\n");
                                admin_s = 999;
                        }
                }
                struct pollfd pfd = { fds[0], POLLIN, 0 };
                char buf[4096];
                if (poll(&pfd, 1, 100) > 0) {
                        ssize_t got = read(fds[0], buf, sizeof buf);
                        if (got <= 0)
                                break;
                        welcomed += (int) got;
                }
        }
        double storm_s = (double) (clock_mono_ms() - t0) / 1000.0;
        double gen_storm = 0;
        for (int w = 0; w < n_workers; w++)
                gen_storm += cpu_seconds_of(workers[w]);
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
                fprintf(stderr, "swarm: the coordinator ended (status %d) after %d welcomes; its log: %s/coordinator.log\n",
                        status, welcomed, dir);
                return -1;
        }

        /* At rest: every agent heartbeats every 5 s. */
        double c0 = cpu_seconds_of(pid), g0 = 0;
        for (int w = 0; w < n_workers; w++)
                g0 += cpu_seconds_of(workers[w]);
        int64_t w0 = clock_mono_ms();
        const char *idle = getenv("SWARM_IDLE_S");
        usleep(idle ? (useconds_t) atoi(idle) * 1000000u : IDLE_WINDOW_MS * 1000u);
        double window_s = (double) (clock_mono_ms() - w0) / 1000.0;
        double coord_pct = 100.0 * (cpu_seconds_of(pid) - c0) / window_s;
        double g1 = 0;
        for (int w = 0; w < n_workers; w++)
                g1 += cpu_seconds_of(workers[w]);
        double gen_pct = 100.0 * (g1 - g0) / window_s;
        long rss1 = rss_kib_of(pid);

        /* One batch command to every agent: `check --all`, one admin
         * request, the coordinator fanning it out as a job. */
        snprintf(ctl, sizeof ctl, "'%s/hitlessctl' --socket '%s/run/admin.sock' --timeout 300000 check --all --json "
                 ">%s/check.out 2>&1", build, dir, dir);
        double cc0 = cpu_seconds_of(pid);
        int64_t k0 = clock_mono_ms();
        int check_rc = system(ctl);
        double check_s = (double) (clock_mono_ms() - k0) / 1000.0;
        double check_cpu = cpu_seconds_of(pid) - cc0;
        bool alive = waitpid(pid, &status, WNOHANG) == 0;

        char admin[32] = "-";
        if (admin_s >= 0)
                snprintf(admin, sizeof admin, "%8.2f s", admin_s);
        char check[32] = "failed";
        if (check_rc == 0)
                snprintf(check, sizeof check, "%6.2f s", check_s);
        printf("%7d  %5d/%-5d  %8.1f s  %6.1f s  %10s  %8.1f %%  %8.1f %%  %10.1f KiB  %10s  %8.2f s\n", n, welcomed,
               n, storm_s, gen_storm, admin, coord_pct, gen_pct, welcomed ? (double) (rss1 - rss0) / welcomed : 0.0,
               check, check_cpu);
        fflush(stdout);

        for (int w = 0; w < n_workers; w++) {
                kill(workers[w], SIGTERM);
                waitpid(workers[w], NULL, 0);
        }
        close(fds[0]);
        free(workers);
        for (int i = 0; i < n; i++)
                zcert_destroy(&certs[i]);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        if (!alive || welcomed < n || check_rc != 0) {
                fprintf(stderr, "swarm: %s; kept %s\n",
                        !alive ? "the coordinator died" : welcomed < n ? "not every agent was welcomed"
                                                                       : "check --all did not succeed on every agent",
                        dir);
                return -1;
        }
        zcert_destroy(&coord);
        free(certs);
        snprintf(conf, sizeof conf, "rm -rf '%s'", dir);
        return system(conf) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
        const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
        struct rlimit rl = { 1 << 20, 1 << 20 };   /* each DEALER costs several fds */
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        printf("swarm: simulated CURVE agents against %s/hitless-coordinator, heartbeat 5 s, 2 cores shared\n", build);
        printf("%7s  %11s  %10s  %8s  %10s  %10s  %10s  %14s  %10s  %10s\n", "agents", "registered", "storm",
               "gen cpu", "status", "coord cpu", "gen cpu", "coord rss/agent", "check", "coord cpu");
        printf("%7s  %11s  %10s  %8s  %10s  %10s  %10s  %14s  %10s  %10s\n", "", "", "(wall)", "(storm)", "(in storm)",
               "(at rest)", "(at rest)", "", "--all", "(check)");
        int port = 17950;
        if (argc < 2)
                return run(build, 1000, port) < 0;
        for (int i = 1; i < argc; i++)
                if (run(build, atoi(argv[i]), port++) < 0)
                        return 1;
        return 0;
}
