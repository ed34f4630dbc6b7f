"""k-NN estimators take torch tensors and lists as scikit-learn does (ndarrays out)."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.neighbors import KNeighborsClassifier as SkKNN

from fastml.neighbors import KNeighborsClassifier, NearestNeighbors

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_tensors_in_fit_and_queries(dtype):
    rng = np.random.default_rng(0)
    X = rng.random((40, 20))
    y = np.arange(40) % 3
    tX = torch.from_numpy(X).to(dtype)
    knn = KNeighborsClassifier(3, algorithm="brute").fit(tX, torch.from_numpy(y))
    pred = knn.predict(tX[:10])
    assert type(pred) is np.ndarray
    ref = SkKNN(3, algorithm="brute").fit(tX.numpy(), y).predict(tX[:10].numpy())
    assert_array_equal(pred, ref)
    dist, ind = NearestNeighbors(n_neighbors=4, algorithm="brute").fit(tX).kneighbors(tX[:5])
    d2, i2 = NearestNeighbors(n_neighbors=4, algorithm="brute").fit(
        tX.numpy()).kneighbors(tX[:5].numpy())
    assert type(dist) is np.ndarray and type(ind) is np.ndarray
    assert_array_equal(ind, i2)
    assert_allclose(dist, d2)


def test_lists():
    X = [[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]]
    ind = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(X).kneighbors(
        [[4.0, 4.5]], return_distance=False)
    assert ind.tolist() == [[2]]
