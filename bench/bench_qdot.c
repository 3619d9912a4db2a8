// The products of generation with quantised weights: y[T, out] = x[T, in] · Wᵀ through the quantised dot
// products of kernels/qdot.h against the widen-then-BLAS path of kernels/matmul.h, for a matrix of the
// benchmark model's MLP shape (2048 × 768) with random blocks, on OpenBLAS's thread count.
//
//     bench_qdot [--out 2048] [--in 768] [--reps 200] [--json]
//
// Prints, per dtype and T (1, 4, 16): microseconds per product and the weight bytes read per second.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/cpu.h"
#include "kernels/half.h"
#include "kernels/matmul.h"
#include "kernels/pool.h"
#include "kernels/qdot.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint32_t rng = 12345u;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

// Random blocks with small f16 scales at the dtype's scale offsets.
static void fill_blocks(lrp_dtype t, uint8_t *b, size_t bytes) {
    for (size_t k = 0; k < bytes; k++) b[k] = (uint8_t)rnd();
    size_t bb = lrp_dtype_block_bytes(t);
    uint16_t h = lrp_f32_to_f16(0.01f);
    for (size_t o = 0; o + bb <= bytes; o += bb) {
        if (t == LRP_Q8_0 || t == LRP_Q4_K) memcpy(b + o, &h, 2);
        if (t == LRP_Q4_K) memcpy(b + o + 2, &h, 2);
        if (t == LRP_Q6_K) memcpy(b + o + 208, &h, 2);
        if (t == LRP_F16)
            for (size_t k = 0; k < bb; k += 2) memcpy(b + o + k, &h, 2);
    }
    if (t == LRP_F32)
        for (size_t k = 0; k + 4 <= bytes; k += 4) {
            float v = (float)(rnd() % 1000) / 1000.0f - 0.5f;
            memcpy(b + k, &v, 4);
        }
}

int main(int argc, char **argv) {
    int out = 2048, in = 768, reps = 200, json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--out")) out = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--in")) in = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--reps")) reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_qdot [--out 2048] [--in 768] [--reps 200] [--json]\n");
            return 2;
        }
    }
    if (out < 1 || in < 256 || in % 256 || reps < 1) {
        fprintf(stderr, "bench_qdot: --in must be a positive multiple of 256, --out and --reps positive\n");
        return 2;
    }
    const lrp_dtype types[] = {LRP_F32, LRP_F16, LRP_Q8_0, LRP_Q4_K, LRP_Q6_K};
    const int Ts[] = {1, 4, 16};
    size_t scratch_n = (size_t)16 * in + (size_t)out * 64;
    float *x = malloc(sizeof(float) * 16 * (size_t)in), *y = malloc(sizeof(float) * 16 * (size_t)out);
    float *scratch = malloc(scratch_n * sizeof(float));
    if (!x || !y || !scratch) return 1;
    for (int i = 0; i < 16 * in; i++) x[i] = (float)(rnd() % 1000) / 500.0f - 1.0f;
    if (json) printf("{\"cpu\": \"%s\", \"threads\": %d, \"out\": %d, \"in\": %d, \"runs\": [", lrp_cpu_describe(),
                     lrp_pool_threads(), out, in);
    else printf("cpu %s, %d threads, W [%d, %d]\n", lrp_cpu_describe(), lrp_pool_threads(), out, in);
    int first = 1;
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        lrp_dtype t = types[ti];
        size_t bytes = lrp_dtype_row_bytes(t, in) * (size_t)out;
        uint8_t *w = malloc(bytes);
        if (!w) return 1;
        fill_blocks(t, w, bytes);
        lrp_tensor wt = {.name = "w", .dtype = t, .ndim = 2, .shape = {out, in}, .data = w, .nbytes = bytes};
        lrp_weight W = lrp_weight_of(&wt);
        for (size_t k = 0; k < sizeof Ts / sizeof Ts[0]; k++) {
            int T = Ts[k];
            for (int path = 0; path < 2; path++) {
                if (path == 1 && !lrp_qdot_supported(&W)) continue;
                double best = 1e30;
                for (int r = -2; r < reps; r++) {
                    double t0 = now_s();
                    if (path) lrp_matmul_forward_q(y, x, &W, NULL, T, scratch, scratch_n);
                    else lrp_matmul_forward(y, x, &W, NULL, T, scratch, scratch_n);
                    double dt = now_s() - t0;
                    if (r >= 0 && dt < best) best = dt;
                }
                const char *name = path ? "qdot" : "widen+blas";
                if (json)
                    printf("%s{\"dtype\": \"%s\", \"T\": %d, \"path\": \"%s\", \"us\": %.2f, \"gb_s\": %.2f}",
                           first ? "" : ", ", lrp_dtype_name(t), T, name, best * 1e6, (double)bytes / best * 1e-9);
                else
                    printf("%-5s T=%-2d %-10s %9.1f us  %6.2f GB/s of weights  %6.1f GFLOP/s\n", lrp_dtype_name(t), T,
                           name, best * 1e6, (double)bytes / best * 1e-9, 2.0 * out * in * T / best * 1e-9);
                first = 0;
            }
        }
        free(w);
    }
    if (json) printf("]}\n");
    free(x);
    free(y);
    free(scratch);
    return 0;
}
