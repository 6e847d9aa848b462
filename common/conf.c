#include "common/conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void conf_report_init(conf_report_t *r, const char *file) {
        r->file = strdup(file ? file : "<config>");
        r->lines = NULL;
        r->n_lines = 0;
}

void conf_report_free(conf_report_t *r) {
        for (size_t i = 0; i < r->n_lines; i++)
                free(r->lines[i]);
        free(r->lines);
        free(r->file);
        r->lines = NULL;
        r->file = NULL;
        r->n_lines = 0;
}

void conf_report_add(conf_report_t *r, const config_setting_t *s, const char *key,
                     const char *fmt, ...) {
        char msg[1024], line[2048], path[512], group[512];
        unsigned lineno = s ? config_setting_source_line(s) : 0;
        const char *file = (s && config_setting_source_file(s)) ? config_setting_source_file(s) : r->file;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);

        /* Name the full key: the group's path plus the key within it. */
        if (s && key) {
                conf_setting_path(s, group, sizeof group);
                snprintf(path, sizeof path, "%s%s%s", group, *group ? "." : "", key);
        } else if (s) {
                conf_setting_path(s, path, sizeof path);
        } else {
                snprintf(path, sizeof path, "%s", key ? key : "");
        }

        if (lineno)
                snprintf(line, sizeof line, "%s:%u: %s: %s", file, lineno, path, msg);
        else if (*path)
                snprintf(line, sizeof line, "%s: %s: %s", file, path, msg);
        else
                snprintf(line, sizeof line, "%s: %s", file, msg);

        char **n = realloc(r->lines, (r->n_lines + 1) * sizeof *n);
        if (!n)
                return;
        r->lines = n;
        r->lines[r->n_lines++] = strdup(line);
}

void conf_report_print(const conf_report_t *r) {
        for (size_t i = 0; i < r->n_lines; i++)
                if (r->lines[i])
                        fprintf(stderr, "%s\n", r->lines[i]);
}

int conf_load(config_t *cfg, const char *path, conf_report_t *r) {
        FILE *f;

        config_init(cfg);
        f = fopen(path, "re");
        if (!f) {
                int e = errno;
                conf_report_add(r, NULL, NULL, "cannot read config file: %s", strerror(e));
                config_destroy(cfg);
                return -e;
        }
        fclose(f);
        if (config_read_file(cfg, path) != CONFIG_TRUE) {
                char line[1024];
                conf_syntax_error(cfg, config_error_file(cfg) ? config_error_file(cfg) : path, line,
                                  sizeof line);
                char **n = realloc(r->lines, (r->n_lines + 1) * sizeof *n);
                if (n) {
                        r->lines = n;
                        r->lines[r->n_lines++] = strdup(line);
                }
                config_destroy(cfg);
                return -EINVAL;
        }
        return 0;
}

const char *conf_syntax_error(const config_t *cfg, const char *file, char *buf, size_t len) {
        const char *text = config_error_text(cfg);
        bool plain = !text || strcmp(text, "syntax error") == 0;
        snprintf(buf, len, "%s:%d: syntax error%s%s", file, config_error_line(cfg), plain ? "" : ": ",
                 plain ? "" : text);
        return buf;
}

const char *conf_setting_path(const config_setting_t *s, char *buf, size_t len) {
        const config_setting_t *chain[32];
        size_t n = 0, off = 0;

        buf[0] = '\0';
        for (const config_setting_t *p = s; p && !config_setting_is_root(p) && n < 32;
             p = config_setting_parent(p))
                chain[n++] = p;
        while (n-- > 0 && off < len) {
                const config_setting_t *p = chain[n];
                const char *name = config_setting_name(p);
                int w;
                if (name)
                        w = snprintf(buf + off, len - off, "%s%s", off ? "." : "", name);
                else
                        w = snprintf(buf + off, len - off, "%s[%d]", off ? "." : "",
                                     config_setting_index(p));
                if (w < 0)
                        break;
                off += (size_t) w;
        }
        return buf;
}

void conf_check_known(const config_setting_t *group, const char *const *known,
                      conf_report_t *r) {
        int n = config_setting_length(group);
        for (int i = 0; i < n; i++) {
                const config_setting_t *c = config_setting_get_elem(group, (unsigned) i);
                const char *name = config_setting_name(c);
                bool ok = false;
                if (!name)
                        continue;
                for (const char *const *k = known; *k; k++)
                        if (strcmp(*k, name) == 0) {
                                ok = true;
                                break;
                        }
                if (!ok)
                        conf_report_add(r, c, NULL, "unknown key");
        }
}

static const config_setting_t *member(const config_setting_t *group, const char *key,
                                      bool required, conf_report_t *r) {
        const config_setting_t *s = group ? config_setting_get_member(group, key) : NULL;
        if (!s && required)
                conf_report_add(r, group, key, "missing (required)");
        return s;
}

