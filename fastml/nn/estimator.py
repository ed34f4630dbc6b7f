"""NeuralNetClassifier and NeuralNetRegressor: small networks as scikit-learn
estimators, with skorch-style parameter routing (``module__*``, ``optimizer__*``,
``callbacks``)."""
import copy
import functools
import math
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (_check_sample_weight, check_is_fitted,
                                      validate_data)

from fastml.nn.augment import is_pixel_dtype
from fastml.nn.base import Layer
from fastml.nn.containers import Sequential, has_image_layers
from fastml.nn.dense import Dense, Flatten
from fastml.nn.losses import softmax
from fastml.nn.normalization import Standardize
from fastml.nn.models import lenet5, mlp, resnet_small
from fastml.nn import _params_io
from fastml.nn.trainer import PIXEL_SCALE, Trainer, check_input_scale, to_float_input
from fastml.utils.validation import as_numpy

__all__ = ["NeuralNetClassifier", "NeuralNetRegressor"]

#: prefixes of routed parameters (``optimizer__momentum=0.8``, ``module__widths=...``)
_ROUTED = ("module", "optimizer")
_OPTIMIZER_KEYS = {"momentum", "nesterov", "weight_decay", "l1", "beta1", "beta2", "eps"}
_BUILDERS = {"lenet5": lenet5, "mlp": mlp, "resnet_small": resnet_small}

_COMMON_PARAMS = """    layers : "auto", "lenet5", "mlp", "resnet_small" or list of fastml.nn layers, \
default="auto"
        The network body. The output layer, ``Dense(n_outputs)``, is added by ``fit``
        (after a ``Flatten``), so ``layers=[]`` is a linear model (softmax /
        logistic regression, linear regression) and ``[Dense(100), ReLU()]`` a
        one-hidden-layer MLP. ``"auto"`` picks from the input: LeNet-5 for images of
        at least 12x12 pixels (X of shape (n, C, H, W) or (n, H, W), or ``input_shape``
        giving (C, H, W)), otherwise (flat tabular X) a :class:`fastml.nn.Standardize`
        layer fitted on the training X (features scaled to mean 0, variance 1 inside the
        model) and an MLP with one hidden layer of 100 ReLU units. ``"lenet5"`` is
        :func:`fastml.nn.lenet5`, ``"mlp"`` :func:`fastml.nn.mlp`, ``"resnet_small"``
        :func:`fastml.nn.resnet_small`; ``module__<name>`` parameters go to those
        builders (e.g. ``module__hidden_layer_sizes=(256, 128)``). The layers given are
        copied, never modified.
    input_shape : tuple of int or None, default=None
        Per-sample shape (C, H, W) to reshape flat rows of X (n_samples, C*H*W) into. When
        None: X of shape (n, C, H, W) is used as is, (n, H, W) as one channel, and flat X
        as is for a dense-only network or as (1, s, s) square images for a network with
        convolutions or pooling.
    epochs : int or "auto", default="auto"
        Passes over the training data. "auto": enough epochs for about 1000 minibatch
        steps, between 10 and 100 (``ceil(1000 batch_size / n_train)`` clipped to
        [10, 100]).
    batch_size : int, default=64
        Rows per minibatch (a last batch of one row joins the previous one).
    optimizer : {"adam", "sgd", "nesterov"}, default="adam"
        ``optimizer__<name>`` parameters are routed to it: ``momentum`` (SGD, default
        0.9), ``nesterov``, ``beta1``, ``beta2``, ``eps`` (Adam), and the weight
        penalties applied with each step, ``weight_decay`` (L2, default 0) and ``l1``
        (default 0).
    learning_rate : float or None, default=None
        The step size; None: 1e-3 for Adam, 0.01 for SGD.
    loss : str or None, default=None
        The training loss; see below for the names each estimator takes.
    lr_schedule : None, "step", "cosine", "exponential", "inverse_time", "plateau" or \
callable, default=None
        The learning rate per epoch; a callable is ``(epoch, base_lr) -> lr``. None
        keeps ``learning_rate``.
    validation_fraction : float in [0, 1), default=0.1
        Held out of each ``fit`` to score ``history_``'s validation columns and for early
        stopping; 0 trains on everything.
    early_stopping : bool, default=False
        Shorthand for ``callbacks=[EarlyStopping()]`` (patience 5 on the validation loss,
        best weights restored).
    callbacks : list or None, default=None
        Objects with optional ``on_train_begin(trainer)``, ``on_epoch_end(trainer,
        record)`` and ``on_train_end(trainer)`` (e.g. :class:`fastml.nn.EarlyStopping`);
        copied at each fit.
    augment : None, "digits", "images", dict or ImageAugmenter, default=None
        Random shifts / rotations / scaling / flips of each training batch (images only,
        see :mod:`fastml.nn.augment`).
    random_state : None, int or RandomState, default=None
        Fixes the initial weights, the validation split, the shuffling, the dropout
        masks and the augmentation. With ``n_jobs=1`` two fits give bit-identical
        networks; with more threads the convolution weight gradients are summed in a
        varying order, so results agree only up to rounding.
    verbose : {0, 1}, default=0
        1: a tqdm progress bar when attached to a terminal, and one line per epoch.
    n_jobs : int or None, default=None
        Threads of the compiled layers and of BLAS; None uses every usable core.
    **kwargs : dict
        Routed parameters ``module__*`` and ``optimizer__*`` (see above).
"""

