# Fixtures and expected values for tests/test_image.c, built with PIL and NumPy the way a Hugging Face
# ViTImageProcessor preprocesses (PIL convert + resize, rescale in float64 -> float32, normalise in float32).
# Usage: image_fixtures.py DIR. DIR may already hold PNGs written by the C test (libpng: interlaced,
# 16-bit RGB); every *.png/*.jpg there gets DIR/NAME.decoded.npy = PIL's 8-bit gray or RGB reading of it.
# cases.txt lists preprocessing cases: "name image preprocessor C H W" with DIR/name.x.npy (the model
# input, [C,H,W] float32) and DIR/name.display.npy (the resized 8-bit image, [H,W,C] as float32).
import json
import os
import sys

import numpy as np
from PIL import Image

d = sys.argv[1]
rng = np.random.default_rng(7)


def path(name):
    return os.path.join(d, name)


# ---- images ----
rgb = rng.integers(0, 256, size=(29, 37, 3), dtype=np.uint8)      # noise: the hardest case for resizing
yy, xx = np.mgrid[0:29, 0:37]
smooth = np.stack([xx * 6, yy * 8, (xx + yy) * 3], -1).clip(0, 255).astype(np.uint8)
Image.fromarray(rgb, "RGB").save(path("rgb.png"))
Image.fromarray(smooth, "RGB").save(path("smooth.png"))
Image.fromarray(rgb[..., 1], "L").save(path("gray.png"))
rgba = np.concatenate([rgb, rng.integers(0, 256, size=(29, 37, 1), dtype=np.uint8)], -1)
Image.fromarray(rgba, "RGBA").save(path("rgba.png"))
Image.fromarray(rgba[..., 2:], "LA").save(path("la.png"))
pal = Image.fromarray(rgb, "RGB").quantize(colors=23)
pal.save(path("palette.png"))
pal.save(path("palette_trns.png"), transparency=3)
Image.fromarray(rgb[..., 0] > 127).save(path("bits.png"))                      # 1-bit gray
g16 = rng.integers(0, 65536, size=(11, 13), dtype=np.uint16)
Image.fromarray(g16, "I;16").save(path("gray16.png"))
np.save(path("gray16.expected.npy"), (g16 >> 8).astype(np.float32))
Image.fromarray(rgb, "RGB").save(path("rgb.jpg"), quality=90)
Image.fromarray(smooth, "RGB").save(path("progressive.jpg"), quality=75, progressive=True)
Image.fromarray(rgb[..., 1], "L").save(path("gray.jpg"), quality=85)
Image.fromarray(rgb[:16, :16], "RGB").save(path("rgb16x16.png"))

for f in sorted(os.listdir(d)):
    if not (f.endswith(".png") or f.endswith(".jpg")):
        continue
    im = Image.open(path(f))
    if im.mode in ("I", "I;16", "I;16B"):
        continue                                                             # expected from NumPy above
    if im.mode not in ("L", "1", "LA"):
        im = im.convert("RGB")
    else:
        im = im.convert("L")
    np.save(path(f.rsplit(".", 1)[0] + "." + f.rsplit(".", 1)[1] + ".decoded.npy"), np.asarray(im).astype(np.float32))


# ---- preprocessing ----
def hf_preprocess(image, pp, C, H, W):
    im = Image.open(path(image)).convert("RGB" if C == 3 else "L")
    if pp.get("do_resize", True):
        size = pp.get("size", {"height": H, "width": W})
        h, w = (size, size) if isinstance(size, int) else (size["height"], size["width"])
        im = im.resize((w, h), resample=pp.get("resample", 2))
    a = np.asarray(im)
    if a.ndim == 2:
        a = a[..., None]
    display = a.astype(np.float32)
    if pp.get("do_rescale", True):
        x = (a.astype(np.float64) * pp.get("rescale_factor", 1 / 255)).astype(np.float32)
    else:
        x = a.astype(np.float32)
    if pp.get("do_normalize", True):
        mean = np.array(pp.get("image_mean", [0.5] * C), dtype=np.float32)
        std = np.array(pp.get("image_std", [0.5] * C), dtype=np.float32)
        x = (x - mean) / std
    return x.transpose(2, 0, 1).astype(np.float32), display


