#!/bin/sh
# Runs every test program given as arguments (the C test binaries, and
# tools/embed-test.sh: the embedding example against an installed prefix),
# then every busted spec under LuaJIT, and ends with one line: "N passed, N
# failed" over all of them. All speak TAP ("ok ..." / "not ok ..."); a
# program that dies without reporting a failure (a sanitizer abort, a
# crash) counts as one failure.
# Skipped specs ("# SKIP") are counted apart, not as passes.
set -u
cd "$(dirname "$0")/.."
log=build/test-logs
mkdir -p "$log"
passed=0 failed=0 skipped=0

count() { # file -> adds to the totals
  p=$(grep -c '^ok ' "$1" | tr -d ' ')
  s=$(grep -c '^ok .*# SKIP' "$1" | tr -d ' ')
  f=$(grep -c '^not ok ' "$1" | tr -d ' ')
  passed=$((passed + p - s)); skipped=$((skipped + s)); failed=$((failed + f))
}

for t in "$@"; do
  name=$(echo "$t" | tr '/' '_')
  out="$log/$name.tap"
  "$t" > "$out" 2>&1
  rc=$?
  count "$out"
  if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$out"; then
    echo "not ok - $t exited with status $rc" >> "$out"
    failed=$((failed + 1))
  fi
  grep '^not ok ' "$out" | sed "s|^|$t: |"
  [ $rc -ne 0 ] && tail -n 30 "$out"
done

out="$log/specs.tap"
PMLS_LIB="$PWD/build/lib/libpmls.so" luajit /usr/bin/busted -o TAP \
  --lpath='./lua/?.lua;./lua/?/init.lua;./build/lua/?.lua;./spec/?.lua' spec > "$out" 2>&1
rc=$?
count "$out"
if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$out"; then
  echo "not ok - busted exited with status $rc" >> "$out"; failed=$((failed + 1))
  tail -n 30 "$out"
fi
grep -A8 '^not ok ' "$out"
[ "$skipped" -gt 0 ] && echo "($skipped skipped: see $log/specs.tap)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
