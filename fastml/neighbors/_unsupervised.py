"""Unsupervised nearest-neighbour search: scikit-learn's estimator with fastml's search."""
from sklearn import neighbors as _skn

from fastml.neighbors._base import (
    FastKNeighborsMixin,
    FastRadiusNeighborsMixin,
    with_fastml_metrics,
)

__all__ = ["NearestNeighbors"]


class NearestNeighbors(FastKNeighborsMixin, FastRadiusNeighborsMixin,
                       _skn.NearestNeighbors):
    """Unsupervised learner for implementing neighbor searches.

    scikit-learn's ``NearestNeighbors`` (same parameters, attributes, errors and results,
    including the radius API) whose k-neighbour search runs fastml's compiled kernels
    where they apply: brute force on dense data with a metric of fastml's registry
    (Euclidean, squared Euclidean, Manhattan, Chebyshev, Minkowski ``p >= 1``, cosine,
    Hamming; 0/1 data bit-packed for Hamming). It also searches sequences:
    ``metric="levenshtein"`` (str or 1-D integer sequences), ``"dtw"`` (1-D / 2-D float
    sequences) and ``"hamming"`` on equal-length str. Everything else (trees, sparse
    input, callable and rare metrics, ``"precomputed"``, radius queries) runs
    scikit-learn's code.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbors to use by default for :meth:`kneighbors` queries.
    radius : float, default=1.0
        Range of parameter space to use by default for :meth:`radius_neighbors` queries.
    algorithm : {'auto', 'ball_tree', 'kd_tree', 'brute'}, default='auto'
        Algorithm used to compute the nearest neighbors ('auto': a tree for fewer than
        16 features, else brute force, which fastml accelerates).
    leaf_size : int, default=30
        Leaf size passed to BallTree or KDTree.
    metric : str or callable, default='minkowski'
        Any metric scikit-learn accepts, a callable, or a fastml sequence metric.
    p : float, default=2
        Parameter for the Minkowski metric.
    metric_params : dict, default=None
        Additional keyword arguments for the metric function.
    n_jobs : int, default=None
        The number of parallel jobs (threads) for the neighbors search; results do not
        depend on it.

    Attributes
    ----------
    effective_metric_ : str
        Metric used to compute distances to neighbors.
    effective_metric_params_ : dict
        Parameters for the metric used to compute distances to neighbors.
    n_features_in_ : int
        Number of features seen during fit (not set for sequence metrics).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.
    n_samples_fit_ : int
        Number of samples in the fitted data.

    Examples
    --------
    >>> from fastml.neighbors import NearestNeighbors
    >>> nn = NearestNeighbors(n_neighbors=2).fit([[0, 0], [0, 1], [5, 5]])
    >>> nn.kneighbors([[0, 0.2]], return_distance=False)
    array([[0, 1]])
    >>> words = NearestNeighbors(n_neighbors=1, metric="levenshtein").fit(["kitten", "sitting"])
    >>> words.kneighbors(["mitten"])
    (array([[1]], dtype=int32), array([[0]]))
    """

    _parameter_constraints = with_fastml_metrics(
        _skn.NearestNeighbors._parameter_constraints)
