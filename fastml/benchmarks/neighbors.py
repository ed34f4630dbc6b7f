"""Benchmark cases: k nearest neighbours and distance matrices.

Data: MNIST pixels in [0, 1] as float32 (synthetic of the same shape when the files are
absent); random strings over 26 letters. Peers, each with the same thread count:

* scikit-learn brute force (``n_jobs`` and its BLAS capped at the thread count);
* faiss (``faiss.omp_set_num_threads``): IndexFlatL2, IndexFlat with METRIC_L1 / Linf /
  Lp, IndexBinaryFlat on packed bits. ``own_process=True``: importing faiss makes
  scikit-learn's kNN single-threaded, so bench/test_neighbors.py runs it in a separate
  (spawned) process and times it there;
* scikit-learn-intelex (oneDAL, ``sklearnex.neighbors``, ``algorithm="brute"``, ``n_jobs``)
  for the Euclidean and Hamming cases, optional and also timed in its own process;
* rapidfuzz ``process.cdist(workers=n)`` for Levenshtein matrices (a list with itself,
  and two distinct lists: rapidfuzz takes a slower path when ``queries is choices``);
* scikit-learn's brute-force ``radius_neighbors`` for the radius self-queries (MNIST
  pixels / 255, the neighbourhoods DBSCAN and LocalOutlierFactor ask for).
"""
import string

import numpy as np

from fastml.benchmarks._data import mnist_pixels
from fastml.benchmarks._registry import Case, Peer, register

K = 5


def _blas(n_threads):
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n_threads, user_api="blas")


# ----------------------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------------------
def _mnist(n_train, n_test, quick_sizes=(3000, 300), binarise=False):
    def make(data_dir, quick):
        nt, ns = quick_sizes if quick else (n_train, n_test)
        X, y = mnist_pixels(data_dir, nt, "train", dtype=np.float32)
        T, yt = mnist_pixels(data_dir, ns, "test", dtype=np.float32)
        if binarise:
            X, T = X > 0.5, T > 0.5
        return {"X": X, "y": y, "T": T, "yt": yt}

    return make


def _strings(n, lo, hi, quick_n=300, seed=0):
    def make(data_dir, quick):
        rng = np.random.default_rng(seed)
        letters = np.array(list(string.ascii_lowercase))
        m = quick_n if quick else n
        return {"S": ["".join(rng.choice(letters, rng.integers(lo, hi + 1)))
                      for _ in range(m)]}

    return make


def _string_pairs(n, lo, hi, quick_n=300):
    """Two distinct lists of random strings (rapidfuzz scores a list against itself on a
    slower path: distinct lists are the fair comparison)."""
    def make(data_dir, quick):
        rng = np.random.default_rng(2)
        letters = np.array(list(string.ascii_lowercase))
        m = quick_n if quick else n
        return {"A": ["".join(rng.choice(letters, rng.integers(lo, hi + 1))) for _ in range(m)],
                "B": ["".join(rng.choice(letters, rng.integers(lo, hi + 1))) for _ in range(m)]}

    return make


def _mnist_self(n, dtype, quick_n=3000):
    def make(data_dir, quick):
        X, y = mnist_pixels(data_dir, quick_n if quick else n, "train", dtype=dtype)
        return {"X": X}

    return make


def _string_knn(n_train, n_query, lo, hi):
    def make(data_dir, quick):
        rng = np.random.default_rng(1)
        letters = np.array(list(string.ascii_lowercase))
        nt, nq = (2000, 200) if quick else (n_train, n_query)
        S = ["".join(rng.choice(letters, rng.integers(lo, hi + 1))) for _ in range(nt)]
        Q = ["".join(rng.choice(letters, rng.integers(lo, hi + 1))) for _ in range(nq)]
        return {"S": S, "Q": Q}

    return make


# ----------------------------------------------------------------------------------------
# runs
# ----------------------------------------------------------------------------------------
def _vote(ind, y):
    """Majority vote of neighbour labels, ties to the smallest label (scikit-learn's
    rule, and fastml's default ``tie_break``)."""
    labels = y[ind]
    votes = np.zeros((len(ind), int(y.max()) + 1))
    for j in range(ind.shape[1]):
        votes[np.arange(len(ind)), labels[:, j]] += 1
    return votes.argmax(axis=1)


