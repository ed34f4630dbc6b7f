"""Kernel PCA with fastml's kernel matrices (and fastml's kernels)."""
from sklearn import decomposition as _skd
from sklearn.utils._param_validation import StrOptions

from fastml.metrics import kernel_metrics, pairwise_kernels
from fastml.metrics._kernel_mixin import needs_non_negative

__all__ = ["KernelPCA"]

_SK_KERNELS = next(c for c in _skd.KernelPCA._parameter_constraints["kernel"]
                   if isinstance(c, StrOptions)).options


class KernelPCA(_skd.KernelPCA):
    """Kernel Principal Component Analysis.

    scikit-learn's ``KernelPCA`` (same parameters, attributes, errors and results) whose
    kernel matrices are fastml's (:func:`fastml.metrics.pairwise_kernels`), and which
    also takes fastml's kernels by name: ``"laplacian"``, ``"chi2"``,
    ``"additive_chi2"``, ``"intersection"``, ``"hellinger"``, ``"pq"`` besides
    scikit-learn's ``"linear"``, ``"poly"``, ``"rbf"``, ``"sigmoid"``, ``"cosine"`` and
    ``"precomputed"``.

    Parameters
    ----------
    n_components : int, default=None
        Number of components. If None, all non-zero components are kept.
    kernel : str or callable, default='linear'
        Kernel used for PCA: a name above, ``"precomputed"`` or a callable.
    gamma : float, default=None
        Kernel coefficient of the kernels that take one (rbf, poly, sigmoid, laplacian,
        chi2); None: ``1 / n_features``.
    degree : float, default=3
        Degree for poly kernels. Ignored by other kernels.
    coef0 : float, default=1
        Independent term in poly and sigmoid kernels. Ignored by other kernels.
    kernel_params : dict, default=None
        Parameters (keyword arguments) and values for a kernel passed as a callable
        object. Ignored by other kernels.
    alpha : float, default=1.0
        Hyperparameter of the ridge regression that learns the inverse transform (when
        fit_inverse_transform=True).
    fit_inverse_transform : bool, default=False
        Learn the inverse transform for non-precomputed kernels (i.e. learn to find the
        pre-image of a point).
    eigen_solver : {'auto', 'dense', 'arpack', 'randomized'}, default='auto'
        Eigensolver to use.
    tol : float, default=0
        Convergence tolerance for arpack.
    max_iter : int, default=None
        Maximum number of iterations for arpack.
    iterated_power : int >= 0, or 'auto', default='auto'
        Number of iterations for the power method computed by svd_solver == 'randomized'.
    remove_zero_eig : bool, default=False
        If True, then all components with zero eigenvalues are removed.
    random_state : int, RandomState instance or None, default=None
        Used when ``eigen_solver`` == 'arpack' or 'randomized'.
    copy_X : bool, default=True
        If True, input X is copied and stored by the model in the `X_fit_` attribute.
    n_jobs : int, default=None
        The number of parallel jobs (threads) of the kernel matrices.

    Attributes
    ----------
    eigenvalues_ : ndarray of shape (n_components,)
        Eigenvalues of the centered kernel matrix in decreasing order.
    eigenvectors_ : ndarray of shape (n_samples, n_components)
        Eigenvectors of the centered kernel matrix.
    dual_coef_ : ndarray of shape (n_samples, n_features)
        Inverse transform matrix. Only available when ``fit_inverse_transform`` is True.
    X_transformed_fit_ : ndarray of shape (n_samples, n_components)
        Projection of the fitted data on the kernel principal components. Only available
        when ``fit_inverse_transform`` is True.
    X_fit_ : ndarray of shape (n_samples, n_features)
        The data used to fit the model.
    gamma_ : float
        Kernel coefficient for rbf, poly, sigmoid, laplacian and chi2 kernels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.decomposition.KernelPCA : The estimator this one extends.

    Examples
    --------
    >>> import numpy as np
    >>> from fastml.decomposition import KernelPCA
    >>> X = np.random.default_rng(0).random((20, 4))
    >>> KernelPCA(n_components=2, kernel="intersection").fit_transform(X).shape
    (20, 2)
    """

    _parameter_constraints = {
        **_skd.KernelPCA._parameter_constraints,
        "kernel": [StrOptions(set(_SK_KERNELS) | set(kernel_metrics())), callable],
    }

    def _get_kernel(self, X, Y=None):
        if callable(self.kernel):
            params = self.kernel_params or {}
        else:
            params = {"gamma": self.gamma_, "degree": self.degree, "coef0": self.coef0}
        return pairwise_kernels(X, Y, metric=self.kernel, filter_params=True,
                                n_jobs=self.n_jobs, **params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # the histogram kernels are defined on non-negative data only
        tags.input_tags.positive_only = needs_non_negative(self.kernel)
        return tags
