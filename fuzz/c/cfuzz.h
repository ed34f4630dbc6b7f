/* Shared helpers of the C differential fuzz targets (fuzz/c/cfuzz_*.c).
 *
 * A target links the kernel source it checks once per SIMD level (fastml_levels.h, generated
 * from fastml/_simd_levels.py), compiled as setup.py's generated wrappers do (fuzz/c/isa_wrap.c: FASTML_ISA_BUILD, FASTML_ISA_LEVEL,
 * FASTML_ISA_SUFFIX, the source included between fastml_isa_target.h and
 * fastml_isa_target_end.h), so every kernel exists as fastml_NAME__<level name>.
 * LV(fastml_NAME, level) picks one; each input is run at every level the CPU
 * supports (cfuzz_levels(); FASTML_CPU lowers it as for fastml itself) and compared with a
 * naive reference written in the harness.
 *
 * Input bytes are decoded by the cf_* readers below, so every byte string is a valid test
 * case; past its end an input goes on as a pseudo-random stream seeded by its bytes (a
 * short input still fills a large tile with varied values, reproducibly). A mismatch prints what was compared and calls
 * abort(), which libFuzzer and the standalone driver report as a crash.
 */
#ifndef FASTML_CFUZZ_H
#define FASTML_CFUZZ_H
#ifndef FASTML_DISPATCH
#define FASTML_DISPATCH 1
#endif
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastml_cpu.h"
#include "fastml_dispatch.h"
#include "fastml_kernels.h"

