#!/usr/bin/python3
"""Independent float64 PyTorch reference for attnlrp explanations of LLaMA-family checkpoints.

Written from the public definitions only (Hugging Face's LLaMA/Mistral/Qwen2/Qwen3 forward pass and
the rules of ../../shared/SPEC.md sections 1-3), in the way LXT's efficient implementation works:
relevance is gradient x input, where a few ops get a modified backward through a custom autograd
Function or a detach trick. It shares no code with the C engine and reads safetensors itself.

    reference.py --model DIR --ids 1,2,3 [--method M] [--target-id N] [--position P]
                 [--contrast FOIL] [--latent-start L,P,N] [--latent-layer L] [--layers]

prints one JSON object with the fields of SPEC section 8 (logits always included).
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

METHODS = ("attnlrp", "cplrp", "gradxinput", "gradient")
FAMILIES = ("llama", "mistral", "qwen2", "qwen3")
IDENTITY_EPS = 1e-10


class ReferenceError(Exception):
    """A problem with the checkpoint or the arguments, reported as one line."""


# ----------------------------------------------------------------------------------------------
# safetensors, parsed by hand: u64 LE header length, JSON header, raw little-endian data.

def _decode(raw, dtype, shape, name):
    if dtype == "F32":
        arr = np.frombuffer(raw, dtype="<f4")
    elif dtype == "F16":
        arr = np.frombuffer(raw, dtype="<f2")
    elif dtype == "BF16":
        # bf16 is the top half of a float32: widen by shifting the 16 bits up.
        arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view("<f4")
    elif dtype == "F64":
        arr = np.frombuffer(raw, dtype="<f8")
    else:
        raise ReferenceError(f"tensor {name}: unsupported dtype {dtype}")
    return arr.astype(np.float64).reshape(shape)


def read_safetensors(path):
    """Returns {name: float64 ndarray} and the header's __metadata__ (or {})."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ReferenceError(f"{path}: shorter than the 8-byte header length")
    (hlen,) = struct.unpack("<Q", blob[:8])
    if 8 + hlen > len(blob):
        raise ReferenceError(f"{path}: header length {hlen} runs past the end of the file")
    header = json.loads(blob[8:8 + hlen].decode("utf-8"))
    data = memoryview(blob)[8 + hlen:]
    meta = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        size = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8}.get(info["dtype"], 0)
        if not (0 <= begin <= end <= len(data)) or end - begin != size * int(np.prod(shape, dtype=np.int64)):
            raise ReferenceError(f"{path}: tensor {name}: bad data_offsets {begin},{end}")
        tensors[name] = _decode(bytes(data[begin:end]), info["dtype"], shape, name)
    return tensors, meta


