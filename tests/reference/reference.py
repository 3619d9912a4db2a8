#!/usr/bin/python3
"""Independent float64 PyTorch reference for attnlrp explanations of LLaMA-family, Phi, Phi-3, GPT-2, BERT,
RoBERTa, DistilBERT and ViT checkpoints.

Written from the public definitions only (Hugging Face's LLaMA/Mistral/Qwen2/Qwen3, GPT-2, BERT,
RoBERTa and DistilBERT forward passes and the rules of ../../shared/SPEC.md sections 1-3), in the way
LXT's efficient implementation works:
relevance is gradient x input, where a few ops get a modified backward through a custom autograd
Function or a detach trick. It shares no code with the C engine and reads safetensors itself.

    reference.py --model DIR --ids 1,2,3 [--method M] [--target-id N] [--position P]
                 [--contrast FOIL] [--latent-start L,P,N] [--latent-layer L] [--layers]
                 [--token-type-ids 0,0,1] [--attention-mask 1,1,0]

    reference.py --model DIR --pixels FILE.npy [--method M] [--gamma CONV,LIN] [--target-id N]
                 [--contrast FOIL] [--latent-start L,P,N] [--latent-layer L] [--layers]      # ViT

prints one JSON object with the fields of SPEC section 8 (logits always included).

ViT (ViTForImageClassification, Hugging Face's modeling_vit.py): --pixels is a .npy [C,H,W] (float32 or
float64) taken as the model input as it is. Three inputs: the pixels (at the patch convolution), the CLS
token, the position embeddings (N+1 rows, CLS slot first). relevance_pixels [H][W] = sum over channels
of x * g; relevance = per patch (row-major) the sum of its pixels' relevance; relevance_cls = sum_d
cls_token * g; relevance_positions = sum_d pos * g per slot; relevance_sum = all three summed;
residual_relevance [layer][N+1]; --latent-start L,P,N with P in 0..N (0 = CLS) on gelu(intermediate.dense
x). --method gradient: relevance_pixels = the L2 norm over channels of the pixel gradient, relevance =
the L2 norm of each patch's whole gradient (all its pixels and channels), relevance_cls / each
relevance_positions slot = the L2 norm of that vector's gradient, relevance_sum = the sum of those
norms. --gamma CONV,LIN (attnlrp and cplrp only): the LRP-gamma rule of SPEC section 5 on the patch
convolution (CONV) and on intermediate.dense, output.dense and classifier (LIN); never on attention.

LayerNorm families: causal LMs (GPT-2) explain --position (default: the last real token); masked LMs
need --position, the mask position; classifiers read token 0 and take no --position, --target-id and
--contrast are class indices. --attention-mask 0 marks padding: masked as a key with -inf (exact zero
probability). Input relevance is read at each embedding output: `relevance` (word),
`relevance_positions`, `relevance_token_types` (BERT, RoBERTa); `relevance_cls` (BERT family) is the
sum of the three at token 0; `relevance_sum` sums every input. With --method gradient every per-token
field is the L2 norm of that embedding's gradient, and relevance_cls / relevance_sum sum those norms.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

def row_readout(t, method):
    """Per row of t [T, d] (residual stream): sum of t * grad, or for --method gradient the L2 norm of the
    row's gradient (one convention for every readout of a method; zero where no gradient arrived)."""
    if t.grad is None:
        return torch.zeros(t.shape[0], dtype=t.dtype)
    return t.grad.norm(dim=-1) if method == "gradient" else (t.detach() * t.grad).sum(-1)


def column_readout(t, method):
    """Per column of t [T, n] (MLP neurons): sum over rows of t * grad, or the L2 norm of the column's
    gradient for --method gradient."""
    if t.grad is None:
        return torch.zeros(t.shape[1], dtype=t.dtype)
    return t.grad.norm(dim=0) if method == "gradient" else (t.detach() * t.grad).sum(0)


METHODS = ("attnlrp", "cplrp", "gradxinput", "gradient")
FAMILIES = ("llama", "mistral", "qwen2", "qwen3", "mixtral", "qwen3_moe", "qwen2_moe")
MOE_FAMILIES = ("mixtral", "qwen3_moe", "qwen2_moe")
LN_FAMILIES = ("gpt2", "bert", "roberta", "distilbert")
IDENTITY_EPS = 1e-10
INT_DTYPES = {"I64": ("<i8", 8), "I32": ("<i4", 4), "U8": ("u1", 1), "BOOL": ("u1", 1), "I8": ("i1", 1)}


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
    elif dtype in INT_DTYPES:  # buffers (position_ids, masks): kept, never used as weights
        arr = np.frombuffer(raw, dtype=INT_DTYPES[dtype][0])
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
        size = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8}.get(info["dtype"]) or INT_DTYPES.get(info["dtype"], (0, 0))[1]
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
    moe = False  # dense unless load_config says otherwise (every family's reader builds a Config)
    shared = 0   # qwen2_moe: width of the shared expert (0: none)


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
    c.moe = c.family in MOE_FAMILIES
    if c.family == "mixtral":  # Hugging Face modeling_mixtral.py: always renormalised
        c.experts, c.topk, c.norm_topk = int(raw["num_local_experts"]), int(raw["num_experts_per_tok"]), True
    elif c.family == "qwen3_moe":  # modeling_qwen3_moe.py
        c.experts, c.topk = int(raw["num_experts"]), int(raw["num_experts_per_tok"])
        c.norm_topk = bool(raw.get("norm_topk_prob", False))
        c.inter = int(raw["moe_intermediate_size"])
        if int(raw.get("decoder_sparse_step", 1)) != 1 or raw.get("mlp_only_layers"):
            raise ReferenceError(f"{path}: dense layers in a Qwen3-MoE are not supported")
    elif c.family == "qwen2_moe":  # modeling_qwen2_moe.py: Qwen2MoeSparseMoeBlock (norm_topk_prob default false)
        c.experts, c.topk = int(raw["num_experts"]), int(raw["num_experts_per_tok"])
        c.norm_topk = bool(raw.get("norm_topk_prob", False))
        c.inter = int(raw["moe_intermediate_size"])
        c.shared = int(raw["shared_expert_intermediate_size"])
        sparse = [i not in (raw.get("mlp_only_layers") or []) and (i + 1) % int(raw.get("decoder_sparse_step", 1)) == 0
                  for i in range(c.layers)]
        if not all(sparse):
            raise ReferenceError(f"{path}: dense layers in a Qwen2-MoE are not supported")
        if raw.get("use_sliding_window"):
            raise ReferenceError(f"{path}: use_sliding_window is not supported")
    if c.moe and not 1 <= c.topk <= c.experts:
        raise ReferenceError(f"{path}: num_experts_per_tok {c.topk} not in 1..{c.experts}")
    c.eps = float(raw.get("rms_norm_eps", 1e-6))
    c.act = raw.get("hidden_act", "silu")
    c.tied = bool(raw.get("tie_word_embeddings", False))
    c.rope_type, c.rope_theta, c.rope = _rope_params(raw)
    c.sliding_window = raw.get("sliding_window") if c.family in ("mistral", "mixtral") else None
    if c.family == "qwen2" and raw.get("use_sliding_window"):
        raise ReferenceError(f"{path}: use_sliding_window is not supported")
    # Which projections carry a bias (Hugging Face's modeling files):
    if c.family in ("qwen2", "qwen2_moe"):  # Qwen2Attention / Qwen2MoeAttention: q/k/v biases, o_proj none
        c.qkv_bias, c.o_bias, c.mlp_bias = True, False, False
        if c.family == "qwen2_moe":  # Qwen2MoeConfig.qkv_bias (default true)
            c.qkv_bias = bool(raw.get("qkv_bias", True))
    elif c.family == "mistral":
        c.qkv_bias, c.o_bias, c.mlp_bias = False, False, False
    elif c.family == "mixtral":
        c.qkv_bias, c.o_bias, c.mlp_bias = False, False, False
    elif c.family in ("qwen3", "qwen3_moe"):
        ab = bool(raw.get("attention_bias", False))
        c.qkv_bias, c.o_bias, c.mlp_bias = ab, ab, False
    else:
        ab = bool(raw.get("attention_bias", False))
        c.qkv_bias, c.o_bias, c.mlp_bias = ab, ab, bool(raw.get("mlp_bias", False))
    c.qk_norm = c.family in ("qwen3", "qwen3_moe")
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
            }
            if c.moe:
                mix = c.family == "mixtral"
                q = p + ("block_sparse_moe." if mix else "mlp.")
                b["router"] = get(q + "gate.weight", (c.experts, H))
                names = ("w1", "w3", "w2") if mix else ("gate_proj", "up_proj", "down_proj")
                b["experts"] = [{"wg": get(q + f"experts.{j}.{names[0]}.weight", (I, H)),
                                 "wu": get(q + f"experts.{j}.{names[1]}.weight", (I, H)),
                                 "wd": get(q + f"experts.{j}.{names[2]}.weight", (H, I)),
                                 "bg": None, "bu": None, "bd": None} for j in range(c.experts)]
                if c.shared:
                    s = q + "shared_expert."
                    b["shared"] = {"wg": get(s + "gate_proj.weight", (c.shared, H)),
                                   "wu": get(s + "up_proj.weight", (c.shared, H)),
                                   "wd": get(s + "down_proj.weight", (H, c.shared)),
                                   "bg": None, "bu": None, "bd": None}
                    b["shared_gate"] = get(q + "shared_expert_gate.weight", (1, H))
                extra = q + f"experts.{c.experts}.{names[0]}.weight"
                if extra in t:
                    raise ReferenceError(f"{model_dir}: tensor {extra} exists but the config has {c.experts} experts")
            else:
                b.update({
                    "wg": get(p + "mlp.gate_proj.weight", (I, H)),
                    "wu": get(p + "mlp.up_proj.weight", (I, H)),
                    "wd": get(p + "mlp.down_proj.weight", (H, I)),
                    "bg": bias(p + "mlp.gate_proj.bias", I, c.mlp_bias),
                    "bu": bias(p + "mlp.up_proj.bias", I, c.mlp_bias),
                    "bd": bias(p + "mlp.down_proj.bias", H, c.mlp_bias),
                })
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


# Attention-head taps and interventions (LLaMA family): HEAD_SET {(layer, head): factor} multiplies each
# head's slice of the o-projection input (0 zero-ablates it); with HEAD_TAPS a list, forward appends
# (layer, o-projection input, attention block output) per layer, both keeping their gradients.
HEAD_SET = {}
HEAD_TAPS = None


def _head_tap(o, layer, heads, D):
    if any(l == layer for l, _ in HEAD_SET):
        f = torch.ones(heads, D, dtype=o.dtype)
        for (l, h), v in HEAD_SET.items():
            if l == layer:
                f[h] = f[h] * v
        o = o * f.reshape(1, heads * D)
    return o


def attention(ck, b, x, method, cos, sin, mask, layer=None):
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
    o = _head_tap(o, layer, c.heads, D)
    a = linear(o, b["wo"], b["bo"])
    if HEAD_TAPS is not None and a.requires_grad:
        o.retain_grad()
        a.retain_grad()
        HEAD_TAPS.append((layer, o, a))
    return a


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


