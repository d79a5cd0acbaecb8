#!/bin/sh
# `make fuzz`: runs each harness named (build/fuzz/NAME) for SECONDS at low
# priority, one at a time, from its seed corpus and what earlier runs found
# (build/fuzz-out/NAME/corpus/, kept between runs; the committed corpus is
# left alone). Prints the executions and what was found per harness; a
# crash, leak, timeout or out-of-memory leaves its input in
# build/fuzz-out/NAME/ (crash-*, leak-*, timeout-*, oom-*) and the log in
# build/fuzz-out/NAME.log. Exits non-zero when any harness found something.
set -u
cd "$(dirname "$0")/.."
secs=$1
shift
status=0
for name in "$@"; do
  dir=build/fuzz-out/$name
  mkdir -p "$dir/corpus"
  log=build/fuzz-out/$name.log
  nice -n 10 build/fuzz/"$name" -max_total_time="$secs" -close_fd_mask=3 \
    -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$dir/" "$dir/corpus" "engine/fuzz/corpus/$name" \
    > "$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  found=$(ls "$dir" | grep -cE '^(crash|leak|timeout|oom|slow-unit)-')
  cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
  if [ $rc -eq 0 ]; then
    old=""
    [ "$found" -gt 0 ] && old=" (earlier findings still in $dir: $found)"
    echo "fuzz $name: ${runs:-?} executions in $secs s, coverage ${cov:-?}, no crash$old"
  else
    status=1
    echo "fuzz $name: ${runs:-?} executions, stopped on a finding (exit $rc): see $log"
    grep -E 'ERROR|SUMMARY|broken|runtime error|Test unit written' "$log" | head -n 5 | sed 's/^/  /'
  fi
done
exit $status
