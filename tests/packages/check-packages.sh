#!/bin/bash
# Package test (make check-packages): builds the .debs and .rpms, lints
# them, installs the .debs from a local apt repository into systemd-nspawn
# containers booted with real systemd, enrols an agent with a coordinator,
# exercises remove / reinstall / purge, installs the .rpms into an rpm root
# with their scriptlets, and compares the two formats' file lists.
#
# Exit 0 when every check passed, 1 otherwise, 77 (skip) when not root.
# Environment: PKG_OUT (where packages go, default build/packages),
# PKG_SKIP_BUILD=1 (test the packages already in PKG_OUT),
# PKG_KEEP=1 (keep the work directory and container logs).
set -u

if [ "$(id -u)" -ne 0 ]; then
        echo "check-packages: skipped: needs root (containers, rpm root)"
        exit 77
fi

TOP=$(cd "$(dirname "$0")/../.." && pwd)
PKG_OUT=${PKG_OUT:-$TOP/build/packages}
VERSION=$(cat "$TOP/VERSION")
# shellcheck source=../lib/nspawn.sh
. "$TOP/tests/lib/nspawn.sh"

WORK=$(mktemp -d /tmp/hitless-check-packages.XXXXXX)
LOG=$WORK/check.log
NS=hl-pkg-$$
RPMROOT=$WORK/rpmroot
passed=0
failed=0
[ -n "${PKG_KEEP:-}" ] && export NSPAWN_KEEP_LOGS=1

cleanup() {
        nspawn_cleanup
        if mountpoint -q "$RPMROOT/dev" 2>/dev/null; then umount "$RPMROOT/dev"; fi
        if mountpoint -q "$RPMROOT/proc" 2>/dev/null; then umount "$RPMROOT/proc"; fi
        if mountpoint -q "$RPMROOT" 2>/dev/null; then umount "$RPMROOT"; fi
        if [ -n "${PKG_KEEP:-}" ]; then
                echo "check-packages: kept $WORK"
        else
                rm -rf "$WORK"
        fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "$*" | tee -a "$LOG"; }
