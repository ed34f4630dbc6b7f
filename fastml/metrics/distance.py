"""Distances between numeric vectors, strings and sequences, and the k-nearest-neighbour
search that :mod:`fastml.neighbors` builds on.

Numeric metrics (rows of 2-D arrays; float32 stays float32, anything else is float64):

=================  ====================================================================
``euclidean``      ``sqrt(sum (x - y)^2)`` (alias ``l2``): GEMM, entries that lost digits
                   to cancellation recomputed exactly
``sqeuclidean``    ``sum (x - y)^2``
``manhattan``      ``sum |x - y|`` (aliases ``cityblock``, ``l1``)
``minkowski``      ``(sum |x - y|^p)^(1/p)``, ``p >= 1`` (``p=inf`` is Chebyshev)
``chebyshev``      ``max |x - y|``
``cosine``         ``1 - <x, y> / (||x|| ||y||)`` (a zero row has similarity 0, as in
                   scikit-learn, where scipy gives NaN)
``hamming``        fraction of differing components (as scipy); 0/1 or boolean data is
                   packed into 64-bit words and compared with popcount
=================  ====================================================================

String and sequence metrics (``X``, ``Y`` are sequences of items):

=================  ====================================================================
``levenshtein``    edit distance with unit costs between ``str`` (compared by Unicode
                   code point) or 1-D integer arrays; an integer (int32) result
``hamming``        on ``str`` items of one common length: fraction of differing
                   positions
``dtw``            dynamic time warping between 1-D (n,) or 2-D (n, dim) float arrays:
                   the least sum of Euclidean frame distances over a warping path;
                   ``window=w`` (Sakoe-Chiba band) keeps ``|i - j| <= max(w, |n - m|)``
=================  ====================================================================

``n_jobs`` has scikit-learn's meaning; results do not depend on it.
"""
import numbers

import numpy as np

from fastml.metrics import _distances as _dist
from fastml.metrics import _pairwise_fast as _fast
from fastml.utils import (
    blas_threads,
    check_kernel_input,
    check_out,
    check_positive_int,
    effective_n_threads,
)

__all__ = [
    "DISTANCE_METRICS",
    "dtw",
    "levenshtein",
    "pairwise_distances",
]

_ALIASES = {"cityblock": "manhattan", "l1": "manhattan", "l2": "euclidean"}
NUMERIC_METRICS = ("euclidean", "sqeuclidean", "manhattan", "minkowski", "chebyshev",
                   "cosine", "hamming")
SEQUENCE_METRICS = ("levenshtein", "hamming", "dtw")
#: every metric name pairwise_distances and fastml.neighbors accept
DISTANCE_METRICS = tuple(sorted(set(NUMERIC_METRICS) | set(SEQUENCE_METRICS) | set(_ALIASES)))
_PARAMS = {"minkowski": ("p",), "dtw": ("window",)}

# Chunk sizes of the k-nearest-neighbour search (rows of queries x rows of train): the
# scratch per thread is bx * by values whatever the data size.
_GEMM_CHUNKS = (512, 2048)
_TILE_BYTES = 256 * 1024


# ----------------------------------------------------------------------------------------
# metric and parameter checks
# ----------------------------------------------------------------------------------------
def _check_metric(metric, params):
    """Canonical metric name and its checked parameters."""
    if not isinstance(metric, str):
        raise TypeError(
            f"metric must be a str, one of {list(DISTANCE_METRICS)}; got {metric!r} of "
            f"type {type(metric).__name__}."
        )
    name = _ALIASES.get(metric, metric)
    if name not in NUMERIC_METRICS and name not in SEQUENCE_METRICS:
        raise ValueError(f"Unknown metric {metric!r}; expected one of {list(DISTANCE_METRICS)}.")
    allowed = _PARAMS.get(name, ())
    extra = sorted(set(params) - set(allowed))
    if extra:
        raise TypeError(
            f"metric={metric!r} got unexpected parameter(s) {extra}; it takes "
            f"{list(allowed) if allowed else 'no parameters'}."
        )
    out = {}
    if name == "minkowski":
        out["p"] = _check_p(params.get("p", 2))
    if name == "dtw":
        out["window"] = _check_window(params.get("window", None))
    return name, out


