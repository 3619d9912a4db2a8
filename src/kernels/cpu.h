// Which instruction-set extensions the fast kernels may use on this machine, decided at run time.
//
// The build never assumes more than the baseline of its target (plain x86-64 on x86): the fast paths
// (kernels/half.c, kernels/dequant_quant.c, kernels/smallgemm.c) are compiled per function with
// LRP_TARGET_AVX2 (or LRP_TARGET_AVX512) and chosen by testing lrp_cpu_features() at the call, so one
// binary runs everywhere and is fast where it can be.
// The features are resolved once, on first use, from the CPU (__builtin_cpu_supports, which also
// checks that the OS saves the YMM registers). The environment variable ATTNLRP_CPU=generic forces
// the scalar reference paths (tests run both; a user can rule out a miscompiled fast kernel);
// ATTNLRP_CPU=avx2 leaves out AVX-512 only (tests run the AVX2 kernels on AVX-512 machines too).
#ifndef LRP_CPU_H
#define LRP_CPU_H

#if defined(__x86_64__) || defined(__i386__)
#define LRP_X86 1
// For functions that use AVX2, FMA and F16C intrinsics; call them only when lrp_cpu_has_avx2().
#define LRP_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
// For functions that use AVX-512F intrinsics; call them only when lrp_cpu_has_avx512().
#define LRP_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma,f16c")))
#else
#define LRP_X86 0
#define LRP_TARGET_AVX2
#define LRP_TARGET_AVX512
#endif

enum {
    LRP_CPU_AVX2 = 1 << 0,
    LRP_CPU_FMA = 1 << 1,
    LRP_CPU_F16C = 1 << 2,
    LRP_CPU_AVX512F = 1 << 3,  // set only together with the three above
    LRP_CPU_AVX512VNNI = 1 << 4,  // AVX-512 VNNI + VL + BW; set only together with LRP_CPU_AVX512F
};

// The LRP_CPU_* bits the kernels may use (0 on other architectures or with ATTNLRP_CPU=generic).
int lrp_cpu_features(void);

// The AVX2 kernels also use FMA and F16C (they are compiled with all three): true when all are there.
static inline int lrp_cpu_has_avx2(void) {
    const int all = LRP_CPU_AVX2 | LRP_CPU_FMA | LRP_CPU_F16C;
    return (lrp_cpu_features() & all) == all;
}

// The AVX-512 kernels (kernels/smallgemm.c) are compiled with AVX-512F and the AVX2 set.
static inline int lrp_cpu_has_avx512(void) { return (lrp_cpu_features() & LRP_CPU_AVX512F) != 0; }

// The 8-bit dot-product kernels (kernels/qdot.c) compiled for AVX-512 VNNI, VL, BW and the AVX2 set.
static inline int lrp_cpu_has_vnni(void) { return (lrp_cpu_features() & LRP_CPU_AVX512VNNI) != 0; }

// Re-reads ATTNLRP_CPU and the CPU; for tests that switch between the fast and generic paths. Not to be
// called while other threads run kernels.
void lrp_cpu_refresh(void);

// "avx2+fma+f16c", "avx2+fma+f16c+avx512f", "generic", ...: what the kernels use, for reports.
const char *lrp_cpu_describe(void);

#endif
