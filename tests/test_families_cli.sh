#!/usr/bin/env bash
# Every command on the families beside LLaMA, end to end, on tiny random checkpoints written by
# tests/reference/make_checkpoint.py (GPT-2 with the real GPT-2 vocabulary and tokenizer, BERT with the
# real BERT WordPiece vocabulary): generation with a KV cache against full recomputation, --explain,
# neurons, --set, eval, the GGUF twin of a GPT-2 checkpoint, classifiers and masked LMs, and the
# one-line errors of the new paths.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh
json() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

if ! "$PY" -c 'import numpy' >/dev/null 2>&1; then
    echo "FAIL test_families_cli: $PY cannot import numpy (install python3-numpy)"
    echo "0 passed, 1 failed"
    exit 1
fi
"$PY" tests/reference/make_checkpoint.py "$tmp" gpt2 gpt2_bias gpt2_text bert_text_cls bert_text_mlm roberta_mlm \
    distilbert_cls >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
cp tests/tokenizer/gpt2/tokenizer.json "$tmp/gpt2_text/"
cp tests/tokenizer/bert/tokenizer.json "$tmp/bert_text_cls/"
cp tests/tokenizer/bert/tokenizer.json "$tmp/bert_text_mlm/"
"$PY" tests/reference/gguf_twin.py "$tmp/gpt2_bias" "$tmp/gpt2_bias.gguf" || bad "gguf twin not written"

# ---- GPT-2: greedy generation with the KV cache equals the argmax of a full forward at every step ----
G=$tmp/gpt2_bias
prompt=3,17,41,8
gen=$($BIN generate --model "$G" --ids $prompt -n 10 --no-eos --format json | json 'd["generated_ids"]')
check "gpt2 generates 10 tokens ($gen)" '[ "$("$PY" -c "print(len($gen))")" = 10 ]'
ids=$prompt
for k in $(seq 0 9); do
    want=$("$PY" -c "print($gen[$k])")
    got=$($BIN explain --model "$G" --ids "$ids" --format json | json 'd["target"]')
    check "gpt2 step $k: KV-cache token $want = full-forward argmax $got" '[ "$want" = "$got" ]'
    ids="$ids,$want"
done
gen_gguf=$($BIN generate --model "$G.gguf" --ids $prompt -n 10 --no-eos --format json | json 'd["generated_ids"]')
check "the GGUF twin generates the same tokens" '[ "$gen" = "$gen_gguf" ]'

# --explain: one relevance row per generated token over the tokens before it
rows=$($BIN generate --model "$G" --ids $prompt -n 4 --no-eos --explain --format json |
      json '[len(e["relevance"]) for e in d["explanations"]]')
check "gpt2 generate --explain: a row per generated token over the tokens before it ($rows)" '[ "$rows" = "[4, 5, 6, 7]" ]'

# neurons and interventions: switching off the most relevant neuron changes the logit; setting a neuron to
# its own value (scale 1) changes nothing
top=$($BIN neurons --model "$G" --ids $prompt --top 1 --format json | json 'd["neurons"][0]["layer"], d["neurons"][0]["neuron"]')
check "gpt2 neurons ranks neurons ($top)" '[ -n "$top" ]'
set -- $top
base=$($BIN explain --model "$G" --ids $prompt --target-id 5 --format json | json 'd["target_logit"]')
same=$($BIN explain --model "$G" --ids $prompt --target-id 5 --set "$1:$2=*1" --format json | json 'd["target_logit"]')
off=$($BIN explain --model "$G" --ids $prompt --target-id 5 --set "$1:$2=0" --format json | json 'd["target_logit"]')
check "gpt2 --set L:N=*1 leaves the logit ($base = $same)" '[ "$base" = "$same" ]'
check "gpt2 --set L:N=0 changes the logit ($base -> $off)" '[ "$base" != "$off" ]'
expect 2 "attnlrp: --set 0:128: neuron 128 out of range (0..127)" -- $BIN explain --model "$G" --ids 1 --set 0:128=0

# text through the real GPT-2 tokenizer, and eval over a few records
T=$tmp/gpt2_text
out=$($BIN explain --model "$T" "The capital of France is" --format json | json 'd["tokens"][3], len(d["relevance_positions"])')
check "gpt2 text explain ($out)" '[ "$out" = " France 5" ]'
printf '%s\n' '{"text": "Alice likes tea. Alice likes", "span": [12, 15]}' '{"text": "Bob has a dog. Bob has a"}' >"$tmp/g.jsonl"
check "gpt2 eval runs" '$BIN eval --model "$T" --data "$tmp/g.jsonl" --steps 4 --format json -o "$tmp/g.json" && [ -s "$tmp/g.json" ]'
check "positions beyond n_positions are one error line" \
    '[ "$($BIN explain --model "$tmp/gpt2" --ids $("$PY" -c "print(\",\".join([\"1\"] * 65))") 2>&1 >/dev/null | wc -l)" = 1 ]'

