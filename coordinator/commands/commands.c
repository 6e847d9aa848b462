#include "coordinator/commands/commands.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/clock.h"
#include "common/ids.h"
#include "common/log.h"

#define DEFAULT_WAIT_S 600
/* Agents refuse a deadline further ahead than their max_command_deadline
 * (default 3600 s): a longer --wait still waits, but the command must
 * reach the agent within this. */
#define MAX_DEADLINE_S 3600
#define MAX_WAITERS 256
/* The sweep (commands_tick): how often, and how long a command may go
 * unheard of before its node is asked about it again. */
#define REQUERY_INTERVAL_MS 30000
#define QUIET_S 60
#define MAX_REQUERY_NODES 256

typedef struct {
        char id[64];
        int64_t deadline_ms;
        commands_reply_fn reply;
        void *token;
} waiter_t;

struct commands {
        store_t *store;
        fleet_t *fleet;
        commands_sender_t sender;
        waiter_t waiters[MAX_WAITERS];
        size_t n_waiters;
        struct {
                commands_observer_fn fn;
                void *ud;
        } observers[COMMANDS_MAX_OBSERVERS];
        bool requery;        /* a status could not be recorded: ask again */
        int64_t next_sweep_ms;
        commands_local_fn local_fn;
        void *local_ud;
};

static bool is_final(int state) {
        return state >= HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED;
}

int commands_new(store_t *store, fleet_t *fleet, const commands_sender_t *sender, commands_t **ret) {
        if (!store || !fleet || !sender || !sender->send || !ret)
                return -EINVAL;
        commands_t *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->store = store;
        c->fleet = fleet;
        c->sender = *sender;
        *ret = c;
        return 0;
}

void commands_destroy(commands_t **cp) {
        commands_t *c = *cp;
        if (!c)
                return;
        /* Waiting admins get no answer: their hitlessctl reports the
         * coordinator unreachable, and the command stays in the store. */
        for (size_t i = 0; i < c->n_waiters; i++)
                free(c->waiters[i].token);
        free(c);
        *cp = NULL;
}

static void reply_error(commands_reply_fn reply, void *token, Hitless__AdminStatus status, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void reply_error(commands_reply_fn reply, void *token, Hitless__AdminStatus status, const char *fmt, ...) {
        Hitless__AdminResponse resp = HITLESS__ADMIN_RESPONSE__INIT;
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        resp.protocol_version = HITLESS_PROTOCOL_VERSION;
        resp.status = status;
        resp.error = msg;
        reply(token, &resp);
}

/* Answers with the command's current status (st may be NULL: only sent). */
static void reply_status(commands_reply_fn reply, void *token, const char *id, const char *node_id,
                         const Hitless__CommandStatus *st, const char *note) {
        Hitless__AdminResponse resp = HITLESS__ADMIN_RESPONSE__INIT;
        Hitless__CommandResult res = HITLESS__COMMAND_RESULT__INIT;
        Hitless__CommandStatus sent = HITLESS__COMMAND_STATUS__INIT;
        resp.protocol_version = HITLESS_PROTOCOL_VERSION;
        res.command_id = (char *) id;
        res.node_id = (char *) node_id;
        sent.command_id = (char *) id;
        sent.progress = (char *) (note ? note : "sent");
        res.status = st ? (Hitless__CommandStatus *) st : &sent;
        resp.body_case = HITLESS__ADMIN_RESPONSE__BODY_COMMAND_RESULT;
        resp.command_result = &res;
        reply(token, &resp);
}

static void new_command_id(char *buf, size_t len) {
        uint8_t r[8] = { 0 };
        if (getrandom(r, sizeof r, 0) != (ssize_t) sizeof r)
                for (size_t i = 0; i < sizeof r; i++)
                        r[i] = (uint8_t) random();
        snprintf(buf, len, "cmd-%lld-%02x%02x%02x%02x%02x%02x%02x%02x", (long long) clock_wall_s(), r[0], r[1],
                 r[2], r[3], r[4], r[5], r[6], r[7]);
}

typedef struct {
        bool found;
        char node_id[NODE_ID_MAX + 1];
        int state;
        Hitless__CommandStatus *status;   /* unpacked result, owned */
} lookup_t;

static int on_lookup(const command_record_t *rec, void *ud) {
        lookup_t *l = ud;
        l->found = true;
        snprintf(l->node_id, sizeof l->node_id, "%s", rec->node_id);
        l->state = rec->state;
        if (rec->result && rec->result_len)
                l->status = hitless__command_status__unpack(NULL, rec->result_len, rec->result);
        return 0;
}

/* Writes cmd and the event that places it in history (kind, msg), in the
 * caller's transaction. state and result: as known now (0 and NULL for a
 * command about to be sent). */
static int s_put_command(commands_t *c, const Hitless__Command *cmd, const char *actor, const char *kind,
                         const char *msg, int state, const uint8_t *result, size_t result_len) {
        command_record_t rec = { 0 };
        uint8_t *buf;
        size_t len;

        if (!command_action_name(cmd) || !command_id_valid(cmd->command_id))
                return -EINVAL;
        if (codec_encode(&cmd->base, &buf, &len) < 0)
                return -ENOMEM;
        snprintf(rec.id, sizeof rec.id, "%s", cmd->command_id);
        snprintf(rec.node_id, sizeof rec.node_id, "%s", cmd->node_id);
        snprintf(rec.kind, sizeof rec.kind, "%s", command_action_name(cmd));
        snprintf(rec.actor, sizeof rec.actor, "%s", actor);
        rec.state = state;
        rec.request = buf;
        rec.request_len = len;
        rec.created = rec.updated = clock_wall_s();
        int r = store_event_append(c->store, rec.created, rec.node_id, kind, actor, msg, &rec.sent_event);
        if (r >= 0)
                r = store_command_put(c->store, &rec);
        if (r >= 0 && result)   /* the row is put as sent; a known result follows */
                r = store_command_update(c->store, rec.id, state, result, result_len, rec.updated);
        free(buf);
        return r;
}

int commands_record(commands_t *c, const Hitless__Command *cmd, const char *actor) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s %s sent", command_action_name(cmd) ? command_action_name(cmd) : "?",
                 cmd->command_id);
        return s_put_command(c, cmd, actor, "command.sent", msg, 0, NULL, 0);
}

