"""Kernel Ridge Regression and the kernel ridge classifier, solved in the dual."""
import warnings

import numpy as np
import scipy.linalg
from scipy.linalg import LinAlgError, LinAlgWarning
from sklearn.base import BaseEstimator, ClassifierMixin, MultiOutputMixin, RegressorMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from fastml.metrics._kernel_mixin import KernelMixin
from fastml.utils import blas_threads, effective_n_threads


def _solve_dual(K, y, alpha, sample_weight, copy, n_threads):
    """Solve (K + alpha I) a = y for every column of y, by Cholesky.

    K is overwritten unless ``copy``. Only K's upper triangle (row-major) is factorised, so
    when K + alpha I is not positive definite (K singular and alpha = 0, or an indefinite
    "kernel") K is restored from its lower triangle and the least-squares solution is used
    instead, with a LinAlgWarning.
    """
    n = K.shape[0]
    if copy:
        K = K.copy()
    if sample_weight is not None:
        # Weighted ridge: rescale rows/columns by sqrt(w) (the classical reduction).
        sw = np.sqrt(np.asarray(sample_weight, dtype=K.dtype))
        K *= sw[:, None]
        K *= sw[None, :]
        y = y * sw[:, None]
    one_alpha = np.all(alpha == alpha[0])
    dual = np.empty(y.shape, dtype=K.dtype)
    diag = K.diagonal().copy()
    targets = [slice(None)] if one_alpha else [slice(t, t + 1) for t in range(y.shape[1])]
    with blas_threads(n_threads):
        for t, cols in enumerate(targets):
            a = alpha[0] if one_alpha else alpha[t]
            A = K if one_alpha or t == len(targets) - 1 else K.copy()
            A.flat[:: n + 1] = diag + a
            # The row-major upper triangle of A is the column-major lower triangle of A.T.
            try:
                c, lower = scipy.linalg.cho_factor(A.T, lower=True, overwrite_a=True,
                                                   check_finite=False)
                dual[:, cols] = scipy.linalg.cho_solve((c, lower), y[:, cols],
                                                       check_finite=False)
            except LinAlgError:
                warnings.warn(
                    "K + alpha I is not positive definite (a singular kernel matrix with "
                    "alpha = 0, or a kernel that is not positive semi-definite); using the "
                    "least-squares solution instead.",
                    LinAlgWarning,
                )
                iu = np.triu_indices(n, 1)
                A[iu] = A.T[iu]  # restore the factorised triangle from the intact one
                A.flat[:: n + 1] = diag + a
                dual[:, cols] = scipy.linalg.lstsq(A, y[:, cols], check_finite=False,
                                                   lapack_driver="gelsd")[0]
    if sample_weight is not None:
        dual *= sw[:, None]
    return dual


def _check_alpha(alpha, n_targets):
    a = np.atleast_1d(np.asarray(alpha, dtype=np.float64))
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"alpha must be a non-negative float or a 1-D array, got {alpha!r}.")
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"alpha must be finite and >= 0, got {alpha!r}.")
    if a.size not in (1, n_targets):
        raise ValueError(f"alpha has {a.size} values but y has {n_targets} targets; give one "
                         "alpha or one per target.")
    return np.full(n_targets, a[0]) if a.size == 1 else a


class _RidgeMixin(KernelMixin):
    """Dual solve and prediction shared by KernelRidge and KernelRidgeClassifier."""

    def _fit_targets(self, X, Y, sample_weight):
        alpha = _check_alpha(self.alpha, Y.shape[1])
        if not (isinstance(self.kernel, str) and self.kernel == "precomputed"):
            self._check_non_negative(X)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
            if np.any(sample_weight < 0):
                raise ValueError("sample_weight must be non-negative.")
        K = self._get_kernel(X)
        copy = isinstance(self.kernel, str) and self.kernel == "precomputed"
        n_threads = effective_n_threads(self.n_jobs)
        return _solve_dual(K, Y.astype(K.dtype, copy=False), alpha, sample_weight, copy,
                           n_threads)

    def _decision(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False,
                          dtype=[np.float64, np.float32])
        K = self._get_kernel(X, self.X_fit_)
        with blas_threads(effective_n_threads(self.n_jobs)):
            return K @ self.dual_coef_.astype(K.dtype, copy=False)


class _BaseKernelRidge(_RidgeMixin, BaseEstimator):
    """Parameters shared by KernelRidge and KernelRidgeClassifier."""

    def __init__(self, alpha=1.0, *, kernel="linear", gamma=None, degree=3, coef0=1,
                 kernel_params=None, n_jobs=None):
        self.alpha = alpha
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.n_jobs = n_jobs


