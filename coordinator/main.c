/* hitless-coordinator: one poll loop over the ZAP handler, the agents'
 * socket, the admin socket, the HTTP server (when http_listen is set) and
 * signals, plus a 1-second tick for expiry, store flushes, status and the
 * watchdog. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <zmq.h>

#include "common/atomic_file.h"
#include "common/clock.h"
#include "common/daemon.h"
#include "common/keys.h"
#include "common/log.h"
#include "coordinator/admin/admin.h"
#include "coordinator/fleet/agent_link.h"
#include "coordinator/commands/commands.h"
#include "coordinator/coord_config.h"
#include "coordinator/http/http_listen.h"
#include "coordinator/http/http_pages.h"
#include "coordinator/http/http_server.h"
#include "coordinator/store/event_retention.h"
#include "coordinator/jobs/jobs.h"
#include "coordinator/fleet/fleet.h"
#include "coordinator/fleet/keyring.h"
#include "coordinator/store/store.h"
#include "coordinator/upgrade/upgrade.h"
#include "coordinator/fleet/zap.h"

#define TICK_MS 1000
#define KEYRING_FLUSH_MS 10000

typedef struct {
        coord_config_t *cfg;
        store_t *store;
        keyring_t *keyring;
        fleet_t *fleet;
        void *ctx;
        void *admin_ctx;     /* the admin socket's own I/O thread: see setup() */
        void *zap;
        zap_stats_t zap_stats;
        agent_link_t *agents;
        commands_t *commands;
        upgrade_t *upgrade;
        jobs_t *jobs;
        admin_t *admin;
        admin_deps_t admin_deps;     /* what the HTTP pages read, too */
        http_server_t *http;         /* NULL unless http_listen is set */
        int sigfd;
        char status[256];
        int64_t next_retention;      /* monotonic ms; 0: at the next tick */
} coordinator_t;

static void usage(FILE *f) {
        fprintf(f,
                "Usage: hitless-coordinator [OPTIONS]\n"
                "\n"
                "The hitless coordinator: accepts agents' keys, tracks their health, and\n"
                "serves hitlessctl.\n"
                "\n"
                "  -c, --config FILE   configuration file (default %s)\n"
                "      --check-config  validate the configuration and exit (0 valid, 2 errors)\n"
                "  -h, --help          show this help\n"
                "      --version       show the version\n",
                COORD_DEFAULT_CONFIG);
}

/* 10,000 agents are 10,000 TCP connections: make sure the fd limit allows
 * them (libzmq needs a few fds of its own per socket too). */
static void raise_fd_limit(long long max_nodes) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return;
        rlim_t want = (rlim_t) max_nodes + 1024;
        if (rl.rlim_cur < want) {
                rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        (void) getrlimit(RLIMIT_NOFILE, &rl);   /* what we have, then */
        }
        /* One descriptor per connected agent, 1024 kept for the rest. */
        unsigned long long agents = rl.rlim_cur > 1024 ? (unsigned long long) rl.rlim_cur - 1024 : 0;
        if (rl.rlim_cur < want)
                log_warning("file descriptor limit %llu allows about %llu agents, below max_nodes %lld "
                            "(raise LimitNOFILE= in the unit)", (unsigned long long) rl.rlim_cur, agents, max_nodes);
        else
                log_info("file descriptor limit %llu: room for about %llu agents (max_nodes %lld)",
                         (unsigned long long) rl.rlim_cur, agents, max_nodes);
}

static void update_status(coordinator_t *c) {
        char s[256];
        int pending = keyring_count(c->keyring, KEY_PENDING);
        const store_health_t *h = store_health(c->store);
        int n = snprintf(s, sizeof s, "%zu nodes (%zu online), %d pending key%s", fleet_size(c->fleet),
                         fleet_online(c->fleet), pending, pending == 1 ? "" : "s");
        if (h->degraded && n > 0 && (size_t) n < sizeof s)
                snprintf(s + n, sizeof s - (size_t) n, "; STORE FAILING: %s", h->error);
        else if (h->low_space && n > 0 && (size_t) n < sizeof s)
                snprintf(s + n, sizeof s - (size_t) n, "; store low on space: %llu MiB free",
                         (unsigned long long) (h->free_bytes >> 20));
        if (strcmp(s, c->status) != 0) {
                snprintf(c->status, sizeof c->status, "%s", s);
                daemon_notify_status("%s", s);
        }
}

