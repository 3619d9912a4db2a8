#!/usr/bin/python3
"""Writes the GGUF twin of a Hugging Face GPT-2 (also LLaMA, Phi, Phi-3: see below) checkpoint, the way
llama.cpp's converter lays it out:

    gguf_twin.py HF_DIR OUT.gguf

Tensors: wte -> token_embd, wpe -> position_embd, ln_f -> output_norm, h.N.ln_1 -> blk.N.attn_norm,
h.N.attn.c_attn -> blk.N.attn_qkv, h.N.attn.c_proj -> blk.N.attn_output, h.N.ln_2 -> blk.N.ffn_norm,
h.N.mlp.c_fc -> blk.N.ffn_up, h.N.mlp.c_proj -> blk.N.ffn_down (.weight and .bias); the Conv1D matrices,
stored [in, out] by Hugging Face, are transposed to [out, in]; the attn.bias / masked_bias buffers are
dropped. Metadata gpt2.* as llama.cpp writes it. File layout from ggml's docs/gguf.md (version 3,
little-endian, alignment 32): magic, version, tensor count, metadata count, metadata, tensor infos
(name, n_dims, ne[] innermost first, ggml type, offset), padding, data.

Gemma (convert_hf_to_gguf.py's Gemma2Model / Gemma3Model): architecture gemma2 or gemma3; every
*norm.weight gets + 1 (the GGUF stores the (1 + w) scale); model.embed_tokens -> token_embd, model.norm ->
output_norm, lm_head -> output (untied only), layers.N.{input_layernorm, self_attn.{q,k,v,o}_proj,
self_attn.{q,k}_norm, post_attention_layernorm, pre_feedforward_layernorm, mlp.{gate,up,down}_proj,
post_feedforward_layernorm} -> blk.N.{attn_norm, attn_{q,k,v,output}, attn_{q,k}_norm, post_attention_norm,
ffn_norm, ffn_{gate,up,down}, post_ffw_norm}. GGUF carries no query_pre_attn_scalar, sliding-window pattern
or local RoPE base: llama.cpp assumes head_dim, every other layer (Gemma 2) / every sixth layer global
(Gemma 3) and 10000, so only checkpoints that match those have a faithful twin.
"""
import json
import math
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference as ref  # noqa: E402  (its safetensors reader)

ALIGN = 32
T_UINT32, T_FLOAT32, T_STRING = 4, 6, 8
GGML_F32 = 0
LAYER = {"ln_1": "attn_norm", "attn.c_attn": "attn_qkv", "attn.c_proj": "attn_output", "ln_2": "ffn_norm",
         "mlp.c_fc": "ffn_up", "mlp.c_proj": "ffn_down"}
CONV1D = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")


def gguf_tensors(hf):
    out = []
    for name, arr in sorted(hf.items()):
        stem = name[len("transformer."):] if name.startswith("transformer.") else name
        parts = stem.split(".")
        if len(parts) >= 2 and parts[-2] == "attn" and parts[-1] in ("bias", "masked_bias"):
            continue  # the causal-mask buffers
        if stem in ("wte.weight", "wpe.weight"):
            out.append(({"wte": "token_embd", "wpe": "position_embd"}[parts[0]] + ".weight", arr))
        elif parts[0] == "ln_f":
            out.append(("output_norm." + parts[1], arr))
        elif parts[0] == "lm_head":
            out.append(("output.weight", arr))
        elif parts[0] == "h":
            module, kind = ".".join(parts[2:-1]), parts[-1]
            if module in CONV1D and kind == "weight":
                arr = arr.T
            out.append((f"blk.{parts[1]}.{LAYER[module]}.{kind}", arr))
        else:
            raise ValueError(f"tensor {name}: no GGUF name")
    return out


GEMMA_LAYER = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
               "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm",
               "self_attn.k_norm": "attn_k_norm", "post_attention_layernorm": "post_attention_norm",
               "pre_feedforward_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
               "mlp.down_proj": "ffn_down", "post_feedforward_layernorm": "post_ffw_norm"}


def gemma_tensors(hf):
    out = []
    for name, arr in sorted(hf.items()):
        if name.endswith("norm.weight"):
            arr = arr.astype(np.float64) + 1.0
        parts = name.split(".")
        if name == "model.embed_tokens.weight":
            out.append(("token_embd.weight", arr))
        elif name == "model.norm.weight":
            out.append(("output_norm.weight", arr))
        elif name == "lm_head.weight":
            out.append(("output.weight", arr))
        elif parts[:2] == ["model", "layers"]:
            out.append((f"blk.{parts[2]}.{GEMMA_LAYER['.'.join(parts[3:-1])]}.{parts[-1]}", arr))
        else:
            raise ValueError(f"tensor {name}: no GGUF name")
    return out


