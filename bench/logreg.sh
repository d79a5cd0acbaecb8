#!/bin/sh
# models/logreg.lua at its defaults against liblinear (Debian's
# liblinear-tools: liblinear-train -s 0 -c 1 -B 1, then liblinear-predict)
# on a9a and 20news tf-idf, whole jobs side by side (docs/benchmarks.md,
# section 7). liblinear reads plain text only, so the four files are
# decompressed once into build/data/logreg, outside the timing, and both
# read those; bench/logreg.lua also times both from the .gz files (pmls
# reading them itself, liblinear after gzip -dc into temporary files).
# Called by bench/run.sh, whose PMLS_BENCH_SUMMARY gets the rows
# logreg_a9a and logreg_20news.
#
# Environment: LOGREG_REPEATS [PMLS_BENCH_REPEATS, or 7] paired repeats;
# PMLS_DATA [../shared/data]. A set whose files are missing is skipped.
set -u
cd "$(dirname "$0")/.." || exit 1

OUT=build/bench
PMLS=build/bin/pmls
DATA=${PMLS_DATA:-../shared/data}
NAME=logreg
. bench/common.sh
bench_prepare
if ! command -v liblinear-train >/dev/null || ! command -v liblinear-predict >/dev/null; then
  echo "logreg: skipped: liblinear-train / liblinear-predict not installed (tools/deps.sh bench installs liblinear-tools)"
  exit 0
fi

# Through a temporary name, so that a run cut short leaves no half file.
PLAIN=build/data/logreg
mkdir -p "$PLAIN"
for f in a9a a9a.t 20news.tfidf.binary.train.svm 20news.tfidf.binary.test.svm; do
  if [ ! -f "$PLAIN/$f" ] && [ -f "$DATA/$f.gz" ]; then
    gzip -dc "$DATA/$f.gz" > "$PLAIN/.$f.part" && mv "$PLAIN/.$f.part" "$PLAIN/$f"
  fi
done
exec luajit bench/logreg.lua "$PLAIN" "$DATA"
