/* coordinator/keyring: which Curve keys may connect and which node id each
 * is bound to. Every test runs against a real store in its own temporary
 * directory, and checks the store as well as the keyring's answers. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/keys.h"
#include "common/log.h"
#include "coordinator/fleet/keyring.h"
#include "coordinator/store/store.h"
#include "tests/helpers/z85_keys.h"

static char tmpdir[256];
static char dbpath[300];
static store_t *store;
static keyring_t *kr;

static void open_store(void) {
        int r = store_open(dbpath, &store);
        ck_assert_msg(r == 0, "store_open: %s", strerror(-r));
}

static void new_keyring(long long max_pending, double per_second) {
        int r = keyring_new(store, max_pending, per_second, &kr);
        ck_assert_msg(r == 0, "keyring_new: %s", strerror(-r));
        ck_assert_ptr_nonnull(kr);
}

static void setup(void) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/test_keyring.XXXXXX", base && *base ? base : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        snprintf(dbpath, sizeof dbpath, "%s/state.db", tmpdir);
        open_store();
        new_keyring(100, 1000);
}

static void teardown(void) {
        char cmd[400];
        keyring_destroy(&kr);
        ck_assert_ptr_null(kr);
        keyring_destroy(&kr);  /* accepts NULL */
        store_close(&store);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        ck_assert_int_eq(system(cmd), 0);
}

static const char *key(int n) {
        return test_z85_key(n);
}

static key_state_t state_of(const char *public_key) {
        key_state_t st = (key_state_t) -1;
        ck_assert_int_eq(keyring_state(kr, public_key, &st), 0);
        return st;
}

static key_record_t stored(const char *public_key) {
        key_record_t rec;
        memset(&rec, 0, sizeof rec);
        int r = store_key_get(store, public_key, &rec);
        ck_assert_msg(r == 0, "store_key_get %s: %s", public_key, strerror(-r));
        return rec;
}

static bool in_store(const char *public_key) {
        key_record_t rec;
        int r = store_key_get(store, public_key, &rec);
        ck_assert(r == 0 || r == -ENOENT);
        return r == 0;
}

/* A new key that claims node_id, left pending. */
static void pending(const char *public_key, const char *node_id, int64_t now_ms) {
        ck_assert_int_eq(keyring_authorize(kr, public_key, "10.0.0.1", now_ms), AUTH_PROVISIONAL);
        if (node_id)
                ck_assert_int_eq(keyring_claim(kr, public_key, node_id, now_ms), 0);
}

/* A key accepted for node_id. */
static void accepted(const char *public_key, const char *node_id) {
        pending(public_key, node_id, 0);
        ck_assert_int_eq(keyring_accept(kr, public_key, "unix:root", NULL), 0);
}

typedef struct {
        event_record_t ev[64];
        int n;
} events_t;

static int collect_event(const event_record_t *ev, void *ud) {
        events_t *l = ud;
        ck_assert_int_lt(l->n, 64);
        l->ev[l->n++] = *ev;
        return 0;
}

static events_t *events(void) {
        events_t *l = calloc(1, sizeof *l);
        ck_assert_ptr_nonnull(l);
        ck_assert_int_eq(store_events_foreach(store, NULL, 64, collect_event, l), 0);
        return l;
}

/* The first event of kind, or NULL. */
static const event_record_t *find_event(const events_t *l, const char *kind) {
        for (int i = 0; i < l->n; i++)
                if (strcmp(l->ev[i].kind, kind) == 0)
                        return &l->ev[i];
        return NULL;
}

static int count_kind(const events_t *l, const char *kind) {
        int n = 0;
        for (int i = 0; i < l->n; i++)
                n += strcmp(l->ev[i].kind, kind) == 0;
        return n;
}

/* An accepted key saying Hello as another node: an event under the node it
 * claims to be (under its own when that is no node id), and a key that
 * keeps trying costs a counter once past the burst. */
START_TEST(test_accepted_key_impersonation) {
        accepted(key(1), "web1");
        accepted(key(2), "web2");
        keyring_impersonation(kr, "web2", "web1", "203.0.113.9", 0);
        keyring_impersonation(kr, "web2", "not a node id!", "203.0.113.9", 0);

        events_t *l = events();
        ck_assert_int_eq(count_kind(l, "key.impersonation"), 2);
        for (int i = 0; i < l->n; i++) {
                const event_record_t *ev = &l->ev[i];
                if (strcmp(ev->kind, "key.impersonation") != 0)
                        continue;
                ck_assert_str_eq(ev->actor, "coordinator");
                ck_assert_ptr_nonnull(strstr(ev->message, "the key bound to web2"));
                ck_assert_ptr_nonnull(strstr(ev->message, key(2)));
                ck_assert_ptr_nonnull(strstr(ev->message, "from 203.0.113.9"));
                ck_assert_str_eq(ev->node_id, strstr(ev->message, "says Hello as web1 ") ? "web1" : "web2");
        }
        free(l);

        for (int i = 0; i < 100; i++)
                keyring_impersonation(kr, "web2", "web1", "203.0.113.9", 0);
        l = events();
        ck_assert_int_le(count_kind(l, "key.impersonation"), 12);  /* the burst of 10, not 100 */
        free(l);
        /* Nothing else changed. */
        ck_assert_str_eq(keyring_key_of_node(kr, "web1"), key(1));
        ck_assert_str_eq(keyring_key_of_node(kr, "web2"), key(2));
}
END_TEST

