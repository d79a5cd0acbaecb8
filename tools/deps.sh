#!/bin/sh
# Installs the Debian packages PMLS needs, only those missing; a no-op when
# all are there. Runs apt-get as root, or through sudo. `deps.sh bench` adds
# what `make bench` needs (R's glmnet is the Lasso reference; liblinear-tools
# the logistic regression one). iproute2 gives the multi-host spec its network
# namespaces. clang and libclang-rt-dev (compiler-rt: libFuzzer and clang's
# sanitizer runtimes) build the fuzz harnesses of engine/fuzz/. python3-numpy
# lets spec/saved_models_spec.lua check that numpy reads the models pmls
# saves (.npy, .npz).
# libsodium-dev and libssl-dev give the MACs of tcp traffic (net/auth.c:
# libsodium for keys and ChaCha20, OpenSSL for a faster Poly1305).
# gnuplot-nox draws `pmls plot` (and the bench plots) and lua-cjson reads
# the metrics files it plots.
set -eu
PKGS="gcc make pkg-config luajit libluajit-5.1-dev libnanomsg-dev libjemalloc-dev zlib1g-dev libsodium-dev libssl-dev lua-busted iproute2 clang libclang-rt-dev python3-numpy gnuplot-nox lua-cjson"
[ "${1:-}" = bench ] && PKGS="$PKGS r-cran-glmnet liblinear-tools"
missing=""
for p in $PKGS; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0
echo "pmls: installing$missing" >&2
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
  echo "pmls: need root (or sudo) to install:$missing" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet: update once and retry.
$SUDO apt-get install -y --no-install-recommends $missing >/dev/null 2>&1 || {
  $SUDO apt-get update -qq && $SUDO apt-get install -y --no-install-recommends $missing; }
