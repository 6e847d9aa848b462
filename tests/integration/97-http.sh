#!/bin/bash
# The coordinator's HTTP view with a real fleet (tests/lib/fleet.sh: three
# real database nodes in systemd-nspawn containers, quorum group cassandra
# max_down 1, one coordinator with http_listen = "127.0.0.1:0", all in one
# private netns) and a real Prometheus (Debian's prometheus, in the same
# netns on its own port, temporary config and data directory, killed by
# PID) scraping /metrics every second:
#   1. before any upgrade: promtool check metrics passes on the exposition;
#      /api/status is byte for byte `hitlessctl upgrade status --json`;
#      GET / is the page; unknown paths 404, POST/PUT/DELETE 405, a GET
#      with a body 413, an oversized header 431, malformed requests refused
#      (an error status or closed) and answered afterwards, ../ and %2e%2e paths 404 (nothing served from disk); 64
#      concurrent clients answered while the agents stay online and
#      hitlessctl answers.
#   2. Prometheus scrapes for a few intervals: up == 1, and its
#      hitless_nodes{state="online"} and hitless_agents_connected are
#      `hitlessctl status --json`'s nodes_online.
#   3. mid-upgrade (tests/upgrade/db-2.0.plan): /metrics has the phase's
#      progress and the group's budget; with Chromium installed, the page
#      loaded headless shows every node with its step (asserted from the
#      DOM against /api/status) and a screenshot is saved; the same page
#      is kept open (DevTools protocol, tests/lib/cdp.py).
#   4. once complete: Prometheus' hitless_upgrade_phase_nodes{progress=
#      "done"} is the done count of `hitlessctl upgrade status --json`,
#      hitless_quorum_group_budget{group="cassandra"} is 1, and /api/status
#      is the JSON of hitlessctl again; the page kept open shows every node
#      done without having been reloaded, and a second screenshot.
# Needs root (containers); exit 77 otherwise.
if [ "$(id -u)" -ne 0 ]; then
  echo "97-http: skipped: needs root (systemd-nspawn)"
  exit 77
fi
. "$TOP/tests/lib/itest.sh"
# shellcheck disable=SC2034
FLEET_HEARTBEAT=500ms FLEET_QUIET=1
# shellcheck source=../lib/fleet.sh
. "$TOP/tests/lib/fleet.sh"

U=$TOP/tests/upgrade
EV=$T/ev
PROM_PID=
CHROME_PID=
TEST_START=$(date +%s)
# Output kept for a person to look at (the screenshot), like the logs.
OUT=${HTTP_TEST_OUT:-$BUILD/itest-97-http}

all_cleanup() {
  local pid
  for pid in $PROM_PID $CHROME_PID; do
    kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  done
  fleet_cleanup >/dev/null 2>&1
  cleanup
}
trap all_cleanup EXIT

end_test() {
  cp "$FLEET_DIR/coordinator.log" "$T/coordinator.log" 2>/dev/null
  echo "   97-http took $(( $(date +%s) - TEST_START ))s"
  finish
}
# shellcheck source=../lib/upgrade.sh
. "$TOP/tests/lib/upgrade.sh"

