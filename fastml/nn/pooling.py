"""Pooling layers (NCHW) through :mod:`fastml.nn.functional`. None has parameters, so
each works standalone on any image batch without ``build``."""
from fastml.nn import functional as F
from fastml.nn.base import Layer, _check_pair
from fastml.nn.conv import _conv_out, _need_chw

__all__ = ["AvgPool2D", "GlobalAvgPool2D", "GlobalMaxPool2D", "MaxPool2D"]


class _Pool2D(Layer):
    stateless = True
    image_layer = True

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _check_pair(kernel_size, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else _check_pair(stride, "stride", 1)
        self.padding = _check_pair(padding, "padding", 0)
        if self.padding[0] > self.kernel_size[0] // 2 or self.padding[1] > self.kernel_size[1] // 2:
            raise ValueError(f"padding {self.padding} must be at most half the kernel_size "
                             f"{self.kernel_size}.")

    def _build(self, input_shape, rng):
        name = type(self).__name__
        _need_chw(name, input_shape)
        C, H, W = input_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return (C, _conv_out(H, kh, sh, ph, name, "height"),
                _conv_out(W, kw, sw, pw, name, "width"))

    def _args(self):
        k = self.kernel_size
        s = f"{k[0] if k[0] == k[1] else k}"
        if self.stride != self.kernel_size:
            s += f", stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        return s


class MaxPool2D(_Pool2D):
    """Max pooling over kernel_size windows (stride defaults to kernel_size)."""

    def _forward(self, x, training):
        out, argmax = F.max_pool2d(x, self.kernel_size, self.stride, self.padding,
                                   n_jobs=self.n_threads)
        self._c_argmax = argmax if training else None
        self._c_n = x.shape[0]
        return out

    def _backward(self, grad):
        dx = F.max_pool2d_backward(grad, self._c_argmax, (self._c_n,) + self.input_shape,
                                   n_jobs=self.n_threads)
        self._c_argmax = None
        return dx


class AvgPool2D(_Pool2D):
    """Average pooling (zero padding counts in the divisor, as in torch)."""

    def _forward(self, x, training):
        self._c_n = x.shape[0]
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding,
                            n_jobs=self.n_threads)

    def _backward(self, grad):
        return F.avg_pool2d_backward(grad, (self._c_n,) + self.input_shape, self.kernel_size,
                                     self.stride, self.padding, n_jobs=self.n_threads)


class GlobalAvgPool2D(Layer):
    """Mean over each channel's plane: (N, C, H, W) -> (N, C)."""

    stateless = True
    image_layer = True

    def _build(self, input_shape, rng):
        _need_chw("GlobalAvgPool2D", input_shape)
        return (input_shape[0],)

    def _forward(self, x, training):
        self._c_n = x.shape[0]
        return F.global_avg_pool2d(x, n_jobs=self.n_threads)

    def _backward(self, grad):
        return F.global_avg_pool2d_backward(grad, (self._c_n,) + self.input_shape,
                                            n_jobs=self.n_threads)


class GlobalMaxPool2D(Layer):
    """Maximum over each channel's plane: (N, C, H, W) -> (N, C)."""

    stateless = True
    image_layer = True

    def _build(self, input_shape, rng):
        _need_chw("GlobalMaxPool2D", input_shape)
        return (input_shape[0],)

    def _forward(self, x, training):
        out, argmax = F.global_max_pool2d(x, n_jobs=self.n_threads)
        self._c_argmax = argmax if training else None
        self._c_n = x.shape[0]
        return out

    def _backward(self, grad):
        dx = F.global_max_pool2d_backward(grad, self._c_argmax,
                                          (self._c_n,) + self.input_shape,
                                          n_jobs=self.n_threads)
        self._c_argmax = None
        return dx
