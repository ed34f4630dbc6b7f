"""pairwise_distances on numbers (every numeric metric, dtypes, layouts, out=) and the
k-nearest-neighbour search (fastml.neighbors.NearestNeighbors), against scipy's cdist and
a sort of the reference distances."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
from scipy.spatial.distance import cdist  # noqa: E402

from _common import Data, call, close  # noqa: E402

METRICS = ["euclidean", "sqeuclidean", "manhattan", "chebyshev", "minkowski", "cosine",
           "hamming"]


def reference(name, X, Y, p):
    X = X.astype(np.float64)
    Y = Y.astype(np.float64)
    with np.errstate(all="ignore"):
        if name == "minkowski":
            return cdist(X, Y, "minkowski", p=p) if np.isfinite(p) else cdist(X, Y,
                                                                              "chebyshev")
        if name == "cosine":
            X = X / np.maximum(np.abs(X).max(axis=1, initial=0), 1e-320)[:, None]
            Y = Y / np.maximum(np.abs(Y).max(axis=1, initial=0), 1e-320)[:, None]
            nx = np.linalg.norm(X, axis=1)
            ny = np.linalg.norm(Y, axis=1)
            nx[nx == 0] = 1
            ny[ny == 0] = 1
            return np.clip(1 - (X / nx[:, None]) @ (Y / ny[:, None]).T, 0, 2)
        return cdist(X, Y, "cityblock" if name == "manhattan" else name)


def TestOneInput(data):
    from fastml.metrics import pairwise_distances
    from fastml.neighbors import NearestNeighbors

    r = Data(data)
    name = r.pick(METRICS)
    n, d = r.shape(max_rows=10, max_cols=80)
    m = r.int(0, 40)
    dtype = r.pick([np.float64, np.float32])
    X = r.array((n, d), dtype, special=r.int(0, 15) == 0)
    Y = r.array((m, d), dtype) if r.bool() else None
    p = r.pick([1, 2, 3, 4, 1.5, 2.5, np.inf, 0.5, -1, float("nan")])
    prm = {"p": p} if name == "minkowski" else {}
    Yd = X if Y is None else Y
    big = max(1.0, float(np.max(np.abs(X), initial=0)), float(np.max(np.abs(Yd), initial=0)))
    moderate = big < 1e6 and np.all(np.isfinite(X)) and np.all(np.isfinite(Yd))
    if r.bool():
        D = call(pairwise_distances, X, Y, metric=name, n_jobs=r.pick([1, 2]), **prm)
        if D is None:
            return
        assert D.shape == (n, Yd.shape[0])
        assert not np.any(np.isnan(D)), f"NaN distance ({name})"
        assert np.all(D >= 0), f"negative distance ({name})"
        if moderate:
            ref = reference(name, X, Yd, p)
            if Y is None and name == "cosine":
                np.fill_diagonal(ref, 0)  # scikit-learn's convention for X with itself
            eps = float(np.finfo(dtype).eps)  # the input's precision
            sq = name == "sqeuclidean"
            atol = 64 * eps * (d * big * big if sq else max(1, d) * big) + (
                64 * np.sqrt(eps * d) * big if name == "euclidean" else 0)
            if name == "cosine":
                atol = 64 * eps * max(1, d)
            close(D, ref, rtol=64 * eps * max(1, d), atol=atol, what=name)
        return
    if Y is None or m == 0:
        return
    k = r.int(1, m + 1)
    nn = NearestNeighbors(n_neighbors=k, metric=name, metric_params=prm or None,
                          algorithm="brute",
                          n_jobs=r.pick([1, 2]))
    if call(nn.fit, Y) is None:
        return
    res = call(nn.kneighbors, X)
    if res is None:
        return
    dist, ind = res
    assert ind.shape == (n, k) and np.all((ind >= 0) & (ind < m)), "index out of range"
    assert np.all(dist[:, 1:] >= dist[:, :-1]), "distances not sorted"
    if moderate:
        ref = reference(name, X, Y, p)
        eps = float(np.finfo(dtype).eps)  # the input's precision
        tol = 256 * eps * (d * big * big if name == "sqeuclidean" else max(1, d) * big) + (
            256 * np.sqrt(eps * d) * big if name == "euclidean" else 0)
        if name == "cosine":
            tol = 256 * eps * max(1, d)
        kth = np.sort(ref, axis=1)[:, :k]
        close(dist, kth, rtol=0, atol=tol, what=f"kneighbors {name} distances")
        # each returned index really is at its returned distance
        got = np.take_along_axis(ref, ind, axis=1)
        close(got, dist, rtol=0, atol=tol, what=f"kneighbors {name} indices")
        for row in ind:
            assert len(set(row.tolist())) == k, "an index repeated"


if __name__ == "__main__":
    import atheris

    import numpy  # noqa: F401  (libraries imported first: not instrumented)
    import scipy.sparse  # noqa: F401
    import sklearn.base  # noqa: F401

    with atheris.instrument_imports(include=["fastml"]):
        import fastml.metrics  # noqa: F401
        import fastml.neighbors  # noqa: F401
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
