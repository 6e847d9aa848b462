/* Coordinator -> agent messages, as the agent's session reads them
 * (agent/session.c session_handle_incoming, on_refused). */
#include <stddef.h>
#include <stdint.h>

#include "common/codec.h"
#include "tests/fuzz/walk.h"

static int decode(const uint8_t *data, size_t len, ProtobufCMessage **ret) {
        return codec_decode_coordinator(data, len, HITLESS_MAX_MESSAGE_BYTES,
                                        (Hitless__CoordinatorMessage **) ret);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Hitless__CoordinatorMessage *m = NULL;
        int r = codec_decode_coordinator(data, size, HITLESS_MAX_MESSAGE_BYTES, &m);

        if (r < 0) {
                FUZZ_CHECK(m == NULL);
                FUZZ_CHECK(r == -EMSGSIZE || r == -EBADMSG || r == -EPROTO || r == -ENODATA || r == -ERANGE ||
                           r == -EILSEQ);
                fuzz_str(drop_reason_name(drop_reason_from_errno(r)));
                return 0;
        }
        FUZZ_CHECK(r == 0 && m != NULL);
        FUZZ_CHECK(m->protocol_version == HITLESS_PROTOCOL_VERSION);
        switch (m->body_case) {
        case HITLESS__COORDINATOR_MESSAGE__BODY_WELCOME:
                FUZZ_CHECK(m->welcome != NULL);
                fuzz_str(m->welcome->node_id);
                fuzz_str(m->welcome->coordinator_version);
                break;
        case HITLESS__COORDINATOR_MESSAGE__BODY_REFUSED:
                FUZZ_CHECK(m->refused != NULL);
                fuzz_sink += (uint64_t) m->refused->reason; /* any int: open enum */
                fuzz_str(m->refused->message);
                break;
        case HITLESS__COORDINATOR_MESSAGE__BODY_COMMAND:
                /* What agent/executor.c reads; the rest by fuzz_walk. */
                FUZZ_CHECK(m->command != NULL);
                fuzz_str(m->command->command_id);
                fuzz_str(m->command->node_id);
                fuzz_str(m->command->upgrade_id);
                fuzz_sink += (uint64_t) m->command->action_case;
                break;
        case HITLESS__COORDINATOR_MESSAGE__BODY_COMMAND_QUERY:
                FUZZ_CHECK(m->command_query != NULL);
                for (size_t i = 0; i < m->command_query->n_command_ids; i++)
                        fuzz_str(m->command_query->command_ids[i]);
                break;
        case HITLESS__COORDINATOR_MESSAGE__BODY_LOCAL_COMMAND_ACK:
                /* What agent/local_report.c reads. */
                FUZZ_CHECK(m->local_command_ack != NULL);
                for (size_t i = 0; i < m->local_command_ack->n_command_ids; i++)
                        fuzz_str(m->local_command_ack->command_ids[i]);
                break;
        default:
                FUZZ_CHECK(!"decoded a message with no known body");
        }
        fuzz_walk(&m->base);
        fuzz_reencode(&m->base, decode, HITLESS_MAX_MESSAGE_BYTES);
        hitless__coordinator_message__free_unpacked(m, NULL);
        return 0;
}
