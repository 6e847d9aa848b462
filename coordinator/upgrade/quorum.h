/* Quorum budgets: may these nodes go down for an upgrade step without any
 * quorum group (a Cassandra ring, a ZooKeeper ensemble) losing quorum?
 *
 * Pure functions over a caller-owned view of the fleet: no I/O, no
 * allocation, nothing kept between calls. Nodes are indices 0..n_nodes-1.
 *
 * A group of n members tolerates quorum_max_down_limit(n) members down.
 * Unhealthy, unreachable, never-registered and in-step members ALL count as
 * down: for the database a member that does not answer is gone, whatever
 * the reason. A member index outside the fleet also counts as down (unknown
 * is treated as the worst case). Groups may overlap. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

typedef enum {
        NODE_STATUS_UP = 0,        /* registered, reachable, healthy, idle */
        NODE_STATUS_DONE,          /* upgraded and healthy again: counts as up */
        NODE_STATUS_UNHEALTHY,
        NODE_STATUS_UNREACHABLE,
        NODE_STATUS_UNREGISTERED,  /* in the inventory, never registered */
        NODE_STATUS_IN_STEP,       /* being upgraded now */
        NODE_STATUS_FAILED,        /* failed with its sequence unfinished */
        NODE_STATUS_DRAINED,       /* its agent says it is drained (by any command) */
        NODE_STATUS__COUNT
} node_status_t;

const char *node_status_name(node_status_t s);

/* True for every status that costs a group budget (all but UP and DONE). */
bool node_status_is_down(node_status_t s);

/* max_down meaning "as many as quorum allows". */
#define QUORUM_MAX_DOWN_DEFAULT (-1)

typedef struct {
        const char *name;       /* for explanations; NULL prints "#<index>" */
        const int *members;     /* node indices, borrowed */
        size_t n_members;
        int max_down;           /* QUORUM_MAX_DOWN_DEFAULT, or 0..limit */
        /* The operator accepts losing this service while a member is
         * upgraded: a group whose budget is 0 is then taken down one member
         * at a time instead of being reported as never upgradable. */
        bool accept_outage;
} quorum_group_t;

/* The fleet as the decision functions see it; every pointer is borrowed. */
typedef struct {
        const quorum_group_t *groups;
        size_t n_groups;
        const node_status_t *status;   /* n_nodes entries */
        size_t n_nodes;
        const char *const *names;      /* optional (NULL): "node<index>" */
} quorum_fleet_t;

/* n - (floor(n/2) + 1): 1->0, 2->0, 3->1, 4->1, 5->2, 7->3. -EINVAL if n < 1. */
int quorum_max_down_limit(int n);

/* Checks a group against a fleet of n_nodes: -EINVAL when empty, a member
 * is out of range or listed twice, or max_down is below -1; -ERANGE when
 * max_down is above quorum_max_down_limit(). A max_down that would let
 * quorum be lost is REJECTED, not clamped: it is a configuration mistake the
 * operator must see. Lower values (stricter than quorum) are accepted. */
int quorum_group_validate(const quorum_group_t *g, size_t n_nodes);

/* The budget the decision functions enforce. Even for a group that was
 * never validated it is clamped to the quorum limit (so a bad max_down can
 * not loosen safety), an invalid negative max_down means 0, and
 * accept_outage turns a budget of 0 into 1. */
int quorum_group_budget(const quorum_group_t *g);

bool quorum_group_has(const quorum_group_t *g, int node);

/* Members of group gi that are down now or listed in also[] (nodes about
 * to start a step), each counted once. */
int quorum_group_down(const quorum_fleet_t *f, size_t gi, const int *also, size_t n_also);

/* Would starting steps on nodes[] (in addition to whatever is down now)
 * keep every group within budget? Only groups that would get a NEWLY down
 * member are judged: a group already over budget because of health blocks
 * only steps on its own up members, not unrelated ones. */
bool quorum_budget_allows(const quorum_fleet_t *f, const int *nodes, size_t n);

/* The first group (lowest index) that forbids starting node once also[] has
 * started, as an index >= 0; -ENOENT if none does (including when node is
 * already down itself: its step costs no budget); -EINVAL for a node out of
 * range. */
int quorum_blocking_group(const quorum_fleet_t *f, int node, const int *also, size_t n_also);

/* Explains why node must wait, e.g.
 *   "group cassandra: 1 of 3 down (db2 unhealthy), max_down 1"
 * Members in also[] are listed as "starting". Writes at most len bytes
 * (NUL included, truncating) and returns the blocking group's index; -ENOENT
 * when nothing blocks node, -EINVAL for bad arguments (buf untouched). */
int quorum_explain(const quorum_fleet_t *f, int node, const int *also, size_t n_also,
                   char *buf, size_t len);
