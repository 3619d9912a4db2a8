#!/usr/bin/python3
"""Compares `attnlrp explain` against the independent float64 PyTorch reference.

    check.py --bin build/attnlrp [--keep DIR] [--only NAME[,NAME]] [--families TYPE[,TYPE]]
             [--no-engine] [-v]

1. Self-checks of the reference against closed forms (no engine involved): the forward pass against
   the golden logits published for TinyStories-656K; cplrp conserves (sum R = start value) on every
   checkpoint with zero biases; attnlrp does not; with the norm rules the last block's residual
   relevance sums to the start value; gradxinput relevance equals central finite differences of the
   start scalar along each token's embedding; the gradient norm equals the finite-difference gradient;
   a latent start at layer L puts exactly its activation on its own neuron in that layer's readout.
2. For every tiny checkpoint of make_checkpoint.py, id sequences of length 1, 7 and 33, every method
   and the options --target-id/--position/--contrast/--latent-start/--latent-layer/--layers: runs
   `BIN explain --model DIR --ids ... --format json --all-logits [options]` and compares logits,
   target_logit, start_value, relevance, relevance_sum, residual_relevance and latent_relevance.

3. GPT-2, BERT, RoBERTa and DistilBERT (LayerNorm families): cplrp conserves over word + position +
   token-type relevance on zero-bias checkpoints, attnlrp does not; gradxinput equals central finite
   differences along each embedding input; the gradient norms equal finite-difference gradients; the
   blocks equal torch.nn.TransformerEncoderLayer's; a padded tail (attention mask 0) gets exactly zero
   relevance and changes neither logits nor relevance; RoBERTa's position ids skip pad ids. Engine
   comparisons as in 2, plus random token types (BERT) and a padded tail, and the fields
   relevance_positions, relevance_token_types and relevance_cls. `--families gpt2,bert,roberta,distilbert`
   or `--families llama,mistral,qwen2,qwen3` (or `vit`, or `phi,phi3`) restricts the run to those model types.
   Phi (phi, phi_bias, phi_qkln) and Phi-3 (phi3, phi3_longrope) run the checks of 1 and 2 like the LLaMA
   family (cplrp conservation on the zero-bias phi, phi_qkln, phi3, phi3_longrope).

4. ViT (ViTForImageClassification: vit_gray, vit_rgb, vit_bias; `--families vit`). Self-checks: the
   LRP-gamma rule of SPEC section 5 against explicit sums over each output's terms on random linears and
   patch convolutions (inputs and weights of both signs, with and without bias, gamma 0, 0.05, 0.25,
   0.5, 1), gamma = 0 as the epsilon rule (= gradient x input of the op up to the 1e-6 stabiliser), the
   stabiliser itself (sign(0) = +1) and a finite zero gradient at an exact zero input; logits against an
   independent forward (im2col patch embedding, torch.nn.TransformerEncoderLayer with norm_first);
   cplrp conserves over pixels + CLS + positions on zero-bias checkpoints (to 1e-8 without --gamma,
   to GAMMA_CONS_TOL = 1e-5 relative with it: the stabiliser), attnlrp does not; gradxinput per patch,
   per pixel (vit_gray), CLS and position slot equals central finite differences; the gradient norms
   equal finite-difference gradients (vit_gray); --gamma with gradxinput/gradient is refused. Engine:
   `BIN explain --model DIR --pixels FILE.npy --method M --format json --all-logits [--gamma C,L]
   [options]` on two random normal images (one stored float32, one float64; images where an op under
   the gamma rule has an output within 1e-4 of zero are skipped, see vit_images), every method, attnlrp
   and cplrp also with --gamma 0.25,0.05 (and 0.5,0.1 and 0,0 on two option sets); fields logits, top,
   target, target_logit, start_value, relevance, relevance_pixels, relevance_cls,
   relevance_positions, relevance_sum, residual_relevance, latent_relevance; --gamma with
   gradxinput/gradient must be a usage error (exit 2, one stderr line naming gamma).

5. Gemma 2 / Gemma 3 text (`--families gemma2,gemma3_text`; gemma3_nested is the multimodal gemma3 form
   and counts as gemma3_text): the self-checks and engine comparisons of 1 and 2 (cplrp conserves through
   the (1 + w) norms and both soft-caps, which take the identity rule); sliding windows of 3-5 keys so that
   the sequences of 7 and 33 cross them. GGUF twins (gguf_twin.py: llama.cpp names, norms stored + 1) of
   gemma2_softcap and gemma3_gguf, and of gpt2 and gpt2_bias, must explain exactly as their HF originals.

Prints one line per failing comparison (with the worst element) and ends with `N passed, N failed`.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np
import torch

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gguf_twin  # noqa: E402
import make_checkpoint  # noqa: E402
import reference as ref  # noqa: E402
from tally import Tally  # noqa: E402

TINYSTORIES = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "models", "TinyStories-656K"))
TINYSTORIES_IDS = [1, 80, 147, 201, 282, 57]

# Configurations whose biases are nonzero: cplrp does not conserve there.
WITH_BIAS = {"llama_bias", "qwen2_bias", "gpt2_bias", "bert_cls_bias", "vit_bias"}
WITH_BIAS |= {"phi_bias"}  # Phi: random biases (phi, phi_qkln carry zero ones, Phi-3 none)
WITH_BIAS |= {"qwen2_moe_norm"}  # Qwen2-MoE: random q/k/v biases (qwen2_moe carries zero ones)

# LayerNorm-family configurations whose gradient norms are checked against finite differences
# (with these token types).
GRADIENT_FD = {"gpt2_bias": None, "bert_cls_bias": [0, 0, 1, 1, 1, 0, 1], "distilbert_mlm": None}

# Configurations whose GGUF twin (tests/reference/gguf_twin.py) must explain exactly alike: GPT-2; LLaMA
# with llama3 rope_scaling -> rope_freqs.weight (Llama 3.1 GGUF); Phi -> phi2; Phi-3 -> phi3; Gemma (norms
# stored as 1 + w, llama.cpp's fixed choices).
GGUF_TWINS = {"gpt2", "gpt2_bias"}
GGUF_TWINS |= {"llama3_rope", "llama_gqa", "phi", "phi_bias", "phi_qkln", "phi3", "phi3_longrope"}
GGUF_TWINS |= {"gemma2_softcap", "gemma3_gguf"}

REL_TOL = 1e-4       # engine vs reference, relative to the largest magnitude of the compared field
LOGIT_ABS = 1e-5


def sequences(vocab, name):
    rng = np.random.default_rng(zlib.crc32(("ids:" + name).encode()))
    return {n: [int(v) for v in rng.integers(0, vocab, n)] for n in (1, 7, 33)}


# ----------------------------------------------------------------------------------------------
# Self-checks of the reference

def check_golden(t):
    if not os.path.isdir(TINYSTORIES):
        print(f"note: {TINYSTORIES} not found, golden-logit check skipped")
        return None
    ck = ref.Checkpoint(TINYSTORIES)
    out = ref.explain(ck, TINYSTORIES_IDS, "gradxinput")
    ids = [e["id"] for e in out["top"]]
    vals = [e["logit"] for e in out["top"]]
    golden_ids = [313, 8, 1773, 404, 547]
    golden = [17.3808, 13.7726, 13.7435, 12.6918, 11.3585]
    worst = max(abs(a - b) for a, b in zip(vals, golden))
    t.ok(ids == golden_ids and worst <= 6e-5,
         f"reference TinyStories-656K last-position top-5 {ids} vs {golden_ids}, worst |dlogit| {worst:.2e}")
    out0 = ref.explain(ck, TINYSTORIES_IDS, "gradxinput", position=0)
    golden0 = [0.0291, -0.2011, -0.4471, 1.9164, -2.5787]
    worst0 = max(abs(a - b) for a, b in zip(out0["logits"][:5], golden0))
    t.ok(worst0 <= 6e-5, f"reference TinyStories-656K position-0 logits 0..4, worst |dlogit| {worst0:.2e}")
    return ck


def fd_token_relevance(ck, ids, **start):
    """Central differences of the start scalar when token i's embedding is scaled by (1 +- h)."""
    E = ck.embed[torch.tensor(ids)].clone()
    h = 1e-5
    rel = []
    for i in range(len(ids)):
        Ep, Em = E.clone(), E.clone()
        Ep[i] *= 1 + h
        Em[i] *= 1 - h
        rel.append((ref.start_value_at(ck, ids, Ep, **start) - ref.start_value_at(ck, ids, Em, **start)) / (2 * h))
    return np.array(rel)


def own_readout(method, out):
    """What a latent start's own neuron reads out in its layer: the activation (x * 1) for the x * gradient
    methods, the norm of its unit gradient (1) for --method gradient."""
    return 1.0 if method == "gradient" else out["start_value"]


def fd_gradient_norm(ck, ids, **start):
    E = ck.embed[torch.tensor(ids)].clone()
    h = 1e-5
    g = np.zeros(tuple(E.shape))
    for i in range(E.shape[0]):
        for d in range(E.shape[1]):
            Ep, Em = E.clone(), E.clone()
            Ep[i, d] += h
            Em[i, d] -= h
            g[i, d] = (ref.start_value_at(ck, ids, Ep, **start) - ref.start_value_at(ck, ids, Em, **start)) / (2 * h)
    return np.linalg.norm(g, axis=1)


