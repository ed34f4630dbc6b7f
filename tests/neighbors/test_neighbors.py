"""fastml.neighbors against scikit-learn's brute-force neighbours, the vote tie rule,
string metrics, the chunk memory bound, n_jobs invariance and input errors."""
import tracemalloc

import numpy as np
import pytest
from sklearn import neighbors as skn

from fastml.metrics import pairwise_distances
from fastml.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors

METRICS = [
    ("euclidean", {}),
    ("minkowski", {"p": 2}),
    ("manhattan", {}),
    ("chebyshev", {}),
    ("minkowski", {"p": 3}),
    ("minkowski", {"p": 1.5}),
    ("cosine", {}),
]


def assert_same_neighbours(d1, i1, d2, i2, rtol):
    """Equal distances; equal indices wherever the k-th distance is not tied."""
    np.testing.assert_allclose(d1, d2, rtol=rtol, atol=rtol)
    for r in range(d1.shape[0]):
        if set(i1[r]) != set(i2[r]):
            # only allowed when the boundary distance is tied
            kth = d2[r, -1]
            diff = set(i1[r]) ^ set(i2[r])
            assert np.isclose(kth, d1[r, -1], rtol=rtol), (r, diff)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("metric,params", METRICS)
def test_kneighbors_vs_sklearn(metric, params, dtype, rng):
    X = rng.normal(size=(700, 12)).astype(dtype)
    Q = rng.normal(size=(90, 12)).astype(dtype)
    p = params.get("p", 2)
    # algorithm="brute": fastml's search ("auto" on 12 features is scikit-learn's KD-tree)
    ours = NearestNeighbors(n_neighbors=7, metric=metric, p=p, n_jobs=2,
                            algorithm="brute").fit(X)
    ref = skn.NearestNeighbors(n_neighbors=7, metric=metric, p=p, algorithm="brute").fit(
        X.astype(np.float64))
    d1, i1 = ours.kneighbors(Q)
    d2, i2 = ref.kneighbors(Q.astype(np.float64))
    assert d1.dtype == dtype
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    assert_same_neighbours(d1, i1, d2, i2, rtol)
    # X=None: each training point excluded from its own list
    d1, i1 = ours.kneighbors(n_neighbors=4)
    d2, i2 = ref.kneighbors(n_neighbors=4)
    assert not np.any(i1 == np.arange(len(X))[:, None])
    assert_same_neighbours(d1, i1, d2, i2, rtol)


@pytest.mark.parametrize("n,d,dtype", [(400, 70, np.float32), (403, 129, np.bool_),
                                       (13, 784, np.bool_), (1000, 64, np.float64)])
def test_hamming_binary_vs_sklearn(n, d, dtype, rng):
    X = (rng.random((n, d)) < 0.5).astype(dtype)
    Q = (rng.random((50, d)) < 0.5).astype(dtype)
    d1, i1 = NearestNeighbors(n_neighbors=5, metric="hamming", n_jobs=2).fit(X).kneighbors(Q)
    d2, i2 = skn.NearestNeighbors(n_neighbors=5, metric="hamming").fit(X).kneighbors(Q)
    assert d1.dtype == (np.float32 if dtype == np.float32 else np.float64)
    np.testing.assert_allclose(d1, d2, rtol=1e-6)
    # integer distances: sklearn's order among ties is not specified, ours is by index
    assert_same_neighbours(d1, i1, d2, i2, 1e-6)


