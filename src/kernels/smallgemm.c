#include "kernels/smallgemm.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/pool.h"

#if LRP_X86
#include <immintrin.h>
#endif

// ---- the problem and its column ranges ------------------------------------------------------------

enum { ISA_GENERIC, ISA_AVX2, ISA_AVX512 };

typedef struct {
    int trans_b, M, N, K, lda, ldb, ldc, isa;
    float alpha, beta;
    const float *A, *B;
    float *C;
    float *At;  // trans_b: A transposed, [K][Mp], zero past row M
    int Mp;
    int grain;  // columns of C per unit of work (a kernel's panel width)
} task;

static int min_int(int a, int b) { return a < b ? a : b; }

// What C's row `i`, columns [j, j + n), gets when nothing was accumulated yet: beta · C (0 when beta = 0,
// never reading C).
static void scale_row(float *c, int n, float beta) {
    if (beta == 0.0f) memset(c, 0, (size_t)n * sizeof(float));
    else if (beta != 1.0f)
        for (int j = 0; j < n; j++) c[j] *= beta;
}

// ---- generic C ----------------------------------------------------------------------------------

static void nn_generic(const task *t, int n0, int n1) {
    for (int i = 0; i < t->M; i++) {
        float *c = t->C + (size_t)i * t->ldc + n0;
        scale_row(c, n1 - n0, t->beta);
        const float *a = t->A + (size_t)i * t->lda;
        for (int k = 0; k < t->K; k++) {
            float x = t->alpha * a[k];
            const float *b = t->B + (size_t)k * t->ldb + n0;
            for (int j = 0; j < n1 - n0; j++) c[j] += x * b[j];
        }
    }
}

static void nt_generic(const task *t, int n0, int n1) {
    for (int i = 0; i < t->M; i++) {
        const float *a = t->A + (size_t)i * t->lda;
        float *c = t->C + (size_t)i * t->ldc;
        for (int j = n0; j < n1; j++) {
            const float *b = t->B + (size_t)j * t->ldb;
            float s[4] = {0, 0, 0, 0};
            int k = 0;
            for (; k + 4 <= t->K; k += 4)
                for (int u = 0; u < 4; u++) s[u] += a[k + u] * b[k + u];
            for (; k < t->K; k++) s[0] += a[k] * b[k];
            float d = (s[0] + s[1]) + (s[2] + s[3]);
            c[j] = t->alpha * d + (t->beta == 0.0f ? 0.0f : t->beta * c[j]);
        }
    }
}

// Rows k0 .. k0 + kc of B, columns j0 .. j0 + nw, copied to pk [kc][pw] with zeros past nw; the rows 8
// ahead are prefetched. A panel of B read in place would not stay in L1: its rows are a power-of-two
// stride apart (the weights' widths) and fall into the same few cache sets.
static void pack_panel(const task *t, int k0, int kc, int j0, int nw, int pw, float *pk) {
    for (int k = 0; k < kc; k++) {
        const float *src = t->B + (size_t)(k0 + k) * t->ldb + j0;
#if LRP_X86
        if (k + 8 < kc)
            for (int o = 0; o < nw + 15; o += 16)
                _mm_prefetch((const char *)(src + 8 * (size_t)t->ldb + min_int(o, nw - 1)), _MM_HINT_T0);
#endif
        memcpy(pk + (size_t)k * pw, src, (size_t)nw * sizeof(float));
        if (nw < pw) memset(pk + (size_t)k * pw + nw, 0, (size_t)(pw - nw) * sizeof(float));
    }
}

// ---- AVX-512F -----------------------------------------------------------------------------------
// op(B) = B: 8 rows × 48 columns (3 vectors) of C in 24 registers; A broadcast. B is read KC rows at a
// time, left to right (KC sequential streams), copied panel by panel (KC × 48 floats) into L1 and read
// from there by every block of 8 rows; C is accumulated in place (it stays in L2).
// op(B) = Bᵀ: 8 columns of C (8 rows of B, each read once, in place) × up to 48 rows of C (3 vectors of
// the packed Aᵀ) in 24 registers.

