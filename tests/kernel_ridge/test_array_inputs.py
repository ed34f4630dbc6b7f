"""KernelRidge takes torch tensors as scikit-learn's does (ndarrays out)."""
import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.kernel_ridge import KernelRidge as SkKernelRidge

from fastml.kernel_ridge import KernelRidge

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("kernel", ["rbf", "chi2", "intersection"])
def test_tensor_inputs(kernel):
    rng = np.random.default_rng(1)
    X, y = rng.random((30, 6)), rng.random(30)
    tX, ty = torch.from_numpy(X), torch.from_numpy(y)
    got = KernelRidge(alpha=0.5, kernel=kernel).fit(tX, ty).predict(tX[:7])
    ref = KernelRidge(alpha=0.5, kernel=kernel).fit(X, y).predict(X[:7])
    assert type(got) is np.ndarray
    assert_allclose(got, ref, rtol=1e-12)
    if kernel == "rbf":  # the kernels scikit-learn's KernelRidge computes with gamma=None
        sk = SkKernelRidge(alpha=0.5, kernel=kernel).fit(X, y).predict(X[:7])
        assert_allclose(got, sk, rtol=1e-8)
