#!/bin/bash
# Runs every tests/integration/*.sh with BUILD=absolute build dir. Each test
# is a bash script using tests/lib/itest.sh; exit 0 = pass, 77 = skipped.
# Prints "N passed, N failed, N skipped" and fails if any failed.
# ITEST_ONLY=pattern runs only matching tests.
set -u
build=$(cd "$1" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
passed=0; failed=0; skipped=0
for t in "$top"/tests/integration/*.sh; do
  name=$(basename "$t" .sh)
  if [ -n "${ITEST_ONLY:-}" ] && [[ "$name" != *${ITEST_ONLY}* ]]; then continue; fi
  log="$build/itest-$name.log"
  start=$(date +%s)
  BUILD=$build TOP=$top bash "$t" >"$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  case $rc in
    0) passed=$((passed + 1)); echo "  ok    $name (${secs}s)";;
    77) skipped=$((skipped + 1)); echo "  skip  $name: $(tail -n 1 "$log")";;
    *) failed=$((failed + 1)); echo "  FAIL  $name (${secs}s, log: $log)"; tail -n 40 "$log" | sed 's/^/        /';;
  esac
done
echo "integration: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
