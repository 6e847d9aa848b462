#!/bin/bash
# The agent against a fake coordinator (tests/lib/fake_coordinator.py): a
# CommandQuery of 5,000 ids gets 5,000 answers (was 8), and a frame above
# the agent's max_message_bytes ends the session, after which the agent
# reconnects by itself, says Hello, heartbeats, and its log says why (it
# used to stay unreachable for good).
. "$TOP/tests/lib/itest.sh"

mkdir -p "$T/coord"
"$BUILD/hitlessctl" keys gen "$T/coord" --name coordinator >/dev/null 2>&1
$PY "$TOP/tests/lib/fake_coordinator.py" "$T/endpoint" "$T/coord/coordinator.key_secret" n1 5000 100000 \
  >"$T/fake.out" 2>&1 &
FAKE=$!
PIDS+=("$FAKE")
for _ in $(seq 50); do [ -s "$T/endpoint" ] && break; sleep 0.1; done
ENDPOINT=$(cat "$T/endpoint")
HEARTBEAT=500ms make_agent n1 "max_message_bytes = 65536;"
start_agent n1
wait "$FAKE"
cat "$T/fake.out"
check "the agent said Hello" grep -qx "hello True" "$T/fake.out"
check "a CommandQuery of 5000 ids got 5000 answers" grep -qx "answers 5000" "$T/fake.out"
check "after an oversized frame the agent reconnected and said Hello again" grep -qx "hello again True" "$T/fake.out"
check "and heartbeats again" grep -qx "heartbeat True" "$T/fake.out"
check "its log says why the session ended" grep -q "max_message_bytes (65536 bytes" "$T/agents/n1/agent.log"
finish
