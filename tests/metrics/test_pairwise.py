"""fastml.metrics kernels against scikit-learn, naive numpy loops and invariants."""
import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.metrics.pairwise as skp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from joblib import parallel_config

import fastml.metrics as fm
from fastml.metrics import _pairwise_fast
from fastml.metrics.pairwise import pairwise_kernels as pk_from_pairwise

SK_KERNELS = {
    "linear_kernel": {},
    "polynomial_kernel": {"degree": 3, "gamma": 0.1, "coef0": 0.5},
    "rbf_kernel": {"gamma": 0.2},
    "laplacian_kernel": {"gamma": 0.3},
    "sigmoid_kernel": {"gamma": 0.05, "coef0": 0.2},
    "cosine_similarity": {},
    "chi2_kernel": {"gamma": 0.7},
    "additive_chi2_kernel": {},
}
NON_NEGATIVE = {"chi2_kernel", "additive_chi2_kernel", "intersection_kernel", "hellinger_kernel"}
ALL_FUNCS = list(SK_KERNELS) + ["intersection_kernel", "hellinger_kernel", "pq_kernel"]
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-4, atol=1e-5)}


def _data(rng, n, m, d, non_negative=True, dtype=np.float64):
    X = rng.random((n, d))
    Y = rng.random((m, d))
    X[X < 0.3] = 0  # zeros exercise the chi2 0/0 rule
    Y[Y < 0.3] = 0
    if not non_negative:
        X -= 0.5
        Y -= 0.5
    return X.astype(dtype), Y.astype(dtype)


def naive_intersection(X, Y):
    return np.array([[np.minimum(x, y).sum() for y in Y] for x in X])


def naive_hellinger(X, Y):
    return np.array([[np.sqrt(x * y).sum() for y in Y] for x in X])


def naive_pq(X, Y):
    """O(d^2) brute force: 2 (concordant - discordant) pairs of bins."""
    out = np.zeros((len(X), len(Y)))
    for a, x in enumerate(X):
        for b, z in enumerate(Y):
            sx = np.sign(x[:, None] - x[None, :])
            sz = np.sign(z[:, None] - z[None, :])
            prod = np.triu(sx * sz, 1)
            out[a, b] = 2 * (np.sum(prod > 0) - np.sum(prod < 0))
    return out


# ------------------------------------------------------------------ values vs references
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(SK_KERNELS))
@pytest.mark.parametrize("shape", [(37, 23, 11), (64, 64, 784), (5, 3, 1), (130, 77, 33)])
def test_matches_sklearn(name, dtype, shape, rng):
    n, m, d = shape
    X, Y = _data(rng, n, m, d, non_negative=name in NON_NEGATIVE)
    params = SK_KERNELS[name]
    ref_xy = getattr(skp, name)(X, Y, **params)
    ref_xx = getattr(skp, name)(X, **params)
    got_xy = getattr(fm, name)(X.astype(dtype), Y.astype(dtype), **params)
    got_xx = getattr(fm, name)(X.astype(dtype), **params)
    assert got_xy.dtype == dtype and got_xx.dtype == dtype
    np.testing.assert_allclose(got_xy, ref_xy, **TOL[dtype])
    np.testing.assert_allclose(got_xx, ref_xx, **TOL[dtype])
    assert np.array_equal(got_xx, got_xx.T)  # symmetric path mirrors exactly


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(20, 13, 7), (67, 45, 100), (1, 1, 1), (9, 300, 5)])
def test_intersection_hellinger_vs_naive(dtype, shape, rng):
    n, m, d = shape
    X, Y = _data(rng, n, m, d)
    for func, ref in ((fm.intersection_kernel, naive_intersection),
                      (fm.hellinger_kernel, naive_hellinger)):
        got = func(X.astype(dtype), Y.astype(dtype))
        assert got.dtype == dtype
        np.testing.assert_allclose(got, ref(X, Y), **TOL[dtype])
        np.testing.assert_allclose(func(X.astype(dtype)), ref(X, X), **TOL[dtype])


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 25), st.integers(1, 4),
       st.integers(0, 2**31 - 1))
def test_pq_matches_brute_force_on_ties(n, m, d, levels, seed):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, levels, (n, d)).astype(np.float64)  # many ties
    Y = rng.integers(0, levels, (m, d)).astype(np.float64)
    np.testing.assert_array_equal(fm.pq_kernel(X, Y), naive_pq(X, Y))
    np.testing.assert_array_equal(fm.pq_kernel(X), naive_pq(X, X))
    np.testing.assert_array_equal(fm.pq_kernel(X.astype(np.float32), Y.astype(np.float32)),
                                  naive_pq(X, Y))


