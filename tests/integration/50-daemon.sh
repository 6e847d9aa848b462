#!/bin/bash
# Daemon manners, against a stand-in for systemd's notification socket:
# READY=1 once serving, readable STATUS= lines, WATCHDOG=1 when
# WATCHDOG_USEC is set, RELOADING/READY around SIGHUP (and what needs a
# restart is logged), STOPPING and exit 0 on SIGTERM. An agent without a
# coordinator configured waits, READY, saying so, until a reload.
. "$TOP/tests/lib/itest.sh"

HEARTBEAT=500ms
$PY "$TOP/tests/lib/notify_listener.py" "$T/notify.sock" "$T/notify.log" &
PIDS+=("$!")
wait_for 5 "notify socket ready" test -S "$T/notify.sock"

export NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=400000
start_coordinator
wait_for 5 "coordinator sends READY=1" grep -qx "READY=1" "$T/notify.log"
check "with a readable STATUS" grep -qx "STATUS=0 nodes (0 online), 0 pending keys" "$T/notify.log"
wait_for 3 "WATCHDOG=1 at half of WATCHDOG_USEC" bash -c '[ $(grep -cx "WATCHDOG=1" "$T/notify.log") -ge 3 ]'

# An agent that has no coordinator yet (a fresh package install).
mkdir -p "$T/agents/fresh"
cat > "$T/agents/fresh/agent.conf" <<CONF
node_id = "fresh";
secret_key_file = "$T/agents/fresh/agent.key_secret";
state_dir = "$T/agents/fresh/state";
heartbeat_interval = "500ms";
CONF
chmod 644 "$T/agents/fresh/agent.conf"
"$BUILD/hitless-agent" -c "$T/agents/fresh/agent.conf" --gen-key >/dev/null
NOTIFY_SOCKET=$T/agent-notify.sock
$PY "$TOP/tests/lib/notify_listener.py" "$T/agent-notify.sock" "$T/agent-notify.log" &
PIDS+=("$!")
wait_for 5 "agent notify socket ready" test -S "$T/agent-notify.sock"
NOTIFY_SOCKET=$T/agent-notify.sock start_agent fresh
wait_for 5 "the unconfigured agent is READY" grep -qx "READY=1" "$T/agent-notify.log"
check "and says what it waits for" grep -qx "STATUS=waiting for coordinator endpoint and key in $T/agents/fresh/agent.conf" "$T/agent-notify.log"
sleep 1
check "it keeps running (no crash loop)" kill -0 "${AGENT_PID[fresh]}"
echo "coordinator = { endpoint = \"$ENDPOINT\"; public_key = \"$(coordinator_public_key)\"; };" >> "$T/agents/fresh/agent.conf"
kill -HUP "${AGENT_PID[fresh]}"
wait_for 5 "after a reload it connects and its key shows up pending" bash -c '[ "$(key_state fresh)" = pending ]'
ctl keys accept fresh >/dev/null
wait_for 10 "and it registers once accepted" bash -c '[ "$(node_field fresh state)" = online ]'
wait_for 5 "its STATUS says so" grep -q "^STATUS=registered with $ENDPOINT as fresh; healthy" "$T/agent-notify.log"
wait_for 3 "the coordinator's STATUS follows" grep -qx "STATUS=1 nodes (1 online), 0 pending keys" "$T/notify.log"

# Reload: live settings apply, the rest is named.
sed -i "s|^admin_socket = .*|admin_socket = \"$T/run/other.sock\";|" "$T/coordinator.conf"
echo 'node_timeout = "4s";' >> "$T/coordinator.conf"
before=$(grep -cx "READY=1" "$T/notify.log")
kill -HUP "$COORD_PID"
wait_for 5 "SIGHUP: RELOADING=1 then READY=1" bash -c "grep -qx RELOADING=1 '$T/notify.log' && [ \$(grep -cx READY=1 '$T/notify.log') -gt $before ]"
check "a setting that needs a restart is logged as such" grep -q "admin_socket changed; restart to apply" "$T/coordinator.log"
check "the coordinator still serves on the old admin socket" bash -c 'ctl nodes >/dev/null'
echo 'bogus = 1;' >> "$T/coordinator.conf"
kill -HUP "$COORD_PID"
wait_for 5 "an invalid config on reload is refused, naming the key" grep -q "reload: .*bogus: unknown key" "$T/coordinator.log"
check "and the coordinator keeps running" kill -0 "$COORD_PID"

kill -TERM "$COORD_PID"; wait "$COORD_PID"; rc=$?
check "SIGTERM: exit 0" [ $rc -eq 0 ]
check "SIGTERM: STOPPING=1" grep -qx "STOPPING=1" "$T/notify.log"
check "the admin socket is removed" test ! -e "$T/run/admin.sock"
kill -TERM "${AGENT_PID[fresh]}"; wait "${AGENT_PID[fresh]}"; rc=$?
check "the agent exits 0 on SIGTERM too" [ $rc -eq 0 ]
finish
