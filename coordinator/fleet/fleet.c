#include "coordinator/fleet/fleet.h"

#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"

/* Beyond this many queued events the queue is flushed at once. */
#define MAX_QUEUED_EVENTS 20000

struct fleet {
        store_t *store;
        zhashx_t *nodes;            /* id -> node_t (owned) */
        int64_t timeout_ms;
        node_t *live_head, *live_tail;
        node_t *dirty_head;
        size_t online;
        event_record_t *events;     /* queued, written by fleet_flush */
        size_t n_events;
        ratelimit_t log_limit;      /* per-node lines when many change at once */
};

static void node_free(void **item) {
        node_t *n = *item;
        if (n) {
                hitless__node_info__free_unpacked(n->info, NULL);
                free(n->last_registration);
                free(n);
        }
        *item = NULL;
}

static void live_unlink(fleet_t *f, node_t *n) {
        if (!n->online)
                return;
        if (n->live_prev)
                n->live_prev->live_next = n->live_next;
        else
                f->live_head = n->live_next;
        if (n->live_next)
                n->live_next->live_prev = n->live_prev;
        else
                f->live_tail = n->live_prev;
        n->live_prev = n->live_next = NULL;
        n->online = false;
        f->online--;
}

static void live_append(fleet_t *f, node_t *n) {
        n->live_prev = f->live_tail;
        n->live_next = NULL;
        if (f->live_tail)
                f->live_tail->live_next = n;
        else
                f->live_head = n;
        f->live_tail = n;
        n->online = true;
        f->online++;
}

static void mark_dirty(fleet_t *f, node_t *n) {
        if (n->dirty)
                return;
        n->dirty = true;
        n->dirty_next = f->dirty_head;
        f->dirty_head = n;
}

/* Replaces n->info with a deep copy of tmpl (which may point into the old
 * info and into a just-decoded message): pack, then unpack, so n->info is
 * always one protobuf-c allocation we can free in one call. */
static int replace_info(node_t *n, const Hitless__NodeInfo *tmpl) {
        uint8_t *buf;
        size_t len;
        int r = codec_encode(&tmpl->base, &buf, &len);
        if (r < 0)
                return r;
        Hitless__NodeInfo *copy = hitless__node_info__unpack(NULL, len, buf);
        free(buf);
        if (!copy)
                return -ENOMEM;
        hitless__node_info__free_unpacked(n->info, NULL);
        n->info = copy;
        return 0;
}

static node_t *node_new(const char *id) {
        node_t *n = calloc(1, sizeof *n);
        if (!n)
                return NULL;
        snprintf(n->id, sizeof n->id, "%s", id);
        n->peer_fd = -1;
        ratelimit_init(&n->hello_limit, 1.0 / FLEET_REGISTRATION_INTERVAL_S, FLEET_REGISTRATION_BURST);
        ratelimit_init(&n->health_limit, 1.0 / FLEET_HEALTH_EVENT_INTERVAL_S, FLEET_HEALTH_EVENT_BURST);
        return n;
}

static int restore_one(const char *id, const uint8_t *blob, size_t len, int64_t last_seen, void *ud) {
        fleet_t *f = ud;
        Hitless__NodeInfo *info = hitless__node_info__unpack(NULL, len, blob);
        node_t *n;

        if (!info || !node_id_valid(id)) {
                log_warning("store: node %s has an unreadable record, skipped", id);
                if (info)
                        hitless__node_info__free_unpacked(info, NULL);
                return 0;
        }
        n = node_new(id);
        if (!n) {
                hitless__node_info__free_unpacked(info, NULL);
                return -ENOMEM;
        }
        n->info = info;
        n->info->last_seen = last_seen;
        zhashx_insert(f->nodes, id, n);
        return 0;
}

int fleet_new(store_t *store, int64_t node_timeout_ms, fleet_t **ret) {
        fleet_t *f = calloc(1, sizeof *f);
        int r;
        if (!f)
                return -ENOMEM;
        f->store = store;
        f->timeout_ms = node_timeout_ms;
        f->nodes = zhashx_new();
        zhashx_set_destructor(f->nodes, node_free);
        f->events = calloc(MAX_QUEUED_EVENTS, sizeof *f->events);
        ratelimit_init(&f->log_limit, 5, 50);
        if (!f->events) {
                fleet_destroy(&f);
                return -ENOMEM;
        }
        r = store_nodes_foreach(store, restore_one, f);
        if (r < 0) {
                fleet_destroy(&f);
                return r;
        }
        *ret = f;
        return 0;
}

