#!/usr/bin/env bash
# Long-context paths (issue 15) against the independent float64 PyTorch reference: the reference suite
# of the families whose attention has windows, soft-capping, padding, score biases and cross-attention
# (llama, mistral, gemma2, bert, t5), with the blockwise attention forced (ATTNLRP_ATTN=blockwise: the
# probabilities recomputed in the backward from row statistics) and every LLaMA block checkpointed
# (ATTNLRP_CHECKPOINT=1: recomputed in the backward). The op-level comparisons are tests/test_longctx.c.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
need_torch test_longctx
ATTNLRP_ATTN=blockwise ATTNLRP_CHECKPOINT=1 "$PY" tests/reference/check.py --bin "$BIN" \
    --families llama,mistral,gemma2,bert,t5
