# distutils: sources = csrc/svm.c csrc/pairwise.c
"""The dual solver of fastml.svm: batched working sets over a bounded cache of kernel rows.

One problem (see csrc/fastml_svm.h for its form) is solved by outer steps:

1. the optimality gap of all variables (libsvm's stopping rule: stop below ``tol``) and a
   working set: the most violating variables by first-order selection, half of the
   previous working set kept (the idea of ThunderSVM's and oneDAL's "thunder" solvers:
   Wen et al., "ThunderSVM", JMLR 2018);
2. the kernel rows of its samples that the cache lacks, computed in ONE batched call of the
   kernel provider (a GEMM for dot-product kernels, tiled reductions, string postings...);
3. SMO with libsvm's second-order pair selection on the working set's block of Q;
4. the gradient of every variable updated from the rows of the variables that moved, in
   parallel over fixed column blocks (the same sums in the same order for any thread
   count: results are bitwise identical whatever ``n_jobs``).

A problem no larger than one working set is solved by plain SMO over all its variables,
which takes libsvm's own steps. Kernel rows live in a cache of whole rows bounded by the
caller (``cache_size``); the solver never holds an n x n matrix beyond that bound.
"""
cimport cython
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport pow
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uintptr_t
from scipy.linalg.cython_blas cimport dgemm, sgemm

from fastml.utils._interrupt cimport check_signals, raise_pending, stopped

import numpy as np

cdef extern from "Python.h":
    int PyErr_CheckSignals() except -1

from fastml.utils._csrc cimport (
    fastml_affine_powi_f32, fastml_affine_powi_f64, fastml_affine_tanh_f32,
    fastml_affine_tanh_f64, fastml_chi2_support_f32, fastml_chi2_support_f64,
    fastml_chi2_support_width, fastml_rbf_row_f32, fastml_rbf_row_f64, fastml_reduce_tile_f32,
    fastml_reduce_tile_f64, fastml_svm_gap, fastml_svm_gather_f32, fastml_svm_gather_f64,
    fastml_svm_gemv_f32, fastml_svm_gemv_f64, fastml_svm_rho, fastml_svm_select,
    fastml_svm_smo_f32, fastml_svm_smo_f64,
)


# Kernel rows are computed in fixed tiles of columns (one BLAS thread per tile, BLAS
# capped to one thread by the caller), the kernel's map applied to each tile while it is in
# cache: the same value for every entry whatever the number of threads.
cdef int64_t ROW_TILE = 256
KIND_LINEAR = 0
KIND_RBF = 1
KIND_POLY = 2
KIND_SIGMOID = 3


cdef inline void _gemm_tile(const floating *A, int r, const floating *Zt, int tc, int d,
                            floating *out, int ldc) noexcept nogil:
    # row-major out (r x tc, row stride ldc) = A (r x d) Zt^T, i.e. column-major
    # out^T (tc x r) = Zt (tc x d, stored as d x tc) ^T A^T
    cdef char ta = b'T', tb = b'N'
    cdef float a32 = 1, b32 = 0
    cdef double a64 = 1, b64 = 0
    if floating is float:
        sgemm(&ta, &tb, &tc, &r, &d, &a32, <float *>Zt, &d, <float *>A, &d, &b32, out, &ldc)
    else:
        dgemm(&ta, &tb, &tc, &r, &d, &a64, <double *>Zt, &d, <double *>A, &d, &b64, out,
              &ldc)