in_ns() { ip netns exec "$FLEET_NS" "$@"; }
# get PATH [CURL ARGS...]: the body; code PATH [CURL ARGS...]: the status.
get() { local p=$1; shift; in_ns curl -sS --max-time 10 "$@" "http://$HTTP$p"; }
code() { local p=$1; shift; in_ns curl -s -o /dev/null --max-time 10 -w '%{http_code}' "$@" "http://$HTTP$p"; }
is_code() { local want=$1; shift; local got; got=$(code "$@"); [ "$got" = "$want" ] || { echo "    $*: $got, not $want"; return 1; }; }
# A raw request (for what curl will not send), the status line back.
raw_status() {
  in_ns "$PY" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
print(s.recv(200).split(b"\r\n")[0].decode())' "${HTTP#*:}" "$1"
}
raw_is() { local got; got=$(raw_status "$1"); case "$got" in "HTTP/1.1 $2"*) ;; *) echo "    got '$got', not $2"; return 1;; esac; }
same_as_ctl() {
  fleet_ctl upgrade status --json >"$EV/ctl.json" 2>&1 && get /api/status >"$EV/http.json" &&
    cmp -s "$EV/ctl.json" "$EV/http.json" || { echo "    differ:"; diff "$EV/ctl.json" "$EV/http.json" | head -5; return 1; }
}
# prom 'QUERY': the value of an instant query's single series ("" none).
prom() {
  in_ns curl -s --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
    "$PY" -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if len(r) == 1 else "")' 2>/dev/null
}
prom_is() { local got; got=$(prom "$1"); [ "$got" = "$2" ] || { echo "    $1 = '$got', not '$2'"; return 1; }; }
ctl_status_field() { fleet_ctl status --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

mkdir -p "$EV" "$OUT"
fleet_inventory '
http_listen = "127.0.0.1:0";
quorum_groups = ( { name = "cassandra"; members = ["db1", "db2", "db3"]; max_down = 1; } );'
must "fleet of 3 database nodes set up" fleet_setup db1:database db2:database db3:database
echo "   fleet: $FLEET_TIMES"
HTTP=$(cat "$FLEET_DIR/coord/state/http.endpoint" 2>/dev/null)
must "the coordinator recorded its HTTP endpoint" test -n "$HTTP"
check "the coordinator logged where it serves HTTP" grep -q "serving the consolidated view and metrics on http://$HTTP/" "$FLEET_DIR/coordinator.log"

# ==== 1. the server before any upgrade =============================================
echo "== 1. endpoints and bad input"
check "GET /metrics: 200" is_code 200 /metrics
get /metrics >"$EV/metrics-0.txt"
check "promtool check metrics passes" bash -c "promtool check metrics <'$EV/metrics-0.txt'"
check "metrics name the three nodes online" grep -qx 'hitless_nodes{state="online"} 3' "$EV/metrics-0.txt"
check "/api/status is upgrade status --json (no upgrade)" same_as_ctl
page_ok() { get / | grep -q '<title>hitless: upgrade</title>'; }
check "GET /: the page" page_ok
check "HEAD /metrics: 200" is_code 200 /metrics -I
check "unknown path: 404" is_code 404 /nope
check "/metrics/: 404 (exact paths)" is_code 404 /metrics/
check "POST /metrics: 405" is_code 405 /metrics -X POST -d x=1
check "PUT /: 405" is_code 405 / -X PUT -d x
check "DELETE /api/status: 405" is_code 405 /api/status -X DELETE
allow_ok() { get / -i -X POST | grep -qi '^Allow: GET, HEAD'; }
check "405 says Allow: GET, HEAD" allow_ok
check "a GET with a body: 413" is_code 413 /metrics -X GET --data-binary xx
check "a 20 KB header: 431" is_code 431 /metrics -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)"
check "../ traversal: 404" is_code 404 /../../../etc/passwd --path-as-is
check "%2e%2e traversal: 404" is_code 404 /%2e%2e/%2e%2e/etc/passwd --path-as-is
# Refused: an error status (400, 505, ...) or, for a request line
# libmicrohttpd cannot parse at all, the connection closed.
refused() { local got; got=$(raw_status "$1"); case "$got" in ""|"HTTP/1.1 4"*|"HTTP/1.1 5"*) ;; *) echo "    got '$got'"; return 1;; esac; }
check "a malformed request line: refused (an error or closed)" refused 'GARBAGE\r\n\r\n'
check "a request line of binary garbage: refused" refused '\x00\xff\x16\x03\x01\r\n\r\n'
check "an unsupported HTTP version: refused" refused 'GET /metrics HTTP/7.0\r\nHost: x\r\n\r\n'
check "then GET /metrics still answers 200" is_code 200 /metrics
# 64 clients at once (the connection limit), each fetching the status.
in_ns bash -c "for i in \$(seq 64); do curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 http://$HTTP/api/status & done; wait" >"$EV/concurrent.txt"
check "64 concurrent clients: all 200" bash -c "[ \$(grep -c '^200$' '$EV/concurrent.txt') = 64 ]"
online_is() { [ "$(ctl_status_field nodes_online)" = "$1" ]; }
check "meanwhile hitlessctl answers and every agent is online" online_is 3
check "the coordinator is still running" kill -0 "$FLEET_COORD_PID"

# ==== 2. Prometheus ================================================================
echo "== 2. a real Prometheus scraping /metrics"
PROM_PORT=9090
cat >"$T/prometheus.yml" <<EOF
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: hitless
    static_configs: [ { targets: ["$HTTP"] } ]
EOF
check "promtool check config" promtool check config "$T/prometheus.yml"
in_ns prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$T/prometheus.log" 2>&1 &
PROM_PID=$!
wait_or_end 60 "Prometheus scraped the coordinator (up == 1)" prom_is 'up{job="hitless"}' 1
scrapes_at_least() { local n; n=$(prom 'count_over_time(up{job="hitless"}[5m])'); [ "${n:-0}" -ge "$1" ]; }
wait_or_end 30 "at least 3 scrapes so far" scrapes_at_least 3
online=$(ctl_status_field nodes_online)
check "hitless_nodes{state=online} is hitlessctl's nodes_online ($online)" prom_is 'hitless_nodes{state="online"}' "$online"
check "hitless_agents_connected is hitlessctl's nodes_online" prom_is 'hitless_agents_connected' "$online"
check "hitless_nodes_health{health=healthy} is 3" prom_is 'hitless_nodes_health{health="healthy"}' 3
check "hitless_build_info names the version" prom_is "hitless_build_info{version=\"$(cat "$TOP/VERSION")\"}" 1

