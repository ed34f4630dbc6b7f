"""The dispatch shared by fastml's neighbour estimators.

fastml's estimators are subclasses of scikit-learn's (``NearestNeighbors``,
``KNeighborsClassifier``, ...), so every parameter, attribute, error, the radius API and
the tree algorithms are scikit-learn's own. :class:`FastNeighborsMixin`, placed before the
scikit-learn class in the bases, adds two things:

* a per-call check, after scikit-learn has validated the data and chosen its algorithm,
  of whether fastml's compiled search supports the fitted metric and data (brute force on
  dense data with a metric of the registry in :mod:`fastml.metrics._registry`). If so,
  ``fit`` keeps a fit-time index (the validated training rows, their norms or packed
  bits) and ``kneighbors`` (and everything built on it: ``predict``, ``predict_proba``,
  ``kneighbors_graph``, ``transform``) runs fastml's chunked, parallel search; if not,
  scikit-learn's code runs unchanged (``kd_tree`` / ``ball_tree``, sparse input,
  callable or rare metrics, ``"precomputed"``, radius queries);
* the sequence metrics scikit-learn does not have (``levenshtein``, ``dtw``, ``hamming``
  on equal-length strings): their ``fit`` and ``kneighbors`` are fastml's alone.
"""
import numbers

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.base import is_classifier
from sklearn.neighbors import VALID_METRICS, VALID_METRICS_SPARSE
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from fastml.metrics import _knn, _registry, _scaling
from fastml.metrics._common import int32_indices
from fastml.metrics._sequences import check_sequence_container, reject_strings_for_numeric
from fastml.utils import effective_n_threads
from fastml.utils.validation import aligned, result_dtype

#: metrics only fastml has (sequences); scikit-learn's names are accepted as they are
FASTML_ONLY_METRICS = tuple(sorted(
    n for n, m in _registry.METRIC_ALIASES.items()
    if _registry.METRICS[m].sequence is not None and _registry.METRICS[m].numeric is None))


def with_fastml_metrics(constraints):
    """scikit-learn's parameter constraints with fastml's sequence metrics added."""
    out = dict(constraints)
    names = set()
    for n in VALID_METRICS.values():
        names.update(n)
    out["metric"] = [StrOptions(names | set(FASTML_ONLY_METRICS))] + [
        c for c in constraints["metric"] if not isinstance(c, StrOptions)]
    return out


#: distances computed at a time by radius_neighbors (a block of queries x all train)
_RADIUS_BLOCK_BYTES = 32 << 20


class _FitIndex:
    """What the fast search needs about the training set, computed once in ``fit``:
    the rows in the dtype the search runs in, and per-metric extras (row norms,
    unit-norm rows, bit-packed rows) in ``cache``."""

    def __init__(self, spec, prm, data, sequence):
        self.spec = spec
        self.prm = prm
        self.data = data
        self.sequence = sequence
        self.cache = {}
        if not sequence:
            self.cache = _knn.prepare_train(data, spec.numeric.plan(prm))

    def matrix(self, Q, n_threads):
        """Distances of the queries Q (validated / encoded) to every training item."""
        if self.sequence:
            route = self.spec.sequence
            out = np.empty((route.count(Q), route.count(self.data)), dtype=route.dtype(Q))
            return route.matrix(Q, self.data, out, self.prm, n_threads)
        F = self.data
        if Q.dtype != F.dtype:
            dtype = result_dtype(Q, F)
            Q, F = Q.astype(dtype), F.astype(dtype)
        dtype = np.float64 if Q.dtype == np.bool_ else Q.dtype
        out = np.empty((Q.shape[0], F.shape[0]), dtype=dtype)
        return self.spec.numeric.matrix(Q, F, out, self.prm, n_threads)

    def check_nan(self, Q):
        """Under ``sklearn.config_context(assume_finite=True)`` no check has rejected NaN:
        distances to NaN cannot be ranked, so say so (scikit-learn's brute force returns
        arbitrary neighbours then)."""
        if self.sequence or not get_config()["assume_finite"]:
            return
        for A, name in ((Q, "X"), (self.data, "the training data")):
            if A.dtype.kind == "f" and np.isnan(A).any():
                raise ValueError(
                    f"Input {name} contains NaN: distances to NaN cannot be ranked. "
                    "(The finiteness check was skipped by "
                    "sklearn.config_context(assume_finite=True).) Remove or impute the "
                    "NaN values.")

    def search(self, Q, k, n_threads):
        if self.sequence:
            return self.spec.sequence.knn(Q, self.data, k, self.prm, n_threads)
        F, cache = self.data, self.cache
        if Q.dtype != F.dtype:
            dtype = result_dtype(Q, F)
            Q, F, cache = Q.astype(dtype), F.astype(dtype), None
        return _knn.knn_numeric(Q, F, k, self.spec.numeric.plan(self.prm), n_threads,
                                cache=cache)