def self_checks(t, name, ck, seqs):
    c = ck.cfg
    zero_bias = name not in WITH_BIAS
    ratios = []
    for n, ids in seqs.items():
        runner_up = ref.explain(ck, ids, "gradxinput")["top"][1]["id"]
        for extra in ({}, {"contrast": runner_up},
                      {"latent_start": (c.layers - 1, n - 1, 5)}):
            tag = f"{name} len={n} {'/'.join(extra) or 'logit'}"
            cp = ref.explain(ck, ids, "cplrp", layers=True, **extra)
            at = ref.explain(ck, ids, "attnlrp", layers=True, **extra)
            y = cp["start_value"]
            if zero_bias:
                err = abs(sum(cp["relevance"]) - y)
                t.ok(err <= 1e-6 * abs(y) + 1e-12,
                     f"reference {tag}: cplrp conserves, |sum R - start| = {err:.2e}, start {y:.6g}")
            if "latent_start" not in extra:
                ratios.append(at["relevance_sum"] / at["start_value"])
                for m, o in (("cplrp", cp), ("attnlrp", at)):
                    last = sum(o["residual_relevance"][-1])
                    if zero_bias:
                        err = abs(last - o["start_value"])
                        t.ok(err <= 1e-9 * max(1.0, abs(o["start_value"])),
                             f"reference {tag}: {m} last residual relevance sums to start, err {err:.2e}")
    if zero_bias:
        worst = max(abs(r - 1) for r in ratios)
        t.ok(worst > 1e-2, f"reference {name}: attnlrp does not conserve, sum R / start = "
                           + " ".join(f"{r:.3f}" for r in ratios))

    # gradxinput against finite differences, for a logit, a contrast and a latent start.
    ids = seqs[7]
    foil = ref.explain(ck, ids, "gradxinput", position=4)["top"][2]["id"]
    for extra in ({}, {"contrast": foil, "position": 4}, {"latent_start": (0, 5, 7)}):
        out = ref.explain(ck, ids, "gradxinput", **extra)
        start = dict(extra)
        if "latent_start" not in extra:
            start["target"] = out["target"]
        fd = fd_token_relevance(ck, ids, **start)
        r = np.array(out["relevance"])
        err = np.max(np.abs(fd - r))
        t.ok(err <= 1e-6 * max(np.max(np.abs(r)), 1e-3),
             f"reference {name} gradxinput {'/'.join(extra) or 'logit'}: vs finite differences, max err {err:.2e}")

    # A latent start at layer L: its own neuron's readout in layer L is the activation itself.
    L = c.layers - 1
    for m in ref.METHODS:
        out = ref.explain(ck, ids, m, latent_start=(L, 6, 3), latent_layer=L)
        lr = np.array(out["latent_relevance"])
        others = np.delete(lr, 3)
        err = max(abs(lr[3] - own_readout(m, out)), float(np.max(np.abs(others))))
        t.ok(err <= 1e-12 * max(1.0, abs(out["start_value"])),
             f"reference {name} {m}: latent start's own neuron carries the activation, err {err:.2e}")


def gradient_fd_check(t, name, ck, ids):
    out = ref.explain(ck, ids, "gradient")
    fd = fd_gradient_norm(ck, ids, target=out["target"])
    r = np.array(out["relevance"])
    err = np.max(np.abs(fd - r))
    t.ok(err <= 1e-6 * np.max(np.abs(r)), f"reference {name} gradient: norm vs finite differences, max err {err:.2e}")


# ----------------------------------------------------------------------------------------------
# LayerNorm families (GPT-2, BERT, RoBERTa, DistilBERT)

LN_FIELDS = ("relevance", "relevance_positions", "relevance_token_types")


def ln_kind(ck):
    return ck.cfg.kind


def ln_sequences(ck, name):
    """Ids of length 1, 7, 33; RoBERTa's 33 carries its pad id mid-sequence (position padding_idx)."""
    seqs = sequences(ck.cfg.vocab, name)
    if ck.cfg.family == "roberta":
        seqs[33][10] = ck.cfg.pad
    return seqs


def ln_variants(ck, name, seqs):
    """(tag, ids, extra kwargs): plain sequences, random token types (BERT), a padded tail of 3."""
    c = ck.cfg
    out = [(f"len={n}", ids, {}) for n, ids in seqs.items()]
    if c.family == "gpt2":
        return out
    rng = np.random.default_rng(zlib.crc32(("types:" + name).encode()))
    if c.type_vocab > 1:
        types = [int(v) for v in rng.integers(0, c.type_vocab, 33)]
        out.append(("len=33 types", seqs[33], {"token_types": types}))
    padded = seqs[33][:30] + [c.pad] * 3
    out.append(("len=33 padded", padded, {"attention_mask": [1] * 30 + [0] * 3}))
    return out


def ln_position(ck, n):
    """The explained position for a sequence of length n (None for classifiers)."""
    if ck.cfg.kind == "cls":
        return None
    return min(n - 1, 5 if ck.cfg.kind == "mlm" else n - 1)


def ln_total(out):
    return sum(sum(out.get(f, [])) for f in LN_FIELDS)


def ln_fd_relevance(ck, ids, field, h=1e-5, **start):
    """Central differences of the start scalar when one token's row of one embedding input (word,
    position or token type) is scaled by (1 +- h): the gradient x input of that row."""
    word, pos, types = ref.ln_inputs(ck, ids, start.get("token_types") or [0] * len(ids))
    k = LN_FIELDS.index(field)
    rel = []
    for i in range(len(ids)):
        vals = []
        for s in (1 + h, 1 - h):
            inputs = [word.clone(), pos.clone(), None if types is None else types.clone()]
            inputs[k][i] *= s
            vals.append(ref.ln_start_value_at(ck, ids, *inputs, **start))
        rel.append((vals[0] - vals[1]) / (2 * h))
    return np.array(rel)


def ln_fd_gradient_norm(ck, ids, field, **start):
    word, pos, types = ref.ln_inputs(ck, ids, start.get("token_types") or [0] * len(ids))
    k = LN_FIELDS.index(field)
    h = 1e-5
    g = np.zeros(tuple(word.shape))
    for i in range(word.shape[0]):
        for d in range(word.shape[1]):
            vals = []
            for s in (h, -h):
                inputs = [word.clone(), pos.clone(), None if types is None else types.clone()]
                inputs[k][i, d] += s
                vals.append(ref.ln_start_value_at(ck, ids, *inputs, **start))
            g[i, d] = (vals[0] - vals[1]) / (2 * h)
    return np.linalg.norm(g, axis=1)


def torch_layers_forward(ck, ids, token_types=None, attention_mask=None):
    """The blocks run by torch.nn.TransformerEncoderLayer (post-norm for BERT, norm_first for GPT-2),
    an implementation independent of reference.py's; returns the last block's output."""
    c = ck.cfg
    T = len(ids)
    word, pos, types = ref.ln_inputs(ck, ids, token_types or [0] * T)
    x = word + pos + (types if types is not None else 0)
    if ck.emb_ln is not None:
        x = torch.nn.functional.layer_norm(x, (c.hidden,), ck.emb_ln[0], ck.emb_ln[1], c.eps)
    if c.act == "gelu_new":
        act = lambda v: torch.nn.functional.gelu(v, approximate="tanh")  # noqa: E731
    else:
        act = torch.nn.functional.gelu
    real = torch.tensor([bool(v) for v in (attention_mask or [1] * T)])
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), 1) if c.causal else None
    x = x[None]
    for b in ck.blocks:
        layer = torch.nn.TransformerEncoderLayer(c.hidden, c.heads, c.inter, dropout=0.0, activation=act,
                                                 layer_norm_eps=c.eps, batch_first=True,
                                                 norm_first=c.prenorm).double()
        layer.train()  # no dropout (p = 0); keeps the plain, non-fused path
        with torch.no_grad():
            layer.self_attn.in_proj_weight.copy_(torch.cat([b[n][0] for n in ("q", "k", "v")]))
            layer.self_attn.in_proj_bias.copy_(torch.cat([b[n][1] for n in ("q", "k", "v")]))
            for mod, key in ((layer.self_attn.out_proj, "o"), (layer.linear1, "fc1"), (layer.linear2, "fc2"),
                             (layer.norm1, "ln1"), (layer.norm2, "ln2")):
                mod.weight.copy_(b[key][0])
                mod.bias.copy_(b[key][1])
            x = layer(x, src_mask=causal, src_key_padding_mask=~real[None])
    return x[0]


def ln_self_checks(t, name, ck, seqs):
    c = ck.cfg
    zero_bias = name not in WITH_BIAS
    L = c.layers - 1
    ratios = []
    for tag, ids, extra0 in ln_variants(ck, name, seqs):
        n = len(ids)
        P = ln_position(ck, n)
        base = dict(extra0, position=P)
        runner_up = ref.explain(ck, ids, "gradxinput", **base)["top"][1]["id"]
        for extra in ({}, {"contrast": runner_up}, {"latent_start": (L, min(n - 1, 3), 5)}):
            what = f"{tag} {'/'.join(extra) or 'logit'}"
            kw = dict(base, **extra)
            cp = ref.explain(ck, ids, "cplrp", layers=True, **kw)
            at = ref.explain(ck, ids, "attnlrp", layers=True, **kw)
            y = cp["start_value"]
            if zero_bias:
                err = abs(cp["relevance_sum"] - y)
                err2 = abs(ln_total(cp) - cp["relevance_sum"])
                # + 1e-10: the identity rule's x/(x + 1e-10) moves up to 1e-10 (times the incoming
                # gradient) off a tiny latent start (gelu of an input near 0)
                t.ok(err <= 1e-8 * abs(y) + 1e-10 and err2 <= 1e-12 * max(1.0, abs(y)),
                     f"reference {name} {what}: cplrp conserves over word+position+type, "
                     f"|sum R - start| = {err:.2e}, start {y:.6g}")
            if "latent_start" not in extra:
                ratios.append(at["relevance_sum"] / at["start_value"])
                for m, o in (("cplrp", cp), ("attnlrp", at)):
                    last = sum(o["residual_relevance"][-1])
                    if zero_bias:
                        err = abs(last - o["start_value"])
                        t.ok(err <= 1e-9 * max(1.0, abs(o["start_value"])),
                             f"reference {name} {what}: {m} last residual relevance sums to start, err {err:.2e}")
            if c.family != "gpt2":
                want = sum(cp[f][0] for f in LN_FIELDS if f in cp)
                t.ok(abs(cp["relevance_cls"] - want) <= 1e-12 * max(1.0, abs(want)),
                     f"reference {name} {what}: relevance_cls is the total at token 0")
    if zero_bias:
        worst = max(abs(r - 1) for r in ratios)
        t.ok(worst > 1e-2, f"reference {name}: attnlrp does not conserve, sum R / start = "
                           + " ".join(f"{r:.3f}" for r in ratios))

    # gradxinput against finite differences along every embedding input.
    ids = seqs[7]
    extra0 = {}
    if c.type_vocab > 1:
        extra0["token_types"] = [0, 0, 0, 1, 1, 1, 1]  # a pair
    P = ln_position(ck, 7)
    P4 = None if c.kind == "cls" else 4
    foil = ref.explain(ck, ids, "gradxinput", position=P4, **extra0)["top"][2]["id"]
    fields = [f for f in LN_FIELDS if f != "relevance_token_types" or c.type_vocab]
    for extra in ({"position": P}, {"position": P4, "contrast": foil}, {"latent_start": (0, 5, 7), "position": P}):
        kw = dict(extra0, **extra)
        out = ref.explain(ck, ids, "gradxinput", **kw)
        start = dict(kw)
        if "latent_start" not in extra:
            start["target"] = out["target"]
        for field in fields:
            fd = ln_fd_relevance(ck, ids, field, **start)
            r = np.array(out[field])
            err = np.max(np.abs(fd - r))
            t.ok(err <= 1e-6 * max(np.max(np.abs(r)), 1e-3),
                 f"reference {name} gradxinput {'/'.join(k for k in extra if k != 'position') or 'logit'} "
                 f"{field}: vs finite differences, max err {err:.2e}")

    # A latent start at layer L: its own neuron's readout in layer L is the activation itself.
    for m in ref.METHODS:
        out = ref.explain(ck, ids, m, latent_start=(L, 6, 3), latent_layer=L, position=P, **extra0)
        lr = np.array(out["latent_relevance"])
        err = max(abs(lr[3] - own_readout(m, out)), float(np.max(np.abs(np.delete(lr, 3)))))
        t.ok(err <= 1e-12 * max(1.0, abs(out["start_value"])),
             f"reference {name} {m}: latent start's own neuron carries the activation, err {err:.2e}")

    # The blocks against torch.nn.TransformerEncoderLayer, with padding for the encoders.
    for tag, ids2, extra in ln_variants(ck, name, seqs):
        word, pos, types = ref.ln_inputs(ck, ids2, extra.get("token_types") or [0] * len(ids2))
        real = torch.tensor([bool(v) for v in extra.get("attention_mask", [1] * len(ids2))])
        with torch.no_grad():
            outs, _, _ = ref.ln_forward(ck, word, pos, types, real, "gradxinput")
            other = torch_layers_forward(ck, ids2, extra.get("token_types"), extra.get("attention_mask"))
        keep = real.nonzero()[:, 0]
        err = float((outs[-1] - other)[keep].abs().max())
        t.ok(err <= 1e-10, f"reference {name} {tag}: last block output vs torch.nn.TransformerEncoderLayer, "
                           f"max err {err:.2e}")

    if c.family == "gpt2":
        return
    # Padding: a padded tail gets exactly zero relevance and changes neither logits nor relevance.
    ids = seqs[33][:30]
    padded = ids + [c.pad] * 3
    mask = [1] * 30 + [0] * 3
    P = ln_position(ck, 30)
    for m in ref.METHODS:
        a = ref.explain(ck, ids, m, position=P, layers=True)
        b = ref.explain(ck, padded, m, position=P, layers=True, attention_mask=mask)
        tail = max(abs(v) for f in LN_FIELDS if f in b for v in b[f][30:])
        tail_res = max(abs(v) for row in b["residual_relevance"] for v in row[30:])
        dl = max(abs(x - y) for x, y in zip(a["logits"], b["logits"]))
        dr = max(abs(x - y) for f in LN_FIELDS if f in a for x, y in zip(a[f], b[f][:30]))
        scale = max(abs(v) for f in LN_FIELDS if f in a for v in a[f])
        t.ok(tail == 0.0 and tail_res == 0.0 and dl <= 1e-12 and dr <= 1e-10 * scale,
             f"reference {name} {m}: padded tail relevance {tail:.2e} (residual {tail_res:.2e}), "
             f"|dlogits| {dl:.2e}, |dR| {dr:.2e} vs the unpadded sequence")
    if c.family == "roberta":
        got = ref.position_ids(ck, [0, 5, c.pad, 7, c.pad, 9]).tolist()
        want = [c.pad + 1, c.pad + 2, c.pad, c.pad + 3, c.pad, c.pad + 4]
        t.ok(got == want, f"reference {name}: RoBERTa position ids {got} == {want}")


