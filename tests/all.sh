#!/usr/bin/env bash
# The whole test suite as CI runs it: gcc build + tests, the same tests under AddressSanitizer and
# UndefinedBehaviorSanitizer, and a clang build with -Werror. Ends with one "N passed, N failed" line.
set -u
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
pass=0
fail=0
count() {  # adds the last "N passed, N failed" line of $1 to the totals
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
    if [ -z "$line" ]; then fail=$((fail + 1)); return; fi
    pass=$((pass + ${line%% passed*}))
    local f=${line#*passed, }
    fail=$((fail + ${f%% failed*}))
}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== gcc build and tests"
if make -s -j"$jobs" CC=gcc build/attnlrp >/dev/null && make -s CC=gcc check >"$log" 2>&1; then :; fi
cat "$log"; count "$log"

echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
if make -s -j"$jobs" CC=gcc SAN=1 build-san/attnlrp >/dev/null && make -s CC=gcc SAN=1 check >"$log" 2>&1; then :; fi
cat "$log"; count "$log"

echo "== clang build (-Wall -Wextra -Werror): program, libraries, tests and benchmarks"
if command -v clang >/dev/null && make -s -j"$jobs" CC=clang BUILD=build-clang all \
    $(ls tests/test_*.c bench/*.c | sed 's|^tests/\(.*\)\.c$|build-clang/tests/\1|; s|^bench/\(.*\)\.c$|build-clang/bench/\1|') >"$log" 2>&1; then
    pass=$((pass + 1)); echo "clang build ok"
else
    cat "$log"; fail=$((fail + 1)); echo "clang build FAILED"
fi
echo "${pass} passed, ${fail} failed"
[ "$fail" = 0 ]
