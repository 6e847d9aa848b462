# shellcheck shell=bash
# A local fleet of real nodes: N systemd-nspawn containers booted from the
# shared cached rootfs (tests/lib/nspawn.sh; read-only, each with its own
# --volatile=overlay tmpfs), each with real systemd, dpkg and apt, the test
# packages from a local apt repository (tests/actions/build-test-packages.sh,
# bound read-only at /repo) and hitless-agent from $BUILD running as a
# Type=notify unit; and one hitless-coordinator from $BUILD. Containers and
# coordinator share ONE private network namespace: they talk over
# 127.0.0.1 without touching the host's ports, and several fleets can
# coexist. hitlessctl runs on the host, through the coordinator's admin
# socket (a path under $FLEET_DIR).
#
# Needs root, $BUILD (hitless-agent, hitless-coordinator, hitlessctl), $TOP
# (the source tree) and what `scripts/install-deps.sh build integration
# nspawn` installs. Source it, then:
#
#   trap fleet_cleanup EXIT             # the caller owns the traps, e.g.
#   trap 'exit 130' INT TERM            # (Ctrl-C then cleans up too)
#   fleet_inventory 'groups = ( ... ); quorum_groups = ( ... );'
#                                       # coordinator.conf lines (optional;
#                                       # later calls rewrite it and SIGHUP)
#   fleet_setup db1:database ctrl1:controller c1:compute,edge ...
#       # NODE:ROLE[,ROLE...]: boots every container (in parallel), installs
#       # the packages at $FLEET_VERSION, writes each node's agent.conf,
#       # generates its key, starts the agent, accepts the keys and waits
#       # until every node is online and healthy. Non-zero (after saying
#       # why, on stderr) when the fleet could not be set up.
#   fleet_ctl ARGS...                   # hitlessctl on the fleet's coordinator
#   fleet_sh NODE 'shell line'          # the line run by /bin/sh -c in NODE
#   fleet_exec NODE CMD [ARGS...]       # CMD in NODE (stdin passed through)
#   fleet_root NODE                     # NODE's / as seen from the host
#   fleet_version NODE PKG              # dpkg-query's version of PKG in NODE
#   fleet_http NODE                     # GET / of NODE's test service
#   fleet_port NODE                     # the port NODE's test service uses
#   fleet_journal_json NODE             # `hitless-agent journal --json` there
#   fleet_node_field NODE FIELD         # FIELD of NODE in `hitlessctl nodes --json`
#   fleet_wait_healthy SECS [NODE...]   # every NODE (default all) online and
#                                       # healthy within SECS
#   fleet_collect DIR                   # the nodes' real state into DIR/NODE.*
#                                       # (versions, hook and unit logs, the
#                                       # vrouter conf, the agent's journal)
#   fleet_stats                         # memory per container (RSS, PSS)
#   fleet_cleanup                       # stops every container (clean
#                                       # poweroff, in parallel), then the
#                                       # coordinator, deletes the netns and
#                                       # $FLEET_DIR; only processes this
#                                       # shell started, by PID
#   fleet_coordinator_kill9, fleet_coordinator_start
#                                       # kill -9 and restart the coordinator
#                                       # (same state and port; at the end)
#
# Every node (container name = hostname = node id):
#   - /etc/hitless/agent.conf: node_id, roles, heartbeat $FLEET_HEARTBEAT,
#     packages $FLEET_PACKAGES, checks svc-unit (hitless-test-svc.service
#     active) and svc-http (GET http://127.0.0.1:PORT/ has "xmpp:
#     Established"), policy: units [hitless-test-svc.service], drain and
#     undrain hooks (/opt/hitless/drain, /opt/hitless/undrain: they log
#     "drain|undrain EPOCH.NS" to /var/log/hitless-test-hooks.log and the
#     node is drained while /var/lib/test-drained exists), endpoints
#     controller, collector and dns in /etc/contrail/contrail-vrouter-agent.conf
#     ([CONTROL-NODE] servers, [DEFAULT] collectors, [DNS] servers), restart
#     timeout $FLEET_RESTART_TIMEOUT; task "mark" (/opt/hitless/mark STAGE,
#     logging "mark STAGE COMMAND_ID EPOCH.NS" to
#     /var/log/hitless-test-steps.log) for plan steps, and task "gate" (a
#     wait_for gate: logs "gate - COMMAND_ID EPOCH.NS" there and fails
#     until /var/lib/test-gate-open exists);
#   - a node with the role controller-new (the ISSU's new controller
#     cluster) also has the unit hitless-test-sync.service in its policy
#     (a run-sync stand-in: logs "sync start|stop - EPOCH.NS" to the
#     steps log, in sync 2 s after it starts), the task "sync-check" (a
#     gate: passes once it is in sync) and the task "issu" (STEP one of
#     pre-sync, post-sync, zk-sync; logs "issu STEP COMMAND_ID EPOCH.NS");
#   - a node with the role openstack-controller has the Neutron plugin's
#     $FLEET_PLUGIN ([APISERVER] api_server_ip=$FLEET_PLUGIN_API,
#     api_server_port=8082) and the endpoint kind api-server (its host);
#   - its test service on 127.0.0.1:PORT, PORT = $FLEET_PORT_BASE + the
#     node's position (all nodes share the netns, hence 127.0.0.1: each has
#     its own port, set in /etc/default/hitless-test-svc), so health is per
#     node;
#   - the agent binary, a copy of $BUILD/hitless-agent taken at setup, and
#     the hooks, bound read-only at /opt/hitless (one copy for all nodes).
#
# The test packages are described in tests/actions/build-test-packages.sh
# (hitless-test-svc 2.0, for one, refuses to run on a node whose vrouter
# conf says agent_mode=tsn).
#
# Variables set: FLEET_DIR (a new temporary directory with everything:
# coordinator config, state and log, the repo, per-node setup logs), FLEET_NS (netns), FLEET_NODES (array, in
# setup order), FLEET_ROLES[NODE], FLEET_PORT[NODE], FLEET_COORD_PID,
# FLEET_SOCK (admin socket), FLEET_ENDPOINT, FLEET_TIMES (what setup took).
#
# Environment:
#   FLEET_PACKAGES        managed and installed packages
#                         (default "hitless-test-svc hitless-test-lib")
#   FLEET_VERSION         version installed at setup (default 1.0)
#   FLEET_NODE_VERSION[NODE]  that node's version instead (an associative
#                         array the caller fills before fleet_setup)
#   FLEET_HEARTBEAT       agents' and coordinator's heartbeat (default 1s)
#   FLEET_PORT_BASE       first test service port (default 18100)
#   FLEET_COORD_PORT      coordinator port in the netns (default 7400)
#   FLEET_RESTART_TIMEOUT agents' policy restart_timeout (default 10s): also
#                         how long a restart waits for health to settle
#   FLEET_TIMEOUT         seconds for boot, enrolment, health (default 120)
#   FLEET_KEEP=1          keep $FLEET_DIR and the container consoles
#   FLEET_QUIET=1         no progress lines on stderr (errors still are)

