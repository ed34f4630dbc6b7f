"""Exact k nearest neighbours on Dask: :func:`kneighbors` and the estimators
:class:`NearestNeighbors`, :class:`KNeighborsClassifier`, :class:`KNeighborsRegressor`.

Numeric metrics take dask arrays: the training array is split in row blocks (persisted
on the workers at ``fit``), the queries in row blocks; each (query block, train block)
task gives a local top-k with global indices and a tree reduction merges them (see
``fastml.dask._knn``). String and sequence metrics ("levenshtein", "dtw", "hamming" on
strings) take a ``dask.bag`` or a list: the index (training items) is shared with every
worker, the queries are processed partition by partition.

Results equal :func:`fastml.metrics.distance.kneighbors` and :mod:`fastml.neighbors`:
the same distances, the same order (distance, then training index), the same vote rules.
"""
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from fastml.dask import _knn
from fastml.dask._compat import (
    check_fit_data,
    check_knn_metric,
    check_metric,
    precomputed_voter,
)
from fastml.dask._sequences import (
    any_str,
    check_partition_size,
    dtw_dtype,
    materialize_items,
    query_partitions,
)
from fastml.dask._share import persist_array, share
from fastml.dask._threads import check_n_jobs
from fastml.dask._validation import (
    check_dask_array,
    check_same_features,
    check_split_every,
    is_dask_array,
    is_dask_bag,
)
from fastml.utils import check_positive_int, result_dtype

__all__ = ["KNeighborsClassifier", "KNeighborsRegressor", "NearestNeighbors", "kneighbors"]


def _check_k(k, n_train, extra=""):
    if k > n_train:
        raise ValueError(
            f"Expected n_neighbors <= n_samples_fit, but n_neighbors = {k}, "
            f"n_samples_fit = {n_train}, n_samples = {n_train}{extra}."
        )


def _is_sequence(name, X):
    if name in ("levenshtein", "dtw"):
        return True
    return name == "hamming" and not is_dask_array(X) and (is_dask_bag(X) or any_str(X))


def _array_blocks(A):
    """[(delayed block, n_rows, row0)] of a dask array's row blocks."""
    blocks = A.to_delayed(optimize_graph=False).ravel()
    sizes = A.chunks[0]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    return [(b, int(s), int(r0)) for b, s, r0 in zip(blocks, sizes, starts)]


def _numeric_dtype(name, *arrays):
    if name == "hamming" and any(a.dtype == np.bool_ for a in arrays):
        return np.dtype(np.float64)
    return result_dtype(*arrays)


def _sequence_dtype(name, items):
    if name == "levenshtein":
        return np.dtype(np.int32)
    if name == "hamming":
        return np.dtype(np.float64)
    return dtw_dtype(items)


def kneighbors(T, X, n_neighbors=5, metric="euclidean", *, n_jobs=None, split_every=4,
               partition_size=1000, **params):
    """The ``n_neighbors`` nearest rows (items) of X for every row (item) of T, lazily.

    Parameters
    ----------
    T : queries. Numeric metrics: a dask array (n, d). String / sequence metrics: a
        ``dask.bag`` or a list of items.
    X : the items searched. Numeric metrics: a dask array (m, d), sharded by its row
        blocks. String / sequence metrics: a bag or list, gathered and shared with every
        task.
    n_neighbors : int, default=5
    metric : str, default="euclidean"
        Any metric of :func:`fastml.metrics.pairwise_distances`.
    n_jobs : int or None
        Threads per task (see :mod:`fastml.dask`).
    split_every : int, default=4
        How many partial top-k lists one merge task combines (the depth of the tree
        is log_split_every of the number of train blocks).
    partition_size : int, default=1000
        Items per task when T is a list of strings / sequences (a bag keeps its
        partitions).
    **params : ``p`` (minkowski), ``window`` (dtw).

    Returns
    -------
    (dist, ind) : dask arrays (n, n_neighbors), sorted by distance, equal distances by
    index; ``ind`` is int64, ``dist`` as in the single-machine search (float32 for
    float32 input, int32 for levenshtein). Compute both at once with
    ``dask.compute(dist, ind)`` (they share their tasks).
    """
    n_jobs = check_n_jobs(n_jobs)
    split_every = check_split_every(split_every)
    name, prm = check_metric(metric, params)  # as fastml.metrics.distance.kneighbors
    k = check_positive_int(n_neighbors, "n_neighbors")
    if _is_sequence(name, X):
        partition_size = check_partition_size(partition_size)
        index = materialize_items(X, "X", name)
        index = check_fit_data(index, metric, params, name="X")
        _check_k(k, len(index))
        return _sequence_knn(T, share(index), _sequence_dtype(name, index), k, metric,
                             params, n_jobs, partition_size, split_every, qname="T")
    allow_bool = name == "hamming"
    T = check_dask_array(T, "T", allow_bool=allow_bool)
    X = check_dask_array(X, "X", allow_bool=allow_bool)
    check_same_features(T, X)
    _check_k(k, X.shape[0])
    return _numeric_knn(T, X, k, name, prm, n_jobs, split_every)


