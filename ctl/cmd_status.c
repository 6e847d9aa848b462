/* hitlessctl status [--json]: the coordinator's own state and counters. */
#include <stdio.h>
#include <time.h>

#include "ctl/ctl.h"

static void print_counters(const char *title, Hitless__Counter **c, size_t n) {
        printf("%s:", title);
        for (size_t i = 0; i < n; i++)
                printf(" %s=%llu", c[i]->name, (unsigned long long) c[i]->value);
        printf("\n");
}

static void json_counters(const char *key, Hitless__Counter **c, size_t n) {
        printf(",\"%s\":{", key);
        for (size_t i = 0; i < n; i++) {
                printf("%s", i ? "," : "");
                json_string(stdout, c[i]->name);
                printf(":%llu", (unsigned long long) c[i]->value);
        }
        printf("}");
}

static void print_store(const Hitless__StoreHealth *h) {
        char ago[32];
        if (!h)
                return;
        if (h->degraded)
                printf("store: WRITES FAIL since %s (%llu failed): %s; results are asked for again once it writes\n",
                       ctl_ago(h->since, ago, sizeof ago), (unsigned long long) h->failures, h->error);
        else if (h->low_space)
                printf("store: LOW ON SPACE: %llu MiB free, below the floor of %llu MiB: no new upgrade step starts\n",
                       (unsigned long long) (h->free_bytes >> 20), (unsigned long long) (h->floor_bytes >> 20));
        else
                printf("store: ok, %llu MiB free (floor %llu MiB)\n", (unsigned long long) (h->free_bytes >> 20),
                       (unsigned long long) (h->floor_bytes >> 20));
}

static void json_store(const Hitless__StoreHealth *h) {
        if (!h)
                return;
        printf(",\"store\":{\"degraded\":%s,\"since\":%lld,\"failures\":%llu,\"error\":", h->degraded ? "true" : "false",
               (long long) h->since, (unsigned long long) h->failures);
        json_string(stdout, h->error);
        printf(",\"low_space\":%s,\"free_bytes\":%llu,\"floor_bytes\":%llu}", h->low_space ? "true" : "false",
               (unsigned long long) h->free_bytes, (unsigned long long) h->floor_bytes);
}

static int status_exec(ctl_t *ctl, int argc, char **argv) {
        Hitless__AdminRequest req = HITLESS__ADMIN_REQUEST__INIT;
        Hitless__StatusRequest sr = HITLESS__STATUS_REQUEST__INIT;
        Hitless__AdminResponse *resp;
        char ago[32];
        int rc;

        argc = ctl_take_json_flag(ctl, argc, argv);
        if (argc > 1) {
                fprintf(stderr, "usage: hitlessctl %s\n", ctl_cmd_status.usage);
                return CTL_EXIT_USAGE;
        }
        req.body_case = HITLESS__ADMIN_REQUEST__BODY_STATUS;
        req.status = &sr;
        if ((rc = ctl_call(ctl, &req, &resp)) != CTL_EXIT_OK)
                return rc;
        rc = ctl_response_status(resp);
        if (rc == CTL_EXIT_OK && resp->body_case == HITLESS__ADMIN_RESPONSE__BODY_COORDINATOR_STATUS) {
                const Hitless__CoordinatorStatus *s = resp->coordinator_status;
                if (ctl->json) {
                        printf("{\"version\":");
                        json_string(stdout, s->version);
                        printf(",\"agents_endpoint\":");
                        json_string(stdout, s->agents_endpoint);
                        printf(",\"started\":%lld,\"nodes\":%u,\"nodes_online\":%u,\"keys_accepted\":%u,"
                               "\"keys_pending\":%u,\"keys_rejected\":%u,\"messages_received\":%llu",
                               (long long) s->started, s->nodes, s->nodes_online, s->keys_accepted,
                               s->keys_pending, s->keys_rejected, (unsigned long long) s->messages_received);
                        json_counters("dropped", s->dropped, s->n_dropped);
                        json_counters("handshakes", s->handshakes, s->n_handshakes);
                        json_store(s->store);
                        printf("}\n");
                } else {
                        printf("coordinator %s, agents on %s, started %s\n", s->version, s->agents_endpoint,
                               ctl_ago(s->started, ago, sizeof ago));
                        printf("nodes: %u (%u online)\n", s->nodes, s->nodes_online);
                        printf("keys: %u accepted, %u pending, %u rejected\n", s->keys_accepted,
                               s->keys_pending, s->keys_rejected);
                        print_store(s->store);
                        printf("messages received: %llu\n", (unsigned long long) s->messages_received);
                        print_counters("dropped", s->dropped, s->n_dropped);
                        print_counters("handshakes", s->handshakes, s->n_handshakes);
                }
        }
        hitless__admin_response__free_unpacked(resp, NULL);
        return rc;
}

const ctl_command_t ctl_cmd_status = {
        .name = "status",
        .usage = "status [--json]",
        .exec = status_exec,
};