# ---- BERT: a classifier and a masked LM on the real BERT vocabulary ----
C=$tmp/bert_text_cls
out=$($BIN explain --model "$C" "a great movie" --format json | json 'd["task"], len(d["logits"]), len(d["relevance_token_types"]), "relevance_cls" in d, "position" in d')
check "bert classifier JSON ($out)" '[ "$out" = "classifier 3 5 True False" ]'
s=$($BIN explain --model "$C" "a great movie" --method cplrp --format json | json 'd["relevance_sum"] - d["start_value"]')
check "bert classifier explains (cplrp, biases nonzero: sum - start = $s)" '[ -n "$s" ]'
expect 2 "attnlrp: --position 2: a classifier explains the whole input, not a position" -- $BIN explain --model "$C" --ids 101,2307,102 --position 2
expect 2 "attnlrp: --target-id 3: out of range (classes 3)" -- $BIN explain --model "$C" --ids 101,2307,102 --target-id 3
check "generate on a classifier is one error line" \
    '[ "$($BIN generate --model "$C" "a great" -n 2 2>&1 >/dev/null | wc -l)" = 1 ] && ! $BIN generate --model "$C" "a great" -n 2 >/dev/null 2>&1'
out=$($BIN explain --model "$C" "a great movie" --text-pair "i liked it" --target positive --format json |
      json 'd["token_type_ids"], d["target"], d["target_token"]')
check "bert pair through the tokenizer's template, class by label ($out)" \
    '[ "$out" = "[0, 0, 0, 0, 0, 1, 1, 1, 1] 2 positive" ]'
expect 2 'attnlrp: --target "happy": not a class of the model (labels: negative, neutral, positive)' -- \
    $BIN explain --model "$C" "a great movie" --target happy
expect 2 "attnlrp: --token-type-ids: type 2 at index 1 is out of range (0..1)" -- \
    $BIN explain --model "$C" --ids 101,2307,102 --token-type-ids 0,2,0
expect 2 "attnlrp: --attention-mask: every token is padding" -- \
    $BIN explain --model "$C" --ids 101,2307,102 --attention-mask 0,0,0
printf '%s\n' '{"text": "a great movie", "target": "positive", "span": [2, 7]}' '{"text": "an awful film", "target": "negative"}' \
    '{"text": "a dull plot", "target": "bored"}' >"$tmp/c.jsonl"
n=$($BIN eval --model "$C" --data "$tmp/c.jsonl" --steps 4 --format json 2>/dev/null | json 'd["n_evaluated"], d["n_bad"]')
check "bert classifier eval: 2 records evaluated, the unknown label is a bad record ($n)" '[ "$n" = "2 1" ]'
M=$tmp/bert_text_mlm
pos=$($BIN explain --model "$M" "the capital of france is [MASK] ." --format json | json 'd["position"], d["tokens"][d["position"]]')
check "masked LM explains the [MASK] position by default ($pos)" '[ "$pos" = "6 [MASK]" ]'
out=$($BIN explain --model "$M" --ids 101,1996,3007,1997,103,102 --position 4 --format json | json 'd["task"], d["position"], len(d["top"])')
check "bert masked LM JSON ($out)" '[ "$out" = "masked-lm 4 5" ]'
expect 2 "attnlrp: --position: a masked LM needs the position to explain, and the tokenizer has no mask token to find it" -- $BIN explain --model "$tmp/roberta_mlm" --ids 0,5,7,2
out=$($BIN explain --model "$tmp/distilbert_cls" --ids 2,5,7,3 --format json | json '"relevance_token_types" in d, len(d["relevance_positions"])')
check "distilbert has no token types ($out)" '[ "$out" = "False 4" ]'
# ---- ViT: pixels in, the gamma rule, and the errors of the image paths ----
"$PY" tests/reference/make_checkpoint.py "$tmp" vit_gray >/dev/null || bad "vit checkpoint not written"
V=$tmp/vit_gray
"$PY" -c "import numpy as np; np.save('$tmp/g.npy', np.random.default_rng(0).standard_normal((1, 28, 28)).astype(np.float32)); np.save('$tmp/wrong.npy', np.zeros((1, 32, 32), np.float32))"
out=$($BIN explain --model "$V" --pixels "$tmp/g.npy" --method cplrp --gamma 0.25,0.05 --format json |
      json 'len(d["relevance"]), len(d["relevance_pixels"]), len(d["relevance_pixels"][0]), len(d["relevance_positions"]), d["gamma"]')