def ln_gradient_fd_check(t, name, ck, ids, token_types=None):
    P = ln_position(ck, len(ids))
    kw = {"position": P}
    if token_types:
        kw["token_types"] = token_types
    out = ref.explain(ck, ids, "gradient", **kw)
    for field in LN_FIELDS:
        if field not in out:
            continue
        fd = ln_fd_gradient_norm(ck, ids, field, target=out["target"], **kw)
        r = np.array(out[field])
        err = np.max(np.abs(fd - r))
        t.ok(err <= 1e-6 * np.max(np.abs(r)),
             f"reference {name} gradient {field}: norm vs finite differences, max err {err:.2e}")
    total = sum(sum(out[f]) for f in LN_FIELDS if f in out)
    t.ok(abs(total - out["relevance_sum"]) <= 1e-12 * abs(total),
         f"reference {name} gradient: relevance_sum is the sum of the per-input norms")


def ln_option_sets(ck, name, seqs):
    """(ids, reference kwargs, engine options) for one LayerNorm-family configuration."""
    c = ck.cfg
    if c.kind == "lm":
        return option_sets(c, seqs)
    L1 = min(1, c.layers - 1)
    s1, s7, s33 = seqs[1], seqs[7], seqs[33]
    sets = []
    if c.kind == "mlm":
        target = (s7[2] * 5 + 1) % c.vocab
        foil = (s33[0] + 7) % c.vocab
        sets += [
            (s1, {"position": 0}, ["--position", "0"]),
            (s7, {"position": 3, "layers": True, "latent_layer": L1},
             ["--position", "3", "--layers", "--latent-layer", str(L1)]),
            (s33, {"position": 20, "layers": True, "latent_layer": 0},
             ["--position", "20", "--layers", "--latent-layer", "0"]),
            (s7, {"target": target, "position": 3}, ["--target-id", str(target), "--position", "3"]),
            (s33, {"contrast": foil, "position": 20, "layers": True},
             ["--contrast", str(foil), "--position", "20", "--layers"]),
            (s7, {"latent_start": (L1, 4, 9), "latent_layer": L1, "layers": True, "position": 6},
             ["--latent-start", f"{L1},4,9", "--latent-layer", str(L1), "--layers", "--position", "6"]),
            (s33, {"latent_start": (0, 30, c.inter - 1), "position": 30},
             ["--latent-start", f"0,30,{c.inter - 1}", "--position", "30"]),
        ]
        pos = {"position": 12}
        pos_opts = ["--position", "12"]
    else:
        N = c.num_labels
        sets += [
            (s1, {}, []),
            (s7, {"layers": True, "latent_layer": L1}, ["--layers", "--latent-layer", str(L1)]),
            (s33, {"layers": True, "latent_layer": 0}, ["--layers", "--latent-layer", "0"]),
            (s7, {"target": 0}, ["--target-id", "0"]),
            (s33, {"target": N - 1, "contrast": 0, "layers": True},
             ["--target-id", str(N - 1), "--contrast", "0", "--layers"]),
            (s7, {"latent_start": (L1, 4, 9), "latent_layer": L1, "layers": True},
             ["--latent-start", f"{L1},4,9", "--latent-layer", str(L1), "--layers"]),
            (s33, {"latent_start": (0, 30, c.inter - 1)}, ["--latent-start", f"0,30,{c.inter - 1}"]),
        ]
        pos, pos_opts = {}, []
    for _, ids, extra in ln_variants(ck, name, seqs)[3:]:
        opts = list(pos_opts) + ["--layers", "--latent-layer", str(L1)]
        kw = dict(pos, layers=True, latent_layer=L1, **extra)
        if "token_types" in extra:
            opts += ["--token-type-ids", ",".join(map(str, extra["token_types"]))]
        if "attention_mask" in extra:
            opts += ["--attention-mask", ",".join(map(str, extra["attention_mask"]))]
        sets.append((ids, kw, opts))
        sets.append((ids, dict(kw, contrast=1 if c.kind == "cls" else 4),
                     opts + ["--contrast", "1" if c.kind == "cls" else "4"]))
    return sets


# ----------------------------------------------------------------------------------------------
# Engine comparison

class EngineGone(Exception):
    """The engine binary cannot be started at all: no point in running the remaining cases."""


def run_engine(binary, model_dir, ids, method, opts):
    cmd = [binary, "explain", "--model", model_dir, "--ids", ",".join(map(str, ids)),
           "--method", method, "--format", "json", "--all-logits"] + opts
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return None, "timed out after 120 s"
    except OSError as e:
        raise EngineGone(f"cannot run {binary}: {e}") from e
    if p.returncode != 0:
        return None, f"exit {p.returncode}: {p.stderr.strip()[:300]}"
    try:
        return json.loads(p.stdout), None
    except json.JSONDecodeError as e:
        return None, f"output is not JSON ({e}): {p.stdout[:200]!r}"


def compare_array(t, what, field, eng, want, tol_scale, abs_tol=0.0):
    if eng is None:
        return t.ok(False, f"{what} field={field}: missing in engine output")
    try:
        e = np.atleast_1d(np.array(eng, dtype=np.float64))
    except (TypeError, ValueError):
        return t.ok(False, f"{what} field={field}: not numeric: {str(eng)[:80]}")
    w = np.atleast_1d(np.array(want, dtype=np.float64))
    if e.shape != w.shape:
        return t.ok(False, f"{what} field={field}: shape {e.shape} vs reference {w.shape}")
    if w.size == 0:
        return t.ok(True, f"{what} field={field}: empty")
    tol = REL_TOL * tol_scale + abs_tol
    d = np.abs(e - w)
    d[np.isnan(d)] = np.inf
    k = int(np.argmax(d))
    idx = np.unravel_index(k, w.shape)
    idx = int(idx[0]) if len(idx) == 1 else list(map(int, idx))
    return t.ok(d.flat[k] <= tol,
                f"{what} field={field}: worst [{idx}] engine={e.flat[k]:.8g} ref={w.flat[k]:.8g} "
                f"|d|={d.flat[k]:.3g} tol={tol:.3g}")


# Phi's parallel block reads the residual stream only through one LayerNorm, which is scale-invariant:
# with exact gradients (gradxinput, gradient) x·∇x of a quantity that sees x only through that LayerNorm
# is ~0 up to the eps term (e.g. a latent start's own layer), a difference of O(|start|) terms that float32
# resolves to ~1e-7·|start|. Those fields are compared with this absolute tolerance on top.
PHI_CANCEL_ABS = 1e-6


def cancel_abs_tol(want):
    if want.get("family") == "phi" and want.get("method") in ("gradxinput", "gradient"):
        return PHI_CANCEL_ABS * abs(want["start_value"])
    return 0.0


