"""Kernel and distance matrices on Dask arrays (names follow ``dask_ml.metrics.pairwise``).

``T`` (n, d) and ``X`` (m, d) are ``dask.array`` inputs split in row blocks; the result
K(T, X) of shape (n, m) is a lazy dask array with one block per (row block of T, row
block of X), built with ``dask.array.blockwise``. Each block calls fastml's compiled
kernel on in-memory blocks, so a block is equal to the single-machine function applied
to those rows (within float rounding for GEMM-based kernels, whose sums depend on the
block size). The feature axis must be whole in each block: a feature axis in several
chunks is rechunked.

Parameters are checked when the lazy result is built, with the errors of the
single-machine functions (an unknown metric, a bad ``gamma``...); data-dependent checks
(NaN, negative entries for the histogram kernels) run in the tasks and raise the
single-machine error when the result is computed.

With ``X=None`` the blocks on the diagonal of K(T, T) use the symmetric single-machine
path (each pair once; the RBF diagonal is exactly 1).
"""
import inspect

import numpy as np

from fastml import metrics as _metrics
from fastml.dask._compat import (
    check_fit_data,
    check_metric,
    kernel_function_names,
    kernel_specs,
)
from fastml.dask._sequences import (
    any_str,
    check_partition_size,
    dtw_dtype,
    materialize_items,
    query_partitions,
)
from fastml.dask._share import share
from fastml.dask._threads import check_n_jobs, fastml_threads
from fastml.dask._validation import (
    check_dask_array,
    check_same_features,
    is_dask_array,
    is_dask_bag,
)
from fastml.utils import result_dtype

__all__ = sorted(["pairwise_distances", "pairwise_kernels", *kernel_function_names()])


# ----------------------------------------------------------------------------------------
# block functions (run in the tasks)
# ----------------------------------------------------------------------------------------
def _kernel_block(Tb, Xb, rows, cols, metric, kwds, filter_params, n_jobs, dtype):
    if Tb.shape[0] == 0 or Xb.shape[0] == 0:
        return np.empty((Tb.shape[0], Xb.shape[0]), dtype=dtype)
    same = rows is not None and rows.shape == cols.shape and rows[0] == cols[0]
    with fastml_threads(n_jobs) as n:
        return _metrics.pairwise_kernels(Tb, None if same else Xb, metric=metric,
                                         filter_params=filter_params, n_jobs=n, **kwds)


def _distance_block(Tb, Xb, rows, cols, metric, params, n_jobs, dtype):
    if Tb.shape[0] == 0 or Xb.shape[0] == 0:
        return np.empty((Tb.shape[0], Xb.shape[0]), dtype=dtype)
    same = rows is not None and rows.shape == cols.shape and rows[0] == cols[0]
    with fastml_threads(n_jobs) as n:
        return _metrics.pairwise_distances(Tb, None if same else Xb, metric=metric,
                                           n_jobs=n, **params)


def _blockwise_matrix(func, T, X, dtype, *args):
    """K(T, X) blockwise; with X None, K(T, T) with the diagonal blocks symmetric."""
    import dask.array as da

    symmetric = X is None
    Y = T if symmetric else X
    if symmetric:
        ids = da.arange(T.shape[0], chunks=(T.chunks[0],))
        rows, cols = (ids, "i"), (ids, "j")
    else:
        rows, cols = (None, None), (None, None)
    return da.blockwise(func, "ij", T, "ik", Y, "jk", *rows, *cols, *args,
                        concatenate=True, dtype=dtype, meta=np.empty((0, 0), dtype=dtype))