def gemm_rows(const floating[:, ::1] A, const floating[:, ::1] Z, floating[:, ::1] out,
              int kind, const floating[::1] aa, const floating[::1] zz, double gamma,
              double coef0, double degree, int n_threads, int64_t col0=0):
    """out[:, col0:col0 + len(Z)] = k(A, Z) for the dot-product kernels: kind 0 <a, z>;
    1 exp(-gamma (aa_i + zz_j - 2 <a, z>)); 2 (gamma <a, z> + coef0) ** degree;
    3 tanh(gamma <a, z> + coef0)."""
    cdef int64_t r = A.shape[0], d = A.shape[1], m = Z.shape[0], ldo = out.shape[1]
    cdef int64_t nt = (m + ROW_TILE - 1) // ROW_TILE, t, j0, tc, i, j
    cdef int p = <int>degree if 0 <= degree <= 64 else -1
    cdef bint int_degree = degree == <double>p and p >= 0
    if r == 0 or m == 0:
        return
    if col0 < 0 or col0 + m > ldo or out.shape[0] != r:
        raise ValueError("gemm_rows: the output block does not fit")
    if d == 0:
        out[:, col0:col0 + m] = 0
    with nogil:
        for t in prange(nt, schedule="dynamic", num_threads=n_threads):
            j0 = t * ROW_TILE
            tc = min(ROW_TILE, m - j0)
            if d > 0:
                _gemm_tile(&A[0, 0], <int>r, &Z[j0, 0], <int>tc, <int>d, &out[0, col0 + j0],
                           <int>ldo)
            if kind == 0:
                continue
            for i in range(r):
                if kind == 1:
                    if floating is float:
                        fastml_rbf_row_f32(&out[i, col0 + j0], &zz[j0], tc, aa[i],
                                           <float>gamma)
                    else:
                        fastml_rbf_row_f64(&out[i, col0 + j0], &zz[j0], tc, aa[i], gamma)
                elif kind == 3:
                    if floating is float:
                        fastml_affine_tanh_f32(&out[i, col0 + j0], tc, <float>gamma,
                                               <float>coef0)
                    else:
                        fastml_affine_tanh_f64(&out[i, col0 + j0], tc, gamma, coef0)
                elif int_degree:
                    if floating is float:
                        fastml_affine_powi_f32(&out[i, col0 + j0], tc, <float>gamma,
                                               <float>coef0, p)
                    else:
                        fastml_affine_powi_f64(&out[i, col0 + j0], tc, gamma, coef0, p)
                else:
                    for j in range(col0 + j0, col0 + j0 + tc):
                        out[i, j] = <floating>pow(<floating>(gamma * out[i, j] + coef0),
                                                  degree)


def tile_rows(const floating[:, ::1] A, const floating[:, ::1] Z, floating[:, ::1] out,
              int op, int post, double scale, int64_t block, int n_threads,
              int64_t col0=0):
    """out[i, col0 + j] = post(sum_k op(A[i, k], Z[j, k])) by tiles of block x block
    (fastml's SIMD reduction tiles)."""
    cdef int64_t r = A.shape[0], d = A.shape[1], m = Z.shape[0], ldo = out.shape[1]
    cdef int64_t nbi = (r + block - 1) // block, nbj = (m + block - 1) // block
    cdef int64_t t, bi, bj, i0, j0
    cdef floating fs = <floating>scale
    if r == 0 or m == 0:
        return
    if col0 < 0 or col0 + m > ldo or out.shape[0] != r:
        raise ValueError("tile_rows: the output block does not fit")
    with nogil:
        for t in prange(nbi * nbj, schedule="dynamic", num_threads=n_threads):
            bj = t // nbi
            bi = t - bj * nbi
            i0 = bi * block
            j0 = bj * block
            if floating is float:
                fastml_reduce_tile_f32(op, &A[i0, 0], min(block, r - i0), &Z[j0, 0],
                                       min(block, m - j0), d, &out[i0, col0 + j0], NULL, ldo,
                                       post, fs)
            else:
                fastml_reduce_tile_f64(op, &A[i0, 0], min(block, r - i0), &Z[j0, 0],
                                       min(block, m - j0), d, &out[i0, col0 + j0], NULL, ldo,
                                       post, fs)


def chi2_support_width(bint dbl):
    """The column block of the chi-squared-by-supports loops: Yt needs this many
    zero columns past the last one read."""
    return fastml_chi2_support_width(dbl)


# chi-squared by supports: columns and queries per task (fixed: the same sums whatever the
# number of threads)
cdef int64_t CHI2S_COLS = 1024
cdef int64_t CHI2S_ROWS = 32


