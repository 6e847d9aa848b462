#include "agent/executor.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "agent/actions.h"
#include "agent/admission.h"
#include "agent/journal.h"
#include "agent/local_report.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/ids.h"
#include "common/log.h"

_Static_assert(COMMAND_ID_MAX < sizeof ((journal_command_t *) 0)->id, "a command id fits the journal");

/* Statuses carry at most this much output, so they stay far below the
 * message size limit. */
#define MAX_OUTPUT_TAIL (8 * 1024)

struct executor {
        const agent_config_t *cfg;
        journal_t *journal;
        void *main_end;      /* main thread: submit commands, read statuses */
        void *worker_end;    /* worker thread */
        pthread_t thread;
        bool started;
        atomic_bool busy;    /* the worker is running a command */
        atomic_bool stopping; /* executor_destroy: stop waiting to hand over statuses */
        atomic_bool drained; /* the journal's drained flag, for heartbeats */
        atomic_uint_fast64_t changes; /* commands run that change the node */
        atomic_bool report_queued; /* a local report request waits for the worker */
        pthread_mutex_t last_lock; /* guards last (the main thread reads it) */
        executor_last_t last;
        char current_id[64]; /* command being run, for progress messages */
};

/* ---- statuses ----------------------------------------------------------- */

/* The main thread stops reading while the coordinator's link is full
 * (session_send_blocked), so a burst (a query for thousands of ids) waits
 * here for room instead of being dropped. Only a stopping executor gives
 * up: the coordinator asks again after the next Hello. */
static void s_send_to_main(executor_t *e, const void *buf, size_t len) {
        while (zmq_send(e->worker_end, buf, len, ZMQ_DONTWAIT) < 0 && errno == EAGAIN &&
               !atomic_load(&e->stopping)) {
                zmq_pollitem_t item = { e->worker_end, 0, ZMQ_POLLOUT, 0 };
                zmq_poll(&item, 1, 100);
        }
}

/* Sends a packed CommandStatus to the main thread as an AgentMessage. */
static void send_status_blob(executor_t *e, const uint8_t *status, size_t len) {
        Hitless__CommandStatus *st = hitless__command_status__unpack(NULL, len, status);
        Hitless__AgentMessage m = HITLESS__AGENT_MESSAGE__INIT;
        uint8_t *buf;
        size_t n;
        if (!st)
                return;
        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.body_case = HITLESS__AGENT_MESSAGE__BODY_COMMAND_STATUS;
        m.command_status = st;
        if (codec_encode(&m.base, &buf, &n) == 0) {
                s_send_to_main(e, buf, n);
                free(buf);
        }
        hitless__command_status__free_unpacked(st, NULL);
}

