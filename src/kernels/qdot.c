// Quantised dot products (kernels/qdot.h). Weight block layouts: kernels/dequant_quant.c's table.
//
//   Q8_0 × Q8_0 (32): Σ_b d_w·d_x · Σ_k qw_k·qx_k
//   Q4_K × Q8_K (256): d·d_x · Σ_j s_j Σ_{k in j} q4_k·qx_k − dmin·d_x · Σ_j m_j · (bsums[2j] + bsums[2j+1])
//   Q6_K × Q8_K (256): d·d_x · Σ_g sc_g Σ_{k in g} q6_k·qx_k − 32·d·d_x · Σ_g sc_g · bsums[g]
//
// where j runs over the 8 sub-blocks of 32, g over the 16 groups of 16, and bsums[g] is the sum of the
// activation's q over group g (kept in the Q8_K block, as ggml does, so the offsets cost 16 products).
//
// The AVX2 kernels multiply unsigned by signed bytes (vpmaddubsw: pairs summed into 16 bits, which the
// ranges here never overflow: 2·15·127, 2·63·127, 2·128·127 all < 32767), then widen to 32 bits with
// vpmaddwd, which also applies the sub-block scales of the K types. For Q8_0 × Q8_0 the signed weight
// bytes are made unsigned by moving their sign onto the activation (|w|·(x·sign w); x is never −128).
// The VNNI kernel does the same with vpdpbusd (u8·s8 summed by fours straight into 32 bits).
#include "kernels/qdot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/half.h"
#include "kernels/matmul.h"
#include "kernels/pool.h"

#if LRP_X86
#include <immintrin.h>
#endif

#define QK 32
#define QK_K 256

typedef struct {
    float d;
    int8_t q[QK];
} act_q8_0;  // 36 bytes

typedef struct {
    float d;
    int8_t q[QK_K];
    int16_t bsums[QK_K / 16];
} act_q8_k;  // 292 bytes

int lrp_qdot_enabled(void) {
    const char *e = getenv("ATTNLRP_QDOT");
    return !(e && strcmp(e, "0") == 0);
}

int lrp_qdot_dtype(lrp_dtype t) {
    return t == LRP_Q8_0 || t == LRP_Q4_K || t == LRP_Q6_K || t == LRP_F16 || t == LRP_BF16;
}

int lrp_qdot_wanted(lrp_dtype t, int T) {
    // bench_qdot on the development machine: the 16-bit types and Q8_0 beat widening + BLAS up to
    // T = 4 (Q8_0: to 16), the K types only at T = 1 and 2 (they decode each block once per row of x).
    switch (t) {
    case LRP_Q8_0: return T <= 16;
    case LRP_F16:
    case LRP_BF16: return T <= 4;
    case LRP_Q4_K:
    case LRP_Q6_K: return T <= 2;
    default: return 0;
    }
}

int lrp_qdot_supported(const lrp_weight *W) {
    if (!W->t || W->transposed || !lrp_qdot_dtype(W->t->dtype) || W->t->ndim < 2) return 0;
    return W->in % lrp_dtype_block_elems(W->t->dtype) == 0;
}

size_t lrp_qdot_act_bytes(lrp_dtype t, int64_t n) {
    if (t == LRP_F16 || t == LRP_BF16) return (size_t)n * sizeof(float);
    return t == LRP_Q8_0 ? (size_t)(n / QK) * sizeof(act_q8_0) : (size_t)(n / QK_K) * sizeof(act_q8_k);
}

// q = round(x/d) with d = max|x|/127 over the block (0 when the block is 0).
static float quantize_block(const float *x, int8_t *q, int n) {
    float amax = 0.0f;
    for (int k = 0; k < n; k++) amax = fmaxf(amax, fabsf(x[k]));
    float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
    for (int k = 0; k < n; k++) {
        float v = roundf(x[k] * id);
        q[k] = (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
    }
    return d;
}

void lrp_qdot_quantize(lrp_dtype t, const float *x, void *qx, int64_t n) {
    if (t == LRP_F16 || t == LRP_BF16) {  // 16-bit weights multiply float32 activations as they are
        memcpy(qx, x, (size_t)n * sizeof(float));
        return;
    }
    if (t == LRP_Q8_0) {
        act_q8_0 *b = qx;
        for (int64_t i = 0; i < n / QK; i++) b[i].d = quantize_block(x + i * QK, b[i].q, QK);
        return;
    }
    act_q8_k *b = qx;
    for (int64_t i = 0; i < n / QK_K; i++) {
        b[i].d = quantize_block(x + i * QK_K, b[i].q, QK_K);
        for (int g = 0; g < QK_K / 16; g++) {
            int s = 0;
            for (int k = 0; k < 16; k++) s += b[i].q[16 * g + k];
            b[i].bsums[g] = (int16_t)s;
        }
    }
}

static inline float load_f16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return lrp_f16_to_f32(h);
}

