/* coordinator/fleet: the coordinator's view of every node. Runs against a
 * real store in a temporary directory; time is passed in as synthetic
 * now_ms values, so nothing depends on the machine's speed. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "coordinator/fleet/fleet.h"
#include "coordinator/store/store.h"

#define TIMEOUT_MS 1000

static char tmpdir[256];
static char dbpath[300];
static store_t *store;
static fleet_t *fleet;

static void open_store(void) {
        int r = store_open(dbpath, &store);
        ck_assert_msg(r == 0, "store_open: %s", strerror(-r));
}

static void new_fleet(int64_t timeout_ms) {
        int r = fleet_new(store, timeout_ms, &fleet);
        ck_assert_msg(r == 0, "fleet_new: %s", strerror(-r));
        ck_assert_ptr_nonnull(fleet);
}

static void setup(void) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/test_fleet.XXXXXX", base && *base ? base : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        snprintf(dbpath, sizeof dbpath, "%s/state.db", tmpdir);
        open_store();
        new_fleet(TIMEOUT_MS);
}

static void teardown(void) {
        char cmd[400];
        fleet_destroy(&fleet);
        ck_assert_ptr_null(fleet);
        fleet_destroy(&fleet);  /* accepts NULL */
        store_close(&store);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        ck_assert_int_eq(system(cmd), 0);
}

/* Destroys the fleet, reopens the store, and restores a new fleet. */
static void restart(void) {
        fleet_destroy(&fleet);
        store_close(&store);
        open_store();
        new_fleet(TIMEOUT_MS);
}

/* ---- messages ---- */

static Hitless__PackageVersion pkg_nginx_old = { PROTOBUF_C_MESSAGE_INIT(&hitless__package_version__descriptor), "nginx", "1.22.0" };
static Hitless__PackageVersion pkg_nginx_new = { PROTOBUF_C_MESSAGE_INIT(&hitless__package_version__descriptor), "nginx", "1.22.1" };
static Hitless__PackageVersion pkg_openssl = { PROTOBUF_C_MESSAGE_INIT(&hitless__package_version__descriptor), "openssl", "3.0.11" };
static Hitless__PackageVersion *hello_pkgs[] = { &pkg_nginx_old, &pkg_openssl };
static char *hello_roles[] = { "web", "edge" };

static Hitless__Hello hello(const char *hostname, const char *version, const char *boot) {
        Hitless__Hello h = HITLESS__HELLO__INIT;
        h.hostname = (char *) hostname;
        h.n_roles = 2;
        h.roles = hello_roles;
        h.agent_version = (char *) version;
        h.n_packages = 2;
        h.packages = hello_pkgs;
        h.boot_id = (char *) boot;
        return h;
}

static node_t *reg(const char *id, int64_t now_ms) {
        Hitless__Hello h = hello(id, "0.1.0", "boot-1");
        node_t *n = NULL;
        int r = fleet_register(fleet, id, &h, "10.0.0.1", now_ms, &n);
        ck_assert_msg(r == 0, "register %s: %s", id, strerror(-r));
        ck_assert_ptr_nonnull(n);
        return n;
}

/* A heartbeat with one check per entry of ok[] (names "c0", "c1", ...). */
typedef struct {
        Hitless__Heartbeat hb;
        Hitless__HealthReport health;
        Hitless__CheckResult checks[4];
        Hitless__CheckResult *checkp[4];
        Hitless__PackageVersion *pkgs[2];
        char names[4][8];
} heartbeat_t;

