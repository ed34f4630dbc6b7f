"""Nearest-neighbour regression: scikit-learn's estimators with fastml's search."""
from sklearn import neighbors as _skn

from fastml.neighbors._base import (
    FastKNeighborsMixin,
    FastRadiusNeighborsMixin,
    with_fastml_metrics,
)
from fastml.neighbors._classification import (
    CheckedKNeighborsWeightsMixin,
    CheckedRadiusWeightsMixin,
    predicting,
)

__all__ = ["KNeighborsRegressor", "RadiusNeighborsRegressor"]


class KNeighborsRegressor(CheckedKNeighborsWeightsMixin, FastKNeighborsMixin,
                          _skn.KNeighborsRegressor):
    """Regression based on k-nearest neighbors: the (weighted) mean of the targets of
    the nearest neighbours.

    scikit-learn's ``KNeighborsRegressor`` (same parameters, attributes, errors and
    results) whose neighbour search runs fastml's compiled kernels where they apply (see
    :class:`fastml.neighbors.KNeighborsClassifier`), and which also accepts sequences
    with ``metric="levenshtein"``, ``"dtw"`` or ``"hamming"`` on equal-length strings.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbors to use by default for :meth:`kneighbors` queries.
    weights : {'uniform', 'distance'}, callable or None, default='uniform'
        Weight function used in prediction ('distance': an exact match decides alone;
        a callable must return non-negative weights).
    algorithm : {'auto', 'ball_tree', 'kd_tree', 'brute'}, default='auto'
        Algorithm used to compute the nearest neighbors; fastml accelerates brute force.
    leaf_size : int, default=30
        Leaf size passed to BallTree or KDTree.
    p : float, default=2
        Power parameter for the Minkowski metric.
    metric : str, DistanceMetric object or callable, default='minkowski'
        Any metric scikit-learn accepts, or one of fastml's sequence metrics.
    metric_params : dict, default=None
        Additional keyword arguments for the metric function (``{"window": w}`` for
        dtw).
    n_jobs : int, default=None
        The number of parallel jobs (threads) for the neighbors search.

    Attributes
    ----------
    effective_metric_ : str or callable
        The distance metric used.
    effective_metric_params_ : dict
        Additional keyword arguments for the metric function.
    n_features_in_ : int
        Number of features seen during fit (not set for sequence metrics).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.
    n_samples_fit_ : int
        Number of samples in the fitted data.

    Examples
    --------
    >>> from fastml.neighbors import KNeighborsRegressor
    >>> reg = KNeighborsRegressor(n_neighbors=2).fit([[0], [1], [2], [3]], [0, 0, 1, 1])
    >>> reg.predict([[1.5]])
    array([0.5])
    """

    _parameter_constraints = with_fastml_metrics(
        _skn.KNeighborsRegressor._parameter_constraints)

    def predict(self, X):
        """Predict the target for the provided data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features), \
                or (n_queries, n_indexed) if metric == 'precomputed', a sequence of \
                items for the sequence metrics, or None
            Test samples. If `None`, predictions for all indexed points are returned;
            in this case, points are not considered their own neighbors.

        Returns
        -------
        y : ndarray of shape (n_queries,) or (n_queries, n_outputs), dtype=double
            Target values.

        Examples
        --------
        >>> from fastml.neighbors import KNeighborsRegressor
        >>> reg = KNeighborsRegressor(n_neighbors=2).fit([[0], [1], [3]], [0.0, 1.0, 3.0])
        >>> reg.predict([[0.2]])
        array([0.5])
        """
        with predicting():
            return super().predict(X)


class RadiusNeighborsRegressor(CheckedRadiusWeightsMixin, FastRadiusNeighborsMixin,
                               _skn.RadiusNeighborsRegressor):
    """Regression based on neighbors within a fixed radius.

    scikit-learn's ``RadiusNeighborsRegressor``, provided with fastml's distance routines
    for the radius queries where they apply (see
    :meth:`fastml.neighbors.NearestNeighbors.radius_neighbors`).

    Parameters
    ----------
    radius : float, default=1.0
        Range of parameter space to use by default for :meth:`radius_neighbors` queries.
    weights : {'uniform', 'distance'}, callable or None, default='uniform'
        Weight function used in prediction (a callable must return non-negative
        weights).
    algorithm : {'auto', 'ball_tree', 'kd_tree', 'brute'}, default='auto'
        Algorithm used to compute the nearest neighbors.
    leaf_size : int, default=30
        Leaf size passed to BallTree or KDTree.
    p : float, default=2
        Power parameter for the Minkowski metric.
    metric : str or callable, default='minkowski'
        Metric to use for distance computation: any metric scikit-learn accepts, or one
        of fastml's sequence metrics (``"levenshtein"``, ``"dtw"``).
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
    >>> from fastml.neighbors import RadiusNeighborsRegressor
    >>> reg = RadiusNeighborsRegressor(radius=1.0).fit([[0], [1], [2], [3]], [0, 0, 1, 1])
    >>> reg.predict([[1.5]])
    array([0.5])
    """

    _parameter_constraints = with_fastml_metrics(
        _skn.RadiusNeighborsRegressor._parameter_constraints)

    def predict(self, X):
        """Predict the target for the provided data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features), \
                or (n_queries, n_indexed) if metric == 'precomputed', a sequence of \
                items for the sequence metrics, or None
            Test samples. If `None`, predictions for all indexed points are returned;
            in this case, points are not considered their own neighbors.

        Returns
        -------
        y : ndarray of shape (n_queries,) or (n_queries, n_outputs), dtype=double
            Target values.

        Examples
        --------
        >>> from fastml.neighbors import RadiusNeighborsRegressor
        >>> reg = RadiusNeighborsRegressor(radius=1.5).fit([[0], [1], [3]], [0.0, 1.0, 3.0])
        >>> reg.predict([[0.2]])
        array([0.5])
        """
        with predicting():
            return super().predict(X)
