#include "agent/metrics_textfile.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/atomic_file.h"
#include "common/prom.h"

void metrics_textfile_format(FILE *f, const metrics_textfile_t *m) {
        static const health_state_t states[] = { HEALTH_STATE_HEALTHY, HEALTH_STATE_DEGRADED,
                                                 HEALTH_STATE_UNHEALTHY, HEALTH_STATE_UNKNOWN };
        fputs("# HELP hitless_agent_health The node's health as its last heartbeat reported it (1 for its state).\n"
              "# TYPE hitless_agent_health gauge\n", f);
        for (size_t i = 0; i < sizeof states / sizeof *states; i++)
                fprintf(f, "hitless_agent_health{state=\"%s\"} %d\n", health_state_name(states[i]),
                        m->health == states[i]);
        fprintf(f, "# HELP hitless_agent_drained 1 while the agent has the node drained.\n"
                   "# TYPE hitless_agent_drained gauge\nhitless_agent_drained %d\n", m->drained);
        fprintf(f, "# HELP hitless_agent_registered 1 while the coordinator has welcomed the agent.\n"
                   "# TYPE hitless_agent_registered gauge\nhitless_agent_registered %d\n", m->registered);
        if (m->last.id[0]) {
                fputs("# HELP hitless_agent_last_command_info The last command that ended; always 1.\n"
                      "# TYPE hitless_agent_last_command_info gauge\nhitless_agent_last_command_info{id=", f);
                prom_label_value(f, m->last.id);
                fputs(",action=", f);
                prom_label_value(f, m->last.action);
                fputs(",state=", f);
                prom_label_value(f, m->last.state);
                fputs("} 1\n", f);
                fprintf(f, "# HELP hitless_agent_last_command_end_time_seconds When it ended, unix seconds.\n"
                           "# TYPE hitless_agent_last_command_end_time_seconds gauge\n"
                           "hitless_agent_last_command_end_time_seconds %lld\n", (long long) m->last.finished);
        }
        if (m->journal_bytes >= 0)
                fprintf(f, "# HELP hitless_agent_journal_bytes The node journal's size, with its WAL.\n"
                           "# TYPE hitless_agent_journal_bytes gauge\nhitless_agent_journal_bytes %lld\n",
                        (long long) m->journal_bytes);
        fprintf(f, "# HELP hitless_agent_textfile_time_seconds When the agent wrote this file, unix seconds.\n"
                   "# TYPE hitless_agent_textfile_time_seconds gauge\nhitless_agent_textfile_time_seconds %lld\n",
                (long long) m->now);
}

int64_t metrics_textfile_journal_bytes(const char *state_dir) {
        static const char *const names[] = { "journal.db", "journal.db-wal" };
        int64_t total = 0;
        for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
                char path[4200];
                struct stat st;
                snprintf(path, sizeof path, "%s/%s", state_dir, names[i]);
                if (stat(path, &st) == 0)
                        total += st.st_size;
                else if (i == 0)
                        return -1;
        }
        return total;
}

int metrics_textfile_write(const char *path, const metrics_textfile_t *m) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        metrics_textfile_format(f, m);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        int r = atomic_file_replace(path, buf, len, 0644, getuid(), getgid());
        free(buf);
        return r;
}
