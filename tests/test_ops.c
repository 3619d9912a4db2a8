// Every op: the exact backward against central finite differences; every rule against its closed form.
#include <math.h>
#include <string.h>

#include "harness.h"
#include "ops/ops.h"

static unsigned long long rng_state = 0x9e3779b97f4a7c15ull;
static double urand(void) {  // splitmix64 -> [0, 1)
    unsigned long long z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}
static float nrand(void) { return (float)(2.0 * urand() - 1.0); }

static void fill(float *v, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) v[i] = scale * nrand();
}

static lrp_tensor weight(float *data, int rows, int cols) {
    lrp_tensor t = {.name = "w", .dtype = LRP_F32, .ndim = cols ? 2 : 1, .data = data};
    t.shape[0] = rows;
    t.shape[1] = cols;
    t.nbytes = (size_t)rows * (cols ? cols : 1) * sizeof(float);
    return t;
}

// A test case: inputs (values kept outside any graph) and a function building the op on them.
#define MAX_IN 3
typedef struct {
    int n_in;
    int rows[MAX_IN], cols[MAX_IN];
    float *x[MAX_IN];
    lrp_act *(*build)(lrp_graph *g, lrp_act **in, const void *ctx);
    const void *ctx;
} op_case;

// Runs the op on fresh activations holding the case's values; returns the output (graph owned by g).
static lrp_act *run_case(lrp_graph *g, const op_case *c, lrp_act **in) {
    lrp_err err;
    lrp_graph_init(g, 1 << 16, &err);
    for (int k = 0; k < c->n_in; k++) {
        in[k] = lrp_act_new(g, c->rows[k], c->cols[k]);
        memcpy(in[k]->x, c->x[k], (size_t)c->rows[k] * c->cols[k] * sizeof(float));
    }
    return c->build(g, in, c->ctx);
}

static double weighted_sum(const lrp_act *y, const float *w) {
    double s = 0;
    for (size_t i = 0; i < (size_t)y->rows * y->cols; i++) s += (double)y->x[i] * w[i];
    return s;
}

// Backward of y·w with the given rules; returns the gradients of the inputs in grads[k] (malloc'ed).
static void backward_case(const op_case *c, const float *w, const lrp_rules *rules, float **grads) {
    lrp_graph g;
    lrp_act *in[MAX_IN];
    lrp_act *y = run_case(&g, c, in);
    float *gy = lrp_act_grad(&g, y);
    memcpy(gy, w, (size_t)y->rows * y->cols * sizeof(float));
    lrp_err err;
    lrp_graph_backward(&g, rules, &err);
    for (int k = 0; k < c->n_in; k++) {
        size_t n = (size_t)c->rows[k] * c->cols[k];
        grads[k] = calloc(n, sizeof(float));
        if (in[k]->g) memcpy(grads[k], in[k]->g, n * sizeof(float));
    }
    lrp_graph_free(&g);
}


// Exact backward vs central differences of y·w in double-checked float32.
static void check_gradient(const op_case *c, double tol) {
    lrp_graph g;
    lrp_act *in[MAX_IN];
    lrp_act *y = run_case(&g, c, in);
    size_t ny = (size_t)y->rows * y->cols;
    lrp_graph_free(&g);
    float *w = malloc(ny * sizeof(float));
    fill(w, ny, 1.0f);
    lrp_rules exact = lrp_rules_for(LRP_METHOD_GRADXINPUT);
    float *grads[MAX_IN];
    backward_case(c, w, &exact, grads);
    for (int k = 0; k < c->n_in; k++) {
        size_t n = (size_t)c->rows[k] * c->cols[k];
        double gmax = 0, worst = 0;
        for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(grads[k][i]));
        for (size_t i = 0; i < n; i++) {
            float saved = c->x[k][i], h = 1e-2f * fmaxf(1.0f, fabsf(saved));
            c->x[k][i] = saved + h;
            double yp = weighted_sum(run_case(&g, c, in), w);
            lrp_graph_free(&g);
            c->x[k][i] = saved - h;
            double ym = weighted_sum(run_case(&g, c, in), w);
            lrp_graph_free(&g);
            c->x[k][i] = saved;
            double fd = (yp - ym) / (2.0 * h);
            worst = fmax(worst, fabs(fd - grads[k][i]));
        }
        CHECK_NEAR(worst / fmax(gmax, 1e-3), 0.0, tol);
        free(grads[k]);
    }
    free(w);
}

