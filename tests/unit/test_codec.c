/* common/codec: protobuf-c messages <-> bytes with the receiver's checks
 * (size, decodability, protocol version, body present). */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"

/* ---- helpers ---- */

typedef struct {
        uint8_t *data;
        size_t len;
} bytes_t;

static bytes_t encode(const ProtobufCMessage *m) {
        bytes_t b = { NULL, 0 };
        ck_assert_int_eq(codec_encode(m, &b.data, &b.len), 0);
        ck_assert_ptr_nonnull(b.data);
        ck_assert_uint_eq(b.len, protobuf_c_message_get_packed_size(m));
        return b;
}

static size_t put_varint(uint8_t *p, uint64_t v) {
        size_t n = 0;
        do {
                p[n] = (uint8_t) (v & 0x7f);
                v >>= 7;
                if (v)
                        p[n] |= 0x80;
                n++;
        } while (v);
        return n;
}

/* Appends extra bytes to a copy of b. */
static bytes_t append(bytes_t b, const uint8_t *extra, size_t n) {
        bytes_t r;
        r.len = b.len + n;
        r.data = malloc(r.len ? r.len : 1);
        ck_assert_ptr_nonnull(r.data);
        memcpy(r.data, b.data, b.len);
        memcpy(r.data + b.len, extra, n);
        return r;
}

/* Every wire type for field 99, which no message in this protocol has. */
static size_t unknown_fields(uint8_t *p) {
        size_t n = 0;
        n += put_varint(p + n, (99u << 3) | 0);  /* varint */
        n += put_varint(p + n, 123456);
        n += put_varint(p + n, (99u << 3) | 1);  /* fixed64 */
        memset(p + n, 0xab, 8);
        n += 8;
        n += put_varint(p + n, (99u << 3) | 2);  /* length-delimited */
        n += put_varint(p + n, 5);
        memcpy(p + n, "extra", 5);
        n += 5;
        n += put_varint(p + n, (99u << 3) | 5);  /* fixed32 */
        memset(p + n, 0xcd, 4);
        n += 4;
        return n;
}

static Hitless__PackageVersion pkg_a = { PROTOBUF_C_MESSAGE_INIT(&hitless__package_version__descriptor), "nginx", "1.22.1-9" };
static Hitless__PackageVersion pkg_b = { PROTOBUF_C_MESSAGE_INIT(&hitless__package_version__descriptor), "openssl", "" };

static void fill_hello(Hitless__AgentMessage *m, Hitless__Hello *h, char **roles,
                       Hitless__PackageVersion **pkgs) {
        h->node_id = "web-01";
        h->hostname = "web-01.example.com";
        roles[0] = "web";
        roles[1] = "edge";
        h->n_roles = 2;
        h->roles = roles;
        h->agent_version = "0.1.0";
        pkgs[0] = &pkg_a;
        pkgs[1] = &pkg_b;
        h->n_packages = 2;
        h->packages = pkgs;
        h->boot_id = "5f0c2a1e-0000-4000-8000-000000000001";
        m->protocol_version = HITLESS_PROTOCOL_VERSION;
        m->body_case = HITLESS__AGENT_MESSAGE__BODY_HELLO;
        m->hello = h;
}

/* A valid AgentMessage carrying a heartbeat with a health report. */
static bytes_t heartbeat_bytes(uint32_t version) {
        Hitless__AgentMessage m = HITLESS__AGENT_MESSAGE__INIT;
        Hitless__Heartbeat hb = HITLESS__HEARTBEAT__INIT;
        Hitless__HealthReport h = HITLESS__HEALTH_REPORT__INIT;
        Hitless__CheckResult c1 = HITLESS__CHECK_RESULT__INIT, c2 = HITLESS__CHECK_RESULT__INIT;
        Hitless__CheckResult *checks[] = { &c1, &c2 };
        Hitless__PackageVersion *pkgs[] = { &pkg_a };

        c1.name = "nginx";
        c1.kind = "unit";
        c1.ok = true;
        c1.detail = "active";
        c1.duration_ms = 3;
        c2.name = "port-443";
        c2.kind = "tcp";
        c2.ok = false;
        c2.detail = "connection refused";
        c2.duration_ms = 1;
        h.state = HITLESS__HEALTH_STATE__HEALTH_UNHEALTHY;
        h.n_checks = 2;
        h.checks = checks;
        h.n_packages = 1;
        h.packages = pkgs;
        hb.seq = 0x1234567890ull;
        hb.health = &h;
        m.protocol_version = version;
        m.body_case = HITLESS__AGENT_MESSAGE__BODY_HEARTBEAT;
        m.heartbeat = &hb;
        return encode(&m.base);
}

static bytes_t hello_bytes(void) {
        Hitless__AgentMessage m = HITLESS__AGENT_MESSAGE__INIT;
        Hitless__Hello h = HITLESS__HELLO__INIT;
        char *roles[2];
        Hitless__PackageVersion *pkgs[2];
        fill_hello(&m, &h, roles, pkgs);
        return encode(&m.base);
}

static void assert_heartbeat(const Hitless__AgentMessage *d) {
        ck_assert_uint_eq(d->protocol_version, HITLESS_PROTOCOL_VERSION);
        ck_assert_int_eq(d->body_case, HITLESS__AGENT_MESSAGE__BODY_HEARTBEAT);
        ck_assert_ptr_nonnull(d->heartbeat);
        ck_assert_uint_eq(d->heartbeat->seq, 0x1234567890ull);
        const Hitless__HealthReport *h = d->heartbeat->health;
        ck_assert_ptr_nonnull(h);
        ck_assert_int_eq(h->state, HITLESS__HEALTH_STATE__HEALTH_UNHEALTHY);
        ck_assert_uint_eq(h->n_checks, 2);
        ck_assert_str_eq(h->checks[0]->name, "nginx");
        ck_assert_str_eq(h->checks[0]->kind, "unit");
        ck_assert(h->checks[0]->ok);
        ck_assert_str_eq(h->checks[0]->detail, "active");
        ck_assert_uint_eq(h->checks[0]->duration_ms, 3);
        ck_assert_str_eq(h->checks[1]->name, "port-443");
        ck_assert(!h->checks[1]->ok);
        ck_assert_str_eq(h->checks[1]->detail, "connection refused");
        ck_assert_uint_eq(h->n_packages, 1);
        ck_assert_str_eq(h->packages[0]->name, "nginx");
        ck_assert_str_eq(h->packages[0]->version, "1.22.1-9");
}

