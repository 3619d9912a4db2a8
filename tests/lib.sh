# Shared helpers for the shell tests (sourced, not run). Each test sources this after `cd` to the
# repository root, calls ok/bad/expect, and ends with `finish`, which prints "N passed, N failed".
BIN=${ATTNLRP_BIN:-${BUILD:-build}/attnlrp}
PY=/usr/bin/python3
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { if eval "$2"; then ok; else bad "$1"; fi; }   # check "what" 'shell condition'

# expect STATUS "EXACT STDERR LINE" -- command...
# The command must exit with STATUS and print exactly that one line on stderr.
expect() {
    local want_status=$1 want_err=$2
    shift 3
    local err status
    err=$("$@" 2>&1 >/dev/null)
    status=$?
    if [ "$status" != "$want_status" ]; then bad "$* -> exit $status, expected $want_status (stderr: $err)"; return; fi
    if [ "$(printf '%s\n' "$err" | wc -l)" != 1 ] || [ "$err" != "$want_err" ]; then
        bad "$* -> stderr [$err], expected [$want_err]"
        return
    fi
    ok
}

# py_tally SCRIPT ARGS...: runs a Python check that ends with "N passed, N failed" (tests/reference/tally.py)
# and adds its counts; no summary line (a crash) or no checks at all is one failure; failures are shown.
py_tally() {
    local script=$1 out line p f
    shift
    out=$("$PY" "$script" "$@" 2>&1)
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ]; then bad "$script $* printed no summary: $(printf '%s' "$out" | tail -n 5)"; return; fi
    p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
    [ "$p" != 0 ] || [ "$f" != 0 ] || bad "$script $* ran no checks"
    pass=$((pass + p)); fail=$((fail + f))
    [ "$f" = 0 ] || printf '%s\n' "$out" | grep -E '^FAIL|worst' | head -n 20
}

# need_torch NAME: the test cannot run without Debian's python3-torch and python3-numpy: one failure, exit.
need_torch() {  # (install python3-torch python3-numpy)
    "$PY" -c 'import torch, numpy' >/dev/null 2>&1 && return 0
    echo "FAIL $1: $PY cannot import torch and numpy"
    echo "0 passed, 1 failed"
    exit 1
}

finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" = 0 ]
}
