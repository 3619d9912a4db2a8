#!/usr/bin/env bash
# Output views end to end (README "Output views"): --aggregate word sums the tokens it covers, characters
# split over byte tokens are shown whole and valid UTF-8, --normalize against its closed forms, the
# conservation report against the JSON's own arrays summed independently (Python), the text PNG decoded
# by PIL, the HTML's fields (and, where chromium is installed, a headless screenshot of it), bad input.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh

SHARED=${ATTNLRP_SHARED:-../shared}
G=$SHARED/models/stories260K/stories260K.gguf
TXT="Café 日本 is nice, unbelievably"

# JSON checks shared by every model: words vs tokens, normalisation, conservation.
json_checks() {  # json_checks FILE.json DETOK.txt
    "$PY" - "$1" "$2" <<'PYEOF'
import json, math, sys
d = json.load(open(sys.argv[1]))
detok = open(sys.argv[2], encoding="utf-8").read()
fails = []
R = d["relevance"]
words = d["words"]
# the words tile the tokens, and each word's relevance is the sum of its tokens'
pos = 0
for w in words:
    if w["start_token"] != pos or w["end_token"] < w["start_token"]: fails.append(f"word {w} does not tile")
    pos = w["end_token"] + 1
    s = math.fsum(R[w["start_token"]:w["end_token"] + 1])
    if abs(w["relevance"] - s) > 1e-6 * max(1.0, abs(s)): fails.append(f"word {w['text']!r}: {w['relevance']} != {s}")
if pos != len(R): fails.append("words do not cover every token")
# the words spell the detokenized text (special tokens are words of their own, left out of the text)
special = lambda t: (t[:1], t[-1:]) in (("<", ">"), ("[", "]")) and " " not in t   # <s>, [CLS], [UNK]: words of their own
text = "".join(w["text"] for w in words if not special(w["text"]))
if text.strip() != detok.strip(): fails.append(f"words spell {text!r}, detokenized {detok!r}")
# normalisation: sum of |word| (--normalize sum over words); JSON floats carry 9 digits: 1e-7 relative
n = d["normalization"]
scale = math.fsum(abs(w["relevance"]) for w in words)
if n["method"] != "sum" or n["over"] != "words" or abs(n["scale"] - scale) > 1e-7 * scale: fails.append(f"normalization {n} != {scale}")
for w in words:
    if abs(w["relevance_normalized"] - w["relevance"] / scale) > 1e-7 * max(abs(w["relevance_normalized"]), 1e-3): fails.append(f"normalized word {w}")
# conservation against the arrays
c = d["conservation"]
total = math.fsum(R) + math.fsum(d.get("relevance_positions", [])) + math.fsum(d.get("relevance_token_types", []))
if abs(c["relevance_sum"] - total) > 1e-5 * max(1.0, abs(total)): fails.append(f"relevance_sum {c['relevance_sum']} != {total}")
if c["relevance_sum"] != d["relevance_sum"] or c["start_value"] != d["start_value"]: fails.append("conservation fields differ from the top-level ones")
# (numbers that are floats are written with 9 significant digits: compare to 1e-7 relative)
if abs(c["ratio"] - c["relevance_sum"] / c["start_value"]) > 1e-7 * max(1.0, abs(c["ratio"])): fails.append("ratio")
layers = d["residual_relevance"]
prev = c["relevance_sum"]
for l, e in enumerate(c["per_layer"]):
    out = math.fsum(layers[l])
    if e["layer"] != l or abs(e["relevance_out"] - out) > 1e-5 * max(1.0, abs(out)) or abs(e["relevance_in"] - prev) > 1e-5 * max(1.0, abs(prev)):
        fails.append(f"layer {l}: {e} vs out {out} in {prev}")
    if abs(e["lost_share"] - (e["relevance_out"] - e["relevance_in"]) / c["start_value"]) > 1e-7 * (abs(e["relevance_out"]) + abs(e["relevance_in"])) / abs(c["start_value"]): fails.append(f"lost_share {l}: {e}")
    prev = out
h = c["head"]
if abs(h["relevance_in"] - prev) > 1e-5 * max(1.0, abs(prev)) or abs(h["lost_share"] - (c["start_value"] - h["relevance_in"]) / c["start_value"]) > 1e-7 * (1 + abs(h["relevance_in"] / c["start_value"])): fails.append(f"head {h}")
# the shares add up: (start - relevance_sum) / start
tot = math.fsum(e["lost_share"] for e in c["per_layer"]) + h["lost_share"]
if abs(tot - (c["start_value"] - c["relevance_sum"]) / c["start_value"]) > 1e-6: fails.append(f"shares sum to {tot}")
for f in fails: print(f)
sys.exit(1 if fails else 0)
PYEOF
}

