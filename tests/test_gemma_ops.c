// The ops Gemma adds: the (1 + w) RMSNorm, soft-capping as an op (final logits) and inside attention
// (scores), each against central finite differences (exact backward) and its rule's closed form.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ops/ops.h"

static unsigned long long rng = 0x2545f4914f6cdd1dull;
static float nrand(void) {  // splitmix64 -> [-1, 1)
    unsigned long long z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (float)(2.0 * ((double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0) - 1.0);
}
static void fill(float *v, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) v[i] = scale * nrand();
}

// A case: up to three inputs and the op built on them; the scalar is Σ y ⊙ w.
typedef struct {
    int n_in, rows[3], cols[3];
    float *x[3];
    float norm_w[16];
    int group;
    float offset, cap;
    lrp_attn_spec spec;
    int kind;  // 0 rmsnorm_offset, 1 softcap, 2 attention
} gcase;

static lrp_act *build(lrp_graph *g, const gcase *c, lrp_act **in) {
    lrp_err err;
    lrp_graph_init(g, 1 << 16, &err);
    for (int k = 0; k < c->n_in; k++) {
        in[k] = lrp_act_new(g, c->rows[k], c->cols[k]);
        memcpy(in[k]->x, c->x[k], (size_t)c->rows[k] * c->cols[k] * sizeof(float));
    }
    if (c->kind == 0) {
        static lrp_tensor t;
        t = (lrp_tensor){.name = "w", .dtype = LRP_F32, .ndim = 1, .data = (void *)c->norm_w};
        t.shape[0] = c->group;
        t.nbytes = (size_t)c->group * sizeof(float);
        lrp_weight w = lrp_weight_of(&t);
        return op_rmsnorm_offset(g, in[0], &w, 1e-5f, c->group, c->offset);
    }
    if (c->kind == 1) return op_softcap(g, in[0], c->cap);
    return op_attention(g, in[0], in[1], in[2], &c->spec);
}

// Gradients (rules of method m) of Σ y ⊙ w into grads[k] (malloc'ed); returns Σ y ⊙ w.
static double backward(const gcase *c, const float *w, lrp_method m, float **grads) {
    lrp_graph g;
    lrp_act *in[3];
    lrp_act *y = build(&g, c, in);
    size_t ny = (size_t)y->rows * y->cols;
    double s = 0;
    for (size_t i = 0; i < ny; i++) s += (double)y->x[i] * w[i];
    memcpy(lrp_act_grad(&g, y), w, ny * sizeof(float));
    lrp_rules rules = lrp_rules_for(m);
    lrp_err err;
    lrp_graph_backward(&g, &rules, &err);
    for (int k = 0; k < c->n_in; k++) {
        size_t n = (size_t)c->rows[k] * c->cols[k];
        grads[k] = calloc(n, sizeof(float));
        if (in[k]->g) memcpy(grads[k], in[k]->g, n * sizeof(float));
    }
    lrp_graph_free(&g);
    return s;
}

static size_t out_size(const gcase *c) {
    lrp_graph g;
    lrp_act *in[3];
    lrp_act *y = build(&g, c, in);
    size_t n = (size_t)y->rows * y->cols;
    lrp_graph_free(&g);
    return n;
}

static void check_fd(gcase *c, double tol) {
    size_t ny = out_size(c);
    float *w = malloc(ny * sizeof(float));
    fill(w, ny, 1.0f);
    float *grads[3];
    backward(c, w, LRP_METHOD_GRADXINPUT, grads);
    for (int k = 0; k < c->n_in; k++) {
        size_t n = (size_t)c->rows[k] * c->cols[k];
        double gmax = 1e-3, worst = 0;
        for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(grads[k][i]));
        for (size_t i = 0; i < n; i++) {
            float saved = c->x[k][i], h = 1e-2f * fmaxf(1.0f, fabsf(saved));
            float *dummy[3];
            c->x[k][i] = saved + h;
            double yp = backward(c, w, LRP_METHOD_GRADIENT, dummy);
            for (int j = 0; j < c->n_in; j++) free(dummy[j]);
            c->x[k][i] = saved - h;
            double ym = backward(c, w, LRP_METHOD_GRADIENT, dummy);
            for (int j = 0; j < c->n_in; j++) free(dummy[j]);
            c->x[k][i] = saved;
            worst = fmax(worst, fabs((yp - ym) / (2.0 * h) - grads[k][i]));
        }
        CHECK_NEAR(worst / gmax, 0.0, tol);
        free(grads[k]);
    }
    free(w);
}

