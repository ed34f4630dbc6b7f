"""Layers of small networks, NCHW layout, for :mod:`fastml.nn`'s trainer.

Every layer

* validates its arguments when it is constructed (``ValueError`` / ``TypeError`` naming
  the argument);
* is *built* lazily on the per-sample shape of its input (``build(input_shape, dtype,
  rng)``, done by :class:`Sequential` or the trainer), so ``Dense(120)`` needs no input
  size and ``Conv2D(16, 5)`` no input channel count; building checks that the shapes fit
  and creates the parameters in the model's dtype (float32 stays float32);
* has ``forward(x, training=False)`` and ``backward(grad)``: ``backward`` takes the
  gradient of the loss with respect to the layer's output of the *last* forward pass, sets
  ``p.grad`` of each of its :class:`Parameter` s and returns the gradient with respect to
  the input;
* lists its learnable :meth:`parameters` (each with ``value`` and ``grad``) and its
  non-learnable :meth:`buffers` (BatchNorm's running statistics);
* prints as ``Name(arguments) -> output shape`` once built.

Initialisation: ``init="auto"`` gives He (Kaiming) uniform initialisation,
U(-sqrt(6 / fan_in), sqrt(6 / fan_in)), when the next layer (skipping BatchNorm and
Dropout) is of the ReLU family (ReLU, LeakyReLU, PReLU, ELU), and Glorot (Xavier)
uniform, U(-sqrt(6 / (fan_in + fan_out)), ...), otherwise. Biases start at zero.

Compiled work: convolution and pooling go through :mod:`fastml.nn.functional` (OpenMP over
the batch, ``n_threads`` set by the trainer from ``n_jobs``); dense layers are GEMMs done by
numpy's BLAS, which the trainer caps at the same thread count.
"""
import numbers

import numpy as np
from scipy.special import expit

from fastml.nn import _train_ops
from fastml.nn import functional as F

__all__ = [
    "AvgPool2D", "BatchNorm", "Concat", "Conv2D", "ConvTranspose2D", "Dense", "Dropout",
    "ELU", "Flatten", "GlobalAvgPool2D", "GlobalMaxPool2D", "Layer", "LeakyReLU",
    "MaxPool2D", "Parameter", "PReLU", "ReLU", "Residual", "Sequential", "Sigmoid",
    "Softplus", "Tanh",
]


# ---------------------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------------------
def _check_int(value, name, low=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r} of type "
                        f"{type(value).__name__}.")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}.")
    return int(value)


def _check_pair(value, name, low):
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}.")
        return (_check_int(value[0], name, low), _check_int(value[1], name, low))
    v = _check_int(value, name, low)
    return (v, v)


def _check_real(value, name, low=None, high=None, low_open=False, high_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type "
                        f"{type(value).__name__}.")
    value = float(value)
    bad = not np.isfinite(value)
    if low is not None:
        bad |= value <= low if low_open else value < low
    if high is not None:
        bad |= value >= high if high_open else value > high
    if bad:
        lo = "-inf" if low is None else repr(low)
        hi = "inf" if high is None else repr(high)
        raise ValueError(f"{name} must be a finite number in {'(' if low_open else '['}"
                         f"{lo}, {hi}{')' if high_open else ']'}, got {value!r}.")
    return value


def _check_init(init):
    if init not in ("auto", "he", "glorot"):
        raise ValueError(f'init must be "auto", "he" or "glorot", got {init!r}.')
    return init


def _check_layer(layer, name):
    if not isinstance(layer, Layer):
        raise TypeError(f"{name} must be a fastml.nn layer (an instance of "
                        f"fastml.nn.Layer), got {type(layer).__name__}.")
    return layer


