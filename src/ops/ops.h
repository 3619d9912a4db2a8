// The ops a model family's forward pass is built from. Each op computes its output, records one node
// with what its backward needs, and returns the output (NULL when the graph has failed; every op
// returns NULL at once when given a NULL input). The backward of each op, next to its forward,
// is the only place where its LRP rule is applied. Weights are views (core/tensor.h: lrp_weight);
// an absent optional weight is NULL or a view whose t is NULL.
#ifndef LRP_OPS_H
#define LRP_OPS_H

#include "core/graph.h"

// --- embedding.c -----------------------------------------------------------------------------------
// Rows of the embedding table W [vocab, d] for ids[T], times scale, then per token times token_scale[t]
// (NULL: 1; 0 removes the token, the perturbation protocol) plus noise[t*d + i] (NULL: none; the
// SmoothGrad baseline). A leaf: no node is recorded. The caller has checked every id.
lrp_act *op_embedding(lrp_graph *g, const lrp_weight *W, const int *ids, int T, float scale, const float *token_scale,
                      const float *noise);

// Appends the rows of x to a cache buffer [capacity, cols] holding `len` rows and returns an activation
// viewing all len + x->rows rows (no node: only for passes without a backward).
lrp_act *op_cache_append(lrp_graph *g, lrp_act *x, float *cache, int len, int capacity);

// --- linear.c --------------------------------------------------------------------------------------
// x [T, W.in] -> x·Wᵀ + b  [T, W.out]. Exact backward (the ε-rule with ε→0 is the gradient), except
// LRP-γ (SPEC §5) when the rules give the node's tag a γ (rules->gamma_conv, gamma_lin).
lrp_act *op_linear(lrp_graph *g, lrp_act *x, const lrp_weight *W, const lrp_weight *b);
// y = rows off[e]..off[e+1]-1 of x times W[e]ᵀ for each segment e (no biases; x [N, in], off[0] = 0,
// off[E] = N; an empty segment's W may be NULL): a MoE layer's experts over rows sorted by expert. Same rule
// as op_linear (the gradient; LRP-γ by tag, segment by segment). Segments of 2-48 rows with float32 weights
// share one parallel loop (lrp_small_gemm_batch), the others run one after another (ATTNLRP_MOE_PARALLEL=1:
// all in parallel, one per thread, each product single-threaded); the numbers are the same either way.
lrp_act *op_linear_grouped(lrp_graph *g, lrp_act *x, const lrp_weight *const *W, const int *off, int E);
// The weights a recorded linear node multiplies by, for readers of weight gradients (explain/weights.h): an
// op_linear node has 1 segment (n->w over every row), an op_linear_grouped node E. Segment e: its weight
// (*w, w->t NULL for an empty segment) times rows [*r0, *r0 + *rows) of the node's input and output.
// Returns the number of segments; 0 for any other node.
int lrp_linear_node_segment(const lrp_node *n, int e, lrp_weight *w, int *r0, int *rows);

// --- norm.c ----------------------------------------------------------------------------------------
// RMSNorm over groups of `group` consecutive columns (group = cols for a hidden-state norm,
// group = head_dim for Qwen3's per-head q/k norms). w has `group` elements (NULL: 1).
// Rule norm_detach: 1/rms is a constant in the backward.
lrp_act *op_rmsnorm(lrp_graph *g, lrp_act *x, const lrp_weight *w, float eps, int group);
// The same with the scale (offset + w): Gemma's RMSNorm multiplies by (1 + w) (offset 1; w NULL: offset + 1).
// Same rule: r is a constant, so R(x) = R(y) element-wise.
lrp_act *op_rmsnorm_offset(lrp_graph *g, lrp_act *x, const lrp_weight *w, float eps, int group, float offset);
// LayerNorm over each row: w ⊙ (x − μ)/σ + b, σ = sqrt(var + eps) (w, b NULL: 1, 0).
// Rule norm_detach: σ is a constant in the backward, μ is kept: ĝ(x) = (w⊙ĝ − mean(w⊙ĝ))/σ.
lrp_act *op_layernorm(lrp_graph *g, lrp_act *x, const lrp_weight *w, const lrp_weight *b, float eps);

