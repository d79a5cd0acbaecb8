#!/bin/sh
# The mf benchmarks (docs/benchmarks.md, "Matrix factorization on 4.5 M
# ratings"): mf_sgd and mf_block against the plain serial C loop
# (bench/mf_serial.c) on the synthetic set of bench/gen_ratings.c, rank 32,
# 20 epochs.
#   mf_epoch  training throughput at -w 1 and -w 2 against the loop's, per
#             core (targets >= 2.0), and -w 2 against -w 1 (>= 1.8);
#   mf_job    the whole job at -w 2 (spawn to exit) against the loop's whole
#             job (>= 4), its test RMSE (<= 0.40) and peak RSS (<= 250 MB);
#   scaling   mf_sgd at -p 2 -w 1 against -p 1 -w 1, training throughput
#             (>= 1.7).
# Beside -w 2 / -w 1 it prints what two cores give the kernel alone, with
# no engine (bench/mf_threads.c: one plain thread against two, same minutes).
# mf_sgd runs at --dtype float64, the loop's float type and the one the
# memory target is set at; its default is float32 (docs/benchmarks.md).
# A repeat runs the six jobs (loop, mf_sgd -w 1, -w 2, -p 2 -w 1, mf_block
# -w 1, -w 2) back to back, starting one further down the list each repeat;
# the ratios are taken within a repeat and their medians reported by
# bench/mf_report.lua. Writes build/bench/mf.json, the runs' logs and
# metrics (build/bench/mf-*), and rows of the summary of bench/run.sh.
#
# Environment (defaults in brackets): PMLS_BENCH_MF_REPEATS [3] repeats;
# PMLS_BENCH_QUICK [0] 1: one repeat; PMLS_BENCH_MF_BUDGET [420] seconds
# after which no new repeat starts; PMLS_BENCH_MF_TIMEOUT [900] seconds a
# job may take; PMLS_BENCH_MF_DATA [build/bench/data/mf45] where the set is
# (generated there when missing); PMLS_BENCH_MF_FLAGS [] engine options
# added to every pmls run (e.g. "--consistency essp --staleness 2").
set -u
cd "$(dirname "$0")/.." || exit 1

NAME=mf
OUT=${PMLS_BENCH_OUT:-build/bench}
PMLS=build/bin/pmls
BIN=$OUT/bin
RANK=32
EPOCHS=20
if [ "${PMLS_BENCH_QUICK:-0}" != 0 ]; then REPEATS=1; else REPEATS=${PMLS_BENCH_MF_REPEATS:-3}; fi
BUDGET=${PMLS_BENCH_MF_BUDGET:-420}
TIMEOUT=${PMLS_BENCH_MF_TIMEOUT:-900}
DATA=${PMLS_BENCH_MF_DATA:-build/bench/data/mf45}
FLAGS=${PMLS_BENCH_MF_FLAGS:-}
. bench/common.sh
bench_prepare
mkdir -p "$BIN"

# The loop is built the way its user would build it: -O3, nothing more.
# The generator needs -ffp-contract=off to write the same set everywhere.
CC=${CC:-cc}
WARN="-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes"
$CC -std=c11 -D_GNU_SOURCE -O2 -ffp-contract=off $WARN -o "$BIN/gen_ratings" bench/gen_ratings.c -lm &&
  $CC -std=c11 -D_GNU_SOURCE -O3 $WARN -o "$BIN/mf_serial" bench/mf_serial.c -lm &&
  $CC -std=c11 -D_GNU_SOURCE -O2 $WARN -o "$BIN/mf_time" bench/mf_time.c &&
  $CC -std=c11 -D_GNU_SOURCE -Iengine/include -O2 $WARN -o "$BIN/mf_threads" bench/mf_threads.c \
    -Wl,--whole-archive build/lib/libpmls.a -Wl,--no-whole-archive \
    $(pkg-config --libs luajit nanomsg zlib libsodium libcrypto) -ljemalloc -lpthread -ldl -lm ||
  { echo "mf: cannot build bench/gen_ratings.c, mf_serial.c, mf_time.c or mf_threads.c" >&2; exit 1; }

