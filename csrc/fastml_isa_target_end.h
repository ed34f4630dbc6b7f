/* Closes fastml_isa_target.h. */
#if defined(__clang__) && FASTML_ISA_LEVEL > FASTML_LEVEL_BASELINE
#pragma clang attribute pop
#endif
