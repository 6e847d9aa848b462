/* What a node points to now: for each endpoint kind of the policy
 * (agent_config_t.endpoints), the list its first mapped key holds, read
 * from the INI file (as repoint writes it: host:port or hosts, separated
 * by the map's separator). Sent in every heartbeat (HealthReport.endpoints)
 * so the coordinator, `hitlessctl nodes --json` and the consolidated view
 * show which controller cluster each node uses. */
#pragma once
#include <stddef.h>

#include "agent/agent_config.h"
#include "common/attrs.h"
#include "proto/hitless.pb-c.h"

/* At most this many kinds and endpoints per kind are reported. */
#define ENDPOINTS_NOW_MAX_KINDS 16
#define ENDPOINTS_NOW_MAX_PER_KIND 32

/* Fills *ret (malloc'ed; free with endpoints_now_free) with one list per
 * kind, in policy order. A file or key that cannot be read gives an empty
 * list for its kind (the heartbeat still goes out). Returns the number of
 * lists, or -ENOMEM. */
HL_MUST_USE int endpoints_now_read(const agent_config_t *policy, Hitless__EndpointList ***ret);
void endpoints_now_free(Hitless__EndpointList **lists, size_t n);
