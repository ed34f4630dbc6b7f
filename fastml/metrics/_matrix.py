"""Distance-matrix routines on validated input (no checks here; see
:func:`fastml.metrics.pairwise_distances` for the public, validating entry point).

Numeric routines take float arrays of one dtype (or 0/1 boolean arrays for Hamming), an
``out`` array of the result's shape and dtype, and a :class:`~fastml.metrics._plans.Plan`.
Sequence routines take the encodings of :mod:`fastml.metrics._sequences`.
"""
import numpy as np
import scipy.sparse as sp

from fastml.metrics import _distances as _dist
from fastml.metrics import _pairwise_fast as _fast
from fastml.metrics import _plans, _scaling
from fastml.metrics._common import chunks, gram, groups_of_8, is_binary, l2_normalize, pack_bits
from fastml.utils import blas_threads


def numeric_matrix(X, Y, out, plan, n_threads):
    """Distances between the rows of X and Y (``Y is None``: X with itself) into out.

    Data whose magnitude would overflow (or underflow) the metric's sums are first scaled
    by a power of two and the result scaled back (fastml.metrics._scaling)."""
    if X.dtype != np.bool_:
        inner, outer = _plans.powers(plan)
        k = _scaling.safe_shift(_scaling.max_abs(X, Y), X.dtype, inner, X.shape[1])
        if k:
            _numeric_matrix(_scaling.scaled(X, k), _scaling.scaled(Y, k), out, plan,
                            n_threads)
            return _scaling.unscale(out, k, outer)
    return _numeric_matrix(X, Y, out, plan, n_threads)


def _numeric_matrix(X, Y, out, plan, n_threads):
    sym = Y is None
    Yv = X if sym else Y
    d = X.shape[1]
    if plan.kind == _plans.BOOLEAN:
        return boolean_matrix(X, Yv, sym, out, plan.boolean, n_threads)
    if plan.packed_if_binary and (X.dtype == np.bool_ or (is_binary(X) and is_binary(Yv))):
        return packed_hamming_matrix(X, Yv, sym, out, n_threads)
    if plan.kind == _plans.GEMM_SQEUCLIDEAN:
        xx = np.einsum("ij,ij->i", X, X)
        yy = xx if sym else np.einsum("ij,ij->i", Yv, Yv)
        with blas_threads(1):
            bx, _ = chunks(X.shape[0], n_threads, 256, 0, parts=4, multiple=16)
            _dist.sqeuclidean_matrix(X, Yv, xx, yy, out, bx, n_threads)
        if sym:
            np.fill_diagonal(out, 0)
        return _plans.finish(out, plan, d)
    if plan.kind == _plans.COSINE:
        cosine_similarity_matrix(X, Y, out, n_threads)
        np.subtract(1, out, out=out)
        np.clip(out, 0, 2, out=out)
        if sym:
            np.fill_diagonal(out, 0)
        return out
    if plan.kind == _plans.LP:
        _dist.lp_matrix(X, Yv, out, plan.root, 16, n_threads)
    else:
        _fast.reduce_dense(X, Yv, out, plan.op, _fast.POST_NONE, 0.0, sym, n_threads)
    return _plans.finish(out, plan, d)


def cosine_similarity_matrix(X, Y, out, n_threads):
    """Cosine similarities of the rows (dense or sparse; ``Y is None``: X with itself).
    Dense rows: the product in fixed blocks of rows (one BLAS thread each), so the bits
    do not depend on the thread count; X with itself: the upper triangle mirrored."""
    sym = Y is None
    Xn = l2_normalize(X)
    Yn = None if sym else l2_normalize(Y)
    if sp.issparse(Xn) or (Yn is not None and sp.issparse(Yn)):
        if gram(Xn, Yn, out, sym, n_threads):
            _fast.mirror_upper(out, n_threads)
        return out
    with blas_threads(1):
        _dist.gemm_rows(Xn, Xn if sym else Yn, out, 1.0, 256, n_threads)
    if sym:
        _fast.mirror_upper(out, n_threads)
    return out


def packed_hamming_matrix(X, Y, sym, out, n_threads):
    """Hamming fractions of 0/1 rows by popcount, in blocks of rows (an int32 block of
    counts at a time, never a second full matrix)."""
    d = X.shape[1]
    Xb = pack_bits(X)
    Yt = groups_of_8(Xb if sym else pack_bits(Y))
    m = Y.shape[0]
    step = max(256, 64 * n_threads)
    tmp = np.empty((min(step, X.shape[0]), m), dtype=np.int32)
    for i0 in range(0, X.shape[0], step):
        i1 = min(X.shape[0], i0 + step)
        t = tmp[: i1 - i0]
        _dist.hamming_packed_matrix(Xb[i0:i1], Yt, m, t, 16, n_threads)
        np.divide(t, d, out=out[i0:i1], casting="unsafe")
    return out


