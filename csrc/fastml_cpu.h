/* Run-time CPU dispatch for the plain C loops in csrc/ (see docs/dispatch.md).
 *
 * The levels (their names, order, compiler targets and CPUID features) are one table,
 * fastml/_simd_levels.py; setup.py writes it as the C header fastml_levels.h (generated,
 * in build/, never edited), which this header and every other C file read.
 *
 * Every kernel source (pairwise.c, distances.c, levenshtein.c, nn_conv.c, nn_pool.c) is
 * compiled once per level by setup.py: small generated wrappers set
 *     FASTML_ISA_BUILD = 1, FASTML_ISA_LEVEL = the level's index, FASTML_ISA_SUFFIX = its
 *     name,
 * switch the compiler's target (fastml_isa_target.h) and include the source, whose exported
 * functions fastml_NAME are renamed fastml_NAME__SUFFIX (fastml_kernels.h). Callers (the
 * Cython modules) see fastml_NAME as a call through a function pointer that each extension
 * sets once, when it is loaded, from CPUID and the FASTML_CPU cap (fastml_dispatch.h):
 *     level = min(the highest level whose every feature the CPU has, FASTML_CPU)
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

#include "fastml_levels.h"

/* Set (to 1) by setup.py for every translation unit of a dispatching build. */
#ifndef FASTML_DISPATCH
#define FASTML_DISPATCH 0
#endif

#ifndef FASTML_ISA_LEVEL
#define FASTML_ISA_LEVEL FASTML_LEVEL_FROM_MACROS
#endif

/* What a kernel compiled for this level may assume: the vector register width in bytes and
 * the number of vector registers (accumulator blocks are sized from these). */
#define FASTML_VEC_BYTES FASTML_LEVEL_CAT_(FASTML_LEVEL_VEC_BYTES_, FASTML_ISA_LEVEL)
#define FASTML_VEC_REGS FASTML_LEVEL_CAT_(FASTML_LEVEL_VEC_REGS_, FASTML_ISA_LEVEL)

/* x86 intrinsics with target attributes can be used in this translation unit. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FASTML_X86 1
#else
#define FASTML_X86 0
#endif

/* A pragma from inside a macro (e.g. FASTML_PRAGMA(omp simd) in a DEFINE_* template). */
#define FASTML_PRAGMA(x) _Pragma(#x)

/* The level this CPU supports (compile-time level when the build does not dispatch). */
static inline int fastml_cpu_detected(void)
{
#if FASTML_DISPATCH && FASTML_X86
    __builtin_cpu_init();
    return FASTML_LEVEL_FROM_CPUID();
#else
    return FASTML_ISA_LEVEL;
#endif
}

/* FASTML_CPU: -1 when unset or empty, the index of the level it names (any case), -2 for
 * anything else (fastml's Python layer refuses such a value at import). */
static inline int fastml_cpu_cap(void)
{
    static const char *const names[FASTML_NLEVELS] = {FASTML_LEVEL_NAMES};
    const char *v = getenv("FASTML_CPU");
    if (!v || !*v)
        return -1;
    for (int level = 0; level < FASTML_NLEVELS; level++) {
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
int fastml_cpu_nlevels(void);
const char *fastml_cpu_level_name(int level);
const char *fastml_simd_path(void);

#endif
