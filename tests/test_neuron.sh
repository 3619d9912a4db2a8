#!/usr/bin/env bash
# attnlrp neuron: the vocabulary projection against a direct NumPy product on the tiny checkpoints of
# every family with an MLP and on the shipped default model (tests/reference/neuron_check.py), plus
# the usage errors: one line each, exit 2 (a family without a projection: exit 1).
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

py_tally tests/reference/neuron_check.py --bin "$BIN" --models models/default

D=models/default
expect 2 "attnlrp: neuron: give --layer L and --neuron N" -- "$BIN" neuron --model $D --layer 0
expect 2 "attnlrp: --layer 4 out of range (0..3)" -- "$BIN" neuron --model $D --layer 4 --neuron 0
expect 2 "attnlrp: --neuron 192 out of range (0..191)" -- "$BIN" neuron --model $D --layer 0 --neuron 192
expect 2 "attnlrp: --expert 1: llama has a dense MLP (no experts)" -- "$BIN" neuron --model $D --layer 0 --neuron 0 --expert 1
expect 2 "attnlrp: --top 0: must be at least 1" -- "$BIN" neuron --model $D --layer 0 --neuron 0 --top 0
expect 2 "attnlrp: --format svg: expected text, json or html" -- "$BIN" neuron --model $D --layer 0 --neuron 0 --format svg
expect 2 "attnlrp: neuron: unknown argument hello (see attnlrp neuron --help)" -- "$BIN" neuron --model $D hello
expect 1 "attnlrp: bert: no projection of MLP neurons onto the outputs (post-norm blocks and a nonlinear classifier head: the neuron's output weights do not map linearly to labels)" -- "$BIN" neuron --model models/sentiment --layer 0 --neuron 0
expect 2 "attnlrp: --layer 0 is an encoder layer (0..2), which reaches the vocabulary only through cross-attention; decoder layers are 3..4" -- "$BIN" neuron --model models/t5-facts --layer 0 --neuron 0

# Text and HTML carry the same ranking as JSON.
"$BIN" neuron --model $D --layer 1 --neuron 7 --top 3 --format json >"$tmp/n.json" &&
    "$BIN" neuron --model $D --layer 1 --neuron 7 --top 3 >"$tmp/n.txt" &&
    "$BIN" neuron --model $D --layer 1 --neuron 7 --top 3 --format html -o "$tmp/n.html" || bad "neuron runs"
first=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["top"][0]["id"])' "$tmp/n.json")
if sed -n 4p "$tmp/n.txt" | grep -qE "^ +1 +$first " && grep -q "<td>$first</td>" "$tmp/n.html"; then ok
else bad "text/html top token differs from json ($first)"; fi
finish
