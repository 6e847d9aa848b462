#!/bin/bash
# Upgrades with real agents: a fleet of seven real nodes (tests/lib/fleet.sh:
# systemd-nspawn containers with systemd, dpkg, apt, the test packages and
# hitless-agent; one coordinator; one private netns): db1-3 (quorum group
# cassandra, max_down 1), ctrl1, c1-c3 (computes). Every outcome is asserted
# from the nodes themselves (dpkg, the service's answer, the vrouter conf,
# the drain hook log, the maintainer-script log, the agents' journals,
# hitless-test-svc's journal) and from `hitlessctl upgrade status --json`
# and `history`. A quorum observer (tests/upgrade/quorum-observer.py) reads
# the database nodes' real state every 200 ms for the whole run and must
# never see two of them down at once.
#
#   1. up-1, tests/upgrade/fleet-2.0.plan (database batch 1 drained;
#      controllers; computes batch 2, drained, repointed, restarted):
#      complete, every node on 2.0, computes repointed, each node's steps in
#      its journal, the 2.0 postinst once per node, history names the start
#      by unix:root and every command.
#   2. rollback --all of up-1: every node back on 1.0 with its vrouter conf
#      byte for byte; phases in reverse order (computes, controllers,
#      database, from the services' own journals), at most batch_size at once.
#   8. the same plan, the coordinator killed -9 right after the start and
#      then at random points (0.5 to 3 s apart), each time restarted on its
#      state dir, until complete; then its rollback --all killed the same
#      way; such cycles until at least 20 kills. After each: every node on
#      2.0, then 1.0; the steps in every agent's journal exactly once, no
#      command id twice; the 2.0 postinst exactly once per node per upgrade
#      (and the 1.0 one once on the way back); never two database nodes
#      down (observer).
#   3. tests/upgrade/bad-2.0.plan: c1's install fails for real
#      (hitless-test-bad 2.0's postinst), max_failures 0, on_failure pause:
#      paused, the Error condition names c1, the step and the agent's error;
#      c2 never starts; resume: c2 upgrades; rollback c1: back on 1.0,
#      dpkg clean, undrained; rollback --phase computes then rolls back c2
#      only (c1 is not rolled back twice).
#   4. tests/upgrade/canary-2.0.plan: paused while db1 is in its
#      sequence: db1 finishes, db2 and db3 do not start; resumed.
#   6. same upgrade: the computes' canary alone, then waiting_promote and no
#      other compute started; promote: complete.
#  10. tests/upgrade/steps-2.0.plan: the phase's own steps on ctrl1 (a
#      before step, an after step on the controllers group, a wait_for gate
#      that fails until the test opens it) around c2's sequence with a pre
#      and a post step (the policy's tasks "mark" and "gate"): the status
#      shows the gate not passed yet; the coordinator killed -9 and
#      restarted while it retries goes on trying it under new ids; opened:
#      complete. ctrl1 ran before, after, then the gate's tries, c2 its pre
#      and post steps between them (the nodes' own step logs, one clock);
#      c2's journal has pre before the drain, post after the restart and
#      before the undrain; no command id twice; history has every task.
#   7. same upgrade: rollback --phase computes rolls the computes back and
#      leaves the databases on 2.0; rollback db2 rolls back that node only;
#      `hitless-agent rollback` run on db3 itself: its agent reports it, the
#      upgrade shows db3 rolled_back, history has it by local:db3.
#   9. (after 5) `restart db1,db2,db3` as a batch job with a health gate:
#      each restarted once, done only once healthy for 2 s (the observer
#      sees one database down at a time).
#   5. tests/upgrade/abort-2.0.plan: aborted while c1 installs: a new
#      upgrade is refused while that install runs; it finishes and is
#      reported, no new step starts anywhere, state aborted, c1 shown halted
#      at its step (and it is the only drained node); rollback c1 afterwards.
# Also: a new upgrade is refused while the rollbacks of a complete one run
# (2.), and the coordinator killed -9 at resting points (paused by its
# failure budget or by an admin, waiting for promote, aborted) gives the
# same status after its restart.
# Needs root (containers); exit 77 otherwise. About 2.5 minutes here.
if [ "$(id -u)" -ne 0 ]; then
  echo "95-upgrade: skipped: needs root (systemd-nspawn)"
  exit 77
fi
. "$TOP/tests/lib/itest.sh"
# Read by fleet.sh: agents' and coordinator's heartbeat (health gates and
# reconnects go faster), no progress lines.
# shellcheck disable=SC2034
FLEET_HEARTBEAT=500ms FLEET_QUIET=1
# shellcheck source=../lib/fleet.sh
. "$TOP/tests/lib/fleet.sh"

U=$TOP/tests/upgrade
CHECKS=$U/checks.py
EV=$T/ev
OBSERVER_PID=
TEST_START=$(date +%s)

all_cleanup() {
  if [ -n "$OBSERVER_PID" ]; then
    kill -TERM "$OBSERVER_PID" 2>/dev/null; wait "$OBSERVER_PID" 2>/dev/null
  fi
  fleet_cleanup >/dev/null 2>&1
  cleanup
}
trap all_cleanup EXIT

# finish() shows the tail of $T/coordinator.log on failure.
end_test() {
  cp "$FLEET_DIR/coordinator.log" "$T/coordinator.log" 2>/dev/null
  echo "   95-upgrade took $(( $(date +%s) - TEST_START ))s"
  finish
}

# must, wait_or_end, upq, collect, check_py ...: tests/lib/upgrade.sh.
# shellcheck source=../lib/upgrade.sh
. "$TOP/tests/lib/upgrade.sh"

# vr_key NODE SECTION KEY: KEY's value in SECTION of NODE's vrouter conf.
vr_key() {
  fleet_exec "$1" cat "$FLEET_VR" | "$PY" -c '
import re, sys
m = re.search(r"^\[%s\]\n(?:(?!\[).*\n)*?%s=(.*)$" % (re.escape(sys.argv[1]), sys.argv[2]), sys.stdin.read(), re.M)
print(m.group(1) if m else "")' "$2" "$3"
}

