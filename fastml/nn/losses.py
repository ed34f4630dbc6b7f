"""Losses on a network's raw scores (logits), and the L2 / L1 weight penalties.

A loss has ``forward(scores, y) -> float`` (the mean over the batch, computed in float64)
and ``backward() -> array`` (the gradient with respect to ``scores``, in their dtype).
Classification losses take ``y`` as integer class indices in [0, n_outputs); MSE and L1
take either targets of the scores' shape or class indices (then one-hot targets).
"""
import numbers

import numpy as np

__all__ = ["BinaryCrossEntropyLoss", "CrossEntropyLoss", "HingeLoss", "HuberLoss", "L1Loss",
           "MSELoss", "get_loss", "l1_penalty", "l2_penalty", "log_softmax", "softmax"]


def log_softmax(scores):
    """Row-wise log-softmax, stable: subtract each row's maximum before exponentiating."""
    z = scores - scores.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def softmax(scores):
    z = np.exp(scores - scores.max(axis=1, keepdims=True))
    z /= z.sum(axis=1, keepdims=True)
    return z


def _check_scores(scores):
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise ValueError(f"scores must be a non-empty 2-D array (n_samples, n_outputs), got "
                         f"shape {scores.shape}.")
    return scores


def _check_labels(y, scores):
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != scores.shape[0]:
        raise ValueError(f"y must be 1-D with {scores.shape[0]} class indices, got shape "
                         f"{y.shape}.")
    if y.dtype.kind not in "iu":
        raise TypeError(f"y must hold integer class indices, got dtype {y.dtype}.")
    if y.size and (y.min() < 0 or y.max() >= scores.shape[1]):
        raise ValueError(f"y holds class indices outside [0, {scores.shape[1]}).")
    return y.astype(np.intp, copy=False)