# ==== 3. mid-upgrade ===============================================================
echo "== 3. mid-upgrade"
cp "$U/db-2.0.plan" "$FLEET_DIR/"
cd "$FLEET_DIR" || exit 1
check_or_end "upgrade start" ctl_ok upgrade start db-2.0.plan
wait_or_end 30 "db1 in its sequence" up_is 'nodes["db1"]["step"] not in ("pending", "done")'
# /metrics may be up to HTTP_PAGE_MAX_AGE_MS old: the one built after the start.
metrics_running() { get /metrics >"$EV/metrics-mid.txt" && grep -q '^hitless_upgrade_info{upgrade_id="up-1",plan="db-2.0",state="running"} 1$' "$EV/metrics-mid.txt"; }
wait_for 5 "the upgrade's info series (running)" metrics_running
check "mid-upgrade exposition passes promtool" bash -c "promtool check metrics <'$EV/metrics-mid.txt'"
check "the phase's size is 3" grep -qx 'hitless_upgrade_phase_size_nodes{phase="database"} 3' "$EV/metrics-mid.txt"
check "the group's budget is 1" grep -qx 'hitless_quorum_group_budget{group="cassandra"} 1' "$EV/metrics-mid.txt"
steps_sum() { awk '/^hitless_upgrade_nodes\{/ { n += $2 } END { print n + 0 }' "$EV/metrics-mid.txt"; }
check "every node counted in exactly one step" test "$(steps_sum)" = 3
CHROMIUM=$(command -v chromium || true)
if [ -n "$CHROMIUM" ]; then
  # Polling every 2 s: the DOM after the page has fetched /api/status.
  dom() {
    in_ns "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --user-data-dir="$T/chromium" \
      --virtual-time-budget=5000 --dump-dom "http://$HTTP/" 2>/dev/null
  }
  get /api/status >"$EV/page-before.json"
  dom >"$EV/page.html"
  get /api/status >"$EV/page-after.json"
  check "the page shows every node of the upgrade with its step" "$PY" -c '
import html.parser, json, sys
class P(html.parser.HTMLParser):
    tiles = {}
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-node" in a:
            self.tiles[a["data-node"]] = a.get("data-step")
p = P(); p.feed(open(sys.argv[1]).read())
before = {n["node_id"]: n["step"] for n in json.load(open(sys.argv[2]))["nodes"]}
after = {n["node_id"]: n["step"] for n in json.load(open(sys.argv[3]))["nodes"]}
# The page fetched its status between the two: every node, each with the
# step it had in one of them.
if set(p.tiles) != set(before):
    sys.exit("tiles %s, nodes %s" % (sorted(p.tiles), sorted(before)))
bad = [n for n, s in p.tiles.items() if s not in (before[n], after[n])]
if bad:
    sys.exit("wrong steps: %s (page %s, before %s, after %s)" % (bad, p.tiles, before, after))
print("   tiles:", p.tiles)' "$EV/page.html" "$EV/page-before.json" "$EV/page-after.json"
  in_ns "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --user-data-dir="$T/chromium" \
    --virtual-time-budget=5000 --window-size=1200,700 --screenshot="$OUT/consolidated-view.png" \
    "http://$HTTP/" >/dev/null 2>&1
  check "a screenshot of the page was saved ($OUT/consolidated-view.png)" test -s "$OUT/consolidated-view.png"
  # The same page kept open (DevTools protocol on its own port, tests/lib/cdp.py),
  # read now and again once the upgrade has moved on.
  CDP_PORT=9222
  in_ns "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --user-data-dir="$T/chromium-live" \
    --remote-debugging-port="$CDP_PORT" --window-size=1200,700 "http://$HTTP/" >"$T/chromium.log" 2>&1 &
  CHROME_PID=$!
  live() {
    in_ns "$PY" "$TOP/tests/lib/cdp.py" "$CDP_PORT" eval 'JSON.stringify({loaded: document.body.dataset.loaded,
      tiles: Object.fromEntries([...document.querySelectorAll(".tile")].map(t => [t.dataset.node, t.dataset.step]))})' 2>/dev/null |
      "$PY" -c 'import json, sys; print(json.loads(json.load(sys.stdin)))'
  }
  live_has_tiles() { live >"$EV/live-1.txt" && grep -q "'db1'" "$EV/live-1.txt"; }
  wait_for 30 "the live page shows the nodes" live_has_tiles
  LOADED=$("$PY" -c 'import ast, sys; print(ast.literal_eval(open(sys.argv[1]).read())["loaded"])' "$EV/live-1.txt" 2>/dev/null)
  echo "   live page: $(cat "$EV/live-1.txt")"