def chi2_support_rows(const int64_t[::1] rows, const int64_t[::1] qptr,
                      const int32_t[::1] qcol, const floating[::1] qval,
                      const double[::1] qsum, const floating[:, ::1] Yt,
                      const double[::1] ysum, int64_t j0, int64_t j1, floating[:, ::1] out,
                      int64_t col0, int post, double scale, int n_threads):
    """out[i, col0 + j - j0] = post(chi-squared of row rows[i] of the CSR matrix (qptr,
    qcol, qval; qsum its row sums) and column j of Yt) for j0 <= j < j1
    (fastml_chi2_support_*; Yt feature-major with at least chi2_support_width zero
    columns past j1 - 1)."""
    cdef int64_t r = rows.shape[0], ldy = Yt.shape[1], ldo = out.shape[1]
    cdef int64_t w = j1 - j0
    cdef int64_t width = fastml_chi2_support_width(floating is double)
    if r <= 0 or w <= 0:
        return
    if j0 < 0 or j1 + width - 1 > ldy or ysum.shape[0] < j1 or col0 < 0 or col0 + w > ldo \
            or out.shape[0] != r or qsum.shape[0] != qptr.shape[0] - 1 \
            or np.min(rows) < 0 or np.max(rows) >= qsum.shape[0]:
        raise ValueError("chi2_support_rows: the blocks do not fit")
    cdef int64_t nbi = (r + CHI2S_ROWS - 1) // CHI2S_ROWS
    cdef int64_t nbj = (w + CHI2S_COLS - 1) // CHI2S_COLS
    cdef int64_t t, bi, bj, i0, c0, c1
    cdef const floating *yt = &Yt[0, 0]
    with nogil:
        for t in prange(nbi * nbj, schedule="dynamic", num_threads=n_threads):
            bj = t // nbi
            bi = t - bj * nbi
            i0 = bi * CHI2S_ROWS
            c0 = j0 + bj * CHI2S_COLS
            c1 = min(c0 + CHI2S_COLS, j1)
            if floating is float:
                fastml_chi2_support_f32(min(CHI2S_ROWS, r - i0), &rows[i0], &qptr[0],
                                        &qcol[0], &qval[0], &qsum[0], yt, ldy, c0, c1,
                                        &ysum[0],
                                        &out[i0, col0 + c0 - j0], ldo, post, scale)
            else:
                fastml_chi2_support_f64(min(CHI2S_ROWS, r - i0), &rows[i0], &qptr[0],
                                        &qcol[0], &qval[0], &qsum[0], yt, ldy, c0, c1,
                                        &ysum[0],
                                        &out[i0, col0 + c0 - j0], ldo, post, scale)


# columns of the gradient update handled by one task (a fixed partition: the sums do not
# depend on the number of threads)
cdef int64_t GEMV_COLS = 2048
# SMO steps between two looks for Ctrl-C
cdef int64_t SMO_CHUNK = 20000


class RowCache:
    """Kernel rows K(x_s, x_0..m-1) of up to ``capacity`` samples s, least recently used
    evicted first. ``provider.rows(idx, out)`` fills out[r] = K(x_idx[r], all)."""

    def __init__(self, provider, capacity):
        self.provider = provider
        self.m = int(provider.m)
        self.capacity = int(max(1, min(capacity, self.m)))
        self.pool = np.empty((self.capacity, self.m), dtype=provider.dtype)
        self.slot_of = np.full(self.m, -1, dtype=np.int64)
        self.owner = np.full(self.capacity, -1, dtype=np.int64)
        self.stamp = np.zeros(self.capacity, dtype=np.int64)
        self.clock = 0
        self.n_computed = 0
        self.n_calls = 0

    def ensure(self, samples):
        """Make the rows of ``samples`` (distinct, at most ``capacity``) present; returns
        their slots. Rows of these samples are never evicted by this call."""
        self.clock += 1
        samples = np.asarray(samples, dtype=np.int64)
        slots = self.slot_of[samples]
        have = slots >= 0
        self.stamp[slots[have]] = self.clock
        missing = samples[~have]
        if missing.size:
            free = np.flatnonzero(self.owner < 0)
            if free.size < missing.size:
                # least recently used among the rows not needed now
                used = np.flatnonzero(self.owner >= 0)
                cand = used[self.stamp[used] < self.clock]
                need = missing.size - free.size
                order = np.argsort(self.stamp[cand], kind="stable")[:need]
                victims = cand[order]
                self.slot_of[self.owner[victims]] = -1
                self.owner[victims] = -1
                free = np.concatenate([free, victims])
            free = np.sort(free[:missing.size])
            block = np.empty((missing.size, self.m), dtype=self.pool.dtype)
            self.provider.rows(missing.astype(np.int32), block)
            if not np.isfinite(block).all():
                raise ValueError(
                    "The kernel is not finite (NaN or infinity) on the training data: its "
                    "parameters (gamma, coef0, degree) are too large for these values, or "
                    "the values themselves are. Rescale X (e.g. StandardScaler) or change "
                    "the kernel's parameters.")
            self.pool[free] = block
            self.owner[free] = missing
            self.slot_of[missing] = free
            self.stamp[free] = self.clock
            slots[~have] = free
            self.n_computed += missing.size
            self.n_calls += 1
        return slots

    def pointers(self, slots):
        """Addresses of the rows in ``slots`` (uintp array)."""
        base = self.pool.ctypes.data
        return (base + slots.astype(np.uintp) * np.uintp(self.m * self.pool.itemsize)).astype(
            np.uintp)


