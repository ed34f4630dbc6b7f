/* The Euclidean distance with missing values (scikit-learn's nan_euclidean): no Python API.
 *
 * Missing entries are NaN (the Python layer turns any other missing_values marker into
 * NaN first). For rows x and y, with P the coordinates present in both,
 *       S(x, y) = sum_{k in P} (x_k - y_k)^2
 * is summed directly (a difference is NaN exactly when one side is missing): no
 * ||x||^2 + ||y||^2 - 2<x, y> expansion, hence no cancellation. The sums are computed in
 * double (the caller converts float32 input; only the distances are rounded to float32).
 *
 * fastml_nan_panel_width(): NR, the rows of Y per panel at this SIMD level.
 * fastml_nan_sqdist_f64(X, nx, P, npan, d, acc, lda): acc[i * lda + p * NR + j] =
 *     S(X_i, Y_{p * NR + j}) for the nx rows of X (row-major, d features) and the npan
 *     panels of P, each NR rows of Y stored feature-major (P[p][k][j] = Y[p * NR + j, k];
 *     pad rows past the end of Y with NaN). Each pair is summed over k = 0, 1, ... in
 *     order, wherever it sits: the results do not depend on the blocking or the threads.
 * fastml_nan_finish_T(acc, lda, mx, my, W, nr, nc, d, squared, out, ldo): the distances
 *     out = (S / c) * d (then sqrt unless `squared`), NaN where c = 0, as scikit-learn's
 *     nan_euclidean_distances; c, the number of coordinates present in both rows, is the
 *     popcount of the AND of their presence bits (mx, my: W 64-bit words a row, bit k of
 *     word w set when coordinate 64 w + k is present).
 */
#ifndef FASTML_NAN_EUCLIDEAN_H
#define FASTML_NAN_EUCLIDEAN_H
#include <stdint.h>

#include "fastml_kernels.h"

extern int fastml_nan_panel_width(void);
extern void fastml_nan_sqdist_f64(const double *X, int64_t nx, const double *P, int64_t npan,
                                  int64_t d, double *acc, int64_t lda);
extern void fastml_nan_finish_f32(const double *acc, int64_t lda, const uint64_t *mx,
                                  const uint64_t *my, int64_t W, int64_t nr, int64_t nc,
                                  double d, int squared, float *out, int64_t ldo);
extern void fastml_nan_finish_f64(const double *acc, int64_t lda, const uint64_t *mx,
                                  const uint64_t *my, int64_t W, int64_t nr, int64_t nc,
                                  double d, int squared, double *out, int64_t ldo);

#endif