/* ---- a new key ---- */

START_TEST(test_unknown_key_is_provisional_and_recorded) {
        ck_assert_int_eq(keyring_state(kr, key(1), &(key_state_t){ 0 }), -ENOENT);
        ck_assert(!in_store(key(1)));

        ck_assert_int_eq(keyring_authorize(kr, key(1), "192.0.2.7", 0), AUTH_PROVISIONAL);
        ck_assert_int_eq(state_of(key(1)), KEY_PENDING);
        ck_assert_int_eq(keyring_count(kr, KEY_PENDING), 1);
        ck_assert_int_eq(keyring_count(kr, KEY_ACCEPTED), 0);

        /* Recorded in the store before the verdict was given. */
        key_record_t rec = stored(key(1));
        ck_assert_int_eq(rec.state, KEY_PENDING);
        ck_assert_str_eq(rec.node_id, "");
        ck_assert_str_eq(rec.address, "192.0.2.7");
        ck_assert_uint_eq(rec.attempts, 1);
        ck_assert_int_gt(rec.first_seen, 0);
        ck_assert_ptr_null(keyring_accepted_node(kr, key(1)));
}
END_TEST

START_TEST(test_claimed_pending_key_denied) {
        ck_assert_int_eq(keyring_authorize(kr, key(1), "10.0.0.1", 0), AUTH_PROVISIONAL);
        /* Until it says which node it is, it may try again (within the rate). */
        ck_assert_int_eq(keyring_authorize(kr, key(1), "10.0.0.1", 10), AUTH_PROVISIONAL);
        ck_assert_int_eq(keyring_claim(kr, key(1), "web1", 20), 0);
        ck_assert_int_eq(keyring_authorize(kr, key(1), "10.0.0.1", 30), AUTH_DENY_PENDING);
        ck_assert_int_eq(keyring_authorize(kr, key(1), "10.0.0.1", 60000), AUTH_DENY_PENDING);
        ck_assert_int_eq(state_of(key(1)), KEY_PENDING);
        ck_assert_int_eq(keyring_count(kr, KEY_PENDING), 1);
}
END_TEST

START_TEST(test_claim) {
        pending(key(1), NULL, 0);
        ck_assert_int_eq(keyring_claim(kr, key(1), "web1", 0), 0);
        ck_assert_str_eq(stored(key(1)).node_id, "web1");
        /* Only the first claim counts. */
        ck_assert_int_eq(keyring_claim(kr, key(1), "web2", 0), -EALREADY);
        ck_assert_int_eq(keyring_claim(kr, key(1), "web1", 0), -EALREADY);
        ck_assert_str_eq(stored(key(1)).node_id, "web1");
        /* Unknown or not pending. */
        ck_assert_int_eq(keyring_claim(kr, key(2), "web2", 0), -ENOENT);
        ck_assert(!in_store(key(2)));
        accepted(key(3), "web3");
        ck_assert_int_eq(keyring_claim(kr, key(3), "web9", 0), -ENOENT);
        ck_assert_str_eq(stored(key(3)).node_id, "web3");
}
END_TEST

START_TEST(test_failed_claim_changes_nothing) {
        /* The store refuses a bad node id (the agent link checks it before
         * claiming); the key must not look as if it claimed one. */
        pending(key(1), NULL, 0);
        ck_assert_int_lt(keyring_claim(kr, key(1), "not a node id!", 0), 0);
        ck_assert_str_eq(stored(key(1)).node_id, "");
        ck_assert_int_eq(keyring_accept(kr, "not a node id!", "unix:root", NULL), -ENOENT);
        ck_assert_int_eq(keyring_claim(kr, key(1), "web1", 0), 0);
        ck_assert_str_eq(stored(key(1)).node_id, "web1");
}
END_TEST

/* ---- admin actions ---- */

