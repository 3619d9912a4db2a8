// Quantised dot products (kernels/qdot.h) on every CPU path this machine has (AVX-512 VNNI, AVX2, the
// generic reference that ATTNLRP_CPU=generic forces):
//
// - exact integer checks: hand-made blocks with power-of-two scales and activations that are exactly
//   d·q with |q| ≤ 127 (one at 127 per block) quantise without error, so every kernel must return the
//   exact value of Σ w·x (computed in double from the widened weights; every partial sum here is an
//   integer times a power of two well inside float's 24 bits);
// - random weight blocks and activations: within the quantisation bound of the dequantise-then-float
//   product, Σ_blocks d/2 · Σ_{i in block} |w_i| (d = max|x_block|/127), plus float rounding;
// - the threaded product lrp_matmul_forward_q against lrp_matmul_forward_ref on a row-sliced view with a
//   bias, T = 1, 3 and 16, within the same bound per output.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels/cpu.h"
#include "kernels/dequant_quant.h"
#include "kernels/half.h"
#include "kernels/matmul.h"
#include "kernels/qdot.h"

static uint32_t rng_state = 88172645u;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}
static int rnd_int(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }
static float rnd_normal(void) {  // sum of 4 uniforms, roughly normal
    float s = 0;
    for (int k = 0; k < 4; k++) s += (float)(rnd() >> 8) / 16777216.0f - 0.5f;
    return s;
}

enum { MODE_NATIVE, MODE_AVX2, MODE_GENERIC, N_MODES };
static const char *const mode_name[N_MODES] = {"native", "avx2", "generic"};
static void use_mode(int m) {
    if (m == MODE_GENERIC) setenv("ATTNLRP_CPU", "generic", 1);
    else if (m == MODE_AVX2) setenv("ATTNLRP_CPU", "avx2", 1);
    else unsetenv("ATTNLRP_CPU");
    lrp_cpu_refresh();
}

static const lrp_dtype types[3] = {LRP_Q8_0, LRP_Q4_K, LRP_Q6_K};

static void put_f16(uint8_t *p, float v) {
    uint16_t h = lrp_f32_to_f16(v);
    memcpy(p, &h, 2);
}

// nb random blocks of dtype t: random quant bytes, scales f16 powers of two (exact) when pow2, else
// random f16 scales around `scale`.
static void make_blocks(lrp_dtype t, uint8_t *b, int64_t nb, int pow2, float scale) {
    size_t bytes = lrp_dtype_block_bytes(t);
    for (int64_t i = 0; i < nb; i++, b += bytes) {
        for (size_t k = 0; k < bytes; k++) b[k] = (uint8_t)rnd();
        float d = pow2 ? ldexpf(1.0f, -rnd_int(3, 6)) : scale * (0.5f + (float)(rnd() % 1000) / 1000.0f);
        float dmin = pow2 ? ldexpf(1.0f, -rnd_int(3, 6)) : scale * (0.2f + (float)(rnd() % 1000) / 1000.0f);
        if (t == LRP_Q8_0) {
            put_f16(b, d);
        } else if (t == LRP_Q4_K) {
            put_f16(b, d);
            put_f16(b + 2, dmin);
        } else {  // Q6_K: int8 scales (any sign) and d at the end
            put_f16(b + 208, d);
        }
    }
}

// Widened weights of one row (the scalar dequantisation, an independent path).
static void widen(lrp_dtype t, const uint8_t *w, float *dst, int64_t n) { lrp_dequant_row_quant_ref(t, w, dst, n); }

