"""Kernel matrices: drop-in replacements for ``sklearn.metrics.pairwise``'s kernels, plus
histogram intersection, Hellinger and PQ rank kernels, sums and normalisation.

All functions share these rules:

* ``X`` of shape (n, d) and ``Y`` of shape (m, d) give an (n, m) matrix; ``Y=None`` (or
  ``Y is X``) computes K(X, X) using symmetry: each pair is computed once;
* float32 inputs give float32 results; any other real dtype is converted to float64
  once (mixed float32/float64 gives float64);
* ``n_jobs`` means what it means in scikit-learn's OpenMP code (None and -1: every
  usable core); BLAS runs one thread per tile inside fastml's own parallel loop, and the
  results have the same bits for any ``n_jobs`` (tiles depend on the shapes only);
* a NaN or inf in the input is an error, unless scikit-learn's ``assume_finite`` is set:
  then nothing is checked and NaN comes out where scikit-learn gives NaN;
* ``out=`` receives the result (C-contiguous, exact shape and dtype) instead of a new
  array;
* empty or non-2-D input, mismatched feature counts, bad parameter values and negative
  entries for kernels defined on non-negative data raise a ValueError (or a TypeError for
  wrong types) that names the argument.
"""
import math
import numbers

import numpy as np
import scipy.sparse as sp
import sklearn.metrics.pairwise as _skp

from fastml.metrics import _pairwise_fast as _fast
from fastml.utils import (
    check_kernel_input,
    check_non_negative,
    check_out,
    check_scalar_range,
    effective_n_threads,
)

from fastml.metrics import _registry, _scaling
from fastml.metrics._common import gram as _gram
from fastml.metrics._common import int32_indices
from fastml.metrics._common import l2_normalize as _l2_normalize
from fastml.metrics._common import row_sq_norms as _row_sq_norms
from fastml.metrics._common import row_stats as _row_stats
from fastml.metrics._matrix import cosine_similarity_matrix
from fastml.metrics._registry import KERNELS, register_kernel
from fastml.utils.validation import follow_array_namespace
from fastml.metrics.distance import pairwise_distances  # as in sklearn.metrics.pairwise

__all__ = [
    "pairwise_distances",
    "additive_chi2_kernel",
    "chi2_kernel",
    "cosine_similarity",
    "hellinger_kernel",
    "intersection_kernel",
    "inv_sqrt_diagonal",
    "kernel_diagonal",
    "kernel_metrics",
    "laplacian_kernel",
    "linear_kernel",
    "normalize_kernel",
    "pairwise_kernels",
    "polynomial_kernel",
    "pq_kernel",
    "rbf_kernel",
    "sigmoid_kernel",
]


# scikit-learn's functions, captured before any patching of sklearn's names
_SK_PAIRWISE_KERNELS = _skp.pairwise_kernels
_SK_LAPLACIAN_KERNEL = _skp.laplacian_kernel


# ----------------------------------------------------------------------------------------
# shared plumbing
# ----------------------------------------------------------------------------------------
def _fallback(sk_function, out, *args, **kwargs):
    """scikit-learn's function for a call fastml does not accelerate (``out`` filled)."""
    K = sk_function(*args, **kwargs)
    if out is None:
        return K
    out = check_out(out, K.shape, K.dtype)
    out[...] = K
    return out


def _setup(X, Y, out, *, accept_sparse, non_negative=None):
    """Validate inputs and ``out``; return (X, Y, out, symmetric)."""
    if Y is X:
        Y = None
    X, Y, dtype = check_kernel_input(X, Y, accept_sparse=accept_sparse)
    if non_negative is not None:
        check_non_negative(X, "X", non_negative)
        if Y is not None:
            check_non_negative(Y, "Y", non_negative)
    symmetric = Y is None
    m = X.shape[0] if symmetric else Y.shape[0]
    out = check_out(out, (X.shape[0], m), dtype, X, Y)
    return X, Y, out, symmetric


def _gamma(gamma, X, name="gamma", allow_zero=True):
    if gamma is None:
        return 1.0 / X.shape[1]
    return check_scalar_range(gamma, name, low=0.0, low_inclusive=allow_zero)


def _reduce(X, Y, out, symmetric, op, post, scale, n_threads):
    _fast.reduce_dense(X, X if symmetric else Y, out, op, post, float(scale), symmetric,
                       n_threads)
    return out


def _as_csr(A, dtype):
    """CSR with int32 indices and int64 indptr (validated input is already canonical)."""
    A = A if sp.issparse(A) else sp.csr_matrix(A)
    A = sp.csr_matrix(A, dtype=dtype)
    A.indices = A.indices.astype(np.int32, copy=False)
    A.indptr = A.indptr.astype(np.int64, copy=False)
    return A


