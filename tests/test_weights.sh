#!/usr/bin/env bash
# attnlrp weights: R(W) = W ⊙ ĝ_W against the float64 PyTorch reference (tests/reference/weights_check.py:
# tiny LLaMA-family, Mixtral and GPT-2 checkpoints, attnlrp/cplrp/gradxinput, cplrp conservation per layer);
# --prune on the shipped model: the pruned copy against numpy (exactly floor(F·n) zeros per pruned tensor,
# the lowest |W| or |R|, the head and every other tensor byte-identical, config and tokenizer copied,
# eval runs on it); the one-line errors of bad input.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh

need_torch test_weights

py_tally tests/reference/weights_check.py --bin "$BIN"

M=models/default
head -n 24 data/eval.jsonl >"$tmp/d.jsonl"
check "weights writes R and two pruned copies" \
    '$BIN weights --model $M --data "$tmp/d.jsonl" -o "$tmp/R.safetensors" --prune 0.3 --pruned "$tmp/pr" >/dev/null &&
     $BIN weights --model $M --data "$tmp/d.jsonl" --prune 0.5 --pruned "$tmp/pm" --prune-by magnitude >/dev/null'

# The pruned copies against numpy on the original weights (and, for relevance, on the written R).
"$PY" - "$M" "$tmp" >"$tmp/py.out" 2>&1 <<'EOF'
import filecmp, os, sys
import numpy as np
sys.path.insert(0, "tests/reference")
import reference
M, tmp = sys.argv[1], sys.argv[2]
orig, _ = reference.read_safetensors(os.path.join(M, "model.safetensors"))
R, meta = reference.read_safetensors(os.path.join(tmp, "R.safetensors"))
bad = []
if meta.get("records") != "24" or meta.get("method") != "attnlrp":
    bad.append(f"metadata {meta}")
linear = [n for n in orig if n.endswith("_proj.weight")]
if sorted(R) != sorted(linear + ["lm_head.weight"]):
    bad.append(f"R tensors {sorted(R)}")
for sub, frac, key in (("pr", 0.3, lambda n: np.abs(R[n])), ("pm", 0.5, lambda n: np.abs(orig[n]))):
    d = os.path.join(tmp, sub)
    for f in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        if not filecmp.cmp(os.path.join(M, f), os.path.join(d, f), shallow=False):
            bad.append(f"{sub}/{f} differs")
    new, _ = reference.read_safetensors(os.path.join(d, "model.safetensors"))
    if sorted(new) != sorted(orig):
        bad.append(f"{sub}: tensor names differ")
        continue
    for n, w in orig.items():
        if n not in linear:  # embeddings, norms and the output head are copied as they are
            if not np.array_equal(new[n], w):
                bad.append(f"{sub}: {n} changed")
            continue
        k = int(np.floor(frac * w.size))
        s = key(n).ravel()
        order = np.lexsort((np.arange(s.size), s))  # lowest score first, ties to the lower index
        want = w.ravel().copy()
        want[order[:k]] = 0
        if not np.array_equal(new[n].ravel(), want):
            bad.append(f"{sub}: {n}: {int((new[n] != want.reshape(w.shape)).sum())} elements differ from numpy")
print("\n".join(bad) if bad else "ok")
EOF
check "pruned copies equal numpy's lowest-|R| / lowest-|W| zeroing: $(head -c 600 "$tmp/py.out")" '[ "$(cat "$tmp/py.out")" = ok ]'

acc() { $BIN eval --model "$1" --data "$tmp/d.jsonl" --methods random --steps 1 --format json 2>/dev/null |
        "$PY" -c 'import json, sys; print(json.load(sys.stdin)["model_accuracy"])'; }
a0=$(acc $M); a1=$(acc "$tmp/pr")
check "eval reads the pruned checkpoint (accuracy $a0 -> $a1)" '[ -n "$a1" ] && [ -n "$a0" ]'
check "--prune 0 copies the weights unchanged" \
    '$BIN weights --model $M --data "$tmp/d.jsonl" --prune 0 --pruned "$tmp/p0" >/dev/null &&
     "$PY" -c "
