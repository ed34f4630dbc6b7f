"""The kernel functions and their registry entries (one :func:`register_kernel` call per
kernel, with its facts). Public as :mod:`fastml.metrics.pairwise`, whose docstring gives
the rules every kernel here follows (shapes, dtypes, ``n_jobs``, finiteness, ``out=``,
errors); the float-safety code they share is in :mod:`fastml.metrics._safety`.
"""
import math
import numbers

import numpy as np
import scipy.sparse as sp
import sklearn.metrics.pairwise as _skp

from fastml.metrics import _pairwise_fast as _fast
from fastml.metrics import _registry, _safety, _scaling
from fastml.metrics._common import gram as _gram
from fastml.metrics._common import int32_indices
from fastml.metrics._common import l2_normalize as _l2_normalize
from fastml.metrics._common import row_sq_norms as _row_sq_norms
from fastml.metrics._common import row_stats as _row_stats
from fastml.metrics._matrix import cosine_similarity_matrix
from fastml.metrics._registry import KERNELS, register_kernel
from fastml.utils import (
    check_kernel_input,
    check_non_negative,
    check_out,
    check_scalar_range,
    effective_n_threads,
)
from fastml.utils.validation import follow_array_namespace

# scikit-learn's function, captured before any patching of sklearn's names
_SK_LAPLACIAN_KERNEL = _skp.laplacian_kernel


def _fallback(sk_function, out, *args, **kwargs):
    """scikit-learn's function for a call fastml does not accelerate (``out`` filled)."""
    K = sk_function(*args, **kwargs)
    if out is None:
        return K
    out = check_out(out, K.shape, K.dtype)
    out[...] = K
    return out


def _setup(X, Y, out, kernel=None):
    """Validate inputs and ``out`` as the registry entry of ``kernel`` says (CSR taken by
    fastml's loops or not, non-negative data only or not; None: dense, any real data);
    return (X, Y, out, symmetric)."""
    spec = KERNELS[kernel] if kernel is not None else None
    if Y is X:
        Y = None
    X, Y, dtype = check_kernel_input(
        X, Y, accept_sparse=spec is not None and spec.csr == _registry.CSR_NATIVE)
    if spec is not None and spec.non_negative is not None:
        check_non_negative(X, "X", spec.non_negative)
        if Y is not None:
            check_non_negative(Y, "Y", spec.non_negative)
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
    X, Y, out, symmetric = _setup(X, Y, out, "linear")
    _gram(X, Y, out, symmetric, n_threads)
    return out


