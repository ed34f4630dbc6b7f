"""Neighbour graphs: ``kneighbors_graph``, ``radius_neighbors_graph`` and the
transformers, scikit-learn's with fastml's search underneath."""
from sklearn import neighbors as _skn
from sklearn.neighbors._base import KNeighborsMixin, RadiusNeighborsMixin

from fastml.neighbors._base import (
    FASTML_ONLY_METRICS,
    FastKNeighborsMixin,
    FastRadiusNeighborsMixin,
    with_fastml_metrics,
)
from fastml.neighbors._unsupervised import NearestNeighbors

__all__ = ["KNeighborsTransformer", "RadiusNeighborsTransformer", "kneighbors_graph",
           "radius_neighbors_graph"]

# scikit-learn's functions, captured before any patching of sklearn's names
_SK_KNEIGHBORS_GRAPH = _skn.kneighbors_graph
_SK_RADIUS_NEIGHBORS_GRAPH = _skn.radius_neighbors_graph


def kneighbors_graph(X, n_neighbors, *, mode="connectivity", metric="minkowski", p=2,
                     metric_params=None, include_self=False, n_jobs=None):
    """Compute the (weighted) graph of k-Neighbors for points in X.

    scikit-learn's function, with the search of :class:`fastml.neighbors.NearestNeighbors`
    (so also ``metric="levenshtein"``, ``"dtw"`` and ``"hamming"`` on strings).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features), a sequence of
        items for the sequence metrics, or a fitted ``NearestNeighbors``
        Sample data.
    n_neighbors : int
        Number of neighbors for each sample.
    mode : {'connectivity', 'distance'}, default='connectivity'
        Type of returned matrix: 'connectivity' returns the connectivity matrix with
        ones and zeros, 'distance' the distances between neighbors.
    metric : str, default='minkowski'
        Metric to use for distance computation.
    p : float, default=2
        Power parameter for the Minkowski metric.
    metric_params : dict, default=None
        Additional keyword arguments for the metric function.
    include_self : bool or 'auto', default=False
        Whether or not to mark each sample as the first nearest neighbor to itself.
        If 'auto', then True is used for mode='connectivity' and False for
        mode='distance'.
    n_jobs : int, default=None
        The number of parallel jobs (threads) to run for neighbors search.

    Returns
    -------
    A : sparse matrix of shape (n_samples, n_samples)
        Graph where A[i, j] is assigned the weight of edge that connects i to j. The
        matrix is of CSR format.

    Examples
    --------
    >>> from fastml.neighbors import kneighbors_graph
    >>> kneighbors_graph([[0], [3], [1]], 2, mode="connectivity").toarray()
    array([[0., 1., 1.],
           [1., 0., 1.],
           [1., 1., 0.]])
    """
    if not isinstance(X, KNeighborsMixin):
        X = NearestNeighbors(n_neighbors=n_neighbors, metric=metric, p=p,
                             metric_params=metric_params, n_jobs=n_jobs).fit(X)
    if isinstance(metric, str) and metric in FASTML_ONLY_METRICS:
        if include_self == "auto":
            include_self = mode == "connectivity"
        return X.kneighbors_graph(X._fit_X if include_self else None, n_neighbors,
                                  mode=mode)
    return _SK_KNEIGHBORS_GRAPH(X, n_neighbors, mode=mode, metric=metric, p=p,
                                metric_params=metric_params, include_self=include_self,
                                n_jobs=n_jobs)


def radius_neighbors_graph(X, radius, *, mode="connectivity", metric="minkowski", p=2,
                           metric_params=None, include_self=False, n_jobs=None):
    """Compute the (weighted) graph of Neighbors for points in X within ``radius``.

    scikit-learn's function, with the radius search of
    :class:`fastml.neighbors.NearestNeighbors` (so also ``metric="levenshtein"``,
    ``"dtw"`` and ``"hamming"`` on strings).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features), a sequence of
        items for the sequence metrics, or a fitted ``NearestNeighbors``
        Sample data.
    radius : float
        Radius of neighborhoods.
    mode : {'connectivity', 'distance'}, default='connectivity'
        Type of returned matrix.
    metric : str, default='minkowski'
        Metric to use for distance computation.
    p : float, default=2
        Power parameter for the Minkowski metric.
    metric_params : dict, default=None
        Additional keyword arguments for the metric function.
    include_self : bool or 'auto', default=False
        Whether or not to mark each sample as the first nearest neighbor to itself.
    n_jobs : int, default=None
        The number of parallel jobs to run for neighbors search.

    Returns
    -------
    A : sparse matrix of shape (n_samples, n_samples)
        Graph where A[i, j] is assigned the weight of edge that connects i to j. The
        matrix is of CSR format.

    Examples
    --------
    >>> from fastml.neighbors import radius_neighbors_graph
    >>> radius_neighbors_graph([[0], [3], [1]], 1.5).toarray()
    array([[0., 0., 1.],
           [0., 0., 0.],
           [1., 0., 0.]])
    >>> radius_neighbors_graph(["cat", "cut", "dog"], 1, metric="levenshtein").toarray()
    array([[0., 1., 0.],
           [1., 0., 0.],
           [0., 0., 0.]])
    """
    if not isinstance(X, RadiusNeighborsMixin):
        X = NearestNeighbors(radius=radius, metric=metric, p=p,
                             metric_params=metric_params, n_jobs=n_jobs).fit(X)
    if isinstance(metric, str) and metric in FASTML_ONLY_METRICS:
        # scikit-learn's function validates metric against its own names
        if include_self == "auto":
            include_self = mode == "connectivity"
        return X.radius_neighbors_graph(X._fit_X if include_self else None, radius,
                                        mode=mode)
    return _SK_RADIUS_NEIGHBORS_GRAPH(X, radius, mode=mode, metric=metric, p=p,
                                      metric_params=metric_params,
                                      include_self=include_self, n_jobs=n_jobs)


