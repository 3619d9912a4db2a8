// T5's relative position buckets against a table worked out by hand from the definition (models/t5.h:
// half the buckets of a direction are exact distances, the rest logarithmic up to max_distance, clamped
// at the last bucket), bidirectional (encoder) and causal (decoder); and op_scale's exact backward.
// Each hand value: n buckets per direction (num_buckets/2 bidirectional), e = n/2 exact ones,
// bucket = e + ⌊ln(d/e) / ln(max_distance/e) · (n − e)⌋ for d ≥ e; distances sit away from integer
// boundaries of that expression so that float rounding cannot move them.
#include <string.h>

#include "harness.h"
#include "models/t5.h"
#include "ops/ops.h"

typedef struct {
    int rel, bucket;
} bucket_case;

static void check_table(const bucket_case *tab, int n, int bidirectional, int num_buckets, int max_distance) {
    for (int i = 0; i < n; i++) {
        int got = lrp_t5_relative_bucket(tab[i].rel, bidirectional, num_buckets, max_distance);
        if (got != tab[i].bucket)
            fprintf(stderr, "  relative position %d (%s, %d buckets, max %d): bucket %d, expected %d\n", tab[i].rel,
                    bidirectional ? "bidirectional" : "causal", num_buckets, max_distance, got, tab[i].bucket);
        CHECK(got == tab[i].bucket);
    }
}

#define N_OF(a) ((int)(sizeof a / sizeof a[0]))

// 32 buckets, 128: n = 16, e = 8, ln(128/8) = ln 16. Keys after the query (rel > 0) use buckets 16..31.
static void test_bidirectional_default_buckets(void) {
    static const bucket_case tab[] = {
        {0, 0},    {-1, 1},   {1, 17},   {-7, 7},   {7, 23},
        {-8, 8},                         // ln 1 = 0
        {-12, 9},                        // 8 + ⌊ln 1.5 / ln 16 · 8⌋ = 8 + ⌊1.170⌋
        {-20, 10}, {20, 26},             // ⌊ln 2.5 / ln 16 · 8⌋ = ⌊2.644⌋
        {-100, 15}, {100, 31},           // ⌊ln 12.5 / ln 16 · 8⌋ = ⌊7.288⌋
        {-127, 15},                      // ⌊7.977⌋
        {-500, 15}, {500, 31},           // beyond max_distance: ⌊11.93⌋ clamped to n − 1
    };
    check_table(tab, N_OF(tab), 1, 32, 128);
}

// Causal, 32 buckets, 128: n = 32, e = 16, ln(128/16) = ln 8; keys after the query fold to 0.
static void test_causal_default_buckets(void) {
    static const bucket_case tab[] = {
        {5, 0},    {1, 0},    {0, 0},    {-3, 3},   {-15, 15},
        {-16, 16},                       // ln 1 = 0
        {-20, 17},                       // 16 + ⌊ln 1.25 / ln 8 · 16⌋ = 16 + ⌊1.717⌋
        {-50, 24},                       // ⌊ln 3.125 / ln 8 · 16⌋ = ⌊8.767⌋
        {-100, 30},                      // ⌊ln 6.25 / ln 8 · 16⌋ = ⌊14.10⌋
        {-127, 31},                      // ⌊15.94⌋
        {-300, 31},                      // beyond max_distance: ⌊22.5⌋ clamped to 31
    };
    check_table(tab, N_OF(tab), 0, 32, 128);
}

// The small configuration of the reference tests: 8 buckets, 20.
static void test_small_buckets(void) {
    static const bucket_case bi[] = {    // n = 4, e = 2, ln 10
        {-1, 1}, {1, 5}, {-2, 2},
        {-5, 2},                         // 2 + ⌊ln 2.5 / ln 10 · 2⌋ = 2 + ⌊0.796⌋
        {-7, 3}, {7, 7},                 // ⌊ln 3.5 / ln 10 · 2⌋ = ⌊1.088⌋
        {-40, 3}, {40, 7},               // ⌊2.60⌋ clamped to 1
    };
    static const bucket_case causal[] = {  // n = 8, e = 4, ln 5
        {2, 0}, {-3, 3},
        {-10, 6},                        // 4 + ⌊ln 2.5 / ln 5 · 4⌋ = 4 + ⌊2.277⌋
        {-19, 7},                        // ⌊ln 4.75 / ln 5 · 4⌋ = ⌊3.872⌋
        {-25, 7},                        // ⌊4.55⌋ clamped to 3
    };
    check_table(bi, N_OF(bi), 1, 8, 20);
    check_table(causal, N_OF(causal), 0, 8, 20);
}

// op_scale: y = s·x forward, ĝ(x) = s·ĝ(y) under every method (a linear map needs no rule).
static void test_scale_forward_and_backward(void) {
    for (int m = 0; m < LRP_METHOD_COUNT; m++) {
        lrp_graph g;
        lrp_err err;
        CHECK(lrp_graph_init(&g, 1 << 12, &err) == 0);
        lrp_act *x = lrp_act_new(&g, 2, 3);
        const float xv[6] = {1.5f, -2.0f, 0.25f, 3.0f, -0.5f, 4.0f}, w[6] = {0.3f, -1.0f, 2.0f, 0.5f, 1.5f, -0.25f};
        memcpy(x->x, xv, sizeof xv);
        x->keep_grad = 1;
        float s = 0.125f;
        lrp_act *y = op_scale(&g, x, s);
        CHECK(y && y->rows == 2 && y->cols == 3);
        for (int i = 0; y && i < 6; i++) CHECK(y->x[i] == s * xv[i]);
        memcpy(lrp_act_grad(&g, y), w, sizeof w);
        lrp_rules rules = lrp_rules_for((lrp_method)m);
        CHECK(lrp_graph_backward(&g, &rules, &err) == 0);
        for (int i = 0; i < 6; i++) CHECK_NEAR(x->g[i], s * w[i], 1e-7);
        lrp_graph_free(&g);
    }
}

TEST_MAIN(T(test_bidirectional_default_buckets), T(test_causal_default_buckets), T(test_small_buckets),
          T(test_scale_forward_and_backward))
