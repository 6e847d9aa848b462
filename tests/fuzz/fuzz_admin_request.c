/* hitlessctl -> coordinator requests on the admin socket: any local user
 * allowed to connect can send these bytes (coordinator/admin/admin.c). */
#include <stddef.h>
#include <stdint.h>

#include "common/admin_protocol.h"
#include "common/codec.h"
#include "common/ids.h"
#include "tests/fuzz/walk.h"


static int decode(const uint8_t *data, size_t len, ProtobufCMessage **ret) {
        return codec_decode_admin_request(data, len, ADMIN_MAX_REQUEST,
                                          (Hitless__AdminRequest **) ret);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Hitless__AdminRequest *m = NULL;
        int r = codec_decode_admin_request(data, size, ADMIN_MAX_REQUEST, &m);

        if (r < 0) {
                FUZZ_CHECK(m == NULL);
                FUZZ_CHECK(r == -EMSGSIZE || r == -EBADMSG || r == -EPROTO || r == -ENODATA || r == -ERANGE ||
                           r == -EILSEQ);
                return 0;
        }
        FUZZ_CHECK(r == 0 && m != NULL);
        FUZZ_CHECK(m->protocol_version == HITLESS_PROTOCOL_VERSION);
        switch (m->body_case) {
        case HITLESS__ADMIN_REQUEST__BODY_NODES:
                FUZZ_CHECK(m->nodes != NULL);
                break;
        case HITLESS__ADMIN_REQUEST__BODY_KEYS_LIST:
                FUZZ_CHECK(m->keys_list != NULL);
                break;
        case HITLESS__ADMIN_REQUEST__BODY_KEY_ACTION:
                FUZZ_CHECK(m->key_action != NULL);
                fuzz_sink += (uint64_t) m->key_action->action + m->key_action->all;
                fuzz_sink += node_id_valid(fuzz_str(m->key_action->node_id));
                break;
        case HITLESS__ADMIN_REQUEST__BODY_EVENTS:
                FUZZ_CHECK(m->events != NULL);
                fuzz_sink += node_id_valid(fuzz_str(m->events->node_id));
                fuzz_sink += m->events->limit;
                break;
        case HITLESS__ADMIN_REQUEST__BODY_STATUS:
                FUZZ_CHECK(m->status != NULL);
                break;
        default:
                /* A body added since: walked generically below. */
                FUZZ_CHECK(m->body_case != HITLESS__ADMIN_REQUEST__BODY__NOT_SET);
        }
        fuzz_walk(&m->base);
        fuzz_reencode(&m->base, decode, ADMIN_MAX_REQUEST);
        hitless__admin_request__free_unpacked(m, NULL);
        return 0;
}
