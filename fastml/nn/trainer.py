"""The training loop: shuffled minibatches, validation split, history, early stopping.

``Trainer(model, ...).fit(X, y)`` trains a :class:`fastml.nn.Sequential` (or any layer)
on integer class labels ``y`` (or real targets with the "mse"/"l1" losses):

* each epoch visits the training rows in a fresh random order, in minibatches of
  ``batch_size`` (a last batch of a single row joins the previous one, so BatchNorm
  always sees two rows or more);
* ``validation_fraction`` of the rows (drawn at random once per ``fit``) are held out
  and scored after every epoch in inference mode;
* ``history_`` holds one dict per epoch: ``epoch``, ``train_loss``, ``train_accuracy``
  (averaged over the epoch's minibatches, in training mode, as Keras and skorch report
  it), ``valid_loss``, ``valid_accuracy`` (None without a validation set), ``lr`` and
  ``duration`` (seconds);
* ``early_stopping`` watches ``valid_loss`` (``train_loss`` without a validation set):
  after ``patience`` epochs without an improvement of at least ``tol`` it raises
  :class:`StopTraining` (its own exception, never KeyboardInterrupt), the loop ends and
  the best weights (and BatchNorm statistics) are restored;
* ``verbose=1`` prints one line per epoch, plus a tqdm progress bar when the output is
  a terminal (never when it is redirected to a file);
* training stops with FloatingPointError when the loss becomes NaN / infinite or a batch
  loss exceeds ``DIVERGENCE_FACTOR`` (1e4) times the first batch's (divergence);
* ``random_state`` fixes initialisation, shuffling, the split and dropout masks; with
  ``n_jobs=1`` two runs give bit-identical weights (with more threads the compiled
  convolution's weight gradients are currently summed in a varying order, so runs agree
  up to rounding).

Threads: ``n_jobs`` (scikit-learn's meaning) sets the OpenMP threads of the compiled
layers (convolution, pooling). BLAS (the dense layers' GEMMs) is capped for the whole
epoch: at the same number for a dense-only network, at one thread when the network also
has compiled OpenMP layers. Two thread pools (OpenMP's and BLAS's) that each spin-wait
on the same cores between calls slow each other down badly, and the dense GEMMs of such
networks are small; the OpenMP layers keep every core busy.
"""
import copy
import numbers
import time
import warnings

import numpy as np

from fastml.nn.base import Layer
from fastml.nn.containers import has_image_layers
from fastml.nn.losses import get_loss
from fastml.nn.augment import get_augmenter, is_pixel_dtype
from fastml.nn.optim import get_optimizer, get_schedule
from fastml.utils import blas_threads, effective_n_threads

__all__ = ["EarlyStopping", "StopTraining", "Trainer", "get_state", "gradient_check",
           "named_parameters", "set_state"]


class StopTraining(Exception):
    """Raised by a callback (early stopping) to end training after the current epoch."""


def named_parameters(layer, prefix=""):
    """``[(name, Parameter)]`` with dotted paths such as ``"3.W"`` or ``"1.block.0.W"``
    (the same as ``layer.named_parameters()``)."""
    return layer.named_parameters(prefix)


def get_state(model):
    """A named copy of every parameter and buffer, ``model.state_dict()`` (for restoring
    the best epoch)."""
    return model.state_dict()


def set_state(model, state):
    """``model.load_state_dict(state)``."""
    model.load_state_dict(state)


class EarlyStopping:
    """Stop when ``monitor`` has not improved by ``tol`` for ``patience`` epochs; keeps
    the best state and restores it when training ends."""

    def __init__(self, monitor="valid_loss", patience=5, tol=1e-4):
        self.monitor = monitor
        self.patience = patience
        self.tol = tol

    def on_train_begin(self, trainer):
        self.best_score_ = np.inf
        self.best_epoch_ = None
        self.best_state_ = None
        self._wait = 0

    def on_epoch_end(self, trainer, record):
        key = self.monitor if record.get(self.monitor) is not None else "train_loss"
        score = record[key]
        if score < self.best_score_ - self.tol:
            self.best_score_ = score
            self.best_epoch_ = record["epoch"]
            self.best_state_ = get_state(trainer.model)
            self._wait = 0
            record["best"] = True
        else:
            self._wait += 1
            if self._wait >= self.patience:
                raise StopTraining(f"{key} did not improve by {self.tol} for "
                                   f"{self.patience} epochs; best epoch "
                                   f"{self.best_epoch_} ({key} = {self.best_score_:.4f}).")

    def on_train_end(self, trainer):
        if self.best_state_ is not None:
            set_state(trainer.model, self.best_state_)