// --- rope.c ----------------------------------------------------------------------------------------
typedef enum lrp_rope_scaling {
    LRP_ROPE_SCALING_NONE = 0,
    LRP_ROPE_SCALING_LINEAR,
    LRP_ROPE_SCALING_LLAMA3,
    LRP_ROPE_SCALING_LONGROPE,  // Phi-3: per-frequency short/long factors and an attention factor on cos/sin
} lrp_rope_scaling;

#define LRP_ROPE_MAX_FREQS 256  // rotated pairs per head the per-frequency factors can describe

typedef enum lrp_rope_pairing {
    LRP_ROPE_PAIR_HALVES = 0,   // Hugging Face rotate_half: dimension j pairs with j + rot_dim/2
    LRP_ROPE_PAIR_ADJACENT,     // Meta / llama.cpp GGUF: dimension 2j pairs with 2j + 1
} lrp_rope_pairing;

typedef struct lrp_rope_params {
    double theta;
    lrp_rope_scaling scaling;
    double factor;
    double low_freq_factor, high_freq_factor;
    int original_max_position;
    lrp_rope_pairing pairing;
    int rot_dim;          // dimensions rotated at the start of each head (partial rotary); 0: the whole head
    // Per-frequency divisors of the inverse frequencies, one per rotated pair (n_freq_factors = rot_dim/2;
    // 0: none): llama.cpp's rope_freqs tensor (Llama 3.1 GGUF), and LongRoPE's short_factor.
    int n_freq_factors;
    double freq_factors[LRP_ROPE_MAX_FREQS];
    // LongRoPE (Hugging Face semantics): long_factors replace freq_factors when the last position + 1
    // exceeds original_max_position; cos and sin are multiplied by attention_factor.
    double long_factors[LRP_ROPE_MAX_FREQS];
    double attention_factor;
} lrp_rope_params;

typedef struct lrp_rope {
    int head_dim;
    int rot_dim;          // even, <= head_dim
    int n_pos;            // rows of the tables
    int pos0;             // absolute position of row 0
    lrp_rope_pairing pairing;
    float *cos, *sin;     // [n_pos, rot_dim/2]
} lrp_rope;
// Builds cos/sin tables for positions pos0 .. pos0+n_pos-1 in the graph's arena.
lrp_rope *lrp_rope_tables(lrp_graph *g, const lrp_rope_params *p, int head_dim, int pos0, int n_pos);
// Rotates the first rot_dim dimensions of each head of x [T, n_heads*head_dim]; row t has position
// rope->pos0 + t. Exact backward.
lrp_act *op_rope(lrp_graph *g, lrp_act *x, const lrp_rope *rope, int n_heads);

// --- attention.c -----------------------------------------------------------------------------------
typedef enum lrp_attn_mask {
    LRP_ATTN_CAUSAL = 0,        // query row i sits at position (Tk − Tq) + i and sees keys up to it
    LRP_ATTN_BIDIRECTIONAL,     // every query sees every key (encoders, cross-attention: Tq, Tk independent)
} lrp_attn_mask;

typedef struct lrp_attn_spec {
    int n_heads, n_kv_heads, head_dim;
    float scale;                     // scores are scale · q·k
    lrp_attn_mask mask;
    int window;                      // causal only: a query sees only its last `window` keys (Mistral); 0: all
    const unsigned char *key_mask;   // [Tk]: 0 marks a padding key, never attended (p = 0); NULL: none
    const float *bias;               // additive score bias, a constant: [bias_heads, Tq, Tk]; NULL: none
    int bias_heads;                  // 1 (shared by every head) or n_heads
    float softcap;                   // > 0: scores = softcap·tanh(scores/softcap) after the scale, before the
                                     // bias and the softmax (Gemma 2 attn_logit_softcapping); 0: none.
                                     // Rule act_identity (attnlrp, cplrp): the identity rule; else exact
    lrp_act **probs;                 // non-NULL: receives the probabilities as an activation [H·Tq, Tk]
                                     // whose gradient the backward fills (attention-head readouts)
    const float *key_factor;         // [Tk] or NULL: the scores of key j (scale·q·k, before soft-capping,
                                     // bias and mask) are multiplied by key_factor[j] in every head (AtMan's
                                     // suppression); NULL: the graph's attn_key_factor when its length is Tk
    int decoder_keys;                // 1: the keys are an encoder-decoder's decoder tokens (its self-attention):
                                     // the graph's attn_key_factor_decoder applies instead
} lrp_attn_spec;