// Causal attention spec with one scale and window (the tests' usual case).
static lrp_attn_spec causal_spec(int H, int KVH, int hd, float scale, int window) {
    lrp_attn_spec s = {.n_heads = H, .n_kv_heads = KVH, .head_dim = hd, .scale = scale, .window = window};
    return s;
}

// --- op builders ----------------------------------------------------------------------------------
typedef struct {
    lrp_tensor W, b;
    int has_bias;
} linear_ctx;
static lrp_act *build_linear(lrp_graph *g, lrp_act **in, const void *ctx) {
    const linear_ctx *c = ctx;
    lrp_weight W = lrp_weight_of(&c->W), b = lrp_weight_of(&c->b);
    return op_linear(g, in[0], &W, c->has_bias ? &b : NULL);
}

typedef struct {
    lrp_tensor w;
    int group;
} norm_ctx;
static lrp_act *build_rmsnorm(lrp_graph *g, lrp_act **in, const void *ctx) {
    const norm_ctx *c = ctx;
    lrp_weight w = lrp_weight_of(&c->w);
    return op_rmsnorm(g, in[0], &w, 1e-5f, c->group);
}

typedef struct {
    lrp_rope_params cfg;
    int heads, head_dim;
} rope_ctx;
static lrp_act *build_rope(lrp_graph *g, lrp_act **in, const void *ctx) {
    const rope_ctx *c = ctx;
    lrp_rope *r = lrp_rope_tables(g, &c->cfg, c->head_dim, 3, in[0]->rows);
    return op_rope(g, in[0], r, c->heads);
}

typedef struct {
    int H, KVH, hd, window;
} attn_ctx;
static lrp_act *build_attention(lrp_graph *g, lrp_act **in, const void *ctx) {
    const attn_ctx *c = ctx;
    lrp_attn_spec s = {.n_heads = c->H, .n_kv_heads = c->KVH, .head_dim = c->hd, .scale = 1.0f / sqrtf((float)c->hd),
                       .window = c->window};
    return op_attention(g, in[0], in[1], in[2], &s);
}

static lrp_act *build_activation(lrp_graph *g, lrp_act **in, const void *ctx) {
    return op_activation(g, in[0], *(const lrp_act_fn *)ctx);
}
static lrp_act *build_gated(lrp_graph *g, lrp_act **in, const void *ctx) {
    (void)ctx;
    return op_gated_product(g, in[0], in[1]);
}
static lrp_act *build_add(lrp_graph *g, lrp_act **in, const void *ctx) {
    (void)ctx;
    return op_add(g, in[0], in[1]);
}
static lrp_act *build_select(lrp_graph *g, lrp_act **in, const void *ctx) {
    (void)ctx;
    static const int rows[] = {2, 0, 2};
    return op_select_rows(g, in[0], rows, 3);
}
static lrp_act *build_intervene(lrp_graph *g, lrp_act **in, const void *ctx) {
    (void)ctx;
    static const lrp_intervention iv[] = {
        {1, 0, LRP_SET_VALUE, 2.0f}, {1, 2, LRP_SET_SCALE, -3.0f}, {1, 3, LRP_SET_ADD, 0.5f}, {0, 1, LRP_SET_VALUE, 0},
    };
    return op_intervene(g, in[0], iv, 4, 1);
}

static op_case one_input(int rows, int cols, lrp_act *(*build)(lrp_graph *, lrp_act **, const void *), const void *ctx) {
    op_case c = {.n_in = 1, .build = build, .ctx = ctx};
    c.rows[0] = rows;
    c.cols[0] = cols;
    c.x[0] = malloc((size_t)rows * cols * sizeof(float));
    fill(c.x[0], (size_t)rows * cols, 1.5f);
    return c;
}

