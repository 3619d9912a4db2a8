#!/usr/bin/python3
"""Writes the GGUF twin of a Hugging Face Mixtral, Qwen3-MoE or Qwen2-MoE checkpoint, laid out as llama.cpp's
converter does it:

    gguf_moe.py HF_DIR OUT.gguf [--drop-expert J] [--expert-count N]

Mixtral is written as architecture "llama" with llama.expert_count (q/k rows permuted to llama.cpp's
adjacent RoPE pairing), Qwen3-MoE as "qwen3moe" (no permutation). Per layer the router becomes
blk.N.ffn_gate_inp.weight [n_expert, hidden] and the experts are stacked: blk.N.ffn_{gate,up}_exps.weight
[n_expert, ff, hidden], blk.N.ffn_down_exps.weight [n_expert, hidden, ff] (ne[] innermost first in the file).
Qwen2-MoE is "qwen2moe" (no permutation; q/k/v biases blk.N.attn_{q,k,v}.bias; the shared expert
blk.N.ffn_{gate,up,down}_shexp.weight and its gate blk.N.ffn_gate_inp_shexp.weight stored [1, hidden], or as
llama.cpp declares it, a vector [hidden], with --shexp-gate-1d 1; qwen2moe.expert_feed_forward_length,
qwen2moe.expert_shared_feed_forward_length; norm_topk_prob true as qwen2moe.expert_weights_norm, since
llama.cpp does not renormalise Qwen2-MoE otherwise). --drop-shexp-gate 1 leaves the shared gate out and
--shexp-ff N writes the shared expert's gate/up/down cut to N rows/columns (broken files).
--drop-expert J leaves expert J out of the stacks (a broken file); --expert-count N overrides the metadata;
--q8 1 stores the stacked expert tensors whose rows are whole 32-element blocks as Q8_0 (ggml: per block
of 32, an f16 scale d = max|x|/127 and 32 int8 q = round(x/d)); --split 1 writes one tensor per expert
(blk.N.ffn_gate.J.weight, ffn_up.J, ffn_down.J: the layout of older llama.cpp Mixtral files).
"""
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference as ref  # noqa: E402  (its safetensors reader)
from gguf_twin import ALIGN, GGML_F32, T_FLOAT32, T_STRING, T_UINT32, gguf_string  # noqa: E402