def _search_dtype(X, spec):
    if X.dtype == np.bool_ and spec.numeric.keep_bool:
        return X
    if X.dtype in (np.float32, np.float64):
        return X
    return X.astype(np.float64)


class FastNeighborsMixin:
    """Mixin placed before a scikit-learn neighbours estimator: the per-call dispatch
    described in the module docstring."""

    # -- which path? ---------------------------------------------------------------------
    def _sequence_spec(self, X):
        """The registry entry when ``X`` goes through a fastml-only sequence metric."""
        if not isinstance(self.metric, str) or self.metric not in _registry.METRIC_ALIASES:
            return None
        spec = _registry.get_metric(self.metric)
        return spec if spec.is_sequence_input(X) else None

    def _fit(self, X, y=None):
        mp = self.metric_params if isinstance(self.metric_params, dict) else {}
        p = mp.get("p", self.p)
        if isinstance(p, float) and p != p:  # NaN: every distance would be NaN
            raise ValueError("p is NaN (in metric_params); the Minkowski distance needs a "
                             "number p >= 1, e.g. metric_params={'p': 2}.")
        spec = self._sequence_spec(X)
        if spec is not None:
            return self._fit_sequences(spec, X, y)
        if isinstance(self.metric, str) and self.metric in FASTML_ONLY_METRICS:
            raise ValueError(f"metric={self.metric!r} compares sequences; X must be a "
                             "sequence of items (e.g. a list of str).")
        reject_strings_for_numeric(X, "X", self.metric)
        super()._fit(int32_indices(X), y)
        if self.algorithm == "auto" and self._tree_would_overflow():
            # scikit-learn's trees sum squares in float64 without rescaling: data this
            # large (or this small) overflow to inf (or underflow to 0) and the tree
            # returns wrong neighbours; fastml's brute force rescales by a power of two
            self._fit_method, self._tree = "brute", None
        self._fastml_index = self._build_index()
        return self

    def _tree_would_overflow(self):
        if getattr(self, "_fit_method", None) not in ("kd_tree", "ball_tree"):
            return False
        X = self._fit_X
        if not isinstance(X, np.ndarray) or X.ndim != 2 or X.size == 0:
            return False
        if _registry.is_usable_for(X, None, self.effective_metric_,
                                   self.effective_metric_params_, knn=True) is None:
            return False
        p = float(self.effective_metric_params_.get("p", 2)) \
            if self.effective_metric_ in ("minkowski", "p") else 2.0
        return _scaling.safe_shift(_scaling.max_abs(X), np.float64,
                                   p if np.isfinite(p) else 1.0, X.shape[1]) != 0

    def _build_index(self):
        if getattr(self, "_fit_method", None) != "brute":
            return None
        X = self._fit_X
        if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[1] == 0:
            return None
        found = _registry.is_usable_for(X, None, self.effective_metric_,
                                        self.effective_metric_params_, knn=True)
        if found is None:
            return None
        spec, prm = found
        return _FitIndex(spec, prm, aligned(np.ascontiguousarray(_search_dtype(X, spec))),
                         sequence=False)

    def _fit_sequences(self, spec, X, y):
        """fit for sequence metrics: scikit-learn's attributes, fastml's index."""
        params = dict(self.metric_params or {})
        if "p" in spec.params:
            params.setdefault("p", self.p)
        prm = spec.check_params(self.metric, params)
        items = check_sequence_container(X, "X", spec.name)
        data, _ = spec.sequence.encode(items, None, names=("X", None))
        for attr in ("n_features_in_", "feature_names_in_"):
            if hasattr(self, attr):
                delattr(self, attr)
        if self.__sklearn_tags__().target_tags.required:
            if y is None:
                raise ValueError(f"{type(self).__name__} requires y to be passed, but the "
                                 "target y is None.")
            self._set_targets(y, len(items))
        self._fit_X = items
        self._tree = None
        self._fit_method = "brute"
        self.n_samples_fit_ = len(items)
        self.effective_metric_ = spec.name
        self.effective_metric_params_ = {k: params.get(k, p.default)
                                         for k, p in spec.params.items()}
        self._fastml_index = _FitIndex(spec, prm, data, sequence=True)
        return self

    def _set_targets(self, y, n):
        """scikit-learn's target attributes (``_y``, ``classes_``, ``outputs_2d_``)."""
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        if y.shape[0] != n:
            raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                             f"[{n}, {y.shape[0]}]")
        if not is_classifier(self):
            if y.dtype.kind not in "fiub":
                raise ValueError(f"y must be numeric for regression, got dtype {y.dtype}.")
            y = y.astype(np.float64)
            if not np.all(np.isfinite(y)):
                raise ValueError("Input y contains NaN or infinity.")
            self._y = y
            return
        self.outputs_2d_ = not (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1))
        Y = y.reshape(-1, 1) if not self.outputs_2d_ else y
        check_classification_targets(Y if self.outputs_2d_ else Y.ravel())
        self._y = np.empty(Y.shape, dtype=np.intp)
        classes = []
        for j in range(Y.shape[1]):
            c, self._y[:, j] = np.unique(Y[:, j], return_inverse=True)
            classes.append(c)
        self.classes_ = classes if self.outputs_2d_ else classes[0]
        if not self.outputs_2d_:
            self._y = self._y.ravel()

    def _fast_path(self, X):
        """The fit-time index if fastml's search answers queries X, else None."""
        index = getattr(self, "_fastml_index", None)
        if index is None:
            return None
        if not index.sequence and X is not None and sp.issparse(X):
            return None
        return index

    # -- queries -------------------------------------------------------------------------
    def _queries(self, index, X):
        """Validated (and, for sequences, encoded) queries for the fit-time index;
        X=None: the training set. Returns (queries, n_queries, index): the index is the
        fit-time one, or for integer sequences one encoded jointly with the queries."""
        if X is None:
            return index.data, self.n_samples_fit_, index
        if index.sequence:
            items = check_sequence_container(X, "X", index.spec.name)
            if not index.spec.is_sequence_input(items):
                raise TypeError("The training data are strings but the queries are not; "
                                f"metric={index.spec.name!r} compares strings with "
                                "strings.")
            if index.spec.numeric is None:
                # integer symbols are numbered jointly over queries and training items
                # (and DTW's dtype is chosen jointly): encode both together, so that a
                # query symbol never takes the code of a different training symbol
                Q, F = index.spec.sequence.encode(items, self._fit_X,
                                                  names=("X", "the training data"))
                return Q, len(items), _FitIndex(index.spec, index.prm, F, sequence=True)
            Q, _ = index.spec.sequence.encode(items, None, names=("X", None))
            return Q, len(items), index
        Q = validate_data(self, X, reset=False, order="C", ensure_all_finite=True,
                          accept_sparse=False)
        Q = aligned(np.ascontiguousarray(_search_dtype(Q, index.spec)))
        if Q.dtype == np.bool_ and index.data.dtype != np.bool_:
            Q = Q.astype(index.data.dtype)
        return Q, Q.shape[0], index

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if isinstance(self.metric, str):
            # metrics scikit-learn rejects sparse X for (Minkowski is Euclidean / Manhattan
            # for p = 2 / 1)
            p = (self.metric_params or {}).get("p", self.p)
            if self.metric == "minkowski":
                tags.input_tags.sparse = p in (1, 2)
            elif self.metric != "precomputed":
                tags.input_tags.sparse = self.metric in VALID_METRICS_SPARSE["brute"]
        if not isinstance(self.metric, str) or self.metric not in _registry.METRIC_ALIASES:
            return tags
        spec = _registry.get_metric(self.metric)
        if spec.sequence is not None:
            tags.input_tags.string = spec.sequence.strings
            # sequences of any lengths, not a samples x features matrix
            tags.input_tags.two_d_array = spec.numeric is not None
            if spec.numeric is None:
                tags.input_tags.sparse = False
        return tags



