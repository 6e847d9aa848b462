#include "coordinator/upgrade/plan.h"

#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/conf.h"
#include "common/endpoint.h"
#include "common/ids.h"
#include "common/vercmp.h"
#include "coordinator/fleet/inventory.h"
#include "coordinator/upgrade/plan_math.h"

#define MAX_COUNT 1000000
#define MAX_DURATION_MS (30LL * 24 * 3600 * 1000)
#define PATTERN_MAX 255
#define UNIT_MAX 255

static const char *const s_root_keys[] = {
        "name", "packages", "allowed_paths", "version_order", "phases", NULL,
};
static const char *const s_package_keys[] = { "name", "version", NULL };
static const char *const s_path_keys[] = { "package", "from", "to", NULL };
static const char *const s_phase_keys[] = {
        "name", "nodes", "batch", "canary", "auto_promote", "max_failures", "min_healthy_time",
        "healthy_deadline", "on_failure", "drain", "repoint", "restart", "pause_between_batches",
        "mode", "before", "pre", "post", "after", "wait_for", NULL,
};
static const char *const s_nodes_keys[] = { "roles", "group", "list", NULL };

static const char *const s_on_failure_names[] = {
        [PLAN_ON_FAILURE_PAUSE] = "pause",
        [PLAN_ON_FAILURE_ROLLBACK_NODE] = "rollback_node",
        [PLAN_ON_FAILURE_ROLLBACK_PHASE] = "rollback_phase",
};
static const char *const s_mode_names[] = {
        [PLAN_MODE_ROLLING] = "rolling",
        [PLAN_MODE_BATCH] = "batch",
};
static const char *const s_order_names[] = {
        [PLAN_ORDER_AUTO] = "auto",
        [PLAN_ORDER_DPKG] = "dpkg",
        [PLAN_ORDER_RPM] = "rpm",
};

#define NAME_OF(table, v) ((unsigned) (v) < sizeof table / sizeof *table ? table[v] : "unknown")

const char *plan_on_failure_name(plan_on_failure_t v) {
        return NAME_OF(s_on_failure_names, v);
}

const char *plan_mode_name(plan_mode_t v) {
        return NAME_OF(s_mode_names, v);
}

const char *plan_version_order_name(plan_version_order_t v) {
        return NAME_OF(s_order_names, v);
}

static bool s_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool plan_package_name_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > 255 || !s_alnum(s[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!s_alnum(s[i]) && !strchr("._+-", s[i]))
                        return false;
        return true;
}

/* Version patterns: the characters of dpkg and rpm versions plus the
 * fnmatch metacharacters; never whitespace, quotes or '/'. */
static bool s_pattern_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > PATTERN_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!s_alnum(s[i]) && !strchr(".+~:_^-*?[]!", s[i]))
                        return false;
        return true;
}

/* systemd unit names: [A-Za-z0-9:_.@\-]+ with a type suffix. */
static bool s_unit_valid(const char *s) {
        size_t n = strlen(s);
        const char *dot = strrchr(s, '.');
        if (n == 0 || n > UNIT_MAX || !dot || dot == s || !dot[1])
                return false;
        for (size_t i = 0; i < n; i++)
                if (!s_alnum(s[i]) && !strchr(":_.@\\-", s[i]))
                        return false;
        return true;
}

static bool s_version_valid(plan_version_order_t order, const char *v) {
        switch (order) {
        case PLAN_ORDER_DPKG: return version_valid_dpkg(v);
        case PLAN_ORDER_RPM: return version_valid_rpm(v);
        case PLAN_ORDER_AUTO:
        default: return version_valid_dpkg(v) || version_valid_rpm(v);
        }
}

