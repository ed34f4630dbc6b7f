/* Pairwise feature reductions and vectorised element-wise maps; see fastml_pairwise.h. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fastml_cpu.h"
#include "fastml_pairwise.h"
#include "fastml_tile.h"


double fastml_exp(double x) { return exp_f64(x); }
float fastml_expf(float x) { return exp_f32(x); }

#define DEFINE_MAPS(T, SFX, EXP)                                                           \
    void fastml_exp_scaled_##SFX(T *v, int64_t n, T scale)                   \
    {                                                                                      \
        FASTML_PRAGMA(omp simd)                                                            \
        for (int64_t j = 0; j < n; j++)                                                    \
            v[j] = EXP(scale * v[j]);                                                      \
    }                                                                                      \
    void fastml_rbf_row_##SFX(T *v, const T *b, int64_t n, T a, T gamma)     \
    {                                                                                      \
        FASTML_PRAGMA(omp simd)                                                            \
        for (int64_t j = 0; j < n; j++) {                                                  \
            T d2 = a + b[j] - 2 * v[j];                                                    \
            d2 = d2 < 0 ? 0 : d2; /* a NaN stays NaN (unchecked input, as scikit-learn) */ \
            v[j] = EXP(-gamma * d2);                                                       \
        }                                                                                  \
    }

DEFINE_MAPS(float, f32, exp_f32)
DEFINE_MAPS(double, f64, exp_f64)

/* tanh(t) = (e - 1) / (e + 1) with e = exp(2t), vectorised; below |t| < SMALL, where the
 * subtraction would cancel, the odd Taylor series t - t^3/3 + 2t^5/15 - 17t^7/315
 * (its next term is < 1e-17 relative there). */
#define DEFINE_TANH(T, SFX, EXP, SMALL)                                                    \
    void fastml_affine_tanh_##SFX(T *v, int64_t n, T gamma, T coef0)         \
    {                                                                                      \
        FASTML_PRAGMA(omp simd)                                                            \
        for (int64_t j = 0; j < n; j++) {                                                  \
            T t = gamma * v[j] + coef0;                                                    \
            T e = EXP(2 * t);                                                              \
            T big = (e - 1) / (e + 1);                                                     \
            T t2 = t * t;                                                                  \
            T small = t * (1 + t2 * (-(T)1 / 3 + t2 * ((T)2 / 15 - t2 * ((T)17 / 315)))); \
            v[j] = (t < (SMALL) && t > -(SMALL)) ? small : big;                            \
        }                                                                                  \
    }
DEFINE_TANH(float, f32, exp_f32, 0.05f)
DEFINE_TANH(double, f64, exp_f64, 0.01)

/* v = (gamma * v + coef0) ** p for an integer p >= 0: the polynomial kernel from a GEMM
 * row. Degrees 0-4 get straight-line loops (they vectorise); higher ones use binary
 * exponentiation, whose products are the same as the straight lines' for p <= 4. */
#define POWI_LOOP(T, EXPR)                                                                 \
    {                                                                                      \
        FASTML_PRAGMA(omp simd)                                                            \
        for (int64_t j = 0; j < n; j++) {                                                  \
            T b = gamma * v[j] + coef0;                                                    \
            v[j] = (EXPR);                                                                 \
        }                                                                                  \
        return;                                                                            \
    }
#define DEFINE_POWI(T, SFX)                                                                \
    void fastml_affine_powi_##SFX(T *v, int64_t n, T gamma, T coef0, int p)  \
    {                                                                                      \
        switch (p) {                                                                       \
        case 0: POWI_LOOP(T, (T)1 + 0 * b)                                                 \
        case 1: POWI_LOOP(T, b)                                                            \
        case 2: POWI_LOOP(T, b * b)                                                        \
        case 3: POWI_LOOP(T, (b * b) * b)                                                  \
        case 4: POWI_LOOP(T, (b * b) * (b * b))                                            \
        default: break;                                                                    \
        }                                                                                  \
        for (int64_t j = 0; j < n; j++) {                                                  \
            T b = gamma * v[j] + coef0, r = 1;                                             \
            for (int e = p; e > 0; e >>= 1) {                                              \
                if (e & 1)                                                                 \
                    r *= b;                                                                \
                b *= b;                                                                    \
            }                                                                              \
            v[j] = r;                                                                      \
        }                                                                                  \
    }
