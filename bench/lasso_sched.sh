#!/bin/sh
# The Lasso scheduling experiment (docs/lasso_sched.md): models/lasso.lua
# with SAP (priority sampling + dependency filter, STRADS) against Shotgun
# (uniform sampling, no filter) at increasing parallelism U (coordinates
# per round), on synthetic data with correlated features and on 20news
# tf-idf. For each data set it first computes the optimum (a long run of a
# safe configuration), then runs every scheduler x U and records the rounds,
# coordinate updates and time to reach the optimum within a relative 1e-4,
# or whether the run diverged or did not get there within the round cap.
# Writes the table into docs/lasso_sched.md, build/bench/lasso_sched.json,
# and the plot docs/lasso_sched.svg (when gnuplot is installed).
#
# Environment (defaults in brackets): LASSO_SCHED_REPEATS [3] runs per
# scheduler and U (seeds 1..N); LASSO_SCHED_US ["1 4 16 64 256"];
# LASSO_SCHED_MAX_ROUNDS [5000] the round cap of a run;
# LASSO_SCHED_TIMEOUT [60] seconds before a run is killed;
# LASSO_SCHED_THETA [0.1] SAP's dependency threshold; LASSO_SCHED_EPS
# [1e-4] the target's relative distance to the optimum; PMLS_DATA
# [../shared/data] (where 20news.tfidf.binary.train.svm.gz is). Called by
# bench/run.sh, whose PMLS_BENCH_SUMMARY gets this benchmark's rows.
set -u
cd "$(dirname "$0")/.." || exit 1

REPEATS=${LASSO_SCHED_REPEATS:-3}
US=${LASSO_SCHED_US:-"1 4 16 64 256"}
MAX_ROUNDS=${LASSO_SCHED_MAX_ROUNDS:-5000}
TIMEOUT=${LASSO_SCHED_TIMEOUT:-60}
THETA=${LASSO_SCHED_THETA:-0.1}
EPS=${LASSO_SCHED_EPS:-1e-4}
LAMBDA_RATIO=0.1
WORKERS=2
TOL=1e-6            # the runs stop when the duality gap is below TOL x objective
CHECK_EVERY=20
OUT=build/bench
PMLS=build/bin/pmls
DATA=${PMLS_DATA:-../shared/data}
NEWS=$DATA/20news.tfidf.binary.train.svm.gz

# The synthetic sets: pmls.data.synthetic_lasso, every feature with mean 0
# and variance 1, every two features correlated rho x density (~0.08 and
# ~0.05 here), k = 50 true non-zeros.
SYN_SPEC="n=2000 p=2000 k=50 noise=0.1 density=0.1 seed=1"

NAME=lasso_sched
. bench/common.sh
bench_prepare
if command -v timeout >/dev/null; then
  limit() { timeout -k 5 "$TIMEOUT" "$@"; }
else
  limit() { "$@"; }
fi

# scheduler config name -> lasso.lua flags
flags() {
  case $1 in
    sap) echo "--scheduler priority --dependency $THETA --working-set 0" ;;
    sap*) echo "--scheduler priority --dependency 0.${1#sap} --working-set 0" ;;   # sap05: theta 0.05
    shotgun) echo "--scheduler uniform --dependency 1" ;;
  esac
}

MANIFEST=$OUT/lasso_sched-manifest.tsv
{
  printf '#param\tsynthetic\tsynthetic_lasso{%s}, rho 0.8 and 0.5\n' "$(echo "$SYN_SPEC" | tr ' ' ',')"
  printf '#param\tlambda ratio\t%s\n' "$LAMBDA_RATIO"
  printf '#param\tworkers\t%s\n' "$WORKERS"
  printf '#param\tU (per round)\t%s\n' "$US"
  printf '#param\tSAP dependency threshold\t%s\n' "$THETA"
  printf '#param\tround cap\t%s\n' "$MAX_ROUNDS"
  printf '#param\tcheck every\t%s rounds\n' "$CHECK_EVERY"
  printf '#param\ttol\t%s\n' "$TOL"
  printf '#param\tseeds\t1..%s\n' "$REPEATS"
  printf '#param\tcores\t%s\n' "$(nproc)"
  printf '#param\tgit\t%s\n' "$(git describe --always --dirty 2>/dev/null || echo unknown)"
  printf '#eps\t%s\n' "$EPS"
  printf '#check_every\t%s\n' "$CHECK_EVERY"
} > "$MANIFEST"

