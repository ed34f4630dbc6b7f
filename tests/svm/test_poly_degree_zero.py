"""degree=0 is the constant polynomial kernel (gamma <x, y> + coef0) ** 0 = 1, which
scikit-learn's SVC accepts: fastml's kernels and SVMs give scikit-learn's answer."""
import numpy as np
import pytest
import sklearn.svm as sksvm

import fastml.metrics as fm
import fastml.svm as fsvm


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_polynomial_kernel_degree_zero_is_one(dtype):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((6, 3)).astype(dtype), rng.standard_normal((4, 3)).astype(dtype)
    for args in ((X, Y), (X,)):
        K = fm.polynomial_kernel(*args, degree=0, gamma=2.0, coef0=-1.0)
        assert K.dtype == dtype
        np.testing.assert_array_equal(K, np.ones((6, len(args[-1]))))
    np.testing.assert_array_equal(fm.pairwise_kernels(X, Y, metric="poly", degree=0), 1)
    np.testing.assert_array_equal(fm.kernel_diagonal(X, "poly", degree=0), 1)


@pytest.mark.parametrize("degree", [0.5, -1, 1e-3])
def test_degrees_between_zero_and_one_are_refused(degree):
    with pytest.raises(ValueError, match="degree must be 0 or in"):
        fm.polynomial_kernel(np.ones((2, 2)), degree=degree)


@pytest.mark.parametrize("Est", ["SVC", "SVR"])
def test_svm_degree_zero_matches_sklearn(Est):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 3))
    y = (np.arange(40) % 3 == 0).astype(int) if Est == "SVC" else rng.standard_normal(40)
    ours = getattr(fsvm, Est)(kernel="poly", degree=0).fit(X, y)
    ref = getattr(sksvm, Est)(kernel="poly", degree=0).fit(X, y)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6, atol=1e-6)
    if Est == "SVC":
        np.testing.assert_allclose(ours.decision_function(X), ref.decision_function(X),
                                   rtol=1e-6, atol=1e-6)