/* ---- round trips ---- */

START_TEST(test_roundtrip_hello) {
        bytes_t b = hello_bytes();
        Hitless__AgentMessage *d = NULL;

        ck_assert_int_eq(codec_decode_agent(b.data, b.len, HITLESS_MAX_MESSAGE_BYTES, &d), 0);
        ck_assert_ptr_nonnull(d);
        ck_assert_uint_eq(d->protocol_version, HITLESS_PROTOCOL_VERSION);
        ck_assert_int_eq(d->body_case, HITLESS__AGENT_MESSAGE__BODY_HELLO);
        ck_assert_str_eq(d->hello->node_id, "web-01");
        ck_assert_str_eq(d->hello->hostname, "web-01.example.com");
        ck_assert_uint_eq(d->hello->n_roles, 2);
        ck_assert_str_eq(d->hello->roles[0], "web");
        ck_assert_str_eq(d->hello->roles[1], "edge");
        ck_assert_str_eq(d->hello->agent_version, "0.1.0");
        ck_assert_uint_eq(d->hello->n_packages, 2);
        ck_assert_str_eq(d->hello->packages[0]->name, "nginx");
        ck_assert_str_eq(d->hello->packages[0]->version, "1.22.1-9");
        ck_assert_str_eq(d->hello->packages[1]->name, "openssl");
        ck_assert_str_eq(d->hello->packages[1]->version, "");
        ck_assert_str_eq(d->hello->boot_id, "5f0c2a1e-0000-4000-8000-000000000001");
        hitless__agent_message__free_unpacked(d, NULL);
        free(b.data);
}
END_TEST

START_TEST(test_roundtrip_heartbeat) {
        bytes_t b = heartbeat_bytes(HITLESS_PROTOCOL_VERSION);
        Hitless__AgentMessage *d = NULL;

        ck_assert_int_eq(codec_decode_agent(b.data, b.len, HITLESS_MAX_MESSAGE_BYTES, &d), 0);
        assert_heartbeat(d);
        hitless__agent_message__free_unpacked(d, NULL);
        free(b.data);
}
END_TEST

START_TEST(test_roundtrip_heartbeat_without_health) {
        Hitless__AgentMessage m = HITLESS__AGENT_MESSAGE__INIT;
        Hitless__Heartbeat hb = HITLESS__HEARTBEAT__INIT;
        Hitless__AgentMessage *d = NULL;

        /* seq 0 and no health: the body is an empty submessage, still a body. */
        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.body_case = HITLESS__AGENT_MESSAGE__BODY_HEARTBEAT;
        m.heartbeat = &hb;
        bytes_t b = encode(&m.base);
        ck_assert_int_eq(codec_decode_agent(b.data, b.len, b.len, &d), 0);
        ck_assert_int_eq(d->body_case, HITLESS__AGENT_MESSAGE__BODY_HEARTBEAT);
        ck_assert_uint_eq(d->heartbeat->seq, 0);
        ck_assert_ptr_null(d->heartbeat->health);
        hitless__agent_message__free_unpacked(d, NULL);
        free(b.data);
}
END_TEST

START_TEST(test_roundtrip_coordinator) {
        Hitless__CoordinatorMessage m = HITLESS__COORDINATOR_MESSAGE__INIT;
        Hitless__Welcome w = HITLESS__WELCOME__INIT;
        Hitless__Refused rf = HITLESS__REFUSED__INIT;
        Hitless__CoordinatorMessage *d = NULL;

        w.node_id = "db-7";
        w.coordinator_version = "0.1.0";
        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.body_case = HITLESS__COORDINATOR_MESSAGE__BODY_WELCOME;
        m.welcome = &w;
        bytes_t b = encode(&m.base);
        ck_assert_int_eq(codec_decode_coordinator(b.data, b.len, HITLESS_MAX_MESSAGE_BYTES, &d), 0);
        ck_assert_int_eq(d->body_case, HITLESS__COORDINATOR_MESSAGE__BODY_WELCOME);
        ck_assert_str_eq(d->welcome->node_id, "db-7");
        ck_assert_str_eq(d->welcome->coordinator_version, "0.1.0");
        hitless__coordinator_message__free_unpacked(d, NULL);
        free(b.data);

        rf.reason = HITLESS__REFUSAL_REASON__REFUSED_KEY_PENDING;
        rf.message = "waiting for hitlessctl keys accept";
        m.body_case = HITLESS__COORDINATOR_MESSAGE__BODY_REFUSED;
        m.refused = &rf;
        b = encode(&m.base);
        ck_assert_int_eq(codec_decode_coordinator(b.data, b.len, HITLESS_MAX_MESSAGE_BYTES, &d), 0);
        ck_assert_int_eq(d->body_case, HITLESS__COORDINATOR_MESSAGE__BODY_REFUSED);
        ck_assert_int_eq(d->refused->reason, HITLESS__REFUSAL_REASON__REFUSED_KEY_PENDING);
        ck_assert_str_eq(d->refused->message, "waiting for hitlessctl keys accept");
        hitless__coordinator_message__free_unpacked(d, NULL);
        free(b.data);
}
END_TEST

