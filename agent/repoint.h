/* Repoint: write endpoint lists into the INI files, sections and keys the
 * policy maps each endpoint kind to, in the format each key expects.
 *
 * All-or-nothing: every kind must be in the policy and every list valid
 * (common/endpoint: host:port, IPv4/IPv6/name, port 1-65535, not empty)
 * before any file is touched; files are then rewritten atomically
 * (common/atomic_file, keeping mode and owner; comments, key order and
 * other keys untouched, common/ini), and if one write fails the files
 * already written are put back. Writing what is already there changes
 * nothing (idempotent). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "agent/agent_config.h"
#include "common/attrs.h"

typedef struct {
        const char *kind;
        char *const *endpoints;      /* "host:port" strings */
        size_t n;
} repoint_list_t;

/* Applies lists. Returns the number of files changed (0: already so), or
 * -EPERM (a kind not in the policy), -EINVAL (an invalid endpoint), or
 * another -errno from reading/writing; error gets a line saying why. */
HL_MUST_USE int repoint_apply(const agent_config_t *policy, const repoint_list_t *lists, size_t n,
                              char *error, size_t error_len);

/* The files the policy lets repoint rewrite, each once (for snapshots). */
size_t repoint_policy_files(const agent_config_t *policy, const char **ret_files, size_t max);
