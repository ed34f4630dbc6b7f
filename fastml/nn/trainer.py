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
  loss exceeds ``DIVERGENCE_FACTOR`` (1e4) times the first batch's (divergence); the
  message names the likely cause (the learning rate, unscaled X, or a weight decay too
  large for the learning rate);
* a ``fit`` / ``partial_fit`` that raises (divergence, a callback's error, Ctrl-C)
  leaves the model, the optimiser, the schedule, the random streams and ``history_`` as
  they were before the call;
* uint8 X is taken as pixels and divided by 255; the first training call fixes that
  rule, and :meth:`Trainer.predict_scores` applies it to X of any dtype (a model trained
  on pixels predicts the same pixels given as float64), with a warning when X looks
  scaled otherwise than the training input;
* ``sample_weight`` makes the loss (and the validation scores) weighted means;
* ``random_state`` fixes initialisation, shuffling, the split and dropout masks; with
  ``n_jobs=1`` two runs give bit-identical weights (with more threads the compiled
  convolution's weight gradients are currently summed in a varying order, so runs agree
  up to rounding).

Threads: ``n_jobs`` (None: every usable core) sets the OpenMP threads of the compiled
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

from fastml.nn.gradcheck import dropout_rngs as _dropout_rngs  # (tests import it from here)
from fastml.nn.gradcheck import gradient_check  # noqa: F401  (re-exported: its former home)

__all__ = ["EarlyStopping", "StopTraining", "Trainer"]


class StopTraining(Exception):
    """Raised by a callback (early stopping) to end training after the current epoch."""


def _direction(monitor):
    """True if lower is better for the record ``monitor``, False if higher is better,
    None if its name does not say (Keras' ``mode="auto"``)."""
    if monitor.endswith("loss"):
        return True
    if monitor.endswith(("accuracy", "acc", "score")):
        return False
    return None


class EarlyStopping:
    """Stop when ``monitor`` has not improved by ``tol`` for ``patience`` epochs; keeps
    the best state and restores it when training ends.

    Parameters
    ----------
    monitor : str, default="valid_loss"
        The record of ``history_`` to watch: "valid_loss", "valid_accuracy",
        "train_loss", "train_accuracy", or a record a callback adds.
    patience : int, default=5
        Epochs without an improvement before training stops.
    tol : float, default=1e-4
        The least change that counts as an improvement.
    lower_is_better : bool or None, default=None
        None derives the direction from the name: records ending in "loss" improve by
        going down, those ending in "accuracy" or "score" by going up; any other record
        needs an explicit True / False.

    A monitor that is not among an epoch's records, or that is None because there is
    no validation set, raises ValueError naming the records that exist.
    """

    def __init__(self, monitor="valid_loss", patience=5, tol=1e-4, lower_is_better=None):
        self.monitor = monitor
        self.patience = patience
        self.tol = tol
        self.lower_is_better = lower_is_better

    def _lower(self):
        if not isinstance(self.monitor, str):
            raise TypeError(f"EarlyStopping: monitor must be the name of a record (str), got "
                            f"{self.monitor!r}.")
        if self.lower_is_better is not None:
            if not isinstance(self.lower_is_better, (bool, np.bool_)):
                raise TypeError(f"EarlyStopping: lower_is_better must be None, True or "
                                f"False, got {self.lower_is_better!r}.")
            return bool(self.lower_is_better)
        lower = _direction(self.monitor)
        if lower is None:
            raise ValueError(f"EarlyStopping cannot tell whether {self.monitor!r} improves by "
                             "going up or down; pass lower_is_better=True or False.")
        return lower

    def on_train_begin(self, trainer):
        self._lower_ = self._lower()
        _check(self.patience, "EarlyStopping: patience", numbers.Integral, 1)
        _check(self.tol, "EarlyStopping: tol", numbers.Real, 0)
        self.best_score_ = np.inf if self._lower_ else -np.inf
        self.best_epoch_ = None
        self.best_state_ = None
        self._wait = 0

    def _score(self, record):
        key = self.monitor
        if key not in record:
            known = [k for k, v in record.items()
                     if isinstance(v, numbers.Real) and not isinstance(v, bool)]
            raise ValueError(f"EarlyStopping: monitor={key!r} is not a record of the epoch; "
                             f"the records are {known}.")
        score = record[key]
        if score is None:
            why = (" (there is no validation set: set validation_fraction > 0 or pass "
                   "X_valid and y_valid)" if key.startswith("valid") else "")
            raise ValueError(f"EarlyStopping: the record {key!r} is None{why}; monitor "
                             "another record, e.g. 'train_loss'.")
        return float(score)

    def on_epoch_end(self, trainer, record):
        if not hasattr(self, "_lower_"):
            self.on_train_begin(trainer)
        key = self.monitor
        score = self._score(record)
        if self._lower_:
            better = score < self.best_score_ - self.tol
        else:
            better = score > self.best_score_ + self.tol
        if better:
            self.best_score_ = score
            self.best_epoch_ = record["epoch"]
            self.best_state_ = trainer.model.state_dict()
            self._wait = 0
            record["best"] = True
        else:
            self._wait += 1
            if self._wait >= self.patience:
                raise StopTraining(f"{key} did not improve by {self.tol} for "
                                   f"{self.patience} epochs; best epoch "
                                   f"{self.best_epoch_} ({key} = {self.best_score_:.4f}).")

    def on_train_end(self, trainer):
        if getattr(self, "best_state_", None) is not None:
            trainer.model.load_state_dict(self.best_state_)

    def __repr__(self):
        return (f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
                f"tol={self.tol}, lower_is_better={self.lower_is_better})")


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


#: the factor that takes uint8 pixel intensities (0-255) to [0, 1]
PIXEL_SCALE = 1.0 / 255.0


def pixel_input(X):
    """True for X of dtype uint8: pixel intensities 0-255."""
    return is_pixel_dtype(X.dtype)


def to_float_input(X, pixels_fit=False):
    """X as float32 / float64 under the input rule of a network.

    uint8 X holds pixel intensities and is scaled to [0, 1] in float32. A network fitted on
    pixels (``pixels_fit``) applies the same rule to X of any other dtype at prediction,
    so that the values given as float64 (after an imputer, pandas, ``astype``) are scaled
    as in fit. Other non-float X is cast to float64.
    """
    if pixel_input(X):
        return X.astype(np.float32) * np.float32(PIXEL_SCALE)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if pixels_fit:
        X = X * X.dtype.type(PIXEL_SCALE)
    return X


def check_input_scale(X, pixels_fit, fit_absmax, name="X"):
    """Warn when X at prediction is on another scale than the training input (both rules
    of :func:`to_float_input` misapplied by the caller). ``X`` is as given, before the
    rule; ``fit_absmax`` the largest |value| of the training input after it."""
    if X.size == 0 or X.dtype.kind not in "fiub":
        return
    if pixels_fit and not pixel_input(X):
        top = float(np.max(np.abs(X)))
        if 0 < top <= 1.0 and fit_absmax is not None and fit_absmax > PIXEL_SCALE:
            warnings.warn(f"The network was fitted on uint8 pixels (0-255, divided by 255), "
                          f"but {name} (dtype {X.dtype}) holds values up to {top:.4g}: it "
                          f"looks already scaled to [0, 1] and is divided by 255 again. Pass "
                          f"pixel values on the 0-255 scale of fit (any dtype).",
                          UserWarning, stacklevel=3)
    elif not pixels_fit and pixel_input(X) and fit_absmax is not None and fit_absmax > 2.0:
        warnings.warn(f"{name} is uint8, taken as pixels and divided by 255, but the network "
                      f"was fitted on unscaled inputs (up to {fit_absmax:.4g}); pass {name} "
                      "on the scale of fit (e.g. as float) or refit on uint8 pixels.",
                      UserWarning, stacklevel=3)


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


def _row_losses(loss, scores, y):
    """The loss of each row (every loss is a mean of per-row terms), for weighted means;
    called before the batch's forward (the generic form runs forward row by row)."""
    return loss.sample_losses(scores, y)


def _check_sample_weight(sample_weight, n):
    w = np.asarray(sample_weight)
    if w.ndim == 0:
        w = np.full(n, w)
    if w.dtype.kind not in "fiub" or w.shape != (n,):
        raise ValueError(f"sample_weight must hold one number per sample, shape ({n},), "
                         f"got {'dtype ' + str(w.dtype) if w.dtype.kind not in 'fiub' else 'shape ' + str(w.shape)}.")
    w = w.astype(np.float64)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("sample_weight must be finite and non-negative.")
    return w


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
    n_jobs : threads; None uses every usable core.
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
        self._pixels = None      # the input rule, fixed by the first training call
        self._fit_absmax = None  # the largest |X| of that call, after the rule

    # -- set-up ------------------------------------------------------------------------
    def _check_xy(self, X, y, sample_weight=None, names=("X", "y")):
        xn, yn = names
        X = np.asarray(X)
        if X.ndim < 2 or X.shape[0] == 0:
            raise ValueError(f"{xn} must be a non-empty array of shape (n_samples, ...), got "
                             f"shape {X.shape}.")
        first = self._pixels is None
        pixels = pixel_input(X) if first else self._pixels
        X = to_float_input(X, pixels)
        if first and xn == "X":
            self._pixels = pixels
            top = float(np.max(np.abs(X))) if X.size else 0.0
            self._fit_absmax = top if np.isfinite(top) else None
        if y is None:
            raise ValueError(f"{xn} is given without {yn}: pass both (the targets of the "
                             f"rows of {xn}).")
        y = np.asarray(y)
        if y.ndim == 0 or y.shape[0] != X.shape[0]:
            raise ValueError(f"{xn} has {X.shape[0]} samples but {yn} has "
                             f"{y.shape[0] if y.ndim else 'none (a scalar)'}.")
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X.shape[0])
            if not sample_weight.sum() > 0:
                raise ValueError("sample_weight is zero for every training row; give some "
                                 "rows a positive weight.")
        return X, y, sample_weight

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

    def _snapshot(self):
        """What a training call changes, to undo a call that fails: the weights and
        buffers, the optimiser's state, the schedule, the random streams, the history."""
        params = self.model.parameters()
        memo = {id(p): p for p in params}  # the optimiser keeps the model's parameters
        return {
            "state": self.model.state_dict(),
            "optimizer": copy.deepcopy(self.optimizer_, memo),
            "schedule": copy.deepcopy(self.lr_schedule),
            "rng": copy.deepcopy(self.rng.bit_generator.state),
            "dropout": [(r, copy.deepcopy(r.bit_generator.state))
                        for _, r in _dropout_rngs(self.model)],
            "n_history": len(self.history_),
            "epochs_done": self.epochs_done_,
            "first_loss": self._first_loss,
        }

    def _restore(self, snap):
        self.model.load_state_dict(snap["state"])
        self.optimizer_ = snap["optimizer"]
        self.lr_schedule = snap["schedule"]
        self.rng.bit_generator.state = snap["rng"]
        for r, st in snap["dropout"]:
            r.bit_generator.state = st
        del self.history_[snap["n_history"]:]
        self.epochs_done_ = snap["epochs_done"]
        self._first_loss = snap["first_loss"]
        self.model.clear_cache()

    def _check_rows(self, n_train):
        if n_train < 2 and any(getattr(m, "needs_batch_statistics", False)
                               for m in self.model.modules()):
            raise ValueError(
                f"Only {n_train} training row remains (after holding out "
                f"validation_fraction={self.validation_fraction}), and BatchNorm needs at "
                "least two rows per batch; pass more rows or validation_fraction=0.")

    # -- one epoch ---------------------------------------------------------------------
    def _divergence_hint(self):
        """The likely cause of a diverging run, and what to change."""
        lr = self.optimizer_.learning_rate
        wd = self.weight_decay
        sgd = not hasattr(self.optimizer_, "beta1")
        # with SGD the weight-decay term alone multiplies the weights by (1 - lr wd) per
        # step (the heavy ball: stable while lr wd < 2 (1 + momentum)): beyond, it grows
        limit = 2.0 * (1.0 + (self.momentum if sgd else 0.0))
        # (a weight decay below 1 is blamed only if the learning rate is not)
        if wd and (wd >= 1.0 and lr * wd >= limit if sgd else wd >= 1e3):
            return (f"weight_decay={wd:g} is too large for learning_rate={lr:g} (their "
                    f"product {lr * wd:.3g} makes the decay step overshoot); lower "
                    "weight_decay (usual values are 1e-5 to 1e-2)")
        return (f"lower learning_rate (now {lr:g}) or scale X (e.g. pixels / 255)")

    def _train_epoch(self, X, y, sample_weight=None, bar=None):
        model, loss, opt = self.model, self.loss, self.optimizer_
        params = opt.params
        wd, l1 = self.weight_decay, self.l1
        classify = y.ndim == 1 and y.dtype.kind in "iu"
        total, correct, seen = 0.0, 0.0, 0.0
        for idx in _batches(self.rng.permutation(len(X)), self.batch_size):
            xb, yb = X[idx], y[idx]
            if self.augment is not None:
                xb = self.augment.apply(xb, self.rng, self.n_threads)
            scores = model.forward(xb, training=True)
            wb = None
            if sample_weight is not None:
                wb = sample_weight[idx]
                wsum = float(wb.sum())
                if wsum <= 0:  # a batch of zero weights teaches nothing
                    model.clear_cache()
                    continue
                lval = float(np.dot(wb, _row_losses(loss, scores, yb))) / wsum
            lmean = loss.forward(scores, yb)
            if wb is None:
                lval = lmean
            if not np.isfinite(lval):
                raise FloatingPointError(
                    f"The training loss became {lval} at epoch {self.epochs_done_ + 1}; "
                    f"{self._divergence_hint()}.")
            if self._first_loss is None:
                self._first_loss = lval
            elif lval > DIVERGENCE_FACTOR * max(self._first_loss, 1.0):
                raise FloatingPointError(
                    f"Training diverged: the batch loss rose from {self._first_loss:.4g} "
                    f"(first batch) to {lval:.4g} at epoch {self.epochs_done_ + 1}; "
                    f"{self._divergence_hint()}.")
            grad = loss.backward()
            if wb is not None:
                # the gradient of the weighted mean: each row's share of the plain mean's
                # gradient (1/n) becomes w_i / sum(w)
                scale = (wb * (len(idx) / wsum)).astype(grad.dtype)
                grad = grad * scale.reshape((-1,) + (1,) * (grad.ndim - 1))
            model.backward(grad)
            if wd or l1:
                for p in params:
                    if p.regularize:
                        if wd:
                            p.grad = p.grad + p.value.dtype.type(wd) * p.value
                        if l1:
                            p.grad = p.grad + p.value.dtype.type(l1) * np.sign(p.value)
            opt.step()
            w_rows = len(idx) if wb is None else wsum
            total += lval * w_rows
            seen += w_rows
            if classify:
                hit = scores.argmax(axis=1) == yb
                correct += float(np.count_nonzero(hit) if wb is None else np.dot(wb, hit))
            if bar is not None:
                bar.update(len(idx))
                bar.set_postfix(loss=f"{total / max(seen, 1e-300):.4f}", refresh=False)
        if seen == 0:
            return None, None
        return total / seen, (correct / seen if classify else None)

    def _blas_threads(self):
        return 1 if has_image_layers(self.model) else self.n_threads

    def predict_scores(self, X, batch_size=1024):
        """The model's raw outputs for X in inference mode, in batches.

        X goes through the input rule of the training data: uint8 pixels are divided by
        255, and so is X of any dtype when the model was trained on uint8 pixels (a
        warning says when X looks scaled differently from the training input). 0 rows
        give an empty array of the output's shape."""
        Xr = np.asarray(X)
        if Xr.ndim < 2:
            raise ValueError(f"X must be an array of shape (n_samples, ...), got shape "
                             f"{Xr.shape}.")
        pixels = bool(self._pixels)
        check_input_scale(Xr, pixels, self._fit_absmax)
        self.model._check_built()
        return self._scores(np.ascontiguousarray(to_float_input(Xr, pixels),
                                                 dtype=self.model.dtype), batch_size)

    def _scores(self, X, batch_size=1024):
        """predict_scores on X already under the input rule, in the model's dtype."""
        if X.shape[0] == 0:
            return np.empty((0,) + tuple(self.model.output_shape), dtype=self.model.dtype)
        self.model.set_n_threads(self.n_threads)
        out = []
        with blas_threads(self._blas_threads()):
            for s in range(0, len(X), batch_size):
                out.append(self.model.forward(X[s:s + batch_size], training=False))
        return np.concatenate(out)

    def evaluate(self, X, y, sample_weight=None):
        """(mean loss, accuracy) on (X, y) in inference mode (X under the input rule of
        :meth:`predict_scores`); weighted means with ``sample_weight``."""
        y = np.asarray(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, len(y))
        return self._evaluate(self.predict_scores(X), y, sample_weight)

    def _evaluate(self, scores, y, sample_weight=None):
        if sample_weight is None:
            lval = self.loss.forward(scores, y)
        else:
            lval = float(np.dot(sample_weight, _row_losses(self.loss, scores, y))
                         / sample_weight.sum())
        acc = None
        if y.ndim == 1 and y.dtype.kind in "iu":
            hit = scores.argmax(axis=1) == y
            acc = float(np.mean(hit) if sample_weight is None
                        else np.dot(sample_weight, hit) / sample_weight.sum())
        return lval, acc

    # -- loops ---------------------------------------------------------------------------
    def fit(self, X, y, X_valid=None, y_valid=None, sample_weight=None):
        """Train for ``epochs`` epochs (fewer if early stopping ends it); returns self.

        A validation set is held out of X when ``validation_fraction`` > 0 and no
        ``X_valid`` is given (``X_valid`` and ``y_valid`` go together). ``sample_weight``
        (one non-negative weight per row of X) weighs each row's loss: the loss is the
        weighted mean, and the held-out rows keep their weights for the validation
        scores. Calling fit again continues from the current weights and optimiser state
        and appends to ``history_`` (build a new model to start over). A call that raises
        (divergence, a callback's error, Ctrl-C) leaves the trainer and the model as
        they were before it."""
        before = self._call_state()
        try:
            if (X_valid is None) != (y_valid is None):
                given, missing = (("X_valid", "y_valid") if y_valid is None
                                  else ("y_valid", "X_valid"))
                raise ValueError(f"{given} is given without {missing}: pass both for a "
                                 "validation set of your own, or neither (then "
                                 "validation_fraction of X is held out).")
            X, y, sw = self._check_xy(X, y, sample_weight)
            if not any(getattr(m, "scales_input", False)
                       for m in self.model.modules()[:2]):
                warn_if_unscaled(X)
            X = self._setup(X)
            sw_valid = None
            if X_valid is None and self.validation_fraction > 0:
                n_val = int(round(self.validation_fraction * len(X)))
                if 0 < n_val < len(X):
                    perm = self.rng.permutation(len(X))
                    X_valid, y_valid = X[perm[:n_val]], y[perm[:n_val]]
                    X, y = X[perm[n_val:]], y[perm[n_val:]]
                    if sw is not None:
                        sw, sw_valid = sw[perm[n_val:]], sw[perm[:n_val]]
                        if sw_valid.sum() <= 0:
                            sw_valid = None
            elif X_valid is not None:
                X_valid, y_valid, _ = self._check_xy(X_valid, y_valid,
                                                     names=("X_valid", "y_valid"))
                if X_valid.shape[1:] != X.shape[1:]:
                    raise ValueError(f"X_valid has per-sample shape {X_valid.shape[1:]}, "
                                     f"but X has {X.shape[1:]}.")
                X_valid = np.ascontiguousarray(X_valid, dtype=self.model.dtype)
        except BaseException:
            self._undo_call(before)
            raise
        return self._guarded_run(before, X, y, X_valid, y_valid, self.epochs,
                                 self.early_stopping, sw, sw_valid)

    def partial_fit(self, X, y, epochs=1, sample_weight=None):
        """``epochs`` more epochs on (X, y), continuing the optimiser's state; no
        validation split and no early stopping. A call that raises leaves the trainer
        and the model as they were before it."""
        before = self._call_state()
        try:
            X, y, sw = self._check_xy(X, y, sample_weight)
            X = self._setup(X)
        except BaseException:
            self._undo_call(before)
            raise
        return self._guarded_run(before, X, y, None, None, epochs, False, sw, None)

    def _guarded_run(self, before, *args):
        snap = self._snapshot()
        try:
            return self._run(*args)
        except BaseException:
            self._restore(snap)
            self._undo_call(before)
            raise

    def _call_state(self):
        """What a training call changes before its first epoch (see _undo_call)."""
        return self._pixels, self._fit_absmax, copy.deepcopy(self.rng.bit_generator.state)

    def _undo_call(self, before):
        self._pixels, self._fit_absmax, rng_state = before
        self.rng.bit_generator.state = rng_state

    def _run(self, X, y, X_valid, y_valid, epochs, early_stopping, sample_weight=None,
             sw_valid=None):
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
                        tl, ta = self._train_epoch(X, y, sample_weight, bar)
                    finally:
                        if bar is not None:
                            bar.close()
                    dur = time.perf_counter() - t0
                    rec = {"epoch": epoch + 1, "train_loss": tl, "train_accuracy": ta,
                           "valid_loss": None, "valid_accuracy": None, "lr": lr,
                           "duration": dur}
                    if X_valid is not None:
                        rec["valid_loss"], rec["valid_accuracy"] = self._evaluate(
                            self._scores(X_valid), y_valid, sw_valid)
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