# ----------------------------------------------------------------------------------------
# kernels
# ----------------------------------------------------------------------------------------
def pairwise_kernels(T, X=None, metric="linear", *, filter_params=False, n_jobs=None,
                     **kwds):
    """The kernel K(T, X) between the rows of two dask arrays, as a lazy dask array.

    Parameters
    ----------
    T : dask.array.Array of shape (n, d)
    X : dask.array.Array of shape (m, d), or None for K(T, T)
    metric : str, callable or list
        As :func:`fastml.metrics.pairwise_kernels`: any name of
        :func:`fastml.metrics.kernel_metrics`, "precomputed" (T is returned), a callable,
        or a list of (metric, weight[, params]) for a weighted sum.
    filter_params : bool, default=False
    n_jobs : int or None
        Threads per task (see :mod:`fastml.dask`; None lets each worker share its threads
        among its running tasks).
    **kwds : kernel parameters (``gamma``, ``degree``, ``coef0``).

    Returns
    -------
    dask.array.Array of shape (n, m), float32 when every input is float32, else float64;
    block (i, j) is K(T_i, X_j).
    """
    n_jobs = check_n_jobs(n_jobs)
    T = check_dask_array(T, "T")
    if X is not None and X is not T:
        X = check_dask_array(X, "X")
        check_same_features(T, X)
    else:
        X = None
    if isinstance(metric, str) and metric == "precomputed":
        if X is not None and T.shape[1] != X.shape[0]:
            raise ValueError(
                f"Precomputed kernel: T has {T.shape[1]} columns but X has {X.shape[0]} "
                "rows; K(T, X) must have one column per row of X."
            )
        return T
    dtype = result_dtype(T, X)
    # the single-machine dispatcher on one row checks the metric and its parameters now,
    # with its own errors
    probe = np.ones((1, T.shape[1]), dtype=dtype)
    _metrics.pairwise_kernels(probe, None, metric=metric, filter_params=filter_params,
                              **kwds)
    return _blockwise_matrix(_kernel_block, T, X, dtype, metric, None, dict(kwds), None,
                             filter_params, None, n_jobs, None, dtype, None)


def _first_paragraph(doc):
    """The summary paragraph of a docstring, on one line."""
    para = (doc or "").strip().split("\n\n")[0]
    return " ".join(line.strip() for line in para.splitlines())


def _kernel_function(spec):
    """The lazy dask version of one registered kernel: same name, the kernel's own
    parameters and defaults (keyword-only), a docstring from the single-machine one."""
    allowed = spec.params
    name = spec.name

    def kernel(T, X=None, *, n_jobs=None, **params):
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise TypeError(f"{kernel.__name__}() got unexpected keyword argument(s) "
                            f"{unknown}; it takes {list(allowed) or 'no parameters'}.")
        return pairwise_kernels(T, X, metric=name, n_jobs=n_jobs, **params)

    func_name = spec.function_name
    kernel.__name__ = kernel.__qualname__ = func_name
    kernel.__module__ = __name__
    single = inspect.signature(spec.function).parameters
    P = inspect.Parameter
    kernel.__signature__ = inspect.Signature(
        [P("T", P.POSITIONAL_OR_KEYWORD), P("X", P.POSITIONAL_OR_KEYWORD, default=None)]
        + [P(p, P.KEYWORD_ONLY, default=single[p].default) for p in allowed]
        + [P("n_jobs", P.KEYWORD_ONLY, default=None)])
    kernel.__doc__ = (
        f"{_first_paragraph(spec.function.__doc__)}\n\n    Lazy dask version of "
        f":func:`fastml.metrics.{func_name}`: ``T`` (n, d) and ``X`` (m, d) dask arrays "
        "(X=None: K(T, T)),\n    keyword parameters "
        f"{', '.join(repr(p) for p in allowed) if allowed else '(none)'}, ``n_jobs`` "
        "threads per task.\n    Returns a dask array (n, m); see "
        ":func:`fastml.dask.pairwise_kernels`.\n    "
    )
    return kernel


#: the kernel functions, one per entry of the kernel registry (same names as
#: fastml.metrics: linear_kernel, rbf_kernel, cosine_similarity, ...)
KERNEL_FUNCTIONS = {spec.function_name: _kernel_function(spec) for spec in kernel_specs()}
globals().update(KERNEL_FUNCTIONS)


# ----------------------------------------------------------------------------------------
# distances
# ----------------------------------------------------------------------------------------
# scikit-learn metrics whose default parameter is estimated from all the rows
_DATA_DEPENDENT = {"seuclidean": "V", "mahalanobis": "VI"}


def _is_sequence_call(name, T, X):
    if name in ("levenshtein", "dtw"):
        return True
    if name != "hamming" or is_dask_array(T):
        return False
    return is_dask_bag(T) or any_str(T)


