"""fastml.patch_sklearn / unpatch_sklearn / sklearn_patched, and that the scikit-learn test
modules of this directory really run against fastml."""
import importlib
import sys

import numpy as np
import pytest
import sklearn.kernel_ridge
import sklearn.metrics
import sklearn.metrics.pairwise
import sklearn.neighbors

import fastml
import fastml.kernel_ridge
import fastml.metrics
import fastml.neighbors

_CASES = [
    (sklearn.neighbors, "KNeighborsClassifier", fastml.neighbors),
    (sklearn.neighbors, "NearestNeighbors", fastml.neighbors),
    (sklearn.neighbors, "kneighbors_graph", fastml.neighbors),
    (sklearn.metrics, "pairwise_distances", fastml.metrics),
    (sklearn.metrics.pairwise, "pairwise_kernels", fastml.metrics),
    (sklearn.metrics.pairwise, "rbf_kernel", fastml.metrics),
    (sklearn.kernel_ridge, "KernelRidge", fastml.kernel_ridge),
]


@pytest.fixture
def unpatched():
    """These tests start and end with scikit-learn unpatched (this directory's autouse
    fixture patches every test)."""
    fastml.unpatch_sklearn()
    yield
    fastml.unpatch_sklearn()


def test_patch_and_unpatch(unpatched):
    originals = {(m.__name__, a): getattr(m, a) for m, a, _ in _CASES}
    fastml.patch_sklearn()
    assert fastml.sklearn_is_patched()
    for module, attr, fast in _CASES:
        assert getattr(module, attr) is getattr(fast, attr), attr
    from sklearn.neighbors import KNeighborsClassifier  # an import after patching

    assert KNeighborsClassifier is fastml.neighbors.KNeighborsClassifier
    fastml.unpatch_sklearn()
    assert not fastml.sklearn_is_patched()
    for module, attr, _ in _CASES:
        assert getattr(module, attr) is originals[(module.__name__, attr)], attr


def test_patch_some_names_and_context_manager(unpatched):
    original = sklearn.neighbors.NearestNeighbors
    fastml.patch_sklearn("NearestNeighbors")
    assert sklearn.neighbors.NearestNeighbors is fastml.neighbors.NearestNeighbors
    assert sklearn.neighbors.KNeighborsClassifier is not fastml.neighbors.KNeighborsClassifier
    # nested use keeps what was patched before
    with fastml.sklearn_patched():
        assert sklearn.metrics.pairwise_distances is fastml.metrics.pairwise_distances
    assert sklearn.neighbors.NearestNeighbors is fastml.neighbors.NearestNeighbors
    assert sklearn.metrics.pairwise_distances is not fastml.metrics.pairwise_distances
    fastml.unpatch_sklearn("NearestNeighbors")
    assert sklearn.neighbors.NearestNeighbors is original
    with pytest.raises(ValueError, match="Cannot patch"):
        fastml.patch_sklearn("LinearSVC")
    assert "KNeighborsClassifier" in fastml.get_patch_names()


def test_patched_functions_do_not_recurse_into_themselves(unpatched):
    """fastml's fallbacks call scikit-learn's original functions, also while patched."""
    rng = np.random.default_rng(0)
    X = rng.random((6, 3))
    with fastml.sklearn_patched():
        D = sklearn.metrics.pairwise_distances(X, metric="braycurtis")  # a fallback
        K = sklearn.metrics.pairwise.pairwise_kernels(D, metric="precomputed")
    from scipy.spatial.distance import cdist

    np.testing.assert_allclose(D, cdist(X, X, "braycurtis"), rtol=1e-12)
    assert K is D or np.array_equal(K, D)


def test_the_suite_modules_use_fastml():
    """The scikit-learn test modules bound fastml's objects when imported here."""
    for name, attrs in [
        ("sklearn.metrics.tests.test_pairwise", ["pairwise_distances", "pairwise_kernels",
                                                 "rbf_kernel", "laplacian_kernel"]),
        ("sklearn.neighbors.tests.test_neighbors", ["KNeighborsRegressor"]),
        ("sklearn.tests.test_kernel_ridge", ["KernelRidge", "pairwise_kernels"]),
    ]:
        module = sys.modules.get(name) or importlib.import_module(name)
        for attr in attrs:
            assert getattr(module, attr).__module__.startswith("fastml."), (name, attr)
