/* What the dispatch of csrc/ detects and uses in this process; see fastml_cpu.h. */
#include "fastml_cpu.h"

int fastml_cpu_detected_level(void) { return fastml_cpu_detected(); }
int fastml_cpu_cap_level(void) { return fastml_cpu_cap(); }
int fastml_cpu_used_level(void) { return fastml_cpu_level(); }
int fastml_cpu_dispatch_built(void) { return FASTML_DISPATCH; }

const char *fastml_simd_path(void)
{
    static const char *const names[3] = {"baseline", "avx2", "avx512"};
    return names[fastml_cpu_level()];
}
