// The fast kernels against their scalar references, on both CPU paths: the one this machine allows
// (AVX2/F16C where it has them) and the generic one that ATTNLRP_CPU=generic forces.
//
// Products (kernels/matmul.h, kernels/gemm.h) are compared within the rounding a float32 sum may
// accumulate: a sum of n products computed in float32, in any order and blocking, is within
// (n + small) · 2⁻²⁴ · Σ|terms| of the exact value (Higham, Accuracy and Stability, §3.1), and the
// references accumulate in double. Conversions (kernels/half.c) are compared bit for bit on every
// 16-bit pattern.
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels/cpu.h"
#include "kernels/dequant.h"
#include "kernels/gemm.h"
#include "kernels/half.h"
#include "kernels/matmul.h"
#include "kernels/smallgemm.h"
#include "support/gguf_writer.h"

#include <cblas.h>

#if LRP_X86
#include <immintrin.h>
#endif

#define U32 (1.0 / 16777216.0)  // 2⁻²⁴, the unit roundoff of float32

static uint32_t rng_state = 2463534242u;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

// Uniform in [-1, 1).
static float rnd_unit(void) {
    return (float)((double)(rnd() >> 8) / (double)(1u << 23) - 1.0);
}

static void fill(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = rnd_unit();
}

// The two CPU paths every comparison runs on.
enum { CPU_NATIVE, CPU_GENERIC, CPU_MODES, CPU_AVX2 = CPU_MODES };  // AVX2 only: the small-row kernels
static const char *const cpu_mode_name[CPU_MODES] = {"native", "generic"};

static void use_cpu(int mode) {
    if (mode == CPU_GENERIC) setenv("ATTNLRP_CPU", "generic", 1);
    else if (mode == CPU_AVX2) setenv("ATTNLRP_CPU", "avx2", 1);  // AVX-512 left out
    else unsetenv("ATTNLRP_CPU");
    lrp_cpu_refresh();
}

// ---------------------------------------------------------------------------------------------
// Dispatch