DEFINE_POWI(float, f32)
DEFINE_POWI(double, f64)

/* ------------------------------------------------------------------------------------
 * The one pass over the rows that the GEMM kernels make before their tiles: squared norms
 * and the range of the values (from which the caller knows, without another pass, whether
 * the data are finite, how large they are and whether the Gram form can cancel).
 * ------------------------------------------------------------------------------------ */
#define DEFINE_ROW_STATS(T, SFX)                                                           \
    void fastml_row_stats_##SFX(const T *X, int64_t n, int64_t d, T *sq,     \
                                              T *lohi)                                     \
    {                                                                                      \
        T lo = lohi[0], hi = lohi[1];                                                      \
        for (int64_t i = 0; i < n; i++) {                                                  \
            const T *x = X + i * d;                                                        \
            T s = 0, l = lo, h = hi;                                                       \
            FASTML_PRAGMA(omp simd reduction(+ : s) reduction(min : l) reduction(max : h)) \
            for (int64_t k = 0; k < d; k++) {                                              \
                T v = x[k];                                                                \
                s += v * v;                                                                \
                l = v < l ? v : l;                                                         \
                h = v > h ? v : h;                                                         \
            }                                                                              \
            sq[i] = s;                                                                     \
            lo = l;                                                                        \
            hi = h;                                                                        \
        }                                                                                  \
        lohi[0] = lo;                                                                      \
        lohi[1] = hi;                                                                      \
    }
DEFINE_ROW_STATS(float, f32)
DEFINE_ROW_STATS(double, f64)

/* Rows scaled to unit Euclidean norm (zero rows stay zero), as
 * sklearn.preprocessing.normalize but safe from overflow and underflow: each row is first
 * multiplied by the power of two 2^-e that brings its largest |value| into [0.5, 1) (exact),
 * so its sum of squares is neither inf nor subnormal. Three passes over a row in L1. */
