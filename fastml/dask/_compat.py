"""The one place where ``fastml.dask`` reaches into fastml's single-machine internals.

Everything else in this package imports these names from here, so that a rename in
``fastml.metrics`` or ``fastml.neighbors`` is a one-line change in this file.
"""
from fastml.metrics.distance import _check_metric as check_metric
from fastml.metrics.distance import check_fit_data
from fastml.metrics.distance import kneighbors as single_kneighbors
from fastml.metrics.pairwise import KERNEL_PARAMS
from fastml.neighbors._base import vote_weights
from fastml.utils._openmp import omp_max_threads, openmp_enabled

from fastml.neighbors._classification import (
    neighbour_votes,
    predict_from_votes,
    proba_from_votes,
)


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
        w = vote_weights(dist, self.weights)
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


__all__ = ["KERNEL_PARAMS", "check_fit_data", "check_metric", "omp_max_threads",
           "openmp_enabled", "precomputed_voter", "single_kneighbors", "vote_weights"]