/* A line that has no setting to name ("FILE:LINE: message"). */
static void s_report_line(conf_report_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_report_line(conf_report_t *r, const char *fmt, ...) {
        char line[1200];
        va_list ap;
        char **n;

        va_start(ap, fmt);
        vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        n = realloc(r->lines, (r->n_lines + 1) * sizeof *n);
        if (!n)
                return;
        r->lines = n;
        r->lines[r->n_lines++] = strdup(line);
}

/* A list ( ... ) whose elements are groups; NULL when absent or wrong
 * (reported, with hint as the message). */
static const config_setting_t *s_group_list(const config_setting_t *parent, const char *key,
                                            bool required, const char *hint, conf_report_t *r) {
        const config_setting_t *s = config_setting_get_member(parent, key);
        if (!s) {
                if (required)
                        conf_report_add(r, parent, key, "missing (required)");
                return NULL;
        }
        if (!config_setting_is_list(s)) {
                conf_report_add(r, s, NULL, "%s", hint);
                return NULL;
        }
        if (required && config_setting_length(s) == 0) {
                conf_report_add(r, s, NULL, "must not be empty");
                return NULL;
        }
        for (int i = 0; i < config_setting_length(s); i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned) i);
                if (!config_setting_is_group(e)) {
                        conf_report_add(r, e, NULL, "%s", hint);
                        return NULL;
                }
        }
        return s;
}

/* One of a fixed set of words; *ret untouched when absent or invalid. */
static void s_get_enum(const config_setting_t *g, const char *key, const char *const *names, size_t n,
                       int *ret, conf_report_t *r) {
        char *v = NULL, allowed[256] = "";
        if (!conf_get_string(g, key, false, &v, r))
                return;
        for (size_t i = 0; i < n; i++) {
                if (strcmp(v, names[i]) == 0) {
                        *ret = (int) i;
                        free(v);
                        return;
                }
                snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s\"%s\"",
                         i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
        }
        conf_report_add(r, config_setting_get_member(g, key), NULL, "\"%s\" is not one of %s", v, allowed);
        free(v);
}

/* batch / max_failures: a count or "N%", kept as a spec. */
static void s_get_count_spec(const config_setting_t *g, const char *key, bool is_batch, char *spec,
                             size_t len, conf_report_t *r) {
        const config_setting_t *s = config_setting_get_member(g, key);
        const char *what = is_batch ? "a count of at least 1 (3) or a percentage of the phase (\"25%\")"
                                    : "a count (0 stops at the first failure) or a percentage of the phase (\"10%\")";
        int x, e;

        if (!s)
                return;
        switch (config_setting_type(s)) {
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64: {
                long long v = config_setting_get_int64(s);
                if (config_setting_type(s) == CONFIG_TYPE_INT)
                        v = config_setting_get_int(s);
                if (v < (is_batch ? 1 : 0) || v > MAX_COUNT) {
                        conf_report_add(r, s, NULL, "%lld is out of range [%d, %d]", v, is_batch ? 1 : 0,
                                        MAX_COUNT);
                        return;
                }
                snprintf(spec, len, "%lld", v);
                return;
        }
        case CONFIG_TYPE_STRING: {
                const char *v = config_setting_get_string(s);
                e = strlen(v) >= len ? -EINVAL
                  : is_batch ? plan_parse_batch(v, 0, &x) : plan_parse_max_failures(v, 0, &x);
                if (e == -ERANGE)
                        conf_report_add(r, s, NULL, "\"%s\": a percentage must be at most 100%%, a count at most %d",
                                        v, MAX_COUNT);
                else if (e < 0)
                        conf_report_add(r, s, NULL, "\"%s\" must be %s", v, what);
                else
                        snprintf(spec, len, "%s", v);
                return;
        }
        default:
                conf_report_add(r, s, NULL, "must be %s", what);
        }
}

