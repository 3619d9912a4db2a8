#!/usr/bin/env bash
# Mixture-of-experts decoders (mixtral, qwen3_moe, qwen2_moe) end to end on tiny random checkpoints written by
# tests/reference/make_checkpoint.py: greedy generation with the KV cache equals the argmax of a full
# forward at every step; the GGUF twins (tests/reference/gguf_moe.py: Mixtral as arch "llama" with
# llama.expert_count, Qwen3-MoE as "qwen3moe", Qwen2-MoE as "qwen2moe" with its shared expert, stacked
# expert tensors) explain and generate like the Hugging Face files; the expert readouts; and the one-line
# errors of broken MoE files.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh
json() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

if ! "$PY" -c 'import numpy' >/dev/null 2>&1; then
    echo "FAIL test_moe_cli: $PY cannot import numpy (install python3-numpy)"
    echo "0 passed, 1 failed"
    exit 1
fi
"$PY" tests/reference/make_checkpoint.py "$tmp" mixtral qwen3_moe qwen3_moe_norm qwen2_moe qwen2_moe_norm >/dev/null ||
    { echo "0 passed, 1 failed"; exit 1; }
"$PY" tests/reference/gguf_moe.py "$tmp/mixtral" "$tmp/mixtral.gguf" || bad "mixtral gguf twin not written"
"$PY" tests/reference/gguf_moe.py "$tmp/qwen3_moe_norm" "$tmp/qwen3_moe_norm.gguf" || bad "qwen3_moe gguf twin not written"
for name in qwen2_moe qwen2_moe_norm; do
    "$PY" tests/reference/gguf_moe.py "$tmp/$name" "$tmp/$name.gguf" || bad "$name gguf twin not written"
done

# ---- generation with the KV cache = full recomputation, for both families ----
prompt=3,17,41,8,22
for name in mixtral qwen3_moe qwen3_moe_norm qwen2_moe qwen2_moe_norm; do
    M=$tmp/$name
    gen=$($BIN generate --model "$M" --ids $prompt -n 8 --no-eos --format json | json 'd["generated_ids"]')
    check "$name generates 8 tokens ($gen)" '[ "$("$PY" -c "print(len($gen))")" = 8 ]'
    ids=$prompt
    for k in $(seq 0 7); do
        want=$("$PY" -c "print($gen[$k])")
        got=$($BIN explain --model "$M" --ids "$ids" --format json | json 'd["target"]')
        check "$name step $k: KV-cache token $want = full-forward argmax $got" '[ "$want" = "$got" ]'
        ids="$ids,$want"
    done
done