cdef void _gemv_blocks(int64_t nr, const uintptr_t *rows, const double *c, int64_t m,
                       double *g, bint f32, int n_threads) noexcept nogil:
    cdef int64_t nb = (m + GEMV_COLS - 1) // GEMV_COLS, b, u0, u1
    if nr * m < (1 << 21):  # too little work to be worth waking threads
        n_threads = 1
    for b in prange(nb, schedule="static", num_threads=n_threads):
        u0 = b * GEMV_COLS
        u1 = min(m, u0 + GEMV_COLS)
        if f32:
            fastml_svm_gemv_f32(nr, <const float *const *>rows, c, u0, u1, g + u0)
        else:
            fastml_svm_gemv_f64(nr, <const double *const *>rows, c, u0, u1, g + u0)


def _update_gradient(cache, const int32_t[::1] kidx, const int8_t[::1] y, double[::1] G,
                     vars_, coef, int n_threads):
    """G[t] += y_t sum_v coef_v y_v K(x_k(v), x_k(t)) for the variables ``vars_`` (rows
    fetched through the cache, at most its capacity at a time)."""
    vars_ = np.asarray(vars_, dtype=np.int64)
    coef = np.asarray(coef, dtype=np.float64)
    keep = coef != 0
    vars_, coef = vars_[keep], coef[keep]
    if vars_.size == 0:
        return
    kv = np.asarray(kidx)[vars_]
    yv = np.asarray(y)[vars_].astype(np.float64)
    # one coefficient per sample (SVR: both variables of a sample share its row)
    samples, inv = np.unique(kv, return_inverse=True)
    csum = np.zeros(samples.size)
    np.add.at(csum, inv, coef * yv)
    cdef int64_t m = cache.m, l = G.shape[0], t
    cdef double[::1] g = np.empty(m)
    cdef double[::1] cv
    cdef uintptr_t[::1] ptrs
    cdef bint f32 = cache.pool.dtype == np.float32
    cdef int64_t step = cache.capacity, s0
    gacc = np.zeros(m)
    for s0 in range(0, samples.size, step):
        chunk = samples[s0:s0 + step]
        slots = cache.ensure(chunk)
        ptrs = cache.pointers(slots)
        cv = np.ascontiguousarray(csum[s0:s0 + step])
        with nogil:
            _gemv_blocks(ptrs.shape[0], &ptrs[0], &cv[0], m, &g[0], f32, n_threads)
        gacc += np.asarray(g)
    cdef double[::1] ga = gacc
    with nogil:
        for t in range(l):
            G[t] = G[t] + y[t] * ga[kidx[t]]


