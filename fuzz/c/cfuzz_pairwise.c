/* Differential fuzz target for the reduction tiles of csrc/pairwise.c (fastml_pairwise.h):
 * fastml_reduce_tile_* for every FASTML_OP_* and fastml_tile_chi2gen_*, float32 and
 * float64, every post-transform, with and without the mirrored output, at every SIMD
 * level, against plain loops in long double. Also fastml_exp_scaled_* and
 * fastml_rbf_row_* against expl.
 *
 * Preconditions kept (what the Cython callers guarantee): X and Y rows hold d contiguous
 * values; ldo >= ny (and >= nx when outT is given, outT disjoint from out here); chi2 sees
 * x, y >= 0; the exp post-transform gets scale <= 0 on non-negative reductions (it is
 * exp(-gamma * distance)); min (the intersection kernel) is never mirrored with exp.
 * NaN and inf inputs are fuzzed for the sum reductions, whose result they fix whatever
 * the summation order (not for linf or chi2, whose NaN handling is order-dependent and
 * whose inputs are validated finite).
 */
#include "cfuzz.h"
#include "fastml_pairwise.h"

CF_DECLARE_LEVELS(FASTML_KERNELS_PAIRWISE)

static const char *const op_names[9] = {"min", "l1", "chi2", "sql2", "linf",
                                        "neq", "l3", "l4", "chi2gen"};

/* the term of op and whether it is summed (else max) */
static long double ref_term(int op, long double x, long double y, long double tiny)
{
    long double df = x - y, ad = df < 0 ? -df : df;
    switch (op) {
    case FASTML_OP_MIN: return x < y ? x : y;
    case FASTML_OP_L1: return ad;
    case FASTML_OP_CHI2:
    case 8: {
        long double s = x + y;
        return s > 0 ? df * df / s : 0 * tiny;
    }
    case FASTML_OP_SQL2: return df * df;
    case FASTML_OP_LINF: return ad;
    case FASTML_OP_NEQ: return x != y ? 1 : 0;
    case FASTML_OP_L3: return df * df * ad;
    default: return df * df * df * df;
    }
}

/* the number of rounded operations in one term (for the tolerance) */
static int term_ops(int op)
{
    switch (op) {
    case FASTML_OP_CHI2: case 8: return 8; /* sub, add, mul, division (or rcp + Newton) */
    case FASTML_OP_SQL2: return 2;
    case FASTML_OP_L3: return 4;
    case FASTML_OP_L4: return 4;
    default: return 1;
    }
}