def _sparse_common(X, Y, out, symmetric, op, post, scale, n_threads):
    """Intersection / chi-squared on CSR input (only common non-zeros are visited).

    Chi-squared is accumulated as sum(x) + sum(y) - sum over common features of
    4 x y / (x + y), which cancels when x ~ y: float32 input is computed in float64
    (row blocks of a float64 scratch) and rounded once at the end."""
    if out.dtype == np.float32 and op == _fast.OP_CHI2:
        X64 = _as_csr(X, np.float64)
        Y64 = None if symmetric else _as_csr(Y, np.float64)
        step = max(1, (1 << 22) // max(1, out.shape[1]))  # ~32 MB of float64 at a time
        for i0 in range(0, X64.shape[0], step):
            block = np.empty((min(step, X64.shape[0] - i0), out.shape[1]), dtype=np.float64)
            _sparse_common(X64[i0:i0 + step], X64 if symmetric else Y64, block, False, op,
                           post, scale, n_threads)
            out[i0:i0 + block.shape[0]] = block
        return out
    X = _as_csr(X, out.dtype)
    Yc = X if symmetric else _as_csr(Y, out.dtype)
    xs = np.asarray(X.sum(axis=1), dtype=out.dtype).ravel()
    ys = xs if symmetric else np.asarray(Yc.sum(axis=1), dtype=out.dtype).ravel()
    _fast.sparse_common(X.data, X.indices, X.indptr, Yc.data, Yc.indices, Yc.indptr, xs, ys,
                        X.shape[1], out, op, post, float(scale), symmetric, n_threads)
    if symmetric:
        _fast.mirror_upper(out, n_threads)
    return out


# ----------------------------------------------------------------------------------------
# GEMM-based kernels
# ----------------------------------------------------------------------------------------
@follow_array_namespace
def linear_kernel(X, Y=None, dense_output=True, *, n_jobs=None, out=None):
    """Linear kernel k(x, y) = <x, y>.

    Dense or CSR input; with ``dense_output=False`` and sparse input the result stays
    sparse (``out`` must then be None).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples_X, n_features)
        Input rows.
    Y : {array-like, sparse matrix} of shape (n_samples_Y, n_features), default=None
        Second input; None (or ``Y is X``) computes K(X, X) using symmetry.
    dense_output : bool, default=True
        Whether to return a dense array even when the inputs are sparse.
    n_jobs : int, default=None
        Threads; None uses every usable core; results do not depend on it.
    out : ndarray of shape (n_samples_X, n_samples_Y), default=None
        C-contiguous array of the result's dtype, filled and returned instead of a new
        array.

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_Y)
        The kernel matrix; float32 for float32 input, else float64.

    Examples
    --------
    >>> from fastml.metrics import linear_kernel
    >>> linear_kernel([[1.0, 2.0]], [[3.0, 4.0]])
    array([[11.]])
    """
    n_threads = effective_n_threads(n_jobs)
    if not dense_output and (sp.issparse(X) or sp.issparse(Y)):
        if out is not None:
            raise ValueError("out= needs dense_output=True.")
        X, Y, _ = check_kernel_input(X, Y, accept_sparse=True)
        return X @ (X if Y is None else Y).T
    X, Y, out, symmetric = _setup(X, Y, out, accept_sparse=True)
    _gram(X, Y, out, symmetric, n_threads)
    return out


@follow_array_namespace
def polynomial_kernel(X, Y=None, degree=3, gamma=None, coef0=1, *, n_jobs=None, out=None):
    """Polynomial kernel k(x, y) = (gamma <x, y> + coef0) ** degree.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples_X, n_features)
        Input rows.
    Y : {array-like, sparse matrix} of shape (n_samples_Y, n_features), default=None
        Second input; None (or ``Y is X``) computes K(X, X) using symmetry.
    degree : float, default=3
        Kernel degree (>= 1).
    gamma : float, default=None
        Coefficient of the inner product; None means 1 / n_features.
    coef0 : float, default=1
        Constant offset.
    n_jobs : int, default=None
        Threads; None uses every usable core; results do not depend on it.
    out : ndarray of shape (n_samples_X, n_samples_Y), default=None
        C-contiguous array of the result's dtype, filled and returned instead of a new
        array.

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_Y)
        The kernel matrix; float32 for float32 input, else float64.

    Examples
    --------
    >>> from fastml.metrics import polynomial_kernel
    >>> polynomial_kernel([[1.0, 2.0]], [[3.0, 4.0]], degree=2, gamma=1, coef0=0)
    array([[121.]])
    """
    degree = check_scalar_range(degree, "degree", low=1.0)
    coef0 = check_scalar_range(coef0, "coef0")
    n_threads = effective_n_threads(n_jobs)
    X, Y, out, symmetric = _setup(X, Y, out, accept_sparse=True)
    gamma = _gamma(gamma, X)
    if _float32_affine_overflows(X, Y, gamma, coef0, out.dtype, n_threads):
        return _via_float64(polynomial_kernel, X, Y, out, n_jobs, degree=degree,
                            gamma=gamma, coef0=coef0)
    if float(degree).is_integer() and degree <= 64:
        # the map fused into the tiles (vectorised binary powers)
        _gram(X, Y, out, symmetric, n_threads, _fast.GRAM_POWI, p0=gamma, p1=coef0,
              ip=int(degree))
        return out
    _gram(X, Y, out, symmetric, n_threads)
    _fast.affine_power_post(out, gamma, coef0, degree, 0, False, n_threads)
    return out


def _float32_affine_overflows(X, Y, gamma, coef0, dtype, n_threads):
    """True when gamma <x, y> + coef0 could leave float32's range (where inf - inf would
    give NaN for an answer that is finite, or exactly +-1 for tanh)."""
    if dtype != np.float32:
        return False
    big = float(np.finfo(np.float32).max) / 16
    if abs(coef0) > big:
        return True
    if sp.issparse(X) or (Y is not None and sp.issparse(Y)):
        m = _scaling.max_abs(X, Y)
    else:  # the same maximum from the one pass over the rows
        m = max(_abs_range(X, n_threads), 0.0 if Y is None else _abs_range(Y, n_threads))
    return gamma * m * m * X.shape[1] > big


def _abs_range(A, n_threads):
    """max |A| of dense A, from the row pass (NaN for NaN data)."""
    _, lo, hi = _row_stats(A, n_threads)
    return max(-lo, hi)


def _via_float64(fn, X, Y, out, n_jobs, **params):
    """fn on float64 copies, rounded once into the float32 out."""
    K = fn(X.astype(np.float64), None if Y is None else Y.astype(np.float64),
           n_jobs=n_jobs, **params)
    with np.errstate(over="ignore"):
        out[...] = K
    return out


@follow_array_namespace
def sigmoid_kernel(X, Y=None, gamma=None, coef0=1, *, n_jobs=None, out=None):
    """Sigmoid kernel k(x, y) = tanh(gamma <x, y> + coef0).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples_X, n_features)
        Input rows.
    Y : {array-like, sparse matrix} of shape (n_samples_Y, n_features), default=None
        Second input; None (or ``Y is X``) computes K(X, X) using symmetry.
    gamma : float, default=None
        Coefficient of the inner product; None means 1 / n_features.
    coef0 : float, default=1
        Constant offset.
    n_jobs : int, default=None
        Threads; None uses every usable core; results do not depend on it.
    out : ndarray of shape (n_samples_X, n_samples_Y), default=None
        C-contiguous array of the result's dtype, filled and returned instead of a new
        array.

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_Y)
        The kernel matrix; float32 for float32 input, else float64.

    Examples
    --------
    >>> from fastml.metrics import sigmoid_kernel
    >>> sigmoid_kernel([[0.0, 0.0]], [[1.0, 1.0]], coef0=0)
    array([[0.]])
    """
    coef0 = check_scalar_range(coef0, "coef0")
    n_threads = effective_n_threads(n_jobs)
    X, Y, out, symmetric = _setup(X, Y, out, accept_sparse=True)
    gamma = _gamma(gamma, X)
    if _float32_affine_overflows(X, Y, gamma, coef0, out.dtype, n_threads):
        return _via_float64(sigmoid_kernel, X, Y, out, n_jobs, gamma=gamma, coef0=coef0)
    _gram(X, Y, out, symmetric, n_threads, _fast.GRAM_TANH, p0=gamma, p1=coef0)
    return out


@follow_array_namespace
def rbf_kernel(X, Y=None, gamma=None, *, n_jobs=None, out=None):
    """RBF (Gaussian) kernel k(x, y) = exp(-gamma ||x - y||^2).

    One pass over the rows (squared norms, range), then tiles of GEMM (SYRK on the
    diagonal of K(X, X)) each followed, while in cache, by the vectorised exponential of
    the squared distances; the diagonal of K(X, X) is exactly 1.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples_X, n_features)
        Input rows.
    Y : {array-like, sparse matrix} of shape (n_samples_Y, n_features), default=None
        Second input; None (or ``Y is X``) computes K(X, X) using symmetry.
    gamma : float, default=None
        Width parameter; None means 1 / n_features.
    n_jobs : int, default=None
        Threads; None uses every usable core; results do not depend on it.
    out : ndarray of shape (n_samples_X, n_samples_Y), default=None
        C-contiguous array of the result's dtype, filled and returned instead of a new
        array.

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_Y)
        The kernel matrix; float32 for float32 input, else float64.

    Examples
    --------
    >>> from fastml.metrics import rbf_kernel
    >>> rbf_kernel([[0.0, 0.0], [1.0, 1.0]], gamma=0.5)
    array([[1.        , 0.36787944],
           [0.36787944, 1.        ]])
    """
    n_threads = effective_n_threads(n_jobs)
    X, Y, out, symmetric = _setup(X, Y, out, accept_sparse=True)
    gamma = _gamma(gamma, X)
    if _float32_gamma_overflows(gamma, out.dtype):
        return _via_float64(rbf_kernel, X, Y, out, n_jobs, gamma=gamma)
    if not (sp.issparse(X) or sp.issparse(Y)) and _rbf_dense_direct(X, Y, out, symmetric,
                                                                     gamma, n_threads):
        return out
    X0, Y0, gamma0 = X, Y, gamma
    X, Y, gamma = _rbf_conditioning(X, Y, gamma, out.dtype)
    if _float32_gamma_overflows(gamma, out.dtype):
        # rescaling huge data by 2**k multiplies gamma by 2**(-2k): beyond float32's range
        return _via_float64(rbf_kernel, X0, Y0, out, n_jobs, gamma=gamma0)
    xx = _row_sq_norms(X).astype(out.dtype, copy=False)
    yy = xx if symmetric else _row_sq_norms(Y).astype(out.dtype, copy=False)
    if _exp_error(gamma, xx, yy, X.shape[1], out.dtype) > _EXP_RTOL[out.dtype]:
        _gram(X, Y, out, symmetric, n_threads)
        if not _rbf_post_checked(out, xx, yy, gamma, X.shape[1], X0, Y0, gamma0):
            # float32 cancels on too many entries to recompute one by one: the whole
            # matrix from the float64 Gram matrix (as scikit-learn upcasts float32)
            return _via_float64(rbf_kernel, X0, Y0, out, n_jobs, gamma=gamma0)
        if symmetric:
            np.fill_diagonal(out, 1)
        return out
    _gram(X, Y, out, symmetric, n_threads, _fast.GRAM_RBF, xx, yy, p0=gamma)
    return out


def _rbf_dense_direct(X, Y, out, symmetric, gamma, n_threads):
    """The common case of dense rbf in one pass over the rows and one over K: the row
    pass gives the squared norms and the range of the data, from which it follows that
    no scaling is needed and that the Gram form's error (_exp_error) is within tolerance
    without centring; the tiles then apply the exponential as they are computed.
    Returns False (nothing done) when that cannot be shown: the caller conditions the
    data first. Data with NaN or inf (which only arrive here when scikit-learn's
    ``assume_finite`` is set) go through the same formula as scikit-learn's, NaN where
    it gives NaN."""
    xx, lo, hi = _row_stats(X, n_threads)
    yy = xx
    if not symmetric:
        yy, lo2, hi2 = _row_stats(Y, n_threads)
        lo, hi = min(lo, lo2), max(hi, hi2)
    sx = float(np.max(xx))
    sy = sx if symmetric else float(np.max(yy))
    if not (math.isfinite(lo) and math.isfinite(hi) and sx == sx and sy == sy):
        # NaN / inf in the data (validation was told to assume finite input)
        _gram(X, Y, out, symmetric, n_threads, _fast.GRAM_RBF, xx, yy, p0=gamma)
        return True
    if _scaling.safe_shift(max(-lo, hi), out.dtype, 2, X.shape[1]):
        return False
    if _exp_error_max(gamma, sx, sy, X.shape[1], out.dtype) > _EXP_RTOL[out.dtype]:
        return False
    _gram(X, Y, out, symmetric, n_threads, _fast.GRAM_RBF, xx, yy, p0=gamma)
    return True


def _rbf_conditioning(X, Y, gamma, dtype):
    """Inputs on which ||x||^2 + ||y||^2 - 2 <x, y> neither cancels nor overflows, and the
    gamma that keeps exp(-gamma ||x - y||^2) unchanged.

    * Dense data are centred on their common mean (the kernel is translation invariant):
      data far from the origin (float32 at an offset of 1000) otherwise lose every digit
      of a small distance to cancellation.
    * Data whose squares would overflow or underflow are scaled by a power of two s
      (exact), and gamma by 1 / s^2 (fastml.metrics._scaling)."""
    if not sp.issparse(X) and (Y is None or not sp.issparse(Y)):
        n = X.shape[0] + (0 if Y is None else Y.shape[0])
        total = X.sum(axis=0, dtype=np.float64)
        if Y is not None:
            total += Y.sum(axis=0, dtype=np.float64)
        mean = (total / n).astype(dtype)
        if np.any(mean) and np.all(np.isfinite(mean)):
            X = X - mean
            Y = None if Y is None else Y - mean
    k = _scaling.safe_shift(_scaling.max_abs(X, Y), dtype, 2, X.shape[1])
    if k:
        X, Y = _scaling.scaled(X, k), _scaling.scaled(Y, k)
        try:
            gamma = math.ldexp(float(gamma), -2 * k)  # 0 stays 0
        except OverflowError:
            gamma = math.inf
        gamma = min(gamma, float(np.finfo(np.float64).max))
    return X, Y, gamma


# An exponential kernel exp(-gamma q(x, y)) whose q comes from a cancelling formula (the
# Gram form of the squared distance, ||x||^2 + ||y||^2 - 2 <x, y>; the sparse chi-squared
# sum(x) + sum(y) - sum 4 x y / (x + y)) carries an absolute error in the exponent of up to
# gamma * c * u * s (u the unit roundoff, s = ||x||^2 + ||y||^2 or sum(x) + sum(y); c =
# n_features + 2 for the worst case of a sum, about sqrt(n_features) + 2 in practice),
# which is the relative error of the entry. Where the typical error may exceed this
# tolerance, the entries that are not negligible even under the worst-case error are
# recomputed from the rows themselves.
_EXP_RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}


