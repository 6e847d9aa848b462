/* Telling the coordinator about commands the node's root ran without it
 * (hitless-agent rollback, agent/local.h): each finished local command in
 * the journal becomes an AgentMessage with a LocalCommand body, until the
 * coordinator's LocalCommandAck names it. The executor's worker calls
 * these (it owns the journal). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "agent/journal.h"
#include "common/attrs.h"
#include "proto/hitless.pb-c.h"

/* At most this many local commands per report: a node where someone ran
 * rollback in a loop reports them over several heartbeats. */
#define LOCAL_REPORT_MAX 16

/* The packed AgentMessage reporting c (finished, with its request and
 * result). Its upgrade_id is the upgrade of the snapshot the result names
 * (found in j), "" when none. -EINVAL when c lacks its request or result
 * or they do not decode, -ENOMEM. *ret is malloc'ed. */
HL_MUST_USE int local_report_pack(journal_t *j, const journal_command_t *c, uint8_t **ret, size_t *ret_len);

/* Marks every id of ack reported. Returns 0, or the first journal error
 * (the others are still tried). */
HL_MUST_USE int local_report_acknowledged(journal_t *j, const Hitless__LocalCommandAck *ack);
