"""The exact Euclidean search (a GEMM lower bound, exact values for the pairs it keeps),
the compiled radius search, and results that do not depend on the thread count."""
import numpy as np
import pytest
import sklearn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from fastml.metrics import _knn, pairwise_distances
from fastml.metrics.distance import kneighbors
from fastml.neighbors import NearestNeighbors


def brute_knn(Q, F, k):
    """The k smallest (squared distance in float64, index) pairs per query."""
    D = cdist(Q.astype(np.float64), F.astype(np.float64), "sqeuclidean")
    order = np.lexsort((np.broadcast_to(np.arange(F.shape[0]), D.shape), D), axis=1)[:, :k]
    return np.take_along_axis(D, order, 1), order


def low_rank(rng, n, d, rank, dtype, scale=1.0):
    return (rng.random((n, rank)) @ rng.random((rank, d)) * scale).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(40, 300, 7), (300, 5000, 160), (260, 4500, 300)])
def test_exact_knn_vs_brute_force(shape, dtype, rng):
    # low-rank data: the projected filter prunes (wide data, enough rows and queries)
    n, m, d = shape
    F = low_rank(rng, m, d, 12, dtype)
    Q = low_rank(rng, n, d, 12, dtype)
    for k in (1, 6):
        dist, ind = _knn.knn_sqeuclidean(Q, F, k, 2, {})
        D, I = brute_knn(Q, F, k)
        np.testing.assert_array_equal(ind, I)
        np.testing.assert_allclose(dist, D, rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_exact_knn_orders_exact_ties_by_index(rng):
    # integer points on a grid: many neighbours at exactly equal distances
    F = rng.integers(0, 3, size=(5000, 130)).astype(np.float32)
    Q = np.concatenate([F[:200], rng.integers(0, 3, size=(100, 130)).astype(np.float32)])
    dist, ind = _knn.knn_sqeuclidean(Q, F, 9, 2, {})
    D, I = brute_knn(Q, F, 9)
    np.testing.assert_array_equal(ind, I)
    np.testing.assert_array_equal(dist, D.astype(np.float32))


def test_unprunable_data_fall_back_to_the_full_width_filter(rng):
    # isotropic noise: a 64-dimensional projection bounds nothing; the pilot block notices
    # and the rest runs the full-width filter; the answer is the same exact one
    F = rng.normal(size=(4200, 200)).astype(np.float32)
    Q = rng.normal(size=(300, 200)).astype(np.float32)
    cache = {}
    dist, ind = _knn.knn_sqeuclidean(Q, F, 4, 2, cache)
    assert cache["proj"] is not None
    D, I = brute_knn(Q, F, 4)
    np.testing.assert_array_equal(ind, I)


@pytest.mark.parametrize("offset", [1e4, -3e3])
def test_exact_knn_far_from_the_origin_float32(offset, rng):
    F = (offset + rng.random((500, 20))).astype(np.float32)
    Q = (offset + rng.random((30, 20))).astype(np.float32)
    dist, ind = kneighbors(Q, F, 3)
    D, I = brute_knn(Q, F, 3)
    np.testing.assert_array_equal(ind, I)
    np.testing.assert_allclose(dist, np.sqrt(D), rtol=1e-6)


# ------------------------------------------------------------------------------------
# radius neighbours
# ------------------------------------------------------------------------------------
RADIUS_METRICS = [("euclidean", {}, "euclidean"), ("sqeuclidean", {}, "sqeuclidean"),
                  ("manhattan", {}, "cityblock"), ("chebyshev", {}, "chebyshev"),
                  ("cosine", {}, "cosine"), ("minkowski", {"p": 3}, "minkowski"),
                  ("minkowski", {"p": 1.5}, "minkowski")]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("metric,params,smetric", RADIUS_METRICS)
def test_radius_neighbors_vs_definition(metric, params, smetric, dtype, rng):
    F = rng.random((400, 9)).astype(dtype)
    Q = rng.random((50, 9)).astype(dtype)
    E = cdist(Q.astype(np.float64), F.astype(np.float64), smetric, **params)
    radius = float(np.quantile(E, 0.05))
    nn = NearestNeighbors(metric=metric, metric_params=params or None, algorithm="brute",
                          n_jobs=2).fit(F)
    dist, ind = nn.radius_neighbors(Q, radius=radius, sort_results=True)
    # float32 distances are decided in float64: only pairs within float64 rounding of
    # the radius may differ from the definition
    tol = 1e-12 * radius
    for i in range(len(Q)):
        truth = np.flatnonzero(E[i] <= radius)
        diff = set(truth) ^ set(ind[i])
        assert all(abs(E[i, j] - radius) <= tol for j in diff), (i, diff)
        assert dist[i].dtype == dtype
        np.testing.assert_allclose(dist[i], E[i, ind[i]],
                                   rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)
        assert np.all(np.diff(dist[i]) >= 0)
    # unsorted results: increasing indices
    ind2 = nn.radius_neighbors(Q, radius=radius, return_distance=False)
    for a, b in zip(ind, ind2):
        np.testing.assert_array_equal(np.sort(a), b)


def test_radius_neighbors_float32_decided_in_float64(rng):
    F = rng.random((3000, 150)).astype(np.float32)
    Q = F[:300] + np.float32(1e-3) * rng.random((300, 150)).astype(np.float32)
    E = cdist(Q.astype(np.float64), F.astype(np.float64))
    radius = float(np.sort(E, axis=1)[:, 3].mean())
    ind = NearestNeighbors(algorithm="brute").fit(F).radius_neighbors(
        Q, radius=radius, return_distance=False)
    for i in range(len(Q)):
        np.testing.assert_array_equal(ind[i], np.flatnonzero(E[i] <= radius))


def test_radius_neighbors_self_query_projected(rng):
    # the projected path (wide, many rows) with the training set as queries
    X = low_rank(rng, 4500, 200, 10, np.float32)
    E = cdist(X[:300].astype(np.float64), X.astype(np.float64))
    radius = float(np.quantile(E, 0.002))
    nn = NearestNeighbors(radius=radius, algorithm="brute").fit(X)
    dist, ind = nn.radius_neighbors()
    for i in range(300):
        truth = np.flatnonzero(E[i] <= radius)
        np.testing.assert_array_equal(ind[i], truth[truth != i])


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "levenshtein"])
def test_negative_radius_raises(metric):
    X = [[0.0, 1.0], [1.0, 1.0], [2.0, 0.0]] if metric != "levenshtein" else ["ab", "b", "c"]
    nn = NearestNeighbors(metric=metric, algorithm="brute").fit(X)
    with pytest.raises(ValueError, match=r"radius == -1.0, must be >= 0"):
        nn.radius_neighbors(X, radius=-1)
    with pytest.raises(ValueError, match="must be >= 0"):
        nn.radius_neighbors(radius=float("nan"))
    # scikit-learn raises the same for its brute force
    if metric != "levenshtein":
        from sklearn.neighbors import NearestNeighbors as SkNN

        with pytest.raises(ValueError, match=r"radius == -1.0, must be >= 0"):
            SkNN(algorithm="brute").fit(X).radius_neighbors(X, radius=-1)


