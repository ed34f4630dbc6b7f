# distutils: sources = csrc/pairwise.c
"""Compiled hot loops of fastml.metrics (inputs are validated by fastml.metrics.pairwise).

Every function here assumes C-contiguous, finite, correctly shaped arrays of one
floating dtype; the Python layer guarantees that before calling.
"""
cimport cython
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport INFINITY, pow
from libc.stdint cimport int32_t, int64_t, uint8_t
from libc.string cimport memset
from scipy.linalg.cython_blas cimport dgemm, dsyrk, sgemm, ssyrk

from fastml.utils._interrupt cimport check_signals, raise_pending, stopped
from fastml.utils._openmp_helpers cimport omp_get_thread_num

import numpy as np

from fastml.utils._csrc cimport (
    FASTML_GRAM_NONE, FASTML_GRAM_POWI, FASTML_GRAM_RBF, FASTML_GRAM_TANH, FASTML_OP_L3,
    FASTML_OP_L4, FASTML_OP_LINF, FASTML_OP_NEQ, FASTML_OP_SQL2, FASTML_POST_EXP,
    FASTML_POST_NEG, FASTML_POST_NONE, fastml_affine_powi_f32, fastml_affine_powi_f64,
    fastml_affine_tanh_f32, fastml_affine_tanh_f64, fastml_exp, fastml_exp_scaled_f32,
    fastml_exp_scaled_f64, fastml_expf, fastml_gram_post_f32, fastml_gram_post_f64,
    fastml_l2_normalize_rows_f32, fastml_l2_normalize_rows_f64, fastml_mirror_tile_f32,
    fastml_mirror_tile_f64, fastml_rbf_row_f32, fastml_rbf_row_f64, fastml_reduce_tile_f32,
    fastml_reduce_tile_f64, fastml_row_stats_f32, fastml_row_stats_f64,
    fastml_tile_chi2_f32, fastml_tile_chi2_f64, fastml_tile_l1_f32, fastml_tile_l1_f64,
    fastml_tile_min_f32, fastml_tile_min_f64,
)


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

# Below about this many operations a parallel region costs more than it saves (and on a
# busy machine a descheduled thread can hold the others at the barrier for milliseconds):
# such calls run on one thread. The work split never depends on the thread count, so
# neither does the result.
cdef double MIN_PARALLEL_WORK = 262144.0


cdef inline int _team(int n_threads, int64_t items, double work) noexcept nogil:
    """Threads for a parallel loop of ``items`` iterations and ``work`` operations."""
    if work < MIN_PARALLEL_WORK or items < 2:
        return 1
    return <int>min(<int64_t>n_threads, items)


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
    cdef int stop_flag = 0
    cdef int *stop = &stop_flag
    with nogil:
        for t in prange(T.shape[0], schedule="dynamic",
                        num_threads=_team(n_threads, T.shape[0], <double>n * m * d)):
            if stopped(stop):
                continue
            if omp_get_thread_num() == 0 and t % 16 == 0 and check_signals(stop):
                continue
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
    if stopped(stop):
        raise_pending()


# ----------------------------------------------------------------------------------------
# GEMM kernels in fixed tiles: BLAS (one thread, set by the caller) per tile inside our own
# parallel loop, the element-wise map and the mirroring applied to the tile while it is in
# cache. The tiles depend on the shapes only, so every entry is computed by the same
# sequence of operations whatever the number of threads: the result has the same bits.
# ----------------------------------------------------------------------------------------
GRAM_NONE = FASTML_GRAM_NONE
GRAM_RBF = FASTML_GRAM_RBF
GRAM_POWI = FASTML_GRAM_POWI
GRAM_TANH = FASTML_GRAM_TANH


