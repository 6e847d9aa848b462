#include "coordinator/fleet/keyring.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/log_ids.h"
#include "common/ratelimit.h"

typedef struct {
        key_record_t rec;
        bool dirty;          /* attempts/last_seen changed since stored */
} key_entry_t;

struct keyring {
        store_t *store;
        zhashx_t *by_key;            /* public key -> key_entry_t (owned) */
        zhashx_t *accepted_by_node;  /* node id -> key_entry_t (borrowed) */
        /* node id -> how many pending keys claim it, the count stored as
         * the item pointer (never NULL: a node id leaves at 0), so keeping
         * it up to date allocates nothing a failure could make it miss. */
        zhashx_t *claims_by_node;
        long long max_pending;
        int n_state[3];
        ratelimit_t admit;           /* new pending entries */
        ratelimit_t log_limit;       /* log lines about refused handshakes */
        uint64_t dropped;
};

static const char *const verdict_names[] = {
        [AUTH_ALLOW] = "allow",
        [AUTH_PROVISIONAL] = "provisional",
        [AUTH_DENY_PENDING] = "pending",
        [AUTH_DENY_REJECTED] = "rejected",
        [AUTH_DENY_FLOOD] = "pending table full or rate exceeded",
};

const char *auth_verdict_name(auth_verdict_t v) {
        return verdict_names[v];
}

static void entry_free(void **item) {
        free(*item);
        *item = NULL;
}

/* A pending key that said which node it is. */
static bool is_claim(const key_record_t *rec) {
        return rec->state == KEY_PENDING && rec->node_id[0];
}

static intptr_t claimants(keyring_t *k, const char *node_id) {
        return (intptr_t) zhashx_lookup(k->claims_by_node, node_id);
}

/* Adds (delta 1) or removes (-1) e's record to or from the state counts,
 * accepted_by_node and claims_by_node. */
static void index_record(keyring_t *k, key_entry_t *e, int delta) {
        const key_record_t *rec = &e->rec;
        k->n_state[rec->state] += delta;
        if (rec->state == KEY_ACCEPTED) {
                if (delta > 0)
                        zhashx_update(k->accepted_by_node, rec->node_id, e);
                else if (zhashx_lookup(k->accepted_by_node, rec->node_id) == e)
                        zhashx_delete(k->accepted_by_node, rec->node_id);
        }
        if (is_claim(rec)) {
                intptr_t n = claimants(k, rec->node_id) + delta;
                if (n > 0)
                        zhashx_update(k->claims_by_node, rec->node_id, (void *) n);
                else
                        zhashx_delete(k->claims_by_node, rec->node_id);
        }
}

static void index_entry(keyring_t *k, key_entry_t *e) {
        zhashx_insert(k->by_key, e->rec.public_key, e);
        index_record(k, e, 1);
}

/* Every change to the state or node id of a known key goes through here,
 * so the indexes follow it. */
static void set_record(keyring_t *k, key_entry_t *e, const key_record_t *rec) {
        index_record(k, e, -1);
        e->rec = *rec;
        index_record(k, e, 1);
}

static int load_one(const key_record_t *rec, void *ud) {
        keyring_t *k = ud;
        key_entry_t *e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        e->rec = *rec;
        index_entry(k, e);
        return 0;
}

int keyring_new(store_t *store, long long max_pending, double pending_per_second,
                keyring_t **ret) {
        keyring_t *k = calloc(1, sizeof *k);
        int r;
        if (!k)
                return -ENOMEM;
        k->store = store;
        k->max_pending = max_pending;
        k->by_key = zhashx_new();
        k->accepted_by_node = zhashx_new();
        k->claims_by_node = zhashx_new();
        zhashx_set_destructor(k->by_key, entry_free);
        ratelimit_init(&k->admit, pending_per_second, pending_per_second * 2 + 1);
        ratelimit_init(&k->log_limit, 1, 10);
        r = store_keys_foreach(store, load_one, k);
        if (r < 0) {
                keyring_destroy(&k);
                return r;
        }
        *ret = k;
        return 0;
}

void keyring_destroy(keyring_t **kp) {
        keyring_t *k = *kp;
        if (!k)
                return;
        zhashx_destroy(&k->accepted_by_node);
        zhashx_destroy(&k->claims_by_node);
        zhashx_destroy(&k->by_key);
        free(k);
        *kp = NULL;
}

