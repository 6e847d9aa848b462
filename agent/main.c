/* hitless-agent: keeps a session with the coordinator and reports health.
 * Without a coordinator endpoint and key in its config (a fresh package
 * install) it waits, READY and saying so in STATUS=, until a reload
 * brings them. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "agent/agent_config.h"
#include "agent/executor.h"
#include "agent/local.h"
#include "agent/metrics_textfile.h"
#include "agent/session.h"
#include "common/clock.h"
#include "common/daemon.h"
#include "common/keys.h"
#include "common/log.h"

typedef struct {
        const char *config_path;
        agent_config_t *cfg;
        zcert_t *cert;
        void *ctx;
        session_t *session;
        executor_t *executor;
        int sigfd;
        char status[300];
        bool registered;             /* at the last loop turn */
        int64_t next_local_report;   /* monotonic ms */
        int64_t next_textfile;       /* monotonic ms */
        bool textfile_failed;        /* logged once until it works again */
        uint64_t changes;            /* executor_changes, as the session last heard */
} agent_t;

static void usage(FILE *f) {
        fprintf(f,
                "Usage: hitless-agent [OPTIONS]\n"
                "       hitless-agent [-c FILE] journal [--json] [--limit N]\n"
                "       hitless-agent [-c FILE] rollback [--to SNAPSHOT]\n"
                "\n"
                "The hitless node agent: registers with the coordinator, reports health,\n"
                "and carries out commands within its local policy. `journal` shows what it\n"
                "did; `rollback` undoes an upgrade on this node without the coordinator.\n"
                "\n"
                "  -c, --config FILE   configuration file (default %s)\n"
                "      --check-config  validate the configuration and exit (0 valid, 2 errors)\n"
                "      --gen-key       create this node's key pair at secret_key_file, print the\n"
                "                      public key, and exit (never overwrites a key)\n"
                "  -h, --help          show this help\n"
                "      --version       show the version\n",
                AGENT_DEFAULT_CONFIG);
}

static int load_config(const char *path, agent_config_t **ret) {
        conf_report_t report;
        int r;
        conf_report_init(&report, path);
        r = agent_config_load(path, ret, &report);
        conf_report_print(&report);
        conf_report_free(&report);
        return r;
}

static int gen_key(const agent_config_t *cfg) {
        char dir[4096], base[4096], pub[KEYS_Z85_LEN + 1];
        size_t n = strlen(cfg->secret_key_file);
        const char *suffix = ".key_secret";

        if (n <= strlen(suffix) || strcmp(cfg->secret_key_file + n - strlen(suffix), suffix) != 0) {
                fprintf(stderr, "hitless-agent: secret_key_file %s must end in .key_secret\n",
                        cfg->secret_key_file);
                return 2;
        }
        snprintf(dir, sizeof dir, "%s", cfg->secret_key_file);
        snprintf(base, sizeof base, "%s", basename(dir));
        base[strlen(base) - strlen(suffix)] = '\0';
        snprintf(dir, sizeof dir, "%s", cfg->secret_key_file);
        int r = keys_generate(dirname(dir), base, pub);
        if (r == -EEXIST) {
                fprintf(stderr, "hitless-agent: a key already exists at %s; not overwriting it\n",
                        cfg->secret_key_file);
                return 1;
        }
        if (r < 0) {
                fprintf(stderr, "hitless-agent: cannot create key %s: %s\n", cfg->secret_key_file,
                        strerror(-r));
                return 1;
        }
        printf("%s\n", pub);
        return 0;
}

static void notify_status(agent_t *a, const char *s) {
        if (strcmp(a->status, s) != 0) {
                snprintf(a->status, sizeof a->status, "%s", s);
                daemon_notify_status("%s", s);
        }
}

static void on_command(const Hitless__CoordinatorMessage *m, void *ud) {
        agent_t *a = ud;
        if (executor_submit(a->executor, m) < 0)
                log_warning("cannot hand a command to the executor");
}

/* Statuses from the executor go to the coordinator as they are; while not
 * registered they are dropped: the coordinator asks for unfinished
 * commands again after the next Hello, and the journal answers. While the
 * link's send queue is full they wait in the executor's pipe (the worker
 * waits too), so a burst is paced, not dropped. */
static void forward_statuses(agent_t *a) {
        while (!a->session || !session_send_blocked(a->session)) {
                zmq_msg_t msg;
                zmq_msg_init(&msg);
                if (zmq_msg_recv(&msg, executor_socket(a->executor), ZMQ_DONTWAIT) < 0) {
                        zmq_msg_close(&msg);
                        return;
                }
                /* Not registered: dropped, the journal answers when the
                 * coordinator asks again after the next Hello. */
                if (a->session)
                        (void) session_send(a->session, zmq_msg_data(&msg), zmq_msg_size(&msg));
                zmq_msg_close(&msg);
        }
}

