/* The node's state as heartbeats report it: health checks, package
 * versions and endpoints, measured on a thread of its own.
 *
 * Why a thread: a round may take seconds (each check up to its timeout,
 * dpkg-query forked while apt installs, PID 1 slow to answer during a
 * daemon-reload). Run where the heartbeat is sent, it held heartbeats back,
 * and the coordinator called a busy node unreachable (its node_timeout is
 * three heartbeat intervals by default). Now a heartbeat costs no I/O: it
 * carries the latest round.
 *
 * A round runs every interval, and at once after node_probe_invalidate.
 * A change the agent made (an install, a restart, a repoint) makes every
 * round begun before it stale: node_probe_report says so, and the session
 * then reports the health as unknown rather than as it was before the
 * change (a health gate must never pass on a measurement older than the
 * change it judges). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "agent/agent_config.h"
#include "agent/health.h"
#include "common/attrs.h"
#include "proto/hitless.pb-c.h"

typedef struct node_probe node_probe_t;

/* Runs the first round here (so a report exists from the start), then
 * starts the thread. cfg must outlive the probe. 0, or -errno. */
HL_MUST_USE int node_probe_new(const agent_config_t *cfg, int64_t interval_ms, node_probe_t **ret);

/* Stops the thread; waits for a round in progress (bounded by the
 * checks' timeouts). */
void node_probe_destroy(node_probe_t **p);

/* The latest round, unpacked (free with hitless__health_report__free_unpacked);
 * drained is never set here (the executor knows it). *ret_fresh: no change
 * since the round began. NULL on -ENOMEM. */
Hitless__HealthReport *node_probe_report(node_probe_t *p, bool *ret_fresh);

/* The node changed: rounds begun before now are stale; one starts now. */
void node_probe_invalidate(node_probe_t *p);
