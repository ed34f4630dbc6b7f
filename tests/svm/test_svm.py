"""fastml.svm against libsvm (scikit-learn), the KKT conditions of its dual solutions,
weights, degenerate input, dtypes and thread counts.

Tolerances. Both solvers stop when the optimality gap m(a) - M(a) (libsvm's rule) is below
``tol``; two solutions that satisfy it can differ by O(tol) in the dual and so in the
decision values, scaled by the size of the kernel and of C. Comparisons at the default
tol=1e-3 therefore allow a few times tol (times max(1, C) and the kernel's scale); with
tol=1e-7 both solvers sit at the same optimum and decision values agree to ~1e-5.
"""
import os
import signal
import threading
import time

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import svm as sk
from sklearn.datasets import load_digits, load_iris, make_classification, make_regression
from sklearn.preprocessing import MinMaxScaler

from fastml.metrics import pairwise_kernels
from fastml.svm import SVC, SVR, NuSVC, NuSVR, OneClassSVM
from fastml.text import StringKernel

IRIS = load_iris()
X_IRIS = IRIS.data
Y_IRIS = IRIS.target
DIG_X, DIG_Y = load_digits(return_X_y=True)
DIG_X = DIG_X[:600] / 16.0
DIG_Y = DIG_Y[:600]
XR, YR = make_regression(n_samples=150, n_features=6, noise=5.0, random_state=0)
XR = MinMaxScaler().fit_transform(XR)
YR = YR / np.std(YR)

SK_KERNELS = ["linear", "poly", "rbf", "sigmoid"]
FASTML_KERNELS = ["laplacian", "chi2", "additive_chi2", "intersection", "hellinger",
                  "cosine", "pq"]


def _dec_tol(tol, C=1.0, scale=1.0):
    return 20 * tol * max(1.0, C) * scale


# ------------------------------------------------------------------ libsvm comparisons
@pytest.mark.parametrize("kernel", SK_KERNELS)
@pytest.mark.parametrize("shape", ["ovr", "ovo"])
def test_svc_matches_libsvm_iris(kernel, shape):
    params = dict(kernel=kernel, decision_function_shape=shape,
                  gamma=0.1 if kernel == "sigmoid" else "scale")
    a = SVC(**params).fit(X_IRIS, Y_IRIS)
    b = sk.SVC(**params).fit(X_IRIS, Y_IRIS)
    assert np.array_equal(a.classes_, b.classes_)
    assert a.decision_function(X_IRIS).shape == b.decision_function(X_IRIS).shape
    np.testing.assert_allclose(a.decision_function(X_IRIS), b.decision_function(X_IRIS),
                               atol=_dec_tol(1e-3))
    assert np.mean(a.predict(X_IRIS) == b.predict(X_IRIS)) >= 0.98
    # the support sets agree up to vectors at the edge of the margin
    sa, sb = set(a.support_), set(b.support_)
    assert len(sa ^ sb) <= 0.1 * len(sb) + 2


@pytest.mark.parametrize("kernel", SK_KERNELS)
def test_svc_tight_tolerance_digits(kernel):
    params = dict(kernel=kernel, C=2.0, tol=1e-7, gamma=0.02 if kernel != "linear" else
                  "scale", coef0=0.0 if kernel != "sigmoid" else -1.0)
    a = SVC(**params, decision_function_shape="ovo").fit(DIG_X, DIG_Y)
    b = sk.SVC(**params, decision_function_shape="ovo").fit(DIG_X, DIG_Y)
    np.testing.assert_array_equal(a.support_, b.support_)
    np.testing.assert_array_equal(a.n_support_, b.n_support_)
    np.testing.assert_allclose(a.dual_coef_, b.dual_coef_, atol=1e-4 * 2.0)
    np.testing.assert_allclose(a.intercept_, b.intercept_, atol=1e-4)
    np.testing.assert_allclose(a.decision_function(DIG_X), b.decision_function(DIG_X),
                               atol=2e-4)