def _smo(Q, double[::1] QD, const int8_t[::1] y, const double[::1] C, double[::1] alpha,
         double[::1] G, bint nu, double eps, int64_t max_steps):
    """SMO on one block (Ctrl-C looked for every SMO_CHUNK steps). Returns (steps, status):
    1 converged, 2 stalled, 0 out of steps."""
    cdef int64_t n = y.shape[0], done = 0, steps, chunk
    cdef int conv = 0
    cdef uint8_t[::1] st = np.empty(max(n, 1), dtype=np.uint8)
    cdef float[:, ::1] Q32
    cdef double[:, ::1] Q64
    cdef bint f32 = Q.dtype == np.float32
    if f32:
        Q32 = Q
    else:
        Q64 = Q
    while True:
        chunk = min(SMO_CHUNK, max_steps - done)
        with nogil:
            if f32:
                steps = fastml_svm_smo_f32(n, &Q32[0, 0], n, &QD[0], &y[0], &C[0], &alpha[0],
                                           &G[0], &st[0], nu, eps, chunk, &conv)
            else:
                steps = fastml_svm_smo_f64(n, &Q64[0, 0], n, &QD[0], &y[0], &C[0], &alpha[0],
                                           &G[0], &st[0], nu, eps, chunk, &conv)
        done += steps
        if conv or done >= max_steps:
            return done, conv
        PyErr_CheckSignals()


def _gather(cache, slots, col, y_ws):
    """The working set's block of Q (in the cache's dtype) and its diagonal."""
    cdef int64_t n = slots.shape[0]
    Q = np.empty((n, n), dtype=cache.pool.dtype)
    QD = np.empty(n)
    cdef uintptr_t[::1] ptrs = cache.pointers(slots)
    cdef int32_t[::1] colv = np.ascontiguousarray(col, dtype=np.int32)
    cdef int8_t[::1] yv = np.ascontiguousarray(y_ws, dtype=np.int8)
    cdef double[::1] qd = QD
    cdef float[:, ::1] Q32
    cdef double[:, ::1] Q64
    if Q.dtype == np.float32:
        Q32 = Q
        with nogil:
            fastml_svm_gather_f32(n, <const float *const *>&ptrs[0], &colv[0], &yv[0],
                                  &Q32[0, 0], &qd[0])
    else:
        Q64 = Q
        with nogil:
            fastml_svm_gather_f64(n, <const double *const *>&ptrs[0], &colv[0], &yv[0],
                                  &Q64[0, 0], &qd[0])
    return Q, QD