@pytest.mark.parametrize("weights", ["uniform", "distance", lambda d: np.exp(-d)])
@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_predictions_vs_sklearn(weights, metric, rng):
    X = rng.normal(size=(500, 6))
    y = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int) + (X[:, 2] > 1)
    yr = X[:, 0] * 2 + np.sin(X[:, 1])
    Q = rng.normal(size=(200, 6))
    kw = dict(n_neighbors=6, weights=weights, metric=metric)
    ours = KNeighborsClassifier(**kw).fit(X, y)
    ref = skn.KNeighborsClassifier(algorithm="brute", **kw).fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(Q), ref.predict_proba(Q), atol=1e-12)
    proba = ref.predict_proba(Q)
    s = np.sort(proba, axis=1)
    untied = s[:, -1] > s[:, -2]
    np.testing.assert_array_equal(ours.predict(Q)[untied], ref.predict(Q)[untied])
    assert abs(ours.score(Q, ref.predict(Q)) - 1) < 0.1
    r1 = KNeighborsRegressor(**kw).fit(X, yr).predict(Q)
    r2 = skn.KNeighborsRegressor(algorithm="brute", **kw).fit(X, yr).predict(Q)
    np.testing.assert_allclose(r1, r2, rtol=1e-10)


@pytest.mark.parametrize("algorithm", ["brute", "kd_tree"])
def test_tie_rule_nearest_neighbour_wins(algorithm):
    kw = dict(tie_break="nearest", algorithm=algorithm)
    # query at 0; neighbours at 1 (class "b"), 2 (class "a"), 3 (class "a"), 4 ("b")
    X = np.array([[1.0], [2.0], [3.0], [4.0], [50.0]])
    y = np.array(["b", "a", "a", "b", "a"])
    clf = KNeighborsClassifier(n_neighbors=4, **kw).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba([[0.0]]), [[0.5, 0.5]])
    assert clf.predict([[0.0]])[0] == "b"  # 2-2 tie: the nearest neighbour's class
    # the same geometry mirrored: now "a" is nearest and wins
    clf = KNeighborsClassifier(n_neighbors=4, **kw).fit(-X, ["a", "b", "b", "a", "b"])
    assert clf.predict([[0.0]])[0] == "a"
    # three-way tie with k=3: the nearest decides
    X3 = np.array([[3.0], [1.0], [2.0]])
    assert KNeighborsClassifier(n_neighbors=3, **kw).fit(X3, [0, 1, 2]).predict(
        [[0.0]])[0] == 1
    if algorithm == "brute":
        # a tie in distance: equal distances are ordered by training index
        X4 = np.array([[-1.0], [1.0]])
        assert KNeighborsClassifier(n_neighbors=2, **kw).fit(X4, [7, 3]).predict(
            [[0.0]])[0] == 7


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_default_tie_rule_is_scikit_learns(weights, rng):
    """By default a tied vote goes to the smallest label, as in scikit-learn: the same
    predictions as scikit-learn's brute force, ties included."""
    X = rng.integers(0, 4, size=(300, 20)).astype(np.float64)  # many tied distances
    y = rng.integers(0, 3, 300)
    Q = rng.integers(0, 4, size=(200, 20)).astype(np.float64)
    ours = KNeighborsClassifier(n_neighbors=4, weights=weights).fit(X, y)
    ref = skn.KNeighborsClassifier(n_neighbors=4, weights=weights, algorithm="brute").fit(X, y)
    d, _ = ours.kneighbors(Q)
    untied = d[:, -1] < np.partition(np.linalg.norm(Q[:, None] - X[None], axis=2), 4,
                                     axis=1)[:, 4]
    np.testing.assert_array_equal(ours.predict(Q)[untied], ref.predict(Q)[untied])
    proba = ours.predict_proba(Q)
    np.testing.assert_array_equal(ours.predict(Q), ours.classes_[proba.argmax(axis=1)])


def test_distance_weights_exact_match_decides():
    X = np.array([[0.0], [0.1], [0.1], [0.2], [5.0]])
    y = np.array([0, 1, 1, 1, 0])
    clf = KNeighborsClassifier(n_neighbors=4, weights="distance").fit(X, y)
    assert clf.predict([[0.0]])[0] == 0
    np.testing.assert_array_equal(clf.predict_proba([[0.0]]), [[1.0, 0.0]])
    reg = KNeighborsRegressor(n_neighbors=4, weights="distance").fit(X, [10.0, 1, 2, 3, 4])
    assert reg.predict([[0.0]])[0] == 10.0