# shellcheck source=nspawn.sh
. "$TOP/tests/lib/nspawn.sh"

FLEET_PACKAGES=${FLEET_PACKAGES:-hitless-test-svc hitless-test-lib}
FLEET_VERSION=${FLEET_VERSION:-1.0}
FLEET_HEARTBEAT=${FLEET_HEARTBEAT:-1s}
FLEET_PORT_BASE=${FLEET_PORT_BASE:-18100}
FLEET_COORD_PORT=${FLEET_COORD_PORT:-7400}
FLEET_RESTART_TIMEOUT=${FLEET_RESTART_TIMEOUT:-10s}
FLEET_TIMEOUT=${FLEET_TIMEOUT:-120}
FLEET_PY=${FLEET_PY:-/usr/bin/python3}
FLEET_CONF=/etc/hitless/agent.conf
FLEET_AGENT=/opt/hitless/hitless-agent
FLEET_VR=/etc/contrail/contrail-vrouter-agent.conf
FLEET_PLUGIN=/etc/neutron/plugins/opencontrail/ContrailPlugin.ini
FLEET_PLUGIN_API=${FLEET_PLUGIN_API:-10.0.0.11}
FLEET_APT='apt-get -y -q -o Dpkg::Use-Pty=0'

FLEET_DIR=
FLEET_NS=
FLEET_NS_MADE=
FLEET_SOCK=
FLEET_ENDPOINT=
FLEET_COORD_PID=
FLEET_INVENTORY=${FLEET_INVENTORY:-}
FLEET_TIMES=
declare -ga FLEET_NODES=()
declare -gA FLEET_ROLES=()
declare -gA FLEET_PORT=()
declare -gA FLEET_NODE_VERSION=()
[ -n "${FLEET_KEEP:-}" ] && export NSPAWN_KEEP_LOGS=1

fleet_log() { echo "fleet: $*" >&2; }
_fleet_progress() { [ -n "${FLEET_QUIET:-}" ] || echo "fleet: $*" >&2; }
_fleet_ms() { echo $(( $(date +%s%N) / 1000000 )); }
_fleet_secs() { local ms=$(( $(_fleet_ms) - $1 )); printf '%d.%01d' $((ms / 1000)) $((ms % 1000 / 100)); }

