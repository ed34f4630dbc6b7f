"""Nearest-neighbour classification: scikit-learn's estimators with fastml's search."""
import contextvars
from contextlib import contextmanager

import numpy as np
from sklearn import neighbors as _skn
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from fastml.neighbors._base import (
    FastKNeighborsMixin,
    FastRadiusNeighborsMixin,
    negative_weight_error,
    vote_weights,
    with_fastml_metrics,
)

__all__ = ["KNeighborsClassifier", "RadiusNeighborsClassifier"]

# set while a prediction of this thread / task runs: its neighbour queries check weights
_PREDICTING = contextvars.ContextVar("fastml_neighbors_predicting", default=False)


@contextmanager
def predicting():
    """Mark the block as a prediction: a callable ``weights`` is checked on the
    distances of the neighbour queries made inside it."""
    token = _PREDICTING.set(True)
    try:
        yield
    finally:
        _PREDICTING.reset(token)


def check_weights_values(weights, dist, estimator):
    """Raise if the callable ``weights`` gives a negative or NaN weight for the neighbour
    distances ``dist`` (an (n_queries, k) array, or an object array of per-query arrays
    for radius queries): a negative weight votes against a class (or pulls a mean away
    from the neighbours' targets), so predictions could leave the neighbours' labels.

    Parameters
    ----------
    weights : callable
        The estimator's ``weights``.
    dist : ndarray
        Neighbour distances, as passed to ``weights``.
    estimator : str
        The estimator's name, for the message.
    """
    try:
        w = weights(dist)
        rows = list(w) if isinstance(w, np.ndarray) and w.dtype == object else [w]
        rows = [np.asarray(r, dtype=np.float64) for r in rows]
    except (TypeError, ValueError):
        return  # not numbers: scikit-learn's code reports what it cannot use
    for q, r in enumerate(rows):
        bad = np.flatnonzero(~(r.ravel() >= 0))
        if bad.size:
            where = "" if len(rows) == 1 else f" for query {q}"
            raise negative_weight_error(float(r.ravel()[bad[0]]), estimator, where)


class _CheckedWeightsMixin:
    """Neighbour queries made by ``predict`` / ``predict_proba`` check that a callable
    ``weights`` gives non-negative weights for their distances (fastml's and
    scikit-learn's prediction code alike)."""

    def _check_query_weights(self, out, return_distance):
        if return_distance and callable(self.weights) and _PREDICTING.get():
            check_weights_values(self.weights, out[0], type(self).__name__)
        return out


class CheckedKNeighborsWeightsMixin(_CheckedWeightsMixin):
    """:class:`_CheckedWeightsMixin` for the k-neighbours estimators."""

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        return self._check_query_weights(
            super().kneighbors(X, n_neighbors, return_distance), return_distance)

    kneighbors.__doc__ = FastKNeighborsMixin.kneighbors.__doc__


class CheckedRadiusWeightsMixin(_CheckedWeightsMixin):
    """:class:`_CheckedWeightsMixin` for the radius estimators."""

    def radius_neighbors(self, X=None, radius=None, return_distance=True,
                         sort_results=False):
        return self._check_query_weights(
            super().radius_neighbors(X, radius, return_distance, sort_results),
            return_distance)

    radius_neighbors.__doc__ = FastRadiusNeighborsMixin.radius_neighbors.__doc__