# utf8_checks FILE: the file decodes as strict UTF-8 and shows no replacement character
utf8_checks() { "$PY" -c "import sys; t = open(sys.argv[1], 'rb').read().decode('utf-8'); sys.exit('\ufffd' in t)" "$1"; }

for M in models/default "$G" models/sentiment; do
    name=$(basename "$M")
    [ -e "$M" ] || { echo "skip $name: $M is absent"; continue; }
    $BIN explain --model "$M" "$TXT" --aggregate word --normalize sum --layers --format json -o "$tmp/$name.json" 2>"$tmp/err" || bad "$name json: $(cat "$tmp/err")"
    ids=$("$PY" -c "import json,sys; print(','.join(map(str, json.load(open(sys.argv[1]))['ids'])))" "$tmp/$name.json")
    $BIN detokenize --model "$M" --skip-special --ids "$ids" > "$tmp/$name.detok"
    check "$name: words, normalisation, conservation" 'json_checks "$tmp/$name.json" "$tmp/$name.detok"'
    for agg in token word; do
        $BIN explain --model "$M" "$TXT" --aggregate $agg > "$tmp/$name.$agg.txt"
        check "$name text --aggregate $agg is valid UTF-8 without U+FFFD" 'utf8_checks "$tmp/$name.$agg.txt"'
        $BIN explain --model "$M" "$TXT" --aggregate $agg --format html -o "$tmp/$name.$agg.html"
        check "$name html --aggregate $agg is valid UTF-8 without U+FFFD" 'utf8_checks "$tmp/$name.$agg.html"'
    done
done
# the text shows the characters, whole: é once per token it spans, 日 and 本 as themselves
check "text shows é and 日本 (default model)" 'grep -q "\"é\" (1/2)" "$tmp/default.token.txt" && grep -q "\"日\" (1/3)" "$tmp/default.token.txt"'
check "word view shows Café and 日本 (default model)" 'grep -q "\"Café\"" "$tmp/default.word.txt" && grep -q "\" 日本\"" "$tmp/default.word.txt"'
check "word view on the GGUF byte-fallback tokenizer" 'grep -q "\" Café\"" "$tmp/stories260K.gguf.word.txt" && grep -q "\" 日本\"" "$tmp/stories260K.gguf.word.txt"'
check "WordPiece words join ## pieces" '"$PY" -c "import json,sys; w=[x[\"text\"] for x in json.load(open(sys.argv[1]))[\"words\"]]; sys.exit(\" unbelievably\" not in w)" "$tmp/sentiment.json"'

