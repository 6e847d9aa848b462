#!/bin/bash
# The programs' command-line contract: --help, --version, --check-config
# with errors naming file, line and key; exit codes; key file protection.
. "$TOP/tests/lib/itest.sh"

version=$(cat "$TOP/VERSION")
for p in hitless-agent hitless-coordinator hitlessctl; do
  check "$p --version" bash -c "'$BUILD/$p' --version | grep -qx '$p $version'"
  check "$p --help" bash -c "'$BUILD/$p' --help | grep -q -- '-c, --config'"
  check "$p with a bad option exits 2" bash -c "'$BUILD/$p' --no-such-option >/dev/null 2>&1; [ \$? -eq 2 ]"
done

# Every command answers --help like the program does: usage on stdout,
# nothing on stderr, exit 0 (the commands are the ones --help lists).
cmds=$("$BUILD/hitlessctl" --help | sed -n 's/^  hitlessctl \([a-z]*\).*/\1/p' | sort -u)
check "hitlessctl --help lists the commands" test "$(wc -w <<<"$cmds")" -ge 14
for c in $cmds "keys gen" "keys accept" "plan check" "upgrade status" "install n1 p=1"; do
  # shellcheck disable=SC2086
  check "hitlessctl $c --help: usage on stdout, exit 0" bash -c \
    "out=\$('$BUILD/hitlessctl' $c --help 2>'$T/help.err') && [ ! -s '$T/help.err' ] &&
     grep -q '^usage: hitlessctl ${c%% *}' <<<\"\$out\""
done
check "hitlessctl keys -h too" bash -c "'$BUILD/hitlessctl' keys -h | grep -q '^ *hitlessctl keys gen DIR'"
check "keys gen --json prints the key and its files as JSON" bash -c \
  "'$BUILD/hitlessctl' keys gen '$T/json-key' --name n1 --json 2>/dev/null | $PY -c '