class Result:
    """What :func:`solve` returns: alpha (per variable), rho, r (nu problems), obj,
    n_iter, converged (False when max_iter stopped it), and counters of the work done."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def solve(provider, kidx, y, p, C, alpha, *, bint nu, double eps, int64_t max_iter,
          int64_t ws_size, int64_t cache_rows, int n_threads, double local_ratio=0.1,
          int64_t local_steps=0, int verbose=0):
    """Solve one dual problem. kidx (int32, l): the sample of each variable; y (int8, +-1);
    p, C, alpha (float64, l; alpha is the feasible start, updated in place); provider: the
    kernel rows of the m samples. max_iter < 0: no limit on SMO steps."""
    kidx = np.ascontiguousarray(kidx, dtype=np.int32)
    y = np.ascontiguousarray(y, dtype=np.int8)
    p = np.ascontiguousarray(p, dtype=np.float64)
    C = np.ascontiguousarray(C, dtype=np.float64)
    cdef double[::1] A = alpha
    cdef int64_t l = y.shape[0], m = int(provider.m)
    cdef int64_t q = max(2, min(ws_size, l))
    cache = RowCache(provider, max(cache_rows, min(q, m)))
    # without max_iter, a bound that a converging problem never reaches (libsvm takes
    # O(l) to O(10 l) steps) but that stops a cycling one
    cdef int64_t limit = max_iter if max_iter >= 0 else max(10_000_000, 1000 * l)
    G = p.copy()
    # G = p + Q alpha for a non-zero start (nu problems, one-class)
    nz = np.flatnonzero(alpha)
    if nz.size:
        _update_gradient(cache, kidx, y, G, nz, alpha[nz], n_threads)
    cdef int64_t n_iter = 0, steps
    cdef bint converged = False
    cdef double gap
    cdef double[::1] Gv = G
    cdef const int8_t[::1] yv = y
    cdef const double[::1] Cv = C
    cdef const int32_t[::1] kv = kidx
    cdef int64_t outer = 0
    if q >= l:
        # the whole problem in one block: libsvm's own SMO steps
        ws = np.arange(l)
        samples = np.unique(kidx)
        slots_s = cache.ensure(samples)
        slot_of_sample = np.full(m, -1, dtype=np.int64)
        slot_of_sample[samples] = slots_s
        Q, QD = _gather(cache, slot_of_sample[kidx], kidx, y)
        steps, status = _smo(Q, QD, y, C, alpha, G, nu, eps, limit)
        converged = status == 1
        n_iter = steps
        outer = 1
    else:
        skip = np.zeros(l, dtype=np.uint8)
        scratch = np.empty(4 * l, dtype=np.float64)
        new = np.empty(q, dtype=np.int32)
        ws = np.empty(0, dtype=np.int64)
        n_new_prev = 0
        while True:
            PyErr_CheckSignals()
            kept = ws[:min(n_new_prev, q // 2)]
            skip[:] = 0
            skip[kept] = 1
            n_new, gap = _select(y, G, alpha, C, nu, skip, q - kept.size, new, scratch)
            if gap < eps or n_new == 0:
                converged = True
                break
            if n_iter >= limit:
                break
            ws = np.concatenate([new[:n_new].astype(np.int64), kept])
            n_new_prev = n_new
            samples, inv = np.unique(kidx[ws], return_inverse=True)
            slots = cache.ensure(samples)[inv]
            # the block's columns are the positions of the working set's samples in rows
            Q, QD = _gather(cache, slots, kidx[ws], y[ws])
            a_ws = alpha[ws].copy()
            G_ws = G[ws].copy()
            local_eps = max(eps, local_ratio * gap)
            cap = local_steps if local_steps > 0 else 10 * ws.size
            steps, status = _smo(Q, QD, y[ws], C[ws], a_ws, G_ws, nu, local_eps,
                                 min(cap, limit - n_iter))
            n_iter += steps
            outer += 1
            delta = a_ws - alpha[ws]
            if status == 2 and not delta.any():
                break  # stalled: nothing moved, the next step would be the same
            alpha[ws] = a_ws
            _update_gradient(cache, kidx, y, G, ws, delta, n_threads)
            if verbose > 1:
                print(f"[fastml.svm] step {outer}: gap {gap:.3g}, working set {ws.size}, "
                      f"{steps} SMO steps, {cache.n_computed} rows computed")
    r = 0.0
    cdef double rr = 0
    rho = fastml_svm_rho(l, &yv[0], &Gv[0], &A[0], &Cv[0], nu, &rr)
    obj = 0.5 * float(np.dot(alpha, G + p))
    if verbose:
        print(f"[fastml.svm] optimization finished, #iter = {n_iter}, {outer} working "
              f"set(s), {cache.n_computed} kernel rows computed in {cache.n_calls} calls")
    return Result(rho=float(rho), r=float(rr), obj=obj, n_iter=int(n_iter),
                  converged=bool(converged), rows_computed=cache.n_computed,
                  kernel_calls=cache.n_calls, outer_steps=outer)


def _select(const int8_t[::1] y, const double[::1] G, const double[::1] alpha,
            const double[::1] C, bint nu, uint8_t[::1] skip, int64_t k, int32_t[::1] out,
            double[::1] scratch):
    cdef double gap = 0
    cdef int64_t got
    with nogil:
        got = fastml_svm_select(y.shape[0], &y[0], &G[0], &alpha[0], &C[0], nu, &skip[0], k,
                                &out[0], &gap, &scratch[0])
    return got, gap


def gap(y, G, alpha, C, bint nu):
    """The optimality gap of a solution (for tests)."""
    cdef const int8_t[::1] yv = np.ascontiguousarray(y, dtype=np.int8)
    cdef const double[::1] Gv = np.ascontiguousarray(G, dtype=np.float64)
    cdef const double[::1] av = np.ascontiguousarray(alpha, dtype=np.float64)
    cdef const double[::1] cv = np.ascontiguousarray(C, dtype=np.float64)
    return fastml_svm_gap(yv.shape[0], &yv[0], &Gv[0], &av[0], &cv[0], nu)