def row_stats(const floating[:, ::1] X, floating[::1] sq, int n_threads):
    """sq[i] = ||X[i]||^2 (one pass, rows split among threads, each row summed in one
    fixed order); returns (min, max) of X's values (NaN never enters them: it shows in
    sq)."""
    cdef int64_t n = X.shape[0], d = X.shape[1], nb = (n + 63) // 64, b, r0, nr
    dtype = np.float32 if floating is float else np.float64
    cdef floating[:, ::1] part = np.empty((max(nb, 1), 2), dtype=dtype)
    cdef floating big = <floating>INFINITY
    with nogil:
        # (a memory-bound pass: a parallel region pays off only on large arrays)
        for b in prange(nb, schedule="static",
                        num_threads=_team(n_threads, nb, <double>n * d / 16)):
            r0 = b * 64
            nr = min(64, n - r0)
            part[b, 0] = big
            part[b, 1] = -big
            if floating is float:
                fastml_row_stats_f32(&X[r0, 0], nr, d, &sq[r0], &part[b, 0])
            else:
                fastml_row_stats_f64(&X[r0, 0], nr, d, &sq[r0], &part[b, 0])
    lo, hi = float(big), -float(big)
    for b in range(nb):
        lo = min(lo, part[b, 0])
        hi = max(hi, part[b, 1])
    return lo, hi


def l2_normalize_rows(const floating[:, ::1] X, floating[:, ::1] out):
    """out[i] = X[i] / ||X[i]|| (zero rows stay zero; exact power-of-two prescaling)."""
    cdef int64_t n = X.shape[0], d = X.shape[1]
    if n == 0 or d == 0:
        return
    with nogil:
        if floating is float:
            fastml_l2_normalize_rows_f32(&X[0, 0], n, d, &out[0, 0])
        else:
            fastml_l2_normalize_rows_f64(&X[0, 0], n, d, &out[0, 0])


