/* Strings from the network, made safe to show as text: on a terminal, in
 * a table row, in a log line. A peer's string could otherwise carry
 * escape sequences (clear the screen, set the title) or a newline that
 * forges a row or a log line.
 *
 * Escaped: C0 controls and DEL as \n, \t, \r or \xNN; C1 controls (U+0080
 * to U+009F, which some terminals obey) and every byte that is not part of
 * valid UTF-8 as \xNN per byte. Everything else, backslashes included,
 * passes as is, so escaping an escaped string changes nothing. */
#pragma once
#include <stddef.h>

#include "common/attrs.h"

/* Keep '\n' as a line break (for multi-line text shown as such). */
#define TEXT_KEEP_NEWLINES 1u

/* Like snprintf: writes the escaped src into dst (size bytes, always
 * NUL-terminated when size > 0, cut between escapes, never inside one)
 * and returns the length the whole escaped string needs. dst may be NULL
 * when size is 0. Equal to strlen(src) exactly when src needs no escape. */
size_t text_escape(char *dst, size_t size, const char *src, unsigned flags);

/* The escaped src in a new string (caller frees). 0, or -ENOMEM. */
HL_MUST_USE int text_escape_dup(const char *src, unsigned flags, char **ret);
