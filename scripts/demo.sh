#!/bin/bash
# make demo: a Contrail ISSU (in-service software upgrade) of a whole fleet
# of real nodes, on this machine, driven by one plan.
#
#   scripts/demo.sh [BUILD_DIR]          (as root; `make demo` runs it)
#
# Twelve systemd-nspawn containers (tests/lib/fleet.sh) with real systemd,
# dpkg and apt, each running hitless-agent and a test service: db1-3 (a
# Cassandra-like quorum group, max_down 1) at 1.0; the old controller
# cluster ctrl-old1-2 at 1.0 and the new one ctrl-new1-2 at 2.0, side by
# side; compute1-4 at 1.0, their vrouter-agent pointed at the old
# controllers; os1, an OpenStack controller whose Neutron plugin config
# points at the old api-server. One coordinator, all in one private network
# namespace. The plan (`hitlessctl plan check`, then `upgrade start`) does
# the whole ISSU procedure in one go:
#   1. database: db1-3 upgraded one at a time (never two down);
#   2. sync: on the new cluster, the pre-sync step, then the run-sync
#      service started, then a gate waits until it reports in sync;
#   3. computes: one canary, then two at a time, drained, upgraded to 2.0
#      and repointed to the new controllers; then finalize: run-sync
#      stopped, the old controllers' services stopped, post-sync and
#      zk-sync run once;
#   4. northbound: os1's plugin repointed to the new api-server, its
#      service restarted.
# compute3 is a TSN node, a mode 2.0 no longer supports: its service
# refuses to run after the upgrade, its health gate fails and the policy
# (on_failure = rollback_node) rolls it back to 1.0 and the old
# controllers. `hitlessctl upgrade status --watch` shows it live. Then an
# operator rolls compute1 back by hand (`hitlessctl rollback compute1`), and
# the demo shows what every node really runs, the ISSU steps from the new
# controller's own log, the repointed configs, the database nodes' drain
# windows (never two at once), `upgrade status` and `history`. The
# coordinator serves its consolidated view and metrics (http_listen) on
# 127.0.0.1:9735 inside the fleet's network namespace; the demo prints the
# address.
#
# Then it watches the fleet until Ctrl-C; DEMO_SECONDS=N stops after N s
# (0: at once). Either way every container, the coordinator, the network
# namespace and the temporary directory are removed on exit.
# DEMO_EVIDENCE=DIR (for tests) copies the nodes' real state, the plan
# check, status and history JSON and status samples taken during the run
# into DIR before cleaning up.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "demo: no build directory ${1:-build}" >&2; exit 2; }
export TOP BUILD
if [ "$(id -u)" -ne 0 ]; then
  echo "demo: needs root (systemd-nspawn containers, a network namespace)" >&2
  exit 2
fi
"$TOP/scripts/install-deps.sh" build integration nspawn || exit 1

# shellcheck source=../tests/lib/fleet.sh
. "$TOP/tests/lib/fleet.sh"

DEMO_START=$(date +%s)
SAMPLER_PID=
WATCH_PID=
RC=0

