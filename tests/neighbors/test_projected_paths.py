"""The projected exact k-NN's internal variants: the bounds stored once or computed in
each pass, the queries searched in their own order or grouped (query_order), the small
or the large basis sketch, and the column gather of the compact copy. Each changes only
the speed: the answer is the exact one, bit for bit the same."""
import numpy as np
import pytest
from scipy.spatial.distance import cdist

from fastml.metrics import _distances, _knn


def brute_knn(Q, F, k):
    D = cdist(Q.astype(np.float64), F.astype(np.float64), "sqeuclidean")
    order = np.lexsort((np.broadcast_to(np.arange(F.shape[0]), D.shape), D), axis=1)[:, :k]
    return np.take_along_axis(D, order, 1), order


def clustered(rng, n, d, dtype, n_int=0):
    """Points around a few centres in a low-rank subspace (the projection prunes), the
    first n_int of them integer-valued (exact ties)."""
    centres = rng.random((6, 10)) * 4
    X = (centres[rng.integers(0, 6, n)] + 0.3 * rng.random((n, 10))) @ rng.random((10, d))
    X[:n_int] = np.round(X[:n_int])
    X[:, :7] = 0.5  # constant columns: the compact copy without them is searched
    return X.astype(dtype)


@pytest.fixture
def count_exact(monkeypatch):
    """Record (store flag, number of exact evaluations) of every knn_proj call."""
    calls = []
    orig = _distances.knn_proj

    def spy(*args):
        n = orig(*args)
        calls.append((args[15] if len(args) > 15 else False, n))
        return n

    monkeypatch.setattr(_knn._dist, "knn_proj", spy)
    return calls


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [4100, 4111])
def test_stored_and_recomputed_bounds_agree(dtype, m, rng, monkeypatch, count_exact):
    F = clustered(rng, m, 150, dtype, n_int=300)
    Q = np.concatenate([F[:50], clustered(rng, 300, 150, dtype)])
    expected = brute_knn(Q, F, 9)
    results = {}
    for store_bytes in (_knn.PROJ_STORE_BYTES, 0):
        monkeypatch.setattr(_knn, "PROJ_STORE_BYTES", store_bytes)
        count_exact.clear()
        dist, ind = _knn.knn_sqeuclidean(Q, F, 9, 2, {})
        assert count_exact and all(bool(s) == (store_bytes > 0) for s, _ in count_exact)
        np.testing.assert_array_equal(ind, expected[1])
        np.testing.assert_allclose(dist, expected[0], rtol=1e-6 if dtype == np.float32
                                   else 1e-12)
        results[store_bytes] = (dist, ind, sum(n for _, n in count_exact))
    a, b = results.values()
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2] == b[2]  # the same pairs evaluated exactly


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 3])
def test_grouped_query_order_gives_the_same_bits(dtype, n_threads, rng, monkeypatch):
    F = clustered(rng, 4500, 140, dtype, n_int=500)
    expected = brute_knn(F, F, 12)
    out = []
    for min_queries in (0, 10 ** 9):  # always grouped / never
        monkeypatch.setattr(_knn, "ORDER_MIN_QUERIES", min_queries)
        dist, ind = _knn.knn_sqeuclidean(F, F, 12, n_threads, {})
        np.testing.assert_array_equal(ind, expected[1])
        out.append((dist, ind))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])


@pytest.mark.parametrize("n", [1, 127, 128, 129, 3000])
def test_query_order_is_a_permutation(n, rng):
    Qa = rng.random((n, 17)).astype(np.float32)
    order = _knn.query_order(Qa)
    np.testing.assert_array_equal(np.sort(order), np.arange(n))
    # deterministic
    np.testing.assert_array_equal(order, _knn.query_order(Qa.copy()))


@pytest.mark.parametrize("max_fit, block", [(16384, 65536), (150, 97)])
def test_query_order_groups_clusters(max_fit, block, rng):
    # two far-apart clouds: no cell mixes points of both, so along the order the cloud
    # changes at most at the boundaries between the 1200 // 128 = 9 cells (a random
    # order changes about 600 times); also with centres fitted on a subsample and rows
    # assigned in blocks
    Qa = np.concatenate([rng.random((600, 5)), rng.random((600, 5)) + 100]).astype(np.float32)
    perm = rng.permutation(1200)
    order = _knn.query_order(Qa[perm], max_fit=max_fit, block=block)
    np.testing.assert_array_equal(np.sort(order), np.arange(1200))
    side = (perm[order] >= 600).astype(int)
    assert np.count_nonzero(np.diff(side)) <= 8


@pytest.mark.parametrize("small", [True, False])
def test_small_and_large_sketch_both_exact(small, rng, monkeypatch):
    F = clustered(rng, 4400, 150, np.float64, n_int=200)
    monkeypatch.setattr(_knn, "SKETCH_MIN_QUERIES", 10 ** 9 if small else 0)
    dist, ind = _knn.knn_sqeuclidean(F, F, 5, 2, {})
    D, I = brute_knn(F, F, 5)
    np.testing.assert_array_equal(ind, I)
    np.testing.assert_allclose(dist, D, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_take_columns_matches_numpy(dtype, n_threads, rng):
    for n, d in [(0, 9), (5, 1), (300, 50), (700, 400)]:
        A = rng.random((n, d)).astype(dtype)
        for keep in (np.arange(d), np.flatnonzero(rng.random(d) < 0.6), np.array([d - 1]),
                     np.array([], dtype=np.int64)):
            keep = keep.astype(np.int64)
            got = _distances.take_columns(A, keep, n_threads)
            assert got.dtype == A.dtype and got.flags.c_contiguous
            np.testing.assert_array_equal(got, A[:, keep])


def test_knn_proj_refuses_a_bad_query_order(rng):
    # the private entry point checks the order it is given (it indexes rows with it)
    F = clustered(rng, 4200, 150, np.float32)
    cache = {}
    _knn.knn_sqeuclidean(F[:300], F, 3, 1, cache)
    flt = cache["proj"]
    Qa, qadd = flt.rows(F[:40])
    args = (Qa, flt.Ft, flt.fadd_packed, flt.m, qadd, F[:40], F,
            np.empty((40, 3), np.float32), np.empty((40, 3), np.int64), 1.0, 1.0, 32, 64, 16,
            1, True)
    for bad in (np.arange(39), np.arange(1, 41), -np.arange(40)):
        with pytest.raises(ValueError, match="qrows"):
            _distances.knn_proj(*args, bad.astype(np.int64))
