#!/usr/bin/env bash
# Gemma 2 and Gemma 3 (text) end to end on tiny random checkpoints from tests/reference/make_checkpoint.py:
# greedy generation with the KV cache equals the argmax of a full forward (and of the PyTorch reference)
# at every step, across the sliding window (window 3-4, sequences up to 16); the window is in effect;
# neurons and --set on the GeGLU latent; the one-line errors of the Gemma config reader (the multimodal
# gemma3 form with text_config and language_model.* weights included).
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh
json() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

if ! "$PY" -c 'import numpy, torch' >/dev/null 2>&1; then
    echo "FAIL test_gemma_cli: $PY cannot import numpy and torch (install python3-numpy python3-torch)"
    echo "0 passed, 1 failed"
    exit 1
fi
"$PY" tests/reference/make_checkpoint.py "$tmp" gemma2 gemma2_softcap gemma3 gemma3_softcap gemma3_nested >/dev/null ||
    { echo "0 passed, 1 failed"; exit 1; }

prompt=3,17,41,8
for name in gemma2 gemma2_softcap gemma3 gemma3_softcap gemma3_nested; do
    G=$tmp/$name
    gen=$($BIN generate --model "$G" --ids $prompt -n 12 --no-eos --format json | json 'd["generated_ids"]')
    check "$name generates 12 tokens ($gen)" '[ "$("$PY" -c "print(len($gen))")" = 12 ]'
    ids=$prompt
    for k in $(seq 0 11); do
        want=$("$PY" -c "print($gen[$k])")
        got=$($BIN explain --model "$G" --ids "$ids" --format json | json 'd["target"]')
        ref=$("$PY" tests/reference/reference.py --model "$G" --ids "$ids" --method gradxinput | json 'd["target"]')
        check "$name step $k: KV-cache token $want = full-forward argmax $got = reference $ref" \
            '[ "$want" = "$got" ] && [ "$want" = "$ref" ]'
        ids="$ids,$want"
    done
done

# The window is in effect: the same checkpoint without it gives other logits on 16 tokens, not on 3.
cp -r "$tmp/gemma2" "$tmp/nowin"
sed -i 's/"sliding_window": 4,/"sliding_window": 4096,/' "$tmp/nowin/config.json"
long=5,9,2,33,7,61,12,40,3,3,18,27,50,6,11,44
a=$($BIN explain --model "$tmp/gemma2" --ids "$long" --format json | json 'd["target_logit"]')
b=$($BIN explain --model "$tmp/nowin" --ids "$long" --format json --target-id "$($BIN explain --model "$tmp/gemma2" --ids "$long" --format json | json 'd["target"]')" | json 'd["target_logit"]')
check "gemma2: the sliding window changes a 16-token forward ($a vs $b)" '[ "$a" != "$b" ]'
a=$($BIN explain --model "$tmp/gemma2" --ids 3,17,41 --target-id 5 --format json | json 'd["target_logit"]')
b=$($BIN explain --model "$tmp/nowin" --ids 3,17,41 --target-id 5 --format json | json 'd["target_logit"]')
check "gemma2: within the window nothing changes ($a = $b)" '[ "$a" = "$b" ]'

# --explain during generation, neurons and --set on the GeGLU latent gelu(gate) * up
G=$tmp/gemma3
rows=$($BIN generate --model "$G" --ids $prompt -n 3 --no-eos --explain --format json |
      json '[len(e["relevance"]) for e in d["explanations"]]')
check "gemma3 generate --explain: a row per generated token ($rows)" '[ "$rows" = "[4, 5, 6]" ]'
top=$($BIN neurons --model "$G" --ids $prompt --top 1 --format json | json 'd["neurons"][0]["layer"], d["neurons"][0]["neuron"]')
check "gemma3 neurons ranks neurons ($top)" '[ -n "$top" ]'
set -- $top
base=$($BIN explain --model "$G" --ids $prompt --target-id 5 --format json | json 'd["target_logit"]')
same=$($BIN explain --model "$G" --ids $prompt --target-id 5 --set "$1:$2=*1" --format json | json 'd["target_logit"]')
off=$($BIN explain --model "$G" --ids $prompt --target-id 5 --set "$1:$2=0" --format json | json 'd["target_logit"]')
check "gemma3 --set L:N=*1 leaves the logit ($base = $same)" '[ "$base" = "$same" ]'
check "gemma3 --set L:N=0 changes the logit ($base -> $off)" '[ "$base" != "$off" ]'
expect 2 "attnlrp: --set 0:64: neuron 64 out of range (0..63)" -- $BIN explain --model "$G" --ids 1 --set 0:64=0
s=$($BIN explain --model "$tmp/gemma2_softcap" --ids $prompt --method cplrp --format json | json 'abs(d["relevance_sum"] - d["start_value"]) <= 1e-5 * abs(d["start_value"])')
check "gemma2_softcap: cplrp conserves through both soft-caps ($s)" '[ "$s" = True ]'

