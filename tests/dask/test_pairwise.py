"""fastml.dask.pairwise_kernels / kernel functions / pairwise_distances against fastml's
single-machine functions (themselves tested against scikit-learn and NumPy references)
and, for a few, against a naive NumPy formula."""
import dask
import dask.array as da
import numpy as np
import pytest

import fastml.dask as fd
from fastml import metrics as M

KERNELS = sorted(M.kernel_metrics())
NUMERIC_METRICS = ["euclidean", "sqeuclidean", "manhattan", "chebyshev", "cosine",
                   "hamming", ("minkowski", {"p": 3}), ("minkowski", {"p": 1.5})]


def _tol(dtype, d, scale=1.0):
    eps = np.finfo(dtype).eps
    return 16 * max(d, 1) * eps * scale


def _data(dtype, n=101, m=64, d=9, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.random((n, d)).astype(dtype)
    B = rng.random((m, d)).astype(dtype)
    B[5] = A[3]  # a duplicate row across the two inputs
    return A, B


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_equal_single_machine(scheduler, dtype, readonly):
    A, B = _data(dtype)
    # uneven row blocks (37), an empty block, the feature axis split (rechunked)
    T = da.from_array(readonly(A), chunks=((37, 0, 37, 27), (4, 5)))
    X = da.from_array(readonly(B), chunks=((20, 20, 24), (9,)))
    lazy = [fd.pairwise_kernels(T, X, metric=metric) for metric in KERNELS]
    results = dask.compute(*lazy)  # one graph: one round trip to the workers
    for metric, K, got in zip(KERNELS, lazy, results):
        assert K.dtype == dtype and K.shape == (101, 64)
        assert K.chunks == ((37, 0, 37, 27), (20, 20, 24))
        ref = M.pairwise_kernels(A, B, metric=metric)
        assert got.dtype == dtype
        scale = max(1.0, float(np.abs(ref).max()))
        np.testing.assert_allclose(got, ref, rtol=0, atol=_tol(dtype, 9, scale),
                                   err_msg=metric)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_symmetric_kernels(sync, dtype):
    A, _ = _data(dtype)
    T = da.from_array(A, chunks=(37, 9))
    for metric in KERNELS:
        got = fd.pairwise_kernels(T, metric=metric).compute()
        ref = M.pairwise_kernels(A, metric=metric)
        scale = max(1.0, float(np.abs(ref).max()))
        np.testing.assert_allclose(got, ref, rtol=0, atol=_tol(dtype, 9, scale),
                                   err_msg=metric)
    # diagonal blocks use the symmetric path: the RBF diagonal is exactly 1
    K = fd.rbf_kernel(T).compute()
    assert np.array_equal(np.diag(K), np.ones(101, dtype=dtype))
    assert np.array_equal(K, K.T)


def test_rbf_against_numpy(sync):
    A, B = _data(np.float64)
    T, X = da.from_array(A, chunks=(37, 9)), da.from_array(B, chunks=(30, 9))
    ref = np.exp(-0.3 * ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1))
    np.testing.assert_allclose(fd.rbf_kernel(T, X, gamma=0.3).compute(), ref,
                               rtol=0, atol=_tol(np.float64, 9))
    chi = -((A[:, None, :] - B[None, :, :]) ** 2 / (A[:, None, :] + B[None, :, :])).sum(-1)
    np.testing.assert_allclose(fd.chi2_kernel(T, X, gamma=0.5).compute(), np.exp(0.5 * chi),
                               rtol=0, atol=_tol(np.float64, 9))


@pytest.mark.parametrize("name", KERNELS)
def test_each_kernel_function(sync, name):
    A, B = _data(np.float64, n=40, m=30)
    T, X = da.from_array(A, chunks=(17, 9)), da.from_array(B, chunks=(13, 9))
    func = {"cosine": fd.cosine_similarity, "poly": fd.polynomial_kernel}.get(
        name) or getattr(fd, f"{name}_kernel")
    np.testing.assert_allclose(func(T, X).compute(),
                               M.pairwise_kernels(A, B, metric=name),
                               rtol=0, atol=_tol(np.float64, 9, 100))


