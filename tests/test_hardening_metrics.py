"""Silent-wrong-answer regressions of fastml.metrics / fastml.neighbors, each against an
independent reference (numpy in float64 or exact arithmetic, scipy, plain Python), and
hypothesis tests at the SIMD and word boundaries (lengths 7-9, 15-17, 31-33, 63-65,
127-129) against naive references."""
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

import fastml.metrics as fm
from fastml.metrics import dtw, levenshtein, pairwise_distances
from fastml.neighbors import KNeighborsClassifier, NearestNeighbors


def lev_ref(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1]


# ---------------------------------------------------------------------------------------
# overflow and underflow: scaled by powers of two, never NaN, -1 or a wrong neighbour
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1e150, 1e200, 1e300, 1e-200, 1e-300])
@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "manhattan", "chebyshev",
                                    "cosine", "minkowski"])
def test_extreme_magnitudes_float64(metric, scale, rng):
    X = rng.standard_normal((30, 5))
    T = rng.standard_normal((6, 5))
    prm = {"p": 3} if metric == "minkowski" else {}
    ref_metric = {"manhattan": "cityblock"}.get(metric, metric)
    unit = cdist(T, X, ref_metric, **prm)  # the same data at scale 1
    power = {"sqeuclidean": 2, "cosine": 0}.get(metric, 1)
    D = pairwise_distances(T * scale, X * scale, metric=metric, **prm)
    with np.errstate(over="ignore", under="ignore"):
        want = unit
        for _ in range(power):
            want = want * scale
    assert not np.isnan(D).any()
    np.testing.assert_allclose(D, want, rtol=1e-10, atol=1e-300)
    dist, ind = NearestNeighbors(n_neighbors=4, metric=metric, metric_params=prm or None,
                                   algorithm="brute").fit(
        X * scale).kneighbors(T * scale)
    np.testing.assert_array_equal(ind, np.argsort(unit, axis=1, kind="stable")[:, :4])
    np.testing.assert_allclose(dist, np.sort(want, axis=1)[:, :4], rtol=1e-10, atol=1e-300)


def test_float32_equal_rows_at_1e20_are_at_distance_0():
    X = np.full((3, 4), 1e20, dtype=np.float32)
    for metric in ("euclidean", "sqeuclidean", "cosine"):
        np.testing.assert_array_equal(pairwise_distances(X, X[:1], metric=metric), 0)


def test_knn_near_float64_overflow_finds_the_true_neighbour():
    F = np.array([[1e308], [-1e308], [5e307]])
    dist, ind = NearestNeighbors(n_neighbors=3, algorithm="brute").fit(F).kneighbors([[9e307]])
    assert ind.tolist() == [[0, 2, 1]]
    assert dist[0, 0] == pytest.approx(1e307) and np.isinf(dist[0, 2])  # 1.9e308 > max


def test_dtw_overflow_keeps_the_right_neighbour():
    seqs = [np.array([1e308, -1e308]), np.array([0.0, 0.0]), np.array([1e308, 1e308])]
    clf = KNeighborsClassifier(1, metric="dtw").fit(seqs, [0, 1, 2])
    assert clf.predict([np.array([9e307, 9e307])]).tolist() == [2]
    assert dtw(seqs[0], seqs[2]) == np.inf  # 2e308: the true value overflows
    a = np.array([[3e29, -3e29], [1e29, 2e29]], dtype=np.float32)
    b = np.zeros((3, 2), dtype=np.float32)
    want = np.linalg.norm(a.astype(np.float64), axis=1)
    assert dtw(a, b) == pytest.approx(want[0] + want[1] + want[1], rel=1e-6)


