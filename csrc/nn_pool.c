/* Pooling over one (H, W) plane at a time; see fastml_nn.h. One pass over the input per
 * plane; the 2x2 / stride 2 / no padding max pool (the common case) has its own
 * branch-free loop that GCC vectorises. A NaN in a window wins the max (the first NaN,
 * in row-major window order), so NaNs propagate as in torch. */
#include <stdint.h>
#include <string.h>

#include "fastml_cpu.h"
#include "fastml_nn.h"

static inline int64_t imax64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t imin64(int64_t a, int64_t b) { return a < b ? a : b; }

#define PLANE_MEAN_BLOCK 4096

#define DEFINE_POOL(T, SFX)                                                                \
    void fastml_maxpool_plane_##SFX(const T *x, int64_t H, int64_t W,        \
                                                  int64_t kh, int64_t kw, int64_t sh,      \
                                                  int64_t sw, int64_t ph, int64_t pw,      \
                                                  int64_t Ho, int64_t Wo, T *out,          \
                                                  int64_t *argmax)                         \
    {                                                                                      \
        if (kh == 2 && kw == 2 && sh == 2 && sw == 2 && ph == 0 && pw == 0) {              \
            for (int64_t oh = 0; oh < Ho; oh++) {                                          \
                const T *r0 = x + 2 * oh * W, *r1 = r0 + W;                                \
                T *o = out + oh * Wo;                                                      \
                int64_t *am = argmax + oh * Wo;                                            \
                int64_t base = 2 * oh * W;                                                 \
                FASTML_PRAGMA(omp simd)                                                    \
                for (int64_t ow = 0; ow < Wo; ow++) {                                      \
                    T a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow],                  \
                      d = r1[2 * ow + 1];                                                  \
                    int64_t i = base + 2 * ow;                                             \
                    int bb = (b > a) | ((b != b) & (a == a));                              \
                    T m = bb ? b : a;                                                      \
                    int64_t im = bb ? i + 1 : i;                                           \
                    int cc = (c > m) | ((c != c) & (m == m));                              \
                    m = cc ? c : m;                                                        \
                    im = cc ? i + W : im;                                                  \
                    int dd = (d > m) | ((d != d) & (m == m));                              \
                    m = dd ? d : m;                                                        \
                    im = dd ? i + W + 1 : im;                                              \
                    o[ow] = m;                                                             \
                    am[ow] = im;                                                           \
                }                                                                          \
            }                                                                              \
            return;                                                                        \
        }                                                                                  \
        for (int64_t oh = 0; oh < Ho; oh++) {                                              \
            int64_t h0 = oh * sh - ph, hs = imax64(h0, 0), he = imin64(h0 + kh, H);        \
            for (int64_t ow = 0; ow < Wo; ow++) {                                          \
                int64_t w0 = ow * sw - pw, ws = imax64(w0, 0), we = imin64(w0 + kw, W);    \
                int64_t im = hs * W + ws;                                                  \
                T m = x[im];                                                               \
                for (int64_t ih = hs; ih < he; ih++) {                                     \
                    const T *xr = x + ih * W;                                              \
                    for (int64_t iw = ws; iw < we; iw++) {                                 \
                        T v = xr[iw];                                                      \
                        if (v > m || (v != v && m == m)) {                                 \
                            m = v;                                                         \
                            im = ih * W + iw;                                              \
                        }                                                                  \
                    }                                                                      \
                }                                                                          \
                out[oh * Wo + ow] = m;                                                     \
                argmax[oh * Wo + ow] = im;                                                 \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
                                                                                           \
    void fastml_maxpool_bwd_plane_##SFX(const T *g, const int64_t *argmax,   \
                                                      int64_t no, T *dx, int64_t hw)       \
    {                                                                                      \
        memset(dx, 0, (size_t)hw * sizeof(T));                                             \
        for (int64_t o = 0; o < no; o++)                                                   \
            dx[argmax[o]] += g[o];                                                         \
    }                                                                                      \
                                                                                           \
    void fastml_avgpool_plane_##SFX(const T *x, int64_t H, int64_t W,        \
                                                  int64_t kh, int64_t kw, int64_t sh,      \
                                                  int64_t sw, int64_t ph, int64_t pw,      \
                                                  int64_t Ho, int64_t Wo, int include_pad, \
                                                  T *out)                                  \
    {                                                                                      \
        for (int64_t oh = 0; oh < Ho; oh++) {                                              \
            int64_t h0 = oh * sh - ph, hs = imax64(h0, 0), he = imin64(h0 + kh, H);        \
            int64_t hp = imin64(h0 + kh, H + ph) - h0;                                     \
            for (int64_t ow = 0; ow < Wo; ow++) {                                          \
                int64_t w0 = ow * sw - pw, ws = imax64(w0, 0), we = imin64(w0 + kw, W);    \
                int64_t wp = imin64(w0 + kw, W + pw) - w0;                                 \
                T s = 0;                                                                   \
                for (int64_t ih = hs; ih < he; ih++) {                                     \
                    const T *xr = x + ih * W;                                              \
                    for (int64_t iw = ws; iw < we; iw++)                                   \
                        s += xr[iw];                                                       \
                }                                                                          \
                int64_t cnt = include_pad ? hp * wp : (he - hs) * (we - ws);               \
                out[oh * Wo + ow] = s / (T)cnt;                                            \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
                                                                                           \
    void fastml_avgpool_bwd_plane_##SFX(const T *g, int64_t H, int64_t W,    \
                                                      int64_t kh, int64_t kw, int64_t sh,  \
                                                      int64_t sw, int64_t ph, int64_t pw,  \
                                                      int64_t Ho, int64_t Wo,              \
                                                      int include_pad, T *dx)              \
    {                                                                                      \
        memset(dx, 0, (size_t)(H * W) * sizeof(T));                                        \
        for (int64_t oh = 0; oh < Ho; oh++) {                                              \
            int64_t h0 = oh * sh - ph, hs = imax64(h0, 0), he = imin64(h0 + kh, H);        \
            int64_t hp = imin64(h0 + kh, H + ph) - h0;                                     \
            for (int64_t ow = 0; ow < Wo; ow++) {                                          \
                int64_t w0 = ow * sw - pw, ws = imax64(w0, 0), we = imin64(w0 + kw, W);    \
                int64_t wp = imin64(w0 + kw, W + pw) - w0;                                 \
                int64_t cnt = include_pad ? hp * wp : (he - hs) * (we - ws);               \
                T v = g[oh * Wo + ow] / (T)cnt;                                            \
                for (int64_t ih = hs; ih < he; ih++) {                                     \
                    T *xr = dx + ih * W;                                                   \
                    for (int64_t iw = ws; iw < we; iw++)                                   \
                        xr[iw] += v;                                                       \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
                                                                                           \
    /* in float64 whatever T, by blocks of PLANE_MEAN_BLOCK (a float32 running sum of a   \
     * large plane cancels: 2^24 values of 0.1f summed in float32 lose 2% of the mean) */ \
    T fastml_plane_mean_##SFX(const T *x, int64_t n)                         \
    {                                                                                      \
        double total = 0;                                                                  \
        for (int64_t j0 = 0; j0 < n; j0 += PLANE_MEAN_BLOCK) {                             \
            const int64_t j1 = imin64(j0 + PLANE_MEAN_BLOCK, n);                           \
            double s = 0;                                                                  \
            FASTML_PRAGMA(omp simd reduction(+ : s))                                       \
            for (int64_t j = j0; j < j1; j++)                                              \
                s += (double)x[j];                                                         \
            total += s;                                                                    \
        }                                                                                  \
        return (T)(total / (double)n);                                                     \
    }                                                                                      \
                                                                                           \
    T fastml_plane_max_##SFX(const T *x, int64_t n, int64_t *argmax)         \
    {                                                                                      \
        T m = x[0];                                                                        \
        int64_t im = 0;                                                                    \
        for (int64_t j = 1; j < n; j++) {                                                  \
            T v = x[j];                                                                    \
            if (v > m || (v != v && m == m)) {                                             \
                m = v;                                                                     \
                im = j;                                                                    \
            }                                                                              \
        }                                                                                  \
        *argmax = im;                                                                      \
        return m;                                                                          \
    }                                                                                      \
                                                                                           \
    void fastml_plane_fill_##SFX(T *x, int64_t n, T v)                       \
    {                                                                                      \
        FASTML_PRAGMA(omp simd)                                                            \
        for (int64_t j = 0; j < n; j++)                                                    \
            x[j] = v;                                                                      \
    }

DEFINE_POOL(float, f32)
DEFINE_POOL(double, f64)
