"""nan_euclidean: values against a naive numpy reference and scikit-learn, scikit-learn's
parameters and errors, the registry's one declaration, threads, Ctrl-C."""
import signal
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics.pairwise import nan_euclidean_distances as sk_nan_euclidean

from fastml.metrics import pairwise_distances
from fastml.metrics import _registry
from fastml.metrics._nan_euclidean import nan_euclidean_distances, pairwise_distances_chunked


def reference(X, Y, squared=False, missing_values=np.nan):
    """The definition, pair by pair in float64: coordinates missing in either row left
    out, the sum of squares over the others scaled by n_features / n_present; NaN when
    none is present in both."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    mx = np.isnan(X) if missing_values != missing_values else X == missing_values
    my = np.isnan(Y) if missing_values != missing_values else Y == missing_values
    d = X.shape[1]
    D = np.empty((len(X), len(Y)))
    for i in range(len(X)):
        for j in range(len(Y)):
            both = ~mx[i] & ~my[j]
            n = int(both.sum())
            if n == 0:
                D[i, j] = np.nan
                continue
            s = float(np.sum((X[i, both] - Y[j, both]) ** 2))
            D[i, j] = s * d / n
    return D if squared else np.sqrt(D)


def _with_nans(rng, shape, frac, dtype=np.float64, scale=1.0):
    A = (rng.normal(size=shape) * scale).astype(dtype)
    A[rng.random(shape) < frac] = np.nan
    return A


def _rtol(dtype):
    # float64: a sum of non-negative terms, a division and a sqrt, each within a few
    # ulps; float32: the same sums in float64, rounded once to float32
    return 1e-13 if dtype == np.float64 else 4e-7


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 12), m=st.integers(1, 12), d=st.integers(1, 40),
       frac=st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]), seed=st.integers(0, 2**31 - 1),
       dtype=st.sampled_from([np.float64, np.float32]), squared=st.booleans())
def test_matches_the_definition(n, m, d, frac, seed, dtype, squared):
    rng = np.random.default_rng(seed)
    X = _with_nans(rng, (n, d), frac, dtype)
    Y = _with_nans(rng, (m, d), frac, dtype)
    if n > 1:
        X[0] = np.nan  # an all-missing row: NaN against everything
    D = nan_euclidean_distances(X, Y, squared=squared)
    assert D.dtype == dtype
    R = reference(X, Y, squared=squared)
    np.testing.assert_array_equal(np.isnan(D), np.isnan(R))
    np.testing.assert_allclose(D, R, rtol=_rtol(dtype), atol=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(1, 1, 1), (5, 3, 2), (37, 29, 13), (70, 150, 300)])
def test_against_scikit_learn(dtype, shape):
    n, m, d = shape
    rng = np.random.default_rng(n * m * d)
    X = _with_nans(rng, (n, d), 0.25, dtype)
    Y = _with_nans(rng, (m, d), 0.25, dtype)
    for squared in (False, True):
        ours = pairwise_distances(X, Y, metric="nan_euclidean", squared=squared)
        theirs = sk_nan_euclidean(X, Y, squared=squared)
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
        # scikit-learn's form ||x||^2 + ||y||^2 - 2<x, y> is off by about eps times the
        # squared norms (float32: its masked products are float32 too)
        eps = np.finfo(dtype).eps
        big = (np.nansum(X.astype(np.float64) ** 2, axis=1)[:, None]
               + np.nansum(Y.astype(np.float64) ** 2, axis=1)[None, :])
        sq_ours = ours.astype(np.float64) ** (1 if squared else 2)
        sq_theirs = theirs.astype(np.float64) ** (1 if squared else 2)
        ok = ~np.isnan(sq_ours)
        assert np.all(np.abs(sq_ours - sq_theirs)[ok] <= 64 * d * eps * big[ok] + 1e-300)


def test_scikit_learn_docstring_examples():
    nan = float("nan")
    X = [[0, 1], [1, nan]]
    np.testing.assert_allclose(nan_euclidean_distances(X, X),
                               [[0.0, np.sqrt(2)], [np.sqrt(2), 0.0]], rtol=1e-15)
    np.testing.assert_allclose(nan_euclidean_distances(X, [[0, 0]]), [[1.0], [np.sqrt(2)]],
                               rtol=1e-15)
    # [3, na, na, 6] and [1, na, 4, 5]: sqrt(4 / 2 * ((3 - 1)^2 + (6 - 5)^2))
    D = nan_euclidean_distances([[3, nan, nan, 6]], [[1, nan, 4, 5]])
    np.testing.assert_allclose(D, [[np.sqrt(10)]], rtol=1e-15)


def test_all_missing_pairs_and_rows():
    nan = np.nan
    X = np.array([[nan, nan], [1.0, nan], [nan, 2.0]])
    D = nan_euclidean_distances(X)
    expected_nan = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 0]], dtype=bool)
    np.testing.assert_array_equal(np.isnan(D), expected_nan)
    np.testing.assert_array_equal(np.isnan(sk_nan_euclidean(X)), expected_nan)
    assert D[1, 1] == 0 and D[2, 2] == 0


def test_close_rows_do_not_cancel():
    # two rows 1e-9 apart with norms ~1e3: scikit-learn's expanded form loses every digit
    rng = np.random.default_rng(0)
    x = 1e3 + rng.random(50)
    X = np.vstack([x, x + 1e-9])
    X[0, 3] = np.nan
    D = nan_euclidean_distances(X)
    np.testing.assert_allclose(D, reference(X, X), rtol=1e-12)
    assert D[0, 1] > 0


@pytest.mark.parametrize("scale", [1e-200, 1e200])
def test_extreme_magnitudes_are_scaled(scale):
    rng = np.random.default_rng(1)
    X = _with_nans(rng, (6, 9), 0.2, scale=scale)
    Y = _with_nans(rng, (4, 9), 0.2, scale=scale)
    D = nan_euclidean_distances(X, Y)
    R = reference(X / scale, Y / scale) * scale
    np.testing.assert_array_equal(np.isnan(D), np.isnan(R))
    np.testing.assert_allclose(D, R, rtol=1e-13)


@pytest.mark.parametrize("marker", [-1, 0, 7.5])
def test_missing_values_marker(marker):
    rng = np.random.default_rng(2)
    X = rng.integers(0, 4, size=(15, 6)).astype(np.float64)
    X[rng.random(X.shape) < 0.3] = marker
    Xi = X.copy()
    D = nan_euclidean_distances(X, missing_values=marker, copy=False)
    np.testing.assert_array_equal(X, Xi)  # never modified, whatever copy says
    R = reference(X, X, missing_values=marker)
    np.testing.assert_array_equal(np.isnan(D), np.isnan(R))
    np.testing.assert_allclose(D, R, rtol=1e-13)
    np.testing.assert_allclose(D, sk_nan_euclidean(X, missing_values=marker), rtol=1e-7,
                               atol=1e-7)
    # integer data with an integer marker
    Xint = np.where(X == marker, -1, X).astype(np.int64)
    np.testing.assert_allclose(nan_euclidean_distances(Xint, missing_values=-1),
                               reference(Xint, Xint, missing_values=-1), rtol=1e-13)


def test_errors_are_scikit_learn_s():
    X = np.array([[1.0, np.inf], [0.0, 1.0]])
    with pytest.raises(ValueError, match="infinity"):
        nan_euclidean_distances(X)
    with pytest.raises(ValueError, match="NaN"):
        nan_euclidean_distances([[1.0, np.nan]], missing_values=-1)
    with pytest.raises(ValueError, match="Incompatible dimension"):
        nan_euclidean_distances(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(TypeError, match="squared must be a bool"):
        nan_euclidean_distances(np.ones((2, 3)), squared="yes")
    with pytest.raises(TypeError, match="nonsense"):
        pairwise_distances(np.ones((2, 3)), metric="nan_euclidean", nonsense=1)


@pytest.mark.parametrize("X, match", [
    (np.zeros((0, 3)), "0 sample"),
    (np.ones(3), "Expected 2D array"),
    (np.ones((2, 2, 2)), "dim 3"),
    (np.array([["a", "b"]]), "strings"),
])
def test_bad_shapes_and_types_are_refused(X, match):
    # empty, 1-D, 3-D and string input: scikit-learn's errors (strings: fastml's advice)
    with pytest.raises(ValueError, match=match):
        pairwise_distances(X, metric="nan_euclidean")


def test_sparse_input_is_scikit_learn_s():
    import scipy.sparse as sp

    with pytest.raises(TypeError):
        nan_euclidean_distances(sp.csr_matrix(np.eye(3)))


def test_declared_once_in_the_registry():
    spec = _registry.get_metric("nan_euclidean")
    assert spec.sklearn == "nan_euclidean"
    assert set(spec.params) == {"missing_values", "squared", "copy"}
    assert not spec.numeric.has_knn
    assert "nan_euclidean" in _registry.DISTANCE_METRICS
    X = np.array([[1.0, np.nan], [2.0, 3.0]])
    assert _registry.is_usable_for(X, None, "nan_euclidean", {"squared": True}) is not None
    assert _registry.is_usable_for(X, None, "nan_euclidean", {"missing_values": "x"}) is None
    np.testing.assert_array_equal(pairwise_distances(X, metric="nan_euclidean"),
                                  nan_euclidean_distances(X))
    # ensure_all_finite does not matter for this metric (as in scikit-learn)
    np.testing.assert_array_equal(
        pairwise_distances(X, metric="nan_euclidean", ensure_all_finite="allow-nan"),
        nan_euclidean_distances(X))


def test_out():
    rng = np.random.default_rng(3)
    X = _with_nans(rng, (9, 5), 0.3)
    out = np.empty((9, 9))
    r = pairwise_distances(X, metric="nan_euclidean", out=out)
    assert r is out
    np.testing.assert_array_equal(out, nan_euclidean_distances(X))
    with pytest.raises(ValueError, match="dtype"):
        nan_euclidean_distances(X, out=np.empty((9, 9), dtype=np.float32))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bitwise_identical_for_any_thread_count(dtype):
    rng = np.random.default_rng(4)
    X = _with_nans(rng, (203, 131), 0.2, dtype)
    Y = _with_nans(rng, (157, 131), 0.2, dtype)
    ref = nan_euclidean_distances(X, Y, n_jobs=1)
    for n_jobs in (2, 3, 4, -1, None):
        np.testing.assert_array_equal(nan_euclidean_distances(X, Y, n_jobs=n_jobs), ref)


def test_chunked_matches_whole_and_scikit_learn_chunks():
    from sklearn.metrics import pairwise_distances_chunked as sk_chunked

    rng = np.random.default_rng(5)
    X = _with_nans(rng, (300, 40), 0.2)
    Y = _with_nans(rng, (170, 40), 0.2)
    whole = nan_euclidean_distances(X, Y)
    ours = list(pairwise_distances_chunked(X, Y, metric="nan_euclidean", working_memory=0.1))
    theirs = list(sk_chunked(X, Y, metric="nan_euclidean", working_memory=0.1))
    assert [len(c) for c in ours] == [len(c) for c in theirs]
    assert len(ours) > 1
    np.testing.assert_allclose(np.vstack(ours), whole, rtol=1e-14)
    seen = []
    gen = pairwise_distances_chunked(X, Y, metric="nan_euclidean", working_memory=0.1,
                                     reduce_func=lambda D, start: seen.append(start))
    assert all(r is None for r in gen)
    assert seen == list(np.cumsum([0] + [len(c) for c in theirs[:-1]]))


def test_chunked_falls_back_for_other_metrics():
    from sklearn.metrics import pairwise_distances_chunked as sk_chunked

    X = np.random.default_rng(6).random((20, 3))
    ours = next(pairwise_distances_chunked(X, metric="manhattan"))
    np.testing.assert_array_equal(ours, next(sk_chunked(X, metric="manhattan")))
    with pytest.raises(ValueError):
        pairwise_distances_chunked(X, metric="nan_euclidean", working_memory=-1)


def test_ctrl_c_stops_a_long_call():
    rng = np.random.default_rng(7)
    X = _with_nans(rng, (3000, 800), 0.1)
    timer = threading.Timer(0.3, lambda: signal.raise_signal(signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            for _ in range(20):  # never finishes 20 of these in time
                nan_euclidean_distances(X, n_jobs=1)
    finally:
        timer.cancel()