START_TEST(test_roundtrip_admin_request) {
        Hitless__AdminRequest m = HITLESS__ADMIN_REQUEST__INIT;
        Hitless__NodesRequest nodes = HITLESS__NODES_REQUEST__INIT;
        Hitless__KeyActionRequest ka = HITLESS__KEY_ACTION_REQUEST__INIT;
        Hitless__EventsRequest ev = HITLESS__EVENTS_REQUEST__INIT;
        Hitless__AdminRequest *d = NULL;

        /* An empty request message as the body still counts as a body. */
        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.body_case = HITLESS__ADMIN_REQUEST__BODY_NODES;
        m.nodes = &nodes;
        bytes_t b = encode(&m.base);
        ck_assert_int_eq(codec_decode_admin_request(b.data, b.len, 4096, &d), 0);
        ck_assert_int_eq(d->body_case, HITLESS__ADMIN_REQUEST__BODY_NODES);
        ck_assert_ptr_nonnull(d->nodes);
        hitless__admin_request__free_unpacked(d, NULL);
        free(b.data);

        ka.action = HITLESS__KEY_ACTION__KEY_REJECT;
        ka.node_id = "web-01";
        ka.all = true;
        m.body_case = HITLESS__ADMIN_REQUEST__BODY_KEY_ACTION;
        m.key_action = &ka;
        b = encode(&m.base);
        ck_assert_int_eq(codec_decode_admin_request(b.data, b.len, 4096, &d), 0);
        ck_assert_int_eq(d->body_case, HITLESS__ADMIN_REQUEST__BODY_KEY_ACTION);
        ck_assert_int_eq(d->key_action->action, HITLESS__KEY_ACTION__KEY_REJECT);
        ck_assert_str_eq(d->key_action->node_id, "web-01");
        ck_assert(d->key_action->all);
        hitless__admin_request__free_unpacked(d, NULL);
        free(b.data);

        ev.node_id = "db-2";
        ev.limit = 25;
        m.body_case = HITLESS__ADMIN_REQUEST__BODY_EVENTS;
        m.events = &ev;
        b = encode(&m.base);
        ck_assert_int_eq(codec_decode_admin_request(b.data, b.len, 4096, &d), 0);
        ck_assert_int_eq(d->body_case, HITLESS__ADMIN_REQUEST__BODY_EVENTS);
        ck_assert_str_eq(d->events->node_id, "db-2");
        ck_assert_uint_eq(d->events->limit, 25);
        hitless__admin_request__free_unpacked(d, NULL);
        free(b.data);
}
END_TEST

START_TEST(test_roundtrip_admin_response) {
        Hitless__AdminResponse m = HITLESS__ADMIN_RESPONSE__INIT;
        Hitless__KeyList kl = HITLESS__KEY_LIST__INIT;
        Hitless__KeyInfo k1 = HITLESS__KEY_INFO__INIT;
        Hitless__KeyInfo *keys[] = { &k1 };
        Hitless__NodeList nl = HITLESS__NODE_LIST__INIT;
        Hitless__NodeInfo n1 = HITLESS__NODE_INFO__INIT;
        Hitless__NodeInfo *nodes[] = { &n1 };
        Hitless__AdminResponse *d = NULL;

        k1.public_key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
        k1.node_id = "web-01";
        k1.state = "pending";
        k1.address = "10.1.2.3";
        k1.first_seen = 1700000000;
        k1.last_seen = 1700000100;
        k1.attempts = 4;
        kl.n_keys = 1;
        kl.keys = keys;
        kl.pending_dropped = 99;
        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.body_case = HITLESS__ADMIN_RESPONSE__BODY_KEYS;
        m.keys = &kl;
        bytes_t b = encode(&m.base);
        ck_assert_int_eq(codec_decode_admin_response(b.data, b.len, b.len, &d), 0);
        ck_assert_int_eq(d->status, HITLESS__ADMIN_STATUS__ADMIN_OK);
        ck_assert_int_eq(d->body_case, HITLESS__ADMIN_RESPONSE__BODY_KEYS);
        ck_assert_uint_eq(d->keys->n_keys, 1);
        ck_assert_uint_eq(d->keys->pending_dropped, 99);
        ck_assert_str_eq(d->keys->keys[0]->public_key, k1.public_key);
        ck_assert_str_eq(d->keys->keys[0]->node_id, "web-01");
        ck_assert_str_eq(d->keys->keys[0]->state, "pending");
        ck_assert_int_eq(d->keys->keys[0]->first_seen, 1700000000);
        ck_assert_int_eq(d->keys->keys[0]->last_seen, 1700000100);
        ck_assert_uint_eq(d->keys->keys[0]->attempts, 4);
        hitless__admin_response__free_unpacked(d, NULL);
        free(b.data);

        n1.node_id = "web-01";
        n1.state = "unreachable";
        n1.last_seen = -1;  /* int64: negative survives */
        nl.n_nodes = 1;
        nl.nodes = nodes;
        m.body_case = HITLESS__ADMIN_RESPONSE__BODY_NODES;
        m.nodes = &nl;
        b = encode(&m.base);
        ck_assert_int_eq(codec_decode_admin_response(b.data, b.len, b.len, &d), 0);
        ck_assert_int_eq(d->body_case, HITLESS__ADMIN_RESPONSE__BODY_NODES);
        ck_assert_uint_eq(d->nodes->n_nodes, 1);
        ck_assert_str_eq(d->nodes->nodes[0]->node_id, "web-01");
        ck_assert_str_eq(d->nodes->nodes[0]->state, "unreachable");
        ck_assert_int_eq(d->nodes->nodes[0]->last_seen, -1);
        ck_assert_ptr_null(d->nodes->nodes[0]->health);
        hitless__admin_response__free_unpacked(d, NULL);
        free(b.data);
}
END_TEST

/* The admin server answers a failure with status and error only; the CLI
 * must get that response to print the error. */
