/* hitlessctl: one file per command group, each exporting a ctl_command_t,
 * dispatched from the table in ctl/main.c.
 *
 * Exit codes (documented in the README):
 *   0 ok, 1 the operation failed, 2 usage or config error,
 *   3 coordinator unreachable. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/json.h"
#include "proto/hitless.pb-c.h"

enum {
        CTL_EXIT_OK = 0,
        CTL_EXIT_FAILED = 1,
        CTL_EXIT_USAGE = 2,
        CTL_EXIT_UNREACHABLE = 3,
        CTL_EXIT_WAITS_FOR_OPERATOR = 4,   /* upgrade status --watch --exit-on-pause */
};

typedef struct {
        const char *config_path;   /* coordinator config, to find the admin socket */
        const char *socket_path;   /* --socket, overrides the config */
        bool json;
        int timeout_ms;
} ctl_t;

typedef struct {
        const char *name;
        const char *usage;         /* its forms, "\n"-separated, each after "hitlessctl " */
        int (*exec)(ctl_t *ctl, int argc, char **argv);
} ctl_command_t;

extern const ctl_command_t ctl_cmd_nodes;
extern const ctl_command_t ctl_cmd_keys;
extern const ctl_command_t ctl_cmd_events;
extern const ctl_command_t ctl_cmd_status;
extern const ctl_command_t ctl_cmd_drain;
extern const ctl_command_t ctl_cmd_undrain;
extern const ctl_command_t ctl_cmd_install;
extern const ctl_command_t ctl_cmd_repoint;
extern const ctl_command_t ctl_cmd_restart;
extern const ctl_command_t ctl_cmd_start;
extern const ctl_command_t ctl_cmd_stop;
extern const ctl_command_t ctl_cmd_task;
extern const ctl_command_t ctl_cmd_check;
extern const ctl_command_t ctl_cmd_rollback;
extern const ctl_command_t ctl_cmd_plan;
extern const ctl_command_t ctl_cmd_upgrade;
extern const ctl_command_t ctl_cmd_history;
extern const ctl_command_t ctl_cmd_jobs;
extern const ctl_command_t ctl_cmd_job;

/* Sends req to the coordinator and waits for the response (owned by the
 * caller: hitless__admin_response__free_unpacked), made safe to print
 * with ctl_escape_response(ctl->json). Returns CTL_EXIT_OK or
 * the exit code to use, having printed the error. A response with a
 * non-OK status is returned as CTL_EXIT_OK too: the caller reports it
 * with ctl_response_status(). */
int ctl_call(const ctl_t *ctl, Hitless__AdminRequest *req, Hitless__AdminResponse **ret);

/* The admin socket's path into buf (ctl/admin_socket.c): --socket, else
 * admin_socket of the coordinator's config. A config given with -c must
 * load (CTL_EXIT_USAGE, having printed why). The default config need not:
 * when it cannot be read or is invalid, the problem is printed as a
 * warning and the admin_socket it names (if it parses), else the default
 * socket, is used, so that a typo in an unrelated setting or a config
 * readable only by root does not cut the operator off. */
int ctl_admin_socket(const ctl_t *ctl, char *buf, size_t len);

/* Makes a response safe to print (ctl_call() does it): with json, only
 * its error, printed as text even then; otherwise every string in it, at
 * any depth, is escaped (common/text.h), a command's output tail keeping
 * its line breaks. Strings come from the coordinator and, through it,
 * from agents. 0, or -ENOMEM. */
int ctl_escape_response(Hitless__AdminResponse *resp, bool json);

/* ctl_call() for an answer that must be ADMIN_OK with this body: *ret is
 * set only then; otherwise the exit code, the error printed. */
int ctl_request(const ctl_t *ctl, Hitless__AdminRequest *req, Hitless__AdminResponse__BodyCase body,
                Hitless__AdminResponse **ret);

