"""fastml.decomposition.KernelPCA: scikit-learn's KernelPCA on fastml's kernel matrices,
also with fastml's kernels."""
import numpy as np
import pytest
from sklearn import decomposition as skd
from sklearn.metrics.pairwise import additive_chi2_kernel, chi2_kernel, laplacian_kernel
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastml.decomposition import KernelPCA


def _expected_failures(estimator):
    if estimator.kernel == "intersection":
        # the error is fastml's kernels' ("X contains negative values, but the
        # intersection kernel is only defined on non-negative data ..."), not the words
        # this check looks for; test_float32_stays_float32_and_errors checks it
        return {"check_positive_only_tag_during_fit": "fastml's wording of the error"}
    return {}


@parametrize_with_checks([KernelPCA(), KernelPCA(kernel="rbf", n_components=2),
                          KernelPCA(kernel="laplacian"),
                          KernelPCA(kernel="intersection")],
                         expected_failed_checks=_expected_failures)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _data():
    rng = np.random.default_rng(0)
    return rng.random((120, 10)), rng.random((15, 10))


def _align_signs(A, B):
    """Eigenvectors are defined up to sign: flip A's columns to B's."""
    return A * np.where(np.sum(A * B, axis=0) < 0, -1.0, 1.0)


@pytest.mark.parametrize("kernel", ["linear", "poly", "rbf", "sigmoid", "cosine"])
def test_scikit_learn_kernels_as_scikit_learn(kernel):
    X, T = _data()
    kw = dict(n_components=4, kernel=kernel, fit_inverse_transform=True, gamma=0.3)
    fast, ref = KernelPCA(**kw), skd.KernelPCA(**kw)
    Z, Zr = fast.fit_transform(X), ref.fit_transform(X)
    np.testing.assert_allclose(fast.eigenvalues_, ref.eigenvalues_, rtol=1e-9)
    np.testing.assert_allclose(_align_signs(Z, Zr), Zr, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(_align_signs(fast.transform(T), ref.transform(T)),
                               ref.transform(T), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fast.inverse_transform(Z), ref.inverse_transform(Z),
                               rtol=1e-6, atol=1e-9)


def _intersection(A, B):
    return np.minimum(A[:, None, :], B[None, :, :]).sum(-1)


@pytest.mark.parametrize("kernel, reference", [
    ("chi2", lambda A, B, g: chi2_kernel(A, B, gamma=g)),
    ("additive_chi2", lambda A, B, g: additive_chi2_kernel(A, B)),
    ("laplacian", lambda A, B, g: laplacian_kernel(A, B, gamma=g)),
    ("intersection", lambda A, B, g: _intersection(A, B)),
    ("hellinger", lambda A, B, g: np.sqrt(A) @ np.sqrt(B).T),
])
@pytest.mark.parametrize("gamma", [None, 0.5])
def test_fastml_kernels_as_scikit_learn_on_the_precomputed_kernel(kernel, reference, gamma):
    """The kernels scikit-learn's KernelPCA does not take by name: the same as its
    'precomputed' route on a reference kernel matrix (gamma None: 1 / n_features)."""
    X, T = _data()
    g = 1.0 / X.shape[1] if gamma is None else gamma
    fast = KernelPCA(n_components=3, kernel=kernel, gamma=gamma).fit(X)
    ref = skd.KernelPCA(n_components=3, kernel="precomputed").fit(reference(X, X, g))
    np.testing.assert_allclose(fast.eigenvalues_, ref.eigenvalues_, rtol=1e-9)
    Zt, Zr = fast.transform(T), ref.transform(reference(T, X, g))
    np.testing.assert_allclose(_align_signs(Zt, Zr), Zr, rtol=1e-7, atol=1e-9)


def test_float32_stays_float32_and_errors():
    X, _ = _data()
    Z = KernelPCA(n_components=2, kernel="chi2").fit_transform(X.astype(np.float32))
    assert Z.dtype == np.float32
    with pytest.raises(InvalidParameterError, match="intersection"):
        KernelPCA(kernel="no-such-kernel").fit(X)  # the message lists fastml's kernels
    for kernel in ["chi2", "intersection"]:
        with pytest.raises(ValueError, match="negative values"):
            KernelPCA(kernel=kernel).fit(X - 0.5)
        assert KernelPCA(kernel=kernel).__sklearn_tags__().input_tags.positive_only
    assert not KernelPCA(kernel="rbf").__sklearn_tags__().input_tags.positive_only
