#include "coordinator/fleet/inventory.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "coordinator/upgrade/quorum.h"

static const char *const s_group_keys[] = { "name", "roles", "nodes", NULL };
static const char *const s_quorum_keys[] = { "name", "members", "max_down", NULL };
static const char *const s_override_keys[] = { "node", "roles", NULL };

bool inventory_get_ids(const config_setting_t *group, const char *key, bool required, bool allow_empty,
                       char ***ret, conf_report_t *r) {
        const config_setting_t *s;
        size_t before = r->n_lines;

        if (!conf_get_strv(group, key, required, ret, r))
                return false;
        s = config_setting_get_member(group, key);
        if (!allow_empty && !(*ret)[0])
                conf_report_add(r, s, NULL, "must not be empty");
        for (size_t i = 0; (*ret)[i]; i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned) i);
                if (!node_id_valid((*ret)[i])) {
                        conf_report_add(r, e, NULL, "\"%s\" must be 1-63 of [A-Za-z0-9._-]", (*ret)[i]);
                        continue;
                }
                for (size_t j = 0; j < i; j++)
                        if (strcmp((*ret)[i], (*ret)[j]) == 0) {
                                conf_report_add(r, e, NULL, "\"%s\" is listed twice", (*ret)[i]);
                                break;
                        }
        }
        return r->n_lines == before;
}

/* The list setting root.key as an array of its group elements; NULL (and
 * *n = 0) when absent or not a list of groups (reported). */
static const config_setting_t *s_list_of_groups(const config_setting_t *root, const char *key,
                                                size_t *n, conf_report_t *r) {
        const config_setting_t *s = config_setting_get_member(root, key);
        *n = 0;
        if (!s)
                return NULL;
        if (!config_setting_is_list(s)) {
                conf_report_add(r, s, NULL, "must be a list of groups: ( { name = ...; ... }, ... )");
                return NULL;
        }
        *n = (size_t) config_setting_length(s);
        return s;
}

/* Name unique across groups and quorum groups (one namespace for plans). */
static void s_check_name_unique(const inventory_t *inv, const config_setting_t *g, const char *name,
                                conf_report_t *r) {
        for (size_t i = 0; i < inv->n_groups; i++)
                if (inv->groups[i].name && strcmp(inv->groups[i].name, name) == 0) {
                        conf_report_add(r, config_setting_get_member(g, "name"), NULL,
                                        "\"%s\" is already the name of a group", name);
                        return;
                }
        for (size_t i = 0; i < inv->n_quorum_groups; i++)
                if (inv->quorum_groups[i].name && strcmp(inv->quorum_groups[i].name, name) == 0) {
                        conf_report_add(r, config_setting_get_member(g, "name"), NULL,
                                        "\"%s\" is already the name of a quorum group", name);
                        return;
                }
}

static bool s_get_name(const config_setting_t *g, const char *key, char **ret, conf_report_t *r) {
        if (!conf_get_string(g, key, true, ret, r))
                return false;
        if (!node_id_valid(*ret)) {
                conf_report_add(r, config_setting_get_member(g, key), NULL,
                                "\"%s\" must be 1-63 of [A-Za-z0-9._-]", *ret);
                return false;
        }
        return true;
}

static void s_parse_group(const config_setting_t *g, inventory_t *inv, inventory_group_t *out,
                          conf_report_t *r) {
        bool has_roles, has_nodes;
        char *name = NULL;

        conf_check_known(g, s_group_keys, r);
        if (s_get_name(g, "name", &name, r))
                s_check_name_unique(inv, g, name, r);
        has_roles = config_setting_get_member(g, "roles") != NULL;
        has_nodes = config_setting_get_member(g, "nodes") != NULL;
        if (has_roles == has_nodes)
                conf_report_add(r, g, NULL, "give either roles = [...] or nodes = [...]");
        else if (has_roles)
                inventory_get_ids(g, "roles", true, false, &out->roles, r);
        else
                inventory_get_ids(g, "nodes", true, false, &out->nodes, r);
        /* Set last, so that the uniqueness check above does not see itself. */
        out->name = name;
}

static void s_parse_quorum_group(const config_setting_t *g, inventory_t *inv,
                                 inventory_quorum_group_t *out, conf_report_t *r) {
        long long max_down = 0;
        char *name = NULL;

        conf_check_known(g, s_quorum_keys, r);
        if (s_get_name(g, "name", &name, r))
                s_check_name_unique(inv, g, name, r);
        if (inventory_get_ids(g, "members", true, false, &out->members, r)) {
                int limit;
                out->n_members = conf_strv_len(out->members);
                limit = quorum_max_down_limit((int) out->n_members);
                out->max_down = limit;
                if (conf_get_int(g, "max_down", false, 0, 1000000, &max_down, r)) {
                        if (max_down > limit)
                                conf_report_add(r, config_setting_get_member(g, "max_down"), NULL,
                                                "%lld is more than a group of %zu members tolerates "
                                                "without losing quorum (at most %d: n - (floor(n/2) + 1))",
                                                max_down, out->n_members, limit);
                        else {
                                out->max_down = (int) max_down;
                                out->max_down_set = true;
                        }
                }
        } else {
                /* Still check the value's type and range. */
                conf_get_int(g, "max_down", false, 0, 1000000, &max_down, r);
        }
        out->name = name;
}

