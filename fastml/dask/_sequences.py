"""Strings and sequences (Levenshtein, Hamming on strings, DTW) on Dask: queries in
partitions (a ``dask.bag`` as it is partitioned, a list cut by the caller's
``partition_size``), the index (training items) shared by every task: scattered to
every worker once under a distributed client, a single graph key otherwise."""
import numbers

import numpy as np

from fastml.dask._validation import is_dask_array, is_dask_bag


def check_partition_size(partition_size):
    if isinstance(partition_size, bool) or not isinstance(partition_size, numbers.Integral) \
            or partition_size < 1:
        raise ValueError(f"partition_size must be a positive int (items per task), got "
                         f"{partition_size!r}.")
    return int(partition_size)


def _check_items_container(X, name, metric):
    if is_dask_array(X):
        raise TypeError(
            f"{name} is a dask array, but metric={metric!r} compares strings or sequences: "
            "pass a dask.bag (e.g. dask.bag.from_sequence(items, partition_size=...)) or "
            "a list of items."
        )
    if isinstance(X, (str, bytes)):
        raise TypeError(
            f"{name} is a single {type(X).__name__}; metric={metric!r} needs a sequence "
            f"of items, e.g. [{X!r}]."
        )


def materialize_items(X, name, metric):
    """A list of items from a dask.bag (computed) or any sequence."""
    _check_items_container(X, name, metric)
    if is_dask_bag(X):
        return list(X.compute())
    try:
        return list(X)
    except TypeError:
        raise TypeError(
            f"{name} must be a dask.bag or a sequence (list, tuple, 1-D array) of items for "
            f"metric={metric!r}, got {type(X).__name__}."
        ) from None


def query_partitions(X, name, metric, partition_size):
    """[(delayed partition, n_items or None)] for a bag or a sequence of queries."""
    import dask

    _check_items_container(X, name, metric)
    if is_dask_bag(X):
        return [(d, None) for d in X.to_delayed()]
    items = materialize_items(X, name, metric)
    if not items:
        raise ValueError(
            f"Found array with 0 sample(s) (shape=(0,)) while a minimum of 1 is required "
            f"by {name} for metric={metric!r}."
        )
    out = []
    for s in range(0, len(items), partition_size):
        part = items[s:s + partition_size]
        out.append((dask.delayed(part, pure=True, traverse=False), len(part)))
    return out


def any_str(X):
    """True if the (bag or sequence) X holds str items (looks at the first item)."""
    if is_dask_bag(X):
        first = X.take(1, npartitions=-1, warn=False)
        return bool(first) and isinstance(first[0], str)
    if isinstance(X, np.ndarray):
        return X.dtype.kind in "US" or (X.dtype.kind == "O" and X.size > 0
                                        and isinstance(X.flat[0], str))
    try:
        return len(X) > 0 and isinstance(X[0], str)
    except TypeError:
        return False


def dtw_dtype(items):
    """DTW results are float32 when every sequence is float32, else float64."""
    ok = all(np.asarray(s).dtype == np.float32 for s in items)
    return np.dtype(np.float32) if ok else np.dtype(np.float64)
