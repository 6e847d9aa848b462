#!/bin/bash
# `make demo`: a Contrail ISSU of twelve real nodes in one plan
# (scripts/demo.sh, tests/lib/fleet.sh). Runs the demo non-interactively
# (DEMO_SECONDS=0) with DEMO_EVIDENCE, which makes it copy, before it
# cleans up, what the nodes themselves say (dpkg, the service's answer, the
# vrouter and plugin configs, hook, step and unit logs, the agent's journal)
# and the coordinator's JSON (plan check, upgrade status, history, status
# samples taken every 0.5 s during the run). Asserts the real outcome:
#   - plan check valid, the upgrade complete, within the demo's limits;
#   - db1-3, compute2, compute4 and os1 run 2.0 (dpkg and the running
#     binary), ctrl-new1-2 ran it all along and were never installed;
#     compute3 (its 2.0 service refused TSN mode: rolled back by policy) and
#     compute1 (rolled back by hitlessctl) run 1.0; ctrl-old1-2 still have
#     1.0, their service stopped at finalize;
#   - compute2 and compute4 point at the new controller cluster; compute1 and
#     compute3 have their old file back (compute3 still in TSN mode); the
#     others were never repointed; no node is left drained;
#   - the ISSU order, from the nodes' own logs: on ctrl-new1 pre-sync, then
#     run-sync started, its gate passed, all before the first compute was
#     drained; every compute settled before run-sync stopped; then the old
#     controllers' services stopped, then post-sync and zk-sync; os1's
#     plugin switched to the new api-server only after that; each step ran
#     once, on ctrl-new1 only (ctrl-new2 ran none);
#   - the quorum group never had two members down: the database nodes' drain
#     windows (from their own hook logs) never overlap, every restart of a
#     database service happened inside its node's window, and no status
#     sample shows two database nodes in a step at once;
#   - everything is removed afterwards: temporary directory, netns,
#     containers.
# Needs root (containers); exit 77 otherwise.
if [ "$(id -u)" -ne 0 ]; then
  echo "90-demo: skipped: needs root (systemd-nspawn)"
  exit 77
fi
. "$TOP/tests/lib/itest.sh"

EV=$T/evidence
start=$(date +%s)
DEMO_SECONDS=0 DEMO_EVIDENCE=$EV timeout 600 "$TOP/scripts/demo.sh" "$BUILD" >"$T/demo.out" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))
cat "$T/demo.out"
cp "$EV/coordinator.log" "$T/coordinator.log" 2>/dev/null   # finish() shows its tail
echo "--- demo: exit $rc after ${secs}s"

check "demo exits 0" [ "$rc" = 0 ]
check "plan check: valid" grep -q '^plan contrail-issu-2.0 (contrail-issu-2.0.plan): valid$' "$T/demo.out"
check "the demo reports the upgrade complete" grep -Eq '^upgrade complete after [0-9]+s' "$T/demo.out"
# It returns by itself when the upgrade is over: 0, or 1 when the Error
# condition holds at the end (compute3 failed); a timeout would be 124.
check "upgrade status --watch returned by itself at the end" \
  grep -Eq '^upgrade complete after [0-9]+s \(watch exit [01][:)]' "$T/demo.out"
check "the demo said why compute3 failed (its service, on the node)" \
  grep -q 'compute3: hitless-test-svc 2.0: agent_mode=tsn .* not supported any more' "$T/demo.out"

