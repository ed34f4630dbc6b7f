"""The Euclidean distance with missing values (scikit-learn's ``nan_euclidean``), and the
chunked distance generator that scikit-learn's KNNImputer runs on.

For rows x and y with P the coordinates present in both, of n_features in all,

    dist(x, y) = sqrt(n_features / |P| * sum_{k in P} (x_k - y_k)^2)

and NaN when |P| = 0, as :func:`sklearn.metrics.pairwise.nan_euclidean_distances`
(Dixon, "Pattern Recognition with Partly Missing Data", IEEE SMC 9(10), 1979).
scikit-learn expands the sum as ||x||^2 + ||y||^2 - 2 <x, y> over masked copies (three
matrix products and an integer one for |P|), which loses every digit when x and y are
close; fastml sums the squared differences directly (csrc/nan_euclidean.c: a compiled,
vectorised masked loop, accumulated in float64 for float32 input too), so close rows
get their true small distance, and counts |P| by popcount of the rows' presence bits.
Data whose squares would overflow or underflow float64 are scaled by a power of two
first (fastml.metrics._scaling).

The metric is declared once, in the registry (``fastml.metrics._registry``);
``fastml.metrics.pairwise_distances(metric="nan_euclidean")`` and the patched KNNImputer
(:func:`pairwise_distances_chunked`) both read it from there.
"""
import numbers

import numpy as np
import scipy.sparse as sp
import sklearn.metrics.pairwise as _skp
from sklearn.utils import gen_batches
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._missing import is_scalar_nan

from fastml.metrics import _nan_euclidean_fast as _fast
from fastml.metrics import _scaling
from fastml.utils import check_out, effective_n_threads

# scikit-learn's functions, captured before any patching of sklearn's names
_SK_NAN_EUCLIDEAN = _skp.nan_euclidean_distances
_SK_CHUNKED = _skp.pairwise_distances_chunked