# ---- config errors: one line naming the file and the field ----
E=$tmp/err
cp -r "$tmp/gemma3" "$E"
c=$E/config.json
printf '%s\n' '{"model_type": "gemma3", "architectures": ["Gemma3ForConditionalGeneration"]}' >"$c"
expect 1 "attnlrp: $E: config.json: model_type \"gemma3\" needs a \"text_config\" object (text-only checkpoints have model_type \"gemma3_text\")" -- $BIN explain --model "$E" --ids 1
printf '%s\n' '{"model_type": "gemma3", "text_config": {"model_type": "gemma2"}}' >"$c"
expect 1 "attnlrp: $E: config.json: text_config model_type must be \"gemma3_text\"" -- $BIN explain --model "$E" --ids 1
printf '%s\n' '{"model_type": "gemma3", "text_config": {"hidden_size": 32, "head_dim": "x"}}' >"$c"
err=$($BIN explain --model "$E" --ids 1 2>&1 >/dev/null)
check "a nested field error names text_config ($err)" '[[ "$err" == *"config.json text_config"*head_dim* ]]'
cp "$tmp/gemma3/config.json" "$c"
sed -i 's/"sliding_window_pattern": 3,/"layer_types": ["sliding_attention", "global"],/' "$c"
expect 1 "attnlrp: $E: config.json: field \"layer_types\" must be a list of 3 strings" -- $BIN explain --model "$E" --ids 1
sed -i 's/"layer_types": \["sliding_attention", "global"\],/"layer_types": ["sliding_attention", "global", "full_attention"],/' "$c"
expect 1 "attnlrp: $E: config.json: field \"layer_types\" entry 1 must be \"sliding_attention\" or \"full_attention\"" -- $BIN explain --model "$E" --ids 1
cp "$tmp/gemma3/config.json" "$c"
sed -i 's/"sliding_window_pattern": 3,/"use_bidirectional_attention": true,/' "$c"
expect 1 "attnlrp: $E: config.json: use_bidirectional_attention true (EmbeddingGemma) is not supported" -- $BIN explain --model "$E" --ids 1
cp "$tmp/gemma3/config.json" "$c"
sed -i 's/"query_pre_attn_scalar": 8,/"query_pre_attn_scalar": 0,/' "$c"
expect 1 "attnlrp: $E: config.json: field \"query_pre_attn_scalar\" must be positive" -- $BIN explain --model "$E" --ids 1
cp "$tmp/gemma2_softcap/config.json" "$c"
sed -i 's/"final_logit_softcapping": 2.0/"final_logit_softcapping": -2.0/' "$c"
expect 1 "attnlrp: $E: config.json: field \"final_logit_softcapping\" must be positive or null (got -2)" -- $BIN explain --model "$E" --ids 1
cp "$tmp/gemma3/config.json" "$c"
cp "$tmp/gemma2/model.safetensors" "$E/"
sed -i 's/"vocab_size": 72/"vocab_size": 64/; s/"head_dim": 8/"head_dim": 16/; s/"num_key_value_heads": 1/"num_key_value_heads": 2/; s/"intermediate_size": 64/"intermediate_size": 48/' "$c"
err=$($BIN explain --model "$E" --ids 1 2>&1 >/dev/null)
check "gemma3 config on gemma2 weights: one line naming the missing q_norm ($err)" \
    '[ "$(printf "%s\n" "$err" | wc -l)" = 1 ] && [[ "$err" == *model.layers.0.self_attn.q_norm.weight* ]]'
finish
