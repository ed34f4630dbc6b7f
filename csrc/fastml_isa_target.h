/* Switches the compiler to the target of level FASTML_ISA_LEVEL (fastml_levels.h, generated
 * from fastml/_simd_levels.py) for the rest of a per-target translation unit (included
 * first by the wrappers setup.py generates; see fastml_cpu.h). GCC: `#pragma GCC target`;
 * clang: `#pragma clang attribute push`, closed by fastml_isa_target_end.h. */
#include "fastml_levels.h"
#if FASTML_ISA_LEVEL > FASTML_LEVEL_BASELINE
#if defined(__clang__)
FASTML_LEVEL_CAT_(FASTML_LEVEL_CLANG_TARGET_, FASTML_ISA_LEVEL)
#else
FASTML_LEVEL_CAT_(FASTML_LEVEL_GCC_TARGET_, FASTML_ISA_LEVEL)
#endif
#endif
