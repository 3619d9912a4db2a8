#include "kernels/finite.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/pool.h"

// Lanes of `bits` bits, each with exponent mask `mask`: a lane is NaN or infinite when its exponent
// field is all ones, i.e. when (lane & mask) + low == the lane's top bit (low = the mask's lowest bit).
// Adding low to lane & mask never carries out of the lane (mask + low <= top bit), so 64-bit words
// hold 2 (F32) or 4 (F16, BF16) lanes at once.
typedef struct {
    uint64_t mask, low, top;
    int bytes;  // per element
} lane_spec;

static int64_t first_in_word(uint64_t hits, int bytes) {
    return __builtin_ctzll(hits) / (8 * bytes);  // the lowest lane: little-endian order is element order
}

static int64_t count_lanes(const unsigned char *d, int64_t n, const lane_spec *s, int64_t *first) {
    int per = 8 / s->bytes;
    int64_t words = n / per, count = 0, i = 0;
    // 32 bytes a step with one test of the or of their hits (almost always zero); a step with any goes
    // word by word below.
    const uint64_t mask = s->mask, low = s->low, top = s->top;
    for (; i + 4 <= words; i += 4) {
        uint64_t w[4];
        memcpy(w, d + 8 * i, 32);
        uint64_t any = (((w[0] & mask) + low) | ((w[1] & mask) + low) | ((w[2] & mask) + low) |
                        ((w[3] & mask) + low)) & top;
        if (any) break;
    }
    for (; i < words; i++) {
        uint64_t w;
        memcpy(&w, d + 8 * i, 8);
        uint64_t hits = ((w & s->mask) + s->low) & s->top;
        if (hits) {  // rare: almost every tensor is finite
            if (count == 0 && first) *first = i * per + first_in_word(hits, s->bytes);
            count += __builtin_popcountll(hits);
        }
    }
    for (int64_t k = words * per; k < n; k++) {  // the tail, element by element
        uint64_t w = 0;
        memcpy(&w, d + (size_t)k * s->bytes, (size_t)s->bytes);
        if (((w & s->mask) + s->low) & s->top) {
            if (count == 0 && first) *first = k;
            count++;
        }
    }
    return count;
}

// Large tensors in units of 2^18 elements on the engine's threads (a scan is bound by memory bandwidth,
// which one core does not use up); each unit's count and first index, summed in unit order.
#define UNIT_ELEMS (1 << 18)

typedef struct {
    const unsigned char *d;
    int64_t n;
    const lane_spec *s;
    int64_t *count, *first;
} lanes_job;

static void lanes_range(void *ctx, int u0, int u1) {
    const lanes_job *j = ctx;
    for (int u = u0; u < u1; u++) {
        int64_t e0 = (int64_t)u * UNIT_ELEMS, len = j->n - e0 < UNIT_ELEMS ? j->n - e0 : UNIT_ELEMS;
        j->count[u] = count_lanes(j->d + (size_t)e0 * j->s->bytes, len, j->s, &j->first[u]);
        if (j->count[u]) j->first[u] += e0;
    }
}

static int64_t count_lanes_parallel(const unsigned char *d, int64_t n, const lane_spec *s, int64_t *first) {
    int64_t units = (n + UNIT_ELEMS - 1) / UNIT_ELEMS;
    int threads = units > 1 && units < (1 << 30) ? lrp_pool_threads_for((size_t)n) : 1;
    int64_t *buf = threads > 1 ? malloc(2 * (size_t)units * sizeof *buf) : NULL;
    if (!buf) return count_lanes(d, n, s, first);
    lanes_job j = {d, n, s, buf, buf + units};
    lrp_parallel_for((int)units, threads, 1, lanes_range, &j);
    int64_t count = 0;
    for (int64_t u = 0; u < units; u++) {
        if (j.count[u] && count == 0 && first) *first = j.first[u];
        count += j.count[u];
    }
    free(buf);
    return count;
}

// Block quantisations: the f16 scale fields at the given byte offsets of each block (Q8_K: one f32).
static int64_t count_scales(const unsigned char *d, int64_t blocks, size_t block_bytes, int block_elems,
                            const int *offsets, int n_offsets, int f32, int64_t *first) {
    int64_t count = 0;
    for (int64_t b = 0; b < blocks; b++) {
        const unsigned char *blk = d + (size_t)b * block_bytes;
        for (int k = 0; k < n_offsets; k++) {
            int bad;
            if (f32) {
                uint32_t u;
                memcpy(&u, blk + offsets[k], 4);
                bad = (u & 0x7f800000u) == 0x7f800000u;
            } else {
                uint16_t h;
                memcpy(&h, blk + offsets[k], 2);
                bad = (h & 0x7c00u) == 0x7c00u;
            }
            if (bad) {
                if (count == 0 && first) *first = b * block_elems;
                count++;
            }
        }
    }
    return count;
}

int64_t lrp_count_nonfinite(lrp_dtype dtype, const void *data, int64_t n, int64_t *first) {
    static const lane_spec f32 = {0x7f8000007f800000ull, 0x0080000000800000ull, 0x8000000080000000ull, 4};
    static const lane_spec f16 = {0x7c007c007c007c00ull, 0x0400040004000400ull, 0x8000800080008000ull, 2};
    static const lane_spec bf16 = {0x7f807f807f807f80ull, 0x0080008000800080ull, 0x8000800080008000ull, 2};
    static const int d_only[] = {0}, d_m[] = {0, 2}, q6k[] = {208};
    const unsigned char *d = data;
    if (first) *first = -1;
    if (n <= 0 || !d) return 0;
    int be = lrp_dtype_block_elems(dtype);
    size_t bb = lrp_dtype_block_bytes(dtype);
    int64_t blocks = be > 0 ? n / be : 0;
    switch (dtype) {
    case LRP_F32: return count_lanes_parallel(d, n, &f32, first);
    case LRP_F16: return count_lanes_parallel(d, n, &f16, first);
    case LRP_BF16: return count_lanes_parallel(d, n, &bf16, first);
    case LRP_Q8_0:
    case LRP_Q4_0:
    case LRP_Q5_0: return count_scales(d, blocks, bb, be, d_only, 1, 0, first);
    case LRP_Q4_1:
    case LRP_Q5_1:
    case LRP_Q4_K:
    case LRP_Q5_K: return count_scales(d, blocks, bb, be, d_m, 2, 0, first);
    case LRP_Q6_K: return count_scales(d, blocks, bb, be, q6k, 1, 0, first);
    case LRP_Q8_K: return count_scales(d, blocks, bb, be, d_only, 1, 1, first);
    default: return 0;
    }
}
