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
    t = KernelTransformer("rbf", kernel_params={"gamma": 0.25}).fit(X)
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