static void make_heartbeat(heartbeat_t *b, Hitless__HealthState state, const char *failing_detail) {
        memset(b, 0, sizeof *b);
        b->hb = (Hitless__Heartbeat) HITLESS__HEARTBEAT__INIT;
        b->health = (Hitless__HealthReport) HITLESS__HEALTH_REPORT__INIT;
        b->health.state = state;
        for (int i = 0; i < 2; i++) {
                b->checks[i] = (Hitless__CheckResult) HITLESS__CHECK_RESULT__INIT;
                snprintf(b->names[i], sizeof b->names[i], "c%d", i);
                b->checks[i].name = b->names[i];
                b->checks[i].kind = "exec";
                b->checks[i].ok = true;
                b->checks[i].detail = "fine";
                b->checkp[i] = &b->checks[i];
        }
        if (failing_detail) {
                b->checks[1].ok = false;
                b->checks[1].detail = (char *) failing_detail;
        }
        b->health.n_checks = 2;
        b->health.checks = b->checkp;
        b->pkgs[0] = &pkg_nginx_new;
        b->pkgs[1] = &pkg_openssl;
        b->health.n_packages = 2;
        b->health.packages = b->pkgs;
        b->hb.seq = 1;
        b->hb.health = &b->health;
}

static void beat(node_t *n, Hitless__HealthState state, int64_t now_ms) {
        heartbeat_t b;
        make_heartbeat(&b, state, NULL);
        ck_assert_int_eq(fleet_heartbeat(fleet, n, &b.hb, now_ms), 0);
}

/* ---- events ---- */

typedef struct {
        event_record_t *ev;
        int n, cap;
} events_t;

static int collect_event(const event_record_t *ev, void *ud) {
        events_t *l = ud;
        ck_assert_int_lt(l->n, l->cap);
        l->ev[l->n++] = *ev;
        return 0;
}

/* The node's events in the store (node_id NULL: every node's), after a
 * flush: the fleet queues its events until then. */
static events_t events_of(const char *node_id) {
        events_t l = { calloc(200, sizeof(event_record_t)), 0, 200 };
        ck_assert_ptr_nonnull(l.ev);
        ck_assert_int_eq(fleet_flush(fleet), 0);
        ck_assert_int_eq(store_events_foreach(store, node_id, 200, collect_event, &l), 0);
        return l;
}

static int count_one(const event_record_t *ev, void *ud) {
        (void) ev;
        (*(int *) ud)++;
        return 0;
}

/* Events in the store now, without flushing. */
static int stored_events(uint32_t limit) {
        int n = 0;
        ck_assert_int_eq(store_events_foreach(store, NULL, limit, count_one, &n), 0);
        return n;
}

static int count_kind(const events_t *l, const char *kind) {
        int n = 0;
        for (int i = 0; i < l->n; i++)
                n += strcmp(l->ev[i].kind, kind) == 0;
        return n;
}

static const event_record_t *last_of_kind(const events_t *l, const char *kind) {
        for (int i = l->n - 1; i >= 0; i--)
                if (strcmp(l->ev[i].kind, kind) == 0)
                        return &l->ev[i];
        return NULL;
}

/* ---- registration and heartbeats ---- */

START_TEST(test_register_creates_node) {
        Hitless__Hello h = hello("web1.example.com", "0.1.0", "boot-aaa");
        node_t *n = NULL;

        ck_assert_ptr_null(fleet_find(fleet, "web1"));
        ck_assert_int_eq(fleet_register(fleet, "web1", &h, "192.0.2.1", 5000, &n), 0);
        ck_assert_ptr_nonnull(n);
        ck_assert_ptr_eq(fleet_find(fleet, "web1"), n);
        ck_assert_str_eq(n->id, "web1");
        ck_assert(n->online);
        ck_assert(n->registered);
        ck_assert_int_eq(n->last_seen_ms, 5000);
        ck_assert_str_eq(node_state_label(n), "online");
        ck_assert_uint_eq(fleet_size(fleet), 1);
        ck_assert_uint_eq(fleet_online(fleet), 1);

        const Hitless__NodeInfo *i = n->info;
        ck_assert_ptr_nonnull(i);
        ck_assert_str_eq(i->node_id, "web1");
        ck_assert_str_eq(i->hostname, "web1.example.com");
        ck_assert_uint_eq(i->n_roles, 2);
        ck_assert_str_eq(i->roles[0], "web");
        ck_assert_str_eq(i->roles[1], "edge");
        ck_assert_str_eq(i->agent_version, "0.1.0");
        ck_assert_str_eq(i->boot_id, "boot-aaa");
        ck_assert_str_eq(i->address, "192.0.2.1");
        ck_assert_uint_eq(i->n_packages, 2);
        ck_assert_str_eq(i->packages[0]->name, "nginx");
        ck_assert_str_eq(i->packages[0]->version, "1.22.0");
        ck_assert_int_gt(i->last_seen, 0);
        ck_assert_ptr_nonnull(i->health);
        ck_assert_int_eq(i->health->state, HITLESS__HEALTH_STATE__HEALTH_UNKNOWN);

        events_t l = events_of("web1");
        ck_assert_int_eq(l.n, 1);
        ck_assert_str_eq(l.ev[0].kind, "node.registered");
        ck_assert_str_eq(l.ev[0].actor, "coordinator");
        ck_assert_ptr_nonnull(strstr(l.ev[0].message, "new node"));
        ck_assert_ptr_nonnull(strstr(l.ev[0].message, "192.0.2.1"));
        free(l.ev);
}
END_TEST