def compare(t, what, eng, want, latent):
    lmax = max(abs(v) for v in want["logits"])
    ltol_scale = lmax
    for key in ("method", "family", "ids", "position"):
        if key not in want:  # classifiers have no position
            continue
        t.ok(eng.get(key) == want[key], f"{what} field={key}: engine={eng.get(key)!r} ref={want[key]!r}")
    if not latent:
        tgt = eng.get("target")
        # a near-tie for the argmax is not a disagreement
        lg = want["logits"]
        tie = tgt is not None and 0 <= tgt < len(lg) and abs(lg[tgt] - lg[want["target"]]) <= REL_TOL * lmax
        t.ok(tgt == want["target"] or tie, f"{what} field=target: engine={tgt!r} ref={want['target']!r}")
        compare_array(t, what, "target_logit", eng.get("target_logit"), want["target_logit"], ltol_scale, LOGIT_ABS)
        compare_array(t, what, "start_value", eng.get("start_value"), want["start_value"], ltol_scale, LOGIT_ABS)
    else:
        scale = max(abs(want["start_value"]), max(abs(v) for v in want["relevance"]))
        compare_array(t, what, "start_value", eng.get("start_value"), want["start_value"], scale, 1e-7)
    if eng.get("logits") is not None:
        compare_array(t, what, "logits", eng.get("logits"), want["logits"], ltol_scale, LOGIT_ABS)
    top = eng.get("top")
    if not isinstance(top, list) or not top:
        t.ok(False, f"{what} field=top: missing")
    else:
        ids = [e.get("id") for e in top]
        bad = [i for i in ids if not isinstance(i, int) or not 0 <= i < len(want["logits"])]
        if t.ok(not bad, f"{what} field=top: ids {ids} out of range"):
            compare_array(t, what, "top.logit", [e.get("logit") for e in top],
                          [want["logits"][i] for i in ids], ltol_scale, LOGIT_ABS)
            p = torch.softmax(torch.tensor(want["logits"]), 0)
            compare_array(t, what, "top.prob", [e.get("prob") for e in top], [float(p[i]) for i in ids], 1.0, 1e-6)
            want_ids = [e["id"] for e in want["top"]][:len(ids)]
            gaps_ok = all(ids[k] == want_ids[k] or abs(want["logits"][ids[k]] - want["logits"][want_ids[k]])
                          <= REL_TOL * lmax for k in range(len(ids)))
            t.ok(gaps_ok and len(ids) == min(5, len(want["logits"])),
                 f"{what} field=top: ids engine={ids} ref={want_ids}")
    rel = want["relevance"]
    rscale = max(max(abs(v) for v in rel), 1e-30)
    compare_array(t, what, "relevance", eng.get("relevance"), rel, rscale, cancel_abs_tol(want))
    inputs = [f for f in LN_FIELDS if f in want]
    for field in inputs[1:]:
        compare_array(t, what, field, eng.get(field), want[field], max(max(abs(v) for v in want[field]), 1e-30))
    if "relevance_cls" in want:
        compare_array(t, what, "relevance_cls", eng.get("relevance_cls"), want["relevance_cls"],
                      max(max(abs(want[f][0]) for f in inputs), abs(want["relevance_cls"]), 1e-30))
    compare_array(t, what, "relevance_sum", eng.get("relevance_sum"), want["relevance_sum"],
                  max(sum(abs(v) for f in inputs for v in want[f]), 1e-30), cancel_abs_tol(want))
    for field in ("residual_relevance", "latent_relevance", "expert_relevance", "shared_expert_relevance"):
        if field in want:
            w = np.array(want[field])
            compare_array(t, what, field, eng.get(field), want[field], max(float(np.max(np.abs(w))), 1e-30),
                          cancel_abs_tol(want))
    if "latent_expert" in want:
        t.ok(eng.get("latent_expert") == want["latent_expert"],
             f"{what} field=latent_expert: engine={eng.get('latent_expert')!r} ref={want['latent_expert']!r}")
    if "latent_layer" in want:
        t.ok(eng.get("latent_layer") == want["latent_layer"],
             f"{what} field=latent_layer: engine={eng.get('latent_layer')!r} ref={want['latent_layer']!r}")


def option_sets(c, seqs):
    """(ids, reference kwargs, engine options) for one configuration."""
    L1 = min(1, c.layers - 1)
    s1, s7, s33 = seqs[1], seqs[7], seqs[33]
    target = (s7[2] * 5 + 1) % c.vocab
    foil = (s33[0] + 7) % c.vocab
    return [
        (s1, {}, []),
        (s7, {"layers": True, "latent_layer": L1}, ["--layers", "--latent-layer", str(L1)]),
        (s33, {"layers": True, "latent_layer": 0}, ["--layers", "--latent-layer", "0"]),
        (s7, {"target": target, "position": 3}, ["--target-id", str(target), "--position", "3"]),
        (s33, {"contrast": foil, "position": 20, "layers": True}, ["--contrast", str(foil), "--position", "20", "--layers"]),
        (s7, {"latent_start": (L1, 4, 9), "latent_layer": L1, "layers": True},
         ["--latent-start", f"{L1},4,9", "--latent-layer", str(L1), "--layers"]),
        (s33, {"latent_start": (0, 30, c.inter - 1)}, ["--latent-start", f"0,30,{c.inter - 1}"]),
    ]


def moe_option_sets(c, seqs):
    """Mixture of experts: the latent neurons of each expert (--latent-expert E; a position not routed to E
    starts at zero), and expert_relevance (always reported) under the other options."""
    L1 = min(1, c.layers - 1)
    s7, s33 = seqs[7], seqs[33]
    sets = [(s7, {"latent_start": (L1, 4, 9), "latent_layer": L1, "latent_expert": e, "layers": True},
             ["--latent-start", f"{L1},4,9", "--latent-layer", str(L1), "--latent-expert", str(e), "--layers"])
            for e in range(c.experts)]
    sets.append((s33, {"latent_layer": 0, "latent_expert": c.experts - 1, "position": 17},
                 ["--latent-layer", "0", "--latent-expert", str(c.experts - 1), "--position", "17"]))
    return sets


def engine_checks(t, binary, name, ck, model_dir, seqs):
    sets = ln_option_sets(ck, name, seqs) if isinstance(ck, ref.LNCheckpoint) else option_sets(ck.cfg, seqs)
    if getattr(ck.cfg, "moe", False):
        sets = sets + moe_option_sets(ck.cfg, seqs)
    for ids, kw, opts in sets:
        for m in ref.METHODS:
            what = f"config={name} method={m} len={len(ids)} opts=[{' '.join(opts)}]"
            want = ref.explain(ck, ids, m, **kw)
            eng, err = run_engine(binary, model_dir, ids, m, opts)
            if not t.ok(eng is not None, f"{what}: engine failed: {err}"):
                continue
            compare(t, what, eng, want, "latent_start" in kw)
            if m == "cplrp" and name not in WITH_BIAS:  # SPEC 2: CP-LRP conserves with zero biases
                total = eng.get("relevance_sum", float("nan"))
                scale = abs(eng["start_value"]) + sum(abs(v) for f in LN_FIELDS
                                                      for v in (eng.get(f) or []) if isinstance(eng.get(f), list))
                t.ok(abs(total - eng["start_value"]) <= 1e-5 * scale,
                     f"{what}: engine conserves: relevance_sum {total} vs start_value {eng['start_value']}")
            if "attention_mask" in kw:  # SPEC 2: masked entries get exactly zero
                pads = [i for i, v in enumerate(kw["attention_mask"]) if not v]
                vals = [eng.get(f)[i] for f in LN_FIELDS if isinstance(eng.get(f), list)
                        and len(eng.get(f)) == len(ids) for i in pads]
                t.ok(vals and all(v == 0 for v in vals),
                     f"{what}: padded tokens' relevance exactly zero: {vals}")


def gguf_twin_checks(t, binary, name, ck, model_dir, seqs):
    """The GGUF twin of a checkpoint (tensors renamed, Conv1D transposed, LLaMA q/k rows permuted, Llama 3.1
    rope scaling as rope_freqs.weight) explains the same way."""
    path = model_dir + ".gguf"
    gguf_twin.convert(model_dir, path)
    sets = ln_option_sets(ck, name, seqs) if isinstance(ck, ref.LNCheckpoint) else option_sets(ck.cfg, seqs)
    for ids, _, opts in sets:
        for m in ref.METHODS:
            what = f"gguf twin of {name} method={m} len={len(ids)} opts=[{' '.join(opts)}]"
            hf, err1 = run_engine(binary, model_dir, ids, m, opts)
            gg, err2 = run_engine(binary, path, ids, m, opts)
            if not t.ok(hf is not None and gg is not None, f"{what}: engine failed: {err1 or err2}"):
                continue
            for field, v in hf.items():
                if field in ("seconds", "top") or not isinstance(v, (list, float, int)) or isinstance(v, bool):
                    continue
                a = np.array(v, dtype=np.float64).ravel()
                b = np.array(gg.get(field, []), dtype=np.float64).ravel()
                scale = max(1.0, float(np.max(np.abs(a)))) if a.size else 1.0
                t.ok(a.shape == b.shape and (a.size == 0 or float(np.max(np.abs(a - b))) <= 1e-5 * scale),
                     f"{what} field={field}: HF {a[:4]} vs GGUF {b[:4]}")


# ----------------------------------------------------------------------------------------------
# Vision Transformers (ViTForImageClassification, SPEC sections 3 and 5)

VIT_FIELDS = ("relevance", "relevance_cls", "relevance_positions")  # the three inputs (pixels per patch)
VIT_GAMMA = (0.25, 0.05)
# Conservation with the gamma rule is exact up to the stabiliser: each gamma layer returns
# sum_j R_j z_j / (z_j + 1e-6 sign z_j) instead of sum_j R_j (with zero biases), a relative change of at
# most 1e-6 / |z_j| per output unit; with the identity rule's 1e-10 on top.
GAMMA_CONS_TOL = 1e-5


MIN_GAMMA_OUTPUT = 1e-4


def vit_min_gamma_output(ck, x):
    """The smallest |y| over the outputs of the ops the gamma rule touches (patch convolution,
    intermediate.dense, output.dense, classifier)."""
    seen = []
    orig_lin, orig_conv = ref.vit_linear, ref.torch.nn.functional.conv2d

    def spy(v, wb, gamma):
        y = ref.linear(v, *wb)
        seen.append(float(y.abs().min()))
        return y

    def conv_spy(*a, **k):
        y = orig_conv(*a, **k)
        seen.append(float(y.abs().min()))
        return y

    ref.vit_linear = spy
    ref.torch.nn.functional.conv2d = conv_spy
    try:
        with torch.no_grad():
            ref.vit_forward(ck, x, ck.cls, ck.pos, "gradxinput")
    finally:
        ref.vit_linear, ref.torch.nn.functional.conv2d = orig_lin, orig_conv
    return min(seen)


