/* coordinator -> hitlessctl responses (ctl/admin_client.c decodes them
 * with no size limit). An accepted response is read as the ctl commands
 * print it: every string through json_string (whose output must be a
 * valid JSON string that unescapes to the input) and every timestamp
 * through ctl_ago. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <locale.h>
#include <stdbool.h>
#include <string.h>
#include <wchar.h>

#include "common/codec.h"
#include "ctl/ctl.h"
#include "tests/fuzz/walk.h"

static int decode(const uint8_t *data, size_t len, ProtobufCMessage **ret) {
        return codec_decode_admin_response(data, len, SIZE_MAX, (Hitless__AdminResponse **) ret);
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Independent of ctl/output.c: glibc's own UTF-8 decoder, held to
 * RFC 3629 (glibc also takes code points past U+10FFFF). */
static bool valid_utf8(const char *s) {
        static bool locale_set;
        mbstate_t st;
        size_t n = strlen(s);
        if (!locale_set) {
                FUZZ_CHECK(setlocale(LC_CTYPE, "C.UTF-8") != NULL);
                locale_set = true;
        }
        memset(&st, 0, sizeof st);
        while (n) {
                wchar_t wc;
                size_t r = mbrtowc(&wc, s, n, &st);
                if (r == (size_t) -1 || r == (size_t) -2 || (unsigned long) wc > 0x10ffff ||
                    ((unsigned long) wc >= 0xd800 && (unsigned long) wc <= 0xdfff))
                        return false;
                s += r;
                n -= r;
        }
        return true;
}

/* json_string(s) must give "..." with no raw control character, only
 * JSON escapes, and unescape to valid UTF-8: s itself when s is valid
 * UTF-8 (invalid bytes become U+FFFD). */
static void check_json(const char *s) {
        char *out = NULL, *back;
        size_t n = 0, k = 0;
        FILE *f = open_memstream(&out, &n);

        FUZZ_CHECK(f != NULL);
        json_string(f, fuzz_str(s));
        FUZZ_CHECK(fclose(f) == 0);
        FUZZ_CHECK(n >= 2 && out[0] == '"' && out[n - 1] == '"');
        back = malloc(3 * n + 1);
        FUZZ_CHECK(back != NULL);
        for (size_t i = 1; i < n - 1; i++) {
                unsigned char c = (unsigned char) out[i];
                FUZZ_CHECK(c >= 0x20 && c != '"');
                if (c != '\\') {
                        back[k++] = (char) c;
                        continue;
                }
                FUZZ_CHECK(i + 1 < n - 1);
                c = (unsigned char) out[++i];
                switch (c) {
                case '"': case '\\': case '/': back[k++] = (char) c; break;
                case 'b': back[k++] = '\b'; break;
                case 'f': back[k++] = '\f'; break;
                case 'n': back[k++] = '\n'; break;
                case 'r': back[k++] = '\r'; break;
                case 't': back[k++] = '\t'; break;
                case 'u': {
                        int v = 0;
                        FUZZ_CHECK(i + 4 < n - 1);
                        for (int j = 1; j <= 4; j++) {
                                int h = hexval(out[i + j]);
                                FUZZ_CHECK(h >= 0);
                                v = v * 16 + h;
                        }
                        /* Control characters, DEL, and U+FFFD for bytes
                         * that are not UTF-8. */
                        FUZZ_CHECK((v > 0 && v < 0x20) || v == 0x7f || v == 0xfffd);
                        if (v == 0xfffd) {
                                memcpy(back + k, "\xef\xbf\xbd", 3);
                                k += 3;
                        } else {
                                back[k++] = (char) v;
                        }
                        i += 4;
                        break;
                }
                default:
                        FUZZ_CHECK(!"invalid JSON escape");
                }
        }
        back[k] = '\0';
        FUZZ_CHECK(valid_utf8(back));
        if (valid_utf8(s))
                FUZZ_CHECK(strcmp(back, s) == 0);
        free(back);
        free(out);
}

static void check_ago(long long t) {
        char buf[32];
        const char *s = ctl_ago(t, buf, sizeof buf);
        FUZZ_CHECK(s == buf && strlen(buf) < sizeof buf);
}