def test_hamming_on_empty_strings_is_zero():
    X = ["", "", ""]
    dist, ind = NearestNeighbors(n_neighbors=2, metric="hamming").fit(X).kneighbors([""])
    np.testing.assert_array_equal(dist, [[0.0, 0.0]])
    np.testing.assert_array_equal(ind, [[0, 1]])
    np.testing.assert_array_equal(pairwise_distances([""], X, metric="hamming"), 0)


@pytest.mark.parametrize("where", ["queries", "training"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_under_assume_finite_is_named(where, dtype, rng):
    X = rng.random((50, 4)).astype(dtype)
    Q = rng.random((5, 4)).astype(dtype)
    (Q if where == "queries" else X)[2, 1] = np.nan
    with sklearn.config_context(assume_finite=True):
        nn = NearestNeighbors(n_neighbors=3, algorithm="brute").fit(X)
        with pytest.raises(ValueError, match="NaN"):
            nn.kneighbors(Q)


# ------------------------------------------------------------------------------------
# the same bits for any number of threads
# ------------------------------------------------------------------------------------
NUMERIC = ["euclidean", "sqeuclidean", "manhattan", "chebyshev", "cosine", "hamming",
           "minkowski"]


def _same_for_threads(f):
    ref = f(1)
    for t in (2, 3):
        other = f(t)
        for a, b in zip(ref if isinstance(ref, tuple) else (ref,),
                        other if isinstance(other, tuple) else (other,)):
            if a.dtype == object:
                assert all(np.array_equal(x, y) for x, y in zip(a, b))
            else:
                assert a.tobytes() == b.tobytes()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(n=st.integers(1, 70), m=st.integers(1, 90), d=st.integers(1, 40),
       metric=st.sampled_from(NUMERIC), f32=st.booleans(), seed=st.integers(0, 2**16),
       binary=st.booleans())
def test_numeric_bits_do_not_depend_on_threads(n, m, d, metric, f32, seed, binary):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Y = rng.normal(size=(m, d))
    if binary:
        X, Y = (X > 0).astype(float), (Y > 0).astype(float)
    if f32:
        X, Y = X.astype(np.float32), Y.astype(np.float32)
    kw = {"p": 3} if metric == "minkowski" else {}
    _same_for_threads(lambda t: pairwise_distances(X, Y, metric=metric, n_jobs=t, **kw))
    _same_for_threads(lambda t: pairwise_distances(X, metric=metric, n_jobs=t, **kw))
    k = min(m, 5)
    nn = NearestNeighbors(n_neighbors=k, metric=metric, metric_params=kw or None,
                          algorithm="brute")
    nn.fit(Y)

    def knn(t):
        return nn.set_params(n_jobs=t).kneighbors(X)

    _same_for_threads(knn)
    radius = float(np.quantile(pairwise_distances(X, Y, metric=metric, **kw), 0.3))

    def rad(t):
        return nn.set_params(n_jobs=t).radius_neighbors(X, radius=radius,
                                                        sort_results=True)

    _same_for_threads(rad)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 40), m=st.integers(1, 40), seed=st.integers(0, 2**16),
       metric=st.sampled_from(["levenshtein", "dtw", "hamming"]))