# ---- the nodes' real state ---------------------------------------------------
check "nodes: versions, running binaries, files, drain state" "$PY" - "$EV/nodes" <<'PYEOF'
import re, sys
d = sys.argv[1]
read = lambda n, what: open("%s/%s.%s" % (d, n, what)).read()
at_2 = ["db1", "db2", "db3", "ctrl-new1", "ctrl-new2", "compute2", "compute4", "os1"]
at_1 = ["compute1", "compute3", "ctrl-old1", "ctrl-old2"]
stopped = ["ctrl-old1", "ctrl-old2"]
bad = []
for n in at_2 + at_1:
    want = "2.0" if n in at_2 else "1.0"
    got = read(n, "versions").split("\n")
    exp = ["hitless-test-svc %s install ok installed" % want, "hitless-test-lib %s install ok installed" % want]
    if got[:2] != exp:
        bad.append("%s: dpkg says %r, expected %r" % (n, got[:2], exp))
    http = read(n, "http")
    if n in stopped:
        if http:
            bad.append("%s: the service answers %r, expected it stopped at finalize" % (n, http))
    elif not http.startswith("hitless-test-svc version %s xmpp: Established" % want):
        bad.append("%s: the service answers %r, expected version %s" % (n, http, want))
    if read(n, "drained").strip() != "undrained":
        bad.append("%s: left drained" % n)
    conf = read(n, "vrouter")
    def key(section, k):
        m = re.search(r"^\[%s\]\n(?:(?!\[).*\n)*?%s=(.*)$" % (re.escape(section), k), conf, re.M)
        return m.group(1) if m else None
    servers, collectors, dns = key("CONTROL-NODE", "servers"), key("DEFAULT", "collectors"), key("DNS", "servers")
    if n in ("compute2", "compute4"):
        exp = ("10.0.1.11:5269 10.0.1.12:5269", "10.0.1.11:8086 10.0.1.12:8086", "10.0.0.11:53 10.0.0.12:53")
    else:
        exp = ("10.0.0.11:5269 10.0.0.12:5269", "10.0.0.11:8086 10.0.0.12:8086", "10.0.0.11:53 10.0.0.12:53")
    if (servers, collectors, dns) != exp:
        bad.append("%s: vrouter conf servers/collectors/dns = %r, expected %r" % (n, (servers, collectors, dns), exp))
    tsn = re.search(r"^agent_mode=tsn$", conf, re.M) is not None
    if tsn != (n == "compute3"):
        bad.append("%s: agent_mode=tsn %s" % (n, "present" if tsn else "missing"))
    plugin = read(n, "plugin")
    if (n == "os1") != bool(plugin):
        bad.append("%s: plugin config %r" % (n, plugin))
if bad:
    print("\n".join("    " + b for b in bad))
    sys.exit(1)
PYEOF

check "compute3: its 2.0 service refused to run (TSN), and 1.0 runs again" "$PY" - "$EV/nodes" <<'PYEOF'
import sys
svc = open(sys.argv[1] + "/compute3.svc").read()
i = svc.find("hitless-test-svc 2.0: agent_mode=tsn")
assert i >= 0, "no refusal in compute3's service log:\n" + svc[-2000:]
assert "hitless-test-svc 1.0 listening" in svc[i:], "1.0 never started after the refusal:\n" + svc[-2000:]
PYEOF

# The agent's journal on each node: what it was asked to do, in order.
check "agents' journals: the steps each node went through" "$PY" - "$EV/nodes" <<'PYEOF'
import json, sys
d = sys.argv[1]
def steps(n):
    cmds = json.load(open("%s/%s.journal" % (d, n)))["commands"]
    cmds.sort(key=lambda c: (c["created"], c["updated"]))
    # "check" only reads the node; leave it out if the executor used it.
    return [(c["kind"], c["state"]) for c in cmds if c["kind"] != "check"]
ok = lambda kinds: [(k, "succeeded") for k in kinds]
want = {}
for n in ("db1", "db2", "db3"):
    want[n] = ok(["drain", "install", "restart", "undrain"])
for n in ("compute2", "compute4"):
    want[n] = ok(["drain", "install", "repoint", "restart", "undrain"])
want["compute1"] = ok(["drain", "install", "repoint", "restart", "undrain", "rollback"])
want["os1"] = ok(["install", "repoint", "restart"])
for n in ("ctrl-old1", "ctrl-old2"):
    want[n] = ok(["stop"])