class Loss:
    name = ""

    def sample_losses(self, scores, y):
        """The loss of each row, float64 (``forward`` is their mean); for weighted
        means. This generic form runs ``forward`` row by row; the losses below compute
        it at once. It leaves the state ``backward`` uses alone only if called before
        ``forward``."""
        return np.array([self.forward(scores[i:i + 1], y[i:i + 1])
                         for i in range(len(scores))], dtype=np.float64)

    def __repr__(self):
        return f"{type(self).__name__}()"


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy, -mean(log softmax(scores)[i, y_i]); gradient
    (softmax(scores) - onehot(y)) / n. Stable through the log-sum-exp shift."""

    name = "cross_entropy"

    def forward(self, scores, y):
        scores = _check_scores(scores)
        y = _check_labels(y, scores)
        logp = log_softmax(scores)
        n = scores.shape[0]
        self._c = (logp, y)
        return float(-logp[np.arange(n), y].sum(dtype=np.float64) / n)

    def sample_losses(self, scores, y):
        scores = _check_scores(scores)
        y = _check_labels(y, scores)
        return -log_softmax(scores)[np.arange(len(y)), y].astype(np.float64)

    def backward(self):
        logp, y = self._c
        n = logp.shape[0]
        g = np.exp(logp)
        g[np.arange(n), y] -= 1
        g *= g.dtype.type(1.0 / n)
        self._c = None
        return g


class HingeLoss(Loss):
    """Multi-class hinge (Weston & Watkins; the linear SVM loss of CS231n):
    mean_i sum_{j != y_i} max(0, s_ij - s_iy_i + margin)."""

    name = "hinge"

    def __init__(self, margin=1.0):
        if isinstance(margin, bool) or not isinstance(margin, numbers.Real) or margin <= 0:
            raise ValueError(f"margin must be a positive number, got {margin!r}.")
        self.margin = float(margin)

    def forward(self, scores, y):
        scores = _check_scores(scores)
        y = _check_labels(y, scores)
        n = scores.shape[0]
        rows = np.arange(n)
        m = scores - scores[rows, y][:, None] + scores.dtype.type(self.margin)
        m[rows, y] = 0
        active = m > 0
        self._dtype = scores.dtype
        self._c = (active, y)
        return float(np.maximum(m, 0).sum(dtype=np.float64) / n)

    def sample_losses(self, scores, y):
        scores = _check_scores(scores)
        y = _check_labels(y, scores)
        rows = np.arange(scores.shape[0])
        m = scores - scores[rows, y][:, None] + scores.dtype.type(self.margin)
        m[rows, y] = 0
        return np.maximum(m, 0).sum(axis=1, dtype=np.float64)

    def backward(self):
        active, y = self._c
        n = active.shape[0]
        g = active.astype(self._dtype)
        g[np.arange(n), y] = -active.sum(axis=1)
        self._c = None
        g *= g.dtype.type(1.0 / n)
        return g

    def __repr__(self):
        return f"HingeLoss(margin={self.margin})"


def _targets(y, scores):
    y = np.asarray(y)
    if y.ndim == 1 and scores.shape[1] > 1 or (y.ndim == 1 and y.dtype.kind in "iu"):
        y = _check_labels(y, scores)
        t = np.zeros(scores.shape, dtype=scores.dtype)
        t[np.arange(len(y)), y] = 1
        return t
    if y.ndim == 1:
        y = y[:, None]
    if y.shape != scores.shape:
        raise ValueError(f"y has shape {y.shape}, but the scores have shape {scores.shape}.")
    return y.astype(scores.dtype, copy=False)


class MSELoss(Loss):
    """Mean squared error over all entries (one-hot targets for class indices)."""

    name = "mse"

    def forward(self, scores, y):
        scores = _check_scores(scores)
        d = scores - _targets(y, scores)
        self._c = d
        return float(np.mean(np.square(d, dtype=np.float64)))

    def sample_losses(self, scores, y):
        scores = _check_scores(scores)
        return np.mean(np.square(scores - _targets(y, scores), dtype=np.float64), axis=1)

    def backward(self):
        d = self._c
        self._c = None
        return d * d.dtype.type(2.0 / d.size)


class L1Loss(Loss):
    """Mean absolute error over all entries (one-hot targets for class indices)."""

    name = "l1"

    def forward(self, scores, y):
        scores = _check_scores(scores)
        d = scores - _targets(y, scores)
        self._c = d
        return float(np.mean(np.abs(d), dtype=np.float64))

    def sample_losses(self, scores, y):
        scores = _check_scores(scores)
        return np.mean(np.abs(scores - _targets(y, scores)), axis=1, dtype=np.float64)

    def backward(self):
        d = self._c
        self._c = None
        return np.sign(d) * d.dtype.type(1.0 / d.size)


class HuberLoss(Loss):
    """Huber loss over all entries: 0.5 d^2 for |d| <= delta, delta (|d| - 0.5 delta)
    otherwise (quadratic near zero, linear for outliers), mean over entries."""

    name = "huber"

    def __init__(self, delta=1.0):
        if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or \
                not np.isfinite(delta) or delta <= 0:
            raise ValueError(f"delta must be a positive number, got {delta!r}.")
        self.delta = float(delta)

    def forward(self, scores, y):
        scores = _check_scores(scores)
        d = scores - _targets(y, scores)
        self._c = d
        a = np.abs(d).astype(np.float64)
        k = self.delta
        return float(np.mean(np.where(a <= k, 0.5 * a * a, k * (a - 0.5 * k))))

    def sample_losses(self, scores, y):
        scores = _check_scores(scores)
        a = np.abs(scores - _targets(y, scores)).astype(np.float64)
        k = self.delta
        return np.mean(np.where(a <= k, 0.5 * a * a, k * (a - 0.5 * k)), axis=1)

    def backward(self):
        d = self._c
        self._c = None
        k = d.dtype.type(self.delta)
        return np.clip(d, -k, k) * d.dtype.type(1.0 / d.size)

    def __repr__(self):
        return f"HuberLoss(delta={self.delta})"


def log_sigmoid(z):
    """log(1 / (1 + exp(-z))) without overflow: -softplus(-z)."""
    return -(np.maximum(-z, 0) + np.log1p(np.exp(-np.abs(z))))


class BinaryCrossEntropyLoss(Loss):
    """Sigmoid + binary cross-entropy on ONE output per sample (logistic regression
    as a network): scores of shape (n, 1) are logits z, y holds 0/1 labels, loss
    -mean(y log s(z) + (1 - y) log(1 - s(z))), gradient (s(z) - y) / n. Computed from the
    logits (log-sigmoid), so it never takes log(0)."""

    name = "binary_cross_entropy"

    def forward(self, scores, y):
        scores = _check_scores(scores)
        if scores.shape[1] != 1:
            raise ValueError(f"binary_cross_entropy needs one output per sample (scores of "
                             f"shape (n, 1)), got {scores.shape}; use cross_entropy for "
                             "several classes.")
        y = np.asarray(y).reshape(-1)
        if y.shape[0] != scores.shape[0]:
            raise ValueError(f"y must hold {scores.shape[0]} labels, got shape {y.shape}.")
        if y.size and not np.all((y == 0) | (y == 1)):
            raise ValueError("binary_cross_entropy needs labels 0 or 1 in y.")
        z = scores[:, 0].astype(np.float64)
        t = y.astype(np.float64)
        self._c = (scores, t)
        return float(-np.mean(t * log_sigmoid(z) + (1 - t) * log_sigmoid(-z)))

    def sample_losses(self, scores, y):
        scores = _check_scores(scores)
        z = scores[:, 0].astype(np.float64)
        t = np.asarray(y).reshape(-1).astype(np.float64)
        if scores.shape[1] != 1 or t.shape[0] != z.shape[0]:
            return super().sample_losses(scores, y)  # forward's errors
        return -(t * log_sigmoid(z) + (1 - t) * log_sigmoid(-z))

    def backward(self):
        from scipy.special import expit

        scores, t = self._c
        self._c = None
        g = (expit(scores[:, 0].astype(np.float64)) - t) / len(t)
        return g.astype(scores.dtype)[:, None]


_LOSSES = {"cross_entropy": CrossEntropyLoss, "hinge": HingeLoss, "mse": MSELoss,
           "l1": L1Loss, "huber": HuberLoss, "binary_cross_entropy": BinaryCrossEntropyLoss}


def get_loss(loss):
    """A loss instance from a name ("cross_entropy", "hinge", "mse", "l1", "huber",
    "binary_cross_entropy") or an instance."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss in _LOSSES:
        return _LOSSES[loss]()
    raise ValueError(f"loss must be one of {sorted(_LOSSES)} or a fastml.nn loss object, "
                     f"got {loss!r}.")


def l2_penalty(params, weight_decay):
    """0.5 * weight_decay * sum(w**2) over the regularised parameters (weights, not
    biases); its gradient, weight_decay * w, is what the trainer adds."""
    return 0.5 * weight_decay * sum(float(np.vdot(p.value, p.value)) for p in params
                                    if p.regularize)


def l1_penalty(params, l1):
    """l1 * sum(|w|) over the regularised parameters; gradient l1 * sign(w)."""
    return l1 * sum(float(np.abs(p.value).sum(dtype=np.float64)) for p in params
                    if p.regularize)