int commands_deliver(commands_t *c, const Hitless__Command *cmd) {
        Hitless__CoordinatorMessage m = HITLESS__COORDINATOR_MESSAGE__INIT;
        node_t *n = fleet_find(c->fleet, cmd->node_id);
        if (!n || !n->online)
                return -ENOTCONN;
        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.body_case = HITLESS__COORDINATOR_MESSAGE__BODY_COMMAND;
        m.command = (Hitless__Command *) cmd;
        return c->sender.send(c->sender.ud, n, &m);
}

int commands_set_observer(commands_t *c, commands_observer_fn fn, void *ud) {
        size_t free_slot = COMMANDS_MAX_OBSERVERS;
        for (size_t i = 0; i < COMMANDS_MAX_OBSERVERS; i++) {
                if (c->observers[i].fn && c->observers[i].ud == ud) {
                        c->observers[i].fn = fn;
                        return 0;
                }
                if (!c->observers[i].fn && free_slot == COMMANDS_MAX_OBSERVERS)
                        free_slot = i;
        }
        if (!fn)
                return 0;
        if (free_slot == COMMANDS_MAX_OBSERVERS)
                return -ENOSPC;
        c->observers[free_slot].fn = fn;
        c->observers[free_slot].ud = ud;
        return 0;
}

static void s_notify(commands_t *c, const char *node_id, const Hitless__CommandStatus *st) {
        for (size_t i = 0; i < COMMANDS_MAX_OBSERVERS; i++)
                if (c->observers[i].fn)
                        c->observers[i].fn(c->observers[i].ud, node_id, st);
}

