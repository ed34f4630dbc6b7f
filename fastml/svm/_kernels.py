"""Kernel rows for the solver: K(x_i, all training samples) for a batch of i, in one call.

A provider is built once per (sub)problem from its training samples: it prepares them
once (centred rows and their squared norms for RBF, square roots for Hellinger, unit rows
for cosine, rank tables for PQ, interned p-grams and their postings for string kernels)
and then computes a batch of rows per call with fastml's compiled kernels: one GEMM and a
vectorised map for the dot-product kernels, the tiled feature reductions for chi-squared,
intersection and Laplacian, the postings product for string kernels. Kernels it has no
special path for (other registry entries, sums of kernels, sparse data) go through
``fastml.metrics.pairwise_kernels`` on the batch; a Python callable is called on the batch
of rows against all samples; a precomputed matrix is indexed.

Every provider has ``m`` (number of samples), ``dtype`` (of the stored rows: float32,
see ROW_DTYPE) and ``rows(idx, out)``.
"""
import math

import numpy as np
import scipy.sparse as sp
from sklearn.utils import _safe_indexing

from fastml.metrics import _pairwise_fast as _fast
from fastml.metrics import _scaling
from fastml.metrics._common import row_sq_norms
from fastml.metrics._safety import EXP_RTOL as _EXP_RTOL
from fastml.metrics._registry import KERNELS
from fastml.metrics.pairwise import pairwise_kernels
from fastml.svm import _solver

# kernels with a prepared path here; others use pairwise_kernels on each batch
_GEMM = {"linear", "polynomial", "poly", "rbf", "sigmoid", "cosine", "hellinger"}
_TILES = {"chi2": (_fast.OP_CHI2, _fast.POST_EXP), "additive_chi2": (_fast.OP_CHI2,
                                                                      _fast.POST_NEG),
          "intersection": (_fast.OP_MIN, _fast.POST_NONE),
          "laplacian": (_fast.OP_L1, _fast.POST_EXP)}

#: the dtype of cached kernel rows: values are computed in the input's dtype (float64 data
#: in float64) and stored in float32, as libsvm stores Q (its "Qfloat"): half the memory
#: and bandwidth of float64, and rows that do not depend on float64 rounding noise (a
#: linear kernel by GEMM, by np.dot in a callable or precomputed give the same rows, so
#: the solver takes the same steps). Sums (gradient, decision values) are in float64.
ROW_DTYPE = np.dtype(np.float32)

#: the chi-squared kernel by supports (TileRows): used for data with at most this fraction
#: of non-zero values and at least this many samples, when its bound on the kernel's
#: relative error is within fastml.metrics' tolerance for the dtype (EXP_RTOL)
SUPPORT_MAX_DENSITY = 0.5
SUPPORT_MIN_SAMPLES = 256


