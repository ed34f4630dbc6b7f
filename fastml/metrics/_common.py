"""Low-level helpers shared by the distance and kernel routines of :mod:`fastml.metrics`:
row norms, Gram products, bit packing and work chunking. Inputs are already validated."""
import numpy as np
import scipy.sparse as sp

from fastml.metrics import _pairwise_fast as _fast
from fastml.utils import blas_threads

# Chunk sizes of the k-nearest-neighbour search (rows of queries x rows of train): the
# scratch per thread is bx * by values whatever the data size.
GEMM_CHUNKS = (512, 2048)
TILE_BYTES = 256 * 1024


_NO_NORMS = {np.dtype(np.float32): np.zeros(1, np.float32),
             np.dtype(np.float64): np.zeros(1, np.float64)}


def gram(X, Y, out, symmetric, n_threads, kind=_fast.GRAM_NONE, a=None, b=None, p0=0.0,
         p1=0.0, ip=0):
    """out = map(X @ Y.T), the whole matrix (K(X, X) when ``symmetric``: Y is ignored).

    ``kind``, ``a``, ``b``, ``p0``, ``p1``, ``ip``: the element-wise map of the kernel
    (``_pairwise_fast.GRAM_*``: none, rbf from the squared norms ``a``/``b`` of the rows
    of X/Y, integer power, tanh), applied to each tile while it is in cache.

    Dense input runs in fixed tiles (``_pairwise_fast.gram_tiles``) with BLAS limited to
    one thread inside fastml's own parallel loop: the tiles depend on the shapes only, so
    the result has the same bits for any ``n_threads``. Sparse input: scipy's product
    (one thread), then the map. Returns False (the whole matrix is filled; callers that
    once mirrored an upper triangle need not)."""
    dtype = out.dtype
    if a is None:
        a = b = _NO_NORMS[dtype]
    elif b is None:
        b = a
    if sp.issparse(X) or (Y is not None and sp.issparse(Y)):
        Yt = X if symmetric else Y
        prod = X @ Yt.T
        if sp.issparse(prod):
            prod.toarray(out=out)
        else:
            out[...] = prod
        _fast.gram_post(out, kind, a, b, float(p0), float(p1), int(ip), n_threads)
        if symmetric and kind == _fast.GRAM_RBF:
            np.fill_diagonal(out, 1)
        return False
    with blas_threads(1):
        _fast.gram_tiles(X, X if symmetric else Y, out, symmetric, kind, a, b, float(p0),
                         float(p1), int(ip), n_threads)
    return False


def row_stats(A, n_threads):
    """(squared norms of the rows, min, max) of a dense array in one pass."""
    sq = np.empty(A.shape[0], dtype=A.dtype)
    lo, hi = _fast.row_stats(A, sq, n_threads)
    return sq, lo, hi


def row_sq_norms(A):
    """Squared Euclidean norm of every row (dense or sparse), in A's dtype."""
    if sp.issparse(A):
        return np.asarray(A.multiply(A).sum(axis=1), dtype=A.dtype).ravel()
    return np.einsum("ij,ij->i", A, A)


def l2_normalize(A):
    """Rows scaled to unit Euclidean norm; zero rows stay zero (as
    ``sklearn.preprocessing.normalize``)."""
    if sp.issparse(A):
        A = sp.csr_matrix(A, copy=True)
        A.data = _pow2_rows(A.data, np.repeat(_row_exponents(A), np.diff(A.indptr)))
        norms = np.sqrt(row_sq_norms(A))
        norms[norms == 0] = 1
        return sp.csr_matrix(sp.diags(1.0 / norms).astype(A.dtype) @ A)
    if A.dtype not in (np.float32, np.float64):
        A = A.astype(np.float64)
    A = np.ascontiguousarray(A)
    out = np.empty_like(A)
    _fast.l2_normalize_rows(A, out)  # the same scaling, one pass per row in the C loop
    return out


def _row_exponents(A):
    """Per row of sparse A, the binary exponent of its largest |entry| (0 for a zero row):
    dividing the row by 2**e first keeps its squared norm clear of overflow and underflow
    (an exact scaling, so ordinary rows give the same bits). Dense rows: the C loop of
    l2_normalize_rows does the same."""
    m = np.zeros(A.shape[0], dtype=A.dtype)
    if A.nnz:
        m = np.asarray(abs(A).max(axis=1).toarray(), dtype=A.dtype).ravel()
    return np.frexp(m)[1]


def _pow2_rows(values, exponents):
    if not np.any(exponents):
        return values
    return np.ldexp(values, -exponents).astype(values.dtype, copy=False)


def is_binary(A):
    return bool(np.all((A == 0) | (A == 1)))


def pack_bits(A):
    """0/1 rows -> rows of 64-bit words (bit-packed, zero-padded)."""
    b = np.packbits(A.astype(bool, copy=False), axis=1)
    pad = (-b.shape[1]) % 8
    if pad or b.shape[1] == 0:
        b = np.concatenate([b, np.zeros((b.shape[0], pad or 8), dtype=np.uint8)], axis=1)
    return np.ascontiguousarray(b).view(np.uint64)


def groups_of_8(Pb):
    """Packed rows (m, w) -> word-major groups of 8 rows (ceil(m / 8), 8 w), zero-padded:
    the layout of fastml_hamming_packed_t8."""
    m, w = Pb.shape
    pad = (-m) % 8
    if pad:
        Pb = np.concatenate([Pb, np.zeros((pad, w), dtype=np.uint64)])
    return np.ascontiguousarray(Pb.reshape(-1, 8, w).transpose(0, 2, 1)).reshape(-1, 8 * w)


def minkowski_op(p):
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


def tile_chunks(d, itemsize):
    by = TILE_BYTES // max(1, d * itemsize)
    by = int(min(512, max(16, (by // 4) * 4)))
    return 64, by


def as_bool_2d(A):
    """A boolean 2-D array as is (no float copy), else None."""
    if isinstance(A, np.ndarray) and A.dtype == np.bool_ and A.ndim == 2:
        return np.ascontiguousarray(A)
    return None


def chunks(n, n_threads, bx, by, parts=16, multiple=4):
    """Query chunk (a multiple of ``multiple``, at most bx) small enough for about
    ``parts`` chunks, so that threads share the work; it depends on n only, never on the
    thread count, so every pair lands in the same place of the same tile whatever n_jobs
    is and the results are identical for any number of threads. (With fewer chunks than
    threads, knn_dense splits the train rows instead.)"""
    per = -(-n // parts)
    bx = int(min(bx, max(multiple, multiple * -(-per // multiple))))
    return bx, int(by)


def int32_indices(X):
    """Sparse X with 64-bit indices that fit in 32 bits -> the same matrix (a new object
    sharing the data) with 32-bit indices: some of scikit-learn's sparse loops take only
    int32 indices. Anything else is returned as is."""
    if not sp.issparse(X) or X.format not in ("csr", "csc"):
        return X
    if X.indices.dtype == np.int32 and X.indptr.dtype == np.int32:
        return X
    if X.nnz > np.iinfo(np.int32).max or max(X.shape) > np.iinfo(np.int32).max:
        return X
    X = X.copy()
    X.indices = X.indices.astype(np.int32)
    X.indptr = X.indptr.astype(np.int32)
    return X
