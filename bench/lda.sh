#!/bin/sh
# The LDA benchmarks (docs/topic-models.md): models/lda.lua on the staged
# corpora against the issue's targets, which come from MALLET's figures in
# ../shared/data/BASELINES.md (2 threads, α_k = β = 1/K):
#   lda_20news_k20   20news train, K = 20, 1000 sweeps, -w 2: wall <= 54.7 s
#                    (0.67 × 81.7 s), LL/token >= -8.02, held-out >= -8.21;
#   lda_20news_k100  K = 100, 200 sweeps: wall <= 14 s, LL/token >= -8.05;
#   lda_20news_k1000 K = 1000, 20 sweeps: token-samples/s against K = 20's
#                    (>= 0.5, from the runs' msamples_s medians);
#   lda_ap_k20       AP, K = 20, 1000 sweeps: wall <= 22 s, LL/token >= -8.52;
#   lda_ap_p2        AP at -p 2 -w 1: LL/token >= -8.52 (the same LL).
# Each configuration runs PMLS_BENCH_LDA_REPEATS [1] times; the medians of
# wall time (spawn to exit), final LL/token and held-out LL/token are
# reported with the load average before each run (the machine is shared).
# Writes build/bench/lda.json, the runs' logs (build/bench/lda-*), and rows
# of the summary of bench/run.sh when $PMLS_BENCH_SUMMARY is set.
# Environment: PMLS_DATA [../shared/data], PMLS_BENCH_QUICK [0] 1: only
# K = 20 on 20news, 200 sweeps (no target).
set -u
cd "$(dirname "$0")/.." || exit 1
OUT=${PMLS_BENCH_OUT:-build/bench}
DATA=${PMLS_DATA:-../shared/data}
REPEATS=${PMLS_BENCH_LDA_REPEATS:-1}
QUICK=${PMLS_BENCH_QUICK:-0}
PMLS=build/bin/pmls
mkdir -p "$OUT"
if [ ! -f "$DATA/docword.20news.txt.gz" ]; then
  echo "bench/lda.sh: $DATA/docword.20news.txt.gz not found (set PMLS_DATA); skipped" >&2
  exit 0
fi
AP=$OUT/data/ap
if [ -f "$DATA/ap-blei.tar.xz" ] && [ ! -f "$AP/ap.dat" ]; then
  mkdir -p "$OUT/data" && tar -xJf "$DATA/ap-blei.tar.xz" -C "$OUT/data"
fi
NEWS="--data $DATA/docword.20news.txt.gz --vocab $DATA/vocab.20news.txt.gz --test-docs 7532"
JSON=$OUT/lda.json
echo "[" > "$JSON"
sep=""

# bench name "args": runs the configuration, prints and records the medians.
bench() {
  name=$1
  args=$2
  walls="" lls="" hos="" rates="" loads=""
  r=0
  while [ $r -lt "$REPEATS" ]; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    log=$OUT/lda-$name-$r.log
    m=$OUT/lda-$name-$r.jsonl
    rm -f "$m"
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    $PMLS run models/lda.lua $args --top-words 0 --ll-every 50 --metrics "$m" > "$log" 2>&1 || {
      echo "$name: pmls failed (see $log)" >&2; return 1; }
    t1=$(date +%s.%N)
    wall=$(echo "$t1 - $t0" | bc)
    fin=$(tail -n 1 "$m")
    ll=$(echo "$fin" | sed -n 's/.*"final_ll_token":\([^,}]*\).*/\1/p')
    ho=$(echo "$fin" | sed -n 's/.*"heldout_ll_token":\([^,}]*\).*/\1/p')
    rate=$(grep -o '"msamples_s":[0-9.e+-]*' "$m" | cut -d: -f2 | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    walls="$walls $wall" lls="$lls $ll" hos="$hos ${ho:-nan}" rates="$rates ${rate:-nan}" loads="$loads $load"
    r=$((r + 1))
  done
  med() { echo "$@" | tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  W=$(med $walls) L=$(med $lls) H=$(med $hos) R=$(med $rates)
  printf '%-18s wall %7.2f s  LL/token %s  held-out %s  Msamples/s (median clock) %s  load%s\n' \
    "$name" "$W" "$L" "$H" "$R" "$loads"
  printf '%s{"name":"%s","args":"%s","wall_s":%s,"ll_token":%s,"heldout_ll_token":"%s","msamples_s":"%s","load":"%s"}\n' \
    "$sep" "$name" "$args" "$W" "$L" "$H" "$R" "$loads" >> "$JSON"
  sep=","
  eval "WALL_$name=$W LL_$name=$L HO_$name=$H RATE_$name=$R"
}

row() { # name value op target
  [ -n "${PMLS_BENCH_SUMMARY:-}" ] || return 0
  ok=$(echo "$2 $3 $4" | awk '{ if (($2 == "<=" && $1 <= $3) || ($2 == ">=" && $1 >= $3)) print "ok"; else print "BELOW" }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$ok" "$5" >> "$PMLS_BENCH_SUMMARY"
}

if [ "$QUICK" = 1 ]; then
  bench k20quick "$NEWS --topics 20 --iters 200 -w 2"
  echo "]" >> "$JSON"
  exit 0
fi
bench k20 "$NEWS --topics 20 --iters 1000 -w 2" || exit 1
bench k100 "$NEWS --topics 100 --iters 200 -w 2" || exit 1
bench k1000 "$NEWS --topics 1000 --iters 20 -w 2" || exit 1
row lda_20news_k20_wall "$WALL_k20" "<=" 54.7 "seconds, 1000 sweeps"
row lda_20news_k20_ll "$LL_k20" ">=" -8.02 "LL/token"
row lda_20news_k20_heldout "$HO_k20" ">=" -8.21 "held-out LL/token"
row lda_20news_k100_wall "$WALL_k100" "<=" 14 "seconds, 200 sweeps"
row lda_20news_k100_ll "$LL_k100" ">=" -8.05 "LL/token"
row lda_k1000_vs_k20 "$(echo "$RATE_k1000 / $RATE_k20" | bc -l)" ">=" 0.5 "token-samples/s ratio"
if [ -f "$AP/ap.dat" ]; then
  bench ap "--data $AP/ap.dat --vocab $AP/vocab.txt --format ldac --topics 20 --iters 1000 -w 2" || exit 1
  bench ap_p2 "--data $AP/ap.dat --vocab $AP/vocab.txt --format ldac --topics 20 --iters 1000 -p 2 -w 1" || exit 1
  row lda_ap_k20_wall "$WALL_ap" "<=" 22 "seconds, 1000 sweeps"
  row lda_ap_k20_ll "$LL_ap" ">=" -8.52 "LL/token"
  row lda_ap_p2_ll "$LL_ap_p2" ">=" -8.52 "LL/token at -p 2"
fi
echo "]" >> "$JSON"
