/* The admin requests about plans: `hitlessctl plan check` and
 * `hitlessctl upgrade start`. Both parse the plan sent as text (errors
 * FILE:LINE: KEY, answered ADMIN_BAD_REQUEST) and preview it against the
 * fleet as it is now (plan_preview.h). plan check answers the preview;
 * upgrade start answers a refused plan (ADMIN_FAILED) with the same
 * preview, and a valid one with the started upgrade's status.
 *
 * The answer borrows memory from ctx: send it, then admin_plan_clear(). */
#pragma once
#include "coordinator/admin/admin.h"
#include "proto/hitless.pb-c.h"

typedef struct admin_plan_ctx admin_plan_ctx_t;

/* A zeroed context for one request. NULL when out of memory. */
admin_plan_ctx_t *admin_plan_ctx_new(void);
/* Frees everything, ctx included (accepts NULL). */
void admin_plan_clear(admin_plan_ctx_t *ctx);

void admin_plan_check(const admin_deps_t *d, const Hitless__PlanCheckRequest *req, const char *actor,
                      Hitless__AdminResponse *resp, admin_plan_ctx_t *ctx);
void admin_upgrade_start(const admin_deps_t *d, const Hitless__UpgradeStartRequest *req, const char *actor,
                         Hitless__AdminResponse *resp, admin_plan_ctx_t *ctx);
