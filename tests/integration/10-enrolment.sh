#!/bin/bash
# Enrolment like salt-key, with the real binaries on 127.0.0.1:
# an unknown key is refused and listed pending; accepted, the node registers
# and reports; accept --all asks first and skips a node id two keys claim;
# another key claiming that node id is refused and logged as impersonation; a rejected or deleted key loses its live connection within
# one heartbeat and cannot get back in.
. "$TOP/tests/lib/itest.sh"

HEARTBEAT=500ms
start_coordinator
make_agent node1
make_agent node2
start_agent node1
start_agent node2

wait_for 10 "node1's unknown key is listed pending" bash -c '[ "$(key_state node1)" = pending ]'
check "a pending node is not registered" bash -c '[ -z "$(node_field node1 state)" ]'
check "accepting a key names the node" bash -c 'ctl keys accept node1 | grep -q "node1: accepted"'
wait_for 15 "node1 registers and is online" bash -c '[ "$(node_field node1 state)" = online ]'
wait_for 10 "node1 reports its health" bash -c '[ "$(node_field node1 health)" = healthy ]'
check "node1 reports its agent version" bash -c '[ "$(node_field node1 agent_version)" = "$(cat $TOP/VERSION)" ]'
check "node2 is still only pending" bash -c '[ "$(key_state node2)" = pending ] && [ -z "$(node_field node2 state)" ]'
# Two new keys claiming one node id (an attacker racing the real node):
# accept --all must not pick one, and must not accept anything unasked.
for a in dbA dbB; do
  make_agent $a
  sed -i "s/^node_id = \"$a\";/node_id = \"db1\";/" "$T/agents/$a/agent.conf"
  start_agent $a
done
wait_for 10 "both keys claiming db1 are pending" bash -c '[ "$(key_state db1)" = pending,pending ]'
out=$(ctl keys accept --all </dev/null 2>&1); rc=$?
check "accept --all without a terminal or --yes exits 2" [ $rc -eq 2 ]
check "it says to pass --yes" grep -q -- "pass --yes" <<<"$out"
check "it lists the key it would accept, with its address" grep -qE "^  node2 +[^ ]{40} +127\.0\.0\.1" <<<"$out"
check "it accepted nothing" bash -c '[ "$(key_state node2)" = pending ] && [ "$(key_state db1)" = pending,pending ]'
# Z85 keys hold glob and regex characters: an array, and grep -F.
read -r -a db1_keys <<<"$(ctl keys list --json | $PY -c 'import json,sys; print(" ".join(k["public_key"] for k in json.load(sys.stdin)["keys"] if k["node_id"]=="db1"))')"
out=$(ctl keys accept --all --yes </dev/null 2>&1); rc=$?
check "accept --all --yes takes the rest (exit 0)" bash -c "[ $rc -eq 0 ] && grep -q 'node2: accepted' <<<'$out'"
check "it skips node db1, claimed by 2 pending keys" \
  grep -q "skipped: node db1 is claimed by 2 pending keys: .*; accept one by its key" <<<"$out"
for k in "${db1_keys[@]}"; do
  check "the skipped line names each of db1's keys and its address" grep -qF "$k from 127.0.0.1" <<<"$out"
done
check "both keys claiming db1 stay pending" bash -c '[ "$(key_state db1)" = pending,pending ]'
check "accept --all --json --yes lists db1's claims as skipped" bash -c \
  'ctl keys accept --all --json --yes </dev/null 2>/dev/null | $PY -c "import json,sys; d=json.load(sys.stdin); assert d[\"node_ids\"]==[] and sorted(k[\"node_id\"]+\":\"+k[\"reason\"] for k in d[\"skipped\"])==[\"db1:ambiguous\"]*2"'