# ----------------------------------------------------------------------------------------
# parameter checks (read by the metric registry)
# ----------------------------------------------------------------------------------------
def check_missing_values(value):
    """``missing_values``: NaN or a real number (scikit-learn's numeric markers)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"missing_values must be np.nan or a real number (the marker of a missing "
            f"entry), got {value!r} of type {type(value).__name__}.")
    return value


def check_bool(name):
    def check(value):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool, got {value!r} of type "
                            f"{type(value).__name__}.")
        return bool(value)
    check.__name__ = f"check_{name}"
    return check


# ----------------------------------------------------------------------------------------
# validated, prepared operands
# ----------------------------------------------------------------------------------------
class _Operands:
    """X and Y validated once (scikit-learn's checks and messages), missing entries as
    NaN, C-contiguous float64, scaled against overflow; Y packed in panels; the presence
    bits of both."""

    def __init__(self, X, Y, missing_values):
        allow = "allow-nan" if is_scalar_nan(missing_values) else True
        sym = Y is None or Y is X
        X, Y = _skp.check_pairwise_arrays(X, None if sym else Y, accept_sparse=False,
                                          ensure_all_finite=allow, copy=False)
        self.sym = sym
        self.dtype = X.dtype  # of the result (float32 for float32 input)
        self.X = self._nan_marked(X, missing_values)
        self.Y = self.X if sym else self._nan_marked(Y, missing_values)
        self.d = X.shape[1]
        big = max(self._max_abs(self.X), 0.0 if sym else self._max_abs(self.Y))
        self.shift = _scaling.safe_shift(big, np.float64, 2, self.d)
        if self.shift:
            self.X = _scaling.scaled(self.X, self.shift)
            self.Y = self.X if sym else _scaling.scaled(self.Y, self.shift)
        self.MX = _fast.presence_bits(self.X)
        self.MY = self.MX if sym else _fast.presence_bits(self.Y)
        self.panels = _fast.pack_panels(self.Y)

    @staticmethod
    def _nan_marked(A, missing_values):
        if not is_scalar_nan(missing_values):
            # a new array: the caller's data are never modified (whatever ``copy`` says)
            A = np.where(A == missing_values, np.nan, A)
        # the sums are computed in float64 (float32 input too)
        return np.ascontiguousarray(A, dtype=np.float64)

    @staticmethod
    def _max_abs(A):
        if A.size == 0:
            return 0.0
        a = np.abs(A)
        return float(np.max(a, initial=0.0, where=~np.isnan(a)))

    def rows(self, i0, i1, out, squared, n_threads):
        """Distances of the rows i0:i1 of X to every row of Y, into out (i1 - i0, m)."""
        _fast.nan_euclidean_block(self.X[i0:i1], self.panels, self.MX[i0:i1], self.MY, out,
                                  float(self.d), squared, n_threads)
        if self.shift:
            _scaling.unscale(out, self.shift, 2 if squared else 1)
        return out


def _block_rows(m):
    """Rows of X per call of the compiled loop: about 4M distances (Ctrl-C is also seen
    between calls); a multiple of the loop's tile rows."""
    tr = _fast.TILE_ROWS
    return max(tr, (4_194_304 // max(1, m)) // tr * tr)


def _usable(X, Y, missing_values):
    """Whether fastml computes this call (dense numeric arrays or lists, a numeric
    marker); else scikit-learn's own function runs (and raises what it raises)."""
    for A in (X, Y):
        if A is None:
            continue
        if sp.issparse(A) or not isinstance(A, (np.ndarray, list, tuple)):
            return False
        if isinstance(A, np.ndarray) and A.dtype.kind not in "fiub":
            return False
    try:
        check_missing_values(missing_values)
    except TypeError:
        return False
    return True


def nan_euclidean_distances(X, Y=None, *, squared=False, missing_values=np.nan, copy=True,
                            n_jobs=None, out=None):
    """Euclidean distances in the presence of missing values.

    A drop-in for :func:`sklearn.metrics.pairwise.nan_euclidean_distances` (same
    parameters, results and errors): coordinates missing in either row are ignored and
    the remaining ones weighted up, ``dist(x, y) = sqrt(n_features / n_present * sum of
    the squared differences over the coordinates present in both)``; NaN when no
    coordinate is present in both. Summed directly (no cancellation for close rows),
    in float64 for float32 input too; the results do not depend on ``n_jobs``.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
    Y : array-like of shape (n_samples_Y, n_features), default=None
        None: X with itself.
    squared : bool, default=False
        Return the squared distances.
    missing_values : np.nan, float or int, default=np.nan
        The marker of a missing entry.
    copy : bool, default=True
        Accepted for compatibility: fastml never modifies X or Y (scikit-learn may, with
        ``copy=False``).
    n_jobs : int, default=None
        Threads; None uses every usable core.
    out : ndarray, default=None
        An array of the result's shape and dtype, filled and returned.

    Returns
    -------
    distances : ndarray of shape (n_samples_X, n_samples_Y)
        float32 for float32 input, else float64.

    Examples
    --------
    >>> from fastml.metrics._nan_euclidean import nan_euclidean_distances
    >>> nan = float("NaN")
    >>> nan_euclidean_distances([[0, 1], [1, nan]])
    array([[0.        , 1.41421356],
           [1.41421356, 0.        ]])
    """
    squared = check_bool("squared")(squared)
    check_bool("copy")(copy)
    if not _usable(X, Y, missing_values):
        D = _SK_NAN_EUCLIDEAN(X, Y, squared=squared, missing_values=missing_values,
                              copy=copy)
        if out is not None:
            out = check_out(out, D.shape, D.dtype)
            out[...] = D
            return out
        return D
    ops = _Operands(X, Y, missing_values)
    n, m = ops.X.shape[0], ops.Y.shape[0]
    out = check_out(out, (n, m), ops.dtype)
    n_threads = effective_n_threads(n_jobs)
    step = _block_rows(m)
    for i0 in range(0, n, step):
        i1 = min(n, i0 + step)
        ops.rows(i0, i1, out[i0:i1], squared, n_threads)
    return out


def no_plan(prm):
    """nan_euclidean has no plan of fastml.metrics._plans: its route computes it
    (:func:`matrix`) and fastml's kNN engine does not rank by it."""
    raise ValueError("nan_euclidean is computed by fastml.metrics._nan_euclidean, not by "
                     "a plan of the kNN engine.")


no_plan.__name__ = "nan_euclidean"


def matrix(X, Y, out, prm, n_threads):
    """The registry's matrix routine (X, Y as given: this metric validates its own input,
    NaN being data here)."""
    return nan_euclidean_distances(X, Y, n_jobs=n_threads, out=out, **prm)


def pairwise_distances_chunked(X, Y=None, *, reduce_func=None, metric="euclidean",
                               n_jobs=None, working_memory=None, **kwds):
    """:func:`sklearn.metrics.pairwise_distances_chunked`, with ``metric="nan_euclidean"``
    on dense data computed by fastml (X and Y validated and prepared once, not per
    chunk; the same chunks as scikit-learn's); everything else runs scikit-learn's own
    function. This is what ``patch_sklearn()`` gives scikit-learn's KNNImputer.

    ``n_jobs``: None uses every usable core (scikit-learn's default is one job).

    Examples
    --------
    >>> import numpy as np
    >>> from fastml.metrics._nan_euclidean import pairwise_distances_chunked
    >>> X = np.array([[0.0, np.nan], [3.0, 4.0]])
    >>> next(pairwise_distances_chunked(X, metric="nan_euclidean"))
    array([[0.        , 4.24264069],
           [4.24264069, 0.        ]])
    """
    params = {k: v for k, v in kwds.items() if k != "ensure_all_finite"}
    missing_values = params.get("missing_values", np.nan)
    fast = (isinstance(metric, str) and metric == "nan_euclidean"
            and set(params) <= {"missing_values", "squared", "copy"}
            and isinstance(params.get("squared", False), (bool, np.bool_))
            and isinstance(params.get("copy", True), (bool, np.bool_))
            and (reduce_func is None or callable(reduce_func))
            and (working_memory is None or (isinstance(working_memory, numbers.Real)
                                            and not isinstance(working_memory, bool)
                                            and working_memory >= 0))
            and (n_jobs is None or (isinstance(n_jobs, numbers.Integral)
                                    and not isinstance(n_jobs, bool)))
            and _usable(X, Y, missing_values))
    if not fast:
        return _SK_CHUNKED(X, Y, reduce_func=reduce_func, metric=metric, n_jobs=n_jobs,
                           working_memory=working_memory, **kwds)
    # validated and prepared now (errors at the call, as scikit-learn's); computed lazily
    return _chunks(_Operands(X, Y, missing_values), bool(params.get("squared", False)),
                   reduce_func, n_jobs, working_memory)


def _chunks(ops, squared, reduce_func, n_jobs, working_memory):
    n, m = ops.X.shape[0], ops.Y.shape[0]
    n_threads = effective_n_threads(n_jobs)
    chunk_n_rows = get_chunk_n_rows(row_bytes=8 * m, max_n_rows=n,
                                    working_memory=working_memory)
    step = _block_rows(m)
    for sl in gen_batches(n, chunk_n_rows):
        D_chunk = np.empty((sl.stop - sl.start, m), dtype=ops.dtype)
        for i0 in range(sl.start, sl.stop, step):
            i1 = min(sl.stop, i0 + step)
            ops.rows(i0, i1, D_chunk[i0 - sl.start:i1 - sl.start], squared, n_threads)
        if reduce_func is not None:
            chunk_size = D_chunk.shape[0]
            D_chunk = reduce_func(D_chunk, sl.start)
            _skp._check_chunk_size(D_chunk, chunk_size)
        yield D_chunk