/* Packs a CommandStatus for id from r (state, texts, health, packages). */
static int pack_status(const executor_t *e, const char *id, journal_state_t state, const char *progress,
                       const action_result_t *r, uint8_t **ret, size_t *ret_len) {
        Hitless__CommandStatus st = HITLESS__COMMAND_STATUS__INIT;
        Hitless__HealthReport h = HITLESS__HEALTH_REPORT__INIT;
        Hitless__CheckResult *checks = NULL, **cp = NULL;
        Hitless__PackageVersion *pv = NULL, **pp = NULL;
        const char *tail = r && r->output_tail ? r->output_tail : "";
        size_t tl = strlen(tail);
        int rc;

        st.command_id = (char *) id;
        st.state = (Hitless__CommandState) state;
        st.progress = (char *) (progress ? progress : "");
        if (r) {
                st.error_code = (char *) r->error_code;
                st.message = (char *) r->message;
                st.output_tail = (char *) (tl > MAX_OUTPUT_TAIL ? tail + tl - MAX_OUTPUT_TAIL : tail);
                st.snapshot_id = (char *) r->snapshot_id;
                if (r->have_health) {
                        size_t n = r->health.n_checks;
                        checks = calloc(n + 1, sizeof *checks);
                        cp = calloc(n + 1, sizeof *cp);
                        for (size_t i = 0; checks && cp && i < n; i++) {
                                hitless__check_result__init(&checks[i]);
                                checks[i].name = (char *) r->health.checks[i].name;
                                checks[i].kind = (char *) check_kind_name(r->health.checks[i].kind);
                                checks[i].ok = r->health.checks[i].ok;
                                checks[i].detail = (char *) r->health.checks[i].detail;
                                checks[i].duration_ms = r->health.checks[i].duration_ms;
                                cp[i] = &checks[i];
                        }
                        h.state = health_state_to_wire(r->health.state);
                        h.n_checks = (checks && cp) ? n : 0;
                        h.checks = cp;
                        st.health = &h;
                }
                if (r->have_packages) {
                        pv = calloc(r->n_versions + 1, sizeof *pv);
                        pp = calloc(r->n_versions + 1, sizeof *pp);
                        for (size_t i = 0; pv && pp && i < r->n_versions; i++) {
                                hitless__package_version__init(&pv[i]);
                                pv[i].name = e->cfg->packages[i];
                                pv[i].version = r->versions[i];
                                pp[i] = &pv[i];
                        }
                        st.n_packages = (pv && pp) ? r->n_versions : 0;
                        st.packages = pp;
                }
        }
        rc = codec_encode(&st.base, ret, ret_len);
        free(checks);
        free(cp);
        free(pv);
        free(pp);
        return rc;
}

static void send_state(executor_t *e, const char *id, journal_state_t state, const char *progress,
                       const action_result_t *r) {
        uint8_t *buf;
        size_t len;
        if (pack_status(e, id, state, progress, r, &buf, &len) == 0) {
                send_status_blob(e, buf, len);
                free(buf);
        }
}

/* Records the final state and its status, then reports it. */
static void finish(executor_t *e, const char *id, const char *kind, const action_result_t *r) {
        uint8_t *buf;
        size_t len;
        pthread_mutex_lock(&e->last_lock);
        snprintf(e->last.id, sizeof e->last.id, "%s", id);
        snprintf(e->last.action, sizeof e->last.action, "%s", kind ? kind : "");
        snprintf(e->last.state, sizeof e->last.state, "%s", journal_state_name(r->state));
        e->last.finished = clock_wall_s();
        pthread_mutex_unlock(&e->last_lock);
        if (pack_status(e, id, r->state, NULL, r, &buf, &len) < 0)
                return;
        int rc = journal_command_finish(e->journal, id, r->state, buf, len);
        if (rc < 0)
                log_error("journal: cannot record the result of %s: %s", id, journal_last_error(e->journal));
        /* Reported only once durable: a crash now re-reports, never re-runs. */
        if (rc >= 0)
                send_status_blob(e, buf, len);
        free(buf);
}

/* ---- commands ----------------------------------------------------------- */

static void on_progress(const char *line, void *ud) {
        executor_t *e = ud;
        send_state(e, e->current_id, JCMD_RUNNING, line, NULL);
}

static void replay(executor_t *e, const journal_command_t *c) {
        if (c->result)
                send_status_blob(e, c->result, c->result_len);
        else
                send_state(e, c->id, c->state, "recorded", NULL);
}

/* Forgets what journal_prune allows once journal_retention_days have
 * passed. The journal grows only by commands, so pruning at start and
 * after each command keeps it bounded. */
static void prune_journal(executor_t *e) {
        uint64_t removed = 0;
        int r = journal_prune(e->journal, clock_wall_s() - e->cfg->journal_retention_days * 24 * 3600, &removed);
        if (r < 0)
                log_warning("journal: cannot forget old entries: %s", journal_last_error(e->journal));
        else if (removed)
                log_info("journal: forgot %llu entries older than %lld days", (unsigned long long) removed,
                         (long long) e->cfg->journal_retention_days);
}

/* Recorded with its decision only: a refused request's bytes (whatever
 * unknown fields it carried) never reach the disk. */