ok() { passed=$((passed + 1)); say "  ok    $1"; }
fail() {
        failed=$((failed + 1))
        say "  FAIL  $1"
        [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/        /' | tail -n 25 | tee -a "$LOG"
        return 0
}
# check DESCRIPTION CMD...: runs CMD on the host; its output is shown on failure.
check() {
        local desc=$1 out; shift
        if out=$("$@" 2>&1); then ok "$desc"; else fail "$desc" "$out"; fi
        echo "$out" >>"$LOG"
}
# in NAME 'shell line': runs the line in container NAME.
cx() { nspawn_sh "$@"; }
# cin DESCRIPTION NAME 'shell line': a check run inside a container.
cin() {
        local desc=$1 name=$2 out; shift 2
        if out=$(nspawn_sh "$name" "$*" 2>&1); then ok "$desc"; else fail "$desc" "$out"; fi
        echo "$out" >>"$LOG"
}
# cwait DESCRIPTION NAME TIMEOUT 'shell line': retried until it succeeds.
cwait() {
        local desc=$1 name=$2 timeout=$3; shift 3
        if nspawn_wait "$name" "$timeout" "$*"; then
                ok "$desc"
        else
                fail "$desc" "$(nspawn_sh "$name" "$*" 2>&1)"
        fi
}
unit_prop() { cx "$1" "systemctl show -P $3 $2"; }
journal_of() { cx "$1" "journalctl -q --no-pager -o cat _SYSTEMD_UNIT=$2.service"; }
sums() { cx "$1" "cd /etc/hitless && sha256sum $2 2>&1"; }
# broken_config NAME UNIT: with a config error in /etc/hitless, `systemctl
# reload UNIT` fails (ExecReload checks the file first) and the daemon keeps
# running; `systemctl start UNIT` fails and the unit ends failed without
# restarting (exit status 2, RestartPreventExitStatus=2). The good config is
# put back and the unit started again.
broken_config() {
        local c=$1 u=$2 conf=/etc/hitless/${2#hitless-}.conf pid
        cx "$c" "cp -p $conf $conf.good && echo 'bogus_setting = 1;' >>$conf"
        pid=$(unit_prop "$c" "$u" MainPID)
        cin "$u: reload with a broken config fails" "$c" "! systemctl reload $u"
        cin "$u: ... naming the key in the journal" "$c" \
                "journalctl -q --no-pager -o cat -u $u | grep -q 'bogus_setting: unknown key'"
        cin "$u: ... and the daemon keeps running (same PID)" "$c" \
                "systemctl is-active -q $u && test \"\$(systemctl show -P MainPID $u)\" = $pid"
        cin "$u: start with a broken config fails" "$c" "systemctl stop $u && ! systemctl start $u"
        # RestartSec=2s: a restart would have happened within this wait.
        sleep 4
        cin "$u: ... the unit ends failed (exit status 2), NRestarts 0" "$c" \
                "test \"\$(systemctl show -P ActiveState $u)\" = failed &&
                 test \"\$(systemctl show -P ExecMainStatus $u)\" = 2 &&
                 test \"\$(systemctl show -P NRestarts $u)\" = 0"
        cin "$u: good config back, starts again" "$c" \
                "mv $conf.good $conf && systemctl reset-failed $u && systemctl start $u && systemctl is-active -q $u"
}

# ---- build ------------------------------------------------------------------
say "check-packages: hitless $VERSION, packages in $PKG_OUT"
"$TOP/scripts/install-deps.sh" build packages nspawn integration || exit 1

if [ -z "${PKG_SKIP_BUILD:-}" ]; then
        rm -f "$PKG_OUT"/hitless-*"$VERSION"*.deb "$PKG_OUT"/hitless-*"$VERSION"*.rpm
        check "make deb" make -s -C "$TOP" -f packaging/Makefile.packages deb PKG_OUT="$PKG_OUT"
        check "make rpm" make -s -C "$TOP" -f packaging/Makefile.packages rpm PKG_OUT="$PKG_OUT"
fi
ARCH=$(dpkg --print-architecture)
DEB_AGENT=$PKG_OUT/hitless-agent_${VERSION}_$ARCH.deb
DEB_COORD=$PKG_OUT/hitless-coordinator_${VERSION}_$ARCH.deb
first_file() { local f; for f in "$@"; do [ -f "$f" ] && { echo "$f"; return; }; done; }
RPM_AGENT=$(first_file "$PKG_OUT"/hitless-agent-"$VERSION"-*.rpm)
RPM_COORD=$(first_file "$PKG_OUT"/hitless-coordinator-"$VERSION"-*.rpm)
if [ ! -f "$DEB_AGENT" ] || [ ! -f "$DEB_COORD" ]; then
        fail "both .debs built" "$(ls -l "$PKG_OUT" 2>&1)"
        say "check-packages: $passed passed, $failed failed"
        exit 1
fi

# ---- lint -------------------------------------------------------------------
check "lintian: no errors or warnings" \
        lintian --fail-on error,warning --info "$DEB_AGENT" "$DEB_COORD"
if [ -n "$RPM_AGENT" ] && [ -n "$RPM_COORD" ]; then
        check "rpmlint: no errors" rpmlint -r "$TOP/packaging/rpm/hitless.rpmlintrc" "$RPM_AGENT" "$RPM_COORD"
else
        fail "both .rpms built" "$(ls -l "$PKG_OUT" 2>&1)"
fi
check "deb version is VERSION ($VERSION)" \
        test "$(dpkg-deb -f "$DEB_AGENT" Version)" = "$VERSION"
if [ -n "$RPM_AGENT" ]; then
        check "rpm version is VERSION ($VERSION)" \
                test "$(rpm -qp --qf '%{VERSION}' "$RPM_AGENT" 2>/dev/null)" = "$VERSION"
fi

# An upgrade: the same tree as a higher version (VERSION+pkgtest).
UPVERSION=$VERSION+pkgtest
mkdir -p "$WORK/upgrade"
check "build upgrade packages ($UPVERSION)" env PKG_VERSION="$UPVERSION" sh -c \
        '"$0"/packaging/build-deb.sh "$0" "$1" && "$0"/packaging/build-rpm.sh "$0" "$1"' \
        "$TOP" "$WORK/upgrade"
UP_RPM_AGENT=$(first_file "$WORK/upgrade/hitless-agent-$UPVERSION"-*.rpm)
UP_RPM_COORD=$(first_file "$WORK/upgrade/hitless-coordinator-$UPVERSION"-*.rpm)

# ---- containers -------------------------------------------------------------
ROOTFS=$(nspawn_rootfs) || { fail "container rootfs"; exit 1; }
mkdir -p "$WORK/repo"
cp "$DEB_AGENT" "$DEB_COORD" "$WORK/repo/"
(cd "$WORK/repo" && dpkg-scanpackages --multiversion . /dev/null >Packages 2>/dev/null)
chmod -R a+rX "$WORK"

nspawn_netns_create "$NS" || { fail "network namespace $NS"; exit 1; }
boot() {
        nspawn_boot "$1" "$ROOTFS" --network-namespace-path="/run/netns/$NS" \
                --bind-ro="$WORK/repo:/repo" &&
                cx "$1" 'echo "deb [trusted=yes] file:/repo ./" >/etc/apt/sources.list.d/hitless.list &&
                         apt-get -q update >/dev/null'
}
if boot hl-coord && boot hl-agent; then
        ok "containers booted (real systemd)"
else
        fail "containers booted (real systemd)"
        say "check-packages: $passed passed, $failed failed"
        exit 1
fi

APT='apt-get -y -q -o Dpkg::Use-Pty=0'

# ---- coordinator ------------------------------------------------------------
say "-- hitless-coordinator (.deb, container hl-coord)"
cin "apt-get install hitless-coordinator" hl-coord "$APT install hitless-coordinator"
cwait "coordinator unit active (READY=1 received)" hl-coord 20 \
        '[ "$(systemctl show -P ActiveState hitless-coordinator)" = active ] &&
         [ "$(systemctl show -P SubState hitless-coordinator)" = running ]'
cwait "coordinator StatusText is readable" hl-coord 10 \
        'test -n "$(systemctl show -P StatusText hitless-coordinator)"'
say "        StatusText: $(unit_prop hl-coord hitless-coordinator StatusText)"
cin "systemd-analyze verify hitless-coordinator.service" hl-coord \
        'out=$(systemd-analyze verify --man=no hitless-coordinator.service 2>&1); echo "$out"; test -z "$out"'
cin "coordinator WatchdogUSec=30s" hl-coord \
        'test "$(systemctl show -P WatchdogUSec hitless-coordinator)" = 30s'
cin "coordinator runs as user hitless" hl-coord \
        'test "$(ps -o user= -p "$(systemctl show -P MainPID hitless-coordinator)")" = hitless'
cin "coordinator --version is VERSION" hl-coord \
        "hitless-coordinator --version | grep -qx 'hitless-coordinator $VERSION'"
cin "/etc/hitless is root:hitless 0750" hl-coord \
        'test "$(stat -c %U:%G:%a /etc/hitless)" = root:hitless:750'
cin "coordinator key pair generated (secret: hitless, 0600)" hl-coord \
        'test "$(stat -c %U:%a /etc/hitless/coordinator.key_secret)" = hitless:600 &&
         test -s /etc/hitless/coordinator.key'
cin "/var/lib/hitless/coordinator is hitless 0750" hl-coord \
        'test "$(stat -c %U:%G:%a /var/lib/hitless/coordinator)" = hitless:hitless:750'
cin "shipped coordinator.conf passes --check-config" hl-coord \
        'hitless-coordinator --check-config -c /etc/hitless/coordinator.conf'
cin "coordinator.conf with every example uncommented passes --check-config" hl-coord \
        "sed 's/^#\\([a-z_]* = \\)/\\1/' /etc/hitless/coordinator.conf >/opt/coordinator-all.conf &&
         grep -q '^node_timeout' /opt/coordinator-all.conf &&
         hitless-coordinator --check-config -c /opt/coordinator-all.conf"
cin "admin socket directory /run/hitless is 0750" hl-coord \
        'test "$(stat -c %a /run/hitless)" = 750'
cin "hitlessctl keys list works" hl-coord 'hitlessctl keys list'
cin "man pages and bash completion installed" hl-coord \
        'for f in man1/hitlessctl.1 man8/hitless-coordinator.8 man5/hitless-coordinator.conf.5; do
                 test -s /usr/share/man/$f.gz || { echo "missing $f"; exit 1; }
         done
         test -s /usr/share/bash-completion/completions/hitlessctl'
cin "hitless-plan(5) and the example plans installed; each parses (plan check: not exit 2)" hl-coord \
        'test -s /usr/share/man/man5/hitless-plan.5.gz &&
         ls /usr/share/doc/hitless-coordinator/examples/*.plan >/dev/null &&
         for p in /usr/share/doc/hitless-coordinator/examples/*.plan; do
                 hitlessctl plan check "$p" >/dev/null; rc=$?
                 [ $rc -eq 0 ] || [ $rc -eq 1 ] || { echo "$p: exit $rc"; exit 1; }
         done'

pid_before=$(unit_prop hl-coord hitless-coordinator MainPID)
lines_before=$(journal_of hl-coord hitless-coordinator | wc -l)
cin "systemctl reload hitless-coordinator" hl-coord 'systemctl reload hitless-coordinator'
sleep 1
if [ "$(unit_prop hl-coord hitless-coordinator ActiveState)" = active ] &&
   [ "$(unit_prop hl-coord hitless-coordinator MainPID)" = "$pid_before" ]; then
        ok "coordinator still active, same PID after reload"
else
        fail "coordinator still active, same PID after reload" "$(cx hl-coord 'systemctl status hitless-coordinator')"
fi
new_lines=$(journal_of hl-coord hitless-coordinator | tail -n +"$((lines_before + 1))")
if grep -qi reload <<<"$new_lines"; then
        ok "reload logged: $(grep -i reload <<<"$new_lines" | head -n 1)"
else
        fail "reload logged" "$new_lines"
fi
broken_config hl-coord hitless-coordinator

# ---- agent ------------------------------------------------------------------
say "-- hitless-agent (.deb, container hl-agent)"
cin "apt-get install hitless-agent" hl-agent "$APT install hitless-agent"
cin "agent unit enabled" hl-agent 'systemctl is-enabled hitless-agent'
cin "systemd-analyze verify hitless-agent.service" hl-agent \
        'out=$(systemd-analyze verify --man=no hitless-agent.service 2>&1); echo "$out"; test -z "$out"'
cwait "agent without coordinator: active, waiting STATUS" hl-agent 20 \
        'systemctl show -P StatusText hitless-agent | grep -q "waiting for coordinator endpoint and key in /etc/hitless/agent.conf"'
sleep 3
cin "agent without coordinator: still active, no restarts" hl-agent \
        'test "$(systemctl show -P ActiveState hitless-agent)" = active &&
         test "$(systemctl show -P NRestarts hitless-agent)" = 0'
say "        StatusText: $(unit_prop hl-agent hitless-agent StatusText)"
cin "agent WatchdogUSec=30s" hl-agent 'test "$(systemctl show -P WatchdogUSec hitless-agent)" = 30s'
cin "agent --version is VERSION" hl-agent "hitless-agent --version | grep -qx 'hitless-agent $VERSION'"
cin "agent key pair generated (secret: root, 0600)" hl-agent \
        'test "$(stat -c %U:%a /etc/hitless/agent.key_secret)" = root:600'
cin "shipped agent.conf passes --check-config" hl-agent \
        'hitless-agent --check-config -c /etc/hitless/agent.conf'
# Every commented example setting, uncommented, is valid too.
cin "agent.conf with every example uncommented passes --check-config" hl-agent \
        "sed 's/^#\\([a-z_]* = \\|  [a-z{()}]\\|    \\|[)}];\\)/\\1/' /etc/hitless/agent.conf |
         sed 's|/etc/hitless/coordinator.key|/etc/hitless/agent.key|' >/opt/agent-all.conf &&
         chmod 600 /opt/agent-all.conf && grep -q '^coordinator = {' /opt/agent-all.conf &&
         grep -q '^policy = {' /opt/agent-all.conf && grep -q '^  units = ' /opt/agent-all.conf &&
         hitless-agent --check-config -c /opt/agent-all.conf"
cin "example agent policies installed, each passes --check-config" hl-agent \
        'ls /usr/share/doc/hitless-agent/examples/*-agent.conf >/dev/null &&
         for f in /usr/share/doc/hitless-agent/examples/*-agent.conf; do
                 hitless-agent --check-config -c "$f" || exit 1
         done'
cin "agent --gen-key refuses to overwrite the key" hl-agent \
        'sum=$(sha256sum /etc/hitless/agent.key_secret); ! hitless-agent --gen-key -c /etc/hitless/agent.conf &&
         test "$sum" = "$(sha256sum /etc/hitless/agent.key_secret)"'
broken_config hl-agent hitless-agent

# Enrol: give the agent the coordinator's endpoint and public key.
ROOT_C=$(nspawn_root hl-coord)
ROOT_A=$(nspawn_root hl-agent)
cp "$ROOT_C/etc/hitless/coordinator.key" "$ROOT_A/etc/hitless/coordinator.key"
cat >>"$ROOT_A/etc/hitless/agent.conf" <<'EOF'

# Added by check-packages.
node_id = "pkg-agent-1";
coordinator = {
  endpoint = "tcp://127.0.0.1:7400";
  public_key = "/etc/hitless/coordinator.key";
};
EOF
cin "configured agent.conf passes --check-config" hl-agent \
        'hitless-agent --check-config -c /etc/hitless/agent.conf'
cin "systemctl restart hitless-agent" hl-agent 'systemctl restart hitless-agent'
# json_has CMD PYTHON-EXPR: CMD's JSON output (run in hl-coord) as `j`.
json_has() {
        cx hl-coord "$1" 2>/dev/null | python3 -c "
import json, sys
j = json.load(sys.stdin)
sys.exit(0 if ($2) else 1)" 2>/dev/null
}
key_pending() {
        json_has 'hitlessctl keys list --json' \
                'any(k["node_id"] == "pkg-agent-1" and k["state"] == "pending" for k in j["keys"])'
}
node_healthy() {
        json_has 'hitlessctl nodes --json' \
                'any(n.get("node_id") == "pkg-agent-1" and n.get("health") == "healthy"
                     and n.get("state") == "online" for n in j["nodes"])'
}
# wait_for SECONDS FUNCTION: polls FUNCTION every half second.
wait_for() {
        local i
        for ((i = 0; i < $1 * 2; i++)); do "$2" && return 0; sleep 0.5; done
        return 1
}
if wait_for 30 key_pending; then
        ok "agent key shows as pending in hitlessctl keys list"
else
        fail "agent key shows as pending in hitlessctl keys list" "$(cx hl-coord 'hitlessctl keys list --json' 2>&1)"
fi
# An administrator accepts keys some time later: the agent must still be
# retrying then (about every heartbeat), not only in the first seconds.
sleep "${PKG_ACCEPT_DELAY:-15}"
cin "hitlessctl keys accept pkg-agent-1" hl-coord 'hitlessctl keys accept pkg-agent-1'
# The agent retries on its own (within about a heartbeat) once accepted.
if wait_for 30 node_healthy; then
        ok "agent enrolled: healthy and online in hitlessctl nodes --json"
else
        fail "agent enrolled: healthy and online in hitlessctl nodes --json (no restart)" \
                "$(cx hl-coord 'hitlessctl nodes --json; hitlessctl keys list' 2>&1
                   journal_of hl-agent hitless-agent | tail -n 10)"
        # Tell an agent that does not retry apart from one that cannot enrol.
        cx hl-agent 'systemctl restart hitless-agent'
        if wait_for 30 node_healthy; then
                ok "agent enrolled after an agent restart"
        else
                fail "agent enrolled after an agent restart" \
                        "$(cx hl-coord 'hitlessctl nodes --json' 2>&1)"
        fi
fi
say "        StatusText: $(unit_prop hl-agent hitless-agent StatusText)"
say "        coordinator: $(unit_prop hl-coord hitless-coordinator StatusText)"
# Under systemd, log lines about one node carry NODE_ID= in the journal
# (checked once the agent has registered: before, there is no such line).
cin "coordinator journal has structured NODE_ID= fields" hl-coord \
        'journalctl -q -o cat -u hitless-coordinator NODE_ID=pkg-agent-1 | grep -q "registered"'
# The pending key's line has its MESSAGE_ID (common/log_ids.h), and the
# installed catalog explains it (journalctl -x; systemd's dpkg trigger on
# /usr/lib/systemd/catalog indexed it at install).
cin "the pending key's journal line has MESSAGE_ID=, explained by the installed catalog (journalctl -x)" hl-coord \
        'journalctl -q -o cat -u hitless-coordinator MESSAGE_ID=4b4d7af380a147f99ce5c85c9ceb1fd2 NODE_ID=pkg-agent-1 |
           grep -q "is pending; accept it with" &&
         journalctl -x -q --no-pager -u hitless-coordinator MESSAGE_ID=4b4d7af380a147f99ce5c85c9ceb1fd2 |
           grep -q "Subject: A new agent key is pending"'

# ---- security exposure (measured here, under the container's systemd) -------
for pair in hl-coord:hitless-coordinator hl-agent:hitless-agent; do
        c=${pair%%:*} u=${pair#*:}
        score=$(cx "$c" "systemd-analyze security $u.service" 2>/dev/null |
                sed -n 's/.*Overall exposure level for [^:]*: *//p')
        say "        systemd-analyze security $u.service: ${score:-?}"
        echo "$u.service ${score:-?}" >>"$WORK/security.txt"
done
cp "$WORK/security.txt" "$PKG_OUT/security-scores.txt" 2>/dev/null
score_c=$(awk '/coordinator/ { print $2 }' "$WORK/security.txt")
score_a=$(awk '/agent/ { print $2 }' "$WORK/security.txt")
check "coordinator exposure <= 2.0 (measured $score_c)" awk -v s="$score_c" 'BEGIN { exit !(s != "" && s + 0 <= 2.0) }'
check "agent exposure <= 7.0 (measured $score_a)" awk -v s="$score_a" 'BEGIN { exit !(s != "" && s + 0 <= 7.0) }'

# ---- remove / reinstall / purge ---------------------------------------------
say "-- remove, reinstall, purge"
AGENT_FILES="agent.conf agent.key agent.key_secret"
COORD_FILES="coordinator.conf coordinator.key coordinator.key_secret"
echo '# local change, kept across reinstall' >>"$ROOT_C/etc/hitless/coordinator.conf"
sum_a=$(sums hl-agent "$AGENT_FILES")
sum_c=$(sums hl-coord "$COORD_FILES")

cin "apt-get remove hitless-agent" hl-agent "$APT remove hitless-agent"
cin "remove stopped the agent" hl-agent \
        '! systemctl is-active -q hitless-agent && ! pgrep -x hitless-agent'
cin "apt-get remove hitless-coordinator" hl-coord "$APT remove hitless-coordinator"
cin "remove stopped the coordinator" hl-coord \
        '! systemctl is-active -q hitless-coordinator && ! pgrep -x hitless-coordin'
check "remove kept agent config and keys" test "$(sums hl-agent "$AGENT_FILES")" = "$sum_a"
check "remove kept coordinator config and keys" test "$(sums hl-coord "$COORD_FILES")" = "$sum_c"

cin "reinstall hitless-agent" hl-agent "$APT install hitless-agent"
cin "reinstall hitless-coordinator" hl-coord "$APT install hitless-coordinator"
check "reinstall kept agent config and keys (checksums)" test "$(sums hl-agent "$AGENT_FILES")" = "$sum_a"
check "reinstall kept coordinator config and keys (checksums)" test "$(sums hl-coord "$COORD_FILES")" = "$sum_c"
cwait "coordinator active again" hl-coord 20 'systemctl is-active -q hitless-coordinator'
cwait "agent active again" hl-agent 20 'systemctl is-active -q hitless-agent'
if wait_for 30 node_healthy; then
        ok "agent healthy again with its old key"
else
        fail "agent healthy again with its old key" "$(cx hl-coord 'hitlessctl nodes --json' 2>&1)"
fi

say "-- upgrade to $UPVERSION"
cp "$WORK/upgrade/hitless-agent_$UPVERSION"_*.deb "$WORK/upgrade/hitless-coordinator_$UPVERSION"_*.deb "$WORK/repo/"
(cd "$WORK/repo" && dpkg-scanpackages --multiversion . /dev/null >Packages 2>/dev/null)
chmod -R a+rX "$WORK/repo"
pid_a=$(unit_prop hl-agent hitless-agent MainPID)
pid_c=$(unit_prop hl-coord hitless-coordinator MainPID)
cin "apt-get upgrade hitless-coordinator" hl-coord "apt-get -qq update && $APT install hitless-coordinator &&
        hitless-coordinator --version | grep -qx 'hitless-coordinator $UPVERSION'"
cin "apt-get upgrade hitless-agent" hl-agent "apt-get -qq update && $APT install hitless-agent &&
        hitless-agent --version | grep -qx 'hitless-agent $UPVERSION'"
check "upgrade kept agent config (modified) and keys" test "$(sums hl-agent "$AGENT_FILES")" = "$sum_a"
check "upgrade kept coordinator config (modified) and keys" test "$(sums hl-coord "$COORD_FILES")" = "$sum_c"
cwait "coordinator restarted by the upgrade" hl-coord 20 \
        "systemctl is-active -q hitless-coordinator && test \"\$(systemctl show -P MainPID hitless-coordinator)\" != $pid_c"
cwait "agent restarted by the upgrade" hl-agent 20 \
        "systemctl is-active -q hitless-agent && test \"\$(systemctl show -P MainPID hitless-agent)\" != $pid_a"
if wait_for 30 node_healthy; then
        ok "agent healthy after both upgrades"
else
        fail "agent healthy after both upgrades" "$(cx hl-coord 'hitlessctl nodes --json' 2>&1)"
fi

# ---- hitless upgrades hitless: the agent installs its own new version ----
# Through the coordinator, like any plan step: the agent runs apt-get for
# hitless-agent=UPVERSION, the package's postinst restarts the agent while
# apt and dpkg (its children, kept alive by KillMode=process) finish. The
# new agent finds the command unfinished in its journal and reports it
# (interrupted-completed: the versions are verifiably in place), or the old
# one reported success before it was stopped; never run twice.
say "-- the agent upgrades its own package (hitlessctl install hitless-agent=$UPVERSION)"
# Back to VERSION with apt first (the repository has both), so that there
# is something to upgrade to; then the agent manages its own package.
cin "apt-get install hitless-agent=$VERSION (downgrade, to upgrade again)" hl-agent \
        "$APT install --allow-downgrades hitless-agent=$VERSION &&
         hitless-agent --version | grep -qx 'hitless-agent $VERSION'"
cat >>"$ROOT_A/etc/hitless/agent.conf" <<'EOF'
# Added by check-packages: the agent manages its own package.
packages = [ "hitless-agent" ];
package_backend = "apt";
EOF
cin "agent.conf managing hitless-agent passes --check-config" hl-agent \
        'hitless-agent --check-config -c /etc/hitless/agent.conf'
cin "systemctl restart hitless-agent (new policy)" hl-agent 'systemctl restart hitless-agent'
# node_reports VERSION: the node's heartbeat reports hitless-agent at VERSION.
node_reports() {
        json_has 'hitlessctl nodes --json' \
                "any(n.get('node_id') == 'pkg-agent-1' and n.get('state') == 'online' and
                     n.get('packages', {}).get('hitless-agent') == '$1' for n in j['nodes'])"
}
node_reports_old() { node_healthy && node_reports "$VERSION"; }
node_reports_new() { node_healthy && node_reports "$UPVERSION"; }
if wait_for 30 node_reports_old; then
        ok "agent healthy, reports hitless-agent=$VERSION"
else
        fail "agent healthy, reports hitless-agent=$VERSION" "$(cx hl-coord 'hitlessctl nodes --json' 2>&1)"
fi
# agent_journal: the agent's node journal, as JSON, read on the node.
agent_journal() { cx hl-agent 'hitless-agent -c /etc/hitless/agent.conf journal --json' 2>&1; }
# selfup_entries: "COUNT STATE" of selfup-1 in the node journal.
selfup_entries() {
        agent_journal | python3 -c '
import json, sys
try:
    e = [c for c in json.load(sys.stdin)["commands"] if c.get("id") == "selfup-1"]
except Exception as x:
    print("unreadable journal: %s" % x); sys.exit(0)
print(len(e), " ".join(c.get("state", "?") for c in e))'
}
# field JSON KEY[.KEY]: a field of a JSON document ("" if absent).
field() {
        python3 -c '
import json, sys
try:
    v = json.loads(sys.argv[1])
    for k in sys.argv[2].split("."):
        v = v[k]
except Exception:
    v = ""
print(v)' "$1" "$2"
}
selfup_context() {
        echo "hitlessctl exit $1; output:"
        echo "$2"
        echo "-- agent: $(cx hl-agent 'dpkg-query -W -f "\${Status} \${Version}" hitless-agent; echo; dpkg --audit' 2>&1)"
        echo "-- dpkg.log:"
        cx hl-agent "grep ' hitless-agent' /var/log/dpkg.log | tail -n 4"
        echo "-- agent unit log:"
        cx hl-agent "journalctl -q --no-pager -o short-precise -u hitless-agent --since -2min | cut -d' ' -f3- |
                     grep -v -e 'health unknown' -e 'connected to' -e 'This usually' -e 'left-over' -e 'remains running' | tail -n 8"
        echo "-- coordinator log:"
        journal_of hl-coord hitless-coordinator | grep -i -e selfup -e pkg-agent-1 | tail -n 4
}
pid_self=$(unit_prop hl-agent hitless-agent MainPID)
self_start=$(date +%s%N)
self_out=$(cx hl-coord "timeout 200 hitlessctl install pkg-agent-1 hitless-agent=$UPVERSION --json --id selfup-1 --wait 150" 2>&1)
self_rc=$?
self_ms=$((($(date +%s%N) - self_start) / 1000000))
self_secs=$((self_ms / 1000)).$(printf %03d $((self_ms % 1000)))
echo "hitlessctl install selfup-1 (exit $self_rc, ${self_secs}s): $self_out" >>"$LOG"
self_state=$(field "$self_out" state)
self_code=$(field "$self_out" error_code)
say "        hitlessctl answered in ${self_secs}s (exit $self_rc): state '$self_state', error_code '$self_code'"
say "        message: $(field "$self_out" message)"
if { [ "$self_state" = succeeded ] && [ "$self_rc" = 0 ]; } ||
   { [ "$self_state" = interrupted ] && [ "$self_code" = interrupted-completed ]; }; then
        ok "self-upgrade answered: $self_state${self_code:+ ($self_code)}"
else
        fail "self-upgrade answered: succeeded, or interrupted (interrupted-completed)" \
                "$(selfup_context "$self_rc" "$self_out")"
fi
check "self-upgrade result lists hitless-agent=$UPVERSION" \
        test "$(field "$self_out" packages.hitless-agent)" = "$UPVERSION"
# dpkg may still be finishing the postinst when the answer arrives.
cwait "dpkg: hitless-agent $UPVERSION installed and configured, dpkg --audit empty" hl-agent 60 \
        "test \"\$(dpkg-query -W -f '\${Status} \${Version}' hitless-agent)\" = 'install ok installed $UPVERSION' &&
         test -z \"\$(dpkg --audit)\" && ! pgrep -x apt-get && ! pgrep -x dpkg"
cwait "agent unit active with a new MainPID, running the new binary" hl-agent 30 \
        "systemctl is-active -q hitless-agent && p=\$(systemctl show -P MainPID hitless-agent) &&
         test \"\$p\" != $pid_self && test \"\$p\" != 0 &&
         test \"\$(readlink /proc/\$p/exe)\" = /usr/sbin/hitless-agent &&
         hitless-agent --version | grep -qx 'hitless-agent $UPVERSION'"
if wait_for 60 node_reports_new; then
        ok "agent back online and healthy, reports hitless-agent=$UPVERSION"
else
        fail "agent back online and healthy, reports hitless-agent=$UPVERSION" \
                "$(cx hl-coord 'hitlessctl nodes --json' 2>&1)"
fi
entries=$(selfup_entries)
case "$entries" in
"1 succeeded" | "1 interrupted" | "1 failed" | "1 refused")
        ok "node journal has selfup-1 once, final ($entries)" ;;
