#!/usr/bin/python3
"""The PyTorch twin of bench_explain: the same AttnLRP explanation of a LLaMA-family, GPT-2 or BERT
(sequence classifier) checkpoint in float32, timed the same way (median of N repetitions after a warm-up),
plus the plain forward pass.

    torch_explain.py [--model DIR] [--T 128,512] [--reps N] [--warmup N] [--threads N] [--json]
                     [--method attnlrp|gradxinput] [--dump-relevance T]

The rules are those of SPEC §2 (as in LXT's efficient implementation): identity rule on SiLU, ½ on the
SwiGLU product, RMSNorm normaliser detached, Q and K gradients ×¼ and V ×½ after RoPE, softmax exact.
Relevance is gradient × input at the word embeddings. As in the engine, the LM head is applied to the
explained (last) position only, no weight gradients are computed, and the target is the argmax logit.
Token ids are the same xorshift sequence bench_explain uses, so the two runs explain the same prediction.

GPT-2 and BERT (model_type gpt2 / bert, read from config.json here): LayerNorm with its standard deviation
detached (mean kept), identity rule on GELU (gelu_new for GPT-2) and on the pooler's tanh, Q and K
gradients ×¼ and V ×½, softmax exact, biases as they are. GPT-2 applies ln_f and the tied head to the last
position only; the BERT classifier reads token 0 through the pooler and the classifier, all token types 0,
positions 0..T-1, no padding. Relevance is gradient × input at the word, position and token-type
embedding outputs (separate leaves): `relevance` is the word one, `relevance_sum` sums all of them (as
the engine's fields of the same names).
ViT (model_type vit, ViTForImageClassification): one image of random normal pixels (bench_pixels, the
numbers bench_explain.c draws), conv patch embedding, CLS token and learned positions, pre-LayerNorm blocks
with σ detached, identity rule on GELU, Q/K ×¼ and V ×½ (attnlrp) or Q and K detached (cplrp), the final
LayerNorm and the classifier on the CLS row only. --gamma CONV,LIN applies the LRP-γ rule of SPEC §5 to
the patch convolution and to intermediate.dense, output.dense and classifier (the GammaRule autograd
Function of tests/reference/reference.py, in float32). Inputs are pixels, cls_token and
position_embeddings (three leaves): `relevance` is per patch (Σ of x ⊙ g over its channels and pixels),
`relevance_sum` sums all three; --T is ignored (T = 197 at 224/16).
Gemma 2 / Gemma 3 text (model_type gemma2, gemma3_text): (1 + w) RMSNorms with the normaliser detached,
GeGLU with the identity rule on gelu_tanh and ½ on the product, q/k norms (Gemma 3), Q and K gradients ×¼
and V ×½ after RoPE, softmax exact, sliding-window layers and their local RoPE base as the config says,
soft-capping (if any) with the identity rule; the relevance is gradient × input at the scaled embedding
(embed · sqrt(hidden)), the final norm and the tied head are applied to the last position only.
T5 encoder-decoders (model_type t5 / mt5, T5ForConditionalGeneration; the conventions of transformers'
modeling_t5.py): T5LayerNorm (RMS, no mean, no bias) with the normaliser detached, attention scores q·kᵀ with
no 1/sqrt(d_kv), the relative position bias of block 0 of each stack (bidirectional buckets in the encoder,
causal in the decoder; none in the cross-attention) added to every layer's scores as a constant, Q/K
gradients ×¼ and V ×½ in all three attentions (cross-attention: queries from the decoder, keys and values
from the encoder's final-normed output), identity rule on the activation and ½ on the gated product
(gated-gelu = gelu_new), the decoder's final norm and lm_head at the last decoder position only (a tied head
scales by d_model^-½ first). --T is the source length; the decoder reads --dec tokens (default 16):
decoder_start_token_id, then the next ids of the same xorshift sequence after the T source ids (as
bench_explain does). Relevance = gradient × input at the encoder's word embeddings (`relevance`) and the
decoder's (`decoder_relevance`, start token first); `relevance_sum` sums both. --generate N times greedy
generation of N tokens from a --T-token source with an HF-style KV cache (the encoder and each layer's
cross-attention keys/values once, the decoder's self-attention keys/values appended per step), in the
format of bench_generate's JSON.
Config parsing and RoPE frequencies come from tests/reference/reference.py (the float64 reference);
weights are memory-mapped float32 (BF16/F16 files are widened once at load).
"""
import argparse
import json
import math
import os
import statistics
import struct
import sys
import time
import warnings

sys.dont_write_bytecode = True
import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
import reference as ref  # noqa: E402

IDENTITY_EPS = 1e-10


def bench_pixels(n):
    """bench_explain.c's make_pixels: xorshift32 from the same seed, Box-Muller pairs in double, float32."""
    s, u = 2463534242, []
    for _ in range(n + (n & 1)):
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        u.append(s >> 8)
    u = np.array(u, dtype=np.float64).reshape(-1, 2)
    rad = np.sqrt(-2.0 * np.log((u[:, 0] + 1.0) / 16777217.0))
    ang = 6.283185307179586 * (u[:, 1] / 16777216.0)
    return np.stack((rad * np.cos(ang), rad * np.sin(ang)), 1).reshape(-1)[:n].astype(np.float32)


def bench_ids(T, vocab):
    """The xorshift32 sequence of bench_explain.c's make_ids."""
    s, ids = 2463534242, []
    for _ in range(T):
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        ids.append(3 + s % (vocab - 3) if vocab > 8 else s % vocab)
    return ids


# ----------------------------------------------------------------------------------------------
# Weights: memory-mapped safetensors, float32.