def _check_degree(degree):
    """degree 0 (scikit-learn's SVC takes it: a constant kernel) or a real >= 1 (as
    scikit-learn's polynomial_kernel; between 0 and 1 a negative base has no real power)."""
    if isinstance(degree, numbers.Real) and not isinstance(degree, bool) and degree == 0:
        return 0.0
    try:
        return check_scalar_range(degree, "degree", low=1.0)
    except ValueError:
        raise ValueError(f"degree must be 0 or in [1.0, inf), got {degree!r}.") from None


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
        Kernel degree: 0 (the constant kernel 1, ``(gamma <x, y> + coef0) ** 0``, as
        scikit-learn's SVC computes it) or >= 1.
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
    degree = _check_degree(degree)
    coef0 = check_scalar_range(coef0, "coef0")
    n_threads = effective_n_threads(n_jobs)
    X, Y, out, symmetric = _setup(X, Y, out, "polynomial")
    gamma = _gamma(gamma, X)
    if degree == 0:  # x ** 0 == 1 for every x, as numpy and libsvm compute it
        out.fill(1)
        return out
    if _safety.float32_affine_overflows(X, Y, gamma, coef0, out.dtype, n_threads):
        return _safety.via_float64(polynomial_kernel, X, Y, out, n_jobs, degree=degree,
                            gamma=gamma, coef0=coef0)
    if float(degree).is_integer() and degree <= 64:
        # the map fused into the tiles (vectorised binary powers)
        _gram(X, Y, out, symmetric, n_threads, _fast.GRAM_POWI, p0=gamma, p1=coef0,
              ip=int(degree))
        return out
    _gram(X, Y, out, symmetric, n_threads)
    _fast.affine_power_post(out, gamma, coef0, degree, 0, False, n_threads)
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
    X, Y, out, symmetric = _setup(X, Y, out, "sigmoid")
    gamma = _gamma(gamma, X)
    if _safety.float32_affine_overflows(X, Y, gamma, coef0, out.dtype, n_threads):
        return _safety.via_float64(sigmoid_kernel, X, Y, out, n_jobs, gamma=gamma, coef0=coef0)
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
    X, Y, out, symmetric = _setup(X, Y, out, "rbf")
    gamma = _gamma(gamma, X)
    if _safety.float32_gamma_overflows(gamma, out.dtype):
        return _safety.via_float64(rbf_kernel, X, Y, out, n_jobs, gamma=gamma)
    if not (sp.issparse(X) or sp.issparse(Y)) and _rbf_dense_direct(X, Y, out, symmetric,
                                                                     gamma, n_threads):
        return out
    X0, Y0, gamma0 = X, Y, gamma
    X, Y, gamma = _safety.rbf_conditioning(X, Y, gamma, out.dtype)
    if _safety.float32_gamma_overflows(gamma, out.dtype):
        # rescaling huge data by 2**k multiplies gamma by 2**(-2k): beyond float32's range
        return _safety.via_float64(rbf_kernel, X0, Y0, out, n_jobs, gamma=gamma0)
    xx = _row_sq_norms(X).astype(out.dtype, copy=False)
    yy = xx if symmetric else _row_sq_norms(Y).astype(out.dtype, copy=False)
    if _safety.exp_error(gamma, xx, yy, X.shape[1], out.dtype) > _safety.EXP_RTOL[out.dtype]:
        _gram(X, Y, out, symmetric, n_threads)
        if not _safety.rbf_post_checked(out, xx, yy, gamma, X.shape[1], X0, Y0, gamma0):
            # float32 cancels on too many entries to recompute one by one: the whole
            # matrix from the float64 Gram matrix (as scikit-learn upcasts float32)
            return _safety.via_float64(rbf_kernel, X0, Y0, out, n_jobs, gamma=gamma0)
        if symmetric:
            np.fill_diagonal(out, 1)
        return out
    _gram(X, Y, out, symmetric, n_threads, _fast.GRAM_RBF, xx, yy, p0=gamma)
    return out


def _rbf_dense_direct(X, Y, out, symmetric, gamma, n_threads):
    """The common case of dense rbf in one pass over the rows and one over K: the row
    pass gives the squared norms and the range of the data, from which it follows that
    no scaling is needed and that the Gram form's error (_safety.exp_error) is within tolerance
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
    if _safety.exp_error_max(gamma, sx, sy, X.shape[1], out.dtype) > _safety.EXP_RTOL[out.dtype]:
        return False
    _gram(X, Y, out, symmetric, n_threads, _fast.GRAM_RBF, xx, yy, p0=gamma)
    return True


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
    X, Y, out, symmetric = _setup(X, Y, out, "cosine")
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
    X, Y, out, symmetric = _setup(X, Y, out, "hellinger")
    Xs = X.sqrt() if sp.issparse(X) else np.sqrt(X)
    Ys = None if symmetric else (Y.sqrt() if sp.issparse(Y) else np.sqrt(Y))
    _gram(Xs, Ys, out, symmetric, n_threads)
    return out


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
    X, Y, out, symmetric = _setup(X, Y, out, "intersection")
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
    X, Y, out, symmetric = _setup(X, Y, out, "additive_chi2")
    X, Y, k = _safety.chi2_scaling(X, Y, out.dtype)
    if sp.issparse(X) or sp.issparse(Y):
        _sparse_common(X, Y, out, symmetric, _fast.OP_CHI2, _fast.POST_NEG, 0.0, n_threads)
    else:
        _reduce(X, Y, out, symmetric, _fast.OP_CHI2, _fast.POST_NEG, 0.0, n_threads)
    return _scaling.unscale(out, k, 1)


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
    X, Y, out, symmetric = _setup(X, Y, out, "chi2")
    if _safety.float32_gamma_overflows(gamma, out.dtype):
        return _safety.via_float64(chi2_kernel, X, Y, out, n_jobs, gamma=gamma)
    X0, Y0 = X, Y
    X, Y, k = _safety.chi2_scaling(X, Y, out.dtype)
    if k:
        try:
            gamma = math.ldexp(gamma, -k)
        except OverflowError:
            gamma = math.inf
        gamma = min(gamma, float(np.finfo(np.float64).max))
        if _safety.float32_gamma_overflows(gamma, out.dtype):
            return _safety.via_float64(chi2_kernel, X0, Y0, out, n_jobs, gamma=gamma)
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
    if _safety.exp_error(gamma, xs, ys, X.shape[1], np.float64) <= _safety.EXP_RTOL[out.dtype]:
        return False

    def q_rows(rows):
        block = np.empty((rows.stop - rows.start, out.shape[1]))
        _sparse_common(X64[rows], Y64, block, False, _fast.OP_CHI2, _fast.POST_NEG, 0.0,
                       n_threads)
        return np.negative(block, out=block)

    def exact(ii, jj):
        with np.errstate(over="ignore"):
            return gamma * _safety.chi2_pairs(X64, Y64, ii, jj)

    _safety.exp_post_checked(out, q_rows, xs, ys, gamma, X.shape[1], exact, np.float64, out.dtype)
    if symmetric:
        _fast.mirror_upper(out, n_threads)
    return True


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
    X, Y, out, symmetric = _setup(X, Y, out, "laplacian")
    gamma = _gamma(gamma, X)
    if _safety.float32_gamma_overflows(gamma, out.dtype):
        return _safety.via_float64(laplacian_kernel, X, Y, out, n_jobs, gamma=gamma)
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
    X, Y, out, symmetric = _setup(X, Y, out, "pq")
    xorder, xstart, xranks, xncat = _ranks_and_order(X)
    if symmetric:
        zranks, zncat = xranks, xncat
    else:
        _, _, zranks, zncat = _ranks_and_order(Y)
    _fast.pq_dense(xorder, xstart, zranks, zncat, out, symmetric, n_threads)
    if symmetric:
        _fast.mirror_upper(out, n_threads)
    return out


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


# ----------------------------------------------------------------------------------------
# the registry entries: every fact about a kernel, read by every caller
# ----------------------------------------------------------------------------------------
_NATIVE, _SKLEARN = _registry.CSR_NATIVE, _registry.CSR_SKLEARN

register_kernel("additive_chi2", additive_chi2_kernel, csr=_NATIVE,
                non_negative="additive chi-squared kernel", diag=_diag_zeros)
register_kernel("chi2", chi2_kernel, params=("gamma",), csr=_NATIVE,
                non_negative="chi-squared kernel", diag=_diag_ones)
register_kernel("linear", linear_kernel, csr=_NATIVE, diag=_diag_linear)
register_kernel("polynomial", polynomial_kernel, params=("gamma", "degree", "coef0"),
                csr=_NATIVE, diag=_diag_polynomial, aliases=("poly",))
register_kernel("rbf", rbf_kernel, params=("gamma",), csr=_NATIVE, diag=_diag_ones)
register_kernel("laplacian", laplacian_kernel, params=("gamma",), csr=_SKLEARN,
                diag=_diag_ones)
register_kernel("sigmoid", sigmoid_kernel, params=("gamma", "coef0"), csr=_NATIVE,
                diag=_diag_sigmoid)
register_kernel("cosine", cosine_similarity, csr=_NATIVE, diag=_diag_cosine)
register_kernel("intersection", intersection_kernel, csr=_NATIVE,
                non_negative="intersection kernel", diag=_diag_row_sums)
register_kernel("hellinger", hellinger_kernel, csr=_NATIVE, non_negative="Hellinger kernel",
                diag=_diag_row_sums)
register_kernel("pq", pq_kernel, diag=_diag_pq)
