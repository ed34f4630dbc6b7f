/* Pairwise feature reductions over row-major matrices (no Python API).
 *
 * A "reduce tile" computes, for rows i < nx of X and rows j < ny of Y (both with d
 * contiguous features),
 *       out[i * ldo + j] = post( REDUCE_k op(X[i, k], Y[j, k]) )
 * and, when outT is not NULL, also outT[j * ldo + i] (the mirrored entry, for the
 * symmetric case). The loops are written so that GCC vectorises them (4 x 4 register
 * tiles, `omp simd` reductions); each level of fastml_cpu.h gets its own build, chosen at
 * load time.
 *
 * Reductions (op, reduce):
 *   min   sum_k min(x, y)                 histogram intersection
 *   l1    sum_k |x - y|                   Manhattan / Laplacian
 *   chi2  sum_k (x - y)^2 / (x + y)       chi-squared (a term with x + y == 0 is 0)
 *   sql2  sum_k (x - y)^2                 squared Euclidean (exact, no GEMM)
 *   linf  max_k |x - y|                   Chebyshev
 *   neq   sum_k [x != y]                  Hamming (count of differing components)
 *   l3    sum_k |x - y|^3                 Minkowski p = 3 (before the root)
 *   l4    sum_k (x - y)^4                 Minkowski p = 4 (before the root)
 * fastml_reduce_tile_* dispatches on FASTML_OP_* (the one numbering of these ops).
 *
 * post:  FASTML_POST_NONE  v
 *        FASTML_POST_NEG   -v
 *        FASTML_POST_EXP   exp(scale * v)
 */
#ifndef FASTML_PAIRWISE_H
#define FASTML_PAIRWISE_H
#include <stdint.h>

#include "fastml_kernels.h"

enum { FASTML_POST_NONE = 0, FASTML_POST_NEG = 1, FASTML_POST_EXP = 2 };
enum {
    FASTML_OP_MIN = 0,
    FASTML_OP_L1 = 1,
    FASTML_OP_CHI2 = 2,
    FASTML_OP_SQL2 = 3,
    FASTML_OP_LINF = 4,
    FASTML_OP_NEQ = 5,
    FASTML_OP_L3 = 6,
    FASTML_OP_L4 = 7
};

#define FASTML_DECLARE_TILE(NAME, T)                                                       \
    extern void fastml_tile_##NAME(const T *X, int64_t nx, const T *Y, int64_t ny, int64_t d,     \
                            T *out, T *outT, int64_t ldo, int post, T scale);

FASTML_DECLARE_TILE(min_f32, float)
FASTML_DECLARE_TILE(min_f64, double)
FASTML_DECLARE_TILE(l1_f32, float)
FASTML_DECLARE_TILE(l1_f64, double)
FASTML_DECLARE_TILE(chi2_f32, float)
FASTML_DECLARE_TILE(chi2_f64, double)
FASTML_DECLARE_TILE(sql2_f32, float)
FASTML_DECLARE_TILE(sql2_f64, double)
FASTML_DECLARE_TILE(linf_f32, float)
FASTML_DECLARE_TILE(linf_f64, double)
FASTML_DECLARE_TILE(neq_f32, float)
FASTML_DECLARE_TILE(neq_f64, double)
FASTML_DECLARE_TILE(l3_f32, float)
FASTML_DECLARE_TILE(l3_f64, double)
FASTML_DECLARE_TILE(l4_f32, float)
FASTML_DECLARE_TILE(l4_f64, double)
FASTML_DECLARE_TILE(chi2gen_f32, float)
FASTML_DECLARE_TILE(chi2gen_f64, double)

/* The tile of reduction `op` (FASTML_OP_*); same arguments as the tiles above. */
extern void fastml_reduce_tile_f32(int op, const float *X, int64_t nx, const float *Y, int64_t ny,
                            int64_t d, float *out, float *outT, int64_t ldo, int post,
                            float scale);
extern void fastml_reduce_tile_f64(int op, const double *X, int64_t nx, const double *Y,
                            int64_t ny, int64_t d, double *out, double *outT, int64_t ldo,
                            int post, double scale);

/* In-place element-wise maps over n contiguous values (vectorised). */
extern void fastml_exp_scaled_f32(float *v, int64_t n, float scale);   /* v = exp(scale * v) */
extern void fastml_exp_scaled_f64(double *v, int64_t n, double scale);
/* v[j] = exp(-gamma * max(a + b[j] - 2 v[j], 0)): the RBF kernel from a GEMM row */
extern void fastml_rbf_row_f32(float *v, const float *b, int64_t n, float a, float gamma);
extern void fastml_rbf_row_f64(double *v, const double *b, int64_t n, double a, double gamma);

