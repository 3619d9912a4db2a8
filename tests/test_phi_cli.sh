#!/usr/bin/env bash
# Phi and Phi-3 end to end on tiny random checkpoints written by tests/reference/make_checkpoint.py:
# greedy generation with the KV cache equals the argmax of a full forward at every step (HF and GGUF
# twins, partial rotary, qk_layernorm, LongRoPE, a sliding window shorter than the text), the GGUF twin
# generates the same tokens, Llama 3.1 rope_freqs.weight GGUF generates like its HF twin, neurons and
# --set on the latent neurons, info, and one-line errors.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh
json() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

if ! "$PY" -c 'import numpy' >/dev/null 2>&1; then
    echo "FAIL test_phi_cli: $PY cannot import numpy (install python3-numpy)"
    echo "0 passed, 1 failed"
    exit 1
fi
"$PY" tests/reference/make_checkpoint.py "$tmp" phi_bias phi_qkln phi3 phi3_longrope llama3_rope >/dev/null ||
    { echo "0 passed, 1 failed"; exit 1; }
for n in phi_bias phi3_longrope llama3_rope; do
    "$PY" tests/reference/gguf_twin.py "$tmp/$n" "$tmp/$n.gguf" || bad "gguf twin of $n not written"
done
# Phi-3 with a sliding window of 5 keys: generation runs past it.
cp -r "$tmp/phi3" "$tmp/phi3_window"
sed -i 's/"sliding_window": null/"sliding_window": 5/' "$tmp/phi3_window/config.json"
check "phi3_window config has the window" 'grep -q "\"sliding_window\": 5" "$tmp/phi3_window/config.json"'

# generate_vs_full MODEL PROMPT N: the KV-cache tokens equal the full-forward argmax at every step; the
# generated ids are left in $GEN (run in this shell, not in $(...), so that the checks count).
generate_vs_full() {
    local M=$1 prompt=$2 n=$3 gen ids want got k
    gen=$($BIN generate --model "$M" --ids "$prompt" -n "$n" --no-eos --format json | json 'd["generated_ids"]')
    check "$(basename "$M") generates $n tokens ($gen)" '[ "$("$PY" -c "print(len($gen))")" = "$n" ]'
    ids=$prompt
    for k in $(seq 0 $((n - 1))); do
        want=$("$PY" -c "print($gen[$k])")
        got=$($BIN explain --model "$M" --ids "$ids" --format json | json 'd["target"]')
        check "$(basename "$M") step $k: KV-cache token $want = full-forward argmax $got" '[ "$want" = "$got" ]'
        ids="$ids,$want"
    done
    GEN=$gen
}

generate_vs_full "$tmp/phi_bias" 3,17,41,8 10
gen_phi=$GEN
generate_vs_full "$tmp/phi_qkln" 5,9,2 8
generate_vs_full "$tmp/phi3" 1,2,3,4 8
generate_vs_full "$tmp/phi3_window" 7,30,11,2 10
# LongRoPE: 4 + 10 tokens stay within original_max_position_embeddings 16 (short factors); a prompt of 14
# crosses 16 while generating (the factors switch to long_factor and, as in transformers, the whole
# sequence is recomputed); a prompt of 20 starts with the long factors.
generate_vs_full "$tmp/phi3_longrope" 4,40,19,66 10
gen_long=$GEN
generate_vs_full "$tmp/phi3_longrope" 5,60,2,33,14,9,70,21,8,40,3,17,44,28 8
generate_vs_full "$tmp/phi3_longrope" 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20 3

gen=$($BIN generate --model "$tmp/phi_bias.gguf" --ids 3,17,41,8 -n 10 --no-eos --format json | json 'd["generated_ids"]')
check "the phi2 GGUF twin generates the same tokens ($gen vs $gen_phi)" '[ "$gen" = "$gen_phi" ]'
gen=$($BIN generate --model "$tmp/phi3_longrope.gguf" --ids 4,40,19,66 -n 10 --no-eos --format json |
      json 'd["generated_ids"]')
check "the phi3 GGUF twin generates the same tokens ($gen vs $gen_long)" '[ "$gen" = "$gen_long" ]'
a=$($BIN generate --model "$tmp/llama3_rope" --ids 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20 -n 12 --no-eos \
    --format json | json 'd["generated_ids"]')
b=$($BIN generate --model "$tmp/llama3_rope.gguf" --ids 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20 -n 12 \
    --no-eos --format json | json 'd["generated_ids"]')
check "Llama 3.1 rope_freqs.weight GGUF generates like its HF twin ($a vs $b)" '[ "$a" = "$b" ]'

# neurons and interventions on the latent neurons (gelu_new(fc1 h), silu(gate) * up)
for M in "$tmp/phi_bias" "$tmp/phi3_longrope"; do
    top=$($BIN neurons --model "$M" --ids 3,17,41,8 --top 1 --format json |
          json 'd["neurons"][0]["layer"], d["neurons"][0]["neuron"]')
    check "$(basename "$M") neurons ranks neurons ($top)" '[ -n "$top" ]'
    set -- $top
    base=$($BIN explain --model "$M" --ids 3,17,41,8 --target-id 5 --format json | json 'd["target_logit"]')
    same=$($BIN explain --model "$M" --ids 3,17,41,8 --target-id 5 --set "$1:$2=*1" --format json | json 'd["target_logit"]')
    off=$($BIN explain --model "$M" --ids 3,17,41,8 --target-id 5 --set "$1:$2=0" --format json | json 'd["target_logit"]')
    check "$(basename "$M") --set L:N=*1 leaves the logit ($base = $same)" '[ "$base" = "$same" ]'
    check "$(basename "$M") --set L:N=0 changes the logit ($base -> $off)" '[ "$base" != "$off" ]'
done
expect 2 "attnlrp: --set 0:80: neuron 80 out of range (0..79)" -- $BIN explain --model "$tmp/phi_bias" --ids 1 --set 0:80=0

info=$($BIN info --model "$tmp/phi3_longrope" --format json | json 'd["model_type"], d["rope_scaling"]')
check "info phi3_longrope ($info)" '[ "$info" = "phi3 longrope" ]'

# one-line errors
cp -r "$tmp/phi3_longrope" "$tmp/bad_long"
"$PY" - "$tmp/bad_long/config.json" <<'PYEOF'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["rope_scaling"]["long_factor"] = c["rope_scaling"]["long_factor"][:5]
json.dump(c, open(p, "w"))
PYEOF
expect 1 "attnlrp: $tmp/bad_long: config.json: rope_scaling field \"long_factor\" must be a list of 6 numbers (one per rotated pair)" \
    -- $BIN explain --model "$tmp/bad_long" --ids 1
cp -r "$tmp/phi_bias" "$tmp/no_dense"
"$PY" - "$tmp/no_dense" <<'PYEOF'
import os, sys
sys.path.insert(0, "tests/reference")
import make_checkpoint as mc, reference as ref
d = sys.argv[1]
t, _ = ref.load_tensors(d)
mc.write_safetensors(os.path.join(d, "model.safetensors"),
                     [(k, v) for k, v in t.items() if k != "model.layers.1.self_attn.dense.bias"], "F32")
PYEOF
err=$($BIN explain --model "$tmp/no_dense" --ids 1 2>&1 >/dev/null)
check "a missing Phi bias is a one-line error naming it ($err)" \
    '[ "$(printf "%s\n" "$err" | wc -l)" = 1 ] && [[ "$err" == *model.layers.1.self_attn.dense.bias* ]]'
finish