static void free_case(op_case *c) {
    for (int k = 0; k < c->n_in; k++) free(c->x[k]);
}

TEST(linear_gradient_matches_finite_differences) {
    float W[5 * 4], b[5];
    fill(W, 20, 1.0f);
    fill(b, 5, 1.0f);
    linear_ctx ctx = {weight(W, 5, 4), weight(b, 5, 0), 1};
    op_case c = one_input(3, 4, build_linear, &ctx);
    check_gradient(&c, 2e-3);
    free_case(&c);
}

TEST(rmsnorm_gradient_matches_finite_differences) {
    float w[8];
    fill(w, 8, 1.0f);
    norm_ctx ctx = {weight(w, 8, 0), 8};
    op_case c = one_input(3, 8, build_rmsnorm, &ctx);
    check_gradient(&c, 2e-3);
    free_case(&c);
    // grouped (per-head) norm, as Qwen3's q/k norms
    norm_ctx ctx4 = {weight(w, 4, 0), 4};
    op_case c4 = one_input(2, 8, build_rmsnorm, &ctx4);
    check_gradient(&c4, 2e-3);
    free_case(&c4);
}

TEST(rope_gradient_matches_finite_differences_for_both_pairings) {
    for (int pairing = 0; pairing < 2; pairing++) {
        rope_ctx ctx = {.heads = 2, .head_dim = 6};
        ctx.cfg.theta = 100.0;
        ctx.cfg.pairing = (lrp_rope_pairing)pairing;
        op_case c = one_input(4, 12, build_rope, &ctx);
        check_gradient(&c, 2e-3);
        free_case(&c);
    }
}

TEST(rope_rotates_pairs_as_the_convention_says) {
    // Position p rotates pair i by p·theta^(-2i/d). HF pairs (j, j+d/2); GGUF/Meta pairs (2j, 2j+1).
    lrp_graph g;
    lrp_err err;
    lrp_graph_init(&g, 0, &err);
    lrp_rope_params cfg = {0};
    cfg.theta = 10000.0;
    for (int pairing = 0; pairing < 2; pairing++) {
        cfg.pairing = (lrp_rope_pairing)pairing;
        lrp_rope *r = lrp_rope_tables(&g, &cfg, 4, 0, 3);
        lrp_act *x = lrp_act_new(&g, 3, 4);
        for (int i = 0; i < 12; i++) x->x[i] = (float)(i % 4 + 1);
        lrp_act *y = op_rope(&g, x, r, 1);
        int a1 = pairing == 0 ? 1 : 2, b1 = pairing == 0 ? 3 : 3;  // second pair: (1,3) or (2,3)
        int a0 = 0, b0 = pairing == 0 ? 2 : 1;                     // first pair: (0,2) or (0,1)
        for (int p = 0; p < 3; p++) {
            const float *xi = x->x + p * 4, *yo = y->x + p * 4;
            double th0 = p * 1.0, th1 = p * pow(10000.0, -2.0 / 4);
            CHECK_NEAR(yo[a0], xi[a0] * cos(th0) - xi[b0] * sin(th0), 1e-5);
            CHECK_NEAR(yo[b0], xi[b0] * cos(th0) + xi[a0] * sin(th0), 1e-5);
            CHECK_NEAR(yo[a1], xi[a1] * cos(th1) - xi[b1] * sin(th1), 1e-5);
            CHECK_NEAR(yo[b1], xi[b1] * cos(th1) + xi[a1] * sin(th1), 1e-5);
        }
    }
    lrp_graph_free(&g);
}