#define DEFINE_L2_NORMALIZE(T, SFX, MAXE, SQRT)                                           \
    void fastml_l2_normalize_rows_##SFX(const T *X, int64_t n, int64_t d,     \
                                                      T *out)                              \
    {                                                                                      \
        for (int64_t i = 0; i < n; i++) {                                                  \
            const T *x = X + i * d;                                                        \
            T *o = out + i * d;                                                            \
            T m = 0;                                                                       \
            FASTML_PRAGMA(omp simd reduction(max : m))                                     \
            for (int64_t k = 0; k < d; k++) {                                              \
                T a = x[k] < 0 ? -x[k] : x[k];                                             \
                m = a > m ? a : m;                                                         \
            }                                                                              \
            int e = 0;                                                                     \
            if (m > 0 && m <= (T)MAXE) /* finite, non-zero */                              \
                (void)frexp((double)m, &e);                                                \
            /* 2^-e as one exact factor, or two when it is beyond the type's range */      \
            int e1 = e < -(MAXEXP_##SFX - 2) ? -(MAXEXP_##SFX - 2) : e, e2 = e - e1;        \
            const T f1 = (T)ldexp(1.0, -e1), f2 = (T)ldexp(1.0, -e2);                      \
            T s = 0;                                                                       \
            FASTML_PRAGMA(omp simd reduction(+ : s))                                       \
            for (int64_t k = 0; k < d; k++) {                                              \
                T v = x[k] * f1 * f2;                                                      \
                s += v * v;                                                                \
            }                                                                              \
            const T norm = s > 0 ? SQRT(s) : (s == 0 ? (T)1 : s); /* NaN stays NaN */     \
            FASTML_PRAGMA(omp simd)                                                        \
            for (int64_t k = 0; k < d; k++)                                                \
                o[k] = x[k] * f1 * f2 / norm;                                              \
        }                                                                                  \
    }
#define MAXEXP_f64 1024
#define MAXEXP_f32 128
DEFINE_L2_NORMALIZE(float, f32, FLT_MAX, sqrtf)
DEFINE_L2_NORMALIZE(double, f64, DBL_MAX, sqrt)

/* ------------------------------------------------------------------------------------
 * The element-wise part of a GEMM kernel, applied to one tile of K = X Y^T while the tile
 * is in cache (fastml_pairwise.h, FASTML_GRAM_*). `diag`: the tile sits on the diagonal of
 * a symmetric K and only its upper triangle (c >= r) holds values.
 * ------------------------------------------------------------------------------------ */
#define DEFINE_GRAM_POST(T, SFX)                                                           \
    void fastml_gram_post_##SFX(T *K, int64_t ld, int64_t nr, int64_t nc,    \
                                              int diag, int kind, const T *a, const T *b,   \
                                              T p0, T p1, int ip)                          \
    {                                                                                      \
        for (int64_t r = 0; r < nr; r++) {                                                 \
            const int64_t c0 = diag ? r : 0;                                               \
            T *v = K + r * ld + c0;                                                        \
            const int64_t nv = nc - c0;                                                    \
            if (nv <= 0)                                                                   \
                continue;                                                                  \
            switch (kind) {                                                                \
            case FASTML_GRAM_RBF:                                                          \
                fastml_rbf_row_##SFX(v, b + c0, nv, a[r], p0);                             \
                if (diag)                                                                  \
                    v[0] = 1; /* ||x - x||^2 = 0 exactly */                                \
                break;                                                                     \
            case FASTML_GRAM_POWI: fastml_affine_powi_##SFX(v, nv, p0, p1, ip); break;     \
            case FASTML_GRAM_TANH: fastml_affine_tanh_##SFX(v, nv, p0, p1); break;         \
            default: break;                                                                \
            }                                                                              \
        }                                                                                  \
    }
DEFINE_GRAM_POST(float, f32)
DEFINE_GRAM_POST(double, f64)

/* The mirrored half of a symmetric K, one finished tile at a time: K[j0 + c, i0 + r] =
 * K[i0 + r, j0 + c]; a diagonal tile (i0 == j0) copies its upper triangle onto its lower,
 * the W x W blocks off its diagonal transposed in registers (fastml_tile.h). */
#define DEFINE_MIRROR_TILE(T, SFX, W, TRANSPOSE)                                           \
    void fastml_mirror_tile_##SFX(T *K, int64_t ld, int64_t i0, int64_t j0,  \
                                                int64_t nr, int64_t nc)                    \
    {                                                                                      \
        T *src = K + i0 * ld + j0, *dst = K + j0 * ld + i0;                                \
        if (i0 != j0) {                                                                    \
            mirror_block_##SFX(src, dst, nr, nc, ld);                                      \
            return;                                                                        \
        }                                                                                  \
        const int64_t nw = (W) > 1 ? nr - nr % (W) : 0; /* rows in whole blocks */         \
        for (int64_t a = 0; a < nw; a += (W))                                              \
            for (int64_t b = a + (W); b < nw; b += (W))                                    \
                TRANSPOSE(src + a * ld + b, src + b * ld + a, ld);                         \
        for (int64_t r = 1; r < nr; r++) /* diagonal blocks and edges */                   \
            for (int64_t c = r < nw ? r - r % (W) : 0; c < r && c < nc; c++)               \
                src[r * ld + c] = src[c * ld + r];                                         \
    }
#ifdef TR_W_F64
DEFINE_MIRROR_TILE(double, f64, TR_W_F64, tr_block_f64)
#else
DEFINE_MIRROR_TILE(double, f64, 1, tr_none_f64)
#endif
#ifdef TR_W_F32
DEFINE_MIRROR_TILE(float, f32, TR_W_F32, tr_block_f32)
#else
DEFINE_MIRROR_TILE(float, f32, 1, tr_none_f32)
#endif

