#include "coordinator/admin/admin_keys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keys.h"

void admin_keys_answer_clear(admin_keys_answer_t *ans) {
        for (size_t i = 0; i < ans->n; i++) {
                free(ans->items[i].public_key);
                free(ans->items[i].node_id);
                free(ans->items[i].address);
        }
        free(ans->items);
        free(ans->v);
        for (size_t i = 0; i < ans->n_done; i++)
                free(ans->done[i]);
        free(ans->done);
        memset(ans, 0, sizeof *ans);
}

/* Room for cap keys and cap_done node ids. */
static int reserve(admin_keys_answer_t *ans, size_t cap, size_t cap_done) {
        ans->cap = cap;
        ans->items = calloc(cap + 1, sizeof *ans->items);
        ans->v = calloc(cap + 1, sizeof *ans->v);
        ans->cap_done = cap_done;
        ans->done = calloc(cap_done + 1, sizeof *ans->done);
        return ans->items && ans->v && ans->done ? 0 : -ENOMEM;
}

/* KeyInfo.accept_all for a key: what `keys accept --all` does with it,
 * decided by the keyring as it is now. */
static const char *accept_all_verdict(keyring_t *k, const char *public_key, uint32_t *ret_claimants) {
        key_state_t st;
        int n = 0;
        int r = keyring_sole_claim(k, public_key, &n);
        *ret_claimants = (uint32_t) n;
        switch (r) {
        case 0: return "accept";
        case -EEXIST: return "bound";
        case -ENOTUNIQ: return "ambiguous";
        default:
                return keyring_state(k, public_key, &st) == 0 && st == KEY_PENDING ? "unclaimed" : "gone";
        }
}

/* Adds rec to the answer's keys; accept_all must be a static string. */
static void add_key(admin_keys_answer_t *ans, const key_record_t *rec, const char *state,
                    const char *accept_all, uint32_t claimants) {
        if (ans->n == ans->cap)
                return;
        Hitless__KeyInfo *k = &ans->items[ans->n];
        hitless__key_info__init(k);
        k->public_key = strdup(rec->public_key);
        k->node_id = strdup(rec->node_id);
        k->state = (char *) state;
        k->address = strdup(rec->address);
        k->first_seen = rec->first_seen;
        k->last_seen = rec->last_seen;
        k->attempts = rec->attempts;
        k->accept_all = (char *) accept_all;
        k->claimants = claimants;
        ans->v[ans->n++] = k;
}

typedef struct {
        const admin_deps_t *d;
        const char *actor;
        admin_keys_answer_t *ans;
} keys_ctx_t;

static int collect_key(const key_record_t *rec, void *ud) {
        keys_ctx_t *c = ud;
        uint32_t claimants = 0;
        const char *verdict = "";
        if (c->ans->n == c->ans->cap)
                return 1;
        if (rec->state == KEY_PENDING)
                verdict = accept_all_verdict(c->d->keyring, rec->public_key, &claimants);
        add_key(c->ans, rec, key_state_name(rec->state), verdict, claimants);
        return 0;
}

void admin_keys_list(const admin_deps_t *d, Hitless__AdminResponse *resp, admin_keys_answer_t *ans) {
        keys_ctx_t c = { .d = d, .ans = ans };
        keyring_flush(d->keyring);
        hitless__key_list__init(&ans->list);
        size_t cap = (size_t) keyring_count(d->keyring, KEY_ACCEPTED) +
                     (size_t) keyring_count(d->keyring, KEY_PENDING) +
                     (size_t) keyring_count(d->keyring, KEY_REJECTED);
        if (reserve(ans, cap, 0) < 0 || store_keys_foreach(d->store, collect_key, &c) < 0) {
                resp->status = HITLESS__ADMIN_STATUS__ADMIN_FAILED;
                resp->error = "cannot read keys from the store";
                return;
        }
        ans->list.n_keys = ans->n;
        ans->list.keys = ans->v;
        ans->list.pending_dropped = keyring_pending_dropped(d->keyring);
        resp->body_case = HITLESS__ADMIN_RESPONSE__BODY_KEYS;
        resp->keys = &ans->list;
}

static void note_done(admin_keys_answer_t *ans, const char *node_id) {
        if (ans->n_done < ans->cap_done)
                ans->done[ans->n_done++] = strdup(node_id);
}

static const char *key_error(int r) {
        switch (r) {
        case -ENOENT: return "no key for that node";
        case -ENOTUNIQ: return "several keys claim that node id; name the key instead";
        case -EEXIST: return "that node id is bound to another accepted key; delete that key first";
        case -EALREADY: return "already in that state";
        default: return "store error";
        }
}

/* One key of accept --all (confirmed by the admin, or any pending key from
 * an older hitlessctl): accepted only while it is its node id's sole
 * claim, otherwise answered as skipped with why. */
static int accept_confirmed(const char *public_key, void *ud) {
        keys_ctx_t *c = ud;
        key_record_t rec;
        uint32_t claimants;
        const char *state = "deleted";
        int r = keyring_accept_sole(c->d->keyring, public_key, c->actor, &rec);
        if (r == 0) {
                note_done(c->ans, rec.node_id);
                return 0;
        }
        if (r != -ENOENT && r != -EEXIST && r != -ENOTUNIQ) {
                if (!c->ans->error[0])
                        snprintf(c->ans->error, sizeof c->ans->error, "%s: %s", public_key, key_error(r));
                return 0;
        }
        if (store_key_get(c->d->store, public_key, &rec) == 0) {
                state = key_state_name(rec.state);
        } else {
                memset(&rec, 0, sizeof rec);
                snprintf(rec.public_key, sizeof rec.public_key, "%s", public_key);
        }
        const char *verdict = accept_all_verdict(c->d->keyring, public_key, &claimants);
        add_key(c->ans, &rec, state, verdict, claimants);
        return 0;
}

