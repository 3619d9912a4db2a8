#!/usr/bin/env bash
# T5 encoder-decoders end to end on tiny random checkpoints written by tests/reference/make_checkpoint.py
# (the values themselves are checked against the PyTorch reference in tests/reference/check.py): the
# decoder input is decoder_start_token_id then --decoder-ids, the JSON fields of SPEC §8 for
# encoder-decoders (decoder_relevance, relevance_sum over both, the per-stack residual readouts), the text
# and HTML renderers' two rows, every method, and the one-line errors: --decoder-ids on a decoder-only
# model, decoder ids out of range, a config without decoder_start_token_id, a checkpoint without its
# decoder, and what generate/neurons do not support yet.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh
json() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

if ! "$PY" -c 'import numpy' >/dev/null 2>&1; then
    echo "FAIL test_t5_cli: $PY cannot import numpy (install python3-numpy)"
    echo "0 passed, 1 failed"
    exit 1
fi
"$PY" tests/reference/make_checkpoint.py "$tmp" t5_gated t5_relu llama_mha >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
G=$tmp/t5_gated
R=$tmp/t5_relu

# No prefix: the decoder reads its start token alone and the explained position is 0.
out=$($BIN explain --model "$G" --ids 5,6,7 --format json)
check "no prefix: decoder_ids [0]" '[ "$(echo "$out" | json "d[\"decoder_ids\"]")" = "[0]" ]'
check "no prefix: position 0" '[ "$(echo "$out" | json "d[\"position\"]")" = "0" ]'
check "task seq2seq-lm" '[ "$(echo "$out" | json "d[\"task\"]")" = "seq2seq-lm" ]'
# A prefix of 4: five decoder inputs, the last explained; relevance_sum sums source and target.
out=$($BIN explain --model "$R" --ids 5,6,7,8,9,10,11 --decoder-ids 3,4,5,6 --format json --layers)
check "prefix 4: decoder_ids" '[ "$(echo "$out" | json "d[\"decoder_ids\"]")" = "[0, 3, 4, 5, 6]" ]'
check "prefix 4: position 4" '[ "$(echo "$out" | json "d[\"position\"]")" = "4" ]'
check "prefix 4: 7 source and 5 decoder relevances" \
    '[ "$(echo "$out" | json "len(d[\"relevance\"]), len(d[\"decoder_relevance\"])")" = "7 5" ]'
check "relevance_sum = sum over source and target" \
    '[ "$(echo "$out" | json "abs(sum(d[\"relevance\"]) + sum(d[\"decoder_relevance\"]) - d[\"relevance_sum\"]) < 1e-5")" = True ]'
check "--layers: 2 encoder layers x 7, 3 decoder layers x 5, no residual_relevance" \
    '[ "$(echo "$out" | json "[len(r) for r in d[\"encoder_residual_relevance\"]], [len(r) for r in d[\"decoder_residual_relevance\"]], \"residual_relevance\" in d")" = "[7, 7] [5, 5, 5] False" ]'
for m in attnlrp cplrp gradxinput gradient; do
    out=$($BIN explain --model "$G" --ids 9,8,7 --decoder-ids 1,2 --method $m --format json)
    check "method $m runs on t5 (decoder_relevance of 3)" '[ "$(echo "$out" | json "len(d[\"decoder_relevance\"])")" = "3" ]'
done
# cplrp: conservation over source + target (T5 has no biases).
out=$($BIN explain --model "$G" --ids 9,8,7,6 --decoder-ids 1,2 --method cplrp --format json)
check "cplrp conserves over source + target" \
    '[ "$(echo "$out" | json "abs(d[\"relevance_sum\"] - d[\"start_value\"]) <= 1e-5 * abs(d[\"start_value\"])")" = True ]'
