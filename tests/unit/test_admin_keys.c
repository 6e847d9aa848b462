/* coordinator/admin_keys: `keys list` says what accept --all does with
 * each pending key, and the accept of the keys an admin confirmed checks
 * again, since the set may change between listing and accepting. A real
 * keyring on a SQLite store in a temporary directory; the requests that
 * touch no node need no fleet or agent link. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keys.h"
#include "common/log.h"
#include "coordinator/admin/admin_keys.h"
#include "tests/helpers/z85_keys.h"

static char tmpdir[256];
static store_t *store;
static keyring_t *kr;
static admin_deps_t deps;

static void setup(void) {
        char path[300];
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/test_admin_keys.XXXXXX", base && *base ? base : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        snprintf(path, sizeof path, "%s/state.db", tmpdir);
        ck_assert_int_eq(store_open(path, &store), 0);
        ck_assert_int_eq(keyring_new(store, 100, 1000, &kr), 0);
        memset(&deps, 0, sizeof deps);
        deps.store = store;
        deps.keyring = kr;
}

static void teardown(void) {
        char cmd[300];
        keyring_destroy(&kr);
        store_close(&store);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        ck_assert_int_eq(system(cmd), 0);
}

static const char *key(int n) {
        return test_z85_key(n);
}

/* A new key from address claiming node_id (NULL: none), left pending. */
static void pending(const char *public_key, const char *node_id, const char *address) {
        ck_assert_int_eq(keyring_authorize(kr, public_key, address, 0), AUTH_PROVISIONAL);
        if (node_id)
                keyring_claim(kr, public_key, node_id, 0);  /* -EEXIST for a bound node: still recorded */
}

/* db1: two claims; web1: one; an unclaimed key; app1 accepted for key(5)
 * and claimed by key(6). */
static void fleet_of_claims(void) {
        pending(key(1), "db1", "10.0.0.7");
        pending(key(2), "db1", "203.0.113.9");
        pending(key(3), "web1", "10.0.0.3");
        pending(key(4), NULL, "10.0.0.4");
        pending(key(5), "app1", "10.0.0.5");
        ck_assert_int_eq(keyring_accept(kr, key(5), "unix:root", NULL), 0);
        pending(key(6), "app1", "203.0.113.9");
}

static const Hitless__KeyInfo *find(Hitless__KeyInfo **v, size_t n, const char *public_key) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i]->public_key, public_key) == 0)
                        return v[i];
        return NULL;
}

static void assert_verdict(Hitless__KeyInfo **v, size_t n, const char *public_key, const char *accept_all,
                           uint32_t claimants) {
        const Hitless__KeyInfo *k = find(v, n, public_key);
        ck_assert_ptr_nonnull(k);
        ck_assert_str_eq(k->accept_all, accept_all);
        ck_assert_uint_eq(k->claimants, claimants);
}

START_TEST(test_list_says_what_accept_all_does) {
        Hitless__AdminResponse resp = HITLESS__ADMIN_RESPONSE__INIT;
        admin_keys_answer_t ans = { 0 };
        fleet_of_claims();
        admin_keys_list(&deps, &resp, &ans);
        ck_assert_int_eq(resp.status, HITLESS__ADMIN_STATUS__ADMIN_OK);
        ck_assert_int_eq(resp.body_case, HITLESS__ADMIN_RESPONSE__BODY_KEYS);
        Hitless__KeyList *l = resp.keys;
        ck_assert_uint_eq(l->n_keys, 6);
        assert_verdict(l->keys, l->n_keys, key(1), "ambiguous", 2);
        assert_verdict(l->keys, l->n_keys, key(2), "ambiguous", 2);
        assert_verdict(l->keys, l->n_keys, key(3), "accept", 1);
        assert_verdict(l->keys, l->n_keys, key(4), "unclaimed", 0);
        assert_verdict(l->keys, l->n_keys, key(5), "", 0);  /* accepted: not for --all */
        assert_verdict(l->keys, l->n_keys, key(6), "bound", 1);
        ck_assert_str_eq(find(l->keys, l->n_keys, key(2))->address, "203.0.113.9");
        admin_keys_answer_clear(&ans);
}
END_TEST

/* The answer accepted web1 alone. */
static Hitless__KeyActionResult *only_web1_accepted(const Hitless__AdminResponse *resp) {
        ck_assert_int_eq(resp->status, HITLESS__ADMIN_STATUS__ADMIN_OK);
        Hitless__KeyActionResult *r = resp->key_action;
        ck_assert_uint_eq(r->n_node_ids, 1);
        ck_assert_str_eq(r->node_ids[0], "web1");
        return r;
}