def _fmt_shape(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


# ---------------------------------------------------------------------------------------
# base classes
# ---------------------------------------------------------------------------------------
class Parameter:
    """A learnable array and its gradient. ``regularize`` says whether weight decay and
    the L1 penalty apply (weights: yes; biases and BatchNorm's gamma/beta: no)."""

    __slots__ = ("value", "grad", "name", "regularize")

    def __init__(self, value, name, regularize=True):
        self.value = value
        self.grad = np.zeros_like(value)
        self.name = name
        self.regularize = regularize

    @property
    def shape(self):
        return self.value.shape

    def __repr__(self):
        return f"Parameter({self.name}, shape={self.value.shape}, dtype={self.value.dtype})"


class Layer:
    """Base class: subclasses implement ``_build``, ``forward`` and ``backward``."""

    #: this layer counts as part of the ReLU family for ``init="auto"``
    relu_family = False
    #: transparent for the ``init="auto"`` look-ahead (BatchNorm, Dropout)
    init_transparent = False

    def __init__(self):
        self.input_shape = None
        self.output_shape = None
        self.dtype = None
        self.n_threads = 1
        self.need_input_grad = True
        self._init_hint = "glorot"

    # -- construction ---------------------------------------------------------------
    def build(self, input_shape, dtype=np.float32, rng=None):
        """Create the parameters for inputs of per-sample shape ``input_shape``; return
        the per-sample output shape. ``rng`` is a numpy Generator (or a seed)."""
        input_shape = tuple(int(s) for s in input_shape)
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {dtype}.")
        rng = np.random.default_rng(rng)
        self.input_shape = input_shape
        self.dtype = dtype
        self.output_shape = tuple(self._build(input_shape, rng))
        return self.output_shape

    def _build(self, input_shape, rng):
        return input_shape

    @property
    def built(self):
        return self.output_shape is not None

    def _check_built(self):
        if not self.built:
            raise RuntimeError(f"{type(self).__name__} is not built yet: call "
                               "build(input_shape) (or put it in a Sequential and build "
                               "that) before forward.")

    def _check_input(self, x):
        """Check the per-sample shape; return x in the layer's dtype (no copy if it is)."""
        self._check_built()
        if x.shape[1:] != self.input_shape:
            raise ValueError(f"{type(self).__name__} was built for inputs of per-sample "
                             f"shape {self.input_shape}, got a batch of shape {x.shape}.")
        return x if x.dtype == self.dtype else x.astype(self.dtype)

    # -- computation ------------------------------------------------------------------
    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError

    def __call__(self, x, training=False):
        return self.forward(x, training)

    # -- state ---------------------------------------------------------------------------
    def parameters(self):
        """The learnable :class:`Parameter` s (value and grad)."""
        return []

    def buffers(self):
        """Non-learnable state arrays (running statistics), updated in place."""
        return []

    def children(self):
        return []

    def set_n_threads(self, n_threads):
        self.n_threads = int(n_threads)
        for c in self.children():
            c.set_n_threads(n_threads)

    def zero_grad(self):
        for p in self.parameters():
            p.grad = np.zeros_like(p.value)

    def clear_cache(self):
        """Drop the arrays kept from the last forward pass (done before pickling)."""
        for k in [k for k in self.__dict__ if k.startswith("_c_")]:
            self.__dict__[k] = None
        for c in self.children():
            c.clear_cache()

    def __getstate__(self):
        state = self.__dict__.copy()
        for k in state:
            if k.startswith("_c_"):
                state[k] = None
        return state

    # -- printing -----------------------------------------------------------------------
    def _args(self):
        return ""

    def __repr__(self):
        s = f"{type(self).__name__}({self._args()})"
        if self.built:
            s += f" -> {_fmt_shape(self.output_shape)}"
        return s


def _fan_init(rng, shape, fan_in, fan_out, hint, dtype):
    if hint == "he":
        limit = np.sqrt(6.0 / fan_in)
    else:
        limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


# ---------------------------------------------------------------------------------------
# dense and shape layers
# ---------------------------------------------------------------------------------------
class Dense(Layer):
    """Fully connected layer: ``out = x @ W + b`` for x of shape (N, in_features).

    Parameters
    ----------
    units : int, the number of outputs.
    use_bias : bool
    init : "auto", "he" or "glorot" (see the module doc).
    """

    def __init__(self, units, use_bias=True, init="auto"):
        super().__init__()
        self.units = _check_int(units, "units")
        self.use_bias = bool(use_bias)
        self.init = _check_init(init)

    def _build(self, input_shape, rng):
        if len(input_shape) != 1:
            raise ValueError(f"Dense expects flat inputs of shape (features,) per sample, "
                             f"got {input_shape}; put a Flatten() before it.")
        n_in = input_shape[0]
        hint = self._init_hint if self.init == "auto" else self.init
        self.W = Parameter(_fan_init(rng, (n_in, self.units), n_in, self.units, hint,
                                     self.dtype), "W")
        self.b = (Parameter(np.zeros(self.units, self.dtype), "b", regularize=False)
                  if self.use_bias else None)
        return (self.units,)

    def forward(self, x, training=False):
        x = self._check_input(x)
        out = x @ self.W.value
        if self.b is not None:
            out += self.b.value
        self._c_x = x if training else None
        return out

    def backward(self, grad):
        x = self._c_x
        self.W.grad = x.T @ grad
        if self.b is not None:
            self.b.grad = grad.sum(axis=0)
        self._c_x = None
        return grad @ self.W.value.T if self.need_input_grad else None

    def parameters(self):
        return [self.W] + ([self.b] if self.b is not None else [])

    def _args(self):
        return f"{self.units}" + ("" if self.use_bias else ", use_bias=False")


class Flatten(Layer):
    """(N, C, H, W) (or any (N, ...)) -> (N, C*H*W)."""

    def _build(self, input_shape, rng):
        return (int(np.prod(input_shape)),)

    def forward(self, x, training=False):
        x = self._check_input(x)
        return x.reshape(x.shape[0], -1)

    def backward(self, grad):
        return grad.reshape((grad.shape[0],) + self.input_shape)


# ---------------------------------------------------------------------------------------
# convolution and pooling
# ---------------------------------------------------------------------------------------
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


class Conv2D(Layer):
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
    init : "auto", "he" or "glorot"
    """

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, use_bias=True,
                 init="auto"):
        super().__init__()
        self.out_channels = _check_int(out_channels, "out_channels")
        self.kernel_size = _check_pair(kernel_size, "kernel_size", 1)
        self.stride = _check_pair(stride, "stride", 1)
        if isinstance(padding, str):
            if padding == "valid":
                padding = 0
            elif padding == "same":
                kh, kw = self.kernel_size
                if kh % 2 == 0 or kw % 2 == 0:
                    raise ValueError('padding="same" needs an odd kernel_size, got '
                                     f"{self.kernel_size}.")
                padding = ((kh - 1) // 2, (kw - 1) // 2)
            else:
                raise ValueError('padding must be an int, a pair of ints, "valid" or '
                                 f'"same", got {padding!r}.')
        self.padding = _check_pair(padding, "padding", 0)
        self.use_bias = bool(use_bias)
        self.init = _check_init(init)

    def _build(self, input_shape, rng):
        _need_chw("Conv2D", input_shape)
        C, H, W = input_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        Ho = _conv_out(H, kh, sh, ph, "Conv2D", "height")
        Wo = _conv_out(W, kw, sw, pw, "Conv2D", "width")
        Co = self.out_channels
        hint = self._init_hint if self.init == "auto" else self.init
        self.W = Parameter(_fan_init(rng, (Co, C, kh, kw), C * kh * kw, Co * kh * kw, hint,
                                     self.dtype), "W")
        self.b = (Parameter(np.zeros(Co, self.dtype), "b", regularize=False)
                  if self.use_bias else None)
        return (Co, Ho, Wo)

    def forward(self, x, training=False):
        x = self._check_input(x)
        out = F.conv2d(x, self.W.value, None if self.b is None else self.b.value,
                       self.stride, self.padding, n_jobs=self.n_threads)
        self._c_x = x if training else None
        return out

    def backward(self, grad):
        dx, dw, db = F.conv2d_backward(grad, self._c_x, self.W.value, self.stride,
                                       self.padding, self.need_input_grad,
                                       n_jobs=self.n_threads)
        self.W.grad = dw
        if self.b is not None:
            self.b.grad = db
        self._c_x = None
        return dx

    def parameters(self):
        return [self.W] + ([self.b] if self.b is not None else [])

    def _args(self):
        k = self.kernel_size
        s = f"{self.out_channels}, kernel_size={k[0] if k[0] == k[1] else k}"
        if self.stride != (1, 1):
            s += f", stride={self.stride[0] if self.stride[0] == self.stride[1] else self.stride}"
        if self.padding != (0, 0):
            p = self.padding
            s += f", padding={p[0] if p[0] == p[1] else p}"
        return s


class ConvTranspose2D(Layer):
    """Transposed convolution (upsampling): (N, C_in, H, W) -> (N, out_channels, H_out,
    W_out) with ``H_out = (H - 1) stride + kernel - 2 padding``; weight of shape
    (C_in, out_channels, kh, kw) as in torch."""

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, use_bias=True,
                 init="auto"):
        super().__init__()
        self.out_channels = _check_int(out_channels, "out_channels")
        self.kernel_size = _check_pair(kernel_size, "kernel_size", 1)
        self.stride = _check_pair(stride, "stride", 1)
        self.padding = _check_pair(padding, "padding", 0)
        self.use_bias = bool(use_bias)
        self.init = _check_init(init)

    def _build(self, input_shape, rng):
        _need_chw("ConvTranspose2D", input_shape)
        C, H, W = input_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        Ho, Wo = (H - 1) * sh + kh - 2 * ph, (W - 1) * sw + kw - 2 * pw
        if Ho < 1 or Wo < 1:
            raise ValueError(f"ConvTranspose2D: padding {self.padding} is too large for "
                             f"input {H}x{W} and kernel {kh}x{kw} (output {Ho}x{Wo}).")
        Co = self.out_channels
        hint = self._init_hint if self.init == "auto" else self.init
        # fan_in of the equivalent convolution: each output sees C_in*kh*kw/(sh*sw) inputs
        self.W = Parameter(_fan_init(rng, (C, Co, kh, kw), C * kh * kw, Co * kh * kw, hint,
                                     self.dtype), "W")
        self.b = (Parameter(np.zeros(Co, self.dtype), "b", regularize=False)
                  if self.use_bias else None)
        return (Co, Ho, Wo)

    def forward(self, x, training=False):
        x = self._check_input(x)
        out = F.conv_transpose2d(x, self.W.value, None if self.b is None else self.b.value,
                                 self.stride, self.padding, n_jobs=self.n_threads)
        self._c_x = x if training else None
        return out

    def backward(self, grad):
        dx, dw, db = F.conv_transpose2d_backward(grad, self._c_x, self.W.value, self.stride,
                                                 self.padding, self.need_input_grad,
                                                 n_jobs=self.n_threads)
        self.W.grad = dw
        if self.b is not None:
            self.b.grad = db
        self._c_x = None
        return dx

    def parameters(self):
        return [self.W] + ([self.b] if self.b is not None else [])

    def _args(self):
        return (f"{self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")


class _Pool2D(Layer):
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

    def forward(self, x, training=False):
        x = self._check_input(x)
        out, argmax = F.max_pool2d(x, self.kernel_size, self.stride, self.padding,
                                   n_jobs=self.n_threads)
        self._c_argmax = argmax if training else None
        self._c_n = x.shape[0]
        return out

    def backward(self, grad):
        dx = F.max_pool2d_backward(grad, self._c_argmax, (self._c_n,) + self.input_shape,
                                   n_jobs=self.n_threads)
        self._c_argmax = None
        return dx


class AvgPool2D(_Pool2D):
    """Average pooling (zero padding counts in the divisor, as in torch)."""

    def forward(self, x, training=False):
        x = self._check_input(x)
        self._c_n = x.shape[0]
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding,
                            n_jobs=self.n_threads)

    def backward(self, grad):
        return F.avg_pool2d_backward(grad, (self._c_n,) + self.input_shape, self.kernel_size,
                                     self.stride, self.padding, n_jobs=self.n_threads)


class GlobalAvgPool2D(Layer):
    """Mean over each channel's plane: (N, C, H, W) -> (N, C)."""

    def _build(self, input_shape, rng):
        _need_chw("GlobalAvgPool2D", input_shape)
        return (input_shape[0],)

    def forward(self, x, training=False):
        x = self._check_input(x)
        self._c_n = x.shape[0]
        return F.global_avg_pool2d(x, n_jobs=self.n_threads)

    def backward(self, grad):
        return F.global_avg_pool2d_backward(grad, (self._c_n,) + self.input_shape,
                                            n_jobs=self.n_threads)


class GlobalMaxPool2D(Layer):
    """Maximum over each channel's plane: (N, C, H, W) -> (N, C)."""

    def _build(self, input_shape, rng):
        _need_chw("GlobalMaxPool2D", input_shape)
        return (input_shape[0],)

    def forward(self, x, training=False):
        x = self._check_input(x)
        out, argmax = F.global_max_pool2d(x, n_jobs=self.n_threads)
        self._c_argmax = argmax if training else None
        self._c_n = x.shape[0]
        return out

    def backward(self, grad):
        dx = F.global_max_pool2d_backward(grad, self._c_argmax,
                                          (self._c_n,) + self.input_shape,
                                          n_jobs=self.n_threads)
        self._c_argmax = None
        return dx


# ---------------------------------------------------------------------------------------
# activations
# ---------------------------------------------------------------------------------------
class ReLU(Layer):
    """max(x, 0)."""

    relu_family = True

    def forward(self, x, training=False):
        x = self._check_input(x)
        out = np.maximum(x, 0)
        self._c_out = out if training else None
        return out

    def backward(self, grad):
        dx = grad * (self._c_out > 0)
        self._c_out = None
        return dx


class LeakyReLU(Layer):
    """x for x > 0, negative_slope * x otherwise."""

    relu_family = True

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = _check_real(negative_slope, "negative_slope", 0.0, 1.0)

    def forward(self, x, training=False):
        x = self._check_input(x)
        a = x.dtype.type(self.negative_slope)
        out = np.where(x > 0, x, a * x)
        self._c_x = x if training else None
        return out

    def backward(self, grad):
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

    def forward(self, x, training=False):
        x = self._check_input(x)
        out = np.where(x > 0, x, self._slope(x.ndim) * x)
        self._c_x = x if training else None
        return out

    def backward(self, grad):
        x = self._c_x
        pos = x > 0
        dx = np.where(pos, grad, self._slope(x.ndim) * grad)
        contrib = np.where(pos, 0, x * grad)
        axes = tuple(i for i in range(x.ndim) if not (self.per_channel and i == 1))
        self.a.grad = contrib.sum(axis=axes, dtype=np.float64).reshape(
            self.a.value.shape).astype(self.dtype)
        self._c_x = None
        return dx

    def parameters(self):
        return [self.a]

    def _args(self):
        return "per_channel=True" if self.per_channel else ""


class ELU(Layer):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    relu_family = True

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = _check_real(alpha, "alpha", 0.0, low_open=True)

    def forward(self, x, training=False):
        x = self._check_input(x)
        a = x.dtype.type(self.alpha)
        out = np.where(x > 0, x, a * np.expm1(np.minimum(x, 0)))
        self._c_x, self._c_out = (x, out) if training else (None, None)
        return out

    def backward(self, grad):
        a = grad.dtype.type(self.alpha)
        dx = np.where(self._c_x > 0, grad, grad * (self._c_out + a))
        self._c_x = self._c_out = None
        return dx

    def _args(self):
        return f"alpha={self.alpha}"


class Sigmoid(Layer):
    """1 / (1 + exp(-x)), computed without overflow."""

    def forward(self, x, training=False):
        x = self._check_input(x)
        out = expit(x)
        self._c_out = out if training else None
        return out

    def backward(self, grad):
        s = self._c_out
        self._c_out = None
        return grad * s * (1 - s)


class Tanh(Layer):
    """tanh(x)."""

    def forward(self, x, training=False):
        x = self._check_input(x)
        out = np.tanh(x)
        self._c_out = out if training else None
        return out

    def backward(self, grad):
        t = self._c_out
        self._c_out = None
        return grad * (1 - t * t)


class Softplus(Layer):
    """log(1 + exp(x)), computed as max(x, 0) + log1p(exp(-|x|)) (no overflow)."""

    def forward(self, x, training=False):
        x = self._check_input(x)
        out = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
        self._c_x = x if training else None
        return out

    def backward(self, grad):
        dx = grad * expit(self._c_x)
        self._c_x = None
        return dx


# ---------------------------------------------------------------------------------------
# normalisation and regularisation
# ---------------------------------------------------------------------------------------
class BatchNorm(Layer):
    """Batch normalisation (Ioffe & Szegedy, 2015): per feature for (N, F) inputs (after
    Dense), per channel for (N, C, H, W) (after Conv2D).

    Training normalises with the batch's mean and (biased) variance and updates the
    running statistics, ``running = (1 - momentum) running + momentum batch`` (unbiased
    variance, as torch); inference uses the running statistics. ``gamma`` (scale, starts
    at 1) and ``beta`` (shift, starts at 0) are learned.
    """

    init_transparent = True

    def __init__(self, momentum=0.1, eps=1e-5):
        super().__init__()
        self.momentum = _check_real(momentum, "momentum", 0.0, 1.0)
        self.eps = _check_real(eps, "eps", 0.0, low_open=True)

    def _build(self, input_shape, rng):
        if len(input_shape) not in (1, 3):
            raise ValueError("BatchNorm expects (features,) or (C, H, W) per sample, got "
                             f"{input_shape}.")
        n = input_shape[0]
        self.gamma = Parameter(np.ones(n, self.dtype), "gamma", regularize=False)
        self.beta = Parameter(np.zeros(n, self.dtype), "beta", regularize=False)
        self.running_mean = np.zeros(n, self.dtype)
        self.running_var = np.ones(n, self.dtype)
        return input_shape

    def _axes_shape(self, x):
        if x.ndim == 2:
            return (0,), (1, -1)
        return (0, 2, 3), (1, -1, 1, 1)

    def forward(self, x, training=False):
        x = self._check_input(x)
        axes, bshape = self._axes_shape(x)
        if training:
            m = x.size // x.shape[1]
            if m < 2:
                raise ValueError("BatchNorm in training needs more than one value per "
                                 f"channel, got a batch of shape {x.shape}; use a larger "
                                 "batch_size.")
            mean = x.mean(axis=axes, dtype=np.float64)
            xc = x - mean.astype(x.dtype).reshape(bshape)
            var = np.mean(np.square(xc), axis=axes, dtype=np.float64)
            inv_std = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype)
            xhat = xc * inv_std.reshape(bshape)
            mom = self.momentum
            self.running_mean *= 1 - mom
            self.running_mean += (mom * mean).astype(self.dtype)
            self.running_var *= 1 - mom
            self.running_var += (mom * var * m / (m - 1)).astype(self.dtype)
            self._c_xhat, self._c_inv_std = xhat, inv_std
        else:
            inv_std = (1.0 / np.sqrt(self.running_var.astype(np.float64) + self.eps)
                       ).astype(x.dtype)
            xhat = (x - self.running_mean.reshape(bshape)) * inv_std.reshape(bshape)
        return xhat * self.gamma.value.reshape(bshape) + self.beta.value.reshape(bshape)

    def backward(self, grad):
        xhat, inv_std = self._c_xhat, self._c_inv_std
        axes, bshape = self._axes_shape(grad)
        m = grad.size // grad.shape[1]
        dbeta = grad.sum(axis=axes, dtype=np.float64)
        dgamma = (grad * xhat).sum(axis=axes, dtype=np.float64)
        self.beta.grad = dbeta.astype(self.dtype)
        self.gamma.grad = dgamma.astype(self.dtype)
        # dx = gamma inv_std / m * (m g - sum(g) - xhat sum(g xhat))
        scale = (self.gamma.value * inv_std).reshape(bshape)
        dx = scale * (grad - (dbeta / m).astype(grad.dtype).reshape(bshape)
                      - xhat * (dgamma / m).astype(grad.dtype).reshape(bshape))
        self._c_xhat = self._c_inv_std = None
        return dx

    def parameters(self):
        return [self.gamma, self.beta]

    def buffers(self):
        return [self.running_mean, self.running_var]

    def _args(self):
        return "" if (self.momentum, self.eps) == (0.1, 1e-5) else \
            f"momentum={self.momentum}, eps={self.eps}"


