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
    static const lrp_act_fn fns[] = {LRP_ACT_SILU, LRP_ACT_GELU, LRP_ACT_GELU_TANH, LRP_ACT_TANH, LRP_ACT_SIGMOID};
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
    static const lrp_act_fn fns[] = {LRP_ACT_SILU, LRP_ACT_GELU, LRP_ACT_GELU_TANH, LRP_ACT_TANH, LRP_ACT_RELU,
                                     LRP_ACT_SIGMOID};
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
    lrp_act *tap1 = NULL, *tap2 = NULL;  // the probability tap (whatever ATTNLRP_ATTN says: it is stored)
    spec1.probs = &tap1;
    spec2.probs = &tap2;
    lrp_act *o = op_attention(&g, q, k, v, &spec1);
    const float *P = tap1->x;
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++) CHECK(P[i * 4 + j] == 0.0f);
    // with a window of 2, query i sees keys i-1 and i only
    op_attention(&g, q, k, v, &spec2);
    P = tap2->x;
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


// --- LayerNorm ------------------------------------------------------------------------------------------
typedef struct {
    lrp_tensor w, b;
} layernorm_ctx;
static lrp_act *build_layernorm(lrp_graph *g, lrp_act **in, const void *ctx) {
    const layernorm_ctx *c = ctx;
    lrp_weight w = lrp_weight_of(&c->w), b = lrp_weight_of(&c->b);
    return op_layernorm(g, in[0], &w, &b, 1e-5f);
}

TEST(layernorm_gradient_matches_finite_differences) {
    float wn[6], bn[6];
    fill(wn, 6, 1.0f);
    fill(bn, 6, 1.0f);
    layernorm_ctx ctx = {weight(wn, 6, 0), weight(bn, 6, 0)};
    op_case c = one_input(4, 6, build_layernorm, &ctx);
    check_gradient(&c, 3e-3);
    free_case(&c);
}

// SPEC §2: σ constant, μ kept: ĝ(x) = (w⊙ĝ(y) − mean(w⊙ĝ(y)))/σ, so Σ R(x) = Σ (y − b)⊙ĝ(y) per row
// (the bias absorbs its share).
TEST(layernorm_rule_detaches_sigma_and_keeps_the_mean) {
    enum { R = 3, C = 7 };
    float wn[C], bn[C], w[R * C];
    fill(wn, C, 1.0f);
    fill(bn, C, 1.0f);
    fill(w, R * C, 1.0f);
    layernorm_ctx ctx = {weight(wn, C, 0), weight(bn, C, 0)};
    op_case c = one_input(R, C, build_layernorm, &ctx);
    for (int m = LRP_METHOD_ATTNLRP; m <= LRP_METHOD_CPLRP; m++) {
        lrp_rules rules = lrp_rules_for((lrp_method)m);
        float *grads[MAX_IN];
        backward_case(&c, w, &rules, grads);
        for (int t = 0; t < R; t++) {
            const float *x = c.x[0] + t * C;
            double mu = 0, var = 0, mwg = 0, sum_rx = 0, sum_ry = 0;
            for (int i = 0; i < C; i++) mu += x[i] / C;
            for (int i = 0; i < C; i++) var += (x[i] - mu) * (x[i] - mu) / C;
            double sigma = sqrt(var + 1e-5);
            for (int i = 0; i < C; i++) mwg += (double)wn[i] * w[t * C + i] / C;
            for (int i = 0; i < C; i++) {
                double expect = ((double)wn[i] * w[t * C + i] - mwg) / sigma;
                CHECK_NEAR(grads[0][t * C + i], expect, 1e-5 * (1 + fabs(expect)));
                sum_rx += x[i] * grads[0][t * C + i];
                sum_ry += wn[i] * (x[i] - mu) / sigma * w[t * C + i];
            }
            CHECK_NEAR(sum_rx, sum_ry, 1e-5 * (1 + fabs(sum_ry)));
        }
        free(grads[0]);
    }
    free_case(&c);
}

// --- general attention: bidirectional, padding, score bias, cross-attention, probability taps -------------
typedef struct {
    lrp_attn_spec s;
    lrp_act *probs;
} gattn_ctx;
static lrp_act *build_gattn(lrp_graph *g, lrp_act **in, const void *ctx) {
    gattn_ctx *c = (gattn_ctx *)ctx;
    lrp_attn_spec s = c->s;
    s.probs = &c->probs;
    return op_attention(g, in[0], in[1], in[2], &s);
}

