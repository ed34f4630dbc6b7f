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

``n_jobs``: None uses every usable core; results do not depend on it.
"""
import numpy as np
import scipy.sparse as sp
import sklearn.metrics.pairwise as _skp

from fastml.metrics import _distances as _dist
from fastml.metrics import _registry
from fastml.metrics._common import as_bool_2d
from fastml.metrics._registry import DISTANCE_METRICS, check_window, resolve_metric
from fastml.metrics._sequences import (
    check_sequence_container,
    encode_frames,
    encode_symbols,
    holds_strings,
    reject_strings_for_numeric,
)
from fastml.utils import check_kernel_input, check_out, check_positive_int, effective_n_threads

__all__ = [
    "DISTANCE_METRICS",
    "dtw",
    "kneighbors",
    "levenshtein",
    "pairwise_distances",
]


# scikit-learn's function, captured before any patching of sklearn's names
_SK_PAIRWISE_DISTANCES = _skp.pairwise_distances


def _check_metric(metric, params):
    """Canonical metric name and its checked parameters."""
    spec, prm = resolve_metric(metric, params)
    return spec.name, prm


def _validate_numeric(spec, X, Y, x_name="X", y_name="Y"):
    """Validated numeric inputs of a metric: ``(X, Y)`` float arrays of one dtype, or 0/1
    boolean arrays kept as is where the metric packs bits (``keep_bool``)."""
    # sequences of numbers keep the dtype of their items (float32 scalars stay float32,
    # as in scikit-learn's check_pairwise_arrays)
    X = np.asarray(X) if isinstance(X, (list, tuple)) else X
    Y = np.asarray(Y) if isinstance(Y, (list, tuple)) else Y
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
def pairwise_distances(X, Y=None, metric="euclidean", *, n_jobs=None,
                       ensure_all_finite=True, out=None, **kwds):
    """Compute the distance matrix from a feature array X and optional Y.

    A drop-in for :func:`sklearn.metrics.pairwise_distances` (same parameters, results
    and errors) that also compares strings and sequences. fastml's compiled routines
    run for the metrics of its registry on dense numeric data (``euclidean`` /
    ``l2``, ``sqeuclidean``, ``manhattan`` / ``cityblock`` / ``l1``, ``chebyshev``,
    ``minkowski`` with ``p >= 1``, ``cosine``, ``hamming``; 0/1 data bit-packed) and for
    the sequence metrics (``levenshtein``, ``dtw``, ``hamming`` on equal-length str);
    every other call (sparse input, callables, ``"precomputed"``, the other metrics,
    ``ensure_all_finite`` other than True, parameters such as ``Y_norm_squared``) runs
    scikit-learn's own function.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples_X, n_features), or a sequence of
        items for the sequence metrics (str or 1-D integer arrays for ``levenshtein``,
        equal-length str for ``hamming``, 1-D / 2-D float arrays for ``dtw``)
        Array of pairwise distances between samples, or a feature array.
    Y : array-like of the same kind as X, default=None
        A second feature array; None means X with itself.
    metric : str or callable, default='euclidean'
        Any metric scikit-learn accepts, a callable, ``"precomputed"``, or one of
        ``"levenshtein"``, ``"dtw"``.
    n_jobs : int, default=None
        The number of threads; None uses every usable core; results do not depend on it.
    ensure_all_finite : bool or 'allow-nan', default=True
        As in scikit-learn.
    out : ndarray, default=None
        An array of the result's shape and dtype, filled and returned instead of a new
        array.
    **kwds : optional keyword parameters
        Parameters of the metric: ``p`` for minkowski, ``window`` for dtw (a Sakoe-Chiba
        band, default None), or those scikit-learn's metrics take.

    Returns
    -------
    D : ndarray of shape (n_samples_X, n_samples_X) or (n_samples_X, n_samples_Y)
        The distances; float32 for float32 input on fastml's routines, int32 for
        levenshtein.

    Examples
    --------
    >>> from fastml.metrics import pairwise_distances
    >>> pairwise_distances([[0, 0], [3, 4]])
    array([[0., 5.],
           [5., 0.]])
    >>> pairwise_distances(["kitten", "sitting"], metric="levenshtein")
    array([[0, 3],
           [3, 0]], dtype=int32)
    """
    spec = None
    if isinstance(metric, str):
        name = _registry.METRIC_ALIASES.get(metric)
        spec = None if name is None else _registry.METRICS[name]
    if spec is not None and spec.is_sequence_input(X):
        prm = spec.check_params(metric, kwds)
        n_threads = effective_n_threads(n_jobs)
        if Y is X:
            Y = None
        route = spec.sequence
        A, B = route.encode(X, Y)
        n = route.count(A)
        out = check_out(out, (n, n if B is None else route.count(B)), route.dtype(A))
        return route.matrix(A, B, out, prm, n_threads)
    p = kwds.get("p")
    if isinstance(p, float) and p != p:  # NaN: every distance would be NaN
        raise ValueError("p is NaN; the Minkowski distance needs a number p >= 1, "
                         "e.g. p=2.")
    prm = None
    # a metric that validates its own input (nan_euclidean: NaN is data) ignores
    # ensure_all_finite, as in scikit-learn
    own = spec is not None and spec.numeric is not None and spec.numeric.compute is not None
    if spec is not None and (ensure_all_finite is True or own):
        for A, nm in ((X, "X"), (Y, "Y")):
            if A is not None:
                reject_strings_for_numeric(A, nm, metric)
        found = _registry.is_usable_for(X, Y, metric, kwds)
        prm = None if found is None else found[1]
    if prm is None:
        D = _SK_PAIRWISE_DISTANCES(X, Y, metric, n_jobs=n_jobs,
                                   ensure_all_finite=ensure_all_finite, **kwds)
        if out is not None:
            out = check_out(out, D.shape, D.dtype)
            out[...] = D
            return out
        return D
    if own:
        return spec.numeric.matrix(X, Y, out, prm, effective_n_threads(n_jobs))
    if Y is X:
        Y = None
    X, Y = _validate_numeric(spec, X, Y)
    m = X.shape[0] if Y is None else Y.shape[0]
    dtype = np.float64 if X.dtype == np.bool_ else X.dtype
    out = check_out(out, (X.shape[0], m), dtype, X, Y)
    return spec.numeric.matrix(X, Y, out, prm, effective_n_threads(n_jobs))


# ----------------------------------------------------------------------------------------
# one pair
# ----------------------------------------------------------------------------------------
def levenshtein(a, b):
    """Levenshtein (edit) distance between two str, or two 1-D integer sequences: the
    least number of single-symbol insertions, deletions and substitutions turning a into b.

    Parameters
    ----------
    a, b : str or 1-D array-like of int
        Both str (compared by Unicode code point) or both integer sequences.

    Returns
    -------
    distance : int

    Examples
    --------
    >>> from fastml.metrics import levenshtein
    >>> levenshtein("kitten", "sitting")
    3
    """
    if isinstance(a, str) != isinstance(b, str):
        raise TypeError(
            f"a and b must both be str or both be 1-D integer sequences, got "
            f"{type(a).__name__} and {type(b).__name__}."
        )
    (xs, xo), (ys, yo) = encode_symbols([a], [b], names=("a", "b"))
    return _dist.levenshtein_pair(xs, ys)


def dtw(a, b, *, window=None):
    """Dynamic time warping distance between two sequences of 1-D (n,) or 2-D (n, dim)
    float arrays (the least sum of Euclidean frame distances along a warping path).

    Parameters
    ----------
    a, b : array-like of shape (n,) or (n, dim)
        The two sequences (frames of one size).
    window : int, default=None
        Sakoe-Chiba band: ``|i - j| <= max(window, |n - m|)``; None for no band.

    Returns
    -------
    distance : float

    Examples
    --------
    >>> from fastml.metrics import dtw
    >>> dtw([0.0, 1.0, 2.0], [0.0, 0.0, 1.0, 2.0])
    0.0
    """
    window = check_window(window)
    from fastml.metrics._matrix import dtw_matrix

    A, B = encode_frames([a], [b], names=("a", "b"))
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
        items = check_sequence_container(X, name, spec.name)
        # validate the items now (the encodings are recomputed per query batch)
        spec.sequence.encode(items, None, names=(name, None))
        return items
    reject_strings_for_numeric(X, name, metric)
    X, _, _ = check_kernel_input(X, None, x_name=name)
    return X


def kneighbors(Q, F, k, metric="euclidean", *, n_jobs=None, **params):
    """The ``k`` nearest items of ``F`` (train) for every item of ``Q`` (queries).

    Work is chunked: the extra memory is n_threads * (chunk of queries x chunk of train)
    values (plus the (n_queries, k) result), never n_queries x n_train.

    Parameters
    ----------
    Q : array-like of shape (n_queries, n_features), or a sequence of items
        The queries.
    F : array-like of shape (n_train, n_features), or a sequence of items
        The training items.
    k : int
        Number of neighbours (<= n_train).
    metric : str, default="euclidean"
        A metric of the registry with a kNN routine (see :func:`pairwise_distances`).
    n_jobs : int, default=None
        Threads; results do not depend on it.
    **params : optional keyword parameters
        ``p`` for minkowski, ``window`` for dtw.

    Returns
    -------
    dist : ndarray of shape (n_queries, k)
        Distances, sorted; equal distances ordered by training index.
    ind : ndarray of shape (n_queries, k)
        Indices into F.

    Examples
    --------
    >>> from fastml.metrics.distance import kneighbors
    >>> kneighbors([[0.9]], [[0.0], [1.0], [5.0]], 2)
    (array([[0.1, 0.9]]), array([[1, 0]]))
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