START_TEST(test_register_again_updates) {
        node_t *n = reg("web1", 0);
        beat(n, HITLESS__HEALTH_STATE__HEALTH_HEALTHY, 100);

        /* The agent restarted after an upgrade: a new Hello. */
        Hitless__Hello h = hello("web1.example.com", "0.2.0", "boot-bbb");
        node_t *again = NULL;
        ck_assert_int_eq(fleet_register(fleet, "web1", &h, "192.0.2.9", 200, &again), 0);
        ck_assert_ptr_eq(again, n);
        ck_assert_uint_eq(fleet_size(fleet), 1);
        ck_assert_uint_eq(fleet_online(fleet), 1);
        ck_assert_str_eq(n->info->agent_version, "0.2.0");
        ck_assert_str_eq(n->info->boot_id, "boot-bbb");
        ck_assert_str_eq(n->info->address, "192.0.2.9");
        ck_assert_int_eq(n->last_seen_ms, 200);
        /* The last health report is kept until the next heartbeat. */
        ck_assert_int_eq(n->info->health->state, HITLESS__HEALTH_STATE__HEALTH_HEALTHY);

        events_t l = events_of("web1");
        ck_assert_int_eq(count_kind(&l, "node.registered"), 2);
        ck_assert_ptr_null(strstr(last_of_kind(&l, "node.registered")->message, "new node"));
        free(l.ev);
}
END_TEST

START_TEST(test_heartbeat_updates_health_and_packages) {
        heartbeat_t b;
        node_t *n = reg("web1", 0);

        make_heartbeat(&b, HITLESS__HEALTH_STATE__HEALTH_DEGRADED, "slow");
        ck_assert_int_eq(fleet_heartbeat(fleet, n, &b.hb, 400), 0);
        ck_assert_int_eq(n->last_seen_ms, 400);
        const Hitless__HealthReport *h = n->info->health;
        ck_assert_int_eq(h->state, HITLESS__HEALTH_STATE__HEALTH_DEGRADED);
        ck_assert_uint_eq(h->n_checks, 2);
        ck_assert_str_eq(h->checks[0]->name, "c0");
        ck_assert(h->checks[0]->ok);
        ck_assert(!h->checks[1]->ok);
        ck_assert_str_eq(h->checks[1]->detail, "slow");
        /* The heartbeat's package list replaces the Hello's. */
        ck_assert_uint_eq(n->info->n_packages, 2);
        ck_assert_str_eq(n->info->packages[0]->name, "nginx");
        ck_assert_str_eq(n->info->packages[0]->version, "1.22.1");
        /* Identity from the Hello stays. */
        ck_assert_str_eq(n->info->hostname, "web1");
        ck_assert_uint_eq(n->info->n_roles, 2);
        ck_assert_str_eq(n->info->boot_id, "boot-1");
        /* The message the test built is not referenced: change it. */
        b.checks[1].detail = "changed";
        ck_assert_str_eq(n->info->health->checks[1]->detail, "slow");
}
END_TEST