class KNeighborsClassifier(CheckedKNeighborsWeightsMixin, FastKNeighborsMixin,
                           _skn.KNeighborsClassifier):
    """Classifier implementing the k-nearest neighbors vote.

    scikit-learn's ``KNeighborsClassifier`` (same parameters, attributes, errors and
    results) whose neighbour search runs fastml's compiled kernels where they apply
    (brute force on dense data with a metric of fastml's registry: Euclidean, squared
    Euclidean, Manhattan, Chebyshev, Minkowski ``p >= 1``, cosine, Hamming), and which
    also accepts sequences with ``metric="levenshtein"``, ``"dtw"`` or ``"hamming"`` on
    equal-length strings. Everything else (``kd_tree`` / ``ball_tree``, ``"auto"`` on
    low-dimensional data, sparse input, callable metrics, ``"precomputed"``) runs
    scikit-learn's own code.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbors to use by default for :meth:`kneighbors` queries.
    weights : {'uniform', 'distance'}, callable or None, default='uniform'
        Weight function used in prediction: 'uniform' (all points in each
        neighbourhood weigh equally), 'distance' (inverse of their distance; an exact
        match decides alone) or a callable mapping an array of distances to an array of
        non-negative weights of the same shape (negative or NaN weights raise
        ValueError).
    algorithm : {'auto', 'ball_tree', 'kd_tree', 'brute'}, default='auto'
        As in scikit-learn: 'auto' picks a tree for fewer than 16 features and brute
        force otherwise; fastml accelerates brute force.
    leaf_size : int, default=30
        Leaf size passed to BallTree or KDTree.
    p : float, default=2
        Power parameter for the Minkowski metric (``p < 1`` is accepted as in
        scikit-learn and runs scikit-learn's brute force).
    metric : str or callable, default='minkowski'
        Any metric scikit-learn accepts, a callable, a ``DistanceMetric``, or one of
        fastml's sequence metrics ``"levenshtein"`` (str or 1-D integer sequences),
        ``"dtw"`` (1-D / 2-D float sequences; ``metric_params={"window": w}``) and
        ``"hamming"`` on equal-length str.
    metric_params : dict, default=None
        Additional keyword arguments for the metric function.
    n_jobs : int, default=None
        The number of parallel jobs (threads) for the neighbors search; results do not
        depend on it.
    tie_break : {'smallest_label', 'nearest'}, default='smallest_label'
        Which class ``predict`` returns when the vote ties: scikit-learn's rule, the
        smallest label among the tied classes (``argmax`` of ``predict_proba``), or
        ``'nearest'``: the class of the nearest neighbour among the tied classes (the
        textbook rule; equal distances ordered by training index).

    Attributes
    ----------
    classes_ : array of shape (n_classes,) or list of such arrays
        Class labels known to the classifier.
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
    outputs_2d_ : bool
        False when ``y``'s shape is (n_samples,) or (n_samples, 1) during fit.

    See Also
    --------
    sklearn.neighbors.KNeighborsClassifier : The estimator this one extends.

    Examples
    --------
    >>> from fastml.neighbors import KNeighborsClassifier
    >>> clf = KNeighborsClassifier(n_neighbors=3).fit([[0], [1], [2], [3]], [0, 0, 1, 1])
    >>> clf.predict([[1.1]])
    array([0])
    >>> words = KNeighborsClassifier(n_neighbors=1, metric="levenshtein")
    >>> words.fit(["apple", "grape"], ["a", "g"]).predict(["appel"])
    array(['a'], dtype='<U1')
    """

    _parameter_constraints = {
        **with_fastml_metrics(_skn.KNeighborsClassifier._parameter_constraints),
        "tie_break": [StrOptions({"smallest_label", "nearest"})],
    }

    def __init__(self, n_neighbors=5, *, weights="uniform", algorithm="auto", leaf_size=30,
                 p=2, metric="minkowski", metric_params=None, n_jobs=None,
                 tie_break="smallest_label"):
        super().__init__(n_neighbors=n_neighbors, weights=weights, algorithm=algorithm,
                         leaf_size=leaf_size, p=p, metric=metric,
                         metric_params=metric_params, n_jobs=n_jobs)
        self.tie_break = tie_break

    def _votes(self, X):
        dist, ind = self.kneighbors(X)
        return neighbour_votes(dist, ind, self._y, self.classes_, self.outputs_2d_,
                               self.weights)

    def predict(self, X):
        """Predict the class labels for the provided data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features), \
                or (n_queries, n_indexed) if metric == 'precomputed', a sequence of \
                items for the sequence metrics, or None
            Test samples. If `None`, predictions for all indexed points are returned;
            in this case, points are not considered their own neighbors.

        Returns
        -------
        y : ndarray of shape (n_queries,) or (n_queries, n_outputs)
            Class labels for each data sample.

        Examples
        --------
        >>> from fastml.neighbors import KNeighborsClassifier
        >>> KNeighborsClassifier(n_neighbors=1).fit([[0], [5]], ["a", "b"]).predict([[4]])
        array(['b'], dtype='<U1')
        """
        check_is_fitted(self, "_fit_method")
        with predicting():
            if self._fast_path(X) is None and self.tie_break == "smallest_label":
                return super().predict(X)
            return predict_from_votes(self._votes(X), self.classes_, self.outputs_2d_,
                                      self.tie_break)

    def predict_proba(self, X):
        """Return probability estimates for the test data X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features), \
                or (n_queries, n_indexed) if metric == 'precomputed', a sequence of \
                items for the sequence metrics, or None
            Test samples. If `None`, predictions for all indexed points are returned;
            in this case, points are not considered their own neighbors.

        Returns
        -------
        p : ndarray of shape (n_queries, n_classes), or a list of n_outputs of such arrays
            The class probabilities of the input samples. Classes are ordered by
            lexicographic order.

        Examples
        --------
        >>> from fastml.neighbors import KNeighborsClassifier
        >>> clf = KNeighborsClassifier(n_neighbors=2).fit([[0], [1], [5]], [0, 1, 1])
        >>> clf.predict_proba([[0.2]])
        array([[0.5, 0.5]])
        """
        check_is_fitted(self, "_fit_method")
        with predicting():
            if self._fast_path(X) is None:
                return super().predict_proba(X)
            return proba_from_votes(self._votes(X), self.outputs_2d_)