void commands_submit(commands_t *c, const Hitless__CommandRequest *req, const char *actor,
                     commands_reply_fn reply, void *token, int64_t now_ms) {
        Hitless__Command cmd;
        lookup_t known = { 0 };
        char id[64];
        uint32_t wait_s = req->timeout_s ? req->timeout_s : DEFAULT_WAIT_S;
        node_t *n;

        if (!req->command || !command_action_name(req->command)) {
                reply_error(reply, token, HITLESS__ADMIN_STATUS__ADMIN_BAD_REQUEST, "no action given");
                return;
        }
        cmd = *req->command;
        if (cmd.command_id[0] && !command_id_valid(cmd.command_id)) {
                reply_error(reply, token, HITLESS__ADMIN_STATUS__ADMIN_BAD_REQUEST,
                            "a command id is 1-63 of [A-Za-z0-9._-]");
                return;
        }
        /* A known id is answered from the store, never sent twice. */
        if (cmd.command_id[0] && store_command_get(c->store, cmd.command_id, on_lookup, &known) == 0) {
                if (strcmp(known.node_id, cmd.node_id) != 0)
                        reply_error(reply, token, HITLESS__ADMIN_STATUS__ADMIN_FAILED,
                                    "command id %s was used for node %s", cmd.command_id, known.node_id);
                else if (is_final(known.state) || req->no_wait)
                        reply_status(reply, token, cmd.command_id, known.node_id, known.status, "recorded");
                else
                        goto wait_existing;
                if (known.status)
                        hitless__command_status__free_unpacked(known.status, NULL);
                return;
        }
        n = fleet_find(c->fleet, cmd.node_id);
        if (!n) {
                reply_error(reply, token, HITLESS__ADMIN_STATUS__ADMIN_FAILED, "unknown node %.64s", cmd.node_id);
                return;
        }
        if (!n->online || !n->registered) {
                reply_error(reply, token, HITLESS__ADMIN_STATUS__ADMIN_FAILED, "node %s is unreachable", n->id);
                return;
        }
        if (cmd.command_id[0])
                snprintf(id, sizeof id, "%s", cmd.command_id);
        else
                new_command_id(id, sizeof id);
        cmd.command_id = id;
        cmd.node_id = n->id;
        cmd.deadline = clock_wall_s() + (wait_s < MAX_DEADLINE_S ? wait_s : MAX_DEADLINE_S);
        /* Committed before it is sent: a coordinator killed right after
         * sending still knows to ask the agent about it. */
        int r = store_begin(c->store);
        if (r >= 0)
                r = commands_record(c, &cmd, actor);
        if (r >= 0)
                r = store_commit(c->store);
        else
                (void) store_rollback(c->store);   /* the first error is the one reported */
        if (r < 0) {
                reply_error(reply, token, HITLESS__ADMIN_STATUS__ADMIN_FAILED, "store: %s",
                            store_last_error(c->store));
                return;
        }
        commands_deliver(c, &cmd);
        log_node(LOG_INFO, n->id, "%s %s sent by %s", command_action_name(&cmd), id, actor);
        if (req->no_wait) {
                reply_status(reply, token, id, n->id, NULL, "sent");
                return;
        }
        snprintf(known.node_id, sizeof known.node_id, "%s", n->id);
        cmd.command_id = id;
wait_existing:
        if (known.status)
                hitless__command_status__free_unpacked(known.status, NULL);
        if (c->n_waiters == MAX_WAITERS) {
                reply_status(reply, token, cmd.command_id, known.node_id, NULL, "sent; too many waiting clients");
                return;
        }
        waiter_t *w = &c->waiters[c->n_waiters++];
        snprintf(w->id, sizeof w->id, "%s", cmd.command_id);
        w->deadline_ms = now_ms + (int64_t) wait_s * 1000;
        w->reply = reply;
        w->token = token;
}

/* Answers (and forgets) every waiter for id. */
static void answer_waiters(commands_t *c, const char *id, const char *node_id, const Hitless__CommandStatus *st) {
        size_t kept = 0;
        for (size_t i = 0; i < c->n_waiters; i++) {
                waiter_t *w = &c->waiters[i];
                if (strcmp(w->id, id) == 0)
                        reply_status(w->reply, w->token, id, node_id, st, NULL);
                else
                        c->waiters[kept++] = *w;
        }
        c->n_waiters = kept;
}

void commands_on_status(commands_t *c, const char *node_id, const Hitless__CommandStatus *st) {
        lookup_t known = { 0 };
        uint8_t *buf;
        size_t len;

        if (store_command_get(c->store, st->command_id, on_lookup, &known) < 0 ||
            strcmp(known.node_id, node_id) != 0) {
                log_node(LOG_WARNING, node_id, "status for a command it was not sent (%.64s), ignored", st->command_id);
                goto out;
        }
        if (st->state == HITLESS__COMMAND_STATE__COMMAND_STATE_UNSPECIFIED) {
                /* The agent has no record of it: it never arrived. */
                log_node(LOG_WARNING, node_id, "agent has no record of %s: %s", st->command_id, st->message);
                if (known.state == HITLESS__COMMAND_STATE__COMMAND_STATE_UNSPECIFIED)
                        s_notify(c, node_id, st);
                goto out;
        }
        if (is_final(known.state) || (int) st->state < known.state)
                goto out;  /* stale or repeated */
        if (codec_encode(&st->base, &buf, &len) < 0)
                goto out;
        int r = store_begin(c->store);
        if (r >= 0)
                r = store_command_update(c->store, st->command_id, (int) st->state, buf, len, clock_wall_s());
        if (r >= 0 && is_final((int) st->state)) {
                char kind[32], msg[512];
                snprintf(kind, sizeof kind, "command.%s", command_state_name(st->state));
                snprintf(msg, sizeof msg, "%s%s%s", st->command_id, st->message[0] ? ": " : "", st->message);
                r = store_event_append(c->store, clock_wall_s(), node_id, kind, "agent", msg, NULL);
        }
        if (r >= 0)
                r = store_commit(c->store);
        else
                (void) store_rollback(c->store);   /* the first error is the one reported */
        free(buf);
        if (r < 0) {
                /* The agent's journal keeps it: asked again once the store
                 * writes (commands_on_store_recovered). */
                c->requery = true;
                log_node(store_health_log_level(store_health(c->store)), node_id,
                         "store: cannot record the status of %s (%s): it is asked for again once the store "
                         "writes", st->command_id, store_last_error(c->store));
                goto out;
        }
        if (is_final((int) st->state)) {
                log_node(st->state == HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED ? LOG_INFO : LOG_WARNING, node_id,
                         "%s %s%s%s", st->command_id, command_state_name(st->state), st->message[0] ? ": " : "",
                         st->message);
                answer_waiters(c, st->command_id, node_id, st);
                s_notify(c, node_id, st);
        }
out:
        if (known.status)
                hitless__command_status__free_unpacked(known.status, NULL);
}

