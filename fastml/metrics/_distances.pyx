# distutils: sources = csrc/distances.c csrc/pairwise.c csrc/levenshtein.c
"""Compiled loops of fastml.metrics.distance and fastml.neighbors.

Inputs are validated by the Python layer (C-contiguous, finite, one floating dtype,
offsets consistent with the concatenated sequences). Two families:

* full matrices (``*_matrix``): parallel over rows (or row blocks);
* k nearest neighbours (``knn_*``): parallel over chunks of query rows; each query row's
  top-k lives in its row of the output arrays as a max-heap, so no thread shares a heap
  and nothing of size n_query x n_train is ever allocated. Train rows are scanned in
  increasing order and a candidate only enters a full heap if it is strictly closer
  than the current worst, so among equal distances the smaller train index wins and the
  result does not depend on the thread count.
"""
cimport cython
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt, pow, nextafter, nextafterf, INFINITY
from libc.stdlib cimport calloc, free, realloc
from libc.string cimport memcpy
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from scipy.linalg.cython_blas cimport dgemm, sgemm

from fastml.utils._interrupt cimport check_signals, raise_pending, stopped
from fastml.utils._openmp_helpers cimport omp_get_thread_num

import numpy as np

from fastml.utils._csrc cimport (
    FASTML_LEV_GROUP, FASTML_LEV_GROUP_WORDS, FASTML_OP_SQL2, FASTML_POST_NONE,
    fastml_dtw_f32, fastml_dtw_f64, fastml_first_below_f32, fastml_first_below_f64,
    fastml_hamming_packed_t8, fastml_lb_screen_f32, fastml_lb_bounds_f32, fastml_below_f32,
    fastml_lev_build, fastml_lev_distance,
    fastml_lev_group, fastml_lev_group_build, fastml_lev_group_distances,
    fastml_lev_group_scratch_words, fastml_lev_pattern, fastml_lev_scratch_words,
    fastml_lev_wide, fastml_lev_wide_build, fastml_lev_wide_distances,
    fastml_lev_wide_lanes, fastml_lev_wide_scratch_bytes, fastml_reduce_tile_f32,
    fastml_reduce_tile_f64, fastml_sqdist_f32, fastml_sqdist_f64, fastml_sqdist_list_f32,
    fastml_sqdist_list_f64, fastml_tile_lp_f32, fastml_tile_lp_f64,
)


