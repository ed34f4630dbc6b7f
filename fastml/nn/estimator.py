"""NeuralNetClassifier: a small convolutional (or dense) network as a scikit-learn
classifier."""
import copy
import math
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from fastml.nn.layers import Dense, Flatten, Layer, Sequential, has_image_layers
from fastml.nn.losses import softmax
from fastml.nn.models import lenet5, mlp
from fastml.nn.trainer import Trainer

__all__ = ["NeuralNetClassifier"]

class NeuralNetClassifier(ClassifierMixin, BaseEstimator):
    """A feed-forward network trained by minibatch SGD (or Adam) on softmax cross-entropy.

    Parameters
    ----------
    layers : "lenet5", "mlp" or a list of fastml.nn layers, default="lenet5"
        The network body. The output layer, ``Dense(n_classes)``, is added by ``fit``
        (after a ``Flatten``), so ``layers=[]`` is multinomial logistic regression (the
        softmax classifier) and ``[Dense(100), ReLU()]`` a one-hidden-layer MLP.
        ``"lenet5"`` is :func:`fastml.nn.lenet5` (28x28 images) and ``"mlp"`` one hidden
        layer of 100 ReLU units. The layers given are copied, never modified.
    input_shape : tuple of ints or None
        Per-sample shape (C, H, W) to reshape flat rows of X (n_samples, C*H*W) into. When
        None: X of shape (n, C, H, W) is used as is, (n, H, W) as one channel, and flat X
        as is for a dense-only network or as (1, s, s) square images for a network with
        convolutions or pooling.
    epochs : int, default=10
    batch_size : int, default=64
    optimizer : "sgd", "nesterov" or "adam", default="sgd"
    learning_rate : float, default=0.01
    momentum : float, default=0.9 (SGD only)
    weight_decay : float, default=0.0 (L2 penalty on the weights)
    l1 : float, default=0.0 (L1 penalty on the weights)
    loss : "cross_entropy", "hinge" (multi-class SVM) or "mse", default="cross_entropy"
    lr_schedule : None, "step" or "cosine" (per epoch, over ``epochs``)
    validation_fraction : float in [0, 1), default=0.1
        Held out of each ``fit`` to score ``history_``'s validation columns and for early
        stopping; 0 trains on everything.
    early_stopping : bool, default=False
        Stop after ``patience`` epochs without an improvement of ``tol`` of the validation
        loss and keep the best epoch's weights.
    patience : int, default=5
    tol : float, default=1e-4
    random_state : None, int or RandomState
        Fixes the initial weights, the validation split, the shuffling and the dropout
        masks. With ``n_jobs=1`` two fits give bit-identical networks; with more threads
        the convolution weight gradients are summed in a varying order, so results agree
        only up to rounding (see fastml.nn.functional).
    verbose : 0 or 1 (tqdm progress bar and one line per epoch)
    n_jobs : int or None (scikit-learn's meaning: threads of the compiled layers and BLAS)

    Attributes
    ----------
    classes_ : labels seen in fit
    model_ : the trained :class:`fastml.nn.Sequential`
    history_ : list of dicts per epoch (train/valid loss and accuracy, lr, duration)
    input_shape_ : per-sample shape the network sees
    n_features_in_ : int
    n_iter_ : number of epochs run

    X float32 trains and predicts in float32 (about twice as fast as float64); anything
    else in float64.
    """

    def __init__(self, layers="lenet5", input_shape=None, epochs=10, batch_size=64,
                 optimizer="sgd", learning_rate=0.01, momentum=0.9, weight_decay=0.0,
                 l1=0.0, loss="cross_entropy", lr_schedule=None, validation_fraction=0.1,
                 early_stopping=False, patience=5, tol=1e-4, random_state=None, verbose=0,
                 n_jobs=None):
        self.layers = layers
        self.input_shape = input_shape
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.l1 = l1
        self.loss = loss
        self.lr_schedule = lr_schedule
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.n_jobs = n_jobs

    # -- helpers -------------------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    def _body(self):
        layers = self.layers
        if isinstance(layers, str):
            if layers not in ("lenet5", "mlp"):
                raise ValueError(f'layers must be "lenet5", "mlp" or a list of fastml.nn '
                                 f"layers, got {layers!r}.")
            return layers
        if isinstance(layers, Sequential):
            layers = layers.layers
        if not isinstance(layers, (list, tuple)):
            raise TypeError(f'layers must be "lenet5", "mlp" or a list of fastml.nn layers, '
                            f"got {type(layers).__name__}.")
        for i, la in enumerate(layers):
            if not isinstance(la, Layer):
                raise TypeError(f"layers[{i}] must be a fastml.nn layer, got "
                                f"{type(la).__name__}.")
        return list(layers)

    def _needs_images(self, body):
        return body == "lenet5" or (isinstance(body, list) and
                                    any(has_image_layers(la) for la in body))

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

    def _validate_X(self, X, reset, y=None):
        kw = dict(accept_sparse=False, dtype=[np.float64, np.float32], allow_nd=True,
                  ensure_all_finite=True, order="C", reset=reset)
        if y is None:
            return validate_data(self, X, **kw), None
        return validate_data(self, X, y, **kw)

    def _reshape(self, X):
        """X (as validated) -> (n,) + input_shape_; X must have the layout seen in fit."""
        if X.shape[1:] != self._x_sample_shape:
            raise ValueError(f"X has per-sample shape {X.shape[1:]}, but "
                             f"{type(self).__name__} was fitted on samples of shape "
                             f"{self._x_sample_shape}.")
        return X.reshape((X.shape[0],) + self.input_shape_)

    def _build(self, X, n_classes):
        body = self._body()
        self.input_shape_ = tuple(self._sample_shape(X, body))
        self._x_sample_shape = X.shape[1:]
        if body == "lenet5":
            if len(self.input_shape_) != 3:
                raise ValueError("layers='lenet5' needs images; pass input_shape=(C, H, W) "
                                 f"for flat X (got per-sample shape {self.input_shape_}).")
            model = lenet5(n_classes, in_channels=self.input_shape_[0])
        elif body == "mlp":
            model = mlp((100,), n_classes)
        else:
            model = Sequential(*copy.deepcopy(body), Flatten(), Dense(n_classes))
        seed = check_random_state(self.random_state).randint(2**31 - 1)
        rng = np.random.default_rng(seed)
        model.build(self.input_shape_, X.dtype, rng)
        self.model_ = model
        self._trainer = Trainer(
            model, loss=self.loss, optimizer=self.optimizer,
            learning_rate=self.learning_rate, momentum=self.momentum,
            weight_decay=self.weight_decay, l1=self.l1, epochs=self.epochs,
            batch_size=self.batch_size, validation_fraction=self.validation_fraction,
            early_stopping=self.early_stopping, patience=self.patience, tol=self.tol,
            lr_schedule=self.lr_schedule, random_state=rng, verbose=self.verbose,
            n_jobs=self.n_jobs)
        self.history_ = self._trainer.history_

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

    # -- API -------------------------------------------------------------------------------
    def fit(self, X, y):
        """Initialise the network and train it for ``epochs`` epochs; returns self."""
        X, y = self._validate_X(X, True, y)
        self.classes_, y_enc = self._encode(y)
        self._build(X, len(self.classes_))
        self._trainer.fit(self._reshape(X), y_enc)
        self.n_iter_ = self._trainer.epochs_done_
        return self

    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y), continuing the weights and the optimiser's state (no
        validation split, no early stopping). The first call initialises the network;
        pass every label there as ``classes`` when y does not hold them all."""
        first = not hasattr(self, "model_")
        X, y = self._validate_X(X, first, y)
        if first:
            if classes is not None:
                classes = np.unique(np.asarray(classes))
            self.classes_, y_enc = self._encode(y, classes)
            self._build(X, len(self.classes_))
        else:
            check_classification_targets(y)
            if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(f"classes={classes!r} differs from the classes of the first "
                                 f"partial_fit call, {self.classes_}.")
            y_enc = np.clip(np.searchsorted(self.classes_, y), 0, len(self.classes_) - 1)
            if not np.all(self.classes_[y_enc] == y):
                raise ValueError(f"y holds labels that are not in classes_ {self.classes_}.")
            y_enc = y_enc.astype(np.int64)
        self._trainer.partial_fit(self._reshape(X), y_enc)
        self.n_iter_ = self._trainer.epochs_done_
        return self

    def _scores(self, X):
        check_is_fitted(self)
        X, _ = self._validate_X(X, False)
        return self._trainer.predict_scores(self._reshape(X))

    def decision_function(self, X):
        """The network's class scores (logits), shape (n_samples, n_classes); for two
        classes, scikit-learn's convention: shape (n_samples,), score of classes_[1]
        minus score of classes_[0] (positive means classes_[1])."""
        s = self._scores(X)
        return s[:, 1] - s[:, 0] if s.shape[1] == 2 else s

    def predict_proba(self, X):
        """Softmax of the class scores, shape (n_samples, n_classes)."""
        return softmax(self._scores(X))

    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))

    def predict(self, X):
        scores = self._scores(X)
        return self.classes_[np.argmax(scores, axis=1)]

    def plot_history(self, ax=None):
        """Learning curves: loss and accuracy per epoch, train and validation.

        Needs matplotlib (``pip install matplotlib`` or ``fastml[plot]``). ``ax``: None
        (a new figure) or a pair of Axes. Returns the pair of Axes."""
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
            a.plot(ep, [r["train_" + key] for r in h], "o-", label="train")
            if any(r["valid_" + key] is not None for r in h):
                a.plot(ep, [r["valid_" + key] for r in h], "s-", label="validation")
            a.set_xlabel("epoch")
            a.set_ylabel(label)
            a.legend()
        ax[0].set_title("Loss")
        ax[1].set_title("Accuracy")
        return ax
