// The ops of a mixture-of-experts block (Mixtral, Qwen3-MoE):
//   p = softmax(router logits)            op_softmax_rows      exact backward (float32)
//   w = top-k of p (renormalised)         op_topk_rows         exact backward; the indices are constants
//   x_e = rows of h routed to expert e    op_select_rows       (elementwise.c) exact backward
//   y_e = w[t, slot] · E_e(x_e)           op_scale_rows        the MoE rule (SPEC §2): uniform ½ / w detached
//   out = base + Σ_e scatter(y_e)         op_scatter_add_rows  exact backward
// Only the routing product carries a rule; everything else keeps its exact vector-Jacobian product, so
// relevance reaches the router through the renormalisation, the top-k gather and the softmax.
#include <math.h>
#include <string.h>

#include "ops/ops.h"

// --- row softmax ------------------------------------------------------------------------------------
// ĝ(x) = p ⊙ (ĝ(p) − Σ_j p_j ĝ(p_j)) per row (exact; the AttnLRP softmax rule equals it, Prop. 3.1).
static void softmax_rows_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    (void)rules;
    lrp_act *x = n->in[0];
    float *gx = lrp_act_grad(g, x);
    if (!gx) return;
    const float *p = n->out->x, *gp = n->out->g;
    int C = x->cols;
    for (int t = 0; t < x->rows; t++) {
        const float *pr = p + (size_t)t * C, *gr = gp + (size_t)t * C;
        double dot = 0;
        for (int j = 0; j < C; j++) dot += (double)pr[j] * gr[j];
        for (int j = 0; j < C; j++) gx[(size_t)t * C + j] += pr[j] * (gr[j] - (float)dot);
    }
}

lrp_act *op_softmax_rows(lrp_graph *g, lrp_act *x) {
    if (!x) return NULL;
    lrp_act *p = lrp_act_new(g, x->rows, x->cols);
    if (!p) return NULL;
    int C = x->cols;
    for (int t = 0; t < x->rows; t++) {
        const float *xr = x->x + (size_t)t * C;
        float *pr = p->x + (size_t)t * C;
        float mx = -INFINITY;
        for (int j = 0; j < C; j++) mx = fmaxf(mx, xr[j]);
        double s = 0;
        for (int j = 0; j < C; j++) s += (pr[j] = expf(xr[j] - mx));
        for (int j = 0; j < C; j++) pr[j] = (float)(pr[j] / s);
    }
    lrp_node *n = lrp_graph_record(g, "softmax_rows", softmax_rows_backward, p);
    if (!n) return NULL;
    n->in[0] = x;
    return p;
}

// --- top-k ------------------------------------------------------------------------------------------
// w_i = p[idx_i] (/ s, s = Σ_j p[idx_j] when renormalised). Exact backward:
//   plain: ĝ(p[idx_i]) += ĝ(w_i);  renormalised: ĝ(p[idx_i]) += (ĝ(w_i) − Σ_j ĝ(w_j) w_j) / s.
static void topk_rows_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    (void)rules;
    lrp_act *p = n->in[0];
    float *gp = lrp_act_grad(g, p);
    if (!gp) return;
    const int *idx = n->aux;
    int k = n->ip[0], renorm = n->ip[1], E = p->cols;
    const float *w = n->out->x, *gw = n->out->g;
    for (int t = 0; t < p->rows; t++) {
        const int *it = idx + (size_t)t * k;
        const float *wt = w + (size_t)t * k, *gt = gw + (size_t)t * k;
        if (!renorm) {
            for (int i = 0; i < k; i++) gp[(size_t)t * E + it[i]] += gt[i];
            continue;
        }
        double s = 0, dot = 0;
        for (int i = 0; i < k; i++) {
            s += p->x[(size_t)t * E + it[i]];
            dot += (double)gt[i] * wt[i];
        }
        for (int i = 0; i < k; i++) gp[(size_t)t * E + it[i]] += (float)((gt[i] - dot) / s);
    }
}