class KNeighborsTransformer(FastKNeighborsMixin, _skn.KNeighborsTransformer):
    """Transform X into a (weighted) graph of k nearest neighbors.

    scikit-learn's ``KNeighborsTransformer`` with fastml's search (see
    :class:`fastml.neighbors.NearestNeighbors`): a precomputed sparse neighbours graph
    for estimators such as ``TSNE``, ``Isomap`` or ``DBSCAN(metric="precomputed")``.

    Parameters
    ----------
    mode : {'distance', 'connectivity'}, default='distance'
        Type of returned matrix.
    n_neighbors : int, default=5
        Number of neighbors for each sample in the transformed sparse graph. For
        compatibility reasons, as each sample is considered as its own neighbor, one
        extra neighbor will be computed when mode == 'distance'.
    algorithm : {'auto', 'ball_tree', 'kd_tree', 'brute'}, default='auto'
        Algorithm used to compute the nearest neighbors.
    leaf_size : int, default=30
        Leaf size passed to BallTree or KDTree.
    metric : str or callable, default='minkowski'
        Metric to use for distance computation.
    p : float, default=2
        Parameter for the Minkowski metric.
    metric_params : dict, default=None
        Additional keyword arguments for the metric function.
    n_jobs : int, default=None
        The number of parallel jobs (threads) to run for neighbors search.

    Attributes
    ----------
    effective_metric_ : str or callable
        The distance metric used.
    effective_metric_params_ : dict
        Additional keyword arguments for the metric function.
    n_features_in_ : int
        Number of features seen during fit.
    n_samples_fit_ : int
        Number of samples in the fitted data.

    Examples
    --------
    >>> from fastml.neighbors import KNeighborsTransformer
    >>> G = KNeighborsTransformer(n_neighbors=1).fit_transform([[0], [3], [1]])
    >>> G.toarray()
    array([[0., 0., 1.],
           [0., 0., 2.],
           [1., 0., 0.]])
    """

    _parameter_constraints = with_fastml_metrics(
        _skn.KNeighborsTransformer._parameter_constraints)


class RadiusNeighborsTransformer(FastRadiusNeighborsMixin,
                                 _skn.RadiusNeighborsTransformer):
    """Transform X into a (weighted) graph of neighbors nearer than a radius.

    scikit-learn's ``RadiusNeighborsTransformer`` with fastml's distance routines for
    the radius queries where they apply.

    Parameters
    ----------
    mode : {'distance', 'connectivity'}, default='distance'
        Type of returned matrix.
    radius : float, default=1.0
        Radius of neighborhood in the transformed sparse graph.
    algorithm : {'auto', 'ball_tree', 'kd_tree', 'brute'}, default='auto'
        Algorithm used to compute the nearest neighbors.
    leaf_size : int, default=30
        Leaf size passed to BallTree or KDTree.
    metric : str or callable, default='minkowski'
        Metric to use for distance computation: any metric scikit-learn accepts, or one
        of fastml's sequence metrics (``"levenshtein"``, ``"dtw"``).
    p : float, default=2
        Parameter for the Minkowski metric.
    metric_params : dict, default=None
        Additional keyword arguments for the metric function.
    n_jobs : int, default=None
        The number of parallel jobs to run for neighbors search.

    Attributes
    ----------
    effective_metric_ : str or callable
        The distance metric used.
    effective_metric_params_ : dict
        Additional keyword arguments for the metric function.
    n_features_in_ : int
        Number of features seen during fit.
    n_samples_fit_ : int
        Number of samples in the fitted data.

    Examples
    --------
    >>> from fastml.neighbors import RadiusNeighborsTransformer
    >>> G = RadiusNeighborsTransformer(radius=1.5).fit_transform([[0], [3], [1]])
    >>> G.toarray()
    array([[0., 0., 1.],
           [0., 0., 0.],
           [1., 0., 0.]])
    """

    _parameter_constraints = with_fastml_metrics(
        _skn.RadiusNeighborsTransformer._parameter_constraints)