def vit_images(ck, name):
    """Two random normal images [C, H, W] (already 'normalised'): one float32, one float64.

    Candidates whose gamma-rule ops have an output within MIN_GAMMA_OUTPUT of zero are skipped: there the
    stabiliser 1e-6 sign(z) changes that unit's gradient by a factor z / (z + 1e-6) that a float32 engine
    cannot reproduce to 1e-4 (its z carries an absolute rounding error of ~1e-7); at |z| >= 1e-4 the
    factor is within 1% of 1 and its float32 error is ~1e-5 of that."""
    c = ck.cfg
    rng = np.random.default_rng(zlib.crc32(("pixels:" + name).encode()))
    shape = (c.channels, c.image, c.image)
    out = []
    while len(out) < 2:
        img = rng.standard_normal(shape)
        if not out:
            img = img.astype(np.float32)
        if vit_min_gamma_output(ck, torch.from_numpy(img.astype(np.float64))) >= MIN_GAMMA_OUTPUT:
            out.append(img)
    return out


def _explicit_gamma(x, w, b, gamma, R):
    """The gamma rule by explicit sums over the terms of each output (numpy, float64): x (n, I),
    w (O, I), b (O,) or None, R (n, O) -> R(x) (n, I)."""
    n, I = x.shape
    O = w.shape[0]
    b = np.zeros(O) if b is None else b
    rx = np.zeros_like(x)

    def stab(z):
        return z + 1e-6 * (1.0 if z >= 0 else -1.0)

    for r in range(n):
        for j in range(O):
            y = float(np.dot(w[j], x[r]) + b[j])
            if y == 0:
                continue
            pos = y > 0
            terms = np.zeros(I)
            for i in range(I):
                wij, xi = w[j, i], x[r, i]
                if xi > 0:  # x+ meets W^{+g} for z+, W^{-g} for z-
                    terms[i] = xi * (wij + gamma * (max(wij, 0) if pos else min(wij, 0)))
                elif xi < 0:  # x- meets W^{-g} for z+, W^{+g} for z-
                    terms[i] = xi * (wij + gamma * (min(wij, 0) if pos else max(wij, 0)))
            bias = b[j] + gamma * (max(b[j], 0) if pos else min(b[j], 0))
            rx[r] += R[r, j] * terms / stab(terms.sum() + bias)
    return rx


def _as_read(x, rx):
    """x * g(x) with g(x) = R(x) / (x + 1e-10 sign(x)), sign(0) = +1, as the rule's backward returns."""
    return x * (rx / (x + 1e-10 * np.where(x >= 0, 1.0, -1.0)))


def _rule_relevance(kind, x, w, b, gamma, R, stride=1):
    """x * g(x) from ref.GammaRule's backward, seeded so that R(y) = R."""
    xl = x.clone().requires_grad_(True)
    y = ref.GammaRule.apply(xl, w, b, kind, gamma, stride)
    y.backward(R / y.detach())
    return (x * xl.grad), y.detach()


def gamma_rule_checks(t):
    """The LRP-gamma rule (SPEC section 5) against its closed form on random tensors."""
    rng = np.random.default_rng(5)
    # Linear: rows with positive and negative inputs, weights of both signs, an exact zero input.
    x = rng.standard_normal((3, 7))
    x[1, 2] = 0.0
    w = rng.standard_normal((5, 7))
    for bias in (None, 0.5 * rng.standard_normal(5)):
        btag = "bias" if bias is not None else "no bias"
        tb = None if bias is None else torch.tensor(bias)
        y = x @ w.T + (0 if bias is None else bias)
        R = y * rng.standard_normal(y.shape)  # relevance of either sign on outputs of either sign
        for gamma in (0.25, 0.05, 1.0, 0.0):
            got, _ = _rule_relevance("linear", torch.tensor(x), torch.tensor(w), tb, gamma, torch.tensor(R))
            want = _explicit_gamma(x, w, bias, gamma, R)
            err = float(np.max(np.abs(got.numpy() - _as_read(x, want))))
            t.ok(err <= 1e-12 * max(1.0, float(np.max(np.abs(want)))) and np.all(np.isfinite(got.numpy())),
                 f"reference gamma rule: linear ({btag}) gamma={gamma} vs explicit sums, max err {err:.2e}")
            direct = ref.gamma_relevance("linear", torch.tensor(x), torch.tensor(w), tb, gamma,
                                         torch.tensor(R), torch.tensor(y)).numpy()
            err2 = float(np.max(np.abs(direct - want)))
            t.ok(err2 <= 1e-12 * max(1.0, float(np.max(np.abs(want)))),
                 f"reference gamma rule: linear ({btag}) gamma={gamma} gamma_relevance vs explicit, err {err2:.2e}")
    # The patch convolution (stride = kernel): the same closed form on each patch.
    C, S, P, D = 2, 6, 3, 4
    xc = rng.standard_normal((1, C, S, S))
    wc = rng.standard_normal((D, C, P, P))
    bc = 0.4 * rng.standard_normal(D)
    for bias in (None, bc):
        btag = "bias" if bias is not None else "no bias"
        tb = None if bias is None else torch.tensor(bias)
        y = torch.nn.functional.conv2d(torch.tensor(xc), torch.tensor(wc), tb, stride=P).numpy()
        R = y * rng.standard_normal(y.shape)
        G = S // P
        for gamma in (0.25, 0.5):
            got, _ = _rule_relevance("conv", torch.tensor(xc), torch.tensor(wc), tb, gamma, torch.tensor(R), P)
            want = np.zeros_like(xc)
            for r in range(G):
                for q in range(G):
                    patch = xc[0, :, r * P:(r + 1) * P, q * P:(q + 1) * P].reshape(1, -1)
                    rp = _explicit_gamma(patch, wc.reshape(D, -1), bias, gamma, R[0, :, r, q].reshape(1, D))
                    want[0, :, r * P:(r + 1) * P, q * P:(q + 1) * P] = rp.reshape(C, P, P)
            err = float(np.max(np.abs(got.numpy() - _as_read(xc, want))))
            t.ok(err <= 1e-12 * max(1.0, float(np.max(np.abs(want)))),
                 f"reference gamma rule: conv ({btag}) gamma={gamma} vs explicit per-patch sums, max err {err:.2e}")
    # gamma = 0 is the epsilon rule with eps = 1e-6 sign(z): gradient x input of the op with the output
    # gradient scaled by y / stab(y); within 1e-6 / min|y| of plain gradient x input.
    xt, wt, bt = torch.tensor(x), torch.tensor(w), torch.tensor(0.5 * rng.standard_normal(5))
    g_out = torch.tensor(rng.standard_normal((3, 5)))
    xl = xt.clone().requires_grad_(True)
    (xl @ wt.T + bt).backward(g_out)
    plain = (xt * xl.grad).numpy()
    y = (xt @ wt.T + bt)
    got, _ = _rule_relevance("linear", xt, wt, bt, 0.0, y * g_out)
    eps_rule = _as_read(x, (xt * ((g_out * y / ref.stabilize(y)) @ wt)).numpy())
    err = float(np.max(np.abs(got.numpy() - eps_rule)))
    bound = 1e-6 / float(y.abs().min()) * float(np.max(np.abs(plain))) * 7
    err_plain = float(np.max(np.abs(got.numpy() - plain)))
    t.ok(err <= 1e-12 and err_plain <= bound,
         f"reference gamma rule: gamma=0 is the epsilon rule (err {err:.2e}) and gradient x input up to the "
         f"stabiliser (err {err_plain:.2e} <= {bound:.2e})")
    yc = torch.nn.functional.conv2d(torch.tensor(xc), torch.tensor(wc), torch.tensor(bc), stride=P)
    gc = torch.tensor(rng.standard_normal(tuple(yc.shape)))
    xl = torch.tensor(xc).requires_grad_(True)
    torch.nn.functional.conv2d(xl, torch.tensor(wc), torch.tensor(bc), stride=P).backward(gc)
    plain = (torch.tensor(xc) * xl.grad).numpy()
    got, _ = _rule_relevance("conv", torch.tensor(xc), torch.tensor(wc), torch.tensor(bc), 0.0, yc * gc, P)
    bound = 1e-6 / float(yc.abs().min()) * float(np.max(np.abs(plain))) * C * P * P
    err_plain = float(np.max(np.abs(got.numpy() - plain)))
    t.ok(err_plain <= bound, f"reference gamma rule: conv gamma=0 is gradient x input up to the stabiliser, "
                             f"err {err_plain:.2e} <= {bound:.2e}")
    # The stabiliser: sign(0) = +1; and zero-bias conservation is exactly sum_j R_j z_j / stab(z_j).
    st = ref.stabilize(torch.tensor([0.0, 2.0, -3.0, 1e-7, -1e-7]))
    want = [1e-6, 2.0 + 1e-6, -3.0 - 1e-6, 1e-7 + 1e-6, -1e-7 - 1e-6]
    t.ok(all(abs(a - b) <= 1e-18 for a, b in zip(st.tolist(), want)),
         f"reference gamma rule: stab(z) = z + 1e-6 sign(z), sign(0) = +1: {st.tolist()}")
    for gamma in (0.25, 0.0):
        xs = torch.tensor([[1.0, -2.0, 0.5]])
        ws = torch.tensor([[1e-7, 0.0, 0.0], [0.3, -0.2, 0.4], [-0.5, 0.1, 0.0]])  # unit 0: y = 1e-7
        y = xs @ ws.T
        R = y.clone()
        rx = ref.gamma_relevance("linear", xs, ws, None, gamma, R, y)
        xp, xn = xs.clamp(min=0), xs.clamp(max=0)
        wp, wn = ws + gamma * ws.clamp(min=0), ws + gamma * ws.clamp(max=0)
        zp, zn = xp @ wp.T + xn @ wn.T, xp @ wn.T + xn @ wp.T
        z = torch.where(y > 0, zp, zn)
        want = float((R * z / ref.stabilize(z)).sum())
        t.ok(abs(float(rx.sum()) - want) <= 1e-15 and abs(float(rx.sum()) - float(R.sum())) > 1e-8,
             f"reference gamma rule: gamma={gamma} conserves up to the stabiliser, sum R(x) {float(rx.sum()):.10g} "
             f"= sum R z/stab(z) {want:.10g} (sum R {float(R.sum()):.10g}; unit 0 has z = 1e-7)")
    # An exact zero input: relevance 0 and a finite modified gradient.
    xz = torch.tensor([[0.0, 1.0, -1.0]]).requires_grad_(True)
    yz = ref.GammaRule.apply(xz, torch.tensor([[0.5, -0.3, 0.2]]), None, "linear", 0.25, 1)
    yz.backward(torch.ones_like(yz))
    t.ok(bool(torch.all(torch.isfinite(xz.grad))) and float(xz.grad[0, 0]) == 0.0,
         f"reference gamma rule: an exact zero input gets a finite zero gradient: {xz.grad.tolist()}")


