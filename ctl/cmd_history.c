/* hitlessctl history [--node N] [--limit N] [--json]: who did what, and
 * when: admin actions and every command sent to agents (by an operator or
 * an upgrade), oldest first. */
#include <stdio.h>

#include "ctl/ctl.h"
#include "ctl/history_view.h"

static int history_exec(ctl_t *ctl, int argc, char **argv) {
        Hitless__AdminRequest req = HITLESS__ADMIN_REQUEST__INIT;
        Hitless__HistoryRequest hr = HITLESS__HISTORY_REQUEST__INIT;
        Hitless__AdminResponse *resp;
        int rc;

        argc = ctl_take_json_flag(ctl, argc, argv);
        if ((rc = ctl_parse_node_limit(&ctl_cmd_history, argc, argv, &hr.node_id, &hr.limit)) != CTL_EXIT_OK)
                return rc;
        req.body_case = HITLESS__ADMIN_REQUEST__BODY_HISTORY;
        req.history = &hr;
        if ((rc = ctl_request(ctl, &req, HITLESS__ADMIN_RESPONSE__BODY_HISTORY, &resp)) != CTL_EXIT_OK)
                return rc;
        if (ctl->json)
                history_view_json(stdout, resp->history);
        else
                history_view_text(stdout, resp->history);
        hitless__admin_response__free_unpacked(resp, NULL);
        return CTL_EXIT_OK;
}

const ctl_command_t ctl_cmd_history = {
        .name = "history",
        .usage = "history [--node NODE] [--limit N] [--json]",
        .exec = history_exec,
};
