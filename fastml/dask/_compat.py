"""The one place where ``fastml.dask`` reaches into fastml's single-machine internals.

Everything else in this package imports these names from here, so that a rename in
``fastml.metrics`` or ``fastml.neighbors`` is a one-line change in this file.
"""
from fastml.metrics.distance import NUMERIC_METRICS, SEQUENCE_METRICS  # noqa: F401
from fastml.metrics.distance import _check_metric as check_metric  # noqa: F401
from fastml.metrics.distance import _holds_strings as holds_strings  # noqa: F401
from fastml.metrics.distance import check_fit_data  # noqa: F401
from fastml.metrics.pairwise import KERNEL_PARAMS  # noqa: F401
from fastml.neighbors._base import _weights as vote_weights  # noqa: F401
from fastml.metrics.distance import kneighbors as single_kneighbors  # noqa: F401,E402
