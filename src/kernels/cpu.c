#include "kernels/cpu.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if LRP_X86
#include <cpuid.h>
#endif

// LRP_CPU_* bits with RESOLVED set once known; 0: not resolved yet. Resolving is idempotent, so
// threads that race on the first call compute and store the same value.
#define RESOLVED (1 << 30)
static atomic_int cpu_state;

static int detect(void) {
    const char *env = getenv("ATTNLRP_CPU");
    if (env && strcmp(env, "generic") == 0) return 0;
    int f = 0;
#if LRP_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) f |= LRP_CPU_AVX2;
    if (__builtin_cpu_supports("fma")) f |= LRP_CPU_FMA;
    // Older clang does not know "f16c" in __builtin_cpu_supports: CPUID leaf 1, ECX bit 29. F16C works on
    // the YMM state that the avx2 check above has already found enabled by the OS.
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C)) f |= LRP_CPU_F16C;
    // __builtin_cpu_supports("avx512f") also checks that the OS saves the ZMM state (XCR0).
    if ((f & 7) == 7 && __builtin_cpu_supports("avx512f") && !(env && strcmp(env, "avx2") == 0))
        f |= LRP_CPU_AVX512F;
    // The 8-bit dot products of kernels/qdot.c (vpdpbusd on 256-bit registers needs VL as well).
    if ((f & LRP_CPU_AVX512F) && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw"))
        f |= LRP_CPU_AVX512VNNI;
#endif
    return f;
}

int lrp_cpu_features(void) {
    int s = atomic_load_explicit(&cpu_state, memory_order_relaxed);
    if (!s) {
        s = detect() | RESOLVED;
        atomic_store_explicit(&cpu_state, s, memory_order_relaxed);
    }
    return s & ~RESOLVED;
}

void lrp_cpu_refresh(void) {
    atomic_store_explicit(&cpu_state, detect() | RESOLVED, memory_order_relaxed);
}

const char *lrp_cpu_describe(void) {
    static const char *const names[8] = {"generic",  "avx2",      "fma",      "avx2+fma",
                                         "f16c",     "avx2+f16c", "fma+f16c", "avx2+fma+f16c"};
    int f = lrp_cpu_features();
    if (f & LRP_CPU_AVX512VNNI) return "avx2+fma+f16c+avx512f+avx512vnni";
    return f & LRP_CPU_AVX512F ? "avx2+fma+f16c+avx512f" : names[f & 7];
}
