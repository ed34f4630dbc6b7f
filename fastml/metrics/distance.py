"""Distances between numeric vectors, strings and sequences, and the k-nearest-neighbour
search that :mod:`fastml.neighbors` builds on.

Numeric metrics (rows of 2-D arrays; float32 stays float32, anything else is float64):

=================  ====================================================================
``euclidean``      ``sqrt(sum (x - y)^2)`` (alias ``l2``): GEMM, entries that lost digits
                   to cancellation recomputed exactly
``sqeuclidean``    ``sum (x - y)^2``
``manhattan``      ``sum |x - y|`` (aliases ``cityblock``, ``l1``)
``minkowski``      ``(sum |x - y|^p)^(1/p)``, ``p >= 1`` (``p=inf`` is Chebyshev)
``chebyshev``      ``max |x - y|``
``cosine``         ``1 - <x, y> / (||x|| ||y||)`` (a zero row has similarity 0, as in
                   scikit-learn, where scipy gives NaN)
``hamming``        fraction of differing components (as scipy); 0/1 or boolean data is
                   packed into 64-bit words and compared with popcount
=================  ====================================================================

String and sequence metrics (``X``, ``Y`` are sequences of items):

=================  ====================================================================
``levenshtein``    edit distance with unit costs between ``str`` (compared by Unicode
                   code point) or 1-D integer arrays; an integer (int32) result
``hamming``        on ``str`` items of one common length: fraction of differing
                   positions
``dtw``            dynamic time warping between 1-D (n,) or 2-D (n, dim) float arrays:
                   the least sum of Euclidean frame distances over a warping path;
                   ``window=w`` (Sakoe-Chiba band) keeps ``|i - j| <= max(w, |n - m|)``
=================  ====================================================================

``n_jobs`` has scikit-learn's meaning; results do not depend on it.
"""
import numpy as np

from fastml.metrics import _distances as _dist
from fastml.metrics import _registry
from fastml.metrics._common import as_bool_2d
from fastml.metrics._registry import DISTANCE_METRICS, check_window, resolve_metric
from fastml.metrics._sequences import reject_strings_for_numeric
from fastml.utils import check_kernel_input, check_out, check_positive_int, effective_n_threads

# kept for callers of the former single-module layout
from fastml.metrics._sequences import (  # noqa: F401
    _check_sequence_container,
    _encode_frames,
    _encode_symbols,
    _holds_strings,
    _reject_strings_for_numeric,
    _string_codes_matrix,
)

__all__ = [
    "DISTANCE_METRICS",
    "dtw",
    "kneighbors",
    "levenshtein",
    "pairwise_distances",
]

_ALIASES = {a: n for a, n in _registry.METRIC_ALIASES.items() if a != n}
NUMERIC_METRICS = tuple(m.name for m in _registry.METRICS.values() if m.numeric is not None)
SEQUENCE_METRICS = tuple(m.name for m in _registry.METRICS.values() if m.sequence is not None)
_check_window = check_window


def _check_metric(metric, params):
    """Canonical metric name and its checked parameters."""
    spec, prm = resolve_metric(metric, params)
    return spec.name, prm


def _validate_numeric(spec, X, Y, x_name="X", y_name="Y"):
    """Validated numeric inputs of a metric: ``(X, Y)`` float arrays of one dtype, or 0/1
    boolean arrays kept as is where the metric packs bits (``keep_bool``)."""
    if spec.numeric.keep_bool:
        Xb, Yb = as_bool_2d(X), (None if Y is None else as_bool_2d(Y))
        if Xb is not None and Xb.size and (Y is None or (Yb is not None and Yb.size)):
            if Yb is not None and Yb.shape[1] != Xb.shape[1]:
                raise ValueError(
                    f"Incompatible dimension for {x_name} and {y_name} matrices: "
                    f"{x_name}.shape[1] == {Xb.shape[1]} while {y_name}.shape[1] == "
                    f"{Yb.shape[1]}.")
            return Xb, Yb
    X, Y, _ = check_kernel_input(X, Y, x_name=x_name, y_name=y_name)
    return X, Y


