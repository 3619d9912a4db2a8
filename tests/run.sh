#!/usr/bin/env bash
# Runs every test program (build/tests/test_*) and every shell test (tests/test_*.sh), then prints
# the summed "N passed, N failed". Each program prints its own "N passed, N failed" as its last line.
set -u
BUILD=${BUILD:-build}
export BUILD
cd "$(dirname "$0")/.."
total_pass=0
total_fail=0
broken=0
for t in "$BUILD"/tests/test_* tests/test_*.sh; do
    [ -e "$t" ] || continue
    case "$t" in *.o|*.d) continue ;; esac
    name=$(basename "$t")
    if [[ "$t" == *.sh ]]; then out=$(bash "$t" 2>&1); else out=$("$t" 2>&1); fi
    rc=$?
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ]; then
        printf '%s\n' "$out" | tail -n 20
        echo "BROKEN $name (exit $rc, no summary line)"
        broken=$((broken + 1))
        continue
    fi
    p=${line%% passed*}
    f=${line#*passed, }; f=${f%% failed*}
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    if [ "$f" != 0 ] || [ "$rc" != 0 ]; then
        printf '%s\n' "$out" | grep -v -E '^[0-9]+ passed' | tail -n 40
        [ "$f" = 0 ] && total_fail=$((total_fail + 1))
    fi
    printf '%-32s %s\n' "$name" "$line"
done
total_fail=$((total_fail + broken))
echo "${total_pass} passed, ${total_fail} failed"
[ "$total_fail" = 0 ]