/* Local commands (hitless-agent rollback, run beside this daemon or while
 * it was away) are reported right after each registration, then every
 * heartbeat interval until the coordinator acknowledges them. */
static void report_local_commands(agent_t *a, int64_t now) {
        bool registered = session_registered(a->session);
        if (registered && !a->registered)
                a->next_local_report = now;
        a->registered = registered;
        if (!registered || now < a->next_local_report)
                return;
        a->next_local_report = now + a->cfg->heartbeat_interval_ms;
        if (executor_report_local(a->executor) < 0)
                log_warning("cannot ask the executor to report local commands");
}

/* metrics_textfile, every heartbeat interval (also while not registered:
 * node_exporter then shows the agent cut off). */
static void write_textfile(agent_t *a, int64_t now) {
        if (!a->cfg->metrics_textfile || now < a->next_textfile)
                return;
        a->next_textfile = now + a->cfg->heartbeat_interval_ms;
        metrics_textfile_t m = { .health = session_health(a->session), .drained = executor_drained(a->executor),
                                 .registered = session_registered(a->session),
                                 .journal_bytes = metrics_textfile_journal_bytes(a->cfg->state_dir),
                                 .now = clock_wall_s() };
        executor_last(a->executor, &m.last);
        int r = metrics_textfile_write(a->cfg->metrics_textfile, &m);
        if (r < 0 && !a->textfile_failed)
                log_warning("cannot write metrics_textfile %s: %s", a->cfg->metrics_textfile, strerror(-r));
        else if (r >= 0 && a->textfile_failed)
                log_info("metrics_textfile %s written again", a->cfg->metrics_textfile);
        a->textfile_failed = r < 0;
}

static int start_session(agent_t *a) {
        char msg[512];
        int r;
        if (!agent_config_has_coordinator(a->cfg)) {
                snprintf(msg, sizeof msg, "waiting for coordinator endpoint and key in %s", a->cfg->path);
                log_notice("%s (reload after editing it)", msg);
                notify_status(a, msg);
                return 0;
        }
        r = session_new(a->ctx, a->cfg, a->cert, &a->session);
        if (r < 0)
                return log_error_errno(r, "cannot connect to %s: %m", a->cfg->coordinator_endpoint);
        session_set_command_handler(a->session, on_command, a);
        return 0;
}

/* SIGHUP: a new config replaces the old one whole; the session restarts
 * so endpoint, key, checks and heartbeat interval all apply. */
static void reload(agent_t *a) {
        agent_config_t *n = NULL;
        if (executor_busy(a->executor)) {
                /* The running command holds the current policy. */
                log_warning("reload: a command is running; send SIGHUP again when it has finished");
                return;
        }
        daemon_notify_reloading();
        if (load_config(a->config_path, &n) < 0) {
                log_error("reload: configuration invalid, keeping the running one");
                daemon_notify_reloaded();
                return;
        }
        if (strcmp(n->secret_key_file, a->cfg->secret_key_file) != 0)
                log_warning("reload: secret_key_file changed; restart to apply");
        if (strcmp(n->node_id, a->cfg->node_id) != 0)
                log_warning("reload: node_id changed; the coordinator binds node ids to keys");
        session_destroy(&a->session);
        if (executor_destroy(&a->executor)) {
                /* A queued command started since the check above, on the
                 * old policy: stop as executor_destroy says, and it is
                 * reported interrupted after the restart. */
                log_error("reload: a command started meanwhile; stopping");
                daemon_notify_stopping();
                _exit(1);
        }
        free(n->secret_key_file);
        n->secret_key_file = strdup(a->cfg->secret_key_file);
        agent_config_free(&a->cfg);
        a->cfg = n;
        if (executor_new(a->ctx, a->cfg, &a->executor) < 0) {
                log_error("reload: cannot reopen the node journal; stopping");
                daemon_notify_stopping();
                exit(1);
        }
        start_session(a);
        log_info("reloaded %s", a->config_path);
        daemon_notify_reloaded();
}