def _check(value, name, kind, low=None, high=None, low_open=False, high_open=False,
           allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "an int" if kind is numbers.Integral else "a real number"
        raise TypeError(f"{name} must be {what}, got {value!r} of type "
                        f"{type(value).__name__}.")
    if kind is numbers.Real and not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    if (low is not None and (value <= low if low_open else value < low)) or \
            (high is not None and (value >= high if high_open else value > high)):
        raise ValueError(f"{name} must be in {'(' if low_open else '['}"
                         f"{'-inf' if low is None else low}, {'inf' if high is None else high}"
                         f"{')' if high_open else ']'}, got {value!r}.")
    return value


#: a batch loss this many times the first batch's (or 1) means training diverged
DIVERGENCE_FACTOR = 1e4


def _interactive():
    """tqdm bars only on a terminal; redirected output gets one line per epoch."""
    import sys

    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _check_lr(lr, epoch, schedule):
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not np.isfinite(lr) \
            or lr < 0:
        raise ValueError(f"lr_schedule {schedule!r} returned {lr!r} for epoch {epoch}; a "
                         "learning rate must be a finite number >= 0: fix the schedule.")
    return float(lr)


def _as_float_input(X):
    """uint8 X holds pixel intensities: scaled to [0, 1] in float32. Other non-float X is
    cast to float64. A warning when the values are far from the unit scale networks
    train on."""
    if is_pixel_dtype(X.dtype):
        return X.astype(np.float32) * np.float32(1.0 / 255.0)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    return X


def warn_if_unscaled(X, name="X"):
    """Warn before training when |X| reaches far beyond the unit scale (e.g. 0-255
    pixels as floats): such inputs make SGD diverge at usual learning rates."""
    if X.size:
        top = float(np.max(np.abs(X)))
        if np.isfinite(top) and top > UNSCALED_LIMIT:
            warnings.warn(f"{name} holds values up to {top:.4g}; networks train on inputs "
                          "of order 1: divide pixels by 255 (or pass them as uint8, which "
                          "fastml scales) or standardise the features, e.g. with "
                          "sklearn.preprocessing.StandardScaler.", UserWarning,
                          stacklevel=3)


#: |X| above this before training triggers :func:`warn_if_unscaled`
UNSCALED_LIMIT = 100.0


def _batches(order, batch_size):
    n = len(order)
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()  # a lone last row joins the previous batch
    ends = starts[1:] + [n]
    return [order[s:e] for s, e in zip(starts, ends)]


class Trainer:
    """Minibatch training of a model on (X, y); see the module doc.

    Parameters
    ----------
    model : a fastml.nn layer (usually Sequential), built or not (then it is built on
        ``X.shape[1:]`` in X's dtype).
    loss : "cross_entropy", "hinge", "binary_cross_entropy", "mse", "l1", "huber" or a
        loss object.
    optimizer : "sgd", "nesterov" or "adam".
    learning_rate, momentum : the optimiser's; momentum is ignored by Adam.
    weight_decay : L2 penalty 0.5 * weight_decay * ||w||^2 on weights (not biases).
    l1 : L1 penalty l1 * |w| on weights. Both penalties enter the gradients;
        ``history_`` reports the data loss without them.
    epochs, batch_size : ints >= 1.
    validation_fraction : float in [0, 1); 0 disables the validation split.
    early_stopping, patience, tol : see :class:`EarlyStopping`.
    lr_schedule : None, "step", "cosine", "exponential", "inverse_time", "plateau" or a
        callable (epoch, base_lr) -> lr; its values are checked (finite, >= 0).
    random_state : None, int or numpy Generator.
    verbose : 0 (silent) or 1 (a line per epoch; a progress bar on a terminal).
    n_jobs : threads, scikit-learn's meaning.
    callbacks : objects with optional on_train_begin / on_epoch_end / on_train_end.
    augment : None, "digits", "images", a dict or an :class:`fastml.nn.ImageAugmenter`:
        random shifts / rotations / scaling / flips of each training batch of images,
        in compiled code on the worker threads, drawn from ``random_state``.
    optimizer_params : dict of further optimiser arguments (``nesterov``; Adam's
        ``beta1``, ``beta2``, ``eps``).

    X of dtype uint8 is taken as pixel intensities and divided by 255; a warning is
    given before training when |X| exceeds 100 (unscaled features).
    """

    def __init__(self, model, loss="cross_entropy", optimizer="sgd", learning_rate=0.01,
                 momentum=0.9, weight_decay=0.0, l1=0.0, epochs=10, batch_size=64,
                 validation_fraction=0.1, early_stopping=False, patience=5, tol=1e-4,
                 lr_schedule=None, random_state=None, verbose=0, n_jobs=None,
                 callbacks=(), augment=None, optimizer_params=None):
        if not isinstance(model, Layer):
            raise TypeError(f"model must be a fastml.nn layer (e.g. Sequential), got "
                            f"{type(model).__name__}.")
        self.model = model
        self.loss = get_loss(loss)
        self.optimizer_name = optimizer
        self.optimizer_params = dict(optimizer_params or {})
        self.learning_rate = _check(learning_rate, "learning_rate", numbers.Real, 0,
                                    low_open=True)
        self.momentum = _check(momentum, "momentum", numbers.Real, 0, 1, high_open=True)
        self.weight_decay = _check(weight_decay, "weight_decay", numbers.Real, 0)
        self.l1 = _check(l1, "l1", numbers.Real, 0)
        self.epochs = _check(epochs, "epochs", numbers.Integral, 1)
        self.batch_size = _check(batch_size, "batch_size", numbers.Integral, 1)
        self.validation_fraction = _check(validation_fraction, "validation_fraction",
                                          numbers.Real, 0, 1, high_open=True)
        self.early_stopping = bool(early_stopping)
        self.patience = _check(patience, "patience", numbers.Integral, 1)
        self.tol = _check(tol, "tol", numbers.Real, 0)
        self.lr_schedule = get_schedule(lr_schedule, self.epochs)
        if verbose not in (0, 1, 2, False, True):
            raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}.")
        self.verbose = int(verbose)
        self.n_threads = effective_n_threads(n_jobs)
        if isinstance(callbacks, (str, bytes)) or not hasattr(callbacks, "__iter__"):
            raise TypeError(f"callbacks must be a list of callback objects, got "
                            f"{type(callbacks).__name__}.")
        self.callbacks = list(callbacks)
        for i, cb in enumerate(self.callbacks):
            if not any(hasattr(cb, h) for h in ("on_train_begin", "on_epoch_end",
                                                "on_train_end")):
                raise TypeError(f"callbacks[{i}] ({type(cb).__name__}) has none of "
                                "on_train_begin, on_epoch_end, on_train_end.")
        self.rng = np.random.default_rng(random_state)
        self.augment = get_augmenter(augment)
        self.history_ = []
        self._first_loss = None
        self.optimizer_ = None
        self.epochs_done_ = 0

    # -- set-up ------------------------------------------------------------------------
    def _check_xy(self, X, y):
        X = np.asarray(X)
        if X.ndim < 2 or X.shape[0] == 0:
            raise ValueError(f"X must be a non-empty array of shape (n_samples, ...), got "
                             f"shape {X.shape}.")
        X = _as_float_input(X)
        y = np.asarray(y)
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} samples but y has {y.shape[0]}.")
        return X, y

    def _setup(self, X):
        m = self.model
        if not m.built:
            m.build(X.shape[1:], X.dtype, self.rng)
        elif X.shape[1:] != m.input_shape:
            raise ValueError(f"X has per-sample shape {X.shape[1:]}, but the model was built "
                             f"for {m.input_shape}.")
        m.set_need_input_grad(False)
        m.set_n_threads(self.n_threads)
        if self.optimizer_ is None:
            self.optimizer_ = get_optimizer(self.optimizer_name, m.parameters(),
                                            self.learning_rate, self.momentum,
                                            **self.optimizer_params)
        return np.ascontiguousarray(X, dtype=m.dtype)

    def _check_rows(self, n_train):
        if n_train < 2 and any(getattr(m, "needs_batch_statistics", False)
                               for m in self.model.modules()):
            raise ValueError(
                f"Only {n_train} training row remains (after holding out "
                f"validation_fraction={self.validation_fraction}), and BatchNorm needs at "
                "least two rows per batch; pass more rows or validation_fraction=0.")

    # -- one epoch ---------------------------------------------------------------------
    def _train_epoch(self, X, y, bar=None):
        model, loss, opt = self.model, self.loss, self.optimizer_
        params = opt.params
        wd, l1 = self.weight_decay, self.l1
        classify = y.ndim == 1 and y.dtype.kind in "iu"
        total, correct, seen = 0.0, 0, 0
        for idx in _batches(self.rng.permutation(len(X)), self.batch_size):
            xb, yb = X[idx], y[idx]
            if self.augment is not None:
                xb = self.augment.apply(xb, self.rng, self.n_threads)
            scores = model.forward(xb, training=True)
            lval = loss.forward(scores, yb)
            if not np.isfinite(lval):
                raise FloatingPointError(
                    f"The training loss became {lval} at epoch {self.epochs_done_ + 1}; "
                    f"lower learning_rate (now {opt.learning_rate:g}) or scale X (e.g. "
                    "pixels / 255).")
            if self._first_loss is None:
                self._first_loss = lval
            elif lval > DIVERGENCE_FACTOR * max(self._first_loss, 1.0):
                raise FloatingPointError(
                    f"Training diverged: the batch loss rose from {self._first_loss:.4g} "
                    f"(first batch) to {lval:.4g} at epoch {self.epochs_done_ + 1}; lower "
                    f"learning_rate (now {opt.learning_rate:g}) or scale X (e.g. pixels / "
                    "255).")
            model.backward(loss.backward())
            if wd or l1:
                for p in params:
                    if p.regularize:
                        if wd:
                            p.grad = p.grad + p.value.dtype.type(wd) * p.value
                        if l1:
                            p.grad = p.grad + p.value.dtype.type(l1) * np.sign(p.value)
            opt.step()
            total += lval * len(idx)
            seen += len(idx)
            if classify:
                correct += int(np.count_nonzero(scores.argmax(axis=1) == yb))
            if bar is not None:
                bar.update(len(idx))
                bar.set_postfix(loss=f"{total / seen:.4f}", refresh=False)
        return total / seen, (correct / seen if classify else None)

    def _blas_threads(self):
        return 1 if has_image_layers(self.model) else self.n_threads

    def predict_scores(self, X, batch_size=1024):
        """The model's raw outputs for X in inference mode, in batches."""
        X = np.ascontiguousarray(_as_float_input(np.asarray(X)), dtype=self.model.dtype)
        self.model.set_n_threads(self.n_threads)
        out = []
        with blas_threads(self._blas_threads()):
            for s in range(0, len(X), batch_size):
                out.append(self.model.forward(X[s:s + batch_size], training=False))
        return np.concatenate(out)

    def evaluate(self, X, y):
        """(mean loss, accuracy) on (X, y) in inference mode."""
        scores = self.predict_scores(X)
        lval = self.loss.forward(scores, y)
        acc = None
        if y.ndim == 1 and y.dtype.kind in "iu":
            acc = float(np.mean(scores.argmax(axis=1) == y))
        return lval, acc

    # -- loops ---------------------------------------------------------------------------
    def fit(self, X, y, X_valid=None, y_valid=None):
        """Train for ``epochs`` epochs (fewer if early stopping ends it); returns self.
        A validation set is held out of X when ``validation_fraction`` > 0 and no
        ``X_valid`` is given. Calling fit again continues from the current weights and
        optimiser state and appends to ``history_`` (build a new model to start over)."""
        X, y = self._check_xy(X, y)
        if not any(getattr(m, "scales_input", False) for m in self.model.modules()[:2]):
            warn_if_unscaled(X)
        X = self._setup(X)
        if X_valid is None and self.validation_fraction > 0:
            n_val = int(round(self.validation_fraction * len(X)))
            if 0 < n_val < len(X):
                perm = self.rng.permutation(len(X))
                X_valid, y_valid = X[perm[:n_val]], y[perm[:n_val]]
                X, y = X[perm[n_val:]], y[perm[n_val:]]
        elif X_valid is not None:
            X_valid, y_valid = self._check_xy(X_valid, y_valid)
            X_valid = np.ascontiguousarray(X_valid, dtype=self.model.dtype)
        return self._run(X, y, X_valid, y_valid, self.epochs, self.early_stopping)

    def partial_fit(self, X, y, epochs=1):
        """``epochs`` more epochs on (X, y), continuing the optimiser's state; no
        validation split and no early stopping."""
        X, y = self._check_xy(X, y)
        X = self._setup(X)
        return self._run(X, y, None, None, epochs, False)

    def _run(self, X, y, X_valid, y_valid, epochs, early_stopping):
        callbacks = list(self.callbacks)
        if early_stopping:
            monitor = "valid_loss" if X_valid is not None else "train_loss"
            callbacks.append(EarlyStopping(monitor, self.patience, self.tol))
        for cb in callbacks:
            if hasattr(cb, "on_train_begin"):
                cb.on_train_begin(self)
        bar_cls = None
        if self.verbose and _interactive():
            from tqdm.auto import tqdm as bar_cls
        self._check_rows(len(X))
        self.stop_reason_ = None
        try:
            with blas_threads(self._blas_threads()):
                for _ in range(epochs):
                    epoch = self.epochs_done_
                    lr = _check_lr(self.lr_schedule(epoch, self.learning_rate), epoch,
                                   self.lr_schedule)
                    self.optimizer_.learning_rate = lr
                    t0 = time.perf_counter()
                    bar = None
                    if bar_cls is not None:
                        bar = bar_cls(total=len(X), desc=f"epoch {epoch + 1}", unit="img",
                                      leave=False)
                    try:
                        tl, ta = self._train_epoch(X, y, bar)
                    finally:
                        if bar is not None:
                            bar.close()
                    dur = time.perf_counter() - t0
                    rec = {"epoch": epoch + 1, "train_loss": tl, "train_accuracy": ta,
                           "valid_loss": None, "valid_accuracy": None, "lr": lr,
                           "duration": dur}
                    if X_valid is not None:
                        rec["valid_loss"], rec["valid_accuracy"] = self.evaluate(X_valid,
                                                                                 y_valid)
                    self.history_.append(rec)
                    self.epochs_done_ += 1
                    if hasattr(self.lr_schedule, "update"):
                        self.lr_schedule.update(rec)
                    if self.verbose:
                        self._print(rec)
                    for cb in callbacks:
                        if hasattr(cb, "on_epoch_end"):
                            cb.on_epoch_end(self, rec)
        except StopTraining as stop:
            self.stop_reason_ = str(stop)
            if self.verbose:
                print(f"Early stopping: {stop}")
        finally:
            for cb in callbacks:
                if hasattr(cb, "on_train_end"):
                    cb.on_train_end(self)
            self.model.clear_cache()
        return self

    @staticmethod
    def _print(rec):
        def f(v):
            return "-" if v is None else f"{v:.4f}"
        print(f"epoch {rec['epoch']:3d}  train loss {f(rec['train_loss'])}  acc "
              f"{f(rec['train_accuracy'])}  valid loss {f(rec['valid_loss'])}  acc "
              f"{f(rec['valid_accuracy'])}  lr {rec['lr']:.3g}  {rec['duration']:.1f}s")


