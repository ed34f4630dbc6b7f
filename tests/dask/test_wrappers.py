"""Fitted single-machine estimators on dask arrays (fastml.dask.ParallelPostFit) and grid
search through joblib's Dask backend."""
import dask
import dask.array as da
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

import fastml.dask as fd
from fastml.kernel_ridge import KernelRidge
from fastml.preprocessing import KernelTransformer


def _data(seed=0, n=160, d=12):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    return X, y


def test_kernel_ridge_and_svc_pipeline(scheduler):
    X, y = _data()
    T = _data(1, n=75)[0]
    Td = da.from_array(T, chunks=((30, 0, 30, 15), (5, 7)))
    kr = fd.ParallelPostFit(KernelRidge(alpha=0.1, kernel="chi2", gamma=0.5)).fit(X, y)
    ref = KernelRidge(alpha=0.1, kernel="chi2", gamma=0.5).fit(X, y)
    pipe = make_pipeline(KernelTransformer("intersection"), SVC(kernel="precomputed"))
    svc = fd.ParallelPostFit(pipe).fit(da.from_array(X, chunks=40), da.from_array(y, chunks=40))
    ref_svc = make_pipeline(KernelTransformer("intersection"),
                            SVC(kernel="precomputed")).fit(X, y)
    lazy = (kr.predict(Td), svc.predict(Td), svc.decision_function(Td),
            svc.transform(Td) if hasattr(svc.estimator_, "transform") else None)
    assert all(isinstance(a, da.Array) for a in lazy[:3])
    p_kr, p_svc, dec, _ = dask.compute(*lazy)
    np.testing.assert_allclose(p_kr, ref.predict(T), rtol=1e-12, atol=1e-12)
    assert np.array_equal(p_svc, ref_svc.predict(T))
    np.testing.assert_allclose(dec, ref_svc.decision_function(T), rtol=1e-10, atol=1e-12)
    assert np.array_equal(svc.classes_, [0, 1])
    assert svc.score(Td, ref_svc.predict(T)) == 1.0
    # NumPy input goes straight to the estimator
    np.testing.assert_allclose(kr.predict(T), ref.predict(T), rtol=1e-12, atol=1e-12)


def test_two_dimensional_outputs(sync):
    X, y = _data()
    T = _data(2, n=50)[0]
    kt = fd.ParallelPostFit(KernelTransformer("rbf", gamma=0.2)).fit(X)
    got = kt.transform(da.from_array(T, chunks=20))
    assert got.shape == (50, 160) and got.chunks == ((20, 20, 10), (160,))
    np.testing.assert_allclose(got.compute(), KernelTransformer("rbf", gamma=0.2).fit(X)
                               .transform(T), rtol=1e-13)
    from sklearn.linear_model import LogisticRegression

    lr = fd.ParallelPostFit(LogisticRegression()).fit(X, y)
    np.testing.assert_allclose(lr.predict_proba(da.from_array(T, chunks=20)).compute(),
                               LogisticRegression().fit(X, y).predict_proba(T), rtol=1e-12)


def test_neural_net_classifier(sync):
    from fastml.nn import NeuralNetClassifier

    X, y = _data(n=120, d=16)
    net = NeuralNetClassifier(layers="mlp", epochs=2, validation_fraction=0.0,
                              random_state=0)
    wrapped = fd.ParallelPostFit(net).fit(X.astype(np.float32), y)
    T = _data(3, n=40, d=16)[0].astype(np.float32)
    got = wrapped.predict_proba(da.from_array(T, chunks=15)).compute()
    np.testing.assert_allclose(got, wrapped.estimator_.predict_proba(T), rtol=1e-5,
                               atol=1e-6)


def test_errors(sync):
    X, y = _data()
    kr = fd.ParallelPostFit(KernelRidge())
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        kr.predict(da.from_array(X, chunks=20))
    kr.fit(X, y)
    with pytest.raises(AttributeError, match="predict_proba"):
        kr.predict_proba(da.from_array(X, chunks=20))


def test_grid_search_with_joblib_dask_backend(client):
    import joblib

    X, y = _data()
    grid = {"alpha": [0.01, 1.0], "gamma": [0.1, 1.0]}
    ref = GridSearchCV(KernelRidge(kernel="rbf"), grid, cv=3).fit(X, y)
    with joblib.parallel_backend("dask"):
        got = GridSearchCV(KernelRidge(kernel="rbf"), grid, cv=3, n_jobs=-1).fit(X, y)
    assert got.best_params_ == ref.best_params_
    np.testing.assert_allclose(got.cv_results_["mean_test_score"],
                               ref.cv_results_["mean_test_score"], rtol=1e-12)


def test_string_pipeline_on_a_1d_dask_array(sync):
    from fastml.text import StringKernel

    texts = np.array(["free money now", "call me later", "win a prize now",
                      "see you at lunch", "free prize call", "lunch later?"] * 5, dtype=object)
    y = np.array([1, 0, 1, 0, 1, 0] * 5)
    model = fd.ParallelPostFit(make_pipeline(StringKernel((1, 3), "presence"),
                                             SVC(kernel="precomputed"))).fit(texts, y)
    T = da.from_array(texts, chunks=7)
    pred, dec = dask.compute(model.predict(T), model.decision_function(T))
    assert np.array_equal(pred, model.estimator_.predict(texts))
    np.testing.assert_allclose(dec, model.estimator_.decision_function(texts), rtol=1e-12)