# ---------------------------------------------------------------------------------------
# float32 cancellation
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("offset", [1e3, 1e4, 1e5])
def test_float32_knn_finds_near_duplicates_far_from_the_origin(offset, rng):
    F = (offset + rng.random((2000, 10))).astype(np.float32)
    Q = F[:50] + np.float32(offset * 1e-6)  # near-duplicates of the first 50 rows
    ref = cdist(Q.astype(np.float64), F.astype(np.float64))
    _, ind = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(F).kneighbors(Q)
    got = ref[np.arange(50), ind[:, 0]]
    # the returned neighbour is as near as the true one, up to float32 rounding of d
    np.testing.assert_allclose(got, ref.min(axis=1), atol=4 * np.sqrt(10) * offset * 6e-8)


@pytest.mark.parametrize("offset", [1e2, 1e3, 1e4])
def test_float32_rbf_far_from_the_origin(offset):
    X = (offset + np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.3]])).astype(np.float32)
    Xd = X.astype(np.float64)
    want = np.exp(-((Xd[:, None] - Xd[None]) ** 2).sum(-1))
    K = fm.rbf_kernel(X, gamma=1.0)
    # error of float32 rounding of the inputs and of the result only
    np.testing.assert_allclose(K, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sep", [1e200, 1e300])
def test_rbf_of_distant_points_is_zero_not_one(sep):
    X = np.array([[0.0, 0.0], [sep, 0.0], [0.0, -sep]])
    for K in (fm.rbf_kernel(X), fm.rbf_kernel(X, X[::-1].copy()),
              fm.rbf_kernel(sp.csr_matrix(X))):
        off = ~np.eye(3, dtype=bool) if K.shape == (3, 3) and K[0, 0] == 1 else None
        if off is not None:
            np.testing.assert_array_equal(K[off], 0)
    np.testing.assert_array_equal(fm.rbf_kernel(X), np.eye(3))


def test_sparse_float32_chi2_does_not_cancel():
    A = np.array([[101.0, 102.0, 103.0], [101.0, 102.0, 103.001]], dtype=np.float32)
    Ad = A.astype(np.float64)
    s = Ad[0] + Ad[1]
    exact = -np.sum((Ad[0] - Ad[1]) ** 2 / s)
    got = fm.additive_chi2_kernel(sp.csr_matrix(A))[0, 1]
    assert got == pytest.approx(exact, rel=1e-5)
    got = fm.chi2_kernel(sp.csr_matrix(A), gamma=1e6)[0, 1]
    assert got == pytest.approx(np.exp(1e6 * exact), rel=1e-4)


# ---------------------------------------------------------------------------------------
# inputs are never modified; out= never aliases an input
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [fm.linear_kernel, fm.rbf_kernel, fm.intersection_kernel,
                                fm.chi2_kernel, fm.cosine_similarity])
def test_csr_index_dtypes_of_the_caller_are_kept(fn):
    X = sp.random(20, 30, density=0.3, format="csr", random_state=0)
    X.indptr = X.indptr.astype(np.int32)
    X.indices = X.indices.astype(np.int64)
    before = (X.indptr.copy(), X.indices.copy(), X.data.copy())
    fn(X)
    fn(X, X)
    assert X.indptr.dtype == np.int32 and X.indices.dtype == np.int64
    for a, b in zip(before, (X.indptr, X.indices, X.data)):
        np.testing.assert_array_equal(a, b)


def test_out_aliasing_a_sparse_input_is_refused():
    X = sp.csr_matrix(np.ones((3, 3)))
    X.indptr = X.indptr.astype(np.int64)
    X.indices = X.indices.astype(np.int32)
    with pytest.raises(ValueError, match="share memory"):
        fm.linear_kernel(X, out=X.data.reshape(3, 3))
    with pytest.raises(ValueError, match="share memory"):
        fm.rbf_kernel(X, out=X.data.reshape(3, 3))