def load_weights(model_dir):
    path = os.path.join(model_dir, "model.safetensors")
    with open(path, "rb") as f:
        (hlen,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(hlen))
    header.pop("__metadata__", None)
    mm = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + hlen)
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        raw = mm[b:e]
        if info["dtype"] == "F32":
            arr = raw.view("<f4")
        elif info["dtype"] == "BF16":
            arr = (raw.view("<u2").astype(np.uint32) << 16).view("<f4")
        elif info["dtype"] == "F16":
            arr = raw.view("<f2").astype(np.float32)
        else:
            raise ref.ReferenceError(f"{name}: dtype {info['dtype']} not supported here")
        with warnings.catch_warnings():  # torch warns about read-only arrays; these are only ever read
            warnings.simplefilter("ignore")
            out[name] = torch.from_numpy(arr.reshape(info["shape"]))
    return out


def open_model(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        raw = json.load(f)
    if raw.get("model_type") in ("gpt2", "bert"):
        return LNModel(model_dir, raw)
    if raw.get("model_type") == "vit":
        return ViTModel(model_dir, raw)
    if raw.get("model_type") in ref.GEMMA_FAMILIES:
        return GemmaModel(model_dir, raw)
    if raw.get("model_type") in ref.T5_FAMILIES:
        return T5Model(model_dir, raw)
    return Model(model_dir)


class Model:
    def __init__(self, model_dir):
        self.cfg = c = ref.load_config(model_dir)
        if c.family != "llama" or c.qkv_bias or c.mlp_bias or c.o_bias or c.act != "silu":
            raise ref.ReferenceError("the benchmark twin covers bias-free SiLU LLaMA checkpoints only")
        w = load_weights(model_dir)
        self.embed = w["model.embed_tokens.weight"]
        self.head = self.embed if c.tied else w["lm_head.weight"]
        self.norm = w["model.norm.weight"]
        self.blocks = []
        for i in range(c.layers):
            p = f"model.layers.{i}."
            self.blocks.append({k: w[p + n] for k, n in (
                ("ln1", "input_layernorm.weight"), ("ln2", "post_attention_layernorm.weight"),
                ("wq", "self_attn.q_proj.weight"), ("wk", "self_attn.k_proj.weight"),
                ("wv", "self_attn.v_proj.weight"), ("wo", "self_attn.o_proj.weight"),
                ("wg", "mlp.gate_proj.weight"), ("wu", "mlp.up_proj.weight"), ("wd", "mlp.down_proj.weight"))})
        self.inv_freq = ref.rope_inv_freq(c).to(torch.float32)


class GemmaModel:
    """Gemma 2 / Gemma 3 text (Gemma*ForCausalLM layout, model.* prefix), config from the reference's
    load_gemma_config."""

    def __init__(self, model_dir, raw):
        self.cfg = c = ref.load_gemma_config(raw, os.path.join(model_dir, "config.json"))
        if c.act not in ("gelu_pytorch_tanh", "gelu_new", "gelu_fast"):
            raise ref.ReferenceError("the benchmark twin covers gelu_pytorch_tanh Gemma checkpoints only")
        w = load_weights(model_dir)
        self.embed = w["model.embed_tokens.weight"]
        self.head = self.embed if c.tied else w["lm_head.weight"]
        self.norm = w["model.norm.weight"]
        tdt = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(c.dtype, torch.float32)
        self.normalizer = float(torch.tensor(c.hidden ** 0.5, dtype=tdt))
        names = (("ln1", "input_layernorm"), ("post_attn", "post_attention_layernorm"),
                 ("pre_ffw", "pre_feedforward_layernorm"), ("post_ffw", "post_feedforward_layernorm"),
                 ("wq", "self_attn.q_proj"), ("wk", "self_attn.k_proj"), ("wv", "self_attn.v_proj"),
                 ("wo", "self_attn.o_proj"), ("wg", "mlp.gate_proj"), ("wu", "mlp.up_proj"),
                 ("wd", "mlp.down_proj"))
        if c.qk_norm:
            names += (("qn", "self_attn.q_norm"), ("kn", "self_attn.k_norm"))
        self.blocks = [{k: w[f"model.layers.{i}.{n}.weight"] for k, n in names} for i in range(c.layers)]
        self.inv_global = ref.rope_inv_freq(c.rope_global).to(torch.float32)
        self.inv_local = ref.rope_inv_freq(c.rope_local).to(torch.float32)


class LNModel:
    """GPT-2 (GPT2LMHeadModel) or BERT (BertForSequenceClassification) in Hugging Face layout; Linear weights
    kept as stored (GPT-2's Conv1D [in, out], BERT's Linear [out, in])."""

    def __init__(self, model_dir, raw):
        self.family = f = raw["model_type"]
        w = load_weights(model_dir)

        class C:
            pass
        self.cfg = c = C()
        c.family = f
        if f == "gpt2":
            c.hidden, c.layers, c.heads = raw["n_embd"], raw["n_layer"], raw["n_head"]
            c.eps = float(raw.get("layer_norm_epsilon", 1e-5))
            c.act = raw.get("activation_function", "gelu_new")
            pre = "transformer." if "transformer.wte.weight" in w else ""
            self.embed, self.pos, self.types = w[pre + "wte.weight"], w[pre + "wpe.weight"], None
            self.emb_ln = None
            self.blocks = []
            for i in range(c.layers):
                p = f"{pre}h.{i}."
                self.blocks.append({k: w[p + n] for k, n in (
                    ("ln1w", "ln_1.weight"), ("ln1b", "ln_1.bias"), ("ln2w", "ln_2.weight"), ("ln2b", "ln_2.bias"),
                    ("wqkv", "attn.c_attn.weight"), ("bqkv", "attn.c_attn.bias"),
                    ("wo", "attn.c_proj.weight"), ("bo", "attn.c_proj.bias"),
                    ("w1", "mlp.c_fc.weight"), ("b1", "mlp.c_fc.bias"),
                    ("w2", "mlp.c_proj.weight"), ("b2", "mlp.c_proj.bias"))})
            self.lnf = (w[pre + "ln_f.weight"], w[pre + "ln_f.bias"])
            self.head = w.get("lm_head.weight", self.embed) if raw.get("tie_word_embeddings", True) is False \
                else self.embed
        elif f == "bert":
            arch = (raw.get("architectures") or [""])[0]
            if not arch.endswith("ForSequenceClassification"):
                raise ref.ReferenceError("the benchmark twin covers BertForSequenceClassification only")
            c.hidden, c.layers, c.heads = raw["hidden_size"], raw["num_hidden_layers"], raw["num_attention_heads"]
            c.eps = float(raw.get("layer_norm_eps", 1e-12))
            c.act = raw.get("hidden_act", "gelu")
            pre = "bert." if "bert.embeddings.word_embeddings.weight" in w else ""

            def ln(name):
                return (w.get(name + ".weight", w.get(name + ".gamma")), w.get(name + ".bias", w.get(name + ".beta")))
            e = pre + "embeddings."
            self.embed, self.pos = w[e + "word_embeddings.weight"], w[e + "position_embeddings.weight"]
            self.types = w[e + "token_type_embeddings.weight"]
            self.emb_ln = ln(e + "LayerNorm")
            self.blocks = []
            for i in range(c.layers):
                p = f"{pre}encoder.layer.{i}."
                b = {k: w[p + n] for k, n in (
                    ("wq", "attention.self.query.weight"), ("bq", "attention.self.query.bias"),
                    ("wk", "attention.self.key.weight"), ("bk", "attention.self.key.bias"),
                    ("wv", "attention.self.value.weight"), ("bv", "attention.self.value.bias"),
                    ("wo", "attention.output.dense.weight"), ("bo", "attention.output.dense.bias"),
                    ("w1", "intermediate.dense.weight"), ("b1", "intermediate.dense.bias"),
                    ("w2", "output.dense.weight"), ("b2", "output.dense.bias"))}
                (b["ln1w"], b["ln1b"]), (b["ln2w"], b["ln2b"]) = ln(p + "attention.output.LayerNorm"), ln(
                    p + "output.LayerNorm")
                self.blocks.append(b)
            self.pooler = (w[pre + "pooler.dense.weight"], w[pre + "pooler.dense.bias"])
            self.classifier = (w["classifier.weight"], w["classifier.bias"])
        c.vocab = self.embed.shape[0]
        c.head_dim = c.hidden // c.heads
        if c.act in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
            c.act_fn = lambda x: torch.nn.functional.gelu(x, approximate="tanh")
        elif c.act == "gelu":
            c.act_fn = torch.nn.functional.gelu
        else:
            raise ref.ReferenceError(f"activation {c.act!r} not covered by the benchmark twin")


class ViTModel:
    """ViTForImageClassification in Hugging Face layout (Linear weights [out, in], conv [d, C, p, p])."""

    def __init__(self, model_dir, raw):
        self.family = "vit"
        w = load_weights(model_dir)

        class C:
            pass
        self.cfg = c = C()
        c.family = "vit"
        c.hidden, c.layers, c.heads = raw["hidden_size"], raw["num_hidden_layers"], raw["num_attention_heads"]
        c.eps = float(raw.get("layer_norm_eps", 1e-12))
        c.image, c.patch, c.channels = int(raw["image_size"]), int(raw["patch_size"]), int(raw.get("num_channels", 3))
        c.grid = c.image // c.patch
        c.head_dim = c.hidden // c.heads
        c.vocab = 0
        if raw.get("hidden_act", "gelu") != "gelu":
            raise ref.ReferenceError("the benchmark twin covers gelu ViTs only")
        c.act_fn = torch.nn.functional.gelu
        e = "vit.embeddings."
        self.cls = w[e + "cls_token"].reshape(-1)
        self.pos = w[e + "position_embeddings"].reshape(-1, c.hidden)
        self.conv = (w[e + "patch_embeddings.projection.weight"], w[e + "patch_embeddings.projection.bias"])
        self.blocks = []
        for i in range(c.layers):
            p = f"vit.encoder.layer.{i}."
            self.blocks.append({k: w[p + n] for k, n in (
                ("wq", "attention.attention.query.weight"), ("bq", "attention.attention.query.bias"),
                ("wk", "attention.attention.key.weight"), ("bk", "attention.attention.key.bias"),
                ("wv", "attention.attention.value.weight"), ("bv", "attention.attention.value.bias"),
                ("wo", "attention.output.dense.weight"), ("bo", "attention.output.dense.bias"),
                ("ln1w", "layernorm_before.weight"), ("ln1b", "layernorm_before.bias"),
                ("ln2w", "layernorm_after.weight"), ("ln2b", "layernorm_after.bias"),
                ("w1", "intermediate.dense.weight"), ("b1", "intermediate.dense.bias"),
                ("w2", "output.dense.weight"), ("b2", "output.dense.bias"))})
        self.norm = (w["vit.layernorm.weight"], w["vit.layernorm.bias"])
        self.head = (w["classifier.weight"], w["classifier.bias"])
        self.pixels = torch.from_numpy(bench_pixels(c.channels * c.image * c.image)).reshape(
            c.channels, c.image, c.image)


class T5Model:
    """T5ForConditionalGeneration in Hugging Face layout (config from the reference's load_t5_config)."""

    def __init__(self, model_dir, raw):
        self.cfg = c = ref.load_t5_config(raw, os.path.join(model_dir, "config.json"))
        w = load_weights(model_dir)
        self.embed = w["shared.weight"] if "shared.weight" in w else w["encoder.embed_tokens.weight"]
        self.head = self.embed if c.tied else w["lm_head.weight"]
        c.act_fn = ref._act(c.act)

        def attn(p, kind):
            return {"ln": w[p + ".layer_norm.weight"], **{k: w[f"{p}.{kind}.{k[1]}.weight"]
                                                           for k in ("wq", "wk", "wv", "wo")}}

        def dense(p):
            names = ("wi_0", "wi_1", "wo") if c.gated else ("wi", "wo")
            return {"ln": w[p + ".layer_norm.weight"], **{n: w[f"{p}.DenseReluDense.{n}.weight"] for n in names}}

        self.enc = [{"self": attn(f"encoder.block.{i}.layer.0", "SelfAttention"),
                     "ff": dense(f"encoder.block.{i}.layer.1")} for i in range(c.enc_layers)]
        self.dec = [{"self": attn(f"decoder.block.{i}.layer.0", "SelfAttention"),
                     "cross": attn(f"decoder.block.{i}.layer.1", "EncDecAttention"),
                     "ff": dense(f"decoder.block.{i}.layer.2")} for i in range(c.dec_layers)]
        rel = "{}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"
        self.enc_rel, self.dec_rel = w[rel.format("encoder")], w[rel.format("decoder")]
        self.enc_norm, self.dec_norm = w["encoder.final_layer_norm.weight"], w["decoder.final_layer_norm.weight"]
        c.vocab = self.embed.shape[0]

    def bias(self, table, q0, Tq, Tk, bidirectional):
        """The position bias (H, Tq, Tk): query row i at position q0 + i, key j at j."""
        q = torch.arange(q0, q0 + Tq, dtype=torch.long)[:, None]
        k = torch.arange(Tk, dtype=torch.long)[None, :]
        b = ref.t5_bucket(k - q, bidirectional, self.cfg.buckets, self.cfg.max_distance)
        return table[b].permute(2, 0, 1).contiguous()


# ----------------------------------------------------------------------------------------------
# Rules as autograd Functions (one saved tensor each, no extra forward work).

class IdentityRule(torch.autograd.Function):
    """y = silu(x); backward multiplies by silu(x)/(x + 1e-10), so R(x) = R(y)."""

    @staticmethod
    def forward(ctx, x):
        y = torch.nn.functional.silu(x)
        ctx.save_for_backward(y / (x + IDENTITY_EPS))
        return y

    @staticmethod
    def backward(ctx, g):
        (ratio,) = ctx.saved_tensors
        return g * ratio


class IdentityRuleFn(torch.autograd.Function):
    """y = fn(x) (GELU, tanh); backward multiplies by y/(x + 1e-10), so R(x) = R(y)."""

    @staticmethod
    def forward(ctx, x, fn):
        y = fn(x)
        ctx.save_for_backward(y / (x + IDENTITY_EPS))
        return y

    @staticmethod
    def backward(ctx, g):
        (ratio,) = ctx.saved_tensors
        return g * ratio, None


class ScaleGrad(torch.autograd.Function):
    """s(t, f): identity forward, gradient × f backward."""

    @staticmethod
    def forward(ctx, x, f):
        ctx.f = f
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.f, None


def rmsnorm(x, w, eps, detach):
    xr = x.detach() if detach else x
    r = torch.rsqrt(xr.pow(2).mean(-1, keepdim=True) + eps)
    return w * (x * r)


def rope_tables(m, T):
    ang = torch.outer(torch.arange(T, dtype=torch.float32), m.inv_freq)
    ang = torch.cat((ang, ang), dim=-1)
    return ang.cos(), ang.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(m, ids, rules):
    """Logits at the last position, and the embedding leaf (requires grad when rules is not None)."""
    c = m.cfg
    T, D, H, KV = len(ids), c.head_dim, c.heads, c.kv_heads
    G = H // KV
    e = m.embed[torch.tensor(ids, dtype=torch.long)]
    if rules is not None:
        e.requires_grad_(True)
    cos, sin = rope_tables(m, T)
    mask = torch.full((T, T), float("-inf")).triu(1)
    scale = 1.0 / math.sqrt(D)
    attnlrp = rules == "attnlrp"
    h = e
    for b in m.blocks:
        x = rmsnorm(h, b["ln1"], c.eps, attnlrp)
        q = (x @ b["wq"].T).view(T, KV, G, D).permute(1, 2, 0, 3)   # (KV, G, T, D)
        k = (x @ b["wk"].T).view(T, KV, 1, D).permute(1, 2, 0, 3)   # (KV, 1, T, D)
        v = (x @ b["wv"].T).view(T, KV, 1, D).permute(1, 2, 0, 3)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if attnlrp:
            q, k, v = ScaleGrad.apply(q, 0.25), ScaleGrad.apply(k, 0.25), ScaleGrad.apply(v, 0.5)
        s = torch.matmul(q, k.transpose(-1, -2)) * scale + mask       # (KV, G, T, T); K shared by the group
        p = torch.softmax(s, dim=-1)
        o = torch.matmul(p, v).permute(2, 0, 1, 3).reshape(T, H * D)
        h = h + o @ b["wo"].T
        x = rmsnorm(h, b["ln2"], c.eps, attnlrp)
        a = x @ b["wg"].T
        u = x @ b["wu"].T
        if attnlrp:
            z = ScaleGrad.apply(IdentityRule.apply(a) * u, 0.5)
        else:
            z = torch.nn.functional.silu(a) * u
        h = h + z @ b["wd"].T
    last = rmsnorm(h[T - 1], m.norm, c.eps, attnlrp)
    return e, last @ m.head.T


def gemma_rmsnorm(x, w, eps, detach):
    xr = x.detach() if detach else x
    return (x * torch.rsqrt(xr.pow(2).mean(-1, keepdim=True) + eps)) * (1.0 + w)


def softcap_fn(cap):
    return lambda t: cap * torch.tanh(t / cap)


def gemma_fwd(m, ids, rules):
    """Gemma 2/3: (1 + w) RMSNorms with the normaliser detached, GeGLU with the identity rule on gelu_tanh and
    ½ on the product, attention Q/K ×¼ and V ×½ after the q/k norms and RoPE, softmax exact, sliding-window
    layers as the config has them (two RoPE tables for Gemma 3), soft-capping with the identity rule; the
    leaf is the scaled embedding (embed · sqrt(H)), the final norm and the tied head on the last row only."""
    c = m.cfg
    T, D, H, KV = len(ids), c.head_dim, c.heads, c.kv_heads
    G = H // KV
    e = m.embed[torch.tensor(ids, dtype=torch.long)] * m.normalizer
    if rules is not None:
        e.requires_grad_(True)
    attnlrp = rules == "attnlrp"
    pos = torch.arange(T, dtype=torch.float32)
    tables = {}
    for kind, inv in (("global", m.inv_global), ("local", m.inv_local)):
        ang = torch.outer(pos, inv)
        ang = torch.cat((ang, ang), dim=-1)
        tables[kind] = (ang.cos(), ang.sin())
    qi, ki = torch.arange(T).view(T, 1), torch.arange(T).view(1, T)
    causal = torch.zeros(T, T).masked_fill(ki > qi, float("-inf"))
    window = torch.zeros(T, T).masked_fill((ki > qi) | (qi - ki >= c.window), float("-inf"))
    act = lambda x: torch.nn.functional.gelu(x, approximate="tanh")  # noqa: E731
    h = e
    for b, sliding in zip(m.blocks, c.sliding):
        cos, sin = tables["local" if sliding else "global"]
        x = gemma_rmsnorm(h, b["ln1"], c.eps, attnlrp)
        q = (x @ b["wq"].T).view(T, KV, G, D).permute(1, 2, 0, 3)   # (KV, G, T, D)
        k = (x @ b["wk"].T).view(T, KV, 1, D).permute(1, 2, 0, 3)   # (KV, 1, T, D)
        v = (x @ b["wv"].T).view(T, KV, 1, D).permute(1, 2, 0, 3)
        if c.qk_norm:
            q = gemma_rmsnorm(q, b["qn"], c.eps, attnlrp)
            k = gemma_rmsnorm(k, b["kn"], c.eps, attnlrp)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if attnlrp:
            q, k, v = ScaleGrad.apply(q, 0.25), ScaleGrad.apply(k, 0.25), ScaleGrad.apply(v, 0.5)
        s = torch.matmul(q, k.transpose(-1, -2)) * c.scaling
        if c.attn_cap:
            fn = softcap_fn(float(c.attn_cap))
            s = IdentityRuleFn.apply(s, fn) if attnlrp else fn(s)
        p = torch.softmax(s + (window if sliding else causal), dim=-1)
        o = torch.matmul(p, v).permute(2, 0, 1, 3).reshape(T, H * D)
        h = h + gemma_rmsnorm(o @ b["wo"].T, b["post_attn"], c.eps, attnlrp)
        x = gemma_rmsnorm(h, b["pre_ffw"], c.eps, attnlrp)
        a = x @ b["wg"].T
        u = x @ b["wu"].T
        z = ScaleGrad.apply(IdentityRuleFn.apply(a, act) * u, 0.5) if attnlrp else act(a) * u
        h = h + gemma_rmsnorm(z @ b["wd"].T, b["post_ffw"], c.eps, attnlrp)
    logits = gemma_rmsnorm(h[T - 1], m.norm, c.eps, attnlrp) @ m.head.T
    if c.final_cap:
        fn = softcap_fn(float(c.final_cap))
        logits = IdentityRuleFn.apply(logits, fn) if attnlrp else fn(logits)
    return e, logits


def layernorm(x, w, b, eps, detach):
    """LayerNorm; with detach the standard deviation is a constant in the backward (mean kept)."""
    if not detach:
        return torch.nn.functional.layer_norm(x, x.shape[-1:], w, b, eps)
    xc = x - x.mean(-1, keepdim=True)
    sd = torch.sqrt(xc.detach().pow(2).mean(-1, keepdim=True) + eps)
    return torch.addcmul(b, w, xc / sd)


def ln_forward(m, ids, rules):
    """GPT-2 / BERT: (the embedding leaves, output logits); leaves require grad when rules is not None."""
    c = m.cfg
    T, D, H = len(ids), c.head_dim, c.heads
    idx = torch.tensor(ids, dtype=torch.long)
    leaves = [m.embed[idx], m.pos[:T]]
    if m.types is not None:
        leaves.append(m.types[0].expand(T, -1))
    if rules is not None:
        leaves = [t.clone().requires_grad_(True) for t in leaves]
    attnlrp = rules == "attnlrp"
    act = (lambda x: IdentityRuleFn.apply(x, c.act_fn)) if attnlrp else c.act_fn
    scale = 1.0 / math.sqrt(D)
    h = leaves[0] + leaves[1]
    if len(leaves) > 2:
        h = h + leaves[2]

    def attention(x, q, k, v, mask):
        q, k, v = (t.view(T, H, D).transpose(0, 1) for t in (q, k, v))
        if attnlrp:
            q, k, v = ScaleGrad.apply(q, 0.25), ScaleGrad.apply(k, 0.25), ScaleGrad.apply(v, 0.5)
        s = torch.matmul(q, k.transpose(-1, -2)) * scale
        if mask is not None:
            s = s + mask
        p = torch.softmax(s, dim=-1)
        return torch.matmul(p, v).transpose(0, 1).reshape(T, H * D)

    if c.family == "gpt2":
        mask = torch.full((T, T), float("-inf")).triu(1)
        for b in m.blocks:
            x = layernorm(h, b["ln1w"], b["ln1b"], c.eps, attnlrp)
            q, k, v = torch.addmm(b["bqkv"], x, b["wqkv"]).split(c.hidden, dim=-1)
            h = h + torch.addmm(b["bo"], attention(x, q, k, v, mask), b["wo"])
            x = layernorm(h, b["ln2w"], b["ln2b"], c.eps, attnlrp)
            h = h + torch.addmm(b["b2"], act(torch.addmm(b["b1"], x, b["w1"])), b["w2"])
        last = layernorm(h[T - 1], *m.lnf, c.eps, attnlrp)
        return leaves, last @ m.head.T
    lin = torch.nn.functional.linear
    h = layernorm(h, *m.emb_ln, c.eps, attnlrp)
    for b in m.blocks:
        a = attention(h, lin(h, b["wq"], b["bq"]), lin(h, b["wk"], b["bk"]), lin(h, b["wv"], b["bv"]), None)
        h = layernorm(h + lin(a, b["wo"], b["bo"]), b["ln1w"], b["ln1b"], c.eps, attnlrp)
        z = act(lin(h, b["w1"], b["b1"]))
        h = layernorm(h + lin(z, b["w2"], b["b2"]), b["ln2w"], b["ln2b"], c.eps, attnlrp)
    pooled = lin(h[0], *m.pooler)
    pooled = IdentityRuleFn.apply(pooled, torch.tanh) if attnlrp else torch.tanh(pooled)
    return leaves, lin(pooled, *m.classifier)


def vit_forward(m, rules, gamma=None):
    """ViT: (leaves [pixels, cls, pos], class logits); leaves require grad when rules is not None."""
    c = m.cfg
    T, D, H = c.grid * c.grid + 1, c.head_dim, c.heads
    leaves = [m.pixels, m.cls, m.pos]
    if rules is not None:
        leaves = [t.clone().requires_grad_(True) for t in leaves]
    px, cls, pos = leaves
    rule = rules in ("attnlrp", "cplrp")
    gc, gl = gamma if (gamma is not None and rule) else (None, None)
    act = (lambda x: IdentityRuleFn.apply(x, c.act_fn)) if rule else c.act_fn
    lin = torch.nn.functional.linear

    def glin(x, w, b):
        return lin(x, w, b) if gl is None else ref.GammaRule.apply(x, w, b, "linear", gl, 1)
    if gc is None:
        emb = torch.nn.functional.conv2d(px[None], *m.conv, stride=c.patch)
    else:
        emb = ref.GammaRule.apply(px[None], m.conv[0], m.conv[1], "conv", gc, c.patch)
    h = torch.cat((cls[None], emb[0].flatten(1).transpose(0, 1)), 0) + pos
    scale = 1.0 / math.sqrt(D)
    for b in m.blocks:
        x = layernorm(h, b["ln1w"], b["ln1b"], c.eps, rule)
        q, k, v = ((lin(x, b[w], b[bb])).view(T, H, D).transpose(0, 1)
                   for w, bb in (("wq", "bq"), ("wk", "bk"), ("wv", "bv")))
        if rules == "attnlrp":
            q, k, v = ScaleGrad.apply(q, 0.25), ScaleGrad.apply(k, 0.25), ScaleGrad.apply(v, 0.5)
        elif rules == "cplrp":
            q, k = q.detach(), k.detach()
        p = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * scale, dim=-1)
        o = torch.matmul(p, v).transpose(0, 1).reshape(T, H * D)
        h = h + lin(o, b["wo"], b["bo"])
        x = layernorm(h, b["ln2w"], b["ln2b"], c.eps, rule)
        h = h + glin(act(glin(x, b["w1"], b["b1"])), b["w2"], b["b2"])
    y = layernorm(h[0], *m.norm, c.eps, rule)
    return leaves, glin(y, *m.head)


