/* Differential fuzz target for csrc/nn_conv.c: im2col and its adjoint col2im, the row
 * helpers (bias add, copy + row sums), the direct stride-1 convolution (forward and
 * weight gradient, every channel block 1/2/4/6/8) and its layout helpers (pad_planes,
 * unflat, flat_grad), float32 and float64, at every SIMD level, against naive
 * convolution loops (long double sums; copies exact).
 *
 * Preconditions kept (what fastml/nn/_conv.pyx guarantees): Ho = (H + 2 ph - kh) / sh + 1
 * >= 1 (likewise W), ldcol >= Ho Wo; for the direct kernels the padded sample is followed
 * by at least kw + FASTML_NN_FLAT_BLOCK + 16 readable values, ldo is nflat rounded up to
 * a block, the gradient rows have ldg (a multiple of 64 bytes, >= nflat) values, zero past
 * nflat, and the weight-gradient slots of 64 bytes start at whatever the caller put there;
 * the samples of the weight gradient are finite (see check_direct_*).
 */
#include "cfuzz.h"
#include "fastml_nn.h"

CF_DECLARE_LEVELS(FASTML_KERNELS_NN_CONV)

static int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

#define DEFINE_CHECK(T, SFX, EPS, TMAX, FILL, ISF)                                         \
    static void check_gemm_##SFX(cf_in *in)                                                \
    {                                                                                      \
        const long double TRUEMIN = ISF ? (long double)FLT_TRUE_MIN : (long double)DBL_TRUE_MIN; \
        int64_t C = cf_size(in, 1, 5), kh = cf_range(in, 1, 6), kw = cf_range(in, 1, 6);  \
        int64_t sh = cf_range(in, 1, 4), sw = cf_range(in, 1, 4);                         \
        int64_t ph = cf_range(in, 0, 6), pw = cf_range(in, 0, 6);                          \
        int64_t H = cf_size(in, 1, 40), W = cf_size(in, 1, 40);                            \
        if (H + 2 * ph < kh)                                                               \
            H = kh;                                                                        \
        if (W + 2 * pw < kw)                                                               \
            W = kw;                                                                        \
        int64_t Ho = (H + 2 * ph - kh) / sh + 1, Wo = (W + 2 * pw - kw) / sw + 1;          \
        int64_t ldcol = Ho * Wo + cf_range(in, 0, 5), K = C * kh * kw;                     \
        int kind = cf_u8(in) & 1 ? CF_SPECIAL : CF_FINITE;                                 \
        T *x = cf_alloc((size_t)(C * H * W) * sizeof(T));                                  \
        T *col = cf_alloc((size_t)(K * ldcol) * sizeof(T));                                \
        T *cin = cf_alloc((size_t)(K * ldcol) * sizeof(T));                                \
        T *xb = cf_alloc((size_t)(C * H * W) * sizeof(T));                                 \
        FILL(in, x, C * H * W, kind, 0);                                                   \
        FILL(in, cin, K * ldcol, kind, 0);                                                 \
        long double *rx = cf_alloc((size_t)(C * H * W) * sizeof(long double));             \
        long double *rm = cf_alloc((size_t)(C * H * W) * sizeof(long double));             \
        for (int64_t q = 0; q < C * H * W; q++)                                            \
            rx[q] = rm[q] = 0;                                                             \
        for (int64_t c = 0; c < C; c++)                                                    \
            for (int64_t ki = 0; ki < kh; ki++)                                            \
                for (int64_t kj = 0; kj < kw; kj++)                                        \
                    for (int64_t oh = 0; oh < Ho; oh++)                                    \
                        for (int64_t ow = 0; ow < Wo; ow++) {                              \
                            int64_t ih = oh * sh - ph + ki, iw = ow * sw - pw + kj;        \
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W)                    \
                                continue;                                                  \
                            T v = cin[((c * kh + ki) * kw + kj) * ldcol + oh * Wo + ow];   \
                            rx[(c * H + ih) * W + iw] += v;                                \
                            rm[(c * H + ih) * W + iw] += isfinite(v) ? fabsl((long double)v) : 0; \
                        }                                                                  \
        for (int lv = 0; lv <= cfuzz_levels(); lv++) {                                     \
            const char *L = cf_level_names[lv];                                            \
            for (int64_t q = 0; q < K * ldcol; q++)                                        \
                col[q] = (T)-9.5;                                                          \
            LV(fastml_im2col_##SFX, lv)(x, C, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo, col, ldcol); \
            for (int64_t c = 0; c < C; c++)                                                \
                for (int64_t ki = 0; ki < kh; ki++)                                        \
                    for (int64_t kj = 0; kj < kw; kj++)                                    \
                        for (int64_t q = 0; q < ldcol; q++) {                              \
                            int64_t oh = q / Wo, ow = q % Wo;                              \
                            int64_t ih = oh * sh - ph + ki, iw = ow * sw - pw + kj;        \
                            T want = q >= Ho * Wo ? (T)-9.5                                \
                                     : ih < 0 || ih >= H || iw < 0 || iw >= W ? (T)0       \
                                     : x[(c * H + ih) * W + iw];                           \
                            T got = col[((c * kh + ki) * kw + kj) * ldcol + q];            \
                            if (!cf_same(got, want))                                       \
                                CF_FAIL("im2col %s %s: C %lld %lldx%lld k %lldx%lld s %lldx%lld " \
                                        "p %lldx%lld ldcol %lld, row (%lld,%lld,%lld) column " \
                                        "%lld = %g, expected %g", #SFX, L, (long long)C,   \
                                        (long long)H, (long long)W, (long long)kh,         \
                                        (long long)kw, (long long)sh, (long long)sw,       \
                                        (long long)ph, (long long)pw, (long long)ldcol,    \
                                        (long long)c, (long long)ki, (long long)kj,        \
                                        (long long)q, (double)got, (double)want);          \
                        }                                                                  \
            memset(xb, 0, (size_t)(C * H * W) * sizeof(T));                                \
            LV(fastml_col2im_##SFX, lv)(cin, ldcol, C, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo, xb); \
            for (int64_t q = 0; q < C * H * W; q++) {                                      \
                long double tol = (kh * kw + 2) * EPS * rm[q] + kh * kw * TRUEMIN;         \
                if (rm[q] < (long double)TMAX / 4 && !cf_close(xb[q], rx[q], tol))         \
                    CF_FAIL("col2im %s %s: C %lld %lldx%lld k %lldx%lld s %lldx%lld p %lldx%lld, " \
                            "x[%lld] = %.17g, expected %.17Lg", #SFX, L, (long long)C,     \
                            (long long)H, (long long)W, (long long)kh, (long long)kw,      \
                            (long long)sh, (long long)sw, (long long)ph, (long long)pw,    \
                            (long long)q, (double)xb[q], rx[q]);                           \
            }                                                                              \
        }                                                                                  \
        free(x); free(col); free(cin); free(xb); free(rx); free(rm);                       \
                                                                                           \
        /* row helpers on an nr x n block with leading dimensions */                      \
        int64_t nr = cf_size(in, 0, 9), n = cf_size(in, 0, 140);                           \
        int64_t lds = n + cf_range(in, 0, 4), ldd = n + cf_range(in, 0, 4);                \
        T *src = cf_alloc((size_t)(nr * lds) * sizeof(T)), *dst = cf_alloc((size_t)(nr * ldd) * sizeof(T)); \
        T *bias = cf_alloc((size_t)nr * sizeof(T));                                        \
        double *acc = cf_alloc((size_t)nr * sizeof(double)), *acc0 = cf_alloc((size_t)nr * sizeof(double)); \
        FILL(in, src, nr * lds, kind, 0);                                                  \
        FILL(in, bias, nr, kind, 0);                                                       \
        for (int64_t r = 0; r < nr; r++)                                                   \
            acc0[r] = cf_real(in, CF_FINITE, 0, 0);                                        \
        int use_bias = cf_u8(in) & 1, use_dst = cf_u8(in) % 4 != 0;                        \
        for (int lv = 0; lv <= cfuzz_levels(); lv++) {                                     \
            const char *L = cf_level_names[lv];                                            \
            for (int64_t q = 0; q < nr * ldd; q++)                                         \
                dst[q] = (T)5;                                                             \
            LV(fastml_rows_add_bias_##SFX, lv)(src, lds, dst, ldd, nr, n, use_bias ? bias : NULL); \
            for (int64_t r = 0; r < nr; r++)                                               \
                for (int64_t j = 0; j < ldd; j++) {                                        \
                    T want = j >= n ? (T)5 : src[r * lds + j] + (use_bias ? bias[r] : (T)0); \
                    if (!cf_same(dst[r * ldd + j], want))                                  \
                        CF_FAIL("rows_add_bias %s %s: [%lld, %lld] = %g, expected %g", #SFX, \
                                L, (long long)r, (long long)j, (double)dst[r * ldd + j],   \
                                (double)want);                                             \
                }                                                                          \
            memcpy(acc, acc0, (size_t)nr * sizeof(double));                                \
            LV(fastml_rows_copy_sum_##SFX, lv)(src, lds, use_dst ? dst : NULL, ldd, nr, n, acc); \
            for (int64_t r = 0; r < nr; r++) {                                             \
                long double s = 0, mag = 0;                                                \
                for (int64_t j = 0; j < n; j++) {                                          \
                    s += src[r * lds + j];                                                 \
                    mag += isfinite(src[r * lds + j]) ? fabsl((long double)src[r * lds + j]) : 0; \
                    if (use_dst && !cf_same(dst[r * ldd + j], src[r * lds + j]))           \
                        CF_FAIL("rows_copy_sum %s %s: copy differs at [%lld, %lld]", #SFX, L, \
                                (long long)r, (long long)j);                               \
                }                                                                          \
                long double want = (long double)acc0[r] + s;                               \
                long double tol = (n + 2) * EPS * mag + 2 * EPS_F64 * fabsl(want)          \
                                  + n * TRUEMIN;                                           \
                if (mag < (long double)TMAX / 4                                            \
                    && fabsl((long double)acc0[r]) + mag < (long double)DBL_MAX / 4        \
                    && !cf_close(acc[r], want, tol))                                       \
                    CF_FAIL("rows_copy_sum %s %s: row %lld of %lld: acc %.17g, expected %.17Lg", \
                            #SFX, L, (long long)r, (long long)n, acc[r], want);            \
            }                                                                              \
        }                                                                                  \
        free(src); free(dst); free(bias); free(acc); free(acc0);                           \
    }                                                                                      \
                                                                                           \
    static void check_direct_##SFX(cf_in *in)                                              \
    {                                                                                      \
        const long double TRUEMIN = ISF ? (long double)FLT_TRUE_MIN : (long double)DBL_TRUE_MIN; \
        static const int ncs[5] = {1, 2, 4, 6, 8};                                         \
        const int64_t FB = FASTML_NN_FLAT_BLOCK, VPAD = 64 / (int64_t)sizeof(T);           \
        const int64_t SLOT = 64 / (int64_t)sizeof(T);                                      \
        int nc = ncs[cf_u8(in) % 5];                                                       \
        int64_t C = cf_size(in, 1, 6), kh = cf_range(in, 1, 5), kw = cf_range(in, 1, 5);   \
        int64_t H = cf_size(in, 1, 24), W = cf_size(in, 1, 40);                            \
        int64_t ph = cf_range(in, 0, kh / 2), pw = cf_range(in, 0, kw / 2);                \
        int64_t Hp = H + 2 * ph, Wp = W + 2 * pw;                                          \
        if (Hp < kh)                                                                       \
            Hp = kh, H = kh - 2 * ph;                                                      \
        if (Wp < kw)                                                                       \
            Wp = kw, W = kw - 2 * pw;                                                      \
        int64_t plane = Hp * Wp, Ho = Hp - kh + 1, Wo = Wp - kw + 1, K = C * kh * kw;      \
        int64_t nflat = Ho * Wp, ldo = round_up(nflat, FB);                                \
        int kind = cf_u8(in) & 1 ? CF_SPECIAL : CF_FINITE;                                 \
        int64_t xlen = C * plane + kw + FB + 16;                                           \
        T *x = cf_alloc((size_t)(C * H * W) * sizeof(T));                                  \
        T *xp = cf_alloc((size_t)xlen * sizeof(T));                                        \
        T *wpk = cf_alloc((size_t)(K * nc) * sizeof(T));                                   \
        T *obuf = cf_alloc((size_t)(nc * ldo) * sizeof(T));                                \
        T *bias = cf_alloc((size_t)nc * sizeof(T));                                        \
        T *out = cf_alloc((size_t)(nc * Ho * Wo) * sizeof(T));                             \
        FILL(in, x, C * H * W, kind, 0);                                                   \
        FILL(in, wpk, K * nc, kind, 0);                                                    \
        FILL(in, bias, nc, kind, 0);                                                       \
        int use_bias = cf_u8(in) & 1;                                                      \
        for (int64_t q = 0; q < xlen; q++) /* the padded sample, then junk past it */     \
            xp[q] = q < C * plane ? (T)0 : (T)cf_real(in, CF_FINITE, 0, ISF);              \
        for (int lv = 0; lv <= cfuzz_levels(); lv++) {                                     \
            const char *L = cf_level_names[lv];                                            \
            LV(fastml_pad_planes_##SFX, lv)(x, C, H, W, ph, pw, Hp, Wp, xp);               \
            for (int64_t c = 0; c < C; c++)                                                \
                for (int64_t i = 0; i < Hp; i++)                                           \
                    for (int64_t j = 0; j < Wp; j++) {                                     \
                        int64_t ih = i - ph, iw = j - pw;                                  \
                        T want = ih < 0 || ih >= H || iw < 0 || iw >= W ? (T)0             \
                                                                       : x[(c * H + ih) * W + iw]; \
                        if (!cf_same(xp[c * plane + i * Wp + j], want))                    \
                            CF_FAIL("pad_planes %s %s: (%lld, %lld, %lld) = %g, expected %g", \
                                    #SFX, L, (long long)c, (long long)i, (long long)j,     \
                                    (double)xp[c * plane + i * Wp + j], (double)want);     \
                    }                                                                      \
            LV(fastml_direct_fwd_##SFX, lv)(xp, C, plane, Wp, kh, kw, wpk, nc, nflat, obuf, ldo); \
            for (int j = 0; j < nc; j++)                                                   \
                for (int64_t f = 0; f < nflat; f++) {                                      \
                    long double s = 0, mag = 0;                                            \
                    for (int64_t c = 0; c < C; c++)                                        \
                        for (int64_t ki = 0; ki < kh; ki++)                                \
                            for (int64_t kj = 0; kj < kw; kj++) {                          \
                                int64_t tap = (c * kh + ki) * kw + kj;                     \
                                long double t = (long double)wpk[tap * nc + j]             \
                                                * xp[c * plane + ki * Wp + kj + f];        \
                                s += t;                                                    \
                                mag += isfinite(t) ? fabsl(t) : 0;                         \
                            }                                                              \
                    long double tol = (K + 2) * 2 * EPS * mag + (K + 1) * 2 * TRUEMIN;     \
                    if (mag < (long double)TMAX / 4 && !cf_close(obuf[j * ldo + f], s, tol)) \
                        CF_FAIL("direct_fwd %s %s: nc %d C %lld k %lldx%lld Hp %lld Wp %lld, " \
                                "channel %d position %lld = %.17g, expected %.17Lg "       \
                                "(tolerance %.3Lg)", #SFX, L, nc, (long long)C,            \
                                (long long)kh, (long long)kw, (long long)Hp, (long long)Wp, \
                                j, (long long)f, (double)obuf[j * ldo + f], s, tol);       \
                }                                                                          \
            LV(fastml_unflat_##SFX, lv)(obuf, ldo, nc, Ho, Wo, Wp, use_bias ? bias : NULL, out); \
            for (int j = 0; j < nc; j++)                                                   \
                for (int64_t oh = 0; oh < Ho; oh++)                                        \
                    for (int64_t ow = 0; ow < Wo; ow++) {                                  \
                        T want = obuf[j * ldo + oh * Wp + ow] + (use_bias ? bias[j] : (T)0); \
                        if (!cf_same(out[(j * Ho + oh) * Wo + ow], want))                  \
                            CF_FAIL("unflat %s %s: (%d, %lld, %lld) differs", #SFX, L, j,  \
                                    (long long)oh, (long long)ow);                         \
                    }                                                                      \
        }                                                                                  \
                                                                                           \
        /* weight gradient over ns samples: flat_grad lays out the output gradient */     \
        int64_t ns = cf_range(in, 1, 3), nrows = nc + (nc < 8 ? cf_range(in, 0, 1) : 0);  \
        int64_t ldg = round_up(nflat, VPAD) + VPAD * cf_range(in, 0, 1);                   \
        int64_t xstride = round_up(C * plane + kw + FB + VPAD, VPAD), gstride = nrows * ldg; \
        T *xs = cf_alloc((size_t)(ns * xstride) * sizeof(T));                              \
        T *gout = cf_alloc((size_t)(ns * nc * Ho * Wo) * sizeof(T));                       \
        T *g = cf_alloc((size_t)(ns * gstride) * sizeof(T));                               \
        T *dwacc = cf_alloc((size_t)(K * nc * SLOT) * sizeof(T));                          \
        T *dw0 = cf_alloc((size_t)(K * nc * SLOT) * sizeof(T));                            \
        double *acc = cf_alloc((size_t)nc * sizeof(double));                               \
        FILL(in, gout, ns * nc * Ho * Wo, kind, 0);                                        \
        /* finite samples, zero past the planes (as the caller): the loop runs past nflat  \
         * to whole vectors and over the discarded columns, where g is 0 and 0 * inf would \
         * be NaN (an infinite input gives NaN weight gradients: see fuzz/README.md) */   \
        for (int64_t q = 0; q < ns * xstride; q++)                                         \
            xs[q] = q % xstride < C * plane ? (T)cf_real(in, CF_FINITE, 0, ISF) : (T)0;    \
        for (int64_t q = 0; q < K * nc * SLOT; q++)                                        \
            dw0[q] = (T)cf_real(in, CF_FINITE, 0, ISF);                                    \
        for (int lv = 0; lv <= cfuzz_levels(); lv++) {                                     \
            const char *L = cf_level_names[lv];                                            \
            for (int64_t s = 0; s < ns; s++) {                                             \
                for (int j = 0; j < nc; j++)                                               \
                    acc[j] = 0;                                                            \
                for (int64_t q = 0; q < gstride; q++)                                      \
                    g[s * gstride + q] = (T)3;                                             \
                LV(fastml_flat_grad_##SFX, lv)(gout + s * nc * Ho * Wo, nc, nrows, Ho, Wo, Wp, \
                                               g + s * gstride, ldg, acc);                 \
                for (int64_t j = 0; j < nrows; j++) {                                      \
                    long double sum = 0, mag = 0;                                          \
                    for (int64_t f = 0; f < ldg; f++) {                                    \
                        int64_t oh = f / Wp, ow = f % Wp;                                  \
                        T want = j >= nc || f >= Ho * Wp || ow >= Wo ? (T)0                \
                                 : gout[s * nc * Ho * Wo + (j * Ho + oh) * Wo + ow];       \
                        if (!cf_same(g[s * gstride + j * ldg + f], want))                  \
                            CF_FAIL("flat_grad %s %s: row %lld position %lld = %g, expected %g", \
                                    #SFX, L, (long long)j, (long long)f,                   \
                                    (double)g[s * gstride + j * ldg + f], (double)want);   \
                        sum += want;                                                       \
                        mag += isfinite(want) ? fabsl((long double)want) : 0;              \
                    }                                                                      \
                    long double tol = (ldg + 2) * EPS * mag + 2 * EPS_F64 * fabsl(sum)     \
                                      + ldg * TRUEMIN;                                     \
                    if (j < nc && mag < (long double)TMAX / 4 && !cf_close(acc[j], sum, tol)) \
                        CF_FAIL("flat_grad %s %s: row %lld sum %.17g, expected %.17Lg", #SFX, \
                                L, (long long)j, acc[j], sum);                             \
                }                                                                          \
            }                                                                              \
            memcpy(dwacc, dw0, (size_t)(K * nc * SLOT) * sizeof(T));                       \
            LV(fastml_direct_dw_##SFX, lv)(xs, C, plane, Wp, kh, kw, g, nc, ldg, nflat, ns, \
                                           xstride, gstride, dwacc);                       \
            for (int64_t tap = 0; tap < K; tap++) {                                        \
                int64_t c = tap / (kh * kw), ki = tap / kw % kh, kj = tap % kw;            \
                for (int j = 0; j < nc; j++) {                                             \
                    long double got = 0, want = 0, mag = 0;                                \
                    for (int64_t l = 0; l < SLOT; l++) {                                   \
                        got += dwacc[(tap * nc + j) * SLOT + l];                           \
                        want += dw0[(tap * nc + j) * SLOT + l];                            \
                        mag += fabsl((long double)dw0[(tap * nc + j) * SLOT + l]);         \
                    }                                                                      \
                    for (int64_t s = 0; s < ns; s++)                                       \
                        for (int64_t f = 0; f < nflat; f++) {                              \
                            long double t = (long double)g[s * gstride + j * ldg + f]       \
                                            * xs[s * xstride + c * plane + ki * Wp + kj + f]; \
                            want += t;                                                     \
                            mag += isfinite(t) ? fabsl(t) : 0;                             \
                        }                                                                  \
                    long double tol = (ns * nflat + SLOT + 2) * 2 * EPS * mag              \
                                      + (ns * nflat + 1) * 2 * TRUEMIN;                    \
                    if (mag < (long double)TMAX / 4 && !cf_close(got, want, tol))          \
                        CF_FAIL("direct_dw %s %s: nc %d C %lld k %lldx%lld Hp %lld Wp %lld ns " \
                                "%lld, tap %lld channel %d = %.17Lg, expected %.17Lg "     \
                                "(tolerance %.3Lg)", #SFX, L, nc, (long long)C,            \
                                (long long)kh, (long long)kw, (long long)Hp, (long long)Wp, \
                                (long long)ns, (long long)tap, j, got, want, tol);         \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
        free(x); free(xp); free(wpk); free(obuf); free(bias); free(out);                    \
        free(xs); free(gout); free(g); free(dwacc); free(dw0); free(acc);                  \
    }

DEFINE_CHECK(float, f32, EPS_F32, FLT_MAX, cf_fill_f32, 1)
DEFINE_CHECK(double, f64, EPS_F64, DBL_MAX, cf_fill_f64, 0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_in in = {data, size, 0, 0};
    switch (cf_u8(&in) % 4) {
    case 0: check_gemm_f32(&in); break;
    case 1: check_gemm_f64(&in); break;
    case 2: check_direct_f32(&in); break;
    default: check_direct_f64(&in); break;
    }
    return 0;
}
