/* Upgrade plan files (libconfig), validated into typed structs.
 *
 *   name = "contrail-2.0";
 *   packages = ( { name = "contrail-vrouter-agent"; version = "2.0-1"; }, ... );
 *   allowed_paths = ( { from = "1.*"; to = "2.*"; package = "contrail-*"; } );
 *   version_order = "auto";          # or "dpkg", "rpm"
 *   phases = ( { name = "database"; nodes = { group = "cassandra"; }; batch = 1; ... } );
 *
 * Packages are a list of { name; version; }, not a group of name = version
 * settings: libconfig setting names cannot hold '.' or '+', which real
 * package names do ("python3.11", "libstdc++6").
 *
 * Every problem is reported as "FILE:LINE: KEY: message" (conf.h); unknown
 * keys are errors. Counts that depend on a phase's size ("25%") are kept as
 * specs and resolved with plan_math.h once the phase's nodes are known. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/admin_protocol.h"
#include "common/conf.h"
#include "coordinator/upgrade/plan_steps.h"


typedef enum {
        PLAN_ON_FAILURE_PAUSE = 0,
        PLAN_ON_FAILURE_ROLLBACK_NODE,
        PLAN_ON_FAILURE_ROLLBACK_PHASE,
} plan_on_failure_t;

typedef enum {
        PLAN_MODE_ROLLING = 0,   /* start the next node as soon as one finishes and budgets allow */
        PLAN_MODE_BATCH,         /* a barrier after every batch */
} plan_mode_t;

typedef enum {
        PLAN_SELECT_ROLES = 0,   /* nodes = { roles = [...] }: nodes with any of the roles */
        PLAN_SELECT_GROUP,       /* nodes = { group = "..." }: an inventory group or quorum group */
        PLAN_SELECT_LIST,        /* nodes = { list = [...] } */
} plan_select_t;

/* How versions are ordered to detect downgrades. AUTO: dpkg rules, unless
 * a version is valid only under rpm rules (e.g. "2.0^git1"). */
typedef enum {
        PLAN_ORDER_AUTO = 0,
        PLAN_ORDER_DPKG,
        PLAN_ORDER_RPM,
} plan_version_order_t;

typedef struct {
        char *name;
        char *version;
} plan_package_t;

/* fnmatch(3) patterns on versions; package NULL matches every package. */
typedef struct {
        char *package;
        char *from;
        char *to;
} plan_path_t;

typedef struct {
        char *kind;          /* "controller", "collector", "dns", ... */
        char **endpoints;    /* NULL-terminated "host:port", validated */
} plan_repoint_t;

typedef struct {
        char *name;
        unsigned line;               /* of the phase in the file */
        plan_select_t select;
        char **roles;                /* PLAN_SELECT_ROLES, NULL-terminated */
        char *group;                 /* PLAN_SELECT_GROUP */
        char **list;                 /* PLAN_SELECT_LIST, NULL-terminated */
        char batch[24];              /* plan_parse_batch spec, default "1" */
        int canary;                  /* default 0 */
        bool auto_promote;           /* default false */
        char max_failures[24];       /* plan_parse_max_failures spec, default "0" */
        int64_t min_healthy_time_ms; /* default 30 s */
        int64_t healthy_deadline_ms; /* default 5 min, >= min_healthy_time */
        plan_on_failure_t on_failure;/* default pause */
        bool drain;                  /* default false */
        plan_repoint_t *repoint;
        size_t n_repoint;
        char **restart;              /* units, NULL-terminated (empty when absent) */
        int64_t pause_between_batches_ms; /* default 0 */
        plan_mode_t mode;            /* default rolling */
        /* before, pre, post, after, wait_for (plan_steps.h): empty when absent */
        plan_steps_t steps[PLAN_STAGE__COUNT];
} plan_phase_t;

typedef struct {
        char *file;                  /* the name errors use */
        char *name;
        plan_package_t *packages;    /* at least one */
        size_t n_packages;
        plan_path_t *paths;          /* empty: every upgrade path is allowed */
        size_t n_paths;
        plan_version_order_t version_order;
        plan_phase_t *phases;        /* at least one, names distinct */
        size_t n_phases;
} plan_t;

/* Parses content (not NUL-terminated beyond len; NULs inside are an error)
 * as the plan file file_name: errors name file_name and the line. @include
 * directives are refused (a plan sent to the coordinator must never make
 * it read its own files). Returns 0 with *ret owned by the caller
 * (plan_free), -EINVAL with every problem in r (r->file should be
 * file_name), -EFBIG over PLAN_MAX_BYTES, -ENOMEM. */
int plan_parse_string(const char *file_name, const char *content, size_t len, plan_t **ret,
                      conf_report_t *r);

/* Reads path and parses it as above. -errno when it cannot be read. */
int plan_load(const char *path, plan_t **ret, conf_report_t *r);

void plan_free(plan_t **p);

const char *plan_on_failure_name(plan_on_failure_t v);
const char *plan_mode_name(plan_mode_t v);
const char *plan_version_order_name(plan_version_order_t v);

/* Valid package name: 1..255 of [A-Za-z0-9._+-], starting alphanumeric
 * (what both dpkg and rpm accept). */
bool plan_package_name_valid(const char *s);