def moe_mlp(ck, b, x, method, latent_expert=0):
    """Sparse MoE (SPEC section 2): softmax over all router logits, top-k, renormalised when the model
    does; out = sum_k w_k E_k(x) over the experts each token is routed to. Returns (output, the latent
    expert's intermediate [T, I] (zero rows where it is not routed), routing weights [T, k], experts [T, k])."""
    c = ck.cfg
    T = x.shape[0]
    p = torch.softmax(linear(x, b["router"], None), dim=-1)
    top, idx = torch.topk(p.detach(), c.topk, dim=-1)
    w = p.gather(1, idx)  # differentiable through the gather, the softmax and the router
    if c.norm_topk:
        w = w / w.sum(-1, keepdim=True)
    if w.requires_grad:
        w.retain_grad()
    out = torch.zeros_like(x)
    z_lat = torch.zeros(T, c.inter)
    for e in range(c.experts):
        rows, slots = (idx == e).nonzero(as_tuple=True)
        if rows.numel() == 0:
            continue
        y, z = mlp(ck, b["experts"][e], x[rows], method)
        if e == latent_expert:
            z_lat = torch.zeros(T, c.inter).index_put((rows,), z)
            y = linear(z_lat[rows], b["experts"][e]["wd"], None)
        wk = w[rows, slots].unsqueeze(-1)
        if method == "attnlrp":
            yk = scale_grad(wk * y, 0.5)
        elif method == "cplrp":
            yk = wk.detach() * y
        else:
            yk = wk * y
        out = out.index_add(0, rows, yk)
    sg = None
    if c.shared:  # Qwen2-MoE: sigmoid(shared_expert_gate x) * S(x) on every token, added to the routed sum
        s, _ = mlp(ck, b["shared"], x, method)
        gl = linear(x, b["shared_gate"], None)  # [T, 1]
        if method == "attnlrp":  # identity rule through the sigmoid, uniform 1/2 on the product
            sg = IdentityRule.apply(gl, torch.sigmoid)
            out = out + scale_grad(sg * s, 0.5)
        elif method == "cplrp":  # the gate detached: S(x) takes the product's relevance
            sg = torch.sigmoid(gl).detach()
            out = out + sg * s
        else:
            sg = torch.sigmoid(gl)
            out = out + sg * s
        if sg.requires_grad:
            sg.retain_grad()
    return out, z_lat, w, idx, sg


def forward(ck, ids, method, latent_expert=0, routing=None):
    """Runs the model on ids; returns (embeddings leaf, block outputs, intermediates, logits)."""
    if isinstance(ck, PhiCheckpoint):
        return phi_forward(ck, ids, method)
    if isinstance(ck, GemmaCheckpoint):
        return gemma_forward(ck, ids, method)
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
    for li, b in enumerate(ck.blocks):
        h = h + attention(ck, b, rmsnorm(h, b["ln1"], c.eps, rule), method, cos, sin, mask, layer=li)
        if c.moe:
            m, z, w, idx, sg = moe_mlp(ck, b, rmsnorm(h, b["ln2"], c.eps, rule), method, latent_expert)
            if routing is not None:
                routing.append((w, idx, sg))
        else:
            m, z = mlp(ck, b, rmsnorm(h, b["ln2"], c.eps, rule), method)
        h = h + m
        if h.requires_grad:  # not under torch.no_grad()
            if z.requires_grad:  # an MoE latent expert that no token is routed to is a constant zero
                z.retain_grad()
            h.retain_grad()
        outs.append(h)
        inters.append(z)
    logits = rmsnorm(h, ck.norm, c.eps, rule) @ ck.head.T
    return e, outs, inters, logits


def explain(ck, ids, method="attnlrp", target=None, position=None, contrast=None,
            latent_start=None, latent_layer=None, layers=False, token_types=None, attention_mask=None,
            latent_expert=None):
    """One explanation as a dict with the JSON fields of SPEC section 8."""
    c = ck.cfg
    if method not in METHODS:
        raise ReferenceError(f"--method: unknown method {method!r}")
    if not ids:
        raise ReferenceError("--ids: empty")
    if isinstance(ck, LNCheckpoint):
        return ln_explain(ck, ids, method, target, position, contrast, latent_start, latent_layer, layers,
                          token_types, attention_mask)
    if token_types is not None or attention_mask is not None:
        raise ReferenceError(f"--token-type-ids/--attention-mask: not supported for {c.family}")
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
    if latent_expert is not None and not (c.moe and 0 <= latent_expert < c.experts):
        raise ReferenceError(f"--latent-expert: {latent_expert} is not an expert of this model")
    routing = []
    e, outs, inters, logits = forward(ck, ids, method, latent_expert or 0, routing)
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
    if not y.requires_grad:  # a latent neuron of an expert no token is routed to: zero, no relevance
        y = y + 0.0 * e.sum()
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
        out["residual_relevance"] = [[float(v) for v in row_readout(h, method)] for h in outs]
    if latent_layer is not None:
        out["latent_layer"] = latent_layer
        out["latent_relevance"] = [float(v) for v in column_readout(inters[latent_layer], method)]
    if c.moe:  # relevance at the routing weights, per layer and expert (SPEC section 8)
        if latent_expert is not None:
            out["latent_expert"] = latent_expert
        er, sr = [], []
        for w, idx, sg in routing:
            if method == "gradient":  # the L2 norm of the routing weights' gradient per expert
                g = w.grad if w.grad is not None else torch.zeros_like(w.detach())
                er.append([float((g[idx == j] ** 2).sum().sqrt()) for j in range(c.experts)])
            else:
                r = readout(w)
                er.append([float(r[idx == j].sum()) for j in range(c.experts)])
            if sg is not None:  # qwen2_moe: the same at the shared expert's gate sigmoid(g) [T, 1]
                g = sg.grad if sg.grad is not None else torch.zeros_like(sg.detach())
                sr.append(float((g ** 2).sum().sqrt()) if method == "gradient" else float(readout(sg).sum()))
        out["expert_relevance"] = er
        if c.shared:
            out["shared_expert_relevance"] = sr
    return out


def start_value_at(ck, ids, embeddings, target=None, position=None, contrast=None, latent_start=None,
                   latent_expert=None):
    """The start scalar as a plain function of given word embeddings (for finite differences)."""
    T = len(ids)
    position = T - 1 if position is None else position
    with torch.no_grad():
        # forward() gathers rows of ck.embed; give it a table whose rows are the embeddings.
        saved = ck.embed
        ck.embed = embeddings
        try:
            _, _, inters, logits = forward(ck, list(range(T)), "gradxinput", latent_expert or 0)
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


# ----------------------------------------------------------------------------------------------
# LayerNorm families: GPT-2 (pre-norm, causal LM) and BERT / RoBERTa / DistilBERT (post-norm,
# bidirectional; sequence classifiers and masked LMs), from Hugging Face's modeling_gpt2.py,
# modeling_bert.py, modeling_roberta.py and modeling_distilbert.py.

def load_ln_config(raw, path):
    c = Config()
    c.raw = raw
    c.family = f = raw["model_type"]
    arch = (raw.get("architectures") or [""])[0]

    def need(key):
        if raw.get(key) is None:
            raise ReferenceError(f"{path}: field {key} is missing")
        return raw[key]

    if f == "gpt2":
        c.hidden, c.layers, c.heads = int(need("n_embd")), int(need("n_layer")), int(need("n_head"))
        c.inter = int(raw.get("n_inner") or 4 * c.hidden)
        c.max_pos = int(need("n_positions"))
        c.eps = float(raw.get("layer_norm_epsilon", 1e-5))
        c.act = raw.get("activation_function", "gelu_new")
        c.type_vocab, c.pad, c.prenorm, c.causal = 0, None, True, True
        if raw.get("scale_attn_weights", True) is not True or raw.get("scale_attn_by_inverse_layer_idx"):
            raise ReferenceError(f"{path}: only the default GPT-2 attention scaling is supported")
        c.kind = "lm"
    elif f in ("bert", "roberta"):
        c.hidden, c.layers = int(need("hidden_size")), int(need("num_hidden_layers"))
        c.heads, c.inter = int(need("num_attention_heads")), int(need("intermediate_size"))
        c.max_pos = int(raw.get("max_position_embeddings", 512))
        c.eps = float(raw.get("layer_norm_eps", 1e-12))
        c.act = raw.get("hidden_act", "gelu")
        c.type_vocab = int(raw.get("type_vocab_size", 2))
        c.pad = int(raw.get("pad_token_id", 1 if f == "roberta" else 0))
        c.prenorm, c.causal = False, False
        if raw.get("position_embedding_type", "absolute") != "absolute":
            raise ReferenceError(f"{path}: position_embedding_type {raw['position_embedding_type']!r} is not supported")
    else:  # distilbert
        c.hidden, c.layers = int(need("dim")), int(need("n_layers"))
        c.heads, c.inter = int(need("n_heads")), int(need("hidden_dim"))
        c.max_pos = int(raw.get("max_position_embeddings", 512))
        c.eps = 1e-12  # hard-coded in modeling_distilbert.py
        c.act = raw.get("activation", "gelu")
        c.type_vocab, c.pad, c.prenorm, c.causal = 0, int(raw.get("pad_token_id", 0)), False, False
        if raw.get("sinusoidal_pos_embds"):
            raise ReferenceError(f"{path}: sinusoidal_pos_embds is not supported")
    if f != "gpt2":
        if arch.endswith("ForSequenceClassification"):
            c.kind = "cls"
        elif arch.endswith("ForMaskedLM"):
            c.kind = "mlm"
        else:
            raise ReferenceError(f"{path}: architecture {arch!r} is not supported")
    c.vocab = int(need("vocab_size"))
    c.tied = bool(raw.get("tie_word_embeddings", True))
    id2label = raw.get("id2label") or {}
    c.labels = [id2label.get(str(i), f"LABEL_{i}") for i in range(len(id2label))] if id2label else None
    c.num_labels = len(id2label) if id2label else int(raw.get("num_labels", 2))
    if c.hidden % c.heads:
        raise ReferenceError(f"{path}: hidden size not a multiple of the number of heads")
    c.head_dim = c.hidden // c.heads
    _act(c.act)  # rejects an unknown activation now
    return c