static void s_parse_nodes(const config_setting_t *phase, plan_phase_t *p, conf_report_t *r) {
        const config_setting_t *s = config_setting_get_member(phase, "nodes");
        int given = 0;

        if (!s) {
                conf_report_add(r, phase, "nodes", "missing (required)");
                return;
        }
        if (!config_setting_is_group(s)) {
                conf_report_add(r, s, NULL, "must be a group: { roles = [...]; } or { group = \"...\"; } "
                                            "or { list = [...]; }");
                return;
        }
        conf_check_known(s, s_nodes_keys, r);
        for (const char *const *k = s_nodes_keys; *k; k++)
                given += config_setting_get_member(s, *k) != NULL;
        if (given != 1) {
                conf_report_add(r, s, NULL, "give exactly one of roles = [...], group = \"...\" or list = [...]");
                return;
        }
        if (config_setting_get_member(s, "roles")) {
                p->select = PLAN_SELECT_ROLES;
                inventory_get_ids(s, "roles", true, false, &p->roles, r);
        } else if (config_setting_get_member(s, "list")) {
                p->select = PLAN_SELECT_LIST;
                inventory_get_ids(s, "list", true, false, &p->list, r);
        } else {
                p->select = PLAN_SELECT_GROUP;
                if (conf_get_string(s, "group", true, &p->group, r) && !node_id_valid(p->group))
                        conf_report_add(r, config_setting_get_member(s, "group"), NULL,
                                        "\"%s\" must be 1-63 of [A-Za-z0-9._-]", p->group);
        }
}

static void s_parse_repoint(const config_setting_t *phase, plan_phase_t *p, conf_report_t *r) {
        const config_setting_t *s = config_setting_get_member(phase, "repoint");
        int n;

        if (!s)
                return;
        if (!config_setting_is_group(s)) {
                conf_report_add(r, s, NULL, "must be a group of endpoint lists: "
                                            "{ controller = [\"10.0.0.1:5269\", ...]; collector = [...]; }");
                return;
        }
        n = config_setting_length(s);
        if (n == 0) {
                conf_report_add(r, s, NULL, "must name at least one endpoint kind");
                return;
        }
        p->repoint = calloc((size_t) n, sizeof *p->repoint);
        if (!p->repoint)
                return;
        for (int i = 0; i < n; i++) {
                const config_setting_t *k = config_setting_get_elem(s, (unsigned) i);
                const char *kind = config_setting_name(k);
                plan_repoint_t *rp = &p->repoint[p->n_repoint++];
                endpoint_t *seen;
                size_t n_eps;

                rp->kind = strdup(kind);
                if (!node_id_valid(kind))
                        conf_report_add(r, k, NULL, "endpoint kind must be 1-63 of [A-Za-z0-9._-]");
                if (!conf_get_strv(s, kind, true, &rp->endpoints, r))
                        continue;
                n_eps = conf_strv_len(rp->endpoints);
                if (n_eps == 0) {
                        conf_report_add(r, k, NULL, "must list at least one host:port");
                        continue;
                }
                seen = calloc(n_eps, sizeof *seen);
                if (!seen)
                        continue;
                for (size_t j = 0; j < n_eps; j++) {
                        const config_setting_t *e = config_setting_get_elem(k, (unsigned) j);
                        char err[256];
                        if (endpoint_parse(rp->endpoints[j], 0, &seen[j], err, sizeof err) < 0) {
                                conf_report_add(r, e, NULL, "%s", err);
                                memset(&seen[j], 0, sizeof seen[j]);
                                continue;
                        }
                        for (size_t q = 0; q < j; q++)
                                if (seen[q].port && endpoint_equal(&seen[q], &seen[j])) {
                                        conf_report_add(r, e, NULL, "\"%s\" is listed twice", rp->endpoints[j]);
                                        break;
                                }
                }
                free(seen);
        }
}

static void s_parse_restart(const config_setting_t *phase, plan_phase_t *p, conf_report_t *r) {
        const config_setting_t *s;

        if (!conf_get_strv(phase, "restart", false, &p->restart, r))
                return;
        s = config_setting_get_member(phase, "restart");
        for (size_t i = 0; p->restart[i]; i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned) i);
                if (!s_unit_valid(p->restart[i])) {
                        conf_report_add(r, e, NULL, "\"%s\" is not a unit name like \"contrail-vrouter-agent.service\"",
                                        p->restart[i]);
                        continue;
                }
                for (size_t j = 0; j < i; j++)
                        if (strcmp(p->restart[i], p->restart[j]) == 0) {
                                conf_report_add(r, e, NULL, "\"%s\" is listed twice", p->restart[i]);
                                break;
                        }
        }
}