def load_tensors(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        tensors, meta = {}, {}
        for shard in sorted(set(weight_map.values())):
            part, m = read_safetensors(os.path.join(model_dir, shard))
            tensors.update(part)
            meta.update(m)
        missing = [n for n in weight_map if n not in tensors]
        if missing:
            raise ReferenceError(f"{index}: tensor {missing[0]} is in the index but in no shard")
        return tensors, meta
    return read_safetensors(os.path.join(model_dir, "model.safetensors"))


# ----------------------------------------------------------------------------------------------
# config.json

class Config:
    pass


def _rope_params(raw):
    """(type, theta, params) from rope_scaling / rope_parameters / rope_theta."""
    params = raw.get("rope_parameters")
    if isinstance(params, dict):
        theta = params.get("rope_theta", raw.get("rope_theta", 10000.0))
        kind = params.get("rope_type", params.get("type", "default"))
        return kind, float(theta), params
    scaling = raw.get("rope_scaling")
    theta = float(raw.get("rope_theta", 10000.0))
    if not scaling:
        return "default", theta, {}
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    return kind, theta, scaling


def load_config(model_dir):
    path = os.path.join(model_dir, "config.json")
    with open(path) as f:
        raw = json.load(f)
    c = Config()
    c.raw = raw
    c.family = raw.get("model_type")
    if c.family not in FAMILIES:
        raise ReferenceError(f"{path}: model_type {c.family!r} is not supported")
    c.hidden = int(raw["hidden_size"])
    c.layers = int(raw["num_hidden_layers"])
    c.heads = int(raw["num_attention_heads"])
    c.kv_heads = int(raw.get("num_key_value_heads") or c.heads)
    c.head_dim = int(raw.get("head_dim") or c.hidden // c.heads)
    c.inter = int(raw["intermediate_size"])
    c.vocab = int(raw["vocab_size"])
    c.eps = float(raw.get("rms_norm_eps", 1e-6))
    c.act = raw.get("hidden_act", "silu")
    c.tied = bool(raw.get("tie_word_embeddings", False))
    c.rope_type, c.rope_theta, c.rope = _rope_params(raw)
    c.sliding_window = raw.get("sliding_window") if c.family == "mistral" else None
    if c.family == "qwen2" and raw.get("use_sliding_window"):
        raise ReferenceError(f"{path}: use_sliding_window is not supported")
    # Which projections carry a bias (Hugging Face's modeling files):
    if c.family == "qwen2":
        c.qkv_bias, c.o_bias, c.mlp_bias = True, False, False
    elif c.family == "mistral":
        c.qkv_bias, c.o_bias, c.mlp_bias = False, False, False
    elif c.family == "qwen3":
        ab = bool(raw.get("attention_bias", False))
        c.qkv_bias, c.o_bias, c.mlp_bias = ab, ab, False
    else:
        ab = bool(raw.get("attention_bias", False))
        c.qkv_bias, c.o_bias, c.mlp_bias = ab, ab, bool(raw.get("mlp_bias", False))
    c.qk_norm = c.family == "qwen3"
    if c.heads % c.kv_heads:
        raise ReferenceError(f"{path}: num_attention_heads not a multiple of num_key_value_heads")
    return c


def rope_inv_freq(c):
    """Inverse frequencies per rotated pair (head_dim/2 of them), as transformers computes them."""
    d = c.head_dim
    inv = 1.0 / (c.rope_theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    p = c.rope
    if c.rope_type == "default":
        return inv
    if c.rope_type == "linear":
        return inv / float(p["factor"])
    if c.rope_type == "llama3":
        factor = float(p["factor"])
        lo, hi = float(p["low_freq_factor"]), float(p["high_freq_factor"])
        old = float(p["original_max_position_embeddings"])
        lo_wl, hi_wl = old / lo, old / hi
        wl = 2 * math.pi / inv
        scaled = torch.where(wl > lo_wl, inv / factor, inv)
        smooth = (old / wl - lo) / (hi - lo)
        mixed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wl >= hi_wl) & (wl <= lo_wl)
        return torch.where(medium, mixed, scaled)
    raise ReferenceError(f"config.json: rope type {c.rope_type!r} is not supported")


# ----------------------------------------------------------------------------------------------
# The model

class Checkpoint:
    def __init__(self, model_dir):
        self.dir = model_dir
        self.cfg = c = load_config(model_dir)
        arrays, meta = load_tensors(model_dir)
        t = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}

        def get(name, shape):
            if name not in t:
                raise ReferenceError(f"{model_dir}: tensor {name} is missing")
            if tuple(t[name].shape) != tuple(shape):
                raise ReferenceError(f"{model_dir}: tensor {name} has shape {tuple(t[name].shape)}, "
                                     f"expected {tuple(shape)}")
            return t[name]

        def bias(name, n, present):
            return get(name, (n,)) if present else None

        H, D, KV, I = c.hidden, c.head_dim, c.kv_heads, c.inter
        if "model.embed_tokens.weight" in t:
            self.embed = get("model.embed_tokens.weight", (c.vocab, H))
        elif c.tied:
            self.embed = get("lm_head.weight", (c.vocab, H))  # tied, stored under the head's name
        else:
            raise ReferenceError(f"{model_dir}: tensor model.embed_tokens.weight is missing")
        if c.tied:
            self.head = self.embed
        else:
            self.head = get("lm_head.weight", (c.vocab, H))
        self.norm = get("model.norm.weight", (H,))
        self.blocks = []
        for i in range(c.layers):
            p = f"model.layers.{i}."
            b = {
                "ln1": get(p + "input_layernorm.weight", (H,)),
                "ln2": get(p + "post_attention_layernorm.weight", (H,)),
                "wq": get(p + "self_attn.q_proj.weight", (c.heads * D, H)),
                "wk": get(p + "self_attn.k_proj.weight", (KV * D, H)),
                "wv": get(p + "self_attn.v_proj.weight", (KV * D, H)),
                "wo": get(p + "self_attn.o_proj.weight", (H, c.heads * D)),
                "bq": bias(p + "self_attn.q_proj.bias", c.heads * D, c.qkv_bias),
                "bk": bias(p + "self_attn.k_proj.bias", KV * D, c.qkv_bias),
                "bv": bias(p + "self_attn.v_proj.bias", KV * D, c.qkv_bias),
                "bo": bias(p + "self_attn.o_proj.bias", H, c.o_bias),
                "wg": get(p + "mlp.gate_proj.weight", (I, H)),
                "wu": get(p + "mlp.up_proj.weight", (I, H)),
                "wd": get(p + "mlp.down_proj.weight", (H, I)),
                "bg": bias(p + "mlp.gate_proj.bias", I, c.mlp_bias),
                "bu": bias(p + "mlp.up_proj.bias", I, c.mlp_bias),
                "bd": bias(p + "mlp.down_proj.bias", H, c.mlp_bias),
            }
            if c.qk_norm:
                b["qn"] = get(p + "self_attn.q_norm.weight", (D,))
                b["kn"] = get(p + "self_attn.k_norm.weight", (D,))
            self.blocks.append(b)
        self.inv_freq = rope_inv_freq(c)


# ----------------------------------------------------------------------------------------------
# Ops and rules

def _act(name):
    if name == "silu":
        return torch.nn.functional.silu
    if name == "gelu":
        return torch.nn.functional.gelu
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return lambda x: torch.nn.functional.gelu(x, approximate="tanh")
    if name == "relu":
        return torch.relu
    raise ReferenceError(f"config.json: hidden_act {name!r} is not supported")


class IdentityRule(torch.autograd.Function):
    """y = f(x) forward; backward multiplies by f(x)/(x + 1e-10), so x*g(x) == y*g(y)."""

    @staticmethod
    def forward(ctx, x, fn):
        y = fn(x)
        ctx.save_for_backward(y / (x + IDENTITY_EPS))
        return y

    @staticmethod
    def backward(ctx, grad):
        (ratio,) = ctx.saved_tensors
        return grad * ratio, None


def scale_grad(t, f):
    """s(t, f): identity forward, gradient multiplied by f backward."""
    return t * f + (t * (1.0 - f)).detach()


def linear(x, w, b):
    y = x @ w.T
    return y if b is None else y + b


def rmsnorm(x, w, eps, detach_norm):
    r = torch.rsqrt((x * x).mean(-1, keepdim=True) + eps)
    if detach_norm:
        r = r.detach()
    return w * (x * r)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def attention(ck, b, x, method, cos, sin, mask):
    c = ck.cfg
    T = x.shape[0]
    D = c.head_dim
    q = linear(x, b["wq"], b["bq"]).view(T, c.heads, D).transpose(0, 1)     # (H, T, D)
    k = linear(x, b["wk"], b["bk"]).view(T, c.kv_heads, D).transpose(0, 1)  # (KV, T, D)
    v = linear(x, b["wv"], b["bv"]).view(T, c.kv_heads, D).transpose(0, 1)
    rule = method in ("attnlrp", "cplrp")
    if c.qk_norm:
        q = rmsnorm(q, b["qn"], c.eps, rule)
        k = rmsnorm(k, b["kn"], c.eps, rule)
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    if method == "attnlrp":
        q, k, v = scale_grad(q, 0.25), scale_grad(k, 0.25), scale_grad(v, 0.5)
    elif method == "cplrp":
        q, k = q.detach(), k.detach()
    group = c.heads // c.kv_heads
    k = k.repeat_interleave(group, dim=0)  # query head i reads kv head i // group
    v = v.repeat_interleave(group, dim=0)
    scores = (q @ k.transpose(1, 2)) / math.sqrt(D)
    scores = scores.masked_fill(mask, float("-inf"))
    p = torch.softmax(scores, dim=-1)
    o = (p @ v).transpose(0, 1).reshape(T, c.heads * D)
    return linear(o, b["wo"], b["bo"])


def mlp(ck, b, x, method):
    """Returns (output, intermediate) where intermediate = act(gate x) * up x feeds down_proj."""
    fn = _act(ck.cfg.act)
    a = linear(x, b["wg"], b["bg"])
    u = linear(x, b["wu"], b["bu"])
    if method == "attnlrp":
        z = scale_grad(IdentityRule.apply(a, fn) * u, 0.5)
    elif method == "cplrp":
        z = fn(a.detach()) * u
    else:
        z = fn(a) * u
    return linear(z, b["wd"], b["bd"]), z


def forward(ck, ids, method):
    """Runs the model on ids; returns (embeddings leaf, block outputs, intermediates, logits)."""
    c = ck.cfg
    T = len(ids)
    rule = method in ("attnlrp", "cplrp")
    e = ck.embed[torch.tensor(ids, dtype=torch.long)].clone().requires_grad_(True)
    pos = torch.arange(T, dtype=torch.float64)
    ang = torch.outer(pos, ck.inv_freq)
    ang = torch.cat((ang, ang), dim=-1)
    cos, sin = torch.cos(ang), torch.sin(ang)
    qi = torch.arange(T).view(T, 1)
    ki = torch.arange(T).view(1, T)
    mask = ki > qi
    if c.sliding_window is not None:
        mask = mask | (qi - ki >= int(c.sliding_window))
    h = e
    outs, inters = [], []
    for b in ck.blocks:
        h = h + attention(ck, b, rmsnorm(h, b["ln1"], c.eps, rule), method, cos, sin, mask)
        m, z = mlp(ck, b, rmsnorm(h, b["ln2"], c.eps, rule), method)
        h = h + m
        if h.requires_grad:  # not under torch.no_grad()
            z.retain_grad()
            h.retain_grad()
        outs.append(h)
        inters.append(z)
    logits = rmsnorm(h, ck.norm, c.eps, rule) @ ck.head.T
    return e, outs, inters, logits


def explain(ck, ids, method="attnlrp", target=None, position=None, contrast=None,
            latent_start=None, latent_layer=None, layers=False):
    """One explanation as a dict with the JSON fields of SPEC section 8."""
    c = ck.cfg
    if method not in METHODS:
        raise ReferenceError(f"--method: unknown method {method!r}")
    if not ids:
        raise ReferenceError("--ids: empty")
    for i in ids:
        if not 0 <= i < c.vocab:
            raise ReferenceError(f"--ids: id {i} out of range [0, {c.vocab})")
    T = len(ids)
    if position is None:
        position = T - 1
    if not 0 <= position < T:
        raise ReferenceError(f"--position: {position} out of range [0, {T})")
    if latent_layer is not None and not 0 <= latent_layer < c.layers:
        raise ReferenceError(f"--latent-layer: {latent_layer} out of range [0, {c.layers})")
    e, outs, inters, logits = forward(ck, ids, method)
    row = logits[position]
    if target is None:
        target = int(torch.argmax(row.detach()))
    if not 0 <= target < c.vocab:
        raise ReferenceError(f"--target-id: {target} out of range")
    if latent_start is not None:
        L, P, N = latent_start
        if not (0 <= L < c.layers and 0 <= P < T and 0 <= N < c.inter):
            raise ReferenceError(f"--latent-start: {L},{P},{N} out of range")
        y = inters[L][P, N]
    elif contrast is not None:
        if not 0 <= contrast < c.vocab:
            raise ReferenceError(f"--contrast: {contrast} out of range")
        y = row[target] - row[contrast]
    else:
        y = row[target]
    y.backward()
    g = e.grad
    if method == "gradient":
        rel = g.norm(dim=-1)
    else:
        rel = (e.detach() * g).sum(-1)

    def readout(t):
        if t.grad is None:
            return torch.zeros_like(t.detach())
        return t.detach() * t.grad

    lg = row.detach()
    probs = torch.softmax(lg, dim=-1)
    order = torch.argsort(lg, descending=True)[:5]
    out = {
        "method": method,
        "family": c.family,
        "ids": list(ids),
        "position": position,
        "target": target,
        "target_logit": float(lg[target]),
        "start_value": float(y.detach()),
        "relevance": [float(v) for v in rel],
        "relevance_sum": float(rel.sum()),
        "top": [{"id": int(i), "logit": float(lg[i]), "prob": float(probs[i])} for i in order],
        "logits": [float(v) for v in lg],
    }
    if layers:
        out["residual_relevance"] = [[float(v) for v in readout(h).sum(-1)] for h in outs]
    if latent_layer is not None:
        out["latent_layer"] = latent_layer
        out["latent_relevance"] = [float(v) for v in readout(inters[latent_layer]).sum(0)]
    return out


def start_value_at(ck, ids, embeddings, target=None, position=None, contrast=None, latent_start=None):
    """The start scalar as a plain function of given word embeddings (for finite differences)."""
    T = len(ids)
    position = T - 1 if position is None else position
    with torch.no_grad():
        # forward() gathers rows of ck.embed; give it a table whose rows are the embeddings.
        saved = ck.embed
        ck.embed = embeddings
        try:
            _, _, inters, logits = forward(ck, list(range(T)), "gradxinput")
        finally:
            ck.embed = saved
    row = logits[position]
    if latent_start is not None:
        L, P, N = latent_start
        return float(inters[L][P, N])
    if target is None:
        target = int(torch.argmax(row))
    y = row[target]
    if contrast is not None:
        y = y - row[contrast]
    return float(y)


def _triple(s):
    parts = [int(v) for v in s.split(",")]
    if len(parts) != 3:
        raise argparse.ArgumentTypeError("expected L,P,N")
    return tuple(parts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True, type=lambda s: [int(v) for v in s.split(",") if v != ""])
    ap.add_argument("--method", default="attnlrp", choices=METHODS)
    ap.add_argument("--target-id", type=int)
    ap.add_argument("--position", type=int)
    ap.add_argument("--contrast", type=int)
    ap.add_argument("--latent-start", type=_triple)
    ap.add_argument("--latent-layer", type=int)
    ap.add_argument("--layers", action="store_true")
    ap.add_argument("--all-logits", action="store_true", help="accepted; logits are always printed")
    a = ap.parse_args(argv)
    torch.set_default_dtype(torch.float64)
    try:
        ck = Checkpoint(a.model)
        out = explain(ck, a.ids, a.method, a.target_id, a.position, a.contrast, a.latent_start,
                      a.latent_layer, a.layers)
    except (ReferenceError, OSError, KeyError, ValueError) as err:
        print(f"reference: {err}", file=sys.stderr)
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
