#!/usr/bin/env bash
# attnlrp scan: the top-K windows of one MLP neuron over a corpus against a brute-force scan with the
# float64 PyTorch reference (tests/reference/scan_check.py: JSONL corpora of ids on tiny bias-free llama
# and mixtral checkpoints, plain text on the shipped default model), each result's relevance against the
# reference and `explain --latent-start`, cplrp conservation, determinism; the renderers; the one-line
# errors of bad input.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh

if ! "$PY" -c 'import torch, numpy' >/dev/null 2>&1; then
    echo "FAIL test_scan: $PY cannot import torch and numpy"
    echo "0 passed, 1 failed"
    exit 1
fi

# count the passes and failures the Python check reports
py_check() {
    local out line p f
    out=$("$PY" tests/reference/scan_check.py --bin "$BIN" "$@" 2>&1)
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ]; then bad "scan_check.py $* printed no summary: $(printf '%s' "$out" | tail -n 5)"; return; fi
    p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
    pass=$((pass + p)); fail=$((fail + f))
    [ "$f" = 0 ] || printf '%s\n' "$out" | grep FAIL | head -n 20
}

mkdir -p "$tmp/tiny"
py_check --dir "$tmp/tiny"

# plain text on the shipped model: windows of 24 tokens (BOS + 23), against the reference
"$PY" -c "
import json
for l in list(open('data/eval.jsonl'))[:30]: print(json.loads(l)['text'])" >"$tmp/facts.txt"
py_check --model models/default --text "$tmp/facts.txt" --window 24 --layer 2 --neuron 17 --top 4

# JSONL "text" records (the eval set) and the renderers
M=models/default
$BIN scan --model $M --data data/eval.jsonl --layer 1 --neuron 3 --top 3 --format json >"$tmp/e.json" 2>/dev/null
check "JSONL text records: 600 windows, 3 results" \
    '"$PY" -c "import json,sys; d=json.load(open(\"$tmp/e.json\")); sys.exit(0 if d[\"windows\"] == 600 and len(d[\"results\"]) == 3 and d[\"data_format\"] == \"jsonl\" else 1)"'
$BIN scan --model $M --data "$tmp/facts.txt" --layer 2 --neuron 17 --top 2 --window 24 >"$tmp/t.txt" 2>"$tmp/t.err"
check "text output lists 2 results with the activating token marked" \
    '[ "$(grep -c "^#[0-9]  index" "$tmp/t.txt")" = 2 ] && grep -q "\[\[" "$tmp/t.txt"'
check "no progress on stderr when it is not a terminal" '[ ! -s "$tmp/t.err" ]'
$BIN scan --model $M --data "$tmp/facts.txt" --layer 2 --neuron 17 --top 2 --window 24 --progress >/dev/null 2>"$tmp/p.err"
check "--progress reports the scan's throughput" 'grep -q "tokens/s" "$tmp/p.err" && grep -q "ETA" "$tmp/p.err"'
$BIN scan --model $M --data "$tmp/facts.txt" --layer 2 --neuron 17 --top 2 --window 24 --format html -o "$tmp/s.html"
check "HTML output has coloured spans and the outlined position" \
    'grep -q "<span class=\"act\" style=\"background" "$tmp/s.html" && grep -q "</html>" "$tmp/s.html"'

# the README's example prints what the README shows
$BIN scan --data data/eval.jsonl --layer 0 --neuron 175 --top 3 >"$tmp/readme.txt"
check "README scan example output is current" \
    '"$PY" -c "import sys; sys.exit(0 if open(\"$tmp/readme.txt\").read() in open(\"README.md\").read() else 1)"'

# bad input: one line, exit 2 (usage) or 1 (data)
: >"$tmp/empty.txt"
printf '\n  \n' >"$tmp/blank.jsonl"
printf 'caf\xe9 au lait\n' >"$tmp/latin1.txt"
printf '{"text": "ok"}\n{"txt": 1}\n' >"$tmp/bad.jsonl"
printf '{"text": "caf\xe9"}\n' >"$tmp/latin1.jsonl"
printf '{"ids": [1, 99999]}\n' >"$tmp/range.jsonl"
D="--model $M --layer 0 --neuron 0"
expect 1 "attnlrp: --data $tmp/empty.txt: no text (empty corpus)" -- $BIN scan $D --data "$tmp/empty.txt"
expect 1 "attnlrp: --data $tmp/blank.jsonl: no text (empty corpus)" -- $BIN scan $D --data "$tmp/blank.jsonl"
expect 1 "attnlrp: --data $tmp/latin1.txt: byte 3 is not UTF-8 text (0xe9)" -- $BIN scan $D --data "$tmp/latin1.txt"
expect 1 "attnlrp: --data $tmp/latin1.jsonl:1: unable to decode byte 0xe9 near '\"caf'" -- $BIN scan $D --data "$tmp/latin1.jsonl"
expect 1 "attnlrp: --data $tmp/bad.jsonl:2: expected an object with \"text\" (a string) or \"ids\" (an array)" -- \
    $BIN scan $D --data "$tmp/bad.jsonl"
