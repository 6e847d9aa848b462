/* `hitlessctl upgrade status`: the wire's UpgradeStatus from a view of the
 * current upgrade (upgrade.h). A pure function of the view and now_ms.
 *
 * state: "complete", "rolled_back" (complete, and every node it changed
 * rolled back), "aborted", "rolling_back", "paused", "held",
 * "waiting_promote" or "running".
 * Phase state: "finished" (before the current phase, or everything done),
 * "aborted" (the current and later phases of an aborted upgrade),
 * "waiting_promote", "running" (the current phase), "pending" (later).
 * A phase's in_flight counts its nodes with a command in flight.
 * Conditions: Upgrading, Error, Complete, StoreDegraded (from the view's
 * store health), always all four in that order.
 * Nodes: the machine's order (plan order, then quorum members in no
 * phase). Stable words are listed in the README. */
#pragma once
#include <stdint.h>

#include "coordinator/upgrade/upgrade.h"
#include "proto/hitless.pb-c.h"

/* v NULL: no upgrade was ever started (upgrade_id ""). message: what the
 * request did (may be NULL). Returns 0 with *ret (free with
 * upgrade_status_free), or -ENOMEM. */
int upgrade_status_build(const upgrade_view_t *v, int64_t now_ms, const char *message,
                         Hitless__UpgradeStatus **ret);
void upgrade_status_free(Hitless__UpgradeStatus *st);
