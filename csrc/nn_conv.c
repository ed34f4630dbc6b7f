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

/* Short copies and zero fills (rows of a few dozen bytes, the common case in these
 * loops) without a library call: whole 64-byte moves, the tail as one overlapping move
 * of the largest power of two that fits. d and s never overlap. */
static inline void copy_short(void *d, const void *s, size_t n) /* n < 64 */
{
    char *dc = (char *)d;
    const char *sc = (const char *)s;
    if (n >= 32) {
        memcpy(dc, sc, 32);
        memcpy(dc + n - 32, sc + n - 32, 32);
    } else if (n >= 16) {
        memcpy(dc, sc, 16);
        memcpy(dc + n - 16, sc + n - 16, 16);
    } else if (n >= 8) {
        memcpy(dc, sc, 8);
        memcpy(dc + n - 8, sc + n - 8, 8);
    } else if (n >= 4) {
        memcpy(dc, sc, 4);
        memcpy(dc + n - 4, sc + n - 4, 4);
    } else {
        for (size_t i = 0; i < n; i++)
            dc[i] = sc[i];
    }
}

static inline void copy_bytes(void *d, const void *s, size_t n)
{
    char *dc = (char *)d;
    const char *sc = (const char *)s;
    if (n >= 64) {
        size_t i = 0;
        for (; i + 64 <= n; i += 64)
            memcpy(dc + i, sc + i, 64);
        if (i < n)
            memcpy(dc + n - 64, sc + n - 64, 64);
    } else {
        copy_short(d, s, n);
    }
}

static inline void zero_bytes(void *d, size_t n)
{
    static const char zeros[64] = {0};
    char *dc = (char *)d;
    if (n >= 64) {
        size_t i = 0;
        for (; i + 64 <= n; i += 64)
            memcpy(dc + i, zeros, 64);
        if (i < n)
            memcpy(dc + n - 64, zeros, 64);
    } else {
        copy_short(d, zeros, n);
    }
}

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
    void fastml_im2col_##SFX(const T *x, int64_t C, int64_t H, int64_t W,    \
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
    void fastml_col2im_##SFX(const T *col, int64_t ldcol, int64_t C,         \
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
    void fastml_rows_add_bias_##SFX(const T *src, int64_t lds, T *out,       \
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
    void fastml_rows_copy_sum_##SFX(const T *src, int64_t lds, T *dst,       \
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
 * Direct convolution at stride 1; see fastml_nn.h. Written with GCC vector extensions of
 * one register (FASTML_VEC_BYTES of the level this file is compiled for: 64 bytes for
 * avx512, 32 for avx2, 16 for the baseline). A block of accumulators stays in registers
 * while the taps stream through, sized from the register file (FASTML_VEC_REGS: 16 of
 * the 32 zmm registers, 12 of 16 ymm / xmm, leaving room for loads and broadcasts):
 *   forward: NV consecutive output vectors x NC output channels (NV a power of two, so
 *            that blocks tile FASTML_NN_FLAT_BLOCK), so each tap costs NV unaligned input
 *            loads, NC weight broadcasts and NV * NC FMAs;
 *   dw:      NT taps x NC channels: per output vector NT input loads, NC gradient loads
 *            (kept in registers when they fit) and NT * NC FMAs, over a tile of samples
 *            (small images give short flat loops); the accumulators are then added, still
 *            as vectors, to per-thread partial sums (slots of 64 bytes whatever the vector
 *            width; the caller zeroes them and reduces across lanes once).
 * NC is chosen by the caller from the channel count (less zero padding).
 * ------------------------------------------------------------------------------------ */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* One vector register of the compiled level, and the integer vector of the same shape. */
