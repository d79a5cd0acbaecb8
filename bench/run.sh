#!/bin/sh
# The micro-benchmarks of `make bench` (see docs/benchmarks.md).
#
# Each benchmark times a reference in the same run, interleaved with the
# subject, and reports the median ratio over repeats against the issue's
# target: one line per result, build/bench/<name>.json, and a row in the
# summary table printed at the end. A ratio below target is reported as
# BELOW and does not fail the run; a benchmark that cannot run at all
# (build error, crash) is reported as ERROR and makes the exit status 1.
#
# Environment: PMLS_BENCH_REPEATS (default 7), PMLS_BENCH_MF_REPEATS
# (default 5; bench/mf.sh's default is 3), PMLS_BENCH_READER_REPEATS (default 3), PMLS_DATA (default
# ../shared/data: where ml-100k.tar.xz is).
# A later benchmark (bench/straggler.sh, run last when it exists) adds its
# rows to the table by appending "name<TAB>ratio<TAB>op<TAB>target<TAB>status
# <TAB>note" lines to $PMLS_BENCH_SUMMARY and its JSON to $PMLS_BENCH_OUT.
set -u
cd "$(dirname "$0")/.."

OUT=build/bench
BIN=$OUT/bin
export PMLS_BENCH_OUT="$OUT"
export PMLS_BENCH_SUMMARY="$OUT/summary.tsv"
mkdir -p "$BIN"
rm -f "$OUT"/*.json "$PMLS_BENCH_SUMMARY"
errors=0

error_row() { # name why
  printf '%s\t-\t-\t-\tERROR\t%s\n' "$1" "$2" >> "$PMLS_BENCH_SUMMARY"
  errors=$((errors + 1))
}

if [ ! -f build/lib/libpmls.a ]; then
  echo "bench: build/lib/libpmls.a is missing: run 'make bench' (or make) first" >&2
  exit 1
fi

# The test binaries' flags (Makefile): the whole static library, exported
# symbols, LuaJIT, nanomsg and zlib from pkg-config, jemalloc.
CC=${CC:-cc}
WARN="-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-format-truncation"
PKG_CFLAGS=$(pkg-config --cflags luajit nanomsg zlib libsodium libcrypto)
PKG_LIBS=$(pkg-config --libs luajit nanomsg zlib libsodium libcrypto)
build() { # name -> builds $BIN/name from bench/name.c
  if ! $CC -std=c11 -D_GNU_SOURCE -Iengine/include -Ibench -O2 -g $WARN \
      -rdynamic $PKG_CFLAGS -o "$BIN/$1" "bench/$1.c" \
      -Wl,--whole-archive build/lib/libpmls.a -Wl,--no-whole-archive \
      $PKG_LIBS -ljemalloc -lpthread -ldl -lm; then
    echo "bench: cannot build bench/$1.c" >&2
    return 1
  fi
}

run() { # title name [args...]
  title=$1
  name=$2
  shift 2
  echo "== $title"
  if ! build "$name"; then
    error_row "$name" "build failed"
    return
  fi
  t0=$(date +%s)
  if ! "$BIN/$name" "$@"; then
    error_row "$name" "exited with an error (see above)"
  fi
  echo "   ($(($(date +%s) - t0)) s)"
}

started=$(date +%s)
run "cached get + inc vs C axpy (target >= 0.5)" bench_cache
run "update through views and delta pointers vs C axpy (target >= 0.8)" bench_views
run "streaming increments vs raw PUSH/PULL (target >= 0.7); tcp+auth vs tcp (target >= 0.8)" bench_stream
run "cache-miss read vs raw round trip (target <= 1.5)" bench_miss
run "data readers vs a strtol/strtod loop (targets >= 1.0, >= 150 MB/s per core)" bench_readers

# The corpus readers against a strtol loop; AP is extracted into build/data.
DATA=${PMLS_DATA:-../shared/data}
if [ ! -f build/data/ap/ap.dat ] && [ -f "$DATA/ap-blei.tar.xz" ]; then
  mkdir -p build/data && tar -xJf "$DATA/ap-blei.tar.xz" -C build/data
fi
run "corpus readers vs a strtol loop (target >= 1; 150 MB/s per core)" \
  bench_corpus build/data/ap

# MovieLens-100K is extracted into build/data (never into the repository).
DATA=${PMLS_DATA:-../shared/data}
ML=build/data/ml-100k
if [ ! -f "$ML/ua.base" ] && [ -f "$DATA/ml-100k.tar.xz" ]; then
  mkdir -p build/data && tar -xJf "$DATA/ml-100k.tar.xz" -C build/data
fi
run "mf_sgd scaling, -p 2 over -p 1 (target >= 1.7)" bench_mfsgd \
  build/bin/pmls models/mf_sgd.lua "$ML/ua.base" "$ML/ua.test"

# mf_sgd and mf_block against the serial C loop on 4.5 M synthetic ratings
# (bench/mf.sh: mf_epoch, mf_job, scaling); adds its rows and mf.json.
if [ -x bench/mf.sh ]; then
  echo "== mf on 4.5 M ratings (bench/mf.sh)"
  t0=$(date +%s)
  if ! bench/mf.sh; then
    error_row mf "bench/mf.sh exited with an error"
  fi
  echo "   ($(($(date +%s) - t0)) s)"
fi

if [ -x bench/straggler.sh ]; then
  echo "== straggler (bench/straggler.sh)"
  t0=$(date +%s)
  if ! bench/straggler.sh; then
    error_row straggler "bench/straggler.sh exited with an error"
  fi
  echo "   ($(($(date +%s) - t0)) s)"
fi

# LDA on 20news and AP against MALLET's figures (bench/lda.sh,
# docs/topic-models.md); adds its rows and lda.json.
if [ -x bench/lda.sh ]; then
  echo "== lda (bench/lda.sh)"
  t0=$(date +%s)
  if ! bench/lda.sh; then
    error_row lda "bench/lda.sh exited with an error"
  fi
  echo "   ($(($(date +%s) - t0)) s)"
fi

# The LDA experiments (docs/topic-models.md, "Experiments"): consistency
# models with a slowed worker, SSP against ESSP under random pauses, and
# token-samples/s against K; tables and plots, no target rows.
if [ -x bench/lda_experiments.sh ]; then
  echo "== lda experiments (bench/lda_experiments.sh)"
  t0=$(date +%s)
  if ! bench/lda_experiments.sh; then
    error_row lda_experiments "bench/lda_experiments.sh exited with an error"
  fi
  echo "   ($(($(date +%s) - t0)) s)"
fi

# The Lasso scheduling experiment (docs/lasso_sched.md): SAP against
# Shotgun at increasing parallelism; adds its rows and lasso_sched.json the
# same way as bench/straggler.sh.
if [ -x bench/lasso_sched.sh ]; then
  echo "== lasso scheduling (bench/lasso_sched.sh)"
  t0=$(date +%s)
  if ! bench/lasso_sched.sh; then
    error_row lasso_sched "bench/lasso_sched.sh exited with an error"
  fi
  echo "   ($(($(date +%s) - t0)) s)"
fi

# models/lasso.lua against glmnet on BASELINES.md's problems, both timed
# here (docs/lasso_glmnet.md); adds a summary row per problem.
if [ -f bench/lasso_glmnet.lua ]; then
  echo "== lasso against glmnet (bench/lasso_glmnet.lua)"
  t0=$(date +%s)
  if ! luajit bench/lasso_glmnet.lua; then
    error_row lasso_glmnet "bench/lasso_glmnet.lua exited with an error"
  fi
  echo "   ($(($(date +%s) - t0)) s)"
fi

# models/logreg.lua at its defaults against liblinear on a9a and 20news,
# whole jobs side by side (docs/benchmarks.md, section 7); adds the rows
# logreg_a9a and logreg_20news and logreg.json.
if [ -x bench/logreg.sh ]; then
  echo "== logreg against liblinear (bench/logreg.sh)"
  t0=$(date +%s)
  if ! bench/logreg.sh; then
    error_row logreg "bench/logreg.sh exited with an error"
  fi
  echo "   ($(($(date +%s) - t0)) s)"
fi

# models/mlr.lua at its defaults against scikit-learn's lbfgs on the
# 20-class 20news set (docs/mlr.md); adds the row mlr_20news.
if [ -x bench/mlr.sh ]; then
  echo "== mlr against scikit-learn (bench/mlr.sh)"
  t0=$(date +%s)
  if ! bench/mlr.sh; then
    error_row mlr "bench/mlr.sh exited with an error"
  fi
  echo "   ($(($(date +%s) - t0)) s)"
fi

# What checkpoints cost: seconds per GB written, and mf_sgd's slowdown at
# the default interval (bench/checkpoint.sh; docs/fault-tolerance.md).
if [ -x bench/checkpoint.sh ]; then
  echo "== checkpoints (bench/checkpoint.sh)"
  t0=$(date +%s)
  if ! bench/checkpoint.sh; then
    error_row checkpoint "bench/checkpoint.sh exited with an error"
  fi
  echo "   ($(($(date +%s) - t0)) s)"
fi

# build/bench/results.json: every benchmark's JSON under its name.
{
  printf '{"date":"%s","host":"%s","cores":%s,"git":"%s","seconds":%s,"results":{' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(uname -n)" "$(nproc)" \
    "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "$(($(date +%s) - started))"
  sep=""
  for f in "$OUT"/*.json; do
    [ -f "$f" ] || continue
    case "$f" in */results.json) continue ;; esac
    printf '%s"%s":' "$sep" "$(basename "$f" .json)"
    tr -d '\n' < "$f"
    sep=","
  done
  printf '}}\n'
} > "$OUT/results.json.tmp" && mv "$OUT/results.json.tmp" "$OUT/results.json"

echo
echo "Summary (median ratios of one run; they vary by machine and by run):"
if [ -f "$PMLS_BENCH_SUMMARY" ]; then
  awk -F '\t' '
    BEGIN { printf "%-36s %8s  %-8s %-6s %s\n", "benchmark", "ratio", "target", "status", "notes" }
    { tgt = ($3 == "-") ? "-" : $3 " " $4
      printf "%-36s %8s  %-8s %-6s %s\n", $1, $2, tgt, $5, $6 }' "$PMLS_BENCH_SUMMARY"
  below=$(awk -F '\t' '$5 == "BELOW"' "$PMLS_BENCH_SUMMARY" | wc -l)
  passed=$(awk -F '\t' '$5 == "PASS"' "$PMLS_BENCH_SUMMARY" | wc -l)
  echo "$passed at target, $below below target, $errors errors; JSON in $OUT/results.json"
fi
[ "$errors" -eq 0 ]
{ s=$?; [ ! -x bench/block_straggler.sh ] || { echo "== block straggler (bench/block_straggler.sh)"; bench/block_straggler.sh; } || s=1; exit $s; }
