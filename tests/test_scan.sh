#!/usr/bin/env bash
# attnlrp scan: the top-K windows of one MLP neuron over a corpus against a brute-force scan with the
# float64 PyTorch reference (tests/reference/scan_check.py: JSONL corpora of ids on tiny bias-free llama
# and mixtral checkpoints, plain text on the shipped default model), each result's relevance against the
# reference and `explain --latent-start`, cplrp conservation, determinism; the renderers; the one-line
# errors of bad input.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh

need_torch test_scan

py_check() { py_tally tests/reference/scan_check.py --bin "$BIN" "$@"; }

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
expect 2 "attnlrp: --atlas: the corpus, window and expert are the atlas's (give --neuron N, and --layer L to check the atlas's layer)" -- \
    $BIN scan --model $M --atlas "$tmp/atlas.json" --window 24 --neuron 0
expect 1 "attnlrp: --layer 1: the atlas $tmp/atlas.json is of layer 2" -- \
    $BIN scan --model $M --atlas "$tmp/atlas.json" --layer 1 --neuron 0
expect 1 "attnlrp: --layer 1: the atlas $tmp/atlas.json is of layer 2" -- \
    $BIN neuron --model $M --atlas "$tmp/atlas.json" --layer 1 --neuron 0
# read back: the same as the direct scan of that neuron (scan_check.py compares both with a brute-force scan)
$BIN scan --model $M --data "$tmp/facts.txt" --window 24 --layer 2 --neuron 17 --top 3 --format json >"$tmp/d.json"
$BIN scan --model $M --atlas "$tmp/atlas.json" --layer 2 --neuron 17 --format json >"$tmp/b.json"
check "scan --atlas --layer prints what the direct scan prints" 'cmp -s "$tmp/d.json" "$tmp/b.json"'
$BIN neuron --model $M --atlas "$tmp/atlas.json" --layer 2 --neuron 17 --top 2 --format json >"$tmp/n.json"
check "neuron --atlas: the projection and the direct scan's windows" '"$PY" -c "
import json, sys
d, n = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
keys = (\"index\", \"position\", \"activation\", \"ids\", \"tokens\")
ok = [{k: r[k] for k in keys} for r in d[\"results\"]] == n[\"atlas\"][\"results\"] and len(n[\"top\"]) == 2
sys.exit(0 if ok and n[\"atlas\"][\"windows\"] == d[\"windows\"] else 1)" "$tmp/d.json" "$tmp/n.json"'
$BIN neuron --model $M --atlas "$tmp/atlas.json" --layer 2 --neuron 17 >"$tmp/n.txt"
$BIN neuron --model $M --atlas "$tmp/atlas.json" --layer 2 --neuron 17 --format html -o "$tmp/n.html"
check "neuron --atlas text and HTML list the windows, the activating token marked" \
    '[ "$(grep -c "^#[0-9]  index" "$tmp/n.txt")" = 3 ] && grep -q "\[\[" "$tmp/n.txt" && [ "$(grep -c "<b style" "$tmp/n.html")" = 3 ]'
# broken atlases: one line each, exit 1
"$PY" - "$tmp" <<'EOF2'
import copy, json, sys
t = sys.argv[1]
a = json.load(open(t + "/atlas.json"))
w0 = str(a["neurons"][17][0][0])
def put(name, edit):
    b = copy.deepcopy(a)
    edit(b)
    json.dump(b, open(f"{t}/{name}.json", "w"))
put("tampered", lambda b: b["neurons"][17][0].__setitem__(2, b["neurons"][17][0][2] + 1.0))
put("badpos", lambda b: b["neurons"][17][1].__setitem__(1, 99))
put("badentry", lambda b: b["neurons"][17].__setitem__(0, [4, 22]))
put("noids", lambda b: b["ids"].pop(w0))
put("badid", lambda b: b["ids"][w0].__setitem__(3, 99999))
put("othervocab", lambda b: b.__setitem__("vocab_size", 50257))
put("version", lambda b: b.__setitem__("atlas", 2))
s = open(t + "/atlas.json", "rb").read()
open(t + "/trunc.json", "wb").write(s[:len(s) // 2])
EOF2
w0=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["neurons"][17][0][0])' "$tmp/atlas.json")
w1=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["neurons"][17][1][0])' "$tmp/atlas.json")
A="$BIN scan --model $M --neuron 17 --atlas"
act=$("$PY" -c 'import json,sys; a=json.load(open(sys.argv[1]))["neurons"][17][0][2]; print("%.6g %.6g" % (a + 1, a))' "$tmp/atlas.json")
expect 1 "attnlrp: --atlas $tmp/tampered.json: neuron 17, window $w0: activation ${act% *} in the atlas, ${act#* } with $M (scanned with another model)" -- \
    $A "$tmp/tampered.json"
expect 1 "attnlrp: --atlas $tmp/badpos.json: neuron 17, entry 1: position 99 is outside window $w1 (24 tokens)" -- $A "$tmp/badpos.json"
expect 1 "attnlrp: --atlas $tmp/badentry.json: neuron 17, entry 0 is broken (expected [index, position, activation], best first)" -- \
    $A "$tmp/badentry.json"
expect 1 "attnlrp: --atlas $tmp/noids.json: neuron 17, entry 0: window $w0 has no ids" -- $A "$tmp/noids.json"
expect 1 "attnlrp: --atlas $tmp/badid.json: window $w0: ids[3] is not a token id of $M (vocabulary size 1475)" -- $A "$tmp/badid.json"
expect 1 "attnlrp: --atlas $tmp/othervocab.json: scanned with another model (vocab_size 50257; $M has 1475)" -- \
    $A "$tmp/othervocab.json"
expect 1 "attnlrp: --atlas $tmp/version.json: not an attnlrp scan atlas (written by scan --neurons all)" -- $A "$tmp/version.json"
expect 1 "attnlrp: --atlas $tmp/tampered.json: neuron 17, window $w0: activation ${act% *} in the atlas, ${act#* } with $M (scanned with another model)" -- \
    $BIN neuron --model $M --atlas "$tmp/tampered.json" --layer 2 --neuron 17
err=$($A "$tmp/trunc.json" 2>&1 >/dev/null); st=$?
check "a truncated atlas: one line naming it, exit 1" \
    '[ $st = 1 ] && [ "$(printf "%s\n" "$err" | wc -l)" = 1 ] && case "$err" in "attnlrp: --atlas $tmp/trunc.json:"*"(the file is cut short)") true;; *) false;; esac'
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
