// Dequantisation of ggml block types, checked against the formats' definitions (ggml-common.h block
// layouts, ggml-quants.c formulas): each test builds blocks byte by byte from chosen scales and
// quants, packing them the way the format describes, and computes the expected values with the
// formula written per element. Then round trips through the test writer's quantiser, within each
// type's error bound.
#include <stdint.h>
#include <string.h>

#include "formats/tensor_file.h"
#include "harness.h"
#include "kernels/cpu.h"
#include "kernels/dequant.h"
#include "kernels/dequant_quant.h"
#include "support/gguf_writer.h"

// IEEE binary16 value from its bits, by the definition (independent of kernels/half.h).
static double f16_value(uint16_t h) {
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
}

static uint32_t rng_state = 12345;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

// Uniform in [-1, 1).
static double rnd_unit(void) {
    return (double)(rnd() >> 8) / (double)(1u << 23) - 1.0;
}

// Scales used across the tests: 1, 0.5, -2, 0.0999755859375 (0x2E66), a subnormal, 65504 (max).
static const uint16_t f16_scales[] = {0x3C00, 0x3800, 0xC000, 0x2E66, 0x0203, 0x7BFF};
#define N_SCALES (sizeof f16_scales / sizeof f16_scales[0])

static double tol_for(double expected) {
    return 1e-6 * fabs(expected) + 1e-30;
}

// Compares lrp_dequant_row(t, blocks, n) with expected; returns the number of mismatches.
static int check_row(lrp_dtype t, const uint8_t *blocks, const double *expected, int n) {
    float *y = malloc((size_t)n * sizeof *y);
    lrp_dequant_row(t, blocks, y, n);
    int bad = 0;
    for (int k = 0; k < n; k++) {
        if (!(fabs(y[k] - expected[k]) <= tol_for(expected[k]))) {
            if (bad < 5)
                fprintf(stderr, "  %s element %d: got %.9g, expected %.9g\n", lrp_dtype_name(t), k, y[k],
                        expected[k]);
            bad++;
        }
    }
    free(y);
    return bad;
}

// ---------------------------------------------------------------------------------------------
// Hand-made blocks with a few literal values, as documentation of the layouts.

TEST(q8_0_literal_block) {
    uint8_t b[34] = {0};
    put16(b, 0x3800);  // d = 0.5
    b[2 + 0] = 3;
    b[2 + 1] = (uint8_t)-128;
    b[2 + 31] = 127;
    float y[32];
    lrp_dequant_row(LRP_Q8_0, b, y, 32);
    CHECK(y[0] == 1.5f);
    CHECK(y[1] == -64.0f);
    CHECK(y[2] == 0.0f);
    CHECK(y[31] == 63.5f);
}

TEST(q4_0_literal_block) {
    uint8_t b[18] = {0};
    put16(b, 0x4000);  // d = 2
    b[2 + 0] = 0x9F;   // element 0: low nibble 15 -> 2*(15-8) = 14; element 16: high nibble 9 -> 2
    b[2 + 15] = 0x08;  // element 15: 8 -> 0; element 31: 0 -> -16
    float y[32];
    lrp_dequant_row(LRP_Q4_0, b, y, 32);
    CHECK(y[0] == 14.0f);
    CHECK(y[16] == 2.0f);
    CHECK(y[15] == 0.0f);
    CHECK(y[31] == -16.0f);
    CHECK(y[1] == -16.0f);  // a zero byte is -8 steps
}

TEST(q5_0_literal_block) {
    uint8_t b[22] = {0};
    put16(b, 0x3C00);                   // d = 1
    uint32_t qh = (1u << 0) | (1u << 17);  // the fifth bit of elements 0 and 17
    memcpy(b + 2, &qh, 4);
    b[6 + 0] = 0x21;  // element 0: 1 | 16 -> 17 - 16 = 1; element 16: 2 -> -14
    b[6 + 1] = 0x30;  // element 1: 0 -> -16; element 17: 3 | 16 -> 3
    float y[32];
    lrp_dequant_row(LRP_Q5_0, b, y, 32);
    CHECK(y[0] == 1.0f);
    CHECK(y[16] == -14.0f);
    CHECK(y[1] == -16.0f);
    CHECK(y[17] == 3.0f);
}

