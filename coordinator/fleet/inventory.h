/* The coordinator's inventory (coordinator.conf): groups of nodes that plans
 * select by name, quorum groups with their full member lists, and role
 * overrides.
 *
 *   groups = ( { name = "computes"; roles = ["compute"]; },
 *              { name = "edge"; nodes = ["c1", "c2"]; } );
 *   quorum_groups = ( { name = "cassandra"; members = ["db1", "db2", "db3"];
 *                       max_down = 1; } );
 *   role_overrides = ( { node = "db4"; roles = ["database"]; } );
 *
 * A group gives either roles (every node having any of them) or nodes (an
 * explicit list), not both. A quorum group's max_down defaults to, and may
 * not exceed, n - (floor(n/2) + 1): a larger value is a configuration error,
 * never clamped (see quorum.h). Quorum groups may overlap. Group and quorum
 * group names share one namespace, since a plan's phase selects either by
 * `group = NAME`. A role override replaces the roles a node's agent reports.
 *
 * Members and listed nodes need not be registered yet: a quorum member that
 * never registered counts as down. */
#pragma once
#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/conf.h"

typedef struct {
        char *name;
        char **roles;     /* NULL-terminated, or NULL when nodes is given */
        char **nodes;     /* NULL-terminated, or NULL when roles is given */
} inventory_group_t;

typedef struct {
        char *name;
        char **members;   /* NULL-terminated, distinct, non-empty */
        size_t n_members;
        int max_down;     /* resolved: the configured value, or the quorum limit */
        bool max_down_set;/* max_down was written in the config */
} inventory_quorum_group_t;

typedef struct {
        char *node;
        char **roles;     /* NULL-terminated; may be empty (no roles) */
} inventory_role_override_t;

typedef struct {
        inventory_group_t *groups;
        size_t n_groups;
        inventory_quorum_group_t *quorum_groups;
        size_t n_quorum_groups;
        inventory_role_override_t *role_overrides;
        size_t n_role_overrides;
} inventory_t;

/* Validates the inventory keys (groups, quorum_groups, role_overrides; the
 * caller checks root for unknown keys) of root into *inv (zeroed first; owns its
 * memory: inventory_clear it even after errors). Every problem is added to
 * r as "FILE:LINE: KEY: message". Returns 0, or -EINVAL when anything was
 * reported, -ENOMEM. */
int inventory_parse(const config_setting_t *root, inventory_t *inv, conf_report_t *r);
void inventory_clear(inventory_t *inv);

/* A list of ids (node ids or roles: node_id_valid()) at group.key into a
 * NULL-terminated vector (conf_strv_free), none listed twice, non-empty
 * unless allow_empty. Returns true when present and valid; reports every
 * problem naming the element. Shared with plan.c. */
bool inventory_get_ids(const config_setting_t *group, const char *key, bool required,
                       bool allow_empty, char ***ret, conf_report_t *r);

/* Lookups by name; NULL when absent. Returned pointers are owned by inv. */
const inventory_group_t *inventory_find_group(const inventory_t *inv, const char *name);
const inventory_quorum_group_t *inventory_find_quorum_group(const inventory_t *inv,
                                                            const char *name);
/* The override for node_id (its roles replace the agent's), or NULL. */
const inventory_role_override_t *inventory_find_override(const inventory_t *inv,
                                                         const char *node_id);
