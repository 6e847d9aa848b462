#!/bin/bash
# agent/unit_control against a real systemd: boots a systemd-nspawn
# container (tests/lib/nspawn.sh), installs small service units in it, and
# drives unit_restart() / unit_active_state() from the host over the
# container's system bus (unix:path=/proc/PID/root/run/dbus/system_bus_socket)
# through tests/tools/unit_control_tool.c, built here with the Makefile's
# flags (the Makefile does not build tests/tools).
#
# Exit 0 when every check passed, 1 otherwise, 77 (skip) when not root or
# systemd-nspawn / a container rootfs is not available.
set -u

if [ "$(id -u)" -ne 0 ]; then
        echo "skipped: needs root (systemd-nspawn)"
        exit 77
fi
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-$TOP/build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
# shellcheck source=../lib/nspawn.sh
. "$TOP/tests/lib/nspawn.sh"

START=$(date +%s%N)
WORK=$(mktemp -d /tmp/hitless-unitctl.XXXXXX)
NAME=hl-uc-$$
passed=0
failed=0

cleanup() {
        nspawn_cleanup
        rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { passed=$((passed + 1)); echo "ok: $1"; }
fail() {
        failed=$((failed + 1))
        echo "FAILED: $1"
        [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/        /'
        return 0
}
# check DESCRIPTION CMD...: CMD must succeed.
check() {
        local desc=$1; shift
        if "$@"; then ok "$desc"; else fail "$desc" "${OUT:-}"; fi
}
finish() {
        echo "$(basename "$0" .sh): $passed passed, $failed failed ($(( ($(date +%s%N) - START) / 1000000 )) ms)"
        [ "$failed" -eq 0 ]
        exit $?
}

# ---- the driver -------------------------------------------------------------
if ! command -v systemd-nspawn >/dev/null || ! command -v debootstrap >/dev/null; then
        "$TOP/scripts/install-deps.sh" nspawn >/dev/null 2>&1
fi
if ! command -v systemd-nspawn >/dev/null || ! command -v debootstrap >/dev/null; then
        echo "skipped: systemd-nspawn or debootstrap unavailable"
        exit 77
fi

PKGS="libzmq libczmq libprotobuf-c libconfig libsystemd sqlite3 openssl"
if ! make -s -C "$TOP" BUILD="$BUILD" "$BUILD/libhitless-agent.a" "$BUILD/libhitless-common.a"; then
        fail "build the agent libraries"
        finish
fi
TOOL=$WORK/unit_control_tool
# shellcheck disable=SC2046,SC2086
if ! OUT=$(cc -std=c11 -D_GNU_SOURCE ${OPTFLAGS:--O2 -g} -Wall -Wextra -Werror -Wshadow \
        -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation ${EXTRA_CFLAGS:-} \
        -I"$TOP" -I"$BUILD/gen" $(pkg-config --cflags $PKGS) ${EXTRA_LDFLAGS:-} \
        -o "$TOOL" "$TOP/tests/tools/unit_control_tool.c" \
        "$BUILD/libhitless-agent.a" "$BUILD/libhitless-common.a" \
        $(pkg-config --libs $PKGS) -lm 2>&1); then
        fail "build tests/tools/unit_control_tool.c" "$OUT"
        finish
fi

# ---- the container ----------------------------------------------------------
if ! ROOTFS=$(nspawn_rootfs); then
        echo "skipped: no container rootfs (debootstrap failed; see $NSPAWN_CACHE)"
        exit 77
fi
if ! nspawn_boot "$NAME" "$ROOTFS"; then
        fail "boot a container" "$(tail -n 20 "$(nspawn_console "$NAME")" 2>/dev/null)"
        finish
fi
LEADER=$(nspawn_leader "$NAME")
ADDR="unix:path=/proc/$LEADER/root/run/dbus/system_bus_socket"

unit() { nspawn_exec "$NAME" sh -c "cat > /etc/systemd/system/$1"; }
unit hl-test.service <<'EOF'
[Unit]
Description=hitless test: a service that stays up
[Service]
ExecStart=/bin/sleep infinity
EOF
# Never started before the test: not loaded until asked for.
unit hl-idle.service <<'EOF'
[Service]
ExecStart=/bin/sleep infinity
EOF
unit hl-fail.service <<'EOF'
[Unit]
Description=hitless test: its start job fails
[Service]
Type=oneshot
ExecStart=/bin/false
EOF
unit hl-dep.service <<'EOF'
[Unit]
Description=hitless test: needs hl-fail, so its job fails as "dependency"
Requires=hl-fail.service
After=hl-fail.service
[Service]
ExecStart=/bin/sleep infinity
EOF
unit hl-jobtimeout.service <<'EOF'
[Unit]
Description=hitless test: never ready, and its job times out after 1 s
JobTimeoutSec=1
[Service]
Type=notify
ExecStart=/bin/sleep infinity
TimeoutStartSec=infinity
EOF
unit hl-hang.service <<'EOF'
[Unit]
Description=hitless test: never ready, the start job outlasts any test
[Service]
Type=notify
ExecStart=/bin/sleep infinity
TimeoutStartSec=5min
EOF
nspawn_exec "$NAME" ln -sf /dev/null /etc/systemd/system/hl-masked.service
nspawn_exec "$NAME" systemctl daemon-reload
nspawn_exec "$NAME" systemctl start hl-test.service

# tool ARGS...: the driver against the container's bus; $OUT, $RC.
tool() {
        OUT=$("$TOOL" "$ADDR" "$@" 2>&1)
        RC=$?
        echo "    unit_control_tool $* -> $RC: $OUT"
}
prop() { nspawn_exec "$NAME" systemctl show -P "$2" "$1"; }
has() { case $OUT in *"$1"*) return 0 ;; esac; return 1; }
# failed_with ERRNO_NAME TEXT...: the last tool call failed (exit 1) with
# "ERRNO_NAME: " and every TEXT in its output.
failed_with() {
        local t
        [ "$RC" = 1 ] && has "$1: " || return 1
        shift
        for t in "$@"; do has "$t" || return 1; done
}
not_has() { ! has "$1"; }
between() { [ "$1" -ge "$2" ] && [ "$1" -lt "$3" ]; }

# ---- state ------------------------------------------------------------------
tool state hl-test.service
check "state of a running unit is active" test "$RC:$OUT" = "0:active"
tool state hl-idle.service
check "state of a never-started unit is inactive (loaded on demand)" test "$RC:$OUT" = "0:inactive"
tool state hl-nope.service
check "state of an unknown unit: ENOENT, not found" \
        test "$RC:$OUT" = "1:ENOENT: unit hl-nope.service not found"

# ---- restart ----------------------------------------------------------------
before=$(prop hl-test.service MainPID)
tool restart hl-test.service 20000
check "restart of a good unit succeeds" test "$RC" = 0
after=$(prop hl-test.service MainPID)
OUT="MainPID before $before, after $after"
check "its MainPID changed" test "$before" != "$after" -a "${after:-0}" != 0 -a "${before:-0}" != 0
OUT=$(nspawn_exec "$NAME" systemctl is-active hl-test.service)
check "systemctl agrees it is active" test "$OUT" = active
tool state hl-test.service
check "and so does unit_active_state" test "$RC:$OUT" = "0:active"

tool restart hl-idle.service 20000
check "restart of an inactive unit starts it" test "$RC" = 0
OUT=$(nspawn_exec "$NAME" systemctl is-active hl-idle.service)
check "it is active now" test "$OUT" = active

tool restart hl-fail.service 20000
check "restart of a unit whose ExecStart fails: EIO naming result failed" \
        failed_with EIO "result failed"
tool state hl-fail.service
check "its state is failed" test "$RC:$OUT" = "0:failed"

tool restart hl-dep.service 20000
check "a unit whose requirement fails: EIO naming result dependency" \
        failed_with EIO "result dependency"

t0=$(date +%s%N)
tool restart hl-jobtimeout.service 20000
took=$(( ($(date +%s%N) - t0) / 1000000 ))
check "a job that hits JobTimeoutSec=1: EIO naming result timeout" \
        failed_with EIO "result timeout"
check "... after about 1 s (${took} ms)" between "$took" 900 10000

t0=$(date +%s%N)
tool restart hl-hang.service 1500
took=$(( ($(date +%s%N) - t0) / 1000000 ))
check "a job that does not end within the timeout: ETIMEDOUT" \
        failed_with ETIMEDOUT "did not finish within 1500 ms"
check "... after 1.5 s, not much later (${took} ms)" between "$took" 1500 4000
OUT=$(prop hl-hang.service ActiveState)
check "the unit is still activating (systemd's job goes on)" test "$OUT" = activating

tool restart hl-nope.service 20000
check "restart of an unknown unit: ENOENT, not found" \
        test "$RC:$OUT" = "1:ENOENT: unit hl-nope.service not found"

tool restart hl-masked.service 20000
check "restart of a masked unit fails with systemd's reason" failed_with "" "is masked"
check "... and not as ENOENT (reserved for unknown units)" not_has ENOENT

# ---- start, stop -------------------------------------------------------------
tool stop hl-test.service 20000
check "stop of a running unit succeeds" test "$RC" = 0
OUT=$(nspawn_exec "$NAME" systemctl is-active hl-test.service)
check "systemctl says it is inactive" test "$OUT" = inactive
tool stop hl-test.service 20000
check "stop of a stopped unit succeeds at once" test "$RC" = 0
tool start hl-test.service 20000
check "start of a stopped unit succeeds" test "$RC" = 0
OUT=$(nspawn_exec "$NAME" systemctl is-active hl-test.service)
check "systemctl says it is active again" test "$OUT" = active
before=$(prop hl-test.service MainPID)
tool start hl-test.service 20000
after=$(prop hl-test.service MainPID)
check "start of a running unit succeeds and leaves it alone (MainPID $before, $after)" \
        test "$RC" = 0 -a "$before" = "$after"
tool start hl-fail.service 20000
check "start of a unit whose ExecStart fails: EIO naming result failed" failed_with EIO "start job ended with result failed"
tool stop hl-nope.service 20000
check "stop of an unknown unit: ENOENT, not found" \
        test "$RC:$OUT" = "1:ENOENT: unit hl-nope.service not found"

OUT=$("$TOOL" "unix:path=$WORK/no-such.sock" restart hl-test.service 2000 2>&1)
RC=$?
check "an unreachable bus: ECONNREFUSED, cannot connect" \
        failed_with ECONNREFUSED "cannot connect to unix:path=$WORK/no-such.sock"

NSPAWN=${NSPAWN_PID[$NAME]}
nspawn_stop "$NAME"
OUT="systemd-nspawn (pid $NSPAWN) still alive"
stopped() { ! kill -0 "$NSPAWN" 2>/dev/null; }
check "the container stopped" stopped
finish