TEST(generic_override_turns_off_every_fast_path) {
    use_cpu(CPU_GENERIC);
    CHECK(lrp_cpu_features() == 0);
    CHECK(!lrp_cpu_has_avx2());
    CHECK_STR(lrp_cpu_describe(), "generic");
    use_cpu(CPU_NATIVE);
#if LRP_X86
    __builtin_cpu_init();
    CHECK(!!(lrp_cpu_features() & LRP_CPU_AVX2) == !!__builtin_cpu_supports("avx2"));
    CHECK(!!(lrp_cpu_features() & LRP_CPU_FMA) == !!__builtin_cpu_supports("fma"));
    CHECK(lrp_cpu_has_avx512() == (lrp_cpu_has_avx2() && __builtin_cpu_supports("avx512f")));
    if (lrp_cpu_has_avx512())
        CHECK_STR(lrp_cpu_describe(), lrp_cpu_has_vnni() ? "avx2+fma+f16c+avx512f+avx512vnni" : "avx2+fma+f16c+avx512f");
    CHECK(lrp_cpu_has_vnni() == (lrp_cpu_has_avx512() && __builtin_cpu_supports("avx512vnni") &&
                                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")));
#endif
    use_cpu(CPU_GENERIC);
    CHECK(!lrp_cpu_has_avx512());
    use_cpu(CPU_NATIVE);
}

// ---------------------------------------------------------------------------------------------
// f16 / bf16 rows

// Every 16-bit pattern, widened as rows of odd lengths starting at odd elements (so that the vector
// loop, its tail and unaligned loads all occur), equals the scalar widening bit for bit; a NaN only
// needs to stay a NaN of the same sign (F16C quiets signalling NaNs).
static int check_rows(int bf16, int mode) {
    enum { N = 65536 + 64 };
    uint16_t *h = malloc(N * sizeof *h);
    float *fast = malloc(N * sizeof *fast), *ref = malloc(N * sizeof *ref);
    for (int i = 0; i < N; i++) h[i] = (uint16_t)(i * 40503u);  // odd multiplier: a permutation of 0..65535
    int bad = 0;
    static const int lengths[] = {1, 7, 8, 9, 15, 33, 1000, 65536};
    for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
        for (int start = 0; start < 3; start++) {
            int n = lengths[li];
            memset(fast, 0xA5, (size_t)(n + 1) * sizeof *fast);
            if (bf16) {
                lrp_bf16_to_f32_row(h + start, fast, n);
                lrp_bf16_to_f32_row_ref(h + start, ref, n);
            } else {
                lrp_f16_to_f32_row(h + start, fast, n);
                lrp_f16_to_f32_row_ref(h + start, ref, n);
            }
            uint32_t guard;
            memcpy(&guard, fast + n, 4);
            if (guard != 0xA5A5A5A5u) bad++;  // nothing written past n
            for (int i = 0; i < n; i++) {
                uint32_t a, b;
                memcpy(&a, fast + i, 4);
                memcpy(&b, ref + i, 4);
                int same = a == b || (isnan(fast[i]) && isnan(ref[i]) && signbit(fast[i]) == signbit(ref[i]));
                if (!same && bad++ < 3)
                    fprintf(stderr, "  %s %s row: 0x%04x -> 0x%08x, scalar 0x%08x\n", cpu_mode_name[mode],
                            bf16 ? "bf16" : "f16", h[start + i], a, b);
            }
        }
    }
    free(h);
    free(fast);
    free(ref);
    return bad;
}

TEST(f16_rows_widen_every_value_as_the_scalar_reference_does) {
    for (int mode = 0; mode < CPU_MODES; mode++) {
        use_cpu(mode);
        CHECK(check_rows(0, mode) == 0);
    }
    use_cpu(CPU_NATIVE);
}

TEST(bf16_rows_widen_every_value_as_the_scalar_reference_does) {
    for (int mode = 0; mode < CPU_MODES; mode++) {
        use_cpu(mode);
        CHECK(check_rows(1, mode) == 0);
    }
    use_cpu(CPU_NATIVE);
}

// The scalar widening itself, at the special values (by the IEEE definitions).
TEST(f16_widening_of_zeros_subnormals_infinities_and_nans) {
    CHECK(lrp_f16_to_f32(0x0000) == 0.0f && !signbit(lrp_f16_to_f32(0x0000)));
    CHECK(lrp_f16_to_f32(0x8000) == 0.0f && signbit(lrp_f16_to_f32(0x8000)));
    CHECK(lrp_f16_to_f32(0x0001) == ldexpf(1.0f, -24));   // smallest subnormal
    CHECK(lrp_f16_to_f32(0x03FF) == ldexpf(1023.0f, -24));  // largest subnormal
    CHECK(lrp_f16_to_f32(0x8200) == -ldexpf(1.0f, -15));
    CHECK(lrp_f16_to_f32(0x7BFF) == 65504.0f);
    CHECK(isinf(lrp_f16_to_f32(0x7C00)) && lrp_f16_to_f32(0x7C00) > 0);
    CHECK(isinf(lrp_f16_to_f32(0xFC00)) && lrp_f16_to_f32(0xFC00) < 0);
    CHECK(isnan(lrp_f16_to_f32(0x7E00)) && isnan(lrp_f16_to_f32(0x7C01)) && isnan(lrp_f16_to_f32(0xFE00)));
    CHECK(lrp_bf16_to_f32(0x3F80) == 1.0f);
    CHECK(lrp_bf16_to_f32(0x0001) == ldexpf(1.0f, -133));  // bf16 subnormals are float32 subnormals
    CHECK(isinf(lrp_bf16_to_f32(0xFF80)) && isnan(lrp_bf16_to_f32(0x7FC1)));
}

// Narrowing: every half value survives the round trip, a value halfway between two neighbours goes to
// the one with an even last bit, 65520 (halfway to the next power of two) overflows, NaNs stay quiet NaNs.
TEST(f32_to_f16_rounds_to_nearest_even) {
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF)) continue;  // NaNs below
        if (lrp_f32_to_f16(lrp_f16_to_f32((uint16_t)h)) != h && bad++ < 3)
            fprintf(stderr, "  round trip of 0x%04x gives 0x%04x\n", h, lrp_f32_to_f16(lrp_f16_to_f32((uint16_t)h)));
        if ((h & 0x7FFF) >= 0x7BFF) continue;  // the midpoint to the next value up
        double lo = lrp_f16_to_f32((uint16_t)h), hi = lrp_f16_to_f32((uint16_t)(h + 1));
        float mid = (float)((lo + hi) / 2);  // exact in float32
        uint16_t want = (uint16_t)((h & 1) ? h + 1 : h);
        if (lrp_f32_to_f16(mid) != want && bad++ < 3)
            fprintf(stderr, "  midpoint above 0x%04x gives 0x%04x\n", h, lrp_f32_to_f16(mid));
    }
    CHECK(bad == 0);
    CHECK(lrp_f32_to_f16(65519.996f) == 0x7BFF);
    CHECK(lrp_f32_to_f16(65520.0f) == 0x7C00);
    CHECK(lrp_f32_to_f16(-1e30f) == 0xFC00);
    CHECK(lrp_f32_to_f16(ldexpf(1.0f, -25)) == 0x0000);               // tie between 0 and 2⁻²⁴: even
    CHECK(lrp_f32_to_f16(nextafterf(ldexpf(1.0f, -25), 1.0f)) == 0x0001);
    CHECK(lrp_f32_to_f16(-ldexpf(3.0f, -25)) == 0x8002);              // tie between 1 and 2 units: 2
    CHECK(lrp_f32_to_f16(NAN) == 0x7E00);
    uint16_t n = lrp_f32_to_f16(-NAN);
    CHECK((n & 0xFE00) == 0xFE00);
}

#if LRP_X86
LRP_TARGET_AVX2 static uint16_t f32_to_f16_f16c(float f) {
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}
#endif

