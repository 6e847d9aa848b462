#!/bin/bash
# Runs each libFuzzer target for a bounded time from its seed corpus
# (tests/fuzz/corpus/NAME, copied so the tree stays clean). Any crash,
# leak or sanitizer report fails. Usage: run-fuzz.sh DIR SECONDS
set -u
dir=$1; secs=$2
top=$(cd "$(dirname "$0")/.." && pwd)
export LSAN_OPTIONS="suppressions=$top/tests/fuzz/lsan.supp:print_suppressions=0"
passed=0; failed=0
for f in "$dir"/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  work=$(mktemp -d)
  [ -d "$top/tests/fuzz/corpus/$name" ] && cp "$top/tests/fuzz/corpus/$name"/* "$work"/ 2>/dev/null
  if "$f" -max_total_time="$secs" -max_len=4096 -artifact_prefix="$dir/$name-" "$work" >"$dir/$name.log" 2>&1; then
    passed=$((passed + 1)); echo "  ok    $name: $(grep -E 'Done [0-9]+ runs' "$dir/$name.log" | tail -1)"
  else
    failed=$((failed + 1)); echo "  FAIL  $name (log: $dir/$name.log)"; tail -n 30 "$dir/$name.log" | sed 's/^/        /'
  fi
  rm -rf "$work"
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
