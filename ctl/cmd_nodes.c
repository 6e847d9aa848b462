/* hitlessctl nodes [--json]: every node the coordinator knows. */
#include <stdio.h>
#include <string.h>

#include "common/codec.h"
#include "ctl/ctl.h"

static void join_packages(const Hitless__NodeInfo *n, char *buf, size_t len) {
        size_t off = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < n->n_packages && off < len; i++) {
                const Hitless__PackageVersion *p = n->packages[i];
                int w = snprintf(buf + off, len - off, "%s%s=%s", i ? "," : "", p->name,
                                 p->version[0] ? p->version : "(none)");
                if (w < 0)
                        break;
                off += (size_t) w;
        }
        if (!buf[0])
                snprintf(buf, len, "-");
}

static void join_roles(const Hitless__NodeInfo *n, char *buf, size_t len) {
        size_t off = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < n->n_roles && off < len; i++) {
                int w = snprintf(buf + off, len - off, "%s%s", i ? "," : "", n->roles[i]);
                if (w < 0)
                        break;
                off += (size_t) w;
        }
        if (!buf[0])
                snprintf(buf, len, "-");
}

/* What the node last reported... */
static const char *last_health_of(const Hitless__NodeInfo *n) {
        return health_state_label(n->health ? n->health->state : HITLESS__HEALTH_STATE__HEALTH_UNKNOWN);
}

/* ...is its health only while it is heard from: an unreachable node's is
 * unknown (LAST-SEEN says how old the last report is). */
static const char *health_of(const Hitless__NodeInfo *n) {
        return strcmp(n->state, "online") == 0 ? last_health_of(n) : "unknown";
}

static void print_table(const Hitless__NodeList *l) {
        char roles[256], pkgs[512], ago[32];
        printf("%-20s %-14s %-16s %-8s %-10s %-12s %-12s %s\n", "NODE", "ROLES", "ADDRESS", "AGENT",
               "HEALTH", "LAST-SEEN", "STATE", "PACKAGES");
        for (size_t i = 0; i < l->n_nodes; i++) {
                const Hitless__NodeInfo *n = l->nodes[i];
                join_roles(n, roles, sizeof roles);
                join_packages(n, pkgs, sizeof pkgs);
                printf("%-20s %-14s %-16s %-8s %-10s %-12s %-12s %s\n", n->node_id, roles,
                       n->address[0] ? n->address : "-", n->agent_version[0] ? n->agent_version : "-",
                       health_of(n), ctl_ago(n->last_seen, ago, sizeof ago), n->state, pkgs);
                /* Failing checks, so "unhealthy" always comes with a why. */
                for (size_t j = 0; n->health && j < n->health->n_checks; j++)
                        if (!n->health->checks[j]->ok)
                                printf("  ! %s (%s): %s\n", n->health->checks[j]->name,
                                       n->health->checks[j]->kind, n->health->checks[j]->detail);
                if (n->health && n->health->drained)
                        printf("  ! drained: serves nothing, down for its quorum groups until undrained\n");
        }
        printf("%zu node%s\n", l->n_nodes, l->n_nodes == 1 ? "" : "s");
}

static void print_json(const Hitless__NodeList *l) {
        printf("{\"nodes\":[");
        for (size_t i = 0; i < l->n_nodes; i++) {
                const Hitless__NodeInfo *n = l->nodes[i];
                printf("%s{\"node_id\":", i ? "," : "");
                json_string(stdout, n->node_id);
                printf(",\"hostname\":");
                json_string(stdout, n->hostname);
                printf(",\"roles\":[");
                for (size_t j = 0; j < n->n_roles; j++) {
                        printf("%s", j ? "," : "");
                        json_string(stdout, n->roles[j]);
                }
                printf("],\"address\":");
                json_string(stdout, n->address);
                printf(",\"agent_version\":");
                json_string(stdout, n->agent_version);
                printf(",\"packages\":{");
                for (size_t j = 0; j < n->n_packages; j++) {
                        printf("%s", j ? "," : "");
                        json_string(stdout, n->packages[j]->name);
                        printf(":");
                        json_string(stdout, n->packages[j]->version);
                }
                printf("},\"health\":");
                json_string(stdout, health_of(n));
                printf(",\"last_health\":");
                json_string(stdout, last_health_of(n));
                printf(",\"drained\":%s", n->health && n->health->drained ? "true" : "false");
                printf(",\"checks\":[");
                for (size_t j = 0; n->health && j < n->health->n_checks; j++) {
                        const Hitless__CheckResult *c = n->health->checks[j];
                        printf("%s{\"name\":", j ? "," : "");
                        json_string(stdout, c->name);
                        printf(",\"kind\":");
                        json_string(stdout, c->kind);
                        printf(",\"ok\":%s,\"detail\":", c->ok ? "true" : "false");
                        json_string(stdout, c->detail);
                        printf(",\"duration_ms\":%u}", c->duration_ms);
                }
                printf("],\"last_seen\":%lld,\"state\":", (long long) n->last_seen);
                json_string(stdout, n->state);
                printf(",\"boot_id\":");
                json_string(stdout, n->boot_id);
                printf("}");
        }
        printf("]}\n");
}

static int nodes_exec(ctl_t *ctl, int argc, char **argv) {
        Hitless__AdminRequest req = HITLESS__ADMIN_REQUEST__INIT;
        Hitless__NodesRequest nr = HITLESS__NODES_REQUEST__INIT;
        Hitless__AdminResponse *resp;
        int rc;

        argc = ctl_take_json_flag(ctl, argc, argv);
        if (argc > 1) {
                fprintf(stderr, "usage: hitlessctl %s\n", ctl_cmd_nodes.usage);
                return CTL_EXIT_USAGE;
        }
        req.body_case = HITLESS__ADMIN_REQUEST__BODY_NODES;
        req.nodes = &nr;
        if ((rc = ctl_call(ctl, &req, &resp)) != CTL_EXIT_OK)
                return rc;
        rc = ctl_response_status(resp);
        if (rc == CTL_EXIT_OK && resp->body_case == HITLESS__ADMIN_RESPONSE__BODY_NODES) {
                if (ctl->json)
                        print_json(resp->nodes);
                else
                        print_table(resp->nodes);
        }
        hitless__admin_response__free_unpacked(resp, NULL);
        return rc;
}

const ctl_command_t ctl_cmd_nodes = {
        .name = "nodes",
        .usage = "nodes [--json]",
        .exec = nodes_exec,
};
