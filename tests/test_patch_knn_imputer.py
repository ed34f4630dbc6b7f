"""patch_sklearn() and scikit-learn's KNNImputer: the patched model is fastml's class,
computes its nan_euclidean distances and donor search with fastml (a spy counts the
calls), gives scikit-learn's results, and unpatching restores scikit-learn's own class
and function."""
from unittest import mock

import numpy as np
import pytest

import fastml
from fastml.metrics import _nan_euclidean


@pytest.fixture(autouse=True)
def _unpatched():
    fastml.unpatch_sklearn()
    yield
    fastml.unpatch_sklearn()


def _data(n=300, d=12, frac=0.15, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(dtype)
    X[: n // 2] += 3.0
    X[rng.random(X.shape) < frac] = np.nan
    X[5] = np.nan  # a row with nothing present: imputed by column means
    X[:, 7][rng.random(n) < 0.9] = np.nan  # a column mostly missing
    return X


def _impute(X, Y=None, **params):
    from sklearn.impute import KNNImputer

    imp = KNNImputer(**params).fit(X)
    return imp.transform(X if Y is None else Y)


@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_knn_imputer_patched_gives_scikit_learn_results(weights, dtype):
    X = _data(dtype=dtype)
    Y = _data(n=120, seed=1, dtype=dtype)
    stock = _impute(X, Y, weights=weights, n_neighbors=4)
    stock_self = _impute(X, weights=weights, n_neighbors=4)
    # scikit-learn on the same data in float64 (unpatched)
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    truth = _impute(X64, Y64, weights=weights, n_neighbors=4)
    truth_self = _impute(X64, weights=weights, n_neighbors=4)
    with mock.patch.object(_nan_euclidean, "_chunks", wraps=_nan_euclidean._chunks) as spy:
        fastml.patch_sklearn("KNNImputer")
        ours = _impute(X, Y, weights=weights, n_neighbors=4)
        ours_self = _impute(X, weights=weights, n_neighbors=4)
    assert spy.call_count == 2
    assert ours.dtype == stock.dtype
    # the donors are the same; the weighted means may differ in their last bits (the
    # distances are summed directly, scikit-learn's by its expanded form)
    if dtype == np.float64:
        np.testing.assert_allclose(ours, stock, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ours_self, stock_self, rtol=1e-12, atol=1e-12)
        return
    # float32: scikit-learn's float32 distances (masked float32 products) are off by
    # about 1e-6 relative, which moves its 1 / distance weights as much; fastml's
    # (float64 sums rounded once) give the float64 imputation to float32 rounding
    np.testing.assert_allclose(ours, truth, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours_self, truth_self, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours, stock, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("params", [
    {"n_neighbors": 1},
    {"n_neighbors": 7, "weights": "distance"},
    {"n_neighbors": 500},                      # more than the fitted rows
    {"add_indicator": True},
    {"keep_empty_features": True},
    {"weights": lambda d: np.exp(-d)},         # a callable: scikit-learn's transform
])
def test_knn_imputer_parameters(params):
    X = _data(n=250, frac=0.3, seed=3)
    X[:, 2] = np.nan                           # a column empty at fit
    X[10:20, :6] = X[30:40, :6]                # duplicated parts: zero distances, ties
    Y = _data(n=90, frac=0.3, seed=4)
    stock = _impute(X, Y, **params)
    stock_self = _impute(X, **params)
    fastml.patch_sklearn("KNNImputer")
    ours = _impute(X, Y, **params)
    ours_self = _impute(X, **params)
    # scikit-learn's expanded-form distances lose digits for close rows (relative error
    # about eps ||x||^2 / d^2, here up to ~1e-10), and its 1 / distance weights with them
    tol = 1e-8 if params.get("weights") == "distance" else 1e-12
    np.testing.assert_allclose(ours, stock, rtol=tol, atol=tol)
    np.testing.assert_allclose(ours_self, stock_self, rtol=tol, atol=tol)


def test_knn_imputer_other_metric_runs_scikit_learn_s():
    X = _data(n=80)

    def metric(x, y, **kw):
        return float(np.nansum(np.abs(x - y)))

    stock = _impute(X, metric=metric)
    with mock.patch.object(_nan_euclidean, "_chunks", wraps=_nan_euclidean._chunks) as spy:
        fastml.patch_sklearn("KNNImputer")
        ours = _impute(X, metric=metric)
    assert spy.call_count == 0
    np.testing.assert_array_equal(ours, stock)


def test_knn_imputer_missing_values_marker():
    X = _data(n=100, frac=0.2)
    X = np.where(np.isnan(X), -1.0, np.round(np.abs(X), 3))
    stock = _impute(X, missing_values=-1, n_neighbors=3)
    fastml.patch_sklearn("KNNImputer")
    ours = _impute(X, missing_values=-1, n_neighbors=3)
    np.testing.assert_allclose(ours, stock, rtol=1e-12)


def test_patch_and_unpatch_round_trip():
    import sklearn.impute
    import sklearn.impute._knn as knn
    import sklearn.metrics

    import fastml.impute

    stock_class = sklearn.impute.KNNImputer
    assert stock_class.__module__ == "sklearn.impute._knn"
    fastml.patch_sklearn("KNNImputer")
    assert sklearn.impute.KNNImputer is fastml.impute.KNNImputer
    assert knn.KNNImputer is fastml.impute.KNNImputer
    assert issubclass(fastml.impute.KNNImputer, stock_class)
    fastml.unpatch_sklearn("KNNImputer")
    assert sklearn.impute.KNNImputer is stock_class and knn.KNNImputer is stock_class

    original = knn.pairwise_distances_chunked
    assert original is sklearn.metrics.pairwise_distances_chunked
    assert "KNNImputer" in fastml.get_patch_names()
    fastml.patch_sklearn("KNNImputer")
    assert fastml.sklearn_is_patched("KNNImputer")
    assert knn.pairwise_distances_chunked is _nan_euclidean.pairwise_distances_chunked
    # only KNNImputer's module: scikit-learn's public function is left alone
    assert sklearn.metrics.pairwise_distances_chunked is original
    fastml.unpatch_sklearn("KNNImputer")
    assert not fastml.sklearn_is_patched("KNNImputer")
    assert knn.pairwise_distances_chunked is original
    with fastml.sklearn_patched("KNNImputer"):
        assert knn.pairwise_distances_chunked is _nan_euclidean.pairwise_distances_chunked
    assert knn.pairwise_distances_chunked is original
    fastml.patch_sklearn()
    assert knn.pairwise_distances_chunked is _nan_euclidean.pairwise_distances_chunked
    fastml.unpatch_sklearn()
    assert knn.pairwise_distances_chunked is original
