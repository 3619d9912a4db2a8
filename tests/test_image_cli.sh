#!/usr/bin/env bash
# Images end to end: `explain --pixels` on a PNG or JPEG gives the same explanation as the .npy that
# PIL + NumPy compute the way a Hugging Face ViTImageProcessor does (convert, resize, rescale, normalise),
# on the tiny ViT checkpoints of tests/reference/make_checkpoint.py; and the image errors are one line.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh

if ! "$PY" -c 'import numpy, PIL' >/dev/null 2>&1; then
    echo "FAIL test_image_cli: $PY cannot import numpy and PIL (install python3-numpy python3-pil)"
    echo "0 passed, 1 failed"
    exit 1
fi
"$PY" tests/reference/make_checkpoint.py "$tmp" vit_gray vit_rgb >/dev/null || { echo "0 passed, 1 failed"; exit 1; }

# An RGB picture of another size and its preprocessed twin for each model (expected input as .npy).
"$PY" - "$tmp" <<'EOF' || bad "fixtures not written"
import json, sys
import numpy as np
from PIL import Image
d = sys.argv[1]
rng = np.random.default_rng(3)
yy, xx = np.mgrid[0:45, 0:61]
img = np.stack([xx * 4, yy * 5, 255 - xx * 3], -1) + rng.integers(0, 40, (45, 61, 3))
img = Image.fromarray(img.clip(0, 255).astype(np.uint8), "RGB")
img.save(f"{d}/pic.png")
img.save(f"{d}/pic.jpg", quality=92)
for model in ("vit_gray", "vit_rgb"):
    pp = json.load(open(f"{d}/{model}/preprocessor_config.json"))
    C = len(pp["image_mean"])
    for ext in ("png", "jpg"):
        im = Image.open(f"{d}/pic.{ext}").convert("RGB" if C == 3 else "L")
        im = im.resize((pp["size"]["width"], pp["size"]["height"]), resample=pp["resample"])
        a = np.asarray(im)
        a = a[..., None] if a.ndim == 2 else a
        x = (a.astype(np.float64) * pp["rescale_factor"]).astype(np.float32)
        x = (x - np.array(pp["image_mean"], np.float32)) / np.array(pp["image_std"], np.float32)
        np.save(f"{d}/{model}.{ext}.npy", x.transpose(2, 0, 1))
EOF

# Compares two JSON explanations: same target, logits and relevance within 1e-5 of their scale.
same_json() {
    "$PY" - "$1" "$2" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
scale = max(1e-12, max(abs(v) for v in b["relevance"]))
ok = a["target"] == b["target"] and all(abs(x - y) <= 1e-5 * max(1, abs(y)) for x, y in zip(a["logits"], b["logits"]))
ok = ok and len(a["relevance"]) == len(b["relevance"])
ok = ok and all(abs(x - y) <= 1e-5 * scale for x, y in zip(a["relevance"], b["relevance"]))
print("same" if ok else "differ")
EOF
}

for model in vit_gray vit_rgb; do
    for ext in png jpg; do
        $BIN explain --model "$tmp/$model" --pixels "$tmp/pic.$ext" --method cplrp --format json > "$tmp/a.json" 2>"$tmp/err" ||
            bad "$model $ext: $(cat "$tmp/err")"
        $BIN explain --model "$tmp/$model" --pixels "$tmp/$model.$ext.npy" --method cplrp --format json > "$tmp/b.json" ||
            bad "$model $ext .npy"
        out=$(same_json "$tmp/a.json" "$tmp/b.json" 2>&1)
        check "$model: the $ext explains as its PIL-preprocessed .npy ($out)" '[ "$out" = same ]'
    done
done

# Errors: one line each, naming the file.
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR' > "$tmp/cut.png"
err=$($BIN explain --model "$tmp/vit_rgb" --pixels "$tmp/cut.png" 2>&1 >/dev/null)
check "a truncated PNG is one error line naming it ($err)" \
    '[ "$(printf "%s\n" "$err" | wc -l)" = 1 ] && [[ "$err" == "attnlrp: --pixels $tmp/cut.png: corrupt or unsupported PNG: "* ]]'
head -c 300 "$tmp/pic.jpg" > "$tmp/cut.jpg"
err=$($BIN explain --model "$tmp/vit_rgb" --pixels "$tmp/cut.jpg" 2>&1 >/dev/null)
check "a truncated JPEG is one error line naming it ($err)" \
    '[ "$(printf "%s\n" "$err" | wc -l)" = 1 ] && [[ "$err" == "attnlrp: --pixels $tmp/cut.jpg: corrupt or unsupported JPEG: "* ]]'
cp -r "$tmp/vit_rgb" "$tmp/vit_nopre" && rm "$tmp/vit_nopre/preprocessor_config.json"
expect 1 "attnlrp: --pixels $tmp/pic.png: no preprocessor_config.json to say how the model preprocesses images (give a .npy [C, H, W] instead)" \
    -- $BIN explain --model "$tmp/vit_nopre" --pixels "$tmp/pic.png"
check "without preprocessor_config.json a .npy still works" \
    '$BIN explain --model "$tmp/vit_nopre" --pixels "$tmp/vit_rgb.png.npy" --format json >/dev/null 2>&1'
"$PY" -c "import json; p = json.load(open('$tmp/vit_rgb/preprocessor_config.json')); p['do_resize'] = False; json.dump(p, open('$tmp/vit_nopre/preprocessor_config.json', 'w'))"
expect 1 "attnlrp: --pixels $tmp/pic.png: the image is 45x61 (height x width), the model reads 32x32, and preprocessor_config.json does not resize" \
    -- $BIN explain --model "$tmp/vit_nopre" --pixels "$tmp/pic.png"
finish