def _check_p(p):
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"p must be a real number >= 1, got {p!r} of type {type(p).__name__}.")
    p = float(p)
    if np.isnan(p) or p < 1:
        raise ValueError(
            f"p must be >= 1 for the Minkowski distance, got p={p!r} (for p < 1 the "
            "triangle inequality fails: it is not a metric)."
        )
    return p


def _check_window(window):
    if window is None:
        return -1
    if isinstance(window, bool) or not isinstance(window, numbers.Integral):
        raise TypeError(
            f"window must be None or a non-negative int, got {window!r} of type "
            f"{type(window).__name__}."
        )
    if window < 0:
        raise ValueError(f"window must be None or >= 0 (a Sakoe-Chiba band), got {window}.")
    return int(window)


# ----------------------------------------------------------------------------------------
# what kind of data is this?
# ----------------------------------------------------------------------------------------
def _holds_strings(X):
    """True if X is a sequence whose items are str (or a numpy str array)."""
    if isinstance(X, np.ndarray):
        return X.dtype.kind in "US" or (X.dtype.kind == "O" and X.size > 0
                                        and isinstance(X.flat[0], str))
    if isinstance(X, (list, tuple)) and len(X) > 0:
        return isinstance(X[0], str)
    return False


def _check_sequence_container(X, name, metric):
    if X is None:
        raise TypeError(f"{name} must be a sequence of items for metric={metric!r}, got None.")
    if isinstance(X, (str, bytes)):
        raise TypeError(
            f"{name} is a single {type(X).__name__}; metric={metric!r} needs a sequence "
            f"of items, e.g. [{X!r}]."
        )
    if isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind not in "OUS":
        items = list(X)
    else:
        try:
            items = list(X)
        except TypeError:
            raise TypeError(
                f"{name} must be a sequence (list, tuple, 1-D array) of items for "
                f"metric={metric!r}, got {type(X).__name__}."
            ) from None
    if len(items) == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape=(0,)) while a minimum of 1 is required "
            f"by {name} for metric={metric!r}."
        )
    return items


def _encode_symbols(X, Y, names=("X", "Y"), metric="levenshtein"):
    """Levenshtein input -> ((symbols uint32, offsets int64) for X, same for Y or None).

    ``str`` items become their code points; 1-D integer arrays are mapped jointly (X and
    Y together) to dense uint32 codes, so any integer values work.
    """
    groups = [_check_sequence_container(A, nm, metric) for A, nm in zip((X, Y), names)
              if A is not None]
    first = groups[0][0]
    if isinstance(first, str):
        for items, nm in zip(groups, names):
            for i, s in enumerate(items):
                if not isinstance(s, str):
                    raise TypeError(
                        f"{nm}[{i}] is a {type(s).__name__}, but {nm}[0] is a str: "
                        f"metric={metric!r} compares items of one kind, all str or all "
                        "1-D integer arrays."
                    )
        out = []
        for items in groups:
            lens = np.fromiter((len(s) for s in items), dtype=np.int64, count=len(items))
            off = np.zeros(len(items) + 1, dtype=np.int64)
            np.cumsum(lens, out=off[1:])
            sym = np.frombuffer("".join(items).encode("utf-32-le", "surrogatepass"),
                                dtype=np.uint32)
            out.append((np.ascontiguousarray(sym), off))
        return out[0], (out[1] if len(out) > 1 else None)
    arrays = []
    for items, nm in zip(groups, names):
        conv = []
        for i, s in enumerate(items):
            if isinstance(s, str):
                raise TypeError(
                    f"{nm}[{i}] is a str, but {names[0]}[0] is not: metric={metric!r} "
                    "compares items of one kind, all str or all 1-D integer arrays."
                )
            a = np.asarray(s)
            if a.ndim != 1 or a.dtype.kind not in "iub":
                raise TypeError(
                    f"{nm}[{i}] must be a str or a 1-D integer array for "
                    f"metric={metric!r}, got {type(s).__name__}"
                    + (f" with dtype {a.dtype} and shape {a.shape}" if a.dtype.kind != "O"
                       else "") + "."
                )
            conv.append(a.astype(np.int64, copy=False))
        arrays.append(conv)
    lens = [np.array([len(a) for a in conv], dtype=np.int64) for conv in arrays]
    flat = np.concatenate([a for conv in arrays for a in conv] or [np.zeros(0, np.int64)])
    _, codes = np.unique(flat, return_inverse=True)
    codes = codes.astype(np.uint32).ravel()
    out, pos = [], 0
    for ln in lens:
        off = np.zeros(len(ln) + 1, dtype=np.int64)
        np.cumsum(ln, out=off[1:])
        out.append((np.ascontiguousarray(codes[pos:pos + off[-1]]), off))
        pos += off[-1]
    return out[0], (out[1] if len(out) > 1 else None)


