// The pieces the Phi families added: op_reshape (exact, an identity Jacobian), the LayerNorm per head it
// makes possible (Phi's qk_layernorm) under the LayerNorm rule, and the rope tables' per-frequency
// factors (Llama 3.1 GGUF rope_freqs, LongRoPE short/long factors and attention factor).
#include <math.h>
#include <string.h>

#include "harness.h"
#include "ops/ops.h"

static unsigned long long rng_state = 0x51ed270b2f4a7c15ull;
static float nrand(void) {  // splitmix64 -> [-1, 1)
    unsigned long long z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (float)(2.0 * ((double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0) - 1.0);
}

static lrp_tensor vec_tensor(float *data, int n) {
    lrp_tensor t = {.name = "w", .dtype = LRP_F32, .ndim = 1, .data = data};
    t.shape[0] = n;
    t.nbytes = (size_t)n * sizeof(float);
    return t;
}

TEST(reshape_keeps_values_and_passes_the_gradient_through) {
    lrp_graph g;
    lrp_err err;
    CHECK(lrp_graph_init(&g, 0, &err) == 0);
    lrp_act *x = lrp_act_new(&g, 3, 8);
    for (int i = 0; i < 24; i++) x->x[i] = nrand();
    lrp_act *y = op_reshape(&g, x, 12, 2);
    CHECK(y && y->rows == 12 && y->cols == 2 && memcmp(y->x, x->x, 24 * sizeof(float)) == 0);
    float *gy = lrp_act_grad(&g, y);
    for (int i = 0; i < 24; i++) gy[i] = (float)i;
    lrp_rules rules = lrp_rules_for(LRP_METHOD_ATTNLRP);
    CHECK(lrp_graph_backward(&g, &rules, &err) == 0);
    for (int i = 0; i < 24; i++) CHECK(x->g[i] == (float)i);
    CHECK(op_reshape(&g, x, 5, 5) == NULL && !lrp_graph_ok(&g));  // 25 != 24 elements
    lrp_graph_free(&g);
}

// A LayerNorm per head (reshape, LayerNorm over head_dim, reshape back) under the LayerNorm rule: σ per head
// constant, μ per head kept, so each head's Σ x·ĝ(x) equals Σ (y − b)·ĝ(y) of that head.
TEST(layernorm_per_head_rule_conserves_per_head) {
    enum { T = 3, H = 2, D = 4 };
    float wv[D], bv[D];
    for (int i = 0; i < D; i++) wv[i] = 1 + 0.3f * nrand(), bv[i] = 0.5f * nrand();
    lrp_tensor wt = vec_tensor(wv, D), bt = vec_tensor(bv, D);
    lrp_weight w = lrp_weight_of(&wt), b = lrp_weight_of(&bt);
    lrp_graph g;
    lrp_err err;
    CHECK(lrp_graph_init(&g, 0, &err) == 0);
    lrp_act *x = lrp_act_new(&g, T, H * D);
    for (int i = 0; i < T * H * D; i++) x->x[i] = 2 * nrand();
    lrp_act *y = op_reshape(&g, op_layernorm(&g, op_reshape(&g, x, T * H, D), &w, &b, 1e-5f), T, H * D);
    CHECK(y != NULL);
    float *gy = lrp_act_grad(&g, y), gcopy[T * H * D];  // the backward may recycle y's gradient buffer
    for (int i = 0; i < T * H * D; i++) gcopy[i] = gy[i] = nrand();
    lrp_rules rules = lrp_rules_for(LRP_METHOD_ATTNLRP);
    CHECK(lrp_graph_backward(&g, &rules, &err) == 0);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++) {
            const float *xs = x->x + t * H * D + h * D;
            double mu = 0, var = 0, rx = 0, ry = 0;
            for (int i = 0; i < D; i++) mu += xs[i] / D;
            for (int i = 0; i < D; i++) var += (xs[i] - mu) * (xs[i] - mu) / D;
            for (int i = 0; i < D; i++) {
                int k = t * H * D + h * D + i;
                CHECK_NEAR(y->x[k], wv[i] * (xs[i] - mu) / sqrt(var + 1e-5) + bv[i], 1e-5);
                rx += (double)xs[i] * x->g[k];
                ry += (double)(y->x[k] - bv[i]) * gcopy[k];
            }
            CHECK_NEAR(rx, ry, 1e-5 * (1 + fabs(ry)));
        }
    lrp_graph_free(&g);
}

