"""Neural-network building blocks. For now: :mod:`fastml.nn.functional`, the compiled
forward and backward primitives (convolution, transposed convolution, pooling)."""
from fastml.nn import functional

__all__ = ["functional"]