// Scaled-dot-product attention with grouped KV heads: q [Tq, H*hd], k, v [Tk, KVH*hd] -> [Tq, H*hd].
// Rule attn: uniform (Q,K ×¼, V ×½; A·V gives ½ to the probabilities) or detach_qk (Q,K get nothing,
// probabilities constant); the softmax keeps its exact backward. Masked entries have p = 0 exactly.
// The probabilities' gradient (with probs) is what reaches them from A·V under the rule: ½, 1 (exact)
// or 0 (detached). Rule softmax (identity, distribute-bias: SPEC §2's ablations) replaces the exact
// softmax backward where Q and K receive gradient.
lrp_act *op_attention(lrp_graph *g, lrp_act *q, lrp_act *k, lrp_act *v, const lrp_attn_spec *s);

// --- patch.c -----------------------------------------------------------------------------------------
// The patches of an image pixels [C, H·W] (channel-major), for a convolution with stride = kernel = p:
// [(H/p)·(W/p), C·p·p], patches in row-major order, each flattened (channel, row, column) like a
// PyTorch Conv2d weight [out, C, p, p]. Exact backward.
lrp_act *op_patchify(lrp_graph *g, lrp_act *pixels, int C, int H, int W, int p);
// The rows of a, then the rows of b (same columns). Exact backward.
lrp_act *op_concat_rows(lrp_graph *g, lrp_act *a, lrp_act *b);

// --- reshape.c -------------------------------------------------------------------------------------
// The values of x [r, c] as [rows, cols] (rows·cols = r·c, row-major order kept), e.g. [T, H·hd] as
// [T·H, hd] for a LayerNorm per head. Exact backward.
lrp_act *op_reshape(lrp_graph *g, lrp_act *x, int rows, int cols);

// --- activation.c ----------------------------------------------------------------------------------
// LRP_ACT_SIGMOID is not a hidden_act (lrp_act_fn_parse does not name it): the Qwen2-MoE shared expert's
// gate σ(shared_expert_gate(h)) uses it.
typedef enum lrp_act_fn {
    LRP_ACT_SILU = 0, LRP_ACT_GELU, LRP_ACT_GELU_TANH, LRP_ACT_RELU, LRP_ACT_TANH, LRP_ACT_SIGMOID
} lrp_act_fn;
// Parses a config hidden_act name ("silu", "swish", "gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "tanh").
int lrp_act_fn_parse(const char *name);
float lrp_act_fn_eval(lrp_act_fn f, float x);
float lrp_act_fn_deriv(lrp_act_fn f, float x);
// y = f(x) element-wise. Rule act_identity: ĝ(x) = ĝ(y)·f(x)/(x + 1e-10).
lrp_act *op_activation(lrp_graph *g, lrp_act *x, lrp_act_fn f);

// --- softcap.c -------------------------------------------------------------------------------------
// y = c·tanh(x/c) element-wise (Gemma 2 final_logit_softcapping), c > 0. Rule act_identity:
// ĝ(x) = ĝ(y)·y/(x + 1e-10), so R(x) = R(y); else the exact derivative 1 − tanh²(x/c).
lrp_act *op_softcap(lrp_graph *g, lrp_act *x, float c);

// --- elementwise.c ---------------------------------------------------------------------------------
lrp_act *op_add(lrp_graph *g, lrp_act *a, lrp_act *b);  // exact backward
// z = gate ⊙ up, the product of a gated MLP; gate is act(a). Rule gate: uniform ½ or gate detached.
lrp_act *op_gated_product(lrp_graph *g, lrp_act *gate, lrp_act *up);
// Rows `rows[0..n)` of x. Exact backward (scatter-add).
lrp_act *op_select_rows(lrp_graph *g, lrp_act *x, const int *rows, int n);

