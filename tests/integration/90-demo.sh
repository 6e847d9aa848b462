#!/bin/bash
# `make demo` keeps working: run the demo script for a moment and check
# that all five nodes were accepted, registered and healthy, and that it
# cleaned up after itself.
set -u
out=$(DEMO_SECONDS=1 timeout 120 "$TOP/scripts/demo.sh" "$BUILD" 2>&1); rc=$?
echo "$out"
fail=0
[ $rc -eq 0 ] || { echo "FAILED: demo exit $rc"; fail=1; }
for n in db1 db2 db3 ctrl1 compute1; do
  grep -q "^$n: accepted" <<<"$out" || { echo "FAILED: $n not accepted"; fail=1; }
  grep -qE "^$n +[a-z]+ +127.0.0.1 +[0-9.]+ +healthy .* online" <<<"$out" || { echo "FAILED: $n not healthy and online"; fail=1; }
done
grep -q "^5 nodes" <<<"$out" || { echo "FAILED: nodes does not list 5"; fail=1; }
dir=$(sed -n 's/^== stopped; removed //p' <<<"$out")
[ -n "$dir" ] && [ ! -e "$dir" ] || { echo "FAILED: demo directory not removed"; fail=1; }
if [ $fail -eq 0 ]; then echo "90-demo: 1 passed, 0 failed"; else echo "90-demo: 0 passed, 1 failed"; fi
exit $fail
