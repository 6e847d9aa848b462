#include "coordinator/admin/admin_jobs.h"
#include "coordinator/admin/admin.h"

#include <errno.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "common/admin_protocol.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/log.h"
#include "coordinator/admin/admin_history.h"
#include "coordinator/admin/admin_keys.h"
#include "coordinator/admin/admin_plan.h"
#include "coordinator/admin/admin_status.h"
#include "coordinator/admin/admin_upgrade.h"

struct admin {
        void *socket;
        char path[4096];
        admin_deps_t d;
};

void *admin_socket(admin_t *a) {
        return a->socket;
}

/* Why an existing directory is not one the coordinator may put its socket
 * in (and tighten to 0750), or NULL when it is ours. Changing the mode of a
 * shared directory such as /tmp would break every other user of it, and a
 * directory others can write to lets them replace the socket. */
static const char *s_foreign_dir_reason(const struct stat *st) {
        if (!S_ISDIR(st->st_mode))
                return "not a directory (or a symbolic link)";
        if (st->st_uid != geteuid())
                return "owned by another user";
        if (st->st_mode & S_ISVTX)
                return "a sticky shared directory";
        if (st->st_mode & (S_IWGRP | S_IWOTH))
                return "writable by group or others";
        return NULL;
}

/* Creates the socket's dedicated directory (0750), or accepts an existing
 * one that is ours (e.g. systemd's RuntimeDirectory) and tightens it to
 * 0750. -EPERM, logged with the path and the reason, for any other. */
static int s_own_socket_dir(const char *dir) {
        struct stat st;
        if (mkdir(dir, 0750) == 0)
                return 0;
        if (errno != EEXIST)
                return -errno;
        if (lstat(dir, &st) < 0)
                return -errno;
        const char *why = s_foreign_dir_reason(&st);
        if (why) {
                log_error("admin_socket directory %s is %s (mode %04o, uid %u); refusing to use it: "
                          "point admin_socket into a directory of its own, which the coordinator creates",
                          dir, why, (unsigned) (st.st_mode & 07777), (unsigned) st.st_uid);
                return -EPERM;
        }
        if (chmod(dir, 0750) < 0)
                log_warning("cannot set mode 0750 on %s: %m", dir);
        return 0;
}