stop() {
  trap - INT TERM EXIT
  local dir=$FLEET_DIR
  [ -n "$SAMPLER_PID" ] && kill -TERM "$SAMPLER_PID" 2>/dev/null && wait "$SAMPLER_PID" 2>/dev/null
  [ -n "$WATCH_PID" ] && kill -TERM "$WATCH_PID" 2>/dev/null && wait "$WATCH_PID" 2>/dev/null
  if [ -n "${DEMO_EVIDENCE:-}" ] && [ -n "$dir" ] && [ -d "$dir" ]; then
    mkdir -p "$DEMO_EVIDENCE"
    cp -r "$dir"/demo-* "$dir/coordinator.log" "$DEMO_EVIDENCE"/ 2>/dev/null
    # The nodes' state as the demo leaves them.
    [ ${#FLEET_NODES[@]} -gt 0 ] && fleet_collect "$DEMO_EVIDENCE/nodes"
  fi
  echo; echo "== stopping: ${#FLEET_NODES[@]} containers, the coordinator, netns ${FLEET_NS:-none}"
  fleet_cleanup
  echo "== stopped after $(( $(date +%s) - DEMO_START ))s; removed ${dir:-nothing}"
  exit "$RC"
}
trap stop EXIT
trap 'RC=130; exit 130' INT TERM

if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B='' N=''; fi
say() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
note() { printf '   %s\n' "$*"; }
hitlessctl() { fleet_ctl "$@"; }
run() { printf '%s$ hitlessctl %s%s\n' "$B" "${*:2}" "$N"; "$@"; }
fail() { printf '\ndemo: FAILED: %s\n' "$*" >&2; RC=1; exit 1; }

NODES=(db1:database db2:database db3:database
       ctrl-old1:controller,controller-old ctrl-old2:controller,controller-old
       ctrl-new1:controller,controller-new ctrl-new2:controller,controller-new
       compute1:compute compute2:compute compute3:compute compute4:compute
       os1:openstack-controller)
# The new controller cluster is deployed at 2.0 beside the old one.
FLEET_NODE_VERSION=([ctrl-new1]=2.0 [ctrl-new2]=2.0)

say "a fleet of ${#NODES[@]} real nodes: systemd-nspawn containers, one private network namespace"
fleet_inventory '
http_listen = "127.0.0.1:9735";
groups = ( { name = "controllers-old"; roles = ["controller-old"]; },
           { name = "controllers-new"; roles = ["controller-new"]; },
           { name = "computes"; roles = ["compute"]; },
           { name = "openstack-controllers"; roles = ["openstack-controller"]; } );
quorum_groups = ( { name = "cassandra"; members = ["db1", "db2", "db3"]; max_down = 1; } );'
FLEET_QUIET=1 fleet_setup "${NODES[@]}" || fail "the fleet could not be set up"
note "set up in: $FLEET_TIMES"
# The coordinator's HTTP view, on the loopback of the fleet's netns.
note "the consolidated view: http://$(cat "$FLEET_DIR/coord/state/http.endpoint" 2>/dev/null)/ (and /metrics) in netns $FLEET_NS,"
note "  e.g. ip netns exec $FLEET_NS curl -s http://127.0.0.1:9735/metrics"
note "each node: its own systemd, dpkg and apt (local repo at /repo), hitless-agent as a unit,"
note "hitless-test-svc + hitless-test-lib 1.0, the service on its own port in the shared netns:"
note "$(for n in "${FLEET_NODES[@]}"; do printf '%s :%s  ' "$n" "$(fleet_port "$n")"; done)"
note "coordinator.conf inventory:"
sed -n '/^# Inventory/,$p' "$FLEET_DIR/coordinator.conf" | sed '1d;/^$/d;s/^/     /'
run hitlessctl nodes

say "compute3 is a TSN node (agent_mode=tsn in its vrouter conf): 1.0 supports it, 2.0 no longer does"
fleet_sh compute3 "sed -i 's/^agent_mode=\$/agent_mode=tsn/' $FLEET_VR && grep -n '^agent_mode' $FLEET_VR" |
  sed 's/^/   compute3 /'
if ! fleet_sh compute3 'systemctl restart hitless-test-svc' || ! fleet_wait_healthy 20 compute3; then
  fail "compute3 not healthy on 1.0 as a TSN node"
fi
note "compute3 still answers on 1.0: $(fleet_http compute3)"

PLAN=$FLEET_DIR/contrail-issu-2.0.plan
cat >"$PLAN" <<'PLAN'
# A Contrail ISSU to 2.0 in one plan: the databases one at a time (quorum);
# sync the new controller cluster (already at 2.0) from the old one; move
# the computes to 2.0 and the new controllers (one canary, then two at a
# time), then finalize; then the northbound switch.
name = "contrail-issu-2.0";
packages = ( { name = "hitless-test-svc"; version = "2.0"; },
             { name = "hitless-test-lib"; version = "2.0"; } );
allowed_paths = ( { from = "1.*"; to = "2.*"; } );
phases = (
  { name = "database"; nodes = { group = "cassandra"; }; batch = 1; drain = true;
    restart = ["hitless-test-svc.service"];
    min_healthy_time = "3s"; healthy_deadline = "20s"; },

  # Its nodes run 2.0 already: the phase is its steps. Pre-sync, run-sync
  # started, then wait until run-sync reports in sync.
  { name = "sync"; nodes = { group = "controllers-new"; };
    before = ( { task = "issu"; params = { step = "pre-sync"; }; group = "controllers-new"; },
               { unit = "start"; units = ["hitless-test-sync.service"]; group = "controllers-new"; } );
    wait_for = ( { task = "sync-check"; group = "controllers-new"; deadline = "60s"; interval = "1s"; } ); },

  # A compute that fails is rolled back on its own (1.0, old controllers).
  # Finalize once every compute settled: run-sync and the old control
  # services stopped, post-sync and zk-sync once.
  { name = "computes"; nodes = { group = "computes"; }; canary = 1; auto_promote = true;
    batch = 2; drain = true; on_failure = "rollback_node"; max_failures = 1;
    repoint = { controller = ["10.0.1.11:5269", "10.0.1.12:5269"];
                collector = ["10.0.1.11:8086", "10.0.1.12:8086"]; };
    restart = ["hitless-test-svc.service"];
    min_healthy_time = "3s"; healthy_deadline = "20s";
    after = ( { unit = "stop"; units = ["hitless-test-sync.service"]; group = "controllers-new"; },
              { unit = "stop"; units = ["hitless-test-svc.service"]; node = "ctrl-old1"; },
              { unit = "stop"; units = ["hitless-test-svc.service"]; node = "ctrl-old2"; },
              { task = "issu"; params = { step = "post-sync"; }; group = "controllers-new"; },
              { task = "issu"; params = { step = "zk-sync"; }; group = "controllers-new"; } ); },

  # The northbound switch: the Neutron plugin to the new api-server.
  { name = "northbound"; nodes = { group = "openstack-controllers"; }; batch = 1;
    repoint = { api-server = ["10.0.1.11:8082"]; };
    restart = ["hitless-test-svc.service"];
    min_healthy_time = "3s"; healthy_deadline = "20s"; }
);
PLAN
say "the plan ($PLAN)"
sed 's/^/   /' "$PLAN"

say "check it against the inventory and the fleet as it is now (no side effect)"
cd "$FLEET_DIR" || fail "cd $FLEET_DIR"
run hitlessctl plan check contrail-issu-2.0.plan; rc=$?
hitlessctl plan check contrail-issu-2.0.plan --json >"$FLEET_DIR/demo-plan-check.json" 2>&1
[ "$rc" = 0 ] || fail "plan check: exit $rc"

if "$BUILD/hitlessctl" upgrade status 2>&1 | grep -q "unknown command 'upgrade'"; then
  fail "$BUILD/hitlessctl has no upgrade command yet (the upgrade executor is not built)"
fi

# Samples of the coordinator's view while the upgrade runs (for tests).
sample() {
  while :; do
    printf '{"t": %s, "status": %s}\n' "$(date +%s.%N)" \
      "$(hitlessctl upgrade status --json 2>/dev/null || echo null)"
    sleep 0.5
  done >>"$FLEET_DIR/demo-status-samples.jsonl"
}

say "start the upgrade"
date +%s.%N >"$FLEET_DIR/demo-upgrade-started"
run hitlessctl upgrade start contrail-issu-2.0.plan || fail "upgrade start refused the plan"
UPGRADE_START=$(date +%s)
if [ -n "${DEMO_EVIDENCE:-}" ]; then sample & SAMPLER_PID=$!; fi

say "live status (hitlessctl upgrade status --watch), until the upgrade completes"
printf '%s$ hitlessctl upgrade status --watch%s\n' "$B" "$N"
# In the background and waited for, so that Ctrl-C reaches the trap at once.
timeout --foreground 300 "$BUILD/hitlessctl" --socket "$FLEET_SOCK" upgrade status --watch &
WATCH_PID=$!
wait "$WATCH_PID"; rc=$?
WATCH_PID=
state=$(hitlessctl upgrade status --json 2>/dev/null | "$FLEET_PY" -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null)
echo "upgrade $state after $(( $(date +%s) - UPGRADE_START ))s (watch exit $rc$([ "$rc" = 1 ] && echo ': the Error condition holds'))"
if [ -n "$SAMPLER_PID" ]; then kill -TERM "$SAMPLER_PID" 2>/dev/null; wait "$SAMPLER_PID" 2>/dev/null; SAMPLER_PID=; fi
hitlessctl upgrade status --json >"$FLEET_DIR/demo-status-after-upgrade.json" 2>&1
[ "$state" = complete ] || fail "the upgrade did not complete (state: ${state:-unknown})"
run hitlessctl upgrade status

say "why compute3 was rolled back: its service, on the node"
fleet_exec compute3 journalctl -q --no-pager -o cat -u hitless-test-svc.service |
  grep -m 1 'not supported any more' | sed 's/^/   compute3: /'
note "now: $(fleet_http compute3)"

say "the ISSU steps, from the new controller's own log (ctrl-new1; ctrl-new2 ran none)"
fmt_steps() {
  "$FLEET_PY" -c '
import sys, time
for l in sys.stdin:
    f = l.split()
    if len(f) == 4:
        t = float(f[3])
        print("   %s.%03d  %s %s%s" % (time.strftime("%H:%M:%S", time.localtime(t)), t % 1 * 1000, f[0],
              f[1] if f[1] != "-" else "", "" if f[2] == "-" else "  (command %s)" % f[2]))'
}
fleet_sh ctrl-new1 'cat /var/log/hitless-test-steps.log 2>/dev/null' | fmt_steps
note "the old controllers, stopped at finalize:"
for n in ctrl-old1 ctrl-old2; do
  note "  $n: hitless-test-svc $(fleet_exec "$n" systemctl is-active hitless-test-svc.service 2>/dev/null)," \
    "$(fleet_exec "$n" journalctl -q --no-pager -o cat -u hitless-test-svc.service | grep -m 1 '^Stopped')"
done
note "the northbound switch: os1's $FLEET_PLUGIN, then its service"
fleet_exec os1 cat "$FLEET_PLUGIN" | sed 's/^/       /'
note "  $(fleet_http os1)"

say "an operator rolls compute1 back (its snapshot: packages, files, units)"
date +%s.%N >"$FLEET_DIR/demo-rollback-started"
run hitlessctl rollback compute1; rc=$?
[ "$rc" = 0 ] || fail "rollback compute1: exit $rc"
# Queued within the upgrade (quorum and batch rules): wait until it is done.
step() {
  hitlessctl upgrade status --json 2>/dev/null | "$FLEET_PY" -c '
import json, sys
print({n["node_id"]: n["step"] for n in json.load(sys.stdin)["nodes"]}.get(sys.argv[1], ""))' "$1" 2>/dev/null
}
t=$(date +%s)
while [ "$(step compute1)" != rolled_back ]; do
  [ $(( $(date +%s) - t )) -lt 60 ] || fail "compute1 not rolled back within 60s (step: $(step compute1))"
  sleep 0.5
done
note "compute1 rolled back in $(( $(date +%s) - t ))s"

say "what every node really runs (dpkg-query and the service's answer, in each node)"
printf '   %-10s %-26s %-18s %-18s %s\n' node roles hitless-test-svc hitless-test-lib "GET /"
for n in "${FLEET_NODES[@]}"; do
  printf '   %-10s %-26s %-18s %-18s %s\n' "$n" "${FLEET_ROLES[$n]}" "$(fleet_version "$n" hitless-test-svc)" \
    "$(fleet_version "$n" hitless-test-lib)" "$(fleet_http "$n" | sed 's/^hitless-test-svc //')"
done

say "a compute on the new controller cluster (compute2), and one rolled back to its old file (compute1)"
for n in compute2 compute1; do
  note "$n: $FLEET_VR"
  fleet_exec "$n" grep -E '^\[(CONTROL-NODE|DEFAULT|DNS)\]|^(servers|collectors)=' "$FLEET_VR" | sed 's/^/       /'
done

say "the quorum group, from the nodes: database drain windows (drain and undrain hooks' log)"
for n in db1 db2 db3; do
  fleet_sh "$n" 'cat /var/log/hitless-test-hooks.log 2>/dev/null' | "$FLEET_PY" -c '
import sys, time
ev = [l.split() for l in sys.stdin if l.strip()]
fmt = lambda t: time.strftime("%H:%M:%S", time.localtime(float(t))) + ".%03d" % (float(t) % 1 * 1000)
w = [fmt(t) for _, t in ev]
print("   %s: %s" % (sys.argv[1], ", ".join("%s %s" % (k, t) for (k, _), t in zip(ev, w)) or "never drained"))' "$n"
done
fleet_collect "$FLEET_DIR/demo-nodes" || true
"$FLEET_PY" - "$FLEET_DIR/demo-nodes" <<'PYEOF'
import sys
wins = []
for n in ("db1", "db2", "db3"):
    ev = [l.split() for l in open("%s/%s.hooks" % (sys.argv[1], n)) if l.strip()]
    start = None
    for kind, t in ev:
        if kind == "drain": start = float(t)
        elif kind == "undrain" and start is not None: wins.append((start, float(t), n)); start = None
    if start is not None: wins.append((start, float("inf"), n))
wins.sort()
overlap = [(a[2], b[2]) for i, a in enumerate(wins) for b in wins[i + 1:] if b[0] < a[1]]
print("   %d drain windows; %s" % (len(wins), "never two database nodes drained at once" if not overlap
      else "OVERLAPPING: %s" % overlap))
PYEOF

say "the upgrade and the history"
run hitlessctl upgrade status
hitlessctl upgrade status --json >"$FLEET_DIR/demo-status-final.json" 2>&1
run hitlessctl history
hitlessctl history --json >"$FLEET_DIR/demo-history.json" 2>&1
echo "demo: upgrade and rollbacks done in $(( $(date +%s) - DEMO_START ))s"

say "watching the fleet (Ctrl-C stops and removes everything)"
start=$(date +%s)
while :; do
  if [ -n "${DEMO_SECONDS:-}" ] && [ $(( $(date +%s) - start )) -ge "$DEMO_SECONDS" ]; then break; fi
  sleep 5
  echo; date '+%H:%M:%S'; hitlessctl nodes
done