# bytes of one pattern header, rounded up to 64 (one cache line per thread)
cdef int64_t PSIZE = ((<int64_t>sizeof(fastml_lev_pattern) + 63) // 64) * 64
cdef int64_t GSIZE = ((<int64_t>sizeof(fastml_lev_group) + 63) // 64) * 64
cdef int64_t WSIZE = ((<int64_t>sizeof(fastml_lev_wide) + 63) // 64) * 64
# patterns per SIMD group (the C kernels score them in as many passes as the level needs)
cdef int64_t LEV_GROUP = FASTML_LEV_GROUP

# Kinds of dense kNN blocks.
KIND_SQEUCLIDEAN_GEMM = 0   # ||y||^2 - 2 <x, y> from a GEMM, exact recompute of the k kept
KIND_COSINE_GEMM = 1        # -<x, y> on unit rows, 1 - <x, y> for the k kept
KIND_TILE = 2               # a reduction tile (op) from csrc/pairwise.c
KIND_LP = 3                 # sum |x - y|^p, general p

ctypedef fused dist_t:
    float
    double
    int32_t


# ----------------------------------------------------------------------------------------
# top-k max-heap on (dist, index); the root holds the current worst
# ----------------------------------------------------------------------------------------
cdef inline void heap_replace_top(dist_t *hd, int64_t *hi, int64_t k, dist_t v,
                                  int64_t idx) noexcept nogil:
    cdef int64_t i = 0, l, r, c
    while True:
        l = 2 * i + 1
        if l >= k:
            break
        r = l + 1
        c = l
        if r < k and (hd[r] > hd[l] or (hd[r] == hd[l] and hi[r] > hi[l])):
            c = r
        if hd[c] > v or (hd[c] == v and hi[c] > idx):
            hd[i] = hd[c]
            hi[i] = hi[c]
            i = c
        else:
            break
    hd[i] = v
    hi[i] = idx


cdef inline bint _pair_gt(dist_t da, int64_t ia, dist_t db, int64_t ib) noexcept nogil:
    """(da, ia) > (db, ib) in the order (distance, index), an index of -1 (an empty
    slot) ranking after every real one."""
    if da != db:
        return da > db
    return (<uint64_t>ia) > (<uint64_t>ib)


cdef inline void _sift_down(dist_t *hd, int64_t *hi, int64_t n, int64_t i) noexcept nogil:
    cdef int64_t c
    cdef dist_t v = hd[i]
    cdef int64_t vi = hi[i]
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and _pair_gt(hd[c + 1], hi[c + 1], hd[c], hi[c]):
            c = c + 1
        if not _pair_gt(hd[c], hi[c], v, vi):
            break
        hd[i] = hd[c]
        hi[i] = hi[c]
        i = c
    hd[i] = v
    hi[i] = vi


cdef inline void sort_pairs(dist_t *hd, int64_t *hi, int64_t k) noexcept nogil:
    """Sort by (dist, index), in place, in O(k log k) (heapsort: k may be as large as
    the training set)."""
    cdef int64_t a
    cdef dist_t v
    cdef int64_t vi
    a = k // 2
    while a > 0:
        a = a - 1
        _sift_down(hd, hi, k, a)
    a = k - 1
    while a > 0:
        v = hd[0]
        vi = hi[0]
        hd[0] = hd[a]
        hi[0] = hi[a]
        hd[a] = v
        hi[a] = vi
        _sift_down(hd, hi, a, 0)
        a = a - 1


cdef inline void push_row(const dist_t *row, int64_t nj, int64_t j0, dist_t *hd,
                          int64_t *hi, int64_t k) noexcept nogil:
    cdef int64_t b
    cdef dist_t v
    for b in range(nj):
        v = row[b]
        if v < hd[0]:
            heap_replace_top(hd, hi, k, v, j0 + b)


cdef inline void push_row_plus(const floating *row, const floating *add, int64_t nj,
                               int64_t j0, floating *hd, int64_t *hi, int64_t k) noexcept nogil:
    """Push row[b] + add[b] (add may be NULL) for b < nj; candidates are found by a
    vectorised screen (most values are worse than the current k-th)."""
    cdef int64_t b = 0
    while True:
        if floating is float:
            b = b + fastml_first_below_f32(row + b, add + b if add != NULL else NULL, nj - b,
                                           hd[0])
        else:
            b = b + fastml_first_below_f64(row + b, add + b if add != NULL else NULL, nj - b,
                                           hd[0])
        if b >= nj:
            break
        heap_replace_top(hd, hi, k, row[b] + (add[b] if add != NULL else 0), j0 + b)
        b = b + 1


cdef inline void gemm_block(const floating *X, int ni, const floating *Y, int nj, int d,
                            floating *out, double alpha) noexcept nogil:
    """out (ni x nj, row-major) = alpha X Y^T, on the calling thread's BLAS."""
    cdef char ta = b'T', tb = b'N'
    cdef double a64 = alpha, b64 = 0.0
    cdef float a32 = <float>alpha, b32 = 0.0
    if floating is float:
        sgemm(&ta, &tb, &nj, &ni, &d, &a32, <float *>Y, &d, <float *>X, &d, &b32, out, &nj)
    else:
        dgemm(&ta, &tb, &nj, &ni, &d, &a64, <double *>Y, &d, <double *>X, &d, &b64, out,
              &nj)


cdef inline floating exact_sql2(const floating *x, const floating *y, int64_t d) noexcept nogil:
    cdef floating out = 0
    if floating is float:
        fastml_reduce_tile_f32(FASTML_OP_SQL2, x, 1, y, 1, d, &out, NULL, 1,
                               FASTML_POST_NONE, 0)
    else:
        fastml_reduce_tile_f64(FASTML_OP_SQL2, x, 1, y, 1, d, &out, NULL, 1,
                               FASTML_POST_NONE, 0)
    return out


cdef inline void _block_push(int kind, int op, floating fp, const floating *Xc, int64_t ni,
                             const floating *Yc, int64_t nj, int64_t d, const floating *yyc,
                             int64_t j0, floating *buf, floating *hd, int64_t *hi,
                             int64_t k) noexcept nogil:
    """Distances of ni query rows (Xc) to nj train rows (Yc, starting at index j0) into
    buf, pushed into the ni heaps hd / hi (k entries per row)."""
    cdef int64_t a
    if kind == 0:
        gemm_block(Xc, <int>ni, Yc, <int>nj, <int>d, buf, -2.0)
        for a in range(ni):  # ||y||^2 - 2 <x, y>, fused with the heap pass
            push_row_plus(buf + a * nj, yyc, nj, j0, hd + a * k, hi + a * k, k)
        return
    if kind == 1:
        gemm_block(Xc, <int>ni, Yc, <int>nj, <int>d, buf, -1.0)
    elif kind == 2:
        if floating is float:
            fastml_reduce_tile_f32(op, Xc, ni, Yc, nj, d, buf, NULL, nj, FASTML_POST_NONE, 0)
        else:
            fastml_reduce_tile_f64(op, Xc, ni, Yc, nj, d, buf, NULL, nj, FASTML_POST_NONE, 0)
    else:
        if floating is float:
            fastml_tile_lp_f32(Xc, ni, Yc, nj, d, buf, nj, fp)
        else:
            fastml_tile_lp_f64(Xc, ni, Yc, nj, d, buf, nj, fp)
    for a in range(ni):
        push_row_plus(buf + a * nj, <const floating *>NULL, nj, j0, hd + a * k, hi + a * k, k)


cdef inline void _finish_row(int kind, const floating *x, const floating *Yp, int64_t d,
                             floating *hd, int64_t *hi, int64_t k) noexcept nogil:
    """Exact values for the k kept (squared Euclidean recomputed, 1 - cos), sorted."""
    cdef int64_t b
    if kind == 0:
        for b in range(k):
            if hi[b] >= 0:
                hd[b] = exact_sql2(x, Yp + hi[b] * d, d)
    elif kind == 1:
        for b in range(k):
            hd[b] = 1 + hd[b]
            if hd[b] < 0:
                hd[b] = 0
    sort_pairs(hd, hi, k)


def knn_dense(const floating[:, ::1] X, const floating[:, ::1] Y, const floating[::1] yy,
              floating[:, ::1] dist, int64_t[:, ::1] ind, int kind, int op, double p,
              int64_t bx, int64_t by, int n_threads):
    """The k = dist.shape[1] nearest rows of Y for every row of X.

    Blocks are (bx query rows) x (by train rows), each computed into the calling
    thread's scratch and pushed into heaps. With enough query chunks the threads share
    the query chunks (each walks Y in order, its heaps are the output rows); with fewer
    query chunks than threads they share the train chunks instead, each thread keeping
    its own heaps for all queries, merged at the end by (distance, index). The blocks
    are the same either way, so the result does not depend on the thread count.
    Returns in ``dist`` the value the kind ranks by, sorted: squared distances
    (KIND_SQEUCLIDEAN_GEMM, recomputed exactly), 1 - cos (KIND_COSINE_GEMM), the tile's
    reduction (KIND_TILE) or sum |x - y|^p (KIND_LP); the caller applies roots.
    """
    cdef int64_t n = X.shape[0], m = Y.shape[0], d = X.shape[1], k = dist.shape[1]
    cdef int64_t nchunks = (n + bx - 1) // bx, nychunks = (m + by - 1) // by
    cdef int64_t c, yc, i0, ni, j0, nj, a, b, t, tid
    cdef floating *buf
    cdef floating *hd
    cdef int64_t *hi
    cdef floating fp = <floating>p, v
    cdef int64_t vi
    dtype = np.float32 if floating is float else np.float64
    # one scratch block per thread, allocated before the parallel region
    cdef floating[:, ::1] scratch = np.empty((n_threads, bx * by), dtype=dtype)
    cdef floating[:, :, ::1] thd
    cdef int64_t[:, :, ::1] thi
    cdef int stop_flag = 0
    cdef int *stop = &stop_flag
    dist[:, :] = INFINITY
    ind[:, :] = -1
    if n == 0 or m == 0:
        return
    if nchunks >= n_threads or nychunks < 2:
        with nogil:
            for c in prange(nchunks, schedule="dynamic", num_threads=n_threads):
                tid = omp_get_thread_num()
                buf = &scratch[tid, 0]
                i0 = c * bx
                ni = min(bx, n - i0)
                j0 = 0
                while j0 < m:
                    if stopped(stop) or (tid == 0 and check_signals(stop)):
                        break
                    nj = min(by, m - j0)
                    _block_push(kind, op, fp, &X[i0, 0], ni, &Y[j0, 0], nj, d,
                                &yy[j0] if kind == 0 else &yy[0], j0, buf, &dist[i0, 0],
                                &ind[i0, 0], k)
                    j0 = j0 + nj
                if j0 < m:  # interrupted
                    continue
                for a in range(i0, i0 + ni):
                    _finish_row(kind, &X[a, 0], &Y[0, 0], d, &dist[a, 0], &ind[a, 0], k)
        if stopped(stop):
            raise_pending()
        return
    # few queries: per-thread heaps for all of them, allocated here
    thd = np.full((n_threads, n, k), np.inf, dtype=dtype)
    thi = np.full((n_threads, n, k), -1, dtype=np.int64)
    with nogil:
        for yc in prange(nychunks, schedule="dynamic", num_threads=n_threads):
            tid = omp_get_thread_num()
            if stopped(stop) or (tid == 0 and check_signals(stop)):
                continue
            buf = &scratch[tid, 0]
            j0 = yc * by
            nj = min(by, m - j0)
            for c in range(nchunks):
                i0 = c * bx
                ni = min(bx, n - i0)
                _block_push(kind, op, fp, &X[i0, 0], ni, &Y[j0, 0], nj, d,
                            &yy[j0] if kind == 0 else &yy[0], j0, buf, &thd[tid, i0, 0],
                            &thi[tid, i0, 0], k)
        # merge by (distance, index): each thread's heap holds the best of its part
        for a in prange(n, schedule="static", num_threads=n_threads):
            hd = &dist[a, 0]
            hi = &ind[a, 0]
            for t in range(n_threads):
                for b in range(k):
                    v = thd[t, a, b]
                    vi = thi[t, a, b]
                    if vi >= 0 and (v < hd[0] or (v == hd[0] and (hi[0] < 0 or vi < hi[0]))):
                        heap_replace_top(hd, hi, k, v, vi)
            _finish_row(kind, &X[a, 0], &Y[0, 0], d, hd, hi, k)
    if stopped(stop):
        raise_pending()


# ----------------------------------------------------------------------------------------
# Euclidean search by a lower bound (fastml.metrics._knn.BoundFilter): a GEMM over
# "filter" rows a_i (the data, or a projection of it with one extra coordinate) gives a
# rigorous lower bound of every squared distance; only the pairs whose bound can beat the
# current threshold are evaluated exactly (fastml_sqdist_*, summed in double), and only
# exact values are ranked or compared with a radius. The result is therefore the exact
# answer whatever the blocking, the order of work or the number of threads.
# ----------------------------------------------------------------------------------------
ctypedef fused filt_t:
    float
    double


cdef inline double _sqdist(const floating *x, const floating *y, int64_t d) noexcept nogil:
    if floating is float:
        return fastml_sqdist_f32(x, y, d)
    else:
        return fastml_sqdist_f64(x, y, d)


cdef inline filt_t _strict_above(double t, filt_t *dummy) noexcept nogil:
    """The smallest filt_t value f with f > t' for every filt_t t' <= t: a value v of the
    filter type satisfies v <= t exactly when v < the result (first_below is strict)."""
    cdef filt_t f
    if t != t or t == INFINITY:
        return <filt_t>INFINITY
    f = <filt_t>t
    if <double>f > t:
        return f
    if filt_t is float:
        return nextafterf(f, <float>INFINITY)
    else:
        return nextafter(f, INFINITY)


cdef inline int64_t _first_le(const filt_t *row, const filt_t *add, int64_t n,
                              filt_t above) noexcept nogil:
    if filt_t is float:
        return fastml_first_below_f32(row, add, n, above)
    else:
        return fastml_first_below_f64(row, add, n, above)


cdef inline void _gemm_filt(const filt_t *X, int ni, const filt_t *Y, int nj, int q,
                            filt_t *out) noexcept nogil:
    """out (ni x nj, row-major) = -2 X Y^T."""
    cdef char ta = b'T', tb = b'N'
    cdef double a64 = -2.0, b64 = 0.0
    cdef float a32 = -2.0, b32 = 0.0
    if filt_t is float:
        sgemm(&ta, &tb, &nj, &ni, &q, &a32, <float *>Y, &q, <float *>X, &q, &b32, out, &nj)
    else:
        dgemm(&ta, &tb, &nj, &ni, &q, &a64, <double *>Y, &q, <double *>X, &q, &b64, out, &nj)


cdef inline double _bound_thr(double tau, double qadd, double scale2,
                              double tol1) noexcept nogil:
    """The filter value a candidate must not exceed: its bound can still be <= tau."""
    if tau == INFINITY:
        return INFINITY
    return tau * tol1 * scale2 - qadd


cdef inline bint _pair_lt(floating v, int64_t j, floating hv, int64_t hj) noexcept nogil:
    return v < hv or (v == hv and (hj < 0 or j < hj))


cdef int64_t _bound_knn_block(
        const filt_t *Qa, const filt_t *Fa, int64_t q, const double *qadd,
        const filt_t *fadd, const floating *Qx, const floating *Fx, int64_t d,
        int64_t i0, int64_t ni, int64_t j0, int64_t nj, filt_t *buf, filt_t *cd,
        int64_t *ci, int64_t ck, floating *hd, int64_t *hi, int64_t k,
        double scale2, double tol1) noexcept nogil:
    """Rows i0 .. i0 + ni of the queries against train rows j0 .. j0 + nj: the heaps
    hd / hi (k per row, row a at a * k) take every pair whose exact value beats them.
    Returns the number of exact evaluations."""
    cdef int64_t a, b, c, j, n_exact = 0
    cdef filt_t *row
    cdef const filt_t *fa = fadd + j0
    cdef const floating *x
    cdef floating *h_d
    cdef int64_t *h_i
    cdef floating vv
    cdef double qa
    cdef filt_t above, lbv
    _gemm_filt(Qa + i0 * q, <int>ni, Fa + j0 * q, <int>nj, <int>q, buf)
    for a in range(ni):
        row = buf + a * nj
        x = Qx + (i0 + a) * d
        h_d = hd + a * k
        h_i = hi + a * k
        qa = qadd[i0 + a]
        # phase 1: the ck smallest filter values first (they set a tight threshold)
        for c in range(ck):
            cd[c] = <filt_t>INFINITY
            ci[c] = -1
        b = 0
        while True:
            b = b + _first_le(row + b, fa + b, nj - b, cd[0])
            if b >= nj:
                break
            heap_replace_top(cd, ci, ck, <filt_t>(row[b] + fa[b]), b)
            b = b + 1
        for c in range(ck):
            b = ci[c]
            if b < 0:
                continue
            lbv = cd[c]
            above = _strict_above(_bound_thr(h_d[0], qa, scale2, tol1), &lbv)
            if lbv < above:
                j = j0 + b
                vv = <floating>_sqdist(x, Fx + j * d, d)
                n_exact = n_exact + 1
                if _pair_lt(vv, j, h_d[0], h_i[0]):
                    heap_replace_top(h_d, h_i, k, vv, j)
            row[b] = <filt_t>INFINITY  # done: evaluated, or beyond every later threshold
        # phase 2: every other pair whose bound is within the (shrinking) threshold
        b = 0
        while True:
            above = _strict_above(_bound_thr(h_d[0], qa, scale2, tol1), row)
            b = b + _first_le(row + b, fa + b, nj - b, above)
            if b >= nj:
                break
            j = j0 + b
            vv = <floating>_sqdist(x, Fx + j * d, d)
            n_exact = n_exact + 1
            if _pair_lt(vv, j, h_d[0], h_i[0]):
                heap_replace_top(h_d, h_i, k, vv, j)
            b = b + 1
    return n_exact


def knn_bound(const filt_t[:, ::1] Qa, const filt_t[:, ::1] Fa, const double[::1] qadd,
              const filt_t[::1] fadd, const floating[:, ::1] Qx,
              const floating[:, ::1] Fx, floating[:, ::1] dist, int64_t[:, ::1] ind,
              double scale2, double tol1, int64_t bx, int64_t by, int64_t ck,
              int n_threads):
    """The k = dist.shape[1] nearest rows of Fx for every row of Qx by squared Euclidean
    distance, exact: ``dist`` gets the squared distances (summed in double, rounded to
    the data's type) sorted by (distance, index).

    The filter rows Qa / Fa (q columns) and the per-row terms qadd (scaled by scale2,
    slack subtracted) / fadd make ``qadd[i] + fadd[j] - 2 <Qa[i], Fa[j]>`` a lower bound
    of scale2 * |Qx[i] - Fx[j]|^2 whatever the rounding of the GEMM; a pair is evaluated
    exactly when that bound is <= scale2 * tol1 * (the current k-th value). Work: blocks
    of bx queries x by train rows (GEMM into per-thread scratch); with fewer query blocks
    than threads the threads share the train blocks and merge their heaps by (distance,
    index). Returns the number of exact evaluations."""
    cdef int64_t n = Qx.shape[0], m = Fx.shape[0], d = Qx.shape[1], q = Qa.shape[1]
    cdef int64_t k = dist.shape[1]
    cdef int64_t nchunks = (n + bx - 1) // bx, nyb = (m + by - 1) // by
    cdef int64_t c, yb, i0, ni, j0, nj, a, b, t, tid
    cdef floating *hd
    cdef int64_t *hi
    cdef floating v
    cdef int64_t vi
    fdtype = np.float32 if filt_t is float else np.float64
    dtype = np.float32 if floating is float else np.float64
    cdef filt_t[:, ::1] scratch = np.empty((n_threads, bx * by), dtype=fdtype)
    cdef filt_t[:, ::1] cds = np.empty((n_threads, ck), dtype=fdtype)
    cdef int64_t[:, ::1] cis = np.empty((n_threads, ck), dtype=np.int64)
    cdef int64_t[::1] counts = np.zeros(n_threads * 8, dtype=np.int64)
    cdef floating[:, :, ::1] thd
    cdef int64_t[:, :, ::1] thi
    cdef int stop_flag = 0
    cdef int *stop = &stop_flag
    dist[:, :] = INFINITY
    ind[:, :] = -1
    if n == 0 or m == 0:
        return 0
    if nchunks >= n_threads or nyb < 2:
        with nogil:
            for c in prange(nchunks, schedule="dynamic", num_threads=n_threads):
                tid = omp_get_thread_num()
                i0 = c * bx
                ni = min(bx, n - i0)
                j0 = 0
                while j0 < m:
                    if stopped(stop) or (tid == 0 and check_signals(stop)):
                        break
                    nj = min(by, m - j0)
                    counts[tid * 8] = counts[tid * 8] + _bound_knn_block(
                        &Qa[0, 0], &Fa[0, 0], q, &qadd[0], &fadd[0], &Qx[0, 0], &Fx[0, 0],
                        d, i0, ni, j0, nj, &scratch[tid, 0], &cds[tid, 0], &cis[tid, 0], ck,
                        &dist[i0, 0], &ind[i0, 0], k, scale2, tol1)
                    j0 = j0 + nj
                for a in range(i0, i0 + ni):
                    sort_pairs(&dist[a, 0], &ind[a, 0], k)
        if stopped(stop):
            raise_pending()
        return int(np.sum(counts))
    # few queries: each thread keeps heaps for all of them over its train blocks
    thd = np.full((n_threads, n, k), np.inf, dtype=dtype)
    thi = np.full((n_threads, n, k), -1, dtype=np.int64)
    with nogil:
        for yb in prange(nyb, schedule="dynamic", num_threads=n_threads):
            tid = omp_get_thread_num()
            if stopped(stop) or (tid == 0 and check_signals(stop)):
                continue
            j0 = yb * by
            nj = min(by, m - j0)
            for c in range(nchunks):
                i0 = c * bx
                ni = min(bx, n - i0)
                counts[tid * 8] = counts[tid * 8] + _bound_knn_block(
                    &Qa[0, 0], &Fa[0, 0], q, &qadd[0], &fadd[0], &Qx[0, 0], &Fx[0, 0], d,
                    i0, ni, j0, nj, &scratch[tid, 0], &cds[tid, 0], &cis[tid, 0], ck,
                    &thd[tid, i0, 0], &thi[tid, i0, 0], k, scale2, tol1)
        for a in prange(n, schedule="static", num_threads=n_threads):
            hd = &dist[a, 0]
            hi = &ind[a, 0]
            for t in range(n_threads):
                for b in range(k):
                    v = thd[t, a, b]
                    vi = thi[t, a, b]
                    if vi >= 0 and _pair_lt(v, vi, hd[0], hi[0]):
                        heap_replace_top(hd, hi, k, v, vi)
            sort_pairs(hd, hi, k)
    if stopped(stop):
        raise_pending()
    return int(np.sum(counts))


cdef int _grow(int64_t **bi, double **bd, int64_t *cap, int64_t need) noexcept nogil:
    """Make room for `need` entries in a thread's result buffers; 0 on failure."""
    cdef int64_t nc = cap[0]
    cdef int64_t *ni
    cdef double *nd
    if need <= nc:
        return 1
    while nc < need:
        nc = 2 * nc + 1024
    ni = <int64_t *>realloc(bi[0], nc * sizeof(int64_t))
    if ni == NULL:
        return 0
    bi[0] = ni
    nd = <double *>realloc(bd[0], nc * sizeof(double))
    if nd == NULL:
        return 0
    bd[0] = nd
    cap[0] = nc
    return 1


# ----------------------------------------------------------------------------------------
# radius results: per-thread growable buffers of (index, value), merged in query order
# ----------------------------------------------------------------------------------------
cdef struct hits_t:
    int64_t **bi        # per thread: indices found
    double **bd         # per thread: their values
    int64_t *lens       # per thread (stride 8): entries used
    int64_t *caps       # per thread (stride 8): entries allocated
    int64_t *counts     # (n queries, nyb train blocks): entries of query i in block yb
    int64_t nyb
    int64_t *chunk_tid  # per query chunk: the thread that ran it
    int64_t *chunk_pos  # per query chunk: where its entries start in that thread's buffer


cdef class _Hits:
    """The buffers of one radius search (allocated here, freed with the object)."""
    cdef hits_t h
    cdef int n_threads
    cdef object arrays

    def __cinit__(self, int64_t n, int64_t nyb, int64_t nchunks, int n_threads):
        cdef int64_t[::1] lens = np.zeros(n_threads * 8, dtype=np.int64)
        cdef int64_t[::1] caps = np.zeros(n_threads * 8, dtype=np.int64)
        cdef int64_t[:, ::1] counts = np.zeros((max(n, 1), max(nyb, 1)), dtype=np.int64)
        cdef int64_t[::1] ctid = np.zeros(max(nchunks, 1), dtype=np.int64)
        cdef int64_t[::1] cpos = np.zeros(max(nchunks, 1), dtype=np.int64)
        self.arrays = (np.asarray(lens), np.asarray(caps), np.asarray(counts)[:n],
                       np.asarray(ctid)[:nchunks], np.asarray(cpos)[:nchunks])
        self.n_threads = n_threads
        self.h.lens = &lens[0]
        self.h.caps = &caps[0]
        self.h.counts = &counts[0, 0]
        self.h.nyb = max(nyb, 1)
        self.h.chunk_tid = &ctid[0]
        self.h.chunk_pos = &cpos[0]
        self.h.bi = <int64_t **>calloc(n_threads, sizeof(int64_t *))
        self.h.bd = <double **>calloc(n_threads, sizeof(double *))
        if self.h.bi == NULL or self.h.bd == NULL:
            raise MemoryError()

    def __dealloc__(self):
        cdef int t
        if self.h.bi != NULL:
            for t in range(self.n_threads):
                free(self.h.bi[t])
            free(self.h.bi)
        if self.h.bd != NULL:
            for t in range(self.n_threads):
                free(self.h.bd[t])
            free(self.h.bd)

    def merge(self, int64_t bx):
        """(indptr, indices, values) in query order."""
        _, _, counts, ctid, cpos = self.arrays
        return _radius_merge(counts, ctid, cpos, self.h.bi, self.h.bd, bx, self.n_threads)


cdef inline void _hits_chunk(hits_t *h, int64_t c, int tid) noexcept nogil:
    """Query chunk c starts here in thread tid's buffer."""
    h.chunk_tid[c] = tid
    h.chunk_pos[c] = h.lens[tid * 8]


cdef inline bint _hits_add(hits_t *h, int tid, int64_t i, int64_t yb, int64_t j,
                           double v) noexcept nogil:
    """Append (j, v) for query i, found in train block yb; False when out of memory."""
    cdef int64_t at = h.lens[tid * 8]
    if not _grow(&h.bi[tid], &h.bd[tid], &h.caps[tid * 8], at + 1):
        return False
    h.bi[tid][at] = j
    h.bd[tid][at] = v
    h.lens[tid * 8] = at + 1
    h.counts[i * h.nyb + yb] = h.counts[i * h.nyb + yb] + 1
    return True


def radius_bound(const filt_t[:, ::1] Qa, const filt_t[:, ::1] Fa, const double[::1] qadd,
                 const filt_t[::1] fadd, const floating[:, ::1] Qx,
                 const floating[:, ::1] Fx, double r2, bint root, double radius,
                 int64_t self_offset, double scale2, double tol1, int64_t bx, int64_t by,
                 int n_threads):
    """Every train row within the radius of every query, exactly: pairs whose bound (see
    knn_bound) is <= scale2 * tol1 * r2 are evaluated in double and kept when
    sqrt(value) <= radius (``root``) or value <= radius. Query i never reports train row
    i + self_offset (self_offset >= 0: the queries are the train rows).

    Parallel over blocks of bx queries; each thread appends to its own buffers, merged
    afterwards in query order, so the result does not depend on the thread count.
    Returns (indptr (n + 1), indices, squared distances in double, number of exact
    evaluations), the indices of a query in increasing order."""
    cdef int64_t n = Qx.shape[0], m = Fx.shape[0], d = Qx.shape[1], q = Qa.shape[1]
    cdef int64_t nchunks = (n + bx - 1) // bx, nyb = (m + by - 1) // by
    cdef int64_t c, i0, ni, j0, nj, yb, a, b, j, tid, t, pos, cnt, total
    cdef filt_t *row
    cdef const filt_t *fa
    cdef filt_t above
    cdef double v
    fdtype = np.float32 if filt_t is float else np.float64
    cdef filt_t[:, ::1] scratch = np.empty((n_threads, bx * by), dtype=fdtype)
    cdef int64_t[::1] n_exact = np.zeros(n_threads * 8, dtype=np.int64)
    cdef int stop_flag = 0
    cdef int *stop = &stop_flag
    cdef int fail_flag = 0
    cdef int *fail = &fail_flag
    cdef _Hits hits = _Hits(n, nyb, nchunks, n_threads)
    cdef hits_t *h = &hits.h
    if n > 0 and m > 0:
        with nogil:
            for c in prange(nchunks, schedule="dynamic", num_threads=n_threads):
                tid = omp_get_thread_num()
                if fail[0] or stopped(stop) or (tid == 0 and check_signals(stop)):
                    continue
                i0 = c * bx
                ni = min(bx, n - i0)
                _hits_chunk(h, c, tid)
                for yb in range(nyb):
                    if fail[0]:
                        break
                    j0 = yb * by
                    nj = min(by, m - j0)
                    row = &scratch[tid, 0]
                    _gemm_filt(&Qa[i0, 0], <int>ni, &Fa[j0, 0], <int>nj, <int>q, row)
                    fa = &fadd[j0]
                    for a in range(ni):
                        above = _strict_above(_bound_thr(r2, qadd[i0 + a], scale2, tol1),
                                              row)
                        b = 0
                        while True:
                            b = b + _first_le(row + a * nj + b, fa + b, nj - b, above)
                            if b >= nj:
                                break
                            j = j0 + b
                            b = b + 1
                            if self_offset >= 0 and j == i0 + a + self_offset:
                                continue
                            v = _sqdist(&Qx[i0 + a, 0], &Fx[j, 0], d)
                            n_exact[tid * 8] = n_exact[tid * 8] + 1
                            if ((sqrt(v) <= radius) if root else (v <= radius)) and not \
                                    _hits_add(h, tid, i0 + a, yb, j, v):
                                fail[0] = 1
                                break
    if stopped(stop):
        raise_pending()
    if fail_flag:
        raise MemoryError("radius_neighbors: out of memory for the neighbours found")
    indptr, out_ind_np, out_d_np = hits.merge(bx)
    return indptr, out_ind_np, out_d_np, int(np.sum(n_exact))


# ----------------------------------------------------------------------------------------
# The projected filter (fastml.metrics._knn.projected_filter): q-float filter rows, the
# train ones packed 16 at a time (fastml_lb_screen_f32), screened without writing a block.
# ----------------------------------------------------------------------------------------
cdef inline void _sqdist_list(const floating *x, const floating *F, int64_t d,
                              const int32_t *idx, int64_t n, double bound,
                              double *out) noexcept nogil:
    """out[c]: the exact value of each pair, or a partial sum above ``bound`` (then the
    pair's value, rounded to the data's type, is above the value ``bound`` stands for:
    see _above_heap)."""
    if floating is float:
        fastml_sqdist_list_f32(x, F, d, idx, n, bound, out)
    else:
        fastml_sqdist_list_f64(x, F, d, idx, n, bound, out)


cdef inline double _above_heap(floating top) noexcept nogil:
    """A bound for _sqdist_list: a sum above it rounds (to the data's type) above ``top``,
    the heap's largest value, so a pair stopped there cannot enter the heap."""
    if floating is float:
        return <double>nextafterf(top, INFINITY)
    else:
        return top


cdef inline bint _in_sorted(const int64_t *a, int64_t n, int64_t v) noexcept nogil:
    cdef int64_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo < n and a[lo] == v


cdef inline void _isort(int64_t *a, int64_t n) noexcept nogil:
    cdef int64_t i, j, v
    for i in range(1, n):
        v = a[i]
        j = i - 1
        while j >= 0 and a[j] > v:
            a[j + 1] = a[j]
            j = j - 1
        a[j + 1] = v


cdef inline int64_t _exact_first(const floating *x, const floating *Fx, int64_t d,
                                 const int64_t *ci, int64_t ck, floating *h_d, int64_t *h_i,
                                 int64_t k, int64_t *ev, int32_t *todo,
                                 double *ex) noexcept nogil:
    """Pass 1's end for one query: the exact values of its candidates (indices ci[:ck], -1
    for none) offered to its heap; their indices, sorted, to ev. Returns their number."""
    cdef int64_t c, ntodo = 0
    cdef floating vv
    for c in range(ck):
        if ci[c] >= 0:
            ev[ntodo] = ci[c]
            todo[ntodo] = <int32_t>ci[c]
            ntodo = ntodo + 1
    _sqdist_list(x, Fx, d, todo, ntodo, INFINITY, ex)
    for c in range(ntodo):
        vv = <floating>ex[c]
        if _pair_lt(vv, <int64_t>todo[c], h_d[0], h_i[0]):
            heap_replace_top(h_d, h_i, k, vv, <int64_t>todo[c])
    _isort(ev, ntodo)
    return ntodo


cdef inline int64_t _exact_rest(const floating *x, const floating *Fx, int64_t d,
                                const int32_t *cj, const float *cv, int64_t cnt, float above,
                                const int64_t *ev, int64_t nev, floating *h_d, int64_t *h_i,
                                int64_t k, int32_t *todo, double *ex) noexcept nogil:
    """Pass 2 for one query: the listed candidates (cj, cv: cnt of them) whose bound is
    below ``above`` and that pass 1 did not evaluate (ev, sorted), offered to its heap.
    Returns the number evaluated."""
    cdef int64_t c, ntodo = 0
    cdef floating vv
    for c in range(cnt):
        if cv[c] < above and not _in_sorted(ev, nev, cj[c]):
            todo[ntodo] = cj[c]
            ntodo = ntodo + 1
    if ntodo == 0:
        return 0
    _sqdist_list(x, Fx, d, todo, ntodo, _above_heap(h_d[0]), ex)
    for c in range(ntodo):
        vv = <floating>ex[c]
        if _pair_lt(vv, <int64_t>todo[c], h_d[0], h_i[0]):
            heap_replace_top(h_d, h_i, k, vv, <int64_t>todo[c])
    return ntodo


cdef int64_t _proj_knn_chunk(
        const float *Qa, int64_t q, const float *Ft, const float *fadd, int64_t m,
        const double *qadd, const floating *Qx, const int64_t *qrows, const floating *Fx,
        int64_t d,
        int64_t i0, int64_t ni, floating *hd, int64_t *hi, int64_t k, double scale2,
        double tol1, int64_t gb, int64_t ck, int32_t *cj, float *cv, int64_t *cnt,
        float *thr, float *chd, int64_t *chi, int64_t *evald, int64_t *nev,
        int32_t *todo, double *ex, int *stop, bint main_thread) noexcept nogil:
    """Query rows i0 .. i0 + ni: pass 1 keeps the ck smallest bounds of each query (their
    exact values set a tight threshold), pass 2 evaluates every other pair whose bound is
    within the threshold. Returns the number of exact evaluations."""
    cdef int64_t ng = (m + 15) // 16, cap = 16 * gb
    cdef int64_t g0, ngb, a, c, n_exact = 0
    cdef float *cva
    cdef int32_t *cja
    cdef float above, dummy = 0
    for a in range(ni * ck):
        chd[a] = INFINITY
        chi[a] = -1
    # pass 1: the ck smallest bounds
    g0 = 0
    while g0 < ng:
        if stopped(stop) or (main_thread and check_signals(stop)):
            return n_exact
        ngb = min(gb, ng - g0)
        for a in range(ni):
            thr[a] = chd[a * ck]
            cnt[a] = 0
        fastml_lb_screen_f32(Qa + i0 * q, ni, q, Ft + g0 * q * 16, ngb, fadd + g0 * 16, thr,
                             g0 * 16, cj, cv, cap, cnt)
        for a in range(ni):
            cva = cv + a * cap
            cja = cj + a * cap
            for c in range(cnt[a]):
                if cva[c] < chd[a * ck] or (cva[c] == chd[a * ck] and cja[c] < chi[a * ck]):
                    heap_replace_top(chd + a * ck, chi + a * ck, ck, cva[c], <int64_t>cja[c])
        g0 = g0 + ngb
    # their exact values
    for a in range(ni):
        nev[a] = _exact_first(Qx + qrows[i0 + a] * d, Fx, d, chi + a * ck, ck, hd + a * k,
                              hi + a * k, k, evald + a * ck, todo, ex)
        n_exact = n_exact + nev[a]
    # pass 2: every other bound within the threshold
    g0 = 0
    while g0 < ng:
        if stopped(stop) or (main_thread and check_signals(stop)):
            return n_exact
        ngb = min(gb, ng - g0)
        for a in range(ni):
            thr[a] = _strict_above(_bound_thr(hd[a * k], qadd[i0 + a], scale2, tol1), &dummy)
            cnt[a] = 0
        fastml_lb_screen_f32(Qa + i0 * q, ni, q, Ft + g0 * q * 16, ngb, fadd + g0 * 16, thr,
                             g0 * 16, cj, cv, cap, cnt)
        for a in range(ni):
            if cnt[a] == 0:
                continue
            above = _strict_above(_bound_thr(hd[a * k], qadd[i0 + a], scale2, tol1), &dummy)
            n_exact = n_exact + _exact_rest(
                Qx + qrows[i0 + a] * d, Fx, d, cj + a * cap, cv + a * cap, cnt[a], above,
                evald + a * ck, nev[a], hd + a * k, hi + a * k, k, todo, ex)
        g0 = g0 + ngb
    for a in range(ni):
        sort_pairs(hd + a * k, hi + a * k, k)
    return n_exact


cdef int64_t _proj_knn_stored(
        const float *Qa, int64_t q, const float *Ft, const float *fadd, int64_t m,
        const double *qadd, const floating *Qx, const int64_t *qrows, const floating *Fx,
        int64_t d,
        int64_t i0, int64_t ni, floating *hd, int64_t *hi, int64_t k, double scale2,
        double tol1, int64_t gb, int64_t ck, float *bnd, int32_t *cj, float *cv,
        float *chd, int64_t *chi, int64_t *evald, int64_t *nev, int32_t *todo, double *ex,
        int *stop, bint main_thread) noexcept nogil:
    """_proj_knn_chunk with the bounds of the ni queries against all m rows computed once
    and stored (bnd, ni rows of 16 ceil(m / 16)): pass 1 selects the ck smallest of each
    query from the store, pass 2 reads it again, train block by train block for all the
    queries (the candidate rows of one block stay in cache). The same pairs are evaluated
    as by _proj_knn_chunk; the screen's arithmetic runs once instead of twice."""
    cdef int64_t ng = (m + 15) // 16, mp = 16 * ng, blk = 16 * gb
    cdef int64_t a, c, cnt, j0, nj, n_exact = 0
    cdef const float *row
    cdef float *cda
    cdef int64_t *cia
    cdef float above, dummy = 0
    if stopped(stop) or (main_thread and check_signals(stop)):
        return n_exact
    fastml_lb_bounds_f32(Qa + i0 * q, ni, q, Ft, ng, fadd, bnd, mp)
    for a in range(ni):
        # pass 1: the ck smallest bounds, blocks of the store below the heap's top
        row = bnd + a * mp
        cda = chd + a * ck
        cia = chi + a * ck
        for c in range(ck):
            cda[c] = INFINITY
            cia[c] = -1
        j0 = 0
        while j0 < m:
            nj = min(blk, m - j0)
            cnt = fastml_below_f32(row + j0, nj, cda[0], j0, cj, cv)
            for c in range(cnt):
                if cv[c] < cda[0] or (cv[c] == cda[0] and cj[c] < cia[0]):
                    heap_replace_top(cda, cia, ck, cv[c], <int64_t>cj[c])
            j0 = j0 + nj
        # their exact values
        nev[a] = _exact_first(Qx + qrows[i0 + a] * d, Fx, d, cia, ck, hd + a * k, hi + a * k,
                              k, evald + a * ck, todo, ex)
        n_exact = n_exact + nev[a]
    # pass 2: every other bound within the threshold
    j0 = 0
    while j0 < m:
        if stopped(stop) or (main_thread and check_signals(stop)):
            return n_exact
        nj = min(blk, m - j0)
        for a in range(ni):
            above = _strict_above(_bound_thr(hd[a * k], qadd[i0 + a], scale2, tol1), &dummy)
            cnt = fastml_below_f32(bnd + a * mp + j0, nj, above, j0, cj, cv)
            n_exact = n_exact + _exact_rest(
                Qx + qrows[i0 + a] * d, Fx, d, cj, cv, cnt, above, evald + a * ck, nev[a],
                hd + a * k, hi + a * k, k, todo, ex)
        j0 = j0 + nj
    for a in range(ni):
        sort_pairs(hd + a * k, hi + a * k, k)
    return n_exact


def take_columns(const floating[:, ::1] A, const int64_t[::1] keep, int n_threads):
    """A[:, keep] for increasing column indices ``keep``: each run of consecutive kept
    columns copied whole, rows in parallel (np.take gathers element by element)."""
    cdef int64_t n = A.shape[0], w = keep.shape[0], i, r
    cdef floating[:, ::1] out = np.empty((n, w), dtype=np.asarray(A).dtype)
    if n == 0 or w == 0:
        return np.asarray(out)
    brk = np.flatnonzero(np.diff(np.asarray(keep)) != 1) + 1
    cdef int64_t[::1] dst = np.concatenate([[0], brk]).astype(np.int64)
    cdef int64_t[::1] src = np.asarray(keep)[np.asarray(dst)].astype(np.int64)
    cdef int64_t[::1] ln = np.diff(np.concatenate([np.asarray(dst), [w]])).astype(np.int64)
    cdef int64_t nr = dst.shape[0]
    cdef int team = n_threads if n * w >= (1 << 18) else 1
    with nogil:
        for i in prange(n, schedule="static", num_threads=team):
            for r in range(nr):
                memcpy(&out[i, dst[r]], &A[i, src[r]], ln[r] * sizeof(floating))
    return np.asarray(out)


def knn_proj(const float[:, ::1] Qa, const float[::1] Ft, const float[::1] fadd, int64_t m,
             const double[::1] qadd, const floating[:, ::1] Qx, const floating[:, ::1] Fx,
             floating[:, ::1] dist, int64_t[:, ::1] ind, double scale2, double tol1,
             int64_t bx, int64_t gb, int64_t ck, int n_threads, bint store=False,
             const int64_t[::1] qrows=None):
    """knn_bound for the projected filter: Ft / fadd packed (16 rows a group, m real
    rows), screened by fastml_lb_screen_f32 in train blocks of 16 gb rows. Parallel over
    blocks of bx queries. ``store``: each block's bounds against all rows computed once
    into a store of bx x 16 ceil(m / 16) floats per thread (_proj_knn_stored), instead of
    twice. ``qrows``: the row of Qx of each query (Qa, qadd, dist and ind in the same
    order); None for Qx's own order. Returns the number of exact evaluations."""
    cdef int64_t n = Qx.shape[0], d = Qx.shape[1], q = Qa.shape[1], k = dist.shape[1]
    cdef int64_t nchunks = (n + bx - 1) // bx, cap = 16 * gb
    cdef int64_t c, i0, ni, tid
    cdef int32_t[:, ::1] cj = np.empty((n_threads, bx * cap), dtype=np.int32)
    cdef float[:, ::1] cv = np.empty((n_threads, bx * cap), dtype=np.float32)
    cdef int64_t[:, ::1] cnt = np.empty((n_threads, bx), dtype=np.int64)
    cdef float[:, ::1] thr = np.empty((n_threads, bx), dtype=np.float32)
    cdef float[:, ::1] chd = np.empty((n_threads, bx * ck), dtype=np.float32)
    cdef int64_t[:, ::1] chi = np.empty((n_threads, bx * ck), dtype=np.int64)
    cdef int64_t[:, ::1] evald = np.empty((n_threads, bx * ck), dtype=np.int64)
    cdef int64_t[:, ::1] nev = np.empty((n_threads, bx), dtype=np.int64)
    cdef int32_t[:, ::1] todo = np.empty((n_threads, max(cap, ck)), dtype=np.int32)
    cdef double[:, ::1] ex = np.empty((n_threads, max(cap, ck)), dtype=np.float64)
    cdef int64_t[::1] counts = np.zeros(n_threads * 8, dtype=np.int64)
    cdef float[:, ::1] bnd = np.empty((n_threads, bx * 16 * ((m + 15) // 16) if store else 1),
                                      dtype=np.float32)
    cdef int stop_flag = 0
    cdef int *stop = &stop_flag
    if qrows is None:
        qrows = np.arange(n, dtype=np.int64)
    elif qrows.shape[0] != n or Qa.shape[0] != n or qadd.shape[0] != n or (
            n and (np.min(qrows) < 0 or np.max(qrows) >= n)):
        raise ValueError("knn_proj: qrows must give a row of Qx for each of the n queries")
    dist[:, :] = INFINITY
    ind[:, :] = -1
    if n == 0 or m == 0:
        return 0
    with nogil:
        for c in prange(nchunks, schedule="dynamic", num_threads=n_threads):
            tid = omp_get_thread_num()
            if stopped(stop):
                continue
            i0 = c * bx
            ni = min(bx, n - i0)
            if store:
                counts[tid * 8] = counts[tid * 8] + _proj_knn_stored(
                    &Qa[0, 0], q, &Ft[0], &fadd[0], m, &qadd[0], &Qx[0, 0], &qrows[0],
                    &Fx[0, 0], d, i0, ni, &dist[i0, 0], &ind[i0, 0], k, scale2, tol1, gb, ck,
                    &bnd[tid, 0], &cj[tid, 0], &cv[tid, 0], &chd[tid, 0], &chi[tid, 0],
                    &evald[tid, 0], &nev[tid, 0], &todo[tid, 0], &ex[tid, 0], stop, tid == 0)
                continue
            counts[tid * 8] = counts[tid * 8] + _proj_knn_chunk(
                &Qa[0, 0], q, &Ft[0], &fadd[0], m, &qadd[0], &Qx[0, 0], &qrows[0], &Fx[0, 0],
                d, i0, ni, &dist[i0, 0], &ind[i0, 0], k, scale2, tol1, gb, ck, &cj[tid, 0],
                &cv[tid, 0], &cnt[tid, 0], &thr[tid, 0], &chd[tid, 0], &chi[tid, 0],
                &evald[tid, 0], &nev[tid, 0], &todo[tid, 0], &ex[tid, 0], stop, tid == 0)
    if stopped(stop):
        raise_pending()
    return int(np.sum(counts))


def radius_proj(const float[:, ::1] Qa, const float[::1] Ft, const float[::1] fadd,
                int64_t m, const double[::1] qadd, const floating[:, ::1] Qx,
                const floating[:, ::1] Fx, double r2, bint root, double radius,
                int64_t self_offset, double scale2, double tol1, int64_t bx, int64_t gb,
                int n_threads):
    """radius_bound for the projected filter (packed as for knn_proj)."""
    cdef int64_t n = Qx.shape[0], d = Qx.shape[1], q = Qa.shape[1]
    cdef int64_t nchunks = (n + bx - 1) // bx, cap = 16 * gb, ng = (m + 15) // 16
    cdef int64_t nyb = (ng + gb - 1) // gb
    cdef int64_t c, i0, ni, g0, ngb, yb, a, e, j, tid, t, ntodo
    cdef double v
    cdef float dummy = 0
    cdef int32_t[:, ::1] cj = np.empty((n_threads, bx * cap), dtype=np.int32)
    cdef float[:, ::1] cv = np.empty((n_threads, bx * cap), dtype=np.float32)
    cdef int64_t[:, ::1] cnt = np.empty((n_threads, bx), dtype=np.int64)
    cdef float[:, ::1] thr = np.empty((n_threads, bx), dtype=np.float32)
    cdef int32_t[:, ::1] todo = np.empty((n_threads, cap), dtype=np.int32)
    cdef double[:, ::1] ex = np.empty((n_threads, cap), dtype=np.float64)
    cdef int64_t[::1] n_exact = np.zeros(n_threads * 8, dtype=np.int64)
    cdef int stop_flag = 0
    cdef int *stop = &stop_flag
    cdef int fail_flag = 0
    cdef int *fail = &fail_flag
    cdef _Hits hits = _Hits(n, nyb, nchunks, n_threads)
    cdef hits_t *h = &hits.h
    # a pair whose partial sum passes this is outside the radius (with a margin far above
    # the rounding of the square root)
    cdef double abandon = radius * radius * (1.0 + 2.0 ** -40) if root else radius
    if n > 0 and m > 0:
        with nogil:
            for c in prange(nchunks, schedule="dynamic", num_threads=n_threads):
                tid = omp_get_thread_num()
                if fail[0] or stopped(stop) or (tid == 0 and check_signals(stop)):
                    continue
                i0 = c * bx
                ni = min(bx, n - i0)
                _hits_chunk(h, c, tid)
                for a in range(ni):
                    thr[tid, a] = _strict_above(_bound_thr(r2, qadd[i0 + a], scale2, tol1),
                                                &dummy)
                for yb in range(nyb):
                    if fail[0]:
                        break
                    g0 = yb * gb
                    ngb = min(gb, ng - g0)
                    for a in range(ni):
                        cnt[tid, a] = 0
                    fastml_lb_screen_f32(&Qa[i0, 0], ni, q, &Ft[g0 * q * 16], ngb,
                                         &fadd[g0 * 16], &thr[tid, 0], g0 * 16,
                                         &cj[tid, 0], &cv[tid, 0], cap, &cnt[tid, 0])
                    for a in range(ni):
                        ntodo = 0
                        for e in range(cnt[tid, a]):
                            j = cj[tid, a * cap + e]
                            if self_offset < 0 or j != i0 + a + self_offset:
                                todo[tid, ntodo] = <int32_t>j
                                ntodo = ntodo + 1
                        if ntodo == 0:
                            continue
                        _sqdist_list(&Qx[i0 + a, 0], &Fx[0, 0], d, &todo[tid, 0], ntodo,
                                     abandon, &ex[tid, 0])
                        n_exact[tid * 8] = n_exact[tid * 8] + ntodo
                        for e in range(ntodo):
                            v = ex[tid, e]
                            if ((sqrt(v) <= radius) if root else (v <= radius)) and not \
                                    _hits_add(h, tid, i0 + a, yb, todo[tid, e], v):
                                fail[0] = 1
                                break
    if stopped(stop):
        raise_pending()
    if fail_flag:
        raise MemoryError("radius_neighbors: out of memory for the neighbours found")
    indptr, out_ind, out_d = hits.merge(bx)
    return indptr, out_ind, out_d, int(np.sum(n_exact))


cdef _radius_merge(int64_t[:, ::1] counts, int64_t[::1] chunk_tid, int64_t[::1] chunk_pos,
                   int64_t **bis, double **bds, int64_t bx, int n_threads):
    """(indptr, indices, values) in query order from the per-thread buffers: query i's
    results of train block yb go to (all of queries < i) + (query i's in blocks < yb)."""
    cdef int64_t n = counts.shape[0], nyb = counts.shape[1], nchunks = chunk_tid.shape[0]
    cdef int64_t c, i0, ni, t, pos, yb, a, cnt
    cnt_np = np.asarray(counts)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(cnt_np.sum(axis=1), out=indptr[1:])
    cdef int64_t[:, ::1] dst = np.ascontiguousarray(
        np.cumsum(cnt_np, axis=1) - cnt_np + indptr[:-1, None], dtype=np.int64)
    total = int(indptr[n])
    out_ind_np = np.empty(total, dtype=np.int64)
    out_d_np = np.empty(total, dtype=np.float64)
    cdef int64_t[::1] out_ind = out_ind_np
    cdef double[::1] out_d = out_d_np
    if total == 0:
        return indptr, out_ind_np, out_d_np
    with nogil:
        for c in prange(nchunks, schedule="static", num_threads=n_threads):
            i0 = c * bx
            ni = min(bx, n - i0)
            t = chunk_tid[c]
            pos = chunk_pos[c]
            for yb in range(nyb):
                for a in range(ni):
                    cnt = counts[i0 + a, yb]
                    if cnt > 0:
                        memcpy(&out_ind[dst[i0 + a, yb]], bis[t] + pos, cnt * sizeof(int64_t))
                        memcpy(&out_d[dst[i0 + a, yb]], bds[t] + pos, cnt * sizeof(double))
                        pos = pos + cnt
    return indptr, out_ind_np, out_d_np


def radius_dense(const floating[:, ::1] X, const floating[:, ::1] Y, int kind, int op,
                 double p, double thr, int64_t self_offset, int64_t bx, int64_t by,
                 int n_threads):
    """Every pair whose reduction (as knn_dense ranks: -<x, y> on unit rows for
    KIND_COSINE_GEMM, the tile's reduction for KIND_TILE, sum |x - y|^p for KIND_LP) is
    <= thr; query i skips train row i + self_offset (self_offset >= 0). Blocks of bx x by
    computed into per-thread scratch and thresholded there; each thread appends to its
    own buffers, merged in query order. Returns (indptr, indices, values in double)."""
    cdef int64_t n = X.shape[0], m = Y.shape[0], d = X.shape[1]
    cdef int64_t nchunks = (n + bx - 1) // bx, nyb = (m + by - 1) // by
    cdef int64_t c, i0, ni, j0, nj, yb, a, b, j, tid, t
    cdef floating *buf
    cdef floating fp = <floating>p, fthr = <floating>thr, v
    dtype = np.float32 if floating is float else np.float64
    cdef floating[:, ::1] scratch = np.empty((n_threads, bx * by), dtype=dtype)
    cdef int stop_flag = 0
    cdef int *stop = &stop_flag
    cdef int fail_flag = 0
    cdef int *fail = &fail_flag
    cdef _Hits hits = _Hits(n, nyb, nchunks, n_threads)
    cdef hits_t *h = &hits.h
    if n > 0 and m > 0:
        with nogil:
            for c in prange(nchunks, schedule="dynamic", num_threads=n_threads):
                tid = omp_get_thread_num()
                if fail[0] or stopped(stop) or (tid == 0 and check_signals(stop)):
                    continue
                i0 = c * bx
                ni = min(bx, n - i0)
                _hits_chunk(h, c, tid)
                buf = &scratch[tid, 0]
                for yb in range(nyb):
                    if fail[0]:
                        break
                    j0 = yb * by
                    nj = min(by, m - j0)
                    if kind == 1:
                        gemm_block(&X[i0, 0], <int>ni, &Y[j0, 0], <int>nj, <int>d, buf,
                                   -1.0)
                    elif kind == 2:
                        if floating is float:
                            fastml_reduce_tile_f32(op, &X[i0, 0], ni, &Y[j0, 0], nj, d, buf,
                                                   NULL, nj, FASTML_POST_NONE, 0)
                        else:
                            fastml_reduce_tile_f64(op, &X[i0, 0], ni, &Y[j0, 0], nj, d, buf,
                                                   NULL, nj, FASTML_POST_NONE, 0)
                    else:
                        if floating is float:
                            fastml_tile_lp_f32(&X[i0, 0], ni, &Y[j0, 0], nj, d, buf, nj, fp)
                        else:
                            fastml_tile_lp_f64(&X[i0, 0], ni, &Y[j0, 0], nj, d, buf, nj, fp)
                    for a in range(ni):
                        for b in range(nj):
                            v = buf[a * nj + b]
                            if v <= fthr:
                                j = j0 + b
                                if self_offset >= 0 and j == i0 + a + self_offset:
                                    continue
                                if not _hits_add(h, tid, i0 + a, yb, j, v):
                                    fail[0] = 1
                                    break
    if stopped(stop):
        raise_pending()
    if fail_flag:
        raise MemoryError("radius_neighbors: out of memory for the neighbours found")
    indptr, out_ind, out_d = hits.merge(bx)
    return indptr, out_ind, out_d


cdef inline void push_row_screened_i32(const int32_t *row, int64_t nj, int64_t j0,
                                       int32_t *hd, int64_t *hi, int64_t k) noexcept nogil:
    """push_row for int32 counts: blocks of 16 are screened against the heap top with a
    branch-free (vectorised) test, so the pass only branches on the rare blocks that hold
    a candidate. The same pushes, in the same order, as push_row."""
    cdef int64_t b = 0, t
    cdef int32_t thr, v
    cdef int hit
    while b + 16 <= nj:
        thr = hd[0]
        hit = 0
        for t in range(16):
            hit = hit | (row[b + t] < thr)
        if hit:
            for t in range(b, b + 16):
                v = row[t]
                if v < hd[0]:
                    heap_replace_top(hd, hi, k, v, j0 + t)
        b = b + 16
    for t in range(b, nj):
        v = row[t]
        if v < hd[0]:
            heap_replace_top(hd, hi, k, v, j0 + t)


def knn_hamming_packed(const uint64_t[:, ::1] X, const uint64_t[:, ::1] Yt, int64_t m,
                       int32_t[:, ::1] dist, int64_t[:, ::1] ind, int64_t bx, int64_t by,
                       int n_threads):
    """Like knn_dense for bit-packed rows: dist = number of differing bits. The m train
    rows come in groups of 8, word-major (Yt row jb = words of rows 8 jb .. 8 jb + 7,
    see fastml_hamming_packed_t8); by is a multiple of 8."""
    cdef int64_t n = X.shape[0], w = X.shape[1], k = dist.shape[1]
    cdef int64_t nchunks = (n + bx - 1) // bx
    cdef int64_t c, i0, ni, j0, nj, a, tid
    cdef int32_t *buf
    cdef int32_t[:, ::1] scratch = np.empty((n_threads, bx * by), dtype=np.int32)
    cdef int stop_flag = 0
    cdef int *stop = &stop_flag
    dist[:, :] = np.iinfo(np.int32).max
    ind[:, :] = -1
    if n == 0 or m == 0:
        return
    with nogil:
        for c in prange(nchunks, schedule="dynamic", num_threads=n_threads):
            tid = omp_get_thread_num()
            buf = &scratch[tid, 0]
            i0 = c * bx
            ni = min(bx, n - i0)
            j0 = 0
            while j0 < m:
                if stopped(stop) or (tid == 0 and check_signals(stop)):
                    break
                nj = min(by, m - j0)
                fastml_hamming_packed_t8(&X[i0, 0], ni, &Yt[j0 // 8, 0], nj, w, buf, by)
                for a in range(ni):
                    push_row_screened_i32(buf + a * by, nj, j0, &dist[i0 + a, 0],
                                          &ind[i0 + a, 0], k)
                j0 = j0 + nj
            for a in range(i0, i0 + ni):
                sort_pairs(&dist[a, 0], &ind[a, 0], k)
    if stopped(stop):
        raise_pending()


def hamming_packed_matrix(const uint64_t[:, ::1] X, const uint64_t[:, ::1] Yt, int64_t m,
                          int32_t[:, ::1] out, int64_t bx, int n_threads):
    """out[i, j] = number of differing bits (train rows in word-major groups of 8, as
    for knn_hamming_packed), parallel over blocks of bx rows of X."""
    cdef int64_t n = X.shape[0], w = X.shape[1]
    cdef int64_t c, i0, nchunks = (n + bx - 1) // bx
    with nogil:
        for c in prange(nchunks, schedule="dynamic", num_threads=n_threads):
            i0 = c * bx
            fastml_hamming_packed_t8(&X[i0, 0], min(bx, n - i0), &Yt[0, 0], m, w, &out[i0, 0],
                                     m)


def lp_matrix(const floating[:, ::1] X, const floating[:, ::1] Y, floating[:, ::1] out,
              double p, int64_t bx, int n_threads):
    """out[i, j] = sum_k |X[i, k] - Y[j, k]|^p (no root)."""
    cdef int64_t n = X.shape[0], m = Y.shape[0], d = X.shape[1]
    cdef int64_t c, i0, nchunks = (n + bx - 1) // bx
    with nogil:
        for c in prange(nchunks, schedule="dynamic", num_threads=n_threads):
            i0 = c * bx
            if floating is float:
                fastml_tile_lp_f32(&X[i0, 0], min(bx, n - i0), &Y[0, 0], m, d, &out[i0, 0],
                                   m, <float>p)
            else:
                fastml_tile_lp_f64(&X[i0, 0], min(bx, n - i0), &Y[0, 0], m, d, &out[i0, 0],
                                   m, p)


def sqeuclidean_matrix(const floating[:, ::1] X, const floating[:, ::1] Y,
                       const floating[::1] xx, const floating[::1] yy, floating[:, ::1] out,
                       int64_t bx, int n_threads):
    """out = squared Euclidean distances: ||x||^2 + ||y||^2 - 2 <x, y> by GEMM on blocks
    of bx rows (one BLAS thread each), then every entry that lost more than ~3 decimal
    digits to cancellation (d^2 < 1e-3 (||x||^2 + ||y||^2)) recomputed exactly."""
    cdef int64_t n = X.shape[0], m = Y.shape[0], d = X.shape[1]
    cdef int64_t c, i0, ni, a, b, nchunks = (n + bx - 1) // bx
    cdef floating v, s
    with nogil:
        for c in prange(nchunks, schedule="dynamic", num_threads=n_threads):
            i0 = c * bx
            ni = min(bx, n - i0)
            gemm_block(&X[i0, 0], <int>ni, &Y[0, 0], <int>m, <int>d, &out[i0, 0], -2.0)
            for a in range(i0, i0 + ni):
                for b in range(m):
                    s = xx[a] + yy[b]
                    v = out[a, b] + s
                    if v < 1e-3 * s:
                        v = exact_sql2(&X[a, 0], &Y[b, 0], d)
                    out[a, b] = v


# ----------------------------------------------------------------------------------------
# Sequences: concatenated symbols (or frames) with offsets, seq i = data[off[i]:off[i+1]]
# ----------------------------------------------------------------------------------------
cdef inline bint _group_ok(const int64_t *off, const int64_t *rows, int64_t nr) noexcept nogil:
    """True if every sequence rows[0 .. nr) has 1 to 64 * 16 symbols (the SIMD path)."""
    cdef int64_t l, ln
    for l in range(nr):
        ln = off[rows[l] + 1] - off[rows[l]]
        if ln < 1 or ln > 64 * FASTML_LEV_GROUP_WORDS:
            return False
    return True


def _lev_groups(const uint32_t[::1] xs, const int64_t[::1] xo):
    """The order and the groups the Levenshtein loops score the rows in: rows of 1 to 64
    symbols below 256 first, by length, in wide groups (as many rows as a vector has lanes
    of the narrowest width holding the group's longest row); then the others, by length,
    in groups of FASTML_LEV_GROUP. Returns (perm, starts, sizes, bits), bits 0 for the
    groups of the other kind."""
    xo_np = np.asarray(xo)
    lens = np.diff(xo_np)
    n = lens.shape[0]
    xs_np = np.asarray(xs)
    # rows without a symbol >= 256 (counts of such symbols by cumulative sums)
    big = np.zeros(xs_np.shape[0] + 1, dtype=np.int64)
    np.cumsum(xs_np >= 256, out=big[1:])
    latin = big[xo_np[1:]] == big[xo_np[:-1]]
    wide = latin & (lens >= 1) & (lens <= 64)
    perm = np.lexsort((lens, ~wide)).astype(np.int64)
    n_wide = int(wide.sum())
    slen = lens[perm]
    starts, sizes, bits = [], [], []
    r = 0
    while r < n_wide:
        L = slen[r]
        b = 8 if L <= 8 else 16 if L <= 16 else 32 if L <= 32 else 64
        lanes = fastml_lev_wide_lanes(b)
        end = min(n_wide, r + lanes)
        end = r + int(np.searchsorted(slen[r:end], b, side="right"))
        starts.append(r)
        sizes.append(end - r)
        bits.append(b)
        r = end
    while r < n:
        starts.append(r)
        sizes.append(min(LEV_GROUP, n - r))
        bits.append(0)
        r = r + LEV_GROUP
    return (perm, np.array(starts, dtype=np.int64), np.array(sizes, dtype=np.int64),
            np.array(bits, dtype=np.int64))


def _wide_offsets(ys):
    """The texts of the wide groups as table offsets: min(symbol, 256) * vector bytes."""
    vb = fastml_lev_wide_lanes(8)
    return np.minimum(np.asarray(ys), 256).astype(np.uint32) * np.uint32(vb)


cdef inline void _wide_columns(fastml_lev_wide *W, const uint32_t *yp, const int64_t *yo,
                               const int64_t *cols, int64_t nc, const uint32_t **tx,
                               int64_t *tl, int64_t *res, int64_t c) noexcept nogil:
    """Score the group against columns cols[c .. c + nc) (nc <= 4) into res (yp: the
    texts as table offsets, _wide_offsets)."""
    cdef int64_t t, i
    for t in range(nc):
        i = cols[c + t]
        tx[t] = yp + yo[i]
        tl[t] = yo[i + 1] - yo[i]
    fastml_lev_wide_distances(W, tx, tl, <int>nc, res)


def levenshtein_matrix(const uint32_t[::1] xs, const int64_t[::1] xo, const uint32_t[::1] ys,
                       const int64_t[::1] yo, int32_t[:, ::1] out, bint symmetric,
                       int n_threads):
    """out[i, j] = Levenshtein distance, parallel over groups of rows of similar length
    (_lev_groups): a wide group (rows of 1 to 64 symbols below 256) is scored against four
    columns at a time in SIMD lanes, columns taken by length; a group of FASTML_LEV_GROUP
    rows of 1 to 1024 symbols is compared with each column in 64- or 32-bit lanes; other
    rows go one at a time (bit-parallel, common prefix and suffix skipped). Symmetric case
    (ys is xs): each pair is computed once, in one orientation, then the matrix is
    symmetrised."""
    cdef int64_t n = xo.shape[0] - 1, m = yo.shape[0] - 1, L = 0
    cdef int64_t g, r0, nr, r, i, l, c, c0, tid, nc, t, b
    cdef const uint32_t *xp = &xs[0] if xs.shape[0] > 0 else NULL
    cdef const uint32_t *yp = &ys[0] if ys.shape[0] > 0 else NULL
    if n == 0 or m == 0:
        return
    for r in range(n):
        L = max(L, xo[r + 1] - xo[r])
    perm_np, starts_np, sizes_np, bits_np = _lev_groups(xs, xo)
    cdef int64_t[::1] perm = perm_np
    cdef int64_t[::1] gstart = starts_np
    cdef int64_t[::1] gsize = sizes_np
    cdef int64_t[::1] gbits = bits_np
    cdef int64_t ngroups = gstart.shape[0]
    # columns: the rows' own order when symmetric, else by length (similar texts together)
    cdef int64_t[::1] cols = perm_np if symmetric else np.argsort(
        np.diff(np.asarray(yo)), kind="stable").astype(np.int64)
    cdef uint64_t[:, ::1] gscratch = np.empty((n_threads, fastml_lev_group_scratch_words()),
                                              dtype=np.uint64)
    cdef uint64_t[:, ::1] scratch = np.empty((n_threads, fastml_lev_scratch_words(L)),
                                             dtype=np.uint64)
    cdef uint64_t[:, ::1] wscratch = np.empty(
        (n_threads, fastml_lev_wide_scratch_bytes() // 8), dtype=np.uint64)
    cdef const uint32_t[::1] yw = _wide_offsets(ys)
    cdef const uint32_t *ywp = &yw[0] if yw.shape[0] > 0 else NULL
    cdef int64_t[:, ::1] res = np.empty((n_threads, 4 * 64), dtype=np.int64)
    cdef int64_t[:, ::1] tls = np.empty((n_threads, 8), dtype=np.int64)
    cdef uint64_t[:, ::1] txs = np.empty((n_threads, 8), dtype=np.uint64)
    cdef uint8_t[::1] pat_bytes = np.empty(n_threads * PSIZE, dtype=np.uint8)
    cdef fastml_lev_pattern *pats = <fastml_lev_pattern *>&pat_bytes[0]
    cdef uint8_t[::1] grp_bytes = np.empty(n_threads * GSIZE, dtype=np.uint8)
    cdef fastml_lev_group *grps = <fastml_lev_group *>&grp_bytes[0]
    cdef uint8_t[::1] wide_bytes = np.empty(n_threads * WSIZE, dtype=np.uint8)
    cdef fastml_lev_wide *wides = <fastml_lev_wide *>&wide_bytes[0]
    cdef int stop_flag = 0
    cdef int *stop = &stop_flag
    if symmetric:
        out[:, :] = -1
    with nogil:
        for g in prange(ngroups, schedule="dynamic", num_threads=n_threads):
            tid = omp_get_thread_num()
            r0 = gstart[g]
            nr = gsize[g]
            c0 = r0 + 1 if symmetric else 0
            if gbits[g] > 0:
                fastml_lev_wide_build(&wides[tid], <unsigned char *>&wscratch[tid, 0], xp,
                                      &xo[0], &perm[r0], <int>nr, <int>gbits[g])
                c = c0
                while c < m:
                    if (c & 255) < 4 and (stopped(stop) or (tid == 0 and check_signals(stop))):
                        break
                    nc = min(4, m - c)
                    _wide_columns(&wides[tid], ywp, &yo[0], &cols[0], nc,
                                  <const uint32_t **>&txs[tid, 0], &tls[tid, 0], &res[tid, 0],
                                  c)
                    for t in range(nc):
                        i = cols[c + t]
                        for l in range(nr):
                            if not symmetric or c + t > r0 + l:
                                out[perm[r0 + l], i] = <int32_t>res[tid, t * 64 + l]
                    c = c + nc
            elif _group_ok(&xo[0], &perm[r0], nr):
                fastml_lev_group_build(&grps[tid], &gscratch[tid, 0], xp, &xo[0], &perm[r0],
                                       <int>nr)
                for c in range(c0, m):
                    if (c & 63) == 0 and (stopped(stop) or (tid == 0 and check_signals(stop))):
                        break
                    i = cols[c]
                    fastml_lev_group_distances(&grps[tid], yp + yo[i], yo[i + 1] - yo[i],
                                               &res[tid, 0])
                    for l in range(nr):
                        if not symmetric or c > r0 + l:
                            out[perm[r0 + l], i] = <int32_t>res[tid, l]
            else:
                for l in range(nr):
                    r = perm[r0 + l]
                    fastml_lev_build(&pats[tid], &scratch[tid, 0], xp + xo[r],
                                     xo[r + 1] - xo[r])
                    for c in range(r0 + l + 1 if symmetric else 0, m):
                        if (c & 63) == 0 and (stopped(stop) or (
                                tid == 0 and check_signals(stop))):
                            break
                        i = cols[c]
                        out[r, i] = <int32_t>fastml_lev_distance(&pats[tid], yp + yo[i],
                                                                 yo[i + 1] - yo[i])
    if stopped(stop):
        raise_pending()
    if symmetric:
        _symmetrize_max_int32(out, n_threads)


def _symmetrize_max_int32(int32_t[:, ::1] out, int n_threads):
    """out[i, j] = out[j, i] = max of the two (one of them is the -1 placeholder);
    zero diagonal. Blocked, parallel over block rows."""
    cdef int64_t n = out.shape[0], B = 64, nb = (n + 63) // 64
    cdef int64_t bi, bj, i, j, iend, jend
    cdef int32_t v
    with nogil:
        for bi in prange(nb, schedule="dynamic", num_threads=n_threads):
            iend = min(n, (bi + 1) * B)
            for bj in range(bi + 1):
                jend = min(n, (bj + 1) * B)
                for i in range(bi * B, iend):
                    for j in range(bj * B, min(jend, i)):
                        v = max(out[i, j], out[j, i])
                        out[i, j] = v
                        out[j, i] = v
                    if bj == bi:
                        out[i, i] = 0


def levenshtein_pair(const uint32_t[::1] a, const uint32_t[::1] b):
    """One distance; the longer sequence is the text, the shorter the pattern."""
    if a.shape[0] > b.shape[0]:
        a, b = b, a
    cdef int64_t m = a.shape[0], n = b.shape[0]
    if m == 0:
        return int(n)
    cdef uint64_t[::1] scratch = np.empty(fastml_lev_scratch_words(m), dtype=np.uint64)
    cdef fastml_lev_pattern P
    cdef int64_t r
    with nogil:
        fastml_lev_build(&P, &scratch[0], &a[0], m)
        r = fastml_lev_distance(&P, &b[0] if n > 0 else NULL, n)
    return int(r)


cdef inline void _push_int(int32_t *hd, int64_t *hi, int64_t k, int32_t v,
                           int64_t j) noexcept nogil:
    """Push (v, j) into a max-heap on (distance, index) if it beats the top."""
    if v < hd[0] or (v == hd[0] and (hi[0] < 0 or j < hi[0])):
        heap_replace_top(hd, hi, k, v, j)


def knn_levenshtein(const uint32_t[::1] xs, const int64_t[::1] xo, const uint32_t[::1] ys,
                    const int64_t[::1] yo, int32_t[:, ::1] dist, int64_t[:, ::1] ind,
                    int n_threads):
    """The k nearest train sequences (ys) of every query (xs), parallel over groups of
    queries of similar length (_lev_groups; wide groups against four train items at a
    time, train taken by length). Heaps ordered by (distance, index), so equal distances
    keep the smaller index whatever the visiting order. Memory: the (n, k) result and
    per-thread scratch only."""
    cdef int64_t n = xo.shape[0] - 1, m = yo.shape[0] - 1, k = dist.shape[1], L = 0
    cdef int64_t g, r0, nr, r, l, j, c, tid, nc, t
    cdef int32_t v
    cdef const uint32_t *xp = &xs[0] if xs.shape[0] > 0 else NULL
    cdef const uint32_t *yp = &ys[0] if ys.shape[0] > 0 else NULL
    dist[:, :] = np.iinfo(np.int32).max
    ind[:, :] = -1
    if n == 0 or m == 0:
        return
    for r in range(n):
        L = max(L, xo[r + 1] - xo[r])
    perm_np, starts_np, sizes_np, bits_np = _lev_groups(xs, xo)
    cdef int64_t[::1] perm = perm_np
    cdef int64_t[::1] gstart = starts_np
    cdef int64_t[::1] gsize = sizes_np
    cdef int64_t[::1] gbits = bits_np
    cdef int64_t ngroups = gstart.shape[0]
    cdef int64_t[::1] cols = np.argsort(np.diff(np.asarray(yo)), kind="stable").astype(np.int64)
    cdef uint64_t[:, ::1] gscratch = np.empty((n_threads, fastml_lev_group_scratch_words()),
                                              dtype=np.uint64)
    cdef uint64_t[:, ::1] scratch = np.empty((n_threads, fastml_lev_scratch_words(L)),
                                             dtype=np.uint64)
    cdef uint64_t[:, ::1] wscratch = np.empty(
        (n_threads, fastml_lev_wide_scratch_bytes() // 8), dtype=np.uint64)
    cdef const uint32_t[::1] yw = _wide_offsets(ys)
    cdef const uint32_t *ywp = &yw[0] if yw.shape[0] > 0 else NULL
    cdef int64_t[:, ::1] res = np.empty((n_threads, 4 * 64), dtype=np.int64)
    cdef int64_t[:, ::1] tls = np.empty((n_threads, 8), dtype=np.int64)
    cdef uint64_t[:, ::1] txs = np.empty((n_threads, 8), dtype=np.uint64)
    cdef uint8_t[::1] pat_bytes = np.empty(n_threads * PSIZE, dtype=np.uint8)
    cdef fastml_lev_pattern *pats = <fastml_lev_pattern *>&pat_bytes[0]
    cdef uint8_t[::1] grp_bytes = np.empty(n_threads * GSIZE, dtype=np.uint8)
    cdef fastml_lev_group *grps = <fastml_lev_group *>&grp_bytes[0]
    cdef uint8_t[::1] wide_bytes = np.empty(n_threads * WSIZE, dtype=np.uint8)
    cdef fastml_lev_wide *wides = <fastml_lev_wide *>&wide_bytes[0]
    cdef int stop_flag = 0
    cdef int *stop = &stop_flag
    with nogil:
        for g in prange(ngroups, schedule="dynamic", num_threads=n_threads):
            tid = omp_get_thread_num()
            r0 = gstart[g]
            nr = gsize[g]
            if gbits[g] > 0:
                fastml_lev_wide_build(&wides[tid], <unsigned char *>&wscratch[tid, 0], xp,
                                      &xo[0], &perm[r0], <int>nr, <int>gbits[g])
                c = 0
                while c < m:
                    if (c & 255) < 4 and (stopped(stop) or (tid == 0 and check_signals(stop))):
                        break
                    nc = min(4, m - c)
                    _wide_columns(&wides[tid], ywp, &yo[0], &cols[0], nc,
                                  <const uint32_t **>&txs[tid, 0], &tls[tid, 0], &res[tid, 0],
                                  c)
                    for t in range(nc):
                        j = cols[c + t]
                        for l in range(nr):
                            r = perm[r0 + l]
                            _push_int(&dist[r, 0], &ind[r, 0], k, <int32_t>res[tid, t * 64 + l],
                                      j)
                    c = c + nc
            elif _group_ok(&xo[0], &perm[r0], nr):
                fastml_lev_group_build(&grps[tid], &gscratch[tid, 0], xp, &xo[0], &perm[r0],
                                       <int>nr)
                for j in range(m):
                    if (j & 63) == 0 and (stopped(stop) or (tid == 0 and check_signals(stop))):
                        break
                    fastml_lev_group_distances(&grps[tid], yp + yo[j], yo[j + 1] - yo[j],
                                               &res[tid, 0])
                    for l in range(nr):
                        r = perm[r0 + l]
                        _push_int(&dist[r, 0], &ind[r, 0], k, <int32_t>res[tid, l], j)
            else:
                for l in range(nr):
                    r = perm[r0 + l]
                    fastml_lev_build(&pats[tid], &scratch[tid, 0], xp + xo[r],
                                     xo[r + 1] - xo[r])
                    for j in range(m):
                        if (j & 63) == 0 and (stopped(stop) or (
                                tid == 0 and check_signals(stop))):
                            break
                        v = <int32_t>fastml_lev_distance(&pats[tid], yp + yo[j],
                                                         yo[j + 1] - yo[j])
                        _push_int(&dist[r, 0], &ind[r, 0], k, v, j)
            for l in range(nr):
                sort_pairs(&dist[perm[r0 + l], 0], &ind[perm[r0 + l], 0], k)
    if stopped(stop):
        raise_pending()


cdef inline floating _dtw(const floating *xs, const int64_t *xo, int64_t i,
                          const floating *ys, const int64_t *yo, int64_t j, int64_t dim,
                          int64_t window, floating *buf) noexcept nogil:
    if floating is float:
        return fastml_dtw_f32(xs + xo[i] * dim, xo[i + 1] - xo[i], ys + yo[j] * dim,
                              yo[j + 1] - yo[j], dim, window, buf)
    else:
        return fastml_dtw_f64(xs + xo[i] * dim, xo[i + 1] - xo[i], ys + yo[j] * dim,
                              yo[j + 1] - yo[j], dim, window, buf)


def dtw_matrix(const floating[:, ::1] xs, const int64_t[::1] xo, const floating[:, ::1] ys,
               const int64_t[::1] yo, floating[:, ::1] out, int64_t window, bint symmetric,
               int n_threads):
    """out[i, j] = DTW(x_i, y_j); frames are rows of xs / ys (dim columns)."""
    cdef int64_t n = xo.shape[0] - 1, m = yo.shape[0] - 1, dim = xs.shape[1]
    cdef int64_t i, j, j0, tid, L = 0
    for j in range(m):
        L = max(L, yo[j + 1] - yo[j])
    dtype = np.float32 if floating is float else np.float64
    cdef floating[:, ::1] scratch = np.empty((n_threads, 2 * (L + 1)), dtype=dtype)
    cdef int stop_flag = 0
    cdef int *stop = &stop_flag
    with nogil:
        for i in prange(n, schedule="dynamic", num_threads=n_threads):
            tid = omp_get_thread_num()
            if symmetric:
                out[i, i] = 0
                j0 = i + 1
            else:
                j0 = 0
            for j in range(j0, m):
                if stopped(stop) or (tid == 0 and (j & 7) == 0 and check_signals(stop)):
                    break
                out[i, j] = _dtw(&xs[0, 0], &xo[0], i, &ys[0, 0], &yo[0], j, dim, window,
                                 &scratch[tid, 0])
                if symmetric:
                    out[j, i] = out[i, j]
    if stopped(stop):
        raise_pending()


def knn_dtw(const floating[:, ::1] xs, const int64_t[::1] xo, const floating[:, ::1] ys,
            const int64_t[::1] yo, floating[:, ::1] dist, int64_t[:, ::1] ind,
            int64_t window, int n_threads):
    cdef int64_t n = xo.shape[0] - 1, m = yo.shape[0] - 1, dim = xs.shape[1]
    cdef int64_t k = dist.shape[1], i, j, tid, L = 0
    cdef floating v
    for j in range(m):
        L = max(L, yo[j + 1] - yo[j])
    dtype = np.float32 if floating is float else np.float64
    cdef floating[:, ::1] scratch = np.empty((n_threads, 2 * (L + 1)), dtype=dtype)
    cdef int stop_flag = 0
    cdef int *stop = &stop_flag
    dist[:, :] = INFINITY
    ind[:, :] = -1
    with nogil:
        for i in prange(n, schedule="dynamic", num_threads=n_threads):
            tid = omp_get_thread_num()
            for j in range(m):
                if stopped(stop) or (tid == 0 and (j & 7) == 0 and check_signals(stop)):
                    break
                v = _dtw(&xs[0, 0], &xo[0], i, &ys[0, 0], &yo[0], j, dim, window,
                         &scratch[tid, 0])
                if v < dist[i, 0]:
                    heap_replace_top(&dist[i, 0], &ind[i, 0], k, v, j)
            sort_pairs(&dist[i, 0], &ind[i, 0], k)
    if stopped(stop):
        raise_pending()


def gemm_rows(const floating[:, ::1] X, const floating[:, ::1] Y, floating[:, ::1] out,
              double alpha, int64_t bx, int n_threads):
    """out = alpha X Y^T by blocks of bx rows of X, one BLAS thread each: the blocks do
    not depend on the thread count, so neither do the bits of the result."""
    cdef int64_t n = X.shape[0], m = Y.shape[0], d = X.shape[1]
    cdef int64_t c, i0, nchunks = (n + bx - 1) // bx
    if n == 0 or m == 0:
        return
    if d == 0:
        out[:, :] = 0
        return
    with nogil:
        for c in prange(nchunks, schedule="dynamic", num_threads=n_threads):
            i0 = c * bx
            gemm_block(&X[i0, 0], <int>min(bx, n - i0), &Y[0, 0], <int>m, <int>d, &out[i0, 0],
                       alpha)