static void one_input(gcase *c, int rows, int cols, float scale) {
    c->n_in = 1;
    c->rows[0] = rows;
    c->cols[0] = cols;
    c->x[0] = malloc((size_t)rows * cols * sizeof(float));
    fill(c->x[0], (size_t)rows * cols, scale);
}

static void free_case(gcase *c) {
    for (int k = 0; k < c->n_in; k++) free(c->x[k]);
}

TEST(offset_rmsnorm_scales_by_one_plus_w_and_keeps_the_norm_rule) {
    gcase c = {.kind = 0, .group = 4, .offset = 1.0f};
    fill(c.norm_w, 4, 0.5f);
    one_input(&c, 3, 8, 2.0f);  // groups of 4 (per-head q/k norms)
    check_fd(&c, 2e-3);
    float w[24];
    fill(w, 24, 1.0f);
    lrp_graph g;
    lrp_act *in[1];
    lrp_act *y = build(&g, &c, in);
    for (int k = 0; k < 6; k++) {
        double ss = 0;
        for (int i = 0; i < 4; i++) ss += (double)c.x[0][k * 4 + i] * c.x[0][k * 4 + i];
        double r = 1.0 / sqrt(ss / 4 + 1e-5);
        for (int i = 0; i < 4; i++)
            CHECK_NEAR(y->x[k * 4 + i], c.x[0][k * 4 + i] * r * (1.0 + c.norm_w[i]), 1e-5);
    }
    for (int m = LRP_METHOD_ATTNLRP; m <= LRP_METHOD_CPLRP; m++) {
        float *gr[3];
        backward(&c, w, (lrp_method)m, gr);
        for (int i = 0; i < 24; i++) CHECK_NEAR(c.x[0][i] * gr[0][i], y->x[i] * w[i], 1e-5);
        free(gr[0]);
    }
    lrp_graph_free(&g);
    free_case(&c);
}

TEST(softcap_gradient_and_identity_rule) {
    gcase c = {.kind = 1, .cap = 2.0f};
    one_input(&c, 3, 5, 4.0f);
    check_fd(&c, 2e-3);
    float w[15];
    fill(w, 15, 1.0f);
    for (int m = LRP_METHOD_ATTNLRP; m <= LRP_METHOD_GRADXINPUT; m++) {
        float *gr[3];
        backward(&c, w, (lrp_method)m, gr);
        for (int i = 0; i < 15; i++) {
            double x = c.x[0][i], y = 2.0 * tanh(x / 2.0), t = tanh(x / 2.0);
            double expect = m == LRP_METHOD_GRADXINPUT ? x * (1 - t * t) * w[i] : y * w[i];  // R(x) = R(y)
            CHECK_NEAR(x * gr[0][i], expect, 1e-5 * (1 + fabs(expect)));
        }
        free(gr[0]);
    }
    free_case(&c);
}

static void attention_inputs(gcase *c, int T, int H, int KVH, int hd, float scale) {
    c->kind = 2;
    c->n_in = 3;
    int cols[3] = {H * hd, KVH * hd, KVH * hd};
    for (int k = 0; k < 3; k++) {
        c->rows[k] = T;
        c->cols[k] = cols[k];
        c->x[k] = malloc((size_t)T * cols[k] * sizeof(float));
        fill(c->x[k], (size_t)T * cols[k], scale);
    }
}