def _exp_error(gamma, a, b, n_features, dtype):
    """The typical bound on the exponent's error over all entries, s = a[i] + b[j]."""
    if not a.size or not b.size:
        return 0.0
    return _exp_error_max(gamma, float(np.max(a, initial=0)), float(np.max(b, initial=0)),
                          n_features, dtype)


def _exp_error_max(gamma, max_a, max_b, n_features, dtype):
    """_exp_error from the largest a[i] and b[j]."""
    u = float(np.finfo(dtype).eps) / 2
    return float(gamma) * (math.sqrt(n_features) + 2) * u * (max_a + max_b)


def _exp_post_checked(out, q_rows, a, b, gamma, n_features, exact_pairs, dtype, out_dtype,
                      budget=math.inf):
    """out[rows] = exp(-gamma q) for every block of rows, q_rows(rows) giving the cancelling
    q of those rows in float64 (computed in ``dtype``), s = a[i] + b[j] its scale. Each entry
    whose exponent may be off by more than the tolerance of ``out_dtype`` (and whose value
    is not below its smallest normal even under the worst-case error) gets the exponent
    exact_pairs(ii, jj) instead, from the rows themselves: e.g. exactly 1 for an identical
    pair of rows far from the origin.

    Returns False (out then holds garbage) as soon as more than ``budget`` entries need
    this (the caller then has a cheaper way to compute the whole matrix)."""
    u = float(np.finfo(dtype).eps) / 2
    tol = _EXP_RTOL[np.dtype(out_dtype)]
    c_typ, c_max = math.sqrt(n_features) + 2, n_features + 2
    cut = -math.log(float(np.finfo(out_dtype).tiny))  # exp(-cut) is the smallest normal
    b64 = b.astype(np.float64)
    step = max(1, (1 << 16) // max(out.shape[1], 1))
    for i0 in range(0, out.shape[0], step):
        rows = slice(i0, min(i0 + step, out.shape[0]))
        s = a[rows].astype(np.float64)[:, None] + b64[None, :]
        with np.errstate(over="ignore", invalid="ignore"):
            e = gamma * np.maximum(q_rows(rows), 0)
            gs = gamma * u * s
            need = (c_typ * gs > tol) & ~(e - c_max * gs >= cut)
        ii, jj = np.nonzero(need)
        budget -= ii.size
        if budget < 0:
            return False
        if ii.size:
            e[ii, jj] = exact_pairs(ii + i0, jj)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            out[rows] = np.exp(-e)
    return True


def _rbf_post_checked(out, xx, yy, gamma, n_features, X0, Y0, gamma0):
    """out (the full Gram matrix of the conditioned rows) -> the rbf kernel, entries the
    Gram form cannot give recomputed in float64 from the differences of the original rows.
    float32: False when so many entries need it that the float64 Gram matrix is cheaper
    (one pair by differences costs ~ a few hundred GEMM entries)."""
    Yr = X0 if Y0 is None else Y0

    def exact(ii, jj):
        with np.errstate(over="ignore"):  # exp(-inf) = 0 is the value
            return gamma0 * _sq_dist_pairs(X0, Yr, ii, jj)

    return _exp_post_checked(
        out, lambda r: xx[r].astype(np.float64)[:, None] + yy.astype(np.float64)[None, :]
        - 2 * out[r].astype(np.float64), xx, yy, gamma, n_features, exact, out.dtype,
        out.dtype, math.inf if out.dtype == np.float64 else max(4096, out.size // 256))


def _pair_sums(A, B, ii, jj, terms):
    """sum_k terms(a, b)[k] in float64 for the row pairs (A[i], B[j]), (i, j) in (ii, jj),
    a batch of pairs at a time (dense or sparse rows)."""
    res = np.empty(ii.size)
    step = max(1, (1 << 18) // max(A.shape[1], 1))
    for p0 in range(0, ii.size, step):
        Ar, Br = A[ii[p0:p0 + step]], B[jj[p0:p0 + step]]
        Ar = (Ar.toarray() if sp.issparse(Ar) else Ar).astype(np.float64)
        Br = (Br.toarray() if sp.issparse(Br) else Br).astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            res[p0:p0 + step] = terms(Ar, Br).sum(1)
    return res


def _sq_dist_pairs(A, B, ii, jj):
    """||A[i] - B[j]||^2 by differences (exact terms; inf when it overflows float64,
    which makes the kernel 0 as it should)."""
    return _pair_sums(A, B, ii, jj, lambda a, b: (a - b) ** 2)


@follow_array_namespace
def cosine_similarity(X, Y=None, dense_output=True, *, n_jobs=None, out=None):
    """Cosine similarity k(x, y) = <x, y> / (||x|| ||y||); a zero row gives a zero row
    (not NaN), as in scikit-learn.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples_X, n_features)
        Input rows.
    Y : {array-like, sparse matrix} of shape (n_samples_Y, n_features), default=None
        Second input; None (or ``Y is X``) computes K(X, X) using symmetry.
    dense_output : bool, default=True
        Whether to return a dense array even when the inputs are sparse.
    n_jobs : int, default=None
        Threads; None uses every usable core; results do not depend on it.
    out : ndarray of shape (n_samples_X, n_samples_Y), default=None
        C-contiguous array of the result's dtype, filled and returned instead of a new
        array.

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_Y)
        The kernel matrix; float32 for float32 input, else float64.

    Examples
    --------
    >>> from fastml.metrics import cosine_similarity
    >>> cosine_similarity([[1.0, 0.0]], [[1.0, 1.0], [0.0, 0.0]])
    array([[0.70710678, 0.        ]])
    """
    n_threads = effective_n_threads(n_jobs)
    if not dense_output and (sp.issparse(X) or sp.issparse(Y)):
        if out is not None:
            raise ValueError("out= needs dense_output=True.")
        X, Y, _ = check_kernel_input(X, Y if Y is not X else None, accept_sparse=True)
        Xn = _l2_normalize(X)
        return Xn @ (Xn if Y is None else _l2_normalize(Y)).T
    X, Y, out, symmetric = _setup(X, Y, out, accept_sparse=True)
    return cosine_similarity_matrix(X, Y, out, n_threads)


@follow_array_namespace
def hellinger_kernel(X, Y=None, *, n_jobs=None, out=None):
    """Hellinger kernel k(x, z) = sum_i sqrt(x_i z_i) on non-negative data.

    Computed as the linear kernel of sqrt(X) and sqrt(Z): one GEMM (SYRK for Y=None).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples_X, n_features)
        Input rows (non-negative).
    Y : {array-like, sparse matrix} of shape (n_samples_Y, n_features), default=None
        Second input; None (or ``Y is X``) computes K(X, X) using symmetry.
    n_jobs : int, default=None
        Threads; None uses every usable core; results do not depend on it.
    out : ndarray of shape (n_samples_X, n_samples_Y), default=None
        C-contiguous array of the result's dtype, filled and returned instead of a new
        array.

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_Y)
        The kernel matrix; float32 for float32 input, else float64.

    Examples
    --------
    >>> from fastml.metrics import hellinger_kernel
    >>> hellinger_kernel([[1.0, 4.0]], [[4.0, 1.0]])
    array([[4.]])
    """
    n_threads = effective_n_threads(n_jobs)
    X, Y, out, symmetric = _setup(X, Y, out, accept_sparse=True,
                                  non_negative="Hellinger kernel")
    Xs = X.sqrt() if sp.issparse(X) else np.sqrt(X)
    Ys = None if symmetric else (Y.sqrt() if sp.issparse(Y) else np.sqrt(Y))
    _gram(Xs, Ys, out, symmetric, n_threads)
    return out


# ----------------------------------------------------------------------------------------
# feature-reduction kernels (SIMD tiles in csrc/pairwise.c)
# ----------------------------------------------------------------------------------------
@follow_array_namespace
def intersection_kernel(X, Y=None, *, n_jobs=None, out=None):
    """Histogram intersection kernel k(x, z) = sum_i min(x_i, z_i) on non-negative data.

    Dense or CSR (on CSR only the features both rows have are visited).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples_X, n_features)
        Input rows (non-negative).
    Y : {array-like, sparse matrix} of shape (n_samples_Y, n_features), default=None
        Second input; None (or ``Y is X``) computes K(X, X) using symmetry.
    n_jobs : int, default=None
        Threads; None uses every usable core; results do not depend on it.
    out : ndarray of shape (n_samples_X, n_samples_Y), default=None
        C-contiguous array of the result's dtype, filled and returned instead of a new
        array.

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_Y)
        The kernel matrix; float32 for float32 input, else float64.

    Examples
    --------
    >>> from fastml.metrics import intersection_kernel
    >>> intersection_kernel([[1.0, 4.0]], [[3.0, 1.0]])
    array([[2.]])
    """
    n_threads = effective_n_threads(n_jobs)
    X, Y, out, symmetric = _setup(X, Y, out, accept_sparse=True,
                                  non_negative="intersection kernel")
    if sp.issparse(X) or sp.issparse(Y):
        return _sparse_common(X, Y, out, symmetric, _fast.OP_MIN, _fast.POST_NONE, 0.0,
                              n_threads)
    return _reduce(X, Y, out, symmetric, _fast.OP_MIN, _fast.POST_NONE, 0.0, n_threads)


@follow_array_namespace
def additive_chi2_kernel(X, Y=None, *, n_jobs=None, out=None):
    """Additive chi-squared kernel k(x, y) = -sum_i (x_i - y_i)^2 / (x_i + y_i) on
    non-negative data (a term with x_i + y_i = 0 counts 0). Dense or CSR.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples_X, n_features)
        Input rows (non-negative).
    Y : {array-like, sparse matrix} of shape (n_samples_Y, n_features), default=None
        Second input; None (or ``Y is X``) computes K(X, X) using symmetry.
    n_jobs : int, default=None
        Threads; None uses every usable core; results do not depend on it.
    out : ndarray of shape (n_samples_X, n_samples_Y), default=None
        C-contiguous array of the result's dtype, filled and returned instead of a new
        array.

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_Y)
        The kernel matrix; float32 for float32 input, else float64.

    Examples
    --------
    >>> from fastml.metrics import additive_chi2_kernel
    >>> additive_chi2_kernel([[1.0, 0.0]], [[0.0, 1.0]])
    array([[-2.]])
    """
    n_threads = effective_n_threads(n_jobs)
    X, Y, out, symmetric = _setup(X, Y, out, accept_sparse=True,
                                  non_negative="additive chi-squared kernel")
    X, Y, k = _chi2_scaling(X, Y, out.dtype)
    if sp.issparse(X) or sp.issparse(Y):
        _sparse_common(X, Y, out, symmetric, _fast.OP_CHI2, _fast.POST_NEG, 0.0, n_threads)
    else:
        _reduce(X, Y, out, symmetric, _fast.OP_CHI2, _fast.POST_NEG, 0.0, n_threads)
    return _scaling.unscale(out, k, 1)


def _chi2_scaling(X, Y, dtype):
    """Data whose sums of terms (x - y)^2 / (x + y) could overflow (or whose every term
    would be subnormal), scaled by a power of two 2**k (exact); the chi-squared distance
    is homogeneous of degree one, so it is 2**k times the distance of the data."""
    k = _scaling.safe_shift(_scaling.max_abs(X, Y), dtype, 1, 4 * X.shape[1])
    if k:
        X, Y = _scaling.scaled(X, k), _scaling.scaled(Y, k)
    return X, Y, k


@follow_array_namespace
def chi2_kernel(X, Y=None, gamma=1.0, *, n_jobs=None, out=None):
    """Exponential chi-squared kernel k(x, y) = exp(-gamma sum_i (x_i - y_i)^2 / (x_i + y_i))
    on non-negative data. Dense or CSR.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples_X, n_features)
        Input rows (non-negative).
    Y : {array-like, sparse matrix} of shape (n_samples_Y, n_features), default=None
        Second input; None (or ``Y is X``) computes K(X, X) using symmetry.
    gamma : float, default=1.0
        Scaling parameter (> 0).
    n_jobs : int, default=None
        Threads; None uses every usable core; results do not depend on it.
    out : ndarray of shape (n_samples_X, n_samples_Y), default=None
        C-contiguous array of the result's dtype, filled and returned instead of a new
        array.

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_Y)
        The kernel matrix; float32 for float32 input, else float64.

    Examples
    --------
    >>> from fastml.metrics import chi2_kernel
    >>> chi2_kernel([[1.0, 0.0]], [[1.0, 0.0]])
    array([[1.]])
    """
    gamma = check_scalar_range(gamma, "gamma", low=0.0, low_inclusive=False)
    n_threads = effective_n_threads(n_jobs)
    X, Y, out, symmetric = _setup(X, Y, out, accept_sparse=True,
                                  non_negative="chi-squared kernel")
    if _float32_gamma_overflows(gamma, out.dtype):
        return _via_float64(chi2_kernel, X, Y, out, n_jobs, gamma=gamma)
    X0, Y0 = X, Y
    X, Y, k = _chi2_scaling(X, Y, out.dtype)
    if k:
        try:
            gamma = math.ldexp(gamma, -k)
        except OverflowError:
            gamma = math.inf
        gamma = min(gamma, float(np.finfo(np.float64).max))
        if _float32_gamma_overflows(gamma, out.dtype):
            return _via_float64(chi2_kernel, X0, Y0, out, n_jobs, gamma=gamma)
    if sp.issparse(X) or sp.issparse(Y):
        if _sparse_chi2_checked(X, Y, out, symmetric, gamma, n_threads):
            return out
        return _sparse_common(X, Y, out, symmetric, _fast.OP_CHI2, _fast.POST_EXP, -gamma,
                              n_threads)
    return _reduce(X, Y, out, symmetric, _fast.OP_CHI2, _fast.POST_EXP, -gamma, n_threads)


def _sparse_chi2_checked(X, Y, out, symmetric, gamma, n_threads):
    """The sparse chi-squared sum(x) + sum(y) - sum 4 x y / (x + y) cancels for near pairs
    of rows with large sums; where gamma makes that error matter, compute the kernel by
    blocks of rows with the entries it spoils recomputed from the rows (term by term).
    Returns False (nothing done) when the ordinary path is accurate enough."""
    X64 = _as_csr(X, np.float64)
    Y64 = X64 if symmetric else _as_csr(Y, np.float64)
    xs = np.asarray(X64.sum(axis=1)).ravel()
    ys = xs if symmetric else np.asarray(Y64.sum(axis=1)).ravel()
    if _exp_error(gamma, xs, ys, X.shape[1], np.float64) <= _EXP_RTOL[out.dtype]:
        return False

    def q_rows(rows):
        block = np.empty((rows.stop - rows.start, out.shape[1]))
        _sparse_common(X64[rows], Y64, block, False, _fast.OP_CHI2, _fast.POST_NEG, 0.0,
                       n_threads)
        return np.negative(block, out=block)

    def exact(ii, jj):
        with np.errstate(over="ignore"):
            return gamma * _chi2_pairs(X64, Y64, ii, jj)

    _exp_post_checked(out, q_rows, xs, ys, gamma, X.shape[1], exact, np.float64, out.dtype)
    if symmetric:
        _fast.mirror_upper(out, n_threads)
    return True


def _chi2_pairs(A, B, ii, jj):
    """sum_k (a_k - b_k)^2 / (a_k + b_k), term by term."""
    def terms(a, b):
        s, df = a + b, a - b
        return np.where(s > 0, df * (df / np.where(s > 0, s, 1)), 0)

    return _pair_sums(A, B, ii, jj, terms)


def _float32_gamma_overflows(gamma, dtype):
    """A gamma beyond float32's range would make exp(-gamma * 0) = exp(NaN) on the
    diagonal of a float32 kernel: compute such calls in float64 instead."""
    return dtype == np.float32 and gamma > float(np.finfo(np.float32).max) / 16


@follow_array_namespace
def laplacian_kernel(X, Y=None, gamma=None, *, n_jobs=None, out=None):
    """Laplacian kernel k(x, y) = exp(-gamma ||x - y||_1).

    Sparse input runs scikit-learn's function.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples_X, n_features)
        Input rows.
    Y : {array-like, sparse matrix} of shape (n_samples_Y, n_features), default=None
        Second input; None (or ``Y is X``) computes K(X, X) using symmetry.
    gamma : float, default=None
        Width parameter; None means 1 / n_features.
    n_jobs : int, default=None
        Threads; None uses every usable core; results do not depend on it.
    out : ndarray of shape (n_samples_X, n_samples_Y), default=None
        C-contiguous array of the result's dtype, filled and returned instead of a new
        array.

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_Y)
        The kernel matrix; float32 for float32 input, else float64.

    Examples
    --------
    >>> from fastml.metrics import laplacian_kernel
    >>> laplacian_kernel([[0.0, 0.0]], [[1.0, 1.0]], gamma=0.5)
    array([[0.36787944]])
    """
    if sp.issparse(X) or (Y is not None and sp.issparse(Y)):
        return _fallback(_SK_LAPLACIAN_KERNEL, out, int32_indices(X),
                         None if Y is None else int32_indices(Y), gamma=gamma)
    n_threads = effective_n_threads(n_jobs)
    X, Y, out, symmetric = _setup(X, Y, out, accept_sparse=False)
    gamma = _gamma(gamma, X)
    if _float32_gamma_overflows(gamma, out.dtype):
        return _via_float64(laplacian_kernel, X, Y, out, n_jobs, gamma=gamma)
    return _reduce(X, Y, out, symmetric, _fast.OP_L1, _fast.POST_EXP, -gamma, n_threads)


def _ranks_and_order(A):
    """Per row: the stable argsort, the starts of tie groups in sorted order, the dense
    rank of every entry and the number of distinct values."""
    order = np.argsort(A, axis=1, kind="stable")
    sorted_ = np.take_along_axis(A, order, axis=1)
    new = np.ones(A.shape, dtype=np.uint8)
    new[:, 1:] = sorted_[:, 1:] != sorted_[:, :-1]
    new[:, 0] = 0
    rank_sorted = np.cumsum(new, axis=1, dtype=np.int32)
    ranks = np.empty(A.shape, dtype=np.int32)
    np.put_along_axis(ranks, order, rank_sorted, axis=1)
    ncat = (rank_sorted[:, -1] + 1).astype(np.int32)
    new[:, 0] = 1
    return order.astype(np.int32), new, ranks, ncat


@follow_array_namespace
def pq_kernel(X, Y=None, *, n_jobs=None, out=None):
    """The PQ rank-correlation kernel (Ionescu & Popescu, "PQ kernel: a rank correlation
    kernel for visual word histograms", Pattern Recognition Letters 55, 2015).

    k(x, z) = 2 (P - Q), where P (Q) counts the pairs of features i < j that x and z
    order the same way, (x_i - x_j)(z_i - z_j) > 0 (the opposite way, < 0); ties count
    in neither. Each pair of rows costs O(d log d) (a Fenwick-tree inversion count with
    ties), not O(d^2).

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
        Input rows.
    Y : array-like of shape (n_samples_Y, n_features), default=None
        Second input; None (or ``Y is X``) computes K(X, X) using symmetry.
    n_jobs : int, default=None
        Threads; None uses every usable core; results do not depend on it.
    out : ndarray of shape (n_samples_X, n_samples_Y), default=None
        C-contiguous array of the result's dtype, filled and returned instead of a new
        array.

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_Y)
        The kernel matrix; float32 for float32 input, else float64.

    Examples
    --------
    >>> from fastml.metrics import pq_kernel
    >>> pq_kernel([[1.0, 2.0, 3.0]], [[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    array([[ 6., -6.]])
    """
    n_threads = effective_n_threads(n_jobs)
    X, Y, out, symmetric = _setup(X, Y, out, accept_sparse=False)
    xorder, xstart, xranks, xncat = _ranks_and_order(X)
    if symmetric:
        zranks, zncat = xranks, xncat
    else:
        _, _, zranks, zncat = _ranks_and_order(Y)
    _fast.pq_dense(xorder, xstart, zranks, zncat, out, symmetric, n_threads)
    if symmetric:
        _fast.mirror_upper(out, n_threads)
    return out


# ----------------------------------------------------------------------------------------
# normalisation, dispatch, sums
# ----------------------------------------------------------------------------------------
@follow_array_namespace
def inv_sqrt_diagonal(diag):
    """1 / sqrt(d) per self-similarity, and 0 where d == 0: the scaling of
    :func:`normalize_kernel` (a zero self-similarity gives a zero row, never NaN).

    Parameters
    ----------
    diag : array-like of shape (n,)
        Self-similarities k(x_i, x_i) >= 0.

    Returns
    -------
    scale : ndarray of shape (n,)

    Examples
    --------
    >>> from fastml.metrics.pairwise import inv_sqrt_diagonal
    >>> inv_sqrt_diagonal([4.0, 0.0])
    array([0.5, 0. ])
    """
    diag = np.asarray(diag)
    with np.errstate(divide="ignore"):
        return np.where(diag > 0, 1.0 / np.sqrt(np.maximum(diag, 0)), 0).astype(diag.dtype)


@follow_array_namespace
def normalize_kernel(K, diag_X, diag_Y=None, *, out=None):
    """Normalise a kernel matrix: K_ij / sqrt(k(x_i, x_i) k(y_j, y_j)).

    A zero self-similarity gives a zero row / column, never NaN; float32 K stays float32.

    Parameters
    ----------
    K : array-like of shape (n, m)
        The kernel matrix K(X, Y).
    diag_X : array-like of shape (n,)
        k(x_i, x_i).
    diag_Y : array-like of shape (m,), default=None
        k(y_j, y_j), or None when K is K(X, X) (then ``diag_Y = diag_X``).
    out : ndarray of shape (n, m), default=None
        Filled and returned instead of a new array (may be K itself).

    Returns
    -------
    K_normalized : ndarray of shape (n, m)

    Examples
    --------
    >>> from fastml.metrics import normalize_kernel
    >>> normalize_kernel([[4.0, 2.0], [2.0, 1.0]], [4.0, 1.0])
    array([[1., 1.],
           [1., 1.]])
    """
    from sklearn.utils import check_array

    K = check_array(K, dtype=[np.float64, np.float32], ensure_all_finite=True,
                    input_name="K", order="C")
    n, m = K.shape
    dX = np.asarray(diag_X, dtype=K.dtype)
    if diag_Y is None:
        if n != m:
            raise ValueError(
                f"K has shape {K.shape}; without diag_Y it must be square K(X, X). "
                "Pass diag_Y = k(y_j, y_j) for a rectangular K(X, Y)."
            )
        dY = dX
    else:
        dY = np.asarray(diag_Y, dtype=K.dtype)
    for d, name, size in ((dX, "diag_X", n), (dY, "diag_Y", m)):
        if d.ndim != 1 or d.shape[0] != size:
            raise ValueError(f"{name} must have shape ({size},) to match K {K.shape}, "
                             f"got {d.shape}.")
        if not np.all(np.isfinite(d)):
            raise ValueError(f"{name} contains NaN or infinity.")
        if np.any(d < 0):
            raise ValueError(f"{name} has negative entries: self-similarities of a "
                             "positive semi-definite kernel are >= 0.")
    sx = inv_sqrt_diagonal(dX)
    sy = sx if diag_Y is None else inv_sqrt_diagonal(dY)
    out = check_out(out, K.shape, K.dtype, dX, dY)
    np.multiply(K, sx[:, None], out=out)
    out *= sy[None, :]
    return out


# ----------------------------------------------------------------------------------------
# the kernel registry: one entry per kernel (fastml.metrics._registry.KERNELS)
# ----------------------------------------------------------------------------------------
def _diag_ones(X, params):
    return np.ones(X.shape[0], dtype=X.dtype)


def _diag_zeros(X, params):
    return np.zeros(X.shape[0], dtype=X.dtype)


def _diag_linear(X, params):
    return _row_sq_norms(X)


def _diag_cosine(X, params):
    return (_row_sq_norms(X) > 0).astype(X.dtype)


def _diag_row_sums(X, params):
    return np.asarray(X.sum(axis=1), dtype=X.dtype).ravel()


def _diag_polynomial(X, params):
    gamma = _gamma(params.get("gamma"), X)
    sq = _row_sq_norms(X)
    return ((gamma * sq + params.get("coef0", 1)) ** params.get("degree", 3)).astype(X.dtype)


def _diag_sigmoid(X, params):
    gamma = _gamma(params.get("gamma"), X)
    return np.tanh(gamma * _row_sq_norms(X) + params.get("coef0", 1)).astype(X.dtype)


def _diag_pq(X, params):
    # 2 (P - Q) with z = x: every pair of bins with different values is concordant.
    n, d = X.shape
    srt = np.sort(X, axis=1)
    new = np.ones(srt.shape, dtype=bool)
    new[:, 1:] = srt[:, 1:] != srt[:, :-1]
    ties = np.zeros(n, dtype=np.float64)
    for i in range(n):  # sum over tie groups of t (t - 1) / 2
        sizes = np.diff(np.append(np.flatnonzero(new[i]), d))
        ties[i] = np.sum(sizes * (sizes - 1) / 2)
    return (2 * (d * (d - 1) / 2 - ties)).astype(X.dtype)


register_kernel("additive_chi2", additive_chi2_kernel, sparse=True, diag=_diag_zeros)
register_kernel("chi2", chi2_kernel, params=("gamma",), sparse=True, diag=_diag_ones)
register_kernel("linear", linear_kernel, sparse=True, diag=_diag_linear)
register_kernel("polynomial", polynomial_kernel, params=("gamma", "degree", "coef0"),
                sparse=True, diag=_diag_polynomial, aliases=("poly",))
register_kernel("rbf", rbf_kernel, params=("gamma",), sparse=True, diag=_diag_ones)
register_kernel("laplacian", laplacian_kernel, params=("gamma",), sparse=True,
                diag=_diag_ones)
register_kernel("sigmoid", sigmoid_kernel, params=("gamma", "coef0"), sparse=True,
                diag=_diag_sigmoid)
register_kernel("cosine", cosine_similarity, sparse=True, diag=_diag_cosine)
register_kernel("intersection", intersection_kernel, sparse=True, diag=_diag_row_sums)
register_kernel("hellinger", hellinger_kernel, sparse=True, diag=_diag_row_sums)
register_kernel("pq", pq_kernel, diag=_diag_pq)

#: kernel name -> function (scikit-learn's name for the same table)
PAIRWISE_KERNEL_FUNCTIONS = {n: k.function for n, k in KERNELS.items()}
#: kernel name -> the parameters it takes
KERNEL_PARAMS = {n: k.params for n, k in KERNELS.items()}


def _kernel_spec(metric, what="metric"):
    if not isinstance(metric, str) or metric not in KERNELS:
        raise ValueError(_registry.unknown_kernel_message(what, metric))
    return KERNELS[metric]


def _kernel_params(metric):
    """The parameters a kernel name takes (none for unknown names: they raise later)."""
    spec = KERNELS.get(metric)
    return spec.params if spec is not None else ()


def _diag_one(X, metric, params):
    """k(x_i, x_i) for every row, in closed form where there is one."""
    if callable(metric):
        Xd = X.toarray() if sp.issparse(X) else X
        return np.array([metric(r, r, **params) for r in Xd], dtype=X.dtype)
    spec = _kernel_spec(metric)
    unknown = set(params) - set(spec.params)
    if unknown:
        raise TypeError(f"Kernel {metric!r} takes the parameters {list(spec.params)}, "
                        f"got unexpected {sorted(unknown)}.")
    # the same checks as the kernel itself: its parameters (by computing k(x_0, x_0))
    # and, for kernels of non-negative data, every entry of X
    spec.function(X[:1], **params)
    if spec.name in _NON_NEGATIVE:
        check_non_negative(X, "X", _NON_NEGATIVE[spec.name])
    return spec.diag(X, params)


_NON_NEGATIVE = {"intersection": "intersection kernel", "hellinger": "Hellinger kernel",
                 "chi2": "chi-squared kernel",
                 "additive_chi2": "additive chi-squared kernel"}


@follow_array_namespace
def kernel_diagonal(X, metric="linear", **params):
    """The self-similarities k(x_i, x_i) of the rows of X, without computing K(X, X).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Input rows.
    metric : str, callable or list, default="linear"
        As in :func:`pairwise_kernels` (a name, a callable or a list of
        (metric, weight[, params]) for a weighted sum).
    **params : optional keyword parameters
        Parameters of the kernel.

    Returns
    -------
    diag : ndarray of shape (n_samples,)
        k(x_i, x_i) per row, in closed form (the kernel registry's diagonal).

    Examples
    --------
    >>> from fastml.metrics import kernel_diagonal
    >>> kernel_diagonal([[1.0, 2.0], [0.0, 3.0]], "linear")
    array([5., 9.])
    """
    X, _, _ = check_kernel_input(X, None, accept_sparse=True)
    if isinstance(metric, (list, tuple)) and not (
            isinstance(metric, tuple) and len(metric) in (2, 3)
            and isinstance(metric[1], numbers.Real)):
        items = [_parse_component(it, k) for k, it in enumerate(metric)]
        total = np.zeros(X.shape[0], dtype=X.dtype)
        for m, w, p in items:
            kw = {**{a: b for a, b in params.items()
                     if not isinstance(m, str) or a in _kernel_params(m)}, **p}
            total += w * _diag_one(X, m, kw)
        return total
    if isinstance(metric, tuple):
        return kernel_diagonal(X, [metric], **params)
    return _diag_one(X, metric, params)


def kernel_metrics():
    """The kernel names :func:`pairwise_kernels` accepts, and their functions.

    Returns
    -------
    kernels : dict
        Name -> function (read from the kernel registry).

    Examples
    --------
    >>> from fastml.metrics import kernel_metrics
    >>> "rbf" in kernel_metrics()
    True
    """
    return {n: k.function for n, k in KERNELS.items()}


def _callable_kernel(X, Y, func, out, n_jobs, kwds):
    X, Y, out, symmetric = _setup(X, Y, out, accept_sparse=False)
    Yr = X if symmetric else Y
    for i in range(X.shape[0]):
        for j in range(i if symmetric else 0, Yr.shape[0]):
            out[i, j] = func(X[i], Yr[j], **kwds)
            if symmetric:
                out[j, i] = out[i, j]
    return out


def _one_kernel(X, Y, metric, n_jobs, out, filter_params, kwds):
    if callable(metric):
        return _callable_kernel(X, Y, metric, out, n_jobs, kwds)
    _kernel_spec(metric)
    if filter_params:
        kwds = {k: v for k, v in kwds.items() if k in KERNELS[metric].params}
    else:
        unknown = set(kwds) - set(KERNELS[metric].params)
        if unknown:
            raise TypeError(
                f"Kernel {metric!r} takes the parameters {list(KERNELS[metric].params)}, "
                f"got unexpected {sorted(unknown)}."
            )
    return KERNELS[metric].function(X, Y, n_jobs=n_jobs, out=out, **kwds)


def _parse_component(item, index):
    if isinstance(item, (str,)) or callable(item):
        return item, 1.0, {}
    if isinstance(item, tuple) and len(item) in (2, 3):
        metric, weight = item[0], item[1]
        params = item[2] if len(item) == 3 else {}
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) \
                or not np.isfinite(weight):
            raise ValueError(f"metric[{index}]: the weight must be a finite number, "
                             f"got {weight!r}.")
        if not isinstance(params, dict):
            raise TypeError(f"metric[{index}]: params must be a dict, got "
                            f"{type(params).__name__}.")
        return metric, float(weight), params
    raise TypeError(
        f"metric[{index}] must be a kernel name, a callable, or a tuple "
        f"(metric, weight) / (metric, weight, params); got {item!r}."
    )


@follow_array_namespace
def pairwise_kernels(X, Y=None, metric="linear", *, filter_params=False, n_jobs=None,
                     out=None, **kwds):
    """Compute the kernel between arrays X and optional array Y.

    scikit-learn's dispatcher, extended: ``metric`` is one of :func:`kernel_metrics`
    ("linear", "polynomial"/"poly", "rbf", "laplacian", "sigmoid", "cosine", "chi2",
    "additive_chi2", "intersection", "hellinger", "pq"), ``"precomputed"`` (X is
    checked and returned, by scikit-learn's function), a callable
    ``f(x, y, **kwds) -> float`` (evaluated per pair, slow), or a list whose items are
    metrics or tuples ``(metric, weight)`` / ``(metric, weight, params)``: the result is
    then the weighted sum ``sum_k weight_k K_k`` (``kwds`` apply to every component,
    filtered to the parameters each one takes).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples_X, n_features), or \
            (n_samples_X, n_samples_X) / (n_samples_X, n_samples_Y) if precomputed
        Input rows, or a kernel matrix.
    Y : {array-like, sparse matrix} of shape (n_samples_Y, n_features), default=None
        Second input; None computes K(X, X).
    metric : str, callable or list, default="linear"
        The kernel (see above).
    filter_params : bool, default=False
        Drop the entries of ``kwds`` the kernel does not take (else they raise).
    n_jobs : int, default=None
        Threads; None uses every usable core.
    out : ndarray, default=None
        Array of the result's shape and dtype, filled and returned.
    **kwds : optional keyword parameters
        Parameters of the kernel (``gamma``, ``degree``, ``coef0``).

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_X) or (n_samples_X, n_samples_Y)
        The kernel matrix.

    Examples
    --------
    >>> from fastml.metrics import pairwise_kernels
    >>> pairwise_kernels([[1.0, 2.0]], [[3.0, 4.0]], metric="linear")
    array([[11.]])
    >>> pairwise_kernels([[1.0, 2.0]], [[3.0, 4.0]], metric=[("linear", 0.5), "intersection"])
    array([[8.5]])
    """
    if isinstance(metric, str) and metric == "precomputed":
        # scikit-learn's checks (shape (n_queries, n_indexed), finite, float dtype)
        return _fallback(_SK_PAIRWISE_KERNELS, out, X, Y, metric="precomputed",
                         filter_params=filter_params, n_jobs=n_jobs, **kwds)
    if isinstance(metric, (list, tuple)) and not (
        isinstance(metric, tuple) and len(metric) in (2, 3) and isinstance(metric[1], numbers.Real)
        and not isinstance(metric[0], (list, tuple))
        and (isinstance(metric[0], str) or callable(metric[0]))
    ):
        items = [_parse_component(it, k) for k, it in enumerate(metric)]
        if not items:
            raise ValueError("metric is an empty list; give at least one kernel.")
        total = None
        for k, (m, w, params) in enumerate(items):
            if isinstance(m, str) and m == "precomputed":
                raise ValueError(f"metric[{k}]: 'precomputed' cannot be part of a sum.")
            kw = {**{a: b for a, b in kwds.items()
                     if not isinstance(m, str) or a in _kernel_params(m)}, **params}
            Kk = _one_kernel(X, Y, m, n_jobs, out if total is None else None,
                             False, kw)
            if total is None:
                total = Kk
                if w != 1.0:
                    total *= w
            else:
                total += w * Kk if w != 1.0 else Kk
        return total
    if isinstance(metric, tuple):  # a single (metric, weight[, params])
        return pairwise_kernels(X, Y, [metric], filter_params=filter_params, n_jobs=n_jobs,
                                out=out, **kwds)
    return _one_kernel(X, Y, metric, n_jobs, out, filter_params, kwds)
