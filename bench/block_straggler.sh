#!/bin/sh
# The block-scheduling straggler experiment (docs/block_straggler.md):
# matrix factorization by block-scheduled SGD (models/mf_block.lua) on
# MovieLens-100K with 2 workers, worker 1 slowed down by a factor F, with
# slow-worker-agnostic rounds (the default: a worker done early runs more
# passes over its block) against the barrier (--no-agnostic: it waits).
# For each (mode, F): time to reach a fixed training RMSE, final test RMSE,
# rounds and the per-worker pass balance. Writes the table into
# docs/block_straggler.md, build/bench/block_straggler.json, and the plot
# docs/block_straggler.svg (when gnuplot is installed).
#
# Environment (defaults in brackets): BLOCK_STRAGGLER_REPEATS [5] runs per
# configuration (seeds 1..N); BLOCK_STRAGGLER_FACTORS ["1 2 4 8"];
# BLOCK_STRAGGLER_EPOCHS [20]; BLOCK_STRAGGLER_TARGET_EPOCH [15] (the
# target is the barrier F=1 runs' median training RMSE after that epoch);
# PMLS_DATA [../shared/data] (where ml-100k.tar.xz is, if build/data/ml-100k
# is missing).
set -u
cd "$(dirname "$0")/.." || exit 1

REPEATS=${BLOCK_STRAGGLER_REPEATS:-5}
FACTORS=${BLOCK_STRAGGLER_FACTORS:-"1 2 4 8"}
EPOCHS=${BLOCK_STRAGGLER_EPOCHS:-20}
TARGET_EPOCH=${BLOCK_STRAGGLER_TARGET_EPOCH:-15}
WORKERS=2
SLOW=1
RANK=32
OUT=build/bench
PMLS=build/bin/pmls

DATA=${PMLS_DATA:-../shared/data}
NAME=block_straggler
. bench/common.sh
bench_movielens
bench_prepare

MANIFEST=$OUT/block_straggler-manifest.tsv
{
  printf '#param\tdata\tMovieLens-100K ua.base -> ua.test\n'
  printf '#param\tmodel\tmodels/mf_block.lua\n'
  printf '#param\tworkers\t%s\n' "$WORKERS"
  printf '#param\trank\t%s\n' "$RANK"
  printf '#param\tepochs\t%s\n' "$EPOCHS"
  printf '#param\tslow worker\t%s\n' "$SLOW"
  printf '#param\tslow factors\t%s\n' "$FACTORS"
  printf '#param\tseeds\t1..%s\n' "$REPEATS"
  printf '#param\tcores\t%s\n' "$(nproc)"
  printf '#param\tgit\t%s\n' "$(git describe --always --dirty 2>/dev/null || echo unknown)"
  printf '#window\t%s\n' "$WORKERS"   # rounds per epoch (d = workers)
  printf '#target_epoch\t%s\n' "$TARGET_EPOCH"
} > "$MANIFEST"

failed=0
one() { # mode factor repeat
  mode=$1 F=$2 rep=$3
  f=$OUT/block_straggler-$mode-F$F-$rep.jsonl
  rm -f "$f"   # --metrics appends
  extra=""
  [ "$mode" = barrier ] && extra=--no-agnostic
  # shellcheck disable=SC2086
  if "$PMLS" run models/mf_block.lua -w $WORKERS -q --seed "$rep" $extra \
      --metrics "$f" --data "$ML/ua.base" --test "$ML/ua.test" --rank $RANK \
      --epochs "$EPOCHS" --slow-worker $SLOW --slow-factor "$F"; then
    printf '%s\t%s\t%s\t%s\n' "$mode" "$F" "$rep" "$f" >> "$MANIFEST"
    printf '  %-8s F=%-3s repeat %s: %ss\n' "$mode" "$F" "$rep" \
      "$(tail -n 1 "$f" | sed -n 's/.*"time_s":\([0-9.]*\).*/\1/p')"
  else
    echo "block_straggler: the $mode F=$F run (repeat $rep) failed" >&2
    failed=$((failed + 1))
  fi
}

started=$(date +%s)
# Repeats are interleaved so that a slow spell of the machine does not land
# on one configuration only.
rep=1
while [ "$rep" -le "$REPEATS" ]; do
  for F in $FACTORS; do
    one agnostic "$F" "$rep"
    one barrier "$F" "$rep"
  done
  rep=$((rep + 1))
done
echo "block_straggler: $(($(date +%s) - started))s of runs"

luajit bench/block_straggler_report.lua "$MANIFEST" "$OUT" docs/block_straggler.md || exit 1

if command -v gnuplot >/dev/null; then
  gnuplot -e "dir='$OUT'; out='docs/block_straggler.svg'" bench/block_straggler.gp \
    && echo "block_straggler: plot in docs/block_straggler.svg"
else
  echo "block_straggler: gnuplot not installed (apt-get install gnuplot-nox): no plot"
fi
[ "$failed" -eq 0 ]