def test_n_jobs_invariance(rng):
    X = rng.normal(size=(1500, 30)).astype(np.float32)
    Q = rng.normal(size=(333, 30)).astype(np.float32)
    for metric in ["euclidean", "manhattan", "cosine", "chebyshev"]:
        r1 = NearestNeighbors(n_neighbors=5, metric=metric, n_jobs=1).fit(X).kneighbors(Q)
        r2 = NearestNeighbors(n_neighbors=5, metric=metric, n_jobs=2).fit(X).kneighbors(Q)
        np.testing.assert_array_equal(r1[0], r2[0])
        np.testing.assert_array_equal(r1[1], r2[1])


def words(rng, n, lo, hi, alphabet="abcdefghij"):
    letters = np.array(list(alphabet))
    return ["".join(rng.choice(letters, rng.integers(lo, hi + 1))) for _ in range(n)]


@pytest.mark.parametrize("lo,hi", [(0, 12), (50, 150)])
def test_levenshtein_kneighbors_vs_matrix(lo, hi, rng):
    train, test = words(rng, 300, lo, hi), words(rng, 40, lo, hi)
    D = pairwise_distances(test, train, metric="levenshtein")
    nn = NearestNeighbors(n_neighbors=5, metric="levenshtein", n_jobs=2).fit(train)
    dist, ind = nn.kneighbors(test)
    order = np.lexsort((np.broadcast_to(np.arange(300), D.shape), D), axis=1)[:, :5]
    np.testing.assert_array_equal(ind, order)
    np.testing.assert_array_equal(dist, np.take_along_axis(D, order, axis=1))
    y = np.array([len(w) % 3 for w in train])
    pred = KNeighborsClassifier(n_neighbors=5, metric="levenshtein").fit(train, y).predict(test)
    assert pred.shape == (40,)


def test_string_hamming_and_dtw_estimators(rng):
    dna = ["".join(rng.choice(list("ACGT"), 20)) for _ in range(60)]
    y = rng.integers(0, 2, 60)
    clf = KNeighborsClassifier(n_neighbors=1, metric="hamming").fit(dna, y)
    np.testing.assert_array_equal(clf.predict(dna), y)
    series = [np.sin(np.linspace(0, 6, rng.integers(20, 40)) * (1 + c)) for c in y]
    reg = KNeighborsRegressor(n_neighbors=1, metric="dtw",
                              metric_params={"window": 5}).fit(series, y.astype(float))
    np.testing.assert_array_equal(reg.predict(series), y)


def test_kneighbors_memory_bounded_by_chunks(rng):
    """20,000 training strings: the search never builds the n_query x n_train matrix."""
    train = words(rng, 20000, 3, 15, "abcdefghijklmnopqrstuvwxyz")
    queries = train[:1000]
    nn = NearestNeighbors(n_neighbors=5, metric="levenshtein", n_jobs=2).fit(train)
    tracemalloc.start()
    dist, ind = nn.kneighbors(queries)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    full = 1000 * 20000 * 4  # an int32 distance matrix: 80 MB
    assert peak < full / 10, peak
    np.testing.assert_array_equal(dist[:, 0], 0)
    # numeric kNN: chunk scratch only
    X = rng.normal(size=(20000, 16)).astype(np.float32)
    nn = NearestNeighbors(n_neighbors=5, n_jobs=2).fit(X)
    tracemalloc.start()
    nn.kneighbors(X[:2000])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2000 * 20000 * 4 / 4, peak


