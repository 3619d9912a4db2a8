#include <string.h>

#include "ops/ops.h"

static int same_shape(const lrp_act *a, const lrp_act *b) { return a->rows == b->rows && a->cols == b->cols; }

// --- residual addition: both operands receive the full gradient --------------------------------------
static void add_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    (void)rules;
    size_t N = (size_t)n->out->rows * n->out->cols;
    for (int k = 0; k < 2; k++) {
        float *gi = lrp_act_grad(g, n->in[k]);
        if (!gi) return;
        for (size_t i = 0; i < N; i++) gi[i] += n->out->g[i];
    }
}

lrp_act *op_add(lrp_graph *g, lrp_act *a, lrp_act *b) {
    if (!a || !b) return NULL;
    if (!same_shape(a, b)) return lrp_graph_fail(g, "internal: add of [%d, %d] and [%d, %d]", a->rows, a->cols, b->rows, b->cols);
    lrp_act *y = lrp_act_new(g, a->rows, a->cols);
    if (!y) return NULL;
    size_t N = (size_t)a->rows * a->cols;
    for (size_t i = 0; i < N; i++) y->x[i] = a->x[i] + b->x[i];
    lrp_node *n = lrp_graph_record(g, "add", add_backward, y);
    if (!n) return NULL;
    n->in[0] = a;
    n->in[1] = b;
    return y;
}

// --- gated product z = gate ⊙ up -----------------------------------------------------------------------
static void gated_product_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    lrp_act *gate = n->in[0], *up = n->in[1];
    size_t N = (size_t)gate->rows * gate->cols;
    const float *gz = n->out->g;
    float fg = 1.0f, fu = 1.0f;
    if (rules->gate == LRP_GATE_UNIFORM) {
        fg = 0.5f;  // uniform rule: each operand of the bilinear product gets half
        fu = 0.5f;
    } else if (rules->gate == LRP_GATE_DETACH) {
        fg = 0.0f;  // CP-LRP: the gate is a constant, R(up) = R(z)
    }
    float *gu = lrp_act_grad(g, up);
    if (!gu) return;
    for (size_t i = 0; i < N; i++) gu[i] += fu * gz[i] * gate->x[i];
    if (fg == 0.0f) return;
    float *gg = lrp_act_grad(g, gate);
    if (!gg) return;
    for (size_t i = 0; i < N; i++) gg[i] += fg * gz[i] * up->x[i];
}

lrp_act *op_gated_product(lrp_graph *g, lrp_act *gate, lrp_act *up) {
    if (!gate || !up) return NULL;
    if (!same_shape(gate, up))
        return lrp_graph_fail(g, "internal: gated product of [%d, %d] and [%d, %d]", gate->rows, gate->cols, up->rows, up->cols);
    lrp_act *z = lrp_act_new(g, gate->rows, gate->cols);
    if (!z) return NULL;
    size_t N = (size_t)gate->rows * gate->cols;
    for (size_t i = 0; i < N; i++) z->x[i] = gate->x[i] * up->x[i];
    lrp_node *n = lrp_graph_record(g, "gated_product", gated_product_backward, z);
    if (!n) return NULL;
    n->in[0] = gate;
    n->in[1] = up;
    return z;
}

// --- row selection -------------------------------------------------------------------------------------
static void select_rows_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    (void)rules;
    lrp_act *x = n->in[0];
    float *gx = lrp_act_grad(g, x);
    if (!gx) return;
    const int *rows = n->aux;
    int C = x->cols;
    for (int r = 0; r < n->out->rows; r++) {
        const float *src = n->out->g + (size_t)r * C;
        float *dst = gx + (size_t)rows[r] * C;
        for (int i = 0; i < C; i++) dst[i] += src[i];
    }
}

lrp_act *op_select_rows(lrp_graph *g, lrp_act *x, const int *rows, int n_rows) {
    if (!x) return NULL;
    int *idx = lrp_graph_alloc(g, (size_t)n_rows * sizeof(int), 0);
    lrp_act *y = lrp_act_new(g, n_rows, x->cols);
    if (!idx || !y) return NULL;
    for (int r = 0; r < n_rows; r++) {
        if (rows[r] < 0 || rows[r] >= x->rows) return lrp_graph_fail(g, "internal: row %d of %d", rows[r], x->rows);
        idx[r] = rows[r];
        memcpy(y->x + (size_t)r * x->cols, x->x + (size_t)rows[r] * x->cols, (size_t)x->cols * sizeof(float));
    }
    lrp_node *n = lrp_graph_record(g, "select_rows", select_rows_backward, y);
    if (!n) return NULL;
    n->in[0] = x;
    n->aux = idx;
    return y;
}

// --- neuron interventions --------------------------------------------------------------------------------
// saved: per column, the derivative of the intervened value with respect to the original one
// (0 for a neuron set to a value, the product of the factors for a scaled one, 1 otherwise).
static void intervene_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    (void)rules;
    lrp_act *x = n->in[0];
    float *gx = lrp_act_grad(g, x);
    if (!gx) return;
    const float *m = n->saved;
    for (int t = 0; t < x->rows; t++)
        for (int i = 0; i < x->cols; i++) gx[(size_t)t * x->cols + i] += m[i] * n->out->g[(size_t)t * x->cols + i];
}

lrp_act *op_intervene(lrp_graph *g, lrp_act *x, const lrp_intervention *iv, int n_iv, int layer) {
    if (!x) return NULL;
    int any = 0;
    for (int k = 0; k < n_iv; k++) any |= iv[k].layer == layer;
    if (!any) return x;
    lrp_act *y = lrp_act_new(g, x->rows, x->cols);
    float *m = lrp_graph_alloc(g, (size_t)x->cols * sizeof(float), 0);
    if (!y || !m) return NULL;
    memcpy(y->x, x->x, (size_t)x->rows * x->cols * sizeof(float));
    for (int i = 0; i < x->cols; i++) m[i] = 1.0f;
    const float *const *rows = g->iv_rows && g->iv_rows_of == (const void *)iv ? g->iv_rows : NULL;  // patching
    for (int k = 0; k < n_iv; k++) {
        if (iv[k].layer != layer) continue;
        int j = iv[k].neuron;
        if (j < 0 || j >= x->cols)
            return lrp_graph_fail(g, "intervention %d:%d: layer %d has %d neurons (0..%d)", layer, j, layer, x->cols, x->cols - 1);
        for (int t = 0; t < x->rows; t++) {
            float *p = y->x + (size_t)t * x->cols + j;
            switch (iv[k].kind) {
            case LRP_SET_VALUE: *p = rows && rows[k] ? rows[k][t] : iv[k].value; break;
            case LRP_SET_SCALE: *p *= iv[k].value; break;
            case LRP_SET_ADD: *p += iv[k].value; break;
            }
        }
        if (iv[k].kind == LRP_SET_VALUE) m[j] = 0.0f;
        if (iv[k].kind == LRP_SET_SCALE) m[j] *= iv[k].value;
    }
    lrp_node *n = lrp_graph_record(g, "intervene", intervene_backward, y);
    if (!n) return NULL;
    n->in[0] = x;
    n->saved = m;
    return y;
}
