#!/bin/bash
# The agent's actions on a real node: a systemd-nspawn container with real
# systemd and dpkg/apt, the agent from $BUILD running as a Type=notify unit
# (tests/actions/lib.sh), test packages from a local apt repository
# (tests/actions/build-test-packages.sh), a coordinator on the host, and
# `hitlessctl` driving it. Every flow asserts on hitlessctl's JSON AND on
# the node's real state (dpkg, file bytes, systemd, the service's answer):
#   a. install a new version          e. a failing postinst, then rollback
#   b. repoint (and again: no-op)     f. out-of-policy requests are refused
#   c. restart a unit, check          g. a duplicated command id runs once
#   d. rollback to before (a)         h. SIGKILL of the agent mid-install
#   i. `hitless-agent rollback` on the node, coordinator stopped
#   t. named tasks of the policy (run, check, undo, refusals) and unit
#      start/stop
# ACT_FLOWS="a b ..." runs only those flows (d uses a's snapshot, i g's).
# Needs root (containers); exit 77 otherwise. ACT_KEEP=1 keeps the logs.
if [ "$(id -u)" -ne 0 ]; then
  echo "70-agent-actions: skipped: needs root (systemd-nspawn)"
  exit 77
fi
. "$TOP/tests/lib/itest.sh"
. "$TOP/tests/actions/lib.sh"

N=$ACT_NODE
VR=/etc/contrail/contrail-vrouter-agent.conf
CTX=""

# hctl NAME ARGS...: hitlessctl ARGS --json (bounded), output in $T/NAME.json,
# stderr in $T/NAME.err, exit code in $T/NAME.rc; CTX describes it.
hctl() {
  local name=$1 rc; shift
  timeout 150 "$BUILD/hitlessctl" --socket "$T/run/admin.sock" "$@" --json \
    >"$T/$name.json" 2>"$T/$name.err"
  rc=$?
  echo "$rc" >"$T/$name.rc"
  CTX="hitlessctl $* --json -> exit $rc
stdout: $(cat "$T/$name.json")
stderr: $(head -c 2000 "$T/$name.err")"
  return 0
}
rc_of() { cat "$T/$1.rc"; }
# jf NAME KEY[.KEY...]: a field of $T/NAME.json ("" if absent or not JSON;
# KEY "" is the whole document, normalised).
jf() {
  "$PY" -c '
import json, sys
try:
    v = json.load(open(sys.argv[1]))
    for k in [k for k in sys.argv[2].split(".") if k]:
        v = v[k]
except Exception:
    v = ""
print(json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v)' "$T/$1.json" "$2"
}

# expect DESC CMD...: a check that prints $CTX (the last command) on failure.
expect() {
  local what=$1; shift
  if "$@"; then
    PASSED=$((PASSED + 1)); echo "ok: $what"
  else
    FAILED=$((FAILED + 1)); echo "FAILED: $what"
    [ -n "$CTX" ] && printf '%s\n' "$CTX" | head -c 4000 | sed 's/^/    | /'
  fi
}
eq() { [ "$1" = "$2" ] || { echo "    expected '$2', got '$1'"; return 1; }; }
ne() { [ "$1" != "$2" ] || { echo "    expected something other than '$2'"; return 1; }; }
has() { grep -qF -- "$2" <<<"$1" || { echo "    '$2' not in: $(head -c 600 <<<"$1")"; return 1; }; }
# waitx SECS CMD...: CMD succeeds within SECS (polling, quiet).
waitx() {
  local end=$(( $(date +%s) + $1 )); shift
  while :; do
    "$@" >/dev/null 2>&1 && return 0
    [ "$(date +%s)" -ge "$end" ] && return 1
    sleep 0.3
  done
}

