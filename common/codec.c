#include "common/codec.h"

#include <errno.h>
#include <stdlib.h>

static const char *const drop_names[DROP__COUNT] = {
        [DROP_TOO_LARGE] = "too_large",
        [DROP_UNDECODABLE] = "undecodable",
        [DROP_BAD_VERSION] = "bad_version",
        [DROP_NO_BODY] = "no_body",
        [DROP_BAD_FRAMING] = "bad_framing",
        [DROP_REFUSED] = "refused",
};

const char *drop_reason_name(drop_reason_t r) {
        return r < DROP__COUNT ? drop_names[r] : "unknown";
}

drop_reason_t drop_reason_from_errno(int err) {
        switch (err) {
        case -EMSGSIZE: return DROP_TOO_LARGE;
        case -EPROTO: return DROP_BAD_VERSION;
        case -ENODATA: return DROP_NO_BODY;
        default: return DROP_UNDECODABLE;
        }
}

/* Every top-level message has `uint32 protocol_version = 1` and one oneof
 * `body`; both are checked through the descriptor so the four decoders
 * share one implementation. */
static int decode_checked(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                          size_t len, size_t max_len, ProtobufCMessage **ret) {
        const ProtobufCFieldDescriptor *vf;
        ProtobufCMessage *m;
        uint32_t version;
        int body_case = 0;

        if (len > max_len)
                return -EMSGSIZE;
        m = protobuf_c_message_unpack(desc, NULL, len, data);
        if (!m)
                return -EBADMSG;

        vf = protobuf_c_message_descriptor_get_field_by_name(desc, "protocol_version");
        version = *(const uint32_t *) ((const char *) m + vf->offset);
        if (version != HITLESS_PROTOCOL_VERSION) {
                protobuf_c_message_free_unpacked(m, NULL);
                return -EPROTO;
        }
        for (unsigned i = 0; i < desc->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &desc->fields[i];
                if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
                        body_case = *(const int *) ((const char *) m + f->quantifier_offset);
                        break;
                }
        }
        if (body_case == 0) {
                protobuf_c_message_free_unpacked(m, NULL);
                return -ENODATA;
        }
        *ret = m;
        return 0;
}

int codec_decode_agent(const uint8_t *data, size_t len, size_t max_len,
                       Hitless__AgentMessage **ret) {
        return decode_checked(&hitless__agent_message__descriptor, data, len, max_len,
                              (ProtobufCMessage **) ret);
}

int codec_decode_coordinator(const uint8_t *data, size_t len, size_t max_len,
                             Hitless__CoordinatorMessage **ret) {
        return decode_checked(&hitless__coordinator_message__descriptor, data, len, max_len,
                              (ProtobufCMessage **) ret);
}

int codec_decode_admin_request(const uint8_t *data, size_t len, size_t max_len,
                               Hitless__AdminRequest **ret) {
        return decode_checked(&hitless__admin_request__descriptor, data, len, max_len,
                              (ProtobufCMessage **) ret);
}

int codec_decode_admin_response(const uint8_t *data, size_t len, size_t max_len,
                                Hitless__AdminResponse **ret) {
        return decode_checked(&hitless__admin_response__descriptor, data, len, max_len,
                              (ProtobufCMessage **) ret);
}

int codec_encode(const ProtobufCMessage *msg, uint8_t **ret_buf, size_t *ret_len) {
        size_t n = protobuf_c_message_get_packed_size(msg);
        uint8_t *buf = malloc(n ? n : 1);
        if (!buf)
                return -ENOMEM;
        protobuf_c_message_pack(msg, buf);
        *ret_buf = buf;
        *ret_len = n;
        return 0;
}

const char *health_state_label(Hitless__HealthState s) {
        switch (s) {
        case HITLESS__HEALTH_STATE__HEALTH_HEALTHY: return "healthy";
        case HITLESS__HEALTH_STATE__HEALTH_DEGRADED: return "degraded";
        case HITLESS__HEALTH_STATE__HEALTH_UNHEALTHY: return "unhealthy";
        default: return "unknown";
        }
}