/* ------------------------------------------------------------------------------------
 * Reduce tiles. OP(x, y) is the per-feature term, RED the omp reduction operator and
 * COMB(acc, term) the matching combination.
 * ------------------------------------------------------------------------------------ */
#define OP_MIN(x, y) ((x) < (y) ? (x) : (y))
/* |x - y| as a subtraction and a sign-bit clear (2 vector ops; a compare-select is 3). */
#define OP_L1(x, y) _Generic((x), float: __builtin_fabsf((x) - (y)), default: __builtin_fabs((x) - (y)))
/* (x - y)^2 / (x + y), as (x - y) * ((x - y) / (x + y)): |x - y| / (x + y) <= 1, so the
 * term neither overflows nor underflows where its value does not (the square would, long
 * before). x, y >= 0, so x + y == 0 means x == y == 0 and the term is 0: dividing by
 * max(x + y, smallest normal) keeps the loop branch-free (a term whose x + y is subnormal
 * is then off by less than the smallest normal). */
#define OP_CHI2_T(T, TINY)                                                                 \
    static inline T chi2_term_##T(T x, T y)                                                \
    {                                                                                      \
        T s = x + y, df = x - y;                                                           \
        s = s > (TINY) ? s : (TINY);                                                       \
        return df * (df / s);                                                              \
    }
OP_CHI2_T(float, FLT_MIN)
OP_CHI2_T(double, DBL_MIN)

DEFINE_TILE(min, float, f32, OP_MIN, +, COMB_SUM)
DEFINE_TILE(min, double, f64, OP_MIN, +, COMB_SUM)
DEFINE_TILE(l1, float, f32, OP_L1, +, COMB_SUM)
DEFINE_TILE(l1, double, f64, OP_L1, +, COMB_SUM)
/* Distances (used by fastml.metrics.distance and fastml.neighbors). */
#define OP_SQL2(x, y) (((x) - (y)) * ((x) - (y)))
#define OP_NEQ(x, y) ((x) != (y) ? 1 : 0)
#define OP_L3(x, y) (OP_SQL2(x, y) * OP_L1(x, y))
#define OP_L4(x, y) (OP_SQL2(x, y) * OP_SQL2(x, y))
DEFINE_TILE(sql2, float, f32, OP_SQL2, +, COMB_SUM)
DEFINE_TILE(sql2, double, f64, OP_SQL2, +, COMB_SUM)
DEFINE_TILE(linf, float, f32, OP_L1, max, COMB_MAX)
DEFINE_TILE(linf, double, f64, OP_L1, max, COMB_MAX)
DEFINE_TILE(neq, float, f32, OP_NEQ, +, COMB_SUM)
DEFINE_TILE(neq, double, f64, OP_NEQ, +, COMB_SUM)
DEFINE_TILE(l3, float, f32, OP_L3, +, COMB_SUM)
DEFINE_TILE(l3, double, f64, OP_L3, +, COMB_SUM)
DEFINE_TILE(l4, float, f32, OP_L4, +, COMB_SUM)
DEFINE_TILE(l4, double, f64, OP_L4, +, COMB_SUM)
/* The portable chi-squared tiles; fastml_tile_chi2_* below prefer the AVX-512 ones. */
DEFINE_TILE(chi2gen, float, f32, chi2_term_float, +, COMB_SUM)
DEFINE_TILE(chi2gen, double, f64, chi2_term_double, +, COMB_SUM)

/* ------------------------------------------------------------------------------------
 * Chi-squared with AVX-512: the loop above is bound by the divider (vdivpd retires 8
 * doubles every ~16 cycles). Here 1 / (x + y) comes from vrcp14 (14 bits) refined by
 * Newton-Raphson steps r <- r + r (1 - s r), each doubling the correct bits: two steps
 * for double (56 bits), one for float (28 bits), so the result stays within a few ulp
 * of the division. Used by the avx512 build of this file (fastml_cpu.h).
 * ------------------------------------------------------------------------------------ */
#if FASTML_X86 && FASTML_ISA_LEVEL >= FASTML_LEVEL_AVX512
#include <immintrin.h>

