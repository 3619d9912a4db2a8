// The ops a model family's forward pass is built from. Each op computes its output, records one node
// with what its backward needs, and returns the output (NULL when the graph has failed; every op
// returns NULL at once when given a NULL input). The backward of each op, next to its forward,
// is the only place where its LRP rule is applied.
#ifndef LRP_OPS_H
#define LRP_OPS_H

#include "core/graph.h"
#include "formats/config.h"

// --- embedding.c -----------------------------------------------------------------------------------
// Rows of the embedding table W [vocab, d] for ids[T], times scale; rows with drop[t] != 0 are zero
// (drop may be NULL). A leaf: no node is recorded. The caller has checked every id.
lrp_act *op_embedding(lrp_graph *g, const lrp_tensor *W, const int *ids, int T, float scale,
                      const unsigned char *drop);

// Appends the rows of x to a cache buffer [capacity, cols] holding `len` rows and returns an activation
// viewing all len + x->rows rows (no node: only for passes without a backward).
lrp_act *op_cache_append(lrp_graph *g, lrp_act *x, float *cache, int len, int capacity);

// --- linear.c --------------------------------------------------------------------------------------
// x [T, in] -> x·Wᵀ + b  [T, out]. Exact backward (the ε-rule with ε→0 is the gradient).
lrp_act *op_linear(lrp_graph *g, lrp_act *x, const lrp_tensor *W, const lrp_tensor *b);

// --- norm.c ----------------------------------------------------------------------------------------
// RMSNorm over groups of `group` consecutive columns (group = cols for a hidden-state norm,
// group = head_dim for Qwen3's per-head q/k norms). w has `group` elements.
// Rule norm_detach: 1/rms is a constant in the backward.
lrp_act *op_rmsnorm(lrp_graph *g, lrp_act *x, const lrp_tensor *w, float eps, int group);

// --- rope.c ----------------------------------------------------------------------------------------
typedef struct lrp_rope {
    int head_dim;
    int n_pos;            // rows of the tables
    int pos0;             // absolute position of row 0
    lrp_rope_pairing pairing;
    float *cos, *sin;     // [n_pos, head_dim/2]
} lrp_rope;
// Builds cos/sin tables for positions pos0 .. pos0+n_pos-1 in the graph's arena (theta, scaling from cfg).
lrp_rope *lrp_rope_tables(lrp_graph *g, const lrp_config *cfg, int head_dim, int pos0, int n_pos);
// Rotates each head of x [T, n_heads*head_dim]; row t has position rope->pos0 + t. Exact backward.
lrp_act *op_rope(lrp_graph *g, lrp_act *x, const lrp_rope *rope, int n_heads);

// --- attention.c -----------------------------------------------------------------------------------
// Causal scaled-dot-product attention with grouped KV heads.
// q [Tq, H*hd], k, v [Tk, KVH*hd]; query row i sits at position p = (Tk - Tq) + i and sees keys 0..p,
// or only keys p-window+1..p when window > 0 (Mistral's sliding window).
// Rule attn: uniform (Q,K ×¼, V ×½) or detach_qk (Q,K get nothing); the softmax keeps its exact backward.
lrp_act *op_attention(lrp_graph *g, lrp_act *q, lrp_act *k, lrp_act *v, int n_heads, int n_kv_heads, int head_dim,
                      float scale, int window);

// --- activation.c ----------------------------------------------------------------------------------
typedef enum lrp_act_fn { LRP_ACT_SILU = 0, LRP_ACT_GELU, LRP_ACT_GELU_TANH, LRP_ACT_RELU, LRP_ACT_TANH } lrp_act_fn;
// Parses a config hidden_act name ("silu", "swish", "gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "tanh").
int lrp_act_fn_parse(const char *name);
float lrp_act_fn_eval(lrp_act_fn f, float x);
float lrp_act_fn_deriv(lrp_act_fn f, float x);
// y = f(x) element-wise. Rule act_identity: ĝ(x) = ĝ(y)·f(x)/(x + 1e-10).
lrp_act *op_activation(lrp_graph *g, lrp_act *x, lrp_act_fn f);

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
// Applies the interventions whose layer is `layer` to columns of x (every row). Backward: a set neuron
// passes no gradient, a scaled one passes it scaled, a shifted one passes it unchanged.
lrp_act *op_intervene(lrp_graph *g, lrp_act *x, const lrp_intervention *iv, int n_iv, int layer);

#endif
