#!/usr/bin/python3
"""Writes tiny random LLaMA-family checkpoints in exact Hugging Face layout.

    make_checkpoint.py OUTDIR [NAME ...]     # one subdirectory per configuration (default: all)

Each checkpoint is config.json plus model.safetensors (or two shards and model.safetensors.index.json),
weights F32 unless the configuration asks for F16/BF16. Biases are zero unless the configuration names
nonzero ones. Weights are scaled so that logits are O(1). Deterministic per configuration name.
"""
import json
import os
import struct
import sys
import zlib

import numpy as np

# name -> (config.json fields, options). Options: dtype (F32/F16/BF16), shards (1 or 2),
# bias (None: no bias tensors; "zero"; "random"), tied_storage ("embed" or "head": which name
# a tied checkpoint stores).
BASE = {
    "hidden_act": "silu",
    "max_position_embeddings": 512,
    "rms_norm_eps": 1e-6,
    "initializer_range": 0.02,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "torch_dtype": "float32",
    "transformers_version": "4.46.0",
    "use_cache": True,
}

CONFIGS = {
    "llama_mha": (dict(model_type="llama", architectures=["LlamaForCausalLM"], hidden_size=32,
                       num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                       intermediate_size=64, vocab_size=64, rope_theta=10000.0, rope_scaling=None,
                       attention_bias=False, mlp_bias=False, tie_word_embeddings=False), {}),
    "llama_gqa": (dict(model_type="llama", architectures=["LlamaForCausalLM"], hidden_size=48,
                       num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
                       intermediate_size=96, vocab_size=97, rope_theta=500000.0, rms_norm_eps=1e-5,
                       attention_bias=False, mlp_bias=False, tie_word_embeddings=False), {}),
    "llama_tied": (dict(model_type="llama", architectures=["LlamaForCausalLM"], hidden_size=32,
                        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                        intermediate_size=48, vocab_size=80, rope_theta=10000.0,
                        tie_word_embeddings=True), {"tied_storage": "embed"}),
    # Tied, stored the way TinyStories-656K is: only lm_head.weight, with a __metadata__ alias.
    "llama_tied_head": (dict(model_type="llama", architectures=["LlamaForCausalLM"], hidden_size=32,
                             num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                             intermediate_size=64, vocab_size=72, rope_theta=10000.0,
                             tie_word_embeddings=True), {"tied_storage": "head"}),
    "llama_bias": (dict(model_type="llama", architectures=["LlamaForCausalLM"], hidden_size=32,
                        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                        intermediate_size=64, vocab_size=64, rope_theta=10000.0,
                        attention_bias=True, mlp_bias=True, tie_word_embeddings=False),
                   {"bias": "random"}),
    "mistral": (dict(model_type="mistral", architectures=["MistralForCausalLM"], hidden_size=32,
                     num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1,
                     intermediate_size=80, vocab_size=90, rope_theta=1000000.0, sliding_window=4096,
                     tie_word_embeddings=False), {}),
    "qwen2_bias0": (dict(model_type="qwen2", architectures=["Qwen2ForCausalLM"], hidden_size=32,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=64, vocab_size=70, rope_theta=1000000.0,
                         use_sliding_window=False, sliding_window=4096, max_window_layers=2,
                         tie_word_embeddings=True), {"bias": "zero", "tied_storage": "embed"}),
    "qwen2_bias": (dict(model_type="qwen2", architectures=["Qwen2ForCausalLM"], hidden_size=48,
                        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                        intermediate_size=64, vocab_size=70, rope_theta=10000.0,
                        use_sliding_window=False, sliding_window=4096, max_window_layers=2,
                        tie_word_embeddings=False), {"bias": "random"}),
    # head_dim 16 with hidden 32 and 4 heads: q_proj is [64, 32], not derivable from hidden/heads.
    "qwen3": (dict(model_type="qwen3", architectures=["Qwen3ForCausalLM"], hidden_size=32,
                   num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                   intermediate_size=64, vocab_size=76, rope_theta=1000000.0, attention_bias=False,
                   use_sliding_window=False, sliding_window=None, max_window_layers=2,
                   tie_word_embeddings=True), {"tied_storage": "embed"}),
    # head_dim 16, theta 1e4: the 8 wavelengths 2*pi*1e4^(j/8) fall in all three llama3 bands
    # (< 256 unchanged, 256..1024 smoothed, > 1024 divided by the factor).
    "llama3_rope": (dict(model_type="llama", architectures=["LlamaForCausalLM"], hidden_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=96, vocab_size=64, rope_theta=10000.0,
                         rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                       "high_freq_factor": 4.0,
                                       "original_max_position_embeddings": 1024},
                         tie_word_embeddings=False), {}),
    "linear_rope": (dict(model_type="llama", architectures=["LlamaForCausalLM"], hidden_size=32,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                         intermediate_size=64, vocab_size=64, rope_theta=10000.0,
                         rope_scaling={"type": "linear", "factor": 4.0},
                         tie_word_embeddings=False), {}),
    # transformers-5 form: theta and scaling only inside rope_parameters.
    "rope_parameters": (dict(model_type="llama", architectures=["LlamaForCausalLM"], hidden_size=64,
                             num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                             intermediate_size=64, vocab_size=64,
                             rope_parameters={"rope_type": "llama3", "rope_theta": 20000.0,
                                              "factor": 4.0, "low_freq_factor": 1.0,
                                              "high_freq_factor": 2.0,
                                              "original_max_position_embeddings": 512},
                             tie_word_embeddings=False, dtype="float32",
                             transformers_version="5.0.0"), {"drop": ["torch_dtype"]}),
    "llama_bf16": (dict(model_type="llama", architectures=["LlamaForCausalLM"], hidden_size=48,
                        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                        intermediate_size=64, vocab_size=64, torch_dtype="bfloat16",
                        tie_word_embeddings=False), {"dtype": "BF16"}),
    "llama_f16_sharded": (dict(model_type="llama", architectures=["LlamaForCausalLM"], hidden_size=32,
                               num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
                               intermediate_size=48, vocab_size=64, torch_dtype="float16",
                               tie_word_embeddings=False), {"dtype": "F16", "shards": 2}),
}


