#include <math.h>

#include "kernels/matmul.h"
#include "kernels/pool.h"
#include "ops/ops.h"

// A norm's weight (or bias) widened into dst[n]; `fill` when there is none.
static void widen_or_fill(const lrp_weight *w, float *dst, int n, float fill) {
    if (w && w->t) {
        lrp_weight_vector(w, dst);
    } else {
        for (int i = 0; i < n; i++) dst[i] = fill;
    }
}

// --- RMSNorm -----------------------------------------------------------------------------------------
// saved: [rows * groups] values of r = 1/sqrt(mean(x²) + eps), then [group] widened weights (1 if none)
// plus the offset.
// Groups [k0, k1) of the forward or backward, on the pool's threads (kernels/pool.h); each group is
// computed alike whatever the split.
typedef struct {
    int group, detach;
    const float *x, *gy, *w;
    float *r, *y, *gx;
    float eps;
} rms_job;

static void rms_backward_range(void *ctx, int k0, int k1) {
    const rms_job *j = ctx;
    int group = j->group;
    const float *r = j->r, *w = j->w, *gy = j->gy;
    float *gx = j->gx;
    for (int k = k0; k < k1; k++) {
        const float *xk = j->x + (size_t)k * group, *gyk = gy + (size_t)k * group;
        float *gxk = gx + (size_t)k * group;
        double rk = r[k];
        if (j->detach) {
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

static void rms_forward_range(void *ctx, int k0, int k1) {
    const rms_job *j = ctx;
    int group = j->group;
    for (int k = k0; k < k1; k++) {
        const float *xk = j->x + (size_t)k * group;
        float *yk = j->y + (size_t)k * group;
        double ss = 0;
        for (int i = 0; i < group; i++) ss += (double)xk[i] * xk[i];
        float rk = (float)(1.0 / sqrt(ss / group + j->eps));
        j->r[k] = rk;
        for (int i = 0; i < group; i++) yk[i] = j->w[i] * (xk[i] * rk);
    }
}

static void rmsnorm_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    lrp_act *x = n->in[0];
    float *gx = lrp_act_grad(g, x);
    if (!gx) return;
    int group = n->ip[0], cols = x->cols, ngroups = x->rows * (cols / group);
    rms_job j = {.group = group, .detach = rules->norm_detach, .x = x->x, .gy = n->out->g, .w = n->saved + ngroups,
                 .r = n->saved, .gx = gx};
    size_t work = (size_t)x->rows * cols;
    lrp_parallel_for(ngroups, lrp_pool_threads_for(work), 0, rms_backward_range, &j);
}

lrp_act *op_rmsnorm(lrp_graph *g, lrp_act *x, const lrp_weight *w, float eps, int group) {
    return op_rmsnorm_offset(g, x, w, eps, group, 0.0f);
}

lrp_act *op_rmsnorm_offset(lrp_graph *g, lrp_act *x, const lrp_weight *w, float eps, int group, float offset) {
    if (!x) return NULL;
    if (group <= 0 || x->cols % group != 0)
        return lrp_graph_fail(g, "internal: rmsnorm group %d does not divide %d columns", group, x->cols);
    if (w && w->t && w->out != group)
        return lrp_graph_fail(g, "internal: rmsnorm weight of %lld for groups of %d", (long long)w->out, group);
    int ngroups = x->rows * (x->cols / group);
    lrp_act *y = lrp_act_new(g, x->rows, x->cols);
    float *saved = lrp_graph_alloc(g, ((size_t)ngroups + group) * sizeof(float), 0);
    if (!y || !saved) return NULL;
    float *r = saved, *wf = saved + ngroups;
    widen_or_fill(w, wf, group, 1.0f);
    if (offset != 0.0f)
        for (int i = 0; i < group; i++) wf[i] += offset;  // Gemma: the scale is (1 + w), in float32
    rms_job j = {.group = group, .x = x->x, .w = wf, .r = r, .y = y->x, .eps = eps};
    lrp_parallel_for(ngroups, lrp_pool_threads_for((size_t)x->rows * x->cols), 0, rms_forward_range, &j);
    lrp_node *n = lrp_graph_record(g, "rmsnorm", rmsnorm_backward, y);
    if (!n) return NULL;
    n->in[0] = x;
    n->saved = saved;
    n->ip[0] = group;
    return y;
}

// --- LayerNorm ---------------------------------------------------------------------------------------
// saved: [rows] 1/σ, then [rows] μ, then [cols] widened weights.
static void layernorm_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    lrp_act *x = n->in[0];
    float *gx = lrp_act_grad(g, x);
    if (!gx) return;
    int R = x->rows, C = x->cols;
    const float *rstd = n->saved, *mu = n->saved + R, *w = n->saved + 2 * R;
    for (int t = 0; t < R; t++) {
        const float *xt = x->x + (size_t)t * C, *gyt = n->out->g + (size_t)t * C;
        float *gxt = gx + (size_t)t * C;
        double s = rstd[t], mean_wg = 0, mean_wg_xhat = 0;
        for (int i = 0; i < C; i++) {
            double wg = (double)w[i] * gyt[i];
            mean_wg += wg;
            mean_wg_xhat += wg * (xt[i] - mu[t]) * s;
        }
        mean_wg /= C;
        mean_wg_xhat /= C;
        if (rules->norm_detach) {
            // σ constant, μ kept: the centring x − μ is linear, so its exact backward stays.
            for (int i = 0; i < C; i++) gxt[i] += (float)(((double)w[i] * gyt[i] - mean_wg) * s);
        } else {
            for (int i = 0; i < C; i++) {
                double xhat = (xt[i] - mu[t]) * s;
                gxt[i] += (float)(((double)w[i] * gyt[i] - mean_wg - xhat * mean_wg_xhat) * s);
            }
        }
    }
}

lrp_act *op_layernorm(lrp_graph *g, lrp_act *x, const lrp_weight *w, const lrp_weight *b, float eps) {
    if (!x) return NULL;
    int R = x->rows, C = x->cols;
    if ((w && w->t && w->out != C) || (b && b->t && b->out != C))
        return lrp_graph_fail(g, "internal: layernorm parameters do not match %d columns", C);
    lrp_act *y = lrp_act_new(g, R, C);
    float *saved = lrp_graph_alloc(g, (2 * (size_t)R + 2 * (size_t)C) * sizeof(float), 0);
    if (!y || !saved) return NULL;
    float *rstd = saved, *mu = saved + R, *wf = saved + 2 * R, *bf = wf + C;
    widen_or_fill(w, wf, C, 1.0f);
    widen_or_fill(b, bf, C, 0.0f);
    for (int t = 0; t < R; t++) {
        const float *xt = x->x + (size_t)t * C;
        float *yt = y->x + (size_t)t * C;
        double m = 0, v = 0;
        for (int i = 0; i < C; i++) m += xt[i];
        m /= C;
        for (int i = 0; i < C; i++) v += (xt[i] - m) * (xt[i] - m);
        v /= C;
        double s = 1.0 / sqrt(v + eps);
        rstd[t] = (float)s;
        mu[t] = (float)m;
        for (int i = 0; i < C; i++) yt[i] = (float)(wf[i] * ((xt[i] - m) * s) + bf[i]);
    }
    lrp_node *n = lrp_graph_record(g, "layernorm", layernorm_backward, y);
    if (!n) return NULL;
    n->in[0] = x;
    n->saved = saved;
    return y;
}
