#include "common/json.h"

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if it is not one.
 * Overlong forms, surrogates and code points past U+10FFFF are invalid. */
static int utf8_sequence(const unsigned char *p) {
        int n;
        unsigned cp;
        if (*p < 0x80)
                return 1;
        if ((*p & 0xe0) == 0xc0)
                n = 2, cp = *p & 0x1f;
        else if ((*p & 0xf0) == 0xe0)
                n = 3, cp = *p & 0x0f;
        else if ((*p & 0xf8) == 0xf0)
                n = 4, cp = *p & 0x07;
        else
                return 0;
        for (int i = 1; i < n; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

/* Strings from the wire are not checked for UTF-8 by protobuf-c; invalid
 * bytes become U+FFFD so --json output is always valid JSON. */
void json_string(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) (s ? s : ""); *p;) {
                int n = utf8_sequence(p);
                if (n == 0) {
                        fputs("\\ufffd", f);
                        p++;
                        continue;
                }
                if (n > 1) {
                        fwrite(p, 1, (size_t) n, f);
                        p += n;
                        continue;
                }
                switch (*p) {
                case '"': fputs("\\\"", f); break;
                case '\\': fputs("\\\\", f); break;
                case '\n': fputs("\\n", f); break;
                case '\r': fputs("\\r", f); break;
                case '\t': fputs("\\t", f); break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                fprintf(f, "\\u%04x", *p);
                        else
                                fputc(*p, f);
                }
                p++;
        }
        fputc('"', f);
}

void json_key(FILE *f, const char *sep, const char *key) {
        fputs(sep, f);
        json_string(f, key);
        fputc(':', f);
}

void json_kv(FILE *f, const char *sep, const char *key, const char *value) {
        json_key(f, sep, key);
        json_string(f, value);
}

void json_bool(FILE *f, const char *sep, const char *key, bool value) {
        json_key(f, sep, key);
        fputs(value ? "true" : "false", f);
}

void json_int(FILE *f, const char *sep, const char *key, long long value) {
        json_key(f, sep, key);
        fprintf(f, "%lld", value);
}

void json_array(FILE *f, const char *sep, const char *key, void *const *items, size_t n,
                    void (*print_item)(FILE *f, const void *item)) {
        json_key(f, sep, key);
        fputc('[', f);
        for (size_t i = 0; i < n; i++) {
                if (i)
                        fputc(',', f);
                print_item(f, items[i]);
        }
        fputc(']', f);
}