class Dropout(Layer):
    """Inverted dropout: in training each value is zeroed with probability ``p`` and the
    others are scaled by 1 / (1 - p); at inference it is the identity."""

    init_transparent = True

    def __init__(self, p=0.5):
        super().__init__()
        self.p = _check_real(p, "p", 0.0, 1.0, high_open=True)

    def _build(self, input_shape, rng):
        self._rng = np.random.default_rng(rng.integers(2**63))
        return input_shape

    def forward(self, x, training=False):
        x = self._check_input(x)
        if not training or self.p == 0.0:
            self._c_mask = None
            return x
        keep = self._rng.random(x.shape, dtype=x.dtype) >= self.p
        mask = keep * x.dtype.type(1.0 / (1.0 - self.p))
        self._c_mask = mask
        return x * mask

    def backward(self, grad):
        mask = self._c_mask
        self._c_mask = None
        return grad if mask is None else grad * mask

    def _args(self):
        return f"p={self.p}"


# ---------------------------------------------------------------------------------------
# containers
# ---------------------------------------------------------------------------------------
def _set_init_hints(layers):
    """He initialisation before a ReLU-family activation, Glorot otherwise."""
    for i, layer in enumerate(layers):
        nxt = None
        for cand in layers[i + 1:]:
            if not cand.init_transparent:
                nxt = cand
                break
        layer._init_hint = "he" if (nxt is not None and nxt.relu_family) else "glorot"


