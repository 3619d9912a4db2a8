#include "kernels/matmul.h"
#include "ops/ops.h"

// out = x·Wᵀ + b: the gradient is the ε-rule (ε → 0, bias absorbing its share), so no rule is needed.
static void linear_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    (void)rules;
    float *gx = lrp_act_grad(g, n->in[0]);
    if (!gx) return;
    lrp_matmul_backward_input(gx, n->out->g, &n->w, n->in[0]->rows, g->scratch, g->scratch_floats);
}

lrp_act *op_linear(lrp_graph *g, lrp_act *x, const lrp_weight *W, const lrp_weight *b) {
    if (!x) return NULL;
    if (!W || !W->t) return lrp_graph_fail(g, "internal: linear without a weight");
    if (W->in != x->cols)
        return lrp_graph_fail(g, "internal: %s expects %lld inputs, got %d", W->t->name, (long long)W->in, x->cols);
    if (b && b->t && b->out != W->out)
        return lrp_graph_fail(g, "internal: bias %s has %lld elements for %lld outputs", b->t->name, (long long)b->out,
                              (long long)W->out);
    lrp_act *y = lrp_act_new(g, x->rows, (int)W->out);
    if (!y) return NULL;
    lrp_matmul_forward(y->x, x->x, W, b, x->rows, g->scratch, g->scratch_floats);
    lrp_node *n = lrp_graph_record(g, "linear", linear_backward, y);
    if (!n) return NULL;
    n->in[0] = x;
    n->w = *W;
    if (b) n->b = *b;
    return y;
}