# --contrast, --target-id and --position (a decoder position), a latent start in a decoder layer (layer 2 =
# the decoder's first with 2 encoder layers) at a decoder position.
out=$($BIN explain --model "$G" --ids 9,8,7 --decoder-ids 1,2 --target-id 4 --contrast 5 --position 1 --format json)
check "--position 1 --target-id 4 --contrast 5" '[ "$(echo "$out" | json "d[\"position\"], d[\"target\"], d[\"contrast\"]")" = "1 4 5" ]'
out=$($BIN explain --model "$G" --ids 9,8,7,6,5 --decoder-ids 1,2 --latent-start 2,2,7 --latent-layer 2 --format json)
check "latent start in a decoder layer" '[ "$(echo "$out" | json "d[\"latent_start\"], len(d[\"latent_relevance\"])")" = "[2, 2, 7] 48" ]'
# Text and HTML: the source, then the target prefix.
txt=$($BIN explain --model "$G" --ids 9,8,7 --decoder-ids 1,2)
check "text shows the source row" 'echo "$txt" | grep -q "^source:"'
check "text shows the target prefix row" 'echo "$txt" | grep -q "^target prefix (decoder input, start token first):"'
check "text explains a decoder position" 'echo "$txt" | grep -q "^explaining decoder position 2"'
html=$($BIN explain --model "$G" --ids 9,8,7 --decoder-ids 1,2 --format html)
check "html has both rows" 'echo "$html" | grep -q "<h2>Source</h2>" && echo "$html" | grep -q "<h2>Target prefix"'
txt=$($BIN explain --model "$R" --ids 9,8,7 --layers)
check "text --layers: decoder layers numbered after the encoder's" 'echo "$txt" | grep -q "^  layer  4 "'

# Errors, one line each.
expect 2 "attnlrp: --decoder-ids: $tmp/llama_mha is not an encoder-decoder (model_type llama has no decoder input)" \
    -- $BIN explain --model "$tmp/llama_mha" --ids 1,2 --decoder-ids 3
expect 2 "attnlrp: --decoder-ids: id 100 at index 1 is out of range (vocabulary size 100)" \
    -- $BIN explain --model "$G" --ids 1,2 --decoder-ids 3,100
expect 2 "attnlrp: explain: give --decoder-text or --decoder-ids, not both" \
    -- $BIN explain --model "$G" --ids 1,2 --decoder-text hi --decoder-ids 3
expect 1 "attnlrp: --decoder-text: the model has no tokenizer (no tokenizer.json beside it): give the prefix as --decoder-ids" \
    -- $BIN explain --model "$G" --ids 1,2 --decoder-text hi
expect 2 "attnlrp: --position 2: out of range for 2 tokens (0..1)" \
    -- $BIN explain --model "$G" --ids 1,2,3,4 --decoder-ids 3 --position 2
expect 2 "attnlrp: --latent-start 2,2,0: position 2 out of range (0..1)" \
    -- $BIN explain --model "$G" --ids 1,2,3,4 --decoder-ids 3 --latent-start 2,2,0
cp -r "$G" "$tmp/no_start"
"$PY" - "$tmp/no_start/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
del c["decoder_start_token_id"]
json.dump(c, open(sys.argv[1], "w"))
PY
expect 1 "attnlrp: $tmp/no_start: config.json: field \"decoder_start_token_id\" missing (the decoder's first input token; T5 uses 0, the pad token)" \
    -- $BIN explain --model "$tmp/no_start" --ids 1,2
mkdir -p "$tmp/encoder_only"
cp "$G/config.json" "$tmp/encoder_only/"
"$PY" - "$G" "$tmp/encoder_only" <<'PY'
import sys
sys.path.insert(0, "tests/reference")
import make_checkpoint, reference
tensors, _ = reference.read_safetensors(sys.argv[1] + "/model.safetensors")
make_checkpoint.write_safetensors(sys.argv[2] + "/model.safetensors",
                                  [(k, v) for k, v in tensors.items() if not k.startswith("decoder.")], "F32",
                                  {"format": "pt"})
PY
expect 1 "attnlrp: $tmp/encoder_only: the checkpoint has no decoder tensors (\"decoder.final_layer_norm.weight\" missing; an encoder-only T5EncoderModel file?)" \
    -- $BIN explain --model "$tmp/encoder_only" --ids 1,2
sed -i 's/"feed_forward_proj": "gated-gelu"/"feed_forward_proj": "gated-swoosh"/' "$tmp/no_start/config.json"
expect 1 "attnlrp: $tmp/no_start: config.json: feed_forward_proj \"gated-swoosh\" is not supported (expected relu, gated-gelu or [gated-]ACT with ACT silu, gelu, gelu_new or relu)" \
    -- $BIN explain --model "$tmp/no_start" --ids 1,2

# Generation: the encoder runs once, the decoder uses its KV cache (self-attention) and the cached cross
# keys/values; at every step the token equals the argmax of a full forward over the decoder prefix.
for M in "$G" "$R"; do
    src=5,6,7,8,9,10,11
    gen=$($BIN generate --model "$M" --ids $src -n 6 --no-eos --format json | json 'd["generated_ids"]')
    check "$(basename "$M") generates 6 tokens ($gen)" '[ "$("$PY" -c "print(len($gen))")" = 6 ]'
    prefix=""
    for k in $(seq 0 5); do
        want=$("$PY" -c "print($gen[$k])")
        got=$($BIN explain --model "$M" --ids $src ${prefix:+--decoder-ids $prefix} --format json | json 'd["target"]')
        check "$(basename "$M") step $k: KV-cache token $want = full-forward argmax $got" '[ "$want" = "$got" ]'
        prefix="${prefix:+$prefix,}$want"
    done
