/* im2col / col2im and row copies for convolution as GEMM; see fastml_nn.h.
 *
 * The im2col formulation of convolution is the classic one (Chellapilla, Puri & Simard,
 * "High Performance Convolutional Neural Networks for Document Processing", 2006); the
 * loops here are written from that description. For each (channel, ki, kj) row the range
 * of output columns whose input column falls inside the image is computed once, so the
 * inner loops have no per-element bounds tests (a memcpy when the stride is 1).
 */
#include <stdint.h>
#include <string.h>

#include "fastml_cpu.h"
#include "fastml_nn.h"

#define FASTML_PRAGMA(x) _Pragma(#x)

/* Output columns [lo, hi) read input columns o*s - p + k inside [0, n). */
static inline void valid_range(int64_t n, int64_t k, int64_t s, int64_t p, int64_t m,
                               int64_t *lo, int64_t *hi)
{
    int64_t a = p - k, b = n - 1 + p - k;
    int64_t l = a <= 0 ? 0 : (a + s - 1) / s;
    int64_t h = b < 0 ? 0 : b / s + 1;
    l = l > m ? m : l;
    h = h > m ? m : h;
    h = h < l ? l : h;
    *lo = l;
    *hi = h;
}

#define DEFINE_CONV(T, SFX)                                                                \
    FASTML_CLONES void fastml_im2col_##SFX(const T *x, int64_t C, int64_t H, int64_t W,    \
                                           int64_t kh, int64_t kw, int64_t sh, int64_t sw, \
                                           int64_t ph, int64_t pw, int64_t Ho, int64_t Wo, \
                                           T *col, int64_t ldcol)                          \
    {                                                                                      \
        for (int64_t c = 0; c < C; c++) {                                                  \
            const T *xc = x + c * H * W;                                                   \
            for (int64_t ki = 0; ki < kh; ki++)                                            \
                for (int64_t kj = 0; kj < kw; kj++) {                                      \
                    T *row = col + ((c * kh + ki) * kw + kj) * ldcol;                      \
                    int64_t lo, hi;                                                        \
                    valid_range(W, kj, sw, pw, Wo, &lo, &hi);                              \
                    for (int64_t oh = 0; oh < Ho; oh++) {                                  \
                        T *r = row + oh * Wo;                                              \
                        int64_t ih = oh * sh - ph + ki;                                    \
                        if (ih < 0 || ih >= H) {                                           \
                            memset(r, 0, (size_t)Wo * sizeof(T));                          \
                            continue;                                                      \
                        }                                                                  \
                        for (int64_t ow = 0; ow < lo; ow++)                                \
                            r[ow] = 0;                                                     \
                        if (hi > lo) {                                                     \
                            const T *xr = xc + ih * W + (lo * sw - pw + kj);               \
                            if (sw == 1)                                                   \
                                memcpy(r + lo, xr, (size_t)(hi - lo) * sizeof(T));        \
                            else                                                           \
                                for (int64_t ow = lo; ow < hi; ow++)                       \
                                    r[ow] = xr[(ow - lo) * sw];                            \
                        }                                                                  \
                        for (int64_t ow = hi; ow < Wo; ow++)                               \
                            r[ow] = 0;                                                     \
                    }                                                                      \
                }                                                                          \
        }                                                                                  \
    }                                                                                      \
                                                                                           \
    FASTML_CLONES void fastml_col2im_##SFX(const T *col, int64_t ldcol, int64_t C,         \
                                           int64_t H, int64_t W, int64_t kh, int64_t kw,   \
                                           int64_t sh, int64_t sw, int64_t ph, int64_t pw, \
                                           int64_t Ho, int64_t Wo, T *x)                   \
    {                                                                                      \
        for (int64_t c = 0; c < C; c++) {                                                  \
            T *xc = x + c * H * W;                                                         \
            for (int64_t ki = 0; ki < kh; ki++)                                            \
                for (int64_t kj = 0; kj < kw; kj++) {                                      \
                    const T *row = col + ((c * kh + ki) * kw + kj) * ldcol;                \
                    int64_t lo, hi;                                                        \
                    valid_range(W, kj, sw, pw, Wo, &lo, &hi);                              \
                    if (hi <= lo)                                                          \
                        continue;                                                          \
                    for (int64_t oh = 0; oh < Ho; oh++) {                                  \
                        int64_t ih = oh * sh - ph + ki;                                    \
                        if (ih < 0 || ih >= H)                                             \
                            continue;                                                      \
                        const T *r = row + oh * Wo + lo;                                   \
                        T *xr = xc + ih * W + (lo * sw - pw + kj);                         \
                        int64_t n = hi - lo;                                               \
                        if (sw == 1) {                                                     \
                            FASTML_PRAGMA(omp simd)                                        \
                            for (int64_t j = 0; j < n; j++)                                \
                                xr[j] += r[j];                                             \
                        } else {                                                           \
                            for (int64_t j = 0; j < n; j++)                                \
                                xr[j * sw] += r[j];                                        \
                        }                                                                  \
                    }                                                                      \
                }                                                                          \
        }                                                                                  \
    }                                                                                      \
                                                                                           \
    FASTML_CLONES void fastml_rows_add_bias_##SFX(const T *src, int64_t lds, T *out,       \
                                                  int64_t ldo, int64_t nr, int64_t n,      \
                                                  const T *bias)                           \
    {                                                                                      \
        for (int64_t r = 0; r < nr; r++) {                                                 \
            const T *s = src + r * lds;                                                    \
            T *o = out + r * ldo;                                                          \
            T b = bias ? bias[r] : (T)0;                                                   \
            FASTML_PRAGMA(omp simd)                                                        \
            for (int64_t j = 0; j < n; j++)                                                \
                o[j] = s[j] + b;                                                           \
        }                                                                                  \
    }                                                                                      \
                                                                                           \
    FASTML_CLONES void fastml_rows_copy_sum_##SFX(const T *src, int64_t lds, T *dst,       \
                                                  int64_t ldd, int64_t nr, int64_t n,      \
                                                  double *acc)                             \
    {                                                                                      \
        for (int64_t r = 0; r < nr; r++) {                                                 \
            const T *s = src + r * lds;                                                    \
            T *d = dst ? dst + r * ldd : NULL;                                             \
            T t = 0;                                                                       \
            if (d) {                                                                       \
                FASTML_PRAGMA(omp simd reduction(+ : t))                                   \
                for (int64_t j = 0; j < n; j++) {                                          \
                    d[j] = s[j];                                                           \
                    t += s[j];                                                             \
                }                                                                          \
            } else {                                                                       \
                FASTML_PRAGMA(omp simd reduction(+ : t))                                   \
                for (int64_t j = 0; j < n; j++)                                            \
                    t += s[j];                                                             \
            }                                                                              \
            if (acc)                                                                       \
                acc[r] += (double)t;                                                       \
        }                                                                                  \
    }

DEFINE_CONV(float, f32)
DEFINE_CONV(double, f64)