// The 6-bit scale and min of sub-block j of a Q4_K block (as in kernels/dequant_quant.c).
static inline void k_scale_min(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// ---- scalar references ----------------------------------------------------------------------------

static float dot_q8_0_ref(const uint8_t *w, const act_q8_0 *x, int64_t nb) {
    float acc = 0.0f;
    for (int64_t i = 0; i < nb; i++, w += 34) {
        const int8_t *q = (const int8_t *)(w + 2);
        int s = 0;
        for (int k = 0; k < QK; k++) s += q[k] * x[i].q[k];
        acc += load_f16(w) * x[i].d * (float)s;
    }
    return acc;
}

static float dot_q4_k_ref(const uint8_t *w, const act_q8_k *x, int64_t nb) {
    float acc = 0.0f;
    for (int64_t i = 0; i < nb; i++, w += 144) {
        const uint8_t *qs = w + 16;
        const int8_t *q8 = x[i].q;
        int sum = 0, msum = 0;
        for (int c = 0; c < 4; c++, qs += 32, q8 += 64) {
            int sc1, m1, sc2, m2, s1 = 0, s2 = 0;
            k_scale_min(2 * c, w + 4, &sc1, &m1);
            k_scale_min(2 * c + 1, w + 4, &sc2, &m2);
            for (int l = 0; l < 32; l++) {
                s1 += (qs[l] & 0x0F) * q8[l];
                s2 += (qs[l] >> 4) * q8[l + 32];
            }
            sum += sc1 * s1 + sc2 * s2;
            msum += m1 * (x[i].bsums[4 * c] + x[i].bsums[4 * c + 1]) + m2 * (x[i].bsums[4 * c + 2] + x[i].bsums[4 * c + 3]);
        }
        acc += load_f16(w) * x[i].d * (float)sum - load_f16(w + 2) * x[i].d * (float)msum;
    }
    return acc;
}

static float dot_q6_k_ref(const uint8_t *w, const act_q8_k *x, int64_t nb) {
    float acc = 0.0f;
    for (int64_t i = 0; i < nb; i++, w += 210) {
        const uint8_t *ql = w, *qh = w + 128;
        const int8_t *sc = (const int8_t *)(w + 192);
        int sum = 0;
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8) {
            const int8_t *q8 = x[i].q + 128 * h;
            for (int r = 0; r < 4; r++) {
                int s[2] = {0, 0};
                for (int l = 0; l < 32; l++) {
                    int lo = (r < 2 ? ql[l + 32 * (r & 1)] & 0x0F : ql[l + 32 * (r & 1)] >> 4);
                    int q6 = (lo | (((qh[l] >> (2 * r)) & 3) << 4)) - 32;
                    s[l / 16] += q6 * q8[32 * r + l];
                }
                sum += sc[2 * r] * s[0] + sc[2 * r + 1] * s[1];
            }
        }
        acc += load_f16(w + 208) * x[i].d * (float)sum;
    }
    return acc;
}

static float dot_f16_ref(const uint8_t *w, const float *x, int64_t n) {
    float acc = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, w + 2 * i, 2);
        acc += lrp_f16_to_f32(h) * x[i];
    }
    return acc;
}

static float dot_bf16_ref(const uint8_t *w, const float *x, int64_t n) {
    float acc = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, w + 2 * i, 2);
        acc += lrp_bf16_to_f32(h) * x[i];
    }
    return acc;
}

float lrp_qdot_ref(lrp_dtype t, const void *w, const void *qx, int64_t n) {
    switch (t) {
    case LRP_F16: return dot_f16_ref(w, qx, n);
    case LRP_BF16: return dot_bf16_ref(w, qx, n);
    case LRP_Q8_0: return dot_q8_0_ref(w, qx, n / QK);
    case LRP_Q4_K: return dot_q4_k_ref(w, qx, n / QK_K);
    case LRP_Q6_K: return dot_q6_k_ref(w, qx, n / QK_K);
    default: return 0.0f;
    }
}