@pytest.mark.parametrize("kernel", FASTML_KERNELS)
@pytest.mark.parametrize("shape", ["ovr", "ovo"])
def test_fastml_kernels_match_precomputed_libsvm(kernel, shape):
    X = DIG_X[:300]
    y = DIG_Y[:300]
    gamma = {"laplacian": 0.02, "chi2": 0.1}.get(kernel)
    params = {} if gamma is None else {"gamma": gamma}
    a = SVC(kernel=kernel, tol=1e-6, decision_function_shape=shape, **params).fit(X, y)
    K = pairwise_kernels(X, metric=kernel, **params)
    b = sk.SVC(kernel="precomputed", tol=1e-6, decision_function_shape=shape).fit(K, y)
    scale = float(np.abs(K).max())
    np.testing.assert_allclose(a.decision_function(X), b.decision_function(K),
                               atol=1e-3 * max(1.0, scale))
    assert len(set(a.support_) ^ set(b.support_)) <= 2
    np.testing.assert_array_equal(a.predict(X), b.predict(K))


@pytest.mark.parametrize("Est", [SVR, NuSVR])
@pytest.mark.parametrize("kernel", SK_KERNELS)
def test_regression_matches_libsvm(Est, kernel):
    params = dict(kernel=kernel, C=3.0, tol=1e-6, gamma=0.5 if kernel != "linear" else
                  "scale")
    a = Est(**params).fit(XR, YR)
    b = getattr(sk, Est.__name__)(**params).fit(XR, YR)
    np.testing.assert_allclose(a.predict(XR), b.predict(XR), atol=1e-3)
    assert len(set(a.support_) ^ set(b.support_)) <= 3
    assert isinstance(a.n_iter_, int)


@pytest.mark.parametrize("kernel", SK_KERNELS)
def test_oneclass_and_nusvc_match_libsvm(kernel):
    params = dict(kernel=kernel, tol=1e-6, gamma=0.3 if kernel != "linear" else "scale")
    a = OneClassSVM(nu=0.2, **params).fit(X_IRIS)
    b = sk.OneClassSVM(nu=0.2, **params).fit(X_IRIS)
    np.testing.assert_allclose(a.decision_function(X_IRIS), b.decision_function(X_IRIS),
                               atol=1e-3)
    np.testing.assert_allclose(a.offset_, b.offset_, atol=1e-3)
    if kernel == "sigmoid":  # not positive definite: nu-SVC ends with r = 0 in both
        for est in (NuSVC(nu=0.3, **params), sk.NuSVC(nu=0.3, **params)):
            with pytest.raises(ValueError, match="not finite"):
                est.fit(X_IRIS, Y_IRIS)
        return
    # nu-SVC on separable pairs (iris' setosa) has many optimal solutions (a face of
    # optimal points, reached at different places by different paths): compare the
    # predictions there, the decision values on the pair that is not separable
    a = NuSVC(nu=0.3, **params).fit(X_IRIS, Y_IRIS)
    b = sk.NuSVC(nu=0.3, **params).fit(X_IRIS, Y_IRIS)
    assert np.mean(a.predict(X_IRIS) == b.predict(X_IRIS)) >= 0.98
    m = Y_IRIS > 0
    a = NuSVC(nu=0.3, **params).fit(X_IRIS[m], Y_IRIS[m])
    b = sk.NuSVC(nu=0.3, **params).fit(X_IRIS[m], Y_IRIS[m])
    if kernel == "rbf":
        np.testing.assert_allclose(a.decision_function(X_IRIS[m]),
                                   b.decision_function(X_IRIS[m]), atol=1e-4)


def test_toy_problem_is_exact():
    X = [[-2, -1], [-1, -1], [-1, -2], [1, 1], [1, 2], [2, 1]]
    y = [1, 1, 1, 2, 2, 2]
    clf = SVC(kernel="linear").fit(X, y)
    np.testing.assert_array_equal(clf.dual_coef_, [[-0.25, 0.25]])
    np.testing.assert_array_equal(clf.support_, [1, 3])
    np.testing.assert_array_equal(clf.intercept_, [0.0])