#define KC 64
// The register tiles are arrays indexed by constant loops: unrolled completely, they live in registers.
#define UNROLL _Pragma("GCC unroll 8")

#if LRP_X86
// Rows m0 .. m0 + mc (≤ 48) of A, columns k0 .. k0 + kc, copied to pa as blocks of 8 rows, each [kc][8]
// (zero past row M): the 8 values broadcast at one step lie together, rather than 8 rows a power-of-two
// stride apart that share the cache sets the panels of B use.
static void pack_rows(const task *t, int m0, int mc, int k0, int kc, float *pa) {
    for (int i0 = 0; i0 < mc; i0 += 8) {
        float *dst = pa + (size_t)(i0 / 8) * KC * 8;
        for (int r = 0; r < 8; r++) {
            const float *src = t->A + (size_t)(m0 + i0 + r) * t->lda + k0;
            if (i0 + r < mc)
                for (int k = 0; k < kc; k++) dst[k * 8 + r] = src[k];
            else
                for (int k = 0; k < kc; k++) dst[k * 8 + r] = 0.0f;
        }
    }
}

LRP_TARGET_AVX512 static void nn_avx512(const task *t, int n0, int n1) {
    _Alignas(64) float pk[KC * 48], pa[48 * KC];
    for (int m0 = 0; m0 < t->M; m0 += 48) {
        int mc = min_int(48, t->M - m0);
        for (int k0 = 0; k0 < t->K; k0 += KC) {
            int kc = min_int(KC, t->K - k0);
            pack_rows(t, m0, mc, k0, kc, pa);
            for (int j0 = n0; j0 < n1; j0 += 48) {
                int nw = min_int(48, n1 - j0);
                __mmask16 pm[3];  // the panel's columns in each vector (zeros past nw)
                UNROLL for (int v = 0; v < 3; v++) {
                    int left = nw - 16 * v;
                    pm[v] = left >= 16 ? (__mmask16)0xFFFF : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
                }
                const float *src = t->B + (size_t)k0 * t->ldb + j0;
                for (int k = 0; k < kc; k++, src += t->ldb) {  // pack_panel, inline: a call per row costs
                    if (k + 8 < kc)                            // as much as the row's products
                        UNROLL for (int v = 0; v < 3; v++)
                            _mm_prefetch((const char *)(src + 8 * (size_t)t->ldb + min_int(16 * v, nw - 1)),
                                         _MM_HINT_T0);
                    UNROLL for (int v = 0; v < 3; v++)
                        _mm512_store_ps(pk + k * 48 + 16 * v, _mm512_maskz_loadu_ps(pm[v], src + 16 * v));
                }
                for (int i0 = 0; i0 < mc; i0 += 8) {
                    int rows = min_int(8, mc - i0);
                    const float *a = pa + (size_t)(i0 / 8) * KC * 8;
                    __m512 c[8][3];
                    UNROLL for (int r = 0; r < 8; r++)
                        UNROLL for (int v = 0; v < 3; v++) c[r][v] = _mm512_setzero_ps();
                    const float *b = pk;
                    for (int k = 0; k < kc; k++, b += 48, a += 8) {
                        __m512 bv[3];
                        UNROLL for (int v = 0; v < 3; v++) bv[v] = _mm512_load_ps(b + 16 * v);
                        UNROLL for (int r = 0; r < 8; r++) {
                            __m512 x = _mm512_set1_ps(a[r]);
                            UNROLL for (int v = 0; v < 3; v++) c[r][v] = _mm512_fmadd_ps(x, bv[v], c[r][v]);
                        }
                    }
                    __m512 alpha = _mm512_set1_ps(t->alpha), beta = _mm512_set1_ps(t->beta);
                    UNROLL for (int r = 0; r < 8; r++) {
                        if (r >= rows) break;
                        float *cr = t->C + (size_t)(m0 + i0 + r) * t->ldc + j0;
                        UNROLL for (int v = 0; v < 3; v++) {
                            int left = nw - 16 * v;
                            if (left <= 0) break;
                            __mmask16 mk = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
                            __m512 old = _mm512_setzero_ps();
                            if (k0) old = _mm512_maskz_loadu_ps(mk, cr + 16 * v);
                            else if (t->beta != 0.0f)
                                old = _mm512_mul_ps(beta, _mm512_maskz_loadu_ps(mk, cr + 16 * v));
                            _mm512_mask_storeu_ps(cr + 16 * v, mk, _mm512_fmadd_ps(alpha, c[r][v], old));
                        }
                    }
                }
            }
        }
    }
}

