// The closed-form pieces of the baseline methods (explain/baselines.h): attention rollout and the
// gradient-weighted rollout on hand-made attention matrices, and the Gauss–Legendre rule.
#include "explain/baselines.h"
#include "harness.h"

// Two layers of 3×3 row-stochastic attention, written out by hand.
static const double A1[9] = {1, 0, 0, 0.5, 0.5, 0, 0.2, 0.3, 0.5};
static const double A2[9] = {1, 0, 0, 0.25, 0.75, 0, 0.6, 0.1, 0.3};

static void matmul3(const double *a, const double *b, double *c) {
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            c[i * 3 + j] = 0;
            for (int k = 0; k < 3; k++) c[i * 3 + j] += a[i * 3 + k] * b[k * 3 + j];
        }
}

TEST(rollout_is_the_product_of_half_attention_plus_half_identity) {
    // M_l = ½A_l + ½I (rows already sum to 1); rollout = M_2 · M_1; row 2.
    double M1[9], M2[9], R[9];
    for (int k = 0; k < 9; k++) M1[k] = 0.5 * A1[k] + 0.5 * (k % 4 == 0), M2[k] = 0.5 * A2[k] + 0.5 * (k % 4 == 0);
    matmul3(M2, M1, R);
    const double *A[2] = {A1, A2};
    double out[3];
    lrp_attention_rollout(A, 2, 3, 2, 0, out);
    for (int j = 0; j < 3; j++) CHECK_NEAR(out[j], R[6 + j], 1e-15);
    // By hand for row 2: M2[2] = (0.3, 0.05, 0.65); times M1 = ((1,0,0), (.25,.75,0), (.1,.15,.75)).
    CHECK_NEAR(out[0], 0.3 + 0.05 * 0.25 + 0.65 * 0.1, 1e-15);
    CHECK_NEAR(out[1], 0.05 * 0.75 + 0.65 * 0.15, 1e-15);
    CHECK_NEAR(out[2], 0.65 * 0.75, 1e-15);
    CHECK_NEAR(out[0] + out[1] + out[2], 1.0, 1e-15);
}

TEST(rollout_renormalises_rows_that_do_not_sum_to_one) {
    // A padding row (all zero): ½A + ½I has row sum ½ and is renormalised to the identity row.
    static const double P[9] = {1, 0, 0, 0, 0, 0, 0.5, 0, 0.5};
    const double *A[1] = {P};
    double out[3];
    lrp_attention_rollout(A, 1, 3, 1, 0, out);
    CHECK_NEAR(out[0], 0, 1e-15);
    CHECK_NEAR(out[1], 1, 1e-15);
    CHECK_NEAR(out[2], 0, 1e-15);
}

TEST(gradient_weighted_rollout_multiplies_identity_plus_abar) {
    // Chefer et al. 2021, Eq. 6: R ← R + Ā R from R = I: R = (I + Ā_2)(I + Ā_1); no normalisation.
    double M1[9], M2[9], R[9];
    for (int k = 0; k < 9; k++) M1[k] = A1[k] + (k % 4 == 0), M2[k] = A2[k] + (k % 4 == 0);
    matmul3(M2, M1, R);
    const double *A[2] = {A1, A2};
    double out[3];
    for (int row = 0; row < 3; row++) {
        lrp_attention_rollout(A, 2, 3, row, 1, out);
        for (int j = 0; j < 3; j++) CHECK_NEAR(out[j], R[row * 3 + j], 1e-15);
    }
}

TEST(gauss_legendre_integrates_polynomials_of_degree_2n_minus_1_exactly) {
    for (int n = 1; n <= 12; n++) {
        double x[12], w[12];
        lrp_gauss_legendre(n, x, w);
        for (int deg = 0; deg <= 2 * n - 1; deg++) {
            double s = 0;
            for (int i = 0; i < n; i++) s += w[i] * pow(x[i], deg);
            CHECK_NEAR(s, 1.0 / (deg + 1), 1e-13);
        }
        for (int i = 0; i < n; i++) CHECK(x[i] > 0 && x[i] < 1);
    }
    double x[256], w[256];  // many nodes stay accurate (IG uses up to thousands)
    lrp_gauss_legendre(256, x, w);
    double s = 0;
    for (int i = 0; i < 256; i++) s += w[i] * cos(x[i]);
    CHECK_NEAR(s, sin(1.0), 1e-12);
}

TEST_MAIN(T(rollout_is_the_product_of_half_attention_plus_half_identity),
          T(rollout_renormalises_rows_that_do_not_sum_to_one), T(gradient_weighted_rollout_multiplies_identity_plus_abar),
          T(gauss_legendre_integrates_polynomials_of_degree_2n_minus_1_exactly))
