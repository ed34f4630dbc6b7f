"""Gradient checking: the analytic gradients of a model against central differences.

:func:`gradient_check` is public as ``fastml.nn.gradient_check``.
"""
import copy

import numpy as np

from fastml.nn.base import Layer
from fastml.nn.losses import get_loss
from fastml.utils import check_scalar_range

__all__ = ["gradient_check"]


def gradient_check(model, X, y, loss="cross_entropy", eps=1e-6, n_entries=10,
                   random_state=0, training=True, check_input=True, fd_noise=None):
    """Compare the analytic gradients of ``loss(model(X), y)`` with central differences.

    The model is built in float64 on ``X.shape[1:]`` if it is not built yet (a model built
    in float32 is refused: its rounding swamps any difference). ``n_entries`` entries of
    every parameter (all of them if it is smaller; None for all) and of the input are
    checked. Dropout masks are frozen (the same random draws for every evaluation) and the
    model's state (BatchNorm running statistics) is restored afterwards.

    Parameters
    ----------
    eps : float
        The finite-difference step h.
    fd_noise : float or None
        The absolute error a central difference may carry from rounding alone: a
        difference |analytic - numeric| up to ``fd_noise`` counts as agreement. None
        derives it from the arithmetic: each loss evaluation is exact to about
        ``64 * machine_eps * max(|loss|, 1)`` (float64), and the difference quotient
        divides that by ``h``, so ``fd_noise = 64 * 2.2e-16 * max(|loss|, 1) / eps``.
        This makes a gradient that is structurally zero (a bias before BatchNorm) pass
        on every CPU instead of comparing rounding noise against itself.

    Returns
    -------
    errors : dict name -> the largest relative error over the checked entries,
        ``max(|a - n| - fd_noise, 0) / max(|a| + |n|, tiny)``; "input" is the gradient
        with respect to X. Values below ~1e-6 mean the gradients agree.
    """
    if not isinstance(model, Layer):
        raise TypeError(f"model must be a fastml.nn layer, got {type(model).__name__}.")
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    eps = check_scalar_range(eps, "eps", low=0.0, low_inclusive=False)
    if not model.built:
        model.build(X.shape[1:], np.float64, random_state)
    if model.dtype != np.float64:
        raise ValueError("gradient_check needs a model built in float64 (float32 rounding "
                         "hides real errors); build a fresh model with "
                         "model.build(input_shape, np.float64).")
    lossf = get_loss(loss)
    rng = np.random.default_rng(random_state)
    saved = model.state_dict()
    rngs = dropout_rngs(model)
    rng_states = [copy.deepcopy(r.bit_generator.state) for _, r in rngs]
    need_input = model.need_input_grad
    model.set_need_input_grad(True)

    def f(Xc):
        for (layer, r), st in zip(rngs, rng_states):
            r.bit_generator.state = copy.deepcopy(st)
        val = lossf.forward(model.forward(Xc, training=training), y)
        return val

    try:
        f0 = f(X)
        if fd_noise is None:
            fd_noise = 64 * np.finfo(np.float64).eps * max(abs(f0), 1.0) / eps
        fd_noise = check_scalar_range(fd_noise, "fd_noise", low=0.0)
        dX = model.backward(lossf.backward())
        named = model.named_parameters()
        analytic = {name: p.grad.copy() for name, p in named}
        errors = {}
        for name, p in named:
            errors[name] = _check_entries(p.value, analytic[name], lambda: f(X), eps,
                                          n_entries, rng, fd_noise)
        if check_input and dX is not None:
            Xc = X.copy()
            errors["input"] = _check_entries(Xc, dX, lambda: f(Xc), eps, n_entries, rng,
                                             fd_noise)
    finally:
        model.load_state_dict(saved)
        for (layer, r), st in zip(rngs, rng_states):
            r.bit_generator.state = st
        model.set_need_input_grad(need_input)
        model.clear_cache()
    return errors


def dropout_rngs(layer):
    """(module, its random generator) for every module of ``layer`` that draws (dropout,
    augmentation): what to save and restore for reproducible evaluations."""
    return [(m, m._rng) for m in layer.modules() if getattr(m, "_rng", None) is not None]


def _check_entries(arr, grad, f, eps, n_entries, rng, fd_noise):
    flat = arr.reshape(-1)
    gflat = np.asarray(grad).reshape(-1)
    if n_entries is None or n_entries >= flat.size:
        idx = np.arange(flat.size)
    else:
        idx = rng.choice(flat.size, size=n_entries, replace=False)
    worst = 0.0
    tiny = np.finfo(np.float64).tiny
    for i in idx:
        old = flat[i]
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        num = (fp - fm) / (2 * eps)
        a = float(gflat[i])
        worst = max(worst, max(abs(a - num) - fd_noise, 0.0) / max(abs(a) + abs(num), tiny))
    return worst
