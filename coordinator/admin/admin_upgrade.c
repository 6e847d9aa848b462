/* Upgrade status, control and rollback over the admin socket; see
 * admin_upgrade.h. */
#include "coordinator/admin/admin_upgrade.h"

#include <errno.h>
#include <stdio.h>

#include "common/clock.h"
#include "coordinator/upgrade/upgrade_status.h"

void admin_upgrade_answer_clear(admin_upgrade_answer_t *ans) {
        upgrade_status_free(ans->status);
        ans->status = NULL;
}

/* Answers with the status and message; or FAILED with r's message. */
static void s_answer(const admin_deps_t *d, int r, const char *message, Hitless__AdminResponse *resp,
                     admin_upgrade_answer_t *ans) {
        upgrade_view_t v;
        if (r < 0) {
                snprintf(ans->error, sizeof ans->error, "%s", message);
                resp->status = r == -EINVAL ? HITLESS__ADMIN_STATUS__ADMIN_BAD_REQUEST
                                            : HITLESS__ADMIN_STATUS__ADMIN_FAILED;
                resp->error = ans->error;
                return;
        }
        if (upgrade_status_build(upgrade_view(d->upgrade, &v) ? &v : NULL, clock_wall_ms(), message,
                                 &ans->status) < 0) {
                resp->status = HITLESS__ADMIN_STATUS__ADMIN_FAILED;
                resp->error = "out of memory";
                return;
        }
        resp->body_case = HITLESS__ADMIN_RESPONSE__BODY_UPGRADE_STATUS;
        resp->upgrade_status = ans->status;
}

void admin_upgrade_status(const admin_deps_t *d, Hitless__AdminResponse *resp, admin_upgrade_answer_t *ans) {
        s_answer(d, 0, "", resp, ans);
}

void admin_upgrade_control(const admin_deps_t *d, const Hitless__UpgradeControlRequest *req, const char *actor,
                           Hitless__AdminResponse *resp, admin_upgrade_answer_t *ans) {
        char msg[256];
        int r = upgrade_control(d->upgrade, req->op, actor, clock_wall_ms(), msg, sizeof msg);
        s_answer(d, r, msg, resp, ans);
}

void admin_upgrade_rollback(const admin_deps_t *d, const Hitless__RollbackRequest *req, const char *actor,
                            Hitless__AdminResponse *resp, admin_upgrade_answer_t *ans) {
        char msg[256];
        int r = upgrade_rollback(d->upgrade, req, actor, clock_wall_ms(), msg, sizeof msg);
        s_answer(d, r, msg, resp, ans);
}