TEST(rope_llama3_scaling_matches_the_hf_formula) {
    // factor 8, low 1, high 4, original 8192 (LLaMA 3.1): long wavelengths are divided by 8, short kept.
    lrp_rope_params cfg = {0};
    cfg.theta = 500000.0;
    cfg.scaling = LRP_ROPE_SCALING_LLAMA3;
    cfg.factor = 8;
    cfg.low_freq_factor = 1;
    cfg.high_freq_factor = 4;
    cfg.original_max_position = 8192;
    lrp_graph g;
    lrp_err err;
    lrp_graph_init(&g, 0, &err);
    int d = 128;
    lrp_rope *r = lrp_rope_tables(&g, &cfg, d, 1, 1);  // position 1: angle = inv_freq
    for (int i = 0; i < d / 2; i++) {
        double inv = pow(500000.0, -2.0 * i / d), wl = 2 * M_PI / inv, expect;
        if (wl < 8192 / 4.0) expect = inv;
        else if (wl > 8192 / 1.0) expect = inv / 8;
        else {
            double s = (8192 / wl - 1) / (4 - 1);
            expect = (1 - s) * inv / 8 + s * inv;
        }
        CHECK_NEAR(atan2(r->sin[i], r->cos[i]), expect, 1e-6);
    }
    lrp_graph_free(&g);
}

static op_case attention_case(attn_ctx *ctx, int Tq, int Tk) {
    op_case c = {.n_in = 3, .build = build_attention, .ctx = ctx};
    int cols[3] = {ctx->H * ctx->hd, ctx->KVH * ctx->hd, ctx->KVH * ctx->hd};
    int rows[3] = {Tq, Tk, Tk};
    for (int k = 0; k < 3; k++) {
        c.rows[k] = rows[k];
        c.cols[k] = cols[k];
        c.x[k] = malloc((size_t)rows[k] * cols[k] * sizeof(float));
        fill(c.x[k], (size_t)rows[k] * cols[k], 1.5f);
    }
    return c;
}

TEST(attention_gradient_matches_finite_differences_with_gqa_and_cache_offset) {
    attn_ctx ctx = {4, 2, 3, 0};
    op_case c = attention_case(&ctx, 5, 5);
    check_gradient(&c, 3e-3);
    free_case(&c);
    op_case c2 = attention_case(&ctx, 2, 4);  // queries at positions 2, 3
    check_gradient(&c2, 3e-3);
    free_case(&c2);
    attn_ctx big = {2, 1, 2, 0};  // 150 query rows: three row blocks of the blocked causal attention
    op_case c4 = attention_case(&big, 150, 150);
    check_gradient(&c4, 3e-3);
    free_case(&c4);
    op_case c5 = attention_case(&big, 70, 140);  // blocks with a cache offset
    check_gradient(&c5, 3e-3);
    free_case(&c5);
    attn_ctx win = {2, 1, 3, 2};  // sliding window of 2 keys
    op_case c3 = attention_case(&win, 5, 5);
    check_gradient(&c3, 3e-3);
    free_case(&c3);
}

TEST(activation_gradients_match_finite_differences) {
    static const lrp_act_fn fns[] = {LRP_ACT_SILU, LRP_ACT_GELU, LRP_ACT_GELU_TANH, LRP_ACT_TANH};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        op_case c = one_input(3, 5, build_activation, &fns[i]);
        check_gradient(&c, 2e-3);
        free_case(&c);
    }
}

TEST(elementwise_gradients_match_finite_differences) {
    op_case c = one_input(3, 4, build_gated, NULL);
    c.n_in = 2;
    c.rows[1] = 3;
    c.cols[1] = 4;
    c.x[1] = malloc(12 * sizeof(float));
    fill(c.x[1], 12, 1.0f);
    check_gradient(&c, 2e-3);
    c.build = build_add;
    check_gradient(&c, 2e-3);
    free_case(&c);
    op_case s = one_input(3, 4, build_select, NULL);
    check_gradient(&s, 2e-3);
    free_case(&s);
    op_case v = one_input(3, 5, build_intervene, NULL);
    check_gradient(&v, 2e-3);
    free_case(&v);
}

