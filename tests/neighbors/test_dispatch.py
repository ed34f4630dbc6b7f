"""Which calls run fastml's search and which run scikit-learn's, and that both give
scikit-learn's results."""
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.neighbors as skn
from sklearn.metrics import DistanceMetric

from fastml.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors


def _data(rng, n=300, d=20, dtype=np.float64):
    return rng.normal(size=(n, d)).astype(dtype), rng.normal(size=(40, d)).astype(dtype)


@pytest.mark.parametrize("params,d,fast", [
    ({"algorithm": "brute"}, 20, True),
    ({"algorithm": "auto"}, 20, True),            # > 15 features: brute force
    ({"algorithm": "auto"}, 5, False),            # scikit-learn's KD-tree
    ({"algorithm": "kd_tree"}, 20, False),
    ({"algorithm": "ball_tree"}, 20, False),
    ({"algorithm": "brute", "metric": "manhattan"}, 20, True),
    ({"algorithm": "brute", "metric": "cosine"}, 20, True),
    ({"algorithm": "brute", "p": 3}, 20, True),
    ({"algorithm": "brute", "p": 0.5}, 20, False),  # not a metric: scikit-learn's brute
    ({"algorithm": "brute", "metric": "minkowski",
      "metric_params": {"w": np.linspace(0.5, 2, 20)}}, 20, False),
    ({"algorithm": "brute", "metric": "braycurtis"}, 20, False),
    ({"algorithm": "brute", "metric": lambda a, b: np.abs(a - b).sum()}, 20, False),
    ({"algorithm": "brute", "metric": DistanceMetric.get_metric("manhattan")}, 20, False),
])
def test_fast_path_or_scikit_learn_same_results(params, d, fast, rng):
    X, Q = _data(rng, d=d)
    ours = NearestNeighbors(n_neighbors=4, **params).fit(X)
    ref = skn.NearestNeighbors(n_neighbors=4, **params).fit(X)
    assert (ours._fastml_index is not None) == fast
    d1, i1 = ours.kneighbors(Q)
    d2, i2 = ref.kneighbors(Q)
    np.testing.assert_allclose(d1, d2, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(i1, i2)  # continuous random data: no ties
    d1, i1 = ours.kneighbors()
    d2, i2 = ref.kneighbors()
    np.testing.assert_allclose(d1, d2, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(i1, i2)


def test_sparse_input_runs_scikit_learn(rng):
    X, Q = _data(rng)
    X[X < 0.5] = 0
    ours = KNeighborsClassifier(3, algorithm="brute").fit(sp.csr_matrix(X), np.arange(300) % 3)
    assert ours._fastml_index is None
    ref = skn.KNeighborsClassifier(3, algorithm="brute").fit(sp.csr_matrix(X),
                                                             np.arange(300) % 3)
    np.testing.assert_array_equal(ours.predict(Q), ref.predict(Q))
    # dense fit, sparse queries: scikit-learn's search for that call only
    dense = KNeighborsClassifier(3, algorithm="brute").fit(X, np.arange(300) % 3)
    assert dense._fastml_index is not None
    np.testing.assert_array_equal(dense.predict(sp.csr_matrix(Q)), ref.predict(Q))


def test_query_dtypes_and_integer_data(rng):
    X, Q = _data(rng, dtype=np.float32)
    nn = NearestNeighbors(n_neighbors=3, algorithm="brute").fit(X)
    d32, i32 = nn.kneighbors(Q)
    assert d32.dtype == np.float32
    d64, i64 = nn.kneighbors(Q.astype(np.float64))  # mixed: computed in float64
    assert d64.dtype == np.float64
    np.testing.assert_array_equal(i32, i64)
    np.testing.assert_allclose(d32, d64, rtol=1e-5)
    Xi = rng.integers(0, 5, size=(100, 20))
    ours = NearestNeighbors(n_neighbors=2, algorithm="brute", metric="manhattan").fit(Xi)
    ref = skn.NearestNeighbors(n_neighbors=2, algorithm="brute", metric="manhattan").fit(Xi)
    np.testing.assert_allclose(ours.kneighbors(Xi[:10])[0], ref.kneighbors(Xi[:10])[0])


def test_boolean_hamming_fit_with_float_queries(rng):
    Xb = rng.random((200, 70)) < 0.5
    Qb = rng.random((30, 70)) < 0.5
    nn = NearestNeighbors(n_neighbors=3, metric="hamming", algorithm="brute").fit(Xb)
    assert "packed_groups" in nn._fastml_index.cache
    ref = skn.NearestNeighbors(n_neighbors=3, metric="hamming", algorithm="brute").fit(Xb)
    for q in (Qb, Qb.astype(np.float64)):
        np.testing.assert_allclose(nn.kneighbors(q)[0], ref.kneighbors(q)[0], rtol=1e-12)


def test_pickled_estimator_keeps_its_index(rng):
    X, Q = _data(rng)
    reg = KNeighborsRegressor(n_neighbors=5, algorithm="brute").fit(X, X[:, 0])
    again = pickle.loads(pickle.dumps(reg))
    assert again._fastml_index is not None
    np.testing.assert_array_equal(again.predict(Q), reg.predict(Q))
    words = NearestNeighbors(n_neighbors=1, metric="levenshtein").fit(["abc", "xyz"])
    again = pickle.loads(pickle.dumps(words))
    assert again.kneighbors(["abd"])[1][0, 0] == 0


def test_refit_drops_the_old_index(rng):
    X, Q = _data(rng)
    nn = NearestNeighbors(n_neighbors=2, algorithm="brute").fit(X)
    assert nn._fastml_index is not None
    nn.set_params(algorithm="kd_tree").fit(X)
    assert nn._fastml_index is None
    np.testing.assert_array_equal(
        nn.kneighbors(Q)[1], skn.NearestNeighbors(n_neighbors=2).fit(X).kneighbors(Q)[1])


def _same_radius_results(r1, r2, sort):
    (d1, i1), (d2, i2) = r1, r2
    assert len(i1) == len(i2)
    for a, b, da, db in zip(i1, i2, d1, d2):
        if sort:
            np.testing.assert_array_equal(a, b)
            np.testing.assert_allclose(da, db, rtol=1e-9, atol=1e-12)
        else:
            order_a, order_b = np.argsort(a), np.argsort(b)
            np.testing.assert_array_equal(a[order_a], b[order_b])
            np.testing.assert_allclose(da[order_a], db[order_b], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("block_bytes", [32 << 20, 8 * 300 * 3])  # one block; blocks of 3
@pytest.mark.parametrize("metric,radius", [("euclidean", 5.5), ("manhattan", 20.0),
                                           ("chebyshev", 2.2), ("cosine", 0.8)])
def test_radius_neighbors_vs_scikit_learn(metric, radius, block_bytes, rng, monkeypatch):
    from fastml.neighbors import _base

    monkeypatch.setattr(_base, "_RADIUS_BLOCK_BYTES", block_bytes)
    X, Q = _data(rng)
    ours = NearestNeighbors(radius=radius, metric=metric, algorithm="brute").fit(X)
    ref = skn.NearestNeighbors(radius=radius, metric=metric, algorithm="brute").fit(X)
    assert ours._fastml_index is not None
    for sort in (False, True):
        _same_radius_results(ours.radius_neighbors(Q, sort_results=sort),
                             ref.radius_neighbors(Q, sort_results=sort), sort)
        _same_radius_results(ours.radius_neighbors(sort_results=sort),
                             ref.radius_neighbors(sort_results=sort), sort)
    g1 = ours.radius_neighbors_graph(Q, mode="distance")
    g2 = ref.radius_neighbors_graph(Q, mode="distance")
    np.testing.assert_allclose(g1.toarray(), g2.toarray(), rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="return_distance must be True"):
        ours.radius_neighbors(Q, return_distance=False, sort_results=True)


def test_radius_estimators_and_string_radius(rng):
    from fastml.neighbors import RadiusNeighborsClassifier, RadiusNeighborsRegressor

    X, Q = _data(rng)
    y = (X[:, 0] > 0).astype(int)
    for ours, ref in [(RadiusNeighborsClassifier(radius=6.0, algorithm="brute"),
                       skn.RadiusNeighborsClassifier(radius=6.0, algorithm="brute")),
                      (RadiusNeighborsRegressor(radius=6.0, algorithm="brute"),
                       skn.RadiusNeighborsRegressor(radius=6.0, algorithm="brute"))]:
        ours.fit(X, y)
        assert ours._fastml_index is not None
        np.testing.assert_allclose(ours.predict(Q), ref.fit(X, y).predict(Q))
    assert not hasattr(RadiusNeighborsClassifier(), "kneighbors")
    assert not hasattr(KNeighborsClassifier(), "radius_neighbors")
    words = ["kitten", "sitting", "mitten", "bitten", "fitting"]
    nn = NearestNeighbors(radius=1, metric="levenshtein").fit(words)
    dist, ind = nn.radius_neighbors(["kitten"], sort_results=True)
    assert list(ind[0]) == [0, 2, 3] and list(dist[0]) == [0, 1, 1]
    ind = nn.radius_neighbors(radius=2, return_distance=False)  # X=None: self excluded
    assert sorted(ind[1]) == [4]


@pytest.mark.parametrize("metric", ["manhattan", "euclidean", "minkowski"])
def test_float32_radius_decisions_are_exact(metric, rng):
    """float32 distances near the radius are re-decided in float64: the neighbours are
    those of the exact distances, whatever float32 rounding (relative error ~1e-5 here)
    does. Radii 1e-9 (relative) above / below chosen exact distances: float64 decides
    them surely, float32 alone would get about half of them wrong."""
    from scipy.spatial.distance import cdist

    X = rng.random((200, 300)).astype(np.float32)
    Q = rng.random((20, 300)).astype(np.float32)
    kw = {"p": 3} if metric == "minkowski" else {}
    E = cdist(Q.astype(np.float64), X.astype(np.float64),
              "cityblock" if metric == "manhattan" else metric, **kw)
    nn = NearestNeighbors(metric=metric, algorithm="brute", **kw).fit(X)
    for q in range(len(Q)):
        j = int(rng.integers(0, len(X)))
        for factor, inside in ((1 + 1e-9, True), (1 - 1e-9, False)):
            radius = E[q, j] * factor
            dist, ind = nn.radius_neighbors(Q[q:q + 1], radius=radius)
            assert (j in set(ind[0])) == inside, (q, j, factor)
            np.testing.assert_array_equal(np.sort(ind[0]), np.flatnonzero(E[q] <= radius))
            assert dist[0].dtype == np.float32
