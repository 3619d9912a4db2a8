#!/usr/bin/python3
"""Train attnlrp's shipped image model: a small ViT that classifies Fashion-MNIST at 28x28, one channel.

    /usr/bin/python3 tools/train_vit.py --out models/vit-fashion --seed 0

writes models/vit-fashion/ (config.json, model.safetensors, preprocessor_config.json, README.md)
and prints the training loss, the test accuracy (all 10,000 test images, overall and per class)
and the time taken. Deterministic from --seed on one process with a fixed --threads (default 1).

Data: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/*-ubyte.gz; --data to
point elsewhere), 60,000 training and 10,000 test images. Only the training images are used for
training and for the normalisation statistics; the test set is evaluated once, after training.

The model is written in exact Hugging Face ViTForImageClassification layout (transformers'
modeling_vit, eval mode): non-overlapping patch convolution (kernel = stride = patch_size),
[CLS] token prepended, learned position embeddings, pre-norm encoder blocks (layernorm_before ->
self-attention with 1/sqrt(head_dim) scaling -> residual; layernorm_after -> dense -> erf GELU ->
dense -> residual), final LayerNorm (eps 1e-12 everywhere), classifier on the [CLS] output. No
pooler (ViTForImageClassification builds ViTModel with add_pooling_layer=False). No dropout.

Input preprocessing is ViTImageProcessor's with do_resize false: pixel / 255, then
(x - mean) / std with the training set's mean and std (rounded to 4 decimals; the rounded values
are the ones used in training and written to preprocessor_config.json).

Augmentation: random horizontal flip; with --crop also a random 28x28 crop of the image
zero-padded by 2 (zero before normalisation, i.e. the background value). The shipped model uses
flips only (few epochs: it underfits rather than overfits).
"""

import argparse
import gzip
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DATA = "/usr/share/datasets/fashion-mnist"


def load_idx(data, split):
    """(uint8 images [n, 28, 28], int64 labels [n]) for split 'train' or 't10k'."""
    with gzip.open(os.path.join(data, "%s-images-idx3-ubyte.gz" % split), "rb") as f:
        raw = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", raw[:16])
    assert magic == 2051, magic
    x = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows, cols)
    with gzip.open(os.path.join(data, "%s-labels-idx1-ubyte.gz" % split), "rb") as f:
        raw = f.read()
    magic, m = struct.unpack(">II", raw[:8])
    assert magic == 2049 and m == n, (magic, m, n)
    y = np.frombuffer(raw, dtype=np.uint8, offset=8).astype(np.int64)
    return x, y


# ----------------------------------------------------------------------------------------------
# Model: transformers' ViTForImageClassification, float32; module names give the HF weight names


class PatchEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.projection = nn.Conv2d(c["num_channels"], c["hidden_size"], c["patch_size"], c["patch_size"])

    def forward(self, x):
        return self.projection(x).flatten(2).transpose(1, 2)  # [B, N, d], patches in row-major order


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, n = c["hidden_size"], (c["image_size"] // c["patch_size"]) ** 2
        self.cls_token = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.patch_embeddings = PatchEmbeddings(c)
        self.position_embeddings = nn.Parameter(torch.randn(1, n + 1, d) * 0.02)

    def forward(self, x):
        p = self.patch_embeddings(x)
        return torch.cat([self.cls_token.expand(p.shape[0], -1, -1), p], 1) + self.position_embeddings


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.h = c["num_attention_heads"]
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x):
        B, T, d = x.shape
        hd = d // self.h

        def heads(t):
            return t.view(B, T, self.h, hd).transpose(1, 2)

        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), -1)
        return (a @ v).transpose(1, 2).reshape(B, T, d)


class Dense(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.dense = nn.Linear(n_in, n_out)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = SelfAttention(c)
        self.output = Dense(c["hidden_size"], c["hidden_size"])

    def forward(self, x):
        return self.output.dense(self.attention(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, ff, eps = c["hidden_size"], c["intermediate_size"], c["layer_norm_eps"]
        self.attention = Attention(c)
        self.intermediate = Dense(d, ff)
        self.output = Dense(ff, d)
        self.layernorm_before = nn.LayerNorm(d, eps=eps)
        self.layernorm_after = nn.LayerNorm(d, eps=eps)

    def forward(self, x):
        x = x + self.attention(self.layernorm_before(x))
        return x + self.output.dense(F.gelu(self.intermediate.dense(self.layernorm_after(x))))


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])


class ViTModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)
        self.layernorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])


class ViTForImageClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.vit = ViTModel(c)
        self.classifier = nn.Linear(c["hidden_size"], len(c["id2label"]))
        for m in self.modules():  # transformers' _init_weights: trunc normal 0.02, zero biases
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.trunc_normal_(m.weight, std=c["initializer_range"])
                nn.init.zeros_(m.bias)

    def forward(self, pixels):
        x = self.vit.embeddings(pixels)
        for layer in self.vit.encoder.layer:
            x = layer(x)
        return self.classifier(self.vit.layernorm(x)[:, 0])


def hf_config(a):
    return {
        "architectures": ["ViTForImageClassification"],
        "attention_probs_dropout_prob": 0.0,
        "encoder_stride": 16,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "hidden_size": a.hidden,
        "id2label": {str(i): n for i, n in enumerate(CLASSES)},
        "image_size": 28,
        "initializer_range": 0.02,
        "intermediate_size": a.intermediate,
        "label2id": {n: i for i, n in enumerate(CLASSES)},
        "layer_norm_eps": 1e-12,
        "model_type": "vit",
        "num_attention_heads": a.heads,
        "num_channels": 1,
        "num_hidden_layers": a.layers,
        "patch_size": a.patch,
        "problem_type": "single_label_classification",
        "qkv_bias": True,
        "torch_dtype": "float32",
        "transformers_version": "4.46.0",
    }


def preprocessor_config(mean, std):
    return {
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": False,
        "image_mean": [mean],
        "image_processor_type": "ViTImageProcessor",
        "image_std": [std],
        "resample": 2,
        "rescale_factor": 1 / 255,
        "size": {"height": 28, "width": 28},
    }


def write_safetensors(path, tensors):
    """safetensors: u64 little-endian header length, JSON header {"__metadata__": {"format": "pt"},
    name: {dtype, shape, data_offsets}} padded with spaces to a multiple of 8, then the raw
    little-endian data (as transformers' save_pretrained writes it)."""
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        b = tensors[name].detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def augment(x, gen, crop):
    """x: [B, 28, 28] float in [0, 1]. Random horizontal flip; with crop, a random crop from a 2-pixel zero pad."""
    B = x.shape[0]
    flip = torch.rand(B, generator=gen) < 0.5
    x = torch.where(flip[:, None, None], x.flip(-1), x)
    if not crop:
        return x
    xp = F.pad(x, (2, 2, 2, 2))
    dy = torch.randint(0, 5, (B,), generator=gen)
    dx = torch.randint(0, 5, (B,), generator=gen)
    base = torch.arange(28)
    rows = (dy[:, None] + base)[:, :, None]
    cols = (dx[:, None] + base)[:, None, :]
    return xp[torch.arange(B)[:, None, None], rows, cols]


