#!/bin/sh
# The LDA experiments (docs/topic-models.md, "Experiments"): models/lda.lua
# on the 20news training documents, K = 20, -w 2, the log-likelihood
# reported every clock (one Gibbs sweep).
#   consistency  BSP, SSP s = 1..3, ESSP s = 2 and Async with worker 1
#                slowed (its sweeps take LDA_EXP_FACTOR times the CPU time,
#                and it pauses LDA_EXP_PAUSE_MS with probability
#                LDA_EXP_PAUSE_PROB per clock): LL/token against time, as
#                in the seeds' LDA plot.
#   pauses       SSP against ESSP at the same s = 2 with no persistent
#                straggler: every worker pauses at random. The ESSP paper's
#                claim is that both the mean and the variance of the
#                staleness of reads fall; the table shows both for the
#                word-topic table.
#   topics       token-samples/s against K (20 ... 1000), a few sweeps each.
# Writes the runs' metrics (build/bench/lda-exp-*.jsonl), the tables
# (build/bench/lda-experiments.md, pasted into docs/topic-models.md) and,
# with gnuplot, the plots docs/lda-consistency.svg and docs/lda-pauses.svg
# (through `pmls plot`). Each run's line says the load average before it:
# the machine is shared, and the curves move with it.
#
# Environment (defaults in brackets): PMLS_DATA [../shared/data];
# LDA_EXP_ITERS [100] sweeps per consistency run; LDA_EXP_FACTOR [2];
# LDA_EXP_PAUSE_PROB [0.1]; LDA_EXP_PAUSE_MS [50]; LDA_EXP_TOPICS
# ["20 50 100 200 500 1000"]; LDA_EXP_KITERS [10] sweeps per K;
# LDA_EXP_SKIP [""] names of experiments not to run.
set -u
cd "$(dirname "$0")/.." || exit 1
OUT=${PMLS_BENCH_OUT:-build/bench}
DATA=${PMLS_DATA:-../shared/data}
ITERS=${LDA_EXP_ITERS:-100}
FACTOR=${LDA_EXP_FACTOR:-2}
PAUSE_PROB=${LDA_EXP_PAUSE_PROB:-0.1}
PAUSE_MS=${LDA_EXP_PAUSE_MS:-50}
TOPICS=${LDA_EXP_TOPICS:-20 50 100 200 500 1000}
KITERS=${LDA_EXP_KITERS:-10}
SKIP=${LDA_EXP_SKIP:-}
PMLS=build/bin/pmls
NAME=lda_experiments
. bench/common.sh
bench_prepare
if [ ! -f "$DATA/docword.20news.txt.gz" ]; then
  echo "bench/lda_experiments.sh: $DATA/docword.20news.txt.gz not found (set PMLS_DATA); skipped" >&2
  exit 0
fi
NEWS="--data $DATA/docword.20news.txt.gz --vocab $DATA/vocab.20news.txt.gz --test-docs 7532 --top-words 0"
TABLES=$OUT/lda-experiments.md
: > "$TABLES"


# run NAME ARGS...: one pmls run into $OUT/lda-exp-NAME.jsonl
run() {
  name=$1
  shift
  m=$OUT/lda-exp-$name.jsonl
  rm -f "$m"
  printf '  %-14s load %s\n' "$name" "$(cut -d' ' -f1 /proc/loadavg)"
  # shellcheck disable=SC2086
  $PMLS run models/lda.lua $NEWS "$@" -qq --metrics "$m" > "$OUT/lda-exp-$name.log" 2>&1 || {
    echo "lda experiments: the $name run failed (see $OUT/lda-exp-$name.log)" >&2
    return 1
  }
}

skipped() { case " $SKIP " in *" $1 "*) return 0 ;; esac; return 1; }

plot() { # out.svg title files...
  out=$1 title=$2
  shift 2
  if command -v gnuplot > /dev/null 2>&1; then
    $PMLS plot "$@" -o "$out" --title "$title" ll_token > /dev/null 2>&1 ||
      echo "lda experiments: pmls plot failed for $out" >&2
  fi
}

failed=0
if ! skipped consistency; then
  echo "consistency: K = 20, $ITERS sweeps, worker 1 slowed x$FACTOR, pauses $PAUSE_PROB x ${PAUSE_MS} ms"
  files=""
  for model in bsp ssp1 ssp2 ssp3 essp2 async; do
    # shellcheck disable=SC2046
    run "$model" --topics 20 --iters "$ITERS" -w 2 $(bench_consistency_flags "$model") --slow-worker 1 \
      --slow-factor "$FACTOR" --pause-prob "$PAUSE_PROB" --pause-ms "$PAUSE_MS" || failed=1
    files="$files $OUT/lda-exp-$model.jsonl"
  done
  # shellcheck disable=SC2086
  luajit bench/lda_experiments_report.lua consistency $files >> "$TABLES" || failed=1
  # shellcheck disable=SC2086
  plot docs/lda-consistency.svg "LDA, 20news K=20, worker 1 slowed" $files
fi
if ! skipped pauses; then
  echo "pauses: SSP against ESSP, s = 2, every worker pausing ($PAUSE_PROB x ${PAUSE_MS} ms)"
  files=""
  for model in ssp2 essp2; do
    # shellcheck disable=SC2046
    run "pauses-$model" --topics 20 --iters "$ITERS" -w 2 $(bench_consistency_flags "$model") --pause-on all \
      --pause-prob "$PAUSE_PROB" --pause-ms "$PAUSE_MS" || failed=1
    files="$files $OUT/lda-exp-pauses-$model.jsonl"
  done
  # shellcheck disable=SC2086
  luajit bench/lda_experiments_report.lua pauses $files >> "$TABLES" || failed=1
  # shellcheck disable=SC2086
  plot docs/lda-pauses.svg "LDA, 20news K=20, random pauses on every worker" $files
fi
if ! skipped topics; then
  echo "topics: token-samples/s against K, $KITERS sweeps each"
  files=""
  for k in $TOPICS; do
    run "k$k" --topics "$k" --iters "$KITERS" -w 2 --ll-every 0 || failed=1
    files="$files $OUT/lda-exp-k$k.jsonl"
  done
  # shellcheck disable=SC2086
  luajit bench/lda_experiments_report.lua topics $files >> "$TABLES" || failed=1
fi
echo "tables: $TABLES"
cat "$TABLES"
exit $failed