// The scalar narrowing gives what the F16C instruction gives (where the CPU has one), on random bit
// patterns of every exponent and at every half's neighbourhood.
TEST(f32_to_f16_agrees_with_the_f16c_instruction) {
#if LRP_X86
    use_cpu(CPU_NATIVE);
    if (!lrp_cpu_has_avx2()) return;
    int bad = 0;
    for (int i = 0; i < 2000000; i++) {
        uint32_t u = rnd();
        if (i & 1) {  // near a finite half: its float32 bits ± up to 0x2000 (0x1000 is the midpoint)
            float h = lrp_f16_to_f32((uint16_t)(rnd() % 0x7C00 | (rnd() & 0x8000)));
            memcpy(&u, &h, 4);
            u += (rnd() % 0x4000) - 0x2000;
        }
        float f;
        memcpy(&f, &u, 4);
        uint16_t a = lrp_f32_to_f16(f), b = f32_to_f16_f16c(f);
        if (a != b && bad++ < 3) fprintf(stderr, "  0x%08x: scalar 0x%04x, F16C 0x%04x\n", u, a, b);
    }
    CHECK(bad == 0);
#endif
}

// ---------------------------------------------------------------------------------------------
// gemm / gemv

typedef void (*gemm_fn)(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                        int ldb, float beta, float *C, int ldc);

// lrp_small_gemm in lrp_gemm's signature (A is never transposed there).
static void small_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                       int ldb, float beta, float *C, int ldc) {
    (void)ta;
    lrp_small_gemm(tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// C = alpha op(A) op(B) + beta C by `gemm` against lrp_gemm_ref with row strides wider than the rows;
// the padding of C is never written, and with beta = 0 C holds NaN (it must not be read).
static int check_gemm_of(gemm_fn gemm, int ta, int tb, int M, int N, int K, float alpha, float beta) {
    int a_rows = ta ? K : M, a_cols = ta ? M : K, b_rows = tb ? N : K, b_cols = tb ? K : N;
    int lda = a_cols + 3, ldb = b_cols + 1, ldc = N + 2;
    float *A = malloc((size_t)a_rows * lda * sizeof *A), *B = malloc((size_t)b_rows * ldb * sizeof *B);
    float *C = malloc((size_t)M * ldc * sizeof *C), *R = malloc((size_t)M * ldc * sizeof *R);
    float *C0 = malloc((size_t)M * ldc * sizeof *C0);
    fill(A, (size_t)a_rows * lda);
    fill(B, (size_t)b_rows * ldb);
    fill(C, (size_t)M * ldc);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++)
            if (j >= N) C[(size_t)i * ldc + j] = 1234.5f;
            else if (beta == 0.0f) C[(size_t)i * ldc + j] = NAN;
    memcpy(R, C, (size_t)M * ldc * sizeof *C);
    memcpy(C0, C, (size_t)M * ldc * sizeof *C);
    gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    lrp_gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc);
    int bad = 0;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < ldc; j++) {
            size_t at = (size_t)i * ldc + j;
            if (j >= N) {
                bad += C[at] != 1234.5f;
                continue;
            }
            double mag = 0;
            for (int k = 0; k < K; k++) {
                double a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                double b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                mag += fabs(a * b);
            }
            double tol = (K + 4) * U32 * (fabs(alpha) * mag + (beta == 0.0f ? 0.0 : fabs(beta * C0[at])));
            if (!(fabs(C[at] - R[at]) <= tol) && bad++ < 3)
                fprintf(stderr, "  %s %s %c%c M=%d N=%d K=%d alpha=%g beta=%g C[%d,%d] = %.9g, ref %.9g\n",
                        gemm == small_gemm ? "small gemm" : "gemm", lrp_cpu_describe(), ta ? 'T' : 'N',
                        tb ? 'T' : 'N', M, N, K, alpha, beta, i, j, C[at], R[at]);
        }
    }
    free(A);
    free(B);
    free(C);
    free(C0);
    free(R);
    return bad;
}

static int check_gemm(int ta, int tb, int M, int N, int K, float alpha, float beta) {
    return check_gemm_of(lrp_gemm, ta, tb, M, N, K, alpha, beta);
}

TEST(gemm_matches_the_reference_for_every_transpose_alpha_beta_and_stride) {
    static const int sizes[][3] = {{1, 1, 1}, {1, 9, 33}, {7, 1, 5}, {5, 17, 64}, {33, 20, 70}};
    static const float alphas[] = {1.0f, -0.75f}, betas[] = {0.0f, 1.0f, 0.5f};
    int bad = 0;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
                for (int a = 0; a < 2; a++)
                    for (int b = 0; b < 3; b++)
                        bad += check_gemm(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], alphas[a], betas[b]);
    CHECK(bad == 0);
}

// beta = 0 overwrites C without reading it (the engine hands it uninitialised arena memory).
TEST(gemm_with_beta_zero_ignores_what_c_held) {
    float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 0, 0, 1, 1, 1}, C[4], R[4];
    for (int i = 0; i < 4; i++) C[i] = R[i] = NAN;
    lrp_gemm(0, 0, 2, 2, 3, 1.0f, A, 3, B, 2, 0.0f, C, 2);  // [[1 2 3] [4 5 6]] · [[1 0] [0 1] [1 1]]
    lrp_gemm_ref(0, 0, 2, 2, 3, 1.0f, A, 3, B, 2, 0.0f, R, 2);
    static const float want[4] = {4, 5, 10, 11};
    for (int i = 0; i < 4; i++) {
        CHECK(C[i] == want[i]);
        CHECK(R[i] == want[i]);
    }
}