lrp_act *op_topk_rows(lrp_graph *g, lrp_act *p, int k, int renormalise, const int **indices) {
    if (!p) return NULL;
    int E = p->cols;
    if (k < 1 || k > E) return lrp_graph_fail(g, "internal: top-%d of %d", k, E);
    int *idx = lrp_graph_alloc(g, (size_t)p->rows * k * sizeof(int), 0);
    lrp_act *w = lrp_act_new(g, p->rows, k);
    if (!idx || !w) return NULL;
    for (int t = 0; t < p->rows; t++) {
        const float *pr = p->x + (size_t)t * E;
        int *it = idx + (size_t)t * k;
        // Selection in order of decreasing p; ties go to the lower expert index.
        for (int i = 0; i < k; i++) {
            int best = -1;
            for (int j = 0; j < E; j++) {
                int taken = 0;
                for (int q = 0; q < i; q++) taken |= it[q] == j;
                if (!taken && (best < 0 || pr[j] > pr[best])) best = j;
            }
            it[i] = best;
        }
        double s = 0;
        for (int i = 0; i < k; i++) s += pr[it[i]];
        for (int i = 0; i < k; i++) w->x[(size_t)t * k + i] = renormalise ? (float)(pr[it[i]] / s) : pr[it[i]];
    }
    if (indices) *indices = idx;
    lrp_node *n = lrp_graph_record(g, "topk_rows", topk_rows_backward, w);
    if (!n) return NULL;
    n->in[0] = p;
    n->aux = idx;
    n->ip[0] = k;
    n->ip[1] = renormalise;
    return w;
}

// --- routing product y_r = w.flat[at[r]] · x_r ---------------------------------------------------------
// Rule gate (shared with the gated MLP product): uniform: both operands get half; detach: the routing
// weight is a constant (x gets the whole gradient); exact: both full.
static void scale_rows_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    lrp_act *x = n->in[0], *w = n->in[1];
    const int *at = n->aux;
    int C = x->cols;
    float fx = 1.0f, fw = 1.0f;
    if (rules->gate == LRP_GATE_UNIFORM) fx = fw = 0.5f;
    else if (rules->gate == LRP_GATE_DETACH) fw = 0.0f;
    float *gx = lrp_act_grad(g, x);
    if (!gx) return;
    const float *gy = n->out->g;
    for (int r = 0; r < x->rows; r++) {
        float wr = w->x[at[r]];
        for (int i = 0; i < C; i++) gx[(size_t)r * C + i] += fx * wr * gy[(size_t)r * C + i];
    }
    if (fw == 0.0f) return;
    float *gw = lrp_act_grad(g, w);
    if (!gw) return;
    for (int r = 0; r < x->rows; r++) {
        double dot = 0;
        for (int i = 0; i < C; i++) dot += (double)gy[(size_t)r * C + i] * x->x[(size_t)r * C + i];
        gw[at[r]] += fw * (float)dot;
    }
}

lrp_act *op_scale_rows(lrp_graph *g, lrp_act *x, lrp_act *w, const int *at) {
    if (!x || !w) return NULL;
    int *a = lrp_graph_alloc(g, (size_t)(x->rows ? x->rows : 1) * sizeof(int), 0);
    lrp_act *y = lrp_act_new(g, x->rows, x->cols);
    if (!a || !y) return NULL;
    size_t nw = (size_t)w->rows * w->cols;
    int C = x->cols;
    for (int r = 0; r < x->rows; r++) {
        if (at[r] < 0 || (size_t)at[r] >= nw) return lrp_graph_fail(g, "internal: routing weight %d of %zu", at[r], nw);
        a[r] = at[r];
        float wr = w->x[at[r]];
        for (int i = 0; i < C; i++) y->x[(size_t)r * C + i] = wr * x->x[(size_t)r * C + i];
    }
    lrp_node *n = lrp_graph_record(g, "scale_rows", scale_rows_backward, y);
    if (!n) return NULL;
    n->in[0] = x;
    n->in[1] = w;
    n->aux = a;
    return y;
}

// --- scatter-add out = base + Σ_r e_{rows[r]} y_r -------------------------------------------------------
static void scatter_add_rows_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    (void)rules;
    lrp_act *base = n->in[0], *y = n->in[1];
    const int *rows = n->aux;
    int C = y->cols;
    size_t N = (size_t)n->out->rows * C;
    const float *go = n->out->g;
    if (base) {
        float *gb = lrp_act_grad(g, base);
        if (!gb) return;
        for (size_t i = 0; i < N; i++) gb[i] += go[i];
    }
    float *gy = lrp_act_grad(g, y);
    if (!gy) return;
    for (int r = 0; r < y->rows; r++)
        for (int i = 0; i < C; i++) gy[(size_t)r * C + i] += go[(size_t)rows[r] * C + i];
}

