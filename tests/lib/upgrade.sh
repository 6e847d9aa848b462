# shellcheck shell=bash
# Helpers of the upgrade tests on a real fleet (tests/integration/95-upgrade.sh,
# 96-db-faults.sh): source after tests/lib/itest.sh and tests/lib/fleet.sh.
# The caller defines end_test (prints its summary and calls finish) and
# sets EV (a directory for what it collects) and CHECKS
# (tests/upgrade/checks.py).
#
#   must WHAT CMD...          a check the rest depends on: failing ends the test
#   wait_or_end SECS WHAT CMD...; check_or_end WHAT CMD...
#   upq EXPR; up_is EXPR      EXPR (Python) over `upgrade status --json`
#   stq FILE EXPR; st_is FILE EXPR; save_status NAME; steps
#   versions_are VERSION NODE...   dpkg and the running service agree
#   collect NAME; drained_nodes NAME; none_drained NAME
#   check_py WHAT ARGS...     a tests/upgrade/checks.py check
#   ctl_ok ARGS...; now

# A failure here leaves nothing to test.
must() {
  local what=$1; shift
  if ! "$@"; then
    FAILED=$((FAILED + 1)); echo "FAILED: $what (cannot go on)"
    end_test
  fi
}
# Waits and checks the rest depends on: a failure ends the test at once
# (the fleet is not where the next steps expect it).
wait_or_end() { wait_for "$@" || { echo "   (cannot go on)"; end_test; }; }
check_or_end() { local f=$FAILED; check "$@"; [ "$FAILED" = "$f" ] || { echo "   (cannot go on)"; end_test; }; }

# ---- helpers -------------------------------------------------------------------

# upq 'EXPR': EXPR (Python) over the current `upgrade status --json` (s), with
# nodes, phases and cond by name and settled (no node in a step or waiting
# for a rollback). Prints yes/no for booleans.
UPQ='
import json, sys
s = json.load(open(sys.argv[2]) if len(sys.argv) > 2 else sys.stdin)
nodes = {n["node_id"]: n for n in s.get("nodes", [])}
phases = {p["name"]: p for p in s.get("phases", [])}
cond = {c["type"]: c for c in s.get("conditions", [])}
RESTING = ("pending", "done", "failed", "rolled_back", "skipped")
settled = all(n["step"] in RESTING and not n["rollback_pending"] for n in s.get("nodes", []))
r = eval(sys.argv[1])
print("yes" if r is True else "no" if r is False else r)'
upq() { fleet_ctl upgrade status --json 2>/dev/null | "$PY" -c "$UPQ" "$1" 2>/dev/null; }
up_is() { [ "$(upq "$1")" = yes ]; }
# stq FILE 'EXPR': the same over a saved status.
stq() { "$PY" -c "$UPQ" "$2" "$1" 2>/dev/null; }
st_is() { [ "$(stq "$1" "$2")" = yes ]; }
save_status() { fleet_ctl upgrade status --json >"$EV/$1.json" 2>&1; }
steps() { upq '" ".join("%s:%s%s" % (n["node_id"], n["step"], "(" + n["command"] + ")" if n["command"] else "") for n in s["nodes"] if n["phase"])'; }

# versions_are VERSION NODE...: dpkg says both packages are at VERSION and
# the running service answers with it.
versions_are() {
  local v=$1 n bad=""; shift
  for n in "$@"; do
    if [ "$(fleet_version "$n" hitless-test-svc)" != "$v" ] || [ "$(fleet_version "$n" hitless-test-lib)" != "$v" ] ||
       ! fleet_http "$n" | grep -q "^hitless-test-svc version $v xmpp: Established"; then
      bad+=" $n($(fleet_version "$n" hitless-test-svc)/$(fleet_version "$n" hitless-test-lib)/$(fleet_http "$n" | cut -c1-30))"
    fi
  done
  [ -z "$bad" ] || { echo "    not on $v (svc/lib/service):$bad"; return 1; }
}

# collect DIR: what the nodes themselves say (see tests/upgrade/checks.py).
collect() {
  local d=$EV/$1 n
  mkdir -p "$d"
  for n in "${FLEET_NODES[@]}"; do
    fleet_exec "$n" dpkg-query -W -f '${Package} ${Version} ${Status}\n' \
      hitless-test-svc hitless-test-lib hitless-test-bad >"$d/$n.versions" 2>/dev/null
    fleet_exec "$n" "$FLEET_AGENT" -c "$FLEET_CONF" journal --json --limit 1000 >"$d/$n.journal" 2>&1
    fleet_sh "$n" 'cat /var/log/hitless-test-maint.log 2>/dev/null' >"$d/$n.maint"
    fleet_sh "$n" 'cat /var/log/hitless-test-hooks.log 2>/dev/null' >"$d/$n.hooks"
    fleet_exec "$n" journalctl -q --no-pager -o short-unix -u hitless-test-svc.service >"$d/$n.svc" 2>&1
    fleet_exec "$n" cat "$FLEET_VR" >"$d/$n.vrouter" 2>&1
    if fleet_exec "$n" test -e /var/lib/test-drained; then echo drained; else echo undrained; fi >"$d/$n.drained"
  done
}
drained_nodes() { (cd "$EV/$1" && grep -l '^drained$' ./*.drained 2>/dev/null | sed 's|^\./||; s|\.drained$||' | sort | paste -sd' '); }

check_py() { local what=$1; shift; check "$what" "$PY" "$CHECKS" "$@"; }
none_drained() { local d; d=$(drained_nodes "$1"); [ -z "$d" ] || { echo "    drained: $d"; return 1; }; }
ctl_ok() { fleet_ctl "$@" >>"$EV/ctl.out" 2>&1 || { echo "    hitlessctl $* failed:"; tail -n 5 "$EV/ctl.out"; return 1; }; }
now() { date +%s.%N; }