import json, sys
d = json.load(sys.stdin)
assert len(d[\"public_key\"]) == 40, d
assert d[\"public_key_file\"] == sys.argv[1] + \"/n1.key\" and d[\"secret_key_file\"] == sys.argv[1] + \"/n1.key_secret\", d
' '$T/json-key'"

# A valid pair of configs.
write_coordinator_config
check "coordinator --check-config accepts a valid config" \
  "$BUILD/hitless-coordinator" -c "$T/coordinator.conf" --check-config

cat > "$T/bad-coord.conf" <<'CONF'
listen = "tcp://127.0.0.1:7400";
heartbeat_interval = "5 parsecs";
no_such_key = 1;
node_timeout = 2;
CONF
out=$("$BUILD/hitless-coordinator" -c "$T/bad-coord.conf" --check-config 2>&1); rc=$?
check "invalid coordinator config exits 2" [ $rc -eq 2 ]
check "error names file, line and key (heartbeat_interval)" grep -q "bad-coord.conf:2: heartbeat_interval: must be a duration" <<<"$out"
check "unknown keys are errors (no_such_key)" grep -q "bad-coord.conf:3: no_such_key: unknown key" <<<"$out"

cat > "$T/bad-syntax.conf" <<'CONF'
listen = "tcp://127.0.0.1:7400"
admin_socket = ;
CONF
out=$("$BUILD/hitless-coordinator" -c "$T/bad-syntax.conf" --check-config 2>&1); rc=$?
check "a syntax error exits 2 and names the line" bash -c "[ $rc -eq 2 ] && grep -q 'bad-syntax.conf:2: syntax error' <<<'$out'"
check "... once: libconfig's 'syntax error' is not repeated" bash -c "grep -qx '$T/bad-syntax.conf:2: syntax error' <<<'$out'"

printf 'max_nodes = 10;\nlisten = "tcp://*:notaport";\n' > "$T/bad-listen.conf"
out=$("$BUILD/hitless-coordinator" -c "$T/bad-listen.conf" --check-config 2>&1); rc=$?
check "a listen endpoint libzmq cannot bind is refused (exit 2, file, line, key)" bash -c \
  "[ $rc -eq 2 ] && grep -qF \"bad-listen.conf:2: listen: '*:notaport': port is not a decimal number\" <<<\"\$1\"" _ "$out"

out=$("$BUILD/hitless-coordinator" -c "$T/missing.conf" --check-config 2>&1); rc=$?
check "a missing config is one clear line, exit 2" bash -c "[ $rc -eq 2 ] && [ \$(wc -l <<<'$out') -eq 1 ] && grep -q 'missing.conf: cannot read config file: No such file' <<<'$out'"

mkdir -p "$T/a"
cat > "$T/a/agent.conf" <<CONF
node_id = "n1";
secret_key_file = "$T/a/agent.key_secret";
checks = (
  { name = "db"; kind = "tcp"; host = "127.0.0.1"; port = 99999; },
  { name = "x"; kind = "exec"; argv = ["relative/path"]; },
  { name = "svc"; kind = "unit"; }
);
coordinator = { endpoint = "udp://x"; };
CONF
chmod 644 "$T/a/agent.conf"
out=$("$BUILD/hitless-agent" -c "$T/a/agent.conf" --check-config 2>&1); rc=$?
check "invalid agent config exits 2" [ $rc -eq 2 ]
check "agent error: port out of range, with its path" grep -q "agent.conf:4: checks.\[0\].port: 99999 is out of range" <<<"$out"
check "agent error: exec program must be absolute" grep -q "checks.\[1\].argv: the program must be an absolute path" <<<"$out"
check "agent error: unit check without unit" grep -q "checks.\[2\].unit: missing (required)" <<<"$out"
check "agent error: endpoint scheme" grep -q "coordinator.endpoint: must be tcp://HOST:PORT" <<<"$out"

printf 'node_id = "n1";\nsecret_key_file = "%s/a/agent.key_secret";\n' "$T" > "$T/a/agent.conf"
chmod 666 "$T/a/agent.conf"
out=$("$BUILD/hitless-agent" -c "$T/a/agent.conf" --check-config 2>&1); rc=$?
check "a world-writable agent config (its policy) is refused" bash -c "[ $rc -eq 2 ] && grep -q 'writable by group or others' <<<'$out'"
chmod 644 "$T/a/agent.conf"
check "agent without coordinator settings is a valid config" "$BUILD/hitless-agent" -c "$T/a/agent.conf" --check-config

# The example agent configurations the package installs are valid.
for f in "$TOP"/packaging/examples/*-agent.conf; do
  check "example $(basename "$f") passes --check-config" "$BUILD/hitless-agent" -c "$f" --check-config
done

# Keys.
check "agent --gen-key writes a key pair" bash -c "'$BUILD/hitless-agent' -c '$T/a/agent.conf' --gen-key | grep -qE '^.{40}$'"
check "the secret key file is mode 0600" bash -c "[ \$(stat -c %a '$T/a/agent.key_secret') = 600 ]"
check "--gen-key never overwrites (exit 1)" bash -c "'$BUILD/hitless-agent' -c '$T/a/agent.conf' --gen-key 2>/dev/null; [ \$? -eq 1 ]"
check "keys gen refuses to overwrite too" bash -c "'$BUILD/hitlessctl' keys gen '$T/coord' --name coordinator 2>/dev/null; [ \$? -eq 1 ]"
chmod 0640 "$T/a/agent.key_secret"
out=$("$BUILD/hitless-agent" -c "$T/a/agent.conf" 2>&1); rc=$?
check "a group-readable secret key is refused, exit 1" bash -c "[ $rc -eq 1 ] && grep -q 'readable by group or others' <<<'$out'"
rm "$T/a/agent.key_secret"
out=$("$BUILD/hitless-agent" -c "$T/a/agent.conf" 2>&1); rc=$?
check "a missing secret key is one clear line" bash -c "[ $rc -eq 1 ] && [ \$(wc -l <<<'$out') -eq 1 ] && grep -q 'cannot load secret key' <<<'$out'"

# hitlessctl exit codes.
"$BUILD/hitlessctl" --socket "$T/nowhere.sock" nodes >/dev/null 2>&1
check "coordinator unreachable exits 3" [ $? -eq 3 ]
"$BUILD/hitlessctl" --socket "$T/nowhere.sock" frobnicate >/dev/null 2>&1
check "unknown command exits 2" [ $? -eq 2 ]
"$BUILD/hitlessctl" -c "$T/missing.conf" nodes >/dev/null 2>&1
check "missing coordinator config exits 2" [ $? -eq 2 ]
# admin_socket in a shared directory: refused, and the directory left as it was.
mkdir -p "$T/shared" && chmod 1777 "$T/shared"
write_coordinator_config
sed -i "s|^admin_socket = .*|admin_socket = \"$T/shared/admin.sock\";|" "$T/coordinator.conf"
out=$(timeout 20 "$BUILD/hitless-coordinator" -c "$T/coordinator.conf" 2>&1); rc=$?
check "admin_socket in a 1777 directory: the coordinator refuses to start" bash -c "[ $rc -ne 0 ] && [ $rc -ne 124 ]"
check "the refusal names the directory and why" grep -q "admin_socket directory $T/shared is a sticky shared directory" <<<"$out"
check "the shared directory keeps mode 1777" bash -c "[ \$(stat -c %a '$T/shared') = 1777 ]"
check "no socket was created there" test ! -e "$T/shared/admin.sock"
rm -f "$T/coordinator.conf"

start_coordinator
check "admin socket directory is mode 0750" bash -c "[ \$(stat -c %a '$T/run') = 750 ]"
check "nodes on an empty fleet" bash -c "ctl nodes | grep -q '^0 nodes'"
check "nodes --json on an empty fleet" bash -c "[ \"\$(ctl nodes --json)\" = '{\"nodes\":[]}' ]"
ctl keys accept >/dev/null 2>&1
check "keys accept without a node exits 2" [ $? -eq 2 ]

# hitlessctl with its built-in defaults, in a private mount namespace:
# /etc/hitless/coordinator.conf is $T/default.conf (on an overlay of /etc,
# its writes kept in $T) with mode MODE, and /run/hitless is the running
# coordinator's $T/run. ctl_defaults MODE CMD...: CMD's stderr and stdout
# in $out, its exit status in $rc.
mkdir -p "$T/ns/up" "$T/ns/wk"
ctl_defaults() {
  out=$(unshare -m --propagation private bash -c '
    mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/ns/up,workdir=$1/ns/wk" /etc &&
      mkdir -p /etc/hitless && cp "$1/default.conf" /etc/hitless/coordinator.conf &&
      chmod "$2" /etc/hitless/coordinator.conf &&
      mount -t tmpfs tmpfs /run && mkdir /run/hitless && mount --bind "$1/run" /run/hitless || exit 99
    shift 2; exec "$@"' _ "$T" "$@" 2>&1)
  rc=$?
}
printf 'admin_socket = ;\n' > "$T/default.conf"
ctl_defaults 0644 "$BUILD/hitlessctl" nodes
if [ $rc -eq 99 ]; then
  echo "skipped: the default-config checks need unshare and overlayfs: $out"
else
  check "a broken default config: the default admin socket, with a warning naming the problem" bash -c \
    "[ $rc -eq 0 ] && grep -q '^0 nodes' <<<\"\$1\" &&
     grep -q '^hitlessctl: warning: /etc/hitless/coordinator.conf:1: syntax error' <<<\"\$1\" &&
     grep -qx 'hitlessctl: warning: using the default admin socket /run/hitless/admin.sock' <<<\"\$1\"" _ "$out"
  # hitlessctl reads only admin_socket: the rest of the file is the
  # coordinator's to validate (--check-config), so it does not warn.
  printf 'admin_socket = "%s/run/admin.sock";\nno_such_key = 1;\n' "$T" > "$T/default.conf"
  ctl_defaults 0644 "$BUILD/hitlessctl" nodes
  check "a default config with a key unknown to the coordinator: its admin_socket, silently" bash -c \
    "[ $rc -eq 0 ] && grep -q '^0 nodes' <<<\"\$1\" && ! grep -q warning <<<\"\$1\"" _ "$out"
  printf '\nadmin_socket = "run/admin.sock";\n' > "$T/default.conf"
  ctl_defaults 0644 "$BUILD/hitlessctl" nodes
  check "a relative admin_socket in the default config: the default socket, with a warning naming line and key" bash -c \
    "[ $rc -eq 0 ] && grep -q '^0 nodes' <<<\"\$1\" &&
     grep -qx 'hitlessctl: warning: /etc/hitless/coordinator.conf:2: admin_socket: must be an absolute path' <<<\"\$1\" &&
     grep -qx 'hitlessctl: warning: using the default admin socket /run/hitless/admin.sock' <<<\"\$1\"" _ "$out"
  # Neither the config (0600 root) nor /run/hitless (0750 root) is open
  # to a user outside the hitless group.
  ctl_defaults 0600 setpriv --reuid=65534 --regid=65534 --clear-groups "$BUILD/hitlessctl" nodes
  check "an unreadable default config and socket: a warning, then 'run as root or a member of the hitless group', exit 3" bash -c \
    "[ $rc -eq 3 ] &&
     grep -q '^hitlessctl: warning: /etc/hitless/coordinator.conf: cannot read config file: Permission denied' <<<\"\$1\" &&
     grep -q 'coordinator unreachable: /run/hitless/admin.sock: Permission denied (run as root or a member of the hitless group)' <<<\"\$1\"" _ "$out"
fi
"$BUILD/hitlessctl" -c "$T/default.conf" nodes >/dev/null 2>&1
check "a config named with -c must be valid: no guessing, exit 2" [ $? -eq 2 ]
finish