static op_case gattn_case(gattn_ctx *ctx, int Tq, int Tk) {
    attn_ctx shape = {ctx->s.n_heads, ctx->s.n_kv_heads, ctx->s.head_dim, 0};
    op_case c = attention_case(&shape, Tq, Tk);
    c.build = build_gattn;
    c.ctx = ctx;
    return c;
}

TEST(bidirectional_padded_biased_and_cross_attention_gradients_match_finite_differences) {
    static const unsigned char key_mask[6] = {1, 1, 0, 1, 1, 0};
    float bias[2 * 4 * 6];
    fill(bias, sizeof bias / sizeof bias[0], 2.0f);
    lrp_attn_spec base = {.n_heads = 2, .n_kv_heads = 1, .head_dim = 3, .scale = 0.6f, .mask = LRP_ATTN_BIDIRECTIONAL};
    gattn_ctx plain = {base, NULL}, padded = {base, NULL}, biased = {base, NULL}, shared = {base, NULL},
              cross = {base, NULL};
    padded.s.key_mask = key_mask;
    biased.s.bias = bias, biased.s.bias_heads = 2;
    shared.s.bias = bias, shared.s.bias_heads = 1, shared.s.key_mask = key_mask;
    cross.s.key_mask = key_mask;
    struct {
        gattn_ctx *ctx;
        int Tq, Tk;
    } cases[] = {{&plain, 5, 5}, {&padded, 6, 6}, {&biased, 4, 6}, {&shared, 4, 6}, {&cross, 3, 6}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        op_case c = gattn_case(cases[i].ctx, cases[i].Tq, cases[i].Tk);
        check_gradient(&c, 3e-3);
        free_case(&c);
    }
}

TEST(padding_keys_get_zero_probability_and_no_gradient) {
    static const unsigned char key_mask[5] = {1, 0, 1, 1, 0};
    gattn_ctx ctx = {{.n_heads = 2, .n_kv_heads = 2, .head_dim = 2, .scale = 1.0f, .mask = LRP_ATTN_BIDIRECTIONAL,
                      .key_mask = key_mask}, NULL};
    op_case c = gattn_case(&ctx, 5, 5);
    float w[5 * 4];
    fill(w, 20, 1.0f);
    for (int m = 0; m < LRP_METHOD_COUNT; m++) {
        lrp_rules rules = lrp_rules_for((lrp_method)m);
        lrp_graph g;
        lrp_act *in[3];
        lrp_act *y = run_case(&g, &c, in);
        memcpy(lrp_act_grad(&g, y), w, sizeof w);
        lrp_err err;
        CHECK(lrp_graph_backward(&g, &rules, &err) == 0);
        for (int r = 0; r < 2 * 5; r++)
            for (int j = 0; j < 5; j++)
                if (!key_mask[j]) CHECK(ctx.probs->x[r * 5 + j] == 0.0f);
        for (int j = 0; j < 5; j++)
            for (int e = 0; e < 4; e++) {
                if (key_mask[j]) continue;
                CHECK(!in[1]->g || in[1]->g[j * 4 + e] == 0.0f);
                CHECK(in[2]->g[j * 4 + e] == 0.0f);
            }
        lrp_graph_free(&g);
    }
    free_case(&c);
}