bool conf_get_string(const config_setting_t *group, const char *key, bool required,
                     char **value, conf_report_t *r) {
        const config_setting_t *s = member(group, key, required, r);
        if (!s)
                return false;
        if (config_setting_type(s) != CONFIG_TYPE_STRING) {
                conf_report_add(r, s, NULL, "must be a string");
                return false;
        }
        const char *v = config_setting_get_string(s);
        if (!*v) {
                conf_report_add(r, s, NULL, "must not be empty");
                return false;
        }
        free(*value);
        *value = strdup(v);
        return true;
}

bool conf_get_int(const config_setting_t *group, const char *key, bool required,
                  long long min, long long max, long long *value, conf_report_t *r) {
        const config_setting_t *s = member(group, key, required, r);
        long long v;
        if (!s)
                return false;
        if (config_setting_type(s) == CONFIG_TYPE_INT)
                v = config_setting_get_int(s);
        else if (config_setting_type(s) == CONFIG_TYPE_INT64)
                v = config_setting_get_int64(s);
        else {
                conf_report_add(r, s, NULL, "must be an integer");
                return false;
        }
        if (v < min || v > max) {
                conf_report_add(r, s, NULL, "%lld is out of range [%lld, %lld]", v, min, max);
                return false;
        }
        *value = v;
        return true;
}

bool conf_get_bool(const config_setting_t *group, const char *key, bool *value,
                   conf_report_t *r) {
        const config_setting_t *s = member(group, key, false, r);
        if (!s)
                return false;
        if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
                conf_report_add(r, s, NULL, "must be true or false");
                return false;
        }
        *value = config_setting_get_bool(s);
        return true;
}

int conf_parse_duration_ms(const char *s, int64_t *ret_ms) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        double mult;
        if (errno || end == s || !(v >= 0))  /* also refuses "nan" */
                return -EINVAL;
        if (strcmp(end, "ms") == 0)
                mult = 1;
        else if (strcmp(end, "s") == 0 || *end == '\0')
                mult = 1000;
        else if (strcmp(end, "m") == 0)
                mult = 60000;
        else if (strcmp(end, "h") == 0)
                mult = 3600000;
        else if (strcmp(end, "d") == 0)
                mult = 86400000;
        else
                return -EINVAL;
        if (v * mult > 9.0e15)
                return -EINVAL;
        *ret_ms = (int64_t) (v * mult);
        return 0;
}

bool conf_get_duration_ms(const config_setting_t *group, const char *key, bool required,
                          int64_t min_ms, int64_t max_ms, int64_t *value_ms,
                          conf_report_t *r) {
        const config_setting_t *s = member(group, key, required, r);
        int64_t v;
        if (!s)
                return false;
        switch (config_setting_type(s)) {
        case CONFIG_TYPE_INT:
                v = (int64_t) config_setting_get_int(s) * 1000;
                break;
        case CONFIG_TYPE_INT64: {
                /* Saturate rather than overflow: such a value is out of
                 * range anyway, and must not wrap into it. */
                long long secs = config_setting_get_int64(s);
                v = secs > INT64_MAX / 1000 ? INT64_MAX
                  : secs < INT64_MIN / 1000 ? INT64_MIN : (int64_t) secs * 1000;
                break;
        }
        case CONFIG_TYPE_STRING:
                if (conf_parse_duration_ms(config_setting_get_string(s), &v) == 0)
                        break;
                /* fall through */
        default:
                conf_report_add(r, s, NULL,
                                "must be a duration: seconds, or a string like \"500ms\", \"5s\", \"2m\"");
                return false;
        }
        if (v < min_ms || v > max_ms) {
                conf_report_add(r, s, NULL, "%lldms is out of range [%lldms, %lldms]",
                                (long long) v, (long long) min_ms, (long long) max_ms);
                return false;
        }
        *value_ms = v;
        return true;
}

void conf_strv_free(char **v) {
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

size_t conf_strv_len(char *const *v) {
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

bool conf_get_strv(const config_setting_t *group, const char *key, bool required,
                   char ***value, conf_report_t *r) {
        const config_setting_t *s = member(group, key, required, r);
        if (!s)
                return false;
        if (!config_setting_is_aggregate(s) || config_setting_is_group(s)) {
                conf_report_add(r, s, NULL, "must be a list of strings, like [\"a\", \"b\"]");
                return false;
        }
        int n = config_setting_length(s);
        char **v = calloc((size_t) n + 1, sizeof *v);
        if (!v)
                return false;
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned) i);
                if (config_setting_type(e) != CONFIG_TYPE_STRING) {
                        conf_report_add(r, e, NULL, "must be a string");
                        conf_strv_free(v);
                        return false;
                }
                v[i] = strdup(config_setting_get_string(e));
        }
        conf_strv_free(*value);
        *value = v;
        return true;
}
