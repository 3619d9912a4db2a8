// The record of a forward pass that the relevance backward replays.
//
// Every activation is an lrp_act: a float32 row-major [rows, cols] matrix carved from the graph's arena,
// with a gradient buffer of the same shape that is allocated only when some gradient reaches it.
// Each op (ops/*.c) computes its output and appends one lrp_node holding what its backward needs;
// lrp_graph_backward walks the nodes in reverse and calls each node's backward with the rule set, so
// every LRP rule lives in the backward of exactly one op.
//
// Rule tags: a family marks the layers a rule may single out (the γ-rule of SPEC §5 applies to the patch
// convolution, the MLP linears and the classifier only) by setting g->tag while it records them; each
// node keeps the tag that was current when it was recorded, and its backward reads rules->... by tag.
//
// Errors are sticky: an op that cannot allocate marks the graph failed and returns NULL, and every op
// given a NULL input returns NULL at once. A family's forward therefore checks lrp_graph_ok() once.
#ifndef LRP_GRAPH_H
#define LRP_GRAPH_H

#include <stddef.h>

#include "core/err.h"
#include "core/rules.h"
#include "core/tensor.h"

typedef struct lrp_act {
    float *x;   // values, rows*cols
    float *g;   // gradient of the start scalar (modified by the rules), NULL until reached
    int rows;
    int cols;
    int keep_grad;  // a readout needs g after the backward: never recycle it
    size_t g_bytes; // capacity of g (its size class, see lrp_act_grad); 0 while g is NULL
} lrp_act;

typedef struct lrp_graph lrp_graph;
typedef struct lrp_node lrp_node;
typedef void (*lrp_backward_fn)(lrp_graph *g, const lrp_node *n, const lrp_rules *rules);
// Called by lrp_graph_backward after each node's backward with its wall time (profilers).
typedef void (*lrp_node_hook)(const lrp_graph *g, const lrp_node *n, double seconds, void *ctx);

struct lrp_node {
    lrp_backward_fn backward;
    const char *op;            // op name, for debugging
    lrp_tag tag;               // the graph's tag when the node was recorded
    lrp_act *out;
    lrp_act *in[3];
    lrp_weight w;              // weight view (linear, norms); w.t NULL if none
    lrp_weight b;              // bias view; b.t NULL if none
    float *saved;              // op-specific saved values (softmax probabilities, 1/rms, ...)
    const void *aux;           // op-specific constant data (RoPE tables, row indices, ...)
    lrp_act *tap;              // op-specific activation whose gradient the backward also fills (attention probabilities)
    int ip[6];                 // op-specific integer parameters
    float fp[2];               // op-specific float parameters
};

typedef struct lrp_arena_chunk lrp_arena_chunk;

struct lrp_graph {
    lrp_arena_chunk *chunks;
    size_t bytes_allocated;    // total arena bytes, for reporting peak memory
    size_t bytes_used;         // arena bytes handed out (activations, gradients, saved values) since init or reset
    lrp_node *nodes;
    int n_nodes;
    int cap_nodes;
    int failed;
    lrp_err err;
    float *scratch;            // per-graph scratch for weight panels (matmul)
    size_t scratch_floats;
    int grad_enabled;          // 0: record nothing (generation without explanation)
    // 1: linear layers with Q8_0/Q4_K/Q6_K weights quantise their input rows to 8 bits and use integer dot
    // products (kernels/qdot.h) for inputs of few rows (lrp_qdot_wanted), as llama.cpp does; F16/BF16
    // weights are widened in registers instead of in memory panels. Only read when
    // grad_enabled is 0; set by generation (explain/generate.c), never by an explanation's forward.
    int quant_act;
    lrp_tag tag;               // tag given to the nodes recorded from now on (LRP_TAG_NONE by default)
    lrp_node discard;          // what ops fill in when nothing is recorded
    float **free_grads;        // gradient buffers the backward no longer needs, for reuse
    size_t *free_sizes;        // their sizes in bytes
    int n_free, cap_free;
    lrp_node_hook on_node;     // NULL (the default): the backward reads no clock at all
    void *on_node_ctx;         // passed to on_node
    // Per-key factors on the attention scores of every attention op recorded from now on whose key
    // count is attn_key_factor_n (AtMan's suppression, explain/baselines.c); NULL: none. An op's own
    // lrp_attn_spec.key_factor takes precedence.
    const float *attn_key_factor;
    int attn_key_factor_n;
    // The same for the attention whose keys are an encoder-decoder's decoder tokens (its self-attention,
    // lrp_attn_spec.decoder_keys); attn_key_factor then covers the source's keys (encoder, cross-attention).
    const float *attn_key_factor_decoder;
    int attn_key_factor_decoder_n;
    // Per-row values of op_intervene (activation patching, explain/circuit.h; lrp_model_forward sets them from
    // lrp_forward.iv_rows): when the interventions an op_intervene call gets are the array iv_rows_of, its
    // LRP_SET_VALUE intervention k sets row t to iv_rows[k][t] instead of its value (iv_rows[k] NULL: the value).
    const void *iv_rows_of;
    const float *const *iv_rows;
};

int lrp_graph_init(lrp_graph *g, size_t scratch_floats, lrp_err *err);
// Frees the graph; its arena chunks go to a process-wide pool that the next graph draws from (at most
// the largest graph's worth of memory stays mapped). Thread-safe.
void lrp_graph_free(lrp_graph *g);
// Unmaps the pooled arena chunks of freed graphs (lrp_model_close calls it).
void lrp_arena_release(void);
static inline int lrp_graph_ok(const lrp_graph *g) { return !g->failed; }

// Marks the graph failed with a message (first failure wins) and returns NULL.
void *lrp_graph_fail(lrp_graph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// 64-byte aligned arena memory; zeroed when zero != 0. NULL (and the graph failed) when out of memory.
void *lrp_graph_alloc(lrp_graph *g, size_t bytes, int zero);

// A new activation [rows, cols] with uninitialised values and no gradient.
lrp_act *lrp_act_new(lrp_graph *g, int rows, int cols);

// The gradient buffer of a, allocated zeroed on first use (or a recycled buffer of a close size, zeroed);
// NULL only when out of memory.
float *lrp_act_grad(lrp_graph *g, lrp_act *a);

// Appends a node; returns it (zeroed but for backward/op/out/tag) or NULL on failure.
lrp_node *lrp_graph_record(lrp_graph *g, const char *op, lrp_backward_fn backward, lrp_act *out);

// Replays the recorded nodes in reverse. Nodes whose output received no gradient are skipped. Once a
// node's backward has run, its output's gradient is complete and consumed, so the buffer is recycled
// for later gradients unless the activation is marked keep_grad (mark every activation whose gradient
// is read after the backward). When g->on_node is set, it is called after each node that ran.
int lrp_graph_backward(lrp_graph *g, const lrp_rules *rules, lrp_err *err);

// Forgets every activation and node but keeps the arena's memory for the next pass (generation).
void lrp_graph_reset(lrp_graph *g);

#endif
