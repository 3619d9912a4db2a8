#!/usr/bin/python3
"""Independent check of models/vit-fashion from its saved files: NumPy only (no torch).

    /usr/bin/python3 tools/check_vit.py [--model models/vit-fashion] [--engine ./build/attnlrp]

Reads config.json, preprocessor_config.json and model.safetensors (its own safetensors reader),
preprocesses the 10,000 Fashion-MNIST test images as ViTImageProcessor does (rescale, normalise;
no resizing at 28x28), runs its own float64 forward pass of ViTForImageClassification written
from the configuration (patch convolution as a matrix product, [CLS] + position embeddings,
pre-norm layers, erf GELU, final LayerNorm, classifier on [CLS]) and prints the test accuracy,
overall and per class. With --engine it also writes the example images data/fashion/*.png
(listed in data/fashion/images.jsonl, decoded with PIL when available, else from the test set by
their test_index) as normalised [1,28,28] float32 .npy files, runs `ENGINE explain --model MODEL
--pixels X.npy --format json` on each and compares the engine's logits with this forward pass's
(--tol, default 1e-4). --golden prints this forward pass's logits of the examples, for tests.
Exit status 1 when a comparison fails or the accuracy is below --min-accuracy.
"""

import argparse
import gzip
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

DATA = "/usr/share/datasets/fashion-mnist"


from check_files import read_safetensors as _read_f32  # noqa: E402


def read_safetensors(path):
    return _read_f32(path, np.float64)



def load_test(data):
    with gzip.open(os.path.join(data, "t10k-images-idx3-ubyte.gz"), "rb") as f:
        raw = f.read()
    _, n, r, c = struct.unpack(">IIII", raw[:16])
    x = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, r, c)
    with gzip.open(os.path.join(data, "t10k-labels-idx1-ubyte.gz"), "rb") as f:
        y = np.frombuffer(f.read(), dtype=np.uint8, offset=8).astype(np.int64)
    return x, y


_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(x):  # exact (erf) GELU, math.erf elementwise
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))


def layernorm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


class ViT:
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.c = json.load(f)
        with open(os.path.join(model_dir, "preprocessor_config.json")) as f:
            self.pre = json.load(f)
        self.w = read_safetensors(os.path.join(model_dir, "model.safetensors"))
        c = self.c
        assert c["model_type"] == "vit" and c["hidden_act"] == "gelu" and c["qkv_bias"]
        self.eps = c["layer_norm_eps"]
        self.labels = [c["id2label"][str(i)] for i in range(len(c["id2label"]))]

    def preprocess(self, u8):
        """u8: [n, H, W] (or [n, C, H, W]) 0-255 -> [n, C, H, W] float64 as ViTImageProcessor."""
        p = self.pre
        assert not p.get("do_resize", True) and p["size"] == {"height": 28, "width": 28}
        x = u8.astype(np.float64)
        if x.ndim == 3:
            x = x[:, None]
        if p["do_rescale"]:
            x = x * p["rescale_factor"]
        if p["do_normalize"]:
            m = np.array(p["image_mean"], dtype=np.float64)[None, :, None, None]
            s = np.array(p["image_std"], dtype=np.float64)[None, :, None, None]
            x = (x - m) / s
        return x

    def logits(self, x):
        """x: [n, C, S, S] normalised pixels -> [n, num_labels] logits (float64)."""
        c, w = self.c, self.w
        n, C, S, _ = x.shape
        p, d, H = c["patch_size"], c["hidden_size"], c["num_attention_heads"]
        g = S // p
        patches = x.reshape(n, C, g, p, g, p).transpose(0, 2, 4, 1, 3, 5).reshape(n, g * g, C * p * p)
        proj = w["vit.embeddings.patch_embeddings.projection.weight"].reshape(d, C * p * p)
        h = patches @ proj.T + w["vit.embeddings.patch_embeddings.projection.bias"]
        cls = np.broadcast_to(w["vit.embeddings.cls_token"], (n, 1, d))
        h = np.concatenate([cls, h], 1) + w["vit.embeddings.position_embeddings"]
        T, hd = h.shape[1], d // H
        for i in range(c["num_hidden_layers"]):
            pre = "vit.encoder.layer.%d." % i

            def lin(t, name):
                return t @ w[pre + name + ".weight"].T + w[pre + name + ".bias"]

            a = layernorm(h, w[pre + "layernorm_before.weight"], w[pre + "layernorm_before.bias"], self.eps)
            q, k, v = (lin(a, "attention.attention." + s).reshape(n, T, H, hd).transpose(0, 2, 1, 3)
                       for s in ("query", "key", "value"))
            s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd)
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(n, T, d)
            h = h + lin(ctx, "attention.output.dense")
            a = layernorm(h, w[pre + "layernorm_after.weight"], w[pre + "layernorm_after.bias"], self.eps)
            h = h + lin(gelu(lin(a, "intermediate.dense")), "output.dense")
        h = layernorm(h[:, 0], w["vit.layernorm.weight"], w["vit.layernorm.bias"], self.eps)
        return h @ w["classifier.weight"].T + w["classifier.bias"]