START_TEST(test_accept_binds) {
        key_record_t rec;
        pending(key(1), "web1", 0);
        memset(&rec, 0, sizeof rec);
        ck_assert_int_eq(keyring_accept(kr, "web1", "unix:alice", &rec), 0);
        ck_assert_str_eq(rec.public_key, key(1));
        ck_assert_str_eq(rec.node_id, "web1");
        ck_assert_int_eq(rec.state, KEY_ACCEPTED);

        ck_assert_int_eq(keyring_authorize(kr, key(1), "10.0.0.1", 0), AUTH_ALLOW);
        ck_assert_int_eq(state_of(key(1)), KEY_ACCEPTED);
        ck_assert_str_eq(keyring_accepted_node(kr, key(1)), "web1");
        ck_assert_str_eq(keyring_key_of_node(kr, "web1"), key(1));
        ck_assert_ptr_null(keyring_key_of_node(kr, "web2"));
        ck_assert_ptr_null(keyring_accepted_node(kr, key(2)));
        ck_assert_int_eq(stored(key(1)).state, KEY_ACCEPTED);
        ck_assert_int_eq(keyring_count(kr, KEY_ACCEPTED), 1);
        ck_assert_int_eq(keyring_count(kr, KEY_PENDING), 0);

        /* By node id or by key: already accepted, and the record says
         * which node (admin_keys answers with it). */
        memset(&rec, 0, sizeof rec);
        ck_assert_int_eq(keyring_accept(kr, "web1", "unix:alice", &rec), -EALREADY);
        ck_assert_str_eq(rec.node_id, "web1");
        ck_assert_int_eq(rec.state, KEY_ACCEPTED);
        ck_assert_int_eq(keyring_accept(kr, key(1), "unix:alice", NULL), -EALREADY);
        ck_assert_int_eq(keyring_accept(kr, "nobody", "unix:alice", NULL), -ENOENT);
        ck_assert_int_eq(keyring_accept(kr, key(9), "unix:alice", NULL), -ENOENT);
}
END_TEST

START_TEST(test_accept_by_key) {
        pending(key(1), "web1", 0);
        ck_assert_int_eq(keyring_accept(kr, key(1), "unix:root", NULL), 0);
        ck_assert_str_eq(keyring_key_of_node(kr, "web1"), key(1));
}
END_TEST

START_TEST(test_impersonation) {
        accepted(key(1), "web1");
        /* Another key says it is web1. */
        ck_assert_int_eq(keyring_authorize(kr, key(2), "203.0.113.9", 0), AUTH_PROVISIONAL);
        ck_assert_int_eq(keyring_claim(kr, key(2), "web1", 0), -EEXIST);
        /* The claim is still recorded, so the admin sees it... */
        ck_assert_int_eq(state_of(key(2)), KEY_PENDING);
        ck_assert_str_eq(stored(key(2)).node_id, "web1");
        ck_assert_int_eq(keyring_authorize(kr, key(2), "203.0.113.9", 0), AUTH_DENY_PENDING);
        /* ...but it cannot be accepted while web1 has its key. */
        ck_assert_int_eq(keyring_accept(kr, key(2), "unix:root", NULL), -EEXIST);
        ck_assert_int_eq(state_of(key(2)), KEY_PENDING);
        ck_assert_str_eq(keyring_key_of_node(kr, "web1"), key(1));
        ck_assert_int_eq(keyring_authorize(kr, key(1), "10.0.0.1", 0), AUTH_ALLOW);

        events_t *l = events();
        const event_record_t *ev = find_event(l, "key.impersonation");
        ck_assert_ptr_nonnull(ev);
        ck_assert_str_eq(ev->node_id, "web1");
        ck_assert_str_eq(ev->actor, "coordinator");
        ck_assert_ptr_nonnull(strstr(ev->message, key(2)));
        ck_assert_ptr_nonnull(strstr(ev->message, "203.0.113.9"));
        free(l);

        /* Once web1's key is deleted, the other key may be accepted. */
        ck_assert_int_eq(keyring_delete(kr, key(1), "unix:root", NULL), 0);
        ck_assert_int_eq(keyring_accept(kr, key(2), "unix:root", NULL), 0);
        ck_assert_str_eq(keyring_key_of_node(kr, "web1"), key(2));
}
END_TEST

START_TEST(test_two_pending_claim_one_node) {
        pending(key(1), "db1", 0);
        pending(key(2), "db1", 0);
        ck_assert_int_eq(keyring_accept(kr, "db1", "unix:root", NULL), -ENOTUNIQ);
        ck_assert_int_eq(keyring_reject(kr, "db1", "unix:root", NULL), -ENOTUNIQ);
        ck_assert_int_eq(keyring_delete(kr, "db1", "unix:root", NULL), -ENOTUNIQ);
        ck_assert_int_eq(keyring_count(kr, KEY_PENDING), 2);

        ck_assert_int_eq(keyring_accept(kr, key(2), "unix:root", NULL), 0);
        ck_assert_str_eq(keyring_key_of_node(kr, "db1"), key(2));
        /* Now the node id names the accepted key, but key(1) still claims
         * db1: accepting db1 again is ambiguous, not "already accepted"
         * (changed on purpose: that answer would hide the waiting key).
         * By key it is already accepted. */
        ck_assert_int_eq(keyring_accept(kr, "db1", "unix:root", NULL), -ENOTUNIQ);
        ck_assert_int_eq(keyring_accept(kr, key(2), "unix:root", NULL), -EALREADY);
        ck_assert_int_eq(keyring_accept(kr, key(1), "unix:root", NULL), -EEXIST);
        ck_assert_int_eq(state_of(key(1)), KEY_PENDING);
}
END_TEST

