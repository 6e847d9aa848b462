#!/bin/bash
# make demo: a local fleet on 127.0.0.1. One coordinator and five agents,
# each with its own config, key pair and state directory under a temporary
# directory. Their keys show up pending, the demo accepts them with
# hitlessctl, the nodes register and report health, and `hitlessctl nodes`
# shows them. Ctrl-C stops everything (DEMO_SECONDS=N stops after N s).
set -u
BUILD=$(cd "${1:-build}" && pwd)
D=$(mktemp -d /tmp/hitless-demo.XXXXXX)
PIDS=()
NODES="db1 db2 db3 ctrl1 compute1"

stop() {
  trap - INT TERM EXIT
  echo; echo "== stopping (pids ${PIDS[*]})"
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$D"
  echo "== stopped; removed $D"
  exit 0
}
trap stop INT TERM EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
ctl() { "$BUILD/hitlessctl" --socket "$D/run/admin.sock" "$@"; }

say "coordinator: key pair, config, start (everything under $D)"
mkdir -p "$D/coordinator"
"$BUILD/hitlessctl" keys gen "$D/coordinator" --name coordinator >/dev/null 2>&1
cat > "$D/coordinator/coordinator.conf" <<CONF
listen = "tcp://127.0.0.1:0";
secret_key_file = "$D/coordinator/coordinator.key_secret";
state_dir = "$D/coordinator/state";
admin_socket = "$D/run/admin.sock";
heartbeat_interval = "2s";
CONF
"$BUILD/hitless-coordinator" -c "$D/coordinator/coordinator.conf" 2>"$D/coordinator/log" &
PIDS+=("$!")
for _ in $(seq 100); do [ -s "$D/coordinator/state/agents.endpoint" ] && [ -S "$D/run/admin.sock" ] && break; sleep 0.05; done
endpoint=$(cat "$D/coordinator/state/agents.endpoint")
pubkey=$(sed -n 's/^ *public-key = "\(.*\)"/\1/p' "$D/coordinator/coordinator.key")
echo "listening on $endpoint, public key $pubkey"

say "five agents, each with its own key pair, config and state directory"
for n in $NODES; do
  case $n in db*) role=database;; ctrl*) role=controller;; *) role=compute;; esac
  mkdir -p "$D/$n"
  cat > "$D/$n/agent.conf" <<CONF
node_id = "$n";
roles = ["$role"];
secret_key_file = "$D/$n/agent.key_secret";
state_dir = "$D/$n/state";
heartbeat_interval = "2s";
coordinator = { endpoint = "$endpoint"; public_key = "$pubkey"; };
checks = (
  { name = "coordinator-port"; kind = "tcp"; host = "127.0.0.1"; port = ${endpoint##*:}; },
  { name = "true"; kind = "exec"; argv = ["/bin/true"]; }
);
CONF
  chmod 644 "$D/$n/agent.conf"
  printf '%-9s key %s\n' "$n" "$("$BUILD/hitless-agent" -c "$D/$n/agent.conf" --gen-key)"
  "$BUILD/hitless-agent" -c "$D/$n/agent.conf" 2>"$D/$n/log" &
  PIDS+=("$!")
done

say "their keys arrive as pending: the coordinator refuses them until accepted"
for _ in $(seq 100); do
  [ "$(ctl keys list --json | grep -o '"state":"pending"' | wc -l)" -ge 5 ] && break; sleep 0.1
done
run ctl keys list

say "accept them"
run ctl keys accept --all

say "the nodes register and report health"
for _ in $(seq 150); do
  [ "$(ctl nodes --json | grep -o '"health":"healthy"' | wc -l)" -ge 5 ] && break; sleep 0.1
done
run ctl nodes
run ctl events --limit 12
run ctl status

say "watching the fleet (Ctrl-C stops everything)"
start=$(date +%s)
while :; do
  sleep 5
  if [ -n "${DEMO_SECONDS:-}" ] && [ $(( $(date +%s) - start )) -ge "$DEMO_SECONDS" ]; then break; fi
  echo; date '+%H:%M:%S'; ctl nodes
done
