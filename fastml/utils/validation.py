"""Validation at the boundary: everything the compiled loops rely on is checked here.

The Cython code runs with bounds checks off, so these helpers guarantee 2-D,
C-contiguous, finite, non-empty float32/float64 arrays (or canonical CSR matrices) with
matching feature counts before any compiled loop sees them. Messages follow
``sklearn/utils/validation.py``: what was given, what was expected, what to do.
"""
import functools
import numbers

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.utils import check_array

FLOAT_DTYPES = (np.float64, np.float32)


def result_dtype(*arrays, mixed="promote", names=None):
    """fastml's one dtype rule: float32 when every given array (or dtype) is float32, else
    float64 (scikit-learn's rule for its pairwise functions); None entries are skipped and
    nothing given means float64. Kernels, distances, neighbour searches, fastml.dask and
    the network layers all read it.

    ``mixed="raise"``: arrays of different dtypes raise a TypeError naming them
    (``names``, one per array) instead of promoting: the network layers take that choice,
    since promoting float32 activations against float64 weights would silently double
    the memory and time of every later layer.
    """
    if mixed not in ("promote", "raise"):
        raise ValueError(f"mixed must be 'promote' or 'raise', got {mixed!r}.")
    given = [(i, a) for i, a in enumerate(arrays) if a is not None]
    dtypes = [np.dtype(getattr(a, "dtype", a)) for _, a in given]
    if mixed == "raise" and len(set(dtypes)) > 1:
        label = [names[i] if names is not None else f"array {i}" for i, _ in given]
        desc = ", ".join(f"{n} is {d}" for n, d in zip(label, dtypes))
        raise TypeError(f"Mixed floating dtypes: {desc}. Pass all arrays as float32 or all "
                        "as float64 (e.g. with .astype(np.float32)).")
    if dtypes and all(d == np.float32 for d in dtypes):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def aligned(A):
    """A itself when its items are aligned for their type, else an aligned copy. numpy
    arrays can sit at any byte offset (``np.frombuffer(..., offset=1)``, fields of packed
    records, buffers received by Dask workers); compiled loops assume aligned items (C
    makes misaligned loads undefined, and vectorised loops may fault on them)."""
    if A is None:
        return None
    if sp.issparse(A):
        for attr in ("data", "indices", "indptr"):
            part = getattr(A, attr, None)
            if isinstance(part, np.ndarray) and not part.flags.aligned:
                setattr(A, attr, part.copy())
        return A
    if isinstance(A, np.ndarray) and not A.flags.aligned:
        return A.copy(order="K")
    return A


def _plain_float_array(A, dtype):
    """A itself when it is already what check_array would return (a 2-D, non-empty,
    C-contiguous, aligned ndarray of a native float dtype wanted here, finite or not
    checked), else None: the common call skips check_array's fixed cost."""
    if type(A) is not np.ndarray or A.ndim != 2 or not A.flags.c_contiguous \
            or not A.flags.aligned or A.shape[0] < 1 or A.shape[1] < 1:
        return None
    if dtype is None:
        if A.dtype != np.float64 and A.dtype != np.float32:
            return None
    elif A.dtype != dtype:
        return None
    if not get_config()["assume_finite"]:
        with np.errstate(over="ignore", invalid="ignore"):
            if not np.isfinite(A.sum()):  # as check_array; it then finds and names the value
                return None
    return A


def _is_foreign_array(A):
    """True for an array of another library (a torch tensor, a CuPy or JAX array, ...):
    it speaks DLPack but is neither a numpy array nor a scipy sparse matrix. pandas and
    lists are not: check_array converts them itself."""
    return (hasattr(A, "__dlpack__") and not isinstance(A, (np.ndarray, np.generic))
            and not sp.issparse(A))


def as_numpy(A):
    """``A`` as a numpy array when it is an array of another library (a CPU torch tensor
    is viewed without a copy; an array on another device is copied to the host), else
    ``A`` unchanged. numpy's own dtypes are what every check below reads."""
    if not _is_foreign_array(A):
        return A
    try:
        return np.asarray(A)
    except (TypeError, RuntimeError, ValueError):
        if hasattr(A, "cpu"):  # torch on an accelerator
            return np.asarray(A.detach().cpu())
        if hasattr(A, "get"):  # CuPy
            return np.asarray(A.get())
        raise