static void refuse(executor_t *e, const Hitless__Command *cmd, action_result_t *r) {
        const char *id = cmd->command_id;
        int rc = journal_command_begin(e->journal, id, command_action_name(cmd), NULL, 0, "", "");
        log_warning("refused %s %s: %s", command_action_name(cmd), id, r->message);
        if (rc < 0)
                log_error("journal: cannot record command %s: %s", id, journal_last_error(e->journal));
        else
                finish(e, id, command_action_name(cmd), r);
}

/* The request as recorded: without the unknown fields it may carry at top
 * level, which nothing on the node reads. */
static int pack_request(const Hitless__Command *cmd, uint8_t **ret, size_t *ret_len) {
        Hitless__Command known = *cmd;
        known.base.n_unknown_fields = 0;
        known.base.unknown_fields = NULL;
        return codec_encode(&known.base, ret, ret_len);
}

/* The journal's drained flag as the heartbeats report it; on a read error
 * the last value stands (the next command reads it again). */
static void refresh_drained(executor_t *e) {
        bool drained;
        if (journal_get_drained(e->journal, &drained) == 0)
                atomic_store(&e->drained, drained);
        else
                log_warning("journal: cannot read the drained flag: %s", journal_last_error(e->journal));
}

static void run_command(executor_t *e, const Hitless__Command *cmd) {
        action_ctx_t ctx = { e->cfg, e->journal, on_progress, e };
        action_result_t r = { 0 };
        journal_command_t known;
        const char *id = cmd->command_id;
        uint8_t *raw;
        size_t raw_len;
        int rc;

        /* The codec has checked id (common/ids.h), so it fits known.id. */
        if (journal_command_get(e->journal, id, &known) == 0) {
                log_info("command %s seen before (%s): returning its recorded result", id,
                         journal_state_name(known.state));
                replay(e, &known);
                journal_command_clear(&known);
                return;
        }
        if (!admission_allows(e->cfg, cmd, clock_wall_s(), &r) || !actions_policy_allows(&ctx, cmd, &r)) {
                refuse(e, cmd, &r);
                action_result_clear(&r);
                return;
        }
        if (pack_request(cmd, &raw, &raw_len) < 0)
                return;
        rc = journal_command_begin(e->journal, id, command_action_name(cmd), raw, raw_len, "", cmd->upgrade_id);
        free(raw);
        if (rc < 0) {
                log_error("journal: cannot record command %s: %s", id, journal_last_error(e->journal));
                return;
        }
        send_state(e, id, JCMD_ACCEPTED, "accepted", NULL);
        /* Nothing runs before the journal says so ("durable before it is
         * reported"): it fails instead, and the failure is recorded if the
         * journal still takes it. */
        rc = journal_command_set_state(e->journal, id, JCMD_RUNNING);
        if (rc < 0) {
                log_error("journal: cannot record that %s runs: %s", id, journal_last_error(e->journal));
                action_result_set(&r, JCMD_FAILED, "journal", "not run: the journal cannot record that it runs: %s",
                                  journal_last_error(e->journal));
                finish(e, id, command_action_name(cmd), &r);
                return;
        }
        snprintf(e->current_id, sizeof e->current_id, "%s", id);
        log_info("running %s %s", command_action_name(cmd), id);
        atomic_store(&e->busy, true);
        actions_run(&ctx, cmd, &r);
        atomic_store(&e->busy, false);
        log_info("%s %s: %s%s%s", command_action_name(cmd), id, journal_state_name(r.state), r.message[0] ? ": " : "",
                 r.message);
        /* First: the main thread reads both when the status arrives. */
        refresh_drained(e);
        if (action_changes_node(e->cfg, cmd))
                atomic_fetch_add(&e->changes, 1);
        finish(e, id, command_action_name(cmd), &r);
        action_result_clear(&r);
        prune_journal(e);
}

/* Every id is answered: a query is bounded by max_message_bytes, and
 * s_send_to_main paces the answers to what the link takes. */