kill -TERM "${AGENT_PID[dbA]}" "${AGENT_PID[dbB]}"
for k in "${db1_keys[@]}"; do ctl keys delete "$k" >/dev/null; done
wait_for 15 "node2 registers" bash -c '[ "$(node_field node2 state)" = online ]'
# An accepted key claiming another node's id.
sed -i 's/^node_id = "node2";/node_id = "node1";/' "$T/agents/node2/agent.conf"
kill -HUP "${AGENT_PID[node2]}"
wait_for 5 "an accepted key saying Hello as another node is refused as impersonation" \
  grep -q "impersonation attempt: the key bound to node2 says Hello as node1" "$T/coordinator.log"
check "node1 stays online" bash -c '[ "$(node_field node1 state)" = online ]'
check "the attempt is recorded as event key.impersonation under node1" bash -c \
  'ctl events --node node1 | grep "key.impersonation" | grep -q "the key bound to node2 .* says Hello as node1"'
sed -i 's/^node_id = "node1";/node_id = "node2";/' "$T/agents/node2/agent.conf"
kill -HUP "${AGENT_PID[node2]}"
wait_for 15 "node2 registers again under its own id" bash -c '[ "$(node_field node2 state)" = online ] && [ $(grep -c "registered with" "$T/agents/node2/agent.log") = 2 ]'

# Accept and reject are idempotent (changed on purpose: exit 1 before), so
# configuration management can repeat them.
check "accepting again: exit 0, already accepted" bash -c 'ctl keys accept node1 | grep -qx "node1: already accepted"'
check "... and --json says so" bash -c 'ctl keys accept node1 --json | grep -qx "{\"action\":\"accept\",\"node_ids\":\[\"node1\"\],\"already\":true}"'
check "an unknown node gives exit 1" bash -c 'ctl keys accept nosuchnode; [ $? -eq 1 ]'

# An impostor: its own new key, claiming node1's id.
mkdir -p "$T/agents/impostor"
sed -e "s|$T/agents/node1/agent.key_secret|$T/agents/impostor/agent.key_secret|" \
    -e "s|$T/agents/node1/state|$T/agents/impostor/state|" \
    "$T/agents/node1/agent.conf" > "$T/agents/impostor/agent.conf"
"$BUILD/hitless-agent" -c "$T/agents/impostor/agent.conf" --gen-key >/dev/null
start_agent impostor
wait_for 10 "the impostor's key is recorded pending beside node1's accepted key" \
  bash -c '[ "$(key_state node1)" = "accepted,pending" ]'
