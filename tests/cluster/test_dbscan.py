"""fastml.cluster.DBSCAN: scikit-learn's labels on fastml's radius search, and DBSCAN over
strings and series with fastml's sequence metrics."""
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import cluster as skc
from sklearn.datasets import make_blobs
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastml.cluster import DBSCAN
from fastml.metrics import pairwise_distances
from fastml.neighbors import NearestNeighbors

from .._reference import levenshtein


@parametrize_with_checks([DBSCAN(), DBSCAN(algorithm="brute", eps=2.0),
                          DBSCAN(metric="manhattan", min_samples=3),
                          DBSCAN(metric="levenshtein")])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _blobs(n_features, n=400, dtype=np.float64):
    X, _ = make_blobs(n_samples=n, n_features=n_features, centers=4, cluster_std=1.0,
                      center_box=(-30, 30),
                      random_state=0)
    return X.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features, algorithm, metric", [
    (20, "auto", "euclidean"),      # brute force: fastml's search
    (20, "brute", "manhattan"),
    (20, "brute", "cosine"),
    (2, "auto", "euclidean"),       # a tree: scikit-learn's search
])
def test_labels_as_scikit_learn(n_features, algorithm, metric, dtype):
    X = _blobs(n_features, dtype=dtype)
    D = pairwise_distances(X.astype(np.float64), metric=metric)
    eps = float(np.quantile(D[D > 0], 0.05))
    kw = dict(eps=eps, min_samples=6, metric=metric, algorithm=algorithm)
    fast = DBSCAN(**kw).fit(X)
    ref = skc.DBSCAN(**kw).fit(X)
    assert len(set(ref.labels_)) > 2
    np.testing.assert_array_equal(fast.labels_, ref.labels_)
    np.testing.assert_array_equal(fast.core_sample_indices_, ref.core_sample_indices_)
    np.testing.assert_array_equal(fast.components_, ref.components_)
    w = np.random.default_rng(0).uniform(0.2, 2.0, len(X))
    np.testing.assert_array_equal(fast.fit(X, sample_weight=w).labels_,
                                  ref.fit(X, sample_weight=w).labels_)


def test_precomputed_dense_and_sparse_as_scikit_learn():
    X = _blobs(5)
    D = pairwise_distances(X)
    G = NearestNeighbors(radius=2.0).fit(X).radius_neighbors_graph(mode="distance")
    for data in [D, G, sp.csr_matrix(D)]:
        fast = DBSCAN(eps=2.0, min_samples=5, metric="precomputed").fit(data)
        ref = skc.DBSCAN(eps=2.0, min_samples=5, metric="precomputed").fit(data)
        np.testing.assert_array_equal(fast.labels_, ref.labels_)


def test_runs_fastml_search_as_a_self_query():
    X = _blobs(20)
    calls = []
    original = NearestNeighbors.radius_neighbors

    def spy(self, X=None, *args, **kwargs):
        calls.append(X is None)
        return original(self, X, *args, **kwargs)

    with mock.patch.object(NearestNeighbors, "radius_neighbors", spy):
        DBSCAN(eps=5.0).fit(X)
        DBSCAN(eps=5.0, algorithm="kd_tree").fit(X)   # scikit-learn's tree: X as queries
    assert calls == [True, False]


# -- sequences ------------------------------------------------------------------------------
def _words(n=300, seed=0):
    """Variants (one or two edits) of a few stems, plus random noise words."""
    rng = np.random.default_rng(seed)
    stems = ["kitten", "bottle", "garden", "planet", "ocean", "mountain"]
    letters = "abcdefghijklmnopqrstuvwxyzé"
    out = []
    for _ in range(n):
        if rng.random() < 0.15:
            out.append("".join(rng.choice(list(letters), int(rng.integers(3, 10)))))
            continue
        w = list(stems[int(rng.integers(0, len(stems)))])
        for _ in range(int(rng.integers(0, 3))):
            w[int(rng.integers(0, len(w)))] = letters[int(rng.integers(0, len(letters)))]
        out.append("".join(w))
    return out


@pytest.mark.parametrize("eps, min_samples", [(1, 3), (2, 5), (3, 10)])
def test_levenshtein_as_scikit_learn_on_precomputed_edit_distances(eps, min_samples):
    words = _words()
    D = np.array([[levenshtein(a, b) for b in words] for a in words], dtype=float)
    fast = DBSCAN(eps=eps, min_samples=min_samples, metric="levenshtein").fit(words)
    ref = skc.DBSCAN(eps=eps, min_samples=min_samples, metric="precomputed").fit(D)
    assert len(set(ref.labels_)) > 2
    np.testing.assert_array_equal(fast.labels_, ref.labels_)
    np.testing.assert_array_equal(fast.core_sample_indices_, ref.core_sample_indices_)
    assert list(fast.components_) == [words[i] for i in ref.core_sample_indices_]
    assert not hasattr(fast, "n_features_in_")
    w = np.random.default_rng(1).uniform(0.0, 2.0, len(words))
    np.testing.assert_array_equal(
        DBSCAN(eps=eps, min_samples=min_samples, metric="levenshtein").fit(
            words, sample_weight=w).labels_,
        skc.DBSCAN(eps=eps, min_samples=min_samples, metric="precomputed").fit(
            D, sample_weight=w).labels_)


def test_dtw_and_integer_sequences():
    rng = np.random.default_rng(0)
    series = [np.cumsum(rng.normal(size=int(rng.integers(6, 15)))) + 5 * (i % 3)
              for i in range(60)]
    D = pairwise_distances(series, metric="dtw")
    eps = float(np.quantile(D[D > 0], 0.1))
    np.testing.assert_array_equal(
        DBSCAN(eps=eps, min_samples=4, metric="dtw").fit(series).labels_,
        skc.DBSCAN(eps=eps, min_samples=4, metric="precomputed").fit(D).labels_)
    seqs = [[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 4, 4], [9, 9, 9], [9, 9, 8], [7]]
    fit = DBSCAN(eps=1, min_samples=2, metric="levenshtein").fit(seqs)
    np.testing.assert_array_equal(fit.labels_, [0, 0, 0, 1, 1, -1])
    assert fit.components_[0] == [1, 2, 3, 4]


def test_sequence_errors_and_what_scikit_learn_says():
    with pytest.raises(InvalidParameterError, match="levenshtein"):
        skc.DBSCAN(metric="levenshtein").fit(["a", "b"])  # why fastml's class exists
    with pytest.raises(TypeError, match="levenshtein"):
        DBSCAN(metric="levenshtein").fit(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="strings"):
        DBSCAN(metric="euclidean").fit(["abc", "abd"])
    with pytest.raises(InvalidParameterError, match="'metric' parameter"):
        DBSCAN(metric="no-such-metric").fit(np.zeros((4, 2)))
    tags = DBSCAN(metric="levenshtein").__sklearn_tags__()
    assert tags.input_tags.string and not tags.input_tags.two_d_array
