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

/* ------------------------------------------------------------------------------------
 * Direct convolution at stride 1; see fastml_nn.h. Written with GCC vector extensions
 * (64-byte vectors: one AVX-512 register, split by the compiler on older targets): a
 * block of 2 x 8 output vectors (two flat positions-vectors x FASTML_NN_COB channels)
 * stays in registers while the taps stream through, so each tap costs two unaligned loads
 * of the input and 16 fused multiply-adds with broadcast weights. The weight gradient
 * works on pairs of taps with the 8 gradient rows, again 16 accumulators.
 * ------------------------------------------------------------------------------------ */
#define COB FASTML_NN_COB

#define DEFINE_DIRECT(T, SFX)                                                              \
    typedef T vec_##SFX __attribute__((vector_size(64)));                                  \
    enum { VL_##SFX = 64 / sizeof(T) };                                                    \
                                                                                           \
    FASTML_CLONES void fastml_direct_fwd_##SFX(const T *xp, int64_t C, int64_t plane,      \
                                               int64_t Wp, int64_t kh, int64_t kw,         \
                                               const T *wpk, int64_t nflat, T *obuf,       \
                                               int64_t ldo)                                \
    {                                                                                      \
        const int64_t V = VL_##SFX;                                                        \
        int64_t f = 0;                                                                     \
        for (; f + V < nflat; f += 2 * V) {                                                \
            vec_##SFX a[2][COB];                                                           \
            for (int j = 0; j < COB; j++)                                                  \
                a[0][j] = a[1][j] = (vec_##SFX){0};                                        \
            const T *wt = wpk;                                                             \
            for (int64_t c = 0; c < C; c++)                                                \
                for (int64_t ki = 0; ki < kh; ki++) {                                      \
                    const T *xr = xp + c * plane + ki * Wp + f;                            \
                    for (int64_t kj = 0; kj < kw; kj++, wt += COB) {                       \
                        vec_##SFX x0, x1;                                                  \
                        memcpy(&x0, xr + kj, sizeof x0);                                   \
                        memcpy(&x1, xr + kj + V, sizeof x1);                               \
                        FASTML_PRAGMA(GCC unroll 8)                                        \
                        for (int j = 0; j < COB; j++) {                                    \
                            a[0][j] += wt[j] * x0;                                         \
                            a[1][j] += wt[j] * x1;                                         \
                        }                                                                  \
                    }                                                                      \
                }                                                                          \
            for (int j = 0; j < COB; j++) {                                                \
                memcpy(obuf + j * ldo + f, &a[0][j], sizeof a[0][j]);                      \
                memcpy(obuf + j * ldo + f + V, &a[1][j], sizeof a[1][j]);                  \
            }                                                                              \
        }                                                                                  \
        for (; f < nflat; f += V) {                                                        \
            vec_##SFX a[COB];                                                              \
            for (int j = 0; j < COB; j++)                                                  \
                a[j] = (vec_##SFX){0};                                                     \
            const T *wt = wpk;                                                             \
            for (int64_t c = 0; c < C; c++)                                                \
                for (int64_t ki = 0; ki < kh; ki++) {                                      \
                    const T *xr = xp + c * plane + ki * Wp + f;                            \
                    for (int64_t kj = 0; kj < kw; kj++, wt += COB) {                       \
                        vec_##SFX x0;                                                      \
                        memcpy(&x0, xr + kj, sizeof x0);                                   \
                        FASTML_PRAGMA(GCC unroll 8)                                        \
                        for (int j = 0; j < COB; j++)                                      \
                            a[j] += wt[j] * x0;                                            \
                    }                                                                      \
                }                                                                          \
            for (int j = 0; j < COB; j++)                                                  \
                memcpy(obuf + j * ldo + f, &a[j], sizeof a[j]);                            \
        }                                                                                  \
    }                                                                                      \
                                                                                           \
    static inline T hsum_##SFX(const vec_##SFX *v)                                         \
    {                                                                                      \
        T s = 0;                                                                           \
        for (int i = 0; i < VL_##SFX; i++)                                                 \
            s += (*v)[i];                                                                  \
        return s;                                                                          \
    }                                                                                      \
                                                                                           \
    FASTML_CLONES void fastml_direct_dw_##SFX(const T *xp, int64_t C, int64_t plane,       \
                                              int64_t Wp, int64_t kh, int64_t kw,          \
                                              const T *g, int64_t ldg, int64_t nflat,      \
                                              T *dwacc)                                    \
    {                                                                                      \
        const int64_t V = VL_##SFX;                                                        \
        T *dt = dwacc;                                                                     \
        for (int64_t c = 0; c < C; c++)                                                    \
            for (int64_t ki = 0; ki < kh; ki++) {                                          \
                const T *xr = xp + c * plane + ki * Wp;                                    \
                int64_t kj = 0;                                                            \
                for (; kj + 1 < kw; kj += 2, dt += 2 * COB) {                              \
                    vec_##SFX s[2][COB];                                                   \
                    for (int j = 0; j < COB; j++)                                          \
                        s[0][j] = s[1][j] = (vec_##SFX){0};                                \
                    for (int64_t f = 0; f < nflat; f += V) {                               \
                        vec_##SFX x0, x1;                                                  \
                        memcpy(&x0, xr + kj + f, sizeof x0);                               \
                        memcpy(&x1, xr + kj + 1 + f, sizeof x1);                           \
                        FASTML_PRAGMA(GCC unroll 8)                                        \
                        for (int j = 0; j < COB; j++) {                                    \
                            vec_##SFX gv;                                                  \
                            memcpy(&gv, g + j * ldg + f, sizeof gv);                       \
                            s[0][j] += gv * x0;                                            \
                            s[1][j] += gv * x1;                                            \
                        }                                                                  \
                    }                                                                      \
                    for (int j = 0; j < COB; j++) {                                        \
                        dt[j] += hsum_##SFX(&s[0][j]);                                     \
                        dt[COB + j] += hsum_##SFX(&s[1][j]);                               \
                    }                                                                      \
                }                                                                          \
                for (; kj < kw; kj++, dt += COB) {                                         \
                    vec_##SFX s[COB];                                                      \
                    for (int j = 0; j < COB; j++)                                          \
                        s[j] = (vec_##SFX){0};                                             \
                    for (int64_t f = 0; f < nflat; f += V) {                               \
                        vec_##SFX x0;                                                      \
                        memcpy(&x0, xr + kj + f, sizeof x0);                               \
                        FASTML_PRAGMA(GCC unroll 8)                                        \
                        for (int j = 0; j < COB; j++) {                                    \
                            vec_##SFX gv;                                                  \
                            memcpy(&gv, g + j * ldg + f, sizeof gv);                       \
                            s[j] += gv * x0;                                               \
                        }                                                                  \
                    }                                                                      \
                    for (int j = 0; j < COB; j++)                                          \
                        dt[j] += hsum_##SFX(&s[j]);                                        \
                }                                                                          \
            }                                                                              \
    }                                                                                      \
                                                                                           \
    FASTML_CLONES void fastml_pad_planes_##SFX(const T *x, int64_t C, int64_t H,           \
                                               int64_t W, int64_t ph, int64_t pw,          \
                                               int64_t Hp, int64_t Wp, T *xp)              \
    {                                                                                      \
        for (int64_t c = 0; c < C; c++) {                                                  \
            T *pc = xp + c * Hp * Wp;                                                      \
            const T *xc = x + c * H * W;                                                   \
            memset(pc, 0, (size_t)(ph * Wp) * sizeof(T));                                  \
            for (int64_t ih = 0; ih < H; ih++) {                                           \
                T *r = pc + (ih + ph) * Wp;                                                \
                memset(r, 0, (size_t)pw * sizeof(T));                                      \
                memcpy(r + pw, xc + ih * W, (size_t)W * sizeof(T));                        \
                memset(r + pw + W, 0, (size_t)(Wp - pw - W) * sizeof(T));                  \
            }                                                                              \
            memset(pc + (H + ph) * Wp, 0, (size_t)((Hp - H - ph) * Wp) * sizeof(T));       \
        }                                                                                  \
    }                                                                                      \
                                                                                           \
    FASTML_CLONES void fastml_unflat_##SFX(const T *obuf, int64_t ldo, int64_t nc,         \
                                           int64_t Ho, int64_t Wo, int64_t Wp,             \
                                           const T *bias, T *out)                          \
    {                                                                                      \
        for (int64_t j = 0; j < nc; j++) {                                                 \
            T b = bias ? bias[j] : (T)0;                                                   \
            for (int64_t oh = 0; oh < Ho; oh++) {                                          \
                const T *s = obuf + j * ldo + oh * Wp;                                     \
                T *o = out + (j * Ho + oh) * Wo;                                           \
                FASTML_PRAGMA(omp simd)                                                    \
                for (int64_t ow = 0; ow < Wo; ow++)                                        \
                    o[ow] = s[ow] + b;                                                     \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
                                                                                           \
    FASTML_CLONES void fastml_flat_grad_##SFX(const T *gout, int64_t nc, int64_t Ho,       \
                                              int64_t Wo, int64_t Wp, T *g, int64_t ldg,   \
                                              double *acc)                                 \
    {                                                                                      \
        for (int64_t j = 0; j < COB; j++) {                                                \
            T *gj = g + j * ldg;                                                           \
            if (j >= nc) {                                                                 \
                memset(gj, 0, (size_t)ldg * sizeof(T));                                    \
                continue;                                                                  \
            }                                                                              \
            T t = 0;                                                                       \
            for (int64_t oh = 0; oh < Ho; oh++) {                                          \
                const T *s = gout + (j * Ho + oh) * Wo;                                    \
                T *d = gj + oh * Wp;                                                       \
                FASTML_PRAGMA(omp simd reduction(+ : t))                                   \
                for (int64_t ow = 0; ow < Wo; ow++) {                                      \
                    d[ow] = s[ow];                                                         \
                    t += s[ow];                                                            \
                }                                                                          \
                for (int64_t ow = Wo; ow < Wp; ow++)                                       \
                    d[ow] = 0;                                                             \
            }                                                                              \
            memset(gj + Ho * Wp, 0, (size_t)(ldg - Ho * Wp) * sizeof(T));                  \
            if (acc)                                                                       \
                acc[j] += (double)t;                                                       \
        }                                                                                  \
    }

DEFINE_DIRECT(float, f32)
DEFINE_DIRECT(double, f64)