# ------------------------------------------------------------------ the dual solution
def _kkt_gap(clf, X, y01, K=None, sample_weight=None):
    """libsvm's optimality gap of a binary SVC, recomputed in float64 from the model."""
    if K is None:
        K = pairwise_kernels(X, metric=clf.kernel, filter_params=True, gamma=clf._gamma,
                             degree=clf.degree, coef0=clf.coef0)
    yy = np.where(y01 == clf.classes_[0], 1.0, -1.0)  # libsvm: the first class is +1
    coef = np.zeros(len(yy))
    coef[clf.support_] = clf._dual_coef_[0]
    alpha = coef * yy
    W = np.ones(len(yy)) if sample_weight is None else sample_weight
    C = W * clf.C * np.where(yy > 0, clf.class_weight_[0], clf.class_weight_[1])
    G = yy * (K @ coef) - 1.0
    v = -yy * G
    up = np.where(yy > 0, alpha < C, alpha > 0)
    low = np.where(yy > 0, alpha > 0, alpha < C)
    assert np.all(alpha >= 0) and np.all(alpha <= C * (1 + 1e-12))
    assert abs(np.dot(alpha, yy)) < 1e-8 * max(1.0, C.max()) * len(yy)
    gap = v[up].max() - v[low].min()
    free = (alpha > 0) & (alpha < C)
    rho = -clf._intercept_[0]
    # kernel rows are stored in float32 (as libsvm's Q): a recomputed gradient differs
    # by ~1e-7 of sum |coef K|
    slack = 4e-7 * float(np.abs(coef) @ np.abs(K).max(axis=1)) + 1e-9
    if free.any():
        assert abs(rho - np.mean(yy[free] * G[free])) < 10 * slack
    return gap, slack


@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly", "chi2", "intersection"])
@pytest.mark.parametrize("tol", [1e-3, 1e-5])
def test_kkt_conditions(kernel, tol):
    X, y = make_classification(n_samples=1500, n_features=8, random_state=1)
    X = MinMaxScaler().fit_transform(X)  # non-negative for chi2 / intersection
    clf = SVC(kernel=kernel, C=5.0, tol=tol, gamma=0.5).fit(X, y)
    gap, slack = _kkt_gap(clf, X, y)
    assert gap <= tol + 10 * slack


def test_kkt_with_weights():
    X, y = make_classification(n_samples=1200, n_features=6, random_state=3)
    w = np.random.RandomState(0).uniform(0.2, 3.0, size=len(y))
    clf = SVC(C=2.0, tol=1e-4, class_weight={0: 0.5, 1: 2.0}).fit(X, y, sample_weight=w)
    gap, slack = _kkt_gap(clf, X, y, sample_weight=w)
    assert gap <= 1e-4 + 10 * slack


def test_batched_solver_matches_libsvm_on_larger_problem():
    # more samples than one working set: the batched path
    X, y = make_classification(n_samples=3000, n_features=20, n_informative=8,
                               n_classes=3, random_state=0)
    a = SVC(C=3.0, tol=1e-5).fit(X, y)
    b = sk.SVC(C=3.0, tol=1e-5).fit(X, y)
    np.testing.assert_allclose(a.decision_function(X), b.decision_function(X), atol=5e-3)
    assert len(set(a.support_) ^ set(b.support_)) <= 0.01 * len(b.support_) + 3
    assert np.mean(a.predict(X) == b.predict(X)) > 0.998


# ------------------------------------------------------------------ weights
def test_class_and_sample_weights_match_libsvm():
    X, y = make_classification(n_samples=300, n_features=5, n_classes=3, n_informative=3,
                               random_state=2)
    w = np.random.RandomState(1).uniform(0.1, 4, len(y))
    w[::17] = 0  # removed samples
    for cw in [None, "balanced", {0: 0.3, 1: 1.0, 2: 5.0}]:
        a = SVC(C=2.0, tol=1e-7, class_weight=cw).fit(X, y, sample_weight=w)
        b = sk.SVC(C=2.0, tol=1e-7, class_weight=cw).fit(X, y, sample_weight=w)
        np.testing.assert_allclose(a.decision_function(X), b.decision_function(X), atol=1e-3)
        np.testing.assert_allclose(a.class_weight_, b.class_weight_)
        # fastml's support_ indexes X as given (libsvm's skips zero-weight samples)
        assert not np.any(w[a.support_] == 0)


def test_negative_and_zero_weights_errors():
    X, y = make_classification(n_samples=40, random_state=0)
    with pytest.raises(ValueError, match="all samples have zero or negative weights"):
        SVC().fit(X, y, sample_weight=np.zeros(len(y)))
    w = np.where(y == 0, 1.0, -1.0)
    with pytest.raises(ValueError, match="belong to the same class"):
        SVC().fit(X, y, sample_weight=w)
    with pytest.raises(ValueError, match="sample_weight"):
        SVC().fit(X, y, sample_weight=np.full(len(y), np.nan))


# ------------------------------------------------------------------ degenerate input
def test_one_class_error():
    with pytest.raises(ValueError, match="number of classes has to be greater than one"):
        SVC().fit([[0.0], [1.0]], [1, 1])


