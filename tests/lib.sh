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

finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" = 0 ]
}