# ---------------------------------------------------------------------------------------
# gradient check
# ---------------------------------------------------------------------------------------
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
    eps = _check(eps, "eps", numbers.Real, 0, low_open=True)
    if not model.built:
        model.build(X.shape[1:], np.float64, random_state)
    if model.dtype != np.float64:
        raise ValueError("gradient_check needs a model built in float64 (float32 rounding "
                         "hides real errors); build a fresh model with "
                         "model.build(input_shape, np.float64).")
    lossf = get_loss(loss)
    rng = np.random.default_rng(random_state)
    saved = get_state(model)
    dropout_rngs = _dropout_rngs(model)
    rng_states = [copy.deepcopy(r.bit_generator.state) for _, r in dropout_rngs]
    need_input = model.need_input_grad
    model.set_need_input_grad(True)

    def f(Xc):
        for (layer, r), st in zip(dropout_rngs, rng_states):
            r.bit_generator.state = copy.deepcopy(st)
        val = lossf.forward(model.forward(Xc, training=training), y)
        return val

    try:
        f0 = f(X)
        if fd_noise is None:
            fd_noise = 64 * np.finfo(np.float64).eps * max(abs(f0), 1.0) / eps
        fd_noise = _check(fd_noise, "fd_noise", numbers.Real, 0)
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
        set_state(model, saved)
        for (layer, r), st in zip(dropout_rngs, rng_states):
            r.bit_generator.state = st
        model.set_need_input_grad(need_input)
        model.clear_cache()
    return errors


def _dropout_rngs(layer):
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
