"""Transformers (``fastml.preprocessing``)."""
from fastml.preprocessing._kernel_transformer import KernelTransformer

__all__ = ["KernelTransformer"]