TRAIN=$DATA/train.txt
TEST=$DATA/test.txt
if [ ! -f "$TRAIN" ] || [ ! -f "$TEST" ]; then
  echo "mf: generating the rating set into $DATA"
  mkdir -p "$DATA" && rm -f "$TRAIN" "$TEST" &&
    "$BIN/gen_ratings" "$TRAIN" "$TEST" || { echo "mf: cannot generate the set" >&2; exit 1; }
fi
RATINGS=$(wc -l < "$TRAIN")

MANIFEST=$OUT/mf-manifest.tsv
{
  printf '#param\tdata\t%s (bench/gen_ratings.c)\n' "$DATA"
  printf '#param\ttrain_ratings\t%s\n' "$RATINGS"
  printf '#param\trank\t%s\n' "$RANK"
  printf '#param\tepochs\t%s\n' "$EPOCHS"
  printf '#param\tengine flags\t%s\n' "${FLAGS:-(defaults)}"
  printf '#param\tcores\t%s\n' "$(nproc)"
  printf '#param\tgit\t%s\n' "$(git describe --always --dirty 2>/dev/null || echo unknown)"
} > "$MANIFEST"

CONFIGS="serial sgd_w1 sgd_w2 sgd_p2 block_w1 block_w2 kernel"
failed=0
one() { # config repeat
  cfg=$1 rep=$2
  base=$OUT/mf-$cfg-$rep
  rm -f "$base.jsonl" # --metrics appends
  case $cfg in
    serial) set -- "$BIN/mf_serial" -r $RANK -e $EPOCHS -s "$rep" "$TRAIN" "$TEST" ;;
    kernel) set -- "$BIN/mf_threads" -r $RANK "$TRAIN" ;;
    sgd_*) set -- "$PMLS" run models/mf_sgd.lua --dtype float64 ;;
    block_*) set -- "$PMLS" run models/mf_block.lua ;;
  esac
  case $cfg in
    *_w1) set -- "$@" -w 1 ;;
    *_w2) set -- "$@" -w 2 ;;
    *_p2) set -- "$@" -p 2 -w 1 ;;
  esac
  if [ "$cfg" != serial ] && [ "$cfg" != kernel ]; then
    # shellcheck disable=SC2086
    set -- "$@" -q --seed "$rep" --metrics "$base.jsonl" $FLAGS \
      --data "$TRAIN" --test "$TEST" --rank $RANK --epochs $EPOCHS
  fi
  if "$BIN/mf_time" -t "$TIMEOUT" -o "$base.log" -- "$@" > "$base.time"; then
    printf '%s\t%s\t%s\n' "$cfg" "$rep" "$base" >> "$MANIFEST"
    printf '  %-8s repeat %s: %s\n' "$cfg" "$rep" "$(cat "$base.time")"
  else
    echo "mf: the $cfg run (repeat $rep) failed: $(cat "$base.time"); see $base.log" >&2
    tail -n 5 "$base.log" >&2
    failed=$((failed + 1))
  fi
}

started=$(date +%s)
rep=1
while [ "$rep" -le "$REPEATS" ]; do
  if [ "$rep" -gt 1 ] && [ $(($(date +%s) - started)) -ge "$BUDGET" ]; then
    echo "mf: ${BUDGET}s budget spent: stopping after $((rep - 1)) repeat(s)"
    break
  fi
  # Rotate the order, so that no job always runs first (or last).
  skip=$(((rep - 1) % 7))
  first="" rest=""
  k=0
  for c in $CONFIGS; do
    if [ "$k" -lt "$skip" ]; then rest="$rest $c"; else first="$first $c"; fi
    k=$((k + 1))
  done
  for c in $first $rest; do one "$c" "$rep"; done
  rep=$((rep + 1))
done
echo "mf: $(($(date +%s) - started))s of runs"

luajit bench/mf_report.lua "$MANIFEST" "$OUT" || exit 1
[ "$failed" -eq 0 ]