def _encode_frames(X, Y, names=("X", "Y")):
    """DTW input -> ((frames (N, dim), offsets) for X, same for Y or None), one dtype."""
    groups = [_check_sequence_container(A, nm, "dtw") for A, nm in zip((X, Y), names)
              if A is not None]
    conv_groups, dims, all32 = [], set(), True
    for items, nm in zip(groups, names):
        conv = []
        for i, s in enumerate(items):
            if isinstance(s, (str, bytes)):
                raise TypeError(f"{nm}[{i}] is a str; metric='dtw' compares numeric "
                                "sequences (1-D or 2-D float arrays).")
            a = np.asarray(s)
            if a.dtype.kind not in "fiub":
                raise TypeError(f"{nm}[{i}] has dtype {a.dtype}; metric='dtw' needs real "
                                "numbers.")
            if a.ndim == 1:
                a = a[:, None]
            if a.ndim != 2:
                raise ValueError(f"{nm}[{i}] has shape {a.shape}; metric='dtw' needs 1-D "
                                 "(n,) or 2-D (n, dim) sequences.")
            if a.shape[0] == 0 or a.shape[1] == 0:
                raise ValueError(f"{nm}[{i}] is empty (shape {a.shape}); DTW needs at least "
                                 "one frame of at least one value.")
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{nm}[{i}] contains NaN or infinity.")
            all32 = all32 and a.dtype == np.float32
            dims.add(a.shape[1])
            conv.append(a)
        conv_groups.append(conv)
    if len(dims) > 1:
        raise ValueError(f"All sequences must have frames of one size for metric='dtw'; "
                         f"found frame sizes {sorted(dims)}.")
    dtype = np.float32 if all32 else np.float64
    out = []
    for conv in conv_groups:
        off = np.zeros(len(conv) + 1, dtype=np.int64)
        np.cumsum([a.shape[0] for a in conv], out=off[1:])
        frames = np.ascontiguousarray(np.concatenate(conv).astype(dtype, copy=False))
        out.append((frames, off))
    return out[0], (out[1] if len(out) > 1 else None)