class Sequential(Layer):
    """Layers applied one after another; also the model type the trainer uses.

    ``Sequential(Conv2D(6, 5, padding=2), ReLU(), MaxPool2D(2), Flatten(), Dense(10))``
    """

    def __init__(self, *layers):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        self.layers = [_check_layer(la, f"layers[{i}]") for i, la in enumerate(layers)]

    def _build(self, input_shape, rng):
        expected = getattr(self, "expected_in_channels", None)
        if expected is not None and (len(input_shape) != 3 or input_shape[0] != expected):
            raise ValueError(f"This model expects images with {expected} channel(s), shape "
                             f"({expected}, H, W) per sample, got {input_shape}.")
        _set_init_hints(self.layers)
        shape = input_shape
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.build(shape, self.dtype, rng)
            except ValueError as exc:
                raise ValueError(f"layer {i} ({type(layer).__name__}): {exc}") from None
        self._plan = _fuse(self.layers)
        return shape

    def set_need_input_grad(self, flag):
        """Whether backward must return the gradient with respect to the input (False for
        the whole model: the first layer then skips that computation)."""
        self.need_input_grad = bool(flag)
        if self.layers:
            first = self.layers[0]
            if isinstance(first, Sequential):
                first.set_need_input_grad(flag)
            elif not isinstance(first, (Residual, Concat)):
                first.need_input_grad = bool(flag)

    def forward(self, x, training=False):
        x = self._check_input(x)
        for step in self._plan:
            x = step.forward(x, training)
        return x

    def backward(self, grad):
        for step in reversed(self._plan):
            grad = step.backward(grad)
        return grad

    def children(self):
        return list(self.layers)

    def clear_cache(self):
        super().clear_cache()
        for step in getattr(self, "_plan", ()):
            if isinstance(step, _ReLUMaxPool):
                step._c_pos = None

    def parameters(self):
        return [p for la in self.layers for p in la.parameters()]

    def buffers(self):
        return [b for la in self.layers for b in la.buffers()]

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def n_parameters(self):
        return int(sum(p.value.size for p in self.parameters()))

    def __repr__(self):
        head = "Sequential("
        if self.built:
            head = f"Sequential(input {_fmt_shape(self.input_shape)}, " \
                   f"{self.n_parameters()} parameters, {self.dtype}"
            lines = [head]
        else:
            lines = [head]
        for i, la in enumerate(self.layers):
            sub = repr(la).replace("\n", "\n  ")
            lines.append(f"  ({i}) {sub}")
        tail = ")" + (f" -> {_fmt_shape(self.output_shape)}" if self.built else "")
        if self.built:
            lines[0] += ")"
        return "\n".join(lines) + "\n" + tail if self.layers else head + tail