#define CHI2_AVX512(T, SFX, VT, W, LOAD, MASKLOAD, SET1, ADD, SUB, MAX, MUL, FMA, FNMA,    \
                    RCP, REDUCE, MASKT, NEWTON2, TMIN)                                     \
    __attribute__((target("avx512f,avx512dq"))) static void chi2_tile_avx512_##SFX(        \
        const T *X, int64_t nx, const T *Y, int64_t ny, int64_t d, T *out, T *outT,         \
        int64_t ldo, int post, T scale)                                                    \
    {                                                                                      \
        const VT tiny = SET1(TMIN), one = SET1((T)1);                                      \
        const int64_t dv = d - d % W;                                                      \
        const MASKT tail = (MASKT)((1u << (d % W)) - 1u);                                  \
        int64_t i0 = 0;                                                                    \
        for (; i0 + 4 <= nx; i0 += 4) {                                                    \
            const T *x[4] = {X + i0 * d, X + (i0 + 1) * d, X + (i0 + 2) * d,               \
                             X + (i0 + 3) * d};                                            \
            int64_t j0 = 0;                                                                \
            for (; j0 + 4 <= ny; j0 += 4) {                                                \
                const T *y[4] = {Y + j0 * d, Y + (j0 + 1) * d, Y + (j0 + 2) * d,           \
                                 Y + (j0 + 3) * d};                                        \
                VT acc[4][4];                                                              \
                for (int a = 0; a < 4; a++)                                                \
                    for (int b = 0; b < 4; b++)                                            \
                        acc[a][b] = SET1((T)0);                                            \
                for (int64_t k = 0; k <= dv; k += W) {                                     \
                    VT xv[4], yv[4];                                                       \
                    if (k < dv) {                                                          \
                        for (int a = 0; a < 4; a++) xv[a] = LOAD(x[a] + k);                \
                        for (int b = 0; b < 4; b++) yv[b] = LOAD(y[b] + k);                \
                    } else {                                                               \
                        if (!tail) break;                                                  \
                        for (int a = 0; a < 4; a++) xv[a] = MASKLOAD(tail, x[a] + k);      \
                        for (int b = 0; b < 4; b++) yv[b] = MASKLOAD(tail, y[b] + k);      \
                    }                                                                      \
                    for (int a = 0; a < 4; a++)                                            \
                        for (int b = 0; b < 4; b++) {                                      \
                            VT s = MAX(ADD(xv[a], yv[b]), tiny);                           \
                            VT df = SUB(xv[a], yv[b]);                                     \
                            VT r = RCP(s);                                                 \
                            r = FMA(r, FNMA(s, r, one), r);                                \
                            NEWTON2;                                                       \
                            acc[a][b] = FMA(df, MUL(df, r), acc[a][b]);                    \
                        }                                                                  \
                }                                                                          \
                for (int a = 0; a < 4; a++)                                                \
                    for (int b = 0; b < 4; b++) {                                          \
                        T *o = out + (i0 + a) * ldo + j0 + b;                              \
                        *o = REDUCE(acc[a][b]);                                            \
                    }                                                                      \
            }                                                                              \
            if (j0 < ny) /* column tail */                                                 \
                for (int a = 0; a < 4; a++)                                                \
                    fastml_tile_chi2gen_##SFX(x[a], 1, Y + j0 * d, ny - j0, d,             \
                                              out + (i0 + a) * ldo + j0, 0, ldo,           \
                                              FASTML_POST_NONE, scale);                    \
        }                                                                                  \
        if (i0 < nx) /* row tail */                                                        \
            fastml_tile_chi2gen_##SFX(X + i0 * d, nx - i0, Y, ny, d, out + i0 * ldo, 0, ldo,    \
                                      FASTML_POST_NONE, scale);                            \
        post_block_##SFX(out, nx, ny, ldo, post, scale);                                   \
        if (outT)                                                                          \
            mirror_block_##SFX(out, outT, nx, ny, ldo);                                    \
    }