static int sole(const char *public_key) {
        return keyring_sole_claim(kr, public_key, NULL);
}

static int claimants_of(const char *public_key) {
        int n = -1;
        keyring_sole_claim(kr, public_key, &n);
        return n;
}

/* accept --all's rule: a node id claimed by several keys is ambiguous,
 * whichever claimed it first. */
START_TEST(test_sole_claim) {
        pending(key(1), "db1", 0);
        pending(key(2), "db1", 0);
        pending(key(3), "web1", 0);
        pending(key(4), NULL, 0);
        accepted(key(5), "app1");
        ck_assert_int_eq(keyring_authorize(kr, key(6), "203.0.113.9", 0), AUTH_PROVISIONAL);
        ck_assert_int_eq(keyring_claim(kr, key(6), "app1", 0), -EEXIST);

        ck_assert_int_eq(sole(key(1)), -ENOTUNIQ);
        ck_assert_int_eq(sole(key(2)), -ENOTUNIQ);
        ck_assert_int_eq(claimants_of(key(1)), 2);
        ck_assert_int_eq(sole(key(3)), 0);
        ck_assert_int_eq(claimants_of(key(3)), 1);
        ck_assert_int_eq(sole(key(4)), -ENOENT);   /* never said which node */
        ck_assert_int_eq(sole(key(5)), -ENOENT);   /* not pending */
        ck_assert_int_eq(sole(key(6)), -EEXIST);   /* app1 is bound to key(5) */
        ck_assert_int_eq(claimants_of(key(6)), 1);
        ck_assert_int_eq(sole(key(9)), -ENOENT);

        /* Accepting by that rule changes nothing for an ambiguous key. */
        ck_assert_int_eq(keyring_accept_sole(kr, key(1), "unix:root", NULL), -ENOTUNIQ);
        ck_assert_int_eq(keyring_accept_sole(kr, key(6), "unix:root", NULL), -EEXIST);
        ck_assert_int_eq(state_of(key(1)), KEY_PENDING);
        ck_assert_int_eq(state_of(key(6)), KEY_PENDING);
        ck_assert_ptr_null(keyring_key_of_node(kr, "db1"));
        ck_assert_str_eq(keyring_key_of_node(kr, "app1"), key(5));
        key_record_t rec;
        ck_assert_int_eq(keyring_accept_sole(kr, key(3), "unix:root", &rec), 0);
        ck_assert_str_eq(rec.node_id, "web1");
        ck_assert_int_eq(keyring_accept_sole(kr, key(3), "unix:root", NULL), -ENOENT);

        /* Once the other claim is decided, the remaining one is sole. */
        ck_assert_int_eq(keyring_reject(kr, key(2), "unix:root", NULL), 0);
        ck_assert_int_eq(sole(key(1)), 0);
        ck_assert_int_eq(claimants_of(key(1)), 1);
        ck_assert_int_eq(keyring_delete(kr, key(5), "unix:root", NULL), 0);
        ck_assert_int_eq(sole(key(6)), 0);
        pending(key(7), "db2", 0);
        pending(key(8), "db2", 0);
        ck_assert_int_eq(keyring_delete(kr, key(8), "unix:root", NULL), 0);
        ck_assert_int_eq(sole(key(7)), 0);
        /* Accepting one of two claims by key binds it; the other stays
         * pending, now refused as bound elsewhere. */
        pending(key(10), "db3", 0);
        pending(key(11), "db3", 0);
        ck_assert_int_eq(keyring_accept(kr, key(10), "unix:root", NULL), 0);
        ck_assert_int_eq(sole(key(11)), -EEXIST);
}
END_TEST

START_TEST(test_sole_claim_survives_reopen) {
        pending(key(1), "db1", 0);
        pending(key(2), "db1", 0);
        pending(key(3), "web1", 0);
        keyring_destroy(&kr);
        new_keyring(100, 1000);
        ck_assert_int_eq(sole(key(1)), -ENOTUNIQ);
        ck_assert_int_eq(claimants_of(key(2)), 2);
        ck_assert_int_eq(sole(key(3)), 0);
}
END_TEST

START_TEST(test_reject) {
        key_record_t rec;
        pending(key(1), "web1", 0);
        ck_assert_int_eq(keyring_reject(kr, "web1", "unix:root", &rec), 0);
        ck_assert_int_eq(rec.state, KEY_REJECTED);
        ck_assert_int_eq(keyring_authorize(kr, key(1), "10.0.0.1", 0), AUTH_DENY_REJECTED);
        ck_assert_int_eq(stored(key(1)).state, KEY_REJECTED);
        ck_assert_int_eq(keyring_reject(kr, key(1), "unix:root", NULL), -EALREADY);
        ck_assert_int_eq(keyring_count(kr, KEY_REJECTED), 1);
        ck_assert_int_eq(keyring_count(kr, KEY_PENDING), 0);

        /* Rejecting an accepted key unbinds it. */
        accepted(key(2), "web2");
        ck_assert_int_eq(keyring_reject(kr, "web2", "unix:root", NULL), 0);
        ck_assert_ptr_null(keyring_key_of_node(kr, "web2"));
        ck_assert_ptr_null(keyring_accepted_node(kr, key(2)));
        ck_assert_int_eq(keyring_authorize(kr, key(2), "10.0.0.1", 0), AUTH_DENY_REJECTED);

        /* An admin may change their mind. */
        ck_assert_int_eq(keyring_accept(kr, key(2), "unix:root", NULL), 0);
        ck_assert_int_eq(keyring_authorize(kr, key(2), "10.0.0.1", 0), AUTH_ALLOW);
}
END_TEST

