#include "common/codec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"

static const char *const drop_names[DROP__COUNT] = {
        [DROP_TOO_LARGE] = "too_large",
        [DROP_UNDECODABLE] = "undecodable",
        [DROP_BAD_VERSION] = "bad_version",
        [DROP_NO_BODY] = "no_body",
        [DROP_BAD_FRAMING] = "bad_framing",
        [DROP_REFUSED] = "refused",
        [DROP_BAD_ENUM] = "bad_enum",
        [DROP_BAD_IDENTIFIER] = "bad_identifier",
};

const char *drop_reason_name(drop_reason_t r) {
        return r < DROP__COUNT ? drop_names[r] : "unknown";
}

drop_reason_t drop_reason_from_errno(int err) {
        switch (err) {
        case -EMSGSIZE: return DROP_TOO_LARGE;
        case -EPROTO: return DROP_BAD_VERSION;
        case -ENODATA: return DROP_NO_BODY;
        case -ERANGE: return DROP_BAD_ENUM;
        case -EILSEQ: return DROP_BAD_IDENTIFIER;
        default: return DROP_UNDECODABLE;
        }
}

size_t codec_value_size(const ProtobufCFieldDescriptor *f) {
        switch (f->type) {
        case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
        case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
        case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
        case PROTOBUF_C_TYPE_ENUM: return sizeof(int);
        case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
        case PROTOBUF_C_TYPE_FLOAT: return 4;
        default: return 8;
        }
}

/* visit on the value at v, then into it when it is a set sub-message. */
static int s_walk_value(const ProtobufCFieldDescriptor *f, void *v, codec_visit_fn visit, void *ud) {
        int r = visit(f, v, ud);
        if (r == 0 && f->type == PROTOBUF_C_TYPE_MESSAGE && *(ProtobufCMessage **) v)
                r = codec_walk(*(ProtobufCMessage **) v, visit, ud);
        return r;
}

int codec_walk(ProtobufCMessage *m, codec_visit_fn visit, void *ud) {
        const ProtobufCMessageDescriptor *desc = m->descriptor;
        char *base = (char *) m;
        int r = 0;

        for (unsigned i = 0; i < desc->n_fields && r == 0; i++) {
                const ProtobufCFieldDescriptor *f = &desc->fields[i];
                if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                        size_t n = *(const size_t *) (base + f->quantifier_offset);
                        char *values = *(char **) (base + f->offset);
                        for (size_t j = 0; j < n && r == 0; j++)
                                r = s_walk_value(f, values + j * codec_value_size(f), visit, ud);
                } else if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
                           *(const uint32_t *) (base + f->quantifier_offset) == f->id) {
                        r = s_walk_value(f, base + f->offset, visit, ud);
                }
        }
        return r;
}

/* Field number 0 is not valid protobuf, but protobuf-c 1.4 accepts it as
 * an unknown field when the tag takes more bytes than needed ("85 00"),
 * keeps it, packs it again as "05" and then refuses to unpack that. So a
 * message holding one cannot be copied (fleet.c copies what agents send by
 * packing and unpacking): refuse it here, at any depth. */
static bool s_has_field_zero(const ProtobufCMessage *m) {
        for (unsigned i = 0; i < m->n_unknown_fields; i++)
                if (m->unknown_fields[i].tag == 0)
                        return true;
        return false;
}

/* What s_inspect found anywhere in a message. */
typedef struct {
        bool field_zero;
        bool unknown_enum;
} s_findings_t;

/* proto3 enums are open: protobuf-c keeps any number it reads. A value
 * this build has no name for would otherwise be taken for some state
 * (a CommandState of 99 counted as final), so it is refused here. */
static int s_inspect(const ProtobufCFieldDescriptor *f, void *v, void *ud) {
        s_findings_t *found = ud;
        if (f->type == PROTOBUF_C_TYPE_ENUM && !protobuf_c_enum_descriptor_get_value(f->descriptor, *(int *) v))
                found->unknown_enum = true;
        else if (f->type == PROTOBUF_C_TYPE_MESSAGE && *(ProtobufCMessage **) v &&
                 s_has_field_zero(*(ProtobufCMessage **) v))
                found->field_zero = true;
        return 0;
}

/* ---- identifiers (common/ids.h) ---------------------------------------- */

static bool s_optional_id_valid(const char *s) {
        return !s[0] || command_id_valid(s);
}

static bool s_packages_valid(Hitless__PackageVersion *const *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!package_name_valid(p[i]->name))
                        return false;
        return true;
}

static bool s_health_valid(const Hitless__HealthReport *h) {
        return !h || s_packages_valid(h->packages, h->n_packages);
}

static bool s_hello_valid(const Hitless__Hello *h) {
        for (size_t i = 0; i < h->n_roles; i++)
                if (!node_id_valid(h->roles[i]))
                        return false;
        for (size_t i = 0; i < h->n_tasks; i++)
                if (!node_id_valid(h->tasks[i]))
                        return false;
        for (size_t i = 0; i < h->n_units; i++)
                if (!unit_name_valid(h->units[i]))
                        return false;
        return node_id_valid(h->node_id) && s_packages_valid(h->packages, h->n_packages);
}

static bool s_status_ids_valid(const Hitless__CommandStatus *st) {
        return command_id_valid(st->command_id) && s_optional_id_valid(st->snapshot_id) &&
               s_packages_valid(st->packages, st->n_packages) && s_health_valid(st->health);
}

