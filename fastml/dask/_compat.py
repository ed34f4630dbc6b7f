"""The one place where ``fastml.dask`` reaches into fastml's single-machine internals.

Everything else in this package imports these names from here, so that a rename in
``fastml.metrics`` or ``fastml.neighbors`` is a one-line change in this file.
"""
from fastml.metrics.distance import _check_metric as check_metric
from fastml.metrics.distance import check_fit_data
from fastml.metrics.distance import kneighbors as single_kneighbors
from fastml.metrics.pairwise import KERNEL_PARAMS
from fastml.neighbors._base import _weights as vote_weights

__all__ = ["KERNEL_PARAMS", "check_fit_data", "check_metric", "single_kneighbors",
           "vote_weights"]
