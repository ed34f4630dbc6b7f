"""Checks at the boundary of ``fastml.dask`` (eager: they run when the lazy result is
built, not when it is computed)."""
import numbers

import numpy as np


def is_dask_array(X):
    try:
        import dask.array as da
    except ImportError:  # pragma: no cover
        return False
    return isinstance(X, da.Array)


def is_dask_bag(X):
    try:
        import dask.bag as db
    except ImportError:  # pragma: no cover
        return False
    return isinstance(X, db.Bag)


def check_dask_array(X, name, *, allow_bool=False):
    """A 2-D dask array of real numbers with known row chunks, the feature axis in one
    chunk (rechunked if needed); integers and other real dtypes become float64, as in
    fastml's single-machine functions."""
    if not is_dask_array(X):
        hint = ("wrap it with dask.array.from_array(X, chunks=(rows_per_block, -1)), or "
                "call the single-machine function in fastml.metrics")
        raise TypeError(
            f"{name} must be a dask.array.Array, got {type(X).__module__}."
            f"{type(X).__name__}; {hint}."
        )
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-D dask array for {name}, got {X.ndim}-D with shape {X.shape}; "
            "reshape it to (n_samples, n_features)."
        )
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            f"{name} has unknown row-chunk sizes (e.g. from a boolean mask or a dask "
            f"dataframe); call {name}.compute_chunk_sizes() first."
        )
    if X.shape[1] == 0:
        raise ValueError(f"{name} has 0 features (shape {X.shape}); at least 1 is required.")
    kind = X.dtype.kind
    if kind == "b" and allow_bool:
        pass
    elif kind not in "fiub":
        raise TypeError(
            f"{name} has dtype {X.dtype}; fastml.dask takes real numbers (float32 stays "
            "float32, other real dtypes become float64)."
        )
    elif X.dtype != np.float32 and X.dtype != np.float64:
        X = X.astype(np.float64)
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})  # each block needs whole rows
    return X


def check_same_features(T, X, t_name="T", x_name="X"):
    if T.shape[1] != X.shape[1]:
        raise ValueError(
            f"Incompatible dimension for {t_name} and {x_name} matrices: "
            f"{t_name}.shape[1] == {T.shape[1]} while {x_name}.shape[1] == {X.shape[1]}."
        )


def check_split_every(split_every):
    if isinstance(split_every, bool) or not isinstance(split_every, numbers.Integral) \
            or split_every < 2:
        raise ValueError(f"split_every must be an int >= 2 (how many partial top-k results "
                         f"one merge task combines), got {split_every!r}.")
    return int(split_every)