# pointed_at CONTROLLERS COLLECTORS NODE...: the nodes' vrouter conf (dns
# never changes).
pointed_at() {
  local c=$1 l=$2 n; shift 2
  for n in "$@"; do
    if [ "$(vr_key "$n" CONTROL-NODE servers)" != "$c" ] || [ "$(vr_key "$n" DEFAULT collectors)" != "$l" ] ||
       [ "$(vr_key "$n" DNS servers)" != "$DNS" ]; then
      echo "    $n: servers=$(vr_key "$n" CONTROL-NODE servers) collectors=$(vr_key "$n" DEFAULT collectors)"
      return 1
    fi
  done
}
# same_files BEFORE AFTER WHAT NODE...: the collected files are identical.
same_files() {
  local a=$1 b=$2 w=$3 n; shift 3
  for n in "$@"; do cmp -s "$EV/$a/$n.$w" "$EV/$b/$n.$w" || { echo "    $n.$w differs"; return 1; }; done
}
# kill_restart: SIGKILL to the coordinator at a resting point of an upgrade
# and a restart: the status it gives (state, pause reason, conditions, every
# node's step, halted flag and error) is the same afterwards.
RESTARTS=0
STATUS_KEY='json.dumps([s["upgrade_id"], s["state"], s["pause_reason"], s["conditions"], [(n["node_id"], n["step"], n["halted"], n["error"], n["rollback_pending"]) for n in s["nodes"]]])'
kill_restart() {
  local before after
  before=$(upq "$STATUS_KEY")
  fleet_coordinator_kill9 && fleet_coordinator_start || { echo "    the coordinator did not start again"; return 1; }
  RESTARTS=$((RESTARTS + 1))
  after=$(upq "$STATUS_KEY")
  [ -n "$before" ] && [ "$before" = "$after" ] || { printf '    before: %s\n    after:  %s\n' "$before" "$after"; return 1; }
}

DBS=(db1 db2 db3)
COMPUTES=(c1 c2 c3)
ALL=(db1 db2 db3 ctrl1 c1 c2 c3)
NEW_CTRL="10.0.1.11:5269 10.0.1.12:5269"
OLD_CTRL="10.0.0.11:5269 10.0.0.12:5269"
NEW_COLL="10.0.1.11:8086 10.0.1.12:8086"
OLD_COLL="10.0.0.11:8086 10.0.0.12:8086"
DNS="10.0.0.11:53 10.0.0.12:53"
mkdir -p "$EV"

# ---- the fleet -----------------------------------------------------------------
fleet_inventory '
groups = ( { name = "controllers"; roles = ["controller"]; },
           { name = "computes"; roles = ["compute"]; } );
quorum_groups = ( { name = "cassandra"; members = ["db1", "db2", "db3"]; max_down = 1; } );'
must "fleet of 7 nodes set up" fleet_setup db1:database db2:database db3:database ctrl1:controller \
  c1:compute c2:compute c3:compute
echo "   fleet: $FLEET_TIMES"
# c1 also manages hitless-test-bad (1.0 installed): only c1 gets it in bad-2.0.plan.
must "c1 manages hitless-test-bad 1.0" fleet_sh c1 "$FLEET_APT install hitless-test-bad=1.0 >/dev/null 2>&1 &&
  sed -i 's/^packages = \[\(.*\)\];/packages = [\1, \"hitless-test-bad\"];/' $FLEET_CONF &&
  systemctl restart hitless-agent.service"
c1_reports_bad() { fleet_node_field c1 packages | grep -q '"hitless-test-bad": "1.0"'; }
wait_or_end 20 "c1 reports hitless-test-bad 1.0" c1_reports_bad
must "fleet healthy" fleet_wait_healthy 30

# The quorum observer, for the whole run.
OBS=$EV/observer.jsonl
obs_args=()
for n in "${DBS[@]}"; do obs_args+=("$n=$(nspawn_leader "$n")"); done
"$PY" "$U/quorum-observer.py" "$OBS" 0.2 "${obs_args[@]}" &
OBSERVER_PID=$!
wait_or_end 10 "the quorum observer samples db1-3" bash -c "[ -s '$OBS' ]"

