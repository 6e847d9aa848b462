/* A node for tests of the agent's actions and executor: a temporary
 * directory holding a real agent config (loaded with agent_config_load)
 * whose state_dir is the directory itself, so the journal is DIR/journal.db.
 * The policy's drain and undrain hooks are /bin/true and its one
 * repointable file is DIR/vrouter.conf ([CONTROL-NODE] servers, kind
 * "controller"); no packages, units or checks. The node id is "compute-1".
 *
 * agent_node_journal_sql() is how a test makes the journal fail as SQLite
 * would, from a connection of its own to the file: a trigger that aborts a
 * write, a dropped table (the journal's statements then fail to prepare).
 * Nothing in agent/ knows about it. */
#pragma once
#include <stddef.h>

#include "agent/agent_config.h"

#define AGENT_NODE_ID "compute-1"

typedef struct {
        char dir[64];
        char conf_file[128];       /* the repointable file */
        char journal_path[128];
        agent_config_t *cfg;
} agent_node_t;

/* Creates the directory, writes conf_text to the repointable file and
 * loads the config. 0 or -errno (-EINVAL: the config did not load, its
 * report printed on stderr). */
int agent_node_create(agent_node_t *n, const char *conf_text);

/* The same, with policy_extra (settings such as "tasks = (...);", where
 * "DIR" is not expanded: use agent_node_t.dir afterwards) added to the
 * policy group. */
int agent_node_create_policy(agent_node_t *n, const char *conf_text, const char *policy_extra);

/* Frees the config and removes the directory and all it holds. */
void agent_node_destroy(agent_node_t *n);

/* Runs sql on its own connection to the node's journal file. 0, or -EIO
 * with SQLite's message in err. */
int agent_node_journal_sql(const agent_node_t *n, const char *sql, char *err, size_t err_len);
