#!/usr/bin/python3
"""Converts the benchmark checkpoint (Hugging Face layout, F32/BF16 safetensors) into a GGUF file, F32, F16,
Q8_0 or Q4_K, the way llama.cpp's converter lays out a LLaMA model, for the generation benchmark.

    make_bench_gguf.py [HF_DIR] OUT.gguf [--type f32|f16|q8_0|q4_k]

HF_DIR defaults to /tmp/attnlrp-bench-model. Written from the GGUF description (ggml docs/gguf.md):
"GGUF", u32 version 3, u64 tensor count, u64 metadata count, metadata (u64-length strings, u32 value
types), tensor infos (name, u32 n_dims, u64 ne[] with ne[0] the row length, u32 ggml type, u64 offset
from the data section), padding to general.alignment (32), then the tensors, each on a multiple of 32.
Q8_0 (ggml type 8): blocks of 32 values, an f16 scale d = max|x|/127 and 32 int8 q = round(x/d).
F16 (type 1): IEEE half, round to nearest. Q4_K (type 12) as llama.cpp's Q4_K_M mixes it: the output
matrix in Q6_K (type 14), every other matrix in Q4_K; the quantisers below are plain min/max ones (valid
blocks in ggml's layout, not llama.cpp's error-minimising search), described at quantize_q4_k/q6_k.
LLaMA q/k rows are permuted from Hugging Face's rotate-half pairing to adjacent pairs (as llama.cpp's
convert_hf_to_gguf.py does), so the GGUF model computes the same function. Norm weights stay F32.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch_explain  # noqa: E402  (its memory-mapped safetensors reader)

GGML_F32, GGML_F16, GGML_Q8_0, GGML_Q4_K, GGML_Q6_K = 0, 1, 8, 12, 14
T_UINT32, T_FLOAT32, T_STRING = 4, 6, 8
ALIGN = 32

GLOBAL = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
          "lm_head.weight": "output.weight"}
LAYER = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
         "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
         "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
         "mlp.down_proj": "ffn_down"}


def gguf_name(hf):
    if hf in GLOBAL:
        return GLOBAL[hf]
    parts = hf.split(".")  # model.layers.N.<module...>.weight
    if parts[:2] != ["model", "layers"] or parts[-1] != "weight":
        raise ValueError(f"tensor {hf}: no GGUF name")
    return f"blk.{parts[2]}.{LAYER['.'.join(parts[3:-1])]}.weight"


def permute_rows(w, n_head):
    """Hugging Face (j, j + d/2) pairing -> adjacent (2j, 2j+1) pairing, per head (llama.cpp's permute)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, w.shape[1]).swapaxes(1, 2).reshape(w.shape)


def quantize_q8_0(w):
    x = np.ascontiguousarray(w, dtype=np.float32).reshape(-1, 32)
    amax = np.abs(x).max(axis=1)
    d = amax / 127.0
    inv = np.divide(1.0, d, out=np.zeros_like(d), where=d != 0)
    v = x * inv[:, None]
    q = (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int8)  # round half away from zero, as roundf
    out = np.empty((x.shape[0], 34), dtype=np.uint8)
    out[:, :2] = d.astype("<f2").view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def _f16(v):
    """float array -> (its f16 rounding as float32, the f16 bytes as uint8 [..., 2])."""
    h = np.asarray(v, dtype="<f2")
    return h.astype(np.float32), h.view(np.uint8).reshape(h.shape + (2,))


def _round(v):
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def quantize_q4_k(w):
    """Blocks of 256 = 8 sub-blocks of 32: value = d*sc_j*q - dmin*m_j, q in 0..15, sc_j and m_j 6-bit.
    Per sub-block: min mn = min(x, 0), scale = (max(x) - mn)/15; d = max(scale)/63, dmin = max(-mn)/63."""
    x = np.ascontiguousarray(w, dtype=np.float32).reshape(-1, 8, 32)
    nb = x.shape[0]
    mn = np.minimum(x.min(axis=2), 0.0)
    scale = (x.max(axis=2) - mn) / 15.0
    d, d_raw = _f16(scale.max(axis=1) / 63.0)
    dmin, dmin_raw = _f16(-mn.min(axis=1) / 63.0)
    inv_d = np.divide(1.0, d, out=np.zeros_like(d), where=d != 0)
    inv_dmin = np.divide(1.0, dmin, out=np.zeros_like(dmin), where=dmin != 0)
    sc = np.clip(_round(scale * inv_d[:, None]), 0, 63).astype(np.int32)
    m = np.clip(_round(-mn * inv_dmin[:, None]), 0, 63).astype(np.int32)
    ds = d[:, None] * sc
    dm = dmin[:, None] * m
    inv_ds = np.divide(1.0, ds, out=np.zeros_like(ds), where=ds != 0)
    q = np.clip(_round((x + dm[:, :, None]) * inv_ds[:, :, None]), 0, 15).astype(np.uint8)
    packed = np.zeros((nb, 12), dtype=np.uint8)
    packed[:, 0:4] = (sc[:, :4] | ((sc[:, 4:] >> 4) << 6)).astype(np.uint8)
    packed[:, 4:8] = (m[:, :4] | ((m[:, 4:] >> 4) << 6)).astype(np.uint8)
    packed[:, 8:12] = ((sc[:, 4:] & 15) | ((m[:, 4:] & 15) << 4)).astype(np.uint8)
    qs = q.reshape(nb, 4, 2, 32)  # chunk c: sub-block 2c in the low nibbles, 2c+1 in the high ones
    qs = (qs[:, :, 0, :] | (qs[:, :, 1, :] << 4)).reshape(nb, 128)
    out = np.concatenate([d_raw, dmin_raw, packed, qs], axis=1)
    assert out.shape[1] == 144
    return out.tobytes()


def quantize_q6_k(w):
    """Blocks of 256 = 16 groups of 16: value = d*sc_g*(q - 32), q in 0..63, sc_g int8.
    Per group: scale = max|x|/31; d = max(scale)/127."""
    x = np.ascontiguousarray(w, dtype=np.float32).reshape(-1, 16, 16)
    nb = x.shape[0]
    scale = np.abs(x).max(axis=2) / 31.0
    d, d_raw = _f16(scale.max(axis=1) / 127.0)
    inv_d = np.divide(1.0, d, out=np.zeros_like(d), where=d != 0)
    sc = np.clip(_round(scale * inv_d[:, None]), 0, 127).astype(np.int32)
    ds = d[:, None] * sc
    inv_ds = np.divide(1.0, ds, out=np.zeros_like(ds), where=ds != 0)
    q = (np.clip(_round(x * inv_ds[:, :, None]), -32, 31) + 32).astype(np.uint8).reshape(nb, 2, 4, 32)
    # half h, row r (elements 128h + 32r + l): low 4 bits in ql[64h + 32(r&1) + l] (low nibble for r < 2,
    # high for r >= 2), top 2 bits in bits 2r..2r+1 of qh[32h + l]
    lo = q & 15
    ql = np.concatenate([lo[:, :, 0] | (lo[:, :, 2] << 4), lo[:, :, 1] | (lo[:, :, 3] << 4)], axis=2)
    hi = q >> 4
    qh = hi[:, :, 0] | (hi[:, :, 1] << 2) | (hi[:, :, 2] << 4) | (hi[:, :, 3] << 6)
    out = np.concatenate([ql.reshape(nb, 128), qh.reshape(nb, 64), sc.astype(np.int8).view(np.uint8), d_raw],
                         axis=1)
    assert out.shape[1] == 210
    return out.tobytes()


def kv_string(key, s):
    k, v = key.encode(), s.encode()
    return struct.pack("<Q", len(k)) + k + struct.pack("<IQ", T_STRING, len(v)) + v


def kv_u32(key, v):
    k = key.encode()
    return struct.pack("<Q", len(k)) + k + struct.pack("<II", T_UINT32, v)


def kv_f32(key, v):
    k = key.encode()
    return struct.pack("<Q", len(k)) + k + struct.pack("<If", T_FLOAT32, v)


def convert(model_dir, out, qtype):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("model_type") != "llama":
        raise ValueError("only model_type llama is converted")
    heads, kv_heads = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    weights = torch_explain.load_weights(model_dir)
    meta = [kv_string("general.architecture", "llama"), kv_string("general.name", "attnlrp-bench"),
            kv_u32("general.alignment", ALIGN),
            kv_u32("llama.context_length", cfg.get("max_position_embeddings", 2048)),
            kv_u32("llama.embedding_length", cfg["hidden_size"]),
            kv_u32("llama.block_count", cfg["num_hidden_layers"]),
            kv_u32("llama.feed_forward_length", cfg["intermediate_size"]),
            kv_u32("llama.attention.head_count", heads), kv_u32("llama.attention.head_count_kv", kv_heads),
            kv_f32("llama.rope.freq_base", cfg.get("rope_theta", 10000.0)),
            kv_f32("llama.attention.layer_norm_rms_epsilon", cfg.get("rms_norm_eps", 1e-6)),
            kv_u32("llama.vocab_size", cfg["vocab_size"]),
            kv_u32("tokenizer.ggml.bos_token_id", cfg.get("bos_token_id", 1)),
            kv_u32("tokenizer.ggml.eos_token_id", cfg.get("eos_token_id", 2))]
    infos, blobs, offset = [], [], 0
    for hf, t in weights.items():
        w = t.numpy()
        if hf.endswith("q_proj.weight"):
            w = permute_rows(w, heads)
        elif hf.endswith("k_proj.weight"):
            w = permute_rows(w, kv_heads)
        if qtype == "q8_0" and w.ndim == 2:
            gtype, raw = GGML_Q8_0, quantize_q8_0(w)
        elif qtype == "f16" and w.ndim == 2:
            gtype, raw = GGML_F16, np.ascontiguousarray(w, dtype="<f2").tobytes()
        elif qtype == "q4_k" and w.ndim == 2:
            if hf == "lm_head.weight":
                gtype, raw = GGML_Q6_K, quantize_q6_k(w)
            else:
                gtype, raw = GGML_Q4_K, quantize_q4_k(w)
        else:
            gtype, raw = GGML_F32, np.ascontiguousarray(w, dtype="<f4").tobytes()
        name = gguf_name(hf).encode()
        ne = list(reversed(w.shape))
        infos.append(struct.pack("<Q", len(name)) + name + struct.pack("<I", len(ne)) +
                     struct.pack(f"<{len(ne)}Q", *ne) + struct.pack("<IQ", gtype, offset))
        pad = -len(raw) % ALIGN
        blobs.append(raw + b"\0" * pad)
        offset += len(raw) + pad
    head = b"GGUF" + struct.pack("<IQQ", 3, len(infos), len(meta)) + b"".join(meta) + b"".join(infos)
    head += b"\0" * (-len(head) % ALIGN)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(head)
        for b in blobs:
            f.write(b)
    os.replace(tmp, out)
    return len(head) + offset


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="+", metavar="[HF_DIR] OUT.gguf")
    ap.add_argument("--type", choices=("f32", "f16", "q8_0", "q4_k"), default="q8_0")
    a = ap.parse_args(argv)
    if len(a.paths) > 2:
        ap.error("expected [HF_DIR] OUT.gguf")
    model_dir = a.paths[0] if len(a.paths) == 2 else "/tmp/attnlrp-bench-model"
    out = a.paths[-1]
    repo = os.path.realpath(os.path.join(HERE, ".."))
    if os.path.realpath(out).startswith(repo + os.sep):
        print(f"make_bench_gguf.py: {out}: refusing to write the benchmark model inside the repository",
              file=sys.stderr)
        return 2
    try:
        n = convert(model_dir, out, a.type)
    except (OSError, ValueError, KeyError) as err:
        print(f"make_bench_gguf.py: {err}", file=sys.stderr)
        return 1
    print(f"{out}: {a.type.upper()}, {n / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