// Columns j0 .. j0 + cols (≤ 8) of C, rows m0 .. m0 + 16·MV (the packed Aᵀ is zero past M).
#define NT512(MV)                                                                                            \
    LRP_TARGET_AVX512 static void nt512_##MV(const task *t, int m0, int j0, int cols) {                      \
        const float *b[8];                                                                                   \
        UNROLL for (int r = 0; r < 8; r++) b[r] = t->B + (size_t)(j0 + (r < cols ? r : 0)) * t->ldb;               \
        __m512 c[8][MV];                                                                                     \
        UNROLL for (int r = 0; r < 8; r++)                                                                          \
            UNROLL for (int v = 0; v < MV; v++) c[r][v] = _mm512_setzero_ps();                                      \
        const float *next[8]; /* the rows of the next block (these again for the last): prefetched */      \
        UNROLL for (int r = 0; r < 8; r++) next[r] = j0 + 8 + r < t->N ? b[r] + 8 * (size_t)t->ldb : b[r];   \
        const float *at = t->At + m0;                                                                        \
        for (int k = 0; k < t->K; k++, at += t->Mp) {                                                        \
            if (k % 16 == 0) { /* 2 lines ahead in these rows, then into the next block's */                \
                UNROLL for (int r = 0; r < 8; r++)                                                           \
                    _mm_prefetch((const char *)(k + 32 < t->K ? b[r] + k + 32 : next[r] + (k + 32 - t->K)),   \
                                 _MM_HINT_T0);                                                               \
            }                                                                                                \
            __m512 av[MV];                                                                                   \
            UNROLL for (int v = 0; v < MV; v++) av[v] = _mm512_loadu_ps(at + 16 * v);                               \
            UNROLL for (int r = 0; r < 8; r++) {                                                                    \
                __m512 x = _mm512_set1_ps(b[r][k]);                                                          \
                UNROLL for (int v = 0; v < MV; v++) c[r][v] = _mm512_fmadd_ps(x, av[v], c[r][v]);                   \
            }                                                                                                \
        }                                                                                                    \
        float tmp[8][16 * MV];                                                                               \
        UNROLL for (int r = 0; r < 8; r++)                                                                          \
            UNROLL for (int v = 0; v < MV; v++) _mm512_storeu_ps(&tmp[r][16 * v], c[r][v]);                        \
        store_transposed(t, m0, min_int(16 * MV, t->M - m0), j0, cols, &tmp[0][0], 16 * MV);                \
    }

#endif  // LRP_X86

// C[m0 + i, j0 + r] = alpha · tmp[r][i] + beta · C, for i < rows, r < cols.
static void store_transposed(const task *t, int m0, int rows, int j0, int cols, const float *tmp, int stride) {
    for (int i = 0; i < rows; i++) {
        float *c = t->C + (size_t)(m0 + i) * t->ldc + j0;
        for (int r = 0; r < cols; r++) {
            float v = t->alpha * tmp[(size_t)r * stride + i];
            c[r] = t->beta == 0.0f ? v : v + t->beta * c[r];
        }
    }
}

#if LRP_X86
NT512(1)
NT512(2)
NT512(3)