def _fastml_classify(metric, **params):
    def run(inp, n_threads):
        from fastml.neighbors import KNeighborsClassifier

        clf = KNeighborsClassifier(n_neighbors=K, metric=metric, n_jobs=n_threads,
                                   metric_params=params or None)
        pred = clf.fit(inp["X"], inp["y"]).predict(inp["T"])
        return pred, float(np.mean(pred == inp["yt"]))

    return run


def _sklearn_classify(metric, **params):
    def run(inp, n_threads):
        from sklearn.neighbors import KNeighborsClassifier

        with _blas(n_threads):
            clf = KNeighborsClassifier(n_neighbors=K, metric=metric, algorithm="brute",
                                       n_jobs=n_threads, metric_params=params or None)
            pred = clf.fit(inp["X"], inp["y"]).predict(inp["T"])
        return pred, float(np.mean(pred == inp["yt"]))

    return run


def _fastml_kneighbors(metric, **params):
    def run(inp, n_threads):
        from fastml.neighbors import NearestNeighbors

        nn = NearestNeighbors(n_neighbors=K, metric=metric, n_jobs=n_threads,
                              metric_params=params or None)
        return nn.fit(inp["X"]).kneighbors(inp["T"])

    return run


def _sklearn_kneighbors(metric, **params):
    def run(inp, n_threads):
        from sklearn.neighbors import NearestNeighbors

        with _blas(n_threads):
            nn = NearestNeighbors(n_neighbors=K, metric=metric, algorithm="brute",
                                  n_jobs=n_threads, metric_params=params or None)
            return nn.fit(inp["X"]).kneighbors(inp["T"])

    return run


def _faiss_search(kind, arg=None, classify=False):
    """faiss exact search; distances converted to the metric's own scale."""

    def run(inp, n_threads):
        import faiss

        faiss.omp_set_num_threads(n_threads)
        X, T = inp["X"], inp["T"]
        if kind == "binary":
            Xb, Tb = np.packbits(X, axis=1), np.packbits(T, axis=1)
            index = faiss.IndexBinaryFlat(Xb.shape[1] * 8)
            index.add(Xb)
            D, ind = index.search(Tb, K)
            D = D.astype(np.float32) / X.shape[1]
        else:
            d = X.shape[1]
            if kind == "l2":
                index = faiss.IndexFlatL2(d)
            else:
                metric = {"l1": faiss.METRIC_L1, "linf": faiss.METRIC_Linf,
                          "lp": faiss.METRIC_Lp}[kind]
                index = faiss.IndexFlat(d, metric)
                if arg is not None:
                    index.metric_arg = arg
            index.add(np.ascontiguousarray(X, dtype=np.float32))
            D, ind = index.search(np.ascontiguousarray(T, dtype=np.float32), K)
            if kind == "l2":
                D = np.sqrt(np.maximum(D, 0))
            elif kind == "lp":
                D = D ** (1.0 / arg)
        if classify:
            pred = _vote(ind, inp["y"])
            return pred, float(np.mean(pred == inp["yt"]))
        return D, ind

    return run


def _sklearnex(kind, classify=False):
    """scikit-learn-intelex brute force (oneDAL); ``kind`` is the metric."""

    def run(inp, n_threads):
        from sklearnex.neighbors import KNeighborsClassifier, NearestNeighbors

        X, T = inp["X"], inp["T"]
        if kind == "hamming":  # oneDAL works on float data
            X, T = X.astype(np.float32), T.astype(np.float32)
        if classify:
            clf = KNeighborsClassifier(n_neighbors=K, metric=kind, algorithm="brute",
                                       n_jobs=n_threads)
            pred = np.asarray(clf.fit(X, inp["y"]).predict(T))
            return pred, float(np.mean(pred == inp["yt"]))
        nn = NearestNeighbors(n_neighbors=K, metric=kind, algorithm="brute", n_jobs=n_threads)
        return nn.fit(X).kneighbors(T)

    return run


def _same_accuracy(a, b):
    """(predictions, accuracy) pairs: the accuracies agree within 0.5 points and the
    predictions differ only where neighbours at equal distances can be ordered
    differently (float32 rounding of distances on the peer's side): at most 5% of the
    points."""
    (pa, acc_a), (pb, acc_b) = a, b
    return pa.shape == pb.shape and abs(acc_a - acc_b) <= 0.005 and float(
        np.mean(pa == pb)) >= 0.95


