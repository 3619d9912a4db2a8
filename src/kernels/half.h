// IEEE half (f16) and bfloat16 conversions. Scalar versions are the reference; the row versions use
// F16C / AVX2 where the CPU has them (kernels/cpu.h) and are compared against the scalar ones in tests.
#ifndef LRP_HALF_H
#define LRP_HALF_H

#include <stdint.h>
#include <string.h>

static inline float lrp_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// Round-to-nearest-even, NaN kept quiet (as PyTorch does).
static inline uint16_t lrp_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float lrp_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else {  // subnormal: normalise
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while ((man & 0x400u) == 0);
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// Round-to-nearest-even; overflow gives ±inf; NaN stays NaN, made quiet, with the top of its payload
// (what F16C's VCVTPS2PH does).
uint16_t lrp_f32_to_f16(float f);

// n elements widened; the fast paths when the CPU has them, else the _ref loops (the scalar reference).
void lrp_f16_to_f32_row(const uint16_t *src, float *dst, int64_t n);
void lrp_bf16_to_f32_row(const uint16_t *src, float *dst, int64_t n);
void lrp_f16_to_f32_row_ref(const uint16_t *src, float *dst, int64_t n);
void lrp_bf16_to_f32_row_ref(const uint16_t *src, float *dst, int64_t n);

#endif
