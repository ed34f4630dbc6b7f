"""Normalisation and regularisation layers: BatchNorm, Dropout and Standardize."""
import numpy as np

from fastml.nn.base import Layer, Parameter, _check_real

__all__ = ["BatchNorm", "Dropout", "Standardize"]


class BatchNorm(Layer):
    """Batch normalisation (Ioffe & Szegedy, 2015): per feature for (N, F) inputs (after
    Dense), per channel for (N, C, H, W) (after Conv2D).

    Training normalises with the batch's mean and (biased) variance and updates the
    running statistics, ``running = (1 - momentum) running + momentum batch`` (unbiased
    variance, as torch); inference uses the running statistics. ``gamma`` (scale, starts
    at 1) and ``beta`` (shift, starts at 0) are learned.
    """

    init_transparent = True
    needs_batch_statistics = True

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
        self.register_buffer("running_mean", np.zeros(n, self.dtype))
        self.register_buffer("running_var", np.ones(n, self.dtype))
        return input_shape

    def _axes_shape(self, x):
        if x.ndim == 2:
            return (0,), (1, -1)
        return (0, 2, 3), (1, -1, 1, 1)

    def _forward(self, x, training):
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

    def _backward(self, grad):
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

    def _args(self):
        return "" if (self.momentum, self.eps) == (0.1, 1e-5) else \
            f"momentum={self.momentum}, eps={self.eps}"


class Dropout(Layer):
    """Inverted dropout: in training each value is zeroed with probability ``p`` and the
    others are scaled by 1 / (1 - p); at inference it is the identity. No parameters, so
    it works standalone on any shape. The masks come from the generator of the model's
    build (its ``random_state``) or, used alone, from ``random_state``."""

    init_transparent = True
    stateless = True

    def __init__(self, p=0.5, random_state=None):
        super().__init__()
        self.p = _check_real(p, "p", 0.0, 1.0, high_open=True)
        self.random_state = random_state
        self._rng = None

    def build(self, input_shape, dtype=np.float32, rng=None):
        if rng is not None:
            rng = np.random.default_rng(rng)
            self._rng = np.random.default_rng(rng.integers(2**63))
        elif self._rng is None:
            self._rng = np.random.default_rng(self.random_state)
        return super().build(input_shape, dtype, rng)

    def _forward(self, x, training):
        if not training or self.p == 0.0:
            self._c_mask = None
            return x
        keep = self._rng.random(x.shape, dtype=x.dtype) >= self.p
        mask = keep * x.dtype.type(1.0 / (1.0 - self.p))
        self._c_mask = mask
        return x * mask

    def _backward(self, grad):
        mask = self._c_mask
        self._c_mask = None
        return grad if mask is None else grad * mask

    def _args(self):
        return f"p={self.p}"


class Standardize(Layer):
    """Fixed feature scaling, ``(x - mean) / scale``, with ``mean`` and ``scale`` buffers
    set from training data by :meth:`adapt` (as scikit-learn's StandardScaler, but part
    of the model: saved with it and applied at prediction). Not learned by the optimiser.
    Before ``adapt`` it is the identity."""

    init_transparent = True
    scales_input = True

    def _build(self, input_shape, rng):
        self.register_buffer("mean", np.zeros(input_shape, self.dtype))
        self.register_buffer("scale", np.ones(input_shape, self.dtype))
        return input_shape

    def adapt(self, X):
        """Set mean and scale from X (n_samples,) + input_shape; constant features get
        scale 1. Computed in float64."""
        self._check_built()
        X = np.asarray(X, dtype=np.float64)
        if X.shape[1:] != self.input_shape:
            raise ValueError(f"adapt: X has per-sample shape {X.shape[1:]}, the layer was "
                             f"built for {self.input_shape}.")
        mean = X.mean(axis=0)
        std = X.std(axis=0)
        std[std < 1e-12 * np.maximum(np.abs(mean), 1.0)] = 1.0
        self.mean[...] = mean
        self.scale[...] = std
        return self

    def _forward(self, x, training):
        return (x - self.mean) / self.scale

    def _backward(self, grad):
        return grad / self.scale if self.need_input_grad else None
