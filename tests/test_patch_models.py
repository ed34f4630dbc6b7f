"""patch_sklearn() and scikit-learn's models: each patched model runs fastml's search or
kernels (a spy counts the calls) and gives scikit-learn's results."""
from contextlib import contextmanager
from unittest import mock

import numpy as np
import pytest

import fastml
import fastml.metrics
import fastml.neighbors


@pytest.fixture(autouse=True)
def _unpatched():
    fastml.unpatch_sklearn()
    yield
    fastml.unpatch_sklearn()


@contextmanager
def patched(name, methods=(), functions=()):
    """``name`` patched with spies on fastml's methods (``"kneighbors"`` of
    NearestNeighbors, ...) and functions (``(module, "rbf_kernel")``); yields the spies."""
    spies = {}
    with contextlib_exit() as stack:
        for method in methods:
            original = getattr(fastml.neighbors.NearestNeighbors, method)
            spies[method] = stack.enter_context(mock.patch.object(
                fastml.neighbors.NearestNeighbors, method, autospec=True,
                side_effect=original))
        for module, attr in functions:
            spies[attr] = stack.enter_context(mock.patch.object(
                module, attr, wraps=getattr(module, attr)))
        fastml.patch_sklearn(name)
        try:
            yield spies
        finally:
            fastml.unpatch_sklearn(name)


def contextlib_exit():
    from contextlib import ExitStack

    return ExitStack()