cdef int64_t _blocks_of(int64_t n, int64_t count) noexcept:
    """The block size that splits n into ``count`` blocks, rounded up to 32 rows."""
    cdef int64_t b = (n + count - 1) // count
    return max(1, min(n, ((b + 31) // 32) * 32))


# The most multiply-adds one tile may hold (~0.1 s of one core): Ctrl-C is looked for
# between tiles, and a tile is the unit of load balance.
GRAM_TILE_WORK = 1 << 32


def gram_tile_list(int64_t n, int64_t m, int64_t d, bint symmetric, int64_t bi=0,
                   int64_t bj=0):
    """The tiles (i0, j0, ni, nj) of an n x m Gram matrix of d features: a function of
    the shapes only, never of the thread count.

    Every BLAS call packs both of its operands again, and the smaller the call the
    further it runs below one whole-matrix call (measured with OpenBLAS on AVX-512: ~2%
    for 1000 x 2500 x 784, ~7% for 2000 x 1280, ~15% for 512 x 1024), so tiles are as
    large as possible: at most 2048 rows of X by 4096 rows of Y and GRAM_TILE_WORK
    multiply-adds, split further only until there are four tiles (two threads busy twice
    over), halving the longer side each time (a chunk of Y rows counting as 2/3 of its
    length: splitting Y costs more), never below 32 rows. K(X, X): per block of rows, the
    diagonal block (i0 == j0, its upper triangle, by SYRK), then the columns to its right
    in equal chunks; at least two blocks. ``bi``/``bj`` force the sizes (tests)."""
    cdef int64_t a, b, BI, BJ, rest, step
    cdef double work = <double>GRAM_TILE_WORK / max(d, 1)  # ni * nj at most
    if symmetric:
        a = max((n + 2047) // 2048, 2 if n >= 64 else 1)
        while <double>_blocks_of(n, a) * _blocks_of(n, a) > work and _blocks_of(n, 2 * a) >= 32:
            a *= 2
        BI = bi if bi > 0 else _blocks_of(n, a)
        BJ = bj if bj > 0 else max(32, min(4096, <int64_t>(work / BI)))
    else:
        a = (n + 2047) // 2048
        b = (m + 4095) // 4096
        while a * b < 4 or <double>_blocks_of(n, a) * _blocks_of(m, b) > work:
            if 3 * _blocks_of(n, a) >= 2 * _blocks_of(m, b) and _blocks_of(n, 2 * a) >= 32:
                a *= 2
            elif _blocks_of(m, 2 * b) >= 32:
                b *= 2
            else:
                break
        BI = bi if bi > 0 else _blocks_of(n, a)
        BJ = bj if bj > 0 else _blocks_of(m, b)
    tiles = []
    for i0 in range(0, n, BI):
        ni = min(BI, n - i0)
        if symmetric:
            tiles.append((i0, i0, ni, ni))
            rest = n - i0 - ni
            step = _blocks_of(rest, (rest + BJ - 1) // BJ) if rest > 0 else BJ
            for j0 in range(i0 + ni, n, step):
                tiles.append((i0, j0, ni, min(step, n - j0)))
        else:
            for j0 in range(0, m, BJ):
                tiles.append((i0, j0, ni, min(BJ, m - j0)))
    return np.array(tiles, dtype=np.int64).reshape(-1, 4)


cdef inline void _gemm_tile(const floating *X, int ni, const floating *Y, int nj, int d,
                            floating *C, int ldc) noexcept nogil:
    # C (ni x nj, row-major, stride ldc) = X Y^T: column-major C^T = Y^T' X with
    # the row-major Y (nj x d) read as the column-major d x nj matrix, transposed.
    cdef char ta = b'T', tb = b'N'
    cdef double a64 = 1.0, b64 = 0.0
    cdef float a32 = 1.0, b32 = 0.0
    if floating is float:
        sgemm(&ta, &tb, &nj, &ni, &d, &a32, <float *>Y, &d, <float *>X, &d, &b32,
              <float *>C, &ldc)
    else:
        dgemm(&ta, &tb, &nj, &ni, &d, &a64, <double *>Y, &d, <double *>X, &d, &b64,
              <double *>C, &ldc)


cdef inline void _syrk_tile(const floating *X, int ni, int d, floating *C,
                            int ldc) noexcept nogil:
    # the upper triangle (row-major) of C = X X^T: column-major lower of A^T A, A = X^T
    cdef char uplo = b'L', trans = b'T'
    cdef double a64 = 1.0, b64 = 0.0
    cdef float a32 = 1.0, b32 = 0.0
    if floating is float:
        ssyrk(&uplo, &trans, &ni, &d, &a32, <float *>X, &d, &b32, <float *>C, &ldc)
    else:
        dsyrk(&uplo, &trans, &ni, &d, &a64, <double *>X, &d, &b64, <double *>C, &ldc)


def gram_tiles(const floating[:, ::1] X, const floating[:, ::1] Y, floating[:, ::1] out,
               bint symmetric, int kind, const floating[::1] a, const floating[::1] b,
               double p0, double p1, int ip, int n_threads, int64_t bi=0, int64_t bj=0):
    """out = post(X @ Y.T) (Y ignored when symmetric: K(X, X), every tile on or above
    the diagonal computed once and mirrored). ``kind``/``a``/``b``/``p0``/``p1``/``ip``:
    the map of fastml_gram_post (GRAM_*; ``a``/``b`` the squared norms of X's / Y's rows
    for GRAM_RBF, else unused). BLAS must be limited to one thread by the caller."""
    cdef int64_t n = X.shape[0], d = X.shape[1]
    cdef int64_t m = n if symmetric else Y.shape[0]
    if n == 0 or m == 0:
        return
    cdef const int64_t[:, ::1] T = gram_tile_list(n, m, d, symmetric, bi, bj)
    cdef const floating *Xp = &X[0, 0]
    cdef const floating *Yp = Xp if symmetric else &Y[0, 0]
    cdef const floating *ap = &a[0]
    cdef const floating *bp = &b[0]
    cdef floating *o = &out[0, 0]
    cdef floating q0 = <floating>p0, q1 = <floating>p1
    cdef int64_t ntiles = T.shape[0], t
    cdef int64_t i0, j0, ni, nj
    cdef bint diag
    cdef int stop_flag = 0
    cdef int *stop = &stop_flag
    with nogil:
        for t in prange(ntiles, schedule="dynamic",
                        num_threads=_team(n_threads, ntiles, <double>n * m * d)):
            if stopped(stop):
                continue
            if omp_get_thread_num() == 0 and check_signals(stop):
                continue
            i0 = T[t, 0]
            j0 = T[t, 1]
            ni = T[t, 2]
            nj = T[t, 3]
            diag = symmetric and i0 == j0
            if diag:
                _syrk_tile(Xp + i0 * d, <int>ni, <int>d, o + i0 * m + i0, <int>m)
            else:
                _gemm_tile(Xp + i0 * d, <int>ni, Yp + j0 * d, <int>nj, <int>d,
                           o + i0 * m + j0, <int>m)
            if floating is float:
                fastml_gram_post_f32(o + i0 * m + j0, m, ni, nj, diag, kind, ap + i0,
                                     bp + j0, q0, q1, ip)
                if symmetric:
                    fastml_mirror_tile_f32(o, m, i0, j0, ni, nj)
            else:
                fastml_gram_post_f64(o + i0 * m + j0, m, ni, nj, diag, kind, ap + i0,
                                     bp + j0, q0, q1, ip)
                if symmetric:
                    fastml_mirror_tile_f64(o, m, i0, j0, ni, nj)
    if stopped(stop):
        raise_pending()


def gram_post(floating[:, ::1] K, int kind, const floating[::1] a, const floating[::1] b,
              double p0, double p1, int ip, int n_threads):
    """The map of gram_tiles applied to a whole computed Gram matrix (sparse input),
    blocks of rows in parallel."""
    cdef int64_t n = K.shape[0], m = K.shape[1], nb = (n + 15) // 16, blk, r0
    cdef floating q0 = <floating>p0, q1 = <floating>p1
    if n == 0 or m == 0 or kind == FASTML_GRAM_NONE:
        return
    with nogil:
        for blk in prange(nb, schedule="static",
                          num_threads=_team(n_threads, nb, 16.0 * n * m)):
            r0 = blk * 16
            if floating is float:
                fastml_gram_post_f32(&K[r0, 0], m, min(16, n - r0), m, 0, kind, &a[r0],
                                     &b[0], q0, q1, ip)
            else:
                fastml_gram_post_f64(&K[r0, 0], m, min(16, n - r0), m, 0, kind, &a[r0],
                                     &b[0], q0, q1, ip)


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
        for bi in prange(nb, schedule="dynamic", num_threads=_team(n_threads, nb, <double>n * n)):
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
        for i in prange(n, schedule="dynamic", chunksize=16,
                        num_threads=_team(n_threads, n, 16.0 * n * m)):
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
        for i in prange(n, schedule="dynamic", chunksize=16,
                        num_threads=_team(n_threads, n, 16.0 * n * m)):
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
        for i in prange(n, schedule="dynamic", chunksize=16,
                        num_threads=_team(n_threads, n, 16.0 * n * m)):
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
        for i in prange(n, schedule="dynamic", chunksize=4,
                        num_threads=_team(n_threads, n, 8.0 * n * m + xptr[n] + yptr[m])):
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
                        # 4 x (y / s): no overflow or underflow of x y (a NaN, from
                        # input that was not checked, stays NaN)
                        if not s <= 0:
                            acc = acc + 4 * xv * (yv / s)
                    v = xsum[i] + ysum[j] - acc
                    v = 0 if v < 0 else v
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
        for i in prange(n, schedule="dynamic", chunksize=1,
                        num_threads=_team(n_threads, n, 4.0 * n * m * d)):
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
