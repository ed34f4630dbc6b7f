"""Convolution layers (NCHW): :class:`Conv2D` and :class:`ConvTranspose2D`, both on one
:class:`_ConvBase` (argument checks, weight creation, forward/backward through
:mod:`fastml.nn.functional`, OpenMP over the batch)."""
import numpy as np

from fastml.nn import functional as F
from fastml.nn.base import Layer, Parameter, _check_int, _check_pair
from fastml.nn.init import check_init, initialize

__all__ = ["Conv2D", "ConvTranspose2D"]


def _need_chw(name, input_shape):
    if len(input_shape) != 3:
        raise ValueError(f"{name} expects images of shape (C, H, W) per sample, got "
                         f"{input_shape}; pass input_shape=(C, H, W) for flat data.")


def _conv_out(n, f, s, p, name, axis):
    o = (n + 2 * p - f) // s + 1
    if f > n + 2 * p or o < 1:
        raise ValueError(f"{name}: the kernel {axis} {f} does not fit the input {axis} {n} "
                         f"with padding {p}; use a smaller kernel, more padding or a larger "
                         "input.")
    return o


def _one(pair):
    return pair[0] if pair[0] == pair[1] else pair


class _ConvBase(Layer):
    """What Conv2D and ConvTranspose2D share. Subclasses set ``_allow_same``,
    ``_out_hw(H, W)``, ``_weight_shape(C_in)``, ``_fans(C_in)`` and the two functional
    ops ``_fwd`` / ``_bwd``."""

    _allow_same = False
    image_layer = True

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, use_bias=True,
                 init="auto", in_channels=None):
        super().__init__()
        self.out_channels = _check_int(out_channels, "out_channels")
        self.kernel_size = _check_pair(kernel_size, "kernel_size", 1)
        self.stride = _check_pair(stride, "stride", 1)
        if isinstance(padding, str):
            if padding == "valid":
                padding = 0
            elif padding == "same" and self._allow_same:
                kh, kw = self.kernel_size
                if kh % 2 == 0 or kw % 2 == 0:
                    raise ValueError('padding="same" needs an odd kernel_size, got '
                                     f"{self.kernel_size}.")
                padding = ((kh - 1) // 2, (kw - 1) // 2)
            else:
                allowed = '"valid" or "same"' if self._allow_same else '"valid"'
                raise ValueError(f"padding must be an int, a pair of ints or {allowed}, "
                                 f"got {padding!r}.")
        self.padding = _check_pair(padding, "padding", 0)
        self.use_bias = bool(use_bias)
        self.init = check_init(init)
        self.in_channels = None if in_channels is None else _check_int(in_channels,
                                                                       "in_channels")

    def _build(self, input_shape, rng):
        name = type(self).__name__
        _need_chw(name, input_shape)
        C, H, W = input_shape
        if self.in_channels is not None and C != self.in_channels:
            raise ValueError(f"{name} expects images with {self.in_channels} channel(s), "
                             f"shape ({self.in_channels}, H, W) per sample, got "
                             f"{input_shape}.")
        Ho, Wo = self._out_hw(H, W)
        fan_in, fan_out = self._fans(C)
        init = self._init_hint if self.init == "auto" else self.init
        self.W = Parameter(initialize(init, rng, self._weight_shape(C), fan_in, fan_out,
                                      self.dtype), "W")
        self.b = (Parameter(np.zeros(self.out_channels, self.dtype), "b", regularize=False)
                  if self.use_bias else None)
        return (self.out_channels, Ho, Wo)

    def _forward(self, x, training):
        out = self._fwd(x, self.W.value, None if self.b is None else self.b.value,
                        self.stride, self.padding, n_jobs=self.n_threads)
        self._c_x = x if training else None
        return out

    def _backward(self, grad):
        dx, dw, db = self._bwd(grad, self._c_x, self.W.value, self.stride, self.padding,
                               self.need_input_grad, n_jobs=self.n_threads)
        self.W.grad = dw
        if self.b is not None:
            self.b.grad = db
        self._c_x = None
        return dx

    def _args(self):
        s = f"{self.out_channels}, kernel_size={_one(self.kernel_size)}"
        if self.stride != (1, 1):
            s += f", stride={_one(self.stride)}"
        if self.padding != (0, 0):
            s += f", padding={_one(self.padding)}"
        return s


class Conv2D(_ConvBase):
    """2-D convolution: (N, C_in, H, W) -> (N, out_channels, H_out, W_out) with
    ``H_out = (H + 2 padding - kernel) // stride + 1``; weight of shape
    (out_channels, C_in, kh, kw) as in torch.

    Parameters
    ----------
    out_channels : int
    kernel_size : int or (int, int)
    stride : int or (int, int), >= 1
    padding : int, (int, int), "valid" or "same" (odd kernels)
    use_bias : bool
    init : str, a name of :mod:`fastml.nn.init`
    in_channels : int or None
        When given, building checks that the input has that many channels.
    """

    _allow_same = True
    _fwd = staticmethod(F.conv2d)
    _bwd = staticmethod(F.conv2d_backward)

    def _out_hw(self, H, W):
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return (_conv_out(H, kh, sh, ph, "Conv2D", "height"),
                _conv_out(W, kw, sw, pw, "Conv2D", "width"))

    def _weight_shape(self, C):
        return (self.out_channels, C) + self.kernel_size

    def _fans(self, C):
        kk = self.kernel_size[0] * self.kernel_size[1]
        return C * kk, self.out_channels * kk


class ConvTranspose2D(_ConvBase):
    """Transposed convolution (upsampling): (N, C_in, H, W) -> (N, out_channels, H_out,
    W_out) with ``H_out = (H - 1) stride + kernel - 2 padding``; weight of shape
    (C_in, out_channels, kh, kw) as in torch. Parameters as :class:`Conv2D` (no
    "same" padding)."""

    _fwd = staticmethod(F.conv_transpose2d)
    _bwd = staticmethod(F.conv_transpose2d_backward)

    def _out_hw(self, H, W):
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        Ho, Wo = (H - 1) * sh + kh - 2 * ph, (W - 1) * sw + kw - 2 * pw
        if Ho < 1 or Wo < 1:
            raise ValueError(f"ConvTranspose2D: padding {self.padding} is too large for "
                             f"input {H}x{W} and kernel {kh}x{kw} (output {Ho}x{Wo}).")
        return Ho, Wo

    def _weight_shape(self, C):
        return (C, self.out_channels) + self.kernel_size

    def _fans(self, C):
        kk = self.kernel_size[0] * self.kernel_size[1]
        return C * kk, self.out_channels * kk