LRP_TARGET_AVX512 static void nt_avx512(const task *t, int n0, int n1) {
    for (int m0 = 0; m0 < t->M; m0 += 48) {
        int mv = (min_int(48, t->M - m0) + 15) / 16;
        for (int j0 = n0; j0 < n1; j0 += 8) {
            int cols = min_int(8, n1 - j0);
            if (mv == 3) nt512_3(t, m0, j0, cols);
            else if (mv == 2) nt512_2(t, m0, j0, cols);
            else nt512_1(t, m0, j0, cols);
        }
    }
}

// ---- AVX2 + FMA ---------------------------------------------------------------------------------
// The same two shapes in 16 registers: op(B) = B as 4 rows × 24 columns (3 vectors); op(B) = Bᵀ as 6
// columns × 16 rows (2 vectors).

LRP_TARGET_AVX2 static __m256i lanes_below(int r) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(r), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

LRP_TARGET_AVX2 static void nn_avx2(const task *t, int n0, int n1) {
    _Alignas(32) float pk[KC * 24];
    for (int k0 = 0; k0 < t->K; k0 += KC) {
        int kc = min_int(KC, t->K - k0);
        for (int j0 = n0; j0 < n1; j0 += 24) {
            int nw = min_int(24, n1 - j0);
            pack_panel(t, k0, kc, j0, nw, 24, pk);
            for (int i0 = 0; i0 < t->M; i0 += 4) {
                int rows = min_int(4, t->M - i0);
                const float *a[4];
                UNROLL for (int r = 0; r < 4; r++) a[r] = t->A + (size_t)(i0 + (r < rows ? r : 0)) * t->lda + k0;
                __m256 c[4][3];
                UNROLL for (int r = 0; r < 4; r++)
                    UNROLL for (int v = 0; v < 3; v++) c[r][v] = _mm256_setzero_ps();
                const float *b = pk;
                for (int k = 0; k < kc; k++, b += 24) {
                    __m256 bv[3];
                    UNROLL for (int v = 0; v < 3; v++) bv[v] = _mm256_load_ps(b + 8 * v);
                    UNROLL for (int r = 0; r < 4; r++) {
                        __m256 x = _mm256_broadcast_ss(&a[r][k]);
                        UNROLL for (int v = 0; v < 3; v++) c[r][v] = _mm256_fmadd_ps(x, bv[v], c[r][v]);
                    }
                }
                __m256 alpha = _mm256_set1_ps(t->alpha), beta = _mm256_set1_ps(t->beta);
                UNROLL for (int r = 0; r < 4; r++) {
                    if (r >= rows) break;
                    float *cr = t->C + (size_t)(i0 + r) * t->ldc + j0;
                    UNROLL for (int v = 0; v < 3; v++) {
                        if (8 * v >= nw) break;
                        __m256i mk = lanes_below(nw - 8 * v);
                        __m256 old = _mm256_setzero_ps();
                        if (k0) old = _mm256_maskload_ps(cr + 8 * v, mk);
                        else if (t->beta != 0.0f) old = _mm256_mul_ps(beta, _mm256_maskload_ps(cr + 8 * v, mk));
                        _mm256_maskstore_ps(cr + 8 * v, mk, _mm256_fmadd_ps(alpha, c[r][v], old));
                    }
                }
            }
        }
    }
}

