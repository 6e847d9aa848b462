#!/bin/bash
# `hitlessctl plan check`: a real coordinator with an inventory (a quorum
# group of three database nodes, a compute group) and five real agents on
# 127.0.0.1, each reporting the version of contrail-vrouter-agent from its
# own dpkg database. A valid plan previews the quorum-safe batches (text
# and --json); an invalid one (a downgrade, an unknown node) exits 1 with
# the refusals; canaries go batch at a time; a plan that does not parse
# exits 2 naming file:line:key; an unhealthy member makes the others wait,
# with the reason. The check has no side effect: events, keys and commands
# in the store are unchanged.
. "$TOP/tests/lib/itest.sh"

HEARTBEAT=500ms
write_coordinator_config '
groups = ( { name = "computes"; roles = ["compute"]; } );
quorum_groups = ( { name = "cassandra"; members = ["db1", "db2", "db3"]; max_down = 1; } );
role_overrides = ( { node = "c2"; roles = ["compute", "edge"]; } );'
start_coordinator

# A private dpkg database per node: the agent reads versions with
# dpkg-query --admindir, as on a real node.
fake_dpkg() {
  local dir=$1 version=$2
  mkdir -p "$dir/info" "$dir/updates"
  cat > "$dir/status" <<STATUS
Package: contrail-vrouter-agent
Status: install ok installed
Priority: optional
Section: net
Maintainer: Test <test@example.com>
Architecture: all
Version: $version
Description: test package

STATUS
}