def _encode(arr, dtype):
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if dtype == "F32":
        return arr.astype("<f4").tobytes()
    if dtype == "F16":
        return arr.astype("<f2").tobytes()
    if dtype == "BF16":
        bits = arr.view(np.uint32).astype(np.uint64)
        # round to nearest even on the dropped 16 bits
        rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
        return rounded.astype("<u2").tobytes()
    raise ValueError(dtype)


def write_safetensors(path, tensors, dtype, metadata=None):
    """tensors: list of (name, float array); all stored with the given dtype."""
    header = {}
    blobs = []
    offset = 0
    for name, arr in tensors:
        raw = _encode(arr, dtype)
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # keep the data 8-byte aligned, as safetensors does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def make_tensors(cfg, opts, rng):
    H = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads", heads)
    D = cfg.get("head_dim") or H // heads
    I = cfg["intermediate_size"]
    V = cfg["vocab_size"]
    bias = opts.get("bias")

    def mat(o, i):
        return rng.standard_normal((o, i)) / np.sqrt(i)

    def norm(n):
        return 1.0 + 0.1 * rng.standard_normal(n)

    def vec(n):
        return 0.3 * rng.standard_normal(n) if bias == "random" else np.zeros(n)

    family = cfg["model_type"]
    qkv_bias = family == "qwen2" or (family in ("llama", "qwen3") and cfg.get("attention_bias"))
    o_bias = family in ("llama", "qwen3") and cfg.get("attention_bias")
    mlp_bias = family == "llama" and cfg.get("mlp_bias")

    t = []
    tied = cfg.get("tie_word_embeddings")
    # A tied table is also the head: scale it like one so that logits stay O(1).
    embed = rng.standard_normal((V, H)) / (np.sqrt(H) if tied else 1.0)
    if not tied or opts.get("tied_storage", "embed") == "embed":
        t.append(("model.embed_tokens.weight", embed))
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        t.append((p + "input_layernorm.weight", norm(H)))
        t.append((p + "self_attn.q_proj.weight", mat(heads * D, H)))
        t.append((p + "self_attn.k_proj.weight", mat(kv * D, H)))
        t.append((p + "self_attn.v_proj.weight", mat(kv * D, H)))
        t.append((p + "self_attn.o_proj.weight", mat(H, heads * D)))
        if qkv_bias:
            t.append((p + "self_attn.q_proj.bias", vec(heads * D)))
            t.append((p + "self_attn.k_proj.bias", vec(kv * D)))
            t.append((p + "self_attn.v_proj.bias", vec(kv * D)))
        if o_bias:
            t.append((p + "self_attn.o_proj.bias", vec(H)))
        if family == "qwen3":
            t.append((p + "self_attn.q_norm.weight", norm(D)))
            t.append((p + "self_attn.k_norm.weight", norm(D)))
        t.append((p + "post_attention_layernorm.weight", norm(H)))
        t.append((p + "mlp.gate_proj.weight", mat(I, H)))
        t.append((p + "mlp.up_proj.weight", mat(I, H)))
        t.append((p + "mlp.down_proj.weight", mat(H, I)))
        if mlp_bias:
            t.append((p + "mlp.gate_proj.bias", vec(I)))
            t.append((p + "mlp.up_proj.bias", vec(I)))
            t.append((p + "mlp.down_proj.bias", vec(H)))
    t.append(("model.norm.weight", norm(H)))
    if tied:
        if opts.get("tied_storage") == "head":
            t.append(("lm_head.weight", embed))
    else:
        t.append(("lm_head.weight", rng.standard_normal((V, H)) / np.sqrt(H)))
    return t


def write_checkpoint(outdir, name):
    """Writes configuration `name` into outdir (created); returns outdir."""
    fields, opts = CONFIGS[name]
    cfg = dict(BASE)
    cfg.update(fields)
    for key in opts.get("drop", []):
        cfg.pop(key, None)
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    tensors = make_tensors(cfg, opts, rng)
    dtype = opts.get("dtype", "F32")
    meta = {"format": "pt"}
    if cfg.get("tie_word_embeddings") and opts.get("tied_storage") == "head":
        meta["model.embed_tokens.weight"] = "lm_head.weight"
    shards = opts.get("shards", 1)
    if shards == 1:
        write_safetensors(os.path.join(outdir, "model.safetensors"), tensors, dtype, meta)
    else:
        n = len(tensors)
        parts = [tensors[k * n // shards:(k + 1) * n // shards] for k in range(shards)]
        weight_map = {}
        total = 0
        for k, part in enumerate(parts):
            fname = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
            write_safetensors(os.path.join(outdir, fname), part, dtype, {"format": "pt"})
            for tname, arr in part:
                weight_map[tname] = fname
                total += arr.size * (4 if dtype == "F32" else 2)
        with open(os.path.join(outdir, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    with open(os.path.join(outdir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    return outdir


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("configurations: " + " ".join(CONFIGS))
        return 0 if argv else 2
    names = argv[1:] or list(CONFIGS)
    for name in names:
        if name not in CONFIGS:
            print(f"make_checkpoint.py: unknown configuration {name!r}", file=sys.stderr)
            return 2
        write_checkpoint(os.path.join(argv[0], name), name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