class _ReLUMaxPool:
    """ReLU followed by a MaxPool2D with non-overlapping square windows, run as one
    compiled pass each way (fastml/nn/_train_ops.pyx); same results as the two layers."""

    def __init__(self, relu, pool):
        self.relu, self.pool = relu, pool
        self.k = pool.kernel_size[0]

    @staticmethod
    def applies(relu, pool):
        return (type(relu) is ReLU and type(pool) is MaxPool2D
                and pool.kernel_size[0] == pool.kernel_size[1] <= 15
                and pool.stride == pool.kernel_size and pool.padding == (0, 0)
                and len(pool.input_shape) == 3)

    def forward(self, x, training=False):
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
        pos = self._c_pos
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

    def __getstate__(self):
        return {"relu": self.relu, "pool": self.pool, "k": self.k, "_c_pos": None}


def _fuse(layers):
    """The execution plan of a Sequential: its layers, with ReLU -> MaxPool2D pairs fused."""
    plan, i = [], 0
    while i < len(layers):
        if i + 1 < len(layers) and _ReLUMaxPool.applies(layers[i], layers[i + 1]):
            plan.append(_ReLUMaxPool(layers[i], layers[i + 1]))
            i += 2
        else:
            plan.append(layers[i])
            i += 1
    return plan