def t5_split(m, ids):
    """bench_explain's inputs of an encoder-decoder from one id sequence: (source, decoder input)."""
    return ids[:m.src_T], [m.cfg.start] + ids[m.src_T:]


def t5_attention(c, b, xq, xkv, attnlrp, bias, mask):
    Tq, Tk, H, D = xq.shape[0], xkv.shape[0], c.heads, c.head_dim
    q = (xq @ b["wq"].T).view(Tq, H, D).transpose(0, 1)
    k = (xkv @ b["wk"].T).view(Tk, H, D).transpose(0, 1)
    v = (xkv @ b["wv"].T).view(Tk, H, D).transpose(0, 1)
    if attnlrp:
        q, k, v = ScaleGrad.apply(q, 0.25), ScaleGrad.apply(k, 0.25), ScaleGrad.apply(v, 0.5)
    s = torch.matmul(q, k.transpose(-1, -2))  # no 1/sqrt(d_kv)
    if bias is not None:
        s = s + bias
    if mask is not None:
        s = s + mask
    p = torch.softmax(s, dim=-1)
    return torch.matmul(p, v).transpose(0, 1).reshape(Tq, H * D) @ b["wo"].T


def t5_dense(c, b, x, attnlrp):
    if c.gated:
        a, u = x @ b["wi_0"].T, x @ b["wi_1"].T
        z = ScaleGrad.apply(IdentityRuleFn.apply(a, c.act_fn) * u, 0.5) if attnlrp else c.act_fn(a) * u
    else:
        a = x @ b["wi"].T
        z = IdentityRuleFn.apply(a, c.act_fn) if attnlrp else c.act_fn(a)
    return z @ b["wo"].T