_COMMON_NOTES = """    X of dtype uint8 is taken as pixel intensities and divided by 255. The rule is
    fixed at ``fit``: a network fitted on uint8 pixels divides X of any dtype by 255 at
    prediction (the same pixels given as float64, after an imputer or ``astype``,
    predict the same), with a warning when X then looks already scaled to [0, 1] (or,
    for a network fitted on unscaled floats, when uint8 X arrives). float32 X trains and
    predicts in float32 (about twice as fast as float64), anything else in float64.
    Inputs far from unit scale (|X| > 100) draw a warning before training.

    A ``fit`` or ``partial_fit`` that raises (training diverged, a callback failed,
    Ctrl-C) leaves the estimator as it was before the call: unfitted, or the previous
    fit with its weights, ``history_`` and ``n_iter_``.
"""


def _undo_on_error(method):
    """A fit / partial_fit that raises (divergence, a callback's error, Ctrl-C) leaves the
    estimator as it was before the call: unfitted if it was, else the previous fit."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        saved = dict(self.__dict__)
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise
    return wrapper


class _NeuralNetBase(BaseEstimator):
    _default_loss = None

    def __init__(self, layers="auto", input_shape=None, epochs="auto", batch_size=64,
                 optimizer="adam", learning_rate=None, loss=None, lr_schedule=None,
                 validation_fraction=0.1, early_stopping=False, callbacks=None,
                 augment=None, random_state=None, verbose=0, n_jobs=None, **kwargs):
        self.layers = layers
        self.input_shape = input_shape
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.loss = loss
        self.lr_schedule = lr_schedule
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.callbacks = callbacks
        self.augment = augment
        self.random_state = random_state
        self.verbose = verbose
        self.n_jobs = n_jobs
        for k, v in kwargs.items():  # routed parameters; checked in fit
            setattr(self, k, v)

    # -- routed parameters (skorch style) ----------------------------------------------
    def _routed(self, prefix):
        return {k[len(prefix) + 2:]: v for k, v in self.__dict__.items()
                if k.startswith(prefix + "__")}

    def get_params(self, deep=True):
        params = super().get_params(deep)
        params.update({k: v for k, v in self.__dict__.items()
                       if "__" in k and k.split("__")[0] in _ROUTED})
        return params

    def set_params(self, **params):
        known = set(self._get_param_names())
        routed = {k: v for k, v in params.items() if k not in known and "__" not in k
                  or "__" in k and k.split("__")[0] in _ROUTED}
        for k, v in routed.items():
            setattr(self, k, v)
        rest = {k: v for k, v in params.items() if k not in routed}
        return super().set_params(**rest) if rest else self

    # -- helpers -------------------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    def _body(self):
        layers = self.layers
        names = ["auto"] + sorted(_BUILDERS)
        if isinstance(layers, str):
            if layers not in names:
                raise ValueError(f"layers must be one of {names} or a list of fastml.nn "
                                 f"layers, got {layers!r}.")
            return layers
        if isinstance(layers, Sequential):
            layers = layers.layers
        if not isinstance(layers, (list, tuple)):
            raise TypeError(f"layers must be one of {names} or a list of fastml.nn layers, "
                            f"got {type(layers).__name__}.")
        for i, la in enumerate(layers):
            if not isinstance(la, Layer):
                raise TypeError(f"layers[{i}] must be a fastml.nn layer, got "
                                f"{type(la).__name__}.")
        return list(layers)

    def _needs_images(self, body):
        return body in ("lenet5", "resnet_small") or (
            isinstance(body, list) and any(has_image_layers(la) for la in body))

    def _resolve_body(self, body, shape):
        """"auto" -> "lenet5" for images of at least 12x12 pixels, "mlp" otherwise."""
        if body != "auto":
            return body
        if len(shape) == 3 and min(shape[1:]) >= 12:
            return "lenet5"
        return "mlp"

    def _check_input_shape(self):
        s = self.input_shape
        if s is None:
            return None
        if isinstance(s, numbers.Integral) and not isinstance(s, bool):
            s = (s,)
        if not isinstance(s, (tuple, list)) or not s or not all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0
                for v in s):
            raise ValueError(f"input_shape must be None or a tuple of positive ints such "
                             f"as (1, 28, 28), got {self.input_shape!r}.")
        return tuple(int(v) for v in s)

    def _sample_shape(self, X, body):
        """The per-sample shape the network sees, from X and input_shape (fit only)."""
        shape = self._check_input_shape()
        n_values = int(np.prod(X.shape[1:]))
        if shape is not None:
            if int(np.prod(shape)) != n_values:
                raise ValueError(
                    f"input_shape {shape} holds {int(np.prod(shape))} values per sample, but "
                    f"X has {n_values} (X.shape = {X.shape}); input_shape must multiply out "
                    "to the number of features.")
            return shape
        if X.ndim == 4:
            return X.shape[1:]
        if X.ndim == 3:
            return (1,) + X.shape[1:]
        if X.ndim > 4:
            raise ValueError(f"X must be 2-D (n, features), 3-D (n, H, W) or 4-D "
                             f"(n, C, H, W), got shape {X.shape}.")
        if self._needs_images(body):
            s = math.isqrt(n_values)
            if s * s != n_values:
                raise ValueError(
                    f"X has {n_values} features per row, which is not a square image, and the "
                    "network has convolution/pooling layers; pass input_shape=(C, H, W) "
                    "(e.g. (1, 28, 28) for MNIST) or X of shape (n, C, H, W).")
            return (1, s, s)
        return (n_values,)

    def _validate_X(self, X, reset, y=None, **extra):
        """validate_data under the input rule fixed at fit: uint8 X holds pixels and is
        divided by 255; a network fitted on pixels divides X of any dtype by 255 (so the
        same pixels given as float64 predict the same), with a warning when X looks
        scaled otherwise than the training input."""
        given = X = as_numpy(X)  # a torch tensor's dtype is not numpy's
        pixels_now = is_pixel_dtype(getattr(X, "dtype", np.float64))
        if pixels_now:
            X = to_float_input(np.asarray(X))
        kw = dict(accept_sparse=False, dtype=[np.float64, np.float32], allow_nd=True,
                  ensure_all_finite=True, order="C", reset=reset, **extra)
        if y is None and not extra:
            X = validate_data(self, X, **kw)
        else:
            X, y = validate_data(self, X, y, **kw)
        if reset:
            self._pixels = pixels_now
            top = float(np.max(np.abs(X))) if X.size else 0.0
            self._fit_absmax = top
        else:
            pixels_fit = getattr(self, "_pixels", False)
            check_input_scale(np.asarray(given) if pixels_now else X, pixels_fit,
                              getattr(self, "_fit_absmax", None))
            if pixels_fit and not pixels_now:
                X = X * X.dtype.type(PIXEL_SCALE)
        return X, y

    def _reshape(self, X):
        """X (as validated) -> (n,) + input_shape_; X must have the layout seen in fit."""
        if X.shape[1:] != self._x_sample_shape:
            raise ValueError(f"X has per-sample shape {X.shape[1:]}, but "
                             f"{type(self).__name__} was fitted on samples of shape "
                             f"{self._x_sample_shape}.")
        return X.reshape((X.shape[0],) + self.input_shape_)

    def _make_model(self, body, n_outputs):
        kwargs = self._routed("module")
        if isinstance(body, str):
            builder = _BUILDERS[body]
            if body in ("lenet5", "resnet_small"):
                if len(self.input_shape_) != 3:
                    raise ValueError(f"layers={body!r} needs images; pass input_shape=(C, "
                                     f"H, W) for flat X (got per-sample shape "
                                     f"{self.input_shape_}).")
                kwargs.setdefault("in_channels", self.input_shape_[0])
            if body == "lenet5":
                kwargs.setdefault("input_shape", None)
            try:
                return builder(n_classes=n_outputs, **kwargs)
            except TypeError as exc:
                raise TypeError(f"module__ parameters for {body!r}: {exc}.") from None
        if kwargs:
            raise ValueError(f"module__ parameters {sorted(kwargs)} apply to the named "
                             f"builders ({sorted(_BUILDERS)}), not to a list of layers.")
        return Sequential(*copy.deepcopy(body), Flatten(), Dense(n_outputs))

    def _check_extra_params(self):
        known = set(self._get_param_names())
        for k in vars(self):
            if k in known or k.startswith("_") or k.endswith("_"):
                continue
            if "__" not in k or k.split("__")[0] not in _ROUTED:
                raise TypeError(f"{type(self).__name__} got an unexpected parameter {k!r}; "
                                f"routed parameters start with "
                                f"{', '.join(p + '__' for p in _ROUTED)}.")

    def _network(self, n_outputs, dtype, rng):
        """The network for ``input_shape_``, built (initialised from ``rng``)."""
        body = self._body()
        auto = isinstance(body, str) and body == "auto"
        body = self._resolve_body(body, self.input_shape_)
        model = self._make_model(body, n_outputs)
        if auto and body == "mlp":
            model = Sequential(Standardize(), *model.layers)
        model.build(self.input_shape_, dtype, rng)
        return model

    def _build(self, X, n_outputs):
        self._check_extra_params()
        self.input_shape_ = tuple(self._sample_shape(X, self._body()))
        self._x_sample_shape = X.shape[1:]
        seed = check_random_state(self.random_state).randint(2**31 - 1)
        rng = np.random.default_rng(seed)
        model = self._network(n_outputs, X.dtype, rng)
        if isinstance(model[0], Standardize):
            model[0].adapt(X.reshape((len(X),) + self.input_shape_))
        self._start_training(model, len(X), rng)

    def _start_training(self, model, n_train, rng=None):
        """model_ and the Trainer that trains it (and predicts)."""
        if rng is None:
            rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31 - 1))
        self.model_ = model
        opt = self._routed("optimizer")
        unknown = set(opt) - _OPTIMIZER_KEYS
        if unknown:
            raise ValueError(f"unknown optimizer__ parameters {sorted(unknown)}; known: "
                             f"{sorted(_OPTIMIZER_KEYS)}.")
        lr = self.learning_rate
        if lr is None:
            lr = 1e-3 if self.optimizer == "adam" else 0.01
        callbacks = copy.deepcopy(list(self.callbacks)) if self.callbacks is not None else []
        self._trainer = Trainer(
            model, loss=self._loss_name(), optimizer=self.optimizer, learning_rate=lr,
            momentum=opt.pop("momentum", 0.9), weight_decay=opt.pop("weight_decay", 0.0),
            l1=opt.pop("l1", 0.0), optimizer_params=opt, epochs=self._epochs(n_train),
            batch_size=self.batch_size, validation_fraction=self.validation_fraction,
            early_stopping=self.early_stopping, lr_schedule=copy.deepcopy(self.lr_schedule),
            random_state=rng, verbose=self.verbose, n_jobs=self.n_jobs, callbacks=callbacks,
            augment=self.augment)
        self.history_ = self._trainer.history_

    def _epochs(self, n):
        e = self.epochs
        if isinstance(e, str) and e == "auto":
            vf = self.validation_fraction
            frac = 1 - vf if isinstance(vf, numbers.Real) and 0 <= vf < 1 else 1.0
            bs = self.batch_size if isinstance(self.batch_size, numbers.Integral) else 64
            return int(min(100, max(10, math.ceil(1000 * bs / max(1, n * frac)))))
        return e

    def _loss_name(self):
        return self._default_loss if self.loss is None else self.loss

    def _raw(self, X):
        check_is_fitted(self)
        X, _ = self._validate_X(X, False)
        return self._trainer.predict_scores(self._reshape(X))

    def _sample_weight(self, sample_weight, X):
        if sample_weight is None:
            return None
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                  ensure_non_negative=True)
        if not np.any(sw > 0):
            raise ValueError("sample_weight is zero for every sample; give some samples a "
                             "positive weight.")
        return sw

    # -- saving and loading the weights -------------------------------------------------
    def _io_meta(self):
        meta = {"estimator": type(self).__name__,
                "input_shape_": list(self.input_shape_),
                "x_sample_shape": list(self._x_sample_shape),
                "n_features_in_": int(self.n_features_in_),
                "dtype": np.dtype(self.model_.dtype).name,
                "pixels": bool(self._pixels), "fit_absmax": self._fit_absmax,
                "n_iter_": int(self.n_iter_), "history_": self.history_}
        meta.update(self._io_meta_extra())
        return meta

    def save_params(self, path):
        """Save the fitted network's weights and buffers (no pickle) to ``path``.

        Parameters
        ----------
        path : str or path-like
            A file name ending in ``.safetensors`` (the safetensors format, read by
            ``safetensors.torch.load_file`` and every framework that reads safetensors)
            or ``.npz`` (``numpy.load``). The arrays are named as in
            ``model_.state_dict()`` (e.g. ``"0.W"``, ``"0.b"``); what ``load_params``
            needs to rebuild the estimator (classes, input shape, history) is stored
            as JSON beside them (the safetensors metadata, or the ``__metadata__``
            entry of the ``.npz``). The optimiser's state is not saved.

        Returns
        -------
        self : object

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> from fastml.nn import NeuralNetClassifier
        >>> X = np.random.default_rng(0).normal(size=(40, 3))
        >>> y = (X[:, 0] > 0).astype(int)
        >>> clf = NeuralNetClassifier(epochs=2, random_state=0).fit(X, y)
        >>> path = os.path.join(tempfile.mkdtemp(), "net.safetensors")
        >>> _ = clf.save_params(path)
        >>> clone = NeuralNetClassifier().load_params(path)
        >>> bool((clone.predict(X) == clf.predict(X)).all())
        True
        """
        check_is_fitted(self)
        _params_io.save(path, self.model_.state_dict(), self._io_meta())
        return self

    def load_params(self, path):
        """Load weights saved by :meth:`save_params` and make the estimator ready to
        predict (or to continue training with ``partial_fit``).

        The estimator must have the architecture parameters of the one that saved them
        (``layers``, ``input_shape``, ``loss``, ``module__*``): the network is built from
        those parameters and the stored shapes, then every array is loaded (names and
        shapes must match exactly).

        Parameters
        ----------
        path : str or path-like
            A ``.safetensors`` or ``.npz`` file written by :meth:`save_params`.

        Returns
        -------
        self : object
        """
        state, meta = _params_io.load(path)
        if meta.get("estimator") != type(self).__name__:
            raise ValueError(f"{path} holds the weights of a {meta.get('estimator')!r}, "
                             f"not of a {type(self).__name__}.")
        try:
            n_outputs = self._io_restore(meta)
            self._check_extra_params()
            self.input_shape_ = tuple(meta["input_shape_"])
            self._x_sample_shape = tuple(meta["x_sample_shape"])
            self.n_features_in_ = int(meta["n_features_in_"])
            dtype = np.dtype(meta["dtype"])
            self._pixels = bool(meta["pixels"])
            self._fit_absmax = meta["fit_absmax"]
            model = self._network(n_outputs, dtype, np.random.default_rng(0))
            model.load_state_dict(state)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: the saved parameters do not fit this estimator "
                             f"({exc}); build it with the parameters of the one that saved "
                             "them.") from None
        self._start_training(model, 0)
        self._trainer.history_.extend(meta.get("history_") or [])
        self._trainer.epochs_done_ = int(meta.get("n_iter_", 0))
        self._trainer._pixels = False  # X reaches the trainer already scaled
        self.n_iter_ = self._trainer.epochs_done_
        return self

    def plot_history(self, ax=None):
        """Learning curves: loss and accuracy per epoch, train and validation.

        Needs matplotlib (``pip install matplotlib`` or ``fastml[plot]``).

        Parameters
        ----------
        ax : pair of matplotlib Axes or None, default=None
            Where to draw; None: a new figure with two Axes.

        Returns
        -------
        ax : pair of matplotlib Axes
        """
        check_is_fitted(self)
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("plot_history needs matplotlib, an optional dependency of "
                              "fastml: pip install matplotlib (or pip install "
                              "'fastml[plot]').") from None
        if ax is None:
            _, ax = plt.subplots(1, 2, figsize=(10, 4))
        h = self.history_
        ep = [r["epoch"] for r in h]
        for a, key, label in ((ax[0], "loss", "loss"), (ax[1], "accuracy", "accuracy")):
            if key == "accuracy" and all(r["train_accuracy"] is None for r in h):
                continue
            a.plot(ep, [r["train_" + key] for r in h], "o-", label="train")
            if any(r["valid_" + key] is not None for r in h):
                a.plot(ep, [r["valid_" + key] for r in h], "s-", label="validation")
            a.set_xlabel("epoch")
            a.set_ylabel(label)
            a.legend()
        ax[0].set_title("Loss")
        ax[1].set_title("Accuracy")
        return ax


class NeuralNetClassifier(ClassifierMixin, _NeuralNetBase):
    """A feed-forward network trained by minibatch Adam (or SGD) on softmax
    cross-entropy, as a scikit-learn classifier.

    Parameters
    ----------
