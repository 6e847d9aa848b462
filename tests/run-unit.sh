#!/bin/bash
# Runs every Check suite given; prints one summary line and fails if any
# suite failed. Usage: run-unit.sh BUILD_DIR SUITE...
#
# RUN_UNIT_WRAPPER, when set, is a command (split on blanks) each suite runs
# under, e.g. valgrind and its options (make check-valgrind); a suite fails
# when the wrapper exits non-zero as when the suite itself does.
set -u
build=$1; shift
wrapper=()
[ -n "${RUN_UNIT_WRAPPER:-}" ] && read -r -a wrapper <<<"$RUN_UNIT_WRAPPER"
passed=0; failed=0; failed_names=()
for t in "$@"; do
  log="$build/tests/$(basename "$t").log"
  if "${wrapper[@]}" "$t" >"$log" 2>&1; then
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