def t5_encode(m, e, attnlrp):
    c = m.cfg
    bias = m.bias(m.enc_rel, 0, e.shape[0], e.shape[0], True)
    h = e
    for b in m.enc:
        x = rmsnorm(h, b["self"]["ln"], c.eps, attnlrp)
        h = h + t5_attention(c, b["self"], x, x, attnlrp, bias, None)
        h = h + t5_dense(c, b["ff"], rmsnorm(h, b["ff"]["ln"], c.eps, attnlrp), attnlrp)
    return rmsnorm(h, m.enc_norm, c.eps, attnlrp)


def t5_fwd(m, ids, rules):
    """T5: (encoder and decoder embedding leaves, logits at the last decoder position)."""
    c = m.cfg
    src, dec = t5_split(m, ids)
    leaves = [m.embed[torch.tensor(src, dtype=torch.long)], m.embed[torch.tensor(dec, dtype=torch.long)]]
    if rules is not None:
        leaves = [t.requires_grad_(True) for t in leaves]
    attnlrp = rules == "attnlrp"
    memory = t5_encode(m, leaves[0], attnlrp)
    Td = len(dec)
    bias = m.bias(m.dec_rel, 0, Td, Td, False)
    causal = torch.full((Td, Td), float("-inf")).triu(1)
    y = leaves[1]
    for b in m.dec:
        x = rmsnorm(y, b["self"]["ln"], c.eps, attnlrp)
        y = y + t5_attention(c, b["self"], x, x, attnlrp, bias, causal)
        y = y + t5_attention(c, b["cross"], rmsnorm(y, b["cross"]["ln"], c.eps, attnlrp), memory, attnlrp, None, None)
        y = y + t5_dense(c, b["ff"], rmsnorm(y, b["ff"]["ln"], c.eps, attnlrp), attnlrp)
    last = rmsnorm(y[Td - 1], m.dec_norm, c.eps, attnlrp)
    if c.tied:
        last = last * c.hidden ** -0.5
    return leaves, last @ m.head.T


