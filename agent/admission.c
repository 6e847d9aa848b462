#include "agent/admission.h"

#include <string.h>

bool admission_allows(const agent_config_t *cfg, const Hitless__Command *cmd, int64_t now_s,
                      action_result_t *r) {
        int64_t max_s = cfg->max_command_deadline_ms / 1000;

        if (strcmp(cmd->node_id, cfg->node_id) != 0)
                action_result_set(r, JCMD_REFUSED, "wrong-node", "command for node %.64s, this is %s",
                                  cmd->node_id, cfg->node_id);
        else if (cmd->deadline <= 0)
                action_result_set(r, JCMD_REFUSED, "no-deadline",
                                  "the command has no deadline; every command needs one");
        else if (now_s > cmd->deadline)
                action_result_set(r, JCMD_REFUSED, "expired", "deadline passed before the command arrived");
        else if (cmd->deadline - now_s > max_s)
                action_result_set(r, JCMD_REFUSED, "deadline-too-far",
                                  "deadline %lld s ahead; this agent's max_command_deadline is %lld s",
                                  (long long) (cmd->deadline - now_s), (long long) max_s);
        else if (strlen(cmd->upgrade_id) >= 64)
                action_result_set(r, JCMD_REFUSED, "bad-request", "upgrade id longer than 63 bytes");
        else
                return true;
        return false;
}