static int record_event(keyring_t *k, const key_record_t *rec, const char *kind,
                        const char *actor, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int record_event(keyring_t *k, const key_record_t *rec, const char *kind,
                        const char *actor, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        return store_event_append(k->store, clock_wall_s(), rec->node_id, kind, actor, msg, NULL);
}

/* Writes the new state of e and its event in one transaction; on failure
 * the in-memory state is left as it was. */
static int persist_transition(keyring_t *k, key_entry_t *e, key_state_t to, const char *kind,
                              const char *actor) {
        key_record_t rec = e->rec;
        int r;

        rec.state = to;
        r = store_begin(k->store);
        if (r < 0)
                return r;
        r = store_key_put(k->store, &rec);
        if (r >= 0)
                r = record_event(k, &rec, kind, actor, "key %s for node %s: %s -> %s", rec.public_key,
                                 rec.node_id, key_state_name(e->rec.state), key_state_name(to));
        if (r < 0) {
                (void) store_rollback(k->store);   /* the first error is the one reported */
                return r;
        }
        r = store_commit(k->store);
        if (r < 0)
                return r;
        set_record(k, e, &rec);
        e->dirty = false;
        return 0;
}

int keyring_load_preapproved(keyring_t *k, const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        int added = 0;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char node[NODE_ID_MAX + 1], path[4096], z85[KEYS_Z85_LEN + 1];
                size_t n = strlen(de->d_name);
                if (n < 5 || n - 4 > NODE_ID_MAX || strcmp(de->d_name + n - 4, ".key") != 0)
                        continue;
                snprintf(node, sizeof node, "%.*s", (int) (n - 4), de->d_name);
                if (!node_id_valid(node)) {
                        log_warning("pre-approved key %s/%s: file name is not a valid node id, ignored",
                                    dir, de->d_name);
                        continue;
                }
                snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
                if (keys_load_public(path, z85) < 0) {
                        log_warning("pre-approved key %s: not a readable public key, ignored", path);
                        continue;
                }
                key_entry_t *e = zhashx_lookup(k->by_key, z85);
                if (e && e->rec.state != KEY_PENDING)
                        continue;  /* already decided by an admin */
                key_entry_t *owner = zhashx_lookup(k->accepted_by_node, node);
                if (owner && strcmp(owner->rec.public_key, z85) != 0) {
                        log_warning("pre-approved key %s: node %s is bound to another key, ignored",
                                    path, node);
                        continue;
                }
                if (!e) {
                        e = calloc(1, sizeof *e);
                        if (!e)
                                break;
                        snprintf(e->rec.public_key, sizeof e->rec.public_key, "%s", z85);
                        e->rec.state = KEY_PENDING;
                        e->rec.first_seen = e->rec.last_seen = clock_wall_s();
                        index_entry(k, e);
                }
                key_record_t rec = e->rec;
                snprintf(rec.node_id, sizeof rec.node_id, "%s", node);
                set_record(k, e, &rec);
                if (persist_transition(k, e, KEY_ACCEPTED, "key.accepted", "preapproved") == 0)
                        added++;
        }
        closedir(d);
        return added;
}

static auth_verdict_t admit_pending(keyring_t *k, const char *public_key, const char *address,
                                    int64_t now_ms) {
        key_entry_t *e;

        if (k->n_state[KEY_PENDING] >= k->max_pending || !ratelimit_allow(&k->admit, now_ms)) {
                k->dropped++;
                return AUTH_DENY_FLOOD;
        }
        e = calloc(1, sizeof *e);
        if (!e)
                return AUTH_DENY_FLOOD;
        snprintf(e->rec.public_key, sizeof e->rec.public_key, "%s", public_key);
        snprintf(e->rec.address, sizeof e->rec.address, "%s", address);
        e->rec.state = KEY_PENDING;
        e->rec.first_seen = e->rec.last_seen = clock_wall_s();
        e->rec.attempts = 1;
        if (store_key_put(k->store, &e->rec) < 0) {
                free(e);
                return AUTH_DENY_FLOOD;
        }
        index_entry(k, e);
        return AUTH_PROVISIONAL;
}

auth_verdict_t keyring_authorize(keyring_t *k, const char *public_key, const char *address,
                                 int64_t now_ms) {
        key_entry_t *e = zhashx_lookup(k->by_key, public_key);

        if (!e)
                return admit_pending(k, public_key, address, now_ms);
        e->rec.attempts++;
        e->rec.last_seen = clock_wall_s();
        snprintf(e->rec.address, sizeof e->rec.address, "%s", address);
        e->dirty = true;
        switch (e->rec.state) {
        case KEY_ACCEPTED:
                return AUTH_ALLOW;
        case KEY_REJECTED:
                return AUTH_DENY_REJECTED;
        default:
                /* A pending key that never said which node it is gets
                 * another provisional connection, within the same rate. */
                if (!e->rec.node_id[0] && ratelimit_allow(&k->admit, now_ms))
                        return AUTH_PROVISIONAL;
                return AUTH_DENY_PENDING;
        }
}

