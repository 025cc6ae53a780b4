#!/usr/bin/env bash
# Fuzzes the protocol core for a bounded time (docs/fuzzing.md):
#   bash scripts/fuzz.sh [SECONDS] [p2p|http|all]     (default: 60 all)
# Each fuzzer starts from a copy of its committed seed corpus in
# build/fuzz/work/<target> (new inputs land there, never in test/fuzz/corpus),
# writes crash inputs to build/fuzz/crashes/<target>/ and stops after SECONDS.
# Exit status: 0 no crash, 1 a crash was found, 2 usage or build error.
set -uo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
which=${2:-all}
case "$secs" in ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number (got '$secs')" >&2; exit 2 ;; esac
case "$which" in
  all) targets=(p2p http) ;;
  p2p|http) targets=("$which") ;;
  *) echo "usage: bash scripts/fuzz.sh [SECONDS] [p2p|http|all]" >&2; exit 2 ;;
esac

make -s fuzz || { echo "fuzz.sh: make fuzz failed" >&2; exit 2; }

status=0
for t in "${targets[@]}"; do
  work=build/fuzz/work/$t crashes=build/fuzz/crashes/$t log=build/fuzz/$t.log
  mkdir -p "$work" "$crashes"
  cp test/fuzz/corpus/$t/* "$work"/   # seeds refreshed; found inputs (hash names) kept
  echo "fuzz.sh: $t for ${secs}s (corpus $work, crashes $crashes, log $log)"
  # -rss_limit_mb: a session must not need much memory whatever it is sent.
  build/fuzz/fuzz_$t -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "$work" >"$log" 2>&1
  rc=$?
  grep -E '^#[0-9]+.*DONE|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" | sed "s/^/  $t: /"
  found=$(grep -E '^(==[0-9]+==ERROR|SUMMARY: |artifact_prefix|Test unit written to)' "$log")
  if [ $rc -ne 0 ] || [ -n "$found" ]; then
    echo "fuzz.sh: $t FOUND A CRASH (exit $rc):" >&2
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written to|deadly signal|timeout|out-of-memory' "$log" | head -20 | sed "s/^/  $t: /" >&2
    status=1
  else
    echo "  $t: no crash"
  fi
done
exit $status