# ---------------------------------------------------------------------------------------
# validation: kernel_diagonal like the kernels; messages that name the fix
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("metric, params, match", [
    ("intersection", {}, "negative"), ("hellinger", {}, "negative"),
    ("chi2", {}, "negative"), ("chi2", {"gamma": -1.0}, "gamma"),
    ("rbf", {"gamma": -2.0}, "gamma"), ("polynomial", {"degree": 0.5}, "degree"),
    ("polynomial", {"degree": "3"}, "degree"),
])
def test_kernel_diagonal_rejects_what_the_kernel_rejects(metric, params, match):
    X = -np.ones((3, 2)) if match == "negative" else np.ones((3, 2))
    with pytest.raises((ValueError, TypeError), match=match):
        fm.pairwise_kernels(X, metric=metric, **params)
    with pytest.raises((ValueError, TypeError), match=match):
        fm.kernel_diagonal(X, metric, **params)


def test_kernel_diagonal_agrees_with_the_kernel(rng):
    X = rng.random((6, 4))
    for metric in ("linear", "rbf", "chi2", "intersection", "hellinger", "polynomial",
                   "sigmoid", "cosine", "laplacian", "additive_chi2"):
        np.testing.assert_allclose(fm.kernel_diagonal(X, metric),
                                   np.diag(fm.pairwise_kernels(X, metric=metric)),
                                   rtol=1e-12, atol=1e-12)


def test_levenshtein_empty_integer_sequences():
    assert levenshtein([], []) == 0
    assert levenshtein([], [1, 2, 3]) == 3
    assert levenshtein(np.array([], dtype=np.int8), [7]) == 1
    D = pairwise_distances([[], [1, 2], np.array([2], dtype=np.uint8)], metric="levenshtein")
    np.testing.assert_array_equal(D, [[0, 2, 1], [2, 0, 1], [1, 1, 0]])


def test_levenshtein_uint64_beyond_int64_is_exact():
    big = np.array([2**64 - 1, 5], dtype=np.uint64)
    assert levenshtein(big, np.array([-1, 5])) == 1  # 2**64 - 1 is not -1
    assert levenshtein(big, big) == 0


def test_mixed_item_kinds_message_names_both_sides():
    with pytest.raises(TypeError, match=r"Y\[0\] is a list, but X\[0\] is a str"):
        pairwise_distances(["ab"], [[1, 2]], metric="levenshtein")


# ---------------------------------------------------------------------------------------
# SIMD and 64-bit word boundaries, against naive references
# ---------------------------------------------------------------------------------------
BOUNDARY_LENGTHS = [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129]
lengths = st.sampled_from(BOUNDARY_LENGTHS)


@st.composite
def boundary_strings(draw, alphabet="abc\u00e9\U0001F600"):
    n = draw(lengths)
    return draw(st.text(alphabet=alphabet, min_size=n, max_size=n))


@settings(max_examples=60, deadline=None)
@given(A=st.lists(boundary_strings(), min_size=1, max_size=9),
       B=st.lists(boundary_strings(), min_size=1, max_size=4))
def test_levenshtein_at_word_boundaries(A, B):
    ref = np.array([[lev_ref(a, b) for b in B] for a in A])
    np.testing.assert_array_equal(pairwise_distances(A, B, metric="levenshtein"), ref)
    np.testing.assert_array_equal(pairwise_distances(A, metric="levenshtein", n_jobs=2),
                                  [[lev_ref(a, b) for b in A] for a in A])
    k = len(B)
    dist, ind = NearestNeighbors(n_neighbors=k, metric="levenshtein").fit(B).kneighbors(A)
    np.testing.assert_array_equal(dist, np.sort(ref, axis=1, kind="stable"))
    np.testing.assert_array_equal(np.take_along_axis(ref, ind, 1), dist)


@settings(max_examples=40, deadline=None)
@given(n=lengths, data=st.data())
def test_hamming_strings_at_boundaries(n, data):
    words = data.draw(st.lists(st.text(alphabet="ab\u00e9", min_size=n, max_size=n),
                               min_size=1, max_size=6))
    D = pairwise_distances(words, metric="hamming")
    ref = [[(sum(x != y for x, y in zip(a, b)) / n if n else 0.0) for b in words]
           for a in words]
    np.testing.assert_allclose(D, ref, rtol=0, atol=1e-15)


