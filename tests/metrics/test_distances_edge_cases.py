"""Distances, k-NN, Levenshtein and DTW at the edges: magnitudes near overflow and
underflow, float32 cancellation, integer and mixed sequences, DTW windows up to 2**63 - 1,
k as large as the training set, Ctrl-C inside long calls, and hypothesis tests at the SIMD
and word boundaries (lengths 7-9, 15-17, 31-33, 63-65, 127-129), each against an
independent reference (numpy in float64 or exact arithmetic, scipy, plain Python)."""
import signal
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from fastml.metrics import dtw, levenshtein, pairwise_distances
from fastml.neighbors import KNeighborsClassifier, NearestNeighbors

from .._reference import BOUNDARY_LENGTHS
from .._reference import dtw as dtw_ref
from .._reference import levenshtein as lev_ref


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


# ---------------------------------------------------------------------------------------
# sequence queries and metric parameters
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


# ---------------------------------------------------------------------------------------
# hostile parameters: DTW windows up to 2**63 - 1, k as large as the training set (heap
# selection and heap sort, not insertion sort)
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("window", [2**31, 2**62, 2**63 - 1, 2**63 - 7])
def test_dtw_huge_window_is_unlimited(window, rng):
    a, b = rng.random(13), rng.random(9)
    want = dtw_ref(a, b)
    assert dtw(a, b, window=window) == pytest.approx(want, rel=1e-12)
    A = [rng.random(n) for n in (5, 8, 13)]
    D = pairwise_distances(A, metric="dtw", window=window)
    np.testing.assert_allclose(D, [[dtw_ref(x, y) for y in A] for x in A], rtol=1e-12)
    nn = NearestNeighbors(n_neighbors=2, metric="dtw", metric_params={"window": window})
    dist, _ = nn.fit(A).kneighbors([a])
    np.testing.assert_allclose(dist[0], np.sort([dtw_ref(a, y) for y in A])[:2],
                               rtol=1e-12)


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev", "cosine"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_k_equal_to_the_training_set(metric, dtype, rng):
    # k = n_train: the top-k is the full sorted row; ties broken by index
    F = rng.integers(1, 4, size=(3000, 3)).astype(dtype)  # many exact ties, no zero row
    Q = rng.integers(1, 4, size=(5, 3)).astype(dtype)
    dist, ind = NearestNeighbors(n_neighbors=3000, metric=metric, algorithm="brute").fit(F).kneighbors(Q)
    ref = cdist(Q.astype(np.float64), F.astype(np.float64),
                "cityblock" if metric == "manhattan" else metric)
    order = np.lexsort((np.broadcast_to(np.arange(3000), ref.shape), np.round(ref, 5)),
                       axis=1)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(dist, np.take_along_axis(ref, order, 1), atol=64 * eps * 4)
    for row_ind, row_ref in zip(ind, ref):  # a permutation, in non-decreasing distance
        assert sorted(row_ind.tolist()) == list(range(3000))
        assert np.all(np.diff(row_ref[row_ind]) >= -64 * eps * 4)


def test_k_equal_to_the_training_set_levenshtein_and_dtw(rng):
    words = ["".join(rng.choice(list("abc"), size=rng.integers(0, 8))) for _ in range(400)]
    dist, ind = NearestNeighbors(n_neighbors=400, metric="levenshtein").fit(words).kneighbors(
        ["abc"])
    ref = np.array([levenshtein("abc", w) for w in words])
    np.testing.assert_array_equal(dist[0], np.sort(ref, kind="stable"))
    np.testing.assert_array_equal(ind[0], np.argsort(ref, kind="stable"))
    seqs = [rng.random(rng.integers(1, 6)) for _ in range(300)]
    dist, ind = NearestNeighbors(n_neighbors=300, metric="dtw").fit(seqs).kneighbors(
        [seqs[0]])
    ref = np.array([dtw_ref(seqs[0], s) for s in seqs])
    np.testing.assert_allclose(dist[0], np.sort(ref), rtol=1e-12, atol=1e-12)
    assert sorted(ind[0].tolist()) == list(range(300))


# ---------------------------------------------------------------------------------------
# Ctrl-C
# ---------------------------------------------------------------------------------------
class _Interrupted(Exception):
    pass


def _interrupt_after(seconds):
    def handler(signum, frame):
        raise _Interrupted

    old = signal.signal(signal.SIGINT, handler)
    timer = threading.Timer(seconds, signal.pthread_kill,
                            (threading.main_thread().ident, signal.SIGINT))
    timer.start()

    def restore():
        timer.cancel()
        signal.signal(signal.SIGINT, old)

    return restore


def _long_calls():
    rng = np.random.default_rng(0)
    X = rng.random((20000, 64))
    words = ["".join(rng.choice(list("acgt"), size=300)) for _ in range(3000)]
    seqs = [rng.random(400) for _ in range(300)]
    return {
        "knn euclidean": lambda n_jobs: NearestNeighbors(
            n_neighbors=5, algorithm="brute", n_jobs=n_jobs).fit(np.repeat(X, 8, axis=0)).kneighbors(X),
        "knn manhattan": lambda n_jobs: NearestNeighbors(
            n_neighbors=5, metric="manhattan", algorithm="brute", n_jobs=n_jobs).fit(X).kneighbors(X),
        "knn levenshtein": lambda n_jobs: NearestNeighbors(
            n_neighbors=3, metric="levenshtein", n_jobs=n_jobs).fit(words).kneighbors(words),
        "levenshtein matrix": lambda n_jobs: pairwise_distances(words, metric="levenshtein",
                                                                n_jobs=n_jobs),
        "dtw matrix": lambda n_jobs: pairwise_distances(seqs, metric="dtw", n_jobs=n_jobs),
        "knn dtw": lambda n_jobs: KNeighborsClassifier(1, metric="dtw", n_jobs=n_jobs).fit(
            seqs, np.arange(300) % 2).predict(seqs),
    }


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("name", list(_long_calls()))
def test_ctrl_c_interrupts_long_compiled_calls(name, n_jobs):
    call = _long_calls()[name]
    restore = _interrupt_after(0.5)
    t0 = time.perf_counter()
    try:
        with pytest.raises(_Interrupted):
            call(n_jobs)
    finally:
        restore()
    # each call takes tens of seconds uninterrupted; it must stop soon after the signal
    assert time.perf_counter() - t0 < 8


def test_no_signal_no_change(rng):
    # the periodic checks do not disturb a normal call
    words = ["".join(rng.choice(list("ab"), size=rng.integers(0, 90))) for _ in range(70)]
    D = pairwise_distances(words, metric="levenshtein", n_jobs=2)
    assert D[3, 5] == levenshtein(words[3], words[5])