def gemma_meta(cfg):
    arch = "gemma2" if cfg["model_type"] == "gemma2" else "gemma3"
    hd = cfg.get("head_dim", 256)
    u = [("context_length", cfg.get("max_position_embeddings", 8192)), ("embedding_length", cfg["hidden_size"]),
         ("block_count", cfg["num_hidden_layers"]), ("feed_forward_length", cfg["intermediate_size"]),
         ("attention.head_count", cfg["num_attention_heads"]),
         ("attention.head_count_kv", cfg.get("num_key_value_heads", cfg["num_attention_heads"])),
         ("attention.key_length", hd), ("attention.value_length", hd),
         ("attention.sliding_window", cfg.get("sliding_window", 4096))]
    f = [("attention.layer_norm_rms_epsilon", cfg.get("rms_norm_eps", 1e-6)),
         ("rope.freq_base", cfg.get("rope_theta", 10000.0))]
    if arch == "gemma2" and cfg.get("attn_logit_softcapping"):
        f.append(("attn_logit_softcapping", cfg["attn_logit_softcapping"]))
    if cfg.get("final_logit_softcapping"):
        f.append(("final_logit_softcapping", cfg["final_logit_softcapping"]))
    meta = [("general.architecture", T_STRING, arch)]
    meta += [(f"{arch}.{k}", T_UINT32, v) for k, v in u] + [(f"{arch}.{k}", T_FLOAT32, v) for k, v in f]
    scaling = cfg.get("rope_scaling") or {}
    if scaling.get("rope_type", scaling.get("type")) == "linear":
        meta += [(f"{arch}.rope.scaling.type", T_STRING, "linear"),
                 (f"{arch}.rope.scaling.factor", T_FLOAT32, scaling["factor"])]
    return meta


def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gpt2_meta(cfg):
    return [("general.architecture", T_STRING, "gpt2"), ("gpt2.context_length", T_UINT32, cfg["n_positions"]),
            ("gpt2.embedding_length", T_UINT32, cfg["n_embd"]),
            ("gpt2.feed_forward_length", T_UINT32, cfg.get("n_inner") or 4 * cfg["n_embd"]),
            ("gpt2.block_count", T_UINT32, cfg["n_layer"]), ("gpt2.attention.head_count", T_UINT32, cfg["n_head"]),
            ("gpt2.attention.layer_norm_epsilon", T_FLOAT32, cfg.get("layer_norm_epsilon", 1e-5))]


# ----------------------------------------------------------------------------------------------
# LLaMA (with llama3 rope_scaling as rope_freqs.weight, the way llama.cpp's converter writes Llama 3.1),
# Phi (arch phi2) and Phi-3 (arch phi3, LongRoPE factors as rope_factors_short/long.weight).

def _u32(key, v):
    return (key, T_UINT32, int(v))


def _f32(key, v):
    return (key, T_FLOAT32, float(v))


def llama_permute(w, n_head):
    """llama.cpp's q/k row permutation: rotate_half pairs (j, j + hd/2) become adjacent rows (2j, 2j + 1)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def llama3_rope_freqs(cfg):
    """Per-frequency divisors of the inverse frequencies that reproduce transformers' llama3 scaling."""
    rs = cfg["rope_scaling"]
    dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    base = cfg.get("rope_theta", 10000.0)
    factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    out = []
    for j in range(dim // 2):
        wl = 2 * math.pi * base ** (2 * j / dim)
        if wl < old / hi:
            out.append(1.0)
        elif wl > old / lo:
            out.append(factor)
        else:
            smooth = (old / wl - lo) / (hi - lo)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out)


