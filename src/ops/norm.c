#include <math.h>

#include "kernels/matmul.h"
#include "ops/ops.h"

// saved: [rows * groups] values of r = 1/sqrt(mean(x²) + eps), then [group] widened weights (1 if none).
static void rmsnorm_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    lrp_act *x = n->in[0];
    float *gx = lrp_act_grad(g, x);
    if (!gx) return;
    int group = n->ip[0], cols = x->cols, ngroups = x->rows * (cols / group);
    const float *r = n->saved, *w = n->saved + ngroups;
    const float *gy = n->out->g;
    for (int k = 0; k < ngroups; k++) {
        const float *xk = x->x + (size_t)k * group, *gyk = gy + (size_t)k * group;
        float *gxk = gx + (size_t)k * group;
        double rk = r[k];
        if (rules->norm_detach) {
            // Identity rule: r is a constant, so R(x) = x·w·r·ĝ(y) = R(y).
            for (int i = 0; i < group; i++) gxk[i] += (float)(w[i] * rk * gyk[i]);
        } else {
            // d/dx of w·x·r: w·r·ĝ − x·r³/D·Σ(w·ĝ·x)
            double dot = 0;
            for (int i = 0; i < group; i++) dot += (double)w[i] * gyk[i] * xk[i];
            double c = rk * rk * rk * dot / group;
            for (int i = 0; i < group; i++) gxk[i] += (float)(w[i] * rk * gyk[i] - xk[i] * c);
        }
    }
}

lrp_act *op_rmsnorm(lrp_graph *g, lrp_act *x, const lrp_tensor *w, float eps, int group) {
    if (!x) return NULL;
    if (group <= 0 || x->cols % group != 0)
        return lrp_graph_fail(g, "internal: rmsnorm group %d does not divide %d columns", group, x->cols);
    int ngroups = x->rows * (x->cols / group);
    lrp_act *y = lrp_act_new(g, x->rows, x->cols);
    float *saved = lrp_graph_alloc(g, ((size_t)ngroups + group) * sizeof(float), 0);
    if (!y || !saved) return NULL;
    float *r = saved, *wf = saved + ngroups;
    if (w) {
        lrp_weight_row(w, 0, group, wf);
    } else {
        for (int i = 0; i < group; i++) wf[i] = 1.0f;
    }
    for (int k = 0; k < ngroups; k++) {
        const float *xk = x->x + (size_t)k * group;
        float *yk = y->x + (size_t)k * group;
        double ss = 0;
        for (int i = 0; i < group; i++) ss += (double)xk[i] * xk[i];
        float rk = (float)(1.0 / sqrt(ss / group + eps));
        r[k] = rk;
        for (int i = 0; i < group; i++) yk[i] = wf[i] * (xk[i] * rk);
    }
    lrp_node *n = lrp_graph_record(g, "rmsnorm", rmsnorm_backward, y);
    if (!n) return NULL;
    n->in[0] = x;
    n->w = w;
    n->saved = saved;
    n->ip[0] = group;
    return y;
}