START_TEST(test_delete_forgets) {
        key_record_t rec;
        accepted(key(1), "web1");
        memset(&rec, 0, sizeof rec);
        ck_assert_int_eq(keyring_delete(kr, "web1", "unix:root", &rec), 0);
        ck_assert_int_eq(rec.state, KEY_ACCEPTED);  /* as it was */
        ck_assert_str_eq(rec.node_id, "web1");
        ck_assert_int_eq(keyring_state(kr, key(1), &(key_state_t){ 0 }), -ENOENT);
        ck_assert(!in_store(key(1)));
        ck_assert_ptr_null(keyring_key_of_node(kr, "web1"));
        ck_assert_ptr_null(keyring_accepted_node(kr, key(1)));
        ck_assert_int_eq(keyring_count(kr, KEY_ACCEPTED), 0);
        ck_assert_int_eq(keyring_delete(kr, key(1), "unix:root", NULL), -ENOENT);

        /* Next time it is a new key. */
        ck_assert_int_eq(keyring_authorize(kr, key(1), "10.0.0.1", 0), AUTH_PROVISIONAL);
        ck_assert_int_eq(state_of(key(1)), KEY_PENDING);
        ck_assert_str_eq(stored(key(1)).node_id, "");

        /* A rejected key too. */
        pending(key(2), "web2", 0);
        ck_assert_int_eq(keyring_reject(kr, key(2), "unix:root", NULL), 0);
        ck_assert_int_eq(keyring_delete(kr, key(2), "unix:root", NULL), 0);
        ck_assert_int_eq(keyring_authorize(kr, key(2), "10.0.0.1", 0), AUTH_PROVISIONAL);
}
END_TEST

/* ---- floods ---- */

START_TEST(test_pending_table_bound) {
        keyring_destroy(&kr);
        new_keyring(5, 1000);
        for (int i = 1; i <= 5; i++)
                pending(key(i), NULL, 0);
        ck_assert_uint_eq(keyring_pending_dropped(kr), 0);

        ck_assert_int_eq(keyring_authorize(kr, key(6), "10.0.0.6", 0), AUTH_DENY_FLOOD);
        ck_assert_uint_eq(keyring_pending_dropped(kr), 1);
        ck_assert(!in_store(key(6)));
        ck_assert_int_eq(keyring_state(kr, key(6), &(key_state_t){ 0 }), -ENOENT);
        ck_assert_int_eq(keyring_authorize(kr, key(7), "10.0.0.7", 1000), AUTH_DENY_FLOOD);
        ck_assert_uint_eq(keyring_pending_dropped(kr), 2);
        ck_assert_int_eq(keyring_count(kr, KEY_PENDING), 5);

        /* Known keys are not affected. */
        ck_assert_int_eq(keyring_claim(kr, key(1), "web1", 0), 0);
        ck_assert_int_eq(keyring_authorize(kr, key(1), "10.0.0.1", 0), AUTH_DENY_PENDING);

        /* The bound is on pending keys: accepting one makes room. */
        ck_assert_int_eq(keyring_accept(kr, "web1", "unix:root", NULL), 0);
        ck_assert_int_eq(keyring_authorize(kr, key(6), "10.0.0.6", 2000), AUTH_PROVISIONAL);
        ck_assert(in_store(key(6)));
        ck_assert_int_eq(keyring_authorize(kr, key(8), "10.0.0.8", 2000), AUTH_DENY_FLOOD);
        ck_assert_uint_eq(keyring_pending_dropped(kr), 3);
}
END_TEST

START_TEST(test_admission_rate) {
        int admitted = 0, n = 0;
        keyring_destroy(&kr);
        new_keyring(100000, 1);  /* one new pending key per second */

        /* A burst at one instant: a few get in, the rest are refused. */
        for (int i = 0; i < 50; i++, n++)
                admitted += keyring_authorize(kr, key(n), "10.0.0.1", 1000) == AUTH_PROVISIONAL;
        ck_assert_int_ge(admitted, 1);
        ck_assert_int_lt(admitted, 50);
        ck_assert_uint_eq(keyring_pending_dropped(kr), (uint64_t) (50 - admitted));
        ck_assert_int_eq(keyring_count(kr, KEY_PENDING), admitted);
        for (int i = 0; i < 50; i++) {
                key_state_t st;
                bool known = keyring_state(kr, key(i), &st) == 0;
                ck_assert(known == in_store(key(i)));
        }

        /* Then one attempt every 10 ms for 10 s: about one per second. */
        int later = 0;
        for (int64_t t = 1010; t <= 11000; t += 10, n++)
                later += keyring_authorize(kr, key(n), "10.0.0.1", t) == AUTH_PROVISIONAL;
        ck_assert_int_ge(later, 9);
        ck_assert_int_le(later, 11);
        ck_assert_int_eq(keyring_count(kr, KEY_PENDING), admitted + later);
        ck_assert_uint_eq(keyring_pending_dropped(kr), (uint64_t) (n - admitted - later));
}
END_TEST

