#!/bin/bash
# Commands through the coordinator to an agent on this host (no systemd
# needed): the policy decides, a snapshot is taken before the first change,
# drain/repoint are rolled back byte for byte, a duplicated command id is
# not run twice, and the node journal and a local rollback work without the
# coordinator. (tests/integration/70-agent-actions.sh covers packages and
# units on a real systemd node.)
. "$TOP/tests/lib/itest.sh"

HEARTBEAT=500ms
start_coordinator
mkdir -p "$T/etc" "$T/textfile"
cat > "$T/etc/vr.conf" <<'CONF'
# vrouter agent
[CONTROL-NODE]
servers = 10.0.0.1:5269 10.0.0.2:5269   # old controllers
[DEFAULT]
log_level = SYS_NOTICE
collectors=10.0.0.1:8086
CONF
chmod 0640 "$T/etc/vr.conf"
before=$(sha256sum < "$T/etc/vr.conf")
make_agent n1 "metrics_textfile = \"$T/textfile/hitless.prom\";
policy = {
  drain = { argv = [\"/usr/bin/touch\", \"$T/drained\"]; };
  undrain = { argv = [\"/bin/rm\", \"$T/drained\"]; };
  endpoints = (
    { kind = \"controller\"; file = \"$T/etc/vr.conf\"; section = \"CONTROL-NODE\"; key = \"servers\"; },
    { kind = \"collector\"; file = \"$T/etc/vr.conf\"; section = \"DEFAULT\"; key = \"collectors\"; separator = \",\"; },
    { kind = \"dns\"; file = \"$T/etc/vr.conf\"; section = \"DNS\"; key = \"servers\"; port = false; }
  );
};"
start_agent n1
wait_for 10 "n1 pending" bash -c '[ "$(key_state n1)" = pending ]'
ctl keys accept n1 >/dev/null
wait_for 15 "n1 online" bash -c '[ "$(node_field n1 state)" = online ]'
# jfield KEY: a field of the last JSON result, saved in $T/out.json by run.
jfield() { $PY -c 'import json,sys; print(json.load(open(sys.argv[2]))[sys.argv[1]])' "$1" "$T/out.json"; }
run() { ctl "$@" --json > "$T/out.json"; }
export -f jfield

# endpoints_of KIND: what n1's heartbeats say it points to, space separated.
endpoints_of() { ctl nodes --json | $PY -c 'import json,sys
n=[x for x in json.load(sys.stdin)["nodes"] if x["node_id"]=="n1"][0]
print(" ".join(n["endpoints"].get(sys.argv[1], ["(none)"])))' "$1"; }
export -f endpoints_of
wait_for 5 "heartbeats report the controllers n1 points to" \
  bash -c '[ "$(endpoints_of controller)" = "10.0.0.1:5269 10.0.0.2:5269" ] && [ "$(endpoints_of collector)" = "10.0.0.1:8086" ]'
check "check succeeds and reports health" bash -c 'ctl check n1 --json | grep -q "\"health\":\"healthy\""'
run drain n1; rc=$?
check "drain runs the policy's hook" bash -c "[ $rc -eq 0 ] && [ -e '$T/drained' ]"
snap=$(jfield snapshot_id)
check "the first change took a snapshot ($snap)" [ -n "$snap" ]
ctl repoint n1 --controller 10.9.0.1:5269,10.9.0.2:5269 --collector 10.9.0.1:8086,10.9.0.2:8086 --dns 10.9.0.1:53 >/dev/null
check "repoint rewrites the mapped keys in their formats" \
  bash -c "grep -qx 'servers = 10.9.0.1:5269 10.9.0.2:5269   # old controllers' '$T/etc/vr.conf' &&
           grep -qx 'collectors=10.9.0.1:8086,10.9.0.2:8086' '$T/etc/vr.conf' &&
           grep -A1 -x '\[DNS\]' '$T/etc/vr.conf' | grep -qx 'servers = 10.9.0.1'"
wait_for 5 "heartbeats report the new controllers and collectors" \
  bash -c '[ "$(endpoints_of controller)" = "10.9.0.1:5269 10.9.0.2:5269" ] && [ "$(endpoints_of collector)" = "10.9.0.1:8086 10.9.0.2:8086" ]'
check "comments, other keys and the mode are kept" \
  bash -c "grep -qx '# vrouter agent' '$T/etc/vr.conf' && grep -qx 'log_level = SYS_NOTICE' '$T/etc/vr.conf' && [ \$(stat -c %a '$T/etc/vr.conf') = 640 ]"
mtime=$(stat -c %Y.%i "$T/etc/vr.conf")
sleep 1
run repoint n1 --controller 10.9.0.1:5269,10.9.0.2:5269 --collector 10.9.0.1:8086,10.9.0.2:8086 --dns 10.9.0.1:53
check "repeating a repoint changes nothing" bash -c "[ \"\$(jfield message)\" = '0 files changed' ] && [ \$(stat -c %Y.%i '$T/etc/vr.conf') = $mtime ]"

ctl repoint n1 --kind ntp=10.0.0.9:123 >/dev/null; rc=$?
check "a kind outside the policy is refused (exit 1)" [ $rc -eq 1 ]
run restart n1 sshd.service
check "a unit outside the policy is refused, code policy" bash -c '[ "$(jfield state)" = refused ] && [ "$(jfield error_code)" = policy ]'
run install n1 bash=1.0
check "a package outside the policy is refused" bash -c '[ "$(jfield state)" = refused ]'
run repoint n1 --controller 10.9.0.1:0
check "an invalid endpoint fails before any change and names the element" bash -c '[ "$(jfield error_code)" = bad-request ] && jfield message | grep -q "10.9.0.1:0"'


# The node_exporter textfile: the node's health, and the last command.
wait_for 5 "metrics_textfile names the last command (the bad repoint) and the health" \
  bash -c "grep -Eq '^hitless_agent_last_command_info\\{id=\".+\",action=\"repoint\",state=\"(failed|refused)\"\\} 1$' '$T/textfile/hitless.prom' &&
           grep -q '^hitless_agent_health{state=\"healthy\"} 1$' '$T/textfile/hitless.prom' &&
           grep -q '^hitless_agent_registered 1$' '$T/textfile/hitless.prom' && grep -q '^hitless_agent_journal_bytes [1-9]' '$T/textfile/hitless.prom'"
if command -v promtool >/dev/null; then
  check "promtool check metrics accepts it" bash -c "promtool check metrics < '$T/textfile/hitless.prom'"
fi
out1=$(ctl check n1 --id dup-1 --json); out2=$(ctl check n1 --id dup-1 --json)
check "a duplicated command id gets the recorded result" [ "$out1" = "$out2" ]
check "and the agent ran it once" bash -c "[ \$('$BUILD/hitless-agent' -c '$T/agents/n1/agent.conf' journal | grep -c ' dup-1 ') = 1 ]"

run rollback n1; rc=$?
check "rollback succeeds" [ $rc -eq 0 ]
check "the file is restored byte for byte" [ "$(sha256sum < "$T/etc/vr.conf")" = "$before" ]
check "and the node undrained" test ! -e "$T/drained"
run rollback n1; rc=$?
check "a second rollback has no open snapshot (exit 1, no-snapshot)" bash -c "[ $rc -eq 1 ] && [ \"\$(jfield error_code)\" = no-snapshot ]"
check "events record each command and its result" bash -c 'ctl events --node n1 --limit 100 | grep -c "command\." | grep -qv "^0$" && ctl events --node n1 --limit 100 | grep -q command.refused'

# Without the coordinator: repoint, then the operator rolls back locally.
ctl repoint n1 --controller 10.7.0.1:5269 >/dev/null
kill -KILL "$COORD_PID"; wait "$COORD_PID" 2>/dev/null
out=$("$BUILD/hitless-agent" -c "$T/agents/n1/agent.conf" rollback); rc=$?
check "a local rollback works without the coordinator" bash -c "[ $rc -eq 0 ] && [ \"\$(sha256sum < '$T/etc/vr.conf')\" = '$before' ]"
check "and is in the node journal" bash -c "'$BUILD/hitless-agent' -c '$T/agents/n1/agent.conf' journal --json | grep -q '\"id\":\"local-rollback-'"

# The coordinator hears of it after the agent's next Hello: in history with
# actor local:n1, once, and in events as command.local.
# local_history STATE: how many local:n1 rollbacks in that state history
# shows, each with the agent's message.
local_history() {
  ctl history --node n1 --json | $PY -c 'import json,sys
e=json.load(sys.stdin)["entries"]
print(sum(1 for x in e if x["actor"]=="local:n1" and x["kind"]=="command" and x["action"]=="rollback" and x["state"]==sys.argv[1] and x["message"]))' "$1"
}
# unreported: local commands the agent's journal still has to report.
unreported() {
  $PY -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM commands WHERE local_unreported = 1").fetchone()[0])' \
    "$T/agents/n1/state/journal.db"
}
export -f local_history unreported
start_coordinator
wait_for 15 "n1 online again" bash -c '[ "$(node_field n1 state)" = online ]'
wait_for 15 "history shows the local rollback, actor local:n1" bash -c '[ "$(local_history succeeded)" = 1 ]'
check "events record it as command.local" bash -c 'ctl events --node n1 --limit 100 | grep -q "command.local.*local-rollback-.*succeeded"'
wait_for 10 "the agent's journal has it acknowledged" bash -c '[ "$(unreported)" = 0 ]'
# One run beside the connected daemon is reported within a heartbeat or
# two, even a failed one (nothing left to roll back).
"$BUILD/hitless-agent" -c "$T/agents/n1/agent.conf" rollback >/dev/null; rc=$?
check "a second local rollback fails: nothing open (exit 1)" [ $rc -eq 1 ]
wait_for 10 "history shows the failed local rollback too" bash -c '[ "$(local_history failed)" = 1 ]'
wait_for 10 "acknowledged" bash -c '[ "$(unreported)" = 0 ]'
# Acknowledged, so a coordinator restart brings no second record.
kill -TERM "$COORD_PID"; wait "$COORD_PID" 2>/dev/null
start_coordinator
wait_for 15 "n1 online after a restart" bash -c '[ "$(node_field n1 state)" = online ]'
sleep 1.5   # three heartbeats
check "each local rollback is recorded once" bash -c '[ "$(local_history succeeded)" = 1 ] && [ "$(local_history failed)" = 1 ]'
finish
