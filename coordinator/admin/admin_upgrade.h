/* The admin requests about the running upgrade: `hitlessctl upgrade
 * status|pause|resume|abort|promote` and `hitlessctl rollback` within it.
 * Each is answered with the upgrade's status (its message says what the
 * request did), or ADMIN_FAILED with the reason. Changes are recorded with
 * the actor (the CLI's unix user) before they take effect (upgrade.h).
 *
 * The answer borrows from ans: send it, then admin_upgrade_answer_clear(). */
#pragma once
#include "coordinator/admin/admin.h"
#include "proto/hitless.pb-c.h"

typedef struct {
        Hitless__UpgradeStatus *status;
        char error[320];
} admin_upgrade_answer_t;

void admin_upgrade_answer_clear(admin_upgrade_answer_t *ans);

void admin_upgrade_status(const admin_deps_t *d, Hitless__AdminResponse *resp, admin_upgrade_answer_t *ans);
void admin_upgrade_control(const admin_deps_t *d, const Hitless__UpgradeControlRequest *req, const char *actor,
                           Hitless__AdminResponse *resp, admin_upgrade_answer_t *ans);
/* Rollbacks of nodes, a phase or all in the current upgrade. */
void admin_upgrade_rollback(const admin_deps_t *d, const Hitless__RollbackRequest *req, const char *actor,
                            Hitless__AdminResponse *resp, admin_upgrade_answer_t *ans);