*)
        fail "node journal has selfup-1 once, final" "$entries
$(agent_journal)" ;;
esac
check "node journal's state is the one hitlessctl answered ($self_state)" \
        test "${entries#1 }" = "$self_state"
# The same id again: the recorded result, no second apt run.
dpkg_lines=$(cx hl-agent 'wc -l </var/log/dpkg.log')
pid_self2=$(unit_prop hl-agent hitless-agent MainPID)
again_out=$(cx hl-coord "timeout 100 hitlessctl install pkg-agent-1 hitless-agent=$UPVERSION --json --id selfup-1 --wait 60" 2>&1)
again_rc=$?
echo "hitlessctl install selfup-1 again (exit $again_rc): $again_out" >>"$LOG"
if [ "$(field "$again_out" command_id)" = selfup-1 ] &&
   [ "$(field "$again_out" state)" = "$self_state" ] &&
   [ "$(field "$again_out" error_code)" = "$self_code" ] && [ "$again_rc" = "$self_rc" ]; then
        ok "selfup-1 sent again: the recorded result ($self_state, exit $again_rc)"
else
        fail "selfup-1 sent again: the recorded result ($self_state, exit $self_rc)" \
                "exit $again_rc: $again_out"
fi
sleep 3
entries=$(selfup_entries)
check "selfup-1 sent again: node journal still has it once ($entries)" test "${entries%% *}" = 1
now="$(cx hl-agent 'wc -l </var/log/dpkg.log') lines, agent PID $(unit_prop hl-agent hitless-agent MainPID)"
if [ "$now" = "$dpkg_lines lines, agent PID $pid_self2" ]; then
        ok "selfup-1 sent again: no new dpkg.log entries, agent not restarted"