def _numeric_knn(T, X, k, name, prm, n_jobs, split_every, drop_self=False):
    dtype = _numeric_dtype(name, T, X)
    qb = _array_blocks(T)
    xb = [(b, r0) for b, _, r0 in _array_blocks(X)]
    # NaN / infinity are found in the tasks, and named as the caller's arguments
    pairs = _knn.knn_blocks(qb, xb, k, name, prm, n_jobs, dtype, split_every, drop_self,
                            checks=[("T", "X")] * len(qb))
    return _knn.assemble(pairs, [s for _, s, _ in qb], k, dtype)


def _sequence_query_blocks(X, qname, metric, params, partition_size):
    """[(partition, n_items or None, row0)] and the per-block names for local_knn: a list
    of queries is validated now (errors name its items ``T[i]``), a bag's partitions in
    their tasks (``T.partitions[p][i]``)."""
    name, _ = check_metric(metric, params)
    parts = query_partitions(X, qname, name, partition_size)
    if not is_dask_bag(X):
        check_fit_data(materialize_items(X, qname, name), metric, params, name=qname)
    qb, checks, row0 = [], [], 0
    for p, (part, size) in enumerate(parts):
        qb.append((part, size, row0))
        checks.append((f"{qname}.partitions[{p}]" if size is None else None, None))
        row0 = None if (size is None or row0 is None) else row0 + size
    return qb, checks


def _sequence_knn(T, shared_index, dtype, k, metric, params, n_jobs, partition_size,
                  split_every, qname="T"):
    qb, checks = _sequence_query_blocks(T, qname, metric, params, partition_size)
    pairs = _knn.knn_blocks(qb, [(shared_index, 0)], k, metric, params, n_jobs, dtype,
                            split_every, checks=checks)
    return _knn.assemble(pairs, [s for _, s, _ in qb], k, dtype)


# ----------------------------------------------------------------------------------------
# estimators
# ----------------------------------------------------------------------------------------
def _check_weights(weights):
    if not (weights in (None, "uniform", "distance") or callable(weights)):
        raise ValueError(f"weights must be 'uniform', 'distance', None or a callable, "
                         f"got {weights!r}.")


def _vote_block(pair, voter, method):
    return getattr(voter, method)(pair)


