"""Graph passes over a container's layer list, next to :mod:`fastml.nn.functional`.

:func:`fuse` turns a list of layers into an execution plan:

* ``Conv2D`` (stride 1, padding below the kernel size) directly followed by ``ReLU`` and
  a ``MaxPool2D`` with non-overlapping square windows (stride = kernel, no padding)
  becomes one :class:`ConvReLUMaxPool` step when the convolution runs the direct
  kernels: the convolution's output never leaves the cache (bias, ReLU and pooling are
  applied to each sample's block as it is computed, keeping one byte per pooled output
  for the position of its maximum), and the backward pass rebuilds each sample's
  output gradient from the pooled one inside the compiled loop;
* any other ReLU directly followed by such a MaxPool2D becomes one :class:`ReLUMaxPool`
  step, run as one compiled pass each way (``fastml/nn/_train_ops.pyx``);
* ``Dense`` directly followed by ``ReLU`` becomes one :class:`DenseReLU` step: the ReLU
  is applied as the GEMM tiles are written, and its mask to the gradient.

A fused step gives exactly the results of its layers, NaN included: a batch whose pooled
windows meet a NaN or an infinity runs through the layers themselves.
"""
import numpy as np

from fastml.nn import _train_ops
from fastml.nn import functional as F
from fastml.nn.activations import ReLU
from fastml.nn.conv import Conv2D
from fastml.nn.dense import Dense, dense_backward, dense_forward
from fastml.nn.pooling import MaxPool2D

__all__ = ["ConvReLUMaxPool", "DenseReLU", "ReLUMaxPool", "fuse"]


class DenseReLU:
    """One plan step for ``Dense(...), ReLU()``; see the module doc."""

    def __init__(self, dense, relu):
        self.dense, self.relu = dense, relu
        self._c = None

    @staticmethod
    def applies(dense, relu):
        return (type(dense) is Dense and type(relu) is ReLU
                and dense.input_shape is not None)

    def forward(self, x, training=False):
        d = self.dense
        x = d._check_input(x)
        out = dense_forward(x, d.W.value, None if d.b is None else d.b.value, True,
                            d.n_threads)
        self._c = (x, out) if training else None
        return out

    def backward(self, grad):
        if self._c is None or grad.shape != self._c[1].shape:
            raise RuntimeError("DenseReLU.backward needs a forward(x, training=True) first "
                               "and a gradient of the output's shape.")
        d = self.dense
        x, out = self._c
        # the ReLU's rule (no gradient where it zeroed the unit, even an infinite one)
        # applied by dense_backward as it reads the gradient
        dx, d.W.grad, db = dense_backward(grad, x, d.W.value, d.need_input_grad,
                                          d.n_threads, relu_out=out)
        if d.b is not None:
            d.b.grad = db
        self._c = None
        return dx

    def clear_cache(self):
        self._c = None

    def __getstate__(self):
        return {"dense": self.dense, "relu": self.relu, "_c": None}


def _pool_applies(pool):
    return (type(pool) is MaxPool2D and pool.kernel_size[0] == pool.kernel_size[1] <= 15
            and pool.stride == pool.kernel_size and pool.padding == (0, 0)
            and pool.input_shape is not None and len(pool.input_shape) == 3)


class ConvReLUMaxPool:
    """One plan step for ``Conv2D(...), ReLU(), MaxPool2D(k)``; see the module doc."""

    def __init__(self, conv, relu, pool):
        self.conv, self.relu, self.pool = conv, relu, pool
        self.k = pool.kernel_size[0]
        self._c = None
        self._c_unfused = False

    @staticmethod
    def applies(conv, relu, pool):
        if type(conv) is not Conv2D or type(relu) is not ReLU or not _pool_applies(pool):
            return False
        (kh, kw), (ph, pw) = conv.kernel_size, conv.padding
        return (conv.stride == (1, 1) and ph <= kh - 1 and pw <= kw - 1
                and conv.input_shape is not None and len(conv.input_shape) == 3)

    def _direct(self, x):
        """Whether the convolution runs the direct kernels for this batch (the choice
        conv2d itself makes, measured per shape)."""
        conv = self.conv
        C, H, W = conv.input_shape
        (kh, kw), (ph, pw) = conv.kernel_size, conv.padding
        Ho, Wo = conv.output_shape[1:]
        b = None if conv.b is None else conv.b.value
        return F._conv_path(
            C, conv.out_channels, kh, kw, 1, 1, ph, pw, Ho, Wo, key=(x.shape[0], x.dtype.str),
            measure=lambda: F.conv2d(x, conv.W.value, b, 1, conv.padding,
                                     n_jobs=conv.n_threads)) == "direct"

    def forward(self, x, training=False):
        conv = self.conv
        x = conv._check_input(x)
        res = None
        if self._direct(x):
            x = np.ascontiguousarray(x)
            b = None if conv.b is None else conv.b.value
            res = F._conv_relu_pool(x, conv.W.value, b, conv.padding, self.k, conv.n_threads)
        if res is None:  # GEMM path, or a NaN / infinity met: the layers themselves
            self._c_unfused = True
            self._c = None
            return self.pool.forward(self.relu.forward(conv.forward(x, training), training),
                                     training)
        self._c_unfused = False
        out, pos = res
        self._c = (x, pos) if training else None
        return out

    def backward(self, grad):
        if self._c_unfused:
            return self.conv.backward(self.relu.backward(self.pool.backward(grad)))
        if self._c is None or grad.shape != self._c[1].shape:
            raise RuntimeError("ConvReLUMaxPool.backward needs a forward(x, training=True) "
                               "first and a gradient of the output's shape.")
        conv = self.conv
        x, pos = self._c
        grad = np.ascontiguousarray(grad, dtype=conv.dtype)
        dx, dw, db = F._conv_relu_pool_backward(grad, pos, x, conv.W.value, conv.padding,
                                                self.k, conv.need_input_grad, conv.n_threads)
        conv.W.grad = dw
        if conv.b is not None:
            conv.b.grad = db
        self._c = None
        return dx

    def clear_cache(self):
        self._c = None

    def __getstate__(self):
        return {"conv": self.conv, "relu": self.relu, "pool": self.pool, "k": self.k,
                "_c": None, "_c_unfused": False}