static void s_parse_phase(const config_setting_t *g, plan_t *plan, plan_phase_t *p, conf_report_t *r) {
        long long canary = 0;
        int v;
        bool have_min, have_deadline;

        p->line = config_setting_source_line(g);
        snprintf(p->batch, sizeof p->batch, "1");
        snprintf(p->max_failures, sizeof p->max_failures, "0");
        p->min_healthy_time_ms = 30 * 1000;
        p->healthy_deadline_ms = 5 * 60 * 1000;
        conf_check_known(g, s_phase_keys, r);

        if (conf_get_string(g, "name", true, &p->name, r)) {
                if (!node_id_valid(p->name))
                        conf_report_add(r, config_setting_get_member(g, "name"), NULL,
                                        "\"%s\" must be 1-63 of [A-Za-z0-9._-]", p->name);
                for (size_t i = 0; i < plan->n_phases; i++)
                        if (plan->phases[i].name && &plan->phases[i] != p &&
                            strcmp(plan->phases[i].name, p->name) == 0) {
                                conf_report_add(r, config_setting_get_member(g, "name"), NULL,
                                                "\"%s\" is already the name of phase %zu", p->name, i + 1);
                                break;
                        }
        }
        s_parse_nodes(g, p, r);
        s_get_count_spec(g, "batch", true, p->batch, sizeof p->batch, r);
        /* A canary count above batch is fine: canaries go batch at a time,
         * as every node does (batch bounds how many are down at once). One
         * above the phase's size names nodes that do not exist; only a
         * list tells the size before the fleet is known. */
        if (conf_get_int(g, "canary", false, 0, MAX_COUNT, &canary, r)) {
                p->canary = (int) canary;
                if (p->select == PLAN_SELECT_LIST && p->list && (size_t) canary > conf_strv_len(p->list))
                        conf_report_add(r, config_setting_get_member(g, "canary"), NULL,
                                        "%lld is more than the %zu nodes the phase lists: at most every node "
                                        "is a canary", canary, conf_strv_len(p->list));
        }
        conf_get_bool(g, "auto_promote", &p->auto_promote, r);
        s_get_count_spec(g, "max_failures", false, p->max_failures, sizeof p->max_failures, r);
        have_min = conf_get_duration_ms(g, "min_healthy_time", false, 0, MAX_DURATION_MS,
                                        &p->min_healthy_time_ms, r);
        have_deadline = conf_get_duration_ms(g, "healthy_deadline", false, 1000, MAX_DURATION_MS,
                                             &p->healthy_deadline_ms, r);
        if ((have_min || have_deadline) && p->healthy_deadline_ms < p->min_healthy_time_ms)
                conf_report_add(r, config_setting_get_member(g, have_deadline ? "healthy_deadline"
                                                                              : "min_healthy_time"),
                                NULL, "healthy_deadline (%lldms) must be at least min_healthy_time (%lldms)",
                                (long long) p->healthy_deadline_ms, (long long) p->min_healthy_time_ms);
        v = (int) p->on_failure;
        s_get_enum(g, "on_failure", s_on_failure_names, 3, &v, r);
        p->on_failure = (plan_on_failure_t) v;
        conf_get_bool(g, "drain", &p->drain, r);
        s_parse_repoint(g, p, r);
        s_parse_restart(g, p, r);
        if (!p->restart)
                p->restart = calloc(1, sizeof *p->restart);
        conf_get_duration_ms(g, "pause_between_batches", false, 0, MAX_DURATION_MS,
                             &p->pause_between_batches_ms, r);
        v = (int) p->mode;
        s_get_enum(g, "mode", s_mode_names, 2, &v, r);
        p->mode = (plan_mode_t) v;
        for (int s = 0; s < PLAN_STAGE__COUNT; s++)
                plan_steps_parse(g, (plan_stage_t) s, &p->steps[s], r);
}

