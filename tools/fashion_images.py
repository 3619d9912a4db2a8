#!/usr/bin/python3
"""Fashion-MNIST test images as PNG files, for attnlrp's image model (models/vit-fashion).

    /usr/bin/python3 tools/fashion_images.py data/fashion/t10k            # the first 1000 test images
    /usr/bin/python3 tools/fashion_images.py OUTDIR --count 10000         # all of them
    /usr/bin/python3 tools/fashion_images.py data/fashion --examples      # one per class (committed)

OUTDIR/NNNNN.png is test image NNNNN (0-based index in t10k-images-idx3-ubyte.gz), an 8-bit
grayscale 28x28 PNG holding the dataset's bytes unchanged (white object on black, 0-255).
data/fashion_eval.jsonl points at data/fashion/t10k/00000.png ... 00999.png, so run the first
command before using it; the files are not committed (data/fashion/t10k/ is ignored by git).

--examples writes the first test image of each class, OUTDIR/<class id>-<name>.png, and
OUTDIR/images.jsonl with records {"image", "label", "test_index"}. --eval-jsonl FILE also writes
{"image", "label"} records for the images written. Needs only the Python standard library: the
PNG encoder is written here (filter 0, zlib level 9), so the bytes are the same everywhere.
"""

import argparse
import gzip
import json
import os
import struct
import zlib

DATA = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SLUGS = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]


def load_test(data):
    with gzip.open(os.path.join(data, "t10k-images-idx3-ubyte.gz"), "rb") as f:
        raw = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", raw[:16])
    assert magic == 2051 and rows == 28 and cols == 28
    images = [raw[16 + i * 784:16 + (i + 1) * 784] for i in range(n)]
    with gzip.open(os.path.join(data, "t10k-labels-idx1-ubyte.gz"), "rb") as f:
        raw = f.read()
    assert struct.unpack(">II", raw[:8]) == (2049, n)
    return images, list(raw[8:])


def png_gray(pixels, w, h):
    """An 8-bit grayscale PNG of w*h bytes, row-major."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + pixels[y * w:(y + 1) * w] for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--count", type=int, default=1000, help="the first COUNT test images (default 1000)")
    ap.add_argument("--examples", action="store_true", help="the first test image of each class instead")
    ap.add_argument("--eval-jsonl", help="also write {image, label} records for the images written")
    ap.add_argument("--data", default=DATA)
    a = ap.parse_args()
    images, labels = load_test(a.data)
    os.makedirs(a.outdir, exist_ok=True)
    if a.examples:
        picks = [(labels.index(k), "%d-%s.png" % (k, SLUGS[k])) for k in range(10)]
    else:
        picks = [(i, "%05d.png" % i) for i in range(min(a.count, len(images)))]
    records = []
    for i, name in picks:
        path = os.path.join(a.outdir, name)
        with open(path, "wb") as f:
            f.write(png_gray(images[i], 28, 28))
        records.append({"image": path, "label": CLASSES[labels[i]], "test_index": i})
    if a.examples:
        with open(os.path.join(a.outdir, "images.jsonl"), "w") as f:
            for r in records:
                f.write(json.dumps(r) + "\n")
    if a.eval_jsonl:
        with open(a.eval_jsonl, "w") as f:
            for r in records:
                f.write(json.dumps({"image": r["image"], "label": r["label"]}) + "\n")
    print("wrote %d PNGs to %s" % (len(picks), a.outdir))


if __name__ == "__main__":
    main()