static void s_parse_override(const config_setting_t *g, inventory_t *inv,
                             inventory_role_override_t *out, conf_report_t *r) {
        char *node = NULL;

        conf_check_known(g, s_override_keys, r);
        if (s_get_name(g, "node", &node, r))
                for (size_t i = 0; i < inv->n_role_overrides; i++)
                        if (inv->role_overrides[i].node && strcmp(inv->role_overrides[i].node, node) == 0) {
                                conf_report_add(r, config_setting_get_member(g, "node"), NULL,
                                                "\"%s\" already has an override", node);
                                break;
                        }
        inventory_get_ids(g, "roles", true, true, &out->roles, r);
        out->node = node;
}

int inventory_parse(const config_setting_t *root, inventory_t *inv, conf_report_t *r) {
        const config_setting_t *list;
        size_t before = r->n_lines, n;

        memset(inv, 0, sizeof *inv);

        list = s_list_of_groups(root, "groups", &n, r);
        if (n && !(inv->groups = calloc(n, sizeof *inv->groups)))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const config_setting_t *g = config_setting_get_elem(list, (unsigned) i);
                inv->n_groups = i + 1;
                if (!config_setting_is_group(g))
                        conf_report_add(r, g, NULL, "must be a group { name = ...; roles or nodes = [...]; }");
                else
                        s_parse_group(g, inv, &inv->groups[i], r);
        }

        list = s_list_of_groups(root, "quorum_groups", &n, r);
        if (n && !(inv->quorum_groups = calloc(n, sizeof *inv->quorum_groups)))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const config_setting_t *g = config_setting_get_elem(list, (unsigned) i);
                inv->n_quorum_groups = i + 1;
                if (!config_setting_is_group(g))
                        conf_report_add(r, g, NULL, "must be a group { name = ...; members = [...]; }");
                else
                        s_parse_quorum_group(g, inv, &inv->quorum_groups[i], r);
        }

        list = s_list_of_groups(root, "role_overrides", &n, r);
        if (n && !(inv->role_overrides = calloc(n, sizeof *inv->role_overrides)))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const config_setting_t *g = config_setting_get_elem(list, (unsigned) i);
                inv->n_role_overrides = i + 1;
                if (!config_setting_is_group(g))
                        conf_report_add(r, g, NULL, "must be a group { node = ...; roles = [...]; }");
                else
                        s_parse_override(g, inv, &inv->role_overrides[i], r);
        }
        return r->n_lines > before ? -EINVAL : 0;
}

void inventory_clear(inventory_t *inv) {
        if (!inv)
                return;
        for (size_t i = 0; i < inv->n_groups; i++) {
                free(inv->groups[i].name);
                conf_strv_free(inv->groups[i].roles);
                conf_strv_free(inv->groups[i].nodes);
        }
        free(inv->groups);
        for (size_t i = 0; i < inv->n_quorum_groups; i++) {
                free(inv->quorum_groups[i].name);
                conf_strv_free(inv->quorum_groups[i].members);
        }
        free(inv->quorum_groups);
        for (size_t i = 0; i < inv->n_role_overrides; i++) {
                free(inv->role_overrides[i].node);
                conf_strv_free(inv->role_overrides[i].roles);
        }
        free(inv->role_overrides);
        memset(inv, 0, sizeof *inv);
}

const inventory_group_t *inventory_find_group(const inventory_t *inv, const char *name) {
        for (size_t i = 0; inv && name && i < inv->n_groups; i++)
                if (inv->groups[i].name && strcmp(inv->groups[i].name, name) == 0)
                        return &inv->groups[i];
        return NULL;
}

const inventory_quorum_group_t *inventory_find_quorum_group(const inventory_t *inv,
                                                            const char *name) {
        for (size_t i = 0; inv && name && i < inv->n_quorum_groups; i++)
                if (inv->quorum_groups[i].name && strcmp(inv->quorum_groups[i].name, name) == 0)
                        return &inv->quorum_groups[i];
        return NULL;
}

const inventory_role_override_t *inventory_find_override(const inventory_t *inv,
                                                         const char *node_id) {
        for (size_t i = 0; inv && node_id && i < inv->n_role_overrides; i++)
                if (inv->role_overrides[i].node && strcmp(inv->role_overrides[i].node, node_id) == 0)
                        return &inv->role_overrides[i];
        return NULL;
}
