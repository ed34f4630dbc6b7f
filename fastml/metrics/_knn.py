"""The k-nearest-neighbour engine on validated input: chunked, parallel top-k searches
that never build the n_queries x n_train matrix.

Every routine returns ``(dist, ind)`` of shape (n_queries, k), sorted by distance, equal
distances by training index. The public, validating entry points are
:func:`fastml.metrics.distance.kneighbors` and the estimators of :mod:`fastml.neighbors`.
"""
import numpy as np

from fastml.metrics import _distances as _dist
from fastml.metrics import _plans, _scaling
from fastml.metrics._common import (
    GEMM_CHUNKS,
    chunks,
    groups_of_8,
    is_binary,
    l2_normalize,
    pack_bits,
    tile_chunks,
)
from fastml.utils import blas_threads


def check_k(k, n_train):
    if k > n_train:
        raise ValueError(
            f"Expected n_neighbors <= n_samples_fit, but n_neighbors = {k}, "
            f"n_samples_fit = {n_train}, n_samples = {n_train}."
        )


def prepare_train(F, plan):
    """What a search over the training rows F can reuse across calls (a fitted
    estimator's index): packed bits for 0/1 rows of a packed plan, row norms for GEMM
    Euclidean, unit rows for cosine."""
    cache = {}
    if plan.packed_if_binary and F.shape[0] and (F.dtype == np.bool_ or is_binary(F)):
        cache["packed_groups"] = groups_of_8(pack_bits(F))
    elif plan.kind == _plans.GEMM_SQEUCLIDEAN:
        cache["sqnorms"] = np.einsum("ij,ij->i", F, F)
        cache["mean"] = F.mean(axis=0, dtype=np.float64) if F.shape[0] else None
    elif plan.kind == _plans.COSINE:
        cache["unit"] = l2_normalize(F)
    return cache


def knn_numeric(Q, F, k, plan, n_threads, cache=None):
    """Validated arrays of one dtype (or 0/1 boolean arrays for a packed plan).

    ``cache``: :func:`prepare_train` of F, or None. Data whose magnitude would overflow
    (or underflow) the metric's sums are scaled by a power of two first and the
    distances scaled back (fastml.metrics._scaling), so that the ranking stays right and
    no candidate is lost to inf - inf."""
    if Q.dtype != np.bool_:
        inner, outer = _plans.powers(plan)
        s = _scaling.safe_shift(_scaling.max_abs(Q, F), Q.dtype, inner, Q.shape[1])
        if s:  # the cache holds values of the unscaled data: not used
            dist, ind = _knn_numeric(_scaling.scaled(Q, s), _scaling.scaled(F, s), k, plan,
                                     n_threads, None)
            return _scaling.unscale(dist, s, outer), ind
    return _knn_numeric(Q, F, k, plan, n_threads, cache)


