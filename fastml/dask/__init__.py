"""fastml past one machine: kernels, distances and exact k-NN on a Dask cluster.

An optional extra (``pip install "fastml[dask]"``); nothing else in fastml imports this
package. It builds on Dask's own engine (``dask.array``, ``dask.bag``,
``dask.distributed``): every task calls fastml's compiled single-machine kernels on
in-memory blocks.

* :func:`pairwise_kernels`, each kernel function (:func:`rbf_kernel`,
  :func:`chi2_kernel`, ...) and :func:`pairwise_distances`: lazy dask arrays K(T, X)
  built with ``dask.array.blockwise``;
* :func:`kneighbors`: exact k-NN, a local top-k per (query block, train block) merged by
  a tree reduction, ties by index (equal to :mod:`fastml.neighbors`);
* :class:`NearestNeighbors`, :class:`KNeighborsClassifier`,
  :class:`KNeighborsRegressor`: fit on a dask array (persisted) or, for strings and
  sequences, a ``dask.bag`` / list (shared with every worker); predict lazily;
* :class:`ParallelPostFit`: any fitted estimator predicts / transforms dask arrays block
  by block (KernelRidge, precomputed-kernel SVC pipelines, NeuralNetClassifier).

Threads: ``n_jobs`` is the number of OpenMP threads per task; by default a worker's
threads are shared among the tasks it runs, and the ``OMP_NUM_THREADS=1`` that Dask's
nanny sets in workers is lifted for fastml's calls (see ``docs/dask.md``).
"""
try:
    import dask  # noqa: F401
    import dask.array  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "fastml.dask needs Dask: pip install \"fastml[dask]\" (or pip install "
        "\"dask[array,distributed]\")."
    ) from exc

from fastml.dask.neighbors import (
    KNeighborsClassifier,
    KNeighborsRegressor,
    NearestNeighbors,
    kneighbors,
)
from fastml.dask import pairwise as _pairwise
from fastml.dask.pairwise import *  # noqa: F401,F403  (pairwise_kernels, pairwise_distances
#                                     and one function per kernel of the kernel registry)
from fastml.dask.wrappers import ParallelPostFit

__all__ = sorted(["KNeighborsClassifier", "KNeighborsRegressor", "NearestNeighbors",
                  "ParallelPostFit", "kneighbors", *_pairwise.__all__])