static void walk_packages(size_t n, Hitless__PackageVersion *const *p) {
        for (size_t i = 0; i < n; i++) {
                check_json(p[i]->name);
                check_json(p[i]->version);
        }
}

static void walk_health(const Hitless__HealthReport *h) {
        if (!h)
                return;
        fuzz_str(health_state_label(h->state));
        for (size_t i = 0; i < h->n_checks; i++) {
                check_json(h->checks[i]->name);
                check_json(h->checks[i]->kind);
                check_json(h->checks[i]->detail);
        }
        walk_packages(h->n_packages, h->packages);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Hitless__AdminResponse *m = NULL;
        int r = codec_decode_admin_response(data, size, SIZE_MAX, &m);

        if (r < 0) {
                FUZZ_CHECK(m == NULL);
                FUZZ_CHECK(r == -EBADMSG || r == -EPROTO || r == -ENODATA || r == -ERANGE || r == -EILSEQ);
                return 0;
        }
        FUZZ_CHECK(r == 0 && m != NULL);
        FUZZ_CHECK(m->protocol_version == HITLESS_PROTOCOL_VERSION);
        check_json(m->error);
        fuzz_sink += (uint64_t) m->status;
        switch (m->body_case) {
        case HITLESS__ADMIN_RESPONSE__BODY_NODES:
                FUZZ_CHECK(m->nodes != NULL);
                for (size_t i = 0; i < m->nodes->n_nodes; i++) {
                        const Hitless__NodeInfo *n = m->nodes->nodes[i];
                        check_json(n->node_id);
                        check_json(n->hostname);
                        for (size_t j = 0; j < n->n_roles; j++)
                                check_json(n->roles[j]);
                        check_json(n->address);
                        check_json(n->agent_version);
                        walk_packages(n->n_packages, n->packages);
                        walk_health(n->health);
                        check_ago(n->last_seen);
                        check_json(n->state);
                        check_json(n->boot_id);
                }
                break;
        case HITLESS__ADMIN_RESPONSE__BODY_KEYS:
                FUZZ_CHECK(m->keys != NULL);
                for (size_t i = 0; i < m->keys->n_keys; i++) {
                        const Hitless__KeyInfo *k = m->keys->keys[i];
                        check_json(k->public_key);
                        check_json(k->node_id);
                        check_json(k->state);
                        check_json(k->address);
                        check_ago(k->first_seen);
                        check_ago(k->last_seen);
                        fuzz_sink += k->attempts;
                }
                fuzz_sink += m->keys->pending_dropped;
                break;
        case HITLESS__ADMIN_RESPONSE__BODY_KEY_ACTION:
                FUZZ_CHECK(m->key_action != NULL);
                for (size_t i = 0; i < m->key_action->n_node_ids; i++)
                        check_json(m->key_action->node_ids[i]);
                break;
        case HITLESS__ADMIN_RESPONSE__BODY_EVENTS:
                FUZZ_CHECK(m->events != NULL);
                for (size_t i = 0; i < m->events->n_events; i++) {
                        const Hitless__Event *e = m->events->events[i];
                        fuzz_sink += (uint64_t) e->id;
                        check_ago(e->time);
                        check_json(e->node_id);
                        check_json(e->kind);
                        check_json(e->message);
                        check_json(e->actor);
                }
                break;
        case HITLESS__ADMIN_RESPONSE__BODY_COORDINATOR_STATUS: {
                const Hitless__CoordinatorStatus *s = m->coordinator_status;
                FUZZ_CHECK(s != NULL);
                check_json(s->version);
                check_json(s->agents_endpoint);
                check_ago(s->started);
                for (size_t i = 0; i < s->n_dropped; i++)
                        check_json(s->dropped[i]->name);
                for (size_t i = 0; i < s->n_handshakes; i++)
                        check_json(s->handshakes[i]->name);
                break;
        }
        case HITLESS__ADMIN_RESPONSE__BODY__NOT_SET:
                /* Only a failure may come without a body (codec.c). */
                FUZZ_CHECK(m->status != HITLESS__ADMIN_STATUS__ADMIN_OK);
                break;
        default:
                /* A body added since: walked generically below. */
                break;
        }
        fuzz_walk(&m->base);
        fuzz_reencode(&m->base, decode, SIZE_MAX);
        hitless__admin_response__free_unpacked(m, NULL);
        return 0;
}
