"""The Module API of :mod:`fastml.nn`: :class:`Parameter` and :class:`Layer`.

A layer registers what it is made of by plain attribute assignment, as in
``torch.nn.Module``:

* ``self.W = Parameter(...)`` registers a learnable parameter;
* ``self.block = Sequential(...)`` registers a child layer;
* ``self.register_buffer("running_mean", array)`` registers a non-learnable array
  (saved in :meth:`Layer.state_dict`, never touched by an optimiser).

From that registry come :meth:`~Layer.parameters`, :meth:`~Layer.named_parameters`,
:meth:`~Layer.buffers`, :meth:`~Layer.children`, :meth:`~Layer.modules`,
:meth:`~Layer.state_dict` and :meth:`~Layer.load_state_dict`; no layer writes them by
hand.

Every layer

* validates its arguments when it is constructed (``ValueError`` / ``TypeError`` naming
  the argument);
* is *built* on the per-sample shape of its input (``build(input_shape, dtype, rng)``, the
  shape of ONE sample, without the batch axis), done by :class:`Sequential` (at
  construction when it is given ``input_shape``) or by the trainer; building checks that
  the shapes fit and creates the parameters in the model's dtype (float32 stays float32).
  Layers without parameters or buffers (activations, pooling, Flatten, Dropout) need no
  build: used alone, they adapt to whatever batch they are given;
* has ``forward(x, training=False)`` and ``backward(grad)``: ``backward`` takes the
  gradient of the loss with respect to the output of the *last* ``forward(x,
  training=True)``, sets ``p.grad`` of each of its parameters and returns the gradient
  with respect to the input. Subclasses implement ``_forward`` and ``_backward``; the
  public methods check the input and the gradient's shape first;
* prints as ``Name(arguments) -> output shape`` once built.
"""
import numbers
from collections import OrderedDict

import numpy as np

from fastml.utils import effective_n_threads

__all__ = ["Layer", "Parameter"]

_INT_MAX = 2**31 - 1  # compiled loops index with C ints


# ---------------------------------------------------------------------------------------
# argument checks (shared by every layer module)
# ---------------------------------------------------------------------------------------
def _check_int(value, name, low=1, high=_INT_MAX):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r} of type "
                        f"{type(value).__name__}.")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}.")
    if value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}; use a smaller {name}.")
    return int(value)


def _check_pair(value, name, low, high=_INT_MAX):
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}.")
        return (_check_int(value[0], name, low, high), _check_int(value[1], name, low, high))
    v = _check_int(value, name, low, high)
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


def _check_layer(layer, name):
    if not isinstance(layer, Layer):
        raise TypeError(f"{name} must be a fastml.nn layer (an instance of "
                        f"fastml.nn.Layer), got {type(layer).__name__}.")
    return layer


def _check_shape(input_shape, name="input_shape"):
    """A per-sample shape: a tuple of positive ints (an int is a 1-tuple)."""
    if isinstance(input_shape, numbers.Integral) and not isinstance(input_shape, bool):
        input_shape = (input_shape,)
    try:
        shape = tuple(input_shape)
    except TypeError:
        raise TypeError(f"{name} must be a tuple of positive ints (the shape of one sample, "
                        f"e.g. (1, 28, 28)), got {input_shape!r}.") from None
    if not shape or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                            and 0 < s <= _INT_MAX for s in shape):
        raise ValueError(f"{name} must be a non-empty tuple of positive ints (the shape of "
                         f"one sample without the batch axis, e.g. (1, 28, 28)), got "
                         f"{input_shape!r}.")
    return tuple(int(s) for s in shape)


def _check_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}.")
    return dtype


def _fmt_shape(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _as_batch(x, name="x"):
    """x as a float ndarray with a batch axis (lists and integer arrays accepted)."""
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be an array of numbers of shape (n_samples, ...), "
                            f"got {type(x).__name__} ({exc}).") from None
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold numbers, got dtype {x.dtype}; pass a numeric "
                        "numpy array of shape (n_samples, ...).")
    if x.ndim < 2:
        raise ValueError(f"{name} must be a batch of shape (n_samples, ...) with at least 2 "
                         f"axes, got shape {x.shape}; add the batch axis (x[None]) or a "
                         "feature axis (x[:, None]).")
    return x


# ---------------------------------------------------------------------------------------
# Parameter and Layer
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

    @property
    def size(self):
        return self.value.size

    def __repr__(self):
        return f"Parameter({self.name}, shape={self.value.shape}, dtype={self.value.dtype})"


_REGISTRIES = ("_parameters", "_buffers", "_modules")
_BATCH_HINT = (" (note: build() takes the shape of ONE sample, without the batch axis, "
               "e.g. build(x.shape[1:])).")