typedef float vec_f32 __attribute__((vector_size(FASTML_VEC_BYTES)));
typedef double vec_f64 __attribute__((vector_size(FASTML_VEC_BYTES)));
typedef int32_t ivec_f32 __attribute__((vector_size(FASTML_VEC_BYTES)));
typedef int64_t ivec_f64 __attribute__((vector_size(FASTML_VEC_BYTES)));
typedef uint8_t u8vec_f32 __attribute__((vector_size(FASTML_VEC_BYTES / 4)));
typedef uint8_t u8vec_f64 __attribute__((vector_size(FASTML_VEC_BYTES / 8)));

#define CONV_ACC (FASTML_VEC_REGS >= 32 ? 16 : 12) /* accumulator registers */
#define CONV_POW2_FLOOR(n) ((n) >= 16 ? 16 : (n) >= 8 ? 8 : (n) >= 4 ? 4 : (n) >= 2 ? 2 : 1)
#define CONV_NV(NC) CONV_POW2_FLOOR(CONV_ACC / (NC))
/* dw keeps NC gradient vectors and one input vector live next to the NT * NC sums */
#define CONV_NT_(NC) (FASTML_VEC_REGS >= 32 ? 16 / (NC) : (FASTML_VEC_REGS - 1 - (NC)) / (NC))
#define CONV_NT(NC) (CONV_NT_(NC) < 1 ? 1 : CONV_NT_(NC) > CONV_ACC / (NC) ? CONV_ACC / (NC) : CONV_NT_(NC))
#define CONV_SLOT(T) (64 / (int64_t)sizeof(T)) /* lanes of a dwacc slot (fastml_nn.h) */