else
        fail "selfup-1 sent again: no new dpkg.log entries, agent not restarted" \
                "before: $dpkg_lines lines, agent PID $pid_self2; now: $now"
fi
say "        self-upgrade: ${self_secs}s until hitlessctl answered"

cin "apt-get purge hitless-agent" hl-agent "$APT purge hitless-agent"
cin "purge removed agent config, keys and state" hl-agent \
        'test ! -e /etc/hitless/agent.conf && test ! -e /etc/hitless/agent.key_secret &&
         test ! -e /etc/hitless/agent.key && test ! -e /var/lib/hitless/agent'
cin "apt-get purge hitless-coordinator" hl-coord "$APT purge hitless-coordinator"
cin "purge removed coordinator config, keys, state, statoverride" hl-coord \
        'test ! -e /etc/hitless && test ! -e /var/lib/hitless &&
         ! dpkg-statoverride --list /etc/hitless'
cin "both packages on one node: install, purge one, the other keeps working" hl-coord \
        "$APT install hitless-coordinator hitless-agent >/dev/null &&
         test \"\$(stat -c %G:%a /etc/hitless)\" = hitless:750 &&
         $APT purge hitless-coordinator >/dev/null &&
         test \"\$(stat -c %U:%G:%a /etc/hitless)\" = root:root:755 &&
         test -e /etc/hitless/agent.key_secret && hitless-agent --check-config"

