/* Agent -> coordinator messages: the bytes any holder of an accepted (or
 * pending) CURVE key can send. codec_decode_agent must return a message or
 * an error for any input; an accepted message is read the way the
 * coordinator reads it (agent_link.c hello_fields_ok/heartbeat_fields_ok,
 * fleet.c), copied into a NodeInfo as fleet.c does, then every field
 * generically, then re-encoded. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/ids.h"
#include "tests/fuzz/walk.h"

static int decode(const uint8_t *data, size_t len, ProtobufCMessage **ret) {
        return codec_decode_agent(data, len, HITLESS_MAX_MESSAGE_BYTES,
                                  (Hitless__AgentMessage **) ret);
}

static void walk_packages(size_t n, Hitless__PackageVersion *const *p) {
        for (size_t i = 0; i < n; i++) {
                fuzz_str(p[i]->name);
                fuzz_str(p[i]->version);
                fuzz_sink += node_id_valid(p[i]->name);
        }
}

static void walk_hello(const Hitless__Hello *h) {
        fuzz_sink += node_id_valid(fuzz_str(h->node_id));
        fuzz_str(h->hostname);
        fuzz_str(h->agent_version);
        fuzz_str(h->boot_id);
        for (size_t i = 0; i < h->n_roles; i++)
                fuzz_sink += node_id_valid(fuzz_str(h->roles[i]));
        walk_packages(h->n_packages, h->packages);
}

static void walk_heartbeat(const Hitless__Heartbeat *hb) {
        const Hitless__HealthReport *h = hb->health;
        fuzz_sink += hb->seq;
        if (!h)
                return;
        fuzz_str(health_state_label(h->state));
        for (size_t i = 0; i < h->n_checks; i++) {
                const Hitless__CheckResult *c = h->checks[i];
                fuzz_str(c->name);
                fuzz_str(c->kind);
                fuzz_str(c->detail);
                fuzz_sink += c->ok + c->duration_ms;
        }
        walk_packages(h->n_packages, h->packages);
}

/* fleet.c replace_info: the coordinator copies what an agent sent into
 * its NodeInfo by packing and unpacking; that must always work. */
static void check_fleet_copy(const Hitless__AgentMessage *m) {
        Hitless__NodeInfo tmpl = HITLESS__NODE_INFO__INIT;
        Hitless__HealthReport no_health = HITLESS__HEALTH_REPORT__INIT;
        uint8_t *buf = NULL;
        size_t len = 0;

        tmpl.node_id = "node";
        tmpl.address = "10.0.0.1:40000";
        tmpl.health = &no_health;
        if (m->body_case == HITLESS__AGENT_MESSAGE__BODY_HELLO) {
                tmpl.hostname = m->hello->hostname;
                tmpl.n_roles = m->hello->n_roles;
                tmpl.roles = m->hello->roles;
                tmpl.agent_version = m->hello->agent_version;
                tmpl.boot_id = m->hello->boot_id;
                tmpl.n_packages = m->hello->n_packages;
                tmpl.packages = m->hello->packages;
        } else if (m->body_case == HITLESS__AGENT_MESSAGE__BODY_HEARTBEAT && m->heartbeat->health) {
                tmpl.health = m->heartbeat->health;
                tmpl.n_packages = m->heartbeat->health->n_packages;
                tmpl.packages = m->heartbeat->health->packages;
        }
        FUZZ_CHECK(codec_encode(&tmpl.base, &buf, &len) == 0);
        Hitless__NodeInfo *copy = hitless__node_info__unpack(NULL, len, buf);
        FUZZ_CHECK(copy != NULL);
        fuzz_walk(&copy->base);
        hitless__node_info__free_unpacked(copy, NULL);
        free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Hitless__AgentMessage *m = NULL;
        int r = codec_decode_agent(data, size, HITLESS_MAX_MESSAGE_BYTES, &m);

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
        case HITLESS__AGENT_MESSAGE__BODY_HELLO:
                FUZZ_CHECK(m->hello != NULL);
                walk_hello(m->hello);
                break;
        case HITLESS__AGENT_MESSAGE__BODY_HEARTBEAT:
                FUZZ_CHECK(m->heartbeat != NULL);
                walk_heartbeat(m->heartbeat);
                break;
        case HITLESS__AGENT_MESSAGE__BODY_COMMAND_STATUS:
                /* What coordinator/commands/commands.c reads; the rest by fuzz_walk. */
                FUZZ_CHECK(m->command_status != NULL);
                fuzz_str(m->command_status->command_id);
                fuzz_str(m->command_status->message);
                fuzz_sink += (uint64_t) m->command_status->state; /* open enum */
                break;
        case HITLESS__AGENT_MESSAGE__BODY_LOCAL_COMMAND:
                /* The codec's promise to commands_on_local(): both halves, one id. */
                FUZZ_CHECK(m->local_command != NULL && m->local_command->command && m->local_command->status);
                FUZZ_CHECK(strcmp(m->local_command->command->command_id, m->local_command->status->command_id) == 0);
                fuzz_str(m->local_command->upgrade_id);
                fuzz_str(m->local_command->status->message);
                break;
        default:
                FUZZ_CHECK(!"decoded a message with no known body");
        }
        fuzz_walk(&m->base);
        check_fleet_copy(m);
        fuzz_reencode(&m->base, decode, HITLESS_MAX_MESSAGE_BYTES);
        hitless__agent_message__free_unpacked(m, NULL);
        return 0;
}
