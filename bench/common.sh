# bench/common.sh: the set-up the experiment scripts share; sourced by
# bench/straggler.sh, block_straggler.sh, lasso_sched.sh and
# lda_experiments.sh after they set
# NAME (for messages and the lock), OUT and PMLS (and DATA for MovieLens).

# Checks that the pmls command and luajit are there, makes OUT, and waits
# for another run of the same experiment: two at once would share the
# metrics files and slow each other down.
bench_prepare() {
  if [ ! -x "$PMLS" ]; then
    echo "$NAME: $PMLS is missing: run 'make' first" >&2
    exit 1
  fi
  if ! command -v luajit >/dev/null; then
    echo "$NAME: luajit is missing (tools/deps.sh installs it)" >&2
    exit 1
  fi
  mkdir -p "$OUT"
  if command -v flock >/dev/null; then
    exec 9>"$OUT/.$NAME.lock"
    if ! flock -n 9; then
      echo "$NAME: another bench/$NAME.sh is running; waiting for it"
      flock 9
    fi
  fi
}

# Sets ML to MovieLens-100K, extracted from $DATA/ml-100k.tar.xz into
# build/data (never into the repository; through a temporary directory,
# so that a run cut short leaves no half set); exits 0 (skipped) when the
# archive is not there.
bench_movielens() {
  ML=build/data/ml-100k
  if [ ! -f "$ML/ua.base" ] && [ -f "$DATA/ml-100k.tar.xz" ]; then
    mkdir -p build/data && tmp=$(mktemp -d build/data/.ml-100k.XXXXXX) \
      && tar -xJf "$DATA/ml-100k.tar.xz" -C "$tmp" \
      && { mv "$tmp/ml-100k" build/data/ 2>/dev/null || test -f "$ML/ua.base"; }
    rm -rf "${tmp:-build/data/.ml-100k.none}"
  fi
  if [ ! -f "$ML/ua.base" ] || [ ! -f "$ML/ua.test" ]; then
    echo "$NAME: skipped: MovieLens-100K not found ($ML/ua.base, or $DATA/ml-100k.tar.xz; set PMLS_DATA)"
    exit 0
  fi
}

# The engine flags of a consistency model named bsp, sspS, esspS or async
# (the experiments' model names).
bench_consistency_flags() {
  case $1 in
    bsp) echo "--consistency bsp" ;;
    ssp*) echo "--consistency ssp --staleness ${1#ssp}" ;;
    essp*) echo "--consistency essp --staleness ${1#essp}" ;;
    async) echo "--consistency async" ;;
  esac
}
