"""Nearest-neighbour classification."""
import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from fastml.neighbors._base import _NeighborsBase, _weights


class KNeighborsClassifier(ClassifierMixin, _NeighborsBase):
    """k-nearest-neighbour vote.

    Ties in the vote are broken as textbooks teach: among the classes with the most
    votes, the class of the nearest neighbour (first in distance order, equal distances
    by training index) wins. With ``weights="distance"`` a neighbour at distance 0
    decides alone (exact matches share the vote).

    Parameters as :class:`NearestNeighbors`, plus ``weights``: "uniform", "distance"
    or a callable mapping the (n, k) distances to weights.
    """

    def __init__(self, n_neighbors=5, *, weights="uniform", metric="minkowski", p=2,
                 metric_params=None, n_jobs=None):
        super().__init__(n_neighbors, metric=metric, p=p, metric_params=metric_params,
                         n_jobs=n_jobs)
        self.weights = weights

    def fit(self, X, y):
        _weights(np.ones((1, 1)), self.weights)  # validates weights
        y = self._fit(X, y, supervised=True)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        n = self.n_samples_fit_
        if len(y) != n:
            raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                             f"[{n}, {len(y)}]")
        self.classes_, self._y = np.unique(y, return_inverse=True)
        return self

    def _votes(self, X):
        dist, ind = self.kneighbors(X)
        labels = self._y[ind]
        w = _weights(dist, self.weights)
        n, k = labels.shape
        votes = np.zeros((n, len(self.classes_)))
        rows = np.arange(n)
        for j in range(k):
            votes[rows, labels[:, j]] += 1.0 if w is None else w[:, j]
        return votes, labels

    def predict(self, X):
        votes, labels = self._votes(X)
        best = votes.max(axis=1, keepdims=True)
        tied = np.isclose(votes, best, rtol=1e-12, atol=0) & (votes > 0)
        rows = np.arange(votes.shape[0])
        # the first neighbour (nearest) whose class is among the tied winners
        nb_tied = tied[rows[:, None], labels]
        first = np.where(nb_tied.any(axis=1), nb_tied.argmax(axis=1), 0)
        return self.classes_[labels[rows, first]]

    def predict_proba(self, X):
        votes, _ = self._votes(X)
        norm = votes.sum(axis=1, keepdims=True)
        norm[norm == 0] = 1.0
        return votes / norm
