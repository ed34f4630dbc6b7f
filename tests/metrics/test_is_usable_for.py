"""One answer to "does fastml's compiled numeric path take this call?":
fastml.metrics._registry.is_usable_for, read by pairwise_distances and by the neighbour
estimators' index."""
import numpy as np
import pytest
import scipy.sparse as sp

from fastml.metrics import _registry
from fastml.metrics import distance as dist_mod
from fastml.neighbors import NearestNeighbors

rng = np.random.default_rng(0)
X = rng.random((12, 4))
B = X > 0.5

CASES = [
    (X, "euclidean", {}, True, True),
    (X, "l2", {}, True, True),
    (X.astype(np.int32), "manhattan", {}, True, True),
    (X.tolist(), "cosine", {}, True, True),
    (sp.csr_matrix(X), "euclidean", {}, False, False),
    (X, "minkowski", {"p": 3}, True, True),
    (X, "minkowski", {"p": 0.5}, False, False),
    (X, "minkowski", {"p": 2, "w": None}, True, True),
    (X, "minkowski", {"p": 2, "w": np.ones(4)}, False, False),
    (X, "euclidean", {"p": 2}, False, False),
    (X, "braycurtis", {}, False, False),
    (X, "jaccard", {}, False, False),       # scikit-learn converts floats to bool
    (B, "jaccard", {}, True, False),        # popcounts; no kNN routine
    (B, "hamming", {}, True, True),
    (np.array([["a", "b"]]), "euclidean", {}, False, False),
]


@pytest.mark.parametrize("data, metric, params, matrix, knn", CASES)
def test_is_usable_for(data, metric, params, matrix, knn):
    assert (_registry.is_usable_for(data, None, metric, params) is not None) == matrix
    assert (_registry.is_usable_for(data, data, metric, params) is not None) == matrix
    assert (_registry.is_usable_for(data, None, metric, params, knn=True) is not None) == knn
    assert _registry.is_usable_for(X, None, lambda a, b: 0.0) is None


@pytest.mark.parametrize("data, metric, params, matrix, knn", CASES[:-1])
def test_pairwise_distances_follows_it(monkeypatch, data, metric, params, matrix, knn):
    calls = []
    real = dist_mod._SK_PAIRWISE_DISTANCES

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(dist_mod, "_SK_PAIRWISE_DISTANCES", spy)
    with _no_check():
        try:
            dist_mod.pairwise_distances(data, metric=metric, **params)
        except TypeError:  # scikit-learn's own error (euclidean takes no p)
            pass
    assert bool(calls) == (not matrix)


class _no_check:
    def __enter__(self):
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)


@pytest.mark.parametrize("data, metric, params, matrix, knn",
                         [c for c in CASES if isinstance(c[0], np.ndarray)
                          and c[0].dtype.kind in "fiub" and c[1] != "braycurtis"
                          and not (c[1] == "euclidean" and c[2])])
def test_neighbour_index_follows_it(data, metric, params, matrix, knn):
    p = params.get("p", 2)
    rest = {k: v for k, v in params.items() if k != "p"}
    nn = NearestNeighbors(n_neighbors=2, algorithm="brute", metric=metric, p=p,
                          metric_params=rest or None)
    try:
        with _no_check():
            nn.fit(data)
    except ValueError:
        assert not knn  # scikit-learn refuses it (p < 1 for minkowski)
        return
    assert (nn._fastml_index is not None) == knn