def permute(w, heads):
    """HF rotate_half rows -> llama.cpp's adjacent pairs (convert_hf_to_gguf.py LlamaModel.permute)."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


GGML_Q8_0 = 8
T_BOOL = 7


def q8_0(arr):
    x = np.ascontiguousarray(arr, dtype=np.float32).reshape(-1, 32)
    amax = np.abs(x).max(axis=1)
    d = (amax / 127.0).astype(np.float32)
    inv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1), 0).astype(np.float32)
    q = np.round(x * inv[:, None]).astype(np.int8)
    out = np.empty((x.shape[0], 34), dtype=np.uint8)
    out[:, :2] = d.astype("<f2").view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def convert(hf_dir, out_path, drop_expert=None, expert_count=None, q8=0, split=0, shexp_gate_1d=0,
            drop_shexp_gate=0, shexp_ff=None):
    with open(os.path.join(hf_dir, "config.json")) as f:
        cfg = json.load(f)
    hf, _ = ref.load_tensors(hf_dir)
    mix = cfg["model_type"] == "mixtral"
    qwen2 = cfg["model_type"] == "qwen2_moe"
    arch = "llama" if mix else "qwen2moe" if qwen2 else "qwen3moe"
    E = cfg["num_local_experts"] if mix else cfg["num_experts"]
    ff = cfg["intermediate_size"] if mix else cfg["moe_intermediate_size"]
    H, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads", heads)
    D = cfg.get("head_dim") or H // heads
    t = [("token_embd.weight", hf["model.embed_tokens.weight"] if "model.embed_tokens.weight" in hf
          else hf["lm_head.weight"]), ("output_norm.weight", hf["model.norm.weight"])]
    if not cfg.get("tie_word_embeddings"):
        t.append(("output.weight", hf["lm_head.weight"]))
    keep = [j for j in range(E) if j != drop_expert]
    for i in range(cfg["num_hidden_layers"]):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        q, k = hf[p + "self_attn.q_proj.weight"], hf[p + "self_attn.k_proj.weight"]
        if mix:
            q, k = permute(q, heads), permute(k, kv)
        t += [(b + "attn_norm.weight", hf[p + "input_layernorm.weight"]), (b + "attn_q.weight", q),
              (b + "attn_k.weight", k), (b + "attn_v.weight", hf[p + "self_attn.v_proj.weight"]),
              (b + "attn_output.weight", hf[p + "self_attn.o_proj.weight"]),
              (b + "ffn_norm.weight", hf[p + "post_attention_layernorm.weight"])]
        if qwen2:
            t += [(b + f"attn_{x}.bias", hf[p + f"self_attn.{x}_proj.bias"]) for x in "qkv"]
            sh = p + "mlp.shared_expert."
            S = shexp_ff or cfg["shared_expert_intermediate_size"]
            t += [(b + "ffn_gate_shexp.weight", hf[sh + "gate_proj.weight"][:S]),
                  (b + "ffn_up_shexp.weight", hf[sh + "up_proj.weight"][:S]),
                  (b + "ffn_down_shexp.weight", hf[sh + "down_proj.weight"][:, :S])]
            gate = hf[p + "mlp.shared_expert_gate.weight"]
            if not drop_shexp_gate:
                t.append((b + "ffn_gate_inp_shexp.weight", gate.reshape(-1) if shexp_gate_1d else gate))
        elif not mix:
            t += [(b + "attn_q_norm.weight", hf[p + "self_attn.q_norm.weight"]),
                  (b + "attn_k_norm.weight", hf[p + "self_attn.k_norm.weight"])]
        m = p + ("block_sparse_moe." if mix else "mlp.")
        names = ("w1", "w3", "w2") if mix else ("gate_proj", "up_proj", "down_proj")
        t.append((b + "ffn_gate_inp.weight", hf[m + "gate.weight"]))
        for name, g in zip(names, ("ffn_gate", "ffn_up", "ffn_down")):
            if split:
                t += [(b + f"{g}.{j}.weight", hf[m + f"experts.{j}.{name}.weight"]) for j in keep]
            else:
                t.append((b + g + "_exps.weight", np.stack([hf[m + f"experts.{j}.{name}.weight"] for j in keep])))
    meta = [("general.architecture", T_STRING, arch),
            (f"{arch}.context_length", T_UINT32, cfg.get("max_position_embeddings", 512)),
            (f"{arch}.embedding_length", T_UINT32, H),
            (f"{arch}.feed_forward_length", T_UINT32, cfg["intermediate_size"]),
            (f"{arch}.block_count", T_UINT32, cfg["num_hidden_layers"]),
            (f"{arch}.attention.head_count", T_UINT32, heads),
            (f"{arch}.attention.head_count_kv", T_UINT32, kv),
            (f"{arch}.attention.key_length", T_UINT32, D),
            (f"{arch}.attention.value_length", T_UINT32, D),
            (f"{arch}.attention.layer_norm_rms_epsilon", T_FLOAT32, cfg.get("rms_norm_eps", 1e-6)),
            (f"{arch}.rope.freq_base", T_FLOAT32, cfg.get("rope_theta", 10000.0)),
            (f"{arch}.expert_count", T_UINT32, expert_count if expert_count is not None else E),
            (f"{arch}.expert_used_count", T_UINT32, cfg["num_experts_per_tok"])]
    if not mix:
        meta.append((f"{arch}.expert_feed_forward_length", T_UINT32, ff))
    if qwen2:
        meta.append((f"{arch}.expert_shared_feed_forward_length", T_UINT32, cfg["shared_expert_intermediate_size"]))
        if cfg.get("norm_topk_prob"):
            meta.append((f"{arch}.expert_weights_norm", T_BOOL, True))
    head = b"GGUF" + struct.pack("<IQQ", 3, len(t), len(meta))
    for key, typ, val in meta:
        head += gguf_string(key) + struct.pack("<I", typ)
        head += gguf_string(val) if typ == T_STRING else struct.pack({T_UINT32: "<I", T_BOOL: "<B"}.get(typ, "<f"), val)
    blobs, offset = [], 0
    for name, arr in t:
        quant = q8 and name.endswith("_exps.weight") and arr.shape[-1] % 32 == 0
        data = q8_0(arr) if quant else np.ascontiguousarray(arr, dtype="<f4").tobytes()
        head += gguf_string(name) + struct.pack("<I", arr.ndim)
        head += b"".join(struct.pack("<Q", d) for d in reversed(arr.shape))
        head += struct.pack("<IQ", GGML_Q8_0 if quant else GGML_F32, offset)
        blobs.append(data)
        offset += (len(data) + ALIGN - 1) // ALIGN * ALIGN
    head += b"\0" * (-len(head) % ALIGN)
    with open(out_path, "wb") as f:
        f.write(head)
        for data in blobs:
            f.write(data + b"\0" * (-len(data) % ALIGN))


if __name__ == "__main__":
    args = sys.argv[1:]
    opts = {}
    flags = {"--drop-expert": "drop_expert", "--expert-count": "expert_count", "--q8": "q8", "--split": "split",
             "--shexp-gate-1d": "shexp_gate_1d", "--drop-shexp-gate": "drop_shexp_gate", "--shexp-ff": "shexp_ff"}
    while len(args) > 2 and args[-2] in flags:
        opts[flags[args[-2]]] = int(args[-1])
        args = args[:-2]
    if len(args) != 2:
        print(__doc__.strip())
        sys.exit(2)
    convert(args[0], args[1], **opts)