void fleet_destroy(fleet_t **fp) {
        fleet_t *f = *fp;
        if (!f)
                return;
        zhashx_destroy(&f->nodes);
        free(f->events);
        free(f);
        *fp = NULL;
}

void fleet_set_timeout(fleet_t *f, int64_t node_timeout_ms) {
        f->timeout_ms = node_timeout_ms;
}

int64_t fleet_timeout_ms(const fleet_t *f) {
        return f->timeout_ms;
}

node_t *fleet_find(fleet_t *f, const char *node_id) {
        return zhashx_lookup(f->nodes, node_id);
}

/* Queues an event that happened count times; NULL when it cannot. */
static event_record_t *queue_event(fleet_t *f, const node_t *n, const char *kind, uint64_t count) {
        if (f->n_events == MAX_QUEUED_EVENTS && fleet_flush(f) < 0) {
                log_warning("store: cannot save node events: %s", store_last_error(f->store));
                return NULL;
        }
        event_record_t *e = &f->events[f->n_events++];
        e->time = clock_wall_s();
        snprintf(e->node_id, sizeof e->node_id, "%s", n->id);
        snprintf(e->kind, sizeof e->kind, "%s", kind);
        snprintf(e->actor, sizeof e->actor, "coordinator");
        e->count = (int64_t) count;
        return e;
}

static void event(fleet_t *f, const node_t *n, const char *kind, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void event(fleet_t *f, const node_t *n, const char *kind, const char *fmt, ...) {
        va_list ap;
        event_record_t *e = queue_event(f, n, kind, 1);
        if (!e)
                return;
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof e->message, fmt, ap);
        va_end(ap);
}

/* One counted event for the *count events a budget left unrecorded. */
static void record_over_budget(fleet_t *f, node_t *n, const char *kind, uint64_t *count, const char *what,
                               int burst, int interval_s) {
        event_record_t *e;
        if (*count && (e = queue_event(f, n, kind, *count)))
                snprintf(e->message, sizeof e->message,
                         "%s beyond the rate limit (%d, then 1 per %d s), not recorded one by one", what, burst,
                         interval_s);
        *count = 0;
}

static void record_quiet_health(fleet_t *f, node_t *n) {
        record_over_budget(f, n, "node.health", &n->quiet_health, "health changes", FLEET_HEALTH_EVENT_BURST,
                           FLEET_HEALTH_EVENT_INTERVAL_S);
        (void) ratelimit_take_suppressed(&n->health_limit);
}

/* Records the Hellos the registration budget left unrecorded: those like
 * the last recorded one fold into its count (the same row, when it is
 * still the node's newest event), the others into one counted event; and
 * the health changes left unrecorded. */
static void record_quiet(fleet_t *f, node_t *n) {
        event_record_t *e;
        if (n->quiet_repeats && (e = queue_event(f, n, "node.registered", n->quiet_repeats)))
                snprintf(e->message, sizeof e->message, "%s", n->last_registration);
        n->quiet_repeats = 0;
        record_over_budget(f, n, "node.registered", &n->quiet_others, "Hellos with other details",
                           FLEET_REGISTRATION_BURST, FLEET_REGISTRATION_INTERVAL_S);
        record_quiet_health(f, n);
        (void) ratelimit_take_suppressed(&n->hello_limit);
}

/* The node.registered event of a Hello, within the node's budget. */
static void record_registration(fleet_t *f, node_t *n, const char *message, int64_t now_ms) {
        bool same = n->last_registration && strcmp(n->last_registration, message) == 0;
        if (!ratelimit_allow(&n->hello_limit, now_ms)) {
                if (same)
                        n->quiet_repeats++;
                else
                        n->quiet_others++;
                return;
        }
        if (same) {
                /* This Hello and the quiet repeats: one count. */
                n->quiet_repeats++;
                record_quiet(f, n);
                return;
        }
        record_quiet(f, n);
        event(f, n, "node.registered", "%s", message);
        free(n->last_registration);
        n->last_registration = strdup(message);
}

