/* How hitlessctl shows a HistoryList: a text table (time in local time,
 * actor, node, what) and the stable JSON object of the README. Pure: each
 * only writes to the FILE it is given. */
#pragma once
#include <stdio.h>

#include "proto/hitless.pb-c.h"

/* TIME, ACTOR, NODE, WHAT; for a command WHAT is "ACTION ID STATE",
 * then "upgrade ID", "finished TIME" and its message when it has them;
 * for an event "KIND: MESSAGE". */
void history_view_text(FILE *f, const Hitless__HistoryList *l);

/* One line: {"entries":[{"time","actor","node_id","kind","message",
 * "command_id","action","state","upgrade_id","finished"}]}. */
void history_view_json(FILE *f, const Hitless__HistoryList *l);
