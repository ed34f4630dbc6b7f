"""Local outlier factor: scikit-learn's estimator with fastml's search (and fastml's
sequence metrics)."""
import warnings

import numpy as np
from sklearn import neighbors as _skn
from sklearn.base import _fit_context
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from fastml.neighbors._base import FASTML_ONLY_METRICS, FastKNeighborsMixin, with_fastml_metrics

__all__ = ["LocalOutlierFactor"]

_SkLOF = _skn.LocalOutlierFactor


class LocalOutlierFactor(FastKNeighborsMixin, _SkLOF):
    """Unsupervised Outlier Detection using the Local Outlier Factor (LOF).

    scikit-learn's ``LocalOutlierFactor`` (same parameters, attributes, errors and
    scores) whose neighbour search runs fastml's compiled kernels where they apply
    (brute force on dense data with a metric of fastml's registry, see
    :class:`fastml.neighbors.NearestNeighbors`), and which also scores sequences with
    ``metric="levenshtein"``, ``"dtw"`` or ``"hamming"`` on equal-length strings.

    Parameters
    ----------
    n_neighbors : int, default=20
        Number of neighbors to use by default for :meth:`kneighbors` queries. If
        n_neighbors is larger than the number of samples provided, all samples will be
        used.
    algorithm : {'auto', 'ball_tree', 'kd_tree', 'brute'}, default='auto'
        Algorithm used to compute the nearest neighbors; fastml accelerates brute force.
    leaf_size : int, default=30
        Leaf size passed to BallTree or KDTree.
    metric : str or callable, default='minkowski'
        Any metric scikit-learn accepts, a callable, or one of fastml's sequence metrics.
    p : float, default=2
        Parameter for the Minkowski metric.
    metric_params : dict, default=None
        Additional keyword arguments for the metric function.
    contamination : 'auto' or float, default='auto'
        The proportion of outliers in the data set, which sets ``offset_``.
    novelty : bool, default=False
        True to use LocalOutlierFactor for novelty detection (``predict``,
        ``decision_function`` and ``score_samples`` on new data).
    n_jobs : int, default=None
        The number of parallel jobs (threads) for the neighbors search.

    Attributes
    ----------
    negative_outlier_factor_ : ndarray of shape (n_samples,)
        The opposite LOF of the training samples (the lower, the more abnormal).
    n_neighbors_ : int
        The actual number of neighbors used for :meth:`kneighbors` queries.
    offset_ : float
        Offset used to obtain binary labels from the raw scores.
    effective_metric_ : str
        The effective metric used for the distance computation.
    effective_metric_params_ : dict
        The effective additional keyword arguments for the metric function.
    n_features_in_ : int
        Number of features seen during fit (not set for sequence metrics).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.
    n_samples_fit_ : int
        Number of samples in the fitted data.

    See Also
    --------
    sklearn.neighbors.LocalOutlierFactor : The estimator this one extends.

    Examples
    --------
    >>> from fastml.neighbors import LocalOutlierFactor
    >>> LocalOutlierFactor(n_neighbors=2).fit_predict([[-1.1], [0.2], [101.1], [0.3]])
    array([ 1,  1, -1,  1])
    >>> words = ["apple", "apply", "ample", "maple", "zzzzzzzz"]
    >>> LocalOutlierFactor(n_neighbors=2, metric="levenshtein").fit_predict(words)
    array([ 1,  1,  1,  1, -1])
    """

    _parameter_constraints = with_fastml_metrics(_SkLOF._parameter_constraints)

    def _takes_sequences(self, X):
        return self._sequence_spec(X) is not None or (
            isinstance(self.metric, str) and self.metric in FASTML_ONLY_METRICS)

    def _fitted_on_sequences(self):
        index = getattr(self, "_fastml_index", None)
        return index is not None and index.sequence

    def fit(self, X, y=None):
        """Fit the local outlier factor detector from the training dataset.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or \
                (n_samples, n_samples) if metric='precomputed', or a sequence of items \
                for the sequence metrics
            Training data.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : LocalOutlierFactor
            The fitted local outlier factor detector.

        Examples
        --------
        >>> from fastml.neighbors import LocalOutlierFactor
        >>> LocalOutlierFactor(n_neighbors=1).fit([[0.0], [1.0], [3.0]]).n_neighbors_
        1
        """
        if not self._takes_sequences(X):
            return super().fit(X, y)
        return self._fit_sequences_lof(X)

    @_fit_context(prefer_skip_nested_validation=False)
    def _fit_sequences_lof(self, X, y=None):
        """fit for the sequence metrics: the definition of LOF (Breunig et al. 2000) on
        fastml's neighbours, with scikit-learn's attributes and rules."""
        self._fit(X)
        n_samples = self.n_samples_fit_
        if self.n_neighbors > n_samples:
            warnings.warn(f"n_neighbors ({self.n_neighbors}) is greater than the total "
                          "number of samples (%d). n_neighbors will be set to "
                          "(n_samples - 1) for estimation." % n_samples)
        self.n_neighbors_ = max(1, min(self.n_neighbors, n_samples - 1))
        dist, ind = self.kneighbors(n_neighbors=self.n_neighbors_)
        self._distances_fit_X_ = np.asarray(dist, dtype=np.float64)
        self._lrd = self._local_reachability_density(self._distances_fit_X_, ind)
        self.negative_outlier_factor_ = -np.mean(self._lrd[ind] / self._lrd[:, None],
                                                 axis=1)
        if self.contamination == "auto":
            self.offset_ = -1.5  # inliers score around -1 (LOF around 1)
        else:
            self.offset_ = np.percentile(self.negative_outlier_factor_,
                                         100.0 * self.contamination)
        return self

    @available_if(_SkLOF._check_novelty_score_samples)
    def score_samples(self, X):
        """Opposite of the Local Outlier Factor of X (the lower, the more abnormal).

        Only available for novelty detection (``novelty=True``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or a \
                sequence of items for the sequence metrics
            The query samples.

        Returns
        -------
        opposite_lof_scores : ndarray of shape (n_samples,)
            The opposite of the Local Outlier Factor of each input samples.

        Examples
        --------
        >>> from fastml.neighbors import LocalOutlierFactor
        >>> lof = LocalOutlierFactor(n_neighbors=2, novelty=True).fit([[0.0], [1.0], [2.0]])
        >>> lof.score_samples([[1.0]]).round(3)
        array([-0.875])
        """
        if not self._fitted_on_sequences():
            return super().score_samples(X)
        check_is_fitted(self)
        dist, ind = self.kneighbors(X, n_neighbors=self.n_neighbors_)
        X_lrd = self._local_reachability_density(np.asarray(dist, dtype=np.float64), ind)
        return -np.mean(self._lrd[ind] / X_lrd[:, None], axis=1)