def test_sequence_bits_do_not_depend_on_threads(n, m, seed, metric):
    rng = np.random.default_rng(seed)
    if metric == "dtw":
        X = [rng.normal(size=rng.integers(1, 20)) for _ in range(n)]
        Y = [rng.normal(size=rng.integers(1, 20)) for _ in range(m)]
    else:
        lengths = (lambda: 7) if metric == "hamming" else (lambda: rng.integers(0, 90))
        X = ["".join(rng.choice(list("abcd"), lengths())) for _ in range(n)]
        Y = ["".join(rng.choice(list("abcd"), lengths())) for _ in range(m)]
    _same_for_threads(lambda t: pairwise_distances(X, Y, metric=metric, n_jobs=t))
    _same_for_threads(lambda t: pairwise_distances(X, metric=metric, n_jobs=t))
    nn = NearestNeighbors(n_neighbors=min(m, 3), metric=metric).fit(Y)
    _same_for_threads(lambda t: nn.set_params(n_jobs=t).kneighbors(X))
    _same_for_threads(lambda t: nn.set_params(n_jobs=t).radius_neighbors(X, radius=3.0))


def test_wide_search_bits_do_not_depend_on_threads(rng):
    # the projected path, the pilot block and the split over train blocks
    F = low_rank(rng, 4200, 140, 9, np.float32)
    for n in (1, 3, 300):
        Q = low_rank(rng, n, 140, 9, np.float32)
        nn = NearestNeighbors(n_neighbors=7, algorithm="brute").fit(F)
        _same_for_threads(lambda t: nn.set_params(n_jobs=t).kneighbors(Q))
        _same_for_threads(lambda t: nn.set_params(n_jobs=t).radius_neighbors(Q, radius=0.8))


def test_ties_at_the_kth_neighbour_go_to_the_smaller_index():
    # digits: integer pixels, many neighbours at exactly equal distances; fastml keeps the
    # smallest training indices among them on every path (scikit-learn's brute force
    # keeps whichever its GEMM rounding ranks first; see the README)
    from sklearn.datasets import load_digits

    X = load_digits().data[:300]
    for k in (5, 10):
        dist, ind = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(X).kneighbors(X)
        D, I = brute_knn(X, X, k)
        np.testing.assert_array_equal(ind, I)
        np.testing.assert_allclose(dist, np.sqrt(D), rtol=1e-14)
        # the self-query (each point not its own neighbour) too
        dist, ind = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(X).kneighbors()
        D, I = brute_knn(X, X, k + 1)
        keep = I != np.arange(len(X))[:, None]
        keep[keep.all(axis=1), 0] = False  # self not among them: the first goes (as sklearn)
        np.testing.assert_array_equal(ind, I[keep].reshape(len(X), k))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_self_query_with_many_neighbours_and_ties(dtype, rng):
    # a self-query (the queries are the training rows: their filter rows are reused),
    # large k (the pilot lets many pairs through, so the two filters are timed against
    # each other on the next blocks), integer data (exact ties at the k-th place)
    F = np.concatenate([rng.integers(0, 3, size=(4000, 130)),
                        low_rank(rng, 600, 130, 5, np.float64) * 3]).astype(dtype)
    k = 60
    dist, ind = _knn.knn_sqeuclidean(F, F, k, 2, {})
    D, I = brute_knn(F, F, k)
    np.testing.assert_array_equal(ind, I)
    np.testing.assert_allclose(dist, D, rtol=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("faster", ["projected", "full-width"])
def test_the_timed_choice_of_filter_does_not_change_the_bits(faster, rng, monkeypatch):
    # whichever filter the timing picks for the rest of the queries, the answer is the
    # same exact one, bit for bit
    F = rng.integers(0, 4, size=(4300, 140)).astype(np.float32)
    expected = brute_knn(F, F, 40)
    clock = iter(range(10 ** 6))
    calls = []

    def fake_clock():
        # t0, t1, t2 around the timed blocks: full-width first, projected second
        calls.append(None)
        t = next(clock)
        if faster == "projected":
            return [0.0, 10.0, 11.0][len(calls) - 1] if len(calls) <= 3 else float(t)
        return [0.0, 1.0, 11.0][len(calls) - 1] if len(calls) <= 3 else float(t)

    monkeypatch.setattr(_knn.time, "perf_counter", fake_clock)
    dist, ind = _knn.knn_sqeuclidean(F, F, 40, 2, {})
    assert len(calls) == 3  # the choice was measured
    np.testing.assert_array_equal(ind, expected[1])
    np.testing.assert_array_equal(dist, expected[0].astype(np.float32))
