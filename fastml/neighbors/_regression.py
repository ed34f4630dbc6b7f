"""Nearest-neighbour regression."""
import numpy as np
from sklearn.base import RegressorMixin

from fastml.neighbors._base import _NeighborsBase, _weights


class KNeighborsRegressor(RegressorMixin, _NeighborsBase):
    """k-nearest-neighbour regression: the (weighted) mean of the neighbours' targets.

    Parameters as :class:`KNeighborsClassifier`. With ``weights="distance"`` neighbours
    at distance 0 decide alone."""

    def __init__(self, n_neighbors=5, *, weights="uniform", metric="minkowski", p=2,
                 metric_params=None, n_jobs=None):
        super().__init__(n_neighbors, metric=metric, p=p, metric_params=metric_params,
                         n_jobs=n_jobs)
        self.weights = weights

    def fit(self, X, y):
        _weights(np.ones((1, 1)), self.weights)
        y = self._fit(X, y, supervised=True, y_numeric=True)
        y = np.asarray(y)
        if y.dtype.kind not in "fiub":
            raise ValueError(f"y must be numeric for regression, got dtype {y.dtype}.")
        y = y.astype(np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError("Input y contains NaN or infinity.")
        if len(y) != self.n_samples_fit_:
            raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                             f"[{self.n_samples_fit_}, {len(y)}]")
        self._y = y
        return self

    def predict(self, X):
        dist, ind = self.kneighbors(X)
        Yn = self._y[ind]  # (n, k) or (n, k, n_outputs)
        w = _weights(dist, self.weights)
        if w is None:
            return Yn.mean(axis=1)
        if Yn.ndim == 3:
            w = w[:, :, None]
        den = w.sum(axis=1)
        den = np.where(den == 0, 1.0, den)
        return (Yn * w).sum(axis=1) / den

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