want["ctrl-new2"] = []
# pre-sync, run-sync started, its gate (failed until in sync), then at
# finalize run-sync stopped, post-sync, zk-sync.
n_gate = len(steps("ctrl-new1")) - 5
want["ctrl-new1"] = ok(["task", "start"]) + [("task", "failed")] * (n_gate - 1) + \
    ok(["task", "stop", "task", "task"])
bad = []
for n, w in want.items():
    if steps(n) != w:
        bad.append("%s: %s, expected %s" % (n, steps(n), w))
# compute3: its steps up to the failure, then a rollback that succeeded.
s3 = steps("compute3")
if [k for k, _ in s3[:2]] != ["drain", "install"] or s3[-1] != ("rollback", "succeeded") \
        or [k for k, _ in s3].count("rollback") != 1:
    bad.append("compute3: %s, expected drain, install, ..., rollback succeeded" % s3)
if bad:
    print("\n".join("    " + b for b in bad))
    sys.exit(1)
PYEOF

# ---- the ISSU's order, from the nodes ------------------------------------------
check "ISSU: sync before the computes, finalize after them, the northbound switch last; each step once" \
  "$PY" - "$EV/nodes" "$EV/demo-rollback-started" <<'PYEOF'
import sys
d = sys.argv[1]
by_hand = float(open(sys.argv[2]).read())   # compute1's rollback: after the upgrade
read = lambda n, what: open("%s/%s.%s" % (d, n, what)).read()
ev = [l.split() for l in read("ctrl-new1", "steps").splitlines() if l.strip()]
assert all(len(e) == 4 for e in ev), "ctrl-new1 steps log: %s" % ev
names = [e[0] + ":" + e[1] for e in ev]
t = lambda name: [float(e[3]) for e in ev if e[0] + ":" + e[1] == name]
checks = t("sync-check:-")
order = ["issu:pre-sync", "sync:start"] + ["sync-check:-"] * len(checks) + \
        ["sync:stop", "issu:post-sync", "issu:zk-sync"]
assert checks and names == order, "ctrl-new1 ran %s, expected %s" % (names, order)
ids = [e[2] for e in ev if e[2] != "-"]
assert len(ids) == len(set(ids)), "a step ran twice: %s" % ids
assert read("ctrl-new2", "steps") == "", "ctrl-new2 ran steps: %r" % read("ctrl-new2", "steps")
synced, sync_stop = checks[-1], t("sync:stop")[0]
post, zk = t("issu:post-sync")[0], t("issu:zk-sync")[0]
print("    run-sync started %.3f, in sync %.3f (%d checks), stopped %.3f; post-sync %.3f, zk-sync %.3f"
      % (t("sync:start")[0], synced, len(checks), sync_stop, post, zk))
# Every compute's drain and undrain during the upgrade lies between the
# passed gate and run-sync's stop.
for n in ("compute1", "compute2", "compute3", "compute4"):
    hooks = [(k, float(x)) for k, x in (l.split() for l in read(n, "hooks").splitlines() if l.strip())]
    during = [(k, x) for k, x in hooks if x < by_hand]
    assert during and during[0][0] == "drain" and during[-1][0] == "undrain", "%s: hooks %s" % (n, hooks)
    for k, x in during:
        assert synced < x < sync_stop, "%s: %s at %.3f, outside in-sync %.3f .. run-sync stopped %.3f" % (
            n, k, x, synced, sync_stop)
# The old controllers' services stopped after run-sync, before post-sync,
# and never started again.
for n in ("ctrl-old1", "ctrl-old2"):
    lines = [l.split(None, 3) for l in read(n, "svc").splitlines()]
    stops = [float(f[0]) for f in lines if len(f) == 4 and f[3].startswith("Stopped hitless-test-svc")]
    starts = [float(f[0]) for f in lines if len(f) == 4 and f[3].startswith("Started hitless-test-svc")]
    assert len(stops) == 1 and sync_stop < stops[0] < post, \
        "%s: stopped at %s (run-sync stopped %.3f, post-sync %.3f)" % (n, stops, sync_stop, post)
    assert starts and max(starts) < stops[0], "%s: started at %s" % (n, starts)
