#include "fastml_cpu.h"

/* The same order as FASTML_CLONES: x86-64-v4 = AVX-512 F/BW/CD/DQ/VL,
 * x86-64-v3 = AVX2 + FMA + BMI1/2, default = the compiler's baseline (SSE2). */
const char *fastml_simd_path(void)
{
#if FASTML_DISPATCH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4"))
        return "avx512 (x86-64-v4)";
    if (__builtin_cpu_supports("x86-64-v3"))
        return "avx2 (x86-64-v3)";
    return "baseline (x86-64)";
#elif defined(__AVX512F__)
    return "avx512 (compile-time)";
#elif defined(__AVX2__)
    return "avx2 (compile-time)";
#else
    return "baseline (no run-time dispatch on this compiler/platform)";
#endif
}
