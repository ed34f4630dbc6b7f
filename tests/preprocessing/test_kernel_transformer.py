import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

import fastml.metrics as fm
from fastml.kernel_ridge import KernelRidgeClassifier
from fastml.preprocessing import KernelTransformer


def test_transform_is_the_kernel_against_training_rows(rng):
    X, Z = rng.random((30, 5)), rng.random((8, 5))
    t = KernelTransformer("intersection").fit(X)
    np.testing.assert_array_equal(t.transform(Z), fm.intersection_kernel(Z, X))
    t = KernelTransformer("poly", degree=2, gamma=0.5, coef0=0.0).fit(X)
    np.testing.assert_allclose(t.transform(Z), (0.5 * Z @ X.T) ** 2, rtol=1e-12)
    t = KernelTransformer("rbf", gamma=0.25).fit(X)
    np.testing.assert_allclose(t.transform(Z), fm.rbf_kernel(Z, X, gamma=0.25), rtol=1e-12)


def test_normalized_transform(rng):
    X, Z = rng.random((30, 5)), rng.random((8, 5))
    t = KernelTransformer("intersection", normalize=True).fit(X)
    K = t.fit_transform(X)
    np.testing.assert_allclose(np.diag(K), 1.0, rtol=1e-12)
    ref = fm.intersection_kernel(Z, X) / np.sqrt(np.outer(Z.sum(1), X.sum(1)))
    np.testing.assert_allclose(t.transform(Z), ref, rtol=1e-12)


def test_pipeline_with_precomputed_svc_in_grid_search():
    X, y = load_digits(return_X_y=True)
    X, y = X[:400], y[:400]
    pipe = make_pipeline(KernelTransformer("intersection"), SVC(kernel="precomputed"))
    gs = GridSearchCV(pipe, {"kerneltransformer__normalize": [False, True],
                             "svc__C": [0.1, 1.0]}, cv=3).fit(X, y)
    assert gs.best_score_ > 0.9
    pipe2 = make_pipeline(KernelTransformer("hellinger", normalize=True),
                          KernelRidgeClassifier(kernel="precomputed", alpha=0.1)).fit(X, y)
    assert pipe2.score(X, y) > 0.95
    p = pickle.loads(pickle.dumps(pipe2))
    np.testing.assert_array_equal(p.predict(X), pipe2.predict(X))


def test_errors(rng):
    X = rng.random((10, 4))
    with pytest.raises(ValueError, match="precomputed"):
        KernelTransformer("precomputed").fit(X)
    with pytest.raises(TypeError, match="normalize"):
        KernelTransformer(normalize="yes").fit(X)
    t = KernelTransformer().fit(X)
    with pytest.raises(ValueError, match="features"):
        t.transform(X[:, :2])
    with pytest.raises(ValueError, match="negative"):
        KernelTransformer("intersection").fit(X).transform(X - 1)


# ---------------------------------------------------------------------------------------
# feature names, set_output and tags
# ---------------------------------------------------------------------------------------
def test_feature_names_out_one_per_training_row(rng):
    from sklearn.exceptions import NotFittedError
    from sklearn.kernel_approximation import Nystroem

    X = rng.random((7, 3))
    t = KernelTransformer("rbf").fit(X)
    names = t.get_feature_names_out()
    assert names.dtype == object and list(names) == [f"kerneltransformer{i}"
                                                     for i in range(7)]
    assert len(names) == t.transform(X[:2]).shape[1]
    # the same convention as Nystroem's components
    assert Nystroem(n_components=2).fit(X).get_feature_names_out()[0] == "nystroem0"
    with pytest.raises(ValueError, match="input_features"):
        t.get_feature_names_out(["a", "b"])
    with pytest.raises(NotFittedError):
        KernelTransformer().get_feature_names_out()


def test_set_output_goes_through_sklearns_wrapper(rng):
    from sklearn import config_context
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = rng.random((6, 3))
    t = KernelTransformer("linear")
    assert "transform" in type(t)._sklearn_auto_wrap_output_keys
    assert t.set_output(transform="default") is t
    assert isinstance(t.fit(X).transform(X), np.ndarray)
    with config_context(transform_output="default"):
        K = make_pipeline(StandardScaler(), KernelTransformer()).set_output(
            transform="default").fit_transform(X)
    assert K.shape == (6, 6)
    t.set_output(transform="spreadsheet")
    with pytest.raises(ValueError, match="output config"):
        t.transform(X)


def test_set_output_pandas(rng):
    pd = pytest.importorskip("pandas")
    from sklearn import config_context

    X = pd.DataFrame(rng.random((5, 3)), columns=["a", "b", "c"])
    t = KernelTransformer("rbf", gamma=0.5).set_output(transform="pandas").fit(X)
    out = t.transform(X.iloc[:2])
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == [f"kerneltransformer{i}" for i in range(5)]
    np.testing.assert_allclose(out.to_numpy(), fm.rbf_kernel(X.to_numpy()[:2],
                                                             X.to_numpy(), gamma=0.5))
    assert list(out.index) == [0, 1]
    with config_context(transform_output="pandas"):
        assert isinstance(KernelTransformer().fit_transform(X), pd.DataFrame)


@pytest.mark.parametrize("kernel, positive", [
    ("chi2", True), ("additive_chi2", True), ("intersection", True), ("hellinger", True),
    ("rbf", False), ("linear", False), ([("chi2", 0.5), ("rbf", 0.5)], True)])
def test_positive_only_tag_follows_the_kernel(kernel, positive):
    from fastml.kernel_ridge import KernelRidge

    assert KernelTransformer(kernel).__sklearn_tags__().input_tags.positive_only is positive
    assert KernelRidge(kernel=kernel).__sklearn_tags__().input_tags.positive_only is positive


@pytest.mark.parametrize("kernel", ["chi2", "intersection", "hellinger", "additive_chi2"])
def test_kernels_of_non_negative_data_refuse_negative_x_at_fit(kernel, rng):
    from fastml.kernel_ridge import KernelRidge

    X = rng.random((10, 3)) - 0.2
    for est in (KernelTransformer(kernel), KernelRidge(kernel=kernel),
                KernelRidgeClassifier(kernel=kernel)):
        with pytest.raises(ValueError, match="Negative values in data passed to "
                                             f"{type(est).__name__}: kernel='{kernel}'"):
            est.fit(X, np.arange(10) % 2)
