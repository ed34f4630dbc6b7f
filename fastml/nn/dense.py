"""Dense (fully connected), Flatten and Maxout layers.

Dense layers run their three GEMMs (forward, weight gradient, input gradient) in the
compiled tiles of :mod:`fastml.nn._conv` (``gemm_rows``): fixed blocks of rows over the
OpenMP threads, every sum computed whole by one thread in a fixed order, so the results
are the same for any thread count and no BLAS thread pool competes with OpenMP's. Maxout
uses numpy's BLAS.
"""
import numpy as np

from fastml.nn import _conv
from fastml.nn.base import Layer, Parameter, _check_int
from fastml.nn.init import check_init, initialize


def _line(n, itemsize):
    """n rounded up to a whole number of 64-byte lines of values of itemsize bytes."""
    line = 64 // itemsize
    return -(-n // line) * line


def _padded(B):
    """B (C-contiguous) with its rows padded to whole 64-byte lines, as gemm_rows reads
    them (B itself when they already are)."""
    n = B.shape[1]
    ld = _line(n, B.itemsize)
    if n == ld and B.flags.c_contiguous:
        return B
    P = np.empty((B.shape[0], ld), dtype=B.dtype)
    P[:, :n] = B
    P[:, n:] = 0
    return P


def dense_forward(x, W, b, relu, n_threads):
    """x @ W (+ b), then max(., 0) when relu; x (N, K) and W (K, M) of one dtype."""
    x = np.ascontiguousarray(x)
    out = np.empty((x.shape[0], W.shape[1]), dtype=x.dtype)
    bias = b if b is not None else np.zeros(1, dtype=x.dtype)
    _conv.gemm_rows(x, False, _padded(W), W.shape[1], out, bias, b is not None, relu,
                    n_threads)
    return out


def dense_backward(grad, x, W, need_dx, n_threads, relu_out=None):
    """(dx or None, dW, db) of out = x @ W + b for the output gradient grad, or, given
    relu_out = max(x @ W + b, 0), of relu_out for its gradient grad (the ReLU's mask
    applied in the same pass that sums db and pads the gradient for the GEMM tiles)."""
    x = np.ascontiguousarray(x)
    dtype = x.dtype
    grad = np.ascontiguousarray(grad, dtype=dtype)
    K, M = W.shape
    N = grad.shape[0]
    relu = relu_out is not None
    ld = _line(M, dtype.itemsize)
    # the gradient as the GEMMs read it: rows padded to whole lines (grad itself when
    # they already are and there is no mask to apply)
    write = relu or ld != M
    G = np.empty((N, ld), dtype=dtype) if write else grad
    db = np.empty(M, dtype=np.float64)
    # (grad may be read-only: it is not written to, nor passed as the written G)
    _conv.dense_grad_rows(grad, relu_out if relu else grad, relu,
                          G if write else np.empty((1, 1), dtype=dtype), write, db)
    zero = np.zeros(1, dtype=dtype)
    dW = np.empty((K, M), dtype=dtype)
    _conv.gemm_rows(x, True, G, M, dW, zero, False, False, n_threads)
    dx = None
    if need_dx:
        dx = np.empty((N, K), dtype=dtype)
        # (G's padding columns are not read: the sum runs over W.T's M rows)
        Wt = np.empty((M, _line(K, dtype.itemsize)), dtype=dtype)
        _conv.transpose_padded(np.ascontiguousarray(W, dtype=dtype), Wt)
        _conv.gemm_rows(G, False, Wt, K, dx, zero, False, False, n_threads)
    return dx, dW, db.astype(dtype)


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
        out = dense_forward(x, self.W.value, None if self.b is None else self.b.value,
                            False, self.n_threads)
        self._c_x = x if training else None
        return out

    def _backward(self, grad):
        dx, self.W.grad, db = dense_backward(grad, self._c_x, self.W.value,
                                             self.need_input_grad, self.n_threads)
        if self.b is not None:
            self.b.grad = db
        self._c_x = None
        return dx

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