/* Batch jobs (ctl/cmd_jobs.c): sends jr and prints its dry run, its id
 * (no_wait), or each node's result as it arrives and a summary. Exit 0
 * only when every node succeeded (or the dry run / no_wait answer came). */
int ctl_job_run(ctl_t *ctl, Hitless__JobRequest *jr, bool no_wait);

/* Prints a failed response's error; returns its exit code. */
int ctl_response_status(const Hitless__AdminResponse *resp);

/* Strips --json (anywhere) from argv into ctl->json; returns the new argc. */
int ctl_take_json_flag(ctl_t *ctl, int argc, char **argv);

/* Prints each line (form) of cmd->usage after a prefix: first, then rest. */
void ctl_print_forms(FILE *f, const ctl_command_t *cmd, const char *first, const char *rest);
/* Prints "usage: hitlessctl FORM" lines to stderr; returns CTL_EXIT_USAGE. */
int ctl_usage(const ctl_command_t *cmd);

/* [--node NODE] [--limit N] after argv[0], for events and history: sets
 * *ret_node / *ret_limit (1..CTL_LIMIT_MAX) when given. CTL_EXIT_OK, or
 * CTL_EXIT_USAGE having said why. */
#define CTL_LIMIT_MAX 10000
int ctl_parse_node_limit(const ctl_command_t *cmd, int argc, char **argv, char **ret_node,
                         uint32_t *ret_limit);

/* "3s ago", "2h ago", "never" for a unix time. */
const char *ctl_ago(long long unix_time, char *buf, size_t len);
/* "2024-05-01 10:00:03" in local time ("@T" when it cannot be shown). */
const char *ctl_local_time(long long unix_time, char *buf, size_t len);

/* A text table whose columns are as wide as their widest cell; the last
 * column is not padded. Cells are copied; NULL or "" shows as "-". */
#define CTL_TABLE_COLS 8
typedef struct {
        char **cells;          /* rows * cols */
        size_t rows, cap, cols;
} ctl_table_t;

/* Adds a row of t->cols (<= CTL_TABLE_COLS) strings; a row that cannot be
 * allocated is left out. */
void ctl_table_add(ctl_table_t *t, ...);
/* Prints every row, each after indent, and empties the table. */
void ctl_table_print(FILE *f, ctl_table_t *t, const char *indent);

/* JSON output: common/json.h. */

/* Plans (ctl/cmd_plan.c), for plan check and upgrade start. */
/* Reads the plan file at path and sends it as body (PLAN_CHECK or
 * UPGRADE_START); like ctl_call(), and CTL_EXIT_USAGE for a file that
 * cannot be read or is not a plan-sized text (said why). */
int ctl_send_plan(const ctl_t *ctl, const char *path, Hitless__AdminRequest__BodyCase body,
                  Hitless__AdminResponse **ret);
/* Prints a PlanPreview (JSON with ctl->json): a plan that does not parse
 * as its FILE:LINE: KEY lines on stderr (CTL_EXIT_USAGE), otherwise the
 * preview with its refusals (CTL_EXIT_FAILED when it has any, else
 * CTL_EXIT_OK). */
int ctl_plan_preview_report(const ctl_t *ctl, const Hitless__PlanPreview *pv);

/* `keys accept --all` (ctl/keys_accept_all.c): lists the pending keys
 * that are their node id's sole claim with their source addresses and
 * the claims it skips, asks on a terminal unless yes (CTL_EXIT_USAGE
 * without one), then accepts exactly the keys confirmed. CTL_EXIT_FAILED
 * when the coordinator refused some of them (the set changed) or the
 * admin said no. */
int ctl_keys_accept_all(const ctl_t *ctl, bool yes);

/* Prints an answer carrying an UpgradeStatus (upgrade start, pause, ...,
 * and rollback within an upgrade): with ctl->json the status as JSON,
 * otherwise its message and a short status. Returns the exit code: the
 * response's status (its error printed), else CTL_EXIT_OK. */
int ctl_upgrade_answer(const ctl_t *ctl, const Hitless__AdminResponse *resp);
