/* hitlessctl events [--node N] [--limit N] [--json]: the event log. */
#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"


static void widen(int *w, const char *cell) {
        int n = (int) strlen(cell[0] ? cell : "-");
        if (n > *w)
                *w = n;
}

/* A repeated event is one row: " (×N, last TIME)" after its message. */
static void print_table(const Hitless__EventList *l) {
        /* Each column as wide as its widest cell, so that a long kind
         * ("upgrade.node_rolled_back") or node id moves the whole column,
         * never into the next one. */
        int node_w = 4, kind_w = 4, actor_w = 5;
        for (size_t i = 0; i < l->n_events; i++) {
                widen(&node_w, l->events[i]->node_id);
                widen(&kind_w, l->events[i]->kind);
                widen(&actor_w, l->events[i]->actor);
        }
        printf("%-20s %-*s %-*s %-*s %s\n", "TIME", node_w, "NODE", kind_w, "KIND", actor_w, "ACTOR", "MESSAGE");
        for (size_t i = 0; i < l->n_events; i++) {
                const Hitless__Event *e = l->events[i];
                char when[32], last[32], repeats[80] = "";
                if (e->count > 1)
                        snprintf(repeats, sizeof repeats, " (\u00d7%llu, last %s)", (unsigned long long) e->count,
                                 ctl_local_time(e->last_time > e->time ? e->last_time : e->time, last, sizeof last));
                printf("%-20s %-*s %-*s %-*s %s%s\n", ctl_local_time(e->time, when, sizeof when), node_w,
                       e->node_id[0] ? e->node_id : "-", kind_w, e->kind, actor_w, e->actor, e->message, repeats);
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