class GemmRows:
    """linear, polynomial, sigmoid, rbf, cosine and Hellinger kernels: one GEMM per batch
    of rows, then the kernel's map. float32 data whose GEMM form would cancel (rbf far
    from the origin) or overflow (huge polynomial arguments) is computed in float64 and
    rounded once, as fastml.metrics does."""

    def __init__(self, X, name, params, n_threads):
        self.m = X.shape[0]
        self.d = X.shape[1]
        self.dtype = ROW_DTYPE
        self.x_dtype = X.dtype
        self.name = "polynomial" if name == "poly" else name
        self.kind = {"rbf": _solver.KIND_RBF, "polynomial": _solver.KIND_POLY,
                     "sigmoid": _solver.KIND_SIGMOID}.get(self.name, _solver.KIND_LINEAR)
        self.n_threads = n_threads
        self.gamma = params.get("gamma")
        if self.gamma is None:
            self.gamma = 1.0 / max(1, X.shape[1])
        self.gamma = float(self.gamma)
        self.coef0 = float(params.get("coef0", 1))
        self.degree = float(params.get("degree", 3))
        self.mean = None
        self.shift = 0
        if self.name == "rbf":
            mean = X.mean(axis=0, dtype=np.float64)
            if np.all(np.isfinite(mean)) and np.any(mean):
                self.mean = mean.astype(X.dtype)
            Z = self._map(X)
            self.shift = _scaling.safe_shift(_scaling.max_abs(Z), X.dtype, 2, X.shape[1])
            if self.shift:
                Z = _scaling.scaled(Z, self.shift)
                try:
                    self.gamma = math.ldexp(self.gamma, -2 * self.shift)  # 0 stays 0
                except OverflowError:
                    self.gamma = math.inf
                self.gamma = min(self.gamma, float(np.finfo(np.float64).max))
        else:
            Z = self._map(X)
        self.compute_dtype = X.dtype
        if X.dtype == np.float32:
            if self.name == "rbf":
                if self._rbf_error(row_sq_norms(Z)) or \
                        self.gamma > float(np.finfo(np.float32).max) / 16:
                    self.compute_dtype = np.dtype(np.float64)
            elif self.name in ("polynomial", "sigmoid"):
                mx = _scaling.max_abs(Z)
                big = float(np.finfo(np.float32).max) / 16
                if abs(self.coef0) > big or self.gamma * mx * mx * X.shape[1] > big:
                    self.compute_dtype = np.dtype(np.float64)
        self.Z = np.ascontiguousarray(Z, dtype=self.compute_dtype)
        self.zz = row_sq_norms(self.Z).astype(self.compute_dtype) if self.name == "rbf" \
            else np.empty(0, dtype=self.compute_dtype)
        self._Z64 = None

    def _map(self, A):
        """The rows the GEMM sees: centred (rbf), square roots (Hellinger), unit rows
        (cosine); the data itself otherwise."""
        if self.name == "rbf":
            A = A if self.mean is None else (A - self.mean).astype(A.dtype, copy=False)
            return _scaling.scaled(A, self.shift) if self.shift else A
        if self.name == "hellinger":
            return np.sqrt(A)
        if self.name == "cosine":
            from fastml.metrics._common import l2_normalize
            return l2_normalize(A).astype(A.dtype, copy=False)
        return A

    def _rbf_error(self, norms, other=0.0, dtype=np.float32):
        """True when exp(-gamma (|a|^2 + |z|^2 - 2 <a, z>)) in ``dtype`` may be off by
        more than fastml.metrics' tolerance for it (the exponent's cancellation)."""
        u = float(np.finfo(dtype).eps) / 2
        s = float(np.max(norms, initial=0)) + max(other, float(np.max(norms, initial=0)))
        return self.gamma * (math.sqrt(self.d) + 2) * u * s > _EXP_RTOL[np.dtype(dtype)]

    def exact_enough(self):
        """False when even float64 cancels too much (huge data or gamma): such rbf rows
        are left to fastml.metrics.rbf_kernel, which recomputes the entries it spoils."""
        if self.name != "rbf" or self.compute_dtype != np.float64:
            return True
        return not self._rbf_error(self.zz, dtype=np.float64)

    def _compute(self, A, aa, Z, zz, out, col0=0):
        """out[:, col0:col0 + len(Z)] = K(A, Z) (A, Z in the GEMM's form)."""
        w = Z.shape[0]
        if out.dtype == Z.dtype:
            _solver.gemm_rows(A, Z, out, self.kind, aa, zz, self.gamma, self.coef0,
                              self.degree, self.n_threads, col0)
            return
        buf = np.empty((A.shape[0], w), dtype=Z.dtype)
        _solver.gemm_rows(A, Z, buf, self.kind, aa, zz, self.gamma, self.coef0,
                          self.degree, self.n_threads, 0)
        with np.errstate(over="ignore"):
            out[:, col0:col0 + w] = buf

    def block(self, gidx, j0, j1, out, col0):
        """out[:, col0:col0 + j1 - j0] = K(samples gidx, samples j0..j1-1)."""
        A = self.Z[gidx]
        aa = self.zz[gidx] if self.name == "rbf" else self.zz
        zz = self.zz[j0:j1] if self.name == "rbf" else self.zz
        self._compute(A, aa, self.Z[j0:j1], zz, out, col0)

    def rows(self, idx, out):
        self.block(idx, 0, self.m, out, 0)

    def cross(self, T, out):
        """out = K(T, the samples), T raw rows (a block of test rows)."""
        A = np.ascontiguousarray(self._map(T.astype(self.x_dtype, copy=False)))
        Z, zz = self.Z, self.zz
        if self.name == "rbf":
            aa = row_sq_norms(A)
            if Z.dtype == np.float32 and self._rbf_error(aa, float(np.max(zz, initial=0))):
                if self._Z64 is None:
                    self._Z64 = self.Z.astype(np.float64)
                Z = self._Z64
                zz = row_sq_norms(Z)
                aa = row_sq_norms(A.astype(np.float64))
            A = A.astype(Z.dtype, copy=False)
            aa = aa.astype(Z.dtype, copy=False)
        else:
            A = A.astype(Z.dtype, copy=False)
            aa = zz
        self._compute(np.ascontiguousarray(A), aa, Z, zz, out)


