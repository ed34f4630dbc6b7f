"""Kernels at the edges: data near overflow and underflow, float32 cancellation, CSR
index dtypes, out= aliasing, kernel_diagonal's validation, unchecked NaN, Ctrl-C in long
calls and hypothesis tests at the SIMD boundaries, each against an independent reference
(numpy in float64, exact arithmetic, scikit-learn)."""
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import fastml.metrics as fm

from .._reference import BOUNDARY_LENGTHS


# ---------------------------------------------------------------------------------------
# float32 cancellation, overflow and underflow
# ---------------------------------------------------------------------------------------
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
