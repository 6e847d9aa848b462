/* Which Curve keys may connect, and which node id each is bound to.
 *
 * The ZAP handler asks keyring_authorize() for every CURVE handshake. ZAP
 * does not carry the client's node id (libzmq's ZAP "identity" frame is the
 * server's own routing id), so an unknown key is let through exactly once,
 * provisionally: its first message, a Hello, is read only for the node id
 * it claims (keyring_claim), then the connection is refused and closed.
 * From then on the key is pending (like salt-key) and refused at the
 * handshake until an admin accepts or rejects it. The pending table is
 * bounded and new entries are rate-limited, so a flood of bogus keys costs
 * a counter, not memory, disk or file descriptors. Accepting binds the key
 * to the node id it claimed; from then on no other key may use that node id
 * (an attempt is logged as impersonation).
 *
 * The keyring is the in-memory mirror of the store's keys table: every
 * change is written to the store (and an event appended) before the call
 * returns 0, so an admin action acknowledged is durable. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "coordinator/store/store.h"

typedef struct keyring keyring_t;

typedef enum {
        AUTH_ALLOW,              /* accepted key */
        AUTH_PROVISIONAL,        /* new key, now pending: one connection to claim a node id */
        AUTH_DENY_PENDING,       /* pending key, node id already claimed */
        AUTH_DENY_REJECTED,      /* rejected key */
        AUTH_DENY_FLOOD,         /* pending table full or admission rate exceeded */
} auth_verdict_t;

const char *auth_verdict_name(auth_verdict_t v);

/* Loads every key from the store. max_pending bounds the pending table;
 * pending_per_second limits how fast new pending keys are admitted. */
int keyring_new(store_t *store, long long max_pending, double pending_per_second,
                keyring_t **ret);
void keyring_destroy(keyring_t **k);

/* Accepts, bound to NAME, every NAME.key public key file in dir that is not
 * known yet (pre-approved nodes for mass rollouts). A key already rejected
 * is left rejected. Returns the number of keys newly accepted, or -errno. */
int keyring_load_preapproved(keyring_t *k, const char *dir);

/* Decides a CURVE handshake: public key (Z85) and source address. */
auth_verdict_t keyring_authorize(keyring_t *k, const char *public_key, const char *address,
                                 int64_t now_ms);

/* Records the node id a pending key claims in its Hello (only the first
 * claim counts). Returns 0, -EEXIST when that node id is bound to another
 * key (an impersonation attempt, logged and recorded as an event; the claim
 * is still recorded so the admin sees it), -ENOENT if the key is not
 * pending, -EALREADY if it had claimed a node id before. */
int keyring_claim(keyring_t *k, const char *public_key, const char *node_id, int64_t now_ms);

/* The accepted key bound to node_id said Hello as `claimed` from address
 * (the caller refuses it): logged and recorded as event key.impersonation,
 * under the claimed node id, as an unknown key claiming a bound one is
 * (under node_id when claimed is no valid node id). A key that keeps
 * trying shares the rate limit of the log lines about refused handshakes,
 * so it costs a counter, not a row a Hello. */
void keyring_impersonation(keyring_t *k, const char *node_id, const char *claimed, const char *address,
                           int64_t now_ms);

/* The state of a key: 0 and *ret set, or -ENOENT for an unknown key. */
int keyring_state(keyring_t *k, const char *public_key, key_state_t *ret);

/* The node id an accepted key is bound to, or NULL if the key is not
 * accepted (anymore). The string is owned by the keyring. */
const char *keyring_accepted_node(keyring_t *k, const char *public_key);

/* The accepted key bound to node_id, or NULL. Owned by the keyring. */
const char *keyring_key_of_node(keyring_t *k, const char *node_id);

/* Admin actions on the key an admin names: a public key (Z85), or the node
 * id a key is bound to or claims. actor is recorded in the event log.
 *   -ENOENT   no key for that name
 *   -ENOTUNIQ several pending keys claim that node id, or (accept) it is
 *             bound to an accepted key and pending keys claim it too: name
 *             one by key
 *   -EEXIST   accept: node id already bound to another accepted key
 *   -EALREADY accept/reject: already in that state; nothing changed, no
 *             event, and ret (may be NULL) receives the record
 * On success ret (may be NULL) receives the affected key's record as it
 * is after the action (for delete: as it was). */
int keyring_accept(keyring_t *k, const char *name, const char *actor, key_record_t *ret);
int keyring_reject(keyring_t *k, const char *name, const char *actor, key_record_t *ret);
int keyring_delete(keyring_t *k, const char *name, const char *actor, key_record_t *ret);

/* Whether `keys accept --all` may accept a pending key without asking
 * which one the admin means: 0 when the key is its node id's sole claim.
 * A node id claimed by several keys is ambiguous, whatever order they
 * came in: an attacker racing the real node may have claimed it first,
 * so only an admin naming the key may pick one.
 *   -ENOENT   unknown key, not pending, or it has claimed no node id
 *   -EEXIST   its node id is bound to another, accepted key
 *   -ENOTUNIQ other pending keys claim that node id too
 * ret_claimants (may be NULL), when the key claims a node id: how many
 * pending keys claim it, this one included. */
int keyring_sole_claim(keyring_t *k, const char *public_key, int *ret_claimants);

/* keyring_accept() of the key public_key, only while keyring_sole_claim()
 * says 0 (otherwise its error). For `keys accept --all`: the set the admin
 * confirmed may have changed since it was listed. */
int keyring_accept_sole(keyring_t *k, const char *public_key, const char *actor, key_record_t *ret);

/* Calls cb(public_key, ud) for every pending key that has claimed a node
 * id (on a snapshot, so cb may accept or reject). A non-zero return from
 * cb stops the walk. Keys that never said which node they are cannot be
 * accepted, so they are left out. */
int keyring_foreach_pending(keyring_t *k, int (*cb)(const char *public_key, void *ud), void *ud);

int keyring_count(keyring_t *k, key_state_t state);
/* Pending admissions refused because the table was full or too fast. */
uint64_t keyring_pending_dropped(keyring_t *k);
/* Writes the in-memory attempt counters of pending keys to the store. */
int keyring_flush(keyring_t *k);