def neighbour_votes(dist, ind, y_codes, classes, outputs_2d, weights):
    """Per output: (votes (n_queries, n_classes) of summed weights, neighbour labels in
    distance order), from a neighbour search ``(dist, ind)`` and the fitted label codes.

    Parameters
    ----------
    dist, ind : ndarray of shape (n_queries, n_neighbors)
        Distances and indices of the neighbours, nearest first.
    y_codes : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Label codes (indices into ``classes``) of the training samples.
    classes : ndarray or list of ndarray
        The classes (one array per output when ``outputs_2d``).
    outputs_2d : bool
        Several outputs.
    weights : {'uniform', 'distance'}, callable or None
        As the classifier's ``weights``.

    Returns
    -------
    votes : list of (ndarray, ndarray)
        One (votes, labels) pair per output.
    """
    w = vote_weights(dist, weights)
    _y = y_codes.reshape(-1, 1) if not outputs_2d else y_codes
    classes = classes if outputs_2d else [classes]
    n = ind.shape[0]
    rows = np.arange(n)
    out = []
    for j, classes_j in enumerate(classes):
        labels = _y[ind, j]
        votes = np.zeros((n, len(classes_j)))
        for c in range(labels.shape[1]):
            votes[rows, labels[:, c]] += 1.0 if w is None else w[:, c]
        out.append((votes, labels))
    return out


def predict_from_votes(votes, classes, outputs_2d, tie_break="smallest_label"):
    """Predicted labels from :func:`neighbour_votes`: the class with the most votes; ties
    to the smallest label, or with ``tie_break="nearest"`` to the class of the nearest
    neighbour among the tied classes.

    Parameters
    ----------
    votes : list of (ndarray, ndarray)
        The output of :func:`neighbour_votes`.
    classes : ndarray or list of ndarray
        The classes.
    outputs_2d : bool
        Several outputs.
    tie_break : {'smallest_label', 'nearest'}, default='smallest_label'
        The tie rule.

    Returns
    -------
    y : ndarray of shape (n_queries,) or (n_queries, n_outputs)
    """
    classes = classes if outputs_2d else [classes]
    cols = []
    for (v, labels), classes_j in zip(votes, classes):
        if tie_break == "nearest":
            best = v.max(axis=1, keepdims=True)
            tied = (v == best)[np.arange(len(v))[:, None], labels]
            pick = labels[np.arange(len(v)), tied.argmax(axis=1)]
        else:
            pick = v.argmax(axis=1)
        cols.append(classes_j.take(pick))
    return np.stack(cols, axis=1) if outputs_2d else cols[0]