TEST(q4_k_literal_block) {
    uint8_t b[144] = {0};
    put16(b, 0x3C00);      // d = 1
    put16(b + 2, 0x3800);  // dmin = 0.5
    // sub-block 0: scale 3, min 4; sub-block 5: scale 0x25 (37), min 0x3A (58)
    b[4 + 0] = 3;
    b[4 + 4] = 4;
    b[4 + 1] = (uint8_t)((37 >> 4) << 6);  // top bits of scale 5 ride on byte 1
    b[4 + 5] = (uint8_t)((58 >> 4) << 6);  // top bits of min 5 on byte 5
    b[4 + 9] = (uint8_t)((37 & 15) | ((58 & 15) << 4));
    b[16 + 0] = 0x07;       // element 0 (sub-block 0): q = 7 -> 1*3*7 - 0.5*4 = 19
    b[16 + 64 + 2] = 0xA0;  // element 2*64 + 32 + 2 = 162 (sub-block 5): q = 10 -> 37*10 - 29 = 341
    float y[256];
    lrp_dequant_row(LRP_Q4_K, b, y, 256);
    CHECK(y[0] == 19.0f);
    CHECK(y[162] == 341.0f);
    CHECK(y[1] == -2.0f);     // q = 0 in sub-block 0: just the min
    CHECK(y[160] == -29.0f);  // q = 0 in sub-block 5
}

// ---------------------------------------------------------------------------------------------
// Every element of random blocks against the per-element definition.

// 32-element types. The nibble of element k: low nibble of qs[k] for k < 16, high of qs[k-16].
static int nibble(const uint8_t *qs, int k) {
    return k < 16 ? qs[k] & 15 : qs[k - 16] >> 4;
}

TEST(q8_0_definition) {
    enum { NB = 3 };
    uint8_t b[NB * 34];
    double want[NB * 32];
    for (int i = 0; i < NB; i++) {
        uint8_t *blk = b + 34 * i;
        uint16_t dh = f16_scales[(i * 2 + 1) % N_SCALES];
        put16(blk, dh);
        for (int k = 0; k < 32; k++) {
            blk[2 + k] = (uint8_t)rnd();
            want[32 * i + k] = f16_value(dh) * (int8_t)blk[2 + k];
        }
    }
    CHECK(check_row(LRP_Q8_0, b, want, NB * 32) == 0);
}

TEST(q4_0_and_q4_1_definition) {
    enum { NB = (int)N_SCALES };
    uint8_t b0[NB * 18], b1[NB * 20];
    double w0[NB * 32], w1[NB * 32];
    for (int i = 0; i < NB; i++) {
        uint16_t dh = f16_scales[i], mh = f16_scales[(i + 3) % N_SCALES];
        uint8_t *p0 = b0 + 18 * i, *p1 = b1 + 20 * i;
        put16(p0, dh);
        put16(p1, dh);
        put16(p1 + 2, mh);
        for (int k = 0; k < 16; k++) p0[2 + k] = p1[4 + k] = (uint8_t)rnd();
        for (int k = 0; k < 32; k++) {
            w0[32 * i + k] = f16_value(dh) * (nibble(p0 + 2, k) - 8);
            w1[32 * i + k] = f16_value(dh) * nibble(p1 + 4, k) + f16_value(mh);
        }
    }
    CHECK(check_row(LRP_Q4_0, b0, w0, NB * 32) == 0);
    CHECK(check_row(LRP_Q4_1, b1, w1, NB * 32) == 0);
}

TEST(q5_0_and_q5_1_definition) {
    enum { NB = (int)N_SCALES };
    uint8_t b0[NB * 22], b1[NB * 24];
    double w0[NB * 32], w1[NB * 32];
    for (int i = 0; i < NB; i++) {
        uint16_t dh = f16_scales[i], mh = f16_scales[(i + 2) % N_SCALES];
        uint8_t *p0 = b0 + 22 * i, *p1 = b1 + 24 * i;
        put16(p0, dh);
        put16(p1, dh);
        put16(p1 + 2, mh);
        // qh is a little-endian u32 whose bit k is the fifth bit of element k.
        uint8_t qh[4];
        for (int j = 0; j < 4; j++) qh[j] = (uint8_t)rnd();
        memcpy(p0 + 2, qh, 4);
        memcpy(p1 + 4, qh, 4);
        for (int k = 0; k < 16; k++) p0[6 + k] = p1[8 + k] = (uint8_t)rnd();
        for (int k = 0; k < 32; k++) {
            int high = (qh[k / 8] >> (k % 8)) & 1;
            int q = nibble(p0 + 6, k) + 16 * high;
            w0[32 * i + k] = f16_value(dh) * (q - 16);
            w1[32 * i + k] = f16_value(dh) * q + f16_value(mh);
        }
    }
    CHECK(check_row(LRP_Q5_0, b0, w0, NB * 32) == 0);
    CHECK(check_row(LRP_Q5_1, b1, w1, NB * 32) == 0);
}