wait_for 5 "the attempt is logged as impersonation" grep -q "impersonation attempt" "$T/coordinator.log"
check "the impersonation is in the event log" bash -c 'ctl events --node node1 | grep -q key.impersonation'
# Kinds and actors longer than their header: every row's columns start
# where the header's do, after a space.
check "events columns line up and never run into each other" bash -c 'ctl events | $PY -c "
import sys
rows = sys.stdin.read().splitlines()
cols = [rows[0].index(h) for h in (\"NODE\", \"KIND\", \"ACTOR\", \"MESSAGE\")]
assert len(rows) > 5
for r in rows[1:]:
    for c in cols:
        assert r[c - 1] == \" \" and r[c] != \" \", (c, r)
"'
check "accepting the impostor by node id is ambiguous (exit 1)" bash -c 'ctl keys accept node1 2>&1 | grep -q "several keys claim that node id"; [ ${PIPESTATUS[0]} -eq 1 ]'
impostor_key=$(ctl keys list --json | $PY -c 'import json,sys; print([k["public_key"] for k in json.load(sys.stdin)["keys"] if k["state"]=="pending" and k["node_id"]=="node1"][0])')
check "accepting the impostor's key is refused: node1 is bound (exit 1)" \
  bash -c "ctl keys accept '$impostor_key' 2>&1 | grep -q 'bound to another accepted key'"
check "node1 stays online through the attempt" bash -c '[ "$(node_field node1 state)" = online ]'
kill -TERM "${AGENT_PID[impostor]}"
check "rejecting the impostor's key leaves node1 alone" bash -c "ctl keys reject '$impostor_key' >/dev/null"
sleep 1.5
check "node1 is still online after the impostor's rejection" bash -c '[ "$(node_field node1 state)" = online ]'

# Rejecting node2's key: its connection goes at once, it cannot come back.
denied_before=$(handshakes denied)
disconnects_before=$(grep -c "disconnected from" "$T/agents/node2/agent.log")
check "reject node2" bash -c 'ctl keys reject node2 | grep -q "node2: rejected"'
check "rejecting again: exit 0, already rejected" bash -c 'ctl keys reject node2 | grep -qx "node2: already rejected"'
wait_for 1 "node2 is told its key is revoked (within one heartbeat)" grep -q "revoked our key" "$T/agents/node2/agent.log"
wait_for 1 "node2's connection is closed (within one heartbeat)" \
  bash -c "[ \$(grep -c 'disconnected from' '$T/agents/node2/agent.log') -gt $disconnects_before ]"
wait_for 2 "node2 shows unreachable" bash -c '[ "$(node_field node2 state)" = unreachable ]'
wait_for 10 "node2's reconnection attempts are refused at the handshake (ZAP)" \
  bash -c "[ \$(handshakes denied) -gt $denied_before ]"
sleep 2
check "node2 stays unreachable and rejected" bash -c '[ "$(node_field node2 state)" = unreachable ] && [ "$(key_state node2)" = rejected ]'

# Deleting node1's key: the node is forgotten; it comes back only as pending.
disconnects_before=$(grep -c "disconnected from" "$T/agents/node1/agent.log")
check "delete node1" bash -c 'ctl keys delete node1 | grep -q "node1: deleted"'
wait_for 1 "node1 is told its key is revoked" grep -q "revoked our key" "$T/agents/node1/agent.log"
wait_for 1 "node1's connection is closed" \
  bash -c "[ \$(grep -c 'disconnected from' '$T/agents/node1/agent.log') -gt $disconnects_before ]"
check "node1 is no longer listed" bash -c '[ -z "$(node_field node1 state)" ]'
# (The impostor's rejected key still claims node1 too.)
wait_for 10 "node1's key reappears only as pending" bash -c '[ "$(key_state node1)" = pending,rejected ]'
sleep 1.5
check "node1 did not get back in" bash -c '[ -z "$(node_field node1 state)" ]'
check "the event log records who accepted, as unix:$(id -un)" \
  bash -c "ctl events --json | grep -q '\"kind\":\"key.accepted\",\"actor\":\"unix:$(id -un)\"'"

# Heartbeat intervals against the coordinator's node_timeout (3 x 500 ms):
# 2 s is refused at Hello saying what to change, 1 s registers with a
# warning (one lost heartbeat makes it unreachable).
make_agent slow
make_agent tight
sed -i 's/^heartbeat_interval = .*/heartbeat_interval = "2s";/' "$T/agents/slow/agent.conf"
sed -i 's/^heartbeat_interval = .*/heartbeat_interval = "1s";/' "$T/agents/tight/agent.conf"
for a in slow tight; do
  start_agent $a
  wait_for 10 "$a's key is pending" bash -c "[ \"\$(key_state $a)\" = pending ]"
  ctl keys accept $a >/dev/null
done
wait_for 10 "an agent heartbeating slower than node_timeout is refused at Hello, told what to change" \
  grep -q "coordinator refused us: heartbeat_interval 2000 ms is not shorter than the coordinator's node_timeout 1500 ms.*set heartbeat_interval below 1500 ms" "$T/agents/slow/agent.log"
check "the coordinator logs the refusal for that node" grep -q "slow.*heartbeat_interval 2000 ms is not shorter" "$T/coordinator.log"
check "the refused agent is not registered" bash -c '[ -z "$(node_field slow state)" ]'
wait_for 10 "an agent whose one lost heartbeat makes it unreachable registers" bash -c '[ "$(node_field tight state)" = online ]'
check "with a warning naming both settings" grep -q "tight.*heartbeats every 1000 ms and node_timeout is 1500 ms: one lost heartbeat" "$T/coordinator.log"
finish