#define DEFINE_DIRECT_NC(T, SFX, NC)                                                       \
    ALWAYS_INLINE void direct_fwd_##SFX##_##NC(const T *xp, int64_t C, int64_t plane,      \
                                               int64_t Wp, int64_t kh, int64_t kw,         \
                                               const T *wpk, int64_t nflat, T *obuf,       \
                                               int64_t ldo)                                \
    {                                                                                      \
        enum { V = FASTML_VEC_BYTES / sizeof(T), NV = CONV_NV(NC) };                       \
        int64_t f = 0;                                                                     \
        for (; f < nflat; f += NV * V) { /* past nflat up to a whole block */              \
            vec_##SFX a[NV][NC];                                                           \
            for (int v = 0; v < NV; v++)                                                   \
                for (int j = 0; j < NC; j++)                                               \
                    a[v][j] = (vec_##SFX){0};                                              \
            const T *wt = wpk;                                                             \
            for (int64_t c = 0; c < C; c++)                                                \
                for (int64_t ki = 0; ki < kh; ki++) {                                      \
                    const T *xr = xp + c * plane + ki * Wp + f;                            \
                    for (int64_t kj = 0; kj < kw; kj++, wt += NC) {                        \
                        FASTML_PRAGMA(GCC unroll 16)                                       \
                        for (int v = 0; v < NV; v++) {                                     \
                            vec_##SFX xv;                                                  \
                            memcpy(&xv, xr + kj + v * V, sizeof xv);                       \
                            FASTML_PRAGMA(GCC unroll 8)                                    \
                            for (int j = 0; j < NC; j++)                                   \
                                a[v][j] += wt[j] * xv;                                     \
                        }                                                                  \
                    }                                                                      \
                }                                                                          \
            for (int v = 0; v < NV; v++)                                                   \
                for (int j = 0; j < NC; j++)                                               \
                    memcpy(obuf + j * ldo + f + v * V, &a[v][j], sizeof a[v][j]);          \
        }                                                                                  \
    }                                                                                      \
                                                                                           \
    ALWAYS_INLINE void direct_dw_##SFX##_##NC(const T *xp, int64_t C, int64_t plane,       \
                                              int64_t Wp, int64_t kh, int64_t kw,          \
                                              const T *g, int64_t ldg, int64_t nflat,      \
                                              int64_t ns, int64_t xstride,                 \
                                              int64_t gstride, T *dwacc)                   \
    {                                                                                      \
        enum { V = FASTML_VEC_BYTES / sizeof(T), NT = CONV_NT(NC) };                       \
        int64_t K = C * kh * kw, c = 0, ki = 0, kj = 0;                                    \
        for (int64_t t0 = 0; t0 < K; t0 += NT) {                                           \
            int64_t off[NT];                                                               \
            int nt = (int)(K - t0 < NT ? K - t0 : NT);                                     \
            for (int t = 0; t < NT; t++) {                                                 \
                off[t] = c * plane + ki * Wp + kj;                                         \
                if (t < nt && ++kj == kw) {                                                \
                    kj = 0;                                                                \
                    if (++ki == kh) {                                                      \
                        ki = 0;                                                            \
                        c++;                                                               \
                    }                                                                      \
                }                                                                          \
                if (t >= nt)                                                               \
                    off[t] = 0;                                                            \
            }                                                                              \
            vec_##SFX s[NT][NC];                                                           \
            for (int t = 0; t < NT; t++)                                                   \
                for (int j = 0; j < NC; j++)                                               \
                    s[t][j] = (vec_##SFX){0};                                              \
            for (int64_t smp = 0; smp < ns; smp++) {                                       \
                const T *xs = xp + smp * xstride, *gs = g + smp * gstride;                 \
                for (int64_t f = 0; f < nflat; f += V) {                                   \
                    vec_##SFX gv[NC];                                                      \
                    for (int j = 0; j < NC; j++)                                           \
                        memcpy(&gv[j], gs + j * ldg + f, sizeof gv[j]);                    \
                    FASTML_PRAGMA(GCC unroll 16)                                           \
                    for (int t = 0; t < NT; t++) {                                         \
                        vec_##SFX xv;                                                      \
                        memcpy(&xv, xs + off[t] + f, sizeof xv);                           \
                        FASTML_PRAGMA(GCC unroll 8)                                        \
                        for (int j = 0; j < NC; j++)                                       \
                            s[t][j] += gv[j] * xv;                                         \
                    }                                                                      \
                }                                                                          \
            }                                                                              \
            for (int t = 0; t < nt; t++)                                                   \
                for (int j = 0; j < NC; j++) {                                             \
                    T *d = dwacc + ((t0 + t) * NC + j) * CONV_SLOT(T);                     \
                    vec_##SFX acc;                                                         \
                    memcpy(&acc, d, sizeof acc);                                           \
                    acc += s[t][j];                                                        \
                    memcpy(d, &acc, sizeof acc);                                           \
                }                                                                          \
        }                                                                                  \
    }

#define DEFINE_DIRECT(T, SFX)                                                              \
    DEFINE_DIRECT_NC(T, SFX, 8)                                                            \
    DEFINE_DIRECT_NC(T, SFX, 6)                                                            \
    DEFINE_DIRECT_NC(T, SFX, 4)                                                            \
    DEFINE_DIRECT_NC(T, SFX, 2)                                                            \
    DEFINE_DIRECT_NC(T, SFX, 1)                                                            \
                                                                                           \
    void fastml_direct_fwd_##SFX(const T *xp, int64_t C, int64_t plane,      \
                                               int64_t Wp, int64_t kh, int64_t kw,         \
                                               const T *wpk, int nc, int64_t nflat,        \
                                               T *obuf, int64_t ldo)                       \
    {                                                                                      \
        switch (nc) {                                                                      \
        case 8: direct_fwd_##SFX##_8(xp, C, plane, Wp, kh, kw, wpk, nflat, obuf, ldo); break; \
        case 6: direct_fwd_##SFX##_6(xp, C, plane, Wp, kh, kw, wpk, nflat, obuf, ldo); break; \
        case 4: direct_fwd_##SFX##_4(xp, C, plane, Wp, kh, kw, wpk, nflat, obuf, ldo); break; \
        case 2: direct_fwd_##SFX##_2(xp, C, plane, Wp, kh, kw, wpk, nflat, obuf, ldo); break; \
        default: direct_fwd_##SFX##_1(xp, C, plane, Wp, kh, kw, wpk, nflat, obuf, ldo);    \
        }                                                                                  \
    }                                                                                      \
                                                                                           \
    void fastml_direct_dw_##SFX(const T *xp, int64_t C, int64_t plane,       \
                                              int64_t Wp, int64_t kh, int64_t kw,          \
                                              const T *g, int nc, int64_t ldg,             \
                                              int64_t nflat, int64_t ns, int64_t xstride,  \
                                              int64_t gstride, T *dwacc)                   \
    {                                                                                      \
        switch (nc) {                                                                      \
        case 8: direct_dw_##SFX##_8(xp, C, plane, Wp, kh, kw, g, ldg, nflat, ns, xstride,  \
                                    gstride, dwacc); break;                                \
        case 6: direct_dw_##SFX##_6(xp, C, plane, Wp, kh, kw, g, ldg, nflat, ns, xstride,  \
                                    gstride, dwacc); break;                                \
        case 4: direct_dw_##SFX##_4(xp, C, plane, Wp, kh, kw, g, ldg, nflat, ns, xstride,  \
                                    gstride, dwacc); break;                                \
        case 2: direct_dw_##SFX##_2(xp, C, plane, Wp, kh, kw, g, ldg, nflat, ns, xstride,  \
                                    gstride, dwacc); break;                                \
        default: direct_dw_##SFX##_1(xp, C, plane, Wp, kh, kw, g, ldg, nflat, ns, xstride, \
                                     gstride, dwacc);                                      \
        }                                                                                  \
    }                                                                                      \
                                                                                           \
    void fastml_pad_planes_##SFX(const T *x, int64_t C, int64_t H,           \
                                               int64_t W, int64_t ph, int64_t pw,          \
                                               int64_t Hp, int64_t Wp, T *xp)              \
    {                                                                                      \
        for (int64_t c = 0; c < C; c++) {                                                  \
            T *pc = xp + c * Hp * Wp;                                                      \
            const T *xc = x + c * H * W;                                                   \
            if (pw == 0 && Wp == W) { /* the rows are contiguous: one copy */              \
                zero_bytes(pc, (size_t)(ph * Wp) * sizeof(T));                             \
                copy_bytes(pc + ph * Wp, xc, (size_t)(H * W) * sizeof(T));                 \
                zero_bytes(pc + (H + ph) * Wp, (size_t)((Hp - H - ph) * Wp) * sizeof(T));  \
                continue;                                                                  \
            }                                                                              \
            zero_bytes(pc, (size_t)(Hp * Wp) * sizeof(T));                                 \
            for (int64_t ih = 0; ih < H; ih++)                                             \
                copy_bytes(pc + (ih + ph) * Wp + pw, xc + ih * W, (size_t)W * sizeof(T));  \
        }                                                                                  \
    }                                                                                      \
                                                                                           \
    void fastml_unflat_##SFX(const T *obuf, int64_t ldo, int64_t nc,         \
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
    void fastml_flat_grad_##SFX(const T *gout, int64_t nc, int64_t nrows,    \
                                              int64_t Ho, int64_t Wo, int64_t Wp, T *g,    \
                                              int64_t ldg, double *acc)                    \
    {                                                                                      \
        for (int64_t j = 0; j < nrows; j++) {                                              \
            T *gj = g + j * ldg;                                                           \
            if (j >= nc) {                                                                 \
                memset(gj, 0, (size_t)ldg * sizeof(T));                                    \
                continue;                                                                  \
            }                                                                              \
            zero_bytes(gj, (size_t)ldg * sizeof(T));                                       \
            for (int64_t oh = 0; oh < Ho; oh++)                                            \
                copy_bytes(gj + oh * Wp, gout + (j * Ho + oh) * Wo, (size_t)Wo * sizeof(T)); \
            if (acc) { /* the row sum, for the bias gradient: lanes, then one hsum */      \
                vec_##SFX t = {0};                                                         \
                for (int64_t f = 0; f < ldg; f += (int64_t)(sizeof t / sizeof(T))) {      \
                    vec_##SFX v;                                                           \
                    memcpy(&v, gj + f, sizeof v);                                          \
                    t += v;                                                                \
                }                                                                          \
                double h = 0;                                                              \
                for (int l = 0; l < (int)(sizeof t / sizeof(T)); l++)                      \
                    h += t[l];                                                             \
                acc[j] += h;                                                               \
            }                                                                              \
        }                                                                                  \
    }