class ReLUMaxPool:
    """One plan step for ``ReLU(), MaxPool2D(k)``; see the module doc."""

    def __init__(self, relu, pool):
        self.relu, self.pool = relu, pool
        self.k = pool.kernel_size[0]
        self._c_pos = None
        self._c_unfused = False

    @staticmethod
    def applies(relu, pool):
        return type(relu) is ReLU and _pool_applies(pool)

    def forward(self, x, training=False):
        with np.errstate(invalid="ignore", over="ignore"):
            finite = np.isfinite(x.sum())
        if not finite:
            # NaN / inf: the compiled pass would turn NaN into 0; the two layers do not
            self._c_unfused = True
            return self.pool.forward(self.relu.forward(x, training), training)
        self._c_unfused = False
        N, C, H, W = x.shape
        Ho, Wo = self.pool.output_shape[1:]
        x = np.ascontiguousarray(x)
        out = np.empty((N, C, Ho, Wo), dtype=x.dtype)
        pos = np.empty((N, C, Ho, Wo), dtype=np.uint8)
        _train_ops.relu_maxpool_forward(x.reshape(N * C, H, W), out.reshape(N * C, Ho, Wo),
                                        pos.reshape(N * C, Ho, Wo), self.k,
                                        self.pool.n_threads)
        self._c_pos = pos if training else None
        return out

    def backward(self, grad):
        if self._c_unfused:
            return self.relu.backward(self.pool.backward(grad))
        pos = self._c_pos
        if pos is None or grad.shape != pos.shape:
            raise RuntimeError("ReLUMaxPool.backward needs a forward(x, training=True) "
                               "first and a gradient of the output's shape.")
        N, C, Ho, Wo = grad.shape
        H, W = self.relu.input_shape[1:]
        grad = np.ascontiguousarray(grad, dtype=self.pool.dtype)
        dx = np.empty((N, C, H, W), dtype=grad.dtype)
        _train_ops.relu_maxpool_backward(grad.reshape(N * C, Ho, Wo),
                                         pos.reshape(N * C, Ho, Wo),
                                         dx.reshape(N * C, H, W), self.k,
                                         self.pool.n_threads)
        self._c_pos = None
        return dx

    def clear_cache(self):
        self._c_pos = None

    def __getstate__(self):
        return {"relu": self.relu, "pool": self.pool, "k": self.k, "_c_pos": None,
                "_c_unfused": False}


def fuse(layers):
    """The execution plan of a container: its (built) layers, with Conv2D -> ReLU ->
    MaxPool2D triples, ReLU -> MaxPool2D pairs and Dense -> ReLU pairs fused."""
    plan, i = [], 0
    while i < len(layers):
        if i + 2 < len(layers) and ConvReLUMaxPool.applies(*layers[i:i + 3]):
            plan.append(ConvReLUMaxPool(*layers[i:i + 3]))
            i += 3
        elif i + 1 < len(layers) and DenseReLU.applies(layers[i], layers[i + 1]):
            plan.append(DenseReLU(layers[i], layers[i + 1]))
            i += 2
        elif i + 1 < len(layers) and ReLUMaxPool.applies(layers[i], layers[i + 1]):
            plan.append(ReLUMaxPool(layers[i], layers[i + 1]))
            i += 2
        else:
            plan.append(layers[i])
            i += 1
    return plan
