/* A line-preserving INI editor, for changing a few keys of a service's
 * config (contrail-vrouter-agent.conf, oslo-style files) while leaving
 * every other byte as the operator wrote it: comments, spacing, key
 * spelling, line endings, a missing final newline.
 *
 * Syntax understood (the common ground of Python configparser, oslo.config
 * and boost::program_options, which read these files):
 *   [SECTION]              section header; the name is trimmed and matched
 *                          case-sensitively
 *   key = value            '=' only ("key: value" is not a key line); keys
 *                          match ASCII case-insensitively, as configparser
 *                          does, and keep their spelling when set
 *   # comment, ; comment   whole-line comments, also indented
 *   key = value  # note    an inline comment starts at '#' or ';' preceded
 *                          by whitespace; it is not part of the value and
 *                          survives ini_set
 *   key = first            continuation: an indented line without '=' after
 *     second               a key (blank and comment lines may come between)
 *                          continues its value, as in configparser; the
 *                          value reads "first\nsecond". An indented line
 *                          *with* '=' is a key of its own (boost reads it
 *                          so, and that is what such a line usually means)
 * Keys before the first header belong to the section "". Anything else is
 * kept verbatim and ignored.
 *
 * Duplicates. configparser (strict=False) and oslo.config merge repeated
 * sections and let the last occurrence of a key win; boost rejects repeated
 * keys. So ini_get returns the last occurrence, and ini_set rewrites every
 * occurrence of the key in every occurrence of the section, so that a
 * first-wins or last-wins reader both see the new value. A key that exists
 * nowhere is added to the first occurrence of its section.
 *
 * All functions take a doc from ini_parse; errors are -errno. */
#pragma once
#include <stddef.h>

#include "common/attrs.h"

typedef struct ini_doc ini_doc_t;

/* Splits text (len bytes, need not be NUL-terminated) into lines. Returns
 * 0 with a new doc in *ret (free with ini_doc_free), -EINVAL if text holds
 * a NUL byte, -ENOMEM. */
HL_MUST_USE int ini_parse(const char *text, size_t len, ini_doc_t **ret);

/* Frees *doc_p and sets it to NULL; accepts NULL and *doc_p == NULL. */
void ini_doc_free(ini_doc_t **doc_p);

/* The value of key in section (last occurrence wins; continuation lines
 * joined with '\n'; inline comment and surrounding blanks removed).
 * Returns 0 with a malloc'd string in *ret, -ENOENT if absent, -ENOMEM. */
HL_MUST_USE int ini_get(const ini_doc_t *doc, const char *section, const char *key, char **ret);

/* Sets key = value in section, in place where the key exists (keeping the
 * key's spelling, the blanks around '=', any inline comment, and dropping
 * the old continuation lines). A missing key goes after the last key line
 * of the section's first occurrence, styled like its neighbours ("k=v" or
 * "k = v", same indentation); a missing section is appended at the end,
 * after a blank line. New lines use the document's line ending; if the
 * document did not end with a newline, it still does not.
 *
 * Returns 1 if the document changed, 0 if the key already had exactly this
 * value everywhere, -EINVAL for a section/key/value that could not be read
 * back as written (empty key, '=', '[', ']', newlines, leading or trailing
 * blanks, a value containing " #" or " ;"), -ENOMEM (the document may
 * then be partly edited: discard it). */
HL_MUST_USE int ini_set(ini_doc_t *doc, const char *section, const char *key, const char *value);

/* The document as text: byte-for-byte the parsed input if nothing was set.
 * Returns 0 with a malloc'd, NUL-terminated buffer in *ret and its length
 * (without the NUL) in *ret_len, or -ENOMEM. */
HL_MUST_USE int ini_serialize(const ini_doc_t *doc, char **ret, size_t *ret_len);
