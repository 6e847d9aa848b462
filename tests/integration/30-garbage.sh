#!/bin/bash
# Network garbage from an accepted agent: random bytes, truncated protobuf,
# unknown protocol versions, extra frames, oversized messages. Every one is
# dropped and counted (rate-limited log lines), the coordinator never
# crashes, and the other agents keep working throughout.
. "$TOP/tests/lib/itest.sh"

HEARTBEAT=500ms
# The garbage sender's key is pre-approved, bound to node id "garbage".
mkdir -p "$T/preapproved" "$T/g"
"$BUILD/hitlessctl" keys gen "$T/g" --name garbage >/dev/null 2>&1
cp "$T/g/garbage.key" "$T/preapproved/garbage.key"
"$BUILD/hitlessctl" keys gen "$T/g" --name notakey >/dev/null 2>&1
echo "not a key" > "$T/preapproved/bad name!.key"
start_coordinator "preapproved_keys_dir = \"$T/preapproved\";" "max_message_bytes = 4096;"
check "a pre-approved key is accepted without a manual step" bash -c '[ "$(key_state garbage)" = accepted ]'
check "a file that is not a valid key/name is ignored" grep -q "not a valid node id, ignored" "$T/coordinator.log"
make_agent good
start_agent good
wait_for 10 "good is pending" bash -c '[ "$(key_state good)" = pending ]'
ctl keys accept good >/dev/null
wait_for 15 "good is online" bash -c '[ "$(node_field good state)" = online ]'

# AgentMessage{protocol_version=1, hello{node_id="garbage"}}, by hand:
hello=080152090a0767617262616765
cat > "$T/script" <<SCRIPT
random 64 200
send 08015209
send 0801520a0a076761
send 080252090a0767617262616765
send 0801
send ff
send
sendmulti $hello $hello
send 08015a020801
random 3000 50
big 10000
sleep 0.5
reconnect
random 100 100
send $hello
expect 5
SCRIPT
out=$($PY "$TOP/tests/lib/curve_client.py" "$ENDPOINT" "$(coordinator_public_key)" "$T/g/garbage.key_secret" "$T/script" 2>&1)
check "the garbage client ran its script and got a reply to its valid Hello" grep -q "^reply" <<<"$out"
check "the coordinator is still running" kill -0 "$COORD_PID"
check "the garbage sender registered after all that" bash -c '[ "$(node_field garbage state)" = online ]'
check "undecodable messages were dropped and counted" bash -c '[ "$(dropped undecodable)" -ge 300 ]'
check "a foreign protocol version was dropped and counted" bash -c '[ "$(dropped bad_version)" -ge 1 ]'
check "extra frames were dropped and counted" bash -c '[ "$(dropped bad_framing)" -ge 1 ]'
check "a message with no body was dropped and counted" bash -c '[ "$(dropped no_body)" -ge 1 ]'
check "a heartbeat before Hello was refused and counted" bash -c '[ "$(dropped refused)" -ge 1 ]'
check "undecodable drops are logged" grep -q "dropped a message: undecodable" "$T/coordinator.log"
n=$(grep -c "dropped a message" "$T/coordinator.log")
check "log lines about drops are rate-limited ($n lines for ~360 bad messages)" [ "$n" -le 20 ]
check "suppressed lines are counted" grep -q "similar lines suppressed" "$T/coordinator.log"
# Event-log flooding (issue 15): 20,000 Hellos from the one key, as fast
# as the link takes them. Each is answered (as far as the send queue takes
# the Welcomes) and registers; the log records a handful of rows with
# counts (registration budget, coalescing), not 20,000 rows.
db="$T/coord/state/coordinator.db"
registrations() {
        ctl events --limit 1 >/dev/null   # flushes the fleet's queued events
        sqlite3 "$db" "SELECT coalesce(sum(count), 0) FROM events WHERE node_id = 'garbage' AND kind = 'node.registered'"
}
before=$(registrations)
rows_before=$(sqlite3 "$db" 'SELECT count(*) FROM events')
bytes_before=$(du -bc "$db" "$db-wal" 2>/dev/null | tail -1 | cut -f1)
yes "send $hello" | head -n 20000 > "$T/flood"
printf 'replies 100 10\nsleep 1\n' >> "$T/flood"
started=$(date +%s.%N)
out=$($PY "$TOP/tests/lib/curve_client.py" "$ENDPOINT" "$(coordinator_public_key)" "$T/g/garbage.key_secret" "$T/flood" 2>&1)
took=$(echo "$(date +%s.%N) - $started - 1" | bc)
check "the flooding client got its Hellos answered" grep -q "^replies 100" <<<"$out"
# Hellos beyond the budget are counted when the next one is recorded, or
# when the node goes unreachable (it sends no heartbeats): then all are.
wait_for 10 "every one of the 20,000 Hellos registered and is counted" \
        bash -c "[ \"\$(sqlite3 '$db' \"SELECT coalesce(sum(count), 0) FROM events WHERE node_id = 'garbage' AND kind = 'node.registered'\")\" -eq $((before + 20000)) ]"
rows=$(sqlite3 "$db" 'SELECT count(*) FROM events')
bytes=$(du -bc "$db" "$db-wal" 2>/dev/null | tail -1 | cut -f1)
echo "  flood: 20,000 Hellos sent in ${took}s; events $rows_before -> $rows rows; node.registered count $before -> $(registrations); store (with WAL) $bytes_before -> $bytes bytes"
check "20,000 Hellos add at most 10 event rows ($rows_before -> $rows)" [ "$rows" -le $((rows_before + 10)) ]
check "the store grew by less than 1 MB ($bytes_before -> $bytes bytes)" [ "$bytes" -le $((bytes_before + 1048576)) ]
evs=$(ctl events --node garbage)
echo "$evs"
check "hitlessctl events shows the repeats as a count" grep -q 'node.registered.*(×[0-9]*, last' <<<"$evs"

last=$(node_field good last_seen)
sleep 1.2
check "good kept sending heartbeats throughout" bash -c "[ \$(node_field good last_seen) -gt $last ] && [ \"\$(node_field good state)\" = online ]"
check "good is still healthy" bash -c '[ "$(node_field good health)" = healthy ]'
finish
