"""k-nearest-neighbour estimators on fastml's chunked, parallel distance kernels."""
import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from fastml.metrics import _registry
from fastml.metrics import distance as _distance
from fastml.metrics._sequences import reject_strings_for_numeric


class _NeighborsBase(BaseEstimator):
    """Shared fit / kneighbors. Subclasses add what they predict."""

    def __init__(self, n_neighbors=5, *, metric="minkowski", p=2, metric_params=None,
                 n_jobs=None):
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.p = p
        self.metric_params = metric_params
        self.n_jobs = n_jobs

    # -- parameters ---------------------------------------------------------------------
    def _metric_params(self):
        spec = _registry.get_metric(self.metric)
        name = spec.name
        params = dict(self.metric_params or {})
        if self.metric_params is not None and not isinstance(self.metric_params, dict):
            raise TypeError(f"metric_params must be a dict or None, got "
                            f"{type(self.metric_params).__name__}.")
        if "p" in spec.params:
            params.setdefault("p", self.p)
        _distance._check_metric(self.metric, params)  # raises on bad p / window / extras
        return name, params

    def _check_n_neighbors(self, n_neighbors):
        if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, numbers.Integral):
            raise TypeError(f"n_neighbors does not take {type(n_neighbors).__name__} value, "
                            "enter integer value")
        if n_neighbors <= 0:
            raise ValueError(f"Expected n_neighbors > 0. Got {n_neighbors}")
        return int(n_neighbors)

    def _numeric_dtype(self, X):
        # Boolean data stays boolean for Hamming (bit-packed as is, no float copy);
        # everything else is float32 or float64.
        spec = _registry.get_metric(self.metric)
        if spec.numeric is not None and spec.numeric.keep_bool and \
                getattr(X, "dtype", None) == np.bool_:
            return None
        return [np.float64, np.float32]

    def _is_sequence_input(self, X):
        return _registry.get_metric(self.metric).is_sequence_input(X)

    # -- fit / kneighbors ---------------------------------------------------------------
    def _fit(self, X, y=None, supervised=False, y_numeric=False):
        name, params = self._metric_params()
        self._check_n_neighbors(self.n_neighbors)
        if self._is_sequence_input(X):
            if supervised and y is None:
                validate_data(self, X, y, skip_check_array=True)  # raises: y required
            # items of any length: no n_features_in_ (validated item by item below)
            for attr in ("n_features_in_", "feature_names_in_"):
                if hasattr(self, attr):
                    delattr(self, attr)
            self._fit_X = _distance.check_fit_data(X, self.metric, params)
            self._sequence = True
            n = len(self._fit_X)
        else:
            reject_strings_for_numeric(X, "X", self.metric)
            dtype = self._numeric_dtype(X)
            if not supervised:
                X = validate_data(self, X, dtype=dtype, order="C", ensure_all_finite=True,
                                  reset=True)
            else:
                X, y = validate_data(self, X, y, dtype=dtype, order="C",
                                     ensure_all_finite=True, multi_output=True,
                                     y_numeric=y_numeric, reset=True)
            self._fit_X = X
            self._sequence = False
            n = X.shape[0]
        self.n_samples_fit_ = n
        self.effective_metric_ = name
        self.effective_metric_params_ = params
        return y

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """The ``n_neighbors`` nearest training samples of each row (item) of X.

        With ``X=None`` the neighbours of the training samples themselves are returned,
        each sample excluded from its own list. Returns ``(dist, ind)`` (or ``ind``),
        both (n_queries, n_neighbors), sorted by distance; equal distances are ordered
        by training index. The search is chunked: no n_queries x n_train matrix is built.
        """
        check_is_fitted(self, "_fit_X")
        k = self._check_n_neighbors(self.n_neighbors if n_neighbors is None else n_neighbors)
        name, params = self.effective_metric_, self.effective_metric_params_
        query_is_train = X is None
        if query_is_train:
            X = self._fit_X
            k_search = k + 1
        else:
            k_search = k
            if not self._sequence:
                reject_strings_for_numeric(X, "X", self.metric)
                X = validate_data(self, X, dtype=self._numeric_dtype(X), order="C",
                                  ensure_all_finite=True, reset=False)
        if k_search > self.n_samples_fit_:
            raise ValueError(
                f"Expected n_neighbors <= n_samples_fit, but n_neighbors = {k_search}, "
                f"n_samples_fit = {self.n_samples_fit_}, n_samples = "
                f"{len(X) if self._sequence else X.shape[0]}"
                + (" (n_neighbors + 1, as X=None excludes each sample from its own "
                   "neighbours)" if query_is_train else "") + "."
            )
        dist, ind = _distance.kneighbors(X, self._fit_X, k_search, self.metric,
                                         n_jobs=self.n_jobs, **params)
        if query_is_train:
            # drop each sample from its own list (or the last one when duplicates tie)
            n = ind.shape[0]
            is_self = ind == np.arange(n)[:, None]
            drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), k_search - 1)
            keep = np.ones(ind.shape, dtype=bool)
            keep[np.arange(n), drop] = False
            ind = ind[keep].reshape(n, k)
            dist = dist[keep].reshape(n, k)
        return (dist, ind) if return_distance else ind

    def kneighbors_graph(self, X=None, n_neighbors=None, mode="connectivity"):
        """Sparse (n_queries, n_samples_fit) CSR graph of the k nearest neighbours: 1 per
        edge (``mode="connectivity"``) or the distance (``mode="distance"``), as in
        scikit-learn (e.g. a precomputed sparse input for clustering strings)."""
        import scipy.sparse as sp

        if mode not in ("connectivity", "distance"):
            raise ValueError(f'mode must be "connectivity" or "distance", got {mode!r}.')
        dist, ind = self.kneighbors(X, n_neighbors, return_distance=True)
        n, k = ind.shape
        data = (np.ones(n * k) if mode == "connectivity"
                else np.asarray(dist, dtype=np.float64).ravel())
        return sp.csr_matrix((data, ind.ravel(), np.arange(0, n * k + 1, k)),
                             shape=(n, self.n_samples_fit_))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            spec = _registry.get_metric(self.metric)
        except (TypeError, ValueError):
            return tags
        if spec.sequence is not None:
            tags.input_tags.string = spec.sequence.strings
            # sequences of any lengths, not a samples x features matrix
            tags.input_tags.two_d_array = spec.numeric is not None
        return tags


def _weights(dist, weights):
    """Vote weights (n, k) from distances: 'uniform', 'distance' (1/d; rows with an exact
    match give weight 1 to the exact matches and 0 to the others) or a callable."""
    if weights is None or (isinstance(weights, str) and weights == "uniform"):
        return None
    if isinstance(weights, str) and weights == "distance":
        d = np.asarray(dist, dtype=np.float64)
        with np.errstate(divide="ignore"):
            w = 1.0 / d
        exact = d == 0
        rows = exact.any(axis=1)
        w[rows] = exact[rows]
        return w
    if callable(weights):
        w = np.asarray(weights(dist), dtype=np.float64)
        if w.shape != np.shape(dist):
            raise ValueError(f"weights callable returned shape {w.shape}; it must return "
                             f"the shape of its input distances {np.shape(dist)}.")
        return w
    raise ValueError(f"weights must be 'uniform', 'distance' or a callable, got {weights!r}.")
