/* GET /metrics: the coordinator's state in the Prometheus text exposition
 * format (version 0.0.4). Pure: a function of the structs below to text,
 * so the unit test renders it into memory.
 *
 * Names follow Prometheus conventions: every metric starts with hitless_,
 * counters end in _total, sizes are bytes, times unix seconds. Metrics of
 * an upgrade appear only while one exists (an upgrade was ever started);
 * quorum groups only while its configuration names them. Every label value
 * is escaped (backslash, double quote, newline), so a node or phase name
 * off the wire cannot break the exposition. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "coordinator/store/store.h"
#include "proto/hitless.pb-c.h"

/* A quorum group of the current upgrade and how many of its members are
 * down now against the number it may lose (quorum.h). */
typedef struct {
        const char *name;
        uint32_t members;
        uint32_t down;
        uint32_t budget;
} metrics_group_t;

/* Commands recorded in the store, by action and state ("sent",
 * "succeeded", ...). */
typedef struct {
        const char *action;
        const char *state;
        uint64_t n;
} metrics_commands_t;

typedef struct {
        const Hitless__CoordinatorStatus *coordinator;   /* required */
        const Hitless__UpgradeStatus *upgrade;           /* NULL or upgrade_id "": none */
        Hitless__NodeInfo *const *nodes;                 /* every known node */
        size_t n_nodes;
        const metrics_group_t *groups;
        size_t n_groups;
        const metrics_commands_t *commands;
        size_t n_commands;
        const Hitless__JobList *jobs;                    /* NULL: none */
        const store_commit_latency_t *commit_latency;    /* NULL: not shown */
} metrics_input_t;

/* Writes the whole exposition to f: each metric's HELP and TYPE, then its
 * samples. Returns 0, or -EIO when f reports a write error. */
int metrics_write(FILE *f, const metrics_input_t *in);

/* Prometheus' content type for what metrics_write produces. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
