/* How hitlessctl shows `nodes`: which nodes a filter keeps, the health each
 * is shown with, and the summary line by health and by package version.
 * Pure: no I/O but the FILE given, nothing kept between calls. */
#pragma once
#include <stdbool.h>
#include <stdio.h>

#include "proto/hitless.pb-c.h"

#define NODES_FILTER_MAX_VERSIONS 8

/* Every criterion set must hold (AND). NULL or 0: any. */
typedef struct {
        const char *role;                                   /* has this role */
        const char *health;                                 /* as shown: healthy, degraded, unhealthy, unknown */
        const char *state;                                  /* online, unreachable */
        const char *versions[NODES_FILTER_MAX_VERSIONS];    /* "PKG=VER": PKG installed at VER */
        size_t n_versions;
} nodes_filter_t;

/* 0, or -EINVAL with the reason (naming the option and the values it
 * takes) in err: an unknown health or state, a version without "=". */
int nodes_filter_check(const nodes_filter_t *f, char *err, size_t len);

/* Whether any criterion is set. */
bool nodes_filter_active(const nodes_filter_t *f);

/* Whether node n passes every criterion of f. */
bool nodes_filter_match(const nodes_filter_t *f, const Hitless__NodeInfo *n);

/* The health a node is shown with: its last report while it is online,
 * "unknown" once it is unreachable (its last report is last_health). */
const char *nodes_health_shown(const Hitless__NodeInfo *n);
const char *nodes_last_health(const Hitless__NodeInfo *n);

/* The summary after the table, one line, then one per package:
 *   "10 nodes: 8 healthy, 1 unhealthy, 1 unknown (1 unreachable)"
 *   "  contrail-vrouter-agent: 2.0-1 on 6, 1.0-1 on 4"
 * of the nodes whose match[i] is true (all when match is NULL); with a
 * filter, "3 of 10 nodes: ...". Counts are in order of first appearance. */
void nodes_print_summary(FILE *out, const Hitless__NodeList *l, const bool *match, bool filtered);
