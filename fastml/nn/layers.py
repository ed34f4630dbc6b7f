"""All layers of :mod:`fastml.nn` in one namespace (NCHW layout).

The layers live by concern in :mod:`fastml.nn.base` (the Module API: Parameter, Layer),
:mod:`fastml.nn.dense`, :mod:`fastml.nn.conv`, :mod:`fastml.nn.pooling`,
:mod:`fastml.nn.activations`, :mod:`fastml.nn.normalization` and
:mod:`fastml.nn.containers`; the ReLU + MaxPool fusion pass is
:mod:`fastml.nn.fusion`. Initialisers: :mod:`fastml.nn.init`.
"""
from fastml.nn.activations import (ELU, LeakyReLU, PReLU, ReLU, Sigmoid, Softmax, Softplus,
                                   Tanh)
from fastml.nn.base import Layer, Parameter
from fastml.nn.containers import Concat, Residual, Sequential, has_image_layers
from fastml.nn.conv import Conv2D, ConvTranspose2D
from fastml.nn.dense import Dense, Flatten, Maxout
from fastml.nn.normalization import BatchNorm, Dropout, Standardize
from fastml.nn.pooling import AvgPool2D, GlobalAvgPool2D, GlobalMaxPool2D, MaxPool2D

from fastml.nn import activations, base, containers, conv, dense, normalization, pooling  # noqa: E402,I001

# every layer module's own list, in one namespace
__all__ = sorted({name for module in (activations, base, containers, conv, dense,
                                      normalization, pooling) for name in module.__all__})