def _same_neighbours(a, b):
    """Equal k-th distances (so equal neighbour sets up to ties)."""
    da, db = np.asarray(a[0], np.float64), np.asarray(b[0], np.float64)
    return da.shape == db.shape and bool(np.allclose(da, db, rtol=1e-4, atol=1e-5))


# ----------------------------------------------------------------------------------------
# Levenshtein
# ----------------------------------------------------------------------------------------
def _fastml_lev_matrix(inp, n_threads):
    from fastml.metrics import pairwise_distances

    return pairwise_distances(inp["S"], metric="levenshtein", n_jobs=n_threads)


def _rapidfuzz_lev_matrix(inp, n_threads):
    from rapidfuzz.distance import Levenshtein
    from rapidfuzz.process import cdist

    return cdist(inp["S"], inp["S"], scorer=Levenshtein.distance, workers=n_threads)


def _fastml_lev_knn(inp, n_threads):
    from fastml.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=K, metric="levenshtein", n_jobs=n_threads)
    return nn.fit(inp["S"]).kneighbors(inp["Q"])


def _rapidfuzz_lev_knn(inp, n_threads):
    from rapidfuzz.distance import Levenshtein
    from rapidfuzz.process import cdist

    D = cdist(inp["Q"], inp["S"], scorer=Levenshtein.distance, workers=n_threads)
    ind = np.argsort(D, axis=1, kind="stable")[:, :K]
    return np.take_along_axis(D, ind, axis=1), ind


def _fastml_lev_cdist(inp, n_threads):
    from fastml.metrics import pairwise_distances

    return pairwise_distances(inp["A"], inp["B"], metric="levenshtein", n_jobs=n_threads)


def _rapidfuzz_lev_cdist(inp, n_threads):
    from rapidfuzz.distance import Levenshtein
    from rapidfuzz.process import cdist

    return cdist(inp["A"], inp["B"], scorer=Levenshtein.distance, workers=n_threads)


def _radius_run(module, radius):
    """radius_neighbors of the training set itself (each point not its own neighbour),
    indices only (what DBSCAN asks for)."""
    def run(inp, n_threads):
        import importlib

        NN = importlib.import_module(module).NearestNeighbors
        with _blas(n_threads):
            nn = NN(radius=radius, algorithm="brute", n_jobs=n_threads).fit(inp["X"])
            return nn.radius_neighbors(return_distance=False)

    return run


