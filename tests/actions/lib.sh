# shellcheck shell=bash
# One real node for the agent's actions: a systemd-nspawn container (real
# systemd, real dpkg/apt) running hitless-agent from $BUILD as a Type=notify
# unit, enrolled with a coordinator from $BUILD that runs on the host. Both
# sit in a private network namespace (the container joins it; the
# coordinator is started in it with `ip netns exec`), so they talk over
# 127.0.0.1 without touching the host's ports and several runs can coexist.
#
# Source tests/lib/itest.sh first (T, PIDS, check, wait_for, ctl, finish),
# then this file, then:
#
#   act_setup                    # packages, repo, container, agent, enrolment
#   act_sh 'shell line'          # runs the line in the node (stdout/stderr)
#   act_exec CMD ARGS...         # runs CMD in the node
#   act_http                     # GET / of the test service (from the netns)
#   act_node_field FIELD         # a field of the node in `hitlessctl nodes --json`
#   act_journal_json             # `hitless-agent journal --json` in the node
#
# Names: container and node id $ACT_NODE (hl-act), netns $ACT_NS. The test
# service listens on 127.0.0.1:$ACT_SVC_PORT inside the netns.
# Environment: ACT_KEEP=1 keeps the container logs ($NSPAWN_RUN_DIR) and $T.

# shellcheck source=../lib/nspawn.sh
. "$TOP/tests/lib/nspawn.sh"

ACT_NODE=${ACT_NODE:-hl-act}
ACT_NS=hl-act-$$
ACT_SVC_PORT=${ACT_SVC_PORT:-18085}
ACT_CONF=/etc/hitless/agent.conf
ACT_AGENT=/opt/hitless/hitless-agent
ACT_APT='apt-get -y -q -o Dpkg::Use-Pty=0'
ACT_HEARTBEAT=${ACT_HEARTBEAT:-1s}
[ -n "${ACT_KEEP:-}" ] && export NSPAWN_KEEP_LOGS=1 KEEP_T=1

act_log() { echo "actions: $*" >&2; }

# Stops the container before the coordinator, then the netns (whose only
# processes are ours: the container's and the coordinator's).
act_cleanup() {
        local name
        for name in "${!NSPAWN_PID[@]}"; do nspawn_stop "$name"; done
        [ -n "${ACT_KEEP:-}" ] && echo "actions: kept $T and $NSPAWN_RUN_DIR"
        cleanup              # itest.sh: coordinator and other PIDS, $T
        nspawn_cleanup
}
trap act_cleanup EXIT
trap 'exit 130' INT TERM

act_exec() { nspawn_exec "$ACT_NODE" "$@"; }
act_sh() { nspawn_sh "$ACT_NODE" "$@"; }
act_root() { nspawn_root "$ACT_NODE"; }

# The coordinator (itest.sh's config and layout), in the netns.
act_start_coordinator() {
        COORD_PORT=${COORD_PORT:-7400}
        [ -f "$T/coordinator.conf" ] || write_coordinator_config
        rm -f "$T/coord/state/agents.endpoint"
        # ip netns exec execs the program: $! is the coordinator.
        ip netns exec "$ACT_NS" "$BUILD/hitless-coordinator" -c "$T/coordinator.conf" \
                >>"$T/coordinator.log" 2>&1 &
        COORD_PID=$!
        PIDS+=("$COORD_PID")
        local i
        for i in $(seq 100); do
                [ -s "$T/coord/state/agents.endpoint" ] && [ -S "$T/run/admin.sock" ] && break
                sleep 0.05
        done
        ENDPOINT=$(cat "$T/coord/state/agents.endpoint" 2>/dev/null)
        [ -n "$ENDPOINT" ]
}

# GET / of the test service, from inside the netns; retries for up to 5 s.
act_http() { nspawn_netns_http "$ACT_NS" "$ACT_SVC_PORT" 25 3; }

# act_node_field FIELD: the node's FIELD in `hitlessctl nodes --json`
# (dicts and lists as JSON).
act_node_field() {
        ctl nodes --json 2>/dev/null | "$PY" "$TOP/tests/lib/node_field.py" "$ACT_NODE" "$1" 2>/dev/null
}

act_journal_json() { act_exec "$ACT_AGENT" -c "$ACT_CONF" journal --json; }

act_online_healthy() {
        [ "$(act_node_field state)" = online ] && [ "$(act_node_field health)" = healthy ]
}