lrp_act *op_scatter_add_rows(lrp_graph *g, lrp_act *base, lrp_act *y, const int *rows, int T) {
    if (!y) return NULL;
    if (base && (base->rows != T || base->cols != y->cols))
        return lrp_graph_fail(g, "internal: scatter-add of [%d, %d] rows into [%d, %d]", y->rows, y->cols, base->rows,
                              base->cols);
    int *idx = lrp_graph_alloc(g, (size_t)(y->rows ? y->rows : 1) * sizeof(int), 0);
    lrp_act *out = lrp_act_new(g, T, y->cols);
    if (!idx || !out) return NULL;
    int C = y->cols;
    if (base) memcpy(out->x, base->x, (size_t)T * C * sizeof(float));
    else memset(out->x, 0, (size_t)T * C * sizeof(float));
    for (int r = 0; r < y->rows; r++) {
        if (rows[r] < 0 || rows[r] >= T) return lrp_graph_fail(g, "internal: row %d of %d", rows[r], T);
        idx[r] = rows[r];
        for (int i = 0; i < C; i++) out->x[(size_t)rows[r] * C + i] += y->x[(size_t)r * C + i];
    }
    lrp_node *n = lrp_graph_record(g, "scatter_add_rows", scatter_add_rows_backward, out);
    if (!n) return NULL;
    n->in[0] = base;
    n->in[1] = y;
    n->aux = idx;
    return out;
}

// --- combination out = base + Σ_e scatter(w ⊙ y_e) -----------------------------------------------------
// One node for the whole layer: the expert outputs are scaled by their routing weights and added into
// the residual in place of an op_scale_rows and a full-size op_scatter_add_rows per expert (which
// recorded E copies of the [T, d] residual and replayed E full-size gradient additions). The sums are
// formed in the same order as that chain (expert by expert, a row's slots in routing order).
typedef struct {
    int E;
    const int *chosen;  // [T·K] expert of each (token, slot), graph memory
    lrp_act **y;        // [E] expert outputs (rows routed to the expert, in token order), NULL if none; or NULL
    lrp_act *sorted;    // ... every expert's rows in one act, expert e's from off[e]
    const int *off;
} moe_combine_aux;

// Expert e's output rows (in token order), NULL when it has none.
static const float *expert_rows(const moe_combine_aux *a, int e, int C) {
    if (a->sorted) return a->off[e + 1] > a->off[e] ? a->sorted->x + (size_t)a->off[e] * C : NULL;
    return a->y[e] ? a->y[e]->x : NULL;
}

static void moe_combine_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    const moe_combine_aux *a = n->aux;
    lrp_act *base = n->in[0], *w = n->in[1];
    int C = n->out->cols, TK = w->rows * w->cols, K = w->cols;
    float fy = 1.0f, fw = 1.0f;  // the rule gate, as op_scale_rows
    if (rules->gate == LRP_GATE_UNIFORM) fy = fw = 0.5f;
    else if (rules->gate == LRP_GATE_DETACH) fw = 0.0f;
    const float *go = n->out->g;
    if (base) {
        float *gb = lrp_act_grad(g, base);
        if (!gb) return;
        size_t N = (size_t)n->out->rows * C;
        for (size_t i = 0; i < N; i++) gb[i] += go[i];
    }
    float *gw = NULL;
    if (fw != 0.0f && !(gw = lrp_act_grad(g, w))) return;
    float *gsorted = a->sorted ? lrp_act_grad(g, a->sorted) : NULL;
    if (a->sorted && !gsorted) return;
    for (int e = 0; e < a->E; e++) {
        const float *yx = expert_rows(a, e, C);
        if (!yx) continue;
        float *gy = a->sorted ? gsorted + (size_t)a->off[e] * C : lrp_act_grad(g, a->y[e]);
        if (!gy) return;
        for (int i = 0, r = 0; i < TK; i++) {
            if (a->chosen[i] != e) continue;
            const float *src = go + (size_t)(i / K) * C, *yr = yx + (size_t)r * C;
            float *dst = gy + (size_t)r * C, s = fy * w->x[i];
            for (int j = 0; j < C; j++) dst[j] += s * src[j];
            if (gw) {
                double dot = 0;
                for (int j = 0; j < C; j++) dot += (double)src[j] * yr[j];
                gw[i] += fw * (float)dot;
            }
            r++;
        }
    }
}

// count[e] = how many of the n routed (token, slot) pairs chose expert e; -1 (graph failed) on an index
// outside 0..E-1.
static int count_routes(lrp_graph *g, const int *chosen, int n, int E, int *count) {
    for (int i = 0; i < n; i++) {
        if (chosen[i] < 0 || chosen[i] >= E) {
            lrp_graph_fail(g, "internal: expert %d of %d", chosen[i], E);
            return -1;
        }
        count[chosen[i]]++;
    }
    return 0;
}

