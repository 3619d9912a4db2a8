#!/usr/bin/env bash
# Engine against the independent float64 PyTorch reference (tests/reference/): logits and relevances
# of every method on tiny random checkpoints of each family, plus the reference's own closed-form
# checks. Needs Debian's python3-torch; without it this test fails, it never skips.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
need_torch test_reference
"$PY" tests/reference/check.py --bin "$BIN" "$@"