def t5_generate(m, src, n_new, on_token):
    """Greedy decoding with an HF-style cache: the encoder and each layer's cross-attention keys/values
    once, then one decoder row per step with its self-attention keys/values appended; the generated ids."""
    c = m.cfg
    H, D = c.heads, c.head_dim
    with torch.no_grad():
        memory = t5_encode(m, m.embed[torch.tensor(src, dtype=torch.long)], False)
        Te = memory.shape[0]
        cross = [((memory @ b["cross"]["wk"].T).view(Te, H, D).transpose(0, 1),
                  (memory @ b["cross"]["wv"].T).view(Te, H, D).transpose(0, 1)) for b in m.dec]
        cap = n_new
        ks = [torch.empty(H, cap, D) for _ in m.dec]
        vs = [torch.empty(H, cap, D) for _ in m.dec]
        full_bias = m.bias(m.dec_rel, 0, cap, cap, False)   # row p: the query at position p
        tok, out = c.start, []
        for pos in range(n_new):
            y = m.embed[tok].view(1, -1)
            bias = full_bias[:, pos:pos + 1, :pos + 1]
            for b, kc, vc, (ck, cv) in zip(m.dec, ks, vs, cross):
                sa = b["self"]
                x = rmsnorm(y, sa["ln"], c.eps, False)
                q = (x @ sa["wq"].T).view(1, H, D).transpose(0, 1)
                kc[:, pos] = (x @ sa["wk"].T).view(H, D)
                vc[:, pos] = (x @ sa["wv"].T).view(H, D)
                p = torch.softmax(torch.matmul(q, kc[:, :pos + 1].transpose(-1, -2)) + bias, dim=-1)
                y = y + torch.matmul(p, vc[:, :pos + 1]).transpose(0, 1).reshape(1, H * D) @ sa["wo"].T
                ca = b["cross"]
                x = rmsnorm(y, ca["ln"], c.eps, False)
                q = (x @ ca["wq"].T).view(1, H, D).transpose(0, 1)
                p = torch.softmax(torch.matmul(q, ck.transpose(-1, -2)), dim=-1)
                y = y + torch.matmul(p, cv).transpose(0, 1).reshape(1, H * D) @ ca["wo"].T
                y = y + t5_dense(c, b["ff"], rmsnorm(y, b["ff"]["ln"], c.eps, False), False)
            last = rmsnorm(y[0], m.dec_norm, c.eps, False)
            if c.tied:
                last = last * c.hidden ** -0.5
            tok = int(torch.argmax(last @ m.head.T))
            out.append(tok)
            on_token()
    return out