void commands_set_local_observer(commands_t *c, commands_local_fn fn, void *ud) {
        c->local_fn = fn;
        c->local_ud = ud;
}

/* Records a local command once, as run by actor (one transaction). */
static int s_record_local(commands_t *c, const Hitless__LocalCommand *lc, const char *actor) {
        const Hitless__CommandStatus *st = lc->status;
        uint8_t *buf;
        size_t len;
        char msg[512];

        if (codec_encode(&st->base, &buf, &len) < 0)
                return -ENOMEM;
        snprintf(msg, sizeof msg, "%s %s run on the node: %s%s%s", command_action_name(lc->command),
                 lc->command->command_id, command_state_name(st->state), st->message[0] ? ": " : "", st->message);
        int r = store_begin(c->store);
        if (r >= 0)
                r = s_put_command(c, lc->command, actor, "command.local", msg, (int) st->state, buf, len);
        if (r >= 0)
                r = store_commit(c->store);
        else
                (void) store_rollback(c->store);   /* the first error is the one reported */
        free(buf);
        return r;
}

static void s_ack_local(commands_t *c, const char *node_id, const char *id) {
        Hitless__CoordinatorMessage m = HITLESS__COORDINATOR_MESSAGE__INIT;
        Hitless__LocalCommandAck ack = HITLESS__LOCAL_COMMAND_ACK__INIT;
        char *ids[1] = { (char *) id };
        node_t *n = fleet_find(c->fleet, node_id);
        if (!n)
                return;
        ack.n_command_ids = 1;
        ack.command_ids = ids;
        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.body_case = HITLESS__COORDINATOR_MESSAGE__BODY_LOCAL_COMMAND_ACK;
        m.local_command_ack = &ack;
        (void) c->sender.send(c->sender.ud, n, &m);   /* unacknowledged: the agent reports it again */
}

void commands_on_local(commands_t *c, const char *node_id, const Hitless__LocalCommand *lc) {
        const char *id = lc->command->command_id;
        lookup_t known = { 0 };
        char actor[64];

        snprintf(actor, sizeof actor, "local:%s", node_id);
        int r = store_command_get(c->store, id, on_lookup, &known);
        if (r == -ENOENT) {
                r = s_record_local(c, lc, actor);
                if (r < 0) {
                        log_node(store_health_log_level(store_health(c->store)), node_id,
                                 "store: cannot record local command %s (%s): the agent reports it again",
                                 id, store_last_error(c->store));
                        goto out;
                }
                log_node(lc->status->state == HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED ? LOG_NOTICE : LOG_WARNING,
                         node_id, "%s %s was run on the node (%s): %s%s%s", command_action_name(lc->command), id,
                         actor, command_state_name(lc->status->state), lc->status->message[0] ? ": " : "",
                         lc->status->message);
        } else if (r < 0) {
                log_node(LOG_WARNING, node_id, "store: cannot look up local command %s: %s", id,
                         store_last_error(c->store));
                goto out;
        } else if (strcmp(known.node_id, node_id) != 0) {
                log_node(LOG_WARNING, node_id, "local command %s is recorded for node %s, ignored", id, known.node_id);
                goto out;
        }
        /* Acknowledged only once its owner has followed it too: a report
         * repeated after a failure there is recorded once, followed again. */
        if (c->local_fn && c->local_fn(c->local_ud, node_id, lc) < 0)
                goto out;
        s_ack_local(c, node_id, id);
out:
        if (known.status)
                hitless__command_status__free_unpacked(known.status, NULL);
}

