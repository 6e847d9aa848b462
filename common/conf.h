/* Config file loading and validation on top of libconfig.
 *
 * Programs load a file into a config_t, then validate it into their own
 * typed struct with the getters below. Every problem is collected (not just
 * the first) as "FILE:LINE: KEY: message" in a conf_report_t, so that
 * --check-config can show them all. Unknown keys are errors. */
#pragma once
#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/attrs.h"

typedef struct {
        char *file;       /* the file being validated (owned) */
        char **lines;     /* collected error lines (owned) */
        size_t n_lines;
} conf_report_t;

void conf_report_init(conf_report_t *r, const char *file);
void conf_report_free(conf_report_t *r);
/* Adds "FILE:LINE: KEY: message"; s may be NULL (then "FILE: KEY: ..."). */
void conf_report_add(conf_report_t *r, const config_setting_t *s, const char *key,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Prints every line to stderr. */
void conf_report_print(const conf_report_t *r);

/* Reads and parses path into cfg (initialised here). Returns 0 (the caller
 * then owns cfg: config_destroy it), or -errno with a line added to r
 * (cannot read, syntax error) and cfg already destroyed. */
HL_MUST_USE int conf_load(config_t *cfg, const char *path, conf_report_t *r);

/* libconfig's parse error of cfg as "FILE:LINE: syntax error" into buf,
 * with libconfig's text when it says more than that: bison's message is
 * nearly always just "syntax error", which said twice reads as a stutter. */
const char *conf_syntax_error(const config_t *cfg, const char *file, char *buf, size_t len);

/* Full dotted path of a setting ("coordinator.endpoint", "checks.[2].port")
 * into buf. */
const char *conf_setting_path(const config_setting_t *s, char *buf, size_t len);

/* Reports every member of group whose name is not in known (NULL-ended). */
void conf_check_known(const config_setting_t *group, const char *const *known,
                      conf_report_t *r);

/* Typed getters. Each returns true if the key was present and valid (value
 * stored), false if absent (value untouched: the caller's default stands)
 * or invalid (an error is reported). `required` reports absence too. */
bool conf_get_string(const config_setting_t *group, const char *key, bool required,
                     char **value, conf_report_t *r);
bool conf_get_int(const config_setting_t *group, const char *key, bool required,
                  long long min, long long max, long long *value, conf_report_t *r);
bool conf_get_bool(const config_setting_t *group, const char *key, bool *value,
                   conf_report_t *r);
/* A duration: an integer (seconds) or a string "500ms", "5s", "2m", "1h".
 * Stored in milliseconds; must lie within [min_ms, max_ms]. */
bool conf_get_duration_ms(const config_setting_t *group, const char *key, bool required,
                          int64_t min_ms, int64_t max_ms, int64_t *value_ms,
                          conf_report_t *r);
/* A list or array of strings into a NULL-terminated, malloc'd vector
 * (free with conf_strv_free). */
bool conf_get_strv(const config_setting_t *group, const char *key, bool required,
                   char ***value, conf_report_t *r);
void conf_strv_free(char **v);
size_t conf_strv_len(char *const *v);

/* Parses a duration string as conf_get_duration_ms does. 0 or -EINVAL. */
HL_MUST_USE int conf_parse_duration_ms(const char *s, int64_t *ret_ms);