expect 1 "attnlrp: --data $tmp/range.jsonl: window 0: ids: id 99999 at index 1 is out of range (vocabulary size 1475)" -- \
    $BIN scan $D --data "$tmp/range.jsonl"
expect 1 "attnlrp: --data $tmp/missing.txt: cannot read it" -- $BIN scan $D --data "$tmp/missing.txt"
expect 2 "attnlrp: --top 0: must be at least 1" -- $BIN scan $D --data "$tmp/facts.txt" --top 0
expect 2 "attnlrp: --window 0: must be at least 1" -- $BIN scan $D --data "$tmp/facts.txt" --window 0
expect 2 "attnlrp: --window 1: must be more than the 1 special token(s) each window starts with" -- \
    $BIN scan $D --data "$tmp/facts.txt" --window 1
expect 1 "attnlrp: --layer 4: out of range (0..3)" -- $BIN scan --model $M --data "$tmp/facts.txt" --layer 4 --neuron 0
expect 1 "attnlrp: --neuron 192: out of range (0..191)" -- $BIN scan --model $M --data "$tmp/facts.txt" --layer 0 --neuron 192
expect 2 "attnlrp: --neuron -1: must not be negative" -- $BIN scan --model $M --data "$tmp/facts.txt" --layer 0 --neuron -1
expect 1 "attnlrp: --expert 0: llama has no experts (not a mixture-of-experts model)" -- \
    $BIN scan $D --data "$tmp/facts.txt" --expert 0
expect 1 "attnlrp: --expert 9: out of range (0..3)" -- \
    $BIN scan --model "$tmp/tiny/mixtral" --layer 0 --neuron 0 --data "$tmp/tiny/mixtral.jsonl" --expert 9
expect 2 "attnlrp: scan: give the corpus with --data CORPUS (or a scanned --atlas FILE)" -- $BIN scan $D
expect 2 "attnlrp: scan: give the neuron with --layer L and --neuron N (or --neurons all)" -- \
    $BIN scan --model $M --data "$tmp/facts.txt"
# the atlas
$BIN scan --model $M --data "$tmp/facts.txt" --window 24 --layer 2 --neurons all --top 3 -o "$tmp/atlas.json"
check "atlas written" '[ -s "$tmp/atlas.json" ]'
expect 2 "attnlrp: --neurons all: writes an atlas file; give it with -o FILE" -- \
    $BIN scan --model $M --layer 0 --data "$tmp/facts.txt" --neurons all
expect 2 "attnlrp: scan: give --neuron N or --neurons all, not both" -- \
    $BIN scan $D --data "$tmp/facts.txt" --neurons all -o "$tmp/x.json"
expect 2 "attnlrp: --neurons some: expected all (one neuron: --neuron N)" -- $BIN scan $D --data "$tmp/facts.txt" --neurons some
expect 2 "attnlrp: --atlas: the corpus, layer, window and expert are the atlas's (give --neuron N only)" -- \
    $BIN scan --model $M --atlas "$tmp/atlas.json" --layer 2 --neuron 0
expect 1 "attnlrp: --top 4: the atlas $tmp/atlas.json keeps 3 windows per neuron" -- \
    $BIN scan --model $M --atlas "$tmp/atlas.json" --neuron 0 --top 4
expect 1 "attnlrp: --neuron 192: out of range (0..191)" -- $BIN scan --model $M --atlas "$tmp/atlas.json" --neuron 192
expect 1 "attnlrp: --atlas $tmp/facts.txt:1: '[' or '{' expected near 'Julia'" -- $BIN scan --model $M --atlas "$tmp/facts.txt" --neuron 0
expect 1 "attnlrp: --atlas $tmp/atlas.json: layer 2 with 192 neurons does not fit $tmp/tiny/llama_mha (2 layers of 64 neurons)" -- \
    $BIN scan --model "$tmp/tiny/llama_mha" --atlas "$tmp/atlas.json" --neuron 0
expect 2 "attnlrp: --method ig: explains an output prediction, not a latent neuron (use attnlrp, cplrp, gradxinput or gradient)" -- \
    $BIN scan $D --data "$tmp/facts.txt" --method ig
expect 2 "attnlrp: scan: unknown option --bogus (see attnlrp scan --help)" -- $BIN scan $D --data "$tmp/facts.txt" --bogus
finish