// The small-row kernels (kernels/smallgemm.h) for every M from 1 to 40 with N and K of every remainder
// modulo the vector widths (8, 16) and panels (24, 64 columns; 256-deep blocks of K), both op(B), each
// alpha/beta pair; on the path this CPU runs and on the generic one.
static int check_small_gemm_shapes(int mode) {
    use_cpu(mode);
    static const float alphas[] = {1.0f, -0.75f}, betas[] = {0.0f, 1.0f, 0.5f};
    int bad = 0;
    for (int tb = 0; tb < 2; tb++)
        for (int M = 1; M <= 40; M++) {
            int N = 1 + (M * 37) % 150, K = 1 + (M * 53) % 300;
            bad += check_gemm_of(small_gemm, 0, tb, M, N, K, alphas[M % 2], betas[M % 3]);
        }
    static const int sizes[][3] = {{32, 130, 600}, {16, 64, 256}, {48, 200, 257}, {3, 7, 1}, {2, 1, 9}, {41, 23, 17}};
    for (int tb = 0; tb < 2; tb++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (int b = 0; b < 3; b++)
                bad += check_gemm_of(small_gemm, 0, tb, sizes[s][0], sizes[s][1], sizes[s][2], alphas[b % 2], betas[b]);
    use_cpu(CPU_NATIVE);
    return bad;
}

TEST(small_gemm_matches_the_reference_for_every_row_count_up_to_40) {
    CHECK(check_small_gemm_shapes(CPU_NATIVE) == 0);
}

TEST(small_gemm_on_the_generic_cpu_matches_the_reference) {
    CHECK(check_small_gemm_shapes(CPU_GENERIC) == 0);
}

// ATTNLRP_CPU=avx2 on a machine with AVX-512: the AVX2 kernels (elsewhere the native run was them already).
TEST(small_gemm_on_the_avx2_path_matches_the_reference) {
    use_cpu(CPU_AVX2);
    CHECK(!lrp_cpu_has_avx512());
    use_cpu(CPU_NATIVE);
    int avx2 = lrp_cpu_has_avx2();
    CHECK(check_small_gemm_shapes(CPU_AVX2) == 0);
    use_cpu(CPU_AVX2);
    CHECK(lrp_cpu_has_avx2() == avx2);
    use_cpu(CPU_NATIVE);
}

// Large enough to be split between threads (OpenBLAS's count, here 2 and 3), including splits that
// leave a thread without a whole panel; and K = 0 (C = beta · C).
TEST(small_gemm_split_between_threads_matches_the_reference) {
    int threads = openblas_get_num_threads();
    int bad = 0;
    for (int nt = 2; nt <= 3; nt++) {
        openblas_set_num_threads(nt);
        for (int tb = 0; tb < 2; tb++) {
            bad += check_gemm_of(small_gemm, 0, tb, 32, 1000, 100, 1.0f, 0.0f);
            bad += check_gemm_of(small_gemm, 0, tb, 40, 70, 500, -0.5f, 1.0f);
            bad += check_gemm_of(small_gemm, 0, tb, 9, 17, 7000, 1.0f, 0.5f);
        }
    }
    openblas_set_num_threads(threads);
    float C[6] = {1, 2, 3, 4, 5, 6}, A[1] = {0}, B[1] = {0};
    lrp_small_gemm(0, 2, 3, 0, 1.0f, A, 1, B, 3, 0.5f, C, 3);
    for (int i = 0; i < 6; i++) CHECK(C[i] == 0.5f * (float)(i + 1));
    CHECK(bad == 0);
}

// A batch (the experts of a MoE layer) gives every call exactly what lrp_small_gemm gives it alone, and the
// float64 reference's values; calls with 0 rows are skipped, K = 0 only scales C. Run with 1 and 2 threads.
TEST(small_gemm_batch_equals_its_calls_one_by_one) {
    int threads = openblas_get_num_threads();
    enum { CALLS = 5, N = 300, K = 260 };
    const int rows[CALLS] = {32, 0, 7, 48, 2};
    int bad = 0;
    for (int nt = 1; nt <= 2; nt++) {
        openblas_set_num_threads(nt);
        for (int tb = 0; tb < 2; tb++) {
            float beta = tb ? 0.0f : 1.0f;  // the forward writes (y = x·Wᵀ), the backward accumulates (gx += gy·W)
            const float *A[CALLS], *B[CALLS];
            float *C[CALLS], *one[CALLS], *ref[CALLS];
            for (int i = 0; i < CALLS; i++) {
                float *a = malloc(((size_t)rows[i] + 1) * K * sizeof *a), *b = malloc((size_t)N * K * sizeof *b);
                C[i] = malloc(((size_t)rows[i] + 1) * N * sizeof(float));
                one[i] = malloc(((size_t)rows[i] + 1) * N * sizeof(float));
                ref[i] = malloc(((size_t)rows[i] + 1) * N * sizeof(float));
                fill(a, (size_t)rows[i] * K);
                fill(b, (size_t)N * K);
                fill(C[i], (size_t)rows[i] * N);
                memcpy(one[i], C[i], (size_t)rows[i] * N * sizeof(float));
                memcpy(ref[i], C[i], (size_t)rows[i] * N * sizeof(float));
                A[i] = a;
                B[i] = b;
            }
            CHECK(lrp_small_gemm_batch(tb, CALLS, rows, N, K, 0.75f, A, K, B, tb ? K : N, beta, C, N) == 0);
            for (int i = 0; i < CALLS; i++) {
                lrp_small_gemm(tb, rows[i], N, K, 0.75f, A[i], K, B[i], tb ? K : N, beta, one[i], N);
                lrp_gemm_ref(0, tb, rows[i], N, K, 0.75f, A[i], K, B[i], tb ? K : N, beta, ref[i], N);
                for (size_t j = 0; j < (size_t)rows[i] * N; j++) {
                    bad += C[i][j] != one[i][j];
                    bad += fabsf(C[i][j] - ref[i][j]) > 1e-4f * (1.0f + fabsf(ref[i][j]));
                }
                free((void *)A[i]);
                free((void *)B[i]);
                free(C[i]);
                free(one[i]);
                free(ref[i]);
            }
        }
    }
    openblas_set_num_threads(threads);
    float C0[6] = {1, 2, 3, 4, 5, 6}, Z[1] = {0};
    const float *Az[1] = {Z}, *Bz[1] = {Z};
    float *Cz[1] = {C0};
    int two = 2;
    CHECK(lrp_small_gemm_batch(0, 1, &two, 3, 0, 1.0f, Az, 1, Bz, 3, 0.5f, Cz, 3) == 0);
    for (int i = 0; i < 6; i++) CHECK(C0[i] == 0.5f * (float)(i + 1));
    CHECK(bad == 0);
}

// lrp_gemm hands few rows against a large B to the small kernels (and everything else to BLAS); with
// ATTNLRP_SMALL_GEMM=0 it does not.
TEST(gemm_uses_the_small_kernels_for_few_rows_and_large_weights) {
    for (int tb = 0; tb < 2; tb++) {
        CHECK(!lrp_small_gemm_wanted(1, tb, 32, 1024, 512));
        CHECK(!lrp_small_gemm_wanted(0, tb, 1, 1024, 512));
        CHECK(!lrp_small_gemm_wanted(0, tb, LRP_SMALL_GEMM_MAX_M + 1, 1024, 512));
        CHECK(!lrp_small_gemm_wanted(0, tb, 32, 64, 64));
        CHECK(!lrp_small_gemm_wanted(0, tb, 32, 4096, 256));  // an attention product with a 256-wide head
        CHECK(!lrp_small_gemm_wanted(0, tb, 32, 256, 4096));
        CHECK(lrp_small_gemm_wanted(0, tb, 32, 1024, 512) == (lrp_cpu_has_avx512() || (tb && lrp_cpu_has_avx2())));
        setenv("ATTNLRP_SMALL_GEMM", "0", 1);
        lrp_small_gemm_refresh();
        CHECK(!lrp_small_gemm_wanted(0, tb, 32, 1024, 512));
        unsetenv("ATTNLRP_SMALL_GEMM");
        lrp_small_gemm_refresh();
    }
    int bad = 0;
    for (int tb = 0; tb < 2; tb++) bad += check_gemm(0, tb, 24, 300, 260, 1.0f, 1.0f);
    CHECK(bad == 0);
}

// y = alpha op(A) x + beta y equals the reference product with a one-column B.
TEST(gemv_matches_the_reference_both_ways) {
    enum { M = 13, N = 70, LDA = 75 };
    float A[M * LDA], x[N], y[N], r[N];
    fill(A, M * LDA);
    fill(x, N);
    for (int ta = 0; ta < 2; ta++) {
        int rows = ta ? N : M, len = ta ? M : N;
        fill(y, (size_t)rows);
        memcpy(r, y, (size_t)rows * sizeof *y);
        lrp_gemv(ta, M, N, 0.5f, A, LDA, x, 0.25f, y);
        lrp_gemm_ref(ta, 0, rows, 1, len, 0.5f, A, LDA, x, 1, 0.25f, r, 1);
        for (int i = 0; i < rows; i++) CHECK_NEAR(y[i], r[i], (len + 4) * U32 * (0.5 * len + 1));
    }
}

// ---------------------------------------------------------------------------------------------
// Weight views: lrp_matmul_forward / _backward_input against their references

enum { VIEW_WHOLE, VIEW_ROWS, VIEW_TRANSPOSED, VIEW_KINDS };
static const char *const view_name[VIEW_KINDS] = {"whole", "row-sliced", "transposed"};

typedef struct stored {
    lrp_tensor t;
    void *bytes;
} stored;

// A stored matrix [rows, cols] (ndim 2) or vector [rows] (ndim 1) of dtype dt holding random values in
// [-1, 1), quantised as the test writer's quantiser does.
static void stored_make(stored *s, lrp_dtype dt, int ndim, int64_t rows, int64_t cols) {
    int64_t n = ndim == 1 ? rows : rows * cols;
    float *x = malloc((size_t)n * sizeof *x);
    fill(x, (size_t)n);
    s->t = (lrp_tensor){.name = "w", .dtype = dt, .ndim = ndim, .shape = {rows, ndim == 1 ? 0 : cols}};
    s->t.nbytes = lrp_dtype_row_bytes(dt, n);
    s->bytes = malloc(s->t.nbytes);
    if (gw_quantize(dt, x, n, s->bytes) != s->t.nbytes)
        fprintf(stderr, "  could not quantise to %s\n", lrp_dtype_name(dt));
    s->t.data = s->bytes;
    free(x);
}

// Logical shape of the tests' views for a dtype: rows of whole blocks for the quantised types.
static void view_shape(lrp_dtype dt, int *out, int *in) {
    int be = lrp_dtype_block_elems(dt);
    *in = be == 1 ? 37 : be == 32 ? 64 : 256;   // 37: f16/bf16 rows have a vector part and a tail
    *out = be == 1 ? 29 : be == 32 ? 32 : 256;  // whole blocks, so a same-dtype bias may slice them
}

// The view of a [out, in] weight of kind `view` over a fresh storage (a fused [3·out, in] tensor, or
// for transposed views a Conv1D [in, 3·out] one, sliced at the middle third), and a bias vector view
// of `out` elements at offset `out` of a [3·out] vector of the same dtype.
static void make_view(lrp_dtype dt, int view, stored *w, lrp_weight *W, stored *b, lrp_weight *B) {
    int out, in;
    view_shape(dt, &out, &in);
    if (view == VIEW_TRANSPOSED) {
        stored_make(w, dt, 2, in, 3 * out);
        *W = (lrp_weight){.t = &w->t, .out = out, .in = in, .offset = out, .transposed = 1};
    } else {
        stored_make(w, dt, 2, view == VIEW_WHOLE ? out : 3 * out, in);
        *W = (lrp_weight){.t = &w->t, .out = out, .in = in, .offset = view == VIEW_WHOLE ? 0 : out};
    }
    stored_make(b, dt, 1, 3 * out, 0);
    *B = (lrp_weight){.t = &b->t, .out = out, .in = 1, .offset = out};
}

// Σ_i |x_i · w_i|: what bounds the rounding of one output of a product (Higham §3.1).
static double row_magnitude(const float *x, const float *w, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) m += fabs((double)x[i] * w[i]);
    return m;
}