def test_pq_continuous_and_diagonal(rng):
    X = rng.standard_normal((15, 40))
    Y = rng.standard_normal((11, 40))
    np.testing.assert_array_equal(fm.pq_kernel(X, Y), naive_pq(X, Y))
    K = fm.pq_kernel(X)
    np.testing.assert_array_equal(np.diag(K), np.full(15, 40 * 39))  # all pairs concordant
    np.testing.assert_array_equal(fm.kernel_diagonal(X, "pq"), np.diag(K))


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 9), st.integers(1, 40)),
              elements=st.floats(0, 100, allow_nan=False)),
       arrays(np.float64, st.tuples(st.integers(1, 9), st.integers(1, 40)),
              elements=st.floats(0, 100, allow_nan=False)))
def test_reduction_tiles_any_shape(X, Y):
    """Random shapes hit every tail of the 4 x 4 tiles (hypothesis)."""
    if X.shape[1] != Y.shape[1]:
        Y = np.resize(Y, (Y.shape[0], X.shape[1]))
    np.testing.assert_allclose(fm.intersection_kernel(X, Y), naive_intersection(X, Y),
                               rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(fm.additive_chi2_kernel(X, Y), skp.additive_chi2_kernel(X, Y),
                               rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(fm.laplacian_kernel(X, Y, gamma=0.01),
                               skp.laplacian_kernel(X, Y, gamma=0.01), rtol=1e-10, atol=1e-300)


def test_exp_accuracy_including_subnormals():
    xs = np.concatenate([np.linspace(-746, 709, 20001), [-745.1, -740, -708.5, 0.0, 1e-300]])
    got64 = np.array([_pairwise_fast.exp_reference(x)[0] for x in xs])
    np.testing.assert_allclose(got64, np.exp(xs), rtol=1e-15, atol=5e-324)
    xs32 = np.linspace(-100, 88, 5001)
    got32 = np.array([_pairwise_fast.exp_reference(x)[1] for x in xs32], dtype=np.float32)
    np.testing.assert_allclose(got32, np.exp(xs32.astype(np.float32)), rtol=3e-7, atol=1e-44)


# ------------------------------------------------------------------------------ invariants
@pytest.mark.parametrize("name", ["intersection_kernel", "hellinger_kernel", "chi2_kernel"])
def test_psd_on_non_negative_data(name, rng):
    X = rng.random((60, 15))
    X[X < 0.5] = 0
    K = getattr(fm, name)(X)
    w = np.linalg.eigvalsh(K)
    assert w.min() >= -1e-10 * w.max()


@pytest.mark.parametrize("metric", ["linear", "rbf", "intersection", "hellinger", "poly",
                                    "pq", "chi2", "laplacian", "cosine", "sigmoid"])
def test_normalized_kernel_has_unit_diagonal(metric, rng):
    X = rng.random((30, 8))
    X[3] = 0  # a zero row: its self-similarity may be 0 -> zero row, never NaN
    K = fm.pairwise_kernels(X, metric=metric)
    Kn = fm.normalize_kernel(K, fm.kernel_diagonal(X, metric))
    assert np.all(np.isfinite(Kn))
    diag = np.diag(Kn)
    zero_self = fm.kernel_diagonal(X, metric) == 0
    np.testing.assert_allclose(diag[~zero_self], 1.0, rtol=1e-12)
    assert np.all(diag[zero_self] == 0)
    assert np.all(Kn[zero_self] == 0) and np.all(Kn[:, zero_self] == 0)


def test_normalize_kernel_rectangular_and_float32(rng):
    X, Y = rng.random((7, 4)), rng.random((5, 4))
    K = fm.intersection_kernel(X, Y).astype(np.float32)
    dx, dy = X.sum(1), Y.sum(1)
    got = fm.normalize_kernel(K, dx, dy)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, K / np.sqrt(np.outer(dx, dy)), rtol=1e-6)


@pytest.mark.parametrize("name", ALL_FUNCS)
def test_symmetric_and_general_paths_agree(name, rng):
    X, _ = _data(rng, 75, 1, 19)
    a = getattr(fm, name)(X)
    b = getattr(fm, name)(X, X.copy())
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert np.array_equal(getattr(fm, name)(X, X), a)  # Y is X -> the symmetric path


@pytest.mark.parametrize("name", ALL_FUNCS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_n_jobs_invariance(name, dtype, rng):
    X, Y = _data(rng, 301, 97, 50, dtype=dtype)
    ref = getattr(fm, name)(X, Y, n_jobs=1)
    refs = getattr(fm, name)(X, n_jobs=1)
    for n_jobs in (2, -1, 3):
        np.testing.assert_allclose(getattr(fm, name)(X, Y, n_jobs=n_jobs), ref, rtol=1e-6,
                                   atol=1e-6)
        np.testing.assert_allclose(getattr(fm, name)(X, n_jobs=n_jobs), refs, rtol=1e-6,
                                   atol=1e-6)
    with parallel_config(n_jobs=2):  # None inside a joblib context uses its n_jobs
        np.testing.assert_allclose(getattr(fm, name)(X, Y), ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["intersection_kernel", "chi2_kernel", "laplacian_kernel",
                                  "pq_kernel"])
def test_compiled_loops_bitwise_thread_invariant(name, rng):
    X, Y = _data(rng, 203, 150, 33)
    a = getattr(fm, name)(X, Y, n_jobs=1)
    b = getattr(fm, name)(X, Y, n_jobs=2)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("name", ["linear_kernel", "cosine_similarity", "intersection_kernel",
                                  "hellinger_kernel", "chi2_kernel", "additive_chi2_kernel",
                                  "rbf_kernel", "polynomial_kernel", "sigmoid_kernel"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_matches_dense(name, dtype, rng):
    X = sp.random(40, 300, density=0.05, random_state=1, format="lil", dtype=dtype)
    X[3] = 0  # an empty row
    X = X.tocsr()
    Y = sp.random(25, 300, density=0.05, random_state=2, format="csr", dtype=dtype)
    f = getattr(fm, name)
    for a, b in ((X, Y), (X, None), (X, Y.toarray())):
        dense = f(X.toarray(), None if b is None else (b.toarray() if sp.issparse(b) else b))
        got = f(a, b)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, dense, **TOL[dtype])


def test_sparse_unsorted_indices_and_csc(rng):
    X = sp.random(20, 50, density=0.2, random_state=0, format="csr")
    Xu = X.copy()
    Xu.indices = Xu.indices.copy()
    for i in range(20):  # reverse each row's column order
        s, e = Xu.indptr[i], Xu.indptr[i + 1]
        Xu.indices[s:e] = Xu.indices[s:e][::-1].copy()
        Xu.data[s:e] = Xu.data[s:e][::-1].copy()
    Xu.has_sorted_indices = False
    ref = naive_intersection(X.toarray(), X.toarray())
    np.testing.assert_allclose(fm.intersection_kernel(Xu), ref, rtol=1e-12)
    np.testing.assert_allclose(fm.intersection_kernel(X.tocsc()), ref, rtol=1e-12)


def test_linear_dense_output_false_stays_sparse():
    X = sp.random(10, 30, density=0.1, random_state=0, format="csr")
    K = fm.linear_kernel(X, dense_output=False)
    assert sp.issparse(K)
    np.testing.assert_allclose(K.toarray(), X.toarray() @ X.toarray().T)
    C = fm.cosine_similarity(X, dense_output=False)
    np.testing.assert_allclose(C.toarray(), skp.cosine_similarity(X.toarray()), atol=1e-12)


# ------------------------------------------------------------------- dtypes and out=
def test_dtype_rules(rng):
    Xi = rng.integers(0, 5, (6, 4))
    K = fm.intersection_kernel(Xi)
    assert K.dtype == np.float64
    np.testing.assert_array_equal(K, naive_intersection(Xi, Xi))
    assert fm.linear_kernel(Xi.astype(bool)).dtype == np.float64
    X32 = rng.random((5, 4)).astype(np.float32)
    assert fm.rbf_kernel(X32, X32.astype(np.float64)).dtype == np.float64
    assert fm.rbf_kernel(X32, X32).dtype == np.float32
    assert fm.pairwise_kernels(X32, metric="intersection").dtype == np.float32


@pytest.mark.parametrize("name", ALL_FUNCS)
def test_out_parameter(name, rng):
    X, Y = _data(rng, 9, 6, 5)
    out = np.empty((9, 6))
    res = getattr(fm, name)(X, Y, out=out)
    assert res is out
    np.testing.assert_allclose(out, getattr(fm, name)(X, Y), rtol=1e-13)
    out2 = np.empty((9, 9))
    assert getattr(fm, name)(X, out=out2) is out2


@pytest.mark.parametrize("bad, match", [
    (np.empty((9, 5)), "shape"),
    (np.empty((9, 6), dtype=np.float32), "dtype"),
    (np.empty((6, 9)).T, "C-contiguous"),
    ([[0.0] * 6] * 9, "numpy.ndarray"),
])
def test_out_errors(bad, match, rng):
    X, Y = _data(rng, 9, 6, 5)
    with pytest.raises((ValueError, TypeError), match=match):
        fm.rbf_kernel(X, Y, out=bad)


def test_out_must_not_alias_input(rng):
    X = rng.random((4, 4))
    with pytest.raises(ValueError, match="share memory"):
        fm.linear_kernel(X, out=X)


# ------------------------------------------------------------------------- errors
@pytest.mark.parametrize("name", ALL_FUNCS)
def test_input_errors(name, rng):
    f = getattr(fm, name)
    X = rng.random((5, 3))
    for bad in (np.array([[1.0, np.nan, 2.0]]), np.array([[1.0, np.inf, 2.0]])):
        with pytest.raises(ValueError, match="X"):
            f(bad)
        with pytest.raises(ValueError, match="Y"):
            f(X, bad)
    with pytest.raises(ValueError, match="Incompatible dimension"):
        f(X, rng.random((4, 2)))
    with pytest.raises(ValueError, match="0 sample"):
        f(np.empty((0, 3)))
    with pytest.raises(ValueError, match="0 feature"):
        f(np.empty((3, 0)))
    with pytest.raises(ValueError, match="2D"):
        f(np.ones(3))
    with pytest.raises(ValueError, match="dim"):
        f(np.ones((2, 2, 2)))
    with pytest.raises(TypeError):
        f(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="n_jobs == 0"):
        f(X, n_jobs=0)
    with pytest.raises(TypeError, match="n_jobs"):
        f(X, n_jobs=1.5)


@pytest.mark.parametrize("name", sorted(NON_NEGATIVE))
def test_negative_input_rejected(name, rng):
    f = getattr(fm, name)
    X = rng.random((4, 3))
    neg = X.copy()
    neg[1, 2] = -0.1
    with pytest.raises(ValueError, match="X contains negative"):
        f(neg)
    with pytest.raises(ValueError, match="Y contains negative"):
        f(X, neg)
    with pytest.raises(ValueError, match="X contains negative"):
        f(sp.csr_matrix(neg))


@pytest.mark.parametrize("call, match", [
    (lambda X: fm.rbf_kernel(X, gamma=-1), "gamma"),
    (lambda X: fm.laplacian_kernel(X, gamma=np.nan), "gamma"),
    (lambda X: fm.chi2_kernel(X, gamma=0), "gamma"),
    (lambda X: fm.polynomial_kernel(X, degree=0.5), "degree"),
    (lambda X: fm.polynomial_kernel(X, coef0="a"), "coef0"),
    (lambda X: fm.sigmoid_kernel(X, gamma="x"), "gamma"),
    (lambda X: fm.pairwise_kernels(X, metric="nope"), "Unknown kernel"),
    (lambda X: fm.pairwise_kernels(X, metric="rbf", degree=3), "unexpected"),
    (lambda X: fm.pairwise_kernels(X, metric=[]), "empty"),
    (lambda X: fm.pairwise_kernels(X, metric=[("rbf", "w")]), "weight"),
    (lambda X: fm.pairwise_kernels(X, metric=[("rbf", 1.0, 3)]), "params"),
    (lambda X: fm.pairwise_kernels(X, metric=[42]), "metric\\[0\\]"),
    (lambda X: fm.pq_kernel(sp.csr_matrix(X)), "sparse"),
    (lambda X: fm.normalize_kernel(np.ones((3, 2)), np.ones(3)), "square"),
    (lambda X: fm.normalize_kernel(np.ones((3, 3)), np.ones(2)), "diag_X"),
    (lambda X: fm.normalize_kernel(np.ones((3, 3)), -np.ones(3)), "negative"),
    (lambda X: fm.normalize_kernel(np.full((2, 2), np.nan), np.ones(2)), "NaN"),
])
def test_parameter_errors(call, match, rng):
    with pytest.raises((ValueError, TypeError), match=match):
        call(rng.random((4, 3)))


# ------------------------------------------------------------------- the dispatcher
def test_pairwise_kernels_dispatch_and_sums(rng):
    X, Y = _data(rng, 12, 7, 6)
    assert pk_from_pairwise is fm.pairwise_kernels
    for name, func in fm.kernel_metrics().items():
        np.testing.assert_array_equal(fm.pairwise_kernels(X, Y, metric=name), func(X, Y))
    np.testing.assert_allclose(fm.pairwise_kernels(X, Y, metric="rbf", gamma=0.3),
                               skp.pairwise_kernels(X, Y, metric="rbf", gamma=0.3), rtol=1e-12)
    combo = fm.pairwise_kernels(X, Y, metric=[("rbf", 0.5, {"gamma": 0.2}), "intersection",
                                              ("linear", 2.0)])
    ref = 0.5 * skp.rbf_kernel(X, Y, gamma=0.2) + naive_intersection(X, Y) + 2 * X @ Y.T
    np.testing.assert_allclose(combo, ref, rtol=1e-12)
    # shared kwds go to the components that take them
    shared = fm.pairwise_kernels(X, metric=["rbf", "laplacian", "linear"], gamma=0.1)
    ref = skp.rbf_kernel(X, gamma=0.1) + skp.laplacian_kernel(X, gamma=0.1) + X @ X.T
    np.testing.assert_allclose(shared, ref, rtol=1e-12)
    # filter_params drops what a kernel does not take
    np.testing.assert_array_equal(
        fm.pairwise_kernels(X, metric="linear", filter_params=True, gamma=3), X @ X.T)
    # callable, evaluated per pair, symmetric computed once
    calls = []

    def k(a, b, scale=1.0):
        calls.append(1)
        return scale * float(np.dot(a, b))

    np.testing.assert_allclose(fm.pairwise_kernels(X, metric=k, scale=2.0), 2 * X @ X.T)
    assert len(calls) == 12 * 13 // 2
    # precomputed: validated, returned as is
    K = X @ Y.T
    assert fm.pairwise_kernels(K, Y, metric="precomputed") is not None
    with pytest.raises(ValueError, match="Precomputed"):
        fm.pairwise_kernels(K, X, metric="precomputed")
    with pytest.raises(ValueError, match="NaN"):
        fm.pairwise_kernels(np.array([[np.nan]]), metric="precomputed")


def test_pairwise_sum_into_out(rng):
    X = rng.random((6, 4))
    out = np.empty((6, 6))
    res = fm.pairwise_kernels(X, metric=["linear", ("rbf", 3.0)], out=out)
    assert res is out
    np.testing.assert_allclose(out, X @ X.T + 3 * skp.rbf_kernel(X), rtol=1e-12)


@pytest.mark.parametrize("degree", [1, 2, 3, 7, 2.5, 70])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_polynomial_integer_and_real_degrees(degree, dtype, rng):
    """Integer degrees take the vectorised binary-power path, others pow()."""
    X, Y = rng.random((23, 5)), rng.random((17, 5))
    ref = skp.polynomial_kernel(X, Y, degree=degree, gamma=0.2, coef0=0.3)
    got = fm.polynomial_kernel(X.astype(dtype), Y.astype(dtype), degree=degree, gamma=0.2,
                               coef0=0.3)
    np.testing.assert_allclose(got, ref, rtol=1e-12 if dtype == np.float64 else 1e-4)
    refs = skp.polynomial_kernel(X, degree=degree, gamma=0.2, coef0=0.3)
    np.testing.assert_allclose(fm.polynomial_kernel(X, degree=degree, gamma=0.2, coef0=0.3),
                               refs, rtol=1e-12)


def test_laplacian_kernel_on_sparse_input_is_scikit_learns(rng):
    """CSR input is not accelerated: scikit-learn's function computes it (also into out=)."""
    X, Y = rng.random((6, 4)), rng.random((3, 4))
    X[X < 0.5] = 0
    ref = skp.laplacian_kernel(X, Y, gamma=0.3)
    np.testing.assert_allclose(fm.laplacian_kernel(sp.csr_matrix(X), sp.csr_matrix(Y),
                                                   gamma=0.3), ref, rtol=1e-12)
    out = np.empty((6, 3))
    assert fm.laplacian_kernel(sp.csr_matrix(X), Y, gamma=0.3, out=out) is out
    np.testing.assert_allclose(out, ref, rtol=1e-12)