class LNCheckpoint:
    """Weights of a LayerNorm family in one layout: Linear weights as [out, in] (GPT-2's Conv1D
    [in, out] transposed), LayerNorm as (weight, bias); buffers (attn.bias, position_ids) ignored."""

    def __init__(self, model_dir, c):
        self.dir = model_dir
        self.cfg = c
        arrays, _ = load_tensors(model_dir)
        t = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
        H, I, V = c.hidden, c.inter, c.vocab

        def get(names, shape):
            names = [names] if isinstance(names, str) else names
            for n in names:
                if n in t:
                    if tuple(t[n].shape) != tuple(shape):
                        raise ReferenceError(f"{model_dir}: tensor {n} has shape {tuple(t[n].shape)}, "
                                             f"expected {tuple(shape)}")
                    return t[n].to(torch.float64)
            raise ReferenceError(f"{model_dir}: tensor {names[0]} is missing")

        def lin(name, o, i, conv1d=False):
            if conv1d:
                return get(name + ".weight", (i, o)).T.contiguous(), get(name + ".bias", (o,))
            return get(name + ".weight", (o, i)), get(name + ".bias", (o,))

        def ln(name, n):
            return (get([name + ".weight", name + ".gamma"], (n,)), get([name + ".bias", name + ".beta"], (n,)))

        f = c.family
        if f == "gpt2":
            pre = "transformer." if "transformer.wte.weight" in t else ""
            emb = pre + "wte.weight"
        else:
            pre = f + "." if f"{f}.embeddings.word_embeddings.weight" in t else ""
            emb = pre + "embeddings.word_embeddings.weight"
        self.embed = get(emb, (V, H))
        self.types = None
        if f == "gpt2":
            self.pos = get(pre + "wpe.weight", (c.max_pos, H))
            self.emb_ln = None
        else:
            self.pos = get(pre + "embeddings.position_embeddings.weight", (c.max_pos, H))
            if c.type_vocab:
                self.types = get(pre + "embeddings.token_type_embeddings.weight", (c.type_vocab, H))
            self.emb_ln = ln(pre + "embeddings.LayerNorm", H)
        self.blocks = []
        for i in range(c.layers):
            b = {}
            if f == "gpt2":
                p = f"{pre}h.{i}."
                w, bias = lin(p + "attn.c_attn", 3 * H, H, conv1d=True)
                b["q"], b["k"], b["v"] = [(w[j * H:(j + 1) * H], bias[j * H:(j + 1) * H]) for j in range(3)]
                b["o"] = lin(p + "attn.c_proj", H, H, conv1d=True)
                b["ln1"], b["ln2"] = ln(p + "ln_1", H), ln(p + "ln_2", H)
                b["fc1"] = lin(p + "mlp.c_fc", I, H, conv1d=True)
                b["fc2"] = lin(p + "mlp.c_proj", H, I, conv1d=True)
            elif f == "distilbert":
                p = f"{pre}transformer.layer.{i}."
                for key, name in (("q", "q_lin"), ("k", "k_lin"), ("v", "v_lin"), ("o", "out_lin")):
                    b[key] = lin(p + "attention." + name, H, H)
                b["ln1"], b["ln2"] = ln(p + "sa_layer_norm", H), ln(p + "output_layer_norm", H)
                b["fc1"], b["fc2"] = lin(p + "ffn.lin1", I, H), lin(p + "ffn.lin2", H, I)
            else:
                p = f"{pre}encoder.layer.{i}."
                for key, name in (("q", "self.query"), ("k", "self.key"), ("v", "self.value"),
                                  ("o", "output.dense")):
                    b[key] = lin(p + "attention." + name, H, H)
                b["ln1"], b["ln2"] = ln(p + "attention.output.LayerNorm", H), ln(p + "output.LayerNorm", H)
                b["fc1"], b["fc2"] = lin(p + "intermediate.dense", I, H), lin(p + "output.dense", H, I)
            self.blocks.append(b)

        def tied(names, bias_names):
            if c.tied:
                w = self.embed
            else:
                w = get(names, (V, H))
            return ("linear", w, get(bias_names, (V,)) if bias_names else None)

        # The head: a list of ops applied to the rows it reads (all positions, or position 0).
        if f == "gpt2":
            self.head = [("ln",) + ln(pre + "ln_f", H), tied("lm_head.weight", None)]
        elif c.kind == "cls":
            N = c.num_labels
            if f == "bert":
                self.head = [("linear",) + lin(pre + "pooler.dense", H, H), ("act", "tanh"),
                             ("linear",) + lin("classifier", N, H)]
            elif f == "roberta":
                self.head = [("linear",) + lin("classifier.dense", H, H), ("act", "tanh"),
                             ("linear",) + lin("classifier.out_proj", N, H)]
            else:
                self.head = [("linear",) + lin("pre_classifier", H, H), ("act", "relu"),
                             ("linear",) + lin("classifier", N, H)]
        elif f == "bert":
            p = "cls.predictions."
            self.head = [("linear",) + lin(p + "transform.dense", H, H), ("act", c.act),
                         ("ln",) + ln(p + "transform.LayerNorm", H),
                         tied(p + "decoder.weight", [p + "bias", p + "decoder.bias"])]
        elif f == "roberta":
            self.head = [("linear",) + lin("lm_head.dense", H, H), ("act", "gelu"),
                         ("ln",) + ln("lm_head.layer_norm", H),
                         tied("lm_head.decoder.weight", ["lm_head.bias", "lm_head.decoder.bias"])]
        else:
            self.head = [("linear",) + lin("vocab_transform", H, H), ("act", c.act),
                         ("ln",) + ln("vocab_layer_norm", H),
                         tied("vocab_projector.weight", ["vocab_projector.bias"])]
        self.outputs = c.num_labels if c.kind == "cls" else V


# ----------------------------------------------------------------------------------------------
# Phi (modeling_phi.py: Phi-1.5, Phi-2) and Phi-3 (modeling_phi3.py: Phi-3, Phi-3.5, Phi-4-mini).
# Phi: one LayerNorm feeds attention and MLP in parallel, x' = x + dense(attn(ln x)) + fc2(gelu_new(fc1(ln x))),
# biases everywhere (lm_head too), partial rotary (rotate_half on the first rot dims of each head), optional
# LayerNorm per head on q and k before the rotation. Phi-3: LLaMA-like blocks with RMSNorm, fused qkv_proj
# (q, k, v rows) and gate_up_proj (gate rows, then up rows), z = up * silu(gate), LongRoPE, sliding window.

PHI_FAMILIES = ("phi", "phi3")


def load_phi_config(raw, path):
    c = Config()
    c.raw = raw
    c.family = raw["model_type"]
    c.phi3 = c.family == "phi3"
    c.hidden = int(raw["hidden_size"])
    c.layers = int(raw["num_hidden_layers"])
    c.heads = int(raw["num_attention_heads"])
    c.kv_heads = int(raw.get("num_key_value_heads") or c.heads)
    c.head_dim = int(raw.get("head_dim") or c.hidden // c.heads)
    c.inter = int(raw["intermediate_size"])
    c.vocab = int(raw["vocab_size"])
    c.eps = float(raw.get("rms_norm_eps" if c.phi3 else "layer_norm_eps", 1e-5))
    c.act = raw.get("hidden_act", "silu" if c.phi3 else "gelu_new")
    c.tied = bool(raw.get("tie_word_embeddings", False))
    c.qk_ln = bool(raw.get("qk_layernorm", False)) and not c.phi3
    c.rope_type, c.rope_theta, c.rope = _rope_params(raw)
    partial = float(raw.get("partial_rotary_factor", 1.0 if c.phi3 else 0.5))
    c.rot = int(c.head_dim * partial)
    c.sliding_window = raw.get("sliding_window") if c.phi3 else None
    c.max_pos = int(raw.get("max_position_embeddings", 2048))
    if c.rope_type not in ("default", "longrope", "su"):
        raise ReferenceError(f"{path}: rope type {c.rope_type!r} is not supported for {c.family}")
    return c


def phi_rope(c, T):
    """cos, sin (T, rot) for positions 0..T-1: transformers' default or LongRoPE inverse frequencies over the
    rot rotated dimensions; LongRoPE picks long_factor when the sequence (max position + 1) is longer than
    the pretraining length and multiplies cos and sin by its attention factor."""
    ar = torch.arange(0, c.rot, 2, dtype=torch.float64) / c.rot
    scale = 1.0
    if c.rope_type in ("longrope", "su"):
        p = c.rope
        if "original_max_position_embeddings" in c.raw:
            orig = int(c.raw["original_max_position_embeddings"])
            factor = c.max_pos / orig
        else:
            orig = int(p.get("original_max_position_embeddings", c.max_pos))
            factor = float(p["factor"]) if "factor" in p else c.max_pos / orig
        scale = p.get("attention_factor")
        if scale is None:
            scale = 1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(orig))
        ext = torch.tensor(p["long_factor"] if T > orig else p["short_factor"], dtype=torch.float64)
        inv = 1.0 / (ext * c.rope_theta ** ar)
    else:
        inv = 1.0 / (c.rope_theta ** ar)
    ang = torch.outer(torch.arange(T, dtype=torch.float64), inv)
    ang = torch.cat((ang, ang), dim=-1)
    return torch.cos(ang) * scale, torch.sin(ang) * scale


class PhiCheckpoint:
    def __init__(self, model_dir, c):
        self.dir = model_dir
        self.cfg = c
        arrays, _ = load_tensors(model_dir)
        t = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}

        def get(name, shape):
            if name not in t:
                raise ReferenceError(f"{model_dir}: tensor {name} is missing")
            if tuple(t[name].shape) != tuple(shape):
                raise ReferenceError(f"{model_dir}: tensor {name} has shape {tuple(t[name].shape)}, "
                                     f"expected {tuple(shape)}")
            return t[name]

        H, D, KV, I, Q = c.hidden, c.head_dim, c.kv_heads, c.inter, c.heads * c.head_dim
        self.embed = get("model.embed_tokens.weight", (c.vocab, H))
        self.head = self.embed if c.tied and "lm_head.weight" not in t else get("lm_head.weight", (c.vocab, H))
        self.blocks = []
        for i in range(c.layers):
            p = f"model.layers.{i}."
            if c.phi3:
                qkv = get(p + "self_attn.qkv_proj.weight", (Q + 2 * KV * D, H))
                gu = get(p + "mlp.gate_up_proj.weight", (2 * I, H))
                self.blocks.append({
                    "ln1": get(p + "input_layernorm.weight", (H,)),
                    "ln2": get(p + "post_attention_layernorm.weight", (H,)),
                    "q": (qkv[:Q], None), "k": (qkv[Q:Q + KV * D], None), "v": (qkv[Q + KV * D:], None),
                    "o": (get(p + "self_attn.o_proj.weight", (H, Q)), None),
                    "gate": (gu[:I], None), "up": (gu[I:], None),
                    "down": (get(p + "mlp.down_proj.weight", (H, I)), None)})
                continue

            def lin(name, o, i):
                return get(p + name + ".weight", (o, i)), get(p + name + ".bias", (o,))

            b = {"ln": (get(p + "input_layernorm.weight", (H,)), get(p + "input_layernorm.bias", (H,))),
                 "q": lin("self_attn.q_proj", Q, H), "k": lin("self_attn.k_proj", KV * D, H),
                 "v": lin("self_attn.v_proj", KV * D, H), "o": lin("self_attn.dense", H, Q),
                 "fc1": lin("mlp.fc1", I, H), "fc2": lin("mlp.fc2", H, I)}
            if c.qk_ln:
                for n in ("q_layernorm", "k_layernorm"):
                    b[n] = (get(p + f"self_attn.{n}.weight", (D,)), get(p + f"self_attn.{n}.bias", (D,)))
            self.blocks.append(b)
        if c.phi3:
            self.norm = (get("model.norm.weight", (H,)), None)
            self.head_bias = None
        else:
            self.norm = (get("model.final_layernorm.weight", (H,)), get("model.final_layernorm.bias", (H,)))
            self.head_bias = get("lm_head.bias", (c.vocab,))


