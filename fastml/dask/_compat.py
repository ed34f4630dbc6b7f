"""The one place where ``fastml.dask`` reaches into fastml's single-machine internals.

Everything else in this package imports these names from here, so that a rename in
``fastml.metrics`` or ``fastml.neighbors`` is a one-line change in this file.
"""
from fastml.metrics.distance import _check_metric as check_metric
from fastml.metrics.distance import check_fit_data
from fastml.metrics.distance import kneighbors as single_kneighbors
from fastml.metrics.pairwise import KERNEL_PARAMS
from fastml.neighbors._base import _weights as vote_weights
from fastml.utils._openmp import omp_max_threads, openmp_enabled

from fastml.neighbors import KNeighborsClassifier as _Classifier
from fastml.neighbors import KNeighborsRegressor as _Regressor


class _PrecomputedMixin:
    """fastml.neighbors' estimator whose neighbour search is given: ``predict((dist,
    ind))`` applies the single-machine vote / mean (and its tie rule) to it."""

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        dist, ind = X
        return (dist, ind) if return_distance else ind


class PrecomputedClassifier(_PrecomputedMixin, _Classifier):
    pass


class PrecomputedRegressor(_PrecomputedMixin, _Regressor):
    pass


def precomputed_voter(kind, weights, y, classes=None):
    """A fitted single-machine classifier / regressor for ``predict((dist, ind))``; ``y``
    holds the class codes (indices into ``classes``) or the targets. Sets the fitted
    attributes fastml.neighbors reads (``_y``, ``classes_``)."""
    if kind == "classifier":
        voter = PrecomputedClassifier(weights=weights)
        voter.classes_ = classes
    else:
        voter = PrecomputedRegressor(weights=weights)
    voter._y = y
    return voter


__all__ = ["KERNEL_PARAMS", "check_fit_data", "check_metric", "omp_max_threads",
           "openmp_enabled", "precomputed_voter", "single_kneighbors", "vote_weights"]