# ---- the agent's sandbox does not get in the way of package installation ----
say "-- package installation under the agent's sandbox"
# A oneshot unit with every hardening setting of hitless-agent.service
# installs hitless-coordinator: adduser, dpkg-statoverride, key generation
# and starting a unit over D-Bus all have to work from inside it.
awk '/^\[Install\]/ { exit }
     /^(Type|ExecStart|ExecReload|Restart|RestartSec|WatchdogSec|NotifyAccess|KillMode|StateDirectory[A-Za-z]*|TimeoutStopSec)=/ { next }
     { print }
     /^\[Service\]/ { print "Type=oneshot"
                       print "ExecStart=/bin/sh -c \"apt-get -y -q install hitless-coordinator && systemctl is-active hitless-coordinator && hitlessctl keys list\"" }' \
        "$TOP/systemd/hitless-agent.service" >"$(nspawn_root hl-coord)/etc/systemd/system/hl-sandbox-test.service"
cin "apt-get install runs inside the agent's sandbox" hl-coord \
        'systemctl daemon-reload && systemctl start hl-sandbox-test ||
         { journalctl -q --no-pager -o cat -u hl-sandbox-test | tail -n 20; false; }'

# The agent upgrading its own package: apt runs in the agent's cgroup, as
# when the agent executes a plan step; the package's postinst restarts the
# agent. KillMode=process must keep apt/dpkg alive through that restart.
pid_before=$(unit_prop hl-coord hitless-agent MainPID)
if out=$(nspawn_exec_in_unit hl-coord hitless-agent.service \
        apt-get -y -q -o Dpkg::Use-Pty=0 install --reinstall hitless-agent 2>&1); then
        ok "apt-get install --reinstall hitless-agent from the agent's cgroup"