def proba_from_votes(votes, outputs_2d):
    """Class probabilities (votes normalised per row) from :func:`neighbour_votes`.

    Parameters
    ----------
    votes : list of (ndarray, ndarray)
        The output of :func:`neighbour_votes`.
    outputs_2d : bool
        Several outputs.

    Returns
    -------
    p : ndarray of shape (n_queries, n_classes) or a list of them
    """
    out = [v / v.sum(axis=1, keepdims=True) for v, _ in votes]
    return out if outputs_2d else out[0]


class RadiusNeighborsClassifier(CheckedRadiusWeightsMixin, FastRadiusNeighborsMixin,
                                _skn.RadiusNeighborsClassifier):
    """Classifier implementing a vote among neighbors within a given radius.

    scikit-learn's ``RadiusNeighborsClassifier``, provided with fastml's distance routines
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
    outlier_label : {manual label, 'most_frequent'}, default=None
        Label for outlier samples (samples with no neighbors in given radius).
    metric_params : dict, default=None
        Additional keyword arguments for the metric function.
    n_jobs : int, default=None
        The number of parallel jobs to run for neighbors search.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels known to the classifier.
    effective_metric_ : str or callable
        The distance metric used.
    effective_metric_params_ : dict
        Additional keyword arguments for the metric function.
    n_features_in_ : int
        Number of features seen during fit.
    n_samples_fit_ : int
        Number of samples in the fitted data.
    outlier_label_ : int or array-like of shape (n_class,)
        Label which is given for outlier samples.
    outputs_2d_ : bool
        False when ``y``'s shape is (n_samples,) or (n_samples, 1) during fit.

    Examples
    --------
    >>> from fastml.neighbors import RadiusNeighborsClassifier
    >>> clf = RadiusNeighborsClassifier(radius=1.0).fit([[0], [1], [2], [3]], [0, 0, 1, 1])
    >>> clf.predict([[1.5]])
    array([0])
    """

    _parameter_constraints = with_fastml_metrics(
        _skn.RadiusNeighborsClassifier._parameter_constraints)

    def predict(self, X):
        """Predict the class labels for the provided data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features), \
                or (n_queries, n_indexed) if metric == 'precomputed', a sequence of \
                items for the sequence metrics, or None
            Test samples. If `None`, predictions for all indexed points are returned;
            in this case, points are not considered their own neighbors.

        Returns
        -------
        y : ndarray of shape (n_queries,) or (n_queries, n_outputs)
            Class labels for each data sample.

        Examples
        --------
        >>> from fastml.neighbors import RadiusNeighborsClassifier
        >>> words = RadiusNeighborsClassifier(radius=1, metric="levenshtein")
        >>> words.fit(["apple", "grape"], ["a", "g"]).predict(["appl"])
        array(['a'], dtype='<U1')
        """
        with predicting():
            return super().predict(X)

    def predict_proba(self, X):
        """Return probability estimates for the test data X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features), \
                or (n_queries, n_indexed) if metric == 'precomputed', a sequence of \
                items for the sequence metrics, or None
            Test samples. If `None`, predictions for all indexed points are returned;
            in this case, points are not considered their own neighbors.

        Returns
        -------
        p : ndarray of shape (n_queries, n_classes), or a list of n_outputs of such arrays
            The class probabilities of the input samples. Classes are ordered by
            lexicographic order.

        Examples
        --------
        >>> from fastml.neighbors import RadiusNeighborsClassifier
        >>> clf = RadiusNeighborsClassifier(radius=1.0).fit([[0], [1], [5]], [0, 1, 1])
        >>> clf.predict_proba([[0.5]])
        array([[0.5, 0.5]])
        """
        with predicting():
            return super().predict_proba(X)
