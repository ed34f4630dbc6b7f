"""SVC takes torch tensors and lists as scikit-learn's does (ndarrays out)."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastml.svm import SVC

torch = pytest.importorskip("torch")


def test_tensor_and_list_inputs():
    rng = np.random.default_rng(2)
    X = rng.random((40, 5))
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    ref = SVC(C=3, kernel="rbf").fit(X, y)
    got = SVC(C=3, kernel="rbf").fit(torch.from_numpy(X), torch.from_numpy(y))
    assert_array_equal(got.support_, ref.support_)
    assert_allclose(got.dual_coef_, ref.dual_coef_, rtol=1e-10, atol=1e-12)
    pred = got.decision_function(torch.from_numpy(X[:9]))
    assert type(pred) is np.ndarray
    assert_allclose(pred, ref.decision_function(X[:9]), rtol=1e-10, atol=1e-12)
    assert_array_equal(SVC(C=3).fit(X.tolist(), y.tolist()).predict(X[:9].tolist()),
                       ref.predict(X[:9]))