@settings(max_examples=60, deadline=None)
@given(d=st.sampled_from([d for d in BOUNDARY_LENGTHS if d]), n=st.integers(1, 9),
       m=st.integers(1, 9), seed=st.integers(0, 2**32 - 1),
       dtype=st.sampled_from([np.float32, np.float64]),
       metric=st.sampled_from(["euclidean", "sqeuclidean", "manhattan", "chebyshev",
                               "hamming", "cosine"]),
       binary=st.booleans())
def test_numeric_distances_at_simd_boundaries(d, n, m, seed, dtype, metric, binary):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 2 if binary else 5, (n, d)).astype(dtype)
    Y = rng.integers(0, 2 if binary else 5, (m, d)).astype(dtype)
    if metric == "cosine":
        X[:, 0] = Y[:, 0] = 1  # no zero rows (scipy gives NaN there)
    ref = cdist(X.astype(np.float64), Y.astype(np.float64),
                {"manhattan": "cityblock"}.get(metric, metric))
    D = pairwise_distances(X, Y, metric=metric)
    eps = np.finfo(dtype).eps
    # integers up to 4: sums are exact below 2^24; roots and cosines round ~eps each
    scale = {"sqeuclidean": 16 * d, "manhattan": 4 * d}.get(metric, 4 * np.sqrt(d))
    np.testing.assert_allclose(D, ref, rtol=0, atol=8 * eps * max(1.0, scale))
    k = m
    dist, ind = NearestNeighbors(n_neighbors=k, metric=metric, algorithm="brute").fit(Y).kneighbors(X)
    np.testing.assert_allclose(dist, np.sort(ref, axis=1), rtol=0,
                               atol=8 * eps * max(1.0, scale))


@settings(max_examples=40, deadline=None)
@given(d=st.sampled_from([d for d in BOUNDARY_LENGTHS if d]), seed=st.integers(0, 2**32 - 1),
       dtype=st.sampled_from([np.float32, np.float64]),
       kernel=st.sampled_from(["intersection", "chi2", "additive_chi2", "laplacian",
                               "hellinger", "linear"]))
