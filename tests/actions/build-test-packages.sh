#!/bin/bash
# Builds the test packages for tests/integration/70-agent-actions.sh with
# dpkg-deb (no debhelper: fast), and a local apt repository of them:
#
#   build-test-packages.sh OUTDIR
#
# OUTDIR/*.deb and OUTDIR/Packages (dpkg-scanpackages --multiversion), for
# a sources line `deb [trusted=yes] file:/repo ./` with OUTDIR bound at /repo.
#
#   hitless-test-svc 1.0, 2.0   /usr/bin/hitless-test-svc (tests/actions/
#                               test-svc.c, built with the host's gcc: same
#                               distribution as the container), its unit
#                               (Type=simple, port from PORT= / the
#                               EnvironmentFile /etc/default/hitless-test-svc,
#                               default 18085) and the conffile
#                               /etc/contrail/contrail-vrouter-agent.conf
#                               (0640 root:adm; 2.0 ships a changed one).
#                               postinst: enable, start on install, restart
#                               on upgrade/downgrade (as dh_installsystemd).
#   hitless-test-bad 1.0, 2.0   2.0's postinst fails (exit 1, message on
#                               stderr).
#   hitless-test-slow 1.0, 2.0  2.0's postinst sleeps $SLOW_SECONDS (20), or what
#                               /etc/hitless-test-slow.seconds says.
#   hitless-test-other 1.0      not in the agent's policy.
#   hitless-test-lib 1.0, 2.0   data only (/usr/share/hitless-test-lib/VERSION),
#                               no scripts: a second managed package for the
#                               fleet demo (tests/lib/fleet.sh).
#
# hitless-test-svc 2.0 starts through /usr/lib/hitless-test-svc/start, which
# execs the binary (same PID, same behaviour) unless the node's vrouter conf
# says agent_mode=tsn: TSN mode is gone in 2.0, so after loading for 1 s it
# logs why on stderr and exits 1 (Restart=on-failure, no start limit: the
# unit keeps trying, its http check fails). 1.0 runs anywhere. The fleet demo
# makes one compute a TSN node to show a failed health gate and a rollback.
#
# Every maintainer script appends "PKG VERSION SCRIPT ARGS" to
# /var/log/hitless-test-maint.log, so a test can count how often it ran.
set -eu