else
        fail "apt-get install --reinstall hitless-agent from the agent's cgroup" "$out"
fi
echo "$out" >>"$LOG"
cin "dpkg finished configuring hitless-agent" hl-coord \
        'test "$(dpkg-query -W -f "\${Status}" hitless-agent)" = "install ok installed" && ! dpkg --audit | grep -q .'
cwait "agent restarted by its own upgrade" hl-coord 20 \
        "systemctl is-active -q hitless-agent && test \"\$(systemctl show -P MainPID hitless-agent)\" != $pid_before"

nspawn_cleanup

# ---- rpm --------------------------------------------------------------------
say "-- rpm (rpm --root on a copy of the container rootfs)"
if [ -n "$RPM_AGENT" ] && [ -n "$RPM_COORD" ]; then
        mkdir -p "$RPMROOT" "$WORK/upper" "$WORK/ovl"
        mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$WORK/upper,workdir=$WORK/ovl" "$RPMROOT" &&
                mount -t proc proc "$RPMROOT/proc" &&
                mount --bind /dev "$RPMROOT/dev"
        R=(rpm --root "$RPMROOT")
        check "rpm --initdb" "${R[@]}" --initdb
        if out=$("${R[@]}" -ivh --nodeps "$RPM_AGENT" "$RPM_COORD" 2>&1) &&
           ! grep -q 'scriptlet failed' <<<"$out"; then
                ok "rpm -ivh both packages (scriptlets ran)"
        else
                fail "rpm -ivh both packages (scriptlets ran)" "$out"
        fi
        echo "$out" >>"$LOG"
        rin() { chroot "$RPMROOT" /bin/sh -c "$*"; }
        check "rpm: hitless user created" rin 'getent passwd hitless'
        check "rpm: agent key generated (root, 0600)" \
                rin 'test "$(stat -c %U:%a /etc/hitless/agent.key_secret)" = root:600'
        check "rpm: coordinator key generated (hitless, 0600)" \
                rin 'test "$(stat -c %U:%a /etc/hitless/coordinator.key_secret)" = hitless:600'
        check "rpm: /etc/hitless is root:hitless 0750" \
                rin 'test "$(stat -c %U:%G:%a /etc/hitless)" = root:hitless:750'
        check "rpm: agent unit enabled by preset" \
                rin 'test -L /etc/systemd/system/multi-user.target.wants/hitless-agent.service'
        check "rpm: /var/lib/hitless/coordinator owned by hitless" \
                rin 'test "$(stat -c %U:%a /var/lib/hitless/coordinator)" = hitless:750'
        rsum=$(rin 'cd /etc/hitless && sha256sum *.key *.key_secret')
        check "rpm -Uvh --replacepkgs (reinstall)" "${R[@]}" -Uvh --nodeps --replacepkgs "$RPM_AGENT" "$RPM_COORD"
        check "rpm: reinstall kept the keys" test "$(rin 'cd /etc/hitless && sha256sum *.key *.key_secret')" = "$rsum"
        echo '# local change' >>"$RPMROOT/etc/hitless/agent.conf"
        csum=$(rin 'cd /etc/hitless && sha256sum agent.conf coordinator.conf *.key *.key_secret')
        if [ -n "$UP_RPM_AGENT" ] && [ -n "$UP_RPM_COORD" ]; then
                check "rpm -Uvh to $UPVERSION" "${R[@]}" -Uvh --nodeps "$UP_RPM_AGENT" "$UP_RPM_COORD"
                check "rpm: upgrade kept config (modified) and keys" \
                        test "$(rin 'cd /etc/hitless && sha256sum agent.conf coordinator.conf *.key *.key_secret')" = "$csum"
                check "rpm: no .rpmnew/.rpmsave after the upgrade" \
                        rin '! ls /etc/hitless | grep -q "\.rpm\(new\|save\)"'
                check "rpm: /etc/hitless still root:hitless 0750 after the upgrade" \
                        rin 'test "$(stat -c %U:%G:%a /etc/hitless)" = root:hitless:750'
        else
                fail "upgrade rpms built"
        fi
        check "rpm -e both packages" "${R[@]}" -e hitless-agent hitless-coordinator
        check "rpm: erase removed the programs" rin '! test -e /usr/sbin/hitless-agent && ! test -e /usr/bin/hitlessctl'