def vit_independent_logits(ck, pixels):
    """Logits by an implementation independent of reference.py's: the patch embedding as im2col and a
    matrix product, torch.nn.TransformerEncoderLayer (norm_first) blocks, F.layer_norm."""
    c = ck.cfg
    G, P, H = c.grid, c.patch, c.hidden
    x = torch.as_tensor(pixels, dtype=torch.float64)
    cols = x.reshape(c.channels, G, P, G, P).permute(1, 3, 0, 2, 4).reshape(G * G, -1)
    emb = cols @ ck.conv[0].reshape(H, -1).T + ck.conv[1]
    h = (torch.cat((ck.cls[None], emb), 0) + ck.pos)[None]
    with torch.no_grad():
        for b in ck.blocks:
            layer = torch.nn.TransformerEncoderLayer(H, c.heads, c.inter, dropout=0.0, activation="gelu",
                                                     layer_norm_eps=c.eps, batch_first=True,
                                                     norm_first=True).double()
            layer.train()
            layer.self_attn.in_proj_weight.copy_(torch.cat([b[n][0] for n in ("q", "k", "v")]))
            layer.self_attn.in_proj_bias.copy_(torch.cat([b[n][1] for n in ("q", "k", "v")]))
            for mod, key in ((layer.self_attn.out_proj, "o"), (layer.linear1, "fc1"), (layer.linear2, "fc2"),
                             (layer.norm1, "ln1"), (layer.norm2, "ln2")):
                mod.weight.copy_(b[key][0])
                mod.bias.copy_(b[key][1])
            h = layer(h)
        y = torch.nn.functional.layer_norm(h[0, 0], (H,), ck.norm[0], ck.norm[1], c.eps)
        return y @ ck.head[0].T + ck.head[1]


def vit_fd_relevance(ck, pixels, h=1e-5, pixel_level=False, **start):
    """Central differences of the start scalar when one input group is scaled by (1 +- h): per patch
    (all its pixels and channels), per pixel (all channels; with pixel_level), the CLS token, each
    position-embedding row."""
    c = ck.cfg
    x0 = torch.as_tensor(pixels, dtype=torch.float64)
    G, P = c.grid, c.patch

    def d(px=None, cls=None, pos=None):
        return ref.vit_start_value_at(ck, px if px is not None else x0, cls, pos, **start)

    out = {"relevance": [], "relevance_positions": []}
    for r in range(G):
        for q in range(G):
            vals = []
            for s in (1 + h, 1 - h):
                xs = x0.clone()
                xs[:, r * P:(r + 1) * P, q * P:(q + 1) * P] *= s
                vals.append(d(px=xs))
            out["relevance"].append((vals[0] - vals[1]) / (2 * h))
    out["relevance_cls"] = (d(cls=ck.cls * (1 + h)) - d(cls=ck.cls * (1 - h))) / (2 * h)
    for i in range(c.patches + 1):
        vals = []
        for s in (1 + h, 1 - h):
            ps = ck.pos.clone()
            ps[i] *= s
            vals.append(d(pos=ps))
        out["relevance_positions"].append((vals[0] - vals[1]) / (2 * h))
    if pixel_level:
        pix = np.zeros((c.image, c.image))
        for r in range(c.image):
            for q in range(c.image):
                vals = []
                for s in (1 + h, 1 - h):
                    xs = x0.clone()
                    xs[:, r, q] *= s
                    vals.append(d(px=xs))
                pix[r, q] = (vals[0] - vals[1]) / (2 * h)
        out["relevance_pixels"] = pix
    return out


def vit_fd_gradient(ck, pixels, h=1e-5, **start):
    """The finite-difference gradient of the start scalar along every pixel value, the CLS token and the
    position embeddings."""
    c = ck.cfg
    x0 = torch.as_tensor(pixels, dtype=torch.float64)
    gx = np.zeros(tuple(x0.shape))
    for idx in np.ndindex(*x0.shape):
        vals = []
        for s in (h, -h):
            xs = x0.clone()
            xs[idx] += s
            vals.append(ref.vit_start_value_at(ck, xs, **start))
        gx[idx] = (vals[0] - vals[1]) / (2 * h)
    gc = np.zeros(c.hidden)
    for i in range(c.hidden):
        vals = []
        for s in (h, -h):
            cs = ck.cls.clone()
            cs[i] += s
            vals.append(ref.vit_start_value_at(ck, x0, cls=cs, **start))
        gc[i] = (vals[0] - vals[1]) / (2 * h)
    gp = np.zeros(tuple(ck.pos.shape))
    for idx in np.ndindex(*gp.shape):
        vals = []
        for s in (h, -h):
            ps = ck.pos.clone()
            ps[idx] += s
            vals.append(ref.vit_start_value_at(ck, x0, pos=ps, **start))
        gp[idx] = (vals[0] - vals[1]) / (2 * h)
    return gx, gc, gp


def vit_total(out):
    return sum(out["relevance"]) + out["relevance_cls"] + sum(out["relevance_positions"])


def vit_self_checks(t, name, ck, images):
    c = ck.cfg
    zero_bias = name not in WITH_BIAS
    L = c.layers - 1
    N = c.patches
    for k, img in enumerate(images):
        x = torch.from_numpy(img.astype(np.float64))
        with torch.no_grad():
            _, _, lg = ref.vit_forward(ck, x, ck.cls, ck.pos, "gradxinput")
        other = vit_independent_logits(ck, x)
        err = float((lg - other).abs().max())
        t.ok(err <= 1e-10, f"reference {name} image {k}: logits vs im2col + torch.nn.TransformerEncoderLayer, "
                           f"max err {err:.2e}")
    ratios = []
    for k, img in enumerate(images):
        x = torch.from_numpy(img.astype(np.float64))
        runner_up = ref.vit_explain(ck, x, "gradxinput")["top"][1]["id"]
        for extra in ({}, {"contrast": runner_up}, {"latent_start": (L, 3, 5)}):
            what = f"image {k} {'/'.join(extra) or 'logit'}"
            for gamma in (None, VIT_GAMMA):
                gtag = "" if gamma is None else f" gamma={gamma[0]},{gamma[1]}"
                cp = ref.vit_explain(ck, x, "cplrp", layers=True, gamma=gamma, **extra)
                at = ref.vit_explain(ck, x, "attnlrp", layers=True, gamma=gamma, **extra)
                y = cp["start_value"]
                for m, o in (("cplrp", cp), ("attnlrp", at)):
                    pix = float(np.sum(o["relevance_pixels"]))
                    t.ok(abs(pix - sum(o["relevance"])) <= 1e-12 * max(1.0, abs(pix)) + 1e-14
                         and abs(vit_total(o) - o["relevance_sum"]) <= 1e-12 * max(1.0, abs(y)),
                         f"reference {name} {what}{gtag} {m}: per-patch relevance sums the pixels, "
                         f"relevance_sum sums pixels + cls + positions")
                if zero_bias:
                    err = abs(cp["relevance_sum"] - y)
                    tol = (1e-8 * abs(y) + 1e-10) if gamma is None else GAMMA_CONS_TOL * abs(y) + 1e-10
                    t.ok(err <= tol, f"reference {name} {what}{gtag}: cplrp conserves over pixels + cls + "
                                     f"positions, |sum R - start| = {err:.2e} (rel {err / abs(y):.1e}), "
                                     f"start {y:.6g}")
                if "latent_start" not in extra:
                    ratios.append(at["relevance_sum"] / at["start_value"])
                    for m, o in (("cplrp", cp), ("attnlrp", at)):
                        last = sum(o["residual_relevance"][-1])
                        if zero_bias:
                            err = abs(last - o["start_value"])
                            tol = 1e-9 if gamma is None else GAMMA_CONS_TOL
                            t.ok(err <= tol * max(1.0, abs(o["start_value"])),
                                 f"reference {name} {what}{gtag}: {m} last residual relevance sums to start, "
                                 f"err {err:.2e}")
            # gamma = 0 is the plain rules up to the stabiliser
            g0 = ref.vit_explain(ck, x, "cplrp", gamma=(0.0, 0.0), **extra)
            cp = ref.vit_explain(ck, x, "cplrp", **extra)
            scale = max(abs(v) for v in cp["relevance"])
            err = max(abs(a - b) for a, b in zip(g0["relevance"], cp["relevance"]))
            t.ok(err <= 1e-4 * scale, f"reference {name} {what}: cplrp --gamma 0,0 equals cplrp up to the "
                                      f"stabiliser, max err {err:.2e} (scale {scale:.2e})")
            g = ref.vit_explain(ck, x, "cplrp", gamma=VIT_GAMMA, **extra)
            diff = max(abs(a - b) for a, b in zip(g["relevance"], cp["relevance"]))
            t.ok(diff > 1e-3 * scale, f"reference {name} {what}: --gamma {VIT_GAMMA} changes cplrp relevance "
                                      f"(max diff {diff:.2e})")
    if zero_bias:
        worst = max(abs(r - 1) for r in ratios)
        t.ok(worst > 1e-2, f"reference {name}: attnlrp (+gamma) does not conserve, sum R / start = "
                           + " ".join(f"{r:.3f}" for r in ratios))

    # gradxinput against finite differences: per patch, CLS, positions (and per pixel on the gray model).
    img = images[0]
    x = torch.from_numpy(img.astype(np.float64))
    foil = ref.vit_explain(ck, x, "gradxinput")["top"][2]["id"]
    for extra in ({}, {"contrast": foil}, {"latent_start": (0, 5, 7)}):
        out = ref.vit_explain(ck, x, "gradxinput", **extra)
        start = dict(extra)
        if "latent_start" not in extra:
            start["target"] = out["target"]
        fd = vit_fd_relevance(ck, img, pixel_level=(name == "vit_gray"), **start)
        tag = '/'.join(extra) or 'logit'
        for field, want in fd.items():
            r = np.array(out[field])
            err = float(np.max(np.abs(np.array(want) - r)))
            t.ok(err <= 1e-6 * max(float(np.max(np.abs(r))), 1e-3),
                 f"reference {name} gradxinput {tag} {field}: vs finite differences, max err {err:.2e}")

    # gradient: the norms against finite-difference gradients (the gray model: every pixel value).
    if name == "vit_gray":
        out = ref.vit_explain(ck, x, "gradient")
        gx, gcl, gp = vit_fd_gradient(ck, img, target=out["target"])
        G, P = c.grid, c.patch
        want = {"relevance_pixels": np.sqrt((gx ** 2).sum(0)),
                "relevance": np.sqrt((gx ** 2).reshape(c.channels, G, P, G, P).sum((0, 2, 4))).reshape(-1),
                "relevance_cls": np.linalg.norm(gcl), "relevance_positions": np.linalg.norm(gp, axis=1)}
        for field, w in want.items():
            r = np.array(out[field])
            err = float(np.max(np.abs(w - r)))
            t.ok(err <= 1e-6 * float(np.max(np.abs(r))),
                 f"reference {name} gradient {field}: L2 norm vs finite differences, max err {err:.2e}")
        t.ok(abs(vit_total(out) - out["relevance_sum"]) <= 1e-12 * abs(out["relevance_sum"]),
             f"reference {name} gradient: relevance_sum sums the per-patch, CLS and position norms")

    # A latent start at layer L: its own neuron's readout in layer L is the activation itself.
    for m in ref.METHODS:
        for gamma in ((None,) if m in ("gradxinput", "gradient") else (None, VIT_GAMMA)):
            out = ref.vit_explain(ck, x, m, latent_start=(L, N, 3), latent_layer=L, gamma=gamma)
            lr = np.array(out["latent_relevance"])
            err = max(abs(lr[3] - own_readout(m, out)), float(np.max(np.abs(np.delete(lr, 3)))))
            t.ok(err <= 1e-12 * max(1.0, abs(out["start_value"])),
                 f"reference {name} {m} gamma={gamma}: latent start's own neuron carries the activation, "
                 f"err {err:.2e}")
    # --gamma only with attnlrp / cplrp.
    for m in ("gradxinput", "gradient"):
        try:
            ref.vit_explain(ck, x, m, gamma=VIT_GAMMA)
            t.ok(False, f"reference {name}: {m} with --gamma is refused")
        except ref.ReferenceError:
            t.ok(True, f"reference {name}: {m} with --gamma is refused")