// R(x) = x ⊙ ĝ(x) of input k under the given method.
static float *relevance_of(const op_case *c, const float *w, lrp_method m, int k) {
    lrp_rules rules = lrp_rules_for(m);
    float *grads[MAX_IN];
    backward_case(c, w, &rules, grads);
    size_t n = (size_t)c->rows[k] * c->cols[k];
    for (size_t i = 0; i < n; i++) grads[k][i] *= c->x[k][i];
    for (int j = 0; j < c->n_in; j++)
        if (j != k) free(grads[j]);
    return grads[k];
}

TEST(identity_rule_passes_relevance_through_activations) {
    static const lrp_act_fn fns[] = {LRP_ACT_SILU, LRP_ACT_GELU, LRP_ACT_GELU_TANH, LRP_ACT_TANH, LRP_ACT_RELU};
    for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
        op_case c = one_input(3, 5, build_activation, &fns[f]);
        float w[15];
        fill(w, 15, 1.0f);
        for (int m = LRP_METHOD_ATTNLRP; m <= LRP_METHOD_CPLRP; m++) {
            float *R = relevance_of(&c, w, (lrp_method)m, 0);
            for (int i = 0; i < 15; i++) {
                double y = lrp_act_fn_eval(fns[f], c.x[0][i]);
                CHECK_NEAR(R[i], y * w[i], 1e-5 * (1 + fabs(y * w[i])));
            }
            free(R);
        }
        free_case(&c);
    }
}

TEST(rmsnorm_rule_conserves_relevance_elementwise) {
    float wn[8];
    fill(wn, 8, 1.0f);
    norm_ctx ctx = {weight(wn, 8, 0), 8};
    op_case c = one_input(3, 8, build_rmsnorm, &ctx);
    float w[24];
    fill(w, 24, 1.0f);
    lrp_graph g;
    lrp_act *in[1];
    lrp_act *y = run_case(&g, &c, in);
    for (int m = LRP_METHOD_ATTNLRP; m <= LRP_METHOD_CPLRP; m++) {
        float *R = relevance_of(&c, w, (lrp_method)m, 0);
        for (int i = 0; i < 24; i++) CHECK_NEAR(R[i], y->x[i] * w[i], 1e-5);
        free(R);
    }
    lrp_graph_free(&g);
    free_case(&c);
}

TEST(gated_product_uniform_rule_halves_and_cplrp_detaches_the_gate) {
    op_case c = one_input(2, 4, build_gated, NULL);
    c.n_in = 2;
    c.rows[1] = 2;
    c.cols[1] = 4;
    c.x[1] = malloc(8 * sizeof(float));
    fill(c.x[1], 8, 1.0f);
    float w[8];
    fill(w, 8, 1.0f);
    float *Rg = relevance_of(&c, w, LRP_METHOD_ATTNLRP, 0), *Ru = relevance_of(&c, w, LRP_METHOD_ATTNLRP, 1);
    float *Cg = relevance_of(&c, w, LRP_METHOD_CPLRP, 0), *Cu = relevance_of(&c, w, LRP_METHOD_CPLRP, 1);
    for (int i = 0; i < 8; i++) {
        double Rz = (double)c.x[0][i] * c.x[1][i] * w[i];  // R(z) = z·ĝ(z)
        CHECK_NEAR(Rg[i], Rz / 2, 1e-6);
        CHECK_NEAR(Ru[i], Rz / 2, 1e-6);
        CHECK_NEAR(Cg[i], 0.0, 0);
        CHECK_NEAR(Cu[i], Rz, 1e-6);
    }
    free(Rg), free(Ru), free(Cg), free(Cu);
    free_case(&c);
}