// ---- AVX2 and AVX-512 VNNI ------------------------------------------------------------------------

#if LRP_X86
#define LRP_TARGET_VNNI __attribute__((target("avx512vnni,avx512vl,avx512bw,avx512f,avx2,fma,f16c")))

LRP_TARGET_AVX2 static inline float hsum_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

LRP_TARGET_AVX2 static inline int hsum_epi32_avx2(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

LRP_TARGET_AVX2 static inline float f16_avx2(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

// Unsigned bytes u times signed bytes s, summed by fours into 8 int32 lanes.
LRP_TARGET_AVX2 static inline __m256i dot_u8s8_avx2(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}
LRP_TARGET_VNNI static inline __m256i dot_u8s8_vnni(__m256i u, __m256i s) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
}

// Q8_0 × Q8_0 with the sign moved onto the activation; DOT is one of the two above.
#define DEF_DOT_Q8_0(NAME, TARGET, DOT)                                                                       \
    TARGET static float NAME(const uint8_t *w, const act_q8_0 *x, int64_t nb) {                               \
        __m256 acc = _mm256_setzero_ps();                                                                     \
        for (int64_t i = 0; i < nb; i++, w += 34) {                                                           \
            __m256i qw = _mm256_loadu_si256((const __m256i *)(w + 2));                                        \
            __m256i qx = _mm256_loadu_si256((const __m256i *)x[i].q);                                         \
            __m256i p = DOT(_mm256_sign_epi8(qw, qw), _mm256_sign_epi8(qx, qw));                              \
            acc = _mm256_fmadd_ps(_mm256_set1_ps(f16_avx2(w) * x[i].d), _mm256_cvtepi32_ps(p), acc);          \
        }                                                                                                     \
        return hsum_avx2(acc);                                                                                \
    }
DEF_DOT_Q8_0(dot_q8_0_avx2, LRP_TARGET_AVX2, dot_u8s8_avx2)
DEF_DOT_Q8_0(dot_q8_0_vnni, LRP_TARGET_VNNI, dot_u8s8_vnni)

// Four rows `stride` bytes apart against one activation row: four independent streams of weights in
// flight and one load of each activation block (a single row's loop waits on its loads).
#define DEF_DOT4_Q8_0(NAME, TARGET, DOT)                                                                      \
    TARGET static void NAME(const uint8_t *w, size_t stride, const act_q8_0 *x, int64_t nb, float *out) {    \
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
        for (int64_t i = 0; i < nb; i++, w += 34) {                                                           \
            __m256i qx = _mm256_loadu_si256((const __m256i *)x[i].q);                                         \
            for (int r = 0; r < 4; r++) {                                                                     \
                const uint8_t *b = w + r * stride;                                                            \
                __m256i qw = _mm256_loadu_si256((const __m256i *)(b + 2));                                    \
                __m256i p = DOT(_mm256_sign_epi8(qw, qw), _mm256_sign_epi8(qx, qw));                          \
                acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(f16_avx2(b) * x[i].d), _mm256_cvtepi32_ps(p), acc[r]); \
            }                                                                                                 \
        }                                                                                                     \
        for (int r = 0; r < 4; r++) out[r] = hsum_avx2(acc[r]);                                               \
    }
DEF_DOT4_Q8_0(dot4_q8_0_avx2, LRP_TARGET_AVX2, dot_u8s8_avx2)
DEF_DOT4_Q8_0(dot4_q8_0_vnni, LRP_TARGET_VNNI, dot_u8s8_vnni)

LRP_TARGET_AVX2 static float dot_q4_k_avx2(const uint8_t *w, const act_q8_k *x, int64_t nb) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    float acc = 0.0f;
    for (int64_t i = 0; i < nb; i++, w += 144) {
        int sc[8], m[8], msum = 0;
        for (int j = 0; j < 8; j++) {
            k_scale_min(j, w + 4, &sc[j], &m[j]);
            msum += m[j] * (x[i].bsums[2 * j] + x[i].bsums[2 * j + 1]);
        }
        const uint8_t *qs = w + 16;
        const int8_t *q8 = x[i].q;
        __m256i sum = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++, qs += 32, q8 += 64) {
            __m256i q4 = _mm256_loadu_si256((const __m256i *)qs);
            __m256i lo = _mm256_and_si256(q4, low4), hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), low4);
            __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)q8));
            __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 32)));
            plo = _mm256_madd_epi16(plo, _mm256_set1_epi16((short)sc[2 * c]));
            phi = _mm256_madd_epi16(phi, _mm256_set1_epi16((short)sc[2 * c + 1]));
            sum = _mm256_add_epi32(sum, _mm256_add_epi32(plo, phi));
        }
        // whole-block integer sums, then the scales (as the reference does)
        acc += f16_avx2(w) * x[i].d * (float)hsum_epi32_avx2(sum) - f16_avx2(w + 2) * x[i].d * (float)msum;
    }
    return acc;
}

