/* hitlessctl keys list|accept|reject|delete|gen. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/ids.h"
#include "common/keys.h"
#include "ctl/ctl.h"

static int keys_gen(const ctl_t *ctl, int argc, char **argv) {
        const char *dir = NULL, *name = "hitless";
        char pub[KEYS_Z85_LEN + 1];
        for (int i = 2; i < argc; i++) {
                if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
                        name = argv[++i];
                else if (!dir && argv[i][0] != '-')
                        dir = argv[i];
                else
                        dir = NULL, i = argc;
        }
        if (!dir || !node_id_valid(name))
                return ctl_usage(&ctl_cmd_keys);
        int r = keys_generate(dir, name, pub);
        if (r == -EEXIST) {
                fprintf(stderr, "hitlessctl: %s/%s.key or .key_secret already exists; not overwriting\n", dir, name);
                return CTL_EXIT_FAILED;
        }
        if (r < 0) {
                fprintf(stderr, "hitlessctl: cannot write key pair in %s: %s\n", dir, strerror(-r));
                return CTL_EXIT_FAILED;
        }
        char pub_file[4200], secret_file[4200];
        snprintf(pub_file, sizeof pub_file, "%s/%s.key", dir, name);
        snprintf(secret_file, sizeof secret_file, "%s/%s.key_secret", dir, name);
        if (ctl->json) {
                json_kv(stdout, "{", "public_key", pub);
                json_kv(stdout, ",", "public_key_file", pub_file);
                json_kv(stdout, ",", "secret_key_file", secret_file);
                printf("}\n");
        } else {
                printf("%s\n", pub);
        }
        fprintf(stderr, "wrote %s (public) and %s (mode 0600)\n", pub_file, secret_file);
        return CTL_EXIT_OK;
}

/* Why accept --all leaves a pending key to the admin, for the listing. */
static const char *claim_note(const Hitless__KeyInfo *k) {
        if (strcmp(k->accept_all, "ambiguous") == 0)
                return " (node id claimed by several keys: accept by key)";
        if (strcmp(k->accept_all, "bound") == 0)
                return " (node id bound to another key)";
        return "";
}

static void print_list(const Hitless__KeyList *l, bool json) {
        char ago[32];
        if (json) {
                printf("{\"keys\":[");
                for (size_t i = 0; i < l->n_keys; i++) {
                        const Hitless__KeyInfo *k = l->keys[i];
                        printf("%s{\"node_id\":", i ? "," : "");
                        json_string(stdout, k->node_id);
                        printf(",\"state\":");
                        json_string(stdout, k->state);
                        printf(",\"public_key\":");
                        json_string(stdout, k->public_key);
                        printf(",\"address\":");
                        json_string(stdout, k->address);
                        printf(",\"first_seen\":%lld,\"last_seen\":%lld,\"attempts\":%u",
                               (long long) k->first_seen, (long long) k->last_seen, k->attempts);
                        if (k->accept_all[0]) {
                                json_kv(stdout, ",", "accept_all", k->accept_all);
                                json_int(stdout, ",", "claimants", k->claimants);
                        }
                        printf("}");
                }
                printf("],\"pending_dropped\":%llu}\n", (unsigned long long) l->pending_dropped);
                return;
        }
        static const char *const states[] = { "accepted", "pending", "rejected" };
        for (size_t s = 0; s < 3; s++) {
                size_t count = 0;
                printf("%s%s keys:\n", s ? "\n" : "", states[s]);
                for (size_t i = 0; i < l->n_keys; i++) {
                        const Hitless__KeyInfo *k = l->keys[i];
                        if (strcmp(k->state, states[s]) != 0)
                                continue;
                        printf("  %-20s %s  %-16s %s, %u attempt%s%s\n", k->node_id, k->public_key,
                               k->address[0] ? k->address : "-", ctl_ago(k->last_seen, ago, sizeof ago),
                               k->attempts, k->attempts == 1 ? "" : "s", claim_note(k));
                        count++;
                }
                if (!count)
                        printf("  (none)\n");
        }
        if (l->pending_dropped)
                printf("\n%llu connection attempts with unknown keys were not recorded "
                       "(pending table full or rate limit)\n", (unsigned long long) l->pending_dropped);
}

