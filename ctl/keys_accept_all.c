/* hitlessctl keys accept --all [--yes]: accepts the pending keys the
 * coordinator says are their node id's sole claim (KeyInfo.accept_all).
 * A flood of keys, or an attacker racing the real node for its id, must
 * not be accepted unseen: the keys are listed with their source addresses
 * and the admin confirms (on a terminal, or with --yes). Claims --all must
 * not decide (several keys for one node id, or a node bound to another
 * key) are listed and left pending. Only the keys confirmed are sent, by
 * key; the coordinator accepts each only if it is still a sole claim and
 * answers the others as skipped, since the set may change meanwhile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ctl/ctl.h"

/* Keys per accept request: 1,000 public keys fit the coordinator's 64 KiB
 * request limit with room to spare. */
#define ACCEPT_BATCH 1000

typedef struct {
        const Hitless__KeyInfo **accept, **skip;
        size_t n_accept, n_skip, n_unclaimed;
} accept_set_t;

/* Sorts the pending keys of the list into what --all accepts and skips.
 * CTL_EXIT_OK, or CTL_EXIT_FAILED when the coordinator does not say (it
 * predates KeyInfo.accept_all): guessing here would be the old bug. */
static int classify(const Hitless__KeyList *l, accept_set_t *set) {
        set->accept = calloc(l->n_keys + 1, sizeof *set->accept);
        set->skip = calloc(l->n_keys + 1, sizeof *set->skip);
        if (!set->accept || !set->skip) {
                fprintf(stderr, "hitlessctl: out of memory\n");
                return CTL_EXIT_FAILED;
        }
        for (size_t i = 0; i < l->n_keys; i++) {
                const Hitless__KeyInfo *k = l->keys[i];
                if (strcmp(k->state, "pending") != 0)
                        continue;
                if (!k->accept_all[0]) {
                        fprintf(stderr, "hitlessctl: the coordinator does not say which pending keys are safe to "
                                        "accept at once (it is older than hitlessctl); accept keys one by one\n");
                        return CTL_EXIT_FAILED;
                }
                if (strcmp(k->accept_all, "accept") == 0)
                        set->accept[set->n_accept++] = k;
                else if (strcmp(k->accept_all, "unclaimed") == 0)
                        set->n_unclaimed++;
                else
                        set->skip[set->n_skip++] = k;
        }
        return CTL_EXIT_OK;
}

static const char *address_of(const Hitless__KeyInfo *k) {
        return k->address[0] ? k->address : "an unknown address";
}

/* "skipped: ..." for each node id --all leaves to the admin: the keys
 * claiming it grouped on one line. */
