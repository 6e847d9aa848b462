#include "common/codec.h"

#include <errno.h>
#include <stdbool.h>
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

/* Field number 0 is not valid protobuf, but protobuf-c 1.4 accepts it as
 * an unknown field when the tag takes more bytes than needed ("85 00"),
 * keeps it, packs it again as "05" and then refuses to unpack that. So a
 * message holding one cannot be copied (fleet.c copies what agents send by
 * packing and unpacking): refuse it here, at any depth. */
static bool has_field_zero(const ProtobufCMessage *m) {
        const ProtobufCMessageDescriptor *desc = m->descriptor;

        for (unsigned i = 0; i < m->n_unknown_fields; i++)
                if (m->unknown_fields[i].tag == 0)
                        return true;
        for (unsigned i = 0; i < desc->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &desc->fields[i];
                const char *p = (const char *) m + f->offset;

                if (f->type != PROTOBUF_C_TYPE_MESSAGE)
                        continue;
                if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                        size_t n = *(const size_t *) ((const char *) m + f->quantifier_offset);
                        ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *) p;
                        for (size_t j = 0; j < n; j++)
                                if (has_field_zero(v[j]))
                                        return true;
                        continue;
                }
                if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                    *(const uint32_t *) ((const char *) m + f->quantifier_offset) != f->id)
                        continue;
                const ProtobufCMessage *sub = *(ProtobufCMessage *const *) p;
                if (sub && has_field_zero(sub))
                        return true;
        }
        return false;
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
        if (has_field_zero(m)) {
                protobuf_c_message_free_unpacked(m, NULL);
                return -EBADMSG;
        }

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
        /* An AdminResponse reporting a failure carries only status and
         * error: the admin server sends those without a body, and the CLI
         * must still see the error. */
        if (body_case == 0 && desc == &hitless__admin_response__descriptor &&
            ((const Hitless__AdminResponse *) m)->status != HITLESS__ADMIN_STATUS__ADMIN_OK)
                body_case = -1;
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

bool health_state_up(Hitless__HealthState s) {
        return s == HITLESS__HEALTH_STATE__HEALTH_HEALTHY || s == HITLESS__HEALTH_STATE__HEALTH_DEGRADED;
}

const char *command_action_name(const Hitless__Command *cmd) {
        switch (cmd->action_case) {
        case HITLESS__COMMAND__ACTION_DRAIN: return "drain";
        case HITLESS__COMMAND__ACTION_UNDRAIN: return "undrain";
        case HITLESS__COMMAND__ACTION_INSTALL: return "install";
        case HITLESS__COMMAND__ACTION_REPOINT: return "repoint";
        case HITLESS__COMMAND__ACTION_RESTART: return "restart";
        case HITLESS__COMMAND__ACTION_CHECK: return "check";
        case HITLESS__COMMAND__ACTION_ROLLBACK: return "rollback";
        default: return NULL;
        }
}

const char *command_state_name(Hitless__CommandState s) {
        switch (s) {
        case HITLESS__COMMAND_STATE__COMMAND_ACCEPTED: return "accepted";
        case HITLESS__COMMAND_STATE__COMMAND_RUNNING: return "running";
        case HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED: return "succeeded";
        case HITLESS__COMMAND_STATE__COMMAND_FAILED: return "failed";
        case HITLESS__COMMAND_STATE__COMMAND_INTERRUPTED: return "interrupted";
        case HITLESS__COMMAND_STATE__COMMAND_REFUSED: return "refused";
        default: return "sent";
        }
}
