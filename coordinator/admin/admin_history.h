/* The answer to `hitlessctl history` (HistoryRequest): admin actions and
 * commands from the store (store_history_foreach), as a HistoryList.
 *
 * A command entry has kind "command", its action and upgrade id from the
 * packed Command it was sent as, its state by name ("sent" before the
 * agent acknowledged it), finished = its last update once the state is
 * final (succeeded and after), and the message of its latest result. */
#pragma once
#include "coordinator/store/store.h"
#include "proto/hitless.pb-c.h"

/* At most this many entries, whatever the request asks. */
#define ADMIN_HISTORY_MAX_LIMIT 10000

/* Builds the list (every string copied; free with admin_history_free) for
 * req->node_id ("" every node) and the newest req->limit entries (0: the
 * store's default; capped at ADMIN_HISTORY_MAX_LIMIT), oldest first.
 * Returns 0, -ENOMEM, or the store's -errno. */
int admin_history_build(store_t *store, const Hitless__HistoryRequest *req, Hitless__HistoryList **ret);

/* Accepts NULL. */
void admin_history_free(Hitless__HistoryList *list);
