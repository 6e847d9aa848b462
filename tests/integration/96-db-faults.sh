#!/bin/bash
# Faults during a plan on three real database nodes (tests/lib/fleet.sh;
# quorum group cassandra, max_down 1) whose coordinator keeps its state
# directory on a 48 MiB tmpfs (state_min_free_mb = 16). First its store
# fills up mid-plan:
#   1. filled to the last byte while db1 is in its sequence: the store is
#      degraded (hitlessctl status, upgrade status StoreDegraded WritesFail,
#      an admin request that must write is refused with the store's error),
#      the coordinator stays up, and db1's result (in its own journal) is
#      not recorded: db1 stays at that command;
#   2. room again, but below the floor: writes work, the lost result is
#      asked for again and db1 finishes by itself, undrained; db2 does not
#      start (state held, StoreDegraded LowSpace, db2 waiting "held: ...");
#   3. above the floor: the upgrade goes on by itself and completes, with
#      every step run exactly once on every node (the agents' journals),
#      drain windows never overlapping, never two members down (a quorum
#      observer reading the nodes), and no coordinator restart.
# Then a member's agent stops answering mid-install:
#   4. rollback --all; up-2 of the same plan: db2's agent gets SIGSTOP while
#      db2 installs, for longer than node_timeout, then SIGCONT: db2 failed
#      (unreachable during installing), the upgrade paused; after resume
#      db3 does not start while db2 is failed and drained (it counts as
#      down: status and the nodes themselves); db2's late install result
#      is reported stale; rollback db2: db2 back on 1.0 and undrained, then
#      db3 upgrades; complete with db2 rolled back; never two members down.
#   5. db3 drained by an operator (hitlessctl drain, outside any upgrade):
#      its agent's heartbeat says so (hitlessctl nodes), and up-3 (db2
#      only) waits "db3 drained" until db3 is undrained, then completes.
#   6. db2's agent (WatchdogSec=2s) stopped mid-install until systemd's
#      watchdog kills it: the new agent records the command interrupted in
#      its journal and reports it so (the coordinator's history); db2
#      failed; resume, rollback db2: state rolled_back.
# Needs root (containers, mount); exit 77 otherwise. About 1.5 minutes here.
if [ "$(id -u)" -ne 0 ]; then
  echo "96-db-faults: skipped: needs root (systemd-nspawn, tmpfs)"
  exit 77
fi
. "$TOP/tests/lib/itest.sh"
# shellcheck disable=SC2034
FLEET_HEARTBEAT=500ms FLEET_QUIET=1
# shellcheck source=../lib/fleet.sh
. "$TOP/tests/lib/fleet.sh"
# The state directory is a tmpfs mounted before the fleet exists (fleet.sh
# uses a FLEET_DIR set before fleet_setup).
FLEET_DIR=$(mktemp -d /tmp/hitless-fleet.XXXXXX)
STATE=$FLEET_DIR/coord/state
mkdir -p "$STATE"
mount -t tmpfs -o size=48m,mode=0750 hitless-test-state "$STATE" || { echo "96-db-faults: cannot mount a tmpfs"; exit 1; }
STATE_MOUNT=$STATE
KEEP_DIR=$FLEET_DIR

U=$TOP/tests/upgrade
CHECKS=$U/checks.py
EV=$T/ev
OBSERVER_PID=
TEST_START=$(date +%s)
FILL=$STATE/fill

all_cleanup() {
  if [ -n "$OBSERVER_PID" ]; then
    kill -TERM "$OBSERVER_PID" 2>/dev/null; wait "$OBSERVER_PID" 2>/dev/null
  fi
  fleet_cleanup >/dev/null 2>&1
  umount "$STATE_MOUNT" 2>/dev/null
  rm -rf "$KEEP_DIR"
  cleanup
}
trap all_cleanup EXIT

end_test() {
  cp "$FLEET_DIR/coordinator.log" "$T/coordinator.log" 2>/dev/null
  echo "   96-db-faults took $(( $(date +%s) - TEST_START ))s"
  finish
}