# ----------------------------------------------------------------------------------------
# full matrices
# ----------------------------------------------------------------------------------------
def pairwise_distances(X, Y=None, metric="euclidean", *, n_jobs=None, out=None, **params):
    """Distance matrix between the items of X and Y (``Y=None``: X with itself).

    Parameters
    ----------
    X : array-like (n, d) for numeric metrics; a sequence of str / 1-D integer arrays
        (``levenshtein``), of equal-length str (``hamming``) or of 1-D / 2-D float
        arrays (``dtw``).
    Y : the same kind as X, or None.
    metric : str, see the module docstring (``fastml.metrics.distance``).
    n_jobs : int or None, threads (scikit-learn's meaning).
    out : ndarray of the result's shape and dtype, filled instead of a new array.
    **params : ``p`` for minkowski (default 2), ``window`` for dtw (default None).

    Returns
    -------
    ndarray (n, m): float32 for float32 input, int32 for levenshtein, else float64.
    """
    spec, prm = resolve_metric(metric, params)
    n_threads = effective_n_threads(n_jobs)
    if Y is X:
        Y = None
    if spec.is_sequence_input(X):
        route = spec.sequence
        A, B = route.encode(X, Y)
        n = route.count(A)
        out = check_out(out, (n, n if B is None else route.count(B)), route.dtype(A))
        return route.matrix(A, B, out, prm, n_threads)
    for A, nm in ((X, "X"), (Y, "Y")):
        if A is not None:
            reject_strings_for_numeric(A, nm, metric)
    X, Y = _validate_numeric(spec, X, Y)
    m = X.shape[0] if Y is None else Y.shape[0]
    dtype = np.float64 if X.dtype == np.bool_ else X.dtype
    out = check_out(out, (X.shape[0], m), dtype, X, Y)
    return spec.numeric.matrix(X, Y, out, prm, n_threads)


# ----------------------------------------------------------------------------------------
# one pair
# ----------------------------------------------------------------------------------------
def levenshtein(a, b):
    """Levenshtein (edit) distance between two str, or two 1-D integer sequences: the least
    number of single-symbol insertions, deletions and substitutions turning a into b."""
    if isinstance(a, str) != isinstance(b, str):
        raise TypeError(
            f"a and b must both be str or both be 1-D integer sequences, got "
            f"{type(a).__name__} and {type(b).__name__}."
        )
    (xs, xo), (ys, yo) = _encode_symbols([a], [b], names=("a", "b"))
    return _dist.levenshtein_pair(xs, ys)


def dtw(a, b, *, window=None):
    """Dynamic time warping distance between two sequences of 1-D (n,) or 2-D (n, dim)
    float arrays (the least sum of Euclidean frame distances along a warping path)."""
    window = _check_window(window)
    from fastml.metrics._matrix import dtw_matrix

    A, B = _encode_frames([a], [b], names=("a", "b"))
    out = np.empty((1, 1), dtype=A[0].dtype)
    dtw_matrix(A, B, out, {"window": window}, 1)
    return float(out[0, 0])


# ----------------------------------------------------------------------------------------
# k nearest neighbours (used by fastml.neighbors)
# ----------------------------------------------------------------------------------------
def check_fit_data(X, metric, params, name="X"):
    """Validate training data for ``metric``; returns it in the form kneighbors takes
    (a float array for numeric metrics, a list of items for sequence metrics)."""
    spec, prm = resolve_metric(metric, params)
    if spec.is_sequence_input(X):
        items = _check_sequence_container(X, name, spec.name)
        # validate the items now (the encodings are recomputed per query batch)
        spec.sequence.encode(items, None, names=(name, None))
        return items
    reject_strings_for_numeric(X, name, metric)
    X, _, _ = check_kernel_input(X, None, x_name=name)
    return X


def kneighbors(Q, F, k, metric="euclidean", *, n_jobs=None, **params):
    """The ``k`` nearest items of ``F`` (train) for every item of ``Q`` (queries).

    Returns ``(dist, ind)`` of shape (n_queries, k), sorted by distance, ties by index.
    Work is chunked: the extra memory is n_threads * (chunk of queries x chunk of train)
    values (plus the (n_queries, k) result), never n_queries x n_train.
    """
    spec, prm = resolve_metric(metric, params)
    k = check_positive_int(k, "n_neighbors")
    n_threads = effective_n_threads(n_jobs)
    if spec.is_sequence_input(F):
        route = spec.sequence
        if spec.numeric is not None and not route.accepts(Q):
            raise TypeError("The training data are strings but the queries are not; "
                            f"metric={spec.name!r} compares strings with strings.")
        if spec.numeric is None:
            QA, FA = route.encode(Q, F)
        else:
            QA, _ = route.encode(Q, None, names=("X", None))
            FA, _ = route.encode(F, None, names=("the training data", None))
        return route.knn(QA, FA, k, prm, n_threads)
    reject_strings_for_numeric(Q, "X", metric)
    Q, F = _validate_numeric(spec, Q, F, "X", "the training data")
    if (Q.dtype == np.bool_) != (F.dtype == np.bool_):
        Q, F, _ = check_kernel_input(Q, F, x_name="X", y_name="the training data")
    return spec.numeric.knn(Q, F, k, prm, n_threads)
