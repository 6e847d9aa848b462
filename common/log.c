#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "common/text.h"

static const char *log_program = "hitless";
static int log_max_level = LOG_INFO;
static int log_to_journal;

/* systemd sets JOURNAL_STREAM=DEV:INODE when stderr is connected to the
 * journal; only then is a native journal entry the right destination. */
static int stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        struct stat st;
        unsigned long long dev, ino;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return 0;
        if (fstat(STDERR_FILENO, &st) < 0)
                return 0;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_init(const char *program) {
        log_program = program;
        log_to_journal = stderr_is_journal();
        const char *lvl = getenv("HITLESS_LOG_LEVEL");
        if (lvl && strcmp(lvl, "debug") == 0)
                log_max_level = LOG_DEBUG;
}

void log_set_max_level(int level) {
        log_max_level = level;
}

static const char *level_name(int level) {
        switch (level) {
        case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: case LOG_ERR: return "error";
        case LOG_WARNING: return "warning";
        case LOG_NOTICE: return "notice";
        case LOG_INFO: return "info";
        default: return "debug";
        }
}

int log_full_errno(int level, int err, const char *node_id, const char *fmt, ...) {
        int saved_errno = errno;
        char raw[2048], msg[2048], node[256];
        va_list ap;

        if (err < 0)
                err = -err;
        if (level > log_max_level)
                return -err;

        errno = err;  /* so that %m expands to the error we were given */
        va_start(ap, fmt);
        vsnprintf(raw, sizeof raw, fmt, ap);
        va_end(ap);
        /* Messages carry what peers sent (ids, versions, errors): a newline
         * or an escape sequence in one must not forge or hide a line. */
        text_escape(msg, sizeof msg, raw, 0);
        if (node_id) {
                text_escape(node, sizeof node, node_id, 0);
                node_id = node;
        }

        if (log_to_journal) {
                if (node_id)
                        sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", level,
                                        "SYSLOG_IDENTIFIER=%s", log_program,
                                        "NODE_ID=%s", node_id, NULL);
                else
                        sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", level,
                                        "SYSLOG_IDENTIFIER=%s", log_program, NULL);
        } else if (node_id) {
                fprintf(stderr, "%s: %s: [%s] %s\n", log_program, level_name(level), node_id, msg);
        } else {
                fprintf(stderr, "%s: %s: %s\n", log_program, level_name(level), msg);
        }
        errno = saved_errno;
        return -err;
}