START_TEST(test_health_change_events) {
        heartbeat_t b;
        node_t *n = reg("web1", 0);

        beat(n, HITLESS__HEALTH_STATE__HEALTH_HEALTHY, 100);
        beat(n, HITLESS__HEALTH_STATE__HEALTH_HEALTHY, 200);  /* no change: no event */
        make_heartbeat(&b, HITLESS__HEALTH_STATE__HEALTH_UNHEALTHY, "disk 95% full");
        ck_assert_int_eq(fleet_heartbeat(fleet, n, &b.hb, 300), 0);
        ck_assert_int_eq(fleet_heartbeat(fleet, n, &b.hb, 400), 0);  /* no change */
        beat(n, HITLESS__HEALTH_STATE__HEALTH_HEALTHY, 500);

        events_t l = events_of("web1");
        ck_assert_int_eq(count_kind(&l, "node.health"), 3);
        int k = 0;
        static const char *const want[] = { "unknown -> healthy", "healthy -> unhealthy", "unhealthy -> healthy" };
        for (int i = 0; i < l.n; i++) {
                if (strcmp(l.ev[i].kind, "node.health") != 0)
                        continue;
                ck_assert_msg(strncmp(l.ev[i].message, want[k], strlen(want[k])) == 0, "event %d: %s", k,
                              l.ev[i].message);
                ck_assert_str_eq(l.ev[i].node_id, "web1");
                if (k == 1) {
                        /* Names the failing check with its detail, not the passing one. */
                        ck_assert_ptr_nonnull(strstr(l.ev[i].message, "c1: disk 95% full"));
                        ck_assert_ptr_null(strstr(l.ev[i].message, "c0"));
                }
                k++;
        }
        ck_assert_int_eq(count_kind(&l, "node.online"), 0);
        free(l.ev);
}
END_TEST

START_TEST(test_events_written_by_flush) {
        node_t *a = reg("a", 0);
        beat(a, HITLESS__HEALTH_STATE__HEALTH_HEALTHY, 10);
        ck_assert_int_eq(fleet_expire(fleet, 5000), 1);
        /* Queued, not yet in the store. */
        ck_assert_int_eq(stored_events(100), 0);
        ck_assert_int_eq(fleet_flush(fleet), 0);
        ck_assert_int_eq(stored_events(100), 3);
        /* Written once. */
        ck_assert_int_eq(fleet_flush(fleet), 0);
        ck_assert_int_eq(stored_events(100), 3);

        events_t l = events_of("a");
        ck_assert_int_eq(l.n, 3);
        ck_assert_str_eq(l.ev[0].kind, "node.registered");
        ck_assert_str_eq(l.ev[1].kind, "node.health");
        ck_assert_str_eq(l.ev[2].kind, "node.unreachable");
        ck_assert_int_gt(l.ev[0].time, 0);
        free(l.ev);
}
END_TEST

/* ---- liveness ---- */

START_TEST(test_expire_exactly_the_silent) {
        node_t *a = reg("a", 0), *b = reg("b", 100), *c = reg("c", 200), *d = reg("d", 300);

        ck_assert_int_eq(fleet_expire(fleet, 0), 0);
        ck_assert_int_eq(fleet_expire(fleet, 1000), 0);  /* a: exactly the timeout, not beyond */
        ck_assert(a->online);
        ck_assert_int_eq(fleet_expire(fleet, 1001), 1);
        ck_assert(!a->online);
        ck_assert_str_eq(node_state_label(a), "unreachable");
        ck_assert(a->registered);  /* unreachable, not forgotten */
        ck_assert(b->online && c->online && d->online);

        beat(b, HITLESS__HEALTH_STATE__HEALTH_HEALTHY, 1050);
        /* At 1250: c (200) is silent for 1050 ms; d (300) for 950; b for 200. */
        ck_assert_int_eq(fleet_expire(fleet, 1250), 1);
        ck_assert(!c->online);
        ck_assert(b->online && d->online);
        ck_assert_uint_eq(fleet_online(fleet), 2);
        ck_assert_uint_eq(fleet_size(fleet), 4);
        /* Idempotent at the same time. */
        ck_assert_int_eq(fleet_expire(fleet, 1250), 0);
        ck_assert_int_eq(fleet_expire(fleet, 1301), 1);  /* d */
        ck_assert_int_eq(fleet_expire(fleet, 2051), 1);  /* b */
        ck_assert_uint_eq(fleet_online(fleet), 0);
        ck_assert_int_eq(fleet_expire(fleet, 100000), 0);

        events_t l = events_of("c");
        const event_record_t *ev = last_of_kind(&l, "node.unreachable");
        ck_assert_ptr_nonnull(ev);
        ck_assert_ptr_nonnull(strstr(ev->message, "1050 ms"));
        free(l.ev);
}
END_TEST

