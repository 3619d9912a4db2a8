#!/usr/bin/env bash
# The shipped image classifier models/vit-fashion (tools/train_vit.py): the engine loads it as a ViT
# classifier with Fashion-MNIST's labels, gives the NumPy forward pass's logits (golden values below,
# from tools/check_vit.py --golden, 1e-4) on example images (data/fashion/*.png, normalised here as
# preprocessor_config.json says and passed as .npy), predicts their classes, explains with the γ-rule,
# and the independent check (tools/check_vit.py: NumPy forward pass, no torch) agrees on the accuracy
# of the first 1000 test images and on the logits of all ten examples.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh
M=models/vit-fashion
if [ ! -d "$M" ]; then
    echo "note: $M not present"
    finish
    exit
fi
if ! "$PY" -c 'import numpy, PIL' >/dev/null 2>&1; then
    bad "$PY cannot import numpy and PIL (install python3-numpy python3-pil)"
    finish
    exit
fi

info=$("$BIN" info --model "$M" 2>&1)
check "info names a vit classifier with Fashion-MNIST's labels: $info" \
    '[[ "$info" == *"vit (family vit), classifier"* && "$info" == *"0 T-shirt/top, 1 Trouser"*"9 Ankle boot"* ]]'

# PNG -> normalised [1,28,28] float32 .npy, as ViTImageProcessor (rescale 1/255, mean/std) does
npy() {
    "$PY" -c '
import json, sys, numpy as np
from PIL import Image
p = json.load(open(sys.argv[2] + "/preprocessor_config.json"))
x = np.array(Image.open(sys.argv[1]).convert("L"), dtype=np.float64)[None] * p["rescale_factor"]
np.save(sys.argv[3], ((x - p["image_mean"][0]) / p["image_std"][0]).astype(np.float32))' "$1" "$M" "$2"
}

# image | class id | golden logits (NumPy, float64 from the float32 weights)
while IFS='|' read -r image target logits; do
    npy "$image" "$tmp/x.npy" || { bad "npy $image"; continue; }
    for gamma in "" "--gamma 0.25,0.05"; do
        # shellcheck disable=SC2086
        out=$("$BIN" explain --model "$M" --pixels "$tmp/x.npy" $gamma --format json 2>&1) || { bad "explain $image $gamma: $out"; continue; }
        res=$("$PY" -c '
import json, sys
j = json.loads(sys.argv[1]); want = [float(x) for x in sys.argv[3].split(",")]
diff = max(abs(a - b) for a, b in zip(j["logits"], want))
rp = j["relevance_pixels"]
ok = j["target"] == int(sys.argv[2]) and diff < 1e-4 and len(j["relevance"]) == 49
ok = ok and len(rp) == 28 and all(len(r) == 28 for r in rp) and j["image"]["channels"] == 1
print("ok" if ok else "target %s, max |logit diff| %.2e" % (j["target"], diff))
' "$out" "$target" "$logits" 2>&1)
        check "explain $image $gamma: $res" '[ "$res" = ok ]'
    done
done <<'ROWS'
data/fashion/1-trouser.png|1|-0.51359,10.14877,-1.45179,1.36339,0.12437,-3.57581,-0.77887,-0.15722,-1.26825,-1.88031
data/fashion/6-shirt.png|6|3.87187,-1.76010,3.08507,1.37001,3.79356,-5.14401,5.75252,-6.89186,1.08201,-5.38299
data/fashion/9-ankle-boot.png|9|-1.27082,-1.76175,-2.83904,-3.60547,-4.28312,2.81296,-4.90936,7.20227,-0.46349,7.46618
ROWS

out=$("$PY" tools/check_vit.py --model "$M" --engine "$BIN" --count 1000 2>&1)
rc=$?
check "tools/check_vit.py (exit $rc, accuracy on the first 1000 test images 0.8850): $out" \
    '[ $rc = 0 ] && [[ "$out" == *"test accuracy 0.8850 (1000 images)"* && "$out" == *"engine: 10 images, logits within 1.0e-04 of NumPy"* ]]'

# The README's commands: the coat's explanation and heatmaps (as printed, into a scratch directory), and the
# patch-flipping evaluation on the first 100 of its 1000 images (the whole run takes minutes): AttnLRP is
# ahead of CP-LRP and of the random baseline there too.
out=$("$BIN" explain --model "$M" --pixels data/fashion/4-coat.png 2>&1)
check "README coat explanation: $(echo "$out" | head -2 | tail -1)" '[[ "$out" == *"class 4 \"Coat\""* ]]'
check "README heatmaps" '(cd "$tmp" && "$OLDPWD/$BIN" explain --model "$OLDPWD/$M" --pixels "$OLDPWD/data/fashion/4-coat.png" --format png -o coat.png &&
    "$OLDPWD/$BIN" explain --model "$OLDPWD/$M" --pixels "$OLDPWD/data/fashion/4-coat.png" --method cplrp --gamma 0.25,0.05 --format png -o coat-gamma.png) && [ -s "$tmp/coat.png" ] && [ -s "$tmp/coat-gamma.png" ]'
"$PY" tools/fashion_images.py "$tmp/t10k" >/dev/null 2>&1
sed "s#data/fashion/t10k/#$tmp/t10k/#" data/fashion_eval.jsonl | head -100 >"$tmp/eval100.jsonl"
"$BIN" eval --model "$M" --images "$tmp/eval100.jsonl" --methods attnlrp,cplrp,random --format json -o "$tmp/eval.json" 2>/dev/null
res=$("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1])); m = {x["method"]: x["delta_a"]["mean"] for x in d["methods"]}
print("ok" if d["n_evaluated"] == 100 and m["attnlrp"] > m["cplrp"] > m["random"] else m)' "$tmp/eval.json" 2>&1)
check "patch flipping on 100 test images: attnlrp > cplrp > random ($res)" '[ "$res" = ok ]'
finish
