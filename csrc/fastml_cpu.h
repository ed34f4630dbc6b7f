/* Run-time CPU dispatch for the plain C loops in csrc/ (see docs/dispatch.md).
 *
 * Every kernel source (pairwise.c, distances.c, levenshtein.c, nn_conv.c, nn_pool.c) is
 * compiled once per instruction-set level by setup.py: small generated wrappers set
 *     FASTML_ISA_BUILD = 1, FASTML_ISA_LEVEL = 0 / 1 / 2, FASTML_ISA_SUFFIX = baseline /
 *     avx2 / avx512,
 * switch the compiler's target (fastml_isa_target.h) and include the source, whose exported
 * functions fastml_NAME are renamed fastml_NAME__SUFFIX (fastml_kernels.h). Callers (the
 * Cython modules) see fastml_NAME as a call through a function pointer that each extension
 * sets once, when it is loaded, from CPUID and the FASTML_CPU cap (fastml_dispatch.h):
 *     level = min(what the CPU supports, FASTML_CPU)
 *     baseline: x86-64 (SSE2) or the platform's default target
 *     avx2:     x86-64-v3 (AVX2, FMA, BMI1/2)
 *     avx512:   x86-64-v4 (AVX-512 F/BW/CD/DQ/VL)
 * Where the compiler or the platform cannot do this (not x86-64, not GCC/clang, or
 * FASTML_NO_DISPATCH at build time) each source is compiled once, under its own names, for
 * the compiler's default target, and FASTML_ISA_LEVEL follows the compiler's flags.
 * Kernels never assume a vector width or a register count: they read FASTML_VEC_BYTES and
 * FASTML_VEC_REGS below.
 */
#ifndef FASTML_CPU_H
#define FASTML_CPU_H

#include <stdlib.h>
#include <string.h>

#define FASTML_LEVEL_BASELINE 0
#define FASTML_LEVEL_AVX2 1
#define FASTML_LEVEL_AVX512 2

/* Set (to 1) by setup.py for every translation unit of a dispatching build. */
#ifndef FASTML_DISPATCH
#define FASTML_DISPATCH 0
#endif

#ifndef FASTML_ISA_LEVEL
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) \
    && defined(__AVX512DQ__)
#define FASTML_ISA_LEVEL 2
#elif defined(__AVX2__) && defined(__FMA__)
#define FASTML_ISA_LEVEL 1
#else
#define FASTML_ISA_LEVEL 0
#endif
#endif

/* What a kernel compiled for this level may assume: the vector register width in bytes and
 * the number of vector registers (accumulator blocks are sized from these). */
#if FASTML_ISA_LEVEL >= 2
#define FASTML_VEC_BYTES 64
#define FASTML_VEC_REGS 32
#elif FASTML_ISA_LEVEL == 1
#define FASTML_VEC_BYTES 32
#define FASTML_VEC_REGS 16
#else
#define FASTML_VEC_BYTES 16
#define FASTML_VEC_REGS 16
#endif

/* x86 intrinsics with target attributes can be used in this translation unit. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FASTML_X86 1
#else
#define FASTML_X86 0
#endif

/* Kept as an empty marker of the hot functions (dispatch is per translation unit). */
#define FASTML_CLONES

/* The level this CPU supports (compile-time level when the build does not dispatch). */
static inline int fastml_cpu_detected(void)
{
#if FASTML_DISPATCH && FASTML_X86
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
          && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2")))
        return FASTML_LEVEL_BASELINE;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512vl"))
        return FASTML_LEVEL_AVX512;
    return FASTML_LEVEL_AVX2;
#else
    return FASTML_ISA_LEVEL;
#endif
}

/* FASTML_CPU: -1 when unset or empty, the level for baseline / avx2 / avx512 (any case),
 * -2 for anything else (fastml's Python layer refuses such a value at import). */
static inline int fastml_cpu_cap(void)
{
    static const char *const names[3] = {"baseline", "avx2", "avx512"};
    const char *v = getenv("FASTML_CPU");
    if (!v || !*v)
        return -1;
    for (int level = 0; level < 3; level++) {
        const char *a = v, *b = names[level];
        while (*a && *b && (*a | 0x20) == *b) {
            a++;
            b++;
        }
        if (!*a && !*b)
            return level;
    }
    return -2;
}

/* The level the kernels run at: the detected one, lowered to FASTML_CPU when that is set
 * (an unknown value is ignored here). */
static inline int fastml_cpu_level(void)
{
    int det = fastml_cpu_detected(), cap = fastml_cpu_cap();
    return cap >= 0 && cap < det ? cap : det;
}

/* Exported by csrc/cpu.c (fastml.utils._openmp). */
int fastml_cpu_detected_level(void);
int fastml_cpu_cap_level(void);
int fastml_cpu_used_level(void);
int fastml_cpu_dispatch_built(void);
const char *fastml_simd_path(void);

#endif
