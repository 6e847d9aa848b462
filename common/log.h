/* Logging for the daemons and the CLI.
 *
 * Under systemd (JOURNAL_STREAM matches our stderr) lines go to journald
 * with structured fields: PRIORITY, SYSLOG_IDENTIFIER, and NODE_ID when the
 * line is about one node; log_with() adds UPGRADE_ID, COMMAND_ID and a
 * MESSAGE_ID from common/log_ids.h (explained by systemd/hitless.catalog,
 * `journalctl -x`). An empty field is left out. Otherwise they go to stderr as
 * "PROGRAM: LEVEL: message". Library code logs only at debug; programs log
 * where they decide what to do. Every message (and node id) is one line:
 * control characters and invalid UTF-8 in it are escaped (common/text.h),
 * whatever a peer put in the strings it is made of. */
#pragma once
#include <syslog.h>

void log_init(const char *program);
void log_set_max_level(int level);   /* LOG_ERR .. LOG_DEBUG */

/* Logs and returns -abs(err), for `return log_error_errno(r, "...")`.
 * "%m" in the format expands to strerror(err). */
int log_full_errno(int level, int err, const char *node_id, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

#define log_error(...)   (void) log_full_errno(LOG_ERR, 0, NULL, __VA_ARGS__)
#define log_warning(...) (void) log_full_errno(LOG_WARNING, 0, NULL, __VA_ARGS__)
#define log_notice(...)  (void) log_full_errno(LOG_NOTICE, 0, NULL, __VA_ARGS__)
#define log_info(...)    (void) log_full_errno(LOG_INFO, 0, NULL, __VA_ARGS__)
#define log_debug(...)   (void) log_full_errno(LOG_DEBUG, 0, NULL, __VA_ARGS__)
#define log_error_errno(err, ...)   log_full_errno(LOG_ERR, (err), NULL, __VA_ARGS__)
#define log_warning_errno(err, ...) log_full_errno(LOG_WARNING, (err), NULL, __VA_ARGS__)
/* A line about one node: carries NODE_ID= in the journal. */
#define log_node(level, node, ...)  (void) log_full_errno((level), 0, (node), __VA_ARGS__)

/* Journal fields of one line; NULL or "": not sent. */
typedef struct {
        const char *node_id;
        const char *upgrade_id;
        const char *command_id;
        const char *message_id;    /* 32 hex digits, from common/log_ids.h */
} log_fields_t;

/* A line with the fields in the journal (on stderr: "[NODE] message"). */
void log_with(int level, const log_fields_t *f, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
