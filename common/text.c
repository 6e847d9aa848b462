#include "common/text.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
        char *dst;
        size_t size;
        size_t len;       /* needed so far */
        size_t written;   /* in dst */
        bool full;        /* an escape did not fit: write nothing more */
} s_out_t;

static void s_put(s_out_t *o, const char *s, size_t n) {
        if (!o->full && o->len + n < o->size) {
                memcpy(o->dst + o->len, s, n);
                o->written = o->len + n;
        } else {
                o->full = true;
        }
        o->len += n;
}

static void s_put_hex(s_out_t *o, unsigned char c) {
        char esc[5];
        snprintf(esc, sizeof esc, "\\x%02x", c);
        s_put(o, esc, 4);
}

static bool s_cont(unsigned char c) {
        return (c & 0xc0) == 0x80;
}

/* The length of the valid UTF-8 sequence at p (1 to 4), or 0: shortest
 * form only, no surrogates, nothing above U+10FFFF. A NUL is never a
 * continuation byte, so this does not read past the string's end. */
static size_t s_utf8_len(const unsigned char *p) {
        if (p[0] < 0x80)
                return 1;
        if (p[0] >= 0xc2 && p[0] <= 0xdf)
                return s_cont(p[1]) ? 2 : 0;
        if (p[0] >= 0xe0 && p[0] <= 0xef) {
                unsigned char lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;
                return p[1] >= lo && p[1] <= hi && s_cont(p[2]) ? 3 : 0;
        }
        if (p[0] >= 0xf0 && p[0] <= 0xf4) {
                unsigned char lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;
                return p[1] >= lo && p[1] <= hi && s_cont(p[2]) && s_cont(p[3]) ? 4 : 0;
        }
        return 0;
}

/* One character of the input (n bytes at p, or an invalid byte, n = 0). */
static void s_put_char(s_out_t *o, const unsigned char *p, size_t n, unsigned flags) {
        static const char *const named[] = { ['\n'] = "\\n", ['\t'] = "\\t", ['\r'] = "\\r" };
        if (n == 1 && p[0] == '\n' && (flags & TEXT_KEEP_NEWLINES))
                s_put(o, "\n", 1);
        else if (n == 1 && p[0] < sizeof named / sizeof *named && named[p[0]])
                s_put(o, named[p[0]], 2);
        else if (n == 1 && (p[0] < 0x20 || p[0] == 0x7f))
                s_put_hex(o, p[0]);
        else if (n == 0 || (n == 2 && p[0] == 0xc2 && p[1] < 0xa0))
                for (size_t i = 0; i < (n ? n : 1); i++)
                        s_put_hex(o, p[i]);
        else
                s_put(o, (const char *) p, n);
}

size_t text_escape(char *dst, size_t size, const char *src, unsigned flags) {
        s_out_t o = { .dst = dst, .size = size };
        const unsigned char *p = (const unsigned char *) src;
        while (*p) {
                size_t n = s_utf8_len(p);
                s_put_char(&o, p, n, flags);
                p += n ? n : 1;
        }
        if (size)
                dst[o.written] = '\0';
        return o.len;
}

int text_escape_dup(const char *src, unsigned flags, char **ret) {
        size_t n = text_escape(NULL, 0, src, flags) + 1;
        char *s = malloc(n);
        if (!s)
                return -ENOMEM;
        text_escape(s, n, src, flags);
        *ret = s;
        return 0;
}