CHI2_AVX512(double, f64, __m512d, 8, _mm512_loadu_pd, _mm512_maskz_loadu_pd, _mm512_set1_pd,
            _mm512_add_pd, _mm512_sub_pd, _mm512_max_pd, _mm512_mul_pd, _mm512_fmadd_pd,
            _mm512_fnmadd_pd, _mm512_rcp14_pd, _mm512_reduce_add_pd, __mmask8,
            r = _mm512_fmadd_pd(r, _mm512_fnmadd_pd(s, r, one), r), DBL_MIN)
CHI2_AVX512(float, f32, __m512, 16, _mm512_loadu_ps, _mm512_maskz_loadu_ps, _mm512_set1_ps,
            _mm512_add_ps, _mm512_sub_ps, _mm512_max_ps, _mm512_mul_ps, _mm512_fmadd_ps,
            _mm512_fnmadd_ps, _mm512_rcp14_ps, _mm512_reduce_add_ps, __mmask16, (void)0, FLT_MIN)

#endif

#define DEFINE_CHI2_DISPATCH(T, SFX)                                                       \
    void fastml_tile_chi2_##SFX(const T *X, int64_t nx, const T *Y, int64_t ny, int64_t d,  \
                                T *out, T *outT, int64_t ldo, int post, T scale)           \
    {                                                                                      \
        FASTML_IF_AVX512(chi2_tile_avx512_##SFX(X, nx, Y, ny, d, out, outT, ldo, post,     \
                                                scale));                                   \
        fastml_tile_chi2gen_##SFX(X, nx, Y, ny, d, out, outT, ldo, post, scale);           \
    }
#if FASTML_X86 && FASTML_ISA_LEVEL >= FASTML_LEVEL_AVX512
#define FASTML_IF_AVX512(call)                                                             \
    {                                                                                      \
        call;                                                                              \
        return;                                                                            \
    }
#else
#define FASTML_IF_AVX512(call)
#endif
DEFINE_CHI2_DISPATCH(float, f32)
DEFINE_CHI2_DISPATCH(double, f64)

#define DEFINE_REDUCE_DISPATCH(T, SFX)                                                     \
    void fastml_reduce_tile_##SFX(int op, const T *X, int64_t nx, const T *Y, int64_t ny,  \
                                  int64_t d, T *out, T *outT, int64_t ldo, int post,       \
                                  T scale)                                                 \
    {                                                                                      \
        switch (op) {                                                                      \
        case FASTML_OP_MIN: fastml_tile_min_##SFX(X, nx, Y, ny, d, out, outT, ldo, post, scale); break; \
        case FASTML_OP_L1: fastml_tile_l1_##SFX(X, nx, Y, ny, d, out, outT, ldo, post, scale); break;   \
        case FASTML_OP_CHI2: fastml_tile_chi2_##SFX(X, nx, Y, ny, d, out, outT, ldo, post, scale); break; \
        case FASTML_OP_SQL2: fastml_tile_sql2_##SFX(X, nx, Y, ny, d, out, outT, ldo, post, scale); break; \
        case FASTML_OP_LINF: fastml_tile_linf_##SFX(X, nx, Y, ny, d, out, outT, ldo, post, scale); break; \
        case FASTML_OP_NEQ: fastml_tile_neq_##SFX(X, nx, Y, ny, d, out, outT, ldo, post, scale); break; \
        case FASTML_OP_L3: fastml_tile_l3_##SFX(X, nx, Y, ny, d, out, outT, ldo, post, scale); break;   \
        case FASTML_OP_L4: fastml_tile_l4_##SFX(X, nx, Y, ny, d, out, outT, ldo, post, scale); break;   \
        default: break;                                                                    \
        }                                                                                  \
    }
DEFINE_REDUCE_DISPATCH(float, f32)
DEFINE_REDUCE_DISPATCH(double, f64)

