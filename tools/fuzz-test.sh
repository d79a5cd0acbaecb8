#!/bin/sh
# The fuzz harnesses in `make test` (TAP, counted by run-tests.sh): each
# corpus of engine/fuzz/corpus/ replayed by the gcc-built driver under ASan
# and UBSan, then, where libFuzzer was built (build/fuzz/), a short run of
# each harness from its corpus (FUZZ_TEST_SECONDS, default 3) on a scratch
# directory, so the committed corpus is left alone.
set -u
cd "$(dirname "$0")/.."
secs=${FUZZ_TEST_SECONDS:-3}
scratch=$(mktemp -d /tmp/pmls-fuzz-test-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
n=0
for src in engine/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c | sed 's/^fuzz_//')
  corpus=engine/fuzz/corpus/$name
  n=$((n + 1))
  out=$(build/fuzz-replay/"$name" "$corpus" 2>&1)
  if [ $? -eq 0 ]; then
    echo "ok $n - fuzz $name: corpus $(echo "$out" | tail -n 1) (gcc, ASan + UBSan)"
  else
    echo "not ok $n - fuzz $name: corpus replay failed"
    echo "$out" | tail -n 40 | sed 's/^/# /'
  fi
  n=$((n + 1))
  if [ ! -x build/fuzz/"$name" ]; then
    echo "ok $n - fuzz $name: libFuzzer run # SKIP no libFuzzer (clang -fsanitize=fuzzer)"
    continue
  fi
  mkdir -p "$scratch/$name"
  log=$scratch/$name.log
  build/fuzz/"$name" -max_total_time="$secs" -close_fd_mask=3 -timeout=20 \
    -rss_limit_mb=2048 -artifact_prefix="$scratch/$name-" \
    "$scratch/$name" "$corpus" > "$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
  if [ $rc -eq 0 ] && [ -n "$runs" ]; then
    echo "ok $n - fuzz $name: $runs executions in ${secs} s (libFuzzer, ASan + UBSan)"
  else
    echo "not ok $n - fuzz $name: libFuzzer found a bug (exit $rc)"
    grep -E 'ERROR|SUMMARY|broken|runtime error|Test unit written' "$log" | head -n 10 | sed 's/^/# /'
    for a in "$scratch/$name"-*; do [ -f "$a" ] && echo "# input: $(od -An -c "$a" | head -n 4 | tr -s ' ')"; done
  fi
done
