#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/matmul.h"
#include "kernels/qdot.h"
#include "ops/ops.h"

// The γ the rules give this node's tag (0: none).
static float gamma_for(const lrp_node *n, const lrp_rules *rules) {
    switch (n->tag) {
    case LRP_TAG_PATCH_CONV: return rules->gamma_conv;
    case LRP_TAG_MLP_LINEAR:
    case LRP_TAG_CLASSIFIER: return rules->gamma_lin;
    default: return 0.0f;
    }
}

static float sign1(float v) { return v >= 0.0f ? 1.0f : -1.0f; }  // sign with sign(0) = +1

// LRP-γ (SPEC §5, zennit's Gamma) for y = x·Wᵀ + b with incoming relevance R = y ⊙ ĝ(y):
//   W^{±γ} = W + γ·clamp±(W) (bias likewise), x± = clamp±(x)
//   z⁺ = x⁺W^{+γ}ᵀ + x⁻W^{−γ}ᵀ + b^{+γ}      z⁻ = x⁺W^{−γ}ᵀ + x⁻W^{+γ}ᵀ + b^{−γ}
//   c⁺ = [y>0] R / stab(z⁺)                   c⁻ = [y<0] R / stab(z⁻),   stab(z) = z + 1e-6·sign(z)
//   R(x) = x⁺⊙(c⁺W^{+γ}) + x⁻⊙(c⁺W^{−γ}) + x⁺⊙(c⁻W^{−γ}) + x⁻⊙(c⁻W^{+γ})
// and the gradient that carries it: ĝ(x) += R(x) / (x + 1e-10·sign(x)).
// The temporaries (the widened ±γ weights among them) are freed at once: they would otherwise stay in the
// graph's arena for the rest of the backward, once per layer.
static void gamma_backward(lrp_graph *g, const lrp_node *n, float gamma, float *gx) {
    const lrp_act *x = n->in[0], *y = n->out;
    int T = x->rows, in = (int)n->w.in, out = (int)n->w.out;
    size_t nw = (size_t)out * in, nx = (size_t)T * in, ny = (size_t)T * out;
    float *mem = malloc((2 * nw + 4 * nx + 4 * ny + (size_t)out) * sizeof(float));
    if (!mem) {
        lrp_graph_fail(g, "out of memory for the gamma rule of a %d x %d layer", out, in);
        return;
    }
    float *wp = mem, *wm = wp + nw, *xp = wm + nw, *xm = xp + nx, *ap = xm + nx, *am = ap + nx;
    float *zp = am + nx, *zm = zp + ny, *cp = zm + ny, *cm = cp + ny, *bias = cm + ny;
    for (int j = 0; j < out; j++) lrp_weight_row(&n->w, j, wp + (size_t)j * in);
    for (size_t k = 0; k < nw; k++) {
        float w = wp[k];
        wp[k] = w + gamma * fmaxf(w, 0.0f);
        wm[k] = w + gamma * fminf(w, 0.0f);
    }
    for (size_t k = 0; k < nx; k++) {
        xp[k] = fmaxf(x->x[k], 0.0f);
        xm[k] = fminf(x->x[k], 0.0f);
    }
    if (n->b.t) lrp_weight_vector(&n->b, bias);
    else memset(bias, 0, (size_t)out * sizeof(float));
    for (int t = 0; t < T; t++)
        for (int j = 0; j < out; j++) {
            float b = bias[j];
            zp[(size_t)t * out + j] = b + gamma * fmaxf(b, 0.0f);
            zm[(size_t)t * out + j] = b + gamma * fminf(b, 0.0f);
        }
    lrp_gemm(0, 1, T, out, in, 1.0f, xp, in, wp, in, 1.0f, zp, out);
    lrp_gemm(0, 1, T, out, in, 1.0f, xm, in, wm, in, 1.0f, zp, out);
    lrp_gemm(0, 1, T, out, in, 1.0f, xp, in, wm, in, 1.0f, zm, out);
    lrp_gemm(0, 1, T, out, in, 1.0f, xm, in, wp, in, 1.0f, zm, out);
    for (size_t k = 0; k < ny; k++) {
        float r = y->x[k] * y->g[k];
        cp[k] = y->x[k] > 0.0f ? r / (zp[k] + 1e-6f * sign1(zp[k])) : 0.0f;
        cm[k] = y->x[k] < 0.0f ? r / (zm[k] + 1e-6f * sign1(zm[k])) : 0.0f;
    }
    // R(x) = x⁺⊙(c⁺W⁺ + c⁻W⁻) + x⁻⊙(c⁺W⁻ + c⁻W⁺)
    lrp_gemm(0, 0, T, in, out, 1.0f, cp, out, wp, in, 0.0f, ap, in);
    lrp_gemm(0, 0, T, in, out, 1.0f, cm, out, wm, in, 1.0f, ap, in);
    lrp_gemm(0, 0, T, in, out, 1.0f, cp, out, wm, in, 0.0f, am, in);
    lrp_gemm(0, 0, T, in, out, 1.0f, cm, out, wp, in, 1.0f, am, in);
    for (size_t k = 0; k < nx; k++) {
        float rx = xp[k] * ap[k] + xm[k] * am[k];
        gx[k] += rx / (x->x[k] + 1e-10f * sign1(x->x[k]));
    }
    free(mem);
}

// out = x·Wᵀ + b: the gradient is the ε-rule (ε → 0, bias absorbing its share), so no rule is needed,
// except LRP-γ on the layers the rules single out by tag.
static void linear_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    float *gx = lrp_act_grad(g, n->in[0]);
    if (!gx) return;
    float gamma = gamma_for(n, rules);
    if (gamma > 0.0f) {
        gamma_backward(g, n, gamma, gx);
        return;
    }
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
    if (!(g->quant_act && !g->grad_enabled && lrp_qdot_supported(W) && lrp_qdot_wanted(W->t->dtype, x->rows) &&
          lrp_matmul_forward_q(y->x, x->x, W, b, x->rows, g->scratch, g->scratch_floats) == 0))
        lrp_matmul_forward(y->x, x->x, W, b, x->rows, g->scratch, g->scratch_floats);
    lrp_node *n = lrp_graph_record(g, "linear", linear_backward, y);
    if (!n) return NULL;
    n->in[0] = x;
    n->w = *W;
    if (b) n->b = *b;
    return y;
}