static void answer_query(executor_t *e, const Hitless__CommandQuery *q) {
        for (size_t i = 0; i < q->n_command_ids; i++) {
                journal_command_t c;
                if (journal_command_get(e->journal, q->command_ids[i], &c) == 0) {
                        replay(e, &c);
                        journal_command_clear(&c);
                } else {
                        action_result_t r = { 0 };
                        action_result_set(&r, 0, "unknown-command", "this agent has no record of it");
                        send_state(e, q->command_ids[i], 0, NULL, &r);
                }
        }
}

static int report_one(const journal_command_t *c, void *ud) {
        executor_t *e = ud;
        uint8_t *buf;
        size_t len;
        if (local_report_pack(e->journal, c, &buf, &len) < 0) {
                log_warning("journal: local command %s cannot be reported (no request or result recorded)", c->id);
                return 0;
        }
        s_send_to_main(e, buf, len);
        free(buf);
        return 0;
}

/* Marks what the coordinator acknowledged, then reports the local
 * commands still unacknowledged (an empty ack is executor_report_local's
 * request). Until acknowledged, each is sent again at the next request. */
static void report_local(executor_t *e, const Hitless__LocalCommandAck *ack) {
        if (ack->n_command_ids == 0)
                atomic_store(&e->report_queued, false);
        if (local_report_acknowledged(e->journal, ack) < 0)
                log_warning("journal: cannot record that the coordinator has a local command: %s",
                            journal_last_error(e->journal));
        if (journal_local_unreported(e->journal, LOCAL_REPORT_MAX, report_one, e) < 0)
                log_warning("journal: cannot read the local commands to report: %s",
                            journal_last_error(e->journal));
}

/* The agent died mid-command: record it interrupted, with the node's real
 * state, and never run it again. */
static int mark_interrupted(const journal_command_t *c, void *ud) {
        executor_t *e = ud;
        action_ctx_t ctx = { e->cfg, e->journal, NULL, NULL };
        action_result_t r = { 0 };
        actions_describe_real_state(&ctx, c, &r);
        log_warning("command %s (%s) was unfinished at start: %s", c->id, c->kind, r.message);
        finish(e, c->id, c->kind, &r);
        action_result_clear(&r);
        return 0;
}

