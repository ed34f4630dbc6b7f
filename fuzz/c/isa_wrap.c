/* One kernel source of csrc/ at one SIMD level, exactly as setup.py's generated wrappers
 * compile it. Built with -DFASTML_ISA_LEVEL=0|1|2 -DFASTML_ISA_SUFFIX=baseline|avx2|avx512
 * -DCFUZZ_SOURCE='"distances.c"' (see fuzz/c/build.py). */
#define FASTML_ISA_BUILD 1
#include "fastml_isa_target.h"
#include CFUZZ_SOURCE
#include "fastml_isa_target_end.h"