def vit_option_sets(ck):
    """(image index, reference kwargs, engine options)."""
    c = ck.cfg
    L1 = min(1, c.layers - 1)
    N = c.num_labels
    return [
        (0, {}, []),
        (1, {"layers": True, "latent_layer": L1}, ["--layers", "--latent-layer", str(L1)]),
        (0, {"target": 0, "layers": True}, ["--target-id", "0", "--layers"]),
        (1, {"target": N - 1, "contrast": 0, "layers": True},
         ["--target-id", str(N - 1), "--contrast", "0", "--layers"]),
        (0, {"latent_start": (L1, 3, 5), "latent_layer": L1, "layers": True},
         ["--latent-start", f"{L1},3,5", "--latent-layer", str(L1), "--layers"]),
        (1, {"latent_start": (0, 0, c.inter - 1)}, ["--latent-start", f"0,0,{c.inter - 1}"]),
    ]


def run_vit_engine(binary, model_dir, pixels_path, method, opts):
    cmd = [binary, "explain", "--model", model_dir, "--pixels", pixels_path, "--method", method,
           "--format", "json", "--all-logits"] + opts
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return None, "timed out after 120 s", None
    except OSError as e:
        raise EngineGone(f"cannot run {binary}: {e}") from e
    if p.returncode != 0:
        return None, f"exit {p.returncode}: {p.stderr.strip()[:300]}", p
    try:
        return json.loads(p.stdout), None, p
    except json.JSONDecodeError as e:
        return None, f"output is not JSON ({e}): {p.stdout[:200]!r}", p


def vit_compare(t, what, eng, want, latent):
    lmax = max(abs(v) for v in want["logits"])
    for key in ("method", "family"):
        t.ok(eng.get(key) == want[key], f"{what} field={key}: engine={eng.get(key)!r} ref={want[key]!r}")
    lg = want["logits"]
    if not latent:
        tgt = eng.get("target")
        tie = isinstance(tgt, int) and 0 <= tgt < len(lg) and abs(lg[tgt] - lg[want["target"]]) <= REL_TOL * lmax
        t.ok(tgt == want["target"] or tie, f"{what} field=target: engine={tgt!r} ref={want['target']!r}")
        compare_array(t, what, "target_logit", eng.get("target_logit"), want["target_logit"], lmax, LOGIT_ABS)
        compare_array(t, what, "start_value", eng.get("start_value"), want["start_value"], lmax, LOGIT_ABS)
        if "target_token" in want and (tgt == want["target"]):
            t.ok(eng.get("target_token") == want["target_token"],
                 f"{what} field=target_token: engine={eng.get('target_token')!r} ref={want['target_token']!r}")
    else:
        scale = max(abs(want["start_value"]), max(abs(v) for v in want["relevance"]))
        compare_array(t, what, "start_value", eng.get("start_value"), want["start_value"], scale, 1e-7)
    compare_array(t, what, "logits", eng.get("logits"), lg, lmax, LOGIT_ABS)
    top = eng.get("top")
    if not isinstance(top, list) or not top:
        t.ok(False, f"{what} field=top: missing")
    else:
        ids = [e.get("id") for e in top]
        bad = [i for i in ids if not isinstance(i, int) or not 0 <= i < len(lg)]
        if t.ok(not bad, f"{what} field=top: ids {ids} out of range"):
            compare_array(t, what, "top.logit", [e.get("logit") for e in top], [lg[i] for i in ids], lmax, LOGIT_ABS)
            p = torch.softmax(torch.tensor(lg), 0)
            compare_array(t, what, "top.prob", [e.get("prob") for e in top], [float(p[i]) for i in ids], 1.0, 1e-6)
            want_ids = [e["id"] for e in want["top"]][:len(ids)]
            gaps_ok = all(ids[k] == want_ids[k] or abs(lg[ids[k]] - lg[want_ids[k]]) <= REL_TOL * lmax
                          for k in range(len(ids)))
            t.ok(gaps_ok and len(ids) == min(5, len(lg)), f"{what} field=top: ids engine={ids} ref={want_ids}")
    for field in ("relevance", "relevance_pixels", "relevance_positions", "residual_relevance",
                  "latent_relevance"):
        if field in want:
            w = np.array(want[field])
            compare_array(t, what, field, eng.get(field), want[field], max(float(np.max(np.abs(w))), 1e-30))
    compare_array(t, what, "relevance_cls", eng.get("relevance_cls"), want["relevance_cls"],
                  max(abs(want["relevance_cls"]), max(abs(v) for v in want["relevance_positions"]), 1e-30))
    compare_array(t, what, "relevance_sum", eng.get("relevance_sum"), want["relevance_sum"],
                  max(sum(abs(v) for v in want["relevance"]) + abs(want["relevance_cls"])
                      + sum(abs(v) for v in want["relevance_positions"]), 1e-30))
    if "latent_layer" in want:
        t.ok(eng.get("latent_layer") == want["latent_layer"],
             f"{what} field=latent_layer: engine={eng.get('latent_layer')!r} ref={want['latent_layer']!r}")


def vit_engine_checks(t, binary, name, ck, model_dir, images):
    paths = []
    for k, img in enumerate(images):
        path = os.path.join(model_dir, f"pixels{k}.npy")
        np.save(path, img)
        paths.append(path)
    zero_bias = name not in WITH_BIAS
    for set_no, (k, kw, opts) in enumerate(vit_option_sets(ck)):
        x = torch.from_numpy(images[k].astype(np.float64))
        for m in ref.METHODS:
            gammas = [None]
            if m in ("attnlrp", "cplrp"):
                gammas.append(VIT_GAMMA)
                if set_no in (0, 3):
                    gammas += [(0.5, 0.1), (0.0, 0.0)]
            for gamma in gammas:
                gopts = [] if gamma is None else ["--gamma", f"{gamma[0]:g},{gamma[1]:g}"]
                what = f"config={name} method={m} image={k} ({images[k].dtype}) opts=[{' '.join(opts + gopts)}]"
                want = ref.vit_explain(ck, x, m, gamma=gamma, **kw)
                eng, err, _ = run_vit_engine(binary, model_dir, paths[k], m, opts + gopts)
                if not t.ok(eng is not None, f"{what}: engine failed: {err}"):
                    continue
                vit_compare(t, what, eng, want, "latent_start" in kw)
                if m == "cplrp" and zero_bias:
                    total = eng.get("relevance_sum", float("nan"))
                    y = eng.get("start_value", float("nan"))
                    scale = abs(y) + sum(abs(v) for f in ("relevance", "relevance_positions")
                                         for v in (eng.get(f) or []) if isinstance(v, (int, float)))
                    tol = 1e-5 * scale + (0 if gamma is None else GAMMA_CONS_TOL * abs(y))
                    t.ok(abs(total - y) <= tol,
                         f"{what}: engine conserves: relevance_sum {total} vs start_value {y}")
    # --gamma with gradxinput / gradient: a usage error (exit 2), nothing on stdout.
    for m in ("gradxinput", "gradient"):
        eng, err, p = run_vit_engine(binary, model_dir, paths[0], m, ["--gamma", "0.25,0.05"])
        t.ok(p is not None and p.returncode == 2 and not p.stdout.strip() and "gamma" in p.stderr
             and len(p.stderr.strip().splitlines()) == 1,
             f"config={name} method={m} --gamma 0.25,0.05: usage error, exit 2, one line on stderr "
             f"(got {None if p is None else p.returncode}: {(err or '')[:120]})")


# ----------------------------------------------------------------------------------------------
# T5 encoder-decoders (`--families t5`): the source relevance (`relevance`) and the decoder input's
# (`decoder_relevance`, start token included), encoder lengths 1/7/33 and decoder prefixes of 0 and 4
# tokens. Self-checks: cplrp conserves over source + target (T5 has no biases, and the relu/gelu identity
# rule, the ½ gate rule and the RMSNorm rule each conserve); the last decoder block's residual relevance is
# the start value; attnlrp does not conserve; gradxinput against finite differences over both inputs.

T5_FIELDS = ("relevance", "decoder_relevance")


def t5_cases(ck, name):
    rng = np.random.default_rng(zlib.crc32(("t5:" + name).encode()))
    V, start = ck.cfg.vocab, ck.cfg.start
    srcs = {n: [int(v) for v in rng.integers(0, V, n)] for n in (1, 7, 33)}
    prefixes = {0: [], 4: [int(v) for v in rng.integers(0, V, 4)]}
    return srcs, {k: [start] + p for k, p in prefixes.items()}


