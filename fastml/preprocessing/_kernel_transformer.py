"""KernelTransformer: rows -> their kernel against the training rows, for precomputed-kernel
estimators (``SVC(kernel="precomputed")``, ``KernelRidge(kernel="precomputed")``)."""
import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from fastml.metrics.pairwise import kernel_diagonal, normalize_kernel
from fastml.metrics._kernel_mixin import KernelMixin


class KernelTransformer(KernelMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                        BaseEstimator):
    """``fit`` keeps the training rows; ``transform(X)`` returns K(X, X_fit_).

    With ``normalize=True`` the kernel is normalised with both diagonals,
    K_ij / sqrt(k(x_i, x_i) k(z_j, z_j)) (a zero self-similarity gives zeros, not NaN).
    So ``make_pipeline(KernelTransformer("intersection"), SVC(kernel="precomputed"))``
    trains and predicts on raw features, and works in ``GridSearchCV``.

    Parameters
    ----------
    kernel : str, callable or list, default="linear"
        As in :func:`fastml.metrics.pairwise_kernels` (not "precomputed").
    gamma, degree, coef0 : kernel parameters of the named kernels that take them
        (scikit-learn estimators cannot take ``**params``, so they are named, as in
        ``KernelRidge``).
    kernel_params : dict, default=None
        Keyword arguments of a callable kernel; ignored for named kernels, as in
        scikit-learn's ``KernelRidge``.
    normalize : bool, default=False
    n_jobs : int, default=None

    Attributes
    ----------
    X_fit_ : ndarray or CSR matrix of shape (n_samples_fit, n_features)
        The training rows.
    diag_fit_ : ndarray of shape (n_samples_fit,) or None
        Their self-similarities (when ``normalize``).
    n_features_in_ : int
        Features seen in fit.
    feature_names_in_ : ndarray of str
        Column names of X in fit, when it had string column names (a DataFrame).

    Notes
    -----
    The output's columns are the training rows: ``get_feature_names_out()`` names
    them ``kerneltransformer0``, ``kerneltransformer1``, ... (as ``Nystroem`` names its
    components), and ``set_output(transform="pandas")`` (or scikit-learn's
    ``transform_output`` setting) returns a DataFrame with those columns.
    """

    def __init__(self, kernel="linear", *, gamma=None, degree=3, coef0=1, kernel_params=None,
                 normalize=False, n_jobs=None):
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.normalize = normalize
        self.n_jobs = n_jobs

    def _check_params(self):
        if isinstance(self.kernel, str) and self.kernel == "precomputed":
            raise ValueError("KernelTransformer computes kernels; kernel='precomputed' makes "
                             "no sense here.")
        if not isinstance(self.normalize, (bool, np.bool_)):
            raise TypeError(f"normalize must be True or False, got {self.normalize!r}.")

    def _diag(self, X):
        return kernel_diagonal(X, self.kernel, **self._kernel_params())

    def fit(self, X, y=None):
        """Keep the training rows (and their self-similarities when normalize).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted transformer.

        Examples
        --------
        >>> from fastml.preprocessing import KernelTransformer
        >>> KernelTransformer("linear").fit([[1.0, 0.0], [0.0, 2.0]]).X_fit_.shape
        (2, 2)
        """
        self._check_params()
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32])
        # Check the kernel and its parameters now (bad values raise here, not at transform).
        self._kernel_params()
        self._check_non_negative(X)
        self.X_fit_ = X
        self.diag_fit_ = self._diag(X) if self.normalize else None
        return self

    def transform(self, X):
        """The kernel of X against the training rows, K(X, X_fit_).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features)
            Rows to transform.

        Returns
        -------
        K : ndarray of shape (n_queries, n_samples_fit)
            Normalised when ``normalize=True``.

        Examples
        --------
        >>> from fastml.preprocessing import KernelTransformer
        >>> kt = KernelTransformer("linear", normalize=True).fit([[1.0, 0.0], [0.0, 2.0]])
        >>> kt.transform([[3.0, 0.0]])
        array([[1., 0.]])
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False,
                          dtype=[np.float64, np.float32])
        K = self._get_kernel(X, self.X_fit_)
        if self.normalize:
            K = normalize_kernel(K, self._diag(X).astype(K.dtype), self.diag_fit_.astype(K.dtype),
                                 out=K)
        return K

    @property
    def _n_features_out(self):
        """One output column per training row (get_feature_names_out)."""
        return self.X_fit_.shape[0]

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns, one per training row.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against the names seen in fit, as in scikit-learn; the output
            names do not depend on them.

        Returns
        -------
        feature_names_out : ndarray of str
            ``["kerneltransformer0", "kerneltransformer1", ...]``.

        Examples
        --------
        >>> from fastml.preprocessing import KernelTransformer
        >>> KernelTransformer().fit([[1.0], [2.0]]).get_feature_names_out()
        array(['kerneltransformer0', 'kerneltransformer1'], dtype=object)
        """
        check_is_fitted(self, "X_fit_")
        return super().get_feature_names_out(input_features)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = False
        return tags
