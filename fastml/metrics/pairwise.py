"""Kernel matrices: drop-in replacements for ``sklearn.metrics.pairwise``'s kernels, plus
histogram intersection, Hellinger and PQ rank kernels, sums and normalisation.

The public face of three private modules: :mod:`fastml.metrics._kernels` (the kernel
functions and their registry entries), :mod:`fastml.metrics._safety` (what keeps their
float arithmetic exact enough) and :mod:`fastml.metrics._dispatch`
(:func:`pairwise_kernels`, :func:`kernel_diagonal`, normalisation). The kernel list,
``__all__`` included, is read from the registry (:mod:`fastml.metrics._registry`).

All kernel functions share these rules:

* ``X`` of shape (n, d) and ``Y`` of shape (m, d) give an (n, m) matrix; ``Y=None`` (or
  ``Y is X``) computes K(X, X) using symmetry: each pair is computed once;
* float32 inputs give float32 results; any other real dtype is converted to float64
  once (mixed float32/float64 gives float64);
* ``n_jobs`` means what it means in scikit-learn's OpenMP code (None and -1: every
  usable core); BLAS runs one thread per tile inside fastml's own parallel loop, and the
  results have the same bits for any ``n_jobs`` (tiles depend on the shapes only);
* a NaN or inf in the input is an error, unless scikit-learn's ``assume_finite`` is set:
  then nothing is checked and NaN comes out where scikit-learn gives NaN;
* ``out=`` receives the result (C-contiguous, exact shape and dtype) instead of a new
  array;
* empty or non-2-D input, mismatched feature counts, bad parameter values and negative
  entries for kernels defined on non-negative data raise a ValueError (or a TypeError for
  wrong types) that names the argument.
"""
from fastml.metrics import _registry
from fastml.metrics._dispatch import (
    KERNEL_PARAMS,
    PAIRWISE_KERNEL_FUNCTIONS,
    inv_sqrt_diagonal,
    is_kernel_sum,
    kernel_diagonal,
    kernel_metrics,
    normalize_kernel,
    pairwise_kernels,
)
from fastml.metrics._kernels import (  # noqa: F401  (the kernels, listed in __all__)
    additive_chi2_kernel,
    chi2_kernel,
    cosine_similarity,
    hellinger_kernel,
    intersection_kernel,
    laplacian_kernel,
    linear_kernel,
    pq_kernel,
    polynomial_kernel,
    rbf_kernel,
    sigmoid_kernel,
)
from fastml.metrics._safety import EXP_RTOL as _EXP_RTOL  # noqa: F401  (tests, fuzz)
from fastml.metrics.distance import pairwise_distances  # as in sklearn.metrics.pairwise

__all__ = sorted([
    "pairwise_distances",
    "inv_sqrt_diagonal",
    "kernel_diagonal",
    "kernel_metrics",
    "normalize_kernel",
    "pairwise_kernels",
    *_registry.kernel_function_names(),
])


# the Examples of the functions defined in the private modules run under
# doctest.testmod(fastml.metrics.pairwise) too
__test__ = {name: globals()[name] for name in __all__ if name != "pairwise_distances"}