def _string_codes_matrix(X, Y, names=("X", "Y")):
    """Equal-length strings -> float32 (n, L) code-point matrices (exact below 2^24)."""
    out, L = [], None
    for A, nm in zip((X, Y), names):
        if A is None:
            out.append(None)
            continue
        items = _check_sequence_container(A, nm, "hamming")
        for i, s in enumerate(items):
            if not isinstance(s, str):
                raise TypeError(f"{nm}[{i}] is a {type(s).__name__}; metric='hamming' on "
                                "strings needs every item to be a str.")
            if L is None:
                L = len(s)
            elif len(s) != L:
                raise ValueError(
                    f"{nm}[{i}] has length {len(s)} but the strings before it have length "
                    f"{L}: the Hamming distance needs strings of equal length (use "
                    "metric='levenshtein' for strings of different lengths)."
                )
        sym = np.frombuffer("".join(items).encode("utf-32-le", "surrogatepass"),
                            dtype=np.uint32)
        out.append(np.ascontiguousarray(sym.reshape(len(items), L).astype(np.float32)))
    return out[0], out[1], L


def _reject_strings_for_numeric(X, name, metric):
    strings = _holds_strings(X)
    if not strings and isinstance(X, (list, tuple)) and len(X) and isinstance(
            X[0], (list, tuple)) and len(X[0]) and isinstance(X[0][0], str):
        strings = True  # rows of str
    if strings:
        raise TypeError(
            f"{name} holds strings, but metric={metric!r} is numeric. For strings use "
            "metric='levenshtein' (any lengths) or metric='hamming' (equal lengths)."
        )


def _is_binary(A):
    return bool(np.all((A == 0) | (A == 1)))


def _pack_bits(A):
    """0/1 rows -> rows of 64-bit words (bit-packed, zero-padded)."""
    b = np.packbits(A.astype(bool, copy=False), axis=1)
    pad = (-b.shape[1]) % 8
    if pad or b.shape[1] == 0:
        b = np.concatenate([b, np.zeros((b.shape[0], pad or 8), dtype=np.uint8)], axis=1)
    return np.ascontiguousarray(b).view(np.uint64)


def _packed_hamming_matrix(X, Y, sym, out, n_threads):
    """Hamming fractions of 0/1 rows by popcount, in blocks of rows (an int32 block of
    counts at a time, never a second full matrix)."""
    d = X.shape[1]
    Xb = _pack_bits(X)
    Yt = _groups_of_8(Xb if sym else _pack_bits(Y))
    m = Y.shape[0]
    step = max(256, 64 * n_threads)
    tmp = np.empty((min(step, X.shape[0]), m), dtype=np.int32)
    for i0 in range(0, X.shape[0], step):
        i1 = min(X.shape[0], i0 + step)
        t = tmp[: i1 - i0]
        _dist.hamming_packed_matrix(Xb[i0:i1], Yt, m, t, 16, n_threads)
        np.divide(t, d, out=out[i0:i1], casting="unsafe")
    return out


def _groups_of_8(Pb):
    """Packed rows (m, w) -> word-major groups of 8 rows (ceil(m / 8), 8 w), zero-padded:
    the layout of fastml_hamming_packed_t8."""
    m, w = Pb.shape
    pad = (-m) % 8
    if pad:
        Pb = np.concatenate([Pb, np.zeros((pad, w), dtype=np.uint64)])
    return np.ascontiguousarray(Pb.reshape(-1, 8, w).transpose(0, 2, 1)).reshape(-1, 8 * w)


def _minkowski_op(p):
    """(op, root) for the Minkowski reductions with a dedicated tile, else (None, p)."""
    if p == 1:
        return _fast.OP_L1, 1.0
    if p == 2:
        return _fast.OP_SQL2, 2.0
    if p == 3:
        return _fast.OP_L3, 3.0
    if p == 4:
        return _fast.OP_L4, 4.0
    if np.isinf(p):
        return _fast.OP_LINF, 1.0
    return None, p


