"""Containers: :class:`Sequential`, :class:`Residual` (He et al., 2016) and
:class:`Concat` (an Inception block). Their children are registered by the Module API,
so parameters, buffers and state come from :class:`fastml.nn.base.Layer`."""
import numpy as np

from fastml.nn.base import Layer, _check_dtype, _check_layer, _check_shape, _fmt_shape
from fastml.nn.fusion import fuse

__all__ = ["Concat", "Residual", "Sequential", "has_image_layers"]


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

    ``Sequential(Conv2D(6, 5, padding=2), ReLU(), MaxPool2D(2), Flatten(), Dense(10),
    input_shape=(1, 28, 28))``

    Parameters
    ----------
    *layers : fastml.nn layers (or one list of them)
    input_shape : tuple of ints or None
        The shape of one sample. When given, the model is built at construction (its
        parameters exist at once); otherwise on the first ``build`` / ``fit``.
    dtype : float32 or float64, default=float32
        The parameters' dtype when built at construction.
    random_state : None, int or numpy Generator
        Initialisation (and dropout masks) when built at construction.
    """

    def __init__(self, *layers, input_shape=None, dtype=np.float32, random_state=None):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, la in enumerate(layers):
            setattr(self, str(i), _check_layer(la, f"layers[{i}]"))
        self._plan = None
        if input_shape is not None:
            self.build(_check_shape(input_shape), _check_dtype(dtype), random_state)

    @property
    def layers(self):
        return self.children()

    def _build(self, input_shape, rng):
        layers = self.layers
        _set_init_hints(layers)
        shape = input_shape
        for i, layer in enumerate(layers):
            try:
                shape = layer.build(shape, self.dtype, rng)
            except ValueError as exc:
                raise ValueError(f"layer {i} ({type(layer).__name__}): {exc}") from None
        self._plan = fuse(layers)
        return shape

    def set_need_input_grad(self, flag):
        """Whether backward must return the gradient with respect to the input (False for
        the whole model: the first layer then skips that computation)."""
        self.need_input_grad = bool(flag)
        layers = self.layers
        if layers:
            layers[0].set_need_input_grad(flag)

    def _forward(self, x, training):
        for step in self._plan:
            x = step.forward(x, training)
        return x

    def _backward(self, grad):
        for step in reversed(self._plan):
            grad = step.backward(grad)
        return grad

    def _clear_extra_cache(self):
        for step in self._plan or ():
            if not isinstance(step, Layer):
                step.clear_cache()

    def __len__(self):
        return len(self._modules)

    def __getitem__(self, i):
        return self.layers[i]

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self):
        layers = self.layers
        head = "Sequential("
        if self.built:
            head = f"Sequential(input {_fmt_shape(self.input_shape)}, " \
                   f"{self.n_parameters()} parameters, {self.dtype})"
        lines = [head]
        for i, la in enumerate(layers):
            sub = repr(la).replace("\n", "\n  ")
            lines.append(f"  ({i}) {sub}")
        tail = ")" + (f" -> {_fmt_shape(self.output_shape)}" if self.built else "")
        if self.built:
            return "\n".join(lines) + "\n" + tail
        return "\n".join(lines) + "\n" + tail if layers else head + tail


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

    def _forward(self, x, training):
        out = self.block.forward(x, training)
        sc = x if self.shortcut is None else self.shortcut.forward(x, training)
        return out + sc

    def _backward(self, grad):
        dx = self.block.backward(grad)
        if self.shortcut is None:
            return dx + grad
        return dx + self.shortcut.backward(grad)

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
        for i, b in enumerate(branches):
            setattr(self, str(i), _check_layer(b, f"branches[{i}]"))

    @property
    def branches(self):
        return self.children()

    def _build(self, input_shape, rng):
        shapes = [b.build(input_shape, self.dtype, rng) for b in self.branches]
        rest = {s[1:] for s in shapes}
        if len(rest) != 1:
            raise ValueError(f"Concat: the branches give shapes {shapes}; all but the "
                             "channel axis must agree.")
        self._sizes = [s[0] for s in shapes]
        return (sum(self._sizes),) + shapes[0][1:]

    def _forward(self, x, training):
        return np.concatenate([b.forward(x, training) for b in self.branches], axis=1)

    def _backward(self, grad):
        dx = None
        start = 0
        for b, n in zip(self.branches, self._sizes):
            g = b.backward(np.ascontiguousarray(grad[:, start:start + n]))
            start += n
            dx = g if dx is None else dx + g
        return dx

    def _args(self):
        return "\n" + ",\n".join("  " + repr(b).replace("\n", "\n  ")
                                 for b in self.branches) + "\n"


def has_image_layers(layer):
    """Whether ``layer`` is or contains a convolution or pooling layer (compiled OpenMP
    loops over images)."""
    return any(m.image_layer for m in layer.modules())
