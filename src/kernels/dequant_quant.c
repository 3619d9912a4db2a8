// Widening of ggml's block-quantised types to float32. The block layouts and formulas are those of
// ggml (ggml-common.h for the structs, ggml-quants.c dequantize_row_*); every multi-byte field is
// little-endian and read with memcpy, so blocks may sit at any address.
//
//   type   elems bytes  layout                                          value of element k
//   Q8_0     32    34   f16 d, i8 q[32]                                 d * q[k]
//   Q4_0     32    18   f16 d, u8 qs[16]                                d * (nib(k) - 8)
//   Q4_1     32    20   f16 d, f16 m, u8 qs[16]                         d * nib(k) + m
//   Q5_0     32    22   f16 d, u32 qh, u8 qs[16]                        d * (nib(k) + 16*bit_k(qh) - 16)
//   Q5_1     32    24   f16 d, f16 m, u32 qh, u8 qs[16]                 d * (nib(k) + 16*bit_k(qh)) + m
//   Q4_K    256   144   f16 d, f16 dmin, u8 sc[12], u8 qs[128]          d*s_j * q - dmin*m_j  (j = k/32)
//   Q5_K    256   176   f16 d, f16 dmin, u8 sc[12], u8 qh[32], qs[128]  as Q4_K with a fifth bit
//   Q6_K    256   210   u8 ql[128], u8 qh[64], i8 sc[16], f16 d         d * sc[k/16] * (q6 - 32)
//   Q8_K    256   292   f32 d, i8 q[256], i16 bsums[16]                 d * q[k]
//
// In the 32-element types, nib(k) is the low nibble of qs[k] for k < 16 and the high nibble of
// qs[k-16] otherwise. The K types split 256 elements into 8 sub-blocks of 32 whose 6-bit scale s_j and
// min m_j are packed into 12 bytes (see k_scale_min).
#include "kernels/dequant_quant.h"

#include <string.h>

#include "kernels/cpu.h"
#include "kernels/half.h"

#if LRP_X86
#include <immintrin.h>
#endif

#define QK 32
#define QK_K 256

static inline float load_f16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return lrp_f16_to_f32(h);
}

static inline uint32_t load_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

// The 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes q of a Q4_K/Q5_K block:
// bytes 0-3 hold scales 0-3 in their low 6 bits, bytes 4-7 mins 0-3 likewise; sub-blocks 4-7 keep
// their low 4 bits in the nibbles of bytes 8-11 (scale low, min high) and their top 2 bits in the
// top 2 bits of bytes 0-3 (scales) and 4-7 (mins).
static inline void k_scale_min(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

static void dequant_q8_0(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 34, y += QK) {
        float d = load_f16(b);
        const int8_t *q = (const int8_t *)(b + 2);
        for (int k = 0; k < QK; k++) y[k] = d * (float)q[k];
    }
}

// The four 32-element types share one layout, d [, m] [, qh] qs, and one formula, d * (q - zero) [+ m]:
// q is the nibble with, for Q5_*, a fifth bit from qh; zero is 8 (Q4_0), 16 (Q5_0) or 0 (with a min).
// Called with constant flags, so each type compiles to its own loop.
static inline void dequant_q4_q5(const uint8_t *b, float *y, int64_t nb, int has_min, int has_high) {
    size_t bytes = 18 + (has_min ? 2 : 0) + (has_high ? 4 : 0);
    int zero = has_min ? 0 : has_high ? 16 : 8;
    for (int64_t i = 0; i < nb; i++, b += bytes, y += QK) {
        float d = load_f16(b), m = has_min ? load_f16(b + 2) : 0.0f;
        const uint8_t *p = b + (has_min ? 4 : 2);
        uint32_t qh = has_high ? load_u32(p) : 0;
        const uint8_t *qs = p + (has_high ? 4 : 0);
        for (int k = 0; k < QK / 2; k++) {
            int lo = (qs[k] & 0x0F) | (int)(((qh >> k) & 1u) << 4);
            int hi = (qs[k] >> 4) | (int)(((qh >> (k + 16)) & 1u) << 4);
            if (has_min) {
                y[k] = d * (float)lo + m;
                y[k + QK / 2] = d * (float)hi + m;
            } else {
                y[k] = d * (float)(lo - zero);
                y[k + QK / 2] = d * (float)(hi - zero);
            }
        }
    }
}