// The probability tap's gradient is what reaches A from O = A·V under the method: gO·Vᵀ, times ½ (attnlrp),
// 1 (exact) or 0 (cplrp, the weights are constants).
TEST(attention_probability_tap_receives_the_rule_share_of_the_gradient) {
    enum { H = 2, hd = 3, T = 4 };
    gattn_ctx ctx = {{.n_heads = H, .n_kv_heads = H, .head_dim = hd, .scale = 0.5f, .mask = LRP_ATTN_CAUSAL}, NULL};
    op_case c = gattn_case(&ctx, T, T);
    float w[T * H * hd];
    fill(w, T * H * hd, 1.0f);
    static const double share[LRP_METHOD_COUNT] = {[LRP_METHOD_ATTNLRP] = 0.5, [LRP_METHOD_CPLRP] = 0.0,
                                                   [LRP_METHOD_GRADXINPUT] = 1.0, [LRP_METHOD_GRADIENT] = 1.0};
    for (int m = 0; m < LRP_METHOD_COUNT; m++) {
        lrp_rules rules = lrp_rules_for((lrp_method)m);
        lrp_graph g;
        lrp_act *in[3];
        lrp_act *y = run_case(&g, &c, in);
        memcpy(lrp_act_grad(&g, y), w, sizeof w);
        ctx.probs->keep_grad = 1;
        lrp_err err;
        CHECK(lrp_graph_backward(&g, &rules, &err) == 0);
        CHECK(ctx.probs->rows == H * T && ctx.probs->cols == T);
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++)
                for (int j = 0; j < T; j++) {
                    double gp = 0;
                    for (int e = 0; e < hd; e++) gp += (double)w[i * H * hd + h * hd + e] * c.x[2][j * H * hd + h * hd + e];
                    double got = ctx.probs->g ? ctx.probs->g[(h * T + i) * T + j] : 0.0;
                    double expect = j <= i ? share[m] * gp : 0.0;  // masked entries get nothing either way
                    if (j > i) expect = got;                       // (their gP is not defined; skip)
                    CHECK_NEAR(got, expect, 1e-5 * (1 + fabs(gp)));
                }
        lrp_graph_free(&g);
    }
    free_case(&c);
}

// --- partial rotary ------------------------------------------------------------------------------------
TEST(partial_rope_rotates_only_the_first_dimensions) {
    for (int pairing = 0; pairing < 2; pairing++) {
        rope_ctx ctx = {.heads = 2, .head_dim = 6};
        ctx.cfg.theta = 100.0;
        ctx.cfg.rot_dim = 4;
        ctx.cfg.pairing = (lrp_rope_pairing)pairing;
        op_case c = one_input(4, 12, build_rope, &ctx);
        check_gradient(&c, 2e-3);
        lrp_graph g;
        lrp_act *in[1];
        lrp_act *y = run_case(&g, &c, in);
        for (int t = 0; t < 4; t++)
            for (int h = 0; h < 2; h++)
                for (int i = 4; i < 6; i++) CHECK(y->x[t * 12 + h * 6 + i] == c.x[0][t * 12 + h * 6 + i]);
        // pair 0 is rotated by the position (3 + t) times theta^0 = 1 radian per position
        int b0 = pairing == 0 ? 2 : 1;
        for (int t = 0; t < 4; t++) {
            const float *x = c.x[0] + t * 12, *yo = y->x + t * 12;
            CHECK_NEAR(yo[0], x[0] * cos(3.0 + t) - x[b0] * sin(3.0 + t), 1e-5);
        }
        lrp_graph_free(&g);
        free_case(&c);
    }
}

// --- weight views: Conv1D (transposed) and fused q/k/v (row slices) -------------------------------------
typedef struct {
    lrp_weight W, b;
} view_ctx;
static lrp_act *build_view_linear(lrp_graph *g, lrp_act **in, const void *ctx) {
    const view_ctx *c = ctx;
    return op_linear(g, in[0], &c->W, &c->b);
}