// Position 1: the angle of pair i is its inverse frequency; the table's magnitude is the attention factor.
static void angles(const lrp_rope_params *p, int hd, int pos0, int n_pos, double *ang, double *mag) {
    lrp_graph g;
    lrp_err err;
    lrp_graph_init(&g, 0, &err);
    lrp_rope *r = lrp_rope_tables(&g, p, hd, pos0, n_pos);
    int half = (p->rot_dim ? p->rot_dim : hd) / 2, row = 1 - pos0;  // the row of position 1
    CHECK(r != NULL);
    for (int i = 0; r && i < half; i++) {
        float c = r->cos[row * half + i], s = r->sin[row * half + i];
        ang[i] = atan2(s, c);
        mag[i] = sqrt((double)c * c + (double)s * s);
    }
    lrp_graph_free(&g);
}

TEST(rope_frequency_factors_divide_the_inverse_frequencies) {
    lrp_rope_params p = {0};
    p.theta = 10000;
    p.n_freq_factors = 4;
    double f[4] = {1, 2.5, 8, 1.3}, ang[4], mag[4];
    memcpy(p.freq_factors, f, sizeof f);
    angles(&p, 8, 0, 4, ang, mag);
    for (int i = 0; i < 4; i++) {
        CHECK_NEAR(ang[i], pow(10000, -2.0 * i / 8) / f[i], 1e-6);
        CHECK_NEAR(mag[i], 1, 1e-6);
    }
}

// transformers' longrope: short factors while the sequence (last position + 1) fits the pretraining
// length, long ones past it; cos and sin times the attention factor. Partial rotary: 6 of 8 dimensions.
TEST(longrope_picks_factors_by_sequence_length_and_scales_cos_sin) {
    lrp_rope_params p = {0};
    p.theta = 10000;
    p.rot_dim = 6;
    p.scaling = LRP_ROPE_SCALING_LONGROPE;
    p.original_max_position = 16;
    p.attention_factor = 1.2;
    p.n_freq_factors = 3;
    double sf[3] = {1, 1.5, 2}, lf[3] = {1, 4, 9}, ang[3], mag[3];
    memcpy(p.freq_factors, sf, sizeof sf);
    memcpy(p.long_factors, lf, sizeof lf);
    angles(&p, 8, 0, 16, ang, mag);  // positions 0..15: 16 tokens, short
    for (int i = 0; i < 3; i++) {
        CHECK_NEAR(ang[i], pow(10000, -2.0 * i / 6) / sf[i], 1e-6);
        CHECK_NEAR(mag[i], 1.2, 1e-6);
    }
    angles(&p, 8, 0, 17, ang, mag);  // 17 tokens: long
    for (int i = 0; i < 3; i++) CHECK_NEAR(ang[i], pow(10000, -2.0 * i / 6) / lf[i], 1e-6);
    angles(&p, 8, 1, 16, ang, mag);  // a cache step: positions 1..16, still 17 tokens in all
    for (int i = 0; i < 3; i++) CHECK_NEAR(ang[i], pow(10000, -2.0 * i / 6) / lf[i], 1e-6);
}

TEST_MAIN(T(reshape_keeps_values_and_passes_the_gradient_through), T(layernorm_per_head_rule_conserves_per_head),
          T(rope_frequency_factors_divide_the_inverse_frequencies),
          T(longrope_picks_factors_by_sequence_length_and_scales_cos_sin))