typedef struct {
        char **ids;
        size_t n, cap;
} id_list_t;

static int collect_id(const command_record_t *rec, void *ud) {
        id_list_t *l = ud;
        if (l->n < l->cap)
                l->ids[l->n++] = strdup(rec->id);
        return 0;
}

void commands_on_hello(commands_t *c, node_t *n) {
        Hitless__CoordinatorMessage m = HITLESS__COORDINATOR_MESSAGE__INIT;
        Hitless__CommandQuery q = HITLESS__COMMAND_QUERY__INIT;
        char *ids[256];
        id_list_t l = { ids, 0, 256 };

        if (store_commands_unfinished(c->store, n->id, HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED, collect_id, &l) < 0) {
                /* Asked with what was read; the rest once the store works. */
                c->requery = true;
                log_node(LOG_WARNING, n->id, "cannot read its unfinished commands: %s", store_last_error(c->store));
        }
        if (l.n == 0)
                return;
        q.n_command_ids = l.n;
        q.command_ids = l.ids;
        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.body_case = HITLESS__COORDINATOR_MESSAGE__BODY_COMMAND_QUERY;
        m.command_query = &q;
        (void) c->sender.send(c->sender.ud, n, &m);   /* unsent: asked again at the next Hello */
        log_node(LOG_INFO, n->id, "asked for the results of %zu unfinished command%s", l.n, l.n == 1 ? "" : "s");
        for (size_t i = 0; i < l.n; i++)
                free(l.ids[i]);
}

static int requery_node(node_t *n, void *ud) {
        if (n->online)
                commands_on_hello(ud, n);
        return 0;
}

void commands_on_store_recovered(commands_t *c) {
        if (!c->requery)
                return;
        c->requery = false;
        log_info("store writes again: asking online agents for results it could not record");
        fleet_foreach_sorted(c->fleet, requery_node, c);
}

typedef struct {
        char nodes[MAX_REQUERY_NODES][NODE_ID_MAX + 1];
        size_t n;
        int64_t quiet_before;   /* unix seconds */
} quiet_t;

static int collect_quiet(const command_record_t *rec, void *ud) {
        quiet_t *q = ud;
        if (rec->updated >= q->quiet_before)
                return 0;
        for (size_t i = 0; i < q->n; i++)
                if (strcmp(q->nodes[i], rec->node_id) == 0)
                        return 0;
        if (q->n == MAX_REQUERY_NODES)
                return 1;   /* the rest at the next sweep */
        snprintf(q->nodes[q->n++], sizeof q->nodes[0], "%s", rec->node_id);
        return 0;
}

/* A command sent (or running) and not heard of for QUIET_S: its message,
 * or the agent's status, may have been lost on a connection that stayed
 * up. Its node is asked again, which answers it from the journal; one
 * that never arrived is delivered again by its owner, under the same id
 * (past its deadline the agent refuses it: it ends either way). */
static void s_sweep(commands_t *c) {
        quiet_t *q = calloc(1, sizeof *q);
        if (!q)
                return;
        q->quiet_before = clock_wall_s() - QUIET_S;
        int r = store_commands_unfinished(c->store, NULL, HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED, collect_quiet, q);
        if (r < 0)
                log_warning("store: cannot read the unfinished commands: %s", store_last_error(c->store));
        for (size_t i = 0; i < q->n; i++) {
                node_t *n = fleet_find(c->fleet, q->nodes[i]);
                if (n && n->online && n->registered)
                        commands_on_hello(c, n);
        }
        free(q);
}

void commands_tick(commands_t *c, int64_t now_ms) {
        size_t kept = 0;
        if (now_ms >= c->next_sweep_ms) {
                if (c->next_sweep_ms)
                        s_sweep(c);
                c->next_sweep_ms = now_ms + REQUERY_INTERVAL_MS;
        }
        for (size_t i = 0; i < c->n_waiters; i++) {
                waiter_t *w = &c->waiters[i];
                if (w->deadline_ms > now_ms) {
                        c->waiters[kept++] = *w;
                        continue;
                }
                reply_error(w->reply, w->token, HITLESS__ADMIN_STATUS__ADMIN_FAILED,
                            "no result for %s in time; it may still be running (hitlessctl events)", w->id);
        }
        c->n_waiters = kept;
}

int64_t commands_next_due(const commands_t *c) {
        int64_t due = c->next_sweep_ms ? c->next_sweep_ms : INT64_MAX;
        for (size_t i = 0; i < c->n_waiters; i++)
                if (c->waiters[i].deadline_ms < due)
                        due = c->waiters[i].deadline_ms;
        return due;
}