@torch.no_grad()
def predict(model, x, mean, std, bs=1000):
    out = []
    for i in range(0, len(x), bs):
        xb = (torch.from_numpy(x[i:i + bs]).float() / 255 - mean) / std
        out.append(model(xb[:, None]))
    return torch.cat(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="models/vit-fashion")
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--patch", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--intermediate", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2.5e-3)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--warmup", type=float, default=0.3, help="warm-up length in epochs")
    ap.add_argument("--no-augment", action="store_true", help="no flip, no crop")
    ap.add_argument("--crop", action="store_true", help="also random crops from a 2-pixel zero pad")
    ap.add_argument("--probe", type=int, default=0, help="time this many steps and stop")
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    gen = torch.Generator().manual_seed(a.seed)
    t_start = time.time()

    xtr, ytr = load_idx(a.data, "train")
    xte, yte = load_idx(a.data, "t10k")
    mean = round(float(xtr.mean() / 255), 4)
    std = round(float((xtr / 255.0).std()), 4)
    c = hf_config(a)
    model = ViTForImageClassification(c)
    n_params = sum(p.numel() for p in model.parameters())
    print("params %d, mean %.4f std %.4f" % (n_params, mean, std), flush=True)

    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2 or n.endswith("_token") or "position" in n]
    decay = [p for n, p in model.named_parameters() if not (p.ndim < 2 or n.endswith("_token") or "position" in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=a.lr, betas=(0.9, 0.999))
    Xtr = torch.from_numpy(xtr.copy()).float() / 255
    Ytr = torch.from_numpy(ytr)
    steps_per_epoch = len(Xtr) // a.batch
    total = steps_per_epoch * a.epochs
    warm = max(1, int(a.warmup * steps_per_epoch))
    step = 0
    t_train = time.time()
    for epoch in range(a.epochs):
        model.train()
        perm = torch.randperm(len(Xtr), generator=gen)
        loss_sum, correct, seen = 0.0, 0, 0
        t_ep = time.time()
        for i in range(steps_per_epoch):
            idx = perm[i * a.batch:(i + 1) * a.batch]
            xb, yb = Xtr[idx], Ytr[idx]
            if not a.no_augment:
                xb = augment(xb, gen, a.crop)
            xb = ((xb - mean) / std)[:, None]
            lr = a.lr * (step + 1) / warm if step < warm else \
                a.lr * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))
            for g in opt.param_groups:
                g["lr"] = lr
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            loss_sum += loss.item() * len(yb)
            correct += (logits.argmax(1) == yb).sum().item()
            seen += len(yb)
            if a.probe and step >= a.probe:
                dt = time.time() - t_ep
                print("probe: %d steps in %.1fs -> %.0fs per epoch" % (step, dt, dt / step * steps_per_epoch))
                return
        print("epoch %d: loss %.4f, train accuracy %.4f (augmented), %.0fs" %
              (epoch + 1, loss_sum / seen, correct / seen, time.time() - t_ep), flush=True)
    train_s = time.time() - t_train

    model.eval()
    pred = predict(model, xte, mean, std).argmax(1).numpy()
    acc = float((pred == yte).mean())
    per_class = [float((pred[yte == k] == k).mean()) for k in range(10)]
    print("test accuracy %.4f (10000)" % acc)
    for k, name in enumerate(CLASSES):
        print("  %-12s %.4f" % (name, per_class[k]))

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(c, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(a.out, "preprocessor_config.json"), "w") as f:
        json.dump(preprocessor_config(mean, std), f, indent=2, sort_keys=True)
        f.write("\n")
    write_safetensors(os.path.join(a.out, "model.safetensors"), model.state_dict())
    size = os.path.getsize(os.path.join(a.out, "model.safetensors"))
    stats = {"params": n_params, "size": size, "accuracy": acc, "per_class": per_class,
             "train_s": train_s, "total_s": time.time() - t_start, "mean": mean, "std": std,
             "threads": a.threads, "torch": torch.__version__}
    with open(os.path.join(a.out, "README.md"), "w") as f:
        f.write(model_card(a, c, stats))
    print("wrote %s (model.safetensors %d bytes, %d parameters); training %.0fs, total %.0fs" %
          (a.out, size, n_params, train_s, stats["total_s"]))


