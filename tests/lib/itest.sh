# Integration test helpers: sourced by tests/integration/*.sh.
#
# Each test gets a private directory $T, starts real binaries from $BUILD
# on 127.0.0.1 with ephemeral ports, and on exit stops exactly the
# processes it started (by PID) and removes $T.
#   check "what" CMD...      assert CMD succeeds
#   wait_for SECS "what" CMD...  assert CMD succeeds within SECS (polling)
#   finish                   print "N passed, N failed" and exit
set -u
: "${BUILD:?BUILD must point at the build directory}"
: "${TOP:?TOP must point at the source tree}"
PY=/usr/bin/python3   # Debian's python, which has python3-zmq

T=$(mktemp -d /tmp/hitless-itest.XXXXXX)
PIDS=()
PASSED=0
FAILED=0

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
  [ -n "${KEEP_T:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

check() {
  local what=$1; shift
  if "$@"; then
    PASSED=$((PASSED + 1)); echo "ok: $what"
  else
    FAILED=$((FAILED + 1)); echo "FAILED: $what"
  fi
}

wait_for() {
  local secs=$1 what=$2; shift 2
  local deadline=$(( $(date +%s%N) / 1000000 + secs * 1000 ))
  while [ $(( $(date +%s%N) / 1000000 )) -lt $deadline ]; do
    if "$@" >/dev/null 2>&1; then
      PASSED=$((PASSED + 1)); echo "ok: $what"; return 0
    fi
    sleep 0.1
  done
  FAILED=$((FAILED + 1)); echo "FAILED: $what (not within ${secs}s)"; return 1
}

finish() {
  echo "$(basename "$0" .sh): $PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ] && exit 0
  echo "--- coordinator log (tail) ---"; tail -n 40 "$T"/coordinator.log 2>/dev/null
  exit 1
}

# ---- coordinator ---------------------------------------------------------
# start_coordinator [EXTRA_CONFIG_LINES]: config at $T/coordinator.conf,
# admin socket $T/run/admin.sock, endpoint (with its port) in $ENDPOINT.
COORD_PID=
write_coordinator_config() {
  mkdir -p "$T/coord"
  [ -f "$T/coord/coordinator.key_secret" ] || "$BUILD/hitlessctl" keys gen "$T/coord" --name coordinator >/dev/null 2>&1
  cat > "$T/coordinator.conf" <<CONF
listen = "tcp://127.0.0.1:${COORD_PORT:-0}";
secret_key_file = "$T/coord/coordinator.key_secret";
state_dir = "$T/coord/state";
admin_socket = "$T/run/admin.sock";
heartbeat_interval = "${HEARTBEAT:-500ms}";
$*
CONF
}

start_coordinator() {
  [ -f "$T/coordinator.conf" ] || write_coordinator_config "$@"
  rm -f "$T/coord/state/agents.endpoint"
  "$BUILD/hitless-coordinator" -c "$T/coordinator.conf" >>"$T/coordinator.log" 2>&1 &
  COORD_PID=$!
  PIDS+=("$COORD_PID")
  local i
  for i in $(seq 100); do
    [ -s "$T/coord/state/agents.endpoint" ] && [ -S "$T/run/admin.sock" ] && break
    sleep 0.05
  done
  ENDPOINT=$(cat "$T/coord/state/agents.endpoint")
  # Restarts keep the port, so agents find the coordinator again.
  COORD_PORT=${ENDPOINT##*:}
  sed -i "s|^listen = .*|listen = \"tcp://127.0.0.1:$COORD_PORT\";|" "$T/coordinator.conf"
}

coordinator_public_key() {
  sed -n 's/^ *public-key = "\(.*\)"/\1/p' "$T/coord/coordinator.key"
}

ctl() { "$BUILD/hitlessctl" --socket "$T/run/admin.sock" "$@"; }

# ---- agents --------------------------------------------------------------
# make_agent NAME [EXTRA_CONFIG_LINES]: key and config under $T/agents/NAME.
make_agent() {
  local name=$1; shift
  local d="$T/agents/$name"
  mkdir -p "$d"
  cat > "$d/agent.conf" <<CONF
node_id = "$name";
roles = ["compute"];
secret_key_file = "$d/agent.key_secret";
state_dir = "$d/state";
heartbeat_interval = "${HEARTBEAT:-500ms}";
coordinator = { endpoint = "$ENDPOINT"; public_key = "$(coordinator_public_key)"; };
$*
CONF
  chmod 0644 "$d/agent.conf"
  "$BUILD/hitless-agent" -c "$d/agent.conf" --gen-key >/dev/null
}

# start_agent NAME: runs it; its pid is in AGENT_PID[NAME].
declare -A AGENT_PID
start_agent() {
  local name=$1
  "$BUILD/hitless-agent" -c "$T/agents/$name/agent.conf" >>"$T/agents/$name/agent.log" 2>&1 &
  AGENT_PID[$name]=$!
  PIDS+=("$!")
}

# node_field NODE FIELD: a field of a node from `hitlessctl nodes --json`.
node_field() {
  ctl nodes --json | $PY -c '
import json, sys
nodes = {n["node_id"]: n for n in json.load(sys.stdin)["nodes"]}
n = nodes.get(sys.argv[1])
print(n[sys.argv[2]] if n else "")' "$1" "$2"
}

key_state() {
  ctl keys list --json | $PY -c '
import json, sys
states = [k["state"] for k in json.load(sys.stdin)["keys"] if k["node_id"] == sys.argv[1]]
print(",".join(sorted(states)))' "$1"
}

# count_keys STATE: how many keys are in that state.
count_keys() {
  ctl keys list --json | $PY -c '
import json, sys
print(sum(1 for k in json.load(sys.stdin)["keys"] if k["state"] == sys.argv[1]))' "$1"
}

# dropped REASON: the coordinator's counter of agent messages dropped for it.
dropped() {
  ctl status --json | $PY -c 'import json, sys; print(json.load(sys.stdin)["dropped"][sys.argv[1]])' "$1"
}

# handshakes VERDICT: the coordinator's ZAP counter (allowed, denied, malformed).
handshakes() {
  ctl status --json | $PY -c 'import json, sys; print(json.load(sys.stdin)["handshakes"][sys.argv[1]])' "$1"
}

# Assertions run helpers in `bash -c`: make them visible there.
export T BUILD TOP PY
export -f ctl node_field key_state count_keys dropped handshakes coordinator_public_key