/* the per-level kernels of a FASTML_KERNELS_* list */
#define CF_DECLARE_LEVELS(LIST) LIST(FASTML_DISPATCH_DECLARE_)
/* `pre` is fastml_NAME__ (pasted: the kernel's own name is a macro, see fastml_kernels.h) */
#define CF_LV_ONE_(pre, sfx, index) pre##sfx,
#define LV(name, lv)                                                                       \
    ((__typeof__(&name##__baseline)[]){FASTML_FOR_EACH_LEVEL(CF_LV_ONE_, name##__)}[(lv)])

static const char *const cf_level_names[FASTML_NLEVELS] = {FASTML_LEVEL_NAMES};

/* The highest level this CPU runs (FASTML_CPU may lower it). */
static inline int cfuzz_levels(void)
{
    static int cached = -1;
    if (cached < 0)
        cached = fastml_cpu_level();
    return cached;
}

/* ---------------------------------------------------------------------------------- */
typedef struct {
    const uint8_t *p;
    size_t n, i;
    uint64_t state; /* the stream after the end (0: not started) */
} cf_in;

static inline uint8_t cf_u8(cf_in *in)
{
    if (in->i < in->n)
        return in->p[in->i++];
    if (!in->state) { /* FNV-1a of the input */
        uint64_t h = 1469598103934665603ull;
        for (size_t k = 0; k < in->n; k++)
            h = (h ^ in->p[k]) * 1099511628211ull;
        in->state = h | 1;
    }
    in->state ^= in->state << 13; /* xorshift64 */
    in->state ^= in->state >> 7;
    in->state ^= in->state << 17;
    return (uint8_t)(in->state >> 24);
}
static inline uint32_t cf_u32(cf_in *in)
{
    uint32_t v = 0;
    for (int k = 0; k < 4; k++)
        v |= (uint32_t)cf_u8(in) << (8 * k);
    return v;
}
static inline uint64_t cf_u64(cf_in *in)
{
    return (uint64_t)cf_u32(in) | ((uint64_t)cf_u32(in) << 32);
}
/* an integer in [lo, hi] */
static inline int64_t cf_range(cf_in *in, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)(hi - lo) + 1;
    uint64_t v = span <= 256 ? cf_u8(in) : span <= 65536 ? (cf_u32(in) & 0xffff) : cf_u64(in);
    return lo + (int64_t)(v % span);
}
/* a size in [lo, hi], often next to a SIMD boundary (7-9, 15-17, 31-33, 63-65, ...) */
static inline int64_t cf_size(cf_in *in, int64_t lo, int64_t hi)
{
    static const int64_t edges[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64,
                                    65, 127, 128, 129, 255, 256, 257, 511, 512, 513, 1023,
                                    1024, 1025, 4095, 4096, 4097};
    uint8_t mode = cf_u8(in);
    int64_t v;
    if (mode < 96) {
        v = edges[cf_u8(in) % (sizeof edges / sizeof edges[0])];
        if (v < lo || v > hi)
            v = cf_range(in, lo, hi);
    } else if (mode < 224) { /* small sizes, the common case */
        int64_t top = lo + 20 < hi ? lo + 20 : hi;
        v = cf_range(in, lo, top);
    } else {
        v = cf_range(in, lo, hi);
    }
    return v;
}

/* Value kinds of cf_real. */
enum { CF_FINITE = 0, CF_SPECIAL = 1 };
/* A double: mostly moderate values, sometimes integers (ties), huge, tiny, subnormal,
 * signed zeros, and with CF_SPECIAL also inf and NaN. `nonneg`: |v|. */
static inline double cf_real(cf_in *in, int kind, int nonneg, int is_float)
{
    uint8_t m = cf_u8(in);
    double v;
    const double big = is_float ? 3e38 : 1.7e308, tiny = is_float ? 1.2e-38 : 2.3e-308,
                 sub = is_float ? 1.4e-45 : 4.9e-324;
    if (m < 120)
        v = ((int32_t)cf_u32(in)) / 65536.0; /* [-32768, 32768) */
    else if (m < 160)
        v = (int)(int8_t)cf_u8(in) % 8;      /* small integers: ties, equal values */
    else if (m < 180)
        v = ldexp((double)(int32_t)cf_u32(in), (int)(int8_t)cf_u8(in) % (is_float ? 100 : 1000));
    else if (m < 190)
        v = big * (cf_u8(in) / 255.0);
    else if (m < 200)
        v = tiny * (cf_u8(in) / 16.0);
    else if (m < 210)
        v = sub * cf_u8(in);
    else if (m < 220)
        v = (m & 1) ? -0.0 : 0.0;
    else if (kind == CF_SPECIAL && m < 232)
        v = (m & 1) ? -INFINITY : INFINITY;
    else if (kind == CF_SPECIAL && m < 244)
        v = NAN;
    else
        v = (double)(cf_u8(in) - 128) / 4.0;
    if (is_float && isfinite(v) && fabs(v) > 3.4e38)
        v = v > 0 ? 3.4e38 : -3.4e38;
    return nonneg ? fabs(v) : v;
}

static inline void cf_fill_f32(cf_in *in, float *a, int64_t n, int kind, int nonneg)
{
    for (int64_t i = 0; i < n; i++)
        a[i] = (float)cf_real(in, kind, nonneg, 1);
}
static inline void cf_fill_f64(cf_in *in, double *a, int64_t n, int kind, int nonneg)
{
    for (int64_t i = 0; i < n; i++)
        a[i] = cf_real(in, kind, nonneg, 0);
}

static inline void *cf_alloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "cfuzz: out of memory (%zu bytes)\n", bytes);
        abort();
    }
    return p;
}

#define CF_FAIL(...)                                                                       \
    do {                                                                                   \
        fprintf(stderr, "cfuzz MISMATCH (%s:%d): ", __FILE__, __LINE__);                   \
        fprintf(stderr, __VA_ARGS__);                                                      \
        fprintf(stderr, "\n");                                                             \
        abort();                                                                           \
    } while (0)

/* |got - ref| <= tol, or both NaN, or both the same infinity. */
static inline int cf_close(long double got, long double ref, long double tol)
{
    if (isnan(ref))
        return isnan(got);
    if (isinf(ref))
        return got == ref;
    if (!isfinite(got))
        return 0;
    long double d = got - ref;
    return (d < 0 ? -d : d) <= tol;
}
/* identical, NaN equal to NaN (copies, exact counts) */
static inline int cf_same(double a, double b) { return a == b || (a != a && b != b); }

#define EPS_F32 ((long double)FLT_EPSILON / 2)
#define EPS_F64 ((long double)DBL_EPSILON / 2)

#endif