class FastKNeighborsMixin(FastNeighborsMixin):
    """FastNeighborsMixin with fastml's ``kneighbors`` (estimators with scikit-learn's
    KNeighborsMixin)."""

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Find the K-neighbors of a point.

        Returns indices of and distances to the neighbors of each point. fastml's search
        runs for brute force on dense data with a metric of fastml's registry and for the
        sequence metrics; every other case runs scikit-learn's code.

        Parameters
        ----------
        X : {array-like, sparse matrix}, shape (n_queries, n_features), \
            or (n_queries, n_indexed) if metric == 'precomputed', a sequence of items \
            for the sequence metrics, default=None
            The query point or points. If not provided, neighbors of each indexed point
            are returned; in that case the query point is not considered its own
            neighbor.
        n_neighbors : int, default=None
            Number of neighbors required for each sample. The default is the value
            passed to the constructor.
        return_distance : bool, default=True
            Whether or not to return the distances.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries, n_neighbors)
            Distances to the neighbors, sorted; equal distances are ordered by training
            index. Only present if ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries, n_neighbors)
            Indices of the nearest points in the population matrix.

        Examples
        --------
        >>> from fastml.neighbors import NearestNeighbors
        >>> nn = NearestNeighbors(n_neighbors=1).fit([[0.0], [1.0], [5.0]])
        >>> nn.kneighbors([[0.9]])
        (array([[0.1]]), array([[1]]))
        """
        index = self._fast_path(X)
        if index is None:
            return super().kneighbors(int32_indices(X), n_neighbors, return_distance)
        check_is_fitted(self)
        if n_neighbors is None:
            n_neighbors = self.n_neighbors
        elif isinstance(n_neighbors, bool) or not isinstance(n_neighbors, numbers.Integral):
            raise TypeError(f"n_neighbors does not take {type(n_neighbors)} value, enter "
                            "integer value")
        elif n_neighbors <= 0:
            raise ValueError(f"Expected n_neighbors > 0. Got {n_neighbors}")
        query_is_train = X is None
        if query_is_train:
            n_neighbors += 1
        Q, n_queries, index = self._queries(index, X)
        if n_neighbors > self.n_samples_fit_:
            if query_is_train:
                n_neighbors -= 1
                ineq = "n_neighbors < n_samples_fit"
            else:
                ineq = "n_neighbors <= n_samples_fit"
            raise ValueError(f"Expected {ineq}, but n_neighbors = {n_neighbors}, "
                             f"n_samples_fit = {self.n_samples_fit_}, n_samples = "
                             f"{n_queries}")
        index.check_nan(Q)
        dist, ind = index.search(Q, int(n_neighbors), effective_n_threads(self.n_jobs))
        if query_is_train:
            dist, ind = _drop_self(dist, ind)
        return (dist, ind) if return_distance else ind


class FastRadiusNeighborsMixin(FastNeighborsMixin):
    """FastNeighborsMixin with fastml's ``radius_neighbors`` (estimators with
    scikit-learn's RadiusNeighborsMixin)."""

    def radius_neighbors(self, X=None, radius=None, return_distance=True,
                         sort_results=False):
        """Find the neighbors within a given radius of a point or points.

        fastml's search runs where its k-neighbour search does (brute force on dense
        data with a registry metric, and the sequence metrics), never building the full
        query x train matrix: Euclidean pairs are kept by an exact lower bound and
        decided on their double-precision values, the other metrics' blocks are
        thresholded in compiled code (float32 values near the radius decided again in
        float64); every other case runs scikit-learn's code. The result does not depend
        on ``n_jobs``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of (n_samples, n_features), a sequence of items \
                for the sequence metrics, default=None
            The query point or points; None: the indexed points, each not its own
            neighbor.
        radius : float, default=None
            Limiting distance of neighbors to return; None: the constructor's value.
        return_distance : bool, default=True
            Whether or not to return the distances.
        sort_results : bool, default=False
            Sort the neighbours of each query by distance (needs return_distance=True).

        Returns
        -------
        neigh_dist : ndarray of shape (n_samples,) of arrays
            Distances to the points within the radius (only with return_distance).
        neigh_ind : ndarray of shape (n_samples,) of arrays
            Indices of the points within the radius.

        Examples
        --------
        >>> from fastml.neighbors import NearestNeighbors
        >>> nn = NearestNeighbors(radius=1.5, algorithm="brute").fit([[0.0], [1.0], [5.0]])
        >>> nn.radius_neighbors([[0.2]], return_distance=False)[0]
        array([0, 1])
        """
        index = self._fast_path(X)
        if index is None:
            return super().radius_neighbors(int32_indices(X), radius, return_distance,
                                             sort_results)
        check_is_fitted(self)
        if sort_results and not return_distance:
            raise ValueError("return_distance must be True if sort_results is True.")
        if radius is None:
            radius = self.radius
        radius = _check_radius(radius)
        query_is_train = X is None
        Q, n_queries, index = self._queries(index, X)
        n_threads = effective_n_threads(self.n_jobs)
        if index.sequence:
            indptr, ind, dist = _radius_sequences(index, Q, n_queries, radius,
                                                  query_is_train, n_threads)
        else:
            index.check_nan(Q)
            F, cache = index.data, index.cache
            if Q.dtype != F.dtype:
                dtype = result_dtype(Q, F)
                Q, F, cache = Q.astype(dtype), F.astype(dtype), None
            indptr, ind, dist = _knn.radius_numeric(
                Q, F, radius, index.spec.numeric.plan(index.prm), n_threads, cache,
                self_offset=0 if query_is_train else -1)
        if sort_results:  # by (distance, index) within each query
            rows = np.repeat(np.arange(n_queries), np.diff(indptr))
            order = np.lexsort((ind, dist, rows))
            ind, dist = ind[order], dist[order]
        neigh_ind = _split(ind, indptr)
        if not return_distance:
            return neigh_ind
        return _split(dist, indptr), neigh_ind