START_TEST(test_flood_does_not_touch_known_keys) {
        keyring_destroy(&kr);
        new_keyring(100000, 1);
        /* Known keys, admitted well apart. */
        accepted(key(1), "web1");
        pending(key(2), NULL, 10000);
        pending(key(3), "web3", 20000);
        ck_assert_int_eq(keyring_reject(kr, key(3), "unix:root", NULL), 0);
        /* A flood drains the admission bucket. */
        for (int i = 100; i < 200; i++)
                keyring_authorize(kr, key(i), "10.0.0.1", 30000);
        ck_assert_uint_gt(keyring_pending_dropped(kr), 0);
        ck_assert_int_eq(keyring_authorize(kr, key(1), "10.0.0.1", 30000), AUTH_ALLOW);
        ck_assert_int_eq(keyring_authorize(kr, key(3), "10.0.0.1", 30000), AUTH_DENY_REJECTED);
        /* An unclaimed pending key's retry is rate-limited like a new key. */
        ck_assert_int_eq(keyring_authorize(kr, key(2), "10.0.0.1", 30000), AUTH_DENY_PENDING);
        ck_assert_int_eq(state_of(key(2)), KEY_PENDING);
}
END_TEST

/* ---- durability ---- */

START_TEST(test_state_survives_reopen) {
        accepted(key(1), "web1");
        pending(key(2), "web2", 0);
        ck_assert_int_eq(keyring_reject(kr, key(2), "unix:root", NULL), 0);
        pending(key(3), "db1", 0);
        pending(key(4), NULL, 0);

        keyring_destroy(&kr);
        store_close(&store);
        open_store();
        new_keyring(100, 1000);

        ck_assert_int_eq(state_of(key(1)), KEY_ACCEPTED);
        ck_assert_int_eq(state_of(key(2)), KEY_REJECTED);
        ck_assert_int_eq(state_of(key(3)), KEY_PENDING);
        ck_assert_int_eq(state_of(key(4)), KEY_PENDING);
        ck_assert_int_eq(keyring_count(kr, KEY_ACCEPTED), 1);
        ck_assert_int_eq(keyring_count(kr, KEY_REJECTED), 1);
        ck_assert_int_eq(keyring_count(kr, KEY_PENDING), 2);
        ck_assert_str_eq(keyring_accepted_node(kr, key(1)), "web1");
        ck_assert_str_eq(keyring_key_of_node(kr, "web1"), key(1));
        ck_assert_ptr_null(keyring_key_of_node(kr, "web2"));
        ck_assert_int_eq(keyring_authorize(kr, key(1), "10.0.0.1", 0), AUTH_ALLOW);
        ck_assert_int_eq(keyring_authorize(kr, key(2), "10.0.0.1", 0), AUTH_DENY_REJECTED);
        ck_assert_int_eq(keyring_authorize(kr, key(3), "10.0.0.1", 0), AUTH_DENY_PENDING);
        ck_assert_int_eq(keyring_claim(kr, key(3), "db2", 0), -EALREADY);
        ck_assert_int_eq(keyring_claim(kr, key(4), "db4", 0), 0);
        /* The binding is enforced after the restart too. */
        pending(key(5), NULL, 0);
        ck_assert_int_eq(keyring_claim(kr, key(5), "web1", 0), -EEXIST);
        ck_assert_int_eq(keyring_accept(kr, "db1", "unix:root", NULL), 0);
}
END_TEST

START_TEST(test_flush_writes_attempts) {
        accepted(key(1), "web1");
        uint32_t before = stored(key(1)).attempts;
        for (int i = 0; i < 3; i++)
                ck_assert_int_eq(keyring_authorize(kr, key(1), "198.51.100.4", i), AUTH_ALLOW);
        ck_assert_int_eq(keyring_flush(kr), 0);
        key_record_t rec = stored(key(1));
        ck_assert_uint_eq(rec.attempts, before + 3);
        ck_assert_str_eq(rec.address, "198.51.100.4");
        ck_assert_int_eq(rec.state, KEY_ACCEPTED);
}
END_TEST

/* ---- pre-approved keys ---- */

static void make_file(const char *dir, const char *name, const char *content) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, name);
        FILE *f = fopen(p, "w");
        ck_assert_ptr_nonnull(f);
        fputs(content, f);
        ck_assert_int_eq(fclose(f), 0);
}