class _DaskNeighborsBase(BaseEstimator):
    def __init__(self, n_neighbors=5, *, metric="minkowski", p=2, metric_params=None,
                 n_jobs=None, split_every=4, partition_size=1000):
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.p = p
        self.metric_params = metric_params
        self.n_jobs = n_jobs
        self.split_every = split_every
        self.partition_size = partition_size

    def _metric_params(self):
        if self.metric_params is not None and not isinstance(self.metric_params, dict):
            raise TypeError(f"metric_params must be a dict or None, got "
                            f"{type(self.metric_params).__name__}.")
        params = dict(self.metric_params or {})
        name, _ = check_knn_metric(self.metric, {})  # the canonical name (aliases resolved)
        if name == "minkowski":
            params.setdefault("p", self.p)
        check_knn_metric(self.metric, params)  # raises on bad p / window / extra parameters
        return name, params

    def _check_n_neighbors(self, n_neighbors):
        if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, numbers.Integral):
            raise TypeError(f"n_neighbors does not take {type(n_neighbors).__name__} value, "
                            "enter integer value")
        if n_neighbors <= 0:
            raise ValueError(f"Expected n_neighbors > 0. Got {n_neighbors}")
        return int(n_neighbors)

    def _fit(self, X):
        import dask.array as da

        name, params = self._metric_params()
        self._check_n_neighbors(self.n_neighbors)
        check_n_jobs(self.n_jobs)
        check_split_every(self.split_every)
        check_partition_size(self.partition_size)
        if _is_sequence(name, X):
            items = materialize_items(X, "X", name)
            items = check_fit_data(items, self.metric, params)
            self._sequence = True
            self._dist_dtype = _sequence_dtype(name, items)
            self._index = share(items)
            self._fit_items = items  # the queries of kneighbors(X=None)
            n = len(items)
            for attr in ("n_features_in_",):
                if hasattr(self, attr):
                    delattr(self, attr)
        else:
            X = check_dask_array(X, "X", allow_bool=name == "hamming")
            X = persist_array(X)
            if X.dtype != np.bool_ and not bool(da.isfinite(X).all().compute()):
                raise ValueError("Input X contains NaN or infinity; drop or impute those "
                                 "rows (e.g. sklearn.impute.SimpleImputer) first.")
            self._sequence = False
            self._fit_X = X
            self.n_features_in_ = X.shape[1]
            n = X.shape[0]
        self.n_samples_fit_ = n
        self.effective_metric_ = name
        self.effective_metric_params_ = params
        return self

    def _query_blocks(self, X, k, drop_self):
        """Delayed (dist, ind) per query block, row counts, dtype."""
        name, params = self.effective_metric_, self.effective_metric_params_
        if self._sequence:
            queries = self._fit_items if drop_self else X
            if drop_self:
                qb, checks = [], []
                row0 = 0
                for part, size in query_partitions(queries, "X", name, self.partition_size):
                    qb.append((part, size, row0))
                    checks.append((None, None))
                    row0 += size
            else:
                qb, checks = _sequence_query_blocks(queries, "X", self.metric, params,
                                                    self.partition_size)
            pairs = _knn.knn_blocks(qb, [(self._index, 0)], k, self.metric, params,
                                    self.n_jobs, self._dist_dtype, self.split_every,
                                    drop_self, checks=checks)
            return pairs, [s for _, s, _ in qb], self._dist_dtype
        Q = self._fit_X if drop_self else self._check_query(X)
        dtype = _numeric_dtype(name, Q, self._fit_X)
        qb = _array_blocks(Q)
        xb = [(b, r0) for b, _, r0 in _array_blocks(self._fit_X)]
        pairs = _knn.knn_blocks(qb, xb, k, name, params, self.n_jobs, dtype,
                                self.split_every, drop_self,
                                checks=[(None if drop_self else "X", None)] * len(qb))
        return pairs, [s for _, s, _ in qb], dtype

    def _check_query(self, X):
        X = check_dask_array(X, "X", allow_bool=self.effective_metric_ == "hamming")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        check_same_features(X, self._fit_X, "X", "the training data")
        return X

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Lazy (dist, ind) dask arrays of the ``n_neighbors`` nearest training samples;
        ``X=None``: the training samples themselves, each excluded from its own list.
        As :meth:`fastml.neighbors.NearestNeighbors.kneighbors`."""
        check_is_fitted(self, "n_samples_fit_")
        k = self._check_n_neighbors(self.n_neighbors if n_neighbors is None else n_neighbors)
        drop_self = X is None
        if drop_self:
            _check_k(k + 1, self.n_samples_fit_,
                     " (n_neighbors + 1, as X=None excludes each sample from its own "
                     "neighbours)")
        else:
            _check_k(k, self.n_samples_fit_)
        pairs, sizes, dtype = self._query_blocks(X, k, drop_self)
        dist, ind = _knn.assemble(pairs, sizes, k, dtype)
        return (dist, ind) if return_distance else ind

    def _predict_lazy(self, X, method, out_dtype, trailing):
        import dask
        import dask.array as da

        check_is_fitted(self, "n_samples_fit_")
        k = self._check_n_neighbors(self.n_neighbors)
        _check_k(k, self.n_samples_fit_)
        pairs, sizes, _ = self._query_blocks(X, k, False)
        vote = dask.delayed(_vote_block, pure=True)
        blocks = [da.from_delayed(vote(p, self._voter, method),
                                  shape=(np.nan if s is None else s,) + trailing,
                                  dtype=out_dtype) for p, s in zip(pairs, sizes)]
        return da.concatenate(blocks, axis=0)


def _labels(y):
    if is_dask_array(y):
        y = y.compute()
    return y


class NearestNeighbors(_DaskNeighborsBase):
    """Unsupervised exact k-nearest-neighbour search on Dask (fastml.neighbors' API).

    ``fit(X)`` takes a dask array (numeric metrics; it is persisted on the workers) or
    a ``dask.bag`` / list of items (string and sequence metrics; shared with every
    worker). ``kneighbors`` returns lazy dask arrays equal to the single-machine
    :class:`fastml.neighbors.NearestNeighbors`.

    Parameters
    ----------
    n_neighbors, metric, p, metric_params : as :class:`fastml.neighbors.NearestNeighbors`.
    n_jobs : int or None
        Threads per task (see :mod:`fastml.dask`).
    split_every : int, default=4
        Partial top-k lists per merge task.
    partition_size : int, default=1000
        Items per task when string / sequence queries come as a list.

    Attributes
    ----------
    n_samples_fit_, n_features_in_ (numeric data), effective_metric_,
    effective_metric_params_
    """

    def fit(self, X, y=None):
        return self._fit(X)


class KNeighborsClassifier(ClassifierMixin, _DaskNeighborsBase):
    """k-nearest-neighbour vote on Dask; the vote (and its tie rule, ``tie_break``: the
    smallest label among the tied classes as in scikit-learn, or ``"nearest"``: the nearest
    neighbour's class among them) is fastml.neighbors' own, applied per query block.

    ``y`` may be a NumPy or a dask array (it is gathered: one label per training row).
    ``predict`` / ``predict_proba`` return lazy dask arrays.

    Parameters as :class:`NearestNeighbors`, plus ``weights`` ("uniform", "distance"
    or a callable) and ``tie_break`` ("smallest_label" or "nearest", as
    :class:`fastml.neighbors.KNeighborsClassifier`).
    """

    def __init__(self, n_neighbors=5, *, weights="uniform", metric="minkowski", p=2,
                 metric_params=None, n_jobs=None, split_every=4, partition_size=1000,
                 tie_break="smallest_label"):
        super().__init__(n_neighbors, metric=metric, p=p, metric_params=metric_params,
                         n_jobs=n_jobs, split_every=split_every,
                         partition_size=partition_size)
        self.weights = weights
        self.tie_break = tie_break

    def fit(self, X, y):
        _check_weights(self.weights)
        if self.tie_break not in ("smallest_label", "nearest"):
            raise ValueError(f"tie_break must be 'smallest_label' or 'nearest', got "
                             f"{self.tie_break!r}.")
        if y is None:
            raise ValueError("KNeighborsClassifier requires y to be passed, but the target "
                             "y is None.")
        self._fit(X)
        y = column_or_1d(_labels(y), warn=True)
        check_classification_targets(y)
        if len(y) != self.n_samples_fit_:
            raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                             f"[{self.n_samples_fit_}, {len(y)}]")
        self.classes_, codes = np.unique(y, return_inverse=True)
        self._voter = share(precomputed_voter("classifier", self.weights, codes,
                                              self.classes_, self.tie_break))
        return self

    def predict(self, X):
        """Lazy predicted labels (a dask array)."""
        check_is_fitted(self, "n_samples_fit_")
        return self._predict_lazy(X, "predict", self.classes_.dtype, ())

    def predict_proba(self, X):
        """Lazy class probabilities (a dask array, one column per class of
        ``classes_``)."""
        check_is_fitted(self, "n_samples_fit_")
        return self._predict_lazy(X, "predict_proba", np.dtype(np.float64),
                                  (len(self.classes_),))

    def score(self, X, y, sample_weight=None):
        """Mean accuracy (computed)."""
        from sklearn.metrics import accuracy_score

        return accuracy_score(_labels(y), self.predict(X).compute(),
                              sample_weight=sample_weight)


class KNeighborsRegressor(RegressorMixin, _DaskNeighborsBase):
    """k-nearest-neighbour regression on Dask: the (weighted) mean of the neighbours'
    targets, fastml.neighbors' rule per query block. ``predict`` is lazy.

    Parameters as :class:`KNeighborsClassifier`.
    """

    def __init__(self, n_neighbors=5, *, weights="uniform", metric="minkowski", p=2,
                 metric_params=None, n_jobs=None, split_every=4, partition_size=1000):
        super().__init__(n_neighbors, metric=metric, p=p, metric_params=metric_params,
                         n_jobs=n_jobs, split_every=split_every,
                         partition_size=partition_size)
        self.weights = weights

    def fit(self, X, y):
        _check_weights(self.weights)
        if y is None:
            raise ValueError("KNeighborsRegressor requires y to be passed, but the target "
                             "y is None.")
        self._fit(X)
        y = np.asarray(_labels(y))
        if y.dtype.kind not in "fiub":
            raise ValueError(f"y must be numeric for regression, got dtype {y.dtype}.")
        y = y.astype(np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError("Input y contains NaN or infinity.")
        if len(y) != self.n_samples_fit_:
            raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                             f"[{self.n_samples_fit_}, {len(y)}]")
        self._y_shape = y.shape[1:]
        self._voter = share(precomputed_voter("regressor", self.weights, y))
        return self

    def predict(self, X):
        """Lazy predicted targets (a dask array, (n,) or (n, n_outputs))."""
        check_is_fitted(self, "n_samples_fit_")
        return self._predict_lazy(X, "predict", np.dtype(np.float64), self._y_shape)

    def score(self, X, y, sample_weight=None):
        """R^2 (computed)."""
        from sklearn.metrics import r2_score

        return r2_score(_labels(y), self.predict(X).compute(), sample_weight=sample_weight)