# ---- GGUF twins: same generation, same explanation ----
for name in mixtral qwen3_moe_norm qwen2_moe qwen2_moe_norm; do
    M=$tmp/$name
    a=$($BIN generate --model "$M" --ids $prompt -n 8 --no-eos --format json | json 'd["generated_ids"]')
    b=$($BIN generate --model "$M.gguf" --ids $prompt -n 8 --no-eos --format json | json 'd["generated_ids"]')
    check "$name GGUF twin generates the same tokens ($a / $b)" '[ "$a" = "$b" ]'
    fam=$($BIN explain --model "$M.gguf" --ids $prompt --format json | json 'd["family"]')
    check "$name GGUF twin is read by the MoE family ($fam)" '[ "$fam" = "${name%_norm}" ]'
    for m in attnlrp cplrp; do
        $BIN explain --model "$M" --ids $prompt --method $m --format json --all-logits >"$tmp/hf.json"
        $BIN explain --model "$M.gguf" --ids $prompt --method $m --format json --all-logits >"$tmp/gg.json"
        d=$("$PY" -c "
import json
a, b = json.load(open('$tmp/hf.json')), json.load(open('$tmp/gg.json'))
worst = 0.0
for k in ('logits', 'relevance', 'expert_relevance'):
    fa = [v for r in a[k] for v in (r if isinstance(r, list) else [r])]
    fb = [v for r in b[k] for v in (r if isinstance(r, list) else [r])]
    scale = max(1e-30, max(abs(v) for v in fa))
    worst = max(worst, max(abs(x - y) for x, y in zip(fa, fb)) / scale) if len(fa) == len(fb) else 1.0
print(worst)")
        check "$name GGUF twin $m explanation equals the HF one (relative diff $d)" \
            '"$PY" -c "import sys; sys.exit(0 if $d <= 1e-5 else 1)"'
    done
done

# Older llama.cpp Mixtral files: one tensor per expert; the same tokens and logits; one expert missing
"$PY" tests/reference/gguf_moe.py "$tmp/mixtral" "$tmp/split.gguf" --split 1
a=$($BIN explain --model "$tmp/mixtral.gguf" --ids $prompt --format json --all-logits | json 'd["logits"]')
b=$($BIN explain --model "$tmp/split.gguf" --ids $prompt --format json --all-logits | json 'd["logits"]')
check "per-expert GGUF tensors read like stacked ones" '[ "$a" = "$b" ]'
"$PY" tests/reference/gguf_moe.py "$tmp/mixtral" "$tmp/split3.gguf" --split 1 --drop-expert 3
expect 1 "attnlrp: $tmp/split3.gguf: missing tensor \"blk.0.ffn_gate.3.weight\"" -- $BIN explain --model "$tmp/split3.gguf" --ids 1

# A Q8_0 twin (stacked gate/up experts quantised; down stays F32): same prediction, logits within Q8_0 error
"$PY" tests/reference/gguf_moe.py "$tmp/mixtral" "$tmp/q8.gguf" --q8 1
info=$($BIN info --model "$tmp/q8.gguf" | grep -E "^(tensors|experts)" | tr -s ' ' | tr '\n' ';')
check "Q8_0 experts are read ($info)" '[ "$info" = "experts 4 per layer, top-2, renormalised (MLP width per expert);tensors 19 F32 4 Q8_0;" ]'
$BIN explain --model "$tmp/mixtral" --ids $prompt --format json --all-logits >"$tmp/hf.json"
$BIN explain --model "$tmp/q8.gguf" --ids $prompt --format json --all-logits >"$tmp/q8.json"
d=$("$PY" -c "
import json
a, b = json.load(open('$tmp/hf.json')), json.load(open('$tmp/q8.json'))
print(a['target'] == b['target'] and max(abs(x - y) for x, y in zip(a['logits'], b['logits'])) < 0.02)")
check "Q8_0 twin predicts like the F32 checkpoint ($d)" '[ "$d" = True ]'

# ---- expert readouts ----
M=$tmp/mixtral
shape=$($BIN explain --model "$M" --ids $prompt --format json | json 'len(d["expert_relevance"]), len(d["expert_relevance"][0])')
check "expert_relevance is [layers][experts] ($shape)" '[ "$shape" = "2 4" ]'
zero=$($BIN explain --model "$M" --ids $prompt --method cplrp --format json | json 'all(v == 0 for r in d["expert_relevance"] for v in r)')
check "cplrp detaches the routing weights: expert_relevance all zero ($zero)" '[ "$zero" = True ]'
nz=$($BIN explain --model "$M" --ids $prompt --method attnlrp --format json | json 'any(v != 0 for r in d["expert_relevance"] for v in r)')
check "attnlrp sends relevance to the router ($nz)" '[ "$nz" = True ]'
le=$($BIN explain --model "$M" --ids $prompt --latent-expert 2 --latent-layer 1 --format json | json 'd["latent_expert"], len(d["latent_relevance"])')
check "--latent-expert 2 --latent-layer 1 reports expert 2's 40 neurons ($le)" '[ "$le" = "2 40" ]'
base=$($BIN explain --model "$M" --ids $prompt --target-id 5 --format json | json 'd["target_logit"]')
same=$($BIN explain --model "$M" --ids $prompt --target-id 5 --latent-expert 1 --set "1:3=*1" --format json | json 'd["target_logit"]')
check "--set L:N=*1 on an expert leaves the logit ($base = $same)" '[ "$base" = "$same" ]'
# The experts of a layer run as grouped products (op_linear_grouped) when no latent tap needs them one by
# one: the numbers equal the expert-by-expert chain (taken when a latent layer is read) and do not depend
# on the thread count or on ATTNLRP_MOE_PARALLEL=1 (experts in parallel, one per thread).
long=$(seq -s, 3 37)
for name in mixtral qwen3_moe_norm qwen2_moe; do
    G=$tmp/$name
    OPENBLAS_NUM_THREADS=2 $BIN explain --model "$G" --ids "$long" --format json >"$tmp/g2.json"
    OPENBLAS_NUM_THREADS=1 $BIN explain --model "$G" --ids "$long" --format json >"$tmp/g1.json"
    ATTNLRP_MOE_PARALLEL=1 $BIN explain --model "$G" --ids "$long" --format json >"$tmp/gs.json"
    $BIN explain --model "$G" --ids "$long" --latent-layer 0 --format json >"$tmp/gl.json"
    for other in g1 gs gl; do
        d=$("$PY" - "$tmp/g2.json" "$tmp/$other.json" <<'PYEOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
scale = max(abs(v) for v in a["relevance"])
worst = max(abs(x - y) for x, y in zip(a["relevance"], b["relevance"])) / scale
er = max(abs(x - y) for ra, rb in zip(a["expert_relevance"], b["expert_relevance"]) for x, y in zip(ra, rb))
same = a["target"] == b["target"] and abs(a["start_value"] - b["start_value"]) <= 1e-6 * abs(a["start_value"])
print(same and worst <= 1e-6 and er <= 1e-6 * scale, "%.1e" % worst)
PYEOF
)
        check "$name: grouped experts (2 threads) = $other within 1e-6 ($d; gs: ATTNLRP_MOE_PARALLEL=1)" '[ "${d%% *}" = True ]'
    done
done
# text and HTML show the router relevance per layer: the sum over experts and the top experts by |R|
$BIN explain --model "$M" --ids $prompt --format json >"$tmp/er.json"
$BIN explain --model "$M" --ids $prompt --format text >"$tmp/er.txt"
$BIN explain --model "$M" --ids $prompt --format html >"$tmp/er.html"
want=$("$PY" - "$tmp/er.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
for l, r in enumerate(d["expert_relevance"]):
    top = sorted(range(len(r)), key=lambda j: (-abs(r[j]), j))[:3]
    print(l, "%.4g" % sum(r), " ".join(str(j) for j in top))
PYEOF
)
got=$("$PY" - "$tmp/er.txt" <<'PYEOF'
import re, sys
for line in open(sys.argv[1]):
    m = re.match(r"\s+layer\s+(\d+)\s+(\S+)\s+(.*)", line)
    if m and "expert" in m.group(3):
        print(m.group(1), "%.4g" % float(m.group(2)), " ".join(re.findall(r"expert (\d+)", m.group(3))))
PYEOF
)
check "text: router relevance per layer, sum and top experts as the JSON says ($got)" \
    '[ -n "$want" ] && [ "$got" = "$want" ] && grep -q "router relevance per layer" "$tmp/er.txt"'
rows=$(grep -c "<tr><td>[0-9]*</td><td>[^<]*</td><td>expert " "$tmp/er.html")
check "html: a router relevance table with one row per layer ($rows)" \
    '[ "$rows" = 2 ] && grep -q "<h2>Router relevance</h2>" "$tmp/er.html"'
# Qwen2-MoE: llama.cpp declares ffn_gate_inp_shexp a vector [hidden]: read like the [1, hidden] form
"$PY" tests/reference/gguf_moe.py "$tmp/qwen2_moe" "$tmp/q2v.gguf" --shexp-gate-1d 1
a=$($BIN explain --model "$tmp/qwen2_moe.gguf" --ids $prompt --format json --all-logits | json 'd["logits"], d["relevance"]')
b=$($BIN explain --model "$tmp/q2v.gguf" --ids $prompt --format json --all-logits | json 'd["logits"], d["relevance"]')
check "qwen2moe: a vector shared-expert gate reads like a [1, hidden] one" '[ -n "$a" ] && [ "$a" = "$b" ]'
sh=$($BIN info --model "$tmp/qwen2_moe_norm.gguf" | grep -E "^(experts|shared expert)" | tr -s ' ' | tr '\n' ';')
check "info names the shared expert and the renormalisation ($sh)" \
    '[ "$sh" = "experts 5 per layer, top-3, renormalised (MLP width per expert);shared expert 36 wide, on every token, scaled by sigmoid(shared_expert_gate);" ]'
# qkv_bias false (Qwen2MoeConfig, default true): the q/k/v biases are not used, as in the reference
cp -r "$tmp/qwen2_moe_norm" "$tmp/q2nb" &&
    "$PY" -c "import json,sys; p=sys.argv[1]+'/config.json'; c=json.load(open(p)); c['qkv_bias']=False; json.dump(c,open(p,'w'))" "$tmp/q2nb"
d=$("$PY" - "$tmp" "$BIN" <<'PYEOF'
import json, subprocess, sys
tmp, binary = sys.argv[1:3]
out = []
for m in ("qwen2_moe_norm", "q2nb"):
    args = ["--model", f"{tmp}/{m}", "--ids", "3,17,41,8,22"]
    eng = json.loads(subprocess.run([binary, "explain", *args, "--format", "json", "--all-logits"],
                                    capture_output=True, text=True, check=True).stdout)
    ref = json.loads(subprocess.run(["/usr/bin/python3", "tests/reference/reference.py", *args],
                                    capture_output=True, text=True, check=True).stdout)
    scale = max(abs(v) for v in ref["relevance"])
    out.append((max(abs(a - b) for a, b in zip(eng["logits"], ref["logits"])),
                max(abs(a - b) for a, b in zip(eng["relevance"], ref["relevance"])) / scale, eng["logits"]))
differ = max(abs(a - b) for a, b in zip(out[0][2], out[1][2]))
print(all(l <= 1e-4 and r <= 1e-4 for l, r, _ in out) and differ > 1e-3, "%.1e" % differ)
PYEOF
)
check "qwen2_moe qkv_bias false drops the biases like the reference ($d)" '[ "${d%% *}" = True ]'
sh=$($BIN info --model "$tmp/qwen2_moe" | grep -E "^experts" | tr -s ' ')
check "qwen2_moe without norm_topk_prob is not renormalised ($sh)" '[ "$sh" = "experts 4 per layer, top-2 (MLP width per expert)" ]'
top=$($BIN neurons --model "$M" --ids $prompt --top 1 --format json | json 'len(d["neurons"])')
check "neurons runs on a MoE model ($top)" '[ "$top" = 1 ]'

# ---- errors: one line each ----
edit() {  # edit DIR KEY VALUE: copy of mixtral/qwen3_moe with one config field changed
    "$PY" -c "import json,sys; p=sys.argv[1]+'/config.json'; c=json.load(open(p)); c[sys.argv[2]]=json.loads(sys.argv[3]); json.dump(c,open(p,'w'))" "$@"
}
cp -r "$tmp/mixtral" "$tmp/m5" && edit "$tmp/m5" num_local_experts 5
expect 1 "attnlrp: $tmp/m5: tensor \"model.layers.0.block_sparse_moe.gate.weight\" has shape [4, 32], the config implies [5, 32]" -- \
    $BIN explain --model "$tmp/m5" --ids 1
cp -r "$tmp/mixtral" "$tmp/mk" && edit "$tmp/mk" num_experts_per_tok 5
expect 1 "attnlrp: $tmp/mk: config.json: num_experts_per_tok 5 exceeds num_local_experts 4" -- $BIN explain --model "$tmp/mk" --ids 1
cp -r "$tmp/qwen3_moe" "$tmp/mi" && edit "$tmp/mi" moe_intermediate_size 20
expect 1 "attnlrp: $tmp/mi: tensor \"model.layers.0.mlp.experts.0.gate_proj.weight\" has shape [24, 32], the config implies [20, 32]" -- \
    $BIN explain --model "$tmp/mi" --ids 1
cp -r "$tmp/qwen3_moe" "$tmp/ms" && edit "$tmp/ms" decoder_sparse_step 2
expect 1 "attnlrp: $tmp/ms: config.json: dense layers (decoder_sparse_step != 1 or mlp_only_layers) are not supported" -- \
    $BIN explain --model "$tmp/ms" --ids 1
rm "$tmp/qwen3_moe/model.safetensors" && "$PY" - "$tmp" <<'PY'
import sys
sys.path.insert(0, "tests/reference")
import make_checkpoint as mc
import numpy as np, zlib
fields, opts = mc.CONFIGS["qwen3_moe"]
cfg = dict(mc.BASE); cfg.update(fields)
t = [e for e in mc.make_tensors(cfg, opts, np.random.default_rng(zlib.crc32(b"qwen3_moe")))
     if ".experts.3.up_proj" not in e[0]]
mc.write_safetensors(sys.argv[1] + "/qwen3_moe/model.safetensors", t, "F32", {"format": "pt"})
PY
expect 1 "attnlrp: $tmp/qwen3_moe: missing tensor \"model.layers.0.mlp.experts.3.up_proj.weight\"" -- \
    $BIN explain --model "$tmp/qwen3_moe" --ids 1
# Qwen2-MoE's shared expert: wrong width, no gate, no width in the config, dense layers
cp -r "$tmp/qwen2_moe" "$tmp/q2s" && edit "$tmp/q2s" shared_expert_intermediate_size 30
expect 1 "attnlrp: $tmp/q2s: tensor \"model.layers.0.mlp.shared_expert.gate_proj.weight\" has shape [40, 32], the config implies [30, 32]" -- \
    $BIN explain --model "$tmp/q2s" --ids 1
cp -r "$tmp/qwen2_moe" "$tmp/q2f" && "$PY" -c "import json,sys; p=sys.argv[1]+'/config.json'; c=json.load(open(p)); del c['shared_expert_intermediate_size']; json.dump(c,open(p,'w'))" "$tmp/q2f"
expect 1 "attnlrp: $tmp/q2f: config.json: field \"shared_expert_intermediate_size\" missing" -- $BIN explain --model "$tmp/q2f" --ids 1
cp -r "$tmp/qwen2_moe" "$tmp/q2d" && edit "$tmp/q2d" mlp_only_layers "[1]"
expect 1 "attnlrp: $tmp/q2d: config.json: dense layers (decoder_sparse_step != 1 or mlp_only_layers) are not supported" -- \
    $BIN explain --model "$tmp/q2d" --ids 1
cp -r "$tmp/qwen2_moe" "$tmp/q2g" && rm "$tmp/q2g/model.safetensors" && "$PY" - "$tmp" <<'PY'
import sys
sys.path.insert(0, "tests/reference")
import make_checkpoint as mc
import numpy as np, zlib
fields, opts = mc.CONFIGS["qwen2_moe"]
cfg = dict(mc.BASE); cfg.update(fields)
t = [e for e in mc.make_tensors(cfg, opts, np.random.default_rng(zlib.crc32(b"qwen2_moe")))
     if "layers.1.mlp.shared_expert_gate" not in e[0]]
mc.write_safetensors(sys.argv[1] + "/q2g/model.safetensors", t, "F32", {"format": "pt"})
PY
expect 1 "attnlrp: $tmp/q2g: missing tensor \"model.layers.1.mlp.shared_expert_gate.weight\"" -- \
    $BIN explain --model "$tmp/q2g" --ids 1
"$PY" tests/reference/gguf_moe.py "$tmp/qwen2_moe" "$tmp/q2ng.gguf" --drop-shexp-gate 1
expect 1 "attnlrp: $tmp/q2ng.gguf: missing tensor \"blk.0.ffn_gate_inp_shexp.weight\"" -- $BIN explain --model "$tmp/q2ng.gguf" --ids 1
"$PY" tests/reference/gguf_moe.py "$tmp/qwen2_moe" "$tmp/q2ff.gguf" --shexp-ff 30
expect 1 "attnlrp: $tmp/q2ff.gguf: tensor \"blk.0.ffn_gate_shexp.weight\" has shape [30, 32], the config implies [40, 32]" -- \
    $BIN explain --model "$tmp/q2ff.gguf" --ids 1
"$PY" tests/reference/gguf_moe.py "$tmp/mixtral" "$tmp/drop.gguf" --drop-expert 2
expect 1 "attnlrp: $tmp/drop.gguf: tensor \"blk.0.ffn_gate_exps.weight\" has shape [3, 40, 32], the config implies [4, 40, 32]" -- \
    $BIN explain --model "$tmp/drop.gguf" --ids 1
"$PY" tests/reference/gguf_moe.py "$tmp/mixtral" "$tmp/k.gguf" --expert-count 1
expect 1 "attnlrp: k.gguf: llama.expert_used_count 2 exceeds llama.expert_count 1" -- $BIN explain --model "$tmp/k.gguf" --ids 1
expect 2 "attnlrp: --latent-expert 4: out of range (0..3)" -- $BIN explain --model "$M" --ids 1 --latent-expert 4
"$PY" tests/reference/make_checkpoint.py "$tmp" llama_mha >/dev/null
expect 2 "attnlrp: --latent-expert 0: llama has no experts (not a mixture-of-experts model)" -- \
    $BIN explain --model "$tmp/llama_mha" --ids 1 --latent-expert 0
finish
