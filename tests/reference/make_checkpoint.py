#!/usr/bin/python3
"""Writes tiny random checkpoints in exact Hugging Face layout: LLaMA family, GPT-2, BERT, RoBERTa, DistilBERT,
Phi, Phi-3, ViT (ViTForImageClassification, with a ViTImageProcessor preprocessor_config.json).

    make_checkpoint.py OUTDIR [NAME ...]     # one subdirectory per configuration (default: all)

Each checkpoint is config.json plus model.safetensors (or two shards and model.safetensors.index.json),
weights F32 unless the configuration asks for F16/BF16. Biases are zero unless the configuration names
nonzero ones. Weights are scaled so that logits are O(1). Deterministic per configuration name.
GPT-2/BERT-family files also carry the buffers real ones do (attn.bias masks, an I64 position_ids);
readers must ignore them.
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


# ----------------------------------------------------------------------------------------------
# GPT-2 and the BERT family. Options: bias ("zero" or "random": every Linear/Conv1D bias and every
# LayerNorm beta), prefix (the body's tensor-name prefix), buffers (write the mask/position buffers),
# ln_names ("weight" or "gamma": old BERT LayerNorm names), decoder (store the tied MLM decoder weight).

GPT2_BASE = {
    "activation_function": "gelu_new", "attn_pdrop": 0.1, "embd_pdrop": 0.1, "resid_pdrop": 0.1,
    "initializer_range": 0.02, "layer_norm_epsilon": 1e-5, "scale_attn_weights": True,
    "reorder_and_upcast_attn": False, "scale_attn_by_inverse_layer_idx": False,
    "summary_type": "cls_index", "summary_use_proj": True, "summary_activation": None,
    "summary_proj_to_labels": True, "summary_first_dropout": 0.1, "tie_word_embeddings": True,
    "torch_dtype": "float32", "transformers_version": "4.46.0", "use_cache": True,
}
LABELS = {"id2label": {"0": "negative", "1": "neutral", "2": "positive"},
          "label2id": {"negative": 0, "neutral": 1, "positive": 2}}
BERT_BASE = {
    "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
    "initializer_range": 0.02, "layer_norm_eps": 1e-12, "type_vocab_size": 2, "pad_token_id": 0,
    "position_embedding_type": "absolute", "classifier_dropout": None, "torch_dtype": "float32",
    "transformers_version": "4.46.0", "use_cache": True,
}
ROBERTA_BASE = dict(BERT_BASE, layer_norm_eps=1e-5, type_vocab_size=1, pad_token_id=1, bos_token_id=0,
                    eos_token_id=2)
DISTILBERT_BASE = {
    "activation": "gelu", "attention_dropout": 0.1, "dropout": 0.1, "initializer_range": 0.02,
    "qa_dropout": 0.1, "seq_classif_dropout": 0.2, "sinusoidal_pos_embds": False, "tie_weights_": True,
    "pad_token_id": 0, "torch_dtype": "float32", "transformers_version": "4.46.0",
}
BASES = {"gpt2": GPT2_BASE, "bert": BERT_BASE, "roberta": ROBERTA_BASE, "distilbert": DISTILBERT_BASE}

CONFIGS.update({
    "gpt2": (dict(model_type="gpt2", architectures=["GPT2LMHeadModel"], n_embd=32, n_layer=2, n_head=4,
                  n_positions=64, n_ctx=64, n_inner=None, vocab_size=64, bos_token_id=63, eos_token_id=63),
             {"bias": "zero", "prefix": "transformer.", "buffers": True}),
    # Hub/GGUF-converted style: no transformer. prefix, explicit n_inner, a scalar attn.masked_bias.
    "gpt2_noprefix": (dict(model_type="gpt2", architectures=["GPT2LMHeadModel"], n_embd=24, n_layer=2,
                           n_head=2, n_positions=48, n_inner=40, vocab_size=57, bos_token_id=56,
                           eos_token_id=56), {"bias": "zero", "prefix": "", "buffers": True}),
    "gpt2_bias": (dict(model_type="gpt2", architectures=["GPT2LMHeadModel"], n_embd=32, n_layer=2, n_head=4,
                       n_positions=48, n_inner=None, vocab_size=70, layer_norm_epsilon=1e-6,
                       bos_token_id=69, eos_token_id=69), {"bias": "random", "prefix": "transformer."}),
    "bert_cls": (dict(model_type="bert", architectures=["BertForSequenceClassification"], hidden_size=32,
                      num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, vocab_size=60,
                      max_position_embeddings=48, **LABELS), {"bias": "zero"}),
    "bert_cls_bias": (dict(model_type="bert", architectures=["BertForSequenceClassification"], hidden_size=24,
                           num_hidden_layers=2, num_attention_heads=3, intermediate_size=48, vocab_size=50,
                           max_position_embeddings=40, **LABELS), {"bias": "random", "buffers": True}),
    "bert_mlm": (dict(model_type="bert", architectures=["BertForMaskedLM"], hidden_size=32,
                      num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, vocab_size=72,
                      max_position_embeddings=48), {"bias": "zero", "decoder": True}),
    "bert_mlm_gamma": (dict(model_type="bert", architectures=["BertForMaskedLM"], hidden_size=16,
                            num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, vocab_size=50,
                            max_position_embeddings=40), {"bias": "zero", "ln_names": "gamma"}),
    "roberta_cls": (dict(model_type="roberta", architectures=["RobertaForSequenceClassification"],
                         hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                         vocab_size=64, max_position_embeddings=50, **LABELS), {"bias": "zero"}),
    "roberta_mlm": (dict(model_type="roberta", architectures=["RobertaForMaskedLM"], hidden_size=24,
                         num_hidden_layers=2, num_attention_heads=2, intermediate_size=48, vocab_size=66,
                         max_position_embeddings=50), {"bias": "zero", "buffers": True}),
    "distilbert_cls": (dict(model_type="distilbert", architectures=["DistilBertForSequenceClassification"],
                            dim=32, n_layers=2, n_heads=4, hidden_dim=64, vocab_size=60,
                            max_position_embeddings=48, **LABELS), {"bias": "zero"}),
    "distilbert_mlm": (dict(model_type="distilbert", architectures=["DistilBertForMaskedLM"], dim=24,
                            n_layers=2, n_heads=2, hidden_dim=48, vocab_size=55, max_position_embeddings=48),
                       {"bias": "zero"}),
})


def _encode(arr, dtype):
    if dtype == "I64":
        return np.ascontiguousarray(arr, dtype="<i8").tobytes()
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
    for entry in tensors:
        name, arr = entry[0], entry[1]
        tdtype = entry[2] if len(entry) > 2 else dtype  # a buffer may carry its own dtype
        raw = _encode(arr, tdtype)
        header[name] = {"dtype": tdtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
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


# Mixture-of-experts decoders (Mixtral: block_sparse_moe.gate + experts.{j}.w1/w3/w2, always renormalised;
# Qwen3-MoE: mlp.gate + experts.{j}.gate_proj/up_proj/down_proj, norm_topk_prob). No biases.
CONFIGS.update({
    "mixtral": (dict(model_type="mixtral", architectures=["MixtralForCausalLM"], hidden_size=32,
                     num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, intermediate_size=40,
                     num_local_experts=4, num_experts_per_tok=2, vocab_size=80, sliding_window=None,
                     router_aux_loss_coef=0.02, tie_word_embeddings=False), {}),
    "qwen3_moe": (dict(model_type="qwen3_moe", architectures=["Qwen3MoeForCausalLM"], hidden_size=32,
                       num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                       intermediate_size=64, moe_intermediate_size=24, num_experts=4, num_experts_per_tok=2,
                       norm_topk_prob=False, decoder_sparse_step=1, mlp_only_layers=[], vocab_size=76,
                       attention_bias=False, use_sliding_window=False, sliding_window=None,
                       tie_word_embeddings=True), {"tied_storage": "embed"}),
    "qwen3_moe_norm": (dict(model_type="qwen3_moe", architectures=["Qwen3MoeForCausalLM"], hidden_size=32,
                            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                            intermediate_size=64, moe_intermediate_size=20, num_experts=5, num_experts_per_tok=3,
                            norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[], vocab_size=70,
                            attention_bias=False, use_sliding_window=False, sliding_window=None,
                            tie_word_embeddings=False), {}),
})


# Qwen2-MoE (Qwen1.5-MoE, Qwen2-57B-A14B: modeling_qwen2_moe.py): q/k/v biases (zero in qwen2_moe, random in
# qwen2_moe_norm), mlp.gate + experts.{j}.{gate,up,down}_proj of moe_intermediate_size, norm_topk_prob (default
# false), and a shared expert mlp.shared_expert.{gate,up,down}_proj of shared_expert_intermediate_size scaled by
# sigmoid(mlp.shared_expert_gate [1, hidden]) on every token.
CONFIGS.update({
    "qwen2_moe": (dict(model_type="qwen2_moe", architectures=["Qwen2MoeForCausalLM"], hidden_size=32,
                       num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4, intermediate_size=64,
                       moe_intermediate_size=24, shared_expert_intermediate_size=40, num_experts=4,
                       num_experts_per_tok=2, norm_topk_prob=False, decoder_sparse_step=1, mlp_only_layers=[],
                       vocab_size=72, rope_theta=1000000.0, use_sliding_window=False, sliding_window=4096,
                       max_window_layers=2, router_aux_loss_coef=0.001, output_router_logits=False,
                       tie_word_embeddings=False), {}),
    "qwen2_moe_norm": (dict(model_type="qwen2_moe", architectures=["Qwen2MoeForCausalLM"], hidden_size=32,
                            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                            intermediate_size=64, moe_intermediate_size=20, shared_expert_intermediate_size=36,
                            num_experts=5, num_experts_per_tok=3, norm_topk_prob=True, decoder_sparse_step=1,
                            mlp_only_layers=[], vocab_size=66, rope_theta=10000.0, use_sliding_window=False,
                            tie_word_embeddings=True), {"bias": "random", "tied_storage": "embed"}),
})


def make_moe_mlp(cfg, p, mat):
    """The sparse MLP tensors of one layer (prefix p)."""
    H = cfg["hidden_size"]
    if cfg["model_type"] == "mixtral":
        E, I = cfg["num_local_experts"], cfg["intermediate_size"]
        t = [(p + "block_sparse_moe.gate.weight", 2.0 * mat(E, H))]
        for j in range(E):
            q = p + f"block_sparse_moe.experts.{j}."
            t += [(q + "w1.weight", mat(I, H)), (q + "w2.weight", mat(H, I)), (q + "w3.weight", mat(I, H))]
        return t
    E, I = cfg["num_experts"], cfg["moe_intermediate_size"]
    t = [(p + "mlp.gate.weight", 2.0 * mat(E, H))]
    for j in range(E):
        q = p + f"mlp.experts.{j}."
        t += [(q + "gate_proj.weight", mat(I, H)), (q + "up_proj.weight", mat(I, H)),
              (q + "down_proj.weight", mat(H, I))]
    if cfg["model_type"] == "qwen2_moe":
        S = cfg["shared_expert_intermediate_size"]
        q = p + "mlp.shared_expert."
        t += [(q + "gate_proj.weight", mat(S, H)), (q + "up_proj.weight", mat(S, H)),
              (q + "down_proj.weight", mat(H, S)), (p + "mlp.shared_expert_gate.weight", mat(1, H))]
    return t


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
    qkv_bias = family in ("qwen2", "qwen2_moe") or (family in ("llama", "qwen3") and cfg.get("attention_bias"))
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
        if family in ("qwen3", "qwen3_moe"):
            t.append((p + "self_attn.q_norm.weight", norm(D)))
            t.append((p + "self_attn.k_norm.weight", norm(D)))
        t.append((p + "post_attention_layernorm.weight", norm(H)))
        if family in ("mixtral", "qwen3_moe", "qwen2_moe"):
            t += make_moe_mlp(cfg, p, mat)
            continue
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


def make_gpt2_tensors(cfg, opts, rng):
    H, L, V, P = cfg["n_embd"], cfg["n_layer"], cfg["vocab_size"], cfg["n_positions"]
    I = cfg.get("n_inner") or 4 * H
    pre = opts.get("prefix", "transformer.")
    random_bias = opts.get("bias") == "random"

    def conv(i, o):  # Conv1D weight: stored [in, out]
        return rng.standard_normal((i, o)) / np.sqrt(i)

    def vec(n):
        return 0.3 * rng.standard_normal(n) if random_bias else np.zeros(n)

    def gamma(n):
        return 1.0 + 0.1 * rng.standard_normal(n)

    t = [(pre + "wte.weight", 0.5 * rng.standard_normal((V, H))),
         (pre + "wpe.weight", 0.3 * rng.standard_normal((P, H)))]
    for i in range(L):
        p = f"{pre}h.{i}."
        t += [(p + "ln_1.weight", gamma(H)), (p + "ln_1.bias", vec(H))]
        if opts.get("buffers"):
            t.append((p + "attn.bias", np.tril(np.ones((P, P))).reshape(1, 1, P, P)))
            if not pre:
                t.append((p + "attn.masked_bias", np.array(-1e4)))
        t += [(p + "attn.c_attn.weight", conv(H, 3 * H)), (p + "attn.c_attn.bias", vec(3 * H)),
              (p + "attn.c_proj.weight", conv(H, H)), (p + "attn.c_proj.bias", vec(H)),
              (p + "ln_2.weight", gamma(H)), (p + "ln_2.bias", vec(H)),
              (p + "mlp.c_fc.weight", conv(H, I)), (p + "mlp.c_fc.bias", vec(I)),
              (p + "mlp.c_proj.weight", conv(I, H)), (p + "mlp.c_proj.bias", vec(H))]
    t += [(pre + "ln_f.weight", gamma(H)), (pre + "ln_f.bias", vec(H))]
    return t


def make_encoder_tensors(cfg, opts, rng):
    """BERT, RoBERTa and DistilBERT bodies and their classification / masked-LM heads."""
    family = cfg["model_type"]
    arch = cfg["architectures"][0]
    distil = family == "distilbert"
    H = cfg["dim"] if distil else cfg["hidden_size"]
    L = cfg["n_layers"] if distil else cfg["num_hidden_layers"]
    I = cfg["hidden_dim"] if distil else cfg["intermediate_size"]
    V, P = cfg["vocab_size"], cfg["max_position_embeddings"]
    random_bias = opts.get("bias") == "random"
    wname, bname = ("gamma", "beta") if opts.get("ln_names") == "gamma" else ("weight", "bias")

    def vec(n):
        return 0.3 * rng.standard_normal(n) if random_bias else np.zeros(n)

    def lin(name, o, i):
        return [(name + ".weight", rng.standard_normal((o, i)) / np.sqrt(i)), (name + ".bias", vec(o))]

    def ln(name, n):
        return [(f"{name}.{wname}", 1.0 + 0.1 * rng.standard_normal(n)), (f"{name}.{bname}", vec(n))]

    pre = family + "."
    emb = rng.standard_normal((V, H)) / np.sqrt(H)  # also the tied MLM decoder: keep logits O(1)
    t = [(pre + "embeddings.word_embeddings.weight", emb),
         (pre + "embeddings.position_embeddings.weight", 0.5 * rng.standard_normal((P, H)))]
    if not distil:
        t.append((pre + "embeddings.token_type_embeddings.weight",
                  0.5 * rng.standard_normal((cfg["type_vocab_size"], H))))
    t += ln(pre + "embeddings.LayerNorm", H)
    if opts.get("buffers"):
        t.append((pre + "embeddings.position_ids", np.arange(P).reshape(1, P), "I64"))
    for i in range(L):
        if distil:
            p = f"{pre}transformer.layer.{i}."
            t += lin(p + "attention.q_lin", H, H) + lin(p + "attention.k_lin", H, H)
            t += lin(p + "attention.v_lin", H, H) + lin(p + "attention.out_lin", H, H)
            t += ln(p + "sa_layer_norm", H) + lin(p + "ffn.lin1", I, H) + lin(p + "ffn.lin2", H, I)
            t += ln(p + "output_layer_norm", H)
        else:
            p = f"{pre}encoder.layer.{i}."
            t += lin(p + "attention.self.query", H, H) + lin(p + "attention.self.key", H, H)
            t += lin(p + "attention.self.value", H, H) + lin(p + "attention.output.dense", H, H)
            t += ln(p + "attention.output.LayerNorm", H)
            t += lin(p + "intermediate.dense", I, H) + lin(p + "output.dense", H, I)
            t += ln(p + "output.LayerNorm", H)
    labels = len(cfg.get("id2label") or {}) or 2
    if arch.endswith("ForSequenceClassification"):
        if family == "bert":
            t += lin(pre + "pooler.dense", H, H) + lin("classifier", labels, H)
        elif family == "roberta":
            t += lin("classifier.dense", H, H) + lin("classifier.out_proj", labels, H)
        else:
            t += lin("pre_classifier", H, H) + lin("classifier", labels, H)
    elif arch.endswith("ForMaskedLM"):
        if family == "bert":
            t += lin("cls.predictions.transform.dense", H, H) + ln("cls.predictions.transform.LayerNorm", H)
            if opts.get("decoder"):
                t.append(("cls.predictions.decoder.weight", emb))
            t.append(("cls.predictions.bias", vec(V)))
        elif family == "roberta":
            t += lin("lm_head.dense", H, H) + ln("lm_head.layer_norm", H)
            if opts.get("decoder"):
                t.append(("lm_head.decoder.weight", emb))
            t.append(("lm_head.bias", vec(V)))
        else:
            t += lin("vocab_transform", H, H) + ln("vocab_layer_norm", H)
            if opts.get("decoder"):
                t.append(("vocab_projector.weight", emb))
            t.append(("vocab_projector.bias", vec(V)))
    else:
        raise ValueError(arch)
    return t


# ----------------------------------------------------------------------------------------------
# Gemma 2 and Gemma 3 text (Gemma2ForCausalLM, Gemma3ForCausalLM): four RMSNorms per layer whose weights
# are stored as w in a (1 + w) scale (zero-centred), no biases, tied embeddings unless asked otherwise;
# Gemma 3 adds per-head q/k norms. Small sliding windows and soft-capping values so that they matter on
# tiny random models (window 4 with sequences of 7 and 33; caps of a few units).

GEMMA_BASE = {
    "hidden_activation": "gelu_pytorch_tanh", "max_position_embeddings": 512, "rms_norm_eps": 1e-6,
    "initializer_range": 0.02, "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 2,
    "eos_token_id": 1, "pad_token_id": 0, "torch_dtype": "float32", "transformers_version": "4.50.0",
    "use_cache": True, "tie_word_embeddings": True,
}
BASES_GEMMA = {"gemma2": GEMMA_BASE, "gemma3_text": GEMMA_BASE}
GEMMA_CONFIGS = {
    # Gemma 2: sliding layers 0 and 2, global layer 1 (every other layer); head_dim 16 != hidden/heads,
    # query_pre_attn_scalar 24 != head_dim; no soft-capping.
    "gemma2": (dict(model_type="gemma2", architectures=["Gemma2ForCausalLM"], hidden_size=32,
                    num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                    intermediate_size=48, vocab_size=64, query_pre_attn_scalar=24, sliding_window=4,
                    rope_theta=10000.0, attn_logit_softcapping=None, final_logit_softcapping=None,
                    cache_implementation="hybrid"), {}),
    # Attention-score and final-logit soft-capping with caps that bite; MHA, untied head.
    "gemma2_softcap": (dict(model_type="gemma2", architectures=["Gemma2ForCausalLM"], hidden_size=32,
                            num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2, head_dim=16,
                            intermediate_size=64, vocab_size=70, query_pre_attn_scalar=16, sliding_window=4,
                            rope_theta=10000.0, attn_logit_softcapping=1.5, final_logit_softcapping=2.0,
                            tie_word_embeddings=False), {}),
    # Gemma 3: sliding_window_pattern 3 (layers 0, 1 sliding with rope_local_base_freq, layer 2 global with
    # rope_theta and linear scaling), q/k norms, GQA.
    "gemma3": (dict(model_type="gemma3_text", architectures=["Gemma3ForCausalLM"], hidden_size=32,
                    num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=1, head_dim=8,
                    intermediate_size=64, vocab_size=72, query_pre_attn_scalar=8, sliding_window=4,
                    sliding_window_pattern=3, rope_theta=1000000.0, rope_local_base_freq=10000.0,
                    rope_scaling={"rope_type": "linear", "factor": 8.0}, attn_logit_softcapping=None,
                    final_logit_softcapping=None), {}),
    # Gemma 3 with final-logit soft-capping and an attn_logit_softcapping that its attention ignores;
    # MHA, untied head.
    "gemma3_softcap": (dict(model_type="gemma3_text", architectures=["Gemma3ForCausalLM"], hidden_size=32,
                            num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2, head_dim=16,
                            intermediate_size=40, vocab_size=66, query_pre_attn_scalar=16, sliding_window=3,
                            sliding_window_pattern=2, rope_theta=10000.0, rope_local_base_freq=100.0,
                            attn_logit_softcapping=0.5, final_logit_softcapping=1.5,
                            tie_word_embeddings=False), {}),
    # transformers-5 form: layer_types and rope_parameters per layer type; bf16 weights (the embedding
    # normaliser sqrt(48) is rounded to bf16), hidden 48.
    "gemma3_v5_bf16": (dict(model_type="gemma3_text", architectures=["Gemma3ForCausalLM"], hidden_size=48,
                            num_hidden_layers=3, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                            intermediate_size=64, vocab_size=64, query_pre_attn_scalar=20, sliding_window=5,
                            layer_types=["full_attention", "sliding_attention", "full_attention"],
                            rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 100000.0},
                                             "sliding_attention": {"rope_type": "default", "rope_theta": 500.0}},
                            dtype="bfloat16", transformers_version="5.0.0"),
                       {"dtype": "BF16", "drop": ["torch_dtype"]}),
    # The multimodal form (Gemma3ForConditionalGeneration, transformers < 4.52 names): the fields above nested
    # in text_config (written without query_pre_attn_scalar and rope_theta: their defaults 256 and 1e6 apply),
    # weights under language_model.model.*; no vision tower (never read).
    "gemma3_nested": (dict(model_type="gemma3_text", architectures=["Gemma3ForCausalLM"], hidden_size=32,
                           num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                           intermediate_size=48, vocab_size=60, sliding_window=3, sliding_window_pattern=2,
                           rope_local_base_freq=1000.0), {"nest": True, "drop": ["rope_theta"]}),
    # Has a faithful GGUF twin (llama.cpp's fixed Gemma 3 choices: every sixth layer global, local RoPE base
    # 10000, query_pre_attn_scalar = head_dim): 7 layers, layer 5 global; final-logit soft-capping.
    "gemma3_gguf": (dict(model_type="gemma3_text", architectures=["Gemma3ForCausalLM"], hidden_size=16,
                         num_hidden_layers=7, num_attention_heads=2, num_key_value_heads=1, head_dim=8,
                         intermediate_size=32, vocab_size=48, query_pre_attn_scalar=8, sliding_window=4,
                         sliding_window_pattern=6, rope_theta=1000000.0, rope_local_base_freq=10000.0,
                         final_logit_softcapping=3.0), {}),
}
CONFIGS.update(GEMMA_CONFIGS)


def make_gemma_tensors(cfg, opts, rng):
    H, L, I, V = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["intermediate_size"], cfg["vocab_size"]
    heads = cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads", heads)
    D = cfg.get("head_dim") or 256
    tied = cfg.get("tie_word_embeddings", True)

    def mat(o, i):
        return rng.standard_normal((o, i)) / np.sqrt(i)

    def norm(n):  # stored w; the model scales by (1 + w)
        return 0.1 * rng.standard_normal(n)

    # Rows of norm ~1, i.e. O(1) entries after the normaliser sqrt(H); as a tied head, logits O(1).
    t = [("model.embed_tokens.weight", rng.standard_normal((V, H)) / np.sqrt(H))]
    for i in range(L):
        p = f"model.layers.{i}."
        t.append((p + "input_layernorm.weight", norm(H)))
        t.append((p + "self_attn.q_proj.weight", mat(heads * D, H)))
        t.append((p + "self_attn.k_proj.weight", mat(kv * D, H)))
        t.append((p + "self_attn.v_proj.weight", mat(kv * D, H)))
        t.append((p + "self_attn.o_proj.weight", mat(H, heads * D)))
        if cfg["model_type"] == "gemma3_text":
            t.append((p + "self_attn.q_norm.weight", norm(D)))
            t.append((p + "self_attn.k_norm.weight", norm(D)))
        t.append((p + "post_attention_layernorm.weight", norm(H)))
        t.append((p + "pre_feedforward_layernorm.weight", norm(H)))
        t.append((p + "mlp.gate_proj.weight", mat(I, H)))
        t.append((p + "mlp.up_proj.weight", mat(I, H)))
        t.append((p + "mlp.down_proj.weight", mat(H, I)))
        t.append((p + "post_feedforward_layernorm.weight", norm(H)))
    t.append(("model.norm.weight", norm(H)))
    if not tied:
        t.append(("lm_head.weight", rng.standard_normal((V, H)) / np.sqrt(H)))
    return t


# Configurations with the real vocabularies of tests/tokenizer/ (GPT-2's 50257 tokens, BERT's 30522), for
# the command-line tests on text (tests/test_families_cli.sh); not part of the reference comparisons.
CLI_CONFIGS = {
    "gpt2_text": (dict(model_type="gpt2", architectures=["GPT2LMHeadModel"], n_embd=16, n_layer=2, n_head=2,
                       n_positions=128, n_ctx=128, n_inner=None, vocab_size=50257, bos_token_id=50256,
                       eos_token_id=50256), {"bias": "random", "prefix": "transformer."}),
    "bert_text_cls": (dict(model_type="bert", architectures=["BertForSequenceClassification"], hidden_size=16,
                           num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, vocab_size=30522,
                           max_position_embeddings=64, **LABELS), {"bias": "random"}),
    "bert_text_mlm": (dict(model_type="bert", architectures=["BertForMaskedLM"], hidden_size=16,
                           num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, vocab_size=30522,
                           max_position_embeddings=64), {"bias": "random"}),
}


# ----------------------------------------------------------------------------------------------
# Vision Transformers (ViTForImageClassification). Options: bias ("zero": every Linear/conv bias and
# every LayerNorm beta zero, the CLS token and position embeddings still random; "random").

VIT_LABELS = {"id2label": {"0": "cat", "1": "dog", "2": "bird", "3": "fish"},
              "label2id": {"cat": 0, "dog": 1, "bird": 2, "fish": 3}}
VIT_BASE = {
    "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
    "initializer_range": 0.02, "layer_norm_eps": 1e-12, "qkv_bias": True, "encoder_stride": 16,
    "problem_type": "single_label_classification", "torch_dtype": "float32",
    "transformers_version": "4.46.0",
}
VIT_CONFIGS = {
    "vit_gray": (dict(model_type="vit", architectures=["ViTForImageClassification"], hidden_size=16,
                      num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, image_size=28,
                      patch_size=7, num_channels=1, **VIT_LABELS), {"bias": "zero"}),
    "vit_rgb": (dict(model_type="vit", architectures=["ViTForImageClassification"], hidden_size=24,
                     num_hidden_layers=2, num_attention_heads=3, intermediate_size=48, image_size=32,
                     patch_size=8, num_channels=3, **VIT_LABELS), {"bias": "zero"}),
    "vit_bias": (dict(model_type="vit", architectures=["ViTForImageClassification"], hidden_size=32,
                      num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, image_size=24,
                      patch_size=6, num_channels=3, **VIT_LABELS), {"bias": "random"}),
}
CONFIGS.update(VIT_CONFIGS)
BASES_VIT = {"vit": VIT_BASE}


def make_vit_tensors(cfg, opts, rng):
    H, L, I = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["intermediate_size"]
    C, S, P = cfg["num_channels"], cfg["image_size"], cfg["patch_size"]
    N = (S // P) ** 2
    labels = len(cfg.get("id2label") or {}) or 2
    random_bias = opts.get("bias") == "random"

    def vec(n):
        return 0.3 * rng.standard_normal(n) if random_bias else np.zeros(n)

    def lin(name, o, i):
        return [(name + ".weight", rng.standard_normal((o, i)) / np.sqrt(i)), (name + ".bias", vec(o))]

    def ln(name, n):
        return [(name + ".weight", 1.0 + 0.1 * rng.standard_normal(n)), (name + ".bias", vec(n))]

    e = "vit.embeddings."
    t = [(e + "cls_token", 0.5 * rng.standard_normal((1, 1, H))),
         (e + "position_embeddings", 0.5 * rng.standard_normal((1, N + 1, H))),
         (e + "patch_embeddings.projection.weight", rng.standard_normal((H, C, P, P)) / np.sqrt(C * P * P)),
         (e + "patch_embeddings.projection.bias", vec(H))]
    for i in range(L):
        p = f"vit.encoder.layer.{i}."
        t += ln(p + "layernorm_before", H)
        t += lin(p + "attention.attention.query", H, H) + lin(p + "attention.attention.key", H, H)
        t += lin(p + "attention.attention.value", H, H) + lin(p + "attention.output.dense", H, H)
        t += ln(p + "layernorm_after", H)
        t += lin(p + "intermediate.dense", I, H) + lin(p + "output.dense", H, I)
    t += ln("vit.layernorm", H) + lin("classifier", labels, H)
    return t


def vit_preprocessor_config(cfg):
    """preprocessor_config.json as ViTImageProcessor writes it (no resize: the image is image_size)."""
    C, S = cfg["num_channels"], cfg["image_size"]
    return {"do_normalize": True, "do_rescale": True, "do_resize": True,
            "image_mean": [0.5] * C, "image_std": [0.5] * C,
            "image_processor_type": "ViTImageProcessor", "resample": 2, "rescale_factor": 1 / 255,
            "size": {"height": S, "width": S}}

# ----------------------------------------------------------------------------------------------
# Phi (PhiForCausalLM: Phi-1.5, Phi-2) and Phi-3 (Phi3ForCausalLM: Phi-3, Phi-3.5, Phi-4-mini), in the
# layout of transformers' modeling_phi.py / modeling_phi3.py. Options: bias ("zero" or "random": every
# Phi Linear bias, LayerNorm beta and the lm_head bias; Phi-3 has none).

PHI_BASE = {
    "architectures": ["PhiForCausalLM"], "hidden_act": "gelu_new", "max_position_embeddings": 64,
    "layer_norm_eps": 1e-5, "initializer_range": 0.02, "resid_pdrop": 0.0, "embd_pdrop": 0.0,
    "attention_dropout": 0.0, "rope_theta": 10000.0, "rope_scaling": None, "partial_rotary_factor": 0.5,
    "qk_layernorm": False, "bos_token_id": 1, "eos_token_id": 2, "tie_word_embeddings": False,
    "torch_dtype": "float32", "transformers_version": "4.46.0", "use_cache": True,
}
PHI3_BASE = {
    "architectures": ["Phi3ForCausalLM"], "hidden_act": "silu", "max_position_embeddings": 64,
    "original_max_position_embeddings": 64, "rms_norm_eps": 1e-5, "initializer_range": 0.02,
    "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attention_dropout": 0.0, "rope_theta": 10000.0,
    "rope_scaling": None, "sliding_window": None, "bos_token_id": 1, "eos_token_id": 2,
    "tie_word_embeddings": False, "torch_dtype": "float32", "transformers_version": "4.46.0",
    "use_cache": True,
}
PHI_BASES = {"phi": PHI_BASE, "phi3": PHI3_BASE}

CONFIGS.update({
    # head_dim 8, partial_rotary_factor 0.5: the first 4 dimensions of each head rotate.
    "phi": (dict(model_type="phi", hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=4, intermediate_size=64, vocab_size=64), {"bias": "zero"}),
    # GQA, head_dim 12, partial 0.4 -> int(4.8) = 4 rotary dimensions; random biases everywhere.
    "phi_bias": (dict(model_type="phi", hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, intermediate_size=80, vocab_size=70, partial_rotary_factor=0.4,
                      layer_norm_eps=1e-6), {"bias": "random"}),
    # Per-head LayerNorm on q and k, 6 of 8 dimensions rotated, theta 1e6.
    "phi_qkln": (dict(model_type="phi", hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=4, intermediate_size=48, vocab_size=60, qk_layernorm=True,
                      partial_rotary_factor=0.75, rope_theta=1000000.0), {"bias": "zero"}),
    "phi3": (dict(model_type="phi3", hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, intermediate_size=48, vocab_size=64), {}),
    # LongRoPE on 12 of 16 dimensions (Phi-4-mini style, tied embeddings): max 64 / original 16 = factor 4,
    # attention factor sqrt(1 + ln 4 / ln 16); sequences of 1 and 7 use short_factor, 33 long_factor;
    # a sliding window of 20 keys.
    "phi3_longrope": (dict(model_type="phi3", hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                           num_key_value_heads=2, intermediate_size=96, vocab_size=72,
                           partial_rotary_factor=0.75, original_max_position_embeddings=16,
                           max_position_embeddings=64, sliding_window=20, tie_word_embeddings=True,
                           rope_scaling={"type": "longrope",
                                         "short_factor": [1.0, 1.02, 1.1, 1.25, 1.4, 1.5],
                                         "long_factor": [1.0, 1.3, 2.1, 3.7, 6.0, 9.5]}), {}),
})


def make_phi_tensors(cfg, opts, rng):
    H = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads") or heads
    D = H // heads
    I = cfg["intermediate_size"]
    V = cfg["vocab_size"]
    random_bias = opts.get("bias") == "random"
    phi3 = cfg["model_type"] == "phi3"

    def mat(o, i):
        return rng.standard_normal((o, i)) / np.sqrt(i)

    def gamma(n):
        return 1.0 + 0.1 * rng.standard_normal(n)

    def vec(n):
        return 0.3 * rng.standard_normal(n) if random_bias else np.zeros(n)

    tied = cfg.get("tie_word_embeddings")
    t = [("model.embed_tokens.weight", rng.standard_normal((V, H)) / (np.sqrt(H) if tied else 1.0))]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        if phi3:
            t += [(p + "input_layernorm.weight", gamma(H)),
                  (p + "self_attn.qkv_proj.weight", mat((heads + 2 * kv) * D, H)),
                  (p + "self_attn.o_proj.weight", mat(H, heads * D)),
                  (p + "post_attention_layernorm.weight", gamma(H)),
                  (p + "mlp.gate_up_proj.weight", mat(2 * I, H)),
                  (p + "mlp.down_proj.weight", mat(H, I))]
            continue
        t += [(p + "input_layernorm.weight", gamma(H)), (p + "input_layernorm.bias", vec(H))]
        for n, o in (("q_proj", heads * D), ("k_proj", kv * D), ("v_proj", kv * D)):
            t += [(p + f"self_attn.{n}.weight", mat(o, H)), (p + f"self_attn.{n}.bias", vec(o))]
        t += [(p + "self_attn.dense.weight", mat(H, heads * D)), (p + "self_attn.dense.bias", vec(H))]
        if cfg.get("qk_layernorm"):
            for n in ("q_layernorm", "k_layernorm"):
                t += [(p + f"self_attn.{n}.weight", gamma(D)), (p + f"self_attn.{n}.bias", vec(D))]
        t += [(p + "mlp.fc1.weight", mat(I, H)), (p + "mlp.fc1.bias", vec(I)),
              (p + "mlp.fc2.weight", mat(H, I)), (p + "mlp.fc2.bias", vec(H))]
    if phi3:
        t.append(("model.norm.weight", gamma(H)))
    else:
        t += [("model.final_layernorm.weight", gamma(H)), ("model.final_layernorm.bias", vec(H))]
    if not tied:
        t.append(("lm_head.weight", rng.standard_normal((V, H)) / np.sqrt(H)))
    if not phi3:
        t.append(("lm_head.bias", vec(V)))
    return t


# ----------------------------------------------------------------------------------------------
# T5 encoder-decoders (T5ForConditionalGeneration), in the layout of transformers' modeling_t5.py:
# shared.weight, encoder.block.{i}.layer.{0 SelfAttention, 1 DenseReluDense}, decoder.block.{i}.layer.{0
# SelfAttention, 1 EncDecAttention, 2 DenseReluDense}, relative_attention_bias only in block 0 of each
# stack, the final_layer_norm of each stack, lm_head.weight when untied. No biases (T5 has none).
# Options: embed_copies (also store encoder./decoder.embed_tokens.weight, as older files do).

T5_BASE = {
    "architectures": ["T5ForConditionalGeneration"], "d_model": 32, "d_kv": 8, "d_ff": 48, "num_heads": 4,
    "num_layers": 2, "num_decoder_layers": 2, "vocab_size": 100, "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128, "dropout_rate": 0.1, "layer_norm_epsilon": 1e-6,
    "initializer_factor": 1.0, "feed_forward_proj": "relu", "is_encoder_decoder": True, "use_cache": True,
    "pad_token_id": 0, "eos_token_id": 1, "decoder_start_token_id": 0, "tie_word_embeddings": True,
    "torch_dtype": "float32", "transformers_version": "4.46.0",
}
BASES_T5 = {"t5": T5_BASE, "mt5": T5_BASE}
T5_CONFIGS = {
    # Flan-T5 / T5 v1.1 shape: gated-gelu (gelu_new), untied lm_head; d_kv 12 with 2 heads (inner 24,
    # not d_model 32); 8 buckets up to distance 20, so length 33 reaches the log buckets and beyond.
    "t5_gated": (dict(model_type="t5", d_kv=12, num_heads=2, feed_forward_proj="gated-gelu",
                      tie_word_embeddings=False, relative_attention_num_buckets=8,
                      relative_attention_max_distance=20, dense_act_fn="gelu_new", is_gated_act=True), {}),
    # T5 v1.0 shape: relu, tied head (decoder output scaled by d_model^-1/2), a deeper decoder (3 blocks),
    # d_kv 10 with 3 heads, the default 32 buckets up to 128; older files also store the embed copies.
    "t5_relu": (dict(model_type="t5", d_kv=10, num_heads=3, num_decoder_layers=3, vocab_size=90),
                {"embed_copies": True}),
}
CONFIGS.update(T5_CONFIGS)


def make_t5_tensors(cfg, opts, rng):
    d, dkv, H, ff, V = cfg["d_model"], cfg["d_kv"], cfg["num_heads"], cfg["d_ff"], cfg["vocab_size"]
    inner, nb = H * dkv, cfg["relative_attention_num_buckets"]
    gated = cfg["feed_forward_proj"].startswith("gated-")
    tied = cfg.get("tie_word_embeddings", True)

    def mat(o, i):
        return rng.standard_normal((o, i)) / np.sqrt(i)

    def norm(n):
        return 1.0 + 0.1 * rng.standard_normal(n)

    def attn(p, kind, rel):
        t = [(f"{p}.{kind}.q.weight", mat(inner, d) / np.sqrt(dkv)),  # the init folds 1/sqrt(d_kv) into q
             (f"{p}.{kind}.k.weight", mat(inner, d)), (f"{p}.{kind}.v.weight", mat(inner, d)),
             (f"{p}.{kind}.o.weight", mat(d, inner))]
        if rel:
            t.append((f"{p}.{kind}.relative_attention_bias.weight", 0.5 * rng.standard_normal((nb, H))))
        return t + [(f"{p}.layer_norm.weight", norm(d))]

    def dense(p):
        if gated:
            t = [(f"{p}.DenseReluDense.wi_0.weight", mat(ff, d)), (f"{p}.DenseReluDense.wi_1.weight", mat(ff, d))]
        else:
            t = [(f"{p}.DenseReluDense.wi.weight", mat(ff, d))]
        return t + [(f"{p}.DenseReluDense.wo.weight", mat(d, ff)), (f"{p}.layer_norm.weight", norm(d))]

    shared = rng.standard_normal((V, d))
    t = [("shared.weight", shared)]
    if opts.get("embed_copies"):
        t += [("encoder.embed_tokens.weight", shared.copy()), ("decoder.embed_tokens.weight", shared.copy())]
    for i in range(cfg["num_layers"]):
        t += attn(f"encoder.block.{i}.layer.0", "SelfAttention", i == 0) + dense(f"encoder.block.{i}.layer.1")
    t.append(("encoder.final_layer_norm.weight", norm(d)))
    n_dec = cfg.get("num_decoder_layers") or cfg["num_layers"]
    for i in range(n_dec):
        t += attn(f"decoder.block.{i}.layer.0", "SelfAttention", i == 0)
        t += attn(f"decoder.block.{i}.layer.1", "EncDecAttention", False) + dense(f"decoder.block.{i}.layer.2")
    t.append(("decoder.final_layer_norm.weight", norm(d)))
    if not tied:
        t.append(("lm_head.weight", mat(V, d)))
    return t


def write_checkpoint(outdir, name):
    """Writes configuration `name` into outdir (created); returns outdir."""
    fields, opts = CONFIGS[name] if name in CONFIGS else CLI_CONFIGS[name]
    family = fields["model_type"]
    cfg = dict(BASES.get(family) or BASES_VIT.get(family) or PHI_BASES.get(family) or BASES_GEMMA.get(family)
               or BASES_T5.get(family) or BASE)
    cfg.update(fields)
    for key in opts.get("drop", []):
        cfg.pop(key, None)
    if opts.get("nest"):  # multimodal Gemma 3: the text model's config nested, weights under language_model.
        text = {k: v for k, v in cfg.items() if k not in ("architectures", "torch_dtype", "transformers_version")}
        cfg = {"model_type": "gemma3", "architectures": ["Gemma3ForConditionalGeneration"], "text_config": text,
               "torch_dtype": "float32", "transformers_version": "4.50.0", "image_token_index": 59,
               "mm_tokens_per_image": 256}
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    if family == "vit":
        tensors = make_vit_tensors(cfg, opts, rng)
    elif family == "gpt2":
        tensors = make_gpt2_tensors(cfg, opts, rng)
    elif family in BASES_GEMMA:
        tensors = make_gemma_tensors(cfg.get("text_config", cfg), opts, rng)
        if opts.get("nest"):
            tensors = [("language_model." + name, arr) for name, arr in tensors]
    elif family in BASES:
        tensors = make_encoder_tensors(cfg, opts, rng)
    elif family in PHI_BASES:
        tensors = make_phi_tensors(cfg, opts, rng)
    elif family in BASES_T5:
        tensors = make_t5_tensors(cfg, opts, rng)
    else:
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
            for tname, arr, *_ in part:
                weight_map[tname] = fname
                total += arr.size * (4 if dtype == "F32" else 2)
        with open(os.path.join(outdir, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    with open(os.path.join(outdir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    if family == "vit":
        with open(os.path.join(outdir, "preprocessor_config.json"), "w") as f:
            json.dump(vit_preprocessor_config(cfg), f, indent=2)
    return outdir


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("configurations: " + " ".join(CONFIGS) + " " + " ".join(CLI_CONFIGS))
        return 0 if argv else 2
    names = argv[1:] or list(CONFIGS)
    for name in names:
        if name not in CONFIGS and name not in CLI_CONFIGS:
            print(f"make_checkpoint.py: unknown configuration {name!r}", file=sys.stderr)
            return 2
        write_checkpoint(os.path.join(argv[0], name), name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
