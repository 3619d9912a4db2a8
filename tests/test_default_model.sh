#!/usr/bin/env bash
# The shipped model reads its context (issue 12): tools/check_default.py reloads models/default from its
# files with its own NumPy float64 forward pass, safetensors parser and tokenizer.json interpreter (nothing
# shared with the training script or the engine) and recomputes the held-out accuracy of data/eval.jsonl,
# separately on the prompts with facts of mixed kinds and on those whose 2-5 facts share one template
# ("Noah's house is purple. Mia's house is green. Noah's house is"), where only binding the name to its
# value gives the answer. Both must reach 0.95. The engine's own prediction is checked on one same-kind
# prompt of each length against the NumPy argmax.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh

if [ ! -d models/default ] || [ ! -f data/eval.jsonl ]; then
    echo "note: models/default or data/eval.jsonl not present: the shipped-model check did not run"
    finish
    exit
fi
if ! "$PY" -c 'import numpy' >/dev/null 2>&1; then
    bad "$PY cannot import numpy (install python3-numpy)"
    finish
    exit
fi
out=$("$PY" tools/check_default.py --model models/default --data data/eval.jsonl --min-accuracy 0.95 \
    --predictions "$tmp/pred.txt" 2>&1)
st=$?
check "check_default.py: both kinds at 0.95 or more ($(printf '%s' "$out" | grep -E 'kind prompts|below' | tr '\n' ';'))" \
    '[ "$st" = 0 ]'
same=$(printf '%s\n' "$out" | grep -c '^  same-kind prompts')
check "data/eval.jsonl has same-kind records ($same summary line)" '[ "$same" = 1 ]'

# The engine predicts what the NumPy forward predicts, on the first same-kind record of each length.
awk -F'\t' '$3 == "same" && !seen[$4]++ { print $1 "\t" $2 }' "$tmp/pred.txt" |
    while IFS=$'\t' read -r line want; do
        printf '%s\t%s\n' "$("$PY" -c 'import json,sys; print(json.loads(open(sys.argv[1]).readlines()[int(sys.argv[2]) - 1])["text"])' data/eval.jsonl "$line")" "$want"
    done >"$tmp/same.tsv"
n=0
while IFS=$'\t' read -r text want; do
    got=$($BIN explain --model models/default --format json "$text" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target"])')
    n=$((n + 1))
    check "engine predicts token $want as NumPy does on [$text] (got $got)" '[ "$got" = "$want" ]'
done <"$tmp/same.tsv"
check "same-kind prompts of 2-5 facts found ($n)" '[ "$n" = 4 ]'
finish