// K-quant 6-bit scales and mins of the 8 sub-blocks, packed into 12 bytes as ggml-common.h describes:
// sub-blocks 0-3 keep scale and min whole in the low 6 bits of bytes j and j+4; sub-blocks 4-7 keep
// their low 4 bits in byte j+4 (scale in the low nibble, min in the high one) and their top 2 bits in
// the top 2 bits of bytes j-4 (scale) and j (min).
static void pack_k_scales(uint8_t s[12], const int sc[8], const int mn[8]) {
    memset(s, 0, 12);
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)sc[j];
        s[j + 4] = (uint8_t)mn[j];
    }
    for (int j = 4; j < 8; j++) {
        s[j + 4] = (uint8_t)((sc[j] & 15) | ((mn[j] & 15) << 4));
        s[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
        s[j] |= (uint8_t)((mn[j] >> 4) << 6);
    }
}

// Q4_K / Q5_K element k (0..255): sub-block k/32; its low 4 bits in qs[32*(k/64) + k%32], low
// nibble when k%64 < 32; Q5_K's fifth bit is bit k/32 of qh[k%32].
TEST(q4_k_and_q5_k_definition) {
    enum { NB = 3 };
    uint8_t b4[NB * 144], b5[NB * 176];
    double w4[NB * 256], w5[NB * 256];
    for (int i = 0; i < NB; i++) {
        uint8_t *p4 = b4 + 144 * i, *p5 = b5 + 176 * i;
        uint16_t dh = f16_scales[i], mh = f16_scales[(i + 1) % N_SCALES];
        int sc[8], mn[8], q[256];
        for (int j = 0; j < 8; j++) {
            sc[j] = (int)(rnd() % 64);
            mn[j] = (int)(rnd() % 64);
        }
        sc[7] = 63;  // extremes of the 6-bit range
        mn[4] = 63;
        sc[0] = 0;
        for (int k = 0; k < 256; k++) q[k] = (int)(rnd() % 32);
        put16(p4, dh);
        put16(p4 + 2, mh);
        pack_k_scales(p4 + 4, sc, mn);
        memcpy(p5, p4, 16);
        uint8_t *qs4 = p4 + 16, *qh5 = p5 + 16, *qs5 = p5 + 48;
        memset(qs4, 0, 128);
        memset(qh5, 0, 32);
        memset(qs5, 0, 128);
        for (int k = 0; k < 256; k++) {
            int byte = 32 * (k / 64) + k % 32, shift = (k % 64) < 32 ? 0 : 4;
            qs4[byte] |= (uint8_t)((q[k] & 15) << shift);
            qs5[byte] |= (uint8_t)((q[k] & 15) << shift);
            qh5[k % 32] |= (uint8_t)((q[k] >> 4) << (k / 32));
            int j = k / 32;
            w4[256 * i + k] = f16_value(dh) * sc[j] * (q[k] & 15) - f16_value(mh) * mn[j];
            w5[256 * i + k] = f16_value(dh) * sc[j] * q[k] - f16_value(mh) * mn[j];
        }
    }
    CHECK(check_row(LRP_Q4_K, b4, w4, NB * 256) == 0);
    CHECK(check_row(LRP_Q5_K, b5, w5, NB * 256) == 0);
}

