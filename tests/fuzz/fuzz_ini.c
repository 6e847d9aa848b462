/* The INI editor on arbitrary text (service configs are operator input).
 *
 *  - ini_parse accepts any text without NUL, and ini_serialize gives it
 *    back byte for byte;
 *  - after ini_set(section, key, value) on a few fixed keys, ini_get
 *    returns exactly value, also after serializing and parsing again,
 *    and no other key's value changes;
 *  - setting the same value twice changes nothing the second time. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/ini.h"
#include "tests/fuzz/fuzz_common.h"

static char *serialize(const ini_doc_t *doc, size_t *len) {
        char *out = NULL;
        FUZZ_CHECK(ini_serialize(doc, &out, len) == 0);
        FUZZ_CHECK(out != NULL && out[*len] == '\0' && strlen(out) == *len);
        return out;
}

static void expect_value(const ini_doc_t *doc, const char *section, const char *key,
                         const char *value) {
        char *got = NULL;
        int r = ini_get(doc, section, key, &got);
        if (r != 0 || strcmp(got, value) != 0) {
                fprintf(stderr, "ini_get([%s] %s) = %d '%s', want '%s'\n", section, key, r,
                        r == 0 ? got : "", value);
                abort();
        }
        free(got);
}

/* Keys whose values an ini_set of another key must leave alone. */
static const char *const probe_sections[] = { "", "fuzz", "DEFAULT", "x" };
static const char *const probe_keys[] = { "a", "k", "other", "key" };
#define N_PROBES (sizeof probe_sections / sizeof *probe_sections * \
                  (sizeof probe_keys / sizeof *probe_keys))

static void probe(const ini_doc_t *doc, char *values[N_PROBES]) {
        size_t i = 0;
        for (size_t s = 0; s < sizeof probe_sections / sizeof *probe_sections; s++)
                for (size_t k = 0; k < sizeof probe_keys / sizeof *probe_keys; k++, i++) {
                        values[i] = NULL;
                        int r = ini_get(doc, probe_sections[s], probe_keys[k], &values[i]);
                        FUZZ_CHECK(r == 0 || (r == -ENOENT && values[i] == NULL));
                }
}

static void check_others_kept(const ini_doc_t *doc, char *before[N_PROBES], const char *section,
                              const char *key) {
        char *after[N_PROBES];
        size_t i = 0;
        probe(doc, after);
        for (size_t s = 0; s < sizeof probe_sections / sizeof *probe_sections; s++)
                for (size_t k = 0; k < sizeof probe_keys / sizeof *probe_keys; k++, i++) {
                        bool same_key = strcmp(probe_sections[s], section) == 0 &&
                                        strcasecmp(probe_keys[k], key) == 0;
                        if (!same_key && (!before[i] != !after[i] ||
                                          (before[i] && strcmp(before[i], after[i]) != 0))) {
                                fprintf(stderr, "setting [%s] %s changed [%s] %s: '%s' -> '%s'\n",
                                        section, key, probe_sections[s], probe_keys[k],
                                        before[i] ? before[i] : "(none)",
                                        after[i] ? after[i] : "(none)");
                                abort();
                        }
                        free(after[i]);
                }
}

/* Sets section/key = value on a fresh parse of text and checks it reads
 * back, and that no other key changed. */
static void check_set(const char *text, size_t len, const char *section, const char *key,
                      const char *value) {
        ini_doc_t *doc = NULL, *again = NULL;
        char *out, *out2;
        size_t n, n2;
        int r;

        char *before[N_PROBES];

        FUZZ_CHECK(ini_parse(text, len, &doc) == 0);
        probe(doc, before);
        r = ini_set(doc, section, key, value);
        FUZZ_CHECK(r == 0 || r == 1);
        expect_value(doc, section, key, value);
        check_others_kept(doc, before, section, key);
        for (size_t i = 0; i < N_PROBES; i++)
                free(before[i]);

        out = serialize(doc, &n);
        if (r == 0)
                FUZZ_CHECK(n == len && memcmp(out, text, len) == 0);

        /* What is written to the file is what is read back. */
        FUZZ_CHECK(ini_parse(out, n, &again) == 0);
        expect_value(again, section, key, value);
        out2 = serialize(again, &n2);
        FUZZ_CHECK(n2 == n && memcmp(out2, out, n) == 0);
        free(out2);

        /* Idempotent. */
        FUZZ_CHECK(ini_set(again, section, key, value) == 0);
        out2 = serialize(again, &n2);
        FUZZ_CHECK(n2 == n && memcmp(out2, out, n) == 0);
        free(out2);

        free(out);
        ini_doc_free(&again);
        ini_doc_free(&doc);
        FUZZ_CHECK(doc == NULL && again == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *text = (const char *) data;
        ini_doc_t *doc = NULL;
        char *out, *v = NULL;
        size_t n;
        int r = ini_parse(text, size, &doc);

        if (memchr(data, '\0', size)) {
                FUZZ_CHECK(r == -EINVAL && doc == NULL);
                return 0;
        }
        FUZZ_CHECK(r == 0 && doc != NULL);
        out = serialize(doc, &n);
        FUZZ_CHECK(n == size && memcmp(out, data, size) == 0);
        free(out);

        /* Reads must not disturb anything either. */
        if (ini_get(doc, "fuzz", "key", &v) == 0)
                fuzz_str(v);
        free(v);
        v = NULL;
        if (ini_get(doc, "", "key", &v) == 0)
                fuzz_str(v);
        free(v);

        /* Invalid arguments are refused without touching the document. */
        FUZZ_CHECK(ini_set(doc, "fuzz", "", "v") == -EINVAL);
        FUZZ_CHECK(ini_set(doc, "fuzz", "key", "a # b") == -EINVAL);
        FUZZ_CHECK(ini_set(doc, "fu]zz", "key", "v") == -EINVAL);
        FUZZ_CHECK(ini_set(doc, "fuzz", "key", " v") == -EINVAL);
        FUZZ_CHECK(ini_set(doc, "fuzz", "key", "v\nw") == -EINVAL);
        out = serialize(doc, &n);
        FUZZ_CHECK(n == size && memcmp(out, data, size) == 0);
        free(out);
        ini_doc_free(&doc);

        check_set(text, size, "fuzz", "key", "value");
        check_set(text, size, "", "key", "a=b [c]#d");
        check_set(text, size, "DEFAULT", "Key", "");
        return 0;
}