failed=0
# run NAME METRICS [lasso options...]: one run, its last line on the console
run() {
  name=$1 f=$2
  shift 2
  rm -f "$f"   # --metrics appends
  t0=$(date +%s.%N)
  limit "$PMLS" run models/lasso.lua -w $WORKERS -q --metrics "$f" \
    --lambda-ratio $LAMBDA_RATIO --check-every $CHECK_EVERY "$@" 2>"$f.err"
  rc=$?
  t1=$(date +%s.%N)
  last=$(tail -n 1 "$f" 2>/dev/null)
  printf '  %-34s %6.2fs  %s\n' "$name" "$(awk "BEGIN { print $t1 - $t0 }")" \
    "$(echo "$last" | sed -n 's/.*"clocks":\([0-9]*\).*"objective":\([^,]*\).*/rounds \1, objective \2/p')"
  finished=0
  case $last in
    *'"final":true'*)
      finished=1
      # the model's "diverged at round" line is in the metrics and the table
      grep -v '^lasso: diverged' "$f.err" >&2 ;;
    *) if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
         echo "lasso_sched: $name: killed after ${TIMEOUT}s (LASSO_SCHED_TIMEOUT)" >&2
       else
         echo "lasso_sched: $name: failed (exit $rc):" >&2
         sed 's/^/  /' "$f.err" >&2
         failed=$((failed + 1))
       fi ;;
  esac
  rm -f "$f.err"
  return 0
}

# dataset NAME TITLE FILE REF_FLAGS CONFIGS
dataset() {
  ds=$1 title=$2 file=$3 ref=$4 configs=$5
  printf '#dataset\t%s\t%s\t%s\n' "$ds" "$title" "$OUT/lasso_sched-$ds-optimum.jsonl" >> "$MANIFEST"
  echo "lasso_sched: $title: the optimum"
  # shellcheck disable=SC2086
  run "$ds optimum" "$OUT/lasso_sched-$ds-optimum.jsonl" --data "$file" $ref
  # without an optimum, this data set's runs cannot be scored
  if [ "$finished" -eq 0 ]; then
    failed=$((failed + 1))
    return
  fi
  # Repeats are interleaved (every run once, then again) so that a slow
  # spell of the machine does not land on one configuration only.
  rep=1
  while [ "$rep" -le "$REPEATS" ]; do
    for u in $US; do
      for c in $configs; do
        f=$OUT/lasso_sched-$ds-$c-$u-$rep.jsonl
        # shellcheck disable=SC2046
        run "$ds $c U=$u seed $rep" "$f" --data "$file" $(flags "$c") --per-round "$u" \
          --tol $TOL --max-rounds "$MAX_ROUNDS" --seed "$rep"
        printf '%s\t%s\t%s\t%s\t%s\n' "$ds" "$c" "$u" "$rep" "$f" >> "$MANIFEST"
      done
    done
    rep=$((rep + 1))
  done
}

started=$(date +%s)
# The optimum: priority + dependency one coordinate at a time (synthetic:
# sequential coordinate descent, always safe) or 16 (20news: one round
# costs a check of 39,423 columns every 20 rounds, so U = 1 would take a
# minute; 20news's columns are nearly orthogonal, and Shotgun itself
# converges there at any U tried), to a duality gap of 1e-10 x objective or
# 20,000 rounds. Its duality gap bounds its distance to the true optimum.
for rho in 0.8 0.5; do
  syn=$OUT/lasso_sched-syn-rho$rho.svm
  spec="$SYN_SPEC rho=$rho"
  if [ ! -f "$syn" ] || [ "$(cat "$syn.spec" 2>/dev/null)" != "$spec" ] \
      || [ -n "$(find lua/pmls/data lua/pmls/rng.lua bench/gen_lasso.lua -newer "$syn")" ]; then
    # shellcheck disable=SC2086
    luajit bench/gen_lasso.lua "$syn" $spec || exit 1
    echo "$spec" > "$syn.spec"
  fi
  configs="sap shotgun"
  # theta = 0.1 is above this set's typical correlation (0.05): the filter
  # then rejects little. SAP with theta = 0.05 shows a threshold that bites.
  [ "$rho" = 0.5 ] && configs="sap sap05 shotgun"
  dataset "syn-rho$rho" "synthetic ρ=$rho (2,000 × 2,000, density 0.1, k=50)" "$syn" \
    "--scheduler priority --dependency $THETA --per-round 1 --tol 1e-10 --max-rounds 100000" "$configs"
done
if [ -f "$NEWS" ]; then
  dataset 20news "20news tf-idf train (11,314 × 39,423)" "$NEWS" \
    "--scheduler priority --dependency $THETA --per-round 16 --tol 1e-10 --max-rounds 20000" "sap shotgun"
else
  echo "lasso_sched: 20news skipped: $NEWS not found (set PMLS_DATA)"
fi
echo "lasso_sched: $(($(date +%s) - started))s of runs"

luajit bench/lasso_sched_report.lua "$MANIFEST" "$OUT" docs/lasso_sched.md || exit 1

if command -v gnuplot >/dev/null; then
  gnuplot -e "dir='$OUT'; out='docs/lasso_sched.svg'" bench/lasso_sched.gp \
    && echo "lasso_sched: plot in docs/lasso_sched.svg"
else
  echo "lasso_sched: gnuplot not installed (apt-get install gnuplot-nox): no plot"
fi
[ "$failed" -eq 0 ]