int fleet_register(fleet_t *f, const char *node_id, const Hitless__Hello *hello,
                   const char *address, int64_t now_ms, node_t **ret) {
        node_t *n = fleet_find(f, node_id);
        Hitless__NodeInfo tmpl = HITLESS__NODE_INFO__INIT;
        Hitless__HealthReport no_health = HITLESS__HEALTH_REPORT__INIT;
        bool is_new = !n;
        int r;

        if (is_new) {
                n = node_new(node_id);
                if (!n)
                        return -ENOMEM;
        } else {
                tmpl = *n->info;
        }
        tmpl.node_id = n->id;
        tmpl.hostname = hello->hostname;
        tmpl.n_roles = hello->n_roles;
        tmpl.roles = hello->roles;
        tmpl.agent_version = hello->agent_version;
        tmpl.boot_id = hello->boot_id;
        tmpl.n_packages = hello->n_packages;
        tmpl.packages = hello->packages;
        /* What the node's policy lets a plan step run there (plan check). */
        tmpl.n_tasks = hello->n_tasks;
        tmpl.tasks = hello->tasks;
        tmpl.n_units = hello->n_units;
        tmpl.units = hello->units;
        tmpl.address = (char *) address;
        tmpl.last_seen = clock_wall_s();
        if (!tmpl.health)
                tmpl.health = &no_health;
        r = replace_info(n, &tmpl);
        if (r < 0) {
                if (is_new)
                        free(n);
                return r;
        }
        if (is_new)
                zhashx_insert(f->nodes, n->id, n);

        n->registered = true;
        n->last_seen_ms = now_ms;
        live_unlink(f, n);
        live_append(f, n);
        mark_dirty(f, n);
        char message[sizeof f->events[0].message];
        snprintf(message, sizeof message, "%sagent %s from %s, boot %s", is_new ? "new node, " : "",
                 hello->agent_version, address, hello->boot_id);
        record_registration(f, n, message, now_ms);
        if (ratelimit_allow(&f->log_limit, now_ms))
                log_node(LOG_INFO, n->id, "registered (agent %s, %s)", hello->agent_version, address);
        *ret = n;
        return 0;
}

static void describe_failures(const Hitless__HealthReport *h, char *buf, size_t len) {
        size_t off = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < h->n_checks && off < len; i++) {
                const Hitless__CheckResult *c = h->checks[i];
                if (c->ok)
                        continue;
                int w = snprintf(buf + off, len - off, "%s%s: %s", off ? "; " : "", c->name, c->detail);
                if (w < 0)
                        break;
                off += (size_t) w;
        }
}

int fleet_heartbeat(fleet_t *f, node_t *n, const Hitless__Heartbeat *hb, int64_t now_ms) {
        Hitless__NodeInfo tmpl = *n->info;
        Hitless__HealthReport no_health = HITLESS__HEALTH_REPORT__INIT;
        const Hitless__HealthReport *h = hb->health ? hb->health : &no_health;
        Hitless__HealthState before = n->info->health ? n->info->health->state
                                                      : HITLESS__HEALTH_STATE__HEALTH_UNKNOWN;
        bool was_online = n->online;
        int r;

        tmpl.health = (Hitless__HealthReport *) h;
        tmpl.n_packages = h->n_packages;
        tmpl.packages = h->packages;
        tmpl.last_seen = clock_wall_s();
        r = replace_info(n, &tmpl);
        if (r < 0)
                return r;

        n->last_seen_ms = now_ms;
        live_unlink(f, n);
        live_append(f, n);
        mark_dirty(f, n);
        if (!was_online) {
                event(f, n, "node.online", "heard from again");
                log_node(LOG_INFO, n->id, "online again");
        }
        if (h->state != before && !ratelimit_allow(&n->health_limit, now_ms)) {
                n->quiet_health++;
        } else if (h->state != before) {
                char why[400];
                describe_failures(h, why, sizeof why);
                record_quiet_health(f, n);
                event(f, n, "node.health", "%s -> %s%s%s", health_state_label(before),
                      health_state_label(h->state), *why ? ": " : "", why);
                log_node(h->state == HITLESS__HEALTH_STATE__HEALTH_HEALTHY ? LOG_INFO : LOG_WARNING,
                         n->id, "health %s -> %s%s%s", health_state_label(before),
                         health_state_label(h->state), *why ? ": " : "", why);
        }
        return 0;
}