#define NT256(MV)                                                                                            \
    LRP_TARGET_AVX2 static void nt256_##MV(const task *t, int m0, int j0, int cols) {                        \
        const float *b[6];                                                                                   \
        UNROLL for (int r = 0; r < 6; r++) b[r] = t->B + (size_t)(j0 + (r < cols ? r : 0)) * t->ldb;               \
        __m256 c[6][MV];                                                                                     \
        UNROLL for (int r = 0; r < 6; r++)                                                                          \
            UNROLL for (int v = 0; v < MV; v++) c[r][v] = _mm256_setzero_ps();                                      \
        const float *at = t->At + m0;                                                                        \
        for (int k = 0; k < t->K; k++, at += t->Mp) {                                                        \
            __m256 av[MV];                                                                                   \
            UNROLL for (int v = 0; v < MV; v++) av[v] = _mm256_loadu_ps(at + 8 * v);                                \
            UNROLL for (int r = 0; r < 6; r++) {                                                                    \
                __m256 x = _mm256_broadcast_ss(&b[r][k]);                                                    \
                UNROLL for (int v = 0; v < MV; v++) c[r][v] = _mm256_fmadd_ps(x, av[v], c[r][v]);                   \
            }                                                                                                \
        }                                                                                                    \
        float tmp[6][8 * MV];                                                                                \
        UNROLL for (int r = 0; r < 6; r++)                                                                          \
            UNROLL for (int v = 0; v < MV; v++) _mm256_storeu_ps(&tmp[r][8 * v], c[r][v]);                         \
        store_transposed(t, m0, min_int(8 * MV, t->M - m0), j0, cols, &tmp[0][0], 8 * MV);                  \
    }

NT256(1)
NT256(2)

LRP_TARGET_AVX2 static void nt_avx2(const task *t, int n0, int n1) {
    for (int m0 = 0; m0 < t->M; m0 += 16) {
        int mv = (min_int(16, t->M - m0) + 7) / 8;
        for (int j0 = n0; j0 < n1; j0 += 6) {
            int cols = min_int(6, n1 - j0);
            if (mv == 2) nt256_2(t, m0, j0, cols);
            else nt256_1(t, m0, j0, cols);
        }
    }
}
#endif  // LRP_X86

// Columns [n0, n1) of C.
static void run_columns(const task *t, int n0, int n1) {
#if LRP_X86
    if (t->isa == ISA_AVX512) {
        if (t->trans_b) nt_avx512(t, n0, n1);
        else nn_avx512(t, n0, n1);
        return;
    }
    if (t->isa == ISA_AVX2) {
        if (t->trans_b) nt_avx2(t, n0, n1);
        else nn_avx2(t, n0, n1);
        return;
    }
#endif
    if (t->trans_b) nt_generic(t, n0, n1);
    else nn_generic(t, n0, n1);
}

// ---- threads: kernels/pool.h -----------------------------------------------------------------------

static void run_units(void *ctx, int u0, int u1) {
    const task *t = ctx;
    run_columns(t, u0 * t->grain, min_int(u1 * t->grain, t->N));
}

// ---- entry points ---------------------------------------------------------------------------------

static atomic_int small_state;  // 0: ATTNLRP_SMALL_GEMM not read yet; 1: off; 2: on

static int small_enabled(void) {
    int s = atomic_load_explicit(&small_state, memory_order_relaxed);
    if (!s) {
        const char *e = getenv("ATTNLRP_SMALL_GEMM");
        s = e && strcmp(e, "0") == 0 ? 1 : 2;
        atomic_store_explicit(&small_state, s, memory_order_relaxed);
    }
    return s == 2;
}

void lrp_small_gemm_refresh(void) {
    atomic_store_explicit(&small_state, 0, memory_order_relaxed);
}

int lrp_small_gemm_wanted(int trans_a, int trans_b, int M, int N, int K) {
    // Both sides of B over 256: weights; the attention's products with a head (≤ 256 wide) stay with BLAS.
    if (trans_a || M < 2 || M > LRP_SMALL_GEMM_MAX_M || N <= 256 || K <= 256) return 0;
    // The AVX2 kernel for op(B) = B runs at 0.6× OpenBLAS's Haswell kernel (32 rows): AVX-512 only.
    return (lrp_cpu_has_avx512() || (trans_b && lrp_cpu_has_avx2())) && small_enabled();
}

