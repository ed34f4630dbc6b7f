"""Benchmark cases: scikit-learn's models that spend their time in neighbour searches or
kernels, run on fastml (what ``patch_sklearn()`` gives them) against stock scikit-learn
and scikit-learn-intelex.

Data: MNIST pixels / 255 (synthetic of the same shape when the files are absent; for
KNNImputer with 15 % of the entries set to NaN, and correlated Gaussian tabular columns
likewise); the
distinct words of the SMS Spam Collection's texts (``\\w+`` tokens, case kept: 10,926
strings; synthetic words when the file is absent). Peers, each with the same thread
count:

* scikit-learn's own model (its OpenMP and BLAS capped at the thread count);
* scikit-learn-intelex's model (oneDAL), timed in its own process;
* for DBSCAN over strings, the routes a scikit-learn user has: a callable metric (one
  Python call per pair; measured on a subset, since it grows with the square of the
  number of strings) and rapidfuzz's ``cdist`` matrix given to ``DBSCAN(metric=
  "precomputed")``;
* for KernelPCA with chi2 / intersection kernels (which scikit-learn's KernelPCA does not
  take by name), scikit-learn's ``kernel="precomputed"`` on scikit-learn's chi2_kernel /
  numpy's blocked-broadcast intersection matrix.
"""
import re

import numpy as np

from fastml.benchmarks._data import mnist_pixels
from fastml.benchmarks._registry import Case, Peer, register

AREA = "consumers"
SKLEARNEX = ("sklearnex",)
RAPIDFUZZ = ("rapidfuzz",)