def llama_twin(cfg, hf):
    H, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads") or heads
    names = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down"}
    out = []
    for name, arr in sorted(hf.items()):
        parts = name.split(".")
        if name == "model.embed_tokens.weight":
            out.append(("token_embd.weight", arr))
        elif name == "model.norm.weight":
            out.append(("output_norm.weight", arr))
        elif name == "lm_head.weight":
            out.append(("output.weight", arr))
        else:
            module = ".".join(parts[3:-1])
            if module == "self_attn.q_proj":
                arr = llama_permute(arr, heads)
            elif module == "self_attn.k_proj":
                arr = llama_permute(arr, kv)
            out.append((f"blk.{parts[2]}.{names[module]}.{parts[-1]}", arr))
    rs = cfg.get("rope_scaling") or {}
    if rs.get("rope_type", rs.get("type")) == "llama3":
        out.append(("rope_freqs.weight", llama3_rope_freqs(cfg)))
    a = "llama"
    meta = [("general.architecture", T_STRING, a), _u32(f"{a}.context_length", cfg.get("max_position_embeddings", 512)),
            _u32(f"{a}.embedding_length", H), _u32(f"{a}.feed_forward_length", cfg["intermediate_size"]),
            _u32(f"{a}.block_count", cfg["num_hidden_layers"]), _u32(f"{a}.attention.head_count", heads),
            _u32(f"{a}.attention.head_count_kv", kv),
            _f32(f"{a}.attention.layer_norm_rms_epsilon", cfg.get("rms_norm_eps", 1e-6)),
            _f32(f"{a}.rope.freq_base", cfg.get("rope_theta", 10000.0)),
            _u32(f"{a}.rope.dimension_count", cfg.get("head_dim") or H // heads)]
    return meta, out


def phi_twin(cfg, hf):
    phi3 = cfg["model_type"] == "phi3"
    H, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads") or heads
    partial = cfg.get("partial_rotary_factor", 1.0 if phi3 else 0.5)
    names = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.dense": "attn_output", "self_attn.o_proj": "attn_output",
             "self_attn.qkv_proj": "attn_qkv", "self_attn.q_layernorm": "attn_q_norm",
             "self_attn.k_layernorm": "attn_k_norm", "mlp.fc1": "ffn_up", "mlp.fc2": "ffn_down",
             "post_attention_layernorm": "ffn_norm", "mlp.gate_up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    out = []
    for name, arr in sorted(hf.items()):
        parts = name.split(".")
        if name == "model.embed_tokens.weight":
            out.append(("token_embd.weight", arr))
        elif parts[1] in ("norm", "final_layernorm"):
            out.append(("output_norm." + parts[-1], arr))
        elif parts[0] == "lm_head":
            out.append(("output." + parts[-1], arr))
        else:
            out.append((f"blk.{parts[2]}.{names['.'.join(parts[3:-1])]}.{parts[-1]}", arr))
    a = "phi3" if phi3 else "phi2"
    meta = [("general.architecture", T_STRING, a), _u32(f"{a}.context_length", cfg["max_position_embeddings"]),
            _u32(f"{a}.embedding_length", H), _u32(f"{a}.feed_forward_length", cfg["intermediate_size"]),
            _u32(f"{a}.block_count", cfg["num_hidden_layers"]), _u32(f"{a}.attention.head_count", heads),
            _u32(f"{a}.attention.head_count_kv", kv),
            _u32(f"{a}.rope.dimension_count", int(partial * H) // heads),
            _f32(f"{a}.rope.freq_base", cfg.get("rope_theta", 10000.0))]
    if phi3:
        meta += [_f32(f"{a}.attention.layer_norm_rms_epsilon", cfg.get("rms_norm_eps", 1e-5)),
                 _u32(f"{a}.attention.sliding_window", cfg.get("sliding_window") or 0)]
        rs = cfg.get("rope_scaling") or {}
        if rs.get("rope_type", rs.get("type")) in ("longrope", "su"):
            orig, mx = cfg["original_max_position_embeddings"], cfg["max_position_embeddings"]
            scale = mx / orig
            attn = 1.0 if scale <= 1.0 else math.sqrt(1 + math.log(scale) / math.log(orig))
            meta += [_u32(f"{a}.rope.scaling.original_context_length", orig),
                     _f32(f"{a}.rope.scaling.attn_factor", attn)]
            out += [("rope_factors_long.weight", np.array(rs["long_factor"])),
                    ("rope_factors_short.weight", np.array(rs["short_factor"]))]
    else:
        meta.append(_f32(f"{a}.attention.layer_norm_epsilon", cfg.get("layer_norm_eps", 1e-5)))
    return meta, out


def write_gguf(path, meta, tensors):
    """A GGUF v3 file: the metadata (key, type, value) and float32 tensors (name, array), 32-byte aligned."""
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta))
    for key, typ, val in meta:
        head += gguf_string(key) + struct.pack("<I", typ)
        head += gguf_string(val) if typ == T_STRING else struct.pack("<I" if typ == T_UINT32 else "<f", val)
    blobs, offset = [], 0
    for name, arr in tensors:
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        head += gguf_string(name) + struct.pack("<I", arr.ndim)
        head += b"".join(struct.pack("<Q", d) for d in reversed(arr.shape)) + struct.pack("<IQ", GGML_F32, offset)
        blobs.append(data)
        offset += (len(data) + ALIGN - 1) // ALIGN * ALIGN
    head += b"\0" * (-len(head) % ALIGN)
    with open(path, "wb") as f:
        f.write(head)
        for data in blobs:
            f.write(data + b"\0" * (-len(data) % ALIGN))


def convert(hf_dir, out_path):
    with open(os.path.join(hf_dir, "config.json")) as f:
        cfg = json.load(f)
    hf, _ = ref.load_tensors(hf_dir)
    if cfg.get("model_type") == "llama":
        write_gguf(out_path, *llama_twin(cfg, hf))
    elif cfg.get("model_type") in ("phi", "phi3"):
        write_gguf(out_path, *phi_twin(cfg, hf))
    elif cfg.get("model_type") in ("gemma2", "gemma3_text"):
        write_gguf(out_path, gemma_meta(cfg), gemma_tensors(hf))
    else:
        write_gguf(out_path, gpt2_meta(cfg), gguf_tensors(hf))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__.strip())
        sys.exit(2)
    convert(sys.argv[1], sys.argv[2])
