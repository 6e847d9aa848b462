# shellcheck shell=bash
# Real systemd for tests: systemd-nspawn containers booted from a cached
# debootstrap rootfs (see ../shared/TESTING.md for why each flag is there).
#
# Source this file from a bash test, then:
#
#   rootfs=$(nspawn_rootfs)                 # build or reuse the cached rootfs
#   nspawn_netns_create hl-test             # optional private network
#   nspawn_boot node1 "$rootfs" --network-namespace-path=/run/netns/hl-test \
#       --bind-ro=/some/dir:/repo           # boots, waits for "running"
#   nspawn_exec node1 systemctl is-active dbus
#   nspawn_sh node1 'echo hi > /etc/motd'   # a shell line inside
#   nspawn_exec_in_unit node1 foo.service CMD  # CMD as part of foo.service
#   cat file | nspawn_exec node1 sh -c 'cat > /opt/file'
#   nspawn_stop node1                       # poweroff, then TERM/KILL by PID
#   nspawn_cleanup                          # stops every container and netns
#                                           # this shell started (use in a trap)
#
# Containers share the rootfs read-only through --volatile=overlay: every
# change lives in a tmpfs and disappears at stop, so tests never dirty the
# cache. Every process is tracked and stopped by its PID only.
#
# Environment:
#   NSPAWN_CACHE     cache directory (default /var/cache/hitless-test)
#   NSPAWN_SUITE     Debian suite (default bookworm)
#   NSPAWN_MIRROR    mirror URL (default: the first deb.debian.org-style URI
#                    of the host's apt sources)
#   NSPAWN_PACKAGES  packages included in the rootfs (comma separated); the
#                    default covers systemd plus the runtime libraries the
#                    hitless .debs depend on, so containers need no network
#   NSPAWN_TIMEOUT   seconds to wait for boot and stop (default 60)

NSPAWN_CACHE=${NSPAWN_CACHE:-/var/cache/hitless-test}
NSPAWN_SUITE=${NSPAWN_SUITE:-bookworm}
NSPAWN_TIMEOUT=${NSPAWN_TIMEOUT:-60}
NSPAWN_PACKAGES=${NSPAWN_PACKAGES:-systemd,systemd-sysv,dbus,libsystemd0,libzmq5,libczmq4,libprotobuf-c1,libconfig9,libsqlite3-0,libssl3,libmicrohttpd12,adduser,procps,iproute2}

declare -gA NSPAWN_PID=()      # container name -> systemd-nspawn PID
declare -ga NSPAWN_NETNS=()    # network namespaces created here
NSPAWN_RUN_DIR=${NSPAWN_RUN_DIR:-}

nspawn_log() { echo "nspawn: $*" >&2; }

# The Debian mirror from the host's apt sources (deb822 or one-line style).
nspawn_mirror() {
        if [ -n "${NSPAWN_MIRROR:-}" ]; then echo "$NSPAWN_MIRROR"; return; fi
        local uri
        uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
                awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' |
                grep -v -- '-security' | head -n 1)
        if [ -z "$uri" ]; then
                uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
                        awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) { print $i; break } }' |
                        grep -v -- '-security' | head -n 1)
        fi
        echo "${uri:-http://deb.debian.org/debian}"
}

