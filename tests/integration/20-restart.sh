#!/bin/bash
# Durability: the coordinator killed with SIGKILL and restarted keeps every
# key, node and event; nodes show unreachable until their agents, which
# reconnect on their own, say Hello again. An acknowledged accept survives
# a kill that follows it at once.
. "$TOP/tests/lib/itest.sh"

HEARTBEAT=500ms
start_coordinator
for n in db1 db2 db3; do make_agent $n; start_agent $n; done
wait_for 10 "three keys pending" bash -c '[ "$(count_keys pending)" = 3 ]'
ctl keys accept db1 >/dev/null && ctl keys accept db2 >/dev/null
# Online comes with Hello, health with the first heartbeat after it: wait
# for the health, then for the store's once-a-second flush of it. The
# flush writes a node's health and its node.health event in one
# transaction, so the event in the database says the health is there
# (a fixed sleep was not enough on a loaded CI machine).
wait_for 15 "db1 and db2 online and healthy" bash -c '[ "$(node_field db1 state)" = online ] && [ "$(node_field db2 state)" = online ] &&
  [ "$(node_field db1 health)" = healthy ] && [ "$(node_field db2 health)" = healthy ]'
db="$T/coord/state/coordinator.db"
wait_for 10 "their health is stored" bash -c "[ \$(sqlite3 '$db' \"SELECT count(DISTINCT node_id) FROM events
  WHERE kind = 'node.health' AND node_id IN ('db1', 'db2') AND message LIKE '%-> healthy%'\") = 2 ]"

ctl keys accept db3 >/dev/null
kill -KILL "$COORD_PID"; wait "$COORD_PID"; rc=$?
check "the coordinator died of SIGKILL" [ $rc -eq 137 ]
start_coordinator
check "db3's accept, acknowledged just before the kill, survived" bash -c '[ "$(key_state db3)" = accepted ]'
check "db1 and db2 are still listed after the restart" bash -c '[ -n "$(node_field db1 node_id)" ] && [ -n "$(node_field db2 node_id)" ]'
# Until db1 says Hello again its health is unknown; what it last said stays.
last_health_kept() {
  [ "$(node_field db1 last_health)" = healthy ] &&
    { [ "$(node_field db1 state)" = online ] || [ "$(node_field db1 health)" = unknown ]; }
}
check "their last health survived (last_health; health unknown while unreachable)" last_health_kept
check "the accept events survived" bash -c '[ "$(ctl events --json | grep -o key.accepted | wc -l)" = 3 ]'
wait_for 15 "all three agents reconnect and are online" \
  bash -c 'for n in db1 db2 db3; do [ "$(node_field $n state)" = online ] || exit 1; done'

# A clean stop, then a start: the same, and SIGTERM exits 0. Meanwhile the
# event log outgrew a lowered event_retention_max_rows: the start prunes
# the oldest and says so in the log.
kill -TERM "$COORD_PID"; wait "$COORD_PID"; rc=$?
check "SIGTERM stops the coordinator with exit 0" [ $rc -eq 0 ]
sqlite3 "$db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500)
               INSERT INTO events (time, node_id, kind, actor, message)
               SELECT strftime('%s', 'now'), '', 'test.filler', 'test', 'filler ' || i FROM n"
echo 'event_retention_max_rows = 1000;' >> "$T/coordinator.conf"
start_coordinator
wait_for 5 "retention at start keeps at most event_retention_max_rows events" \
  bash -c "[ \$(sqlite3 '$db' 'SELECT count(*) FROM events') -le 1000 ]"
check "the pruning is audited as events.pruned" \
  bash -c 'ctl events --limit 1 | grep -q "events.pruned.*oldest events to keep at most 1000 (event_retention_max_rows)"'
check "after a clean restart every node is listed" \
  bash -c '[ "$(ctl nodes --json | grep -o "\"node_id\"" | wc -l)" = 3 ]'
wait_for 15 "and online again" bash -c 'for n in db1 db2 db3; do [ "$(node_field $n state)" = online ] || exit 1; done'

# Agents killed: unreachable after node_timeout (3 heartbeats), not before.
kill -KILL "${AGENT_PID[db2]}"
sleep 0.6
check "db2 is still online one heartbeat after its agent died" bash -c '[ "$(node_field db2 state)" = online ]'
wait_for 4 "db2 is marked unreachable after node_timeout" bash -c '[ "$(node_field db2 state)" = unreachable ]'
check "the unreachable event is recorded" bash -c 'ctl events --node db2 | grep -q node.unreachable'
start_agent db2
wait_for 10 "db2 comes back online after its agent restarts" bash -c '[ "$(node_field db2 state)" = online ]'
finish
