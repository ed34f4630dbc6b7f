/* One kernel source of csrc/ at one SIMD level, exactly as setup.py's generated wrappers
 * compile it. Built with -DFASTML_ISA_LEVEL=<index> -DFASTML_ISA_SUFFIX=<name> of a level of
 * fastml/_simd_levels.py and -DCFUZZ_SOURCE='"distances.c"' (see fuzz/c/build.py). */
#define FASTML_ISA_BUILD 1
#include "fastml_isa_target.h"
#include CFUZZ_SOURCE
#include "fastml_isa_target_end.h"
