"""Pairwise kernels and distances: ``fastml.metrics``.

Also importable as ``fastml.metrics.pairwise``, mirroring ``sklearn.metrics.pairwise``.
The kernel functions exported here are those of the kernel registry
(:mod:`fastml.metrics._registry`): ``__all__`` is read from it.
"""
from fastml.metrics import _registry
from fastml.metrics import pairwise as _pairwise
from fastml.metrics.distance import DISTANCE_METRICS, dtw, levenshtein, pairwise_distances
from fastml.metrics.pairwise import *  # noqa: F401,F403  (pairwise.__all__: every kernel)
from fastml.metrics.pairwise import PAIRWISE_KERNEL_FUNCTIONS

#: canonical names of the kernels that take scipy CSR input (fastml's loops or, for
#: some, scikit-learn's function), from the kernel registry
CSR_KERNELS = tuple(_registry.csr_kernels())

__all__ = sorted({"CSR_KERNELS", "DISTANCE_METRICS", "PAIRWISE_KERNEL_FUNCTIONS", "dtw",
                  "levenshtein", "pairwise_distances", *_pairwise.__all__})