class KernelRidge(MultiOutputMixin, RegressorMixin, _BaseKernelRidge):
    """Kernel Ridge Regression: a drop-in for ``sklearn.kernel_ridge.KernelRidge``.

    Fits ``dual_coef_`` = (K + alpha I)^-1 y (per target) with a Cholesky factorisation
    of the kernel matrix K = k(X, X) computed by :mod:`fastml.metrics`; predicts
    k(X, X_fit_) @ dual_coef_. If K + alpha I is not positive definite the least-squares
    solution is used and a ``LinAlgWarning`` says so.

    Parameters
    ----------
    alpha : float or array of shape (n_targets,), default=1.0
        Ridge penalty (>= 0); one per target is allowed.
    kernel : str, callable or list, default="linear"
        Any name of :func:`fastml.metrics.kernel_metrics` ("rbf", "intersection", "pq",
        ...), "precomputed" (X is then the kernel matrix), a callable ``k(x, y)``, or a
        list of (kernel, weight[, params]) for a weighted sum of kernels.
    gamma, degree, coef0 : kernel parameters, passed to the kernels that take them.
    kernel_params : dict, default=None
        Keyword arguments of a callable kernel; ignored for named kernels (which take
        ``gamma``, ``degree`` and ``coef0``), as in scikit-learn.
    n_jobs : int, default=None
        Threads for the kernel matrix and for BLAS/LAPACK; None uses every usable core.

    Attributes
    ----------
    dual_coef_ : ndarray of shape (n_samples,) or (n_samples, n_targets)
    X_fit_ : the training data (or the training kernel when precomputed)
    n_features_in_ : int
    """

    def fit(self, X, y, sample_weight=None):
        """Fit Kernel Ridge regression: dual_coef_ = (K + alpha I)^-1 y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or \
                (n_samples, n_samples) for kernel="precomputed"
            Training data (CSR accepted by the kernels that take it).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight per sample.

        Returns
        -------
        self : object
            The fitted estimator.

        Examples
        --------
        >>> from fastml.kernel_ridge import KernelRidge
        >>> KernelRidge(alpha=1.0).fit([[0.0], [1.0]], [0.0, 2.0]).dual_coef_
        array([0., 1.])
        """
        X, y = validate_data(self, X, y, accept_sparse="csr", multi_output=True,
                             y_numeric=True, dtype=[np.float64, np.float32])
        ravel = y.ndim == 1
        Y = y.reshape(-1, 1) if ravel else y
        dual = self._fit_targets(X, Y, sample_weight)
        self.dual_coef_ = dual.ravel() if ravel else dual
        self.X_fit_ = X
        return self

    def predict(self, X):
        """Predict k(X, X_fit_) @ dual_coef_.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features), or \
                (n_queries, n_samples_fit) for kernel="precomputed"
            Samples.

        Returns
        -------
        y : ndarray of shape (n_queries,) or (n_queries, n_targets)

        Examples
        --------
        >>> from fastml.kernel_ridge import KernelRidge
        >>> KernelRidge(alpha=1.0).fit([[0.0], [1.0]], [0.0, 2.0]).predict([[2.0]])
        array([2.])
        """
        return self._decision(X)


class KernelRidgeClassifier(ClassifierMixin, _BaseKernelRidge):
    """The kernel ridge classifier (least-squares classification in the dual).

    Each class gets a kernel ridge regression onto targets +1 (the class) / -1 (the
    rest): one-vs-all, sharing one factorisation of K + alpha I. ``predict`` returns
    the class with the largest decision value (for two classes: the sign).
    Parameters as :class:`KernelRidge`; ``n_jobs`` threads the kernel and BLAS.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    dual_coef_ : ndarray of shape (n_samples,) for two classes, else (n_samples, n_classes)
    X_fit_, n_features_in_
    """

    def fit(self, X, y, sample_weight=None):
        """Fit one-vs-all kernel ridge regressions onto +1 / -1 targets.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or \
                (n_samples, n_samples) for kernel="precomputed"
            Training data (CSR accepted by the kernels that take it).
        y : array-like of shape (n_samples,)
            Class labels (at least two classes).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight per sample.

        Returns
        -------
        self : object
            The fitted estimator.

        Examples
        --------
        >>> from fastml.kernel_ridge import KernelRidgeClassifier
        >>> clf = KernelRidgeClassifier(alpha=0.1, kernel="rbf")
        >>> clf = clf.fit([[0.0], [1.0], [3.0], [4.0]], [0, 0, 1, 1])
        >>> clf.classes_
        array([0, 1])
        """
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self._label_binarizer = LabelBinarizer(pos_label=1, neg_label=-1)
        Y = self._label_binarizer.fit_transform(y)
        self.classes_ = self._label_binarizer.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"KernelRidgeClassifier needs samples of at least 2 classes in the data, but "
                f"the data contains only one class: {self.classes_[0]!r}."
            )
        dual = self._fit_targets(X, Y.astype(X.dtype), sample_weight)
        self.dual_coef_ = dual.ravel() if dual.shape[1] == 1 else dual
        self.X_fit_ = X
        return self

    def decision_function(self, X):
        """Decision values: (n_samples,) for two classes (> 0 means classes_[1]), else
        (n_samples, n_classes).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features)
            Samples.

        Returns
        -------
        d : ndarray of shape (n_queries,) or (n_queries, n_classes)

        Examples
        --------
        >>> from fastml.kernel_ridge import KernelRidgeClassifier
        >>> clf = KernelRidgeClassifier(alpha=0.1, kernel="rbf")
        >>> clf = clf.fit([[0.0], [1.0], [3.0], [4.0]], [0, 0, 1, 1])
        >>> bool(clf.decision_function([[3.5]])[0] > 0)
        True
        """
        return self._decision(X)

    def predict(self, X):
        """Predict the class with the largest decision value.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features)
            Samples.

        Returns
        -------
        y : ndarray of shape (n_queries,)
            Class labels.

        Examples
        --------
        >>> from fastml.kernel_ridge import KernelRidgeClassifier
        >>> clf = KernelRidgeClassifier(alpha=0.1, kernel="rbf")
        >>> clf = clf.fit([[0.0], [1.0], [3.0], [4.0]], [0, 0, 1, 1])
        >>> clf.predict([[0.5], [3.5]])
        array([0, 1])
        """
        d = self.decision_function(X)
        if d.ndim == 1:
            return self.classes_[(d > 0).astype(int)]
        return self.classes_[np.argmax(d, axis=1)]