static int keys_exec(ctl_t *ctl, int argc, char **argv) {
        Hitless__AdminRequest req = HITLESS__ADMIN_REQUEST__INIT;
        Hitless__KeysListRequest lr = HITLESS__KEYS_LIST_REQUEST__INIT;
        Hitless__KeyActionRequest ar = HITLESS__KEY_ACTION_REQUEST__INIT;
        Hitless__AdminResponse *resp;
        const char *verb;
        int rc;

        argc = ctl_take_json_flag(ctl, argc, argv);
        verb = argc > 1 ? argv[1] : "list";
        if (strcmp(verb, "gen") == 0)
                return keys_gen(ctl, argc, argv);
        if (strcmp(verb, "accept") == 0 && argc >= 3 && argc <= 4 && strcmp(argv[2], "--all") == 0) {
                bool yes = argc == 4 && (strcmp(argv[3], "--yes") == 0 || strcmp(argv[3], "-y") == 0);
                if (argc == 4 && !yes)
                        return ctl_usage(&ctl_cmd_keys);
                return ctl_keys_accept_all(ctl, yes);
        }
        if (strcmp(verb, "list") == 0 && argc <= 2) {
                req.body_case = HITLESS__ADMIN_REQUEST__BODY_KEYS_LIST;
                req.keys_list = &lr;
        } else if (argc == 3 && (strcmp(verb, "accept") == 0 || strcmp(verb, "reject") == 0 ||
                                 strcmp(verb, "delete") == 0)) {
                ar.action = verb[0] == 'a' ? HITLESS__KEY_ACTION__KEY_ACCEPT
                          : verb[0] == 'r' ? HITLESS__KEY_ACTION__KEY_REJECT
                                           : HITLESS__KEY_ACTION__KEY_DELETE;
                if (strcmp(argv[2], "--all") == 0) {
                        fprintf(stderr, "hitlessctl: --all applies to accept only\n");
                        return CTL_EXIT_USAGE;
                }
                ar.node_id = argv[2];
                req.body_case = HITLESS__ADMIN_REQUEST__BODY_KEY_ACTION;
                req.key_action = &ar;
        } else {
                return ctl_usage(&ctl_cmd_keys);
        }

        if ((rc = ctl_call(ctl, &req, &resp)) != CTL_EXIT_OK)
                return rc;
        rc = ctl_response_status(resp);
        if (resp->body_case == HITLESS__ADMIN_RESPONSE__BODY_KEYS && rc == CTL_EXIT_OK) {
                print_list(resp->keys, ctl->json);
        } else if (resp->body_case == HITLESS__ADMIN_RESPONSE__BODY_KEY_ACTION) {
                const Hitless__KeyActionResult *r = resp->key_action;
                if (ctl->json) {
                        printf("{\"action\":");
                        json_string(stdout, verb);
                        printf(",\"node_ids\":[");
                        for (size_t i = 0; i < r->n_node_ids; i++) {
                                printf("%s", i ? "," : "");
                                json_string(stdout, r->node_ids[i]);
                        }
                        printf("]");
                        json_bool(stdout, ",", "already", r->already);
                        printf("}\n");
                } else {
                        for (size_t i = 0; i < r->n_node_ids; i++)
                                printf("%s: %s%sed\n", r->node_ids[i], r->already ? "already " : "",
                                       strcmp(verb, "delete") == 0 ? "delet" : verb);
                }
        }
        hitless__admin_response__free_unpacked(resp, NULL);
        return rc;
}

const ctl_command_t ctl_cmd_keys = {
        .name = "keys",
        .usage = "keys [list] [--json]\n"
                 "keys accept NODE|KEY [--json]\n"
                 "keys accept --all [--yes] [--json]\n"
                 "keys reject NODE|KEY [--json]\n"
                 "keys delete NODE|KEY [--json]\n"
                 "keys gen DIR [--name NAME] [--json]",
        .exec = keys_exec,
};
