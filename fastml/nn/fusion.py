"""Graph passes over a container's layer list, next to :mod:`fastml.nn.functional`.

:func:`fuse` turns a list of layers into an execution plan: each ReLU directly followed
by a MaxPool2D with non-overlapping square windows (stride = kernel, no padding) becomes
one :class:`ReLUMaxPool` step, run as one compiled pass each way
(``fastml/nn/_train_ops.pyx``). The fused step gives exactly the results of the two
layers, NaN included: a batch holding a NaN or an infinity runs through the two layers
themselves (the check is one vectorised sum over the input).
"""
import numpy as np

from fastml.nn import _train_ops
from fastml.nn.activations import ReLU
from fastml.nn.pooling import MaxPool2D

__all__ = ["ReLUMaxPool", "fuse"]


class ReLUMaxPool:
    """One plan step for ``ReLU(), MaxPool2D(k)``; see the module doc."""

    def __init__(self, relu, pool):
        self.relu, self.pool = relu, pool
        self.k = pool.kernel_size[0]
        self._c_pos = None
        self._c_unfused = False

    @staticmethod
    def applies(relu, pool):
        return (type(relu) is ReLU and type(pool) is MaxPool2D
                and pool.kernel_size[0] == pool.kernel_size[1] <= 15
                and pool.stride == pool.kernel_size and pool.padding == (0, 0)
                and pool.input_shape is not None and len(pool.input_shape) == 3)

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
    """The execution plan of a container: its (built) layers, with ReLU -> MaxPool2D
    pairs fused."""
    plan, i = [], 0
    while i < len(layers):
        if i + 1 < len(layers) and ReLUMaxPool.applies(layers[i], layers[i + 1]):
            plan.append(ReLUMaxPool(layers[i], layers[i + 1]))
            i += 2
        else:
            plan.append(layers[i])
            i += 1
    return plan
