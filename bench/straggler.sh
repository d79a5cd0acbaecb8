#!/bin/sh
# The straggler experiment (docs/straggler.md): data-parallel MF-SGD on
# MovieLens-100K with 2 workers, worker 1 slowed down (it computes
# STRAGGLER_FACTOR times slower and pauses at random), under BSP, SSP with
# s = 1..4, ESSP and Async. For each model: time to reach a fixed training
# RMSE, final test RMSE, and the staleness of the reads. Writes the table
# into docs/straggler.md, build/bench/straggler.json, and the plot
# docs/straggler.svg (when gnuplot is installed).
#
# Environment (defaults in brackets): STRAGGLER_REPEATS [3] runs per model
# with the straggler; STRAGGLER_REFERENCE [2] runs per model without it
# (0: none); STRAGGLER_FACTOR [2], STRAGGLER_PAUSE_PROB [0.1],
# STRAGGLER_PAUSE_MS [50]; STRAGGLER_MARGIN [0.05] (target = BSP's final
# training RMSE x (1 + margin)); PMLS_DATA [../shared/data] (where
# ml-100k.tar.xz is, if build/data/ml-100k is missing). Called by
# bench/run.sh, whose PMLS_BENCH_SUMMARY gets this benchmark's rows.
set -u
cd "$(dirname "$0")/.." || exit 1

REPEATS=${STRAGGLER_REPEATS:-3}
REFERENCE=${STRAGGLER_REFERENCE:-2}
FACTOR=${STRAGGLER_FACTOR:-2}
PAUSE_PROB=${STRAGGLER_PAUSE_PROB:-0.1}
PAUSE_MS=${STRAGGLER_PAUSE_MS:-50}
WORKERS=2
SLOW=1
EPOCHS=15
CPE=10
RANK=32
OUT=build/bench
PMLS=build/bin/pmls

DATA=${PMLS_DATA:-../shared/data}
NAME=straggler
. bench/common.sh
bench_movielens
bench_prepare

MODELS="bsp ssp1 ssp2 ssp3 ssp4 essp2 async"
STRAGGLER="--slow-worker $SLOW --slow-factor $FACTOR --pause-prob $PAUSE_PROB --pause-ms $PAUSE_MS"

MANIFEST=$OUT/straggler-manifest.tsv
{
  printf '#param\tdata\tMovieLens-100K ua.base -> ua.test\n'
  printf '#param\tworkers\t%s\n' "$WORKERS"
  printf '#param\trank\t%s\n' "$RANK"
  printf '#param\tepochs\t%s\n' "$EPOCHS"
  printf '#param\tclocks per epoch\t%s\n' "$CPE"
  printf '#param\tslow worker\t%s\n' "$SLOW"
  printf '#param\tslow factor (CPU time)\t%s\n' "$FACTOR"
  printf '#param\tpause probability per clock\t%s\n' "$PAUSE_PROB"
  printf '#param\tpause (ms)\t%s\n' "$PAUSE_MS"
  printf '#param\tseeds\t1..%s\n' "$REPEATS"
  printf '#param\tcores\t%s\n' "$(nproc)"
  printf '#param\tgit\t%s\n' "$(git describe --always --dirty 2>/dev/null || echo unknown)"
  printf '#window\t%s\n' "$CPE"
} > "$MANIFEST"

failed=0
one() { # condition model repeat [script options...]
  cond=$1 model=$2 rep=$3
  shift 3
  if [ "$cond" = straggler ]; then f=$OUT/straggler-$model-$rep.jsonl
  else f=$OUT/straggler-$model-nostraggler-$rep.jsonl; fi
  rm -f "$f"   # --metrics appends
  # shellcheck disable=SC2046
  if "$PMLS" run models/mf_sgd.lua -w $WORKERS -q --seed "$rep" $(bench_consistency_flags "$model") \
      --metrics "$f" --data "$ML/ua.base" --test "$ML/ua.test" --rank $RANK \
      --epochs $EPOCHS --clocks-per-epoch $CPE "$@"; then
    printf '%s\t%s\t%s\t%s\n' "$cond" "$model" "$rep" "$f" >> "$MANIFEST"
    printf '  %-9s %-6s repeat %s: %ss\n' "$cond" "$model" "$rep" \
      "$(tail -n 1 "$f" | sed -n 's/.*"time_s":\([0-9.]*\).*/\1/p')"
  else
    echo "straggler: the $model run ($cond, repeat $rep) failed" >&2
    failed=$((failed + 1))
  fi
}

started=$(date +%s)
# Repeats are interleaved (every model once, then again) so that a slow
# spell of the machine does not land on one model only.
rep=1
while [ "$rep" -le "$REPEATS" ]; do
  for m in $MODELS; do
    # shellcheck disable=SC2086
    one straggler "$m" "$rep" $STRAGGLER
  done
  rep=$((rep + 1))
done
rep=1
while [ "$rep" -le "$REFERENCE" ]; do
  for m in $MODELS; do one reference "$m" "$rep"; done
  rep=$((rep + 1))
done
echo "straggler: $(($(date +%s) - started))s of runs"

luajit bench/straggler_report.lua "$MANIFEST" "$OUT" docs/straggler.md || exit 1

if command -v gnuplot >/dev/null; then
  gnuplot -e "dir='$OUT'; out='docs/straggler.svg'; factor='$FACTOR'; pprob='$PAUSE_PROB'; pms='$PAUSE_MS'" \
    bench/straggler.gp \
    && echo "straggler: plot in docs/straggler.svg"
else
  echo "straggler: gnuplot not installed (apt-get install gnuplot-nox): no plot"
fi
[ "$failed" -eq 0 ]