def _tile_chunks(d, itemsize):
    by = _TILE_BYTES // max(1, d * itemsize)
    by = int(min(512, max(16, (by // 4) * 4)))
    return 64, by


# ----------------------------------------------------------------------------------------
# full matrices
# ----------------------------------------------------------------------------------------
def pairwise_distances(X, Y=None, metric="euclidean", *, n_jobs=None, out=None, **params):
    """Distance matrix between the items of X and Y (``Y=None``: X with itself).

    Parameters
    ----------
    X : array-like (n, d) for numeric metrics; a sequence of str / 1-D integer arrays
        (``levenshtein``), of equal-length str (``hamming``) or of 1-D / 2-D float
        arrays (``dtw``).
    Y : the same kind as X, or None.
    metric : str, see the module docstring (``fastml.metrics.distance``).
    n_jobs : int or None, threads (scikit-learn's meaning).
    out : ndarray of the result's shape and dtype, filled instead of a new array.
    **params : ``p`` for minkowski (default 2), ``window`` for dtw (default None).

    Returns
    -------
    ndarray (n, m): float32 for float32 input, int32 for levenshtein, else float64.
    """
    name, prm = _check_metric(metric, params)
    n_threads = effective_n_threads(n_jobs)
    if Y is X:
        Y = None
    if name == "levenshtein":
        (xs, xo), yenc = _encode_symbols(X, Y)
        sym = yenc is None
        ys, yo = (xs, xo) if sym else yenc
        out = check_out(out, (len(xo) - 1, len(yo) - 1), np.int32)
        _dist.levenshtein_matrix(xs, xo, ys, yo, out, sym, n_threads)
        return out
    if name == "dtw":
        (xs, xo), yenc = _encode_frames(X, Y)
        sym = yenc is None
        ys, yo = (xs, xo) if sym else yenc
        out = check_out(out, (len(xo) - 1, len(yo) - 1), xs.dtype)
        _dist.dtw_matrix(xs, xo, ys, yo, out, prm["window"], sym, n_threads)
        return out
    if name == "hamming" and _holds_strings(X):
        A, B, L = _string_codes_matrix(X, Y)
        sym = B is None
        out = check_out(out, (A.shape[0], A.shape[0] if sym else B.shape[0]), np.float64)
        tmp = np.empty(out.shape, dtype=np.float32)
        if L == 0:
            out[...] = 0
            return out
        _fast.reduce_dense(A, A if sym else B, tmp, _fast.OP_NEQ, _fast.POST_NONE, 0.0, sym,
                           n_threads)
        out[...] = tmp  # exact counts (float32 holds integers below 2^24)
        out /= L
        return out
    _reject_strings_for_numeric(X, "X", metric)
    if Y is not None:
        _reject_strings_for_numeric(Y, "Y", metric)
    if name == "hamming":
        Xb, Yb = _as_bool_2d(X), (None if Y is None else _as_bool_2d(Y))
        if Xb is not None and Xb.size and (Y is None or (Yb is not None and Yb.size)):
            if Yb is not None and Yb.shape[1] != Xb.shape[1]:
                raise ValueError(
                    f"Incompatible dimension for X and Y matrices: X.shape[1] == "
                    f"{Xb.shape[1]} while Y.shape[1] == {Yb.shape[1]}.")
            m = Xb.shape[0] if Yb is None else Yb.shape[0]
            out = check_out(out, (Xb.shape[0], m), np.float64, X, Y)
            return _packed_hamming_matrix(Xb, Xb if Yb is None else Yb, Yb is None, out,
                                          n_threads)
    X, Y, dtype = check_kernel_input(X, Y)
    sym = Y is None
    Yv = X if sym else Y
    out = check_out(out, (X.shape[0], Yv.shape[0]), dtype, X, Y)
    d = X.shape[1]
    if name in ("euclidean", "sqeuclidean") or (name == "minkowski" and prm["p"] == 2):
        xx = np.einsum("ij,ij->i", X, X)
        yy = xx if sym else np.einsum("ij,ij->i", Yv, Yv)
        with blas_threads(1):
            bx, _ = _chunks(X.shape[0], n_threads, 256, 0, parts=4, multiple=16)
            _dist.sqeuclidean_matrix(X, Yv, xx, yy, out, bx, n_threads)
        if sym:
            np.fill_diagonal(out, 0)
        if name != "sqeuclidean":
            np.sqrt(out, out=out)
        return out
    if name == "cosine":
        from fastml.metrics.pairwise import cosine_similarity

        cosine_similarity(X, Y, n_jobs=n_jobs, out=out)
        np.subtract(1, out, out=out)
        np.clip(out, 0, 2, out=out)
        if sym:
            np.fill_diagonal(out, 0)
        return out
    if name == "hamming" and _is_binary(X) and _is_binary(Yv):
        return _packed_hamming_matrix(X, Yv, sym, out, n_threads)
    if name == "hamming":
        op, root = _fast.OP_NEQ, 1.0
    elif name == "manhattan":
        op, root = _fast.OP_L1, 1.0
    elif name == "chebyshev":
        op, root = _fast.OP_LINF, 1.0
    else:
        op, root = _minkowski_op(prm["p"])
    if op is None:
        _dist.lp_matrix(X, Yv, out, root, 16, n_threads)
    else:
        _fast.reduce_dense(X, Yv, out, op, _fast.POST_NONE, 0.0, sym, n_threads)
    if name == "hamming":
        out /= d
    elif root == 2.0:
        np.sqrt(out, out=out)
    elif root != 1.0:
        np.power(out, 1.0 / root, out=out)
    return out


# ----------------------------------------------------------------------------------------
# one pair
# ----------------------------------------------------------------------------------------
def levenshtein(a, b):
    """Levenshtein (edit) distance between two str, or two 1-D integer sequences: the least
    number of single-symbol insertions, deletions and substitutions turning a into b."""
    if isinstance(a, str) != isinstance(b, str):
        raise TypeError(
            f"a and b must both be str or both be 1-D integer sequences, got "
            f"{type(a).__name__} and {type(b).__name__}."
        )
    (xs, xo), (ys, yo) = _encode_symbols([a], [b], names=("a", "b"))
    return _dist.levenshtein_pair(xs, ys)


def dtw(a, b, *, window=None):
    """Dynamic time warping distance between two sequences of 1-D (n,) or 2-D (n, dim)
    float arrays (the least sum of Euclidean frame distances along a warping path)."""
    window = _check_window(window)
    (xs, xo), (ys, yo) = _encode_frames([a], [b], names=("a", "b"))
    out = np.empty((1, 1), dtype=xs.dtype)
    _dist.dtw_matrix(xs, xo, ys, yo, out, window, False, 1)
    return float(out[0, 0])


# ----------------------------------------------------------------------------------------
# k nearest neighbours (used by fastml.neighbors)
# ----------------------------------------------------------------------------------------
def check_fit_data(X, metric, params, name="X"):
    """Validate training data for ``metric``; returns it in the form kneighbors takes
    (a float array for numeric metrics, a list of items for sequence metrics)."""
    name_, prm = _check_metric(metric, params)
    if name_ in ("levenshtein", "dtw") or (name_ == "hamming" and _holds_strings(X)):
        items = _check_sequence_container(X, name, name_)
        # validate the items now (the encodings are recomputed per query batch)
        if name_ == "dtw":
            _encode_frames(items, None, names=(name, None))
        elif name_ == "levenshtein":
            _encode_symbols(items, None, names=(name, None))
        else:
            _string_codes_matrix(items, None, names=(name, None))
        return items
    _reject_strings_for_numeric(X, name, metric)
    X, _, _ = check_kernel_input(X, None, x_name=name)
    return X


def kneighbors(Q, F, k, metric="euclidean", *, n_jobs=None, **params):
    """The ``k`` nearest items of ``F`` (train) for every item of ``Q`` (queries).

    Returns ``(dist, ind)`` of shape (n_queries, k), sorted by distance, ties by index.
    Work is chunked: the extra memory is n_threads * (chunk of queries x chunk of train)
    values (plus the (n_queries, k) result), never n_queries x n_train.
    """
    name, prm = _check_metric(metric, params)
    k = check_positive_int(k, "n_neighbors")
    n_threads = effective_n_threads(n_jobs)
    if name == "levenshtein":
        (xs, xo), (ys, yo) = _encode_symbols(Q, F)
        _check_k(k, len(yo) - 1)
        dist = np.empty((len(xo) - 1, k), dtype=np.int32)
        ind = np.empty((len(xo) - 1, k), dtype=np.int64)
        _dist.knn_levenshtein(xs, xo, ys, yo, dist, ind, n_threads)
        return dist, ind
    if name == "dtw":
        (xs, xo), (ys, yo) = _encode_frames(Q, F)
        _check_k(k, len(yo) - 1)
        dist = np.empty((len(xo) - 1, k), dtype=xs.dtype)
        ind = np.empty((len(xo) - 1, k), dtype=np.int64)
        _dist.knn_dtw(xs, xo, ys, yo, dist, ind, prm["window"], n_threads)
        return dist, ind
    if name == "hamming" and _holds_strings(F):
        if not _holds_strings(Q):
            raise TypeError("The training data are strings but the queries are not; "
                            "metric='hamming' compares strings with strings.")
        A, _, La = _string_codes_matrix(Q, None, names=("X", None))
        B, _, Lb = _string_codes_matrix(F, None, names=("the training data", None))
        if La != Lb:
            raise ValueError(f"The query strings have length {La} but the training "
                             f"strings have length {Lb}; the Hamming distance needs "
                             "equal lengths.")
        dist, ind = _knn_dense(A, B, k, "hamming", {}, n_threads)
        return dist.astype(np.float64), ind
    _reject_strings_for_numeric(Q, "X", metric)
    if name == "hamming":
        Qb, Fb = _as_bool_2d(Q), _as_bool_2d(F)
        if Qb is not None and Fb is not None and Qb.size and Fb.size:
            if Qb.shape[1] != Fb.shape[1]:
                raise ValueError(
                    f"Incompatible dimension for X and the training data matrices: "
                    f"X.shape[1] == {Qb.shape[1]} while the training data have "
                    f"{Fb.shape[1]} features.")
            _check_k(k, Fb.shape[0])
            return _knn_packed_hamming(Qb, Fb, k, np.dtype(np.float64), n_threads)
    Q, F, _ = check_kernel_input(Q, F, x_name="X", y_name="the training data")
    return _knn_dense(Q, F, k, name, prm, n_threads)


def _check_k(k, n_train):
    if k > n_train:
        raise ValueError(
            f"Expected n_neighbors <= n_samples_fit, but n_neighbors = {k}, "
            f"n_samples_fit = {n_train}, n_samples = {n_train}."
        )


def _knn_dense(Q, F, k, name, prm, n_threads):
    """Validated float arrays of one dtype -> (dist, ind)."""
    n, m, d = Q.shape[0], F.shape[0], Q.shape[1]
    _check_k(k, m)
    dtype = Q.dtype
    if name == "hamming" and _is_binary(Q) and _is_binary(F):
        return _knn_packed_hamming(Q, F, k, dtype, n_threads)
    if name != "cosine":
        Q, F = _drop_shared_constant_columns(Q, F)
    dist = np.empty((n, k), dtype=dtype)
    ind = np.empty((n, k), dtype=np.int64)
    yy = np.zeros(1, dtype=dtype)
    p, root = 1.0, 1.0
    if name in ("euclidean", "sqeuclidean") or (name == "minkowski" and prm["p"] == 2):
        kind, op = _dist.KIND_SQEUCLIDEAN_GEMM, 0
        yy = np.einsum("ij,ij->i", F, F)
        root = 1.0 if name == "sqeuclidean" else 2.0
    elif name == "cosine":
        from fastml.metrics.pairwise import _l2_normalize

        Q, F = _l2_normalize(Q), _l2_normalize(F)
        kind, op = _dist.KIND_COSINE_GEMM, 0
    else:
        kind = _dist.KIND_TILE
        if name == "hamming":
            op = _fast.OP_NEQ
        elif name == "manhattan":
            op = _fast.OP_L1
        elif name == "chebyshev":
            op = _fast.OP_LINF
        else:
            op, root = _minkowski_op(prm["p"])
            if op is None:
                kind, op, p = _dist.KIND_LP, 0, root
    if kind in (_dist.KIND_SQEUCLIDEAN_GEMM, _dist.KIND_COSINE_GEMM):
        # GEMM blocks want many rows (the packing of the train block is shared by them)
        bx, by = _chunks(n, n_threads, *_GEMM_CHUNKS, parts=4, multiple=16)
        with blas_threads(1):
            _dist.knn_dense(Q, F, yy, dist, ind, kind, op, p, bx, by, n_threads)
    else:
        bx, by = _chunks(n, n_threads, *_tile_chunks(Q.shape[1], dtype.itemsize))
        _dist.knn_dense(Q, F, yy, dist, ind, kind, op, p, bx, by, n_threads)
    if n and (ind[:, -1] < 0).any():
        raise ValueError(
            "Some distances overflowed to infinity in "
            f"{dtype} (values too large for the metric); rescale the data or use float64.")
    if name == "hamming":
        dist /= d
    elif root == 2.0:
        np.sqrt(dist, out=dist)
    elif root != 1.0:
        np.power(dist, 1.0 / root, out=dist)
    return dist, ind


def _drop_shared_constant_columns(Q, F, min_gain=0.04):
    """Features with one value in every row of Q and F add 0 to every distance of the
    difference-based metrics; when they are at least ``min_gain`` of the columns (MNIST:
    65 of 784 border pixels), compact copies without them make the search faster."""
    d = Q.shape[1]
    if d < 32:
        return Q, F
    const = (Q.min(axis=0) == Q.max(axis=0)) & (F.min(axis=0) == F.max(axis=0)) & (
        Q[0] == F[0])
    n_const = int(const.sum())
    if n_const < min_gain * d or n_const == d:
        return Q, F
    keep = np.flatnonzero(~const)
    # np.take, not boolean indexing: 10x faster on wide C-ordered arrays
    return np.take(Q, keep, axis=1), np.take(F, keep, axis=1)


def _knn_packed_hamming(Q, F, k, dtype, n_threads):
    """0/1 rows: bit-packed, train rows in word-major groups of 8 (AVX-512 popcount)."""
    n, d = Q.shape
    Qb, Fb = _pack_bits(Q), _pack_bits(F)
    m = Fb.shape[0]
    Ft = _groups_of_8(Fb)
    bx, by = _chunks(n, n_threads, 64, 1024)
    cnt = np.empty((n, k), dtype=np.int32)
    ind = np.empty((n, k), dtype=np.int64)
    _dist.knn_hamming_packed(Qb, Ft, m, cnt, ind, bx, by, n_threads)
    return (cnt / np.asarray(d, dtype=dtype)).astype(dtype, copy=False), ind


def _as_bool_2d(A):
    """A boolean 2-D array as is (no float copy), else None."""
    if isinstance(A, np.ndarray) and A.dtype == np.bool_ and A.ndim == 2:
        return np.ascontiguousarray(A)
    return None


def _chunks(n, n_threads, bx, by, parts=16, multiple=4):
    """Query chunk (a multiple of ``multiple``, at most bx) small enough for about
    ``parts`` chunks, so that threads share the work; it depends on n only, never on the
    thread count, so every pair lands in the same place of the same tile whatever n_jobs
    is and the results are identical for any number of threads. (With fewer chunks than
    threads, knn_dense splits the train rows instead.)"""
    per = -(-n // parts)
    bx = int(min(bx, max(multiple, multiple * -(-per // multiple))))
    return bx, int(by)