int keyring_claim(keyring_t *k, const char *public_key, const char *node_id, int64_t now_ms) {
        key_entry_t *e = zhashx_lookup(k->by_key, public_key);
        key_entry_t *owner = zhashx_lookup(k->accepted_by_node, node_id);
        key_record_t rec;
        int r;

        if (!e || e->rec.state != KEY_PENDING)
                return -ENOENT;
        if (e->rec.node_id[0])
                return -EALREADY;
        /* Change the entry only once the store has the claim. */
        rec = e->rec;
        snprintf(rec.node_id, sizeof rec.node_id, "%s", node_id);
        r = store_key_put(k->store, &rec);
        if (r < 0)
                return r;
        set_record(k, e, &rec);
        e->dirty = false;
        if (owner) {
                if (ratelimit_allow(&k->log_limit, now_ms))
                        log_with(LOG_WARNING,
                                 &(log_fields_t) { .node_id = node_id, .message_id = HL_MSG_KEY_IMPERSONATION },
                                 "impersonation attempt: unknown key %s from %s claims node %s, which is bound to another key",
                                 public_key, e->rec.address, node_id);
                record_event(k, &e->rec, "key.impersonation", "coordinator",
                             "unknown key %s from %s claims node %s, bound to another key",
                             public_key, e->rec.address, node_id);
                return -EEXIST;
        }
        record_event(k, &e->rec, "key.pending", "coordinator", "unknown key %s claims node %s from %s",
                     public_key, node_id, e->rec.address);
        log_with(LOG_NOTICE, &(log_fields_t) { .node_id = node_id, .message_id = HL_MSG_KEY_PENDING },
                 "new key %s from %s is pending; accept it with: hitlessctl keys accept %s", public_key,
                 e->rec.address, node_id);
        return 0;
}

void keyring_impersonation(keyring_t *k, const char *node_id, const char *claimed, const char *address,
                           int64_t now_ms) {
        key_record_t rec = { 0 };
        char more[64] = "";
        int r;

        if (!ratelimit_allow(&k->log_limit, now_ms))
                return;
        uint64_t n = ratelimit_take_suppressed(&k->log_limit);
        if (n)
                snprintf(more, sizeof more, " (%llu similar suppressed)", (unsigned long long) n);
        snprintf(rec.node_id, sizeof rec.node_id, "%s", node_id_valid(claimed) ? claimed : node_id);
        log_with(LOG_WARNING, &(log_fields_t) { .node_id = node_id, .message_id = HL_MSG_KEY_IMPERSONATION },
                 "impersonation attempt: the key bound to %s says Hello as %.64s from %s%s", node_id, claimed,
                 address, more);
        const char *key = keyring_key_of_node(k, node_id);
        r = record_event(k, &rec, "key.impersonation", "coordinator",
                         "the key bound to %s (%s) says Hello as %.64s from %s", node_id, key ? key : "?", claimed,
                         address);
        if (r < 0)
                log_node(LOG_ERR, node_id, "cannot record the impersonation attempt: %s", strerror(-r));
}

int keyring_state(keyring_t *k, const char *public_key, key_state_t *ret) {
        key_entry_t *e = zhashx_lookup(k->by_key, public_key);
        if (!e)
                return -ENOENT;
        *ret = e->rec.state;
        return 0;
}

const char *keyring_accepted_node(keyring_t *k, const char *public_key) {
        key_entry_t *e = zhashx_lookup(k->by_key, public_key);
        return e && e->rec.state == KEY_ACCEPTED ? e->rec.node_id : NULL;
}

const char *keyring_key_of_node(keyring_t *k, const char *node_id) {
        key_entry_t *e = zhashx_lookup(k->accepted_by_node, node_id);
        return e ? e->rec.public_key : NULL;
}

/* The key an admin means by NAME: a public key, or the node id it is bound
 * to or claims. Several keys claiming one node id must be named by key. */
static int find_for_admin(keyring_t *k, const char *name, key_entry_t **ret) {
        key_entry_t *e = zhashx_lookup(k->by_key, name), *found = NULL;
        int n = 0;
        if (e) {
                *ret = e;
                return 0;
        }
        if ((e = zhashx_lookup(k->accepted_by_node, name))) {
                *ret = e;
                return 0;
        }
        for (e = zhashx_first(k->by_key); e; e = zhashx_next(k->by_key))
                if (strcmp(e->rec.node_id, name) == 0) {
                        found = e;
                        n++;
                }
        if (n == 0)
                return -ENOENT;
        if (n > 1)
                return -ENOTUNIQ;
        *ret = found;
        return 0;
}

