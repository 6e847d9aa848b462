/* How hitlessctl shows an UpgradeStatus: the full `upgrade status`, the
 * short status printed after start, pause, ... and rollback, and the
 * frames of `upgrade status --watch` (the JSON is common/upgrade_json.h). Pure: each only writes to the FILE it is given, so tests render
 * into memory. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proto/hitless.pb-c.h"

/* `upgrade status`: the conditions, then state, current phase and pause
 * reason, then a table of phases and one of nodes. An empty upgrade_id
 * prints "no upgrade has been started". */
void upgrade_view_text(FILE *f, const Hitless__UpgradeStatus *st);

/* The answer to a request that changed something: its message, then one
 * line "upgrade ID (plan NAME): STATE[, phase P][, paused: REASON]" and a
 * line per condition that holds. */
void upgrade_view_short(FILE *f, const Hitless__UpgradeStatus *st);

/* A frame of the live view: the upgrade's state line, the conditions, a
 * progress bar per phase, then the nodes in flight with their step, the
 * waiting reasons and the errors (at most UPGRADE_VIEW_LIST_MAX lines
 * each). Only `live` frames show how long a verifying node has been
 * healthy: that changes every second, and a plain log prints a frame only
 * when it differs from the one before. */
#define UPGRADE_VIEW_LIST_MAX 10
void upgrade_view_frame(FILE *f, const Hitless__UpgradeStatus *st, bool live);

/* "[####......]": width cells, settled of total filled (all of them when
 * total is 0). buf should hold width + 3 bytes; a shorter one is cut. */
void upgrade_view_bar(char *buf, size_t len, uint32_t settled, uint32_t total, unsigned width);

/* A phase's settled nodes: done, failed, rolled back or skipped. */
uint32_t upgrade_view_settled(const Hitless__UpgradePhaseStatus *p);

/* The upgrade will not move on by itself: its state is "complete",
 * "rolled_back" or "aborted". */
bool upgrade_view_over(const Hitless__UpgradeStatus *st);

/* What an operator can do next when the upgrade waits for one ("paused"
 * or "waiting_promote"): a line naming the commands; NULL otherwise (it
 * runs, is held by the store and goes on by itself, or is over). */
const char *upgrade_view_next_steps(const Hitless__UpgradeStatus *st);

/* The exit status of a watch that ended on st: 0 when complete without an
 * Error condition that holds, otherwise 1. */
int upgrade_view_exit_code(const Hitless__UpgradeStatus *st);
