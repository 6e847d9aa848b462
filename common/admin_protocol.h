/* What the coordinator's admin socket and hitlessctl agree on, beside the
 * messages in proto/hitless.proto: where the socket is by default, and how
 * large one request may be. hitlessctl needs only proto/ and common/. */
#pragma once

/* The coordinator's config; hitlessctl reads its admin_socket setting. */
#define COORD_DEFAULT_CONFIG "/etc/hitless/coordinator.conf"
#define COORD_DEFAULT_ADMIN_SOCKET "/run/hitless/admin.sock"

/* One admin request at most; larger ones are refused unread. Requests are
 * small; responses (a 10,000 node list) may be large. */
#define ADMIN_MAX_REQUEST (64 * 1024)

/* Plans travel inside one admin request, with room for its other fields. */
#define PLAN_MAX_BYTES (60 * 1024)