static void s_parse_packages(const config_setting_t *root, plan_t *plan, conf_report_t *r) {
        const config_setting_t *list = s_group_list(root, "packages", true,
                "must be a list of packages: ( { name = \"contrail-vrouter-agent\"; version = \"2.0-1\"; }, ... )",
                r);
        int n;

        if (!list)
                return;
        n = config_setting_length(list);
        plan->packages = calloc((size_t) n, sizeof *plan->packages);
        if (!plan->packages)
                return;
        for (int i = 0; i < n; i++) {
                const config_setting_t *g = config_setting_get_elem(list, (unsigned) i);
                plan_package_t *pk = &plan->packages[plan->n_packages++];

                conf_check_known(g, s_package_keys, r);
                if (conf_get_string(g, "name", true, &pk->name, r)) {
                        const config_setting_t *s = config_setting_get_member(g, "name");
                        if (!plan_package_name_valid(pk->name))
                                conf_report_add(r, s, NULL, "\"%s\" is not a package name ([A-Za-z0-9._+-], "
                                                "starting with a letter or digit)", pk->name);
                        for (int j = 0; j < i; j++)
                                if (plan->packages[j].name && strcmp(plan->packages[j].name, pk->name) == 0) {
                                        conf_report_add(r, s, NULL, "package \"%s\" is listed twice", pk->name);
                                        break;
                                }
                }
                if (conf_get_string(g, "version", true, &pk->version, r) &&
                    !s_version_valid(plan->version_order, pk->version))
                        conf_report_add(r, config_setting_get_member(g, "version"), NULL,
                                        "\"%s\" is not a valid %s version", pk->version,
                                        plan->version_order == PLAN_ORDER_RPM ? "rpm"
                                        : plan->version_order == PLAN_ORDER_DPKG ? "dpkg" : "dpkg or rpm");
        }
}

static void s_parse_paths(const config_setting_t *root, plan_t *plan, conf_report_t *r) {
        const config_setting_t *list = s_group_list(root, "allowed_paths", false,
                "must be a list of paths: ( { from = \"1.*\"; to = \"2.*\"; }, ... )", r);
        static const char *const keys[] = { "package", "from", "to" };
        int n;

        if (!list)
                return;
        n = config_setting_length(list);
        if (n == 0) {
                conf_report_add(r, list, NULL, "must not be empty (leave it out to allow every path)");
                return;
        }
        plan->paths = calloc((size_t) n, sizeof *plan->paths);
        if (!plan->paths)
                return;
        for (int i = 0; i < n; i++) {
                const config_setting_t *g = config_setting_get_elem(list, (unsigned) i);
                plan_path_t *pa = &plan->paths[plan->n_paths++];
                char **fields[] = { &pa->package, &pa->from, &pa->to };

                conf_check_known(g, s_path_keys, r);
                for (int k = 0; k < 3; k++)
                        if (conf_get_string(g, keys[k], k > 0, fields[k], r) && !s_pattern_valid(*fields[k]))
                                conf_report_add(r, config_setting_get_member(g, keys[k]), NULL,
                                                "\"%s\" is not a pattern of [A-Za-z0-9.+~:_^-] and *?[]!",
                                                *fields[k]);
        }
}

static void s_parse_root(const config_setting_t *root, plan_t *plan, conf_report_t *r) {
        const config_setting_t *list;
        int v = PLAN_ORDER_AUTO;

        conf_check_known(root, s_root_keys, r);
        if (conf_get_string(root, "name", true, &plan->name, r) && !node_id_valid(plan->name))
                conf_report_add(r, config_setting_get_member(root, "name"), NULL,
                                "\"%s\" must be 1-63 of [A-Za-z0-9._-]", plan->name);
        s_get_enum(root, "version_order", s_order_names, 3, &v, r);
        plan->version_order = (plan_version_order_t) v;
        s_parse_packages(root, plan, r);
        s_parse_paths(root, plan, r);
        list = s_group_list(root, "phases", true,
                            "must be a list of phases: ( { name = \"database\"; nodes = { ... }; ... }, ... )", r);
        if (!list)
                return;
        plan->phases = calloc((size_t) config_setting_length(list), sizeof *plan->phases);
        if (!plan->phases)
                return;
        for (int i = 0; i < config_setting_length(list); i++) {
                plan->n_phases = (size_t) i + 1;
                s_parse_phase(config_setting_get_elem(list, (unsigned) i), plan, &plan->phases[i], r);
        }
}

/* libconfig would open the file an @include names, relative to the
 * coordinator's working directory: a plan is data, so refuse it before
 * libconfig sees it. Its scanner only knows @include at a line's start. */