def _data(n=240, d=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[: n // 3] += 2.5
    X[n // 3: 2 * n // 3] -= 2.5
    return X


def _abs_close(a, b, **kw):
    """Embeddings are defined up to the sign of each component."""
    np.testing.assert_allclose(np.abs(a), np.abs(b), **kw)


def test_optics():
    from sklearn.cluster import OPTICS

    # OPTICS breaks ties between equal reachabilities by index, and many reachabilities
    # equal a predecessor's core distance: on real-valued data a last-bit difference
    # between scikit-learn's GEMM distances and fastml's exact ones reorders such ties.
    # Small integers make every distance exact on both sides, so the orders must agree.
    X = np.round(2 * _data()).astype(np.float64)
    ref = OPTICS(min_samples=10).fit(X)
    with patched("OPTICS", methods=["kneighbors"]) as spy:
        fast = OPTICS(min_samples=10).fit(X)
    assert spy["kneighbors"].call_count >= 1
    np.testing.assert_array_equal(fast.labels_, ref.labels_)
    np.testing.assert_allclose(fast.core_distances_, ref.core_distances_, rtol=1e-10)
    np.testing.assert_allclose(fast.reachability_, ref.reachability_, rtol=1e-10)


@pytest.mark.parametrize("radius", [None, 6.0])
def test_isomap(radius):
    from sklearn.manifold import Isomap

    X = _data()
    kw = dict(n_neighbors=None, radius=radius) if radius else dict(n_neighbors=12)
    ref = Isomap(n_components=2, **kw).fit(X)
    method = "radius_neighbors" if radius else "kneighbors"
    with patched("Isomap", methods=[method]) as spy:
        fast = Isomap(n_components=2, **kw).fit(X)
        T = fast.transform(X[:20])
    assert spy[method].call_count >= 2  # fit's graph and transform's queries
    _abs_close(fast.embedding_, ref.embedding_, rtol=1e-7, atol=1e-9)
    # new queries: scikit-learn's Euclidean distances by the GEMM identity carry a
    # relative error of about 1e-8 here (cancellation), fastml's are computed directly
    _abs_close(T, ref.transform(X[:20]), rtol=1e-6, atol=1e-9)


def test_tsne():
    from sklearn.manifold import TSNE

    X = _data()
    kw = dict(perplexity=15, init="pca", random_state=0, max_iter=300)
    ref = TSNE(**kw).fit(X)
    with patched("TSNE", methods=["kneighbors"]) as spy:
        fast = TSNE(**kw).fit(X)
    assert spy["kneighbors"].call_count == 1
    # the same neighbour graph up to rounding: the same optimisation
    assert fast.kl_divergence_ == pytest.approx(ref.kl_divergence_, rel=1e-4)
    np.testing.assert_allclose(fast.embedding_, ref.embedding_, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("affinity", ["rbf", "nearest_neighbors"])
def test_spectral_clustering(affinity):
    from sklearn.cluster import SpectralClustering

    X = _data()
    kw = dict(n_clusters=3, affinity=affinity, gamma=0.02, n_neighbors=12, random_state=0)
    ref = SpectralClustering(**kw).fit(X)
    with patched("SpectralClustering", methods=["kneighbors"],
                 functions=[(fastml.metrics, "pairwise_kernels")]) as spy:
        fast = SpectralClustering(**kw).fit(X)
    used = spy["pairwise_kernels"] if affinity == "rbf" else spy["kneighbors"]
    assert used.call_count >= 1
    np.testing.assert_array_equal(fast.labels_, ref.labels_)


@pytest.mark.parametrize("affinity", ["rbf", "nearest_neighbors"])
def test_spectral_embedding(affinity):
    from sklearn.manifold import SpectralEmbedding

    X = _data()
    kw = dict(n_components=2, affinity=affinity, gamma=0.02, n_neighbors=12,
              random_state=0)
    ref = SpectralEmbedding(**kw).fit(X)
    with patched("SpectralEmbedding", methods=["kneighbors"],
                 functions=[(fastml.metrics, "rbf_kernel")]) as spy:
        fast = SpectralEmbedding(**kw).fit(X)
    used = spy["rbf_kernel"] if affinity == "rbf" else spy["kneighbors"]
    assert used.call_count >= 1
    _abs_close(fast.embedding_, ref.embedding_, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("kernel", ["rbf", "chi2", "laplacian"])
def test_nystroem(kernel):
    from sklearn.kernel_approximation import Nystroem

    X = np.abs(_data())
    kw = dict(kernel=kernel, gamma=0.05, n_components=40, random_state=0)
    ref = Nystroem(**kw).fit(X)
    with patched("Nystroem", functions=[(fastml.metrics, "pairwise_kernels")]) as spy:
        fast = Nystroem(**kw).fit(X)
        Z = fast.transform(X[:30])
    assert spy["pairwise_kernels"].call_count == 2
    np.testing.assert_allclose(Z, ref.transform(X[:30]), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("model", ["LabelPropagation", "LabelSpreading"])
@pytest.mark.parametrize("kernel", ["rbf", "knn"])
def test_label_propagation_and_spreading(model, kernel):
    import sklearn.semi_supervised as ss

    X = _data()
    y = np.full(len(X), -1)
    y[:5], y[100:105], y[200:205] = 0, 1, 2
    kw = dict(kernel=kernel, gamma=0.05, n_neighbors=10, max_iter=2000)
    ref = getattr(ss, model)(**kw).fit(X, y)
    with patched(model, methods=["kneighbors"],
                 functions=[(fastml.metrics, "rbf_kernel")]) as spy:
        fast = getattr(ss, model)(**kw).fit(X, y)
        P = fast.predict_proba(X[:30])
    used = spy["rbf_kernel"] if kernel == "rbf" else spy["kneighbors"]
    assert used.call_count >= 2  # fit and predict_proba
    np.testing.assert_allclose(fast.label_distributions_, ref.label_distributions_,
                               rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(P, ref.predict_proba(X[:30]), rtol=1e-6, atol=1e-12)


def test_dbscan_over_strings_when_patched():
    """scikit-learn's own names, patched: DBSCAN(metric="levenshtein") is accepted and
    clusters as the precomputed edit distances do; dbscan() uses fastml's class too."""
    import sklearn.cluster
    from sklearn.cluster import DBSCAN as StockDBSCAN

    from fastml.metrics import pairwise_distances

    words = ["apple", "apply", "ample", "apples", "grape", "grapes", "gripe", "kiwi",
             "banana", "bandana", "cabana"]
    D = pairwise_distances(words, metric="levenshtein").astype(float)
    ref = StockDBSCAN(eps=1, min_samples=2, metric="precomputed").fit(D).labels_
    with patched("DBSCAN", methods=["radius_neighbors"]) as spy:
        from sklearn.cluster import DBSCAN, dbscan

        labels = DBSCAN(eps=1, min_samples=2, metric="levenshtein").fit_predict(words)
        _, labels_f = dbscan(words, eps=1, min_samples=2, metric="levenshtein")
        numeric = DBSCAN(eps=4.0).fit(_data()).labels_
    assert spy["radius_neighbors"].call_count == 3
    np.testing.assert_array_equal(labels, ref)
    np.testing.assert_array_equal(labels_f, ref)
    np.testing.assert_array_equal(numeric, StockDBSCAN(eps=4.0).fit(_data()).labels_)
    assert sklearn.cluster.DBSCAN is StockDBSCAN


def test_lof_and_kernel_pca_when_patched():
    import sklearn.decomposition
    import sklearn.neighbors

    X = np.abs(_data())
    ref_lof = sklearn.neighbors.LocalOutlierFactor(n_neighbors=10).fit(X)
    ref_kpca = sklearn.decomposition.KernelPCA(n_components=3, kernel="rbf").fit(X)
    with patched(["LocalOutlierFactor", "KernelPCA"], methods=["kneighbors"],
                 functions=[(fastml.metrics, "pairwise_kernels")]) as spy:
        lof = sklearn.neighbors.LocalOutlierFactor(n_neighbors=10).fit(X)
        kpca = sklearn.decomposition.KernelPCA(n_components=3, kernel="rbf").fit(X)
        sklearn.decomposition.KernelPCA(n_components=3, kernel="intersection").fit(X)
    assert spy["kneighbors"].call_count == 0  # LOF is its own neighbours estimator
    assert type(lof).__module__ == "fastml.neighbors._lof"
    assert type(kpca).__module__ == "fastml.decomposition._kernel_pca"
    np.testing.assert_allclose(lof.negative_outlier_factor_,
                               ref_lof.negative_outlier_factor_, rtol=1e-10)
    np.testing.assert_allclose(kpca.eigenvalues_, ref_kpca.eigenvalues_, rtol=1e-9)


def test_sequence_data_through_a_precomputed_graph():
    """Models that take metric="precomputed" (TSNE, Isomap) run over strings on
    fastml's neighbour graph, patched or not."""
    from sklearn.manifold import TSNE, Isomap

    words = [w + s for w in ["kitten", "bottle", "garden"] for s in
             ["", "s", "x", "y", "z", "ab", "er", "ed", "ing", "ly"]]
    G = fastml.neighbors.KNeighborsTransformer(n_neighbors=13, metric="levenshtein",
                                               mode="distance").fit_transform(words)
    Z = TSNE(metric="precomputed", init="random", perplexity=4,
             random_state=0).fit_transform(G)
    assert Z.shape == (30, 2) and np.isfinite(Z).all()
    E = Isomap(n_neighbors=12, metric="precomputed").fit_transform(G)
    assert E.shape == (30, 2) and np.isfinite(E).all()
