# distutils: sources = csrc/pairwise.c
"""Compiled hot loops of fastml.metrics (inputs are validated by fastml.metrics.pairwise).

Every function here assumes C-contiguous, finite, correctly shaped arrays of one
floating dtype; the Python layer guarantees that before calling.
"""
cimport cython
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport pow
from libc.stdint cimport int32_t, int64_t, uint8_t
from libc.string cimport memset
from scipy.linalg.cython_blas cimport dgemm, dsyrk, sgemm, ssyrk

from fastml.utils._openmp_helpers cimport omp_get_thread_num

import numpy as np

cdef extern from "fastml_pairwise.h":
    int FASTML_POST_NONE
    int FASTML_POST_NEG
    int FASTML_POST_EXP
    void fastml_tile_min_f32(const float *X, int64_t nx, const float *Y, int64_t ny,
                             int64_t d, float *out, float *outT, int64_t ldo, int post,
                             float scale) noexcept nogil
    void fastml_tile_min_f64(const double *X, int64_t nx, const double *Y, int64_t ny,
                             int64_t d, double *out, double *outT, int64_t ldo, int post,
                             double scale) noexcept nogil
    void fastml_tile_l1_f32(const float *X, int64_t nx, const float *Y, int64_t ny,
                            int64_t d, float *out, float *outT, int64_t ldo, int post,
                            float scale) noexcept nogil
    void fastml_tile_l1_f64(const double *X, int64_t nx, const double *Y, int64_t ny,
                            int64_t d, double *out, double *outT, int64_t ldo, int post,
                            double scale) noexcept nogil
    void fastml_tile_chi2_f32(const float *X, int64_t nx, const float *Y, int64_t ny,
                              int64_t d, float *out, float *outT, int64_t ldo, int post,
                              float scale) noexcept nogil
    void fastml_tile_chi2_f64(const double *X, int64_t nx, const double *Y, int64_t ny,
                              int64_t d, double *out, double *outT, int64_t ldo, int post,
                              double scale) noexcept nogil
    void fastml_exp_scaled_f32(float *v, int64_t n, float scale) noexcept nogil
    void fastml_exp_scaled_f64(double *v, int64_t n, double scale) noexcept nogil
    void fastml_rbf_row_f32(float *v, const float *b, int64_t n, float a,
                            float gamma) noexcept nogil
    void fastml_rbf_row_f64(double *v, const double *b, int64_t n, double a,
                            double gamma) noexcept nogil
    void fastml_affine_tanh_f32(float *v, int64_t n, float gamma, float coef0) noexcept nogil
    void fastml_affine_tanh_f64(double *v, int64_t n, double gamma,
                                double coef0) noexcept nogil
    void fastml_affine_powi_f32(float *v, int64_t n, float gamma, float coef0,
                                int p) noexcept nogil
    void fastml_affine_powi_f64(double *v, int64_t n, double gamma, double coef0,
                                int p) noexcept nogil
    float fastml_expf(float x) noexcept nogil
    double fastml_exp(double x) noexcept nogil
    int FASTML_OP_SQL2
    int FASTML_OP_LINF
    int FASTML_OP_NEQ
    int FASTML_OP_L3
    int FASTML_OP_L4
    void fastml_reduce_tile_f32(int op, const float *X, int64_t nx, const float *Y,
                                int64_t ny, int64_t d, float *out, float *outT, int64_t ldo,
                                int post, float scale) noexcept nogil
    void fastml_reduce_tile_f64(int op, const double *X, int64_t nx, const double *Y,
                                int64_t ny, int64_t d, double *out, double *outT,
                                int64_t ldo, int post, double scale) noexcept nogil