START_TEST(test_expiry_order) {
        /* Registered in one order, heard from in another. */
        node_t *n[5];
        static const char *const ids[5] = { "e", "c", "a", "d", "b" };
        for (int i = 0; i < 5; i++)
                n[i] = reg(ids[i], i * 10);
        beat(n[0], HITLESS__HEALTH_STATE__HEALTH_HEALTHY, 100);  /* e */
        beat(n[2], HITLESS__HEALTH_STATE__HEALTH_HEALTHY, 110);  /* a */
        beat(n[1], HITLESS__HEALTH_STATE__HEALTH_HEALTHY, 120);  /* c */
        /* Least recently heard first: d (30), b (40), e (100), a (110), c (120). */
        ck_assert_int_eq(fleet_expire(fleet, 5000), 5);

        events_t l = events_of(NULL);
        static const char *const want[5] = { "d", "b", "e", "a", "c" };
        int k = 0;
        for (int i = 0; i < l.n; i++)
                if (strcmp(l.ev[i].kind, "node.unreachable") == 0) {
                        ck_assert_int_lt(k, 5);
                        ck_assert_str_eq(l.ev[i].node_id, want[k]);
                        k++;
                }
        ck_assert_int_eq(k, 5);
        free(l.ev);
}
END_TEST

START_TEST(test_back_online) {
        node_t *a = reg("a", 0);
        beat(a, HITLESS__HEALTH_STATE__HEALTH_HEALTHY, 500);
        ck_assert_int_eq(fleet_expire(fleet, 1600), 1);
        ck_assert(!a->online);
        ck_assert_uint_eq(fleet_online(fleet), 0);

        beat(a, HITLESS__HEALTH_STATE__HEALTH_HEALTHY, 1700);
        ck_assert(a->online);
        ck_assert_uint_eq(fleet_online(fleet), 1);
        ck_assert_str_eq(node_state_label(a), "online");
        /* It is in the liveness list again: it expires again. */
        ck_assert_int_eq(fleet_expire(fleet, 2700), 0);
        ck_assert_int_eq(fleet_expire(fleet, 2701), 1);

        events_t l = events_of("a");
        ck_assert_int_eq(count_kind(&l, "node.online"), 1);
        ck_assert_int_eq(count_kind(&l, "node.unreachable"), 2);
        ck_assert_str_eq(last_of_kind(&l, "node.online")->actor, "coordinator");
        /* The health did not change, so only the first report made an event. */
        ck_assert_int_eq(count_kind(&l, "node.health"), 1);
        free(l.ev);
}
END_TEST

START_TEST(test_set_timeout) {
        node_t *a = reg("a", 0);
        fleet_set_timeout(fleet, 10000);
        ck_assert_int_eq(fleet_expire(fleet, 5000), 0);
        ck_assert(a->online);
        fleet_set_timeout(fleet, 100);
        ck_assert_int_eq(fleet_expire(fleet, 5000), 1);
}
END_TEST

START_TEST(test_revoke) {
        node_t *a = reg("a", 0), *b = reg("b", 0);
        fleet_revoke(fleet, a, "key rejected");
        ck_assert(!a->online);
        ck_assert(!a->registered);
        ck_assert_uint_eq(fleet_online(fleet), 1);
        ck_assert_uint_eq(fleet_size(fleet), 2);
        /* Not in the liveness list: only b expires. */
        ck_assert_int_eq(fleet_expire(fleet, 5000), 1);
        ck_assert(!b->online);

        events_t l = events_of("a");
        const event_record_t *ev = last_of_kind(&l, "node.revoked");
        ck_assert_ptr_nonnull(ev);
        ck_assert_str_eq(ev->message, "key rejected");
        ck_assert_int_eq(count_kind(&l, "node.unreachable"), 0);
        free(l.ev);
}
END_TEST