DEFINE_DIRECT(float, f32)
DEFINE_DIRECT(double, f64)

/* ------------------------------------------------------------------------------------
 * Channel-lane and row kernels (nn_conv_lanes.h), register blocks per level:
 *   LN_ACC   accumulator registers (24 of 32 zmm; 12 of 16 ymm / xmm)
 *   LN_CB    vectors per 64-byte channel block
 *   LN_RWMAX outputs per forward row segment (LN_RWMAX * LN_CB accumulators plus LN_CB
 *            weight vectors and a broadcast); LN_RW2MAX with two channel blocks at once
 *   LN_NT    taps per weight-gradient block (LN_NT * LN_CB accumulators, LN_CB gradient
 *            vectors, one broadcast)
 *   LN_DX_*  (channels, vectors) blocks of the input-gradient rows: channels * vectors <=
 *            LN_ACC, the largest channel count first (see fastml_sp_dx)
 * ------------------------------------------------------------------------------------ */
#define LN_CB (64 / FASTML_VEC_BYTES)
#define LN_DX_NWMAX 4
#if FASTML_VEC_REGS >= 32
#define LN_ACC 24
#define LN_RWMAX 24
#define LN_NT 8
#define LN_RW_LIST(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) \
    X(13) X(14) X(15) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23) X(24)
