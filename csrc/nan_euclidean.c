/* The Euclidean distance with missing values; see fastml_nan_euclidean.h.
 *
 * A register tile of R x 4 pairs (R = 4 where the level has 32 vector registers, else 2)
 * walks the features; each step loads R + 4 values, and per pair takes the difference,
 * compares it with itself (false for NaN: a coordinate missing in either row) and adds
 * its square where present. GCC vectorises the feature loop (`omp simd` reductions), one
 * build per SIMD level (fastml_cpu.h). Features go in chunks of KC so that the chunk of
 * the R rows of X stays in L1 while the rows of Y stream past.
 */
#include <math.h>
#include <stdint.h>

#include "fastml_cpu.h"
#include "fastml_nan_euclidean.h"

/* a += t^2 where t is a number, a unchanged where t is NaN, in two vector operations where
 * the level has FMA (GCC contracts a + t * t): u = a + t * t is >= a unless it is NaN, and
 * `u > a ? u : a` is a when u is NaN (the semantics of the x86 max instruction, so no
 * separate compare or mask is needed) */
#define NE_ADD(a, t)                                                                       \
    do {                                                                                   \
        double u_ = (a) + (t) * (t);                                                        \
        (a) = u_ > (a) ? u_ : (a);                                                         \
    } while (0)

#ifndef NE_KC
#define NE_KC 512
#endif
#if FASTML_VEC_REGS >= 32
#define NE_ROWS 4
#else
#define NE_ROWS 2
#endif

