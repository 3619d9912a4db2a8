#!/usr/bin/env bash
# The baseline methods (ig, smoothgrad, occlusion, attention, rollout, gradxattnroll, atman, kernelshap)
# and the softmax ablations: against independent float64 PyTorch computations
# (tests/reference/baselines_check.py), then bad input, one line each.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
M=../shared/models/TinyStories-656K

py_tally tests/reference/baselines_check.py --bin "$BIN"

expect 2 "attnlrp: --steps 0: must be at least 1" -- "$BIN" explain --ids 1,2 --method ig --steps 0
expect 2 "attnlrp: --samples 0: must be at least 1" -- "$BIN" explain --ids 1,2 --method kernelshap --samples 0
expect 2 "attnlrp: --noise -0.5: must be a finite number, not negative" -- "$BIN" explain --ids 1,2 --method smoothgrad --noise -0.5
expect 2 "attnlrp: --softmax-rule bogus: expected exact, identity or distribute-bias" -- "$BIN" explain --ids 1,2 --softmax-rule bogus
expect 2 "attnlrp: --latent-start: --method attention explains an output prediction, not a latent neuron" -- \
    "$BIN" explain --ids 1,2 --method attention --latent-start 0,0,0
expect 2 "attnlrp: --softmax-rule: the softmax ablations are for attnlrp, not ig" -- "$BIN" explain --ids 1,2 --method ig --softmax-rule identity
expect 2 "attnlrp: --quadrature simpson: expected midpoint or gauss-legendre" -- "$BIN" explain --ids 1,2 --method ig --quadrature simpson
expect 2 "attnlrp: --layers: ig attributes input tokens only (no layer or neuron readouts)" -- \
    "$BIN" explain --model "$M" --ids 1,2,3 --method ig --layers
expect 2 "attnlrp: --contrast: rollout explains one prediction, not a difference of logits" -- \
    "$BIN" explain --model "$M" --ids 1,2,3 --method rollout --contrast 5

# The parameters are echoed in the JSON, with the cost in passes.
j=$("$BIN" explain --model "$M" --ids 1,403,407 --method ig --steps 5 --quadrature gauss-legendre --format json)
if printf '%s' "$j" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d["method"]=="ig" and d["steps"]==5 and d["quadrature"]=="gauss-legendre" and "baseline_value" in d and d["forward_passes"]==7 and d["backward_passes"]==6'; then ok; else bad "ig JSON parameters: $j"; fi
j=$("$BIN" explain --model "$M" --ids 1,403,407 --method smoothgrad --samples 4 --noise 0.2 --seed 7 --format json)
if printf '%s' "$j" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d["samples"]==4 and d["noise"]==0.2 and d["seed"]==7 and d["noise_sigma"]>0'; then ok; else bad "smoothgrad JSON parameters: $j"; fi
finish