// Forward: returns mismatches for one view, length T, bias on or off and scratch size.
static int check_forward(const lrp_weight *W, const lrp_weight *B, int T, size_t scratch_floats, const char *what) {
    int out = (int)W->out, in = (int)W->in;
    float *x = malloc((size_t)T * in * sizeof *x), *y = malloc((size_t)T * out * sizeof *y);
    float *r = malloc((size_t)T * out * sizeof *r), *w = malloc((size_t)out * in * sizeof *w);
    float *bias = malloc((size_t)out * sizeof *bias), *scratch = malloc(scratch_floats * sizeof *scratch);
    fill(x, (size_t)T * in);
    for (size_t i = 0; i < (size_t)T * out; i++) y[i] = NAN;  // the fast path must not read y
    lrp_matmul_forward(y, x, W, B, T, scratch, scratch_floats);
    int bad = lrp_matmul_forward_ref(r, x, W, B, T) != 0;
    for (int j = 0; j < out; j++) lrp_weight_row(W, j, w + (size_t)j * in);
    if (B) lrp_weight_vector(B, bias);
    for (int t = 0; t < T; t++) {
        for (int j = 0; j < out; j++) {
            size_t at = (size_t)t * out + j;
            double mag = row_magnitude(x + (size_t)t * in, w + (size_t)j * in, in) + (B ? fabs(bias[j]) : 0);
            double tol = (in + 4) * U32 * mag;
            if (!(fabs(y[at] - r[at]) <= tol) && bad++ < 3)
                fprintf(stderr, "  forward %s: y[%d,%d] = %.9g, reference %.9g (tolerance %.3g)\n", what, t, j, y[at],
                        r[at], tol);
        }
    }
    free(x);
    free(y);
    free(r);
    free(w);
    free(bias);
    free(scratch);
    return bad;
}

