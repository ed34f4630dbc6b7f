"""DBSCAN with fastml's radius search underneath (and fastml's sequence metrics)."""
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn import cluster as _skc
from sklearn.base import _fit_context
from sklearn.cluster._dbscan_inner import dbscan_inner
from sklearn.neighbors import sort_graph_by_row_values
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import _check_sample_weight, validate_data

from fastml.metrics import _registry
from fastml.metrics._sequences import holds_strings
from fastml.neighbors._base import FASTML_ONLY_METRICS
from fastml.neighbors._unsupervised import NearestNeighbors

__all__ = ["DBSCAN"]


def _takes_sequences(metric, X):
    """True if ``metric`` is one of fastml's sequence metrics and X goes through it."""
    if not isinstance(metric, str) or metric not in _registry.METRIC_ALIASES:
        return False
    spec = _registry.get_metric(metric)
    return metric in FASTML_ONLY_METRICS or spec.is_sequence_input(X)


def _with_self(neighborhoods):
    """Each point joins its own neighbourhood (the training points queried against
    themselves leave it out): inserted before the first larger index, so rows in
    increasing order stay so. One pass over the flat indices, no per-row numpy calls
    but the final slicing."""
    n = len(neighborhoods)
    lengths = np.fromiter((len(nb) for nb in neighborhoods), dtype=np.intp, count=n)
    total = int(lengths.sum())
    flat = np.concatenate(neighborhoods).astype(np.intp, copy=False) if total else \
        np.empty(0, dtype=np.intp)
    rows = np.repeat(np.arange(n, dtype=np.intp), lengths)
    before = flat < rows                      # these stay before the point itself
    starts = np.zeros(n + 1, dtype=np.intp)
    np.cumsum(lengths, out=starts[1:])
    n_before = np.bincount(rows, weights=before, minlength=n).astype(np.intp)
    out = np.empty(total + n, dtype=np.intp)
    out[np.arange(total, dtype=np.intp) + rows + ~before] = flat
    out[starts[:-1] + np.arange(n, dtype=np.intp) + n_before] = np.arange(n, dtype=np.intp)
    new_starts = starts + np.arange(n + 1, dtype=np.intp)
    result = np.empty(n, dtype=object)
    for i in range(n):
        result[i] = out[new_starts[i]:new_starts[i + 1]]
    return result


