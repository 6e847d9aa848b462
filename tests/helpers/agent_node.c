#include "tests/helpers/agent_node.h"

#include <errno.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/atomic_file.h"
#include "common/conf.h"

static int s_write(const char *path, const char *text) {
        return atomic_file_replace(path, text, strlen(text), 0600, (uid_t) -1, (gid_t) -1);
}

int agent_node_create(agent_node_t *n, const char *conf_text) {
        return agent_node_create_policy(n, conf_text, "");
}

int agent_node_create_policy(agent_node_t *n, const char *conf_text, const char *policy_extra) {
        char path[128], text[8192];
        conf_report_t report;
        int r;

        memset(n, 0, sizeof *n);
        snprintf(n->dir, sizeof n->dir, "/tmp/hitless-node-XXXXXX");
        if (!mkdtemp(n->dir))
                return -errno;
        snprintf(n->conf_file, sizeof n->conf_file, "%s/vrouter.conf", n->dir);
        snprintf(n->journal_path, sizeof n->journal_path, "%s/journal.db", n->dir);
        snprintf(text, sizeof text,
                 "node_id = \"" AGENT_NODE_ID "\";\n"
                 "state_dir = \"%s\";\n"
                 "policy = {\n"
                 "  drain = { argv = [ \"/bin/true\" ]; };\n"
                 "  undrain = { argv = [ \"/bin/true\" ]; };\n"
                 "  endpoints = ( { kind = \"controller\"; file = \"%s\"; section = \"CONTROL-NODE\";"
                 " key = \"servers\"; } );\n"
                 "%s\n"
                 "};\n",
                 n->dir, n->conf_file, policy_extra);
        snprintf(path, sizeof path, "%s/agent.conf", n->dir);
        if ((r = s_write(n->conf_file, conf_text)) < 0 || (r = s_write(path, text)) < 0)
                return r;
        conf_report_init(&report, path);
        r = agent_config_load(path, &n->cfg, &report);
        for (size_t i = 0; i < report.n_lines; i++)
                fprintf(stderr, "  %s\n", report.lines[i]);
        conf_report_free(&report);
        return r;
}

static int s_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return remove(path);
}

void agent_node_destroy(agent_node_t *n) {
        agent_config_free(&n->cfg);
        if (n->dir[0])
                /* What is left behind in /tmp fails no test. */
                (void) nftw(n->dir, s_remove, 16, FTW_DEPTH | FTW_PHYS);
}

int agent_node_journal_sql(const agent_node_t *n, const char *sql, char *err, size_t err_len) {
        sqlite3 *db = NULL;
        char *msg = NULL;
        int rc = sqlite3_open_v2(n->journal_path, &db, SQLITE_OPEN_READWRITE, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
        if (rc != SQLITE_OK)
                snprintf(err, err_len, "%s", msg ? msg : db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_free(msg);
        sqlite3_close(db);
        return rc == SQLITE_OK ? 0 : -EIO;
}
