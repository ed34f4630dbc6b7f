"""The kernel parameters shared by the kernel estimators (``KernelRidge``,
``KernelRidgeClassifier``, ``KernelTransformer``): ``kernel``, ``gamma``, ``degree``,
``coef0``, ``kernel_params`` and ``n_jobs`` turned into a kernel matrix, read from the
kernel registry."""
from fastml.metrics._registry import KERNELS, unknown_kernel_message
from fastml.metrics.pairwise import pairwise_kernels


class KernelMixin:
    """Mixin of estimators with scikit-learn's kernel parameters (as ``KernelRidge``)."""

    def _kernel_params(self):
        if callable(self.kernel):
            return dict(self.kernel_params or {})
        if isinstance(self.kernel, str):
            if self.kernel != "precomputed" and self.kernel not in KERNELS:
                raise ValueError(unknown_kernel_message("kernel", self.kernel))
            spec = KERNELS.get(self.kernel)
            allowed = spec.params if spec is not None else ()
            params = {"gamma": self.gamma, "degree": self.degree, "coef0": self.coef0}
            params = {k: v for k, v in params.items() if k in allowed and v is not None}
        else:  # a list of kernels: shared parameters go to the components that take them
            params = {k: v for k, v in
                      {"gamma": self.gamma, "degree": self.degree, "coef0": self.coef0}.items()
                      if v is not None}
        params.update(self.kernel_params or {})
        return params

    def _get_kernel(self, X, Y=None):
        return pairwise_kernels(X, Y, metric=self.kernel, filter_params=True,
                                n_jobs=self.n_jobs, **self._kernel_params())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        kernels = self.kernel if isinstance(self.kernel, (list, tuple)) else [self.kernel]
        names = [k[0] if isinstance(k, tuple) else k for k in kernels]
        tags.input_tags.sparse = all(isinstance(k, str) and k in KERNELS and KERNELS[k].sparse
                                     for k in names)
        tags.input_tags.pairwise = isinstance(self.kernel, str) and self.kernel == "precomputed"
        return tags
