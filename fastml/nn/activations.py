"""Activation layers: the ReLU family (ReLU, LeakyReLU, PReLU, ELU), Sigmoid, Tanh,
Softplus and Softmax. All but PReLU have no parameters and work standalone on any
shape."""
import numpy as np
from scipy.special import expit

from fastml.nn.base import Layer, Parameter, _check_real

__all__ = ["ELU", "LeakyReLU", "PReLU", "ReLU", "Sigmoid", "Softmax", "Softplus", "Tanh"]


class ReLU(Layer):
    """max(x, 0)."""

    stateless = True

    relu_family = True

    def _forward(self, x, training):
        out = np.maximum(x, 0)
        self._c_out = out if training else None
        return out

    def _backward(self, grad):
        # select, not multiply: a unit the ReLU zeroes passes no gradient, even an infinite
        # or NaN one (0 * inf would be NaN), as in the fused ReLU + MaxPool2D step
        dx = np.where(self._c_out > 0, grad, grad.dtype.type(0))
        self._c_out = None
        return dx


class LeakyReLU(Layer):
    """x for x > 0, negative_slope * x otherwise."""

    stateless = True

    relu_family = True

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = _check_real(negative_slope, "negative_slope", 0.0, 1.0)

    def _forward(self, x, training):
        a = x.dtype.type(self.negative_slope)
        out = np.where(x > 0, x, a * x)
        self._c_x = x if training else None
        return out

    def _backward(self, grad):
        a = grad.dtype.type(self.negative_slope)
        dx = np.where(self._c_x > 0, grad, a * grad)
        self._c_x = None
        return dx

    def _args(self):
        return f"negative_slope={self.negative_slope}"


class PReLU(Layer):
    """LeakyReLU with a learned slope: one slope, or one per channel (per feature for
    flat inputs) with ``per_channel=True``; slopes start at ``init``."""

    relu_family = True

    def __init__(self, per_channel=False, init=0.25):
        super().__init__()
        self.per_channel = bool(per_channel)
        self.init = _check_real(init, "init", 0.0, 1.0)

    def _build(self, input_shape, rng):
        n = input_shape[0] if self.per_channel else 1
        self.a = Parameter(np.full(n, self.init, dtype=self.dtype), "a", regularize=False)
        return input_shape

    def _slope(self, ndim):
        return self.a.value.reshape((1, -1) + (1,) * (ndim - 2))

    def _forward(self, x, training):
        out = np.where(x > 0, x, self._slope(x.ndim) * x)
        self._c_x = x if training else None
        return out

    def _backward(self, grad):
        x = self._c_x
        pos = x > 0
        dx = np.where(pos, grad, self._slope(x.ndim) * grad)
        contrib = np.where(pos, 0, x * grad)
        axes = tuple(i for i in range(x.ndim) if not (self.per_channel and i == 1))
        self.a.grad = contrib.sum(axis=axes, dtype=np.float64).reshape(
            self.a.value.shape).astype(self.dtype)
        self._c_x = None
        return dx

    def _args(self):
        return "per_channel=True" if self.per_channel else ""


class ELU(Layer):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    stateless = True

    relu_family = True

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = _check_real(alpha, "alpha", 0.0, low_open=True)

    def _forward(self, x, training):
        a = x.dtype.type(self.alpha)
        out = np.where(x > 0, x, a * np.expm1(np.minimum(x, 0)))
        self._c_x, self._c_out = (x, out) if training else (None, None)
        return out

    def _backward(self, grad):
        a = grad.dtype.type(self.alpha)
        dx = np.where(self._c_x > 0, grad, grad * (self._c_out + a))
        self._c_x = self._c_out = None
        return dx

    def _args(self):
        return f"alpha={self.alpha}"


class Sigmoid(Layer):
    """1 / (1 + exp(-x)), computed without overflow."""

    stateless = True

    def _forward(self, x, training):
        out = expit(x)
        self._c_out = out if training else None
        return out

    def _backward(self, grad):
        s = self._c_out
        self._c_out = None
        return grad * s * (1 - s)


class Tanh(Layer):
    """tanh(x)."""

    stateless = True

    def _forward(self, x, training):
        out = np.tanh(x)
        self._c_out = out if training else None
        return out

    def _backward(self, grad):
        t = self._c_out
        self._c_out = None
        return grad * (1 - t * t)


class Softplus(Layer):
    """log(1 + exp(x)), computed as max(x, 0) + log1p(exp(-|x|)) (no overflow)."""

    stateless = True

    def _forward(self, x, training):
        out = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
        self._c_x = x if training else None
        return out

    def _backward(self, grad):
        dx = grad * expit(self._c_x)
        self._c_x = None
        return dx


class Softmax(Layer):
    """Row-wise softmax over the last axis of (N, K) inputs, exp(x_k) / sum_j exp(x_j)
    (shifted by the row maximum: no overflow). For training use raw scores with the
    cross-entropy loss (which applies the softmax itself, stably); this layer is for
    networks whose output must be probabilities."""

    stateless = True

    def _build(self, input_shape, rng):
        if len(input_shape) != 1:
            raise ValueError(f"Softmax expects flat inputs of shape (classes,) per sample, "
                             f"got {input_shape}; put a Flatten() before it.")
        return input_shape

    def _forward(self, x, training):
        z = np.exp(x - x.max(axis=1, keepdims=True))
        z /= z.sum(axis=1, keepdims=True)
        self._c_out = z if training else None
        return z

    def _backward(self, grad):
        s = self._c_out
        self._c_out = None
        # J^T g = s * (g - sum(g * s))
        return s * (grad - (grad * s).sum(axis=1, keepdims=True))