static void *worker(void *arg) {
        executor_t *e = arg;
        /* mark_interrupted itself never fails the walk. Commands it did not
         * reach stay unfinished and are reported at the next start. */
        if (journal_commands_unfinished(e->journal, mark_interrupted, e) < 0)
                log_error("journal: cannot read the commands unfinished at start: %s",
                          journal_last_error(e->journal));
        prune_journal(e);
        for (;;) {
                zmq_msg_t msg;
                Hitless__CoordinatorMessage *m;
                zmq_msg_init(&msg);
                if (zmq_msg_recv(&msg, e->worker_end, 0) < 0) {
                        zmq_msg_close(&msg);
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (zmq_msg_size(&msg) == 0) {  /* stop */
                        zmq_msg_close(&msg);
                        break;
                }
                if (codec_decode_coordinator(zmq_msg_data(&msg), zmq_msg_size(&msg), SIZE_MAX, &m) == 0) {
                        if (m->body_case == HITLESS__COORDINATOR_MESSAGE__BODY_COMMAND)
                                run_command(e, m->command);
                        else if (m->body_case == HITLESS__COORDINATOR_MESSAGE__BODY_COMMAND_QUERY)
                                answer_query(e, m->command_query);
                        else if (m->body_case == HITLESS__COORDINATOR_MESSAGE__BODY_LOCAL_COMMAND_ACK)
                                report_local(e, m->local_command_ack);
                        hitless__coordinator_message__free_unpacked(m, NULL);
                }
                zmq_msg_close(&msg);
        }
        return NULL;
}

/* mkdir -p: a fresh node may not have /var/lib/hitless yet. */
static int mkdir_parents(const char *path, mode_t mode) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", path);
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int executor_new(void *ctx, const agent_config_t *cfg, executor_t **ret) {
        executor_t *e = calloc(1, sizeof *e);
        char path[4200], ep[64];
        int linger = 0, r;

        if (!e)
                return -ENOMEM;
        e->cfg = cfg;
        pthread_mutex_init(&e->last_lock, NULL);
        r = mkdir_parents(cfg->state_dir, 0700);
        if (r < 0) {
                free(e);
                return r;
        }
        snprintf(path, sizeof path, "%s/journal.db", cfg->state_dir);
        r = journal_open(path, &e->journal);
        if (r < 0) {
                free(e);
                return r;
        }
        refresh_drained(e);   /* before the worker starts: the first heartbeat is right */
        /* A counter, not the address: a new executor may reuse the old
         * one's memory before libzmq has released the old endpoint. */
        static atomic_uint generation;
        snprintf(ep, sizeof ep, "inproc://executor-%u", atomic_fetch_add(&generation, 1));
        e->worker_end = zmq_socket(ctx, ZMQ_PAIR);
        e->main_end = zmq_socket(ctx, ZMQ_PAIR);
        zmq_setsockopt(e->worker_end, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(e->main_end, ZMQ_LINGER, &linger, sizeof linger);
        if (zmq_bind(e->worker_end, ep) < 0 || zmq_connect(e->main_end, ep) < 0 ||
            pthread_create(&e->thread, NULL, worker, e) != 0) {
                (void) executor_destroy(&e);  /* not started: no command runs, always false */
                return -EIO;
        }
        e->started = true;
        *ret = e;
        return 0;
}

void executor_last(executor_t *e, executor_last_t *ret) {
        pthread_mutex_lock(&e->last_lock);
        *ret = e->last;
        pthread_mutex_unlock(&e->last_lock);
}

bool executor_busy(executor_t *e) {
        return atomic_load(&e->busy);
}

bool executor_drained(executor_t *e) {
        return atomic_load(&e->drained);
}

uint64_t executor_changes(executor_t *e) {
        return atomic_load(&e->changes);
}

bool executor_destroy(executor_t **ep) {
        executor_t *e = *ep;
        if (!e)
                return false;
        if (e->started && atomic_load(&e->busy)) {
                /* Never wait for a running command: when apt upgrades the
                 * agent itself, its postinst restarts us and waits, and we
                 * would wait for apt. The process exits with the command
                 * RUNNING in the journal; the next start reports it
                 * interrupted, with the node's real state. */
                log_warning("stopping while command %s runs; it will be reported after restart",
                            e->current_id);
                *ep = NULL;
                return true;
        }
        if (e->started) {
                atomic_store(&e->stopping, true);
                zmq_send(e->main_end, "", 0, 0);
                pthread_join(e->thread, NULL);
        }
        if (e->main_end)
                zmq_close(e->main_end);
        if (e->worker_end)
                zmq_close(e->worker_end);
        journal_close(&e->journal);
        pthread_mutex_destroy(&e->last_lock);
        free(e);
        *ep = NULL;
        return false;
}

int executor_submit(executor_t *e, const Hitless__CoordinatorMessage *m) {
        uint8_t *buf;
        size_t len;
        int r = codec_encode(&m->base, &buf, &len);
        if (r < 0)
                return r;
        r = zmq_send(e->main_end, buf, len, ZMQ_DONTWAIT) < 0 ? -errno : 0;
        free(buf);
        return r;
}

int executor_report_local(executor_t *e) {
        Hitless__CoordinatorMessage m = HITLESS__COORDINATOR_MESSAGE__INIT;
        Hitless__LocalCommandAck none = HITLESS__LOCAL_COMMAND_ACK__INIT;
        if (atomic_exchange(&e->report_queued, true))
                return 0;   /* one request waits already (the worker is busy) */
        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.body_case = HITLESS__COORDINATOR_MESSAGE__BODY_LOCAL_COMMAND_ACK;
        m.local_command_ack = &none;
        int r = executor_submit(e, &m);
        if (r < 0)
                atomic_store(&e->report_queued, false);
        return r;
}

void *executor_socket(executor_t *e) {
        return e->main_end;
}