START_TEST(test_admin_response_failure_needs_no_body) {
        Hitless__AdminResponse m = HITLESS__ADMIN_RESPONSE__INIT;
        Hitless__AdminResponse *d = NULL;

        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.status = HITLESS__ADMIN_STATUS__ADMIN_BAD_REQUEST;
        m.error = "malformed request";
        bytes_t b = encode(&m.base);
        ck_assert_int_eq(codec_decode_admin_response(b.data, b.len, b.len, &d), 0);
        ck_assert_int_eq(d->status, HITLESS__ADMIN_STATUS__ADMIN_BAD_REQUEST);
        ck_assert_str_eq(d->error, "malformed request");
        ck_assert_int_eq(d->body_case, HITLESS__ADMIN_RESPONSE__BODY__NOT_SET);
        hitless__admin_response__free_unpacked(d, NULL);
        free(b.data);

        m.status = HITLESS__ADMIN_STATUS__ADMIN_FAILED;
        m.error = "cannot read keys from the store";
        b = encode(&m.base);
        ck_assert_int_eq(codec_decode_admin_response(b.data, b.len, b.len, &d), 0);
        ck_assert_int_eq(d->status, HITLESS__ADMIN_STATUS__ADMIN_FAILED);
        ck_assert_str_eq(d->error, "cannot read keys from the store");
        hitless__admin_response__free_unpacked(d, NULL);
        free(b.data);

        /* A failure from another protocol version is still refused. */
        m.protocol_version = 2;
        b = encode(&m.base);
        d = NULL;
        ck_assert_int_eq(codec_decode_admin_response(b.data, b.len, b.len, &d), -EPROTO);
        ck_assert_ptr_null(d);
        free(b.data);
}
END_TEST

/* ---- size limit ---- */

START_TEST(test_size_limit) {
        bytes_t b = heartbeat_bytes(HITLESS_PROTOCOL_VERSION);
        Hitless__AgentMessage *d = NULL;

        ck_assert_int_eq(codec_decode_agent(b.data, b.len, b.len - 1, &d), -EMSGSIZE);
        ck_assert_ptr_null(d);
        ck_assert_int_eq(codec_decode_agent(b.data, b.len, b.len, &d), 0);
        hitless__agent_message__free_unpacked(d, NULL);
        free(b.data);
}
END_TEST

START_TEST(test_size_checked_before_decoding) {
        /* Garbage over the limit is "too large", not "undecodable". */
        size_t n = HITLESS_MAX_MESSAGE_BYTES + 1;
        uint8_t *junk = malloc(n);
        Hitless__AgentMessage *a = NULL;
        Hitless__CoordinatorMessage *c = NULL;
        Hitless__AdminRequest *q = NULL;
        Hitless__AdminResponse *p = NULL;

        ck_assert_ptr_nonnull(junk);
        memset(junk, 0xff, n);
        ck_assert_int_eq(codec_decode_agent(junk, n, HITLESS_MAX_MESSAGE_BYTES, &a), -EMSGSIZE);
        ck_assert_int_eq(codec_decode_coordinator(junk, n, HITLESS_MAX_MESSAGE_BYTES, &c), -EMSGSIZE);
        ck_assert_int_eq(codec_decode_admin_request(junk, n, HITLESS_MAX_MESSAGE_BYTES, &q), -EMSGSIZE);
        ck_assert_int_eq(codec_decode_admin_response(junk, n, HITLESS_MAX_MESSAGE_BYTES, &p), -EMSGSIZE);
        ck_assert_int_eq(codec_decode_agent(junk, n, n - 1, &a), -EMSGSIZE);
        /* Within the limit the same bytes are merely undecodable. */
        ck_assert_int_eq(codec_decode_agent(junk, n, n, &a), -EBADMSG);
        ck_assert(!a && !c && !q && !p);
        free(junk);
}
END_TEST

START_TEST(test_oversized_valid_hello) {
        Hitless__AgentMessage m = HITLESS__AGENT_MESSAGE__INIT;
        Hitless__Hello h = HITLESS__HELLO__INIT;
        Hitless__AgentMessage *d = NULL;
        char *roles[2];
        Hitless__PackageVersion *pkgs[2];
        char *big = malloc(HITLESS_MAX_MESSAGE_BYTES + 1);

        ck_assert_ptr_nonnull(big);
        memset(big, 'h', HITLESS_MAX_MESSAGE_BYTES);
        big[HITLESS_MAX_MESSAGE_BYTES] = '\0';
        fill_hello(&m, &h, roles, pkgs);
        h.hostname = big;
        bytes_t b = encode(&m.base);
        ck_assert_uint_gt(b.len, HITLESS_MAX_MESSAGE_BYTES);
        ck_assert_int_eq(codec_decode_agent(b.data, b.len, HITLESS_MAX_MESSAGE_BYTES, &d), -EMSGSIZE);
        ck_assert_ptr_null(d);
        free(b.data);
        free(big);
}
END_TEST

/* ---- undecodable input ---- */

typedef struct {
        const char *what;
        uint8_t bytes[16];
        size_t len;
} vector_t;

