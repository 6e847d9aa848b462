/* The node's own metrics for node_exporter's textfile collector
 * (metrics_textfile in agent.conf, a *.prom file): the node's health as
 * its last heartbeat reported it, whether it is drained and registered,
 * the last command that ended, and the journal's size. Rewritten
 * atomically (common/atomic_file) every heartbeat interval, so the
 * collector never reads half a file. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "agent/executor.h"
#include "agent/health.h"
#include "common/attrs.h"

typedef struct {
        health_state_t health;
        bool drained, registered;
        executor_last_t last;       /* id "": none since the agent started */
        int64_t journal_bytes;      /* the journal with its WAL; -1 unknown */
        int64_t now;                /* unix seconds */
} metrics_textfile_t;

/* The exposition (Prometheus text format 0.0.4) of m to f. Pure. */
void metrics_textfile_format(FILE *f, const metrics_textfile_t *m);

/* The size of state_dir's journal.db and journal.db-wal, or -1. */
int64_t metrics_textfile_journal_bytes(const char *state_dir);

/* Formats m and replaces path with it (mode 0644: node_exporter reads it).
 * 0 or -errno. */
HL_MUST_USE int metrics_textfile_write(const char *path, const metrics_textfile_t *m);