TEST(quantize_is_exact_on_representable_rows) {
    for (int ti = 0; ti < 3; ti++) {
        lrp_dtype t = types[ti];
        int be = t == LRP_Q8_0 ? 32 : 256;
        int64_t n = 3 * 256;
        float x[768];
        int q[768];
        for (int64_t i = 0; i < n; i++) q[i] = rnd_int(-127, 127);
        for (int64_t b = 0; b < n / be; b++) q[b * be + rnd_int(0, be - 1)] = rnd() & 1 ? 127 : -127;
        float dx = ldexpf(1.0f, -7);
        for (int64_t i = 0; i < n; i++) x[i] = dx * (float)q[i];
        uint8_t qx[8 * 292];
        lrp_qdot_quantize(t, x, qx, n);
        size_t blk = t == LRP_Q8_0 ? 36 : 292;
        int ok = 1;
        for (int64_t b = 0; b < n / be; b++) {
            const uint8_t *p = qx + b * blk;
            float d;
            memcpy(&d, p, 4);
            if (fabsf(d - dx) > 1e-6f * dx) ok = 0;
            for (int k = 0; k < be; k++)
                if ((int8_t)p[4 + k] != q[b * be + k]) ok = 0;
            if (t != LRP_Q8_0)
                for (int g = 0; g < 16; g++) {
                    int16_t s;
                    memcpy(&s, p + 4 + 256 + 2 * g, 2);
                    int want = 0;
                    for (int k = 0; k < 16; k++) want += q[b * be + 16 * g + k];
                    if (s != want) ok = 0;
                }
        }
        if (!ok) fprintf(stderr, "  %s\n", lrp_dtype_name(t));
        CHECK(ok);
    }
}

TEST(hand_made_blocks_give_the_exact_sum_on_every_path) {
    for (int ti = 0; ti < 3; ti++) {
        lrp_dtype t = types[ti];
        int64_t n = 3 * 256, nb = n / lrp_dtype_block_elems(t);
        uint8_t w[3 * 292 + 64];
        make_blocks(t, w, nb, 1, 0);
        float wf[768], x[768];
        widen(t, w, wf, n);
        int be = lrp_dtype_block_elems(t) == 32 ? 32 : 256;
        for (int64_t i = 0; i < n; i++) x[i] = ldexpf(1.0f, -7) * (float)rnd_int(-127, 127);
        for (int64_t b = 0; b < n / be; b++) x[b * be] = ldexpf(1.0f, -7) * 127.0f;
        double want = 0;
        for (int64_t i = 0; i < n; i++) want += (double)wf[i] * x[i];
        uint8_t qx[8 * 292];
        for (int m = 0; m < N_MODES; m++) {
            use_mode(m);
            lrp_qdot_quantize(t, x, qx, n);
            float got = lrp_qdot(t, w, qx, n), ref = lrp_qdot_ref(t, w, qx, n);
            if ((double)got != want || (double)ref != want)
                fprintf(stderr, "  %s on %s: %.9g (reference %.9g), exact %.9g\n", lrp_dtype_name(t), mode_name[m],
                        got, ref, want);
            CHECK((double)got == want);
            CHECK((double)ref == want);
        }
        use_mode(MODE_NATIVE);
    }
}

// The bound of qdot.h for one row: Σ_blocks d/2 · Σ|w| with d = max|x_block|/127, plus rounding.
static double bound(lrp_dtype t, const float *wf, const float *x, int64_t n) {
    int be = t == LRP_Q8_0 ? 32 : 256;
    double b = 0, mag = 0;
    for (int64_t i0 = 0; i0 < n; i0 += be) {
        double amax = 0, sw = 0;
        for (int k = 0; k < be; k++) {
            amax = fmax(amax, fabs(x[i0 + k]));
            sw += fabs(wf[i0 + k]);
            mag += fabs((double)wf[i0 + k] * x[i0 + k]);
        }
        b += amax / 127.0 / 2.0 * sw;
    }
    return 1.0001 * b + 1e-5 * mag;
}