def follow_array_namespace(func):
    """Wrap a public function so that, under
    ``sklearn.config_context(array_api_dispatch=True)``, arrays of another library (torch,
    CuPy, array-api-strict, ...) give results in that namespace and on that device, as
    scikit-learn's own functions do: the work runs on numpy views of the inputs and the
    results are converted back. Without array API dispatch (the default), the results
    are numpy arrays whatever the inputs, again as in scikit-learn."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if not get_config().get("array_api_dispatch", False):
            return func(*args, **kwargs)
        foreign = [a for a in (*args, *kwargs.values()) if _is_foreign_array(a)]
        if not foreign:
            return func(*args, **kwargs)
        from sklearn.utils._array_api import get_namespace_and_device

        xp, _, device = get_namespace_and_device(*foreign)
        args = [as_numpy(a) for a in args]
        kwargs = {k: as_numpy(v) for k, v in kwargs.items()}
        result = func(*args, **kwargs)

        def back(r):
            if isinstance(r, np.ndarray):
                return xp.asarray(r, device=device)
            if isinstance(r, tuple):
                return tuple(back(x) for x in r)
            return r

        return back(result)

    return wrapper


def _check_one(A, name, accept_sparse, dtype):
    fast = _plain_float_array(A, dtype)
    if fast is not None:
        return fast
    A = as_numpy(A)  # torch tensors and other libraries' arrays: numpy dtypes from here
    if A is None:
        raise TypeError(f"{name} must be an array-like of shape (n_samples, n_features), got None.")
    if isinstance(A, (str, bytes)):
        raise TypeError(
            f"{name} must be a 2-D numeric array-like of shape (n_samples, n_features), "
            f"got a {type(A).__name__}."
        )
    if sp.issparse(A) and not accept_sparse:
        raise TypeError(
            f"{name} is a sparse matrix, but this function needs dense input; "
            "use X.toarray() or a kernel that accepts CSR input "
            "(fastml.metrics.CSR_KERNELS lists them)."
        )
    dt = getattr(A, "dtype", None)
    if dt is not None and dt.kind in "cUSO" and not sp.issparse(A):
        if dt.kind == "c":
            raise TypeError(f"{name} has complex dtype {dt}; fastml kernels need real numbers.")
        if dt.kind in "US":
            raise TypeError(
                f"{name} holds strings (dtype {dt}); numeric kernels need numbers. "
                "For text use fastml.text.string_kernel."
            )
    A = check_array(
        A,
        accept_sparse="csr" if accept_sparse else False,
        dtype=list(FLOAT_DTYPES) if dtype is None else dtype,
        order="C",
        ensure_all_finite=True,
        ensure_2d=True,
        allow_nd=False,
        ensure_min_samples=1,
        ensure_min_features=1,
        input_name=name,
    )
    if sp.issparse(A):
        # a new matrix object (sharing the arrays): the caller's matrix is never modified
        A = sp.csr_matrix((A.data, A.indices, A.indptr), shape=A.shape) \
            if isinstance(A, sp.csr_matrix) else sp.csr_matrix(A)
        if not A.has_canonical_format:
            A = A.copy()
            A.sum_duplicates()  # also sorts the indices
        wants_int32 = A.indices.dtype != np.int32 and A.nnz < 2**31 and A.shape[1] < 2**31
        if wants_int32:
            A.indices = A.indices.astype(np.int32)
        A.indptr = A.indptr.astype(np.int64, copy=False)
        A.data = np.ascontiguousarray(A.data)
    return aligned(A)


def check_kernel_input(X, Y=None, *, accept_sparse=False, dtype=None, x_name="X", y_name="Y"):
    """Validate the inputs of a pairwise function.

    Returns ``(X, Y, dtype)``: both float32 when both were float32, otherwise both float64
    (integers and booleans are converted once, here); ``Y`` is None when it was None.
    ``dtype`` forces a result dtype instead.
    """
    X = _check_one(X, x_name, accept_sparse, dtype)
    if Y is None:
        out_dtype = np.dtype(X.dtype) if dtype is None else np.dtype(dtype)
        return X, None, out_dtype
    Y = _check_one(Y, y_name, accept_sparse, dtype)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"Incompatible dimension for {x_name} and {y_name} matrices: "
            f"{x_name}.shape[1] == {X.shape[1]} while {y_name}.shape[1] == {Y.shape[1]}."
        )
    out_dtype = result_dtype(X, Y) if dtype is None else np.dtype(dtype)
    if X.dtype != out_dtype:
        X = X.astype(out_dtype)
    if Y.dtype != out_dtype:
        Y = Y.astype(out_dtype)
    return X, Y, out_dtype


def check_non_negative(A, name, what):
    """Raise a ValueError naming ``name`` if ``A`` (dense or sparse) has a negative entry."""
    data = A.data if sp.issparse(A) else A
    if data.size and data.min() < 0:
        raise ValueError(
            f"{name} contains negative values, but the {what} is only defined on "
            "non-negative data (histograms, counts, pixel intensities). "
            f"Shift or rescale {name} first."
        )


def check_out(out, shape, dtype, *inputs):
    """Check a caller's ``out=`` array; return it, or a new empty array when None."""
    shape = tuple(int(s) for s in shape)
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}.")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}, but the result has shape {shape}.")
    if out.dtype != dtype:
        raise ValueError(
            f"out has dtype {out.dtype}, but the result has dtype {np.dtype(dtype)} "
            "(float32 inputs give float32, anything else float64)."
        )
    if not out.flags.c_contiguous or not out.flags.writeable or not out.flags.aligned:
        raise ValueError("out must be a writeable, C-contiguous, aligned array "
                         "(np.empty gives one).")
    for A in inputs:
        parts = ([A.data, getattr(A, "indices", None), getattr(A, "indptr", None)]
                 if sp.issparse(A) else [A])
        for P in parts:
            if isinstance(P, np.ndarray) and np.shares_memory(out, P):
                raise ValueError("out must not share memory with the inputs (for a sparse "
                                 "input: its data, indices or indptr); pass a new array.")
    return out


def check_scalar_range(value, name, *, low=None, high=None, low_inclusive=True,
                       high_inclusive=True, allow_none=False, integer=False):
    """Check a real (or integer) parameter against a range; return it as float/int."""
    if value is None and allow_none:
        return None
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "an int" if integer else "a real number"
        raise TypeError(f"{name} must be {what}, got {value!r} of type {type(value).__name__}.")
    if not integer and not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    bad_low = low is not None and (value < low if low_inclusive else value <= low)
    bad_high = high is not None and (value > high if high_inclusive else value >= high)
    if bad_low or bad_high:
        lo = "-inf" if low is None else repr(low)
        hi = "inf" if high is None else repr(high)
        lb = "[" if low_inclusive and low is not None else "("
        hb = "]" if high_inclusive and high is not None else ")"
        raise ValueError(f"{name} must be in {lb}{lo}, {hi}{hb}, got {value!r}.")
    return int(value) if integer else float(value)


def check_positive_int(value, name):
    return check_scalar_range(value, name, low=1, integer=True)