# Sets FLEET_DIR once per shell (never call it in $(...)).
_fleet_dir_init() {
        if [ -z "$FLEET_DIR" ]; then
                FLEET_DIR=$(mktemp -d /tmp/hitless-fleet.XXXXXX) || return 1
        fi
        # The container's apt reads /repo as its _apt user.
        chmod 0755 "$FLEET_DIR"
        FLEET_SOCK=$FLEET_DIR/run/admin.sock
        FLEET_NS=${FLEET_NS:-hl-fleet-$$}
}

fleet_ctl() { "$BUILD/hitlessctl" --socket "$FLEET_SOCK" "$@"; }
fleet_exec() { nspawn_exec "$@"; }
fleet_sh() { nspawn_sh "$@"; }
fleet_root() { nspawn_root "$1"; }
fleet_port() { echo "${FLEET_PORT[$1]}"; }
fleet_version() { nspawn_exec "$1" dpkg-query -W -f '${Version}' "$2" 2>/dev/null; }
fleet_journal_json() { nspawn_exec "$1" "$FLEET_AGENT" -c "$FLEET_CONF" journal --json --limit 1000; }

# GET / of NODE's test service, from inside the netns (the containers have
# no HTTP client). Prints the body, or nothing when nothing answers within
# about a second.
fleet_http() { nspawn_netns_http "$FLEET_NS" "${FLEET_PORT[$1]}" 5 2; }

# fleet_node_field NODE FIELD: dicts and lists as JSON, "" when absent.
fleet_node_field() {
        fleet_ctl nodes --json 2>/dev/null | "$FLEET_PY" "$TOP/tests/lib/node_field.py" "$1" "$2" 2>/dev/null
}

# Prints the nodes (of those given) that are not online and healthy.
_fleet_not_healthy() {
        fleet_ctl nodes --json 2>/dev/null | "$FLEET_PY" -c '
import json, sys
try:
    n = {n["node_id"]: n for n in json.load(sys.stdin)["nodes"]}
except Exception:
    n = {}
bad = [x for x in sys.argv[1:] if n.get(x, {}).get("state") != "online" or n.get(x, {}).get("health") != "healthy"]
print(" ".join(bad))' "$@"
}