def _knn_numeric(Q, F, k, plan, n_threads, cache):
    cache = cache or {}
    if plan.packed_if_binary and (Q.dtype == np.bool_ or is_binary(Q)) and (
            "packed_groups" in cache or F.dtype == np.bool_ or is_binary(F)):
        check_k(k, F.shape[0])
        dtype = np.dtype(np.float64) if Q.dtype == np.bool_ else Q.dtype
        return knn_packed_hamming(Q, F, k, dtype, n_threads, cache.get("packed_groups"))
    n, m, d = Q.shape[0], F.shape[0], Q.shape[1]
    check_k(k, m)
    dtype = Q.dtype
    if plan.kind != _plans.COSINE:
        F_full = F
        Q, F = drop_shared_constant_columns(Q, F)
        if F is not F_full:
            cache = {}
    dist = np.empty((n, k), dtype=dtype)
    ind = np.empty((n, k), dtype=np.int64)
    yy = np.zeros(1, dtype=dtype)
    p = 1.0
    if plan.kind == _plans.GEMM_SQEUCLIDEAN:
        kind, op = _dist.KIND_SQEUCLIDEAN_GEMM, 0
        yy = cache.get("sqnorms")
        if yy is None:
            yy = np.einsum("ij,ij->i", F, F)
        # ||y||^2 - 2 <x, y> cancels when the data sit far from the origin (float32 at an
        # offset of 1e4 loses every digit of a near-duplicate's distance): where the
        # offset dominates the spread, centre both on the training mean, rounded to the
        # dtype so that x - mean is exact for the points near it (Sterbenz); the
        # distances of the k kept are recomputed exactly.
        mean = cache.get("mean")
        if mean is None:
            mean = F.mean(axis=0, dtype=np.float64)
        offset = float(mean @ mean)
        spread = float(np.mean(yy, dtype=np.float64)) - offset
        if offset > 0 and offset > 16 * max(spread, 0.0):
            mean = mean.astype(dtype)
            Q, F = Q - mean, F - mean
            yy = np.einsum("ij,ij->i", F, F)
    elif plan.kind == _plans.COSINE:
        Q = l2_normalize(Q)
        F = cache["unit"] if "unit" in cache else l2_normalize(F)
        kind, op = _dist.KIND_COSINE_GEMM, 0
    elif plan.kind == _plans.LP:
        kind, op, p = _dist.KIND_LP, 0, plan.root
    else:
        kind, op = _dist.KIND_TILE, plan.op
    if kind in (_dist.KIND_SQEUCLIDEAN_GEMM, _dist.KIND_COSINE_GEMM):
        # GEMM blocks want many rows (the packing of the train block is shared by them)
        bx, by = chunks(n, n_threads, *GEMM_CHUNKS, parts=4, multiple=16)
        with blas_threads(1):
            _dist.knn_dense(Q, F, yy, dist, ind, kind, op, p, bx, by, n_threads)
    else:
        bx, by = chunks(n, n_threads, *tile_chunks(Q.shape[1], dtype.itemsize))
        _dist.knn_dense(Q, F, yy, dist, ind, kind, op, p, bx, by, n_threads)
    if n and (ind[:, -1] < 0).any():
        raise ValueError(
            "Some distances overflowed to infinity in "
            f"{dtype} (values too large for the metric); rescale the data or use float64.")
    if plan.kind == _plans.COSINE:
        return dist, ind
    return _plans.finish(dist, plan, d), ind


def drop_shared_constant_columns(Q, F, min_gain=0.04):
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


def knn_packed_hamming(Q, F, k, dtype, n_threads, Ft=None):
    """0/1 rows: bit-packed, train rows in word-major groups of 8 (AVX-512 popcount);
    ``Ft``: the packed groups of F when already computed."""
    n, d = Q.shape
    Qb = pack_bits(Q)
    m = F.shape[0]
    if Ft is None:
        Ft = groups_of_8(pack_bits(F))
    bx, by = chunks(n, n_threads, 64, 1024)
    cnt = np.empty((n, k), dtype=np.int32)
    ind = np.empty((n, k), dtype=np.int64)
    _dist.knn_hamming_packed(Qb, Ft, m, cnt, ind, bx, by, n_threads)
    return (cnt / np.asarray(d, dtype=dtype)).astype(dtype, copy=False), ind


# ----------------------------------------------------------------------------------------
# sequence metrics: Q, F are encodings (fastml.metrics._sequences)
# ----------------------------------------------------------------------------------------
def knn_levenshtein(Q, F, k, prm, n_threads):
    (xs, xo), (ys, yo) = Q, F
    check_k(k, len(yo) - 1)
    dist = np.empty((len(xo) - 1, k), dtype=np.int32)
    ind = np.empty((len(xo) - 1, k), dtype=np.int64)
    _dist.knn_levenshtein(xs, xo, ys, yo, dist, ind, n_threads)
    return dist, ind


def knn_dtw(Q, F, k, prm, n_threads):
    from fastml.metrics._matrix import dtw_shift

    (xs, xo), (ys, yo) = Q, F
    check_k(k, len(yo) - 1)
    s = dtw_shift(Q, F)
    xs, ys = _scaling.scaled(xs, s), _scaling.scaled(ys, s)
    dist = np.empty((len(xo) - 1, k), dtype=xs.dtype)
    ind = np.empty((len(xo) - 1, k), dtype=np.int64)
    _dist.knn_dtw(xs, xo, ys, yo, dist, ind, prm["window"], n_threads)
    return _scaling.unscale(dist, s, 1), ind


def knn_hamming_strings(Q, F, k, prm, n_threads):
    """Q, F: float32 code-point matrices of equal-length strings."""
    if Q.shape[1] != F.shape[1]:
        raise ValueError(f"The query strings have length {Q.shape[1]} but the training "
                         f"strings have length {F.shape[1]}; the Hamming distance needs "
                         "equal lengths.")
    dist, ind = knn_numeric(Q, F, k, _plans.hamming({}), n_threads)
    return dist.astype(np.float64), ind
