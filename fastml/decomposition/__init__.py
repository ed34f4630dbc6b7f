"""Matrix decompositions: scikit-learn's KernelPCA on fastml's kernels."""
from fastml.decomposition._kernel_pca import KernelPCA

__all__ = ["KernelPCA"]