// Q6_K element e (0..255) with 6-bit q: half h = e/128, quarter r = (e%128)/32, l = e%32; low 4 bits
// in ql[64h + l + 32*(r&1)] (low nibble for r < 2), top 2 bits at bits 2r of qh[32h + l]; signed
// 8-bit scale sc[e/16]; value d * sc * (q - 32); d is the f16 at the end of the block.
TEST(q6_k_definition) {
    enum { NB = 3 };
    uint8_t b[NB * 210];
    double w[NB * 256];
    for (int i = 0; i < NB; i++) {
        uint8_t *p = b + 210 * i;
        memset(p, 0, 210);
        uint16_t dh = f16_scales[(i + 2) % N_SCALES];
        put16(p + 208, dh);
        int8_t sc[16];
        for (int j = 0; j < 16; j++) sc[j] = (int8_t)rnd();
        sc[0] = -128;
        sc[15] = 127;
        memcpy(p + 192, sc, 16);
        for (int e = 0; e < 256; e++) {
            int q = (int)(rnd() % 64);
            if (e == 0) q = 0;
            if (e == 255) q = 63;
            int h = e / 128, r = (e % 128) / 32, l = e % 32;
            p[64 * h + l + 32 * (r & 1)] |= (uint8_t)((q & 15) << (r < 2 ? 0 : 4));
            p[128 + 32 * h + l] |= (uint8_t)((q >> 4) << (2 * r));
            w[256 * i + e] = f16_value(dh) * sc[e / 16] * (q - 32);
        }
    }
    CHECK(check_row(LRP_Q6_K, b, w, NB * 256) == 0);
}

TEST(q8_k_definition) {
    enum { NB = 2 };
    uint8_t b[NB * 292];
    double w[NB * 256];
    for (int i = 0; i < NB; i++) {
        uint8_t *p = b + 292 * i;
        float d = i ? -0.03125f : 1.0e-3f;
        memcpy(p, &d, 4);
        for (int k = 0; k < 256; k++) {
            p[4 + k] = (uint8_t)rnd();
            w[256 * i + k] = (double)d * (int8_t)p[4 + k];
        }
        memset(p + 260, 0x55, 32);  // bsums: not part of the value
    }
    CHECK(check_row(LRP_Q8_K, b, w, NB * 256) == 0);
}

// Blocks are read at any address (GGUF data is only aligned to the file's alignment).
TEST(unaligned_blocks) {
    uint8_t raw[1 + 2 * 210];
    uint8_t *p = raw + 1;
    memset(p, 0, 2 * 210);
    put16(p + 208, 0x3C00);
    put16(p + 210 + 208, 0x4000);
    for (int j = 0; j < 16; j++) p[192 + j] = p[210 + 192 + j] = 1;
    double w[512];
    for (int e = 0; e < 512; e++) w[e] = (e < 256 ? 1.0 : 2.0) * -32;  // all q = 0
    CHECK(check_row(LRP_Q6_K, p, w, 512) == 0);
}

// The optimised kernels (AVX2 where the CPU has it) agree with the scalar reference on random blocks:
// random quant bytes, random finite f16 scales, rows at odd addresses, rows of one block, of an odd
// number of blocks and of many. With ATTNLRP_CPU=generic the dispatch is the reference, bit for bit.
static int check_fast_against_reference(const uint8_t *b, lrp_dtype t, int n, int generic) {
    int be = lrp_dtype_block_elems(t), bad = 0;
    float *fast = malloc((size_t)n * sizeof *fast), *ref = malloc((size_t)n * sizeof *ref);
    lrp_dequant_row_quant(t, b, fast, n);
    lrp_dequant_row_quant_ref(t, b, ref, n);
    for (int blk = 0; blk < n / be; blk++) {
        double scale = 0;
        for (int k = 0; k < be; k++) scale = fmax(scale, fabs(ref[blk * be + k]));
        for (int k = 0; k < be; k++) {
            int i = blk * be + k;
            int ok = generic ? memcmp(&fast[i], &ref[i], sizeof(float)) == 0 : fabs(fast[i] - ref[i]) <= 1e-6 * scale;
            if (!ok && bad++ < 3)
                fprintf(stderr, "  %s%s element %d of %d: fast %.9g, reference %.9g\n", generic ? "generic " : "",
                        lrp_dtype_name(t), i, n, fast[i], ref[i]);
        }
    }
    free(fast);
    free(ref);
    return bad;
}