fleet_wait_healthy() {
        local secs=$1 end bad; shift
        [ $# -gt 0 ] || set -- "${FLEET_NODES[@]}"
        end=$(( $(date +%s) + secs ))
        while :; do
                bad=$(_fleet_not_healthy "$@")
                [ -z "$bad" ] && return 0
                [ "$(date +%s)" -ge "$end" ] && { fleet_log "not online and healthy after ${secs}s: $bad"; return 1; }
                sleep 0.3
        done
}

# ---- coordinator ----------------------------------------------------------

_fleet_coord_conf() {
        mkdir -p "$FLEET_DIR/coord" "$FLEET_DIR/run"
        [ -f "$FLEET_DIR/coord/coordinator.key_secret" ] ||
                "$BUILD/hitlessctl" keys gen "$FLEET_DIR/coord" --name coordinator >/dev/null 2>&1 || return 1
        cat >"$FLEET_DIR/coordinator.conf" <<EOF
# The fleet's coordinator (tests/lib/fleet.sh), in netns $FLEET_NS.
listen = "tcp://127.0.0.1:$FLEET_COORD_PORT";
secret_key_file = "$FLEET_DIR/coord/coordinator.key_secret";
state_dir = "$FLEET_DIR/coord/state";
admin_socket = "$FLEET_SOCK";
heartbeat_interval = "$FLEET_HEARTBEAT";

# Inventory
$FLEET_INVENTORY
EOF
}

# fleet_inventory 'LINES': the inventory part of coordinator.conf. Before
# fleet_setup it is simply used; afterwards the file is rewritten, checked
# and the coordinator reloaded (SIGHUP).
fleet_inventory() {
        FLEET_INVENTORY=$*
        [ -n "$FLEET_DIR" ] && [ -f "$FLEET_DIR/coordinator.conf" ] || return 0
        _fleet_coord_conf || return 1
        local out
        if ! out=$("$BUILD/hitless-coordinator" -c "$FLEET_DIR/coordinator.conf" --check-config 2>&1); then
                fleet_log "coordinator.conf rejected:"; echo "$out" >&2; return 1
        fi
        [ -z "$FLEET_COORD_PID" ] || kill -HUP "$FLEET_COORD_PID"
}

_fleet_start_coordinator() {
        local i out
        _fleet_coord_conf || { fleet_log "cannot write the coordinator's key or config"; return 1; }
        if ! out=$("$BUILD/hitless-coordinator" -c "$FLEET_DIR/coordinator.conf" --check-config 2>&1); then
                fleet_log "coordinator.conf rejected:"; echo "$out" >&2; return 1
        fi
        rm -f "$FLEET_DIR/coord/state/agents.endpoint"
        # ip netns exec execs the program: $! is the coordinator.
        ip netns exec "$FLEET_NS" "$BUILD/hitless-coordinator" -c "$FLEET_DIR/coordinator.conf" \
                >>"$FLEET_DIR/coordinator.log" 2>&1 &
        FLEET_COORD_PID=$!
        for ((i = 0; i < 200; i++)); do
                [ -s "$FLEET_DIR/coord/state/agents.endpoint" ] && [ -S "$FLEET_SOCK" ] && break
                kill -0 "$FLEET_COORD_PID" 2>/dev/null || break
                sleep 0.05
        done
        FLEET_ENDPOINT=$(cat "$FLEET_DIR/coord/state/agents.endpoint" 2>/dev/null)
        if [ -z "$FLEET_ENDPOINT" ]; then
                fleet_log "coordinator did not start:"; tail -n 20 "$FLEET_DIR/coordinator.log" >&2
                return 1
        fi
}

_fleet_coord_pub() { sed -n 's/^ *public-key = "\(.*\)"/\1/p' "$FLEET_DIR/coord/coordinator.key"; }

# ---- nodes ------------------------------------------------------------------

# Files every node shares, bound read-only at /opt/hitless.
_fleet_shared_files() {
        local b=$FLEET_DIR/opt
        mkdir -p "$b"
        install -m 0755 "$BUILD/hitless-agent" "$b/hitless-agent" || return 1
        cat >"$b/drain" <<'EOF'
#!/bin/sh
# Takes the node's traffic away (here: a flag file), logging when.
echo "drain $(date +%s.%N)" >>/var/log/hitless-test-hooks.log
touch /var/lib/test-drained
EOF
        cat >"$b/undrain" <<'EOF'
#!/bin/sh
echo "undrain $(date +%s.%N)" >>/var/log/hitless-test-hooks.log
rm -f /var/lib/test-drained
EOF
        # A task of the policy (plan pre/post steps): logs its stage.
        cat >"$b/mark" <<'EOF'
#!/bin/sh
echo "mark $1 $HITLESS_COMMAND_ID $(date +%s.%N)" >>/var/log/hitless-test-steps.log
EOF
        # A gate (plan wait_for steps): fails until the test opens it.
        cat >"$b/gate" <<'EOF'
#!/bin/sh
echo "gate - $HITLESS_COMMAND_ID $(date +%s.%N)" >>/var/log/hitless-test-steps.log
[ -e /var/lib/test-gate-open ] || { echo "not in sync yet"; exit 1; }
EOF
        # The ISSU's stand-ins (the role controller-new): a sync service,
        # hitless-test-sync.service, that is "in sync" 2 s after it starts
        # (contrail-issu-run-sync); a gate that passes once it is; the
        # one-shot ISSU steps (pre-sync, post-sync, zk-sync). Each logs
        # what it does to the steps log, with the command id and the time.
        cat >"$b/sync-svc" <<'EOF'
#!/bin/sh
# The service; "sync-svc stopped" is its ExecStopPost (systemd kills every
# process of the unit at stop, even one forked after the signal: a trap in
# the service could not log).
log() { echo "sync $1 - $(date +%s.%N)" >>/var/log/hitless-test-steps.log; }
rm -f /run/test-sync-in-sync
if [ "${1:-}" = stopped ]; then log stop; exit 0; fi
log start
sleep 2
touch /run/test-sync-in-sync
exec sleep infinity
EOF
        cat >"$b/sync-check" <<'EOF'
#!/bin/sh
echo "sync-check - $HITLESS_COMMAND_ID $(date +%s.%N)" >>/var/log/hitless-test-steps.log
[ -e /run/test-sync-in-sync ] || { echo "run-sync is not in sync yet"; exit 1; }
EOF
        cat >"$b/issu" <<'EOF'
#!/bin/sh
echo "issu $1 $HITLESS_COMMAND_ID $(date +%s.%N)" >>/var/log/hitless-test-steps.log
EOF
        cat >"$b/hitless-test-sync.service" <<'EOF'
[Unit]
Description=hitless test ISSU run-sync (tests/lib/fleet.sh)

[Service]
Type=simple
ExecStart=/opt/hitless/sync-svc
ExecStopPost=/opt/hitless/sync-svc stopped
EOF
        chmod 0755 "$b/drain" "$b/undrain" "$b/mark" "$b/gate" "$b/sync-svc" "$b/sync-check" "$b/issu"
        # The packaged unit (same sandbox, KillMode=process), with the binary
        # from $BUILD and Restart=always.
        sed -e "s|^ExecStart=.*|ExecStart=$FLEET_AGENT -c $FLEET_CONF|" \
            -e "s|^ExecReload=/usr/sbin/hitless-agent .*|ExecReload=$FLEET_AGENT --check-config -c $FLEET_CONF|" \
            -e 's|^Restart=.*|Restart=always|' -e 's|^RestartSec=.*|RestartSec=1s|' \
            "$TOP/systemd/hitless-agent.service" >"$b/hitless-agent.service"
}

# _fleet_agent_conf NODE: the node's agent.conf on stdout.
_fleet_agent_conf() {
        local n=$1 roles="" r pkgs="" p units='"hitless-test-svc.service"' tasks="" endpoints=""
        for r in ${FLEET_ROLES[$n]//,/ }; do
                roles+="${roles:+, }\"$r\""
                case $r in
                controller-new)
                        units+=', "hitless-test-sync.service"'
                        tasks=',
            { name = "sync-check"; argv = ["/opt/hitless/sync-check"]; timeout = "10s"; },
            { name = "issu"; argv = ["/opt/hitless/issu", "{step}"]; timeout = "10s";
              params = ( { name = "step"; kind = "enum"; values = ["pre-sync", "post-sync", "zk-sync"]; } ); }' ;;
                openstack-controller)
                        endpoints=',
    { kind = "api-server"; file = "'$FLEET_PLUGIN'"; section = "APISERVER"; key = "api_server_ip";
      port = false; }' ;;
                esac
        done
        for p in $FLEET_PACKAGES; do pkgs+="${pkgs:+, }\"$p\""; done
        cat <<EOF
# hitless-agent configuration of $n (tests/lib/fleet.sh)
node_id = "$n";
roles = [$roles];
heartbeat_interval = "$FLEET_HEARTBEAT";
coordinator = {
  endpoint = "$FLEET_ENDPOINT";
  public_key = "$(_fleet_coord_pub)";
};
package_backend = "apt";
packages = [$pkgs];
checks = (
  { name = "svc-unit"; kind = "unit"; unit = "hitless-test-svc.service"; },
  { name = "svc-http"; kind = "http"; host = "127.0.0.1"; port = ${FLEET_PORT[$n]}; path = "/";
    expect = "xmpp: Established"; timeout = "2s"; }
);
policy = {
  units = [$units];
  drain = { argv = ["/opt/hitless/drain"]; timeout = "30s"; };
  undrain = { argv = ["/opt/hitless/undrain"]; timeout = "30s"; };
  endpoints = (
    { kind = "controller"; file = "$FLEET_VR"; section = "CONTROL-NODE"; key = "servers";
      separator = " "; port = true; },
    { kind = "collector"; file = "$FLEET_VR"; section = "DEFAULT"; key = "collectors";
      separator = " "; port = true; },
    { kind = "dns"; file = "$FLEET_VR"; section = "DNS"; key = "servers";
      separator = " "; port = true; }$endpoints
  );
  restart_timeout = "$FLEET_RESTART_TIMEOUT";
  lock_timeout = "60s";
  tasks = ( { name = "mark"; argv = ["/opt/hitless/mark", "{stage}"]; timeout = "10s";
              params = ( { name = "stage"; kind = "enum"; values = ["before", "pre", "post", "after"]; } ); },
            { name = "gate"; argv = ["/opt/hitless/gate"]; timeout = "10s"; }$tasks );
};
EOF
}