def _ratio(num, den):
    """num / den, 0 where den == 0."""
    return np.where(den == 0, 0.0, num / np.where(den == 0, 1, den))


def _yule(ntt, ndiff, nx, ny, d):
    ntf, nft = nx - ntt, ny - ntt
    nff = d - ntt - ndiff
    return _ratio(2 * ntf * nft, ntt * nff + ntf * nft)


#: scipy's boolean dissimilarities from counts: f(c_TT, c_TF + c_FT, true bits per row of
#: X (b, 1), of Y (1, m), length d); the 0/0 cases give what scipy gives (0 for jaccard
#: and yule, NaN for dice and sokalsneath). The metric registry lists these names.
BOOLEAN_DISSIMILARITIES = {
    "jaccard": lambda ntt, ndiff, nx, ny, d: _ratio(ndiff, ntt + ndiff),
    "dice": lambda ntt, ndiff, nx, ny, d: ndiff / (2 * ntt + ndiff),
    "rogerstanimoto": lambda ntt, ndiff, nx, ny, d: 2 * ndiff / (d + ndiff),
    "russellrao": lambda ntt, ndiff, nx, ny, d: (d - ntt) / d,
    "sokalsneath": lambda ntt, ndiff, nx, ny, d: 2 * ndiff / (ntt + 2 * ndiff),
    "yule": _yule,
}


def _boolean_from_counts(name, ndiff, nx, ny, d):
    """scipy's boolean dissimilarity ``name`` from the counts of differing bits ``ndiff``
    (block), the numbers of true bits per row (nx (b, 1), ny (1, m)) and the length d;
    c_TT = true in both = (nx + ny - ndiff) / 2."""
    ntt = (nx + ny - ndiff) * 0.5
    with np.errstate(divide="ignore", invalid="ignore"):
        return BOOLEAN_DISSIMILARITIES[name](ntt, ndiff, nx, ny, d)


def boolean_matrix(X, Y, sym, out, name, n_threads):
    """A boolean dissimilarity of boolean rows: differing bits counted by popcount on
    bit-packed rows, in blocks of rows, then the formula (float64)."""
    d = X.shape[1]
    Xb = pack_bits(X)
    Yt = groups_of_8(Xb if sym else pack_bits(Y))
    m = Y.shape[0]
    nx = np.count_nonzero(X, axis=1).astype(np.float64)
    ny = nx if sym else np.count_nonzero(Y, axis=1).astype(np.float64)
    step = max(256, 64 * n_threads)
    tmp = np.empty((min(step, X.shape[0]), m), dtype=np.int32)
    for i0 in range(0, X.shape[0], step):
        i1 = min(X.shape[0], i0 + step)
        t = tmp[: i1 - i0]
        _dist.hamming_packed_matrix(Xb[i0:i1], Yt, m, t, 16, n_threads)
        out[i0:i1] = _boolean_from_counts(name, t.astype(np.float64), nx[i0:i1, None],
                                          ny[None, :], d)
    return out


# ----------------------------------------------------------------------------------------
# sequence metrics: (A, B) are encodings; B is None for A with itself
# ----------------------------------------------------------------------------------------
def levenshtein_matrix(A, B, out, prm, n_threads):
    xs, xo = A
    sym = B is None
    ys, yo = A if sym else B
    _dist.levenshtein_matrix(xs, xo, ys, yo, out, sym, n_threads)
    return out


def dtw_shift(A, B):
    """The power-of-two scaling that keeps every DTW path sum finite (and its frame
    distances clear of underflow): a path has at most n + m frames of cost at most
    2 max|x| sqrt(dim)."""
    xs, xo = A
    ys, yo = A if B is None else B
    longest = int(np.diff(xo).max(initial=0)) + int(np.diff(yo).max(initial=0))
    count = max(1, longest) * max(1, xs.shape[1])
    return _scaling.safe_shift(_scaling.max_abs(xs, ys), xs.dtype, 2, count * count)


def dtw_matrix(A, B, out, prm, n_threads):
    xs, xo = A
    sym = B is None
    ys, yo = A if sym else B
    k = dtw_shift(A, B)
    if k:
        xs = _scaling.scaled(xs, k)
        ys = xs if sym else _scaling.scaled(ys, k)
    _dist.dtw_matrix(xs, xo, ys, yo, out, prm["window"], sym, n_threads)
    return _scaling.unscale(out, k, 1)


def hamming_strings_matrix(A, B, out, prm, n_threads):
    """A, B: float32 code-point matrices (n, L) of equal-length strings."""
    sym = B is None
    L = A.shape[1]
    if L == 0:
        out[...] = 0
        return out
    tmp = np.empty(out.shape, dtype=np.float32)
    _fast.reduce_dense(A, A if sym else B, tmp, _fast.OP_NEQ, _fast.POST_NONE, 0.0, sym,
                       n_threads)
    out[...] = tmp  # exact counts (float32 holds integers below 2^24)
    out /= L
    return out