#define DEFINE_NAN_SQDIST(T, SFX)                                                          \
    static inline double ne_one_##SFX(const T *x, const T *y, int64_t k0, int64_t k1)      \
    {                                                                                      \
        double a = 0;                                                                      \
        FASTML_PRAGMA(omp simd reduction(+ : a))                                           \
        for (int64_t k = k0; k < k1; k++) {                                                \
            double t = (double)x[k] - (double)y[k];                                        \
            NE_ADD(a, t);                                                                  \
        }                                                                                  \
        return a;                                                                          \
    }                                                                                      \
    void fastml_nan_sqdist_##SFX(const T *X, int64_t nx, const T *Y, int64_t ny,           \
                                 int64_t d, double *acc, int64_t lda)                      \
    {                                                                                      \
        const int64_t KC = NE_KC;                                      \
        for (int64_t i = 0; i < nx; i++)                                                   \
            for (int64_t j = 0; j < ny; j++)                                               \
                acc[i * lda + j] = 0;                                                      \
        for (int64_t k0 = 0; k0 < d; k0 += KC) {                                           \
            const int64_t k1 = k0 + KC < d ? k0 + KC : d;                                  \
            int64_t i0 = 0;                                                                \
            for (; i0 + NE_ROWS <= nx; i0 += NE_ROWS) {                                    \
                const T *x0 = X + i0 * d, *x1 = x0 + d;                                    \
                const T *x2 = NE_ROWS > 2 ? x1 + d : x1, *x3 = NE_ROWS > 2 ? x2 + d : x1;  \
                int64_t j0 = 0;                                                            \
                for (; j0 + 4 <= ny; j0 += 4) {                                            \
                    const T *y0 = Y + j0 * d, *y1 = y0 + d, *y2 = y1 + d, *y3 = y2 + d;    \
                    double a00 = 0, a01 = 0, a02 = 0, a03 = 0, a10 = 0, a11 = 0, a12 = 0,  \
                           a13 = 0, a20 = 0, a21 = 0, a22 = 0, a23 = 0, a30 = 0, a31 = 0,  \
                           a32 = 0, a33 = 0;                                               \
                    if (NE_ROWS > 2) {                                                     \
                        FASTML_PRAGMA(omp simd reduction(+ : a00, a01, a02, a03, a10, a11, \
                                                         a12, a13, a20, a21, a22, a23,     \
                                                         a30, a31, a32, a33))              \
                        for (int64_t k = k0; k < k1; k++) {                                \
                            double p = x0[k], q = x1[k], r = x2[k], s = x3[k];             \
                            double u = y0[k], v = y1[k], w = y2[k], z = y3[k];             \
                            double t;                                                      \
                            t = p - u; NE_ADD(a00, t); t = p - v; NE_ADD(a01, t);        \
                            t = p - w; NE_ADD(a02, t); t = p - z; NE_ADD(a03, t);        \
                            t = q - u; NE_ADD(a10, t); t = q - v; NE_ADD(a11, t);        \
                            t = q - w; NE_ADD(a12, t); t = q - z; NE_ADD(a13, t);        \
                            t = r - u; NE_ADD(a20, t); t = r - v; NE_ADD(a21, t);        \
                            t = r - w; NE_ADD(a22, t); t = r - z; NE_ADD(a23, t);        \
                            t = s - u; NE_ADD(a30, t); t = s - v; NE_ADD(a31, t);        \
                            t = s - w; NE_ADD(a32, t); t = s - z; NE_ADD(a33, t);        \
                        }                                                                  \
                    } else {                                                               \
                        FASTML_PRAGMA(omp simd reduction(+ : a00, a01, a02, a03, a10, a11, \
                                                         a12, a13))                        \
                        for (int64_t k = k0; k < k1; k++) {                                \
                            double p = x0[k], q = x1[k];                                   \
                            double u = y0[k], v = y1[k], w = y2[k], z = y3[k];             \
                            double t;                                                      \
                            t = p - u; NE_ADD(a00, t); t = p - v; NE_ADD(a01, t);        \
                            t = p - w; NE_ADD(a02, t); t = p - z; NE_ADD(a03, t);        \
                            t = q - u; NE_ADD(a10, t); t = q - v; NE_ADD(a11, t);        \
                            t = q - w; NE_ADD(a12, t); t = q - z; NE_ADD(a13, t);        \
                        }                                                                  \
                    }                                                                      \
                    double res[16] = {a00, a01, a02, a03, a10, a11, a12, a13,              \
                                      a20, a21, a22, a23, a30, a31, a32, a33};             \
                    for (int a = 0; a < NE_ROWS; a++)                                      \
                        for (int b = 0; b < 4; b++)                                        \
                            acc[(i0 + a) * lda + j0 + b] += res[4 * a + b];                \
                }                                                                          \
                for (; j0 < ny; j0++) /* column tail */                                    \
                    for (int a = 0; a < NE_ROWS; a++)                                      \
                        acc[(i0 + a) * lda + j0] +=                                        \
                            ne_one_##SFX(X + (i0 + a) * d, Y + j0 * d, k0, k1);            \
            }                                                                              \
            for (; i0 < nx; i0++) /* row tail */                                           \
                for (int64_t j = 0; j < ny; j++)                                           \
                    acc[i0 * lda + j] += ne_one_##SFX(X + i0 * d, Y + j * d, k0, k1);      \
        }                                                                                  \
    }

DEFINE_NAN_SQDIST(double, f64)

/* out = (S / c) * d as scikit-learn scales it (then sqrt), NaN where c == 0 */
#define DEFINE_NAN_FINISH(T, SFX)                                                          \
    void fastml_nan_finish_##SFX(const double *acc, int64_t lda, const float *cnt,         \
                                 int64_t ldc, int64_t nr, int64_t nc, double d,            \
                                 int squared, T *out, int64_t ldo)                         \
    {                                                                                      \
        for (int64_t i = 0; i < nr; i++) {                                                 \
            const double *a = acc + i * lda;                                               \
            const float *c = cnt + i * ldc;                                                \
            T *o = out + i * ldo;                                                          \
            if (squared) {                                                                 \
                FASTML_PRAGMA(omp simd)                                                    \
                for (int64_t j = 0; j < nc; j++)                                           \
                    o[j] = (T)(c[j] > 0 ? (a[j] / c[j]) * d : NAN);                        \
            } else {                                                                       \
                FASTML_PRAGMA(omp simd)                                                    \
                for (int64_t j = 0; j < nc; j++)                                           \
                    o[j] = (T)(c[j] > 0 ? sqrt((a[j] / c[j]) * d) : NAN);                  \
            }                                                                              \
        }                                                                                  \
    }

DEFINE_NAN_FINISH(float, f32)
DEFINE_NAN_FINISH(double, f64)
