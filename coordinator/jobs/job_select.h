/* What a batch command's selector (JobSelector) means, and its counts
 * (--batch, --max-failures). Reads the fleet and the inventory; no I/O. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "common/attrs.h"
#include "coordinator/fleet/fleet.h"
#include "coordinator/fleet/inventory.h"
#include "proto/hitless.pb-c.h"

/* The nodes sel selects, in fleet order (sorted by id), each once:
 * node_ids (each must be known), nodes having one of roles (a role no
 * known node has is unknown), members of the groups (an inventory group
 * or a quorum group), or all; minus exclude. *ret_ids is a malloc'ed
 * vector of malloc'ed ids (job_select_free). -EINVAL with the reason in
 * err: an unknown node, role or group, nothing selected (also when
 * nothing matches after exclude); -ENOMEM. */
HL_MUST_USE int job_select(fleet_t *fleet, const inventory_t *inv, const Hitless__JobSelector *sel,
                           char ***ret_ids, size_t *ret_n, char *err, size_t err_len);
void job_select_free(char **ids, size_t n);

/* "N" or "N%" of n nodes. A percentage is rounded up for a batch (at least
 * 1) and down for max_failures. "" gives def. -EINVAL: not a number,
 * a percentage above 100, a batch below 1 (min 1) or garbage after it. */
HL_MUST_USE int job_parse_count(const char *s, size_t n, int min, int def, bool round_up, int *ret);