done
a=$($BIN generate --model "$G" --ids 3,4,5 -n 8 --no-eos --temp 1.5 --seed 7 --format json | json 'd["generated_ids"]')
b=$($BIN generate --model "$G" --ids 3,4,5 -n 8 --no-eos --temp 1.5 --seed 7 --format json | json 'd["generated_ids"]')
check "sampling with a seed repeats ($a)" '[ "$a" = "$b" ]'
# --explain: per generated token the source and target-prefix relevance, one rectangular matrix with nulls.
out=$($BIN generate --model "$R" --ids 5,6,7,8 -n 3 --no-eos --explain --format json)
check "--explain: 3 rows of 4 + 3 columns, nulls after each step's decoder inputs" \
    '[ "$(echo "$out" | json "[[v is None for v in r] for r in d[\"relevance_matrix\"]]")" = "[[False, False, False, False, False, True, True], [False, False, False, False, False, False, True], [False, False, False, False, False, False, False]]" ]'
step1=$($BIN explain --model "$R" --ids 5,6,7,8 --decoder-ids "$(echo "$out" | json "d[\"generated_ids\"][0]")" --format json)
check "--explain row 1 = explain with the first generated token as prefix" \
    '[ "$("$PY" -c "import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); r=a[\"relevance_matrix\"][1]; w=b[\"relevance\"]+b[\"decoder_relevance\"]; print(max(abs(x-y) for x,y in zip(r,w)) < 1e-6)" "$out" "$step1")" = True ]'
txt=$($BIN generate --model "$R" --ids 5,6,7,8 -n 2 --no-eos --explain)
check "--explain text names source and target tokens" 'echo "$txt" | grep -q "src@" && echo "$txt" | grep -q "tgt@"'
# The README's command on the shipped T5 model, as printed: the target is the second piece of the answer,
# the most relevant source token lies in the evidence (the answer's own piece in "Emma lives in Dublin.")
# and the decoder row's most relevant token is the piece already generated.
out=$($BIN explain --model models/t5-facts --decoder-text "Du" --format json "question: where does Emma live? context: Rosa drinks cocoa. Emma lives in Dublin. Nina's car is green.")
check "README t5-facts: target blin" '[ "$(echo "$out" | json "d[\"target_token\"]")" = "blin" ]'
check "README t5-facts: top source token in the evidence sentence" '[ "$(echo "$out" | json "d[\"tokens\"][max(range(len(d[\"relevance\"])), key=lambda i: d[\"relevance\"][i])]")" = "blin" ]'
check "README t5-facts: top target-prefix token is the generated piece" '[ "$(echo "$out" | json "max(range(len(d[\"decoder_relevance\"])), key=lambda i: d[\"decoder_relevance\"][i])")" = "1" ]'
# eval on encoder-decoders (the README's command, as printed): the answer's first token after the start token,
# relevance over the source against the answer span. The model predicts its answers (the independent NumPy
# forward, tools/check_t5facts.py, finds 0.9875 on the whole file) and AttnLRP beats random on the span and the
# perturbation curves.
out=$($BIN eval --model models/t5-facts --data data/t5-facts-eval.jsonl --limit 40 --format json)
check "t5 eval: 40 records evaluated" '[ "$(echo "$out" | json "d[\"n_evaluated\"]")" = "40" ]'
check "t5 eval: the model predicts >= 95% of the answers" '[ "$(echo "$out" | json "d[\"model_accuracy\"] >= 0.95")" = True ]'
check "t5 eval: attnlrp top-1 in span above random, delta-A > 0.5" '[ "$(echo "$out" | json "(lambda a, r: a[\"span_top1_accuracy\"][\"mean\"] > r[\"span_top1_accuracy\"][\"mean\"] + 0.3 and a[\"delta_a\"][\"mean\"] > 0.5)(*[next(x for x in d[\"methods\"] if x[\"method\"] == n) for n in (\"attnlrp\", \"random\")])")" = True ]'
err=$($BIN eval --model models/t5-facts --data <(echo '{"text": "question: what colour is Emma'"'"'s car?", "target": ""}') --on-bad fail 2>&1 >/dev/null); rc=$?
check "t5 eval: an empty target is one error line, exit 1" '[ $rc = 1 ] && [ "$(echo "$err" | wc -l)" = 1 ]'
finish