// Backward to the input: gx starts non-zero (the kernels accumulate) and must gain gy · W.
static int check_backward(const lrp_weight *W, int T, size_t scratch_floats, const char *what) {
    int out = (int)W->out, in = (int)W->in;
    float *gy = malloc((size_t)T * out * sizeof *gy), *gx = malloc((size_t)T * in * sizeof *gx);
    float *r = malloc((size_t)T * in * sizeof *r), *w = malloc((size_t)out * in * sizeof *w);
    float *scratch = malloc(scratch_floats * sizeof *scratch);
    fill(gy, (size_t)T * out);
    fill(gx, (size_t)T * in);
    memcpy(r, gx, (size_t)T * in * sizeof *gx);
    double *mag = calloc((size_t)T * in, sizeof *mag);
    for (size_t k = 0; k < (size_t)T * in; k++) mag[k] = fabs(gx[k]);
    lrp_matmul_backward_input(gx, gy, W, T, scratch, scratch_floats);
    int bad = lrp_matmul_backward_input_ref(r, gy, W, T) != 0;
    for (int j = 0; j < out; j++) lrp_weight_row(W, j, w + (size_t)j * in);
    for (int t = 0; t < T; t++) {
        for (int j = 0; j < out; j++) {
            double g = fabs(gy[(size_t)t * out + j]);
            for (int i = 0; i < in; i++) mag[(size_t)t * in + i] += g * fabs(w[(size_t)j * in + i]);
        }
    }
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < in; i++) {
            size_t at = (size_t)t * in + i;
            double tol = (out + 4) * U32 * mag[at];
            if (!(fabs(gx[at] - r[at]) <= tol) && bad++ < 3)
                fprintf(stderr, "  backward %s: gx[%d,%d] = %.9g, reference %.9g (tolerance %.3g)\n", what, t, i,
                        gx[at], r[at], tol);
        }
    }
    free(gy);
    free(gx);
    free(r);
    free(w);
    free(scratch);
    free(mag);
    return bad;
}

