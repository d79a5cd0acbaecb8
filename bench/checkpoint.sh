#!/bin/sh
# bench/checkpoint.sh: what checkpoints cost (docs/fault-tolerance.md).
#
# 1. Seconds per GB written: bench/ckpt_table.lua (a 128 MiB float64 table,
#    clocks that cost nothing) with a snapshot at every clock, against the
#    same run without; (time with - time without) / GB of snapshots.
# 2. The slowdown at the default interval (--checkpoint-every 10): mf_sgd on
#    MovieLens-100K, 40 epochs (40 clocks, 4 snapshots), -w 2, with over
#    without; the median of PMLS_BENCH_REPEATS (default 3) interleaved pairs.
# Results: stdout, $PMLS_BENCH_OUT/checkpoint.json and a row of
# $PMLS_BENCH_SUMMARY when run from bench/run.sh (no target: a figure).
set -u
cd "$(dirname "$0")/.."
NAME=checkpoint
PMLS=build/bin/pmls
OUT=${PMLS_BENCH_OUT:-build/bench}
DATA=${PMLS_DATA:-../shared/data}
REPEATS=${PMLS_BENCH_REPEATS:-3}
. bench/common.sh
bench_prepare
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pmls-ckpt-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

now() { date +%s.%N; }
secs() { # command... -> prints its wall time
  t0=$(now)
  "$@" > "$TMP/log" 2>&1 || { cat "$TMP/log" >&2; echo "checkpoint: a run failed: $*" >&2; exit 1; }
  awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.4f\n", b - a }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# 1. seconds per GB
for i in $(seq "$REPEATS"); do
  rm -rf "$TMP/big"
  a=$(secs $PMLS run bench/ckpt_table.lua -q -w 1 --clocks 5)
  b=$(secs $PMLS run bench/ckpt_table.lua -q -w 1 --clocks 5 --checkpoint "$TMP/big" --checkpoint-every 1)
  bytes=$(du -sb "$TMP/big/ckpt-5/tables.npz" | cut -f1)
  echo "$b $a $bytes" | awk '{ printf "%.6f\n", ($1 - $2) / (5 * $3 / 1e9) }'
done > "$TMP/per_gb"
PER_GB=$(median < "$TMP/per_gb")
SNAP_MB=$(echo "$bytes" | awk '{ printf "%.1f", $1 / 1048576 }')
echo "checkpoint: $PER_GB s per GB written (snapshots of $SNAP_MB MiB, median of $REPEATS)"

# 2. the slowdown at the default interval
SLOW=-
bench_movielens
A="run models/mf_sgd.lua -q -w 2 --data $ML/ua.base --test $ML/ua.test --epochs 40"
for i in $(seq "$REPEATS"); do
  rm -rf "$TMP/mf"
  a=$(secs $PMLS $A)
  b=$(secs $PMLS $A --checkpoint "$TMP/mf")
  echo "$b $a" | awk '{ printf "%.4f %.4f %.4f\n", $1 / $2, $1, $2 }'
done > "$TMP/slow"
SLOW=$(cut -d' ' -f1 "$TMP/slow" | median)
WITH=$(cut -d' ' -f2 "$TMP/slow" | median)
WITHOUT=$(cut -d' ' -f3 "$TMP/slow" | median)
MF_KB=$(du -sb "$TMP/mf/ckpt-40/tables.npz" | awk '{ printf "%.0f", $1 / 1024 }')
echo "checkpoint: mf_sgd ML-100K 40 epochs -w 2, every 10 clocks ($MF_KB KiB a snapshot): $WITH s against $WITHOUT s, slowdown $SLOW"

printf '{"seconds_per_gb":%s,"snapshot_mib":%s,"mf_slowdown":%s,"mf_with_s":%s,"mf_without_s":%s}\n' \
  "$PER_GB" "$SNAP_MB" "$SLOW" "$WITH" "$WITHOUT" > "$OUT/checkpoint.json"
if [ -n "${PMLS_BENCH_SUMMARY:-}" ]; then
  printf 'checkpoint_mf_slowdown\t%s\t-\t-\t-\t%s s/GB written\n' "$SLOW" "$PER_GB" >> "$PMLS_BENCH_SUMMARY"
fi