static bool s_has_include(const char *file, const char *content, size_t len, conf_report_t *r) {
        unsigned line = 1;
        bool found = false;

        for (size_t i = 0; i < len; line++) {
                size_t j = i;
                while (j < len && (content[j] == ' ' || content[j] == '\t'))
                        j++;
                if (j < len && content[j] == '@') {
                        s_report_line(r, "%s:%u: @include: not allowed in a plan", file, line);
                        found = true;
                }
                while (j < len && content[j] != '\n')
                        j++;
                i = j + 1;
        }
        return found;
}

int plan_parse_string(const char *file_name, const char *content, size_t len, plan_t **ret,
                      conf_report_t *r) {
        config_t cfg;
        plan_t *plan;
        char *text;
        size_t before = r->n_lines;

        if (len > PLAN_MAX_BYTES) {
                s_report_line(r, "%s: the plan is larger than %d bytes", file_name, PLAN_MAX_BYTES);
                return -EFBIG;
        }
        if (memchr(content, '\0', len)) {
                s_report_line(r, "%s: not a text file (holds a NUL byte)", file_name);
                return -EINVAL;
        }
        if (s_has_include(file_name, content, len, r))
                return -EINVAL;
        text = strndup(content, len);
        if (!text)
                return -ENOMEM;
        config_init(&cfg);
        if (config_read_string(&cfg, text) != CONFIG_TRUE) {
                char line[1024];
                s_report_line(r, "%s", conf_syntax_error(&cfg, file_name, line, sizeof line));
                config_destroy(&cfg);
                free(text);
                return -EINVAL;
        }
        free(text);
        plan = calloc(1, sizeof *plan);
        if (!plan || !(plan->file = strdup(file_name))) {
                free(plan);
                config_destroy(&cfg);
                return -ENOMEM;
        }
        s_parse_root(config_root_setting(&cfg), plan, r);
        config_destroy(&cfg);
        if (r->n_lines > before) {
                plan_free(&plan);
                return -EINVAL;
        }
        *ret = plan;
        return 0;
}

int plan_load(const char *path, plan_t **ret, conf_report_t *r) {
        FILE *f = fopen(path, "re");
        char *buf;
        size_t n;
        int e;

        if (!f) {
                e = errno;
                s_report_line(r, "%s: cannot read: %s", path, strerror(e));
                return -e;
        }
        buf = malloc(PLAN_MAX_BYTES + 1);
        if (!buf) {
                fclose(f);
                return -ENOMEM;
        }
        n = fread(buf, 1, PLAN_MAX_BYTES + 1, f);
        e = ferror(f) ? -EIO : 0;
        fclose(f);
        if (e < 0)
                s_report_line(r, "%s: cannot read: %s", path, strerror(EIO));
        else
                e = plan_parse_string(path, buf, n, ret, r);
        free(buf);
        return e;
}

void plan_free(plan_t **pp) {
        plan_t *p = pp ? *pp : NULL;
        if (!p)
                return;
        for (size_t i = 0; i < p->n_packages; i++) {
                free(p->packages[i].name);
                free(p->packages[i].version);
        }
        free(p->packages);
        for (size_t i = 0; i < p->n_paths; i++) {
                free(p->paths[i].package);
                free(p->paths[i].from);
                free(p->paths[i].to);
        }
        free(p->paths);
        for (size_t i = 0; i < p->n_phases; i++) {
                plan_phase_t *ph = &p->phases[i];
                free(ph->name);
                conf_strv_free(ph->roles);
                free(ph->group);
                conf_strv_free(ph->list);
                for (size_t j = 0; j < ph->n_repoint; j++) {
                        free(ph->repoint[j].kind);
                        conf_strv_free(ph->repoint[j].endpoints);
                }
                free(ph->repoint);
                conf_strv_free(ph->restart);
                for (int s = 0; s < PLAN_STAGE__COUNT; s++)
                        plan_steps_clear(&ph->steps[s]);
        }
        free(p->phases);
        free(p->file);
        free(p->name);
        free(p);
        *pp = NULL;
}
