"""Pairwise kernels and distances: ``fastml.metrics``.

Also importable as ``fastml.metrics.pairwise``, mirroring ``sklearn.metrics.pairwise``.
"""
from fastml.metrics.distance import DISTANCE_METRICS, dtw, levenshtein, pairwise_distances
from fastml.metrics.pairwise import (
    PAIRWISE_KERNEL_FUNCTIONS,
    additive_chi2_kernel,
    chi2_kernel,
    cosine_similarity,
    hellinger_kernel,
    intersection_kernel,
    kernel_diagonal,
    kernel_metrics,
    laplacian_kernel,
    linear_kernel,
    normalize_kernel,
    pairwise_kernels,
    polynomial_kernel,
    pq_kernel,
    rbf_kernel,
    sigmoid_kernel,
)

__all__ = [
    "DISTANCE_METRICS",
    "dtw",
    "levenshtein",
    "pairwise_distances",
    "PAIRWISE_KERNEL_FUNCTIONS",
    "additive_chi2_kernel",
    "chi2_kernel",
    "cosine_similarity",
    "hellinger_kernel",
    "intersection_kernel",
    "kernel_diagonal",
    "kernel_metrics",
    "laplacian_kernel",
    "linear_kernel",
    "normalize_kernel",
    "pairwise_kernels",
    "polynomial_kernel",
    "pq_kernel",
    "rbf_kernel",
    "sigmoid_kernel",
]
