"""The k-nearest-neighbour engine on validated input: chunked, parallel top-k searches
that never build the n_queries x n_train matrix.

Every routine returns ``(dist, ind)`` of shape (n_queries, k), sorted by distance, equal
distances by training index. The public, validating entry points are
:func:`fastml.metrics.distance.kneighbors` and the estimators of :mod:`fastml.neighbors`.
"""
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fastml.metrics import _distances as _dist
from fastml.metrics import _pairwise_fast as _fast
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
        pass  # the search fills in its filters (fastml.metrics._knn.knn_sqeuclidean)
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
        big = _cached_max_abs(F, cache)
        if Q is not F:
            big = max(big, _scaling.max_abs(Q))
        s = _scaling.safe_shift(big, Q.dtype, inner, Q.shape[1])
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
    if plan.kind == _plans.GEMM_SQEUCLIDEAN:
        dist, ind = knn_sqeuclidean(Q, F, k, n_threads, cache)
        _check_filled(ind, Q, F, dtype)
        return _plans.finish(dist, plan, d), ind
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
    _check_filled(ind, Q, F, dtype)
    if plan.kind == _plans.COSINE:
        return dist, ind
    return _plans.finish(dist, plan, d), ind


def _check_filled(ind, Q, F, dtype):
    """A neighbour slot left empty means no finite distance beat infinity: NaN in the
    data (possible only when the finiteness check was skipped, as under
    ``sklearn.config_context(assume_finite=True)``) or an overflow."""
    if not ind.shape[0] or not (ind[:, -1] < 0).any():
        return
    if Q.dtype != np.bool_ and (np.isnan(Q).any() or np.isnan(F).any()):
        raise ValueError(
            "Input contains NaN: distances to rows with NaN are undefined, so their "
            "neighbours cannot be ranked (the finiteness check was skipped, e.g. by "
            "sklearn.config_context(assume_finite=True)); remove or impute the NaN values.")
    raise ValueError(
        "Some distances overflowed to infinity in "
        f"{dtype} (values too large for the metric); rescale the data or use float64.")


def _column_extremes(A, cache=None):
    """(column minima, column maxima) of A (kept in the fit-time cache of A)."""
    if cache is not None and "col_extremes" in cache:
        return cache["col_extremes"]
    ext = (A.min(axis=0), A.max(axis=0))
    if cache is not None:
        cache["col_extremes"] = ext
    return ext


def _cached_max_abs(F, cache):
    """max |F| (kept in the fit-time cache of F), from its column extremes when F has
    rows (one pass serves this and the constant columns)."""
    if cache is not None and "max_abs" in cache:
        return cache["max_abs"]
    if isinstance(F, np.ndarray) and F.ndim == 2 and F.size and F.dtype != np.bool_:
        lo, hi = _column_extremes(F, cache)
        m = max(0.0, abs(float(np.max(hi))), abs(float(np.min(lo))))
    else:
        m = _scaling.max_abs(F)
    if cache is not None:
        cache["max_abs"] = m
    return m


def _constant_columns(A, cache=None):
    """Columns with one value in every row of A."""
    lo, hi = _column_extremes(A, cache)
    return lo == hi


def drop_shared_constant_columns(Q, F, min_gain=0.04, cache=None):
    """Features with one value in every row of Q and F add 0 to every distance of the
    difference-based metrics; when they are at least ``min_gain`` of the columns (MNIST:
    65 of 784 border pixels), compact copies without them make the search faster.
    ``cache``: the fit-time cache of F."""
    Qx, Fx, _ = _drop_columns(Q, F, min_gain, cache)
    return Qx, Fx


def _take_columns(A, keep, n_threads):
    if A.dtype in (np.float32, np.float64) and A.flags.c_contiguous:
        return _dist.take_columns(A, keep, n_threads)
    return np.take(A, keep, axis=1)


