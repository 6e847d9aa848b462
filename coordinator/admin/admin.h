/* The admin API: hitlessctl's requests over a local ipc:// socket.
 *
 * The socket lives in a directory the coordinator creates with mode 0750,
 * so only root and the coordinator's group can reach it. Each request's
 * sender is identified by SO_PEERCRED on its connection and recorded as
 * "unix:USER" in the event log for every change it makes. */
#pragma once
#include <stdint.h>

#include "coordinator/fleet/agent_link.h"
#include "coordinator/commands/commands.h"
#include "coordinator/coord_config.h"
#include "coordinator/fleet/fleet.h"
#include "coordinator/fleet/keyring.h"
#include "coordinator/store/store.h"
#include "coordinator/jobs/jobs.h"
#include "coordinator/upgrade/upgrade.h"
#include "coordinator/fleet/zap.h"

typedef struct admin admin_t;

typedef struct {
        store_t *store;
        fleet_t *fleet;
        keyring_t *keyring;
        agent_link_t *agents;
        commands_t *commands;
        const zap_stats_t *zap_stats;
        int64_t started;             /* unix seconds */
        /* The running configuration, read through this pointer because a
         * reload replaces it (plan check needs its inventory). */
        coord_config_t *const *config;
        upgrade_t *upgrade;
        jobs_t *jobs;
} admin_deps_t;

/* Creates the socket's directory (0750) and binds ipc://path. An existing
 * directory is used (and set to 0750) only when it is a directory owned by
 * this uid, not sticky and not writable by group or others; any other is
 * left untouched and admin_new returns -EPERM, having logged why. */
int admin_new(void *ctx, const char *path, const admin_deps_t *deps, admin_t **ret);
void admin_destroy(admin_t **a);
void *admin_socket(admin_t *a);

/* Answers every request waiting on the socket. */
int admin_handle_pending(admin_t *a);
