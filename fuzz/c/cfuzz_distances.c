/* Differential fuzz target for csrc/distances.c (fastml_distances.h, not Levenshtein):
 * fastml_hamming_packed_t8 (exact counts), fastml_tile_lp_* (long double powl),
 * fastml_first_below_* (the first index, exact), fastml_dtw_* (the textbook full DP
 * matrix in long double, any window), float32 and float64, and the projected search's
 * screen (fastml_lb_bounds_f32, fastml_lb_screen_f32, fastml_below_f32), at every SIMD
 * level.
 *
 * Preconditions kept: hamming's train rows come in zero-padded groups of 8, word-major,
 * ldo >= ny; lp gets p >= 1 and finite values; first_below gets rows that the kNN loop
 * produces (finite or +inf distances, add >= 0 or NULL; no NaN); dtw gets n, m >= 1,
 * finite frames and a buffer of exactly 2 (m + 1) values.
 */
#include "cfuzz.h"
#include "fastml_distances.h"
#include "fastml_pairwise.h"

CF_DECLARE_LEVELS(FASTML_KERNELS_DISTANCES)

static void check_hamming(cf_in *in)
{
    int64_t nx = cf_size(in, 0, 40), ny = cf_size(in, 0, 70), w = cf_size(in, 1, 40);
    int64_t ldo = ny + cf_range(in, 0, 9), nyb = (ny + 7) / 8;
    uint64_t *X = cf_alloc((size_t)(nx * w) * 8), *Y = cf_alloc((size_t)(ny * w + 1) * 8);
    uint64_t *Yt = cf_alloc((size_t)(nyb * w * 8 + 1) * 8);
    int dens = cf_u8(in) % 4;
    for (int64_t q = 0; q < nx * w + ny * w; q++) {
        uint64_t v = dens == 0 ? cf_u64(in) : dens == 1 ? (cf_u8(in) & 1 ? ~0ull : 0)
                   : dens == 2 ? (uint64_t)cf_u8(in) << (cf_u8(in) % 57) : ~cf_u64(in);
        if (q < nx * w)
            X[q] = v;
        else
            Y[q - nx * w] = v;
    }
    for (int64_t j = 0; j < ny && j < nx; j++) /* some equal rows: distance 0 */
        if ((cf_u8(in) & 3) == 0)
            memcpy(Y + j * w, X + j * w, (size_t)w * 8);
    for (int64_t jb = 0; jb < nyb; jb++)
        for (int64_t k = 0; k < w; k++)
            for (int l = 0; l < 8; l++)
                Yt[(jb * w + k) * 8 + l] = jb * 8 + l < ny ? Y[(jb * 8 + l) * w + k] : 0;
    int32_t *out = cf_alloc((size_t)(nx * ldo + 1) * 4);
    for (int lv = 0; lv <= cfuzz_levels(); lv++) {
        for (int64_t q = 0; q < nx * ldo; q++)
            out[q] = -7;
        LV(fastml_hamming_packed_t8, lv)(X, nx, Yt, ny, w, out, ldo);
        for (int64_t i = 0; i < nx; i++)
            for (int64_t j = 0; j < ldo; j++) {
                int32_t want = -7;
                if (j < ny) {
                    want = 0;
                    for (int64_t k = 0; k < w; k++)
                        for (int b = 0; b < 64; b++)
                            want += (int32_t)(((X[i * w + k] ^ Y[j * w + k]) >> b) & 1);
                }
                if (out[i * ldo + j] != want)
                    CF_FAIL("hamming %s: nx %lld ny %lld w %lld ldo %lld, out[%lld, %lld] = %d, "
                            "expected %d", cf_level_names[lv], (long long)nx, (long long)ny,
                            (long long)w, (long long)ldo, (long long)i, (long long)j,
                            out[i * ldo + j], want);
            }
    }
    free(X);
    free(Y);
    free(Yt);
    free(out);
}

