#!/usr/bin/env bash
# Long-context paths (issue 15) against the independent float64 PyTorch reference: the reference suite
# of the families whose attention has windows, soft-capping, padding, score biases and cross-attention
# (llama, mistral, gemma2, bert, t5), with the blockwise attention forced (ATTNLRP_ATTN=blockwise: the
# probabilities recomputed in the backward from row statistics) and every LLaMA block checkpointed
# (ATTNLRP_CHECKPOINT=1: recomputed in the backward). The op-level comparisons are tests/test_longctx.c.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=/usr/bin/python3
if ! "$PY" -c 'import torch, numpy' >/dev/null 2>&1; then
    echo "FAIL test_longctx: $PY cannot import torch and numpy (install python3-torch python3-numpy)"
    echo "0 passed, 1 failed"
    exit 1
fi
ATTNLRP_ATTN=blockwise ATTNLRP_CHECKPOINT=1 exec "$PY" tests/reference/check.py --bin "$BUILD/attnlrp" \
    --families llama,mistral,gemma2,bert,t5