def _check_radius(radius):
    """scikit-learn's check of a radius (a real number >= 0), as a float."""
    if isinstance(radius, bool) or not isinstance(radius, numbers.Real):
        raise TypeError(f"radius must be a real number >= 0, got {radius!r} of type "
                        f"{type(radius).__name__}.")
    radius = float(radius)
    if not radius >= 0:
        raise ValueError(f"radius == {radius}, must be >= 0.")
    return radius


def _split(values, indptr):
    """An object array of the per-query slices values[indptr[i]:indptr[i + 1]]."""
    out = np.empty(len(indptr) - 1, dtype=object)
    for i, part in enumerate(np.split(values, indptr[1:-1])):
        out[i] = part
    return out


def _radius_sequences(index, Q, n_queries, radius, query_is_train, n_threads):
    """Radius neighbours for the sequence metrics: blocks of queries x all training
    items (about _RADIUS_BLOCK_BYTES of distances), thresholded by numpy as a whole."""
    m = index.spec.sequence.count(index.data)
    block = int(max(1, min(n_queries, _RADIUS_BLOCK_BYTES // (8 * max(1, m)))))
    counts, inds, dists = [], [], []
    for b0 in range(0, n_queries, block):
        b1 = min(n_queries, b0 + block)
        D = index.matrix(_take_queries(index, Q, b0, b1, n_queries), n_threads)
        mask = D <= radius
        if query_is_train:
            r = np.arange(b1 - b0)
            mask[r, b0 + r] = False
        rows, cols = np.nonzero(mask)
        counts.append(np.bincount(rows, minlength=b1 - b0))
        inds.append(cols.astype(np.int64))
        dists.append(D[rows, cols])
    indptr = np.zeros(n_queries + 1, dtype=np.int64)
    if n_queries:
        np.cumsum(np.concatenate(counts), out=indptr[1:])
        return indptr, np.concatenate(inds), np.concatenate(dists)
    return indptr, np.zeros(0, dtype=np.int64), np.zeros(0)


def _take_queries(index, Q, b0, b1, n):
    """Rows b0:b1 of validated numeric queries, or of encoded sequences."""
    if b0 == 0 and b1 == n:
        return Q
    if not index.sequence:
        return Q[b0:b1]
    if isinstance(Q, np.ndarray):  # equal-length strings: a code matrix
        return Q[b0:b1]
    data, off = Q  # flat symbols / frames with offsets
    return data[off[b0]:off[b1]], off[b0:b1 + 1] - off[b0]


def _drop_self(dist, ind):
    """Remove each training sample from its own neighbours (k + 1 were searched): the
    sample itself, or, when more duplicates than neighbours tie at distance 0, the first
    column (as scikit-learn does)."""
    n, k1 = ind.shape
    keep = ind != np.arange(n)[:, None]
    no_self = keep.all(axis=1)
    keep[no_self, 0] = False
    return dist[keep].reshape(n, k1 - 1), ind[keep].reshape(n, k1 - 1)


def negative_weight_error(value, estimator, where=""):
    """The error for a negative or NaN weight from a callable ``weights`` (one message
    for the estimators' query checks and for :func:`vote_weights`)."""
    return ValueError(
        f"The weights callable returned {value:g}{where}; {estimator} needs "
        "weights >= 0 (a negative weight counts a neighbour against its label or "
        "target, so the prediction could be one no neighbour has). Make "
        "weights(distances) return non-negative numbers, e.g. "
        "1 / (1 + distances).")


def vote_weights(dist, weights, estimator="KNeighborsClassifier"):
    """Vote weights (n, k) from distances, as scikit-learn: None for 'uniform'; 1 / d for
    'distance' (rows with an exact match: 1 for the exact matches, 0 for the others);
    ``weights(dist)`` for a callable, whose values must be >= 0 (else the error of
    :func:`negative_weight_error`, naming ``estimator``). Raises if some row's weights
    are all zero."""
    if weights in (None, "uniform"):
        return None
    if weights == "distance":
        d = np.asarray(dist, dtype=np.float64)
        with np.errstate(divide="ignore"):
            w = 1.0 / d
        inf = np.isinf(w)
        rows = inf.any(axis=1)
        w[rows] = inf[rows]
    else:
        w = np.asarray(weights(dist), dtype=np.float64)
        if w.shape != np.shape(dist):
            raise ValueError(f"weights callable returned shape {w.shape}; it must return "
                             f"the shape of its input distances {np.shape(dist)}.")
        bad = np.flatnonzero(~(w.ravel() >= 0))
        if bad.size:
            raise negative_weight_error(float(w.ravel()[bad[0]]), estimator)
    if w.size and np.any(np.all(w == 0, axis=1)):
        raise ValueError(
            "All neighbors of some sample is getting zero weights. Please modify "
            "'weights' to avoid this case if you are using a user-defined function.")
    return w
