/* JSON output for --json: strings only (numbers and structure are printed
 * by the callers, whose schemas are documented in the README). */
#pragma once
#include <stdio.h>

/* Writes s as a JSON string literal: quotes, escapes, control characters
 * as \\u00XX, and bytes that are not valid UTF-8 as \\ufffd, so the output
 * is always valid JSON whatever came off the wire. NULL prints "". */
void json_string(FILE *f, const char *s);
