#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

// The node's constant data: the segment's function and a copy of its context (which follows the struct),
// and the graph's attention key factors as they were when the segment was recorded.
typedef struct {
    lrp_segment_fn fn;
    const float *kf, *kf_dec;
    int kf_n, kf_dec_n;
    size_t ctx_bytes;
} checkpoint_aux;

static void *aux_ctx(const checkpoint_aux *a) { return (unsigned char *)a + ((sizeof *a + 63) & ~(size_t)63); }

// A graph for one run of the segment, sharing g's matmul scratch (the segment runs while g's ops do not).
static void sub_init(lrp_graph *sub, const lrp_graph *g, const checkpoint_aux *a, int record) {
    lrp_err err;
    lrp_graph_init(sub, 0, &err);  // cannot fail without scratch
    sub->scratch = g->scratch;
    sub->scratch_floats = g->scratch_floats;
    sub->grad_enabled = record;
    sub->attn_key_factor = a->kf;
    sub->attn_key_factor_n = a->kf_n;
    sub->attn_key_factor_decoder = a->kf_dec;
    sub->attn_key_factor_decoder_n = a->kf_dec_n;
}

static void sub_free(lrp_graph *sub) {
    sub->scratch = NULL;  // g's
    lrp_graph_free(sub);
}

// x's values as an input of the sub-graph (no copy; its gradient is the sub-graph's own).
static lrp_act *sub_input(lrp_graph *sub, const lrp_act *x) {
    lrp_act *a = lrp_graph_alloc(sub, sizeof *a, 1);
    if (!a) return NULL;
    a->x = x->x;
    a->rows = x->rows;
    a->cols = x->cols;
    a->keep_grad = 1;
    return a;
}

static void checkpoint_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    const checkpoint_aux *a = n->aux;
    lrp_act *x = n->in[0];
    lrp_graph sub;
    sub_init(&sub, g, a, 1);
    lrp_act *xs = sub_input(&sub, x);
    lrp_act *y = xs ? a->fn(&sub, xs, aux_ctx(a)) : NULL;
    float *gy = y && lrp_graph_ok(&sub) ? lrp_act_grad(&sub, y) : NULL;
    lrp_err err = {{0}};
    if (!gy || y->rows != n->out->rows || y->cols != n->out->cols) {
        lrp_graph_fail(g, "%s", sub.failed ? sub.err.msg : "internal: checkpointed segment changed its output");
    } else {
        memcpy(gy, n->out->g, (size_t)y->rows * y->cols * sizeof(float));
        if (lrp_graph_backward(&sub, rules, &err)) {
            lrp_graph_fail(g, "%s", err.msg);
        } else if (xs->g) {
            float *gx = lrp_act_grad(g, x);
            if (gx)
                for (size_t i = 0, N = (size_t)x->rows * x->cols; i < N; i++) gx[i] += xs->g[i];
        }
    }
    sub_free(&sub);
}

lrp_act *op_checkpoint(lrp_graph *g, lrp_act *x, lrp_segment_fn fn, const void *ctx, size_t ctx_bytes) {
    if (!x || g->failed) return NULL;
    if (!g->grad_enabled) return fn(g, x, (void *)ctx);  // nothing to recompute: run it in place
    size_t head = (sizeof(checkpoint_aux) + 63) & ~(size_t)63;
    checkpoint_aux *a = lrp_graph_alloc(g, head + ctx_bytes, 1);
    lrp_act *out = lrp_act_new(g, x->rows, x->cols);
    if (!a || !out) return NULL;
    a->fn = fn;
    a->kf = g->attn_key_factor;
    a->kf_n = g->attn_key_factor_n;
    a->kf_dec = g->attn_key_factor_decoder;
    a->kf_dec_n = g->attn_key_factor_decoder_n;
    a->ctx_bytes = ctx_bytes;
    memcpy(aux_ctx(a), ctx, ctx_bytes);
    // The forward without recording, in a graph of its own whose memory goes back to the arena pool.
    lrp_graph sub;
    sub_init(&sub, g, a, 0);
    lrp_act *xs = sub_input(&sub, x);
    lrp_act *y = xs ? fn(&sub, xs, aux_ctx(a)) : NULL;
    if (!y || !lrp_graph_ok(&sub) || y->rows != x->rows || y->cols != x->cols) {
        lrp_graph_fail(g, "%s", sub.failed ? sub.err.msg : "internal: checkpointed segment changed the shape");
        sub_free(&sub);
        return NULL;
    }
    memcpy(out->x, y->x, (size_t)y->rows * y->cols * sizeof(float));
    sub_free(&sub);
    lrp_node *n = lrp_graph_record(g, "checkpoint", checkpoint_backward, out);
    if (!n) return NULL;
    n->in[0] = x;
    n->aux = a;
    return out;
}