// Every dtype × view (transposed only for the element-addressable dtypes) × T ∈ {1, 7, 70} × with or
// without bias × scratch of the minimum size (one row per panel), a few rows with a remainder, and
// the whole matrix; forward or backward; on the given CPU path.
static int check_every_matmul(int backward, int mode) {
    use_cpu(mode);
    static const int lengths[] = {1, 7, 70};
    int bad = 0, cases = 0;
    for (int dt = 0; dt < LRP_N_WEIGHT_DTYPES; dt++) {
        for (int view = 0; view < VIEW_KINDS; view++) {
            if (view == VIEW_TRANSPOSED && !lrp_dtype_is_elementwise((lrp_dtype)dt)) continue;
            stored w, b;
            lrp_weight W, B;
            make_view((lrp_dtype)dt, view, &w, &W, &b, &B);
            if (lrp_weight_check(&W) != 0 || lrp_weight_check(&B) != 0) {
                fprintf(stderr, "  %s %s view rejected\n", lrp_dtype_name((lrp_dtype)dt), view_name[view]);
                bad++;
            }
            size_t widest = (size_t)(W.in > W.out ? W.in : W.out);
            size_t scratch[3] = {widest, 3 * widest + 5, (size_t)(W.in * W.out) + 64};
            for (size_t li = 0; li < 3; li++) {
                for (int with_bias = 0; with_bias < 2 - backward; with_bias++) {
                    for (int s = 0; s < 3; s++) {
                        char what[128];
                        snprintf(what, sizeof what, "%s %s, %s view, T=%d%s, scratch %zu", cpu_mode_name[mode],
                                 lrp_dtype_name((lrp_dtype)dt), view_name[view], lengths[li],
                                 with_bias ? ", bias" : "", scratch[s]);
                        bad += backward ? check_backward(&W, lengths[li], scratch[s], what)
                                        : check_forward(&W, with_bias ? &B : NULL, lengths[li], scratch[s], what);
                        cases++;
                    }
                }
            }
            free(w.bytes);
            free(b.bytes);
        }
    }
    use_cpu(CPU_NATIVE);
    int views = 2 * LRP_N_WEIGHT_DTYPES + 3;  // transposed: F32, F16, BF16 only
    int want = backward ? views * 3 * 3 : views * 3 * 2 * 3;
    if (cases != want) bad++;
    return bad;
}

TEST(matmul_forward_matches_the_reference_for_every_dtype_view_length_and_scratch) {
    CHECK(check_every_matmul(0, CPU_NATIVE) == 0);
}

TEST(matmul_forward_on_the_generic_cpu_matches_the_reference) {
    CHECK(check_every_matmul(0, CPU_GENERIC) == 0);
}

TEST(matmul_backward_input_matches_the_reference_for_every_dtype_view_length_and_scratch) {
    CHECK(check_every_matmul(1, CPU_NATIVE) == 0);
}

TEST(matmul_backward_input_on_the_generic_cpu_matches_the_reference) {
    CHECK(check_every_matmul(1, CPU_GENERIC) == 0);
}

// The reference itself on a case worked by hand: W = [[1 2] [3 4]] stored as the rows 1..2 of a
// [3, 2] matrix, x = [1 -1], bias [10 20] at offset 1 of [0 10 20]: y = [-1 + 10, -1 + 20].
TEST(matmul_reference_computes_a_product_worked_by_hand) {
    float wdata[6] = {9, 9, 1, 2, 3, 4}, bdata[3] = {0, 10, 20}, x[2] = {1, -1}, y[2], gx[2] = {0.5f, 0};
    lrp_tensor wt = {.name = "w", .dtype = LRP_F32, .ndim = 2, .shape = {3, 2}, .data = wdata, .nbytes = sizeof wdata};
    lrp_tensor bt = {.name = "b", .dtype = LRP_F32, .ndim = 1, .shape = {3}, .data = bdata, .nbytes = sizeof bdata};
    lrp_weight W = {.t = &wt, .out = 2, .in = 2, .offset = 1}, B = {.t = &bt, .out = 2, .in = 1, .offset = 1};
    CHECK(lrp_matmul_forward_ref(y, x, &W, &B, 1) == 0);
    CHECK(y[0] == 9.0f && y[1] == 19.0f);
    float gy[2] = {1, 2};  // gx += gy · W = [1·1 + 2·3, 1·2 + 2·4]
    CHECK(lrp_matmul_backward_input_ref(gx, gy, &W, 1) == 0);
    CHECK(gx[0] == 7.5f && gx[1] == 10.0f);
}

