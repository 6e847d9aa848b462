/* The dynamic pages of the HTTP server, built from the coordinator's live
 * modules (the same ones the admin socket reads): /metrics through
 * metrics_write(), /api/status through upgrade_status_build() and
 * upgrade_status_json(), so it is byte for byte what `hitlessctl upgrade
 * status --json` prints. Runs in the poll loop (http_server.h). */
#pragma once
#include <stddef.h>

#include "coordinator/admin/admin.h"
#include "coordinator/http/http_server.h"

/* An http_build_fn; ud is a const admin_deps_t *. 0 with a malloc'd
 * body, or -ENOMEM. */
int http_pages_build(void *ud, http_page_t page, char **ret_body, size_t *ret_len);