/* ---- persistence ---- */

START_TEST(test_flush_and_restore) {
        heartbeat_t b;
        node_t *a = reg("a", 0), *c = reg("c", 0);
        reg("b", 0);
        make_heartbeat(&b, HITLESS__HEALTH_STATE__HEALTH_UNHEALTHY, "down");
        ck_assert_int_eq(fleet_heartbeat(fleet, a, &b.hb, 100), 0);
        beat(c, HITLESS__HEALTH_STATE__HEALTH_HEALTHY, 100);
        int64_t a_wall = a->info->last_seen;
        ck_assert_int_eq(fleet_flush(fleet), 0);
        ck_assert_int_eq(fleet_flush(fleet), 0);  /* nothing changed: no-op */

        restart();
        ck_assert_uint_eq(fleet_size(fleet), 3);
        ck_assert_uint_eq(fleet_online(fleet), 0);
        static const char *const ids[] = { "a", "b", "c" };
        for (int i = 0; i < 3; i++) {
                node_t *n = fleet_find(fleet, ids[i]);
                ck_assert_ptr_nonnull(n);
                ck_assert(!n->online);
                ck_assert(!n->registered);
                ck_assert_str_eq(node_state_label(n), "unreachable");
                ck_assert_str_eq(n->info->node_id, ids[i]);
                ck_assert_str_eq(n->info->hostname, ids[i]);
                ck_assert_str_eq(n->info->agent_version, "0.1.0");
                ck_assert_str_eq(n->info->address, "10.0.0.1");
                ck_assert_uint_eq(n->info->n_roles, 2);
        }
        a = fleet_find(fleet, "a");
        ck_assert_int_eq(a->info->last_seen, a_wall);
        ck_assert_int_eq(a->info->health->state, HITLESS__HEALTH_STATE__HEALTH_UNHEALTHY);
        ck_assert_str_eq(a->info->health->checks[1]->detail, "down");
        ck_assert_str_eq(a->info->packages[0]->version, "1.22.1");
        ck_assert_int_eq(fleet_find(fleet, "c")->info->health->state, HITLESS__HEALTH_STATE__HEALTH_HEALTHY);
        /* b never sent a heartbeat: still the Hello's packages. */
        ck_assert_str_eq(fleet_find(fleet, "b")->info->packages[0]->version, "1.22.0");
        /* Restored nodes are not in the liveness list. */
        ck_assert_int_eq(fleet_expire(fleet, 1000000), 0);

        /* A Hello brings one back. */
        node_t *n = reg("b", 2000000);
        ck_assert(n->online && n->registered);
        ck_assert_uint_eq(fleet_online(fleet), 1);
        ck_assert_uint_eq(fleet_size(fleet), 3);
}
END_TEST

START_TEST(test_only_flushed_state_survives) {
        node_t *a = reg("a", 0);
        beat(a, HITLESS__HEALTH_STATE__HEALTH_HEALTHY, 10);
        ck_assert_int_eq(fleet_flush(fleet), 0);
        heartbeat_t b;
        make_heartbeat(&b, HITLESS__HEALTH_STATE__HEALTH_UNHEALTHY, "broke after the flush");
        ck_assert_int_eq(fleet_heartbeat(fleet, a, &b.hb, 20), 0);
        reg("never-flushed", 30);

        restart();
        ck_assert_uint_eq(fleet_size(fleet), 1);
        ck_assert_ptr_null(fleet_find(fleet, "never-flushed"));
        ck_assert_int_eq(fleet_find(fleet, "a")->info->health->state, HITLESS__HEALTH_STATE__HEALTH_HEALTHY);
}
END_TEST

START_TEST(test_unreachable_state_flushed) {
        node_t *a = reg("a", 0);
        ck_assert_int_eq(fleet_flush(fleet), 0);
        ck_assert_int_eq(fleet_expire(fleet, 5000), 1);
        ck_assert(!a->online);
        ck_assert_int_eq(fleet_flush(fleet), 0);
        restart();
        ck_assert(!fleet_find(fleet, "a")->online);
}
END_TEST

