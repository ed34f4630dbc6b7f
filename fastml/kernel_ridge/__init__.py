"""Kernel Ridge Regression and classification in the dual (``fastml.kernel_ridge``)."""
from fastml.kernel_ridge._kernel_ridge import KernelRidge, KernelRidgeClassifier

__all__ = ["KernelRidge", "KernelRidgeClassifier"]