def _drop_columns(Q, F, min_gain=0.04, cache=None, n_threads=1):
    """drop_shared_constant_columns, and the indices of the columns kept (None: all).
    A self-query (Q is F) gets one compact copy, as both."""
    d = Q.shape[1]
    if d < 32 or not Q.shape[0] or not F.shape[0]:
        return Q, F, None
    const = _constant_columns(F, cache)
    if Q is not F:
        const = const & _constant_columns(Q) & (Q[0] == F[0])
    n_const = int(const.sum())
    if n_const < min_gain * d or n_const == d:
        return Q, F, None
    keep = np.flatnonzero(~const).astype(np.int64)
    Fx = _take_columns(F, keep, n_threads)
    return (Fx if Q is F else _take_columns(Q, keep, n_threads)), Fx, keep


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
    if Q.shape[1] == 0:  # empty strings: every distance is 0 (as pairwise_distances)
        check_k(k, F.shape[0])
        return (np.zeros((Q.shape[0], k)),
                np.broadcast_to(np.arange(k, dtype=np.int64), (Q.shape[0], k)).copy())
    dist, ind = knn_numeric(Q, F, k, _plans.hamming({}), n_threads)
    return dist.astype(np.float64), ind


# ----------------------------------------------------------------------------------------
# Euclidean search by a lower bound
# ----------------------------------------------------------------------------------------
# The squared distance of every pair is bounded from below by a GEMM over "filter rows",
# and only the pairs whose bound can matter are evaluated exactly (in double, by
# _distances.knn_bound / radius_bound). Two kinds of filter rows:
#
# * the data themselves (centred when the offset dominates; float64 data rounded to
#   float32 after an exact power-of-two scaling): a GEMM of full width, and the bound is
#   the GEMM distance minus its rounding error, so only pairs within that error of the
#   k-th distance are evaluated beyond the k kept;
# * a projection a(x) = [V^T (x - mu), |(I - V V^T)(x - mu)|] on an orthonormal basis V of
#   the leading principal directions of the training rows (PROJ_DIMS of them, plus the
#   norm of the residual). |a(x) - a(y)| <= |x - y| for any orthonormal V (the map is a
#   contraction: the first part is a projection, the second the reverse triangle
#   inequality in the complement), so the projected GEMM, PROJ_DIMS + 1 columns wide,
#   bounds every distance; on data of low intrinsic dimension (images, embeddings) it is
#   tight enough that a few hundred of 30 000 pairs per query need the exact value.
#
# Rounding: the GEMM in type T gives -2 <a_i, a_j> within gamma_q |a_i| |a_j| (Higham,
# "Accuracy and Stability of Numerical Algorithms", 3.1); with the rounding of the filter
# rows to T, of the norms and of the additions, the computed bound exceeds the true one by
# at most coef * (|a_i|^2 + |a_j|^2) + abs_slack, which is subtracted (a term per row, so
# it folds into the row terms). The residual norm is computed in double as
# sqrt(|z|^2 - |V^T z|^2), whose cancellation is bounded the same way. Which projection
# is used (or none) changes only the speed: every returned value is the exact one.
PROJ_MIN_DIM = 128      # narrower data: the full-width filter only
PROJ_MIN_TRAIN = 4096   # fewer training rows: not worth a basis
PROJ_MIN_QUERIES = 256  # fewer queries in a call: not worth a basis (unless cached)
PILOT = 128             # queries searched first to measure how well a projection prunes
# The basis: a fixed cost, and a better one saves exact sums on every query. Calls with
# fewer queries than this sketch it from SKETCH_SMALL[0] training rows with SKETCH_SMALL[1]
# power iterations, larger calls from SKETCH_LARGE's.
SKETCH_MIN_QUERIES = 32768
SKETCH_SMALL = (2048, 1)
SKETCH_LARGE = (4096, 2)


def _proj_dims(d):
    return 63 if d >= 256 else 31


def _unit(dtype):
    return 2.0 ** -24 if np.dtype(dtype) == np.float32 else 2.0 ** -53


def _pow2_at_most(x):
    """A power of two s with s * x in (0.5, 1] (1 for 0 or non-finite x)."""
    if not x or not np.isfinite(x):
        return 1.0
    return float(np.ldexp(1.0, -int(np.frexp(x)[1])))


