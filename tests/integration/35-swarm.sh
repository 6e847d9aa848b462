#!/bin/bash
# The swarm generator (bench/bench_swarm.c) at a small scale: 300 real
# CURVE agents with pre-approved keys, from worker processes, say Hello
# and heartbeat for a while against a real coordinator, then answer one
# `hitlessctl check --all` (a batch job over all 300). Asserts that every
# one is welcomed, the check succeeds on every one (the bench exits non-zero
# otherwise) and the coordinator survives, never a timing (the figures are
# make bench-scale's).
. "$TOP/tests/lib/itest.sh"
SWARM=$BUILD/bench/bench_swarm
if [ ! -x "$SWARM" ]; then
  echo "35-swarm: $SWARM missing (make $SWARM)"; exit 1
fi
out=$(cd "$T" && BUILD=$BUILD SWARM_IDLE_S=6 "$SWARM" 300 2>&1); rc=$?
echo "$out" | sed 's/^/   /'
check "the swarm ran to its end (exit 0: every agent welcomed, the coordinator alive)" [ "$rc" -eq 0 ]
check "300 of 300 agents registered" grep -q ' 300/300 ' <<<"$out"
finish
