#include "agent/local.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/actions.h"
#include "agent/journal.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/json.h"

static int open_journal(const agent_config_t *cfg, journal_t **ret) {
        char path[4200];
        snprintf(path, sizeof path, "%s/journal.db", cfg->state_dir);
        int r = journal_open(path, ret);
        if (r < 0)
                fprintf(stderr, "hitless-agent: cannot open the node journal %s: %s\n", path, strerror(-r));
        return r;
}

typedef struct {
        bool json;
        bool first;
} print_ctx_t;

static int print_command(const journal_command_t *c, void *ud) {
        print_ctx_t *p = ud;
        Hitless__CommandStatus *st = c->result ? hitless__command_status__unpack(NULL, c->result_len, c->result)
                                               : NULL;
        const char *msg = st ? st->message : "";
        if (p->json) {
                printf("%s{\"id\":", p->first ? "" : ",");
                json_string(stdout, c->id);
                printf(",\"kind\":");
                json_string(stdout, c->kind);
                printf(",\"state\":");
                json_string(stdout, journal_state_name(c->state));
                printf(",\"created\":%lld,\"updated\":%lld,\"snapshot_id\":", (long long) c->created,
                       (long long) c->updated);
                json_string(stdout, st ? st->snapshot_id : c->snapshot_id);
                printf(",\"message\":");
                json_string(stdout, msg);
                printf("}");
        } else {
                char when[32];
                time_t t = (time_t) c->created;
                struct tm tm;
                if (localtime_r(&t, &tm))
                        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
                else
                        snprintf(when, sizeof when, "@%lld", (long long) c->created);
                printf("%-20s %-40s %-9s %-12s %s\n", when, c->id, c->kind, journal_state_name(c->state), msg);
        }
        p->first = false;
        if (st)
                hitless__command_status__free_unpacked(st, NULL);
        return 0;
}

int local_journal(const agent_config_t *cfg, int argc, char **argv) {
        print_ctx_t p = { .first = true };
        uint32_t limit = 100;
        journal_t *j;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0)
                        p.json = true;
                else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc)
                        limit = (uint32_t) strtoul(argv[++i], NULL, 10);
                else {
                        fprintf(stderr, "usage: hitless-agent journal [--json] [--limit N]\n");
                        return 2;
                }
        }
        if (open_journal(cfg, &j) < 0)
                return 1;
        if (p.json)
                printf("{\"commands\":[");
        else
                printf("%-20s %-40s %-9s %-12s %s\n", "TIME", "COMMAND", "KIND", "STATE", "MESSAGE");
        int r = journal_commands_recent(j, limit, print_command, &p);
        if (p.json)
                printf("]}\n");
        journal_close(&j);
        return r < 0 ? 1 : 0;
}

static void print_progress(const char *line, void *ud) {
        (void) ud;
        printf("  %s\n", line);
        fflush(stdout);
}

int local_rollback(const agent_config_t *cfg, int argc, char **argv) {
        Hitless__Command cmd = HITLESS__COMMAND__INIT;
        Hitless__RollbackAction rb = HITLESS__ROLLBACK_ACTION__INIT;
        Hitless__CommandStatus st = HITLESS__COMMAND_STATUS__INIT;
        action_result_t res = { 0 };
        char id[64];
        const char *snapshot = "";
        uint8_t *req = NULL, *out = NULL;
        size_t req_len = 0, out_len = 0;
        journal_t *j;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
                        snapshot = argv[++i];
                } else {
                        fprintf(stderr, "usage: hitless-agent rollback [--to SNAPSHOT]\n");
                        return 2;
                }
        }
        if (open_journal(cfg, &j) < 0)
                return 1;
        snprintf(id, sizeof id, "local-rollback-%lld-%d", (long long) clock_wall_s(), (int) getpid());
        rb.snapshot_id = (char *) snapshot;
        cmd.command_id = id;
        cmd.node_id = cfg->node_id;
        cmd.action_case = HITLESS__COMMAND__ACTION_ROLLBACK;
        cmd.rollback = &rb;
        if (codec_encode(&cmd.base, &req, &req_len) < 0) {
                fprintf(stderr, "hitless-agent: out of memory\n");
                journal_close(&j);
                return 1;
        }
        if (journal_command_begin_local(j, id, "rollback", req, req_len) < 0 ||
            journal_command_set_state(j, id, JCMD_RUNNING) < 0) {
                fprintf(stderr, "hitless-agent: cannot record the rollback in the journal: %s\n",
                        journal_last_error(j));
                free(req);
                journal_close(&j);
                return 1;
        }
        printf("rolling back %s%s\n", snapshot[0] ? "to " : "to the newest open snapshot", snapshot);
        action_ctx_t ctx = { cfg, j, print_progress, NULL };
        actions_rollback(&ctx, snapshot, NULL, &res);
        st.command_id = id;
        st.state = (Hitless__CommandState) res.state;
        st.error_code = res.error_code;
        st.message = res.message;
        st.snapshot_id = res.snapshot_id;
        st.output_tail = res.output_tail ? res.output_tail : "";
        /* Unrecorded, the journal shows the rollback unfinished: the next
         * agent start reports it interrupted. Not a success either way. */
        int encoded = codec_encode(&st.base, &out, &out_len);
        int recorded = encoded < 0 ? encoded : journal_command_finish(j, id, res.state, out, out_len);
        printf("%s: %s\n", journal_state_name(res.state), res.message);
        if (res.state != JCMD_SUCCEEDED && res.output_tail)
                printf("output (tail):\n%s\n", res.output_tail);
        if (recorded < 0)
                fprintf(stderr, "hitless-agent: cannot record the rollback's result in the journal: %s\n",
                        encoded < 0 ? "out of memory" : journal_last_error(j));
        int rc = res.state == JCMD_SUCCEEDED && recorded >= 0 ? 0 : 1;
        action_result_clear(&res);
        free(req);
        free(out);
        journal_close(&j);
        return rc;
}
