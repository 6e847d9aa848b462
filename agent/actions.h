/* What the agent does for each command, on the real node, within its
 * policy. Each action fills an action_result_t; none talks to the network
 * or the journal's command table (agent/executor.c does).
 *
 * Every action that changes the node first makes sure a snapshot is open
 * for its upgrade (actions_ensure_snapshot): installed versions of the
 * managed packages, every file repoint may rewrite (content, mode, owner),
 * the state of every policy unit, and the drain state. Rollback restores
 * from that snapshot, in reverse order of the upgrade steps: packages,
 * files, units, health, undrain. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "agent/agent_config.h"
#include "agent/health.h"
#include "agent/journal.h"
#include "common/attrs.h"
#include "common/exec.h"
#include "proto/hitless.pb-c.h"

typedef struct {
        journal_state_t state;        /* JCMD_SUCCEEDED, JCMD_FAILED or JCMD_REFUSED */
        char error_code[32];          /* "" on success */
        char message[1024];
        char *output_tail;            /* owned, may be NULL */
        bool have_health;
        health_report_t health;
        bool have_packages;
        char **versions;              /* of cfg->packages, owned */
        size_t n_versions;
        char snapshot_id[64];
} action_result_t;

void action_result_clear(action_result_t *r);
/* Sets state, error code and a formatted message in one go. */
void action_result_set(action_result_t *r, journal_state_t state, const char *error_code,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

typedef struct {
        const agent_config_t *cfg;
        journal_t *journal;
        /* Called with a one-line progress message while an action runs. */
        void (*progress)(const char *line, void *ud);
        void *ud;
} action_ctx_t;

/* Moves out's output into r->output_tail and frees out. */
void action_result_keep_output(action_result_t *r, exec_result_t *out);

/* True if the action changes the node (and so needs a snapshot): every
 * action but check and rollback, and a task only when the policy says it
 * changes the node. */
bool action_changes_node(const agent_config_t *cfg, const Hitless__Command *cmd);

/* Checks the command against the policy without changing anything.
 * Returns true if allowed; otherwise fills r (REFUSED, "policy"). */
bool actions_policy_allows(const action_ctx_t *ctx, const Hitless__Command *cmd, action_result_t *r);

/* The open snapshot for upgrade_id into ret_id, taking one now if there is
 * none: 1 when taken now, 0 when one was open, or -errno (r says why). */
HL_MUST_USE int actions_ensure_snapshot(const action_ctx_t *ctx, const char *upgrade_id, char ret_id[64],
                                        action_result_t *r);

/* Runs the command's action. r->state tells the outcome. */
void actions_run(const action_ctx_t *ctx, const Hitless__Command *cmd, action_result_t *r);

/* Rollback to snapshot_id; when it is "" or NULL, to the open snapshot of
 * upgrade_id, or with upgrade_id "" or NULL, to the newest open snapshot.
 * Within an upgrade, no open snapshot means the upgrade changed nothing
 * here (or was rolled back already): that succeeds with nothing to do.
 * Also used by `hitless-agent rollback` without a coordinator. */
void actions_rollback(const action_ctx_t *ctx, const char *snapshot_id, const char *upgrade_id,
                      action_result_t *r);

/* For a command the journal shows unfinished after a restart: fills r
 * with the node's real state now (installed versions): state INTERRUPTED,
 * error_code "interrupted-completed" for an install whose requested
 * versions are all in place (apt finished it while the agent restarted, as
 * when it upgrades hitless-agent itself), else "interrupted". Never runs
 * anything. */
void actions_describe_real_state(const action_ctx_t *ctx, const journal_command_t *c,
                                 action_result_t *r);