collect s0
cp "$U"/*.plan "$FLEET_DIR/"
cd "$FLEET_DIR" || exit 1

# ==== 1. a full plan 1.0 -> 2.0 =====================================================
echo "== 1. up-1: fleet-2.0.plan"
check_or_end "plan check: valid" ctl_ok plan check fleet-2.0.plan
t_up1=$(now)
fleet_ctl upgrade start fleet-2.0.plan --json >"$EV/up1-start.json" 2>&1
check_or_end "upgrade start: up-1 running, started by unix:root" \
  st_is "$EV/up1-start.json" 's["upgrade_id"] == "up-1" and s["state"] == "running" and s["started_by"] == "unix:root" and s["plan_name"] == "fleet-2.0"'
wait_or_end 120 "up-1 complete" up_is 's["state"] == "complete" and settled'
save_status up1-done
collect s1
check "status: Complete True, Error False, Upgrading False, StoreDegraded False" st_is "$EV/up1-done.json" \
  'cond["Complete"]["status"] and not cond["Error"]["status"] and not cond["Upgrading"]["status"] and [c["type"] for c in s["conditions"]] == ["Upgrading", "Error", "Complete", "StoreDegraded"] and not cond["StoreDegraded"]["status"]'
check "status: every phase finished, every node done" st_is "$EV/up1-done.json" \
  'all(p["state"] == "finished" and p["done"] == p["nodes"] for p in s["phases"]) and [p["nodes"] for p in s["phases"]] == [3, 1, 3] and all(nodes[n]["step"] == "done" for n in "db1 db2 db3 ctrl1 c1 c2 c3".split())'
check "every node on 2.0 (dpkg and the running service)" versions_are 2.0 "${ALL[@]}"
check "computes repointed to the new controllers and collectors, dns kept" \
  pointed_at "$NEW_CTRL" "$NEW_COLL" "${COMPUTES[@]}"
check "database and controller nodes not repointed" pointed_at "$OLD_CTRL" "$OLD_COLL" db1 db2 db3 ctrl1
check_py "agents' journals: each node's steps for up-1, in order, all succeeded" steps "$EV/s1" up-1 \
  db1=drain,install,restart,undrain db2=drain,install,restart,undrain db3=drain,install,restart,undrain \
  ctrl1=install,restart c1=drain,install,repoint,restart,undrain c2=drain,install,repoint,restart,undrain \
  c3=drain,install,repoint,restart,undrain
check_py "the 2.0 postinst ran once on every node" maint "$EV/s0" "$EV/s1" "hitless-test-svc 2.0 postinst configure" 1 "${ALL[@]}"
check_py "database drain windows (hook logs) never overlap" drain-windows "$EV/s1" "$t_up1" "${DBS[@]}"
check "no node left drained" none_drained s1
check "ctrl1 (no drain in its phase) never drained" [ ! -s "$EV/s1/ctrl1.hooks" ]
fleet_ctl history --limit 10000 --json >"$EV/up1-history.json" 2>&1
fleet_ctl history --limit 10000 >"$EV/up1-history.txt" 2>&1
check "history: up-1 started by unix:root, with its plan" "$PY" - "$EV/up1-history.json" <<'PYEOF'
import json, sys
h = json.load(open(sys.argv[1]))["entries"]
st = [e for e in h if e["kind"] == "upgrade.started"]
assert len(st) == 1 and st[0]["actor"] == "unix:root" and "up-1" in st[0]["message"] and "fleet-2.0" in st[0]["message"], st
PYEOF
check "history: every command of up-1, by upgrade:up-1, succeeded, per node and action" "$PY" - "$EV/up1-history.json" <<'PYEOF'
import json, sys
h = json.load(open(sys.argv[1]))["entries"]
cmds = [(e["node_id"], e["action"]) for e in h if e["kind"] == "command" and e["upgrade_id"] == "up-1"
        and e["actor"] == "upgrade:up-1" and e["state"] == "succeeded" and e["finished"] > 0]
want = [(n, a) for n in ("db1", "db2", "db3") for a in ("drain", "install", "restart", "undrain")] + \
       [("ctrl1", "install"), ("ctrl1", "restart")] + \
       [(n, a) for n in ("c1", "c2", "c3") for a in ("drain", "install", "repoint", "restart", "undrain")]
assert sorted(cmds) == sorted(want), "history %s\nexpected %s" % (sorted(cmds), sorted(want))
PYEOF
check "history (text) shows the start by unix:root" grep -Eq 'unix:root +- +upgrade.started: up-1: plan fleet-2.0' "$EV/up1-history.txt"

# ==== 2. rollback --all ==============================================================
echo "== 2. rollback --all of up-1"
t_rb1=$(now)
fleet_ctl rollback --all --json >"$EV/rb1.json" 2>&1
check "rollback --all: queued in up-1" st_is "$EV/rb1.json" 's["upgrade_id"] == "up-1" and "rollback" in s["message"]'
# up-1 is complete, but its rollbacks run: no new upgrade beside them.
fleet_ctl upgrade start fleet-2.0.plan >"$EV/rb1-start.out" 2>&1
rc=$?
check "upgrade start refused while up-1's rollbacks run (exit $rc)" [ "$rc" = 1 ]
check "the refusal says which rollback runs" grep -Eq 'upgrade up-1 \(fleet-2.0\) is over, but (node [a-z0-9]+ still runs its rollback|the rollback of node [a-z0-9]+ waits)' "$EV/rb1-start.out"
wait_or_end 120 "every node of up-1 rolled back" up_is 'settled and all(n["step"] == "rolled_back" for n in s["nodes"])'
save_status rb1-done
collect s2
check "every node back on 1.0 (dpkg and the running service)" versions_are 1.0 "${ALL[@]}"
check "every vrouter conf restored byte for byte" same_files s0 s2 vrouter "${ALL[@]}"
check "status: every phase's nodes rolled back" st_is "$EV/rb1-done.json" 'all(p["rolled_back"] == p["nodes"] and p["in_flight"] == 0 for p in s["phases"])'
check_py "agents' journals: one rollback per node after its steps" steps "$EV/s2" up-1 \
  db1=drain,install,restart,undrain,rollback db2=drain,install,restart,undrain,rollback \
  db3=drain,install,restart,undrain,rollback ctrl1=install,restart,rollback \
  c1=drain,install,repoint,restart,undrain,rollback c2=drain,install,repoint,restart,undrain,rollback \
  c3=drain,install,repoint,restart,undrain,rollback
check_py "the 1.0 postinst (downgrade) ran once on every node" maint "$EV/s1" "$EV/s2" "hitless-test-svc 1.0 postinst configure 2.0" 1 "${ALL[@]}"
check_py "phases rolled back in reverse order (computes, controllers, database), batch_size at most" \
  rollback-order "$EV/s2" "$t_rb1" 2,1,1 computes=c1,c2,c3 controllers=ctrl1 database=db1,db2,db3
check "no node left drained" none_drained s2

# ==== 8. kill -9 of the coordinator during plans and their rollbacks =================
echo "== 8. fleet-2.0.plan and rollback --all, the coordinator killed -9 at random points"
KILLS=0
# kill_loop MAX TIMEOUT 'DONE EXPR': until DONE (upq) holds, every random
# 0.5..3 s: SIGKILL to the coordinator and a restart on its state dir (at
# most MAX times; then it only waits). 0 when DONE held within TIMEOUT.
kill_loop() {
  local max=$1 timeout=$2 expr=$3 k=0 ms end at
  end=$(( $(date +%s) + timeout ))
  while [ "$(date +%s)" -lt "$end" ]; do
    ms=$(( 500 + RANDOM % 2501 ))
    sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
    up_is "$expr" && return 0
    [ "$k" -lt "$max" ] || continue
    at=$(steps)
    fleet_coordinator_kill9 || return 1
    KILLS=$((KILLS + 1)); k=$((k + 1))
    echo "   kill -9 #$KILLS after ${ms}ms: $at" >>"$EV/kills.txt"
    fleet_coordinator_start || { echo "    the coordinator did not start again"; return 1; }
  done
  return 1
}
# kill_now: one more kill at once (0..200 ms), e.g. right after a request.
kill_now() {
  local ms=$(( RANDOM % 201 )) at
  sleep "0.$(printf '%03d' "$ms")"
  at=$(steps)
  fleet_coordinator_kill9 || return 1
  KILLS=$((KILLS + 1))
  echo "   kill -9 #$KILLS ${ms}ms after the request: $at" >>"$EV/kills.txt"
  fleet_coordinator_start || { echo "    the coordinator did not start again"; return 1; }
}
# Each cycle: the plan up to complete, then rollback --all up to every node
# rolled back, both under kills; cycles until 20 kills (at most 4).
cycle=0
while [ "$KILLS" -lt 20 ] && [ "$cycle" -lt 4 ]; do
  cycle=$((cycle + 1)); c=k$cycle
  collect "${c}a"
  t_up=$(now)
  fleet_ctl upgrade start fleet-2.0.plan --json >"$EV/$c-start.json" 2>&1
  up=$(stq "$EV/$c-start.json" 's["upgrade_id"]')
  check_or_end "8.$cycle: upgrade start ($up)" st_is "$EV/$c-start.json" 's["state"] == "running"'
  k0=$KILLS
  check_or_end "8.$cycle: kill -9 right after the start" kill_now
  check_or_end "8.$cycle: $up complete, the coordinator killed on the way" kill_loop 12 180 \
    's["upgrade_id"] == "'"$up"'" and s["state"] == "complete" and settled'
  echo "   $up: $((KILLS - k0)) kills"
  save_status "$c-done"
  collect "${c}b"
  check "8.$cycle: status: $up complete, every node done, no error" st_is "$EV/$c-done.json" \
    'cond["Complete"]["status"] and not cond["Error"]["status"] and all(n["step"] == "done" for n in s["nodes"])'
  check "8.$cycle: every node on 2.0 (nothing skipped)" versions_are 2.0 "${ALL[@]}"
  check_py "8.$cycle: agents' journals: each node's steps for $up exactly once, in order" steps "$EV/${c}b" "$up" \
    db1=drain,install,restart,undrain db2=drain,install,restart,undrain db3=drain,install,restart,undrain \
    ctrl1=install,restart c1=drain,install,repoint,restart,undrain c2=drain,install,repoint,restart,undrain \
    c3=drain,install,repoint,restart,undrain
  check_py "8.$cycle: the 2.0 postinst ran exactly once per node" maint "$EV/${c}a" "$EV/${c}b" \
    "hitless-test-svc 2.0 postinst configure" 1 "${ALL[@]}"
  check_py "8.$cycle: database drain windows never overlap" drain-windows "$EV/${c}b" "$t_up" "${DBS[@]}"
  check_or_end "8.$cycle: rollback --all of $up" ctl_ok rollback --all
  k0=$KILLS
  check_or_end "8.$cycle: kill -9 right after the rollback request" kill_now
  check_or_end "8.$cycle: $up rolled back, the coordinator killed on the way" kill_loop 12 180 \
    'settled and all(n["step"] == "rolled_back" for n in s["nodes"])'
  echo "   rollback of $up: $((KILLS - k0)) kills"
  collect "${c}c"
  check "8.$cycle: every node back on 1.0" versions_are 1.0 "${ALL[@]}"
  check_py "8.$cycle: agents' journals: $up's steps then one rollback per node" steps "$EV/${c}c" "$up" \
    db1=drain,install,restart,undrain,rollback db2=drain,install,restart,undrain,rollback \
    db3=drain,install,restart,undrain,rollback ctrl1=install,restart,rollback \
    c1=drain,install,repoint,restart,undrain,rollback c2=drain,install,repoint,restart,undrain,rollback \
    c3=drain,install,repoint,restart,undrain,rollback
  check_py "8.$cycle: the 1.0 postinst ran exactly once per node in the rollback" maint "$EV/${c}b" "$EV/${c}c" \
    "hitless-test-svc 1.0 postinst configure 2.0" 1 "${ALL[@]}"
  check_py "8.$cycle: no 2.0 postinst during the rollback" maint "$EV/${c}b" "$EV/${c}c" "hitless-test-svc 2.0 postinst" 0 "${ALL[@]}"
  check "8.$cycle: no node left drained" none_drained "${c}c"
done
echo "   $KILLS kills in $cycle cycles:"
cat "$EV/kills.txt"
check "8. at least 20 kills -9 of the coordinator during plans ($KILLS)" [ "$KILLS" -ge 20 ]
resumed=$(grep -c ' resumed from the store' "$FLEET_DIR/coordinator.log")
check "8. the coordinator resumed the upgrade from its store after every kill ($resumed)" [ "$resumed" = "$KILLS" ]
RESUMED_BASE=$resumed
check_py "8. no command id twice, no step twice without a rollback, in any journal" once "$EV/${c}c" "${ALL[@]}"
check_py "8. quorum observer so far: never two database nodes down at once" observer "$OBS" "${DBS[@]}"

# ==== 3. failure budget ===============================================================
echo "== 3. bad-2.0.plan (c1's install fails for real)"
collect s5pre
fleet_ctl upgrade start bad-2.0.plan --json >"$EV/up3-start.json" 2>&1
UP3=$(stq "$EV/up3-start.json" 's["upgrade_id"]')
check_or_end "upgrade start ($UP3)" st_is "$EV/up3-start.json" 's["state"] == "running"'
wait_or_end 60 "$UP3 paused by its failure budget" up_is 's["upgrade_id"] == "'"$UP3"'" and s["state"] == "paused" and nodes["c1"]["step"] == "failed"'
check_or_end "kill -9 and restart of the coordinator while paused: the same status" kill_restart
sleep 3   # several heartbeats and ticks: nothing may start
save_status up3-paused
collect s5
echo "   Error: $(stq "$EV/up3-paused.json" 'cond["Error"]["message"]')"
check "Error True naming c1, the step and the agent's error" st_is "$EV/up3-paused.json" \
  'cond["Error"]["status"] and all(w in cond["Error"]["message"] for w in ("c1", "installing", "apt-get failed", "package-failed"))'
check "pause reason: the failure budget" st_is "$EV/up3-paused.json" '"failure budget" in s["pause_reason"] and "max_failures 0" in s["pause_reason"]'
check "c1 failed in installing, with the agent's error" st_is "$EV/up3-paused.json" \
  'nodes["c1"]["error"].startswith("node c1 failed in installing: package-failed") and nodes["c1"]["command"] == ""'
check "c2 pending, waiting because paused" st_is "$EV/up3-paused.json" 'nodes["c2"]["step"] == "pending" and nodes["c2"]["waiting"].startswith("paused")'
check "c1 really failed: hitless-test-bad 2.0 half-configured, its postinst ran" \
  grep -q '^hitless-test-bad 2.0 install ok half-configured' "$EV/s5/c1.versions"
check "c1's maintainer-script log: hitless-test-bad 2.0's postinst ran" grep -q '^hitless-test-bad 2.0 postinst configure' "$EV/s5/c1.maint"
check_py "c1's journal: drain, then the failed install" steps "$EV/s5" "$UP3" c1=drain,install:failed
check_py "no further node started: no command of $UP3 on c2 (or anywhere else)" no-commands "$EV/s5" "$UP3" db1 db2 db3 ctrl1 c2 c3
check "c2 untouched: never drained in $UP3" same_files s5pre s5 hooks c2
check "c2 untouched: still on 1.0" versions_are 1.0 c2
check_or_end "upgrade resume" ctl_ok upgrade resume
# c1 failed while drained: it holds its phase open (never complete while a
# node is left drained) until it is rolled back.
wait_or_end 60 "$UP3 after resume: c2 upgraded, c1 left failed and drained, not complete" up_is \
  's["state"] == "running" and settled and nodes["c2"]["step"] == "done" and nodes["c1"]["step"] == "failed" and nodes["c1"]["drained"] and nodes["c1"]["waiting"].startswith("failed while drained")'
check "c2 on 2.0" versions_are 2.0 c2
check_or_end "rollback c1" ctl_ok rollback c1
wait_or_end 60 "c1 rolled back, $UP3 complete" up_is 'settled and nodes["c1"]["step"] == "rolled_back" and s["state"] == "complete"'
check "c1 back on 1.0" versions_are 1.0 c1
check "c1: hitless-test-bad back on 1.0, installed" \
  [ "$(fleet_exec c1 dpkg-query -W -f '${Version} ${Status}' hitless-test-bad)" = "1.0 install ok installed" ]
check "c1: dpkg --audit clean" [ -z "$(fleet_exec c1 dpkg --audit 2>&1)" ]
check "c1 undrained" [ "$(fleet_exec c1 ls /var/lib/test-drained 2>/dev/null)" = "" ]
check "c2 still on 2.0" versions_are 2.0 c2
# 7 (per phase, within this plan): c1 is rolled back already, c2 is not.
check_or_end "rollback --phase computes" ctl_ok rollback --phase computes
wait_or_end 60 "c2 rolled back by its phase" up_is 'settled and nodes["c2"]["step"] == "rolled_back" and nodes["c1"]["step"] == "rolled_back"'
collect s6
check "c1 and c2 on 1.0" versions_are 1.0 c1 c2
check_py "journals: c1 rolled back once (not again with its phase), c2 after its steps" steps "$EV/s6" "$UP3" \
  c1=drain,install:failed,rollback c2=drain,install,restart,undrain,rollback

# ==== 4, 6, 7. pause/resume, canary + promote, rollback per phase and node ===========
echo "== 4/6/7. canary-2.0.plan"
collect s7pre
fleet_ctl upgrade start canary-2.0.plan --json >"$EV/up4-start.json" 2>&1
UP4=$(stq "$EV/up4-start.json" 's["upgrade_id"]')
check_or_end "upgrade start ($UP4)" st_is "$EV/up4-start.json" 's["state"] == "running"'
wait_or_end 30 "db1 in its sequence" up_is 's["upgrade_id"] == "'"$UP4"'" and nodes["db1"]["command"] != ""'
fleet_ctl upgrade pause --json >"$EV/up4-pause.json" 2>&1
check "4. upgrade pause: state paused" st_is "$EV/up4-pause.json" 's["state"] == "paused" and s["pause_reason"] == "paused by an admin"'
wait_or_end 60 "4. db1 finishes its sequence while paused" up_is 'nodes["db1"]["step"] == "done" and s["state"] == "paused"'
check_or_end "4. kill -9 and restart of the coordinator while paused: the same status" kill_restart
sleep 3
save_status up4-paused
collect s7
check "4. db2 and db3 pending, waiting: paused" st_is "$EV/up4-paused.json" \
  'all(nodes[n]["step"] == "pending" and nodes[n]["waiting"].startswith("paused") for n in ("db2", "db3"))'
check_py "4. no command of $UP4 reached db2, db3 or a compute while paused" no-commands "$EV/s7" "$UP4" db2 db3 c1 c2 c3
check "4. db2 and db3 never drained while paused" same_files s7pre s7 hooks db2 db3
check "4. db2 and db3 still on 1.0" versions_are 1.0 db2 db3
check "4. db1 on 2.0" versions_are 2.0 db1
check_or_end "4. upgrade resume" ctl_ok upgrade resume
wait_or_end 90 "6. the canary done, then waiting_promote" up_is 's["state"] == "waiting_promote"'
check_or_end "6. kill -9 and restart of the coordinator while waiting for promote: the same status" kill_restart
sleep 3
save_status up4-promote
collect s8
canary=$(stq "$EV/up4-promote.json" '" ".join(n for n in ("c1", "c2", "c3") if nodes[n]["step"] == "done")')
others=$(stq "$EV/up4-promote.json" '" ".join(n for n in ("c1", "c2", "c3") if nodes[n]["step"] != "done")')
echo "   canary: $canary; waiting: $others"
check "6. one canary done, the phase waiting_promote, the databases done" st_is "$EV/up4-promote.json" \
  'phases["computes"]["state"] == "waiting_promote" and phases["computes"]["done"] == 1 and phases["database"]["done"] == 3 and s["current_phase"] == "computes"'
check "6. the other computes pending, waiting for promote" st_is "$EV/up4-promote.json" \
  'sorted(n for n in ("c1", "c2", "c3") if nodes[n]["step"] == "pending" and nodes[n]["waiting"] == "waiting for promote") == sorted("'"$others"'".split()) and len("'"$others"'".split()) == 2'
# shellcheck disable=SC2086
check_py "6. no command of $UP4 on the other computes" no-commands "$EV/s8" "$UP4" $others
# shellcheck disable=SC2086
check "6. the canary repointed (controllers only, as the plan says)" pointed_at "$NEW_CTRL" "$OLD_COLL" $canary
# shellcheck disable=SC2086
check "6. the canary on 2.0" versions_are 2.0 $canary
# shellcheck disable=SC2086
check "6. the other computes on 1.0" versions_are 1.0 $others
fleet_ctl upgrade promote --json >"$EV/up4-promoted.json" 2>&1
check "6. upgrade promote: the phase goes on" st_is "$EV/up4-promoted.json" 's["state"] == "running"'
wait_or_end 60 "6. $UP4 complete" up_is 's["state"] == "complete" and settled'
check "6. databases and computes on 2.0" versions_are 2.0 db1 db2 db3 c1 c2 c3
check_or_end "7. rollback --phase computes" ctl_ok rollback --phase computes
wait_or_end 60 "7. the computes rolled back" up_is 'settled and all(nodes[n]["step"] == "rolled_back" for n in ("c1", "c2", "c3"))'
check "7. the computes on 1.0" versions_are 1.0 c1 c2 c3
check "7. the computes' conf restored" pointed_at "$OLD_CTRL" "$OLD_COLL" c1 c2 c3
check "7. the databases still on 2.0" versions_are 2.0 db1 db2 db3
check "7. status: database done, computes rolled back" up_is 'phases["database"]["done"] == 3 and phases["computes"]["rolled_back"] == 3'
check_or_end "7. rollback db2" ctl_ok rollback db2
wait_or_end 60 "7. db2 rolled back" up_is 'settled and nodes["db2"]["step"] == "rolled_back"'
collect s9
check "7. db2 on 1.0" versions_are 1.0 db2
check "7. db1 and db3 still on 2.0" versions_are 2.0 db1 db3
check_py "7. journals of $UP4: the databases' steps (db2 then rolled back), the computes' steps then one rollback" \
  steps "$EV/s9" "$UP4" db1=drain,install,restart,undrain db2=drain,install,restart,undrain,rollback \
  db3=drain,install,restart,undrain c1=drain,install,repoint,restart,undrain,rollback \
  c2=drain,install,repoint,restart,undrain,rollback c3=drain,install,repoint,restart,undrain,rollback
check_py "7. no command of $UP4 on ctrl1 (not in the plan)" no-commands "$EV/s9" "$UP4" ctrl1
# db3's root rolls it back on the node itself: the upgrade follows.
fleet_exec db3 "$FLEET_AGENT" -c "$FLEET_CONF" rollback >"$EV/db3-local-rollback.out" 2>&1
check "7. hitless-agent rollback on db3 succeeds" grep -q '^succeeded' "$EV/db3-local-rollback.out"
wait_or_end 30 "7. the upgrade shows db3 rolled back (reported by its agent)" up_is 'nodes["db3"]["step"] == "rolled_back"'
check "7. db3 on 1.0" versions_are 1.0 db3
check "7. db1 still on 2.0" versions_are 2.0 db1
# local_in_history NODE: its rollback by local:NODE and the upgrade's
# upgrade.local_rollback event, both in history.
local_in_history() {
  fleet_ctl history --node "$1" --json | "$PY" -c 'import json,sys
e = json.load(sys.stdin)["entries"]
a = "local:" + sys.argv[1]
sys.exit(not (any(x["actor"] == a and x["action"] == "rollback" and x["state"] == "succeeded" for x in e) and
              any(x["actor"] == a and x["kind"] == "upgrade.local_rollback" for x in e)))' "$1"
}
check "7. history: db3's rollback by local:db3 and upgrade.local_rollback" local_in_history db3

# ==== 5. abort =========================================================================
echo "== 5. abort-2.0.plan, aborted mid-sequence"
fleet_ctl upgrade start abort-2.0.plan --json >"$EV/up5-start.json" 2>&1
UP5=$(stq "$EV/up5-start.json" 's["upgrade_id"]')
check_or_end "upgrade start ($UP5)" st_is "$EV/up5-start.json" 's["state"] == "running"'
wait_or_end 30 "c1 installing" up_is 's["upgrade_id"] == "'"$UP5"'" and nodes["c1"]["command"] == "install"'
fleet_ctl upgrade abort --json >"$EV/up5-abort.json" 2>&1
# Aborted, but c1's install still runs: no new upgrade beside it.
fleet_ctl upgrade start abort-2.0.plan >"$EV/up5-start2.out" 2>&1
rc=$?
check "5. upgrade start refused while the aborted upgrade's install runs (exit $rc)" [ "$rc" = 1 ]
check "5. the refusal names c1's install" grep -q "upgrade $UP5 (abort-2.0) is over, but node c1 still runs its install" "$EV/up5-start2.out"
inflight=$(stq "$EV/up5-abort.json" 'nodes["c1"]["command_id"]')
echo "   aborted with c1 in $(stq "$EV/up5-abort.json" 'nodes["c1"]["step"]') ($(stq "$EV/up5-abort.json" 'nodes["c1"]["command"]') $inflight in flight)"
check "5. upgrade abort: state aborted" st_is "$EV/up5-abort.json" 's["state"] == "aborted"'
wait_or_end 60 "5. c1's step in flight finished" up_is 'nodes["c1"]["command"] == "" and nodes["c1"]["halted"]'
check_or_end "5. kill -9 and restart of the coordinator after the abort: the same status" kill_restart
sleep 3   # several heartbeats and ticks: nothing may start
save_status up5-aborted
collect s10
check "5. status: aborted, Complete False (Aborted), Upgrading False" st_is "$EV/up5-aborted.json" \
  's["state"] == "aborted" and not cond["Complete"]["status"] and cond["Complete"]["reason"] == "Aborted" and not cond["Upgrading"]["status"]'
check "5. c1 shown halted at its step, the others pending" st_is "$EV/up5-aborted.json" \
  'nodes["c1"]["halted"] and nodes["c1"]["step"] not in RESTING and nodes["c1"]["waiting"] == "aborted after " + nodes["c1"]["step"] and all(nodes[n]["step"] == "pending" and not nodes[n]["halted"] for n in ("c2", "c3"))'
check "5. the step in flight at the abort finished and was reported (c1's journal and history)" "$PY" - \
  "$EV/s10/c1.journal" "$inflight" "$BUILD/hitlessctl" "$FLEET_SOCK" "$UP5" <<'PYEOF'
import json, subprocess, sys
journal, inflight, ctl, sock = sys.argv[1:5]
cmds = sorted((c for c in json.load(open(journal))["commands"] if c["id"].startswith(sys.argv[5] + "-")),
              key=lambda c: int(c["id"].split("-")[2]))
assert cmds, "no command of %s on c1" % sys.argv[5]
last = cmds[-1]
assert all(c["state"] == "succeeded" for c in cmds), cmds
if inflight:
    # Nothing after the command in flight at the abort.
    assert last["id"] == inflight, "c1 ran %s after the abort (in flight then: %s)" % (last["id"], inflight)
h = json.loads(subprocess.run([ctl, "--socket", sock, "history", "--node", "c1", "--limit", "10000", "--json"],
                              capture_output=True, text=True, check=True).stdout)["entries"]
rep = [e for e in h if e["command_id"] == last["id"]]
assert rep and rep[-1]["state"] == "succeeded" and rep[-1]["finished"] > 0, rep
print("    c1: %s; %s %s reported %s" % (", ".join(c["kind"] for c in cmds), last["kind"], last["id"], rep[-1]["state"]))
PYEOF
check_py "5. no command of $UP5 on c2 or c3" no-commands "$EV/s10" "$UP5" c2 c3 db1 db2 db3 ctrl1
echo "   drained now: $(drained_nodes s10); c1 in status: $(stq "$EV/up5-aborted.json" 'nodes["c1"]["step"] + (", halted" if nodes["c1"]["halted"] else "")')"
check "5. nothing drained without being shown: each drained node halted in a step in the status" \
  st_is "$EV/up5-aborted.json" 'all(nodes[n]["halted"] and nodes[n]["step"] not in RESTING for n in "'"$(drained_nodes s10)"'".split())'
# Aborted at its first command (drain or install): c1 drained, nobody else.
check "5. c1 (aborted before its undrain) is the only drained node" [ "$(drained_nodes s10)" = c1 ]
check "5. c2 and c3 untouched" versions_are 1.0 c2 c3
fleet_ctl upgrade resume >/dev/null 2>&1
check "5. resume refused after abort" [ $? -ne 0 ]
check_or_end "5. rollback c1 after the abort" ctl_ok rollback c1
wait_or_end 60 "5. c1 rolled back" up_is 'nodes["c1"]["step"] == "rolled_back" and nodes["c1"]["command"] == ""'
collect s11
check "5. c1 back on 1.0" versions_are 1.0 c1
check "5. c1's conf restored byte for byte" same_files s0 s11 vrouter c1

# ==== 9. a restart batch with a health gate ===========================================
echo "== 9. restart batch over the databases, health gate 2 s"
fleet_ctl restart db1,db2,db3 hitless-test-svc.service --min-healthy-time 2s --healthy-deadline 30s \
  >"$EV/restart-batch.out" 2>&1; rc=$?
check "9. restart db1,db2,db3: exit 0, each succeeded once healthy for 2 s (the observer: one down at a time)" \
  bash -c "[ $rc -eq 0 ] && [ \$(grep -c ': restart job-[0-9]*-[0-9] succeeded: healthy for [2-9] s' '$EV/restart-batch.out') -eq 3 ]"

# ==== 10. a phase's own steps, and pre and post steps around a node ===================
echo "== 10. steps-2.0.plan: before, after and a gate on ctrl1; pre and post steps on c2"
check_or_end "10. plan check lists the steps" bash -c "'$BUILD/hitlessctl' --socket '$FLEET_SOCK' plan check steps-2.0.plan >'$EV/up10-check.out' 2>&1 && grep -q 'before.*mark.*ctrl1' '$EV/up10-check.out' && grep -q 'wait_for.*gate.*ctrl1' '$EV/up10-check.out'"
fleet_sh ctrl1 'rm -f /var/lib/test-gate-open /var/log/hitless-test-steps.log'
fleet_ctl upgrade start steps-2.0.plan --json >"$EV/up10-start.json" 2>&1
UP10=$(stq "$EV/up10-start.json" 's["upgrade_id"]')
check_or_end "10. upgrade start ($UP10)" st_is "$EV/up10-start.json" 's["state"] == "running"'
wait_or_end 120 "10. the gate tried and not passed yet (c2 done)" up_is \
  's["upgrade_id"] == "'"$UP10"'" and s["phases"][0]["stage"] == "wait_for" and "not passed yet" in s["phases"][0]["step"] and nodes["c2"]["step"] == "done"'
save_status up10-gate
echo "   phase step: $(stq "$EV/up10-gate.json" 's["phases"][0]["step"]')"
check "10. status: the gate named with its task, node and the agent's error; not complete" st_is "$EV/up10-gate.json" \
  '"wait_for step 1/1 (task gate on ctrl1)" in s["phases"][0]["step"] and "task-failed: task gate: exit 1" in s["phases"][0]["step"] and not cond["Complete"]["status"] and s["state"] == "running"'
gate_tries() { fleet_sh ctrl1 'grep -c "^gate " /var/log/hitless-test-steps.log'; }
gate_tried_again() { [ "$(gate_tries)" -gt "$tries_before" ]; }
tries_before=$(gate_tries)
check_or_end "10. kill -9 and restart of the coordinator while the gate is retried: the same status" kill_restart
wait_or_end 30 "10. the gate tried again after the restart" gate_tried_again
sleep 2
check "10. still not complete while the gate fails" up_is 's["upgrade_id"] == "'"$UP10"'" and s["state"] == "running" and s["phases"][0]["stage"] == "wait_for"'
fleet_sh ctrl1 'touch /var/lib/test-gate-open'
wait_or_end 60 "10. complete once the gate passes" up_is 's["upgrade_id"] == "'"$UP10"'" and s["state"] == "complete" and settled'
collect s12
check "10. c2 on 2.0" versions_are 2.0 c2
check "10. c2's journal: the pre task, drain, install, restart, the post task, undrain, in that order" "$PY" - \
  "$EV/s12/c2.journal" "$UP10" <<'PYEOF'
import json, sys
cmds = sorted((c for c in json.load(open(sys.argv[1]))["commands"] if c["id"].startswith(sys.argv[2] + "-")),
              key=lambda c: int(c["id"].split("-")[-1]))
kinds = [c["kind"] for c in cmds]
assert kinds == ["task", "drain", "install", "restart", "task", "undrain"], kinds
assert all(c["state"] == "succeeded" for c in cmds), cmds
PYEOF
nspawn_sh c2 'cat /var/log/hitless-test-steps.log 2>/dev/null' >"$EV/s12/c2.steps"
nspawn_sh ctrl1 'cat /var/log/hitless-test-steps.log 2>/dev/null' >"$EV/s12/ctrl1.steps"
check "10. ctrl1 ran before, after, then the gate (failed twice or more, one try after the kill, then passed); c2 pre and post between before and after; each a command of $UP10 with its own id" "$PY" - \
  "$EV/s12/c2.steps" "$EV/s12/ctrl1.steps" "$UP10" "$tries_before" <<'PYEOF'
import sys
c2 = [l.split() for l in open(sys.argv[1]) if l.strip()]
ctrl = [l.split() for l in open(sys.argv[2]) if l.strip()]
up, before = sys.argv[3], int(sys.argv[4])
assert [(l[1], l[2].rsplit("-", 1)[0]) for l in c2] == [("pre", up), ("post", up)], c2
assert [(l[0], l[1]) for l in ctrl[:2]] == [("mark", "before"), ("mark", "after")], ctrl
gates = ctrl[2:]
assert all(l[0] == "gate" and l[2].rsplit("-", 1)[0] == up for l in gates), ctrl
assert len(gates) >= before + 2 and before >= 1, (len(gates), before)
ids = [l[2] for l in ctrl + c2]
assert len(ids) == len(set(ids)), ids
t = lambda l: float(l[3])
assert t(ctrl[0]) < t(c2[0]) and t(c2[1]) < t(ctrl[1]) < t(gates[0]), (ctrl, c2)
print("    ctrl1: before, after, %d gate tries (%d before the kill); c2: pre, post" % (len(gates), before))
PYEOF
"$BUILD/hitlessctl" --socket "$FLEET_SOCK" history --node c2 --limit 10000 --json >"$EV/s12/c2.history"
"$BUILD/hitlessctl" --socket "$FLEET_SOCK" history --node ctrl1 --limit 10000 --json >"$EV/s12/ctrl1.history"
check "10. history records both task commands on c2, and every step and gate try on ctrl1" "$PY" - \
  "$EV/s12/c2.history" "$EV/s12/ctrl1.history" "$EV/s12/ctrl1.steps" "$UP10" <<'PYEOF'
import json, sys
def tasks(f):
    return {e["command_id"] for e in json.load(open(f))["entries"] if e["upgrade_id"] == sys.argv[4] and e["action"] == "task"}
assert len(tasks(sys.argv[1])) == 2, tasks(sys.argv[1])
ran = {l.split()[2] for l in open(sys.argv[3]) if l.strip()}
assert tasks(sys.argv[2]) == ran, (tasks(sys.argv[2]), ran)
PYEOF
check_py "10. no command id twice in the journals of c2 and ctrl1" once "$EV/s12" c2 ctrl1

# ==== the whole run ===================================================================
echo "== the whole run"
kill -TERM "$OBSERVER_PID" 2>/dev/null; wait "$OBSERVER_PID" 2>/dev/null; OBSERVER_PID=
check_py "quorum observer, whole run: never two database nodes down at once" observer "$OBS" "${DBS[@]}"
check_py "no command id twice, no step twice without a rollback, in any journal (whole run)" once "$EV/s11" "${ALL[@]}"
check "no node left drained at the end" none_drained s11
resumed=$(grep -c ' resumed from the store' "$FLEET_DIR/coordinator.log")
check "the coordinator resumed from its store after each of the $RESTARTS restarts at resting points" \
  [ "$resumed" = $((RESUMED_BASE + RESTARTS)) ]
echo "   the coordinator was killed -9 $((KILLS + RESTARTS)) times: $KILLS during plans, $RESTARTS at resting points"
end_test