// The AttnLRP attention rules written out explicitly for one head (no mask within the visible part):
// ε-rule over the terms of O = A·V and S = scale·Q·Kᵀ with the uniform ½ on each bilinear product, and the
// softmax rule of Prop. 3.1, R(S_ij) = S_ij (R(A_ij) − A_ij Σ_j' R(A_ij')).
TEST(attention_rules_match_explicit_epsilon_rule_and_softmax_proposition) {
    attn_ctx ctx = {1, 1, 4, 0};
    int T = 5, d = 4;
    op_case c = attention_case(&ctx, T, T);
    float w[5 * 4];
    fill(w, 20, 1.0f);
    float *Rq = relevance_of(&c, w, LRP_METHOD_ATTNLRP, 0), *Rk = relevance_of(&c, w, LRP_METHOD_ATTNLRP, 1);
    float *Rv = relevance_of(&c, w, LRP_METHOD_ATTNLRP, 2);
    const float *Q = c.x[0], *K = c.x[1], *V = c.x[2];
    double scale = 1.0 / sqrt(d), S[5][5], A[5][5], O[5][4], RO[5][4], RA[5][5], RS[5][5];
    for (int i = 0; i < T; i++) {
        double m = -1e300, z = 0;
        for (int j = 0; j <= i; j++) {
            S[i][j] = 0;
            for (int e = 0; e < d; e++) S[i][j] += scale * Q[i * d + e] * K[j * d + e];
            m = fmax(m, S[i][j]);
        }
        for (int j = 0; j <= i; j++) z += exp(S[i][j] - m);
        for (int j = 0; j < T; j++) A[i][j] = j <= i ? exp(S[i][j] - m) / z : 0;
        for (int e = 0; e < d; e++) {
            O[i][e] = 0;
            for (int j = 0; j <= i; j++) O[i][e] += A[i][j] * V[j * d + e];
            RO[i][e] = O[i][e] * w[i * d + e];
        }
    }
    double RV[5][4] = {{0}}, RQ[5][4] = {{0}}, RK[5][4] = {{0}};
    for (int i = 0; i < T; i++) {
        double sum = 0;
        for (int j = 0; j <= i; j++) {
            RA[i][j] = 0;
            for (int e = 0; e < d; e++) {
                double share = A[i][j] * V[j * d + e] / O[i][e] * RO[i][e];
                RA[i][j] += 0.5 * share;
                RV[j][e] += 0.5 * share;
            }
            sum += RA[i][j];
        }
        for (int j = 0; j <= i; j++) {
            RS[i][j] = S[i][j] * (RA[i][j] - A[i][j] * sum);  // Prop. 3.1
            for (int e = 0; e < d; e++) {
                double qk = scale * Q[i * d + e] * K[j * d + e];
                RQ[i][e] += 0.5 * qk / S[i][j] * RS[i][j];
                RK[j][e] += 0.5 * qk / S[i][j] * RS[i][j];
            }
        }
    }
    double mx = 0;
    for (int i = 0; i < T * d; i++) mx = fmax(mx, fabs(Rq[i]) + fabs(Rk[i]) + fabs(Rv[i]));
    for (int i = 0; i < T; i++)
        for (int e = 0; e < d; e++) {
            CHECK_NEAR(Rv[i * d + e], RV[i][e], 1e-4 * mx);
            CHECK_NEAR(Rq[i * d + e], RQ[i][e], 1e-4 * mx);
            CHECK_NEAR(Rk[i * d + e], RK[i][e], 1e-4 * mx);
        }
    // CP-LRP: attention weights constant, V takes all of R(O), Q and K nothing.
    float *Cq = relevance_of(&c, w, LRP_METHOD_CPLRP, 0), *Cv = relevance_of(&c, w, LRP_METHOD_CPLRP, 2);
    for (int j = 0; j < T; j++)
        for (int e = 0; e < d; e++) {
            double rv = 0;
            for (int i = j; i < T; i++) rv += A[i][j] * V[j * d + e] / O[i][e] * RO[i][e];
            CHECK_NEAR(Cv[j * d + e], rv, 1e-4 * mx);
            CHECK_NEAR(Cq[j * d + e], 0.0, 0);
        }
    free(Rq), free(Rk), free(Rv), free(Cq), free(Cv);
    free_case(&c);
}