static void accept_keys(const char **keys, size_t n, bool all, Hitless__AdminResponse *resp,
                        admin_keys_answer_t *ans) {
        Hitless__KeyActionRequest req = HITLESS__KEY_ACTION_REQUEST__INIT;
        req.action = HITLESS__KEY_ACTION__KEY_ACCEPT;
        req.all = all;
        req.n_public_keys = n;
        req.public_keys = (char **) keys;
        admin_key_action(&deps, &req, "unix:root", resp, ans);
}

START_TEST(test_accept_confirmed_checks_again) {
        Hitless__AdminResponse resp = HITLESS__ADMIN_RESPONSE__INIT;
        admin_keys_answer_t ans = { 0 };
        char k3[KEYS_Z85_LEN + 1], k7[KEYS_Z85_LEN + 1], k9[KEYS_Z85_LEN + 1];
        const char *confirmed[] = { k3, k7, k9 };
        fleet_of_claims();
        snprintf(k3, sizeof k3, "%s", key(3));
        snprintf(k7, sizeof k7, "%s", key(7));
        snprintf(k9, sizeof k9, "%s", key(9));
        pending(k7, "db2", "10.0.0.8");
        pending(k9, "db3", "10.0.0.9");
        /* Listed as sole claims and confirmed; then, before the accept,
         * another key claims db2 and key(9) is deleted. */
        pending(key(8), "db2", "198.51.100.1");
        ck_assert_int_eq(keyring_delete(kr, k9, "unix:bob", NULL), 0);

        accept_keys(confirmed, 3, false, &resp, &ans);
        Hitless__KeyActionResult *r = only_web1_accepted(&resp);
        ck_assert_uint_eq(r->n_skipped, 2);
        assert_verdict(r->skipped, r->n_skipped, k7, "ambiguous", 2);
        assert_verdict(r->skipped, r->n_skipped, k9, "gone", 0);
        ck_assert_str_eq(find(r->skipped, r->n_skipped, k7)->address, "10.0.0.8");
        ck_assert_str_eq(find(r->skipped, r->n_skipped, k9)->state, "deleted");
        /* Only what was confirmed: key(8), and the others, stay pending. */
        ck_assert_str_eq(keyring_key_of_node(kr, "web1"), k3);
        ck_assert_ptr_null(keyring_key_of_node(kr, "db2"));
        ck_assert_int_eq(keyring_count(kr, KEY_PENDING), 6);
        admin_keys_answer_clear(&ans);
}
END_TEST

/* An older hitlessctl sends all: the same rule, without the confirmation. */
START_TEST(test_all_skips_ambiguous_claims) {
        Hitless__AdminResponse resp = HITLESS__ADMIN_RESPONSE__INIT;
        admin_keys_answer_t ans = { 0 };
        fleet_of_claims();
        accept_keys(NULL, 0, true, &resp, &ans);
        Hitless__KeyActionResult *r = only_web1_accepted(&resp);
        ck_assert_uint_eq(r->n_skipped, 3);
        assert_verdict(r->skipped, r->n_skipped, key(1), "ambiguous", 2);
        assert_verdict(r->skipped, r->n_skipped, key(2), "ambiguous", 2);
        assert_verdict(r->skipped, r->n_skipped, key(6), "bound", 1);
        ck_assert_ptr_null(keyring_key_of_node(kr, "db1"));
        ck_assert_str_eq(keyring_key_of_node(kr, "app1"), key(5));
        admin_keys_answer_clear(&ans);
}
END_TEST

static Hitless__AdminStatus status_of(Hitless__KeyActionRequest *req) {
        Hitless__AdminResponse resp = HITLESS__ADMIN_RESPONSE__INIT;
        admin_keys_answer_t ans = { 0 };
        admin_key_action(&deps, req, "unix:root", &resp, &ans);
        admin_keys_answer_clear(&ans);
        return resp.status;
}

START_TEST(test_bad_requests_change_nothing) {
        Hitless__KeyActionRequest req = HITLESS__KEY_ACTION_REQUEST__INIT;
        char k3[KEYS_Z85_LEN + 1], *keys[] = { k3 }, *bad[] = { "not a key" };
        fleet_of_claims();
        snprintf(k3, sizeof k3, "%s", key(3));
        req.n_public_keys = 1;
        req.public_keys = keys;
        req.action = HITLESS__KEY_ACTION__KEY_REJECT;
        ck_assert_int_eq(status_of(&req), HITLESS__ADMIN_STATUS__ADMIN_BAD_REQUEST);
        req.action = HITLESS__KEY_ACTION__KEY_ACCEPT;
        req.node_id = "web1";
        ck_assert_int_eq(status_of(&req), HITLESS__ADMIN_STATUS__ADMIN_BAD_REQUEST);
        req.node_id = "";
        req.public_keys = bad;
        ck_assert_int_eq(status_of(&req), HITLESS__ADMIN_STATUS__ADMIN_BAD_REQUEST);
        req.n_public_keys = 0;
        ck_assert_int_eq(status_of(&req), HITLESS__ADMIN_STATUS__ADMIN_BAD_REQUEST);  /* names nothing */
        ck_assert_int_eq(keyring_count(kr, KEY_ACCEPTED), 1);
        ck_assert_int_eq(keyring_count(kr, KEY_PENDING), 5);
}
END_TEST