START_TEST(test_remove) {
        reg("a", 0);
        reg("b", 0);
        reg("c", 0);
        ck_assert_int_eq(fleet_flush(fleet), 0);
        ck_assert_int_eq(fleet_remove(fleet, "b"), 0);
        ck_assert_ptr_null(fleet_find(fleet, "b"));
        ck_assert_uint_eq(fleet_size(fleet), 2);
        ck_assert_uint_eq(fleet_online(fleet), 2);
        ck_assert_int_eq(fleet_remove(fleet, "b"), -ENOENT);
        ck_assert_int_eq(fleet_remove(fleet, "zz"), -ENOENT);
        /* The others still expire normally (the liveness list is intact). */
        ck_assert_int_eq(fleet_expire(fleet, 5000), 2);

        /* Removed from the store at once, without a flush. */
        restart();
        ck_assert_uint_eq(fleet_size(fleet), 2);
        ck_assert_ptr_null(fleet_find(fleet, "b"));
        ck_assert_ptr_nonnull(fleet_find(fleet, "a"));
}
END_TEST

START_TEST(test_remove_unflushed) {
        /* Nodes waiting to be flushed, one removed from the middle of the
         * dirty list: the flush must write only the others. */
        reg("a", 0);
        reg("b", 0);
        reg("c", 0);
        ck_assert_int_eq(fleet_remove(fleet, "b"), 0);
        ck_assert_int_eq(fleet_remove(fleet, "c"), 0);
        ck_assert_int_eq(fleet_flush(fleet), 0);
        restart();
        ck_assert_uint_eq(fleet_size(fleet), 1);
        ck_assert_ptr_nonnull(fleet_find(fleet, "a"));
}
END_TEST

/* ---- iteration ---- */

typedef struct {
        char ids[16][NODE_ID_MAX + 1];
        int n, stop_after;
} visit_t;

static int visit(node_t *n, void *ud) {
        visit_t *v = ud;
        ck_assert_int_lt(v->n, 16);
        snprintf(v->ids[v->n++], sizeof v->ids[0], "%s", n->id);
        return v->stop_after && v->n >= v->stop_after ? 9 : 0;
}

START_TEST(test_foreach_sorted) {
        static const char *const ids[] = { "c", "a10", "b", "a2", "a", "B" };
        static const char *const sorted[] = { "B", "a", "a10", "a2", "b", "c" };
        visit_t v = { .n = 0 };

        ck_assert_int_eq(fleet_foreach_sorted(fleet, visit, &v), 0);  /* empty */
        ck_assert_int_eq(v.n, 0);
        for (int i = 0; i < 6; i++)
                reg(ids[i], i);
        ck_assert_int_eq(fleet_expire(fleet, 1002), 2);  /* online or not, all are listed */
        ck_assert_int_eq(fleet_foreach_sorted(fleet, visit, &v), 0);
        ck_assert_int_eq(v.n, 6);
        for (int i = 0; i < 6; i++)
                ck_assert_str_eq(v.ids[i], sorted[i]);

        visit_t w = { .n = 0, .stop_after = 2 };
        ck_assert_int_eq(fleet_foreach_sorted(fleet, visit, &w), 9);
        ck_assert_int_eq(w.n, 2);
        ck_assert_str_eq(w.ids[1], "a");
}
END_TEST

/* ---- scale ---- */

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* 10,000 nodes through 20 rounds of heartbeats and expiry, flushed only at
 * the end. Only correctness is asserted; the timings are printed for a
 * human to compare the per-heartbeat cost at 1,000 and at 10,000 nodes. */
