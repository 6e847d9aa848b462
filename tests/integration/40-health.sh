#!/bin/bash
# Health checks on a real node: a TCP listener the agent watches is stopped
# and `hitlessctl nodes` shows the node unhealthy within two heartbeats,
# naming the failing check; restarted, the node is healthy again.
. "$TOP/tests/lib/itest.sh"

HEARTBEAT=1s
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
listen() {
  $PY -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
while True:
    c,_=s.accept(); c.close()' "$port" &
  LISTENER=$!
  PIDS+=("$LISTENER")
}
listen
start_coordinator
make_agent web "checks = (
  { name = \"xmpp\"; kind = \"tcp\"; host = \"127.0.0.1\"; port = $port; timeout = \"500ms\"; },
  { name = \"true\"; kind = \"exec\"; argv = [\"/bin/true\"]; },
  { name = \"optional\"; kind = \"exec\"; argv = [\"/bin/false\"]; critical = false; }
);"
start_agent web
wait_for 10 "web pending" bash -c '[ "$(key_state web)" = pending ]'
ctl keys accept web >/dev/null
wait_for 15 "web online" bash -c '[ "$(node_field web state)" = online ]'
wait_for 5 "web is degraded: only a non-critical check fails" bash -c '[ "$(node_field web health)" = degraded ]'

kill -TERM "$LISTENER"; wait "$LISTENER" 2>/dev/null
wait_for 2 "web is unhealthy within two heartbeats of the listener stopping" \
  bash -c '[ "$(node_field web health)" = unhealthy ]'
check "nodes names the failing check and why" bash -c 'ctl nodes | grep -q "! xmpp (tcp): .*refused"'
check "nodes --health unhealthy lists it, with the summary of the match" bash -c \
  'out=$(ctl nodes --health unhealthy) && grep -q "^web " <<<"$out" && grep -qx "1 of 1 nodes: 1 unhealthy" <<<"$out"'
check "nodes --health healthy --json lists none, as valid JSON" bash -c \
  'ctl nodes --health healthy --json | $PY -c "import json,sys; assert json.load(sys.stdin)[\"nodes\"] == []"'
check "nodes --role compute --state online lists it, --role database does not" bash -c 'ctl nodes --role compute --state online | grep -q "^web " && ! ctl nodes --role database | grep -q "^web "'
check "nodes --health green: exit 2 naming the values" bash -c \
  'out=$(ctl nodes --health green 2>&1); [ $? -eq 2 ] && grep -q "not one of healthy, degraded, unhealthy, unknown" <<<"$out"'
check "the health change is an event" bash -c 'ctl events --node web | grep -q "degraded -> unhealthy"'
listen
wait_for 3 "back to degraded when the listener returns" bash -c '[ "$(node_field web health)" = degraded ]'
finish