#define LN_RW2MAX 12
#define LN_RW2_LIST(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12)
#define LN_DX_LIST(X) X(12, 1) X(8, 1) X(6, 1) X(4, 1) X(3, 1) X(2, 1) X(1, 1) \
    X(12, 2) X(8, 2) X(6, 2) X(4, 2) X(3, 2) X(2, 2) X(1, 2) \
    X(8, 3) X(6, 3) X(4, 3) X(3, 3) X(2, 3) X(1, 3) \
    X(6, 4) X(4, 4) X(3, 4) X(2, 4) X(1, 4)
#else
#define LN_ACC 12
#if FASTML_VEC_BYTES == 32
#define LN_RWMAX 6
#define LN_NT 6
#define LN_RW_LIST(X) X(1) X(2) X(3) X(4) X(5) X(6)
#define LN_RW2MAX 3
#define LN_RW2_LIST(X) X(1) X(2) X(3)
#else
#define LN_RWMAX 2
#define LN_NT 2
#define LN_RW_LIST(X) X(1) X(2)
#define LN_RW2MAX 0
#define LN_RW2_LIST(X)
#endif
#define LN_DX_LIST(X) X(12, 1) X(8, 1) X(6, 1) X(4, 1) X(3, 1) X(2, 1) X(1, 1) \
    X(6, 2) X(4, 2) X(3, 2) X(2, 2) X(1, 2) \
    X(4, 3) X(3, 3) X(2, 3) X(1, 3) \
    X(3, 4) X(2, 4) X(1, 4)
#endif

/* The vector width this level's kernels were compiled for (their cost models use it). */
int fastml_nn_vec_bytes(void)
{
    return FASTML_VEC_BYTES;
}

#define T float
#define SFX f32
#include "nn_conv_lanes.h"
#undef T
#undef SFX
#define T double
#define SFX f64
#include "nn_conv_lanes.h"
#undef T
#undef SFX