int fleet_expire(fleet_t *f, int64_t now_ms) {
        int count = 0;
        while (f->live_head && now_ms - f->live_head->last_seen_ms > f->timeout_ms) {
                node_t *n = f->live_head;
                live_unlink(f, n);
                mark_dirty(f, n);
                record_quiet(f, n);
                event(f, n, "node.unreachable", "no heartbeat for %lld ms",
                      (long long) (now_ms - n->last_seen_ms));
                if (ratelimit_allow(&f->log_limit, now_ms))
                        log_node(LOG_WARNING, n->id, "unreachable: no heartbeat for %lld ms",
                                 (long long) (now_ms - n->last_seen_ms));
                count++;
        }
        /* A partition can take thousands at once: one line says how many. */
        uint64_t quiet = ratelimit_take_suppressed(&f->log_limit);
        if (quiet)
                log_warning("%llu more nodes changed state without a log line each (see hitlessctl events)",
                            (unsigned long long) quiet);
        return count;
}

void fleet_revoke(fleet_t *f, node_t *n, const char *why) {
        live_unlink(f, n);
        n->registered = false;
        n->peer_fd = -1;
        n->routing_id_len = 0;
        mark_dirty(f, n);
        record_quiet(f, n);
        event(f, n, "node.revoked", "%s", why);
}

static void dirty_unlink(fleet_t *f, node_t *n) {
        for (node_t **p = &f->dirty_head; *p; p = &(*p)->dirty_next)
                if (*p == n) {
                        *p = n->dirty_next;
                        break;
                }
}

int fleet_remove(fleet_t *f, const char *node_id) {
        node_t *n = fleet_find(f, node_id);
        int r;
        if (!n)
                return -ENOENT;
        r = store_node_delete(f->store, node_id);
        if (r < 0 && r != -ENOENT)
                return r;
        live_unlink(f, n);
        if (n->dirty)
                dirty_unlink(f, n);
        zhashx_delete(f->nodes, node_id);
        return 0;
}

int fleet_flush(fleet_t *f) {
        int r;
        if (!f->dirty_head && !f->n_events)
                return 0;
        r = store_begin(f->store);
        if (r < 0)
                return r;
        for (size_t i = 0; i < f->n_events && r >= 0; i++) {
                const event_record_t *e = &f->events[i];
                r = store_event_append_n(f->store, e->time, e->node_id, e->kind, e->actor, e->message, e->count,
                                         NULL);
        }
        for (node_t *n = f->dirty_head; n && r >= 0; n = n->dirty_next) {
                uint8_t *buf;
                size_t len;
                char *saved = n->info->state;
                n->info->state = (char *) node_state_label(n);
                r = codec_encode(&n->info->base, &buf, &len);
                n->info->state = saved;
                if (r < 0)
                        break;
                r = store_node_put(f->store, n->id, buf, len, n->info->last_seen);
                free(buf);
        }
        if (r < 0) {
                (void) store_rollback(f->store);   /* the first error is the one reported */
                return r;
        }
        r = store_commit(f->store);
        if (r < 0)
                return r;
        f->n_events = 0;
        while (f->dirty_head) {
                node_t *n = f->dirty_head;
                f->dirty_head = n->dirty_next;
                n->dirty_next = NULL;
                n->dirty = false;
        }
        return 0;
}

size_t fleet_size(const fleet_t *f) {
        return zhashx_size(f->nodes);
}

size_t fleet_online(const fleet_t *f) {
        return f->online;
}

static int compare_ids(const void *a, const void *b) {
        return strcmp((*(node_t *const *) a)->id, (*(node_t *const *) b)->id);
}

int fleet_foreach_sorted(fleet_t *f, int (*cb)(node_t *n, void *ud), void *ud) {
        size_t count = zhashx_size(f->nodes), i = 0;
        node_t **v = calloc(count ? count : 1, sizeof *v);
        int r = 0;
        if (!v)
                return -ENOMEM;
        for (node_t *n = zhashx_first(f->nodes); n; n = zhashx_next(f->nodes))
                v[i++] = n;
        qsort(v, count, sizeof *v, compare_ids);
        for (i = 0; i < count && r == 0; i++)
                r = cb(v[i], ud);
        free(v);
        return r;
}

const char *node_state_label(const node_t *n) {
        return n->online ? "online" : "unreachable";
}
