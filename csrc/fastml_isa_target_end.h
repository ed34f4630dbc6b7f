/* Closes fastml_isa_target.h. */
#if defined(__clang__) && FASTML_ISA_LEVEL >= 1
#pragma clang attribute pop
#endif