#define DEFINE_CHECKS(T, SFX, EPS, TMAX, TRUEMIN, FILL, ISF)                               \
    static void check_lp_##SFX(cf_in *in)                                                  \
    {                                                                                      \
        int64_t nx = cf_size(in, 0, 12), ny = cf_size(in, 0, 12), d = cf_size(in, 0, 300);  \
        int64_t ldo = ny + cf_range(in, 0, 3);                                             \
        static const double ps[] = {1, 1.5, 2, 2.5, 3, 4, 0.5 + 1, 7.25, 17, 64};          \
        T p = (T)(cf_u8(in) & 1 ? ps[cf_u8(in) % 10] : 1 + cf_u8(in) / 8.0);               \
        T *X = cf_alloc((size_t)(nx * d) * sizeof(T)), *Y = cf_alloc((size_t)(ny * d) * sizeof(T)); \
        FILL(in, X, nx * d, CF_FINITE, 0);                                                 \
        FILL(in, Y, ny * d, CF_FINITE, 0);                                                 \
        T *out = cf_alloc((size_t)(nx * ldo + 1) * sizeof(T));                             \
        for (int lv = 0; lv <= cfuzz_levels(); lv++) {                                     \
            for (int64_t q = 0; q < nx * ldo; q++)                                         \
                out[q] = (T)-3;                                                            \
            LV(fastml_tile_lp_##SFX, lv)(X, nx, Y, ny, d, out, ldo, p);                    \
            for (int64_t i = 0; i < nx; i++)                                               \
                for (int64_t j = 0; j < ldo; j++) {                                        \
                    T o = out[i * ldo + j];                                                \
                    if (j >= ny) {                                                         \
                        if (o != (T)-3)                                                    \
                            CF_FAIL("lp %s %s: out[%lld, %lld] past ny written", #SFX,     \
                                    cf_level_names[lv], (long long)i, (long long)j);       \
                        continue;                                                          \
                    }                                                                      \
                    long double a = 0;                                                     \
                    int over = 0;                                                          \
                    for (int64_t k = 0; k < d; k++) {                                      \
                        long double t = fabsl((long double)X[i * d + k] - Y[j * d + k]);   \
                        if (t > (long double)TMAX / 2)                                     \
                            over = 1;                                                      \
                        a += t > 0 ? powl(t, p) : 0;                                       \
                    }                                                                      \
                    if (over || a > (long double)TMAX / 8)                                 \
                        continue; /* beyond T's range */                                   \
                    /* |x - y| rounded (p ulp after the power), pow (a few ulp), the sum */ \
                    long double tol = ((long double)d + 4 + 2 * p) * 2 * EPS * a           \
                                      + (d + 1) * 4 * (long double)TRUEMIN;               \
                    if (!cf_close(o, a, tol))                                              \
                        CF_FAIL("lp %s %s: p %g d %lld out[%lld, %lld] = %.17g, reference " \
                                "%.17Lg (tolerance %.3Lg)", #SFX, cf_level_names[lv],      \
                                (double)p, (long long)d, (long long)i, (long long)j,       \
                                (double)o, a, tol);                                        \
                }                                                                          \
        }                                                                                  \
        free(X);                                                                           \
        free(Y);                                                                           \
        free(out);                                                                         \
    }                                                                                      \
                                                                                           \
    static void check_first_below_##SFX(cf_in *in)                                         \
    {                                                                                      \
        int64_t n = cf_size(in, 0, 200);                                                   \
        int use_add = cf_u8(in) & 1;                                                       \
        T *row = cf_alloc((size_t)n * sizeof(T)), *add = cf_alloc((size_t)n * sizeof(T));  \
        for (int64_t j = 0; j < n; j++) {                                                  \
            double r = cf_real(in, CF_SPECIAL, 0, ISF);                                    \
            row[j] = (T)(r != r || r == -INFINITY ? INFINITY : r);                         \
            double a = cf_real(in, CF_SPECIAL, 1, ISF);                                    \
            add[j] = (T)(a != a ? 0 : a);                                                  \
            if (row[j] == -INFINITY || (add[j] == INFINITY && row[j] == -INFINITY))        \
                row[j] = 0;                                                                \
        }                                                                                  \
        int tk = cf_u8(in) % 4;                                                            \
        T thr = tk == 0 ? (T)INFINITY : tk == 1 && n ? row[cf_range(in, 0, n - 1)]         \
                                                    : (T)cf_real(in, CF_FINITE, 0, ISF);   \
        for (int lv = 0; lv <= cfuzz_levels(); lv++) {                                     \
            int64_t got = LV(fastml_first_below_##SFX, lv)(row, use_add ? add : NULL, n, thr); \
            int64_t want = n;                                                              \
            for (int64_t j = 0; j < n; j++) {                                              \
                T v = row[j] + (use_add ? add[j] : 0);                                     \
                if (v < thr) {                                                             \
                    want = j;                                                              \
                    break;                                                                 \
                }                                                                          \
            }                                                                              \
            if (got != want)                                                               \
                CF_FAIL("first_below %s %s: n %lld thr %g add %d gives %lld, expected %lld", \
                        #SFX, cf_level_names[lv], (long long)n, (double)thr, use_add,      \
                        (long long)got, (long long)want);                                  \
        }                                                                                  \
        free(row);                                                                         \
        free(add);                                                                         \
    }                                                                                      \
                                                                                           \
    static void check_dtw_##SFX(cf_in *in)                                                 \
    {                                                                                      \
        int64_t n = cf_size(in, 1, 130), m = cf_size(in, 1, 130), dim = cf_size(in, 1, 17); \
        if (n * m * dim > 60000)                                                           \
            dim = 1;                                                                       \
        int wk = cf_u8(in) % 5;                                                            \
        int64_t window = wk == 0 ? -1 : wk == 1 ? INT64_MAX : wk == 2 ? cf_range(in, -3, 3) \
                                                                      : cf_range(in, 0, 140); \
        T *a = cf_alloc((size_t)(n * dim) * sizeof(T)), *b = cf_alloc((size_t)(m * dim) * sizeof(T)); \
        FILL(in, a, n * dim, CF_FINITE, 0);                                                \
        if (cf_u8(in) % 4 == 0 && m == n)                                                  \
            memcpy(b, a, (size_t)(n * dim) * sizeof(T));                                   \
        else                                                                               \
            FILL(in, b, m * dim, CF_FINITE, 0);                                            \
        int64_t w = window < 0 ? INT64_MAX : window, diff = n > m ? n - m : m - n;         \
        if (w < diff)                                                                      \
            w = diff;                                                                      \
        long double *D = cf_alloc((size_t)((n + 1) * (m + 1)) * sizeof(long double));      \
        int over = 0;                                                                      \
        long double cmax = 0;                                                              \
        for (int64_t q = 0; q < (n + 1) * (m + 1); q++)                                    \
            D[q] = INFINITY;                                                               \
        D[0] = 0;                                                                          \
        for (int64_t i = 1; i <= n; i++)                                                   \
            for (int64_t j = 1; j <= m; j++) {                                             \
                if ((i > j ? i - j : j - i) > w)                                           \
                    continue;                                                              \
                long double s = 0;                                                         \
                for (int64_t k = 0; k < dim; k++) {                                        \
                    long double df = (long double)a[(i - 1) * dim + k] - b[(j - 1) * dim + k]; \
                    s += df * df;                                                          \
                }                                                                          \
                if (s > (long double)TMAX / 4)                                             \
                    over = 1;                                                              \
                long double c = sqrtl(s);                                                  \
                cmax = c > cmax ? c : cmax;                                                \
                long double best = D[(i - 1) * (m + 1) + j - 1];                           \
                best = D[(i - 1) * (m + 1) + j] < best ? D[(i - 1) * (m + 1) + j] : best;  \
                best = D[i * (m + 1) + j - 1] < best ? D[i * (m + 1) + j - 1] : best;      \
                D[i * (m + 1) + j] = c + best;                                             \
            }                                                                              \
        long double ref = D[n * (m + 1) + m];                                              \
        /* every cost within (dim + 3) ulp (plus the square root of the underflow of its  \
         * squares), sums along a path of at most n + m steps */                          \
        long double tol = ((long double)(n + m) + dim + 4) * 2 * EPS * ref                 \
                          + (n + m) * sqrtl(4 * dim * (long double)TRUEMIN);              \
        T *buf = cf_alloc((size_t)(2 * (m + 1)) * sizeof(T));                              \
        for (int lv = 0; lv <= cfuzz_levels(); lv++) {                                     \
            T got = LV(fastml_dtw_##SFX, lv)(a, n, b, m, dim, window, buf);                \
            if (!over && ref < (long double)TMAX / 8 && !cf_close(got, ref, tol))          \
                CF_FAIL("dtw %s %s: n %lld m %lld dim %lld window %lld gives %.17g, "       \
                        "reference %.17Lg (tolerance %.3Lg)", #SFX, cf_level_names[lv],    \
                        (long long)n, (long long)m, (long long)dim, (long long)window,     \
                        (double)got, ref, tol);                                            \
        }                                                                                  \
        (void)cmax;                                                                        \
        free(buf);                                                                         \
        free(D);                                                                           \
        free(a);                                                                           \
        free(b);                                                                           \
    }

DEFINE_CHECKS(float, f32, EPS_F32, FLT_MAX, FLT_TRUE_MIN, cf_fill_f32, 1)
DEFINE_CHECKS(double, f64, EPS_F64, DBL_MAX, DBL_TRUE_MIN, cf_fill_f64, 0)

/* The projected search's screen: fastml_lb_bounds_f32 against a long double reference
 * (within the float accumulation's bound), fastml_lb_screen_f32 with thresholds against
 * the stored bounds (the same values, in increasing j, exactly those below), and
 * fastml_below_f32 against a scan. Preconditions kept: moderate finite filter rows (the
 * search scales them to norms of at most 1), padding rows with fadd = +inf. */
static void check_lb(cf_in *in)
{
    int64_t nq = cf_size(in, 1, 20), q = cf_size(in, 1, 70), m = cf_size(in, 1, 90);
    int64_t ng = (m + 15) / 16, mp = 16 * ng, j0 = cf_range(in, 0, 1000);
    float *Qa = cf_alloc((size_t)(nq * q) * sizeof(float));
    float *Ft = cf_alloc((size_t)(ng * q * 16) * sizeof(float));
    float *fadd = cf_alloc((size_t)mp * sizeof(float)), *thr = cf_alloc((size_t)nq * sizeof(float));
    float *bnd = cf_alloc((size_t)(nq * mp) * sizeof(float)), *cv = cf_alloc((size_t)(nq * mp) * sizeof(float));
    int32_t *cj = cf_alloc((size_t)(nq * mp) * sizeof(int32_t));
    int64_t *cnt = cf_alloc((size_t)nq * sizeof(int64_t));
    for (int64_t i = 0; i < nq * q; i++)
        Qa[i] = (float)((int)cf_u8(in) - 128) / 64.0f;
    for (int64_t i = 0; i < ng * q * 16; i++)
        Ft[i] = (float)((int)cf_u8(in) - 128) / 64.0f;
    for (int64_t j = 0; j < mp; j++)
        fadd[j] = j < m ? (float)cf_u8(in) / 4.0f : INFINITY;
    for (int lv = 0; lv <= cfuzz_levels(); lv++) {
        LV(fastml_lb_bounds_f32, lv)(Qa, nq, q, Ft, ng, fadd, bnd, mp);
        for (int64_t i = 0; i < nq; i++) {
            for (int64_t j = 0; j < mp; j++) {
                int64_t g = j / 16, l = j % 16;
                long double s = 0, a = 0;
                for (int64_t k = 0; k < q; k++) {
                    long double p = (long double)Qa[i * q + k] * Ft[(g * q + k) * 16 + l];
                    s += p;
                    a += p < 0 ? -p : p;
                }
                long double ref = (long double)fadd[j] - 2 * s;
                long double tol = (q + 4) * EPS_F32 * (2 * a + fadd[j]) + 1e-30L;
                if (!cf_close(bnd[i * mp + j], ref, tol))
                    CF_FAIL("lb_bounds %s: query %lld row %lld gives %g, expected %Lg",
                            cf_level_names[lv], (long long)i, (long long)j,
                            (double)bnd[i * mp + j], ref);
            }
            int tk = cf_u8(in) % 3;
            thr[i] = tk == 0 ? INFINITY : bnd[i * mp + cf_range(in, 0, m - 1)];
        }
        for (int64_t i = 0; i < nq; i++)
            cnt[i] = 0;
        LV(fastml_lb_screen_f32, lv)(Qa, nq, q, Ft, ng, fadd, thr, j0, cj, cv, mp, cnt);
        for (int64_t i = 0; i < nq; i++) {
            int64_t c = 0;
            for (int64_t j = 0; j < mp; j++) {
                float v = bnd[i * mp + j];
                if (!(v < thr[i]))
                    continue;
                if (c >= cnt[i] || cj[i * mp + c] != j0 + j || !cf_same(cv[i * mp + c], v))
                    CF_FAIL("lb_screen %s: query %lld, entry %lld differs from the stored "
                            "bounds", cf_level_names[lv], (long long)i, (long long)c);
                c++;
            }
            if (c != cnt[i])
                CF_FAIL("lb_screen %s: query %lld lists %lld rows, expected %lld",
                        cf_level_names[lv], (long long)i, (long long)cnt[i], (long long)c);
            /* below: the same rows from the stored bounds */
            int64_t got = LV(fastml_below_f32, lv)(bnd + i * mp, m, thr[i], j0, cj, cv);
            int64_t want = 0;
            for (int64_t j = 0; j < m; j++)
                if (bnd[i * mp + j] < thr[i]) {
                    if (want >= got || cj[want] != j0 + j || !cf_same(cv[want], bnd[i * mp + j]))
                        CF_FAIL("below %s: entry %lld differs", cf_level_names[lv],
                                (long long)want);
                    want++;
                }
            if (got != want)
                CF_FAIL("below %s: %lld rows, expected %lld", cf_level_names[lv],
                        (long long)got, (long long)want);
        }
    }
    free(Qa); free(Ft); free(fadd); free(thr); free(bnd); free(cv); free(cj); free(cnt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_in in = {data, size, 0, 0};
    switch (cf_u8(&in) % 8) {
    case 0: check_hamming(&in); break;
    case 1: check_lp_f32(&in); break;
    case 2: check_lp_f64(&in); break;
    case 3: (cf_u8(&in) & 1 ? check_first_below_f64 : check_first_below_f32)(&in); break;
    case 4: check_dtw_f32(&in); break;
    case 5: check_dtw_f64(&in); break;
    case 6: check_lb(&in); break;
    default: check_lp_f64(&in); break;
    }
    return 0;
}
