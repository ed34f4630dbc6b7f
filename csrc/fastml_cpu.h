/* Run-time CPU dispatch for the plain C loops in csrc/.
 *
 * FASTML_CLONES marks a hot function: GCC (>= 6, ELF/ifunc targets) compiles it once per
 * instruction set and picks the best at load time, so the wheel runs on any x86-64 and
 * uses AVX-512/AVX2 where present. Elsewhere it expands to nothing (baseline build).
 * fastml_simd_path() reports the clone that is chosen on this CPU.
 */
#ifndef FASTML_CPU_H
#define FASTML_CPU_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && !defined(FASTML_NO_DISPATCH)
#define FASTML_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define FASTML_DISPATCH 1
#else
#define FASTML_CLONES
#define FASTML_DISPATCH 0
#endif

const char *fastml_simd_path(void);

#endif
