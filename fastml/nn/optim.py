"""Optimisers (SGD with momentum / Nesterov, Adam) and learning-rate schedules.

An optimiser holds a list of :class:`fastml.nn.layers.Parameter`; ``step()`` updates each
``p.value`` in place from ``p.grad`` (same dtype, so float32 stays float32). Weight
penalties are added to the gradients by the trainer before ``step``.
A schedule maps the epoch number to a learning rate: ``schedule(epoch, base_lr)``.
"""
import math
import numbers

import numpy as np

from fastml.nn import _train_ops

__all__ = ["Adam", "ConstantLR", "CosineLR", "ExponentialLR", "InverseTimeLR", "Optimizer",
           "ReduceLROnPlateau", "SGD", "StepLR", "get_optimizer", "get_schedule"]


def _real(value, name, low, high=None, low_open=False, high_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not math.isfinite(value):
        raise TypeError(f"{name} must be a finite real number, got {value!r}.")
    if (value <= low if low_open else value < low) or \
            (high is not None and (value >= high if high_open else value > high)):
        raise ValueError(f"{name} must be in {'(' if low_open else '['}{low}, "
                         f"{'inf' if high is None else high}{')' if high_open else ']'}, "
                         f"got {value!r}.")
    return float(value)


class Optimizer:
    def __init__(self, params, learning_rate):
        self.params = list(params)
        self.learning_rate = _real(learning_rate, "learning_rate", 0.0, low_open=True)
        self.n_steps = 0

    def zero_grad(self):
        for p in self.params:
            p.grad = np.zeros_like(p.value)

    def step(self):
        self.n_steps += 1
        for i, p in enumerate(self.params):
            self._update(i, p)

    def _update(self, i, p):
        raise NotImplementedError


class SGD(Optimizer):
    """Minibatch SGD. With momentum mu: v = mu v + g, then w -= lr v (torch's form);
    Nesterov: w -= lr (g + mu v)."""

    def __init__(self, params, learning_rate=0.01, momentum=0.0, nesterov=False):
        super().__init__(params, learning_rate)
        self.momentum = _real(momentum, "momentum", 0.0, 1.0, high_open=True)
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0.")
        self._v = [None] * len(self.params)

    def _update(self, i, p):
        # one compiled pass per parameter: the formulas of the class doc, in the
        # parameter's dtype, each operation rounded as numpy's would be
        value = p.value
        dtype = value.dtype
        if not value.flags.c_contiguous or dtype not in (np.float32, np.float64):
            return self._update_numpy(i, p)
        g = np.ascontiguousarray(p.grad, dtype=dtype).reshape(-1)
        v = self._v[i]
        init = v is None
        if init and self.momentum != 0:
            v = self._v[i] = np.empty(value.shape, dtype=dtype)
        _train_ops.sgd_update(value.reshape(-1), g, g if v is None else v.reshape(-1),
                              self.learning_rate, self.momentum, self.nesterov, init)

    def _update_numpy(self, i, p):
        lr = p.value.dtype.type(self.learning_rate)
        g = p.grad
        if self.momentum == 0:
            p.value -= lr * g
            return
        mu = p.value.dtype.type(self.momentum)
        v = self._v[i]
        if v is None:
            v = self._v[i] = np.array(g, dtype=p.value.dtype, copy=True)
        else:
            v *= mu
            v += g
        if self.nesterov:
            p.value -= lr * (g + mu * v)
        else:
            p.value -= lr * v


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction."""

    def __init__(self, params, learning_rate=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(params, learning_rate)
        self.beta1 = _real(beta1, "beta1", 0.0, 1.0, high_open=True)
        self.beta2 = _real(beta2, "beta2", 0.0, 1.0, high_open=True)
        self.eps = _real(eps, "eps", 0.0, low_open=True)
        self._m = [np.zeros_like(p.value) for p in self.params]
        self._s = [np.zeros_like(p.value) for p in self.params]

    def step(self):
        self.n_steps += 1
        t = self.n_steps
        self._c1 = 1 - self.beta1 ** t
        self._c2 = 1 - self.beta2 ** t
        for i, p in enumerate(self.params):
            self._update(i, p)

    def _update(self, i, p):
        # one compiled pass per parameter, each operation rounded as numpy's would be
        value, m, s = p.value, self._m[i], self._s[i]
        dtype = value.dtype
        if (dtype not in (np.float32, np.float64) or not value.flags.c_contiguous
                or m.dtype != dtype or s.dtype != dtype):
            return self._update_numpy(i, p)
        g = np.ascontiguousarray(p.grad, dtype=dtype).reshape(-1)
        _train_ops.adam_update(value.reshape(-1), g, m.reshape(-1), s.reshape(-1),
                               self.beta1, self.beta2, self.learning_rate / self._c1,
                               self._c2, self.eps)

    def _update_numpy(self, i, p):
        dt = p.value.dtype.type
        g = p.grad
        m, s = self._m[i], self._s[i]
        m *= dt(self.beta1)
        m += dt(1 - self.beta1) * g
        s *= dt(self.beta2)
        s += dt(1 - self.beta2) * (g * g)
        step = dt(self.learning_rate / self._c1)
        p.value -= step * m / (np.sqrt(s / dt(self._c2)) + dt(self.eps))


# --------------------------------------------------------------------------------------
# learning-rate schedules (per epoch)
# --------------------------------------------------------------------------------------
class ConstantLR:
    def __call__(self, epoch, base_lr):
        return base_lr

    def __repr__(self):
        return "ConstantLR()"


class StepLR:
    """lr = base_lr * gamma ** (epoch // step_size)."""

    def __init__(self, step_size=10, gamma=0.1):
        if isinstance(step_size, bool) or not isinstance(step_size, numbers.Integral) or \
                step_size < 1:
            raise ValueError(f"step_size must be a positive int, got {step_size!r}.")
        self.step_size = int(step_size)
        self.gamma = _real(gamma, "gamma", 0.0, 1.0, low_open=True)

    def __call__(self, epoch, base_lr):
        return base_lr * self.gamma ** (epoch // self.step_size)

    def __repr__(self):
        return f"StepLR(step_size={self.step_size}, gamma={self.gamma})"


class CosineLR:
    """Cosine annealing from base_lr to min_lr over ``t_max`` epochs (Loshchilov & Hutter,
    2017, without restarts): lr = min_lr + (base_lr - min_lr) (1 + cos(pi e / t_max)) / 2."""

    def __init__(self, t_max, min_lr=0.0):
        if isinstance(t_max, bool) or not isinstance(t_max, numbers.Integral) or t_max < 1:
            raise ValueError(f"t_max must be a positive int, got {t_max!r}.")
        self.t_max = int(t_max)
        self.min_lr = _real(min_lr, "min_lr", 0.0)

    def __call__(self, epoch, base_lr):
        e = min(epoch, self.t_max)
        return self.min_lr + (base_lr - self.min_lr) * (1 + math.cos(math.pi * e / self.t_max)) / 2

    def __repr__(self):
        return f"CosineLR(t_max={self.t_max}, min_lr={self.min_lr})"


class ExponentialLR:
    """lr = base_lr * gamma ** epoch (exponential decay)."""

    def __init__(self, gamma=0.9):
        self.gamma = _real(gamma, "gamma", 0.0, 1.0, low_open=True)

    def __call__(self, epoch, base_lr):
        return base_lr * self.gamma ** epoch

    def __repr__(self):
        return f"ExponentialLR(gamma={self.gamma})"


class InverseTimeLR:
    """1/t decay: lr = base_lr / (1 + decay * epoch)."""

    def __init__(self, decay=0.5):
        self.decay = _real(decay, "decay", 0.0)

    def __call__(self, epoch, base_lr):
        return base_lr / (1.0 + self.decay * epoch)

    def __repr__(self):
        return f"InverseTimeLR(decay={self.decay})"


class ReduceLROnPlateau:
    """Divide the learning rate by ``1 / factor`` (10 by default) when ``monitor``
    (``valid_loss``, else ``train_loss``) has not improved by ``threshold`` (relative)
    for ``patience`` epochs. The trainer calls :meth:`update` with each epoch's record."""

    def __init__(self, factor=0.1, patience=2, threshold=1e-4, min_lr=0.0,
                 monitor="valid_loss"):
        self.factor = _real(factor, "factor", 0.0, 1.0, low_open=True, high_open=True)
        if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) or \
                patience < 0:
            raise ValueError(f"patience must be an int >= 0, got {patience!r}.")
        self.patience = int(patience)
        self.threshold = _real(threshold, "threshold", 0.0)
        self.min_lr = _real(min_lr, "min_lr", 0.0)
        self.monitor = monitor
        self.scale = 1.0
        self.best = math.inf
        self._wait = 0

    def __call__(self, epoch, base_lr):
        return max(base_lr * self.scale, self.min_lr)

    def update(self, record):
        value = record.get(self.monitor)
        if value is None:
            value = record["train_loss"]
        if value < self.best * (1 - self.threshold):
            self.best = value
            self._wait = 0
        else:
            self._wait += 1
            if self._wait > self.patience:
                self.scale *= self.factor
                self._wait = 0

    def __repr__(self):
        return f"ReduceLROnPlateau(factor={self.factor}, patience={self.patience})"


def get_optimizer(name, params, learning_rate, momentum=0.9, nesterov=False, **kwargs):
    """"sgd", "nesterov" or "adam" (or an Optimizer subclass) -> an optimiser. ``kwargs``
    go to the optimiser (Adam: beta1, beta2, eps)."""
    try:
        if isinstance(name, type) and issubclass(name, Optimizer):
            return name(params, learning_rate, **kwargs)
        if name == "sgd":
            return SGD(params, learning_rate, momentum=momentum, nesterov=nesterov, **kwargs)
        if name == "nesterov":
            return SGD(params, learning_rate, momentum=momentum, nesterov=True, **kwargs)
        if name == "adam":
            return Adam(params, learning_rate, **kwargs)
    except TypeError as exc:
        raise TypeError(f"optimizer {name!r}: {exc}") from None
    raise ValueError(f'optimizer must be "sgd", "nesterov" or "adam", got {name!r}.')


_SCHEDULES = ("constant", "step", "cosine", "exponential", "inverse_time", "plateau")


def get_schedule(schedule, epochs):
    """None / "constant", "step" (x0.1 every third of the epochs), "cosine" (over
    ``epochs``), "exponential" (x0.9 per epoch), "inverse_time" (1/t:
    base_lr / (1 + 0.5 epoch)), "plateau" (/10 when the validation loss stalls for 2
    epochs) or a callable ``(epoch, base_lr) -> lr`` (such as the schedule classes of
    this module, whose ``update(record)`` the trainer calls after each epoch)."""
    if schedule is None or schedule == "constant":
        return ConstantLR()
    if schedule == "exponential":
        return ExponentialLR()
    if schedule in ("inverse_time", "1/t"):
        return InverseTimeLR()
    if schedule == "plateau":
        return ReduceLROnPlateau()
    if schedule == "step":
        return StepLR(step_size=max(1, epochs // 3), gamma=0.1)
    if schedule == "cosine":
        return CosineLR(t_max=max(1, epochs))
    if callable(schedule):
        return schedule
    raise ValueError(f"lr_schedule must be None, one of {list(_SCHEDULES)} or a callable "
                     f"(epoch, base_lr) -> lr, got {schedule!r}.")
