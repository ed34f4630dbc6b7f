/* The compiled core of fastml.svm's dual solver (csrc/svm.c; no Python API).
 *
 * The dual problems of libsvm (C-SVC, nu-SVC, one-class, epsilon-SVR, nu-SVR) share one form
 *     min_a  1/2 a^T Q a + p^T a   s.t.  0 <= a_t <= C_t,  y^T a = const
 * (nu problems: one such constraint per sign of y), Q_tu = y_t y_u K(x_k(t), x_k(u)), where
 * k(t) maps a variable to its sample (SVR has two variables per sample). The solver
 * (fastml/svm/_solver.pyx) works on batched working sets; these loops are its parts:
 *
 *   fastml_svm_select_*  first-order selection of the most violating variables, and the
 *                        optimality gap m(a) - M(a) of libsvm's stopping rule;
 *   fastml_svm_gather_*  the working set's block of Q from its kernel rows;
 *   fastml_svm_smo_*     SMO with libsvm's second-order working-set selection (Fan, Chen
 *                        & Lin, JMLR 2005) on that block, in double precision;
 *   fastml_svm_gemv_*    g[u] = sum_r c_r K_r[u] over a range of columns (the gradient
 *                        update of all variables after a working-set step);
 *   fastml_svm_rho       the bias (libsvm's rule: mean over free variables, else the
 *                        middle of the feasible interval).
 * _f32 / _f64: kernel values stored in float / double; every sum is in double.
 */
#ifndef FASTML_SVM_H
#define FASTML_SVM_H
#include <stdint.h>

#include "fastml_kernels.h"

/* SMO on a working set of n variables whose Q block is Q[a * ldq + b] (signed: y_a y_b K).
 * alpha and G (the gradient of these variables) are updated in place; status[a] is scratch
 * of n bytes. nu != 0: pairs of the same sign only (libsvm's Solver_NU). Stops when the
 * working set's gap is below eps, or after max_steps steps. Returns the number of steps;
 * *converged = 1 when it stopped on eps, 2 when a step could not move (a stall: on badly
 * scaled data rounding can cancel every update), 0 when max_steps ran out. */
extern int64_t fastml_svm_smo_f32(int64_t n, const float *Q, int64_t ldq, const double *QD,
                                  const int8_t *y, const double *C, double *alpha, double *G,
                                  uint8_t *status, int nu, double eps, int64_t max_steps,
                                  int *converged);
extern int64_t fastml_svm_smo_f64(int64_t n, const double *Q, int64_t ldq, const double *QD,
                                  const int8_t *y, const double *C, double *alpha, double *G,
                                  uint8_t *status, int nu, double eps, int64_t max_steps,
                                  int *converged);

/* Q[a * n + b] = y_a y_b rows[a][col[b]] and QD[a] = rows[a][col[a]] (a, b < n): the
 * working set's block of Q from the kernel rows of its samples. */
extern void fastml_svm_gather_f32(int64_t n, const float *const *rows, const int32_t *col,
                                  const int8_t *y, float *Q, double *QD);
extern void fastml_svm_gather_f64(int64_t n, const double *const *rows, const int32_t *col,
                                  const int8_t *y, double *Q, double *QD);

/* g[u - u0] = sum_{r < nr} c[r] rows[r][u] for u0 <= u < u1, rows taken in order (a fixed
 * order of summation: the result does not depend on how the columns are split). */
extern void fastml_svm_gemv_f32(int64_t nr, const float *const *rows, const double *c,
                                int64_t u0, int64_t u1, double *g);
extern void fastml_svm_gemv_f64(int64_t nr, const double *const *rows, const double *c,
                                int64_t u0, int64_t u1, double *g);

/* Up to k variables with skip[t] == 0, the most violating first: alternately the next
 * largest -y_t G_t among I_up and the next smallest among I_low, as long as it violates
 * the optimality condition against the other side (for nu problems, within each sign, k/2
 * each). Selected variables get skip[t] = 1. scratch: at least 32 l bytes, aligned to 8.
 * Returns the number selected; *gap receives the optimality gap. */
extern int64_t fastml_svm_select(int64_t l, const int8_t *y, const double *G,
                                 const double *alpha, const double *C, int nu, uint8_t *skip,
                                 int64_t k, int32_t *out, double *gap, void *scratch);

/* The optimality gap of libsvm's stopping rule (max over the two signs for nu). */
extern double fastml_svm_gap(int64_t l, const int8_t *y, const double *G, const double *alpha,
                             const double *C, int nu);

/* libsvm's bias rho; for nu problems also r (*r_out), the value that rescales the
 * solution. */
extern double fastml_svm_rho(int64_t l, const int8_t *y, const double *G, const double *alpha,
                             const double *C, int nu, double *r_out);

#endif
