#!/usr/bin/python3
"""Writes the benchmark checkpoint: a random LLaMA-shaped model of about 125M parameters (85M outside the
embedding and head) in exact Hugging Face layout (config.json + model.safetensors).

    make_bench_model.py [OUTDIR] [--bf16] [--seed N] [--layers N]

OUTDIR defaults to /tmp/attnlrp-bench-model (never write it inside the repository: it is ~500 MB in F32).
Shape: hidden 768, 12 layers, 12 heads, 4 key/value heads (head_dim 64), intermediate 2048, vocab 32000,
untied head, no biases. Weights are drawn N(0, σ²) with σ chosen so that activations stay O(1):
projections 1/sqrt(fan_in), the two projections that write into the residual stream (o_proj, down_proj)
additionally divided by sqrt(2·layers), embeddings N(0, 1), norm weights 1 + N(0, 0.05²). Logits then
come out with a standard deviation of about one, so the softmax is neither flat nor saturated.

safetensors layout: u64 little-endian header length, the JSON header (dtype, shape, data_offsets per
tensor, padded with spaces to a multiple of 8), then the tensors' bytes back to back.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

HIDDEN, LAYERS, HEADS, KV_HEADS, INTER, VOCAB = 768, 12, 12, 4, 2048, 32000


def config(layers, dtype_name):
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": HIDDEN,
        "num_hidden_layers": layers,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "intermediate_size": INTER,
        "vocab_size": VOCAB,
        "hidden_act": "silu",
        "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "rope_scaling": None,
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": False,
        "initializer_range": 0.02,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": dtype_name,
        "transformers_version": "4.46.0",
        "use_cache": True,
    }


def tensor_plan(layers):
    """[(name, shape, kind)] in the order they are written; kind picks the initialisation."""
    hd = HIDDEN // HEADS
    plan = [("model.embed_tokens.weight", (VOCAB, HIDDEN), "embed")]
    for i in range(layers):
        p = f"model.layers.{i}."
        plan += [
            (p + "input_layernorm.weight", (HIDDEN,), "norm"),
            (p + "self_attn.q_proj.weight", (HEADS * hd, HIDDEN), "proj"),
            (p + "self_attn.k_proj.weight", (KV_HEADS * hd, HIDDEN), "proj"),
            (p + "self_attn.v_proj.weight", (KV_HEADS * hd, HIDDEN), "proj"),
            (p + "self_attn.o_proj.weight", (HIDDEN, HEADS * hd), "residual"),
            (p + "post_attention_layernorm.weight", (HIDDEN,), "norm"),
            (p + "mlp.gate_proj.weight", (INTER, HIDDEN), "proj"),
            (p + "mlp.up_proj.weight", (INTER, HIDDEN), "proj"),
            (p + "mlp.down_proj.weight", (HIDDEN, INTER), "residual"),
        ]
    plan += [("model.norm.weight", (HIDDEN,), "norm"), ("lm_head.weight", (VOCAB, HIDDEN), "proj")]
    return plan


def draw(rng, shape, kind, layers):
    if kind == "embed":
        return rng.standard_normal(shape, dtype=np.float32)
    if kind == "norm":
        return (1.0 + 0.05 * rng.standard_normal(shape)).astype(np.float32)
    sigma = 1.0 / np.sqrt(shape[1])
    if kind == "residual":
        sigma /= np.sqrt(2.0 * layers)
    a = rng.standard_normal(shape, dtype=np.float32)
    a *= np.float32(sigma)
    return a


def to_bf16(a):
    """float32 -> bfloat16 bits, round to nearest even (what torch's .to(torch.bfloat16) does)."""
    u = a.astype("<f4").view(np.uint32)
    rounded = u + (np.uint32(0x7FFF) + ((u >> 16) & np.uint32(1)))
    return (rounded >> 16).astype("<u2")


def write(outdir, bf16, seed, layers):
    os.makedirs(outdir, exist_ok=True)
    dtype, size, dtype_name = ("BF16", 2, "bfloat16") if bf16 else ("F32", 4, "float32")
    plan = tensor_plan(layers)
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape, _ in plan:
        n = int(np.prod(shape)) * size
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    rng = np.random.default_rng(seed)
    tmp = os.path.join(outdir, "model.safetensors.tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name, shape, kind in plan:
            a = draw(rng, shape, kind, layers)
            f.write((to_bf16(a) if bf16 else a.astype("<f4")).tobytes())
    os.replace(tmp, os.path.join(outdir, "model.safetensors"))
    with open(os.path.join(outdir, "config.json"), "w") as f:
        json.dump(config(layers, dtype_name), f, indent=2)
        f.write("\n")
    params = sum(int(np.prod(s)) for _, s, _ in plan)
    return params, 8 + len(raw) + offset


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir", nargs="?", default="/tmp/attnlrp-bench-model")
    ap.add_argument("--bf16", action="store_true", help="store the weights as BF16 instead of F32")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--layers", type=int, default=LAYERS)
    a = ap.parse_args(argv)
    repo = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    out = os.path.realpath(a.outdir)
    if out == repo or out.startswith(repo + os.sep):
        print(f"make_bench_model.py: {a.outdir}: refusing to write the benchmark model inside the repository",
              file=sys.stderr)
        return 2
    if a.layers < 1:
        print("make_bench_model.py: --layers must be at least 1", file=sys.stderr)
        return 2
    params, nbytes = write(out, a.bf16, a.seed, a.layers)
    print(f"{out}: {params / 1e6:.1f}M parameters, {nbytes / 2**20:.0f} MiB "
          f"({'BF16' if a.bf16 else 'F32'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