# The northbound switch: os1's plugin repointed after zk-sync, its service
# restarted after that.
plugin = read("os1", "plugin").splitlines()
assert plugin[0].startswith("mtime "), plugin
assert "api_server_ip=10.0.1.11" in plugin and "api_server_port=8082" in plugin, plugin
switched = float(plugin[0].split()[1])
assert switched > zk, "os1's plugin written at %.3f, before zk-sync %.3f" % (switched, zk)
lines = [l.split(None, 3) for l in read("os1", "svc").splitlines()]
restarted = [float(f[0]) for f in lines if len(f) == 4 and f[3].startswith("Started hitless-test-svc")]
assert restarted and restarted[-1] > switched, "os1's service not restarted after the switch: %s" % restarted
print("    plugin switched %.3f, os1's service started %.3f" % (switched, restarted[-1]))
PYEOF

# ---- the quorum group: never two members down --------------------------------
check "cassandra: the database drain windows never overlap, every service restart inside its window" \
  "$PY" - "$EV/nodes" "$EV/demo-upgrade-started" <<'PYEOF'
import sys
d = sys.argv[1]
wins = {}
for n in ("db1", "db2", "db3"):
    ev = [l.split() for l in open("%s/%s.hooks" % (d, n)) if l.strip()]
    kinds = [k for k, _ in ev]
    assert kinds == ["drain", "undrain"], "%s: hook log %s, expected one drain then one undrain" % (n, ev)
    wins[n] = (float(ev[0][1]), float(ev[1][1]))
    print("    %s drained %.3f .. %.3f (%.1fs)" % (n, wins[n][0], wins[n][1], wins[n][1] - wins[n][0]))
order = sorted(wins.items(), key=lambda x: x[1][0])
for (a, wa), (b, wb) in zip(order, order[1:]):
    assert wa[1] <= wb[0], "%s drained before %s was undrained: %s %s" % (b, a, wa, wb)
# Every stop or start of a database service once the upgrade started falls
# in its node's drain window.
started = float(open(sys.argv[2]).read())
for n, (s, e) in wins.items():
    seen = 0
    for line in open("%s/%s.svc" % (d, n)):
        f = line.split(None, 3)
        if len(f) < 4:
            continue
        t, msg = float(f[0]), f[3]
        if t < started:
            continue
        if msg.startswith(("Stopping hitless-test-svc", "Started hitless-test-svc", "Stopped hitless-test-svc")):
            seen += 1
            assert s <= t <= e, "%s: %r at %.3f, outside its drain window %.3f..%.3f" % (n, msg.strip(), t, s, e)
    assert seen >= 2, "%s: no restart of its service seen during the upgrade" % n
PYEOF

check "cassandra: no status sample shows two database nodes in a step at once" "$PY" - "$EV/demo-status-samples.jsonl" <<'PYEOF'
import json, sys
idle = {"pending", "done", "rolled_back", "skipped", "failed"}
samples = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
samples = [s for s in samples if s["status"]]
assert len(samples) >= 10, "only %d samples" % len(samples)
busy_seen = set()
for s in samples:
    busy = [n["node_id"] for n in s["status"]["nodes"]
            if n["node_id"] in ("db1", "db2", "db3") and n["step"] not in idle]
    busy_seen.update(busy)
    assert len(busy) <= 1, "at %s: %s in steps at once" % (s["t"], busy)
assert busy_seen == {"db1", "db2", "db3"}, "samples saw only %s busy" % sorted(busy_seen)
print("    %d samples, at most one database node in a step" % len(samples))
PYEOF

# ---- the coordinator's view ------------------------------------------------------
check "upgrade status: complete; per phase done / rolled back; compute3 rolled back by policy" \
  "$PY" - "$EV/demo-status-after-upgrade.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["plan_name"] == "contrail-issu-2.0" and s["state"] == "complete", (s["plan_name"], s["state"], s.get("message"))