# Reductions understood by reduce_dense (names used by the Python layer).
OP_MIN = 0
OP_L1 = 1
OP_CHI2 = 2
# Distance reductions (fastml.metrics.distance): sum (x-y)^2, max |x-y|, sum [x != y],
# sum |x-y|^3, sum (x-y)^4; numbering from FASTML_OP_* in csrc/fastml_pairwise.h.
OP_SQL2 = FASTML_OP_SQL2
OP_LINF = FASTML_OP_LINF
OP_NEQ = FASTML_OP_NEQ
OP_L3 = FASTML_OP_L3
OP_L4 = FASTML_OP_L4
POST_NONE = FASTML_POST_NONE
POST_NEG = FASTML_POST_NEG
POST_EXP = FASTML_POST_EXP

# Bytes of Y rows kept hot per tile (fits a typical L2 together with the X rows).
cdef int64_t TILE_BYTES = 256 * 1024


def exp_reference(double x):
    """The scalar exp used by the vector loops (exposed for tests)."""
    return fastml_exp(x), fastml_expf(<float>x)


cdef inline void _tile(int op, const floating *X, int64_t nx, const floating *Y, int64_t ny,
                       int64_t d, floating *out, floating *outT, int64_t ldo, int post,
                       floating scale) noexcept nogil:
    if floating is float:
        if op == 0:
            fastml_tile_min_f32(X, nx, Y, ny, d, out, outT, ldo, post, scale)
        elif op == 1:
            fastml_tile_l1_f32(X, nx, Y, ny, d, out, outT, ldo, post, scale)
        elif op == 2:
            fastml_tile_chi2_f32(X, nx, Y, ny, d, out, outT, ldo, post, scale)
        else:
            fastml_reduce_tile_f32(op, X, nx, Y, ny, d, out, outT, ldo, post, scale)
    else:
        if op == 0:
            fastml_tile_min_f64(X, nx, Y, ny, d, out, outT, ldo, post, scale)
        elif op == 1:
            fastml_tile_l1_f64(X, nx, Y, ny, d, out, outT, ldo, post, scale)
        elif op == 2:
            fastml_tile_chi2_f64(X, nx, Y, ny, d, out, outT, ldo, post, scale)
        else:
            fastml_reduce_tile_f64(op, X, nx, Y, ny, d, out, outT, ldo, post, scale)


