// The job is open from its publication until the caller has taken the last chunk. A helper holds a
// reference (`refs`) while it looks at the job; the caller closes the job and then waits for the
// references to go, so no helper reads the job after the call returns. (Sequentially consistent
// atomics: a helper either sees the job closed or is seen by the caller's wait.) Helpers spin on `gen`
// for 0.05 ms after each job (the next product follows within microseconds), yielding the core to
// OpenBLAS's own threads, then sleep on the condition variable.
#include "kernels/pool.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "kernels/cpu.h"

#if LRP_X86
#include <immintrin.h>
#endif

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint gen;
    atomic_int refs, open, next, busy;
    lrp_range_fn fn;
    void *ctx;
    int units, chunk;
    int helpers;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void cpu_relax(void) {
#if LRP_X86
    _mm_pause();
#endif
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Chunks of the open job until none is left.
static void take_chunks(lrp_range_fn fn, void *ctx, int units, int chunk) {
    for (;;) {
        int u0 = atomic_fetch_add(&pool.next, chunk);
        if (u0 >= units) return;
        fn(ctx, u0, u0 + chunk < units ? u0 + chunk : units);
    }
}

static void *helper_main(void *p) {
    unsigned seen = (unsigned)(uintptr_t)p;
    for (;;) {
        unsigned g = atomic_load(&pool.gen);
        if (g == seen) {  // spin for up to 0.05 ms, yielding (to OpenBLAS's threads), then sleep
            double until = now_s() + 5e-5;
            for (int spin = 1; (g = atomic_load(&pool.gen)) == seen; spin++) {
                cpu_relax();
                if (spin % 64 == 0) {
                    if (now_s() > until) break;
                    sched_yield();
                }
            }
            if (g == seen) {
                pthread_mutex_lock(&pool.mu);
                while ((g = atomic_load(&pool.gen)) == seen) pthread_cond_wait(&pool.cv, &pool.mu);
                pthread_mutex_unlock(&pool.mu);
            }
        }
        seen = g;
        atomic_fetch_add(&pool.refs, 1);
        if (atomic_load(&pool.open)) take_chunks(pool.fn, pool.ctx, pool.units, pool.chunk);
        atomic_fetch_sub(&pool.refs, 1);
    }
    return NULL;
}

// Runs the job on this thread and up to threads - 1 helpers. 0 when the pool is taken or no helper
// could be started (the caller then runs the work itself).
static int pool_run(int n, int threads, int chunk, lrp_range_fn fn, void *ctx) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&pool.busy, &expected, 1)) return 0;
    while (pool.helpers < threads - 1 && pool.helpers + 1 < LRP_POOL_MAX) {
        pthread_t th;
        pthread_attr_t at;
        if (pthread_attr_init(&at)) break;
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int err = pthread_create(&th, &at, helper_main, (void *)(uintptr_t)atomic_load(&pool.gen));
        pthread_attr_destroy(&at);
        if (err) break;
        pool.helpers++;
    }
    if (pool.helpers == 0) {
        atomic_store(&pool.busy, 0);
        return 0;
    }
    pool.fn = fn;
    pool.ctx = ctx;
    pool.units = n;
    pool.chunk = chunk;
    atomic_store(&pool.next, 0);
    atomic_store(&pool.open, 1);
    pthread_mutex_lock(&pool.mu);
    atomic_fetch_add(&pool.gen, 1);
    pthread_cond_broadcast(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
    take_chunks(fn, ctx, n, chunk);
    atomic_store(&pool.open, 0);
    for (int spin = 1; atomic_load(&pool.refs) > 0; spin++) {
        cpu_relax();
        if (spin % 256 == 0) sched_yield();
    }
    atomic_store(&pool.busy, 0);
    return 1;
}

void lrp_parallel_for(int n, int threads, int chunk, lrp_range_fn fn, void *ctx) {
    if (n <= 0) return;
    if (threads > LRP_POOL_MAX) threads = LRP_POOL_MAX;
    if (threads > n) threads = n;
    if (chunk <= 0) chunk = (n + 4 * threads - 1) / (4 * threads);
    if (chunk < 1) chunk = 1;
    if (threads < 2 || !pool_run(n, threads, chunk, fn, ctx)) fn(ctx, 0, n);
}

int lrp_pool_threads(void) {
    int t = openblas_get_num_threads();
    if (t < 1) t = 1;
    return t > LRP_POOL_MAX ? LRP_POOL_MAX : t;
}

int lrp_pool_threads_for(size_t work) { return work < ((size_t)1 << 16) ? 1 : lrp_pool_threads(); }