def generate_bench(m, P, N, reps, threads, model_dir):
    """bench_generate's JSON for the twin: prefill = time to the first token, decode tokens/s = (N − 1)
    tokens over the time from the first generated token to the last; medians over reps after a warm-up."""
    src = bench_ids(P, m.cfg.vocab)
    pre, tps = [], []
    for r in range(-1, reps):
        stamps = []
        t0 = time.perf_counter()
        ids = t5_generate(m, src, N, lambda: stamps.append(time.perf_counter()))
        if r >= 0:
            pre.append(1e3 * (stamps[0] - t0))
            tps.append((N - 1) / (stamps[-1] - stamps[0]))
    return {"model": model_dir, "format": "torch", "dtype": "F32", "threads": threads, "prompt": P, "generated": N,
            "reps": reps, "prefill_ms": statistics.median(pre), "decode_tokens_per_s": statistics.median(tps),
            "explained": 0, "explain_ms_mean": 0, "explain_ms_first": 0, "explain_ms_last": 0,
            "peak_rss_bytes": peak_rss_bytes(), "prefill_ms_all": pre, "decode_tokens_per_s_all": tps,
            "explain_ms_all": [], "generated_ids": ids, "kv_cache": True}


def forward_only(m, ids, gamma=None):
    with torch.no_grad():
        if isinstance(m, ViTModel):
            return vit_forward(m, None)[1]
        if isinstance(m, LNModel):
            return ln_forward(m, ids, None)[1]
        if isinstance(m, GemmaModel):
            return gemma_fwd(m, ids, None)[1]
        if isinstance(m, T5Model):
            return t5_fwd(m, ids, None)[1]
        return forward(m, ids, None)[1]