// Q4_K and Q5_K: each 64-element chunk c uses 32 bytes of qs: the low nibbles are sub-block 2c, the
// high 2c+1. For Q5_K the fifth bit of element l of sub-block j is bit j of qh[l].
static inline void dequant_q4_q5_k(const uint8_t *b, float *y, int64_t nb, int has_high) {
    size_t bytes = has_high ? 176 : 144;
    for (int64_t i = 0; i < nb; i++, b += bytes) {
        float d = load_f16(b), dmin = load_f16(b + 2);
        const uint8_t *scales = b + 4, *qh = b + 16, *qs = b + (has_high ? 48 : 16);
        for (int c = 0; c < 4; c++, qs += 32, y += 64) {
            int sc, m;
            k_scale_min(2 * c, scales, &sc, &m);
            float d1 = d * (float)sc, m1 = dmin * (float)m;
            k_scale_min(2 * c + 1, scales, &sc, &m);
            float d2 = d * (float)sc, m2 = dmin * (float)m;
            for (int l = 0; l < 32; l++) {
                int lo = qs[l] & 0x0F, hi = qs[l] >> 4;
                if (has_high) {
                    lo |= ((qh[l] >> (2 * c)) & 1) << 4;
                    hi |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
                }
                y[l] = d1 * (float)lo - m1;
                y[l + 32] = d2 * (float)hi - m2;
            }
        }
    }
}

// Two halves of 128 elements; within a half, element 32*r + l (r = 0..3, l = 0..31) takes its low 4
// bits from ql[l + 32*(r&1)] (low nibble for r < 2, high for r >= 2) and its top 2 bits from bits
// 2r..2r+1 of qh[l]; its scale is sc[8*half + 2*r + l/16].
static void dequant_q6_k(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 210) {
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        float d = load_f16(b + 208);
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8, y += 128) {
            for (int l = 0; l < 32; l++) {
                int s = l / 16;
                int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * (float)sc[s] * (float)q1;
                y[l + 32] = d * (float)sc[s + 2] * (float)q2;
                y[l + 64] = d * (float)sc[s + 4] * (float)q3;
                y[l + 96] = d * (float)sc[s + 6] * (float)q4;
            }
        }
    }
}

static void dequant_q8_k(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 292, y += QK_K) {
        float d;
        memcpy(&d, b, 4);
        const int8_t *q = (const int8_t *)(b + 4);
        for (int k = 0; k < QK_K; k++) y[k] = d * (float)q[k];
    }
}

void lrp_dequant_row_quant_ref(lrp_dtype t, const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    switch (t) {
    case LRP_Q8_0: dequant_q8_0(b, dst, n / QK); break;
    case LRP_Q4_0: dequant_q4_q5(b, dst, n / QK, 0, 0); break;
    case LRP_Q4_1: dequant_q4_q5(b, dst, n / QK, 1, 0); break;
    case LRP_Q5_0: dequant_q4_q5(b, dst, n / QK, 0, 1); break;
    case LRP_Q5_1: dequant_q4_q5(b, dst, n / QK, 1, 1); break;
    case LRP_Q4_K: dequant_q4_q5_k(b, dst, n / QK_K, 0); break;
    case LRP_Q5_K: dequant_q4_q5_k(b, dst, n / QK_K, 1); break;
    case LRP_Q6_K: dequant_q6_k(b, dst, n / QK_K); break;
    case LRP_Q8_K: dequant_q8_k(b, dst, n / QK_K); break;
    default: memset(dst, 0, (size_t)n * sizeof(float)); break;
    }
}

#if LRP_X86
// AVX2 versions of the most used types (Q8_0 for speed tests, Q4_0, and Q4_K + Q6_K, which make up
// llama.cpp's Q4_K_M files). Each mirrors its scalar loop above operation for operation. They are
// compiled for AVX2 function by function (the helpers too, so that they inline) and only called when
// the CPU has it (kernels/cpu.h).

// Widens 8 signed bytes to floats.
LRP_TARGET_AVX2 static inline __m256 i8x8_to_ps(__m128i v) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v));
}

// Stores 16 signed bytes times scale at y[0..16).
LRP_TARGET_AVX2 static inline void store_i8x16(float *y, __m128i q, __m256 scale) {
    _mm256_storeu_ps(y, _mm256_mul_ps(scale, i8x8_to_ps(q)));
    _mm256_storeu_ps(y + 8, _mm256_mul_ps(scale, i8x8_to_ps(_mm_srli_si128(q, 8))));
}

// Stores scale * q - offset for 16 unsigned bytes q (< 128).
LRP_TARGET_AVX2 static inline void store_u8x16_affine(float *y, __m128i q, __m256 scale, __m256 offset) {
    _mm256_storeu_ps(y, _mm256_sub_ps(_mm256_mul_ps(scale, i8x8_to_ps(q)), offset));
    _mm256_storeu_ps(y + 8, _mm256_sub_ps(_mm256_mul_ps(scale, i8x8_to_ps(_mm_srli_si128(q, 8))), offset));
}

LRP_TARGET_AVX2 static void dequant_q8_0_avx2(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 34, y += QK) {
        __m256 d = _mm256_set1_ps(load_f16(b));
        store_i8x16(y, _mm_loadu_si128((const __m128i *)(b + 2)), d);
        store_i8x16(y + 16, _mm_loadu_si128((const __m128i *)(b + 18)), d);
    }
}

