/* Helpers shared by the protobuf fuzz targets (header only: the Makefile
 * builds every tests/fuzz/fuzz_*.c as its own target).
 *
 * fuzz_walk() reads every field of a decoded message through its
 * descriptor, recursively: every byte of every string and bytes field,
 * every element of every repeated field, every set sub-message. A decoder
 * that left a dangling, unterminated or NULL pointer shows up here under
 * ASan instead of later in the daemon.
 *
 * fuzz_reencode() checks that what the codec accepted survives a trip
 * through codec_encode: pack(decode(pack(m))) == pack(m). */
#pragma once
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "tests/fuzz/fuzz_common.h"

static inline void fuzz_walk(const ProtobufCMessage *m);

static inline void fuzz_walk_value(const ProtobufCFieldDescriptor *f, const void *v) {
        switch (f->type) {
        case PROTOBUF_C_TYPE_STRING:
                fuzz_str(*(char *const *) v);
                break;
        case PROTOBUF_C_TYPE_BYTES: {
                const ProtobufCBinaryData *b = v;
                FUZZ_CHECK(b->len == 0 || b->data != NULL);
                fuzz_touch(b->data, b->len);
                break;
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
                const ProtobufCMessage *sub = *(ProtobufCMessage *const *) v;
                if (sub)
                        fuzz_walk(sub);
                break;
        }
        case PROTOBUF_C_TYPE_ENUM: {
                const ProtobufCEnumDescriptor *ed = f->descriptor;
                int e = *(const int *) v;
                /* Open enums: unknown values are kept, not rejected. */
                const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, e);
                fuzz_sink += ev ? (uint64_t) ev->value : (uint64_t) e;
                break;
        }
        case PROTOBUF_C_TYPE_BOOL:
                fuzz_sink += *(const protobuf_c_boolean *) v;
                break;
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
        case PROTOBUF_C_TYPE_FLOAT:
                fuzz_touch(v, 4);
                break;
        default:
                fuzz_touch(v, 8);
                break;
        }
}

static inline void fuzz_walk(const ProtobufCMessage *m) {
        const ProtobufCMessageDescriptor *d = m->descriptor;
        const char *base = (const char *) m;

        FUZZ_CHECK(d != NULL && d->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
        for (unsigned i = 0; i < d->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &d->fields[i];
                const void *v = base + f->offset;

                if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                        size_t n = *(const size_t *) (base + f->quantifier_offset);
                        const char *arr = *(const char *const *) v;
                        FUZZ_CHECK(n == 0 || arr != NULL);
                        for (size_t j = 0; j < n; j++) {
                                const void *elem = arr + j * codec_value_size(f);
                                if (f->type == PROTOBUF_C_TYPE_MESSAGE)
                                        FUZZ_CHECK(*(ProtobufCMessage *const *) elem != NULL);
                                fuzz_walk_value(f, elem);
                        }
                } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
                        uint32_t which = *(const uint32_t *) (base + f->quantifier_offset);
                        if (which == f->id) {
                                if (f->type == PROTOBUF_C_TYPE_MESSAGE)
                                        FUZZ_CHECK(*(ProtobufCMessage *const *) v != NULL);
                                fuzz_walk_value(f, v);
                        }
                } else {
                        fuzz_walk_value(f, v);
                }
        }
        /* Unknown fields are kept by protobuf-c and packed again. */
        for (unsigned i = 0; i < m->n_unknown_fields; i++)
                fuzz_touch(m->unknown_fields[i].data, m->unknown_fields[i].len);
}

/* Encodes m, decodes the result with decode (which must accept it: it was
 * accepted once), encodes again and compares the bytes. */
static inline void fuzz_reencode(const ProtobufCMessage *m,
                          int (*decode)(const uint8_t *, size_t, ProtobufCMessage **),
                          size_t max_len) {
        uint8_t *a = NULL, *b = NULL;
        size_t an = 0, bn = 0;
        ProtobufCMessage *again = NULL;

        FUZZ_CHECK(protobuf_c_message_check(m));
        FUZZ_CHECK(codec_encode(m, &a, &an) == 0);
        FUZZ_CHECK(an == protobuf_c_message_get_packed_size(m));
        if (an <= max_len) {
                FUZZ_CHECK(decode(a, an, &again) == 0);
                fuzz_walk(again);
                FUZZ_CHECK(codec_encode(again, &b, &bn) == 0);
                FUZZ_CHECK(an == bn && memcmp(a, b, an) == 0);
                protobuf_c_message_free_unpacked(again, NULL);
                free(b);
        }
        free(a);
}