class Layer:
    """Base class of every layer (a module); see the module doc.

    Subclasses implement ``_build(input_shape, rng) -> output_shape`` (creating their
    parameters by attribute assignment), ``_forward(x, training)`` and ``_backward(grad)``.
    """

    #: this layer counts as part of the ReLU family for ``init="auto"``
    relu_family = False
    #: transparent for the ``init="auto"`` look-ahead (BatchNorm, Dropout)
    init_transparent = False
    #: no parameters and no buffers: works standalone on any shape without build()
    stateless = False
    #: a compiled OpenMP loop over images (convolution, pooling)
    image_layer = False

    def __init__(self):
        for reg in _REGISTRIES:
            object.__setattr__(self, reg, OrderedDict())
        self.input_shape = None
        self.output_shape = None
        self.dtype = None
        self.n_threads = 1
        self.need_input_grad = True
        self._init_hint = "glorot"
        self._c_out_shape = None

    # -- registration ------------------------------------------------------------------
    def __setattr__(self, name, value):
        d = self.__dict__
        if "_parameters" not in d:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call "
                               "super().__init__() before setting attributes.")
        params, bufs, mods = d["_parameters"], d["_buffers"], d["_modules"]
        if isinstance(value, Parameter):
            bufs.pop(name, None)
            mods.pop(name, None)
            d.pop(name, None)
            params[name] = value
        elif isinstance(value, Layer):
            params.pop(name, None)
            bufs.pop(name, None)
            d.pop(name, None)
            mods[name] = value
        elif name in params and value is None:
            params[name] = None
        elif name in mods and value is None:
            mods[name] = None
        elif name in bufs:
            if value is not None and not isinstance(value, np.ndarray):
                raise TypeError(f"buffer {name!r} must be a numpy array, got "
                                f"{type(value).__name__}.")
            bufs[name] = value
        else:
            for reg in (params, mods):
                reg.pop(name, None)
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        if name in _REGISTRIES or name.startswith("__"):
            raise AttributeError(name)
        d = self.__dict__
        for reg in _REGISTRIES:
            r = d.get(reg)
            if r is not None and name in r:
                return r[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for reg in _REGISTRIES:
            if name in self.__dict__[reg]:
                del self.__dict__[reg][name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name, value):
        """Register a non-learnable array (saved in state_dict, updated in place)."""
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self.__dict__.pop(name, None)
        self._buffers[name] = value

    # -- traversal ---------------------------------------------------------------------
    def named_children(self):
        return [(n, m) for n, m in self._modules.items() if m is not None]

    def children(self):
        return [m for _, m in self.named_children()]

    def named_modules(self, prefix=""):
        out = [(prefix, self)]
        for n, m in self.named_children():
            out += m.named_modules(f"{prefix}.{n}" if prefix else n)
        return out

    def modules(self):
        return [m for _, m in self.named_modules()]

    def named_parameters(self, prefix=""):
        """``[(name, Parameter)]`` with dotted paths such as ``"3.W"`` or
        ``"1.block.0.W"``; a parameter shared by two layers is listed once."""
        out, seen = [], set()
        for mname, m in self.named_modules(prefix.rstrip(".")):
            for pname, p in m._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    out.append((f"{mname}.{pname}" if mname else pname, p))
        return out

    def parameters(self):
        """The learnable :class:`Parameter` s (value and grad)."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self):
        out = []
        for mname, m in self.named_modules():
            for bname, b in m._buffers.items():
                if b is not None:
                    out.append((f"{mname}.{bname}" if mname else bname, b))
        return out

    def buffers(self):
        """Non-learnable state arrays (running statistics), updated in place."""
        return [b for _, b in self.named_buffers()]

    def n_parameters(self):
        """The number of learnable values."""
        return int(sum(p.value.size for p in self.parameters()))

    def state_dict(self):
        """An ordered ``{name: array copy}`` of every parameter and buffer."""
        state = OrderedDict((n, p.value.copy()) for n, p in self.named_parameters())
        state.update((n, b.copy()) for n, b in self.named_buffers())
        return state

    def load_state_dict(self, state, strict=True):
        """Copy arrays from ``state`` (as given by :meth:`state_dict`) into the
        parameters and buffers, in place. With ``strict`` the names must match exactly;
        shapes must always match."""
        self._check_built()
        targets = OrderedDict((n, p.value) for n, p in self.named_parameters())
        targets.update(self.named_buffers())
        if strict:
            missing = [k for k in targets if k not in state]
            extra = [k for k in state if k not in targets]
            if missing or extra:
                raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys "
                               f"{extra}; pass strict=False to load the common ones.")
        for k, dst in targets.items():
            if k not in state:
                continue
            src = np.asarray(state[k])
            if src.shape != dst.shape:
                raise ValueError(f"load_state_dict: {k!r} has shape {src.shape} in state "
                                 f"but {dst.shape} in the model.")
            dst[...] = src
        return self

    # -- construction ------------------------------------------------------------------
    def build(self, input_shape, dtype=np.float32, rng=None):
        """Create the parameters for inputs of per-sample shape ``input_shape`` (one
        sample, without the batch axis); return the per-sample output shape. ``rng`` is a
        numpy Generator (or a seed). Building again re-initialises the parameters."""
        input_shape = _check_shape(input_shape)
        dtype = _check_dtype(dtype)
        rng = np.random.default_rng(rng)
        self.input_shape = input_shape
        self.dtype = dtype
        self.output_shape = None
        try:
            self.output_shape = tuple(self._build(input_shape, rng))
        except ValueError as exc:
            msg = str(exc)
            if len(input_shape) >= 2 and _BATCH_HINT not in msg:
                raise ValueError(f"{msg.rstrip('.')}{_BATCH_HINT}") from None
            raise
        return self.output_shape

    def _build(self, input_shape, rng):
        return input_shape

    @property
    def built(self):
        return self.output_shape is not None

    def _check_built(self):
        if not self.built:
            raise RuntimeError(f"{type(self).__name__} is not built yet: call "
                               "build(input_shape) with the shape of one sample (or put it "
                               "in a Sequential given input_shape=...) before forward.")

    def _check_input(self, x):
        """Check the per-sample shape; return x in the layer's dtype (no copy if it is)."""
        x = _as_batch(x)
        if self.stateless:
            dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)
            if not self.built or x.shape[1:] != self.input_shape or dtype != self.dtype:
                self.build(x.shape[1:], dtype)
            return x if x.dtype == dtype else x.astype(dtype)
        self._check_built()
        if x.shape[1:] != self.input_shape:
            hint = "."
            if x.shape == self.input_shape:
                hint = _BATCH_HINT
            raise ValueError(f"{type(self).__name__} was built for inputs of per-sample "
                             f"shape {self.input_shape}, got a batch of shape {x.shape}"
                             f"{hint}")
        return x if x.dtype == self.dtype else x.astype(self.dtype)

    # -- computation ---------------------------------------------------------------------
    def forward(self, x, training=False):
        """The layer's output for the batch ``x`` (shape (n_samples,) + input_shape).
        ``training=True`` keeps what :meth:`backward` needs."""
        x = self._check_input(x)
        out = self._forward(x, training)
        self._c_out_shape = out.shape if training else None
        return out

    def backward(self, grad):
        """Gradient of the loss w.r.t. the input, from ``grad``, the gradient w.r.t. the
        output of the last ``forward(x, training=True)``; sets each ``p.grad``."""
        expected = self._c_out_shape
        if expected is None:
            raise RuntimeError(f"{type(self).__name__}.backward called without a preceding "
                               "forward(x, training=True) (or twice for one forward): run "
                               "forward with training=True first.")
        if not isinstance(grad, np.ndarray) or grad.shape != expected:
            got = np.shape(grad)
            raise ValueError(f"grad must have the shape of the last output, {expected}, got "
                             f"{got}; pass the gradient of the loss with respect to that "
                             "output.")
        if grad.dtype != self.dtype:
            grad = grad.astype(self.dtype)
        self._c_out_shape = None
        return self._backward(grad)

    def _forward(self, x, training):
        raise NotImplementedError

    def _backward(self, grad):
        raise NotImplementedError

    def __call__(self, x, training=False):
        return self.forward(x, training)

    # -- state ---------------------------------------------------------------------------
    def set_n_threads(self, n_jobs):
        """Threads of the compiled loops, with scikit-learn's ``n_jobs`` meaning (None: 1,
        -1: every usable core, capped at the usable cores)."""
        n = effective_n_threads(n_jobs)
        for m in self.modules():
            object.__setattr__(m, "n_threads", n)
        return n

    def set_need_input_grad(self, flag):
        """Whether backward must return the gradient with respect to the input (False for
        the first layer of a model: it then skips that computation)."""
        self.need_input_grad = bool(flag)

    def zero_grad(self):
        for p in self.parameters():
            p.grad = np.zeros_like(p.value)

    def clear_cache(self):
        """Drop the arrays kept from the last forward pass (done before pickling)."""
        for m in self.modules():
            for k in [k for k in m.__dict__ if k.startswith("_c_")]:
                m.__dict__[k] = None
            m._clear_extra_cache()

    def _clear_extra_cache(self):
        pass

    def __getstate__(self):
        state = self.__dict__.copy()
        for k in state:
            if k.startswith("_c_"):
                state[k] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    # -- printing -----------------------------------------------------------------------
    def _args(self):
        return ""

    def __repr__(self):
        s = f"{type(self).__name__}({self._args()})"
        if self.built:
            s += f" -> {_fmt_shape(self.output_shape)}"
        return s