fi

# File lists: the same paths in both formats, apart from documented
# differences: unit directory (/lib/systemd on Debian 12, /usr/lib/systemd
# on rpm systems), Debian's /usr/share/doc and lintian files, rpm's
# /usr/lib/.build-id links, and the rpm's preset file (Debian enables units
# in postinst).
norm() {
        sed -e 's|^\./|/|' -e 's|^/lib/systemd/|/usr/lib/systemd/|' |
                grep -v -e '^/usr/share/doc/' -e '^/usr/share/lintian/' -e '^/usr/lib/\.build-id/' \
                        -e '^/usr/lib/systemd/system-preset/' | sort
}
deb_files() { dpkg-deb --fsys-tarfile "$1" | tar -tvf - | awk '$1 !~ /^d/ { print $6 }' | norm; }
rpm_files() { rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$1" 2>/dev/null | awk '$1 !~ /^d/ { print $2 }' | norm; }
if [ -n "$RPM_AGENT" ] && [ -n "$RPM_COORD" ]; then
        for p in agent coordinator; do
                if [ $p = agent ]; then d=$DEB_AGENT r=$RPM_AGENT; else d=$DEB_COORD r=$RPM_COORD; fi
                if diff=$(diff <(deb_files "$d") <(rpm_files "$r")); then
                        ok "hitless-$p: .deb and .rpm ship the same files ($(deb_files "$d" | wc -l))"
                else
                        fail "hitless-$p: .deb and .rpm ship the same files" "$diff"
                fi
        done
fi

say "check-packages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