check "vit JSON: 16 patches, 28x28 pixels, 17 positions, gamma ($out)" '[ "$out" = "16 28 28 17 [0.25, 0.05]" ]'
s=$($BIN explain --model "$V" --pixels "$tmp/g.npy" --method cplrp --format json | json 'abs(d["relevance_sum"] - d["start_value"]) < 1e-4 * abs(d["start_value"])')
check "vit cplrp conserves with zero biases" '[ "$s" = True ]'
expect 2 "attnlrp: --gamma -1,0.05: the values must be finite and not negative" -- $BIN explain --model "$V" --pixels "$tmp/g.npy" --gamma -1,0.05
expect 2 "attnlrp: --gamma 0.25: expected CONV,LIN (two numbers, e.g. 0.25,0.05)" -- $BIN explain --model "$V" --pixels "$tmp/g.npy" --gamma 0.25
expect 2 "attnlrp: --gamma: only with the LRP methods (attnlrp, cplrp), not gradient" -- $BIN explain --model "$V" --pixels "$tmp/g.npy" --gamma 0.25,0.05 --method gradient
expect 2 "attnlrp: --gamma: the gamma rule is for Vision Transformers; $tmp/gpt2 is a text model" -- $BIN explain --model "$tmp/gpt2" --ids 1,2 --gamma 0.25,0.05
expect 2 "attnlrp: --pixels: $tmp/gpt2 is a text model (give TEXT or --ids)" -- $BIN explain --model "$tmp/gpt2" --pixels "$tmp/g.npy"
expect 2 "attnlrp: explain: $V takes an image: give --pixels FILE (.npy, PNG or JPEG)" -- $BIN explain --model "$V" --ids 1,2
# heatmaps: a PNG beside or over the image, and HTML with the picture embedded
check "png heatmap written" '$BIN explain --model "$V" --pixels "$tmp/g.npy" --format png -o "$tmp/h.png" --overlay'
size=$("$PY" -c "from PIL import Image; im = Image.open('$tmp/h.png'); print(im.format, im.mode, im.size[0] > 224, im.size[1] > 224)")
check "the heatmap is an RGB PNG larger than the magnified image ($size)" '[ "$size" = "PNG RGB True True" ]'
check "html embeds the heatmap" '$BIN explain --model "$V" --pixels "$tmp/g.npy" --format html -o "$tmp/h.html" && grep -q "data:image/png;base64," "$tmp/h.html"'
expect 2 "attnlrp: --format png: give the file with -o FILE.png" -- $BIN explain --model "$V" --pixels "$tmp/g.npy" --format png
check "text png (coloured token boxes, tests/test_outputs.sh)" '$BIN explain --model "$tmp/gpt2" --ids 1 --format png -o "$tmp/x.png" && [ -s "$tmp/x.png" ]'
expect 2 "attnlrp: --overlay: only with an image (--pixels)" -- $BIN explain --model "$tmp/gpt2" --ids 1 --format png -o "$tmp/x.png" --overlay
expect 2 "attnlrp: --overlay: only with --format png or html" -- $BIN explain --model "$V" --pixels "$tmp/g.npy" --overlay
check "no partial heatmap file after an error" '! $BIN explain --model "$V" --pixels "$tmp/wrong.npy" --format png -o "$tmp/bad.png" 2>/dev/null && [ ! -e "$tmp/bad.png" ]'
mkdir -p "$tmp/imgs"
"$PY" -c "
import numpy as np
for i in range(4): np.save('$tmp/imgs/%d.npy' % i, np.random.default_rng(i).standard_normal((1, 28, 28)).astype(np.float32))"
n=$($BIN eval --model "$V" --images "$tmp/imgs" --steps 4 --format json 2>/dev/null | json 'd["n_evaluated"], ",".join(m["method"] for m in d["methods"])')
check "vit eval over a folder: 4 images, every method with the gamma variants ($n)" \
    '[ "$n" = "4 attnlrp,cplrp,gradxinput,gradient,random,attnlrp+gamma,cplrp+gamma" ]'
printf '%s\n' "{\"image\": \"$tmp/imgs/0.npy\", \"label\": \"cat\"}" "{\"image\": \"$tmp/imgs/1.npy\", \"label\": \"zebra\"}" >"$tmp/imgs.jsonl"
n=$($BIN eval --model "$V" --images "$tmp/imgs.jsonl" --methods cplrp+gamma,random --steps 4 --format json 2>/dev/null | json 'd["n_evaluated"], d["n_bad"]')
check "vit eval over labelled records: the unknown label is a bad record ($n)" '[ "$n" = "1 1" ]'
expect 2 "attnlrp: eval: $V is an image classifier: give --images" -- $BIN eval --model "$V" --data "$tmp/imgs.jsonl"
expect 2 "attnlrp: eval: $tmp/gpt2_text reads text: give --data" -- $BIN eval --model "$tmp/gpt2_text" --images "$tmp/imgs"
expect 2 "attnlrp: --methods: cplrp+gamma is for Vision Transformers; gpt2 is a text model" -- $BIN eval --model "$tmp/gpt2_text" --data "$tmp/g.jsonl" --methods cplrp+gamma
check "a .npy of the wrong size is one error line" \
    '[ "$($BIN explain --model "$V" --pixels "$tmp/wrong.npy" 2>&1 >/dev/null | wc -l)" = 1 ] && ! $BIN explain --model "$V" --pixels "$tmp/wrong.npy" >/dev/null 2>&1'
finish
