"""Exact k-NN on Dask (fastml.dask.kneighbors and the estimators) against fastml's
single-machine search (bitwise indices) and a naive NumPy (distance, index) sort."""
import dask
import dask.array as da
import numpy as np
import pytest

import fastml.dask as fd
from fastml import neighbors as single
from fastml.metrics.distance import kneighbors as single_kneighbors

METRICS = [("euclidean", {}), ("sqeuclidean", {}), ("manhattan", {}), ("chebyshev", {}),
           ("cosine", {}), ("hamming", {}), ("minkowski", {"p": 3}),
           ("minkowski", {"p": 2})]


def _tie_data(dtype, n=90, m=150, d=6, seed=0):
    """Small integers: every distance is exact in float32 and float64, and duplicate
    rows and equal distances are frequent, so the tie rule decides many positions."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 3, (m, d)).astype(dtype)
    T = rng.integers(0, 3, (n, d)).astype(dtype)
    c = min(10, n, m // 2)
    T[:c] = X[m // 2 - c:m // 2]  # queries equal to training rows
    return T, X


def _naive(T, X, k, metric):
    """(distance, index) order by brute force with NumPy (float64)."""
    T, X = T.astype(np.float64), X.astype(np.float64)
    diff = T[:, None, :] - X[None, :, :]
    D = {"euclidean": lambda: np.sqrt((diff ** 2).sum(-1)),
         "manhattan": lambda: np.abs(diff).sum(-1),
         "chebyshev": lambda: np.abs(diff).max(-1)}[metric]()
    idx = np.broadcast_to(np.arange(X.shape[0]), D.shape)
    order = np.lexsort((idx, D), axis=1)[:, :k]
    return np.take_along_axis(D, order, 1), order


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kneighbors_equals_single_machine(scheduler, dtype, readonly):
    T, X = _tie_data(dtype)
    # uneven blocks, empty blocks on both sides, k (25) larger than a train block (20)
    Td = da.from_array(readonly(T), chunks=((37, 0, 37, 16), (6,)))
    Xd = da.from_array(readonly(X), chunks=((20, 0, 20, 37, 37, 36), (2, 4)))
    lazy = [fd.kneighbors(Td, Xd, 25, metric=name, split_every=2 if j % 2 else 4, **params)
            for j, (name, params) in enumerate(METRICS)]
    results = dask.compute(*lazy)
    for (name, params), (dd, ii), (dist, ind) in zip(METRICS, lazy, results):
        d1, i1 = single_kneighbors(T, X, 25, name, **params)
        assert ind.dtype == np.int64 and dist.dtype == d1.dtype == dd.dtype, name
        assert dd.shape == (90, 25)
        assert np.array_equal(ind, i1), name
        np.testing.assert_allclose(dist, d1, rtol=4 * np.finfo(dtype).eps, atol=0,
                                   err_msg=name)


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev"])
def test_kneighbors_tie_rule_against_numpy(sync, metric):
    T, X = _tie_data(np.float64, n=40, m=120)
    dist, ind = dask.compute(*fd.kneighbors(da.from_array(T, chunks=(11, 6)),
                                            da.from_array(X, chunks=(13, 6)), 17,
                                            metric=metric, split_every=3))
    dref, iref = _naive(T, X, 17, metric)
    assert np.array_equal(ind, iref)
    np.testing.assert_allclose(dist, dref, rtol=1e-15)
    # many ties were decided by the index
    assert (np.diff(dref, axis=1) == 0).sum() > 100


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_continuous_data(sync, dtype):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((300, 20)).astype(dtype)
    T = rng.standard_normal((70, 20)).astype(dtype)
    for name in ("euclidean", "manhattan", "cosine"):
        dist, ind = dask.compute(*fd.kneighbors(da.from_array(T, chunks=(33, 20)),
                                                da.from_array(X, chunks=(64, 20)), 9,
                                                metric=name))
        d1, i1 = single_kneighbors(T, X, 9, name)
        assert np.array_equal(ind, i1)
        np.testing.assert_allclose(dist, d1, rtol=8 * np.finfo(dtype).eps)


def test_boolean_hamming_and_k_equal_n(sync):
    rng = np.random.default_rng(2)
    X, T = rng.random((50, 70)) > 0.5, rng.random((20, 70)) > 0.5
    dist, ind = dask.compute(*fd.kneighbors(da.from_array(T, chunks=7),
                                            da.from_array(X, chunks=(9, 70)), 50,
                                            metric="hamming"))
    d1, i1 = single_kneighbors(T, X, 50, "hamming")
    assert np.array_equal(ind, i1) and np.array_equal(dist, d1)
    assert np.array_equal(np.sort(ind, axis=1), np.tile(np.arange(50), (20, 1)))


def test_kneighbors_errors():
    T, X = _tie_data(np.float64, n=10, m=12)
    Td, Xd = da.from_array(T, chunks=5), da.from_array(X, chunks=5)
    with pytest.raises(ValueError, match="n_neighbors <= n_samples_fit, but n_neighbors = 13"):
        fd.kneighbors(Td, Xd, 13)
    with pytest.raises(TypeError, match="dask.array.from_array"):
        fd.kneighbors(T, Xd, 3)
    for bad, single_call in [
        (lambda: fd.kneighbors(Td, Xd, 3, metric="nope"),
         lambda: single_kneighbors(T, X, 3, "nope")),
        (lambda: fd.kneighbors(Td, Xd, 3, metric="minkowski", p=0.1),
         lambda: single_kneighbors(T, X, 3, "minkowski", p=0.1)),
        (lambda: fd.kneighbors(Td, Xd, 0), lambda: single_kneighbors(T, X, 0)),
    ]:
        with pytest.raises(Exception) as got:
            bad()
        with pytest.raises(Exception) as want:
            single_call()
        assert (got.type, str(got.value)) == (want.type, str(want.value))
    with pytest.raises(ValueError, match="split_every"):
        fd.kneighbors(Td, Xd, 3, split_every=1)
    with pytest.raises(ValueError, match="Incompatible dimension"):
        fd.kneighbors(Td, Xd[:, :3], 3)


# ----------------------------------------------------------------------------------------
# estimators
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("tie_break", ["smallest_label", "nearest"])
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_classifier_and_regressor(scheduler, weights, tie_break):
    T, X = _tie_data(np.float64, n=60, m=130)
    rng = np.random.default_rng(1)
    y = rng.choice(np.array(["a", "b", "c"]), 130)
    yr = rng.standard_normal((130, 2))
    Td, Xd = da.from_array(T, chunks=(23, 6)), da.from_array(X, chunks=(31, 6))
    clf = fd.KNeighborsClassifier(6, weights=weights, metric="manhattan",
                                  tie_break=tie_break).fit(Xd, y)
    reg = fd.KNeighborsRegressor(4, weights=weights).fit(Xd, da.from_array(yr, chunks=40))
    ref_c = single.KNeighborsClassifier(6, weights=weights, metric="manhattan", algorithm="brute",
                                        tie_break=tie_break).fit(X, y)
    ref_r = single.KNeighborsRegressor(4, weights=weights, algorithm="brute").fit(X, yr)
    pred, proba, rpred = dask.compute(clf.predict(Td), clf.predict_proba(Td),
                                      reg.predict(Td))
    assert np.array_equal(pred, ref_c.predict(T))
    np.testing.assert_allclose(proba, ref_c.predict_proba(T), rtol=1e-15)
    np.testing.assert_allclose(rpred, ref_r.predict(T), rtol=1e-14)
    assert np.array_equal(clf.classes_, ref_c.classes_)
    assert clf.score(Td, ref_c.predict(T)) == 1.0


def test_nearest_neighbors_estimator(scheduler):
    T, X = _tie_data(np.float32, n=40, m=100)
    Xd = da.from_array(X, chunks=(30, 6))
    nn = fd.NearestNeighbors(n_neighbors=7, metric="chebyshev").fit(Xd)
    ref = single.NearestNeighbors(n_neighbors=7, metric="chebyshev",
                                  algorithm="brute").fit(X)
    assert nn.n_samples_fit_ == 100 and nn.n_features_in_ == 6
    (d, i), (d0, i0) = dask.compute(nn.kneighbors(da.from_array(T, chunks=13)),
                                    nn.kneighbors())
    d1, i1 = ref.kneighbors(T)
    assert np.array_equal(i, i1) and np.array_equal(d, d1)
    d2, i2 = ref.kneighbors()  # X=None: each sample without itself
    assert np.array_equal(i0, i2) and np.array_equal(d0, d2)
    ind = nn.kneighbors(da.from_array(T, chunks=13), 3, return_distance=False).compute()
    assert np.array_equal(ind, i1[:, :3])


def test_estimator_errors(sync):
    T, X = _tie_data(np.float64, n=10, m=12)
    Xd = da.from_array(X, chunks=5)
    with pytest.raises(TypeError, match="dask.array.from_array"):
        fd.NearestNeighbors().fit(X)
    bad = X.copy()
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        fd.NearestNeighbors().fit(da.from_array(bad, chunks=5))
    nn = fd.NearestNeighbors(n_neighbors=12).fit(Xd)
    with pytest.raises(ValueError, match="n_neighbors \\+ 1"):
        nn.kneighbors()
    with pytest.raises(ValueError, match="n_neighbors = 13"):
        nn.kneighbors(da.from_array(T, chunks=5), 13)
    with pytest.raises(ValueError, match="X has 3 features, but NearestNeighbors is "
                                         "expecting 6"):
        nn.kneighbors(da.from_array(T[:, :3], chunks=5), 2)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        fd.KNeighborsClassifier().fit(Xd, np.zeros(5))
    with pytest.raises(ValueError, match="Unknown metric"):
        fd.NearestNeighbors(metric="nope").fit(Xd)
    with pytest.raises(ValueError, match="weights"):
        fd.KNeighborsRegressor(weights="nope").fit(Xd, np.zeros(12))


# ----------------------------------------------------------------------------------------
# strings and sequences
# ----------------------------------------------------------------------------------------
def _words(n, seed, alphabet="abc", lo=0, hi=6):
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list(alphabet), rng.integers(lo, hi + 1))) for _ in range(n)]


def test_levenshtein_knn(scheduler):
    db = pytest.importorskip("dask.bag")
    index = _words(120, 0)  # many duplicates and equal distances
    queries = _words(45, 1)
    d1, i1 = single_kneighbors(queries, index, 10, "levenshtein")
    d, i = dask.compute(*fd.kneighbors(queries, index, 10, metric="levenshtein",
                                       partition_size=8))
    assert d.dtype == np.int32 and np.array_equal(i, i1) and np.array_equal(d, d1)
    # a bag with an empty partition, and the index as a bag
    bag = db.from_sequence(queries, npartitions=5).filter(lambda s: True)
    parts = db.from_sequence([[]] + [queries[:20], queries[20:]], npartitions=3).flatten()
    for q in (bag, parts):
        d, i = dask.compute(*fd.kneighbors(q, db.from_sequence(index, npartitions=3), 10,
                                           metric="levenshtein"))
        assert np.array_equal(i, i1) and np.array_equal(d, d1)


def test_string_estimators(scheduler):
    db = pytest.importorskip("dask.bag")
    index = _words(90, 2)
    y = np.array([len(s) % 3 for s in index])
    queries = _words(30, 3)
    clf = fd.KNeighborsClassifier(5, metric="levenshtein", partition_size=7).fit(
        db.from_sequence(index, npartitions=4), y)
    ref = single.KNeighborsClassifier(5, metric="levenshtein").fit(index, y)
    assert np.array_equal(clf.predict(queries).compute(), ref.predict(queries))
    pred = clf.predict(db.from_sequence(queries, npartitions=3)).compute()
    assert np.array_equal(pred, ref.predict(queries))
    nn = fd.NearestNeighbors(4, metric="levenshtein", partition_size=16).fit(index)
    d, i = dask.compute(*nn.kneighbors())
    d1, i1 = single.NearestNeighbors(n_neighbors=4, metric="levenshtein").fit(index).kneighbors()
    assert np.array_equal(i, i1) and np.array_equal(d, d1)
    # Hamming on equal-length strings
    codes = _words(60, 4, "ab", 5, 5)
    nn = fd.NearestNeighbors(6, metric="hamming", partition_size=9).fit(codes)
    d, i = dask.compute(*nn.kneighbors(codes[:20]))
    d1, i1 = single.NearestNeighbors(n_neighbors=6, metric="hamming").fit(codes).kneighbors(codes[:20])
    assert np.array_equal(i, i1) and np.array_equal(d, d1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtw_knn(sync, dtype):
    rng = np.random.default_rng(7)
    index = [rng.integers(0, 3, rng.integers(1, 8)).astype(dtype) for _ in range(50)]
    queries = [rng.integers(0, 3, rng.integers(1, 8)).astype(dtype) for _ in range(20)]
    d1, i1 = single_kneighbors(queries, index, 8, "dtw", window=2)
    d, i = dask.compute(*fd.kneighbors(queries, index, 8, metric="dtw", window=2,
                                       partition_size=6))
    assert d.dtype == d1.dtype == dtype
    assert np.array_equal(i, i1) and np.array_equal(d, d1)
    reg = fd.KNeighborsRegressor(3, metric="dtw", partition_size=5).fit(
        index, np.arange(50.0))
    ref = single.KNeighborsRegressor(3, metric="dtw").fit(index, np.arange(50.0))
    np.testing.assert_allclose(reg.predict(queries).compute(), ref.predict(queries),
                               rtol=1e-15)


def test_string_errors():
    with pytest.raises(ValueError, match="n_neighbors = 4"):
        fd.kneighbors(["a"], ["a", "b", "c"], 4, metric="levenshtein")
    with pytest.raises(TypeError, match="X\\[1\\] is a int"):
        fd.NearestNeighbors(1, metric="levenshtein").fit(["a", 3])
    with pytest.raises(TypeError, match="dask.bag"):
        fd.kneighbors(da.from_array(np.array(["ab", "cd"]), chunks=1), ["ab"], 1,
                      metric="levenshtein")
    with pytest.raises(ValueError, match="partition_size"):
        fd.kneighbors(["a"], ["a"], 1, metric="levenshtein", partition_size=0)
