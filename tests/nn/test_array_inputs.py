"""Network estimators take torch tensors (uint8 pixels included) as numpy arrays."""
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fastml.nn import NeuralNetClassifier, NeuralNetRegressor

torch = pytest.importorskip("torch")


def test_tabular_tensors_give_the_numpy_results():
    rng = np.random.default_rng(0)
    X = rng.random((40, 6)).astype(np.float32)
    y = (X[:, 0] > 0.5).astype(np.int64)
    a = NeuralNetClassifier(epochs=2, random_state=0).fit(torch.from_numpy(X),
                                                          torch.from_numpy(y))
    b = NeuralNetClassifier(epochs=2, random_state=0).fit(X, y)
    pa = a.predict_proba(torch.from_numpy(X))
    assert type(pa) is np.ndarray
    assert_array_equal(pa, b.predict_proba(X))
    r = NeuralNetRegressor(epochs=1, random_state=0).fit(torch.from_numpy(X),
                                                         torch.from_numpy(X[:, 0]))
    assert type(r.predict(torch.from_numpy(X))) is np.ndarray


def test_uint8_tensor_is_taken_as_pixels():
    rng = np.random.default_rng(1)
    X = rng.integers(0, 256, (12, 1, 12, 12), dtype=np.uint8)
    y = np.arange(12) % 2
    a = NeuralNetClassifier(epochs=1, random_state=0).fit(torch.from_numpy(X),
                                                          torch.from_numpy(y))
    b = NeuralNetClassifier(epochs=1, random_state=0).fit(X, y)
    assert_array_equal(a.predict_proba(torch.from_numpy(X)), b.predict_proba(X))