TEST(fast_kernels_match_the_scalar_reference) {
    enum { N = 1024 };
    static uint8_t raw[N * 2 + 1];
    for (int generic = 0; generic < 2; generic++) {
        if (generic) setenv("ATTNLRP_CPU", "generic", 1);
        else unsetenv("ATTNLRP_CPU");
        lrp_cpu_refresh();
        for (int t = LRP_Q8_0; t < LRP_N_WEIGHT_DTYPES; t++) {
            uint8_t *b = raw + 1;
            size_t bb = lrp_dtype_block_bytes((lrp_dtype)t);
            int be = lrp_dtype_block_elems((lrp_dtype)t);
            for (size_t i = 0; i < (size_t)(N / be) * bb; i++) b[i] = (uint8_t)rnd();
            for (int blk = 0; blk < N / be; blk++) {  // finite f16 (or f32) scales
                uint8_t *p = b + blk * bb;
                uint16_t h1 = (uint16_t)((rnd() & 0x83FF) | ((1 + rnd() % 29) << 10));
                uint16_t h2 = (uint16_t)((rnd() & 0x83FF) | ((1 + rnd() % 29) << 10));
                if (t == LRP_Q6_K) {
                    put16(p + 208, h1);
                } else if (t == LRP_Q8_K) {
                    float d = (float)rnd_unit();
                    memcpy(p, &d, 4);
                } else {
                    put16(p, h1);
                    if (t == LRP_Q4_1 || t == LRP_Q5_1 || t == LRP_Q4_K || t == LRP_Q5_K) put16(p + 2, h2);
                }
            }
            CHECK(check_fast_against_reference(b, (lrp_dtype)t, be, generic) == 0);
            CHECK(check_fast_against_reference(b + bb, (lrp_dtype)t, 3 * be, generic) == 0);
            CHECK(check_fast_against_reference(b, (lrp_dtype)t, N, generic) == 0);
        }
    }
    unsetenv("ATTNLRP_CPU");
    lrp_cpu_refresh();
}

// ---------------------------------------------------------------------------------------------
// Round trips through the writer's quantiser.

// Test data: blocks of different amplitude and sign (all positive, all negative, all zero, mixed).
static void make_data(float *x, int n, int block) {
    for (int i = 0; i < n; i += block) {
        int kind = (i / block) % 5;
        double amp = ldexp(1.0, (int)(rnd() % 12) - 6);
        for (int k = 0; k < block; k++) {
            double u = rnd_unit();
            double v = kind == 0 ? amp * u : kind == 1 ? amp * (1.5 + u) : kind == 2 ? -amp * (1.5 + u)
                     : kind == 3 ? 0.0 : amp * u * u * u;
            x[i + k] = (float)v;
        }
    }
}

// Largest |x| and the range [min(min,0), max(max,0)] of x[0..n).
static double amax_of(const float *x, int n) {
    double a = 0;
    for (int i = 0; i < n; i++) a = fmax(a, fabs(x[i]));
    return a;
}

static double range_of(const float *x, int n) {
    double mn = 0, mx = 0;
    for (int i = 0; i < n; i++) {
        mn = fmin(mn, x[i]);
        mx = fmax(mx, x[i]);
    }
    return mx - mn;
}

static double spread_of(const float *x, int n) {
    double mn = x[0], mx = x[0];
    for (int i = 0; i < n; i++) {
        mn = fmin(mn, x[i]);
        mx = fmax(mx, x[i]);
    }
    return mx - mn + fabs(mn) / 512;  // the f16 minimum may sit one step below the true one
}