def explain(m, ids, method, total=False, gamma=None):
    """(target, start value, word relevance[, relevance summed over every input kind]); ViT: the
    relevance per patch (row-major)."""
    if isinstance(m, ViTModel):
        leaves, logits = vit_forward(m, method, gamma)
        target = int(torch.argmax(logits.detach()))
        y = logits[target]
        y.backward()
        c = m.cfg
        G, P = c.grid, c.patch
        rp = (leaves[0].detach() * leaves[0].grad).sum(0).reshape(G, P, G, P).sum((1, 3)).reshape(-1)
        if total:
            rsum = float(rp.sum()) + sum(float((t.detach() * t.grad).sum()) for t in leaves[1:])
            return target, float(y.detach()), rp, rsum
        return target, float(y.detach()), rp
    if isinstance(m, LNModel):
        leaves, logits = ln_forward(m, ids, method)
    elif isinstance(m, T5Model):
        if method not in ("attnlrp", "gradxinput"):
            raise ref.ReferenceError("the T5 twin implements attnlrp and gradxinput only")
        leaves, logits = t5_fwd(m, ids, method)
    else:
        if isinstance(m, GemmaModel):
            if method == "cplrp":
                raise ref.ReferenceError("the Gemma twin implements attnlrp and gradxinput only")
            e, logits = gemma_fwd(m, ids, method)
        else:
            e, logits = forward(m, ids, method)
        leaves = [e]
    target = int(torch.argmax(logits.detach()))
    y = logits[target]
    y.backward()
    rels = [(t.detach() * t.grad).sum(-1) for t in leaves]
    if isinstance(m, T5Model):  # the decoder's relevance rides along as an attribute
        explain.decoder_relevance = rels[1]
    explain.logits = logits.detach()
    if total:
        return target, float(y.detach()), rels[0], float(sum(float(r.sum()) for r in rels))
    return target, float(y.detach()), rels[0]


