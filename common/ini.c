#include "common/ini.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum {
        LINE_BLANK,
        LINE_COMMENT,
        LINE_SECTION,
        LINE_KEY,
        LINE_CONT,
        LINE_OTHER,
} line_kind_t;

typedef struct {
        char *text;        /* without the end of line (owned) */
        size_t len;
        const char *eol;   /* "\n", "\r\n" or "" (static strings) */
        line_kind_t kind;
        size_t name_off, name_len; /* SECTION: trimmed name; KEY: trimmed key */
        size_t eq_off;             /* KEY */
        size_t val_off, val_len;   /* KEY: value; CONT: trimmed text */
} ini_line_t;

struct ini_doc {
        ini_line_t *lines;
        size_t n, cap;
        const char *eol;   /* for new lines: the first line ending seen */
};

static bool s_isblank(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static void s_trim(const char *t, size_t *off, size_t *len) {
        while (*len > 0 && s_isblank(t[*off]))
                (*off)++, (*len)--;
        while (*len > 0 && s_isblank(t[*off + *len - 1]))
                (*len)--;
}

/* Where an inline comment starts: '#' or ';' after a blank, searching from
 * `from`; len if none. */
static size_t s_inline_comment(const char *t, size_t from, size_t len) {
        for (size_t p = from; p < len; p++)
                if ((t[p] == '#' || t[p] == ';') && p > 0 && s_isblank(t[p - 1]))
                        return p;
        return len;
}

static void s_classify_line(ini_line_t *l, bool *in_value) {
        const char *t = l->text;
        size_t i = 0;

        l->name_off = l->name_len = l->eq_off = l->val_off = l->val_len = 0;
        while (i < l->len && s_isblank(t[i]))
                i++;
        /* Blank and comment lines neither end nor extend a value. */
        if (i == l->len) {
                l->kind = LINE_BLANK;
                return;
        }
        if (t[i] == '#' || t[i] == ';') {
                l->kind = LINE_COMMENT;
                return;
        }

        bool was_in_value = *in_value;
        const char *eq = memchr(t + i, '=', l->len - i);
        *in_value = false;
        l->kind = LINE_OTHER;

        if (t[i] == '[') {
                const char *close = memchr(t + i, ']', l->len - i);
                if (!close)
                        return;
                size_t after = (size_t) (close - t) + 1;
                while (after < l->len && s_isblank(t[after]))
                        after++;
                if (after < l->len && t[after] != '#' && t[after] != ';')
                        return;
                l->kind = LINE_SECTION;
                l->name_off = i + 1;
                l->name_len = (size_t) (close - t) - (i + 1);
                s_trim(t, &l->name_off, &l->name_len);
                return;
        }

        if (!eq) {
                if (i > 0 && was_in_value) {
                        l->kind = LINE_CONT;
                        l->val_off = i;
                        l->val_len = l->len - i;
                        s_trim(t, &l->val_off, &l->val_len);
                        *in_value = true;
                }
                return;
        }

        l->name_off = i;
        l->name_len = (size_t) (eq - t) - i;
        s_trim(t, &l->name_off, &l->name_len);
        if (l->name_len == 0)
                return;
        l->kind = LINE_KEY;
        l->eq_off = (size_t) (eq - t);
        /* Trimming leaves val_off after the blanks that follow '=', so an
         * empty value sits where a new one should go. */
        l->val_off = l->eq_off + 1;
        l->val_len = s_inline_comment(t, l->val_off, l->len) - l->val_off;
        s_trim(t, &l->val_off, &l->val_len);
        *in_value = true;
}

/* Line kinds depend on the lines before (continuations), so they are
 * recomputed for the whole document after every edit. */
static void s_classify(ini_doc_t *doc) {
        bool in_value = false;
        for (size_t i = 0; i < doc->n; i++)
                s_classify_line(&doc->lines[i], &in_value);
}

static int s_reserve(ini_doc_t *doc, size_t extra) {
        if (doc->n + extra <= doc->cap)
                return 0;
        size_t cap = doc->cap ? doc->cap : 16;
        while (cap < doc->n + extra)
                cap *= 2;
        ini_line_t *lines = reallocarray(doc->lines, cap, sizeof *lines);
        if (!lines)
                return -ENOMEM;
        doc->lines = lines;
        doc->cap = cap;
        return 0;
}

/* Inserts a line taking ownership of text (freed on failure). */
static int s_insert(ini_doc_t *doc, size_t at, char *text, const char *eol) {
        if (s_reserve(doc, 1) < 0) {
                free(text);
                return -ENOMEM;
        }
        memmove(&doc->lines[at + 1], &doc->lines[at], (doc->n - at) * sizeof doc->lines[0]);
        doc->lines[at] = (ini_line_t) { .text = text, .len = strlen(text), .eol = eol };
        doc->n++;
        return 0;
}

static void s_remove(ini_doc_t *doc, size_t at) {
        free(doc->lines[at].text);
        memmove(&doc->lines[at], &doc->lines[at + 1], (doc->n - at - 1) * sizeof doc->lines[0]);
        doc->n--;
}

int ini_parse(const char *text, size_t len, ini_doc_t **ret) {
        if (len > 0 && memchr(text, '\0', len))
                return -EINVAL;

        ini_doc_t *doc = calloc(1, sizeof *doc);
        if (!doc)
                return -ENOMEM;
        doc->eol = NULL;

        size_t pos = 0;
        while (pos < len) {
                const char *nl = memchr(text + pos, '\n', len - pos);
                size_t end = nl ? (size_t) (nl - text) : len;
                const char *eol = "";
                size_t tlen = end - pos;
                if (nl) {
                        eol = "\n";
                        if (tlen > 0 && text[end - 1] == '\r')
                                eol = "\r\n", tlen--;
                        if (!doc->eol)
                                doc->eol = eol;
                }
                char *t = strndup(text + pos, tlen);
                if (!t || s_insert(doc, doc->n, t, eol) < 0) {
                        ini_doc_free(&doc);
                        return -ENOMEM;
                }
                pos = nl ? end + 1 : len;
        }
        if (!doc->eol)
                doc->eol = "\n";
        s_classify(doc);
        *ret = doc;
        return 0;
}

void ini_doc_free(ini_doc_t **doc_p) {
        if (!doc_p || !*doc_p)
                return;
        ini_doc_t *doc = *doc_p;
        for (size_t i = 0; i < doc->n; i++)
                free(doc->lines[i].text);
        free(doc->lines);
        free(doc);
        *doc_p = NULL;
}

/* ---- lookups ------------------------------------------------------------- */

#define NO_SECTION ((size_t) -1)

static bool s_section_is(const ini_doc_t *doc, size_t header, const char *section) {
        if (header == NO_SECTION)
                return section[0] == '\0';
        const ini_line_t *h = &doc->lines[header];
        return h->name_len == strlen(section) &&
               memcmp(h->text + h->name_off, section, h->name_len) == 0;
}

static bool s_key_is(const ini_line_t *l, const char *key) {
        return l->kind == LINE_KEY && l->name_len == strlen(key) &&
               strncasecmp(l->text + l->name_off, key, l->name_len) == 0;
}

int ini_get(const ini_doc_t *doc, const char *section, const char *key, char **ret) {
        size_t found = NO_SECTION, header = NO_SECTION;

        for (size_t i = 0; i < doc->n; i++) {
                if (doc->lines[i].kind == LINE_SECTION)
                        header = i;
                else if (s_section_is(doc, header, section) && s_key_is(&doc->lines[i], key))
                        found = i;
        }
        if (found == NO_SECTION)
                return -ENOENT;

        /* The value, then "\n" + each continuation line, with the blank
         * lines between them, as configparser joins them. */
        const ini_line_t *k = &doc->lines[found];
        size_t cap = k->val_len + 1;
        for (size_t j = found + 1; j < doc->n; j++) {
                line_kind_t kind = doc->lines[j].kind;
                if (kind != LINE_BLANK && kind != LINE_COMMENT && kind != LINE_CONT)
                        break;
                cap += doc->lines[j].len + 1;
        }

        char *out = malloc(cap), *p = out;
        if (!out)
                return -ENOMEM;
        p = mempcpy(p, k->text + k->val_off, k->val_len);
        size_t blanks = 0;
        for (size_t j = found + 1; j < doc->n; j++) {
                const ini_line_t *l = &doc->lines[j];
                if (l->kind == LINE_BLANK)
                        blanks++;
                else if (l->kind == LINE_CONT) {
                        for (; blanks > 0; blanks--)
                                *p++ = '\n';
                        *p++ = '\n';
                        p = mempcpy(p, l->text + l->val_off, l->val_len);
                } else if (l->kind != LINE_COMMENT)
                        break;
        }
        *p = '\0';
        *ret = out;
        return 0;
}

/* ---- edits --------------------------------------------------------------- */

static bool s_valid_name(const char *s, bool allow_empty, const char *forbidden) {
        size_t n = strlen(s);
        if (n == 0)
                return allow_empty;
        if (s_isblank(s[0]) || s_isblank(s[n - 1]) || strpbrk(s, forbidden))
                return false;
        return true;
}

/* A value is settable if it reads back exactly as given. */
static bool s_valid_value(const char *v) {
        size_t n = strlen(v);
        if (strpbrk(v, "\n\r"))
                return false;
        if (n > 0 && (s_isblank(v[0]) || s_isblank(v[n - 1]) || v[0] == '#' || v[0] == ';'))
                return false;
        return s_inline_comment(v, 0, n) == n;
}

/* Replaces the value of a key line: 1 if it changed, 0 if equal, -ENOMEM. */
static int s_replace_value(ini_line_t *l, const char *value) {
        size_t vn = strlen(value);
        if (l->val_len == vn && memcmp(l->text + l->val_off, value, vn) == 0)
                return 0;

        const char *t = l->text;
        size_t suffix = l->val_off + l->val_len;
        /* "key =" and "key = # note" once had an empty value: keep the
         * blanks the style implies, so "key = new # note" reads back. */
        bool pad_before = vn > 0 && l->val_off == l->eq_off + 1 && l->eq_off > 0 &&
                          s_isblank(t[l->eq_off - 1]);
        bool pad_after = vn > 0 && suffix < l->len && (t[suffix] == '#' || t[suffix] == ';');

        size_t n = l->val_off + pad_before + vn + pad_after + (l->len - suffix);
        char *s = malloc(n + 1), *p = s;
        if (!s)
                return -ENOMEM;
        p = mempcpy(p, t, l->val_off);
        if (pad_before)
                *p++ = ' ';
        p = mempcpy(p, value, vn);
        if (pad_after)
                *p++ = ' ';
        p = mempcpy(p, t + suffix, l->len - suffix);
        *p = '\0';
        free(l->text);
        l->text = s;
        l->len = n;
        return 1;
}

/* "key = value" in the style of the template key line (or " = "). */
static char *s_new_key_line(const ini_line_t *tpl, bool same_section, const char *key,
                            const char *value) {
        const char *indent = "", *before = " ", *after = " ";
        size_t indent_n = 0, before_n = 1, after_n = 1;

        if (tpl) {
                if (same_section)
                        indent = tpl->text, indent_n = tpl->name_off;
                before = tpl->text + tpl->name_off + tpl->name_len;
                before_n = tpl->eq_off - (tpl->name_off + tpl->name_len);
                after = tpl->text + tpl->eq_off + 1;
                after_n = tpl->val_off - (tpl->eq_off + 1);
                /* An empty template value hides the style after '='. */
                if (tpl->val_len == 0)
                        after = before, after_n = before_n;
        }

        size_t kn = strlen(key), vn = strlen(value);
        char *s = malloc(indent_n + kn + before_n + 1 + after_n + vn + 1), *p = s;
        if (!s)
                return NULL;
        p = mempcpy(p, indent, indent_n);
        p = mempcpy(p, key, kn);
        p = mempcpy(p, before, before_n);
        *p++ = '=';
        p = mempcpy(p, after, vn > 0 ? after_n : 0);
        p = mempcpy(p, value, vn);
        *p = '\0';
        return s;
}

/* Inserts a new last-or-not line; keeps "no newline at end of file" true
 * if it was. */
static int s_insert_keeping_final_eol(ini_doc_t *doc, size_t at, char *text) {
        if (at == doc->n && doc->n > 0 && doc->lines[doc->n - 1].eol[0] == '\0') {
                doc->lines[doc->n - 1].eol = doc->eol;
                return s_insert(doc, at, text, "");
        }
        return s_insert(doc, at, text, doc->eol);
}

/* Whether l, now not a continuation, would be one after a key line. */
static bool s_would_continue(const ini_line_t *l) {
        ini_line_t copy = *l;
        bool in_value = true;
        if (l->kind != LINE_OTHER)
                return false;
        s_classify_line(&copy, &in_value);
        return copy.kind == LINE_CONT;
}

static int s_add_key(ini_doc_t *doc, const char *section, const char *key, const char *value) {
        size_t at = NO_SECTION;
        const ini_line_t *tpl = NULL;
        bool same_section = true;

        /* The first occurrence of the section ("" is the preamble, always
         * there), and its last key or continuation line. */
        if (section[0] == '\0')
                at = 0;
        else
                for (size_t i = 0; i < doc->n && at == NO_SECTION; i++)
                        if (doc->lines[i].kind == LINE_SECTION && s_section_is(doc, i, section))
                                at = i + 1;

        if (at != NO_SECTION) {
                for (size_t i = at; i < doc->n && doc->lines[i].kind != LINE_SECTION; i++) {
                        if (doc->lines[i].kind == LINE_KEY)
                                tpl = &doc->lines[i];
                        if (doc->lines[i].kind == LINE_KEY || doc->lines[i].kind == LINE_CONT)
                                at = i + 1;
                }
                /* An indented line that no key precedes is ignored, but
                 * after the new key it would continue its value: go past
                 * such lines (and the blanks and comments among them). */
                for (size_t i = at; i < doc->n; i++) {
                        if (s_would_continue(&doc->lines[i]))
                                at = i + 1;
                        else if (doc->lines[i].kind != LINE_BLANK &&
                                 doc->lines[i].kind != LINE_COMMENT)
                                break;
                }
        }
        if (!tpl) {
                same_section = false;
                for (size_t i = 0; i < doc->n && !tpl; i++)
                        if (doc->lines[i].kind == LINE_KEY)
                                tpl = &doc->lines[i];
        }

        char *line = s_new_key_line(tpl, same_section, key, value);
        if (!line)
                return -ENOMEM;
        if (at != NO_SECTION)
                return s_insert_keeping_final_eol(doc, at, line);

        /* A new section at the end, after a blank line. */
        size_t hn = strlen(section);
        char *head = malloc(hn + 3), *blank = strdup("");
        if (!head || !blank || s_reserve(doc, 3) < 0) {
                free(line);
                free(head);
                free(blank);
                return -ENOMEM;
        }
        head[0] = '[';
        memcpy(head + 1, section, hn);
        memcpy(head + 1 + hn, "]", 2);
        /* Cannot fail now: room is reserved. */
        if (doc->n > 0 && doc->lines[doc->n - 1].kind != LINE_BLANK)
                (void) s_insert_keeping_final_eol(doc, doc->n, blank);
        else
                free(blank);
        (void) s_insert_keeping_final_eol(doc, doc->n, head);
        return s_insert_keeping_final_eol(doc, doc->n, line);
}

int ini_set(ini_doc_t *doc, const char *section, const char *key, const char *value) {
        size_t header = NO_SECTION;
        int changed = 0, r;
        bool found = false;

        if (!section || !key || !value || !s_valid_name(section, true, "[]\n\r") ||
            !s_valid_name(key, false, "=\n\r") || key[0] == '[' || key[0] == '#' ||
            key[0] == ';' || !s_valid_value(value))
                return -EINVAL;

        for (size_t i = 0; i < doc->n; i++) {
                if (doc->lines[i].kind == LINE_SECTION)
                        header = i;
                if (!s_section_is(doc, header, section) || !s_key_is(&doc->lines[i], key))
                        continue;
                found = true;
                r = s_replace_value(&doc->lines[i], value);
                if (r < 0)
                        return r;
                changed |= r;
                /* The old value's continuation lines go; blank and comment
                 * lines between them stay. */
                for (size_t j = i + 1; j < doc->n;) {
                        line_kind_t k = doc->lines[j].kind;
                        if (k == LINE_CONT) {
                                s_remove(doc, j);
                                changed = 1;
                        } else if (k == LINE_BLANK || k == LINE_COMMENT)
                                j++;
                        else
                                break;
                }
        }
        if (!found) {
                r = s_add_key(doc, section, key, value);
                if (r < 0)
                        return r;
                changed = 1;
        }
        s_classify(doc);
        return changed;
}

int ini_serialize(const ini_doc_t *doc, char **ret, size_t *ret_len) {
        size_t n = 0;
        for (size_t i = 0; i < doc->n; i++)
                n += doc->lines[i].len + strlen(doc->lines[i].eol);

        char *out = malloc(n + 1), *p = out;
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < doc->n; i++) {
                p = mempcpy(p, doc->lines[i].text, doc->lines[i].len);
                p = stpcpy(p, doc->lines[i].eol);
        }
        *p = '\0';
        *ret = out;
        *ret_len = n;
        return 0;
}
