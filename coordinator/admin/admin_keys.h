/* The admin requests about keys: `hitlessctl keys list` and `keys
 * accept|reject|delete`. A listed pending key says what `keys accept
 * --all` would do with it (KeyInfo.accept_all, from keyring_sole_claim):
 * hitlessctl shows that and asks the admin, then sends the keys confirmed
 * (KeyActionRequest.public_keys); only those still pending and still their
 * node id's sole claim are accepted, the rest are answered as skipped.
 *
 * The answer borrows from ans: send it, then admin_keys_answer_clear(). */
#pragma once
#include "coordinator/admin/admin.h"
#include "proto/hitless.pb-c.h"

typedef struct {
        Hitless__KeyList list;
        Hitless__KeyActionResult result;
        Hitless__KeyInfo *items;     /* the keys listed or skipped, their strings owned */
        Hitless__KeyInfo **v;
        size_t n, cap;
        char **done;                 /* node ids the action applied to (owned) */
        size_t n_done, cap_done;
        char error[512];
} admin_keys_answer_t;

void admin_keys_answer_clear(admin_keys_answer_t *ans);

void admin_keys_list(const admin_deps_t *d, Hitless__AdminResponse *resp, admin_keys_answer_t *ans);
void admin_key_action(const admin_deps_t *d, const Hitless__KeyActionRequest *req, const char *actor,
                      Hitless__AdminResponse *resp, admin_keys_answer_t *ans);
