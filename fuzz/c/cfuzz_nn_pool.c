/* Differential fuzz target for csrc/nn_pool.c: max pooling (the 2x2 / stride 2 fast path
 * and the general loop; value and argmax, NaN first in row-major window order), its
 * backward pass, average pooling with and without counting the padding, its backward
 * pass, and the global plane mean / max / fill, float32 and float64, at every SIMD level,
 * against naive loops (long double sums).
 *
 * Preconditions kept (fastml.nn validates them): kernel >= 1, stride >= 1, padding at most
 * half the kernel, Ho = (H + 2 ph - kh) / sh + 1 >= 1 (likewise for W); argmax indices
 * come from the forward pass. Values include NaN, inf, huge and subnormal numbers.
 */
#include "cfuzz.h"
#include "fastml_nn.h"

CF_DECLARE_LEVELS(FASTML_KERNELS_NN_POOL)

#define DEFINE_CHECK(T, SFX, EPS, TMAX, FILL, ISF)                                         \
    static void check_##SFX(cf_in *in)                                                     \
    {                                                                                      \
        const long double TRUEMIN = ISF ? (long double)FLT_TRUE_MIN : (long double)DBL_TRUE_MIN; \
        int fast = cf_u8(in) % 3 == 0;                                                     \
        int64_t kh = fast ? 2 : cf_range(in, 1, 6), kw = fast ? 2 : cf_range(in, 1, 6);   \
        int64_t sh = fast ? 2 : cf_range(in, 1, 4), sw = fast ? 2 : cf_range(in, 1, 4);   \
        int64_t ph = fast ? 0 : cf_range(in, 0, kh / 2), pw = fast ? 0 : cf_range(in, 0, kw / 2); \
        int64_t H = cf_size(in, 1, 70), W = cf_size(in, 1, 70);                            \
        if (H + 2 * ph < kh)                                                               \
            H = kh;                                                                        \
        if (W + 2 * pw < kw)                                                               \
            W = kw;                                                                        \
        int64_t Ho = (H + 2 * ph - kh) / sh + 1, Wo = (W + 2 * pw - kw) / sw + 1;          \
        int include_pad = cf_u8(in) & 1;                                                   \
        int kind = cf_u8(in) & 1 ? CF_SPECIAL : CF_FINITE;                                 \
        T *x = cf_alloc((size_t)(H * W) * sizeof(T)), *g = cf_alloc((size_t)(Ho * Wo) * sizeof(T)); \
        FILL(in, x, H * W, kind, 0);                                                       \
        FILL(in, g, Ho * Wo, kind, 0);                                                     \
        T *out = cf_alloc((size_t)(Ho * Wo) * sizeof(T)), *dx = cf_alloc((size_t)(H * W) * sizeof(T)); \
        int64_t *am = cf_alloc((size_t)(Ho * Wo) * 8);                                     \
        T *rmax = cf_alloc((size_t)(Ho * Wo) * sizeof(T));                                 \
        int64_t *ram = cf_alloc((size_t)(Ho * Wo) * 8);                                    \
        long double *ravg = cf_alloc((size_t)(Ho * Wo) * sizeof(long double));             \
        long double *rmag = cf_alloc((size_t)(Ho * Wo) * sizeof(long double));             \
        long double *rdx = cf_alloc((size_t)(H * W) * sizeof(long double));                \
        long double *rdxm = cf_alloc((size_t)(H * W) * sizeof(long double));               \
        int64_t *rcnt = cf_alloc((size_t)(Ho * Wo) * 8);                                   \
        for (int64_t q = 0; q < H * W; q++)                                                \
            rdx[q] = rdxm[q] = 0;                                                          \
        for (int64_t oh = 0; oh < Ho; oh++)                                                \
            for (int64_t ow = 0; ow < Wo; ow++) {                                          \
                T m = 0;                                                                   \
                int64_t im = -1, cnt = 0, cntp = 0;                                        \
                long double s = 0, mag = 0;                                                \
                for (int64_t ki = 0; ki < kh; ki++)                                        \
                    for (int64_t kj = 0; kj < kw; kj++) {                                  \
                        int64_t ih = oh * sh - ph + ki, iw = ow * sw - pw + kj;            \
                        if (ih < H + ph && iw < W + pw)                                    \
                            cntp++; /* inside the padded image */                          \
                        if (ih < 0 || ih >= H || iw < 0 || iw >= W)                        \
                            continue;                                                      \
                        T v = x[ih * W + iw];                                              \
                        cnt++;                                                             \
                        s += v;                                                            \
                        mag += isfinite(v) ? fabsl((long double)v) : 0;                    \
                        /* the first maximum; the first NaN beats everything */            \
                        if (im < 0 || (m == m && (v != v || v > m))) {                     \
                            m = v;                                                         \
                            im = ih * W + iw;                                              \
                        }                                                                  \
                    }                                                                      \
                int64_t c = include_pad ? cntp : cnt, o = oh * Wo + ow;                    \
                rmax[o] = m;                                                               \
                ram[o] = im;                                                               \
                ravg[o] = s / c;                                                           \
                rmag[o] = mag;                                                             \
                rcnt[o] = c;                                                               \
                for (int64_t ki = 0; ki < kh; ki++)                                        \
                    for (int64_t kj = 0; kj < kw; kj++) {                                  \
                        int64_t ih = oh * sh - ph + ki, iw = ow * sw - pw + kj;            \
                        if (ih < 0 || ih >= H || iw < 0 || iw >= W)                        \
                            continue;                                                      \
                        rdx[ih * W + iw] += (long double)g[o] / c;                         \
                        rdxm[ih * W + iw] += isfinite(g[o]) ? fabsl((long double)g[o]) / c : 0; \
                    }                                                                      \
            }                                                                              \
        for (int lv = 0; lv <= cfuzz_levels(); lv++) {                                     \
            const char *L = cf_level_names[lv];                                            \
            LV(fastml_maxpool_plane_##SFX, lv)(x, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo, out, am); \
            for (int64_t o = 0; o < Ho * Wo; o++)                                          \
                if (am[o] != ram[o] || !cf_same(out[o], rmax[o]))                          \
                    CF_FAIL("maxpool %s %s: %lldx%lld k %lldx%lld s %lldx%lld p %lldx%lld, " \
                            "output %lld = %g at %lld, expected %g at %lld", #SFX, L,      \
                            (long long)H, (long long)W, (long long)kh, (long long)kw,      \
                            (long long)sh, (long long)sw, (long long)ph, (long long)pw,    \
                            (long long)o, (double)out[o], (long long)am[o],                \
                            (double)rmax[o], (long long)ram[o]);                           \
            /* backward: dx[argmax[o]] += g[o] in output order (exact, same order) */      \
            for (int64_t q = 0; q < H * W; q++)                                            \
                dx[q] = (T)7;                                                              \
            LV(fastml_maxpool_bwd_plane_##SFX, lv)(g, am, Ho * Wo, dx, H * W);             \
            {                                                                              \
                T *want = cf_alloc((size_t)(H * W) * sizeof(T));                           \
                memset(want, 0, (size_t)(H * W) * sizeof(T));                              \
                for (int64_t o = 0; o < Ho * Wo; o++)                                      \
                    want[ram[o]] += g[o];                                                  \
                for (int64_t q = 0; q < H * W; q++)                                        \
                    if (!cf_same(dx[q], want[q]))                                          \
                        CF_FAIL("maxpool_bwd %s %s: dx[%lld] = %g, expected %g", #SFX, L,  \
                                (long long)q, (double)dx[q], (double)want[q]);             \
                free(want);                                                                \
            }                                                                              \
            LV(fastml_avgpool_plane_##SFX, lv)(x, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo,    \
                                               include_pad, out);                          \
            for (int64_t o = 0; o < Ho * Wo; o++) {                                        \
                long double tol = (rcnt[o] + 2) * EPS * rmag[o] / rcnt[o] + 2 * TRUEMIN;     \
                if (rmag[o] < (long double)TMAX / 4 && !cf_close(out[o], ravg[o], tol))    \
                    CF_FAIL("avgpool %s %s: %lldx%lld k %lldx%lld s %lldx%lld p %lldx%lld "  \
                            "pad %d, output %lld = %.17g, expected %.17Lg", #SFX, L,       \
                            (long long)H, (long long)W, (long long)kh, (long long)kw,      \
                            (long long)sh, (long long)sw, (long long)ph, (long long)pw,    \
                            include_pad, (long long)o, (double)out[o], ravg[o]);           \
            }                                                                              \
            for (int64_t q = 0; q < H * W; q++)                                            \
                dx[q] = (T)7;                                                              \
            LV(fastml_avgpool_bwd_plane_##SFX, lv)(g, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo, \
                                                   include_pad, dx);                       \
            for (int64_t q = 0; q < H * W; q++) {                                          \
                /* each contribution g / cnt rounded, then at most kh kw of them summed */ \
                long double tol = (kh * kw + 2) * 2 * EPS * rdxm[q] + kh * kw * 2 * TRUEMIN; \
                if (rdxm[q] < (long double)TMAX / 4 && !cf_close(dx[q], rdx[q], tol))      \
                    CF_FAIL("avgpool_bwd %s %s: dx[%lld] = %.17g, expected %.17Lg", #SFX, L, \
                            (long long)q, (double)dx[q], rdx[q]);                          \
            }                                                                              \
            /* global pooling over the whole plane */                                     \
            int64_t n = H * W, gam = -1;                                                   \
            long double s = 0, mag = 0;                                                    \
            T gm = 0;                                                                      \
            int64_t gim = 0;                                                               \
            for (int64_t q = 0; q < n; q++) {                                              \
                s += x[q];                                                                 \
                mag += isfinite(x[q]) ? fabsl((long double)x[q]) : 0;                      \
                if (q == 0 || (gm == gm && (x[q] != x[q] || x[q] > gm))) {                 \
                    gm = x[q];                                                             \
                    gim = q;                                                               \
                }                                                                          \
            }                                                                              \
            T mean = LV(fastml_plane_mean_##SFX, lv)(x, n);                                \
            long double ref = s / n;                                                       \
            /* summed in double, rounded to T once */                                      \
            long double tol = (n + 2) * EPS_F64 * mag / n + EPS * fabsl(ref)               \
                              + (ISF ? FLT_TRUE_MIN : DBL_TRUE_MIN);                       \
            if (mag < (long double)DBL_MAX / 4 && !cf_close(mean, ref, tol))                  \
                CF_FAIL("plane_mean %s %s: n %lld gives %.17g, expected %.17Lg", #SFX, L,  \
                        (long long)n, (double)mean, ref);                                  \
            T mx = LV(fastml_plane_max_##SFX, lv)(x, n, &gam);                             \
            if (gam != gim || !cf_same(mx, gm))                                            \
                CF_FAIL("plane_max %s %s: n %lld gives %g at %lld, expected %g at %lld",   \
                        #SFX, L, (long long)n, (double)mx, (long long)gam, (double)gm,     \
                        (long long)gim);                                                   \
            T fillv = x[0];                                                                \
            LV(fastml_plane_fill_##SFX, lv)(dx, n, fillv);                                 \
            for (int64_t q = 0; q < n; q++)                                                \
                if (memcmp(&dx[q], &fillv, sizeof(T)))                                     \
                    CF_FAIL("plane_fill %s %s: dx[%lld] differs", #SFX, L, (long long)q);  \
        }                                                                                  \
        free(x); free(g); free(out); free(dx); free(am); free(rmax); free(ram);            \
        free(ravg); free(rmag); free(rdx); free(rdxm); free(rcnt);                         \
    }

DEFINE_CHECK(float, f32, EPS_F32, FLT_MAX, cf_fill_f32, 1)
DEFINE_CHECK(double, f64, EPS_F64, DBL_MAX, cf_fill_f64, 0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_in in = {data, size, 0, 0};
    if (cf_u8(&in) & 1)
        check_f64(&in);
    else
        check_f32(&in);
    return 0;
}