static void copy_record(key_record_t *dst, const key_entry_t *e) {
        if (dst)
                *dst = e->rec;
}

/* accept and reject: the named key moves to `to`, unless already there. */
static int transition_named(keyring_t *k, const char *name, key_state_t to, const char *kind,
                            const char *actor, key_record_t *ret) {
        key_entry_t *e;
        int r = find_for_admin(k, name, &e);
        if (r < 0)
                return r;
        if (e->rec.state == to) {
                copy_record(ret, e);
                /* A node id whose accepted key stands while other keys
                 * claim it (a re-keyed node, or an impostor): "already
                 * accepted" would hide the key that waits. */
                if (to == KEY_ACCEPTED && strcmp(name, e->rec.public_key) != 0 &&
                    claimants(k, e->rec.node_id) > 0)
                        return -ENOTUNIQ;
                return -EALREADY;
        }
        if (to == KEY_ACCEPTED) {
                key_entry_t *owner = zhashx_lookup(k->accepted_by_node, e->rec.node_id);
                if (!e->rec.node_id[0])
                        return -ENOENT;  /* it never said which node it is */
                if (owner && owner != e)
                        return -EEXIST;
        }
        r = persist_transition(k, e, to, kind, actor);
        if (r == 0)
                copy_record(ret, e);
        return r;
}

int keyring_accept(keyring_t *k, const char *name, const char *actor, key_record_t *ret) {
        return transition_named(k, name, KEY_ACCEPTED, "key.accepted", actor, ret);
}

int keyring_sole_claim(keyring_t *k, const char *public_key, int *ret_claimants) {
        key_entry_t *e = zhashx_lookup(k->by_key, public_key);
        if (!e || !is_claim(&e->rec))
                return -ENOENT;
        if (ret_claimants)
                *ret_claimants = (int) claimants(k, e->rec.node_id);
        /* e is pending, so an accepted key bound to its node id is another. */
        if (zhashx_lookup(k->accepted_by_node, e->rec.node_id))
                return -EEXIST;
        return claimants(k, e->rec.node_id) > 1 ? -ENOTUNIQ : 0;
}

int keyring_accept_sole(keyring_t *k, const char *public_key, const char *actor, key_record_t *ret) {
        int r = keyring_sole_claim(k, public_key, NULL);
        return r < 0 ? r : keyring_accept(k, public_key, actor, ret);
}

int keyring_reject(keyring_t *k, const char *name, const char *actor, key_record_t *ret) {
        return transition_named(k, name, KEY_REJECTED, "key.rejected", actor, ret);
}

int keyring_delete(keyring_t *k, const char *name, const char *actor, key_record_t *ret) {
        key_entry_t *e;
        int r = find_for_admin(k, name, &e);
        if (r < 0)
                return r;
        r = store_begin(k->store);
        if (r < 0)
                return r;
        r = store_key_delete(k->store, e->rec.public_key);
        if (r >= 0)
                r = record_event(k, &e->rec, "key.deleted", actor, "key %s for node %s deleted (was %s)",
                                 e->rec.public_key, e->rec.node_id, key_state_name(e->rec.state));
        if (r < 0) {
                (void) store_rollback(k->store);   /* the first error is the one reported */
                return r;
        }
        r = store_commit(k->store);
        if (r < 0)
                return r;
        copy_record(ret, e);
        index_record(k, e, -1);
        zhashx_delete(k->by_key, e->rec.public_key);
        return 0;
}

int keyring_foreach_pending(keyring_t *k, int (*cb)(const char *node_id, void *ud), void *ud) {
        zlistx_t *names = zlistx_new();
        int r = 0;
        zlistx_set_destructor(names, (czmq_destructor *) zstr_free);
        zlistx_set_duplicator(names, (czmq_duplicator *) strdup);
        for (key_entry_t *e = zhashx_first(k->by_key); e; e = zhashx_next(k->by_key))
                if (e->rec.state == KEY_PENDING && e->rec.node_id[0])
                        zlistx_add_end(names, e->rec.public_key);
        for (char *n = zlistx_first(names); n && r == 0; n = zlistx_next(names))
                r = cb(n, ud);
        zlistx_destroy(&names);
        return r;
}

int keyring_count(keyring_t *k, key_state_t state) {
        return k->n_state[state];
}

uint64_t keyring_pending_dropped(keyring_t *k) {
        return k->dropped;
}

int keyring_flush(keyring_t *k) {
        int r = 0;
        for (key_entry_t *e = zhashx_first(k->by_key); e && r >= 0; e = zhashx_next(k->by_key))
                if (e->dirty) {
                        r = store_key_put(k->store, &e->rec);
                        e->dirty = false;
                }
        return r;
}
