#!/bin/bash
# Runs every Check suite given; prints one summary line and fails if any
# suite failed. Usage: run-unit.sh BUILD_DIR SUITE...
set -u
build=$1; shift
passed=0; failed=0; failed_names=()
for t in "$@"; do
  log="$build/tests/$(basename "$t").log"
  if "$t" >"$log" 2>&1; then
    passed=$((passed + 1))
    echo "  ok    $(basename "$t"): $(grep -E '^[0-9]+%: Checks' "$log" | tail -1)"
  else
    failed=$((failed + 1)); failed_names+=("$(basename "$t")")
    echo "  FAIL  $(basename "$t") (log: $log)"
    tail -n 30 "$log" | sed 's/^/        /'
  fi
done
echo "unit suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