/* Bt[k * ldt + j] = B[j * ldb + k] for j < n, k < K, and zeros in columns n..ldt-1 of
 * Bt's K rows: the transposed matrix as the GEMM tiles read their B. Blocks of V x V
 * values are transposed in registers (ln_transpose), the edges one value at a time. */
#define DEFINE_TRANSPOSE_PAD(T, SFX)                                                       \
    void fastml_transpose_pad_##SFX(const T *B, int64_t n, int64_t K, int64_t ldb, T *Bt,  \
                                    int64_t ldt)                                           \
    {                                                                                      \
        enum { V = FASTML_VEC_BYTES / sizeof(T) };                                         \
        const int64_t nw = n - n % V, kw = K - K % V;                                      \
        for (int64_t j0 = 0; j0 < nw; j0 += V) {                                           \
            for (int64_t k0 = 0; k0 < kw; k0 += V) {                                       \
                vec_##SFX r[V];                                                            \
                for (int i = 0; i < V; i++)                                                \
                    memcpy(&r[i], B + (j0 + i) * ldb + k0, sizeof r[i]);                   \
                ln_transpose_##SFX(r);                                                     \
                for (int i = 0; i < V; i++)                                                \
                    memcpy(Bt + (k0 + i) * ldt + j0, &r[i], sizeof r[i]);                  \
            }                                                                              \
            for (int64_t k = kw; k < K; k++)                                               \
                for (int64_t j = j0; j < j0 + V; j++)                                      \
                    Bt[k * ldt + j] = B[j * ldb + k];                                      \
        }                                                                                  \
        for (int64_t k = 0; k < K; k++) {                                                  \
            for (int64_t j = nw; j < n; j++)                                               \
                Bt[k * ldt + j] = B[j * ldb + k];                                          \
            for (int64_t j = n; j < ldt; j++)                                              \
                Bt[k * ldt + j] = 0;                                                       \
        }                                                                                  \
    }
DEFINE_TRANSPOSE_PAD(float, f32)
DEFINE_TRANSPOSE_PAD(double, f64)

/* ------------------------------------------------------------------------------------
 * A small GEMM for the dense layers: fastml_gemm_tile computes one thread's tile
 *     C[i, j] (+)= sum_k A(i, k) B[k, j],  A(i, k) = A[i * sai + k * sak]
 * (so A or its transpose, read in place), B row-major with rows readable up to n rounded
 * up to whole 64-byte lines. The dense layers' shapes (hundreds of rows and columns) need
 * no packing: a panel of GEMM_KC rows of B, nv vectors wide, stays in the L1 cache while
 * the register blocks of the tile's rows pass over it.
 *
 * Register blocks of MR rows x NV vectors of C, sized per level from the register file:
 * the MR * NV accumulators, the NV vectors of a row of B and one broadcast of A must fit
 * (with one more register for the product where there is no FMA):
 *   avx512 (32 zmm): 6 x 4, 8 x 3, 12 x 2, 12 x 1 (24 accumulators; the broadcast is an
 *                    operand of the FMA);
 *   avx2 (16 ymm):   6 x 2, 8 x 1 (12 accumulators, 2 B vectors, 1 broadcast);
 *   baseline (16 xmm, no FMA): 5 x 2, 8 x 1.
 * A block narrower than the widest (the last columns of C) gets more rows, so that there
 * are still enough independent sums to hide the FMA latency. Every kernel is a separate
 * function with its sizes fixed at compile time, its accumulators in registers; rows left
 * over below MR use the kernel of their exact count.
 *
 * The sum over k runs in order, in blocks of GEMM_KC (C accumulates between blocks), the
 * same for every tile and every thread count.
 * ------------------------------------------------------------------------------------ */
