/* hitlessctl events [--node N] [--limit N] [--json]: the event log. */
#include <stdio.h>

#include "ctl/ctl.h"

/* A repeated event is one row: " (×N, last TIME)" after its message. */
static void print_table(const Hitless__EventList *l) {
        printf("%-20s %-16s %-18s %-14s %s\n", "TIME", "NODE", "KIND", "ACTOR", "MESSAGE");
        for (size_t i = 0; i < l->n_events; i++) {
                const Hitless__Event *e = l->events[i];
                char when[32], last[32], repeats[80] = "";
                if (e->count > 1)
                        snprintf(repeats, sizeof repeats, " (\u00d7%llu, last %s)", (unsigned long long) e->count,
                                 ctl_local_time(e->last_time > e->time ? e->last_time : e->time, last, sizeof last));
                printf("%-20s %-16s %-18s %-14s %s%s\n", ctl_local_time(e->time, when, sizeof when),
                       e->node_id[0] ? e->node_id : "-", e->kind, e->actor, e->message, repeats);
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
                printf(",\"count\":%llu,\"last_time\":%lld}", (unsigned long long) (e->count ? e->count : 1),
                       (long long) (e->last_time > e->time ? e->last_time : e->time));
        }
        printf("]}\n");
}

static int events_exec(ctl_t *ctl, int argc, char **argv) {
        Hitless__AdminRequest req = HITLESS__ADMIN_REQUEST__INIT;
        Hitless__EventsRequest er = HITLESS__EVENTS_REQUEST__INIT;
        Hitless__AdminResponse *resp;
        int rc;

        argc = ctl_take_json_flag(ctl, argc, argv);
        if ((rc = ctl_parse_node_limit(&ctl_cmd_events, argc, argv, &er.node_id, &er.limit)) != CTL_EXIT_OK)
                return rc;
        req.body_case = HITLESS__ADMIN_REQUEST__BODY_EVENTS;
        req.events = &er;
        if ((rc = ctl_request(ctl, &req, HITLESS__ADMIN_RESPONSE__BODY_EVENTS, &resp)) != CTL_EXIT_OK)
                return rc;
        if (ctl->json)
                print_json(resp->events);
        else
                print_table(resp->events);
        hitless__admin_response__free_unpacked(resp, NULL);
        return CTL_EXIT_OK;
}

const ctl_command_t ctl_cmd_events = {
        .name = "events",
        .usage = "events [--node NODE] [--limit N] [--json]",
        .exec = events_exec,
};