TEST(transposed_and_row_sliced_weight_views_equal_the_plain_weight) {
    enum { IN = 5, OUT = 3, N = 3 * OUT };
    float fused[N * IN], conv[IN * N], fused_b[N], plain[OUT * IN], plain_b[OUT];
    fill(fused, N * IN, 1.0f);
    fill(fused_b, N, 1.0f);
    for (int r = 0; r < N; r++)
        for (int i = 0; i < IN; i++) conv[i * N + r] = fused[r * IN + i];  // Conv1D stores [in, out]
    lrp_tensor tf = weight(fused, N, IN), tc = weight(conv, IN, N), tb = weight(fused_b, N, 0);
    for (int part = 0; part < 3; part++) {
        memcpy(plain, fused + part * OUT * IN, sizeof plain);
        memcpy(plain_b, fused_b + part * OUT, sizeof plain_b);
        lrp_tensor tp = weight(plain, OUT, IN), tpb = weight(plain_b, OUT, 0);
        lrp_weight whole_b = lrp_weight_of(&tb);
        view_ctx ref = {lrp_weight_of(&tp), lrp_weight_of(&tpb)};
        view_ctx rows = {lrp_weight_of(&tf), whole_b};
        rows.W.offset = part * OUT, rows.W.out = OUT;
        rows.b.offset = part * OUT, rows.b.out = OUT;
        view_ctx cols = {lrp_weight_of(&tc), rows.b};
        cols.W.transposed = 1, cols.W.in = IN, cols.W.out = OUT, cols.W.offset = part * OUT;
        op_case c = one_input(4, IN, build_view_linear, &ref);
        float w[4 * OUT];
        fill(w, 4 * OUT, 1.0f);
        lrp_rules exact = lrp_rules_for(LRP_METHOD_GRADXINPUT);
        float *g_ref[MAX_IN], *g_view[MAX_IN];
        lrp_graph g;
        lrp_act *in[1];
        float y_ref[4 * OUT];
        memcpy(y_ref, run_case(&g, &c, in)->x, sizeof y_ref);
        lrp_graph_free(&g);
        backward_case(&c, w, &exact, g_ref);
        const view_ctx *views[2] = {&rows, &cols};
        for (int v = 0; v < 2; v++) {
            c.ctx = views[v];
            lrp_act *y = run_case(&g, &c, in);
            for (int i = 0; i < 4 * OUT; i++) CHECK_NEAR(y->x[i], y_ref[i], 1e-5);
            lrp_graph_free(&g);
            backward_case(&c, w, &exact, g_view);
            for (int i = 0; i < 4 * IN; i++) CHECK_NEAR(g_view[0][i], g_ref[0][i], 1e-5);
            free(g_view[0]);
            check_gradient(&c, 2e-3);
        }
        free(g_ref[0]);
        free_case(&c);
    }
}

// --- rule tags --------------------------------------------------------------------------------------------
TEST(nodes_keep_the_tag_that_was_current_when_recorded) {
    lrp_graph g;
    lrp_err err;
    lrp_graph_init(&g, 1 << 12, &err);
    lrp_act *x = lrp_act_new(&g, 2, 3);
    fill(x->x, 6, 1.0f);
    lrp_act *a = op_activation(&g, x, LRP_ACT_GELU);
    g.tag = LRP_TAG_MLP_LINEAR;
    lrp_act *b = op_add(&g, a, x);
    g.tag = LRP_TAG_CLASSIFIER;
    op_activation(&g, b, LRP_ACT_TANH);
    g.tag = LRP_TAG_NONE;
    CHECK(g.n_nodes == 3);
    CHECK(g.nodes[0].tag == LRP_TAG_NONE && g.nodes[1].tag == LRP_TAG_MLP_LINEAR && g.nodes[2].tag == LRP_TAG_CLASSIFIER);
    CHECK_STR(lrp_tag_name(LRP_TAG_MLP_LINEAR), "mlp_linear");
    lrp_graph_reset(&g);
    CHECK(g.tag == LRP_TAG_NONE);
    lrp_graph_free(&g);
}

TEST_MAIN(T(blocked_attention_matches_direct_evaluation), T(linear_gradient_matches_finite_differences), T(rmsnorm_gradient_matches_finite_differences),
          T(rope_gradient_matches_finite_differences_for_both_pairings), T(rope_rotates_pairs_as_the_convention_says),
          T(rope_llama3_scaling_matches_the_hf_formula),
          T(attention_gradient_matches_finite_differences_with_gqa_and_cache_offset),
          T(activation_gradients_match_finite_differences), T(elementwise_gradients_match_finite_differences),
          T(identity_rule_passes_relevance_through_activations), T(rmsnorm_rule_conserves_relevance_elementwise),
          T(gated_product_uniform_rule_halves_and_cplrp_detaches_the_gate),
          T(attention_rules_match_explicit_epsilon_rule_and_softmax_proposition),
          T(masked_attention_entries_are_exactly_zero), T(layernorm_gradient_matches_finite_differences),
          T(layernorm_rule_detaches_sigma_and_keeps_the_mean),
          T(bidirectional_padded_biased_and_cross_attention_gradients_match_finite_differences),
          T(padding_keys_get_zero_probability_and_no_gradient),
          T(attention_probability_tap_receives_the_rule_share_of_the_gradient),
          T(partial_rope_rotates_only_the_first_dimensions),
          T(transposed_and_row_sliced_weight_views_equal_the_plain_weight),
          T(nodes_keep_the_tag_that_was_current_when_recorded))
