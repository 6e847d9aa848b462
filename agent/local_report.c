#include "agent/local_report.h"

#include <errno.h>
#include <string.h>

#include "common/codec.h"

int local_report_pack(journal_t *j, const journal_command_t *c, uint8_t **ret, size_t *ret_len) {
        Hitless__AgentMessage m = HITLESS__AGENT_MESSAGE__INIT;
        Hitless__LocalCommand lc = HITLESS__LOCAL_COMMAND__INIT;
        journal_snapshot_t snap;
        char upgrade_id[sizeof snap.upgrade_id] = "";
        int r = -EINVAL;

        if (!c->request_len || !c->result_len)
                return -EINVAL;
        lc.command = hitless__command__unpack(NULL, c->request_len, c->request);
        lc.status = hitless__command_status__unpack(NULL, c->result_len, c->result);
        if (!lc.command || !lc.status)
                goto out;
        /* The snapshot says which upgrade was undone; a rollback that found
         * no snapshot names none. */
        if (lc.status->snapshot_id[0] && journal_snapshot_get(j, lc.status->snapshot_id, &snap) == 0)
                memcpy(upgrade_id, snap.upgrade_id, sizeof upgrade_id);
        lc.upgrade_id = upgrade_id;
        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.body_case = HITLESS__AGENT_MESSAGE__BODY_LOCAL_COMMAND;
        m.local_command = &lc;
        r = codec_encode(&m.base, ret, ret_len) < 0 ? -ENOMEM : 0;
out:
        if (lc.command)
                hitless__command__free_unpacked(lc.command, NULL);
        if (lc.status)
                hitless__command_status__free_unpacked(lc.status, NULL);
        return r;
}

int local_report_acknowledged(journal_t *j, const Hitless__LocalCommandAck *ack) {
        int first = 0;
        for (size_t i = 0; i < ack->n_command_ids; i++) {
                int r = journal_local_reported(j, ack->command_ids[i]);
                if (r < 0 && first == 0)
                        first = r;
        }
        return first;
}