# _fleet_prepare NODE: packages, agent config and key, agent started. Runs
# in a background subshell per node; output goes to its setup log.
_fleet_prepare() {
        local n=$1 root out p pv=""
        root=$(nspawn_root "$n") || { echo "no root"; return 1; }
        # The test service's port, read by its unit (written before install).
        echo "PORT=${FLEET_PORT[$n]}" >"$root/etc/default/hitless-test-svc" || return 1
        for p in $FLEET_PACKAGES; do pv+=" $p=${FLEET_NODE_VERSION[$n]:-$FLEET_VERSION}"; done
        if ! nspawn_sh "$n" "echo 'deb [trusted=yes] file:/repo ./' >/etc/apt/sources.list.d/hitless-test.list &&
                apt-get -q update && $FLEET_APT install$pv"; then
                echo "apt-get install of$pv failed"; return 1
        fi
        # The node's host name (the rootfs's /etc/hostname is the builder's).
        echo "$n" >"$root/etc/hostname" && nspawn_exec "$n" hostname "$n" || return 1
        mkdir -p "$root/etc/hitless" || return 1
        _fleet_agent_conf "$n" >"$root$FLEET_CONF" || return 1
        chown root:root "$root$FLEET_CONF" && chmod 0644 "$root$FLEET_CONF" || return 1
        cp "$FLEET_DIR/opt/hitless-agent.service" "$root/etc/systemd/system/hitless-agent.service" || return 1
        cp "$FLEET_DIR/opt/hitless-test-sync.service" "$root/etc/systemd/system/" || return 1
        if [[ ",${FLEET_ROLES[$n]}," == *,openstack-controller,* ]]; then
                mkdir -p "$root${FLEET_PLUGIN%/*}" &&
                        printf '[APISERVER]\napi_server_ip=%s\napi_server_port=8082\n' "$FLEET_PLUGIN_API" \
                                >"$root$FLEET_PLUGIN" || return 1
        fi
        if out=$(nspawn_exec "$n" ldd "$FLEET_AGENT" 2>&1) && grep -q 'not found' <<<"$out"; then
                echo "the agent lacks libraries in the container:"; echo "$out"; return 1
        fi
        nspawn_exec "$n" "$FLEET_AGENT" -c "$FLEET_CONF" --check-config || { echo "agent config rejected"; return 1; }
        nspawn_exec "$n" "$FLEET_AGENT" -c "$FLEET_CONF" --gen-key || { echo "--gen-key failed"; return 1; }
        if ! nspawn_sh "$n" 'systemctl daemon-reload && systemctl enable --now hitless-agent.service'; then
                echo "starting hitless-agent.service failed:"
                nspawn_sh "$n" 'journalctl -q --no-pager -o cat -u hitless-agent | tail -n 20'
                return 1
        fi
}