def test_errors(rng):
    X = rng.normal(size=(10, 3))
    with pytest.raises(ValueError, match="n_neighbors <= n_samples_fit"):
        NearestNeighbors(n_neighbors=11).fit(X).kneighbors(X)
    with pytest.raises(ValueError, match="n_neighbors < n_samples_fit"):
        NearestNeighbors(n_neighbors=10).fit(X).kneighbors()
    with pytest.raises(ValueError, match="n_neighbors"):
        NearestNeighbors(n_neighbors=0).fit(X)
    with pytest.raises(ValueError, match="Expected n_neighbors > 0"):
        NearestNeighbors().fit(X).kneighbors(X, n_neighbors=-1)
    with pytest.raises(ValueError, match="X has 2 features, but NearestNeighbors is expecting 3"):
        NearestNeighbors(n_neighbors=2).fit(X).kneighbors(X[:, :2])
    with pytest.raises(ValueError, match="NaN"):
        KNeighborsClassifier().fit(np.array([[np.nan]] * 6), [0, 1] * 3)
    with pytest.raises(ValueError, match="does not support 0 < p < 1"):
        KNeighborsClassifier(p=0.5, algorithm="kd_tree").fit(X, [0, 1] * 5)
    with pytest.raises(ValueError, match="window must be None or >= 0"):
        NearestNeighbors(metric="dtw", metric_params={"window": -2}).fit([[1.0, 2.0]] * 6)
    with pytest.raises(ValueError, match="holds strings"):
        NearestNeighbors(metric="manhattan").fit(["ab", "cd"])
    with pytest.raises(TypeError, match=r"X\[1\] is a float"):
        NearestNeighbors(metric="levenshtein").fit(["ab", 1.5])
    nn = NearestNeighbors(n_neighbors=1, metric="levenshtein").fit(["ab", "cd"])
    with pytest.raises(TypeError, match=r"X\[0\] must be a str or a 1-D integer array"):
        nn.kneighbors([3])
    with pytest.raises(ValueError, match="weights"):
        KNeighborsClassifier(weights="foo").fit(X, [0, 1] * 5)
    with pytest.raises(ValueError, match="'metric' parameter of NearestNeighbors"):
        NearestNeighbors(metric="nope").fit(X)


def test_mnist_subset_matches_sklearn(data_dir):
    from fastml.benchmarks._data import mnist_pixels

    Xtr, ytr = mnist_pixels(data_dir, 3000, "train", np.float32)
    Xte, _ = mnist_pixels(data_dir, 300, "test", np.float32)
    ours = KNeighborsClassifier(n_neighbors=5, n_jobs=2).fit(Xtr, ytr)
    ref = skn.KNeighborsClassifier(n_neighbors=5, algorithm="brute").fit(
        Xtr.astype(np.float64), ytr)
    d1, i1 = ours.kneighbors(Xte)
    d2, i2 = ref.kneighbors(Xte.astype(np.float64))
    assert_same_neighbours(d1, i1, d2, i2, 1e-4)
    proba = ref.predict_proba(Xte.astype(np.float64))
    np.testing.assert_allclose(ours.predict_proba(Xte), proba)


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev", "hamming"])
def test_constant_columns_dropped_gives_same_neighbours(metric, rng):
    """Columns constant in train and queries (MNIST's border) are skipped: same result."""
    X = np.round(rng.normal(size=(300, 48)), 1)
    Q = np.round(rng.normal(size=(40, 48)), 1)
    X[:, 5:20] = 3.0
    Q[:, 5:20] = 3.0
    d1, i1 = NearestNeighbors(n_neighbors=4, metric=metric).fit(X).kneighbors(Q)
    d2, i2 = skn.NearestNeighbors(n_neighbors=4, metric=metric, algorithm="brute").fit(
        X).kneighbors(Q)
    assert_same_neighbours(d1, i1, d2, i2, 1e-10)


@pytest.mark.parametrize("n_queries", [1, 3, 9])
@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "cosine", "minkowski"])
def test_few_queries_split_train_between_threads(n_queries, metric, rng):
    """With fewer query chunks than threads the train rows are split instead: the same
    neighbours and bitwise the same distances as one thread, and as scikit-learn."""
    X = rng.normal(size=(5000, 20)).astype(np.float32)
    Q = rng.normal(size=(n_queries, 20)).astype(np.float32)
    kw = dict(n_neighbors=6, metric=metric, p=3 if metric == "minkowski" else 2)
    r1 = NearestNeighbors(n_jobs=1, **kw).fit(X).kneighbors(Q)
    r2 = NearestNeighbors(n_jobs=2, **kw).fit(X).kneighbors(Q)
    np.testing.assert_array_equal(r1[0], r2[0])
    np.testing.assert_array_equal(r1[1], r2[1])
    ref = skn.NearestNeighbors(algorithm="brute", **kw).fit(X.astype(float)).kneighbors(
        Q.astype(float))
    assert_same_neighbours(r2[0], r2[1], ref[0], ref[1], 1e-4)