// Fills t for one call; 0, or -1 when A could not be packed (then t runs the generic loops, which need
// no copy: the numbers differ, so lrp_small_gemm_batch refuses that case instead).
static int task_init(task *t, int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                     int ldb, float beta, float *C, int ldc) {
    *t = (task){.trans_b = trans_b, .M = M, .N = N, .K = K, .lda = lda, .ldb = ldb, .ldc = ldc,
                .alpha = alpha, .beta = beta, .A = A, .B = B, .C = C, .isa = ISA_GENERIC, .grain = 64};
    if (lrp_cpu_has_avx512()) t->isa = ISA_AVX512;
    else if (lrp_cpu_has_avx2()) t->isa = ISA_AVX2;
    if (!trans_b) {
        t->grain = t->isa == ISA_AVX512 ? 48 : t->isa == ISA_AVX2 ? 24 : 64;
        return 0;
    }
    t->grain = t->isa == ISA_AVX512 ? 8 : t->isa == ISA_AVX2 ? 6 : 16;
    if (t->isa == ISA_GENERIC) return 0;
    t->Mp = (M + 15) / 16 * 16;
    float *packed = malloc((size_t)K * t->Mp * sizeof(float));
    if (!packed) {
        t->isa = ISA_GENERIC;
        t->grain = 16;
        return -1;
    }
    for (int k = 0; k < K; k++) {
        float *row = packed + (size_t)k * t->Mp;
        for (int i = 0; i < M; i++) row[i] = A[(size_t)i * lda + k];
        for (int i = M; i < t->Mp; i++) row[i] = 0.0f;
    }
    t->At = packed;
    return 0;
}

void lrp_small_gemm(int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                    float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        for (int i = 0; i < M; i++) scale_row(C + (size_t)i * ldc, N, beta);
        return;
    }
    task t;
    task_init(&t, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);  // -1: the generic loops, no copy
    int units = (N + t.grain - 1) / t.grain;
    int threads = (int64_t)M * N * K < (1 << 20) ? 1 : lrp_pool_threads();
    lrp_parallel_for(units, threads, 0, run_units, &t);
    free(t.At);
}

// ---- a batch of calls: one parallel loop over every call's column ranges ---------------------------

typedef struct {
    int n;
    task *t;
    int *first;  // [n + 1]: call i owns units first[i] .. first[i + 1]
} batch;

static void run_batch_units(void *ctx, int u0, int u1) {
    const batch *b = ctx;
    int i = 0;
    while (u0 < u1) {
        while (b->first[i + 1] <= u0) i++;  // the call that owns unit u0
        int end = min_int(u1, b->first[i + 1]);
        const task *t = &b->t[i];
        run_columns(t, (u0 - b->first[i]) * t->grain, min_int((end - b->first[i]) * t->grain, t->N));
        u0 = end;
    }
}

int lrp_small_gemm_batch(int trans_b, int count, const int *M, int N, int K, float alpha, const float *const *A,
                         int lda, const float *const *B, int ldb, float beta, float *const *C, int ldc) {
    if (count <= 0 || N <= 0) return 0;
    batch b = {.n = count, .t = calloc((size_t)count, sizeof(task)),
               .first = malloc(((size_t)count + 1) * sizeof(int))};
    int rc = b.t && b.first ? 0 : -1;
    int64_t work = 0;
    if (!rc) b.first[0] = 0;
    for (int i = 0; i < count && !rc; i++) {
        int m = M[i] > 0 && K > 0 ? M[i] : 0;  // nothing to multiply: the call's C is only scaled below
        if (m && task_init(&b.t[i], trans_b, m, N, K, alpha, A[i], lda, B[i], ldb, beta, C[i], ldc)) rc = -1;
        b.first[i + 1] = b.first[i] + (m ? (N + b.t[i].grain - 1) / b.t[i].grain : 0);
        work += (int64_t)m * N * K;
    }
    if (!rc) {
        for (int i = 0; i < count; i++)
            if (M[i] > 0 && K <= 0)
                for (int r = 0; r < M[i]; r++) scale_row(C[i] + (size_t)r * ldc, N, beta);
        int threads = work < (1 << 20) ? 1 : lrp_pool_threads();
        lrp_parallel_for(b.first[count], threads, 0, run_batch_units, &b);
    }
    for (int i = 0; b.t && i < count; i++) free(b.t[i].At);
    free(b.t);
    free(b.first);
    return rc;
}
