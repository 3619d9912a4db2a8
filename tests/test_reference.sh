#!/usr/bin/env bash
# Engine against the independent float64 PyTorch reference (tests/reference/): logits and relevances
# of every method on tiny random checkpoints of each family, plus the reference's own closed-form
# checks. Needs Debian's python3-torch; without it this test fails, it never skips.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=/usr/bin/python3
if ! "$PY" -c 'import torch, numpy' >/dev/null 2>&1; then
    echo "FAIL test_reference: $PY cannot import torch and numpy (install python3-torch python3-numpy)"
    echo "0 passed, 1 failed"
    exit 1
fi
exec "$PY" tests/reference/check.py --bin "$BUILD/attnlrp" "$@"