import sys; sys.path.insert(0, \"tests/reference\"); import reference, numpy as np
a, _ = reference.read_safetensors(\"$M/model.safetensors\"); b, _ = reference.read_safetensors(\"$tmp/p0/model.safetensors\")
sys.exit(0 if sorted(a) == sorted(b) and all(np.array_equal(a[n], b[n]) for n in a) else 1)"'
check "--abs: every element non-negative, sum >= |sum R|" \
    '$BIN weights --model $M --data "$tmp/d.jsonl" --abs -o "$tmp/A.safetensors" >/dev/null &&
     "$PY" -c "
import sys; sys.path.insert(0, \"tests/reference\"); import reference, numpy as np
a, _ = reference.read_safetensors(\"$tmp/A.safetensors\"); r, _ = reference.read_safetensors(\"$tmp/R.safetensors\")
sys.exit(0 if all((a[n] >= 0).all() and a[n].sum() >= abs(r[n].sum()) * (1 - 1e-6) for n in r) else 1)"'

# The streamed memory plan on the shipped model (a budget of 800 KiB: the 1.1 MiB of accumulators in 3 passes,
# less the pruning masks): R, the pruned copy and the summary byte-identical to the one-pass run above.
$BIN weights --model $M --data "$tmp/d.jsonl" -o "$tmp/R1.safetensors" --prune 0.3 --pruned "$tmp/pr1" \
    >"$tmp/one.txt" 2>"$tmp/one.err"
$BIN weights --model $M --data "$tmp/d.jsonl" -o "$tmp/R4.safetensors" --prune 0.3 --pruned "$tmp/pr4" \
    --max-memory 800K >"$tmp/four.txt" 2>"$tmp/four.err"
check "--max-memory 800K: 3 passes, the plan on stderr ($(cat "$tmp/four.err"))" \
    'grep -q "^weights: memory plan: 3 passes over the 24 records" "$tmp/four.err" && [ ! -s "$tmp/one.err" ]'
check "--max-memory 800K: R, the pruned copy and the summary byte-identical to one pass" \
    'cmp -s "$tmp/R.safetensors" "$tmp/R4.safetensors" && cmp -s "$tmp/R1.safetensors" "$tmp/R4.safetensors" &&
     cmp -s "$tmp/pr/model.safetensors" "$tmp/pr4/model.safetensors" && [ "$(sed "s/pr1\$//" "$tmp/one.txt")" = "$(sed "s/pr4\$//" "$tmp/four.txt")" ]'
expect 1 "attnlrp: --max-memory 100 KiB: too small: the largest weight tensor (lm_head.weight) needs 369 KiB of accumulator" -- \
    $BIN weights --model $M --data "$tmp/d.jsonl" -o "$tmp/x.st" --max-memory 100K
expect 1 "attnlrp: --max-memory 500 KiB: too small: the largest weight tensor (lm_head.weight) needs 369 KiB of accumulator and the pruning masks 377 KiB" -- \
    $BIN weights --model $M --data "$tmp/d.jsonl" --prune 0.5 --pruned "$tmp/x" --max-memory 500K
expect 2 "attnlrp: --max-memory lots: expected a size (512M, 2G)" -- $BIN weights --data "$tmp/d.jsonl" -o "$tmp/x.st" --max-memory lots

# bad input: one line each; nothing written
: >"$tmp/empty.jsonl"
printf '{"text": "Julia speaks"}\n{"text": 5}\n' >"$tmp/badrec.jsonl"
expect 2 'attnlrp: --prune 1: the fraction must be in [0, 1)' -- $BIN weights --data "$tmp/d.jsonl" --prune 1 --pruned "$tmp/x"
expect 2 'attnlrp: --prune -0.1: the fraction must be in [0, 1)' -- $BIN weights --data "$tmp/d.jsonl" --prune -0.1 --pruned "$tmp/x"
expect 2 'attnlrp: --prune nan: the fraction must be in [0, 1)' -- $BIN weights --data "$tmp/d.jsonl" --prune nan --pruned "$tmp/x"
expect 2 "attnlrp: --data $tmp/empty.jsonl: no records (the file is empty)" -- $BIN weights --data "$tmp/empty.jsonl" -o "$tmp/x.st"
expect 2 'attnlrp: --prune: give --pruned DIR too' -- $BIN weights --data "$tmp/d.jsonl" --prune 0.5
expect 2 'attnlrp: weights: give -o R.safetensors and/or --prune F --pruned DIR' -- $BIN weights --data "$tmp/d.jsonl"
expect 2 'attnlrp: weights: give --data PROMPTS.jsonl' -- $BIN weights -o "$tmp/x.st"
expect 2 'attnlrp: --method gradient: expected attnlrp, cplrp or gradxinput' -- $BIN weights --data "$tmp/d.jsonl" -o "$tmp/x.st" --method gradient
expect 2 'attnlrp: --prune-by x: expected relevance or magnitude' -- $BIN weights --data "$tmp/d.jsonl" -o "$tmp/x.st" --prune-by x
expect 1 "attnlrp: --data $tmp/badrec.jsonl:2: \"text\" must be a string, not an integer" -- $BIN weights --data "$tmp/badrec.jsonl" -o "$tmp/x.st"
touch "$tmp/afile"
expect 2 "attnlrp: --pruned $tmp/afile: exists and is not a directory" -- $BIN weights --data "$tmp/d.jsonl" --prune 0.5 --pruned "$tmp/afile"
expect 2 "attnlrp: --pruned $M: is the model's own directory" -- $BIN weights --model $M --data "$tmp/d.jsonl" --prune 0.5 --pruned $M
G=../shared/models/stories260K/stories260K.gguf
if [ -e "$G" ]; then
    expect 2 "attnlrp: --prune: $G is not a Hugging Face checkpoint directory (the pruned copy is one; GGUF files and single .safetensors files are not copied)" -- $BIN weights --model "$G" --data "$tmp/d.jsonl" --prune 0.5 --pruned "$tmp/x"
fi
check "no output file after the errors" '[ ! -e "$tmp/x.st" ] && [ ! -e "$tmp/x" ]'
check "weights --help" '$BIN weights --help | grep -q "R(W) = W \* g_W"'

finish