TEST(softcapped_attention_gradient_matches_finite_differences) {
    gcase c = {0};
    attention_inputs(&c, 6, 4, 2, 3, 1.5f);
    c.spec = (lrp_attn_spec){.n_heads = 4, .n_kv_heads = 2, .head_dim = 3, .scale = 0.7f, .softcap = 1.5f};
    check_fd(&c, 3e-3);
    c.spec.window = 3;  // with a sliding window
    check_fd(&c, 3e-3);
    free_case(&c);
}

// One head: under attnlrp the soft-capped score takes the identity rule, so per query row
// Σ_d R(q_id) = ½ Σ_j S_ij ĝ(S_ij) and per key row Σ_d R(k_jd) = ½ Σ_i S_ij ĝ(S_ij), with S the capped
// scores and ĝ(S) the exact softmax backward of the probabilities' ½ share of A·V's gradient.
TEST(softcapped_attention_identity_rule_closed_form) {
    int T = 5, d = 4;
    float cap = 1.0f, scale = 0.5f;
    gcase c = {0};
    attention_inputs(&c, T, 1, 1, d, 1.5f);
    c.spec = (lrp_attn_spec){.n_heads = 1, .n_kv_heads = 1, .head_dim = d, .scale = scale, .softcap = cap};
    float w[20];
    fill(w, 20, 1.0f);
    float *gr[3];
    backward(&c, w, LRP_METHOD_ATTNLRP, gr);
    const float *Q = c.x[0], *K = c.x[1], *V = c.x[2];
    double S[5][5], P[5][5], gS[5][5];
    int capped_hard = 0;
    for (int i = 0; i < T; i++) {
        double m = -1e30, sum = 0;
        for (int j = 0; j <= i; j++) {
            double raw = 0;
            for (int e = 0; e < d; e++) raw += (double)Q[i * d + e] * K[j * d + e];
            raw *= scale;
            S[i][j] = cap * tanh(raw / cap);
            capped_hard += fabs(raw - S[i][j]) > 0.05;
            m = fmax(m, S[i][j]);
        }
        for (int j = 0; j <= i; j++) sum += P[i][j] = exp(S[i][j] - m);
        double dot = 0, gP[5];
        for (int j = 0; j <= i; j++) {
            P[i][j] /= sum;
            gP[j] = 0;
            for (int e = 0; e < d; e++) gP[j] += 0.5 * w[i * d + e] * V[j * d + e];
            dot += gP[j] * P[i][j];
        }
        for (int j = 0; j <= i; j++) gS[i][j] = P[i][j] * (gP[j] - dot);
    }
    CHECK(capped_hard > 0);  // the cap matters in this case
    for (int i = 0; i < T; i++) {
        double rq = 0, rk = 0, eq = 0, ek = 0;
        for (int e = 0; e < d; e++) rq += (double)Q[i * d + e] * gr[0][i * d + e];
        for (int e = 0; e < d; e++) rk += (double)K[i * d + e] * gr[1][i * d + e];
        for (int j = 0; j <= i; j++) eq += 0.5 * S[i][j] * gS[i][j];
        for (int r = i; r < T; r++) ek += 0.5 * S[r][i] * gS[r][i];
        CHECK_NEAR(rq, eq, 1e-5);
        CHECK_NEAR(rk, ek, 1e-5);
    }
    for (int k = 0; k < 3; k++) free(gr[k]);
    // cplrp: the scores are constants, Q and K get nothing.
    backward(&c, w, LRP_METHOD_CPLRP, gr);
    for (int i = 0; i < T * d; i++) CHECK(gr[0][i] == 0.0f && gr[1][i] == 0.0f);
    for (int k = 0; k < 3; k++) free(gr[k]);
    free_case(&c);
}

TEST_MAIN(T(offset_rmsnorm_scales_by_one_plus_w_and_keeps_the_norm_rule), T(softcap_gradient_and_identity_rule),
          T(softcapped_attention_gradient_matches_finite_differences),
          T(softcapped_attention_identity_rule_closed_form))