def _same_radius_sets(a, b):
    """The same neighbours for all but a few points (float32 peers decide pairs within
    their rounding error of the radius differently; fastml decides them in float64)."""
    if len(a) != len(b):
        return False
    differ = sum(not np.array_equal(np.sort(x), np.sort(y)) for x, y in zip(a, b))
    return differ <= max(1, len(a) // 1000)


def _equal(a, b):
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def _same_int_neighbours(a, b):
    return bool(np.array_equal(np.asarray(a[0]), np.asarray(b[0])))


# ----------------------------------------------------------------------------------------
# registration
# ----------------------------------------------------------------------------------------
AREA = "neighbors"
FAISS = ("faiss",)
SKLEARNEX = ("sklearnex",)

register(Case(AREA, "knn-classify-euclidean-k5", "60000x10000x784", "float32",
              _mnist(60000, 10000), _fastml_classify("euclidean"),
              peers=(Peer("sklearn", _sklearn_classify("euclidean")),
                     Peer("faiss", _faiss_search("l2", classify=True), FAISS,
                          own_process=True),
                     Peer("sklearnex", _sklearnex("euclidean", classify=True), SKLEARNEX,
                          own_process=True)),
              check=_same_accuracy, quick=True, quick_shape="3000x300x784"))
register(Case(AREA, "kneighbors-euclidean", "30000x5000x784", "float32",
              _mnist(30000, 5000), _fastml_kneighbors("euclidean"),
              peers=(Peer("sklearn", _sklearn_kneighbors("euclidean")),
                     Peer("faiss", _faiss_search("l2"), FAISS, own_process=True),
                     Peer("sklearnex", _sklearnex("euclidean"), SKLEARNEX,
                          own_process=True)),
              check=_same_neighbours, quick=True, quick_shape="3000x300x784"))
register(Case(AREA, "kneighbors-euclidean", "60000x10000x784", "float32",
              _mnist(60000, 10000), _fastml_kneighbors("euclidean"),
              peers=(Peer("faiss", _faiss_search("l2"), FAISS, own_process=True),
                     Peer("sklearnex", _sklearnex("euclidean"), SKLEARNEX,
                          own_process=True)),
              check=_same_neighbours, quick_shape="3000x300x784"))
for _metric, _kind, _arg, _shape, _sizes, _params in [
    ("manhattan", "l1", None, "10000x2000x784", (10000, 2000), {}),
    ("chebyshev", "linf", None, "10000x2000x784", (10000, 2000), {}),
    ("minkowski", "lp", 3.0, "4000x512x784", (4000, 512), {"p": 3}),
]:
    register(Case(AREA, f"kneighbors-{_metric}" + (f"-p{_params['p']}" if _params else ""),
                  _shape, "float32", _mnist(*_sizes, quick_sizes=(2000, 200)),
                  _fastml_kneighbors(_metric, **_params),
                  peers=(Peer("sklearn", _sklearn_kneighbors(_metric, **_params)),
                         Peer("faiss", _faiss_search(_kind, _arg), FAISS, own_process=True)),
                  check=_same_neighbours, quick=_metric == "manhattan",
                  quick_shape="2000x200x784"))
register(Case(AREA, "kneighbors-hamming-binary", "10000x2000x784", "bool",
              _mnist(10000, 2000, quick_sizes=(2000, 200), binarise=True),
              _fastml_kneighbors("hamming"),
              peers=(Peer("sklearn", _sklearn_kneighbors("hamming")),
                     Peer("faiss", _faiss_search("binary"), FAISS, own_process=True)),
              check=_same_neighbours, quick=True, quick_shape="2000x200x784"))
register(Case(AREA, "kneighbors-hamming-binary", "60000x10000x784", "bool",
              _mnist(60000, 10000, binarise=True), _fastml_kneighbors("hamming"),
              peers=(Peer("faiss", _faiss_search("binary"), FAISS, own_process=True),),
              check=_same_neighbours, quick_shape="3000x300x784"))
for _dtype in (np.float32, np.float64):
    for _r in (4.0, 5.5):
        register(Case(AREA, f"radius-neighbors-self-r{_r:g}", "20000x784", np.dtype(_dtype).name,
                      _mnist_self(20000, _dtype), _radius_run("fastml.neighbors", _r),
                      peers=(Peer("sklearn", _radius_run("sklearn.neighbors", _r)),),
                      check=_same_radius_sets, quick=_r == 4.0 and _dtype == np.float32,
                      quick_shape="3000x784"))
register(Case(AREA, "levenshtein-cdist", "2000x2000,len5-40", "str",
              _string_pairs(2000, 5, 40), _fastml_lev_cdist,
              peers=(Peer("rapidfuzz", _rapidfuzz_lev_cdist, ("rapidfuzz",)),),
              check=_equal, quick=True, quick_shape="300x300,len5-40"))
register(Case(AREA, "levenshtein-matrix", "2000x2000,len5-40", "str",
              _strings(2000, 5, 40), _fastml_lev_matrix,
              peers=(Peer("rapidfuzz", _rapidfuzz_lev_matrix, ("rapidfuzz",)),),
              check=_equal, quick=True, quick_shape="300x300,len5-40"))
register(Case(AREA, "levenshtein-matrix", "500x500,len200-500", "str",
              _strings(500, 200, 500, quick_n=60), _fastml_lev_matrix,
              peers=(Peer("rapidfuzz", _rapidfuzz_lev_matrix, ("rapidfuzz",)),),
              check=_equal, quick_shape="60x60,len200-500"))
register(Case(AREA, "levenshtein-matrix", "500x500,len100-1000", "str",
              _strings(500, 100, 1000, quick_n=60), _fastml_lev_matrix,
              peers=(Peer("rapidfuzz", _rapidfuzz_lev_matrix, ("rapidfuzz",)),),
              check=_equal, quick_shape="60x60,len100-1000"))
register(Case(AREA, "levenshtein-kneighbors", "20000x2000,len5-40", "str",
              _string_knn(20000, 2000, 5, 40), _fastml_lev_knn,
              peers=(Peer("rapidfuzz", _rapidfuzz_lev_knn, ("rapidfuzz",)),),
              check=_same_int_neighbours, quick=True, quick_shape="2000x200,len5-40"))


# ----------------------------------------------------------------------------------------
# own-process peers (faiss): a spawned worker loads the inputs, then runs on request
# ----------------------------------------------------------------------------------------