def model_card(a, c, s):
    n = (28 // a.patch) ** 2
    rows = "\n".join("| %d | %s | %.1f%% |" % (k, name, 100 * s["per_class"][k]) for k, name in enumerate(CLASSES))
    worst = sorted(range(10), key=lambda k: s["per_class"][k])[:3]
    return f"""# attnlrp ViT: a small Fashion-MNIST image classifier

A {a.layers}-layer Vision Transformer in Hugging Face `ViTForImageClassification` layout (float32,
{s['params']:,} parameters, `model.safetensors` {s['size']:,} bytes) that classifies 28×28 grayscale
Fashion-MNIST images into 10 clothing classes. It is attnlrp's image model for testing
explanations of ViTs:

    ./build/attnlrp explain --model models/vit-fashion --pixels image.npy            # [1,28,28] float32, normalised
    ./build/attnlrp explain --model models/vit-fashion --pixels image.npy --gamma 0.25,0.05

It is a small demonstration model, not a state-of-the-art Fashion-MNIST classifier.

## Architecture (`config.json`)

- Input: 1 channel, 28×28 (`image_size` 28, `num_channels` 1), the dataset's own resolution.
- Patch embedding: `patch_size` {a.patch}, i.e. a {a.patch}×{a.patch} convolution with stride {a.patch}, {n} patches
  (a {28 // a.patch}×{28 // a.patch} grid, row-major), plus the [CLS] token: {n + 1} positions with learned
  position embeddings.
- {a.layers} pre-norm encoder layers: hidden size {a.hidden}, {a.heads} heads (head size {a.hidden // a.heads},
  scores scaled by 1/sqrt({a.hidden // a.heads})), intermediate size {a.intermediate}, erf GELU (`hidden_act` "gelu"),
  LayerNorm eps 1e-12, biases on query/key/value (`qkv_bias` true).
- Final LayerNorm, then `classifier` (linear, {a.hidden}→10) on the [CLS] position. No pooler.
- `id2label`: {", ".join("%d %s" % (k, name) for k, name in enumerate(CLASSES))} (the dataset's own order).

## Preprocessing (`preprocessor_config.json`)

`ViTImageProcessor` without resizing: pixel values 0–255 are multiplied by 1/255, then
normalised with mean {s['mean']} and std {s['std']} (the training set's pixel mean and standard
deviation, rounded to 4 decimals; training used exactly these values). White clothing on a black
background, as in the dataset; inverted images (dark object, light background) are out of
distribution.

## Data

Fashion-MNIST (Zalando Research, MIT licence), from Debian's `dataset-fashion-mnist` package:
60,000 training and 10,000 test images, 28×28 grayscale, 1,000 test images per class. All 60,000
training images were used for training; the test set was used only for the final evaluation
(no model selection, no early stopping).

## Training (`tools/train_vit.py`)

    /usr/bin/python3 tools/train_vit.py --out models/vit-fashion --seed {a.seed}

- PyTorch {s['torch']} (Debian's python3-torch), CPU, {s['threads']} thread(s), seed {a.seed}.
- AdamW (betas 0.9/0.999), peak learning rate {a.lr}, weight decay {a.weight_decay} on matrices
  (none on biases, LayerNorms, [CLS] and position embeddings), linear warm-up over {a.warmup} epoch
  then cosine decay to 0, batch {a.batch}, {a.epochs} epochs, gradient norm clipped at 1, cross-entropy,
  no dropout, no label smoothing.
- Augmentation: {"none" if a.no_augment else "random horizontal flip" + (", random 28×28 crop from the image zero-padded by 2 pixels" if a.crop else " (no crops: with this few epochs the model underfits rather than overfits)")}.
- Wall time: {s['train_s'] / 60:.1f} minutes of training ({s['total_s'] / 60:.1f} minutes in all) on a CPU shared with other jobs (2 cores, {s['threads']} thread).

## Evaluation

Test accuracy on all 10,000 test images: **{100 * s['accuracy']:.2f}%**. Recomputed from the
saved files (safetensors, config, preprocessor; NumPy forward pass, no torch) by

    /usr/bin/python3 tools/check_vit.py --engine ./build/attnlrp

which also compares the engine's logits with the NumPy forward pass on example images.

| id | class | test accuracy |
| --- | --- | --- |
{rows}

## Limits

- Small and briefly trained: {100 * s['accuracy']:.1f}% test accuracy; well-tuned CNNs and larger ViTs
  reach 93–95% on this dataset. The weakest classes are {", ".join(CLASSES[k] for k in worst)}: the upper-body
  garments (T-shirt/top, Pullover, Coat, Shirt) are confused with one another.
- Trained only on Fashion-MNIST's centred, 28×28, white-on-black product photos. It has no notion
  of other image sizes (no interpolation of position embeddings in the engine), colour, natural
  photos, or clothing worn by people; every input gets one of the 10 labels, with no "none of
  these" class.
- Horizontal flips were used in training, so the model is (approximately) insensitive to
  left–right orientation, e.g. which way a shoe points.
"""


if __name__ == "__main__":
    main()
