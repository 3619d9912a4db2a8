// The mixture-of-experts ops (ops/moe.c): exact backwards against central finite differences, the MoE
// rule (SPEC §2) against its closed form, and the relevance that reaches the router of a 2-expert toy
// against its closed form for attnlrp and cplrp.
#include <math.h>
#include <string.h>

#include "harness.h"
#include "kernels/half.h"
#include "ops/ops.h"

int openblas_get_num_threads(void);
void openblas_set_num_threads(int);

static unsigned long long rng_state = 0x2545f4914f6cdd1dull;
static float nrand(void) {  // splitmix64 -> [-1, 1)
    unsigned long long z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (float)(2.0 * ((double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0) - 1.0);
}
static void fill(float *v, size_t n, float s) {
    for (size_t i = 0; i < n; i++) v[i] = s * nrand();
}

// A case: up to two inputs and a builder; the scalar is Σ y ⊙ c for a fixed random c.
typedef struct {
    int n_in, rows[2], cols[2];
    float *x[2];
    lrp_act *(*build)(lrp_graph *g, lrp_act **in, const void *ctx);
    const void *ctx;
} mcase;

static lrp_act *run(lrp_graph *g, const mcase *c, lrp_act **in) {
    lrp_err err;
    lrp_graph_init(g, 1 << 12, &err);
    for (int k = 0; k < c->n_in; k++) {
        in[k] = lrp_act_new(g, c->rows[k], c->cols[k]);
        memcpy(in[k]->x, c->x[k], (size_t)c->rows[k] * c->cols[k] * sizeof(float));
    }
    return c->build(g, in, c->ctx);
}

static double dot_out(const mcase *c, const float *w) {
    lrp_graph g;
    lrp_act *in[2];
    lrp_act *y = run(&g, c, in);
    double s = 0;
    for (size_t i = 0; i < (size_t)y->rows * y->cols; i++) s += (double)y->x[i] * w[i];
    lrp_graph_free(&g);
    return s;
}

// Gradients (rules of method m) of Σ y ⊙ w into grads[k] (malloc'ed); returns the output size.
static size_t grads_of(const mcase *c, const float *w, lrp_method m, float **grads) {
    lrp_graph g;
    lrp_act *in[2];
    lrp_act *y = run(&g, c, in);
    size_t ny = (size_t)y->rows * y->cols;
    if (w) {
        memcpy(lrp_act_grad(&g, y), w, ny * sizeof(float));
        lrp_rules r = lrp_rules_for(m);
        lrp_err err;
        lrp_graph_backward(&g, &r, &err);
    }
    for (int k = 0; grads && k < c->n_in; k++) {
        size_t n = (size_t)c->rows[k] * c->cols[k];
        grads[k] = calloc(n, sizeof(float));
        if (in[k]->g) memcpy(grads[k], in[k]->g, n * sizeof(float));
    }
    lrp_graph_free(&g);
    return ny;
}

static void check_fd(const mcase *c, double tol) {
    size_t ny = grads_of(c, NULL, LRP_METHOD_GRADIENT, NULL);
    float *w = malloc(ny * sizeof(float)), *gr[2];
    fill(w, ny, 1.0f);
    grads_of(c, w, LRP_METHOD_GRADXINPUT, gr);
    for (int k = 0; k < c->n_in; k++) {
        size_t n = (size_t)c->rows[k] * c->cols[k];
        double worst = 0, gmax = 1e-3;
        for (size_t i = 0; i < n; i++) {
            float saved = c->x[k][i], h = 1e-3f;
            c->x[k][i] = saved + h;
            double yp = dot_out(c, w);
            c->x[k][i] = saved - h;
            double ym = dot_out(c, w);
            c->x[k][i] = saved;
            worst = fmax(worst, fabs((yp - ym) / (2.0 * h) - gr[k][i]));
            gmax = fmax(gmax, fabs(gr[k][i]));
        }
        CHECK_NEAR(worst / gmax, 0.0, tol);
        free(gr[k]);
    }
    free(w);
}

static lrp_act *build_softmax(lrp_graph *g, lrp_act **in, const void *ctx) {
    (void)ctx;
    return op_softmax_rows(g, in[0]);
}
static lrp_act *build_topk(lrp_graph *g, lrp_act **in, const void *ctx) {
    const int *kr = ctx;
    return op_topk_rows(g, in[0], kr[0], kr[1], NULL);
}
static const int scale_at[5] = {3, 0, 5, 2, 3};
static lrp_act *build_scale(lrp_graph *g, lrp_act **in, const void *ctx) {
    (void)ctx;
    return op_scale_rows(g, in[0], in[1], scale_at);  // x [5, 4], w [3, 2]
}
static const int scatter_rows[4] = {2, 0, 2, 3};
static lrp_act *build_scatter(lrp_graph *g, lrp_act **in, const void *ctx) {
    (void)ctx;
    return op_scatter_add_rows(g, ctx ? NULL : in[1], in[0], scatter_rows, 4);  // y [4, 3], base [4, 3]
}

// op_moe_combine on T = 4 tokens, K = 2 slots, E = 4 experts: expert 0 has tokens 0-3, expert 1 token 3,
// expert 2 tokens 0-2, expert 3 none. The expert outputs are rows of in[0] [5, 3] (expert 0: rows 0-3,
// expert 1: row 4, expert 2: rows 0-2 again), the routing weights in[1] [4, 2]; the base (when ctx is
// NULL) is rows 0-3 of in[0] once more. With ctx == &chain_flag the same through op_scale_rows and
// op_scatter_add_rows per expert.
static const int combine_chosen[8] = {0, 2, 2, 0, 0, 2, 1, 0};
static int chain_flag;
static lrp_act *build_combine(lrp_graph *g, lrp_act **in, const void *ctx) {
    static const int src[3][4] = {{0, 1, 2, 3}, {4}, {0, 1, 2}}, n[3] = {4, 1, 3};
    static const int tok[3][4] = {{0, 1, 2, 3}, {3}, {0, 1, 2}}, at[3][4] = {{0, 3, 4, 7}, {6}, {1, 2, 5}};
    lrp_act *y[4] = {NULL, NULL, NULL, NULL};
    for (int e = 0; e < 3; e++) y[e] = op_select_rows(g, in[0], src[e], n[e]);
    lrp_act *base = ctx == &chain_flag || !ctx ? op_select_rows(g, in[0], src[0], 4) : NULL;
    if (ctx != &chain_flag) return op_moe_combine(g, base, in[1], combine_chosen, y, 4);
    lrp_act *out = base;
    for (int e = 0; e < 3; e++) out = op_scatter_add_rows(g, out, op_scale_rows(g, y[e], in[1], at[e]), tok[e], 4);
    return out;
}

static mcase make(int n_in, int r0, int c0, int r1, int c1, lrp_act *(*b)(lrp_graph *, lrp_act **, const void *),
                  const void *ctx) {
    mcase c = {.n_in = n_in, .rows = {r0, r1}, .cols = {c0, c1}, .build = b, .ctx = ctx};
    for (int k = 0; k < n_in; k++) {
        c.x[k] = malloc((size_t)c.rows[k] * c.cols[k] * sizeof(float));
        fill(c.x[k], (size_t)c.rows[k] * c.cols[k], 1.0f);
    }
    return c;
}
static void drop(mcase *c) {
    for (int k = 0; k < c->n_in; k++) free(c->x[k]);
}

TEST(softmax_rows_gradient_matches_finite_differences) {
    mcase c = make(1, 3, 5, 0, 0, build_softmax, NULL);
    check_fd(&c, 2e-3);
    drop(&c);
}

TEST(topk_rows_gradient_matches_finite_differences_with_and_without_renormalisation) {
    for (int renorm = 0; renorm < 2; renorm++) {
        int kr[2] = {2, renorm};
        mcase c = make(1, 3, 5, 0, 0, build_topk, kr);
        // well separated positive values: the selection does not change under the perturbation
        for (int i = 0; i < 15; i++) c.x[0][i] = 0.05f + 0.06f * (float)((i * 7) % 15);
        check_fd(&c, 2e-3);
        drop(&c);
    }
}

TEST(topk_rows_picks_the_largest_in_order_and_renormalises) {
    lrp_graph g;
    lrp_err err;
    lrp_graph_init(&g, 1 << 10, &err);
    lrp_act *p = lrp_act_new(&g, 1, 4);
    const float v[4] = {0.1f, 0.4f, 0.2f, 0.3f};
    memcpy(p->x, v, sizeof v);
    const int *idx = NULL;
    lrp_act *w = op_topk_rows(&g, p, 2, 1, &idx);
    CHECK(idx && idx[0] == 1 && idx[1] == 3);
    CHECK_NEAR(w->x[0], 0.4 / 0.7, 1e-6);
    CHECK_NEAR(w->x[1], 0.3 / 0.7, 1e-6);
    CHECK(op_topk_rows(&g, p, 5, 1, NULL) == NULL);
    lrp_graph_free(&g);
}

TEST(scale_and_scatter_rows_gradients_match_finite_differences) {
    mcase c = make(2, 5, 4, 3, 2, build_scale, NULL);
    check_fd(&c, 2e-3);
    drop(&c);
    mcase s = make(2, 4, 3, 4, 3, build_scatter, NULL);
    check_fd(&s, 2e-3);
    drop(&s);
    mcase z = make(1, 4, 3, 0, 0, build_scatter, &z);  // no base: zeros
    check_fd(&z, 2e-3);
    drop(&z);
}

TEST(moe_combine_gradients_match_finite_differences) {
    int no_base;
    mcase c = make(2, 5, 3, 4, 2, build_combine, NULL);
    check_fd(&c, 2e-3);
    c.ctx = &no_base;
    check_fd(&c, 2e-3);
    drop(&c);
}

// The one-node combination equals the chain it replaces (op_scale_rows, whose rule has its closed form
// below, then op_scatter_add_rows per expert): values and gradients under every gate rule.
TEST(moe_combine_equals_scale_and_scatter_per_expert_for_every_rule) {
    mcase c = make(2, 5, 3, 4, 2, build_combine, NULL), chain = c;
    chain.ctx = &chain_flag;
    float cw[12];
    fill(cw, 12, 1.0f);
    CHECK_NEAR(dot_out(&c, cw), dot_out(&chain, cw), 1e-6);
    const lrp_method ms[3] = {LRP_METHOD_ATTNLRP, LRP_METHOD_CPLRP, LRP_METHOD_GRADXINPUT};
    for (int mi = 0; mi < 3; mi++) {
        float *g1[2], *g2[2];
        grads_of(&c, cw, ms[mi], g1);
        grads_of(&chain, cw, ms[mi], g2);
        for (int k = 0; k < 2; k++) {
            for (int i = 0; i < c.rows[k] * c.cols[k]; i++) CHECK_NEAR(g1[k][i], g2[k][i], 1e-6);
            free(g1[k]), free(g2[k]);
        }
    }
    drop(&c);
}

TEST(moe_combine_rejects_mismatched_expert_outputs) {
    lrp_graph g;
    lrp_err err;
    lrp_graph_init(&g, 1 << 10, &err);
    lrp_act *w = lrp_act_new(&g, 4, 2), *y0 = lrp_act_new(&g, 3, 3);  // expert 0 has 4 rows, not 3
    lrp_act *y[4] = {y0, lrp_act_new(&g, 1, 3), lrp_act_new(&g, 3, 3), NULL};
    CHECK(op_moe_combine(&g, NULL, w, combine_chosen, y, 4) == NULL);
    CHECK(g.failed && strstr(g.err.msg, "expert 0 output [3, 3], expected [4, 3]"));
    lrp_graph_free(&g);
}

// y_r = w_{at[r]} x_r with seed c: R(y_r) = Σ_i y_ri c_ri. attnlrp: R(x_r) = R(w contribution) = R(y_r)/2;
// cplrp: R(x_r) = R(y_r), the routing weight gets nothing; exact: both get R(y_r).
TEST(scale_rows_rule_halves_for_attnlrp_and_detaches_the_weight_for_cplrp) {
    mcase c = make(2, 5, 4, 3, 2, build_scale, NULL);
    float cw[20];
    fill(cw, 20, 1.0f);
    const lrp_method ms[3] = {LRP_METHOD_ATTNLRP, LRP_METHOD_CPLRP, LRP_METHOD_GRADXINPUT};
    const double fx[3] = {0.5, 1.0, 1.0}, fw[3] = {0.5, 0.0, 1.0};
    for (int mi = 0; mi < 3; mi++) {
        float *gr[2];
        grads_of(&c, cw, ms[mi], gr);
        double Rw[6] = {0};
        for (int r = 0; r < 5; r++) {
            double Ry = 0, Rx = 0;
            for (int i = 0; i < 4; i++) {
                Ry += (double)c.x[1][scale_at[r]] * c.x[0][r * 4 + i] * cw[r * 4 + i];
                Rx += (double)c.x[0][r * 4 + i] * gr[0][r * 4 + i];
            }
            CHECK_NEAR(Rx, fx[mi] * Ry, 1e-5);
            Rw[scale_at[r]] += fw[mi] * Ry;
        }
        for (int j = 0; j < 6; j++) CHECK_NEAR((double)c.x[1][j] * gr[1][j], Rw[j], 1e-5);
        free(gr[0]), free(gr[1]);
    }
    drop(&c);
}

// A 2-expert toy layer on T tokens, both experts active (k = 2, renormalised: w = p), linear experts
// y_e = x A_eᵀ. The router input hr is separate from the experts' input hx so that its relevance is the
// router's alone. Seed c on the output o = Σ_e w_e y_e. Closed form (ε-rule through the router linear,
// exact softmax, renormalisation):
//   attnlrp: ĝ(w_e) = ½ c·y_e,  ĝ(l_e) = p_e (ĝ(w_e) − Σ_j p_j ĝ(w_j)),  so for two experts
//            ĝ(l_0) = ½ p_0 p_1 (c·y_0 − c·y_1) = −ĝ(l_1);  R(hr) summed = Σ_e l_e ĝ(l_e)
//   cplrp:   the routing weights are detached: no relevance reaches the router.
// With k = 1 and no renormalisation: ĝ(p_top) = ½ c·y_top, ĝ(l_e) = p_e([e = top] − p_top) ĝ(p_top).
typedef struct {
    float Wr[2 * 3], A[2][3 * 3];
    int k, renorm, combine;  // combine: op_moe_combine instead of op_scale_rows + op_scatter_add_rows
    lrp_act *logits, *w;
} toy;
static lrp_act *build_toy(lrp_graph *g, lrp_act **in, const void *ctx) {
    toy *t = (toy *)ctx;
    static lrp_tensor tw, ta[2];
    tw = (lrp_tensor){.name = "router", .dtype = LRP_F32, .ndim = 2, .shape = {2, 3}, .data = t->Wr, .nbytes = 24};
    lrp_weight Wr = lrp_weight_of(&tw);
    lrp_act *hr = in[0], *hx = in[1];
    int T = hr->rows;
    t->logits = op_linear(g, hr, &Wr, NULL);
    const int *idx = NULL;
    t->w = op_topk_rows(g, op_softmax_rows(g, t->logits), t->k, t->renorm, &idx);
    if (!t->w) return NULL;
    t->logits->keep_grad = t->w->keep_grad = 1;
    lrp_act *out = NULL, *ys[2] = {NULL, NULL};
    int rows[16], at[16];
    for (int e = 0; e < 2; e++) {
        ta[e] = (lrp_tensor){.name = "A", .dtype = LRP_F32, .ndim = 2, .shape = {3, 3}, .data = t->A[e], .nbytes = 36};
        lrp_weight A = lrp_weight_of(&ta[e]);
        int n = 0;
        for (int i = 0; i < T * t->k; i++)
            if (idx[i] == e) rows[n] = i / t->k, at[n++] = i;
        if (!n) continue;
        lrp_act *y = op_linear(g, op_select_rows(g, hx, rows, n), &A, NULL);
        if (t->combine) ys[e] = y;
        else out = op_scatter_add_rows(g, out, op_scale_rows(g, y, t->w, at), rows, T);
    }
    return t->combine ? op_moe_combine(g, NULL, t->w, idx, ys, 2) : out;
}

static void router_closed_form(int k, int renorm, int combine) {
    toy t = {.k = k, .renorm = renorm, .combine = combine};
    fill(t.Wr, 6, 1.5f);
    fill(t.A[0], 9, 1.0f);
    fill(t.A[1], 9, 1.0f);
    int T = 4;
    float hr[12], hx[12], c[12];
    fill(hr, 12, 1.0f), fill(hx, 12, 1.0f), fill(c, 12, 1.0f);
    for (int mi = 0; mi < 2; mi++) {
        lrp_method m = mi ? LRP_METHOD_CPLRP : LRP_METHOD_ATTNLRP;
        lrp_graph g;
        lrp_err err;
        lrp_graph_init(&g, 1 << 12, &err);
        lrp_act *in[2] = {lrp_act_new(&g, T, 3), lrp_act_new(&g, T, 3)};
        memcpy(in[0]->x, hr, sizeof hr);
        memcpy(in[1]->x, hx, sizeof hx);
        lrp_act *o = build_toy(&g, in, &t);
        memcpy(lrp_act_grad(&g, o), c, sizeof c);
        lrp_rules r = lrp_rules_for(m);
        CHECK(lrp_graph_backward(&g, &r, &err) == 0);
        double Rrouter = 0, Rlog = 0, Rw = 0;
        for (int i = 0; i < 12; i++) Rrouter += (double)hr[i] * (in[0]->g ? in[0]->g[i] : 0.0f);
        for (int tk = 0; tk < T; tk++) {
            double l[2], p[2], cy[2];
            for (int e = 0; e < 2; e++) {
                l[e] = 0;
                for (int d = 0; d < 3; d++) l[e] += (double)t.Wr[e * 3 + d] * hr[tk * 3 + d];
            }
            double mx = fmax(l[0], l[1]), s = exp(l[0] - mx) + exp(l[1] - mx);
            for (int e = 0; e < 2; e++) p[e] = exp(l[e] - mx) / s;
            for (int e = 0; e < 2; e++) {  // c·y_e with y_e = A_e hx
                cy[e] = 0;
                for (int i = 0; i < 3; i++) {
                    double y = 0;
                    for (int d = 0; d < 3; d++) y += (double)t.A[e][i * 3 + d] * hx[tk * 3 + d];
                    cy[e] += c[tk * 3 + i] * y;
                }
            }
            double gl[2] = {0, 0}, rw = 0;
            if (m == LRP_METHOD_ATTNLRP && k == 2) {
                gl[0] = 0.5 * p[0] * p[1] * (cy[0] - cy[1]);
                gl[1] = -gl[0];
                rw = 0.5 * (p[0] * cy[0] + p[1] * cy[1]);  // Σ_e w_e ĝ(w_e), w = p
            } else if (m == LRP_METHOD_ATTNLRP) {
                int top = p[1] > p[0];
                double gp = 0.5 * cy[top];
                for (int e = 0; e < 2; e++) gl[e] = p[e] * ((e == top) - p[top]) * gp;
                rw = p[top] * gp;
            }
            for (int e = 0; e < 2; e++) {
                CHECK_NEAR(t.logits->g ? t.logits->g[tk * 2 + e] : 0.0f, gl[e], 1e-5);
                Rlog += l[e] * gl[e];
            }
            double rwe = 0;
            for (int s2 = 0; s2 < k; s2++) rwe += (double)t.w->x[tk * k + s2] * (t.w->g ? t.w->g[tk * k + s2] : 0.0f);
            CHECK_NEAR(rwe, rw, 1e-5);
            Rw += rw;
        }
        CHECK_NEAR(Rrouter, Rlog, 1e-5);  // the router linear (no bias) conserves what reaches the logits
        if (m == LRP_METHOD_CPLRP) CHECK_NEAR(Rrouter, 0.0, 0.0);
        else CHECK(fabs(Rw) > 1e-3);
        lrp_graph_free(&g);
    }
}

// op_linear_grouped (the experts of a layer over rows sorted by expert, in parallel) against op_linear on
// each segment alone: values, the gradient (attnlrp) and LRP-γ (MLP-tagged, γ = 0.25), with 1 thread and
// with 2 (segments in turn, and in parallel with ATTNLRP_MOE_PARALLEL=1), F32 and F16 weights, an empty
// segment among them: within 1e-5 relative.
TEST(linear_grouped_equals_op_linear_per_segment) {
    enum { E = 4, IN = 24, OUT = 40, N = 37 };
    static const int off[E + 1] = {0, 11, 11, 30, N};  // segment 1 is empty
    float wdata[E][OUT * IN], x[N * IN], seed[N * OUT];
    uint16_t hdata[E][OUT * IN];
    fill(x, N * IN, 1.0f);
    fill(seed, N * OUT, 1.0f);
    lrp_tensor t[E];
    lrp_weight wv[E];
    const lrp_weight *wp[E];
    int blas = openblas_get_num_threads();
    for (int dt = 0; dt < 2; dt++) {
        for (int e = 0; e < E; e++) {
            fill(wdata[e], OUT * IN, 0.3f);
            for (int i = 0; i < OUT * IN; i++) hdata[e][i] = lrp_f32_to_f16(wdata[e][i]);
            t[e] = (lrp_tensor){.name = "expert", .dtype = dt ? LRP_F16 : LRP_F32, .ndim = 2, .shape = {OUT, IN},
                                .data = dt ? (const void *)hdata[e] : (const void *)wdata[e],
                                .nbytes = (size_t)OUT * IN * (dt ? 2 : 4)};
            wv[e] = lrp_weight_of(&t[e]);
            wp[e] = e == 1 ? NULL : &wv[e];
        }
        for (int mode = 0; mode < 3; mode++)  // 1 thread; 2 threads, segments in turn; 2 threads in parallel
            for (int gamma = 0; gamma < 2; gamma++) {
                openblas_set_num_threads(mode == 0 ? 1 : 2);
                setenv("ATTNLRP_MOE_PARALLEL", mode == 2 ? "1" : "0", 1);
                lrp_rules r = lrp_rules_for(LRP_METHOD_ATTNLRP);
                r.gamma_lin = gamma ? 0.25f : 0.0f;
                float yv[2][N * OUT], gx[2][N * IN];
                for (int way = 0; way < 2; way++) {
                    lrp_graph g;
                    lrp_err err;
                    CHECK(lrp_graph_init(&g, 1 << 12, &err) == 0);
                    g.tag = LRP_TAG_MLP_LINEAR;
                    lrp_act *xa = lrp_act_new(&g, N, IN);
                    memcpy(xa->x, x, sizeof x);
                    lrp_act *y = NULL;
                    if (way == 0) {
                        y = op_linear_grouped(&g, xa, wp, off, E);
                    } else {  // each segment through op_linear, gathered back into one [N, OUT]
                        lrp_act *parts[E] = {0};
                        int rows[N];
                        for (int e = 0; e < E; e++) {
                            int n = off[e + 1] - off[e];
                            if (!n) continue;
                            for (int i = 0; i < n; i++) rows[i] = off[e] + i;
                            parts[e] = op_linear(&g, op_select_rows(&g, xa, rows, n), &wv[e], NULL);
                        }
                        for (int e = 0; e < E; e++) {
                            int n = off[e + 1] - off[e];
                            if (!n) continue;
                            for (int i = 0; i < n; i++) rows[i] = off[e] + i;
                            y = op_scatter_add_rows(&g, y, parts[e], rows, N);
                        }
                    }
                    CHECK(y != NULL && lrp_graph_ok(&g));
                    if (!y) return;
                    memcpy(yv[way], y->x, sizeof yv[way]);
                    memcpy(lrp_act_grad(&g, y), seed, sizeof seed);
                    CHECK(lrp_graph_backward(&g, &r, &err) == 0);
                    memcpy(gx[way], xa->g, sizeof gx[way]);
                    lrp_graph_free(&g);
                }
                double ymax = 0, gmax = 0, dy = 0, dg = 0;
                for (int i = 0; i < N * OUT; i++) ymax = fmax(ymax, fabs(yv[1][i])), dy = fmax(dy, fabs(yv[0][i] - yv[1][i]));
                for (int i = 0; i < N * IN; i++) gmax = fmax(gmax, fabs(gx[1][i])), dg = fmax(dg, fabs(gx[0][i] - gx[1][i]));
                CHECK(ymax > 0 && gmax > 0);
                CHECK_NEAR(dy / ymax, 0.0, 1e-5);
                CHECK_NEAR(dg / gmax, 0.0, 1e-5);
            }
    }
    openblas_set_num_threads(blas);
    unsetenv("ATTNLRP_MOE_PARALLEL");
}

TEST(linear_grouped_rejects_segments_that_do_not_cover_the_rows) {
    lrp_graph g;
    lrp_err err;
    lrp_graph_init(&g, 1 << 10, &err);
    float w[6] = {1, 2, 3, 4, 5, 6};
    lrp_tensor t = {.name = "w", .dtype = LRP_F32, .ndim = 2, .shape = {3, 2}, .data = w, .nbytes = sizeof w};
    lrp_weight wv = lrp_weight_of(&t);
    const lrp_weight *wp[2] = {&wv, &wv};
    const int off[3] = {0, 2, 4};
    CHECK(op_linear_grouped(&g, lrp_act_new(&g, 5, 2), wp, off, 2) == NULL);
    CHECK(g.failed && strstr(g.err.msg, "2 segments covering rows 0..4 of 5"));
    lrp_graph_free(&g);
}

// Qwen2-MoE's shared expert term y_t = σ(g_t) · S_t with g = h Wgᵀ ([T, 1]) and S the shared expert's output
// (here in[1] directly), built as the family builds it: op_scale_rows with at[t] = t over the sigmoid. Seed
// c: R(y_t) = Σ_i y_ti c_ti. attnlrp: R(S_t) = R(y_t)/2 and, through the sigmoid's identity rule, R(g_t) =
// R(σ_t) = R(y_t)/2, which the gate linear (no bias) hands on to h; cplrp: σ detached, R(S_t) = R(y_t),
// nothing reaches h; gradxinput: the exact gradient (finite differences).
static float shared_wg[4];
static lrp_act *build_shared(lrp_graph *g, lrp_act **in, const void *ctx) {
    (void)ctx;
    static lrp_tensor tw;
    tw = (lrp_tensor){.name = "shared_expert_gate", .dtype = LRP_F32, .ndim = 2, .shape = {1, 4}, .data = shared_wg,
                      .nbytes = sizeof shared_wg};
    lrp_weight Wg = lrp_weight_of(&tw);
    static const int at[5] = {0, 1, 2, 3, 4};
    lrp_act *sg = op_activation(g, op_linear(g, in[0], &Wg, NULL), LRP_ACT_SIGMOID);
    return op_scale_rows(g, in[1], sg, at);  // h [5, 4], S [5, 3]
}

TEST(shared_expert_gate_takes_half_through_the_sigmoid_for_attnlrp_and_nothing_for_cplrp) {
    fill(shared_wg, 4, 1.0f);
    mcase c = make(2, 5, 4, 5, 3, build_shared, NULL);
    check_fd(&c, 2e-3);
    float cw[15];
    fill(cw, 15, 1.0f);
    const lrp_method ms[2] = {LRP_METHOD_ATTNLRP, LRP_METHOD_CPLRP};
    const double fs[2] = {0.5, 1.0}, fg[2] = {0.5, 0.0};
    for (int mi = 0; mi < 2; mi++) {
        float *gr[2];
        grads_of(&c, cw, ms[mi], gr);
        for (int t = 0; t < 5; t++) {
            double gt = 0, Ry = 0, Rs = 0, Rh = 0;
            for (int d = 0; d < 4; d++) gt += (double)shared_wg[d] * c.x[0][t * 4 + d];
            double sig = 1.0 / (1.0 + exp(-gt));
            for (int i = 0; i < 3; i++) {
                Ry += sig * c.x[1][t * 3 + i] * cw[t * 3 + i];
                Rs += (double)c.x[1][t * 3 + i] * gr[1][t * 3 + i];
            }
            for (int d = 0; d < 4; d++) Rh += (double)c.x[0][t * 4 + d] * gr[0][t * 4 + d];
            CHECK_NEAR(Rs, fs[mi] * Ry, 1e-5 * (1 + fabs(Ry)));
            CHECK_NEAR(Rh, fg[mi] * Ry, 1e-4 * (1 + fabs(Ry)));
        }
        free(gr[0]), free(gr[1]);
    }
    drop(&c);
}

TEST(router_relevance_of_a_two_expert_toy_matches_its_closed_form) {
    for (int combine = 0; combine < 2; combine++) {
        router_closed_form(2, 1, combine);
        router_closed_form(1, 0, combine);
    }
}

TEST_MAIN(T(softmax_rows_gradient_matches_finite_differences),
          T(topk_rows_gradient_matches_finite_differences_with_and_without_renormalisation),
          T(topk_rows_picks_the_largest_in_order_and_renormalises),
          T(scale_and_scatter_rows_gradients_match_finite_differences),
          T(scale_rows_rule_halves_for_attnlrp_and_detaches_the_weight_for_cplrp),
          T(moe_combine_gradients_match_finite_differences),
          T(moe_combine_equals_scale_and_scatter_per_expert_for_every_rule),
          T(moe_combine_rejects_mismatched_expert_outputs),
          T(linear_grouped_equals_op_linear_per_segment),
          T(linear_grouped_rejects_segments_that_do_not_cover_the_rows),
          T(router_relevance_of_a_two_expert_toy_matches_its_closed_form),
          T(shared_expert_gate_takes_half_through_the_sigmoid_for_attnlrp_and_nothing_for_cplrp))