def test_reduction_kernels_at_simd_boundaries(d, seed, dtype, kernel):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 5, (rng.integers(1, 10), d)).astype(dtype)
    Y = rng.integers(0, 5, (rng.integers(1, 10), d)).astype(dtype)
    a, b = X.astype(np.float64)[:, None, :], Y.astype(np.float64)[None, :, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        chi = np.where(a + b > 0, (a - b) ** 2 / np.where(a + b > 0, a + b, 1), 0).sum(-1)
    ref = {"intersection": np.minimum(a, b).sum(-1), "chi2": np.exp(-chi),
           "additive_chi2": -chi, "laplacian": np.exp(-np.abs(a - b).sum(-1) / d),
           "hellinger": np.sqrt(a * b).sum(-1), "linear": (a * b).sum(-1)}[kernel]
    K = fm.pairwise_kernels(X, Y, metric=kernel)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(K, ref, rtol=16 * eps * d, atol=16 * eps * d * 4)


# ---------------------------------------------------------------------------------------
# found by the fuzzers after the estimators moved onto scikit-learn's bases
# ---------------------------------------------------------------------------------------
def test_integer_sequence_queries_are_coded_with_the_training_symbols():
    # a query symbol absent from the training items must not take the code of another
    F = [np.array([1, 2, 3]), np.array([5, 6]), np.array([7])]
    for Q in ([np.array([9]), np.array([1, 2])],
              [np.array([2**63 + 5], dtype=np.uint64), np.array([1, 2])]):
        dist, ind = NearestNeighbors(n_neighbors=3, metric="levenshtein").fit(F).kneighbors(Q)
        ref = np.array([[lev_ref(list(q), list(f)) for f in F] for q in Q])
        np.testing.assert_array_equal(dist, np.sort(ref, axis=1))
        np.testing.assert_array_equal(np.take_along_axis(ref, ind, 1), dist)


def test_nan_p_is_an_error_not_nan_distances():
    X = np.random.default_rng(0).random((5, 3))
    with pytest.raises(ValueError, match="p is NaN"):
        pairwise_distances(X, metric="minkowski", p=float("nan"))
    with pytest.raises(ValueError, match="p is NaN"):
        NearestNeighbors(metric="minkowski", metric_params={"p": float("nan")}).fit(X)


@pytest.mark.parametrize("kernel", [fm.chi2_kernel, fm.laplacian_kernel, fm.rbf_kernel])
def test_float32_gamma_beyond_float32_range(kernel, rng):
    # -gamma rounded to float32 is -inf, and -inf * 0 is NaN on the diagonal
    X = rng.random((4, 3)).astype(np.float32)
    K = kernel(X, gamma=8.8e223)
    assert K.dtype == np.float32
    np.testing.assert_array_equal(K, np.eye(4, dtype=np.float32))


def test_rbf_float32_huge_data_with_a_copy_of_itself_has_no_nan():
    # rows near 1e29 are rescaled by a power of two, which multiplies gamma beyond
    # float32's range; the kernel is then computed in float64: no NaN, and the
    # identical rows (far apart from the others) give 1 on the diagonal of K(X, X.copy())
    from fastml.metrics import rbf_kernel

    rng = np.random.default_rng(0)
    X = (rng.random((6, 45)) * 1e30).astype(np.float32)
    K = rbf_kernel(X, X.copy(), gamma=1.0 / 45)
    assert K.dtype == np.float32 and not np.isnan(K).any()
    assert np.all((K >= 0) & (K <= 1))
    np.testing.assert_array_equal(K[~np.eye(6, dtype=bool)], 0)
    np.testing.assert_array_equal(np.diag(K), 1)


def _rbf_ref(X, Y, gamma):
    """exp(-gamma ||x - y||^2) with the squared distances summed from float64
    differences: no cancellation."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    with np.errstate(over="ignore"):
        D = ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    return np.exp(-gamma * D)


def _rbf_rtol(dtype, d):
    # fastml.metrics.pairwise._EXP_RTOL is the typical relative error allowed before
    # entries are recomputed; the worst case of a sum of d terms is (d + 2) / (sqrt(d) + 2)
    # times more; then the rounding of the exponential and of the result
    from fastml.metrics.pairwise import _EXP_RTOL

    eps = float(np.finfo(dtype).eps)
    return _EXP_RTOL[np.dtype(dtype)] * (d + 2) / (np.sqrt(d) + 2) + 8 * eps


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e4, 1e30, 1e150])
@pytest.mark.parametrize("sparse", [False, True])
def test_rbf_identical_rows_far_from_the_origin_give_one(dtype, scale, sparse):
    # ||x||^2 + ||y||^2 - 2 <x, y> of two identical rows is off by ~eps ||x||^2, which
    # gamma turns into exp(-huge) = 0 where the exact value is 1: such entries are
    # recomputed from the differences of the rows
    if dtype == np.float32 and scale > 1e37:
        pytest.skip("beyond float32's range")
    rng = np.random.default_rng(1)
    X = (rng.random((7, 45)) * scale).astype(dtype)
    X[6] = X[2]
    conv = sp.csr_matrix if sparse else np.asarray
    for K in (fm.rbf_kernel(conv(X), conv(X.copy()), gamma=1.0 / 45),
              fm.rbf_kernel(conv(X), gamma=1.0 / 45)):
        assert K.dtype == dtype
        want = np.zeros((7, 7))
        np.fill_diagonal(want, 1)
        want[2, 6] = want[6, 2] = 1
        np.testing.assert_array_equal(K, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gap, gamma", [(1e4, 1.0), (1e6, 100.0), (3e3, 1e-3), (1e2, 1e3)])
def test_rbf_of_two_tight_clusters_far_apart(dtype, gap, gamma):
    # the mean lies between the clusters: centring does not remove the offset, so the
    # Gram form cancels on every pair of a cluster
    rng = np.random.default_rng(2)
    d = 16
    X = np.vstack([rng.normal(0, 0.05, (20, d)), gap + rng.normal(0, 0.05, (20, d))])
    X = X.astype(dtype)
    T = X[::3] + dtype(0.01)
    for K, want in ((fm.rbf_kernel(X, gamma=gamma), _rbf_ref(X, X, gamma)),
                    (fm.rbf_kernel(T, X, gamma=gamma), _rbf_ref(T, X, gamma))):
        assert K.dtype == dtype
        tiny = float(np.finfo(dtype).tiny)
        np.testing.assert_allclose(K, want, rtol=_rbf_rtol(dtype, d), atol=tiny)
        assert np.all(K[want > 0.5] > 0.4)  # near pairs stay near


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([np.float32, np.float64]), st.integers(1, 40), st.integers(1, 40),
       st.floats(-30, 30), st.floats(-6, 3), st.floats(-3, 3), st.integers(0, 2**31))
def test_rbf_matches_a_difference_form_reference(dtype, n, d, log_offset, log_spread,
                                                 log_gamma, seed):
    rng = np.random.default_rng(seed)
    spread, gamma = 10.0 ** log_spread, 10.0 ** log_gamma / d
    X = (10.0 ** log_offset + spread * rng.standard_normal((n, d))).astype(dtype)
    Y = np.vstack([X[: n // 2], (X[0] + spread * rng.standard_normal((3, d)))]).astype(dtype)
    K = fm.rbf_kernel(X, Y, gamma=gamma)
    np.testing.assert_allclose(K, _rbf_ref(X, Y, gamma), rtol=_rbf_rtol(dtype, d),
                               atol=float(np.finfo(dtype).tiny))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rbf_gamma_zero_or_tiny_on_huge_data(dtype):
    # rescaling huge data by 2**k multiplies gamma by 2**(-2k): gamma = 0 must stay 0
    # (every entry exp(0) = 1), and a tiny gamma must not become inf
    big = 1e30 if dtype == np.float32 else 1e300
    X = (np.array([[0.8, -0.5], [-0.5, -0.07], [-0.6, 0.5]]) * big).astype(dtype)
    np.testing.assert_array_equal(fm.rbf_kernel(X, gamma=0.0), np.ones((3, 3)))
    np.testing.assert_array_equal(fm.rbf_kernel(X, X.copy(), gamma=0.0), np.ones((3, 3)))
    if dtype == np.float32:  # float64 has no gamma small enough for data near 1e300
        g = 1e-2 / big**2  # gamma * ||x - y||^2 of order 1e-2
        want = _rbf_ref(X / big, X / big, g * big**2)
        np.testing.assert_allclose(fm.rbf_kernel(X, gamma=g), want, rtol=1e-5)


def _chi2_ref(X, Y):
    """sum_i (x_i - y_i)^2 / (x_i + y_i) in float64 from per-pair scaled data (exact
    terms, no overflow)."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    a, b = X[:, None, :] / 2, Y[None, :, :] / 2
    s = a + b
    with np.errstate(all="ignore"):
        q = np.where(s > 0, (a - b) * ((a - b) / np.where(s > 0, s, 1)), 0).sum(-1)
    return 2 * q


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", ["huge", "tiny"])
@pytest.mark.parametrize("sparse", [False, True])
def test_chi2_kernels_at_the_ends_of_the_range(dtype, scale, sparse):
    # (x - y)^2 overflows (float32 beyond ~1.8e19) or underflows long before the distance
    # does: the data are scaled by a power of two, the distance scaled back
    fi = np.finfo(dtype)
    top = float(fi.max) / 4 if scale == "huge" else float(fi.tiny) * 64
    X = (np.array([[3.0, 1.0, 0.0], [1.0, 3.0, 0.0], [0.0, 0.0, 0.5], [3.0, 1.0, 0.0]])
         / 3 * top).astype(dtype)
    conv = sp.csr_matrix if sparse else np.asarray
    q = _chi2_ref(X, X)
    A = fm.additive_chi2_kernel(conv(X))
    assert A.dtype == dtype and not np.isnan(A).any()
    eps = float(fi.eps)
    np.testing.assert_allclose(A, -q, rtol=16 * eps, atol=0)
    g = 1.0 / float(np.max(q))
    K = fm.chi2_kernel(conv(X), conv(X.copy()), gamma=g)
    np.testing.assert_allclose(K, np.exp(-g * q), rtol=64 * eps, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sparse", [False, True])
def test_chi2_kernels_with_a_wide_dynamic_range(dtype, sparse):
    # rows with features near 1e30 (float32: 1e18) beside features near 1: a power-of-two
    # rescaling of the squares would push the small terms below the smallest float;
    # (x - y) * ((x - y) / (x + y)) needs none
    big = 1e18 if dtype == np.float32 else 1e150
    X = np.array([[6.9, big, 0.0], [0.14, 0.5 * big, 3.0], [0.37, 0.0, 3.0],
                  [6.9, 0.0, 0.0]], dtype=dtype)
    conv = sp.csr_matrix if sparse else np.asarray
    q = _chi2_ref(X, X)
    A = fm.additive_chi2_kernel(conv(X))
    eps = float(np.finfo(dtype).eps)
    # sparse: sum(x) + sum(y) - sum 4 x y / (x + y) cancels to eps * (sum(x) + sum(y))
    rs = X.astype(np.float64).sum(1)
    atol = 8 * eps * (rs[:, None] + rs[None, :]) if sparse else 0
    assert np.all(np.abs(A + q) <= 16 * eps * q + atol), (A, -q)
    # the small-feature pairs (rows 2 and 3 have no big feature) are exact
    assert abs(A[2, 3] + q[2, 3]) <= 16 * eps * q[2, 3]
    K = fm.chi2_kernel(conv(X), gamma=0.1)
    np.testing.assert_allclose(K[2:, 2:], np.exp(-0.1 * q[2:, 2:]), rtol=64 * eps)


@pytest.mark.parametrize("sparse", [False, True])
def test_chi2_of_float64_data_below_1e_30(sparse):
    # no floor on x + y above the smallest normal: data near 1e-35 are as exact as any
    rng = np.random.default_rng(3)
    X = rng.random((5, 9)) * 1e-35
    X[4] = X[0]
    conv = sp.csr_matrix if sparse else np.asarray
    A = fm.additive_chi2_kernel(conv(X))
    q = _chi2_ref(X, X)
    eps = float(np.finfo(np.float64).eps)
    rs = X.sum(1)
    assert np.all(np.abs(A + q) <= 32 * eps * q + 16 * eps * (rs[:, None] + rs[None, :])), (A, -q)
    assert abs(A[0, 4]) <= 16 * eps * 2 * rs[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["rbf_kernel", "laplacian_kernel", "chi2_kernel",
                                  "additive_chi2_kernel", "polynomial_kernel",
                                  "sigmoid_kernel", "linear_kernel"])
def test_unchecked_nan_gives_nan_where_scikit_learn_does(name, dtype):
    # with assume_finite the input is not checked; a NaN row must not come back as a
    # plausible value (rbf once gave exp(-gamma max(NaN, 0)) = 1)
    import sklearn
    import sklearn.metrics.pairwise as skp

    rng = np.random.default_rng(4)
    X = rng.random((9, 5)).astype(dtype)
    Y = rng.random((4, 5)).astype(dtype)
    X[2, 1] = np.nan
    Y[3, 0] = np.nan
    with sklearn.config_context(assume_finite=True):
        for args in ((X,), (X, Y), (X, X.copy()), (Y, X)):
            want = getattr(skp, name)(*args)
            got = getattr(fm, name)(*args)
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
            ok = ~np.isnan(want)
            np.testing.assert_allclose(got[ok], want[ok], rtol=1e-4 if dtype == np.float32
                                       else 1e-10, atol=1e-6)
            assert np.isnan(got[2]).sum() >= (len(args[0]) > 4) * (got.shape[1] - 1)


def test_unchecked_nan_in_sparse_chi2_gives_nan():
    # scikit-learn refuses sparse input here: the row with NaN must be NaN, not 1
    import sklearn

    X = np.random.default_rng(5).random((5, 4))
    X[1, 2] = np.nan
    with sklearn.config_context(assume_finite=True):
        for fn in (fm.chi2_kernel, fm.additive_chi2_kernel):
            K = fn(sp.csr_matrix(X))
            assert np.isnan(K[1]).all() and np.isnan(K[:, 1]).all()
            assert not np.isnan(np.delete(np.delete(K, 1, 0), 1, 1)).any()


@pytest.mark.parametrize("kernel, shape, dtype", [("rbf_kernel", (5000, 4000), np.float32),
                                                 ("laplacian_kernel", (4000, 784), np.float64),
                                                 ("chi2_kernel", (3000, 784), np.float64)])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_ctrl_c_stops_a_long_kernel_matrix(kernel, shape, dtype, n_jobs):
    # SIGINT is looked for between tiles (GEMM + exp, or reduction tiles): an interrupted
    # call ends long before the whole matrix would be done
    import signal
    import threading
    import time

    class Stop(Exception):
        pass

    def handler(signum, frame):
        raise Stop

    X = np.random.default_rng(6).random(shape).astype(dtype)
    fn = getattr(fm, kernel)
    t0 = time.perf_counter()
    fn(X, n_jobs=n_jobs)
    whole = time.perf_counter() - t0
    previous = signal.signal(signal.SIGINT, handler)
    timer = threading.Timer(whole / 10, signal.pthread_kill,
                            (threading.main_thread().ident, signal.SIGINT))
    t0 = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(Stop):
            fn(X, n_jobs=n_jobs)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    # (without the checks the handler would run only once the whole matrix is done)
    assert time.perf_counter() - t0 < whole / 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("where", ["subnormal", "tiny", "huge"])
def test_cosine_of_rows_at_the_ends_of_the_range(dtype, where):
    # each row is brought to a largest |value| in [0.5, 1) by an exact power of two before
    # its norm is taken: no 0/0 from underflow, no inf/inf from overflow
    fi = np.finfo(dtype)
    scale = {"subnormal": float(fi.smallest_subnormal) * 2**12, "tiny": float(fi.tiny),
             "huge": float(fi.max) / 4}[where]
    rng = np.random.default_rng(7)
    X = (rng.random((5, 9)) * scale).astype(dtype)
    X[2] = 0
    Xd = X.astype(np.float64)
    top = np.abs(Xd).max(axis=1)
    Xs = np.ldexp(Xd, -np.frexp(top)[1][:, None])  # exact
    n = np.linalg.norm(Xs, axis=1)
    n[n == 0] = 1
    want = (Xs / n[:, None]) @ (Xs / n[:, None]).T
    got = fm.cosine_similarity(X)
    assert got.dtype == dtype and np.all(np.isfinite(got))
    eps = float(fi.eps)
    np.testing.assert_allclose(got, want, rtol=0, atol=8 * 9 * eps)
    np.testing.assert_array_equal(got[2], 0)