else
  echo "   (chromium not installed: the page's DOM is not checked)"
fi

# ==== 4. complete ==================================================================
echo "== 4. complete"
wait_or_end 120 "upgrade complete" up_is 's["state"] == "complete"'
done_n=$(upq 'phases["database"]["done"]')
wait_for 15 "Prometheus: hitless_upgrade_phase_nodes done is hitlessctl's ($done_n)" \
  prom_is 'hitless_upgrade_phase_nodes{phase="database",progress="done"}' "$done_n"
check "Prometheus: hitless_quorum_group_budget{group=cassandra} is 1" prom_is 'hitless_quorum_group_budget{group="cassandra"}' 1
if [ -n "$CHROME_PID" ]; then
  live_all_done() {
    live >"$EV/live-2.txt" && "$PY" -c '
import ast, sys
v = ast.literal_eval(open(sys.argv[1]).read())
sys.exit(0 if v["loaded"] == sys.argv[2] and v["tiles"] and set(v["tiles"].values()) == {"done"} else 1)' "$EV/live-2.txt" "$LOADED"
  }
  wait_for 15 "the same page, not reloaded, now shows every node done" live_all_done
  echo "   live page: $(cat "$EV/live-2.txt")"
  # Each tile says which controllers its node points to (its heartbeats),
  # the same as upgrade status --json.
  in_ns "$PY" "$TOP/tests/lib/cdp.py" "$CDP_PORT" eval 'JSON.stringify(Object.fromEntries([...document.querySelectorAll(".tile")].map(t => [t.dataset.node, (t.querySelector(".endpoints") || {}).textContent || ""])))' \
    >"$EV/live-eps.txt" 2>/dev/null
  fleet_ctl upgrade status --json >"$EV/status-eps.json"
  check "each tile shows the controllers its node points to, as upgrade status --json says" "$PY" -c '
import ast, json, sys
page = ast.literal_eval(open(sys.argv[1]).read())
page = json.loads(page) if isinstance(page, str) else page
st = {n["node_id"]: n["endpoints"] for n in json.load(open(sys.argv[2]))["nodes"]}
want = {n: "controller: " + " ".join(e["controller"]) for n, e in st.items() if e.get("controller")}
print("   tiles:", page)
sys.exit(0 if want and all(page.get(n) == w for n, w in want.items()) else 1)' "$EV/live-eps.txt" "$EV/status-eps.json"
  # The quorum groups (members down against the budget) and each node's
  # package versions, as upgrade status --json says.
  in_ns "$PY" "$TOP/tests/lib/cdp.py" "$CDP_PORT" eval 'JSON.stringify({groups: [...document.querySelectorAll("#groups .group")].map(g => g.textContent), versions: Object.fromEntries([...document.querySelectorAll(".tile")].map(t => [t.dataset.node, (t.querySelector(".versions") || {}).textContent || ""]))})' \
    >"$EV/live-groups.txt" 2>/dev/null
  check "the page shows the quorum groups and each node's versions, as upgrade status --json says" "$PY" -c '
import ast, json, sys
page = ast.literal_eval(open(sys.argv[1]).read())
page = json.loads(page) if isinstance(page, str) else page
st = json.load(open(sys.argv[2]))
# "down" changes from one moment to the next (the page and the status are
# two snapshots): the names, members and budgets must agree.
import re
groups = ["group %s: N of %d down, budget %d" % (g["name"], g["members"], g["budget"]) for g in st["groups"]]
page["groups"] = [re.sub(r": \d+ of ", ": N of ", g) for g in page["groups"]]
versions = {n["node_id"]: ", ".join("%s %s" % (p, v or "-") for p, v in n["packages"].items()) for n in st["nodes"]}
print("   groups:", page["groups"], " versions:", page["versions"])
sys.exit(0 if groups and page["groups"] == groups and all(versions.values()) and page["versions"] == versions else 1)' \
    "$EV/live-groups.txt" "$EV/status-eps.json"
  in_ns "$PY" "$TOP/tests/lib/cdp.py" "$CDP_PORT" screenshot "$OUT/consolidated-view-complete.png"
  check "a screenshot of it complete ($OUT/consolidated-view-complete.png)" test -s "$OUT/consolidated-view-complete.png"
fi
check "Prometheus: Complete condition 1" prom_is 'hitless_upgrade_condition{type="Complete"}' 1
sleep 1.2   # past the page cache (HTTP_PAGE_MAX_AGE_MS)
check "/api/status is upgrade status --json (complete)" same_as_ctl
check "Prometheus is still running (killed by PID at the end)" kill -0 "$PROM_PID"
end_test