# Launches a container without waiting (nspawn_boot waits for each in
# turn); the PID is recorded as nspawn_boot does, so nspawn_stop and
# nspawn_cleanup know it.
_fleet_launch() {
        local name=$1 rootfs=$2 pid; shift 2
        setsid systemd-nspawn -b -D "$rootfs" --register=no --keep-unit \
                --console=pipe -M "$name" --volatile=overlay "$@" \
                </dev/null >"$NSPAWN_RUN_DIR/$name.console" 2>&1 &
        pid=$!
        NSPAWN_PID[$name]=$pid
        echo "$pid" >"$NSPAWN_RUN_DIR/$name.pid"
}

fleet_setup() {
        local spec n i rootfs out t0 t pid failed=0 keys
        local -A prep=()
        local -a new=()
        [ $# -gt 0 ] || { fleet_log "usage: fleet_setup NODE:ROLE[,ROLE...] ..."; return 2; }
        for f in hitless-agent hitless-coordinator hitlessctl; do
                [ -x "$BUILD/$f" ] || { fleet_log "$BUILD/$f missing"; return 1; }
        done
        _fleet_dir_init || return 1
        _nspawn_run_dir_init || return 1
        i=${#FLEET_NODES[@]}
        for spec in "$@"; do
                n=${spec%%:*}
                [[ "$n" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$ ]] || { fleet_log "bad node name '$n'"; return 2; }
                [ -z "${FLEET_ROLES[$n]+x}" ] || { fleet_log "$n given twice"; return 2; }
                FLEET_ROLES[$n]=$([ "$spec" != "$n" ] && echo "${spec#*:}")
                FLEET_PORT[$n]=$((FLEET_PORT_BASE + i))
                FLEET_NODES+=("$n")
                new+=("$n")
                i=$((i + 1))
        done
        # From here on, $@ is the new nodes' names.
        set -- "${new[@]}"

        t0=$(_fleet_ms)
        mkdir -p "$FLEET_DIR/repo" "$FLEET_DIR/setup"
        # Once per fleet (a later fleet_setup adds nodes to the same one).
        if [ ! -s "$FLEET_DIR/repo/Packages" ]; then
                if ! out=$("$TOP/tests/actions/build-test-packages.sh" "$FLEET_DIR/repo" 2>&1); then
                        fleet_log "building the test packages failed: $out"; return 1
                fi
        fi
        if [ ! -x "$FLEET_DIR/opt/hitless-agent" ]; then
                _fleet_shared_files || { fleet_log "cannot stage the agent and hooks"; return 1; }
        fi
        rootfs=$(nspawn_rootfs) || { fleet_log "no container rootfs"; return 1; }
        FLEET_TIMES+="packages+rootfs $(_fleet_secs "$t0")s"
        if [ -z "$FLEET_NS_MADE" ]; then
                nspawn_netns_create "$FLEET_NS" || { fleet_log "cannot create netns $FLEET_NS"; return 1; }
                FLEET_NS_MADE=1
        fi
        [ -n "$FLEET_COORD_PID" ] || _fleet_start_coordinator || return 1

        t=$(_fleet_ms)
        for n in "$@"; do
                _fleet_launch "$n" "$rootfs" --network-namespace-path="/run/netns/$FLEET_NS" \
                        --bind-ro="$FLEET_DIR/repo:/repo" --bind-ro="$FLEET_DIR/opt:/opt/hitless"
        done
        for n in "$@"; do
                if ! nspawn_wait_running "$n" "$NSPAWN_TIMEOUT"; then
                        fleet_log "$n did not boot; console:"; tail -n 30 "$(nspawn_console "$n")" >&2
                        failed=1
                fi
        done
        [ "$failed" = 0 ] || return 1
        FLEET_TIMES+=", boot of $# containers $(_fleet_secs "$t")s"
        _fleet_progress "$# containers booted in $(_fleet_secs "$t")s"

        t=$(_fleet_ms)
        for n in "$@"; do
                _fleet_prepare "$n" >"$FLEET_DIR/setup/$n.log" 2>&1 &
                prep[$n]=$!
        done
        for n in "$@"; do
                if ! wait "${prep[$n]}"; then
                        fleet_log "$n: setup failed:"; tail -n 30 "$FLEET_DIR/setup/$n.log" >&2
                        failed=1
                fi
        done
        [ "$failed" = 0 ] || return 1
        FLEET_TIMES+=", packages and agents $(_fleet_secs "$t")s"
        _fleet_progress "packages ($FLEET_PACKAGES at $FLEET_VERSION) installed, agents started in $(_fleet_secs "$t")s"

        t=$(_fleet_ms)
        for ((i = 0; i < FLEET_TIMEOUT * 5; i++)); do
                keys=$(fleet_ctl keys list --json 2>/dev/null | "$FLEET_PY" -c '
import json, sys
pend = {k["node_id"] for k in json.load(sys.stdin)["keys"] if k["state"] == "pending"}
print(" ".join(n for n in sys.argv[1:] if n not in pend))' "$@" 2>/dev/null)
                [ -z "$keys" ] && break
                sleep 0.2
        done
        if [ -n "$keys" ]; then
                fleet_log "keys never pending: $keys"; fleet_ctl keys list >&2; return 1
        fi
        for n in "$@"; do
                fleet_ctl keys accept "$n" >/dev/null || { fleet_log "keys accept $n failed"; return 1; }
        done
        if ! fleet_wait_healthy "$FLEET_TIMEOUT" "$@"; then
                fleet_ctl nodes >&2
                for n in $(_fleet_not_healthy "$@"); do
                        nspawn_sh "$n" 'systemctl status --no-pager hitless-agent hitless-test-svc; journalctl -q --no-pager -o cat -u hitless-agent | tail -n 20' >&2
                done
                return 1
        fi
        FLEET_TIMES+=", enrolment and health $(_fleet_secs "$t")s, total $(_fleet_secs "$t0")s"
        _fleet_progress "$# nodes enrolled, online and healthy in $(_fleet_secs "$t")s (total $(_fleet_secs "$t0")s)"
}

# fleet_collect DIR: what the nodes themselves say, one file per fact:
#   NODE.versions   "PKG VERSION STATUS" per managed package (dpkg-query)
#   NODE.hooks      the drain/undrain hook log ("drain EPOCH.NS")
#   NODE.svc        hitless-test-svc.service's journal (-o short-unix)
#   NODE.vrouter    /etc/contrail/contrail-vrouter-agent.conf
#   NODE.http       GET / of the node's test service
#   NODE.journal    hitless-agent journal --json
#   NODE.drained    "drained" or "undrained"
#   NODE.steps      the plan steps' log ("mark STAGE ID EPOCH.NS", "gate",
#                   "sync start|stop", "sync-check", "issu STEP")
#   NODE.plugin     an OpenStack controller's plugin config: "mtime
#                   EPOCH.NS", then the file (empty on other nodes)
fleet_collect() {
        local dir=$1 n p
        mkdir -p "$dir" || return 1
        for n in "${FLEET_NODES[@]}"; do
                for p in $FLEET_PACKAGES; do
                        nspawn_exec "$n" dpkg-query -W -f "\${Package} \${Version} \${Status}\n" "$p" 2>&1
                done >"$dir/$n.versions"
                nspawn_sh "$n" 'cat /var/log/hitless-test-hooks.log 2>/dev/null' >"$dir/$n.hooks"
                nspawn_exec "$n" journalctl -q --no-pager -o short-unix -u hitless-test-svc.service >"$dir/$n.svc" 2>&1
                nspawn_exec "$n" cat "$FLEET_VR" >"$dir/$n.vrouter" 2>&1
                fleet_http "$n" >"$dir/$n.http"
                fleet_journal_json "$n" >"$dir/$n.journal" 2>&1
                nspawn_exec "$n" test -e /var/lib/test-drained && echo drained >"$dir/$n.drained" || echo undrained >"$dir/$n.drained"
                nspawn_sh "$n" 'cat /var/log/hitless-test-steps.log 2>/dev/null' >"$dir/$n.steps"
                nspawn_sh "$n" "[ -e $FLEET_PLUGIN ] && stat -c 'mtime %.9Y' $FLEET_PLUGIN && cat $FLEET_PLUGIN" \
                        >"$dir/$n.plugin" 2>&1
        done
}

# fleet_stats: per container, the processes of its PID namespace: count,
# summed RSS and PSS (shared pages split between their users), in MiB.
fleet_stats() {
        local n c ns p sum
        printf '%-12s %6s %9s %9s\n' node procs "RSS MiB" "PSS MiB"
        for n in "${FLEET_NODES[@]}"; do
                c=$(nspawn_leader "$n") || continue
                ns=$(readlink "/proc/$c/ns/pid")
                sum=$(for p in /proc/[0-9]*; do
                        [ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$ns" ] || continue
                        awk '/^Rss:/ { r = $2 } /^Pss:/ { s = $2 } END { print r + 0, s + 0 }' "$p/smaps_rollup" 2>/dev/null
                done | awk '{ n++; r += $1; s += $2 } END { printf "%d %.1f %.1f", n, r / 1024, s / 1024 }')
                # shellcheck disable=SC2086
                printf '%-12s %6s %9s %9s\n' "$n" $sum
        done
}

# Stops the containers (all at once: a clean poweroff each, then
# nspawn_stop's TERM/KILL by PID for any left), then the coordinator, then
# the netns; removes $FLEET_DIR unless FLEET_KEEP.
fleet_cleanup() {
        local n i pid
        for n in "${!NSPAWN_PID[@]}"; do
                nspawn_exec "$n" systemctl --no-block poweroff >/dev/null 2>&1
        done
        for ((i = 0; i < NSPAWN_TIMEOUT * 10; i++)); do
                pid=
                for n in "${!NSPAWN_PID[@]}"; do
                        kill -0 "${NSPAWN_PID[$n]}" 2>/dev/null && { pid=1; break; }
                done
                [ -z "$pid" ] && break
                sleep 0.1
        done
        for n in "${!NSPAWN_PID[@]}"; do nspawn_stop "$n"; done
        if [ -n "$FLEET_COORD_PID" ]; then
                kill -TERM "$FLEET_COORD_PID" 2>/dev/null
                for ((i = 0; i < 50; i++)); do kill -0 "$FLEET_COORD_PID" 2>/dev/null || break; sleep 0.1; done
                kill -KILL "$FLEET_COORD_PID" 2>/dev/null
                wait "$FLEET_COORD_PID" 2>/dev/null
                FLEET_COORD_PID=
        fi
        local consoles=$NSPAWN_RUN_DIR
        nspawn_cleanup
        FLEET_NS_MADE=
        if [ -n "$FLEET_DIR" ]; then
                if [ -n "${FLEET_KEEP:-}" ]; then
                        fleet_log "kept $FLEET_DIR and $consoles"
                else
                        rm -rf "$FLEET_DIR"
                fi
        fi
        FLEET_DIR='' FLEET_NS='' FLEET_SOCK='' FLEET_ENDPOINT='' FLEET_TIMES=''
        FLEET_NODES=() FLEET_ROLES=() FLEET_PORT=() FLEET_NODE_VERSION=()
        return 0
}

# ==== coordinator kill and restart (added for tests/integration/95-upgrade.sh) ====
# fleet_coordinator_kill9       SIGKILL to the coordinator this shell started
#                               (FLEET_COORD_PID, by PID only), reaped
# fleet_coordinator_start       starts it again: same config, state dir and
#                               port, so the agents reconnect by themselves
fleet_coordinator_kill9() {
        [ -n "$FLEET_COORD_PID" ] || { fleet_log "no coordinator to kill"; return 1; }
        kill -KILL "$FLEET_COORD_PID" 2>/dev/null
        wait "$FLEET_COORD_PID" 2>/dev/null
        FLEET_COORD_PID=
        return 0
}

fleet_coordinator_start() {
        [ -z "$FLEET_COORD_PID" ] || { fleet_log "the coordinator runs already (pid $FLEET_COORD_PID)"; return 1; }
        # The dead coordinator's socket file: _fleet_start_coordinator waits
        # for the new one.
        rm -f "$FLEET_SOCK"
        _fleet_start_coordinator
}
# ==== end of the coordinator kill and restart block ====