static void accept_batch(const admin_deps_t *d, const Hitless__KeyActionRequest *req, const char *actor,
                         admin_keys_answer_t *ans) {
        keys_ctx_t c = { .d = d, .actor = actor, .ans = ans };
        keyring_flush(d->keyring);  /* skipped keys are read from the store */
        if (req->all) {
                keyring_foreach_pending(d->keyring, accept_confirmed, &c);
                return;
        }
        for (size_t i = 0; i < req->n_public_keys; i++)
                accept_confirmed(req->public_keys[i], &c);
}

/* After a reject or delete, the node's live connection must go too. */
static void disconnect_node(const admin_deps_t *d, const char *node_id, const char *why) {
        node_t *n = fleet_find(d->fleet, node_id);
        if (n)
                agent_link_drop(d->agents, n, why);
}

/* accept, reject or delete of the key req->node_id names. */
static void act_on_named(const admin_deps_t *d, const Hitless__KeyActionRequest *req, const char *actor,
                        admin_keys_answer_t *ans) {
        key_record_t rec;
        int r;
        switch (req->action) {
        case HITLESS__KEY_ACTION__KEY_ACCEPT:
                r = keyring_accept(d->keyring, req->node_id, actor, &rec);
                break;
        case HITLESS__KEY_ACTION__KEY_REJECT:
                r = keyring_reject(d->keyring, req->node_id, actor, &rec);
                break;
        default:  /* KEY_DELETE: bad_key_action() refused any other */
                r = keyring_delete(d->keyring, req->node_id, actor, &rec);
                break;
        }
        if (r == -EALREADY) {
                ans->result.already = true;
                note_done(ans, rec.node_id);
                return;
        }
        if (r < 0) {
                snprintf(ans->error, sizeof ans->error, "%s: %s", req->node_id, key_error(r));
                return;
        }
        /* A node left without an accepted key loses its live connection
         * now; a deleted one is forgotten too. (Rejecting an impostor's
         * pending key leaves the real node, bound to another key, alone.) */
        bool orphaned = !keyring_key_of_node(d->keyring, rec.node_id);
        if (req->action != HITLESS__KEY_ACTION__KEY_ACCEPT && orphaned && fleet_find(d->fleet, rec.node_id)) {
                bool deleted = req->action == HITLESS__KEY_ACTION__KEY_DELETE;
                disconnect_node(d, rec.node_id, deleted ? "key deleted" : "key rejected");
                if (deleted)
                        fleet_remove(d->fleet, rec.node_id);
        }
        note_done(ans, rec.node_id);
}

/* Why the request cannot be served, or NULL. */
static const char *bad_key_action(const Hitless__KeyActionRequest *req) {
        bool batch = req->all || req->n_public_keys > 0;
        if (req->action != HITLESS__KEY_ACTION__KEY_ACCEPT && req->action != HITLESS__KEY_ACTION__KEY_REJECT &&
            req->action != HITLESS__KEY_ACTION__KEY_DELETE)
                return batch ? "--all applies to accept only" : "unknown key action";
        if (batch && req->action != HITLESS__KEY_ACTION__KEY_ACCEPT)
                return "--all applies to accept only";
        if (batch && req->node_id[0])
                return "name a node or key, or the keys to accept, not both";
        if (!batch && !req->node_id[0])
                return "name a node or key";
        for (size_t i = 0; i < req->n_public_keys; i++)
                if (!keys_z85_valid(req->public_keys[i]))
                        return "the keys to accept must be public keys (40 Z85 characters)";
        return NULL;
}

void admin_key_action(const admin_deps_t *d, const Hitless__KeyActionRequest *req, const char *actor,
                      Hitless__AdminResponse *resp, admin_keys_answer_t *ans) {
        size_t n = req->all ? (size_t) keyring_count(d->keyring, KEY_PENDING) : req->n_public_keys;
        const char *bad = bad_key_action(req);

        hitless__key_action_result__init(&ans->result);
        resp->body_case = HITLESS__ADMIN_RESPONSE__BODY_KEY_ACTION;
        resp->key_action = &ans->result;
        if (bad) {
                resp->status = HITLESS__ADMIN_STATUS__ADMIN_BAD_REQUEST;
                resp->error = (char *) bad;
                return;
        }
        if (reserve(ans, n, n + 1) < 0) {
                resp->status = HITLESS__ADMIN_STATUS__ADMIN_FAILED;
                resp->error = "out of memory";
                return;
        }
        if (req->all || req->n_public_keys > 0)
                accept_batch(d, req, actor, ans);
        else
                act_on_named(d, req, actor, ans);
        ans->result.n_node_ids = ans->n_done;
        ans->result.node_ids = ans->done;
        ans->result.n_skipped = ans->n;
        ans->result.skipped = ans->v;
        if (ans->error[0]) {
                resp->status = HITLESS__ADMIN_STATUS__ADMIN_FAILED;
                resp->error = ans->error;
        }
}