# --normalize max and none: closed forms against the JSON's relevance, and the scale line of the text
$BIN explain "$TXT" --normalize max --format json -o "$tmp/max.json"
check "--normalize max: relevance / max|relevance|" '"$PY" -c "
import json,sys; d=json.load(open(sys.argv[1])); R=d[\"relevance\"]; m=max(abs(r) for r in R); n=d[\"normalization\"]
sys.exit(not (n[\"method\"]==\"max\" and n[\"over\"]==\"tokens\" and abs(n[\"scale\"]-m)<=1e-7*m and all(abs(a-b/m)<=1e-7 for a,b in zip(d[\"relevance_normalized\"],R))))" "$tmp/max.json"'
m=$("$PY" -c "import json,sys; print('%.6g' % max(abs(r) for r in json.load(open(sys.argv[1]))['relevance']))" "$tmp/max.json")
check "text shows the scale max|R| = $m" '$BIN explain "$TXT" --normalize max | grep -qx "scale: max|R| = $m over tokens (values shown divided by it)"'
$BIN explain "$TXT" --format json -o "$tmp/none.json"
check "default: no normalisation, relevance unchanged" '"$PY" -c "
import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))
sys.exit(not (a[\"normalization\"]==dict(method=\"none\", scale=1, over=\"tokens\") and \"relevance_normalized\" not in a and a[\"relevance\"]==b[\"relevance\"] and \"words\" not in a))" "$tmp/none.json" "$tmp/max.json"'
check "text: conservation line" '$BIN explain "$TXT" | grep -q "^relevance sum .*, start value .*, ratio "'

# the text PNG: size from the documented layout, box colours of the largest and smallest token
$BIN explain "$TXT" --layers --format png -o "$tmp/t.png" || bad "png"
check "text png: size and colours" '"$PY" - "$tmp/t.png" "$tmp/none.json" <<"PYEOF"
import json, sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB"); d = json.load(open(sys.argv[2])); R = d["relevance"]; T = len(R); L = 4
# the layout of src/render/png_grid.h
m = max(abs(r) for r in R)
lines = (T + 15) // 16
matrix_y = 8 + lines * 20 - 2 + 8
W = max(8 + 201 + 6 + 7 * len("+-max|R| %.4g" % m), 8 + min(T, 16) * 62 - 2, 70 + T * 18 - 2) + 8
H = matrix_y + L * 18 - 2 + 8 + 14 + 8
ok = im.size == (W, H)
k = max(range(T), key=lambda i: R[i]); j = min(range(T), key=lambda i: R[i])
box = lambda i: im.getpixel((8 + (i % 16) * 62 + 59, 8 + (i // 16) * 20 + 9))
# ColorBrewer RdBu ends: +1 is (103, 0, 31); -1 is (5, 48, 97)
if R[k] == m: ok &= box(k) == (103, 0, 31)
if -R[j] == m: ok &= box(j) == (5, 48, 97)
ok &= im.getpixel((8 + 60, 9)) == (255, 255, 255)
print(im.size, (W, H), box(k), box(j)) if not ok else None
sys.exit(not ok)
PYEOF'

# HTML: what was asked for is on the page
$BIN explain "$TXT" --contrast " Bunny" --layers --latent-layer 1 --format html -o "$tmp/p.html" 2>"$tmp/err" || bad "html: $(cat "$tmp/err")"
for want in "minus the logit of foil" "&ldquo; Bunny&rdquo;" "explained scalar: start value" "Conservation: relevance sum" \
            'class="legend"' 'id="top"' 'id="layers"' 'id="latent"' "é" "日"; do
    check "html has $want" 'grep -qF "$want" "$tmp/p.html"'
done
$BIN generate --model "$G" "Once upon a time" -n 4 --explain --format html -o "$tmp/g.html" || bad "generate html"
check "generate html: the matrix" 'grep -q "id=\"matrix\"" "$tmp/g.html" && [ "$(grep -o "<tr><th>" "$tmp/g.html" | wc -l)" = 5 ]'
$BIN generate --model "$G" "Once upon a time" -n 4 --explain --format png -o "$tmp/g.png" || bad "generate png"
check "generate png: 4 rows x 8 columns" '"$PY" -c "
from PIL import Image; import sys; im=Image.open(sys.argv[1]); sys.exit(im.size != (8+201+6+7*len(\"+-max|R| of each row\")+8, 8+4*18-2+8+14+8))" "$tmp/g.png"'

# a headless browser renders the page (chromium from Debian, when installed)
if command -v chromium >/dev/null 2>&1; then
    timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,1200 \
        --user-data-dir="$tmp/chromium" --screenshot="$tmp/shot.png" "file://$tmp/p.html" >/dev/null 2>&1
    check "chromium screenshot shows the red and blue cells" '"$PY" -c "
from PIL import Image; import sys
im = Image.open(sys.argv[1]).convert(\"RGB\"); px = set(im.getdata())
red = any(r > 200 and g < 150 and b < 150 for r, g, b in px); blue = any(b > 200 and r < 150 and g < 150 for r, g, b in px)
sys.exit(not (im.size == (1000, 1200) and red and blue))" "$tmp/shot.png"'
else
    echo "skip: chromium is not installed (apt-get install chromium): no screenshot of the HTML"
fi

# bad input: one line, exit 2
expect 2 "attnlrp: --aggregate sentence: expected token or word" -- $BIN explain "x" --aggregate sentence
expect 2 "attnlrp: --normalize l2: expected none, max or sum" -- $BIN explain "x" --normalize l2
expect 2 "attnlrp: --format png: give the file with -o FILE.png" -- $BIN explain "x" --format png
expect 2 "attnlrp: --format png: give the file with -o FILE.png" -- $BIN generate "x" --explain --format png
expect 2 "attnlrp: --format html: the heatmap needs --explain" -- $BIN generate "x" --format html
expect 2 "attnlrp: --aggregate word: an image has no words (give TEXT)" -- $BIN explain --model models/vit-fashion --pixels data/fashion/4-coat.png --aggregate word
mkdir -p "$tmp/notok" && cp models/default/config.json models/default/model.safetensors "$tmp/notok/"
expect 1 "attnlrp: --aggregate word: the model has no tokenizer (no tokenizer.json) to tell words apart" -- $BIN explain --model "$tmp/notok" --ids 1,2 --aggregate word
finish