static void copy_file(const char *from, const char *to) {
        char buf[4096];
        FILE *in = fopen(from, "r"), *out = fopen(to, "w");
        size_t n;
        ck_assert(in && out);
        while ((n = fread(buf, 1, sizeof buf, in)) > 0)
                ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
        fclose(in);
        ck_assert_int_eq(fclose(out), 0);
}

START_TEST(test_preapproved) {
        char dir[400], other[400], from[600], to[600];
        char web1[KEYS_Z85_LEN + 1], web2[KEYS_Z85_LEN + 1], web3[KEYS_Z85_LEN + 1],
                web5[KEYS_Z85_LEN + 1], web6[KEYS_Z85_LEN + 1], web7[KEYS_Z85_LEN + 1],
                bad[KEYS_Z85_LEN + 1];

        snprintf(dir, sizeof dir, "%s/preapproved", tmpdir);
        snprintf(other, sizeof other, "%s/other", tmpdir);
        ck_assert_int_eq(keys_generate(dir, "web1", web1), 0);
        ck_assert_int_eq(keys_generate(dir, "web2", web2), 0);
        /* Only a secret file: not a .key file. */
        ck_assert_int_eq(keys_generate(dir, "web3", web3), 0);
        snprintf(from, sizeof from, "%s/web3.key", dir);
        ck_assert_int_eq(unlink(from), 0);
        /* Not a key inside. */
        make_file(dir, "web4.key", "not a key\n");
        make_file(dir, "notes.txt", "hello\n");
        make_file(dir, ".key", "");
        /* A valid key under names that are not node ids. */
        ck_assert_int_eq(keys_generate(other, "bad", bad), 0);
        snprintf(from, sizeof from, "%s/bad.key", other);
        static const char *const bad_names[] = {
                "-bad.key", "bad name.key", "b@d.key",
                "a234567890123456789012345678901234567890123456789012345678901234.key",
        };
        for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
                snprintf(to, sizeof to, "%s/%s", dir, bad_names[i]);
                copy_file(from, to);
        }
        /* web5's key was rejected before. */
        ck_assert_int_eq(keys_generate(dir, "web5", web5), 0);
        pending(web5, "web5", 0);
        ck_assert_int_eq(keyring_reject(kr, web5, "unix:root", NULL), 0);
        /* web6 is bound to another key. */
        ck_assert_int_eq(keys_generate(dir, "web6", web6), 0);
        accepted(key(6), "web6");
        /* web7's key is pending and claimed nothing yet. */
        ck_assert_int_eq(keys_generate(dir, "web7", web7), 0);
        pending(web7, NULL, 0);

        ck_assert_int_eq(keyring_load_preapproved(kr, dir), 3);  /* web1, web2, web7 */
        ck_assert_str_eq(keyring_key_of_node(kr, "web1"), web1);
        ck_assert_str_eq(keyring_key_of_node(kr, "web2"), web2);
        ck_assert_str_eq(keyring_key_of_node(kr, "web7"), web7);
        ck_assert_str_eq(keyring_accepted_node(kr, web1), "web1");
        ck_assert_int_eq(keyring_authorize(kr, web1, "10.0.0.1", 0), AUTH_ALLOW);
        ck_assert_int_eq(stored(web1).state, KEY_ACCEPTED);
        ck_assert_str_eq(stored(web1).node_id, "web1");
        ck_assert_str_eq(stored(web7).node_id, "web7");

        ck_assert_int_eq(keyring_state(kr, web3, &(key_state_t){ 0 }), -ENOENT);
        ck_assert_int_eq(keyring_state(kr, bad, &(key_state_t){ 0 }), -ENOENT);
        ck_assert_ptr_null(keyring_key_of_node(kr, "web3"));
        ck_assert_ptr_null(keyring_key_of_node(kr, "web4"));
        ck_assert_int_eq(state_of(web5), KEY_REJECTED);
        ck_assert_ptr_null(keyring_key_of_node(kr, "web5"));
        ck_assert_str_eq(keyring_key_of_node(kr, "web6"), key(6));
        ck_assert_int_eq(keyring_state(kr, web6, &(key_state_t){ 0 }), -ENOENT);
        ck_assert_int_eq(keyring_count(kr, KEY_ACCEPTED), 4);

        events_t *l = events();
        int pre = 0;
        for (int i = 0; i < l->n; i++)
                if (strcmp(l->ev[i].kind, "key.accepted") == 0 && strcmp(l->ev[i].actor, "preapproved") == 0)
                        pre++;
        ck_assert_int_eq(pre, 3);
        free(l);

        /* Loading again changes nothing. */
        ck_assert_int_eq(keyring_load_preapproved(kr, dir), 0);
        ck_assert_int_eq(keyring_count(kr, KEY_ACCEPTED), 4);
}
END_TEST

START_TEST(test_preapproved_missing_dir) {
        char dir[400];
        snprintf(dir, sizeof dir, "%s/none", tmpdir);
        ck_assert_int_eq(keyring_load_preapproved(kr, dir), -ENOENT);
}
END_TEST

