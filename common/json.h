/* JSON output for --json and the coordinator's HTTP API: strings, and
 * the pieces of objects (the schemas are documented in the README). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Writes s as a JSON string literal: quotes, escapes, control characters
 * as \\u00XX, and bytes that are not valid UTF-8 as \\ufffd, so the output
 * is always valid JSON whatever came off the wire. NULL prints "". */
void json_string(FILE *f, const char *s);

/* sep (",", "{", ...) then "key": and for json_kv the string value. */
void json_key(FILE *f, const char *sep, const char *key);
void json_kv(FILE *f, const char *sep, const char *key, const char *value);
void json_bool(FILE *f, const char *sep, const char *key, bool value);
void json_int(FILE *f, const char *sep, const char *key, long long value);
/* sep "key": [item, ...], each item printed by print_item. */
void json_array(FILE *f, const char *sep, const char *key, void *const *items, size_t n,
                void (*print_item)(FILE *f, const void *item));