TEST(random_blocks_within_the_quantisation_bound_on_every_path) {
    enum { N = 2048 };
    static uint8_t w[N / 256 * 292];
    static float wf[N], x[N];
    static uint8_t qx[N / 256 * 292 + N / 32 * 36];
    for (int ti = 0; ti < 3; ti++) {
        lrp_dtype t = types[ti];
        for (int rep = 0; rep < 20; rep++) {
            int64_t n = rep % 2 ? N : 256 * rnd_int(1, 7);
            make_blocks(t, w, n / lrp_dtype_block_elems(t), 0, 0.01f);
            widen(t, w, wf, n);
            for (int64_t i = 0; i < n; i++) x[i] = rnd_normal() * (rep % 3 ? 1.0f : 100.0f);
            double want = 0;
            for (int64_t i = 0; i < n; i++) want += (double)wf[i] * x[i];
            double tol = bound(t, wf, x, n);
            for (int m = 0; m < N_MODES; m++) {
                use_mode(m);
                lrp_qdot_quantize(t, x, qx, n);
                float got = lrp_qdot(t, w, qx, n);
                if (!(fabs(got - want) <= tol))
                    fprintf(stderr, "  %s n=%lld on %s\n", lrp_dtype_name(t), (long long)n, mode_name[m]);
                CHECK_NEAR(got, want, tol);
                CHECK_NEAR(lrp_qdot_ref(t, w, qx, n), want, tol);
            }
            use_mode(MODE_NATIVE);
        }
    }
}

TEST(matmul_forward_q_matches_the_widened_product) {
    enum { OUT = 96, ROWS = 100, IN = 512 };
    static uint8_t w[ROWS * (IN / 256) * 292];
    static float x[16 * IN], y[16 * OUT], ref[16 * OUT], wf[IN], bias[OUT];
    for (int k = 0; k < OUT; k++) bias[k] = rnd_normal();
    lrp_tensor bt = {.name = "b", .dtype = LRP_F32, .ndim = 1, .shape = {OUT}, .data = bias};
    lrp_weight B = lrp_weight_of(&bt);
    for (int ti = 0; ti < 3; ti++) {
        lrp_dtype t = types[ti];
        size_t row_bytes = lrp_dtype_row_bytes(t, IN);
        make_blocks(t, w, (int64_t)ROWS * IN / lrp_dtype_block_elems(t), 0, 0.02f);
        lrp_tensor wt = {.name = "w", .dtype = t, .ndim = 2, .shape = {ROWS, IN}, .data = w};
        lrp_weight W = lrp_weight_of(&wt);
        W.offset = 3;  // a row-sliced view, as of a fused q/k/v tensor
        W.out = OUT;
        CHECK(lrp_qdot_supported(&W));
        const int Ts[3] = {1, 3, 16};
        for (int k = 0; k < 3; k++) {
            int T = Ts[k];
            for (int i = 0; i < T * IN; i++) x[i] = rnd_normal();
            CHECK(lrp_matmul_forward_ref(ref, x, &W, &B, T) == 0);
            for (int m = 0; m < N_MODES; m++) {
                use_mode(m);
                // a small scratch for T = 16: the product allocates its own buffer
                float scratch[4096];
                CHECK(lrp_matmul_forward_q(y, x, &W, &B, T, scratch, T == 16 ? 16 : 4096) == 0);
                int bad = 0;
                for (int j = 0; j < OUT; j++) {
                    widen(t, w + (size_t)(3 + j) * row_bytes, wf, IN);
                    for (int r = 0; r < T; r++) {
                        double tol = bound(t, wf, x + (size_t)r * IN, IN) + 1e-6 * fabs(bias[j]);
                        if (!(fabs(y[r * OUT + j] - ref[r * OUT + j]) <= tol)) bad++;
                    }
                }
                if (bad) fprintf(stderr, "  %s T=%d on %s: %d outputs off\n", lrp_dtype_name(t), T, mode_name[m], bad);
                CHECK(bad == 0);
            }
            use_mode(MODE_NATIVE);
        }
    }
}