/* ---- events and listing ---- */

START_TEST(test_events_recorded) {
        accepted(key(1), "web1");                                 /* pending, accepted */
        pending(key(2), NULL, 0);
        ck_assert_int_eq(keyring_claim(kr, key(2), "web1", 0), -EEXIST);  /* impersonation */
        ck_assert_int_eq(keyring_reject(kr, key(2), "unix:bob", NULL), 0);
        ck_assert_int_eq(keyring_delete(kr, key(2), "unix:carol", NULL), 0);

        events_t *l = events();
        static const char *const kinds[] = { "key.pending", "key.accepted", "key.impersonation",
                                             "key.rejected", "key.deleted" };
        static const char *const actors[] = { "coordinator", "unix:root", "coordinator", "unix:bob",
                                              "unix:carol" };
        ck_assert_int_eq(l->n, 5);
        for (int i = 0; i < 5; i++) {
                ck_assert_str_eq(l->ev[i].kind, kinds[i]);
                ck_assert_str_eq(l->ev[i].actor, actors[i]);
                ck_assert_str_eq(l->ev[i].node_id, "web1");
                ck_assert_msg(strstr(l->ev[i].message, i < 2 ? key(1) : key(2)), "%s: %s", kinds[i],
                              l->ev[i].message);
        }
        ck_assert_int_eq(count_kind(l, "key.pending"), 1);
        free(l);
}
END_TEST

static int accept_each(const char *public_key, void *ud) {
        int *n = ud;
        ck_assert_int_eq(keyring_accept(kr, public_key, "unix:root", NULL), 0);
        (*n)++;
        return 0;
}

static int stop_at_first(const char *public_key, void *ud) {
        (void) public_key;
        (*(int *) ud)++;
        return 42;
}

START_TEST(test_foreach_pending) {
        int n = 0;
        pending(key(1), "a1", 0);
        pending(key(2), "a2", 0);
        pending(key(3), "a3", 0);
        accepted(key(4), "a4");
        ck_assert_int_eq(keyring_foreach_pending(kr, stop_at_first, &n), 42);
        ck_assert_int_eq(n, 1);
        n = 0;
        /* The callback may change states: it walks a snapshot. */
        ck_assert_int_eq(keyring_foreach_pending(kr, accept_each, &n), 0);
        ck_assert_int_eq(n, 3);
        ck_assert_int_eq(keyring_count(kr, KEY_PENDING), 0);
        ck_assert_int_eq(keyring_count(kr, KEY_ACCEPTED), 4);
        n = 0;
        ck_assert_int_eq(keyring_foreach_pending(kr, accept_each, &n), 0);
        ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(test_verdict_names) {
        ck_assert_str_eq(auth_verdict_name(AUTH_ALLOW), "allow");
        ck_assert_str_eq(auth_verdict_name(AUTH_PROVISIONAL), "provisional");
        ck_assert_str_eq(auth_verdict_name(AUTH_DENY_PENDING), "pending");
        ck_assert_str_eq(auth_verdict_name(AUTH_DENY_REJECTED), "rejected");
        ck_assert_ptr_nonnull(auth_verdict_name(AUTH_DENY_FLOOD));
}
END_TEST

static Suite *keyring_suite(void) {
        Suite *s = suite_create("keyring");
        TCase *tc = tcase_create("keys");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_unknown_key_is_provisional_and_recorded);
        tcase_add_test(tc, test_claimed_pending_key_denied);
        tcase_add_test(tc, test_claim);
        tcase_add_test(tc, test_failed_claim_changes_nothing);
        tcase_add_test(tc, test_accept_binds);
        tcase_add_test(tc, test_accept_by_key);
        tcase_add_test(tc, test_impersonation);
        tcase_add_test(tc, test_accepted_key_impersonation);
        tcase_add_test(tc, test_two_pending_claim_one_node);
        tcase_add_test(tc, test_sole_claim);
        tcase_add_test(tc, test_sole_claim_survives_reopen);
        tcase_add_test(tc, test_reject);
        tcase_add_test(tc, test_delete_forgets);
        tcase_add_test(tc, test_foreach_pending);
        tcase_add_test(tc, test_verdict_names);
        suite_add_tcase(s, tc);

        tc = tcase_create("floods");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_pending_table_bound);
        tcase_add_test(tc, test_admission_rate);
        tcase_add_test(tc, test_flood_does_not_touch_known_keys);
        suite_add_tcase(s, tc);

        tc = tcase_create("durability");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_state_survives_reopen);
        tcase_add_test(tc, test_flush_writes_attempts);
        tcase_add_test(tc, test_preapproved);
        tcase_add_test(tc, test_preapproved_missing_dir);
        tcase_add_test(tc, test_events_recorded);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        log_set_max_level(LOG_ERR);  /* impersonation warnings are expected here */
        SRunner *sr = srunner_create(keyring_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
