// A small pool of helper threads for the engine's own parallel loops (kernels/smallgemm.c's column
// ranges, kernels/qdot.c's output rows, the row loops of the non-BLAS ops).
//
// lrp_parallel_for splits units [0, n) into chunks that the caller and up to threads - 1 helpers take from
// a shared counter until none is left, so a helper that the machine's other work keeps off a core costs
// at most one chunk of waiting, and one that comes late finds nothing to do. Helpers are started on first
// use and spin briefly after each job (yielding to OpenBLAS's threads) before they sleep. One job at a
// time uses the pool: a call made while it is busy (another thread's job, or a nested call from inside a
// job) runs all its units on the calling thread, so results never depend on the split.
#ifndef LRP_POOL_H
#define LRP_POOL_H

#include <stddef.h>

// Work on units [u0, u1); called from several threads at once with disjoint ranges.
typedef void (*lrp_range_fn)(void *ctx, int u0, int u1);

// Runs fn over [0, n) on up to `threads` threads (the caller included) in chunks of `chunk` units
// (0: about n / (4 · threads)); returns when every unit is done.
void lrp_parallel_for(int n, int threads, int chunk, lrp_range_fn fn, void *ctx);

// Threads worth using for `work` elements of a simple loop: 1 below 2^16 (waking helpers costs more),
// else lrp_pool_threads().
int lrp_pool_threads_for(size_t work);

// The engine's thread count: OpenBLAS's (OPENBLAS_NUM_THREADS, else the cores), at most LRP_POOL_MAX.
int lrp_pool_threads(void);

#define LRP_POOL_MAX 16

#endif
