/* The function-pointer table of one extension module (fastml_cpu.h). setup.py generates,
 * per extension, a translation unit that includes the headers of its kernel sources and
 * this file, then
 *     FASTML_DISPATCH_TABLE(FASTML_KERNELS_PAIRWISE)
 * which declares the per-level functions (one per level of fastml_levels.h), defines the
 * pointers (at first to the baseline functions) and sets them once, when the extension is
 * loaded, for fastml_cpu_level().
 */
#ifndef FASTML_DISPATCH_H
#define FASTML_DISPATCH_H
#include "fastml_cpu.h"
#include "fastml_kernels.h"

/* `pre` is fastml_NAME__ (pasted, so that the kernel's own name is never macro-expanded) */
#define FASTML_DISPATCH_DECLARE_ONE_(pre, sfx, index) extern __typeof__(*pre##ptr) pre##sfx;
#define FASTML_DISPATCH_DECLARE_(name) FASTML_FOR_EACH_LEVEL(FASTML_DISPATCH_DECLARE_ONE_, name##__)
#define FASTML_DISPATCH_DEFINE_(name)                                                      \
    __attribute__((visibility("hidden"))) __typeof__(*name##__ptr) *name##__ptr =          \
        name##__baseline;
/* levels lowest first: the last one at or below `level` wins */
#define FASTML_DISPATCH_SET_ONE_(pre, sfx, index)                                          \
    if (level >= index)                                                                    \
        pre##ptr = pre##sfx;
#define FASTML_DISPATCH_SET_(name) FASTML_FOR_EACH_LEVEL(FASTML_DISPATCH_SET_ONE_, name##__)

#define FASTML_DISPATCH_TABLE(LIST)                                                        \
    LIST(FASTML_DISPATCH_DECLARE_)                                                         \
    LIST(FASTML_DISPATCH_DEFINE_)                                                          \
    __attribute__((constructor)) static void fastml_dispatch_init(void)                   \
    {                                                                                      \
        const int level = fastml_cpu_level();                                              \
        LIST(FASTML_DISPATCH_SET_)                                                         \
    }

#endif