#define DEFINE_CHECK(T, SFX, EPS, TMAX, TMIN, TINY, TRUEMIN, FILL, EXPNAME, ISF)                 \
    static void check_##SFX(cf_in *in)                                                     \
    {                                                                                      \
        int op = (int)cf_range(in, 0, 8);                                                  \
        int64_t nx = cf_size(in, 0, 40), ny = cf_size(in, 0, 40);                          \
        int64_t d = cf_size(in, 0, op == 4 || op == 5 ? 5000 : 1100);                      \
        if (nx * ny * d > 200000)                                                          \
            d = 200000 / (nx * ny > 0 ? nx * ny : 1);                                      \
        int mirror = cf_u8(in) & 1;                                                        \
        int64_t ldo = (ny > nx || !mirror ? ny : nx) + cf_range(in, 0, 3);                 \
        int post = (int)cf_range(in, 0, 2);                                                \
        int nonneg = op == FASTML_OP_CHI2 || op == 8 || (cf_u8(in) & 1);                  \
        int sumop = op != FASTML_OP_LINF && op != FASTML_OP_CHI2 && op != 8;               \
        int kind = sumop && post != FASTML_POST_EXP && (cf_u8(in) & 1) ? CF_SPECIAL : CF_FINITE; \
        if (post == FASTML_POST_EXP && op == FASTML_OP_MIN)                                \
            post = FASTML_POST_NEG;                                                        \
        T scale = post == FASTML_POST_EXP ? (T) - cf_real(in, CF_FINITE, 1, ISF) : (T)1;  \
        if (!isfinite(scale))                                                              \
            scale = -1;                                                                    \
        /* a shared X and Y for the symmetric case (the callers' K(X, X)) */               \
        int same = (cf_u8(in) & 3) == 0 && nx == ny;                                       \
        T *X = cf_alloc((size_t)(nx * d) * sizeof(T));                                     \
        T *Y = same ? X : cf_alloc((size_t)(ny * d) * sizeof(T));                          \
        FILL(in, X, nx * d, kind, nonneg);                                                 \
        if (!same)                                                                         \
            FILL(in, Y, ny * d, kind, nonneg);                                             \
        /* a few rows equal to rows of the other matrix (exact zeros, neq = 0) */          \
        for (int64_t j = 0; j < ny && j < nx && !same; j++)                                \
            if ((cf_u8(in) & 7) == 0)                                                      \
                memcpy(Y + j * d, X + j * d, (size_t)d * sizeof(T));                       \
        int64_t rows = (nx > ny ? nx : ny) + 1, osz = rows * ldo;                          \
        T *out = cf_alloc((size_t)osz * sizeof(T)), *outT = cf_alloc((size_t)osz * sizeof(T)); \
        long double *ref = cf_alloc((size_t)(nx * ny + 1) * sizeof(long double));          \
        long double *mag = cf_alloc((size_t)(nx * ny + 1) * sizeof(long double));          \
        long double *absx = cf_alloc((size_t)(nx * ny + 1) * sizeof(long double));         \
        unsigned char *ovf = cf_alloc((size_t)(nx * ny + 1));                              \
        for (int64_t i = 0; i < nx; i++)                                                   \
            for (int64_t j = 0; j < ny; j++) {                                             \
                long double a = 0, s = 0, ab = 0;                                          \
                int over = 0;                                                              \
                for (int64_t k = 0; k < d; k++) {                                          \
                    long double x = X[i * d + k], y = Y[j * d + k];                        \
                    long double t = ref_term(op, x, y, TINY);                              \
                    long double df = x - y;                                                \
                    /* a difference or term beyond T's range: T arithmetic overflows */   \
                    if (isfinite(df) && (fabsl(df) > (long double)TMAX / 4 ||              \
                                         fabsl(t) > (long double)TMAX / 4 ||               \
                                         fabsl(x + y) > (long double)TMAX / 4 ||          \
                                         (op != FASTML_OP_CHI2 && op != 8 &&               \
                                          df * df > (long double)TMAX / 4)))               \
                        over = 1;                                                          \
                    if (op == FASTML_OP_LINF)                                              \
                        a = t > a ? t : a;                                                 \
                    else                                                                   \
                        a += t;                                                            \
                    s += isfinite(t) ? fabsl(t) : 0;                                       \
                    if ((op == FASTML_OP_CHI2 || op == 8) && x + y < (long double)TINY * 2) \
                        ab += (long double)TINY * 2; /* max(x + y, tiny): term off by < tiny */ \
                    if ((op == FASTML_OP_CHI2 || op == 8) && df * df < (long double)TMIN * 2) \
                        /* (x - y)^2 below T's normal range (its absolute error up to the   \
                         * smallest subnormal) is then divided by x + y */                  \
                        ab += 2 * (long double)TRUEMIN / (x + y > (long double)TINY ? x + y : (long double)TINY); \
                }                                                                          \
                if (s > (long double)TMAX / 8)                                             \
                    over = 1;                                                              \
                ref[i * ny + j] = a;                                                       \
                mag[i * ny + j] = s;                                                       \
                absx[i * ny + j] = ab;                                                     \
                ovf[i * ny + j] = (unsigned char)over;                                     \
            }                                                                              \
        const int top = cfuzz_levels();                                                    \
        for (int lv = 0; lv <= top; lv++) {                                                \
            const T sentinel = (T)-12345.5;                                                \
            for (int64_t q = 0; q < osz; q++)                                              \
                out[q] = outT[q] = sentinel;                                               \
            if (op == 8)                                                                   \
                LV(fastml_tile_chi2gen_##SFX, lv)(X, nx, Y, ny, d, out, mirror ? outT : 0, ldo, \
                                                  FASTML_POST_NONE, scale);                \
            else                                                                           \
                LV(fastml_reduce_tile_##SFX, lv)(op, X, nx, Y, ny, d, out, mirror ? outT : 0, \
                                                 ldo, FASTML_POST_NONE, scale);            \
            for (int64_t i = 0; i < rows; i++)                                             \
                for (int64_t j = 0; j < ldo; j++) {                                        \
                    T o = out[i * ldo + j], oT = outT[i * ldo + j];                        \
                    if (i >= nx || j >= ny) {                                              \
                        if (o != sentinel)                                                 \
                            CF_FAIL("%s %s %s: out[%lld, %lld] outside the %lldx%lld tile " \
                                    "written (ldo %lld)", op_names[op], #SFX,              \
                                    cf_level_names[lv], (long long)i, (long long)j,        \
                                    (long long)nx, (long long)ny, (long long)ldo);         \
                    } else {                                                               \
                        long double r = ref[i * ny + j], s = mag[i * ny + j];              \
                        long double tol = (long double)(d + 2) * (term_ops(op) + 2) * EPS * s \
                                          + (long double)(d + 1) * 8 * (long double)TRUEMIN \
                                          + absx[i * ny + j];                              \
                        if (op == FASTML_OP_NEQ || op == FASTML_OP_LINF)                   \
                            tol = op == FASTML_OP_LINF ? 2 * EPS * s : 0;                  \
                        if (op == FASTML_OP_NEQ && d > (ISF ? (1 << 24) : (1LL << 53)))    \
                            tol = d;                                                       \
                        if (!ovf[i * ny + j] && !cf_close(o, r, tol))                      \
                            CF_FAIL("%s %s %s: nx %lld ny %lld d %lld, out[%lld, %lld] = %.17Lg, " \
                                    "reference %.17Lg (tolerance %.3Lg)", op_names[op], #SFX, \
                                    cf_level_names[lv], (long long)nx, (long long)ny,      \
                                    (long long)d, (long long)i, (long long)j,              \
                                    (long double)o, r, tol);                               \
                    }                                                                      \
                    if (mirror) {                                                          \
                        int inside = i < ny && j < nx;                                     \
                        T want = inside ? out[j * ldo + i] : sentinel;                     \
                        if (!cf_same(oT, want))                                            \
                            CF_FAIL("%s %s %s: outT[%lld, %lld] = %g, not the mirror %g", \
                                    op_names[op], #SFX, cf_level_names[lv], (long long)i,  \
                                    (long long)j, (double)oT, (double)want);               \
                    }                                                                      \
                }                                                                          \
            /* the post-transforms, on the tile just checked (same summation) */           \
            int any_ovf = 0;                                                               \
            for (int64_t q = 0; q < nx * ny; q++)                                          \
                any_ovf |= ovf[q];                                                         \
            /* (exp needs a finite argument: no overflowed distance) */                    \
            if (post != FASTML_POST_NONE && !(post == FASTML_POST_EXP && any_ovf)) {       \
                T *out2 = cf_alloc((size_t)osz * sizeof(T));                               \
                if (op == 8)                                                               \
                    LV(fastml_tile_chi2gen_##SFX, lv)(X, nx, Y, ny, d, out2, 0, ldo, post, scale); \
                else                                                                       \
                    LV(fastml_reduce_tile_##SFX, lv)(op, X, nx, Y, ny, d, out2, 0, ldo, post, \
                                                     scale);                               \
                for (int64_t i = 0; i < nx; i++)                                           \
                    for (int64_t j = 0; j < ny; j++) {                                     \
                        T v = out[i * ldo + j], o = out2[i * ldo + j];                     \
                        if (post == FASTML_POST_NEG) {                                     \
                            if (!cf_same(o, -v))                                           \
                                CF_FAIL("%s %s %s: post NEG gives %g for %g", op_names[op], \
                                        #SFX, cf_level_names[lv], (double)o, (double)v);   \
                        } else if (isfinite(v)) {                                          \
                            /* exp of the T product scale * v, a few ulp; an argument    \
                             * below the clamp underflows to (nearly) zero */             \
                            T arg = scale * v;                                             \
                            long double e = expl((long double)arg);                        \
                            long double tol = 16 * EPS * e + 4 * (long double)TRUEMIN;      \
                            if (!cf_close(o, e, tol))                                      \
                                CF_FAIL("%s %s %s: post EXP exp(%g * %g) = %.17g, expected " \
                                        "%.17Lg", op_names[op], #SFX, cf_level_names[lv],   \
                                        (double)scale, (double)v, (double)o, e);           \
                        }                                                                  \
                    }                                                                      \
                free(out2);                                                                \
            }                                                                              \
        }                                                                                  \
        free(ref);                                                                         \
        free(mag);                                                                         \
        free(absx);                                                                        \
        free(ovf);                                                                         \
        free(out);                                                                         \
        free(outT);                                                                        \
        if (!same)                                                                         \
            free(Y);                                                                       \
        free(X);                                                                           \
                                                                                           \
        /* element-wise maps: v = exp(scale * v); v = exp(-gamma * max(a + b - 2 v, 0)) */ \
        int64_t n = cf_size(in, 0, 300);                                                   \
        T *v = cf_alloc((size_t)n * sizeof(T)), *w = cf_alloc((size_t)n * sizeof(T));       \
        T *b = cf_alloc((size_t)n * sizeof(T));                                            \
        FILL(in, v, n, CF_FINITE, 0);                                                      \
        FILL(in, b, n, CF_FINITE, 1);                                                      \
        for (int64_t j = 0; j < n; j++) { /* a GEMM row of finite squared distances */    \
            v[j] = fabsl((long double)v[j]) > (long double)TMAX / 16 ? 1 : v[j];           \
            b[j] = b[j] > (T)(TMAX / 16) ? 1 : b[j];                                       \
        }                                                                                  \
        T sc = (T) - cf_real(in, CF_FINITE, 1, ISF), a0 = (T)cf_real(in, CF_FINITE, 1, ISF); \
        T gamma = (T)cf_real(in, CF_FINITE, 1, ISF);                                       \
        a0 = a0 > (T)(TMAX / 16) ? 1 : a0;                                                 \
        for (int lv = 0; lv <= top; lv++) {                                                \
            memcpy(w, v, (size_t)n * sizeof(T));                                           \
            LV(fastml_exp_scaled_##SFX, lv)(w, n, sc);                                     \
            for (int64_t j = 0; j < n; j++) {                                              \
                T arg = sc * v[j];                                                         \
                if (!(arg <= 0) || !isfinite(arg))                                         \
                    continue; /* callers pass scale * v <= 0 */                            \
                long double e = expl((long double)arg);                                    \
                if (!cf_close(w[j], e, 16 * EPS * e + 4 * (long double)TRUEMIN))           \
                    CF_FAIL("exp_scaled %s %s: exp(%g) = %.17g, expected %.17Lg", #SFX,     \
                            cf_level_names[lv], (double)arg, (double)w[j], e);             \
            }                                                                              \
            memcpy(w, v, (size_t)n * sizeof(T));                                           \
            LV(fastml_rbf_row_##SFX, lv)(w, b, n, a0, gamma);                              \
            for (int64_t j = 0; j < n; j++) {                                              \
                /* d2 = a + b - 2 v, rounded (maybe contracted to an FMA) within err */    \
                long double d2 = (long double)a0 + b[j] - 2.0L * v[j];                     \
                long double err = 4 * EPS * (fabsl((long double)a0) + b[j] + 2 * fabsl((long double)v[j])); \
                long double dlo = d2 - err > 0 ? d2 - err : 0, dhi = d2 + err > 0 ? d2 + err : 0; \
                if (!isfinite(dhi) || dhi * gamma > (long double)TMAX / 4)                 \
                    continue;                                                              \
                long double ehi = expl(-(long double)gamma * dlo) * (1 + 16 * EPS) + 4 * (long double)TRUEMIN; \
                long double elo = expl(-(long double)gamma * dhi) * (1 - 16 * EPS) - 4 * (long double)TRUEMIN; \
                if (!(w[j] >= elo && w[j] <= ehi))                                         \
                    CF_FAIL("rbf_row %s %s: a %g b %g v %g gamma %g gives %.17g, expected " \
                            "[%.17Lg, %.17Lg]", #SFX, cf_level_names[lv], (double)a0,      \
                            (double)b[j], (double)v[j], (double)gamma, (double)w[j], elo, ehi); \
            }                                                                              \
        }                                                                                  \
        free(v);                                                                           \
        free(w);                                                                           \
        free(b);                                                                           \
    }

DEFINE_CHECK(float, f32, EPS_F32, FLT_MAX, FLT_MIN, FLT_MIN, FLT_TRUE_MIN, cf_fill_f32, expf, 1)
DEFINE_CHECK(double, f64, EPS_F64, DBL_MAX, DBL_MIN, DBL_MIN, DBL_TRUE_MIN, cf_fill_f64, exp, 0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_in in = {data, size, 0, 0};
    if (cf_u8(&in) & 1)
        check_f64(&in);
    else
        check_f32(&in);
    return 0;
}