LRP_TARGET_AVX2 static float dot_q6_k_avx2(const uint8_t *w, const act_q8_k *x, int64_t nb) {
    const __m256i low4 = _mm256_set1_epi8(0x0F), top2 = _mm256_set1_epi8(0x30);
    float acc = 0.0f;
    for (int64_t i = 0; i < nb; i++, w += 210) {
        const uint8_t *ql = w, *qh = w + 128;
        const int8_t *sc = (const int8_t *)(w + 192);
        float d = f16_avx2(w + 208) * x[i].d;
        int bias = 0;
        for (int g = 0; g < 16; g++) bias += sc[g] * x[i].bsums[g];
        __m256i sum = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8) {
            const int8_t *q8 = x[i].q + 128 * h;
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i hb = _mm256_loadu_si256((const __m256i *)qh);
            __m256i q6[4] = {
                _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), top2)),
                _mm256_or_si256(_mm256_and_si256(l1, low4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), top2)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4), _mm256_and_si256(hb, top2)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                                _mm256_and_si256(_mm256_srli_epi16(hb, 2), top2)),
            };
            for (int r = 0; r < 4; r++) {
                __m256i p = _mm256_maddubs_epi16(q6[r], _mm256_loadu_si256((const __m256i *)(q8 + 32 * r)));
                // 16-bit lanes 0-7 hold elements 0-15 (scale sc[2r]), lanes 8-15 elements 16-31 (sc[2r+1])
                __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[2 * r + 1]), _mm_set1_epi16(sc[2 * r]));
                sum = _mm256_add_epi32(sum, _mm256_madd_epi16(p, s));
            }
        }
        acc += d * (float)(hsum_epi32_avx2(sum) - 32 * bias);  // the whole block's integer sum
    }
    return acc;
}

#endif

#if LRP_X86
// 16-bit weights widened in registers (F16C / a shift for bf16), float32 products and sums; n is a
// multiple of 16 (rows of whole blocks are checked by the caller; the tail loop covers the rest).
#define DEF_DOT_16(NAME, WIDEN, SCALAR)                                                                       \
    LRP_TARGET_AVX512 static float NAME(const uint8_t *w, const float *x, int64_t n) {                        \
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();                                           \
        int64_t i = 0;                                                                                        \
        for (; i + 32 <= n; i += 32) {                                                                        \
            a0 = _mm512_fmadd_ps(WIDEN(_mm256_loadu_si256((const __m256i *)(w + 2 * i))),                    \
                                 _mm512_loadu_ps(x + i), a0);                                                 \
            a1 = _mm512_fmadd_ps(WIDEN(_mm256_loadu_si256((const __m256i *)(w + 2 * i + 32))),               \
                                 _mm512_loadu_ps(x + i + 16), a1);                                            \
        }                                                                                                     \
        float acc = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));                                              \
        for (; i < n; i++) {                                                                                  \
            uint16_t h;                                                                                       \
            memcpy(&h, w + 2 * i, 2);                                                                         \
            acc += SCALAR(h) * x[i];                                                                          \
        }                                                                                                     \
        return acc;                                                                                           \
    }