def phi_attention(ck, b, x, method, cos, sin, mask):
    c = ck.cfg
    T, D, R = x.shape[0], c.head_dim, c.rot
    rule = method in ("attnlrp", "cplrp")
    q = linear(x, *b["q"]).view(T, c.heads, D).transpose(0, 1)
    k = linear(x, *b["k"]).view(T, c.kv_heads, D).transpose(0, 1)
    v = linear(x, *b["v"]).view(T, c.kv_heads, D).transpose(0, 1)
    if c.qk_ln:
        q = layernorm(q, *b["q_layernorm"], c.eps, rule)
        k = layernorm(k, *b["k_layernorm"], c.eps, rule)
    q = torch.cat((q[..., :R] * cos + rotate_half(q[..., :R]) * sin, q[..., R:]), dim=-1)
    k = torch.cat((k[..., :R] * cos + rotate_half(k[..., :R]) * sin, k[..., R:]), dim=-1)
    if method == "attnlrp":
        q, k, v = scale_grad(q, 0.25), scale_grad(k, 0.25), scale_grad(v, 0.5)
    elif method == "cplrp":
        q, k = q.detach(), k.detach()
    group = c.heads // c.kv_heads
    k = k.repeat_interleave(group, dim=0)
    v = v.repeat_interleave(group, dim=0)
    scores = (q @ k.transpose(1, 2)) / math.sqrt(D)
    p = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
    o = (p @ v).transpose(0, 1).reshape(T, c.heads * D)
    return linear(o, *b["o"])


def phi_forward(ck, ids, method):
    """(embeddings leaf, block outputs, MLP intermediates, logits) like forward()."""
    c = ck.cfg
    T = len(ids)
    rule = method in ("attnlrp", "cplrp")
    e = ck.embed[torch.tensor(ids, dtype=torch.long)].clone().requires_grad_(True)
    cos, sin = phi_rope(c, T)
    qi, ki = torch.arange(T).view(T, 1), torch.arange(T).view(1, T)
    mask = ki > qi
    if c.sliding_window is not None:
        mask = mask | (qi - ki >= int(c.sliding_window))
    h = e
    outs, inters = [], []
    for b in ck.blocks:
        if c.phi3:
            h = h + phi_attention(ck, b, rmsnorm(h, b["ln1"], c.eps, rule), method, cos, sin, mask)
            x = rmsnorm(h, b["ln2"], c.eps, rule)
            fn = _act(c.act)
            a, u = linear(x, *b["gate"]), linear(x, *b["up"])
            if method == "attnlrp":
                z = scale_grad(IdentityRule.apply(a, fn) * u, 0.5)
            elif method == "cplrp":
                z = fn(a.detach()) * u
            else:
                z = fn(a) * u
            h = h + linear(z, *b["down"])
        else:
            x = layernorm(h, *b["ln"], c.eps, rule)
            z = activation(linear(x, *b["fc1"]), c.act, method)
            h = phi_attention(ck, b, x, method, cos, sin, mask) + linear(z, *b["fc2"]) + h
        if h.requires_grad:
            z.retain_grad()
            h.retain_grad()
        outs.append(h)
        inters.append(z)
    if c.phi3:
        y = rmsnorm(h, ck.norm[0], c.eps, rule)
    else:
        y = layernorm(h, *ck.norm, c.eps, rule)
    return e, outs, inters, linear(y, ck.head, ck.head_bias)


def open_checkpoint(model_dir):
    """The checkpoint object for any supported family (LLaMA family or LayerNorm family)."""
    path = os.path.join(model_dir, "config.json")
    with open(path) as f:
        raw = json.load(f)
    if raw.get("model_type") in LN_FAMILIES:
        return LNCheckpoint(model_dir, load_ln_config(raw, path))
    if raw.get("model_type") in VIT_FAMILIES:
        return ViTCheckpoint(model_dir, load_vit_config(raw, path))
    if raw.get("model_type") in PHI_FAMILIES:
        return PhiCheckpoint(model_dir, load_phi_config(raw, path))
    if raw.get("model_type") in T5_FAMILIES:
        return T5Checkpoint(model_dir, load_t5_config(raw, path))
    if raw.get("model_type") in GEMMA_FAMILIES:
        return GemmaCheckpoint(model_dir, load_gemma_config(raw, path))
    return Checkpoint(model_dir)


def layernorm(x, w, b, eps, detach_std):
    """w * (x - mean) / std + b; with detach_std the std is a constant in the backward (mean kept)."""
    xc = x - x.mean(-1, keepdim=True)
    sd = torch.sqrt((xc * xc).mean(-1, keepdim=True) + eps)
    if detach_std:
        sd = sd.detach()
    return w * (xc / sd) + b


def activation(x, name, method):
    fn = torch.tanh if name == "tanh" else _act(name)
    if method in ("attnlrp", "cplrp"):
        return IdentityRule.apply(x, fn)
    return fn(x)


def ln_attention(ck, b, x, method, mask):
    """x (T, H); mask (T, T) True where a query may not see a key."""
    c = ck.cfg
    T, D = x.shape[0], c.head_dim
    q, k, v = [linear(x, *b[n]).view(T, c.heads, D).transpose(0, 1) for n in ("q", "k", "v")]
    if method == "attnlrp":
        q, k, v = scale_grad(q, 0.25), scale_grad(k, 0.25), scale_grad(v, 0.5)
    elif method == "cplrp":
        q, k = q.detach(), k.detach()
    scores = (q @ k.transpose(1, 2)) / math.sqrt(D)
    p = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
    o = (p @ v).transpose(0, 1).reshape(T, c.hidden)
    return linear(o, *b["o"])


def ln_forward(ck, word, pos, types, real, method):
    """word/pos/types: (T, H) embedding outputs (types may be None); real: bool (T,), False = padding.
    Returns (block outputs, MLP intermediates, head outputs per row read)."""
    c = ck.cfg
    T = word.shape[0]
    rule = method in ("attnlrp", "cplrp")
    h = word + pos
    if types is not None:
        h = h + types
    if ck.emb_ln is not None:
        h = layernorm(h, *ck.emb_ln, c.eps, rule)
    mask = (~real).view(1, T).expand(T, T)
    if c.causal:
        mask = mask | (torch.arange(T).view(1, T) > torch.arange(T).view(T, 1))
    outs, inters = [], []
    for b in ck.blocks:
        if c.prenorm:
            h = h + ln_attention(ck, b, layernorm(h, *b["ln1"], c.eps, rule), method, mask)
            z = activation(linear(layernorm(h, *b["ln2"], c.eps, rule), *b["fc1"]), c.act, method)
            h = h + linear(z, *b["fc2"])
        else:
            h = layernorm(h + ln_attention(ck, b, h, method, mask), *b["ln1"], c.eps, rule)
            z = activation(linear(h, *b["fc1"]), c.act, method)
            h = layernorm(h + linear(z, *b["fc2"]), *b["ln2"], c.eps, rule)
        if h.requires_grad:
            z.retain_grad()
            h.retain_grad()
        outs.append(h)
        inters.append(z)
    y = h[:1] if c.kind == "cls" else h
    for op in ck.head:
        if op[0] == "linear":
            y = linear(y, op[1], op[2])
        elif op[0] == "ln":
            y = layernorm(y, op[1], op[2], c.eps, rule)
        else:
            y = activation(y, op[1], method)
    return outs, inters, y


def position_ids(ck, ids):
    """RoBERTa: padding_idx + 1 + the count of non-pad tokens so far, pad tokens at padding_idx
    (create_position_ids_from_input_ids); everyone else 0..T-1."""
    if ck.cfg.family == "roberta":
        not_pad = torch.tensor([int(i != ck.cfg.pad) for i in ids])
        return torch.cumsum(not_pad, 0) * not_pad + ck.cfg.pad
    return torch.arange(len(ids))


def ln_inputs(ck, ids, token_types):
    """The embedding outputs (word, position, token type or None) for ids, as fresh leaves."""
    c = ck.cfg
    pos_ids = position_ids(ck, ids)
    if int(pos_ids.max()) >= c.max_pos:
        raise ReferenceError(f"--ids: {len(ids)} tokens need position {int(pos_ids.max())}, "
                             f"the model has {c.max_pos} positions")
    word = ck.embed[torch.tensor(ids)].clone()
    pos = ck.pos[pos_ids].clone()
    types = ck.types[torch.tensor(token_types)].clone() if ck.types is not None else None
    return word, pos, types


def ln_start(ck, outs, inters, y, target, position, contrast, latent_start):
    """(start scalar, output row, target)."""
    c = ck.cfg
    row = y[0] if c.kind == "cls" else y[position]
    if target is None:
        target = int(torch.argmax(row.detach()))
    if not 0 <= target < ck.outputs:
        raise ReferenceError(f"--target-id: {target} out of range [0, {ck.outputs})")
    if latent_start is not None:
        L, P, N = latent_start
        return inters[L][P, N], row, target
    if contrast is not None:
        if not 0 <= contrast < ck.outputs:
            raise ReferenceError(f"--contrast: {contrast} out of range [0, {ck.outputs})")
        return row[target] - row[contrast], row, target
    return row[target], row, target


def ln_check_args(ck, ids, token_types, attention_mask, position, latent_start, latent_layer):
    """Validates the arguments; returns (token types, real-token mask, position or None)."""
    c = ck.cfg
    T = len(ids)
    for i in ids:
        if not 0 <= i < c.vocab:
            raise ReferenceError(f"--ids: id {i} out of range [0, {c.vocab})")
    if c.type_vocab == 0:
        if token_types is not None:
            raise ReferenceError(f"--token-type-ids: {c.family} has no token-type embeddings")
        token_types = [0] * T  # unused
    elif token_types is None:
        token_types = [0] * T
    elif len(token_types) != T or any(not 0 <= v < c.type_vocab for v in token_types):
        raise ReferenceError(f"--token-type-ids: need {T} values in [0, {c.type_vocab})")
    if attention_mask is None:
        attention_mask = [1] * T
    if len(attention_mask) != T or any(v not in (0, 1) for v in attention_mask):
        raise ReferenceError(f"--attention-mask: need {T} values, each 0 or 1")
    real = torch.tensor([bool(v) for v in attention_mask])
    if c.causal and not real[0]:
        raise ReferenceError("--attention-mask: the first token of a causal model must be real")
    if c.kind == "cls":
        if position is not None:
            raise ReferenceError("--position: a classifier reads the first token; no position")
        if not real[0]:
            raise ReferenceError("--attention-mask: a classifier reads token 0, which is padding")
    else:
        if position is None:
            if c.kind == "mlm":
                raise ReferenceError("--position: a masked LM needs the explained (mask) position")
            position = max(i for i in range(T) if real[i])  # the last real token
        if not 0 <= position < T:
            raise ReferenceError(f"--position: {position} out of range [0, {T})")
        if not real[position]:
            raise ReferenceError(f"--position: {position} is a padding token")
    if latent_layer is not None and not 0 <= latent_layer < c.layers:
        raise ReferenceError(f"--latent-layer: {latent_layer} out of range [0, {c.layers})")
    if latent_start is not None:
        L, P, N = latent_start
        if not (0 <= L < c.layers and 0 <= P < T and 0 <= N < c.inter):
            raise ReferenceError(f"--latent-start: {L},{P},{N} out of range")
    return token_types, real, position


