#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
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

/* Escapes a field value from a peer into buf (journal fields are one line
 * too); NULL for a field not sent. */
static const char *field(char *buf, size_t len, const char *value) {
        if (!value || !value[0])
                return NULL;
        text_escape(buf, len, value, 0);
        return buf;
}

static void emit(int level, const log_fields_t *f, const char *fmt, va_list ap) {
        char raw[2048], msg[2048], node[256], upgrade[128], command[128];
        const char *node_id = field(node, sizeof node, f->node_id);
        const char *upgrade_id = field(upgrade, sizeof upgrade, f->upgrade_id);
        const char *command_id = field(command, sizeof command, f->command_id);

        vsnprintf(raw, sizeof raw, fmt, ap);
        /* Messages carry what peers sent (ids, versions, errors): a newline
         * or an escape sequence in one must not forge or hide a line. */
        text_escape(msg, sizeof msg, raw, 0);

        if (log_to_journal) {
                char lines[7][2200];
                struct iovec iov[7];
                int n = 0;
                snprintf(lines[n++], sizeof lines[0], "MESSAGE=%s", msg);
                snprintf(lines[n++], sizeof lines[0], "PRIORITY=%d", level);
                snprintf(lines[n++], sizeof lines[0], "SYSLOG_IDENTIFIER=%s", log_program);
                if (node_id)
                        snprintf(lines[n++], sizeof lines[0], "NODE_ID=%s", node_id);
                if (upgrade_id)
                        snprintf(lines[n++], sizeof lines[0], "UPGRADE_ID=%s", upgrade_id);
                if (command_id)
                        snprintf(lines[n++], sizeof lines[0], "COMMAND_ID=%s", command_id);
                if (f->message_id && f->message_id[0])
                        snprintf(lines[n++], sizeof lines[0], "MESSAGE_ID=%s", f->message_id);
                for (int i = 0; i < n; i++)
                        iov[i] = (struct iovec) { .iov_base = lines[i], .iov_len = strlen(lines[i]) };
                sd_journal_sendv(iov, n);
        } else if (node_id) {
                fprintf(stderr, "%s: %s: [%s] %s\n", log_program, level_name(level), node_id, msg);
        } else {
                fprintf(stderr, "%s: %s: %s\n", log_program, level_name(level), msg);
        }
}

int log_full_errno(int level, int err, const char *node_id, const char *fmt, ...) {
        int saved_errno = errno;
        log_fields_t f = { .node_id = node_id };
        va_list ap;

        if (err < 0)
                err = -err;
        if (level > log_max_level)
                return -err;
        errno = err;  /* so that %m expands to the error we were given */
        va_start(ap, fmt);
        emit(level, &f, fmt, ap);
        va_end(ap);
        errno = saved_errno;
        return -err;
}

void log_with(int level, const log_fields_t *f, const char *fmt, ...) {
        int saved_errno = errno;
        va_list ap;

        if (level > log_max_level)
                return;
        va_start(ap, fmt);
        emit(level, f, fmt, ap);
        va_end(ap);
        errno = saved_errno;
}