class BoundFilter:
    """The training side of a lower-bound filter (see above): filter rows ``Fa``, their
    row terms ``fadd`` (scaled norms minus slack), and what maps queries the same way."""

    def __init__(self, mu, basis, scale, fdtype, coef, abs_slack):
        self.mu, self.basis, self.scale = mu, basis, scale
        self.fdtype = np.dtype(fdtype)
        self.coef, self.abs_slack = coef, abs_slack
        self.Fa = self.fadd = None

    @property
    def projected(self):
        return self.basis is not None

    def rows(self, A, n_threads=1):
        """(filter rows in fdtype, row terms in double) of the rows of A (blocks of rows
        over n_threads threads when A is transformed)."""
        n, d = A.shape
        q = d if self.basis is None else self.basis.shape[1] + 1
        if self.basis is None and self.mu is None and self.scale == 1.0 \
                and A.dtype == self.fdtype:
            Aa = A
            nrm = np.einsum("ij,ij->i", A, A, dtype=np.float64) if A.dtype == np.float32 \
                else np.einsum("ij,ij->i", A, A)
        else:
            Aa = np.empty((n, q), dtype=self.fdtype)
            nrm = np.empty(n, dtype=np.float64)

            def block(i0):
                Z = A[i0:i0 + 2048] - self.mu if self.mu is not None else \
                    A[i0:i0 + 2048].astype(np.float64)
                if self.basis is not None:
                    P = Z @ self.basis
                    r2 = np.einsum("ij,ij->i", Z, Z) - np.einsum("ij,ij->i", P, P)
                    Z = np.concatenate([P, np.sqrt(np.maximum(r2, 0))[:, None]], axis=1)
                if self.scale != 1.0:
                    Z *= self.scale
                B = Aa[i0:i0 + 2048]
                B[...] = Z
                Bd = B.astype(np.float64)
                nrm[i0:i0 + 2048] = np.einsum("ij,ij->i", Bd, Bd)

            starts = range(0, n, 2048)
            with blas_threads(1):
                if n_threads > 1 and len(starts) > 1:
                    with ThreadPoolExecutor(min(n_threads, len(starts))) as pool:
                        list(pool.map(block, starts))
                else:
                    for i0 in starts:
                        block(i0)
        add = nrm - (self.coef * nrm + self.abs_slack)
        return Aa, add

    def fit(self, F, n_threads=1):
        self.Fa, self.add = self.rows(F, n_threads)
        self.fadd = self.add.astype(self.fdtype)
        if self.projected:
            # groups of 16 rows, feature-major (fastml_lb_screen_f32); padding rows get a
            # row term of +inf, so they are never candidates
            m, q = self.Fa.shape
            ng = -(-m // 16)
            Fp = np.zeros((ng * 16, q), dtype=np.float32)
            Fp[:m] = self.Fa
            self.Ft = np.ascontiguousarray(Fp.reshape(ng, 16, q).transpose(0, 2, 1)).ravel()
            self.fadd_packed = np.full(ng * 16, np.inf, dtype=np.float32)
            self.fadd_packed[:m] = self.fadd
            self.m = m
        return self

    def fits(self, Qa_add):
        """False if the queries' scaled norms are out of the filter type's safe range."""
        big = float(np.max(Qa_add, initial=0.0))
        return big < 2.0 ** 100 if self.fdtype == np.float32 else big < 2.0 ** 1000


def _slack(q, d, fdtype, projected):
    """(coef, abs_slack) of the bound's rounding (see above), with a factor 2 to spare."""
    u, u64 = _unit(fdtype), 2.0 ** -53
    coef = 2.0 * (q + 8) * u + 1e-12
    if projected:
        coef += 4.4 * np.sqrt(2.0 * (d + q + 8) * u64)
    tiny = 2.0 ** -140 if np.dtype(fdtype) == np.float32 else 2.0 ** -1010
    return coef, (q + 8) * tiny


def identity_filter(F, dtype):
    """The full-width filter of training rows F (dtype float32 or float64)."""
    d = F.shape[1]
    mean = F.mean(axis=0, dtype=np.float64) if F.shape[0] else np.zeros(d)
    offset = float(mean @ mean)
    sq = np.einsum("ij,ij->i", F, F, dtype=np.float64) if F.dtype == np.float32 \
        else np.einsum("ij,ij->i", F, F)
    spread = float(np.mean(sq)) - offset if F.shape[0] else 0.0
    # |y|^2 - 2 <x, y> cancels when the data sit far from the origin: centre them then
    mu = mean if offset > 0 and offset > 16 * max(spread, 0.0) else None
    fdtype, scale = np.float32, 1.0
    if dtype == np.float64:
        # a float32 filter (half the GEMM time) on rows scaled by a power of two to norms
        # of at most 1; float64 when even that leaves float32's range
        top = float(np.sqrt(np.max(sq, initial=0.0))) + np.sqrt(max(offset, 0.0))
        fdtype, scale = np.float64, 1.0
        if top and np.isfinite(top):
            fdtype, scale = np.float32, _pow2_at_most(top)
    coef, abs_slack = _slack(d, d, fdtype, False)
    return BoundFilter(mu, None, scale, fdtype, coef, abs_slack).fit(F)


def projected_filter(F, n_threads=1, n_queries=None):
    """The projected filter of training rows F (see above), or None when F is too small
    or too narrow for one to pay. Any orthonormal basis gives exact results (the bound
    holds for every one), so the sketch that finds it may round."""
    m, d = F.shape
    if d < PROJ_MIN_DIM or m < PROJ_MIN_TRAIN:
        return None
    p = _proj_dims(d)
    mu = F.mean(axis=0, dtype=np.float64)
    small = n_queries is not None and n_queries < SKETCH_MIN_QUERIES
    ns, n_iter = SKETCH_SMALL if small else SKETCH_LARGE
    ns = min(m, ns)
    S = F[np.unique(np.linspace(0, m - 1, ns).round().astype(np.intp))].astype(np.float64)
    S -= mu
    if not np.all(np.isfinite(S)):
        return None
    # the leading right singular vectors of the sample, by randomized subspace iteration
    # (Halko, Martinsson & Tropp 2011) with a Rayleigh-Ritz step; any orthonormal basis
    # is correct, a good one prunes more
    with blas_threads(1):
        basis, top = _leading_basis(S, p, n_iter)
    coef, abs_slack = _slack(p + 1, d, np.float32, True)
    return BoundFilter(mu, basis, _pow2_at_most(top), np.float32, coef,
                       abs_slack).fit(F, n_threads)


def _leading_basis(S, p, n_iter=2):
    d = S.shape[1]
    rng = np.random.default_rng(0)
    ell = min(d, p + 16)
    # the sketch in float32 (half the time; it only steers the choice of directions),
    # the final orthonormalisation in float64 (the bound needs an orthonormal basis)
    S32 = S.astype(np.float32)
    Y = S32.T @ (S32 @ rng.standard_normal((d, ell)).astype(np.float32))
    for _ in range(n_iter):
        Y, _ = np.linalg.qr(Y)
        Y = S32.T @ (S32 @ Y)
    Y, _ = np.linalg.qr(Y.astype(np.float64))
    # Rayleigh-Ritz: the leading eigenvectors of the small Gram matrix of S Y
    B = (S32 @ Y.astype(np.float32)).astype(np.float64)
    _, W = np.linalg.eigh(B.T @ B)
    basis, _ = np.linalg.qr(Y @ W[:, ::-1][:, :p])
    # the scale from the sample's norms (the filter rows have the norms of the rows)
    top = float(np.sqrt(np.max(np.einsum("ij,ij->i", S, S), initial=0.0)))
    return basis, top


def _bound_params(flt, dtype, d):
    """(scale2, tol1): the scaling of squared distances into the filter's units and the
    relative margin covering the rounding of the exact values (to dtype, summed in
    double over d terms)."""
    return flt.scale * flt.scale, 1.0 + 4.0 * _unit(dtype) + 8.0 * (d + 8) * 2.0 ** -53


#: projected search: queries per block, groups of 16 train rows per screened block
PROJ_BLOCKS = (32, 64)
#: projected k-NN: a block's bounds against every training row are computed once and
#: kept (then read by both passes) when they take at most this many bytes per thread;
#: else each pass computes them (twice the arithmetic, no store)
PROJ_STORE_BYTES = 8 << 20
#: projected k-NN of at least this many queries: they are searched in an order that
#: groups similar ones (query_order), so that the training rows a block of queries sums
#: exactly overlap and stay in cache. The order changes only the speed: each query's
#: answer is computed on its own.
ORDER_MIN_QUERIES = 1024


def query_order(Qa, n_cells=64, n_iter=3, max_fit=16384, block=65536):
    """A permutation of the rows of Qa (filter rows) grouping them by cell: the cells of a
    few Lloyd iterations of k-means (seeded deterministically) on at most ``max_fit``
    evenly spaced rows, every row then assigned to its nearest centre (``block`` rows at
    a time), each cell's rows in increasing order."""
    n = Qa.shape[0]
    c = int(min(n_cells, max(1, n // 128)))
    A = np.asarray(Qa, dtype=np.float32)
    S = A[::max(1, -(-n // max_fit))]
    C = S[np.sort(np.random.default_rng(0).choice(S.shape[0], c, replace=False))]
    onehot = np.zeros((c, S.shape[0]), dtype=np.float32)

    def nearest(R, C):
        return np.argmin(np.einsum("ij,ij->i", C, C)[None, :] - 2 * (R @ C.T), axis=1)

    with blas_threads(1):
        for _ in range(n_iter):
            onehot[:] = 0
            onehot[nearest(S, C), np.arange(S.shape[0])] = 1
            size = onehot.sum(axis=1)
            keep = size > 0
            C[keep] = (onehot[keep] @ S) / size[keep, None]
        lab = np.concatenate([nearest(A[i0:i0 + block], C) for i0 in range(0, n, block)])
    return np.argsort(lab, kind="stable")


def _knn_with(flt, Qx, Fx, Qa, qadd, k, n_threads, bx, by):
    n = Qx.shape[0]
    dist = np.empty((n, k), dtype=Qx.dtype)
    ind = np.empty((n, k), dtype=np.int64)
    scale2, tol1 = _bound_params(flt, Qx.dtype, Qx.shape[1])
    ck = max(k + 8, 16)  # candidates of pass 1: a few beyond k (more only feeds its heaps)
    if flt.projected:
        store = bx * 16 * (-(-flt.m // 16)) * 4 <= PROJ_STORE_BYTES
        order = query_order(Qa) if n >= ORDER_MIN_QUERIES else None
        if order is None:
            n_exact = _dist.knn_proj(Qa, flt.Ft, flt.fadd_packed, flt.m, qadd, Qx, Fx, dist,
                                     ind, scale2, tol1, bx, by, ck, n_threads, store)
            return dist, ind, n_exact
        dist_o, ind_o = np.empty_like(dist), np.empty_like(ind)
        # (fancy indexing copies: Qa[order] and qadd[order] are contiguous)
        n_exact = _dist.knn_proj(Qa[order], flt.Ft, flt.fadd_packed, flt.m, qadd[order], Qx,
                                 Fx, dist_o, ind_o, scale2, tol1, bx, by, ck, n_threads,
                                 store, order)
        dist[order], ind[order] = dist_o, ind_o
        return dist, ind, n_exact
    with blas_threads(1):
        n_exact = _dist.knn_bound(Qa, flt.Fa, qadd, flt.fadd, Qx, Fx, dist, ind, scale2, tol1,
                                  bx, by, ck, n_threads)
    return dist, ind, n_exact


def _filter_blocks(flt, n, n_threads):
    if flt.projected:
        return PROJ_BLOCKS
    return chunks(n, n_threads, 256, 2048, parts=4, multiple=16)


def _projected_pays(n_exact, n_queries, m, d, q):
    """Projected search costs ~ m q (GEMM) + 16 d per exact evaluation (a row fetched
    from memory, summed in double) per query; the full-width filter ~ m d."""
    return n_exact / max(1, n_queries) * 16 * d < 0.5 * m * (d - q)


def _cached_identity(Fx, keep, cache):
    """The full-width filter of Fx (the training rows, or their columns ``keep``), kept
    in the fit-time cache for the last set of columns used."""
    key = None if keep is None else keep.tobytes()
    if cache is not None and "ident" in cache and cache["ident_key"] == key:
        return cache["ident"]
    flt = identity_filter(Fx, Fx.dtype)
    if cache is not None:
        cache["ident"], cache["ident_key"] = flt, key
    return flt


def get_projection(F, cache, n_queries, n_threads=1):
    """The cached projected filter of F, built now if this call is large enough."""
    if cache is not None and "proj" in cache:
        return cache["proj"]
    if F.shape[1] < PROJ_MIN_DIM or F.shape[0] < PROJ_MIN_TRAIN or (
            n_queries < PROJ_MIN_QUERIES):
        return None
    flt = projected_filter(F, n_threads, n_queries)
    if cache is not None:
        cache["proj"] = flt
    return flt


def _identity_rows(Q, F, Qx, Fx, keep, cache, lo, hi):
    """(full-width filter, its rows of the queries lo .. hi) (a self-query's are the
    training side's, already computed)."""
    ident = _cached_identity(Fx, keep, cache)
    Qa, qadd = (ident.Fa[lo:hi], ident.add[lo:hi]) if Q is F else ident.rows(Qx[lo:hi])
    if not ident.fits(qadd):
        ident = identity_filter(Fx, np.float64) if Fx.dtype == np.float64 else ident
        Qa, qadd = ident.rows(Qx[lo:hi])
    return ident, Qa, qadd


def _bound_search(Q, F, n_threads, cache, search):
    """Run ``search(flt, lo, hi, Qa, qadd, Qx, Fx) -> (result, n_exact)`` over the query
    rows [lo, hi) with a filter: the projected one on a pilot block and, when it lets few
    enough pairs through, on the rest; the full-width one on whatever remains. Between
    the two the choice is measured: when the projected filter lets many pairs through
    and enough queries remain, the full-width one runs on the next block and the faster
    per query takes the rest (either gives the exact answer). Qx / Fx are the data the
    exact values are summed over (shared constant columns dropped). Returns the results
    in query order."""
    n, m = Q.shape[0], F.shape[0]
    proj = get_projection(F, cache, n, n_threads)
    Qx, Fx, keep = _drop_columns(Q, F, cache=cache, n_threads=n_threads)
    d = Qx.shape[1]
    out, start = [], 0
    if proj is not None and n > 0:
        # a self-query's filter rows are the training side's, already computed
        Qa, qadd = (proj.Fa, proj.add) if Q is F else proj.rows(Q, n_threads)
        if proj.fits(qadd):
            P = min(n, PILOT)
            res, n_exact = search(proj, 0, P, Qa[:P], qadd[:P], Qx, Fx)
            out.append(res)
            start = P
            use_proj = _projected_pays(n_exact, P, m, d, proj.basis.shape[1] + 1)
            if not use_proj and n >= 8 * PILOT:
                # measured on equal blocks after the pilot (whose time includes warm-up)
                a, b, c = P, 3 * P, 5 * P
                ident, Qi, qi = _identity_rows(Q, F, Qx, Fx, keep, cache, a, b)
                t0 = time.perf_counter()
                out.append(search(ident, a, b, Qi, qi, Qx, Fx)[0])
                t1 = time.perf_counter()
                out.append(search(proj, b, c, Qa[b:c], qadd[b:c], Qx, Fx)[0])
                t2 = time.perf_counter()
                start = c
                use_proj = t2 - t1 < t1 - t0
            if use_proj and start < n:
                out.append(search(proj, start, n, Qa[start:], qadd[start:], Qx, Fx)[0])
                start = n
    if start < n:
        ident, Qa, qadd = _identity_rows(Q, F, Qx, Fx, keep, cache, start, n)
        out.append(search(ident, start, n, Qa, qadd, Qx, Fx)[0])
    return out


def knn_sqeuclidean(Q, F, k, n_threads, cache=None):
    """Exact k nearest neighbours by squared Euclidean distance: (squared distances in
    Q's dtype, indices), sorted by (distance, index)."""

    def search(flt, lo, hi, Qa, qadd, Qx, Fx):
        bx, by = _filter_blocks(flt, hi - lo, n_threads)
        dist, ind, n_exact = _knn_with(flt, Qx[lo:hi], Fx, Qa, qadd, k, n_threads, bx, by)
        return (dist, ind), n_exact

    parts = _bound_search(Q, F, n_threads, cache, search)
    if len(parts) == 1:
        return parts[0]
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))


def radius_sqeuclidean(Q, F, radius, root, n_threads, cache=None, self_offset=-1):
    """Exact radius neighbours by Euclidean (``root``) or squared Euclidean distance:
    (indptr, indices, squared distances in double), each query's indices increasing."""
    r2 = radius * radius * (1 + 2.0 ** -50) if root else radius

    def search(flt, lo, hi, Qa, qadd, Qx, Fx):
        scale2, tol1 = _bound_params(flt, Qx.dtype, Qx.shape[1])
        off = self_offset + lo if self_offset >= 0 else -1
        if flt.projected:
            bx, gb = PROJ_BLOCKS
            res = _dist.radius_proj(Qa, flt.Ft, flt.fadd_packed, flt.m, qadd, Qx[lo:hi], Fx,
                                    r2, root, radius, off, scale2, tol1, bx, gb, n_threads)
        else:
            bx, by = _filter_blocks(flt, hi - lo, n_threads)
            with blas_threads(1):
                res = _dist.radius_bound(Qa, flt.Fa, qadd, flt.fadd, Qx[lo:hi], Fx, r2, root,
                                         radius, off, scale2, tol1, bx, by, n_threads)
        return res[:3], res[3]

    pieces = _bound_search(Q, F, n_threads, cache, search)
    if len(pieces) == 1:
        return pieces[0]
    indptr = [np.zeros(1, dtype=np.int64)]
    total = 0
    for ip, _, _ in pieces:
        indptr.append(ip[1:] + total)
        total += int(ip[-1])
    return (np.concatenate(indptr), np.concatenate([p[1] for p in pieces]),
            np.concatenate([p[2] for p in pieces]))


# ----------------------------------------------------------------------------------------
# radius neighbours of numeric rows
# ----------------------------------------------------------------------------------------
def _exact_pairs64(Q, F, rows, cols, plan, d):
    """The distances of the pairs (Q[rows], F[cols]) in float64, straight from the
    definition (the float32 values near a radius are decided with these)."""
    A = Q[rows].astype(np.float64)
    B = F[cols].astype(np.float64)
    if plan.kind == _plans.COSINE:
        na = np.linalg.norm(A, axis=1)
        nb = np.linalg.norm(B, axis=1)
        den = na * nb
        cos = np.einsum("ij,ij->i", A, B) / np.where(den == 0, 1, den)
        return np.clip(1 - np.where(den == 0, 0, cos), 0, 2)
    if plan.per_feature:
        return np.count_nonzero(A != B, axis=1) / d
    if plan.kind == _plans.TILE and plan.op == _fast.OP_LINF:
        return np.max(np.abs(A - B), axis=1, initial=0.0)
    r = plan.root
    return np.sum(np.abs(A - B) ** r, axis=1) ** (1.0 / r)


def radius_numeric(Q, F, radius, plan, n_threads, cache=None, self_offset=-1):
    """Every training row within ``radius`` of every query row (validated arrays of one
    dtype, or 0/1 boolean arrays): (indptr, indices, distances), each query's indices
    increasing; distances in Q's dtype (float64 for boolean data). Query i never reports
    training row i + self_offset when self_offset >= 0 (queries = training rows).

    Euclidean: the exact bound search (radius_sqeuclidean), decided in double. Other
    metrics: blocks thresholded inside compiled code; float32 values within their
    rounding error of the radius are decided again in float64."""
    out_dtype = np.float64 if Q.dtype == np.bool_ else Q.dtype
    if Q.dtype == np.bool_ or F.dtype == np.bool_:
        Q, F = Q.astype(np.float32), F.astype(np.float32)
    d = Q.shape[1]
    inner, outer = _plans.powers(plan)
    s = _scaling.safe_shift(_scaling.max_abs(Q, F), Q.dtype, inner, d)
    if s:
        Q, F, cache = _scaling.scaled(Q, s), _scaling.scaled(F, s), None
        radius = float(np.ldexp(radius, s * outer))
    if plan.kind == _plans.GEMM_SQEUCLIDEAN:
        root = plan.root == 2.0
        indptr, ind, v = radius_sqeuclidean(Q, F, radius, root, n_threads, cache,
                                            self_offset)
        dist = np.sqrt(v) if root else v
    else:
        indptr, ind, dist = _radius_blocks(Q, F, radius, plan, n_threads, cache,
                                           self_offset)
    if s:
        dist = np.ldexp(dist, -s * outer)
    return indptr, ind, dist.astype(out_dtype, copy=False)


def _radius_blocks(Q, F, radius, plan, n_threads, cache, self_offset):
    d = Q.shape[1]
    p = 1.0
    if plan.kind == _plans.COSINE:
        Qc = l2_normalize(Q)
        Fc = cache["unit"] if cache and "unit" in cache else l2_normalize(F)
        kind, op, thr = _dist.KIND_COSINE_GEMM, 0, radius - 1.0
    elif plan.kind == _plans.LP:
        Qc, Fc = Q, F
        kind, op, p, thr = _dist.KIND_LP, 0, plan.root, radius ** plan.root
    else:
        Qc, Fc = Q, F
        kind, op = _dist.KIND_TILE, plan.op
        thr = radius * d if plan.per_feature else radius ** plan.root
    f32 = Q.dtype == np.float32
    # candidates up to the rounding error of the reductions; decided exactly below
    tol = 8.0 * (d + 8) * (2.0 ** -24 if f32 else 2.0 ** -53)
    thr_hi = thr + abs(thr) * tol + (tol if kind == _dist.KIND_COSINE_GEMM else 0.0)
    if kind == _dist.KIND_COSINE_GEMM:
        bx, by = chunks(Q.shape[0], n_threads, *GEMM_CHUNKS, parts=4, multiple=16)
        with blas_threads(1):
            indptr, ind, raw = _dist.radius_dense(Qc, Fc, kind, op, p, thr_hi, self_offset,
                                                  bx, by, n_threads)
        dist = np.clip(1.0 + raw, 0.0, 2.0)
    else:
        bx, by = chunks(Q.shape[0], n_threads, *tile_chunks(d, Q.dtype.itemsize))
        indptr, ind, raw = _dist.radius_dense(Qc, Fc, kind, op, p, thr_hi, self_offset, bx,
                                              by, n_threads)
        if plan.per_feature:
            dist = raw / d
        elif plan.root != 1.0:
            dist = raw ** (1.0 / plan.root)
        else:
            dist = raw
    if f32:  # values within float32's rounding error of the radius: decided in float64
        dist = dist.astype(np.float32).astype(np.float64)
        near = np.flatnonzero(np.abs(dist - radius) <= 4 * tol * max(abs(radius), 1e-30)
                              + (tol if kind == _dist.KIND_COSINE_GEMM else 0.0))
        if near.size:
            rows = np.repeat(np.arange(Q.shape[0]), np.diff(indptr))[near]
            dist[near] = _exact_pairs64(Q, F, rows, ind[near], plan, d)
    keep = dist <= radius
    if not keep.all():
        rows = np.repeat(np.arange(Q.shape[0]), np.diff(indptr))
        counts = np.bincount(rows[keep], minlength=Q.shape[0])
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        ind, dist = ind[keep], dist[keep]
    return indptr, ind, dist
