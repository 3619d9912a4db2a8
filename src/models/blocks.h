// Building blocks several family files share, wired from ops like a family's forward (never a backward).
#ifndef LRP_BLOCKS_H
#define LRP_BLOCKS_H

#include "models/model.h"

// The projections of a rotary self-attention block (LLaMA, Mistral, Qwen2/3, Mixtral, Qwen3-MoE); absent
// biases and norms have no storage. q_norm / k_norm: Qwen3's RMSNorm per head, before the rotation.
typedef struct lrp_rope_attn_weights {
    lrp_weight q, k, v, o, q_bias, k_bias, v_bias, o_bias, q_norm, k_norm;
} lrp_rope_attn_weights;

// o(attention(rope(q(h)), rope(k(h)), v(h))) of layer l: the q/k norms when present (eps), the rotation,
// the KV cache when f has one (keys and values appended, attention over all of them), the probability tap
// when f wants it. spec holds the heads, scale, mask and window.
lrp_act *lrp_rope_self_attention(lrp_graph *g, lrp_forward *f, int l, lrp_act *h, const lrp_rope_attn_weights *w,
                                 const lrp_rope *rope, lrp_attn_spec *spec, float eps);

// attention(q, k, v) of layer l, all projected (and rotated) already: keys and values appended to f's KV
// cache when it has one (attention over all of them), the probability tap when f wants it, then
// lrp_attn_heads. Returns the [T, heads·head_dim] heads' output before the output projection.
lrp_act *lrp_self_attention(lrp_graph *g, lrp_forward *f, int l, lrp_act *q, lrp_act *k, lrp_act *v,
                            lrp_attn_spec *spec);

// The start of a causal RoPE decoder's forward (LLaMA, Mixtral, Phi): the rotary tables of the config's
// RoPE for f's T tokens from the KV cache's length, and *spec: the heads, 1/√head_dim, the causal mask,
// the config's sliding window, and the padding mask unless decoding with a cache. NULL when out of memory
// (the graph has failed).
lrp_rope *lrp_rope_decoder_start(lrp_graph *g, const lrp_config *c, const lrp_forward *f, lrp_attn_spec *spec);

// The end of a decoder's forward on its final-normed hidden states x: f's head rows selected, the logits
// head(x) (+ head_bias), soft-capped when softcap > 0 (Gemma 2), tapped as f->taps.logits; the KV cache
// advanced by the T input tokens. Returns the forward's status (0, or -1 when the graph failed).
int lrp_decoder_logits(lrp_graph *g, lrp_forward *f, lrp_act *x, const lrp_weight *head, const lrp_weight *head_bias,
                       float softcap);

// The weights of an MLP block; gate (and biases) may be absent (no tensor).
typedef struct lrp_mlp_weights {
    const lrp_weight *gate, *gate_bias, *up, *up_bias, *down, *down_bias;
} lrp_mlp_weights;

// down(z) of layer l with z = act(gate(h)) ⊙ up(h) (gated: LLaMA, Gemma, Phi-3) or z = act(up(h)) (no
// gate: GPT-2, BERT, ViT, Phi): f's neuron interventions of layer l applied to z and z tapped as the
// latent neurons (f->taps.mlp_act[l], when f has the tap). Every product is tagged LRP_TAG_MLP_LINEAR.
lrp_act *lrp_mlp(lrp_graph *g, lrp_forward *f, int l, lrp_act *h, const lrp_mlp_weights *w, lrp_act_fn act);

// The self-attention output a [T, heads·head_dim] of layer l before its output projection: applies f's
// head interventions of layer l to each head's columns and taps it (f->taps.attn_out[l]).
lrp_act *lrp_attn_heads(lrp_graph *g, lrp_forward *f, int l, lrp_act *a, int head_dim);

#endif