def test_kernel_params_and_sums(sync):
    A, B = _data(np.float64, n=40, m=30)
    T, X = da.from_array(A, chunks=(17, 9)), da.from_array(B, chunks=(13, 9))
    got = fd.polynomial_kernel(T, X, degree=2, gamma=0.5, coef0=0.0).compute()
    np.testing.assert_allclose(got, (0.5 * A @ B.T) ** 2, rtol=1e-13)
    metric = [("rbf", 0.5, {"gamma": 2.0}), ("chi2", 2.0)]
    np.testing.assert_allclose(fd.pairwise_kernels(T, X, metric=metric).compute(),
                               M.pairwise_kernels(A, B, metric=metric), rtol=0, atol=1e-14)
    got = fd.pairwise_kernels(T, X, metric="rbf", gamma=0.1, degree=3,
                              filter_params=True).compute()
    np.testing.assert_allclose(got, M.rbf_kernel(A, B, gamma=0.1), rtol=0, atol=1e-15)
    assert fd.pairwise_kernels(T, metric="precomputed") is not None


def test_integer_input_becomes_float64(sync):
    A = np.arange(60).reshape(12, 5)
    K = fd.linear_kernel(da.from_array(A, chunks=(5, 5)))
    assert K.dtype == np.float64
    assert np.array_equal(K.compute(), (A @ A.T).astype(np.float64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_distances_equal_single_machine(scheduler, dtype, readonly):
    A, B = _data(dtype)
    T = da.from_array(readonly(A), chunks=((37, 37, 0, 27), (9,)))
    X = da.from_array(B, chunks=((20, 20, 24), (3, 6)))
    metrics = [m if isinstance(m, tuple) else (m, {}) for m in NUMERIC_METRICS]
    lazy = [(fd.pairwise_distances(T, X, metric=name, **params),
             fd.pairwise_distances(T, metric=name, **params)) for name, params in metrics]
    results = dask.compute(*lazy)
    for (name, params), (D, _), (got, Ds) in zip(metrics, lazy, results):
        ref = M.pairwise_distances(A, B, metric=name, **params)
        assert D.dtype == ref.dtype
        np.testing.assert_allclose(got, ref, rtol=0, atol=_tol(dtype, 9, 3), err_msg=name)
        np.testing.assert_allclose(Ds, M.pairwise_distances(A, metric=name, **params),
                                   rtol=0, atol=_tol(dtype, 9, 3), err_msg=name)


def test_distances_against_numpy(sync):
    A, B = _data(np.float64)
    T, X = da.from_array(A, chunks=(37, 9)), da.from_array(B, chunks=(30, 9))
    diff = A[:, None, :] - B[None, :, :]
    np.testing.assert_allclose(fd.pairwise_distances(T, X, metric="manhattan").compute(),
                               np.abs(diff).sum(-1), rtol=1e-14)
    np.testing.assert_allclose(fd.pairwise_distances(T, X).compute(),
                               np.sqrt((diff ** 2).sum(-1)), rtol=1e-12, atol=1e-7)


def test_boolean_hamming(sync):
    rng = np.random.default_rng(3)
    A, B = rng.random((50, 70)) > 0.5, rng.random((40, 70)) > 0.5
    D = fd.pairwise_distances(da.from_array(A, chunks=(13, 70)),
                              da.from_array(B, chunks=(17, 70)), metric="hamming")
    assert D.dtype == np.float64
    assert np.array_equal(D.compute(), (A[:, None, :] != B[None, :, :]).mean(-1))


def test_string_distances(scheduler):
    db = pytest.importorskip("dask.bag")
    rng = np.random.default_rng(0)
    words = ["".join(rng.choice(list("abcd"), rng.integers(0, 7))) for _ in range(45)]
    other = words[::-1][:20]
    ref = M.pairwise_distances(words, other, metric="levenshtein")
    got = fd.pairwise_distances(words, other, metric="levenshtein", partition_size=8)
    assert got.dtype == np.int32 and got.chunks[0][0] == 8
    assert np.array_equal(got.compute(), ref)
    bag = db.from_sequence(words, npartitions=4)
    got = fd.pairwise_distances(bag, other, metric="levenshtein").compute()
    assert np.array_equal(got, ref)
    sym = fd.pairwise_distances(words, metric="levenshtein", partition_size=10).compute()
    assert np.array_equal(sym, M.pairwise_distances(words, metric="levenshtein"))
    eq = ["abcde", "abxde", "zzzzz", "abcdf"]
    assert np.array_equal(fd.pairwise_distances(eq, eq, metric="hamming",
                                                partition_size=3).compute(),
                          M.pairwise_distances(eq, eq, metric="hamming"))
    seqs = [rng.random(rng.integers(1, 9)) for _ in range(15)]
    np.testing.assert_allclose(
        fd.pairwise_distances(seqs, seqs[:6], metric="dtw", window=2,
                              partition_size=4).compute(),
        M.pairwise_distances(seqs, seqs[:6], metric="dtw", window=2), rtol=1e-13)


# ----------------------------------------------------------------------------------------
# errors at the boundary
# ----------------------------------------------------------------------------------------
def _message(func, *args, **kwargs):
    with pytest.raises(Exception) as info:
        func(*args, **kwargs)
    return info.type, str(info.value)


def test_errors():
    A, B = _data(np.float64, n=10, m=8)
    T, X = da.from_array(A, chunks=(4, 9)), da.from_array(B, chunks=(4, 9))
    with pytest.raises(TypeError, match="dask.array.from_array"):
        fd.pairwise_kernels(A, X)
    with pytest.raises(TypeError, match="X must be a dask.array.Array"):
        fd.rbf_kernel(T, B)
    # an unknown metric / bad parameter: the single-machine error, same type and text
    for call, single in [
        (lambda: fd.pairwise_kernels(T, X, metric="nope"),
         lambda: M.pairwise_kernels(A, B, metric="nope")),
        (lambda: fd.chi2_kernel(T, X, gamma=-1.0), lambda: M.chi2_kernel(A, B, gamma=-1.0)),
        (lambda: fd.pairwise_distances(T, X, metric="nope"),
         lambda: M.pairwise_distances(A, B, metric="nope")),
    ]:
        assert _message(call) == _message(single)
    # scikit-learn's metrics run its code per block; the data-dependent ones need their
    # parameter (estimated per block it would differ from the single-machine result)
    got = fd.pairwise_distances(T, X, metric="correlation").compute()
    np.testing.assert_allclose(got, M.pairwise_distances(A, B, metric="correlation"),
                               rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="needs V="):
        fd.pairwise_distances(T, X, metric="seuclidean")
    with pytest.raises(TypeError, match="unexpected keyword"):
        fd.rbf_kernel(T, X, degree=3)
    with pytest.raises(ValueError, match="Incompatible dimension"):
        fd.linear_kernel(T, da.from_array(B[:, :4], chunks=(4, 4)))
    with pytest.raises(ValueError, match="2-D"):
        fd.linear_kernel(da.from_array(A[0], chunks=3))
    masked = T[T[:, 0] > 0.5]
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        fd.linear_kernel(masked)
    with pytest.raises(TypeError, match="n_jobs"):
        fd.linear_kernel(T, n_jobs=1.5)
    with pytest.raises(ValueError, match="n_jobs == 0"):
        fd.linear_kernel(T, n_jobs=0)
    with pytest.raises(TypeError, match="dask.bag"):
        fd.pairwise_distances(da.from_array(np.array(["a", "b"]), chunks=1),
                              metric="levenshtein")


def test_data_errors_raise_at_compute(sync):
    A = np.abs(_data(np.float64, n=10, m=8)[0])
    A[7, 2] = -1.0
    T = da.from_array(A, chunks=(4, 9))
    K = fd.chi2_kernel(T)  # lazy: the data are checked in the tasks
    with pytest.raises(ValueError, match="contains negative values, but the chi-squared"):
        K.compute()
    A[7, 2] = np.nan
    with pytest.raises(ValueError, match="contains NaN"):
        fd.rbf_kernel(da.from_array(A, chunks=(4, 9))).compute()


def test_result_is_lazy_and_blockwise():
    A, B = _data(np.float64)
    K = fd.rbf_kernel(da.from_array(A, chunks=(37, 9)), da.from_array(B, chunks=(32, 9)))
    assert isinstance(K, da.Array)
    assert K.numblocks == (3, 2)
    with dask.config.set(scheduler="sync"):
        assert np.allclose(K.blocks[1, 1].compute(), M.rbf_kernel(A[37:74], B[32:64]))
