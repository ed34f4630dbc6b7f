"""Kernel dispatch: :func:`pairwise_kernels` (a name, a callable, "precomputed" or a
weighted sum, one rule for sums: :func:`is_kernel_sum`), :func:`kernel_diagonal`,
:func:`kernel_metrics` and kernel normalisation. Every kernel and its facts come from the
registry (:data:`fastml.metrics._registry.KERNELS`, filled by
:mod:`fastml.metrics._kernels`)."""
import numbers

import numpy as np
import scipy.sparse as sp
import sklearn.metrics.pairwise as _skp

from fastml.metrics import _kernels  # noqa: F401  (fills the registry)
from fastml.metrics import _registry
from fastml.metrics._kernels import _fallback, _setup
from fastml.metrics._registry import KERNELS
from fastml.utils import check_kernel_input, check_non_negative, check_out
from fastml.utils.validation import follow_array_namespace

# scikit-learn's function, captured before any patching of sklearn's names
_SK_PAIRWISE_KERNELS = _skp.pairwise_kernels


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


#: kernel name -> function (scikit-learn's name for the same table)
PAIRWISE_KERNEL_FUNCTIONS = {n: k.function for n, k in KERNELS.items()}


#: kernel name -> the parameters it takes
KERNEL_PARAMS = {n: k.params for n, k in KERNELS.items()}


def _kernel_spec(metric, what="metric"):
    if not isinstance(metric, str) or metric not in KERNELS:
        raise ValueError(_registry.unknown_kernel_message(what, metric))
    return KERNELS[metric]


def _check_params(spec, metric, params):
    unknown = set(params) - set(spec.params)
    if unknown:
        raise TypeError(f"Kernel {metric!r} takes the parameters {list(spec.params)}, "
                        f"got unexpected {sorted(unknown)}.")


def is_kernel_sum(metric):
    """True when ``metric`` asks for a weighted sum of kernels: a list, or a tuple that is
    not one component ``(metric, weight)`` / ``(metric, weight, params)``. The one rule
    read by :func:`pairwise_kernels` and :func:`kernel_diagonal`."""
    if not isinstance(metric, (list, tuple)):
        return False
    one = (isinstance(metric, tuple) and len(metric) in (2, 3)
           and isinstance(metric[1], numbers.Real)
           and (isinstance(metric[0], str) or callable(metric[0])))
    return not one


def _sum_components(metric, kwds):
    """(metric, weight, params) per component of a sum: ``kwds`` filtered to what each
    named kernel takes, then the component's own params."""
    items = [_parse_component(it, k) for k, it in enumerate(metric)]
    if not items:
        raise ValueError("metric is an empty list; give at least one kernel.")
    out = []
    for k, (m, w, params) in enumerate(items):
        if isinstance(m, str) and m == "precomputed":
            raise ValueError(f"metric[{k}]: 'precomputed' cannot be part of a sum.")
        allowed = KERNELS[m].params if isinstance(m, str) and m in KERNELS else ()
        kw = {a: b for a, b in kwds.items() if not isinstance(m, str) or a in allowed}
        out.append((m, w, {**kw, **params}))
    return out


def _diag_one(X, metric, params):
    """k(x_i, x_i) for every row, in closed form where there is one."""
    if callable(metric):
        Xd = X.toarray() if sp.issparse(X) else X
        return np.array([metric(r, r, **params) for r in Xd], dtype=X.dtype)
    spec = _kernel_spec(metric)
    _check_params(spec, metric, params)
    # the same checks as the kernel itself: its parameters (by computing k(x_0, x_0))
    # and, for kernels of non-negative data, every entry of X
    spec.function(X[:1], **params)
    if spec.non_negative is not None:
        check_non_negative(X, "X", spec.non_negative)
    return spec.diag(X, params)


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
    if is_kernel_sum(metric):
        total = np.zeros(X.shape[0], dtype=X.dtype)
        for m, w, p in _sum_components(metric, params):
            total += w * _diag_one(X, m, p)
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
    X, Y, out, symmetric = _setup(X, Y, out)
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
    spec = _kernel_spec(metric)
    if filter_params:
        kwds = {k: v for k, v in kwds.items() if k in spec.params}
    else:
        _check_params(spec, metric, kwds)
    return spec.function(X, Y, n_jobs=n_jobs, out=out, **kwds)


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
    if is_kernel_sum(metric):
        total = None
        for m, w, params in _sum_components(metric, kwds):
            Kk = _one_kernel(X, Y, m, n_jobs, out if total is None else None, False, params)
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
