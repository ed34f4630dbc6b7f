/* The Euclidean distance with missing values; see fastml_nan_euclidean.h.
 *
 * The rows of Y come packed in panels of NE_NR rows stored feature-major (panel p holds
 * P[p][k][j] = Y[p * NE_NR + j, k]), as the B operand of a GEMM micro-kernel (Goto & van
 * de Geijn, "Anatomy of high-performance matrix multiplication", ACM TOMS 34(3), 2008):
 * a register block of NE_MR rows of X x NE_NR columns walks the features with one
 * broadcast per row of X, NE_NR / lane loads and, per pair, three vector operations
 * (the difference, a fused multiply-add and a max; see NE_ADD). The vector runs along
 * the columns, so no horizontal reduction is ever needed, short rows (10 features) run
 * as fast as long ones, and every pair's features are summed one after another in
 * order: the value of a pair does not depend on where it sits in a block, on the
 * thread count, or (beyond the fused multiply-add) on the vector width.
 */
#include <math.h>
#include <stdint.h>

#include "fastml_cpu.h"
#include "fastml_nan_euclidean.h"

/* two vectors of doubles per register block row: 16 columns (AVX-512), 8 (AVX2), 4 (SSE2) */
#define NE_NR (2 * FASTML_VEC_BYTES / 8)
/* rows of X per register block: 4 x 2 accumulators leave room for the loads in 16
 * registers; with 32 (AVX-512) 8 x 2 */
#if FASTML_VEC_REGS >= 32
#define NE_MR 8
#else
#define NE_MR 4
#endif

/* a += t^2 where t is a number, a unchanged where t is NaN (a coordinate missing in either
 * row), in two vector operations where the level has FMA (GCC contracts a + t * t):
 * u = a + t * t is >= a unless it is NaN, and `u > a ? u : a` is a when u is NaN (the
 * semantics of the x86 max instruction: no compare or mask needed) */
#define NE_ADD(a, t)                                                                       \
    do {                                                                                   \
        double u_ = (a) + (t) * (t);                                                       \
        (a) = u_ > (a) ? u_ : (a);                                                         \
    } while (0)

int fastml_nan_panel_width(void) { return NE_NR; }

/* MR rows of X (row stride d) against one panel: acc[r * lda + j], j < NE_NR */
#define DEFINE_BLOCK(NAME, MR)                                                                \
    static inline void NAME(const double *x, int64_t d, const double *P,                   \
                                     double *acc, int64_t lda)                             \
    {                                                                                      \
        double a[MR][NE_NR];                                                               \
        for (int r = 0; r < MR; r++)                                                       \
            for (int j = 0; j < NE_NR; j++)                                                \
                a[r][j] = 0;                                                               \
        for (int64_t k = 0; k < d; k++) {                                                  \
            const double *y = P + k * NE_NR;                                               \
            for (int r = 0; r < MR; r++) {                                                 \
                const double xr = x[r * d + k];                                            \
                FASTML_PRAGMA(omp simd)                                                    \
                for (int j = 0; j < NE_NR; j++) {                                          \
                    double t = xr - y[j];                                                  \
                    NE_ADD(a[r][j], t);                                                    \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
        for (int r = 0; r < MR; r++)                                                       \
            for (int j = 0; j < NE_NR; j++)                                                \
                acc[r * lda + j] = a[r][j];                                                \
    }
DEFINE_BLOCK(ne_block_mr, NE_MR)
DEFINE_BLOCK(ne_block_1, 1)

void fastml_nan_sqdist_f64(const double *X, int64_t nx, const double *P, int64_t npan,
                           int64_t d, double *acc, int64_t lda)
{
    int64_t i0 = 0;
    for (; i0 + NE_MR <= nx; i0 += NE_MR)
        for (int64_t p = 0; p < npan; p++)
            ne_block_mr(X + i0 * d, d, P + p * d * NE_NR, acc + i0 * lda + p * NE_NR, lda);
    for (; i0 < nx; i0++) /* row tail: the same sums, one row at a time */
        for (int64_t p = 0; p < npan; p++)
            ne_block_1(X + i0 * d, d, P + p * d * NE_NR, acc + i0 * lda + p * NE_NR, lda);
}

/* the number of coordinates present in both rows: popcount of the AND of their presence
 * bits (W 64-bit words a row) */
static inline int64_t ne_count(const uint64_t *mx, const uint64_t *my, int64_t W)
{
    int64_t c = 0;
    for (int64_t w = 0; w < W; w++)
        c += __builtin_popcountll(mx[w] & my[w]);
    return c;
}

/* out = (S / c) * d as scikit-learn scales it (then sqrt), NaN where c == 0: the counts
 * of a row first (scalar popcounts), then the arithmetic vectorised */
#define NE_FC 128
#define DEFINE_NAN_FINISH(T, SFX)                                                          \
    void fastml_nan_finish_##SFX(const double *acc, int64_t lda, const uint64_t *mx,       \
                                 const uint64_t *my, int64_t W, int64_t nr, int64_t nc,    \
                                 double d, int squared, T *out, int64_t ldo)               \
    {                                                                                      \
        double cnt[NE_FC];                                                                 \
        for (int64_t i = 0; i < nr; i++)                                                   \
            for (int64_t j0 = 0; j0 < nc; j0 += NE_FC) {                                   \
                const int64_t n = nc - j0 < NE_FC ? nc - j0 : NE_FC;                       \
                const double *a = acc + i * lda + j0;                                      \
                T *o = out + i * ldo + j0;                                                 \
                for (int64_t j = 0; j < n; j++)                                            \
                    cnt[j] = (double)ne_count(mx + i * W, my + (j0 + j) * W, W);           \
                if (squared) {                                                             \
                    FASTML_PRAGMA(omp simd)                                                \
                    for (int64_t j = 0; j < n; j++)                                        \
                        o[j] = (T)(cnt[j] > 0 ? (a[j] / cnt[j]) * d : NAN);                \
                } else {                                                                   \
                    FASTML_PRAGMA(omp simd)                                                \
                    for (int64_t j = 0; j < n; j++)                                        \
                        o[j] = (T)(cnt[j] > 0 ? sqrt((a[j] / cnt[j]) * d) : NAN);          \
                }                                                                          \
            }                                                                              \
    }

DEFINE_NAN_FINISH(float, f32)
DEFINE_NAN_FINISH(double, f64)