def _limits(n_threads):
    """scikit-learn's OpenMP loops and its BLAS capped at ``n_threads``."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n_threads)


# ----------------------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------------------
def _mnist(n, quick_n, dtype=np.float64):
    def make(data_dir, quick):
        X, _ = mnist_pixels(data_dir, quick_n if quick else n, "train", dtype=dtype)
        return {"X": np.ascontiguousarray(X)}

    return make


def sms_words(data_dir):
    """The distinct ``\\w+`` tokens (case kept) of the SMS Spam Collection's texts, sorted;
    random words of the same length distribution when the file is absent."""
    from fastml.datasets import load_sms_spam

    try:
        texts, _ = load_sms_spam(data_dir, download=False)
    except (FileNotFoundError, OSError, ValueError):
        rng = np.random.default_rng(0)
        letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
        stems = ["".join(rng.choice(letters, int(rng.integers(2, 12)))) for _ in range(3000)]
        words = set()
        while len(words) < 10926:
            w = list(stems[int(rng.integers(0, len(stems)))])
            w[int(rng.integers(0, len(w)))] = letters[int(rng.integers(0, 26))]
            words.add("".join(w))
        return sorted(words)
    words = set()
    for t in texts:
        words.update(re.findall(r"\w+", t))
    return sorted(words)


def _words(n_subset=None, quick_n=2000):
    """All the SMS words, or an evenly spaced subset of ``n_subset`` of them."""
    def make(data_dir, quick):
        words = sms_words(data_dir)
        n = quick_n if quick else (n_subset or len(words))
        if n < len(words):
            words = [words[i] for i in np.linspace(0, len(words) - 1, n).astype(int)]
        return {"S": words}

    return make


# ----------------------------------------------------------------------------------------
# DBSCAN
# ----------------------------------------------------------------------------------------
EPS_MNIST = 5.5
EPS_WORDS, MIN_WORDS = 1, 3


def _fastml_dbscan(eps, **kw):
    def run(inp, n_threads):
        from fastml.cluster import DBSCAN

        data = inp["S"] if "S" in inp else inp["X"]
        return DBSCAN(eps=eps, n_jobs=n_threads, **kw).fit(data).labels_

    return run


def _sklearn_dbscan(eps, **kw):
    def run(inp, n_threads):
        from sklearn.cluster import DBSCAN

        with _limits(n_threads):
            return DBSCAN(eps=eps, n_jobs=n_threads, **kw).fit(inp["X"]).labels_

    return run


def _sklearnex_dbscan(eps, **kw):
    def run(inp, n_threads):
        from sklearnex.cluster import DBSCAN

        return np.asarray(DBSCAN(eps=eps, n_jobs=n_threads, **kw).fit(inp["X"]).labels_)

    return run


def _callable_dbscan(inp, n_threads):
    """The route scikit-learn users take for strings (scikit-learn #12932): the indices
    as X and a callable metric looking the strings up, here with rapidfuzz's C++
    Levenshtein; scikit-learn calls it once per pair."""
    from rapidfuzz.distance import Levenshtein
    from sklearn.cluster import DBSCAN

    words = inp["S"]

    def lev(a, b):
        return Levenshtein.distance(words[int(a[0])], words[int(b[0])])

    X = np.arange(len(words), dtype=np.float64).reshape(-1, 1)
    with _limits(n_threads):
        return DBSCAN(eps=EPS_WORDS, min_samples=MIN_WORDS, metric=lev, algorithm="brute",
                      n_jobs=n_threads).fit(X).labels_


def _rapidfuzz_dbscan(inp, n_threads):
    """rapidfuzz's parallel cdist matrix, then DBSCAN(metric="precomputed")."""
    from rapidfuzz.distance import Levenshtein
    from rapidfuzz.process import cdist
    from sklearn.cluster import DBSCAN

    D = cdist(inp["S"], inp["S"], scorer=Levenshtein.distance, workers=n_threads,
              dtype=np.int32)
    with _limits(n_threads):
        return DBSCAN(eps=EPS_WORDS, min_samples=MIN_WORDS, metric="precomputed",
                      n_jobs=n_threads).fit(D).labels_


def same_clusters(a, b):
    """The same clustering up to the numbering of the clusters: noise is noise on both
    sides, and each cluster of one is a cluster of the other (points at distance
    exactly eps, decided by rounding, may differ: at most 0.1 % of the points)."""
    from sklearn.metrics import adjusted_rand_score

    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    return bool(np.mean((a == -1) == (b == -1)) >= 0.999
                and adjusted_rand_score(a, b) >= 0.999)


def _equal(a, b):
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


# ----------------------------------------------------------------------------------------
# LocalOutlierFactor
# ----------------------------------------------------------------------------------------
LOF_K = 20


def _lof(module):
    def run(inp, n_threads):
        if module == "fastml":
            from fastml.neighbors import LocalOutlierFactor
        elif module == "sklearnex":
            from sklearnex.neighbors import LocalOutlierFactor
        else:
            from sklearn.neighbors import LocalOutlierFactor
        lof = LocalOutlierFactor(n_neighbors=LOF_K, n_jobs=n_threads)
        if module == "sklearn":
            with _limits(n_threads):
                labels = lof.fit_predict(inp["X"])
        else:
            labels = lof.fit_predict(inp["X"])
        return np.asarray(labels), np.asarray(lof.negative_outlier_factor_)

    return run


def same_outliers(a, b):
    """The same inlier / outlier labels and the same scores (rtol 1e-4) for all but 0.1 %
    of the points (neighbours tied at the k-th place may be kept in another order)."""
    (la, sa), (lb, sb) = a, b
    return bool(la.shape == lb.shape and np.mean(la == lb) >= 0.999
                and np.mean(np.isclose(sa, sb, rtol=1e-4)) >= 0.999)


# ----------------------------------------------------------------------------------------
# TSNE's neighbour stage
# ----------------------------------------------------------------------------------------
PERPLEXITY = 30.0
TSNE_K = min(int(3.0 * PERPLEXITY + 1), 10_000 - 1)  # what TSNE asks for


def _tsne_graph(module):
    """TSNE's neighbour stage: ``NearestNeighbors(n_neighbors=3 * perplexity + 1)`` fitted
    on X and its distance graph of X (each point not its own neighbour)."""
    def run(inp, n_threads):
        if module == "fastml":
            from fastml.neighbors import NearestNeighbors
        elif module == "sklearnex":
            from sklearnex.neighbors import NearestNeighbors
        else:
            from sklearn.neighbors import NearestNeighbors
        k = min(TSNE_K, len(inp["X"]) - 1)
        nn = NearestNeighbors(n_neighbors=k, n_jobs=n_threads, metric="euclidean")
        if module == "sklearn":
            with _limits(n_threads):
                G = nn.fit(inp["X"]).kneighbors_graph(mode="distance")
        else:
            G = nn.fit(inp["X"]).kneighbors_graph(mode="distance")
        return G

    return run


def same_graph_distances(a, b):
    """Each row's sorted neighbour distances agree (so the same neighbours up to ties)."""
    da = np.sort(np.asarray(a.toarray() if hasattr(a, "toarray") else a), axis=1)
    db = np.sort(np.asarray(b.toarray() if hasattr(b, "toarray") else b), axis=1)
    return da.shape == db.shape and bool(np.allclose(da, db, rtol=1e-4, atol=1e-5))


# ----------------------------------------------------------------------------------------
# KernelPCA
# ----------------------------------------------------------------------------------------
KPCA = dict(n_components=20, eigen_solver="randomized", random_state=0)


def _fastml_kpca(kernel):
    def run(inp, n_threads):
        from fastml.decomposition import KernelPCA

        return KernelPCA(kernel=kernel, n_jobs=n_threads, **KPCA).fit(inp["X"]).eigenvalues_

    return run


def _intersection_numpy(X, block=64):
    K = np.empty((len(X), len(X)))
    for i in range(0, len(X), block):
        K[i:i + block] = np.minimum(X[i:i + block, None, :], X[None, :, :]).sum(-1)
    return K


def _stock_kpca(kernel):
    """Stock scikit-learn: KernelPCA(kernel="precomputed") on the kernel matrix computed by
    scikit-learn (chi2, gamma = 1 / n_features as KernelPCA's default) or numpy
    (intersection, which scikit-learn does not have)."""
    def run(inp, n_threads):
        from sklearn.decomposition import KernelPCA
        from sklearn.metrics.pairwise import chi2_kernel

        X = inp["X"]
        with _limits(n_threads):
            K = chi2_kernel(X, gamma=1.0 / X.shape[1]) if kernel == "chi2" else \
                _intersection_numpy(X)
            return KernelPCA(kernel="precomputed", **KPCA).fit(K).eigenvalues_

    return run


def _close_eigenvalues(a, b):
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-6))