typedef enum lrp_intervention_kind { LRP_SET_VALUE = 0, LRP_SET_SCALE, LRP_SET_ADD } lrp_intervention_kind;
typedef struct lrp_intervention {
    int layer;
    int neuron;
    lrp_intervention_kind kind;
    float value;
} lrp_intervention;
// Applies the interventions whose layer is `layer` to columns of x (every row; per-row values when the graph's
// iv_rows_of is iv, core/graph.h). Backward: a set neuron
// passes no gradient, a scaled one passes it scaled, a shifted one passes it unchanged.
lrp_act *op_intervene(lrp_graph *g, lrp_act *x, const lrp_intervention *iv, int n_iv, int layer);

// --- scale.c -------------------------------------------------------------------------------------
// y = s·x for a constant s (T5's d_model^-½ before a tied head). Exact backward: ĝ(x) = s·ĝ(y).
lrp_act *op_scale(lrp_graph *g, lrp_act *x, float s);

// --- moe.c -----------------------------------------------------------------------------------------
// Softmax over each row (float32). Exact backward (the AttnLRP softmax rule equals it).
lrp_act *op_softmax_rows(lrp_graph *g, lrp_act *x);
// The k largest entries of each row of p [T, E] (ties: lower index first), in decreasing order: w [T, k],
// divided by their sum when renormalise. *indices (may be NULL) receives the chosen columns [T·k] (graph
// memory, constants of the backward). Exact backward through the gather and the renormalisation.
lrp_act *op_topk_rows(lrp_graph *g, lrp_act *p, int k, int renormalise, const int **indices);
// y_r = w.flat[at[r]] · x_r: an expert's output rows times their routing weights (x [n, d], w [T, k]);
// also Qwen2-MoE's shared expert times its gate σ(g) (w [T, 1], at[r] = r).
// Rule gate (SPEC §2, MoE): uniform ½ to both operands, or the routing weight detached (cplrp).
lrp_act *op_scale_rows(lrp_graph *g, lrp_act *x, lrp_act *w, const int *at);
// out [T, d] = base (NULL: zeros) with row y_r added to row rows[r]. Exact backward (base gets the
// gradient, y_r the gradient of row rows[r]).
lrp_act *op_scatter_add_rows(lrp_graph *g, lrp_act *base, lrp_act *y, const int *rows, int T);
// A whole MoE layer's combination: out [T, d] = base (NULL: zeros) + Σ over (t, slot) of w[t, slot] times
// the row of y[chosen[t·K + slot]] that belongs to token t (w [T, K]; y[e] [n_e, d] holds the rows routed
// to expert e in token order, NULL when none; chosen as op_topk_rows gives it, graph memory that must
// outlive the backward). Equals op_scale_rows then op_scatter_add_rows per expert, rule included (the
// gate rule on each product w · y), in one node and one [T, d] output.
lrp_act *op_moe_combine(lrp_graph *g, lrp_act *base, lrp_act *w, const int *chosen, lrp_act *const *y, int E);
// The same with every expert's rows in one y [T·K, d], sorted by expert (off[e]..off[e+1]-1 are expert e's
// rows in token order, as op_linear_grouped takes them).
lrp_act *op_moe_combine_sorted(lrp_graph *g, lrp_act *base, lrp_act *w, const int *chosen, lrp_act *y, const int *off,
                               int E);

// --- checkpoint.c ------------------------------------------------------------------------------------
// A segment of ops (a transformer block) recomputed in the backward instead of kept (activation
// checkpointing): fn(sub, x, ctx) wires the segment on graph sub from its input x and returns its output
// (same shape as x). The forward runs it on a graph of its own without recording and keeps only the
// output; the backward runs it again, recorded, seeds its output with this node's gradient, replays it
// with the same rules and adds the input's gradient to x's. ctx (ctx_bytes) is copied into the graph and
// must hold everything fn reads (pointers in it must outlive the backward). fn must not leave pointers to
// the sub-graph's activations anywhere (taps): the sub-graph is freed after each run. The memory of the
// whole pass is the segment outputs plus one segment's activations.
typedef lrp_act *(*lrp_segment_fn)(lrp_graph *sub, lrp_act *x, void *ctx);
lrp_act *op_checkpoint(lrp_graph *g, lrp_act *x, lrp_segment_fn fn, const void *ctx, size_t ctx_bytes);

#endif