agent() {  # NAME ROLE [POLICY]
  fake_dpkg "$T/dpkg/$1" 1.0-1
  make_agent "$1" "${3:-}
package_backend = \"apt\";
dpkg_admindir = \"$T/dpkg/$1\";
packages = [\"contrail-vrouter-agent\"];
checks = ( { name = \"sick-flag\"; kind = \"exec\"; argv = [\"/usr/bin/test\", \"!\", \"-e\", \"$T/sick-$1\"]; } );"
  sed -i "s/^roles = .*/roles = [\"$2\"];/" "$T/agents/$1/agent.conf"
  start_agent "$1"
}
# The database nodes' policy declares a task and a unit (plan steps are
# checked against what each agent reports in Hello); the computes' none.
DB_POLICY='policy = { units = ["x.service"]; tasks = ( { name = "ready"; argv = ["/bin/true"]; } ); };'
for n in db1 db2 db3; do agent $n database "$DB_POLICY"; done
for n in c1 c2; do agent $n compute; done

wait_for 15 "five keys pending" bash -c '[ "$(count_keys pending)" = 5 ]'
ctl keys accept --all --yes >/dev/null
for n in db1 db2 db3 c1 c2; do
  wait_for 15 "$n online and healthy, reporting 1.0-1" \
    bash -c "[ \"\$(node_field $n state)\" = online ] && [ \"\$(node_field $n health)\" = healthy ] &&
             ctl nodes --json | grep -q '\"contrail-vrouter-agent\":\"1.0-1\"'"
done
wait_for 10 "every node reports its version" bash -c '[ "$(ctl nodes --json | grep -o "\"contrail-vrouter-agent\":\"1.0-1\"" | wc -l)" = 5 ]'

cat > "$T/valid.conf" <<'PLAN'
name = "contrail-2.0";
packages = ( { name = "contrail-vrouter-agent"; version = "2.0-1"; } );
allowed_paths = ( { from = "1.*"; to = "2.*"; } );
phases = (
  { name = "database"; nodes = { group = "cassandra"; }; batch = "100%";
    restart = ["contrail-database.service"]; },
  { name = "computes"; nodes = { group = "computes"; }; batch = "50%"; drain = true;
    repoint = { controller = ["10.0.0.1:5269", "10.0.0.2:5269"]; }; }
);
PLAN

cat > "$T/invalid.conf" <<'PLAN'
name = "back-to-0.9";
packages = ( { name = "contrail-vrouter-agent"; version = "0.9-1"; } );
phases = (
  { name = "computes"; nodes = { roles = ["compute"]; }; },
  { name = "extra"; nodes = { list = ["ghost"]; }; }
);
PLAN

cat > "$T/bad.conf" <<'PLAN'
name = "bad";
packages = ( { name = "contrail-vrouter-agent"; version = "2.0-1"; } );
phases = ( { name = "p"; nodes = { roles = ["compute"]; }; batch = 0;
             on_failure = "explode"; } );
PLAN

# What the store holds before any check (sqlite, read-only; node rows
# change with heartbeats, so they are left out).
store_digest() {
  $PY - "$T/coord/state/coordinator.db" <<'PYEOF'
import sqlite3, sys, hashlib
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
h = hashlib.sha256()
for table in ("keys", "events", "commands"):
    for row in db.execute("SELECT * FROM %s ORDER BY rowid" % table):
        h.update(repr(row).encode())
print(h.hexdigest())
PYEOF
}
export -f store_digest
ctl events --limit 10000 --json > "$T/events.before"
ctl keys list --json > "$T/keys.before"
digest_before=$(store_digest)

# ---- a valid plan --------------------------------------------------------
(cd "$T" && ctl plan check valid.conf) > "$T/valid.txt" 2>&1
check "valid plan: exit 0" [ $? -eq 0 ]
check "text: names the plan and says valid" grep -q '^plan contrail-2.0 (valid.conf): valid$' "$T/valid.txt"
check "text: the database phase in three single-node batches" \
  bash -c "grep -q '^  batch 1: db1$' '$T/valid.txt' && grep -q '^  batch 2: db2$' '$T/valid.txt' &&
           grep -q '^  batch 3: db3$' '$T/valid.txt'"
check "text: what each node of a phase goes through" \
  grep -q '^  each node: drain, healthy for 30s within 5m; controller -> 10.0.0.1:5269, 10.0.0.2:5269$' "$T/valid.txt"
check "text: the quorum group's arithmetic" \
  grep -Eq '^  cassandra +db1, db2, db3 +1 \(quorum allows 1\) +1 +- +3 +3$' "$T/valid.txt"
check "text: each node from -> to" grep -Eq '^  c2 +computes +up +contrail-vrouter-agent +1.0-1 +2.0-1 +upgrade$' "$T/valid.txt"

(cd "$T" && ctl plan check valid.conf --json) > "$T/valid.json"
check "valid plan --json: exit 0" [ $? -eq 0 ]
check "json: batches, groups and versions" $PY - "$T/valid.json" <<'PYEOF'
import json, sys
p = json.load(open(sys.argv[1]))
assert p["valid"] is True and p["file"] == "valid.conf" and p["plan"] == "contrail-2.0", p
db, cp = p["phases"]
assert db["name"] == "database" and db["selector"] == "group cassandra", db
assert [b["nodes"] for b in db["batches"]] == [["db1"], ["db2"], ["db3"]], db["batches"]
assert db["batch_size"] == 3 and db["waiting"] == [] and db["skipped"] == [], db
assert cp["batch_size"] == 1 and cp["drain"] is True, cp
assert db["restart"] == ["contrail-database.service"] and db["repoint"] == {}, db
assert cp["repoint"] == {"controller": ["10.0.0.1:5269", "10.0.0.2:5269"]} and cp["restart"] == [], cp
assert (db["min_healthy_time_ms"], db["healthy_deadline_ms"], db["pause_between_batches_ms"]) == (30000, 300000, 0), db
assert [b["nodes"] for b in cp["batches"]] == [["c1"], ["c2"]], cp["batches"]
g = p["groups"][0]
assert (g["name"], g["members"], g["max_down"], g["quorum_max_down"], g["budget"], g["down"],
        g["to_upgrade"], g["min_rounds"]) == ("cassandra", ["db1", "db2", "db3"], 1, 1, 1, [], 3, 3), g
nodes = {n["node"]: n for n in p["nodes"]}
assert sorted(nodes) == ["c1", "c2", "db1", "db2", "db3"], nodes
assert nodes["db2"]["packages"] == [{"name": "contrail-vrouter-agent", "from": "1.0-1",
                                     "to": "2.0-1", "action": "upgrade"}], nodes["db2"]
assert nodes["db2"]["phase"] == "database" and nodes["db2"]["state"] == "up"
assert p["refusals"] == [] and p["errors"] == []
PYEOF

# ---- an invalid plan: a downgrade and an unknown node ---------------------
(cd "$T" && ctl plan check invalid.conf) > "$T/invalid.txt" 2>&1
check "invalid plan: exit 1" [ $? -eq 1 ]
check "text: INVALID with the count" grep -q '^plan back-to-0.9 (invalid.conf): INVALID, 3 refusals$' "$T/invalid.txt"
check "text: the downgrade, named" grep -q '^  downgrade: c1: contrail-vrouter-agent 1.0-1 is installed, newer than the plan.s 0.9-1: no downgrade outside a rollback$' "$T/invalid.txt"
check "text: the unknown node, named" grep -q '^  unknown_node: phase extra: node ghost is not known to the coordinator' "$T/invalid.txt"
(cd "$T" && ctl plan check invalid.conf --json) > "$T/invalid.json"
check "invalid plan --json: exit 1" [ $? -eq 1 ]
check "json: refusals by kind and node" $PY - "$T/invalid.json" <<'PYEOF'
import json, sys
p = json.load(open(sys.argv[1]))
assert p["valid"] is False
got = sorted((r["kind"], r["node"], r["phase"]) for r in p["refusals"])
assert got == [("downgrade", "c1", "computes"), ("downgrade", "c2", "computes"),
               ("unknown_node", "ghost", "extra")], got
assert all(b == [] for b in (ph["batches"] for ph in p["phases"])), p["phases"]
PYEOF

# ---- role overrides: the coordinator's roles win over the agent's ---------
cat > "$T/edge.conf" <<'PLAN'
name = "edge";
packages = ( { name = "contrail-vrouter-agent"; version = "2.0-1"; } );
phases = ( { name = "edge"; nodes = { roles = ["edge"]; }; } );
PLAN
(cd "$T" && ctl plan check edge.conf --json) > "$T/edge.json"
check "role override: exit 0" [ $? -eq 0 ]
check "role override: the edge role selects c2 only" $PY -c '
import json, sys
p = json.load(open(sys.argv[1]))
assert p["phases"][0]["nodes"] == ["c2"] and p["valid"], p' "$T/edge.json"

# ---- canaries go batch at a time, as the executor starts them (issue 14) --
cat > "$T/canary.conf" <<'PLAN'
name = "canaries";
packages = ( { name = "contrail-vrouter-agent"; version = "2.0-1"; } );
phases = ( { name = "computes"; nodes = { roles = ["compute"]; }; batch = 1; canary = 2; } );
PLAN
(cd "$T" && ctl plan check canary.conf) > "$T/canary.txt" 2>&1
check "canary: exit 0" [ $? -eq 0 ]
check "canary: two canaries with batch 1 are two batches of one" bash -c "
  grep -qx '  batch 1 (canary, then waits for hitlessctl upgrade promote): c1' '$T/canary.txt' &&
  grep -qx '  batch 2 (canary, then waits for hitlessctl upgrade promote): c2' '$T/canary.txt' &&
  ! grep -q '^  batch 3' '$T/canary.txt'"

# ---- a plan that does not parse ------------------------------------------
(cd "$T" && ctl plan check bad.conf) > "$T/bad.out" 2> "$T/bad.err"
check "bad plan: exit 2" [ $? -eq 2 ]
check "bad plan: file:line:key errors" bash -c "
  grep -qx 'bad.conf:3: phases.\[0\].batch: 0 is out of range \[1, 1000000\]' '$T/bad.err' &&
  grep -qx 'bad.conf:4: phases.\[0\].on_failure: \"explode\" is not one of \"pause\", \"rollback_node\" or \"rollback_phase\"' '$T/bad.err'"
(cd "$T" && ctl plan check bad.conf --json) > "$T/bad.json"
check "bad plan --json: exit 2" [ $? -eq 2 ]
check "bad plan --json: the errors" $PY -c '
import json, sys
p = json.load(open(sys.argv[1]))
assert p["valid"] is False and p["file"] == "bad.conf" and len(p["errors"]) == 2, p' "$T/bad.json"

# ---- usage and reachability ----------------------------------------------
ctl plan check >/dev/null 2>&1; check "no file: exit 2" [ $? -eq 2 ]
ctl plan frobnicate x >/dev/null 2>&1; check "unknown plan command: exit 2" [ $? -eq 2 ]
ctl plan check "$T/absent.conf" >/dev/null 2>&1; check "unreadable file: exit 2" [ $? -eq 2 ]
"$BUILD/hitlessctl" --socket "$T/run/nowhere.sock" plan check "$T/valid.conf" >/dev/null 2>&1
check "no coordinator: exit 3" [ $? -eq 3 ]

# ---- no side effects -----------------------------------------------------
no_side_effects() {
  check "$1: events unchanged" bash -c "ctl events --limit 10000 --json | cmp -s - '$T/events.before'"
  check "$1: keys unchanged" bash -c "ctl keys list --json | cmp -s - '$T/keys.before'"
  check "$1: store (keys, events, commands) unchanged" bash -c "[ \"\$(store_digest)\" = '$digest_before' ]"
  check "$1: agents still at 1.0-1" bash -c '[ "$(ctl nodes --json | grep -o "\"contrail-vrouter-agent\":\"1.0-1\"" | wc -l)" = 5 ]'
}
# ---- plan steps, checked against each node's policy -------------------------
cat > "$T/steps.conf" <<'PLAN'
name = "steps";
packages = ( { name = "contrail-vrouter-agent"; version = "2.0-1"; } );
phases = (
  { name = "database"; nodes = { group = "cassandra"; };
    before = ( { task = "ready"; node = "db1"; } );
    pre = ( { task = "ready"; } );
    post = ( { unit = "start"; units = ["x.service"]; } ); },
  { name = "computes"; nodes = { group = "computes"; };
    pre = ( { task = "ready"; } );
    wait_for = ( { task = "ready"; node = "db9"; deadline = "1m"; } ); }
);
PLAN
(cd "$T" && ctl plan check steps.conf --json) > "$T/steps.json"
check "steps: a task the computes do not declare, a gate on an unknown node: exit 1" [ $? -eq 1 ]
check "json: every step in order with its node; the refusals name node and task" $PY - "$T/steps.json" <<'CHECK'
import json, sys
p = json.load(open(sys.argv[1]))
db = p["phases"][0]["steps"]
assert [(s["stage"], s["action"], s["node_id"]) for s in db] == [
    ("before", "task ready", "db1"), ("pre", "task ready", ""), ("post", "start x.service", "")], db
refusals = sorted((r["kind"], r["node"]) for r in p["refusals"])
assert refusals == [("unknown_node", "db9"), ("unknown_task", "c1"), ("unknown_task", "c2")], p["refusals"]
assert any(r["message"] == "phase computes, pre step (line 9): node c1's policy has no task ready"
           for r in p["refusals"]), p["refusals"]
CHECK
(cd "$T" && ctl plan check steps.conf) > "$T/steps.txt"
sed "s/^/    steps.txt: /" "$T/steps.txt"
check "text: the before step and its node" grep -q '^  before   task ready on db1  \[line 5\]$' "$T/steps.txt"
check "text: the gate, its interval and deadline" \
  grep -q '^  wait_for task ready on db9: until it succeeds, every 10s, within 1m  \[line 10\]$' "$T/steps.txt"

no_side_effects "after the checks"

# ---- an unhealthy member: the others wait, and say why --------------------
touch "$T/sick-db3"
wait_for 10 "db3 unhealthy" bash -c '[ "$(node_field db3 health)" = unhealthy ]'
ctl events --limit 10000 --json > "$T/events.before"   # the health change is an event
digest_before=$(store_digest)
(cd "$T" && ctl plan check valid.conf --json) > "$T/sick.json"
check "unhealthy member: still valid (waiting is not refusing)" [ $? -eq 0 ]
check "json: db1 and db2 wait for the quorum budget db3 spends" $PY - "$T/sick.json" <<'PYEOF'
import json, sys
p = json.load(open(sys.argv[1]))
db = p["phases"][0]
assert db["batches"] == [], db
waits = {w["node"]: (w["reason"], w["message"]) for w in db["waiting"]}
assert waits["db3"] == ("node_unhealthy", "db3 is unhealthy"), waits
assert waits["db1"] == ("quorum", "group cassandra: 1 of 3 down (db3 unhealthy), max_down 1"), waits
assert p["groups"][0]["down"] == [{"node": "db3", "why": "unhealthy"}], p["groups"]
PYEOF
(cd "$T" && ctl plan check valid.conf) | grep -q '^  waits:   db1 (quorum): group cassandra: 1 of 3 down (db3 unhealthy), max_down 1$'
check "text: the wait and its reason" [ $? -eq 0 ]

no_side_effects "after the checks with an unhealthy member"
check "the coordinator logged the checks" grep -q 'plan check of valid.conf (contrail-2.0) by unix:' "$T/coordinator.log"

# A valid plan with steps runs them: db1's before step (the real task
# ready, /bin/true) first, before any node of the phase starts; and only
# within the quorum budget: while db3 is unhealthy it waits, saying why.
cat > "$T/steps-db.conf" <<'PLAN'
name = "steps";
packages = ( { name = "contrail-vrouter-agent"; version = "2.0-1"; } );
phases = ( { name = "database"; nodes = { group = "cassandra"; };
             before = ( { task = "ready"; node = "db1"; } ); post = ( { unit = "start"; units = ["x.service"]; } ); } );
PLAN
(cd "$T" && ctl plan check steps-db.conf --json) > "$T/steps-db.json"
check "a plan whose steps every node declares: valid" [ $? -eq 0 ]
(cd "$T" && ctl upgrade start steps-db.conf --json) > "$T/steps-start.json" 2>&1
check "upgrade start of a plan with a before step: accepted" [ $? -eq 0 ]
step_waits_for_quorum() {
  ctl upgrade status --json | $PY -c 'import json, sys
s = json.load(sys.stdin)
step = s["phases"][0]["step"]
assert s["phases"][0]["stage"] == "before" and step.startswith("before step 1/1 (task ready on db1) waits: group cassandra") and "db3 unhealthy" in step, step
assert all(n["command"] == "" for n in s["nodes"]), s["nodes"]'
}
wait_for 10 "the before step on db1 waits while db3 (unhealthy) holds the group's budget; nothing sent" step_waits_for_quorum
rm -f "$T/sick-db3"
before_step_first() {
  ctl history --limit 10000 --json >"$T/steps-history.json" || return 1
  python3 - "$T/steps-history.json" <<'PYEOF'
import json, sys
h = [e for e in json.load(open(sys.argv[1]))["entries"] if e.get("kind") == "command" and e.get("upgrade_id")]
h.sort(key=lambda e: int(e["command_id"].rsplit("-", 1)[1]))
assert h and h[0]["node_id"] == "db1" and h[0]["action"] == "task" and h[0]["state"] == "succeeded", h[:2]
assert len(h) > 1, "no node started after the before step"
PYEOF
}
wait_for 30 "the before step ran on db1 (task ready succeeded) before any node of the phase started" before_step_first
ctl upgrade abort >/dev/null 2>&1
check "the upgrade aborted" bash -c "ctl upgrade status --json | grep -q '\"state\":\"aborted\"'"
finish
