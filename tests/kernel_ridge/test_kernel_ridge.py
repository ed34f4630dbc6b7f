import pickle
import warnings

import numpy as np
import pytest
from scipy.linalg import LinAlgWarning
from sklearn.datasets import load_digits
from sklearn.kernel_ridge import KernelRidge as SkKernelRidge
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

import fastml.metrics as fm
from fastml.kernel_ridge import KernelRidge, KernelRidgeClassifier


@pytest.fixture
def reg_data(rng):
    X = rng.random((120, 6))
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2 + 0.05 * rng.standard_normal(120)
    Y = np.column_stack([y, X[:, 2] - X[:, 3]])
    return X, y, Y


@pytest.mark.parametrize("kernel, params", [
    ("linear", {}), ("rbf", {"gamma": 0.7}), ("laplacian", {"gamma": 0.3}),
    ("poly", {"degree": 2, "gamma": 0.5, "coef0": 1.0}), ("sigmoid", {"gamma": 0.01}),
    ("chi2", {"gamma": 0.5}), ("cosine", {}),
])
def test_matches_sklearn(kernel, params, reg_data):
    X, y, Y = reg_data
    for target in (y, Y):
        ours = KernelRidge(alpha=0.1, kernel=kernel, **params).fit(X, target)
        ref = SkKernelRidge(alpha=0.1, kernel=kernel, **params).fit(X, target)
        np.testing.assert_allclose(ours.predict(X[:30]), ref.predict(X[:30]), rtol=1e-8,
                                   atol=1e-10)
        np.testing.assert_allclose(ours.dual_coef_, ref.dual_coef_, rtol=1e-7, atol=1e-9)
        assert ours.dual_coef_.shape == ref.dual_coef_.shape


def test_sample_weight_and_alpha_per_target(reg_data, rng):
    X, y, Y = reg_data
    w = rng.random(len(X)) * 2
    ours = KernelRidge(alpha=[0.1, 3.0], kernel="rbf").fit(X, Y, sample_weight=w)
    ref = SkKernelRidge(alpha=[0.1, 3.0], kernel="rbf").fit(X, Y, sample_weight=w)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-8, atol=1e-10)
    # integer weights == repeated samples
    wi = rng.integers(0, 3, len(X))
    a = KernelRidge(alpha=0.5, kernel="rbf").fit(X, y, sample_weight=wi).predict(X)
    Xr, yr = np.repeat(X, wi, axis=0), np.repeat(y, wi)
    b = KernelRidge(alpha=0.5, kernel="rbf").fit(Xr, yr).predict(X)
    np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)


def test_precomputed_and_custom_kernels(reg_data):
    X, y, _ = reg_data
    K = fm.intersection_kernel(X)
    pre = KernelRidge(alpha=0.2, kernel="precomputed").fit(K, y)
    K_copy = K.copy()
    direct = KernelRidge(alpha=0.2, kernel="intersection").fit(X, y)
    np.testing.assert_array_equal(K, K_copy)  # the caller's kernel matrix is not modified
    np.testing.assert_allclose(pre.predict(fm.intersection_kernel(X[:10], X)),
                               direct.predict(X[:10]), rtol=1e-10)
    summed = KernelRidge(alpha=0.2, kernel=[("rbf", 0.5), "linear"], gamma=0.4).fit(X, y)
    Ks = 0.5 * fm.rbf_kernel(X, gamma=0.4) + fm.linear_kernel(X)
    ref = KernelRidge(alpha=0.2, kernel="precomputed").fit(Ks, y)
    np.testing.assert_allclose(summed.dual_coef_, ref.dual_coef_, rtol=1e-8)
    call = KernelRidge(alpha=0.2, kernel=lambda a, b: float(np.dot(a, b))).fit(X[:20], y[:20])
    lin = KernelRidge(alpha=0.2).fit(X[:20], y[:20])
    np.testing.assert_allclose(call.predict(X[:5]), lin.predict(X[:5]), rtol=1e-8)


def test_singular_kernel_falls_back_with_warning(rng):
    X = np.repeat(rng.random((5, 3)), 4, axis=0)  # rank 3, 20 samples
    y = rng.random(20)
    with pytest.warns(LinAlgWarning, match="least-squares"):
        ours = KernelRidge(alpha=0.0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SkKernelRidge(alpha=0.0).fit(X, y)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-6, atol=1e-8)


def test_float32_stays_float32(reg_data):
    X, y, _ = reg_data
    m = KernelRidge(kernel="rbf").fit(X.astype(np.float32), y.astype(np.float32))
    assert m.dual_coef_.dtype == np.float32
    assert m.predict(X.astype(np.float32)).dtype == np.float32
    ref = KernelRidge(kernel="rbf").fit(X, y).predict(X)
    np.testing.assert_allclose(m.predict(X.astype(np.float32)), ref, rtol=1e-3, atol=1e-3)


def test_n_jobs_invariance(reg_data):
    X, y, _ = reg_data
    a = KernelRidge(kernel="laplacian", n_jobs=1).fit(X, y).predict(X)
    b = KernelRidge(kernel="laplacian", n_jobs=2).fit(X, y).predict(X)
    np.testing.assert_allclose(a, b, rtol=1e-10)