out=${1:?usage: build-test-packages.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
SLOW_SECONDS=${SLOW_SECONDS:-20}
arch=$(dpkg --print-architecture)
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/hitless-testpkgs.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The vrouter-agent configuration as contrail ships it (abridged), VERSION
# in a comment; 2.0 adds an option (commented out), as new releases do.
vrouter_conf() {
        cat <<EOF
#
# Vnswad configuration options
# (hitless-test-svc $1)
#

[CONTROL-NODE]
# List of IPAddress:Port of control-nodes separated by space
servers=10.0.0.11:5269 10.0.0.12:5269

[DEFAULT]
# Everything in this section is optional

# IP address and port to be used to connect to collector.
collectors=10.0.0.11:8086 10.0.0.12:8086

# Agent mode : can be vrouter / tsn / tor (default is vrouter)
agent_mode=

# Aging time for flow-records in seconds
# flow_cache_timeout=0

log_file=/var/log/contrail/contrail-vrouter-agent.log
log_level=SYS_NOTICE
log_local=1
xmpp_dns_auth_enable=False
xmpp_auth_enable=False
EOF
        if [ "$1" = 2.0 ]; then
                cat <<'EOF'

# Number of flow records exported per second (new in 2.0)
# flow_export_rate=0
EOF
        fi
        cat <<'EOF'

[DNS]
# List of IPAddress:Port of DNS servers separated by space.
servers=10.0.0.11:53 10.0.0.12:53

[HYPERVISOR]
type=kvm

[NETWORKS]
control_network_ip=10.0.0.21

[VIRTUAL-HOST-INTERFACE]
name=vhost0
ip=10.0.0.21/24
gateway=10.0.0.1
physical_interface=eth1
compute_node_address=10.0.0.21

[SERVICE-INSTANCE]
netns_command=/usr/bin/opencontrail-vrouter-netns
docker_command=/usr/bin/opencontrail-vrouter-docker
EOF
}

# A maintainer script: logs its run, then BODY.
maint() {
        local pkg=$1 ver=$2 script=$3 body=$4
        printf '#!/bin/sh\nset -e\necho "%s %s %s $*" >>/var/log/hitless-test-maint.log\n%s\nexit 0\n' \
                "$pkg" "$ver" "$script" "$body"
}

# pkg NAME VERSION DESCRIPTION: control file and scripts into $d (set by caller).
control() {
        local pkg=$1 ver=$2 desc=$3
        mkdir -p "$d/DEBIAN"
        cat >"$d/DEBIAN/control" <<EOF
Package: $pkg
Version: $ver
Architecture: $arch
Maintainer: hitless tests <hitless-tests@localhost>
Section: misc
Priority: optional
Description: $desc
 Test package for the hitless agent's integration tests.
EOF
}

build() {
        chown -R root:root "$d"
        [ -n "${1:-}" ] && chgrp adm "$d$1" && chmod 0640 "$d$1"
        for s in "$d"/DEBIAN/preinst "$d"/DEBIAN/postinst "$d"/DEBIAN/prerm "$d"/DEBIAN/postrm; do
                [ -f "$s" ] && chmod 0755 "$s"
        done
        dpkg-deb -Zgzip -z1 --build "$d" "$out" >/dev/null
}

for ver in 1.0 2.0; do
        # ---- hitless-test-svc
        d=$work/svc-$ver
        control hitless-test-svc "$ver" "hitless test service (HTTP on 127.0.0.1:18085)"
        mkdir -p "$d/usr/bin" "$d/lib/systemd/system" "$d/etc/contrail"
        gcc -std=c11 -O2 -Wall -Wextra -Werror -DSVC_VERSION="\"$ver\"" \
                -o "$d/usr/bin/hitless-test-svc" "$here/test-svc.c"
        strip "$d/usr/bin/hitless-test-svc"
        start=/usr/bin/hitless-test-svc limit=
        if [ "$ver" = 2.0 ]; then
                start=/usr/lib/hitless-test-svc/start
                limit=$'\nStartLimitIntervalSec=0'
                mkdir -p "$d/usr/lib/hitless-test-svc"
                cat >"$d$start" <<'EOF'
#!/bin/sh
# hitless-test-svc 2.0: TSN mode was removed in 2.0; refuse a node set up
# for it (after loading, as a real service would), run anywhere else.
conf=/etc/contrail/contrail-vrouter-agent.conf
if grep -Eqs '^[[:space:]]*agent_mode[[:space:]]*=[[:space:]]*tsn[[:space:]]*$' "$conf"; then
        sleep 1
        echo "hitless-test-svc 2.0: agent_mode=tsn in $conf is not supported any more (TSN mode was removed in 2.0); not starting" >&2
        exit 1
fi
exec /usr/bin/hitless-test-svc "$@"
EOF
                chmod 0755 "$d$start"
        fi
        cat >"$d/lib/systemd/system/hitless-test-svc.service" <<EOF
[Unit]
Description=hitless test service (answers HTTP GET with its version)$limit

[Service]
Type=simple
Environment=PORT=18085
EnvironmentFile=-/etc/default/hitless-test-svc
ExecStart=$start --port \${PORT}
Restart=on-failure
RestartSec=1s

[Install]
WantedBy=multi-user.target
EOF
        vrouter_conf "$ver" >"$d/etc/contrail/contrail-vrouter-agent.conf"
        echo /etc/contrail/contrail-vrouter-agent.conf >"$d/DEBIAN/conffiles"
        # As dh_installsystemd: enable, start on install, restart on upgrade
        # or downgrade ($2 = the version configured before, if any).
        maint hitless-test-svc "$ver" postinst '
if [ "$1" = configure ]; then
        deb-systemd-helper unmask hitless-test-svc.service >/dev/null || true
        deb-systemd-helper enable hitless-test-svc.service >/dev/null || true
        systemctl --system daemon-reload >/dev/null || true
        if [ -n "$2" ]; then action=restart; else action=start; fi
        deb-systemd-invoke $action hitless-test-svc.service
fi' >"$d/DEBIAN/postinst"
        maint hitless-test-svc "$ver" prerm '
if [ "$1" = remove ]; then deb-systemd-invoke stop hitless-test-svc.service || true; fi' >"$d/DEBIAN/prerm"
        maint hitless-test-svc "$ver" postrm '
if [ "$1" = purge ]; then deb-systemd-helper purge hitless-test-svc.service >/dev/null || true; fi
systemctl --system daemon-reload >/dev/null 2>&1 || true' >"$d/DEBIAN/postrm"
        build /etc/contrail/contrail-vrouter-agent.conf

        # ---- hitless-test-bad
        d=$work/bad-$ver
        control hitless-test-bad "$ver" "hitless test package (2.0's postinst fails)"
        mkdir -p "$d/usr/share/hitless-test-bad"
        echo "$ver" >"$d/usr/share/hitless-test-bad/VERSION"
        if [ "$ver" = 2.0 ]; then
                maint hitless-test-bad "$ver" postinst '
echo "hitless-test-bad: postinst failed on purpose: cannot migrate the flow database (test)" >&2
exit 1' >"$d/DEBIAN/postinst"
        else
                maint hitless-test-bad "$ver" postinst ':' >"$d/DEBIAN/postinst"
        fi
        build

        # ---- hitless-test-slow
        d=$work/slow-$ver
        control hitless-test-slow "$ver" "hitless test package (2.0's postinst is slow)"
        mkdir -p "$d/usr/share/hitless-test-slow"
        echo "$ver" >"$d/usr/share/hitless-test-slow/VERSION"
        if [ "$ver" = 2.0 ]; then
                # /etc/hitless-test-slow.seconds overrides the duration (a
                # test repairing the node sets 0).
                maint hitless-test-slow "$ver" postinst "
s=$SLOW_SECONDS
[ -r /etc/hitless-test-slow.seconds ] && s=\$(cat /etc/hitless-test-slow.seconds)
echo \"hitless-test-slow: migrating, this takes \$s s\"
sleep \"\$s\"
echo 'hitless-test-slow: done'" >"$d/DEBIAN/postinst"
        else
                maint hitless-test-slow "$ver" postinst ':' >"$d/DEBIAN/postinst"
        fi
        build
done

# ---- hitless-test-lib (data only)
for ver in 1.0 2.0; do
        d=$work/lib-$ver
        control hitless-test-lib "$ver" "hitless test package (data only)"
        mkdir -p "$d/usr/share/hitless-test-lib"
        echo "$ver" >"$d/usr/share/hitless-test-lib/VERSION"
        build
done

# ---- hitless-test-other (not in the policy)
d=$work/other-1.0
control hitless-test-other 1.0 "hitless test package outside the agent's policy"
mkdir -p "$d/usr/share/hitless-test-other"
echo 1.0 >"$d/usr/share/hitless-test-other/VERSION"
maint hitless-test-other 1.0 postinst ':' >"$d/DEBIAN/postinst"
build

(cd "$out" && dpkg-scanpackages --multiversion . /dev/null >Packages 2>/dev/null)
chmod -R a+rX "$out"