LRP_TARGET_AVX2 static void dequant_q4_0_avx2(const uint8_t *b, float *y, int64_t nb) {
    const __m128i low4 = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
    for (int64_t i = 0; i < nb; i++, b += 18, y += QK) {
        __m256 d = _mm256_set1_ps(load_f16(b));
        __m128i qs = _mm_loadu_si128((const __m128i *)(b + 2));
        __m128i lo = _mm_sub_epi8(_mm_and_si128(qs, low4), eight);
        __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(qs, 4), low4), eight);
        store_i8x16(y, lo, d);
        store_i8x16(y + 16, hi, d);
    }
}

LRP_TARGET_AVX2 static void dequant_q4_k_avx2(const uint8_t *b, float *y, int64_t nb) {
    const __m128i low4 = _mm_set1_epi8(0x0F);
    for (int64_t i = 0; i < nb; i++, b += 144) {
        float d = load_f16(b), dmin = load_f16(b + 2);
        const uint8_t *scales = b + 4, *qs = b + 16;
        for (int c = 0; c < 4; c++, qs += 32, y += 64) {
            int sc, m;
            k_scale_min(2 * c, scales, &sc, &m);
            __m256 d1 = _mm256_set1_ps(d * (float)sc), m1 = _mm256_set1_ps(dmin * (float)m);
            k_scale_min(2 * c + 1, scales, &sc, &m);
            __m256 d2 = _mm256_set1_ps(d * (float)sc), m2 = _mm256_set1_ps(dmin * (float)m);
            for (int h = 0; h < 2; h++) {
                __m128i q = _mm_loadu_si128((const __m128i *)(qs + 16 * h));
                store_u8x16_affine(y + 16 * h, _mm_and_si128(q, low4), d1, m1);
                store_u8x16_affine(y + 32 + 16 * h, _mm_and_si128(_mm_srli_epi16(q, 4), low4), d2, m2);
            }
        }
    }
}

LRP_TARGET_AVX2 static void dequant_q6_k_avx2(const uint8_t *b, float *y, int64_t nb) {
    const __m128i low4 = _mm_set1_epi8(0x0F), top2 = _mm_set1_epi8(0x30), bias = _mm_set1_epi8(32);
    for (int64_t i = 0; i < nb; i++, b += 210) {
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        float d = load_f16(b + 208);
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8, y += 128) {
            for (int s = 0; s < 2; s++) {  // l in [16s, 16s + 16): scales sc[s + 2r]
                int l = 16 * s;
                __m128i a = _mm_loadu_si128((const __m128i *)(ql + l));
                __m128i c = _mm_loadu_si128((const __m128i *)(ql + 32 + l));
                __m128i hb = _mm_loadu_si128((const __m128i *)(qh + l));
                __m128i q1 = _mm_or_si128(_mm_and_si128(a, low4), _mm_and_si128(_mm_slli_epi16(hb, 4), top2));
                __m128i q2 = _mm_or_si128(_mm_and_si128(c, low4), _mm_and_si128(_mm_slli_epi16(hb, 2), top2));
                __m128i q3 = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(a, 4), low4), _mm_and_si128(hb, top2));
                __m128i q4 = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(c, 4), low4),
                                          _mm_and_si128(_mm_srli_epi16(hb, 2), top2));
                store_i8x16(y + l, _mm_sub_epi8(q1, bias), _mm256_set1_ps(d * (float)sc[s]));
                store_i8x16(y + l + 32, _mm_sub_epi8(q2, bias), _mm256_set1_ps(d * (float)sc[s + 2]));
                store_i8x16(y + l + 64, _mm_sub_epi8(q3, bias), _mm256_set1_ps(d * (float)sc[s + 4]));
                store_i8x16(y + l + 96, _mm_sub_epi8(q4, bias), _mm256_set1_ps(d * (float)sc[s + 6]));
            }
        }
    }
}
#endif

void lrp_dequant_row_quant(lrp_dtype t, const void *src, float *dst, int64_t n) {
#if LRP_X86
    const uint8_t *b = src;
    if (lrp_cpu_has_avx2()) {
        switch (t) {
        case LRP_Q8_0: dequant_q8_0_avx2(b, dst, n / QK); return;
        case LRP_Q4_0: dequant_q4_0_avx2(b, dst, n / QK); return;
        case LRP_Q4_K: dequant_q4_k_avx2(b, dst, n / QK_K); return;
        case LRP_Q6_K: dequant_q6_k_avx2(b, dst, n / QK_K); return;
        default: break;
        }
    }
#endif
    lrp_dequant_row_quant_ref(t, src, dst, n);
}