TEST(masked_attention_entries_are_exactly_zero) {
    lrp_graph g;
    lrp_err err;
    lrp_graph_init(&g, 0, &err);
    lrp_act *q = lrp_act_new(&g, 4, 2), *k = lrp_act_new(&g, 4, 2), *v = lrp_act_new(&g, 4, 2);
    fill(q->x, 8, 3.0f);
    fill(k->x, 8, 3.0f);
    fill(v->x, 8, 3.0f);
    lrp_attn_spec spec1 = causal_spec(1, 1, 2, 1.0f, 0), spec2 = causal_spec(1, 1, 2, 1.0f, 2);
    lrp_act *o = op_attention(&g, q, k, v, &spec1);
    const float *P = g.nodes[g.n_nodes - 1].saved;
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++) CHECK(P[i * 4 + j] == 0.0f);
    // with a window of 2, query i sees keys i-1 and i only
    op_attention(&g, q, k, v, &spec2);
    P = g.nodes[g.n_nodes - 1].saved;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) CHECK((P[i * 4 + j] == 0.0f) == (j > i || j < i - 1));
    // the first query sees only the first key: its output is V[0]
    CHECK_NEAR(o->x[0], v->x[0], 1e-6);
    CHECK_NEAR(o->x[1], v->x[1], 1e-6);
    lrp_graph_free(&g);
}

// The blocked causal attention against a direct double-precision evaluation, over several row blocks
// and with a cache offset (queries at positions Tk - Tq ...).
TEST(blocked_attention_matches_direct_evaluation) {
    int H = 2, KVH = 1, hd = 3;
    int shapes[2][2] = {{150, 150}, {70, 140}};
    for (int c = 0; c < 2; c++) {
        int Tq = shapes[c][0], Tk = shapes[c][1], off = Tk - Tq;
        lrp_graph g;
        lrp_err err;
        lrp_graph_init(&g, 0, &err);
        lrp_act *q = lrp_act_new(&g, Tq, H * hd), *k = lrp_act_new(&g, Tk, KVH * hd), *v = lrp_act_new(&g, Tk, KVH * hd);
        fill(q->x, (size_t)Tq * H * hd, 2.0f);
        fill(k->x, (size_t)Tk * KVH * hd, 2.0f);
        fill(v->x, (size_t)Tk * KVH * hd, 2.0f);
        lrp_attn_spec spec = causal_spec(H, KVH, hd, 0.5f, 0);
        lrp_act *o = op_attention(&g, q, k, v, &spec);
        double worst = 0;
        for (int h = 0; h < H; h++)
            for (int i = 0; i < Tq; i++) {
                double m = -1e300, z = 0, acc[3] = {0};
                double sc[200];
                for (int j = 0; j <= off + i; j++) {
                    sc[j] = 0;
                    for (int e = 0; e < hd; e++) sc[j] += 0.5 * q->x[i * H * hd + h * hd + e] * k->x[j * hd + e];
                    m = fmax(m, sc[j]);
                }
                for (int j = 0; j <= off + i; j++) {
                    double w = exp(sc[j] - m);
                    z += w;
                    for (int e = 0; e < hd; e++) acc[e] += w * v->x[j * hd + e];
                }
                for (int e = 0; e < hd; e++) worst = fmax(worst, fabs(acc[e] / z - o->x[i * H * hd + h * hd + e]));
            }
        CHECK_NEAR(worst, 0.0, 1e-5);
        lrp_graph_free(&g);
    }
}

TEST_MAIN(T(blocked_attention_matches_direct_evaluation), T(linear_gradient_matches_finite_differences), T(rmsnorm_gradient_matches_finite_differences),
          T(rope_gradient_matches_finite_differences_for_both_pairings), T(rope_rotates_pairs_as_the_convention_says),
          T(rope_llama3_scaling_matches_the_hf_formula),
          T(attention_gradient_matches_finite_differences_with_gqa_and_cache_offset),
          T(activation_gradients_match_finite_differences), T(elementwise_gradients_match_finite_differences),
          T(identity_rule_passes_relevance_through_activations), T(rmsnorm_rule_conserves_relevance_elementwise),
          T(gated_product_uniform_rule_halves_and_cplrp_detaches_the_gate),
          T(attention_rules_match_explicit_epsilon_rule_and_softmax_proposition),
          T(masked_attention_entries_are_exactly_zero))