// The largest allowed |error| of element k of a block quantised from x (block = elements per block),
// from each format's step size: half a step, steps derived from the block's range over its levels,
// with f16 scales rounded up by at most 2^-10 relative. K types add the rounding of their 6/8-bit
// sub-block scales (one super-block step d) and of the mins (one dmin).
static double bound(lrp_dtype t, const float *xb, int k) {
    const double r = 1.0 + 1.0 / 512;
    switch (t) {
    case LRP_F32: return 0;
    case LRP_F16: return fabs(xb[k]) / 2048 + 3e-8;  // plus subnormal spacing
    case LRP_BF16: return fabs(xb[k]) / 256;
    case LRP_Q8_0: return 0.5 * amax_of(xb, 32) / 127 * r;
    case LRP_Q8_K: return 0.5 * amax_of(xb, 256) / 127 * r;
    case LRP_Q4_0: return 0.5 * amax_of(xb, 32) / 7 * r;
    case LRP_Q5_0: return 0.5 * amax_of(xb, 32) / 15 * r;
    case LRP_Q4_1: return 0.5 * spread_of(xb, 32) / 15 * r;
    case LRP_Q5_1: return 0.5 * spread_of(xb, 32) / 31 * r;
    case LRP_Q4_K:
    case LRP_Q5_K: {
        double levels = t == LRP_Q4_K ? 15 : 31;
        double A = amax_of(xb, 256);
        double dmin = A / 63 * r, d = (2 * A + dmin) / levels / 63 * r;
        int j = k / 32;
        return 0.5 * ((range_of(xb + 32 * j, 32) + dmin) / levels + d) * r;
    }
    case LRP_Q6_K: {
        double d = amax_of(xb, 256) / 31 / 127 * r;
        return 0.5 * (amax_of(xb + 16 * (k / 16), 16) / 31 + d) * r;
    }
    default: return 0;
    }
}

TEST(round_trip_every_type_within_its_bound) {
    enum { N = 2048 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    uint8_t *q = malloc(N * 4);
    for (int t = 0; t < LRP_N_WEIGHT_DTYPES; t++) {
        int be = lrp_dtype_block_elems((lrp_dtype)t);
        make_data(x, N, be < 32 ? 32 : be);
        size_t bytes = gw_quantize((lrp_dtype)t, x, N, q);
        CHECK(bytes == lrp_dtype_row_bytes((lrp_dtype)t, N));
        lrp_dequant_row((lrp_dtype)t, q, y, N);
        int bad = 0;
        double worst = 0;
        for (int i = 0; i < N; i++) {
            const float *xb = x + (i / be) * be;
            double err = fabs((double)y[i] - x[i]), b = bound((lrp_dtype)t, xb, i % be);
            worst = fmax(worst, b > 0 ? err / b : err);
            if (!(err <= b)) {
                if (bad++ < 3)
                    fprintf(stderr, "  %s element %d: x %.9g -> %.9g, error %.3g > bound %.3g\n",
                            lrp_dtype_name((lrp_dtype)t), i, x[i], y[i], err, b);
            }
        }
        CHECK(bad == 0);
        // The bound is not vacuous: typical errors use a good part of it.
        if (t != LRP_F32) CHECK(worst > 0.2);
    }
    free(x);
    free(y);
    free(q);
}

// The quantiser puts every value of a constant block on a level (a symmetric format represents
// amax exactly: q = ±(levels)), and zero blocks stay zero.
TEST(round_trip_exact_values) {
    float x[256], y[256];
    uint8_t q[512];
    for (int t = LRP_Q8_0; t < LRP_N_WEIGHT_DTYPES; t++) {
        int be = lrp_dtype_block_elems((lrp_dtype)t);
        for (int k = 0; k < 256; k++) x[k] = 0;
        gw_quantize((lrp_dtype)t, x, be, q);
        lrp_dequant_row((lrp_dtype)t, q, y, be);
        int zeros = 1;
        for (int k = 0; k < be; k++) zeros &= y[k] == 0.0f;
        CHECK(zeros);
        for (int k = 0; k < be; k++) x[k] = k % 2 ? 0.75f : -0.75f;  // 0.75 is exact in f16
        gw_quantize((lrp_dtype)t, x, be, q);
        lrp_dequant_row((lrp_dtype)t, q, y, be);
        double worst = 0;
        for (int k = 0; k < be; k++) worst = fmax(worst, fabs(y[k] - x[k]));
        if (t == LRP_Q8_0 || t == LRP_Q8_K || t == LRP_Q4_0 || t == LRP_Q5_0) CHECK(worst < 1e-3);
    }
}

TEST_MAIN(T(q8_0_literal_block), T(q4_0_literal_block), T(q5_0_literal_block), T(q4_k_literal_block),
          T(q8_0_definition), T(q4_0_and_q4_1_definition), T(q5_0_and_q5_1_definition),
          T(q4_k_and_q5_k_definition), T(q6_k_definition), T(q8_k_definition), T(unaligned_blocks), T(fast_kernels_match_the_scalar_reference),
          T(round_trip_every_type_within_its_bound), T(round_trip_exact_values))
