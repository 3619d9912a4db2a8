#include "kernels/half.h"

#include "kernels/cpu.h"

#if LRP_X86
#include <immintrin.h>
#endif

uint16_t lrp_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // NaN
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);  // >= 65520 (the tie above 65504): inf
    if (a >= 0x38800000u) {  // a normal half (>= 2^-14): rebias the exponent, round away 13 bits
        uint32_t r = a - 0x38000000u;
        r += 0xfffu + ((r >> 13) & 1u);
        return (uint16_t)(sign | (r >> 13));
    }
    if (a < 0x33000000u) return sign;  // below 2^-25 (or exactly it, a tie to even): zero
    // A subnormal half counts units of 2^-24: the significand shifted right, rounded to even.
    uint32_t m = (a & 0x7fffffu) | 0x800000u;
    int shift = 126 - (int)(a >> 23);  // 14 .. 24
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return (uint16_t)(sign | q);
}

void lrp_f16_to_f32_row_ref(const uint16_t *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = lrp_f16_to_f32(src[i]);
}

void lrp_bf16_to_f32_row_ref(const uint16_t *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = lrp_bf16_to_f32(src[i]);
}

#if LRP_X86
LRP_TARGET_AVX2 static void f16_to_f32_row_f16c(const uint16_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h;
        memcpy(&h, src + i, 16);
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    lrp_f16_to_f32_row_ref(src + i, dst + i, n - i);
}

LRP_TARGET_AVX2 static void bf16_to_f32_row_avx2(const uint16_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h;
        memcpy(&h, src + i, 16);
        __m256i w = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(w));
    }
    lrp_bf16_to_f32_row_ref(src + i, dst + i, n - i);
}
#endif

void lrp_f16_to_f32_row(const uint16_t *src, float *dst, int64_t n) {
#if LRP_X86
    if (lrp_cpu_has_avx2()) {
        f16_to_f32_row_f16c(src, dst, n);
        return;
    }
#endif
    lrp_f16_to_f32_row_ref(src, dst, n);
}

void lrp_bf16_to_f32_row(const uint16_t *src, float *dst, int64_t n) {
#if LRP_X86
    if (lrp_cpu_has_avx2()) {
        bf16_to_f32_row_avx2(src, dst, n);
        return;
    }
#endif
    lrp_bf16_to_f32_row_ref(src, dst, n);
}