/* ------------------------------------------------------------------------------------
 * Chi-squared by supports. For non-negative x, y the chi-squared sum is
 *     sum_k (x_k - y_k)^2 / (x_k + y_k) = |x|_1 + |y|_1 - 4 sum_k x_k y_k / (x_k + y_k),
 * and a term of the last sum is 0 unless both x_k and y_k are non-zero: it runs over the
 * support of x only (the idea behind the sparse chi-squared kernels of fastml.metrics).
 * The queries are rows of a CSR matrix (rows[i] for query i; non-zero columns increasing,
 * values > 0)
 * and the other side feature-major, Yt[k * ldy + j] = y_j[k], so the term of one query
 * feature against CHI2S_NV vectors of consecutive y's is a broadcast and CHI2S_NV vector
 * loads of one row of Yt: for data with a fraction f of non-zeros, about f of the work
 * of the dense tiles. The columns [j0, j1) are processed by blocks of CHI2S_W = CHI2S_NV
 * vectors (Yt's rows are read from cache by every query); the last block reads up to
 * CHI2S_W - 1 columns past j1 - 1, which Yt holds as zeros (their terms are 0).
 *
 * Rounding. The reciprocal is vrcp14 (rcpps at avx2) refined by Newton-Raphson steps, or
 * a division where there is neither; the terms of float data are float, summed per block
 * of 8 features in float and then in double, those of double data double throughout.
 * The sum cancels when x and y are close (|x|_1 + |y|_1 large against the result): its
 * absolute error is a few units of the terms' precision times |x|_1 + |y|_1, which the
 * caller weighs against its tolerance before choosing this path. Negative results of
 * that rounding are clamped to 0. out[i * ldo + j - j0] receives post(value).
 * ------------------------------------------------------------------------------------ */
#if FASTML_X86
#include <immintrin.h>
#endif
#define CHI2S_NV 8
#define CHI2S_FLUSH 8
typedef float chi2s_vf __attribute__((vector_size(FASTML_VEC_BYTES)));
typedef double chi2s_vd __attribute__((vector_size(FASTML_VEC_BYTES)));
enum { CHI2S_LF = FASTML_VEC_BYTES / 4, CHI2S_LD = FASTML_VEC_BYTES / 8 };

int64_t fastml_chi2_support_width(int dbl)
{
    return (int64_t)CHI2S_NV * (dbl ? CHI2S_LD : CHI2S_LF);
}

static inline chi2s_vf chi2s_recip_f(chi2s_vf s)
{
#if FASTML_X86 && FASTML_ISA_LEVEL >= FASTML_LEVEL_AVX512
    chi2s_vf r = (chi2s_vf)_mm512_rcp14_ps((__m512)s);
    return r + r * (1.0f - s * r);
#elif FASTML_X86 && FASTML_ISA_LEVEL >= FASTML_LEVEL_AVX2
    chi2s_vf r = (chi2s_vf)_mm256_rcp_ps((__m256)s);
    return r + r * (1.0f - s * r);
#else
    return 1.0f / s;
#endif
}

static inline chi2s_vd chi2s_recip_d(chi2s_vd s)
{
#if FASTML_X86 && FASTML_ISA_LEVEL >= FASTML_LEVEL_AVX512
    chi2s_vd r = (chi2s_vd)_mm512_rcp14_pd((__m512d)s);
    r = r + r * (1.0 - s * r);
    return r + r * (1.0 - s * r);
#else
    return 1.0 / s;
#endif
}

static inline double chi2s_value(double qs, double ys, double acc)
{
    double v = qs + ys - 4.0 * acc;
    return v > 0 ? v : 0;
}

#define DEFINE_CHI2_SUPPORT_OUT(T, SFX, EXP)                                               \
    static inline void chi2s_store_##SFX(T *o, const double *acc, double qs,               \
                                         const double *ys, int64_t w, int post, double scale) \
    {                                                                                      \
        if (post == FASTML_POST_EXP) {                                                     \
            FASTML_PRAGMA(omp simd)                                                        \
            for (int64_t l = 0; l < w; l++)                                                \
                o[l] = EXP((T)(scale * chi2s_value(qs, ys[l], acc[l])));                   \
        } else if (post == FASTML_POST_NEG) {                                              \
            for (int64_t l = 0; l < w; l++)                                                \
                o[l] = (T)-chi2s_value(qs, ys[l], acc[l]);                                 \
        } else {                                                                           \
            for (int64_t l = 0; l < w; l++)                                                \
                o[l] = (T)chi2s_value(qs, ys[l], acc[l]);                                  \
        }                                                                                  \
    }
