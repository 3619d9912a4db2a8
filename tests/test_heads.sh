#!/usr/bin/env bash
# Attention heads: explain --heads and --set-head against the PyTorch reference (tests/reference/
# heads_check.py: head_relevance, Σ heads = the attention block's relevance on bias-free o_proj, ablated
# logits), generate --set-head with the KV cache against full recomputation (greedy explain per step),
# and bad input: one line each, exit 2.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

py_tally tests/reference/heads_check.py --bin "$BIN" --models models/default

D=models/default
# generate --set-head (incremental, KV cache) = the argmax of a full forward with the same ablation, step by step.
gen=$("$BIN" generate --model $D --ids 1,50,60,70 -n 5 --no-eos --set-head 0:1=0 --set-head 2:3=*0.5 --format json |
      "$PY" -c 'import json,sys; print(",".join(map(str, json.load(sys.stdin)["generated_ids"])))')
ids=1,50,60,70
for k in 1 2 3 4 5; do
    next=$("$BIN" explain --model $D --ids $ids --set-head 0:1=0 --set-head 2:3=*0.5 --format json |
           "$PY" -c 'import json,sys; print(json.load(sys.stdin)["top"][0]["id"])')
    ids=$ids,$next
done
if [ "1,50,60,70,$gen" = "$ids" ]; then ok; else bad "generate --set-head $gen vs recomputed ${ids#1,50,60,70,}"; fi
plain=$("$BIN" generate --model $D --ids 1,50,60,70 -n 5 --no-eos --format json |
        "$PY" -c 'import json,sys; print(",".join(map(str, json.load(sys.stdin)["generated_ids"])))')
if [ "$plain" != "$gen" ]; then ok; else bad "generate --set-head changed nothing ($gen)"; fi

# The text table: one row per layer, one column per head.
rows=$("$BIN" explain --model $D --ids 1,50,60 --heads | grep -cE '^ +[0-9]+ +[-0-9.e]+[* ] ')
[ "$rows" = 4 ] && ok || bad "explain --heads text table: $rows layer rows, expected 4"

# The other families with head taps: shapes, and an ablation that changes the prediction's logit.
for spec in "models/sentiment 2 4" ; do
    set -- $spec
    r=$("$BIN" explain --model "$1" "a great movie" --heads --format json | "$PY" -c '
import json, sys
d = json.load(sys.stdin); print(len(d["head_relevance"]), len(d["head_relevance"][0]), d["target_logit"])')
    z=$("$BIN" explain --model "$1" "a great movie" --set-head 0:0=0 --format json | "$PY" -c '
import json, sys; print(json.load(sys.stdin)["target_logit"])')
    if [ "${r% *}" = "$2 $3" ] && [ "${r##* }" != "$z" ]; then ok; else bad "$1 --heads: [$r], ablated logit $z"; fi
done

expect 2 "attnlrp: --set-head 4:0: layer 4 out of range (0..3)" -- "$BIN" explain --model $D --ids 1,2 --set-head 4:0=0
expect 2 "attnlrp: --set-head 0:4: head 4 out of range (0..3)" -- "$BIN" explain --model $D --ids 1,2 --set-head 0:4=0
expect 2 "attnlrp: --set-head 0:1=0.5: a head can be zeroed (=0) or scaled (=*FACTOR) only" -- "$BIN" explain --model $D --ids 1,2 --set-head 0:1=0.5
expect 2 "attnlrp: --set-head 0-1=0: expected LAYER:HEAD=0 (zero the head's output) or LAYER:HEAD=*FACTOR" -- "$BIN" explain --model $D --ids 1,2 --set-head 0-1=0
expect 2 "attnlrp: --set-head 0:-1=0: expected LAYER:HEAD=0 (zero the head's output) or LAYER:HEAD=*FACTOR" -- "$BIN" generate --model $D --ids 1,2 --set-head 0:-1=0
expect 2 "attnlrp: --set-head 9:0: layer 9 out of range (0..3)" -- "$BIN" generate --model $D --ids 1,2 -n 2 --set-head 9:0=0
expect 2 "attnlrp: --heads: t5 has no attention head outputs to read (not supported for this family)" -- "$BIN" explain --model models/t5-facts --ids 5,6 --heads
expect 2 "attnlrp: --heads: ig attributes input tokens only (no head readouts)" -- "$BIN" explain --model $D --ids 1,2 --heads --method ig
# The HTML page carries the layer x head heatmap: every cell equals the JSON's head_relevance (to the %.4g
# the page prints), rows from the output layer down.
P="Leo's dog is called Rex. Leo's dog is called"
tmp=$(mktemp -d)
"$BIN" explain --model $D "$P" --heads --format json >"$tmp/h.json" && "$BIN" explain --model $D "$P" --heads --format html -o "$tmp/h.html"
check "explain --heads --format html: the head heatmap equals head_relevance" '"$PY" - "$tmp/h.json" "$tmp/h.html" <<PYEOF
import json, re, sys
d = json.load(open(sys.argv[1]))
page = open(sys.argv[2], encoding="utf-8").read()
table = page[page.index("id=\"heads\""):]
table = table[:table.index("</table>")]
cells = re.findall(r"title=\"layer (\d+), head (\d+)\">([^<]+)</td>", table)
H = len(d["head_relevance"][0])
ok = len(cells) == len(d["head_relevance"]) * H
for l, h, v in cells:
    want = d["head_relevance"][int(l)][int(h)]
    ok &= abs(float(v) - want) <= 1e-3 * max(abs(want), 1e-6) + 1e-9
ok &= [int(l) for l, h, v in cells[::H]] == list(range(len(d["head_relevance"]) - 1, -1, -1))
sys.exit(not ok)
PYEOF'
# --format png: the same matrix below the tokens (render/png_grid.h's layout: the matrix starts at
# y = 14 + 20·lines of tokens, cell (r, c) at x = 70 + 18c, y + 18r, 16 px); each clearly non-zero cell is
# red where the head's relevance is positive and blue where it is negative, the output layer on top.
"$BIN" explain --model $D "$P" --heads --format png -o "$tmp/h.png"
check "explain --heads --format png: the head heatmap's colours follow head_relevance" '"$PY" - "$tmp/h.json" "$tmp/h.png" <<PYEOF
import json, sys
from PIL import Image
d = json.load(open(sys.argv[1]))
im = Image.open(sys.argv[2]).convert("RGB")
hr = d["head_relevance"]
L, H = len(hr), len(hr[0])
lines = (len(d["relevance"]) + 15) // 16
y0 = 14 + 20 * lines
m = max(abs(v) for row in hr for v in row)
ok, n = True, 0
for r in range(L):
    for c in range(H):
        v = hr[L - 1 - r][c]
        R, G, B = im.getpixel((70 + 18 * c + 8, y0 + 18 * r + 8))
        if abs(v) > 0.2 * m:
            n += 1
            ok &= (R > B + 40) if v > 0 else (B > R + 40)
sys.exit(not (ok and n >= 1))
PYEOF'
rm -rf "$tmp"
finish
