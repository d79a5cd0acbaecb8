#!/bin/sh
# models/mlr.lua at its defaults (-w 2) against scikit-learn's
# LogisticRegression(C=1, lbfgs) (Debian's python3-sklearn,
# bench/mlr_sklearn.py) on the 20-class 20news set that
# bench/news20_classes.lua builds into build/data/20news-classes from the
# staged bag of words (docs/mlr.md). Paired, interleaved repeats: each
# round runs both, so the machine's load hits both alike; the figures are
# medians of the wall and CPU (user + sys) seconds. pmls is timed as the
# whole job (reading the files included), scikit-learn's fit alone (its
# reading excluded, as BASELINES.md times it) and its whole process.
# Appends the row mlr_20news (ratio: scikit-learn fit wall / pmls job wall,
# target >= 1.0, and accuracy >= 68 %) to $PMLS_BENCH_SUMMARY when set.
#
# Environment: MLR_REPEATS [PMLS_BENCH_REPEATS, or 3]; PMLS_DATA [../shared/data].
set -u
cd "$(dirname "$0")/.." || exit 1
OUT=build/bench
PMLS=build/bin/pmls
DATA=${PMLS_DATA:-../shared/data}
NAME=mlr
. bench/common.sh
bench_prepare
REPEATS=${MLR_REPEATS:-${PMLS_BENCH_REPEATS:-3}}
if [ ! -f "$DATA/docword.20news.txt.gz" ] || [ ! -f "$DATA/docs.20news.txt.gz" ]; then
  echo "mlr: skipped: docword.20news.txt.gz / docs.20news.txt.gz not found in $DATA (set PMLS_DATA)"
  exit 0
fi
SET=$(PMLS_LIB=${PMLS_LIB:-$PWD/build/lib/libpmls.so} luajit bench/news20_classes.lua "$DATA" build/data/20news-classes) || exit 1
PY=/usr/bin/python3
HAVE_SK=1
$PY -c 'import sklearn' 2>/dev/null || HAVE_SK=0
[ "$HAVE_SK" = 1 ] || echo "mlr: python3-sklearn missing: pmls only (BASELINES.md: scikit-learn 68.8 % in 10 s)"
T=$(mktemp -d)
: > "$T/pmls" ; : > "$T/sk"
i=1
while [ "$i" -le "$REPEATS" ]; do
  /usr/bin/time -f '%e %U %S' -o "$T/time" "$PMLS" run models/mlr.lua --data "$SET/train.svm" \
    --test "$SET/test.svm" -w 2 -q --metrics "$T/m.jsonl" 2>/dev/null || { echo "mlr: pmls failed"; exit 1; }
  acc=$(tail -1 "$T/m.jsonl" | sed 's/.*"test_accuracy":\([0-9.e-]*\).*/\1/')
  echo "$(cat "$T/time") $acc" >> "$T/pmls"
  echo "round $i: pmls $(cat "$T/time") (wall user sys) accuracy $acc"
  if [ "$HAVE_SK" = 1 ]; then
    /usr/bin/time -f '%e %U %S' -o "$T/time" $PY bench/mlr_sklearn.py "$SET/train.svm" "$SET/test.svm" > "$T/sk1" \
      || { echo "mlr: scikit-learn failed"; exit 1; }
    echo "$(cat "$T/time") $(cat "$T/sk1")" >> "$T/sk"
    echo "round $i: scikit-learn process $(cat "$T/time"), fit_s accuracy log_loss n_iter fit_cpu_s: $(cat "$T/sk1")"
  fi
  i=$((i + 1))
done
# median of column $1 of file $2
med() { awk -v c="$1" '{print $c}' "$2" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
cpu() { awk '{print $2 + $3}' "$1" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
pw=$(med 1 "$T/pmls"); pc=$(cpu "$T/pmls"); pa=$(med 4 "$T/pmls")
echo "pmls job: wall $pw s, cpu $pc s, accuracy $pa (medians of $REPEATS)"
if [ "$HAVE_SK" = 1 ]; then
  sw=$(med 1 "$T/sk"); sc=$(cpu "$T/sk"); sf=$(med 4 "$T/sk"); sa=$(med 5 "$T/sk"); sfc=$(med 8 "$T/sk")
  echo "scikit-learn: fit $sf s (cpu $sfc s), process wall $sw s, cpu $sc s, accuracy $sa"
  ratio=$(awk -v a="$sf" -v b="$pw" 'BEGIN {printf "%.2f", a / b}')
  echo "cpu ratio (scikit-learn fit / pmls job): $(awk -v a="$sfc" -v b="$pc" 'BEGIN {printf "%.2f", a / b}')"
  note="pmls $pw s (cpu $pc), sklearn fit $sf s (cpu $sfc; process $sw, cpu $sc); accuracy $pa vs $sa"
else
  ratio=$(awk -v b="$pw" 'BEGIN {printf "%.2f", 10 / b}')
  note="pmls $pw s, accuracy $pa; against BASELINES.md's 10 s (no python3-sklearn)"
fi
status=PASS
awk -v r="$ratio" -v a="$pa" 'BEGIN {exit !(r >= 1.0 && a >= 0.68)}' || status=BELOW
echo "mlr_20news: ratio $ratio $status"
if [ -n "${PMLS_BENCH_SUMMARY:-}" ]; then
  printf 'mlr_20news\t%s\t>=\t1.0\t%s\t%s\n' "$ratio" "$status" "$note" >> "$PMLS_BENCH_SUMMARY"
fi
rm -rf "$T"
