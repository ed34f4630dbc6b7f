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
from fastml.metrics._registry import KERNELS
from fastml.metrics.pairwise import pairwise_kernels
from fastml.svm import _solver
from fastml.utils import blas_threads

# kernels with a prepared path here; others use pairwise_kernels on each batch
_GEMM = {"linear", "polynomial", "poly", "rbf", "sigmoid", "cosine", "hellinger"}
_TILES = {"chi2": (_fast.OP_CHI2, _fast.POST_EXP), "additive_chi2": (_fast.OP_CHI2,
                                                                      _fast.POST_NEG),
          "intersection": (_fast.OP_MIN, _fast.POST_NONE),
          "laplacian": (_fast.OP_L1, _fast.POST_EXP)}
_EXP_RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}

#: the dtype of cached kernel rows: values are computed in the input's dtype (float64 data
#: in float64) and stored in float32, as libsvm stores Q (its "Qfloat"): half the memory
#: and bandwidth of float64, and rows that do not depend on float64 rounding noise (a
#: linear kernel by GEMM, by np.dot in a callable or precomputed give the same rows, so
#: the solver takes the same steps). Sums (gradient, decision values) are in float64.
ROW_DTYPE = np.dtype(np.float32)


def _buffer(out, dtype):
    """out itself when it has the dtype the kernel is computed in, else a scratch array."""
    return out if out.dtype == dtype else np.empty(out.shape, dtype=dtype)


def _store(out, buf):
    if buf is not out:
        with np.errstate(over="ignore"):
            out[...] = buf


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
                self.gamma = min(math.ldexp(self.gamma, -2 * self.shift),
                                 float(np.finfo(np.float64).max))
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

    def _rbf_error(self, norms, other=0.0):
        """True when exp(-gamma (|a|^2 + |z|^2 - 2 <a, z>)) in float32 may be off by more
        than fastml.metrics' float32 tolerance (the exponent's cancellation)."""
        u = float(np.finfo(np.float32).eps) / 2
        s = float(np.max(norms, initial=0)) + max(other, float(np.max(norms, initial=0)))
        return self.gamma * (math.sqrt(self.d) + 2) * u * s > _EXP_RTOL[np.dtype(np.float32)]

    def _compute(self, A, aa, Z, zz, out):
        buf = _buffer(out, Z.dtype)
        with blas_threads(1):
            _solver.gemm_rows(A, Z, buf, self.kind, aa, zz, self.gamma, self.coef0,
                              self.degree, self.n_threads)
        _store(out, buf)

    def rows(self, idx, out):
        A = self.Z[idx]
        aa = self.zz[idx] if self.name == "rbf" else self.zz
        self._compute(A, aa, self.Z, self.zz, out)

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
                gamma = math.ldexp(float(gamma), -self.shift) if self.shift else float(gamma)
            else:
                self.unscale = self.shift
        elif name == "laplacian" and gamma is None:
            gamma = 1.0 / max(1, X.shape[1])
        self.scale = -float(gamma) if self.post == _fast.POST_EXP else 0.0
        self.Z = np.ascontiguousarray(Z)
        self.block = _fast._block_rows(X.shape[1], X.dtype.itemsize)

    def _compute(self, A, out):
        buf = _buffer(out, self.Z.dtype)
        _solver.tile_rows(np.ascontiguousarray(A), self.Z, buf, self.op, self.post,
                          self.scale, self.block, self.n_threads)
        if self.unscale:
            _scaling.unscale(buf, self.unscale, 1)
        _store(out, buf)

    def rows(self, idx, out):
        self._compute(self.Z[idx], out)

    def cross(self, T, out):
        T = T.astype(self.Z.dtype, copy=False)
        self._compute(_scaling.scaled(T, self.shift) if self.shift else T, out)


class PQRows:
    """The PQ kernel: rank tables of every sample computed once."""

    def __init__(self, X, n_threads):
        from fastml.metrics.pairwise import _ranks_and_order
        self.m = X.shape[0]
        self.dtype = ROW_DTYPE
        self.n_threads = n_threads
        self.x_dtype = X.dtype
        self.order, self.start, self.ranks, self.ncat = _ranks_and_order(X)

    def _compute(self, order, start, out):
        buf = _buffer(out, self.x_dtype)
        _fast.pq_dense(np.ascontiguousarray(order), np.ascontiguousarray(start), self.ranks,
                       self.ncat, buf, False, self.n_threads)
        _store(out, buf)

    def rows(self, idx, out):
        self._compute(self.order[idx], self.start[idx], out)

    def cross(self, T, out):
        from fastml.metrics.pairwise import _ranks_and_order
        order, start, _, _ = _ranks_and_order(T.astype(self.x_dtype, copy=False))
        self._compute(order, start, out)


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
            return GemmRows(X, kernel, params, n_threads)
        if kernel in _TILES:
            return TileRows(X, kernel, params, n_threads)
        if kernel == "pq":
            return PQRows(X, n_threads)
    return GenericRows(X, kernel, params, n_threads)


def check_kernel_input(X, kernel, params, what="X"):
    """The checks fastml's kernel functions make (parameter values; non-negative data for
    the histogram kernels), made once on the data the providers will use unchecked."""
    from fastml.metrics.pairwise import _NON_NEGATIVE
    from fastml.utils import check_non_negative

    if not isinstance(kernel, str) or kernel not in KERNELS:
        return
    if kernel in _NON_NEGATIVE:
        check_non_negative(X, what, _NON_NEGATIVE[kernel])
    if X.shape[0]:
        KERNELS[kernel].function(X[:1], X[:1], **params)