def _sequence_block(part, index, metric, params, n_jobs, dtype, symmetric_whole):
    part = list(part)
    index = part if symmetric_whole else index
    if not part:
        return np.empty((0, len(index)), dtype=dtype)
    with fastml_threads(n_jobs) as n:
        out = _metrics.pairwise_distances(part, index, metric=metric, n_jobs=n, **params)
    return out.astype(dtype, copy=False)


def _sequence_distances(T, X, name, metric, params, n_jobs, partition_size):
    import dask
    import dask.array as da

    index = materialize_items(T if X is None else X, "T" if X is None else "X", name)
    if X is not None or is_dask_bag(T):
        parts = query_partitions(T, "T", name, partition_size)
    else:
        parts = query_partitions(index, "T", name, partition_size)
    # validates every item, with the single-machine errors
    index = check_fit_data(index, metric, params, name="X" if X is not None else "T")
    dtype = {"levenshtein": np.dtype(np.int32), "hamming": np.dtype(np.float64)}.get(
        name) or dtw_dtype(index)
    m = len(index)
    shared = share(index)
    blocks = []
    for part, size in parts:
        d = dask.delayed(_sequence_block, pure=True)(part, shared, metric, params, n_jobs,
                                                     dtype, False)
        blocks.append(da.from_delayed(d, shape=(np.nan if size is None else size, m),
                                      dtype=dtype))
    return da.concatenate(blocks, axis=0)


def pairwise_distances(T, X=None, metric="euclidean", *, n_jobs=None, partition_size=1000,
                       **params):
    """The distance matrix between T and X, as a lazy dask array.

    Parameters
    ----------
    T, X : for numeric metrics, dask arrays (n, d) and (m, d) (X=None: T with itself).
        For "levenshtein", "dtw" and "hamming" on strings, T is a ``dask.bag`` or a list
        of items (cut into tasks of ``partition_size`` items) and X a bag or list that is
        gathered and shared with every task (X=None: T itself).
    metric : str or callable
        Any metric of :func:`fastml.metrics.pairwise_distances` (scikit-learn's metrics
        run its code per block; "seuclidean" and "mahalanobis" need ``V`` / ``VI``,
        which would otherwise be estimated per block).
    n_jobs : int or None
        Threads per task (see :mod:`fastml.dask`).
    partition_size : int, default=1000
        Items per task when T is a list (a bag keeps its partitions).
    **params : ``p`` (minkowski), ``window`` (dtw), or the scikit-learn metric's.

    Returns
    -------
    dask.array.Array (n, m): float32 for float32 input, int32 for levenshtein, else
    float64. Rows from a bag have unknown chunk sizes until computed.
    """
    n_jobs = check_n_jobs(n_jobs)
    try:
        name, _ = check_metric(metric, params)
    except (TypeError, ValueError):
        # not one of fastml's own metrics (or parameters): each block runs
        # fastml.metrics.pairwise_distances, which runs scikit-learn's code for it; the
        # probe below raises the single-machine error for what neither accepts
        name = None
        key = _DATA_DEPENDENT.get(metric) if isinstance(metric, str) else None
        if key is not None and key not in params:
            raise ValueError(
                f"metric={metric!r} on dask arrays needs {key}=...: without it the "
                f"single-machine function estimates {key} from all the rows it is given, "
                f"so every block would use a different one. Compute {key} from the whole "
                f"data and pass it.")
    if _is_sequence_call(name, T, X):
        partition_size = check_partition_size(partition_size)
        return _sequence_distances(T, X, name, metric, params, n_jobs, partition_size)
    allow_bool = name == "hamming"
    T = check_dask_array(T, "T", allow_bool=allow_bool)
    if X is not None and X is not T:
        X = check_dask_array(X, "X", allow_bool=allow_bool)
        check_same_features(T, X)
    else:
        X = None
    arrays = (T,) if X is None else (T, X)
    dtype = result_dtype(*arrays)  # boolean data (hamming): float64
    probe = np.zeros((1, T.shape[1]), dtype=T.dtype)
    if name is None:
        probe = np.vstack([probe, np.ones_like(probe)])
    got = _metrics.pairwise_distances(probe, None, metric=metric, **params)
    if name is None:
        dtype = np.asarray(got).dtype
    return _blockwise_matrix(_distance_block, T, X, dtype, metric, None, dict(params), None,
                             n_jobs, None, dtype, None)