class Residual(Layer):
    """``block(x) + shortcut(x)`` (He et al., 2016). ``shortcut=None`` is the identity
    (the block must then keep the shape); otherwise a layer, typically a 1x1 Conv2D with
    the block's stride (a projection). Put the activation after the Residual."""

    def __init__(self, block, shortcut=None):
        super().__init__()
        self.block = _check_layer(block, "block")
        self.shortcut = None if shortcut is None else _check_layer(shortcut, "shortcut")

    def _build(self, input_shape, rng):
        out = self.block.build(input_shape, self.dtype, rng)
        if self.shortcut is None:
            if out != input_shape:
                raise ValueError(f"Residual: the block maps {input_shape} to {out}, so the "
                                 "identity shortcut does not fit; pass a projection "
                                 "shortcut, e.g. Conv2D(channels, 1, stride=...).")
        else:
            sc = self.shortcut.build(input_shape, self.dtype, rng)
            if sc != out:
                raise ValueError(f"Residual: the block gives {out} but the shortcut gives "
                                 f"{sc}; they must match.")
        return out

    def forward(self, x, training=False):
        x = self._check_input(x)
        out = self.block.forward(x, training)
        sc = x if self.shortcut is None else self.shortcut.forward(x, training)
        return out + sc

    def backward(self, grad):
        dx = self.block.backward(grad)
        if self.shortcut is None:
            return dx + grad
        return dx + self.shortcut.backward(grad)

    def children(self):
        return [self.block] + ([self.shortcut] if self.shortcut is not None else [])

    def parameters(self):
        return [p for c in self.children() for p in c.parameters()]

    def buffers(self):
        return [b for c in self.children() for b in c.buffers()]

    def _args(self):
        sc = "identity" if self.shortcut is None else repr(self.shortcut)
        return "\n  block=" + repr(self.block).replace("\n", "\n  ") + \
            ",\n  shortcut=" + sc.replace("\n", "\n  ") + "\n"