int admin_new(void *ctx, const char *path, const admin_deps_t *deps, admin_t **ret) {
        admin_t *a = calloc(1, sizeof *a);
        char dir[4096], endpoint[4200];
        int64_t maxmsg = ADMIN_MAX_REQUEST;
        int linger = 0;

        if (!a)
                return -ENOMEM;
        a->d = *deps;
        snprintf(a->path, sizeof a->path, "%s", path);
        snprintf(dir, sizeof dir, "%s", path);
        dirname(dir);
        int r = s_own_socket_dir(dir);
        if (r < 0) {
                free(a);
                return r;
        }
        unlink(path);  /* a stale socket from a killed coordinator */
        a->socket = zmq_socket(ctx, ZMQ_ROUTER);
        if (!a->socket) {
                free(a);
                return -errno;
        }
        zmq_setsockopt(a->socket, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(a->socket, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
        snprintf(endpoint, sizeof endpoint, "ipc://%s", path);
        if (zmq_bind(a->socket, endpoint) < 0) {
                int e = errno;
                zmq_close(a->socket);
                free(a);
                return -e;
        }
        /* Under UMask=0077 the socket would be root's alone; the 0750
         * directory already limits it to the coordinator's group. */
        if (chmod(path, 0660) < 0)
                log_warning("cannot set mode 0660 on %s: %m", path);
        *ret = a;
        return 0;
}

void admin_destroy(admin_t **ap) {
        admin_t *a = *ap;
        if (!a)
                return;
        zmq_close(a->socket);
        unlink(a->path);
        free(a);
        *ap = NULL;
}

/* "unix:USER" for the process at the other end of the connection. */
static void peer_actor(int fd, char *buf, size_t len) {
        struct ucred cred;
        socklen_t cl = sizeof cred;
        snprintf(buf, len, "unix:unknown");
        if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0)
                return;
        struct passwd *pw = getpwuid(cred.uid);
        if (pw)
                snprintf(buf, len, "unix:%s", pw->pw_name);
        else
                snprintf(buf, len, "unix:uid=%u", (unsigned) cred.uid);
}

static void do_nodes(admin_t *a, Hitless__AdminResponse *resp, Hitless__NodeList *list,
                     admin_node_vec_t *vec) {
        if (admin_nodes_collect(a->d.fleet, vec) < 0) {
                resp->status = HITLESS__ADMIN_STATUS__ADMIN_FAILED;
                resp->error = "out of memory";
                return;
        }
        list->n_nodes = vec->n;
        list->nodes = vec->v;
        resp->body_case = HITLESS__ADMIN_RESPONSE__BODY_NODES;
        resp->nodes = list;
}

typedef struct {
        Hitless__Event **v;
        Hitless__Event *items;
        event_record_t *recs;
        size_t n, cap;
} event_vec_t;

static int collect_event(const event_record_t *ev, void *ud) {
        event_vec_t *ev_vec = ud;
        if (ev_vec->n == ev_vec->cap)
                return 1;
        event_record_t *rec = &ev_vec->recs[ev_vec->n];
        Hitless__Event *e = &ev_vec->items[ev_vec->n];
        *rec = *ev;
        hitless__event__init(e);
        e->id = rec->id;
        e->time = rec->time;
        e->node_id = rec->node_id;
        e->kind = rec->kind;
        e->actor = rec->actor;
        e->message = rec->message;
        e->count = (uint64_t) rec->count;
        e->last_time = rec->last_time;
        ev_vec->v[ev_vec->n++] = e;
        return 0;
}

static void do_events(admin_t *a, const Hitless__EventsRequest *req, Hitless__AdminResponse *resp,
                      Hitless__EventList *list, event_vec_t *ev) {
        uint32_t limit = req->limit ? req->limit : 100;
        if (limit > 10000)
                limit = 10000;
        /* Node events wait for the next flush; show everything known. */
        if (fleet_flush(a->d.fleet) < 0)
                log_warning("store: cannot save node state: %s", store_last_error(a->d.store));
        ev->cap = limit;
        ev->v = calloc(limit, sizeof *ev->v);
        ev->items = calloc(limit, sizeof *ev->items);
        ev->recs = calloc(limit, sizeof *ev->recs);
        if (!ev->v || !ev->items || !ev->recs ||
            store_events_foreach(a->d.store, req->node_id, limit, collect_event, ev) < 0) {
                resp->status = HITLESS__ADMIN_STATUS__ADMIN_FAILED;
                resp->error = "cannot read events from the store";
                return;
        }
        list->n_events = ev->n;
        list->events = ev->v;
        resp->body_case = HITLESS__ADMIN_RESPONSE__BODY_EVENTS;
        resp->events = list;
}

static void reply(admin_t *a, zmq_msg_t *rid, const Hitless__AdminResponse *resp) {
        uint8_t *buf;
        size_t len;
        if (codec_encode(&resp->base, &buf, &len) < 0)
                return;
        zmq_msg_t id;
        zmq_msg_init(&id);
        zmq_msg_copy(&id, rid);
        /* REQ clients expect an empty delimiter frame. */
        if (zmq_msg_send(&id, a->socket, ZMQ_SNDMORE) < 0)
                zmq_msg_close(&id);
        else if (zmq_send(a->socket, "", 0, ZMQ_SNDMORE) >= 0)
                zmq_send(a->socket, buf, len, 0);
        free(buf);
}

/* A command's answer comes later: the request's routing id is kept. */
typedef struct {
        admin_t *a;
        size_t len;
        uint8_t rid[256];
} deferred_t;

static void reply_deferred(void *token, const Hitless__AdminResponse *resp) {
        deferred_t *d = token;
        zmq_msg_t rid;
        zmq_msg_init_size(&rid, d->len);
        memcpy(zmq_msg_data(&rid), d->rid, d->len);
        reply(d->a, &rid, resp);
        zmq_msg_close(&rid);
        free(d);
}

static void do_command(admin_t *a, zmq_msg_t *rid, const Hitless__CommandRequest *req, const char *actor,
                       Hitless__AdminResponse *resp) {
        deferred_t *d = calloc(1, sizeof *d);
        if (!d || zmq_msg_size(rid) > sizeof d->rid) {
                free(d);
                resp->status = HITLESS__ADMIN_STATUS__ADMIN_FAILED;
                resp->error = "cannot track the request";
                reply(a, rid, resp);
                return;
        }
        d->a = a;
        d->len = zmq_msg_size(rid);
        memcpy(d->rid, zmq_msg_data(rid), d->len);
        commands_submit(a->d.commands, req, actor, reply_deferred, d, clock_mono_ms());
}

/* `hitlessctl rollback NODE...|--phase P|--all`: within the current
 * upgrade. One node outside it gets a direct rollback command, answered
 * when it ends, as `hitlessctl rollback NODE --snapshot ...` would. True
 * when the answer is deferred. */
static bool do_rollback(admin_t *a, zmq_msg_t *rid, const Hitless__RollbackRequest *req, const char *actor,
                        Hitless__AdminResponse *resp, admin_upgrade_answer_t *ans) {
        if (req->n_node_ids == 1 && !req->phase[0] && !req->all &&
            !upgrade_includes(a->d.upgrade, req->node_ids[0])) {
                Hitless__CommandRequest creq = HITLESS__COMMAND_REQUEST__INIT;
                Hitless__Command cmd = HITLESS__COMMAND__INIT;
                Hitless__RollbackAction rb = HITLESS__ROLLBACK_ACTION__INIT;
                cmd.node_id = req->node_ids[0];
                cmd.action_case = HITLESS__COMMAND__ACTION_ROLLBACK;
                cmd.rollback = &rb;
                creq.command = &cmd;
                do_command(a, rid, &creq, actor, resp);
                return true;
        }
        admin_upgrade_rollback(&a->d, req, actor, resp, ans);
        return false;
}

static void handle_request(admin_t *a, zmq_msg_t *rid, zmq_msg_t *payload) {
        Hitless__AdminResponse resp = HITLESS__ADMIN_RESPONSE__INIT;
        Hitless__NodeList nodes = HITLESS__NODE_LIST__INIT;
        Hitless__EventList events = HITLESS__EVENT_LIST__INIT;
        Hitless__CoordinatorStatus status = HITLESS__COORDINATOR_STATUS__INIT;
        admin_status_counters_t counters;
        admin_node_vec_t nv = { 0 };
        admin_keys_answer_t ka = { 0 };
        event_vec_t ev = { 0 };
        admin_plan_ctx_t *pc = NULL;
        admin_upgrade_answer_t ua = { 0 };
        admin_jobs_answer_t ja = { 0 };
        bool deferred = false;
        Hitless__AdminRequest *req;
        char actor[64];
        int r;

        resp.protocol_version = HITLESS_PROTOCOL_VERSION;
        r = codec_decode_admin_request(zmq_msg_data(payload), zmq_msg_size(payload),
                                       ADMIN_MAX_REQUEST, &req);
        if (r < 0) {
                resp.status = HITLESS__ADMIN_STATUS__ADMIN_BAD_REQUEST;
                resp.error = r == -EPROTO ? "unsupported protocol version (hitlessctl and coordinator differ)"
                                          : "malformed request";
                reply(a, rid, &resp);
                return;
        }
        peer_actor(zmq_msg_get(payload, ZMQ_SRCFD), actor, sizeof actor);
        switch (req->body_case) {
        case HITLESS__ADMIN_REQUEST__BODY_NODES:
                do_nodes(a, &resp, &nodes, &nv);
                break;
        case HITLESS__ADMIN_REQUEST__BODY_KEYS_LIST:
                admin_keys_list(&a->d, &resp, &ka);
                break;
        case HITLESS__ADMIN_REQUEST__BODY_KEY_ACTION:
                admin_key_action(&a->d, req->key_action, actor, &resp, &ka);
                break;
        case HITLESS__ADMIN_REQUEST__BODY_EVENTS:
                do_events(a, req->events, &resp, &events, &ev);
                break;
        case HITLESS__ADMIN_REQUEST__BODY_STATUS:
                admin_status_build(&a->d, &status, &counters);
                resp.body_case = HITLESS__ADMIN_RESPONSE__BODY_COORDINATOR_STATUS;
                resp.coordinator_status = &status;
                break;
        case HITLESS__ADMIN_REQUEST__BODY_COMMAND:
                do_command(a, rid, req->command, actor, &resp);
                deferred = true;
                break;
        case HITLESS__ADMIN_REQUEST__BODY_PLAN_CHECK:
                if ((pc = admin_plan_ctx_new()))
                        admin_plan_check(&a->d, req->plan_check, actor, &resp, pc);
                break;
        case HITLESS__ADMIN_REQUEST__BODY_UPGRADE_START:
                if ((pc = admin_plan_ctx_new()))
                        admin_upgrade_start(&a->d, req->upgrade_start, actor, &resp, pc);
                break;
        case HITLESS__ADMIN_REQUEST__BODY_UPGRADE_STATUS:
                admin_upgrade_status(&a->d, &resp, &ua);
                break;
        case HITLESS__ADMIN_REQUEST__BODY_UPGRADE_CONTROL:
                admin_upgrade_control(&a->d, req->upgrade_control, actor, &resp, &ua);
                break;
        case HITLESS__ADMIN_REQUEST__BODY_ROLLBACK:
                deferred = do_rollback(a, rid, req->rollback, actor, &resp, &ua);
                break;
        case HITLESS__ADMIN_REQUEST__BODY_HISTORY:
                /* Answered here, so the list is freed right after. */
                if (admin_history_build(a->d.store, req->history, &resp.history) < 0) {
                        resp.status = HITLESS__ADMIN_STATUS__ADMIN_FAILED;
                        resp.error = "cannot read the history from the store";
                } else {
                        resp.body_case = HITLESS__ADMIN_RESPONSE__BODY_HISTORY;
                }
                reply(a, rid, &resp);
                admin_history_free(resp.history);
                deferred = true;
                break;
        case HITLESS__ADMIN_REQUEST__BODY_JOB:
                admin_job_submit(a->d.jobs, req->job, actor, &resp, &ja);
                break;
        case HITLESS__ADMIN_REQUEST__BODY_JOB_CONTROL:
                admin_job_control(a->d.jobs, req->job_control, actor, &resp, &ja);
                break;
        default:
                resp.status = HITLESS__ADMIN_STATUS__ADMIN_BAD_REQUEST;
                resp.error = "unknown request";
                break;
        }
        if ((req->body_case == HITLESS__ADMIN_REQUEST__BODY_PLAN_CHECK ||
             req->body_case == HITLESS__ADMIN_REQUEST__BODY_UPGRADE_START) && !pc) {
                resp.status = HITLESS__ADMIN_STATUS__ADMIN_FAILED;
                resp.error = "out of memory";
        }
        if (!deferred)
                reply(a, rid, &resp);

        admin_nodes_release(&nv);
        admin_keys_answer_clear(&ka);
        free(ev.v);
        free(ev.items);
        free(ev.recs);
        admin_plan_clear(pc);
        admin_upgrade_answer_clear(&ua);
        admin_jobs_answer_clear(&ja);
        hitless__admin_request__free_unpacked(req, NULL);
}

int admin_handle_pending(admin_t *a) {
        int handled = 0;
        while (handled < 100) {
                zmq_msg_t f[3];
                int n = 0, more = 1;
                size_t ml = sizeof more;
                while (more) {
                        zmq_msg_t m;
                        zmq_msg_init(&m);
                        if (zmq_msg_recv(&m, a->socket, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
                                int e = errno;
                                zmq_msg_close(&m);
                                for (int i = 0; i < n; i++)
                                        zmq_msg_close(&f[i]);
                                return (e == EAGAIN && n == 0) ? handled : -e;
                        }
                        zmq_getsockopt(a->socket, ZMQ_RCVMORE, &more, &ml);
                        if (n < 3)
                                f[n++] = m;
                        else
                                zmq_msg_close(&m);
                }
                /* [routing id][empty][request] from a REQ socket */
                if (n == 3 && zmq_msg_size(&f[1]) == 0)
                        handle_request(a, &f[0], &f[2]);
                for (int i = 0; i < n; i++)
                        zmq_msg_close(&f[i]);
                handled++;
        }
        return handled;
}