# ----------------------------------------------------------------------------------------
# KNNImputer
# ----------------------------------------------------------------------------------------
MISSING = 0.15  # the fraction of entries set to NaN


def _with_missing(make):
    """The inputs of ``make`` with MISSING of their entries set to NaN (fixed seed)."""
    def wrapped(data_dir, quick):
        X = make(data_dir, quick)["X"].copy()
        X[np.random.default_rng(0).random(X.shape) < MISSING] = np.nan
        return {"X": X}

    return wrapped


def _tabular(n, quick_n, d=30):
    """Correlated Gaussian columns (a random linear mix of d), as in tabular data."""
    def make(data_dir, quick):
        rng = np.random.default_rng(0)
        m = quick_n if quick else n
        return {"X": rng.normal(size=(m, d)) @ rng.normal(size=(d, d))}

    return make


def _knn_imputer(module):
    """KNNImputer(n_neighbors=5) fitted on X, then X imputed (every row has missing
    entries, so every row is a receiver and X is its own donor set)."""
    def run(inp, n_threads):
        if module == "fastml":
            from fastml.impute import KNNImputer
        else:
            from sklearn.impute import KNNImputer
        with _limits(n_threads):
            return KNNImputer(n_neighbors=5).fit(inp["X"]).transform(inp["X"])

    return run


def _close_imputations(a, b):
    """The same imputed values up to rounding (scikit-learn's expanded-form distances
    lose digits for close rows; fastml's are summed directly)."""
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-7, atol=1e-9))


# ----------------------------------------------------------------------------------------
# registration
# ----------------------------------------------------------------------------------------
for _dtype in (np.float64, np.float32):
    _name = np.dtype(_dtype).name
    register(Case(AREA, "dbscan-mnist-eps5.5", "20000x784", _name,
                  _mnist(20000, 3000, _dtype), _fastml_dbscan(EPS_MNIST),
                  peers=(Peer("sklearn", _sklearn_dbscan(EPS_MNIST)),
                         Peer("sklearnex", _sklearnex_dbscan(EPS_MNIST), SKLEARNEX,
                              own_process=True)),
                  check=same_clusters, quick=_dtype is np.float64,
                  quick_shape="3000x784"))
register(Case(AREA, "lof-mnist-k20", "10000x784", "float64", _mnist(10000, 3000),
              _lof("fastml"),
              peers=(Peer("sklearn", _lof("sklearn")),
                     Peer("sklearnex", _lof("sklearnex"), SKLEARNEX, own_process=True)),
              check=same_outliers, quick=True, quick_shape="3000x784"))
register(Case(AREA, "dbscan-levenshtein-sms-words", "10926 words,eps1", "str",
              _words(), _fastml_dbscan(EPS_WORDS, min_samples=MIN_WORDS,
                                       metric="levenshtein"),
              peers=(Peer("rapidfuzz cdist + DBSCAN(precomputed)", _rapidfuzz_dbscan,
                          RAPIDFUZZ),),
              check=_equal, quick=True, quick_shape="2000 words,eps1"))
register(Case(AREA, "dbscan-levenshtein-sms-words-subset", "1000 words,eps1", "str",
              _words(1000, quick_n=300),
              _fastml_dbscan(EPS_WORDS, min_samples=MIN_WORDS, metric="levenshtein"),
              peers=(Peer("sklearn callable metric", _callable_dbscan, RAPIDFUZZ),),
              check=_equal, quick=True, quick_shape="300 words,eps1"))
register(Case(AREA, "tsne-neighbour-graph-k91", "10000x784", "float32",
              _mnist(10000, 3000, np.float32), _tsne_graph("fastml"),
              peers=(Peer("sklearn", _tsne_graph("sklearn")),
                     Peer("sklearnex", _tsne_graph("sklearnex"), SKLEARNEX,
                          own_process=True)),
              check=same_graph_distances, quick=True, quick_shape="3000x784"))
for _kernel in ("chi2", "intersection"):
    register(Case(AREA, f"kernel-pca-{_kernel}", "3000x784", "float64",
                  _mnist(3000, 600), _fastml_kpca(_kernel),
                  peers=(Peer("sklearn (precomputed)", _stock_kpca(_kernel)),),
                  check=_close_eigenvalues, quick=True, quick_shape="600x784"))
register(Case(AREA, "knn-imputer-mnist-15pct-missing", "5000x784", "float64",
              _with_missing(_mnist(5000, 1000)), _knn_imputer("fastml"),
              peers=(Peer("sklearn", _knn_imputer("sklearn")),),
              check=_close_imputations, quick=True, quick_shape="1000x784"))
register(Case(AREA, "knn-imputer-tabular-15pct-missing", "10000x30", "float64",
              _with_missing(_tabular(10000, 2000)), _knn_imputer("fastml"),
              peers=(Peer("sklearn", _knn_imputer("sklearn")),),
              check=_close_imputations, quick=True, quick_shape="2000x30"))