def ln_explain(ck, ids, method, target, position, contrast, latent_start, latent_layer, layers,
               token_types, attention_mask):
    c = ck.cfg
    token_types, real, position = ln_check_args(ck, ids, token_types, attention_mask, position,
                                                latent_start, latent_layer)
    inputs = [t.requires_grad_(True) if t is not None else None for t in ln_inputs(ck, ids, token_types)]
    word, pos, types = inputs
    outs, inters, y = ln_forward(ck, word, pos, types, real, method)
    start, row, target = ln_start(ck, outs, inters, y, target, position, contrast, latent_start)
    start.backward()

    def input_relevance(t):
        if t.grad is None:
            return torch.zeros(t.shape[0])
        return t.grad.norm(dim=-1) if method == "gradient" else (t.detach() * t.grad).sum(-1)

    rel = input_relevance(word)
    rel_pos = input_relevance(pos)
    rel_types = input_relevance(types) if types is not None else None
    total = rel + rel_pos + (rel_types if rel_types is not None else 0)
    lg = row.detach()
    probs = torch.softmax(lg, dim=-1)
    order = torch.argsort(lg, descending=True)[:5]
    out = {"method": method, "family": c.family, "ids": list(ids)}
    if c.kind != "cls":
        out["position"] = position
    out.update({
        "target": target,
        "target_logit": float(lg[target]),
        "start_value": float(start.detach()),
        "relevance": [float(v) for v in rel],
        "relevance_positions": [float(v) for v in rel_pos],
    })
    if rel_types is not None:
        out["relevance_token_types"] = [float(v) for v in rel_types]
    if c.family != "gpt2":
        out["relevance_cls"] = float(total[0])
    out["relevance_sum"] = float(total.sum())
    top = [{"id": int(i), "logit": float(lg[i]), "prob": float(probs[i])} for i in order]
    if c.kind == "cls" and c.labels:
        for e in top:
            e["token"] = c.labels[e["id"]]
        out["target_token"] = c.labels[target]
    out["top"] = top
    out["logits"] = [float(v) for v in lg]
    if layers:
        out["residual_relevance"] = [[float(v) for v in row_readout(h, method)] for h in outs]
    if latent_layer is not None:
        out["latent_layer"] = latent_layer
        out["latent_relevance"] = [float(v) for v in column_readout(inters[latent_layer], method)]
    return out


def ln_start_value_at(ck, ids, word, pos, types=None, token_types=None, attention_mask=None, target=None,
                      position=None, contrast=None, latent_start=None):
    """The start scalar as a plain function of given embedding outputs (for finite differences)."""
    token_types, real, position = ln_check_args(ck, ids, token_types, attention_mask, position,
                                                latent_start, None)
    with torch.no_grad():
        outs, inters, y = ln_forward(ck, word, pos, types, real, "gradxinput")
        start, _, _ = ln_start(ck, outs, inters, y, target, position, contrast, latent_start)
    return float(start)


# ----------------------------------------------------------------------------------------------
# Vision Transformer (ViTForImageClassification), from Hugging Face's modeling_vit.py: a patch
# convolution (stride = kernel = patch_size), the CLS token prepended, position embeddings over
# N + 1 slots (CLS first), pre-norm blocks (layernorm_before -> attention -> residual;
# layernorm_after -> intermediate.dense -> gelu -> output.dense -> residual), bidirectional attention
# scaled 1/sqrt(head_dim), the final vit.layernorm and the classifier on the CLS row.
# With --gamma CONV,LIN the LRP-gamma rule of SPEC section 5 replaces the exact backward of the patch
# convolution (CONV) and of intermediate.dense, output.dense and classifier (LIN).

VIT_FAMILIES = ("vit",)
STAB_EPS = 1e-6


def load_vit_config(raw, path):
    c = Config()
    c.raw = raw
    c.family = raw["model_type"]

    def need(key):
        if raw.get(key) is None:
            raise ReferenceError(f"{path}: field {key} is missing")
        return raw[key]

    arch = (raw.get("architectures") or ["ViTForImageClassification"])[0]
    if arch != "ViTForImageClassification":
        raise ReferenceError(f"{path}: architecture {arch!r} is not supported")
    c.hidden, c.layers = int(need("hidden_size")), int(need("num_hidden_layers"))
    c.heads, c.inter = int(need("num_attention_heads")), int(need("intermediate_size"))
    c.eps = float(raw.get("layer_norm_eps", 1e-12))
    c.act = raw.get("hidden_act", "gelu")
    size, patch = need("image_size"), need("patch_size")
    if isinstance(size, (list, tuple)) or isinstance(patch, (list, tuple)):
        raise ReferenceError(f"{path}: only square image_size / patch_size are supported")
    c.image, c.patch = int(size), int(patch)
    c.channels = int(raw.get("num_channels", 3))
    c.qkv_bias = bool(raw.get("qkv_bias", True))
    if c.image % c.patch:
        raise ReferenceError(f"{path}: image_size {c.image} is not a multiple of patch_size {c.patch}")
    c.grid = c.image // c.patch
    c.patches = c.grid * c.grid
    if c.hidden % c.heads:
        raise ReferenceError(f"{path}: hidden size not a multiple of the number of heads")
    c.head_dim = c.hidden // c.heads
    id2label = raw.get("id2label") or {}
    c.labels = [id2label.get(str(i), f"LABEL_{i}") for i in range(len(id2label))] if id2label else None
    c.num_labels = len(id2label) if id2label else int(raw.get("num_labels", 2))
    c.kind = "cls"
    _act(c.act)
    return c


class ViTCheckpoint:
    """Weights of ViTForImageClassification; Linear weights [out, in], the conv weight [d, C, p, p]."""

    def __init__(self, model_dir, c):
        self.dir = model_dir
        self.cfg = c
        arrays, _ = load_tensors(model_dir)
        t = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
        H, I, P, C = c.hidden, c.inter, c.patch, c.channels

        def get(name, shape):
            if name not in t:
                raise ReferenceError(f"{model_dir}: tensor {name} is missing")
            if tuple(t[name].shape) != tuple(shape):
                raise ReferenceError(f"{model_dir}: tensor {name} has shape {tuple(t[name].shape)}, "
                                     f"expected {tuple(shape)}")
            return t[name].to(torch.float64)

        def lin(name, o, i, bias=True):
            return get(name + ".weight", (o, i)), (get(name + ".bias", (o,)) if bias else torch.zeros(o))

        def ln(name, n):
            return get(name + ".weight", (n,)), get(name + ".bias", (n,))

        e = "vit.embeddings."
        self.cls = get(e + "cls_token", (1, 1, H)).reshape(H)
        self.pos = get(e + "position_embeddings", (1, c.patches + 1, H)).reshape(c.patches + 1, H)
        self.conv = (get(e + "patch_embeddings.projection.weight", (H, C, P, P)),
                     get(e + "patch_embeddings.projection.bias", (H,)))
        self.blocks = []
        for i in range(c.layers):
            p = f"vit.encoder.layer.{i}."
            b = {}
            for key, name in (("q", "query"), ("k", "key"), ("v", "value")):
                b[key] = lin(p + "attention.attention." + name, H, H, c.qkv_bias)
            b["o"] = lin(p + "attention.output.dense", H, H)
            b["ln1"], b["ln2"] = ln(p + "layernorm_before", H), ln(p + "layernorm_after", H)
            b["fc1"], b["fc2"] = lin(p + "intermediate.dense", I, H), lin(p + "output.dense", H, I)
            self.blocks.append(b)
        self.norm = ln("vit.layernorm", H)
        self.head = lin("classifier", c.num_labels, H)
        self.outputs = c.num_labels


def _sign1(t):
    """sign with sign(0) = +1."""
    return torch.where(t >= 0, torch.ones_like(t), -torch.ones_like(t))


def stabilize(z):
    """stab(z) = z + 1e-6 * sign(z), sign(0) = +1 (SPEC section 5)."""
    return z + STAB_EPS * _sign1(z)


def _op(kind, x, w, b, stride):
    if kind == "linear":
        y = x @ w.T
        return y if b is None else y + b
    return torch.nn.functional.conv2d(x, w, b, stride=stride)


def _op_vjp(kind, x_shape, w, c, stride):
    """W^T c: the vector-Jacobian product of the op with respect to its input."""
    if kind == "linear":
        return c @ w
    return torch.nn.grad.conv2d_input(x_shape, w, c, stride=stride)


def gamma_relevance(kind, x, w, b, gamma, R, y, stride=1):
    """R(x) of the generalised gamma rule (SPEC section 5) for y = op(x, W, b) with output relevance R."""
    xp, xn = x.clamp(min=0), x.clamp(max=0)
    wp, wn = w + gamma * w.clamp(min=0), w + gamma * w.clamp(max=0)
    bp = None if b is None else b + gamma * b.clamp(min=0)
    bn = None if b is None else b + gamma * b.clamp(max=0)
    zp = _op(kind, xp, wp, bp, stride) + _op(kind, xn, wn, None, stride)
    zn = _op(kind, xp, wn, bn, stride) + _op(kind, xn, wp, None, stride)
    cp = torch.where(y > 0, R, torch.zeros_like(R)) / stabilize(zp)
    cn = torch.where(y < 0, R, torch.zeros_like(R)) / stabilize(zn)
    s = x.shape
    return (xp * _op_vjp(kind, s, wp, cp, stride) + xn * _op_vjp(kind, s, wn, cp, stride)
            + xp * _op_vjp(kind, s, wn, cn, stride) + xn * _op_vjp(kind, s, wp, cn, stride))


class GammaRule(torch.autograd.Function):
    """y = op(x, W, b) forward; backward: g(x) = R(x) / (x + 1e-10 sign(x)) with R(x) from the gamma
    rule and R(y) = y * g(y). No gradient for W or b (they are constants of the explanation)."""

    @staticmethod
    def forward(ctx, x, w, b, kind, gamma, stride):
        y = _op(kind, x, w, b, stride)
        ctx.save_for_backward(x, w, b, y)
        ctx.kind, ctx.gamma, ctx.stride = kind, gamma, stride
        return y

    @staticmethod
    def backward(ctx, grad):
        x, w, b, y = ctx.saved_tensors
        rx = gamma_relevance(ctx.kind, x, w, b, ctx.gamma, y * grad, y, ctx.stride)
        return rx / (x + IDENTITY_EPS * _sign1(x)), None, None, None, None, None


def vit_linear(x, wb, gamma):
    if gamma is None:
        return linear(x, *wb)
    return GammaRule.apply(x, wb[0], wb[1], "linear", gamma, 1)


def vit_forward(ck, pixels, cls, pos, method, gamma=None):
    """pixels (C, H, W), cls (d,), pos (N+1, d): the three input leaves. gamma: None or (conv, lin).
    Returns (block outputs, MLP intermediates, class logits)."""
    c = ck.cfg
    rule = method in ("attnlrp", "cplrp")
    gc, gl = gamma if gamma is not None else (None, None)
    x = pixels[None]
    w, b = ck.conv
    if gc is None:
        emb = torch.nn.functional.conv2d(x, w, b, stride=c.patch)
    else:
        emb = GammaRule.apply(x, w, b, "conv", gc, c.patch)
    emb = emb[0].flatten(1).transpose(0, 1)                   # (N, d), patches row-major
    h = torch.cat((cls[None], emb), 0) + pos
    mask = torch.zeros(c.patches + 1, c.patches + 1, dtype=torch.bool)
    outs, inters = [], []
    for blk in ck.blocks:
        h = h + ln_attention(ck, blk, layernorm(h, *blk["ln1"], c.eps, rule), method, mask)
        z = activation(vit_linear(layernorm(h, *blk["ln2"], c.eps, rule), blk["fc1"], gl), c.act, method)
        h = h + vit_linear(z, blk["fc2"], gl)
        if h.requires_grad:
            z.retain_grad()
            h.retain_grad()
        outs.append(h)
        inters.append(z)
    y = layernorm(h, *ck.norm, c.eps, rule)[0]
    return outs, inters, vit_linear(y, ck.head, gl)