START_TEST(test_ten_thousand_nodes) {
        enum { N = 10000, ROUNDS = 20, STOP_ROUND = 5 };
        static node_t *nodes[N];
        char id[32];
        double t0, small = 0, large = 0;

        fleet_set_timeout(fleet, 5000);
        for (int i = 0; i < N; i++) {
                snprintf(id, sizeof id, "node-%05d", i);
                nodes[i] = reg(id, 0);
                if (i == 999) {
                        /* Per-heartbeat cost with 1,000 nodes. */
                        t0 = now_s();
                        for (int k = 0; k < 10; k++)
                                for (int j = 0; j < 1000; j++)
                                        beat(nodes[j], HITLESS__HEALTH_STATE__HEALTH_HEALTHY, 0);
                        small = (now_s() - t0) / 10000;
                }
        }
        ck_assert_uint_eq(fleet_size(fleet), N);
        ck_assert_uint_eq(fleet_online(fleet), N);

        /* Every 100th node falls silent after STOP_ROUND; the others beat
         * every second, in a different order each round. */
        for (int round = 1; round <= ROUNDS; round++) {
                int64_t now = (int64_t) round * 1000;
                t0 = now_s();
                int beats = 0;
                for (int k = 0; k < N; k++) {
                        int i = (k * 7919 + round * 31) % N;  /* 7919 is prime: a permutation */
                        if (i % 100 == 0 && round > STOP_ROUND)
                                continue;
                        beat(nodes[i], HITLESS__HEALTH_STATE__HEALTH_HEALTHY, now);
                        beats++;
                }
                if (round == ROUNDS)
                        large = (now_s() - t0) / beats;
                int expired = fleet_expire(fleet, now);
                /* Silent since STOP_ROUND * 1000: gone once more than 5 s passed. */
                int want = now - STOP_ROUND * 1000 > 5000 && now - 1000 - STOP_ROUND * 1000 <= 5000 ? N / 100 : 0;
                ck_assert_msg(expired == want, "round %d: %d expired, want %d", round, expired, want);
        }
        ck_assert_uint_eq(fleet_online(fleet), N - N / 100);
        for (int i = 0; i < N; i++)
                ck_assert(nodes[i]->online == (i % 100 != 0));

        t0 = now_s();
        ck_assert_int_eq(fleet_flush(fleet), 0);
        double flush = now_s() - t0;
        fprintf(stderr, "fleet: %.2f us per heartbeat at 1,000 nodes, %.2f us at 10,000; flush of 10,000: %.0f ms\n",
                small * 1e6, large * 1e6, flush * 1e3);

        /* Without a flush in between, more events were queued than the
         * queue holds (N registered + N health + N/100 unreachable): none
         * was lost. */
        ck_assert_int_eq(stored_events(3 * N), 2 * N + N / 100);

        restart();
        ck_assert_uint_eq(fleet_size(fleet), N);
        ck_assert_uint_eq(fleet_online(fleet), 0);
        ck_assert_ptr_nonnull(fleet_find(fleet, "node-09999"));
}
END_TEST

static Suite *fleet_suite(void) {
        Suite *s = suite_create("fleet");
        TCase *tc = tcase_create("nodes");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_register_creates_node);
        tcase_add_test(tc, test_register_again_updates);
        tcase_add_test(tc, test_heartbeat_updates_health_and_packages);
        tcase_add_test(tc, test_health_change_events);
        tcase_add_test(tc, test_events_written_by_flush);
        tcase_add_test(tc, test_foreach_sorted);
        suite_add_tcase(s, tc);

        tc = tcase_create("liveness");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_expire_exactly_the_silent);
        tcase_add_test(tc, test_expiry_order);
        tcase_add_test(tc, test_back_online);
        tcase_add_test(tc, test_set_timeout);
        tcase_add_test(tc, test_revoke);
        suite_add_tcase(s, tc);

        tc = tcase_create("persistence");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_flush_and_restore);
        tcase_add_test(tc, test_only_flushed_state_survives);
        tcase_add_test(tc, test_unreachable_state_flushed);
        tcase_add_test(tc, test_remove);
        tcase_add_test(tc, test_remove_unflushed);
        suite_add_tcase(s, tc);

        tc = tcase_create("scale");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 600);
        tcase_add_test(tc, test_ten_thousand_nodes);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        log_set_max_level(LOG_ERR);  /* thousands of "unreachable" warnings otherwise */
        SRunner *sr = srunner_create(fleet_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