/* A command's unit and package names are the agent's to refuse, with an
 * answer: only the ids it needs to answer at all are checked here. */
static bool s_command_ids_valid(const Hitless__Command *c) {
        return command_id_valid(c->command_id) && node_id_valid(c->node_id) &&
               s_optional_id_valid(c->upgrade_id) &&
               (c->action_case != HITLESS__COMMAND__ACTION_ROLLBACK ||
                s_optional_id_valid(c->rollback->snapshot_id));
}

/* A local command must carry both halves, about the same id. */
static bool s_local_command_valid(const Hitless__LocalCommand *lc) {
        return lc->command && lc->status && s_command_ids_valid(lc->command) &&
               s_status_ids_valid(lc->status) && strcmp(lc->command->command_id, lc->status->command_id) == 0 &&
               s_optional_id_valid(lc->upgrade_id);
}

static bool s_agent_ids_valid(const Hitless__AgentMessage *m) {
        switch (m->body_case) {
        case HITLESS__AGENT_MESSAGE__BODY_HELLO:
                return s_hello_valid(m->hello);
        case HITLESS__AGENT_MESSAGE__BODY_HEARTBEAT:
                return s_health_valid(m->heartbeat->health);
        case HITLESS__AGENT_MESSAGE__BODY_COMMAND_STATUS:
                return s_status_ids_valid(m->command_status);
        case HITLESS__AGENT_MESSAGE__BODY_LOCAL_COMMAND:
                return s_local_command_valid(m->local_command);
        default:
                return true;
        }
}

static bool s_coordinator_ids_valid(const Hitless__CoordinatorMessage *m) {
        switch (m->body_case) {
        case HITLESS__COORDINATOR_MESSAGE__BODY_WELCOME:
                return node_id_valid(m->welcome->node_id);
        case HITLESS__COORDINATOR_MESSAGE__BODY_COMMAND:
                return s_command_ids_valid(m->command);
        case HITLESS__COORDINATOR_MESSAGE__BODY_COMMAND_QUERY:
                for (size_t i = 0; i < m->command_query->n_command_ids; i++)
                        if (!command_id_valid(m->command_query->command_ids[i]))
                                return false;
                return true;
        case HITLESS__COORDINATOR_MESSAGE__BODY_LOCAL_COMMAND_ACK:
                for (size_t i = 0; i < m->local_command_ack->n_command_ids; i++)
                        if (!command_id_valid(m->local_command_ack->command_ids[i]))
                                return false;
                return true;
        default:
                return true;
        }
}

static bool s_ids_valid(const ProtobufCMessage *m) {
        if (m->descriptor == &hitless__agent_message__descriptor)
                return s_agent_ids_valid((const Hitless__AgentMessage *) m);
        if (m->descriptor == &hitless__coordinator_message__descriptor)
                return s_coordinator_ids_valid((const Hitless__CoordinatorMessage *) m);
        return true;
}

static int s_body_case(const ProtobufCMessage *m) {
        const ProtobufCMessageDescriptor *desc = m->descriptor;
        for (unsigned i = 0; i < desc->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &desc->fields[i];
                if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
                        return *(const int *) ((const char *) m + f->quantifier_offset);
        }
        return 0;
}

/* Every top-level message has `uint32 protocol_version = 1` and one oneof
 * `body`; both are checked through the descriptor so the four decoders
 * share one implementation. The order of the checks decides the reason a
 * message is counted under. */
static int s_check(ProtobufCMessage *m) {
        const ProtobufCFieldDescriptor *vf =
                protobuf_c_message_descriptor_get_field_by_name(m->descriptor, "protocol_version");
        s_findings_t found = { .field_zero = s_has_field_zero(m) };
        int body_case = s_body_case(m);

        codec_walk(m, s_inspect, &found);
        if (found.field_zero)
                return -EBADMSG;
        if (*(const uint32_t *) ((const char *) m + vf->offset) != HITLESS_PROTOCOL_VERSION)
                return -EPROTO;
        /* An AdminResponse reporting a failure carries only status and
         * error: the admin server sends those without a body, and the CLI
         * must still see the error. */
        if (body_case == 0 && !(m->descriptor == &hitless__admin_response__descriptor &&
                                ((const Hitless__AdminResponse *) m)->status != HITLESS__ADMIN_STATUS__ADMIN_OK))
                return -ENODATA;
        if (found.unknown_enum)
                return -ERANGE;
        return s_ids_valid(m) ? 0 : -EILSEQ;
}

static int decode_checked(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                          size_t len, size_t max_len, ProtobufCMessage **ret) {
        ProtobufCMessage *m;
        int r;

        if (len > max_len)
                return -EMSGSIZE;
        m = protobuf_c_message_unpack(desc, NULL, len, data);
        if (!m)
                return -EBADMSG;
        r = s_check(m);
        if (r < 0) {
                protobuf_c_message_free_unpacked(m, NULL);
                return r;
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
        case HITLESS__COMMAND__ACTION_TASK: return cmd->task->undo ? "undo" : "task";
        case HITLESS__COMMAND__ACTION_UNIT:
                return cmd->unit->op == HITLESS__UNIT_OP__UNIT_START  ? "start"
                       : cmd->unit->op == HITLESS__UNIT_OP__UNIT_STOP ? "stop" : "unit";
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
