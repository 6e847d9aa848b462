/* hitlessctl events [--node N] [--limit N] [--json]: the event log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/ctl.h"

static void print_table(const Hitless__EventList *l) {
        printf("%-20s %-16s %-18s %-14s %s\n", "TIME", "NODE", "KIND", "ACTOR", "MESSAGE");
        for (size_t i = 0; i < l->n_events; i++) {
                const Hitless__Event *e = l->events[i];
                char when[32];
                time_t t = (time_t) e->time;
                struct tm tm;
                if (localtime_r(&t, &tm))
                        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
                else
                        snprintf(when, sizeof when, "@%lld", (long long) e->time);
                printf("%-20s %-16s %-18s %-14s %s\n", when, e->node_id[0] ? e->node_id : "-", e->kind,
                       e->actor, e->message);
        }
}

static void print_json(const Hitless__EventList *l) {
        printf("{\"events\":[");
        for (size_t i = 0; i < l->n_events; i++) {
                const Hitless__Event *e = l->events[i];
                printf("%s{\"id\":%lld,\"time\":%lld,\"node_id\":", i ? "," : "", (long long) e->id,
                       (long long) e->time);
                json_string(stdout, e->node_id);
                printf(",\"kind\":");
                json_string(stdout, e->kind);
                printf(",\"actor\":");
                json_string(stdout, e->actor);
                printf(",\"message\":");
                json_string(stdout, e->message);
                printf("}");
        }
        printf("]}\n");
}

static int events_exec(ctl_t *ctl, int argc, char **argv) {
        Hitless__AdminRequest req = HITLESS__ADMIN_REQUEST__INIT;
        Hitless__EventsRequest er = HITLESS__EVENTS_REQUEST__INIT;
        Hitless__AdminResponse *resp;
        int rc;

        argc = ctl_take_json_flag(ctl, argc, argv);
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--node") == 0 && i + 1 < argc) {
                        er.node_id = argv[++i];
                } else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
                        char *end;
                        long v = strtol(argv[++i], &end, 10);
                        if (*end || v <= 0 || v > 10000) {
                                fprintf(stderr, "hitlessctl: --limit must be 1..10000\n");
                                return CTL_EXIT_USAGE;
                        }
                        er.limit = (uint32_t) v;
                } else {
                        fprintf(stderr, "usage: hitlessctl %s\n", ctl_cmd_events.usage);
                        return CTL_EXIT_USAGE;
                }
        }
        req.body_case = HITLESS__ADMIN_REQUEST__BODY_EVENTS;
        req.events = &er;
        if ((rc = ctl_call(ctl, &req, &resp)) != CTL_EXIT_OK)
                return rc;
        rc = ctl_response_status(resp);
        if (rc == CTL_EXIT_OK && resp->body_case == HITLESS__ADMIN_RESPONSE__BODY_EVENTS) {
                if (ctl->json)
                        print_json(resp->events);
                else
                        print_table(resp->events);
        }
        hitless__admin_response__free_unpacked(resp, NULL);
        return rc;
}

const ctl_command_t ctl_cmd_events = {
        .name = "events",
        .usage = "events [--node NODE] [--limit N] [--json]",
        .exec = events_exec,
};