def load_pixels(path, c):
    """A .npy [C, H, W] float32/float64 array, taken as the model input as it is."""
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ReferenceError(f"--pixels: {path}: {e}")
    if arr.dtype not in (np.float32, np.float64):
        raise ReferenceError(f"--pixels: {path}: dtype {arr.dtype}, expected float32 or float64")
    want = (c.channels, c.image, c.image)
    if tuple(arr.shape) != want:
        raise ReferenceError(f"--pixels: {path}: shape {tuple(arr.shape)}, expected {want}")
    if not np.all(np.isfinite(arr)):
        raise ReferenceError(f"--pixels: {path}: non-finite values")
    return torch.from_numpy(arr.astype(np.float64))


def vit_check_args(ck, method, latent_start, latent_layer, gamma):
    c = ck.cfg
    if method not in METHODS:
        raise ReferenceError(f"--method: unknown method {method!r}")
    if gamma is not None:
        if method not in ("attnlrp", "cplrp"):
            raise ReferenceError(f"--gamma: only with --method attnlrp or cplrp, not {method}")
        if len(gamma) != 2 or any(not math.isfinite(g) or g < 0 for g in gamma):
            raise ReferenceError("--gamma: expected CONV,LIN, two finite values >= 0")
    if latent_layer is not None and not 0 <= latent_layer < c.layers:
        raise ReferenceError(f"--latent-layer: {latent_layer} out of range [0, {c.layers})")
    if latent_start is not None:
        L, P, N = latent_start
        if not (0 <= L < c.layers and 0 <= P <= c.patches and 0 <= N < c.inter):
            raise ReferenceError(f"--latent-start: {L},{P},{N} out of range")


def vit_start(ck, inters, logits, target, contrast, latent_start):
    if target is None:
        target = int(torch.argmax(logits.detach()))
    if not 0 <= target < ck.outputs:
        raise ReferenceError(f"--target-id: {target} out of range [0, {ck.outputs})")
    if latent_start is not None:
        L, P, N = latent_start
        return inters[L][P, N], target
    if contrast is not None:
        if not 0 <= contrast < ck.outputs:
            raise ReferenceError(f"--contrast: {contrast} out of range [0, {ck.outputs})")
        return logits[target] - logits[contrast], target
    return logits[target], target


def vit_explain(ck, pixels, method="attnlrp", target=None, contrast=None, latent_start=None,
                latent_layer=None, layers=False, gamma=None):
    """One ViT explanation as a dict with the JSON fields of SPEC section 8.

    relevance_pixels [H][W]: sum over channels of x * g at the pixel input of the patch convolution;
    relevance: per patch (row-major) the sum of its pixels' relevance_pixels; relevance_cls: sum_d of
    cls_token * g; relevance_positions: N + 1 values (CLS slot first), sum_d of pos * g;
    relevance_sum: sum(relevance) + relevance_cls + sum(relevance_positions).
    --method gradient: relevance_pixels is the L2 norm over channels of the pixel gradient, relevance
    the L2 norm of a patch's whole gradient (all its pixels and channels), relevance_cls the L2 norm of
    the CLS token's gradient, relevance_positions each slot's L2 norm; relevance_sum sums those norms
    (as relevance_sum sums the per-input norms for text)."""
    c = ck.cfg
    vit_check_args(ck, method, latent_start, latent_layer, gamma)
    x = pixels.clone().to(ck.cls.dtype).requires_grad_(True)
    cls = ck.cls.clone().requires_grad_(True)
    pos = ck.pos.clone().requires_grad_(True)
    outs, inters, logits = vit_forward(ck, x, cls, pos, method, gamma)
    start, target = vit_start(ck, inters, logits, target, contrast, latent_start)
    start.backward()
    gx = x.grad if x.grad is not None else torch.zeros_like(x)
    gc = cls.grad if cls.grad is not None else torch.zeros_like(cls)
    gp = pos.grad if pos.grad is not None else torch.zeros_like(pos)
    G, P = c.grid, c.patch
    if method == "gradient":
        rel_pix = gx.norm(dim=0)
        per_patch = (gx * gx).reshape(c.channels, G, P, G, P).sum((0, 2, 4)).sqrt().reshape(-1)
        rel_cls = gc.norm()
        rel_pos = gp.norm(dim=-1)
    else:
        rel_pix = (x.detach() * gx).sum(0)
        per_patch = rel_pix.reshape(G, P, G, P).sum((1, 3)).reshape(-1)
        rel_cls = (cls.detach() * gc).sum()
        rel_pos = (pos.detach() * gp).sum(-1)

    lg = logits.detach()
    probs = torch.softmax(lg, dim=-1)
    order = torch.argsort(lg, descending=True)[:5]
    out = {"method": method, "family": c.family}
    out.update({
        "target": target,
        "target_logit": float(lg[target]),
        "start_value": float(start.detach()),
        "relevance": [float(v) for v in per_patch],
        "relevance_pixels": [[float(v) for v in row] for row in rel_pix],
        "relevance_cls": float(rel_cls),
        "relevance_positions": [float(v) for v in rel_pos],
        "relevance_sum": float(per_patch.sum() + rel_cls + rel_pos.sum()),
    })
    top = [{"id": int(i), "logit": float(lg[i]), "prob": float(probs[i])} for i in order]
    if c.labels:
        for e in top:
            e["token"] = c.labels[e["id"]]
        out["target_token"] = c.labels[target]
    out["top"] = top
    out["logits"] = [float(v) for v in lg]
    if layers:
        out["residual_relevance"] = [[float(v) for v in row_readout(h, method)] for h in outs]
    if latent_layer is not None:
        out["latent_layer"] = latent_layer
        out["latent_relevance"] = [float(v) for v in column_readout(inters[latent_layer], method)]
    return out


def vit_start_value_at(ck, pixels, cls=None, pos=None, target=None, contrast=None, latent_start=None):
    """The start scalar as a plain function of the three inputs (for finite differences)."""
    cls = ck.cls if cls is None else cls
    pos = ck.pos if pos is None else pos
    with torch.no_grad():
        _, inters, logits = vit_forward(ck, pixels, cls, pos, "gradxinput")
        start, _ = vit_start(ck, inters, logits, target, contrast, latent_start)
    return float(start)


# ----------------------------------------------------------------------------------------------
# Gemma 2 and Gemma 3 text (Hugging Face's modeling_gemma2.py / modeling_gemma3.py): RMSNorm scales by
# (1 + w); the embeddings are multiplied by sqrt(hidden_size) rounded to the checkpoint's dtype (relevance
# is read after that); four norms per layer (input, post-attention, pre- and post-feedforward); GeGLU
# (gelu tanh); scores scaled by query_pre_attn_scalar^-1/2, then soft-capped (Gemma 2
# attn_logit_softcapping; Gemma 3's attention ignores the field) before the mask; sliding-window layers (layer_types, Gemma 2 every other
# layer, Gemma 3 sliding_window_pattern) see the last sliding_window keys; Gemma 3 normalises q and k
# per head and its sliding layers use rope_local_base_freq; final_logit_softcapping on the logits.
# Soft-capping takes the identity rule under attnlrp and cplrp (SPEC section 2).

GEMMA_FAMILIES = ("gemma2", "gemma3_text", "gemma3")
# Gemma3TextConfig's defaults, for the text_config of a multimodal gemma3 config (which omits most fields).
GEMMA3_TEXT_DEFAULTS = {"hidden_size": 2304, "num_hidden_layers": 26, "num_attention_heads": 8,
                        "num_key_value_heads": 4, "intermediate_size": 9216, "vocab_size": 262208,
                        "rope_theta": 1000000.0}


def _gemma_rope(raw, part, theta_default):
    c = Config()
    if part is not None:
        c.rope_type = part.get("rope_type", part.get("type", "default"))
        c.rope_theta = float(part.get("rope_theta", theta_default))
        c.rope = part
    else:
        c.rope_type, c.rope_theta, c.rope = _rope_params(raw)
    return c


def load_gemma_config(raw, path):
    c = Config()
    c.raw = raw
    c.family = raw["model_type"]
    if c.family == "gemma3":  # Gemma3ForConditionalGeneration: the text model's config is text_config
        if not isinstance(raw.get("text_config"), dict):
            raise ReferenceError(f"{path}: gemma3 without a text_config")
        dtype = raw.get("torch_dtype") or raw.get("dtype")
        raw = dict(GEMMA3_TEXT_DEFAULTS, **raw["text_config"])
        if dtype:
            raw.setdefault("torch_dtype", dtype)
    g3 = c.family in ("gemma3_text", "gemma3")
    if g3 and "rope_theta" not in raw and "rope_parameters" not in raw:
        raw = dict(raw, rope_theta=1000000.0)
    c.hidden = int(raw["hidden_size"])
    c.layers = int(raw["num_hidden_layers"])
    c.heads = int(raw["num_attention_heads"])
    c.kv_heads = int(raw.get("num_key_value_heads") or c.heads)
    c.head_dim = int(raw.get("head_dim") or 256)
    c.inter = int(raw["intermediate_size"])
    c.vocab = int(raw["vocab_size"])
    c.eps = float(raw.get("rms_norm_eps", 1e-6))
    c.act = raw.get("hidden_activation") or raw.get("hidden_act") or "gelu_pytorch_tanh"
    c.tied = bool(raw.get("tie_word_embeddings", True))
    c.scaling = float(raw.get("query_pre_attn_scalar", 256)) ** -0.5
    c.attn_cap = None if g3 else raw.get("attn_logit_softcapping")  # Gemma 3's attention ignores it
    c.final_cap = raw.get("final_logit_softcapping")
    c.window = int(raw.get("sliding_window") or 4096)
    c.dtype = raw.get("torch_dtype") or raw.get("dtype") or "float32"
    if raw.get("use_bidirectional_attention"):
        raise ReferenceError(f"{path}: use_bidirectional_attention is not supported")
    types = raw.get("layer_types")
    if types is None:
        pattern = int(raw.get("sliding_window_pattern", 6)) if g3 else 2
        types = ["sliding_attention" if (i + 1) % pattern else "full_attention" for i in range(c.layers)]
    c.sliding = [t == "sliding_attention" for t in types]
    params = raw.get("rope_parameters")
    if isinstance(params, dict) and isinstance(params.get("full_attention"), dict):
        c.rope_global = _gemma_rope(raw, params["full_attention"], 10000.0)
        c.rope_local = _gemma_rope(raw, params["sliding_attention"], 10000.0)
    else:
        c.rope_global = _gemma_rope(raw, None, 10000.0)
        if g3:  # the local rotary embedding: rope_local_base_freq, default type
            c.rope_local = _gemma_rope(raw, {"rope_type": "default",
                                             "rope_theta": raw.get("rope_local_base_freq", 10000.0)}, 10000.0)
        else:
            c.rope_local = c.rope_global
    for r in (c.rope_global, c.rope_local):
        r.head_dim = c.head_dim
    c.qk_norm = g3
    if c.heads % c.kv_heads:
        raise ReferenceError(f"{path}: num_attention_heads not a multiple of num_key_value_heads")
    return c