class Concat(Layer):
    """Parallel branches on the same input, concatenated on the channel axis (axis 1):
    an Inception block. Every branch must give the same spatial size."""

    def __init__(self, *branches):
        super().__init__()
        if len(branches) == 1 and isinstance(branches[0], (list, tuple)):
            branches = tuple(branches[0])
        if not branches:
            raise ValueError("Concat needs at least one branch.")
        self.branches = [_check_layer(b, f"branches[{i}]") for i, b in enumerate(branches)]

    def _build(self, input_shape, rng):
        shapes = [b.build(input_shape, self.dtype, rng) for b in self.branches]
        rest = {s[1:] for s in shapes}
        if len(rest) != 1:
            raise ValueError(f"Concat: the branches give shapes {shapes}; all but the "
                             "channel axis must agree.")
        self._sizes = [s[0] for s in shapes]
        return (sum(self._sizes),) + shapes[0][1:]

    def forward(self, x, training=False):
        x = self._check_input(x)
        return np.concatenate([b.forward(x, training) for b in self.branches], axis=1)

    def backward(self, grad):
        dx = None
        start = 0
        for b, n in zip(self.branches, self._sizes):
            g = b.backward(np.ascontiguousarray(grad[:, start:start + n]))
            start += n
            dx = g if dx is None else dx + g
        return dx

    def children(self):
        return list(self.branches)

    def parameters(self):
        return [p for c in self.branches for p in c.parameters()]

    def buffers(self):
        return [b for c in self.branches for b in c.buffers()]

    def _args(self):
        return "\n" + ",\n".join("  " + repr(b).replace("\n", "\n  ")
                                 for b in self.branches) + "\n"


_IMAGE_LAYERS = (Conv2D, ConvTranspose2D, MaxPool2D, AvgPool2D, GlobalAvgPool2D,
                 GlobalMaxPool2D)


def has_image_layers(layer):
    """Whether ``layer`` is or contains a convolution or pooling layer (compiled OpenMP
    loops over images)."""
    if isinstance(layer, _IMAGE_LAYERS):
        return True
    return any(has_image_layers(c) for c in layer.children())
