#!/usr/bin/python3
"""Writes the GGUF twin of a Hugging Face GPT-2 or Gemma 2 / Gemma 3 text checkpoint, the way llama.cpp's
converter lays it out:

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


def write_gguf(path, cfg, tensors, meta=None):
    meta = meta or [("general.architecture", T_STRING, "gpt2"), ("gpt2.context_length", T_UINT32, cfg["n_positions"]),
            ("gpt2.embedding_length", T_UINT32, cfg["n_embd"]),
            ("gpt2.feed_forward_length", T_UINT32, cfg.get("n_inner") or 4 * cfg["n_embd"]),
            ("gpt2.block_count", T_UINT32, cfg["n_layer"]), ("gpt2.attention.head_count", T_UINT32, cfg["n_head"]),
            ("gpt2.attention.layer_norm_epsilon", T_FLOAT32, cfg.get("layer_norm_epsilon", 1e-5))]
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
    if cfg["model_type"] in ("gemma2", "gemma3_text"):
        write_gguf(out_path, cfg, gemma_tensors(hf), gemma_meta(cfg))
    else:
        write_gguf(out_path, cfg, gguf_tensors(hf))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__.strip())
        sys.exit(2)
    convert(sys.argv[1], sys.argv[2])