// ---------------------------------------------------------------------------------------------
// Which views the kernels accept

TEST(weight_check_rejects_transposed_views_of_quantised_storage) {
    for (int dt = 0; dt < LRP_N_WEIGHT_DTYPES; dt++) {
        lrp_tensor t = {.name = "w", .dtype = (lrp_dtype)dt, .ndim = 2, .shape = {256, 768}};
        lrp_weight W = {.t = &t, .out = 256, .in = 256, .offset = 256, .transposed = 1};
        CHECK(lrp_weight_check(&W) == (lrp_dtype_is_elementwise((lrp_dtype)dt) ? 0 : -1));
    }
}

TEST(weight_check_rejects_vector_views_not_aligned_to_blocks) {
    lrp_tensor v = {.name = "b", .dtype = LRP_Q8_0, .ndim = 1, .shape = {96}};
    lrp_weight aligned = {.t = &v, .out = 32, .in = 1, .offset = 64};
    lrp_weight bad_offset = {.t = &v, .out = 32, .in = 1, .offset = 16};
    lrp_weight bad_length = {.t = &v, .out = 48, .in = 1, .offset = 32};
    CHECK(lrp_weight_check(&aligned) == 0);
    CHECK(lrp_weight_check(&bad_offset) == -1);
    CHECK(lrp_weight_check(&bad_length) == -1);
    lrp_tensor k = {.name = "b", .dtype = LRP_Q4_K, .ndim = 1, .shape = {512}};
    lrp_weight k_half = {.t = &k, .out = 256, .in = 1, .offset = 128};
    CHECK(lrp_weight_check(&k_half) == -1);
    lrp_tensor f = {.name = "b", .dtype = LRP_F16, .ndim = 1, .shape = {96}};
    lrp_weight f_any = {.t = &f, .out = 7, .in = 1, .offset = 3};
    CHECK(lrp_weight_check(&f_any) == 0);
}

TEST(weight_check_rejects_storage_that_is_not_a_weight_dtype) {
    for (int dt = LRP_N_WEIGHT_DTYPES; dt < LRP_DTYPE_COUNT; dt++) {
        lrp_tensor t = {.name = "position_ids", .dtype = (lrp_dtype)dt, .ndim = 2, .shape = {4, 8}};
        lrp_weight W = lrp_weight_of(&t);
        CHECK(lrp_weight_check(&W) == -1);
    }
}

TEST(weight_check_rejects_rows_that_are_not_whole_blocks) {
    lrp_tensor t = {.name = "w", .dtype = LRP_Q6_K, .ndim = 2, .shape = {4, 320}};
    lrp_weight W = lrp_weight_of(&t);
    CHECK(lrp_weight_check(&W) == -1);
    t.shape[1] = 512;
    W = lrp_weight_of(&t);
    CHECK(lrp_weight_check(&W) == 0);
}

TEST_MAIN(T(generic_override_turns_off_every_fast_path), T(f16_rows_widen_every_value_as_the_scalar_reference_does),
          T(bf16_rows_widen_every_value_as_the_scalar_reference_does),
          T(f16_widening_of_zeros_subnormals_infinities_and_nans), T(f32_to_f16_rounds_to_nearest_even),
          T(f32_to_f16_agrees_with_the_f16c_instruction),
          T(gemm_matches_the_reference_for_every_transpose_alpha_beta_and_stride),
          T(gemm_with_beta_zero_ignores_what_c_held), T(small_gemm_matches_the_reference_for_every_row_count_up_to_40),
          T(small_gemm_on_the_generic_cpu_matches_the_reference), T(small_gemm_on_the_avx2_path_matches_the_reference),
          T(small_gemm_split_between_threads_matches_the_reference),
          T(small_gemm_batch_equals_its_calls_one_by_one),
          T(gemm_uses_the_small_kernels_for_few_rows_and_large_weights), T(gemv_matches_the_reference_both_ways),
          T(matmul_forward_matches_the_reference_for_every_dtype_view_length_and_scratch),
          T(matmul_forward_on_the_generic_cpu_matches_the_reference),
          T(matmul_backward_input_matches_the_reference_for_every_dtype_view_length_and_scratch),
          T(matmul_backward_input_on_the_generic_cpu_matches_the_reference),
          T(matmul_reference_computes_a_product_worked_by_hand),
          T(weight_check_rejects_transposed_views_of_quantised_storage),
          T(weight_check_rejects_vector_views_not_aligned_to_blocks),
          T(weight_check_rejects_storage_that_is_not_a_weight_dtype),
          T(weight_check_rejects_rows_that_are_not_whole_blocks))
