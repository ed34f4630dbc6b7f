/* What the dispatch of csrc/ detects and uses in this process; see fastml_cpu.h. */
#include "fastml_cpu.h"

static const char *const fastml_level_names[FASTML_NLEVELS] = {FASTML_LEVEL_NAMES};

int fastml_cpu_detected_level(void) { return fastml_cpu_detected(); }
int fastml_cpu_cap_level(void) { return fastml_cpu_cap(); }
int fastml_cpu_used_level(void) { return fastml_cpu_level(); }
int fastml_cpu_dispatch_built(void) { return FASTML_DISPATCH; }
int fastml_cpu_nlevels(void) { return FASTML_NLEVELS; }

const char *fastml_cpu_level_name(int level)
{
    return level >= 0 && level < FASTML_NLEVELS ? fastml_level_names[level] : "";
}

const char *fastml_simd_path(void) { return fastml_level_names[fastml_cpu_level()]; }
