// The cost of the non-finite scan at load (models/model.c, kernels/finite.h): lrp_model_open of a
// checkpoint with ATTNLRP_NONFINITE=skip (no scan) and with the default scan, alternating, the file in
// the page cache (one untimed open first). Also the time of the scan kernel alone over the weights, and
// the bytes it reads per second.
//
//     bench_load MODEL [--reps 7]
//
// Prints the median open times, their ratio and the scan's throughput (the figures in README.md).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/finite.h"
#include "models/model.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double open_once(const char *path, const char *mode) {
    setenv("ATTNLRP_NONFINITE", mode, 1);
    lrp_model *m = NULL;
    lrp_err err;
    double t0 = now_s();
    if (lrp_model_open(&m, path, &err)) {
        fprintf(stderr, "bench_load: %s\n", err.msg);
        exit(1);
    }
    double t = now_s() - t0;
    lrp_model_close(m);
    return t;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        fprintf(stderr, "usage: bench_load MODEL [--reps N]\n");
        return 2;
    }
    int reps = argc >= 4 && !strcmp(argv[2], "--reps") ? atoi(argv[3]) : 7;
    if (reps < 1 || reps > 1000) reps = 7;
    const char *path = argv[1];
    open_once(path, "refuse");  // the page cache
    double *skip = malloc(sizeof(double) * reps), *scan = malloc(sizeof(double) * reps);
    for (int r = 0; r < reps; r++) {
        skip[r] = open_once(path, "skip");
        scan[r] = open_once(path, "refuse");
    }
    qsort(skip, (size_t)reps, sizeof *skip, cmp);
    qsort(scan, (size_t)reps, sizeof *scan, cmp);
    // The kernel alone over every tensor of the file.
    setenv("ATTNLRP_NONFINITE", "skip", 1);
    lrp_model *m = NULL;
    lrp_err err;
    if (lrp_model_open(&m, path, &err)) return 1;
    double bytes = 0, t0 = now_s();
    long long bad = 0;
    for (int k = 0; k < m->tf.n_tensors; k++) {
        const lrp_tensor *t = &m->tf.tensors[k];
        bad += lrp_count_nonfinite(t->dtype, t->data, lrp_tensor_numel(t), NULL);
        bytes += (double)t->nbytes;
    }
    double tk = now_s() - t0;
    lrp_model_close(m);
    printf("%s: open without scan %.2f ms, with scan %.2f ms (median of %d): ratio %.2f; scan of %.0f MB: %.1f ms, "
           "%.1f GB/s (%lld non-finite)\n",
           path, 1e3 * skip[reps / 2], 1e3 * scan[reps / 2], reps, scan[reps / 2] / skip[reps / 2], bytes / 1e6,
           1e3 * tk, bytes / tk / 1e9, bad);
    free(skip);
    free(scan);
    return 0;
}
