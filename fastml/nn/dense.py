"""Dense (fully connected), Flatten and Maxout layers.

Dense layers are GEMMs done by numpy's BLAS, which the trainer caps at the right thread
count.
"""
import numpy as np

from fastml.nn.base import Layer, Parameter, _check_int
from fastml.nn.init import check_init, initialize

__all__ = ["Dense", "Flatten", "Maxout"]


def _weight_init(layer):
    return layer._init_hint if layer.init == "auto" else layer.init


class Dense(Layer):
    """Fully connected layer: ``out = x @ W + b`` for x of shape (N, in_features).

    Parameters
    ----------
    units : int
        The number of outputs.
    use_bias : bool
    init : str
        A name of :mod:`fastml.nn.init` ("auto", "he_normal", "glorot_uniform", ...).
    """

    def __init__(self, units, use_bias=True, init="auto"):
        super().__init__()
        self.units = _check_int(units, "units")
        self.use_bias = bool(use_bias)
        self.init = check_init(init)

    def _build(self, input_shape, rng):
        if len(input_shape) != 1:
            raise ValueError(f"Dense expects flat inputs of shape (features,) per sample, "
                             f"got {input_shape}; put a Flatten() before it.")
        n_in = input_shape[0]
        self.W = Parameter(initialize(_weight_init(self), rng, (n_in, self.units), n_in,
                                      self.units, self.dtype), "W")
        self.b = (Parameter(np.zeros(self.units, self.dtype), "b", regularize=False)
                  if self.use_bias else None)
        return (self.units,)

    def _forward(self, x, training):
        out = x @ self.W.value
        if self.b is not None:
            out += self.b.value
        self._c_x = x if training else None
        return out

    def _backward(self, grad):
        x = self._c_x
        self.W.grad = x.T @ grad
        if self.b is not None:
            self.b.grad = grad.sum(axis=0)
        self._c_x = None
        return grad @ self.W.value.T if self.need_input_grad else None

    def _args(self):
        return f"{self.units}" + ("" if self.use_bias else ", use_bias=False")


class Flatten(Layer):
    """(N, C, H, W) (or any (N, ...)) -> (N, C*H*W)."""

    stateless = True

    def _build(self, input_shape, rng):
        return (int(np.prod(input_shape)),)

    def _forward(self, x, training):
        return x.reshape(x.shape[0], -1)

    def _backward(self, grad):
        return grad.reshape((grad.shape[0],) + self.input_shape)


class Maxout(Layer):
    """Maxout units (Goodfellow et al., 2013): ``units`` outputs, each the maximum of
    ``pieces`` affine functions of the (flat) input, ``out_j = max_k (x W[:, j, k] +
    b[j, k])``. A learned piecewise-linear convex activation; with ``pieces=2`` it can
    represent ReLU and absolute value.

    Parameters
    ----------
    units : int
    pieces : int >= 1, default=2
    init : str, default="glorot_uniform"
    """

    def __init__(self, units, pieces=2, init="glorot_uniform"):
        super().__init__()
        self.units = _check_int(units, "units")
        self.pieces = _check_int(pieces, "pieces")
        self.init = check_init(init)

    def _build(self, input_shape, rng):
        if len(input_shape) != 1:
            raise ValueError(f"Maxout expects flat inputs of shape (features,) per sample, "
                             f"got {input_shape}; put a Flatten() before it.")
        n_in, u, k = input_shape[0], self.units, self.pieces
        init = "glorot_uniform" if self.init == "auto" else self.init
        self.W = Parameter(initialize(init, rng, (n_in, u * k), n_in, u, self.dtype), "W")
        self.b = Parameter(np.zeros(u * k, self.dtype), "b", regularize=False)
        return (u,)

    def _forward(self, x, training):
        z = (x @ self.W.value + self.b.value).reshape(x.shape[0], self.units, self.pieces)
        arg = z.argmax(axis=2)
        out = np.take_along_axis(z, arg[:, :, None], axis=2)[:, :, 0]
        self._c_x, self._c_arg = (x, arg) if training else (None, None)
        return out

    def _backward(self, grad):
        x, arg = self._c_x, self._c_arg
        n = grad.shape[0]
        gz = np.zeros((n, self.units, self.pieces), dtype=grad.dtype)
        np.put_along_axis(gz, arg[:, :, None], grad[:, :, None], axis=2)
        gz = gz.reshape(n, -1)
        self.W.grad = x.T @ gz
        self.b.grad = gz.sum(axis=0)
        self._c_x = self._c_arg = None
        return gz @ self.W.value.T if self.need_input_grad else None

    def _args(self):
        return f"{self.units}, pieces={self.pieces}"
