/* hitlessctl: one file per command group, each exporting a ctl_command_t,
 * dispatched from the table in ctl/main.c.
 *
 * Exit codes (documented in the README):
 *   0 ok, 1 the operation failed, 2 usage or config error,
 *   3 coordinator unreachable. */
#pragma once
#include <stdbool.h>
#include <stdio.h>

#include "common/json.h"
#include "proto/hitless.pb-c.h"

enum {
        CTL_EXIT_OK = 0,
        CTL_EXIT_FAILED = 1,
        CTL_EXIT_USAGE = 2,
        CTL_EXIT_UNREACHABLE = 3,
};

typedef struct {
        const char *config_path;   /* coordinator config, to find the admin socket */
        const char *socket_path;   /* --socket, overrides the config */
        bool json;
        int timeout_ms;
} ctl_t;

typedef struct {
        const char *name;
        const char *usage;         /* one line per form, after "hitlessctl " */
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
extern const ctl_command_t ctl_cmd_check;
extern const ctl_command_t ctl_cmd_rollback;
extern const ctl_command_t ctl_cmd_plan;

/* Sends req to the coordinator and waits for the response (owned by the
 * caller: hitless__admin_response__free_unpacked). Returns CTL_EXIT_OK or
 * the exit code to use, having printed the error. A response with a
 * non-OK status is returned as CTL_EXIT_OK too: the caller reports it
 * with ctl_response_status(). */
int ctl_call(const ctl_t *ctl, Hitless__AdminRequest *req, Hitless__AdminResponse **ret);

/* Prints a failed response's error; returns its exit code. */
int ctl_response_status(const Hitless__AdminResponse *resp);

/* Strips --json (anywhere) from argv into ctl->json; returns the new argc. */
int ctl_take_json_flag(ctl_t *ctl, int argc, char **argv);

/* JSON output: json_string() from common/json.h. */
/* "3s ago", "2h ago", "never" for a unix time. */
const char *ctl_ago(long long unix_time, char *buf, size_t len);
