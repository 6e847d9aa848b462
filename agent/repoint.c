#include "agent/repoint.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/atomic_file.h"
#include "common/endpoint.h"
#include "common/ini.h"

/* Service configs are a few KiB; anything far larger is not one. */
#define REPOINT_FILE_MAX (16u * 1024 * 1024)

/* One file to rewrite: its bytes before and after the edits. */
typedef struct {
        const char *path;      /* borrowed from the policy */
        char *original;
        size_t original_len;
        char *updated;
        size_t updated_len;
        bool changed;
        bool written;
} s_file_t;

static int s_fail(char *error, size_t error_len, int r, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int s_fail(char *error, size_t error_len, int r, const char *fmt, ...) {
        if (error && error_len > 0) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(error, error_len, fmt, ap);
                va_end(ap);
        }
        return r;
}

/* A kind comes from the network: show it without control bytes. */
static const char *s_printable(const char *s, char *buf, size_t len) {
        size_t i = 0;
        for (; s[i] && i + 1 < len; i++)
                buf[i] = (unsigned char) s[i] >= 0x20 && (unsigned char) s[i] < 0x7f ? s[i] : '?';
        buf[i] = '\0';
        return buf;
}

/* Parses each element on its own (not by joining them into one list
 * string) so that "a:1,b:2" or "" inside one element is an error, not two
 * endpoints or none. */
static int s_parse_list(const repoint_list_t *l, endpoint_list_t *ret, char *error,
                        size_t error_len) {
        char why[160];
        endpoint_list_t out = { 0 };
        int r;

        if (l->n == 0 || !l->endpoints)
                return s_fail(error, error_len, -EINVAL, "%s: empty endpoint list", l->kind);
        out.items = calloc(l->n, sizeof *out.items);
        if (!out.items)
                return s_fail(error, error_len, -ENOMEM, "%s: out of memory", l->kind);
        for (size_t i = 0; i < l->n; i++) {
                endpoint_t e;
                r = endpoint_parse(l->endpoints[i], 0, &e, why, sizeof why);
                if (r < 0) {
                        endpoint_list_free(&out);
                        return s_fail(error, error_len, r, "%s: element %zu %s", l->kind, i + 1, why);
                }
                for (size_t j = 0; j < out.n; j++)
                        if (endpoint_equal(&out.items[j], &e)) {
                                endpoint_list_free(&out);
                                return s_fail(error, error_len, -EINVAL,
                                              "%s: element %zu '%s': duplicate of element %zu",
                                              l->kind, i + 1, l->endpoints[i], j + 1);
                        }
                out.items[out.n++] = e;
        }
        *ret = out;
        return 0;
}

/* The index in lists of the list for this map's kind, or -1 if none. */
static ssize_t s_list_for_map(const endpoint_map_t *m, const repoint_list_t *lists, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (m->kind && strcmp(m->kind, lists[i].kind) == 0)
                        return (ssize_t) i;
        return -1;
}

static int s_validate(const agent_config_t *policy, const repoint_list_t *lists, size_t n,
                      endpoint_list_t *parsed, char *error, size_t error_len) {
        char shown[80];
        int r;

        for (size_t i = 0; i < n; i++) {
                if (!lists[i].kind || !agent_policy_allows_endpoint_kind(policy, lists[i].kind))
                        return s_fail(error, error_len, -EPERM,
                                      "endpoint kind '%s' is not in the policy",
                                      lists[i].kind ? s_printable(lists[i].kind, shown, sizeof shown)
                                                    : "(none)");
                for (size_t j = 0; j < i; j++)
                        if (strcmp(lists[j].kind, lists[i].kind) == 0)
                                return s_fail(error, error_len, -EINVAL,
                                              "%s: endpoint kind given twice", lists[i].kind);
        }
        for (size_t i = 0; i < n; i++) {
                r = s_parse_list(&lists[i], &parsed[i], error, error_len);
                if (r < 0)
                        return r;
        }
        /* Two maps in use writing one key would leave whichever ran last:
         * a policy mistake, refused rather than resolved by order. Keys
         * compare case-insensitively, as ini does. */
        for (size_t i = 0; i < policy->n_endpoints; i++) {
                const endpoint_map_t *a = &policy->endpoints[i];
                if (s_list_for_map(a, lists, n) < 0)
                        continue;
                for (size_t j = 0; j < i; j++) {
                        const endpoint_map_t *b = &policy->endpoints[j];
                        if (s_list_for_map(b, lists, n) >= 0 && strcmp(a->file, b->file) == 0 &&
                            strcmp(a->section, b->section) == 0 && strcasecmp(a->key, b->key) == 0)
                                return s_fail(error, error_len, -EINVAL,
                                              "the policy maps both %s and %s to [%s] %s in %s",
                                              b->kind, a->kind, a->section, a->key, a->file);
                }
        }
        return 0;
}

