/* Package version ordering. Input: up to three NUL-separated strings.
 * The comparisons must never crash on any strings; for versions that pass
 * version_valid_*() they must be a total order: reflexive, antisymmetric,
 * transitive, and a missing epoch must equal "0:". */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vercmp.h"
#include "tests/fuzz/fuzz_common.h"

static int sign(int v) {
        return (v > 0) - (v < 0);
}

typedef int (*cmp_t)(const char *, const char *);

static void fail(const char *what, const char *a, const char *b, const char *c) {
        fprintf(stderr, "%s: a='%s' b='%s' c='%s'\n", what, a, b, c ? c : "");
        abort();
}

static void check_order(cmp_t cmp, bool (*valid)(const char *), const char *a, const char *b,
                        const char *c) {
        /* Total: any two strings, valid or not. */
        int ab = sign(cmp(a, b)), ba = sign(cmp(b, a));
        fuzz_sink += (uint64_t) (ab + ba);

        bool va = valid(a), vb = valid(b), vc = c && valid(c);
        if (va && cmp(a, a) != 0)
                fail("not reflexive", a, a, NULL);
        if (va && vb && ab != -ba)
                fail("not antisymmetric", a, b, NULL);
        if (va && vb && vc) {
                int bc = sign(cmp(b, c)), ac = sign(cmp(a, c));
                if (ab <= 0 && bc <= 0 && ac != ((ab < 0 || bc < 0) ? -1 : 0))
                        fail("not transitive (<=)", a, b, c);
                if (ab >= 0 && bc >= 0 && ac != ((ab > 0 || bc > 0) ? 1 : 0))
                        fail("not transitive (>=)", a, b, c);
                if (ab == 0 && ac != bc)
                        fail("equal versions order differently", a, b, c);
        }
        /* "0:" + an epoch-less version is the same version. */
        if (va && !strchr(a, ':')) {
                char e[VERSION_MAX + 4];
                snprintf(e, sizeof e, "0:%s", a);
                if (valid(e) && (cmp(e, a) != 0 || cmp(a, e) != 0))
                        fail("'0:' epoch differs from none", e, a, NULL);
                if (vb && sign(cmp(e, b)) != ab)
                        fail("'0:' epoch orders differently", e, b, NULL);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* Split at NULs into a, b and an optional c. */
        char *buf = malloc(size + 3);
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        buf[size] = buf[size + 1] = buf[size + 2] = '\0';
        const char *a = buf;
        const char *b = a + strlen(a) + 1;
        const char *c = b <= buf + size ? b + strlen(b) + 1 : NULL;
        if (c && c > buf + size)
                c = NULL;

        check_order(vercmp_dpkg, version_valid_dpkg, a, b, c);
        check_order(vercmp_rpm, version_valid_rpm, a, b, c);
        free(buf);
        return 0;
}
