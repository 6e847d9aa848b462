#!/bin/sh
# Model-checks tests/model/upgrade_machine.pml with spin (make check-model).
# Usage: tests/model/check-model.sh BUILD
#
# Runs, each in BUILD/model/NAME:
#   liveness   no faults, no admin: <> every node done and complete, under
#              weak fairness (-a -f), exhaustive;
#   faults1    safety with 1 fault and 1 admin request, exhaustive;
#   faults3    (MODEL_LONG=1 only) safety with 3 faults and 2 admin requests, bitstate
#              (supertrace: the hash factor printed says how much of the
#              space it covered; above 100 it is near complete);
#   mutation   faults1 with the quorum budget check removed
#              (-DNO_BUDGET_CHECK): spin MUST find the violation, or the
#              model cannot fail and this script fails.
# Any counterexample prints its trail and fails the script.
set -eu

build=${1:-build}
model=$(cd "$(dirname "$0")" && pwd)/upgrade_machine.pml
out="$build/model"
mkdir -p "$out"
out=$(cd "$out" && pwd)
status=0

# run NAME 'SPIN_DEFINES' 'CC_DEFINES' 'PAN_ARGS' EXPECT(ok|violation)
run() {
  name=$1 sdefs=$2 cdefs=$3 pargs=$4 expect=$5
  dir="$out/$name"
  rm -rf "$dir" && mkdir -p "$dir"
  cp "$model" "$dir/"
  start=$(date +%s)
  # shellcheck disable=SC2086
  (cd "$dir" && spin $sdefs -a upgrade_machine.pml >spin.log 2>&1 &&
     cc -O2 -w $cdefs -DVECTORSZ=2048 -DMEMLIM=1024 -o pan pan.c &&
     ./pan $pargs >pan.log 2>&1) || true
  secs=$(( $(date +%s) - start ))
  if [ ! -s "$dir/pan.log" ]; then
    echo "check-model: $name: spin or cc failed:" >&2
    cat "$dir/spin.log" >&2
    status=1
    return
  fi
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$dir/pan.log" | tail -1)
  vec=$(sed -n 's/^State-vector \([0-9]*\) byte.*/\1/p' "$dir/pan.log")
  stored=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$dir/pan.log")
  hashf=$(sed -n 's/^hash factor: \([0-9.e+]*\).*/\1/p' "$dir/pan.log")
  incomplete=""
  grep -q "Search not completed" "$dir/pan.log" && incomplete=" (search not completed: depth or memory bound)"
  echo "check-model: $name: state vector ${vec:-?} bytes, ${stored:-?} states, ${secs} s, errors ${errors:-?}${hashf:+, hash factor $hashf}$incomplete"
  if [ "$expect" = violation ]; then
    if [ "${errors:-0}" -eq 0 ]; then
      echo "check-model: $name: the mutant was NOT caught: the model cannot fail" >&2
      status=1
    else
      echo "check-model: $name: caught, as it must be: $(grep -m1 -E 'assertion violated|acceptance cycle' "$dir/pan.log")"
    fi
    return
  fi
  if [ -n "$incomplete" ] && [ -z "$hashf" ]; then
    echo "check-model: $name: an exhaustive search must complete" >&2
    status=1
  fi
  if [ "${errors:-1}" -ne 0 ]; then
    echo "check-model: $name: COUNTEREXAMPLE:" >&2
    grep -E 'assertion violated|acceptance cycle|invalid end state|error' "$dir/pan.log" >&2 || true
    # shellcheck disable=SC2086
    (cd "$dir" && spin $sdefs -t -p -g -l upgrade_machine.pml 2>&1 | tail -200) >&2
    echo "check-model: full trail: cd $dir && spin $sdefs -t -p -g -l upgrade_machine.pml" >&2
    status=1
  fi
}

run liveness "-DNOFAULTS" "-DNOFAULTS -DNFAIR=3" "-a -f -m200000" ok
run faults1 "-DMAXFAULTS=1 -DMAXADMIN=1" "-DSAFETY -DCOLLAPSE" "-m200000 -w24" ok
# about 20 minutes or more on the shared 2-core machine: make check-long only
if [ "${MODEL_LONG:-0}" = 1 ]; then
  run faults3 "-DMAXFAULTS=3 -DMAXADMIN=2" "-DSAFETY -DBITSTATE" "-m200000 -w28 -k3" ok
fi
run mutation "-DMAXFAULTS=1 -DMAXADMIN=1 -DNO_BUDGET_CHECK" "-DSAFETY" "-m200000 -w20" violation
exit $status