class TileRows:
    """chi2, additive_chi2, intersection and Laplacian kernels: the tiled SIMD feature
    reductions of fastml.metrics, a batch of rows against every sample."""

    def __init__(self, X, name, params, n_threads):
        self.m = X.shape[0]
        self.dtype = ROW_DTYPE
        self.op, self.post = _TILES[name]
        self.n_threads = n_threads
        self.unscale = 0
        self.shift = 0
        gamma = params.get("gamma")
        Z = X
        if name in ("chi2", "additive_chi2"):
            self.shift = _scaling.safe_shift(_scaling.max_abs(X), X.dtype, 1, 4 * X.shape[1])
            if self.shift:
                Z = _scaling.scaled(X, self.shift)
            if name == "chi2":
                gamma = 1.0 if gamma is None else gamma
                try:
                    gamma = math.ldexp(float(gamma), -self.shift)
                except OverflowError:
                    gamma = math.inf
                gamma = min(gamma, float(np.finfo(np.float64).max))
            else:
                self.unscale = self.shift
        elif name == "laplacian" and gamma is None:
            gamma = 1.0 / max(1, X.shape[1])
        self.scale = -float(gamma) if self.post == _fast.POST_EXP else 0.0
        self.Z = np.ascontiguousarray(Z)
        self.tile = _fast._block_rows(X.shape[1], X.dtype.itemsize)
        self.support = None
        if name == "chi2" and self._support_pays(self.Z):
            self._prepare_support(self.Z)
        # large blocks at once (SVC's multiclass driver): the kernel by supports is
        # memory-bound on a few rows at a time and several times faster on large blocks
        self.whole_blocks = self.support is not None

    def _support_pays(self, Z):
        """True when the chi-squared kernel by supports is cheaper (rows with few
        non-zeros) and accurate enough: see _support_error."""
        if Z.size == 0 or self.m < SUPPORT_MIN_SAMPLES or \
                Z.dtype not in (np.float32, np.float64):
            return False
        nnz = np.count_nonzero(Z, axis=1)
        if nnz.sum() > SUPPORT_MAX_DENSITY * Z.size:
            return False
        self._sums = Z.sum(axis=1, dtype=np.float64)
        self.top = float(np.max(self._sums))
        self.max_nnz = int(nnz.max())
        return self._support_error(2 * self.top, self.max_nnz, Z.dtype) <= _EXP_RTOL[Z.dtype]

    def _support_error(self, sums, nnz, dtype):
        """A bound on the relative error of exp(-gamma s) computed by supports, s = |x|_1 +
        |y|_1 - 4 a (csrc/pairwise.c): the terms of a carry a few units of rounding each
        and their sums, in float by blocks of 8 features for float data, in double over
        up to nnz features for double data, a unit per term, so |error of s| <= c u
        (|x|_1 + |y|_1) with u the unit roundoff and c = 16 (float) or nnz + 8 (double);
        -gamma (self.scale) turns it into the kernel's relative error."""
        if dtype == np.float32:
            c, u = 16.0, 2.0 ** -24
        else:
            c, u = nnz + 8.0, 2.0 ** -53
        bound = -self.scale * c * u * sums
        return bound if np.isfinite(bound) else np.inf

    def _prepare_support(self, Z):
        width = _solver.chi2_support_width(Z.dtype == np.float64)
        m, d = Z.shape
        ldy = -(-(m + width) // 16) * 16
        Yt = np.zeros((d, ldy), dtype=Z.dtype)
        Yt[:, :m] = Z.T
        self.Yt = Yt
        self.ysum = np.zeros(ldy)
        self.ysum[:m] = self._sums
        self.support = self._csr(Z, self._sums)

    @staticmethod
    def _csr(A, sums):
        """(indptr int64, columns int32, values, row sums in double) of the non-zeros of
        the dense rows A (``sums``: their row sums in double)."""
        Q = sp.csr_matrix(A)
        Q.sort_indices()
        return (Q.indptr.astype(np.int64), Q.indices.astype(np.int32, copy=False),
                np.ascontiguousarray(Q.data, dtype=A.dtype), sums)

    def _support_compute(self, csr, rows, j0, j1, out, col0=0):
        """out[:, col0:col0 + j1 - j0] = K(rows ``rows`` of csr, samples j0..j1-1)."""
        qptr, qcol, qval, qsum = csr
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        dt = self.Z.dtype
        w = j1 - j0
        if out.dtype == dt:
            _solver.chi2_support_rows(rows, qptr, qcol, qval, qsum, self.Yt, self.ysum, j0,
                                      j1, out, col0, self.post, self.scale, self.n_threads)
            return
        buf = np.empty((rows.size, w), dtype=dt)
        _solver.chi2_support_rows(rows, qptr, qcol, qval, qsum, self.Yt, self.ysum, j0, j1,
                                  buf, 0, self.post, self.scale, self.n_threads)
        out[:, col0:col0 + w] = buf

    def _compute(self, A, Z, out, col0=0):
        w = Z.shape[0]
        A = np.ascontiguousarray(A)
        if out.dtype == Z.dtype and not self.unscale:
            _solver.tile_rows(A, Z, out, self.op, self.post, self.scale, self.tile,
                              self.n_threads, col0)
            return
        buf = np.empty((A.shape[0], w), dtype=Z.dtype)
        _solver.tile_rows(A, Z, buf, self.op, self.post, self.scale, self.tile,
                          self.n_threads, 0)
        if self.unscale:
            _scaling.unscale(buf, self.unscale, 1)
        with np.errstate(over="ignore"):
            out[:, col0:col0 + w] = buf

    def block(self, gidx, j0, j1, out, col0):
        if self.support is not None:
            self._support_compute(self.support, gidx, j0, j1, out, col0)
            # a sample against itself: the sum by supports cancels to a rounding error,
            # the kernel's value is that of 0
            r = np.flatnonzero((gidx >= j0) & (gidx < j1))
            if r.size:
                out[r, col0 + gidx[r] - j0] = 1.0 if self.post == _fast.POST_EXP else 0.0
            return
        self._compute(self.Z[gidx], self.Z[j0:j1], out, col0)

    def rows(self, idx, out):
        self.block(idx, 0, self.m, out, 0)

    def cross(self, T, out):
        T = T.astype(self.Z.dtype, copy=False)
        T = _scaling.scaled(T, self.shift) if self.shift else T
        if self.support is not None and T.size and float(np.min(T)) >= 0:
            sums = T.sum(axis=1, dtype=np.float64)
            nnz = int(np.max(np.count_nonzero(T, axis=1)))
            if self._support_error(float(np.max(sums)) + self.top, nnz,
                                   T.dtype) <= _EXP_RTOL[T.dtype]:
                self._support_compute(self._csr(T, sums), np.arange(T.shape[0]), 0, self.m,
                                      out)
                return
        self._compute(T, self.Z, out)


class PQRows:
    """The PQ kernel: rank tables of every sample computed once."""

    def __init__(self, X, n_threads):
        from fastml.metrics._kernels import _ranks_and_order
        self.m = X.shape[0]
        self.dtype = ROW_DTYPE
        self.n_threads = n_threads
        self.x_dtype = X.dtype
        self.order, self.start, self.ranks, self.ncat = _ranks_and_order(X)

    def _compute(self, order, start, j0, j1, out, col0=0):
        w = j1 - j0
        buf = np.empty((order.shape[0], w), dtype=self.x_dtype)
        _fast.pq_dense(np.ascontiguousarray(order), np.ascontiguousarray(start),
                       self.ranks[j0:j1], self.ncat[j0:j1], buf, False, self.n_threads)
        out[:, col0:col0 + w] = buf

    def block(self, gidx, j0, j1, out, col0):
        self._compute(self.order[gidx], self.start[gidx], j0, j1, out, col0)

    def rows(self, idx, out):
        self.block(idx, 0, self.m, out, 0)

    def cross(self, T, out):
        from fastml.metrics._kernels import _ranks_and_order
        order, start, _, _ = _ranks_and_order(T.astype(self.x_dtype, copy=False))
        self._compute(order, start, 0, self.m, out)


class SegmentRows:
    """The rows of a sub-problem made of ranges of an engine's samples (a pair of classes
    of a multiclass problem, its samples grouped by class): the samples are prepared once
    for all pairs, and a batch of rows is one block per range. With ``shared``, the block
    of a sample against its own range (its own class) is taken from, or kept in, a cache
    shared by every pair of that class: one-vs-one solves k - 1 problems per class, and
    the support vectors of a class recur in most of them."""

    def __init__(self, engine, segments, shared=None, cross_budget=0):
        self.engine = engine
        self.segments = [(int(a), int(c)) for a, c in segments]
        self.m = sum(c for _, c in self.segments)
        self.dtype = engine.dtype
        self.index = np.concatenate([np.arange(a, a + c) for a, c in self.segments])
        self.shared = shared
        self.cross = None
        if shared is not None and len(self.segments) == 2:
            (_, c0), (_, c1) = self.segments
            if 2 * c0 * c1 * np.dtype(self.dtype).itemsize <= cross_budget:
                self.cross = False  # computed with the first rows asked for

    def _cross_blocks(self):
        """K(range 0, range 1) and its transpose, computed once in one call: the solver
        asks for most rows of both classes (each a block against the other class), and
        one large block costs about half of those rows computed a few at a time."""
        (a0, c0), (a1, c1) = self.segments
        K = np.empty((c0, c1), dtype=self.dtype)
        self.engine.block(np.arange(a0, a0 + c0), a1, a1 + c1, K, 0)
        self.cross = (K, np.ascontiguousarray(K.T))

    def rows(self, idx, out):
        gidx = self.index[idx]
        if self.cross is False:
            self._cross_blocks()
        col = 0
        for s, (a, c) in enumerate(self.segments):
            if self.shared is None:
                self.engine.block(gidx, a, a + c, out, col)
            else:
                own = (gidx >= a) & (gidx < a + c)
                other = np.flatnonzero(~own)
                if other.size and self.cross:
                    # rows of the other range: that range's block against this one
                    oa = self.segments[1 - s][0]
                    out[other, col:col + c] = self.cross[1 - s][gidx[other] - oa]
                elif other.size:
                    tmp = np.empty((other.size, out.shape[1]), dtype=out.dtype)
                    self.engine.block(gidx[other], a, a + c, tmp, col)
                    out[other, col:col + c] = tmp[:, col:col + c]
                mine = np.flatnonzero(own)
                if mine.size:
                    out[mine, col:col + c] = self.shared.fetch(gidx[mine], a, c)
            col += c


class SharedBlocks:
    """Blocks K(x_s, samples of s's own range) keyed by the sample s, least recently
    used evicted first, at most ``budget_bytes`` per range (allocated when first used)."""

    def __init__(self, engine, budget_bytes, whole=False):
        self.engine = engine
        self.budget = budget_bytes
        self.pools = {}
        self.computed = 0
        self.hits = 0
        # whole: each range's block against itself computed at once, when first used
        # (the caller checked that all of them fit its budget)
        self.whole = whole
        self.blocks = {}

    def _pool(self, a, c):
        pool = self.pools.get(a)
        if pool is None:
            itemsize = np.dtype(self.engine.dtype).itemsize
            cap = int(max(1, self.budget // max(1, c * itemsize)))
            pool = dict(data=None, cap=cap, slot={}, owner=[], stamp=np.zeros(0, np.int64),
                        clock=0)
            self.pools[a] = pool
        return pool

    def fetch(self, gidx, a, c):
        """K(x_g, samples a..a+c-1) for every g of gidx (all within that range)."""
        if self.whole:
            B = self.blocks.get(a)
            if B is None:
                B = np.empty((c, c), dtype=self.engine.dtype)
                self.engine.block(np.arange(a, a + c), a, a + c, B, 0)
                self.blocks[a] = B
                self.computed += c
            return B[gidx - a]
        pool = self._pool(a, c)
        pool["clock"] += 1
        out = np.empty((gidx.size, c), dtype=self.engine.dtype)
        slot = pool["slot"]
        where = [slot.get(g, -1) for g in gidx.tolist()]
        miss = [k for k, w in enumerate(where) if w < 0]
        hit = [k for k, w in enumerate(where) if w >= 0]
        if hit:
            sl = np.array([where[k] for k in hit], dtype=np.int64)
            out[hit] = pool["data"][sl]
            pool["stamp"][sl] = pool["clock"]
            self.hits += len(hit)
        if miss:
            miss = np.array(miss, dtype=np.int64)
            block = np.empty((miss.size, c), dtype=self.engine.dtype)
            self.engine.block(gidx[miss], a, a + c, block, 0)
            out[miss] = block
            self.computed += miss.size
            self._store(pool, gidx[miss], block, c)
        return out

    def _store(self, pool, keys, block, c):
        cap = pool["cap"]
        if pool["data"] is None:
            pool["data"] = np.empty((min(cap, 256), c), dtype=self.engine.dtype)
            pool["stamp"] = np.zeros(pool["data"].shape[0], np.int64)
        for k, g in enumerate(keys.tolist()):
            n_used = len(pool["owner"])
            if n_used < pool["data"].shape[0]:
                sl = n_used
                pool["owner"].append(g)
            elif n_used < cap:  # grow
                grow = min(cap, 2 * pool["data"].shape[0])
                data = np.empty((grow, c), dtype=self.engine.dtype)
                data[:n_used] = pool["data"]
                stamp = np.zeros(grow, np.int64)
                stamp[:n_used] = pool["stamp"]
                pool["data"], pool["stamp"] = data, stamp
                sl = n_used
                pool["owner"].append(g)
            else:  # evict the least recently used
                sl = int(np.argmin(pool["stamp"]))
                if pool["stamp"][sl] == pool["clock"]:
                    continue  # everything is in use now: do not keep this one
                del pool["slot"][pool["owner"][sl]]
                pool["owner"][sl] = g
            pool["data"][sl] = block[k]
            pool["stamp"][sl] = pool["clock"]
            pool["slot"][g] = sl


class GenericRows:
    """Any other kernel of the registry, a list of kernels, or sparse data: the public
    ``pairwise_kernels`` on each batch."""

    def __init__(self, X, metric, params, n_threads):
        self.X = X
        self.m = X.shape[0]
        self.dtype = ROW_DTYPE
        self.metric = metric
        self.params = params
        self.n_threads = n_threads

    def rows(self, idx, out):
        self.cross(self.X[idx], out)

    def cross(self, T, out):
        K = pairwise_kernels(T, self.X, metric=self.metric, filter_params=True,
                             n_jobs=self.n_threads, **self.params)
        out[...] = K.toarray() if sp.issparse(K) else K


class CallableRows:
    """A user's callable ``kernel(A, B)``, called on a batch of samples against all."""

    def __init__(self, X, func, params):
        self.X = X
        self.m = X.shape[0] if hasattr(X, "shape") else len(X)
        self.dtype = ROW_DTYPE
        self.func = func
        self.params = params

    def rows(self, idx, out):
        K = call_kernel(self.func, _safe_indexing(self.X, idx), self.X, self.params)
        if K.shape != out.shape:
            raise ValueError(
                f"The kernel callable returned an array of shape {K.shape} for "
                f"{out.shape[0]} samples against {out.shape[1]}; it must return "
                "K(A, B) of shape (len(A), len(B)).")
        out[...] = K


def call_kernel(func, A, B, params):
    """``func(A, B)`` as a finite float64 array."""
    K = func(A, B, **params)
    if sp.issparse(K):
        K = K.toarray()
    K = np.asarray(K, dtype=np.float64)
    if K.ndim != 2:
        raise ValueError(f"The kernel callable must return a 2-D array, got shape "
                         f"{K.shape}.")
    if not np.all(np.isfinite(K)):
        raise ValueError("The kernel callable returned NaN or infinity.")
    return K


class PrecomputedRows:
    """Rows of a given kernel matrix restricted to a subset of its samples."""

    def __init__(self, K, subset):
        self.K = K
        self.subset = subset
        self.m = subset.size
        self.dtype = ROW_DTYPE

    def rows(self, idx, out):
        out[...] = self.K[np.ix_(self.subset[idx], self.subset)]


class StringRows:
    """A fastml.text.StringKernel: the texts' p-grams interned and their postings built
    once per problem; each batch of rows is one postings product."""

    def __init__(self, texts, prm, n_threads):
        from fastml.text import _api
        from fastml.text import _string_kernel as _sk
        self._sk = _sk
        self.m = len(texts)
        self.dtype = ROW_DTYPE
        self.kind = prm["kind"]
        self.normalize = prm["normalize"]
        self.n_threads = n_threads
        indptr, ids, counts, first_pos, _ = _api._intern(texts, prm["p1"], prm["p2"],
                                                         n_threads)
        self.indptr, self.ids, self.counts = indptr, ids, counts
        self.p_ptr, self.p_doc, self.p_cnt, _ = _sk.build_postings(
            indptr, ids, counts, first_pos.shape[0])
        if self.normalize:
            self.scale = _api.inv_sqrt_diagonal(_api._self_similarity(indptr, counts,
                                                                      self.kind))
        else:
            self.scale = np.empty(0)
        self.acc_dtype = np.int64 if self.kind == _sk.KIND_SPECTRUM else np.int32

    def rows(self, idx, out):
        idx = np.asarray(idx, dtype=np.int64)
        starts, ends = self.indptr[idx], self.indptr[idx + 1]
        lens = ends - starts
        a_ptr = np.zeros(idx.size + 1, dtype=np.int64)
        np.cumsum(lens, out=a_ptr[1:])
        take = np.repeat(starts - a_ptr[:-1], lens) + np.arange(a_ptr[-1])
        a_ids = np.ascontiguousarray(self.ids[take])
        a_cnt = np.ascontiguousarray(self.counts[take])
        acc = np.zeros((self.n_threads, self.m), dtype=self.acc_dtype)
        sx = self.scale[idx] if self.normalize else self.scale
        self._sk.kernel_rows(out, acc, a_ptr, a_ids, a_cnt, self.p_ptr, self.p_doc,
                             self.p_cnt, np.ascontiguousarray(sx), self.scale, self.kind,
                             self.normalize, self.n_threads)


def make_provider(X, kernel, params, n_threads, *, string_prm=None):
    """The provider of a (sub)problem's kernel rows."""
    if string_prm is not None:
        return StringRows(X, string_prm, n_threads)
    if callable(kernel):
        return CallableRows(X, kernel, params)
    if isinstance(kernel, str) and not sp.issparse(X):
        if kernel in _GEMM:
            rows = GemmRows(X, kernel, params, n_threads)
            if rows.exact_enough():
                return rows
            return GenericRows(X, kernel, params, n_threads)
        if kernel in _TILES:
            return TileRows(X, kernel, params, n_threads)
        if kernel == "pq":
            return PQRows(X, n_threads)
    return GenericRows(X, kernel, params, n_threads)


def check_kernel_input(X, kernel, params, what="X"):
    """The checks fastml's kernel functions make (parameter values; non-negative data for
    the histogram kernels), made once on the data the providers will use unchecked."""
    from fastml.utils import check_non_negative

    if not isinstance(kernel, str) or kernel not in KERNELS:
        return
    if KERNELS[kernel].non_negative is not None:
        check_non_negative(X, what, KERNELS[kernel].non_negative)
    if X.shape[0]:
        KERNELS[kernel].function(X[:1], X[:1], **params)