static int run(agent_t *a) {
        daemon_watchdog_t watchdog;

        daemon_watchdog_init(&watchdog);

        if (start_session(a) < 0)
                return -1;
        daemon_notify_ready(a->status[0] ? a->status : "starting");
        for (;;) {
                zmq_pollitem_t items[4] = { { NULL, a->sigfd, ZMQ_POLLIN, 0 },
                                            { executor_socket(a->executor), 0, ZMQ_POLLIN, 0 } };
                int n = 2;
                int64_t now = clock_mono_ms(), wait = 1000;
                if (a->session) {
                        bool blocked = session_send_blocked(a->session);
                        /* Read statuses only when they can be sent; wait for room. */
                        if (blocked)
                                items[1].events = 0;
                        items[n++] = (zmq_pollitem_t) { session_socket(a->session), 0,
                                                        (short) (ZMQ_POLLIN | (blocked ? ZMQ_POLLOUT : 0)), 0 };
                        items[n++] = (zmq_pollitem_t) { session_monitor(a->session), 0, ZMQ_POLLIN, 0 };
                        wait = session_next_due(a->session) - now;
                }
                if (daemon_watchdog_wait_ms(&watchdog, now) < wait)
                        wait = daemon_watchdog_wait_ms(&watchdog, now);
                if (zmq_poll(items, n, wait < 0 ? 0 : (long) wait) < 0 && errno != EINTR)
                        return log_error_errno(errno, "poll failed: %m");
                now = clock_mono_ms();

                if (items[0].revents & ZMQ_POLLIN) {
                        int sig;
                        while ((sig = daemon_signalfd_read(a->sigfd)) > 0) {
                                if (sig == SIGHUP) {
                                        reload(a);
                                        continue;
                                }
                                log_info("received %s, stopping", strsignal(sig));
                                daemon_notify_stopping();
                                return 0;
                        }
                }
                if ((items[1].revents & ZMQ_POLLIN) || (n > 2 && (items[2].revents & ZMQ_POLLOUT)))
                        forward_statuses(a);
                if (a->session) {
                        /* reload() may have replaced the session: only read
                         * the sockets polled above if it is still the same. */
                        if (n > 2 && items[2].socket == session_socket(a->session)) {
                                if (items[3].revents & ZMQ_POLLIN)
                                        session_handle_monitor(a->session, now);
                                if (items[2].revents & ZMQ_POLLIN)
                                        session_handle_incoming(a->session, now);
                        }
                        /* After the statuses went: a result forwarded in
                         * this turn is never followed by a heartbeat
                         * measured before its change. */
                        uint64_t changes = executor_changes(a->executor);
                        if (changes != a->changes) {
                                a->changes = changes;
                                session_node_changed(a->session);
                        }
                        session_set_drained(a->session, executor_drained(a->executor));
                        session_tick(a->session, now);
                        report_local_commands(a, now);
                        write_textfile(a, now);
                        notify_status(a, session_status(a->session));
                }
                daemon_watchdog_tick(&watchdog, now);
        }
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, 'C' },
                { "gen-key", no_argument, NULL, 'G' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { 0 },
        };
        agent_t a = { .config_path = AGENT_DEFAULT_CONFIG, .sigfd = -1 };
        bool check_only = false, want_key = false;
        int opt, r;

        log_init("hitless-agent");
        /* "+": options end at a subcommand, which has its own. */
        while ((opt = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
                switch (opt) {
                case 'c': a.config_path = optarg; break;
                case 'C': check_only = true; break;
                case 'G': want_key = true; break;
                case 'h': usage(stdout); return 0;
                case 'V': printf("hitless-agent %s\n", HITLESS_VERSION); return 0;
                default: usage(stderr); return 2;
                }
        }
        const char *sub = optind < argc ? argv[optind] : NULL;
        if (sub && strcmp(sub, "journal") != 0 && strcmp(sub, "rollback") != 0) {
                fprintf(stderr, "hitless-agent: unexpected argument '%s'\n", sub);
                return 2;
        }
        if (load_config(a.config_path, &a.cfg) < 0)
                return 2;
        if (sub) {
                r = strcmp(sub, "journal") == 0 ? local_journal(a.cfg, argc - optind, argv + optind)
                                                : local_rollback(a.cfg, argc - optind, argv + optind);
                agent_config_free(&a.cfg);
                return r;
        }
        if (check_only) {
                printf("%s: configuration is valid\n", a.config_path);
                agent_config_free(&a.cfg);
                return 0;
        }
        if (want_key) {
                r = gen_key(a.cfg);
                agent_config_free(&a.cfg);
                return r;
        }

        r = keys_load_secret(a.cfg->secret_key_file, &a.cert);
        if (r < 0) {
                if (r == -EPERM)
                        log_error("secret key %s is readable by group or others; chmod 600 it",
                                  a.cfg->secret_key_file);
                else
                        log_error("cannot load secret key %s: %s (create it with: hitless-agent --gen-key)",
                                  a.cfg->secret_key_file, strerror(-r));
                agent_config_free(&a.cfg);
                return 1;
        }
        srandom((unsigned) (time(NULL) ^ getpid()));
        a.ctx = zmq_ctx_new();
        a.sigfd = daemon_signalfd_open();
        if (a.sigfd < 0)
                r = log_error_errno(a.sigfd, "cannot set up signals: %m");
        else if ((r = executor_new(a.ctx, a.cfg, &a.executor)) < 0)
                r = log_error_errno(r, "cannot open the node journal in %s: %m", a.cfg->state_dir);
        else
                r = run(&a);

        session_destroy(&a.session);
        if (executor_destroy(&a.executor))
                _exit(r < 0 ? 1 : 0);  /* a command is running: see executor_destroy */
        zmq_ctx_term(a.ctx);
        zcert_destroy(&a.cert);
        agent_config_free(&a.cfg);
        if (a.sigfd >= 0)
                close(a.sigfd);
        return r < 0 ? 1 : 0;
}