class DBSCAN(_skc.DBSCAN):
    """Density-Based Spatial Clustering of Applications with Noise.

    scikit-learn's ``DBSCAN`` (same parameters, attributes, errors and labels) whose
    eps-neighbourhoods come from :class:`fastml.neighbors.NearestNeighbors`: fastml's
    radius search for brute force on dense data with a metric of fastml's registry (a
    self-query of the training points), scikit-learn's search otherwise (trees,
    ``"precomputed"``, sparse data, callables). It also clusters sequences:
    ``metric="levenshtein"`` over a list of str (or of 1-D integer sequences), ``"dtw"``
    over 1-D / 2-D float series and ``"hamming"`` over equal-length str, as a radius
    search (a callable metric would be called once per pair of items).

    Parameters
    ----------
    eps : float, default=0.5
        The maximum distance between two samples for one to be considered as in the
        neighborhood of the other (an integer edit distance for ``"levenshtein"``).
    min_samples : int, default=5
        The number of samples (or total weight) in a neighborhood for a point to be
        considered as a core point. This includes the point itself.
    metric : str or callable, default='euclidean'
        Any metric scikit-learn's DBSCAN accepts, ``"precomputed"``, a callable, or one
        of fastml's sequence metrics ``"levenshtein"``, ``"dtw"``.
    metric_params : dict, default=None
        Additional keyword arguments for the metric function (``{"window": w}`` for
        dtw).
    algorithm : {'auto', 'ball_tree', 'kd_tree', 'brute'}, default='auto'
        The algorithm of the neighbour search ('auto': a tree for fewer than 16
        features, else brute force, which fastml accelerates).
    leaf_size : int, default=30
        Leaf size passed to BallTree or KDTree.
    p : float, default=None
        The power of the Minkowski metric; None means 2.
    n_jobs : int, default=None
        The number of parallel jobs (threads) for the neighbour search; the labels do not
        depend on it.

    Attributes
    ----------
    core_sample_indices_ : ndarray of shape (n_core_samples,)
        Indices of core samples.
    components_ : ndarray of shape (n_core_samples, n_features)
        Copy of each core sample found by training (for sequence metrics: an object
        array of the core items).
    labels_ : ndarray of shape (n_samples,)
        Cluster labels for each point in the dataset given to fit(). Noisy samples are
        given the label -1.
    n_features_in_ : int
        Number of features seen during fit (not set for sequence metrics).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.cluster.DBSCAN : The estimator this one extends.

    Examples
    --------
    >>> import numpy as np
    >>> from fastml.cluster import DBSCAN
    >>> X = np.array([[1, 2], [2, 2], [2, 3], [8, 7], [8, 8], [25, 80]])
    >>> DBSCAN(eps=3, min_samples=2).fit(X).labels_
    array([ 0,  0,  0,  1,  1, -1])
    >>> words = ["apple", "apply", "apples", "grape", "grapes", "kiwi"]
    >>> DBSCAN(eps=1, min_samples=2, metric="levenshtein").fit(words).labels_
    array([ 0,  0,  0,  1,  1, -1])
    """

    _parameter_constraints = {
        **_skc.DBSCAN._parameter_constraints,
        "metric": [StrOptions(
            next(c for c in _skc.DBSCAN._parameter_constraints["metric"]
                 if isinstance(c, StrOptions)).options | set(FASTML_ONLY_METRICS)),
            callable],
    }

    @_fit_context(
        # metric may be a callable scikit-learn does not validate
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y=None, sample_weight=None):
        """Perform DBSCAN clustering from features, a distance matrix or sequences.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or \
            (n_samples, n_samples) if ``metric='precomputed'``, or a sequence of items \
            for the sequence metrics
            Training instances to cluster, or distances between instances if
            ``metric='precomputed'``. A sparse matrix is converted to CSR.
        y : Ignored
            Not used, present here for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample, such that a sample with a weight of at least
            ``min_samples`` is by itself a core sample; a sample with a negative weight
            may inhibit its eps-neighbor from being core. Weights are absolute, and
            default to 1.

        Returns
        -------
        self : object
            Returns a fitted instance of self.

        Examples
        --------
        >>> from fastml.cluster import DBSCAN
        >>> DBSCAN(eps=1.5, min_samples=2).fit([[0.0], [1.0], [5.0]]).core_sample_indices_
        array([0, 1])
        """
        sequences = _takes_sequences(self.metric, X)
        if not sequences and holds_strings(X):
            raise ValueError(
                f"X holds strings, but metric={self.metric!r} is numeric. For strings use "
                "metric='levenshtein' (any lengths) or metric='hamming' (equal lengths).")
        if not sequences:
            X = validate_data(self, X, accept_sparse="csr")
        else:
            for attr in ("n_features_in_", "feature_names_in_"):
                if hasattr(self, attr):
                    delattr(self, attr)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        if self.metric == "precomputed" and sp.issparse(X):
            # as scikit-learn: the diagonal stored explicitly (each point is its own
            # neighbour), rows sorted by distance again
            X = X.copy()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)
                X.setdiag(X.diagonal())
                X = sort_graph_by_row_values(X, warn_when_not_sorted=False)

        nn = NearestNeighbors(radius=self.eps, algorithm=self.algorithm,
                              leaf_size=self.leaf_size, metric=self.metric,
                              metric_params=self.metric_params, p=self.p,
                              n_jobs=self.n_jobs).fit(X)
        if getattr(nn, "_fastml_index", None) is not None:
            # fastml's search: the training points against themselves, then each point
            # joins its own neighbourhood
            neighborhoods = _with_self(nn.radius_neighbors(None, return_distance=False))
        else:
            neighborhoods = nn.radius_neighbors(X, return_distance=False)
        n_samples = len(neighborhoods)

        if sample_weight is None:
            n_neighbors = np.array([len(nb) for nb in neighborhoods])
        else:
            n_neighbors = np.array([np.sum(sample_weight[nb]) for nb in neighborhoods])
        labels = np.full(n_samples, -1, dtype=np.intp)
        core_samples = np.asarray(n_neighbors >= self.min_samples, dtype=np.uint8)
        dbscan_inner(core_samples, neighborhoods, labels)

        self.core_sample_indices_ = np.where(core_samples)[0]
        self.labels_ = labels
        if sequences:
            items = X if isinstance(X, (list, tuple)) else list(X)
            self.components_ = np.empty(len(self.core_sample_indices_), dtype=object)
            for j, i in enumerate(self.core_sample_indices_):
                self.components_[j] = items[i]
        elif len(self.core_sample_indices_):
            self.components_ = X[self.core_sample_indices_].copy()
        else:
            self.components_ = np.empty((0, X.shape[1]))
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if isinstance(self.metric, str) and self.metric in FASTML_ONLY_METRICS:
            spec = _registry.get_metric(self.metric)
            tags.input_tags.string = spec.sequence.strings
            tags.input_tags.two_d_array = False
            tags.input_tags.sparse = False
        return tags