#if FASTML_VEC_REGS >= 32
#define GEMM_NV 4
#define GEMM_MR_1 12
#define GEMM_MR_2 12
#define GEMM_MR_3 8
#define GEMM_MR_4 6
#define GEMM_MR_OF {0, GEMM_MR_1, GEMM_MR_2, GEMM_MR_3, GEMM_MR_4}
#define GEMM_KC 128
#elif FASTML_ISA_LEVEL >= FASTML_LEVEL_AVX2
#define GEMM_NV 2
#define GEMM_MR_1 8
#define GEMM_MR_2 6
#define GEMM_MR_OF {0, GEMM_MR_1, GEMM_MR_2, 0, 0}
#define GEMM_KC 256
#else
#define GEMM_NV 2
#define GEMM_MR_1 8
#define GEMM_MR_2 5
#define GEMM_MR_OF {0, GEMM_MR_1, GEMM_MR_2, 0, 0}
#define GEMM_KC 256
#endif

/* The kernels of each width NV: every row count up to GEMM_MR_<NV>. */
#define GEMM_ROWS_UPTO_5(X, T, SFX, NV) X(T, SFX, NV, 1) X(T, SFX, NV, 2) X(T, SFX, NV, 3) \
    X(T, SFX, NV, 4) X(T, SFX, NV, 5)
#define GEMM_ROWS_UPTO_6(X, T, SFX, NV) GEMM_ROWS_UPTO_5(X, T, SFX, NV) X(T, SFX, NV, 6)
#define GEMM_ROWS_UPTO_8(X, T, SFX, NV) GEMM_ROWS_UPTO_6(X, T, SFX, NV) X(T, SFX, NV, 7) \
    X(T, SFX, NV, 8)
#define GEMM_ROWS_UPTO_12(X, T, SFX, NV) GEMM_ROWS_UPTO_8(X, T, SFX, NV) X(T, SFX, NV, 9) \
    X(T, SFX, NV, 10) X(T, SFX, NV, 11) X(T, SFX, NV, 12)
#define GEMM_CAT_(a, b) a##b
#define GEMM_CAT(a, b) GEMM_CAT_(a, b)
#define GEMM_ROWS(X, T, SFX, NV) GEMM_CAT(GEMM_ROWS_UPTO_, GEMM_CAT(GEMM_MR_, NV))(X, T, SFX, NV)
#if GEMM_NV == 4
#define GEMM_KERNELS(X, T, SFX) GEMM_ROWS(X, T, SFX, 1) GEMM_ROWS(X, T, SFX, 2) \
    GEMM_ROWS(X, T, SFX, 3) GEMM_ROWS(X, T, SFX, 4)
#else
#define GEMM_KERNELS(X, T, SFX) GEMM_ROWS(X, T, SFX, 1) GEMM_ROWS(X, T, SFX, 2)
#endif

/* C (MR x ncols at ldc, ncols in ((NV-1) V, NV V]) (+)= the kc-long products: A's MR rows
 * times kc rows of B (NV vectors each). */