# Prints the path of a rootfs with NSPAWN_PACKAGES (plus any extra
# packages given as arguments), building it on first use. The cache key is
# the suite, variant and sorted package list, so a changed list builds a new
# tree and old ones can be deleted at will. Concurrent callers serialise on
# a lock; a half-built tree is never published (built aside, then renamed).
nspawn_rootfs() {
        local pkgs key dir tmp mirror
        pkgs=$( { echo "$NSPAWN_PACKAGES" | tr ',' '\n'; printf '%s\n' "$@"; } | grep . | sort -u | paste -sd, -)
        key=$(printf '%s minbase %s' "$NSPAWN_SUITE" "$pkgs" | sha256sum | cut -c1-12)
        dir="$NSPAWN_CACHE/rootfs-$NSPAWN_SUITE-$key"
        mkdir -p "$NSPAWN_CACHE" || return 1
        (
                flock 9
                [ -x "$dir/lib/systemd/systemd" ] && exit 0
                command -v debootstrap >/dev/null || { nspawn_log "debootstrap missing"; exit 1; }
                mirror=$(nspawn_mirror)
                tmp="$dir.tmp.$$"
                rm -rf "$tmp"
                nspawn_log "building rootfs $dir ($pkgs) from $mirror"
                if ! debootstrap --variant=minbase --include="$pkgs" "$NSPAWN_SUITE" \
                        "$tmp" "$mirror" >"$NSPAWN_CACHE/debootstrap-$key.log" 2>&1; then
                        nspawn_log "debootstrap failed, see $NSPAWN_CACHE/debootstrap-$key.log"
                        rm -rf "$tmp"
                        exit 1
                fi
                # Containers run without network: no apt lists to fetch, and
                # an empty machine-id so every boot gets its own.
                rm -f "$tmp"/etc/apt/sources.list "$tmp"/etc/apt/sources.list.d/*
                : >"$tmp/etc/machine-id"
                echo "$pkgs" >"$tmp/.hitless-test-packages"
                mv "$tmp" "$dir"
        ) 9>"$NSPAWN_CACHE/.lock" || return 1
        echo "$dir"
}

# Sets NSPAWN_RUN_DIR (console logs, pid files) once per shell. Call it
# directly, never in $(...): a subshell's assignment would be lost.
_nspawn_run_dir_init() {
        if [ -z "$NSPAWN_RUN_DIR" ]; then
                NSPAWN_RUN_DIR=$(mktemp -d /tmp/hitless-nspawn.XXXXXX) || return 1
        fi
}

# A private network namespace with loopback up. Containers join it with
# --network-namespace-path=/run/netns/NAME and then reach each other on
# 127.0.0.1, isolated from the host and from other tests.
nspawn_netns_create() {
        local ns=$1
        ip netns add "$ns" || return 1
        NSPAWN_NETNS+=("$ns")
        ip -n "$ns" link set lo up
}

# nspawn_netns_http NS PORT TRIES TIMEOUT: GET http://127.0.0.1:PORT/ from
# inside NS (the containers have no HTTP client), printing the body; up to
# TRIES attempts of TIMEOUT seconds, 0.2 s apart, while nothing answers (a
# unit just restarted binds its port a moment later).
nspawn_netns_http() {
        ip netns exec "$1" /usr/bin/python3 -c '
import sys, time, urllib.request
for i in range(int(sys.argv[2])):
    try:
        print(urllib.request.urlopen("http://127.0.0.1:%s/" % sys.argv[1], timeout=float(sys.argv[3])).read().decode(), end="")
        break
    except OSError:
        time.sleep(0.2)' "$2" "$3" "$4" 2>/dev/null
}

nspawn_netns_delete() {
        local ns=$1 pid
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
        local i
        for i in "${!NSPAWN_NETNS[@]}"; do
                [ "${NSPAWN_NETNS[$i]}" = "$ns" ] && unset 'NSPAWN_NETNS[i]'
        done
        return 0
}

# PID (in the host's namespace) of the container's systemd, or nothing.
nspawn_leader() {
        local pid=${NSPAWN_PID[$1]:-}
        [ -n "$pid" ] || return 1
        pgrep -P "$pid" -x systemd | head -n 1
}

# The container's root directory as seen from the host (overlay included).
nspawn_root() {
        local c
        c=$(nspawn_leader "$1") || return 1
        [ -n "$c" ] || return 1
        echo "/proc/$c/root"
}

# nspawn_boot NAME ROOTFS [systemd-nspawn options...]
# Boots a container named NAME (also its hostname) and waits until its
# system manager reports running (or degraded). Console output goes to
# $(nspawn_console NAME).
nspawn_boot() {
        local name=$1 rootfs=$2; shift 2
        local run pid
        _nspawn_run_dir_init || return 1
        run=$NSPAWN_RUN_DIR
        if [ -n "${NSPAWN_PID[$name]:-}" ]; then nspawn_log "$name already booted"; return 1; fi
        setsid systemd-nspawn -b -D "$rootfs" --register=no --keep-unit \
                --console=pipe -M "$name" --volatile=overlay "$@" \
                </dev/null >"$run/$name.console" 2>&1 &
        pid=$!
        NSPAWN_PID[$name]=$pid
        echo "$pid" >"$run/$name.pid"
        if ! nspawn_wait_running "$name" "$NSPAWN_TIMEOUT"; then
                nspawn_log "$name did not boot; console:"
                tail -n 30 "$run/$name.console" >&2
                return 1
        fi
}

nspawn_console() { echo "$NSPAWN_RUN_DIR/$1.console"; }

# Waits until the container's systemd says running or degraded.
nspawn_wait_running() {
        local name=$1 timeout=${2:-$NSPAWN_TIMEOUT} i state c
        for ((i = 0; i < timeout * 10; i++)); do
                if ! kill -0 "${NSPAWN_PID[$name]}" 2>/dev/null; then
                        nspawn_log "$name: systemd-nspawn exited"
                        return 1
                fi
                c=$(nspawn_leader "$name")
                if [ -n "$c" ]; then
                        state=$(nsenter -t "$c" -a -- /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
                                systemctl is-system-running 2>/dev/null)
                        case "$state" in running | degraded) return 0 ;; esac
                fi
                sleep 0.1
        done
        nspawn_log "$name: not running after ${timeout}s (state: ${state:-none})"
        return 1
}

# nspawn_exec NAME CMD [ARGS...]: runs CMD inside the container (all its
# namespaces, its root) with a clean environment. stdin is passed through.
nspawn_exec() {
        local name=$1 c; shift
        c=$(nspawn_leader "$name")
        if [ -z "$c" ]; then nspawn_log "$name is not running"; return 125; fi
        nsenter -t "$c" -a -- /usr/bin/env -i \
                PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
                LANG=C.UTF-8 TERM=dumb HOME=/root DEBIAN_FRONTEND=noninteractive \
                SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}

# nspawn_exec_in_unit NAME UNIT CMD [ARGS...]: like nspawn_exec, but CMD
# runs in UNIT's control group, as if the unit's main process had started
# it (systemd then treats it as part of the unit: KillMode=, stop, restart).
# Only CMD itself is moved, from the host, while it waits for a go file:
# a process cannot migrate itself into the container across the cgroup
# namespace boundary, and nsenter (a host-PID process) must stay outside or
# systemd cannot list the unit's processes.
nspawn_exec_in_unit() {
        local name=$1 unit=$2 c cg token np child i mnt path ctrl; shift 2
        c=$(nspawn_leader "$name")
        if [ -z "$c" ]; then nspawn_log "$name is not running"; return 125; fi
        cg=$(nspawn_exec "$name" systemctl show -P ControlGroup "$unit")
        if [ -z "$cg" ]; then nspawn_log "$name: $unit has no control group"; return 125; fi
        token=$$.$RANDOM$RANDOM
        # A simple command run with & is exec'd by the forked shell: $! is
        # nsenter itself, and its only child is CMD-to-be in the container.
        nsenter -t "$c" -a -- /usr/bin/env -i \
                PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
                LANG=C.UTF-8 TERM=dumb HOME=/root DEBIAN_FRONTEND=noninteractive \
                SYSTEMD_PAGER= SYSTEMD_COLORS=0 /bin/sh -c \
                'while [ ! -e "/run/nspawn-go-$0" ]; do sleep 0.05; done; rm -f "/run/nspawn-go-$0"; exec "$@"' \
                "$token" "$@" &
        np=$!
        for ((i = 0; i < 100; i++)); do
                child=$(pgrep -P "$np" | head -n 1)
                [ -n "$child" ] && break
                sleep 0.05
        done
        if [ -z "$child" ]; then kill "$np" 2>/dev/null; wait "$np"; return 125; fi
        # The leader sits in ROOT/init.scope of each hierarchy systemd uses:
        # the unified one (cgroup v2, or hybrid's "unified") and, on hybrid
        # hosts, the name=systemd one.
        while IFS=: read -r _ ctrl path; do
                case "$ctrl" in
                "") mnt=/sys/fs/cgroup
                    [ -d /sys/fs/cgroup/unified ] && mnt=/sys/fs/cgroup/unified ;;
                name=systemd) mnt=/sys/fs/cgroup/systemd ;;
                *) continue ;;
                esac
                echo "$child" >"$mnt${path%/init.scope}$cg/cgroup.procs"
        done <"/proc/$c/cgroup"
        : >"/proc/$c/root/run/nspawn-go-$token"
        wait "$np"
}

# nspawn_sh NAME 'shell line': the line run by /bin/sh -c inside.
nspawn_sh() {
        local name=$1; shift
        nspawn_exec "$name" /bin/sh -c "$*"
}

# nspawn_wait NAME TIMEOUT 'shell line': retries the line every 0.2 s until
# it succeeds (0) or TIMEOUT seconds pass (1).
nspawn_wait() {
        local name=$1 timeout=$2 i; shift 2
        for ((i = 0; i < timeout * 5; i++)); do
                nspawn_sh "$name" "$*" >/dev/null 2>&1 && return 0
                sleep 0.2
        done
        return 1
}

# Stops a container: clean poweroff, then SIGTERM, then SIGKILL to the
# systemd-nspawn PID this shell started.
nspawn_stop() {
        local name=$1 pid i run
        pid=${NSPAWN_PID[$name]:-}
        [ -n "$pid" ] || return 0
        run=$NSPAWN_RUN_DIR
        if kill -0 "$pid" 2>/dev/null; then
                nspawn_exec "$name" systemctl --no-block poweroff >/dev/null 2>&1
                for ((i = 0; i < NSPAWN_TIMEOUT * 10; i++)); do
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.1
                done
        fi
        if kill -0 "$pid" 2>/dev/null; then
                nspawn_log "$name: no clean poweroff, sending SIGTERM to $pid"
                kill -TERM "$pid" 2>/dev/null
                for ((i = 0; i < 100; i++)); do
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.1
                done
        fi
        if kill -0 "$pid" 2>/dev/null; then
                nspawn_log "$name: sending SIGKILL to $pid"
                kill -KILL "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
        unset 'NSPAWN_PID[$name]'
        rm -f "$run/$name.pid"
        return 0
}

# Stops every container and deletes every netns this shell created.
nspawn_cleanup() {
        local name ns
        for name in "${!NSPAWN_PID[@]}"; do nspawn_stop "$name"; done
        for ns in "${NSPAWN_NETNS[@]}"; do nspawn_netns_delete "$ns"; done
        if [ -n "$NSPAWN_RUN_DIR" ] && [ -z "${NSPAWN_KEEP_LOGS:-}" ]; then
                rm -rf "$NSPAWN_RUN_DIR"
                NSPAWN_RUN_DIR=
        fi
}
