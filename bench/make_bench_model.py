#!/usr/bin/python3
"""Writes a benchmark checkpoint in exact Hugging Face layout (config.json + model.safetensors): by default a
random LLaMA-shaped model of about 125M parameters (85M outside the embedding and head); with --family gpt2
a GPT-2-small-shaped one (124M), with --family bert a BERT-base-shaped sequence classifier (110M).

    make_bench_model.py [OUTDIR] [--family llama|gpt2|bert|vit|mixtral|mixtral-dense|gemma3|t5] [--bf16] [--seed N]
                        [--layers N] [--vocab N (gemma3)]

Mixtral (--family mixtral): hidden 512, 8 layers, 8 heads, 4 key/value heads, 8 experts of intermediate 1024,
top-2, vocab 32000, untied; --family mixtral-dense is its dense LLaMA twin with the same active parameters
(intermediate 2048 = two experts). Gemma 3 (--family gemma3): the Gemma-3-270M shape (see GEMMA3 below).
T5 (--family t5): the Flan-T5-small shape, an encoder-decoder of 77M parameters (see T5 below); --layers
sets both stacks.

OUTDIR defaults to /tmp/attnlrp-bench-model, /tmp/attnlrp-bench-gpt2, -bert, -vit, -mixtral, -mixtral-dense,
-gemma3 or -t5 (never
write it inside the repository: it is ~500 MB in F32).

LLaMA:
Shape: hidden 768, 12 layers, 12 heads, 4 key/value heads (head_dim 64), intermediate 2048, vocab 32000,
untied head, no biases. Weights are drawn N(0, σ²) with σ chosen so that activations stay O(1):
projections 1/sqrt(fan_in), the two projections that write into the residual stream (o_proj, down_proj)
additionally divided by sqrt(2·layers), embeddings N(0, 1), norm weights 1 + N(0, 0.05²). Logits then
come out with a standard deviation of about one, so the softmax is neither flat nor saturated.

GPT-2 small (GPT2LMHeadModel as save_pretrained writes it: `transformer.` prefix, Conv1D weights stored
[in, out], fused c_attn [768, 2304], no attn.bias buffers, tied head so no lm_head.weight): n_embd 768,
12 layers, 12 heads, n_inner 3072, vocab 50257, n_positions 1024, gelu_new. Conv1D weights
N(0, 1/fan_in), c_proj (both) further / sqrt(2·layers); biases N(0, 0.02²); LayerNorm gamma
1 + N(0, 0.05²), beta N(0, 0.02²); wte N(0, 1/768) so that the tied head gives logits of standard
deviation about one; wpe N(0, 0.5²/768).

BERT base (BertForSequenceClassification: `bert.` prefix, pooler, classifier with 2 labels): hidden 768,
12 layers, 12 heads, intermediate 3072, vocab 30522, 512 positions, type_vocab_size 2, gelu. Linear
weights N(0, 1/fan_in), biases N(0, 0.02²); word embeddings N(0, 1), positions and token types
N(0, 0.5²) (all followed by the embedding LayerNorm); LayerNorm as for GPT-2.

ViT-B/16 (ViTForImageClassification: `vit.` prefix, 1000 labels): hidden 768, 12 layers, 12 heads,
intermediate 3072, image 224, patch 16, 3 channels (196 patches + CLS = 197 tokens), gelu, pre-LayerNorm
blocks, 86M parameters. Patch projection [768, 3, 16, 16] N(0, 1/(3·16·16)) so that N(0, 1) pixels give
O(1) patch embeddings; Linear weights N(0, 1/fan_in), attention.output.dense and output.dense further
/ sqrt(2·layers) (they write into the residual stream); biases N(0, 0.02²); cls_token N(0, 1), position
embeddings N(0, 0.5²); LayerNorms as for GPT-2; the classifier's logits have a standard deviation of ~1.

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


GPT2 = dict(n_embd=768, n_layer=12, n_head=12, n_inner=None, vocab_size=50257, n_positions=1024)
BERT = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
            vocab_size=30522, max_position_embeddings=512, type_vocab_size=2)


def gpt2_config(layers, dtype_name):
    c = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", **GPT2, "n_layer": layers,
         "n_ctx": GPT2["n_positions"], "activation_function": "gelu_new", "attn_pdrop": 0.1, "embd_pdrop": 0.1,
         "resid_pdrop": 0.1, "initializer_range": 0.02, "layer_norm_epsilon": 1e-5, "scale_attn_weights": True,
         "reorder_and_upcast_attn": False, "scale_attn_by_inverse_layer_idx": False,
         "summary_type": "cls_index", "summary_use_proj": True, "summary_activation": None,
         "summary_proj_to_labels": True, "summary_first_dropout": 0.1, "tie_word_embeddings": True,
         "bos_token_id": 50256, "eos_token_id": 50256, "torch_dtype": dtype_name,
         "transformers_version": "4.46.0", "use_cache": True}
    return c


def bert_config(layers, dtype_name):
    return {"architectures": ["BertForSequenceClassification"], "model_type": "bert", **BERT,
            "num_hidden_layers": layers, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
            "pad_token_id": 0, "position_embedding_type": "absolute", "classifier_dropout": None,
            "id2label": {"0": "LABEL_0", "1": "LABEL_1"}, "label2id": {"LABEL_0": 0, "LABEL_1": 1},
            "torch_dtype": dtype_name, "transformers_version": "4.46.0", "use_cache": True}


def gpt2_plan(layers):
    H, V, P = GPT2["n_embd"], GPT2["vocab_size"], GPT2["n_positions"]
    I = 4 * H
    pre = "transformer."
    plan = [(pre + "wte.weight", (V, H), "embed_tied"), (pre + "wpe.weight", (P, H), "embed_pos_small")]
    for i in range(layers):
        p = f"{pre}h.{i}."
        plan += [(p + "ln_1.weight", (H,), "norm"), (p + "ln_1.bias", (H,), "bias"),
                 (p + "attn.c_attn.weight", (H, 3 * H), "conv"), (p + "attn.c_attn.bias", (3 * H,), "bias"),
                 (p + "attn.c_proj.weight", (H, H), "conv_residual"), (p + "attn.c_proj.bias", (H,), "bias"),
                 (p + "ln_2.weight", (H,), "norm"), (p + "ln_2.bias", (H,), "bias"),
                 (p + "mlp.c_fc.weight", (H, I), "conv"), (p + "mlp.c_fc.bias", (I,), "bias"),
                 (p + "mlp.c_proj.weight", (I, H), "conv_residual"), (p + "mlp.c_proj.bias", (H,), "bias")]
    plan += [(pre + "ln_f.weight", (H,), "norm"), (pre + "ln_f.bias", (H,), "bias")]
    return plan


def bert_plan(layers):
    H, V, P, I, TV = (BERT["hidden_size"], BERT["vocab_size"], BERT["max_position_embeddings"],
                      BERT["intermediate_size"], BERT["type_vocab_size"])
    pre = "bert."

    def lin(name, o, i):
        return [(name + ".weight", (o, i), "proj"), (name + ".bias", (o,), "bias")]

    def ln(name):
        return [(name + ".weight", (H,), "norm"), (name + ".bias", (H,), "bias")]

    plan = [(pre + "embeddings.word_embeddings.weight", (V, H), "embed"),
            (pre + "embeddings.position_embeddings.weight", (P, H), "embed_pos"),
            (pre + "embeddings.token_type_embeddings.weight", (TV, H), "embed_pos")]
    plan += ln(pre + "embeddings.LayerNorm")
    for i in range(layers):
        p = f"{pre}encoder.layer.{i}."
        plan += lin(p + "attention.self.query", H, H) + lin(p + "attention.self.key", H, H)
        plan += lin(p + "attention.self.value", H, H) + lin(p + "attention.output.dense", H, H)
        plan += ln(p + "attention.output.LayerNorm")
        plan += lin(p + "intermediate.dense", I, H) + lin(p + "output.dense", H, I)
        plan += ln(p + "output.LayerNorm")
    plan += lin(pre + "pooler.dense", H, H) + lin("classifier", 2, H)
    return plan


VIT = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072, image_size=224,
           patch_size=16, num_channels=3, num_labels=1000)


def vit_config(layers, dtype_name):
    n = VIT["num_labels"]
    return {"architectures": ["ViTForImageClassification"], "model_type": "vit",
            **{k: v for k, v in VIT.items() if k != "num_labels"}, "num_hidden_layers": layers,
            "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
            "initializer_range": 0.02, "layer_norm_eps": 1e-12, "qkv_bias": True, "encoder_stride": 16,
            "id2label": {str(i): f"LABEL_{i}" for i in range(n)},
            "label2id": {f"LABEL_{i}": i for i in range(n)},
            "torch_dtype": dtype_name, "transformers_version": "4.46.0"}


def vit_plan(layers):
    H, I, P, C, N = (VIT["hidden_size"], VIT["intermediate_size"], VIT["patch_size"], VIT["num_channels"],
                     VIT["num_labels"])
    patches = (VIT["image_size"] // P) ** 2

    def lin(name, o, i, kind="proj"):
        return [(name + ".weight", (o, i), kind), (name + ".bias", (o,), "bias")]

    def ln(name):
        return [(name + ".weight", (H,), "norm"), (name + ".bias", (H,), "bias")]

    e = "vit.embeddings."
    plan = [(e + "cls_token", (1, 1, H), "embed"), (e + "position_embeddings", (1, patches + 1, H), "embed_pos"),
            (e + "patch_embeddings.projection.weight", (H, C, P, P), "conv2d"),
            (e + "patch_embeddings.projection.bias", (H,), "bias")]
    for i in range(layers):
        p = f"vit.encoder.layer.{i}."
        plan += ln(p + "layernorm_before")
        plan += lin(p + "attention.attention.query", H, H) + lin(p + "attention.attention.key", H, H)
        plan += lin(p + "attention.attention.value", H, H)
        plan += lin(p + "attention.output.dense", H, H, "residual")
        plan += ln(p + "layernorm_after")
        plan += lin(p + "intermediate.dense", I, H) + lin(p + "output.dense", H, I, "residual")
    plan += ln("vit.layernorm") + lin("classifier", N, H)
    return plan


# Mixtral-shaped toy (MixtralForCausalLM: block_sparse_moe.gate + experts.{j}.w1/w3/w2, top-2 renormalised) and
# its dense twin with the same active parameters (a LLaMA whose intermediate is two experts' worth).
MOE = dict(hidden=512, layers=8, heads=8, kv_heads=4, experts=8, topk=2, expert_inter=1024, vocab=32000)


def _llama_like_config(arch, mtype, layers, dtype_name, inter, extra):
    c = config(layers, dtype_name)
    c.update({"architectures": [arch], "model_type": mtype, "hidden_size": MOE["hidden"],
              "num_attention_heads": MOE["heads"], "num_key_value_heads": MOE["kv_heads"],
              "intermediate_size": inter, "vocab_size": MOE["vocab"]})
    c.update(extra)
    return c


def mixtral_config(layers, dtype_name):
    return _llama_like_config("MixtralForCausalLM", "mixtral", layers, dtype_name, MOE["expert_inter"],
                              {"num_local_experts": MOE["experts"], "num_experts_per_tok": MOE["topk"],
                               "sliding_window": None, "router_aux_loss_coef": 0.02, "rope_theta": 1e6})


def mixtral_dense_config(layers, dtype_name):
    return _llama_like_config("LlamaForCausalLM", "llama", layers, dtype_name,
                              MOE["topk"] * MOE["expert_inter"], {"rope_theta": 1e6})


def _moe_attn(p, H, hd, heads, kv):
    return [(p + "input_layernorm.weight", (H,), "norm"),
            (p + "self_attn.q_proj.weight", (heads * hd, H), "proj"),
            (p + "self_attn.k_proj.weight", (kv * hd, H), "proj"),
            (p + "self_attn.v_proj.weight", (kv * hd, H), "proj"),
            (p + "self_attn.o_proj.weight", (H, heads * hd), "residual"),
            (p + "post_attention_layernorm.weight", (H,), "norm")]


def mixtral_plan(layers, dense=False):
    H, V, E, I = MOE["hidden"], MOE["vocab"], MOE["experts"], MOE["expert_inter"]
    hd = H // MOE["heads"]
    plan = [("model.embed_tokens.weight", (V, H), "embed")]
    for i in range(layers):
        p = f"model.layers.{i}."
        plan += _moe_attn(p, H, hd, MOE["heads"], MOE["kv_heads"])
        if dense:
            D = MOE["topk"] * I
            plan += [(p + "mlp.gate_proj.weight", (D, H), "proj"), (p + "mlp.up_proj.weight", (D, H), "proj"),
                     (p + "mlp.down_proj.weight", (H, D), "residual")]
            continue
        plan.append((p + "block_sparse_moe.gate.weight", (E, H), "proj"))
        for j in range(E):
            q = p + f"block_sparse_moe.experts.{j}."
            plan += [(q + "w1.weight", (I, H), "proj"), (q + "w2.weight", (H, I), "residual"),
                     (q + "w3.weight", (I, H), "proj")]
    plan += [("model.norm.weight", (H,), "norm"), ("lm_head.weight", (V, H), "proj")]
    return plan


# Gemma-3-270M-shaped text model (Gemma3ForCausalLM, tests/reference/make_checkpoint.py's make_gemma_tensors
# layout): hidden 640, 18 layers, 4 heads, 1 key/value head, head_dim 256, intermediate 2048, vocab 262144,
# sliding window 512 with every sixth layer global, query_pre_attn_scalar 256, tied embeddings, q/k norms.
# Norm weights are stored zero-centred (the model scales by 1 + w): N(0, 0.05²); the tied table N(0, 1/H)
# (the model multiplies the embeddings by sqrt(H), and the head then gives logits of O(1)).
GEMMA3 = dict(hidden=640, layers=18, heads=4, kv_heads=1, head_dim=256, inter=2048, vocab=262144)


def gemma3_config(layers, dtype_name):
    g = GEMMA3
    return {"architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", "hidden_size": g["hidden"],
            "num_hidden_layers": layers, "num_attention_heads": g["heads"], "num_key_value_heads": g["kv_heads"],
            "head_dim": g["head_dim"], "intermediate_size": g["inter"], "vocab_size": g["vocab"],
            "hidden_activation": "gelu_pytorch_tanh", "max_position_embeddings": 32768, "rms_norm_eps": 1e-6,
            "query_pre_attn_scalar": 256, "sliding_window": 512, "sliding_window_pattern": 6,
            "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0, "rope_scaling": None,
            "attn_logit_softcapping": None, "final_logit_softcapping": None, "attention_bias": False,
            "attention_dropout": 0.0, "tie_word_embeddings": True, "initializer_range": 0.02,
            "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0, "torch_dtype": dtype_name,
            "transformers_version": "4.50.0", "use_cache": True}


def gemma3_plan(layers):
    g = GEMMA3
    H, D, I, V = g["hidden"], g["head_dim"], g["inter"], g["vocab"]
    plan = [("model.embed_tokens.weight", (V, H), "embed_tied")]
    for i in range(layers):
        p = f"model.layers.{i}."
        plan += [(p + "input_layernorm.weight", (H,), "norm0"),
                 (p + "self_attn.q_proj.weight", (g["heads"] * D, H), "proj"),
                 (p + "self_attn.k_proj.weight", (g["kv_heads"] * D, H), "proj"),
                 (p + "self_attn.v_proj.weight", (g["kv_heads"] * D, H), "proj"),
                 (p + "self_attn.o_proj.weight", (H, g["heads"] * D), "residual"),
                 (p + "self_attn.q_norm.weight", (D,), "norm0"),
                 (p + "self_attn.k_norm.weight", (D,), "norm0"),
                 (p + "post_attention_layernorm.weight", (H,), "norm0"),
                 (p + "pre_feedforward_layernorm.weight", (H,), "norm0"),
                 (p + "mlp.gate_proj.weight", (I, H), "proj"),
                 (p + "mlp.up_proj.weight", (I, H), "proj"),
                 (p + "mlp.down_proj.weight", (H, I), "residual"),
                 (p + "post_feedforward_layernorm.weight", (H,), "norm0")]
    plan.append(("model.norm.weight", (H,), "norm0"))
    return plan


# Flan-T5-small-shaped encoder-decoder (T5ForConditionalGeneration; google/flan-t5-small's config.json, which
# is T5 v1.1 small): d_model 512, d_kv 64, 6 heads (inner 384), d_ff 1024, gated-gelu (gelu_new), 8 encoder
# and 8 decoder blocks, vocab 32128, 32 relative-position buckets up to distance 128, untied lm_head, 76.96M
# parameters. Initialisation as T5's _init_weights (scaled to keep activations O(1)): q N(0, 1/(d·d_kv))
# (the 1/sqrt(d_kv) the scores leave out is folded into q), k/v/wi N(0, 1/fan_in), o and wo further
# / sqrt(2·blocks of the stack); shared N(0, 1) (T5 does not scale the embeddings); the relative position
# tables N(0, 0.5²); lm_head N(0, 1/d) (logits of standard deviation ~1 after the final RMS norm).
T5 = dict(d_model=512, d_kv=64, heads=6, d_ff=1024, layers=8, dec_layers=8, vocab=32128, buckets=32,
          max_distance=128)


def t5_config(layers, dtype_name):
    t = T5
    return {"architectures": ["T5ForConditionalGeneration"], "model_type": "t5", "d_model": t["d_model"],
            "d_kv": t["d_kv"], "d_ff": t["d_ff"], "num_heads": t["heads"], "num_layers": layers,
            "num_decoder_layers": layers, "vocab_size": t["vocab"],
            "relative_attention_num_buckets": t["buckets"], "relative_attention_max_distance": t["max_distance"],
            "feed_forward_proj": "gated-gelu", "dense_act_fn": "gelu_new", "is_gated_act": True,
            "layer_norm_epsilon": 1e-6, "dropout_rate": 0.1, "initializer_factor": 1.0, "n_positions": 512,
            "is_encoder_decoder": True, "tie_word_embeddings": False, "pad_token_id": 0, "eos_token_id": 1,
            "decoder_start_token_id": 0, "torch_dtype": dtype_name, "transformers_version": "4.46.0",
            "use_cache": True}


def t5_plan(layers):
    t = T5
    d, inner, ff, V, nb = t["d_model"], t["heads"] * t["d_kv"], t["d_ff"], t["vocab"], t["buckets"]

    def attn(p, kind, rel):
        plan = [(f"{p}.{kind}.q.weight", (inner, d), "t5_q"), (f"{p}.{kind}.k.weight", (inner, d), "proj"),
                (f"{p}.{kind}.v.weight", (inner, d), "proj"), (f"{p}.{kind}.o.weight", (d, inner), "residual")]
        if rel:
            plan.append((f"{p}.{kind}.relative_attention_bias.weight", (nb, t["heads"]), "t5_rel"))
        return plan + [(f"{p}.layer_norm.weight", (d,), "norm")]

    def dense(p):
        return [(f"{p}.DenseReluDense.wi_0.weight", (ff, d), "proj"),
                (f"{p}.DenseReluDense.wi_1.weight", (ff, d), "proj"),
                (f"{p}.DenseReluDense.wo.weight", (d, ff), "residual"), (f"{p}.layer_norm.weight", (d,), "norm")]

    plan = [("shared.weight", (V, d), "embed")]
    for i in range(layers):
        plan += attn(f"encoder.block.{i}.layer.0", "SelfAttention", i == 0) + dense(f"encoder.block.{i}.layer.1")
    plan.append(("encoder.final_layer_norm.weight", (d,), "norm"))
    for i in range(layers):
        plan += attn(f"decoder.block.{i}.layer.0", "SelfAttention", i == 0)
        plan += attn(f"decoder.block.{i}.layer.1", "EncDecAttention", False) + dense(f"decoder.block.{i}.layer.2")
    plan += [("decoder.final_layer_norm.weight", (d,), "norm"), ("lm_head.weight", (V, d), "proj")]
    return plan


FAMILIES = {"llama": (config, tensor_plan, "/tmp/attnlrp-bench-model"),
            "gpt2": (gpt2_config, gpt2_plan, "/tmp/attnlrp-bench-gpt2"),
            "bert": (bert_config, bert_plan, "/tmp/attnlrp-bench-bert"),
            "vit": (vit_config, vit_plan, "/tmp/attnlrp-bench-vit"),
            "mixtral": (mixtral_config, mixtral_plan, "/tmp/attnlrp-bench-mixtral"),
            "mixtral-dense": (mixtral_dense_config, lambda n: mixtral_plan(n, dense=True),
                              "/tmp/attnlrp-bench-mixtral-dense"),
            "gemma3": (gemma3_config, gemma3_plan, "/tmp/attnlrp-bench-gemma3"),
            "t5": (t5_config, t5_plan, "/tmp/attnlrp-bench-t5")}
DEFAULT_LAYERS = {"mixtral": MOE["layers"], "mixtral-dense": MOE["layers"], "gemma3": GEMMA3["layers"],
                  "t5": T5["layers"]}


def draw(rng, shape, kind, layers):
    if kind == "embed":
        return rng.standard_normal(shape, dtype=np.float32)
    if kind == "embed_tied":  # tied head: logits of standard deviation ~1
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(1.0 / np.sqrt(shape[1]))
    if kind == "embed_pos_small":
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.5 / np.sqrt(shape[1]))
    if kind == "embed_pos":
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.5)
    if kind == "norm0":  # stored w of a (1 + w) scale
        return (0.05 * rng.standard_normal(shape)).astype(np.float32)
    if kind == "norm":
        return (1.0 + 0.05 * rng.standard_normal(shape)).astype(np.float32)
    if kind == "bias":
        return (0.02 * rng.standard_normal(shape)).astype(np.float32)
    if kind == "t5_rel":
        return (0.5 * rng.standard_normal(shape)).astype(np.float32)
    if kind == "t5_q":  # [inner, d]: N(0, 1/(d·d_kv)), the scores' missing 1/sqrt(d_kv) folded in
        sigma = 1.0 / np.sqrt(shape[1] * T5["d_kv"])
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma)
    if kind == "conv2d":  # [out, C, p, p]: fan_in C·p·p
        sigma = 1.0 / np.sqrt(np.prod(shape[1:]))
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma)
    if kind in ("conv", "conv_residual"):  # Conv1D: [in, out]
        a = rng.standard_normal(shape, dtype=np.float32)
        sigma = 1.0 / np.sqrt(shape[0])
        if kind == "conv_residual":
            sigma /= np.sqrt(2.0 * layers)
        a *= np.float32(sigma)
        return a
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


def write(outdir, bf16, seed, layers, family="llama"):
    os.makedirs(outdir, exist_ok=True)
    dtype, size, dtype_name = ("BF16", 2, "bfloat16") if bf16 else ("F32", 4, "float32")
    make_config, make_plan, _ = FAMILIES[family]
    plan = make_plan(layers)
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
        json.dump(make_config(layers, dtype_name), f, indent=2)
        f.write("\n")
    params = sum(int(np.prod(s)) for _, s, _ in plan)
    return params, 8 + len(raw) + offset


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir", nargs="?", help="default: /tmp/attnlrp-bench-model, -gpt2, -bert or -vit")
    ap.add_argument("--family", choices=tuple(FAMILIES), default="llama")
    ap.add_argument("--bf16", action="store_true", help="store the weights as BF16 instead of F32")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--layers", type=int, default=None, help="default: the family's own (LLaMA 12)")
    ap.add_argument("--vocab", type=int, default=None, help="gemma3: vocabulary size (default 262144)")
    a = ap.parse_args(argv)
    if a.layers is None:
        a.layers = DEFAULT_LAYERS.get(a.family, LAYERS)
    if a.vocab is not None:
        if a.family != "gemma3" or a.vocab < 16:
            print("make_bench_model.py: --vocab is for --family gemma3 (at least 16)", file=sys.stderr)
            return 2
        GEMMA3["vocab"] = a.vocab
    if a.outdir is None:
        a.outdir = FAMILIES[a.family][2]
    repo = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    out = os.path.realpath(a.outdir)
    if out == repo or out.startswith(repo + os.sep):
        print(f"make_bench_model.py: {a.outdir}: refusing to write the benchmark model inside the repository",
              file=sys.stderr)
        return 2
    if a.layers < 1:
        print("make_bench_model.py: --layers must be at least 1", file=sys.stderr)
        return 2
    params, nbytes = write(out, a.bf16, a.seed, a.layers, a.family)
    print(f"{out}: {a.family}, {params / 1e6:.1f}M parameters, {nbytes / 2**20:.0f} MiB "
          f"({'BF16' if a.bf16 else 'F32'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