#define DEFINE_GEMM_KERNEL(T, SFX, NV, MR)                                                 \
    static void gemm_k_##SFX##_##NV##_##MR(int64_t kc, const T *A, int64_t sai,            \
                                           int64_t sak, const T *B, int64_t ldb, T *C,     \
                                           int64_t ldc, int64_t ncols, int acc)            \
    {                                                                                      \
        enum { V = FASTML_VEC_BYTES / sizeof(T) };                                         \
        vec_##SFX c[MR][NV];                                                               \
        FASTML_PRAGMA(GCC unroll 12)                                                       \
        for (int i = 0; i < MR; i++)                                                       \
            FASTML_PRAGMA(GCC unroll 4)                                                    \
            for (int v = 0; v < NV; v++)                                                   \
                c[i][v] = (vec_##SFX){0};                                                  \
        for (int64_t k = 0; k < kc; k++) {                                                 \
            vec_##SFX b[NV];                                                               \
            FASTML_PRAGMA(GCC unroll 4)                                                    \
            for (int v = 0; v < NV; v++)                                                   \
                memcpy(&b[v], B + k * ldb + v * V, sizeof b[v]);                           \
            const T *a = A + k * sak;                                                      \
            FASTML_PRAGMA(GCC unroll 12)                                                   \
            for (int i = 0; i < MR; i++) {                                                 \
                T ai = a[i * sai];                                                         \
                FASTML_PRAGMA(GCC unroll 4)                                                \
                for (int v = 0; v < NV; v++)                                               \
                    c[i][v] += ai * b[v];                                                  \
            }                                                                              \
        }                                                                                  \
        const int64_t w = ncols - (NV - 1) * V; /* lanes of the last vector */             \
        FASTML_PRAGMA(GCC unroll 12)                                                       \
        for (int i = 0; i < MR; i++) {                                                     \
            T *d = C + i * ldc;                                                            \
            FASTML_PRAGMA(GCC unroll 4)                                                    \
            for (int v = 0; v < NV; v++) {                                                 \
                if (v < NV - 1 || w == V) {                                                \
                    vec_##SFX o = c[i][v];                                                 \
                    if (acc) {                                                             \
                        vec_##SFX p;                                                       \
                        memcpy(&p, d + v * V, sizeof p);                                   \
                        o += p;                                                            \
                    }                                                                      \
                    memcpy(d + v * V, &o, sizeof o);                                       \
                } else {                                                                   \
                    T t[V];                                                                \
                    memcpy(t, &c[i][v], sizeof t);                                         \
                    for (int64_t l = 0; l < w; l++)                                        \
                        d[v * V + l] = acc ? d[v * V + l] + t[l] : t[l];                   \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
    }

#define GEMM_CASE(T, SFX, NV, MR)                                                          \
    case NV * 64 + MR:                                                                     \
        gemm_k_##SFX##_##NV##_##MR(kc, a, sai, sak, b, ldb, c, ldc, ncols, acc);           \
        break;

#define DEFINE_GEMM(T, SFX)                                                                \
    GEMM_KERNELS(DEFINE_GEMM_KERNEL, T, SFX)                                               \
    void fastml_gemm_tile_##SFX(int64_t m, int64_t n, int64_t K, const T *A, int64_t sai,  \
                                int64_t sak, const T *B, int64_t ldb, T *C, int64_t ldc,   \
                                int beta)                                                  \
    {                                                                                      \
        enum { V = FASTML_VEC_BYTES / sizeof(T), NB = GEMM_NV * V };                       \
        static const int mr_of[5] = GEMM_MR_OF;                                            \
        if (K == 0 && !beta)                                                               \
            for (int64_t i = 0; i < m; i++)                                                \
                for (int64_t j = 0; j < n; j++)                                            \
                    C[i * ldc + j] = 0;                                                    \
        for (int64_t k0 = 0; k0 < K; k0 += GEMM_KC) {                                      \
            const int64_t kc = K - k0 < GEMM_KC ? K - k0 : GEMM_KC;                        \
            const int acc = beta || k0 > 0;                                                \
            for (int64_t j0 = 0; j0 < n; j0 += NB) {                                       \
                const int64_t ncols = n - j0 < NB ? n - j0 : NB;                           \
                const int nv = (int)((ncols + V - 1) / V), mrmax = mr_of[nv];              \
                const T *b = B + k0 * ldb + j0;                                            \
                for (int64_t i0 = 0; i0 < m; i0 += mrmax) {                                \
                    const int mr = (int)(m - i0 < mrmax ? m - i0 : mrmax);                 \
                    const T *a = A + i0 * sai + k0 * sak;                                  \
                    T *c = C + i0 * ldc + j0;                                              \
                    switch (nv * 64 + mr) {                                                \
                        GEMM_KERNELS(GEMM_CASE, T, SFX)                                    \
                    default:                                                               \
                        break;                                                             \
                    }                                                                      \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
    }

DEFINE_GEMM(float, f32)
DEFINE_GEMM(double, f64)
