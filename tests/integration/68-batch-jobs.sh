#!/bin/bash
# Batch commands as jobs (issue 17) with real agents on this host: one
# request fans a check out to every node, each answered once; a drain
# batch over a quorum group never has more members down than its budget
# (the drained ones stay down, so the rest wait, saying why); a job
# survives kill -9 of the coordinator without a duplicated command; bad
# selectors and counts exit 2 with nothing sent; --health-gate holds a node
# until it has been healthy for min_healthy_time and fails it at the deadline.
. "$TOP/tests/lib/itest.sh"

HEARTBEAT=300ms
NODES="db1 db2 db3 db4 db5 c1 c2 c3"
start_coordinator 'role_overrides = ( { node = "db1"; roles = ["database"]; }, { node = "db2"; roles = ["database"]; },
  { node = "db3"; roles = ["database"]; }, { node = "db4"; roles = ["database"]; }, { node = "db5"; roles = ["database"]; } );
groups = ( { name = "computes"; roles = ["compute"]; } );
quorum_groups = ( { name = "db"; members = ["db1", "db2", "db3", "db4", "db5"]; } );'
mkdir -p "$T/drained"
# The drain hook records how many nodes are drained at the instant it runs.
cat > "$T/drain.sh" <<EOF2
#!/bin/sh
touch "$T/drained/\$1"
echo "\$1 \$(ls "$T/drained" | wc -l)" >> "$T/drains.log"
EOF2
chmod +x "$T/drain.sh"
# c3 is healthy while $T/healthy-c3 exists (the health gate test).
touch "$T/healthy-c3"
for n in $NODES; do
  extra=""
  [ "$n" = c3 ] && extra="checks = ( { name = \"flag\"; kind = \"exec\"; argv = [\"/usr/bin/test\", \"-e\", \"$T/healthy-c3\"]; } );"
  make_agent "$n" "policy = {
  drain = { argv = [\"$T/drain.sh\", \"$n\"]; };
  undrain = { argv = [\"/bin/rm\", \"-f\", \"$T/drained/$n\"]; };
};
$extra"
  start_agent "$n"
done
wait_for 15 "8 keys pending" bash -c '[ "$(count_keys pending)" = 8 ]'
for n in $NODES; do ctl keys accept "$n" >/dev/null; done
online() { [ "$(ctl nodes --json | $PY -c 'import json,sys; print(sum(1 for n in json.load(sys.stdin)["nodes"] if n["state"] == "online"))')" = 8 ]; }
export -f online
wait_for 20 "8 nodes online" online

# ---- bad input: exit 2, nothing sent ----------------------------------------
sent_before=$(ctl history --limit 10000 | grep -c 'job-' || true)
badcase() { local what=$1; shift; ctl "$@" >"$T/bad.out" 2>&1; local rc=$?
  check "$what: exit 2 ($(head -c 120 "$T/bad.out" | tr '\n' ' '))" [ $rc -eq 2 ]; }
badcase "a selector matching nothing" check --all --exclude db1,db2,db3,db4,db5,c1,c2,c3
badcase "an unknown group" drain --group nosuch
badcase "an unknown role" check --role nosuch
badcase "an unknown node" check db1,nosuch
badcase "--batch 0" check --all --batch 0
badcase "--batch 150%" check --all --batch 150%
badcase "--max-failures garbage" check --all --max-failures x
badcase "--mode garbage" check --all --mode sideways
check "no job was created and no command sent by bad input" \
  bash -c "[ \"\$(ctl jobs)\" = 'no jobs' ] && [ $(ctl history --limit 10000 | grep -c 'job-' || true) -eq $sent_before ]"

# ---- check --all: every node answered once ----------------------------------
ctl check --all --json > "$T/check.json"; rc=$?
check "check --all exits 0" [ $rc -eq 0 ]
check "check --all printed one succeeded line per node, each node once" $PY - "$T/check.json" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
nodes = [l["node_id"] for l in lines if "node_id" in l]
assert sorted(nodes) == sorted("db1 db2 db3 db4 db5 c1 c2 c3".split()), nodes
assert all(l["state"] == "succeeded" for l in lines if "node_id" in l), lines
assert len(set(l["command_id"] for l in lines if "node_id" in l)) == 8
assert lines[-1]["succeeded"] == 8 and lines[-1]["state"] == "done", lines[-1]
PY
check "each node's check command ran exactly once (one command.succeeded per node)" \
  bash -c "[ \$(ctl history --limit 10000 | grep -c 'job-1-') -eq 8 ]"

ctl check --role compute --batch 1 --mode batch > "$T/barrier.out"; rc=$?
check "check --mode batch --batch 1 over the computes: exit 0, 3 succeeded, in batch mode" \
  bash -c "[ $rc -eq 0 ] && [ \$(grep -c 'check job-2-[0-9] succeeded' '$T/barrier.out') -eq 3 ] && tail -1 '$T/barrier.out' | grep -q '(batch 1 batch, max_failures 3)'"

# ---- dry run ------------------------------------------------------------------
ctl drain --group db --batch 5 --dry-run > "$T/dry.out"; rc=$?
cat "$T/dry.out" | sed 's/^/   /'
check "dry run: exit 0, the quorum arithmetic, one batch of 2 (budget 2, drained nodes stay down), 3 never" \
  bash -c "[ $rc -eq 0 ] && grep -q 'group db: 5 members, quorum 3, max_down 2, 0 down now, 5 selected' '$T/dry.out' &&
           grep -q '^  batch 1: db1 db2$' '$T/dry.out' && [ \$(grep -c '^  never: ' '$T/dry.out') -eq 3 ]"
check "a dry run keeps no job" bash -c "! ctl jobs | grep -q job-3"

# ---- drain over a quorum group: never more than the budget down -------------
jid=$(ctl drain --group db --batch 5 --no-wait)
check "drain --no-wait prints the job id ($jid)" [ "$jid" = job-3 ]
two_drained() { ctl job status job-3 --json | tail -1 | grep -q '"succeeded":2,'; }
export -f two_drained
wait_for 20 "two of db drained" two_drained
sleep 2   # agents' heartbeats report them drained; nothing else may start
ctl job status job-3 > "$T/st.out"
check "the other three wait, saying why (group db over budget)" \
  bash -c "[ \$(grep -c 'pending: group db: 2 of 5 down' '$T/st.out') -eq 3 ]"
check "never more than 2 of db drained at once (max_down 2)" \
  bash -c "[ -s '$T/drains.log' ] && awk '\$2 > 2 { bad = 1 } END { exit bad }' '$T/drains.log' && [ \$(ls '$T/drained' | wc -l) -eq 2 ]"
badcase "a batch over nodes already in another job" restart db1,db2 x.service

# ---- kill -9 of the coordinator: the job resumes, no command duplicated -----
kill -KILL "$COORD_PID"; wait "$COORD_PID" 2>/dev/null
start_coordinator
wait_for 20 "8 nodes online again" online
check "job-3 is still there after kill -9, still waiting" bash -c "ctl job status job-3 | tail -1 | grep -q 'job-3 drain by .*: running; 2 succeeded, 0 failed, 0 running, 3 pending'"
ctl job abort job-3 > "$T/abort.out"; rc=$?
check "abort: the pending nodes are skipped" bash -c "[ $rc -eq 0 ] && tail -1 '$T/abort.out' | grep -q 'aborted.*2 succeeded, 0 failed, 0 running, 0 pending, 3 skipped'"
check "drains ran exactly twice in all" bash -c "[ \$(wc -l < '$T/drains.log') -eq 2 ]"

# ---- undrain (takes nothing down) is not held by quorum -----------------------
ctl undrain --group db --batch 100% > "$T/undrain.out"; rc=$?
check "undrain --group db: exit 0, every member succeeded" bash -c "[ $rc -eq 0 ] && [ \$(grep -c ': undrain job-4-[0-9] succeeded' '$T/undrain.out') -eq 5 ]"
check "nothing drained any more" bash -c "[ -z \"\$(ls '$T/drained')\" ]"

# ---- --health-gate: done only once healthy for min_healthy_time -------------
start=$(date +%s%N)
ctl check c1,c2 --health-gate --min-healthy-time 1s --healthy-deadline 20s > "$T/gate.out"; rc=$?
took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "check c1,c2 --health-gate: exit 0, each succeeded once healthy for 1 s (${took_ms} ms)" \
  bash -c "[ $rc -eq 0 ] && [ \$(grep -c 'succeeded: healthy for 1 s' '$T/gate.out') -eq 2 ] && [ $took_ms -ge 1000 ] &&
           tail -1 '$T/gate.out' | grep -q '0 verifying,.*health gate 1s within 20s'"
rm "$T/healthy-c3"
wait_for 10 "c3 unhealthy" bash -c '[ "$(node_field c3 health)" = unhealthy ]'
ctl check c3 --health-gate --min-healthy-time 1s --healthy-deadline 2s > "$T/gate-fail.out"; rc=$?
check "c3 never healthy within the deadline: exit 1, failed by the health gate" \
  bash -c "[ $rc -eq 1 ] && grep -q '^c3: check job-[0-9]*-0 failed: health gate: not healthy' '$T/gate-fail.out'"
touch "$T/healthy-c3"
wait_for 10 "c3 healthy again" bash -c '[ "$(node_field c3 health)" = healthy ]'
check "a bad --min-healthy-time exits 2" bash -c "ctl check c1 --min-healthy-time soon >/dev/null 2>&1; [ \$? -eq 2 ]"

# ---- a failure pauses the job; a node that disconnects fails ---------------
kill -TERM "${AGENT_PID[c3]}"
wait_for 10 "c3 offline" bash -c '[ "$(node_field c3 state)" != online ]'
ctl check --group computes > "$T/fail.out"; rc=$?
check "check with an unreachable node: exit 1, c3 failed as unreachable" \
  bash -c "[ $rc -eq 1 ] && grep -q '^c3: check - failed: unreachable$' '$T/fail.out' && [ \$(grep -c 'check job-[0-9]*-[0-9] succeeded' '$T/fail.out') -eq 2 ]"
ctl drain c1,c2,c3 > "$T/pause.out"; rc=$?
check "drain with max_failures 0 and c3 unreachable: paused by the failure budget, exit 1" \
  bash -c "[ $rc -eq 1 ] && tail -1 '$T/pause.out' | grep -q 'paused: failure budget: 1 failed, max_failures 0'"
check "history records the jobs with their actor" bash -c "ctl history --limit 10000 | grep 'job.started' | grep -q 'unix:'"
finish