# Real state of the node.
dpkg_ver() { act_exec dpkg-query -W -f '${Version}' "$1" 2>/dev/null; }
dpkg_status() { act_exec dpkg-query -W -f '${Status}' "$1" 2>/dev/null; }
unit_prop() { act_exec systemctl show -P "$2" "$1"; }
file_sum() { act_exec sha256sum "$VR" | cut -d' ' -f1; }
file_stat() { act_exec stat -c '%a %U:%G' "$VR"; }
file_mtime() { act_exec stat -c '%y %i' "$VR"; }
maint_count() { act_sh "grep -c '^$1\$' /var/log/hitless-test-maint.log || true"; }
drained() { act_exec test -e /var/lib/test-drained; }
node_pkg_is() { [ "$(node_pkg "$1")" = "$2" ]; }
node_pkg() { act_node_field packages | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1" 2>/dev/null; }
# journal_states ID: the states of every journal entry with this command id.
journal_states() {
  act_journal_json 2>/dev/null | "$PY" -c '
import json, sys
found = []
def walk(v):
    if isinstance(v, dict):
        if sys.argv[1] in (v.get("id"), v.get("command_id")):
            found.append(str(v.get("state", "?")))
        for x in v.values(): walk(x)
    elif isinstance(v, list):
        for x in v: walk(x)
walk(json.load(sys.stdin))
print(",".join(found))' "$1" 2>/dev/null
}
# repair PKG=VER...: if an earlier flow failed and left the node otherwise,
# put it back with apt directly, so the next flow tests only itself.
repair() {
  local pv need=0
  for pv in "$@"; do
    [ "$(dpkg_ver "${pv%%=*}") $(dpkg_status "${pv%%=*}")" = "${pv#*=} install ok installed" ] || need=1
  done
  [ -n "$(act_exec dpkg --audit 2>&1)" ] && need=1
  [ "$need" = 0 ] && return 0
  echo "   (repairing the node for the next flows: $*)"
  act_sh "echo 0 >/etc/hitless-test-slow.seconds; dpkg --configure -a >/dev/null 2>&1
          $ACT_APT install --allow-downgrades $* >/dev/null 2>&1; rm -f /etc/hitless-test-slow.seconds
          dpkg --audit" | sed 's/^/   /'
}
# rollback_args SNAP: --snapshot SNAP when the install reported one.
snap_args() { [ -n "$1" ] && echo "--snapshot $1"; }

start=$(date +%s)
if ! act_setup; then
  FAILED=$((FAILED + 1)); echo "FAILED: node set up (container, packages 1.0, agent enrolled, healthy)"
  finish
fi
PASSED=$((PASSED + 1)); echo "ok: node set up in $(( $(date +%s) - start ))s: agent enrolled, online, healthy"
if ! "$BUILD/hitlessctl" --help 2>&1 | grep -qw install; then
  echo "note: $BUILD/hitlessctl --help lists no install command; the flows below will fail"
fi

SNAP_A=""; SNAP_E=""
declare -A SNAP_SUM=()   # snapshot id -> sha256 of $VR when it was taken
SUM0=$(file_sum); STAT0=$(file_stat)
cp "$(act_root)$VR" "$T/vr-1.0.conf"
echo "   $VR: $STAT0 sha256 $SUM0"

# ---- a. install ------------------------------------------------------------
flow_a() {
  echo "-- a. install hitless-test-svc=2.0"
  pid_svc=$(unit_prop hitless-test-svc MainPID)
  hctl a install "$N" hitless-test-svc=2.0
  SNAP_A=$(jf a snapshot_id)
  expect "a: exit 0, state succeeded" eq "$(rc_of a) $(jf a state)" "0 succeeded"
  expect "a: JSON names the node and a command id" eq "$(jf a node_id) $( [ -n "$(jf a command_id)" ] && echo id)" "$N id"
  expect "a: JSON packages says hitless-test-svc 2.0" eq "$(jf a packages.hitless-test-svc)" 2.0
  expect "a: JSON has a snapshot_id" ne "$SNAP_A" ""
  CTX="dpkg: $(dpkg_status hitless-test-svc) $(dpkg_ver hitless-test-svc)"
  expect "a: dpkg: hitless-test-svc 2.0 installed" eq "$(dpkg_ver hitless-test-svc) $(dpkg_status hitless-test-svc)" "2.0 install ok installed"
  expect "a: the service runs the 2.0 binary (postinst restarted it)" has "$(act_http)" "version 2.0"
  expect "a: service MainPID changed and active" eq "$(unit_prop hitless-test-svc ActiveState) $( [ "$(unit_prop hitless-test-svc MainPID)" != "$pid_svc" ] && echo new)" "active new"
  CTX="nodes: $(act_node_field packages)"
  expect "a: hitlessctl nodes shows hitless-test-svc 2.0 within a few heartbeats" waitx 10 node_pkg_is hitless-test-svc 2.0
}

# ---- b. repoint --------------------------------------------------------------
flow_b() {
  echo "-- b. repoint"
  cp "$(act_root)$VR" "$T/vr-pre-b.conf"
  # The expected file: the three keys rewritten in place, every other byte kept.
  "$PY" - "$T/vr-pre-b.conf" "$T/vr-expected.conf" <<'EOF'
import re, sys
want = {("CONTROL-NODE", "servers"): "10.9.0.1:5269 10.9.0.2:5269",
        ("DEFAULT", "collectors"): "10.9.0.1:8086",
        ("DNS", "servers"): "10.9.0.1:53"}
sec, out, done = "", [], set()
for line in open(sys.argv[1]).read().splitlines(keepends=True):
    m = re.match(r"\[(.*)\]\s*$", line)
    if m:
        sec = m.group(1).strip()
    m = re.match(r"([A-Za-z_]+)(\s*=\s*)(.*?)(\r?\n)?$", line)
    if m and (sec, m.group(1)) in want:
        line = m.group(1) + m.group(2) + want[(sec, m.group(1))] + (m.group(4) or "")
        done.add((sec, m.group(1)))
    out.append(line)
assert done == set(want), done
open(sys.argv[2], "w").write("".join(out))
EOF
  mt0=$(file_mtime)
  hctl b repoint "$N" --controller 10.9.0.1:5269,10.9.0.2:5269 --collector 10.9.0.1:8086 --dns 10.9.0.1:53
  expect "b: exit 0, state succeeded" eq "$(rc_of b) $(jf b state)" "0 succeeded"
  CTX="diff expected actual:
  $(diff "$T/vr-expected.conf" "$(act_root)$VR")"
  expect "b: the file has exactly the expected lines (comments, other keys intact)" cmp -s "$T/vr-expected.conf" "$(act_root)$VR"
  expect "b: mode and owner unchanged ($STAT0)" eq "$(file_stat)" "$STAT0"
  mt1=$(file_mtime)
  CTX=""
  expect "b: the file was rewritten (mtime/inode changed)" ne "$mt1" "$mt0"
  sleep 1.1   # a rewrite now would show in the mtime even on coarse clocks
  hctl b2 repoint "$N" --controller 10.9.0.1:5269,10.9.0.2:5269 --collector 10.9.0.1:8086 --dns 10.9.0.1:53
  expect "b: repeated: exit 0, state succeeded" eq "$(rc_of b2) $(jf b2 state)" "0 succeeded"
  expect "b: repeated: file untouched (same mtime and inode)" eq "$(file_mtime)" "$mt1"
  expect "b: repeated: same bytes" cmp -s "$T/vr-expected.conf" "$(act_root)$VR"
}

# ---- c. restart, check ---------------------------------------------------------
flow_c() {
  echo "-- c. restart hitless-test-svc.service, check"
  pid0=$(unit_prop hitless-test-svc MainPID)
  hctl c restart "$N" hitless-test-svc.service
  expect "c: exit 0, state succeeded" eq "$(rc_of c) $(jf c state)" "0 succeeded"
  pid1=$(unit_prop hitless-test-svc MainPID)
  CTX="MainPID before $pid0, after $pid1"
  expect "c: MainPID changed" ne "$pid1" "$pid0"
  expect "c: active" eq "$(unit_prop hitless-test-svc ActiveState)" active
  body=$(act_http)
  expect "c: the new process answers (body names its pid, version 2.0)" has "$body" "version 2.0 xmpp: Established pid $pid1"
  hctl c2 check "$N"
  expect "c: check: exit 0, state succeeded, health healthy" eq "$(rc_of c2) $(jf c2 state) $(jf c2 health)" "0 succeeded healthy"
  CTX="$CTX
  nodes checks: $(act_node_field checks)"
  expect "c: the http check's detail shows version 2.0 (check output or nodes checks)" \
    has "$(cat "$T/c2.json"; act_node_field checks)" "version 2.0"
  echo "-- c. drain, undrain"
  hctl c3 drain "$N"
  expect "c: drain: exit 0, succeeded, hook ran (/var/lib/test-drained)" eq "$(rc_of c3) $(jf c3 state) $(drained && echo drained)" "0 succeeded drained"
  hctl c4 undrain "$N"
  expect "c: undrain: exit 0, succeeded, hook ran" eq "$(rc_of c4) $(jf c4 state) $(drained || echo undrained)" "0 succeeded undrained"
}

# ---- d. rollback -----------------------------------------------------------------
flow_d() {
  echo "-- d. rollback (snapshot of a: ${SNAP_A:-none reported})"
  # shellcheck disable=SC2046
  hctl d rollback "$N" $(snap_args "$SNAP_A")
  expect "d: exit 0, state succeeded" eq "$(rc_of d) $(jf d state)" "0 succeeded"
  CTX="$CTX
  dpkg: $(dpkg_ver hitless-test-svc) $(dpkg_status hitless-test-svc)"
  expect "d: dpkg: hitless-test-svc back to 1.0" eq "$(dpkg_ver hitless-test-svc) $(dpkg_status hitless-test-svc)" "1.0 install ok installed"
  CTX="diff original actual:
  $(diff "$T/vr-1.0.conf" "$(act_root)$VR")"
  expect "d: $VR restored byte for byte (sha256 from before a)" eq "$(file_sum)" "$SUM0"
  expect "d: mode and owner as before ($STAT0)" eq "$(file_stat)" "$STAT0"
  CTX=""
  expect "d: service active" eq "$(unit_prop hitless-test-svc ActiveState)" active
  expect "d: the 1.0 binary answers" has "$(act_http)" "version 1.0 xmpp: Established"
  hctl d2 check "$N"
  expect "d: check: health healthy" eq "$(rc_of d2) $(jf d2 state) $(jf d2 health)" "0 succeeded healthy"
  expect "d: node undrained" eq "$(drained || echo undrained)" undrained
  CTX="nodes: $(act_node_field packages)"
  expect "d: hitlessctl nodes shows 1.0 within a few heartbeats" waitx 10 node_pkg_is hitless-test-svc 1.0
}

# ---- e. failing postinst, rollback ---------------------------------------------
flow_e() {
  echo "-- e. install hitless-test-bad=2.0 (postinst fails)"
  sum=$(file_sum)
  hctl e install "$N" hitless-test-bad=2.0
  SNAP_E=$(jf e snapshot_id)
  [ -n "$SNAP_E" ] && [ -z "${SNAP_SUM[$SNAP_E]:-}" ] && SNAP_SUM[$SNAP_E]=$sum
  expect "e: exit 1, state failed" eq "$(rc_of e) $(jf e state)" "1 failed"
  expect "e: output_tail has the postinst's stderr" has "$(jf e output_tail)" "postinst failed on purpose: cannot migrate the flow database"
  echo "   dpkg after the failure: hitless-test-bad $(dpkg_ver hitless-test-bad) ($(dpkg_status hitless-test-bad)); error_code=$(jf e error_code) snapshot_id=${SNAP_E:-none}"
  # shellcheck disable=SC2046
  hctl e2 rollback "$N" $(snap_args "$SNAP_E")
  expect "e: rollback: exit 0, state succeeded" eq "$(rc_of e2) $(jf e2 state)" "0 succeeded"
  CTX="$CTX
  dpkg --audit: $(act_exec dpkg --audit 2>&1)"
  expect "e: dpkg: hitless-test-bad back to 1.0, installed" eq "$(dpkg_ver hitless-test-bad) $(dpkg_status hitless-test-bad)" "1.0 install ok installed"
  expect "e: dpkg --audit is empty" eq "$(act_exec dpkg --audit 2>&1)" ""
  expect "e: hitless-test-svc untouched (1.0, active)" eq "$(dpkg_ver hitless-test-svc) $(unit_prop hitless-test-svc ActiveState)" "1.0 active"
  expect "e: node undrained" eq "$(drained || echo undrained)" undrained
}

# ---- f. out of policy ---------------------------------------------------------
flow_f() {
  repair hitless-test-svc=1.0 hitless-test-bad=1.0 hitless-test-slow=1.0
  echo "-- f. out-of-policy requests"
  pkgs0=$(act_exec dpkg-query -W 'hitless-test-*' 2>&1)
  sum0=$(file_sum); mt0=$(file_mtime)
  svc_pid=$(unit_prop hitless-test-svc MainPID); dbus_pid=$(unit_prop dbus.service MainPID)
  hooks_count() { act_sh 'cat /var/log/hitless-test-hooks.log 2>/dev/null | wc -l'; }
  hooks0=$(hooks_count)
  hctl f1 install "$N" hitless-test-other=1.0
  expect "f: install of a package not in the policy: exit 1, refused" eq "$(rc_of f1) $(jf f1 state)" "1 refused"
  CTX="dpkg before: $pkgs0
  dpkg after: $(act_exec dpkg-query -W 'hitless-test-*' 2>&1)"
  expect "f: hitless-test-other not installed, other packages unchanged" eq "$(act_exec dpkg-query -W 'hitless-test-*' 2>&1)" "$pkgs0"
  hctl f2 restart "$N" dbus.service
  expect "f: restart of a unit not in the policy: exit 1, refused" eq "$(rc_of f2) $(jf f2 state)" "1 refused"
  expect "f: dbus.service not restarted (same MainPID)" eq "$(unit_prop dbus.service MainPID)" "$dbus_pid"
  hctl f3 restart "$N" hitless-test-svc.service dbus.service
  expect "f: restart of an allowed and a forbidden unit: exit 1, refused" eq "$(rc_of f3) $(jf f3 state)" "1 refused"
  expect "f: neither restarted (same MainPIDs)" eq "$(unit_prop hitless-test-svc MainPID) $(unit_prop dbus.service MainPID)" "$svc_pid $dbus_pid"
  # A kind not in the policy, with one that is: all or nothing.
  hctl f4 repoint "$N" --controller 10.9.9.1:5269 --kind ntp=10.9.9.1:123
  expect "f: repoint with a kind not in the policy (ntp): exit 1, refused" eq "$(rc_of f4) $(jf f4 state)" "1 refused"
  expect "f: file untouched, not even the allowed kind (same bytes, mtime)" eq "$(file_sum) $(file_mtime)" "$sum0 $mt0"
  CTX="hooks log: $(act_sh 'cat /var/log/hitless-test-hooks.log' 2>&1)"
  expect "f: nothing changed: packages, file, service PID, no drain hook run" eq \
    "$(act_exec dpkg-query -W 'hitless-test-*' 2>&1) $(file_sum) $(unit_prop hitless-test-svc MainPID) $(hooks_count)" \
    "$pkgs0 $sum0 $svc_pid $hooks0"
  # Allowed, but no such version: apt fails before changing anything, so
  # the snapshot it took is forgotten and a later rollback has none.
  hctl f5 install "$N" hitless-test-svc=9.9
  CTX="$CTX
  f5: $(cat "$T/f5.json" 2>/dev/null)"
  expect "f: install of a version not in the repository: exit 1, failed, no snapshot reported" \
    eq "$(rc_of f5) $(jf f5 state) [$(jf f5 snapshot_id)]" "1 failed []"
  expect "f: packages unchanged" eq "$(act_exec dpkg-query -W 'hitless-test-*' 2>&1)" "$pkgs0"
  hctl f6 rollback "$N"
  expect "f: a rollback afterwards finds no open snapshot (exit 1, no-snapshot)" \
    eq "$(rc_of f6) $(jf f6 error_code)" "1 no-snapshot"
}

# ---- g. duplicated command id ------------------------------------------------
flow_g() {
  repair hitless-test-svc=1.0 hitless-test-bad=1.0 hitless-test-slow=1.0
  echo "-- g. the same command id twice"
  GID=act-dup-$$
  runs0=$(maint_count 'hitless-test-svc 2.0 postinst configure 1.0')
  sum=$(file_sum)
  hctl g1 install "$N" hitless-test-svc=2.0 --id "$GID"
  snap=$(jf g1 snapshot_id)
  [ -n "$snap" ] && [ -z "${SNAP_SUM[$snap]:-}" ] && SNAP_SUM[$snap]=$sum
  expect "g: first: exit 0, state succeeded, command_id $GID" eq "$(rc_of g1) $(jf g1 state) $(jf g1 command_id)" "0 succeeded $GID"
  hctl g2 install "$N" hitless-test-svc=2.0 --id "$GID"
  CTX="first: $(cat "$T/g1.json")
  second: $(cat "$T/g2.json")"
  expect "g: second: same exit code and the same result" eq "$(rc_of g2) $(jf g2 '')" "$(rc_of g1) $(jf g1 '')"
  expect "g: second: same output, byte for byte" eval '[ -s "$T/g1.json" ] && cmp -s "$T/g1.json" "$T/g2.json"'
  CTX="maint log: $(act_sh 'cat /var/log/hitless-test-maint.log')"
  expect "g: the 2.0 postinst ran once" eq "$(maint_count 'hitless-test-svc 2.0 postinst configure 1.0')" "$((runs0 + 1))"
  CTX="journal: $(act_journal_json 2>&1 | head -c 3000)"
  expect "g: the agent's journal has $GID once" eq "$(journal_states "$GID")" succeeded
}

# ---- h. SIGKILL of the agent during an install ---------------------------------
flow_h() {
  repair hitless-test-slow=1.0
  echo "-- h. kill -9 of the agent while hitless-test-slow 2.0's postinst runs"
  HID=act-kill-$$
  runs0=$(maint_count 'hitless-test-slow 2.0 postinst configure 1.0')
  apid0=$(unit_prop hitless-agent MainPID)
  # In the background, waiting for the result (timeout passes TERM on).
  timeout 150 "$BUILD/hitlessctl" --socket "$T/run/admin.sock" install "$N" hitless-test-slow=2.0 \
    --id "$HID" --wait 120 --json >"$T/h1.json" 2>"$T/h1.err" &
  HCTL_BG=$!
  PIDS+=("$HCTL_BG")
  slow_started() { [ "$(maint_count 'hitless-test-slow 2.0 postinst configure 1.0')" -gt "$runs0" ]; }
  agent_restarted() {
    local p; p=$(unit_prop hitless-agent MainPID)
    [ "$p" != "$apid0" ] && [ "$p" != 0 ] && [ "$(unit_prop hitless-agent ActiveState)" = active ]
  }
  journal_is() { [ "$(journal_states "$1")" = "$2" ]; }
  started_or_gone() { slow_started || ! kill -0 "$HCTL_BG" 2>/dev/null; }
  waitx 60 started_or_gone
  if slow_started; then
    act_exec kill -KILL "$apid0"
    killed_at=$(date +%s)
    echo "   killed the agent (pid $apid0 in the node) while the postinst runs"
    CTX="agent: $(unit_prop hitless-agent MainPID) $(unit_prop hitless-agent ActiveState)"
    expect "h: systemd restarted the agent (new MainPID, active)" waitx 20 agent_restarted
    waitx 60 journal_is "$HID" interrupted
    CTX="journal states of $HID: '$(journal_states "$HID")'
journal: $(act_journal_json 2>&1 | head -c 3000)"
    expect "h: the agent's journal reports $HID interrupted (once)" journal_is "$HID" interrupted
    # The old dpkg carries on (KillMode=process): wait for it to finish.
    waitx 60 act_sh '! pgrep -x dpkg && ! pgrep -x apt-get'
    CTX="maint log: $(act_sh 'cat /var/log/hitless-test-maint.log')"
    expect "h: the install was not re-run (the postinst ran once)" eq "$(maint_count 'hitless-test-slow 2.0 postinst configure 1.0')" "$((runs0 + 1))"
    CTX="dpkg.log: $(act_sh 'grep hitless-test-slow /var/log/dpkg.log | tail -n 8')
maint log: $(act_sh 'cat /var/log/hitless-test-maint.log')"
    # The unit's KillMode=process is there so that dpkg survives the agent.
    expect "h: dpkg, left running, finished the install (hitless-test-slow 2.0 installed, audit clean)" \
      eq "$(dpkg_ver hitless-test-slow) $(dpkg_status hitless-test-slow) $(act_exec dpkg --audit 2>&1)" "2.0 install ok installed "
    hctl h2 install "$N" hitless-test-slow=2.0 --id "$HID"
    expect "h: asked again with the same id: exit 1, state interrupted (recorded result)" eq "$(rc_of h2) $(jf h2 state)" "1 interrupted"
    expect "h: its message tells the package's state as found after the restart" has "$(jf h2 message)" "hitless-test-slow"
    expect "h: ... and still not re-run" eq "$(maint_count 'hitless-test-slow 2.0 postinst configure 1.0')" "$((runs0 + 1))"
    echo "   dpkg gone $(( $(date +%s) - killed_at ))s after the kill; recorded message: $(jf h2 message)"
    echo "   dpkg after: hitless-test-slow $(dpkg_ver hitless-test-slow) ($(dpkg_status hitless-test-slow)); audit: $(act_exec dpkg --audit 2>&1 | head -c 300)"
    CTX=""
    expect "h: node online and healthy again" waitx 20 act_online_healthy
  else
    CTX="$(cat "$T/h1.json" "$T/h1.err" 2>/dev/null)"
    expect "h: the slow postinst started" false
  fi
  # The waiting hitlessctl: report what it said (the journal is the assertion).
  for _ in $(seq 100); do kill -0 "$HCTL_BG" 2>/dev/null || break; sleep 0.3; done
  kill -TERM "$HCTL_BG" 2>/dev/null; wait "$HCTL_BG"; h1rc=$?
  echo "   the waiting hitlessctl: exit $h1rc: $(head -c 600 "$T/h1.json" 2>/dev/null) $(head -c 300 "$T/h1.err" 2>/dev/null)"
}

# ---- i. local rollback, coordinator stopped ------------------------------------
flow_i() {
  repair hitless-test-bad=1.0 hitless-test-slow=1.0
  local snap sum
  snap=$(jf g1 snapshot_id 2>/dev/null)
  echo "-- i. hitless-agent rollback on the node, coordinator stopped (snapshot of g: ${snap:-none})"
  [ "$(dpkg_ver hitless-test-svc)" = 2.0 ] || repair hitless-test-svc=2.0
  sum=${SNAP_SUM[$snap]:-$SUM0}
  kill -STOP "$COORD_PID"
  local out rc
  out=$(act_exec timeout 150 "$ACT_AGENT" -c "$ACT_CONF" rollback ${snap:+--to "$snap"} 2>&1); rc=$?
  kill -CONT "$COORD_PID"
  CTX="hitless-agent rollback ${snap:+--to $snap} -> exit $rc:
$out"
  expect "i: exit 0" eq "$rc" 0
  expect "i: dpkg: hitless-test-svc back to 1.0" eq "$(dpkg_ver hitless-test-svc) $(dpkg_status hitless-test-svc)" "1.0 install ok installed"
  expect "i: the 1.0 binary answers" has "$(act_http)" "version 1.0 xmpp: Established"
  expect "i: $VR restored as it was when the snapshot was taken" eq "$(file_sum)" "$sum"
  CTX="journal: $(act_journal_json 2>&1 | head -c 3000)"
  expect "i: the journal records the local rollback as succeeded" eval \
    'act_journal_json | "$PY" -c "import json,sys; c=json.load(sys.stdin)[\"commands\"][-1]; sys.exit(0 if c[\"kind\"]==\"rollback\" and c[\"state\"]==\"succeeded\" else 1)"'
  CTX="nodes: $(act_node_field packages)"
  expect "i: hitlessctl nodes shows 1.0 within a few heartbeats" waitx 10 node_pkg_is hitless-test-svc 1.0
}

# ---- t. tasks, unit start/stop ------------------------------------------------
task_log() { act_sh 'cat /var/log/hitless-test-tasks.log 2>/dev/null' | tr '\n' '|'; }
nodes_lists_tasks() {
  "$PY" -c 'import json,sys; n=json.load(open(sys.argv[1]))["nodes"][0]; sys.exit(0 if n["tasks"]==["sync-start","sync-stop","in-sync","post-sync"] and n["units"]==["hitless-test-svc.service"] else 1)' "$T/t0.json"
}
journal_refusals() {
  act_journal_json | "$PY" -c 'import json,sys; c=json.load(sys.stdin)["commands"]; sys.exit(0 if sum(1 for x in c if x["kind"] in ("task","undo") and x["state"]=="refused")>=4 else 1)'
}
flow_t() {
  echo "-- t. tasks and unit start/stop"
  hctl t0 nodes
  CTX="nodes: $(cat "$T/t0.json")"
  expect "t: nodes --json lists the policy's tasks and units (from Hello)" eval nodes_lists_tasks
  hctl t1 task "$N" in-sync
  expect "t: in-sync before the sync runs: exit 1, failed, task-failed" eq "$(rc_of t1) $(jf t1 state) $(jf t1 error_code)" "1 failed task-failed"
  expect "t: ... with the program's output" has "$(jf t1 output_tail)" "not in sync: no sync running"
  hctl t2 task "$N" sync-start peers=10.0.0.7:8082,10.0.0.8:8082 --id t-sync-1
  expect "t: sync-start: exit 0, succeeded" eq "$(rc_of t2) $(jf t2 state)" "0 succeeded"
  expect "t: the task got its parameter (the sync file on the node)" eq "$(act_sh 'cat /var/lib/hitless-test-sync')" "10.0.0.7:8082,10.0.0.8:8082"
  hctl t2b task "$N" sync-start peers=10.0.0.7:8082,10.0.0.8:8082 --id t-sync-1
  expect "t: the same command id again: its recorded result, not a second run" eq "$(rc_of t2b) $(task_log)" "0 sync-start 10.0.0.7:8082,10.0.0.8:8082 t-sync-1 undo=0|"
  hctl t3 task "$N" in-sync
  expect "t: in-sync now: exit 0, succeeded" eq "$(rc_of t3) $(jf t3 state)" "0 succeeded"
  hctl t4 task "$N" sync-start peers=/etc/shadow
  expect "t: a parameter its validation refuses: exit 1, refused bad-param" eq "$(rc_of t4) $(jf t4 state) $(jf t4 error_code)" "1 refused bad-param"
  hctl t5 task "$N" sync-start peers=10.0.0.7:1 path=/bin/sh
  expect "t: an undeclared parameter: refused bad-param" eq "$(jf t5 state) $(jf t5 error_code)" "refused bad-param"
  hctl t6 task "$N" reboot
  expect "t: a task the policy does not declare: refused policy" eq "$(jf t6 state) $(jf t6 error_code)" "refused policy"
  hctl t7 task "$N" post-sync --undo
  expect "t: undo of a change without an undo task: refused no-undo" eq "$(jf t7 state) $(jf t7 error_code)" "refused no-undo"
  expect "t: nothing ran for the refused ones (task log)" eq "$(task_log)" "sync-start 10.0.0.7:8082,10.0.0.8:8082 t-sync-1 undo=0|"
  CTX="journal: $(act_journal_json 2>&1 | head -c 3000)"
  expect "t: the journal records the refusals" eval journal_refusals
  hctl t8 task "$N" sync-start peers=10.0.0.7:8082,10.0.0.8:8082 --undo
  expect "t: undo of sync-start: exit 0, succeeded" eq "$(rc_of t8) $(jf t8 state)" "0 succeeded"
  expect "t: ... it ran sync-stop with the same peers" has "$(task_log)" "|sync-stop 10.0.0.7:8082,10.0.0.8:8082 "
  expect "t: ... and the sync is gone" eq "$(act_sh 'test -e /var/lib/hitless-test-sync && echo running || echo stopped')" stopped
  hctl t9 stop "$N" hitless-test-svc.service
  expect "t: stop hitless-test-svc.service: exit 0, succeeded" eq "$(rc_of t9) $(jf t9 state)" "0 succeeded"
  expect "t: systemd says it is inactive" eq "$(unit_prop hitless-test-svc ActiveState)" inactive
  hctl t10 start "$N" hitless-test-svc.service
  expect "t: start it again: exit 0, succeeded" eq "$(rc_of t10) $(jf t10 state)" "0 succeeded"
  expect "t: active" eq "$(unit_prop hitless-test-svc ActiveState)" active
  expect "t: ... and it answers" waitx 10 eval 'act_http | grep -q xmpp'
  dbus_pid=$(unit_prop dbus.service MainPID)
  hctl t11 stop "$N" dbus.service
  expect "t: stop of a unit outside the policy: exit 1, refused policy" eq "$(rc_of t11) $(jf t11 state) $(jf t11 error_code)" "1 refused policy"
  expect "t: dbus.service untouched" eq "$(unit_prop dbus.service ActiveState) $(unit_prop dbus.service MainPID)" "active $dbus_pid"
}

for f in ${ACT_FLOWS:-a b c d e f g h i t}; do "flow_$f"; done

echo "   total $(( $(date +%s) - start ))s"
if [ "$FAILED" -gt 0 ]; then
  echo "--- agent journal (systemd, tail) ---"
  act_sh 'journalctl -q --no-pager -o cat -u hitless-agent | tail -n 40'
fi
finish