def test_duplicates_match_libsvm():
    X = np.repeat(X_IRIS[::5], 3, axis=0)
    y = np.repeat(Y_IRIS[::5], 3)
    a = SVC(tol=1e-7).fit(X, y)
    b = sk.SVC(tol=1e-7).fit(X, y)
    np.testing.assert_allclose(a.decision_function(X), b.decision_function(X), atol=1e-4)


@pytest.mark.parametrize("C", [1e-8, 1e-3, 1e3, 1e8])
def test_extreme_C(C):
    a = SVC(C=C, kernel="rbf").fit(X_IRIS, Y_IRIS)
    b = sk.SVC(C=C, kernel="rbf").fit(X_IRIS, Y_IRIS)
    assert np.mean(a.predict(X_IRIS) == b.predict(X_IRIS)) >= 0.97
    assert np.all(np.isfinite(a.decision_function(X_IRIS)))
    assert np.all(np.abs(a.dual_coef_) <= C * (1 + 1e-9))


def test_infeasible_nu():
    X = np.r_[X_IRIS[:50], X_IRIS[50:55]]
    y = np.r_[Y_IRIS[:50], Y_IRIS[50:55]]
    with pytest.raises(ValueError, match="specified nu is infeasible"):
        NuSVC(nu=0.9).fit(X, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input(bad):
    X = X_IRIS.copy()
    X[3, 1] = bad
    for est in (SVC(), SVR(), OneClassSVM()):
        with pytest.raises(ValueError, match="NaN|infinity"):
            est.fit(X, Y_IRIS)
    clf = SVC().fit(X_IRIS, Y_IRIS)
    with pytest.raises(ValueError, match="NaN|infinity"):
        clf.predict(X)


def test_callable_returning_garbage():
    def bad(A, B):
        return np.full((len(A), len(B)), np.nan)

    with pytest.raises(ValueError, match="NaN"):
        SVC(kernel=bad).fit(X_IRIS, Y_IRIS)


def test_max_iter_warns():
    from sklearn.exceptions import ConvergenceWarning

    X, y = make_classification(n_samples=2000, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_iter=5"):
        clf = SVC(max_iter=5).fit(X, y)
    assert clf.fit_status_ == 1
    assert clf.n_iter_[0] <= 5


# ------------------------------------------------------------------ dtypes and threads
def test_float32_stays_close_to_float64():
    X = DIG_X.astype(np.float32)
    a = SVC(C=5, gamma=0.05, decision_function_shape="ovo").fit(X, DIG_Y)
    b = SVC(C=5, gamma=0.05, decision_function_shape="ovo").fit(DIG_X, DIG_Y)
    assert a.support_vectors_.dtype == np.float32
    np.testing.assert_allclose(a.decision_function(X), b.decision_function(DIG_X), atol=0.01)
    np.testing.assert_array_equal(a.predict(X), b.predict(DIG_X))


@pytest.mark.parametrize("kernel", ["rbf", "chi2", "linear"])
def test_thread_count_bitwise(kernel):
    X, y = make_classification(n_samples=2500, n_features=30, n_informative=10,
                               n_classes=3, random_state=4)
    X = MinMaxScaler().fit_transform(X).astype(np.float32)
    fits = [SVC(kernel=kernel, C=2.0, n_jobs=n).fit(X, y) for n in (1, 2, 3)]
    for f in fits[1:]:
        np.testing.assert_array_equal(f.support_, fits[0].support_)
        np.testing.assert_array_equal(f.dual_coef_, fits[0].dual_coef_)
        np.testing.assert_array_equal(f.intercept_, fits[0].intercept_)
        np.testing.assert_array_equal(f.decision_function(X), fits[0].decision_function(X))


def test_cache_size_does_not_change_the_answer():
    X, y = make_classification(n_samples=2500, n_features=20, random_state=5)
    a = SVC(cache_size=200).fit(X, y)
    b = SVC(cache_size=0.5).fit(X, y)  # ~ 50 rows: constant eviction
    np.testing.assert_allclose(a.decision_function(X), b.decision_function(X), atol=1e-9)


def test_gamma_scale_float32_and_strings():
    X32 = X_IRIS.astype(np.float32)
    a = SVC().fit(X32, Y_IRIS)
    b = sk.SVC().fit(X_IRIS, Y_IRIS)
    assert a._gamma == pytest.approx(b._gamma, rel=1e-6)
    clf = SVC(kernel=StringKernel(2)).fit(["ab", "ba", "cd", "dc"], [0, 0, 1, 1])
    assert clf._gamma == 0.0


# ------------------------------------------------------------------ kernels of every kind
def test_string_kernel_svc():
    texts = ["free money now", "win a prize now", "call me later", "see you tomorrow",
             "claim your free prize", "lunch tomorrow?", "you won cash", "meeting at noon"]
    y = [1, 1, 0, 0, 1, 0, 1, 0]
    sk_ = StringKernel((2, 3), "intersection")
    a = SVC(kernel=sk_, C=10).fit(texts, y)
    K = sk_.fit_transform(texts)
    b = sk.SVC(kernel="precomputed", C=10).fit(K, y)
    np.testing.assert_allclose(a.decision_function(texts), b.decision_function(K), atol=1e-4)
    assert list(a.predict(["free cash prize", "see you at lunch"])) == [1, 0]
    assert a.support_vectors_.dtype == object


def test_names_task_multiclass_strings():
    rng = np.random.RandomState(0)
    stems = {"en": ["son", "ton", "ley", "ford"], "it": ["ini", "elli", "etti", "one"],
             "jp": ["moto", "yama", "shi", "ko"]}
    names, labels = [], []
    for lab, ends in stems.items():
        for _ in range(60):
            start = "".join(rng.choice(list("abdegikmnorstu"), 3))
            names.append(start + rng.choice(ends))
            labels.append(lab)
    from sklearn.model_selection import cross_val_score
    acc = cross_val_score(SVC(kernel=StringKernel((1, 3), "spectrum")), names, labels, cv=3)
    assert acc.mean() > 0.9


def test_callable_called_on_blocks():
    X, y = make_classification(n_samples=2000, n_features=5, random_state=0)
    seen = []

    def lin(A, B):
        seen.append((len(A), len(B)))
        return A @ B.T

    a = SVC(kernel=lin).fit(X, y)
    b = SVC(kernel="linear").fit(X, y)
    assert max(r for r, _ in seen) < len(X)  # never all of X against all of X
    np.testing.assert_allclose(a.decision_function(X), b.decision_function(X), atol=1e-6)
    seen.clear()
    a.predict(X)
    assert all(c == a.support_.size for _, c in seen)  # against the support vectors only


def test_precomputed_and_sparse():
    K = X_IRIS @ X_IRIS.T
    a = SVC(kernel="precomputed").fit(K, Y_IRIS)
    b = SVC(kernel="linear").fit(X_IRIS, Y_IRIS)
    np.testing.assert_allclose(a.decision_function(K), b.decision_function(X_IRIS),
                               atol=1e-8)
    Xs = sp.csr_matrix(DIG_X[:200])
    c = SVC(kernel="chi2", gamma=0.1).fit(Xs, DIG_Y[:200])
    d = SVC(kernel="chi2", gamma=0.1).fit(DIG_X[:200], DIG_Y[:200])
    np.testing.assert_allclose(c.decision_function(Xs), d.decision_function(DIG_X[:200]),
                               atol=1e-6)


# ------------------------------------------------------------------ probabilities
def test_probability_close_to_libsvm():
    with pytest.warns(FutureWarning):
        a = SVC(probability=True, random_state=3).fit(X_IRIS, Y_IRIS)
    with pytest.warns(FutureWarning):
        b = sk.SVC(probability=True, random_state=3).fit(X_IRIS, Y_IRIS)
    pa, pb = a.predict_proba(X_IRIS), b.predict_proba(X_IRIS)
    np.testing.assert_allclose(pa.sum(1), 1.0)
    # the same cross-validation folds (libsvm's random stream): close Platt parameters
    np.testing.assert_allclose(a._probA, b._probA, rtol=0.05, atol=0.05)
    np.testing.assert_allclose(pa, pb, atol=0.02)
    np.testing.assert_allclose(np.log(pa), a.predict_log_proba(X_IRIS))


# ------------------------------------------------------------------ Ctrl-C
@pytest.mark.skipif(os.name != "posix", reason="needs SIGINT to this process")
def test_ctrl_c_interrupts_fit():
    X, y = make_classification(n_samples=6000, n_features=50, random_state=0)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        for _ in range(100):  # long enough whatever the machine's speed
            SVC(C=100, tol=1e-6).fit(X, y)
    timer.cancel()
    assert time.perf_counter() - t0 < 60