LRP_TARGET_AVX512 static inline __m512 widen_f16(__m256i h) { return _mm512_cvtph_ps(h); }
LRP_TARGET_AVX512 static inline __m512 widen_bf16(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
DEF_DOT_16(dot_f16_avx512, widen_f16, lrp_f16_to_f32)
DEF_DOT_16(dot_bf16_avx512, widen_bf16, lrp_bf16_to_f32)

#define DEF_DOT_16_AVX2(NAME, WIDEN, SCALAR)                                                                  \
    LRP_TARGET_AVX2 static float NAME(const uint8_t *w, const float *x, int64_t n) {                          \
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();                                           \
        int64_t i = 0;                                                                                        \
        for (; i + 16 <= n; i += 16) {                                                                        \
            a0 = _mm256_fmadd_ps(WIDEN(_mm_loadu_si128((const __m128i *)(w + 2 * i))), _mm256_loadu_ps(x + i), \
                                 a0);                                                                         \
            a1 = _mm256_fmadd_ps(WIDEN(_mm_loadu_si128((const __m128i *)(w + 2 * i + 16))),                  \
                                 _mm256_loadu_ps(x + i + 8), a1);                                             \
        }                                                                                                     \
        float acc = hsum_avx2(_mm256_add_ps(a0, a1));                                                         \
        for (; i < n; i++) {                                                                                  \
            uint16_t h;                                                                                       \
            memcpy(&h, w + 2 * i, 2);                                                                         \
            acc += SCALAR(h) * x[i];                                                                          \
        }                                                                                                     \
        return acc;                                                                                           \
    }
LRP_TARGET_AVX2 static inline __m256 widen8_f16(__m128i h) { return _mm256_cvtph_ps(h); }
LRP_TARGET_AVX2 static inline __m256 widen8_bf16(__m128i h) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
DEF_DOT_16_AVX2(dot_f16_avx2, widen8_f16, lrp_f16_to_f32)
DEF_DOT_16_AVX2(dot_bf16_avx2, widen8_bf16, lrp_bf16_to_f32)
#endif

typedef float (*dot_fn)(const uint8_t *w, const void *qx, int64_t nb);
typedef void (*dot4_fn)(const uint8_t *w, size_t stride, const void *qx, int64_t nb, float *out);

static float ref_q8_0(const uint8_t *w, const void *x, int64_t nb) { return dot_q8_0_ref(w, x, nb); }
static float ref_f16(const uint8_t *w, const void *x, int64_t n) { return dot_f16_ref(w, x, n); }
static float ref_bf16(const uint8_t *w, const void *x, int64_t n) { return dot_bf16_ref(w, x, n); }
static float ref_q4_k(const uint8_t *w, const void *x, int64_t nb) { return dot_q4_k_ref(w, x, nb); }
static float ref_q6_k(const uint8_t *w, const void *x, int64_t nb) { return dot_q6_k_ref(w, x, nb); }
#if LRP_X86
static float avx2_q8_0(const uint8_t *w, const void *x, int64_t nb) { return dot_q8_0_avx2(w, x, nb); }
static float vnni_q8_0(const uint8_t *w, const void *x, int64_t nb) { return dot_q8_0_vnni(w, x, nb); }
static void avx2_4_q8_0(const uint8_t *w, size_t st, const void *x, int64_t nb, float *o) {
    dot4_q8_0_avx2(w, st, x, nb, o);
}
static void vnni_4_q8_0(const uint8_t *w, size_t st, const void *x, int64_t nb, float *o) {
    dot4_q8_0_vnni(w, st, x, nb, o);
}
static float avx512_f16(const uint8_t *w, const void *x, int64_t n) { return dot_f16_avx512(w, x, n); }
static float avx512_bf16(const uint8_t *w, const void *x, int64_t n) { return dot_bf16_avx512(w, x, n); }
static float avx2_f16(const uint8_t *w, const void *x, int64_t n) { return dot_f16_avx2(w, x, n); }
static float avx2_bf16(const uint8_t *w, const void *x, int64_t n) { return dot_bf16_avx2(w, x, n); }
static float avx2_q4_k(const uint8_t *w, const void *x, int64_t nb) { return dot_q4_k_avx2(w, x, nb); }
static float avx2_q6_k(const uint8_t *w, const void *x, int64_t nb) { return dot_q6_k_avx2(w, x, nb); }
#endif

// The kernel for dtype t on this CPU (NULL for other dtypes).
static dot_fn pick(lrp_dtype t) {
#if LRP_X86
    if (lrp_cpu_has_avx512()) {
        if (t == LRP_F16) return avx512_f16;
        if (t == LRP_BF16) return avx512_bf16;
    }
    if (lrp_cpu_has_avx2()) {
        switch (t) {
        case LRP_F16: return avx2_f16;
        case LRP_BF16: return avx2_bf16;
        case LRP_Q8_0: return lrp_cpu_has_vnni() ? vnni_q8_0 : avx2_q8_0;
        case LRP_Q4_K: return avx2_q4_k;
        case LRP_Q6_K: return avx2_q6_k;
        default: break;
        }
    }
#endif
    switch (t) {
    case LRP_F16: return ref_f16;
    case LRP_BF16: return ref_bf16;
    case LRP_Q8_0: return ref_q8_0;
    case LRP_Q4_K: return ref_q4_k;
    case LRP_Q6_K: return ref_q6_k;
    default: return NULL;
    }
}

// The four-row kernel for dtype t on this CPU, NULL where there is none.
static dot4_fn pick4(lrp_dtype t) {
#if LRP_X86
    if (lrp_cpu_has_avx2() && t == LRP_Q8_0) return lrp_cpu_has_vnni() ? vnni_4_q8_0 : avx2_4_q8_0;
#endif
    (void)t;
    return NULL;
}

float lrp_qdot(lrp_dtype t, const void *w, const void *qx, int64_t n) {
    dot_fn f = pick(t);
    return f ? f(w, qx, n / lrp_dtype_block_elems(t)) : 0.0f;
}

// ---- the product ----------------------------------------------------------------------------------

typedef struct {
    dot_fn dot;
    dot4_fn dot4;
    const uint8_t *w;  // first stored row of the view
    size_t row_bytes, act_bytes;
    const uint8_t *qx;  // T quantised rows
    int64_t nb;         // blocks per row
    int T, out;
    float *y;
} qjob;

// Asks for the next rows' bytes ahead of their use: the weights stream from memory once per token, and
// the loads of one row alone leave most of the memory system idle (1.5x on the development machine).
static inline void prefetch_rows(const uint8_t *p, size_t bytes, int wanted) {
    if (!wanted) return;
    for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(p + o, 0, 3);
}

static void q_rows(void *ctx, int j0, int j1) {
    const qjob *q = ctx;
    if (q->dot4)
        for (; j0 + 4 <= j1; j0 += 4) {
            const uint8_t *row = q->w + (size_t)j0 * q->row_bytes;
            prefetch_rows(row + 4 * q->row_bytes, 4 * q->row_bytes, j1 - j0 > 4);
            for (int t = 0; t < q->T; t++) {
                float o[4];
                q->dot4(row, q->row_bytes, q->qx + (size_t)t * q->act_bytes, q->nb, o);
                for (int r = 0; r < 4; r++) q->y[(size_t)t * q->out + j0 + r] = o[r];
            }
        }
    for (int j = j0; j < j1; j++) {
        const uint8_t *row = q->w + (size_t)j * q->row_bytes;
        prefetch_rows(row + 2 * q->row_bytes, q->row_bytes, j + 2 < j1);
        for (int t = 0; t < q->T; t++)
            q->y[(size_t)t * q->out + j] = q->dot(row, q->qx + (size_t)t * q->act_bytes, q->nb);
    }
}

int lrp_matmul_forward_q(float *y, const float *x, const lrp_weight *W, const lrp_weight *bias, int T, float *scratch,
                         size_t scratch_floats) {
    lrp_dtype dt = W->t->dtype;
    int in = (int)W->in, out = (int)W->out;
    size_t act = lrp_qdot_act_bytes(dt, in);
    size_t need = (size_t)T * act + (size_t)out * sizeof(float);  // act is a multiple of 4 bytes
    void *mem = NULL;
    unsigned char *buf = (unsigned char *)scratch;
    if (need > scratch_floats * sizeof(float)) {
        buf = mem = malloc(need);
        if (!mem) return -1;
    }
    float *bvec = (float *)(buf + (size_t)T * act);
    for (int t = 0; t < T; t++) lrp_qdot_quantize(dt, x + (size_t)t * in, buf + (size_t)t * act, in);
    size_t row_bytes = lrp_dtype_row_bytes(dt, in);
    qjob q = {.dot = pick(dt), .dot4 = pick4(dt), .w = (const uint8_t *)W->t->data + (size_t)W->offset * row_bytes,
              .row_bytes = row_bytes, .act_bytes = act, .qx = buf, .nb = in / lrp_dtype_block_elems(dt), .T = T,
              .out = out, .y = y};
    int threads = (int64_t)out * in * T < (1 << 18) ? 1 : lrp_pool_threads();
    lrp_parallel_for(out, threads, 0, q_rows, &q);
    if (bias && bias->t) {
        lrp_weight_vector(bias, bvec);
        for (int t = 0; t < T; t++)
            for (int j = 0; j < out; j++) y[(size_t)t * out + j] += bvec[j];
    }
    free(mem);
    return 0;
}