%COMMON%    loss : {"cross_entropy", "hinge", "binary_cross_entropy", "mse"} or None, \
default=None
        None: cross-entropy. "binary_cross_entropy" (two classes only) gives the network
        ONE output, a logit for ``classes_[1]`` (sigmoid + binary cross-entropy:
        logistic regression with ``layers=[]``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in fit.
    model_ : fastml.nn.Sequential
        The trained network.
    history_ : list of dict
        One record per epoch: ``epoch``, ``train_loss``, ``train_accuracy``,
        ``valid_loss``, ``valid_accuracy`` (None without a validation set), ``lr``,
        ``duration``.
    input_shape_ : tuple of int
        The per-sample shape the network sees.
    n_features_in_ : int
        Features (values per sample) seen in fit.
    n_iter_ : int
        Epochs run (``len(history_)``; ``partial_fit`` adds one per call).

    Notes
    -----
%NOTES%
    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastml.nn import NeuralNetClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = NeuralNetClassifier(epochs=10, random_state=0).fit(X[:1000], y[:1000])
    >>> clf.predict(X[1000:1003]).shape
    (3,)
    >>> bool(clf.score(X[1000:], y[1000:]) > 0.85)
    True
    """

    _default_loss = "cross_entropy"

    def _encode(self, y, classes=None):
        check_classification_targets(y)
        if classes is None:
            classes, y_enc = np.unique(y, return_inverse=True)
        else:
            classes = np.asarray(classes)
            y_enc = np.searchsorted(classes, y)
            y_enc = np.clip(y_enc, 0, len(classes) - 1)
            unknown = classes[y_enc] != y
            if np.any(unknown):
                raise ValueError(f"y holds labels {np.unique(np.asarray(y)[unknown])[:5]} "
                                 f"that are not in classes {classes}.")
        if len(classes) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least two classes, "
                             f"but y has only 1 class: {classes[0]!r}.")
        return classes, y_enc.astype(np.int64)

    def _n_outputs(self):
        if self._loss_name() == "binary_cross_entropy":
            if len(self.classes_) != 2:
                raise ValueError(f'loss="binary_cross_entropy" needs exactly two classes, '
                                 f"got {len(self.classes_)}; use loss=\"cross_entropy\".")
            return 1
        return len(self.classes_)

    # -- API -------------------------------------------------------------------------------
    @_undo_on_error
    def fit(self, X, y, sample_weight=None):
        """Initialise the network and train it for ``epochs`` epochs.

        Parameters
        ----------
        %FIT_X%
        y : array-like of shape (n_samples,)
            Class labels (at least two classes).
        %SAMPLE_WEIGHT%

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X, y = self._validate_X(X, True, y)
        sw = self._sample_weight(sample_weight, X)
        self.classes_, y_enc = self._encode(y)
        self._build(X, self._n_outputs())
        self._trainer.fit(self._reshape(X), y_enc, sample_weight=sw)
        self.n_iter_ = self._trainer.epochs_done_
        return self

    @_undo_on_error
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over (X, y), continuing the weights and the optimiser's state (no
        validation split, no early stopping).

        Parameters
        ----------
        %PARTIAL_X%
        y : array-like of shape (n_samples,)
            Class labels.
        classes : array-like of shape (n_classes,), default=None
            Every label, required on the first call when y does not hold them all;
            later calls may repeat it (it must not change).
        %SAMPLE_WEIGHT%

        Returns
        -------
        self : object
        """
        first = not hasattr(self, "model_")
        X, y = self._validate_X(X, first, y)
        sw = self._sample_weight(sample_weight, X)
        if first:
            if classes is not None:
                classes = np.unique(np.asarray(classes))
            self.classes_, y_enc = self._encode(y, classes)
            self._build(X, self._n_outputs())
        else:
            check_classification_targets(y)
            if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(f"classes={classes!r} differs from the classes of the first "
                                 f"partial_fit call, {self.classes_}.")
            y_enc = np.clip(np.searchsorted(self.classes_, y), 0, len(self.classes_) - 1)
            if not np.all(self.classes_[y_enc] == y):
                raise ValueError(f"y holds labels that are not in classes_ {self.classes_}.")
            y_enc = y_enc.astype(np.int64)
        self._trainer.partial_fit(self._reshape(X), y_enc, sample_weight=sw)
        self.n_iter_ = self._trainer.epochs_done_
        return self

    def _io_meta_extra(self):
        classes = self.classes_.tolist()
        return {"classes_": classes, "classes_dtype": self.classes_.dtype.str}

    def _io_restore(self, meta):
        self.classes_ = np.asarray(meta["classes_"], dtype=np.dtype(meta["classes_dtype"]))
        return self._n_outputs()

    def _scores(self, X):
        s = self._raw(X)
        if s.shape[1] == 1:  # one logit (binary cross-entropy): scores (-z/2, z/2)
            half = s[:, 0] / 2
            s = np.stack([-half, half], axis=1)
        return s

    def decision_function(self, X):
        """The network's class scores (logits).

        Parameters
        ----------
        %PREDICT_X%

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), or (n_samples,) for two classes
            For two classes, scikit-learn's convention: the score of ``classes_[1]``
            minus that of ``classes_[0]`` (positive means ``classes_[1]``).
        """
        s = self._scores(X)
        return s[:, 1] - s[:, 0] if s.shape[1] == 2 else s

    def predict_proba(self, X):
        """Class probabilities: the softmax of the class scores (the sigmoid of the logit
        for one output).

        Parameters
        ----------
        %PREDICT_X%

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; rows sum to 1.
        """
        return softmax(self._scores(X))

    def predict_log_proba(self, X):
        """The logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        %PREDICT_X%

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """The class of largest score for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples, of the per-sample shape seen in fit (uint8 pixels, or any dtype
            for a network fitted on pixels, are divided by 255 as in fit).

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        scores = self._scores(X)
        return self.classes_[np.argmax(scores, axis=1)]


class NeuralNetRegressor(RegressorMixin, _NeuralNetBase):
    """A feed-forward network trained by minibatch Adam (or SGD) on a regression loss,
    as a scikit-learn regressor (one output per target column).

    Parameters
    ----------