// F16 and BF16 rows (every finite pattern class: random bits with the exponent kept moderate) against
// float32 activations: no quantisation, so the widened product within float32 summation rounding,
// (n + 2)·2⁻²⁴·Σ|w·x|, on every path; also through lrp_matmul_forward_q with a bias.
TEST(sixteen_bit_rows_within_float_rounding_on_every_path) {
    enum { N = 1000 };  // not a multiple of 16 or 32: the tails run too
    static uint16_t w[N];
    static float wf[N], x[N];
    const lrp_dtype t16[2] = {LRP_F16, LRP_BF16};
    for (int ti = 0; ti < 2; ti++) {
        lrp_dtype t = t16[ti];
        for (int rep = 0; rep < 10; rep++) {
            int n = rep ? N - rep * 37 : N;
            for (int i = 0; i < n; i++) {
                float v = rnd_normal();
                w[i] = t == LRP_F16 ? lrp_f32_to_f16(v) : lrp_f32_to_bf16(v);
                wf[i] = t == LRP_F16 ? lrp_f16_to_f32(w[i]) : lrp_bf16_to_f32(w[i]);
                x[i] = rnd_normal();
            }
            double want = 0, mag = 0;
            for (int i = 0; i < n; i++) {
                want += (double)wf[i] * x[i];
                mag += fabs((double)wf[i] * x[i]);
            }
            double tol = (n + 2) * ldexp(1.0, -24) * mag;
            static float qx[N];
            CHECK(lrp_qdot_act_bytes(t, n) == (size_t)n * sizeof(float));
            for (int m = 0; m < N_MODES; m++) {
                use_mode(m);
                lrp_qdot_quantize(t, x, qx, n);
                CHECK_NEAR(lrp_qdot(t, w, qx, n), want, tol);
                CHECK_NEAR(lrp_qdot_ref(t, w, qx, n), want, tol);
            }
            use_mode(MODE_NATIVE);
        }
        // the product: 7 rows of a [9, 200] matrix from row 2, T = 3, with a bias
        enum { R = 9, IN = 200, OUT = 7, T = 3 };
        static uint16_t m16[R * IN];
        static float xs[T * IN], y[T * OUT], ref[T * OUT], bias[OUT], scratch[8192];
        for (int i = 0; i < R * IN; i++)
            m16[i] = t == LRP_F16 ? lrp_f32_to_f16(rnd_normal()) : lrp_f32_to_bf16(rnd_normal());
        for (int i = 0; i < T * IN; i++) xs[i] = rnd_normal();
        for (int j = 0; j < OUT; j++) bias[j] = rnd_normal();
        lrp_tensor wt = {.name = "w", .dtype = t, .ndim = 2, .shape = {R, IN}, .data = m16};
        lrp_tensor bt = {.name = "b", .dtype = LRP_F32, .ndim = 1, .shape = {OUT}, .data = bias};
        lrp_weight W = lrp_weight_of(&wt), B = lrp_weight_of(&bt);
        W.offset = 2;
        W.out = OUT;
        CHECK(lrp_qdot_supported(&W));
        CHECK(lrp_matmul_forward_ref(ref, xs, &W, &B, T) == 0);
        for (int m = 0; m < N_MODES; m++) {
            use_mode(m);
            CHECK(lrp_matmul_forward_q(y, xs, &W, &B, T, scratch, 8192) == 0);
            for (int k = 0; k < T * OUT; k++) CHECK_NEAR(y[k], ref[k], 1e-4 * (1.0 + fabs(ref[k])));
        }
        use_mode(MODE_NATIVE);
    }
}

TEST(unsupported_views_are_refused) {
    lrp_tensor f = {.name = "w", .dtype = LRP_F32, .ndim = 2, .shape = {4, 256}};
    lrp_weight W = lrp_weight_of(&f);
    CHECK(!lrp_qdot_supported(&W));
    lrp_tensor q = {.name = "w", .dtype = LRP_Q4_0, .ndim = 2, .shape = {4, 256}};
    W = lrp_weight_of(&q);
    CHECK(!lrp_qdot_supported(&W));
    lrp_tensor k = {.name = "w", .dtype = LRP_Q4_K, .ndim = 2, .shape = {4, 256}};
    W = lrp_weight_of(&k);
    CHECK(lrp_qdot_supported(&W));
    W.transposed = 1;
    CHECK(!lrp_qdot_supported(&W));
}

TEST_MAIN(T(quantize_is_exact_on_representable_rows), T(hand_made_blocks_give_the_exact_sum_on_every_path),
          T(random_blocks_within_the_quantisation_bound_on_every_path), T(matmul_forward_q_matches_the_widened_product),
          T(sixteen_bit_rows_within_float_rounding_on_every_path), T(unsupported_views_are_refused))
