"""Unsupervised nearest-neighbour search (``NearestNeighbors``)."""
from fastml.neighbors._base import _NeighborsBase


class NearestNeighbors(_NeighborsBase):
    """Unsupervised k-nearest-neighbour search (scikit-learn's API).

    Parameters
    ----------
    n_neighbors : int, default=5
    metric : str, default="minkowski"
        Any metric of :func:`fastml.metrics.pairwise_distances`: "euclidean",
        "sqeuclidean", "manhattan" ("cityblock", "l1"), "minkowski" (with ``p``),
        "chebyshev", "cosine", "hamming" (numeric rows or equal-length strings),
        "levenshtein" (strings or integer sequences), "dtw" (numeric sequences).
    p : float >= 1, default=2
        Minkowski power (2 = Euclidean, computed with GEMM).
    metric_params : dict, optional
        e.g. ``{"window": 10}`` for dtw.
    n_jobs : int, optional
        Threads (scikit-learn's meaning); results do not depend on it.
    """

    def fit(self, X, y=None):
        self._fit(X)
        return self
