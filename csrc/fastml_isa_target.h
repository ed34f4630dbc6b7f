/* Switches the compiler to the target of FASTML_ISA_LEVEL for the rest of a per-target
 * translation unit (included first by the wrappers setup.py generates; see fastml_cpu.h).
 * GCC: `#pragma GCC target`; clang: `#pragma clang attribute` (closed by
 * fastml_isa_target_end.h). */
#if FASTML_ISA_LEVEL == 2
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512cd,avx512dq,avx512vl,avx2,fma,bmi,bmi2,lzcnt,popcnt,f16c,movbe"))), apply_to = function)
#else
#pragma GCC target("arch=x86-64-v4")
#endif
#elif FASTML_ISA_LEVEL == 1
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,bmi,bmi2,lzcnt,popcnt,f16c,movbe"))), apply_to = function)
#else
#pragma GCC target("arch=x86-64-v3")
#endif
#endif