cases = []


def case(name, image, pp, C, H, W):
    with open(path(name + ".json"), "w") as f:
        json.dump(pp, f)
    x, display = hf_preprocess(image, pp, C, H, W)
    np.save(path(name + ".x.npy"), x)
    np.save(path(name + ".display.npy"), display)
    cases.append(f"{name} {image} {name}.json {C} {H} {W}")


imagenet = {"image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}
sizes = [(16, 16), (48, 64), (10, 37), (29, 20), (7, 5), (100, 90), (29, 74)]
names = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}
for resample, fname in names.items():
    for image in ("rgb.png", "smooth.png"):
        for h, w in sizes:
            pp = {"do_resize": True, "size": {"height": h, "width": w}, "resample": resample, **imagenet}
            case(f"resize_{fname}_{image[:-4]}_{h}x{w}", image, pp, 3, h, w)
case("resize_default_bilinear", "rgb.png", {"size": {"height": 20, "width": 20}}, 3, 20, 20)
case("resize_int_size", "rgb.png", {"size": 24, "resample": 3}, 3, 24, 24)
case("resize_same_size_is_a_copy", "rgb.png", {"size": {"height": 29, "width": 37}, "resample": 3}, 3, 29, 37)
case("norm_single_floats", "rgb.png", {"do_resize": False, "image_mean": 0.5, "image_std": 0.25}, 3, 29, 37)
case("norm_off", "rgb.png", {"do_resize": False, "do_normalize": False}, 3, 29, 37)
case("rescale_off", "rgb.png", {"do_resize": False, "do_rescale": False, **imagenet}, 3, 29, 37)
case("rescale_factor", "rgb.png", {"do_resize": False, "rescale_factor": 0.5, "do_normalize": False}, 3, 29, 37)
case("gray_image_rgb_model", "gray.png", {"size": {"height": 16, "width": 16}, **imagenet}, 3, 16, 16)
case("rgb_image_gray_model", "rgb.png", {"size": {"height": 28, "width": 28}, "image_mean": [0.1307],
                                         "image_std": [0.3081]}, 1, 28, 28)
case("rgba_image_rgb_model", "rgba.png", {"do_resize": False}, 3, 29, 37)
case("rgba_image_gray_model", "rgba.png", {"do_resize": False, "image_mean": 0.2, "image_std": 0.7}, 1, 29, 37)
case("palette_image_gray_model", "palette.png", {"size": 12, "resample": 0}, 1, 12, 12)
case("jpeg_image", "rgb.jpg", {"size": {"height": 32, "width": 32}, **imagenet}, 3, 32, 32)
case("gray_jpeg_rgb_model", "gray.jpg", {"size": {"height": 8, "width": 8}, "resample": 3}, 3, 8, 8)
with open(path("cases.txt"), "w") as f:
    f.write("\n".join(cases) + "\n")

# ---- .npy files written by NumPy ----
a = (np.arange(60, dtype=np.float64).reshape(3, 4, 5) * 0.25 - 3)
np.save(path("f4.npy"), a.astype("<f4"))
np.save(path("f8.npy"), a.astype("<f8"))
np.save(path("be4.npy"), a.astype(">f4"))
np.save(path("be8.npy"), a.astype(">f8"))
np.save(path("batch.npy"), a.astype("<f4")[None])
with open(path("v2.npy"), "wb") as f:
    np.lib.format.write_array(f, a.astype("<f4"), version=(2, 0))
with open(path("v3.npy"), "wb") as f:
    np.lib.format.write_array(f, a.astype("<f4"), version=(3, 0))
np.save(path("fortran.npy"), np.asfortranarray(a.astype("<f4")))
np.save(path("int32.npy"), np.arange(60, dtype=np.int32).reshape(3, 4, 5))
np.save(path("u8.npy"), np.arange(60, dtype=np.uint8).reshape(3, 4, 5))
np.save(path("rank2.npy"), np.zeros((4, 5), np.float32))
np.save(path("batch2.npy"), np.zeros((2, 3, 4, 5), np.float32))
nan = a.astype("<f4").copy()
nan[1, 2, 3] = np.nan
np.save(path("nan.npy"), nan)
print("ok")
