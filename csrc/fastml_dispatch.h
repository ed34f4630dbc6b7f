/* The function-pointer table of one extension module (fastml_cpu.h). setup.py generates,
 * per extension, a translation unit that includes the headers of its kernel sources and
 * this file, then
 *     FASTML_DISPATCH_TABLE(FASTML_KERNELS_PAIRWISE)
 * which declares the per-target functions, defines the pointers (at first to the baseline
 * functions) and sets them once, when the extension is loaded, for fastml_cpu_level().
 */
#ifndef FASTML_DISPATCH_H
#define FASTML_DISPATCH_H
#include "fastml_cpu.h"
#include "fastml_kernels.h"

#define FASTML_DISPATCH_DECLARE_(name)                                                     \
    extern __typeof__(*name##__ptr) name##__baseline, name##__avx2, name##__avx512;
#define FASTML_DISPATCH_DEFINE_(name)                                                      \
    __attribute__((visibility("hidden"))) __typeof__(*name##__ptr) *name##__ptr =          \
        name##__baseline;
#define FASTML_DISPATCH_SET_(name)                                                         \
    name##__ptr = level >= FASTML_LEVEL_AVX512 ? name##__avx512                            \
                  : level == FASTML_LEVEL_AVX2 ? name##__avx2                              \
                                               : name##__baseline;

#define FASTML_DISPATCH_TABLE(LIST)                                                        \
    LIST(FASTML_DISPATCH_DECLARE_)                                                         \
    LIST(FASTML_DISPATCH_DEFINE_)                                                          \
    __attribute__((constructor)) static void fastml_dispatch_init(void)                   \
    {                                                                                      \
        const int level = fastml_cpu_level();                                              \
        LIST(FASTML_DISPATCH_SET_)                                                         \
    }

#endif