act_write_agent_files() {
        local root=$1 pub=$2
        mkdir -p "$root/opt/hitless" "$root/opt/hitless-test" "$root/etc/hitless"
        install -m 0755 "$BUILD/hitless-agent" "$root$ACT_AGENT"
        # Drain hooks: the node is drained while /var/lib/test-drained exists.
        cat >"$root/opt/hitless-test/drain" <<'EOF'
#!/bin/sh
echo "drain $(date +%s.%N)" >>/var/log/hitless-test-hooks.log
touch /var/lib/test-drained
EOF
        cat >"$root/opt/hitless-test/undrain" <<'EOF'
#!/bin/sh
echo "undrain $(date +%s.%N)" >>/var/log/hitless-test-hooks.log
rm -f /var/lib/test-drained
EOF
        # Tasks: each run is a line in /var/log/hitless-test-tasks.log; the
        # sync "service" is the file /var/lib/hitless-test-sync.
        cat >"$root/opt/hitless-test/task" <<'EOF'
#!/bin/sh
echo "$1 $2 $HITLESS_COMMAND_ID undo=$HITLESS_UNDO" >>/var/log/hitless-test-tasks.log
case $1 in
  sync-start) echo "$2" >/var/lib/hitless-test-sync ;;
  sync-stop) rm -f /var/lib/hitless-test-sync ;;
esac
EOF
        cat >"$root/opt/hitless-test/in-sync" <<'EOF'
#!/bin/sh
test -e /var/lib/hitless-test-sync || { echo "not in sync: no sync running"; exit 1; }
EOF
        chmod 0755 "$root/opt/hitless-test/drain" "$root/opt/hitless-test/undrain" \
                "$root/opt/hitless-test/task" "$root/opt/hitless-test/in-sync"
        local vr=/etc/contrail/contrail-vrouter-agent.conf
        cat >"$root$ACT_CONF" <<EOF
# hitless-agent configuration for tests/integration/70-agent-actions.sh
node_id = "$ACT_NODE";
roles = ["compute"];
heartbeat_interval = "$ACT_HEARTBEAT";
coordinator = {
  endpoint = "$ENDPOINT";
  public_key = "$pub";
};
package_backend = "apt";
packages = ["hitless-test-svc", "hitless-test-bad", "hitless-test-slow"];
checks = (
  { name = "svc-unit"; kind = "unit"; unit = "hitless-test-svc.service"; },
  { name = "svc-http"; kind = "http"; host = "127.0.0.1"; port = $ACT_SVC_PORT; path = "/";
    expect = "xmpp: Established"; timeout = "2s"; }
);
policy = {
  units = ["hitless-test-svc.service"];
  drain = { argv = ["/opt/hitless-test/drain"]; timeout = "30s"; };
  undrain = { argv = ["/opt/hitless-test/undrain"]; timeout = "30s"; };
  endpoints = (
    { kind = "controller"; file = "$vr"; section = "CONTROL-NODE"; key = "servers";
      separator = " "; port = true; },
    { kind = "collector"; file = "$vr"; section = "DEFAULT"; key = "collectors";
      separator = " "; port = true; },
    { kind = "dns"; file = "$vr"; section = "DNS"; key = "servers";
      separator = " "; port = true; }
  );
  lock_timeout = "60s";
  tasks = (
    { name = "sync-start"; argv = ["/opt/hitless-test/task", "sync-start", "{peers}"];
      changes = true; undo = "sync-stop"; timeout = "30s";
      params = ( { name = "peers"; kind = "endpoints"; } ); },
    { name = "sync-stop"; argv = ["/opt/hitless-test/task", "sync-stop", "{peers}"];
      changes = true; timeout = "30s";
      params = ( { name = "peers"; kind = "endpoints"; } ); },
    { name = "in-sync"; argv = ["/opt/hitless-test/in-sync"]; timeout = "10s"; },
    { name = "post-sync"; argv = ["/opt/hitless-test/task", "post-sync", "-"]; changes = true; }
  );
};
EOF
        chown root:root "$root$ACT_CONF"
        chmod 0644 "$root$ACT_CONF"
        # The packaged unit (same sandbox, KillMode=process), with the binary
        # from $BUILD and Restart=always so a SIGKILL brings it back.
        sed -e "s|^ExecStart=.*|ExecStart=$ACT_AGENT -c $ACT_CONF|" \
            -e "s|^ExecReload=/usr/sbin/hitless-agent .*|ExecReload=$ACT_AGENT --check-config -c $ACT_CONF|" \
            -e 's|^Restart=.*|Restart=always|' -e 's|^RestartSec=.*|RestartSec=1s|' \
            "$TOP/systemd/hitless-agent.service" >"$root/etc/systemd/system/hitless-agent.service"
        grep -q '^Type=notify' "$root/etc/systemd/system/hitless-agent.service" &&
                grep -q '^Restart=always' "$root/etc/systemd/system/hitless-agent.service"
}

