"""The one place where ``fastml.dask`` reaches into fastml's single-machine internals.

Everything else in this package imports these names from here, so that a rename in
``fastml.metrics`` or ``fastml.neighbors`` is a one-line change in this file.
"""
import numbers
import warnings

import numpy as np

from fastml.metrics.distance import _check_metric as check_metric
from fastml.metrics.distance import check_fit_data
from fastml.metrics.distance import kneighbors as single_kneighbors
from fastml.metrics._registry import kernel_function_names, kernel_specs
from fastml.neighbors._base import vote_weights
from fastml.utils._openmp import omp_max_threads, openmp_enabled

from fastml.neighbors._classification import (
    neighbour_votes,
    predict_from_votes,
    proba_from_votes,
)


def check_knn_metric(metric, params):
    """``check_metric`` for the neighbour searches, which also take Minkowski with
    0 < p < 1 as fastml.neighbors does (not a metric: scikit-learn's brute force
    computes it, block by block here; a warning says so)."""
    try:
        return check_metric(metric, params)
    except ValueError:
        p = params.get("p")
        if isinstance(p, numbers.Real) and not isinstance(p, bool) and 0 < p < 1 \
                and check_metric(metric, {})[0] == "minkowski" and set(params) == {"p"}:
            warnings.warn(f"Minkowski with p={p} < 1 is not a distance metric (no triangle "
                          "inequality); the neighbours are still exact (brute force).",
                          UserWarning, stacklevel=3)
            return "minkowski", {"p": float(p)}
        raise


def is_quasi_minkowski(metric, params):
    return metric == "minkowski" and 0 < params.get("p", 2) < 1


def quasi_minkowski_kneighbors(Q, F, k, p):
    """The k nearest rows of F for each row of Q under the Minkowski 'distance' with
    0 < p < 1 (scikit-learn's computation), ordered by (distance, index)."""
    from sklearn.metrics import pairwise_distances

    D = pairwise_distances(Q, F, metric="minkowski", p=p, n_jobs=1)
    ind = np.broadcast_to(np.arange(D.shape[1]), D.shape)
    order = np.lexsort((ind, D), axis=1)[:, :k]
    return np.take_along_axis(D, order, axis=1), order.astype(np.int64)


class _Voter:
    """The single-machine vote / mean of fastml.neighbors applied to a given neighbour
    search: ``predict((dist, ind))`` and ``predict_proba((dist, ind))``. Small and
    picklable, so that it can be shared with the workers."""

    def __init__(self, kind, weights, y, classes=None, tie_break="smallest_label"):
        self.kind, self.weights, self.y = kind, weights, y
        self.classes, self.tie_break = classes, tie_break

    def _votes(self, pair):
        dist, ind = pair
        return neighbour_votes(dist, ind, self.y, self.classes, False, self.weights)

    def predict(self, pair):
        if self.kind == "classifier":
            return predict_from_votes(self._votes(pair), self.classes, False, self.tie_break)
        dist, ind = pair
        w = vote_weights(dist, self.weights, "KNeighborsRegressor")
        yk = self.y[ind]
        if w is None:
            return yk.mean(axis=1)
        w = w.reshape(w.shape + (1,) * (yk.ndim - 2))
        return (yk * w).sum(axis=1) / w.sum(axis=1)

    def predict_proba(self, pair):
        return proba_from_votes(self._votes(pair), False)


def precomputed_voter(kind, weights, y, classes=None, tie_break="smallest_label"):
    """A voter for ``predict((dist, ind))`` with fastml.neighbors' rules; ``y`` holds the
    class codes (indices into ``classes``) or the targets."""
    return _Voter(kind, weights, y, classes, tie_break)


__all__ = ["check_fit_data", "check_knn_metric", "check_metric", "is_quasi_minkowski",
           "kernel_function_names", "kernel_specs", "omp_max_threads", "openmp_enabled", "precomputed_voter",
           "quasi_minkowski_kneighbors", "single_kneighbors", "vote_weights"]