@pytest.mark.parametrize("est, match", [
    (KernelRidge(alpha=-1), "alpha"),
    (KernelRidge(alpha=[1.0, 2.0, 3.0]), "alpha"),
    (KernelRidge(alpha=np.nan), "alpha"),
    (KernelRidge(kernel="nope"), "not supported"),
    (KernelRidge(kernel="rbf", gamma=-2), "gamma"),
])
def test_parameter_errors(est, match, reg_data):
    X, _, Y = reg_data
    with pytest.raises(ValueError, match=match):
        est.fit(X, Y)


def test_input_errors(reg_data):
    X, y, _ = reg_data
    m = KernelRidge().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        m.predict(X[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        KernelRidge().fit(np.where(X > 0.99, np.nan, X), y)
    with pytest.raises(ValueError, match="sample_weight"):
        KernelRidge().fit(X, y, sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match="non-negative"):
        KernelRidge(kernel="intersection").fit(X - 0.5, y)
    with pytest.raises(ValueError, match="one class"):
        KernelRidgeClassifier().fit(X, np.zeros(len(X)))


def test_classifier_is_one_vs_all_ridge_on_pm1_targets(rng):
    X, y = load_digits(return_X_y=True)
    X = X[:400] / 16.0
    y = y[:400]
    clf = KernelRidgeClassifier(alpha=0.5, kernel="rbf", gamma=0.03).fit(X, y)
    Y = np.where(y[:, None] == np.arange(10)[None, :], 1.0, -1.0)
    reg = SkKernelRidge(alpha=0.5, kernel="rbf", gamma=0.03).fit(X, Y)
    np.testing.assert_allclose(clf.decision_function(X[:50]), reg.predict(X[:50]), rtol=1e-8,
                               atol=1e-10)
    np.testing.assert_array_equal(clf.predict(X), np.argmax(reg.predict(X), axis=1))
    assert clf.score(X, y) > 0.95
    # binary: 1-D decision function, classes by sign, string labels
    yb = np.where(y < 5, "low", "high")
    b = KernelRidgeClassifier(kernel="rbf", gamma=0.03).fit(X, yb)
    d = b.decision_function(X)
    assert d.shape == (len(X),)
    np.testing.assert_array_equal(b.predict(X), b.classes_[(d > 0).astype(int)])


def test_sklearn_tools_and_pickle(rng):
    X, y = load_digits(return_X_y=True)
    X, y = X[:300], y[:300]
    pipe = make_pipeline(MinMaxScaler(), KernelRidgeClassifier(kernel="rbf"))
    gs = GridSearchCV(pipe, {"kernelridgeclassifier__gamma": [0.01, 0.05],
                             "kernelridgeclassifier__alpha": [0.1, 1.0]}, cv=3).fit(X, y)
    assert gs.best_score_ > 0.9
    scores = cross_val_score(KernelRidgeClassifier(kernel="intersection"), X, y, cv=3)
    assert scores.mean() > 0.9
    m = KernelRidge(kernel="chi2").fit(X, y.astype(float))
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(m.predict(X), m2.predict(X))


@pytest.mark.parametrize("kernel, kernel_params", [
    ("rbf", {"gamma": 5.0}), ("poly", {"degree": 5, "coef0": 3.0}),
    ("laplacian", {"gamma": 0.01}), ("linear", {})])
def test_kernel_params_apply_to_callables_only_as_sklearn(kernel, kernel_params, reg_data):
    from sklearn.kernel_ridge import KernelRidge as SkKR

    X, y, _ = reg_data
    Z = X[::4] * 0.9
    ours = KernelRidge(alpha=0.5, kernel=kernel, kernel_params=kernel_params).fit(X, y)
    ref = SkKR(alpha=0.5, kernel=kernel, kernel_params=kernel_params).fit(X, y)
    np.testing.assert_allclose(ours.predict(Z), ref.predict(Z), rtol=1e-9, atol=1e-12)
    plain = KernelRidge(alpha=0.5, kernel=kernel).fit(X, y)
    np.testing.assert_array_equal(ours.predict(Z), plain.predict(Z))


def test_callable_kernel_takes_kernel_params_not_gamma(reg_data):
    from sklearn.kernel_ridge import KernelRidge as SkKR

    X, y, _ = reg_data
    Z = X[::4] * 0.9

    def k(a, b, scale=1.0):
        return scale * float(np.dot(a, b))

    ours = KernelRidge(kernel=k, kernel_params={"scale": 2.0}, gamma=7.0).fit(X, y)
    ref = SkKR(kernel=k, kernel_params={"scale": 2.0}, gamma=7.0).fit(X, y)
    np.testing.assert_allclose(ours.predict(Z), ref.predict(Z), rtol=1e-9)


def test_kernel_transformer_ignores_kernel_params_of_named_kernels(rng):
    from fastml.preprocessing import KernelTransformer

    X = rng.random((20, 4))
    a = KernelTransformer("rbf", kernel_params={"gamma": 9.0}).fit_transform(X)
    b = KernelTransformer("rbf").fit_transform(X)
    np.testing.assert_array_equal(a, b)
