"""fastml.metrics.pairwise_distances / levenshtein / dtw against independent references:
scipy's cdist, naive dynamic programmes, and invariants (hypothesis)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from fastml.metrics import dtw, levenshtein, pairwise_distances
from fastml.metrics.distance import kneighbors

from .._reference import dtw as naive_dtw
from .._reference import levenshtein as naive_levenshtein
from .._reference import levenshtein_numpy as numpy_levenshtein

NUMERIC = [
    ("euclidean", {}, "euclidean", {}),
    ("l2", {}, "euclidean", {}),
    ("sqeuclidean", {}, "sqeuclidean", {}),
    ("manhattan", {}, "cityblock", {}),
    ("cityblock", {}, "cityblock", {}),
    ("l1", {}, "cityblock", {}),
    ("chebyshev", {}, "chebyshev", {}),
    ("cosine", {}, "cosine", {}),
    ("hamming", {}, "hamming", {}),
    ("minkowski", {}, "minkowski", {"p": 2}),
    ("minkowski", {"p": 1}, "minkowski", {"p": 1}),
    ("minkowski", {"p": 3}, "minkowski", {"p": 3}),
    ("minkowski", {"p": 4}, "minkowski", {"p": 4}),
    ("minkowski", {"p": 1.5}, "minkowski", {"p": 1.5}),
    ("minkowski", {"p": np.inf}, "chebyshev", {}),
]


# ----------------------------------------------------------------------------------------
# numeric metrics vs scipy
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("metric,params,smetric,sparams", NUMERIC)
def test_numeric_vs_cdist(metric, params, smetric, sparams, dtype, rng):
    X = rng.normal(size=(41, 19)).astype(dtype)
    Y = rng.normal(size=(23, 19)).astype(dtype)
    if metric == "hamming":  # few values so that components agree often
        X, Y = np.round(X), np.round(Y)
    rtol = 2e-5 if dtype == np.float32 else 1e-12
    for A, B in ((X, Y), (X, None)):
        D = pairwise_distances(A, B, metric, **params)
        ref = cdist(A.astype(np.float64), (A if B is None else B).astype(np.float64), smetric,
                    **sparams)
        assert D.dtype == dtype
        np.testing.assert_allclose(D, ref, rtol=rtol, atol=rtol * 10)
        if B is None:
            np.testing.assert_array_equal(np.diag(D), 0)


@pytest.mark.parametrize("d", [1, 63, 64, 65, 200])
def test_hamming_binary_packed_vs_cdist(d, rng):
    X = rng.random((30, d)) < 0.4
    Y = rng.random((17, d)) < 0.4
    np.testing.assert_allclose(pairwise_distances(X, Y, "hamming"), cdist(X, Y, "hamming"))
    Xf = X.astype(np.float32)
    D = pairwise_distances(Xf, metric="hamming")
    assert D.dtype == np.float32
    np.testing.assert_allclose(D, cdist(X, X, "hamming"), rtol=1e-6)
    dist, ind = kneighbors(Xf, Y.astype(np.float32), 3, "hamming")
    ref = cdist(X, Y, "hamming")
    np.testing.assert_allclose(dist, np.sort(ref, axis=1)[:, :3], rtol=1e-6)


def test_euclidean_close_points_float32(rng):
    """GEMM cancellation: near-identical rows far from the origin keep their digits."""
    base = rng.normal(size=(1, 50)) * 1000
    X = (base + rng.normal(size=(20, 50)) * 1e-2).astype(np.float32)
    D = pairwise_distances(X, X[::-1].copy())
    ref = cdist(X.astype(np.float64), X[::-1].astype(np.float64))
    np.testing.assert_allclose(D, ref, rtol=1e-3)


def test_out_and_n_jobs_invariance(rng):
    X = rng.normal(size=(70, 9)).astype(np.float32)
    Y = rng.normal(size=(33, 9)).astype(np.float32)
    for metric, params in [("euclidean", {}), ("manhattan", {}), ("minkowski", {"p": 3}),
                           ("chebyshev", {}), ("cosine", {})]:
        a = pairwise_distances(X, Y, metric, n_jobs=1, **params)
        out = np.empty_like(a)
        b = pairwise_distances(X, Y, metric, n_jobs=2, out=out, **params)
        assert b is out
        np.testing.assert_array_equal(a, b)
    S = ["".join(rng.choice(list("abc"), rng.integers(0, 90))) for _ in range(40)]
    np.testing.assert_array_equal(pairwise_distances(S, metric="levenshtein", n_jobs=1),
                                  pairwise_distances(S, metric="levenshtein", n_jobs=2))


# ----------------------------------------------------------------------------------------
# Levenshtein
# ----------------------------------------------------------------------------------------
ALPHABETS = st.sampled_from(["ab", "abcdefghijklmnopqrstuvwxyz", "aé€😀\U00010348",
                             "ab\u4e00\u4e01\U0001f600"])


@st.composite
def string_pairs(draw, max_size=150):
    alphabet = draw(ALPHABETS)
    a = draw(st.text(alphabet=alphabet, max_size=max_size))
    b = draw(st.text(alphabet=alphabet, max_size=max_size))
    if draw(st.booleans()):  # shared prefix / suffix
        pre = draw(st.text(alphabet=alphabet, max_size=70))
        suf = draw(st.text(alphabet=alphabet, max_size=70))
        a, b = pre + a + suf, pre + b + suf
    return a, b


@settings(max_examples=300, deadline=None)
@given(string_pairs())
def test_levenshtein_vs_naive(pair):
    a, b = pair
    ref = naive_levenshtein(a, b)
    assert levenshtein(a, b) == ref
    assert levenshtein(b, a) == ref
    D = pairwise_distances([a, b], [b, a, a], metric="levenshtein")
    assert D.dtype == np.int32
    np.testing.assert_array_equal(D, [[ref, 0, 0], [0, ref, ref]])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="abc😀", max_size=80), min_size=3, max_size=8))
def test_levenshtein_metric_axioms(words):
    D = pairwise_distances(words, metric="levenshtein")
    np.testing.assert_array_equal(D, D.T)
    for i in range(len(words)):
        for j in range(len(words)):
            assert (D[i, j] == 0) == (words[i] == words[j])
            assert np.all(D[i, j] <= D[i, :] + D[:, j])  # triangle inequality


@pytest.mark.parametrize("a,b,expected", [
    ("", "", 0), ("", "abc", 3), ("abc", "", 3), ("a", "a", 0), ("a", "b", 1),
    ("kitten", "sitting", 3), ("😀", "😁", 1), ("😀x", "x", 1), ("naïve", "naive", 1),
])
def test_levenshtein_known(a, b, expected):
    assert levenshtein(a, b) == expected


@pytest.mark.parametrize("n,m", [(10000, 10000), (10000, 9000), (64, 10000)])
def test_levenshtein_long_strings(n, m, rng):
    a = "".join(rng.choice(list("acgt"), n))
    b = list(a[:m])
    for pos in rng.integers(0, len(b), 300):  # edits keep part of the alignment
        b[pos] = "acgt"[rng.integers(4)]
    b = "".join(b)
    assert levenshtein(a, b) == numpy_levenshtein(a, b)


def test_levenshtein_integer_sequences(rng):
    seqs = [rng.integers(-5, 10**12, rng.integers(0, 100)) for _ in range(12)]
    seqs[3] = seqs[2][::-1]
    D = pairwise_distances(seqs, metric="levenshtein")
    for i, a in enumerate(seqs):
        for j, b in enumerate(seqs):
            assert D[i, j] == naive_levenshtein(list(a), list(b))
    assert levenshtein([1, 2, 3], np.array([1, 3], dtype=np.uint8)) == 1


def test_string_hamming():
    X = ["karolin", "kathrin", "kerstin", "😀athrin"]
    D = pairwise_distances(X, metric="hamming")
    ref = np.array([[sum(a != b for a, b in zip(s, t)) / 7 for t in X] for s in X])
    np.testing.assert_allclose(D, ref)
    assert D.dtype == np.float64


# ----------------------------------------------------------------------------------------
# DTW
# ----------------------------------------------------------------------------------------
@settings(max_examples=80, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.integers(1, 3),
       st.one_of(st.none(), st.integers(0, 10)), st.integers(0, 2**31))
def test_dtw_vs_naive(n, m, dim, window, seed):
    r = np.random.default_rng(seed)
    a = r.normal(size=(n, dim)) if dim > 1 else r.normal(size=n)
    b = r.normal(size=(m, dim)) if dim > 1 else r.normal(size=m)
    ref = naive_dtw(a, b, window)
    assert dtw(a, b, window=window) == pytest.approx(ref, rel=1e-12)
    D = pairwise_distances([a, b], [b], metric="dtw", window=window)
    assert D[0, 0] == pytest.approx(ref, rel=1e-12)
    assert D[1, 0] == 0


def test_dtw_float32_and_knn(rng):
    S = [rng.normal(size=rng.integers(5, 40)).astype(np.float32) for _ in range(25)]
    D = pairwise_distances(S, metric="dtw", window=5)
    assert D.dtype == np.float32
    ref = np.array([[naive_dtw(a, b, 5) for b in S] for a in S])
    np.testing.assert_allclose(D, ref, rtol=1e-5)
    dist, ind = kneighbors(S[:5], S, 3, "dtw", window=5)
    np.testing.assert_allclose(dist, np.sort(ref[:5], axis=1)[:, :3], rtol=1e-5)


# ----------------------------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------------------------
def test_errors(rng):
    X = rng.normal(size=(5, 3))
    with pytest.raises(ValueError, match="NaN"):
        pairwise_distances(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="Incompatible dimension"):
        pairwise_distances(X, rng.normal(size=(4, 2)), "manhattan")
    # p < 1 is not a metric; scikit-learn's function (scipy) computes it, so does fastml
    np.testing.assert_allclose(pairwise_distances(X, metric="minkowski", p=0.5),
                               cdist(X, X, "minkowski", p=0.5), rtol=1e-12)
    with pytest.raises((TypeError, ValueError)):
        pairwise_distances(X, metric="minkowski", p="2")
    with pytest.raises(ValueError, match="window must be None or >= 0"):
        pairwise_distances([[1.0, 2.0]], metric="dtw", window=-1)
    with pytest.raises(TypeError, match=r"X\[1\] is a int"):
        pairwise_distances(["abc", 5], metric="levenshtein")
    with pytest.raises(TypeError, match=r"Y\[0\] is a NoneType"):
        pairwise_distances(["abc"], [None], metric="levenshtein")
    with pytest.raises(TypeError, match="holds strings, but metric='euclidean' is numeric"):
        pairwise_distances(["abc", "abd"], metric="euclidean")
    with pytest.raises(TypeError, match="single str"):
        pairwise_distances("abc", metric="levenshtein")
    with pytest.raises(ValueError, match=r"X\[2\] has length 2 .* equal length"):
        pairwise_distances(["abc", "abd", "ab"], metric="hamming")
    with pytest.raises(ValueError, match="'metric' parameter of pairwise_distances"):
        pairwise_distances(X, metric="foo")
    with pytest.raises(TypeError, match="unexpected keyword"):
        pairwise_distances(X, metric="euclidean", p=3)
    with pytest.raises(TypeError, match="unexpected parameter"):
        pairwise_distances(["ab"], metric="levenshtein", p=3)
    with pytest.raises(ValueError, match="frame sizes"):
        pairwise_distances([np.zeros((3, 2)), np.zeros((3, 3))], metric="dtw")
    with pytest.raises(ValueError, match="NaN"):
        dtw([1.0, np.nan], [1.0])
    with pytest.raises(ValueError, match="empty"):
        dtw([], [1.0])
    with pytest.raises(TypeError, match="both be str"):
        levenshtein("abc", [1, 2])
    with pytest.raises(ValueError, match="n_neighbors"):
        kneighbors(X, X, 6)
    with pytest.raises(ValueError, match="n_neighbors"):
        kneighbors(X, X, 0)


@pytest.mark.parametrize("symmetric", [True, False])
def test_levenshtein_matrix_groups_vs_naive(symmetric, rng):
    """Many rows: SIMD groups of 8 short rows, mixed groups (empty or > 64 symbols) and
    non-ASCII symbols, in both the symmetric and the rectangular layout."""
    alphabet = list("ab") + ["é", "😀", "\u4e00"]
    lens = [0, 1, 64, 65, 130] + list(rng.integers(0, 80, 18))
    S = ["".join(rng.choice(alphabet, n)) for n in lens]
    T = S if symmetric else S[::-1][:15]
    D = pairwise_distances(S, None if symmetric else T, metric="levenshtein", n_jobs=2)
    ref = np.array([[naive_levenshtein(a, b) for b in T] for a in S])
    np.testing.assert_array_equal(D, ref)
    dist, ind = kneighbors(S, T, 3, "levenshtein", n_jobs=2)
    order = np.lexsort((np.broadcast_to(np.arange(len(T)), ref.shape), ref), axis=1)[:, :3]
    np.testing.assert_array_equal(ind, order)


def test_levenshtein_matrix_long_groups_vs_numpy(rng):
    """Groups of multi-word patterns (up to 1024 symbols) in SIMD lanes of different
    lengths, and a group sent to the one-at-a-time path by a 1100-symbol row."""
    lens = [1100, 1000, 900, 700, 500, 300, 100, 2, 0, 640, 65, 64, 63, 129, 200, 1024]
    S = ["".join(rng.choice(list("acgt"), n)) for n in lens]
    T = [S[1][:950] + "tt", S[4][::-1], "acgt" * 40, ""]
    D = pairwise_distances(S, T, metric="levenshtein")
    ref = np.array([[numpy_levenshtein(a, b) for b in T] for a in S])
    np.testing.assert_array_equal(D, ref)
    Ds = pairwise_distances(S[:12], metric="levenshtein", n_jobs=2)
    refs = np.array([[numpy_levenshtein(a, b) for b in S[:12]] for a in S[:12]])
    np.testing.assert_array_equal(Ds, refs)


# ----------------------------------------------------------------------------------------
# boolean dissimilarities on bit-packed rows
# ----------------------------------------------------------------------------------------
BOOLEAN_METRICS = ["jaccard", "dice", "rogerstanimoto", "russellrao", "sokalsneath", "yule"]


@pytest.mark.parametrize("metric", BOOLEAN_METRICS)
@pytest.mark.parametrize("n,m,d", [(7, 5, 3), (40, 33, 130), (300, 20, 64)])
def test_boolean_metrics_vs_scipy(metric, n, m, d):
    rng = np.random.default_rng(d)
    X = rng.random((n, d)) < 0.3
    Y = rng.random((m, d)) < 0.6
    X[0] = False  # an all-false row: the 0/0 cases (scipy gives 0 or NaN)
    Y[0] = False
    X[1] = True
    with np.errstate(all="ignore"):
        ref_xy = cdist(X, Y, metric)
        ref_xx = cdist(X, X, metric)
    # exact integer counts, then one division: agreement to a few ulps
    np.testing.assert_allclose(pairwise_distances(X, Y, metric=metric), ref_xy,
                               rtol=4 * np.finfo(float).eps, atol=0, equal_nan=True)
    np.testing.assert_allclose(pairwise_distances(X, metric=metric), ref_xx,
                               rtol=4 * np.finfo(float).eps, atol=0, equal_nan=True)


def test_boolean_metrics_on_non_boolean_input_are_scikit_learns():
    import warnings

    import sklearn.metrics.pairwise as skp

    X = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 0.0]])
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        D = pairwise_distances(X, metric="jaccard")
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        R = skp.pairwise_distances(X, metric="jaccard")
    np.testing.assert_array_equal(D, R)
    assert [type(w.message) for w in ours] == [type(w.message) for w in theirs]
    with pytest.raises(ValueError, match="does not rank by jaccard"):
        kneighbors(X > 0, X > 0, 1, metric="jaccard")
