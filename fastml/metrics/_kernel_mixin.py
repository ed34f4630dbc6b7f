"""The kernel parameters shared by the kernel estimators (``KernelRidge``,
``KernelRidgeClassifier``, ``KernelTransformer``): ``kernel``, ``gamma``, ``degree``,
``coef0``, ``kernel_params`` and ``n_jobs`` turned into a kernel matrix, read from the
kernel registry."""
from fastml.metrics._registry import KERNELS, unknown_kernel_message
from fastml.metrics.pairwise import pairwise_kernels


def needs_non_negative(kernel):
    """Whether the named kernel is defined for non-negative data only (histograms:
    intersection, Hellinger, chi-squared), from the kernel registry."""
    spec = KERNELS.get(kernel) if isinstance(kernel, str) else None
    return spec is not None and spec.non_negative is not None


class KernelMixin:
    """Mixin of estimators with scikit-learn's kernel parameters (as ``KernelRidge``)."""

    def _kernel_params(self):
        """The keyword arguments of the kernel, as scikit-learn's ``KernelRidge`` builds
        them: ``kernel_params`` for a callable kernel (and only for it), ``gamma``,
        ``degree`` and ``coef0`` for a named kernel (those it takes) or a list of
        kernels (each component takes those it knows)."""
        if callable(self.kernel):
            return dict(self.kernel_params or {})
        shared = {"gamma": self.gamma, "degree": self.degree, "coef0": self.coef0}
        if isinstance(self.kernel, str):
            if self.kernel != "precomputed" and self.kernel not in KERNELS:
                raise ValueError(unknown_kernel_message("kernel", self.kernel))
            spec = KERNELS.get(self.kernel)
            allowed = spec.params if spec is not None else ()
            return {k: v for k, v in shared.items() if k in allowed and v is not None}
        return {k: v for k, v in shared.items() if v is not None}

    def _check_non_negative(self, X):
        """At fit: the kernels of non-negative data (``positive_only`` tag) refuse
        negative X with scikit-learn's wording."""
        kernels = self.kernel if isinstance(self.kernel, (list, tuple)) else [self.kernel]
        names = [k[0] if isinstance(k, tuple) else k for k in kernels]
        bad = [n for n in names if needs_non_negative(n)]
        if not bad:
            return
        low = X.data.min(initial=0) if hasattr(X, "data") and hasattr(X, "indptr") \
            else (X.min() if X.size else 0)
        if low < 0:
            raise ValueError(f"Negative values in data passed to {type(self).__name__}: "
                             f"kernel={bad[0]!r} is defined on non-negative data only "
                             "(histograms, counts, pixel intensities); shift or rescale X "
                             "first.")

    def _get_kernel(self, X, Y=None):
        return pairwise_kernels(X, Y, metric=self.kernel, filter_params=True,
                                n_jobs=self.n_jobs, **self._kernel_params())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        kernels = self.kernel if isinstance(self.kernel, (list, tuple)) else [self.kernel]
        names = [k[0] if isinstance(k, tuple) else k for k in kernels]
        tags.input_tags.sparse = all(isinstance(k, str) and k in KERNELS and KERNELS[k].csr is not None
                                     for k in names)
        tags.input_tags.pairwise = isinstance(self.kernel, str) and self.kernel == "precomputed"
        tags.input_tags.positive_only = any(needs_non_negative(n) for n in names)
        return tags