ph = {p["name"]: p for p in s["phases"]}
got = {k: (p["nodes"], p["done"], p["failed"], p["rolled_back"], p["pending"], p["in_flight"]) for k, p in ph.items()}
want = {"database": (3, 3, 0, 0, 0, 0), "sync": (0, 0, 0, 0, 0, 0), "computes": (4, 3, 0, 1, 0, 0),
        "northbound": (1, 1, 0, 0, 0, 0)}
assert got == want, "phases (nodes, done, failed, rolled_back, pending, in_flight): %s, expected %s" % (got, want)
steps = {n["node_id"]: n["step"] for n in s["nodes"]}
want = dict.fromkeys(["db1", "db2", "db3", "compute1", "compute2", "compute4", "os1"], "done")
want["compute3"] = "rolled_back"
# Where the phases' own steps ran: nodes of no phase.
want.update(dict.fromkeys(["ctrl-new1", "ctrl-old1", "ctrl-old2"], "skipped"))
assert steps == want, "steps %s, expected %s" % (steps, want)
cond = {c["type"]: c for c in s["conditions"]}
assert cond["Complete"]["status"] is True, cond
assert cond["Error"]["status"] is True and "compute3" in cond["Error"]["message"], cond
PYEOF
check "upgrade status at the end: compute1 rolled back by hand too" \
  "$PY" - "$EV/demo-status-final.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["state"] == "complete", s["state"]
ph = {p["name"]: (p["done"], p["rolled_back"], p["failed"]) for p in s["phases"]}
assert ph == {"database": (3, 0, 0), "sync": (0, 0, 0), "computes": (2, 2, 0), "northbound": (1, 0, 0)}, ph
steps = {n["node_id"]: n["step"] for n in s["nodes"]}
assert steps["compute1"] == "rolled_back" and steps["compute3"] == "rolled_back", steps
PYEOF
check "history: every node's install, the ISSU steps, and the two rollbacks, succeeded" "$PY" - "$EV/demo-history.json" <<'PYEOF'
import json, sys
h = json.load(open(sys.argv[1]))["entries"]
done = {(e["node_id"], e["action"]) for e in h if e.get("state") == "succeeded"}
nodes = ["db1", "db2", "db3", "compute1", "compute2", "compute3", "compute4", "os1"]
missing = [(n, "install") for n in nodes if (n, "install") not in done]
missing += [(n, a) for n, a in (("ctrl-new1", "task"), ("ctrl-new1", "start"), ("ctrl-new1", "stop"),
                                ("ctrl-old1", "stop"), ("ctrl-old2", "stop")) if (n, a) not in done]
missing += [(n, "rollback") for n in ("compute1", "compute3") if (n, "rollback") not in done]
assert not missing, "no succeeded entry for %s" % missing
assert not [e for e in h if e.get("action") == "rollback" and e["node_id"] not in ("compute1", "compute3")], \
    "a rollback of another node"
assert any("contrail-issu-2.0" in e.get("message", "") for e in h), "the upgrade's plan is never named"
PYEOF

# ---- cleaned up ------------------------------------------------------------------
dir=$(sed -n 's/^== stopped after [0-9]*s; removed //p' "$T/demo.out")
ns=$(sed -n 's/^== stopping: .*, netns \(.*\)$/\1/p' "$T/demo.out")
check "the demo's directory is removed ($dir)" bash -c "[ -n '$dir' ] && [ ! -e '$dir' ]"
check "its netns is gone ($ns)" bash -c "[ -n '$ns' ] && ! ip netns list | grep -qw '$ns'"
# Its containers (systemd-nspawn --bind-ro=DIR/...) and coordinator (-c DIR/...).
no_process_mentions() { [ -n "$1" ] && ! pgrep -f "$1" >/dev/null; }
check "no container or coordinator of it is left (no process mentions $dir)" no_process_mentions "$dir"
echo "   the demo took ${secs}s"
finish