# Everything up to an enrolled, healthy node. Returns non-zero (after
# saying why) when the node could not be set up: the caller stops there.
act_setup() {
        local rootfs root pub out
        "$TOP/scripts/install-deps.sh" build integration nspawn || return 1
        for f in hitless-agent hitless-coordinator hitlessctl; do
                [ -x "$BUILD/$f" ] || { act_log "$BUILD/$f missing"; return 1; }
        done
        mkdir -p "$T/repo"
        if ! out=$("$TOP/tests/actions/build-test-packages.sh" "$T/repo" 2>&1); then
                act_log "building the test packages failed: $out"; return 1
        fi
        chmod a+rx "$T"
        rootfs=$(nspawn_rootfs) || { act_log "no container rootfs"; return 1; }
        nspawn_netns_create "$ACT_NS" || { act_log "cannot create netns $ACT_NS"; return 1; }
        act_start_coordinator || { act_log "coordinator did not start"; tail "$T/coordinator.log" >&2; return 1; }
        nspawn_boot "$ACT_NODE" "$rootfs" --network-namespace-path="/run/netns/$ACT_NS" \
                --bind-ro="$T/repo:/repo" || return 1
        root=$(act_root) || return 1
        # The test service's port, read by its unit (before it is installed).
        echo "PORT=$ACT_SVC_PORT" >"$root/etc/default/hitless-test-svc"
        if ! out=$(act_sh "echo 'deb [trusted=yes] file:/repo ./' >/etc/apt/sources.list.d/hitless-test.list &&
                apt-get -q update && $ACT_APT install hitless-test-svc=1.0 hitless-test-bad=1.0 hitless-test-slow=1.0" 2>&1); then
                act_log "apt-get install of the 1.0 packages failed:"; echo "$out" >&2; return 1
        fi
        pub=$(coordinator_public_key)
        act_write_agent_files "$root" "$pub" || { act_log "writing the agent's files failed"; return 1; }
        if out=$(act_exec ldd "$ACT_AGENT" 2>&1) && grep -q 'not found' <<<"$out"; then
                act_log "the agent lacks libraries in the container:"; echo "$out" >&2; return 1
        fi
        if ! out=$(act_exec "$ACT_AGENT" -c "$ACT_CONF" --check-config 2>&1); then
                act_log "agent config rejected:"; echo "$out" >&2; return 1
        fi
        act_exec "$ACT_AGENT" -c "$ACT_CONF" --gen-key >/dev/null || { act_log "--gen-key failed"; return 1; }
        if ! out=$(act_sh 'systemctl daemon-reload && systemctl enable --now hitless-agent.service' 2>&1); then
                act_log "starting hitless-agent.service failed:"; echo "$out" >&2
                act_sh 'journalctl -q --no-pager -o cat -u hitless-agent | tail -n 20' >&2
                return 1
        fi
        local i
        for ((i = 0; i < 150; i++)); do
                [ "$(ctl keys list --json 2>/dev/null | "$PY" -c '
import json, sys
print(",".join(k["state"] for k in json.load(sys.stdin)["keys"] if k["node_id"] == sys.argv[1]))' "$ACT_NODE")" = pending ] && break
                sleep 0.2
        done
        ctl keys accept "$ACT_NODE" >/dev/null || { act_log "key of $ACT_NODE never pending"; ctl keys list >&2; return 1; }
        for ((i = 0; i < 150; i++)); do
                act_online_healthy && return 0
                sleep 0.2
        done
        act_log "$ACT_NODE not online and healthy:"
        ctl nodes >&2
        act_sh 'systemctl status --no-pager hitless-agent hitless-test-svc; journalctl -q --no-pager -o cat -u hitless-agent | tail -n 20' >&2
        return 1
}