// out = base + Σ over (t, slot) of w[t, slot] · its expert's row, summed expert by expert and a token's
// slots in routing order (the order of the per-expert chain it replaces); records the node.
static lrp_act *combine_record(lrp_graph *g, lrp_act *base, lrp_act *w, const moe_combine_aux *a, int C) {
    int T = w->rows, K = w->cols;
    lrp_act *out = lrp_act_new(g, T, C);
    if (!out) return NULL;
    if (base) memcpy(out->x, base->x, (size_t)T * C * sizeof(float));
    else memset(out->x, 0, (size_t)T * C * sizeof(float));
    for (int e = 0; e < a->E; e++) {
        const float *ye = expert_rows(a, e, C);
        for (int i = 0, r = 0; ye && i < T * K; i++) {
            if (a->chosen[i] != e) continue;
            const float *yr = ye + (size_t)r++ * C;
            float *o = out->x + (size_t)(i / K) * C, s = w->x[i];
            for (int j = 0; j < C; j++) o[j] += s * yr[j];
        }
    }
    lrp_node *n = lrp_graph_record(g, "moe_combine", moe_combine_backward, out);
    if (!n) return NULL;
    n->in[0] = base;
    n->in[1] = w;
    n->aux = a;
    return out;
}

lrp_act *op_moe_combine(lrp_graph *g, lrp_act *base, lrp_act *w, const int *chosen, lrp_act *const *y, int E) {
    if (!w || !chosen || E < 1) return NULL;
    int T = w->rows, K = w->cols, C = base ? base->cols : 0;
    for (int e = 0; e < E && !C; e++)
        if (y[e]) C = y[e]->cols;
    if (!C) return lrp_graph_fail(g, "internal: expert combination without base or expert outputs");
    if (base && base->rows != T) return lrp_graph_fail(g, "internal: combination base of %d rows for %d", base->rows, T);
    moe_combine_aux *a = lrp_graph_alloc(g, sizeof *a, 0);
    lrp_act **ys = lrp_graph_alloc(g, (size_t)E * sizeof *ys, 0);
    int *count = lrp_graph_alloc(g, (size_t)E * sizeof(int), 1);
    if (!a || !ys || !count) return NULL;
    if (count_routes(g, chosen, T * K, E, count)) return NULL;
    for (int e = 0; e < E; e++) {
        if (!count[e] && !y[e]) continue;
        if (!y[e]) return NULL;  // a failed expert (the graph is marked failed)
        if (y[e]->rows != count[e] || y[e]->cols != C)
            return lrp_graph_fail(g, "internal: expert %d output [%d, %d], expected [%d, %d]", e, y[e]->rows,
                                  y[e]->cols, count[e], C);
    }
    for (int e = 0; e < E; e++) ys[e] = count[e] ? y[e] : NULL;
    *a = (moe_combine_aux){.E = E, .chosen = chosen, .y = ys, .sorted = NULL, .off = NULL};
    return combine_record(g, base, w, a, C);
}

lrp_act *op_moe_combine_sorted(lrp_graph *g, lrp_act *base, lrp_act *w, const int *chosen, lrp_act *y, const int *off,
                               int E) {
    if (!w || !chosen || !y || !off || E < 1) return NULL;
    int T = w->rows, K = w->cols, C = y->cols;
    if (base && (base->rows != T || base->cols != C))
        return lrp_graph_fail(g, "internal: combination base [%d, %d] for [%d, %d]", base->rows, base->cols, T, C);
    if (y->rows != T * K || off[0] != 0 || off[E] != T * K)
        return lrp_graph_fail(g, "internal: sorted expert rows [%d, %d] for %d routed rows", y->rows, C, T * K);
    moe_combine_aux *a = lrp_graph_alloc(g, sizeof *a, 0);
    int *o = lrp_graph_alloc(g, (size_t)(E + 1) * sizeof *o, 0);
    int *count = lrp_graph_alloc(g, (size_t)E * sizeof(int), 1);
    if (!a || !o || !count) return NULL;
    if (count_routes(g, chosen, T * K, E, count)) return NULL;
    for (int e = 0; e < E; e++)
        if (off[e + 1] - off[e] != count[e])
            return lrp_graph_fail(g, "internal: expert %d has %d sorted rows for %d routed", e, off[e + 1] - off[e],
                                  count[e]);
    memcpy(o, off, (size_t)(E + 1) * sizeof *o);
    *a = (moe_combine_aux){.E = E, .chosen = chosen, .y = NULL, .sorted = y, .off = o};
    return combine_record(g, base, w, a, C);
}
