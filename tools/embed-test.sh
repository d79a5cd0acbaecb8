#!/bin/sh
# The embedding example (docs/embedding.md) tried as a new user would: `make
# install` into a prefix under build/, then examples/embed/host.c copied out
# of the installed share/pmls, built with pkg-config, and run from a
# directory of its own with no PMLS_* or LD_LIBRARY_PATH variable set: one
# process, a job of two it starts itself, two ranks started the way srun
# starts them, and a static link. Then the installed pmls command runs an
# installed model by name. Speaks TAP ("ok N - ..." / "not ok N - ...");
# tools/run-tests.sh counts the lines. Usage: tools/embed-test.sh [PREFIX]
set -u
cd "$(dirname "$0")/.."
root=$PWD
prefix=${1:-$root/build/prefix}
work=$(mktemp -d /tmp/pmls-embed.XXXXXX)
trap 'rm -rf "$work"' EXIT
n=0 bad=0

# Nothing from the caller's environment may help: no library path, no
# package path, no launcher's rank (make test may itself run under srun).
for v in LD_LIBRARY_PATH PMLS_LUA_PATH PMLS_LIB PMLS_MODEL_PATH PMLS_RANK \
         PMLS_SIZE PMLS_MASTER OMPI_COMM_WORLD_RANK OMPI_COMM_WORLD_SIZE \
         PMI_RANK PMI_SIZE SLURM_PROCID SLURM_NTASKS; do
  unset "$v"
done

# check NAME COMMAND...: runs COMMAND in $work (output in $work/out).
check() {
  name=$1
  shift
  n=$((n + 1))
  if (cd "$work" && "$@") > "$work/out" 2>&1; then
    echo "ok $n - embed: $name"
  else
    echo "not ok $n - embed: $name"
    sed 's/^/# /' "$work/out" | tail -n 20
    bad=$((bad + 1))
  fi
}

install_prefix() {
  # A make of its own, not a part of the caller's (make test's jobserver).
  env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$root" --no-print-directory \
    install PREFIX="$prefix"
}
check "make install PREFIX=$prefix" install_prefix

share=$prefix/share/pmls
installed_files() {
  for f in bin/pmls lib/libpmls.so lib/libpmls.a include/pmls.h \
           lib/pkgconfig/pmls.pc share/pmls/lua/pmls/init.lua \
           share/pmls/lua/pmls/cdef.lua share/pmls/models/logreg.lua \
           share/pmls/examples/logreg_demo.lua share/pmls/examples/embed/host.c \
           share/pmls/examples/embed/train.lua share/pmls/docs/embedding.md; do
    [ -f "$prefix/$f" ] || { echo "missing: $prefix/$f"; return 1; }
  done
}
check "the command, libraries, header, Lua package, models, examples and docs are installed" installed_files

listings_match() { # the program and script docs/embedding.md shows are the files
  for f in host.c:c train.lua:lua; do
    file=${f%%:*} lang=${f#*:}
    sed -n "/^\`\`\`$lang\$/,/^\`\`\`\$/p" "$share/docs/embedding.md" | sed '1d;$d' > "listing.$lang"
    diff -u "$share/examples/embed/$file" "listing.$lang" || return 1
  done
}
check "docs/embedding.md lists host.c and train.lua as they are" listings_match

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
build_dynamic() {
  cp "$share/examples/embed/host.c" "$share/examples/embed/train.lua" . &&
  cc -o host host.c $(pkg-config --cflags --libs pmls) &&
  # libpmls.so is found through the rpath pmls.pc gives, not a variable
  ldd ./host | grep -q "libpmls.so => $prefix/lib/libpmls.so"
}
check "host.c builds with pkg-config --cflags --libs pmls; libpmls.so found by rpath" build_dynamic

ran() { # PATTERN COMMAND...: COMMAND succeeds and prints PATTERN
  pattern=$1
  shift
  "$@" > run.log 2>&1
  rc=$?
  cat run.log
  [ $rc -eq 0 ] && grep -q "$pattern" run.log
}
check "one process: fits the weights" \
  ran "1 process(es) x 2 workers fitted" ./host
check "--procs 2: a job of two processes it starts itself" \
  ran "2 process(es) x 2 workers fitted" ./host --procs 2

two_ranks() { # as srun starts them: SLURM_PROCID / SLURM_NTASKS, PMLS_MASTER
  master="ipc://$work/master"
  SLURM_PROCID=1 SLURM_NTASKS=2 PMLS_MASTER=$master ./host > rank1.log 2>&1 &
  other=$!
  SLURM_PROCID=0 SLURM_NTASKS=2 PMLS_MASTER=$master ./host
  rc0=$?
  wait $other
  rc1=$?
  cat rank1.log
  [ $rc0 -eq 0 ] && [ $rc1 -eq 0 ]
}
check "two ranks started as srun starts them (SLURM_PROCID, PMLS_MASTER)" \
  ran "2 process(es) x 2 workers fitted" two_ranks

build_static() {
  cc -o host-static host.c $(pkg-config --cflags pmls) \
    $(pkg-config --variable=static_libs pmls) &&
  ! ldd ./host-static | grep -q libpmls
}
check "a static link (pkg-config --variable=static_libs pmls)" build_static
check "static: finds the Lua package of the prefix it was installed to" \
  ran "1 process(es) x 2 workers fitted" ./host-static
check "static: --procs 2" \
  ran "2 process(es) x 2 workers fitted" ./host-static --procs 2

moved_package() { # PMLS_LUA_PATH names a plain directory, and is obeyed
  cp -R "$share/lua" moved-lua &&
  ! PMLS_LUA_PATH=$work/nowhere ./host-static &&
  PMLS_LUA_PATH=$work/moved-lua ./host-static
}
check "PMLS_LUA_PATH: a plain directory for a package moved elsewhere" \
  ran "fitted" moved_package

check "installed pmls: 'pmls run logreg --help' finds the installed model" \
  ran "$share/models/logreg.lua" "$prefix/bin/pmls" run logreg --help
check "installed pmls runs the installed demo" \
  "$prefix/bin/pmls" run "$share/examples/logreg_demo.lua" --epochs 1 -w 1 -q

echo "$((n - bad)) passed, $bad failed"
[ $bad -eq 0 ]