static int count_event(const event_record_t *ev, void *ud) {
        (void) ev;
        (*(int *) ud)++;
        return 0;
}

static int events(void) {
        int n = 0;
        ck_assert_int_eq(store_events_foreach(store, NULL, 1000, count_event, &n), 0);
        return n;
}

/* act NAME: the answer to one named accept or reject (ans cleared here). */
static void act(Hitless__KeyAction action, const char *name, Hitless__AdminResponse *resp,
                bool *ret_already) {
        Hitless__KeyActionRequest req = HITLESS__KEY_ACTION_REQUEST__INIT;
        admin_keys_answer_t ans = { 0 };
        req.action = action;
        req.node_id = (char *) name;
        hitless__admin_response__init(resp);
        admin_key_action(&deps, &req, "unix:root", resp, &ans);
        ck_assert_int_eq(resp->status, HITLESS__ADMIN_STATUS__ADMIN_OK);
        ck_assert_uint_eq(resp->key_action->n_node_ids, 1);
        ck_assert_str_eq(resp->key_action->node_ids[0], "web1");
        *ret_already = resp->key_action->already;
        admin_keys_answer_clear(&ans);
}

/* Configuration management repeats its steps: accepting an accepted key
 * or rejecting a rejected one succeeds, says so, and records nothing. */
START_TEST(test_accept_and_reject_are_idempotent) {
        Hitless__AdminResponse resp;
        bool already;
        int before;
        pending(key(3), "web1", "10.0.0.3");
        act(HITLESS__KEY_ACTION__KEY_ACCEPT, "web1", &resp, &already);
        ck_assert(!already);
        before = events();
        act(HITLESS__KEY_ACTION__KEY_ACCEPT, "web1", &resp, &already);
        ck_assert(already);
        act(HITLESS__KEY_ACTION__KEY_ACCEPT, key(3), &resp, &already);
        ck_assert(already);
        ck_assert_int_eq(events(), before);
        ck_assert_int_eq(keyring_count(kr, KEY_ACCEPTED), 1);

        ck_assert_int_eq(keyring_reject(kr, key(3), "unix:root", NULL), 0);
        before = events();
        act(HITLESS__KEY_ACTION__KEY_REJECT, key(3), &resp, &already);
        ck_assert(already);
        act(HITLESS__KEY_ACTION__KEY_REJECT, "web1", &resp, &already);
        ck_assert(already);
        ck_assert_int_eq(events(), before);
        ck_assert_int_eq(keyring_count(kr, KEY_REJECTED), 1);
}
END_TEST

/* ... but not while another key claims the node id the admin named: which
 * key is meant is not clear (a re-keyed node, or an impostor). */
START_TEST(test_accept_again_with_another_claim_is_ambiguous) {
        fleet_of_claims();  /* app1: accepted for key(5), claimed by key(6) */
        Hitless__KeyActionRequest req = HITLESS__KEY_ACTION_REQUEST__INIT;
        req.action = HITLESS__KEY_ACTION__KEY_ACCEPT;
        req.node_id = "app1";
        ck_assert_int_eq(status_of(&req), HITLESS__ADMIN_STATUS__ADMIN_FAILED);
        key_state_t st;
        ck_assert_int_eq(keyring_state(kr, key(6), &st), 0);
        ck_assert_int_eq(st, KEY_PENDING);
}
END_TEST

static Suite *admin_keys_suite(void) {
        Suite *s = suite_create("admin_keys");
        TCase *tc = tcase_create("accept_all");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_list_says_what_accept_all_does);
        tcase_add_test(tc, test_accept_confirmed_checks_again);
        tcase_add_test(tc, test_all_skips_ambiguous_claims);
        tcase_add_test(tc, test_bad_requests_change_nothing);
        tcase_add_test(tc, test_accept_and_reject_are_idempotent);
        tcase_add_test(tc, test_accept_again_with_another_claim_is_ambiguous);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        log_set_max_level(LOG_ERR);  /* impersonation warnings are expected here */
        SRunner *sr = srunner_create(admin_keys_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