/* v = tanh(gamma * v + coef0): the sigmoid kernel from a GEMM row */
extern void fastml_affine_tanh_f32(float *v, int64_t n, float gamma, float coef0);
extern void fastml_affine_tanh_f64(double *v, int64_t n, double gamma, double coef0);
/* v = (gamma * v + coef0) ** p, integer p >= 0: the polynomial kernel from a GEMM row */
extern void fastml_affine_powi_f32(float *v, int64_t n, float gamma, float coef0, int p);
extern void fastml_affine_powi_f64(double *v, int64_t n, double gamma, double coef0, int p);

/* One pass over n rows of d values: sq[i] = sum_k X[i, k]^2, and lohi[0] / lohi[1] lowered /
 * raised to the smallest / largest value (the caller initialises them; a NaN never enters
 * them, it shows in sq). */
extern void fastml_row_stats_f32(const float *X, int64_t n, int64_t d, float *sq, float *lohi);
extern void fastml_row_stats_f64(const double *X, int64_t n, int64_t d, double *sq,
                                 double *lohi);

/* out[i] = X[i] / ||X[i]|| for n rows of d values (a zero row gives zeros), each row first
 * scaled by an exact power of two so that its sum of squares cannot overflow or underflow. */
extern void fastml_l2_normalize_rows_f32(const float *X, int64_t n, int64_t d, float *out);
extern void fastml_l2_normalize_rows_f64(const double *X, int64_t n, int64_t d, double *out);

/* The element-wise map of a GEMM kernel on an nr x nc tile of K (row stride ld) holding
 * <x_r, y_c>; with diag != 0 the tile is on the diagonal of a symmetric K and only c >= r
 * is read and written.
 *   FASTML_GRAM_NONE  nothing (linear, cosine, Hellinger)
 *   FASTML_GRAM_RBF   exp(-p0 max(a[r] + b[c] - 2 K, 0)), a / b the squared norms of the
 *                     tile's rows / columns; exactly 1 on the diagonal of a diag tile
 *   FASTML_GRAM_POWI  (p0 K + p1) ** ip, integer ip >= 0
 *   FASTML_GRAM_TANH  tanh(p0 K + p1) */
enum { FASTML_GRAM_NONE = 0, FASTML_GRAM_RBF = 1, FASTML_GRAM_POWI = 2, FASTML_GRAM_TANH = 3 };
extern void fastml_gram_post_f32(float *K, int64_t ld, int64_t nr, int64_t nc, int diag,
                                 int kind, const float *a, const float *b, float p0, float p1,
                                 int ip);
extern void fastml_gram_post_f64(double *K, int64_t ld, int64_t nr, int64_t nc, int diag,
                                 int kind, const double *a, const double *b, double p0,
                                 double p1, int ip);
/* K[j0 + c, i0 + r] = K[i0 + r, j0 + c] for the nr x nc tile at (i0, j0); for i0 == j0 the
 * tile's upper triangle is copied onto its lower one. */
extern void fastml_mirror_tile_f32(float *K, int64_t ld, int64_t i0, int64_t j0, int64_t nr,
                                   int64_t nc);
extern void fastml_mirror_tile_f64(double *K, int64_t ld, int64_t i0, int64_t j0, int64_t nr,
                                   int64_t nc);

/* Chi-squared by supports (pairwise.c): out[i * ldo + j - j0] = post(|q|_1 + |y_j|_1 -
 * 4 sum_k q_k y_jk / (q_k + y_jk)) for q the rows[i]-th row of a CSR matrix (qptr, qcol,
 * qval > 0; qsum its row sums) against the feature-major Yt (ldy columns, zero-padded; ysum their column sums)
 * and the columns j0 <= j < j1; Yt holds fastml_chi2_support_width(dbl) - 1 zero columns
 * past j1 - 1 (read, not used). */
extern int64_t fastml_chi2_support_width(int dbl);
extern void fastml_chi2_support_f32(int64_t nq, const int64_t *rows, const int64_t *qptr,
                                    const int32_t *qcol, const float *qval, const double *qsum,
                                    const float *Yt,
                                    int64_t ldy, int64_t j0, int64_t j1, const double *ysum,
                                    float *out, int64_t ldo, int post, double scale);
extern void fastml_chi2_support_f64(int64_t nq, const int64_t *rows, const int64_t *qptr,
                                    const int32_t *qcol, const double *qval, const double *qsum,
                                    const double *Yt,
                                    int64_t ldy, int64_t j0, int64_t j1, const double *ysum,
                                    double *out, int64_t ldo, int post, double scale);

/* Scalar exp of the same accuracy as the vector loops (for tests and tails). */
extern float fastml_expf(float x);
extern double fastml_exp(double x);

#endif