def _block_rows(int64_t d, int64_t itemsize):
    cdef int64_t b = TILE_BYTES // max(1, d * itemsize)
    b = (b // 4) * 4
    return int(min(256, max(16, b)))


def reduce_dense(const floating[:, ::1] X, const floating[:, ::1] Y, floating[:, ::1] out,
                 int op, int post, double scale, bint symmetric, int n_threads):
    """out[i, j] = post(sum_k op(X[i, k], Y[j, k])); Y is ignored when symmetric.

    Work is split into row-block x row-block tiles (each computed by the C tile loops);
    in the symmetric case only tiles on or above the diagonal are computed and each
    entry is mirrored as it is written, so every pair is computed once.
    """
    cdef int64_t n = X.shape[0], d = X.shape[1]
    cdef int64_t m = X.shape[0] if symmetric else Y.shape[0]
    cdef const floating *Yp = &X[0, 0] if symmetric else &Y[0, 0]
    cdef int64_t B = _block_rows(d, sizeof(floating))
    cdef int64_t nbi = (n + B - 1) // B, nbj = (m + B - 1) // B
    # Tile list, Y-block major so that consecutive tiles share the Y rows in cache.
    if symmetric:
        bj_, bi_ = np.triu_indices(nbi)[::-1]
        order = np.lexsort((bi_, bj_))
        tiles = np.ascontiguousarray(np.stack([bi_[order], bj_[order]], 1), dtype=np.int64)
    else:
        bj_, bi_ = np.divmod(np.arange(nbi * nbj, dtype=np.int64), nbi)
        tiles = np.ascontiguousarray(np.stack([bi_, bj_], 1), dtype=np.int64)
    cdef const int64_t[:, ::1] T = tiles
    cdef int64_t t, bi, bj, i0, j0, ni, nj, a, b
    cdef floating fscale = <floating>scale
    cdef floating *o = &out[0, 0]
    with nogil:
        for t in prange(T.shape[0], schedule="dynamic", num_threads=n_threads):
            bi = T[t, 0]
            bj = T[t, 1]
            i0 = bi * B
            j0 = bj * B
            ni = min(B, n - i0)
            nj = min(B, m - j0)
            if symmetric and bi == bj:
                # Diagonal tile: compute it whole, then copy its upper half down so
                # that K is exactly symmetric.
                _tile(op, &X[i0, 0], ni, Yp + j0 * d, nj, d, o + i0 * m + j0, NULL, m,
                      post, fscale)
                for a in range(ni):
                    for b in range(a):
                        o[(i0 + a) * m + j0 + b] = o[(j0 + b) * m + i0 + a]
            elif symmetric:
                _tile(op, &X[i0, 0], ni, Yp + j0 * d, nj, d, o + i0 * m + j0,
                      o + j0 * m + i0, m, post, fscale)
            else:
                _tile(op, &X[i0, 0], ni, Yp + j0 * d, nj, d, o + i0 * m + j0, NULL, m,
                      post, fscale)


# ----------------------------------------------------------------------------------------
# BLAS: C-order row-major views mapped onto column-major BLAS (see the comments).
# ----------------------------------------------------------------------------------------
def gemm_xyt(const floating[:, ::1] X, const floating[:, ::1] Y, floating[:, ::1] out,
             double alpha):
    """out = alpha * X @ Y.T (row-major). BLAS threads are set by the caller."""
    # Column-major view: out^T (m x n) = Y (m x d) @ X^T (d x n), where the row-major Y
    # is the column-major d x m matrix Y^T, hence transa = 'T'.
    cdef int m = Y.shape[0], n = X.shape[0], k = X.shape[1]
    cdef int lda = k, ldb = k, ldc = out.shape[1]
    cdef char ta = b'T', tb = b'N'
    cdef double a64 = alpha, b64 = 0.0
    cdef float a32 = <float>alpha, b32 = 0.0
    if n == 0 or m == 0:
        return
    with nogil:
        if floating is float:
            sgemm(&ta, &tb, &m, &n, &k, &a32, <float *>&Y[0, 0], &lda, <float *>&X[0, 0],
                  &ldb, &b32, &out[0, 0], &ldc)
        else:
            dgemm(&ta, &tb, &m, &n, &k, &a64, <double *>&Y[0, 0], &lda,
                  <double *>&X[0, 0], &ldb, &b64, &out[0, 0], &ldc)


def syrk_upper(const floating[:, ::1] X, floating[:, ::1] out, double alpha):
    """The upper triangle (i <= j) of out = alpha * X @ X.T; the rest is left as is."""
    # Row-major upper == column-major lower, and row-major X (n x d) is column-major
    # X^T (d x n): C = A^T A with A = X^T, i.e. trans = 'T', uplo = 'L'.
    cdef int n = X.shape[0], k = X.shape[1], lda = k, ldc = out.shape[1]
    cdef char uplo = b'L', trans = b'T'
    cdef double a64 = alpha, b64 = 0.0
    cdef float a32 = <float>alpha, b32 = 0.0
    with nogil:
        if floating is float:
            ssyrk(&uplo, &trans, &n, &k, &a32, <float *>&X[0, 0], &lda, &b32, &out[0, 0], &ldc)
        else:
            dsyrk(&uplo, &trans, &n, &k, &a64, <double *>&X[0, 0], &lda, &b64, &out[0, 0],
                  &ldc)


def mirror_upper(floating[:, ::1] out, int n_threads):
    """Copy the upper triangle of a square matrix onto its lower triangle (blocked)."""
    cdef int64_t n = out.shape[0], B = 64, nb = (n + 63) // 64
    cdef int64_t bi, bj, i, j, iend, jend
    with nogil:
        for bi in prange(nb, schedule="dynamic", num_threads=n_threads):
            iend = min(n, (bi + 1) * B)
            for bj in range(bi + 1):
                jend = min(n, (bj + 1) * B)
                for i in range(bi * B, iend):
                    for j in range(bj * B, min(jend, i)):
                        out[i, j] = out[j, i]


# Post-processing of a GEMM/SYRK result, one row at a time while it is in cache. In the
# symmetric case only the upper triangle (j >= i) holds values and is transformed.
def rbf_post(floating[:, ::1] K, const floating[::1] xx, const floating[::1] yy,
             double gamma, bint symmetric, int n_threads):
    """K[i, j] = exp(-gamma * max(xx[i] + yy[j] - 2 K[i, j], 0)); diagonal = 1 if symmetric."""
    cdef int64_t n = K.shape[0], m = K.shape[1], i, j0
    with nogil:
        for i in prange(n, schedule="dynamic", chunksize=16, num_threads=n_threads):
            j0 = i if symmetric else 0
            if floating is float:
                fastml_rbf_row_f32(&K[i, j0], &yy[j0], m - j0, xx[i], <float>gamma)
            else:
                fastml_rbf_row_f64(&K[i, j0], &yy[j0], m - j0, xx[i], gamma)
            if symmetric:
                K[i, i] = 1


def affine_power_post(floating[:, ::1] K, double gamma, double coef0, double degree,
                      int kind, bint symmetric, int n_threads):
    """kind 0: (gamma K + coef0) ** degree (polynomial); kind 1: tanh(gamma K + coef0)."""
    cdef int64_t n = K.shape[0], m = K.shape[1], i, j, j0
    cdef int p = <int>degree if 0 <= degree <= 64 else -1
    cdef bint int_degree = kind == 0 and degree == <double>p and p >= 0
    with nogil:
        for i in prange(n, schedule="dynamic", chunksize=16, num_threads=n_threads):
            j0 = i if symmetric else 0
            if kind == 1:
                if floating is float:
                    fastml_affine_tanh_f32(&K[i, j0], m - j0, <float>gamma, <float>coef0)
                else:
                    fastml_affine_tanh_f64(&K[i, j0], m - j0, gamma, coef0)
                continue
            if int_degree:
                if floating is float:
                    fastml_affine_powi_f32(&K[i, j0], m - j0, <float>gamma, <float>coef0, p)
                else:
                    fastml_affine_powi_f64(&K[i, j0], m - j0, gamma, coef0, p)
                continue
            for j in range(j0, m):
                K[i, j] = <floating>pow(<floating>(gamma * K[i, j] + coef0), degree)


def exp_scaled(floating[:, ::1] K, double scale, bint symmetric, int n_threads):
    """K = exp(scale * K) (upper triangle only when symmetric)."""
    cdef int64_t n = K.shape[0], m = K.shape[1], i, j0
    with nogil:
        for i in prange(n, schedule="dynamic", chunksize=16, num_threads=n_threads):
            j0 = i if symmetric else 0
            if floating is float:
                fastml_exp_scaled_f32(&K[i, j0], m - j0, <float>scale)
            else:
                fastml_exp_scaled_f64(&K[i, j0], m - j0, scale)


# ----------------------------------------------------------------------------------------
# CSR kernels that only need the features both rows have: a per-thread dense scatter of
# the X row, then one pass over each Y row's non-zeros.
# ----------------------------------------------------------------------------------------
def sparse_common(const floating[::1] xdata, const int32_t[::1] xind, const int64_t[::1] xptr,
                  const floating[::1] ydata, const int32_t[::1] yind, const int64_t[::1] yptr,
                  const floating[::1] xsum, const floating[::1] ysum, int64_t n_features,
                  floating[:, ::1] out, int op, int post, double scale, bint symmetric,
                  int n_threads):
    """op 0: sum min(x, y) (intersection); op 2: sum (x-y)^2/(x+y) over the union of the
    non-zeros, computed as xsum + ysum - sum_common 4 x (y / (x + y)). Upper triangle only when
    symmetric."""
    cdef int64_t n = out.shape[0], m = out.shape[1]
    cdef int64_t i, j, p, j0
    cdef floating acc, xv, yv, s, v
    # One zeroed scatter row per thread, allocated here (not inside the parallel loop).
    dtype = np.float32 if floating is float else np.float64
    cdef floating[:, ::1] scratch = np.zeros((n_threads, max(1, n_features)), dtype=dtype)
    cdef floating *buf
    with nogil:
        for i in prange(n, schedule="dynamic", chunksize=4, num_threads=n_threads):
            buf = &scratch[omp_get_thread_num(), 0]
            for p in range(xptr[i], xptr[i + 1]):
                buf[xind[p]] = xdata[p]
            j0 = i if symmetric else 0
            for j in range(j0, m):
                acc = 0
                if op == 0:
                    for p in range(yptr[j], yptr[j + 1]):
                        xv = buf[yind[p]]
                        yv = ydata[p]
                        acc = acc + (xv if xv < yv else yv)
                    v = acc
                else:
                    for p in range(yptr[j], yptr[j + 1]):
                        xv = buf[yind[p]]
                        yv = ydata[p]
                        s = xv + yv
                        if s > 0:  # 4 x (y / s): no overflow or underflow of x y
                            acc = acc + 4 * xv * (yv / s)
                    v = xsum[i] + ysum[j] - acc
                    v = v if v > 0 else 0
                if post == 1:
                    v = -v
                elif post == 2:
                    if floating is float:
                        v = fastml_expf(<float>scale * v)
                    else:
                        v = fastml_exp(scale * v)
                out[i, j] = v
            for p in range(xptr[i], xptr[i + 1]):
                buf[xind[p]] = 0


# ----------------------------------------------------------------------------------------
# PQ kernel (Ionescu & Popescu, 2015): 2 (P - Q) with P / Q the concordant / discordant
# pairs of bins. Per pair of rows: walk x's bins in increasing order (precomputed argsort),
# a group of tied x values at a time, and count with a Fenwick tree over z's dense ranks
# how many earlier bins have a smaller / equal / larger z. O(d log d) per pair.
# ----------------------------------------------------------------------------------------
def pq_dense(const int32_t[:, ::1] xorder, const uint8_t[:, ::1] xstart,
             const int32_t[:, ::1] zrank, const int32_t[::1] zncat, floating[:, ::1] out,
             bint symmetric, int n_threads):
    cdef int64_t n = out.shape[0], m = out.shape[1], d = xorder.shape[1]
    cdef int64_t i, j, k, g, e, r, q, j0, s, inserted, less, tid
    # Per-thread Fenwick tree and tie counters, allocated here.
    cdef int32_t[:, ::1] bits = np.zeros((n_threads, d + 2), dtype=np.int32)
    cdef int32_t[:, ::1] cnts = np.zeros((n_threads, d + 2), dtype=np.int32)
    cdef int32_t *bit
    cdef int32_t *cnt
    with nogil:
        for i in prange(n, schedule="dynamic", chunksize=1, num_threads=n_threads):
            tid = omp_get_thread_num()
            bit = &bits[tid, 0]
            cnt = &cnts[tid, 0]
            j0 = i if symmetric else 0
            for j in range(j0, m):
                s = 0
                inserted = 0
                k = 0
                while k < d:
                    g = k + 1
                    while g < d and xstart[i, g] == 0:
                        g = g + 1
                    if inserted > 0:
                        for e in range(k, g):
                            r = zrank[j, xorder[i, e]]
                            less = 0
                            q = r  # ranks 0..r-1 live at tree positions 1..r
                            while q > 0:
                                less = less + bit[q]
                                q = q & (q - 1)
                            s = s + 2 * less + cnt[r] - inserted
                    for e in range(k, g):
                        r = zrank[j, xorder[i, e]]
                        cnt[r] = cnt[r] + 1
                        q = r + 1
                        while q <= d:
                            bit[q] = bit[q] + 1
                            q = q + (q & (-q))
                    inserted = inserted + (g - k)
                    k = g
                out[i, j] = <floating>(2 * s)
                memset(bit, 0, (d + 2) * sizeof(int32_t))
                memset(cnt, 0, (zncat[j] + 1) * sizeof(int32_t))