%COMMON%    loss : {"mse", "l1", "huber"} or None, default=None
        None: mean squared error.

    Attributes
    ----------
    model_ : fastml.nn.Sequential
        The trained network.
    history_ : list of dict
        One record per epoch (train / valid loss, lr, duration).
    input_shape_ : tuple of int
        The per-sample shape the network sees.
    n_features_in_ : int
        Features (values per sample) seen in fit.
    n_outputs_ : int
        Target columns.
    n_iter_ : int
        Epochs run (``len(history_)``).

    Notes
    -----
%NOTES%
    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from fastml.nn import NeuralNetRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = NeuralNetRegressor(epochs=20, random_state=0).fit(X, y / 100)
    >>> reg.predict(X[:4]).shape
    (4,)
    """

    _default_loss = "mse"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _check_loss(self):
        loss = self._loss_name()
        if loss not in ("mse", "l1", "huber"):
            raise ValueError(f'loss must be None, "mse", "l1" or "huber" for '
                             f"NeuralNetRegressor, got {loss!r}.")

    def _validate_Xy(self, X, y, reset):
        return self._validate_X(X, reset, y, multi_output=True, y_numeric=True)

    def _targets(self, X, y):
        y = np.asarray(y, dtype=X.dtype)
        self._y_1d = y.ndim == 1
        return y.reshape(len(y), -1)

    @_undo_on_error
    def fit(self, X, y, sample_weight=None):
        """Initialise the network and train it for ``epochs`` epochs.

        Parameters
        ----------
        %FIT_X%
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        %SAMPLE_WEIGHT%

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._check_loss()
        X, y = self._validate_Xy(X, y, True)
        sw = self._sample_weight(sample_weight, X)
        y2 = self._targets(X, y)
        self.n_outputs_ = y2.shape[1]
        self._build(X, self.n_outputs_)
        self._trainer.fit(self._reshape(X), y2, sample_weight=sw)
        self.n_iter_ = self._trainer.epochs_done_
        return self

    @_undo_on_error
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing the weights and the optimiser's state.

        Parameters
        ----------
        %PARTIAL_X%
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets (the number of columns of the first call).
        %SAMPLE_WEIGHT%

        Returns
        -------
        self : object
        """
        first = not hasattr(self, "model_")
        if first:
            self._check_loss()
        X, y = self._validate_Xy(X, y, first)
        sw = self._sample_weight(sample_weight, X)
        if first:
            y2 = self._targets(X, y)
            self.n_outputs_ = y2.shape[1]
            self._build(X, self.n_outputs_)
        else:
            y2 = np.asarray(y, dtype=X.dtype).reshape(len(y), -1)
            if y2.shape[1] != self.n_outputs_:
                raise ValueError(f"y has {y2.shape[1]} targets, but {type(self).__name__} "
                                 f"was fitted with {self.n_outputs_}.")
        self._trainer.partial_fit(self._reshape(X), y2, sample_weight=sw)
        self.n_iter_ = self._trainer.epochs_done_
        return self

    def _io_meta_extra(self):
        return {"n_outputs_": int(self.n_outputs_), "y_1d": bool(self._y_1d)}

    def _io_restore(self, meta):
        self.n_outputs_ = int(meta["n_outputs_"])
        self._y_1d = bool(meta["y_1d"])
        return self.n_outputs_

    def predict(self, X):
        """The network's outputs.

        Parameters
        ----------
        %PREDICT_X%

        Returns
        -------
        y : ndarray of shape (n_samples,) for a 1-D y in fit, else (n_samples, n_outputs)
        """
        out = self._raw(X)
        return out[:, 0] if self._y_1d else out


_METHOD_DOCS = {
    "%FIT_X%": """X : array-like of shape (n_samples, n_features), (n_samples, H, W) or \
(n_samples, C, H, W)
            Training data; uint8 is taken as pixels (see Notes of the class).""",
    "%PARTIAL_X%": """X : array-like of shape (n_samples, ...)
            Training data, of the per-sample shape of the first call.""",
    "%PREDICT_X%": """X : array-like of shape (n_samples, ...)
            Samples, of the per-sample shape seen in fit.""",
    "%SAMPLE_WEIGHT%": """sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample's loss (the loss is the weighted mean;
            in ``fit`` the held-out validation rows keep their weights). None: equal
            weights.""",
}


def _fill_docs(cls):
    if cls.__doc__:
        cls.__doc__ = cls.__doc__.replace("%COMMON%", _COMMON_PARAMS).replace(
            "%NOTES%", _COMMON_NOTES)
    for name, member in vars(cls).items():
        func = getattr(member, "__wrapped__", member)
        doc = getattr(member, "__doc__", None)
        if callable(member) and doc and "%" in doc:
            for key, text in _METHOD_DOCS.items():
                doc = doc.replace(key, text)
            member.__doc__ = doc
            if func is not member:
                func.__doc__ = doc


_fill_docs(NeuralNetClassifier)
_fill_docs(NeuralNetRegressor)
_fill_docs(_NeuralNetBase)