class GemmaCheckpoint:
    def __init__(self, model_dir, cfg):
        self.dir = model_dir
        self.cfg = c = cfg
        arrays, _ = load_tensors(model_dir)
        t = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}

        def get(name, shape):
            if name not in t:
                raise ReferenceError(f"{model_dir}: tensor {name} is missing")
            if tuple(t[name].shape) != tuple(shape):
                raise ReferenceError(f"{model_dir}: tensor {name} has shape {tuple(t[name].shape)}")
            return t[name]

        H, D, KV, I = c.hidden, c.head_dim, c.kv_heads, c.inter
        # The text model's prefix: Gemma*ForCausalLM, or a multimodal Gemma 3 (old and new layouts).
        body, headp = next(((b, hp) for b, hp in (("model.", ""), ("language_model.model.", "language_model."),
                                                   ("model.language_model.", ""))
                            if b + "embed_tokens.weight" in t), ("model.", ""))
        self.embed = get(body + "embed_tokens.weight", (c.vocab, H))
        self.head = self.embed if c.tied else get(headp + "lm_head.weight", (c.vocab, H))
        self.norm = get(body + "norm.weight", (H,))
        # HF: torch.tensor(hidden_size**0.5, dtype=<the embedding dtype>)
        tdt = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(c.dtype, torch.float32)
        self.normalizer = float(torch.tensor(H ** 0.5, dtype=tdt))
        self.blocks = []
        for i in range(c.layers):
            p = f"{body}layers.{i}."
            b = {n: get(p + f + ".weight", (H,)) for n, f in
                 (("ln1", "input_layernorm"), ("post_attn", "post_attention_layernorm"),
                  ("pre_ffw", "pre_feedforward_layernorm"), ("post_ffw", "post_feedforward_layernorm"))}
            b.update({"wq": get(p + "self_attn.q_proj.weight", (c.heads * D, H)),
                      "wk": get(p + "self_attn.k_proj.weight", (KV * D, H)),
                      "wv": get(p + "self_attn.v_proj.weight", (KV * D, H)),
                      "wo": get(p + "self_attn.o_proj.weight", (H, c.heads * D)),
                      "wg": get(p + "mlp.gate_proj.weight", (I, H)),
                      "wu": get(p + "mlp.up_proj.weight", (I, H)),
                      "wd": get(p + "mlp.down_proj.weight", (H, I))})
            if c.qk_norm:
                b["qn"] = get(p + "self_attn.q_norm.weight", (D,))
                b["kn"] = get(p + "self_attn.k_norm.weight", (D,))
            self.blocks.append(b)
        self.inv_global = rope_inv_freq(c.rope_global)
        self.inv_local = rope_inv_freq(c.rope_local)


def gemma_rmsnorm(x, w, eps, detach_norm):
    r = torch.rsqrt((x * x).mean(-1, keepdim=True) + eps)
    if detach_norm:
        r = r.detach()
    return (x * r) * (1.0 + w)


def softcap(x, cap, method):
    fn = lambda t: cap * torch.tanh(t / cap)  # noqa: E731
    return IdentityRule.apply(x, fn) if method in ("attnlrp", "cplrp") else fn(x)


def gemma_attention(ck, b, x, method, cos, sin, mask):
    c = ck.cfg
    T, D = x.shape[0], c.head_dim
    rule = method in ("attnlrp", "cplrp")
    q = linear(x, b["wq"], None).view(T, c.heads, D).transpose(0, 1)
    k = linear(x, b["wk"], None).view(T, c.kv_heads, D).transpose(0, 1)
    v = linear(x, b["wv"], None).view(T, c.kv_heads, D).transpose(0, 1)
    if c.qk_norm:
        q = gemma_rmsnorm(q, b["qn"], c.eps, rule)
        k = gemma_rmsnorm(k, b["kn"], c.eps, rule)
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    if method == "attnlrp":
        q, k, v = scale_grad(q, 0.25), scale_grad(k, 0.25), scale_grad(v, 0.5)
    elif method == "cplrp":
        q, k = q.detach(), k.detach()
    group = c.heads // c.kv_heads
    k = k.repeat_interleave(group, dim=0)
    v = v.repeat_interleave(group, dim=0)
    scores = (q @ k.transpose(1, 2)) * c.scaling
    if c.attn_cap:
        scores = softcap(scores, float(c.attn_cap), method)
    scores = scores.masked_fill(mask, float("-inf"))
    p = torch.softmax(scores, dim=-1)
    o = (p @ v).transpose(0, 1).reshape(T, c.heads * D)
    return linear(o, b["wo"], None)


def gemma_forward(ck, ids, method):
    c = ck.cfg
    T = len(ids)
    rule = method in ("attnlrp", "cplrp")
    e = (ck.embed[torch.tensor(ids, dtype=torch.long)] * ck.normalizer).detach().clone().requires_grad_(True)
    pos = torch.arange(T, dtype=torch.float64)
    tables = {}
    for kind, inv in (("global", ck.inv_global), ("local", ck.inv_local)):
        ang = torch.outer(pos, inv)
        ang = torch.cat((ang, ang), dim=-1)
        tables[kind] = (torch.cos(ang), torch.sin(ang))
    qi = torch.arange(T).view(T, 1)
    ki = torch.arange(T).view(1, T)
    causal = ki > qi
    window = causal | (qi - ki >= c.window)
    fn = _act(c.act)
    h = e
    outs, inters = [], []
    for b, sliding in zip(ck.blocks, c.sliding):
        cos, sin = tables["local" if sliding else "global"]
        a = gemma_attention(ck, b, gemma_rmsnorm(h, b["ln1"], c.eps, rule), method, cos, sin,
                            window if sliding else causal)
        h = h + gemma_rmsnorm(a, b["post_attn"], c.eps, rule)
        x = gemma_rmsnorm(h, b["pre_ffw"], c.eps, rule)
        g = linear(x, b["wg"], None)
        u = linear(x, b["wu"], None)
        if method == "attnlrp":
            z = scale_grad(IdentityRule.apply(g, fn) * u, 0.5)
        elif method == "cplrp":
            z = fn(g.detach()) * u
        else:
            z = fn(g) * u
        h = h + gemma_rmsnorm(linear(z, b["wd"], None), b["post_ffw"], c.eps, rule)
        if h.requires_grad:
            z.retain_grad()
            h.retain_grad()
        outs.append(h)
        inters.append(z)
    logits = gemma_rmsnorm(h, ck.norm, c.eps, rule) @ ck.head.T
    if c.final_cap:
        logits = softcap(logits, float(c.final_cap), method)
    return e, outs, inters, logits


# ----------------------------------------------------------------------------------------------
# T5 encoder-decoders (T5ForConditionalGeneration; transformers' modeling_t5.py / configuration_t5.py):
# RMS layer norms without mean or bias; attention scores q.k with no 1/sqrt(d_kv); a relative position
# bias from block 0's relative_attention_bias of each stack, reused by every block of that stack
# (bidirectional buckets in the encoder, causal in the decoder, none in the cross-attention);
# feed_forward_proj "relu" (wo(relu(wi x))) or "gated-ACT" (wo(ACT(wi_0 x) * wi_1 x), gated-gelu = gelu_new);
# tie_word_embeddings (default true): lm_head = shared and the decoder output is scaled by d_model^-1/2.
# Relevance: `relevance` at the encoder's word embeddings, `decoder_relevance` at the decoder's (start
# token included), both rows of the shared matrix; layers numbered encoder first, then decoder.

T5_FAMILIES = ("t5", "mt5")


def load_t5_config(raw, path):
    c = Config()
    c.raw = raw
    c.family = raw["model_type"]

    def need(key):
        if raw.get(key) is None:
            raise ReferenceError(f"{path}: field {key} is missing")
        return raw[key]

    c.hidden, c.head_dim, c.heads = int(need("d_model")), int(need("d_kv")), int(need("num_heads"))
    c.enc_layers = int(need("num_layers"))
    c.dec_layers = int(raw.get("num_decoder_layers") or c.enc_layers)
    c.layers = c.enc_layers + c.dec_layers
    c.inter, c.vocab = int(need("d_ff")), int(need("vocab_size"))
    c.buckets = int(raw.get("relative_attention_num_buckets", 32))
    c.max_distance = int(raw.get("relative_attention_max_distance", 128))
    c.eps = float(raw.get("layer_norm_epsilon", 1e-6))
    proj = raw.get("feed_forward_proj", "relu")
    c.gated = proj.startswith("gated-")
    c.act = proj.split("-")[-1]
    if c.gated and c.act == "gelu":
        c.act = "gelu_new"
    c.tied = bool(raw.get("tie_word_embeddings", True))
    c.start = int(need("decoder_start_token_id"))
    return c


class T5Checkpoint:
    def __init__(self, model_dir, cfg):
        self.dir = model_dir
        self.cfg = c = cfg
        arrays, _ = load_tensors(model_dir)
        t = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}

        def get(name, shape):
            if name not in t:
                raise ReferenceError(f"{model_dir}: tensor {name} is missing")
            if tuple(t[name].shape) != tuple(shape):
                raise ReferenceError(f"{model_dir}: tensor {name} has shape {tuple(t[name].shape)}")
            return t[name]

        d, inner, ff = c.hidden, c.heads * c.head_dim, c.inter
        self.embed = get("shared.weight", (c.vocab, d))
        self.head = self.embed if c.tied else get("lm_head.weight", (c.vocab, d))

        def attn(p, kind):
            return {"ln": get(p + ".layer_norm.weight", (d,)),
                    "wq": get(f"{p}.{kind}.q.weight", (inner, d)), "wk": get(f"{p}.{kind}.k.weight", (inner, d)),
                    "wv": get(f"{p}.{kind}.v.weight", (inner, d)), "wo": get(f"{p}.{kind}.o.weight", (d, inner))}

        def dense(p):
            b = {"ln": get(p + ".layer_norm.weight", (d,)), "wo": get(p + ".DenseReluDense.wo.weight", (d, ff))}
            if c.gated:
                b["wi0"] = get(p + ".DenseReluDense.wi_0.weight", (ff, d))
                b["wi1"] = get(p + ".DenseReluDense.wi_1.weight", (ff, d))
            else:
                b["wi"] = get(p + ".DenseReluDense.wi.weight", (ff, d))
            return b

        self.enc = [{"self": attn(f"encoder.block.{i}.layer.0", "SelfAttention"),
                     "ff": dense(f"encoder.block.{i}.layer.1")} for i in range(c.enc_layers)]
        self.dec = [{"self": attn(f"decoder.block.{i}.layer.0", "SelfAttention"),
                     "cross": attn(f"decoder.block.{i}.layer.1", "EncDecAttention"),
                     "ff": dense(f"decoder.block.{i}.layer.2")} for i in range(c.dec_layers)]
        rel = "{}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"
        self.enc_rel = get(rel.format("encoder"), (c.buckets, c.heads))
        self.dec_rel = get(rel.format("decoder"), (c.buckets, c.heads))
        self.enc_norm = get("encoder.final_layer_norm.weight", (d,))
        self.dec_norm = get("decoder.final_layer_norm.weight", (d,))


