/* Wire codec: protobuf-c messages <-> bytes, with the checks every receiver
 * needs before trusting a message: size limit, decodability, protocol
 * version, a body present, every enum value one this build knows, and
 * the identifiers of the agent link in their alphabets (common/ids.h).
 *
 * Decoders never assert on their input: any byte string gives either a
 * message or a negative errno, so network garbage is dropped and counted. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/attrs.h"
#include "proto/hitless.pb-c.h"

/* The protocol this build speaks. A peer with another version is refused. */
#define HITLESS_PROTOCOL_VERSION 1u

/* Default ZMQ_MAXMSGSIZE for every socket and the codec's own limit. */
#define HITLESS_MAX_MESSAGE_BYTES (256 * 1024)

/* Why a message was dropped; indexes codec_drops_t.count. */
typedef enum {
        DROP_TOO_LARGE,     /* over the size limit */
        DROP_UNDECODABLE,   /* not a valid protobuf of the expected type */
        DROP_BAD_VERSION,   /* protocol_version we do not speak */
        DROP_NO_BODY,       /* decodes, but carries no known body */
        DROP_BAD_FRAMING,   /* wrong number of ZMQ frames */
        DROP_REFUSED,       /* well-formed but not allowed in this state */
        DROP_BAD_ENUM,      /* an enum field holds a value with no name */
        DROP_BAD_IDENTIFIER, /* an id or name outside its alphabet */
        DROP__COUNT
} drop_reason_t;

typedef struct {
        uint64_t count[DROP__COUNT];
} codec_drops_t;

const char *drop_reason_name(drop_reason_t r);

/* Maps a negative errno from codec_decode_* to a drop reason. */
drop_reason_t drop_reason_from_errno(int err);

/* Decoders: 0 and *ret set (free with the matching *__free_unpacked, NULL
 * allocator) on success; on failure *ret is untouched and:
 *   -EMSGSIZE  len > max_len
 *   -EBADMSG   not a valid protobuf of the expected type
 *   -EPROTO    protocol_version != HITLESS_PROTOCOL_VERSION
 *   -ENODATA   decodes, but carries no body this build knows (an
 *              AdminResponse whose status is not ADMIN_OK needs none)
 *   -ERANGE    an enum field, at any depth, holds a number the enum does
 *              not name (proto3 would keep it)
 *   -EILSEQ    agent link only: an identifier breaks its rule in
 *              common/ids.h. AgentMessage: Hello's node id, roles and
 *              package names; package names in heartbeats and command
 *              statuses; a status's command id and (optional) snapshot
 *              id. CoordinatorMessage: Welcome's node id; a Command's
 *              command id, node id and optional upgrade and snapshot ids
 *              (unit and package names are the agent's to refuse, with an
 *              answer); every id of a CommandQuery. */
HL_MUST_USE int codec_decode_agent(const uint8_t *data, size_t len, size_t max_len,
                                   Hitless__AgentMessage **ret);
HL_MUST_USE int codec_decode_coordinator(const uint8_t *data, size_t len, size_t max_len,
                                         Hitless__CoordinatorMessage **ret);
HL_MUST_USE int codec_decode_admin_request(const uint8_t *data, size_t len, size_t max_len,
                                           Hitless__AdminRequest **ret);
HL_MUST_USE int codec_decode_admin_response(const uint8_t *data, size_t len, size_t max_len,
                                            Hitless__AdminResponse **ret);

/* Calls visit on every field value of m and, depth first, of each
 * sub-message it holds: every element of a repeated field, a oneof member
 * only when it is the one set. value points into the message (a char **
 * for a string, a ProtobufCMessage ** for a sub-message, ...), so visit
 * may replace what it holds. The first non-zero return stops the walk and
 * is returned. */
/* The size of one element of a repeated field of f's type. */
size_t codec_value_size(const ProtobufCFieldDescriptor *f);

typedef int (*codec_visit_fn)(const ProtobufCFieldDescriptor *f, void *value, void *ud);
int codec_walk(ProtobufCMessage *m, codec_visit_fn visit, void *ud);

/* Packs any message into a new malloc'd buffer (caller frees).
 * Returns 0 or -ENOMEM. */
HL_MUST_USE int codec_encode(const ProtobufCMessage *msg, uint8_t **ret_buf, size_t *ret_len);

/* "healthy", "degraded", "unhealthy", "unknown": the words the CLI and
 * the logs use for a HealthState. */
const char *health_state_label(Hitless__HealthState s);

/* Whether a node in state s counts as up for quorum and health gates:
 * healthy or degraded (only non-critical checks fail; the service is up). */
bool health_state_up(Hitless__HealthState s);

/* "drain", "install", ... for a Command's action; NULL when it has none
 * this build knows. The same words name commands in journals and events. */
const char *command_action_name(const Hitless__Command *cmd);

/* "sent" (0, not yet acknowledged), "accepted", "running", "succeeded",
 * "failed", "interrupted", "refused". */
const char *command_state_name(Hitless__CommandState s);