static void print_skipped(FILE *f, const accept_set_t *set) {
        for (size_t i = 0; i < set->n_skip; i++) {
                const Hitless__KeyInfo *k = set->skip[i];
                bool seen = false;
                for (size_t j = 0; j < i && !seen; j++)
                        seen = strcmp(set->skip[j]->node_id, k->node_id) == 0;
                if (seen)
                        continue;
                if (strcmp(k->accept_all, "bound") == 0) {
                        fprintf(f, "skipped: node %s is bound to another accepted key; pending key %s from %s "
                                   "claims it too (reject it, or delete the accepted key first)\n",
                                k->node_id, k->public_key, address_of(k));
                        continue;
                }
                fprintf(f, "skipped: node %s is claimed by %u pending keys: ", k->node_id, k->claimants);
                for (size_t j = i, n = 0; j < set->n_skip; j++)
                        if (strcmp(set->skip[j]->node_id, k->node_id) == 0)
                                fprintf(f, "%s%s from %s", n++ ? ", " : "", set->skip[j]->public_key,
                                        address_of(set->skip[j]));
                fprintf(f, "; accept one by its key\n");
        }
        if (set->n_unclaimed)
                fprintf(f, "skipped: %zu pending key%s never said which node %s\n", set->n_unclaimed,
                        set->n_unclaimed == 1 ? "" : "s", set->n_unclaimed == 1 ? "it is" : "they are");
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* How many source addresses the keys come from: a flood shows as few. */
static size_t distinct_addresses(const accept_set_t *set) {
        const char **a = calloc(set->n_accept + 1, sizeof *a);
        size_t n = 0;
        if (!a)
                return set->n_accept;
        for (size_t i = 0; i < set->n_accept; i++)
                a[i] = set->accept[i]->address;
        qsort(a, set->n_accept, sizeof *a, cmp_str);
        for (size_t i = 0; i < set->n_accept; i++)
                n += i == 0 || strcmp(a[i], a[i - 1]) != 0;
        free(a);
        return n;
}

static void print_plan(FILE *f, const accept_set_t *set) {
        ctl_table_t t = { .cols = 3 };
        size_t addrs = distinct_addresses(set);
        print_skipped(f, set);
        if (!set->n_accept)
                return;
        fprintf(f, "will accept %zu key%s from %zu source address%s:\n", set->n_accept,
                set->n_accept == 1 ? "" : "s", addrs, addrs == 1 ? "" : "es");
        for (size_t i = 0; i < set->n_accept; i++)
                ctl_table_add(&t, set->accept[i]->node_id, set->accept[i]->public_key, set->accept[i]->address);
        ctl_table_print(f, &t, "  ");
}

/* The admin's go-ahead: --yes, or "y" on a terminal. CTL_EXIT_OK, or the
 * exit code, having said why. */
static int confirm(size_t n, bool yes) {
        char line[64];
        if (yes)
                return CTL_EXIT_OK;
        if (!isatty(STDIN_FILENO)) {
                fprintf(stderr, "hitlessctl: not accepting %zu key%s unconfirmed: stdin is not a terminal; "
                                "pass --yes to accept them\n", n, n == 1 ? "" : "s");
                return CTL_EXIT_USAGE;
        }
        fflush(stdout);  /* the list first */
        fprintf(stderr, "Accept %zu key%s? [y/N] ", n, n == 1 ? "" : "s");
        fflush(stderr);
        if (fgets(line, sizeof line, stdin)) {
                line[strcspn(line, "\n")] = '\0';
                if (strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0)
                        return CTL_EXIT_OK;
        }
        fprintf(stderr, "hitlessctl: not confirmed; no key accepted\n");
        return CTL_EXIT_FAILED;
}

/* Why the coordinator did not accept a confirmed key. */
static const char *refusal(const Hitless__KeyInfo *k) {
        if (strcmp(k->accept_all, "ambiguous") == 0)
                return "another pending key now claims that node id too; accept one by its key";
        if (strcmp(k->accept_all, "bound") == 0)
                return "that node id is now bound to another key";
        return "no longer pending";
}

static void print_json_str(FILE *f, const void *item) {
        json_string(f, item);
}

static void print_json_key(FILE *f, const void *item) {
        const Hitless__KeyInfo *k = item;
        json_kv(f, "{", "node_id", k->node_id);
        json_kv(f, ",", "public_key", k->public_key);
        json_kv(f, ",", "address", k->address);
        json_kv(f, ",", "reason", k->accept_all);
        json_int(f, ",", "claimants", k->claimants);
        fputc('}', f);
}

/* The answers to the accept requests, for the JSON summary. */
typedef struct {
        const char **node_ids;
        const Hitless__KeyInfo **skipped;
        size_t n_node_ids, n_skipped;
} accept_result_t;

static void note_answer(accept_result_t *res, const Hitless__KeyActionResult *r, bool json) {
        for (size_t i = 0; i < r->n_node_ids; i++) {
                res->node_ids[res->n_node_ids++] = r->node_ids[i];
                if (!json)
                        printf("%s: accepted\n", r->node_ids[i]);
        }
        for (size_t i = 0; i < r->n_skipped; i++) {
                const Hitless__KeyInfo *k = r->skipped[i];
                res->skipped[res->n_skipped++] = k;
                if (!json)
                        printf("%s (node %s): not accepted: %s\n", k->public_key, k->node_id, refusal(k));
        }
}

static void print_json_summary(const accept_set_t *set, const accept_result_t *res) {
        printf("{\"action\":\"accept\"");
        json_array(stdout, ",", "node_ids", (void *const *) res->node_ids, res->n_node_ids,
                       print_json_str);
        json_array(stdout, ",", "skipped", (void *const *) set->skip, set->n_skip, print_json_key);
        json_array(stdout, ",", "refused", (void *const *) res->skipped, res->n_skipped, print_json_key);
        json_int(stdout, ",", "unclaimed", (long long) set->n_unclaimed);
        printf("}\n");
}

/* Sends the confirmed keys, ACCEPT_BATCH at a time; answers are kept in
 * resps (freed by the caller) for the JSON summary. */
static int send_accepts(const ctl_t *ctl, const accept_set_t *set, Hitless__AdminResponse **resps,
                        accept_result_t *res) {
        for (size_t off = 0, b = 0; off < set->n_accept; off += ACCEPT_BATCH, b++) {
                Hitless__AdminRequest req = HITLESS__ADMIN_REQUEST__INIT;
                Hitless__KeyActionRequest ar = HITLESS__KEY_ACTION_REQUEST__INIT;
                char *keys[ACCEPT_BATCH];
                size_t n = set->n_accept - off < ACCEPT_BATCH ? set->n_accept - off : ACCEPT_BATCH;
                for (size_t i = 0; i < n; i++)
                        keys[i] = set->accept[off + i]->public_key;
                ar.action = HITLESS__KEY_ACTION__KEY_ACCEPT;
                ar.n_public_keys = n;
                ar.public_keys = keys;
                req.body_case = HITLESS__ADMIN_REQUEST__BODY_KEY_ACTION;
                req.key_action = &ar;
                int rc = ctl_request(ctl, &req, HITLESS__ADMIN_RESPONSE__BODY_KEY_ACTION, &resps[b]);
                if (rc != CTL_EXIT_OK)
                        return rc;
                note_answer(res, resps[b]->key_action, ctl->json);
        }
        return res->n_skipped ? CTL_EXIT_FAILED : CTL_EXIT_OK;
}

static int accept_confirmed(const ctl_t *ctl, const accept_set_t *set) {
        size_t n_batches = (set->n_accept + ACCEPT_BATCH - 1) / ACCEPT_BATCH;
        Hitless__AdminResponse **resps = calloc(n_batches + 1, sizeof *resps);
        accept_result_t res = { 0 };
        int rc = CTL_EXIT_FAILED;

        res.node_ids = calloc(set->n_accept + 1, sizeof *res.node_ids);
        res.skipped = calloc(set->n_accept + 1, sizeof *res.skipped);
        if (!resps || !res.node_ids || !res.skipped)
                fprintf(stderr, "hitlessctl: out of memory\n");
        else
                rc = send_accepts(ctl, set, resps, &res);
        if (ctl->json && (rc == CTL_EXIT_OK || res.n_skipped))
                print_json_summary(set, &res);
        for (size_t b = 0; resps && b < n_batches; b++)
                if (resps[b])
                        hitless__admin_response__free_unpacked(resps[b], NULL);
        free(resps);
        free(res.node_ids);
        free(res.skipped);
        return rc;
}

int ctl_keys_accept_all(const ctl_t *ctl, bool yes) {
        Hitless__AdminRequest req = HITLESS__ADMIN_REQUEST__INIT;
        Hitless__KeysListRequest lr = HITLESS__KEYS_LIST_REQUEST__INIT;
        Hitless__AdminResponse *list;
        accept_set_t set = { 0 };
        /* The list is escaped as text even for --json: it is shown on the
         * terminal. Node ids and Z85 keys never need escaping, so the JSON
         * summary is the same. */
        ctl_t text = *ctl;
        text.json = false;
        int rc;

        req.body_case = HITLESS__ADMIN_REQUEST__BODY_KEYS_LIST;
        req.keys_list = &lr;
        if ((rc = ctl_request(&text, &req, HITLESS__ADMIN_RESPONSE__BODY_KEYS, &list)) != CTL_EXIT_OK)
                return rc;
        rc = classify(list->keys, &set);
        if (rc == CTL_EXIT_OK) {
                /* With --json, stdout is for the summary alone. */
                print_plan(ctl->json ? stderr : stdout, &set);
                if (!set.n_accept) {
                        if (ctl->json)
                                print_json_summary(&set, &(accept_result_t){ 0 });
                        else
                                printf("no pending keys to accept\n");
                } else if ((rc = confirm(set.n_accept, yes)) == CTL_EXIT_OK) {
                        rc = accept_confirmed(ctl, &set);
                }
        }
        free(set.accept);
        free(set.skip);
        hitless__admin_response__free_unpacked(list, NULL);
        return rc;
}