def t5_fd_relevance(ck, ids, dec_ids, target, contrast=None, h=1e-5):
    """Central differences of the start scalar when one token's embedding (source, then decoder) is scaled."""
    E = ck.embed[torch.tensor(ids)].clone()
    D = ck.embed[torch.tensor(dec_ids)].clone()
    out = []
    for which, M in ((0, E), (1, D)):
        for i in range(M.shape[0]):
            vals = []
            for sgn in (1, -1):
                Mp = M.clone()
                Mp[i] *= 1 + sgn * h
                args = (Mp, D) if which == 0 else (E, Mp)
                vals.append(ref.t5_start_value_at(ck, ids, dec_ids, *args, target, contrast=contrast))
            out.append((vals[0] - vals[1]) / (2 * h))
    return np.array(out)


def t5_self_checks(t, name, ck):
    srcs, decs = t5_cases(ck, name)
    ratios = []
    for n, ids in srcs.items():
        for k, dec in decs.items():
            tag = f"{name} src={n} prefix={k}"
            at = ref.t5_explain(ck, ids, dec, "attnlrp", layers=True)
            runner_up = at["top"][1]["id"]
            for extra in ({}, {"contrast": runner_up}):
                cp = ref.t5_explain(ck, ids, dec, "cplrp", layers=True, **extra)
                y = cp["start_value"]
                err = abs(sum(cp["relevance"]) + sum(cp["decoder_relevance"]) - y)
                t.ok(err <= 1e-6 * abs(y) + 1e-12, f"reference {tag} {'contrast' if extra else 'logit'}: cplrp "
                                                     f"conserves over source + target, err {err:.2e}, start {y:.6g}")
            for m, o in (("cplrp", cp), ("attnlrp", at)):
                err = abs(sum(o["decoder_residual_relevance"][-1]) - o["start_value"])
                t.ok(err <= 1e-9 * max(1.0, abs(o["start_value"])),
                     f"reference {tag}: {m} last decoder residual relevance sums to start, err {err:.2e}")
            ratios.append(at["relevance_sum"] / at["start_value"])
    worst = max(abs(r - 1) for r in ratios)
    t.ok(worst > 1e-2, f"reference {name}: attnlrp does not conserve, sum R / start = "
                       + " ".join(f"{r:.3f}" for r in ratios))
    ids, dec = srcs[7], decs[4]
    for extra in ({}, {"contrast": 3}):
        out = ref.t5_explain(ck, ids, dec, "gradxinput", **extra)
        fd = t5_fd_relevance(ck, ids, dec, out["target"], extra.get("contrast"))
        r = np.array(out["relevance"] + out["decoder_relevance"])
        err = np.max(np.abs(fd - r))
        t.ok(err <= 1e-6 * max(np.max(np.abs(r)), 1e-3),
             f"reference {name} gradxinput {'contrast' if extra else 'logit'}: source and decoder relevance vs "
             f"finite differences, max err {err:.2e}")


def t5_option_sets(ck, name):
    """(source ids, decoder input, reference kwargs, engine options)."""
    c = ck.cfg
    srcs, decs = t5_cases(ck, name)
    sets = [(srcs[n], decs[k], {}, []) for n in (1, 7, 33) for k in (0, 4)]
    E, Lenc, Ldec = c.enc_layers, c.enc_layers - 1, c.layers - 1
    sets += [
        (srcs[7], decs[4], {"layers": True, "latent_layer": Lenc}, ["--layers", "--latent-layer", str(Lenc)]),
        (srcs[33], decs[0], {"layers": True, "latent_layer": Ldec}, ["--layers", "--latent-layer", str(Ldec)]),
        (srcs[7], decs[4], {"target": 11, "position": 2}, ["--target-id", "11", "--position", "2"]),
        (srcs[33], decs[4], {"contrast": 5, "layers": True}, ["--contrast", "5", "--layers"]),
        (srcs[7], decs[4], {"latent_start": (0, 6, 9), "latent_layer": 0}, ["--latent-start", "0,6,9", "--latent-layer", "0"]),
        (srcs[7], decs[4], {"latent_start": (E, 3, c.inter - 1), "layers": True},
         ["--latent-start", f"{E},3,{c.inter - 1}", "--layers"]),
    ]
    return sets


def t5_compare(t, what, eng, want, latent):
    for key in ("method", "family", "ids", "decoder_ids", "position"):
        t.ok(eng.get(key) == want[key], f"{what} field={key}: engine={eng.get(key)!r} ref={want[key]!r}")
    lmax = max(abs(v) for v in want["logits"])
    compare_array(t, what, "logits", eng.get("logits"), want["logits"], lmax, LOGIT_ABS)
    if not latent:
        t.ok(eng.get("target") == want["target"], f"{what} field=target: engine={eng.get('target')} ref={want['target']}")
        compare_array(t, what, "target_logit", eng.get("target_logit"), want["target_logit"], lmax, LOGIT_ABS)
    scale = max(max(abs(v) for f in T5_FIELDS for v in want[f]), abs(want["start_value"]) if latent else 0, 1e-30)
    compare_array(t, what, "start_value", eng.get("start_value"), want["start_value"], max(lmax, scale), LOGIT_ABS)
    for f in T5_FIELDS:
        compare_array(t, what, f, eng.get(f), want[f], max(max(abs(v) for v in want[f]), 1e-30))
    compare_array(t, what, "relevance_sum", eng.get("relevance_sum"), want["relevance_sum"],
                  sum(abs(v) for f in T5_FIELDS for v in want[f]))
    for f in ("encoder_residual_relevance", "decoder_residual_relevance", "latent_relevance"):
        if f in want:
            w = np.array(want[f])
            compare_array(t, what, f, eng.get(f), want[f], max(float(np.max(np.abs(w))), 1e-30))
    t.ok("residual_relevance" not in eng, f"{what}: no residual_relevance for an encoder-decoder")


def t5_engine_checks(t, binary, name, ck, model_dir):
    for ids, dec, kw, opts in t5_option_sets(ck, name):
        prefix = ["--decoder-ids", ",".join(map(str, dec[1:]))] if len(dec) > 1 else []
        for m in ref.METHODS:
            what = f"config={name} method={m} src={len(ids)} prefix={len(dec) - 1} opts=[{' '.join(opts)}]"
            want = ref.t5_explain(ck, ids, dec, m, **kw)
            eng, err = run_engine(binary, model_dir, ids, m, prefix + opts)
            if not t.ok(eng is not None, f"{what}: engine failed: {err}"):
                continue
            t5_compare(t, what, eng, want, "latent_start" in kw)
            if m == "cplrp":  # SPEC 2: CP-LRP conserves over source + target (T5 has no biases)
                total = eng.get("relevance_sum", float("nan"))
                scale = abs(eng["start_value"]) + sum(abs(v) for f in T5_FIELDS for v in eng.get(f) or [])
                t.ok(abs(total - eng["start_value"]) <= 1e-5 * scale,
                     f"{what}: engine conserves over source + target: relevance_sum {total} vs start_value "
                     f"{eng['start_value']}")


def engine_usable(binary):
    if not os.path.isfile(binary) or not os.access(binary, os.X_OK):
        return f"{binary} does not exist or is not executable (run make)"
    return None


def main():
    ap = argparse.ArgumentParser(description="engine vs PyTorch reference")
    ap.add_argument("--bin", default="build/attnlrp")
    ap.add_argument("--keep", help="write the checkpoints here and keep them")
    ap.add_argument("--only", help="comma-separated configuration names")
    ap.add_argument("--families", help="comma-separated model_type values (llama, mistral, qwen2, qwen3, "
                                       "mixtral, qwen3_moe, qwen2_moe, "
                                       "gpt2, bert, roberta, distilbert, vit, gemma2, gemma3_text, t5): only "
                                       "their configurations")
    ap.add_argument("--no-engine", action="store_true", help="self-checks of the reference only")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    t = Tally(a.verbose)
    names = a.only.split(",") if a.only else list(make_checkpoint.CONFIGS)
    if a.families:
        wanted = set(a.families.split(","))
        names = [n for n in names if n not in make_checkpoint.CONFIGS
                 or make_checkpoint.CONFIGS[n][0]["model_type"] in wanted]
    root = a.keep or tempfile.mkdtemp(prefix="attnlrp-ref-")
    t0 = time.time()
    binary = None
    if not a.no_engine:
        problem = engine_usable(a.bin)
        if problem:
            t.ok(False, f"engine: {problem}")
        else:
            binary = a.bin
    try:
        if any(make_checkpoint.CONFIGS.get(n, ({},))[0].get("model_type") == "vit" for n in names):
            gamma_rule_checks(t)
        # TinyStories-656K is a LLaMA: skipped when --families leaves llama out (e.g. --families vit).
        ts = check_golden(t) if not a.families or "llama" in a.families.split(",") else None
        if ts is not None and binary:
            for m in ref.METHODS:
                what = f"config=TinyStories-656K method={m} len=6 opts=[--layers --latent-layer 1]"
                want = ref.explain(ts, TINYSTORIES_IDS, m, layers=True, latent_layer=1)
                eng, err = run_engine(binary, TINYSTORIES, TINYSTORIES_IDS, m, ["--layers", "--latent-layer", "1"])
                if t.ok(eng is not None, f"{what}: engine failed: {err}"):
                    compare(t, what, eng, want, False)
        for name in names:
            if name not in make_checkpoint.CONFIGS:
                t.ok(False, f"unknown configuration {name!r}")
                continue
            model_dir = os.path.join(root, name)
            make_checkpoint.write_checkpoint(model_dir, name)
            ck = ref.open_checkpoint(model_dir)
            if isinstance(ck, ref.ViTCheckpoint):
                images = vit_images(ck, name)
                vit_self_checks(t, name, ck, images)
                if binary:
                    vit_engine_checks(t, binary, name, ck, model_dir, images)
                continue
            if isinstance(ck, ref.T5Checkpoint):
                t5_self_checks(t, name, ck)
                if binary:
                    t5_engine_checks(t, binary, name, ck, model_dir)
                continue
            if isinstance(ck, ref.LNCheckpoint):
                seqs = ln_sequences(ck, name)
                ln_self_checks(t, name, ck, seqs)
                if name in GRADIENT_FD:
                    ln_gradient_fd_check(t, name, ck, seqs[7], GRADIENT_FD[name])
            else:
                seqs = sequences(ck.cfg.vocab, name)
                self_checks(t, name, ck, seqs)
                if name == "llama_mha":
                    gradient_fd_check(t, name, ck, seqs[7])
            if binary:
                engine_checks(t, binary, name, ck, model_dir, seqs)
                if name in GGUF_TWINS:
                    gguf_twin_checks(t, binary, name, ck, model_dir, seqs)
    except EngineGone as e:
        t.ok(False, f"engine: {e}; remaining engine comparisons not run")
    finally:
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"reference check took {time.time() - t0:.1f} s")
    print(f"{t.passed} passed, {t.failed} failed")
    return 0 if t.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