def example_images(vit, xte):
    """[(name, label, uint8 [28, 28])] of data/fashion/images.jsonl."""
    out = []
    with open("data/fashion/images.jsonl") as f:
        recs = [json.loads(line) for line in f]
    for r in recs:
        try:
            from PIL import Image
            img = np.array(Image.open(r["image"]).convert("L"), dtype=np.uint8)
            assert (img == xte[r["test_index"]]).all(), r["image"] + " differs from the test set"
        except ImportError:
            img = xte[r["test_index"]]
        out.append((r["image"], r["label"], img))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/vit-fashion")
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--engine", help="attnlrp binary: compare its logits on the example images")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--count", type=int, default=10000, help="test images to evaluate (the first COUNT)")
    ap.add_argument("--min-accuracy", type=float, default=0.875,
                    help="fail below this accuracy (default 0.875: the shipped model has 0.8757)")
    ap.add_argument("--golden", action="store_true", help="print the examples' logits")
    a = ap.parse_args()

    vit = ViT(a.model)
    xte, yte = load_test(a.data)
    xte, yte = xte[:a.count], yte[:a.count]
    pred = np.concatenate([vit.logits(vit.preprocess(xte[i:i + 500])).argmax(1) for i in range(0, len(xte), 500)])
    acc = float((pred == yte).mean())
    print("test accuracy %.4f (%d images)" % (acc, len(yte)))
    for k, name in enumerate(vit.labels):
        sel = yte == k
        print("  %d %-12s %.4f (%d)" % (k, name, (pred[sel] == k).mean(), sel.sum()))
    failed = acc < a.min_accuracy
    if failed:
        print("FAIL: accuracy below %.4f" % a.min_accuracy)

    if a.engine or a.golden:
        ex = example_images(vit, load_test(a.data)[0])
        x = vit.preprocess(np.stack([img for _, _, img in ex]))
        ref = vit.logits(x)
        worst = 0.0
        with tempfile.TemporaryDirectory() as tmp:
            for (path, label, _), xi, li in zip(ex, x, ref):
                ok_label = vit.labels[int(li.argmax())] == label
                line = "%-28s %-12s numpy predicts %-12s" % (path, label, vit.labels[int(li.argmax())])
                if a.golden:
                    line += " logits " + ",".join("%.5f" % v for v in li)
                if a.engine:
                    npy = os.path.join(tmp, "x.npy")
                    np.save(npy, xi.astype(np.float32))
                    r = subprocess.run([a.engine, "explain", "--model", a.model, "--pixels", npy, "--format", "json"],
                                       capture_output=True, text=True)
                    if r.returncode != 0:
                        print("FAIL: engine on %s: %s" % (path, r.stderr.strip()))
                        failed = True
                        continue
                    j = json.loads(r.stdout)
                    diff = float(np.abs(np.array(j["logits"], dtype=np.float64) - li).max())
                    worst = max(worst, diff)
                    line += " | engine target %d, max |logit diff| %.2e" % (j["target"], diff)
                    if diff > a.tol or j["target"] != int(li.argmax()):
                        line += "  FAIL"
                        failed = True
                print(line + ("" if ok_label else "  (misclassified)"))
        if a.engine:
            print("engine: %d images, logits within %.1e of NumPy (max %.2e)" % (len(ex), a.tol, worst)
                  if worst <= a.tol else "engine: logits differ by up to %.2e" % worst)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
