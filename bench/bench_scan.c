// Speed of `attnlrp scan` against plain forward passes (issue 14 item 2): scanning must cost about one
// forward pass per window, the attributions only K recorded forward+backward passes.
//
//     bench_scan [--model DIR] [--windows N] [--window T] [--layer L] [--neuron N] [--top K] [--rounds R]
//
// The windows are N fixed pseudo-random sequences of T ids (xorshift32). Each round times, over all of
// them, (a) lrp_forward_logits (nothing recorded; logits at the last position only) and (b) the scan's
// step: lrp_forward_latent (the same forward, copying layer L's MLP intermediate), the column maximum of
// neuron N and the top-K heap; rounds alternate which runs first, so both meet the same load. Then the K
// kept windows are explained with the neuron as the latent start. Prints tokens/s (median over rounds) and
// the ratio scan / forward in the same run (median and fastest rounds); bench/scan.sh builds and runs it.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "explain/explain.h"
#include "explain/scan.h"
#include "models/model.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const char *model = "models/default";
    int n = 200, T = 64, layer = 0, neuron = 0, top = 10, rounds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model")) model = argv[i + 1];
        else if (!strcmp(argv[i], "--windows")) n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--window")) T = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--layer")) layer = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--neuron")) neuron = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--top")) top = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "bench_scan: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (n < 1 || T < 1 || top < 1 || rounds < 1 || rounds > 100) {
        fprintf(stderr, "bench_scan: --windows, --window, --top and --rounds (<= 100) must be positive\n");
        return 2;
    }
    lrp_err err;
    lrp_model *m = NULL;
    if (lrp_model_open(&m, model, &err)) {
        fprintf(stderr, "bench_scan: %s\n", err.msg);
        return 1;
    }
    int V = m->cfg.vocab_size, W = lrp_latent_width(m);
    int *ids = malloc((size_t)n * T * sizeof(int));
    float *act = malloc((size_t)T * W * sizeof(float)), *logits = malloc((size_t)V * sizeof(float));
    if (!ids || !act || !logits) return 1;
    unsigned x = 2463534242u;
    for (size_t i = 0; i < (size_t)n * T; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        ids[i] = (int)(x % (unsigned)V);
    }
    double fwd[100], scan[100];
    lrp_scan_top best;
    for (int r = 0; r < rounds; r++) {
        for (int pass = 0; pass < 2; pass++) {
            int do_scan = (pass + r) % 2;
            if (do_scan && lrp_scan_top_init(&best, top, &err)) return 1;
            double t0 = now_s();
            for (int w = 0; w < n; w++) {
                const int *win = ids + (size_t)w * T;
                if (!do_scan) {
                    if (lrp_forward_logits(m, win, T, -1, NULL, NULL, 0, logits, &err)) goto fail;
                    continue;
                }
                if (lrp_forward_latent(m, win, T, layer, -1, act, &err)) goto fail;
                float v = 0;
                int p = lrp_column_max(act, T, W, neuron, &v);
                if (p >= 0 && lrp_scan_top_offer(&best, w, p, v, win, T, &err)) goto fail;
            }
            double dt = now_s() - t0;
            if (do_scan) scan[r] = dt;
            else fwd[r] = dt;
            if (do_scan && r + 1 < rounds) lrp_scan_top_free(&best);
        }
    }
    lrp_scan_top_sort(&best);
    double t0 = now_s();
    for (int k = 0; k < best.n; k++) {
        lrp_explain_opts o;
        lrp_explain_opts_default(&o);
        o.latent_start[0] = layer;
        o.latent_start[1] = best.h[k].position;
        o.latent_start[2] = neuron;
        lrp_explanation e;
        if (lrp_explain(m, best.h[k].ids, best.h[k].T, &o, &e, &err)) goto fail;
        lrp_explanation_free(&e);
    }
    double t_attr = now_s() - t0;
    qsort(fwd, (size_t)rounds, sizeof(double), cmp_d);
    qsort(scan, (size_t)rounds, sizeof(double), cmp_d);
    double tok = (double)n * T, f = fwd[rounds / 2], s = scan[rounds / 2];
    printf("model %s: %d windows of %d tokens, layer %d neuron %d, %d rounds (median)\n", model, n, T, layer, neuron,
           rounds);
    printf("  forward only (lrp_forward_logits): %10.0f tokens/s  (%.2f ms/window)\n", tok / f, 1e3 * f / n);
    printf("  scan (forward + tap + top-%d):     %10.0f tokens/s  (%.2f ms/window)\n", top, tok / s, 1e3 * s / n);
    printf("  scan / forward time: %.3f (median), %.3f (fastest round of each; less sensitive to other load)\n", s / f,
           scan[0] / fwd[0]);
    printf("  %d attributions (latent start, recorded forward + backward): %.3f s = %.2f ms each = %.2f forward "
           "passes each\n", best.n, t_attr, 1e3 * t_attr / best.n, (t_attr / best.n) / (f / n));
    lrp_scan_top_free(&best);
    lrp_model_close(m);
    free(ids);
    free(act);
    free(logits);
    return 0;
fail:
    fprintf(stderr, "bench_scan: %s\n", err.msg);
    return 1;
}