@pytest.mark.parametrize("mode", ["connectivity", "distance"])
def test_kneighbors_graph_vs_sklearn(mode, rng):
    X = rng.normal(size=(200, 5))
    Q = rng.normal(size=(30, 5))
    ours = NearestNeighbors(n_neighbors=4).fit(X)
    ref = skn.NearestNeighbors(n_neighbors=4).fit(X)
    for A in (Q, None):
        G1 = ours.kneighbors_graph(A, mode=mode)
        G2 = ref.kneighbors_graph(A, mode=mode)
        np.testing.assert_allclose(G1.toarray(), G2.toarray(), atol=1e-12)
    S = ["abc", "abd", "xyz", "xyy", "abcd"]
    G = NearestNeighbors(n_neighbors=1, metric="levenshtein").fit(S).kneighbors_graph(
        mode="distance")
    assert G.shape == (5, 5) and G.nnz == 5


def test_near_overflow_distances_are_exact_not_errors():
    # squares of 1e30 overflow float32, the distances do not: scaled by a power of two,
    # the search returns them (it used to raise, or lose candidates to inf - inf)
    X = np.array([[1e30, 0.0], [-1e30, 1.0], [4e30, 2.0]], dtype=np.float32)
    dist, ind = NearestNeighbors(n_neighbors=3, algorithm="brute").fit(X).kneighbors(X)
    ref = np.sqrt(((X[:, None, :].astype(np.float64) - X[None, :, :]) ** 2).sum(-1))
    np.testing.assert_array_equal(ind, np.argsort(ref, axis=1, kind="stable"))
    np.testing.assert_allclose(dist, np.sort(ref, axis=1), rtol=4e-7)


def test_sequence_metric_inputs_have_no_feature_count():
    clf = KNeighborsClassifier(n_neighbors=1, metric="dtw").fit([[1.0, 2.0], [3.0]], [0, 1])
    assert not hasattr(clf, "n_features_in_")
    assert clf.predict([[3.1]])[0] == 1
    nn = NearestNeighbors(n_neighbors=1, metric="hamming").fit(["abc", "abd"])
    with pytest.raises(ValueError, match="query strings have length 2 but the training"):
        nn.kneighbors(["ab"])
    with pytest.raises(ValueError, match="holds strings"):
        NearestNeighbors(n_neighbors=1).fit([["a", "b"], ["c", "d"]])


@pytest.mark.parametrize("scale", [1e200, 1e-200])
def test_auto_on_low_dimensional_data_near_overflow_uses_the_rescaling_search(scale):
    # algorithm="auto" on 2 features would build scikit-learn's KD-tree, whose float64
    # sums of squares overflow (or underflow) at this magnitude; fastml's brute force
    # rescales by a power of two and returns the exact neighbours
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 2)) * scale
    nn = NearestNeighbors(n_neighbors=3).fit(X)
    assert nn._fit_method == "brute"
    dist, ind = nn.kneighbors(X[:7])
    Xs = X / scale
    ref = np.sqrt(((Xs[:7, None, :] - Xs[None, :, :]) ** 2).sum(-1))
    np.testing.assert_array_equal(ind, np.argsort(ref, axis=1, kind="stable")[:, :3])
    np.testing.assert_allclose(dist / scale, np.sort(ref, axis=1)[:, :3], rtol=1e-12)
    # ordinary data keep scikit-learn's tree
    assert NearestNeighbors(n_neighbors=3).fit(Xs)._fit_method == "kd_tree"