static void load_preapproved(coordinator_t *c) {
        if (!c->cfg->preapproved_keys_dir)
                return;
        int r = keyring_load_preapproved(c->keyring, c->cfg->preapproved_keys_dir);
        if (r < 0)
                log_warning("cannot read pre-approved keys in %s: %s", c->cfg->preapproved_keys_dir,
                            strerror(-r));
        else if (r > 0)
                log_info("accepted %d pre-approved key%s from %s", r, r == 1 ? "" : "s",
                         c->cfg->preapproved_keys_dir);
}

static bool str_changed(const char *a, const char *b) {
        return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* SIGHUP: apply what can change live, name what needs a restart. */
static void reload(coordinator_t *c) {
        coord_config_t *n = NULL;
        conf_report_t r;

        daemon_notify_reloading();
        conf_report_init(&r, c->cfg->path);
        if (coord_config_load(c->cfg->path, &n, &r) < 0) {
                for (size_t i = 0; i < r.n_lines; i++)
                        log_error("reload: %s", r.lines[i]);
                log_error("reload: configuration invalid, keeping the running one");
                conf_report_free(&r);
                daemon_notify_reloaded();
                return;
        }
        conf_report_free(&r);
        if (str_changed(n->listen, c->cfg->listen))
                log_warning("reload: listen changed; restart to apply");
        if (str_changed(n->secret_key_file, c->cfg->secret_key_file))
                log_warning("reload: secret_key_file changed; restart to apply");
        if (str_changed(n->state_dir, c->cfg->state_dir))
                log_warning("reload: state_dir changed; restart to apply");
        if (str_changed(n->admin_socket, c->cfg->admin_socket))
                log_warning("reload: admin_socket changed; restart to apply");
        if (str_changed(n->http_listen, c->cfg->http_listen) || n->http_allow_remote != c->cfg->http_allow_remote)
                log_warning("reload: http_listen changed; restart to apply");
        if (n->max_message_bytes != c->cfg->max_message_bytes)
                log_warning("reload: max_message_bytes changed; restart to apply");
        if (n->max_pending_keys != c->cfg->max_pending_keys ||
            n->pending_keys_per_second != c->cfg->pending_keys_per_second)
                log_warning("reload: pending key limits changed; restart to apply");
        fleet_set_timeout(c->fleet, n->node_timeout_ms);
        if (n->event_retention.max_days != c->cfg->event_retention.max_days ||
            n->event_retention.max_rows != c->cfg->event_retention.max_rows)
                c->next_retention = 0;   /* the new policy at the next tick */
        coord_config_free(&c->cfg);
        c->cfg = n;
        load_preapproved(c);
        log_info("reloaded %s", c->cfg->path);
        daemon_notify_reloaded();
        update_status(c);
}

static int write_endpoint_file(coordinator_t *c, const char *name, const char *endpoint) {
        char path[4096], line[300];
        int n = snprintf(line, sizeof line, "%s\n", endpoint);
        snprintf(path, sizeof path, "%s/%s", c->cfg->state_dir, name);
        return atomic_file_replace(path, line, (size_t) n, 0644, geteuid(), getegid());
}

/* The HTTP server, when configured; its bound address is recorded in
 * state_dir/http.endpoint (like agents.endpoint: port 0 picks one). A
 * non-loopback address was allowed explicitly (http_allow_remote), and is
 * said so at warning level: the fleet's state is then readable from the
 * network, without authentication. */
static int setup_http(coordinator_t *c) {
        char addr[32], endpoint[64];
        if (!c->cfg->http_listen)
                return 0;
        int r = http_server_new(&c->cfg->http_addr, http_pages_build, &c->admin_deps, &c->http);
        if (r < 0)
                return log_error_errno(r, "cannot serve HTTP on %s: %m", c->cfg->http_listen);
        inet_ntop(AF_INET, &c->cfg->http_addr.sin_addr, addr, sizeof addr);
        snprintf(endpoint, sizeof endpoint, "%s:%u", addr, (unsigned) http_server_port(c->http));
        if (http_listen_is_loopback(&c->cfg->http_addr))
                log_info("serving the consolidated view and metrics on http://%s/", endpoint);
        else
                log_warning("serving the consolidated view and metrics on http://%s/, beyond this host "
                            "(http_allow_remote): anyone who can reach it reads the fleet's state", endpoint);
        if ((r = write_endpoint_file(c, "http.endpoint", endpoint)) < 0)
                log_warning("cannot record the HTTP endpoint in %s: %s", c->cfg->state_dir, strerror(-r));
        return 0;
}

static int send_to_agent(void *ud, node_t *n, const Hitless__CoordinatorMessage *m) {
        return agent_link_send(ud, n, m);
}

static void on_command_status(void *ud, const char *node_id, const Hitless__CommandStatus *st) {
        commands_on_status(ud, node_id, st);
}

static void on_local_command(void *ud, const char *node_id, const Hitless__LocalCommand *lc) {
        commands_on_local(ud, node_id, lc);
}

static void on_node_hello(void *ud, node_t *n) {
        commands_on_hello(ud, n);
}

static int setup(coordinator_t *c) {
        char dbpath[4096];
        zcert_t *cert = NULL;
        int r;

        r = keys_load_secret(c->cfg->secret_key_file, &cert);
        if (r < 0) {
                if (r == -EPERM)
                        return log_error_errno(r, "secret key %s is readable by group or others; chmod 600 it",
                                               c->cfg->secret_key_file);
                return log_error_errno(r, "cannot load secret key %s: %m (create one with: hitlessctl keys gen DIR --name coordinator)",
                                       c->cfg->secret_key_file);
        }
        if (mkdir(c->cfg->state_dir, 0750) < 0 && errno != EEXIST) {
                zcert_destroy(&cert);
                return log_error_errno(errno, "cannot create state directory %s: %m", c->cfg->state_dir);
        }
        snprintf(dbpath, sizeof dbpath, "%s/coordinator.db", c->cfg->state_dir);
        if ((r = store_open(dbpath, &c->store)) < 0) {
                zcert_destroy(&cert);
                return log_error_errno(r, "cannot open store %s: %m", dbpath);
        }
        if ((r = keyring_new(c->store, c->cfg->max_pending_keys, c->cfg->pending_keys_per_second,
                             &c->keyring)) < 0 ||
            (r = fleet_new(c->store, c->cfg->node_timeout_ms, &c->fleet)) < 0) {
                zcert_destroy(&cert);
                return log_error_errno(r, "cannot load state from %s: %s", dbpath, store_last_error(c->store));
        }
        load_preapproved(c);

        raise_fd_limit(c->cfg->max_nodes);
        c->ctx = zmq_ctx_new();
        zmq_ctx_set(c->ctx, ZMQ_MAX_SOCKETS, 64);
        /* The ZAP handler first: bound after the agents' socket, libzmq
         * would accept every client in between. */
        if ((r = zap_bind(c->ctx, &c->zap)) < 0) {
                zcert_destroy(&cert);
                return log_error_errno(r, "cannot bind ZAP handler: %m");
        }
        r = agent_link_new(c->ctx, c->cfg, cert, c->fleet, c->keyring, &c->agents);
        zcert_destroy(&cert);
        if (r < 0)
                return log_error_errno(r, "cannot listen on %s: %m", c->cfg->listen);
        if ((r = write_endpoint_file(c, "agents.endpoint", agent_link_endpoint(c->agents))) < 0)
                log_warning("cannot record the bound endpoint in %s: %s", c->cfg->state_dir, strerror(-r));
        if ((r = commands_new(c->store, c->fleet, &(commands_sender_t) { .send = send_to_agent, .ud = c->agents },
                              &c->commands)) < 0)
                return log_error_errno(r, "cannot set up commands: %m");
        agent_link_set_hooks(c->agents, &(agent_link_hooks_t) {
                .on_status = on_command_status, .on_local = on_local_command, .on_hello = on_node_hello,
                .ud = c->commands });
        r = upgrade_new(&(upgrade_deps_t) { .store = c->store, .fleet = c->fleet, .commands = c->commands,
                                            .node_timeout_ms = c->cfg->node_timeout_ms },
                        clock_wall_ms(), &c->upgrade);
        if (r < 0)
                return log_error_errno(r, "cannot load the upgrade from %s: %s", dbpath, store_last_error(c->store));
        r = jobs_new(&(jobs_deps_t) { .store = c->store, .fleet = c->fleet, .commands = c->commands,
                                      .upgrade = c->upgrade, .config = &c->cfg },
                     &c->jobs);
        if (r < 0)
                return log_error_errno(r, "cannot load the jobs from %s: %s", dbpath, store_last_error(c->store));
        c->admin_deps = (admin_deps_t) { c->store, c->fleet, c->keyring, c->agents, c->commands, &c->zap_stats,
                                         clock_wall_s(), &c->cfg, c->upgrade, c->jobs };
        /* Its own context, so its own I/O thread: an enrolment storm of
         * thousands of CURVE handshakes keeps the agents' I/O thread busy,
         * and `hitlessctl status` must still answer meanwhile. */
        c->admin_ctx = zmq_ctx_new();
        if (!c->admin_ctx)
                return log_error_errno(errno, "cannot create a ZMQ context: %m");
        if ((r = admin_new(c->admin_ctx, c->cfg->admin_socket, &c->admin_deps, &c->admin)) < 0)
                return log_error_errno(r, "cannot bind admin socket %s: %m", c->cfg->admin_socket);
        if ((r = setup_http(c)) < 0)
                return r;
        if ((c->sigfd = daemon_signalfd_open()) < 0)
                return log_error_errno(c->sigfd, "cannot set up signals: %m");
        return 0;
}

static void teardown(coordinator_t *c) {
        if (c->fleet && fleet_flush(c->fleet) < 0)
                log_warning("final flush failed: %s", store_last_error(c->store));
        if (c->keyring)
                keyring_flush(c->keyring);
        http_server_destroy(&c->http);
        admin_destroy(&c->admin);
        jobs_destroy(&c->jobs);
        upgrade_destroy(&c->upgrade);
        commands_destroy(&c->commands);
        agent_link_destroy(&c->agents);
        if (c->zap)
                zmq_close(c->zap);
        if (c->ctx)
                zmq_ctx_term(c->ctx);
        if (c->admin_ctx)
                zmq_ctx_term(c->admin_ctx);
        fleet_destroy(&c->fleet);
        keyring_destroy(&c->keyring);
        store_close(&c->store);
        if (c->sigfd > 0)
                close(c->sigfd);
        coord_config_free(&c->cfg);
}

static void log_drops(coordinator_t *c) {
        static uint64_t last_total;
        const codec_drops_t *d = agent_link_drops(c->agents);
        uint64_t total = 0;
        for (int i = 0; i < DROP__COUNT; i++)
                total += d->count[i];
        if (total != last_total) {
                char counts[512];
                size_t off = 0;
                for (int i = 0; i < DROP__COUNT && off < sizeof counts; i++) {
                        int w = snprintf(counts + off, sizeof counts - off, "%s%s=%llu", i ? " " : "",
                                         drop_reason_name((drop_reason_t) i), (unsigned long long) d->count[i]);
                        if (w < 0)
                                break;
                        off += (size_t) w;
                }
                log_info("dropped messages so far: %s", counts);
                last_total = total;
        }
}

/* Once a tick: while writes fail, a probe finds out when they work again;
 * then what could not be recorded is asked for or fed again. Free space
 * is measured against the floor (the upgrade holds below it). */
static void watch_store(coordinator_t *c) {
        if (store_health(c->store)->degraded)
                (void) store_probe(c->store);   /* its outcome is in store_health() */
        if (store_take_recovered(c->store)) {
                commands_on_store_recovered(c->commands);
                upgrade_on_store_recovered(c->upgrade);
        }
        if (store_check_space(c->store, (uint64_t) c->cfg->state_min_free_mb << 20) < 0)
                log_debug("cannot measure the free space of %s: %m", c->cfg->state_dir);
}

/* Runs retention and sets when to run it next: at the next tick while a
 * run hits its bound (a backlog goes in steps of one short transaction),
 * hourly otherwise. */
static void apply_event_retention(coordinator_t *c, int64_t now) {
        int64_t n = event_retention_run(c->store, &c->cfg->event_retention, clock_wall_s());
        if (n < 0)
                log_error("store: cannot apply event retention: %s", store_last_error(c->store));
        c->next_retention = now + (n == EVENT_RETENTION_BATCH ? TICK_MS : EVENT_RETENTION_INTERVAL_MS);
}

static int run(coordinator_t *c) {
        daemon_watchdog_t watchdog;
        int64_t next_tick = clock_mono_ms() + TICK_MS, next_keyflush = 0;
        int64_t next_droplog = clock_mono_ms() + 60000;

        daemon_watchdog_init(&watchdog);
        log_info("serving agents on %s, admin on %s", agent_link_endpoint(c->agents), c->cfg->admin_socket);
        update_status(c);
        daemon_notify_ready(c->status);

        for (;;) {
                zmq_pollitem_t items[] = {
                        { c->zap, 0, ZMQ_POLLIN, 0 },
                        { agent_link_socket(c->agents), 0, ZMQ_POLLIN, 0 },
                        { admin_socket(c->admin), 0, ZMQ_POLLIN, 0 },
                        { NULL, c->sigfd, ZMQ_POLLIN, 0 },
                        { NULL, c->http ? http_server_fd(c->http) : -1, ZMQ_POLLIN, 0 },
                };
                int n_items = c->http ? 5 : 4;
                int64_t now = clock_mono_ms();
                int64_t wait = next_tick - now;
                if (daemon_watchdog_wait_ms(&watchdog, now) < wait)
                        wait = daemon_watchdog_wait_ms(&watchdog, now);
                if (agent_link_next_due(c->agents) - now < wait)
                        wait = agent_link_next_due(c->agents) - now;
                if (commands_next_due(c->commands) - now < wait)
                        wait = commands_next_due(c->commands) - now;
                /* The upgrade's timers are wall-clock (they are stored). */
                int64_t upgrade_wait = upgrade_next_due(c->upgrade) - clock_wall_ms();
                if (upgrade_wait < 20)
                        upgrade_wait = 20;   /* never a busy loop on a due time in the past */
                if (upgrade_wait < wait)
                        wait = upgrade_wait;
                if (c->http && http_server_wait_ms(c->http) >= 0 && http_server_wait_ms(c->http) < wait)
                        wait = http_server_wait_ms(c->http);
                if (zmq_poll(items, n_items, wait < 0 ? 0 : (long) wait) < 0 && errno != EINTR)
                        return log_error_errno(errno, "poll failed: %m");
                now = clock_mono_ms();

                if (items[0].revents & ZMQ_POLLIN) {
                        int r = zap_handle_pending(c->zap, c->keyring, &c->zap_stats, now);
                        if (r < 0)
                                /* Without ZAP answers, no agent can be
                                 * authenticated safely: stop serving. */
                                return log_error_errno(r, "ZAP handler failed: %m; stopping");
                }
                if (items[1].revents & ZMQ_POLLIN) {
                        agent_link_handle_pending(c->agents, now);
                        jobs_flush(c->jobs);   /* the results just handled, stored once */
                }
                if (items[2].revents & ZMQ_POLLIN)
                        admin_handle_pending(c->admin);
                /* Also when only its timeout is due: idle connections close. */
                if (c->http && ((items[4].revents & ZMQ_POLLIN) || http_server_wait_ms(c->http) == 0) &&
                    http_server_run(c->http, now) < 0)
                        log_warning("http: the server failed to run; its clients may stall");
                agent_link_tick(c->agents, now);
                commands_tick(c->commands, now);
                if (items[3].revents & ZMQ_POLLIN) {
                        int sig;
                        while ((sig = daemon_signalfd_read(c->sigfd)) > 0) {
                                if (sig == SIGHUP) {
                                        reload(c);
                                        continue;
                                }
                                log_info("received %s, stopping", strsignal(sig));
                                daemon_notify_stopping();
                                return 0;
                        }
                }
                if (now >= next_tick || clock_wall_ms() >= upgrade_next_due(c->upgrade)) {
                        fleet_expire(c->fleet, now);
                        upgrade_tick(c->upgrade, clock_wall_ms());
                        jobs_tick(c->jobs, clock_wall_ms());
                }
                if (now >= next_tick) {
                        watch_store(c);
                        if (fleet_flush(c->fleet) < 0)
                                log_node(store_health_log_level(store_health(c->store)), NULL,
                                         "store: cannot save node state: %s", store_last_error(c->store));
                        if (now >= next_keyflush) {
                                keyring_flush(c->keyring);
                                next_keyflush = now + KEYRING_FLUSH_MS;
                        }
                        if (now >= c->next_retention)
                                apply_event_retention(c, now);
                        if (now >= next_droplog) {
                                log_drops(c);
                                next_droplog = now + 60000;
                        }
                        update_status(c);
                        next_tick = now + TICK_MS;
                }
                daemon_watchdog_tick(&watchdog, now);
        }
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, 'C' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { 0 },
        };
        coordinator_t c = { .sigfd = -1 };
        const char *config_path = COORD_DEFAULT_CONFIG;
        bool check_only = false;
        conf_report_t report;
        int opt, r;

        log_init("hitless-coordinator");
        while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
                switch (opt) {
                case 'c': config_path = optarg; break;
                case 'C': check_only = true; break;
                case 'h': usage(stdout); return 0;
                case 'V': printf("hitless-coordinator %s\n", HITLESS_VERSION); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "hitless-coordinator: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }

        conf_report_init(&report, config_path);
        r = coord_config_load(config_path, &c.cfg, &report);
        conf_report_print(&report);
        conf_report_free(&report);
        if (r < 0)
                return 2;
        if (check_only) {
                printf("%s: configuration is valid\n", config_path);
                coord_config_free(&c.cfg);
                return 0;
        }

        r = setup(&c);
        if (r >= 0)
                r = run(&c);
        teardown(&c);
        return r < 0 ? 1 : 0;
}