def timed(fn, reps, warmup):
    """Wall-clock and process CPU milliseconds (all threads) of each repetition."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(1e3 * (time.perf_counter() - t0))
        cpu.append(1e3 * (time.process_time() - c0))
    return wall, cpu


def peak_rss_bytes():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def openblas_info():
    """Core and thread count of the OpenBLAS torch's BLAS calls land in (same shared library)."""
    import ctypes
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode(), lib.openblas_get_num_threads()
    except (OSError, AttributeError):
        return None, None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="/tmp/attnlrp-bench-model")
    ap.add_argument("--T", default="128,512", type=lambda s: [int(v) for v in s.split(",") if v])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave torch's default)")
    ap.add_argument("--method", default="attnlrp", choices=("attnlrp", "cplrp", "gradxinput"))
    ap.add_argument("--gamma", type=lambda s: tuple(float(v) for v in s.split(",")),
                    help="ViT: CONV,LIN for the LRP-gamma rule (attnlrp, cplrp)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--dec", type=int, default=16,
                    help="encoder-decoders: decoder tokens, the start token included (default 16)")
    ap.add_argument("--generate", type=int, metavar="N",
                    help="T5: time greedy generation of N tokens from a source of the first --T length; "
                         "bench_generate's JSON")
    ap.add_argument("--gen-reps", type=int, default=2, help="--generate: timed generations after one warm-up")
    ap.add_argument("--dump-relevance", type=int, metavar="T",
                    help="print the relevance of one explanation at length T as JSON and exit")
    a = ap.parse_args(argv)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    try:
        m = open_model(a.model)
    except (ref.ReferenceError, OSError, KeyError) as err:
        print(f"torch_explain: {err}", file=sys.stderr)
        return 1
    t5 = isinstance(m, T5Model)
    if a.dec < 1:
        print("torch_explain: --dec must be at least 1", file=sys.stderr)
        return 2
    if a.generate is not None:
        if not t5 or a.generate < 2:
            print("torch_explain: --generate N (N >= 2) is for T5 checkpoints", file=sys.stderr)
            return 2
        print(json.dumps(generate_bench(m, a.T[0], a.generate, a.gen_reps, torch.get_num_threads(), a.model)))
        return 0

    def make_ids(T):  # T5: T source ids, then dec - 1 more for the decoder (after its start token)
        if isinstance(m, ViTModel):
            return []
        m.src_T = T
        return bench_ids(T + (a.dec - 1 if t5 else 0), m.cfg.vocab)
    if a.dump_relevance:
        ids = make_ids(a.dump_relevance)
        target, start, rel, rsum = explain(m, ids, a.method, total=True, gamma=a.gamma)
        extra = {}
        if t5:
            src, dec = t5_split(m, ids)
            ids = src
            extra = {"decoder_ids": dec, "decoder_relevance": [float(v) for v in explain.decoder_relevance]}
        print(json.dumps({"ids": ids, "method": a.method, **({"gamma": list(a.gamma)} if a.gamma else {}),
                          "target": target, "start_value": start, "relevance_sum": rsum,
                          "relevance": [float(v) for v in rel], **extra,
                          **({"logits": [float(v) for v in explain.logits]} if hasattr(explain, "logits") else {})}))
        return 0
    core, blas_threads = openblas_info()
    results = []
    if isinstance(m, ViTModel):
        a.T = [m.cfg.grid * m.cfg.grid + 1]
    for T in a.T:
        ids = make_ids(T)
        fwd, fwd_cpu = timed(lambda: forward_only(m, ids), a.reps, a.warmup)
        exp, exp_cpu = timed(lambda: explain(m, ids, a.method, gamma=a.gamma), a.reps, a.warmup)
        target, start, rel, rsum = explain(m, ids, a.method, total=True, gamma=a.gamma)
        f, x = statistics.median(fwd), statistics.median(exp)
        results.append({"T": T, **({"decoder_T": a.dec} if t5 else {}), "forward_ms": f, "explain_ms": x, "ratio": x / f,
                        "forward_cpu_ms": statistics.median(fwd_cpu), "explain_cpu_ms": statistics.median(exp_cpu),
                        "peak_rss_bytes": peak_rss_bytes(), "target": target, "start_value": start,
                        "relevance_sum": rsum, "forward_ms_all": fwd, "explain_ms_all": exp,
                        "forward_cpu_ms_all": fwd_cpu, "explain_cpu_ms_all": exp_cpu})
    if a.json:
        print(json.dumps({"engine": "torch", "torch": torch.__version__, "threads": torch.get_num_threads(),
                          "openblas": {"core": core, "threads": blas_threads}, "method": a.method,
                          **({"gamma": list(a.gamma)} if a.gamma else {}),
                          "reps": a.reps, "warmup": a.warmup, "results": results}))
    else:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, OpenBLAS core {core} "
              f"({blas_threads} threads), {a.method}, median of {a.reps} after {a.warmup} warm-up")
        print(f"{'T':>6} {'forward ms':>11} {'explain ms':>11} {'ratio':>8} {'peak RSS':>10}")
        for r in results:
            print(f"{r['T']:6d} {r['forward_ms']:11.1f} {r['explain_ms']:11.1f} {r['ratio']:8.2f} "
                  f"{r['peak_rss_bytes'] / 2**20:6.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