DEFINE_CHI2_SUPPORT_OUT(float, f32, exp_f32)
DEFINE_CHI2_SUPPORT_OUT(double, f64, exp_f64)

void fastml_chi2_support_f32(int64_t nq, const int64_t *rows, const int64_t *qptr,
                             const int32_t *qcol, const float *qval, const double *qsum,
                             const float *Yt,
                             int64_t ldy, int64_t j0, int64_t j1, const double *ysum,
                             float *out, int64_t ldo, int post, double scale)
{
    enum { W = CHI2S_NV * CHI2S_LF };
    double acc64[W];
    float part[W];
    for (int64_t jb = j0; jb < j1; jb += W) {
        const int64_t w = j1 - jb < W ? j1 - jb : W;
        for (int64_t i = 0; i < nq; i++) {
            for (int l = 0; l < W; l++)
                acc64[l] = 0;
            chi2s_vf acc[CHI2S_NV];
            for (int v = 0; v < CHI2S_NV; v++)
                acc[v] = (chi2s_vf){0};
            int cnt = 0;
            const int64_t q = rows[i];
            for (int64_t p = qptr[q]; p < qptr[q + 1]; p++) {
                const float *y = Yt + (int64_t)qcol[p] * ldy + jb;
                const float x = qval[p];
                for (int v = 0; v < CHI2S_NV; v++) {
                    chi2s_vf yv;
                    __builtin_memcpy(&yv, y + v * CHI2S_LF, sizeof yv);
                    chi2s_vf r = chi2s_recip_f(x + yv);
                    acc[v] += (x * yv) * r;
                }
                if (++cnt == CHI2S_FLUSH || p + 1 == qptr[q + 1]) {
                    __builtin_memcpy(part, acc, sizeof part);
                    FASTML_PRAGMA(omp simd)
                    for (int l = 0; l < W; l++)
                        acc64[l] += (double)part[l];
                    for (int v = 0; v < CHI2S_NV; v++)
                        acc[v] = (chi2s_vf){0};
                    cnt = 0;
                }
            }
            chi2s_store_f32(out + i * ldo + (jb - j0), acc64, qsum[q], ysum + jb, w, post,
                            scale);
        }
    }
}

void fastml_chi2_support_f64(int64_t nq, const int64_t *rows, const int64_t *qptr,
                             const int32_t *qcol, const double *qval, const double *qsum,
                             const double *Yt,
                             int64_t ldy, int64_t j0, int64_t j1, const double *ysum,
                             double *out, int64_t ldo, int post, double scale)
{
    enum { W = CHI2S_NV * CHI2S_LD };
    double acc64[W];
    for (int64_t jb = j0; jb < j1; jb += W) {
        const int64_t w = j1 - jb < W ? j1 - jb : W;
        for (int64_t i = 0; i < nq; i++) {
            chi2s_vd acc[CHI2S_NV];
            for (int v = 0; v < CHI2S_NV; v++)
                acc[v] = (chi2s_vd){0};
            const int64_t q = rows[i];
            for (int64_t p = qptr[q]; p < qptr[q + 1]; p++) {
                const double *y = Yt + (int64_t)qcol[p] * ldy + jb;
                const double x = qval[p];
                for (int v = 0; v < CHI2S_NV; v++) {
                    chi2s_vd yv;
                    __builtin_memcpy(&yv, y + v * CHI2S_LD, sizeof yv);
                    chi2s_vd r = chi2s_recip_d(x + yv);
                    acc[v] += (x * yv) * r;
                }
            }
            __builtin_memcpy(acc64, acc, sizeof acc64);
            chi2s_store_f64(out + i * ldo + (jb - j0), acc64, qsum[q], ysum + jb, w, post,
                            scale);
        }
    }
}