# shellcheck source=../lib/upgrade.sh
. "$TOP/tests/lib/upgrade.sh"

# store 'EXPR': EXPR (Python) over `hitlessctl status --json`'s store (h).
store_is() {
  [ "$(fleet_ctl status --json 2>/dev/null | "$PY" -c '
import json, sys
h = json.load(sys.stdin)["store"]
print("yes" if eval(sys.argv[1]) else "no")' "$1" 2>/dev/null)" = yes ]
}
free_mib() { df --output=avail -B1M "$STATE" | tail -n 1 | tr -d ' '; }
# leave_free MIB: the fill file takes all but MIB of the tmpfs (0: all).
leave_free() {
  rm -f "$FILL"
  local n=$(( $(free_mib) - $1 ))
  if [ "$1" = 0 ]; then
    dd if=/dev/zero of="$FILL" bs=64k status=none 2>/dev/null
  else
    dd if=/dev/zero of="$FILL" bs=1M count="$n" status=none
  fi
  return 0
}
# db1's command in flight (from the status) has succeeded in db1's own journal.
inflight_done_on_db1() {
  local id
  id=$(upq 'nodes["db1"]["command_id"]')
  [ -n "$id" ] && fleet_journal_json db1 | "$PY" -c '
import json, sys
print("yes" if any(c["id"] == sys.argv[1] and c["state"] == "succeeded" for c in json.load(sys.stdin)["commands"]) else "no")' "$id" | grep -q yes
}
coordinator_alive() { kill -0 "$FLEET_COORD_PID" 2>/dev/null; }
node_online() { [ "$(fleet_node_field "$1" state)" = online ]; }
drained_on_node() { fleet_exec "$1" test -e /var/lib/test-drained; }

DBS=(db1 db2 db3)
mkdir -p "$EV"
fleet_inventory '
state_min_free_mb = 16;
quorum_groups = ( { name = "cassandra"; members = ["db1", "db2", "db3"]; max_down = 1; } );'
must "fleet of 3 database nodes set up (state on a 48 MiB tmpfs)" fleet_setup db1:database db2:database db3:database
echo "   fleet: $FLEET_TIMES; state dir: $(free_mib) MiB free"
OBS=$EV/observer.jsonl
obs_args=()
for n in "${DBS[@]}"; do obs_args+=("$n=$(nspawn_leader "$n")"); done
"$PY" "$U/quorum-observer.py" "$OBS" 0.2 "${obs_args[@]}" &
OBSERVER_PID=$!
wait_or_end 10 "the quorum observer samples db1-3" bash -c "[ -s '$OBS' ]"
coord_pid=$FLEET_COORD_PID
cp "$U/db-2.0.plan" "$FLEET_DIR/"
cd "$FLEET_DIR" || exit 1

# ==== 1. full =====================================================================
echo "== 1. the state directory full while db1 is in its sequence"
check_or_end "upgrade start" ctl_ok upgrade start db-2.0.plan
wait_or_end 30 "db1 draining or installing" up_is 'nodes["db1"]["step"] in ("draining", "installing")'
leave_free 0
echo "   filled: $(free_mib) MiB free; db1 at $(upq 'nodes["db1"]["step"] + " " + nodes["db1"]["command_id"]')"
wait_or_end 20 "1. hitlessctl status: the store's writes fail" store_is 'h["degraded"] and "full" in h["error"]'
wait_or_end 60 "1. db1's command in flight succeeded in db1's own journal" inflight_done_on_db1
sleep 3
save_status full
lost=$(stq "$EV/full.json" 'nodes["db1"]["command_id"]')
echo "   db1 shown at $(stq "$EV/full.json" 'nodes["db1"]["step"]') ($lost), done on the node"
check "1. db1's result is not recorded: it stays at that command" inflight_done_on_db1
check "1. upgrade status: StoreDegraded True, WritesFail, with the error; held (no room either)" st_is "$EV/full.json" \
  'cond["StoreDegraded"]["status"] and cond["StoreDegraded"]["reason"] == "WritesFail" and "full" in cond["StoreDegraded"]["message"] and s["state"] == "held"'
check "1. hitlessctl status says so" bash -c "'$BUILD/hitlessctl' --socket '$FLEET_SOCK' status | grep -q '^store: WRITES FAIL since .*full'"
refused_full() { local out; ! out=$(fleet_ctl upgrade pause 2>&1) && echo "    $out" && grep -q 'full' <<<"$out"; }
check "1. an admin request that must write is refused with the store's error" refused_full
check "1. the coordinator stays up" coordinator_alive

# ==== 2. room, below the floor ========================================================
echo "== 2. room again, below state_min_free_mb"
leave_free 10
echo "   $(free_mib) MiB free"
wait_or_end 20 "2. the store writes again, low on space" store_is '(not h["degraded"]) and h["low_space"]'
wait_or_end 60 "2. db1's lost result asked for again: db1 done by itself" up_is 'nodes["db1"]["step"] == "done"'
sleep 3
save_status held
collect held
check "2. state held, StoreDegraded LowSpace, db2 waits held" st_is "$EV/held.json" \
  's["state"] == "held" and cond["StoreDegraded"]["reason"] == "LowSpace" and nodes["db2"]["step"] == "pending" and nodes["db2"]["waiting"].startswith("held: store low on space")'
check_py "2. no command of up-1 on db2 or db3 while held" no-commands "$EV/held" up-1 db2 db3
check "2. db1 undrained" none_drained held
check "2. upgrade status names the hold" bash -c "'$BUILD/hitlessctl' --socket '$FLEET_SOCK' upgrade status | grep -q 'held: store low on space'"

# ==== 3. above the floor ===========================================================
echo "== 3. above the floor"
rm -f "$FILL"
wait_or_end 120 "3. the upgrade goes on by itself and completes" up_is 's["state"] == "complete" and settled'
collect done
check "3. every node on 2.0" versions_are 2.0 "${DBS[@]}"
check_py "3. each node's steps once, each succeeded (the agents' journals)" steps "$EV/done" up-1 \
  db1=drain,install,restart,undrain db2=drain,install,restart,undrain db3=drain,install,restart,undrain
check_py "3. no command id twice, no step twice" once "$EV/done" "${DBS[@]}"
check_py "3. drain windows never overlap" drain-windows "$EV/done" 0 "${DBS[@]}"
check "3. no node left drained" none_drained done
check "3. store healthy again" store_is '(not h["degraded"]) and not h["low_space"]'
check "3. the same coordinator process throughout" bash -c "[ '$FLEET_COORD_PID' = '$coord_pid' ] && kill -0 '$coord_pid'"
check "3. its log: writes failed, worked again, agents asked again" bash -c \
  "grep -q 'store: writes fail' '$FLEET_DIR/coordinator.log' && grep -q 'store: writes work again' '$FLEET_DIR/coordinator.log' && grep -q 'asking online agents' '$FLEET_DIR/coordinator.log'"

# ==== 4. an agent stopped mid-install ===============================================
echo "== 4. up-2 with db2's agent stopped mid-install, past node_timeout"
check_or_end "4. rollback --all of up-1" ctl_ok rollback --all
wait_or_end 120 "4. up-1 rolled back: state rolled_back" \
  up_is 'settled and all(n["step"] == "rolled_back" for n in s["nodes"]) and s["state"] == "rolled_back" and cond["Complete"]["reason"] == "RolledBack"'
check "4. every node back on 1.0" versions_are 1.0 "${DBS[@]}"
t_up2=$(date +%s)
check_or_end "4. up-2 started" ctl_ok upgrade start db-2.0.plan
wait_or_end 90 "4. db2 installing" up_is 'nodes["db2"]["step"] == "installing"'
agent_pid=$(fleet_exec db2 systemctl show -P MainPID hitless-agent.service)
check_or_end "4. db2's agent stopped (SIGSTOP, pid $agent_pid in db2)" fleet_exec db2 kill -STOP "$agent_pid"
wait_or_end 30 "4. db2 failed while unreachable, the upgrade paused" \
  up_is 'nodes["db2"]["step"] == "failed" and s["state"] == "paused" and "unreachable" in nodes["db2"]["error"]'
watch_exits_on_pause() {
  local out rc
  out=$(timeout 20 "$BUILD/hitlessctl" --socket "$FLEET_SOCK" upgrade status --watch --exit-on-pause 2>&1 >/dev/null); rc=$?
  echo "    exit $rc: $out"
  [ "$rc" = 4 ] && grep -q 'is paused: .*next: hitlessctl upgrade resume' <<<"$out"
}
check "4. upgrade status --watch --exit-on-pause ends with 4 and names the next commands" watch_exits_on_pause
sleep 2
check_or_end "4. db2's agent continued (SIGCONT)" fleet_exec db2 kill -CONT "$agent_pid"
wait_or_end 30 "4. db2 online again" node_online db2
check_or_end "4. resume" ctl_ok upgrade resume
sleep 5
save_status stopped
collect stopped
echo "   after resume: $(steps); db2 waiting: $(stq "$EV/stopped.json" 'nodes["db2"]["waiting"]')"
check "4. db3 waits for the quorum while db2 is failed and drained" st_is "$EV/stopped.json" \
  'nodes["db3"]["step"] == "pending" and "cassandra" in nodes["db3"]["waiting"] and nodes["db2"]["drained"] and nodes["db2"]["waiting"].startswith("failed while drained")'
check_py "4. no command of up-2 reached db3" no-commands "$EV/stopped" up-2 db3
check "4. db2 is drained on the node itself" drained_on_node db2
check "4. db2's late install result reported stale" grep -q "up-2-[0-9]*: stale result, ignored by upgrade up-2" "$FLEET_DIR/coordinator.log"
check "4. not complete while db2 is left drained" st_is "$EV/stopped.json" 's["state"] != "complete"'
check_or_end "4. rollback db2" ctl_ok rollback db2
wait_or_end 120 "4. complete: db1 and db3 done, db2 rolled back" \
  up_is 's["state"] == "complete" and settled and nodes["db2"]["step"] == "rolled_back" and nodes["db1"]["step"] == nodes["db3"]["step"] == "done"'
collect up2
check "4. db1 and db3 on 2.0" versions_are 2.0 db1 db3
check "4. db2 on 1.0" versions_are 1.0 db2
check "4. no node left drained" none_drained up2
check_py "4. drain windows never overlap during up-2" drain-windows "$EV/up2" "$t_up2" "${DBS[@]}"
check_py "4. no command id twice, no step twice without a rollback" once "$EV/up2" "${DBS[@]}"

# ==== 5. a member drained by hand ===================================================
echo "== 5. db3 drained by an operator: up-3 (db2 only) waits for the quorum"
check_or_end "5. hitlessctl drain db3 (outside any upgrade)" ctl_ok drain db3
wait_or_end 10 "5. hitlessctl nodes: db3 drained (its agent's heartbeat)" bash -c \
  "'$BUILD/hitlessctl' --socket '$FLEET_SOCK' nodes --json | '$PY' -c 'import json,sys; n={x[\"node_id\"]: x for x in json.load(sys.stdin)[\"nodes\"]}; sys.exit(0 if n[\"db3\"][\"drained\"] and not n[\"db1\"][\"drained\"] else 1)'"
check_or_end "5. up-3 started" ctl_ok upgrade start db-2.0.plan
sleep 4
save_status drained-by-hand
collect drained-by-hand
echo "   db2 waiting: $(stq "$EV/drained-by-hand.json" 'nodes["db2"]["waiting"]')"
check "5. db2 waits: db3 counts as down (drained)" st_is "$EV/drained-by-hand.json" \
  'nodes["db2"]["step"] == "pending" and "db3 drained" in nodes["db2"]["waiting"]'
check_py "5. no command of up-3 on db2 while db3 is drained" no-commands "$EV/drained-by-hand" up-3 db2
check_or_end "5. hitlessctl undrain db3" ctl_ok undrain db3
wait_or_end 90 "5. up-3 complete once db3 is undrained" up_is 's["state"] == "complete" and settled and nodes["db2"]["step"] == "done"'
collect up3
check "5. db2 on 2.0" versions_are 2.0 db2
check "5. no node left drained" none_drained up3

# ==== 6. an agent killed by its own watchdog while stopped ==========================
echo "== 6. db2's agent stopped mid-install until systemd's watchdog kills it"
must "6. db2's agent with WatchdogSec=2s (a drop-in)" fleet_sh db2 'mkdir -p /etc/systemd/system/hitless-agent.service.d &&
  printf "[Service]\nWatchdogSec=2s\nTimeoutAbortSec=1s\n" >/etc/systemd/system/hitless-agent.service.d/watchdog.conf &&
  systemctl daemon-reload && systemctl restart hitless-agent.service'
wait_or_end 30 "6. db2 online with it" node_online db2
check_or_end "6. rollback --all of up-3" ctl_ok rollback --all
wait_or_end 90 "6. db2 rolled back" up_is 'settled and nodes["db2"]["step"] == "rolled_back"'
check_or_end "6. up-4 started" ctl_ok upgrade start db-2.0.plan
wait_or_end 60 "6. db2 installing" up_is 'nodes["db2"]["step"] == "installing"'
inflight=$(upq 'nodes["db2"]["command_id"]')
agent_pid=$(fleet_exec db2 systemctl show -P MainPID hitless-agent.service)
check_or_end "6. db2's agent stopped (SIGSTOP) during $inflight" fleet_exec db2 kill -STOP "$agent_pid"
agent_replaced() {
  local p; p=$(fleet_exec db2 systemctl show -P MainPID hitless-agent.service)
  [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$agent_pid" ]
}
wait_or_end 30 "6. systemd's watchdog killed it and started a new agent" agent_replaced
wait_or_end 30 "6. db2 online again" node_online db2
wait_or_end 30 "6. db2 failed (unreachable during installing), paused" \
  up_is 'nodes["db2"]["step"] == "failed" and s["state"] == "paused"'
state_in_journal() {
  fleet_journal_json db2 | "$PY" -c 'import json,sys; print([c["state"] for c in json.load(sys.stdin)["commands"] if c["id"] == sys.argv[1]])' "$inflight"
}
state_in_history() {
  fleet_ctl history --node db2 --limit 1000 --json | "$PY" -c 'import json,sys; print([e["state"] for e in json.load(sys.stdin)["entries"] if e["command_id"] == sys.argv[1]])' "$inflight"
}
echo "   $inflight: journal $(state_in_journal), coordinator $(state_in_history)"
journal_says_interrupted() { [ "$(state_in_journal)" = "['interrupted']" ]; }
history_says_interrupted() { [ "$(state_in_history)" = "['interrupted']" ]; }
check "6. the new agent recorded $inflight interrupted in its journal" journal_says_interrupted
wait_or_end 20 "6. ... and reported it so: the coordinator's record of $inflight is interrupted" history_says_interrupted
check_or_end "6. resume" ctl_ok upgrade resume
check_or_end "6. rollback db2" ctl_ok rollback db2
wait_or_end 90 "6. over with db2, its only node, rolled back: state rolled_back" \
  up_is 's["state"] == "rolled_back" and settled and nodes["db2"]["step"] == "rolled_back"'
collect up4
check "6. db2 on 1.0" versions_are 1.0 db2
check "6. no node left drained" none_drained up4
check_py "6. no command id twice, no step twice without a rollback" once "$EV/up4" "${DBS[@]}"

# ==== the whole run ===================================================================
kill -TERM "$OBSERVER_PID" 2>/dev/null; wait "$OBSERVER_PID" 2>/dev/null; OBSERVER_PID=
check_py "quorum observer, whole run: never two members down" observer "$OBS" "${DBS[@]}"
end_test
