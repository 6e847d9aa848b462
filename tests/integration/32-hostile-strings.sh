#!/bin/bash
# Hostile strings from an accepted agent key (issue 15): escape sequences
# and newlines in the agent version, hostname, boot id, check names and
# details reach hitlessctl's text output and the coordinator's log only
# escaped (no ESC, BEL, CR or other control byte; no forged row or line);
# a node id with a newline and a command state outside the enum are
# dropped at decode and counted, never stored. Asserted on the bytes
# hitlessctl prints.
. "$TOP/tests/lib/itest.sh"

HEARTBEAT=500ms
mkdir -p "$T/preapproved" "$T/e"
"$BUILD/hitlessctl" keys gen "$T/e" --name evil >/dev/null 2>&1
cp "$T/e/evil.key" "$T/preapproved/evil.key"
start_coordinator "preapproved_keys_dir = \"$T/preapproved\";"

# The messages, by hand (tests/lib/pbenc.py).
PYTHONPATH=$TOP/tests/lib "$PY" - "$T/script" <<'PYEOF'
import sys
from pbenc import agent_message, field, msg, text, HELLO, HEARTBEAT, COMMAND_STATUS
hello = agent_message(HELLO, msg(
    field(1, text("evil")),
    field(2, text("host\x1b[2J")),
    field(4, text("9.9\x1b]0;pwned\x07\nFAKE-ROW online healthy")),
    field(6, text("boot\r\nFAKE-BOOT"))))
check = msg(field(1, text("chk\x1b[31m")), field(2, text("tcp")), field(3, 0),
            field(4, text("down\nFAKE-CHECK \x9b2J\x1b[0m")))
heartbeat = agent_message(HEARTBEAT, msg(field(1, 1), field(2, msg(field(1, 3), field(2, check)))))
bad_id = agent_message(HELLO, msg(field(1, text("evil\nFAKE-NODE"))))
state99 = agent_message(COMMAND_STATUS, msg(field(1, text("up-1-1")), field(2, 99)))
with open(sys.argv[1], "w") as f:
    f.write("send %s\nexpect 5\nsend %s\nsleep 0.5\nsend %s\nsend %s\nsleep 0.5\n"
            % (hello.hex(), heartbeat.hex(), bad_id.hex(), state99.hex()))
PYEOF
bad_before=$(dropped bad_identifier); enum_before=$(dropped bad_enum)
out=$($PY "$TOP/tests/lib/curve_client.py" "$ENDPOINT" "$(coordinator_public_key)" "$T/e/evil.key_secret" "$T/script" 2>&1)
check "the hostile agent registered (its Hello answered)" grep -q "^reply" <<<"$out"
wait_for 5 "its hostile health report arrived" bash -c '[ "$(node_field evil health)" = unhealthy ]'

ctl nodes >"$T/nodes.txt" 2>&1
ctl events --node evil >"$T/events.txt" 2>&1
ctl status >"$T/status.txt" 2>&1
ctl nodes --json >"$T/nodes.json" 2>&1
# No control byte but newline and tab, no C1 control (U+0080..U+009F as UTF-8).
clean() { ! LC_ALL=C grep -qP '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' "$1"; }
no_forged() { ! grep -q '^FAKE\|^  *FAKE' "$1"; }
for f in nodes events status; do
  check "hitlessctl $f: no control bytes" clean "$T/$f.txt"
  check "hitlessctl $f: no forged line" no_forged "$T/$f.txt"
done
check "hitlessctl nodes shows the escaped version" grep -qF '9.9\x1b]0;pwned\x07\nFAKE-ROW' "$T/nodes.txt"
check "hitlessctl nodes shows the escaped check detail" grep -qF 'down\nFAKE-CHECK \xc2\x9b2J\x1b[0m' "$T/nodes.txt"
check "--json keeps the strings exactly (JSON-escaped)" "$PY" -c '
import json, sys
n = [x for x in json.load(open(sys.argv[1]))["nodes"] if x["node_id"] == "evil"][0]
assert n["agent_version"] == "9.9\x1b]0;pwned\x07\nFAKE-ROW online healthy", n["agent_version"]
assert n["checks"][0]["detail"] == "down\nFAKE-CHECK \x9b2J\x1b[0m", n["checks"]' "$T/nodes.json"
check "the coordinator's log: no control bytes" clean "$T/coordinator.log"
check "the coordinator's log: no forged line" no_forged "$T/coordinator.log"
check "a node id with a newline: dropped and counted (bad_identifier)" bash -c "[ \$(dropped bad_identifier) -gt $bad_before ]"
check "a command state outside the enum: dropped and counted (bad_enum)" bash -c "[ \$(dropped bad_enum) -gt $enum_before ]"
check "no node was registered under the newline id" bash -c '! ctl nodes --json | grep -q FAKE-NODE'
check "the coordinator is still running" kill -0 "$COORD_PID"
finish
