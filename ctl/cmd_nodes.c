/* hitlessctl nodes [filters] [--json]: the nodes the coordinator knows,
 * with a summary by health and version (ctl/nodes_view.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/codec.h"
#include "ctl/ctl.h"
#include "ctl/nodes_view.h"

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

/* A JSON array of strings on stdout. */
static void s_json_strings(char *const *v, size_t n) {
        printf("[");
        for (size_t i = 0; i < n; i++) {
                printf("%s", i ? "," : "");
                json_string(stdout, v[i]);
        }
        printf("]");
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

/* Colour only for a person: on a terminal, and never with NO_COLOR set
 * (no-color.org). */
static bool use_colour(void) {
        const char *no = getenv("NO_COLOR");
        return isatty(STDOUT_FILENO) && !(no && no[0]);
}

static const char *health_colour(const char *health) {
        if (strcmp(health, "healthy") == 0)
                return "\033[32m";
        if (strcmp(health, "degraded") == 0)
                return "\033[33m";
        return "\033[31m";
}

static void print_table(const Hitless__NodeList *l, const bool *match, bool filtered) {
        char roles[256], pkgs[512], ago[32];
        bool colour = use_colour();
        /* The node and roles columns as wide as their widest entry, so that
         * long ids and role lists keep the columns aligned. */
        int w_node = 20, w_roles = 14;
        for (size_t i = 0; i < l->n_nodes; i++) {
                if (!match[i])
                        continue;
                join_roles(l->nodes[i], roles, sizeof roles);
                if ((int) strlen(l->nodes[i]->node_id) > w_node)
                        w_node = (int) strlen(l->nodes[i]->node_id);
                if ((int) strlen(roles) > w_roles)
                        w_roles = (int) strlen(roles);
        }
        printf("%-*s %-*s %-16s %-8s %-10s %-12s %-12s %s\n", w_node, "NODE", w_roles, "ROLES", "ADDRESS",
               "AGENT", "HEALTH", "LAST-SEEN", "STATE", "PACKAGES");
        for (size_t i = 0; i < l->n_nodes; i++) {
                const Hitless__NodeInfo *n = l->nodes[i];
                const char *health = nodes_health_shown(n);
                if (!match[i])
                        continue;
                join_roles(n, roles, sizeof roles);
                join_packages(n, pkgs, sizeof pkgs);
                /* Escapes outside the padded field keep the columns. */
                printf("%-*s %-*s %-16s %-8s %s%-10s%s %-12s %-12s %s\n", w_node, n->node_id, w_roles, roles,
                       n->address[0] ? n->address : "-", n->agent_version[0] ? n->agent_version : "-",
                       colour ? health_colour(health) : "", health, colour ? "\033[0m" : "",
                       ctl_ago(n->last_seen, ago, sizeof ago), n->state, pkgs);
                /* Failing checks, so "unhealthy" always comes with a why. */
                for (size_t j = 0; n->health && j < n->health->n_checks; j++)
                        if (!n->health->checks[j]->ok)
                                printf("  ! %s (%s): %s\n", n->health->checks[j]->name,
                                       n->health->checks[j]->kind, n->health->checks[j]->detail);
                if (n->health && n->health->drained)
                        printf("  ! drained: serves nothing, down for its quorum groups until undrained\n");
        }
        nodes_print_summary(stdout, l, match, filtered);
}

static void print_json(const Hitless__NodeList *l, const bool *match) {
        bool first = true;
        printf("{\"nodes\":[");
        for (size_t i = 0; i < l->n_nodes; i++) {
                const Hitless__NodeInfo *n = l->nodes[i];
                if (!match[i])
                        continue;
                printf("%s{\"node_id\":", first ? "" : ",");
                first = false;
                json_string(stdout, n->node_id);
                printf(",\"hostname\":");
                json_string(stdout, n->hostname);
                printf(",\"roles\":");
                s_json_strings(n->roles, n->n_roles);
                printf(",\"tasks\":");
                s_json_strings(n->tasks, n->n_tasks);
                printf(",\"units\":");
                s_json_strings(n->units, n->n_units);
                printf(",\"address\":");
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
                json_string(stdout, nodes_health_shown(n));
                printf(",\"last_health\":");
                json_string(stdout, nodes_last_health(n));
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
                printf("],\"endpoints\":{");
                for (size_t j = 0; n->health && j < n->health->n_endpoints; j++) {
                        const Hitless__EndpointList *e = n->health->endpoints[j];
                        printf("%s", j ? "," : "");
                        json_string(stdout, e->kind);
                        printf(":[");
                        for (size_t k = 0; k < e->n_endpoints; k++) {
                                printf("%s", k ? "," : "");
                                json_string(stdout, e->endpoints[k]);
                        }
                        printf("]");
                }
                printf("},\"last_seen\":%lld,\"state\":", (long long) n->last_seen);
                json_string(stdout, n->state);
                printf(",\"boot_id\":");
                json_string(stdout, n->boot_id);
                printf("}");
        }
        printf("]}\n");
}

/* Takes the filter options out of argv into f; the rest stays for the
 * caller. CTL_EXIT_OK, or CTL_EXIT_USAGE after saying why. */
static int take_filter(int *argc, char **argv, nodes_filter_t *f) {
        char err[256];
        int out = 1;
        for (int i = 1; i < *argc; i++) {
                const char **slot = NULL;
                if (strcmp(argv[i], "--role") == 0)
                        slot = &f->role;
                else if (strcmp(argv[i], "--health") == 0)
                        slot = &f->health;
                else if (strcmp(argv[i], "--state") == 0)
                        slot = &f->state;
                else if (strcmp(argv[i], "--version") == 0 && f->n_versions < NODES_FILTER_MAX_VERSIONS)
                        slot = &f->versions[f->n_versions++];
                if (!slot) {
                        argv[out++] = argv[i];
                        continue;
                }
                if (i + 1 >= *argc) {
                        fprintf(stderr, "hitlessctl: nodes: %s needs a value\n", argv[i]);
                        return CTL_EXIT_USAGE;
                }
                *slot = argv[++i];
        }
        *argc = out;
        if (nodes_filter_check(f, err, sizeof err) < 0) {
                fprintf(stderr, "hitlessctl: nodes: %s\n", err);
                return CTL_EXIT_USAGE;
        }
        return CTL_EXIT_OK;
}

static int nodes_exec(ctl_t *ctl, int argc, char **argv) {
        Hitless__AdminRequest req = HITLESS__ADMIN_REQUEST__INIT;
        Hitless__NodesRequest nr = HITLESS__NODES_REQUEST__INIT;
        Hitless__AdminResponse *resp;
        nodes_filter_t filter = { 0 };
        bool *match;
        int rc;

        argc = ctl_take_json_flag(ctl, argc, argv);
        if ((rc = take_filter(&argc, argv, &filter)) != CTL_EXIT_OK)
                return rc;
        if (argc > 1)
                return ctl_usage(&ctl_cmd_nodes);
        req.body_case = HITLESS__ADMIN_REQUEST__BODY_NODES;
        req.nodes = &nr;
        if ((rc = ctl_call(ctl, &req, &resp)) != CTL_EXIT_OK)
                return rc;
        rc = ctl_response_status(resp);
        if (rc == CTL_EXIT_OK && resp->body_case == HITLESS__ADMIN_RESPONSE__BODY_NODES) {
                const Hitless__NodeList *l = resp->nodes;
                match = calloc(l->n_nodes ? l->n_nodes : 1, sizeof *match);
                if (!match) {
                        fprintf(stderr, "hitlessctl: out of memory\n");
                        rc = CTL_EXIT_FAILED;
                } else {
                        for (size_t i = 0; i < l->n_nodes; i++)
                                match[i] = nodes_filter_match(&filter, l->nodes[i]);
                        if (ctl->json)
                                print_json(l, match);
                        else
                                print_table(l, match, nodes_filter_active(&filter));
                        free(match);
                }
        }
        hitless__admin_response__free_unpacked(resp, NULL);
        return rc;
}

const ctl_command_t ctl_cmd_nodes = {
        .name = "nodes",
        .usage = "nodes [--role ROLE] [--health HEALTH] [--state online|unreachable] "
                 "[--version PKG=VERSION]... [--json]",
        .exec = nodes_exec,
};