static const vector_t garbage[] = {
        { "truncated tag varint", { 0xff }, 1 },
        { "wire type 7", { 0x0f }, 1 },
        { "wire type 6", { 0x0e, 0x00 }, 2 },
        { "tag without value", { 0x08 }, 1 },
        { "truncated value varint", { 0x08, 0x80 }, 2 },
        { "varint of 11 bytes", { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 12 },
        { "field number 0", { 0x00, 0x01 }, 2 },
        { "length beyond the end", { 0x08, 0x01, 0x52, 0x05, 0x0a }, 5 },
        { "version as length-delimited", { 0x0a, 0x01, 0x01, 0x52, 0x00 }, 5 },
        { "body as varint", { 0x08, 0x01, 0x50, 0x01 }, 4 },
        { "truncated fixed64", { 0x08, 0x01, 0x99, 0x06, 0x01, 0x02 }, 6 },
        { "end group without start", { 0x0c }, 1 },
};

START_TEST(test_garbage_vectors) {
        const vector_t *v = &garbage[_i];
        Hitless__AgentMessage *a = NULL;
        Hitless__CoordinatorMessage *c = NULL;
        Hitless__AdminRequest *q = NULL;
        Hitless__AdminResponse *p = NULL;

        ck_assert_msg(codec_decode_agent(v->bytes, v->len, 4096, &a) == -EBADMSG, "agent: %s", v->what);
        ck_assert_msg(codec_decode_coordinator(v->bytes, v->len, 4096, &c) == -EBADMSG,
                      "coordinator: %s", v->what);
        ck_assert_msg(codec_decode_admin_request(v->bytes, v->len, 4096, &q) == -EBADMSG,
                      "admin request: %s", v->what);
        ck_assert_msg(codec_decode_admin_response(v->bytes, v->len, 4096, &p) == -EBADMSG,
                      "admin response: %s", v->what);
        ck_assert(!a && !c && !q && !p);
}
END_TEST

/* A truncated message must never come out as a valid one. protobuf itself
 * accepts a prefix that ends on a top-level field boundary; here the only
 * such prefixes are "nothing" (version 0: -EPROTO) and "the version field
 * alone" (-ENODATA). Every other cut lands inside the length-delimited
 * body, which protobuf refuses (-EBADMSG). */
START_TEST(test_truncated_never_valid) {
        bytes_t b = heartbeat_bytes(HITLESS_PROTOCOL_VERSION);
        ck_assert_uint_gt(b.len, 20);
        ck_assert_uint_eq(b.data[0], 0x08);  /* version first, body last */
        ck_assert_uint_eq(b.data[1], HITLESS_PROTOCOL_VERSION);

        for (size_t n = 0; n < b.len; n++) {
                Hitless__AgentMessage *d = NULL;
                int r = codec_decode_agent(b.data, n, HITLESS_MAX_MESSAGE_BYTES, &d);
                int want = n == 0 ? -EPROTO : n == 2 ? -ENODATA : -EBADMSG;
                ck_assert_msg(r == want, "prefix of %zu/%zu bytes: got %d, want %d", n, b.len, r, want);
                ck_assert_ptr_null(d);
        }
        free(b.data);
}
END_TEST

/* Random bytes: every decoder answers a message or one of its documented
 * errors, and never crashes or leaks (ASan). Deterministic seed. */
START_TEST(test_random_bytes) {
        uint64_t x = 0x9e3779b97f4a7c15ull;
        uint8_t buf[96];
        int bad = 0;

        for (int iter = 0; iter < 20000; iter++) {
                size_t n = (size_t) (iter % 97);
                for (size_t i = 0; i < n; i++) {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        buf[i] = (uint8_t) x;
                }
                Hitless__AgentMessage *a = NULL;
                Hitless__CoordinatorMessage *c = NULL;
                Hitless__AdminRequest *q = NULL;
                Hitless__AdminResponse *p = NULL;
                int r[4];
                r[0] = codec_decode_agent(buf, n, sizeof buf, &a);
                r[1] = codec_decode_coordinator(buf, n, sizeof buf, &c);
                r[2] = codec_decode_admin_request(buf, n, sizeof buf, &q);
                r[3] = codec_decode_admin_response(buf, n, sizeof buf, &p);
                for (int k = 0; k < 4; k++) {
                        ck_assert_msg(r[k] == 0 || r[k] == -EBADMSG || r[k] == -EPROTO || r[k] == -ENODATA,
                                      "decoder %d returned %d", k, r[k]);
                        bad += r[k] == -EBADMSG;
                }
                ck_assert((r[0] == 0) == (a != NULL));
                ck_assert((r[1] == 0) == (c != NULL));
                ck_assert((r[2] == 0) == (q != NULL));
                ck_assert((r[3] == 0) == (p != NULL));
                if (a) {
                        ck_assert_uint_eq(a->protocol_version, HITLESS_PROTOCOL_VERSION);
                        ck_assert_int_ne(a->body_case, HITLESS__AGENT_MESSAGE__BODY__NOT_SET);
                        hitless__agent_message__free_unpacked(a, NULL);
                }
                if (c) {
                        ck_assert_uint_eq(c->protocol_version, HITLESS_PROTOCOL_VERSION);
                        hitless__coordinator_message__free_unpacked(c, NULL);
                }
                if (q) {
                        ck_assert_uint_eq(q->protocol_version, HITLESS_PROTOCOL_VERSION);
                        hitless__admin_request__free_unpacked(q, NULL);
                }
                if (p) {
                        ck_assert_uint_eq(p->protocol_version, HITLESS_PROTOCOL_VERSION);
                        hitless__admin_response__free_unpacked(p, NULL);
                }
        }
        /* Random bytes are mostly not protobuf at all. */
        ck_assert_int_gt(bad, 4 * 20000 / 2);
}
END_TEST

/* ---- protocol version ---- */

START_TEST(test_wrong_version) {
        static const uint32_t versions[] = { 0, 2, 0xffffffffu };
        for (size_t i = 0; i < sizeof versions / sizeof *versions; i++) {
                Hitless__AgentMessage *d = NULL;
                bytes_t b = heartbeat_bytes(versions[i]);
                ck_assert_msg(codec_decode_agent(b.data, b.len, HITLESS_MAX_MESSAGE_BYTES, &d) == -EPROTO,
                              "version %u", versions[i]);
                ck_assert_ptr_null(d);
                free(b.data);
        }
}
END_TEST

START_TEST(test_wrong_version_every_decoder) {
        Hitless__CoordinatorMessage cm = HITLESS__COORDINATOR_MESSAGE__INIT;
        Hitless__Welcome w = HITLESS__WELCOME__INIT;
        Hitless__AdminRequest rq = HITLESS__ADMIN_REQUEST__INIT;
        Hitless__NodesRequest nr = HITLESS__NODES_REQUEST__INIT;
        Hitless__AdminResponse rs = HITLESS__ADMIN_RESPONSE__INIT;
        Hitless__EventList el = HITLESS__EVENT_LIST__INIT;
        Hitless__CoordinatorMessage *c = NULL;
        Hitless__AdminRequest *q = NULL;
        Hitless__AdminResponse *p = NULL;

        w.node_id = "web-1";
        cm.body_case = HITLESS__COORDINATOR_MESSAGE__BODY_WELCOME;
        cm.welcome = &w;
        rq.body_case = HITLESS__ADMIN_REQUEST__BODY_NODES;
        rq.nodes = &nr;
        rs.body_case = HITLESS__ADMIN_RESPONSE__BODY_EVENTS;
        rs.events = &el;
        for (uint32_t v = 0; v <= 2; v++) {
                cm.protocol_version = rq.protocol_version = rs.protocol_version = v;
                int want = v == HITLESS_PROTOCOL_VERSION ? 0 : -EPROTO;
                bytes_t b1 = encode(&cm.base), b2 = encode(&rq.base), b3 = encode(&rs.base);
                ck_assert_int_eq(codec_decode_coordinator(b1.data, b1.len, 4096, &c), want);
                ck_assert_int_eq(codec_decode_admin_request(b2.data, b2.len, 4096, &q), want);
                ck_assert_int_eq(codec_decode_admin_response(b3.data, b3.len, 4096, &p), want);
                if (want == 0) {
                        hitless__coordinator_message__free_unpacked(c, NULL);
                        hitless__admin_request__free_unpacked(q, NULL);
                        hitless__admin_response__free_unpacked(p, NULL);
                        c = NULL;
                        q = NULL;
                        p = NULL;
                }
                ck_assert(!c && !q && !p);
                free(b1.data);
                free(b2.data);
                free(b3.data);
        }
}
END_TEST

/* ---- no body ---- */

START_TEST(test_no_body) {
        Hitless__AgentMessage am = HITLESS__AGENT_MESSAGE__INIT;
        Hitless__CoordinatorMessage cm = HITLESS__COORDINATOR_MESSAGE__INIT;
        Hitless__AdminRequest rq = HITLESS__ADMIN_REQUEST__INIT;
        Hitless__AdminResponse rs = HITLESS__ADMIN_RESPONSE__INIT;
        Hitless__AgentMessage *a = NULL;
        Hitless__CoordinatorMessage *c = NULL;
        Hitless__AdminRequest *q = NULL;
        Hitless__AdminResponse *p = NULL;

        am.protocol_version = cm.protocol_version = rq.protocol_version = rs.protocol_version =
                HITLESS_PROTOCOL_VERSION;
        rs.error = "";  /* ADMIN_OK and no body */
        bytes_t b1 = encode(&am.base), b2 = encode(&cm.base), b3 = encode(&rq.base), b4 = encode(&rs.base);
        ck_assert_int_eq(codec_decode_agent(b1.data, b1.len, 4096, &a), -ENODATA);
        ck_assert_int_eq(codec_decode_coordinator(b2.data, b2.len, 4096, &c), -ENODATA);
        ck_assert_int_eq(codec_decode_admin_request(b3.data, b3.len, 4096, &q), -ENODATA);
        ck_assert_int_eq(codec_decode_admin_response(b4.data, b4.len, 4096, &p), -ENODATA);
        ck_assert(!a && !c && !q && !p);
        free(b1.data);
        free(b2.data);
        free(b3.data);
        free(b4.data);
}
END_TEST

START_TEST(test_unknown_body_is_no_body) {
        /* A body a newer build might send (field 14, an empty message):
         * protobuf skips it as unknown, so there is no body we know. */
        bytes_t b = hello_bytes();
        uint8_t extra[] = { (14u << 3) | 2, 0x00 };
        Hitless__AgentMessage *a = NULL;
        /* version field only, then the unknown body */
        bytes_t v = { b.data, 2 };
        bytes_t m = append(v, extra, sizeof extra);
        ck_assert_int_eq(codec_decode_agent(m.data, m.len, 4096, &a), -ENODATA);
        ck_assert_ptr_null(a);
        free(m.data);
        free(b.data);
}
END_TEST

/* ---- unknown fields ---- */

START_TEST(test_unknown_fields_ignored) {
        bytes_t b = heartbeat_bytes(HITLESS_PROTOCOL_VERSION);
        uint8_t extra[64];
        size_t n = unknown_fields(extra);
        Hitless__AgentMessage *d = NULL;

        /* After the body. */
        bytes_t m = append(b, extra, n);
        ck_assert_int_eq(codec_decode_agent(m.data, m.len, 4096, &d), 0);
        assert_heartbeat(d);
        hitless__agent_message__free_unpacked(d, NULL);
        free(m.data);

        /* Before everything. */
        bytes_t e = { extra, n };
        m = append(e, b.data, b.len);
        ck_assert_int_eq(codec_decode_agent(m.data, m.len, 4096, &d), 0);
        assert_heartbeat(d);
        hitless__agent_message__free_unpacked(d, NULL);
        free(m.data);
        free(b.data);
}
END_TEST

START_TEST(test_unknown_fields_in_nested_message) {
        Hitless__Hello h = HITLESS__HELLO__INIT;
        Hitless__AgentMessage *d = NULL;
        uint8_t extra[64], out[256];
        size_t n = unknown_fields(extra), off = 0;

        h.node_id = "web-02";
        h.hostname = "web-02";
        bytes_t hb = encode(&h.base);
        bytes_t inner = append(hb, extra, n);
        /* AgentMessage { protocol_version = 1; hello = inner; field 99 } */
        off += put_varint(out + off, (1u << 3) | 0);
        off += put_varint(out + off, HITLESS_PROTOCOL_VERSION);
        off += put_varint(out + off, (10u << 3) | 2);
        off += put_varint(out + off, inner.len);
        memcpy(out + off, inner.data, inner.len);
        off += inner.len;
        memcpy(out + off, extra, n);
        off += n;

        ck_assert_int_eq(codec_decode_agent(out, off, 4096, &d), 0);
        ck_assert_int_eq(d->body_case, HITLESS__AGENT_MESSAGE__BODY_HELLO);
        ck_assert_str_eq(d->hello->node_id, "web-02");
        ck_assert_str_eq(d->hello->hostname, "web-02");
        hitless__agent_message__free_unpacked(d, NULL);
        free(hb.data);
        free(inner.data);
}
END_TEST

START_TEST(test_unknown_fields_admin) {
        Hitless__AdminRequest rq = HITLESS__ADMIN_REQUEST__INIT;
        Hitless__KeysListRequest kl = HITLESS__KEYS_LIST_REQUEST__INIT;
        Hitless__AdminRequest *q = NULL;
        uint8_t extra[64];
        size_t n = unknown_fields(extra);

        rq.protocol_version = HITLESS_PROTOCOL_VERSION;
        rq.body_case = HITLESS__ADMIN_REQUEST__BODY_KEYS_LIST;
        rq.keys_list = &kl;
        bytes_t b = encode(&rq.base);
        bytes_t m = append(b, extra, n);
        ck_assert_int_eq(codec_decode_admin_request(m.data, m.len, 4096, &q), 0);
        ck_assert_int_eq(q->body_case, HITLESS__ADMIN_REQUEST__BODY_KEYS_LIST);
        hitless__admin_request__free_unpacked(q, NULL);
        free(m.data);
        free(b.data);
}
END_TEST

/* ---- drop reasons and labels ---- */

START_TEST(test_drop_reason_from_errno) {
        ck_assert_int_eq(drop_reason_from_errno(-EMSGSIZE), DROP_TOO_LARGE);
        ck_assert_int_eq(drop_reason_from_errno(-EBADMSG), DROP_UNDECODABLE);
        ck_assert_int_eq(drop_reason_from_errno(-EPROTO), DROP_BAD_VERSION);
        ck_assert_int_eq(drop_reason_from_errno(-ENODATA), DROP_NO_BODY);
        /* Anything else is counted as undecodable. */
        ck_assert_int_eq(drop_reason_from_errno(-ENOMEM), DROP_UNDECODABLE);
        ck_assert_int_eq(drop_reason_from_errno(-EINVAL), DROP_UNDECODABLE);
}
END_TEST

START_TEST(test_drop_reason_from_decoder) {
        bytes_t b = heartbeat_bytes(2);
        Hitless__AgentMessage *d = NULL;
        ck_assert_int_eq(drop_reason_from_errno(codec_decode_agent(b.data, b.len, 4096, &d)),
                         DROP_BAD_VERSION);
        ck_assert_int_eq(drop_reason_from_errno(codec_decode_agent(b.data, b.len, 1, &d)),
                         DROP_TOO_LARGE);
        ck_assert_int_eq(drop_reason_from_errno(codec_decode_agent(b.data, 5, 4096, &d)),
                         DROP_UNDECODABLE);
        ck_assert_ptr_null(d);
        free(b.data);
}
END_TEST

START_TEST(test_drop_reason_names) {
        ck_assert_str_eq(drop_reason_name(DROP_TOO_LARGE), "too_large");
        ck_assert_str_eq(drop_reason_name(DROP_UNDECODABLE), "undecodable");
        ck_assert_str_eq(drop_reason_name(DROP_BAD_VERSION), "bad_version");
        ck_assert_str_eq(drop_reason_name(DROP_NO_BODY), "no_body");
        ck_assert_str_eq(drop_reason_name(DROP_BAD_FRAMING), "bad_framing");
        ck_assert_str_eq(drop_reason_name(DROP_REFUSED), "refused");
        ck_assert_str_eq(drop_reason_name(DROP__COUNT), "unknown");
        for (int i = 0; i < DROP__COUNT; i++)
                for (int j = 0; j < i; j++)
                        ck_assert_str_ne(drop_reason_name((drop_reason_t) i),
                                         drop_reason_name((drop_reason_t) j));
}
END_TEST

START_TEST(test_health_state_label) {
        ck_assert_str_eq(health_state_label(HITLESS__HEALTH_STATE__HEALTH_HEALTHY), "healthy");
        ck_assert_str_eq(health_state_label(HITLESS__HEALTH_STATE__HEALTH_DEGRADED), "degraded");
        ck_assert_str_eq(health_state_label(HITLESS__HEALTH_STATE__HEALTH_UNHEALTHY), "unhealthy");
        ck_assert_str_eq(health_state_label(HITLESS__HEALTH_STATE__HEALTH_UNKNOWN), "unknown");
        /* A state from a newer peer (proto3 enums are open). */
        ck_assert_str_eq(health_state_label((Hitless__HealthState) 42), "unknown");
        /* up for quorum and health gates: healthy or degraded only */
        ck_assert(health_state_up(HITLESS__HEALTH_STATE__HEALTH_HEALTHY));
        ck_assert(health_state_up(HITLESS__HEALTH_STATE__HEALTH_DEGRADED));
        ck_assert(!health_state_up(HITLESS__HEALTH_STATE__HEALTH_UNHEALTHY));
        ck_assert(!health_state_up(HITLESS__HEALTH_STATE__HEALTH_UNKNOWN));
        ck_assert(!health_state_up((Hitless__HealthState) 42));
}
END_TEST

START_TEST(test_encode_empty_message) {
        /* A message with every field at its default packs to zero bytes;
         * the buffer is still a real allocation. */
        Hitless__NodesRequest nr = HITLESS__NODES_REQUEST__INIT;
        bytes_t b = encode(&nr.base);
        ck_assert_uint_eq(b.len, 0);
        free(b.data);
}
END_TEST


/* ---- enums and identifiers from the wire ---- */

static int decode_status(int state, const char *id, Hitless__AgentMessage **ret) {
        Hitless__AgentMessage m = HITLESS__AGENT_MESSAGE__INIT;
        Hitless__CommandStatus st = HITLESS__COMMAND_STATUS__INIT;
        st.command_id = (char *) id;
        st.state = (Hitless__CommandState) state;
        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.body_case = HITLESS__AGENT_MESSAGE__BODY_COMMAND_STATUS;
        m.command_status = &st;
        bytes_t b = encode(&m.base);
        int r = codec_decode_agent(b.data, b.len, HITLESS_MAX_MESSAGE_BYTES, ret);
        free(b.data);
        return r;
}

START_TEST(test_unknown_enum_dropped) {
        Hitless__AgentMessage *d = NULL;
        ck_assert_int_eq(decode_status(99, "c-1", &d), -ERANGE);
        ck_assert_ptr_null(d);
        ck_assert_int_eq(drop_reason_from_errno(-ERANGE), DROP_BAD_ENUM);
        ck_assert_int_eq(decode_status(HITLESS__COMMAND_STATE__COMMAND_FAILED, "c-1", &d), 0);
        hitless__agent_message__free_unpacked(d, NULL);
}
END_TEST

START_TEST(test_bad_identifier_dropped) {
        Hitless__AgentMessage *d = NULL;
        ck_assert_int_eq(decode_status(HITLESS__COMMAND_STATE__COMMAND_FAILED, "c-1\nforged", &d), -EILSEQ);
        ck_assert_int_eq(decode_status(HITLESS__COMMAND_STATE__COMMAND_FAILED, "", &d), -EILSEQ);
        ck_assert_ptr_null(d);
        ck_assert_int_eq(drop_reason_from_errno(-EILSEQ), DROP_BAD_IDENTIFIER);
        ck_assert_str_eq(drop_reason_name(DROP_BAD_IDENTIFIER), "bad_identifier");
        ck_assert_str_eq(drop_reason_name(DROP_BAD_ENUM), "bad_enum");
}
END_TEST

START_TEST(test_hello_package_name_checked) {
        Hitless__AgentMessage m = HITLESS__AGENT_MESSAGE__INIT, *d = NULL;
        Hitless__Hello h = HITLESS__HELLO__INIT;
        Hitless__PackageVersion bad = { PROTOBUF_C_MESSAGE_INIT(&hitless__package_version__descriptor), "ng\x1b[2Jinx", "1" };
        Hitless__PackageVersion *pkgs[2];
        char *roles[2];
        fill_hello(&m, &h, roles, pkgs);
        pkgs[1] = &bad;
        bytes_t b = encode(&m.base);
        ck_assert_int_eq(codec_decode_agent(b.data, b.len, HITLESS_MAX_MESSAGE_BYTES, &d), -EILSEQ);
        free(b.data);
}
END_TEST

/* A LocalCommand needs both halves, about one id, with valid ids. */
static int decode_local(const char *cmd_id, const char *status_id, bool with_status, const char *upgrade_id) {
        Hitless__AgentMessage m = HITLESS__AGENT_MESSAGE__INIT, *d = NULL;
        Hitless__LocalCommand lc = HITLESS__LOCAL_COMMAND__INIT;
        Hitless__Command c = HITLESS__COMMAND__INIT;
        Hitless__RollbackAction rb = HITLESS__ROLLBACK_ACTION__INIT;
        Hitless__CommandStatus st = HITLESS__COMMAND_STATUS__INIT;
        c.command_id = (char *) cmd_id;
        c.node_id = "n1";
        c.action_case = HITLESS__COMMAND__ACTION_ROLLBACK;
        c.rollback = &rb;
        st.command_id = (char *) status_id;
        st.state = HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED;
        lc.command = &c;
        lc.status = with_status ? &st : NULL;
        lc.upgrade_id = (char *) upgrade_id;
        m.protocol_version = HITLESS_PROTOCOL_VERSION;
        m.body_case = HITLESS__AGENT_MESSAGE__BODY_LOCAL_COMMAND;
        m.local_command = &lc;
        bytes_t b = encode(&m.base);
        int r = codec_decode_agent(b.data, b.len, HITLESS_MAX_MESSAGE_BYTES, &d);
        free(b.data);
        if (d)
                hitless__agent_message__free_unpacked(d, NULL);
        return r;
}

START_TEST(test_local_command_checked) {
        ck_assert_int_eq(decode_local("local-rollback-1-2", "local-rollback-1-2", true, "up-3"), 0);
        ck_assert_int_eq(decode_local("local-rollback-1-2", "local-rollback-1-2", true, ""), 0);
        ck_assert_int_eq(decode_local("local-rollback-1-2", "local-rollback-1-2", false, ""), -EILSEQ);
        ck_assert_int_eq(decode_local("local-rollback-1-2", "local-other", true, ""), -EILSEQ);
        ck_assert_int_eq(decode_local("local-x\nforged", "local-x\nforged", true, ""), -EILSEQ);
        ck_assert_int_eq(decode_local("local-1", "local-1", true, "up\x1b[2J"), -EILSEQ);
}
END_TEST

static Suite *codec_suite(void) {
        Suite *s = suite_create("codec");
        TCase *tc = tcase_create("roundtrip");
        tcase_add_test(tc, test_roundtrip_hello);
        tcase_add_test(tc, test_roundtrip_heartbeat);
        tcase_add_test(tc, test_roundtrip_heartbeat_without_health);
        tcase_add_test(tc, test_roundtrip_coordinator);
        tcase_add_test(tc, test_roundtrip_admin_request);
        tcase_add_test(tc, test_roundtrip_admin_response);
        tcase_add_test(tc, test_admin_response_failure_needs_no_body);
        tcase_add_test(tc, test_encode_empty_message);
        suite_add_tcase(s, tc);

        tc = tcase_create("errors");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_size_limit);
        tcase_add_test(tc, test_size_checked_before_decoding);
        tcase_add_test(tc, test_oversized_valid_hello);
        tcase_add_loop_test(tc, test_garbage_vectors, 0, (int) (sizeof garbage / sizeof *garbage));
        tcase_add_test(tc, test_truncated_never_valid);
        tcase_add_test(tc, test_random_bytes);
        tcase_add_test(tc, test_wrong_version);
        tcase_add_test(tc, test_wrong_version_every_decoder);
        tcase_add_test(tc, test_no_body);
        tcase_add_test(tc, test_local_command_checked);
        tcase_add_test(tc, test_unknown_body_is_no_body);
        suite_add_tcase(s, tc);

        tc = tcase_create("unknown_fields");
        tcase_add_test(tc, test_unknown_fields_ignored);
        tcase_add_test(tc, test_unknown_fields_in_nested_message);
        tcase_add_test(tc, test_unknown_fields_admin);
        suite_add_tcase(s, tc);

        tc = tcase_create("labels");
        tcase_add_test(tc, test_drop_reason_from_errno);
        tcase_add_test(tc, test_drop_reason_from_decoder);
        tcase_add_test(tc, test_drop_reason_names);
        tcase_add_test(tc, test_health_state_label);
        suite_add_tcase(s, tc);

        tc = tcase_create("validation");
        tcase_add_test(tc, test_unknown_enum_dropped);
        tcase_add_test(tc, test_bad_identifier_dropped);
        tcase_add_test(tc, test_hello_package_name_checked);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(codec_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