/* Reads f->path and computes its new text from every map into it. */
static int s_prepare_file(s_file_t *f, const agent_config_t *policy, const repoint_list_t *lists,
                          size_t n, const endpoint_list_t *parsed, char *error, size_t error_len) {
        ini_doc_t *doc = NULL;
        struct stat st;
        int r;

        /* A link or device is refused now, before any file is written,
         * rather than by atomic_file_replace_keep_meta halfway through. */
        if (lstat(f->path, &st) < 0)
                return s_fail(error, error_len, -errno, "%s: %s", f->path, strerror(errno));
        if (S_ISLNK(st.st_mode))
                return s_fail(error, error_len, -ELOOP, "%s: is a symlink, refusing to replace it",
                              f->path);
        if (!S_ISREG(st.st_mode))
                return s_fail(error, error_len, -EINVAL, "%s: not a regular file", f->path);
        r = file_read_all(f->path, REPOINT_FILE_MAX, &f->original, &f->original_len);
        if (r < 0)
                return s_fail(error, error_len, r, "%s: %s", f->path, strerror(-r));
        r = ini_parse(f->original, f->original_len, &doc);
        if (r < 0)
                return s_fail(error, error_len, r, "%s: cannot parse: %s", f->path, strerror(-r));

        for (size_t i = 0; i < policy->n_endpoints; i++) {
                const endpoint_map_t *m = &policy->endpoints[i];
                ssize_t l = s_list_for_map(m, lists, n);
                char *value = NULL;
                if (l < 0 || strcmp(m->file, f->path) != 0)
                        continue;
                endpoint_format_t format = m->separator == ',' ? ENDPOINT_FORMAT_COMMA
                                                               : ENDPOINT_FORMAT_SPACE;
                if (!m->with_port)
                        format |= ENDPOINT_FORMAT_NO_PORT;
                r = endpoint_list_format(&parsed[l], format, &value);
                if (r >= 0)
                        r = ini_set(doc, m->section, m->key, value);
                free(value);
                if (r < 0) {
                        ini_doc_free(&doc);
                        return s_fail(error, error_len, r, "%s: cannot set [%s] %s in %s: %s",
                                      m->kind, m->section, m->key, f->path, strerror(-r));
                }
        }
        r = ini_serialize(doc, &f->updated, &f->updated_len);
        ini_doc_free(&doc);
        if (r < 0)
                return s_fail(error, error_len, r, "%s: %s", f->path, strerror(-r));
        /* ini_set's own "changed" is not enough: setting a value and then
         * setting it back would count; the bytes are what matter. */
        f->changed = f->updated_len != f->original_len ||
                     memcmp(f->updated, f->original, f->original_len) != 0;
        return 0;
}

/* Puts back the files already written; appends any failure to error. */
static void s_restore(s_file_t *files, size_t n, char *error, size_t error_len) {
        for (size_t i = 0; i < n; i++) {
                if (!files[i].written)
                        continue;
                int r = atomic_file_replace_keep_meta(files[i].path, files[i].original,
                                                      files[i].original_len);
                if (r < 0 && error && error_len > 0) {
                        size_t used = strlen(error);
                        snprintf(error + used, error_len - used, "; restoring %s failed: %s",
                                 files[i].path, strerror(-r));
                }
        }
}

int repoint_apply(const agent_config_t *policy, const repoint_list_t *lists, size_t n,
                  char *error, size_t error_len) {
        endpoint_list_t *parsed = NULL;
        s_file_t *files = NULL;
        size_t n_files = 0, changed = 0;
        int r;

        if (error && error_len > 0)
                error[0] = '\0';
        if (n == 0)
                return 0;
        parsed = calloc(n, sizeof *parsed);
        files = calloc(policy->n_endpoints ? policy->n_endpoints : 1, sizeof *files);
        if (!parsed || !files) {
                r = s_fail(error, error_len, -ENOMEM, "out of memory");
                goto out;
        }
        r = s_validate(policy, lists, n, parsed, error, error_len);
        if (r < 0)
                goto out;

        /* Every file is read and edited in memory before the first is
         * written, so a missing file or an unwritable key changes nothing. */
        for (size_t i = 0; i < policy->n_endpoints; i++) {
                const endpoint_map_t *m = &policy->endpoints[i];
                bool seen = false;
                if (s_list_for_map(m, lists, n) < 0)
                        continue;
                for (size_t j = 0; j < n_files && !seen; j++)
                        seen = strcmp(files[j].path, m->file) == 0;
                if (!seen)
                        files[n_files++].path = m->file;
        }
        for (size_t i = 0; i < n_files; i++) {
                r = s_prepare_file(&files[i], policy, lists, n, parsed, error, error_len);
                if (r < 0)
                        goto out;
        }

        for (size_t i = 0; i < n_files; i++) {
                if (!files[i].changed)
                        continue;
                r = atomic_file_replace_keep_meta(files[i].path, files[i].updated,
                                                  files[i].updated_len);
                if (r < 0) {
                        s_fail(error, error_len, r, "%s: cannot write: %s", files[i].path, strerror(-r));
                        s_restore(files, i, error, error_len);
                        goto out;
                }
                files[i].written = true;
                changed++;
        }
        r = (int) changed;

out:
        for (size_t i = 0; parsed && i < n; i++)
                endpoint_list_free(&parsed[i]);
        free(parsed);
        for (size_t i = 0; files && i < n_files; i++) {
                free(files[i].original);
                free(files[i].updated);
        }
        free(files);
        return r;
}

size_t repoint_policy_files(const agent_config_t *policy, const char **ret_files, size_t max) {
        size_t n = 0;
        for (size_t i = 0; i < policy->n_endpoints; i++) {
                const char *file = policy->endpoints[i].file;
                bool seen = false;
                if (!file)
                        continue;
                for (size_t j = 0; j < n && !seen; j++)
                        seen = strcmp(ret_files[j], file) == 0;
                if (seen)
                        continue;
                if (n == max)
                        break;
                ret_files[n++] = file;
        }
        return n;
}