def t5_bucket(rel, bidirectional, num_buckets, max_distance):
    """_relative_position_bucket of modeling_t5.py on a LongTensor of key - query positions."""
    out = torch.zeros_like(rel)
    if bidirectional:
        num_buckets //= 2
        out = out + (rel > 0).long() * num_buckets
        rel = rel.abs()
    else:
        rel = -torch.min(rel, torch.zeros_like(rel))
    max_exact = num_buckets // 2
    small = rel < max_exact
    large = max_exact + (torch.log(rel.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return out + torch.where(small, rel, large)


def t5_position_bias(ck, table, Tq, Tk, bidirectional):
    q = torch.arange(Tq, dtype=torch.long)[:, None]
    k = torch.arange(Tk, dtype=torch.long)[None, :]
    b = t5_bucket(k - q, bidirectional, ck.cfg.buckets, ck.cfg.max_distance)
    return table[b].permute(2, 0, 1).detach()  # (H, Tq, Tk), a constant


def t5_attention(ck, b, xq, xkv, method, bias, mask):
    c = ck.cfg
    Tq, Tk, D = xq.shape[0], xkv.shape[0], c.head_dim
    q = (xq @ b["wq"].T).view(Tq, c.heads, D).transpose(0, 1)
    k = (xkv @ b["wk"].T).view(Tk, c.heads, D).transpose(0, 1)
    v = (xkv @ b["wv"].T).view(Tk, c.heads, D).transpose(0, 1)
    if method == "attnlrp":
        q, k, v = scale_grad(q, 0.25), scale_grad(k, 0.25), scale_grad(v, 0.5)
    elif method == "cplrp":
        q, k = q.detach(), k.detach()
    scores = q @ k.transpose(1, 2)  # no 1/sqrt(d_kv)
    if bias is not None:
        scores = scores + bias
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    p = torch.softmax(scores, dim=-1)
    return (p @ v).transpose(0, 1).reshape(Tq, c.heads * D) @ b["wo"].T


def t5_dense(ck, b, x, method):
    c = ck.cfg
    fn = _act(c.act)
    rule = method in ("attnlrp", "cplrp")
    if c.gated:
        a, u = x @ b["wi0"].T, x @ b["wi1"].T
        if method == "attnlrp":
            z = scale_grad(IdentityRule.apply(a, fn) * u, 0.5)
        elif method == "cplrp":
            z = fn(a.detach()) * u
        else:
            z = fn(a) * u
    else:
        a = x @ b["wi"].T
        z = IdentityRule.apply(a, fn) if rule else fn(a)
    return z @ b["wo"].T, z


def t5_forward(ck, ids, dec_ids, method, enc_emb=None, dec_emb=None):
    """Returns (encoder embeddings leaf, decoder embeddings leaf, block outputs (encoder, then decoder),
    intermediates (same order), logits at every decoder position)."""
    c = ck.cfg
    rule = method in ("attnlrp", "cplrp")
    Te, Td = len(ids), len(dec_ids)
    if enc_emb is None:
        enc_emb = ck.embed[torch.tensor(ids, dtype=torch.long)].clone().requires_grad_(True)
    if dec_emb is None:
        dec_emb = ck.embed[torch.tensor(dec_ids, dtype=torch.long)].clone().requires_grad_(True)
    enc_bias = t5_position_bias(ck, ck.enc_rel, Te, Te, True)
    dec_bias = t5_position_bias(ck, ck.dec_rel, Td, Td, False)
    causal = torch.arange(Td)[None, :] > torch.arange(Td)[:, None]
    outs, inters = [], []

    def keep(h, z):
        if h.requires_grad:
            h.retain_grad()
            z.retain_grad()
        outs.append(h)
        inters.append(z)

    h = enc_emb
    for b in ck.enc:
        h = h + t5_attention(ck, b["self"], rmsnorm(h, b["self"]["ln"], c.eps, rule),
                             rmsnorm(h, b["self"]["ln"], c.eps, rule), method, enc_bias, None)
        m, z = t5_dense(ck, b["ff"], rmsnorm(h, b["ff"]["ln"], c.eps, rule), method)
        h = h + m
        keep(h, z)
    memory = rmsnorm(h, ck.enc_norm, c.eps, rule)
    y = dec_emb
    for b in ck.dec:
        n = rmsnorm(y, b["self"]["ln"], c.eps, rule)
        y = y + t5_attention(ck, b["self"], n, n, method, dec_bias, causal)
        y = y + t5_attention(ck, b["cross"], rmsnorm(y, b["cross"]["ln"], c.eps, rule), memory, method, None, None)
        m, z = t5_dense(ck, b["ff"], rmsnorm(y, b["ff"]["ln"], c.eps, rule), method)
        y = y + m
        keep(y, z)
    y = rmsnorm(y, ck.dec_norm, c.eps, rule)
    if c.tied:
        y = y * c.hidden ** -0.5
    return enc_emb, dec_emb, outs, inters, y @ ck.head.T


def t5_explain(ck, ids, dec_ids=None, method="attnlrp", target=None, position=None, contrast=None,
               latent_start=None, latent_layer=None, layers=False):
    """One explanation of the decoder's next token; dec_ids is the decoder's input (start token first;
    None: the start token alone)."""
    c = ck.cfg
    if method not in METHODS:
        raise ReferenceError(f"--method: unknown method {method!r}")
    dec_ids = [c.start] if dec_ids is None else list(dec_ids)
    for name, seq in (("--ids", ids), ("--decoder-ids", dec_ids)):
        if not seq or any(not 0 <= i < c.vocab for i in seq):
            raise ReferenceError(f"{name}: empty or out of range")
    Te, Td = len(ids), len(dec_ids)
    position = Td - 1 if position is None else position
    if not 0 <= position < Td:
        raise ReferenceError(f"--position: {position} out of range [0, {Td})")
    ee, de, outs, inters, logits = t5_forward(ck, ids, dec_ids, method)
    row = logits[position]
    if target is None:
        target = int(torch.argmax(row.detach()))
    if latent_start is not None:
        L, P, N = latent_start
        rows = Te if L < c.enc_layers else Td
        if not (0 <= L < c.layers and 0 <= P < rows and 0 <= N < c.inter):
            raise ReferenceError(f"--latent-start: {L},{P},{N} out of range")
        y = inters[L][P, N]
    elif contrast is not None:
        y = row[target] - row[contrast]
    else:
        y = row[target]
    y.backward()

    def per_token(e):
        if e.grad is None:
            return torch.zeros(e.shape[0])
        return e.grad.norm(dim=-1) if method == "gradient" else (e.detach() * e.grad).sum(-1)

    def readout(t):
        return torch.zeros_like(t.detach()) if t.grad is None else t.detach() * t.grad

    rel, drel = per_token(ee), per_token(de)
    lg = row.detach()
    probs = torch.softmax(lg, dim=-1)
    order = torch.argsort(lg, descending=True)[:5]
    out = {
        "method": method, "family": c.family, "ids": list(ids), "decoder_ids": dec_ids, "position": position,
        "target": target, "target_logit": float(lg[target]), "start_value": float(y.detach()),
        "relevance": [float(v) for v in rel], "decoder_relevance": [float(v) for v in drel],
        "relevance_sum": float(rel.sum() + drel.sum()),
        "top": [{"id": int(i), "logit": float(lg[i]), "prob": float(probs[i])} for i in order],
        "logits": [float(v) for v in lg],
    }
    if layers:
        res = [[float(v) for v in row_readout(h, method)] for h in outs]
        out["encoder_residual_relevance"] = res[:c.enc_layers]
        out["decoder_residual_relevance"] = res[c.enc_layers:]
    if latent_layer is not None:
        if not 0 <= latent_layer < c.layers:
            raise ReferenceError(f"--latent-layer: {latent_layer} out of range [0, {c.layers})")
        out["latent_layer"] = latent_layer
        out["latent_relevance"] = [float(v) for v in column_readout(inters[latent_layer], method)]
    return out


def t5_start_value_at(ck, ids, dec_ids, enc_emb, dec_emb, target, position=None, contrast=None):
    """The start scalar as a plain function of given encoder and decoder word embeddings."""
    with torch.no_grad():
        *_, logits = t5_forward(ck, ids, dec_ids, "gradxinput", enc_emb, dec_emb)
    row = logits[len(dec_ids) - 1 if position is None else position]
    return float(row[target] - (row[contrast] if contrast is not None else 0.0))


def _triple(s):
    parts = [int(v) for v in s.split(",")]
    if len(parts) != 3:
        raise argparse.ArgumentTypeError("expected L,P,N")
    return tuple(parts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ints = lambda s: [int(v) for v in s.split(",") if v != ""]  # noqa: E731
    ap.add_argument("--ids", type=ints, help="token ids (text models)")
    ap.add_argument("--pixels", help="ViT: .npy [C,H,W] float32/float64, already normalised")
    ap.add_argument("--gamma", help="ViT: CONV,LIN, the LRP-gamma rule of SPEC section 5 (attnlrp/cplrp)")
    ap.add_argument("--decoder-ids", type=ints, help="T5: the decoder's input, start token first")
    ap.add_argument("--token-type-ids", type=ints)
    ap.add_argument("--attention-mask", type=ints, help="1 = real token, 0 = padding (masked as a key)")
    ap.add_argument("--method", default="attnlrp", choices=METHODS)
    ap.add_argument("--target-id", type=int)
    ap.add_argument("--position", type=int)
    ap.add_argument("--contrast", type=int)
    ap.add_argument("--latent-start", type=_triple)
    ap.add_argument("--latent-layer", type=int)
    ap.add_argument("--latent-expert", type=int, help="MoE: the expert whose intermediate is the latent neuron")
    ap.add_argument("--layers", action="store_true")
    ap.add_argument("--all-logits", action="store_true", help="accepted; logits are always printed")
    a = ap.parse_args(argv)
    torch.set_default_dtype(torch.float64)
    try:
        ck = open_checkpoint(a.model)
        if isinstance(ck, ViTCheckpoint):
            if a.ids is not None or a.pixels is None:
                raise ReferenceError("--pixels: a ViT reads an image (--pixels FILE.npy), not --ids")
            if a.position is not None or a.token_type_ids or a.attention_mask:
                raise ReferenceError("--position/--token-type-ids/--attention-mask: not for a ViT")
            gamma = None
            if a.gamma is not None:
                try:
                    gamma = tuple(float(v) for v in a.gamma.split(","))
                except ValueError:
                    raise ReferenceError(f"--gamma: {a.gamma!r} is not CONV,LIN")
                if len(gamma) != 2:
                    raise ReferenceError(f"--gamma: {a.gamma!r} is not CONV,LIN")
            out = vit_explain(ck, load_pixels(a.pixels, ck.cfg), a.method, a.target_id, a.contrast,
                              a.latent_start, a.latent_layer, a.layers, gamma)
        elif isinstance(ck, T5Checkpoint):
            out = t5_explain(ck, a.ids, a.decoder_ids, a.method, a.target_id, a.position, a.contrast,
                             a.latent_start, a.latent_layer, a.layers)
        else:
            if a.ids is None:
                raise ReferenceError("--ids: required for a text model")
            if a.pixels is not None or a.gamma is not None:
                raise ReferenceError("--pixels/--gamma: only for a ViT")
            out = explain(ck, a.ids, a.method, a.target_id, a.position, a.contrast, a.latent_start,
                          a.latent_layer, a.layers, a.token_type_ids, a.attention_mask, a.latent_expert)
    except (ReferenceError, OSError, KeyError, ValueError) as err:
        print(f"reference: {err}", file=sys.stderr)
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
